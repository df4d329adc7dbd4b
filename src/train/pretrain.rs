//! `kind = "pretrain"`: next-token prediction of an OLMo decoder on DNA windows.
//! Prepares tokenizer and data on the host, then runs the shared loop on the chosen backend.

use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::LoadedCheckpoint;
use super::lm::LmTask;
use super::record::{EnergyMeter, RunRecord};
use super::run::{finish_record, RunDir, RunError};
use super::trainer::{self, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::{Duration, Resolved};
use crate::data::fasta::{read_fasta, DnaRecord};
use crate::data::windows::{make_windows, split_train_valid};
use crate::logging::{ConsoleProgress, MetricSink, MultiSink, TensorBoardWriter, TextLog};
use crate::tokenizer::DnaTokenizer;

/// What a finished run reports to the CLI.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: std::path::PathBuf,
    pub steps: u64,
    pub final_loss: f64,
    pub final_valid_loss: Option<f64>,
    pub wall_time_s: f64,
    pub tokens_per_s: f64,
}

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
    let shipped = r.experiment.model.init_from.as_ref().map(|d| d.join("tokenizer.json")).filter(|p| p.exists());
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
    fn run<B: AutodiffBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        B::seed(&device, exp.seed);
        let model = match &exp.model.init_from {
            Some(dir) => {
                let (_, model) = crate::export::load_pretrained::<B>(dir, &device)
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
    let wall = Instant::now();
    let mut early = Vec::new();
    let mut run_dir = RunDir::prepare(resolved, resume, &mut |w| {
        eprintln!("{w}");
        early.push(w.to_string());
    })?;
    let mut text_log = TextLog::create(&run_dir.path.join("train.log"))?;
    for line in &early {
        text_log.text(line);
    }
    let mut say = |line: &str| {
        eprintln!("{line}");
        text_log.text(line);
    };
    say(&format!("run directory: {}", run_dir.path.display()));

    let train_records = read_all(&exp.data.train, resolved, &mut say)?;
    let tok = tokenizer(resolved, &run_dir.path, &train_records, &mut say)?;
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
    drop(say);

    let mut record = match RunRecord::load(&run_dir.record_path()) {
        Ok(r) if run_dir.resume.is_some() => r,
        _ => RunRecord::begin(&exp.name, &run_dir.run_id, exp.kind.as_str(), exp.seed, "", Path::new(".")),
    };
    record.resumed_from_step = run_dir.resume.as_ref().map(|c| c.state.step).or(record.resumed_from_step);
    record.status = "running".into();
    record.save(&run_dir.record_path()).ok();
    let energy = EnergyMeter::start(exp.run.tdp_watts);

    let tb = TensorBoardWriter::create(&run_dir.path.join("tensorboard"))?;
    let mut sink = MultiSink { sinks: vec![Box::new(tb), Box::new(text_log)] };
    let work = Pretrain {
        resolved,
        task: LmTask { windows, train_idx, valid_idx },
        total_steps: total,
        run_dir: &run_dir.path,
        resume: run_dir.resume.take(),
        sink: &mut sink,
    };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    let wall_s = wall.elapsed().as_secs_f64();
    record.wall_time_s += wall_s;
    let (kwh, method) = energy.finish(wall_s);
    record.energy_kwh = Some(record.energy_kwh.unwrap_or(0.0) + kwh);
    record.energy_method = method;
    match result {
        Ok((outcome, backend)) => {
            let s = &outcome.state;
            record.backend = backend;
            record.steps = s.step;
            record.tokens_seen = s.tokens_seen;
            record.tokens_per_s = s.tokens_seen as f64 / s.train_time_s.max(1e-9);
            record.final_metrics.insert("train/loss".into(), s.last_loss);
            if let Some(v) = s.last_valid_loss {
                record.final_metrics.insert("valid/loss".into(), v);
                record.final_metrics.insert("valid/perplexity".into(), v.exp());
            }
            sink.scalar("mem/peak_gib", s.step, super::record::peak_memory_gib());
            sink.flush();
            finish_record(&mut record, &run_dir.record_path(), "completed");
            Ok(RunSummary {
                run_dir: run_dir.path.clone(),
                steps: s.step,
                final_loss: s.last_loss,
                final_valid_loss: s.last_valid_loss,
                wall_time_s: wall_s,
                tokens_per_s: record.tokens_per_s,
            })
        }
        Err(e) => {
            let status = match &e {
                RunError::Train(trainer::TrainError::NonFinite { .. }) => "stopped_nonfinite_loss".to_string(),
                other => format!("failed: {other}"),
            };
            sink.text(&format!("error: {e}"));
            sink.flush();
            finish_record(&mut record, &run_dir.record_path(), &status);
            Err(e)
        }
    }
}
