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


use self::data::{expand, majority_answer, prepare, Prepared};
use self::report::{write_outputs, Prediction};
use super::sft::{base_tokenizer, expanded_config, load_expanded, GenerationScore, SftSets, SftTask};
use super::{Context, Finished, Metrics, Recipe};
use crate::config::{Dna2funcSelect, Resolved};
use crate::data::dna2text::read_dna2text;
use crate::data::sft::{SftExample, SftStats};
use crate::eval::text::{score, TextScores};
use crate::export::source::{write_model_toml, MODEL_TOML};
use crate::model::generate::generate_greedy;
use crate::model::OlmoModel;
use crate::tokenizer::text::{TextTokenizer, TextVocab};
use crate::tokenizer::SEP_ID;
use crate::train::session::{RunError, Session};
use crate::train::EvalMetrics;
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

/// The text tokenizer's file in the run directory.
pub const TEXT_TOKENIZER: &str = "text_tokenizer.json";

/// What DNA2Func generates and scores at each evaluation.
pub struct Dna2funcEval {
    /// Validation records generated at each evaluation.
    pub valid_gen: Vec<Prepared>,
    pub text: TextTokenizer,
    pub text_vocab: TextVocab,
    pub max_answer_tokens: usize,
    pub eval_batch_size: usize,
    pub select: Dna2funcSelect,
}

/// The DNA2Func task of the one training loop.
pub type Dna2funcTask = SftTask<Dna2funcEval>;

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
        let outputs = generate_greedy(model, &prompts, max_new, SEP_ID)?;
        for out in outputs {
            let body = out.iter().position(|&id| id == SEP_ID).map_or(&out[..], |end| &out[..end]);
            let (ids, f) = vocab.to_text(body);
            foreign += f;
            answers.push(text.decode(&ids)?.trim().to_string());
        }
    }
    Ok((answers, foreign))
}

fn scores_of(records: &[Prepared], answers: &[String]) -> TextScores {
    let p: Vec<&str> = answers.iter().map(String::as_str).collect();
    let r: Vec<&str> = records.iter().map(|x| x.answer.as_str()).collect();
    score(&p, &r)
}

impl<B: Kernels> GenerationScore<B> for Dna2funcEval {
    fn score(&self, model: &OlmoModel<B>) -> EvalMetrics {
        let gen = generate_answers(model, &self.valid_gen, &self.text, &self.text_vocab, self.max_answer_tokens, self.eval_batch_size);
        let (answers, _) = match gen {
            Ok(a) => a,
            Err(e) => return EvalMetrics::warning(format!("validation generation failed, no best checkpoint this time: {e}")),
        };
        let s = scores_of(&self.valid_gen, &answers);
        let select = match self.select {
            Dna2funcSelect::ExactMatch => s.exact_match,
            Dna2funcSelect::TokenF1 => s.token_f1,
        };
        EvalMetrics {
            scalars: vec![("exact_match".into(), s.exact_match), ("token_f1".into(), s.token_f1), ("bleu4".into(), s.bleu4)],
            select: Some(select),
            ..EvalMetrics::default()
        }
    }
}

fn table(path: &Option<std::path::PathBuf>, key: &'static str) -> Result<Vec<crate::data::dna2text::Dna2TextRecord>, RunError> {
    let p = path.as_ref().ok_or(RunError::Dna2funcTableUnset { key })?;
    Ok(read_dna2text(p)?)
}

/// `kind = "dna2func"`.
pub struct Dna2func;

/// The task, the test records and the majority answer, before the backend is chosen.
pub struct Ready {
    task: Dna2funcTask,
    test: Vec<Prepared>,
    majority: String,
    vocab_size: usize,
    total_steps: u64,
}

