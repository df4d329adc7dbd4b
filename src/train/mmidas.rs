//! `kind = "mmidas"`: the coupled mixture VAE over per-modality embeddings, trained by the one
//! loop, with consensus pruning (AllenInstitute/MMIDAS `cpl_mixvae.py`, `cpl_mixVAE.train`).
//!
//! Train with `K` categories for `train.duration`; then, round after round, prune the kept
//! category with the lowest cross-arm agreement ([`crate::mmidas::prune`]) and train
//! `mmidas.steps_per_round` more steps, until `min_categories`, `max_rounds` or (with
//! `stop_at_consensus`) `consensus_min` is reached. Each round is a loop run in `K_NNN/` of the run
//! directory with its own checkpoints (the mask is in the model record), so `--resume` skips
//! finished rounds and continues an interrupted one. Each round restarts Adam's moments (the
//! reference keeps one optimizer across rounds). Outputs: `consensus.tsv`, and for the selected
//! `K`: `labels.tsv`, `clusters/cluster_XX.txt`, `missing_ids.txt`, `eval/results.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::{self, TrainState};
use super::run::{RunError, RunSummary, Session};
use super::task::{EvalOutput, StepOutput, Task};
use super::trainer::{self, LoopOutcome, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::{Resolved, TrainSection};
use crate::logging::{ConsoleProgress, MetricSink};
use crate::mmidas::config::MmidasSection;
use crate::mmidas::loss::{mmidas_loss, reconstruction, LossWeights};
use crate::mmidas::model::{Mmidas, MmidasConfig};
use crate::mmidas::prune::{self, RoundSummary};
use crate::mmidas::{dataset, Aligned};

/// Aligned inputs on the host: arm `a` has `dims[a]` values per item, row-major in `values[a]`.
#[derive(Debug, Clone)]
pub struct MmidasData {
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub dims: Vec<usize>,
    pub values: Vec<Vec<f32>>,
}

impl From<Aligned> for MmidasData {
    fn from(a: Aligned) -> Self {
        Self {
            ids: a.ids,
            names: a.tables.iter().map(|t| t.modality.clone()).collect(),
            dims: a.tables.iter().map(|t| t.dim).collect(),
            values: a.tables.into_iter().map(|t| t.values).collect(),
        }
    }
}

impl MmidasData {
    fn rows(&self, idx: &[usize]) -> MmidasBatch {
        let xs = self
            .values
            .iter()
            .zip(&self.dims)
            .map(|(v, &d)| idx.iter().flat_map(|&i| v[i * d..(i + 1) * d].iter().copied()).collect())
            .collect();
        MmidasBatch { xs, n: idx.len() }
    }
}

pub struct MmidasBatch {
    /// Per arm `[n * dim]`.
    xs: Vec<Vec<f32>>,
    n: usize,
}

fn tensors<B: Backend>(b: &MmidasBatch, dims: &[usize], device: &B::Device) -> Vec<Tensor<B, 2>> {
    b.xs.iter().zip(dims).map(|(x, &d)| Tensor::<B, 1>::from_floats(x.as_slice(), device).reshape([b.n, d])).collect()
}

/// The task: every item (gene) is a training example; the loss is a batch mean, so one unit per
/// batch (the reference's loss is a per-batch mean too).
pub struct MmidasTask {
    pub data: MmidasData,
    pub weights: LossWeights,
    pub temperature: f64,
}

impl<B: AutodiffBackend> Task<B> for MmidasTask {
    type Model = Mmidas<B>;
    type Batch = MmidasBatch;
    fn train_len(&self) -> usize {
        self.data.ids.len()
    }
    fn valid_len(&self) -> usize {
        0
    }
    fn train_batch(&self, idx: &[usize]) -> MmidasBatch {
        self.data.rows(idx)
    }
    fn valid_batch(&self, idx: &[usize]) -> MmidasBatch {
        self.data.rows(idx)
    }
    fn units(&self, _b: &MmidasBatch) -> f64 {
        1.0
    }
    fn tokens(&self, b: &MmidasBatch) -> u64 {
        b.n as u64
    }
    fn step(&self, model: &Mmidas<B>, b: &MmidasBatch, device: &B::Device) -> StepOutput<B> {
        let xs = tensors::<B>(b, &self.data.dims, device);
        let outs = model.forward(xs.clone(), self.temperature, true);
        let parts = mmidas_loss(&outs, &xs, self.weights);
        let mut aux = Vec::new();
        for (a, name) in self.data.names.iter().enumerate() {
            aux.push((format!("{name}/recon"), parts.recon[a]));
            aux.push((format!("{name}/kl"), parts.kl[a]));
        }
        aux.push(("coupling/distance".into(), parts.distance));
        aux.push(("coupling/neg_entropy".into(), parts.neg_entropy));
        StepOutput { loss_sum: parts.total, aux }
    }
    fn eval(&self, model: &Mmidas<B::InnerBackend>, b: &MmidasBatch, device: &B::Device) -> EvalOutput {
        let xs = tensors::<B::InnerBackend>(b, &self.data.dims, device);
        let outs = model.forward(xs.clone(), self.temperature, false);
        let loss: f64 = outs.iter().zip(xs).map(|(o, x)| reconstruction(o.recon.clone(), x).into_scalar().elem::<f64>()).sum();
        EvalOutput { loss_sum: loss, units: 1.0 }
    }
}

/// Every item through the model in evaluation mode.
#[derive(Debug, Clone)]
pub struct ArmsEval {
    /// `labels[arm][item]`: argmax category.
    pub labels: Vec<Vec<usize>>,
    /// `posteriors[arm]`: `[n * K]` row-major `q_c`.
    pub posteriors: Vec<Vec<f32>>,
    /// Per arm, mean over batches of `0.5 * sum((x_rec - x)^2) / n`.
    pub recon: Vec<f64>,
}

pub fn evaluate_all<B: Backend>(model: &Mmidas<B>, data: &MmidasData, device: &B::Device) -> ArmsEval {
    let arms = data.dims.len();
    let k = model.n_categories();
    let n = data.ids.len();
    let (mut labels, mut posteriors) = (vec![Vec::with_capacity(n); arms], vec![Vec::with_capacity(n * k); arms]);
    let (mut recon, mut batches) = (vec![0.0; arms], 0usize);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(1024) {
        let xs = tensors::<B>(&data.rows(chunk), &data.dims, device);
        let outs = model.forward(xs.clone(), 1.0, false);
        for (a, (o, x)) in outs.into_iter().zip(xs).enumerate() {
            recon[a] += reconstruction(o.recon, x).into_scalar().elem::<f64>();
            let q: Vec<f32> = o.qc.into_data().iter::<f32>().collect();
            for row in q.chunks(k) {
                let best = (0..k).max_by(|&i, &j| row[i].total_cmp(&row[j]).then(j.cmp(&i))).unwrap_or(0);
                labels[a].push(best);
            }
            posteriors[a].extend(q);
        }
        batches += 1;
    }
    recon.iter_mut().for_each(|r| *r /= batches.max(1) as f64);
    ArmsEval { labels, posteriors, recon }
}

/// One finished round.
#[derive(Debug, Clone)]
pub struct RoundResult {
    pub summary: RoundSummary,
    pub dir: PathBuf,
    pub active: Vec<bool>,
    pub eval: ArmsEval,
    pub consensus: prune::Consensus,
}

/// What [`fit`] needs besides the data.
pub struct FitSpec<'a> {
    pub section: &'a MmidasSection,
    pub train: &'a TrainSection,
    /// Steps of the first round.
    pub first_steps: u64,
    pub seed: u64,
    pub run_dir: &'a Path,
}

