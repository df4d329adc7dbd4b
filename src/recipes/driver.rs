//! The one run path: every kind goes through [`run`]. It opens the run's session, lets the recipe
//! prepare its data on the host, opens the sinks, dispatches to the backend the experiment names,
//! seeds it, hands the recipe a [`Context`] whose [`Context::fit`] runs the one loop with a
//! progress display, prints what the recipe reports, and concludes the run record.

use std::path::Path;

use burn::module::AutodiffModule;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use super::{Metrics, Recipe};
use crate::backend::{dispatch, WithBackend};
use crate::checkpoint::locate::BEST_DIR;
use crate::checkpoint::{self, LoadedCheckpoint};
use crate::config::{Experiment, Resolved};
use crate::logging::{ConsoleProgress, MetricSink, MultiSink};
use crate::train::session::{RunError, RunSummary};
use crate::train::trainer::{self, LoopOutcome, LoopSpec};
use crate::train::Task;
use crate::kernels::TrainBackend;

/// What a recipe hands back when its run is done.
pub struct Finished {
    pub outcome: LoopOutcome,
    /// Task metrics beyond the loss, for `record.toml` and the CLI.
    pub metrics: Metrics,
    /// Lines for the console and `train.log` (e.g. a results table); empty for none.
    pub report: String,
}

/// What the backend side of a recipe works with.
pub struct Context<'a, B: TrainBackend> {
    pub resolved: &'a Resolved,
    pub device: B::Device,
    pub run_dir: &'a Path,
    /// The checkpoint to continue from; taken by the first [`Context::fit`].
    resume: Option<LoadedCheckpoint>,
    sink: &'a mut dyn MetricSink,
}

impl<'a, B: TrainBackend> Context<'a, B> {
    pub fn experiment(&self) -> &'a Experiment {
        &self.resolved.experiment
    }

    /// A line to the console and the run's log.
    pub fn say(&mut self, line: &str) {
        eprintln!("{line}");
        self.sink.text(line);
    }

    /// The run's metric sinks (TensorBoard and the text log).
    pub fn sink(&mut self) -> &mut dyn MetricSink {
        &mut *self.sink
    }

    /// The step the run continues from (0 for a fresh run).
    pub fn start_step(&self) -> u64 {
        self.resume.as_ref().map_or(0, |c| c.state.step)
    }

    /// The run's best checkpoint by the task's selection metric (`best/`) loaded into `model`, or
    /// `model` as training left it when no best checkpoint was written; with a label naming which
    /// (e.g. `best/step_0000400 (validation MCC)`) for result files. Skipped corrupted checkpoints
    /// are said.
    pub fn best_or_final<M: AutodiffModule<B>>(&mut self, model: M, final_step: u64, metric: &str) -> Result<(M, String), RunError> {
        let best = self.run_dir.join(BEST_DIR);
        let mut warnings = Vec::new();
        let found = checkpoint::load_newest(&best, |w| warnings.push(w.to_string())).ok();
        for w in &warnings {
            self.say(w);
        }
        match found {
            Some(ck) => {
                let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
                    .load(ck.model, &self.device)
                    .map_err(|e| RunError::Record { path: ck.dir.clone(), message: e.to_string() })?;
                Ok((model.load_record(record), format!("best/step_{:07} (validation {metric})", ck.state.step)))
            }
            None => Ok((model, format!("step_{final_step:07} (final)"))),
        }
    }

    /// Train `model` on `task` for `total_steps` with the experiment's `[train]` options, from
    /// the run's checkpoint when resuming.
    pub fn fit<T: Task<B>>(&mut self, task: &T, model: T::Model, total_steps: u64) -> Result<(T::Model, LoopOutcome), RunError> {
        let exp = &self.resolved.experiment;
        let resume = self.resume.take();
        let spec = LoopSpec { train: &exp.train, total_steps, seed: exp.seed, run_dir: self.run_dir, data_parallel: exp.run.data_parallel };
        fit_loop::<B, T>(task, model, &spec, resume, &mut *self.sink, &self.device)
    }
}

