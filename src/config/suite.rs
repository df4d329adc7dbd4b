//! The `[suite]` section (`kind = "suite"`): a whole benchmark (Genomic Benchmarks or the
//! Nucleotide Transformer tasks) as one experiment, run task after task in one run directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sections::resolve_existing;

/// Which benchmark a suite runs: it names the tasks, their metrics and the published numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteBenchmark {
    /// Genomic Benchmarks (Grešová et al. 2023): the 8 datasets papers report plus
    /// `drosophila_enhancers_stark`, scored by accuracy.
    Gb,
    /// The 18 tasks of the revised Nucleotide Transformer benchmark (Dalla-Torre et al. 2024),
    /// each with the metric the NT paper reports.
    Nt,
}

impl SuiteBenchmark {
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteBenchmark::Gb => "gb",
            SuiteBenchmark::Nt => "nt",
        }
    }
}

/// How a suite trains on its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteMode {
    /// One single-task finetune per task (a `finetune` run each).
    Single,
    /// One multi-task finetune over all the suite's tasks (Omni-DNA's `@mult` models).
    Multi,
    /// Only the k-mer logistic-regression baseline, per task.
    Kmer,
}

impl SuiteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteMode::Single => "single",
            SuiteMode::Multi => "multi",
            SuiteMode::Kmer => "kmer",
        }
    }
}

/// A benchmark suite. Each task becomes an ordinary run inside the suite's run directory
/// (`tasks/<task>/…` for finetunes, `kmer/<task>/…` for the baseline), whose experiment file is
/// written beside it, so any one of them can be re-run alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuiteSection {
    pub benchmark: SuiteBenchmark,
    /// The benchmark's data in its published layout. GB: a directory holding
    /// `<dataset>/{train,test}/<class>.csv.gz` interval files (needs `reference`), or
    /// `<dataset>/{train,test}.{csv,tsv}[.gz]` sequence tables. NT: one table with columns
    /// `sequence, name, label, task` holding every task, or a directory of
    /// `<task>/{train,test}.{csv,tsv}[.gz]`. Tasks given as `[[tasks]]` tables need no `data`.
    pub data: Option<PathBuf>,
    /// GB interval files: the reference FASTA the intervals are cut from.
    pub reference: Option<PathBuf>,
    /// The benchmark's tasks to run, by name; empty: all of them.
    pub tasks: Vec<String>,
    pub mode: SuiteMode,
    /// Also train the k-mer baseline per task (its column in `suite.md`); always on in `kmer` mode.
    pub kmer_baseline: bool,
    /// `[train, valid, test]` fractions for tasks whose data has no test split (a single table).
    pub split: [f64; 3],
    /// Use at most this many training examples per task (after the split), by seed; 0: all.
    pub max_train: usize,
    /// The k-mer baseline's epochs, learning rate and batch size (its `k` is `baseline.k`).
    pub kmer_epochs: f64,
    pub kmer_lr: f64,
    pub kmer_batch_size: usize,
}

impl Default for SuiteSection {
    fn default() -> Self {
        Self {
            benchmark: SuiteBenchmark::Gb,
            data: None,
            reference: None,
            tasks: Vec::new(),
            mode: SuiteMode::Single,
            kmer_baseline: true,
            split: [0.8, 0.1, 0.1],
            max_train: 0,
            kmer_epochs: 10.0,
            kmer_lr: 1e-2,
            kmer_batch_size: 64,
        }
    }
}

impl SuiteSection {
    pub(super) fn check(&self, has_init_from: bool, problems: &mut Vec<String>) {
        let mut need = |ok: bool, msg: String| if !ok { problems.push(msg) };
        let s = self.split;
        need(
            s.iter().all(|f| *f >= 0.0) && s.iter().sum::<f64>() <= 1.0 + 1e-9 && s[0] > 0.0 && s[2] > 0.0,
            format!("suite.split = {s:?} must be three non-negative fractions [train, valid, test] summing to at most 1"),
        );
        need(self.kmer_epochs > 0.0, format!("suite.kmer_epochs = {} must be > 0", self.kmer_epochs));
        need(self.kmer_lr > 0.0, format!("suite.kmer_lr = {} must be > 0", self.kmer_lr));
        need(self.kmer_batch_size >= 1, format!("suite.kmer_batch_size = {} must be >= 1", self.kmer_batch_size));
        need(
            self.mode == SuiteMode::Kmer || has_init_from,
            format!(
                "suite.mode = \"{}\" finetunes a pretrained model: set model.init_from (e.g. ../checkpoints/quickstart), or use mode = \"kmer\"",
                if self.mode == SuiteMode::Single { "single" } else { "multi" }
            ),
        );
    }

    pub(super) fn resolve_paths(&mut self, base: &Path, problems: &mut Vec<String>) {
        for (key, p) in [("suite.data", self.data.as_mut()), ("suite.reference", self.reference.as_mut())] {
            if let Some(p) = p {
                resolve_existing(key, p, base, problems);
            }
        }
    }
}
