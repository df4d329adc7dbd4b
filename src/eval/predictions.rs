//! Per-example predictions of a classification evaluation: `eval/predictions.tsv`, one row per
//! evaluated sequence, so another metric, a threshold or a comparison of two models on the same
//! rows can be computed without re-running the model.
//!
//! Columns (tab-separated, one header line):
//! - `task`: the task's name; `row`: the example's 0-based position in the evaluated split as
//!   read from its file; `id`: the input's own id (GB `id`, NT `name`, `<file>:<line>`);
//! - `true_label`, `predicted_label` (empty when the output named no label), `valid` (1/0);
//! - `consistency`: for generated answers, the fraction of the replicated answer tokens that agree
//!   with the first (Omni-DNA's token replication); empty when not applicable;
//! - `score_<label>` for every label of every task in the file: the model's probability of that
//!   label (for generated answers, the softmax probability of the label's token at the first
//!   answer position over the whole vocabulary, so a row's scores need not sum to one); empty
//!   where the label is not one of the row's task's labels or the evaluation has no scores.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::classify::TaskEval;

/// One evaluated example.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// 0-based position in the evaluated split.
    pub row: usize,
    /// The input's own id.
    pub id: String,
    /// Index of the true label in the task's labels.
    pub truth: usize,
    /// Index of the predicted label; `None` when the output named no label (always wrong).
    pub pred: Option<usize>,
    /// Replica agreement of a valid generated answer, in [0, 1]; `None` when not generated or invalid.
    pub consistency: Option<f64>,
    /// Score of each label, in the task's label order; empty when the evaluation has none.
    pub scores: Vec<f64>,
}

impl Prediction {
    /// One row per example of an evaluation without scores or replicas (e.g. an image classifier
    /// or Needle-in-DNA's judged images): row `i` has id `<prefix>:<i>`.
    pub fn unscored(prefix: &str, truth: &[usize], pred: &[Option<usize>]) -> Vec<Prediction> {
        truth
            .iter()
            .zip(pred)
            .enumerate()
            .map(|(row, (&truth, &pred))| Prediction { row, id: format!("{prefix}:{row}"), truth, pred, consistency: None, scores: Vec::new() })
            .collect()
    }
}

/// A row read back from `predictions.tsv`, with labels as strings.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub task: String,
    pub row: usize,
    pub id: String,
    pub true_label: String,
    /// `None` for an invalid output.
    pub predicted_label: Option<String>,
    pub consistency: Option<f64>,
    /// Score by label name, only the labels the row has a score for.
    pub scores: BTreeMap<String, f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PredictionsError {
    #[error("cannot read {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {reason}; predictions.tsv is written by gfm (see eval::predictions for its columns)")]
    Format { path: std::path::PathBuf, line: usize, reason: String },
}

/// Labels with a score column, in order of first appearance over `evals`.
fn score_labels(evals: &[TaskEval]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in evals.iter().filter(|e| e.predictions.iter().any(|p| !p.scores.is_empty())) {
        for l in &e.report.labels {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
    }
    out
}

/// Write every evaluation's predictions to `path` (see the module docs for the columns).
///
/// # Errors
/// Any I/O error creating or writing the file.
pub fn write_predictions(path: &Path, evals: &[TaskEval]) -> std::io::Result<()> {
    let columns = score_labels(evals);
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut header = vec!["task", "row", "id", "true_label", "predicted_label", "valid", "consistency"].join("\t");
    for l in &columns {
        header.push_str(&format!("\tscore_{}", clean(l)));
    }
    writeln!(f, "{header}")?;
    for e in evals {
        let labels = &e.report.labels;
        for p in &e.predictions {
            let mut line = format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                clean(&e.task),
                p.row,
                clean(&p.id),
                clean(&labels[p.truth]),
                p.pred.map(|k| clean(&labels[k])).unwrap_or_default(),
                u8::from(p.pred.is_some()),
                p.consistency.map(|c| format!("{c:.6}")).unwrap_or_default()
            );
            for l in &columns {
                let score = labels.iter().position(|x| x == l).and_then(|k| p.scores.get(k));
                line.push('\t');
                if let Some(s) = score {
                    // Nine significant digits: enough to rank and to threshold reproducibly.
                    line.push_str(&format!("{s:.9e}"));
                }
            }
            writeln!(f, "{line}")?;
        }
    }
    f.flush()
}

/// Read a `predictions.tsv` written by [`write_predictions`].
///
/// # Errors
/// [`PredictionsError::Read`] when the file cannot be read; [`PredictionsError::Format`] naming
/// the line when the header or a row is not what gfm writes.
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionRow>, PredictionsError> {
    let text = std::fs::read_to_string(path).map_err(|source| PredictionsError::Read { path: path.to_path_buf(), source })?;
    let bad = |line: usize, reason: String| PredictionsError::Format { path: path.to_path_buf(), line, reason };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or_else(|| bad(1, "the file is empty".into()))?.split('\t').collect();
    let fixed = ["task", "row", "id", "true_label", "predicted_label", "valid", "consistency"];
    if header.len() < fixed.len() || header[..fixed.len()] != fixed {
        return Err(bad(1, format!("expected the columns {} first, found {}", fixed.join(", "), header.join(", "))));
    }
    let mut score_names = Vec::new();
    for h in &header[fixed.len()..] {
        score_names.push(h.strip_prefix("score_").ok_or_else(|| bad(1, format!("column `{h}` is not score_<label>")))?);
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() != header.len() {
            return Err(bad(n, format!("{} cells, the header has {}", cells.len(), header.len())));
        }
        let number = |k: usize| cells[k].parse::<f64>().map_err(|_| bad(n, format!("{} `{}` is not a number", header[k], cells[k])));
        let valid = match cells[5] {
            "1" => true,
            "0" => false,
            other => return Err(bad(n, format!("valid `{other}` is not 0 or 1"))),
        };
        let mut scores = BTreeMap::new();
        for (j, name) in score_names.iter().enumerate() {
            if !cells[fixed.len() + j].is_empty() {
                scores.insert(name.to_string(), number(fixed.len() + j)?);
            }
        }
        out.push(PredictionRow {
            task: cells[0].to_string(),
            row: cells[1].parse().map_err(|_| bad(n, format!("row `{}` is not a row number", cells[1])))?,
            id: cells[2].to_string(),
            true_label: cells[3].to_string(),
            predicted_label: valid.then(|| cells[4].to_string()),
            consistency: if cells[6].is_empty() { None } else { Some(number(6)?) },
            scores,
        });
    }
    Ok(out)
}
