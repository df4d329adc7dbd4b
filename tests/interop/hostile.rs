//! Corrupted, hostile and unsupported checkpoints: each is a clear error naming the file or the
//! tensor, never a panic and never a huge allocation.

use std::path::{Path, PathBuf};

use gfm::export::{export_model, load_pretrained, ExportDtype, ExportFormat};
use gfm::model::NormKind;
use safetensors::SafeTensors;
use serde_json::{json, Value};

use super::{random_model, tiny, B};

/// A valid untied HF-layout export of a tiny model.
fn valid(root: &Path, name: &str, format: ExportFormat) -> PathBuf {
    let cfg = tiny(if format == ExportFormat::Hf { NormKind::LayerNormNoAffine } else { NormKind::RmsNorm }, false);
    let dir = root.join(name);
    export_model(&random_model(&cfg, 3), &cfg, None, &dir, ExportDtype::F32, format).unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    match load_pretrained::<B>(dir, &Default::default()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

/// The header JSON and the data section of `dir/model.safetensors`.
fn split(dir: &Path) -> (Value, Vec<u8>) {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), bytes[8 + n..].to_vec())
}

fn join(dir: &Path, header: &Value, data: &[u8]) {
    let h = header.to_string().into_bytes();
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
}

/// Rewrite the file through the safetensors crate after editing its list of tensors.
fn rewrite(dir: &Path, edit: impl FnOnce(&mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>)) {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut list: Vec<_> = st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut list);
    let views: Vec<_> = list
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

const Q: &str = "model.layers.0.self_attn.q_proj.weight";

#[test]
fn corrupted_safetensors_headers_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    type Corrupt = fn(&Path);
    let cases: [(&str, Corrupt, &str); 9] = [
        ("header length beyond the file", |d| {
            let p = d.join("model.safetensors");
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len() as u64;
            b[..8].copy_from_slice(&n.to_le_bytes());
            std::fs::write(p, b).unwrap();
        }, "exceeds the file size"),
        ("header length u64::MAX", |d| {
            let p = d.join("model.safetensors");
            let mut b = std::fs::read(&p).unwrap();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            std::fs::write(p, b).unwrap();
        }, "exceeds the file size"),
        ("fewer than 8 bytes", |d| std::fs::write(d.join("model.safetensors"), [1u8, 2, 3]).unwrap(), "fewer than the 8-byte"),
        ("header not JSON", |d| join(d, &json!("not an object"), &[]), "not a JSON object"),
        ("offsets out of range", |d| {
            let (mut h, data) = split(d);
            h[Q]["data_offsets"][1] = json!(u64::MAX / 2);
            join(d, &h, &data);
        }, "outside the"),
        ("truncated data", |d| {
            let (h, data) = split(d);
            join(d, &h, &data[..data.len() - 100]);
        }, "truncated"),
        ("dtype x shape != byte range", |d| {
            let (mut h, data) = split(d);
            h[Q]["shape"] = json!([16, 8]);
            join(d, &h, &data);
        }, "needs 512 bytes but data_offsets span 1024"),
        ("unknown dtype", |d| {
            let (mut h, data) = split(d);
            h[Q]["dtype"] = json!("Q4");
            join(d, &h, &data);
        }, "unknown dtype Q4"),
        ("overlapping tensors", |d| {
            let (mut h, data) = split(d);
            h[Q]["data_offsets"] = h["model.layers.0.self_attn.k_proj.weight"]["data_offsets"].clone();
            join(d, &h, &data);
        }, "overlap"),
    ];
    for (k, (what, corrupt, needle)) in cases.into_iter().enumerate() {
        let dir = valid(tmp.path(), &format!("c{k}"), ExportFormat::Hf);
        corrupt(&dir);
        let err = load_err(&dir);
        assert!(err.contains(needle) && err.contains("model.safetensors"), "{what}: {err}");
    }
}

#[test]
fn missing_extra_misshaped_and_mistyped_tensors_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = valid(tmp.path(), "missing", ExportFormat::Hf);
    rewrite(&dir, |l| l.retain(|t| t.0 != "model.layers.1.mlp.up_proj.weight"));
    let err = load_err(&dir);
    assert!(err.contains("tensor model.layers.1.mlp.up_proj.weight is missing"), "{err}");

    let dir = valid(tmp.path(), "extra", ExportFormat::HfOlmo);
    rewrite(&dir, |l| l.push(("model.transformer.blocks.0.q_norm.weight".into(), safetensors::Dtype::F32, vec![4], vec![0; 16])));
    let err = load_err(&dir);
    assert!(err.contains("unexpected tensor(s) model.transformer.blocks.0.q_norm.weight"), "{err}");

    let dir = valid(tmp.path(), "shape", ExportFormat::Hf);
    rewrite(&dir, |l| {
        let t = l.iter_mut().find(|t| t.0 == Q).unwrap();
        t.2 = vec![8, 32];
    });
    let err = load_err(&dir);
    assert!(err.contains(Q) && err.contains("[8, 32]") && err.contains("[16, 16]"), "{err}");

    let dir = valid(tmp.path(), "dtype", ExportFormat::Hf);
    rewrite(&dir, |l| l.iter_mut().find(|t| t.0 == Q).unwrap().1 = safetensors::Dtype::I32);
    let err = load_err(&dir);
    assert!(err.contains(Q) && err.contains("dtype I32"), "{err}");
}

