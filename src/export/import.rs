//! Load pretrained OLMo weights into an [`OlmoModel`]: a gfm export, a transformers
//! `OlmoForCausalLM` directory, or an ai2-olmo `hf_olmo` (released Omni-DNA) checkpoint.
//!
//! Order of work: `config.json` → model shape and layout; every safetensors header validated;
//! names and shapes checked against [`keys::expand`] (missing, extra and mis-shaped tensors are
//! errors naming them); only then tensor data is read, converted to f32, fused/transposed into
//! gfm's layout and placed into a model built by [`OlmoConfig::init`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path};

use burn::prelude::*;
use serde::Deserialize;

use super::layout;
use super::keys::{self, HostTensor};
use super::params;
use super::safetensors_file::{read_header, read_tensor, TensorHeader};
use super::{ExportFormat, ImportError};
use crate::model::{OlmoConfig, OlmoModel};

/// Index files written by transformers `save_pretrained` are a few hundred KB; this is generous.
const MAX_INDEX_BYTES: u64 = 64 << 20;

/// Parse `dir/config.json` into the layout it describes and gfm's model shape.
fn config_of(dir: &Path) -> Result<(ExportFormat, OlmoConfig), ImportError> {
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(ImportError::NoConfig { dir: dir.to_path_buf() });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Io { path: path.clone(), source })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ImportError::Config { path: path.clone(), reason: format!("not valid JSON ({e})") })?;
    let map = value
        .as_object()
        .ok_or_else(|| ImportError::Config { path: path.clone(), reason: "not a JSON object".into() })?;
    layout::parse(&path, map)
}

/// The model shape of the pretrained checkpoint in `dir`, without reading any weights.
pub fn read_config(dir: &Path) -> Result<OlmoConfig, ImportError> {
    Ok(config_of(dir)?.1)
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// Validated headers of every tensor in `dir`: `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`.
fn tensor_headers(dir: &Path) -> Result<BTreeMap<String, TensorHeader>, ImportError> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return read_header(&single);
    }
    let index_path = dir.join("model.safetensors.index.json");
    if !index_path.is_file() {
        let hint = if dir.join("pytorch_model.bin").exists() {
            " (only pytorch_model.bin, which gfm does not read; convert it with `model.save_pretrained(dir, safe_serialization=True)`)"
        } else {
            ""
        };
        return Err(ImportError::NoWeights { dir: dir.to_path_buf(), hint: hint.into() });
    }
    let bad = |reason: String| ImportError::BadIndex { path: index_path.clone(), reason };
    let io = |source| ImportError::Io { path: index_path.clone(), source };
    let len = std::fs::metadata(&index_path).map_err(io)?.len();
    if len > MAX_INDEX_BYTES {
        return Err(bad(format!("{len} bytes is implausibly large for a shard index")));
    }
    let text = std::fs::read_to_string(&index_path).map_err(io)?;
    let index: ShardIndex = serde_json::from_str(&text).map_err(|e| bad(format!("{e}")))?;
    let mut shards: BTreeMap<&str, BTreeMap<String, TensorHeader>> = BTreeMap::new();
    for shard in index.weight_map.values() {
        let plain = Path::new(shard).components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || Path::new(shard).components().count() != 1 {
            return Err(bad(format!("shard \"{shard}\" is not a file name inside the checkpoint directory")));
        }
        if !shards.contains_key(shard.as_str()) {
            if !dir.join(shard).is_file() {
                return Err(bad(format!("it lists shard \"{shard}\", which is not in {}; copy every shard the index names (an interrupted download leaves some out)", dir.display())));
            }
            shards.insert(shard, read_header(&dir.join(shard))?);
        }
    }
    let mut all = BTreeMap::new();
    for (name, shard) in &index.weight_map {
        if !shards.get(shard.as_str()).is_some_and(|h| h.contains_key(name)) {
            return Err(bad(format!("tensor {name} is listed in {shard}, which does not hold it")));
        }
    }
    for (shard, headers) in shards {
        for (name, h) in headers {
            if all.insert(name.clone(), h).is_some() {
                return Err(bad(format!("tensor {name} appears in more than one shard (again in {shard})")));
            }
        }
    }
    Ok(all)
}

/// Non-parameter buffers some exporters save; never loaded, never an error.
fn is_buffer(name: &str) -> bool {
    name.ends_with("rotary_emb.inv_freq")
}

/// Load the pretrained checkpoint in `dir` onto `device`.
///
/// Accepts a gfm export (HF layout or hf_olmo layout), a transformers `OlmoForCausalLM`
/// directory (single-file or sharded safetensors), or a released Omni-DNA `hf_olmo` checkpoint.
/// Weights may be F32, BF16, F16 or F64; the model is built in the backend's float type.
pub fn load_pretrained<B: Backend>(dir: &Path, device: &B::Device) -> Result<(OlmoConfig, OlmoModel<B>), ImportError> {
    let (format, cfg) = config_of(dir)?;
    let headers = tensor_headers(dir)?;
    let entries = keys::expand(&cfg);

    let mut expected = BTreeSet::new();
    for e in &entries {
        for (name, shape) in e.external_names(format).into_iter().zip(e.external_shapes(format)) {
            let h = headers.get(&name).ok_or_else(|| ImportError::Missing { dir: dir.to_path_buf(), tensor: name.clone(), format })?;
            if h.shape != shape {
                return Err(ImportError::Shape { file: h.file.clone(), tensor: name, expected: shape, found: h.shape.clone() });
            }
            expected.insert(name);
        }
    }
    let mut extra: Vec<String> =
        headers.keys().filter(|k| !expected.contains(*k) && !is_buffer(k)).cloned().collect();
    // A tied transformers checkpoint may still carry lm_head.weight; accept an exact copy.
    if cfg.tie_embeddings && format == ExportFormat::Hf && extra == ["lm_head.weight"] {
        let embed = "model.embed_tokens.weight";
        let (Some(a), Some(b)) = (headers.get(embed), headers.get("lm_head.weight")) else {
            return Err(ImportError::Internal("embedding header vanished".into()));
        };
        if read_tensor(embed, a)? != read_tensor("lm_head.weight", b)? {
            return Err(ImportError::TiedMismatch { dir: dir.to_path_buf() });
        }
        extra.clear();
    }
    if !extra.is_empty() {
        return Err(ImportError::Extra { dir: dir.to_path_buf(), tensors: extra, format });
    }

    let mut values: HashMap<String, HostTensor> = HashMap::new();
    for e in &entries {
        let parts = e
            .external_names(format)
            .iter()
            .map(|name| match headers.get(name) {
                Some(h) => read_tensor(name, h),
                None => Err(ImportError::Internal(format!("{name} vanished after the header check"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err(ImportError::Internal(format!("{} has no {format} name", e.gfm)));
        }
        values.insert(e.gfm.clone(), e.from_external(parts));
    }
    let model = params::load(cfg.init::<B>(device), values, device).map_err(|e| ImportError::Internal(e.to_string()))?;
    Ok((cfg, model))
}
