//! Which tasks a suite runs and where each one's data is: the benchmark's task list, the
//! `[suite]` selection, `[[tasks]]` tables that add or replace a task's data, and the data
//! directory in the benchmark's published layout. Planned when the experiment is resolved, so
//! `gfm check` names a missing data set, and the run's `config.toml` lists every task's data as
//! `[[tasks]]` tables (planning them again gives the same tasks).

use std::path::{Path, PathBuf};

use super::{Experiment, SuiteBenchmark, TaskFormat, TaskSpec};
use crate::data::benchmarks::{nt_metric, GB_METRIC, GB_TASKS, NT_TASKS};
use crate::eval::Metric;


/// One task of a suite, with the data spec its runs get.
#[derive(Debug, Clone)]
pub struct SuiteTask {
    pub name: String,
    /// The literature's metric for the task (GB: accuracy; NT: per task).
    pub metric: Metric,
    pub spec: TaskSpec,
}

/// Why a suite cannot start (a problem of the experiment file, reported by `gfm check`).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("suite.tasks: `{name}` is not a {benchmark} task; the tasks are: {}", .known.join(", "))]
    UnknownTask { name: String, benchmark: &'static str, known: Vec<String> },
    #[error("[[tasks]] `{name}` is not a {benchmark} task, so the suite would not run it; name it after one of: {}", .known.join(", "))]
    UnknownOverride { name: String, benchmark: &'static str, known: Vec<String> },
    #[error("suite task `{task}`: no data. {looked}. {fix}")]
    NoData { task: String, looked: String, fix: String },
    #[error("suite task `{task}`: {dir} holds Genomic Benchmarks interval files, which are cut from a reference genome; set suite.reference = \"<FASTA named in {dir}/metadata.yaml>\", or give the task's sequences as a [[tasks]] table")]
    NeedsReference { task: String, dir: PathBuf },
}

/// The benchmark's task names.
pub fn benchmark_tasks(benchmark: SuiteBenchmark) -> Vec<String> {
    match benchmark {
        SuiteBenchmark::Gb => GB_TASKS.iter().map(|s| s.to_string()).collect(),
        SuiteBenchmark::Nt => NT_TASKS.iter().map(|(s, _)| s.to_string()).collect(),
    }
}

/// The literature's metric of `task` in `benchmark`: GB accuracy (Grešová et al. 2023); NT as
/// [`NT_TASKS`] says (MCC for every revised task).
pub fn task_metric(benchmark: SuiteBenchmark, task: &str) -> Metric {
    match benchmark {
        SuiteBenchmark::Gb => GB_METRIC,
        SuiteBenchmark::Nt => nt_metric(task).unwrap_or(Metric::Mcc),
    }
}

/// The first of `stem.{tsv,csv}[.gz]` in `dir` that exists.
fn table_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["tsv", "tsv.gz", "csv", "csv.gz"].iter().map(|ext| dir.join(format!("{stem}.{ext}"))).find(|p| p.is_file())
}

/// Whether `dir/train` holds GB interval files (`<class>.csv.gz`).
fn has_gb_intervals(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("train"))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".csv.gz")))
        .unwrap_or(false)
}

