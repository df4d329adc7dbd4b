//! What a task supplies to the one training loop: its data as indexable examples, and its `step`.
//! Pretraining, finetuning, VQ-VAE and MMIDAS differ only here (OLMo-core TrainModule vs Trainer).

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// The loss of one micro-batch.
pub struct StepOutput<B: Backend> {
    /// Loss summed over the batch's loss units (e.g. predicted tokens), shape `[1]`. The loop
    /// divides by the units of the whole optimizer step, so accumulation is exact.
    pub loss_sum: Tensor<B, 1>,
    /// Host-side training diagnostics of the micro-batch (e.g. `vq/perplexity`, per-arm
    /// reconstruction losses). The loop averages them over the step's micro-batches and logs them
    /// as `train/<name>` at each logging step.
    pub aux: Vec<(String, f64)>,
}

impl<B: Backend> StepOutput<B> {
    /// A step with a loss and no diagnostics.
    pub fn loss(loss_sum: Tensor<B, 1>) -> Self {
        Self { loss_sum, aux: Vec::new() }
    }
}

/// What [`Task::step_with_gradients`] returns for one micro-batch.
pub struct StepGradients {
    /// Gradients of the micro-batch's loss divided by the step's loss units.
    pub grads: burn::optim::GradientsParams,
    /// That loss, on the host.
    pub loss: f64,
    /// Diagnostics, as [`StepOutput::aux`].
    pub aux: Vec<(String, f64)>,
}

/// Evaluation loss of one batch, on the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOutput {
    pub loss_sum: f64,
    pub units: f64,
}

/// Extra validation numbers of a task (e.g. per-task MCC from generation), logged under
/// `valid/<name>`; `select` (higher is better) chooses the run's best checkpoint.
#[derive(Debug, Clone, Default)]
pub struct EvalMetrics {
    pub scalars: Vec<(String, f64)>,
    pub select: Option<f64>,
    /// Problems of this evaluation, printed and logged by the loop (e.g. generation failed).
    pub warnings: Vec<String>,
}

impl EvalMetrics {
    /// No numbers this time, for the reason given.
    pub fn warning(message: String) -> Self {
        Self { warnings: vec![message], ..Self::default() }
    }
}

/// `Sync`, `Send` models and batches: under data parallelism (`train::parallel`) replicas run
/// the task's step in threads of their own.
pub trait Task<B: AutodiffBackend>: Sync {
    type Model: AutodiffModule<B> + Clone + Send;
    type Batch: Send;

    /// Training examples per epoch; the loop draws a seeded permutation of `0..train_len()`.
    fn train_len(&self) -> usize;
    fn valid_len(&self) -> usize;
    fn train_batch(&self, indices: &[usize]) -> Self::Batch;
    fn valid_batch(&self, indices: &[usize]) -> Self::Batch;
    /// Loss units in a batch (the denominator of the mean loss), known before the forward pass.
    fn units(&self, batch: &Self::Batch) -> f64;
    /// Tokens (or samples) processed by a batch, for throughput.
    fn tokens(&self, batch: &Self::Batch) -> u64;
    /// Forward pass and loss in training mode.
    fn step(&self, model: &Self::Model, batch: &Self::Batch, device: &B::Device) -> StepOutput<B>;
    /// Forward and backward pass of one micro-batch in one call, for a task that splits its
    /// backward pass itself (MMIDAS differentiates its arms on threads of their own). The loss is
    /// divided by `total_units` before differentiation, as the loop does with [`Task::step`]'s.
    /// `None` (the default): the loop calls [`Task::step`] and differentiates its loss.
    fn step_with_gradients(
        &self,
        _model: &Self::Model,
        _batch: &Self::Batch,
        _total_units: f64,
        _device: &B::Device,
    ) -> Option<StepGradients> {
        None
    }
    /// Forward pass and loss in evaluation mode, without autodiff.
    fn eval(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        batch: &Self::Batch,
        device: &B::Device,
    ) -> EvalOutput;
    /// Metrics beyond the loss at each evaluation. Default: none.
    fn eval_metrics(
        &self,
        _model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        _device: &B::Device,
    ) -> EvalMetrics {
        EvalMetrics::default()
    }
}
