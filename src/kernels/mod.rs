//! Fused training kernels on burn's backend-extension pattern (burn 0.21
//! `examples/custom-wgpu-kernel`: a trait over `Backend`, implemented per backend, with the
//! autodiff backend given its own backward step).
//!
//! [`Kernels`] holds the fused operations of the OLMo step (causal self-attention with RoPE
//! from the fused q/k/v projection, the no-affine LayerNorm / RMSNorm, SwiGLU, the linear layer,
//! the masked next-token cross-entropy, the AdamW update) and of the MMIDAS step (ReLU + batch
//! norm, the linear layer, the squared-error reconstruction term). Its default methods are the composite burn code of [`composite`]
//! (what the model ran before these kernels existed), so every backend works unchanged:
//!
//! - `Flex` (CPU) replaces the forward and backward methods with hand-written loops in
//!   [`cpu`]: one pass per row or per (batch, head), no strided views, the causal triangle only,
//!   log-sum-exp saved instead of the probability matrix (FlashAttention-2, Dao 2023, §3.1).
//! - `Autodiff<B>` records one graph node per fused op whose backward step calls `B`'s backward
//!   method ([`autodiff`]); when `B` has no fused kernels ([`Kernels::FUSED`] false, e.g. CUDA),
//!   it differentiates the composite code instead, exactly as before.
//! - Every other backend (CUDA, ndarray) takes the defaults.
//!
//! The model and the loss call the free functions of this module ([`causal_attention`],
//! [`norm`], [`swiglu`], [`masked_cross_entropy_sum`]), which take and return `Tensor`s.

use burn::prelude::*;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::TensorPrimitive;
use serde::{Deserialize, Serialize};

mod autodiff;
pub mod composite;
pub mod rope;
#[cfg(feature = "flex")]
mod cpu;
#[cfg(test)]
mod tests;

/// Which normalisation a block uses (checkpoint-level setting `model.norm`).
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

/// What the attention kernel needs to know besides the tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionSpec {
    /// Number of heads; `d_model` must divide by it and the head size must be even (RoPE pairs
    /// dimension `i` with `i + head_dim/2`).
    pub n_heads: usize,
    /// RoPE base θ (OLMo `rope_theta`, 10,000).
    pub rope_theta: f64,
}

/// Normalisation settings: which norm and its ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormSpec {
    pub kind: NormKind,
    pub eps: f64,
}

/// Which gradients [`Kernels::linear_backward`] computes (a parent that is not tracked, such as
/// the data fed to a first layer, needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearGrads {
    pub x: bool,
    pub weight: bool,
    pub bias: bool,
}

/// Hyper-parameters of one AdamW update (Loshchilov & Hutter 2019, Algorithm 2; PyTorch
/// `torch.optim.AdamW` and burn's `AdamW`, whose order of operations this follows exactly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamwStep {
    /// Learning rate of this step.
    pub lr: f64,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// Decoupled weight decay: the parameter is multiplied by `1 − lr · weight_decay` first.
    pub weight_decay: f32,
    /// 1-based step count, for the bias corrections `1 − β^t`.
    pub time: usize,
}

/// Fused operations of the OLMo training step. Default methods are the composite burn code, so
/// any backend can implement this trait with an empty `impl`.
pub trait Kernels: Backend {
    /// True where the backend's `*_forward`/`*_backward` methods are real fused kernels. When
    /// false, `Autodiff<Self>` differentiates the composite code rather than calling
    /// `*_backward` (whose default re-runs the composite code under autodiff).
    const FUSED: bool = false;

    /// Causal self-attention with RoPE; see [`causal_attention`].
    fn causal_attention(qkv: FloatTensor<Self>, spec: AttentionSpec) -> FloatTensor<Self> {
        Self::attention_forward(qkv, spec).0
    }

    /// Forward pass that also returns what the backward pass needs.
    ///
    /// # Shapes
    /// - qkv: `[batch, seq, 3 * d_model]` → (out `[batch, seq, d_model]`, lse `[batch, heads, seq]`:
    ///   the log-sum-exp of each query's scaled, masked scores)
    fn attention_forward(qkv: FloatTensor<Self>, spec: AttentionSpec) -> (FloatTensor<Self>, FloatTensor<Self>) {
        composite::attention_primitive::<Self>(qkv, spec)
    }

