//! The one table that maps gfm parameter names to the names and layouts of external checkpoints,
//! and the host-side tensor transforms it names (torchtitan `state_dict_adapter.py`; candle's
//! `vb.pp("q_proj")`).
//!
//! gfm names are burn module paths (`blocks.0.att_proj.weight`). Two external layouts:
//! - `hf`: transformers `OlmoForCausalLM` (`model.layers.N.self_attn.q_proj.weight`, ...). It has
//!   no norm weights (its `OlmoLayerNorm` has no affine parameters) and separate q/k/v and
//!   gate/up projections.
//! - `hf_olmo`: ai2-olmo 0.6 `hf_olmo.OLMoForCausalLM`, the layout of the released Omni-DNA
//!   checkpoints (`model.transformer.blocks.N.att_proj.weight`, ...): the same fused tensors as
//!   gfm, plus norm weights when the norm is affine.
//!
//! burn's `Linear` stores `[in, out]`, PyTorch's `nn.Linear` `[out, in]`: rows with
//! [`Layout::Transpose`] are transposed. When a row lists several HF names, the transposed tensor
//! is split along its first (output) dimension into equal parts in the listed order: OLMo's fused
//! `att_proj` outputs q, k, v; its `ff_proj` outputs the SwiGLU value half first (HF `up_proj`) and
//! the gate half second (HF `gate_proj`; OLMo `SwiGLU.forward`: `x, gate = x.chunk(2)`).

use crate::model::{NormKind, OlmoConfig};

use super::ExportFormat;

/// How a gfm tensor is laid out relative to its external counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Same shape and element order (embeddings, norm scales).
    Same,
    /// burn `Linear` weight `[in, out]` ↔ PyTorch `nn.Linear` weight `[out, in]`.
    Transpose,
}

/// When a parameter exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Always,
    /// Only with an affine norm ([`NormKind::RmsNorm`]).
    AffineNorm,
    /// Only when the output layer is not tied to the embedding.
    Untied,
}

/// One axis of a gfm tensor, resolved from the [`OlmoConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Embedding rows (`vocab_size`).
    Vocab,
    /// `d_model`.
    Model,
    /// `3 * d_model`: fused q, k, v.
    Qkv,
    /// SwiGLU hidden size `mlp_ratio * d_model`.
    Hidden,
    /// `2 * hidden`: fused value and gate.
    ValueGate,
}

/// One row of [`KEY_TABLE`]; `{i}` stands for the block index.
#[derive(Debug)]
pub struct KeyRow {
    pub gfm: &'static str,
    /// Shape of the gfm tensor.
    pub gfm_shape: &'static [Dim],
    /// transformers `OlmoForCausalLM` names; empty when that layout cannot hold the tensor.
    pub hf: &'static [&'static str],
    /// ai2-olmo `hf_olmo` name.
    pub hf_olmo: &'static str,
    pub layout: Layout,
    pub presence: Presence,
}

use Dim::*;
use Layout::*;
use Presence::*;

/// gfm name ↔ HF name(s) ↔ hf_olmo name, with the transform. The only place these names live.
#[rustfmt::skip]
pub const KEY_TABLE: &[KeyRow] = &[
    KeyRow { gfm: "wte", gfm_shape: &[Vocab, Model], hf: &["model.embed_tokens.weight"],
             hf_olmo: "model.transformer.wte.weight", layout: Same, presence: Always },
    KeyRow { gfm: "blocks.{i}.attn_norm.weight", gfm_shape: &[Model], hf: &[],
             hf_olmo: "model.transformer.blocks.{i}.attn_norm.weight", layout: Same, presence: AffineNorm },
    KeyRow { gfm: "blocks.{i}.att_proj.weight", gfm_shape: &[Model, Qkv],
             hf: &["model.layers.{i}.self_attn.q_proj.weight", "model.layers.{i}.self_attn.k_proj.weight",
                   "model.layers.{i}.self_attn.v_proj.weight"],
             hf_olmo: "model.transformer.blocks.{i}.att_proj.weight", layout: Transpose, presence: Always },
    KeyRow { gfm: "blocks.{i}.attn_out.weight", gfm_shape: &[Model, Model], hf: &["model.layers.{i}.self_attn.o_proj.weight"],
             hf_olmo: "model.transformer.blocks.{i}.attn_out.weight", layout: Transpose, presence: Always },
    KeyRow { gfm: "blocks.{i}.ff_norm.weight", gfm_shape: &[Model], hf: &[],
             hf_olmo: "model.transformer.blocks.{i}.ff_norm.weight", layout: Same, presence: AffineNorm },
    KeyRow { gfm: "blocks.{i}.ff_proj.weight", gfm_shape: &[Model, ValueGate],
             hf: &["model.layers.{i}.mlp.up_proj.weight", "model.layers.{i}.mlp.gate_proj.weight"],
             hf_olmo: "model.transformer.blocks.{i}.ff_proj.weight", layout: Transpose, presence: Always },
    KeyRow { gfm: "blocks.{i}.ff_out.weight", gfm_shape: &[Hidden, Model], hf: &["model.layers.{i}.mlp.down_proj.weight"],
             hf_olmo: "model.transformer.blocks.{i}.ff_out.weight", layout: Transpose, presence: Always },
    KeyRow { gfm: "ln_f.weight", gfm_shape: &[Model], hf: &[],
             hf_olmo: "model.transformer.ln_f.weight", layout: Same, presence: AffineNorm },
    KeyRow { gfm: "ff_out.weight", gfm_shape: &[Model, Vocab], hf: &["lm_head.weight"],
             hf_olmo: "model.transformer.ff_out.weight", layout: Transpose, presence: Untied },
];