/// The one loop with its progress display, as [`Context::fit`] runs it for every kind and as each
/// MMIDAS pruning round runs it in its own `K_NNN/` directory (`recipes::mmidas::fit`).
pub fn fit_loop<B: TrainBackend, T: Task<B>>(
    task: &T,
    model: T::Model,
    spec: &LoopSpec,
    resume: Option<LoadedCheckpoint>,
    sink: &mut dyn MetricSink,
    device: &B::Device,
) -> Result<(T::Model, LoopOutcome), RunError> {
    let start = resume.as_ref().map_or(0, |c| c.state.step);
    let mut progress = ConsoleProgress::new(spec.total_steps, start, spec.train.log_every);
    Ok(trainer::train::<B, T>(task, model, spec, resume, sink, &mut progress, device)?)
}

/// The backend-generic part of [`run`].
struct Work<'a, R: Recipe> {
    resolved: &'a Resolved,
    prepared: R::Prepared,
    run_dir: &'a Path,
    resume: Option<LoadedCheckpoint>,
    sink: &'a mut dyn MetricSink,
}

impl<R: Recipe> WithBackend for Work<'_, R> {
    /// The recipe's result, the backend's name and the device of each replica.
    type Output = Result<(Finished, String, Vec<String>), RunError>;
    fn run<B: TrainBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        B::seed(&device, self.resolved.experiment.seed);
        let run = &self.resolved.experiment.run;
        let precision = run.precision;
        crate::model::precision::check_supported::<B>(precision, &device, backend)?;
        let devices = crate::train::parallel::replica_devices::<B>(&device, run.data_parallel.max(1))
            .map_err(crate::train::trainer::TrainError::from)?
            .iter()
            .map(|d| format!("{d:?}"))
            .collect();
        let mut ctx = Context::<B> { resolved: self.resolved, device, run_dir: self.run_dir, resume: self.resume, sink: self.sink };
        ctx.say(&format!("backend: {backend}, precision {}", precision.as_str()));
        // The whole recipe (training, evaluation, generation) computes in the run's precision.
        let _autocast = crate::model::precision::autocast(precision);
        Ok((R::train::<B>(self.prepared, &mut ctx)?, backend.to_string(), devices))
    }
}

/// Run `resolved` with recipe `R`.
pub fn run<R: Recipe>(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    if resume && !R::RESUMABLE {
        return Err(RunError::NotResumable { kind: exp.kind.as_str() });
    }
    let mut session = R::open(resolved, resume)?;
    let prepared = R::prepare(resolved, &mut session)?;
    let run_dir = session.run_dir.path.clone();
    // Sinks first: a resumed run's TensorBoard file marks the restart from `run_dir.resume`.
    let mut sink: MultiSink = session.sinks()?;
    let resume = session.run_dir.resume.take();
    let work = Work::<R> { resolved, prepared, run_dir: &run_dir, resume, sink: &mut sink };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    if let Ok((_, _, devices)) = &result {
        session.set_devices(devices.clone());
    }
    let result = result.map(|(finished, backend, _)| {
        if !finished.report.is_empty() {
            eprintln!("{}", finished.report);
            sink.text(&finished.report);
        }
        (finished.outcome, backend, finished.metrics)
    });
    session.conclude(sink, result)
}

/// `gfm check`'s summary of the OLMo kinds: parameters, tokens per step, steps, FLOPs.
pub fn lm_summary(r: &Resolved) -> String {
    use crate::config::Duration;
    use crate::logging::console::thousands;
    let t = &r.experiment.train;
    let steps = match t.duration {
        Duration::Steps(n) => format!("{n}"),
        Duration::Tokens(n) => format!("~{} (at full windows)", n.div_ceil(r.tokens_per_step().max(1))),
        Duration::Epochs(e) => format!("{e} epochs: known after tokenisation (printed at the start of `gfm run`)"),
    };
    format!(
        "# kind:             {}\n# parameters:       {}\n# tokens per step:  {} ({} seqs x {} accum x {} context, at full windows)\n\
         # steps:            {steps}\n# train FLOPs/step: {:.3e}\n",
        r.experiment.kind.as_str(),
        thousands(r.model.num_params()),
        thousands(r.tokens_per_step()),
        t.batch_size,
        t.grad_accum,
        r.model.context,
        r.model.train_flops_per_token(r.model.context) * r.tokens_per_step() as f64
    )
}
