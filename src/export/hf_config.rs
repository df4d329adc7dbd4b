//! `config.json` in the two external layouts, read into an [`OlmoConfig`] (with every unsupported
//! feature refused by name) and written from one, plus the tokenizer and generation configs.
//!
//! Field names and defaults: transformers `OlmoConfig` (`configuration_olmo.py`; a missing key
//! takes its default) and ai2-olmo 0.6 `olmo.config.ModelConfig` (`hf_olmo.OLMoConfig` fills a
//! missing key from `ModelConfig()`, so e.g. a missing `include_bias` means biases).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{ExportDtype, ExportFormat, ImportError};
use crate::model::{NormKind, OlmoConfig};
use crate::tokenizer::{CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, MASK_ID};

/// HF `OlmoLayerNorm` hard-codes this epsilon.
pub const HF_NORM_EPS: f64 = 1e-5;

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
            Some(v) if *v != ok => Err(self.unsupported(format!("{what} (`{key}` = {v})"))),
            _ => Ok(()),
        }
    }
}

/// Which layout a `config.json` describes: `model_type` first, then its key names.
pub fn detect(path: &Path, map: &Map<String, Value>) -> Result<ExportFormat, ImportError> {
    match map.get("model_type").and_then(Value::as_str) {
        Some("olmo") => Ok(ExportFormat::Hf),
        Some("hf_olmo") => Ok(ExportFormat::HfOlmo),
        Some(other) => Err(ImportError::Unsupported {
            path: path.to_path_buf(),
            what: format!("model_type \"{other}\"; gfm loads \"olmo\" (transformers OlmoForCausalLM) and \"hf_olmo\" (ai2-olmo, released Omni-DNA)"),
        }),
        None if map.contains_key("d_model") => Ok(ExportFormat::HfOlmo),
        None if map.contains_key("hidden_size") => Ok(ExportFormat::Hf),
        None => Err(ImportError::Config { path: path.to_path_buf(), reason: "no model_type, d_model or hidden_size: not an OLMo config.json".into() }),
    }
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
    if f.usize_or("num_key_value_heads", Some(n_heads))? != n_heads {
        return Err(f.unsupported("grouped-query attention (`num_key_value_heads` != `num_attention_heads`)".into()));
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

fn parse_hf_olmo(f: &Fields) -> Result<OlmoConfig, ImportError> {
    let d_model = f.usize_req("d_model")?;
    let n_heads = f.usize_req("n_heads")?;
    if !f.bool_or("rope", false)? || f.bool_or("alibi", false)? {
        return Err(f.unsupported("position encodings other than RoPE (`rope` must be true, `alibi` false)".into()));
    }
    if f.usize_or("n_kv_heads", Some(n_heads))? != n_heads || f.bool_or("multi_query_attention", false)? {
        return Err(f.unsupported("grouped-query or multi-query attention (`n_kv_heads` != `n_heads`)".into()));
    }
    f.require("activation_type", json!("swiglu"), "an activation other than SwiGLU")?;
    f.require("block_type", json!("sequential"), "a block type other than \"sequential\"")?;
    f.require("block_group_size", json!(1), "block groups")?;
    f.require("clip_qkv", Value::Null, "clip_qkv")?;
    f.require("attention_layer_norm", json!(false), "query/key norms")?;
    f.require("embedding_layer_norm", json!(false), "an embedding norm")?;
    f.require("scale_logits", json!(false), "scaled logits")?;
    f.require("norm_after", json!(false), "post-norm blocks")?;
    let include_bias = f.bool_or("include_bias", true)?;
    if include_bias {
        return Err(f.unsupported("linear biases (`include_bias` true or missing; ai2-olmo's default is true)".into()));
    }
    let affine = f.bool_or("layer_norm_with_affine", true)?;
    let norm = match (f.str_or("layer_norm_type", "default")?, affine) {
        ("default" | "low_precision", false) => NormKind::LayerNormNoAffine,
        ("rms", true) => NormKind::RmsNorm,
        (kind, affine) => {
            return Err(f.unsupported(format!(
                "layer_norm_type \"{kind}\" with layer_norm_with_affine = {affine}; gfm has LayerNorm without affine (\"default\", false) and RMSNorm with a scale (\"rms\", true)"
            )));
        }
    };
    if affine && f.bool_or("bias_for_layer_norm", include_bias)? {
        return Err(f.unsupported("norm biases (`bias_for_layer_norm`)".into()));
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

/// `config.json` for `format`.
pub fn config_json(cfg: &OlmoConfig, format: ExportFormat, dtype: ExportDtype) -> Value {
    match format {
        ExportFormat::Hf => json!({
            "architectures": ["OlmoForCausalLM"],
            "model_type": "olmo",
            "hidden_size": cfg.d_model,
            "intermediate_size": cfg.mlp_hidden(),
            "num_hidden_layers": cfg.n_layers,
            "num_attention_heads": cfg.n_heads,
            "num_key_value_heads": cfg.n_heads,
            "hidden_act": "silu",
            "max_position_embeddings": cfg.context,
            // transformers < 5 reads `rope_theta`, >= 5 `rope_parameters`.
            "rope_theta": cfg.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
            "vocab_size": cfg.vocab_size,
            "tie_word_embeddings": cfg.tie_embeddings,
            "attention_bias": false,
            "attention_dropout": 0.0,
            "clip_qkv": null,
            "initializer_range": cfg.init_std,
            "use_cache": true,
            "pad_token_id": PAD_ID, "bos_token_id": CLS_ID, "eos_token_id": SEP_ID,
            "torch_dtype": dtype.torch_name(),
        }),
        // Built in two parts: one `json!` this large exceeds the macro recursion limit.
        ExportFormat::HfOlmo => merge(
            json!({
                "architectures": ["OLMoForCausalLM"],
                "model_type": "hf_olmo",
                "d_model": cfg.d_model, "n_heads": cfg.n_heads, "n_kv_heads": null, "n_layers": cfg.n_layers,
                // OLMo's mlp_ratio counts value and gate together.
                "mlp_ratio": 2 * cfg.mlp_ratio, "mlp_hidden_size": null,
                "activation_type": "swiglu", "block_type": "sequential", "block_group_size": 1,
                "alibi": false, "rope": true, "rope_full_precision": true, "rope_theta": cfg.rope_theta,
                "clip_qkv": null, "multi_query_attention": null, "flash_attention": false,
                "attention_layer_norm": false, "attention_layer_norm_with_affine": false,
                "embedding_layer_norm": false, "norm_after": false, "scale_logits": false,
            }),
            json!({
                "layer_norm_type": match cfg.norm { NormKind::LayerNormNoAffine => "default", NormKind::RmsNorm => "rms" },
                "layer_norm_with_affine": cfg.norm == NormKind::RmsNorm,
                "layer_norm_eps": cfg.norm_eps,
                "include_bias": false, "bias_for_layer_norm": false,
                "attention_dropout": 0.0, "residual_dropout": 0.0, "embedding_dropout": 0.0,
                "max_sequence_length": cfg.context,
                "vocab_size": cfg.vocab_size, "embedding_size": cfg.vocab_size,
                "weight_tying": cfg.tie_embeddings,
                "init_fn": "normal", "init_std": cfg.init_std, "init_device": "cpu",
                "pad_token_id": PAD_ID, "eos_token_id": SEP_ID,
                "use_cache": false,
                "torch_dtype": dtype.torch_name(),
            }),
        ),
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

/// `generation_config.json`: the special ids a generating caller needs.
pub fn generation_config_json() -> Value {
    json!({ "bos_token_id": CLS_ID, "eos_token_id": SEP_ID, "pad_token_id": PAD_ID })
}

/// `special_tokens_map.json`: gfm's fixed specials ([`crate::tokenizer`]).
pub fn special_tokens_map_json() -> Value {
    let tok = |id: u32| SPECIAL_TOKENS[id as usize];
    json!({
        "unk_token": tok(UNK_ID), "cls_token": tok(CLS_ID), "sep_token": tok(SEP_ID),
        "pad_token": tok(PAD_ID), "mask_token": tok(MASK_ID),
        "bos_token": tok(CLS_ID), "eos_token": tok(SEP_ID),
    })
}

/// `tokenizer_config.json`: a fast tokenizer from `tokenizer.json` with gfm's specials.
pub fn tokenizer_config_json(context: usize) -> Value {
    let mut v = special_tokens_map_json();
    if let Some(m) = v.as_object_mut() {
        m.insert("tokenizer_class".into(), json!("PreTrainedTokenizerFast"));
        m.insert("model_max_length".into(), json!(context));
        m.insert("clean_up_tokenization_spaces".into(), json!(false));
    }
    v
}
