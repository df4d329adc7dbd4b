//! `kind = "kmer_baseline"`: multinomial logistic regression on k-mer frequencies, the classical
//! baseline for a sequence-classification task, trained by the same loop as every model. Each
//! sequence becomes its `4^k` overlapping k-mer counts (windows holding N are skipped), scaled to
//! unit L2 norm so the logits' scale does not depend on k or the sequence length; AdamW's weight
//! decay is the L2 penalty.

use burn::module::{AutodiffModule, Module};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::finetune::data::{load_task, TaskData};
use super::{Context, Finished, Metrics, Recipe};
use crate::config::Resolved;
use crate::data::benchmarks::LabelledSeq;
use crate::eval::classify::TaskEval;
use crate::eval::predictions::Prediction;
use crate::eval::metrics::classification_report;
use crate::eval::results::{markdown, write_results};
use crate::train::session::{RunError, Session};
use crate::train::{EvalMetrics, EvalOutput, StepOutput, Task};
use crate::kernels::TrainBackend;

/// Counts of the `4^k` k-mers of `seq` (index: base-4 number, A=0 C=1 G=2 T=3), unit L2 norm.
pub fn kmer_features(seq: &[u8], k: usize) -> Vec<f32> {
    let dim = 1usize << (2 * k);
    let mut counts = vec![0f32; dim];
    let code = |b: u8| match b {
        b'A' => Some(0usize),
        b'C' => Some(1),
        b'G' => Some(2),
        b'T' => Some(3),
        _ => None,
    };
    'windows: for w in seq.windows(k) {
        let mut idx = 0;
        for &b in w {
            let Some(c) = code(b) else { continue 'windows };
            idx = idx * 4 + c;
        }
        counts[idx] += 1.0;
    }
    let norm = counts.iter().map(|c| c * c).sum::<f32>().sqrt();
    if norm > 0.0 {
        counts.iter_mut().for_each(|c| *c /= norm);
    }
    counts
}

#[derive(Module, Debug)]
pub struct KmerLogReg<B: Backend> {
    /// `[4^k, classes]` weights and `[classes]` bias.
    pub linear: Linear<B>,
}

/// Features, class indices and row ids of a split, on the host.
pub struct Split {
    pub x: Vec<Vec<f32>>,
    pub y: Vec<usize>,
    /// Each row's id in its input file (for `predictions.tsv`).
    pub ids: Vec<String>,
}

impl Split {
    fn new(seqs: &[LabelledSeq], labels: &[String], k: usize) -> Result<Self, RunError> {
        let mut y = Vec::with_capacity(seqs.len());
        for e in seqs {
            y.push(labels.iter().position(|l| *l == e.label).ok_or_else(|| RunError::UnknownLabel { label: e.label.clone() })?);
        }
        Ok(Self { x: seqs.iter().map(|e| kmer_features(&e.seq, k)).collect(), y, ids: seqs.iter().map(|e| e.id.clone()).collect() })
    }
}

pub struct KmerBatch {
    /// `[n * dim]`
    x: Vec<f32>,
    y: Vec<i64>,
    n: usize,
    dim: usize,
}

pub struct KmerTask {
    pub task: TaskData,
    pub train: Split,
    pub valid: Split,
    pub dim: usize,
}

fn batch(s: &Split, idx: &[usize], dim: usize) -> KmerBatch {
    KmerBatch {
        x: idx.iter().flat_map(|&i| s.x[i].iter().copied()).collect(),
        y: idx.iter().map(|&i| s.y[i] as i64).collect(),
        n: idx.len(),
        dim,
    }
}

/// # Shapes
/// - returns logits `[n, classes]`
fn logits<B: Backend>(m: &KmerLogReg<B>, b: &KmerBatch, device: &B::Device) -> Tensor<B, 2> {
    m.linear.forward(Tensor::<B, 1>::from_floats(b.x.as_slice(), device).reshape([b.n, b.dim]))
}

/// Summed cross-entropy of a batch, `[1]`.
fn ce<B: Backend>(m: &KmerLogReg<B>, b: &KmerBatch, device: &B::Device) -> Tensor<B, 1> {
    let y = Tensor::<B, 1, Int>::from_ints(b.y.as_slice(), device).reshape([b.n, 1]);
    log_softmax(logits(m, b, device), 1).gather(1, y).sum().neg()
}

