//! Token windows for pretraining, a deterministic train/validation split and per-epoch
//! shuffles.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DataError, DnaRecord};
use crate::tokenizer::{DnaTokenizer, CLS_ID, SEP_ID};

/// Records are tokenised in pieces of this many bases, so a 5 Mbp genome never becomes one
/// BPE "word". Tokens never span a piece boundary; at 10 kbp that touches ~0.01% of tokens.
pub const ENCODE_CHUNK_BP: usize = 10_000;

/// Pieces are handed to the tokenizer's thread pool in batches of about this many bases.
const ENCODE_BATCH_BP: usize = 2_000_000;

/// ChaCha stream used by [`split_train_valid`]; epochs use streams `0, 1, 2, …`.
const SPLIT_STREAM: u64 = u64::MAX;

/// Cut each record into token windows of at most `context` tokens including `[CLS]` and `[SEP]`.
///
/// Tokenises in chunks of [`ENCODE_CHUNK_BP`] bases (so huge records stay fast), concatenates
/// the ids of a record, cuts them into consecutive, non-overlapping windows of `context - 2`
/// ids and wraps each as `[CLS] … [SEP]`. A record's final partial window is kept if it holds
/// at least `min_tokens` ids (specials not counted); windows never span two records.
///
/// # Shapes
/// returns `[windows][<= context]`, every window `[CLS_ID, ids…, SEP_ID]`.
pub fn make_windows(
    records: &[DnaRecord],
    tok: &DnaTokenizer,
    context: usize,
    min_tokens: usize,
) -> Result<Vec<Vec<u32>>, DataError> {
    if context < 3 {
        return Err(DataError::ContextTooSmall { context });
    }
    let body = context - 2;
    let mut windows = Vec::new();
    let mut current: Option<usize> = None; // record whose ids are in `ids`
    let mut ids: Vec<u32> = Vec::new();
    let mut batch: Vec<(usize, &[u8])> = Vec::new();
    let mut batch_bp = 0usize;

    let mut flush = |batch: &mut Vec<(usize, &[u8])>,
                     current: &mut Option<usize>,
                     ids: &mut Vec<u32>|
     -> Result<(), DataError> {
        let seqs: Vec<&[u8]> = batch.iter().map(|(_, s)| *s).collect();
        let encoded = tok.encode_dna_batch(&seqs)?;
        for ((record, _), piece) in batch.drain(..).zip(encoded) {
            if *current != Some(record) {
                cut_windows(ids, body, min_tokens, &mut windows);
                ids.clear();
                *current = Some(record);
            }
            ids.extend_from_slice(&piece);
        }
        Ok(())
    };

    for (r, record) in records.iter().enumerate() {
        for piece in record.seq.chunks(ENCODE_CHUNK_BP) {
            batch.push((r, piece));
            batch_bp += piece.len();
            if batch_bp >= ENCODE_BATCH_BP {
                flush(&mut batch, &mut current, &mut ids)?;
                batch_bp = 0;
            }
        }
    }
    flush(&mut batch, &mut current, &mut ids)?;
    cut_windows(&ids, body, min_tokens, &mut windows);
    Ok(windows)
}

/// Append `[CLS] chunk [SEP]` for each `body`-sized chunk of `ids` to `out`; a shorter final
/// chunk only if it holds at least `min_tokens` ids.
fn cut_windows(ids: &[u32], body: usize, min_tokens: usize, out: &mut Vec<Vec<u32>>) {
    for chunk in ids.chunks(body) {
        if chunk.len() == body || chunk.len() >= min_tokens.max(1) {
            let mut window = Vec::with_capacity(chunk.len() + 2);
            window.push(CLS_ID);
            window.extend_from_slice(chunk);
            window.push(SEP_ID);
            out.push(window);
        }
    }
}

/// Deterministic split of window indices `0..n` into `(train, valid)`, both ascending.
///
/// `valid` gets `round(n * valid_fraction)` indices, at least 1 when `valid_fraction > 0` and
/// `n >= 2`, and at most `n - 1` so training is never empty. A fraction that is not positive
/// (or NaN) gives no validation set. The choice depends only on `(n, valid_fraction, seed)`.
pub fn split_train_valid(n: usize, valid_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n_valid = if valid_fraction > 0.0 && n >= 2 {
        ((n as f64 * valid_fraction.min(1.0)).round() as usize).clamp(1, n - 1)
    } else {
        0
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SPLIT_STREAM);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let mut valid = order[..n_valid].to_vec();
    let mut train = order[n_valid..].to_vec();
    valid.sort_unstable();
    train.sort_unstable();
    (train, valid)
}

