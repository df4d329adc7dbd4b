//! Element-wise helpers the row kernels share, written so the compiler vectorises the loops that
//! call them (no calls into libm, no branches, independent accumulators).
//!
//! `exp` is written by hand because libm's `expf` is a scalar call (about 9 % of a training step
//! of the 20M model in `perf`); Rust's standard library has no vectorised exponential.

/// Run `f` compiled for the widest SIMD instruction set of this CPU: AVX-512 or AVX2+FMA on
/// x86-64, picked at run time by `pulp::Arch` (the dispatch gemm uses), the baseline elsewhere.
/// Without it the kernels' loops are compiled for the x86-64 baseline (SSE2, 4 lanes). `f` is
/// inlined into a function carrying the target features, so mark the closure
/// `#[inline(always)]`. The choice does not change results: without fast-math flags the
/// compiler may neither reassociate sums nor fuse a multiply and an add, so every instruction
/// set computes the same operations in the same order.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `e^x` for f32, within 2 ulp over the normal range (tested against `f32::exp`).
///
/// Cody–Waite range reduction `x = k·ln2 + r`, `|r| ≤ ln2/2`, then a degree-7 Taylor polynomial for
/// `e^r` (truncation below 6e-9 relative) scaled by `2^k` built in the exponent bits (Cephes `expf`).
/// Inputs are clamped to `[-87.34, 88.72]`, so very negative `x` gives about 1e-38, not 0. NaN
/// stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // ln 2 split so that k·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding and subtracting rounds to an integer
    let x = x.clamp(-87.336_54, 88.722_83);
    let k = (x * LOG2E + ROUND) - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    p * scale
}

/// `1 / (1 + e^−x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Sum with eight independent accumulators.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Dot product with eight independent accumulators.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Maximum with eight independent lanes (−∞ for an empty slice).
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    let m = acc.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    rest.iter().fold(m, |a, &b| if b > a { b } else { a })
}

/// `out[j] = e^(x[j] − shift)`; returns the sum of the outputs.
#[inline(always)]
pub fn exp_shifted(x: &[f32], shift: f32, out: &mut [f32]) -> f32 {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = exp(v - shift));
    sum(out)
}

/// `x[j] ← e^(x[j] − shift)` in place; returns the sum.
#[inline(always)]
pub fn exp_shifted_in_place(x: &mut [f32], shift: f32) -> f32 {
    x.iter_mut().for_each(|v| *v = exp(*v - shift));
    sum(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_std_over_the_normal_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_731;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-1e4) < 1.2e-38 && exp(-1e4) >= 0.0);
    }

    #[test]
    fn lane_reductions_match_sequential_ones() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0).collect();
        assert!((sum(&x) - x.iter().sum::<f32>()).abs() < 1e-4);
        assert_eq!(max(&x), x.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
        assert!((dot(&x, &x) - x.iter().map(|v| v * v).sum::<f32>()).abs() < 1e-3);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn simd_dispatch_gives_the_bits_of_the_baseline_build() {
        // The helpers inlined into `vectorized` (AVX-512 or AVX2+FMA code here; AVX2 under
        // valgrind in CI) against the same code called directly (x86-64 baseline, SSE2).
        #[inline(always)]
        fn run(x: &[f32]) -> (f32, f32, f32, Vec<f32>, Vec<f32>) {
            let mut e = vec![0.0f32; x.len()];
            let total = exp_shifted(x, max(x), &mut e);
            let s: Vec<f32> = x.iter().map(|&v| sigmoid(v) * v).collect();
            (total, dot(x, &e), sum(&s), e, s)
        }
        let x: Vec<f32> = (0..1003).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.173).collect();
        let baseline = run(&x);
        let dispatched = vectorized(#[inline(always)] || run(&x));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert_eq!(baseline.0.to_bits(), dispatched.0.to_bits(), "exp sum");
        assert_eq!(baseline.1.to_bits(), dispatched.1.to_bits(), "dot");
        assert_eq!(baseline.2.to_bits(), dispatched.2.to_bits(), "sum");
        assert_eq!(bits(&baseline.3), bits(&dispatched.3), "exp");
        assert_eq!(bits(&baseline.4), bits(&dispatched.4), "sigmoid");
    }
}
