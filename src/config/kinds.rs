//! The kinds of run an experiment can name, and which sections of the file each one reads. The
//! recipe that runs each kind is in `crate::recipes` (one row per kind in `recipes::KINDS`).

use serde::{Deserialize, Serialize};

/// What `gfm run` does with the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Next-token pretraining of an OLMo decoder on DNA.
    Pretrain,
    /// Multi-task supervised finetuning by vocabulary expansion (Omni-DNA), then evaluation.
    Finetune,
    /// Logistic regression on k-mer frequencies for one task: the baseline beside `finetune`.
    KmerBaseline,
    /// The small CNN digit classifier that scores Needle-in-DNA's generated images.
    ImageClassifier,
    /// Needle-in-DNA (Omni-DNA §5.2): DNA with a planted motif → VQ-VAE tokens of a digit image.
    NeedleInDna,
    /// A VQ-VAE on 28 x 28 images (MNIST): image tokens for cross-modal tasks.
    Vqvae,
    /// MMIDAS coupled mixture VAE over per-modality gene embeddings, with consensus pruning.
    Mmidas,
    /// DNA to free text (DNA2Func): text-token vocabulary expansion, finetuning, generation.
    Dna2func,
}

/// Keys of the experiment every kind reads.
pub const COMMON_KEYS: [&str; 5] = ["name", "kind", "seed", "train", "run"];

impl Kind {
    /// Every kind, in the order `gfm` documents them.
    pub const ALL: [Kind; 8] = [
        Kind::Pretrain,
        Kind::Finetune,
        Kind::KmerBaseline,
        Kind::ImageClassifier,
        Kind::NeedleInDna,
        Kind::Vqvae,
        Kind::Mmidas,
        Kind::Dna2func,
    ];

    /// The name in `kind = "…"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Pretrain => "pretrain",
            Kind::Finetune => "finetune",
            Kind::KmerBaseline => "kmer_baseline",
            Kind::ImageClassifier => "image_classifier",
            Kind::NeedleInDna => "needle_in_dna",
            Kind::Vqvae => "vqvae",
            Kind::Mmidas => "mmidas",
            Kind::Dna2func => "dna2func",
        }
    }

    /// The sections (and `[[tasks]]`) this kind reads besides [`COMMON_KEYS`]. Any other section
    /// in its experiment file is an error, and the run's `config.toml` holds only these.
    pub fn sections(&self) -> &'static [&'static str] {
        match self {
            Kind::Pretrain => &["model", "tokenizer", "data"],
            Kind::Finetune => &["model", "tokenizer", "finetune", "sft", "tasks"],
            Kind::KmerBaseline => &["baseline", "tasks"],
            Kind::ImageClassifier => &["classifier"],
            Kind::NeedleInDna => &["model", "tokenizer", "needle", "sft"],
            Kind::Vqvae => &["vqvae"],
            Kind::Mmidas => &["mmidas"],
            Kind::Dna2func => &["model", "tokenizer", "dna2func", "sft"],
        }
    }

    /// Whether the kind reads `key` of the experiment.
    pub fn reads(&self, key: &str) -> bool {
        COMMON_KEYS.contains(&key) || self.sections().contains(&key)
    }

    /// Whether the kind trains an OLMo decoder (and so reads `[model]`).
    pub fn is_language_model(&self) -> bool {
        self.reads("model")
    }

    /// Whether the kind starts from a pretrained model (`model.init_from` required).
    pub fn starts_from_pretrained(&self) -> bool {
        matches!(self, Kind::Finetune | Kind::NeedleInDna | Kind::Dna2func)
    }

    /// `sft.eval_max_examples` when the file does not set it (0: all).
    pub fn default_eval_max_examples(&self) -> usize {
        match self {
            Kind::NeedleInDna => 100,
            Kind::Dna2func => 0,
            _ => 256,
        }
    }
}

/// Top-level keys of `table` that `kind` does not read, each as a problem naming it.
pub fn unused_sections(table: &toml::Table, kind: Kind) -> Vec<String> {
    let reads: Vec<String> = kind.sections().iter().map(|s| if *s == "tasks" { "[[tasks]]".to_string() } else { format!("[{s}]") }).collect();
    let reads = if reads.is_empty() { "none besides [train] and [run]".to_string() } else { reads.join(", ") };
    table
        .keys()
        .filter(|key| !kind.reads(key))
        .map(|key| {
            let shown = if key == "tasks" { "[[tasks]]".to_string() } else { format!("[{key}]") };
            format!("section {shown} is not read by kind = \"{}\" (it reads {reads}); remove it", kind.as_str())
        })
        .collect()
}
