//! Rotary position embedding in the split-half ("rotate_half") layout used by OLMo and HF
//! `OlmoForCausalLM`: dimension `i` is paired with `i + head_dim/2` (burn's `RotaryEncoding` pairs
//! neighbours `2i, 2i+1` instead, which would not match released checkpoints).
//!
//! Formula (OLMo `RotaryEmbedding`, RoFormer eq. 34):
//! `inv_freq_j = theta^(-2j/head_dim)`, `angle[t, j] = t * inv_freq_j` for `j < head_dim/2`,
//! duplicated to `head_dim`; `rope(x) = x * cos(angle) + rotate_half(x) * sin(angle)` with
//! `rotate_half([x1, x2]) = [-x2, x1]`.

use burn::prelude::*;

/// Host-side cosine and sine tables for positions `offset .. offset + seq_len`, row-major
/// `[seq_len, head_dim]` (each half repeated), in f32 as HF `OlmoRotaryEmbedding` computes them.
pub fn rope_cos_sin(seq_len: usize, offset: usize, head_dim: usize, theta: f64) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half).map(|j| 1.0f32 / (theta as f32).powf((2 * j) as f32 / head_dim as f32)).collect();
    let mut cos = Vec::with_capacity(seq_len * head_dim);
    let mut sin = Vec::with_capacity(seq_len * head_dim);
    for t in offset..offset + seq_len {
        let start = cos.len();
        for f in &inv_freq {
            let angle = t as f32 * f;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
        // The second half of each row repeats the first.
        cos.extend_from_within(start..);
        sin.extend_from_within(start..);
    }
    (cos, sin)
}

/// Cosine and sine tables for positions `offset .. offset + seq_len`.
///
/// # Shapes
/// - returns `(cos, sin)`, each `[1, 1, seq_len, head_dim]`
pub fn rope_tables<B: Backend>(
    seq_len: usize,
    offset: usize,
    head_dim: usize,
    theta: f64,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let (cos, sin) = rope_cos_sin(seq_len, offset, head_dim, theta);
    let shape = [1, 1, seq_len, head_dim];
    (
        Tensor::<B, 1>::from_floats(cos.as_slice(), device).reshape(shape),
        Tensor::<B, 1>::from_floats(sin.as_slice(), device).reshape(shape),
    )
}

/// Apply rotary embedding to queries or keys.
///
/// # Shapes
/// - x: `[batch, n_heads, seq, head_dim]`
/// - cos, sin: `[1, 1, seq, head_dim]`
/// - returns `[batch, n_heads, seq, head_dim]`
pub fn apply_rope<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    let head_dim = x.dims()[3];
    let half = head_dim / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}
