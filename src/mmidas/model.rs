//! The coupled mixture VAE of MMIDAS (Marghi et al.; AllenInstitute/MMIDAS `mmidas/nn_model.py`,
//! class `mixVAE_model`): one autoencoder arm per modality, each with its own input size, whose
//! categorical posteriors are coupled by the loss ([`super::loss`]).
//!
//! Per arm (`mixVAE_model.encoder`, `intermed`, `decoder`, `forward`):
//! - input dropout, then `hidden_layers` x (Linear -> ReLU -> BatchNorm without affine), then
//!   Linear -> ReLU -> BatchNorm (no affine) to the `latent`-dimensional code `z`;
//! - categorical head: `p = softmax(fcc(z))`, then `q_c = softmax(p / tau)` (the "double softmax");
//! - `c`: in training a relaxed Gumbel-softmax sample `softmax((log(q_c + eps) + g) / T)` with
//!   `g = -log(-log(U + eps) + eps)`, `U ~ U(0, 1)` (`gumbel_softmax_sample`, `hard = False`); in
//!   evaluation the one-hot argmax of `q_c` (`gumbel_softmax(..., hard=True, gumble_noise=False)`);
//! - state: `mu = fc_mu([z, c])`, `var = sigmoid(fc_sigma([z, c]))`, `log_var = log(var + eps)`,
//!   `s = mu + sqrt(var) * e` (`reparam_trick`);
//! - decoder from `[c, s]`: Linear(K + S, latent) -> ReLU -> Linear(latent, hidden) -> ReLU ->
//!   (`hidden_layers` - 1) x (Linear -> ReLU) -> Linear(hidden, input).
//!
//! Deliberate differences from the reference, each for a stated reason:
//! - `e ~ N(0, I)`: the reference draws `torch.rand_like` (uniform on [0, 1)), which is not the
//!   reparameterisation of a Gaussian; the KL term assumes a Gaussian posterior.
//! - The output layer is linear: the reference ends with ReLU for non-negative log expression;
//!   gene embeddings are standardised and signed.
//! - In evaluation `s = mu` (no noise), so labels and reconstructions are deterministic.
//! - Pruned categories get a logit of `-1e9` in both softmaxes (probability exactly 0). The
//!   reference zeroes their `fcc` rows with `torch.nn.utils.prune` (logit 0 in the first softmax)
//!   and restricts the second softmax to the kept categories. Both give zero probability and no
//!   gradient to the pruned rows.

use burn::module::{Module, RunningState};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, softmax};

use super::noise::{dropout_with_key, ArmNoise};
use crate::kernels::{linear_layer, relu_batch_norm, Kernels};

/// Added inside logs and divisions, as the reference's `eps` (`cpl_mixVAE(eps=1e-8)`).
pub const EPS: f64 = 1e-8;
/// Logit of a pruned category.
const PRUNED_LOGIT: f64 = -1e9;

/// Shape and constants of every arm: `[mmidas.model]` of an experiment. Reference names
/// (AllenInstitute/MMIDAS `cpl_mixVAE.init_model`) in the field docs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArmConfig {
    /// Width of the hidden layers (`fc_dim`, 100 in the reference).
    pub hidden: usize,
    /// Hidden Linear layers of the encoder and of the decoder (4 in the reference: fc1..fc4).
    pub hidden_layers: usize,
    /// Low-dimensional code (`lowD_dim`, 10).
    pub latent: usize,
    /// Continuous state variable `s` (`state_dim`, 3 in `tutorials/train_mixvae.py`).
    pub state_dim: usize,
    /// Input dropout probability (`x_drop`; `p_drop` 0.25 in `tutorials/train_mixvae.py`).
    pub dropout: f64,
    /// Softmax temperature of the categorical head (`tau`; 0.1 in `tutorials/train_mixvae.py`,
    /// 0.005 in `init_model`).
    pub tau: f64,
    /// Momentum of the batch-norm running statistics (`momentum`, 0.01 in the reference).
    pub batch_norm_momentum: f64,
}

