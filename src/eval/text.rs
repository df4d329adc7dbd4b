//! Free-text answer metrics for DNA2Func: exact match, token F1 and BLEU-4.
//!
//! Every metric first normalises both strings: lower case, whitespace runs collapsed to one
//! space, ends trimmed ([`normalize`]); words are then the whitespace-separated pieces.
//! - Exact match: the normalised strings are equal.
//! - Token F1: SQuAD v1.1 style (Rajpurkar et al. 2016, `evaluate-v1.1.py`): precision and recall
//!   of the bag (multiset) of words, per example, averaged. Unlike SQuAD's script, punctuation
//!   and articles are kept: the answers here are disease names where `'s` and `-` matter.
//! - Corpus BLEU-4 (Papineni et al. 2002 §2): clipped n-gram matches and hypothesis n-gram
//!   counts summed over the corpus for n = 1..4, geometric mean with equal weights, brevity
//!   penalty `exp(1 - r / c)` when the total hypothesis length `c` is at most the total reference
//!   length `r`. No smoothing: a corpus without a single 4-gram match scores 0, as in the paper
//!   and sacrebleu's `smooth_method="none"`.
//! - Sentence BLEU-4: the same per example with Lin & Och (2004) add-one smoothing of the n >= 2
//!   precisions, exactly NLTK's `SmoothingFunction().method2` (including NLTK's floor of 1 on
//!   a zero n-gram denominator), averaged over examples. Short answers (1-3 words) have no
//!   4-grams, so unsmoothed sentence BLEU would be 0 for almost every example.

use std::collections::HashMap;

use serde::Serialize;

/// Lower case, collapse whitespace runs to one space, trim.
pub fn normalize(s: &str) -> String {
    s.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn words(s: &str) -> Vec<String> {
    normalize(s).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// 1.0 when the normalised strings are equal, else 0.0.
pub fn exact_match(prediction: &str, reference: &str) -> f64 {
    f64::from(u8::from(normalize(prediction) == normalize(reference)))
}

/// SQuAD-style bag-of-words F1 of one example; 1.0 when both are empty, 0.0 when one is.
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let (p, r) = (words(prediction), words(reference));
    if p.is_empty() || r.is_empty() {
        return f64::from(u8::from(p.is_empty() && r.is_empty()));
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for w in &r {
        *counts.entry(w).or_default() += 1;
    }
    let mut common = 0;
    for w in &p {
        if let Some(c) = counts.get_mut(w.as_str()).filter(|c| **c > 0) {
            *c -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Clipped matches and hypothesis n-gram count of order `n` (Papineni 2002 §2.1).
fn ngram_stats(hyp: &[String], reference: &[String], n: usize) -> (u64, u64) {
    if hyp.len() < n {
        return (0, 0);
    }
    let mut ref_counts: HashMap<&[String], u64> = HashMap::new();
    for g in reference.windows(n) {
        *ref_counts.entry(g).or_default() += 1;
    }
    let mut hyp_counts: HashMap<&[String], u64> = HashMap::new();
    for g in hyp.windows(n) {
        *hyp_counts.entry(g).or_default() += 1;
    }
    let matches = hyp_counts.iter().map(|(g, &c)| c.min(ref_counts.get(g).copied().unwrap_or(0))).sum();
    (matches, (hyp.len() + 1 - n) as u64)
}

fn brevity_penalty(hyp_len: u64, ref_len: u64) -> f64 {
    if hyp_len == 0 {
        0.0
    } else if hyp_len > ref_len {
        1.0
    } else {
        (1.0 - ref_len as f64 / hyp_len as f64).exp()
    }
}

/// Corpus BLEU-4 with one reference per hypothesis, in [0, 1]; see the module doc.
pub fn corpus_bleu(predictions: &[&str], references: &[&str]) -> f64 {
    let mut matches = [0u64; 4];
    let mut totals = [0u64; 4];
    let (mut c, mut r) = (0u64, 0u64);
    for (p, rf) in predictions.iter().zip(references) {
        let (hyp, reference) = (words(p), words(rf));
        c += hyp.len() as u64;
        r += reference.len() as u64;
        for n in 1..=4 {
            let (m, t) = ngram_stats(&hyp, &reference, n);
            matches[n - 1] += m;
            totals[n - 1] += t;
        }
    }
    if matches.iter().any(|&m| m == 0) {
        return 0.0;
    }
    let log_mean = (0..4).map(|i| (matches[i] as f64 / totals[i] as f64).ln()).sum::<f64>() / 4.0;
    brevity_penalty(c, r) * log_mean.exp()
}

/// Sentence BLEU-4 of one example with NLTK `method2` smoothing; see the module doc.
pub fn sentence_bleu(prediction: &str, reference: &str) -> f64 {
    let (hyp, reference) = (words(prediction), words(reference));
    let mut log_sum = 0.0;
    for n in 1..=4 {
        let (m, t) = ngram_stats(&hyp, &reference, n);
        // NLTK's modified_precision floors the denominator at 1.
        let t = t.max(1);
        if n == 1 && m == 0 {
            return 0.0;
        }
        let p = if n == 1 { m as f64 / t as f64 } else { (m + 1) as f64 / (t + 1) as f64 };
        log_sum += p.ln();
    }
    brevity_penalty(hyp.len() as u64, reference.len() as u64) * (log_sum / 4.0).exp()
}

/// The scores of a list of predictions against their references.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextScores {
    pub n: usize,
    pub exact_match: f64,
    pub token_f1: f64,
    pub bleu4: f64,
    pub sentence_bleu4: f64,
}

/// Mean exact match, mean token F1, corpus BLEU-4 and mean sentence BLEU-4.
pub fn score(predictions: &[&str], references: &[&str]) -> TextScores {
    let n = predictions.len().min(references.len());
    let mean = |f: fn(&str, &str) -> f64| {
        if n == 0 {
            0.0
        } else {
            predictions.iter().zip(references).map(|(p, r)| f(p, r)).sum::<f64>() / n as f64
        }
    };
    TextScores {
        n,
        exact_match: mean(exact_match),
        token_f1: mean(token_f1),
        bleu4: corpus_bleu(&predictions[..n], &references[..n]),
        sentence_bleu4: mean(sentence_bleu),
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
