//! Normalisation layers of the OLMo decoder.
//!
//! burn's `LayerNorm` always carries a scale (and bias), so the "no-affine" LayerNorm of OLMo
//! (Omni-DNA 1B: `layer_norm_type = "default"`, `layer_norm_with_affine = false`) is written here,
//! together with RMSNorm with a learned scale (Omni-DNA 300M: `layer_norm_type = "rms"`).
//! Formulas: OLMo `olmo/model.py` `LayerNorm.forward` / `RMSLayerNorm.forward`; HF
//! `OlmoLayerNorm` (`F.layer_norm(x, shape, None, None, eps=1e-5)`).

use burn::module::{Module, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which normalisation every block (and the final norm) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// LayerNorm without weight and bias (OLMo `layer_norm_with_affine = false`).
    LayerNormNoAffine,
    /// RMSNorm with a learned per-channel scale (OLMo `layer_norm_type = "rms"`).
    RmsNorm,
}

impl NormKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            NormKind::LayerNormNoAffine => "layer_norm_no_affine",
            NormKind::RmsNorm => "rms_norm",
        }
    }
}

/// A normalisation over the last dimension. `weight` is `None` for the no-affine LayerNorm.
#[derive(Module, Debug)]
pub struct Norm<B: Backend> {
    /// Learned scale `[d_model]` (RMSNorm only); checkpoint key `<prefix>.weight`.
    pub weight: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    pub kind: NormKind,
    #[module(skip)]
    pub eps: f64,
}

impl<B: Backend> Norm<B> {
    pub fn new(kind: NormKind, d_model: usize, eps: f64, device: &B::Device) -> Self {
        let weight = match kind {
            NormKind::LayerNormNoAffine => None,
            NormKind::RmsNorm => Some(Param::from_tensor(Tensor::ones([d_model], device))),
        };
        Self { weight, kind, eps }
    }

    /// # Shapes
    /// - x: `[..., d_model]` → `[..., d_model]`
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let last = D - 1;
        let normed = match self.kind {
            NormKind::LayerNormNoAffine => {
                // (x - mean) / sqrt(var_biased + eps)
                let (var, mean) = x.clone().var_mean_bias(last);
                (x - mean).div(var.add_scalar(self.eps).sqrt())
            }
            NormKind::RmsNorm => {
                // x / sqrt(mean(x^2) + eps)
                let ms = x.clone().square().mean_dim(last);
                x.div(ms.add_scalar(self.eps).sqrt())
            }
        };
        match &self.weight {
            Some(w) => normed.mul(w.val().unsqueeze::<D>()),
            None => normed,
        }
    }
}
