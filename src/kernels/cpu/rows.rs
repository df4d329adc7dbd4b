//! Row-wise CPU kernels: the two norms, SwiGLU and the masked cross-entropy, forward and
//! backward, each one pass over its rows in parallel chunks of fixed size (so results do not
//! depend on the thread count).

use rayon::prelude::*;

use super::math::{dot, exp_shifted, max, sigmoid, sum, vectorized};

/// Rows per parallel task.
const ROWS: usize = 16;

/// `1 / sqrt(var + eps)` and the mean (LayerNorm) or `1 / sqrt(mean(x²) + eps)` and 0 (RMSNorm).
#[inline(always)]
fn stats(x: &[f32], rms: bool, eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    if rms {
        (0.0, 1.0 / (dot(x, x) / n + eps).sqrt())
    } else {
        let mean = sum(x) / n;
        let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
        (mean, 1.0 / (var + eps).sqrt())
    }
}

/// Norm forward: `y = (x − mean) · rstd` (LayerNorm) or `y = x · rstd · w` (RMSNorm).
///
/// # Shapes
/// - x: `[rows, d]` flattened, weight `[d]` → `[rows, d]`
pub fn norm_forward(x: &[f32], d: usize, weight: Option<&[f32]>, eps: f32) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(ROWS * d).zip(x.par_chunks(ROWS * d)).for_each(|(yc, xc)| {
        vectorized(#[inline(always)]
        || {
            for (yr, xr) in yc.chunks_exact_mut(d).zip(xc.chunks_exact(d)) {
                let (mean, rstd) = stats(xr, weight.is_some(), eps);
                match weight {
                    Some(w) => yr.iter_mut().zip(xr).zip(w).for_each(|((o, &v), &g)| *o = v * rstd * g),
                    None => yr.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - mean) * rstd),
                }
            }
        })
    });
    y
}

/// Norm backward. With `x̂ = (x − mean)·rstd` (LayerNorm) or `x·rstd` (RMSNorm) and
/// `g = dy` (LayerNorm) or `dy·w` (RMSNorm):
/// LayerNorm `dx = rstd · (g − mean(g) − x̂ · mean(g·x̂))`; RMSNorm `dx = rstd · (g − x̂ · mean(g·x̂))`,
/// `dw = Σ_rows dy · x̂` (Ba et al. 2016; Zhang & Sennrich 2019).
///
/// # Shapes
/// - x, dy: `[rows, d]` flattened, weight `[d]` → (dx `[rows, d]`, dw `[d]` for RMSNorm)
pub fn norm_backward(x: &[f32], d: usize, weight: Option<&[f32]>, dy: &[f32], eps: f32) -> (Vec<f32>, Option<Vec<f32>>) {
    let mut dx = vec![0.0f32; x.len()];
    let n = d as f32;
    let partial_dw: Vec<Vec<f32>> = dx
        .par_chunks_mut(ROWS * d)
        .zip(x.par_chunks(ROWS * d).zip(dy.par_chunks(ROWS * d)))
        .map(|(dxc, (xc, dyc))| {
            vectorized(#[inline(always)]
            || {
            let mut dw = vec![0.0f32; if weight.is_some() { d } else { 0 }];
            let mut xhat = vec![0.0f32; d];
            let mut g = vec![0.0f32; d];
            for ((dxr, xr), dyr) in dxc.chunks_exact_mut(d).zip(xc.chunks_exact(d)).zip(dyc.chunks_exact(d)) {
                let (mean, rstd) = stats(xr, weight.is_some(), eps);
                xhat.iter_mut().zip(xr).for_each(|(h, &v)| *h = (v - mean) * rstd);
                match weight {
                    Some(w) => {
                        g.iter_mut().zip(dyr).zip(w).for_each(|((o, &a), &b)| *o = a * b);
                        dw.iter_mut().zip(dyr).zip(&xhat).for_each(|((o, &a), &b)| *o += a * b);
                    }
                    None => g.copy_from_slice(dyr),
                }
                let mean_gx = dot(&g, &xhat) / n;
                let mean_g = if weight.is_some() { 0.0 } else { sum(&g) / n };
                dxr.iter_mut().zip(&g).zip(&xhat).for_each(|((o, &gv), &h)| *o = rstd * (gv - mean_g - h * mean_gx));
            }
            dw
            })
        })
        .collect();
    let dw = weight.map(|_| {
        let mut total = vec![0.0f32; d];
        for p in &partial_dw {
            total.iter_mut().zip(p).for_each(|(t, &v)| *t += v);
        }
        total
    });
    (dx, dw)
}

