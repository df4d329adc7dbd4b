//! The composite (unfused) form of every kernel, written with burn's generic tensor ops. These are
//! the defaults of [`super::Kernels`] (what CUDA and ndarray run), the code `Autodiff` differentiates
//! on backends without fused kernels, and the reference the fused kernels are tested against.

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, silu};
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{TensorData, TensorMetadata};

use super::rope::{apply_rope, rope_tables};
use super::{float, AttentionSpec, NormKind, NormSpec};

/// Causal self-attention with RoPE from the fused projection, returning the output and the
/// log-sum-exp of each query's scores.
///
/// `scores = rope(q) · rope(k)ᵀ / sqrt(head_dim)`, positions after the query set to −∞,
/// `lse = log Σ_j exp(scores_j)`, `out = exp(scores − lse) · v` (Vaswani et al. 2017 eq. 1;
/// RoPE: Su et al. 2021 eq. 34).
///
/// # Shapes
/// - qkv: `[batch, seq, 3 * d_model]` → (out `[batch, seq, d_model]`, lse `[batch, heads, seq]`)
pub fn causal_attention<B: Backend>(qkv: Tensor<B, 3>, spec: AttentionSpec) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [batch, seq, d3] = qkv.dims();
    let d = d3 / 3;
    let (h, hd) = (spec.n_heads, d / spec.n_heads);
    let device = qkv.device();
    let (cos, sin) = rope_tables::<B>(seq, 0, hd, spec.rope_theta, &device); // [1, 1, seq, hd]
    let heads = |t: Tensor<B, 3>| t.reshape([batch, seq, h, hd]).swap_dims(1, 2); // [batch, h, seq, hd]
    let q = apply_rope(heads(qkv.clone().narrow(2, 0, d)), &cos, &sin);
    let k = apply_rope(heads(qkv.clone().narrow(2, d, d)), &cos, &sin);
    let v = heads(qkv.narrow(2, 2 * d, d));
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt()); // [batch, h, seq, seq]
    let hidden: Vec<bool> = (0..seq * seq).map(|i| i % seq > i / seq).collect();
    let mask = Tensor::<B, 2, Bool>::from_data(TensorData::new(hidden, [seq, seq]), &device);
    let scores = scores.mask_fill(mask.unsqueeze::<4>(), f32::NEG_INFINITY);
    let max = scores.clone().max_dim(3).detach(); // [batch, h, seq, 1]
    let lse = scores.clone().sub(max.clone()).exp().sum_dim(3).log().add(max); // [batch, h, seq, 1]
    let probs = scores.sub(lse.clone()).exp();
    let out = probs.matmul(v).swap_dims(1, 2).reshape([batch, seq, d]);
    (out, lse.reshape([batch, h, seq]))
}

/// No-affine LayerNorm or RMSNorm with scale over the last dimension (OLMo `LayerNorm.forward`,
/// `RMSLayerNorm.forward`); see [`super::norm`].
///
/// # Shapes
/// - x: `[..., d]`, weight: `[d]` → `[..., d]`
pub fn norm<B: Backend, const D: usize>(x: Tensor<B, D>, weight: Option<Tensor<B, 1>>, spec: NormSpec) -> Tensor<B, D> {
    let last = D - 1;
    let normed = match spec.kind {
        NormKind::LayerNormNoAffine => {
            let (var, mean) = x.clone().var_mean_bias(last);
            (x - mean).div(var.add_scalar(spec.eps).sqrt())
        }
        NormKind::RmsNorm => {
            let ms = x.clone().square().mean_dim(last);
            x.div(ms.add_scalar(spec.eps).sqrt())
        }
    };
    match weight {
        Some(w) => normed.mul(w.unsqueeze::<D>()),
        None => normed,
    }
}

/// SwiGLU `silu(gate) · value` with the value half first (OLMo `SwiGLU`).
///
/// # Shapes
/// - ff: `[..., 2 * hidden]` → `[..., hidden]`
pub fn swiglu<B: Backend, const D: usize>(ff: Tensor<B, D>) -> Tensor<B, D> {
    let hidden = ff.dims()[D - 1] / 2;
    let value = ff.clone().narrow(D - 1, 0, hidden);
    let gate = ff.narrow(D - 1, hidden, hidden);
    silu(gate) * value
}

/// `-Σ_i mask_i · log_softmax(logits_i)[target_i]`.
///
/// # Shapes
/// - logits `[tokens, vocab]`, targets `[tokens]`, mask `[tokens]` → `[1]`
pub fn masked_cross_entropy_sum<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>, mask: Tensor<B, 1>) -> Tensor<B, 1> {
    let [tokens, _] = logits.dims();
    let logp = log_softmax(logits, 1); // [tokens, vocab]
    let picked = logp.gather(1, targets.unsqueeze_dim::<2>(1)).reshape([tokens]); // [tokens]
    picked.mul(mask).sum().neg()
}

