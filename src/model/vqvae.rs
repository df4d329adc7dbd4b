//! VQ-VAE for 28 x 28 grayscale images (van den Oord et al. 2017, "Neural Discrete Representation
//! Learning"; the image tokeniser of Omni-DNA's cross-modal Needle-in-DNA task): a convolutional
//! encoder to a 7 x 7 grid of `code_dim` vectors, an EMA vector quantiser
//! ([`super::quantizer`]), and a decoder back to pixels in `[0, 1]`. An image becomes 49 code ids
//! (row-major over the 7 x 7 grid) and 49 ids become an image again.
//!
//! Architecture (the paper's §4.1 image model, scaled down):
//! - encoder: conv 4x4 stride 2 (28 -> 14), ReLU, conv 4x4 stride 2 (14 -> 7), ReLU, residual
//!   block (ReLU, 3x3 conv, ReLU, 1x1 conv, added), ReLU, 1x1 conv to `code_dim`;
//! - decoder: 3x3 conv from `code_dim`, residual block, ReLU, transposed conv 4x4 stride 2
//!   (7 -> 14), ReLU, transposed conv 4x4 stride 2 (14 -> 28) to one channel, linear output
//!   (as the paper's MSE decoder; a sigmoid head saturated at 0 on MNIST's black background and
//!   the run collapsed to a blank image). Evaluation outputs are clamped to `[0, 1]`.
//!
//! Loss (task's `step`): `mse(x, x_hat) + commitment * mean((z - sg(q))^2)`; the codebook is
//! updated by EMA (decay 0.99, commitment 0.25, Laplace eps 1e-5 as in Appendix A.1).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::quantizer::{Quantized, VectorQuantizer};
use crate::data::images::SIDE;

/// Side of the code grid: two stride-2 convolutions, 28 -> 14 -> 7.
pub const GRID: usize = SIDE / 4;
/// Code ids per image, `GRID * GRID` = 49.
pub const CODES_PER_IMAGE: usize = GRID * GRID;

/// The VQ-VAE's shape and quantiser constants (written as `vqvae.toml` in a run directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VqVaeConfig {
    /// Hidden channels of encoder and decoder convolutions.
    pub channels: usize,
    /// Number of codes `K` (the image vocabulary).
    pub codebook_size: usize,
    /// Length `D` of a code vector.
    pub code_dim: usize,
    /// EMA decay `gamma` of cluster sizes and sums (paper: 0.99).
    pub decay: f64,
    /// Weight `beta` of the commitment loss (paper: 0.25).
    pub commitment: f64,
    /// Laplace smoothing `epsilon` of cluster sizes (Sonnet: 1e-5).
    pub eps: f64,
    /// Codes whose EMA cluster size falls below this are re-seeded from encoder outputs; 0 disables.
    pub dead_code_threshold: f64,
}

impl Default for VqVaeConfig {
    fn default() -> Self {
        Self { channels: 32, codebook_size: 256, code_dim: 16, decay: 0.99, commitment: 0.25, eps: 1e-5, dead_code_threshold: 0.01 }
    }
}

/// Residual block: `x + conv1x1(relu(conv3x3(relu(x))))`.
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    pub conv3: Conv2d<B>,
    pub conv1: Conv2d<B>,
}

impl<B: Backend> ResBlock<B> {
    fn new(channels: usize, device: &B::Device) -> Self {
        Self {
            conv3: Conv2dConfig::new([channels, channels], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
            conv1: Conv2dConfig::new([channels, channels], [1, 1]).init(device),
        }
    }

    /// # Shapes
    /// - x: `[n, c, h, w]` -> `[n, c, h, w]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        x.clone() + self.conv1.forward(relu(self.conv3.forward(relu(x))))
    }
}

#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    pub down1: Conv2d<B>,
    pub down2: Conv2d<B>,
    pub res: ResBlock<B>,
    pub proj: Conv2d<B>,
}

impl<B: Backend> Encoder<B> {
    /// # Shapes
    /// - x: `[n, 1, 28, 28]` -> `[n, code_dim, 7, 7]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let h = relu(self.down1.forward(x)); // [n, c, 14, 14]
        let h = relu(self.down2.forward(h)); // [n, c, 7, 7]
        self.proj.forward(relu(self.res.forward(h))) // [n, d, 7, 7]
    }
}

