//! The one step-based training loop, shared by every task (burn TrainStep; OLMo-core Trainer).
//!
//! Per optimizer step: reseed from (seed, step), draw `grad_accum` micro-batches from the seeded
//! epoch permutation, backpropagate each micro-batch's summed loss divided by the step's total loss
//! units (exact accumulation), clip by global norm, AdamW, then log, evaluate and checkpoint on
//! their schedules. Every piece of state lives in the model, the optimizer or [`TrainState`], so a
//! run resumed from a checkpoint continues bit-for-bit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use super::optim::{adamw, clip_global_norm};
use super::parallel::{self, Collective, ReplicaOutput};
use super::schedule::LrSchedule;
use super::task::Task;
use crate::checkpoint::locate::BEST_DIR;
use crate::checkpoint::{self, CheckpointError, LoadedCheckpoint, TrainState};
use crate::config::TrainSection;
use crate::data::windows::epoch_permutation;
use crate::logging::{ConsoleProgress, MetricSink};
use crate::kernels::TrainBackend;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot load checkpoint record from {dir}: {message}")]
    Record { dir: PathBuf, message: String },
    #[error(
        "training stopped at step {step}: the loss became {loss} (grad norm {grad_norm}). The weights of that step were \
         not applied. {}Lower train.lr, raise train.warmup_steps or set train.grad_clip_norm, then resume with --resume.",
        match .last_good { Some(d) => format!("The last good checkpoint is {}. ", d.display()), None => "No checkpoint was written yet. ".into() }
    )]
    NonFinite { step: u64, loss: f64, grad_norm: f64, last_good: Option<PathBuf> },
    #[error("the training set has {examples} examples, fewer than train.batch_size = {batch_size}; lower the batch size or add data")]
    TooLittleData { examples: usize, batch_size: usize },
    #[error(transparent)]
    DataParallel(#[from] parallel::DataParallelError),
}

/// What the loop reports when it ends.
#[derive(Debug, Clone)]
pub struct LoopOutcome {
    pub state: TrainState,
    pub resumed_from: Option<u64>,
    pub last_checkpoint: Option<PathBuf>,
}

