//! Consensus pruning as a sequence of loop runs (AllenInstitute/MMIDAS `cpl_mixVAE.train`): train
//! with `K` categories, prune the category the arms agree on least, train again, one `K_NNN/`
//! directory of checkpoints per round.

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use super::{evaluate_all, ArmsEval, MmidasData, MmidasTask};
use crate::checkpoint::{self, TrainState};
use crate::config::TrainSection;
use crate::logging::MetricSink;
use crate::mmidas::config::MmidasSection;
use crate::mmidas::loss::LossWeights;
use crate::mmidas::model::{Mmidas, MmidasConfig};
use crate::mmidas::prune::{self, RoundSummary};
use crate::train::session::RunError;
use crate::train::trainer::LoopSpec;
use crate::kernels::TrainBackend;

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
    MmidasConfig { input_dims: dims.to_vec(), n_categories: s.n_categories, arm: s.model.clone() }
}

/// Train and prune; returns every round (in pruning order) and the summed loop state. Every line
/// said goes to `say` and to the sink's text log.
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
    // Every weight drawn now, before any training noise: arms may run on threads of their own.
    model.visit(&mut crate::train::parallel::Materialise);
    let task = MmidasTask {
        data: data.clone(),
        weights: LossWeights { beta: s.beta, coupling: s.coupling },
        temperature: s.temperature,
        arm_threads: Default::default(),
    };
    let mut total = TrainState {
        step: 0, tokens_seen: 0, epoch: 0, cursor: 0, seed: spec.seed, train_time_s: 0.0,
        last_loss: f64::NAN, last_valid_loss: None, best_select: None,
    };
    let mut rounds: Vec<RoundResult> = Vec::new();
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let mut say = |sink: &mut dyn MetricSink, line: &str| {
        say(line);
        sink.text(line);
    };
    for round in 0u64.. {
        let active = model.active_categories();
        let k = active.iter().filter(|a| **a).count();
        let dir = spec.run_dir.join(format!("K_{k:03}"));
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Create { path: dir.clone(), source })?;
        let steps = if round == 0 { spec.first_steps } else { s.steps_per_round };
        let existing = checkpoint::load_newest(&dir, |w| say(&mut *sink, w)).ok();
        let resume = match existing {
            Some(ck) if ck.state.step >= steps => {
                let record = recorder.load(ck.model.clone(), device).map_err(|e| RunError::Record { path: ck.dir.clone(), message: e.to_string() })?;
                model = model.load_record(record);
                say(&mut *sink, &format!("K = {k}: finished earlier ({}), skipping", ck.dir.display()));
                add_state(&mut total, &ck.state);
                None
            }
            other => Some(other),
        };
        if let Some(resume) = resume {
            say(&mut *sink, &format!("K = {k}: training {steps} steps in {}", dir.display()));
            let loop_spec = LoopSpec { train: spec.train, total_steps: steps, seed: spec.seed.wrapping_add(round), run_dir: &dir, data_parallel: 1 };
            let mut offset = OffsetSink { inner: &mut *sink, offset: total.step };
            let (m, outcome) = crate::recipes::driver::fit_loop::<B, _>(&task, model, &loop_spec, resume, &mut offset, device)?;
            model = m;
            add_state(&mut total, &outcome.state);
        }
        let eval = evaluate_all(&model.valid(), data, device);
        let active = model.active_categories();
        let c = prune::consensus(&eval.labels, &active);
        let summary = RoundSummary { k, consensus: c.consensus, agree_fraction: c.agree_fraction, recon: eval.recon.clone() };
        say(&mut *sink, &format!("K = {k}: consensus {:.4}, arms agree on {:.1} % of items, recon {:?}", c.consensus, 100.0 * c.agree_fraction, eval.recon));
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
                say(&mut *sink, &format!("pruning category {p} (agreement {:.4})", rounds[rounds.len() - 1].consensus.agreement[p]));
                model.set_active(&active);
            }
            _ => break,
        }
    }
    Ok((rounds, total))
}
