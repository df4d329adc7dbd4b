//! What a suite writes: `suite.toml` (every number, with the published ones and their sources)
//! and `suite.md` (the table a reader compares: task, metric, gfm, k-mer baseline, published),
//! rewritten after each task so a stopped suite shows what it has.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::eval::published::{results_for, PublishedResult};
use crate::train::session::RunError;

/// One task's numbers from one run's `eval/results.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskScore {
    /// The value of the task's metric.
    pub value: f64,
    pub n: u64,
    pub invalid_rate: f64,
    pub auroc: Option<f64>,
    /// Wall time of the run that produced it, seconds (a multi-task run's whole time).
    pub wall_time_s: f64,
    /// The run directory.
    pub run: PathBuf,
}

/// One row of the suite table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuiteRow {
    pub task: String,
    pub metric: String,
    pub gfm: Option<TaskScore>,
    pub kmer: Option<TaskScore>,
}

#[derive(Serialize)]
struct PublishedRow {
    model: String,
    metric: String,
    /// `gb`, `nt` or `nt_original` (the original NT benchmark: different data).
    benchmark: String,
    value: f64,
    source: String,
    url: Option<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct SuiteFile<'a> {
    benchmark: &'a str,
    mode: &'a str,
    task: Vec<TaskEntry<'a>>,
}

#[derive(Serialize)]
struct TaskEntry<'a> {
    #[serde(flatten)]
    row: &'a SuiteRow,
    published: Vec<PublishedRow>,
}

/// The published results for `task`: the benchmark's own, and for the revised NT tasks those on
/// the original NT task of the same name (different data; marked as such where shown).
fn published(benchmark: &str, task: &str) -> Vec<PublishedResult> {
    let mut out = results_for(benchmark, task);
    if benchmark == "nt" {
        out.extend(results_for("nt_original", task));
    }
    out
}

/// How one published number reads in the table: model, value, and its metric and benchmark
/// version when they differ from the suite row's.
fn cite(p: &PublishedResult, metric: &str) -> String {
    let ours = if metric == "macro_f1" { "f1" } else { metric };
    let mut tags = Vec::new();
    if p.metric != ours {
        tags.push(p.metric.clone());
    }
    if p.suite == "nt_original" {
        tags.push("original NT data".to_string());
    }
    let tags = if tags.is_empty() { String::new() } else { format!(" ({})", tags.join(", ")) };
    format!("{} {:.3}{tags}", p.model, p.value)
}

/// Read the scores of `task` from `run/eval/results.toml` and the run's wall time from its
/// `record.toml`.
///
/// # Errors
/// The files cannot be read, or hold no row for `task`.
pub fn read_score(run: &Path, task: &str) -> Result<TaskScore, RunError> {
    let path = run.join("eval").join("results.toml");
    let text = std::fs::read_to_string(&path).map_err(|source| RunError::Read { path: path.clone(), source })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| RunError::Parse { path: path.clone(), message: e.to_string() })?;
    let row = table
        .get("tasks")
        .and_then(|t| t.as_array())
        .and_then(|rows| rows.iter().find(|r| r.get("task").and_then(|v| v.as_str()) == Some(task)))
        .ok_or_else(|| RunError::Parse { path: path.clone(), message: format!("no row for task `{task}`") })?;
    let float = |key: &str| row.get(key).and_then(|v| v.as_float());
    let record = crate::train::record::RunRecord::load(&run.join("record.toml")).ok();
    Ok(TaskScore {
        value: float("value").unwrap_or(f64::NAN),
        n: row.get("n").and_then(|v| v.as_integer()).unwrap_or(0) as u64,
        invalid_rate: float("invalid_rate").unwrap_or(0.0),
        auroc: float("auroc"),
        wall_time_s: record.map_or(f64::NAN, |r| r.wall_time_s),
        run: run.to_path_buf(),
    })
}

fn cell(score: &Option<TaskScore>) -> String {
    score.as_ref().map_or_else(|| "–".into(), |s| format!("{:.3}", s.value))
}

/// The Markdown table of `rows`, with the published numbers and a numbered list of sources.
pub fn markdown(benchmark: &str, mode: &str, rows: &[SuiteRow]) -> String {
    let mut sources: Vec<String> = Vec::new();
    let mut s = format!(
        "## {} suite ({mode})\n\n| task | metric | gfm | k-mer baseline | n | invalid | AUROC | wall time | published |\n|---|---|---|---|---|---|---|---|---|\n",
        benchmark.to_uppercase()
    );
    for r in rows {
        let mut cites = Vec::new();
        for p in published(benchmark, &r.task) {
            let text = format!("{}{}", p.source, p.url.as_ref().map(|u| format!(" ({u})")).unwrap_or_default());
            let k = match sources.iter().position(|x| *x == text) {
                Some(k) => k,
                None => {
                    sources.push(text);
                    sources.len() - 1
                }
            };
            cites.push(format!("{} [{}]", cite(&p, &r.metric), k + 1));
        }
        let g = r.gfm.as_ref();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.task,
            r.metric,
            cell(&r.gfm),
            cell(&r.kmer),
            g.or(r.kmer.as_ref()).map_or_else(|| "–".into(), |x| x.n.to_string()),
            g.map_or_else(|| "–".into(), |x| format!("{:.1} %", 100.0 * x.invalid_rate)),
            g.or(r.kmer.as_ref()).and_then(|x| x.auroc).map_or_else(|| "–".into(), |a| format!("{a:.3}")),
            g.or(r.kmer.as_ref()).map_or_else(|| "–".into(), |x| format!("{:.0} s", x.wall_time_s)),
            if cites.is_empty() { "–".to_string() } else { cites.join("; ") }
        ));
    }
    if !sources.is_empty() {
        s.push_str("\nPublished numbers (read from, per bracket):\n\n");
        for (k, src) in sources.iter().enumerate() {
            s.push_str(&format!("{}. {src}\n", k + 1));
        }
    }
    s.push_str("\nThe published numbers come from the full benchmark splits (NT: the original benchmark where marked, whose data differ from the revised tasks); a suite run on subsampled data or a smaller model is not directly comparable.\n");
    s
}

/// Write `dir/suite.toml` and `dir/suite.md`.
///
/// # Errors
/// Writing either file.
pub fn write_suite(dir: &Path, benchmark: &str, mode: &str, rows: &[SuiteRow]) -> Result<(), RunError> {
    let file = SuiteFile {
        benchmark,
        mode,
        task: rows
            .iter()
            .map(|row| TaskEntry {
                row,
                published: published(benchmark, &row.task)
                    .into_iter()
                    .map(|p| PublishedRow { model: p.model, metric: p.metric, benchmark: p.suite, value: p.value, source: p.source, url: p.url, note: p.note })
                    .collect(),
            })
            .collect(),
    };
    let toml_path = dir.join("suite.toml");
    let text = toml::to_string_pretty(&file).map_err(|e| RunError::Parse { path: toml_path.clone(), message: e.to_string() })?;
    std::fs::write(&toml_path, text).map_err(|source| RunError::Write { path: toml_path, source })?;
    let md_path = dir.join("suite.md");
    std::fs::write(&md_path, markdown(benchmark, mode, rows)).map_err(|source| RunError::Write { path: md_path, source })
}
