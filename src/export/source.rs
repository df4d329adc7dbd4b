//! Where a run's starting weights come from (`model.init_from`, `gfm embed`, `gfm eval`): a gfm
//! run directory (or its experiment's directory, or one of its `step_NNNNNNN` checkpoints), or a
//! directory [`super::load_pretrained`] reads (a gfm export, a Hugging Face OLMo directory, a
//! released Omni-DNA `hf_olmo` checkpoint).
//!
//! Every run writes `model.toml`, the exact shape of its checkpoints (after any vocabulary
//! expansion), so a run directory can be loaded without re-resolving its experiment. Which run
//! and which checkpoint a path names follows [`crate::checkpoint::locate`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use crate::checkpoint::locate::{has_checkpoint, locate, Located};
use crate::checkpoint::CheckpointError;
use crate::model::{OlmoConfig, OlmoModel};

/// The marker file of a run whose checkpoints hold an OLMo model.
pub const MODEL_TOML: &str = "model.toml";

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {message}")]
    Run { path: PathBuf, message: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Import(#[from] super::ImportError),
}

/// A gfm source: the run directory and, if one step was named, that checkpoint directory.
fn gfm_source(dir: &Path) -> Option<Located> {
    locate(dir, MODEL_TOML, has_checkpoint)
}

/// `dir` itself, or, for an experiment's directory, the newest run in it with a checkpoint.
pub fn concrete_source(dir: &Path) -> PathBuf {
    match gfm_source(dir) {
        Some(Located { run, step: None }) => run,
        Some(Located { step: Some(step), .. }) => step,
        None => dir.to_path_buf(),
    }
}

/// Write the shape of a run's checkpoints.
pub fn write_model_toml(run_dir: &Path, cfg: &OlmoConfig) -> std::io::Result<()> {
    let text = toml::to_string_pretty(cfg).map_err(std::io::Error::other)?;
    std::fs::write(run_dir.join(MODEL_TOML), text)
}

fn read_model_toml(run_dir: &Path) -> Result<OlmoConfig, SourceError> {
    let path = run_dir.join(MODEL_TOML);
    let err = |message: String| SourceError::Run { path: path.clone(), message };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

/// The model shape stored at `dir`, whatever kind of source it is.
pub fn read_config(dir: &Path) -> Result<OlmoConfig, SourceError> {
    match gfm_source(dir) {
        Some(found) => read_model_toml(&found.run),
        None => Ok(super::read_config(dir)?),
    }
}

/// The tokenizer that belongs with the weights at `dir`, if it ships one.
pub fn tokenizer_path(dir: &Path) -> Option<PathBuf> {
    let run = gfm_source(dir).map(|found| found.run).unwrap_or_else(|| dir.to_path_buf());
    Some(run.join("tokenizer.json")).filter(|p| p.is_file())
}

/// Load the weights at `dir` on `device`. A run directory means its best checkpoint by
/// validation metric when it has one (finetuning), else its newest; a corrupted checkpoint passed
/// over on the way is reported to `warn` (the caller's console and run log).
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device, warn: &mut dyn FnMut(&str)) -> Result<(OlmoConfig, OlmoModel<B>), SourceError> {
    let Some(found) = gfm_source(dir) else {
        return Ok(super::load_pretrained::<B>(dir, device)?);
    };
    let cfg = read_model_toml(&found.run)?;
    let ck = found.checkpoint(|w| warn(w))?;
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.model, device)
        .map_err(|e| SourceError::Run { path: ck.dir.clone(), message: e.to_string() })?;
    let model = cfg.init::<B>(device).load_record(record);
    Ok((cfg, model))
}
