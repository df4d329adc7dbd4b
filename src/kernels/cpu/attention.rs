//! Causal self-attention with RoPE on the CPU, forward and backward, one (batch, head) pair per
//! task in parallel.
//!
//! Each task gathers its head's q, k, v rows out of the fused `[batch, seq, 3·d]` projection
//! (RoPE applied while gathering), then walks blocks of [`BLOCK`] query rows: a block only
//! multiplies against the keys up to its last row, so about half the score matrix is computed
//! (the causal triangle plus the diagonal blocks). The forward pass keeps the log-sum-exp of each
//! row; the backward pass recomputes the probabilities from it (FlashAttention-2, Dao 2023,
//! Algorithm 2: `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ∘ (dP − rowsum(dO ∘ O))`, `dQ = dS K`,
//! `dK = dSᵀ Q`, both scaled by `1/sqrt(head_dim)`), and un-rotates dQ and dK (the transpose of
//! the RoPE rotation).

use rayon::prelude::*;

use super::gemm_f32::{matmul, Mat};
use super::math::{self, vectorized};

/// Query rows per block. 64 rows × 250 keys of scores stay in L2.
const BLOCK: usize = 64;

/// Sizes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub batch: usize,
    pub seq: usize,
    pub d: usize,
    pub heads: usize,
}

impl Dims {
    fn hd(&self) -> usize {
        self.d / self.heads
    }
}

/// Rotary tables, `[seq, head_dim]` each.
pub struct Rope<'a> {
    pub cos: &'a [f32],
    pub sin: &'a [f32],
}

/// Copy one head's rows (`head_dim` values from column `col` of each of the `seq` rows of batch
/// entry `b`, rows `stride` apart) into `dst` `[seq, head_dim]`, rotating them when `rope` is given.
#[inline(always)] // inlined into the SIMD-dispatched closures of `forward` and `backward`
fn gather(src: &[f32], dims: Dims, stride: usize, b: usize, col: usize, rope: Option<&Rope>, dst: &mut [f32]) {
    let hd = dims.hd();
    let half = hd / 2;
    for t in 0..dims.seq {
        let row = &src[(b * dims.seq + t) * stride + col..][..hd];
        let out = &mut dst[t * hd..(t + 1) * hd];
        match rope {
            None => out.copy_from_slice(row),
            Some(r) => {
                let (c, s) = (&r.cos[t * hd..(t + 1) * hd], &r.sin[t * hd..(t + 1) * hd]);
                // rope(x) = x·cos + rotate_half(x)·sin, rotate_half([x1, x2]) = [−x2, x1]
                for j in 0..half {
                    let (x1, x2) = (row[j], row[j + half]);
                    out[j] = x1 * c[j] - x2 * s[j];
                    out[j + half] = x2 * c[j + half] + x1 * s[j + half];
                }
            }
        }
    }
}

/// Apply the transpose of the RoPE rotation to gradients `g` `[seq, head_dim]` in place.
#[inline(always)] // inlined into the SIMD-dispatched closures of `forward` and `backward`
fn unrotate(g: &mut [f32], hd: usize, rope: &Rope) {
    let half = hd / 2;
    for (t, row) in g.chunks_exact_mut(hd).enumerate() {
        let (c, s) = (&rope.cos[t * hd..(t + 1) * hd], &rope.sin[t * hd..(t + 1) * hd]);
        for j in 0..half {
            let (g1, g2) = (row[j], row[j + half]);
            row[j] = g1 * c[j] + g2 * s[j + half];
            row[j + half] = g2 * c[j + half] - g1 * s[j];
        }
    }
}

/// Scores of query rows `r0..r0+m` against keys `0..n` into `s` `[m, n]`, scaled.
#[inline(always)] // inlined into the SIMD-dispatched closures of `forward` and `backward`
fn scores(q: &[f32], k: &[f32], hd: usize, r0: usize, m: usize, n: usize, scale: f32, s: &mut [f32]) {
    let qb = Mat { data: &q[r0 * hd..], rs: hd, cs: 1 };
    let kt = Mat { data: k, rs: 1, cs: hd }; // kᵀ: [hd, n]
    matmul(s, n, false, qb, kt, m, n, hd, scale);
}

