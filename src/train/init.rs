//! Where a run's starting weights come from (`model.init_from`): a gfm run directory or one of its
//! `step_NNNNNNN` checkpoints, or a directory `crate::export::load_pretrained` reads (a gfm export,
//! a Hugging Face OLMo directory, a released Omni-DNA `hf_olmo` checkpoint).
//!
//! Every run writes `model.toml`, the exact shape of its checkpoints (after any vocabulary
//! expansion), so a run directory can be loaded without re-resolving its experiment.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use super::checkpoint;
use crate::model::{OlmoConfig, OlmoModel};

pub const MODEL_TOML: &str = "model.toml";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path}: {message}")]
    Run { path: PathBuf, message: String },
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Import(#[from] crate::export::ImportError),
}

/// A gfm source: the run directory and, if one step was named, that checkpoint directory.
/// An experiment's directory (`checkpoints/<name>`) stands for its newest run.
fn gfm_source(dir: &Path) -> Option<(PathBuf, Option<PathBuf>)> {
    if dir.join(MODEL_TOML).is_file() {
        return Some((dir.to_path_buf(), None));
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(MODEL_TOML).is_file() && !checkpoint::list(p).is_empty())
        .collect();
    runs.sort();
    if let Some(newest) = runs.pop() {
        return Some((newest, None));
    }
    // A checkpoint directory: its run is the parent (`step_N`) or grandparent (`best/step_N`).
    if !dir.join("manifest.toml").is_file() {
        return None;
    }
    let parent = dir.parent()?;
    let run = [Some(parent), parent.parent()].into_iter().flatten().find(|d| d.join(MODEL_TOML).is_file())?;
    Some((run.to_path_buf(), Some(dir.to_path_buf())))
}

/// `dir` itself, or, for an experiment's directory, the newest run in it with a checkpoint.
pub fn concrete_source(dir: &Path) -> PathBuf {
    match gfm_source(dir) {
        Some((run, None)) => run,
        Some((_, Some(step))) => step,
        None => dir.to_path_buf(),
    }
}

/// Write the shape of a run's checkpoints.
pub fn write_model_toml(run_dir: &Path, cfg: &OlmoConfig) -> std::io::Result<()> {
    let text = toml::to_string_pretty(cfg).map_err(std::io::Error::other)?;
    std::fs::write(run_dir.join(MODEL_TOML), text)
}

fn read_model_toml(run_dir: &Path) -> Result<OlmoConfig, InitError> {
    let path = run_dir.join(MODEL_TOML);
    let err = |message: String| InitError::Run { path: path.clone(), message };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

/// The model shape stored at `dir`, whatever kind of source it is.
pub fn read_config(dir: &Path) -> Result<OlmoConfig, InitError> {
    match gfm_source(dir) {
        Some((run, _)) => read_model_toml(&run),
        None => Ok(crate::export::read_config(dir)?),
    }
}

/// The tokenizer that belongs with the weights at `dir`, if it ships one.
pub fn tokenizer_path(dir: &Path) -> Option<PathBuf> {
    let run = gfm_source(dir).map(|(run, _)| run).unwrap_or_else(|| dir.to_path_buf());
    Some(run.join("tokenizer.json")).filter(|p| p.is_file())
}

/// Load the weights at `dir` on `device`.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(OlmoConfig, OlmoModel<B>), InitError> {
    let Some((run, step)) = gfm_source(dir) else {
        return Ok(crate::export::load_pretrained::<B>(dir, device)?);
    };
    let cfg = read_model_toml(&run)?;
    // A run directory means its best checkpoint by validation metric when it has one (finetuning),
    // else its newest.
    let best = run.join(super::trainer::BEST_DIR);
    let ck = match step {
        Some(step) => checkpoint::load(&step)?,
        None if !checkpoint::list(&best).is_empty() => checkpoint::load_newest(&best, |w| eprintln!("{w}"))?,
        None => checkpoint::load_newest(&run, |w| eprintln!("{w}"))?,
    };
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.model, device)
        .map_err(|e| InitError::Run { path: ck.dir.clone(), message: e.to_string() })?;
    let model = cfg.init::<B>(device).load_record(record);
    Ok((cfg, model))
}

/// The pretrained model at `init` (`model.init_from`) with its vocabulary expanded to
/// `vocab_size` (old rows kept, new rows the mean: `model::expand::expand_vocab`), as every
/// finetuning kind starts.
pub fn load_expanded<B: Backend>(init: &Path, vocab_size: usize, device: &B::Device) -> Result<OlmoModel<B>, crate::train::run::RunError> {
    use crate::train::run::RunError;
    let (_, base) = load_model::<B>(init, device).map_err(|e| RunError::Other(format!("model.init_from: {e}")))?;
    crate::model::expand::expand_vocab(base, vocab_size).map_err(|e| RunError::Other(e.to_string()))
}
