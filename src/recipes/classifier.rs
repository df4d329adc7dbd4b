//! `kind = "image_classifier"`: the small CNN digit classifier ([`DigitCnn`]) that judges
//! Needle-in-DNA's generated images, trained on MNIST by the one loop. Its run directory is what
//! `needle.classifier` points at; the test accuracy lands in `eval/results.toml`.

use std::path::Path;

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::activation::log_softmax;

use super::{Context, Finished, Metrics, Recipe};
use crate::checkpoint::locate::locate;
use crate::config::Resolved;
use crate::data::images::{read_mnist, to_unit};
use crate::eval::classify::TaskEval;
use crate::eval::metrics::{classification_report, Metric};
use crate::eval::predictions::Prediction;
use crate::eval::results::{markdown, write_results};
use crate::model::digit_cnn::{DigitCnn, DigitCnnConfig};
use crate::train::session::{RunError, Session};
use crate::train::{EvalMetrics, EvalOutput, StepOutput, Task};
use crate::kernels::TrainBackend;

/// Grey 28×28 images with class indices, on the host.
#[derive(Debug, Clone, Default)]
pub struct Digits {
    /// `[n * 784]`, row-major, pixels in [0, 1].
    pub pixels: Vec<f32>,
    pub labels: Vec<usize>,
}

impl Digits {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The images at `idx` as a tensor.
    ///
    /// # Shapes
    /// - returns `[idx.len(), 1, 28, 28]`
    pub fn tensor<B: Backend>(&self, idx: &[usize], device: &B::Device) -> Tensor<B, 4> {
        let data: Vec<f32> = idx.iter().flat_map(|&i| self.pixels[i * 784..(i + 1) * 784].iter().copied()).collect();
        Tensor::<B, 1>::from_floats(data.as_slice(), device).reshape([idx.len(), 1, 28, 28])
    }
}

/// The images of `digits` from an IDX pair, labelled by their position in `digits`.
pub fn load_digits(images: &Path, labels: &Path, digits: &[u8]) -> Result<Digits, RunError> {
    let set = read_mnist(images, labels)?;
    let mut out = Digits::default();
    for (img, &label) in set.images.iter().zip(&set.labels) {
        if let Some(class) = digits.iter().position(|&d| u32::from(d) == label) {
            out.pixels.extend_from_slice(&to_unit(img));
            out.labels.push(class);
        }
    }
    if out.is_empty() {
        return Err(RunError::NoImages { path: images.to_path_buf(), filter: format!("digits {digits:?}") });
    }
    Ok(out)
}

/// Split off `n_valid` images chosen by a seeded permutation; the rest stay in file order.
pub fn hold_out(all: Digits, n_valid: usize, seed: u64) -> (Digits, Digits) {
    let n_valid = n_valid.min(all.len() / 2);
    let perm = crate::data::windows::epoch_permutation(all.len(), seed, u64::MAX);
    let mut is_valid = vec![false; all.len()];
    perm[..n_valid].iter().for_each(|&i| is_valid[i] = true);
    let (mut train, mut valid) = (Digits::default(), Digits::default());
    for i in 0..all.len() {
        let dst = if is_valid[i] { &mut valid } else { &mut train };
        dst.pixels.extend_from_slice(&all.pixels[i * 784..(i + 1) * 784]);
        dst.labels.push(all.labels[i]);
    }
    (train, valid)
}

pub struct DigitBatch {
    idx: Vec<usize>,
    valid: bool,
}

pub struct ClassifierTask {
    pub train: Digits,
    pub valid: Digits,
    pub class_names: Vec<String>,
}

impl ClassifierTask {
    fn split(&self, valid: bool) -> &Digits {
        if valid { &self.valid } else { &self.train }
    }
}

/// Summed cross-entropy, `[1]`.
fn ce<B: Backend>(m: &DigitCnn<B>, set: &Digits, idx: &[usize], device: &B::Device) -> Tensor<B, 1> {
    let y: Vec<i64> = idx.iter().map(|&i| set.labels[i] as i64).collect();
    let y = Tensor::<B, 1, Int>::from_ints(y.as_slice(), device).reshape([idx.len(), 1]);
    log_softmax(m.forward(set.tensor(idx, device)), 1).gather(1, y).sum().neg()
}

