//! The OLMo v0.6 decoder used by Omni-DNA (Groeneveld et al. 2024; Li et al. 2025 §3).
//!
//! Pre-norm blocks with no biases anywhere, a fused q/k/v projection, split-half RoPE, causal
//! attention, SwiGLU with hidden `mlp_ratio * d_model` (first half value, second half gate), a final
//! norm, and a tied or untied output layer. Reference: allenai/OLMo `olmo/model.py`
//! (`OLMoSequentialBlock`, `OLMo.forward`).
//!
//! Field names are checkpoint keys and follow the released `hf_olmo` layout
//! (`wte`, `blocks.N.att_proj`, `attn_out`, `ff_proj`, `ff_out`, `ln_f`, untied `ff_out`).
//! burn's `Linear` stores weights `[in, out]`: the export table transposes.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::{attention, embedding};
use burn::tensor::ops::AttentionModuleOptions;

use super::config::OlmoConfig;
use super::norm::Norm;
use super::precision::{self, to_f32};
use super::rope::apply_rope;
use crate::kernels::{self, AttentionSpec, Kernels};

/// One pre-norm decoder block.
#[derive(Module, Debug)]
pub struct OlmoBlock<B: Backend> {
    pub attn_norm: Norm<B>,
    /// Fused q, k, v projection, `[d_model, 3 * d_model]` (q, k, v order along the output).
    pub att_proj: Linear<B>,
    pub attn_out: Linear<B>,
    pub ff_norm: Norm<B>,
    /// `[d_model, 2 * hidden]`: value half first, gate half second.
    pub ff_proj: Linear<B>,
    pub ff_out: Linear<B>,
    #[module(skip)]
    pub n_heads: usize,
    #[module(skip)]
    pub rope_theta: f64,
}

/// The decoder-only language model.
#[derive(Module, Debug)]
pub struct OlmoModel<B: Backend> {
    /// Token embedding `[vocab_size, d_model]`; also the output matrix when tied.
    pub wte: Param<Tensor<B, 2>>,
    pub blocks: Vec<OlmoBlock<B>>,
    pub ln_f: Norm<B>,
    /// Untied output projection `[d_model, vocab_size]`; `None` when tied to `wte`.
    pub ff_out: Option<Linear<B>>,
}

fn linear<B: Backend>(d_in: usize, d_out: usize, std: f64, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

impl OlmoConfig {
    /// Build a freshly initialised model (normal init, std `init_std`, as OLMo's `init_fn = normal`).
    pub fn init<B: Backend>(&self, device: &B::Device) -> OlmoModel<B> {
        let d = self.d_model;
        let hidden = self.mlp_hidden();
        let std = self.init_std;
        let blocks = (0..self.n_layers)
            .map(|_| OlmoBlock {
                attn_norm: Norm::new(self.norm, d, self.norm_eps, device),
                att_proj: linear(d, 3 * d, std, device),
                attn_out: linear(d, d, std, device),
                ff_norm: Norm::new(self.norm, d, self.norm_eps, device),
                ff_proj: linear(d, 2 * hidden, std, device),
                ff_out: linear(hidden, d, std, device),
                n_heads: self.n_heads,
                rope_theta: self.rope_theta,
            })
            .collect();
        OlmoModel {
            wte: Initializer::Normal { mean: 0.0, std }.init([self.vocab_size, d], device),
            blocks,
            ln_f: Norm::new(self.norm, d, self.norm_eps, device),
            ff_out: (!self.tie_embeddings).then(|| linear(d, self.vocab_size, std, device)),
        }
    }
}

/// Keys and values of one layer for every position processed so far (generation's KV cache).
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    pub k: Tensor<B, 4>, // [batch, heads, seen, head_dim]
    pub v: Tensor<B, 4>, // [batch, heads, seen, head_dim]
}

