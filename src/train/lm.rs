//! Next-token prediction on token windows: batching, the masked cross-entropy, and the
//! pretraining [`Task`]. Padding targets carry no loss.

use burn::prelude::*;

use super::task::{EvalOutput, StepOutput, Task};
use crate::kernels::{self, Kernels, TrainBackend};
use crate::model::OlmoModel;
use crate::tokenizer::PAD_ID;

/// A right-padded batch of windows, shifted into inputs and next-token targets (host side).
#[derive(Debug, Clone)]
pub struct LmBatch {
    pub batch: usize,
    /// Input length: the longest window in the batch minus one.
    pub seq: usize,
    /// `[batch * seq]` input ids.
    pub inputs: Vec<i64>,
    /// `[batch * seq]` target ids.
    pub targets: Vec<i64>,
    /// `[batch * seq]` 1.0 where the target is a real token, 0.0 on padding.
    pub mask: Vec<f32>,
    /// Real (non-padding) input tokens.
    pub tokens: u64,
}

impl LmBatch {
    pub fn from_windows(windows: &[&[u32]]) -> Self {
        let seq = windows.iter().map(|w| w.len()).max().unwrap_or(1).saturating_sub(1).max(1);
        let batch = windows.len();
        let mut inputs = vec![PAD_ID as i64; batch * seq];
        let mut targets = vec![PAD_ID as i64; batch * seq];
        let mut mask = vec![0.0f32; batch * seq];
        let mut tokens = 0;
        for (b, w) in windows.iter().enumerate() {
            for t in 0..w.len().saturating_sub(1) {
                inputs[b * seq + t] = w[t] as i64;
                targets[b * seq + t] = w[t + 1] as i64;
                mask[b * seq + t] = 1.0;
                tokens += 1;
            }
        }
        Self { batch, seq, inputs, targets, mask, tokens }
    }

    pub fn units(&self) -> f64 {
        self.mask.iter().map(|&m| m as f64).sum()
    }

    /// # Shapes
    /// - returns (inputs `[batch, seq]`, targets `[batch, seq]`, mask `[batch, seq]`)
    pub fn tensors<B: Backend>(&self, device: &B::Device) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
        let shape = [self.batch, self.seq];
        (
            Tensor::<B, 1, Int>::from_ints(self.inputs.as_slice(), device).reshape(shape),
            Tensor::<B, 1, Int>::from_ints(self.targets.as_slice(), device).reshape(shape),
            Tensor::<B, 1>::from_floats(self.mask.as_slice(), device).reshape(shape),
        )
    }
}

/// Cross-entropy of `targets` under `logits`, weighted by `mask` and summed (the fused kernel
/// [`crate::kernels::masked_cross_entropy_sum`] over all positions).
///
/// # Shapes
/// - logits: `[batch, seq, vocab]`, targets: `[batch, seq]`, mask: `[batch, seq]`
/// - returns `[1]`
pub fn masked_cross_entropy_sum<B: Kernels>(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 1> {
    let [batch, seq, vocab] = logits.dims();
    let n = batch * seq;
    kernels::masked_cross_entropy_sum(logits.reshape([n, vocab]), targets.reshape([n]), mask.reshape([n]))
}

/// Pretraining: windows of token ids, split into train and valid by index.
pub struct LmTask {
    pub windows: Vec<Vec<u32>>,
    pub train_idx: Vec<usize>,
    pub valid_idx: Vec<usize>,
}

impl LmTask {
    fn batch(&self, which: &[usize], indices: &[usize]) -> LmBatch {
        let ws: Vec<&[u32]> = indices.iter().map(|&i| self.windows[which[i]].as_slice()).collect();
        LmBatch::from_windows(&ws)
    }
}

impl<B: TrainBackend> Task<B> for LmTask {
    type Model = OlmoModel<B>;
    type Batch = LmBatch;

    fn train_len(&self) -> usize {
        self.train_idx.len()
    }
    fn valid_len(&self) -> usize {
        self.valid_idx.len()
    }
    fn train_batch(&self, indices: &[usize]) -> LmBatch {
        self.batch(&self.train_idx, indices)
    }
    fn valid_batch(&self, indices: &[usize]) -> LmBatch {
        self.batch(&self.valid_idx, indices)
    }
    fn units(&self, batch: &LmBatch) -> f64 {
        batch.units()
    }
    fn tokens(&self, batch: &LmBatch) -> u64 {
        batch.tokens
    }
    fn step(&self, model: &OlmoModel<B>, batch: &LmBatch, device: &B::Device) -> StepOutput<B> {
        let (inputs, targets, mask) = batch.tensors::<B>(device);
        StepOutput::loss(masked_cross_entropy_sum(model.forward(inputs), targets, mask))
    }
    fn eval(&self, model: &OlmoModel<B::InnerBackend>, batch: &LmBatch, device: &B::Device) -> EvalOutput {
        let (inputs, targets, mask) = batch.tensors::<B::InnerBackend>(device);
        let loss = masked_cross_entropy_sum(model.forward(inputs), targets, mask);
        EvalOutput { loss_sum: loss.into_scalar().elem::<f64>(), units: batch.units() }
    }
}