/// Predicted class of every image of `set`, in chunks of 512.
pub fn predict_all<B: Backend>(m: &DigitCnn<B>, set: &Digits, device: &B::Device) -> Vec<usize> {
    let all: Vec<usize> = (0..set.len()).collect();
    all.chunks(512).flat_map(|idx| m.predict(set.tensor(idx, device))).collect()
}

impl<B: TrainBackend> Task<B> for ClassifierTask {
    type Model = DigitCnn<B>;
    type Batch = DigitBatch;
    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn valid_len(&self) -> usize {
        self.valid.len()
    }
    fn train_batch(&self, idx: &[usize]) -> DigitBatch {
        DigitBatch { idx: idx.to_vec(), valid: false }
    }
    fn valid_batch(&self, idx: &[usize]) -> DigitBatch {
        DigitBatch { idx: idx.to_vec(), valid: true }
    }
    fn units(&self, b: &DigitBatch) -> f64 {
        b.idx.len() as f64
    }
    fn tokens(&self, b: &DigitBatch) -> u64 {
        b.idx.len() as u64
    }
    fn step(&self, m: &DigitCnn<B>, b: &DigitBatch, device: &B::Device) -> StepOutput<B> {
        StepOutput::loss(ce(m, self.split(b.valid), &b.idx, device))
    }
    fn eval(&self, m: &DigitCnn<B::InnerBackend>, b: &DigitBatch, device: &B::Device) -> EvalOutput {
        EvalOutput { loss_sum: ce(m, self.split(b.valid), &b.idx, device).into_scalar().elem::<f64>(), units: b.idx.len() as f64 }
    }
    fn eval_metrics(&self, m: &DigitCnn<B::InnerBackend>, device: &B::Device) -> EvalMetrics {
        let pred: Vec<Option<usize>> = predict_all(m, &self.valid, device).into_iter().map(Some).collect();
        let r = classification_report(&self.class_names, &self.valid.labels, &pred);
        EvalMetrics { scalars: vec![("accuracy".into(), r.accuracy), ("macro_f1".into(), r.macro_f1)], select: Some(r.accuracy), ..EvalMetrics::default() }
    }
}

/// File of the classifier's weights and config inside its run directory.
pub const CLASSIFIER_WEIGHTS: &str = "classifier";
pub const CLASSIFIER_CONFIG: &str = "classifier.toml";

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedClassifier {
    model: DigitCnnConfig,
    /// Which digit each class index stands for.
    digits: Vec<u8>,
}

/// Load a trained classifier from its run directory (the newest run when given the experiment's
/// directory). Returns the model and the digit of each class index.
pub fn load_classifier<B: Backend>(dir: &Path, device: &B::Device) -> Result<(DigitCnn<B>, Vec<u8>), RunError> {
    let run = locate(dir, CLASSIFIER_CONFIG, |_| true).map_or_else(|| dir.to_path_buf(), |found| found.run);
    let cfg_path = run.join(CLASSIFIER_CONFIG);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| RunError::NotARun {
        path: cfg_path.clone(),
        kind: "image_classifier",
        message: e.to_string(),
    })?;
    let saved: SavedClassifier = toml::from_str(&text).map_err(|e| RunError::Parse { path: cfg_path.clone(), message: e.to_string() })?;
    let weights = run.join(CLASSIFIER_WEIGHTS);
    let record = NamedMpkFileRecorder::<FullPrecisionSettings>::new()
        .load(weights.clone(), device)
        .map_err(|e| RunError::Record { path: weights, message: e.to_string() })?;
    Ok((saved.model.init::<B>(device).load_record(record), saved.digits))
}