impl Default for ArmConfig {
    fn default() -> Self {
        Self { hidden: 100, hidden_layers: 4, latent: 10, state_dim: 3, dropout: 0.25, tau: 0.1, batch_norm_momentum: 0.01 }
    }
}

/// Shape and constants of the multi-arm model; `init` builds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MmidasConfig {
    /// Input size of each arm (one per modality).
    pub input_dims: Vec<usize>,
    /// `K`, categories before pruning (`n_categories`).
    pub n_categories: usize,
    /// What every arm looks like.
    pub arm: ArmConfig,
}

/// Batch normalisation without affine parameters (`nn.BatchNorm1d(affine=False)`): training
/// normalises by the batch's mean and biased variance and updates running statistics (with the
/// unbiased variance, as PyTorch does); inference uses the running statistics. Written here
/// because burn's `BatchNorm` always has a learnable gamma and beta.
#[derive(Module, Debug)]
pub struct BatchNormNoAffine<B: Backend> {
    pub running_mean: RunningState<Tensor<B, 1>>,
    pub running_var: RunningState<Tensor<B, 1>>,
    pub momentum: f64,
    pub epsilon: f64,
}

impl<B: Backend> BatchNormNoAffine<B> {
    pub fn new(features: usize, momentum: f64, device: &B::Device) -> Self {
        Self {
            running_mean: RunningState::new(Tensor::zeros([features], device)),
            running_var: RunningState::new(Tensor::ones([features], device)),
            momentum,
            epsilon: EPS,
        }
    }
}

impl<B: Kernels> BatchNormNoAffine<B> {
    /// `bn(relu(z))`, the encoder layer's activation and norm. In training (autodiff on) one
    /// fused kernel ([`crate::kernels::relu_batch_norm`]) normalises by the batch statistics,
    /// which then update the running ones; in evaluation the running statistics are used.
    ///
    /// # Shapes
    /// - `z`: `[n, features]` -> `[n, features]`
    pub fn relu_forward(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, f] = z.dims();
        if B::ad_enabled(&z.device()) {
            let (y, mean, var) = relu_batch_norm(z, self.epsilon);
            let m = self.momentum;
            let unbiased = var.mul_scalar(n as f64 / (n.max(2) - 1) as f64);
            let rm = self.running_mean.value_sync().mul_scalar(1.0 - m).add(mean.mul_scalar(m));
            let rv = self.running_var.value_sync().mul_scalar(1.0 - m).add(unbiased.mul_scalar(m));
            self.running_mean.update(rm.detach());
            self.running_var.update(rv.detach());
            y
        } else {
            let mean = self.running_mean.value().reshape([1, f]);
            let var = self.running_var.value().reshape([1, f]);
            relu(z).sub(mean).div(var.add_scalar(self.epsilon).sqrt())
        }
    }
}

/// One modality's autoencoder.
#[derive(Module, Debug)]
pub struct Arm<B: Backend> {
    pub input_dropout: Dropout,
    /// fc1..fc4 of the reference, each followed by ReLU and `encoder_norm[i]`.
    pub encoder: Vec<Linear<B>>,
    pub encoder_norm: Vec<BatchNormNoAffine<B>>,
    /// fc5 (hidden -> latent) and its norm.
    pub to_code: Linear<B>,
    pub code_norm: BatchNormNoAffine<B>,
    /// fcc (latent -> K).
    pub to_logits: Linear<B>,
    /// fc_mu and fc_sigma ([latent + K] -> state).
    pub to_mu: Linear<B>,
    pub to_var: Linear<B>,
    /// fc6 ([K + state] -> latent), fc7 (latent -> hidden), fc8.. (hidden -> hidden).
    pub decoder: Vec<Linear<B>>,
    /// fc11 (hidden -> input), linear.
    pub to_output: Linear<B>,
}

/// The model: arms plus the category mask (1 = kept, 0 = pruned). The mask is model state that
/// is saved in checkpoints but never trained.
#[derive(Module, Debug)]
pub struct Mmidas<B: Backend> {
    pub arms: Vec<Arm<B>>,
    pub active: RunningState<Tensor<B, 1>>,
    pub tau: f64,
}