/// `train.*` statistics summed over rounds, for the run record.
fn add_state(total: &mut TrainState, s: &TrainState) {
    total.step += s.step;
    total.tokens_seen += s.tokens_seen;
    total.train_time_s += s.train_time_s;
    total.last_loss = s.last_loss;
}

/// Logs each round's steps after the previous rounds' steps, so curves of rounds follow each other.
struct OffsetSink<'a> {
    inner: &'a mut dyn MetricSink,
    offset: u64,
}

impl MetricSink for OffsetSink<'_> {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        self.inner.scalar(tag, step + self.offset, value);
    }
    fn text(&mut self, line: &str) {
        self.inner.text(line);
    }
    fn flush(&mut self) {
        self.inner.flush();
    }
}

pub fn model_config(s: &MmidasSection, dims: &[usize]) -> MmidasConfig {
    MmidasConfig {
        input_dims: dims.to_vec(),
        n_categories: s.n_categories,
        hidden: s.hidden,
        hidden_layers: s.hidden_layers,
        latent: s.latent,
        state_dim: s.state_dim,
        dropout: s.dropout,
        tau: s.tau,
        batch_norm_momentum: s.batch_norm_momentum,
    }
}

/// Train and prune; returns every round (in pruning order) and the summed loop state.
pub fn fit<B: TrainBackend>(
    data: &MmidasData,
    spec: &FitSpec,
    sink: &mut dyn MetricSink,
    say: &mut dyn FnMut(&str),
    device: &B::Device,
) -> Result<(Vec<RoundResult>, TrainState), RunError> {
    let s = spec.section;
    B::seed(device, spec.seed);
    let mut model: Mmidas<B> = model_config(s, &data.dims).init(device);
    let task = MmidasTask {
        data: data.clone(),
        weights: LossWeights { beta: s.beta, coupling: s.coupling },
        temperature: s.temperature,
    };
    let mut total = TrainState {
        step: 0, tokens_seen: 0, epoch: 0, cursor: 0, seed: spec.seed, train_time_s: 0.0,
        last_loss: f64::NAN, last_valid_loss: None, best_select: None,
    };
    let mut rounds: Vec<RoundResult> = Vec::new();
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    for round in 0u64.. {
        let active = model.active_categories();
        let k = active.iter().filter(|a| **a).count();
        let dir = spec.run_dir.join(format!("K_{k:03}"));
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Create { path: dir.clone(), source })?;
        let steps = if round == 0 { spec.first_steps } else { s.steps_per_round };
        let existing = checkpoint::load_newest(&dir, |w| say(w)).ok();
        let resume = match existing {
            Some(ck) if ck.state.step >= steps => {
                let record = recorder.load(ck.model.clone(), device).map_err(|e| RunError::Other(format!("{}: {e}", ck.dir.display())))?;
                model = model.load_record(record);
                say(&format!("K = {k}: finished earlier ({}), skipping", ck.dir.display()));
                add_state(&mut total, &ck.state);
                None
            }
            other => Some(other),
        };
        if let Some(resume) = resume {
            say(&format!("K = {k}: training {steps} steps in {}", dir.display()));
            let loop_spec = LoopSpec { train: spec.train, total_steps: steps, seed: spec.seed.wrapping_add(round), run_dir: &dir };
            let mut progress = ConsoleProgress::new(steps, resume.as_ref().map_or(0, |c| c.state.step), spec.train.log_every);
            let mut offset = OffsetSink { inner: &mut *sink, offset: total.step };
            let (m, outcome) = trainer::train::<B, _>(&task, model, &loop_spec, resume, &mut offset, &mut progress, device)?;
            model = m;
            add_state(&mut total, &outcome.state);
        }
        let eval = evaluate_all(&model.valid(), data, device);
        let active = model.active_categories();
        let c = prune::consensus(&eval.labels, &active);
        let summary = RoundSummary { k, consensus: c.consensus, agree_fraction: c.agree_fraction, recon: eval.recon.clone() };
        say(&format!("K = {k}: consensus {:.4}, arms agree on {:.1} % of items, recon {:?}", c.consensus, 100.0 * c.agree_fraction, eval.recon));
        sink.scalar("mmidas/consensus", total.step, c.consensus);
        sink.scalar("mmidas/k", total.step, k as f64);
        let done = k <= s.min_categories
            || (s.max_rounds > 0 && round as usize >= s.max_rounds)
            || (s.stop_at_consensus && c.consensus >= s.consensus_min);
        let next = prune::category_to_prune(&c.agreement, &active);
        rounds.push(RoundResult { summary, dir, active: active.clone(), eval, consensus: c });
        match next {
            Some(p) if !done => {
                let mut active = active;
                active[p] = false;
                say(&format!("pruning category {p} (agreement {:.4})", rounds[rounds.len() - 1].consensus.agreement[p]));
                model.set_active(&active);
            }
            _ => break,
        }
    }
    Ok((rounds, total))
}

