//! The experiment file: one TOML document, every section optional but `name`, `kind` and `data`.
//! Unknown keys are errors everywhere (`deny_unknown_fields`); defaults are filled by serde and
//! written back into the run's resolved `config.toml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::dna2func::{Dna2funcQuestion, Dna2funcSection, Dna2funcSelect, Dna2funcSequences};
pub use super::suite::{SuiteBenchmark, SuiteMode, SuiteSection};
pub use super::images::{ClassifierSection, DigitImages, NeedleSection, VqvaeSection};
pub use super::kinds::Kind;
pub use super::run::{Duration, RunSection, Schedule, TrainSection};
pub use crate::backend::DeviceKind;
use crate::data::fasta::AmbiguityPolicy;
use crate::model::NormKind;

/// One experiment file. `name`, `kind`, `seed`, `[train]` and `[run]` apply to every kind; each
/// other section belongs to the kinds that read it ([`Kind::sections`]), and a section the chosen
/// kind does not read is an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the run directory `checkpoints/<name>/<run id>/`.
    pub name: String,
    /// What `gfm run` does with the experiment; it decides which other sections are read.
    pub kind: Kind,
    /// Seeds initialisation, data split and shuffling, and per-step randomness.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    /// The OLMo model (`pretrain` and the finetuning kinds).
    pub model: ModelSection,
    #[serde(default)]
    /// The DNA tokenizer (`pretrain` and the finetuning kinds).
    pub tokenizer: TokenizerSection,
    /// Pretraining data (`kind = "pretrain"`).
    #[serde(default)]
    pub data: DataSection,
    /// Finetuning options (`kind = "finetune"`).
    #[serde(default)]
    pub finetune: FinetuneSection,
    /// Options every supervised-finetuning kind shares (`finetune`, `needle_in_dna`, `dna2func`).
    #[serde(default)]
    pub sft: SftSection,
    /// Benchmark tasks to finetune on and evaluate (`kind = "finetune"`), as `[[tasks]]` tables.
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    /// The k-mer baseline's options (`kind = "kmer_baseline"`).
    #[serde(default)]
    pub baseline: BaselineSection,
    /// The digit classifier (`kind = "image_classifier"`).
    #[serde(default)]
    pub classifier: ClassifierSection,
    /// Needle-in-DNA (`kind = "needle_in_dna"`).
    #[serde(default)]
    pub needle: NeedleSection,
    /// The VQ-VAE's images and shape (`kind = "vqvae"`).
    #[serde(default)]
    pub vqvae: VqvaeSection,
    /// MMIDAS options (`kind = "mmidas"`).
    #[serde(default)]
    pub mmidas: crate::mmidas::config::MmidasSection,
    /// DNA-to-text options (`kind = "dna2func"`).
    #[serde(default)]
    pub dna2func: Dna2funcSection,
    /// A benchmark suite (`kind = "suite"`).
    #[serde(default)]
    pub suite: SuiteSection,
    /// Optimizer, schedule, batch and evaluation cadence of the one loop.
    #[serde(default)]
    pub train: TrainSection,
    /// Where runs go and on which device.
    #[serde(default)]
    pub run: RunSection,
}

fn default_seed() -> u64 {
    42
}

