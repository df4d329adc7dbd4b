//! Benchmark evaluation by generation (Omni-DNA): prompt `[CLS] task dna [MASK]`, greedy decode
//! `replicate + 1` tokens with the KV cache, read the class from the first generated token
//! (anything else is an invalid output, counted wrong), and score with the task's metric. Each
//! example's answer and the probability of every label token at the answer position are kept
//! ([`Prediction`]) for `eval/predictions.tsv` and AUROC.

use serde::Serialize;

use super::auroc::task_auroc;
use super::metrics::{classification_report, ClassReport, Metric};
use super::predictions::Prediction;
use crate::data::benchmarks::LabelledSeq;
use crate::data::sft::{parse_label, SftFormat};
use crate::model::generate::generate_greedy_scored;
use crate::model::OlmoModel;
use crate::tokenizer::{DnaTokenizer, SEP_ID};
use crate::kernels::Kernels;

/// What a task's evaluation needs to know about its vocabulary.
pub struct TaskPrompt<'a> {
    pub task: &'a str,
    pub labels: &'a [String],
    /// Token id of each label, in `labels` order.
    pub label_ids: &'a [u32],
    pub metric: Metric,
    pub format: &'a SftFormat,
}

/// One task's scores on one split.
#[derive(Debug, Clone, Serialize)]
pub struct TaskEval {
    pub task: String,
    pub metric: Metric,
    /// The value of `metric`.
    pub value: f64,
    /// Mean fraction of the generated replicas that agree with the first (valid outputs only);
    /// 1 for evaluations that do not generate.
    pub consistency: f64,
    pub report: ClassReport,
    /// Binary: AUROC of the second label; more labels: macro one-vs-rest AUROC
    /// ([`task_auroc`]). `None` when the evaluation has no scores or a class is missing.
    pub auroc: Option<f64>,
    /// Every example's answer and scores, in evaluation order (`eval/predictions.tsv`).
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

impl TaskEval {
    /// Score `predictions` of `task` whose labels are `labels`: the report, the headline metric,
    /// the mean replica consistency (over rows that have one; 1 when `generated` is false, 0
    /// when it is true and no output was valid) and the AUROC from the rows' scores.
    pub fn from_predictions(task: &str, metric: Metric, labels: &[String], predictions: Vec<Prediction>, generated: bool) -> Self {
        let truth: Vec<usize> = predictions.iter().map(|p| p.truth).collect();
        let pred: Vec<Option<usize>> = predictions.iter().map(|p| p.pred).collect();
        let report = classification_report(labels, &truth, &pred);
        let agree: Vec<f64> = predictions.iter().filter_map(|p| p.consistency).collect();
        let consistency = match (generated, agree.is_empty()) {
            (false, _) => 1.0,
            (true, true) => 0.0,
            (true, false) => agree.iter().sum::<f64>() / agree.len() as f64,
        };
        let scores: Vec<Vec<f64>> = predictions.iter().map(|p| p.scores.clone()).collect();
        let auroc = task_auroc(&scores, &truth, labels.len());
        Self { task: task.to_string(), metric, value: report.get(metric), consistency, report, auroc, predictions }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("task `{task}`: {message}")]
    Task { task: String, message: String },
}

/// Generate an answer for every sequence and score the predictions.
pub fn evaluate_task<B: Kernels>(
    model: &OlmoModel<B>,
    tok: &DnaTokenizer,
    t: &TaskPrompt,
    seqs: &[LabelledSeq],
    batch_size: usize,
) -> Result<TaskEval, EvalError> {
    let err = |message: String| EvalError::Task { task: t.task.to_string(), message };
    let max_new = t.format.replicate() + 1;
    let mut predictions: Vec<Prediction> = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(batch_size.max(1)) {
        let mut prompts = Vec::new();
        let mut slots = Vec::new();
        for e in chunk {
            let truth = t.labels.iter().position(|l| *l == e.label).ok_or_else(|| err(format!("unknown label `{}` of {}", e.label, e.id)))?;
            let dna = tok.encode_dna(&e.seq).map_err(|e| err(e.to_string()))?;
            if let Some(p) = t.format.generation_prompt(&dna, max_new) {
                prompts.push(p);
                slots.push(predictions.len());
            }
            let row = predictions.len();
            predictions.push(Prediction { row, id: e.id.clone(), truth, pred: None, consistency: None, scores: Vec::new() });
        }
        let (outputs, scores) = generate_greedy_scored(model, &prompts, max_new, SEP_ID, t.label_ids).map_err(|e| err(e.to_string()))?;
        for ((slot, out), scores) in slots.into_iter().zip(outputs).zip(scores) {
            let (class, agree) = parse_label(&out, t.label_ids);
            let p = &mut predictions[slot];
            p.pred = class;
            p.consistency = class.map(|_| agree);
            p.scores = scores;
        }
    }
    Ok(TaskEval::from_predictions(t.task, t.metric, t.labels, predictions, true))
}
