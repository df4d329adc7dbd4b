//! Hand-written CPU kernels: `Kernels` for burn's `Flex` backend. They run on contiguous f32
//! data; a tensor of another dtype (bf16, f16) takes the composite code.

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{DType, Shape, TensorData, TensorMetadata};

use super::composite::{self, rows_last};
use super::rope::rope_cos_sin;
use super::{AdamwStep, AttentionSpec, Kernels, NormKind, NormSpec};

mod adamw;
mod attention;
mod gemm_f32;
mod math;
mod rows;

/// A contiguous copy (or the tensor itself when already contiguous) if it holds f32.
fn f32_tensor(x: &FlexTensor) -> Option<FlexTensor> {
    (x.dtype() == DType::F32).then(|| x.to_contiguous())
}

/// `Some(None)` without a weight, `Some(Some(w))` for an f32 weight, `None` for another dtype.
fn f32_weight(w: &Option<FlexTensor>) -> Option<Option<FlexTensor>> {
    match w {
        None => Some(None),
        Some(w) => f32_tensor(w).map(Some),
    }
}

fn slice(x: &FlexTensor) -> &[f32] {
    x.as_slice::<f32>().expect("a contiguous f32 tensor")
}

fn tensor(data: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

impl Kernels for Flex {
    const FUSED: bool = true;

    fn attention_forward(qkv: FloatTensor<Self>, spec: AttentionSpec) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let Some(x) = f32_tensor(&qkv) else { return composite::attention_primitive::<Self>(qkv, spec) };
        let [batch, seq, d3] = x.shape().dims::<3>();
        let dims = attention::Dims { batch, seq, d: d3 / 3, heads: spec.n_heads };
        let (cos, sin) = rope_cos_sin(seq, 0, dims.d / dims.heads, spec.rope_theta);
        let (out, lse) = attention::forward(slice(&x), dims, &attention::Rope { cos: &cos, sin: &sin });
        (tensor(out, Shape::new([batch, seq, dims.d])), tensor(lse, Shape::new([batch, spec.n_heads, seq])))
    }

    fn attention_backward(
        qkv: FloatTensor<Self>,
        out: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        dout: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> FloatTensor<Self> {
        let all = (f32_tensor(&qkv), f32_tensor(&out), f32_tensor(&lse), f32_tensor(&dout));
        let (Some(x), Some(o), Some(l), Some(g)) = all else {
            return composite::vjp::<Self, 3, 3>(qkv, dout, |x| composite::causal_attention(x, spec).0);
        };
        let [batch, seq, d3] = x.shape().dims::<3>();
        let dims = attention::Dims { batch, seq, d: d3 / 3, heads: spec.n_heads };
        let (cos, sin) = rope_cos_sin(seq, 0, dims.d / dims.heads, spec.rope_theta);
        let rope = attention::Rope { cos: &cos, sin: &sin };
        tensor(attention::backward(slice(&x), slice(&o), slice(&l), slice(&g), dims, &rope), x.shape())
    }

    fn norm_forward(x: FloatTensor<Self>, weight: Option<FloatTensor<Self>>, spec: NormSpec) -> FloatTensor<Self> {
        let (Some(xc), Some(w)) = (f32_tensor(&x), f32_weight(&weight)) else {
            return composite::norm_primitive::<Self>(x, weight, spec);
        };
        check_norm(spec, w.is_some());
        let (_, d, shape) = rows_last::<Self>(&xc);
        tensor(rows::norm_forward(slice(&xc), d, w.as_ref().map(slice), spec.eps as f32), shape)
    }

    fn norm_backward(
        x: FloatTensor<Self>,
        weight: Option<FloatTensor<Self>>,
        dy: FloatTensor<Self>,
        spec: NormSpec,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let (Some(xc), Some(g), Some(w)) = (f32_tensor(&x), f32_tensor(&dy), f32_weight(&weight)) else {
            return composite::norm_vjp::<Self>(x, weight, dy, spec);
        };
        check_norm(spec, w.is_some());
        let (_, d, shape) = rows_last::<Self>(&xc);
        let (dx, dw) = rows::norm_backward(slice(&xc), d, w.as_ref().map(slice), slice(&g), spec.eps as f32);
        (tensor(dx, shape), dw.map(|dw| tensor(dw, Shape::new([d]))))
    }

    fn swiglu_forward(ff: FloatTensor<Self>) -> FloatTensor<Self> {
        let Some(f) = f32_tensor(&ff) else { return composite::swiglu_primitive::<Self>(ff) };
        let (_, d2, mut shape) = rows_last::<Self>(&f);
        let last = shape.num_dims() - 1;
        shape[last] = d2 / 2;
        tensor(rows::swiglu_forward(slice(&f), d2 / 2), shape)
    }

    fn swiglu_backward(ff: FloatTensor<Self>, dout: FloatTensor<Self>) -> FloatTensor<Self> {
        let (Some(f), Some(g)) = (f32_tensor(&ff), f32_tensor(&dout)) else { return composite::swiglu_vjp::<Self>(ff, dout) };
        let (_, d2, shape) = rows_last::<Self>(&f);
        tensor(rows::swiglu_backward(slice(&f), slice(&g), d2 / 2), shape)
    }

    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        mask: FloatTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let (Some(x), Some(m)) = (f32_tensor(&logits), f32_tensor(&mask)) else {
            return composite::cross_entropy_primitive::<Self>(logits, targets, mask);
        };
        let [tokens, vocab] = x.shape().dims::<2>();
        let targets: Vec<i64> = targets.into_data().convert::<i64>().to_vec().expect("i64 targets after conversion");
        assert_eq!(targets.len(), tokens, "cross-entropy: {} targets for {tokens} logit rows", targets.len());
        let (loss, grad) = rows::cross_entropy(slice(&x), vocab, &targets, slice(&m), with_grad);
        (tensor(vec![loss], Shape::new([1])), grad.map(|g| tensor(g, x.shape())))
    }

    fn adamw_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        step: AdamwStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let f32s = param.dtype() == DType::F32
            && grad.dtype() == DType::F32
            && moments.as_ref().is_none_or(|(m, v)| m.dtype() == DType::F32 && v.dtype() == DType::F32);
        if !f32s {
            return composite::adamw_step::<Self>(param, grad, moments, step);
        }
        let shape = param.shape();
        let g = grad.to_contiguous();
        let mut p = owned(param);
        let first = moments.is_none();
        let (mut m, mut v) = match moments {
            Some((m, v)) => (owned(m), owned(v)),
            None => (FlexTensor::zeros(shape.clone(), DType::F32), FlexTensor::zeros(shape.clone(), DType::F32)),
        };
        adamw::adamw(p.storage_mut::<f32>(), slice(&g), m.storage_mut::<f32>(), v.storage_mut::<f32>(), first, step);
        (p, m, v)
    }
}

/// A contiguous f32 tensor that owns its buffer (copied when shared), for in-place updates.
fn owned(x: FlexTensor) -> FlexTensor {
    let c = x.to_contiguous();
    drop(x);
    c
}

/// The weight must be present exactly for RMSNorm.
fn check_norm(spec: NormSpec, has_weight: bool) {
    let wants = spec.kind == NormKind::RmsNorm;
    assert_eq!(wants, has_weight, "{}: weight {} but the norm {} one", spec.kind.as_str(), has_weight, if wants { "needs" } else { "takes no" });
}
