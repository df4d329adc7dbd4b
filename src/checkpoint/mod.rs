//! Checkpoint mechanism: atomic write of a `step_NNNNNNN/` directory, verification, discovery of
//! the newest complete one, and the keep-last-N retention policy (kept apart from the writer, as
//! burn-train separates its checkpointer from its strategy).
//!
//! A checkpoint directory holds `model.mpk`, `optim.mpk` (burn named-msgpack records, full
//! precision), `state.toml` ([`TrainState`]) and `manifest.toml`, written last, listing every
//! file's size and CRC32C. It is assembled under a temporary name and renamed into place, so a
//! killed process leaves either the old set of checkpoints or the new one, never half a checkpoint.
//!
//! Which run or checkpoint a path names (an experiment's directory, a run, `best/`) is decided in
//! one place, [`locate`].

pub mod locate;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything besides weights and optimizer moments that a resumed run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps completed.
    pub step: u64,
    pub tokens_seen: u64,
    /// Data cursor: epoch number and position in that epoch's permutation of training examples.
    pub epoch: u64,
    pub cursor: u64,
    /// Randomness is reseeded from (seed, step) each step, so this pair is the RNG state.
    pub seed: u64,
    /// Wall-clock seconds spent training before this checkpoint (summed across resumes).
    pub train_time_s: f64,
    pub last_loss: f64,
    pub last_valid_loss: Option<f64>,
    /// Best value so far of the task's selection metric, and the step it was reached.
    #[serde(default)]
    pub best_select: Option<(f64, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    step: u64,
    gfm_version: String,
    files: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    name: String,
    bytes: u64,
    crc32c: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint I/O on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("checkpoint {dir} is incomplete or corrupted: {reason}; use an earlier checkpoint (given the run directory, gfm takes the newest complete one)")]
    Corrupt { dir: PathBuf, reason: String },
    #[error("no complete checkpoint under {dir}{}; run the experiment (again) until it writes one", if .skipped.is_empty() { String::new() } else { format!(" (skipped corrupted: {})", .skipped.join(", ")) })]
    NoneFound { dir: PathBuf, skipped: Vec<String> },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.to_path_buf(), source }
}

/// The contents of one verified checkpoint.
#[derive(Debug)]
pub struct LoadedCheckpoint {
    pub dir: PathBuf,
    pub model: Vec<u8>,
    pub optim: Vec<u8>,
    pub state: TrainState,
}

