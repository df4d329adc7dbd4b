//! `config.json` written in the two external layouts from an [`OlmoConfig`], plus the tokenizer
//! and generation configs. Reading one back is [`super::layout`].

use serde_json::{json, Value};

use super::{ExportDtype, ExportFormat};
use crate::model::{NormKind, OlmoConfig};
use crate::tokenizer::{CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, MASK_ID};

/// HF `OlmoLayerNorm` hard-codes this epsilon.
pub const HF_NORM_EPS: f64 = 1e-5;

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
