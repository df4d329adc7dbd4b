//! DNA-to-text examples (DNA2Func) from parquet tables such as BioReason's KEGG variant set
//! (`question, answer, reasoning, reference_sequence, variant_sequence`, one row per variant),
//! read with the `parquet` crate's row API (no Arrow).
//!
//! In the KEGG set each sequence is ~4,001 bp (up to 4,260) of hg38 around one variant: reference
//! and variant share at least their first 2,000 bases. The first difference is at 0-based index
//! 2,000 in 931 of 1,159 train, 124 of 144 valid and 121 of 146 test rows (SNVs and most
//! indels); multi-base substitutions and indels whose leading bases repeat the reference differ
//! first later, always within 2,000..=2,070. So
//! [`variant_position`] finds the variant as the first differing base and [`centred_window`] cuts
//! the model's input around it.

use std::path::{Path, PathBuf};

use parquet::basic::Type as PhysicalType;
use parquet::file::reader::FileReader;
use parquet::record::Field;

/// The columns every DNA2Func table must have, all UTF-8 strings.
pub const REQUIRED_COLUMNS: [&str; 4] = ["question", "answer", "reference_sequence", "variant_sequence"];

/// Why a DNA2Func table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Dna2TextError {
    #[error("cannot open {path}: {cause}; check dna2func.train/valid/test (relative paths start at the experiment file) and that the file is a plain parquet table")]
    Open { path: PathBuf, cause: std::io::Error },
    #[error("{path} is not a readable parquet file: {cause}")]
    Parquet { path: PathBuf, cause: parquet::errors::ParquetError },
    #[error("{path} has no top-level column `{column}` (it has: {found}); a DNA2Func table needs {REQUIRED_COLUMNS:?}")]
    MissingColumn { path: PathBuf, column: &'static str, found: String },
    #[error("{path}: column `{column}` holds {found} values, but it must be a UTF-8 string column (parquet BYTE_ARRAY)")]
    BadColumnType { path: PathBuf, column: &'static str, found: String },
    #[error("{path}: column `{column}` is a nested ({found}) column, but it must be a flat UTF-8 string column; write it as a plain string column (e.g. pyarrow `pc.struct_field` or pandas `json_normalize` to flatten it)")]
    NestedColumn { path: PathBuf, column: &'static str, found: String },
    #[error("{path}: row {row}, column `{column}` is {found}, not a string; fill or drop that row")]
    BadValue { path: PathBuf, row: usize, column: &'static str, found: String },
    #[error("{path}: row {row}, column `{column}`, character {position}: {found} is not a DNA base (value starts {sample:?}); a sequence column holds A C G T and the IUPAC codes N R Y S W K M B D H V only, so check that the columns are the ones you meant")]
    NotDna { path: PathBuf, row: usize, column: &'static str, position: usize, found: String, sample: String },
    #[error("{path}: {dna} of {rows} values of column `{column}` are DNA strings (e.g. row {row}: {sample:?}), but `{column}` must hold free text; check that the table's columns are named as they hold")]
    TextLooksLikeDna { path: PathBuf, column: &'static str, dna: usize, rows: usize, row: usize, sample: String },
    /// A footer or page header the bounded walk of [`crate::data::parquet_file`] refused.
    #[error("{path}: {cause}")]
    Malformed { path: PathBuf, cause: crate::data::parquet_file::Malformed },
    #[error("{path} has no rows")]
    Empty { path: PathBuf },
    #[error("{path}: the parquet library failed on this file ({message}); it is not a readable parquet table")]
    LibraryPanic { path: PathBuf, message: String },
}

/// One variant with its question and free-text answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dna2TextRecord {
    /// `<file stem>-<row>`, 0-based row.
    pub id: String,
    pub question: String,
    pub answer: String,
    /// Upper-case bases.
    pub reference: Vec<u8>,
    pub variant: Vec<u8>,
}

/// Share of a text column's values that may be DNA strings before the column is refused (see
/// [`looks_like_dna`]): 90 %. An answer or question column that is mostly DNA is a sequence
/// column under the wrong name, never a real set of answers.
pub const DNA_TEXT_SHARE: f64 = 0.9;

/// Read every row of a DNA2Func parquet table (any row groups, any compression the crate reads).
///
/// Columns are looked up by their top-level names, so other columns, nested or not, may sit
/// anywhere and are not read. The four [`REQUIRED_COLUMNS`] must be flat UTF-8 string columns: a
/// nested (struct, list or map) one is refused, not flattened. Content is checked too: every
/// `reference_sequence` and `variant_sequence` value must be DNA (A C G T and IUPAC codes, either
/// case), and a `question` or `answer` column of which at least [`DNA_TEXT_SHARE`] of the values
/// are DNA strings is refused. Each error names the file, the column and a row.
pub fn read_dna2text(path: &Path) -> Result<Vec<Dna2TextRecord>, Dna2TextError> {
    // The `parquet` crate panics on some malformed footers (see `crate::library_panic`).
    crate::library_panic::catch(|| read_rows(path))
        .unwrap_or_else(|message| Err(Dna2TextError::LibraryPanic { path: path.to_path_buf(), message }))
}

fn read_rows(path: &Path) -> Result<Vec<Dna2TextRecord>, Dna2TextError> {
    use crate::data::parquet_file::OpenError;
    let pq = |cause| Dna2TextError::Parquet { path: path.to_path_buf(), cause };
    let reader = crate::data::parquet_file::open(path).map_err(|e| match e {
        OpenError::Io(cause) => Dna2TextError::Open { path: path.to_path_buf(), cause },
        OpenError::Parquet(cause) => pq(cause),
        OpenError::Malformed(cause) => Dna2TextError::Malformed { path: path.to_path_buf(), cause },
    })?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let top = schema.root_schema().get_fields();
    for column in REQUIRED_COLUMNS {
        let field = top.iter().find(|f| f.name() == column).ok_or_else(|| Dna2TextError::MissingColumn {
            path: path.to_path_buf(),
            column,
            found: top.iter().map(|f| describe_field(f)).collect::<Vec<_>>().join(", "),
        })?;
        if field.is_group() {
            return Err(Dna2TextError::NestedColumn { path: path.to_path_buf(), column, found: describe_field(field) });
        }
        let physical = field.get_physical_type();
        if physical != PhysicalType::BYTE_ARRAY {
            return Err(Dna2TextError::BadColumnType { path: path.to_path_buf(), column, found: format!("{physical:?}") });
        }
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut out = Vec::new();
    for (row, r) in reader.get_row_iter(None).map_err(pq)?.enumerate() {
        let r = r.map_err(pq)?;
        let text = |column: &'static str| -> Result<String, Dna2TextError> {
            let bad = |found: String| Dna2TextError::BadValue { path: path.to_path_buf(), row, column, found };
            match r.get_column_iter().find(|(name, _)| name.as_str() == column).map(|(_, f)| f) {
                Some(Field::Str(s)) => Ok(s.clone()),
                Some(Field::Bytes(b)) => String::from_utf8(b.data().to_vec()).map_err(|_| bad("not valid UTF-8".into())),
                other => Err(bad(other.map_or("missing".to_string(), |f| format!("{f:?}")))),
            }
        };
        let dna = |column: &'static str| -> Result<Vec<u8>, Dna2TextError> {
            let value = text(column)?;
            if let Some(position) = value.bytes().position(|b| !is_iupac(b)) {
                let sample: String = value.chars().take(40).collect();
                let found = crate::data::fasta::describe_byte(value.as_bytes()[position]);
                let path = path.to_path_buf();
                return Err(Dna2TextError::NotDna { path, row, column, position: position + 1, found, sample });
            }
            Ok(value.into_bytes().to_ascii_uppercase())
        };
        out.push(Dna2TextRecord {
            id: format!("{stem}-{row}"),
            question: text("question")?,
            answer: text("answer")?,
            reference: dna("reference_sequence")?,
            variant: dna("variant_sequence")?,
        });
    }
    if out.is_empty() {
        return Err(Dna2TextError::Empty { path: path.to_path_buf() });
    }
    for (column, values) in [("question", out.iter().map(|r| r.question.as_str()).collect::<Vec<_>>()), ("answer", out.iter().map(|r| r.answer.as_str()).collect())] {
        let dna: Vec<usize> = (0..values.len()).filter(|&i| looks_like_dna(values[i])).collect();
        if !dna.is_empty() && dna.len() as f64 >= DNA_TEXT_SHARE * values.len() as f64 {
            let sample: String = values[dna[0]].chars().take(40).collect();
            let (rows, count, row) = (values.len(), dna.len(), dna[0]);
            return Err(Dna2TextError::TextLooksLikeDna { path: path.to_path_buf(), column, dna: count, rows, row, sample });
        }
    }
    Ok(out)
}

/// A top-level column for messages: its name, and its kind when nested (`meta (struct)`).
fn describe_field(field: &parquet::schema::types::Type) -> String {
    use parquet::basic::ConvertedType;
    if !field.is_group() {
        return field.name().to_string();
    }
    let kind = match field.get_basic_info().converted_type() {
        ConvertedType::LIST => "list",
        ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE => "map",
        _ => "struct",
    };
    format!("{} ({kind})", field.name())
}

/// A base or IUPAC ambiguity code, either case (the alphabet of [`crate::data::fasta`]).
fn is_iupac(b: u8) -> bool {
    b"ACGTNRYSWKMBDHVacgtnryswkmbdhv".contains(&b)
}

/// A text value that is really a DNA string: at least 8 characters, all of them A C G T or N
/// (either case). Eight keeps short words made of those letters ("CAT", "TANGENT" has an E)
/// from counting.
pub fn looks_like_dna(value: &str) -> bool {
    let v = value.trim();
    v.len() >= 8 && v.bytes().all(|b| b"ACGTNacgtn".contains(&b))
}

/// Index of the first base where `reference` and `variant` differ; when one is a prefix of the
/// other, the shorter length; when they are identical, the middle.
pub fn variant_position(reference: &[u8], variant: &[u8]) -> usize {
    match reference.iter().zip(variant).position(|(a, b)| a != b) {
        Some(i) => i,
        None if reference.len() != variant.len() => reference.len().min(variant.len()),
        None => variant.len() / 2,
    }
}

/// The `bp` bases of `seq` centred on `centre` (`bp / 2` before it), shifted inwards at the
/// ends; the whole sequence when it is shorter than `bp`.
///
/// # Shapes
/// `seq`: `[n]` → `[min(bp, n)]`
pub fn centred_window(seq: &[u8], centre: usize, bp: usize) -> &[u8] {
    if seq.len() <= bp {
        return seq;
    }
    let start = centre.saturating_sub(bp / 2).min(seq.len() - bp);
    &seq[start..start + bp]
}

/// The gene whose allele the question asks about (`… effect of this APP allele, …` → `APP`), the
/// short form of a BioReason KEGG question.
pub fn allele_gene(question: &str) -> Option<&str> {
    let end = question.rfind(" allele")?;
    let start = question[..end].rfind("this ")? + "this ".len();
    let gene = question[start..end].trim();
    (!gene.is_empty() && !gene.contains(char::is_whitespace)).then_some(gene)
}

/// Test helper: write a parquet file with the given string columns and, when named, one INT32
/// column last (the crate's own writer, default properties).
#[cfg(test)]
pub(crate) fn write_table(path: &Path, columns: &[(&str, Vec<&str>)], int_column: Option<&str>) {
    write_table_nested(path, columns, int_column, None);
}

/// Test helper: [`write_table`], plus a struct column `<name> { source: string, score: int32 }`
/// (pyarrow's layout of a struct) inserted before string column `k` when `nested = (k, name)`.
#[cfg(test)]
pub(crate) fn write_table_nested(path: &Path, columns: &[(&str, Vec<&str>)], int_column: Option<&str>, nested: Option<(usize, &str)>) {
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let n = columns[0].1.len();
    // Leaves in schema order: Some(values) for a string leaf, None for an INT32 leaf.
    let mut leaves: Vec<Option<Vec<&str>>> = Vec::new();
    let mut message = String::from("message schema {\n");
    for (k, (name, values)) in columns.iter().enumerate() {
        if let Some((_, group)) = nested.filter(|(at, _)| *at == k) {
            message.push_str(&format!("  REQUIRED GROUP {group} {{\n    REQUIRED BYTE_ARRAY source (UTF8);\n    REQUIRED INT32 score;\n  }}\n"));
            leaves.push(Some(vec!["ACGTACGTACGT"; n]));
            leaves.push(None);
        }
        message.push_str(&format!("  REQUIRED BYTE_ARRAY {name} (UTF8);\n"));
        leaves.push(Some(values.clone()));
    }
    if let Some(name) = int_column {
        message.push_str(&format!("  REQUIRED INT32 {name};\n"));
        leaves.push(None);
    }
    message.push('}');
    let schema = Arc::new(parse_message_type(&message).expect("schema"));
    let file = std::fs::File::create(path).expect("create");
    let mut writer = SerializedFileWriter::new(file, schema, Default::default()).expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let mut leaf = leaves.into_iter();
    while let Some(mut col) = group.next_column().expect("column") {
        match leaf.next().expect("one leaf per column") {
            Some(strings) => {
                let values: Vec<ByteArray> = strings.iter().map(|s| ByteArray::from(*s)).collect();
                col.typed::<ByteArrayType>().write_batch(&values, None, None).expect("write");
            }
            None => {
                col.typed::<Int32Type>().write_batch(&(0..n as i32).collect::<Vec<_>>(), None, None).expect("write");
            }
        }
        col.close().expect("close column");
    }
    group.close().expect("close group");
    writer.close().expect("close file");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz run parquet` (fuzz/README.md): the `parquet` crate panics on this
    /// footer (a bool field declared with another type). The walk of `data::parquet_file` now
    /// refuses it before the crate sees it; a panic it does not foresee is still caught
    /// (`mmidas::inputs::tests::a_parquet_file_the_library_panics_on_is_a_typed_error`).
    #[test]
    fn a_parquet_file_the_library_panics_on_is_a_typed_error() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/parquet_thrift_panic.parquet"));
        let err = read_dna2text(path).expect_err("malformed footer");
        assert!(matches!(err, Dna2TextError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("parquet_thrift_panic.parquet"), "{err}");
    }

    /// Found by `cargo fuzz run parquet`: thrift lists of booleans that `parquet` 57.3.2 skips
    /// for ever, in the footer and in a page header (`data::parquet_file`). Refused in
    /// milliseconds with a message naming the file and the fix.
    #[test]
    fn a_parquet_file_the_library_would_hang_on_is_refused_quickly() {
        for err in crate::data::parquet_file::refuse_both_hangs(|path| read_dna2text(path).map(drop)) {
            assert!(matches!(err, Dna2TextError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains("pyarrow.parquet.write_table"), "{err}");
        }
    }

    #[test]
    fn parquet_reader_reads_string_columns_in_row_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("train.parquet");
        write_table(
            &path,
            &[
                ("question", vec!["What does this APP allele do?", "q2"]),
                ("answer", vec!["alzheimer's disease", "melanoma"]),
                ("reasoning", vec!["r1", "r2"]),
                ("reference_sequence", vec!["acgtA", "GGGG"]),
                ("variant_sequence", vec!["acTtA", "GGGG"]),
            ],
            Some("n"),
        );
        let rows = read_dna2text(&path).expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "train-0");
        assert_eq!(rows[0].answer, "alzheimer's disease");
        assert_eq!(rows[0].reference, b"ACGTA");
        assert_eq!(rows[0].variant, b"ACTTA");
        assert_eq!(rows[1].question, "q2");
        assert_eq!(variant_position(&rows[0].reference, &rows[0].variant), 2);
        assert_eq!(allele_gene(&rows[0].question), Some("APP"));
    }

    #[test]
    fn parquet_reader_names_the_file_and_the_missing_column_or_bad_type() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.parquet");
        write_table(&path, &[("question", vec!["q"]), ("answer", vec!["a"]), ("reference_sequence", vec!["A"])], None);
        let e = read_dna2text(&path).expect_err("missing column").to_string();
        assert!(e.contains("bad.parquet") && e.contains("`variant_sequence`"), "{e}");

        let path = dir.path().join("typed.parquet");
        let strings = [("question", vec!["q"]), ("reference_sequence", vec!["A"]), ("variant_sequence", vec!["C"])];
        write_table(&path, &strings, Some("answer"));
        let e = read_dna2text(&path).expect_err("int answer").to_string();
        assert!(e.contains("typed.parquet") && e.contains("`answer`") && e.contains("INT32"), "{e}");
        let e = read_dna2text(Path::new("/nonexistent/x.parquet")).expect_err("no file").to_string();
        assert!(e.contains("/nonexistent/x.parquet"), "{e}");
    }

    fn kegg_like(answer: &str) -> Vec<(&'static str, Vec<&str>)> {
        vec![
            ("question", vec!["effect of this APP allele?"; 3]),
            ("answer", vec![answer; 3]),
            ("reasoning", vec!["Step 1: the variant ..."; 3]),
            ("reference_sequence", vec!["ACGTACGTAC"; 3]),
            ("variant_sequence", vec!["ACGTTCGTAC"; 3]),
        ]
    }

    /// A struct column before (or after) the answer shifts leaf-column positions; columns are
    /// looked up by top-level name, so the answers stay answers wherever the struct sits.
    #[test]
    fn struct_column_anywhere_leaves_every_column_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        for at in 0..5 {
            let path = dir.path().join(format!("nested{at}.parquet"));
            write_table_nested(&path, &kegg_like("melanoma"), Some("n"), Some((at, "meta")));
            let rows = read_dna2text(&path).expect("read");
            assert_eq!(rows.len(), 3);
            assert_eq!((rows[0].question.as_str(), rows[0].answer.as_str()), ("effect of this APP allele?", "melanoma"), "struct at {at}");
            assert_eq!((rows[2].reference.as_slice(), rows[2].variant.as_slice()), (&b"ACGTACGTAC"[..], &b"ACGTTCGTAC"[..]));
        }
    }

    #[test]
    fn nested_required_column_and_misplaced_content_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A required column that is a struct.
        let path = dir.path().join("meta_answer.parquet");
        let mut columns = kegg_like("melanoma");
        columns.remove(1);
        write_table_nested(&path, &columns, None, Some((1, "answer")));
        let e = read_dna2text(&path).expect_err("struct answer").to_string();
        assert!(e.contains("meta_answer.parquet") && e.contains("`answer` is a nested (answer (struct))"), "{e}");
        let path = dir.path().join("no_answer.parquet");
        write_table_nested(&path, &columns, None, Some((1, "meta")));
        let e = read_dna2text(&path).expect_err("no answer").to_string();
        assert!(e.contains("no_answer.parquet") && e.contains("`answer`") && e.contains("meta (struct)"), "{e}");

        // Answers that are DNA: a sequence column under the answer's name.
        let path = dir.path().join("dna_answers.parquet");
        write_table(&path, &kegg_like("GATTACAGATTACA"), None);
        let e = read_dna2text(&path).expect_err("dna answers").to_string();
        assert!(e.contains("dna_answers.parquet") && e.contains("`answer`") && e.contains("3 of 3") && e.contains("GATTACA"), "{e}");

        // Text in a sequence column.
        let path = dir.path().join("text_seq.parquet");
        let mut columns = kegg_like("melanoma");
        columns[4].1 = vec!["ACGT", "Step 1: reasoning", "ACGT"];
        write_table(&path, &columns, None);
        let e = read_dna2text(&path).expect_err("text as dna").to_string();
        assert!(e.contains("text_seq.parquet") && e.contains("row 1") && e.contains("`variant_sequence`") && e.contains("Step 1"), "{e}");
        assert!(looks_like_dna("acgtnACGT") && !looks_like_dna("CAT") && !looks_like_dna("alzheimer's disease"));
    }

    #[test]
    fn windows_centre_on_the_variant_and_stay_inside_the_sequence() {
        let seq: Vec<u8> = (0..20u8).collect();
        assert_eq!(centred_window(&seq, 10, 6), &seq[7..13]);
        assert_eq!(centred_window(&seq, 1, 6), &seq[0..6]);
        assert_eq!(centred_window(&seq, 19, 6), &seq[14..20]);
        assert_eq!(centred_window(&seq, 5, 40), &seq[..]);
        assert_eq!(variant_position(b"ACGT", b"ACGT"), 2);
        assert_eq!(variant_position(b"ACGT", b"ACGTT"), 4);
        assert_eq!(allele_gene("effect of this PDE11A allele, specifically"), Some("PDE11A"));
        assert_eq!(allele_gene("no gene here"), None);
    }

    /// The shared KEGG split: row counts, and the variant at index 2,000 of the ~4,001 bp.
    #[test]
    fn kegg_split_has_the_documented_rows_and_centred_variants() {
        let dir = Path::new("../shared/data/dna2text/bioreason_kegg");
        if !dir.exists() {
            eprintln!("SKIPPED: {} not found", dir.display());
            return;
        }
        for (split, n) in [("train", 1159), ("val", 144), ("test", 146)] {
            let rows = read_dna2text(&dir.join(format!("{split}.parquet"))).expect("read");
            assert_eq!(rows.len(), n, "{split}");
            let pos: Vec<usize> = rows.iter().map(|r| variant_position(&r.reference, &r.variant)).collect();
            // Measured: 931/1159, 124/144, 121/146 first differ at index 2000; all within 2000..=2070.
            let at_2000 = pos.iter().filter(|&&p| p == 2000).count();
            assert!(at_2000 as f64 >= 0.8 * n as f64, "{split}: {at_2000} of {n} variants at index 2000");
            assert!(pos.iter().all(|p| (2000..=2070).contains(p)), "{split}: {:?}", pos.iter().max());
            assert!(rows.iter().all(|r| allele_gene(&r.question).is_some()), "{split}");
        }
    }
}
