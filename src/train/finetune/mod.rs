//! `kind = "finetune"`: Omni-DNA multi-task finetuning by vocabulary expansion (Li et al. 2025
//! §3.3). A pretrained model (`model.init_from`) gets one task token per task and one label token
//! per class; examples are `[CLS] [TASK] dna [MASK] label×replicate [SEP]` with loss only on the
//! answer; NEFTune noise is added to input embeddings in training; the shared loop trains, the best
//! checkpoint is chosen on the mean validation MCC of generated answers, and the test split of
//! every task is scored by generation into `eval/results.toml` and `eval/results.md`.

pub mod data;
pub mod eval;

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;

use self::data::{expand_tokenizer, load_task, sft_examples, weighted_schedule, TaskData, TaskVocab};
use super::checkpoint::LoadedCheckpoint;
use super::lm::{masked_cross_entropy_sum, LmBatch};
use super::run::{RunError, RunSummary, Session};
use super::task::{EvalMetrics, EvalOutput, StepOutput, Task};
use super::trainer::{self, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::Resolved;
use crate::data::sft::{sft_batch, SftExample, SftFormat, SftStats};
use crate::eval::classify::{evaluate_task, TaskEval, TaskPrompt};
use crate::eval::results::{markdown, write_results};
use crate::logging::{ConsoleProgress, MetricSink};
use crate::model::neftune::neftune_noise;
use crate::model::{OlmoConfig, OlmoModel};
use crate::tokenizer::DnaTokenizer;
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

/// The finetuning task: SFT examples of every task, drawn by the weighted schedule.
pub struct FinetuneTask {
    pub tasks: Vec<TaskData>,
    pub vocab: Vec<TaskVocab>,
    pub formats: Vec<SftFormat>,
    /// `[task][example]`
    pub train: Vec<Vec<SftExample>>,
    /// Validation examples of all tasks, for the validation loss.
    pub valid: Vec<SftExample>,
    pub schedule: Vec<(usize, usize)>,
    pub neftune_alpha: f64,
    pub tokenizer: DnaTokenizer,
    pub eval_max_examples: usize,
    pub eval_batch_size: usize,
}

impl FinetuneTask {
    fn prompt<'a>(&'a self, t: usize) -> TaskPrompt<'a> {
        TaskPrompt {
            task: &self.tasks[t].name,
            labels: &self.tasks[t].labels,
            label_ids: &self.vocab[t].label_ids,
            metric: self.tasks[t].metric,
            format: &self.formats[t],
        }
    }

    /// Generate answers for `split` of every task and score them.
    pub fn evaluate<B: Kernels>(&self, model: &OlmoModel<B>, split: &str, limit: usize) -> Result<Vec<TaskEval>, RunError> {
        let mut out = Vec::new();
        for (t, task) in self.tasks.iter().enumerate() {
            let seqs = if split == "test" { &task.test } else { &task.valid };
            let n = if limit == 0 { seqs.len() } else { limit.min(seqs.len()) };
            if n == 0 {
                continue;
            }
            let eval = evaluate_task(model, &self.tokenizer, &self.prompt(t), &seqs[..n], self.eval_batch_size)
                .map_err(|e| RunError::Other(e.to_string()))?;
            out.push(eval);
        }
        Ok(out)
    }
}

/// Summed answer-only loss of an SFT batch, with NEFTune noise of scale `alpha` on the input
/// embeddings (`alpha = 0`: none, as in evaluation).
///
/// # Shapes
/// - returns `[1]`
pub fn sft_loss<B: Kernels>(model: &OlmoModel<B>, batch: &LmBatch, alpha: f64, device: &B::Device) -> Tensor<B, 1> {
    let (inputs, targets, mask) = batch.tensors::<B>(device);
    let mut x = model.embed(inputs); // [batch, seq, d_model]
    if alpha > 0.0 {
        x = neftune_noise(x, alpha);
    }
    masked_cross_entropy_sum(model.logits(model.hidden(x)), targets, mask)
}

impl<B: TrainBackend> Task<B> for FinetuneTask {
    type Model = OlmoModel<B>;
    type Batch = LmBatch;

