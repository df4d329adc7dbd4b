//! Mixed precision for the OLMo decoder (`run.precision`): bf16 autocast with f32 master weights.
//!
//! `bf16` means what PyTorch `torch.autocast(dtype=torch.bfloat16)` users expect (PyTorch docs,
//! "Automatic Mixed Precision": matmuls run in the lower precision, reductions such as norms,
//! softmax and the loss in f32, parameters and optimizer state stay f32):
//!
//! - **f32**: parameters (master weights), their gradients, the AdamW moments, the residual
//!   stream, the norms, attention (scores, softmax, log-sum-exp) and the loss.
//! - **bf16**: every projection matmul of a block (`att_proj`, `attn_out`, `ff_proj`, `ff_out`)
//!   and the output layer, with SwiGLU between `ff_proj` and `ff_out`. Inputs and weights are
//!   cast to bf16 just before each matmul; its result returns to f32 where it meets the residual
//!   stream or the loss.
//!
//! Why this design with what burn 0.21 offers: burn's tensors carry their dtype at run time
//! (`Tensor::cast`), its CubeCL backends (CUDA) dispatch each kernel on that dtype (bf16 matmuls
//! on tensor cores, accumulating in f32), Flex (CPU) computes bf16 too, and `Autodiff`
//! differentiates `cast` by casting the gradient back to the source dtype
//! (burn-autodiff `float_cast`). So one model on the ordinary f32 backend, with casts around its
//! matmuls, gives f32 master weights and f32 gradients with no second backend, no per-step copy
//! of the weights into a bf16 model and no change to the optimizer or the checkpoints (which hold
//! the f32 master weights, so a bf16 run resumes from them exactly). A separate `Cuda<bf16>`
//! compute backend would need the weights converted and the gradients converted back every step
//! through the host, since burn has no cross-backend device copy.
//!
//! The setting is per thread, like PyTorch's autocast state: [`autocast`] returns a guard that
//! sets it until dropped. The training driver enters it for the whole run; code that never
//! enters it computes in f32 exactly as before.

use std::cell::Cell;

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::FloatDType;
use serde::{Deserialize, Serialize};
use crate::kernels::{self, Kernels};

/// Compute precision of a run (`run.precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// bf16 autocast: matmuls in bf16, the rest (and all state) in f32; see the module docs.
    Bf16,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// The dtype matmuls run in.
    pub fn matmul_dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::Bf16 => FloatDType::BF16,
        }
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision in effect on this thread (f32 unless inside [`autocast`]).
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Restores the previous precision when dropped.
#[must_use = "the precision holds only while the guard lives"]
pub struct AutocastGuard {
    previous: Precision,
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Compute in `precision` on this thread until the guard is dropped.
pub fn autocast(precision: Precision) -> AutocastGuard {
    AutocastGuard { previous: CURRENT.with(|c| c.replace(precision)) }
}

/// `x @ W` of a bias-free `Linear` (weight `[in, out]`) in the current precision. The result is
/// in the matmul dtype (bf16 under bf16 autocast); pass it to [`to_f32`] where it meets f32 code.
/// Under f32 this is `lin.forward(x)`, computed by [`kernels::linear_layer`].
///
/// # Shapes
/// - x: `[..., in]` → `[..., out]`
pub fn linear<B: Kernels, const D: usize>(lin: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    match current() {
        Precision::F32 => kernels::linear_layer(lin, x),
        p => {
            let dtype = p.matmul_dtype();
            let w = lin.weight.val().cast(dtype).unsqueeze::<D>();
            let out = cast_to(x, dtype).matmul(w);
            match &lin.bias {
                Some(b) => out + b.val().cast(dtype).unsqueeze::<D>(),
                None => out,
            }
        }
    }
}

/// `a @ bᵀ` in the current precision (the tied output layer `h @ wteᵀ`).
///
/// # Shapes
/// - a: `[n, k]`, b: `[m, k]` → `[n, m]`
pub fn matmul_transposed<B: Kernels>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    match current() {
        Precision::F32 => kernels::linear(a, b.transpose(), None),
        p => cast_to(a, p.matmul_dtype()).matmul(cast_to(b, p.matmul_dtype()).transpose()),
    }
}

/// `x` as f32 (a no-op when it already is).
pub fn to_f32<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    cast_to(x, FloatDType::F32)
}

fn cast_to<B: Backend, const D: usize>(x: Tensor<B, D>, dtype: FloatDType) -> Tensor<B, D> {
    if FloatDType::from(x.dtype()) == dtype {
        x
    } else {
        x.cast(dtype)
    }
}

/// Errors of [`check_supported`].
#[derive(Debug, thiserror::Error)]
#[error("run.precision = \"{precision}\" is not supported by the {backend} backend on this device ({cause}); set run.precision = \"f32\"")]
pub struct PrecisionUnsupported {
    pub precision: &'static str,
    pub backend: String,
    pub cause: String,
}