#[test]
fn tied_checkpoint_may_carry_an_identical_lm_head_but_not_a_different_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(NormKind::LayerNormNoAffine, true);
    let dir = tmp.path().join("tied");
    export_model(&random_model(&cfg, 5), &cfg, None, &dir, ExportDtype::F32, ExportFormat::Hf).unwrap();
    let with_head = |change: u8| {
        move |l: &mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>| {
            let mut head = l.iter().find(|t| t.0 == "model.embed_tokens.weight").unwrap().clone();
            head.0 = "lm_head.weight".into();
            head.3[0] ^= change;
            l.retain(|t| t.0 != "lm_head.weight");
            l.push(head);
        }
    };
    rewrite(&dir, with_head(0));
    assert!(load_pretrained::<B>(&dir, &Default::default()).is_ok());
    rewrite(&dir, with_head(1));
    let err = load_err(&dir);
    assert!(err.contains("lm_head.weight differs") && err.contains("tie_word_embeddings"), "{err}");
}

#[test]
fn unsupported_model_features_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(ExportFormat, &str, Value, &str); 9] = [
        (ExportFormat::Hf, "clip_qkv", json!(8.0), "clip_qkv"),
        (ExportFormat::Hf, "num_key_value_heads", json!(1), "grouped-query attention"),
        (ExportFormat::Hf, "hidden_act", json!("gelu"), "activation other than SwiGLU"),
        (ExportFormat::Hf, "attention_bias", json!(true), "attention biases"),
        (ExportFormat::Hf, "model_type", json!("llama"), "model_type \"llama\""),
        (ExportFormat::HfOlmo, "layer_norm_with_affine", json!(false), "layer_norm_type \"rms\" with layer_norm_with_affine = false"),
        (ExportFormat::HfOlmo, "include_bias", Value::Null, "linear biases"),
        (ExportFormat::HfOlmo, "alibi", json!(true), "`alibi` = true"),
        (ExportFormat::HfOlmo, "activation_type", json!("gelu"), "activation other than SwiGLU"),
    ];
    for (k, (format, key, value, needle)) in cases.into_iter().enumerate() {
        let dir = valid(tmp.path(), &format!("u{k}"), format);
        let path = dir.join("config.json");
        let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        match value {
            Value::Null => cfg.as_object_mut().unwrap().remove(key),
            v => cfg.as_object_mut().unwrap().insert(key.into(), v),
        };
        std::fs::write(&path, cfg.to_string()).unwrap();
        let err = load_err(&dir);
        assert!(err.contains(needle) && err.contains("config.json"), "{key}: {err}");
    }
}

/// Rewrite `dir/config.json` by setting (or, for `Value::Null`, removing) `key`.
fn edit_config(dir: &Path, key: &str, value: Value) {
    let path = dir.join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    match value {
        Value::Null => cfg.as_object_mut().unwrap().remove(key),
        v => cfg.as_object_mut().unwrap().insert(key.into(), v),
    };
    std::fs::write(&path, cfg.to_string()).unwrap();
}

/// Released Omni-DNA checkpoints call their hf_olmo layout "olmo-gfm" (case
/// `omni-olmo-gfm-model-type`); the layout is recognised by its keys, whatever the name.
#[test]
fn hf_olmo_layout_loads_by_its_keys_whatever_its_model_type() {
    let tmp = tempfile::tempdir().unwrap();
    for (k, (norm, tie)) in [(NormKind::LayerNormNoAffine, true), (NormKind::RmsNorm, false)].into_iter().enumerate() {
        let cfg = tiny(norm, tie);
        let model = random_model(&cfg, 20 + k as u64);
        let want = super::logits_of(&model, &super::IDS, 2);
        for (j, model_type) in [json!("olmo-gfm"), json!("omni-dna"), Value::Null].into_iter().enumerate() {
            let dir = tmp.path().join(format!("m{k}_{j}"));
            export_model(&model, &cfg, None, &dir, ExportDtype::F32, ExportFormat::HfOlmo).unwrap();
            edit_config(&dir, "model_type", model_type.clone());
            let (back_cfg, back) = load_pretrained::<B>(&dir, &Default::default())
                .unwrap_or_else(|e| panic!("model_type {model_type}: {e}"));
            assert_eq!(back_cfg, cfg, "model_type {model_type}");
            assert_eq!(super::logits_of(&back, &super::IDS, 2), want, "model_type {model_type}");
        }
    }
}