#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    pub input: Conv2d<B>,
    pub res: ResBlock<B>,
    pub up1: ConvTranspose2d<B>,
    pub up2: ConvTranspose2d<B>,
}

impl<B: Backend> Decoder<B> {
    /// # Shapes
    /// - q: `[n, code_dim, 7, 7]` -> `[n, 1, 28, 28]`, unbounded (pixels are in `[0, 1]`)
    pub fn forward(&self, q: Tensor<B, 4>) -> Tensor<B, 4> {
        let h = self.res.forward(self.input.forward(q)); // [n, c, 7, 7]
        let h = relu(self.up1.forward(relu(h))); // [n, c, 14, 14]
        self.up2.forward(h) // [n, 1, 28, 28]
    }
}

/// Encoder, EMA quantiser and decoder.
#[derive(Module, Debug)]
pub struct VqVae<B: Backend> {
    pub encoder: Encoder<B>,
    pub quantizer: VectorQuantizer<B>,
    pub decoder: Decoder<B>,
}

/// Training/evaluation forward pass of a batch.
pub struct VqVaeOutput<B: Backend> {
    /// Reconstructions `[n, 1, 28, 28]`: unbounded from `forward` (training), clamped to
    /// `[0, 1]` from `reconstruct`.
    pub recon: Tensor<B, 4>,
    /// Code ids `[n, 49]`, row-major over the 7 x 7 grid.
    pub indices: Tensor<B, 2, Int>,
    /// `mean((z - sg(q))^2)` over the batch, `[1]`; weight it by `commitment`.
    pub commit: Tensor<B, 1>,
}

impl VqVaeConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> VqVae<B> {
        let (c, d) = (self.channels, self.code_dim);
        let down = |i, o| Conv2dConfig::new([i, o], [4, 4]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device);
        let up = |i, o| ConvTranspose2dConfig::new([i, o], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device);
        VqVae {
            encoder: Encoder { down1: down(1, c), down2: down(c, c), res: ResBlock::new(c, device), proj: Conv2dConfig::new([c, d], [1, 1]).init(device) },
            quantizer: VectorQuantizer::new(self.codebook_size, d, self.decay, self.eps, self.dead_code_threshold, device),
            decoder: Decoder {
                input: Conv2dConfig::new([d, c], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
                res: ResBlock::new(c, device),
                up1: up(c, c),
                up2: up(c, 1),
            },
        }
    }

    /// Trainable parameters (the EMA codebook is state, not counted).
    pub fn num_params(&self) -> usize {
        let (c, d) = (self.channels, self.code_dim);
        let conv = |i: usize, o: usize, k: usize| i * o * k * k + o;
        let res = conv(c, c, 3) + conv(c, c, 1);
        conv(1, c, 4) + conv(c, c, 4) + res + conv(c, d, 1) + conv(d, c, 3) + res + conv(c, c, 4) + conv(c, 1, 4)
    }
}

/// `[n, D, 7, 7]` -> `[n * 49, D]`, rows ordered image-major then row-major over the grid.
fn grid_to_rows<B: Backend>(z: Tensor<B, 4>) -> Tensor<B, 2> {
    let [n, d, h, w] = z.dims();
    z.permute([0, 2, 3, 1]).reshape([n * h * w, d])
}

/// Inverse of [`grid_to_rows`]: `[n * 49, D]` -> `[n, D, 7, 7]`.
fn rows_to_grid<B: Backend>(rows: Tensor<B, 2>, n: usize) -> Tensor<B, 4> {
    let d = rows.dims()[1];
    rows.reshape([n, GRID, GRID, d]).permute([0, 3, 1, 2])
}

impl<B: Backend> VqVae<B> {
    /// Training forward pass: quantises with the current codebook, then updates the EMA state
    /// (codebook, cluster sizes, sums; dead-code re-seeding) from this batch. Call it once per
    /// training micro-batch; use [`VqVae::reconstruct`] for evaluation.
    ///
    /// # Shapes
    /// - images: `[n, 1, 28, 28]` in `[0, 1]`
    pub fn forward(&self, images: Tensor<B, 4>) -> VqVaeOutput<B> {
        self.run(images, true)
    }

