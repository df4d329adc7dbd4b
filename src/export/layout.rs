//! Which external layout a `config.json` describes, and its parse into an [`OlmoConfig`] with
//! every value gfm cannot reproduce refused by key and value.
//!
//! The layout is recognised by the keys the config holds, not by its `model_type`:
//! - **hf_olmo** (ai2-olmo `ModelConfig` keys `d_model`, `n_heads`, `n_layers`): the tensor layout
//!   of ai2-olmo's `hf_olmo.OLMoForCausalLM`. The released Omni-DNA checkpoints and their
//!   derivatives name it `"hf_olmo"`, `"olmo-gfm"` and others; the name says nothing about the
//!   maths, every key that does is checked below, so any `model_type` is accepted.
//! - **hf** (transformers `OlmoConfig` keys `hidden_size`, `num_attention_heads`,
//!   `num_hidden_layers`, `intermediate_size`): transformers picks the model class by
//!   `model_type`, and e.g. `"olmo2"` adds QK norms and post-norms under the same keys, so here
//!   `model_type` must be `"olmo"` (or absent).
//!
//! Field names and defaults: transformers `OlmoConfig` (`configuration_olmo.py`; a missing key
//! takes its default) and ai2-olmo 0.6 `olmo.config.ModelConfig` (`hf_olmo.OLMoConfig` fills a
//! missing key from `ModelConfig()`, so e.g. a missing `include_bias` means biases and a missing
//! `rope` means no RoPE).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::hf_config::HF_NORM_EPS;
use super::{ExportFormat, ImportError};
use crate::model::{NormKind, OlmoConfig};

/// Keys every ai2-olmo (hf_olmo layout) config holds.
pub const HF_OLMO_KEYS: [&str; 3] = ["d_model", "n_heads", "n_layers"];
/// Keys every transformers `OlmoConfig` (hf layout) holds.
pub const HF_KEYS: [&str; 4] = ["hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size"];

struct Fields<'a> {
    path: &'a Path,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn err(&self, reason: String) -> ImportError {
        ImportError::Config { path: self.path.to_path_buf(), reason }
    }
    fn unsupported(&self, what: String) -> ImportError {
        ImportError::Unsupported { path: self.path.to_path_buf(), what }
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn usize_req(&self, key: &str) -> Result<usize, ImportError> {
        self.usize_or(key, None)
    }
    fn usize_or(&self, key: &str, default: Option<usize>) -> Result<usize, ImportError> {
        match self.get(key) {
            Some(v) => v.as_u64().map(|x| x as usize).filter(|&x| x > 0)
                .ok_or_else(|| self.err(format!("`{key}` = {v} must be a positive integer"))),
            None => default.ok_or_else(|| self.err(format!("`{key}` is missing"))),
        }
    }
    fn f64_or(&self, key: &str, default: f64) -> Result<f64, ImportError> {
        match self.get(key) {
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("`{key}` = {v} must be a number"))),
            None => Ok(default),
        }
    }
    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ImportError> {
        match self.get(key) {
            Some(v) => v.as_bool().ok_or_else(|| self.err(format!("`{key}` = {v} must be true or false"))),
            None => Ok(default),
        }
    }
    fn str_or<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str, ImportError> {
        match self.get(key) {
            Some(v) => v.as_str().ok_or_else(|| self.err(format!("`{key}` = {v} must be a string"))),
            None => Ok(default),
        }
    }
    /// Refuse a feature: `key` must be absent/null or equal `ok`.
    fn require(&self, key: &str, ok: Value, what: &str) -> Result<(), ImportError> {
        match self.get(key) {
            Some(v) if *v != ok => Err(self.unsupported(format!("{what} (`{key}` = {v}; gfm reproduces only {ok})"))),
            _ => Ok(()),
        }
    }
    /// Refuse a boolean feature whose value (or, when absent, ai2-olmo's default) is not `ok`.
    fn require_bool(&self, key: &str, default: bool, ok: bool, what: &str) -> Result<(), ImportError> {
        let v = self.bool_or(key, default)?;
        if v != ok {
            let shown = if self.get(key).is_some() { v.to_string() } else { format!("{v} (missing; ai2-olmo's default)") };
            return Err(self.unsupported(format!("{what} (`{key}` = {shown}; gfm reproduces only {ok})")));
        }
        Ok(())
    }
}