/// A preset plus per-field overrides; after resolution every field is filled.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Start from pretrained weights: a gfm export, a Hugging Face OLMo directory, or a released
    /// Omni-DNA checkpoint in its `hf_olmo` layout. The shape then comes from its `config.json`;
    /// fields set here must agree with it. Relative to the experiment file.
    pub init_from: Option<PathBuf>,
    /// One of `tiny`, `omni_dna_20m`, `omni_dna_60m`, `omni_dna_116m`, `omni_dna_300m`,
    /// `omni_dna_700m`, `omni_dna_1b`. Default `omni_dna_20m`.
    pub preset: Option<String>,
    /// Transformer blocks.
    pub n_layers: Option<usize>,
    /// Width of the residual stream.
    pub d_model: Option<usize>,
    /// Attention heads; `d_model / n_heads` must be even (RoPE).
    pub n_heads: Option<usize>,
    /// SwiGLU hidden width as a multiple of `d_model`.
    pub mlp_ratio: Option<usize>,
    /// Rows of the embedding table (at least the tokenizer's vocabulary).
    pub vocab_size: Option<usize>,
    /// Longest sequence in tokens, specials included.
    pub context: Option<usize>,
    /// `layer_norm_no_affine` (OLMo no-bias LayerNorm) or `rms_norm` (RMSNorm with scale).
    pub norm: Option<NormKind>,
    /// Epsilon of the norms.
    pub norm_eps: Option<f64>,
    /// RoPE base frequency.
    pub rope_theta: Option<f64>,
    /// Share the input embedding with the output projection.
    pub tie_embeddings: Option<bool>,
    /// Standard deviation of the normal weight initialisation.
    pub init_std: Option<f64>,
}

/// The DNA tokenizer: a given `tokenizer.json`, or a BPE trained on the training data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSection {
    /// An existing HF `tokenizer.json` (e.g. the released Omni-DNA one). When absent, a BPE
    /// tokenizer is trained on the training data and saved in the run directory.
    pub path: Option<PathBuf>,
    /// Vocabulary of a trained tokenizer, specials included. Default: the model's vocabulary.
    pub vocab_size: Option<usize>,
    /// Bases of training data used to train the tokenizer (whole records, in file order).
    #[serde(default = "default_tokenizer_train_bp")]
    pub train_bp: u64,
}

fn default_tokenizer_train_bp() -> u64 {
    20_000_000
}

impl Default for TokenizerSection {
    fn default() -> Self {
        Self { path: None, vocab_size: None, train_bp: default_tokenizer_train_bp() }
    }
}

/// Pretraining data: FASTA files, the held-out split and the ambiguity policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// FASTA or FASTA.gz files; relative paths are relative to the experiment file.
    #[serde(default)]
    pub train: Vec<PathBuf>,
    /// Held-out FASTA files; when empty, `valid_fraction` of the training windows are held out.
    #[serde(default)]
    pub valid: Vec<PathBuf>,
    #[serde(default = "default_valid_fraction")]
    /// Fraction of the training windows held out by seed when `valid` is empty.
    pub valid_fraction: f64,
    /// What to do with N and other IUPAC ambiguity codes: `unk` (keep, tokenised as [UNK]),
    /// `split` (cut records at them), `drop` (skip records containing any).
    #[serde(default)]
    pub ambiguous: AmbiguityPolicy,
    /// Sequences (or pieces after splitting) shorter than this many bases are skipped.
    #[serde(default = "default_min_bp")]
    pub min_bp: usize,
    /// A record's last, partial window is kept if it has at least this many tokens.
    #[serde(default = "default_min_tokens")]
    pub min_tokens: usize,
}

fn default_valid_fraction() -> f64 {
    0.05
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            train: Vec::new(),
            valid: Vec::new(),
            valid_fraction: default_valid_fraction(),
            ambiguous: AmbiguityPolicy::default(),
            min_bp: default_min_bp(),
            min_tokens: default_min_tokens(),
        }
    }
}

/// Omni-DNA finetuning options (Li et al. 2025 §3.3; Zehui127/Omni-DNA `train_sft.py`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneSection {
    /// Times the label token is repeated in training answers. Omni-DNA uses 10; the default is 1,
    /// which won on validation MCC at gfm's small scale (experiments/README.md, "Which recipe
    /// choices matter": 1.2M-parameter model on nontata, two seeds).
    pub replicate: usize,
    /// Examples longer than the context: `dna_left`, `dna_right` (cut DNA) or `drop`.
    pub truncation: crate::data::sft::Truncation,
    /// Fraction of each task's training examples held out for validation, by seed (Omni-DNA: 10 %).
    pub valid_fraction: f64,
    /// Prefix every prompt with a per-task token `[TASK_<name>]`.
    pub task_tokens: bool,
}

