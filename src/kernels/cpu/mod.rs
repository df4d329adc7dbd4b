//! Hand-written CPU kernels: `Kernels` for burn's `Flex` backend. They run on contiguous f32
//! data; a tensor of another dtype (bf16, f16) is converted to f32 and the result back.

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::ops::{FloatTensor, FloatTensorOps, IntTensor, ModuleOps};
use burn::tensor::{DType, FloatDType, Shape, TensorData, TensorMetadata};

use super::composite::{self, rows_last};
use super::rope::rope_cos_sin;
use super::{AdamwStep, AttentionSpec, Kernels, LinearGrads, NormKind, NormSpec};

mod adamw;
mod attention;
mod batch_norm;
mod gemm_f32;
mod linear;
mod math;
mod rows;

/// A contiguous f32 copy of `x` (the tensor itself when it already is one). Other float dtypes
/// (bf16 under `run.precision = "bf16"`, f16, f64) are converted, computed in f32 and converted
/// back by [`like`]. Falling back to the composite code instead is not possible in a backward
/// step: its vector-Jacobian product would run a second autodiff backward pass inside the
/// first, which deadlocks on burn-autodiff's graph lock.
fn f32_tensor(x: &FlexTensor) -> FlexTensor {
    if x.dtype() == DType::F32 {
        x.to_contiguous()
    } else {
        <Flex as FloatTensorOps<Flex>>::float_cast(x.clone(), FloatDType::F32).to_contiguous()
    }
}

