//! Published results of reference models on the Genomic Benchmarks and Nucleotide Transformer
//! tasks, for the tables a suite writes beside gfm's own numbers. The numbers live in
//! `published.toml` next to this file (compiled in), one `[[result]]` per model, task and metric,
//! each with the paper table or repository file it was read from (see the file's header for how
//! it was collected).
//!
//! Suites: `gb`; `nt` is the revised NT benchmark (18 tasks, MCC), for which no per-task published
//! values could be read; `nt_original` holds results on the original NT benchmark, whose tasks
//! partly share names with the revised ones but hold different data.

use serde::Deserialize;

/// One published number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedResult {
    /// `gb`, `nt` (revised NT benchmark) or `nt_original`.
    pub suite: String,
    pub task: String,
    pub model: String,
    /// `accuracy`, `mcc` or `f1`.
    pub metric: String,
    /// A fraction (accuracy, F1) or the coefficient (MCC), never a percentage.
    pub value: f64,
    /// Paper and table, or repository and file.
    pub source: String,
    pub url: Option<String>,
    pub note: Option<String>,
}

/// One task as the sources define it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedTask {
    pub suite: String,
    pub name: String,
    pub metric: String,
    pub classes: Option<usize>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedFile {
    #[serde(default)]
    task: Vec<PublishedTask>,
    #[serde(default)]
    result: Vec<PublishedResult>,
}

const PUBLISHED_TOML: &str = include_str!("published.toml");

fn file() -> PublishedFile {
    toml::from_str(PUBLISHED_TOML).expect("src/eval/published.toml parses (tested)")
}

/// Every published result for `task` of `suite` (`gb`/`nt`), in file order.
pub fn results_for(suite: &str, task: &str) -> Vec<PublishedResult> {
    file().result.into_iter().filter(|r| r.suite == suite && r.task == task).collect()
}

/// Every task the file lists for `suite`.
pub fn tasks_of(suite: &str) -> Vec<PublishedTask> {
    file().task.into_iter().filter(|t| t.suite == suite).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_numbers_parse_and_are_in_range_with_a_source() {
        let f = file();
        assert!(!f.result.is_empty());
        for r in &f.result {
            assert!(["gb", "nt", "nt_original"].contains(&r.suite.as_str()), "{r:?}");
            assert!(["accuracy", "mcc", "f1"].contains(&r.metric.as_str()), "{r:?}");
            let range = if r.metric == "mcc" { -1.0..=1.0 } else { 0.0..=1.0 };
            assert!(range.contains(&r.value), "a fraction, not a percentage: {r:?}");
            assert!(!r.source.trim().is_empty(), "{r:?}");
            if r.suite != "nt_original" {
                assert!(f.task.iter().any(|t| t.suite == r.suite && t.name == r.task), "result for an unlisted task: {r:?}");
            }
        }
    }

    #[test]
    fn every_suite_task_is_listed_with_the_metric_gfm_scores() {
        use crate::config::SuiteBenchmark;
        use crate::config::suite_tasks::{benchmark_tasks, task_metric};
        for bench in [SuiteBenchmark::Gb, SuiteBenchmark::Nt] {
            let listed = tasks_of(bench.as_str());
            for name in benchmark_tasks(bench) {
                let Some(t) = listed.iter().find(|t| t.name == name) else { panic!("{} task {name} missing", bench.as_str()) };
                let ours = task_metric(bench, &name);
                let theirs = match t.metric.as_str() {
                    "f1" => crate::eval::Metric::MacroF1,
                    "mcc" => crate::eval::Metric::Mcc,
                    _ => crate::eval::Metric::Accuracy,
                };
                assert_eq!(ours, theirs, "{name}: gfm scores {ours:?}, the sources report {}", t.metric);
            }
        }
    }
}