/// What one arm's forward pass returns.
#[derive(Debug, Clone)]
pub struct ArmOutput<B: Backend> {
    /// `[n, input]`
    pub recon: Tensor<B, 2>,
    /// Categorical posterior `q_c`, `[n, K]`; zero on pruned categories.
    pub qc: Tensor<B, 2>,
    /// Category sample (relaxed in training, one-hot in evaluation), `[n, K]`.
    pub c: Tensor<B, 2>,
    /// `[n, state]`
    pub mu: Tensor<B, 2>,
    pub log_var: Tensor<B, 2>,
}

impl MmidasConfig {
    /// Trainable parameters (weights and biases of every Linear of every arm).
    pub fn num_params(&self) -> usize {
        let a = &self.arm;
        let (h, l, k, s, n) = (a.hidden, a.latent, self.n_categories, a.state_dim, a.hidden_layers.max(1));
        let lin = |i: usize, o: usize| i * o + o;
        self.input_dims
            .iter()
            .map(|&d| {
                lin(d, h) + (n - 1) * lin(h, h) + lin(h, l) + lin(l, k) + 2 * lin(l + k, s)
                    + lin(k + s, l) + lin(l, h) + (n - 1) * lin(h, h) + lin(h, d)
            })
            .sum()
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Mmidas<B> {
        let a = &self.arm;
        let (h, l, k, s) = (a.hidden, a.latent, self.n_categories, a.state_dim);
        let lin = |i: usize, o: usize| LinearConfig::new(i, o).init::<B>(device);
        let bn = |f: usize| BatchNormNoAffine::new(f, a.batch_norm_momentum, device);
        let arms = self
            .input_dims
            .iter()
            .map(|&d| {
                let layers = a.hidden_layers.max(1);
                let encoder = (0..layers).map(|i| lin(if i == 0 { d } else { h }, h)).collect();
                let mut decoder = vec![lin(k + s, l), lin(l, h)];
                decoder.extend((1..layers).map(|_| lin(h, h)));
                Arm {
                    input_dropout: DropoutConfig::new(a.dropout).init(),
                    encoder,
                    encoder_norm: (0..layers).map(|_| bn(h)).collect(),
                    to_code: lin(h, l),
                    code_norm: bn(l),
                    to_logits: lin(l, k),
                    to_mu: lin(l + k, s),
                    to_var: lin(l + k, s),
                    decoder,
                    to_output: lin(h, d),
                }
            })
            .collect();
        Mmidas { arms, active: RunningState::new(Tensor::ones([k], device)), tau: a.tau }
    }
}

/// `x` where `mask` is 1, `PRUNED_LOGIT` where it is 0; the gradient to masked entries is 0.
///
/// # Shapes
/// - `x`: `[n, K]`, `mask`: `[1, K]` -> `[n, K]`
fn masked<B: Backend>(x: Tensor<B, 2>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
    x.mul(mask.clone()).add(mask.sub_scalar(1.0).mul_scalar(-PRUNED_LOGIT))
}

impl<B: Kernels> Arm<B> {
    /// Code `z` and first-softmax probabilities `p` (`mixVAE_model.encoder`), without input
    /// dropout (the caller applies it).
    ///
    /// # Shapes
    /// - `x`: `[n, input]`, `mask`: `[1, K]` -> (`[n, latent]`, `[n, K]`)
    pub fn encode(&self, x: Tensor<B, 2>, mask: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut h = x;
        for (fc, bn) in self.encoder.iter().zip(&self.encoder_norm) {
            h = bn.relu_forward(linear_layer(fc, h));
        }
        let z = self.code_norm.relu_forward(linear_layer(&self.to_code, h));
        let p = softmax(masked(linear_layer(&self.to_logits, z.clone()), mask), 1);
        (z, p)
    }

    /// Width of the state variable `s`.
    pub fn state_dim(&self) -> usize {
        self.to_mu.weight.dims()[1]
    }

