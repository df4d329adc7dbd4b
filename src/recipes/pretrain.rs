//! `kind = "pretrain"`: next-token prediction of an OLMo decoder on DNA windows.
//! Prepares tokenizer and data on the host, then runs the shared loop on the chosen backend.

use std::path::Path;
use std::time::Instant;


use super::{Context, Finished, Recipe};
use crate::config::Resolved;
use crate::data::fasta::{read_fasta, DnaRecord};
use crate::data::windows::{make_windows, split_train_valid};
use crate::export::source::{load_model, tokenizer_path, write_model_toml, MODEL_TOML};
use crate::tokenizer::DnaTokenizer;
use crate::train::lm::LmTask;
use crate::train::session::{RunError, Session};
use crate::kernels::TrainBackend;

fn read_all(paths: &[std::path::PathBuf], r: &Resolved, log: &mut dyn FnMut(&str)) -> Result<Vec<DnaRecord>, RunError> {
    let d = &r.experiment.data;
    let mut all = Vec::new();
    for p in paths {
        let (recs, stats) = read_fasta(p, d.ambiguous, d.min_bp)?;
        log(&format!(
            "read {}: {} records -> {} sequences, {} bp kept, {} ambiguous bases ({:?}), {} dropped as shorter than {} bp",
            p.display(), stats.records_read, stats.pieces, stats.bases_kept, stats.ambiguous_bases, d.ambiguous,
            stats.too_short_dropped, d.min_bp
        ));
        all.extend(recs);
    }
    Ok(all)
}

/// The tokenizer of the run: the run's own (resume), a given file, or one trained on the data.
fn tokenizer(r: &Resolved, run_dir: &Path, train: &[DnaRecord], log: &mut dyn FnMut(&str)) -> Result<DnaTokenizer, RunError> {
    let own = run_dir.join("tokenizer.json");
    if own.exists() {
        return Ok(DnaTokenizer::from_file(&own)?);
    }
    // An explicit tokenizer, else the one shipped beside `model.init_from`'s weights.
    let shipped = r.experiment.model.init_from.as_deref().and_then(tokenizer_path);
    let tok = match r.experiment.tokenizer.path.as_ref().or(shipped.as_ref()) {
        Some(p) => {
            log(&format!("tokenizer: {}", p.display()));
            DnaTokenizer::from_file(p)?
        }
        None => {
            let vocab = r.experiment.tokenizer.vocab_size.unwrap_or(r.model.vocab_size);
            let budget = r.experiment.tokenizer.train_bp;
            let mut used = 0u64;
            let seqs = train.iter().take_while(|rec| {
                let take = used < budget;
                used += rec.seq.len() as u64;
                take
            });
            let started = Instant::now();
            let tok = DnaTokenizer::train(seqs.map(|rec| rec.seq.as_slice()), vocab)?;
            log(&format!("trained BPE tokenizer: vocab {} on {} bp in {:.1}s", tok.vocab_size(), used, started.elapsed().as_secs_f64()));
            tok
        }
    };
    tok.save(&own)?;
    Ok(tok)
}

/// `kind = "pretrain"`.
pub struct Pretrain;

/// Tokenised windows and the number of steps they make.
pub struct Windows {
    task: LmTask,
    total_steps: u64,
}

impl Recipe for Pretrain {
    type Prepared = Windows;

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Windows, RunError> {
        let exp = &resolved.experiment;
        let run_path = session.run_dir.path.clone();
        let mut say = |line: &str| session.say(line);
        let train_records = read_all(&exp.data.train, resolved, &mut say)?;
        let tok = tokenizer(resolved, &run_path, &train_records, &mut say)?;
        if tok.vocab_size() > resolved.model.vocab_size {
            return Err(RunError::TokenizerTooLarge { tokens: tok.vocab_size(), vocab_size: resolved.model.vocab_size });
        }
        let ctx = resolved.model.context;
        let d = &exp.data;
        let mut windows = make_windows(&train_records, &tok, ctx, d.min_tokens)?;
        let (train_idx, valid_idx) = if d.valid.is_empty() {
            split_train_valid(windows.len(), d.valid_fraction, exp.seed)
        } else {
            let valid_records = read_all(&d.valid, resolved, &mut say)?;
            let n_train = windows.len();
            windows.extend(make_windows(&valid_records, &tok, ctx, d.min_tokens)?);
            ((0..n_train).collect(), (n_train..windows.len()).collect())
        };
        let mean_len = windows.iter().map(|w| w.len() as f64).sum::<f64>() / windows.len().max(1) as f64;
        say(&format!(
            "data: {} windows of <= {ctx} tokens (mean {mean_len:.1}); {} train, {} valid",
            windows.len(), train_idx.len(), valid_idx.len()
        ));
        let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
        let total = exp.train.duration.steps(train_idx.len(), mean_len - 1.0, seqs_per_step);
        say(&format!(
            "model: {} parameters; {} steps of {} sequences ({} micro-batches of {})",
            resolved.model.num_params(), total, seqs_per_step, exp.train.grad_accum, exp.train.batch_size
        ));
        write_model_toml(&run_path, &resolved.model).map_err(|source| RunError::Write { path: run_path.join(MODEL_TOML), source })?;
        Ok(Windows { task: LmTask { windows, train_idx, valid_idx }, total_steps: total })
    }

    fn train<B: TrainBackend>(prepared: Windows, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let exp = ctx.experiment();
        let model = match &exp.model.init_from {
            Some(dir) => {
                let device = ctx.device.clone();
                load_model::<B>(dir, &device, &mut |w| ctx.say(w)).map_err(RunError::InitFrom)?.1
            }
            None => ctx.resolved.model.init::<B>(&ctx.device),
        };
        let (_model, outcome) = ctx.fit(&prepared.task, model, prepared.total_steps)?;
        Ok(Finished { outcome, metrics: Default::default(), report: String::new() })
    }
}