pub struct LoopSpec<'a> {
    pub train: &'a TrainSection,
    pub total_steps: u64,
    pub seed: u64,
    pub run_dir: &'a Path,
    /// Replicas of data-parallel training (`run.data_parallel`; 1: none). `train.batch_size`
    /// stays the micro-batch of the whole step, split evenly over the replicas.
    pub data_parallel: usize,
}

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// Mix seed and step into one backend seed (splitmix64 finaliser).
fn step_seed(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws micro-batches of example indices from seeded per-epoch permutations; its position is
/// the data cursor saved in checkpoints. A final partial batch of an epoch is skipped.
struct Sampler {
    n: usize,
    seed: u64,
    epoch: u64,
    cursor: usize,
    perm: Vec<usize>,
}

impl Sampler {
    fn new(n: usize, seed: u64, epoch: u64, cursor: usize) -> Self {
        Self { n, seed, epoch, cursor, perm: epoch_permutation(n, seed, epoch) }
    }

    fn next(&mut self, batch: usize) -> Vec<usize> {
        if self.cursor + batch > self.n {
            self.epoch += 1;
            self.cursor = 0;
            self.perm = epoch_permutation(self.n, self.seed, self.epoch);
        }
        let out = self.perm[self.cursor..self.cursor + batch].to_vec();
        self.cursor += batch;
        out
    }
}

fn evaluate<B: TrainBackend, T: Task<B>>(task: &T, model: &T::Model, spec: &LoopSpec, device: &B::Device) -> Option<f64> {
    let n = task.valid_len();
    if n == 0 {
        return None;
    }
    let inner = model.valid();
    let bs = spec.train.batch_size;
    let max_batches = if spec.train.eval_batches == 0 { usize::MAX } else { spec.train.eval_batches };
    let (mut sum, mut units) = (0.0, 0.0);
    for chunk in (0..n).collect::<Vec<_>>().chunks(bs).take(max_batches) {
        let out = task.eval(&inner, &task.valid_batch(chunk), device);
        sum += out.loss_sum;
        units += out.units;
    }
    (units > 0.0).then(|| sum / units)
}

/// A line for the console (above the progress bar) and the run's text log.
fn say(progress: &ConsoleProgress, sink: &mut dyn MetricSink, line: &str) {
    progress.println(line);
    sink.text(line);
}

/// What one optimizer step's forward and backward passes produced.
struct Accumulated {
    grads: GradientsParams,
    loss: f64,
    /// The task's diagnostics, averaged over the step's micro-batches.
    aux: Vec<(String, f64)>,
}

/// Forward and backward over the step's micro-batches: each micro-batch's summed loss divided
/// by `total_units`, the loss units of the whole step (of every replica's shard under data
/// parallelism), so the accumulated gradient is the step's mean. Diagnostics are divided by
/// `aux_div` (the number of micro-batches of the whole step).
fn accumulate<B: TrainBackend, T: Task<B>>(
    task: &T,
    model: &T::Model,
    batches: &[T::Batch],
    total_units: f64,
    aux_div: usize,
    device: &B::Device,
) -> Accumulated {
    let mut accumulator = GradientsAccumulator::<T::Model>::new();
    let mut loss_value = 0.0;
    let mut aux: Vec<(String, f64)> = Vec::new();
    for batch in batches {
        let (loss, grads, step_aux) = match task.step_with_gradients(model, batch, total_units, device) {
            Some(out) => (out.loss, out.grads, out.aux),
            None => {
                let out = task.step(model, batch, device);
                let loss = out.loss_sum.div_scalar(total_units);
                (loss.clone().into_scalar().elem::<f64>(), GradientsParams::from_grads(loss.backward(), model), out.aux)
            }
        };
        for (name, value) in step_aux {
            add_aux(&mut aux, name, value / aux_div as f64);
        }
        loss_value += loss;
        accumulator.accumulate(model, grads);
    }
    Accumulated { grads: accumulator.grads(), loss: loss_value, aux }
}

/// Add `value` to the diagnostic `name` (appended on first sight, so the order is the task's).
fn add_aux(aux: &mut Vec<(String, f64)>, name: String, value: f64) {
    match aux.iter_mut().find(|(n, _)| *n == name) {
        Some((_, v)) => *v += value,
        None => aux.push((name, value)),
    }
}

/// [`accumulate`] over the replicas of `collective`, replica k on shard k of every micro-batch;
/// returns the whole step's gradients (all-reduced), loss, diagnostics and tokens.
fn accumulate_replicas<B: TrainBackend, T: Task<B>>(
    task: &T,
    model: &T::Model,
    indices: &[Vec<usize>],
    collective: &Collective<B>,
    grad_accum: usize,
) -> Result<(Accumulated, u64), TrainError> {
    let n = collective.devices.len();
    let batches: Vec<Vec<T::Batch>> =
        (0..n).map(|k| indices.iter().map(|idx| task.train_batch(parallel::shard(idx, k, n))).collect()).collect();
    let units: f64 = batches.iter().flatten().map(|b| task.units(b)).sum::<f64>().max(1.0);
    let tokens: u64 = batches.iter().flatten().map(|b| task.tokens(b)).sum();
    let outs = parallel::run_replicas(task, model, batches, collective, |task, replica, shards, device| {
        let a = accumulate(task, replica, shards, units, grad_accum * n, device);
        ReplicaOutput { grads: a.grads, loss: a.loss, aux: a.aux }
    })?;
    // Every replica holds the same all-reduced gradients; replica 0's live on the main device.
    let mut outs = outs.into_iter();
    let first = outs.next().expect("at least one replica");
    let (mut loss, mut aux) = (first.loss, first.aux);
    for o in outs {
        loss += o.loss;
        for (name, value) in o.aux {
            add_aux(&mut aux, name, value);
        }
    }
    Ok((Accumulated { grads: first.grads, loss, aux }, tokens))
}

/// The scalars of a logging step.
struct StepLog<'a> {
    lr: f64,
    grad_norm: f64,
    seconds: f64,
    tokens_per_s: f64,
    aux: &'a [(String, f64)],
}