    /// `train` draws the pass's noise from the backend's generator ([`ArmNoise::draw`]);
    /// otherwise see [`Arm::forward_with`] with no noise.
    ///
    /// # Shapes
    /// - `x`: `[n, input]`, `mask`: `[1, K]`; see [`ArmOutput`]
    pub fn forward(&self, x: Tensor<B, 2>, mask: Tensor<B, 2>, tau: f64, temperature: f64, train: bool) -> ArmOutput<B> {
        let noise = train.then(|| ArmNoise::draw(x.dims()[0], mask.dims()[1], self.state_dim(), self.input_dropout.prob, &x.device()));
        self.forward_with(x, mask, tau, temperature, noise)
    }

    /// With `noise` (training): input dropout, a relaxed Gumbel-softmax sample and a
    /// reparameterised state; without (evaluation): the one-hot argmax and `s = mu`.
    ///
    /// # Shapes
    /// - `x`: `[n, input]`, `mask`: `[1, K]`; see [`ArmOutput`]
    pub fn forward_with(&self, x: Tensor<B, 2>, mask: Tensor<B, 2>, tau: f64, temperature: f64, noise: Option<ArmNoise<B>>) -> ArmOutput<B> {
        let x = match &noise {
            Some(noise) => dropout_with_key(x, self.input_dropout.prob, noise.dropout_key),
            None => x,
        };
        let (z, p) = self.encode(x, mask.clone());
        let [n, k] = p.dims();
        // Second softmax (`forward`: F.softmax(log_qc / tau)).
        let qc = softmax(masked(p.div_scalar(tau), mask.clone()), 1);
        let c = match &noise {
            Some(noise) => {
                let gumbel = noise.uniform.clone().add_scalar(EPS).log().neg().add_scalar(EPS).log().neg();
                let logits = qc.clone().add_scalar(EPS).log().add(gumbel).div_scalar(temperature);
                softmax(masked(logits, mask), 1)
            }
            None => qc.clone().argmax(1).reshape([n]).one_hot::<2>(k).float(), // [n, K]
        };
        let y = Tensor::cat(vec![z, c.clone()], 1);
        let mu = linear_layer(&self.to_mu, y.clone());
        let log_var = sigmoid(linear_layer(&self.to_var, y)).add_scalar(EPS).log();
        let s = match noise {
            Some(noise) => mu.clone().add(log_var.clone().mul_scalar(0.5).exp().mul(noise.normal)),
            None => mu.clone(),
        };
        let mut h = Tensor::cat(vec![c.clone(), s], 1);
        for fc in &self.decoder {
            h = relu(linear_layer(fc, h));
        }
        ArmOutput { recon: linear_layer(&self.to_output, h), qc, c, mu, log_var }
    }
}

impl<B: Backend> Mmidas<B> {
    pub fn n_categories(&self) -> usize {
        self.active.value_sync().dims()[0]
    }

    /// The mask as host booleans (true = kept).
    pub fn active_categories(&self) -> Vec<bool> {
        self.active.value_sync().into_data().iter::<f32>().map(|v| v > 0.5).collect()
    }