/// A row of [`KEY_TABLE`] instantiated for one block and one model shape.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub gfm: String,
    pub gfm_shape: Vec<usize>,
    pub hf: Vec<String>,
    pub hf_olmo: String,
    pub layout: Layout,
}

/// A dense row-major f32 tensor on the host, the interchange form between burn and the files.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// # Shapes
    /// - `[rows, cols]` → `[cols, rows]`; rank-1 tensors are returned unchanged.
    fn transposed(&self) -> HostTensor {
        let [rows, cols] = self.shape[..] else { return self.clone() };
        let mut data = vec![0.0; self.data.len()];
        for r in 0..rows {
            for c in 0..cols {
                data[c * rows + r] = self.data[r * cols + c];
            }
        }
        HostTensor { shape: vec![cols, rows], data }
    }

    /// # Shapes
    /// - `[rows, ...]` → `n` tensors `[rows / n, ...]` (caller guarantees `rows % n == 0`).
    fn split_rows(self, n: usize) -> Vec<HostTensor> {
        if n == 1 {
            return vec![self];
        }
        let mut shape = self.shape.clone();
        shape[0] /= n;
        let chunk = self.data.len() / n;
        self.data.chunks(chunk).map(|c| HostTensor { shape: shape.clone(), data: c.to_vec() }).collect()
    }

    /// # Shapes
    /// - `n` tensors `[rows_i, ...]` → `[sum rows_i, ...]` (caller guarantees equal trailing dims).
    fn concat_rows(mut parts: Vec<HostTensor>) -> HostTensor {
        if parts.len() == 1 {
            return parts.remove(0);
        }
        let mut shape = parts[0].shape.clone();
        shape[0] = parts.iter().map(|p| p.shape[0]).sum();
        HostTensor { shape, data: parts.into_iter().flat_map(|p| p.data).collect() }
    }
}

fn dim(d: Dim, cfg: &OlmoConfig) -> usize {
    match d {
        Vocab => cfg.vocab_size,
        Model => cfg.d_model,
        Qkv => 3 * cfg.d_model,
        Hidden => cfg.mlp_hidden(),
        ValueGate => 2 * cfg.mlp_hidden(),
    }
}

/// Every parameter of a model with this config, in table order, block by block.
pub fn expand(cfg: &OlmoConfig) -> Vec<KeyEntry> {
    let present = |p: Presence| match p {
        Always => true,
        AffineNorm => cfg.norm == NormKind::RmsNorm,
        Untied => !cfg.tie_embeddings,
    };
    let mut out = Vec::new();
    let mut push = |row: &KeyRow, i: usize| {
        let at = |s: &str| s.replace("{i}", &i.to_string());
        out.push(KeyEntry {
            gfm: at(row.gfm),
            gfm_shape: row.gfm_shape.iter().map(|&d| dim(d, cfg)).collect(),
            hf: row.hf.iter().map(|s| at(s)).collect(),
            hf_olmo: at(row.hf_olmo),
            layout: row.layout,
        });
    };
    for row in KEY_TABLE.iter().filter(|r| present(r.presence)) {
        if row.gfm.contains("{i}") {
            (0..cfg.n_layers).for_each(|i| push(row, i));
        } else {
            push(row, 0);
        }
    }
    // Keep the file order readable: embedding, block 0, block 1, ..., final norm, output.
    out.sort_by_key(|e| (!e.gfm.starts_with("wte"), block_index(&e.gfm)));
    out
}