/// Which layout a `config.json` describes, from the keys it holds (see the module docs).
///
/// # Errors
/// [`ImportError::Unsupported`] for a config holding both key sets, a transformers config of
/// another model family, or neither key set (the message lists the accepted layouts).
pub fn detect(path: &Path, map: &Map<String, Value>) -> Result<ExportFormat, ImportError> {
    let holds = |keys: &[&str]| keys.iter().filter(|k| map.contains_key(**k)).count();
    let (olmo, hf) = (holds(&HF_OLMO_KEYS), holds(&HF_KEYS));
    let model_type = map.get("model_type").and_then(Value::as_str);
    let unsupported = |what: String| ImportError::Unsupported { path: path.to_path_buf(), what };
    match (olmo == HF_OLMO_KEYS.len(), hf == HF_KEYS.len()) {
        (true, true) => Err(unsupported(format!(
            "a config that holds the keys of both layouts ({} and {}); remove the keys of the layout the weights are not in",
            HF_OLMO_KEYS.join(", "), HF_KEYS.join(", ")
        ))),
        (true, false) => Ok(ExportFormat::HfOlmo),
        (false, true) => match model_type {
            None | Some("olmo") => Ok(ExportFormat::Hf),
            Some(other) => Err(unsupported(format!(
                "model_type \"{other}\" (`model_type` = \"{other}\"): transformers builds a different model class for it; gfm loads the transformers layout only as model_type \"olmo\" (OlmoForCausalLM)"
            ))),
        },
        (false, false) => Err(unsupported(format!(
            "this layout (model_type {}): gfm accepts the hf_olmo layout (ai2-olmo / Omni-DNA; keys {}, any model_type) and the transformers layout (model_type \"olmo\"; keys {}); missing: {}",
            model_type.map_or("absent".to_string(), |t| format!("\"{t}\"")),
            HF_OLMO_KEYS.join(", "),
            HF_KEYS.join(", "),
            missing(map, if olmo >= hf { &HF_OLMO_KEYS } else { &HF_KEYS }),
        ))),
    }
}

fn missing(map: &Map<String, Value>, keys: &[&str]) -> String {
    keys.iter().filter(|k| !map.contains_key(**k)).copied().collect::<Vec<_>>().join(", ")
}

/// Parse a `config.json` of either layout into gfm's model shape.
pub fn parse(path: &Path, map: &Map<String, Value>) -> Result<(ExportFormat, OlmoConfig), ImportError> {
    let format = detect(path, map)?;
    let f = Fields { path, map };
    let cfg = match format {
        ExportFormat::Hf => parse_hf(&f)?,
        ExportFormat::HfOlmo => parse_hf_olmo(&f)?,
    };
    if !cfg.d_model.is_multiple_of(cfg.n_heads) || !cfg.head_dim().is_multiple_of(2) {
        return Err(f.err(format!("d_model {} / n_heads {} must be an even integer (RoPE)", cfg.d_model, cfg.n_heads)));
    }
    // Bounds far above any real OLMo, so that shape arithmetic on a hostile config cannot overflow.
    for (what, value, max) in [
        ("d_model", cfg.d_model, 1 << 17),
        ("n_layers", cfg.n_layers, 1 << 12),
        ("vocabulary / embedding rows", cfg.vocab_size, 1 << 24),
        ("SwiGLU hidden size", cfg.mlp_hidden(), 1 << 20),
        ("context", cfg.context, 1 << 24),
    ] {
        if value > max {
            return Err(f.err(format!("{what} = {value} is implausibly large (limit {max})")));
        }
    }
    Ok((format, cfg))
}

fn swiglu_ratio(f: &Fields, hidden: usize, d_model: usize, key: &str) -> Result<usize, ImportError> {
    if !hidden.is_multiple_of(d_model) {
        return Err(f.unsupported(format!(
            "a SwiGLU hidden size of {hidden} (`{key}`), not a multiple of d_model {d_model}; gfm's model.mlp_ratio is an integer multiple"
        )));
    }
    Ok(hidden / d_model)
}

fn parse_hf(f: &Fields) -> Result<OlmoConfig, ImportError> {
    let d_model = f.usize_req("hidden_size")?;
    let n_heads = f.usize_req("num_attention_heads")?;
    let kv = f.usize_or("num_key_value_heads", Some(n_heads))?;
    if kv != n_heads {
        return Err(f.unsupported(format!(
            "grouped-query attention (`num_key_value_heads` = {kv}, `num_attention_heads` = {n_heads}; gfm needs them equal)"
        )));
    }
    f.require("attention_bias", json!(false), "attention biases")?;
    f.require("clip_qkv", Value::Null, "clip_qkv")?;
    f.require("hidden_act", json!("silu"), "an activation other than SwiGLU/silu")?;
    f.require("rope_scaling", Value::Null, "RoPE scaling")?;
    let mut rope_theta = f.f64_or("rope_theta", 10_000.0)?;
    if let Some(rp) = f.get("rope_parameters").and_then(Value::as_object) {
        let kind = rp.get("rope_type").and_then(Value::as_str).unwrap_or("default");
        if kind != "default" {
            return Err(f.unsupported(format!("RoPE type \"{kind}\" (`rope_parameters.rope_type`)")));
        }
        rope_theta = rp.get("rope_theta").and_then(Value::as_f64).unwrap_or(rope_theta);
    }
    Ok(OlmoConfig {
        n_layers: f.usize_req("num_hidden_layers")?,
        d_model,
        n_heads,
        mlp_ratio: swiglu_ratio(f, f.usize_req("intermediate_size")?, d_model, "intermediate_size")?,
        vocab_size: f.usize_req("vocab_size")?,
        context: f.usize_or("max_position_embeddings", Some(2048))?,
        norm: NormKind::LayerNormNoAffine,
        norm_eps: HF_NORM_EPS,
        rope_theta,
        tie_embeddings: f.bool_or("tie_word_embeddings", false)?,
        init_std: f.f64_or("initializer_range", 0.02)?,
    })
}

