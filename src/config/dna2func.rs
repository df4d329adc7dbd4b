//! The `[dna2func]` section of an experiment (`kind = "dna2func"`): DNA → free text.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which DNA the DNA2Func prompt shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dna2funcSequences {
    /// The variant allele's window only.
    Variant,
    /// The reference window, a `[VAR]` token, then the variant window (each `window_bp`), so the
    /// model can see which bases changed.
    ReferenceAndVariant,
}

/// How much of the (long, ~1,300-character) question goes into the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dna2funcQuestion {
    /// Nothing: the answer must come from the DNA alone.
    None,
    /// The gene the question names (`this APP allele` -> one token `[GENE_APP]`, added to the
    /// vocabulary for every gene of the training split; unseen genes get `[GENE_?]`).
    Gene,
}

/// DNA2Func: DNA -> free-text answer (Omni-DNA §3.4), e.g. BioReason's KEGG variant -> disease.
/// Examples are `[CLS] [TASK_dna2func] [GENE_x]? dna [MASK] answer-text-tokens [SEP]`. NEFTune and
/// validation generation are set in `[sft]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dna2funcSection {
    /// Parquet tables with top-level string columns question, answer, reference_sequence,
    /// variant_sequence, found by name (other columns, nested ones too, are not read; see
    /// `data::dna2text::read_dna2text` for the content checks).
    /// Relative to the experiment file.
    pub train: Option<PathBuf>,
    /// Validation table (best checkpoint and validation loss).
    pub valid: Option<PathBuf>,
    /// Test table, generated and scored at the end.
    pub test: Option<PathBuf>,
    /// Bases of DNA around the variant (half before it); keep the prompt within model.context.
    pub window_bp: usize,
    /// Which DNA the prompt shows.
    pub sequences: Dna2funcSequences,
    /// How much of the question goes into the prompt.
    pub question: Dna2funcQuestion,
    /// Longest generated answer in text tokens (the closing [SEP] included).
    pub max_answer_tokens: usize,
    /// Entries of the answer BPE (256 byte symbols included); training stops early when no
    /// pair is left (Omni-DNA: 10,000 for its larger text corpus).
    pub text_vocab_size: usize,
    /// Examples longer than the context: `dna_left`, `dna_right` or `drop`.
    pub truncation: crate::data::sft::Truncation,
    /// Best checkpoint by this validation metric.
    pub select: Dna2funcSelect,
}

/// Validation metric that picks the best checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dna2funcSelect {
    ExactMatch,
    TokenF1,
}

impl Default for Dna2funcSection {
    fn default() -> Self {
        Self {
            train: None,
            valid: None,
            test: None,
            window_bp: 256,
            sequences: Dna2funcSequences::Variant,
            question: Dna2funcQuestion::None,
            max_answer_tokens: 16,
            text_vocab_size: 512,
            truncation: crate::data::sft::Truncation::DnaLeft,
            select: Dna2funcSelect::TokenF1,
        }
    }
}

impl Dna2funcSection {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let mut need = |ok: bool, msg: String| if !ok { problems.push(msg) };
        for (key, p) in [("train", &self.train), ("valid", &self.valid), ("test", &self.test)] {
            need(p.is_some(), format!("kind = \"dna2func\" needs dna2func.{key} = \"<table.parquet>\""));
        }
        need(self.window_bp >= 1, format!("dna2func.window_bp = {} must be >= 1", self.window_bp));
        need(self.max_answer_tokens >= 2, format!("dna2func.max_answer_tokens = {} must be >= 2 (one text token and [SEP])", self.max_answer_tokens));
        need(self.text_vocab_size > 256, format!("dna2func.text_vocab_size = {} must exceed the 256 byte symbols", self.text_vocab_size));
    }

    pub(super) fn resolve_paths(&mut self, base: &std::path::Path, problems: &mut Vec<String>) {
        for (key, p) in [("train", self.train.as_mut()), ("valid", self.valid.as_mut()), ("test", self.test.as_mut())] {
            let Some(p) = p else { continue };
            match super::sections::existing(p, base) {
                Some(c) => *p = c,
                None => problems.push(format!("dna2func.{key}: {} not found (relative to {})", p.display(), base.display())),
            }
        }
    }
}
