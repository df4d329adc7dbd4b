//! Needle-in-DNA (Li et al. 2025, Omni-DNA §5.2): random DNA with exactly one planted motif, whose
//! identity decides which MNIST digit the model must draw.
//!
//! The four motifs are TATAAA (TATA box), CAAT (CAAT box), GGGCGG (GC box) and TTAGGG (telomere
//! repeat unit); motif `i` maps to digit class `i`. A sequence is uniform random A/C/G/T with one
//! motif written at a uniformly random position; it is redrawn until no motif of the set occurs
//! anywhere else on the forward strand (including occurrences created across the planted motif's
//! borders), so the label is unambiguous.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The Omni-DNA needle motifs, in digit order: motif `i` ↦ digit `i`.
pub const MOTIFS: [&str; 4] = ["TATAAA", "CAAT", "GGGCGG", "TTAGGG"];

/// Give up when this many background draws in a row contain a stray motif (only possible for very
/// long sequences, where some motif occurs by chance almost surely).
const MAX_REDRAWS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NeedleError {
    #[error("needle.length = {length} bp cannot hold the {motif_len}-bp motif {motif}; use length >= {motif_len}")]
    TooShort { length: usize, motif: String, motif_len: usize },
    #[error("no {length}-bp background without a stray motif was found in {MAX_REDRAWS} draws (by chance a motif appears about every {expected_bp:.0} bp); use needle.length <= {suggest}")]
    TooLong { length: usize, expected_bp: f64, suggest: usize },
    #[error("needle.classes = {classes}: there are only {} motifs; use 1..={}", MOTIFS.len(), MOTIFS.len())]
    Classes { classes: usize },
}

/// One generated example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedleExample {
    /// Upper-case A/C/G/T.
    pub seq: Vec<u8>,
    /// Index into [`MOTIFS`]; also the MNIST digit to draw.
    pub class: usize,
    /// 0-based start of the planted motif in `seq`.
    pub position: usize,
}

/// Forward-strand occurrences of every motif in `seq` as `(class, start)`, overlaps included.
pub fn find_motifs(seq: &[u8]) -> Vec<(usize, usize)> {
    let mut hits = Vec::new();
    for (class, motif) in MOTIFS.iter().enumerate() {
        let m = motif.as_bytes();
        if seq.len() < m.len() {
            continue;
        }
        for start in 0..=seq.len() - m.len() {
            if &seq[start..start + m.len()] == m {
                hits.push((class, start));
            }
        }
    }
    hits.sort_unstable_by_key(|&(c, s)| (s, c));
    hits
}

/// Draw `n_per_class` sequences of `length` bp for each of the first `classes` motifs, in a seeded
/// shuffled order. The same `(length, n_per_class, classes, seed)` gives the same examples.
pub fn generate(length: usize, n_per_class: usize, classes: usize, seed: u64) -> Result<Vec<NeedleExample>, NeedleError> {
    if classes == 0 || classes > MOTIFS.len() {
        return Err(NeedleError::Classes { classes });
    }
    for motif in &MOTIFS[..classes] {
        if length < motif.len() {
            return Err(NeedleError::TooShort { length, motif: (*motif).into(), motif_len: motif.len() });
        }
    }
    // With more than ~20 chance occurrences expected, a clean background has probability < e^-20:
    // say so at once instead of drawing in vain.
    if length as f64 * chance_rate() > 20.0 {
        return Err(too_long(length));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n_per_class * classes);
    for _ in 0..n_per_class {
        for class in 0..classes {
            out.push(one(&mut rng, length, class)?);
        }
    }
    // Fisher–Yates with the same stream, so classes are interleaved at random.
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    Ok(out)
}

fn one(rng: &mut ChaCha8Rng, length: usize, class: usize) -> Result<NeedleExample, NeedleError> {
    const BASES: [u8; 4] = *b"ACGT";
    let motif = MOTIFS[class].as_bytes();
    for _ in 0..MAX_REDRAWS {
        let mut seq: Vec<u8> = (0..length).map(|_| BASES[rng.random_range(0..4)]).collect();
        let position = rng.random_range(0..=length - motif.len());
        seq[position..position + motif.len()].copy_from_slice(motif);
        if find_motifs(&seq) == [(class, position)] {
            return Ok(NeedleExample { seq, class, position });
        }
    }
    Err(too_long(length))
}

/// Chance occurrences of any motif per position of uniform random DNA (CAAT dominates: 4^-4).
fn chance_rate() -> f64 {
    MOTIFS.iter().map(|m| 0.25f64.powi(m.len() as i32)).sum()
}

fn too_long(length: usize) -> NeedleError {
    let rate = chance_rate();
    NeedleError::TooLong { length, expected_bp: 1.0 / rate, suggest: (2.0 / rate) as usize }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_plants_exactly_one_motif_and_labels_it() {
        let ex = generate(200, 50, 4, 11).unwrap();
        assert_eq!(ex.len(), 200);
        for (class, _) in MOTIFS.iter().enumerate() {
            assert_eq!(ex.iter().filter(|e| e.class == class).count(), 50);
        }
        for e in &ex {
            assert_eq!(e.seq.len(), 200);
            assert!(e.seq.iter().all(|b| b"ACGT".contains(b)));
            let motif = MOTIFS[e.class].as_bytes();
            assert_eq!(&e.seq[e.position..e.position + motif.len()], motif);
            assert_eq!(find_motifs(&e.seq), vec![(e.class, e.position)], "exactly one motif in the sequence");
        }
        // Positions spread over the sequence, not a fixed slot.
        let distinct: std::collections::BTreeSet<usize> = ex.iter().map(|e| e.position).collect();
        assert!(distinct.len() > 50, "{} distinct positions", distinct.len());
    }

    #[test]
    fn same_seed_same_examples_other_seed_other_examples() {
        assert_eq!(generate(64, 5, 4, 3).unwrap(), generate(64, 5, 4, 3).unwrap());
        assert_ne!(generate(64, 5, 4, 3).unwrap(), generate(64, 5, 4, 4).unwrap());
    }

    #[test]
    fn finds_overlapping_and_border_occurrences() {
        // CAAT at 2, TATAAA at 6, TTAGGG at 13 and GGGCGG at 16, which shares GGG with TTAGGG.
        let seq = b"GCCAATTATAAAGTTAGGGCGGA";
        let hits = find_motifs(seq);
        assert_eq!(hits, vec![(1, 2), (0, 6), (3, 13), (2, 16)]);
    }

    #[test]
    fn impossible_lengths_are_clear_errors() {
        assert!(matches!(generate(4, 1, 4, 0), Err(NeedleError::TooShort { .. })));
        assert!(matches!(generate(100, 1, 5, 0), Err(NeedleError::Classes { classes: 5 })));
        let err = generate(20_000, 1, 4, 0).unwrap_err();
        assert!(matches!(err, NeedleError::TooLong { .. }), "{err}");
    }
}
