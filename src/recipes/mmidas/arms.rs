//! The MMIDAS training step with every arm on a thread of its own.
//!
//! Why: an arm's layers are small (`[1000, 100]` activations, 100-wide weights), too small for
//! burn-flex to split one operation across threads with profit: on the 20,000-gene bench one
//! thread ran an epoch in 1.74 s and two threads in 1.94 s (the second thread mostly waited).
//! The arms are independent until the coupling term, so each arm runs its forward and backward
//! pass single-threaded, in parallel with the others.
//!
//! How, exactly equal to differentiating the whole loss at once: with
//! `L = sum_a own_a(theta_a) + C(q_1, .., q_A)` ([`arm_loss`], [`coupling_loss`]),
//! `dL/dtheta_a = d own_a/dtheta_a + (dC/dq_a) . dq_a/dtheta_a`. So (1) each arm's forward pass
//! and own loss run on its thread, in a graph of its own; (2) `C` is differentiated on the main
//! thread with respect to copies of the `q_a`, giving `g_a = dC/dq_a` (`[n, K]`); (3) each arm
//! differentiates `own_a + sum(q_a * g_a)` (`g_a` constant) on its thread. burn-autodiff locks
//! each graph separately, so the arms' backward passes do not wait for one another.
//!
//! All random numbers (dropout key, Gumbel uniforms, normals) are drawn on the main thread before
//! the arms start ([`ArmNoise`]), in the order the sequential pass draws them, so a run is
//! deterministic by seed whatever the thread timing.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use super::{arm_tensor, MmidasBatch, MmidasTask};
use crate::kernels::TrainBackend;
use crate::mmidas::loss::{arm_loss, coupling_loss};
use crate::mmidas::model::{ArmOutput, Mmidas};
use crate::mmidas::noise::ArmNoise;
use crate::train::pools::WorkerPools;
use crate::train::StepGradients;

/// The arms' thread pools, one per arm.
pub type ArmThreads = WorkerPools;

/// Whether [`step_parallel_arms`] pays here: the CPU backend (the one with fused kernels, whose
/// operations run on rayon pools), two or more arms and two or more threads.
pub fn worthwhile<B: TrainBackend>(arms: usize) -> bool {
    <B::InnerBackend as crate::kernels::Kernels>::FUSED && arms >= 2 && WorkerPools::available() >= 2
}

/// One micro-batch's loss divided by `total_units` and its gradients, the arms in parallel
/// (see the module documentation). Equal to differentiating `mmidas_loss` (to rounding).
pub fn step_parallel_arms<B: TrainBackend>(
    task: &MmidasTask,
    threads: &ArmThreads,
    model: &Mmidas<B>,
    b: &MmidasBatch,
    total_units: f64,
    device: &B::Device,
) -> StepGradients {
    let arms = model.arms.len();
    let k = model.n_categories();
    let mask = model.active.value_sync().reshape([1, k]).inner();
    let noises: Vec<ArmNoise<B>> =
        model.arms.iter().map(|arm| ArmNoise::draw(b.n, k, arm.state_dim(), arm.input_dropout.prob, device)).collect();
    let (tau, temperature, w) = (model.tau, task.temperature, task.weights);

    // (1) Forward and own loss per arm. A fresh mask tensor per arm keeps their graphs apart.
    type Forward<B> = (ArmOutput<B>, Tensor<B, 1>, f64, f64);
    let jobs: Vec<Box<dyn FnOnce() -> Forward<B> + Send + '_>> = model
        .arms
        .iter()
        .zip(b.xs.iter().zip(&task.data.dims))
        .zip(noises)
        .map(|((arm, (x, &dim)), noise)| {
            let mask = Tensor::<B, 2>::from_inner(mask.clone());
            Box::new(move || {
                // The input is copied into tensors on the arm's thread too: one for the encoder,
                // whose input dropout then rewrites its unshared buffer in place, and one as the
                // reconstruction target (a shared tensor would be copied twice by `into_data`).
                let target = arm_tensor::<B>(x, b.n, dim, device);
                let out = arm.forward_with(arm_tensor::<B>(x, b.n, dim, device), mask, tau, temperature, Some(noise));
                let (own, recon, kl) = arm_loss(&out, target, arms, w);
                (out, own.div_scalar(total_units), recon, kl)
            }) as Box<dyn FnOnce() -> Forward<B> + Send + '_>
        })
        .collect();
    let forward = threads.run(jobs);

    // (2) The coupling's gradient with respect to each arm's posterior.
    let qcs: Vec<Tensor<B, 2>> = forward.iter().map(|f| Tensor::from_inner(f.0.qc.clone().inner()).require_grad()).collect();
    let (coupling, distance, neg_entropy) = coupling_loss(&qcs, w);
    let coupling = coupling.div_scalar(total_units);
    let mut loss = coupling.clone().into_scalar().elem::<f64>();
    let coupling_grads = coupling.backward();
    let dq: Vec<_> = qcs.iter().map(|q| q.grad(&coupling_grads).expect("every arm's posterior enters the coupling")).collect();

    // (3) Each arm's backward pass of own_a + sum(q_a * g_a).
    let mut aux = Vec::new();
    let mut jobs: Vec<Box<dyn FnOnce() -> GradientsParams + Send + '_>> = Vec::new();
    for (((out, own, recon, kl), g), name) in forward.into_iter().zip(dq).zip(&task.data.names) {
        loss += own.clone().into_scalar().elem::<f64>();
        aux.push((format!("{name}/recon"), recon));
        aux.push((format!("{name}/kl"), kl));
        jobs.push(Box::new(move || {
            let surrogate = own.add(out.qc.mul(Tensor::from_inner(g)).sum());
            GradientsParams::from_grads(surrogate.backward(), model)
        }));
    }
    aux.push(("coupling/distance".into(), distance));
    aux.push(("coupling/neg_entropy".into(), neg_entropy));
    let mut accumulator = GradientsAccumulator::<Mmidas<B>>::new();
    for grads in threads.run(jobs) {
        accumulator.accumulate(model, grads);
    }
    StepGradients { grads: accumulator.grads(), loss, aux }
}