    /// Gradient of the attention output with respect to `qkv`.
    ///
    /// # Shapes
    /// - qkv `[batch, seq, 3d]`, out and dout `[batch, seq, d]`, lse `[batch, heads, seq]` →
    ///   `[batch, seq, 3d]`
    fn attention_backward(
        qkv: FloatTensor<Self>,
        out: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        dout: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> FloatTensor<Self> {
        let _ = (out, lse);
        composite::vjp::<Self, 3, 3>(qkv, dout, |x| composite::causal_attention(x, spec).0)
    }

    /// Normalisation over the last dimension; see [`norm`].
    fn norm(x: FloatTensor<Self>, weight: Option<FloatTensor<Self>>, spec: NormSpec) -> FloatTensor<Self> {
        Self::norm_forward(x, weight, spec)
    }

    /// # Shapes
    /// - x: `[..., d]`, weight: `[d]` (RMSNorm only) → `[..., d]`
    fn norm_forward(x: FloatTensor<Self>, weight: Option<FloatTensor<Self>>, spec: NormSpec) -> FloatTensor<Self> {
        composite::norm_primitive::<Self>(x, weight, spec)
    }

    /// Gradients of the normalisation with respect to `x` and (RMSNorm) the weight.
    ///
    /// # Shapes
    /// - x and dy `[..., d]`, weight `[d]` → (dx `[..., d]`, dweight `[d]`)
    fn norm_backward(
        x: FloatTensor<Self>,
        weight: Option<FloatTensor<Self>>,
        dy: FloatTensor<Self>,
        spec: NormSpec,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        composite::norm_vjp::<Self>(x, weight, dy, spec)
    }

    /// SwiGLU; see [`swiglu`].
    fn swiglu(ff: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::swiglu_forward(ff)
    }

    /// # Shapes
    /// - ff: `[..., 2 * hidden]` (value half first) → `[..., hidden]`
    fn swiglu_forward(ff: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::swiglu_primitive::<Self>(ff)
    }

    /// # Shapes
    /// - ff `[..., 2 * hidden]`, dout `[..., hidden]` → `[..., 2 * hidden]`
    fn swiglu_backward(ff: FloatTensor<Self>, dout: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::swiglu_vjp::<Self>(ff, dout)
    }

    /// Linear layer; see [`linear`].
    fn linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        Self::linear_forward(x, weight, bias)
    }

