//! Classification metrics: accuracy, Matthews correlation (multiclass), macro-F1, per-class
//! precision/recall/F1 and the confusion matrix, with invalid model outputs counted apart.
//!
//! Conventions:
//! - An invalid prediction (`None`: the model's output named no class) is always wrong. It sits
//!   in no column of `confusion`; `invalid_by_class` counts it per true class.
//! - MCC is Gorodkin's R_K (Gorodkin 2004, Comput. Biol. Chem. 28:367; the formula of
//!   scikit-learn's `matthews_corrcoef`). With `C` the K×K confusion matrix, `s` the number of
//!   examples, `c` the correct ones, `t_k` the true count and `p_k` the predicted count of
//!   class k: MCC = (c·s − Σ_k p_k·t_k) / sqrt((s² − Σ_k p_k²)(s² − Σ_k t_k²)). Invalid
//!   outputs enter as one extra predicted class that is never true (t = 0, p = invalid), which
//!   adds `invalid²` to Σ p_k² and nothing to Σ p_k·t_k. For two classes and no invalid output
//!   this is the binary MCC.
//! - Macro-F1 averages per-class F1 over the classes that occur in the truth (support > 0);
//!   classes with no support are reported in `per_class` but not averaged.
//! - Every 0/0 (precision of a class never predicted, MCC with a constant prediction or truth,
//!   any rate over zero examples) is defined as 0, as scikit-learn does with `zero_division=0`.

/// Which number scores a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    /// Matthews correlation coefficient (Gorodkin's R_K for more than two classes).
    Mcc,
    /// Unweighted mean of per-class F1 over the classes present in the truth.
    MacroF1,
}

impl Metric {
    /// The snake_case name, as in configs and result files.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mcc => "mcc",
            Metric::MacroF1 => "macro_f1",
        }
    }
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassStats {
    pub label: String,
    /// Correct predictions of this class / all predictions of it (0 if never predicted).
    pub precision: f64,
    /// Correct predictions of this class / examples of it, invalid outputs included (0 if none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
    /// Examples whose true class this is.
    pub support: u64,
}

/// Everything measured on one set of predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassReport {
    /// Examples scored.
    pub n: u64,
    /// Correct / n; invalid outputs count as wrong.
    pub accuracy: f64,
    pub mcc: f64,
    pub macro_f1: f64,
    /// One entry per label, in label order.
    pub per_class: Vec<ClassStats>,
    /// `confusion[true][pred]` over valid predictions only.
    pub confusion: Vec<Vec<u64>>,
    /// Invalid outputs per true class.
    pub invalid_by_class: Vec<u64>,
    pub labels: Vec<String>,
    /// Outputs that named no class.
    pub invalid: u64,
    /// Invalid / n.
    pub invalid_rate: f64,
}

impl ClassReport {
    /// The value of `metric`.
    pub fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Mcc => self.mcc,
            Metric::MacroF1 => self.macro_f1,
        }
    }
}

/// Score predictions `pred` against `truth`; both hold indices into `labels`.
///
/// # Panics
/// If `truth` and `pred` differ in length or an index is not below `labels.len()`; callers map
/// labels to indices themselves, so either is a bug, not bad input.
pub fn classification_report(
    labels: &[String],
    truth: &[usize],
    pred: &[Option<usize>],
) -> ClassReport {
    assert_eq!(
        truth.len(),
        pred.len(),
        "classification_report: {} true labels but {} predictions",
        truth.len(),
        pred.len()
    );
    let k = labels.len();
    let mut confusion = vec![vec![0u64; k]; k];
    let mut invalid_by_class = vec![0u64; k];
    for (&t, &p) in truth.iter().zip(pred) {
        assert!(t < k, "true class index {t} is not below the {k} labels");
        match p {
            Some(p) => {
                assert!(
                    p < k,
                    "predicted class index {p} is not below the {k} labels"
                );
                confusion[t][p] += 1;
            }
            None => invalid_by_class[t] += 1,
        }
    }
    let n = truth.len() as u64;
    let invalid: u64 = invalid_by_class.iter().sum();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    // t_k: examples of class k (invalid outputs included); p_k: valid predictions of class k.
    let true_counts: Vec<u64> = (0..k)
        .map(|i| confusion[i].iter().sum::<u64>() + invalid_by_class[i])
        .collect();
    let pred_counts: Vec<u64> = (0..k)
        .map(|j| confusion.iter().map(|row| row[j]).sum())
        .collect();

    let per_class: Vec<ClassStats> = (0..k)
        .map(|i| {
            let hits = confusion[i][i] as f64;
            let precision = ratio(hits, pred_counts[i] as f64);
            let recall = ratio(hits, true_counts[i] as f64);
            ClassStats {
                label: labels[i].clone(),
                precision,
                recall,
                f1: ratio(2.0 * precision * recall, precision + recall),
                support: true_counts[i],
            }
        })
        .collect();
    let supported: Vec<f64> = per_class
        .iter()
        .filter(|c| c.support > 0)
        .map(|c| c.f1)
        .collect();
    let macro_f1 = ratio(supported.iter().sum(), supported.len() as f64);

    let s = n as f64;
    let dot: f64 = (0..k)
        .map(|i| pred_counts[i] as f64 * true_counts[i] as f64)
        .sum();
    // Σ p² includes the invalid pseudo-class (p = invalid, t = 0).
    let pred_sq: f64 =
        pred_counts.iter().map(|&p| (p as f64).powi(2)).sum::<f64>() + (invalid as f64).powi(2);
    let true_sq: f64 = true_counts.iter().map(|&t| (t as f64).powi(2)).sum();
    let denominator = ((s * s - pred_sq) * (s * s - true_sq)).sqrt();
    let mcc = ratio(correct as f64 * s - dot, denominator);

    ClassReport {
        n,
        accuracy: ratio(correct as f64, s),
        mcc,
        macro_f1,
        per_class,
        confusion,
        invalid_by_class,
        labels: labels.to_vec(),
        invalid,
        invalid_rate: ratio(invalid as f64, s),
    }
}

/// `num / den`, with 0/0 (and any zero denominator) defined as 0.
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