/// The tasks `exp` runs, in the benchmark's order, each with its data.
///
/// # Errors
/// A selected or `[[tasks]]` name outside the benchmark, or a task with no data (naming the
/// paths looked at and what to download).
pub fn plan(exp: &Experiment) -> Result<Vec<SuiteTask>, PlanError> {
    let s = &exp.suite;
    let bench = s.benchmark.as_str();
    let known = benchmark_tasks(s.benchmark);
    for t in &exp.tasks {
        if !known.contains(&t.name) {
            return Err(PlanError::UnknownOverride { name: t.name.clone(), benchmark: bench, known });
        }
    }
    let selected: Vec<String> = if s.tasks.is_empty() { known.clone() } else { s.tasks.clone() };
    if let Some(bad) = selected.iter().find(|n| !known.contains(n)) {
        return Err(PlanError::UnknownTask { name: bad.clone(), benchmark: bench, known });
    }
    let mut out = Vec::new();
    for name in known.iter().filter(|n| selected.contains(n)) {
        let metric = task_metric(s.benchmark, name);
        let mut spec = match exp.tasks.iter().find(|t| &t.name == name) {
            Some(t) => t.clone(),
            None => from_data(exp, name)?,
        };
        spec.metric.get_or_insert(metric);
        if s.max_train > 0 {
            spec.max_train.get_or_insert(s.max_train);
        }
        if spec.test_path.is_none() && spec.format != TaskFormat::GenomicBenchmarks {
            spec.split.get_or_insert(s.split);
        }
        out.push(SuiteTask { name: name.clone(), metric: spec.metric.unwrap_or(metric), spec });
    }
    Ok(out)
}

/// The task's spec from `suite.data` in the benchmark's layout.
fn from_data(exp: &Experiment, name: &str) -> Result<TaskSpec, PlanError> {
    let s = &exp.suite;
    let spec = |format, path: PathBuf, test_path: Option<PathBuf>| TaskSpec {
        name: name.to_string(),
        format,
        path,
        test_path,
        split: None,
        reference: None,
        nt_task: None,
        labels: None,
        weight: 1.0,
        metric: None,
        max_train: None,
    };
    let fix = match s.benchmark {
        SuiteBenchmark::Gb => "Download the dataset (Python: `genomic_benchmarks.loc2seq.download_dataset(\"<name>\")`, or the interval files from github.com/ML-Bioinfo-CEITEC/genomic_benchmarks datasets/<name> with the Ensembl reference in its metadata.yaml) into suite.data, or give its sequences as a [[tasks]] table",
        SuiteBenchmark::Nt => "Download the revised NT tasks (Hugging Face dataset InstaDeepAI/nucleotide_transformer_downstream_tasks_revised) and point suite.data at the table or its directory, or give the task as a [[tasks]] table",
    }
    .replace("<name>", name);
    let Some(data) = &s.data else {
        return Err(PlanError::NoData { task: name.to_string(), looked: "suite.data is not set and no [[tasks]] table names it".into(), fix });
    };
    match s.benchmark {
        SuiteBenchmark::Gb => {
            let dir = data.join(name);
            if has_gb_intervals(&dir) {
                let reference = s.reference.clone().ok_or_else(|| PlanError::NeedsReference { task: name.to_string(), dir: dir.clone() })?;
                return Ok(TaskSpec { reference: Some(reference), ..spec(TaskFormat::GenomicBenchmarks, dir, None) });
            }
            match (table_file(&dir, "train"), table_file(&dir, "test")) {
                (Some(train), test) => Ok(spec(TaskFormat::Table, train, test)),
                (None, _) => Err(PlanError::NoData {
                    task: name.to_string(),
                    looked: format!("looked for {0}/train/<class>.csv.gz (intervals) and {0}/train.{{tsv,csv}}[.gz] (sequences)", dir.display()),
                    fix,
                }),
            }
        }
        SuiteBenchmark::Nt if data.is_file() => {
            Ok(TaskSpec { nt_task: Some(name.to_string()), ..spec(TaskFormat::NucleotideTransformer, data.clone(), None) })
        }
        SuiteBenchmark::Nt => {
            let dir = data.join(name);
            match (table_file(&dir, "train"), table_file(&dir, "test")) {
                (Some(train), test) => Ok(TaskSpec { nt_task: Some(name.to_string()), ..spec(TaskFormat::NucleotideTransformer, train, test) }),
                (None, _) => Err(PlanError::NoData {
                    task: name.to_string(),
                    looked: format!("looked for {}/train.{{tsv,csv}}[.gz]", dir.display()),
                    fix,
                }),
            }
        }
    }
}
