//! `kind = "vqvae"`: a VQ-VAE on 28 x 28 images (MNIST), trained by the one loop, then scored on
//! held-out images: reconstruction MSE and PSNR, codebook usage and perplexity
//! (`eval/results.toml`), and `reconstructions.png` (rows of originals above their
//! reconstructions). The run directory also holds `vqvae.toml`, the model shape that
//! [`load_vqvae`] needs to rebuild the model from a checkpoint.
//!
//! Image tokens for other tasks: [`load_vqvae`], then `VqVae::encode_indices` /
//! `decode_indices`, or the file-level helpers [`encode_png`], [`encode_images`] and
//! [`decode_to_png`] used by `gfm image encode|decode`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use super::checkpoint;
use super::run::{RunError, RunSummary, Session};
use super::task::{EvalMetrics, EvalOutput, StepOutput, Task};
use super::trainer::{self, LoopSpec};
use crate::backend::{dispatch, WithBackend};
use crate::config::{Resolved, VqvaeSection};
use crate::data::images::{self, Image, ImageError, LabelledImages, PIXELS, SIDE};
use crate::logging::ConsoleProgress;
use crate::model::quantizer::CodeUsage;
use crate::model::vqvae::{VqVae, VqVaeConfig, CODES_PER_IMAGE};
use crate::kernels::TrainBackend;

/// The model shape file written into every vqvae run directory.
pub const VQVAE_TOML: &str = "vqvae.toml";

/// A batch of images, pixels in `[0, 1]`.
pub struct ImageBatch {
    /// `[n * 784]`, row-major images.
    pub x: Vec<f32>,
    pub n: usize,
}

impl ImageBatch {
    pub fn new(images: &[Image], idx: &[usize]) -> Self {
        Self { x: idx.iter().flat_map(|&i| images::to_unit(&images[i])).collect(), n: idx.len() }
    }

    /// # Shapes
    /// - returns `[n, 1, 28, 28]`
    pub fn tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        Tensor::<B, 1>::from_floats(self.x.as_slice(), device).reshape([self.n, 1, SIDE, SIDE])
    }
}

/// Training and held-out images.
pub struct VqTask {
    pub train: Vec<Image>,
    pub heldout: Vec<Image>,
    pub model: VqVaeConfig,
}

/// Summed loss of a batch: per image `mse + commitment * commit`, summed over images; `[1]`
/// plus the summed per-image MSE and the mean commitment term.
fn batch_loss<B: Backend>(x: Tensor<B, 4>, recon: Tensor<B, 4>, commit: Tensor<B, 1>, beta: f64, n: usize) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let mse_sum = (recon - x).square().sum().div_scalar(PIXELS as f64); // [1]: sum over images of per-image MSE
    let loss = mse_sum.clone() + commit.mul_scalar(beta * n as f64);
    (loss, mse_sum)
}

impl<B: AutodiffBackend> Task<B> for VqTask {
    type Model = VqVae<B>;
    type Batch = ImageBatch;
    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn valid_len(&self) -> usize {
        self.heldout.len()
    }
    fn train_batch(&self, idx: &[usize]) -> ImageBatch {
        ImageBatch::new(&self.train, idx)
    }
    fn valid_batch(&self, idx: &[usize]) -> ImageBatch {
        ImageBatch::new(&self.heldout, idx)
    }
    fn units(&self, b: &ImageBatch) -> f64 {
        b.n as f64
    }
    fn tokens(&self, b: &ImageBatch) -> u64 {
        b.n as u64
    }
    fn step(&self, m: &VqVae<B>, b: &ImageBatch, device: &B::Device) -> StepOutput<B> {
        let x = b.tensor::<B>(device);
        let out = m.forward(x.clone()); // updates the EMA codebook
        let commit = out.commit.clone().into_scalar().elem::<f64>();
        let (loss, mse_sum) = batch_loss(x, out.recon, out.commit, self.model.commitment, b.n);
        let mut usage = CodeUsage::new(self.model.codebook_size);
        usage.add(out.indices.into_data().iter::<i64>());
        let aux = vec![
            ("vq/perplexity".to_string(), usage.perplexity()),
            ("vq/usage".to_string(), usage.usage()),
            ("vq/commit".to_string(), commit),
            ("recon/mse".to_string(), mse_sum.clone().detach().into_scalar().elem::<f64>() / b.n as f64),
        ];
        StepOutput { loss_sum: loss, aux }
    }
    fn eval(&self, m: &VqVae<B::InnerBackend>, b: &ImageBatch, device: &B::Device) -> EvalOutput {
        let x = b.tensor::<B::InnerBackend>(device);
        let out = m.reconstruct(x.clone());
        let (loss, _) = batch_loss(x, out.recon, out.commit, self.model.commitment, b.n);
        EvalOutput { loss_sum: loss.into_scalar().elem::<f64>(), units: b.n as f64 }
    }
    fn eval_metrics(&self, m: &VqVae<B::InnerBackend>, device: &B::Device) -> EvalMetrics {
        let r = heldout_report(m, &self.heldout, 256, device);
        EvalMetrics { scalars: r.scalars(), select: None }
    }
}

