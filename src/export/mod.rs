//! Checkpoint interchange: export a gfm run to a directory that transformers (or ai2-olmo) loads
//! as it is, and load pretrained OLMo weights (a gfm export, a transformers `OlmoForCausalLM`
//! directory, or a released Omni-DNA `hf_olmo` checkpoint) into an [`OlmoModel`](crate::model::OlmoModel).
//!
//! - [`export_checkpoint`] / [`export_model`]: `model.safetensors`, `config.json`,
//!   `generation_config.json`, tokenizer files and `gfm_export.json` (provenance).
//! - [`load_pretrained`] / [`read_config`]: layout recognised by the keys `config.json` holds
//!   ([`layout`]); single-file or sharded (`model.safetensors.index.json`) safetensors in f32,
//!   bf16, f16 or f64.
//! - [`keys::KEY_TABLE`]: the one table of parameter names and transforms.

mod hf_config;
pub mod layout;
pub mod source;
mod import;
pub mod keys;
pub mod params;
pub mod safetensors_file;
mod writer;

use std::fmt;
use std::path::PathBuf;

pub use import::{load_pretrained, read_config};
pub use keys::{HostTensor, KEY_TABLE};
pub use writer::{export_checkpoint, export_model, export_pretrained, ExportSummary, EXPORT_MARKER};

/// Element type of the exported tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportDtype {
    F32,
    Bf16,
    F16,
}

impl ExportDtype {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportDtype::F32 => "f32",
            ExportDtype::Bf16 => "bf16",
            ExportDtype::F16 => "f16",
        }
    }

    /// The name `config.json`'s `torch_dtype` uses.
    pub fn torch_name(&self) -> &'static str {
        match self {
            ExportDtype::F32 => "float32",
            ExportDtype::Bf16 => "bfloat16",
            ExportDtype::F16 => "float16",
        }
    }
}

/// An external checkpoint layout (see [`keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// transformers `OlmoForCausalLM` (`model_type = "olmo"`); on import, recognised by its keys
    /// ([`layout::HF_KEYS`]).
    Hf,
    /// ai2-olmo 0.6 `hf_olmo.OLMoForCausalLM` (`model_type = "hf_olmo"`), the layout of the
    /// released Omni-DNA checkpoints; it can also hold RMSNorm scales. On import, recognised by
    /// its keys ([`layout::HF_OLMO_KEYS`]) whatever its `model_type` (`"olmo-gfm"`, …).
    #[value(name = "hf_olmo")]
    HfOlmo,
}

impl ExportFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportFormat::Hf => "hf",
            ExportFormat::HfOlmo => "hf_olmo",
        }
    }
}

impl fmt::Display for ExportDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors from [`load_pretrained`] and [`read_config`]. Each names the file or tensor.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{dir} has no config.json; point to a directory written by `gfm export` or by `save_pretrained`")]
    NoConfig { dir: PathBuf },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{path}: gfm cannot load {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("{dir} has no model.safetensors or model.safetensors.index.json{hint}")]
    NoWeights { dir: PathBuf, hint: String },
    #[error("{path}: invalid shard index: {reason}")]
    BadIndex { path: PathBuf, reason: String },
    #[error("{file}: invalid safetensors file: {reason}")]
    BadSafetensors { file: PathBuf, reason: String },
    #[error("{dir}: tensor {tensor} is missing (expected in the {format} layout that config.json describes)")]
    Missing { dir: PathBuf, tensor: String, format: ExportFormat },
    #[error("{dir}: unexpected tensor(s) {} for the {format} layout that config.json describes; the config and weights disagree", .tensors.join(", "))]
    Extra { dir: PathBuf, tensors: Vec<String>, format: ExportFormat },
    #[error("{file}: tensor {tensor} has shape {found:?}, but config.json implies {expected:?}")]
    Shape { file: PathBuf, tensor: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{file}: tensor {tensor} has dtype {dtype}; gfm loads F32, BF16, F16 and F64 weights")]
    Dtype { file: PathBuf, tensor: String, dtype: String },
    #[error("{dir}: config.json ties the output layer to the embedding, but lm_head.weight differs from model.embed_tokens.weight; set \"tie_word_embeddings\": false")]
    TiedMismatch { dir: PathBuf },
    #[error("gfm bug: the key table and the model disagree: {0}")]
    Internal(String),
}

/// Errors from [`export_checkpoint`] and [`export_model`].
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error("{src} is neither a run directory (with config.toml and step_NNNNNNN/ checkpoints) nor a checkpoint directory (with manifest.toml) inside one; give a run directory (<out_dir>/<name>/<run id>) or one of its step_NNNNNNN folders")]
    NotARun { src: PathBuf },
    #[error("cannot read the model shape from {path}: {reason}")]
    RunConfig { path: PathBuf, reason: String },
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{tokenizer} has {tokens} tokens but the model has only {rows} embedding rows")]
    TokenizerTooLarge { tokenizer: PathBuf, tokens: usize, rows: usize },
    #[error("cannot load the model record of {dir}: {message}; its model.mpk is not the OLMo model of this run's config.toml, so export a checkpoint that `gfm run` wrote for this run")]
    Record { dir: PathBuf, message: String },
    #[error("the {format} layout cannot represent {what}; export with --format hf_olmo instead, which can")]
    NotRepresentable { format: ExportFormat, what: String },
    #[error("model tensor {tensor} has shape {found:?}, but the run's config implies {expected:?}")]
    Shape { tensor: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("cannot read model tensor {tensor}: {message}")]
    Data { tensor: String, message: String },
    #[error("{path} exists and is not empty, and is not a previous gfm export (no {EXPORT_MARKER}); choose another --out or remove it")]
    OutExists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}
