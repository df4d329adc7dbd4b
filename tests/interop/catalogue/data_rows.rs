//! Catalogue rows for the data readers: FASTA, sequence tables, Genomic Benchmarks, NT,
//! embedding tables (npy, npz, safetensors, parquet, CSV/TSV), MNIST IDX and PNG.

use super::inputs::*;
use super::Row;

pub(super) fn rows() -> Vec<Row> {
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
        Row { name: "parquet-thrift-hang", input: "a footer with thrift lists the parquet crate would skip for ever (cargo fuzz)",
              make: |d| write(d, "emb.parquet", std::fs::read(root().join("tests/fixtures/fuzz/parquet_thrift_skip_bool_list.parquet")).unwrap()),
              call: embeddings, needles: &["emb.parquet", "footer (file metadata) is malformed", "re-export"] },
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
    ]
}
