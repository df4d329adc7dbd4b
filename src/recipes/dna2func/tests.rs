//! A whole DNA2Func run on a tiny pretrained model and five-line parquet tables.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::load_experiment;
use crate::data::dna2text::write_table;
use crate::tokenizer::DnaTokenizer;

const ANSWERS: [&str; 3] = ["alzheimer's disease", "parkinson's disease", "melanoma"];

/// A table of `n` variants (400 bp, SNV at index 200) whose answer follows the gene.
fn write_split(path: &Path, n: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut q, mut a, mut r, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % ANSWERS.len();
        let reference: Vec<u8> = (0..400).map(|_| b"ACGT"[rng.random_range(0..4)]).collect();
        let mut variant = reference.clone();
        variant[200] = if reference[200] == b'A' { b'C' } else { b'A' };
        q.push(format!("Chromosome Number: 1\nGiven this context, what is the effect of this GENE{class} allele?"));
        a.push(ANSWERS[class].to_string());
        r.push(String::from_utf8(reference).expect("ascii"));
        v.push(String::from_utf8(variant).expect("ascii"));
    }
    fn col(x: &[String]) -> Vec<&str> {
        x.iter().map(String::as_str).collect()
    }
    let columns = [("question", col(&q)), ("answer", col(&a)), ("reference_sequence", col(&r)), ("variant_sequence", col(&v))];
    write_table(path, &columns, None);
}

fn run_dir(out: &Path, name: &str) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join(name)).expect("runs").map(|e| e.expect("entry").path()).collect();
    runs.into_iter().max().expect("one run")
}

#[test]
fn dna2func_tiny_run_trains_generates_and_scores_against_the_majority_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("checkpoints");
    let fasta = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dna/markers_small.fa");
    let pre = format!(
        "name = \"pre\"\nkind = \"pretrain\"\nseed = 5\n[model]\npreset = \"tiny\"\nd_model = 16\nn_heads = 2\nvocab_size = 64\ncontext = 48\n\
         [tokenizer]\nvocab_size = 64\ntrain_bp = 20000\n[data]\ntrain = [\"{fasta}\"]\n\
         [train]\nbatch_size = 4\nduration = {{ steps = 2 }}\nwarmup_steps = 1\neval_every = 0\ncheckpoint_every = 2\n[run]\nout_dir = \"{}\"\n",
        out.display()
    );
    std::fs::write(dir.path().join("pre.toml"), pre).expect("write");
    crate::recipes::run(&load_experiment(&dir.path().join("pre.toml"), &[]).expect("pre config"), false).expect("pretrain");
    let pre_run = run_dir(&out, "pre");

    for (split, n, seed) in [("train", 12, 1), ("val", 3, 2), ("test", 4, 3)] {
        write_split(&dir.path().join(format!("{split}.parquet")), n, seed);
    }
    let body = format!(
        r#"name = "d2f"
kind = "dna2func"
seed = 3
[model]
init_from = "{init}"
[dna2func]
train = "train.parquet"
valid = "val.parquet"
test = "test.parquet"
window_bp = 40
question = "gene"
sequences = "reference_and_variant"
max_answer_tokens = 8
text_vocab_size = 300
[train]
batch_size = 4
duration = {{ steps = 6 }}
lr = 3e-3
warmup_steps = 1
eval_every = 3
checkpoint_every = 3
log_every = 3
[run]
out_dir = "{out}"
"#,
        init = pre_run.display(),
        out = out.display()
    );
    std::fs::write(dir.path().join("d2f.toml"), body).expect("write");
    let r = load_experiment(&dir.path().join("d2f.toml"), &[]).expect("config");
    let s = crate::recipes::run(&r, false).expect("dna2func run");
    let run = s.run_dir;

    // DNA ids are unchanged by the expansion; text tokens sit after them.
    let old = DnaTokenizer::from_file(&pre_run.join("tokenizer.json")).expect("old");
    let new = DnaTokenizer::from_file(&run.join("tokenizer.json")).expect("new");
    assert_eq!(new.encode_dna(b"ACGTTGCAAC").expect("enc"), old.encode_dna(b"ACGTTGCAAC").expect("enc"));
    assert!(new.token_to_id("[GENE_GENE1]").expect("gene token") as usize >= old.vocab_size());
    assert!(run.join(super::TEXT_TOKENIZER).is_file());

    // Predictions for every test record, results with the model and the baseline.
    let tsv = std::fs::read_to_string(run.join("eval/predictions.tsv")).expect("tsv");
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "id\treference\tprediction");
    assert_eq!(lines.len(), 5, "{tsv}");
    assert!(lines[1].starts_with("test-0\t"), "{tsv}");
    let results: toml::Table = toml::from_str(&std::fs::read_to_string(run.join("eval/results.toml")).expect("toml")).expect("parse");
    assert_eq!(results["model"]["n"].as_integer(), Some(4));
    // Train answers cycle over three classes (4, 4, 4): the tie goes to the first alphabetically.
    assert_eq!(results["majority_baseline"]["answer"].as_str(), Some("alzheimer's disease"));
    assert_eq!(results["majority_baseline"]["exact_match"].as_float(), Some(0.5)); // test-0 and test-3
    assert!(std::fs::read_to_string(run.join("results.md")).expect("md").contains("| majority answer"));
    assert!(s.metrics.contains_key("test/token_f1") && s.metrics.contains_key("test_majority/bleu4"));
    assert!(!crate::checkpoint::list(&run.join("best")).is_empty());
}
