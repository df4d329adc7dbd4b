//! Optimizer pieces burn does not provide in the form we need: AdamW configured with PyTorch's
//! numbers, and gradient clipping by the global norm over all parameters (burn clips per tensor).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::adamw::FusedAdamW;
use crate::config::TrainSection;
use crate::kernels::TrainBackend;

/// AdamW with explicit β, ε and decoupled weight decay (PyTorch semantics; burn's default ε is
/// 1e-5), updating each parameter in one fused pass ([`FusedAdamW`]; same numbers as burn's).
pub fn adamw<B: TrainBackend, M: AutodiffModule<B>>(t: &TrainSection) -> OptimizerAdaptor<FusedAdamW, M, B> {
    OptimizerAdaptor::from(FusedAdamW {
        beta_1: t.beta1 as f32,
        beta_2: t.beta2 as f32,
        epsilon: t.adam_eps as f32,
        weight_decay: t.weight_decay as f32,
    })
}

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let sq = g.square().sum(); // [1]
            self.total = Some(match self.total.take() {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// The L2 norm of all gradients together, `sqrt(sum_p ||g_p||^2)`.
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M, grads: &GradientsParams) -> f64 {
    let mut v = SquaredNorm::<B> { grads, total: None };
    model.visit(&mut v);
    v.total.map(|t| (t.into_scalar().elem::<f64>()).sqrt()).unwrap_or(0.0)
}

/// Scale all gradients so their global norm is at most `max_norm` (PyTorch
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when it is below 1). Returns the norm
/// before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = global_grad_norm::<B, M>(model, grads);
    let factor = max_norm / (norm + 1e-6);
    if max_norm > 0.0 && factor < 1.0 && norm.is_finite() {
        model.visit(&mut Scale { grads, factor });
    }
    norm
}
