//! `kind = "dna2func"`: DNA to free text (Omni-DNA §3.4, "DNA2Func") by vocabulary expansion.
//!
//! A byte-level BPE is trained on the training answers (`tokenizer::text`) and its tokens are
//! appended to the pretrained model's DNA vocabulary as `[T]<token>`, with a task token (and,
//! with `question = "gene"`, one token per gene); the model's embedding grows by mean rows
//! (`model::expand`). Examples are `[CLS] [TASK_dna2func] [GENE_x]? dna [MASK] answer [SEP]` with
//! loss only on the answer and `[SEP]` (`data::sft`), NEFTune noise in training, trained by the
//! one loop. The best checkpoint is chosen on validation token F1 (or exact match) of greedy
//! generations; the test split is generated and scored (exact match, token F1, BLEU-4) beside
//! the majority-answer baseline, into `eval/results.toml`, `eval/predictions.tsv` and `results.md`.

pub mod data;
pub mod report;

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;

use self::data::{expand, majority_answer, prepare, Prepared};
use self::report::{write_outputs, Prediction};
use super::checkpoint::LoadedCheckpoint;
use super::finetune::sft_loss;
use super::lm::LmBatch;
use super::run::{RunError, RunSummary, Session};
use super::task::{EvalMetrics, EvalOutput, StepOutput, Task};
use super::trainer::{self, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::{Dna2funcSelect, Resolved};
use crate::data::dna2text::read_dna2text;
use crate::data::sft::{sft_batch, SftExample, SftStats};
use crate::eval::text::{score, TextScores};
use crate::logging::{ConsoleProgress, MetricSink};
use crate::model::generate::generate_greedy;
use crate::model::{OlmoConfig, OlmoModel};
use crate::tokenizer::text::{TextTokenizer, TextVocab};
use crate::tokenizer::{DnaTokenizer, SEP_ID};
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

/// The text tokenizer's file in the run directory.
pub const TEXT_TOKENIZER: &str = "text_tokenizer.json";

/// The DNA2Func task of the one training loop.
pub struct Dna2funcTask {
    pub train: Vec<SftExample>,
    pub valid: Vec<SftExample>,
    /// Validation records generated at each evaluation.
    pub valid_gen: Vec<Prepared>,
    pub text: TextTokenizer,
    pub text_vocab: TextVocab,
    pub neftune_alpha: f64,
    pub max_answer_tokens: usize,
    pub eval_batch_size: usize,
    pub select: Dna2funcSelect,
}

/// Greedy answers of `records`: generated up to `max_new` tokens, cut at `[SEP]`, non-text
/// tokens dropped (counted in the second value), decoded and trimmed.
pub fn generate_answers<B: Kernels>(
    model: &OlmoModel<B>,
    records: &[Prepared],
    text: &TextTokenizer,
    vocab: &TextVocab,
    max_new: usize,
    batch_size: usize,
) -> Result<(Vec<String>, usize), RunError> {
    let mut answers = Vec::with_capacity(records.len());
    let mut foreign = 0;
    for chunk in records.chunks(batch_size.max(1)) {
        let prompts: Vec<Vec<u32>> = chunk.iter().map(|r| r.prompt.clone()).collect();
        let outputs = generate_greedy(model, &prompts, max_new, SEP_ID).map_err(|e| RunError::Other(e.to_string()))?;
        for out in outputs {
            let body = out.iter().position(|&id| id == SEP_ID).map_or(&out[..], |end| &out[..end]);
            let (ids, f) = vocab.to_text(body);
            foreign += f;
            answers.push(text.decode(&ids).map_err(|e| RunError::Other(e.to_string()))?.trim().to_string());
        }
    }
    Ok((answers, foreign))
}

fn scores_of(records: &[Prepared], answers: &[String]) -> TextScores {
    let p: Vec<&str> = answers.iter().map(String::as_str).collect();
    let r: Vec<&str> = records.iter().map(|x| x.answer.as_str()).collect();
    score(&p, &r)
}

impl<B: TrainBackend> Task<B> for Dna2funcTask {
    type Model = OlmoModel<B>;
    type Batch = LmBatch;

    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn valid_len(&self) -> usize {
        self.valid.len()
    }
    fn train_batch(&self, indices: &[usize]) -> LmBatch {
        sft_batch(&indices.iter().map(|&i| &self.train[i]).collect::<Vec<_>>())
    }
    fn valid_batch(&self, indices: &[usize]) -> LmBatch {
        sft_batch(&indices.iter().map(|&i| &self.valid[i]).collect::<Vec<_>>())
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
        let l = sft_loss(model, batch, 0.0, device); // NEFTune is off in evaluation
        EvalOutput { loss_sum: l.into_scalar().elem::<f64>(), units: batch.units() }
    }
    fn eval_metrics(&self, model: &OlmoModel<B::InnerBackend>, _device: &B::Device) -> EvalMetrics {
        let gen = generate_answers(model, &self.valid_gen, &self.text, &self.text_vocab, self.max_answer_tokens, self.eval_batch_size);
        let (answers, _) = match gen {
            Ok(a) => a,
            Err(e) => {
                eprintln!("warning: validation generation failed, no best checkpoint this time: {e}");
                return EvalMetrics::default();
            }
        };
        let s = scores_of(&self.valid_gen, &answers);
        let select = match self.select {
            Dna2funcSelect::ExactMatch => s.exact_match,
            Dna2funcSelect::TokenF1 => s.token_f1,
        };
        EvalMetrics {
            scalars: vec![("exact_match".into(), s.exact_match), ("token_f1".into(), s.token_f1), ("bleu4".into(), s.bleu4)],
            select: Some(select),
        }
    }
}

struct Work<'a> {
    resolved: &'a Resolved,
    task: Dna2funcTask,
    test: Vec<Prepared>,
    majority: String,
    model_cfg: OlmoConfig,
    total_steps: u64,
    run_dir: &'a Path,
    resume: Option<LoadedCheckpoint>,
    sink: &'a mut dyn MetricSink,
}