/// The linear layer's gradients that `want` asks for, by burn's own backward steps
/// (`ModuleOps::linear_x_backward`, `linear_weight_backward`, `linear_bias_backward`).
///
/// # Shapes
/// - x `[..., k]`, weight `[k, n]`, dy `[..., n]` → (dx `[..., k]`, dweight `[k, n]`, dbias `[n]`)
#[allow(clippy::type_complexity)]
pub(crate) fn linear_backward_primitive<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    dy: FloatTensor<B>,
    want: super::LinearGrads,
) -> (Option<FloatTensor<B>>, Option<FloatTensor<B>>, Option<FloatTensor<B>>) {
    (
        want.x.then(|| B::linear_x_backward(weight, dy.clone())),
        want.weight.then(|| B::linear_weight_backward(x, dy.clone())),
        want.bias.then(|| B::linear_bias_backward(dy)),
    )
}

/// `Σ (pred − target)²` over every element.
///
/// # Shapes
/// - pred, target: `[n, d]` → `[1]`
pub fn squared_error_sum<B: Backend>(pred: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    pred.sub(target).square().sum()
}

pub(crate) fn squared_error_primitive<B: Backend>(pred: FloatTensor<B>, target: FloatTensor<B>) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    (squared_error_sum(float::<B, 2>(pred), float::<B, 2>(target)).into_primitive().tensor(), None)
}

/// The dimensions of a primitive as (rows, last, shape): every leading dimension folded into rows.
pub(crate) fn rows_last<B: Backend>(x: &FloatTensor<B>) -> (usize, usize, Shape) {
    let shape = x.shape();
    let d = shape.as_slice().last().copied().unwrap_or(1);
    let rows = shape.num_elements() / d.max(1);
    (rows, d, shape)
}

/// A 2-D tensor back to a primitive of the given shape.
fn unfold<B: Backend>(x: Tensor<B, 2>, shape: Shape) -> FloatTensor<B> {
    B::float_reshape(x.into_primitive().tensor(), shape)
}

/// [`causal_attention`] on primitives.
pub(crate) fn attention_primitive<B: Backend>(qkv: FloatTensor<B>, spec: AttentionSpec) -> (FloatTensor<B>, FloatTensor<B>) {
    let (out, lse) = causal_attention(float::<B, 3>(qkv), spec);
    (out.into_primitive().tensor(), lse.into_primitive().tensor())
}

/// [`masked_cross_entropy_sum`] on primitives, with no gradient.
pub(crate) fn cross_entropy_primitive<B: Backend>(
    logits: FloatTensor<B>,
    targets: IntTensor<B>,
    mask: FloatTensor<B>,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let targets = Tensor::<B, 1, Int>::from_primitive(targets);
    let loss = masked_cross_entropy_sum(float::<B, 2>(logits), targets, float::<B, 1>(mask));
    (loss.into_primitive().tensor(), None)
}

/// [`norm`] on a primitive of any rank.
pub(crate) fn norm_primitive<B: Backend>(x: FloatTensor<B>, weight: Option<FloatTensor<B>>, spec: NormSpec) -> FloatTensor<B> {
    let (rows, d, shape) = rows_last::<B>(&x);
    let x2 = float::<B, 2>(x).reshape([rows, d]);
    unfold(norm(x2, weight.map(float::<B, 1>), spec), shape)
}

/// [`swiglu`] on a primitive of any rank.
pub(crate) fn swiglu_primitive<B: Backend>(ff: FloatTensor<B>) -> FloatTensor<B> {
    let (rows, d2, mut shape) = rows_last::<B>(&ff);
    let last = shape.num_dims() - 1;
    shape[last] = d2 / 2;
    unfold(swiglu(float::<B, 2>(ff).reshape([rows, d2])), shape)
}

/// Vector-Jacobian product of `f` at `x` with cotangent `dy`, by running `f` under `Autodiff`:
/// the default backward of a kernel on a backend without a fused one.
pub(crate) fn vjp<B: Backend, const DI: usize, const DO: usize>(
    x: FloatTensor<B>,
    dy: FloatTensor<B>,
    f: impl FnOnce(Tensor<Autodiff<B>, DI>) -> Tensor<Autodiff<B>, DO>,
) -> FloatTensor<B> {
    let x = Tensor::<Autodiff<B>, DI>::from_inner(float::<B, DI>(x)).require_grad();
    let y = f(x.clone());
    let grads = (y * Tensor::from_inner(float::<B, DO>(dy))).sum().backward();
    x.grad(&grads).expect("the input takes part in the function").into_primitive().tensor()
}