struct Work<'a> {
    resolved: &'a Resolved,
    data: MmidasData,
    first_steps: u64,
    run_dir: &'a Path,
    sink: &'a mut dyn MetricSink,
    log: Vec<String>,
}

type Fitted = (Vec<RoundResult>, TrainState, Vec<String>);

impl WithBackend for Work<'_> {
    type Output = Result<(Fitted, String), RunError>;
    fn run<B: TrainBackend>(mut self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        let spec = FitSpec { section: &exp.mmidas, train: &exp.train, first_steps: self.first_steps, seed: exp.seed, run_dir: self.run_dir };
        let mut log = std::mem::take(&mut self.log);
        let mut say = |line: &str| {
            eprintln!("{line}");
            log.push(line.to_string());
        };
        let (rounds, state) = fit::<B>(&self.data, &spec, self.sink, &mut say, &device)?;
        Ok(((rounds, state, log), backend.to_string()))
    }
}

/// The newest run directory of this experiment that has round directories.
fn newest_run(resolved: &Resolved) -> Option<PathBuf> {
    let exp = &resolved.experiment;
    let mut runs: Vec<PathBuf> = std::fs::read_dir(exp.run.out_dir.join(&exp.name)).ok()?.flatten().map(|e| e.path()).collect();
    runs.sort();
    runs.into_iter().rev().find(|r| r.join("config.toml").exists() && std::fs::read_dir(r).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("K_"))).unwrap_or(false))
}

pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    let mut session = match resume.then(|| newest_run(resolved)).flatten() {
        Some(dir) => Session::open_in(resolved, dir)?,
        None if resume => return Err(RunError::NothingToResume {
            name: exp.name.clone(), dir: exp.run.out_dir.join(&exp.name), detail: "no run with K_* round directories".into() }),
        None => Session::open(resolved, false)?,
    };
    let run_path = session.run_dir.path.clone();
    let s = &exp.mmidas;
    let aligned = dataset::load_modalities(&s.modalities).map_err(|e| RunError::Other(e.to_string()))?;
    crate::mmidas::write_missing(&run_path.join("missing_ids.txt"), &aligned).map_err(io_other(&run_path.join("missing_ids.txt")))?;
    let data = MmidasData::from(aligned);
    session.say(&format!(
        "{} items aligned across {} modalities ({}); K = {} -> min {}; {} parameters",
        data.ids.len(),
        data.names.len(),
        data.names.iter().zip(&data.dims).map(|(n, d)| format!("{n}: {d}")).collect::<Vec<_>>().join(", "),
        s.n_categories,
        s.min_categories,
        model_config(s, &data.dims).num_params()
    ));
    let reference = match &s.labels {
        Some(p) => Some(dataset::read_reference_labels(p).map_err(|e| RunError::Other(e.to_string()))?),
        None => None,
    };
    let first_steps = super::pretrain::total_steps(exp.train.duration, data.ids.len(), 1.0, exp.train.batch_size * exp.train.grad_accum);
    let mut sink = session.sinks()?;
    let work = Work { resolved, data: data.clone(), first_steps, run_dir: &run_path, sink: &mut sink, log: Vec::new() };
    let fitted = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    let result = fitted.and_then(|((rounds, state, _log), backend)| {
        let selected = prune::select_k(&rounds.iter().map(|r| r.summary.clone()).collect::<Vec<_>>(), s.selection, s.consensus_min)
            .ok_or_else(|| RunError::Other("no pruning round finished".into()))?;
        let per_round: Option<Vec<(f64, f64)>> = reference.as_ref().map(|reference| {
            rounds
                .iter()
                .map(|r| {
                    let joint: Vec<usize> = joint_labels(&r.eval, r.active.len()).iter().map(|j| j.0).collect();
                    let m = reference_scores(&data, r, &joint, reference);
                    (m.get("joint/ari").copied().unwrap_or(f64::NAN), m.get("joint/nmi").copied().unwrap_or(f64::NAN))
                })
                .collect()
        });
        write_consensus(&run_path.join("consensus.tsv"), &rounds, &data.names, selected, per_round.as_deref())?;
        let round = &rounds[selected];
        let joint = write_labels(&run_path, &data, round)?;
        views::write_figures(&run_path, &data, &rounds, selected, per_round.as_deref())?;
        let mut metrics = BTreeMap::new();
        if s.views {
            let mut say = |line: &str| eprintln!("{line}");
            metrics.extend(views::write_views(&run_path, &data, &joint, reference.as_ref(), s, exp.seed, &mut say)?);
        }
        metrics.insert("mmidas/selected_k".to_string(), round.summary.k as f64);
        metrics.insert("mmidas/consensus".to_string(), round.summary.consensus);
        metrics.insert("mmidas/agree_fraction".to_string(), round.summary.agree_fraction);
        if let Some(reference) = &reference {
            metrics.extend(reference_scores(&data, round, &joint, reference));
        }
        write_results(&run_path.join("eval"), &rounds, selected, &metrics)?;
        eprintln!("selected K = {} ({}): consensus {:.4}", round.summary.k, round.dir.display(), round.summary.consensus);
        for (k, v) in &metrics {
            eprintln!("  {k} = {v:.4}");
        }
        let outcome = LoopOutcome { state, resumed_from: None, last_checkpoint: None };
        Ok((outcome, backend, metrics))
    });
    session.conclude(sink, result)
}

#[path = "mmidas_outputs.rs"]
mod outputs;
#[path = "mmidas_views.rs"]
pub mod views;
pub use outputs::{arm_confusion, joint_labels, reference_scores, write_consensus, write_labels};
use outputs::{io_other, write_results};
use crate::kernels::TrainBackend;

#[cfg(test)]
#[path = "mmidas_tests.rs"]
mod tests;
