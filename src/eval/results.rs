//! Evaluation results of a run: `eval/results.toml` (every number), `eval/results.md` (the
//! table a person reads: task, metric, value, n, invalid rate) and `eval/predictions.tsv` (every
//! example's answer and label scores: `eval::predictions`).

use std::path::Path;

use serde::Serialize;

use super::classify::TaskEval;

#[derive(Serialize)]
struct ResultsFile<'a> {
    checkpoint: String,
    split: &'a str,
    tasks: Vec<TaskRow<'a>>,
}

#[derive(Serialize)]
struct TaskRow<'a> {
    task: &'a str,
    metric: &'a str,
    value: f64,
    n: u64,
    invalid: u64,
    invalid_rate: f64,
    accuracy: f64,
    mcc: f64,
    macro_f1: f64,
    /// Binary AUROC or macro one-vs-rest AUROC; absent without label scores.
    auroc: Option<f64>,
    consistency: f64,
    labels: &'a [String],
    /// `confusion[true][pred]` over valid outputs.
    confusion: &'a [Vec<u64>],
    precision: Vec<f64>,
    recall: Vec<f64>,
}

/// The Markdown table of `evals`.
pub fn markdown(evals: &[TaskEval], title: &str) -> String {
    let mut s = format!("## {title}\n\n| task | metric | value | n | invalid rate | accuracy | MCC | macro-F1 | AUROC |\n|---|---|---|---|---|---|---|---|---|\n");
    for e in evals {
        let r = &e.report;
        s.push_str(&format!(
            "| {} | {} | {:.4} | {} | {:.2} % | {:.4} | {:.4} | {:.4} | {} |\n",
            e.task,
            e.metric.name(),
            e.value,
            r.n,
            100.0 * r.invalid_rate,
            r.accuracy,
            r.mcc,
            r.macro_f1,
            e.auroc.map_or_else(|| "–".to_string(), |a| format!("{a:.4}"))
        ));
    }
    s
}

/// Write `dir/results.toml`, `dir/results.md` and `dir/predictions.tsv`.
pub fn write_results(dir: &Path, evals: &[TaskEval], checkpoint: &str, split: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let file = ResultsFile {
        checkpoint: checkpoint.to_string(),
        split,
        tasks: evals
            .iter()
            .map(|e| TaskRow {
                task: &e.task,
                metric: e.metric.name(),
                value: e.value,
                n: e.report.n,
                invalid: e.report.invalid,
                invalid_rate: e.report.invalid_rate,
                accuracy: e.report.accuracy,
                mcc: e.report.mcc,
                macro_f1: e.report.macro_f1,
                auroc: e.auroc,
                consistency: e.consistency,
                labels: &e.report.labels,
                confusion: &e.report.confusion,
                precision: e.report.per_class.iter().map(|c| c.precision).collect(),
                recall: e.report.per_class.iter().map(|c| c.recall).collect(),
            })
            .collect(),
    };
    let toml = toml::to_string_pretty(&file).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.toml"), toml)?;
    super::predictions::write_predictions(&dir.join("predictions.tsv"), evals)?;
    std::fs::write(dir.join("results.md"), markdown(evals, &format!("{split} results of {checkpoint}")))
}
