//! `kind = "vqvae"`: a VQ-VAE on 28 x 28 images (MNIST), trained by the one loop, then scored on
//! held-out images: reconstruction MSE and PSNR, codebook usage and perplexity
//! (`eval/results.toml`), and `reconstructions.png` (rows of originals above their
//! reconstructions). The run directory also holds `vqvae.toml`, the model shape that
//! [`load_vqvae`] needs to rebuild the model from a checkpoint.
//!
//! Image tokens for other tasks: [`load_vqvae`], then `VqVae::encode_indices` /
//! `decode_indices`, or the file-level helpers [`encode_png`], [`encode_images`] and
//! [`decode_to_png`] used by `gfm image encode|decode`.

use std::path::Path;

use burn::module::AutodiffModule;
use burn::prelude::*;
use serde::Serialize;

use super::{Context, Finished, Recipe};
use crate::checkpoint;
use crate::config::{Resolved, VqvaeSection};
use crate::data::images::{self, Image, ImageError, LabelledImages, PIXELS, SIDE};
use crate::model::quantizer::CodeUsage;
use crate::model::vqvae::{VqVae, VqVaeConfig, CODES_PER_IMAGE};
use crate::train::session::{RunError, Session};
use crate::train::{EvalMetrics, EvalOutput, StepOutput, Task};
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

impl<B: TrainBackend> Task<B> for VqTask {
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
        EvalMetrics { scalars: r.scalars(), ..EvalMetrics::default() }
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
/// Returns the images and the reader's notes (hidden files skipped in a PNG folder).
pub fn load_images(images_path: &Path, labels: Option<&Path>, digits: &[u32], max: usize) -> Result<(Vec<Image>, Vec<String>), RunError> {
    let mut set = if images_path.is_dir() {
        images::read_png_folder(images_path)?
    } else if let Some(l) = labels {
        images::read_mnist(images_path, l)?
    } else {
        let imgs = images::read_idx_images(images_path)?;
        if !digits.is_empty() {
            return Err(RunError::NoLabels { images: images_path.to_path_buf() });
        }
        LabelledImages { labels: vec![0; imgs.len()], images: imgs, classes: vec!["all".into()], notes: Vec::new() }
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
        return Err(RunError::NoImages { path: images_path.to_path_buf(), filter: format!("vqvae.digits = {digits:?}") });
    }
    Ok((set.images, set.notes))
}

/// `kind = "vqvae"`.
pub struct Vqvae;

impl Recipe for Vqvae {
    type Prepared = (VqTask, u64);

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<(VqTask, u64), RunError> {
        let exp = &resolved.experiment;
        let v: &VqvaeSection = &exp.vqvae;
        let run_path = session.run_dir.path.clone();
        let (train, train_notes) = load_images(&v.train_images, v.train_labels.as_deref(), &v.digits, v.max_train)?;
        let (heldout, heldout_notes) = load_images(&v.heldout_images, v.heldout_labels.as_deref(), &v.digits, v.max_heldout)?;
        for note in train_notes.iter().chain(&heldout_notes) {
            session.say(note);
        }
        let model = v.model.clone();
        let images_per_step = exp.train.batch_size * exp.train.grad_accum;
        let total = exp.train.duration.steps(train.len(), 1.0, images_per_step);
        session.say(&format!(
            "vqvae: {} train / {} held-out images{}; {} parameters, codebook {} x {}; {total} steps of {images_per_step} images",
            train.len(),
            heldout.len(),
            if v.digits.is_empty() { String::new() } else { format!(" (digits {:?})", v.digits) },
            model.num_params(),
            model.codebook_size,
            model.code_dim
        ));
        let text = toml::to_string_pretty(&model).expect("a VQ-VAE config serialises");
        let path = run_path.join(VQVAE_TOML);
        std::fs::write(&path, text).map_err(|source| RunError::Write { path, source })?;
        Ok((VqTask { train, heldout, model }, total))
    }

    fn train<B: TrainBackend>((task, total_steps): (VqTask, u64), ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let model = task.model.init::<B>(&ctx.device);
        let (model, outcome) = ctx.fit(&task, model, total_steps)?;
        let model = model.valid();
        let report = heldout_report(&model, &task.heldout, 256, &ctx.device);
        let pairs = ctx.experiment().vqvae.grid_pairs.min(task.heldout.len());
        let recons = reconstructions(&model, &task.heldout, pairs, &ctx.device);
        let png = ctx.run_dir.join("reconstructions.png");
        save_comparison(&png, &task.heldout[..pairs], &recons, 8)?;
        write_results(ctx.run_dir, &report, outcome.state.step)?;
        let text = format!(
            "held-out ({} images): reconstruction MSE {:.5} | PSNR {:.2} dB | codebook usage {:.3} ({}/{}) | perplexity {:.1} | \
             ids kept by decode -> encode {:.3}\nwritten {} and {}",
            report.images, report.recon_mse, report.psnr_db, report.codebook_usage, report.codes_used, report.codebook_size,
            report.perplexity, report.token_roundtrip, png.display(), ctx.run_dir.join("eval/results.toml").display()
        );
        let metrics = report.scalars().into_iter().map(|(k, v)| (format!("heldout/{k}"), v)).collect();
        Ok(Finished { outcome, metrics, report: text })
    }

    fn summary(r: &Resolved) -> String {
        let (m, t) = (&r.experiment.vqvae.model, &r.experiment.train);
        format!(
            "# kind:             vqvae\n# parameters:       {}\n\
             # codebook:         {} codes x {} values; 49 codes per image\n# images per step:  {} ({} x {} accum)\n",
            crate::logging::console::thousands(m.num_params() as u64),
            m.codebook_size, m.code_dim, t.batch_size * t.grad_accum, t.batch_size, t.grad_accum
        )
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
        .expect("held-out results serialise");
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, text))
        .map_err(|source| RunError::Write { path, source })
}

mod tokens;
pub use tokens::{decode_to_png, encode_images, encode_png, load_vqvae, parse_ids, vqvae_config};

#[cfg(test)]
mod tests;
