//! Readers for per-modality gene embedding tables: `.npy`/`.npz` + ids file, safetensors + ids
//! file, parquet (id column + numeric or list columns, in `parquet_table.rs`), and CSV/TSV
//! (optionally gzipped) with the id in the first column. Index columns that dataframe libraries
//! write are recognised and skipped (`columns.rs`); each table's notes say which columns became
//! the embedding.
//!
//! Every reader checks sizes against the file length before allocating, then hands the rows to
//! [`finish`], which rejects empty tables, duplicate ids and non-finite values.

use std::collections::HashMap;
use std::path::Path;

use super::columns::{delimiter_name, embedding_note, is_pandas_index_level, is_unnamed, sniff_delimiter};
use super::parquet_table::read_parquet;
use super::config::TableFormat;
use super::npy::{read_npy, read_npz};
use super::{EmbeddingTable, InputError};

/// Read one modality's table. `.npy` and `.safetensors` need `ids_path` (one id per line, in row
/// order); anything else is read as CSV/TSV with a header row and the id in the first column.
pub fn read_table(
    path: &Path,
    ids_path: Option<&Path>,
    modality: &str,
) -> Result<EmbeddingTable, InputError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut notes = Vec::new();
    let (ids, dim, values) = if name.ends_with(".npz") {
        let (rows, dim, values) = read_npz(path, None)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else if name.ends_with(".parquet") {
        read_parquet(path, None, &mut notes)?
    } else if name.ends_with(".npy") {
        let (rows, dim, values) = read_npy(path)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else if name.ends_with(".safetensors") {
        let (rows, dim, values) = read_safetensors(path)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else {
        read_delimited(path, &mut notes)?
    };
    finish(path, modality, ids, dim, values, notes)
}

/// Read one modality's table in an explicit format (`Auto`: by extension, as [`read_table`]).
/// `array` names the `.npz` member or the parquet id column.
pub fn read_table_as(
    path: &Path,
    ids_path: Option<&Path>,
    modality: &str,
    format: TableFormat,
    array: Option<&str>,
) -> Result<EmbeddingTable, InputError> {
    let mut notes = Vec::new();
    let (ids, dim, values) = match format {
        TableFormat::Auto => return read_table(path, ids_path, modality),
        TableFormat::Npy => {
            let (rows, dim, values) = read_npy(path)?;
            (read_ids_for(path, ids_path, rows)?, dim, values)
        }
        TableFormat::Safetensors => {
            let (rows, dim, values) = read_safetensors(path)?;
            (read_ids_for(path, ids_path, rows)?, dim, values)
        }
        TableFormat::Delimited => read_delimited(path, &mut notes)?,
        TableFormat::Npz => {
            let (rows, dim, values) = read_npz(path, array)?;
            (read_ids_for(path, ids_path, rows)?, dim, values)
        }
        TableFormat::Parquet => read_parquet(path, array, &mut notes)?,
        TableFormat::MnistIdx => {
            return Err(format_err(path, "mnist_idx tables are read by mmidas::load_modalities (they need a view)"))
        }
    };
    finish(path, modality, ids, dim, values, notes)
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InputError + '_ {
    move |source| InputError::Io { path: path.to_path_buf(), source }
}

pub(super) fn truncated(path: &Path, expected: u64, found: u64) -> InputError {
    InputError::Truncated { path: path.to_path_buf(), expected, found }
}

pub(super) fn format_err(path: &Path, reason: impl Into<String>) -> InputError {
    InputError::Format { path: path.to_path_buf(), reason: reason.into() }
}

/// Validate the assembled table: non-empty, unique ids, finite values.
fn finish(
    path: &Path,
    modality: &str,
    ids: Vec<String>,
    dim: usize,
    values: Vec<f32>,
    notes: Vec<String>,
) -> Result<EmbeddingTable, InputError> {
    if ids.is_empty() || dim == 0 {
        return Err(InputError::Empty { path: path.to_path_buf(), rows: ids.len(), dim });
    }
    debug_assert_eq!(values.len(), ids.len() * dim);
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), row) {
            return Err(InputError::DuplicateId {
                path: path.to_path_buf(),
                id: id.clone(),
                first_row: first + 1,
                second_row: row + 1,
            });
        }
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(InputError::NonFinite {
            path: path.to_path_buf(),
            row: i / dim + 1,
            column: i % dim + 1,
            id: ids[i / dim].clone(),
            value: values[i],
        });
    }
    Ok(EmbeddingTable { modality: modality.to_string(), ids, dim, values, notes })
}

/// Ids file for a matrix format: one id per line, blank lines ignored, count must match `rows`.
fn read_ids_for(
    path: &Path,
    ids_path: Option<&Path>,
    rows: usize,
) -> Result<Vec<String>, InputError> {
    let Some(ids_path) = ids_path else {
        return Err(format_err(
            path,
            "this matrix format carries no gene ids; \
             pass an ids file (one id per line, in row order)",
        ));
    };
    let text = std::fs::read_to_string(ids_path).map_err(io_err(ids_path))?;
    let ids: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if ids.len() != rows {
        return Err(InputError::IdCount {
            path: path.to_path_buf(),
            ids_path: ids_path.to_path_buf(),
            ids: ids.len(),
            rows,
        });
    }
    Ok(ids)
}

