//! MMIDAS: multi-arm models over per-modality gene embeddings.
//!
//! Inputs: one embedding table per modality keyed by gene id ([`read_table`]), aligned to the
//! genes every modality has ([`align`]), optionally standardized. The model ([`model`]), its loss
//! ([`loss`]) and consensus and pruning ([`prune`]) follow; training is `crate::recipes::mmidas`.
//! Its clustering metrics (ARI, NMI, AMI) are in `crate::eval::clustering`, and the kNN, Leiden
//! and UMAP of its single-modality baselines in `crate::graph`.

pub mod config;
pub mod dataset;
mod columns;
mod inputs;
pub mod loss;
mod mnist;
mod npy;
mod parquet_table;
pub mod model;
pub mod noise;
pub mod prune;
pub mod write;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use inputs::{read_table, read_table_as};

/// One modality's embeddings: row `i` of `values` (length `dim`) belongs to `ids[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingTable {
    pub modality: String,
    pub ids: Vec<String>,
    pub dim: usize,
    /// `[ids.len() * dim]`, row-major.
    pub values: Vec<f32>,
    /// What the reader decided that the caller should print: which columns became the
    /// embedding, index columns skipped, a sniffed delimiter. Empty for formats without choices.
    pub notes: Vec<String>,
}

/// Tables restricted to the genes all modalities share, every table's rows in `ids` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    pub ids: Vec<String>,
    pub tables: Vec<EmbeddingTable>,
    /// Per modality (input order), the ids seen in some other modality but absent from this one.
    pub missing: Vec<(String, Vec<String>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: unsupported .npy header: {reason}")]
    NpyHeader { path: PathBuf, reason: String },
    #[error("{path}: truncated: needs {expected} bytes but has {found}; re-export the file")]
    Truncated { path: PathBuf, expected: u64, found: u64 },
    #[error("{path}: empty table ({rows} rows, {dim} value columns); each gene needs an id and at least one value")]
    Empty { path: PathBuf, rows: usize, dim: usize },
    #[error("{path}: gene id {id:?} appears in rows {first_row} and {second_row}; keep one row per gene")]
    DuplicateId { path: PathBuf, id: String, first_row: usize, second_row: usize },
    #[error("{path}: row {row} (gene {id:?}), value column {column} is {value}; impute or drop that gene")]
    NonFinite { path: PathBuf, row: usize, column: usize, id: String, value: f32 },
    #[error("{path}: line {line} has {found} columns but the header has {expected}; fix the row's delimiters")]
    Ragged { path: PathBuf, line: u64, expected: usize, found: usize },
    #[error("{path}: line {line}, column {column}: {value:?} is not a number; every column after the gene id is an embedding value, so fix the value or drop the column")]
    BadNumber { path: PathBuf, line: u64, column: usize, value: String },
    #[error("{ids_path} lists {ids} ids but {path} has {rows} rows; the ids file needs one id per row, in order")]
    IdCount { path: PathBuf, ids_path: PathBuf, ids: usize, rows: usize },
    #[error("no modalities given; pass at least one embedding table")]
    NoModalities,
    #[error("no gene id is common to all modalities ({}); check that they use the same id scheme (e.g. Ensembl vs symbol)", .modalities.join(", "))]
    NoCommonGene { modalities: Vec<String> },
}

/// Keep genes present in every modality (in the first table's order); report per modality which
/// ids were missing from it.
pub fn align(tables: Vec<EmbeddingTable>) -> Result<Aligned, InputError> {
    let Some(first) = tables.first() else { return Err(InputError::NoModalities) };
    let index: Vec<HashMap<&str, usize>> = tables
        .iter()
        .map(|t| t.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect())
        .collect();
    let ids: Vec<String> = first
        .ids
        .iter()
        .filter(|id| index.iter().all(|m| m.contains_key(id.as_str())))
        .cloned()
        .collect();
    if ids.is_empty() {
        let modalities = tables.iter().map(|t| t.modality.clone()).collect();
        return Err(InputError::NoCommonGene { modalities });
    }
    // Union of all ids in order of first appearance, to report what each modality lacks.
    let mut union: Vec<&str> = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for t in &tables {
        for id in &t.ids {
            if seen.insert(id.as_str(), ()).is_none() {
                union.push(id.as_str());
            }
        }
    }
    let missing = tables
        .iter()
        .zip(&index)
        .map(|(t, m)| {
            let absent = union.iter().filter(|id| !m.contains_key(*id)).map(|s| s.to_string());
            (t.modality.clone(), absent.collect())
        })
        .collect();
    let aligned = tables
        .iter()
        .zip(&index)
        .map(|(t, m)| {
            let mut values = Vec::with_capacity(ids.len() * t.dim);
            for id in &ids {
                let row = m[id.as_str()];
                values.extend_from_slice(&t.values[row * t.dim..(row + 1) * t.dim]);
            }
            EmbeddingTable { modality: t.modality.clone(), ids: ids.clone(), dim: t.dim, values, notes: t.notes.clone() }
        })
        .collect();
    Ok(Aligned { ids, tables: aligned, missing })
}

