//! Writers of embedding tables in the formats [`super::read_table`] reads: `.npy` or
//! `.safetensors` with an ids file beside it (`<stem>.ids.txt`, one id per line), or TSV/CSV
//! (optionally `.gz`) with a header row and the id in the first column. Every file is written
//! to a temporary name and renamed, so a reader never sees half a table.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{EmbeddingTable, InputError};

/// The ids file that goes with a `.npy` or `.safetensors` table: `emb.npy` → `emb.ids.txt`.
pub fn ids_path_for(path: &Path) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("embeddings");
    path.with_file_name(format!("{stem}.ids.txt"))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> InputError + '_ {
    move |source| InputError::Io { path: path.to_path_buf(), source }
}

/// Write `bytes` produced by `fill` to `path` through a temporary file in the same directory.
fn atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), InputError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("table");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut w = BufWriter::new(file);
    fill(&mut w).and_then(|_| w.flush()).map_err(io_err(&tmp))?;
    w.get_ref().sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Write `table` to `path` in the format its extension names; returns every file written
/// (the table, then its ids file where the format needs one).
pub fn write_table(table: &EmbeddingTable, path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let (rows, dim) = (table.ids.len(), table.dim);
    if name.ends_with(".npy") || name.ends_with(".safetensors") {
        if name.ends_with(".npy") {
            atomic(path, |w| write_npy(w, rows, dim, &table.values))?;
        } else {
            let bytes: Vec<u8> = table.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows, dim], &bytes).map_err(|e| {
                InputError::Format { path: path.to_path_buf(), reason: e.to_string() }
            })?;
            let data = safetensors::serialize([("embeddings", view)], None)
                .map_err(|e| InputError::Format { path: path.to_path_buf(), reason: e.to_string() })?;
            atomic(path, |w| w.write_all(&data))?;
        }
        let ids = ids_path_for(path);
        atomic(&ids, |w| table.ids.iter().try_for_each(|id| writeln!(w, "{id}")))?;
        return Ok(vec![path.to_path_buf(), ids]);
    }
    let gz = name.ends_with(".gz");
    let sep = if name.trim_end_matches(".gz").ends_with(".csv") { ',' } else { '\t' };
    atomic(path, |w| {
        let mut body: Box<dyn Write + '_> =
            if gz { Box::new(flate2::write::GzEncoder::new(w, flate2::Compression::default())) } else { Box::new(w) };
        write!(body, "id")?;
        for j in 0..dim {
            write!(body, "{sep}e{j}")?;
        }
        writeln!(body)?;
        for (i, id) in table.ids.iter().enumerate() {
            write!(body, "{id}")?;
            // `{}` prints the shortest text that parses back to the same f32.
            for v in &table.values[i * dim..(i + 1) * dim] {
                write!(body, "{sep}{v}")?;
            }
            writeln!(body)?;
        }
        body.flush()
    })?;
    Ok(vec![path.to_path_buf()])
}

/// NPY format 1.0: magic, version, little-endian u16 header length, a Python dict literal padded
/// with spaces and ended by `\n` so the data starts at a multiple of 64 bytes, then the data.
fn write_npy(w: &mut dyn Write, rows: usize, dim: usize, values: &[f32]) -> std::io::Result<()> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let unpadded = 10 + dict.len() + 1;
    let header_len = dict.len() + 1 + (64 - unpadded % 64) % 64;
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&(header_len as u16).to_le_bytes())?;
    w.write_all(dict.as_bytes())?;
    w.write_all(&vec![b' '; header_len - dict.len() - 1])?;
    w.write_all(b"\n")?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmidas::read_table;

    fn table() -> EmbeddingTable {
        EmbeddingTable {
            modality: "m".into(),
            ids: vec!["geneA".into(), "geneB".into(), "geneC".into()],
            dim: 2,
            values: vec![0.1, -2.5e-7, 3.0, f32::MAX, -0.0, 1.0 / 3.0],
            notes: Vec::new(),
        }
    }

    #[test]
    fn every_written_format_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["e.npy", "e.safetensors", "e.tsv", "e.csv", "e.tsv.gz"] {
            let path = dir.path().join(name);
            let files = write_table(&table(), &path).unwrap();
            assert_eq!(files[0], path);
            let ids = (files.len() == 2).then(|| files[1].clone());
            let back = read_table(&path, ids.as_deref(), "m").unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.ids, table().ids, "{name}");
            assert_eq!(back.dim, 2, "{name}");
            assert_eq!(
                back.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                table().values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{name}"
            );
        }
    }

    #[test]
    fn npy_header_pads_data_to_64_bytes() {
        let mut buf = Vec::new();
        write_npy(&mut buf, 3, 2, &[0.0; 6]).unwrap();
        assert_eq!((buf.len() - 24) % 64, 0);
        let hlen = u16::from_le_bytes([buf[8], buf[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(buf[10 + hlen - 1], b'\n');
    }
}