pub fn step_dir_name(step: u64) -> String {
    format!("step_{step:07}")
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Write a checkpoint for `state.step` under `run_dir` atomically. Returns its directory.
pub fn save(run_dir: &Path, model: &[u8], optim: &[u8], state: &TrainState) -> Result<PathBuf, CheckpointError> {
    let final_dir = run_dir.join(step_dir_name(state.step));
    let tmp = run_dir.join(format!(".{}.tmp-{}", step_dir_name(state.step), std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let state_text = toml::to_string(state).expect("TrainState serialises");
    let files: [(&str, &[u8]); 3] = [("model.mpk", model), ("optim.mpk", optim), ("state.toml", state_text.as_bytes())];
    let mut entries = Vec::new();
    for (name, bytes) in files {
        write_synced(&tmp.join(name), bytes)?;
        entries.push(ManifestEntry { name: name.into(), bytes: bytes.len() as u64, crc32c: crc32c::crc32c(bytes) });
    }
    let manifest = Manifest { step: state.step, gfm_version: env!("CARGO_PKG_VERSION").into(), files: entries };
    write_synced(&tmp.join("manifest.toml"), toml::to_string(&manifest).expect("manifest serialises").as_bytes())?;
    if final_dir.exists() {
        // Re-saving a step (e.g. after resuming from it): move the old one aside first.
        let old = run_dir.join(format!(".{}.old-{}", step_dir_name(state.step), std::process::id()));
        fs::rename(&final_dir, &old).map_err(io(&final_dir))?;
        fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    }
    if let Ok(d) = fs::File::open(run_dir) {
        let _ = d.sync_all();
    }
    Ok(final_dir)
}

/// Read and verify one checkpoint directory against its manifest.
pub fn load(dir: &Path) -> Result<LoadedCheckpoint, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt { dir: dir.to_path_buf(), reason };
    let manifest_path = dir.join("manifest.toml");
    let text = fs::read_to_string(&manifest_path)
        .map_err(|e| corrupt(format!("manifest.toml unreadable ({e}); the write did not finish")))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| corrupt(format!("manifest.toml: {e}")))?;
    let mut contents = std::collections::HashMap::new();
    for entry in &manifest.files {
        let path = dir.join(&entry.name);
        let bytes = fs::read(&path).map_err(|e| corrupt(format!("{}: {e}", entry.name)))?;
        if bytes.len() as u64 != entry.bytes {
            return Err(corrupt(format!("{} has {} bytes, manifest says {} (truncated?)", entry.name, bytes.len(), entry.bytes)));
        }
        let crc = crc32c::crc32c(&bytes);
        if crc != entry.crc32c {
            return Err(corrupt(format!("{} fails its CRC32C check ({crc:08x} != {:08x})", entry.name, entry.crc32c)));
        }
        contents.insert(entry.name.clone(), bytes);
    }
    let mut take = |name: &str| contents.remove(name).ok_or_else(|| corrupt(format!("{name} missing from manifest")));
    let model = take("model.mpk")?;
    let optim = take("optim.mpk")?;
    let state_bytes = take("state.toml")?;
    let state: TrainState = toml::from_str(&String::from_utf8_lossy(&state_bytes))
        .map_err(|e| corrupt(format!("state.toml: {e}")))?;
    if state.step != manifest.step {
        return Err(corrupt(format!("state step {} != manifest step {}", state.step, manifest.step)));
    }
    Ok(LoadedCheckpoint { dir: dir.to_path_buf(), model, optim, state })
}

/// Complete-looking checkpoint directories (`step_NNNNNNN`), newest first.
pub fn list(run_dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = fs::read_dir(run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let step = name.strip_prefix("step_")?.parse::<u64>().ok()?;
            e.path().is_dir().then_some((step, e.path()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found
}

/// The newest checkpoint that verifies; corrupted newer ones are reported through `warn` and skipped.
pub fn load_newest(run_dir: &Path, mut warn: impl FnMut(&str)) -> Result<LoadedCheckpoint, CheckpointError> {
    let mut skipped = Vec::new();
    for (_, dir) in list(run_dir) {
        match load(&dir) {
            Ok(ck) => return Ok(ck),
            Err(e) => {
                // The reason alone: the error's advice (use an earlier checkpoint) is what happens.
                let what = match &e {
                    CheckpointError::Corrupt { dir, reason } => format!("checkpoint {} is incomplete or corrupted: {reason}", dir.display()),
                    other => other.to_string(),
                };
                warn(&format!("warning: {what}; falling back to the previous checkpoint"));
                skipped.push(dir.file_name().unwrap_or_default().to_string_lossy().to_string());
            }
        }
    }
    Err(CheckpointError::NoneFound { dir: run_dir.to_path_buf(), skipped })
}

/// Retention policy: delete all but the newest `keep_last` checkpoints. Returns what was removed.
pub fn keep_last(run_dir: &Path, keep_last: usize) -> Result<Vec<PathBuf>, CheckpointError> {
    let mut removed = Vec::new();
    for (_, dir) in list(run_dir).into_iter().skip(keep_last.max(1)) {
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
        removed.push(dir);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(step: u64) -> TrainState {
        TrainState { step, tokens_seen: step * 10, epoch: 0, cursor: step, seed: 1, train_time_s: 0.5, last_loss: 1.0, last_valid_loss: None, best_select: None }
    }

    #[test]
    fn saved_checkpoint_loads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), b"model", b"optim", &state(5)).unwrap();
        let ck = load_newest(dir.path(), |_| {}).unwrap();
        assert_eq!((ck.model.as_slice(), ck.optim.as_slice()), (&b"model"[..], &b"optim"[..]));
        assert_eq!(ck.state, state(5));
    }

    #[test]
    fn corrupted_newest_checkpoint_is_reported_and_the_previous_one_used() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), b"model-a", b"optim-a", &state(5)).unwrap();
        let newest = save(dir.path(), b"model-b", b"optim-b", &state(10)).unwrap();
        // Flip one byte of the newest model file.
        let p = newest.join("model.mpk");
        let mut bytes = fs::read(&p).unwrap();
        bytes[0] ^= 0xff;
        fs::write(&p, bytes).unwrap();
        let mut warnings = Vec::new();
        let ck = load_newest(dir.path(), |w| warnings.push(w.to_string())).unwrap();
        assert_eq!(ck.state.step, 5);
        assert!(warnings[0].contains("step_0000010") && warnings[0].contains("CRC32C"), "{warnings:?}");
    }

    #[test]
    fn truncated_file_and_missing_manifest_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let d = save(dir.path(), b"model-bytes", b"optim", &state(3)).unwrap();
        fs::write(d.join("model.mpk"), b"model").unwrap();
        let err = load(&d).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        fs::remove_file(d.join("manifest.toml")).unwrap();
        let err = load(&d).unwrap_err().to_string();
        assert!(err.contains("did not finish"), "{err}");
        let err = load_newest(dir.path(), |_| {}).unwrap_err().to_string();
        assert!(err.contains("no complete checkpoint") && err.contains("step_0000003"), "{err}");
    }

    #[test]
    fn retention_keeps_the_newest_n() {
        let dir = tempfile::tempdir().unwrap();
        for s in [1, 2, 3, 4] {
            save(dir.path(), b"m", b"o", &state(s)).unwrap();
        }
        keep_last(dir.path(), 2).unwrap();
        let steps: Vec<u64> = list(dir.path()).into_iter().map(|(s, _)| s).collect();
        assert_eq!(steps, vec![4, 3]);
    }
}
