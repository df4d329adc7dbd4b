//! Reference values: hand computations in the comments, and NLTK 3.9.1 / sacrebleu 2.4.3 from
//! `tests/fixtures/dna2func/bleu_reference.py` (its output is quoted beside each value).

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn exact_match_ignores_case_and_whitespace_only() {
    assert_eq!(exact_match("  Alzheimer's \t Disease ", "alzheimer's disease"), 1.0);
    assert_eq!(exact_match("alzheimers disease", "alzheimer's disease"), 0.0);
    assert_eq!(exact_match("", ""), 1.0);
    assert_eq!(normalize(" A  b\nC "), "a b c");
}

#[test]
fn token_f1_matches_hand_computed_bags_of_words() {
    // common {disease}: P = 1/2, R = 1/2 -> 0.5
    assert!(close(token_f1("parkinson's disease", "alzheimer's disease"), 0.5));
    // common {renal, cell, carcinoma}: P = 3/3, R = 3/5 -> 2 * 0.6 / 1.6 = 0.75
    assert!(close(token_f1("renal cell carcinoma", "clear cell renal cell carcinoma"), 0.75));
    // "cell" x3 against "cell" x2: 2 clipped matches, P = 2/3, R = 2/5 -> 0.5
    assert!(close(token_f1("cell cell cell", "clear cell renal cell carcinoma"), 0.5));
    assert_eq!(token_f1("melanoma", "prion disease"), 0.0);
    assert_eq!(token_f1("", "melanoma"), 0.0);
    assert_eq!(token_f1("", " "), 1.0);
}

#[test]
fn corpus_bleu_matches_papineni_by_hand_and_sacrebleu() {
    // Pair 1: "the cat sat on the mat" / "the cat is on the mat": matches 5/6, 3/5, 1/4, 0/3.
    // Pair 2: "a b c d e" / "a b c d e f g": 5/5, 4/4, 3/3, 2/2.
    // Corpus: p = 10/11, 7/9, 4/7, 2/5 (product 16/99); c = 11, r = 13, BP = exp(1 - 13/11).
    // BLEU = exp(-2/11) * (16/99)^(1/4) = 0.5286382...
    // sacrebleu: "BLEU = 52.86 90.9/77.8/57.1/40.0 (BP = 0.834 ratio = 0.846 hyp_len = 11 ref_len = 13)",
    // score / 100 = 0.5286382260445098.
    let hyps = ["the cat sat on the mat", "a b c d e"];
    let refs = ["the cat is on the mat", "a b c d e f g"];
    let by_hand = (-2.0f64 / 11.0).exp() * (16.0f64 / 99.0).powf(0.25);
    let b = corpus_bleu(&hyps, &refs);
    assert!(close(b, by_hand), "{b} vs {by_hand}");
    assert!((b - 0.5286382260445098).abs() < 1e-12, "{b}");
    // Without a single 4-gram match the unsmoothed corpus score is 0 (sacrebleu: 0.0).
    assert_eq!(corpus_bleu(&hyps[..1], &refs[..1]), 0.0);
    // Identical corpora score 1; an empty prediction scores 0.
    assert!(close(corpus_bleu(&refs, &refs), 1.0));
    assert_eq!(corpus_bleu(&[""], &["a b c d"]), 0.0);
}

#[test]
fn sentence_bleu_matches_nltk_method2() {
    // NLTK sentence_bleu([ref.split()], hyp.split(), smoothing_function=method2):
    let cases = [
        // p1 = 1/2, then (0 + 1) / (1 + 1) three times; BP = 1 -> 0.5
        ("parkinson's disease", "alzheimer's disease", 0.5),
        // p = 1, 3/3, 2/2, 1/2; BP = exp(1 - 5/3)
        ("renal cell carcinoma", "clear cell renal cell carcinoma", 0.43173061492439624),
        ("the cat sat on the mat", "the cat is on the mat", 0.48549177170732344),
        // p = 1, 1/2, 1/2, 1/2 -> (1/8)^(1/4)
        ("melanoma", "melanoma", 0.5946035575013605),
        ("prion disease", "melanoma", 0.0),
    ];
    for (h, r, want) in cases {
        let got = sentence_bleu(h, r);
        assert!((got - want).abs() < 1e-12, "{h:?} / {r:?}: {got} vs nltk {want}");
    }
}

#[test]
fn score_averages_per_example_metrics_and_keeps_corpus_bleu() {
    let s = score(&["melanoma", "prion disease"], &["melanoma", "alzheimer's disease"]);
    assert_eq!(s.n, 2);
    assert!(close(s.exact_match, 0.5));
    assert!(close(s.token_f1, (1.0 + 0.5) / 2.0));
    assert_eq!(s.bleu4, 0.0); // no 4-gram anywhere
    assert!(close(s.sentence_bleu4, (0.5946035575013605 + 0.5) / 2.0));
}
