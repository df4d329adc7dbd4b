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

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;

use super::{Context, Finished, Metrics, Recipe};
use crate::config::Resolved;
use crate::mmidas::loss::{mmidas_loss, reconstruction, LossWeights};
use crate::mmidas::model::Mmidas;
use crate::mmidas::prune;
use crate::mmidas::{dataset, Aligned};
use crate::train::session::{RunError, Session};
use crate::train::trainer::LoopOutcome;
use crate::train::{EvalOutput, StepGradients, StepOutput, Task};

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
            .map(|(v, &d)| {
                let mut x = Vec::with_capacity(idx.len() * d);
                for &i in idx {
                    x.extend_from_slice(&v[i * d..(i + 1) * d]);
                }
                x
            })
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
    b.xs.iter().zip(dims).map(|(x, &d)| arm_tensor(x, b.n, d, device)).collect()
}

/// One arm's rows `[n * d]` as a tensor `[n, d]`.
fn arm_tensor<B: Backend>(x: &[f32], n: usize, d: usize, device: &B::Device) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(x.to_vec(), [n, d]), device)
}

/// The task: every item (gene) is a training example; the loss is a batch mean, so one unit per
/// batch (the reference's loss is a per-batch mean too).
pub struct MmidasTask {
    pub data: MmidasData,
    pub weights: LossWeights,
    pub temperature: f64,
    /// Thread pools of the arms ([`arms::step_parallel_arms`]).
    pub arm_threads: arms::ArmThreads,
}

impl<B: TrainBackend> Task<B> for MmidasTask {
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
    fn step_with_gradients(&self, model: &Mmidas<B>, b: &MmidasBatch, total_units: f64, device: &B::Device) -> Option<StepGradients> {
        arms::worthwhile::<B>(model.arms.len()).then(|| arms::step_parallel_arms(self, &self.arm_threads, model, b, total_units, device))
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

pub fn evaluate_all<B: Kernels>(model: &Mmidas<B>, data: &MmidasData, device: &B::Device) -> ArmsEval {
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

/// `kind = "mmidas"`.
pub struct MmidasRecipe;

/// The aligned inputs, the reference labels and the first round's steps.
pub struct Prepared {
    data: MmidasData,
    reference: Option<HashMap<String, String>>,
    first_steps: u64,
}

impl Recipe for MmidasRecipe {
    type Prepared = Prepared;

    /// Rounds keep their own checkpoints in `K_NNN/`: resuming continues the newest run with rounds.
    fn open(resolved: &Resolved, resume: bool) -> Result<Session, RunError> {
        let has_rounds = |r: &Path| std::fs::read_dir(r).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("K_"))).unwrap_or(false);
        Session::open_or_continue(resolved, resume, has_rounds, "no run with K_* round directories")
    }

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Prepared, RunError> {
        let exp = &resolved.experiment;
        let run_path = session.run_dir.path.clone();
        let s = &exp.mmidas;
        let aligned = dataset::load_modalities(&s.modalities)?;
        let missing = run_path.join("missing_ids.txt");
        crate::mmidas::write_missing(&missing, &aligned).map_err(|source| RunError::Write { path: missing, source })?;
        for note in aligned.tables.iter().flat_map(|t| &t.notes) {
            session.say(note);
        }
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
        let reference = s.labels.as_deref().map(dataset::read_reference_labels).transpose()?;
        let first_steps = exp.train.duration.steps(data.ids.len(), 1.0, exp.train.batch_size * exp.train.grad_accum);
        Ok(Prepared { data, reference, first_steps })
    }

    fn train<B: TrainBackend>(p: Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let exp = ctx.experiment();
        let (s, run_path) = (&exp.mmidas, ctx.run_dir.to_path_buf());
        let (data, reference) = (&p.data, p.reference.as_ref());
        let spec = FitSpec { section: s, train: &exp.train, first_steps: p.first_steps, seed: exp.seed, run_dir: &run_path };
        let device = ctx.device.clone();
        let (rounds, state) = fit::<B>(data, &spec, ctx.sink(), &mut |line| eprintln!("{line}"), &device)?;
        let selected = prune::select_k(&rounds.iter().map(|r| r.summary.clone()).collect::<Vec<_>>(), s.selection, s.consensus_min)
            .ok_or(RunError::NoRound)?;
        let per_round: Option<Vec<(f64, f64)>> = reference.map(|reference| {
            rounds
                .iter()
                .map(|r| {
                    let joint: Vec<usize> = joint_labels(&r.eval, r.active.len()).iter().map(|j| j.0).collect();
                    let m = reference_scores(data, r, &joint, reference);
                    (m.get("joint/ari").copied().unwrap_or(f64::NAN), m.get("joint/nmi").copied().unwrap_or(f64::NAN))
                })
                .collect()
        });
        write_consensus(&run_path.join("consensus.tsv"), &rounds, &data.names, selected, per_round.as_deref())?;
        let round = &rounds[selected];
        let joint = write_labels(&run_path, data, round)?;
        views::write_figures(&run_path, data, &rounds, selected, per_round.as_deref())?;
        let mut metrics = Metrics::new();
        if s.views {
            let mut say = |line: &str| ctx.say(line);
            metrics.extend(views::write_views(&run_path, data, &joint, reference, s, exp.seed, &mut say)?);
        }
        metrics.insert("mmidas/selected_k".to_string(), round.summary.k as f64);
        metrics.insert("mmidas/consensus".to_string(), round.summary.consensus);
        metrics.insert("mmidas/agree_fraction".to_string(), round.summary.agree_fraction);
        if let Some(reference) = reference {
            metrics.extend(reference_scores(data, round, &joint, reference));
        }
        write_results(&run_path.join("eval"), &rounds, selected, &metrics)?;
        // The metrics themselves are listed once, by the run summary's closing lines.
        let report = format!("selected K = {} ({}): consensus {:.4}", round.summary.k, round.dir.display(), round.summary.consensus);
        let outcome = LoopOutcome { state, resumed_from: None, last_checkpoint: None };
        Ok(Finished { outcome, metrics, report })
    }

    fn summary(r: &Resolved) -> String {
        let (m, t) = (&r.experiment.mmidas, &r.experiment.train);
        format!(
            "# kind:             mmidas\n# arms:             {} ({})\n\
             # categories:       {} pruned one per round down to {}; {} steps per round\n\
             # items per step:   {} ({} x {} accum)\n# parameters:       depend on the input sizes; `gfm run` prints them\n",
            m.modalities.len(),
            m.modalities.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
            m.n_categories, m.min_categories, m.steps_per_round,
            t.batch_size * t.grad_accum, t.batch_size, t.grad_accum
        )
    }
}

mod arms;
mod outputs;
mod rounds;

pub mod views;
pub use outputs::{arm_confusion, joint_labels, reference_scores, write_consensus, write_labels};
pub use rounds::{fit, model_config, FitSpec, RoundResult};
use outputs::write_results;
use crate::kernels::{Kernels, TrainBackend};

#[cfg(test)]

mod tests;