fn block_index(gfm: &str) -> usize {
    gfm.strip_prefix("blocks.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

impl KeyEntry {
    /// External names in `format`; empty when the format has no place for this tensor.
    pub fn external_names(&self, format: ExportFormat) -> Vec<String> {
        match format {
            ExportFormat::Hf => self.hf.clone(),
            ExportFormat::HfOlmo => vec![self.hf_olmo.clone()],
        }
    }

    /// Expected external shapes, one per [`Self::external_names`].
    pub fn external_shapes(&self, format: ExportFormat) -> Vec<Vec<usize>> {
        let n = self.external_names(format).len();
        let mut shape = self.gfm_shape.clone();
        if self.layout == Transpose {
            shape.reverse();
        }
        if let Some(rows) = shape[0].checked_div(n) {
            shape[0] = rows;
        }
        vec![shape; n]
    }

    /// gfm tensor → external `(name, tensor)` pairs. `None` when the format cannot hold it.
    pub fn to_external(&self, t: &HostTensor, format: ExportFormat) -> Option<Vec<(String, HostTensor)>> {
        let names = self.external_names(format);
        if names.is_empty() {
            return None;
        }
        let t = if self.layout == Transpose { t.transposed() } else { t.clone() };
        Some(names.into_iter().zip(t.split_rows(self.hf_parts(format))).collect())
    }

    /// External tensors (in [`Self::external_names`] order, shapes already checked) → gfm tensor.
    pub fn from_external(&self, parts: Vec<HostTensor>) -> HostTensor {
        let fused = HostTensor::concat_rows(parts);
        if self.layout == Transpose { fused.transposed() } else { fused }
    }

    fn hf_parts(&self, format: ExportFormat) -> usize {
        self.external_names(format).len().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::prelude::*;

    fn cfg(norm: NormKind, tie: bool) -> OlmoConfig {
        OlmoConfig {
            n_layers: 2, d_model: 8, n_heads: 2, mlp_ratio: 2, vocab_size: 12, context: 16, norm,
            norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: tie, init_std: 0.02,
        }
    }

    fn filled(shape: &[usize], seed: usize) -> HostTensor {
        let n = shape.iter().product();
        HostTensor { shape: shape.to_vec(), data: (0..n).map(|k| (k * 7 + seed * 13) as f32 * 0.01).collect() }
    }

    struct Paths(Vec<String>, Vec<(String, Vec<usize>)>);
    impl<B: Backend> ModuleVisitor<B> for Paths {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.0.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.0.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            self.1.push((self.0.join("."), p.lazy_shape().to_vec()));
        }
    }

    #[test]
    fn table_names_every_model_parameter_with_its_shape() {
        for norm in [NormKind::LayerNormNoAffine, NormKind::RmsNorm] {
            for tie in [true, false] {
                let c = cfg(norm, tie);
                let mut v = Paths(Vec::new(), Vec::new());
                c.init::<Flex>(&Default::default()).visit(&mut v);
                let mut model: Vec<_> = v.1;
                let mut table: Vec<_> = expand(&c).into_iter().map(|e| (e.gfm, e.gfm_shape)).collect();
                model.sort();
                table.sort();
                assert_eq!(model, table, "{norm:?} tie={tie}");
            }
        }
    }

    #[test]
    fn every_tensor_round_trips_through_both_formats() {
        for format in [ExportFormat::Hf, ExportFormat::HfOlmo] {
            let c = cfg(NormKind::LayerNormNoAffine, false);
            for (k, e) in expand(&c).into_iter().enumerate() {
                let t = filled(&e.gfm_shape, k);
                let ext = e.to_external(&t, format).expect("representable");
                let shapes: Vec<_> = ext.iter().map(|(_, t)| t.shape.clone()).collect();
                assert_eq!(shapes, e.external_shapes(format), "{}", e.gfm);
                assert_eq!(e.from_external(ext.into_iter().map(|(_, t)| t).collect()), t, "{}", e.gfm);
            }
        }
    }

    #[test]
    fn fused_projections_split_as_olmo_orders_them() {
        let c = cfg(NormKind::LayerNormNoAffine, true);
        let entries = expand(&c);
        let att = entries.iter().find(|e| e.gfm == "blocks.1.att_proj.weight").expect("row");
        let t = filled(&att.gfm_shape, 3); // [d, 3d]: output column j of q, k, v is d*part + j
        let parts = att.to_external(&t, ExportFormat::Hf).expect("hf");
        assert_eq!(parts[1].0, "model.layers.1.self_attn.k_proj.weight");
        let d = c.d_model;
        // k_proj[out=j, in=r] == att_proj[in=r, out=d + j]
        assert_eq!(parts[1].1.data[2 * d + 5], t.data[5 * 3 * d + d + 2]);
        let ff = entries.iter().find(|e| e.gfm == "blocks.0.ff_proj.weight").expect("row");
        let names = ff.external_names(ExportFormat::Hf);
        assert_eq!(names, ["model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.gate_proj.weight"]);
    }

    #[test]
    fn affine_norms_have_no_hf_name() {
        let c = cfg(NormKind::RmsNorm, true);
        let e = expand(&c).into_iter().find(|e| e.gfm == "ln_f.weight").expect("row");
        assert!(e.to_external(&filled(&[8], 0), ExportFormat::Hf).is_none());
        assert_eq!(e.external_names(ExportFormat::HfOlmo), ["model.transformer.ln_f.weight"]);
    }
}