/// Bytes the data section must hold, or an error if the shape overflows.
pub(super) fn data_bytes(path: &Path, rows: usize, dim: usize, item: usize) -> Result<u64, InputError> {
    rows.checked_mul(dim)
        .and_then(|n| n.checked_mul(item))
        .map(|n| n as u64)
        .ok_or_else(|| format_err(path, format!("shape ({rows}, {dim}) overflows")))
}

pub(super) fn check_size(path: &Path, expected: u64, available: u64) -> Result<(), InputError> {
    if available < expected {
        return Err(InputError::Truncated { path: path.to_path_buf(), expected, found: available });
    }
    if available > expected {
        return Err(format_err(
            path,
            format!(
                "{} trailing bytes after the {expected} data bytes; the file may be corrupt; re-export it",
                available - expected
            ),
        ));
    }
    Ok(())
}

/// Safetensors file holding exactly one 2-D F32/F64/BF16/F16 tensor, read by the one
/// safetensors reader (`export::safetensors_file`, which validates the header first).
fn read_safetensors(path: &Path) -> Result<(usize, usize, Vec<f32>), InputError> {
    use crate::export::safetensors_file::{read_header, read_tensor};
    let fail = |e: crate::export::ImportError| match e {
        crate::export::ImportError::BadSafetensors { reason, .. } => format_err(path, format!("invalid safetensors file: {reason}; re-export it (one (genes, dim) tensor, e.g. safetensors.numpy.save_file)")),
        other => format_err(path, other.to_string()),
    };
    let header = read_header(path).map_err(fail)?;
    let tensors: Vec<_> = header.iter().collect();
    let [(name, info)] = tensors[..] else {
        let names: Vec<&String> = tensors.iter().map(|(k, _)| *k).collect();
        let msg = format!("expected one tensor, found {names:?}; save one (genes, dim) matrix");
        return Err(format_err(path, msg));
    };
    if !["F32", "F64", "BF16", "F16"].contains(&info.dtype.as_str()) {
        return Err(format_err(path, format!("tensor {name:?} has dtype {:?}; use F32, F64, BF16 or F16", info.dtype)));
    }
    let [rows, dim] = info.shape[..] else {
        let msg = format!("tensor {name:?} has shape {:?}; it must be 2-D (genes, dim)", info.shape);
        return Err(format_err(path, msg));
    };
    let tensor = read_tensor(name, info).map_err(fail)?;
    Ok((rows, dim, tensor.data))
}