    /// # Shapes
    /// - x `[..., k]`, weight `[k, n]`, bias `[n]` → `[..., n]`
    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        <Self as burn::tensor::ops::ModuleOps<Self>>::linear(x, weight, bias)
    }

    /// The gradients `want` asks for: `dx = dy·Wᵀ`, `dweight = xᵀ·dy` summed over all rows,
    /// `dbias = Σ_rows dy`. The defaults are burn's own linear backward steps.
    ///
    /// # Shapes
    /// - x `[..., k]`, weight `[k, n]`, dy `[..., n]` → (dx `[..., k]`, dweight `[k, n]`,
    ///   dbias `[n]`)
    #[allow(clippy::type_complexity)]
    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        want: LinearGrads,
    ) -> (Option<FloatTensor<Self>>, Option<FloatTensor<Self>>, Option<FloatTensor<Self>>) {
        composite::linear_backward_primitive::<Self>(x, weight, dy, want)
    }

    /// Masked cross-entropy sum; see [`masked_cross_entropy_sum`].
    fn masked_cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>, mask: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::cross_entropy_forward(logits, targets, mask, false).0
    }

    /// The loss and, when `with_grad`, its gradient with respect to the logits, in one pass.
    /// The default returns no gradient (callers then differentiate the composite code).
    ///
    /// # Shapes
    /// - logits `[tokens, vocab]`, targets `[tokens]`, mask `[tokens]` → (loss `[1]`,
    ///   dlogits `[tokens, vocab]`)
    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        mask: FloatTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let _ = with_grad;
        composite::cross_entropy_primitive::<Self>(logits, targets, mask)
    }

    /// Sum of squared errors; see [`squared_error_sum`].
    fn squared_error(pred: FloatTensor<Self>, target: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::squared_error_forward(pred, target, false).0
    }

    /// The sum and, when `with_grad`, its gradient with respect to `pred`, `2·(pred − target)`,
    /// in one pass. The default returns no gradient (callers then differentiate the composite
    /// code).
    ///
    /// # Shapes
    /// - pred, target `[n, d]` → (sum `[1]`, dpred `[n, d]`)
    fn squared_error_forward(
        pred: FloatTensor<Self>,
        target: FloatTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let _ = with_grad;
        composite::squared_error_primitive::<Self>(pred, target)
    }

    /// ReLU then batch normalisation without affine parameters, in training mode; see
    /// [`relu_batch_norm`]. Returns the output and the batch statistics (no gradient flows
    /// through the statistics as returned; the output's gradient accounts for them).
    fn relu_batch_norm(z: FloatTensor<Self>, eps: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        Self::relu_batch_norm_forward(z, eps)
    }

    /// # Shapes
    /// - z: `[n, f]` → (y `[n, f]`, mean `[f]`, biased variance `[f]`, both of `relu(z)`)
    fn relu_batch_norm_forward(z: FloatTensor<Self>, eps: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composite::relu_batch_norm_primitive::<Self>(z, eps)
    }

    /// Gradient of the output with respect to `z`, from the statistics the forward returned.
    ///
    /// # Shapes
    /// - z and dy `[n, f]`, mean and var `[f]` → `[n, f]`
    fn relu_batch_norm_backward(
        z: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        let _ = (mean, var);
        composite::vjp::<Self, 2, 2>(z, dy, |z| composite::relu_batch_norm(z, eps).0)
    }

    /// One AdamW update of one parameter: `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
    /// `p ← p·(1 − lr·λ) − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)`; `moments` is `None`
    /// on the first step (both start at zero).
    ///
    /// # Shapes
    /// - param, grad, m, v: the parameter's shape → (param, m, v)
    fn adamw_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        step: AdamwStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composite::adamw_step::<Self>(param, grad, moments, step)
    }
}

/// Wrap a float primitive as a tensor of rank `D`.
pub(crate) fn float<B: Backend, const D: usize>(x: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(x))
}

/// The backend bound of training code: an autodiff backend whose inner (inference) backend
/// has the kernels too.
pub trait TrainBackend: burn::tensor::backend::AutodiffBackend<InnerBackend: Kernels> + Kernels {}

impl<B> TrainBackend for B
where
    B: burn::tensor::backend::AutodiffBackend + Kernels,
    B::InnerBackend: Kernels,
{
}

/// Causal multi-head self-attention with rotary position embedding, from the fused projection
/// (OLMo `OLMoBlock.attention` with `rope = true`; RoPE as in [`crate::model::rope`]); scores scaled
/// by `1/sqrt(head_dim)`, each query attending to itself and earlier positions.
///
/// # Shapes
/// - qkv: `[batch, seq, 3 * d_model]` (q, k, v along the last dimension, heads contiguous
///   inside each) → `[batch, seq, d_model]` (heads merged)
pub fn causal_attention<B: Kernels>(qkv: Tensor<B, 3>, spec: AttentionSpec) -> Tensor<B, 3> {
    float(B::causal_attention(qkv.into_primitive().tensor(), spec))
}

/// No-affine LayerNorm `(x - mean) / sqrt(var + eps)` or RMSNorm `x / sqrt(mean(x²) + eps) · w`
/// over the last dimension (OLMo `LayerNorm` / `RMSLayerNorm`; variance biased, as PyTorch).
///
/// # Shapes
/// - x: `[..., d]`, weight: `[d]` for RMSNorm, `None` for the no-affine LayerNorm → `[..., d]`
pub fn norm<B: Kernels, const D: usize>(x: Tensor<B, D>, weight: Option<Tensor<B, 1>>, spec: NormSpec) -> Tensor<B, D> {
    float(B::norm(x.into_primitive().tensor(), weight.map(|w| w.into_primitive().tensor()), spec))
}

