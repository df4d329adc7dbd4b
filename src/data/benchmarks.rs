//! Labelled DNA benchmarks: sequence tables, Genomic Benchmarks interval sets, the Nucleotide
//! Transformer downstream tasks, and deterministic (optionally stratified) splits.
//!
//! Every reader returns [`LabelledSeq`]s with upper-case bases and string labels; the label set
//! of a task and the metric it is scored with live beside the readers ([`NT_TASKS`],
//! [`GB_METRIC`]).
//!
//! - [`read_table`]: TSV/CSV (optionally gzipped) with a sequence and a label column.
//! - [`read_gb_intervals`]: Genomic Benchmarks `<dataset>/<split>/<class>.csv.gz` intervals cut
//!   out of a reference FASTA ([`Reference`]); [`read_gb_cache`]: the download-cache layout
//!   `<dataset>/<split>/<class>/<n>.txt`, one sequence per file.
//! - [`read_nt`]: NT downstream tables (`sequence, name, label, task`), one task or several.
//! - [`split_by_seed`], [`stratified_split`]: reproducible train/valid/test index sets.

mod gb_cache;
mod intervals;
mod nt;
mod split;
mod table;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub use gb_cache::{is_gb_cache, read_gb_cache};
pub use intervals::{
    read_gb_intervals, GbOptions, GbStats, Placement, Reference, ReferenceSpec, Strand,
};
pub use nt::{nt_metric, read_nt, GB_METRIC, GB_TASKS, NT_TASKS};
pub use split::{split_by_seed, stratified_split};
pub use table::{read_table, Delimiter, TableSpec};

use super::fasta::describe_byte;
use super::DataError;

/// One labelled example of a classification benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledSeq {
    /// Row id from the file (GB `id`, NT `name`), or `<file name>:<line>` when it has none.
    pub id: String,
    /// Upper-case bases: `ACGT`, and `N` for any IUPAC ambiguity code.
    pub seq: Vec<u8>,
    /// Class label exactly as written in the file (trimmed), e.g. `1` or `positive`.
    pub label: String,
    /// Task the example belongs to (NT task name, GB dataset name, or the table's task).
    pub task: String,
}

/// How many examples carry each label, in label order.
pub fn label_counts(examples: &[LabelledSeq]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for example in examples {
        *counts.entry(example.label.clone()).or_insert(0) += 1;
    }
    counts
}