/// CSV/TSV with a header row; gzip detected by magic bytes. The delimiter is tab for
/// `.tsv`/`.txt` and comma otherwise, unless the header holds none of it and holds tabs, commas
/// or semicolons ([`sniff_delimiter`]): then the sniffed one is used and `notes` says so.
///
/// The id is the first column, except that a first column with no name (empty or pandas'
/// `Unnamed: <n>`) whose every value is an integer, followed by a column that is not all
/// numbers, is the index pandas' `to_csv` writes beside the ids: it is skipped and the id is the
/// next column (with only numbers after it, the index is the only id and stays the id).
/// `__index_level_<n>__` columns are skipped too.
fn read_delimited(path: &Path, notes: &mut Vec<String>) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, crate::data::compressed::open_text(path).map_err(io_err(path))?);
    let name = path.to_string_lossy().to_ascii_lowercase();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let expected = if stem.ends_with(".tsv") || stem.ends_with(".txt") { b'\t' } else { b',' };
    let head = reader.fill_buf().map_err(io_err(path))?;
    if head.is_empty() {
        return Err(InputError::Empty { path: path.to_path_buf(), rows: 0, dim: 0 });
    }
    let header: String = String::from_utf8_lossy(head.split(|&b| b == b'\n').next().unwrap_or(head)).chars().take(80).collect();
    let Some(delimiter) = sniff_delimiter(head, expected) else {
        let rows = head.iter().filter(|&&b| b == b'\n').count();
        let msg = format!(
            "the header {header:?} holds no tab, comma or semicolon, so the table has one column; an embedding table is a header \
             and rows of `id,value,value,…` (comma for .csv, tab for .tsv/.txt){}",
            if rows == 0 { " (no line break was found either: is this a text table?)" } else { "" }
        );
        return Err(format_err(path, msg));
    };
    if delimiter != expected {
        let (found, wanted) = (delimiter_name(delimiter), delimiter_name(expected));
        notes.push(format!("{}: read as {found}-separated: its header {header:?} holds no {wanted} (the delimiter its name implies)", path.display()));
    }
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(reader);
    let csv_err = |e: csv::Error| format_err(path, format!("CSV: {e}"));
    let names: Vec<String> = csv.headers().map_err(csv_err)?.iter().map(|h| h.trim().to_string()).collect();
    let width = names.len();
    let mut records = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            let (expected, found) = (width, record.len());
            return Err(InputError::Ragged { path: path.to_path_buf(), line, expected, found });
        }
        records.push(record);
    }
    let integer_column = |c: usize| !records.is_empty() && records.iter().all(|r| r[c].trim().parse::<i64>().is_ok());
    let numeric_column = |c: usize| records.iter().all(|r| r[c].trim().parse::<f32>().is_ok());
    // The unnamed integer index is skipped only when the next column can hold the ids.
    let csv_index = width > 2 && is_unnamed(&names[0]) && integer_column(0) && !numeric_column(1);
    let skip: Vec<usize> = (0..width).filter(|&c| is_pandas_index_level(&names[c]) || (c == 0 && csv_index)).collect();
    let Some(id_at) = (0..width).find(|c| !skip.contains(c)) else {
        return Err(InputError::Empty { path: path.to_path_buf(), rows: records.len(), dim: 0 });
    };
    let value_at: Vec<usize> = (id_at + 1..width).filter(|c| !skip.contains(c)).collect();
    if value_at.is_empty() {
        return Err(InputError::Empty { path: path.to_path_buf(), rows: records.len(), dim: 0 });
    }
    let (mut ids, mut values) = (Vec::new(), Vec::with_capacity(records.len() * value_at.len()));
    for record in &records {
        let line = record.position().map_or(0, |p| p.line());
        ids.push(record[id_at].trim().to_string());
        for &column in &value_at {
            let field = &record[column];
            let v: f32 = field.trim().parse().map_err(|_| InputError::BadNumber {
                path: path.to_path_buf(),
                line,
                column: column + 1,
                value: field.to_string(),
            })?;
            values.push(v);
        }
    }
    let skipped: Vec<(String, &str)> = skip.iter().map(|&c| (names[c].clone(), "unnamed integer index column, as pandas to_csv writes it")).collect();
    let value_names: Vec<String> = value_at.iter().map(|&c| names[c].clone()).collect();
    let id_name = if names[id_at].is_empty() { format!("{}", id_at + 1) } else { names[id_at].clone() };
    notes.push(embedding_note(path, &id_name, &value_names, value_at.len(), &skipped));
    Ok((ids, value_at.len(), values))
}

#[cfg(test)]
mod tests {
    use super::super::config::TableFormat;

    /// Found by `cargo fuzz run parquet` (fuzz/README.md): a footer the `parquet` crate's thrift
    /// decoder unwraps a missing field of. The walk of `data::parquet_file` now refuses it
    /// before the crate sees it. A panic the walk does not foresee, such as the crate's assert
    /// on a negative column chunk offset, is still a typed error naming the file, not a crash.
    #[test]
    fn a_parquet_file_the_library_panics_on_is_a_typed_error() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/parquet_thrift_panic.parquet"));
        let err = super::read_table_as(path, None, "m", TableFormat::Parquet, None).expect_err("malformed footer");
        let msg = err.to_string();
        assert!(msg.contains("parquet_thrift_panic.parquet") && msg.contains("footer (file metadata) is malformed"), "{msg}");
        // columns.parquet (pyarrow) with the first column's dictionary_page_offset, 4 (zigzag
        // byte 0x08 at file byte 365), made -4 (0x07).
        let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mmidas/columns.parquet")).expect("fixture");
        assert_eq!(bytes[365], 0x08);
        bytes[365] = 0x07;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("negative.parquet");
        std::fs::write(&path, bytes).expect("write");
        let err = super::read_table_as(&path, None, "m", TableFormat::Parquet, None).expect_err("negative offset");
        let msg = err.to_string();
        assert!(msg.contains("negative.parquet") && msg.contains("parquet library failed"), "{msg}");
    }

    /// Found by `cargo fuzz run parquet`: thrift lists of booleans that `parquet` 57.3.2 skips
    /// for ever, in the footer and in a page header (`data::parquet_file`). Refused in
    /// milliseconds with a message naming the file and the fix.
    #[test]
    fn a_parquet_file_the_library_would_hang_on_is_refused_quickly() {
        let read = |path: &std::path::Path| super::read_table_as(path, None, "m", TableFormat::Parquet, None).map(drop);
        for err in crate::data::parquet_file::refuse_both_hangs(read) {
            assert!(err.to_string().contains("df.to_parquet(...)"), "{err}");
        }
    }

    use super::super::npy::npy_field;

    #[test]
    fn npy_field_reads_strings_bools_and_tuples() {
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
        assert_eq!(npy_field(h, "descr").as_deref(), Some("'<f4'"));
        assert_eq!(npy_field(h, "fortran_order").as_deref(), Some("False"));
        assert_eq!(npy_field(h, "shape").as_deref(), Some("(3, 2)"));
        assert_eq!(npy_field(h, "missing"), None);
    }
}
