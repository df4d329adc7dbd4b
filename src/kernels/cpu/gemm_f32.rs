//! A bounds-checked, single-threaded f32 matrix product on the `gemm` crate (the GEMM that
//! burn-flex itself uses). The kernels parallelise over (batch, head) pairs or rows, so each
//! product here runs on the calling thread.

/// A strided read-only matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl Mat<'_> {
    /// Panics unless every element of a `rows × cols` matrix lies inside `data`.
    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "{what}: {rows}x{cols} view needs index {last}, slice has {}", self.data.len());
        }
    }
}

/// `dst[m×n] = (accumulate ? dst : 0) + scale · lhs[m×k] · rhs[k×n]`, with `dst` row-major with
/// row stride `dst_rs`.
///
/// # Panics
/// If any view reaches past its slice.
#[allow(clippy::too_many_arguments)]
pub fn matmul(dst: &mut [f32], dst_rs: usize, accumulate: bool, lhs: Mat, rhs: Mat, m: usize, n: usize, k: usize, scale: f32) {
    if m == 0 || n == 0 {
        return;
    }
    Mat { data: dst, rs: dst_rs, cs: 1 }.check(m, n, "dst");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        return;
    }
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    // SAFETY: the checks above keep every element gemm touches inside its slice; `dst` is a
    // unique borrow and does not alias `lhs` or `rhs` (shared borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