    /// Evaluation forward pass: like [`VqVae::forward`] but leaves the EMA state untouched and
    /// clamps reconstructions to `[0, 1]`.
    ///
    /// # Shapes
    /// - images: `[n, 1, 28, 28]` in `[0, 1]`
    pub fn reconstruct(&self, images: Tensor<B, 4>) -> VqVaeOutput<B> {
        let out = self.run(images, false);
        VqVaeOutput { recon: out.recon.clamp(0.0, 1.0), ..out }
    }

    fn run(&self, images: Tensor<B, 4>, train: bool) -> VqVaeOutput<B> {
        let n = images.dims()[0];
        let z = grid_to_rows(self.encoder.forward(images)); // [n * 49, D]
        let Quantized { st, indices, commit } =
            if train { self.quantizer.quantize_train(z) } else { self.quantizer.quantize(z) };
        let recon = self.decoder.forward(rows_to_grid(st, n)); // [n, 1, 28, 28]
        VqVaeOutput { recon, indices: indices.reshape([n, CODES_PER_IMAGE]), commit }
    }

    /// Image tokens: the nearest code of each cell of the 7 x 7 grid.
    ///
    /// # Shapes
    /// - images: `[n, 1, 28, 28]` in `[0, 1]` -> `[n, 49]` code ids in `0..codebook_size`,
    ///   row-major over the grid (id `r * 7 + c` is grid row `r`, column `c`)
    pub fn encode_indices(&self, images: Tensor<B, 4>) -> Tensor<B, 2, Int> {
        let n = images.dims()[0];
        let z = grid_to_rows(self.encoder.forward(images)).detach();
        self.quantizer.nearest(z).reshape([n, CODES_PER_IMAGE])
    }

    /// Images from tokens.
    ///
    /// # Shapes
    /// - indices: `[n, 49]` code ids (row-major over the 7 x 7 grid) -> `[n, 1, 28, 28]` in `[0, 1]`
    pub fn decode_indices(&self, indices: Tensor<B, 2, Int>) -> Tensor<B, 4> {
        let n = indices.dims()[0];
        let q = self.quantizer.lookup(indices.reshape([n * CODES_PER_IMAGE])); // [n * 49, D]
        self.decoder.forward(rows_to_grid(q, n)).clamp(0.0, 1.0)
    }

