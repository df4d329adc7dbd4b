//! Data: FASTA reading with an ambiguity policy, token windows, deterministic splits and
//! per-epoch shuffles.
//!
//! Pretraining data flows `read_fasta` → `make_windows` → `split_train_valid` →
//! `epoch_permutation` (each epoch visits the training windows in a fresh, reproducible order).

pub mod benchmarks;
pub mod compressed;
pub mod dna2text;
pub mod fasta;
pub mod folder;
pub mod needle;
pub mod parquet_file;
pub mod images;
pub mod sft;
pub mod windows;

use std::path::PathBuf;

pub use fasta::{read_fasta, AmbiguityPolicy, DnaRecord, FastaStats};
pub use windows::{epoch_permutation, make_windows, split_train_valid, ENCODE_CHUNK_BP};

use crate::tokenizer::TokenizerError;

/// Errors from reading sequence files and building training windows.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot open sequence file {path}: {cause}; check the path (relative paths start at the working directory)")]
    Open {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A compression gfm does not read, or UTF-16 text (the cause names the file and the fix).
    #[error("{cause}")]
    Unreadable { cause: std::io::Error },
    #[error("{path} holds no FASTA records (the file is empty); point to a FASTA file (.fa, .fa.gz) with at least one '>' record")]
    NoRecords { path: PathBuf },
    #[error("{path} is not a readable FASTA file: {cause}; check that the file is complete (a truncated .gz fails here) and is FASTA or FASTQ text, records starting with '>' (or '@')")]
    Parse {
        path: PathBuf,
        cause: needletail::errors::ParseError,
    },
    #[error("{path}:{line}: record '{record}' has no bases; remove the empty record")]
    EmptyRecord {
        path: PathBuf,
        record: String,
        line: u64,
    },
    #[error("{path}:{line}:{column}: record '{record}' contains {found}, which is not a DNA base; allowed are A C G T and the IUPAC ambiguity codes N R Y S W K M B D H V (either case), so remove gaps ('-', '.'), stop signs ('*'), digits and RNA 'U' first")]
    InvalidBase {
        path: PathBuf,
        record: String,
        line: u64,
        column: u64,
        found: String,
    },
    #[error("{path}: no sequence is left out of {records_read} records ({records_dropped} dropped for ambiguous bases, {too_short_dropped} pieces shorter than min_len = {min_len}); lower min_len or use ambiguity = \"split\" or \"unk\"")]
    NothingKept {
        path: PathBuf,
        records_read: usize,
        records_dropped: usize,
        too_short_dropped: usize,
        min_len: usize,
    },
    #[error("context = {context} tokens is too small: a window needs [CLS], at least one token and [SEP], so use context >= 3")]
    ContextTooSmall { context: usize },
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}
