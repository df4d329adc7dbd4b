//! Benchmark evaluation by generation (Omni-DNA): prompt `[CLS] task dna [MASK]`, greedy decode
//! `replicate + 1` tokens with the KV cache, read the class from the first generated token
//! (anything else is an invalid output, counted wrong), and score with the task's metric.

use serde::Serialize;

use super::metrics::{classification_report, ClassReport, Metric};
use crate::data::benchmarks::LabelledSeq;
use crate::data::sft::{parse_label, SftFormat};
use crate::model::generate::generate_greedy;
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
    /// Mean fraction of the generated replicas that agree with the first (valid outputs only).
    pub consistency: f64,
    pub report: ClassReport,
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
    let mut truth = Vec::with_capacity(seqs.len());
    let mut pred = Vec::with_capacity(seqs.len());
    let mut consistency = (0.0, 0usize);
    for chunk in seqs.chunks(batch_size.max(1)) {
        let mut prompts = Vec::new();
        let mut slots = Vec::new();
        let base = pred.len();
        for (i, e) in chunk.iter().enumerate() {
            let class = t.labels.iter().position(|l| *l == e.label).ok_or_else(|| err(format!("unknown label `{}` of {}", e.label, e.id)))?;
            truth.push(class);
            pred.push(None);
            let dna = tok.encode_dna(&e.seq).map_err(|e| err(e.to_string()))?;
            if let Some(p) = t.format.generation_prompt(&dna, max_new) {
                prompts.push(p);
                slots.push(base + i);
            }
        }
        let outputs = generate_greedy(model, &prompts, max_new, SEP_ID).map_err(|e| err(e.to_string()))?;
        for (slot, out) in slots.into_iter().zip(outputs) {
            let (class, agree) = parse_label(&out, t.label_ids);
            if class.is_some() {
                consistency.0 += agree;
                consistency.1 += 1;
            }
            pred[slot] = class;
        }
    }
    let report = classification_report(t.labels, &truth, &pred);
    Ok(TaskEval {
        task: t.task.to_string(),
        metric: t.metric,
        value: report.get(t.metric),
        consistency: if consistency.1 > 0 { consistency.0 / consistency.1 as f64 } else { 0.0 },
        report,
    })
}
