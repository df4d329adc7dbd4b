//! A small convolutional digit classifier for 28×28 grey images: the judge of Needle-in-DNA,
//! which reads the digit off each image the DNA model drew (Li et al. 2025 §5.2 score generated
//! images with an MNIST classifier).
//!
//! conv 3×3 stride 2 (1→c) → ReLU → conv 3×3 stride 2 (c→2c) → ReLU → flatten (2c·7·7) →
//! linear (→ hidden) → ReLU → linear (→ classes). With c = 16, hidden = 64: about 105k parameters.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitCnnConfig {
    /// Output classes (digits kept, in order).
    pub classes: usize,
    /// Channels of the first convolution; the second has twice as many.
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// Width of the hidden fully connected layer.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
}

fn default_channels() -> usize {
    16
}
fn default_hidden() -> usize {
    64
}

#[derive(Module, Debug)]
pub struct DigitCnn<B: Backend> {
    pub conv1: Conv2d<B>,
    pub conv2: Conv2d<B>,
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl DigitCnnConfig {
    /// Parameters of the model [`Self::init`] builds (weights and biases of the four layers).
    pub fn num_params(&self) -> usize {
        let (c, h, k) = (self.channels, self.hidden, self.classes);
        (9 * c + c) + (9 * c * 2 * c + 2 * c) + (2 * c * 49 * h + h) + (h * k + k)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> DigitCnn<B> {
        let c = self.channels;
        let conv = |i, o| Conv2dConfig::new([i, o], [3, 3]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
        DigitCnn {
            conv1: conv(1, c).init(device),
            conv2: conv(c, 2 * c).init(device),
            fc1: LinearConfig::new(2 * c * 7 * 7, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

impl<B: Backend> DigitCnn<B> {
    /// # Shapes
    /// - images: `[n, 1, 28, 28]`, pixels in [0, 1] → logits `[n, classes]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.conv1.forward(images)); // [n, c, 14, 14]
        let x = relu(self.conv2.forward(x)); // [n, 2c, 7, 7]
        let x: Tensor<B, 2> = x.flatten(1, 3); // [n, 2c·49]
        self.fc2.forward(relu(self.fc1.forward(x)))
    }

    /// Predicted class per image.
    ///
    /// # Shapes
    /// - images: `[n, 1, 28, 28]` → `[n]`
    pub fn predict(&self, images: Tensor<B, 4>) -> Vec<usize> {
        self.forward(images).argmax(1).into_data().iter::<i64>().map(|c| c as usize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::module::Module;

    #[test]
    fn digit_cnn_maps_images_to_class_logits() {
        let device = Default::default();
        let cfg = DigitCnnConfig { classes: 4, channels: 4, hidden: 8 };
        let m = cfg.init::<CpuBackend>(&device);
        // 4·1·9+4 + 8·4·9+8 + 392·8+8 + 8·4+4
        assert_eq!(m.num_params(), 40 + 296 + 3144 + 36);
        assert_eq!(cfg.num_params(), m.num_params());
        let y = m.forward(Tensor::zeros([3, 1, 28, 28], &device));
        assert_eq!(y.dims(), [3, 4]);
        assert_eq!(m.predict(Tensor::zeros([2, 1, 28, 28], &device)).len(), 2);
    }
}
