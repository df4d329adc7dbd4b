//! One run, one directory: `<out_dir>/<experiment>/<run id>/` with `config.toml` (written first),
//! `record.toml`, `train.log`, `tensorboard/`, `tokenizer.json` and `step_NNNNNNN/` checkpoints.
//! This file creates or finds that directory and writes the record; the kinds fill in the rest.

use std::fs;
use std::path::{Path, PathBuf};

use super::checkpoint::{self, LoadedCheckpoint};
use super::record::{now_rfc3339, RunRecord};
use crate::config::Resolved;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create run directory {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("nothing to resume: no run of `{name}` under {dir} has a complete checkpoint{}; start it without --resume", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    NothingToResume { name: String, dir: PathBuf, detail: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    Train(#[from] super::trainer::TrainError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    #[error(transparent)]
    Log(#[from] crate::logging::LogError),
    #[error("{0}")]
    Other(String),
}

/// A prepared run directory and, when resuming, its newest complete checkpoint.
pub struct RunDir {
    pub path: PathBuf,
    pub run_id: String,
    pub resume: Option<LoadedCheckpoint>,
}

impl RunDir {
    /// Create a fresh run directory (and write `config.toml` before anything else), or, with
    /// `resume`, find the newest run of this experiment that has a complete checkpoint.
    pub fn prepare(resolved: &Resolved, resume: bool, warn: &mut dyn FnMut(&str)) -> Result<Self, RunError> {
        let exp = &resolved.experiment;
        let base = exp.run.out_dir.join(&exp.name);
        if resume {
            let mut runs: Vec<PathBuf> = fs::read_dir(&base)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            runs.sort();
            let mut detail = Vec::new();
            for run in runs.iter().rev() {
                match checkpoint::load_newest(run, &mut *warn) {
                    Ok(ck) => {
                        let run_id = run.file_name().unwrap_or_default().to_string_lossy().to_string();
                        check_same_config(run, resolved, warn);
                        return Ok(Self { path: run.clone(), run_id, resume: Some(ck) });
                    }
                    Err(e) => detail.push(e.to_string()),
                }
            }
            return Err(RunError::NothingToResume { name: exp.name.clone(), dir: base, detail: detail.join("; ") });
        }
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let (mut run_id, mut n) = (stamp.clone(), 1);
        while base.join(&run_id).exists() {
            n += 1;
            run_id = format!("{stamp}-{n}");
        }
        let path = base.join(&run_id);
        fs::create_dir_all(&path).map_err(|source| RunError::Create { path: path.clone(), source })?;
        let (commit, _) = super::record::git_state(Path::new("."));
        fs::write(path.join("config.toml"), resolved.to_toml(commit.as_deref()))
            .map_err(|source| RunError::Create { path: path.join("config.toml"), source })?;
        Ok(Self { path, run_id, resume: None })
    }

    pub fn record_path(&self) -> PathBuf {
        self.path.join("record.toml")
    }
}

/// Warn when the experiment being resumed no longer matches the run's saved config.
fn check_same_config(run: &Path, resolved: &Resolved, warn: &mut dyn FnMut(&str)) {
    let Ok(saved) = crate::config::load_experiment(&run.join("config.toml"), &[]) else {
        warn(&format!("warning: cannot read {}/config.toml to compare with the experiment", run.display()));
        return;
    };
    let strip = |r: &Resolved| {
        let mut e = r.experiment.clone();
        e.run.resume = false;
        e.train.duration = crate::config::Duration::Steps(1);
        toml::to_string(&e).unwrap_or_default()
    };
    if strip(&saved) != strip(resolved) {
        warn("warning: the experiment differs from the config the run started with (beyond run.resume and train.duration); \
              the resumed run uses the new values and will not match an uninterrupted one");
    }
}

/// Finish a record with the outcome and write it.
pub fn finish_record(record: &mut RunRecord, path: &Path, status: &str) {
    record.status = status.to_string();
    record.ended_at = Some(now_rfc3339());
    record.peak_memory_gib = super::record::peak_memory_gib();
    if let Err(e) = record.save(path) {
        eprintln!("warning: cannot write {}: {e}", path.display());
    }
}
