//! The bad-input catalogue (issue 12, item 13): one table of malformed inputs across every reader
//! gfm has. Each row writes its input into a fresh folder, calls the public reader or command on
//! it, and checks that the error (as `gfm` prints it, [`gfm::train::error::report`]) names the
//! file (and the line, key or column where there is one) and says what to do. Every file in the
//! folder before the failing call (the input, and for some rows an earlier run, checkpoint or
//! export) must keep its bytes: a refused input never costs what was already written.
//! `GFM_CATALOGUE_SHOW=1 cargo test --test interop catalogue -- --nocapture` prints every message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use gfm::data::benchmarks::{read_gb_cache, read_gb_intervals, read_nt, read_table, GbOptions, Reference, ReferenceSpec, TableSpec};
use gfm::data::AmbiguityPolicy;
use gfm::export::{ExportDtype, ExportFormat};
use gfm::mmidas::config::TableFormat;

/// Writes the input under the row's folder and returns the path handed to the reader.
type Make = fn(&Path) -> PathBuf;
/// Calls the reader or command on that path; `Err` holds the message as gfm prints it.
type Call = fn(&Path) -> Result<(), String>;

struct Row {
    name: &'static str,
    input: &'static str,
    make: Make,
    call: Call,
    /// Substrings the message must hold: the file (line, key, column) and a word of the fix.
    needles: &'static [&'static str],
}