fn log_step(sink: &mut dyn MetricSink, state: &TrainState, n_train: usize, log: &StepLog) {
    let step = state.step;
    sink.scalar("train/loss", step, state.last_loss);
    sink.scalar("train/lr", step, log.lr);
    sink.scalar("train/grad_norm", step, log.grad_norm);
    sink.scalar("train/tokens_seen", step, state.tokens_seen as f64);
    sink.scalar("train/epoch", step, state.epoch as f64 + state.cursor as f64 / n_train as f64);
    sink.scalar("perf/tokens_per_s", step, log.tokens_per_s);
    sink.scalar("perf/step_s", step, log.seconds);
    for (name, value) in log.aux {
        sink.scalar(&format!("train/{name}"), step, *value);
    }
}

/// Validation loss and the task's own metrics at this step; true when the task's selection
/// metric reached a new best.
fn evaluate_step<B: TrainBackend, T: Task<B>>(
    task: &T,
    model: &T::Model,
    spec: &LoopSpec,
    state: &mut TrainState,
    sink: &mut dyn MetricSink,
    progress: &ConsoleProgress,
    device: &B::Device,
) -> bool {
    if let Some(v) = evaluate(task, model, spec, device) {
        state.last_valid_loss = Some(v);
        sink.scalar("valid/loss", state.step, v);
        sink.scalar("valid/perplexity", state.step, v.exp());
        say(progress, sink, &format!("step {} | valid loss {v:.4} | perplexity {:.3}", state.step, v.exp()));
    }
    let extra = task.eval_metrics(&model.valid(), device);
    for w in &extra.warnings {
        say(progress, sink, &format!("warning: {w}"));
    }
    let mut line = format!("step {} |", state.step);
    for (name, value) in &extra.scalars {
        sink.scalar(&format!("valid/{name}"), state.step, *value);
        line.push_str(&format!(" {name} {value:.4}"));
    }
    if !extra.scalars.is_empty() {
        say(progress, sink, &line);
    }
    match extra.select.filter(|s| s.is_finite()) {
        Some(sel) if state.best_select.is_none_or(|(best, _)| sel > best) => {
            state.best_select = Some((sel, state.step));
            true
        }
        _ => false,
    }
}

/// Write the periodic checkpoint (then apply keep-last-N) and/or replace the best one. Returns
/// the periodic checkpoint's directory.
fn save_checkpoints<B: TrainBackend, M: AutodiffModule<B>, O: Optimizer<M, B>>(
    model: &M,
    optim: &O,
    state: &TrainState,
    spec: &LoopSpec,
    periodic: bool,
    new_best: bool,
) -> Result<Option<PathBuf>, TrainError> {
    let recorder = Rec::default();
    let record_err = |e: burn::record::RecorderError| TrainError::Record { dir: spec.run_dir.to_path_buf(), message: e.to_string() };
    let model_bytes = recorder.record(model.clone().into_record(), ()).map_err(record_err)?;
    let optim_bytes = recorder.record(optim.to_record(), ()).map_err(record_err)?;
    if new_best {
        // The best checkpoint by the task's selection metric lives apart from the keep-last-N
        // rotation, in `best/step_NNNNNNN`.
        let best_dir = spec.run_dir.join(BEST_DIR);
        std::fs::create_dir_all(&best_dir).map_err(|source| CheckpointError::Io { path: best_dir.clone(), source })?;
        let saved = checkpoint::save(&best_dir, &model_bytes, &optim_bytes, state)?;
        for (_, old) in checkpoint::list(&best_dir).into_iter().filter(|(_, d)| *d != saved) {
            std::fs::remove_dir_all(&old).map_err(|source| CheckpointError::Io { path: old.clone(), source })?;
        }
    }
    if !periodic {
        return Ok(None);
    }
    let dir = checkpoint::save(spec.run_dir, &model_bytes, &optim_bytes, state)?;
    checkpoint::keep_last(spec.run_dir, spec.train.keep_last)?;
    Ok(Some(dir))
}

