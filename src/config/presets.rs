//! Named model shapes. Omni-DNA sizes from Li et al. 2025 (Table 1) and the released configs:
//! all use vocabulary 4096 and context 250; the 300M model uses RMSNorm with a scale, the others
//! the no-affine LayerNorm; embeddings are tied.

use crate::model::{NormKind, OlmoConfig};

/// `(name, n_layers, d_model, n_heads, norm)`.
const TABLE: &[(&str, usize, usize, usize, NormKind)] = &[
    ("tiny", 2, 32, 2, NormKind::LayerNormNoAffine),
    ("omni_dna_20m", 8, 256, 8, NormKind::LayerNormNoAffine),
    ("omni_dna_60m", 8, 512, 8, NormKind::LayerNormNoAffine),
    ("omni_dna_116m", 12, 768, 16, NormKind::LayerNormNoAffine),
    ("omni_dna_300m", 16, 1024, 16, NormKind::RmsNorm),
    ("omni_dna_700m", 16, 1536, 16, NormKind::LayerNormNoAffine),
    ("omni_dna_1b", 16, 2048, 16, NormKind::LayerNormNoAffine),
];

/// Names accepted by `model.preset`.
pub fn preset_names() -> Vec<&'static str> {
    TABLE.iter().map(|row| row.0).collect()
}

/// The full model config a preset names, or `None` for an unknown name.
pub fn preset(name: &str) -> Option<OlmoConfig> {
    let &(_, n_layers, d_model, n_heads, norm) = TABLE.iter().find(|row| row.0 == name)?;
    let tiny = name == "tiny";
    Some(OlmoConfig {
        n_layers,
        d_model,
        n_heads,
        mlp_ratio: 4,
        // The tiny test preset keeps a small vocabulary and context so tests run in seconds.
        vocab_size: if tiny { 256 } else { 4096 },
        context: if tiny { 64 } else { 250 },
        norm,
        norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_embeddings: true,
        init_std: 0.02,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_billion_preset_has_the_published_parameter_count() {
        assert_eq!(preset("omni_dna_1b").unwrap().num_params(), 1_082_130_432);
    }

    #[test]
    fn every_preset_divides_heads_evenly() {
        for name in preset_names() {
            let c = preset(name).unwrap();
            assert_eq!(c.d_model % c.n_heads, 0, "{name}");
            assert_eq!(c.head_dim() % 2, 0, "{name}: RoPE needs an even head_dim");
        }
    }
}