/// Write the missing ids as TSV with a `modality\tid` header, one line per (modality, id).
pub fn write_missing(path: &Path, aligned: &Aligned) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "modality\tid")?;
    for (modality, ids) in &aligned.missing {
        for id in ids {
            writeln!(out, "{modality}\t{id}")?;
        }
    }
    out.flush()
}

/// Per-column zero mean and unit variance (population std); constant columns become 0.
pub fn standardize(table: &mut EmbeddingTable) {
    let (n, dim) = (table.ids.len(), table.dim);
    if n == 0 || dim == 0 {
        return;
    }
    for c in 0..dim {
        let column = || (0..n).map(|r| table.values[r * dim + c] as f64);
        let mean = column().sum::<f64>() / n as f64;
        let var = column().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let std = var.sqrt();
        let scale = if std > 1e-12 * mean.abs().max(1.0) { 1.0 / std } else { 0.0 };
        for r in 0..n {
            let v = &mut table.values[r * dim + c];
            *v = ((*v as f64 - mean) * scale) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(modality: &str, ids: &[&str], dim: usize, values: &[f32]) -> EmbeddingTable {
        EmbeddingTable {
            modality: modality.into(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            dim,
            values: values.to_vec(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn align_keeps_common_genes_and_reports_missing() {
        let rna = table("rna", &["a", "b", "c", "d"], 1, &[1., 2., 3., 4.]);
        let atac = table("atac", &["d", "b", "e"], 2, &[40., 41., 20., 21., 50., 51.]);
        let aligned = align(vec![rna, atac]).unwrap();
        assert_eq!(aligned.ids, ["b", "d"]);
        assert_eq!(aligned.tables[0].values, [2., 4.]);
        assert_eq!(aligned.tables[1].values, [20., 21., 40., 41.]);
        assert_eq!(aligned.tables[1].ids, ["b", "d"]);
        let counts: Vec<(&str, usize)> =
            aligned.missing.iter().map(|(m, ids)| (m.as_str(), ids.len())).collect();
        assert_eq!(counts, [("rna", 1), ("atac", 2)]);
        assert_eq!(aligned.missing[0].1, ["e"]);
        assert_eq!(aligned.missing[1].1, ["a", "c"]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.tsv");
        write_missing(&path, &aligned).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "modality\tid\nrna\te\natac\ta\natac\tc\n");
    }

    #[test]
    fn align_without_common_gene_names_modalities() {
        let err = align(vec![table("rna", &["a"], 1, &[1.]), table("atac", &["b"], 1, &[1.])])
            .unwrap_err();
        assert!(matches!(err, InputError::NoCommonGene { .. }));
        assert!(err.to_string().contains("rna, atac"), "{err}");
        assert!(matches!(align(vec![]), Err(InputError::NoModalities)));
    }

    #[test]
    fn standardize_matches_hand_computed_values() {
        // Column 0: 1, 2, 3 -> mean 2, population var 2/3, std 0.8165 -> -1.2247, 0, 1.2247.
        // Column 1: 5, 5, 5 -> constant -> 0. Column 2: 0, 0, 6 -> mean 2, var 8, std 2.8284.
        let mut t = table("rna", &["a", "b", "c"], 3, &[1., 5., 0., 2., 5., 0., 3., 5., 6.]);
        standardize(&mut t);
        let s = 1.5f32.sqrt();
        let k = 2.0 / 8f32.sqrt();
        let expected = [-s, 0., -k, 0., 0., -k, s, 0., 2. * k];
        for (got, want) in t.values.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{:?} vs {expected:?}", t.values);
        }
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    const VALUES: [f32; 6] = [1.0, 2.0, 3.0, 4.5, -5.0, 6.25];

    #[test]
    fn safetensors_round_trip_all_dtypes() {
        use safetensors::tensor::{Dtype, TensorView};
        let dir = tempfile::tempdir().unwrap();
        let ids = write(dir.path(), "ids.txt", b"g1\ng2\ng3\n");
        let f32s: Vec<u8> = VALUES.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f64s: Vec<u8> = VALUES.iter().flat_map(|v| (*v as f64).to_le_bytes()).collect();
        let bf16: Vec<u8> = VALUES.iter().flat_map(|v| half::bf16::from_f32(*v).to_le_bytes()).collect();
        let f16: Vec<u8> = VALUES.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        for (dtype, data) in [(Dtype::F32, f32s), (Dtype::F64, f64s), (Dtype::BF16, bf16), (Dtype::F16, f16)] {
            let view = TensorView::new(dtype, vec![3, 2], &data).unwrap();
            let bytes = safetensors::serialize([("emb", view)], None).unwrap();
            let path = write(dir.path(), "e.safetensors", &bytes);
            let t = read_table(&path, Some(&ids), "atac").unwrap();
            assert_eq!((t.dim, t.values.as_slice()), (2, VALUES.as_slice()), "{dtype:?}");
            // Cut into the data section: reported as truncated before any data is read.
            let path = write(dir.path(), "cut.safetensors", &bytes[..bytes.len() - 3]);
            let err = read_table(&path, Some(&ids), "atac").unwrap_err();
            assert!(err.to_string().contains("truncated"), "{err}");
        }
    }

    #[test]
    fn csv_tsv_and_gzip_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "gene,d1,d2\ng1,1,2\ng2,3,4.5\ng3,-5,6.25\n";
        let t = read_table(&write(dir.path(), "e.csv", csv.as_bytes()), None, "rna").unwrap();
        assert_eq!((t.ids.len(), t.dim, t.values.as_slice()), (3, 2, VALUES.as_slice()));
        let tsv = csv.replace(',', "\t");
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(tsv.as_bytes()).unwrap();
        let path = write(dir.path(), "e.tsv.gz", &gz.finish().unwrap());
        let t2 = read_table(&path, None, "rna").unwrap();
        assert_eq!((&t2.ids, t2.dim, &t2.values), (&t.ids, t.dim, &t.values));
    }

    #[test]
    fn csv_errors_name_row_line_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let dup = write(dir.path(), "d.csv", b"gene,x\ng1,1\ng2,2\ng1,3\n");
        let err = read_table(&dup, None, "rna").unwrap_err();
        assert!(matches!(&err, InputError::DuplicateId { id, first_row: 1, second_row: 3, .. } if id == "g1"), "{err}");
        let nan = write(dir.path(), "n.csv", b"gene,x,y\ng1,1,2\ng2,3,NaN\n");
        let err = read_table(&nan, None, "rna").unwrap_err();
        assert!(matches!(&err, InputError::NonFinite { row: 2, column: 2, id, .. } if id == "g2"), "{err}");
        assert!(err.to_string().contains("n.csv"), "{err}");
        let ragged = write(dir.path(), "r.csv", b"gene,x,y\ng1,1,2\ng2,3\n");
        let err = read_table(&ragged, None, "rna").unwrap_err();
        assert!(matches!(err, InputError::Ragged { line: 3, expected: 3, found: 2, .. }), "{err}");
        let bad = write(dir.path(), "b.csv", b"gene,x\ng1,abc\n");
        assert!(matches!(read_table(&bad, None, "rna"), Err(InputError::BadNumber { line: 2, .. })));
        let empty = write(dir.path(), "e.csv", b"gene,x\n");
        assert!(matches!(read_table(&empty, None, "rna"), Err(InputError::Empty { .. })));
    }

    /// A v1.0 `.npy` written byte by byte: magic, version, u16 header length, padded dict, data.
    fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut header = dict.into_bytes();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out
    }



    fn npz_bytes(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn npz_reads_the_named_or_only_array() {
        let dir = tempfile::tempdir().unwrap();
        let ids = write(dir.path(), "ids.txt", b"g1\ng2\ng3\n");
        let f4: Vec<u8> = VALUES.iter().flat_map(|v| v.to_le_bytes()).collect();
        let emb = npy_bytes("<f4", "(3, 2)", &f4);
        let one = write(dir.path(), "one.npz", &npz_bytes(&[("emb.npy", emb.clone())]));
        let t = read_table(&one, Some(&ids), "rna").unwrap();
        assert_eq!((t.dim, t.values.as_slice()), (2, VALUES.as_slice()));
        let other = npy_bytes("<f4", "(1, 1)", &[0u8; 4]);
        let two = write(dir.path(), "two.npz", &npz_bytes(&[("other.npy", other), ("emb.npy", emb)]));
        let err = read_table(&two, Some(&ids), "rna").unwrap_err();
        assert!(err.to_string().contains("array = "), "{err}");
        use config::TableFormat;
        let t2 = read_table_as(&two, Some(&ids), "rna", TableFormat::Npz, Some("emb")).unwrap();
        assert_eq!(t2, t);
        let err = read_table_as(&two, Some(&ids), "rna", TableFormat::Npz, Some("nope")).unwrap_err();
        assert!(err.to_string().contains("other"), "{err}");
    }

    #[test]
    fn parquet_columns_and_list_column_round_trip() {
        // Fixtures made by tests/fixtures/mmidas/make_parquet.py.
        let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mmidas");
        let cols = read_table(&fx.join("columns.parquet"), None, "rna").unwrap();
        assert_eq!((cols.ids.clone(), cols.dim, cols.values.as_slice()), (vec!["g1".to_string(), "g2".into(), "g3".into()], 2, VALUES.as_slice()));
        let list = read_table(&fx.join("list.parquet"), None, "rna").unwrap();
        assert_eq!((&list.ids, list.dim, &list.values), (&cols.ids, cols.dim, &cols.values));
        assert!(cols.notes[0].ends_with("embedding of 2 values from 2 columns `d1` … `d2`"), "{:?}", cols.notes);
        let err = read_table(&fx.join("ragged.parquet"), None, "rna").unwrap_err();
        assert!(matches!(err, InputError::Ragged { line: 2, .. }), "{err}");
        let err = read_table(&fx.join("dup.parquet"), None, "rna").unwrap_err();
        assert!(matches!(&err, InputError::DuplicateId { id, first_row: 1, second_row: 3, .. } if id == "g1"), "{err}");
    }

    #[test]
    fn npy_f4_and_f8_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ids = write(dir.path(), "ids.txt", b"g1\ng2\ng3\n");
        let f4: Vec<u8> = VALUES.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f8: Vec<u8> = VALUES.iter().flat_map(|v| (*v as f64).to_le_bytes()).collect();
        for (name, descr, data) in [("a.npy", "<f4", f4), ("b.npy", "<f8", f8)] {
            let path = write(dir.path(), name, &npy_bytes(descr, "(3, 2)", &data));
            let t = read_table(&path, Some(&ids), "rna").unwrap();
            assert_eq!((t.modality.as_str(), t.dim), ("rna", 2));
            assert_eq!(t.ids, ["g1", "g2", "g3"]);
            assert_eq!(t.values, VALUES);
        }
    }

    #[test]
    fn npy_bad_headers_say_what_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let ids = write(dir.path(), "ids.txt", b"g1\ng2\ng3\n");
        let cases =
            [(">f4", "(3, 2)", "dtype"), ("<i8", "(3, 2)", "dtype"), ("<f4", "(6,)", "1-D")];
        for (descr, shape, needle) in cases {
            let path = write(dir.path(), "x.npy", &npy_bytes(descr, shape, &[0u8; 24]));
            let err = read_table(&path, Some(&ids), "rna").unwrap_err();
            assert!(matches!(err, InputError::NpyHeader { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
        let mut fortran = npy_bytes("<f4", "(3, 2)", &[0u8; 24]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        let path = write(dir.path(), "f.npy", &fortran);
        let err = read_table(&path, Some(&ids), "rna").unwrap_err();
        assert!(err.to_string().contains("Fortran"), "{err}");
    }

    #[test]
    fn npy_truncated_and_id_count_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let ids = write(dir.path(), "ids.txt", b"g1\ng2\ng3\n");
        let path = write(dir.path(), "t.npy", &npy_bytes("<f4", "(3, 2)", &[0u8; 20]));
        let err = read_table(&path, Some(&ids), "rna").unwrap_err();
        assert!(matches!(err, InputError::Truncated { expected: 24, found: 20, .. }), "{err}");
        // A header claiming a huge shape must fail on size, not on allocation.
        let path = write(dir.path(), "h.npy", &npy_bytes("<f4", "(100000000000, 2)", &[0u8; 8]));
        let err = read_table(&path, Some(&ids), "rna").unwrap_err();
        assert!(matches!(err, InputError::Truncated { .. }), "{err}");
        let two = write(dir.path(), "two.txt", b"g1\ng2\n");
        let path = write(dir.path(), "ok.npy", &npy_bytes("<f4", "(3, 2)", &[0u8; 24]));
        let err = read_table(&path, Some(&two), "rna").unwrap_err();
        assert!(matches!(err, InputError::IdCount { ids: 2, rows: 3, .. }), "{err}");
        assert!(read_table(&path, None, "rna").unwrap_err().to_string().contains("ids file"));
        let npz = write(dir.path(), "x.npz", b"PK");
        let err = read_table(&npz, Some(&ids), "rna").unwrap_err();
        assert!(err.to_string().contains("zip"), "{err}");
    }
}