/// SwiGLU forward `silu(gate) · value`.
///
/// # Shapes
/// - ff: `[rows, 2·hidden]` flattened (value half first) → `[rows, hidden]`
pub fn swiglu_forward(ff: &[f32], hidden: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; ff.len() / 2];
    out.par_chunks_mut(ROWS * hidden).zip(ff.par_chunks(ROWS * 2 * hidden)).for_each(|(oc, fc)| {
        vectorized(#[inline(always)]
        || {
            for (or, fr) in oc.chunks_exact_mut(hidden).zip(fc.chunks_exact(2 * hidden)) {
                let (value, gate) = fr.split_at(hidden);
                or.iter_mut().zip(value).zip(gate).for_each(|((o, &v), &g)| *o = g * sigmoid(g) * v);
            }
        })
    });
    out
}

/// SwiGLU backward: `dvalue = dout · silu(gate)`,
/// `dgate = dout · value · σ(gate) · (1 + gate · (1 − σ(gate)))`.
///
/// # Shapes
/// - ff `[rows, 2·hidden]`, dout `[rows, hidden]` → `[rows, 2·hidden]`
pub fn swiglu_backward(ff: &[f32], dout: &[f32], hidden: usize) -> Vec<f32> {
    let mut dff = vec![0.0f32; ff.len()];
    dff.par_chunks_mut(ROWS * 2 * hidden).zip(ff.par_chunks(ROWS * 2 * hidden).zip(dout.par_chunks(ROWS * hidden))).for_each(
        |(dc, (fc, gc))| {
            vectorized(#[inline(always)]
            || {
            for ((dr, fr), gr) in dc.chunks_exact_mut(2 * hidden).zip(fc.chunks_exact(2 * hidden)).zip(gc.chunks_exact(hidden)) {
                let (value, gate) = fr.split_at(hidden);
                let (dvalue, dgate) = dr.split_at_mut(hidden);
                for j in 0..hidden {
                    let (v, g, go) = (value[j], gate[j], gr[j]);
                    let s = sigmoid(g);
                    dvalue[j] = go * g * s;
                    dgate[j] = go * v * s * (1.0 + g * (1.0 - s));
                }
            }
            })
        },
    );
    dff
}

/// One row of [`cross_entropy`]: its masked loss and, when `grad`, its gradient in `buf`. One
/// pass of exponentials: e^(x − max) goes into `buf` (the gradient row or a scratch row), its
/// sum gives the log-sum-exp, and the same values scaled by 1/sum are the softmax.
#[inline(always)] // inlined into the SIMD-dispatched closures of `cross_entropy`
#[allow(clippy::too_many_arguments)]
fn row_loss(i: usize, m: f32, target: i64, vocab: usize, row: &[f32], buf: &mut [f32], grad: bool) -> f64 {
    if m == 0.0 {
        if grad {
            buf.iter_mut().for_each(|x| *x = 0.0);
        }
        return 0.0;
    }
    assert!((0..vocab as i64).contains(&target), "cross-entropy: target {target} at position {i} is outside the vocabulary 0..{vocab}");
    let mx = max(row);
    let sum_exp = exp_shifted(row, mx, buf);
    if grad {
        let scale = m / sum_exp;
        buf.iter_mut().for_each(|x| *x *= scale);
        buf[target as usize] -= m;
    }
    ((mx + sum_exp.ln() - row[target as usize]) * m) as f64
}