/// Gradients of [`norm`] with respect to `x` and the weight, through `Autodiff`.
pub(crate) fn norm_vjp<B: Backend>(
    x: FloatTensor<B>,
    weight: Option<FloatTensor<B>>,
    dy: FloatTensor<B>,
    spec: NormSpec,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let (rows, d, shape) = rows_last::<B>(&x);
    let x = Tensor::<Autodiff<B>, 2>::from_inner(float::<B, 2>(x).reshape([rows, d])).require_grad();
    let w = weight.map(|w| Tensor::<Autodiff<B>, 1>::from_inner(float::<B, 1>(w)).require_grad());
    let dy = Tensor::<Autodiff<B>, 2>::from_inner(float::<B, 2>(dy).reshape([rows, d]));
    let grads = (norm(x.clone(), w.clone(), spec) * dy).sum().backward();
    let dx = unfold(x.grad(&grads).expect("x takes part in the norm"), shape);
    let dw = w.map(|w| w.grad(&grads).expect("the weight takes part in the norm").into_primitive().tensor());
    (dx, dw)
}

/// Gradient of [`swiglu`] with respect to the fused input, through `Autodiff`.
pub(crate) fn swiglu_vjp<B: Backend>(ff: FloatTensor<B>, dout: FloatTensor<B>) -> FloatTensor<B> {
    let (rows, d2, shape) = rows_last::<B>(&ff);
    let ff = B::float_reshape(ff, Shape::new([rows, d2]));
    let dout = B::float_reshape(dout, Shape::new([rows, d2 / 2]));
    B::float_reshape(vjp::<B, 2, 2>(ff, dout, swiglu), shape)
}

/// [`super::relu_batch_norm`] with burn's tensor ops (the MMIDAS encoder layer before the fused
/// kernel: `relu`, then `mean_dim`, `(h − mean)²`, `mean_dim`, the division).
///
/// # Shapes
/// - z: `[n, f]` → (y `[n, f]`, mean `[f]`, biased variance `[f]`)
pub fn relu_batch_norm<B: Backend>(z: Tensor<B, 2>, eps: f64) -> (Tensor<B, 2>, Tensor<B, 1>, Tensor<B, 1>) {
    let f = z.dims()[1];
    let h = burn::tensor::activation::relu(z);
    let mean = h.clone().mean_dim(0); // [1, f]
    let var = h.clone().sub(mean.clone()).square().mean_dim(0); // [1, f], biased
    let y = h.sub(mean.clone()).div(var.clone().add_scalar(eps).sqrt());
    (y, mean.detach().reshape([f]), var.detach().reshape([f]))
}

pub(crate) fn relu_batch_norm_primitive<B: Backend>(z: FloatTensor<B>, eps: f64) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (y, mean, var) = relu_batch_norm(float::<B, 2>(z), eps);
    (y.into_primitive().tensor(), mean.into_primitive().tensor(), var.into_primitive().tensor())
}

/// [`super::Kernels::adamw_step`] with burn's tensor ops, in the order of burn 0.21's `AdamW`
/// (`burn-optim/src/optim/adamw.rs`), so both give the same numbers.
pub(crate) fn adamw_step<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    step: super::AdamwStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = param.shape();
    let n = shape.num_elements();
    let g = float::<B, 1>(B::float_reshape(grad, Shape::new([n])));
    let p = float::<B, 1>(B::float_reshape(param, Shape::new([n])));
    let (f1, f2) = (1.0 - step.beta_1, 1.0 - step.beta_2);
    let (m, v) = match moments {
        Some((m, v)) => {
            let (m, v) = (float::<B, 1>(B::float_reshape(m, Shape::new([n]))), float::<B, 1>(B::float_reshape(v, Shape::new([n]))));
            (m.mul_scalar(step.beta_1).add(g.clone().mul_scalar(f1)), v.mul_scalar(step.beta_2).add(g.square().mul_scalar(f2)))
        }
        None => (g.clone().mul_scalar(f1), g.square().mul_scalar(f2)),
    };
    let t = step.time as i32;
    let m_hat = m.clone().div_scalar(1f32 - step.beta_1.powi(t));
    let v_hat = v.clone().div_scalar(1f32 - step.beta_2.powi(t));
    let delta = m_hat.div(v_hat.sqrt().add_scalar(step.epsilon));
    let decay = step.lr * step.weight_decay as f64;
    let p = if decay == 0.0 { p } else { p.mul_scalar(1.0 - decay) };
    let p = p - delta.mul_scalar(step.lr);
    let back = |x: Tensor<B, 1>| B::float_reshape(x.into_primitive().tensor(), shape.clone());
    (back(p), back(m), back(v))
}
