//! Catalogue rows for tokenizers, checkpoints, exports, experiment files and runs.

use super::inputs::*;
use super::Row;

pub(super) fn rows() -> Vec<Row> {
    vec![
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
              call: tokenizer, needles: &["tokenizer.json", "[UNK] has id 999", "retrain"] },
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
