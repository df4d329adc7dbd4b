//! What a directory holds, by one rule. Every command that takes "a run" (`model.init_from`,
//! `needle.vqvae`, `gfm export`, `gfm image`, `--resume`, MMIDAS rounds) reads a path the same way:
//!
//! - a **run directory** holds its kind's marker file (`model.toml`, `vqvae.toml`,
//!   `classifier.toml`, `config.toml`);
//! - an **experiment directory** (`checkpoints/<name>`) stands for its newest run: run ids are
//!   UTC time stamps, so the greatest name that qualifies is the newest;
//! - a **checkpoint directory** (`step_NNNNNNN`, holding `manifest.toml`) belongs to the run that
//!   is its parent (`step_N`) or grandparent (`best/step_N`).
//!
//! Within a run, the checkpoint to use is the best by the task's selection metric (`best/`) when
//! there is one, else the newest that verifies ([`best_or_newest`]).

use std::path::{Path, PathBuf};

use super::{list, load, load_newest, CheckpointError, LoadedCheckpoint};

/// Sub-directory of a run holding its best checkpoint by the task's selection metric.
pub const BEST_DIR: &str = "best";

/// The file every checkpoint directory holds.
const MANIFEST: &str = "manifest.toml";

/// A run directory and, when the path named one checkpoint, that checkpoint's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub run: PathBuf,
    pub step: Option<PathBuf>,
}

/// The sub-directories of `dir`, newest run first (run ids sort by time).
pub fn runs_newest_first(dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    runs.sort();
    runs.reverse();
    runs
}

/// True when `dir` holds at least one `step_NNNNNNN` directory.
pub fn has_checkpoint(dir: &Path) -> bool {
    !list(dir).is_empty()
}

/// What `path` names, by the rule above: a run holding `marker`; else the newest run inside it
/// that holds `marker` and satisfies `complete`; else, for a checkpoint directory, its run.
/// `None` when `path` is none of these.
pub fn locate(path: &Path, marker: &str, complete: impl Fn(&Path) -> bool) -> Option<Located> {
    if path.join(marker).is_file() {
        return Some(Located { run: path.to_path_buf(), step: None });
    }
    if let Some(run) = runs_newest_first(path).into_iter().find(|p| p.join(marker).is_file() && complete(p)) {
        return Some(Located { run, step: None });
    }
    if !path.join(MANIFEST).is_file() {
        return None;
    }
    let parent = path.parent()?;
    let run = [Some(parent), parent.parent()].into_iter().flatten().find(|d| d.join(marker).is_file())?;
    Some(Located { run: run.to_path_buf(), step: Some(path.to_path_buf()) })
}

/// The checkpoint a run stands for: its best (`best/`) when it has one, else its newest that
/// verifies; corrupted ones are reported through `warn` and skipped.
pub fn best_or_newest(run: &Path, warn: impl FnMut(&str)) -> Result<LoadedCheckpoint, CheckpointError> {
    let best = run.join(BEST_DIR);
    let dir = if has_checkpoint(&best) { best } else { run.to_path_buf() };
    load_newest(&dir, warn)
}

impl Located {
    /// The named checkpoint, or the one the run stands for ([`best_or_newest`]).
    pub fn checkpoint(&self, warn: impl FnMut(&str)) -> Result<LoadedCheckpoint, CheckpointError> {
        match &self.step {
            Some(step) => load(step),
            None => best_or_newest(&self.run, warn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(dir: &Path, name: &str, marker: &str, step: bool) -> PathBuf {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(marker), "").unwrap();
        if step {
            let s = run.join("step_0000005");
            std::fs::create_dir_all(&s).unwrap();
            std::fs::write(s.join(MANIFEST), "").unwrap();
        }
        run
    }

    #[test]
    fn an_experiment_directory_stands_for_its_newest_complete_run() {
        let dir = tempfile::tempdir().unwrap();
        let old = run_with(dir.path(), "20250101-000000", "model.toml", true);
        run_with(dir.path(), "20250102-000000", "model.toml", false);
        let found = locate(dir.path(), "model.toml", has_checkpoint).unwrap();
        assert_eq!(found, Located { run: old.clone(), step: None });
        // The run itself, and one of its checkpoints.
        assert_eq!(locate(&old, "model.toml", has_checkpoint).unwrap().run, old);
        let step = old.join("step_0000005");
        assert_eq!(locate(&step, "model.toml", has_checkpoint).unwrap(), Located { run: old.clone(), step: Some(step) });
        assert_eq!(locate(dir.path(), "vqvae.toml", has_checkpoint), None);
    }
}