fn save_classifier<B: Backend>(dir: &Path, m: &DigitCnn<B>, cfg: &DigitCnnConfig, digits: &[u8]) -> Result<(), RunError> {
    let saved = SavedClassifier { model: cfg.clone(), digits: digits.to_vec() };
    let text = toml::to_string(&saved).expect("a classifier config serialises");
    // Weights first, config last: a directory with `classifier.toml` holds a complete classifier.
    let weights = dir.join(CLASSIFIER_WEIGHTS);
    NamedMpkFileRecorder::<FullPrecisionSettings>::new()
        .record(m.clone().into_record(), weights.clone())
        .map_err(|e| RunError::Record { path: weights, message: e.to_string() })?;
    let tmp = dir.join(format!(".{CLASSIFIER_CONFIG}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, dir.join(CLASSIFIER_CONFIG)))
        .map_err(|source| RunError::Write { path: dir.join(CLASSIFIER_CONFIG), source })
}

/// `kind = "image_classifier"`.
pub struct ImageClassifier;

/// The three splits of the digits.
pub struct Prepared {
    task: ClassifierTask,
    test: Digits,
    digits: Vec<u8>,
    total_steps: u64,
}

impl Recipe for ImageClassifier {
    const RESUMABLE: bool = false;
    type Prepared = Prepared;

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Prepared, RunError> {
        let exp = &resolved.experiment;
        let c = &exp.classifier;
        let train_all = load_digits(&c.images.train_images, &c.images.train_labels, &c.digits)?;
        let test = load_digits(&c.images.test_images, &c.images.test_labels, &c.digits)?;
        let (train, valid) = hold_out(train_all, c.valid_images, exp.seed);
        session.say(&format!("MNIST digits {:?}: {} train / {} valid / {} test images", c.digits, train.len(), valid.len(), test.len()));
        let class_names: Vec<String> = c.digits.iter().map(|d| d.to_string()).collect();
        let total_steps = exp.train.duration.steps(train.len(), 1.0, exp.train.batch_size * exp.train.grad_accum);
        Ok(Prepared { task: ClassifierTask { train, valid, class_names }, test, digits: c.digits.clone(), total_steps })
    }

    fn train<B: TrainBackend>(p: Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let c = &ctx.experiment().classifier;
        let cfg = DigitCnnConfig { classes: p.digits.len(), channels: c.channels, hidden: c.hidden };
        let model = cfg.init::<B>(&ctx.device);
        let (model, outcome) = ctx.fit(&p.task, model, p.total_steps)?;
        let model = model.valid();
        save_classifier(ctx.run_dir, &model, &cfg, &p.digits)?;
        let pred: Vec<Option<usize>> = predict_all(&model, &p.test, &ctx.device).into_iter().map(Some).collect();
        let predictions = Prediction::unscored("test_image", &p.test.labels, &pred);
        let eval = TaskEval::from_predictions("mnist", Metric::Accuracy, &p.task.class_names, predictions, false);
        let chosen = format!("step_{:07} (final)", outcome.state.step);
        let dir = ctx.run_dir.join("eval");
        write_results(&dir, std::slice::from_ref(&eval), &chosen, "test").map_err(|source| RunError::Write { path: dir, source })?;
        let mut metrics = Metrics::new();
        metrics.insert("test/accuracy".into(), eval.report.accuracy);
        metrics.insert("test/macro_f1".into(), eval.report.macro_f1);
        Ok(Finished { outcome, metrics, report: markdown(std::slice::from_ref(&eval), "test results") })
    }

    fn summary(r: &Resolved) -> String {
        let (c, t) = (&r.experiment.classifier, &r.experiment.train);
        let m = DigitCnnConfig { classes: c.digits.len(), channels: c.channels, hidden: c.hidden };
        format!(
            "# kind:             image_classifier\n# parameters:       {}\n\
             # digits:           {:?}; {} training images held out for validation\n# images per step:  {} ({} x {} accum)\n",
            crate::logging::console::thousands(m.num_params() as u64),
            c.digits, c.valid_images, t.batch_size * t.grad_accum, t.batch_size, t.grad_accum
        )
    }
}