/// Reconstruction and codebook numbers over a set of images.
#[derive(Debug, Clone, Serialize)]
pub struct HeldoutReport {
    pub images: usize,
    /// Mean squared error per pixel, pixels in `[0, 1]`.
    pub recon_mse: f64,
    /// `10 log10(1 / recon_mse)` dB.
    pub psnr_db: f64,
    /// Codes used at least once / codebook size.
    pub codebook_usage: f64,
    pub codes_used: usize,
    pub codebook_size: usize,
    /// `exp(entropy)` of the code distribution over all 49 cells of all images.
    pub perplexity: f64,
    /// Fraction of code ids unchanged by decode then encode (`encode(decode(ids)) == ids`).
    pub token_roundtrip: f64,
}

impl HeldoutReport {
    pub fn scalars(&self) -> Vec<(String, f64)> {
        vec![
            ("recon/mse".into(), self.recon_mse),
            ("recon/psnr_db".into(), self.psnr_db),
            ("vq/usage".into(), self.codebook_usage),
            ("vq/perplexity".into(), self.perplexity),
            ("vq/token_roundtrip".into(), self.token_roundtrip),
        ]
    }
}

/// Score `model` on `images` in batches of `batch`.
pub fn heldout_report<B: Backend>(model: &VqVae<B>, images: &[Image], batch: usize, device: &B::Device) -> HeldoutReport {
    let k = model.codebook_size();
    let mut usage = CodeUsage::new(k);
    let (mut sq, mut same) = (0.0, 0usize);
    let all: Vec<usize> = (0..images.len()).collect();
    for idx in all.chunks(batch.max(1)) {
        let b = ImageBatch::new(images, idx);
        let x = b.tensor::<B>(device);
        let out = model.reconstruct(x.clone());
        sq += (out.recon - x).square().sum().into_scalar().elem::<f64>();
        let again = model.encode_indices(model.decode_indices(out.indices.clone()));
        same += out.indices.clone().equal(again).int().sum().into_scalar().elem::<i64>() as usize;
        usage.add(out.indices.into_data().iter::<i64>());
    }
    let mse = sq / (images.len().max(1) * PIXELS) as f64;
    HeldoutReport {
        images: images.len(),
        recon_mse: mse,
        psnr_db: 10.0 * (1.0 / mse.max(1e-12)).log10(),
        codebook_usage: usage.usage(),
        codes_used: usage.counts.iter().filter(|&&c| c > 0).count(),
        codebook_size: k,
        perplexity: usage.perplexity(),
        token_roundtrip: same as f64 / (images.len().max(1) * CODES_PER_IMAGE) as f64,
    }
}

/// Reconstructions of the first `pairs` images: pixels in `[0, 1]`, as `[f32; 784]` rows.
pub fn reconstructions<B: Backend>(model: &VqVae<B>, images: &[Image], pairs: usize, device: &B::Device) -> Vec<[f32; PIXELS]> {
    let idx: Vec<usize> = (0..pairs.min(images.len())).collect();
    let recon = model.reconstruct(ImageBatch::new(images, &idx).tensor::<B>(device)).recon;
    let flat = recon.into_data().to_vec::<f32>().unwrap_or_default();
    flat.chunks_exact(PIXELS).map(|c| c.try_into().expect("784 pixels")).collect()
}

