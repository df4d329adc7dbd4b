//! `gfm eval <checkpoint> <experiment.toml>`: score any finetuned checkpoint on the `[[tasks]]` of
//! an experiment file, by generation, exactly as a finetune run scores its test split.

use std::path::{Path, PathBuf};

use burn::backend::Flex;

use super::data::{label_token, load_task, task_token};
use crate::config::Resolved;
use crate::data::sft::SftFormat;
use crate::eval::classify::{evaluate_task, TaskEval, TaskPrompt};
use crate::eval::results::write_results;
use crate::tokenizer::DnaTokenizer;
use crate::export::source::{load_model, tokenizer_path};
use crate::train::session::RunError;

/// Evaluate `checkpoint` (a run, step, or export directory) on `split` (`test` or `valid`) of
/// every task in `spec`; writes `results.toml` and `results.md` into `out`.
pub fn eval_checkpoint(checkpoint: &Path, spec: &Resolved, split: &str, out: &Path) -> Result<Vec<TaskEval>, RunError> {
    let exp = &spec.experiment;
    let ft = &exp.finetune;
    let tok_path = tokenizer_path(checkpoint)
        .ok_or_else(|| RunError::NoTokenizer { beside: checkpoint.to_path_buf() })?;
    let device = Default::default();
    let (cfg, model) = load_model::<Flex>(checkpoint, &device, &mut |w| eprintln!("{w}")).map_err(RunError::Source)?;
    let tok = DnaTokenizer::from_file_for_model(&tok_path, cfg.vocab_size)?;
    let mut evals = Vec::new();
    for task_spec in &exp.tasks {
        let task = load_task(task_spec, ft.valid_fraction, exp.seed)?;
        let missing = |t: &str| RunError::Task {
            task: task.name.clone(),
            message: format!("{} has no token {t}: it was not finetuned on this task with these labels", checkpoint.display()),
        };
        let prompt = if ft.task_tokens {
            let t = task_token(&task.name);
            vec![tok.token_to_id(&t).ok_or_else(|| missing(&t))?]
        } else {
            Vec::new()
        };
        let mut label_ids = Vec::new();
        for l in &task.labels {
            let t = label_token(&task.name, l);
            label_ids.push(tok.token_to_id(&t).ok_or_else(|| missing(&t))?);
        }
        let format = SftFormat::new(prompt, ft.replicate, cfg.context, ft.truncation).map_err(|e| RunError::Task { task: task.name.clone(), message: e.to_string() })?;
        let seqs = if split == "valid" { &task.valid } else { &task.test };
        let p = TaskPrompt { task: &task.name, labels: &task.labels, label_ids: &label_ids, metric: task.metric, format: &format };
        let e = evaluate_task(&model, &tok, &p, seqs, exp.sft.eval_batch_size)?;
        evals.push(e);
    }
    write_results(out, &evals, &checkpoint.display().to_string(), split).map_err(|source| RunError::Write { path: out.to_path_buf(), source })?;
    Ok(evals)
}

/// Default output directory: `<run>/eval/<experiment name>-<split>/`.
pub fn default_out(checkpoint: &Path, spec: &Resolved, split: &str) -> PathBuf {
    checkpoint.join("eval").join(format!("{}-{split}", spec.experiment.name))
}
