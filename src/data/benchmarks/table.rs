//! Sequence tables: TSV or CSV (optionally gzipped) with a header row, one example per row.
//!
//! Parsing (quoting, CRLF, blank lines, ragged rows) is the `csv` crate's; this module finds
//! the columns by name and checks every sequence and label.

use std::io::{BufRead, Cursor, Read};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, ErrorKind, ReaderBuilder, Trim};

use super::{clean_seq, open_text, BenchmarkError, LabelledSeq};

/// Field separator of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delimiter {
    /// Tab if the header line holds a tab, otherwise comma.
    #[default]
    Auto,
    Tab,
    Comma,
}

/// Which columns of a table hold what. Column names match case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TableSpec {
    /// Sequence column; `None` takes the first of `seq`, `sequence` found in the header.
    pub sequence_column: Option<String>,
    /// Label column.
    pub label_column: String,
    /// Column naming each row's task (NT: `task`); `None` gives every row [`Self::task`].
    pub task_column: Option<String>,
    /// Task of every row when there is no task column; `None` uses the file name without
    /// extensions (`test.tsv.gz` → `test`).
    pub task: Option<String>,
    /// Column with a row id (NT: `name`); `None` names rows `<file name>:<line>`.
    pub id_column: Option<String>,
    /// The allowed labels; a row with another label is an error. `None` accepts any label.
    pub labels: Option<Vec<String>>,
    /// Field separator.
    pub delimiter: Delimiter,
}

impl Default for TableSpec {
    fn default() -> Self {
        Self {
            sequence_column: None,
            label_column: "label".to_string(),
            task_column: None,
            task: None,
            id_column: None,
            labels: None,
            delimiter: Delimiter::Auto,
        }
    }
}