/// Write a grid with rows of `cols` originals, each above a row of their reconstructions.
pub fn save_comparison(path: &Path, originals: &[Image], recons: &[[f32; PIXELS]], cols: usize) -> Result<(), ImageError> {
    let mut cells = Vec::new();
    for start in (0..recons.len()).step_by(cols.max(1)) {
        let end = (start + cols).min(recons.len());
        let blank = [1f32; PIXELS];
        cells.extend((start..start + cols).map(|i| if i < end { images::to_unit(&originals[i]) } else { blank }));
        cells.extend((start..start + cols).map(|i| if i < end { recons[i] } else { blank }));
    }
    images::save_png_grid(path, &cells, cols, 2, 2)
}

/// Read images (IDX or PNG folder), keep `digits` (by class name) and the first `max` (0 = all).
pub fn load_images(images_path: &Path, labels: Option<&Path>, digits: &[u32], max: usize) -> Result<Vec<Image>, RunError> {
    let err = |e: ImageError| RunError::Other(e.to_string());
    let mut set = if images_path.is_dir() {
        images::read_png_folder(images_path).map_err(err)?
    } else if let Some(l) = labels {
        images::read_mnist(images_path, l).map_err(err)?
    } else {
        let imgs = images::read_idx_images(images_path).map_err(err)?;
        if !digits.is_empty() {
            return Err(RunError::Other(format!(
                "vqvae.digits filters by label but {} has no labels file; set vqvae.train_labels / heldout_labels",
                images_path.display()
            )));
        }
        LabelledImages { labels: vec![0; imgs.len()], images: imgs, classes: vec!["all".into()] }
    };
    if !digits.is_empty() {
        let keep: Vec<u32> = (0..set.classes.len() as u32)
            .filter(|&c| set.classes[c as usize].parse::<u32>().is_ok_and(|d| digits.contains(&d)))
            .collect();
        set.filter_labels(&keep);
    }
    if max > 0 {
        set.truncate(max);
    }
    if set.images.is_empty() {
        return Err(RunError::Other(format!("{}: no images left after vqvae.digits = {digits:?}", images_path.display())));
    }
    Ok(set.images)
}

struct Work<'a> {
    resolved: &'a Resolved,
    task: VqTask,
    total_steps: u64,
    run_dir: &'a Path,
    resume: Option<checkpoint::LoadedCheckpoint>,
    sink: &'a mut dyn crate::logging::MetricSink,
}

impl WithBackend for Work<'_> {
    type Output = Result<(trainer::LoopOutcome, String, BTreeMap<String, f64>), RunError>;
    fn run<B: TrainBackend>(self, device: B::Device, backend: &str) -> Self::Output {
        let exp = &self.resolved.experiment;
        B::seed(&device, exp.seed);
        let model = self.task.model.init::<B>(&device);
        let start = self.resume.as_ref().map(|c| c.state.step).unwrap_or(0);
        let mut progress = ConsoleProgress::new(self.total_steps, start, exp.train.log_every);
        let spec = LoopSpec { train: &exp.train, total_steps: self.total_steps, seed: exp.seed, run_dir: self.run_dir };
        let (model, outcome) = trainer::train::<B, _>(&self.task, model, &spec, self.resume, self.sink, &mut progress, &device)?;
        let model = model.valid();
        let report = heldout_report(&model, &self.task.heldout, 256, &device);
        let pairs = exp.vqvae.grid_pairs.min(self.task.heldout.len());
        let recons = reconstructions(&model, &self.task.heldout, pairs, &device);
        let png = self.run_dir.join("reconstructions.png");
        save_comparison(&png, &self.task.heldout[..pairs], &recons, 8).map_err(|e| RunError::Other(e.to_string()))?;
        write_results(self.run_dir, &report, outcome.state.step)?;
        eprintln!(
            "held-out ({} images): reconstruction MSE {:.5} | PSNR {:.2} dB | codebook usage {:.3} ({}/{}) | perplexity {:.1} | \
             ids kept by decode -> encode {:.3}\nwritten {} and {}",
            report.images, report.recon_mse, report.psnr_db, report.codebook_usage, report.codes_used, report.codebook_size,
            report.perplexity, report.token_roundtrip, png.display(), self.run_dir.join("eval/results.toml").display()
        );
        let metrics = report.scalars().into_iter().map(|(k, v)| (format!("heldout/{k}"), v)).collect();
        Ok((outcome, backend.to_string(), metrics))
    }
}

