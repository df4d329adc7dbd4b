//! How each catalogue row makes its input and calls the reader or command gfm runs on it.

use std::io::Write;
use std::path::{Path, PathBuf};

use gfm::data::benchmarks::{read_gb_cache, read_gb_intervals, read_nt, read_table, GbOptions, Reference, ReferenceSpec, TableSpec};
use gfm::data::AmbiguityPolicy;
use gfm::export::{ExportDtype, ExportFormat};
use gfm::mmidas::config::TableFormat;

pub(super) fn report(e: impl std::error::Error + 'static) -> String {
    gfm::train::error::report(&e)
}

pub(super) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}


// ---- readers, as the commands call them ---------------------------------------------------------

pub(super) fn fasta(p: &Path) -> Result<(), String> {
    gfm::data::read_fasta(p, AmbiguityPolicy::Split, 0).map(drop).map_err(report)
}

pub(super) fn fasta_min_len(p: &Path) -> Result<(), String> {
    gfm::data::read_fasta(p, AmbiguityPolicy::Split, 1000).map(drop).map_err(report)
}

pub(super) fn table(p: &Path) -> Result<(), String> {
    let spec = TableSpec { labels: Some(vec!["0".into(), "1".into()]), ..TableSpec::default() };
    read_table(p, &spec).map(drop).map_err(report)
}

pub(super) fn nt(p: &Path) -> Result<(), String> {
    read_nt(p, Some(&["promoter_all".to_string()])).map(drop).map_err(report)
}

pub(super) fn nt_two(p: &Path) -> Result<(), String> {
    read_nt(p, Some(&["promoter_all".to_string(), "enhancers".to_string()])).map(drop).map_err(report)
}

pub(super) fn gb_cache(p: &Path) -> Result<(), String> {
    read_gb_cache(p, "train").map(drop).map_err(report)
}

pub(super) fn gb_intervals(p: &Path) -> Result<(), String> {
    let reference = Reference::load(&ReferenceSpec::new(root().join("tests/fixtures/benchmarks/tiny_ref.fa"))).unwrap();
    read_gb_intervals(p, "train", &reference, &GbOptions::default()).map(drop).map_err(report)
}

/// An embedding table; a matrix format's ids file is `genes.txt` beside it.
pub(super) fn embeddings(p: &Path) -> Result<(), String> {
    let ids = p.parent().unwrap().join("genes.txt");
    gfm::mmidas::read_table(p, ids.is_file().then_some(ids.as_path()), "rna").map(drop).map_err(report)
}

pub(super) fn npz_member(p: &Path) -> Result<(), String> {
    let ids = p.parent().unwrap().join("genes.txt");
    gfm::mmidas::read_table_as(p, Some(&ids), "rna", TableFormat::Npz, Some("embedding")).map(drop).map_err(report)
}

pub(super) fn mnist(p: &Path) -> Result<(), String> {
    gfm::data::images::read_mnist(p, &p.parent().unwrap().join("labels-idx1-ubyte")).map(drop).map_err(report)
}

pub(super) fn png(p: &Path) -> Result<(), String> {
    gfm::data::images::read_png(p).map(drop).map_err(report)
}

pub(super) fn png_folder(p: &Path) -> Result<(), String> {
    gfm::data::images::read_png_folder(p).map(drop).map_err(report)
}

pub(super) fn tokenizer(p: &Path) -> Result<(), String> {
    gfm::tokenizer::DnaTokenizer::from_file(p).map(drop).map_err(report)
}

pub(super) fn checkpoint(p: &Path) -> Result<(), String> {
    gfm::checkpoint::load(p).map(drop).map_err(report)
}

/// `gfm export <run or checkpoint> --out <dir>/export`.
pub(super) fn export(p: &Path) -> Result<(), String> {
    let out = p.parent().unwrap().join("export");
    gfm::export::export_checkpoint(p, &out, ExportDtype::F32, ExportFormat::Hf).map(drop).map_err(report)
}

/// `gfm export --from <pretrained> --out <p>`.
pub(super) fn export_pretrained_into(p: &Path) -> Result<(), String> {
    let from = root().join("tests/fixtures/parity/hf_tied");
    gfm::export::export_pretrained(&from, p, ExportDtype::F32, ExportFormat::Hf).map(drop).map_err(report)
}

/// `gfm check <p>`.
pub(super) fn experiment(p: &Path) -> Result<(), String> {
    gfm::config::load_experiment(p, &[]).map(drop).map_err(report)
}

/// `gfm run <p>`: load, then run.
pub(super) fn run(p: &Path) -> Result<(), String> {
    let resolved = gfm::config::load_experiment(p, &[]).map_err(report)?;
    gfm::recipes::run(&resolved, false).map(drop).map_err(report)
}