#[test]
fn hf_olmo_values_gfm_cannot_reproduce_are_refused_by_key_and_value() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Value, &str); 12] = [
        ("alibi", json!(true), "`alibi` = true"),
        ("rope", json!(false), "`rope` = false"),
        ("rope", Value::Null, "`rope` = false (missing"),
        ("multi_query_attention", json!(true), "`multi_query_attention` = true"),
        ("n_kv_heads", json!(1), "`n_kv_heads` = 1"),
        ("clip_qkv", json!(8.0), "`clip_qkv` = 8.0"),
        ("block_type", json!("llama"), "`block_type` = \"llama\""),
        ("norm_after", json!(true), "`norm_after` = true"),
        ("scale_logits", json!(true), "`scale_logits` = true"),
        ("attention_layer_norm", json!(true), "`attention_layer_norm` = true"),
        ("activation_type", json!("gelu"), "`activation_type` = \"gelu\""),
        ("layer_norm_type", json!("default"), "`layer_norm_type` = \"default\", `layer_norm_with_affine` = true"),
    ];
    for (k, (key, value, needle)) in cases.into_iter().enumerate() {
        let dir = valid(tmp.path(), &format!("r{k}"), ExportFormat::HfOlmo);
        edit_config(&dir, "model_type", json!("olmo-gfm"));
        edit_config(&dir, key, value);
        let err = load_err(&dir);
        assert!(err.contains(needle) && err.contains("config.json"), "{key}: {err}");
    }
}

#[test]
fn a_config_of_no_known_layout_is_refused_with_the_accepted_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = valid(tmp.path(), "unknown", ExportFormat::HfOlmo);
    edit_config(&dir, "model_type", json!("mamba"));
    edit_config(&dir, "n_heads", Value::Null);
    let err = load_err(&dir);
    assert!(err.contains("\"mamba\"") && err.contains("hf_olmo layout") && err.contains("model_type \"olmo\""), "{err}");
    assert!(err.contains("missing: n_heads"), "{err}");

    let dir = valid(tmp.path(), "both", ExportFormat::HfOlmo);
    edit_config(&dir, "hidden_size", json!(16));
    edit_config(&dir, "num_attention_heads", json!(2));
    edit_config(&dir, "num_hidden_layers", json!(2));
    edit_config(&dir, "intermediate_size", json!(64));
    assert!(load_err(&dir).contains("keys of both layouts"));
}

/// A tokenizer shipped beside pretrained weights goes through the same validation as
/// `tokenizer.path` (here a lower-casing normalizer, case `tokenizer-lowercase-normalizer`).
#[test]
fn export_from_a_checkpoint_with_a_garbling_tokenizer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = valid(tmp.path(), "src", ExportFormat::HfOlmo);
    let seq: Vec<u8> = (0..400u32).map(|i| b"ACGT"[(i * 7 % 13 % 4) as usize]).collect();
    let tok = gfm::tokenizer::DnaTokenizer::train([seq.as_slice()].into_iter(), 20).unwrap();
    let mut json: Value = serde_json::from_str(&tok.inner().to_string(false).unwrap()).unwrap();
    tok.save(&dir.join("tokenizer.json")).unwrap();
    gfm::export::export_pretrained(&dir, &tmp.path().join("ok"), ExportDtype::F32, ExportFormat::HfOlmo).unwrap();
    assert!(tmp.path().join("ok/tokenizer.json").is_file());

    json["normalizer"] = json!({"type": "Lowercase"});
    std::fs::write(dir.join("tokenizer.json"), json.to_string()).unwrap();
    let err = gfm::export::export_pretrained(&dir, &tmp.path().join("bad"), ExportDtype::F32, ExportFormat::HfOlmo)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.json") && err.contains("normalizer Lowercase"), "{err}");
    assert!(!tmp.path().join("bad").exists(), "nothing written");
}

#[test]
fn a_non_finite_weight_is_refused_naming_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = valid(tmp.path(), "nan", ExportFormat::Hf);
    rewrite(&dir, |l| {
        let t = l.iter_mut().find(|t| t.0 == Q).unwrap();
        t.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let err = load_err(&dir);
    assert!(err.contains(Q) && err.contains("1 non-finite value(s)") && err.contains("flat index 2"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
}