/// Check that `B` on `device` computes a small matmul in `precision` and gets the right answer
/// (a backend or GPU without bf16 panics or returns garbage; both are reported here, before the
/// run starts, instead of as a wrong loss later).
///
/// # Errors
/// [`PrecisionUnsupported`] naming the backend and what went wrong.
pub fn check_supported<B: Backend>(precision: Precision, device: &B::Device, backend: &str) -> Result<(), PrecisionUnsupported> {
    if precision == Precision::F32 {
        return Ok(());
    }
    let dtype = precision.matmul_dtype();
    let result = crate::library_panic::catch(|| {
        // [[1, 2], [3, 4]] @ [[0.5], [0.25]] = [[1], [2.5]]: exact in bf16.
        let a = Tensor::<B, 2>::from_floats([[1.0, 2.0], [3.0, 4.0]], device).cast(dtype);
        let b = Tensor::<B, 2>::from_floats([[0.5], [0.25]], device).cast(dtype);
        a.matmul(b).cast(FloatDType::F32).into_data().to_vec::<f32>().map_err(|e| format!("{e:?}"))
    });
    let err = |cause: String| PrecisionUnsupported { precision: precision.as_str(), backend: backend.to_string(), cause };
    match result {
        Ok(Ok(v)) if v == [1.0, 2.5] => Ok(()),
        Ok(Ok(v)) => Err(err(format!("a test matmul gave {v:?} instead of [1.0, 2.5]"))),
        Ok(Err(e)) => Err(err(format!("reading a bf16 result failed: {e}"))),
        Err(panic) => Err(err(panic)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend as B;
    use crate::model::OlmoConfig;
    use burn::module::AutodiffModule;
    use burn::nn::LinearConfig;
    use burn::optim::{GradientsParams, Optimizer};
    use burn::tensor::{DType, Distribution};

    fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
        let num = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
        num / b.iter().map(|y| y * y).sum::<f32>().sqrt().max(1e-12)
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        to_f32(t).into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn the_guard_sets_and_restores_the_precision_of_its_thread() {
        assert_eq!(current(), Precision::F32);
        {
            let _outer = autocast(Precision::Bf16);
            assert_eq!(current(), Precision::Bf16);
            {
                let _inner = autocast(Precision::F32);
                assert_eq!(current(), Precision::F32);
            }
            assert_eq!(current(), Precision::Bf16);
            // Another thread has its own setting, as PyTorch's autocast state.
            assert_eq!(std::thread::spawn(current).join().unwrap(), Precision::F32);
        }
        assert_eq!(current(), Precision::F32);
    }

    #[test]
    fn bf16_linear_computes_in_bf16_and_returns_f32_gradients_close_to_f32() {
        let device = Default::default();
        B::seed(&device, 3);
        let lin = LinearConfig::new(37, 11).with_bias(false).init::<B>(&device);
        let x = Tensor::<B, 2>::random([5, 37], Distribution::Normal(0.0, 1.0), &device).require_grad();

        let y32 = lin.forward(x.clone());
        let g32 = y32.clone().sum().backward();
        let (gw32, gx32) = (lin.weight.grad(&g32).unwrap(), x.grad(&g32).unwrap());

        let _bf16 = autocast(Precision::Bf16);
        let y16 = linear(&lin, x.clone());
        assert_eq!(y16.dtype(), DType::BF16, "the matmul did not run in bf16");
        let g16 = to_f32(y16.clone()).sum().backward();
        let (gw16, gx16) = (lin.weight.grad(&g16).unwrap(), x.grad(&g16).unwrap());
        assert_eq!((gw16.dtype(), gx16.dtype()), (DType::F32, DType::F32), "gradients must come back in f32");

        // bf16 keeps 8 bits of mantissa: about 0.4 % per element, less over a dot product.
        assert!(rel_diff(&values(y16), &values(y32)) < 1e-2);
        assert!(rel_diff(&gw16.into_data().to_vec::<f32>().unwrap(), &gw32.into_data().to_vec::<f32>().unwrap()) < 1e-2);
        assert!(rel_diff(&gx16.into_data().to_vec::<f32>().unwrap(), &gx32.into_data().to_vec::<f32>().unwrap()) < 1e-2);
    }

    #[test]
    fn a_bf16_step_keeps_parameters_gradients_and_moments_in_f32() {
        let device = Default::default();
        B::seed(&device, 5);
        let cfg = OlmoConfig { vocab_size: 40, context: 12, ..crate::config::presets::preset("tiny").unwrap() };
        let model = cfg.init::<B>(&device);
        let ids = Tensor::<B, 2, Int>::from_ints([[5, 9, 13, 7, 21, 30, 6, 8], [11, 12, 5, 5, 39, 17, 9, 10]], &device);
        let loss = |m: &crate::model::OlmoModel<B>| {
            let logits = m.forward(ids.clone()); // [2, 8, 40]
            burn::tensor::activation::log_softmax(logits, 2).mean().neg()
        };
        let l32: f32 = loss(&model).into_scalar();
        let _bf16 = autocast(Precision::Bf16);
        let l16 = loss(&model);
        assert_eq!(l16.dtype(), DType::F32, "the loss must be f32");
        let l16v: f32 = l16.clone().into_scalar();
        assert!((l16v - l32).abs() < 1e-2 * l32.abs(), "bf16 loss {l16v} vs f32 {l32}");

        let grads = GradientsParams::from_grads(l16.backward(), &model);
        let mut optim = crate::train::optim::adamw::<B, crate::model::OlmoModel<B>>(&crate::config::TrainSection::default());
        let model = optim.step(1e-3, model, grads);
        let model = model.valid();
        assert_eq!(model.wte.val().dtype(), DType::F32);
        for block in &model.blocks {
            for w in [&block.att_proj.weight, &block.attn_out.weight, &block.ff_proj.weight, &block.ff_out.weight] {
                assert_eq!(w.val().dtype(), DType::F32, "a parameter left f32 after a bf16 step");
            }
        }
        let record = optim.to_record();
        assert!(!record.is_empty(), "the optimizer kept no state");
        for (_, state) in record {
            let moments = state.into_state::<2>();
            assert_eq!(moments.momentum.moment_1.dtype(), DType::F32, "AdamW moments must stay f32");
        }
    }

    #[test]
    fn flex_supports_bf16() {
        check_supported::<B>(Precision::Bf16, &Default::default(), "flex").unwrap();
        check_supported::<B>(Precision::F32, &Default::default(), "flex").unwrap();
    }
}