/// One head's forward pass: output `[seq, head_dim]` and log-sum-exp `[seq]`.
#[inline(always)] // inlined into the SIMD-dispatched closures of `forward` and `backward`
fn head_forward(qkv: &[f32], dims: Dims, b: usize, h: usize, rope: &Rope) -> (Vec<f32>, Vec<f32>) {
    let (seq, d, hd) = (dims.seq, dims.d, dims.hd());
    let scale = 1.0 / (hd as f32).sqrt();
    let mut q = vec![0.0; seq * hd];
    let mut k = vec![0.0; seq * hd];
    let mut v = vec![0.0; seq * hd];
    gather(qkv, dims, 3 * d, b, h * hd, Some(rope), &mut q);
    gather(qkv, dims, 3 * d, b, d + h * hd, Some(rope), &mut k);
    gather(qkv, dims, 3 * d, b, 2 * d + h * hd, None, &mut v);
    let mut out = vec![0.0; seq * hd];
    let mut lse = vec![0.0; seq];
    let mut s = vec![0.0; BLOCK.min(seq) * seq];
    for r0 in (0..seq).step_by(BLOCK) {
        let (m, n) = ((seq - r0).min(BLOCK), (r0 + BLOCK).min(seq));
        scores(&q, &k, hd, r0, m, n, scale, &mut s);
        for ii in 0..m {
            let i = r0 + ii;
            let row = &mut s[ii * n..(ii + 1) * n];
            let (head, tail) = row.split_at_mut(i + 1);
            let max = math::max(head);
            let sum = math::exp_shifted_in_place(head, max);
            let inv = 1.0 / sum;
            head.iter_mut().for_each(|x| *x *= inv);
            tail.iter_mut().for_each(|x| *x = 0.0);
            lse[i] = max + sum.ln();
        }
        let p = Mat { data: &s, rs: n, cs: 1 };
        let vm = Mat { data: &v, rs: hd, cs: 1 };
        matmul(&mut out[r0 * hd..], hd, false, p, vm, m, hd, n, 1.0);
    }
    (out, lse)
}

/// One head's backward pass: gradients of q, k, v (before RoPE), each `[seq, head_dim]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)] // inlined into the SIMD-dispatched closures of `forward` and `backward`
fn head_backward(
    qkv: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dims: Dims,
    b: usize,
    h: usize,
    rope: &Rope,
) -> [Vec<f32>; 3] {
    let (seq, d, hd) = (dims.seq, dims.d, dims.hd());
    let scale = 1.0 / (hd as f32).sqrt();
    let buf = || vec![0.0f32; seq * hd];
    let (mut q, mut k, mut v, mut o, mut go) = (buf(), buf(), buf(), buf(), buf());
    gather(qkv, dims, 3 * d, b, h * hd, Some(rope), &mut q);
    gather(qkv, dims, 3 * d, b, d + h * hd, Some(rope), &mut k);
    gather(qkv, dims, 3 * d, b, 2 * d + h * hd, None, &mut v);
    gather(out, dims, d, b, h * hd, None, &mut o);
    gather(dout, dims, d, b, h * hd, None, &mut go);
    let lse = &lse[(b * dims.heads + h) * seq..][..seq];
    // delta_i = rowsum(dO ∘ O)
    let delta: Vec<f32> = go.chunks_exact(hd).zip(o.chunks_exact(hd)).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum()).collect();
    let (mut dq, mut dk, mut dv) = (buf(), buf(), buf());
    let mut p = vec![0.0; BLOCK.min(seq) * seq];
    let mut ds = vec![0.0; BLOCK.min(seq) * seq];
    for r0 in (0..seq).step_by(BLOCK) {
        let (m, n) = ((seq - r0).min(BLOCK), (r0 + BLOCK).min(seq));
        scores(&q, &k, hd, r0, m, n, scale, &mut p);
        for ii in 0..m {
            let i = r0 + ii;
            let row = &mut p[ii * n..(ii + 1) * n];
            row[..=i].iter_mut().for_each(|x| *x = math::exp(*x - lse[i]));
            row[i + 1..].iter_mut().for_each(|x| *x = 0.0);
        }
        let go_blk = Mat { data: &go[r0 * hd..], rs: hd, cs: 1 };
        // dV[0..n] += Pᵀ dO_blk
        matmul(&mut dv, hd, true, Mat { data: &p, rs: 1, cs: n }, go_blk, n, hd, m, 1.0);
        // dP = dO_blk Vᵀ
        matmul(&mut ds, n, false, go_blk, Mat { data: &v, rs: 1, cs: hd }, m, n, hd, 1.0);
        // dS = P ∘ (dP − delta)
        for ii in 0..m {
            let dlt = delta[r0 + ii];
            let (pr, dr) = (&p[ii * n..(ii + 1) * n], &mut ds[ii * n..(ii + 1) * n]);
            dr.iter_mut().zip(pr).for_each(|(g, &pv)| *g = pv * (*g - dlt));
        }
        let dsm = Mat { data: &ds, rs: n, cs: 1 };
        // dQ_blk = dS K · scale;  dK[0..n] += dSᵀ Q_blk · scale
        matmul(&mut dq[r0 * hd..], hd, false, dsm, Mat { data: &k, rs: hd, cs: 1 }, m, hd, n, scale);
        let dst = Mat { data: &ds, rs: 1, cs: n };
        matmul(&mut dk, hd, true, dst, Mat { data: &q[r0 * hd..], rs: hd, cs: 1 }, n, hd, m, scale);
    }
    unrotate(&mut dq, hd, rope);
    unrotate(&mut dk, hd, rope);
    [dq, dk, dv]
}

