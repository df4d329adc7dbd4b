//! Parquet embedding tables: an id column and numeric or list-of-numbers columns, read with the
//! `parquet` crate's row API (no arrow), index columns recognised by [`super::columns`].

use std::path::Path;

use super::columns::{embedding_note, is_pandas_index_level, is_unnamed, pandas_index_columns};
use super::inputs::{format_err, io_err};
use super::InputError;

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

/// Parquet with an id column and either numeric columns or one list-of-numbers column per row.
/// Read with the row API (no arrow); fine for gene-sized tables. Columns are top-level fields,
/// looked up by name.
///
/// Index columns ([`super::columns`]: those the `pandas` metadata lists, any
/// `__index_level_<n>__`, and integer columns with no name or pandas' `Unnamed: <n>`, the CSV
/// index a `read_csv` → `to_parquet` round trip keeps) are never embedding values. The id column is `id_column` when given;
/// else a table's only index column when it is a named string column (pandas
/// `set_index("gene")`) or when the first other column is floating point (the ids are the
/// index); else the first column that is not an index column. Other index columns are skipped, and `notes` says so and which columns
/// became the embedding.
pub(super) fn read_parquet(path: &Path, id_column: Option<&str>, notes: &mut Vec<String>) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    // The `parquet` crate panics on some malformed footers (see `crate::library_panic`).
    crate::library_panic::catch(|| read_parquet_rows(path, id_column, notes)).unwrap_or_else(|message| {
        Err(format_err(path, format!("the parquet library failed on this file ({message}); it is not a readable parquet table")))
    })
}

fn read_parquet_rows(path: &Path, id_column: Option<&str>, notes: &mut Vec<String>) -> Result<(Vec<String>, usize, Vec<f32>), InputError> {
    use parquet::basic::Type as Physical;
    use crate::data::parquet_file::OpenError;
    use parquet::file::reader::FileReader;
    use parquet::record::Field as F;
    let pq_err = |e: parquet::errors::ParquetError| format_err(path, format!("parquet: {e}; check that the file is complete, or re-export it (e.g. `df.to_parquet`)"));
    let reader = crate::data::parquet_file::open(path).map_err(|e| match e {
        OpenError::Io(e) => io_err(path)(e),
        OpenError::Parquet(e) => pq_err(e),
        OpenError::Malformed(e) => format_err(path, e.to_string()),
    })?;
    let meta = reader.metadata().file_metadata();
    let pandas = meta.key_value_metadata().and_then(|kv| kv.iter().find(|k| k.key == "pandas")).and_then(|k| k.value.as_deref());
    let listed = pandas_index_columns(pandas).unwrap_or_default();
    let fields = meta.schema_descr().root_schema().get_fields().to_vec();
    let names: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    let primitive = |i: usize, kinds: &[Physical]| !fields[i].is_group() && kinds.contains(&fields[i].get_physical_type());
    let index: Vec<usize> = (0..names.len())
        .filter(|&i| {
            let unnamed_int = is_unnamed(&names[i]) && primitive(i, &[Physical::INT32, Physical::INT64]);
            listed.contains(&names[i]) || is_pandas_index_level(&names[i]) || unnamed_int
        })
        .collect();
    let first_data = (0..names.len()).find(|i| !index.contains(i));
    let id_at = match id_column {
        Some(name) => names.iter().position(|n| n == name).ok_or_else(|| format_err(path, format!("no id column {name:?}; columns are {names:?}")))?,
        None => {
            let float_first = first_data.is_some_and(|i| primitive(i, &[Physical::FLOAT, Physical::DOUBLE]));
            match index[..] {
                [only] if float_first || (!is_pandas_index_level(&names[only]) && primitive(only, &[Physical::BYTE_ARRAY])) => only,
                _ => first_data.ok_or_else(|| format_err(path, format!("every column ({names:?}) is a pandas index column; no id or value column is left")))?,
            }
        }
    };
    let skipped: Vec<(String, &str)> = index.iter().filter(|&&i| i != id_at).map(|&i| (names[i].clone(), "index column, not data")).collect();
    let value_at: Vec<usize> = (0..names.len()).filter(|i| *i != id_at && !index.contains(i)).collect();
    let (mut ids, mut values, mut dim) = (Vec::new(), Vec::new(), None::<usize>);
    for (r, row) in reader.into_iter().enumerate() {
        let row = row.map_err(pq_err)?;
        let line = r as u64 + 1;
        let columns: Vec<&F> = row.get_column_iter().map(|(_, f)| f).collect();
        if columns.len() != names.len() {
            return Err(format_err(path, format!("row {line} has {} fields but the schema has {} columns", columns.len(), names.len())));
        }
        let id = match columns[id_at] {
            F::Str(s) => s.clone(),
            F::Int(v) => v.to_string(),
            F::Long(v) => v.to_string(),
            other => {
                let msg = format!("row {line}: id column `{}` holds {other:?}, not a string or integer; name the id column (`array`)", names[id_at]);
                return Err(format_err(path, msg));
            }
        };
        let before = values.len();
        for &c in &value_at {
            let (name, field) = (&names[c], columns[c]);
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
    let value_names: Vec<String> = value_at.iter().map(|&i| names[i].clone()).collect();
    notes.push(embedding_note(path, &names[id_at], &value_names, dim.unwrap_or(0), &skipped));
    Ok((ids, dim.unwrap_or(0), values))
}