impl Default for FinetuneSection {
    fn default() -> Self {
        Self { replicate: 1, truncation: crate::data::sft::Truncation::DnaLeft, valid_fraction: 0.1, task_tokens: true }
    }
}

/// The options of supervised finetuning that `finetune`, `needle_in_dna` and `dna2func` share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftSection {
    /// NEFTune noise `alpha / sqrt(L * d) * U(-1, 1)` on input embeddings in training
    /// (Jain et al. 2023; Omni-DNA: 5); 0 disables.
    pub neftune_alpha: f64,
    /// Validation examples (per task) generated at each evaluation; 0: all. Default by kind:
    /// 256 (`finetune`), 100 (`needle_in_dna`), all (`dna2func`).
    pub eval_max_examples: Option<usize>,
    /// Prompts decoded together in generation.
    pub eval_batch_size: usize,
}

impl Default for SftSection {
    fn default() -> Self {
        Self { neftune_alpha: 5.0, eval_max_examples: None, eval_batch_size: 32 }
    }
}

impl SftSection {
    /// Validation examples generated per evaluation (0: all); filled by kind when resolved.
    pub fn eval_examples(&self) -> usize {
        self.eval_max_examples.unwrap_or(0)
    }
}

/// The k-mer logistic-regression baseline (`kind = "kmer_baseline"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineSection {
    /// k-mer length; the model has `4^k` inputs per class.
    pub k: usize,
    /// Fraction of the task's training examples held out for validation, by seed.
    pub valid_fraction: f64,
}

impl Default for BaselineSection {
    fn default() -> Self {
        Self { k: 4, valid_fraction: 0.1 }
    }
}

/// Where a task's labelled sequences come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskFormat {
    /// TSV/CSV(.gz) with sequence and label columns.
    Table,
    /// Genomic Benchmarks: the interval layout `<dataset>/{train,test}/<class>.csv.gz` + a
    /// reference FASTA, or the download-cache layout `<dataset>/{train,test}/<class>/<n>.txt`
    /// (one sequence per file; no reference), recognised by its class folders.
    GenomicBenchmarks,
    /// Nucleotide Transformer downstream layout (`sequence, name, label, task`); a per-task file
    /// without `task` is the one task asked for.
    NucleotideTransformer,
}

/// One benchmark task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Names the task's token and its rows in the results.
    pub name: String,
    /// How the task's files are laid out.
    pub format: TaskFormat,
    /// Table file, NT file, or GB dataset directory.
    pub path: PathBuf,
    /// A separate test file (tables and NT); GB uses its `test/` split. When absent, `split` cuts `path`.
    pub test_path: Option<PathBuf>,
    /// `[train, valid, test]` fractions of `path` (summing to at most 1; the rest is unused),
    /// stratified by label and seeded, when there is no test file (with one, it is not used,
    /// so a zero test fraction is accepted there).
    pub split: Option<[f64; 3]>,
    /// GB interval layout: the reference FASTA the intervals are cut from (the cache layout
    /// needs none).
    pub reference: Option<PathBuf>,
    /// NT: which task(s) of the file; default: `name`.
    pub nt_task: Option<String>,
    /// The labels, in order; default: the sorted labels found in the training data.
    pub labels: Option<Vec<String>>,
    /// Relative sampling weight among tasks in training.
    #[serde(default = "one")]
    pub weight: f64,
    /// `accuracy`, `mcc` or `macro_f1`; default: the literature's metric for the task.
    pub metric: Option<crate::eval::metrics::Metric>,
    /// Use at most this many training examples (after the split), by seed.
    pub max_train: Option<usize>,
}

fn one() -> f64 {
    1.0
}
fn default_min_bp() -> usize {
    50
}
fn default_min_tokens() -> usize {
    16
}
