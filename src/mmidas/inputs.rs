//! Readers for per-modality gene embedding tables: `.npy`/`.npz` + ids file, safetensors + ids
//! file, parquet (id column + numeric or list columns), and CSV/TSV (optionally gzipped) with the id in the first column.
//!
//! Every reader checks sizes against the file length before allocating, then hands the rows to
//! [`finish`], which rejects empty tables, duplicate ids and non-finite values.

use std::collections::HashMap;
use std::fs::File;

use std::path::Path;

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
    let (ids, dim, values) = if name.ends_with(".npz") {
        let (rows, dim, values) = read_npz(path, None)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else if name.ends_with(".parquet") {
        read_parquet(path, None)?
    } else if name.ends_with(".npy") {
        let (rows, dim, values) = read_npy(path)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else if name.ends_with(".safetensors") {
        let (rows, dim, values) = read_safetensors(path)?;
        (read_ids_for(path, ids_path, rows)?, dim, values)
    } else {
        read_delimited(path)?
    };
    finish(path, modality, ids, dim, values)
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
        TableFormat::Delimited => read_delimited(path)?,
        TableFormat::Npz => {
            let (rows, dim, values) = read_npz(path, array)?;
            (read_ids_for(path, ids_path, rows)?, dim, values)
        }
        TableFormat::Parquet => read_parquet(path, array)?,
        TableFormat::MnistIdx => {
            return Err(format_err(path, "mnist_idx tables are read by mmidas::load_modalities (they need a view)"))
        }
    };
    finish(path, modality, ids, dim, values)
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
    Ok(EmbeddingTable { modality: modality.to_string(), ids, dim, values })
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
                "{} trailing bytes after the {expected} data bytes; the file may be corrupt",
                available - expected
            ),
        ));
    }
    Ok(())
}

/// One parquet value as a number, or `None` if it is not numeric.
fn parquet_number(field: &parquet::record::Field) -> Option<f32> {
    use parquet::record::Field as F;
    Some(match field {
        F::Float(v) => *v,
        F::Double(v) => *v as f32,
        F::Float16(v) => v.to_f32(),
        F::Int(v) => *v as f32,
        F::Long(v) => *v as f32,
        F::Short(v) => *v as f32,
        F::Byte(v) => *v as f32,
        F::UInt(v) => *v as f32,
        F::UShort(v) => *v as f32,
        F::UByte(v) => *v as f32,
        F::ULong(v) => *v as f32,
        F::Null => f32::NAN,
        _ => return None,
    })
}

/// Parquet with an id column (`id_column`, default the first) and either numeric columns or one
/// list-of-numbers column per row. Read with the row API (no arrow); fine for gene-sized tables.
fn read_parquet(path: &Path, id_column: Option<&str>) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    // The `parquet` crate panics on some malformed footers (see `crate::library_panic`).
    crate::library_panic::catch(|| read_parquet_rows(path, id_column)).unwrap_or_else(|message| {
        Err(format_err(path, format!("the parquet library failed on this file ({message}); it is not a readable parquet table")))
    })
}

