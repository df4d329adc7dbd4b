//! `kind = "finetune"`: Omni-DNA multi-task finetuning by vocabulary expansion (Li et al. 2025
//! §3.3). A pretrained model (`model.init_from`) gets one task token per task and one label token
//! per class; examples are `[CLS] [TASK] dna [MASK] label×replicate [SEP]` with loss only on the
//! answer; NEFTune noise is added to input embeddings in training; the shared loop trains, the best
//! checkpoint is chosen on the mean validation MCC of generated answers, and the test split of
//! every task is scored by generation into `eval/results.toml` and `eval/results.md`.

pub mod data;
pub mod eval;


use self::data::{expand_tokenizer, load_task, sft_examples, weighted_schedule, TaskData, TaskVocab};
use super::sft::{base_tokenizer, expanded_config, load_expanded, GenerationScore, SftSets, SftTask};
use super::{Context, Finished, Metrics, Recipe};
use crate::config::Resolved;
use crate::data::sft::{SftFormat, SftStats};
use crate::eval::classify::{evaluate_task, TaskEval, TaskPrompt};
use crate::eval::results::{markdown, write_results};
use crate::export::source::{write_model_toml, MODEL_TOML};
use crate::model::OlmoModel;
use crate::tokenizer::DnaTokenizer;
use crate::train::session::{RunError, Session};
use crate::train::EvalMetrics;
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

/// What finetuning generates and scores: the prompts of every task and their answers.
pub struct FinetuneEval {
    pub tasks: Vec<TaskData>,
    pub vocab: Vec<TaskVocab>,
    pub formats: Vec<SftFormat>,
    pub tokenizer: DnaTokenizer,
    pub eval_max_examples: usize,
    pub eval_batch_size: usize,
}

/// The finetuning task: SFT examples of every task in the weighted schedule's order.
pub type FinetuneTask = SftTask<FinetuneEval>;

impl FinetuneEval {
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
                ?;
            out.push(eval);
        }
        Ok(out)
    }
}

impl<B: Kernels> GenerationScore<B> for FinetuneEval {
    fn score(&self, model: &OlmoModel<B>) -> EvalMetrics {
        let evals = match self.evaluate(model, "valid", self.eval_max_examples) {
            Ok(e) => e,
            Err(e) => {
                return EvalMetrics::warning(format!("validation generation failed, no best checkpoint this time: {e}"));
            }
        };
        let mut scalars = Vec::new();
        for e in &evals {
            scalars.push((format!("{}/mcc", e.task), e.report.mcc));
            scalars.push((format!("{}/invalid_rate", e.task), e.report.invalid_rate));
        }
        let mean_mcc = evals.iter().map(|e| e.report.mcc).sum::<f64>() / evals.len().max(1) as f64;
        scalars.push(("mean_mcc".into(), mean_mcc));
        EvalMetrics { scalars, select: (!evals.is_empty()).then_some(mean_mcc), ..EvalMetrics::default() }
    }
}

/// `kind = "finetune"`.
pub struct Finetune;

/// The finetuning task and the steps it trains for.
pub struct Prepared {
    task: FinetuneTask,
    vocab_size: usize,
    total_steps: u64,
}

impl Recipe for Finetune {
    type Prepared = Prepared;

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Prepared, RunError> {
        let exp = &resolved.experiment;
        let ft = &exp.finetune;
        let run_path = session.run_dir.path.clone();
        let (mut tok, own) = base_tokenizer(resolved, &run_path)?;
        let mut tasks = Vec::new();
        for spec in &exp.tasks {
            let t = load_task(spec, ft.valid_fraction, exp.seed)?;
            for note in &t.notes {
                session.say(note);
            }
            session.say(&format!(
                "task {}: {} labels {:?}, metric {}, {} train / {} valid / {} test",
                t.name, t.labels.len(), t.labels, t.metric.name(), t.train.len(), t.valid.len(), t.test.len()
            ));
            tasks.push(t);
        }
        let vocab = expand_tokenizer(&mut tok, &tasks, ft.task_tokens)?;
        tok.save(&own)?;
        let model_cfg = expanded_config(resolved, &tok);
        session.say(&format!("vocabulary {} -> {} (task and label tokens appended)", resolved.model.vocab_size, model_cfg.vocab_size));
        write_model_toml(&run_path, &model_cfg).map_err(|source| RunError::Write { path: run_path.join(MODEL_TOML), source })?;

        let mut formats = Vec::new();
        let mut train = Vec::new();
        let mut valid = Vec::new();
        let mut stats = SftStats::default();
        for (t, v) in tasks.iter().zip(&vocab) {
            let format = SftFormat::new(v.prompt.clone(), ft.replicate, model_cfg.context, ft.truncation)
                .map_err(|e| RunError::Task { task: t.name.clone(), message: e.to_string() })?;
            let examples = sft_examples(&t.train, t, v, &format, &tok, &mut stats)?;
            if examples.is_empty() {
                return Err(RunError::Task {
                    task: t.name.clone(),
                    message: format!("every training example was dropped as too long for context {}; use finetune.truncation = \"dna_left\"", model_cfg.context),
                });
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
        let total = exp.train.duration.steps(epoch, mean_len, seqs_per_step);
        session.say(&format!("finetuning {} parameters for {total} steps of {seqs_per_step} examples", model_cfg.num_params()));
        // The loop draws from the schedule's order: one example list, `schedule[i]` at `i`.
        let train = schedule.iter().map(|&(t, k)| train[t][k].clone()).collect();
        let eval = FinetuneEval {
            tasks, vocab, formats,
            tokenizer: tok,
            eval_max_examples: exp.sft.eval_examples(),
            eval_batch_size: exp.sft.eval_batch_size,
        };
        let task = SftTask { sets: SftSets { train, valid }, neftune_alpha: exp.sft.neftune_alpha, eval };
        Ok(Prepared { task, vocab_size: model_cfg.vocab_size, total_steps: total })
    }

    fn train<B: TrainBackend>(p: Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let model = load_expanded(ctx, p.vocab_size)?;
        let (model, outcome) = ctx.fit(&p.task, model, p.total_steps)?;

        // Test evaluation with the best checkpoint by validation MCC (else the final weights).
        let (model, chosen) = ctx.best_or_final(model, outcome.state.step, "MCC")?;
        let inner = burn::module::AutodiffModule::valid(&model);
        let evals = p.task.eval.evaluate(&inner, "test", 0)?;
        let mut metrics = Metrics::new();
        for e in &evals {
            metrics.insert(format!("test/{}/{}", e.task, e.metric.name()), e.value);
            metrics.insert(format!("test/{}/invalid_rate", e.task), e.report.invalid_rate);
            if let Some(auroc) = e.auroc {
                metrics.insert(format!("test/{}/auroc", e.task), auroc);
            }
        }
        let eval_dir = ctx.run_dir.join("eval");
        write_results(&eval_dir, &evals, &chosen, "test").map_err(|source| RunError::Write { path: eval_dir, source })?;
        Ok(Finished { outcome, metrics, report: markdown(&evals, "test results") })
    }
}
