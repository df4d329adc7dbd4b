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
    /// Training images: an IDX3 file (e.g. `train-images-idx3-ubyte.gz`) or a PNG folder. Every
    /// PNG colour type is made grey by one rule (`data::images::to_grey`: alpha over white,
    /// BT.709 luma); a set of mostly constant images is refused.
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

use super::sections::existing;

impl DigitImages {
    /// Make the four files absolute; each must be given and exist. `section` names them in problems.
    pub(super) fn resolve_paths(&mut self, section: &str, base: &std::path::Path, problems: &mut Vec<String>) {
        let DigitImages { train_images, train_labels, test_images, test_labels } = self;
        for (key, p) in [("train_images", train_images), ("train_labels", train_labels), ("test_images", test_images), ("test_labels", test_labels)] {
            if p.as_os_str().is_empty() {
                problems.push(format!("{section}.{key} is missing: give the MNIST IDX file (e.g. train-images-idx3-ubyte.gz)"));
                continue;
            }
            match existing(p, base) {
                Some(c) => *p = c,
                None => problems.push(format!("{section}.{key}: file {} not found", p.display())),
            }
        }
    }
}

impl ClassifierSection {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let mut seen = std::collections::BTreeSet::new();
        if !(self.digits.len() >= 2 && self.digits.iter().all(|d| *d <= 9 && seen.insert(*d))) {
            problems.push(format!("classifier.digits = {:?} must list at least two distinct digits 0-9", self.digits));
        }
        if self.channels < 1 || self.hidden < 1 {
            problems.push("classifier.channels and classifier.hidden must be >= 1".into());
        }
    }
}

impl NeedleSection {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let mut need = |ok: bool, msg: String| if !ok { problems.push(msg) };
        need((1..=4).contains(&self.classes), format!("needle.classes = {} must be in 1..=4 (four motifs)", self.classes));
        need(self.length_bp >= 6, format!("needle.length_bp = {} must hold the longest motif (6 bp)", self.length_bp));
        need(self.train_per_class >= 1 && self.valid_per_class >= 1 && self.test_per_class >= 1,
            "needle.train_per_class, valid_per_class and test_per_class must be >= 1".into());
        need(self.targets_per_class >= 1, format!("needle.targets_per_class = {} must be >= 1", self.targets_per_class));
    }

    /// The target images must exist; the runs other experiments make (`vqvae`, `classifier`) are
    /// made absolute but only checked when the run starts.
    pub(super) fn resolve_paths(&mut self, base: &std::path::Path, problems: &mut Vec<String>) {
        self.images.resolve_paths("needle.images", base, problems);
        for (key, p) in [("needle.vqvae", &mut self.vqvae), ("needle.classifier", &mut self.classifier)] {
            if p.as_os_str().is_empty() {
                problems.push(format!("{key} is missing: give the run directory of the experiment that trains it"));
            } else if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

impl VqvaeSection {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        let mut need = |ok: bool, msg: String| if !ok { problems.push(msg) };
        need(!self.train_images.as_os_str().is_empty(), "kind = \"vqvae\" needs vqvae.train_images (an MNIST IDX file or a PNG folder)".into());
        need(!self.heldout_images.as_os_str().is_empty(), "kind = \"vqvae\" needs vqvae.heldout_images (e.g. MNIST t10k-images-idx3-ubyte.gz)".into());
        let m = &self.model;
        need(m.channels >= 1 && m.code_dim >= 1, format!("vqvae.model.channels = {} and vqvae.model.code_dim = {} must be >= 1", m.channels, m.code_dim));
        need(m.codebook_size >= 2, format!("vqvae.model.codebook_size = {} must be >= 2", m.codebook_size));
        need(m.decay > 0.0 && m.decay < 1.0, format!("vqvae.model.decay = {} must be in (0, 1)", m.decay));
        need(m.commitment >= 0.0 && m.eps > 0.0, format!("vqvae.model.commitment = {} must be >= 0 and vqvae.model.eps = {} > 0", m.commitment, m.eps));
        need(m.dead_code_threshold >= 0.0, format!("vqvae.model.dead_code_threshold = {} must be >= 0 (0 disables)", m.dead_code_threshold));
    }

    pub(super) fn resolve_paths(&mut self, base: &std::path::Path, problems: &mut Vec<String>) {
        for (key, p) in [
            ("vqvae.train_images", Some(&mut self.train_images)),
            ("vqvae.train_labels", self.train_labels.as_mut()),
            ("vqvae.heldout_images", Some(&mut self.heldout_images)),
            ("vqvae.heldout_labels", self.heldout_labels.as_mut()),
        ] {
            let Some(p) = p.filter(|p| !p.as_os_str().is_empty()) else { continue };
            match existing(p, base) {
                Some(c) => *p = c,
                None => problems.push(format!("{key}: {} not found (relative to the experiment file's directory {})", p.display(), base.display())),
            }
        }
    }
}