type Outcome = (trainer::LoopOutcome, String, BTreeMap<String, f64>);

impl WithBackend for Work<'_> {
    type Output = Result<(Outcome, String), RunError>;
    fn run<B: TrainBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        let init = exp.model.init_from.as_ref().ok_or_else(|| RunError::Other("dna2func needs model.init_from".into()))?;
        B::seed(&device, exp.seed);
        let model = super::init::load_expanded::<B>(init, self.model_cfg.vocab_size, &device)?;
        let start = self.resume.as_ref().map(|c| c.state.step).unwrap_or(0);
        let mut progress = ConsoleProgress::new(self.total_steps, start, exp.train.log_every);
        progress.println(&format!("backend: {backend}"));
        let spec = LoopSpec { train: &exp.train, total_steps: self.total_steps, seed: exp.seed, run_dir: self.run_dir };
        let (model, outcome) = trainer::train::<B, _>(&self.task, model, &spec, self.resume, self.sink, &mut progress, &device)?;

        // Test generation with the best checkpoint by the validation metric (else the final one).
        let (model, chosen) = trainer::best_or_final(model, self.run_dir, outcome.state.step, &format!("{:?}", self.task.select), &device)?;
        let inner = burn::module::AutodiffModule::valid(&model);
        let t = &self.task;
        let (answers, foreign) = generate_answers(&inner, &self.test, &t.text, &t.text_vocab, t.max_answer_tokens, t.eval_batch_size)?;
        let model_scores = scores_of(&self.test, &answers);
        let baseline = scores_of(&self.test, &vec![self.majority.clone(); self.test.len()]);
        let predictions: Vec<Prediction> = self
            .test
            .iter()
            .zip(&answers)
            .map(|(r, p)| Prediction { id: r.id.clone(), reference: r.answer.clone(), prediction: p.clone() })
            .collect();
        let md = write_outputs(self.run_dir, &chosen, &model_scores, &baseline, &self.majority, foreign, &predictions)
            .map_err(|e| RunError::Other(format!("writing results: {e}")))?;
        let mut metrics = BTreeMap::new();
        for (prefix, s) in [("test", &model_scores), ("test_majority", &baseline)] {
            metrics.insert(format!("{prefix}/exact_match"), s.exact_match);
            metrics.insert(format!("{prefix}/token_f1"), s.token_f1);
            metrics.insert(format!("{prefix}/bleu4"), s.bleu4);
            metrics.insert(format!("{prefix}/sentence_bleu4"), s.sentence_bleu4);
        }
        Ok(((outcome, backend.to_string(), metrics), md))
    }
}

fn table(path: &Option<std::path::PathBuf>, key: &str) -> Result<Vec<crate::data::dna2text::Dna2TextRecord>, RunError> {
    let p = path.as_ref().ok_or_else(|| RunError::Other(format!("dna2func.{key} is not set")))?;
    read_dna2text(p).map_err(|e| RunError::Other(e.to_string()))
}

pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    let cfg = &exp.dna2func;
    let mut session = Session::open(resolved, resume)?;
    let run_path = session.run_dir.path.clone();
    let init = exp.model.init_from.clone().ok_or_else(|| RunError::Other("kind = \"dna2func\" needs model.init_from".into()))?;

    let (train_rec, valid_rec, test_rec) = (table(&cfg.train, "train")?, table(&cfg.valid, "valid")?, table(&cfg.test, "test")?);
    session.say(&format!("dna2func: {} train / {} valid / {} test records", train_rec.len(), valid_rec.len(), test_rec.len()));

    // Tokenizers: the run's own when resuming, else the pretrained DNA one and a new text BPE.
    let own = run_path.join("tokenizer.json");
    let tok_path = if own.exists() { Some(own.clone()) } else { exp.tokenizer.path.clone().or_else(|| super::init::tokenizer_path(&init)) };
    let tok_path = tok_path.ok_or_else(|| RunError::Other(format!("no tokenizer.json beside {}; set tokenizer.path", init.display())))?;
    let mut tok = DnaTokenizer::from_file(&tok_path)?;
    let text_path = run_path.join(TEXT_TOKENIZER);
    let text = if text_path.exists() {
        TextTokenizer::from_file(&text_path)
    } else {
        let answers: Vec<&str> = train_rec.iter().map(|r| r.answer.as_str()).collect();
        TextTokenizer::train(&answers, cfg.text_vocab_size)
    }
    .map_err(|e| RunError::Other(e.to_string()))?;
    text.save(&text_path).map_err(|e| RunError::Other(e.to_string()))?;
    let old_vocab = tok.vocab_size();
    let vocab = expand(&mut tok, &text, &train_rec, cfg)?;
    tok.save(&own)?;
    let model_cfg = OlmoConfig { vocab_size: tok.vocab_size().max(resolved.model.vocab_size), ..resolved.model.clone() };
    session.say(&format!(
        "vocabulary {old_vocab} -> {} ({} text tokens of {} asked, task/gene tokens appended; DNA ids unchanged)",
        model_cfg.vocab_size, text.vocab_size(), cfg.text_vocab_size
    ));
    super::init::write_model_toml(&run_path, &model_cfg).map_err(|e| RunError::Other(format!("model.toml: {e}")))?;

    let mut stats = SftStats::default();
    let ctx = model_cfg.context;
    let train = prepare(&train_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
    let valid = prepare(&valid_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
    let test = prepare(&test_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
    session.say(&format!("SFT examples: {} kept, {} truncated ({:?}), {} dropped as too long", stats.kept, stats.truncated, cfg.truncation, stats.dropped));
    let train_ex: Vec<SftExample> = train.iter().filter_map(|p| p.example.clone()).collect();
    if train_ex.is_empty() {
        return Err(RunError::Other(format!("every training example was dropped as too long for context {ctx}; lower dna2func.window_bp")));
    }
    let valid_ex: Vec<SftExample> = valid.iter().filter_map(|p| p.example.clone()).collect();
    let majority = majority_answer(&train_rec).unwrap_or_default();
    let mean_len = train_ex.iter().map(|e| e.ids.len() as f64).sum::<f64>() / train_ex.len() as f64;
    let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
    let total = super::pretrain::total_steps(exp.train.duration, train_ex.len(), mean_len, seqs_per_step);
    session.say(&format!(
        "finetuning {} parameters for {total} steps of {seqs_per_step} examples (mean {mean_len:.1} tokens); majority answer: {majority:?}",
        model_cfg.num_params()
    ));
    let mut valid_gen = valid;
    if cfg.eval_max_examples > 0 {
        valid_gen.truncate(cfg.eval_max_examples);
    }

    let resume = session.run_dir.resume.take();
    let mut sink = session.sinks()?;
    let work = Work {
        resolved,
        task: Dna2funcTask {
            train: train_ex,
            valid: valid_ex,
            valid_gen,
            text,
            text_vocab: vocab.text,
            neftune_alpha: cfg.neftune_alpha,
            max_answer_tokens: cfg.max_answer_tokens,
            eval_batch_size: cfg.eval_batch_size,
            select: cfg.select,
        },
        test,
        majority,
        model_cfg,
        total_steps: total,
        run_dir: &run_path,
        resume,
        sink: &mut sink,
    };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    let result = result.map(|(outcome, md)| {
        eprintln!("{md}");
        outcome
    });
    session.conclude(sink, result)
}

#[cfg(test)]
mod tests;
