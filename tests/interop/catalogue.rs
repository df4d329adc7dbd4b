//! The bad-input catalogue (issue 12, item 13): one table of malformed inputs across every reader
//! gfm has. Each row writes its input into a fresh folder, calls the public reader or command on
//! it, and checks that the error (as `gfm` prints it, [`gfm::train::error::report`]) names the
//! file (and the line, key or column where there is one) and says what to do. Every file in the
//! folder before the failing call (the input, and for some rows an earlier run, checkpoint or
//! export) must keep its bytes: a refused input never costs what was already written.
//! `GFM_CATALOGUE_SHOW=1 cargo test --test interop catalogue -- --nocapture` prints every message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[path = "catalogue/data_rows.rs"]
mod data_rows;
#[path = "catalogue/inputs.rs"]
mod inputs;
#[path = "catalogue/model_rows.rs"]
mod model_rows;

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
    let rows: Vec<Row> = data_rows::rows().into_iter().chain(model_rows::rows()).collect();
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