/// The ai2-olmo keys that change the forward pass, each checked against what gfm's
/// [`crate::model::OlmoModel`] computes (pre-norm sequential blocks, RoPE, SwiGLU, no biases,
/// full multi-head attention, unscaled logits). Keys that only affect training or speed
/// (dropouts, `flash_attention`, `init_*`, `precision`, `rope_full_precision`) are not checked.
fn parse_hf_olmo(f: &Fields) -> Result<OlmoConfig, ImportError> {
    let d_model = f.usize_req("d_model")?;
    let n_heads = f.usize_req("n_heads")?;
    f.require_bool("rope", false, true, "position encodings other than RoPE")?;
    f.require_bool("alibi", false, false, "ALiBi attention biases")?;
    f.require_bool("multi_query_attention", false, false, "multi-query attention")?;
    let kv = f.usize_or("n_kv_heads", Some(n_heads))?;
    if kv != n_heads {
        return Err(f.unsupported(format!("grouped-query attention (`n_kv_heads` = {kv}, `n_heads` = {n_heads}; gfm needs them equal)")));
    }
    f.require("activation_type", json!("swiglu"), "an activation other than SwiGLU")?;
    f.require("block_type", json!("sequential"), "a block type other than \"sequential\"")?;
    f.require("block_group_size", json!(1), "block groups")?;
    f.require("clip_qkv", Value::Null, "clip_qkv")?;
    f.require_bool("attention_layer_norm", false, false, "query/key norms")?;
    f.require_bool("embedding_layer_norm", false, false, "an embedding norm")?;
    f.require_bool("scale_logits", false, false, "scaled logits")?;
    f.require_bool("norm_after", false, false, "post-norm blocks")?;
    f.require_bool("include_bias", true, false, "linear biases")?;
    let affine = f.bool_or("layer_norm_with_affine", true)?;
    let norm = match (f.str_or("layer_norm_type", "default")?, affine) {
        ("default" | "low_precision", false) => NormKind::LayerNormNoAffine,
        ("rms", true) => NormKind::RmsNorm,
        (kind, affine) => {
            return Err(f.unsupported(format!(
                "layer_norm_type \"{kind}\" with layer_norm_with_affine = {affine} (`layer_norm_type` = \"{kind}\", `layer_norm_with_affine` = {affine}); gfm has LayerNorm without affine (\"default\", false) and RMSNorm with a scale (\"rms\", true)"
            )));
        }
    };
    if affine && f.bool_or("bias_for_layer_norm", false)? {
        return Err(f.unsupported("norm biases (`bias_for_layer_norm` = true; gfm reproduces only false)".into()));
    }
    let hidden = match f.get("mlp_hidden_size") {
        Some(_) => f.usize_req("mlp_hidden_size")?,
        None => f
            .usize_or("mlp_ratio", Some(4))?
            .checked_mul(d_model)
            .ok_or_else(|| f.err("mlp_ratio x d_model overflows".into()))?,
    };
    if !hidden.is_multiple_of(2) {
        return Err(f.err(format!("the SwiGLU input projection has an odd size {hidden}")));
    }
    let vocab = f.usize_req("vocab_size")?;
    Ok(OlmoConfig {
        n_layers: f.usize_req("n_layers")?,
        d_model,
        n_heads,
        mlp_ratio: swiglu_ratio(f, hidden / 2, d_model, "mlp_ratio / mlp_hidden_size, halved")?,
        // Embedding rows may be padded beyond the vocabulary; the model keeps them all.
        vocab_size: f.usize_or("embedding_size", Some(vocab))?.max(vocab),
        context: f.usize_or("max_sequence_length", Some(1024))?,
        norm,
        norm_eps: f.f64_or("layer_norm_eps", 1e-5)?,
        rope_theta: f.f64_or("rope_theta", 10_000.0)?,
        tie_embeddings: f.bool_or("weight_tying", true)?,
        init_std: f.f64_or("init_std", 0.02)?,
    })
}
