//! Run-record facts: what ran, on which code and machine, for how long, how fast, and at
//! what energy cost. Saved as `checkpoints/<run>/record.toml` at the start of a run
//! (status "running") and rewritten at its end.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use crate::logging::energy::{EnergyMeter, EnergySources};
use crate::logging::machine::command_stdout;
pub use crate::logging::machine::{cpu_model, cpu_threads, gpu_model, host_name, peak_memory_gib};

/// Errors from loading a run record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read run record {path}: {source} (check the run directory path)")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("run record {path} is not a valid record.toml: {source} (was it edited by hand? fix the named key or delete the file)")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

/// Everything needed to say what a run was and what it cost. Missing keys load as defaults,
/// so records written by older versions still load.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
#[serde(default)]
pub struct RunRecord {
    pub experiment: String,
    pub run_id: String,
    /// Task kind, e.g. "pretrain", "finetune", "vqvae", "mmidas".
    pub kind: String,
    pub git_commit: Option<String>,
    /// Whether `git status --porcelain` listed anything (untracked files included).
    pub git_dirty: Option<bool>,
    pub seed: u64,
    /// Local time with UTC offset, RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// "running" | "completed" | "failed: ..." | "stopped_nonfinite_loss"
    pub status: String,
    pub host: String,
    pub cpu_model: String,
    pub cpu_threads: usize,
    pub gpu_model: Option<String>,
    pub backend: String,
    /// `run.precision` of the run ("f32" or "bf16"); empty in records older than the setting.
    pub precision: String,
    /// The device of each data-parallel replica (one entry without data parallelism).
    pub devices: Vec<String>,
    pub wall_time_s: f64,
    pub steps: u64,
    pub tokens_seen: u64,
    pub tokens_per_s: f64,
    /// Peak resident memory of this process (host RAM, not GPU memory).
    pub peak_memory_gib: f64,
    pub energy_kwh: Option<f64>,
    /// How `energy_kwh` was obtained; see [`EnergyMeter`].
    pub energy_method: String,
    pub final_metrics: BTreeMap<String, f64>,
    pub resumed_from_step: Option<u64>,
}

impl RunRecord {
    /// A "running" record with the start time, git state and machine facts filled in.
    pub fn begin(
        experiment: &str,
        run_id: &str,
        kind: &str,
        seed: u64,
        backend: &str,
        repo_dir: &Path,
    ) -> Self {
        let (git_commit, git_dirty) = git_state(repo_dir);
        RunRecord {
            experiment: experiment.to_string(),
            run_id: run_id.to_string(),
            kind: kind.to_string(),
            git_commit,
            git_dirty,
            seed,
            started_at: now_rfc3339(),
            status: "running".to_string(),
            host: host_name(),
            cpu_model: cpu_model(),
            cpu_threads: cpu_threads(),
            gpu_model: gpu_model(),
            backend: backend.to_string(),
            ..Default::default()
        }
    }

    /// Writes the record as TOML, atomically: a sibling `.tmp` file, synced, then renamed.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(io::Error::other)?;
        let mut tmp_name = path
            .file_name()
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "record path has no file name")
            })?
            .to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    }

    /// Reads a record written by [`RunRecord::save`].
    pub fn load(path: &Path) -> Result<Self, RecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| RecordError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Now, local time with UTC offset, to the second (RFC 3339).
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `(HEAD commit, dirty)` via `git rev-parse HEAD` / `git status --porcelain`;
/// each `None` if not a repo, git is missing, or (for the commit) there are no commits yet.
pub fn git_state(repo_dir: &Path) -> (Option<String>, Option<bool>) {
    let commit = command_stdout("git", &["rev-parse", "HEAD"], Some(repo_dir))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let dirty = command_stdout("git", &["status", "--porcelain"], Some(repo_dir))
        .map(|s| !s.trim().is_empty());
    (commit, dirty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_toml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.toml");
        let mut record = RunRecord::begin("smoke", "smoke-001", "pretrain", 42, "flex", dir.path());
        record.status = "completed".into();
        record.ended_at = Some(now_rfc3339());
        record.wall_time_s = 12.5;
        record.steps = 100;
        record.tokens_seen = 800_000;
        record.energy_kwh = Some(0.0123);
        record.final_metrics.insert("train/loss".into(), 1.25);
        record.final_metrics.insert("eval/mcc".into(), 0.5);
        record.resumed_from_step = Some(50);
        record.save(&path).expect("save");
        record.save(&path).expect("overwrite");
        assert!(!dir.path().join("record.toml.tmp").exists());

        let back = RunRecord::load(&path).expect("load");
        assert_eq!(
            toml::to_string(&back).expect("ser"),
            toml::to_string(&record).expect("ser")
        );
        assert_eq!(back.final_metrics["eval/mcc"], 0.5);
    }

    #[test]
    fn load_of_a_broken_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.toml");
        std::fs::write(&path, "steps = \"many\"").expect("write");
        let err = RunRecord::load(&path).expect_err("must fail");
        assert!(matches!(err, RecordError::Parse { .. }));
        assert!(err.to_string().contains("record.toml"));
    }

    #[test]
    fn git_state_is_none_outside_a_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A temp dir could sit inside a checkout on unusual machines; only assert when it does not.
        if command_stdout("git", &["rev-parse", "--git-dir"], Some(dir.path())).is_none() {
            assert_eq!(git_state(dir.path()), (None, None));
        }
    }
}