#[derive(Serialize)]
struct ResultsFile<'a> {
    checkpoint: String,
    heldout: &'a HeldoutReport,
}

fn write_results(run_dir: &Path, report: &HeldoutReport, step: u64) -> Result<(), RunError> {
    let dir = run_dir.join("eval");
    let path = dir.join("results.toml");
    let text = toml::to_string_pretty(&ResultsFile { checkpoint: checkpoint::step_dir_name(step), heldout: report })
        .map_err(|e| RunError::Other(format!("serialising {}: {e}", path.display())))?;
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, text))
        .map_err(|e| RunError::Other(format!("cannot write {}: {e}", path.display())))
}

pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    let exp = &resolved.experiment;
    let v: &VqvaeSection = &exp.vqvae;
    let mut session = Session::open(resolved, resume)?;
    let run_path = session.run_dir.path.clone();
    let train = load_images(&v.train_images, v.train_labels.as_deref(), &v.digits, v.max_train)?;
    let heldout = load_images(&v.heldout_images, v.heldout_labels.as_deref(), &v.digits, v.max_heldout)?;
    let model = v.model();
    let images_per_step = exp.train.batch_size * exp.train.grad_accum;
    let total = super::pretrain::total_steps(exp.train.duration, train.len(), 1.0, images_per_step);
    session.say(&format!(
        "vqvae: {} train / {} held-out images{}; {} parameters, codebook {} x {}; {total} steps of {images_per_step} images",
        train.len(),
        heldout.len(),
        if v.digits.is_empty() { String::new() } else { format!(" (digits {:?})", v.digits) },
        model.num_params(),
        model.codebook_size,
        model.code_dim
    ));
    let text = toml::to_string_pretty(&model).map_err(|e| RunError::Other(e.to_string()))?;
    std::fs::write(run_path.join(VQVAE_TOML), text)
        .map_err(|e| RunError::Other(format!("cannot write {}/{VQVAE_TOML}: {e}", run_path.display())))?;
    let resume = session.run_dir.resume.take();
    let mut sink = session.sinks()?;
    let work = Work { resolved, task: VqTask { train, heldout, model }, total_steps: total, run_dir: &run_path, resume, sink: &mut sink };
    let result = dispatch(exp.run.device, work).map_err(RunError::from).and_then(|r| r);
    session.conclude(sink, result)
}

/// The run directory and checkpoint directory that `path` names: a run (its `best/` checkpoint if
/// any, else its newest), a `step_NNNNNNN` or `best/step_NNNNNNN` directory, or an experiment's
/// directory (its newest run with `vqvae.toml` and a checkpoint).
fn locate(path: &Path) -> Result<(PathBuf, checkpoint::LoadedCheckpoint), RunError> {
    let ck_err = |e: checkpoint::CheckpointError| RunError::Other(e.to_string());
    if path.join("manifest.toml").is_file() {
        let parent = path.parent().unwrap_or(Path::new("."));
        let run = [Some(parent), parent.parent()].into_iter().flatten().find(|d| d.join(VQVAE_TOML).is_file()).ok_or_else(|| {
            RunError::Other(format!("{}: no {VQVAE_TOML} in its run directory; is this a vqvae checkpoint?", path.display()))
        })?;
        return Ok((run.to_path_buf(), checkpoint::load(path).map_err(ck_err)?));
    }
    let run = if path.join(VQVAE_TOML).is_file() {
        path.to_path_buf()
    } else {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| RunError::Other(format!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(VQVAE_TOML).is_file() && !checkpoint::list(p).is_empty())
            .collect();
        runs.sort();
        runs.pop().ok_or_else(|| {
            RunError::Other(format!("{}: not a vqvae run (no {VQVAE_TOML}) and holds no vqvae run with a checkpoint", path.display()))
        })?
    };
    let best = run.join(trainer::BEST_DIR);
    let dir = if checkpoint::list(&best).is_empty() { run.clone() } else { best };
    let ck = checkpoint::load_newest(&dir, |w| eprintln!("{w}")).map_err(ck_err)?;
    Ok((run, ck))
}

