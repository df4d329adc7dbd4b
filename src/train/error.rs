//! What can stop a run, as variants a caller can match on. Each message says what went wrong
//! and, where there is one, what to do.

use std::path::PathBuf;

/// The message of `e` followed by each cause (`e: cause: cause`), except causes whose text the
/// message already holds: most of gfm's errors interpolate their `source` (`cannot read {path}:
/// {source}`), and printing the chain as well (anyhow's `{:#}`) showed each cause twice.
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create run directory {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("nothing to resume: no run of `{name}` under {dir} has a complete checkpoint{}; start it without --resume", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    NothingToResume { name: String, dir: PathBuf, detail: String },
    #[error("kind = \"{kind}\" runs are short and not resumable; run it again without --resume")]
    NotResumable { kind: &'static str },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot load the model record {path}: {message}")]
    Record { path: PathBuf, message: String },
    #[error("{path} is not a `kind = \"{kind}\"` run ({message}); point at a run directory of such an experiment")]
    NotARun { path: PathBuf, kind: &'static str, message: String },
    #[error("{key}: {path} not found; run experiments/{experiment} first")]
    MissingRun { key: &'static str, path: PathBuf, experiment: &'static str },
    #[error("kind = \"{kind}\" needs model.init_from: a gfm run, a gfm export or an OLMo checkpoint")]
    NeedsInitFrom { kind: &'static str },
    #[error("model.init_from: {0}")]
    InitFrom(crate::export::source::SourceError),
    #[error(transparent)]
    Source(crate::export::source::SourceError),
    #[error("no tokenizer.json beside {beside}; set tokenizer.path")]
    NoTokenizer { beside: PathBuf },
    #[error("the tokenizer has {tokens} tokens but model.vocab_size = {vocab_size}; raise model.vocab_size or use a smaller tokenizer")]
    TokenizerTooLarge { tokens: usize, vocab_size: usize },
    #[error("task `{task}`: {message}")]
    Task { task: String, message: String },
    #[error("kind = \"{kind}\" takes exactly one [[tasks]] table, found {found}")]
    TaskCount { kind: &'static str, found: usize },
    #[error("label `{label}` is not one of the task's labels")]
    UnknownLabel { label: String },
    #[error("{path}: no images left after {filter}")]
    NoImages { path: PathBuf, filter: String },
    #[error("vqvae.digits filters by label but {images} has no labels file; set vqvae.train_labels / heldout_labels")]
    NoLabels { images: PathBuf },
    #[error("`{text}` is not a code id; give integers separated by spaces or commas")]
    CodeIdNotInteger { text: String },
    #[error("expected {expected} code ids (a 7 x 7 grid), found {found}")]
    CodeIdCount { expected: usize, found: usize },
    #[error("code id {id} is out of range: the codebook has {codebook_size} codes (ids 0..{codebook_size})")]
    CodeIdRange { id: u32, codebook_size: usize },
    #[error("needle_in_dna: {0}")]
    NeedleData(#[from] crate::data::needle::NeedleError),
    #[error(transparent)]
    Sft(#[from] crate::data::sft::SftError),
    #[error("needle.images: only {found} images of digit {digit}, needle.targets_per_class = {needed}; lower it or use a larger image set")]
    TooFewTargets { digit: usize, found: usize, needed: usize },
    #[error("needle_in_dna: the image tokens did not get consecutive ids; the base tokenizer already holds some [IMG_k] tokens: start from a model without image tokens")]
    ImageTokensNotConsecutive,
    #[error("needle.classifier tells digits {digits:?} apart; Needle-in-DNA with {classes} classes needs a classifier whose classes are 0, 1, …, {last}")]
    ClassifierClasses { digits: Vec<u8>, classes: usize, last: usize },
    #[error("needle_in_dna: {dropped} of {total} examples do not fit context {context} with 49 image tokens; lower needle.length_bp (now {length_bp})")]
    NeedleTooLong { dropped: usize, total: usize, context: usize, length_bp: usize },
    #[error("needle_in_dna: a {length_bp} bp prompt plus 50 generated tokens does not fit context {context}; lower needle.length_bp")]
    PromptTooLong { length_bp: usize, context: usize },
    #[error("dna2func: {id}: empty answer; every row needs answer text")]
    EmptyAnswer { id: String },
    #[error("dna2func: {id}: no DNA fits model.context = {context} with dna2func.max_answer_tokens = {max_answer_tokens}; lower them or set dna2func.truncation = \"dna_left\"")]
    NoDnaFits { id: String, context: usize, max_answer_tokens: usize },
    #[error("kind = \"dna2func\" needs dna2func.{key} = \"<table.parquet>\"")]
    Dna2funcTableUnset { key: &'static str },
    #[error(transparent)]
    Dna2TextTable(#[from] crate::data::dna2text::Dna2TextError),
    #[error("dna2func: every training example was dropped as too long for context {context}; lower dna2func.window_bp")]
    AllDropped { context: usize },
    #[error("mmidas: no pruning round finished")]
    NoRound,
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    #[error("single-modality views: {0}")]
    Knn(#[from] crate::graph::knn::KnnError),
    #[error(transparent)]
    Metric(#[from] crate::eval::clustering::MetricError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Images(#[from] crate::data::images::ImageError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    AddTokens(#[from] crate::tokenizer::expand::ExpandError),
    #[error(transparent)]
    TextTokenizer(#[from] crate::tokenizer::text::TextTokenizerError),
    #[error(transparent)]
    Expand(#[from] crate::model::expand::ExpandVocabError),
    #[error(transparent)]
    Generate(#[from] crate::model::generate::GenerateError),
    #[error(transparent)]
    Eval(#[from] crate::eval::classify::EvalError),
    #[error(transparent)]
    Inputs(#[from] crate::mmidas::InputError),
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error(transparent)]
    Train(#[from] super::trainer::TrainError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    #[error(transparent)]
    Precision(#[from] crate::model::precision::PrecisionUnsupported),
    #[error(transparent)]
    Log(#[from] crate::logging::LogError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A missing file's cause is printed once, as the message already holds it; a cause the
    /// message does not hold is appended.
    #[test]
    fn report_prints_each_cause_once() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = RunError::Read { path: "x/model-00002-of-00002.safetensors".into(), source: missing };
        let outer = anyhow::Error::new(e);
        assert_eq!(format!("{outer:#}").matches("os error 2").count(), 2, "the chain repeats the cause");
        assert_eq!(report(outer.as_ref()), "cannot read x/model-00002-of-00002.safetensors: No such file or directory (os error 2)");
        let wrapped = anyhow::Error::new(std::io::Error::other("inner")).context("outer");
        assert_eq!(report(wrapped.as_ref()), "outer: inner");
    }
}