/// `x` (f32) in `dtype`, the dtype of the input it was computed from.
fn like(x: FlexTensor, dtype: DType) -> FlexTensor {
    if dtype == DType::F32 {
        x
    } else {
        <Flex as FloatTensorOps<Flex>>::float_cast(x, dtype.into())
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
        let x = f32_tensor(&qkv);
        let [batch, seq, d3] = x.shape().dims::<3>();
        let dims = attention::Dims { batch, seq, d: d3 / 3, heads: spec.n_heads };
        let (cos, sin) = rope_cos_sin(seq, 0, dims.d / dims.heads, spec.rope_theta);
        let (out, lse) = attention::forward(slice(&x), dims, &attention::Rope { cos: &cos, sin: &sin });
        (like(tensor(out, Shape::new([batch, seq, dims.d])), qkv.dtype()), tensor(lse, Shape::new([batch, spec.n_heads, seq])))
    }

    fn attention_backward(
        qkv: FloatTensor<Self>,
        out: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        dout: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> FloatTensor<Self> {
        let (x, o, l, g) = (f32_tensor(&qkv), f32_tensor(&out), f32_tensor(&lse), f32_tensor(&dout));
        let [batch, seq, d3] = x.shape().dims::<3>();
        let dims = attention::Dims { batch, seq, d: d3 / 3, heads: spec.n_heads };
        let (cos, sin) = rope_cos_sin(seq, 0, dims.d / dims.heads, spec.rope_theta);
        let rope = attention::Rope { cos: &cos, sin: &sin };
        like(tensor(attention::backward(slice(&x), slice(&o), slice(&l), slice(&g), dims, &rope), x.shape()), qkv.dtype())
    }

    fn norm_forward(x: FloatTensor<Self>, weight: Option<FloatTensor<Self>>, spec: NormSpec) -> FloatTensor<Self> {
        let (xc, w) = (f32_tensor(&x), weight.as_ref().map(f32_tensor));
        check_norm(spec, w.is_some());
        let (_, d, shape) = rows_last::<Self>(&xc);
        like(tensor(rows::norm_forward(slice(&xc), d, w.as_ref().map(slice), spec.eps as f32), shape), x.dtype())
    }

    fn norm_backward(
        x: FloatTensor<Self>,
        weight: Option<FloatTensor<Self>>,
        dy: FloatTensor<Self>,
        spec: NormSpec,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let (xc, g, w) = (f32_tensor(&x), f32_tensor(&dy), weight.as_ref().map(f32_tensor));
        check_norm(spec, w.is_some());
        let (_, d, shape) = rows_last::<Self>(&xc);
        let (dx, dw) = rows::norm_backward(slice(&xc), d, w.as_ref().map(slice), slice(&g), spec.eps as f32);
        let w_dtype = weight.as_ref().map_or(DType::F32, |w| w.dtype());
        (like(tensor(dx, shape), x.dtype()), dw.map(|dw| like(tensor(dw, Shape::new([d])), w_dtype)))
    }

    fn swiglu_forward(ff: FloatTensor<Self>) -> FloatTensor<Self> {
        let f = f32_tensor(&ff);
        let (_, d2, mut shape) = rows_last::<Self>(&f);
        let last = shape.num_dims() - 1;
        shape[last] = d2 / 2;
        like(tensor(rows::swiglu_forward(slice(&f), d2 / 2), shape), ff.dtype())
    }

    fn swiglu_backward(ff: FloatTensor<Self>, dout: FloatTensor<Self>) -> FloatTensor<Self> {
        let (f, g) = (f32_tensor(&ff), f32_tensor(&dout));
        let (_, d2, shape) = rows_last::<Self>(&f);
        like(tensor(rows::swiglu_backward(slice(&f), slice(&g), d2 / 2), shape), ff.dtype())
    }

    fn linear_forward(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        let all_f32 = x.dtype() == DType::F32 && weight.dtype() == DType::F32 && bias.as_ref().is_none_or(|b| b.dtype() == DType::F32);
        if !all_f32 {
            // bf16 autocast casts before its own matmul (`model::precision`); other dtypes
            // take burn's linear.
            return <Self as ModuleOps<Self>>::linear(x, weight, bias);
        }
        let xc = x.to_contiguous();
        let (m, k, mut shape) = rows_last::<Self>(&xc);
        let [wk, n] = weight.shape().dims::<2>();
        assert_eq!(wk, k, "linear: input has {k} features, weight {wk} rows");
        let w = view_2d(&weight);
        let b = bias.map(|b| b.to_contiguous());
        let y = linear::forward(slice(&xc), m, k, w.mat(), n, b.as_ref().map(slice));
        let last = shape.num_dims() - 1;
        shape[last] = n;
        tensor(y, shape)
    }

    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        want: LinearGrads,
    ) -> (Option<FloatTensor<Self>>, Option<FloatTensor<Self>>, Option<FloatTensor<Self>>) {
        if [x.dtype(), weight.dtype(), dy.dtype()].iter().any(|&d| d != DType::F32) {
            return composite::linear_backward_primitive::<Self>(x, weight, dy, want);
        }
        let (xc, g) = (x.to_contiguous(), dy.to_contiguous());
        let (m, k, x_shape) = rows_last::<Self>(&xc);
        let [_, n] = weight.shape().dims::<2>();
        let w = view_2d(&weight);
        let (dx, dw, db) = linear::backward(slice(&xc), m, k, w.mat(), n, slice(&g), want);
        (dx.map(|dx| tensor(dx, x_shape)), dw.map(|dw| tensor(dw, Shape::new([k, n]))), db.map(|db| tensor(db, Shape::new([n]))))
    }

    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        mask: FloatTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let (x, m) = (f32_tensor(&logits), f32_tensor(&mask));
        let [tokens, vocab] = x.shape().dims::<2>();
        let targets: Vec<i64> = targets.into_data().convert::<i64>().to_vec().expect("i64 targets after conversion");
        assert_eq!(targets.len(), tokens, "cross-entropy: {} targets for {tokens} logit rows", targets.len());
        let (loss, grad) = rows::cross_entropy(slice(&x), vocab, &targets, slice(&m), with_grad);
        let dtype = logits.dtype();
        (like(tensor(vec![loss], Shape::new([1])), dtype), grad.map(|g| like(tensor(g, x.shape()), dtype)))
    }

    fn squared_error_forward(
        pred: FloatTensor<Self>,
        target: FloatTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let (p, t) = (f32_tensor(&pred), f32_tensor(&target));
        assert_eq!(p.shape(), t.shape(), "squared error: prediction {:?} and target {:?} differ in shape", p.shape(), t.shape());
        let (sum, grad) = rows::squared_error(slice(&p), slice(&t), with_grad);
        let dtype = pred.dtype();
        (like(tensor(vec![sum], Shape::new([1])), dtype), grad.map(|g| like(tensor(g, p.shape()), dtype)))
    }

    fn relu_batch_norm_forward(z: FloatTensor<Self>, eps: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let zc = f32_tensor(&z);
        let [_, f] = zc.shape().dims::<2>();
        let (y, mean, var) = batch_norm::forward(slice(&zc), f, eps as f32);
        let dtype = z.dtype();
        (like(tensor(y, zc.shape()), dtype), like(tensor(mean, Shape::new([f])), dtype), like(tensor(var, Shape::new([f])), dtype))
    }

    fn relu_batch_norm_backward(
        z: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        let (zc, m, v, g) = (f32_tensor(&z), f32_tensor(&mean), f32_tensor(&var), f32_tensor(&dy));
        let dz = batch_norm::backward(slice(&zc), slice(&m), slice(&v), slice(&g), eps as f32);
        like(tensor(dz, zc.shape()), z.dtype())
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

/// A 2-D f32 tensor as a strided matrix view, without copying when its strides are
/// non-negative (a transposed weight is read in place).
struct View2d {
    tensor: FlexTensor,
    offset: usize,
    rs: usize,
    cs: usize,
}

impl View2d {
    fn mat(&self) -> gemm_f32::Mat<'_> {
        gemm_f32::Mat { data: &self.tensor.storage::<f32>()[self.offset..], rs: self.rs, cs: self.cs }
    }
}

fn view_2d(w: &FlexTensor) -> View2d {
    let strides = w.layout().strides();
    assert_eq!(strides.len(), 2, "linear: the weight must be 2-D, got shape {:?}", w.shape());
    if strides.iter().all(|&s| s >= 0) {
        View2d { tensor: w.clone(), offset: w.layout().start_offset(), rs: strides[0] as usize, cs: strides[1] as usize }
    } else {
        let n = w.shape().dims::<2>()[1];
        View2d { tensor: w.to_contiguous(), offset: 0, rs: n, cs: 1 }
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
