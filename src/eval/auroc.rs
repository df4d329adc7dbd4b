//! Area under the ROC curve from per-example scores.
//!
//! AUROC is computed as the Mann–Whitney statistic: the probability that a randomly chosen
//! positive example scores above a randomly chosen negative one, ties counting one half
//! (Hanley & McNeil 1982, Radiology 143:29, eq. 2). With ranks `r_i` of the positives among all
//! scores (tied scores get the mean of their ranks), `n+` positives and `n-` negatives:
//! AUROC = (Σ r_i − n+(n+ + 1)/2) / (n+ · n-). This is the number scikit-learn's
//! `roc_auc_score` gives (its trapezoidal ROC area equals the tie-averaged U statistic).
//!
//! Multi-class: macro one-vs-rest, the unweighted mean over classes of the AUROC of "this
//! class" against all others with that class's score (scikit-learn
//! `roc_auc_score(multi_class="ovr", average="macro")`). A class that is absent from the truth
//! (or is the whole truth) has no AUROC and is left out of the mean; scikit-learn raises instead.

/// AUROC of `scores` for the examples flagged `positive`; `None` when either class is empty or
/// a score is NaN.
///
/// # Shapes
/// - scores, positive: `[n]`
///
/// # Panics
/// If the two slices differ in length (a caller's bug).
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "auroc: {} scores but {} flags", scores.len(), positive.len());
    if scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += mean_rank * order[i..j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// AUROC of a classification task from per-label scores: for two labels, the AUROC of the second
/// label (`labels[1]`, the positive class of binary benchmarks: `1`, `positive`) with score
/// `s1 / (s0 + s1)`; for more, the macro one-vs-rest mean with each row's scores normalised to
/// sum to one. A row without scores (e.g. a prompt that did not fit the context, counted as an
/// invalid answer) scores every label alike. `None` when no row has scores, a row has a number of
/// scores other than `k`, or no class has both positive and negative examples.
///
/// # Shapes
/// - scores: `[n][k]` (score of each label, e.g. its token's probability), truth: `[n]` indices
///   below `k`
pub fn task_auroc(scores: &[Vec<f64>], truth: &[usize], k: usize) -> Option<f64> {
    if k < 2 || scores.iter().all(Vec::is_empty) || scores.iter().any(|s| !s.is_empty() && s.len() != k) {
        return None;
    }
    let normalised: Vec<Vec<f64>> = scores
        .iter()
        .map(|s| {
            let total: f64 = s.iter().sum();
            if total > 0.0 {
                s.iter().map(|v| v / total).collect()
            } else {
                vec![1.0 / k as f64; k]
            }
        })
        .collect();
    let one_vs_rest = |c: usize| {
        let col: Vec<f64> = normalised.iter().map(|s| s[c]).collect();
        let pos: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        auroc(&col, &pos)
    };
    if k == 2 {
        return one_vs_rest(1);
    }
    let per_class: Vec<f64> = (0..k).filter_map(one_vs_rest).collect();
    (!per_class.is_empty()).then(|| per_class.iter().sum::<f64>() / per_class.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_matches_the_pairwise_definition() {
        // scikit-learn's documented example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75.
        assert_eq!(auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        // Perfect and reversed rankings.
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        // Ties count one half: every pair tied gives 0.5.
        assert_eq!(auroc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        // Brute force over pairs on an irregular case with ties.
        let s = [0.3, 0.7, 0.3, 0.9, 0.1, 0.7, 0.5];
        let y = [true, false, false, true, false, true, true];
        let (mut wins, mut pairs) = (0.0, 0.0);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] && !y[j] {
                    pairs += 1.0;
                    wins += if s[i] > s[j] { 1.0 } else if s[i] == s[j] { 0.5 } else { 0.0 };
                }
            }
        }
        let got = auroc(&s, &y).unwrap();
        assert!((got - wins / pairs).abs() < 1e-12, "{got} vs {}", wins / pairs);
    }

    #[test]
    fn auroc_is_undefined_with_one_class_or_nan() {
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(auroc(&[0.1, 0.2], &[false, false]), None);
        assert_eq!(auroc(&[f64::NAN, 0.2], &[true, false]), None);
    }

    #[test]
    fn binary_task_auroc_uses_the_second_label_and_renormalises() {
        // Label-token probabilities need not sum to one; only p1 / (p0 + p1) matters.
        let scores = vec![vec![0.6, 0.2], vec![0.02, 0.01], vec![0.1, 0.3], vec![0.2, 0.2]];
        // p1 / (p0 + p1) = 0.25, 0.333, 0.75, 0.5 for truths 0, 0, 1, 1 → every pair ordered.
        assert_eq!(task_auroc(&scores, &[0, 0, 1, 1], 2), Some(1.0));
    }

    #[test]
    fn multiclass_auroc_is_the_macro_one_vs_rest_mean() {
        let scores = vec![vec![0.8, 0.1, 0.1], vec![0.1, 0.8, 0.1], vec![0.1, 0.1, 0.8], vec![0.1, 0.8, 0.1]];
        let truth = [0, 1, 2, 2];
        // Class 0: 0.8 against 0.1 x3 → 1. Class 1: 0.8 against 0.1, 0.1 (wins) and row 3's 0.8
        // (tie) → 2.5/3. Class 2 (rows 2, 3 at 0.8 and 0.1) against 0.1, 0.1: two wins, two ties → 3/4.
        let expected = (1.0 + 2.5 / 3.0 + 0.75) / 3.0;
        assert!((task_auroc(&scores, &truth, 3).unwrap() - expected).abs() < 1e-12);
        // A class absent from the truth is left out of the mean.
        assert_eq!(task_auroc(&scores[..2], &[0, 1], 3), Some(1.0));
        // No row with scores: no AUROC; one row without scores ties with everything.
        assert_eq!(task_auroc(&[vec![], vec![]], &[0, 1], 2), None);
        // Positives score 0.5 (no scores) and 0.9 against one negative at 0.6: one win, one loss.
        assert_eq!(task_auroc(&[vec![0.4, 0.6], vec![], vec![0.1, 0.9]], &[0, 1, 1], 2), Some(0.5));
    }
}
