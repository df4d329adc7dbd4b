//! The sections every kind reads: `[train]` (the one loop's options, with [`Duration`] and
//! [`Schedule`]) and `[run]` (where and on what a run goes).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::backend::DeviceKind;
use crate::model::Precision;

/// How long to train, in named units (OLMo-core `Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Duration {
    Steps(u64),
    Tokens(u64),
    Epochs(f64),
}

impl Duration {
    /// Optimizer steps this duration means for a training set of `examples` examples of
    /// `tokens_per_example` tokens (1 for images and items), `examples_per_step` at a step.
    /// Tokens and epochs round up, and at least one step is taken.
    pub fn steps(self, examples: usize, tokens_per_example: f64, examples_per_step: usize) -> u64 {
        match self {
            Duration::Steps(n) => n,
            Duration::Tokens(t) => (t as f64 / (tokens_per_example * examples_per_step as f64)).ceil().max(1.0) as u64,
            Duration::Epochs(e) => ((e * (examples / examples_per_step) as f64).ceil() as u64).max(1),
        }
    }
}

/// Learning-rate schedule after the linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Cosine decay from `lr` to `lr * min_lr_ratio` at the last step.
    Cosine,
    /// Linear decay from `lr` to `lr * min_lr_ratio`.
    Linear,
    Constant,
}

/// The one loop's options: batch, duration, AdamW, schedule, clipping, evaluation and
/// checkpoint cadence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step; tokens/step = batch_size x grad_accum x context.
    pub grad_accum: usize,
    /// How long to train: `{ steps = N }`, `{ tokens = N }` or `{ epochs = x }`.
    pub duration: Duration,
    /// Peak learning rate.
    pub lr: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// Decay after the warm-up.
    pub schedule: Schedule,
    /// Floor of the decay as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Decoupled weight decay of AdamW (PyTorch semantics: `p *= 1 - lr * weight_decay`).
    pub weight_decay: f64,
    /// AdamW first-moment decay.
    pub beta1: f64,
    /// AdamW second-moment decay.
    pub beta2: f64,
    /// AdamW epsilon (PyTorch default 1e-8; burn's default is 1e-5, so it is always set).
    pub adam_eps: f64,
    /// Clip the global gradient norm to this value; 0 disables clipping.
    pub grad_clip_norm: f64,
    /// Validation every this many steps (and at the end); 0 disables.
    pub eval_every: u64,
    /// Validation micro-batches per evaluation; 0 means the whole validation set.
    pub eval_batches: usize,
    /// Training scalars are logged every this many steps (and at the last).
    pub log_every: u64,
    /// A checkpoint every this many steps (and at the last).
    pub checkpoint_every: u64,
    /// Keep only the newest this many checkpoints (the newest is always kept).
    pub keep_last: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            batch_size: 16,
            grad_accum: 1,
            duration: Duration::Steps(1000),
            lr: 6e-4,
            warmup_steps: 100,
            schedule: Schedule::Cosine,
            min_lr_ratio: 0.1,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            adam_eps: 1e-8,
            grad_clip_norm: 1.0,
            eval_every: 100,
            eval_batches: 0,
            log_every: 10,
            checkpoint_every: 200,
            keep_last: 3,
        }
    }
}

/// Where run directories go, on which device, and whether to resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// Root of run directories; relative to the current directory.
    pub out_dir: PathBuf,
    /// `cpu` (burn flex) or `cuda` (a build with `--features cuda`).
    pub device: DeviceKind,
    /// Continue the newest run of this experiment from its newest complete checkpoint.
    pub resume: bool,
    /// Declared power draw for the energy estimate when no power counter is readable.
    pub tdp_watts: f64,
    /// Compute precision of the OLMo decoder: `"f32"` (default) or `"bf16"` (autocast: matmuls
    /// in bf16; parameters, gradients, optimizer moments, norms, attention softmax and the loss
    /// in f32; see `model::precision`). Checkpoints hold f32 weights either way. Only the kinds
    /// that train an OLMo decoder (those with a `[model]` section) read it.
    pub precision: Precision,
    /// Data-parallel replicas (default 1): each trains on `train.batch_size / data_parallel`
    /// examples of every micro-batch, on its own GPU (devices 0..N−1 with `device = "cuda"`)
    /// or CPU worker thread, and their gradients are summed by burn-collective's all-reduce
    /// (`train::parallel`). The global batch stays `batch_size × grad_accum`, so changing N
    /// changes the speed, not the run; `batch_size` must divide by N. OLMo kinds only.
    pub data_parallel: usize,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("checkpoints"),
            device: DeviceKind::Cpu,
            resume: false,
            tdp_watts: 65.0,
            precision: Precision::F32,
            data_parallel: 1,
        }
    }
}
