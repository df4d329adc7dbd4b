//! Deterministic splits of example indices into parts (train/valid/test), optionally
//! stratified by label.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::BenchmarkError;

/// ChaCha stream for benchmark splits, apart from the pretraining split (`u64::MAX`) and the
/// epoch shuffles (`0, 1, 2, …`) of `data::windows`.
const BENCHMARK_SPLIT_STREAM: u64 = u64::MAX - 1;

/// Split `0..n` into `fractions.len()` disjoint parts of about `n * fraction` indices each.
///
/// ChaCha8 seeded with `seed` shuffles `0..n`; part `i` takes the shuffled positions from
/// `round(n * (f_0 + … + f_{i-1}))` to `round(n * (f_0 + … + f_i))`, so sizes add up to
/// `round(n * sum)` and every index is used when the fractions sum to 1. Indices past the
/// last part are left out. Each part is returned in ascending order. Fractions must be finite,
/// non-negative and sum to at most 1 (within 1e-9).
pub fn split_by_seed(
    n: usize,
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Vec<usize>>, BenchmarkError> {
    check_fractions(fractions)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng(seed));
    Ok(cut_parts(&order, fractions))
}

/// Like [`split_by_seed`], but each label's examples are split separately (labels in sorted
/// order, one ChaCha8 stream shared in that order) and the parts merged, so every part keeps
/// the label proportions of the whole up to rounding (at most one example per label and part).
pub fn stratified_split(
    labels: &[String],
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Vec<usize>>, BenchmarkError> {
    check_fractions(fractions)?;
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, label) in labels.iter().enumerate() {
        by_label.entry(label.as_str()).or_default().push(i);
    }
    let mut rng = rng(seed);
    let mut parts = vec![Vec::new(); fractions.len()];
    for mut members in by_label.into_values() {
        members.shuffle(&mut rng);
        for (part, piece) in parts.iter_mut().zip(cut_parts(&members, fractions)) {
            part.extend(piece);
        }
    }
    for part in &mut parts {
        part.sort_unstable();
    }
    Ok(parts)
}

fn rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(BENCHMARK_SPLIT_STREAM);
    rng
}

fn check_fractions(fractions: &[f64]) -> Result<(), BenchmarkError> {
    let valid = fractions.iter().all(|f| f.is_finite() && *f >= 0.0)
        && fractions.iter().sum::<f64>() <= 1.0 + 1e-9;
    if valid {
        Ok(())
    } else {
        Err(BenchmarkError::BadFractions {
            fractions: fractions.to_vec(),
        })
    }
}

/// Consecutive pieces of `order` with cumulative-rounded boundaries, each sorted.
fn cut_parts(order: &[usize], fractions: &[f64]) -> Vec<Vec<usize>> {
    let n = order.len();
    let mut cumulative = 0.0;
    let mut start = 0usize;
    fractions
        .iter()
        .map(|f| {
            cumulative += f;
            let end = ((n as f64 * cumulative).round() as usize).clamp(start, n);
            let mut part = order[start..end].to_vec();
            part.sort_unstable();
            start = end;
            part
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{read_table, shared_data, TableSpec};
    use super::*;

    #[test]
    fn split_is_deterministic_disjoint_and_complete() {
        let a = split_by_seed(1_000, &[0.8, 0.1, 0.1], 42).expect("split");
        assert_eq!(
            a,
            split_by_seed(1_000, &[0.8, 0.1, 0.1], 42).expect("again")
        );
        assert_ne!(
            a,
            split_by_seed(1_000, &[0.8, 0.1, 0.1], 43).expect("other seed")
        );
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), [800, 100, 100]);
        let mut all: Vec<usize> = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1_000).collect::<Vec<_>>());
        // 7 * 0.5 = 3.5 rounds to 4; the rest (3) is left out when fractions sum to 0.5.
        assert_eq!(split_by_seed(7, &[0.5], 1).expect("half")[0].len(), 4);
        assert!(split_by_seed(0, &[0.5, 0.5], 1)
            .expect("empty")
            .iter()
            .all(Vec::is_empty));
        for bad in [&[0.7, 0.4][..], &[-0.1], &[f64::NAN]] {
            assert!(matches!(
                split_by_seed(10, bad, 1),
                Err(BenchmarkError::BadFractions { .. })
            ));
        }
    }

    #[test]
    fn stratified_split_keeps_label_proportions() {
        // 30 "a" and 10 "b": 50/50 split gives 15 + 5 on each side.
        let labels: Vec<String> = (0..40)
            .map(|i| if i % 4 == 0 { "b" } else { "a" }.into())
            .collect();
        let parts = stratified_split(&labels, &[0.5, 0.5], 7).expect("split");
        for part in &parts {
            let b = part.iter().filter(|&&i| labels[i] == "b").count();
            assert_eq!((part.len(), b), (20, 5));
        }
        assert_eq!(
            parts,
            stratified_split(&labels, &[0.5, 0.5], 7).expect("again")
        );
    }

    #[test]
    fn splits_the_real_nontata_test_set_into_train_valid_test() {
        let Some(path) =
            shared_data("genomic_benchmarks/human_nontata_promoters/sequences/test.tsv.gz")
        else {
            return;
        };
        let rows = read_table(&path, &TableSpec::default()).expect("nontata");
        let labels: Vec<String> = rows.into_iter().map(|r| r.label).collect();
        let parts = stratified_split(&labels, &[0.8, 0.1, 0.1], 2024).expect("split");
        // Label 1: 4,915 → 3,932 / 492 / 491 (round(4,915 * 0.8) = 3,932, round(4,915 * 0.9) =
        // 4,424, remainder 491); label 0: 4,119 → 3,295 / 412 / 412 (3,295.2 → 3,295; 3,707.1 → 3,707).
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3_932 + 3_295, 492 + 412, 491 + 412]);
        let positives = parts[1].iter().filter(|&&i| labels[i] == "1").count();
        assert_eq!(positives, 492);
    }
}