/// Train `model` on `task` until `spec.total_steps`, starting from `resume` if given.
pub fn train<B: TrainBackend, T: Task<B>>(
    task: &T,
    mut model: T::Model,
    spec: &LoopSpec,
    resume: Option<LoadedCheckpoint>,
    sink: &mut dyn MetricSink,
    progress: &mut ConsoleProgress,
    device: &B::Device,
) -> Result<(T::Model, LoopOutcome), TrainError> {
    let t = spec.train;
    let n_train = task.train_len();
    if n_train < t.batch_size {
        return Err(TrainError::TooLittleData { examples: n_train, batch_size: t.batch_size });
    }
    let mut optim = adamw::<B, T::Model>(t);
    let mut state = TrainState {
        step: 0, tokens_seen: 0, epoch: 0, cursor: 0, seed: spec.seed, train_time_s: 0.0,
        last_loss: f64::NAN, last_valid_loss: None, best_select: None,
    };
    let mut resumed_from = None;
    let mut last_checkpoint = None;
    if let Some(ck) = resume {
        let recorder = Rec::default();
        let record_err = |e: burn::record::RecorderError| TrainError::Record { dir: ck.dir.clone(), message: e.to_string() };
        model = model.load_record(recorder.load(ck.model.clone(), device).map_err(record_err)?);
        optim = optim.load_record(recorder.load(ck.optim.clone(), device).map_err(record_err)?);
        state = ck.state.clone();
        resumed_from = Some(state.step);
        last_checkpoint = Some(ck.dir.clone());
        say(progress, sink, &format!("resumed from {} (step {})", ck.dir.display(), state.step));
    }
    let schedule = LrSchedule {
        peak: t.lr, warmup_steps: t.warmup_steps, total_steps: spec.total_steps, kind: t.schedule, min_ratio: t.min_lr_ratio,
    };
    let mut sampler = Sampler::new(n_train, spec.seed, state.epoch, state.cursor as usize);
    let collective = match spec.data_parallel {
        0 | 1 => None,
        n => Some(Collective::<B>::start(parallel::replica_devices::<B>(device, n)?)?),
    };
    if let Some(c) = &collective {
        say(progress, sink, &format!(
            "data parallel: {} replicas on {:?}, {} examples each per micro-batch; gradients all-reduced by burn-collective",
            c.devices.len(), c.devices, t.batch_size / c.devices.len()
        ));
    }

    while state.step < spec.total_steps {
        let started = Instant::now();
        let step = state.step;
        B::seed(device, step_seed(spec.seed, step));
        let indices: Vec<Vec<usize>> = (0..t.grad_accum).map(|_| sampler.next(t.batch_size)).collect();
        let (Accumulated { mut grads, loss: loss_value, aux }, step_tokens) = match &collective {
            None => {
                let batches: Vec<T::Batch> = indices.iter().map(|idx| task.train_batch(idx)).collect();
                let units: f64 = batches.iter().map(|b| task.units(b)).sum::<f64>().max(1.0);
                let tokens: u64 = batches.iter().map(|b| task.tokens(b)).sum();
                (accumulate(task, &model, &batches, units, t.grad_accum, device), tokens)
            }
            Some(c) => accumulate_replicas(task, &model, &indices, c, t.grad_accum)?,
        };
        let grad_norm = clip_global_norm::<B, T::Model>(&model, &mut grads, t.grad_clip_norm);
        if !loss_value.is_finite() || !grad_norm.is_finite() {
            return Err(TrainError::NonFinite { step: step + 1, loss: loss_value, grad_norm, last_good: last_checkpoint });
        }
        let lr = schedule.lr(step);
        model = optim.step(lr, model, grads);

        state.step += 1;
        state.tokens_seen += step_tokens;
        state.epoch = sampler.epoch;
        state.cursor = sampler.cursor as u64;
        state.last_loss = loss_value;
        let elapsed = started.elapsed().as_secs_f64();
        state.train_time_s += elapsed;
        let tokens_per_s = step_tokens as f64 / elapsed.max(1e-9);

        // The progress line goes to the text log too, so train.log has what the console showed.
        if let Some(line) = progress.step(state.step, loss_value, lr, tokens_per_s) {
            sink.text(&line);
        }
        let last = state.step == spec.total_steps;
        if state.step % t.log_every == 0 || last {
            log_step(sink, &state, n_train, &StepLog { lr, grad_norm, seconds: elapsed, tokens_per_s, aux: &aux });
        }
        let new_best = ((t.eval_every > 0 && state.step % t.eval_every == 0) || last)
            && evaluate_step(task, &model, spec, &mut state, sink, progress, device);
        let periodic = state.step % t.checkpoint_every == 0 || last;
        if periodic || new_best {
            if let Some(dir) = save_checkpoints(&model, &optim, &state, spec, periodic, new_best)? {
                sink.text(&format!("checkpoint {}", dir.display()));
                last_checkpoint = Some(dir);
                sink.flush();
            }
        }
    }
    if let Some(line) = progress.finish() {
        sink.text(&line);
    }
    sink.flush();
    Ok((model, LoopOutcome { state, resumed_from, last_checkpoint }))
}