/// Deterministic permutation of `0..n` for `(seed, epoch)`: ChaCha8 seeded with `seed`, on
/// stream `epoch`, drives a Fisher–Yates shuffle. A resumed run recomputes the same order.
pub fn epoch_permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random_dna(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
        (0..len).map(|_| b"ACGT"[rng.random_range(0..4)]).collect()
    }

    fn small_tokenizer() -> DnaTokenizer {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let seqs: Vec<Vec<u8>> = (0..20).map(|_| random_dna(&mut rng, 2_000)).collect();
        DnaTokenizer::train(seqs.iter().map(|s| s.as_slice()), 64).expect("train")
    }

    #[test]
    fn windows_fit_context_and_are_wrapped() {
        let tok = small_tokenizer();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let records: Vec<DnaRecord> = [25_000, 300, 7, 0, 12_345]
            .iter()
            .enumerate()
            .map(|(i, &len)| DnaRecord {
                name: format!("r{i}"),
                seq: random_dna(&mut rng, len),
            })
            .collect();
        let context = 64;
        let windows = make_windows(&records, &tok, context, 4).expect("windows");
        assert!(!windows.is_empty());
        for w in &windows {
            assert!(w.len() <= context && w.len() >= 3, "len {}", w.len());
            assert_eq!((w[0], w[w.len() - 1]), (CLS_ID, SEP_ID));
            assert!(w[1..w.len() - 1]
                .iter()
                .all(|&id| id != CLS_ID && id != SEP_ID));
        }
        // Without chunk-boundary effects, the windows of a short record are its encoding.
        let alone = make_windows(&records[1..2], &tok, context, 1).expect("one record");
        let ids = tok.encode_dna(&records[1].seq).expect("encode");
        let body: Vec<u32> = alone
            .iter()
            .flat_map(|w| w[1..w.len() - 1].to_vec())
            .collect();
        assert_eq!(body, ids);
    }

    #[test]
    fn short_tail_is_kept_only_with_min_tokens() {
        let tok = small_tokenizer();
        let record = DnaRecord {
            name: "r".into(),
            seq: b"ACGTACGTAC".repeat(30),
        };
        let n_ids = tok.encode_dna(&record.seq).expect("encode").len();
        let context = 2 + n_ids - 1; // one full window plus a tail of one id
        let keep = make_windows(std::slice::from_ref(&record), &tok, context, 1).expect("keep");
        let drop = make_windows(std::slice::from_ref(&record), &tok, context, 2).expect("drop");
        assert_eq!((keep.len(), drop.len()), (2, 1));
        assert!(make_windows(&[record], &tok, 2, 1).is_err());
    }

    #[test]
    fn split_is_deterministic_disjoint_and_complete() {
        let (train, valid) = split_train_valid(1000, 0.1, 42);
        assert_eq!((train.len(), valid.len()), (900, 100));
        assert_eq!(
            split_train_valid(1000, 0.1, 42),
            (train.clone(), valid.clone())
        );
        assert_ne!(split_train_valid(1000, 0.1, 43).1, valid);
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(split_train_valid(2, 0.01, 0).1.len(), 1);
        assert_eq!(split_train_valid(5, 0.99, 0).0.len(), 1);
        assert_eq!(split_train_valid(10, 0.0, 0), ((0..10).collect(), vec![]));
        assert_eq!(split_train_valid(1, 0.5, 0), (vec![0], vec![]));
    }

    #[test]
    fn permutation_is_deterministic_per_epoch_and_changes_across_epochs() {
        let p0 = epoch_permutation(500, 9, 0);
        assert_eq!(p0, epoch_permutation(500, 9, 0));
        assert_ne!(p0, epoch_permutation(500, 9, 1));
        assert_ne!(p0, epoch_permutation(500, 10, 0));
        let mut sorted = p0.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..500).collect::<Vec<_>>());
        assert!(epoch_permutation(0, 1, 1).is_empty());
    }
}
