//! Sections of the image kinds: `[vqvae]`, `[classifier]` (`kind = "image_classifier"`) and
//! `[needle]` (`kind = "needle_in_dna"`), and the MNIST files they read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// MNIST-style IDX files (`.gz` or raw) of grey 28×28 digits with their labels. Paths are
/// relative to the experiment file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitImages {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierSection {
    pub images: DigitImages,
    /// Digits to tell apart, in class order (Needle-in-DNA: 0–3).
    pub digits: Vec<u8>,
    /// Training images held out for validation (taken from the training files, seeded).
    pub valid_images: usize,
    /// Channels of the first convolution (the second has twice as many).
    pub channels: usize,
    /// Width of the hidden fully connected layer.
    pub hidden: usize,
}

impl Default for ClassifierSection {
    fn default() -> Self {
        Self { images: DigitImages::default(), digits: vec![0, 1, 2, 3], valid_images: 1000, channels: 16, hidden: 64 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NeedleSection {
    /// A `kind = "vqvae"` run (or its experiment directory: the newest run) whose codes are the
    /// image tokens.
    pub vqvae: PathBuf,
    /// A `kind = "image_classifier"` run that reads the digit off generated images.
    pub classifier: PathBuf,
    /// Where the target digit images come from (the training files only are used for targets).
    pub images: DigitImages,
    /// Length of each random DNA sequence in bp (one motif is planted in it).
    pub length_bp: usize,
    /// Motifs used (TATAAA, CAAT, GGGCGG, TTAGGG in that order ↦ digits 0, 1, 2, 3).
    pub classes: usize,
    pub train_per_class: usize,
    pub valid_per_class: usize,
    pub test_per_class: usize,
    /// Distinct MNIST images per digit that serve as targets; each example draws one (seeded).
    pub targets_per_class: usize,
    /// Generated images per class on the sample sheet `samples.png`.
    pub sheet_per_class: usize,
}

impl Default for NeedleSection {
    fn default() -> Self {
        Self {
            vqvae: PathBuf::new(),
            classifier: PathBuf::new(),
            images: DigitImages::default(),
            length_bp: 200,
            classes: 4,
            train_per_class: 500,
            valid_per_class: 25,
            test_per_class: 50,
            targets_per_class: 1,
            sheet_per_class: 8,
        }
    }
}

/// `kind = "vqvae"`: images, held-out split and model shape. Image files are MNIST IDX files
/// (`.gz` or raw) or a folder `<dir>/<label>/*.png`; relative to the experiment file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VqvaeSection {
    /// Training images: an IDX3 file (e.g. `train-images-idx3-ubyte.gz`) or a PNG folder.
    pub train_images: PathBuf,
    /// IDX1 labels of `train_images` (needed for `digits`; not used with a PNG folder).
    pub train_labels: Option<PathBuf>,
    /// Held-out images for validation and the final reconstruction numbers (e.g. MNIST t10k).
    pub heldout_images: PathBuf,
    pub heldout_labels: Option<PathBuf>,
    /// Use the first this many training images after the `digits` filter; 0 = all.
    pub max_train: usize,
    /// Use the first this many held-out images after the `digits` filter; 0 = all.
    pub max_heldout: usize,
    /// Keep only these labels (e.g. `[0, 1, 2, 3]`); empty = all.
    pub digits: Vec<u32>,
    /// Hidden channels of encoder and decoder.
    pub channels: usize,
    /// Codes in the codebook (the image vocabulary).
    pub codebook_size: usize,
    /// Length of a code vector.
    pub code_dim: usize,
    /// EMA decay of the codebook statistics (van den Oord et al. 2017 A.1: 0.99).
    pub decay: f64,
    /// Commitment loss weight beta (paper: 0.25).
    pub commitment: f64,
    /// Laplace smoothing of EMA cluster sizes (Sonnet: 1e-5).
    pub eps: f64,
    /// Re-seed codes whose EMA cluster size is below this from encoder outputs; 0 disables.
    pub dead_code_threshold: f64,
    /// Original/reconstruction pairs shown in `reconstructions.png`.
    pub grid_pairs: usize,
}

impl Default for VqvaeSection {
    fn default() -> Self {
        let m = crate::model::vqvae::VqVaeConfig::default();
        Self {
            train_images: PathBuf::new(),
            train_labels: None,
            heldout_images: PathBuf::new(),
            heldout_labels: None,
            max_train: 0,
            max_heldout: 0,
            digits: Vec::new(),
            channels: m.channels,
            codebook_size: m.codebook_size,
            code_dim: m.code_dim,
            decay: m.decay,
            commitment: m.commitment,
            eps: m.eps,
            dead_code_threshold: m.dead_code_threshold,
            grid_pairs: 16,
        }
    }
}

impl VqvaeSection {
    /// The model's part of the section.
    pub fn model(&self) -> crate::model::vqvae::VqVaeConfig {
        crate::model::vqvae::VqVaeConfig {
            channels: self.channels,
            codebook_size: self.codebook_size,
            code_dim: self.code_dim,
            decay: self.decay,
            commitment: self.commitment,
            eps: self.eps,
            dead_code_threshold: self.dead_code_threshold,
        }
    }
}