/// Read every row of a sequence table into [`LabelledSeq`]s, in file order.
///
/// Errors name file and line: a missing column (with the columns found), a ragged row, an
/// empty sequence or label, a character that is not a base (with its column and position),
/// and a label outside `spec.labels`.
pub fn read_table(path: &Path, spec: &TableSpec) -> Result<Vec<LabelledSeq>, BenchmarkError> {
    let mut table = Table::open(path, spec.delimiter)?;
    let seq_col = match &spec.sequence_column {
        Some(name) => table.column("sequence", &[name])?,
        None => table.column("sequence", &["seq", "sequence"])?,
    };
    let seq_name = table.header[seq_col].clone();
    let label_col = table.column("label", &[&spec.label_column])?;
    let task_col = match &spec.task_column {
        Some(name) => Some(table.column("task", &[name])?),
        None => None,
    };
    let id_col = match &spec.id_column {
        Some(name) => Some(table.column("id", &[name])?),
        None => None,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let default_task = spec.task.clone().unwrap_or_else(|| {
        let stem = file_name.strip_suffix(".gz").unwrap_or(&file_name);
        stem.split('.').next().unwrap_or(stem).to_string()
    });

    let mut examples = Vec::new();
    let mut row = ByteRecord::new();
    while let Some(line) = table.next_row(&mut row)? {
        let field = |i: usize| row.get(i).unwrap_or(b"");
        let text = |i: usize| String::from_utf8_lossy(field(i)).into_owned();
        let raw_seq = field(seq_col);
        if raw_seq.is_empty() {
            return Err(BenchmarkError::EmptySequence {
                path: path.into(),
                line,
            });
        }
        let seq = clean_seq(raw_seq).map_err(|bad| BenchmarkError::InvalidBase {
            path: path.into(),
            line,
            column: seq_name.clone(),
            position: bad.position,
            found: bad.found,
        })?;
        let label = text(label_col);
        let known = match &spec.labels {
            Some(allowed) => allowed.contains(&label),
            None => !label.is_empty(),
        };
        if !known {
            return Err(BenchmarkError::UnknownLabel {
                path: path.into(),
                line,
                label,
                allowed: spec.labels.clone().unwrap_or_default(),
            });
        }
        examples.push(LabelledSeq {
            id: id_col.map_or_else(|| format!("{file_name}:{line}"), text),
            seq,
            label,
            task: task_col.map_or_else(|| default_task.clone(), text),
        });
    }
    if examples.is_empty() {
        return Err(BenchmarkError::Empty { path: path.into() });
    }
    Ok(examples)
}

/// An open table positioned after its header row.
pub(super) struct Table {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read>>,
    /// Header fields, trimmed.
    pub(super) header: Vec<String>,
}

impl Table {
    /// Open `path` (plain or gzip) and read its header; an empty file is an error.
    pub(super) fn open(path: &Path, delimiter: Delimiter) -> Result<Self, BenchmarkError> {
        let mut text = open_text(path)?;
        let mut first_line = Vec::new();
        text.read_until(b'\n', &mut first_line)
            .map_err(|cause| BenchmarkError::Read {
                path: path.into(),
                line: 1,
                cause: cause.to_string(),
            })?;
        if first_line.iter().all(u8::is_ascii_whitespace) {
            return Err(BenchmarkError::Empty { path: path.into() });
        }
        let byte = match delimiter {
            Delimiter::Tab => b'\t',
            Delimiter::Comma => b',',
            Delimiter::Auto if first_line.contains(&b'\t') => b'\t',
            Delimiter::Auto => b',',
        };
        // Put the header line back in front so the csv reader's line numbers are the file's.
        let whole: Box<dyn Read> = Box::new(Cursor::new(first_line).chain(text));
        let mut reader = ReaderBuilder::new()
            .delimiter(byte)
            .trim(Trim::All)
            .from_reader(whole);
        let header = reader
            .byte_headers()
            .map_err(|e| csv_error(path, 1, e))?
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        Ok(Self {
            path: path.into(),
            reader,
            header,
        })
    }

    /// Index of the first header field equal (ignoring case) to one of `candidates`.
    pub(super) fn column(
        &self,
        role: &'static str,
        candidates: &[&str],
    ) -> Result<usize, BenchmarkError> {
        candidates
            .iter()
            .find_map(|want| {
                self.header
                    .iter()
                    .position(|have| have.eq_ignore_ascii_case(want.trim()))
            })
            .ok_or_else(|| BenchmarkError::MissingColumn {
                path: self.path.clone(),
                role,
                wanted: candidates
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                found: self.header.clone(),
            })
    }

    /// Read the next data row into `row`; returns its 1-based line, or `None` at the end.
    pub(super) fn next_row(&mut self, row: &mut ByteRecord) -> Result<Option<u64>, BenchmarkError> {
        let more = self
            .reader
            .read_byte_record(row)
            .map_err(|e| csv_error(&self.path, 0, e))?;
        Ok(more.then(|| row.position().map_or(0, |p| p.line())))
    }
}

/// Turn a `csv` error into ours, with the line the error reports (or `line_hint`).
fn csv_error(path: &Path, line_hint: u64, e: csv::Error) -> BenchmarkError {
    let line = e.position().map_or(line_hint, |p| p.line());
    match e.kind() {
        ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => BenchmarkError::Ragged {
            path: path.into(),
            line: pos.as_ref().map_or(line, |p| p.line()),
            expected: *expected_len,
            found: *len,
        },
        _ => BenchmarkError::Read {
            path: path.into(),
            line,
            cause: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{label_counts, shared_data};
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write table");
        path
    }

    #[test]
    fn reads_tsv_and_csv_with_default_and_named_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tsv = write(dir.path(), "a.tsv", "seq\tlabel\nacgt\t1\nGGNN\t0\n");
        let rows = read_table(&tsv, &TableSpec::default()).expect("tsv");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].seq, b"ACGT");
        assert_eq!(
            (rows[0].id.as_str(), rows[0].task.as_str()),
            ("a.tsv:2", "a")
        );
        assert_eq!(
            (rows[1].seq.as_slice(), rows[1].label.as_str()),
            (&b"GGNN"[..], "0")
        );

        let csv = write(
            dir.path(),
            "b.csv",
            "Name,DNA,class,Task\r\nx,AC,pos,t1\r\ny,GT,neg,t2\r\n",
        );
        let spec = TableSpec {
            sequence_column: Some("dna".into()),
            label_column: "class".into(),
            task_column: Some("task".into()),
            id_column: Some("name".into()),
            labels: Some(vec!["pos".into(), "neg".into()]),
            ..TableSpec::default()
        };
        let rows = read_table(&csv, &spec).expect("csv");
        assert_eq!(rows[1].id, "y");
        assert_eq!(rows[1].task, "t2");
        assert_eq!(rows[1].label, "neg");
    }

    #[test]
    fn errors_name_file_line_and_what_to_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: [(&str, &str, &str); 7] = [
            (
                "sequence\tclass\nACGT\t1\n",
                "'label'",
                "[\"sequence\", \"class\"]",
            ),
            ("seq\tlabel\nACGT\t1\n\t0\n", ":3:", "sequence is empty"),
            ("seq\tlabel\nACGT\t1\nACUG\t0\n", ":3:", "base 3: 'U'"),
            (
                "seq\tlabel\nACGT\t1\nACGT\t0\textra\n",
                ":3:",
                "has 3 fields",
            ),
            ("seq\tlabel\nACGT\t2\n", ":2:", "label '2'"),
            ("", "x.tsv", "no data rows"),
            ("seq\tlabel\n", "x.tsv", "no data rows"),
        ];
        let spec = TableSpec {
            labels: Some(vec!["0".into(), "1".into()]),
            ..TableSpec::default()
        };
        for (text, where_, what) in cases {
            let path = write(dir.path(), "x.tsv", text);
            let msg = read_table(&path, &spec).expect_err(text).to_string();
            assert!(
                msg.contains("x.tsv") && msg.contains(where_) && msg.contains(what),
                "{msg}"
            );
        }
        let path = write(dir.path(), "x.tsv", "seq\tlabel\nACGT\t\n");
        let err = read_table(&path, &TableSpec::default()).expect_err("empty label");
        assert!(
            matches!(err, BenchmarkError::UnknownLabel { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn reads_the_real_gb_nontata_promoter_test_split() {
        let Some(path) =
            shared_data("genomic_benchmarks/human_nontata_promoters/sequences/test.tsv.gz")
        else {
            return;
        };
        let spec = TableSpec {
            labels: Some(vec!["0".into(), "1".into()]),
            task: Some("human_nontata_promoters".into()),
            ..TableSpec::default()
        };
        let rows = read_table(&path, &spec).expect("nontata test");
        // Counts from the GB metadata table: 4,119 negative + 4,915 positive test intervals.
        assert_eq!(rows.len(), 9_034);
        let counts = label_counts(&rows);
        assert_eq!((counts["0"], counts["1"]), (4_119, 4_915));
        assert!(rows.iter().all(|r| r.seq.len() == 251));
        assert_eq!(rows[0].id, "test.tsv.gz:2");
        assert_eq!(&rows[0].seq[..10], b"GTATTCTCCC");
    }
}