impl<B: Kernels> OlmoBlock<B> {
    /// The block on a whole sequence with causal attention (training, scoring, prefill without
    /// padding), through the fused kernels of [`crate::kernels`].
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_model]` → `[batch, seq, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, d] = x.dims();
        // Rows of all sequences together ([batch·seq, d], a free reshape): each projection and
        // its weight gradient is then one GEMM over batch·seq rows, not `batch` smaller ones.
        let x = x.reshape([batch * seq, d]);
        let spec = AttentionSpec { n_heads: self.n_heads, rope_theta: self.rope_theta };
        // Under bf16 autocast the projections run in bf16 and attention in f32 (model::precision).
        let qkv = to_f32(precision::linear(&self.att_proj, self.attn_norm.forward(x.clone()))); // [batch·seq, 3d]
        let att = kernels::causal_attention(qkv.reshape([batch, seq, 3 * d]), spec); // [batch, seq, d]
        let x = x + to_f32(precision::linear(&self.attn_out, att.reshape([batch * seq, d])));
        self.feed_forward(x).reshape([batch, seq, d])
    }

    /// The SwiGLU feed-forward sub-block with its residual: `x + ff_out(silu(gate) · value)`.
    ///
    /// # Shapes
    /// - x: `[..., d_model]` → `[..., d_model]`
    fn feed_forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let ff = precision::linear(&self.ff_proj, self.ff_norm.forward(x.clone())); // [..., 2*hidden]
        x + to_f32(precision::linear(&self.ff_out, kernels::swiglu(ff)))
    }

    /// The block on new positions, attending to the cached ones and the new ones; also returns
    /// the cache extended by the new positions (generation). Attention here is burn's
    /// `attention` with an explicit mask; [`Self::forward`] is the same block without a cache,
    /// through the fused kernel (the generation tests check that the two agree).
    ///
    /// # Shapes
    /// - x: `[batch, new, d_model]` → `[batch, new, d_model]`
    /// - cos, sin: `[batch or 1, 1, new, head_dim]` (each row's own positions)
    /// - mask: `[batch, heads, new, seen + new]`, true = hidden; `None` with `causal` for a
    ///   prefill without padding, `None` without `causal` for an unpadded decoding step
    pub fn forward_cached(
        &self,
        x: Tensor<B, 3>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
        cache: Option<KvCache<B>>,
        mask: Option<Tensor<B, 4, Bool>>,
        causal: bool,
    ) -> (Tensor<B, 3>, KvCache<B>) {
        let [batch, new, d] = x.dims();
        let (h, hd) = (self.n_heads, d / self.n_heads);

        // Attention sub-block.
        let qkv = to_f32(precision::linear(&self.att_proj, self.attn_norm.forward(x.clone()))); // [batch, new, 3d]
        let heads = |t: Tensor<B, 3>| t.reshape([batch, new, h, hd]).swap_dims(1, 2); // [batch, h, new, hd]
        let q = apply_rope(heads(qkv.clone().narrow(2, 0, d)), cos, sin);
        let k = apply_rope(heads(qkv.clone().narrow(2, d, d)), cos, sin);
        let v = heads(qkv.narrow(2, 2 * d, d));
        let (k, v) = match cache {
            Some(c) => (Tensor::cat(vec![c.k, k], 2), Tensor::cat(vec![c.v, v], 2)), // [batch, h, seen + new, hd]
            None => (k, v),
        };
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: causal };
        let att = attention(q, k.clone(), v.clone(), mask, None, options); // [batch, h, new, hd]
        let x = x + to_f32(precision::linear(&self.attn_out, att.swap_dims(1, 2).reshape([batch, new, d])));

        (self.feed_forward(x), KvCache { k, v })
    }
}

impl<B: Backend> OlmoModel<B> {
    pub fn d_model(&self) -> usize {
        self.wte.dims()[1]
    }

    pub fn vocab_size(&self) -> usize {
        self.wte.dims()[0]
    }

    /// # Shapes
    /// - ids: `[batch, seq]` → `[batch, seq, d_model]`
    pub fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        embedding(self.wte.val(), ids)
    }

}

impl<B: Kernels> OlmoModel<B> {
    /// Project final hidden states to vocabulary logits (tied: `h @ wte^T`).
    ///
    /// # Shapes
    /// - h: `[batch, seq, d_model]` → `[batch, seq, vocab]`
    pub fn logits(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, d] = h.dims();
        let h = h.reshape([batch * seq, d]); // one GEMM over all rows
        let logits = match &self.ff_out {
            Some(head) => precision::linear(head, h),
            None => precision::matmul_transposed(h, self.wte.val()), // [batch·seq, vocab]
        };
        to_f32(logits).reshape([batch, seq, self.vocab_size()])
    }

    /// Run the blocks and the final norm on input embeddings.
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_model]` → `[batch, seq, d_model]`
    pub fn hidden(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        self.ln_f.forward(x)
    }

    /// Hidden states after the first `layer` blocks (no final norm), or after all blocks and the
    /// final norm when `layer` is `None`.
    ///
    /// # Shapes
    /// - x: `[batch, seq, d_model]` → `[batch, seq, d_model]`
    pub fn hidden_at(&self, x: Tensor<B, 3>, layer: Option<usize>) -> Tensor<B, 3> {
        let Some(layer) = layer else { return self.hidden(x) };
        self.blocks.iter().take(layer).fold(x, |x, block| block.forward(x))
    }

    /// Token ids to next-token logits.
    ///
    /// # Shapes
    /// - ids: `[batch, seq]` → `[batch, seq, vocab]`
    pub fn forward(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.logits(self.hidden(self.embed(ids)))
    }
}
