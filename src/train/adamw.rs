//! AdamW whose update is one fused kernel per parameter ([`crate::kernels::Kernels::adamw_step`]).
//! Its state is burn's own `AdamWState`, so checkpoints keep the same optimizer record and a run
//! started before this change resumes after it.

use burn::optim::{AdamWState, AdaptiveMomentumState, SimpleOptimizer};
use burn::prelude::*;
use burn::optim::LearningRate;

use crate::kernels::{AdamwStep, Kernels};

/// AdamW with PyTorch's semantics (decoupled decay, bias-corrected moments, ε outside the root).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedAdamW {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
}

impl<B: Kernels> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let moments = state.map(|s| (s.momentum.moment_1.into_primitive().tensor(), s.momentum.moment_2.into_primitive().tensor()));
        let step = AdamwStep { lr, beta_1: self.beta_1, beta_2: self.beta_2, epsilon: self.epsilon, weight_decay: self.weight_decay, time };
        let (p, m, v) = B::adamw_step(tensor.into_primitive().tensor(), grad.into_primitive().tensor(), moments, step);
        let wrap = |x| Tensor::<B, D>::from_primitive(burn::tensor::TensorPrimitive::Float(x));
        let momentum = AdaptiveMomentumState::new(time, wrap(m), wrap(v));
        (wrap(p), Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::Distribution;

    use super::*;
    use crate::train::optim::adamw;

    type A = Autodiff<Flex>;

    /// Ten steps of the fused optimizer and of burn's `AdamW` from the same weights and
    /// gradients give the same bits, with and without weight decay.
    #[test]
    fn fused_adamw_equals_burns_adamw_bit_for_bit() {
        for wd in [0.1f32, 0.0] {
            let device = Default::default();
            A::seed(&device, 7);
            let mut fused_model: Linear<A> = LinearConfig::new(37, 5).init(&device);
            // burn initialises parameters lazily: read them once so the clone shares the values.
            let _ = (fused_model.weight.val(), fused_model.bias.as_ref().map(|b| b.val()));
            let mut burn_model = fused_model.clone();
            let t = crate::config::TrainSection { weight_decay: wd as f64, ..Default::default() };
            let mut fused = adamw::<A, Linear<A>>(&t);
            let mut reference = AdamWConfig::new()
                .with_beta_1(t.beta1 as f32)
                .with_beta_2(t.beta2 as f32)
                .with_epsilon(t.adam_eps as f32)
                .with_weight_decay(wd)
                .init::<A, Linear<A>>();
            for step in 0..10 {
                let x = Tensor::<A, 2>::random([8, 37], Distribution::Normal(0.0, 1.0), &device);
                let loss = |m: &Linear<A>| m.forward(x.clone()).powi_scalar(2).sum();
                let g1 = GradientsParams::from_grads(loss(&fused_model).backward(), &fused_model);
                let g2 = GradientsParams::from_grads(loss(&burn_model).backward(), &burn_model);
                let lr = 1e-2 / (1.0 + step as f64);
                fused_model = fused.step(lr, fused_model, g1);
                burn_model = reference.step(lr, burn_model, g2);
            }
            let bits = |m: &Linear<A>| -> Vec<u32> {
                let w: &Param<Tensor<A, 2>> = &m.weight;
                w.val().into_data().to_vec::<f32>().unwrap().iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(&fused_model), bits(&burn_model), "weight decay {wd}");
        }
    }
}