/// SwiGLU `silu(gate) · value` from the fused feed-forward projection (OLMo `SwiGLU.forward`:
/// `x, gate = x.chunk(2, dim=-1); silu(gate) * x`), `silu(g) = g · sigmoid(g)`.
///
/// # Shapes
/// - ff: `[..., 2 * hidden]`, value half first, gate half second → `[..., hidden]`
pub fn swiglu<B: Kernels, const D: usize>(ff: Tensor<B, D>) -> Tensor<B, D> {
    float(B::swiglu(ff.into_primitive().tensor()))
}

/// Linear layer `y = x·W + b` over the last dimension (burn `Linear::forward`, whose weight is
/// stored `[in, out]`; PyTorch `F.linear(x, Wᵀ, b)`). `weight` may be any 2-D view, e.g. the
/// transpose of a tied embedding.
///
/// # Shapes
/// - x: `[..., k]`, weight: `[k, n]`, bias: `[n]` → `[..., n]`
pub fn linear<B: Kernels, const D: usize>(x: Tensor<B, D>, weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Tensor<B, D> {
    float(<B as Kernels>::linear(x.into_primitive().tensor(), weight.into_primitive().tensor(), bias.map(|b| b.into_primitive().tensor())))
}

/// A burn `Linear` module applied through [`linear`].
///
/// # Shapes
/// - x: `[..., d_input]` → `[..., d_output]`
pub fn linear_layer<B: Kernels, const D: usize>(layer: &burn::nn::Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `-Σ_i mask_i · log softmax(logits_i)[target_i]`: next-token cross-entropy summed over the
/// positions whose mask is 1 (padding and prompt positions carry 0). No gradient flows to `mask`.
///
/// # Shapes
/// - logits: `[tokens, vocab]`, targets: `[tokens]` with ids in `0..vocab`, mask: `[tokens]`
/// - returns `[1]`
pub fn masked_cross_entropy_sum<B: Kernels>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>, mask: Tensor<B, 1>) -> Tensor<B, 1> {
    float(B::masked_cross_entropy(
        logits.into_primitive().tensor(),
        targets.into_primitive(),
        mask.into_primitive().tensor(),
    ))
}

/// `Σ_ij (pred_ij − target_ij)²`, the summed squared error (MMIDAS's reconstruction term is
/// this over `2n`: `mixVAE_model.loss`, `0.5 · mean_n Σ_d (x̂ − x)²`). No gradient flows to
/// `target` on a fused backend (it is the data); elsewhere the composite code gives both.
///
/// # Shapes
/// - pred, target: `[n, d]` → `[1]`
pub fn squared_error_sum<B: Kernels>(pred: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    float(B::squared_error(pred.into_primitive().tensor(), target.into_primitive().tensor()))
}

/// `BatchNorm1d(affine = False)` of `relu(z)` in training mode, as each MMIDAS encoder layer
/// applies it (AllenInstitute/MMIDAS `mixVAE_model.encoder`: `bn(relu(fc(x)))`):
/// `y = (h − mean_n(h)) / sqrt(var_n(h) + eps)` with `h = relu(z)`, the mean and the biased
/// variance taken over the batch (rows) per feature (Ioffe & Szegedy 2015, Algorithm 1). The
/// returned statistics carry no gradient; callers update running statistics from them.
///
/// # Shapes
/// - z: `[n, f]` → (y `[n, f]`, mean `[f]`, biased variance `[f]`)
pub fn relu_batch_norm<B: Kernels>(z: Tensor<B, 2>, eps: f64) -> (Tensor<B, 2>, Tensor<B, 1>, Tensor<B, 1>) {
    let (y, mean, var) = B::relu_batch_norm(z.into_primitive().tensor(), eps);
    (float(y), float(mean), float(var))
}

// Backends without fused kernels take the composite defaults.
#[cfg(feature = "cuda")]
impl Kernels for burn::backend::Cuda<f32, i32> {}
#[cfg(feature = "ndarray")]
impl Kernels for burn::backend::NdArray {}
