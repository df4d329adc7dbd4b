//! Shape and numerics of an OLMo decoder; the presets that name them live in `crate::config::presets`.

use serde::{Deserialize, Serialize};

use super::norm::NormKind;

/// Everything needed to build an [`OlmoModel`](super::OlmoModel). OLMo config names in the docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OlmoConfig {
    /// Number of decoder blocks (OLMo `n_layers`).
    pub n_layers: usize,
    /// Residual width (OLMo `d_model`).
    pub d_model: usize,
    /// Attention heads (OLMo `n_heads`); `d_model` must divide evenly.
    pub n_heads: usize,
    /// SwiGLU hidden size as a multiple of `d_model` (OLMo `mlp_ratio` is twice this: it counts
    /// value and gate together).
    pub mlp_ratio: usize,
    /// Vocabulary size, including special and expanded tokens (OLMo `vocab_size`/`embedding_size`).
    pub vocab_size: usize,
    /// Longest sequence in tokens (OLMo `max_sequence_length`; Omni-DNA: 250).
    pub context: usize,
    /// Normalisation in every block and at the end (OLMo `layer_norm_type` + `layer_norm_with_affine`).
    pub norm: NormKind,
    /// Epsilon of every norm (OLMo `layer_norm_eps`, default 1e-5).
    pub norm_eps: f64,
    /// RoPE base (OLMo `rope_theta`).
    pub rope_theta: f64,
    /// Output projection shares the embedding matrix (OLMo `weight_tying`).
    pub tie_embeddings: bool,
    /// Standard deviation of the normal initialisation (OLMo `init_std`).
    pub init_std: f64,
}

impl OlmoConfig {
    pub fn mlp_hidden(&self) -> usize {
        self.mlp_ratio * self.d_model
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Parameter count, computed from the shapes (16·d² per block with mlp_ratio 4).
    pub fn num_params(&self) -> u64 {
        let d = self.d_model as u64;
        let hidden = self.mlp_hidden() as u64;
        let v = self.vocab_size as u64;
        let norm = match self.norm {
            NormKind::LayerNormNoAffine => 0,
            NormKind::RmsNorm => d,
        };
        let block = 3 * d * d + d * d + d * 2 * hidden + hidden * d + 2 * norm;
        let head = if self.tie_embeddings { 0 } else { d * v };
        v * d + self.n_layers as u64 * block + norm + head
    }

    /// Training FLOPs per token at sequence length `seq`: 6·N plus attention 12·layers·seq·d
    /// (PaLM appendix B; nanoGPT `estimate_mfu`). No discount for the causal mask, as in both.
    pub fn train_flops_per_token(&self, seq: usize) -> f64 {
        let d = self.d_model as f64;
        6.0 * self.num_params() as f64 + 12.0 * self.n_layers as f64 * seq as f64 * d
    }
}