/// Errors from reading benchmark files. Lines are 1-based; the header is line 1.
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    #[error("cannot open benchmark file {path}: {cause}; check the path (relative paths start at the working directory)")]
    Open {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A compression gfm does not read, or UTF-16 text (the cause names the file and the fix).
    #[error("{cause}")]
    Unreadable { cause: std::io::Error },
    #[error("cannot read {path} near line {line}: {cause}; check that the file is complete (a truncated .gz fails here) and is CSV or TSV text")]
    Read {
        path: PathBuf,
        line: u64,
        cause: String,
    },
    #[error(
        "{path}: no data rows; a benchmark table needs a header row and at least one data row"
    )]
    Empty { path: PathBuf },
    #[error("{path}:1: no {role} column named {wanted}; the header has {found:?}; name the column in the table spec or fix the header")]
    MissingColumn {
        path: PathBuf,
        role: &'static str,
        wanted: String,
        found: Vec<String>,
    },
    #[error("{path}:{line}: the row has {found} fields but the header has {expected}; every row needs one value per column (check for a stray delimiter or a missing value)")]
    Ragged {
        path: PathBuf,
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("{path}:{line}: the sequence is empty; remove the row or fill in its bases")]
    EmptySequence { path: PathBuf, line: u64 },
    #[error("{path}:{line}: column '{column}', base {position}: {found} is not a DNA base; allowed are A C G T and the IUPAC codes N R Y S W K M B D H V (either case), so remove gaps, spaces and RNA 'U'")]
    InvalidBase {
        path: PathBuf,
        line: u64,
        column: String,
        position: usize,
        found: String,
    },
    #[error("{path}:{line}: label '{label}' is not one of the declared labels {allowed:?}; fix the row or add the label to the spec's `labels`")]
    UnknownLabel {
        path: PathBuf,
        line: u64,
        label: String,
        allowed: Vec<String>,
    },
    #[error("{path} has no `task` column, so it holds one Nucleotide Transformer task, but {asked:?} were asked for; give each task its own [[tasks]] entry (nt_task), or use the revised file with a `task` column")]
    SingleTaskFile { path: PathBuf, asked: Vec<String> },
    #[error("{path}:1: no {role} column; the header has {found:?}, but a Nucleotide Transformer file has the columns sequence, name, label (and task when it holds several tasks); for other columns use format = \"table\"")]
    NtColumn { path: PathBuf, role: &'static str, found: Vec<String> },
    #[error("{path}: task '{task}' has no rows; the file holds the tasks {found:?}: set nt_task to one of them, or point `path` at the file that holds '{task}'")]
    UnknownTask {
        path: PathBuf,
        task: String,
        found: Vec<String>,
    },
    #[error("{dir}: no split directory '{split}'; the dataset has {found:?} (Genomic Benchmarks datasets have 'train' and 'test'); point `path` at the dataset folder that holds them")]
    MissingSplit {
        dir: PathBuf,
        split: String,
        found: Vec<String>,
    },
    #[error("{dir}: no classes: a Genomic Benchmarks split holds either class files <class>.csv.gz (the interval layout, read with a reference FASTA) or class folders <class>/<n>.txt (the download-cache layout, e.g. ~/.genomic_benchmarks/human_nontata_promoters); point `path` at the dataset folder that holds train/ and test/")]
    NoClassFiles { dir: PathBuf },
    #[error("{path}:{line}: {problem}; Genomic Benchmarks intervals are id,region,start,end,strand with 0-based start, exclusive end and strand '+', '-' or empty")]
    BadInterval {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("{path}:{line}: region '{region}' is not in the reference {reference} (it has {available}); use the reference named in the dataset's metadata.yaml, add a placement for the record, or set skip_missing = true")]
    MissingRegion {
        path: PathBuf,
        line: u64,
        region: String,
        reference: PathBuf,
        available: String,
    },
    #[error("{path}:{line}: interval {region}:{start}-{end} is outside the reference, which covers {region}:{covered_start}-{covered_end} (0-based, end-exclusive); use the assembly the dataset was made from (GB human sets: Ensembl GRCh38), correct the record's region_offset, or set skip_missing = true")]
    OutOfRange {
        path: PathBuf,
        line: u64,
        region: String,
        start: u64,
        end: u64,
        covered_start: u64,
        covered_end: u64,
    },
    #[error("{path}: records '{first}' and '{second}' both name region '{region}' (a 'chr' prefix is ignored); keep one or place them under different regions")]
    DuplicateRegion {
        path: PathBuf,
        region: String,
        first: String,
        second: String,
    },
    #[error("{path}: a placement names record '{record}', which the FASTA does not hold; its records are {found:?}")]
    UnknownRecord {
        path: PathBuf,
        record: String,
        found: Vec<String>,
    },
    #[error("split fractions {fractions:?} are invalid: each must be a finite number >= 0 and together at most 1 (e.g. [0.8, 0.1, 0.1])")]
    BadFractions { fractions: Vec<f64> },
    #[error("reference FASTA: {0}")]
    Reference(#[from] DataError),
}

/// Open a text file that may be gzip-compressed (by content: `data::compressed::open_text`,
/// which also skips a UTF-8 byte-order mark and reads CR-only line ends).
fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>, BenchmarkError> {
    super::compressed::open_text(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::InvalidData => BenchmarkError::Unreadable { cause },
        _ => BenchmarkError::Open { path: path.into(), cause },
    })
}

/// A character that is not a base: its 1-based position in the sequence and a description.
struct BadBase {
    position: usize,
    found: String,
}

/// Upper-case a sequence; IUPAC ambiguity codes become `N`. Hand-written (a dozen lines) to
/// apply the same alphabet as `read_fasta` and report the exact position of a bad character.
fn clean_seq(raw: &[u8]) -> Result<Vec<u8>, BadBase> {
    raw.iter()
        .enumerate()
        .map(|(i, &b)| match b.to_ascii_uppercase() {
            up @ (b'A' | b'C' | b'G' | b'T') => Ok(up),
            b'N' | b'R' | b'Y' | b'S' | b'W' | b'K' | b'M' | b'B' | b'D' | b'H' | b'V' => Ok(b'N'),
            _ => Err(BadBase {
                position: i + 1,
                found: describe_byte(b),
            }),
        })
        .collect()
}

/// Reverse complement of upper-case `ACGTN` (anything else maps to `N`).
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|&b| match b {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            _ => b'N',
        })
        .collect()
}

/// `../shared/data/<rel>` beside the crate, or `None` with a printed notice when absent.
#[cfg(test)]
fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        println!(
            "SKIPPED: {} is missing, real-data test not run",
            path.display()
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::{Read, Write};

    #[test]
    fn gzip_is_sniffed_by_magic_bytes_not_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gz_named_plain = dir.path().join("x.tsv");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&gz_named_plain).expect("create"),
            flate2::Compression::default(),
        );
        gz.write_all(b"seq\tlabel\nACGT\t1\n").expect("gzip");
        gz.finish().expect("finish");
        let mut text = String::new();
        open_text(&gz_named_plain)
            .expect("open")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "seq\tlabel\nACGT\t1\n");
    }

    #[test]
    fn bases_are_upper_cased_and_ambiguity_codes_become_n() {
        assert_eq!(clean_seq(b"acgtNryk").ok(), Some(b"ACGTNNNN".to_vec()));
        let bad = clean_seq(b"ACGU").expect_err("U is not DNA");
        assert_eq!((bad.position, bad.found.as_str()), (4, "'U'"));
        assert_eq!(reverse_complement(b"AACGTN"), b"NACGTT");
    }
}