/// Forward pass over all (batch, head) pairs.
///
/// # Shapes
/// - qkv: `[batch, seq, 3·d]` → (out `[batch, seq, d]`, lse `[batch, heads, seq]`)
pub fn forward(qkv: &[f32], dims: Dims, rope: &Rope) -> (Vec<f32>, Vec<f32>) {
    let (seq, d, hd) = (dims.seq, dims.d, dims.hd());
    let heads: Vec<(Vec<f32>, Vec<f32>)> =
        (0..dims.batch * dims.heads).into_par_iter().map(|i| vectorized(#[inline(always)] || head_forward(qkv, dims, i / dims.heads, i % dims.heads, rope))).collect();
    let mut out = vec![0.0f32; dims.batch * seq * d];
    out.par_chunks_mut(seq * d).enumerate().for_each(|(b, ob)| {
        for h in 0..dims.heads {
            let head = &heads[b * dims.heads + h].0;
            for t in 0..seq {
                ob[t * d + h * hd..][..hd].copy_from_slice(&head[t * hd..(t + 1) * hd]);
            }
        }
    });
    let lse = heads.into_iter().flat_map(|(_, l)| l).collect();
    (out, lse)
}

/// Backward pass over all (batch, head) pairs.
///
/// # Shapes
/// - qkv `[batch, seq, 3·d]`, out and dout `[batch, seq, d]`, lse `[batch, heads, seq]` →
///   dqkv `[batch, seq, 3·d]`
pub fn backward(qkv: &[f32], out: &[f32], lse: &[f32], dout: &[f32], dims: Dims, rope: &Rope) -> Vec<f32> {
    let (seq, d, hd) = (dims.seq, dims.d, dims.hd());
    let grads: Vec<[Vec<f32>; 3]> = (0..dims.batch * dims.heads)
        .into_par_iter()
        .map(|i| vectorized(#[inline(always)] || head_backward(qkv, out, lse, dout, dims, i / dims.heads, i % dims.heads, rope)))
        .collect();
    let mut dqkv = vec![0.0f32; dims.batch * seq * 3 * d];
    dqkv.par_chunks_mut(seq * 3 * d).enumerate().for_each(|(b, gb)| {
        for h in 0..dims.heads {
            for (part, g) in grads[b * dims.heads + h].iter().enumerate() {
                for t in 0..seq {
                    gb[t * 3 * d + part * d + h * hd..][..hd].copy_from_slice(&g[t * hd..(t + 1) * hd]);
                }
            }
        }
    });
    dqkv
}