#[cfg(all(test, feature = "flex"))]
mod data_parallel_tests {
    use super::*;
    use crate::backend::CpuBackend as B;
    use crate::model::OlmoConfig;
    use crate::train::lm::LmTask;
    use burn::tensor::backend::AutodiffBackend;

    /// Two replicas on shards of a micro-batch of windows of different lengths (so each shard pads
    /// differently) give the loss and gradients of one replica on the whole micro-batch.
    #[test]
    fn two_replicas_give_the_loss_and_gradients_of_one() {
        let device = Default::default();
        B::seed(&device, 1);
        let cfg = OlmoConfig { vocab_size: 40, context: 16, ..crate::config::presets::preset("tiny").unwrap() };
        let model = cfg.init::<B>(&device);
        let windows: Vec<Vec<u32>> = (0..8).map(|i| (0..6 + i).map(|t| ((i * 7 + t * 3) % 35 + 5) as u32).collect()).collect();
        let task = LmTask { windows, train_idx: (0..8).collect(), valid_idx: vec![] };
        let indices = vec![vec![3, 0, 7, 1, 6, 2, 5, 4]];

        let batches = vec![Task::<B>::train_batch(&task, &indices[0])];
        let units = Task::<B>::units(&task, &batches[0]);
        let one = accumulate(&task, &model, &batches, units, 1, &device);
        let collective = Collective::<B>::start(parallel::replica_devices::<B>(&device, 2).unwrap()).unwrap();
        let (two, tokens) = accumulate_replicas(&task, &model, &indices, &collective, 1).unwrap();
        drop(collective);

        assert_eq!(tokens, Task::<B>::tokens(&task, &batches[0]));
        assert!((one.loss - two.loss).abs() <= 1e-6 * one.loss.abs(), "loss: one replica {}, two {}", one.loss, two.loss);
        let grad = |g: &GradientsParams, p: &burn::module::Param<Tensor<B, 2>>| -> Vec<f32> {
            g.get::<<B as AutodiffBackend>::InnerBackend, 2>(p.id).expect("a gradient").into_data().to_vec().unwrap()
        };
        let block = &model.blocks[0];
        for (name, p) in [("wte", &model.wte), ("att_proj", &block.att_proj.weight), ("ff_out", &block.ff_out.weight)] {
            let (a, b) = (grad(&one.grads, p), grad(&two.grads, p));
            let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
            let diff = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff <= 1e-5 * scale, "{name}: max |Δgrad| {diff} against max |grad| {scale}");
        }
    }
}