/// Class probabilities (softmax of the logits) of every row of `s`, `[n][classes]`.
fn class_probs<B: Backend>(m: &KmerLogReg<B>, s: &Split, dim: usize, device: &B::Device) -> Vec<Vec<f64>> {
    let all: Vec<usize> = (0..s.x.len()).collect();
    all.chunks(512)
        .flat_map(|idx| {
            let probs = burn::tensor::activation::softmax(logits(m, &batch(s, idx, dim), device), 1);
            let classes = probs.dims()[1];
            let flat: Vec<f64> = probs.into_data().iter::<f64>().collect();
            flat.chunks(classes).map(<[f64]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// The most probable class of each row.
fn argmax_rows(probs: &[Vec<f64>]) -> Vec<Option<usize>> {
    probs.iter().map(|p| (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))).collect()
}

fn predict<B: Backend>(m: &KmerLogReg<B>, s: &Split, dim: usize, device: &B::Device) -> Vec<Option<usize>> {
    argmax_rows(&class_probs(m, s, dim, device))
}

impl<B: TrainBackend> Task<B> for KmerTask {
    type Model = KmerLogReg<B>;
    type Batch = KmerBatch;
    fn train_len(&self) -> usize {
        self.train.x.len()
    }
    fn valid_len(&self) -> usize {
        self.valid.x.len()
    }
    fn train_batch(&self, idx: &[usize]) -> KmerBatch {
        batch(&self.train, idx, self.dim)
    }
    fn valid_batch(&self, idx: &[usize]) -> KmerBatch {
        batch(&self.valid, idx, self.dim)
    }
    fn units(&self, b: &KmerBatch) -> f64 {
        b.n as f64
    }
    fn tokens(&self, b: &KmerBatch) -> u64 {
        b.n as u64
    }
    fn step(&self, m: &KmerLogReg<B>, b: &KmerBatch, device: &B::Device) -> StepOutput<B> {
        StepOutput::loss(ce(m, b, device))
    }
    fn eval(&self, m: &KmerLogReg<B::InnerBackend>, b: &KmerBatch, device: &B::Device) -> EvalOutput {
        EvalOutput { loss_sum: ce(m, b, device).into_scalar().elem::<f64>(), units: b.n as f64 }
    }
    fn eval_metrics(&self, m: &KmerLogReg<B::InnerBackend>, device: &B::Device) -> EvalMetrics {
        let pred = predict(m, &self.valid, self.dim, device);
        let r = classification_report(&self.task.labels, &self.valid.y, &pred);
        EvalMetrics { scalars: vec![(format!("{}/mcc", self.task.name), r.mcc)], select: Some(r.mcc), ..EvalMetrics::default() }
    }
}

/// `kind = "kmer_baseline"`.
pub struct KmerBaseline;

/// Features of the three splits.
pub struct Prepared {
    task: KmerTask,
    test: Split,
    total_steps: u64,
}

impl Recipe for KmerBaseline {
    const RESUMABLE: bool = false;
    type Prepared = Prepared;

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Prepared, RunError> {
        let exp = &resolved.experiment;
        let [spec] = exp.tasks.as_slice() else {
            return Err(RunError::TaskCount { kind: "kmer_baseline", found: exp.tasks.len() });
        };
        let b = &exp.baseline;
        let k = b.k;
        let task = load_task(spec, b.valid_fraction, exp.seed)?;
        for note in &task.notes {
            session.say(note);
        }
        session.say(&format!(
            "task {}: {} train / {} valid / {} test; {k}-mer frequencies ({} features)",
            task.name, task.train.len(), task.valid.len(), task.test.len(), 1usize << (2 * k)
        ));
        let train = Split::new(&task.train, &task.labels, k)?;
        let valid = Split::new(&task.valid, &task.labels, k)?;
        let test = Split::new(&task.test, &task.labels, k)?;
        let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
        let total_steps = exp.train.duration.steps(train.x.len(), 1.0, seqs_per_step);
        Ok(Prepared { task: KmerTask { task, train, valid, dim: 1 << (2 * k) }, test, total_steps })
    }

    fn train<B: TrainBackend>(p: Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let classes = p.task.task.labels.len();
        let model = KmerLogReg { linear: LinearConfig::new(p.task.dim, classes).init::<B>(&ctx.device) };
        let (model, outcome) = ctx.fit(&p.task, model, p.total_steps)?;
        let probs = class_probs(&model.valid(), &p.test, p.task.dim, &ctx.device);
        let pred = argmax_rows(&probs);
        let t = &p.task.task;
        let predictions = probs
            .into_iter()
            .zip(pred)
            .enumerate()
            .map(|(row, (scores, pred))| Prediction { row, id: p.test.ids[row].clone(), truth: p.test.y[row], pred, consistency: None, scores })
            .collect();
        let eval = TaskEval::from_predictions(&t.name, t.metric, &t.labels, predictions, false);
        let chosen = format!("step_{:07} (final; k-mer logistic regression)", outcome.state.step);
        let dir = ctx.run_dir.join("eval");
        write_results(&dir, std::slice::from_ref(&eval), &chosen, "test").map_err(|source| RunError::Write { path: dir, source })?;
        let mut metrics = Metrics::new();
        metrics.insert(format!("test/{}/{}", t.name, t.metric.name()), eval.value);
        metrics.insert(format!("test/{}/mcc", t.name), eval.report.mcc);
        if let Some(auroc) = eval.auroc {
            metrics.insert(format!("test/{}/auroc", t.name), auroc);
        }
        Ok(Finished { outcome, metrics, report: markdown(std::slice::from_ref(&eval), "test results") })
    }

    fn summary(r: &Resolved) -> String {
        let t = &r.experiment.train;
        let k = r.experiment.baseline.k;
        format!(
            "# kind:             kmer_baseline\n# features:         {} ({k}-mer frequencies)\n\
             # sequences/step:   {} ({} x {} accum)\n",
            1usize << (2 * k), t.batch_size * t.grad_accum, t.batch_size, t.grad_accum
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmer_features_count_overlapping_windows_and_skip_n() {
        // k = 1 on "AACN": A twice, C once, N skipped; norm sqrt(4 + 1).
        let f = kmer_features(b"AACN", 1);
        let r5 = 5f32.sqrt();
        assert_eq!(f, vec![2.0 / r5, 1.0 / r5, 0.0, 0.0]);
        // k = 2 on "ACGT": AC (0*4+1), CG (1*4+2), GT (2*4+3); 1/sqrt(3) each.
        let f = kmer_features(b"ACGT", 2);
        let hot: Vec<usize> = (0..16).filter(|&i| f[i] > 0.0).collect();
        assert_eq!(hot, vec![1, 6, 11]);
        assert!((f[1] - 1.0 / 3f32.sqrt()).abs() < 1e-6);
    }
}