/// `gfm run <p> --resume`.
pub(super) fn resume(p: &Path) -> Result<(), String> {
    let resolved = gfm::config::load_experiment(p, &[]).map_err(report)?;
    gfm::recipes::run(&resolved, true).map(drop).map_err(report)
}

// ---- inputs --------------------------------------------------------------------------------------

pub(super) fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let fortran = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

pub(super) fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A matrix file `name` of two genes plus `genes.txt`.
pub(super) fn matrix(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    write(dir, "genes.txt", "g1\ng2\n");
    write(dir, name, bytes)
}

pub(super) fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

pub(super) fn npz(dir: &Path, member: &str) -> PathBuf {
    write(dir, "genes.txt", "g1\ng2\n");
    let p = dir.join("emb.npz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    zip.start_file(member, zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&npy("<f4", false, "(2, 2)", &f32s(&[1.0, 2.0, 3.0, 4.0]))).unwrap();
    zip.finish().unwrap();
    p
}

/// A parquet table with a string `gene` column and, after it, the columns of `schema_tail`,
/// written as two rows by `fill` (called with each column writer after `gene`).
pub(super) fn parquet(dir: &Path, schema_tail: &str, fill: fn(&mut parquet::file::writer::SerializedColumnWriter<'_>)) -> PathBuf {
    use parquet::data_type::{ByteArray, ByteArrayType};
    let message = format!("message schema {{ required binary gene (UTF8); {schema_tail} }}");
    let schema = std::sync::Arc::new(parquet::schema::parser::parse_message_type(&message).unwrap());
    let p = dir.join("emb.parquet");
    let mut writer = parquet::file::writer::SerializedFileWriter::new(std::fs::File::create(&p).unwrap(), schema, Default::default()).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut first = true;
    while let Some(mut col) = group.next_column().unwrap() {
        if first {
            col.typed::<ByteArrayType>().write_batch(&[ByteArray::from("g1"), ByteArray::from("g2")], None, None).unwrap();
            first = false;
        } else {
            fill(&mut col);
        }
        col.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
    p
}

pub(super) fn doubles(col: &mut parquet::file::writer::SerializedColumnWriter<'_>) {
    col.typed::<parquet::data_type::DoubleType>().write_batch(&[1.0, 2.0], None, None).unwrap();
}

pub(super) fn idx(magic: u32, dims: &[u32], data_len: usize) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend((0..data_len).map(|i| (i * 37 % 251) as u8));
    out
}

pub(super) fn png_bytes(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, y| image::Luma([pixel(x, y)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A trained DNA tokenizer's JSON, for rows that break one part of it.
pub(super) fn tokenizer_json() -> serde_json::Value {
    let seq: Vec<u8> = (0..400u32).map(|i| b"ACGT"[(i * 7 % 13 % 4) as usize]).collect();
    let tok = gfm::tokenizer::DnaTokenizer::train([seq.as_slice()].into_iter(), 20).unwrap();
    serde_json::from_str(&tok.inner().to_string(false).unwrap()).unwrap()
}

/// A run directory `run/` with `config.toml` and one checkpoint `run/step_0000010/`.
pub(super) fn run_with_checkpoint(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), "name = \"t\"\nkind = \"pretrain\"\n").unwrap();
    checkpoint_in(&run)
}

/// A checkpoint `run/step_0000010/` of made-up weights (they verify against their manifest).
pub(super) fn checkpoint_in(run: &Path) -> PathBuf {
    let state = gfm::checkpoint::TrainState {
        step: 10,
        tokens_seen: 640,
        epoch: 0,
        cursor: 10,
        seed: 1,
        train_time_s: 1.0,
        last_loss: 2.0,
        last_valid_loss: None,
        best_select: None,
    };
    gfm::checkpoint::save(run, &[1; 64], &[2; 64], &state).unwrap()
}

pub(super) fn flip_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    b[5] ^= 0xff;
    std::fs::write(path, b).unwrap();
}

/// An earlier export in `dir/export`, which a failed export must leave alone.
pub(super) fn earlier_export(dir: &Path) {
    write(dir, "export/model.safetensors", b"earlier weights");
    write(dir, "export/gfm_export.json", b"{}");
}

pub(super) fn markers() -> String {
    root().join("tests/fixtures/dna/markers_small.fa").display().to_string()
}

pub(super) fn pretrain_toml(train: &str, extra: &str) -> String {
    format!("name = \"t\"\nkind = \"pretrain\"\n[model]\npreset = \"tiny\"\n[data]\ntrain = [\"{train}\"]\n{extra}")
}

pub(super) fn exp(dir: &Path, body: &str) -> PathBuf {
    write(dir, "exp.toml", body)
}

pub(super) const UTF16_BOM: [u8; 2] = [0xff, 0xfe];