fn report(e: impl std::error::Error + 'static) -> String {
    gfm::train::error::report(&e)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

// ---- readers, as the commands call them ---------------------------------------------------------

fn fasta(p: &Path) -> Result<(), String> {
    gfm::data::read_fasta(p, AmbiguityPolicy::Split, 0).map(drop).map_err(report)
}

fn fasta_min_len(p: &Path) -> Result<(), String> {
    gfm::data::read_fasta(p, AmbiguityPolicy::Split, 1000).map(drop).map_err(report)
}

fn table(p: &Path) -> Result<(), String> {
    let spec = TableSpec { labels: Some(vec!["0".into(), "1".into()]), ..TableSpec::default() };
    read_table(p, &spec).map(drop).map_err(report)
}

fn nt(p: &Path) -> Result<(), String> {
    read_nt(p, Some(&["promoter_all".to_string()])).map(drop).map_err(report)
}

fn nt_two(p: &Path) -> Result<(), String> {
    read_nt(p, Some(&["promoter_all".to_string(), "enhancers".to_string()])).map(drop).map_err(report)
}

fn gb_cache(p: &Path) -> Result<(), String> {
    read_gb_cache(p, "train").map(drop).map_err(report)
}

fn gb_intervals(p: &Path) -> Result<(), String> {
    let reference = Reference::load(&ReferenceSpec::new(root().join("tests/fixtures/benchmarks/tiny_ref.fa"))).unwrap();
    read_gb_intervals(p, "train", &reference, &GbOptions::default()).map(drop).map_err(report)
}

/// An embedding table; a matrix format's ids file is `genes.txt` beside it.
fn embeddings(p: &Path) -> Result<(), String> {
    let ids = p.parent().unwrap().join("genes.txt");
    gfm::mmidas::read_table(p, ids.is_file().then_some(ids.as_path()), "rna").map(drop).map_err(report)
}

fn npz_member(p: &Path) -> Result<(), String> {
    let ids = p.parent().unwrap().join("genes.txt");
    gfm::mmidas::read_table_as(p, Some(&ids), "rna", TableFormat::Npz, Some("embedding")).map(drop).map_err(report)
}

fn mnist(p: &Path) -> Result<(), String> {
    gfm::data::images::read_mnist(p, &p.parent().unwrap().join("labels-idx1-ubyte")).map(drop).map_err(report)
}

fn png(p: &Path) -> Result<(), String> {
    gfm::data::images::read_png(p).map(drop).map_err(report)
}

fn png_folder(p: &Path) -> Result<(), String> {
    gfm::data::images::read_png_folder(p).map(drop).map_err(report)
}

fn tokenizer(p: &Path) -> Result<(), String> {
    gfm::tokenizer::DnaTokenizer::from_file(p).map(drop).map_err(report)
}

fn checkpoint(p: &Path) -> Result<(), String> {
    gfm::checkpoint::load(p).map(drop).map_err(report)
}

/// `gfm export <run or checkpoint> --out <dir>/export`.
fn export(p: &Path) -> Result<(), String> {
    let out = p.parent().unwrap().join("export");
    gfm::export::export_checkpoint(p, &out, ExportDtype::F32, ExportFormat::Hf).map(drop).map_err(report)
}

/// `gfm export --from <pretrained> --out <p>`.
fn export_pretrained_into(p: &Path) -> Result<(), String> {
    let from = root().join("tests/fixtures/parity/hf_tied");
    gfm::export::export_pretrained(&from, p, ExportDtype::F32, ExportFormat::Hf).map(drop).map_err(report)
}

/// `gfm check <p>`.
fn experiment(p: &Path) -> Result<(), String> {
    gfm::config::load_experiment(p, &[]).map(drop).map_err(report)
}

/// `gfm run <p>`: load, then run.
fn run(p: &Path) -> Result<(), String> {
    let resolved = gfm::config::load_experiment(p, &[]).map_err(report)?;
    gfm::recipes::run(&resolved, false).map(drop).map_err(report)
}

/// `gfm run <p> --resume`.
fn resume(p: &Path) -> Result<(), String> {
    let resolved = gfm::config::load_experiment(p, &[]).map_err(report)?;
    gfm::recipes::run(&resolved, true).map(drop).map_err(report)
}

// ---- inputs --------------------------------------------------------------------------------------

fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
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

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A matrix file `name` of two genes plus `genes.txt`.
fn matrix(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    write(dir, "genes.txt", "g1\ng2\n");
    write(dir, name, bytes)
}

fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn npz(dir: &Path, member: &str) -> PathBuf {
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
fn parquet(dir: &Path, schema_tail: &str, fill: fn(&mut parquet::file::writer::SerializedColumnWriter<'_>)) -> PathBuf {
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

fn doubles(col: &mut parquet::file::writer::SerializedColumnWriter<'_>) {
    col.typed::<parquet::data_type::DoubleType>().write_batch(&[1.0, 2.0], None, None).unwrap();
}

fn idx(magic: u32, dims: &[u32], data_len: usize) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend((0..data_len).map(|i| (i * 37 % 251) as u8));
    out
}

fn png_bytes(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, y| image::Luma([pixel(x, y)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A trained DNA tokenizer's JSON, for rows that break one part of it.
fn tokenizer_json() -> serde_json::Value {
    let seq: Vec<u8> = (0..400u32).map(|i| b"ACGT"[(i * 7 % 13 % 4) as usize]).collect();
    let tok = gfm::tokenizer::DnaTokenizer::train([seq.as_slice()].into_iter(), 20).unwrap();
    serde_json::from_str(&tok.inner().to_string(false).unwrap()).unwrap()
}

/// A run directory `run/` with `config.toml` and one checkpoint `run/step_0000010/`.
fn run_with_checkpoint(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), "name = \"t\"\nkind = \"pretrain\"\n").unwrap();
    checkpoint_in(&run)
}

/// A checkpoint `run/step_0000010/` of made-up weights (they verify against their manifest).
fn checkpoint_in(run: &Path) -> PathBuf {
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

fn flip_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    b[5] ^= 0xff;
    std::fs::write(path, b).unwrap();
}

/// An earlier export in `dir/export`, which a failed export must leave alone.
fn earlier_export(dir: &Path) {
    write(dir, "export/model.safetensors", b"earlier weights");
    write(dir, "export/gfm_export.json", b"{}");
}

fn markers() -> String {
    root().join("tests/fixtures/dna/markers_small.fa").display().to_string()
}

fn pretrain_toml(train: &str, extra: &str) -> String {
    format!("name = \"t\"\nkind = \"pretrain\"\n[model]\npreset = \"tiny\"\n[data]\ntrain = [\"{train}\"]\n{extra}")
}

fn exp(dir: &Path, body: &str) -> PathBuf {
    write(dir, "exp.toml", body)
}

const UTF16_BOM: [u8; 2] = [0xff, 0xfe];

fn rows() -> Vec<Row> {
    vec![
        // ---- FASTA ----
        Row { name: "fasta-no-header", input: "FASTA whose first line is bases, no '>'",
              make: |d| write(d, "reads.fa", "ACGT\n>r2\nACGT\n"), call: fasta, needles: &["reads.fa", "'>'"] },
        Row { name: "fasta-digits", input: "a sequence line with digits (GenBank numbering)",
              make: |d| write(d, "reads.fa", ">r1\nACGT\n1 ACGT\n"), call: fasta, needles: &["reads.fa:3:1", "r1", "remove"] },
        Row { name: "fasta-empty-file", input: "an empty .fa",
              make: |d| write(d, "reads.fa", ""), call: fasta, needles: &["reads.fa", "point to"] },
        Row { name: "fasta-empty-record", input: "a record with no bases",
              make: |d| write(d, "reads.fa", ">r1\n>r2\nACGT\n"), call: fasta, needles: &["reads.fa:1", "r1", "remove"] },
        Row { name: "fasta-gzip-truncated", input: "a .fa.gz cut off mid-stream",
              make: |d| {
                  let seq: String = (0..20_000).map(|i| ['A', 'C', 'G', 'T'][i * 7 % 13 % 4]).collect();
                  let gz = gzip(format!(">r1\n{seq}\n").as_bytes());
                  write(d, "reads.fa.gz", &gz[..gz.len() / 2])
              },
              call: fasta, needles: &["reads.fa.gz", "check that the file is complete"] },
        Row { name: "fasta-zstd", input: "a zstd-compressed .fa",
              make: |d| write(d, "reads.fa.zst", [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), call: fasta, needles: &["reads.fa.zst", "zstd -d"] },
        Row { name: "fasta-utf16", input: "FASTA saved as UTF-16",
              make: |d| {
                  let mut b = UTF16_BOM.to_vec();
                  b.extend(">r1\nACGT\n".encode_utf16().flat_map(|u| u.to_le_bytes()));
                  write(d, "reads.fa", b)
              },
              call: fasta, needles: &["reads.fa", "UTF-16", "iconv"] },
        Row { name: "fasta-all-too-short", input: "every record shorter than min_len",
              make: |d| write(d, "reads.fa", ">r1\nACGT\n"), call: fasta_min_len, needles: &["reads.fa", "lower min_len"] },
        Row { name: "fasta-missing", input: "a path that does not exist",
              make: |d| d.join("nowhere.fa"), call: fasta, needles: &["nowhere.fa", "check the path"] },
        // ---- sequence tables ----
        Row { name: "table-no-label-column", input: "TSV without the label column",
              make: |d| write(d, "task.tsv", "sequence\tclass\nACGT\t1\n"), call: table, needles: &["task.tsv:1", "label", "name the column"] },
        Row { name: "table-ragged", input: "a row with one field too many",
              make: |d| write(d, "task.tsv", "sequence\tlabel\nACGT\t1\nACGT\t0\textra\n"), call: table, needles: &["task.tsv:3", "every row needs"] },
        Row { name: "table-label-outside-task", input: "a label not among the task's labels",
              make: |d| write(d, "task.tsv", "sequence\tlabel\nACGT\t1\nACGT\t2\n"), call: table, needles: &["task.tsv:3", "'2'", "add the label"] },
        Row { name: "table-empty-sequence", input: "a row with an empty sequence",
              make: |d| write(d, "task.csv", "sequence,label\nACGT,1\n,0\n"), call: table, needles: &["task.csv:3", "remove the row"] },
        Row { name: "table-rna", input: "a sequence with RNA 'U'",
              make: |d| write(d, "task.csv", "sequence,label\nACGU,1\n"), call: table, needles: &["task.csv:2", "sequence", "RNA"] },
        Row { name: "table-gzip-truncated", input: "a .tsv.gz cut off mid-stream",
              make: |d| {
                  let body: String = (0..3000).map(|i| format!("{}\t{}\n", ["ACGTAC", "GGTTCA"][i % 2], i % 2)).collect();
                  let gz = gzip(format!("sequence\tlabel\n{body}").as_bytes());
                  write(d, "task.tsv.gz", &gz[..gz.len() / 2])
              },
              call: table, needles: &["task.tsv.gz", "complete"] },
        // ---- Genomic Benchmarks ----
        Row { name: "gb-no-classes", input: "GB dataset whose train/ holds no class folders or files",
              make: |d| {
                  std::fs::create_dir_all(d.join("ds/train")).unwrap();
                  std::fs::create_dir_all(d.join("ds/test")).unwrap();
                  write(d, "ds/train/README", "x");
                  d.join("ds")
              },
              call: gb_cache, needles: &["ds/train", "no classes", "point `path` at the dataset folder"] },
        Row { name: "gb-split-folder-given", input: "the train/ folder given instead of the dataset folder",
              make: |d| {
                  write(d, "ds/train/positive/0.txt", "ACGT");
                  write(d, "ds/test/positive/0.txt", "ACGT");
                  d.join("ds/train")
              },
              call: gb_cache, needles: &["ds/train", "'train'", "dataset folder"] },
        Row { name: "gb-cache-bad-base", input: "a GB cache sequence file with a digit",
              make: |d| {
                  write(d, "ds/train/positive/0.txt", "ACG7T");
                  d.join("ds")
              },
              call: gb_cache, needles: &["positive/0.txt", "remove"] },
        Row { name: "gb-interval-bad-row", input: "a GB interval row with start after end",
              make: |d| {
                  write(d, "ds/train/positive.csv", "id,region,start,end,strand\n0,chr1,30,10,+\n");
                  d.join("ds")
              },
              call: gb_intervals, needles: &["positive.csv:2", "0-based"] },
        Row { name: "gb-interval-unknown-region", input: "a GB interval on a region the reference lacks",
              make: |d| {
                  write(d, "ds/train/positive.csv", "id,region,start,end,strand\n0,chr9,0,10,+\n");
                  d.join("ds")
              },
              call: gb_intervals, needles: &["positive.csv:2", "chr9", "skip_missing = true"] },
        // ---- Nucleotide Transformer ----
        Row { name: "nt-no-sequence", input: "NT table without a `sequence` column",
              make: |d| write(d, "nt.csv", "seq,name,label,task\nACGT,a,1,promoter_all\n"), call: nt, needles: &["nt.csv:1", "sequence", "format = \"table\""] },
        Row { name: "nt-task-absent", input: "NT file that does not hold the task asked for",
              make: |d| write(d, "nt.csv", "sequence,name,label,task\nACGT,a,1,enhancers\n"), call: nt, needles: &["nt.csv", "promoter_all", "enhancers", "set nt_task"] },
        Row { name: "nt-one-task-file-many-asked", input: "one-task NT file asked for two tasks",
              make: |d| write(d, "nt.csv", "sequence,name,label\nACGT,a,1\n"), call: nt_two, needles: &["nt.csv", "[[tasks]]"] },
        // ---- embedding tables: npy / npz ----
        Row { name: "npy-wrong-magic", input: ".npy that is not NumPy",
              make: |d| matrix(d, "emb.npy", b"not numpy at all, just text".to_vec()), call: embeddings, needles: &["emb.npy", "np.save"] },
        Row { name: "npy-int-dtype", input: ".npy of int32",
              make: |d| matrix(d, "emb.npy", npy("<i4", false, "(2, 2)", &[0; 16])), call: embeddings, needles: &["emb.npy", "<i4", "astype('<f4')"] },
        Row { name: "npy-shape-vs-data", input: ".npy whose shape needs more bytes than it holds",
              make: |d| matrix(d, "emb.npy", npy("<f4", false, "(2, 3)", &f32s(&[1.0; 4]))), call: embeddings, needles: &["emb.npy", "truncated", "re-export"] },
        Row { name: "npy-trailing-bytes", input: ".npy with more data than its shape",
              make: |d| matrix(d, "emb.npy", npy("<f4", false, "(2, 1)", &f32s(&[1.0; 4]))), call: embeddings, needles: &["emb.npy", "trailing", "re-export"] },
        Row { name: "npy-fortran-order", input: ".npy with fortran_order True",
              make: |d| matrix(d, "emb.npy", npy("<f4", true, "(2, 2)", &f32s(&[1.0; 4]))), call: embeddings, needles: &["emb.npy", "Fortran", "np.ascontiguousarray"] },
        Row { name: "npy-gzipped", input: "a gzipped .npy under the .npy name",
              make: |d| matrix(d, "emb.npy", gzip(&npy("<f4", false, "(2, 2)", &f32s(&[1.0; 4])))), call: embeddings, needles: &["emb.npy", "gunzip"] },
        Row { name: "npy-ids-count", input: "ids file with fewer ids than rows",
              make: |d| {
                  let p = matrix(d, "emb.npy", npy("<f4", false, "(3, 1)", &f32s(&[1.0; 3])));
                  write(d, "genes.txt", "g1\ng2\n");
                  p
              },
              call: embeddings, needles: &["genes.txt", "emb.npy", "one id per row"] },
        Row { name: "npz-member-absent", input: ".npz without the named array",
              make: |d| npz(d, "values.npy"), call: npz_member, needles: &["emb.npz", "\"embedding\"", "values", "array ="] },
        Row { name: "npz-not-zip", input: ".npz that is not a zip archive",
              make: |d| matrix(d, "emb.npz", b"plain text".to_vec()), call: embeddings, needles: &["emb.npz", "np.savez"] },
        // ---- embedding tables: safetensors ----
        Row { name: "safetensors-header-beyond-file", input: "header length larger than the file",
              make: |d| {
                  let mut b = safetensors(r#"{"emb":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}"#, &f32s(&[1.0, 2.0]));
                  b[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
                  matrix(d, "emb.safetensors", b)
              },
              call: embeddings, needles: &["emb.safetensors", "exceeds the file size", "re-export"] },
        Row { name: "safetensors-header-not-json", input: "a header that is not JSON",
              make: |d| matrix(d, "emb.safetensors", safetensors("{not json", &f32s(&[1.0, 2.0]))), call: embeddings, needles: &["emb.safetensors", "JSON", "re-export"] },
        Row { name: "safetensors-offset-past-end", input: "a tensor whose data_offsets run past the file",
              make: |d| matrix(d, "emb.safetensors", safetensors(r#"{"emb":{"dtype":"F32","shape":[2,1],"data_offsets":[0,800]}}"#, &f32s(&[1.0, 2.0]))),
              call: embeddings, needles: &["emb.safetensors", "emb", "re-export"] },
        Row { name: "safetensors-int-dtype", input: "an I32 tensor",
              make: |d| matrix(d, "emb.safetensors", safetensors(r#"{"emb":{"dtype":"I32","shape":[2,1],"data_offsets":[0,8]}}"#, &[0; 8])),
              call: embeddings, needles: &["emb.safetensors", "I32", "use F32"] },
        Row { name: "safetensors-two-tensors", input: "two tensors where one matrix is expected",
              make: |d| matrix(d, "emb.safetensors", safetensors(
                  r#"{"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}}"#,
                  &f32s(&[1.0; 4]))),
              call: embeddings, needles: &["emb.safetensors", "\"a\"", "save one"] },
        // ---- embedding tables: parquet ----
        Row { name: "parquet-truncated", input: "a parquet file cut in half",
              make: |d| {
                  let p = parquet(d, "required double x;", doubles);
                  let b = std::fs::read(&p).unwrap();
                  write(d, "emb.parquet", &b[..b.len() / 2])
              },
              call: embeddings, needles: &["emb.parquet", "re-export"] },
        Row { name: "parquet-nested-column", input: "an embedding column that is a struct of doubles",
              make: |d| parquet(d, "required group emb { required double a; required double b; }", doubles),
              call: embeddings, needles: &["emb.parquet", "emb", "column 2", "drop the column"] },
        Row { name: "parquet-string-column", input: "a non-numeric embedding column",
              make: |d| parquet(d, "required binary note (UTF8);", |c| {
                  use parquet::data_type::{ByteArray, ByteArrayType};
                  c.typed::<ByteArrayType>().write_batch(&[ByteArray::from("high"), ByteArray::from("low")], None, None).unwrap();
              }),
              call: embeddings, needles: &["emb.parquet", "note", "not a number", "drop the column"] },
        // ---- embedding tables: CSV/TSV ----
        Row { name: "csv-not-a-number", input: "a value that is not a number",
              make: |d| write(d, "emb.csv", "gene,x,y\ng1,1.0,2.0\ng2,1.0,high\n"), call: embeddings, needles: &["emb.csv", "line 3", "column 3", "fix the value"] },
        Row { name: "csv-duplicate-gene", input: "the same gene on two rows",
              make: |d| write(d, "emb.csv", "gene,x\ng1,1.0\ng1,2.0\n"), call: embeddings, needles: &["emb.csv", "g1", "keep one row"] },
        Row { name: "csv-nan", input: "a NaN value",
              make: |d| write(d, "emb.csv", "gene,x\ng1,1.0\ng2,NaN\n"), call: embeddings, needles: &["emb.csv", "row 2", "impute or drop"] },
        Row { name: "csv-ragged", input: "a row with a missing value",
              make: |d| write(d, "emb.tsv", "gene\tx\ty\ng1\t1\t2\ng2\t1\n"), call: embeddings, needles: &["emb.tsv", "line 3", "fix the row"] },
        // ---- MNIST IDX and PNG ----
        Row { name: "idx-wrong-magic", input: "a labels file given as the images file",
              make: |d| {
                  write(d, "labels-idx1-ubyte", idx(0x801, &[2], 2));
                  write(d, "images-idx3-ubyte", idx(0x801, &[2], 2))
              },
              call: mnist, needles: &["images-idx3-ubyte", "magic", "swapped"] },
        Row { name: "idx-count-beyond-data", input: "an IDX header promising more images than the file holds",
              make: |d| {
                  write(d, "labels-idx1-ubyte", idx(0x801, &[5], 5));
                  write(d, "images-idx3-ubyte", idx(0x803, &[5, 28, 28], 28 * 28))
              },
              call: mnist, needles: &["images-idx3-ubyte", "truncated", "download it again"] },
        Row { name: "idx-pair-mismatch", input: "images and labels files of different counts",
              make: |d| {
                  write(d, "labels-idx1-ubyte", idx(0x801, &[3], 3));
                  write(d, "images-idx3-ubyte", idx(0x803, &[2, 28, 28], 2 * 28 * 28))
              },
              call: mnist, needles: &["images-idx3-ubyte", "labels-idx1-ubyte", "matching pair"] },
        Row { name: "png-truncated", input: "a PNG cut in half",
              make: |d| {
                  let b = png_bytes(28, 28, |x, y| (x * 9 + y) as u8);
                  write(d, "digit.png", &b[..b.len() / 2])
              },
              call: png, needles: &["digit.png", "export it again"] },
        Row { name: "png-not-square", input: "a 40 x 20 PNG",
              make: |d| write(d, "digit.png", png_bytes(40, 20, |x, _| x as u8 * 6)), call: png, needles: &["digit.png", "40 x 20", "crop or pad"] },
        Row { name: "png-all-constant", input: "a PNG folder whose images are all white",
              make: |d| {
                  write(d, "imgs/3/a.png", png_bytes(28, 28, |_, _| 255));
                  write(d, "imgs/5/b.png", png_bytes(28, 28, |_, _| 255));
                  d.join("imgs")
              },
              call: png_folder, needles: &["imgs", "constant", "export them as grey"] },
        Row { name: "png-folder-empty", input: "a PNG folder with no label sub-folders",
              make: |d| write(d, "imgs/readme.txt", "x").parent().unwrap().to_path_buf(), call: png_folder, needles: &["imgs", "<dir>/<label>/<image>.png"] },
        // ---- tokenizer ----
        Row { name: "tokenizer-not-json", input: "tokenizer.json that is not JSON",
              make: |d| write(d, "tokenizer.json", "vocab: [A, C, G, T]\n"), call: tokenizer, needles: &["tokenizer.json", "point to"] },
        Row { name: "tokenizer-wordpiece", input: "a WordPiece tokenizer.json",
              make: |d| write(d, "tokenizer.json", serde_json::json!({
                  "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
                  "pre_tokenizer": null, "post_processor": null, "decoder": null,
                  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                            "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4, "A": 5, "C": 6, "G": 7, "T": 8}}
              }).to_string()),
              call: tokenizer, needles: &["tokenizer.json", "WordPiece", "BPE"] },
        Row { name: "tokenizer-lowercase", input: "a tokenizer.json with a Lowercase normalizer",
              make: |d| {
                  let mut json = tokenizer_json();
                  json["normalizer"] = serde_json::json!({"type": "Lowercase"});
                  write(d, "tokenizer.json", json.to_string())
              },
              call: tokenizer, needles: &["tokenizer.json", "Lowercase", "remove"] },
        Row { name: "tokenizer-special-ids", input: "a tokenizer whose [UNK] is not id 0",
              make: |d| {
                  let text = tokenizer_json().to_string().replace("\"[UNK]\":0", "\"[UNK]\":999");
                  write(d, "tokenizer.json", text)
              },
              call: tokenizer, needles: &["tokenizer.json", "[UNK]", "retrain"] },
        // ---- checkpoints and export ----
        Row { name: "checkpoint-crc-mismatch", input: "a checkpoint whose model.mpk fails its CRC",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  flip_byte(&step.join("model.mpk"));
                  step
              },
              call: checkpoint, needles: &["step_0000010", "model.mpk", "CRC32C", "earlier checkpoint"] },
        Row { name: "checkpoint-weights-truncated", input: "a checkpoint whose model.mpk is cut short",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  std::fs::write(step.join("model.mpk"), [1; 10]).unwrap();
                  step
              },
              call: checkpoint, needles: &["step_0000010", "model.mpk", "truncated", "earlier checkpoint"] },
        Row { name: "checkpoint-no-manifest", input: "a checkpoint directory without manifest.toml",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  std::fs::remove_file(step.join("manifest.toml")).unwrap();
                  step
              },
              call: checkpoint, needles: &["step_0000010", "manifest.toml", "earlier checkpoint"] },
        Row { name: "export-run-only-corrupt", input: "export of a run whose one checkpoint is corrupted, over an earlier export",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  flip_byte(&step.join("optim.mpk"));
                  earlier_export(d);
                  d.join("run")
              },
              call: export, needles: &["run", "step_0000010", "run the experiment"] },
        Row { name: "export-step-corrupt", input: "export of one corrupted checkpoint directory, over an earlier export",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  flip_byte(&step.join("model.mpk"));
                  earlier_export(d);
                  step
              },
              call: export, needles: &["step_0000010", "CRC32C", "earlier checkpoint"] },
        Row { name: "export-weights-undecodable", input: "a checkpoint whose weights pass their CRC but are not a model record",
              make: |d| {
                  let step = run_with_checkpoint(d);
                  let exp = pretrain_toml(&markers(), "");
                  std::fs::write(d.join("run/config.toml"), exp).unwrap();
                  let seq: Vec<u8> = (0..400u32).map(|i| b"ACGT"[(i * 7 % 13 % 4) as usize]).collect();
                  let tok = gfm::tokenizer::DnaTokenizer::train([seq.as_slice()].into_iter(), 20).unwrap();
                  tok.save(&d.join("run/tokenizer.json")).unwrap();
                  step
              },
              call: export, needles: &["step_0000010", "model record", "export a checkpoint"] },
        Row { name: "export-into-foreign-folder", input: "export into a non-empty folder that is not an export",
              make: |d| {
                  write(d, "mine/notes.txt", "my notes");
                  d.join("mine")
              },
              call: export_pretrained_into, needles: &["mine", "choose another --out"] },
        Row { name: "export-run-without-tokenizer", input: "export of a run whose tokenizer.json is gone",
              make: |d| {
                  run_with_checkpoint(d);
                  std::fs::write(d.join("run/config.toml"), pretrain_toml(&markers(), "")).unwrap();
                  d.join("run")
              },
              call: export, needles: &["run/tokenizer.json", "check the path"] },
        Row { name: "export-not-a-run", input: "export of a folder that is neither run nor checkpoint",
              make: |d| write(d, "stuff/a.txt", "x").parent().unwrap().to_path_buf(), call: export, needles: &["stuff", "config.toml", "give a run directory"] },
        // ---- experiment TOML ----
        Row { name: "toml-unknown-key", input: "an unknown key in [train]",
              make: |d| exp(d, &pretrain_toml(&markers(), "[train]\nlrr = 1e-3\n")), call: experiment, needles: &["exp.toml", "lrr", "lr"] },
        Row { name: "toml-wrong-type", input: "lr given as a string",
              make: |d| exp(d, &pretrain_toml(&markers(), "[train]\nlr = \"fast\"\n")), call: experiment, needles: &["exp.toml", "line 8", "lr"] },
        Row { name: "toml-other-kinds-section", input: "a [finetune] section in a pretrain experiment",
              make: |d| exp(d, &pretrain_toml(&markers(), "[finetune]\nreplicate = 3\n")), call: experiment, needles: &["exp.toml", "[finetune]", "remove it"] },
        Row { name: "toml-negative-lr", input: "train.lr = -1",
              make: |d| exp(d, &pretrain_toml(&markers(), "[train]\nlr = -1.0\n")), call: experiment, needles: &["exp.toml", "train.lr = -1", "set"] },
        Row { name: "toml-missing-file", input: "data.train naming a file that does not exist",
              make: |d| exp(d, &pretrain_toml("missing.fa", "")), call: experiment, needles: &["exp.toml", "data.train", "missing.fa", "relative"] },
        Row { name: "toml-invalid-kind", input: "kind = \"pretraining\"",
              make: |d| exp(d, &pretrain_toml(&markers(), "").replace("\"pretrain\"", "\"pretraining\"")), call: experiment, needles: &["exp.toml", "pretraining", "pretrain"] },
        Row { name: "toml-unknown-preset", input: "a preset name with a typo",
              make: |d| exp(d, &pretrain_toml(&markers(), "").replace("\"tiny\"", "\"omni_dna_2m\"")), call: experiment, needles: &["exp.toml", "model.preset", "omni_dna_20m"] },
        Row { name: "toml-not-toml", input: "an experiment file that is not TOML",
              make: |d| exp(d, "name: t\nkind: pretrain\n"), call: experiment, needles: &["exp.toml", "line 1"] },
        Row { name: "toml-bad-tokenizer", input: "tokenizer.path naming a file that is not JSON",
              make: |d| {
                  write(d, "tok.json", "not json");
                  exp(d, &pretrain_toml(&markers(), "[tokenizer]\npath = \"tok.json\"\n"))
              },
              call: experiment, needles: &["exp.toml", "tokenizer.path", "tok.json", "point to"] },
        Row { name: "toml-gb-split-folder", input: "a [[tasks]] path naming the GB train/ folder",
              make: |d| {
                  write(d, "ds/train/positive/0.txt", "ACGT");
                  write(d, "ds/test/positive/0.txt", "ACGT");
                  let init = root().join("tests/fixtures/parity/hf_tied");
                  exp(d, &format!(
                      "name = \"t\"\nkind = \"finetune\"\n[model]\ninit_from = \"{}\"\n[[tasks]]\nname = \"p\"\nformat = \"genomic_benchmarks\"\npath = \"ds/train\"\n",
                      init.display()))
              },
              call: experiment, needles: &["exp.toml", "tasks[0]", "split folder", "path = \""] },
        // ---- runs: a failure while preparing leaves earlier runs alone ----
        Row { name: "run-bad-fasta-keeps-earlier-run", input: "a run whose FASTA has a digit, beside an earlier run",
              make: |d| {
                  let earlier = d.join("checkpoints/t/20260101-000000");
                  std::fs::create_dir_all(&earlier).unwrap();
                  std::fs::write(earlier.join("config.toml"), "earlier").unwrap();
                  std::fs::write(earlier.join("record.toml"), "loss = 1.0").unwrap();
                  checkpoint_in(&earlier);
                  write(d, "reads.fa", ">r1\nACGTACGT\nAC9T\n");
                  let out = d.join("checkpoints").display().to_string();
                  exp(d, &pretrain_toml("reads.fa", &format!("[run]\nout_dir = \"{out}\"\n")))
              },
              call: run, needles: &["reads.fa:3:3", "r1", "remove"] },
        Row { name: "resume-bad-fasta-keeps-checkpoint", input: "resuming a run whose FASTA now has a digit",
              make: |d| {
                  let earlier = d.join("checkpoints/t/20260101-000000");
                  write(d, "reads.fa", ">r1\nACGTACGT\nAC9T\n");
                  let out = d.join("checkpoints").display().to_string();
                  let body = pretrain_toml("reads.fa", &format!("[run]\nout_dir = \"{out}\"\n"));
                  write(&earlier, "config.toml", &body);
                  checkpoint_in(&earlier);
                  exp(d, &body)
              },
              call: resume, needles: &["reads.fa:3:3", "remove"] },
    ]
}

/// Rows whose folder holds earlier outputs besides the input, and files of them (relative to the
/// row's folder) that must exist before the failing call and keep their bytes after it.
const KEEPS: &[(&str, &[&str])] = &[
    ("checkpoint-crc-mismatch", &["run/step_0000010/optim.mpk", "run/step_0000010/manifest.toml", "run/config.toml"]),
    ("export-run-only-corrupt", &["export/model.safetensors", "export/gfm_export.json", "run/step_0000010/model.mpk"]),
    ("export-step-corrupt", &["export/model.safetensors", "export/gfm_export.json", "run/step_0000010/state.toml"]),
    ("export-weights-undecodable", &["run/step_0000010/model.mpk", "run/tokenizer.json"]),
    ("export-into-foreign-folder", &["mine/notes.txt"]),
    ("run-bad-fasta-keeps-earlier-run", &[
        "checkpoints/t/20260101-000000/config.toml",
        "checkpoints/t/20260101-000000/record.toml",
        "checkpoints/t/20260101-000000/step_0000010/model.mpk",
        "checkpoints/t/20260101-000000/step_0000010/manifest.toml",
    ]),
    ("resume-bad-fasta-keeps-checkpoint", &["checkpoints/t/20260101-000000/step_0000010/model.mpk", "checkpoints/t/20260101-000000/config.toml"]),
];

#[test]
fn every_bad_input_names_the_file_and_the_fix_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = rows();
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (k, row) in rows.iter().enumerate() {
        assert!(names.insert(row.name), "duplicate row name {}", row.name);
        let dir = tmp.path().join(format!("{k:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = (row.make)(&dir);
        let before = snapshot(&dir);
        for (_, files) in KEEPS.iter().filter(|(name, _)| *name == row.name) {
            for f in *files {
                assert!(before.contains_key(&dir.join(f)), "{}: {f} was not written before the call", row.name);
            }
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (row.call)(&path)));
        let problem = match outcome {
            Err(_) => Some("panicked".to_string()),
            Ok(Ok(())) => Some("was accepted".to_string()),
            Ok(Err(msg)) => {
                if std::env::var_os("GFM_CATALOGUE_SHOW").is_some() {
                    eprintln!("{}: {msg}\n", row.name);
                }
                let missing: Vec<&str> = row.needles.iter().copied().filter(|n| !msg.contains(n)).collect();
                (!missing.is_empty()).then(|| format!("message lacks {missing:?}: {msg}"))
            }
        };
        let lost: Vec<String> = before
            .iter()
            .filter(|(p, bytes)| std::fs::read(p).ok().as_ref() != Some(*bytes))
            .map(|(p, _)| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        if let Some(problem) = problem {
            failures.push(format!("{} ({}): {problem}", row.name, row.input));
        }
        if !lost.is_empty() {
            failures.push(format!("{} ({}): changed or removed {lost:?}", row.name, row.input));
        }
    }
    assert!(rows.len() >= 45, "{} rows", rows.len());
    assert!(KEEPS.iter().all(|(name, _)| names.contains(name)), "a KEEPS entry names no row");
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}
