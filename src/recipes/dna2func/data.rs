//! DNA2Func examples: the prompt tokens a record gets (task token, optional gene token, DNA
//! around the variant) and its answer in text tokens, laid out by `data::sft::SftFormat` as
//!
//! ```text
//! [CLS] [TASK_dna2func] [GENE_APP]? dna… [MASK] [T]alz [T]heimer's [T]Ġdisease [SEP]
//!  └──────────────── no loss ──────────────────┘ └──────────── loss ─────────────┘
//! ```

use std::collections::BTreeSet;

use crate::config::{Dna2funcQuestion, Dna2funcSection, Dna2funcSequences};
use crate::data::dna2text::{allele_gene, centred_window, variant_position, Dna2TextRecord};
use crate::data::sft::{SftExample, SftFormat, SftStats};
use crate::tokenizer::text::{expand_with_text, TextTokenizer, TextVocab};
use crate::tokenizer::DnaTokenizer;
use crate::train::session::RunError;

pub const TASK_TOKEN: &str = "[TASK_dna2func]";
/// Separates the reference window from the variant window (`reference_and_variant`).
pub const VAR_TOKEN: &str = "[VAR]";
/// The gene token of a gene not seen in training.
pub const UNKNOWN_GENE: &str = "[GENE_?]";

pub fn gene_token(gene: &str) -> String {
    format!("[GENE_{gene}]")
}

/// Ids of the added tokens.
#[derive(Debug, Clone)]
pub struct Dna2funcVocab {
    pub task: u32,
    pub var: u32,
    pub text: TextVocab,
}

/// Add the task, `[VAR]`, gene (when the question is used) and text tokens to `tok`, in this
/// order; existing ids never move, and a tokenizer that has them already changes nothing.
pub fn expand(
    tok: &mut DnaTokenizer,
    text: &TextTokenizer,
    train: &[Dna2TextRecord],
    cfg: &Dna2funcSection,
) -> Result<Dna2funcVocab, RunError> {
    let ids = tok.add_tokens(&[TASK_TOKEN, VAR_TOKEN])?;
    if cfg.question == Dna2funcQuestion::Gene {
        let genes: BTreeSet<String> = train.iter().filter_map(|r| allele_gene(&r.question)).map(gene_token).collect();
        let mut names: Vec<&str> = genes.iter().map(String::as_str).collect();
        names.push(UNKNOWN_GENE);
        tok.add_tokens(&names)?;
    }
    let text = expand_with_text(tok, text)?;
    Ok(Dna2funcVocab { task: ids[0], var: ids[1], text })
}

/// One record made ready for training and generation.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: String,
    pub answer: String,
    /// `[CLS] task gene? dna [MASK]`, cut to leave room for `max_answer_tokens`.
    pub prompt: Vec<u32>,
    /// The training example; `None` when it was dropped as too long.
    pub example: Option<SftExample>,
}

/// The task and gene tokens after `[CLS]`.
fn prefix_tokens(r: &Dna2TextRecord, cfg: &Dna2funcSection, vocab: &Dna2funcVocab, tok: &DnaTokenizer) -> Vec<u32> {
    let mut out = vec![vocab.task];
    if cfg.question == Dna2funcQuestion::Gene {
        let known = allele_gene(&r.question).and_then(|g| tok.token_to_id(&gene_token(g)));
        out.extend(known.or_else(|| tok.token_to_id(UNKNOWN_GENE)));
    }
    out
}

/// DNA ids: the window around the variant (and the reference window before it).
///
/// # Shapes
/// - returns `[n_dna]`: about `window_bp / bases-per-token` (twice that plus one with the reference)
pub fn dna_tokens(r: &Dna2TextRecord, cfg: &Dna2funcSection, vocab: &Dna2funcVocab, tok: &DnaTokenizer) -> Result<Vec<u32>, RunError> {
    let centre = variant_position(&r.reference, &r.variant);
    let var = tok.encode_dna(centred_window(&r.variant, centre, cfg.window_bp))?;
    Ok(match cfg.sequences {
        Dna2funcSequences::Variant => var,
        Dna2funcSequences::ReferenceAndVariant => {
            let mut ids = tok.encode_dna(centred_window(&r.reference, centre, cfg.window_bp))?;
            ids.push(vocab.var);
            ids.extend(var);
            ids
        }
    })
}

/// Prepare every record: prompt for generation and (answer-masked) training example.
pub fn prepare(
    records: &[Dna2TextRecord],
    cfg: &Dna2funcSection,
    vocab: &Dna2funcVocab,
    tok: &DnaTokenizer,
    text: &TextTokenizer,
    context: usize,
    stats: &mut SftStats,
) -> Result<Vec<Prepared>, RunError> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let format = SftFormat::new(prefix_tokens(r, cfg, vocab, tok), 1, context, cfg.truncation)?;
        let dna = dna_tokens(r, cfg, vocab, tok)?;
        let answer = text.encode(&r.answer)?;
        if answer.is_empty() {
            return Err(RunError::EmptyAnswer { id: r.id.clone() });
        }
        let example = format.example(&dna, &vocab.text.to_model(&answer), stats)?;
        let prompt = format
            .generation_prompt(&dna, cfg.max_answer_tokens)
            .ok_or_else(|| RunError::NoDnaFits { id: r.id.clone(), context, max_answer_tokens: cfg.max_answer_tokens })?;
        out.push(Prepared { id: r.id.clone(), answer: r.answer.clone(), prompt, example });
    }
    Ok(out)
}

/// The most common answer (ties: the alphabetically first), the majority baseline's prediction.
pub fn majority_answer(records: &[Dna2TextRecord]) -> Option<String> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for r in records {
        *counts.entry(r.answer.as_str()).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, c)| *c == best).map(|(a, _)| a.to_string())
}
