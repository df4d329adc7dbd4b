//! Normalisation layers of the OLMo decoder.
//!
//! burn's `LayerNorm` always carries a scale (and bias), so the "no-affine" LayerNorm of OLMo
//! (Omni-DNA 1B: `layer_norm_type = "default"`, `layer_norm_with_affine = false`) is written here,
//! together with RMSNorm with a learned scale (Omni-DNA 300M: `layer_norm_type = "rms"`).
//! Formulas: OLMo `olmo/model.py` `LayerNorm.forward` / `RMSLayerNorm.forward`; HF
//! `OlmoLayerNorm` (`F.layer_norm(x, shape, None, None, eps=1e-5)`).

use burn::module::{Module, Param};
use burn::prelude::*;
use crate::kernels::{self, Kernels, NormSpec};

pub use crate::kernels::NormKind;

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
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D>
    where
        B: Kernels,
    {
        kernels::norm(x, self.weight.as_ref().map(|w| w.val()), NormSpec { kind: self.kind, eps: self.eps })
    }
}