fn read_parquet_rows(path: &Path, id_column: Option<&str>) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    use parquet::file::reader::SerializedFileReader;
    use parquet::record::Field as F;
    let file = File::open(path).map_err(io_err(path))?;
    let pq_err = |e: parquet::errors::ParquetError| format_err(path, format!("parquet: {e}"));
    let reader = SerializedFileReader::new(file).map_err(pq_err)?;
    let (mut ids, mut values, mut dim) = (Vec::new(), Vec::new(), None::<usize>);
    for (r, row) in reader.into_iter().enumerate() {
        let row = row.map_err(pq_err)?;
        let line = r as u64 + 1;
        let columns: Vec<(&String, &F)> = row.get_column_iter().collect();
        let id_at = match id_column {
            Some(name) => columns.iter().position(|(n, _)| n.as_str() == name).ok_or_else(|| {
                let have: Vec<&String> = columns.iter().map(|(n, _)| *n).collect();
                format_err(path, format!("no id column {name:?}; columns are {have:?}"))
            })?,
            None => 0,
        };
        let id = match columns.get(id_at).map(|c| c.1) {
            Some(F::Str(s)) => s.clone(),
            Some(F::Int(v)) => v.to_string(),
            Some(F::Long(v)) => v.to_string(),
            other => return Err(format_err(path, format!("row {line}: id column holds {other:?}, not a string or integer"))),
        };
        let before = values.len();
        for (c, (name, field)) in columns.iter().enumerate().filter(|(c, _)| *c != id_at) {
            let bad = || InputError::BadNumber { path: path.to_path_buf(), line, column: c + 1, value: format!("{name} = {field}") };
            match field {
                F::ListInternal(list) => {
                    for e in list.elements() {
                        values.push(parquet_number(e).ok_or_else(bad)?);
                    }
                }
                other => values.push(parquet_number(other).ok_or_else(bad)?),
            }
        }
        let found = values.len() - before;
        match dim {
            None => dim = Some(found),
            Some(expected) if expected != found => {
                return Err(InputError::Ragged { path: path.to_path_buf(), line, expected: expected + 1, found: found + 1 })
            }
            _ => {}
        }
        ids.push(id);
    }
    Ok((ids, dim.unwrap_or(0), values))
}

/// Safetensors file holding exactly one 2-D F32/F64/BF16/F16 tensor, read by the one
/// safetensors reader (`export::safetensors_file`, which validates the header first).
fn read_safetensors(path: &Path) -> Result<(usize, usize, Vec<f32>), InputError> {
    use crate::export::safetensors_file::{read_header, read_tensor};
    let fail = |e: crate::export::ImportError| match e {
        crate::export::ImportError::BadSafetensors { reason, .. } => format_err(path, format!("invalid safetensors file: {reason}")),
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

/// CSV/TSV with a header row; gzip detected by magic bytes, tab delimiter for `.tsv`/`.txt`.
fn read_delimited(path: &Path) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    let reader = crate::data::compressed::open_maybe_gz(path).map_err(io_err(path))?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let delimiter = if stem.ends_with(".tsv") || stem.ends_with(".txt") { b'\t' } else { b',' };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let csv_err = |e: csv::Error| format_err(path, format!("CSV: {e}"));
    let width = csv.headers().map_err(csv_err)?.len();
    if width < 2 {
        let dim = width.saturating_sub(1);
        return Err(InputError::Empty { path: path.to_path_buf(), rows: 0, dim });
    }
    let (mut ids, mut values) = (Vec::new(), Vec::new());
    for record in csv.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            let (expected, found) = (width, record.len());
            return Err(InputError::Ragged { path: path.to_path_buf(), line, expected, found });
        }
        ids.push(record[0].trim().to_string());
        for (column, field) in record.iter().enumerate().skip(1) {
            let v: f32 = field.trim().parse().map_err(|_| InputError::BadNumber {
                path: path.to_path_buf(),
                line,
                column: column + 1,
                value: field.to_string(),
            })?;
            values.push(v);
        }
    }
    Ok((ids, width - 1, values))
}

#[cfg(test)]
mod tests {
    use super::super::config::TableFormat;

    /// Found by `cargo fuzz run parquet` (fuzz/README.md): a footer the `parquet` crate's thrift
    /// decoder unwraps a missing field of. A typed error naming the file, not a crash.
    #[test]
    fn a_parquet_file_the_library_panics_on_is_a_typed_error() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/parquet_thrift_panic.parquet"));
        let err = super::read_table_as(path, None, "m", TableFormat::Parquet, None).expect_err("malformed footer");
        let msg = err.to_string();
        assert!(msg.contains("parquet_thrift_panic.parquet") && msg.contains("parquet library failed"), "{msg}");
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
