//! `kind = "pretrain"`: next-token prediction of an OLMo decoder on DNA windows.
//! Prepares tokenizer and data on the host, then runs the shared loop on the chosen backend.

use std::path::Path;
use std::time::Instant;


use super::checkpoint::LoadedCheckpoint;
use super::lm::LmTask;
use super::run::{RunError, Session};
pub use super::run::RunSummary;
use super::trainer::{self, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::{Duration, Resolved};
use crate::data::fasta::{read_fasta, DnaRecord};
use crate::data::windows::{make_windows, split_train_valid};
use crate::logging::{ConsoleProgress, MetricSink};
use crate::tokenizer::DnaTokenizer;
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
    let shipped = r.experiment.model.init_from.as_deref().and_then(super::init::tokenizer_path);
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

struct Pretrain<'a> {
    resolved: &'a Resolved,
    task: LmTask,
    total_steps: u64,
    run_dir: &'a Path,
    resume: Option<LoadedCheckpoint>,
    sink: &'a mut dyn MetricSink,
}

impl WithBackend for Pretrain<'_> {
    type Output = Result<(trainer::LoopOutcome, String), RunError>;
    fn run<B: TrainBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        B::seed(&device, exp.seed);
        let model = match &exp.model.init_from {
            Some(dir) => {
                let (_, model) = super::init::load_model::<B>(dir, &device)
                    .map_err(|e| RunError::Other(format!("model.init_from: {e}")))?;
                model
            }
            None => self.resolved.model.init::<B>(&device),
        };
        let start = self.resume.as_ref().map(|c| c.state.step).unwrap_or(0);
        let mut progress = ConsoleProgress::new(self.total_steps, start, exp.train.log_every);
        progress.println(&format!("backend: {backend}"));
        let spec = LoopSpec { train: &exp.train, total_steps: self.total_steps, seed: exp.seed, run_dir: self.run_dir };
        let (_model, outcome) = trainer::train::<B, _>(&self.task, model, &spec, self.resume, self.sink, &mut progress, &device)?;
        Ok((outcome, backend.to_string()))
    }
}

/// Steps implied by the duration: tokens and epochs are converted with the data's real numbers.
pub fn total_steps(duration: Duration, examples: usize, tokens_per_example: f64, seqs_per_step: usize) -> u64 {
    match duration {
        Duration::Steps(n) => n,
        Duration::Tokens(t) => (t as f64 / (tokens_per_example * seqs_per_step as f64)).ceil().max(1.0) as u64,
        Duration::Epochs(e) => ((e * (examples / seqs_per_step) as f64).ceil() as u64).max(1),
    }
}

pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    let mut session = Session::open(resolved, resume)?;
    let run_path = session.run_dir.path.clone();
    let mut say = |line: &str| session.say(line);

    let train_records = read_all(&exp.data.train, resolved, &mut say)?;
    let tok = tokenizer(resolved, &run_path, &train_records, &mut say)?;
    if tok.vocab_size() > resolved.model.vocab_size {
        return Err(RunError::Other(format!(
            "the tokenizer has {} tokens but model.vocab_size = {}; raise model.vocab_size or use a smaller tokenizer",
            tok.vocab_size(), resolved.model.vocab_size
        )));
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
    let total = total_steps(exp.train.duration, train_idx.len(), mean_len - 1.0, seqs_per_step);
    say(&format!(
        "model: {} parameters; {} steps of {} sequences ({} micro-batches of {})",
        resolved.model.num_params(), total, seqs_per_step, exp.train.grad_accum, exp.train.batch_size
    ));
    super::init::write_model_toml(&run_path, &resolved.model)
        .map_err(|e| RunError::Other(format!("cannot write {}/model.toml: {e}", run_path.display())))?;

    let resume = session.run_dir.resume.take();
    let mut sink = session.sinks()?;
    let work = Pretrain {
        resolved,
        task: LmTask { windows, train_idx, valid_idx },
        total_steps: total,
        run_dir: &run_path,
        resume,
        sink: &mut sink,
    };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    session.conclude(sink, result.map(|(outcome, backend)| (outcome, backend, Default::default())))
}
