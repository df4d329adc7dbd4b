//! ReLU + batch normalisation without affine parameters (the MMIDAS encoder layer), forward and
//! backward, over a row-major `[n, f]` batch: per-feature statistics are column sums, so every
//! pass walks the rows in order and updates all `f` features at once (vectorised over `f`).
//! Sums are kept in f64 so the statistics do not depend on how many rows the batch has in a way
//! the composite code (f32 pairwise sums in burn-flex) would not. Single-threaded: one MMIDAS
//! layer is `[1000, 100]`, a few hundred microseconds, less than a thread hand-off costs.

use super::math::vectorized;

/// `h = relu(z)`; returns (`y = (h − mean)·rstd`, mean, biased variance), `rstd = 1/sqrt(var + eps)`
/// (Ioffe & Szegedy 2015, Algorithm 1).
///
/// # Shapes
/// - z: `[n, f]` flattened → (y `[n, f]`, mean `[f]`, var `[f]`)
pub fn forward(z: &[f32], f: usize, eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    vectorized(#[inline(always)]
    || {
    let n = z.len() / f;
    let mut sum = vec![0.0f64; f];
    for row in z.chunks_exact(f) {
        sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v.max(0.0) as f64);
    }
    let mean: Vec<f32> = sum.iter().map(|&s| (s / n as f64) as f32).collect();
    let mut sq = vec![0.0f64; f];
    for row in z.chunks_exact(f) {
        sq.iter_mut().zip(row).zip(&mean).for_each(|((s, &v), &m)| {
            let d = (v.max(0.0) - m) as f64;
            *s += d * d;
        });
    }
    let var: Vec<f32> = sq.iter().map(|&s| (s / n as f64) as f32).collect();
    let rstd: Vec<f32> = var.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    let mut y = vec![0.0f32; z.len()];
    for (yr, zr) in y.chunks_exact_mut(f).zip(z.chunks_exact(f)) {
        for (((o, &v), &m), &r) in yr.iter_mut().zip(zr).zip(&mean).zip(&rstd) {
            *o = (v.max(0.0) - m) * r;
        }
    }
    (y, mean, var)
    })
}

/// With `ĥ = (relu(z) − mean)·rstd`: `dh = rstd·(dy − mean_n(dy) − ĥ·mean_n(dy·ĥ))` (the batch
/// norm backward of Ioffe & Szegedy 2015, §3, with the biased variance), then
/// `dz = dh` where `z > 0` and 0 elsewhere (ReLU's gradient, 0 at 0 as burn's `relu`).
///
/// # Shapes
/// - z, dy: `[n, f]` flattened, mean and var `[f]` → dz `[n, f]`
pub fn backward(z: &[f32], mean: &[f32], var: &[f32], dy: &[f32], eps: f32) -> Vec<f32> {
    vectorized(#[inline(always)]
    || {
    let f = mean.len();
    let n = z.len() / f;
    let rstd: Vec<f32> = var.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    let (mut sum_dy, mut sum_dy_h) = (vec![0.0f64; f], vec![0.0f64; f]);
    // Iterator zips rather than indexing, so the loops have no bounds checks and vectorise.
    for (zr, gr) in z.chunks_exact(f).zip(dy.chunks_exact(f)) {
        let stats = mean.iter().zip(&rstd);
        for (((sd, sh), (&zv, &g)), (&m, &r)) in sum_dy.iter_mut().zip(sum_dy_h.iter_mut()).zip(zr.iter().zip(gr)).zip(stats) {
            let h = (zv.max(0.0) - m) * r;
            *sd += g as f64;
            *sh += (g * h) as f64;
        }
    }
    let a: Vec<f32> = sum_dy.iter().map(|&s| (s / n as f64) as f32).collect();
    let b: Vec<f32> = sum_dy_h.iter().map(|&s| (s / n as f64) as f32).collect();
    let mut dz = vec![0.0f32; z.len()];
    for ((dr, zr), gr) in dz.chunks_exact_mut(f).zip(z.chunks_exact(f)).zip(dy.chunks_exact(f)) {
        let coef = mean.iter().zip(&rstd).zip(a.iter().zip(&b));
        for ((o, (&zv, &g)), ((&m, &r), (&aj, &bj))) in dr.iter_mut().zip(zr.iter().zip(gr)).zip(coef) {
            let h = (zv.max(0.0) - m) * r;
            *o = if zv > 0.0 { r * (g - aj - h * bj) } else { 0.0 };
        }
    }
    dz
    })
}