    fn train_len(&self) -> usize {
        self.schedule.len()
    }
    fn valid_len(&self) -> usize {
        self.valid.len()
    }
    fn train_batch(&self, indices: &[usize]) -> LmBatch {
        let ex: Vec<&SftExample> = indices.iter().map(|&i| { let (t, k) = self.schedule[i]; &self.train[t][k] }).collect();
        sft_batch(&ex)
    }
    fn valid_batch(&self, indices: &[usize]) -> LmBatch {
        let ex: Vec<&SftExample> = indices.iter().map(|&i| &self.valid[i]).collect();
        sft_batch(&ex)
    }
    fn units(&self, batch: &LmBatch) -> f64 {
        batch.units()
    }
    fn tokens(&self, batch: &LmBatch) -> u64 {
        batch.tokens
    }
    fn step(&self, model: &OlmoModel<B>, batch: &LmBatch, device: &B::Device) -> StepOutput<B> {
        StepOutput::loss(sft_loss(model, batch, self.neftune_alpha, device))
    }
    fn eval(&self, model: &OlmoModel<B::InnerBackend>, batch: &LmBatch, device: &B::Device) -> EvalOutput {
        // NEFTune is off in evaluation.
        let l = sft_loss(model, batch, 0.0, device);
        EvalOutput { loss_sum: l.into_scalar().elem::<f64>(), units: batch.units() }
    }
    fn eval_metrics(&self, model: &OlmoModel<B::InnerBackend>, _device: &B::Device) -> EvalMetrics {
        let evals = match self.evaluate(model, "valid", self.eval_max_examples) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: validation generation failed, no best checkpoint this time: {e}");
                return EvalMetrics::default();
            }
        };
        let mut scalars = Vec::new();
        for e in &evals {
            scalars.push((format!("{}/mcc", e.task), e.report.mcc));
            scalars.push((format!("{}/invalid_rate", e.task), e.report.invalid_rate));
        }
        let mean_mcc = evals.iter().map(|e| e.report.mcc).sum::<f64>() / evals.len().max(1) as f64;
        scalars.push(("mean_mcc".into(), mean_mcc));
        EvalMetrics { scalars, select: (!evals.is_empty()).then_some(mean_mcc) }
    }
}

struct Finetune<'a> {
    resolved: &'a Resolved,
    task: FinetuneTask,
    model_cfg: OlmoConfig,
    total_steps: u64,
    run_dir: &'a Path,
    resume: Option<LoadedCheckpoint>,
    sink: &'a mut dyn MetricSink,
}

type Outcome = (trainer::LoopOutcome, String, BTreeMap<String, f64>);

impl WithBackend for Finetune<'_> {
    type Output = Result<(Outcome, Vec<TaskEval>), RunError>;
    fn run<B: TrainBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        let init = exp.model.init_from.as_ref().ok_or_else(|| RunError::Other("finetune needs model.init_from".into()))?;
        B::seed(&device, exp.seed);
        let model = super::init::load_expanded::<B>(init, self.model_cfg.vocab_size, &device)?;
        let start = self.resume.as_ref().map(|c| c.state.step).unwrap_or(0);
        let mut progress = ConsoleProgress::new(self.total_steps, start, exp.train.log_every);
        progress.println(&format!("backend: {backend}"));
        let spec = LoopSpec { train: &exp.train, total_steps: self.total_steps, seed: exp.seed, run_dir: self.run_dir };
        let (model, outcome) = trainer::train::<B, _>(&self.task, model, &spec, self.resume, self.sink, &mut progress, &device)?;

        // Test evaluation with the best checkpoint by validation MCC (else the final weights).
        let (model, chosen) = trainer::best_or_final(model, self.run_dir, outcome.state.step, "MCC", &device)?;
        let inner = burn::module::AutodiffModule::valid(&model);
        let evals = self.task.evaluate(&inner, "test", 0)?;
        let mut metrics = BTreeMap::new();
        for e in &evals {
            metrics.insert(format!("test/{}/{}", e.task, e.metric.name()), e.value);
            metrics.insert(format!("test/{}/invalid_rate", e.task), e.report.invalid_rate);
        }
        write_results(&self.run_dir.join("eval"), &evals, &chosen, "test").map_err(|e| RunError::Other(format!("writing eval/: {e}")))?;
        Ok(((outcome, backend.to_string(), metrics), evals))
    }
}

pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    let ft = &exp.finetune;
    let mut session = Session::open(resolved, resume)?;
    let run_path = session.run_dir.path.clone();
    let init = exp.model.init_from.clone().ok_or_else(|| {
        RunError::Other("kind = \"finetune\" needs model.init_from: a gfm run, a gfm export or an OLMo checkpoint".into())
    })?;

    // The tokenizer: the run's own when resuming, else the one given or shipped with the weights.
    let own = run_path.join("tokenizer.json");
    let tok_path = if own.exists() { Some(own.clone()) } else { exp.tokenizer.path.clone().or_else(|| super::init::tokenizer_path(&init)) };
    let tok_path = tok_path.ok_or_else(|| RunError::Other(format!("no tokenizer.json beside {}; set tokenizer.path", init.display())))?;
    let mut tok = DnaTokenizer::from_file(&tok_path)?;

    let mut tasks = Vec::new();
    for spec in &exp.tasks {
        let t = load_task(spec, ft, exp.seed)?;
        session.say(&format!(
            "task {}: {} labels {:?}, metric {}, {} train / {} valid / {} test",
            t.name, t.labels.len(), t.labels, t.metric.name(), t.train.len(), t.valid.len(), t.test.len()
        ));
        tasks.push(t);
    }
    let vocab = expand_tokenizer(&mut tok, &tasks, ft.task_tokens)?;
    tok.save(&own)?;
    let model_cfg = OlmoConfig { vocab_size: tok.vocab_size().max(resolved.model.vocab_size), ..resolved.model.clone() };
    session.say(&format!("vocabulary {} -> {} (task and label tokens appended)", resolved.model.vocab_size, model_cfg.vocab_size));
    super::init::write_model_toml(&run_path, &model_cfg).map_err(|e| RunError::Other(format!("model.toml: {e}")))?;

    let mut formats = Vec::new();
    let mut train = Vec::new();
    let mut valid = Vec::new();
    let mut stats = SftStats::default();
    for (t, v) in tasks.iter().zip(&vocab) {
        let format = SftFormat::new(v.prompt.clone(), ft.replicate, model_cfg.context, ft.truncation)
            .map_err(|e| RunError::Other(format!("task {}: {e}", t.name)))?;
        let examples = sft_examples(&t.train, t, v, &format, &tok, &mut stats)?;
        if examples.is_empty() {
            return Err(RunError::Other(format!(
                "task {}: every training example was dropped as too long for context {}; use finetune.truncation = \"dna_left\"",
                t.name, model_cfg.context
            )));
        }
        train.push(examples);
        valid.extend(sft_examples(&t.valid, t, v, &format, &tok, &mut stats)?);
        formats.push(format);
    }
    session.say(&format!(
        "SFT examples: {} kept, {} truncated ({:?}), {} dropped as too long",
        stats.kept, stats.truncated, ft.truncation, stats.dropped
    ));
    let sizes: Vec<usize> = train.iter().map(|v| v.len()).collect();
    let weights: Vec<f64> = tasks.iter().map(|t| t.weight).collect();
    let epoch: usize = sizes.iter().sum();
    let schedule = weighted_schedule(&sizes, &weights, epoch, exp.seed);
    let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
    let mean_len = train.iter().flatten().map(|e| e.ids.len() as f64).sum::<f64>() / epoch.max(1) as f64;
    let total = super::pretrain::total_steps(exp.train.duration, epoch, mean_len, seqs_per_step);
    session.say(&format!("finetuning {} parameters for {total} steps of {seqs_per_step} examples", model_cfg.num_params()));

    let resume = session.run_dir.resume.take();
    let mut sink = session.sinks()?;
    let work = Finetune {
        resolved,
        task: FinetuneTask {
            tasks, vocab, formats, train, valid, schedule,
            neftune_alpha: ft.neftune_alpha,
            tokenizer: tok,
            eval_max_examples: ft.eval_max_examples,
            eval_batch_size: ft.eval_batch_size,
        },
        model_cfg,
        total_steps: total,
        run_dir: &run_path,
        resume,
        sink: &mut sink,
    };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    let result = result.map(|(outcome, evals)| {
        eprintln!("{}", markdown(&evals, "test results"));
        outcome
    });
    session.conclude(sink, result)
}
