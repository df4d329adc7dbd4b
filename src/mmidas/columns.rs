//! Which columns of an embedding table are data: the row index that dataframe libraries write
//! beside the data is recognised by name and metadata, never read as an embedding dimension,
//! and the delimiter of a text table is sniffed from its header.
//!
//! The rules, each from the writer's own convention:
//! - pandas `DataFrame.to_parquet` stores every index that is not a plain `RangeIndex` as a
//!   column and lists it in the `index_columns` of the `pandas` key of the parquet metadata: an
//!   unnamed level is called `__index_level_<n>__`, a named one keeps its name (pandas
//!   `io/parquet.py`, pyarrow `pandas_compat.py`, `_index_level_name`).
//! - pandas `DataFrame.to_csv` writes the index as the first column with an empty header (or its
//!   name); read back and written again it becomes `Unnamed: 0` (pandas `read_csv` names
//!   unnamed columns `Unnamed: <position>`).
//! - polars and pyarrow write no index column and no `pandas` metadata.

use std::path::Path;

/// `__index_level_<n>__`: the name pandas gives an unnamed index level in parquet.
pub(super) fn is_pandas_index_level(name: &str) -> bool {
    name.strip_prefix("__index_level_")
        .and_then(|rest| rest.strip_suffix("__"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An empty header or pandas' `Unnamed: <n>`: a column written without a name.
pub(super) fn is_unnamed(name: &str) -> bool {
    let name = name.trim();
    name.is_empty()
        || name.strip_prefix("Unnamed: ").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The column names listed as index columns in a parquet file's `pandas` metadata (JSON), in
/// order; a `RangeIndex` (stored as `{"kind": "range", ...}`, not as a column) is left out.
/// `None` when the metadata is absent or not the pandas layout.
pub(super) fn pandas_index_columns(metadata: Option<&str>) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(metadata?).ok()?;
    let columns = value.get("index_columns")?.as_array()?;
    Some(columns.iter().filter_map(|c| c.as_str().map(String::from)).collect())
}

/// The note that says which columns became the embedding: `dim` values per row from `names`
/// (in order), the id column and any skipped columns with why.
pub(super) fn embedding_note(path: &Path, id: &str, names: &[String], dim: usize, skipped: &[(String, &str)]) -> String {
    let file = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let columns = match names {
        [] => "no columns".to_string(),
        [one] => format!("column `{one}`"),
        [first, .., last] => format!("{} columns `{first}` … `{last}`", names.len()),
    };
    let mut note = format!("{file}: ids from column `{id}`; embedding of {dim} values from {columns}");
    for (name, why) in skipped {
        note.push_str(&format!("; skipped column `{name}` ({why})"));
    }
    note
}

/// The delimiter of a CSV/TSV header line: `expected` (from the file name) when the header holds
/// it, else whichever of tab, comma and semicolon it holds most. `None` when it holds none.
pub(super) fn sniff_delimiter(header: &[u8], expected: u8) -> Option<u8> {
    let line = header.split(|&b| b == b'\n').next().unwrap_or(header);
    let count = |d: u8| line.iter().filter(|&&b| b == d).count();
    if count(expected) > 0 {
        return Some(expected);
    }
    [b'\t', b',', b';'].into_iter().filter(|&d| count(d) > 0).max_by_key(|&d| count(d))
}

/// A delimiter for messages: `tab`, `','`.
pub(super) fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        other => format!("'{}'", char::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_follow_pandas() {
        assert!(is_pandas_index_level("__index_level_0__") && is_pandas_index_level("__index_level_12__"));
        assert!(!is_pandas_index_level("__index_level___") && !is_pandas_index_level("index"));
        assert!(is_unnamed("") && is_unnamed("Unnamed: 0") && !is_unnamed("Unnamed: x") && !is_unnamed("gene"));
        let meta = r#"{"index_columns": ["__index_level_0__", {"kind": "range", "start": 0}], "columns": []}"#;
        assert_eq!(pandas_index_columns(Some(meta)), Some(vec!["__index_level_0__".to_string()]));
        assert_eq!(pandas_index_columns(Some("not json")), None);
        assert_eq!(pandas_index_columns(None), None);
    }

    /// A parquet table as pandas writes it: string and DOUBLE columns named `names` (a name
    /// starting `__index` or listed in `index` is written as INT64 row numbers 10, 20, …), the
    /// `pandas` metadata listing `index`, three rows.
    fn write_pandas_parquet(path: &Path, names: &[&str], index: &[&str]) {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::file::metadata::KeyValue;
        let is_int = |n: &str| n.starts_with("__index") || n.starts_with("Unnamed") || (index.contains(&n) && n != "gene");
        use parquet::basic::{ConvertedType, Repetition, Type as Physical};
        use parquet::schema::types::Type;
        // Built field by field: the schema text parser does not take names with spaces.
        let fields: Vec<_> = names
            .iter()
            .map(|n| {
                let (physical, converted) = match *n {
                    "gene" => (Physical::BYTE_ARRAY, ConvertedType::UTF8),
                    n if is_int(n) => (Physical::INT64, ConvertedType::NONE),
                    _ => (Physical::DOUBLE, ConvertedType::NONE),
                };
                let field = Type::primitive_type_builder(n, physical).with_repetition(Repetition::REQUIRED).with_converted_type(converted);
                std::sync::Arc::new(field.build().expect("field"))
            })
            .collect();
        let schema = std::sync::Arc::new(Type::group_type_builder("schema").with_fields(fields).build().expect("schema"));
        let listed: Vec<String> = index.iter().map(|n| format!("\"{n}\"")).collect();
        let pandas = format!("{{\"index_columns\": [{}], \"columns\": []}}", listed.join(", "));
        let props = WriterProperties::builder().set_key_value_metadata(Some(vec![KeyValue::new("pandas".into(), pandas)])).build();
        let file = std::fs::File::create(path).expect("create");
        let mut writer = SerializedFileWriter::new(file, schema, std::sync::Arc::new(props)).expect("writer");
        let mut group = writer.next_row_group().expect("group");
        let mut k = 0;
        while let Some(mut col) = group.next_column().expect("column") {
            let n = names[k];
            if n == "gene" {
                let ids: Vec<ByteArray> = ["g1", "g2", "g3"].map(ByteArray::from).to_vec();
                col.typed::<ByteArrayType>().write_batch(&ids, None, None).expect("write");
            } else if is_int(n) {
                col.typed::<Int64Type>().write_batch(&[10, 20, 30], None, None).expect("write");
            } else {
                let v = [1.0, 2.0, 3.0].map(|x| x + k as f64);
                col.typed::<DoubleType>().write_batch(&v, None, None).expect("write");
            }
            col.close().expect("close");
            k += 1;
        }
        group.close().expect("close group");
        writer.close().expect("close file");
    }

    /// pandas keeps a filtered frame's row numbers as `__index_level_0__` (after the data); a
    /// named index (`set_index("gene")`) holds the ids. Neither is an embedding dimension.
    #[test]
    fn pandas_index_columns_are_never_embedding_dimensions() {
        use crate::mmidas::read_table;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("filtered.parquet");
        write_pandas_parquet(&path, &["gene", "d0", "d1", "__index_level_0__"], &["__index_level_0__"]);
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids.as_slice(), t.dim, &t.values[..2]), (&["g1", "g2", "g3"].map(String::from)[..], 2, &[2.0, 3.0][..]));
        assert!(t.notes[0].contains("2 columns `d0` … `d1`") && t.notes[0].contains("skipped column `__index_level_0__`"), "{:?}", t.notes);
        // Without the metadata, the name alone marks it.
        let path = dir.path().join("bare.parquet");
        write_pandas_parquet(&path, &["gene", "d0", "__index_level_0__"], &[]);
        assert_eq!(read_table(&path, None, "m").expect("read").dim, 1);
        // pandas read_csv of a to_csv file, then to_parquet: the old index as `Unnamed: 0`.
        let path = dir.path().join("unnamed.parquet");
        write_pandas_parquet(&path, &["Unnamed: 0", "gene", "d0"], &[]);
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids[0].as_str(), t.dim, t.values[0]), ("g1", 1, 3.0));
        // A named index holding the ids, written after the data columns.
        let path = dir.path().join("named.parquet");
        write_pandas_parquet(&path, &["d0", "d1", "gene"], &["gene"]);
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids[2].as_str(), t.dim, t.values[1]), ("g3", 2, 2.0));
        assert!(t.notes[0].contains("ids from column `gene`"), "{:?}", t.notes);
        // A named integer index beside a string id column: skipped.
        let path = dir.path().join("cell.parquet");
        write_pandas_parquet(&path, &["gene", "d0", "cell"], &["cell"]);
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids[0].as_str(), t.dim), ("g1", 1));
    }

    #[test]
    fn csv_index_column_is_skipped_and_a_tab_separated_csv_is_sniffed() {
        use crate::mmidas::read_table;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("indexed.csv");
        std::fs::write(&path, ",gene,d0,d1\n0,g1,1.5,2\n1,g2,3,4\n").expect("write");
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids.as_slice(), t.dim, t.values.as_slice()), (&["g1", "g2"].map(String::from)[..], 2, &[1.5, 2.0, 3.0, 4.0][..]));
        assert!(t.notes[0].contains("skipped column ``") || t.notes[0].contains("skipped column"), "{:?}", t.notes);
        std::fs::write(&path, "Unnamed: 0,gene,d0\n5,g1,1\n9,g2,2\n").expect("write");
        assert_eq!(read_table(&path, None, "m").expect("read").ids, ["g1", "g2"]);
        // An unnamed first column of gene names is the id column, not an index; so is an integer
        // index with nothing but numbers after it (the index is then the only id).
        std::fs::write(&path, ",d0,d1\ng1,1,2\ng2,3,4\n").expect("write");
        assert_eq!(read_table(&path, None, "m").expect("read").dim, 2);
        std::fs::write(&path, ",d0,d1\n0,1,2\n1,3,4\n").expect("write");
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.ids.as_slice(), t.dim), (&["0", "1"].map(String::from)[..], 2));

        let path = dir.path().join("tabs.csv");
        std::fs::write(&path, "gene\td0\td1\ng1\t1\t2\ng2\t3\t4\n").expect("write");
        let t = read_table(&path, None, "m").expect("read");
        assert_eq!((t.dim, t.values.as_slice()), (2, &[1.0, 2.0, 3.0, 4.0][..]));
        assert!(t.notes[0].contains("tabs.csv: read as tab-separated") && t.notes[0].contains(r"gene\td0"), "{:?}", t.notes);
        std::fs::write(&path, "gene d0 d1\ng1 1 2\n").expect("write");
        let e = read_table(&path, None, "m").expect_err("spaces").to_string();
        assert!(e.contains("tabs.csv") && e.contains("\"gene d0 d1\"") && e.contains("no tab, comma or semicolon"), "{e}");
    }

    #[test]
    fn delimiter_is_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter(b"gene\td0\td1\nG1\t1\t2\n", b','), Some(b'\t'));
        assert_eq!(sniff_delimiter(b"gene,d0\n", b','), Some(b','));
        assert_eq!(sniff_delimiter(b"gene;d0;d1\n", b'\t'), Some(b';'));
        assert_eq!(sniff_delimiter(b"gene\n", b','), None);
        let names: Vec<String> = ["d0", "d1", "d2"].map(String::from).to_vec();
        let note = embedding_note(Path::new("/x/e.csv"), "gene", &names, 3, &[("Unnamed: 0".into(), "pandas index")]);
        assert_eq!(note, "e.csv: ids from column `gene`; embedding of 3 values from 3 columns `d0` … `d2`; skipped column `Unnamed: 0` (pandas index)");
    }
}
