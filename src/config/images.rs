//! Sections of the image kinds: `[vqvae]`, `[classifier]` (`kind = "image_classifier"`) and
//! `[needle]` (`kind = "needle_in_dna"`), and the MNIST files they read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// MNIST-style IDX files (`.gz` or raw) of grey 28×28 digits with their labels. Paths are
/// relative to the experiment file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitImages {
    /// IDX3 training images.
    pub train_images: PathBuf,
    /// IDX1 labels of `train_images`.
    pub train_labels: PathBuf,
    /// IDX3 test images.
    pub test_images: PathBuf,
    /// IDX1 labels of `test_images`.
    pub test_labels: PathBuf,
}

/// The digit classifier (`kind = "image_classifier"`): its MNIST digits and shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierSection {
    /// The MNIST files.
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

/// Needle-in-DNA (`kind = "needle_in_dna"`): the runs it builds on, its DNA and its targets.
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
    /// Training sequences per motif.
    pub train_per_class: usize,
    /// Validation sequences per motif.
    pub valid_per_class: usize,
    /// Test sequences per motif.
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
    /// IDX1 labels of `heldout_images`.
    pub heldout_labels: Option<PathBuf>,
    /// Use the first this many training images after the `digits` filter; 0 = all.
    pub max_train: usize,
    /// Use the first this many held-out images after the `digits` filter; 0 = all.
    pub max_heldout: usize,
    /// Keep only these labels (e.g. `[0, 1, 2, 3]`); empty = all.
    pub digits: Vec<u32>,
    /// Original/reconstruction pairs shown in `reconstructions.png`.
    pub grid_pairs: usize,
    /// The model's shape and quantiser constants (`[vqvae.model]`; written as the run's
    /// `vqvae.toml`).
    pub model: crate::model::vqvae::VqVaeConfig,
}

impl Default for VqvaeSection {
    fn default() -> Self {
        Self {
            train_images: PathBuf::new(),
            train_labels: None,
            heldout_images: PathBuf::new(),
            heldout_labels: None,
            max_train: 0,
            max_heldout: 0,
            digits: Vec::new(),
            grid_pairs: 16,
            model: crate::model::vqvae::VqVaeConfig::default(),
        }
    }
}