/// Masked cross-entropy: the sum `Σ_i mask_i · (lse_i − logits[i, target_i])` and, when
/// `with_grad`, its gradient `mask_i · (softmax(logits_i) − onehot(target_i))`.
///
/// # Shapes
/// - logits `[tokens, vocab]` flattened, targets and mask `[tokens]` → (loss, `[tokens, vocab]`)
///
/// # Panics
/// If a target of a position with non-zero mask lies outside `0..vocab`.
pub fn cross_entropy(logits: &[f32], vocab: usize, targets: &[i64], mask: &[f32], with_grad: bool) -> (f32, Option<Vec<f32>>) {
    let rows = targets.len();
    let (losses, grad): (Vec<f64>, Option<Vec<f32>>) = if with_grad {
        let mut grad = vec![0.0f32; logits.len()];
        let losses = grad
            .par_chunks_mut(vocab)
            .zip(logits.par_chunks(vocab))
            .enumerate()
            .map(|(i, (g, row))| vectorized(#[inline(always)] || row_loss(i, mask[i], targets[i], vocab, row, g, true)))
            .collect();
        (losses, Some(grad))
    } else {
        let losses = (0..rows)
            .into_par_iter()
            .map_init(|| vec![0.0f32; vocab], |buf, i| vectorized(#[inline(always)] || row_loss(i, mask[i], targets[i], vocab, &logits[i * vocab..(i + 1) * vocab], buf, false)))
            .collect();
        (losses, None)
    };
    (losses.iter().sum::<f64>() as f32, grad)
}

/// `Σ (p − t)²` (summed in f64 per chunk, chunks in order) and, when `with_grad`, `2·(p − t)`.
///
/// # Shapes
/// - p, t: `[n]` flattened → (sum, `[n]`)
pub fn squared_error(p: &[f32], t: &[f32], with_grad: bool) -> (f32, Option<Vec<f32>>) {
    const CHUNK: usize = 16 * 1024;
    let sums = |g: Option<&mut [f32]>, pc: &[f32], tc: &[f32]| -> f64 {
        vectorized(#[inline(always)]
        || {
            // Eight f32 lanes over blocks of 1,024 elements, each block's total added in f64.
            let mut s = 0.0f64;
            for (pb, tb) in pc.chunks(1024).zip(tc.chunks(1024)) {
                let mut acc = [0.0f32; 8];
                let (pe, te) = (pb.chunks_exact(8), tb.chunks_exact(8));
                let rest: f32 = pe.remainder().iter().zip(te.remainder()).map(|(&a, &b)| (a - b) * (a - b)).sum();
                for (x, y) in pe.zip(te) {
                    for l in 0..8 {
                        let d = x[l] - y[l];
                        acc[l] += d * d;
                    }
                }
                s += acc.iter().map(|&v| v as f64).sum::<f64>() + rest as f64;
            }
            if let Some(g) = g {
                g.iter_mut().zip(pc.iter().zip(tc)).for_each(|(o, (&a, &b))| *o = 2.0 * (a - b));
            }
            s
        })
    };
    assert_eq!(p.len(), t.len(), "squared error: {} predictions for {} targets", p.len(), t.len());
    if with_grad {
        let mut grad = vec![0.0f32; p.len()];
        let parts: Vec<f64> = grad
            .par_chunks_mut(CHUNK)
            .zip(p.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)))
            .map(|(g, (pc, tc))| sums(Some(g), pc, tc))
            .collect();
        (parts.iter().sum::<f64>() as f32, Some(grad))
    } else {
        let parts: Vec<f64> = p.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)).map(|(pc, tc)| sums(None, pc, tc)).collect();
        (parts.iter().sum::<f64>() as f32, None)
    }
}