impl Recipe for Dna2func {
    type Prepared = Ready;

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Ready, RunError> {
        let exp = &resolved.experiment;
        let cfg = &exp.dna2func;
        let run_path = session.run_dir.path.clone();
        let (train_rec, valid_rec, test_rec) = (table(&cfg.train, "train")?, table(&cfg.valid, "valid")?, table(&cfg.test, "test")?);
        session.say(&format!("dna2func: {} train / {} valid / {} test records", train_rec.len(), valid_rec.len(), test_rec.len()));

        // Tokenizers: the run's own when resuming, else the pretrained DNA one and a new text BPE.
        let (mut tok, own) = base_tokenizer(resolved, &run_path)?;
        let text_path = run_path.join(TEXT_TOKENIZER);
        let text = if text_path.exists() {
            TextTokenizer::from_file(&text_path)?
        } else {
            let answers: Vec<&str> = train_rec.iter().map(|r| r.answer.as_str()).collect();
            TextTokenizer::train(&answers, cfg.text_vocab_size)?
        };
        text.save(&text_path)?;
        let old_vocab = tok.vocab_size();
        let vocab = expand(&mut tok, &text, &train_rec, cfg)?;
        tok.save(&own)?;
        let model_cfg = expanded_config(resolved, &tok);
        session.say(&format!(
            "vocabulary {old_vocab} -> {} ({} text tokens of {} asked, task/gene tokens appended; DNA ids unchanged)",
            model_cfg.vocab_size, text.vocab_size(), cfg.text_vocab_size
        ));
        write_model_toml(&run_path, &model_cfg).map_err(|source| RunError::Write { path: run_path.join(MODEL_TOML), source })?;

        let mut stats = SftStats::default();
        let ctx = model_cfg.context;
        let train = prepare(&train_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
        let valid = prepare(&valid_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
        let test = prepare(&test_rec, cfg, &vocab, &tok, &text, ctx, &mut stats)?;
        session.say(&format!("SFT examples: {} kept, {} truncated ({:?}), {} dropped as too long", stats.kept, stats.truncated, cfg.truncation, stats.dropped));
        let train_ex: Vec<SftExample> = train.iter().filter_map(|p| p.example.clone()).collect();
        if train_ex.is_empty() {
            return Err(RunError::AllDropped { context: ctx });
        }
        let valid_ex: Vec<SftExample> = valid.iter().filter_map(|p| p.example.clone()).collect();
        let majority = majority_answer(&train_rec).unwrap_or_default();
        let mean_len = train_ex.iter().map(|e| e.ids.len() as f64).sum::<f64>() / train_ex.len() as f64;
        let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
        let total = exp.train.duration.steps(train_ex.len(), mean_len, seqs_per_step);
        session.say(&format!(
            "finetuning {} parameters for {total} steps of {seqs_per_step} examples (mean {mean_len:.1} tokens); majority answer: {majority:?}",
            model_cfg.num_params()
        ));
        let mut valid_gen = valid;
        if exp.sft.eval_examples() > 0 {
            valid_gen.truncate(exp.sft.eval_examples());
        }
        let eval = Dna2funcEval {
            valid_gen,
            text,
            text_vocab: vocab.text,
            max_answer_tokens: cfg.max_answer_tokens,
            eval_batch_size: exp.sft.eval_batch_size,
            select: cfg.select,
        };
        let task = SftTask { sets: SftSets { train: train_ex, valid: valid_ex }, neftune_alpha: exp.sft.neftune_alpha, eval };
        Ok(Ready { task, test, majority, vocab_size: model_cfg.vocab_size, total_steps: total })
    }

    fn train<B: TrainBackend>(p: Ready, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let model = load_expanded(ctx, p.vocab_size)?;
        let (model, outcome) = ctx.fit(&p.task, model, p.total_steps)?;

        // Test generation with the best checkpoint by the validation metric (else the final one).
        let (model, chosen) = ctx.best_or_final(model, outcome.state.step, &format!("{:?}", p.task.eval.select))?;
        let inner = burn::module::AutodiffModule::valid(&model);
        let t = &p.task.eval;
        let (answers, foreign) = generate_answers(&inner, &p.test, &t.text, &t.text_vocab, t.max_answer_tokens, t.eval_batch_size)?;
        let model_scores = scores_of(&p.test, &answers);
        let baseline = scores_of(&p.test, &vec![p.majority.clone(); p.test.len()]);
        let predictions: Vec<Prediction> = p
            .test
            .iter()
            .zip(&answers)
            .map(|(r, a)| Prediction { id: r.id.clone(), reference: r.answer.clone(), prediction: a.clone() })
            .collect();
        let md = write_outputs(ctx.run_dir, &chosen, &model_scores, &baseline, &p.majority, foreign, &predictions)
            .map_err(|source| RunError::Write { path: ctx.run_dir.join("eval"), source })?;
        let mut metrics = Metrics::new();
        for (prefix, s) in [("test", &model_scores), ("test_majority", &baseline)] {
            metrics.insert(format!("{prefix}/exact_match"), s.exact_match);
            metrics.insert(format!("{prefix}/token_f1"), s.token_f1);
            metrics.insert(format!("{prefix}/bleu4"), s.bleu4);
            metrics.insert(format!("{prefix}/sentence_bleu4"), s.sentence_bleu4);
        }
        Ok(Finished { outcome, metrics, report: md })
    }
}

#[cfg(test)]
mod tests;