fn read_vqvae_config(run: &Path) -> Result<VqVaeConfig, RunError> {
    let cfg_path = run.join(VQVAE_TOML);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| RunError::Other(format!("cannot read {}: {e}", cfg_path.display())))?;
    toml::from_str(&text).map_err(|e| RunError::Other(format!("{}: {e}", cfg_path.display())))
}

/// The shape of the VQ-VAE that [`load_vqvae`] would load from the same path, without loading
/// weights (e.g. its codebook size, to add image tokens before choosing a backend).
pub fn vqvae_config(run_or_checkpoint_dir: &Path) -> Result<VqVaeConfig, RunError> {
    read_vqvae_config(&locate(run_or_checkpoint_dir)?.0)
}

/// Load a trained VQ-VAE: `run_or_checkpoint_dir` is a vqvae run directory (its `best/`
/// checkpoint if present, else its newest), one of its `step_NNNNNNN` directories, or the
/// experiment directory holding runs (the newest run). The shape comes from the run's `vqvae.toml`.
pub fn load_vqvae<B: Backend>(run_or_checkpoint_dir: &Path, device: &B::Device) -> Result<(VqVae<B>, VqVaeConfig), RunError> {
    let (run, ck) = locate(run_or_checkpoint_dir)?;
    let cfg = read_vqvae_config(&run)?;
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.model, device)
        .map_err(|e| RunError::Other(format!("cannot load the model record of {}: {e}", ck.dir.display())))?;
    Ok((cfg.init::<B>(device).load_record(record), cfg))
}

/// Image tokens of `images`: 49 code ids each, row-major over the 7 x 7 grid.
pub fn encode_images<B: Backend>(model: &VqVae<B>, images: &[Image], device: &B::Device) -> Vec<Vec<u32>> {
    let all: Vec<usize> = (0..images.len()).collect();
    all.chunks(256)
        .flat_map(|idx| {
            let ids = model.encode_indices(ImageBatch::new(images, idx).tensor::<B>(device));
            let flat: Vec<u32> = ids.into_data().iter::<i64>().map(|v| v as u32).collect();
            flat.chunks_exact(CODES_PER_IMAGE).map(<[u32]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// Image tokens of one PNG (grayscale, resized to 28 x 28 if needed; light digit on dark).
pub fn encode_png<B: Backend>(model: &VqVae<B>, png: &Path, device: &B::Device) -> Result<Vec<u32>, RunError> {
    let img = images::read_png(png).map_err(|e| RunError::Other(e.to_string()))?;
    Ok(encode_images(model, &[img], device).remove(0))
}

/// Parse 49 code ids separated by whitespace or commas.
pub fn parse_ids(text: &str, codebook_size: usize) -> Result<Vec<u32>, RunError> {
    let ids = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().map_err(|_| RunError::Other(format!("`{s}` is not a code id (expected integers)"))))
        .collect::<Result<Vec<u32>, _>>()?;
    if ids.len() != CODES_PER_IMAGE {
        return Err(RunError::Other(format!("expected {CODES_PER_IMAGE} code ids (a 7 x 7 grid), found {}", ids.len())));
    }
    if let Some(bad) = ids.iter().find(|&&i| i as usize >= codebook_size) {
        return Err(RunError::Other(format!("code id {bad} is out of range: the codebook has {codebook_size} codes")));
    }
    Ok(ids)
}

/// Decode 49 code ids (validated) and write the image as a 28 x 28 grayscale PNG.
pub fn decode_to_png<B: Backend>(model: &VqVae<B>, ids: &[u32], out: &Path, device: &B::Device) -> Result<(), RunError> {
    let text: Vec<String> = ids.iter().map(u32::to_string).collect();
    let ids = parse_ids(&text.join(" "), model.codebook_size())?;
    let ints: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let t = Tensor::<B, 1, Int>::from_ints(ints.as_slice(), device).reshape([1, CODES_PER_IMAGE]);
    let pixels = model.decode_indices(t).into_data().to_vec::<f32>().map_err(|e| RunError::Other(format!("{e:?}")))?;
    let img: [f32; PIXELS] = pixels.try_into().map_err(|_| RunError::Other("decoder output is not 784 pixels".into()))?;
    images::save_png(out, &img).map_err(|e| RunError::Other(e.to_string()))
}

#[cfg(test)]
#[path = "vqvae_tests.rs"]
mod tests;