    pub fn codebook_size(&self) -> usize {
        self.quantizer.codebook_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;

    type B = burn::backend::Flex;

    #[test]
    fn shapes_and_param_count_of_a_small_vqvae() {
        let device = Default::default();
        let cfg = VqVaeConfig { channels: 4, codebook_size: 8, code_dim: 3, ..Default::default() };
        let m = cfg.init::<B>(&device);
        let x = Tensor::<B, 4>::random([2, 1, 28, 28], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
        let out = m.reconstruct(x.clone());
        assert_eq!(out.recon.dims(), [2, 1, 28, 28]);
        assert_eq!(out.indices.dims(), [2, 49]);
        assert_eq!(m.encode_indices(x).into_data(), out.indices.clone().into_data());
        assert_eq!(m.decode_indices(out.indices).dims(), [2, 1, 28, 28]);
        // The EMA state (codebook 8x3, sizes 8, sums 8x3) is in the record too.
        assert_eq!(m.num_params(), cfg.num_params() + 8 * 3 * 2 + 8);
    }

    /// Conv weights `[a, b, k, k]` with `value` at the taps `(y, x)` in `taps` x `taps`, else 0.
    fn taps(shape: [usize; 4], taps: &[usize], value: f32) -> Param<Tensor<B, 4>> {
        let [a, b, k, _] = shape;
        let mut w = vec![0f32; a * b * k * k];
        for i in 0..a * b {
            for &y in taps {
                for &x in taps {
                    w[i * k * k + y * k + x] = value;
                }
            }
        }
        Param::from_tensor(Tensor::<B, 1>::from_floats(w.as_slice(), &Default::default()).reshape(shape))
    }

    fn bias(v: f32) -> Option<Param<Tensor<B, 1>>> {
        Some(Param::from_tensor(Tensor::from_floats([v], &Default::default())))
    }

    /// A hand-built VQ-VAE (1 channel, D = 1) whose decoder paints each code's 4 x 4 block with
    /// `0.8 q + 0.1` and whose encoder averages each block and inverts that affinely, with three
    /// well-separated codes 0, 0.5, 1. Stride-2 4x4 taps at offsets 1 and 2 read exactly the
    /// pixels `2o, 2o + 1` (conv) / write exactly `2i, 2i + 1` (transposed conv).
    fn hand_built() -> VqVae<B> {
        let device = Default::default();
        let cfg = VqVaeConfig { channels: 1, codebook_size: 3, code_dim: 1, ..Default::default() };
        let mut m = cfg.init::<B>(&device);
        let zero_res = |r: &mut ResBlock<B>| {
            r.conv3.weight = taps([1, 1, 3, 3], &[], 0.0);
            r.conv3.bias = bias(0.0);
            r.conv1.weight = taps([1, 1, 1, 1], &[], 0.0);
            r.conv1.bias = bias(0.0);
        };
        let e = &mut m.encoder;
        (e.down1.weight, e.down1.bias) = (taps([1, 1, 4, 4], &[1, 2], 0.25), bias(0.0));
        (e.down2.weight, e.down2.bias) = (taps([1, 1, 4, 4], &[1, 2], 0.25), bias(0.0));
        zero_res(&mut e.res);
        // Block mean p in {0.1, 0.5, 0.9} -> z = (p - 0.1) / 0.8 in {0, 0.5, 1}.
        (e.proj.weight, e.proj.bias) = (taps([1, 1, 1, 1], &[0], 1.25), bias(-0.125));
        let d = &mut m.decoder;
        (d.input.weight, d.input.bias) = (taps([1, 1, 3, 3], &[1], 1.0), bias(0.0));
        zero_res(&mut d.res);
        (d.up1.weight, d.up1.bias) = (taps([1, 1, 4, 4], &[1, 2], 1.0), bias(0.0));
        (d.up2.weight, d.up2.bias) = (taps([1, 1, 4, 4], &[1, 2], 0.8), bias(0.1));
        m.quantizer = VectorQuantizer::from_state(
            Tensor::<B, 1>::from_floats([0.0, 0.5, 1.0], &device).reshape([3, 1]),
            Tensor::zeros([3], &device),
            Tensor::zeros([3, 1], &device),
            0.99,
            1e-5,
            0.0,
        );
        m
    }

    #[test]
    fn decoded_tokens_encode_back_to_the_same_ids_on_a_hand_built_model() {
        let device = Default::default();
        let m = hand_built();
        // Two images of ids that are not symmetric under transposing the grid.
        let ids: Vec<i64> = (0..2 * 49).map(|i| ((i * i + 3 * (i / 7) + i / 49) % 3) as i64).collect();
        let t = Tensor::<B, 1, Int>::from_ints(ids.as_slice(), &device).reshape([2, 49]);
        let images = m.decode_indices(t);
        assert_eq!(images.dims(), [2, 1, 28, 28]);
        let px = images.clone().into_data().to_vec::<f32>().unwrap();
        // Id r * 7 + c paints grid row r, column c: pixels rows 4r..4r+4, columns 4c..4c+4.
        let paint = |q: f32| 0.8 * q + 0.1;
        for (img, r, c) in [(0, 0, 1), (0, 2, 5), (1, 6, 3)] {
            let q = ids[img * 49 + r * 7 + c] as f32 * 0.5;
            let p = px[img * 784 + (4 * r + 3) * 28 + 4 * c];
            assert!((p - paint(q)).abs() < 1e-5, "image {img} cell ({r}, {c}): pixel {p}, expected {}", paint(q));
        }
        let again = m.encode_indices(images).into_data().iter::<i64>().collect::<Vec<_>>();
        assert_eq!(again, ids);
    }

    #[test]
    fn grid_order_is_row_major_and_round_trips() {
        let device = Default::default();
        // One image, D = 2: channel 0 holds the cell index r * 7 + c, channel 1 its negative.
        let cells: Vec<f32> = (0..49).map(|i| i as f32).collect();
        let neg: Vec<f32> = cells.iter().map(|v| -v).collect();
        let data: Vec<f32> = cells.iter().chain(neg.iter()).copied().collect();
        let z = Tensor::<B, 1>::from_floats(data.as_slice(), &device).reshape([1, 2, 7, 7]);
        let rows = grid_to_rows(z.clone());
        let host = rows.clone().into_data().to_vec::<f32>().unwrap();
        assert_eq!((host[2 * 10], host[2 * 10 + 1]), (10.0, -10.0));
        assert_eq!(rows_to_grid(rows, 1).into_data(), z.into_data());
    }
}
