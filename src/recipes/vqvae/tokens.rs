//! A trained VQ-VAE as an image tokenizer: find and load it from a run (by the one rule of
//! [`crate::checkpoint::locate`]), and the file-level helpers `gfm image encode|decode` uses.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

use super::{ImageBatch, VQVAE_TOML};
use crate::checkpoint::locate::{has_checkpoint, locate};
use crate::checkpoint::LoadedCheckpoint;
use crate::data::images::{self, Image, PIXELS};
use crate::model::vqvae::{VqVae, VqVaeConfig, CODES_PER_IMAGE};
use crate::train::session::RunError;

/// The run directory and checkpoint that `path` names: a vqvae run (its `best/` checkpoint if
/// any, else its newest), a `step_NNNNNNN` or `best/step_NNNNNNN` directory, or an experiment's
/// directory (its newest run with `vqvae.toml` and a checkpoint).
fn find(path: &Path, warn: &mut dyn FnMut(&str)) -> Result<(PathBuf, LoadedCheckpoint), RunError> {
    let found = locate(path, VQVAE_TOML, has_checkpoint).ok_or_else(|| RunError::NotARun {
        path: path.to_path_buf(),
        kind: "vqvae",
        message: format!("no {VQVAE_TOML} there, in its run directory, or in a run with a checkpoint inside it"),
    })?;
    let ck = found.checkpoint(|w| warn(w))?;
    Ok((found.run, ck))
}

fn read_vqvae_config(run: &Path) -> Result<VqVaeConfig, RunError> {
    let cfg_path = run.join(VQVAE_TOML);
    let text = std::fs::read_to_string(&cfg_path).map_err(|source| RunError::Read { path: cfg_path.clone(), source })?;
    toml::from_str(&text).map_err(|e| RunError::Parse { path: cfg_path, message: e.to_string() })
}

/// The shape of the VQ-VAE that [`load_vqvae`] would load from the same path, without loading
/// weights (e.g. its codebook size, to add image tokens before choosing a backend).
pub fn vqvae_config(run_or_checkpoint_dir: &Path, warn: &mut dyn FnMut(&str)) -> Result<VqVaeConfig, RunError> {
    read_vqvae_config(&find(run_or_checkpoint_dir, warn)?.0)
}

/// Load a trained VQ-VAE: `run_or_checkpoint_dir` is a vqvae run directory (its `best/`
/// checkpoint if present, else its newest), one of its `step_NNNNNNN` directories, or the
/// experiment directory holding runs (the newest run). The shape comes from the run's `vqvae.toml`.
/// A corrupted checkpoint passed over on the way is reported to `warn`.
pub fn load_vqvae<B: Backend>(run_or_checkpoint_dir: &Path, device: &B::Device, warn: &mut dyn FnMut(&str)) -> Result<(VqVae<B>, VqVaeConfig), RunError> {
    let (run, ck) = find(run_or_checkpoint_dir, warn)?;
    let cfg = read_vqvae_config(&run)?;
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.model, device)
        .map_err(|e| RunError::Record { path: ck.dir.clone(), message: e.to_string() })?;
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
    let img = images::read_png(png)?;
    Ok(encode_images(model, &[img], device).remove(0))
}

/// Parse 49 code ids separated by whitespace or commas.
pub fn parse_ids(text: &str, codebook_size: usize) -> Result<Vec<u32>, RunError> {
    let ids = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().map_err(|_| RunError::CodeIdNotInteger { text: s.to_string() }))
        .collect::<Result<Vec<u32>, _>>()?;
    if ids.len() != CODES_PER_IMAGE {
        return Err(RunError::CodeIdCount { expected: CODES_PER_IMAGE, found: ids.len() });
    }
    if let Some(bad) = ids.iter().find(|&&i| i as usize >= codebook_size) {
        return Err(RunError::CodeIdRange { id: *bad, codebook_size });
    }
    Ok(ids)
}

/// Decode 49 code ids (validated) and write the image as a 28 x 28 grayscale PNG.
pub fn decode_to_png<B: Backend>(model: &VqVae<B>, ids: &[u32], out: &Path, device: &B::Device) -> Result<(), RunError> {
    let text: Vec<String> = ids.iter().map(u32::to_string).collect();
    let ids = parse_ids(&text.join(" "), model.codebook_size())?;
    let ints: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let t = Tensor::<B, 1, Int>::from_ints(ints.as_slice(), device).reshape([1, CODES_PER_IMAGE]);
    let pixels: Vec<f32> = model.decode_indices(t).into_data().iter::<f32>().collect(); // [784]
    let img: [f32; PIXELS] = pixels.try_into().expect("the decoder makes one 28 x 28 image from 49 codes");
    Ok(images::save_png(out, &img)?)
}
