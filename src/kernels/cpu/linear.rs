//! The linear layer `y = x·W + b` and its three gradients, each one GEMM over all rows (the
//! bias gradient one pass), writing into new buffers that become tensors without a copy.
//!
//! Why by hand rather than burn-flex's matmul: burn-flex 0.21 allocates every matmul output as a
//! zeroed byte vector and then copies it into a second, 16-byte aligned allocation
//! (`FlexTensor::empty` → cubecl `Bytes::from_bytes_vec`), two extra passes over every
//! activation and activation gradient of the step. The products themselves are the same `gemm`
//! calls burn-flex makes, with the same threading (rayon, for products of 192³ multiply-adds or
//! more), so results are bit-identical to burn's.

use super::gemm_f32::{product, Mat};
use super::math::vectorized;
use crate::kernels::LinearGrads;

/// Multiply-adds from which a product runs on rayon's pool (burn-flex's `PARALLEL_THRESHOLD`).
const PARALLEL: usize = 192 * 192 * 192;

fn parallel(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) >= PARALLEL
}

/// `y = x·W (+ b)` (burn `Linear::forward`, PyTorch `F.linear` with `W` transposed).
///
/// # Shapes
/// - x: `[m, k]` row-major, w: a `[k, n]` view, bias: `[n]` → `[m, n]` row-major
pub fn forward(x: &[f32], m: usize, k: usize, w: Mat, n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let xm = Mat { data: x, rs: k, cs: 1 };
    let mut y = product(xm, w, m, n, k, parallel(m, n, k));
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "linear: bias of {} for {n} outputs", b.len());
        vectorized(#[inline(always)] || y.chunks_exact_mut(n).for_each(|row| row.iter_mut().zip(b).for_each(|(o, &c)| *o += c)));
    }
    y
}

/// `dx = dy·Wᵀ`, `dW = xᵀ·dy`, `db = Σ_rows dy` (the matmul rule: Giles 2008, "An extended
/// collection of matrix derivative results", §2.2.2).
///
/// # Shapes
/// - x `[m, k]`, w a `[k, n]` view, dy `[m, n]` → (dx `[m, k]`, dW `[k, n]`, db `[n]`), each
///   `None` unless wanted
pub fn backward(x: &[f32], m: usize, k: usize, w: Mat, n: usize, dy: &[f32], want: LinearGrads) -> (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>) {
    let dym = Mat { data: dy, rs: n, cs: 1 };
    let par = parallel(m, n, k);
    let dx = want.x.then(|| product(dym, Mat { data: w.data, rs: w.cs, cs: w.rs }, m, k, n, par));
    let dw = want.weight.then(|| product(Mat { data: x, rs: 1, cs: k }, dym, k, n, m, par));
    let db = want.bias.then(|| {
        let mut db = vec![0.0f32; n];
        vectorized(#[inline(always)] || dy.chunks_exact(n).for_each(|row| db.iter_mut().zip(row).for_each(|(s, &g)| *s += g)));
        db
    });
    (dx, dw, db)
}
