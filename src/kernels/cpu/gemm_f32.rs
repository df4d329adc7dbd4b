//! Bounds-checked f32 matrix products on the `gemm` crate (the GEMM that burn-flex itself uses):
//! [`matmul`] on the calling thread (the attention kernel parallelises over (batch, head) pairs),
//! [`product`] into a new buffer, optionally on rayon's pool (the linear layer).

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
    unsafe { gemm_rows(dst.as_mut_ptr(), dst_rs, accumulate, lhs, rhs, m, n, k, scale, gemm::Parallelism::None) }
}

/// `dst[m×n] = (read_dst ? dst : 0) + scale · lhs · rhs` through `gemm::gemm`, `dst` row-major
/// with row stride `dst_rs`.
///
/// # Safety
/// Every element of the three views must lie inside its allocation, and `dst` must not alias
/// `lhs` or `rhs`; callers check the views with [`Mat::check`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows(dst: *mut f32, dst_rs: usize, read_dst: bool, lhs: Mat, rhs: Mat, m: usize, n: usize, k: usize, scale: f32, parallelism: gemm::Parallelism) {
    // SAFETY: forwarded from the caller's contract above.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            read_dst,
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
            parallelism,
        )
    }
}

/// `lhs[m×k] · rhs[k×n]` into a new row-major `m×n` buffer, on rayon's current pool when
/// `parallel` (gemm splits rows and columns, never the sum over `k`, so the result does not
/// depend on the thread count).
///
/// # Panics
/// If either view reaches past its slice.
pub fn product(lhs: Mat, rhs: Mat, m: usize, n: usize, k: usize, parallel: bool) -> Vec<f32> {
    let len = m * n;
    if k == 0 || len == 0 {
        return vec![0.0; len];
    }
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    let mut dst = Vec::<f32>::with_capacity(len);
    let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: the checks above keep every element gemm reads inside `lhs` and `rhs`; `dst` has
    // room for `m × n` elements at row stride `n`. With `read_dst = false` gemm sets its
    // `alpha` to zero and then stores every destination element without reading it (gemm-common
    // 0.19 `gemm_basic_generic`, microkernel `alpha_status == 0`), and `k > 0` here, so after
    // the call all `len` elements are initialised and `set_len` is sound. Skipping the zero fill
    // saves one pass over every output.
    unsafe {
        gemm_rows(dst.as_mut_ptr(), n, false, lhs, rhs, m, n, k, 1.0, parallelism);
        dst.set_len(len);
    }
    dst
}