    /// Prune (or restore) categories: `active[k] = false` removes category `k`.
    pub fn set_active(&self, active: &[bool]) {
        let device = self.active.value_sync().device();
        let v: Vec<f32> = active.iter().map(|&a| if a { 1.0 } else { 0.0 }).collect();
        self.active.update(Tensor::from_floats(v.as_slice(), &device));
    }

}

impl<B: Kernels> Mmidas<B> {
    /// Forward every arm; `train` selects Gumbel/reparameterised sampling vs argmax and `s = mu`.
    ///
    /// # Shapes
    /// - `xs[a]`: `[n, input_a]`
    pub fn forward(&self, xs: Vec<Tensor<B, 2>>, temperature: f64, train: bool) -> Vec<ArmOutput<B>> {
        let k = self.n_categories();
        let mask = self.active.value_sync().reshape([1, k]);
        self.arms
            .iter()
            .zip(xs)
            .map(|(arm, x)| arm.forward(x, mask.clone(), self.tau, temperature, train))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmidas::loss::{mmidas_loss, LossWeights};
    use burn::backend::{Autodiff, Flex};
    use burn::module::AutodiffModule;
    use burn::tensor::Distribution;

    type AB = Autodiff<Flex>;

    fn tiny() -> MmidasConfig {
        MmidasConfig {
            input_dims: vec![5, 3],
            n_categories: 4,
            arm: ArmConfig { hidden: 8, hidden_layers: 2, latent: 4, state_dim: 2, dropout: 0.1, tau: 0.5, batch_norm_momentum: 0.1 },
        }
    }

    #[test]
    fn pruned_category_has_zero_posterior_and_zero_gradient() {
        let device = Default::default();
        AB::seed(&device, 3);
        let model: Mmidas<AB> = tiny().init(&device);
        model.set_active(&[true, true, false, true]);
        let xs = vec![
            Tensor::<AB, 2>::random([16, 5], Distribution::Normal(0.0, 1.0), &device),
            Tensor::<AB, 2>::random([16, 3], Distribution::Normal(0.0, 1.0), &device),
        ];
        let outs = model.forward(xs.clone(), 1.0, true);
        for o in &outs {
            let q: Vec<f32> = o.qc.clone().into_data().iter::<f32>().collect();
            let c: Vec<f32> = o.c.clone().into_data().iter::<f32>().collect();
            for row in 0..16 {
                assert_eq!(q[row * 4 + 2], 0.0);
                assert_eq!(c[row * 4 + 2], 0.0);
                let s: f32 = q[row * 4..row * 4 + 4].iter().sum();
                assert!((s - 1.0).abs() < 1e-5);
            }
        }
        let loss = mmidas_loss(&outs, &xs, LossWeights { beta: 1.0, coupling: 1.0 }).total;
        let grads = loss.backward();
        for arm in &model.arms {
            // burn's Linear weight is [in, out]: column 2 feeds the pruned logit.
            let w = arm.to_logits.weight.grad(&grads).expect("weight grad");
            let b = arm.to_logits.bias.as_ref().and_then(|b| b.grad(&grads)).expect("bias grad");
            let w: Vec<f32> = w.into_data().iter::<f32>().collect();
            let b: Vec<f32> = b.into_data().iter::<f32>().collect();
            assert!((0..4).all(|i| w[i * 4 + 2] == 0.0), "{w:?}");
            assert_eq!(b[2], 0.0);
            assert!(w.iter().any(|g| *g != 0.0), "kept categories must still learn");
        }
        // Evaluation: one-hot argmax never picks the pruned category; the mask survives `valid()`.
        let inner = model.valid();
        assert_eq!(inner.active_categories(), vec![true, true, false, true]);
        let outs = inner.forward(xs.iter().map(|x| x.clone().inner()).collect(), 1.0, false);
        let c: Vec<f32> = outs[0].c.clone().into_data().iter::<f32>().collect();
        assert!((0..16).all(|r| c[r * 4 + 2] == 0.0 && (c[r * 4..r * 4 + 4].iter().sum::<f32>() - 1.0).abs() < 1e-6));
    }

    #[test]
    fn parameter_count_matches_the_module() {
        // burn also counts running states: per arm 2 x (2 layers x 8 + 4 latent) batch-norm
        // statistics, plus the 4-entry category mask.
        let model: Mmidas<Flex> = tiny().init(&Default::default());
        assert_eq!(model.num_params() - 2 * 2 * (2 * 8 + 4) - 4, tiny().num_params());
    }

    #[test]
    fn mask_is_saved_in_the_record() {
        use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
        let device = Default::default();
        let model: Mmidas<Flex> = tiny().init(&device);
        model.set_active(&[false, true, true, true]);
        let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
        let bytes = rec.record(model.into_record(), ()).unwrap();
        let fresh: Mmidas<Flex> = tiny().init(&device);
        let loaded = fresh.load_record(rec.load(bytes, &device).unwrap());
        assert_eq!(loaded.active_categories(), vec![false, true, true, true]);
    }
}
