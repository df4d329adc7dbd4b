//! Export a trained model to a directory that transformers loads as it is
//! (`OlmoForCausalLM.from_pretrained(dir)`, `AutoTokenizer.from_pretrained(dir)`), or to the
//! ai2-olmo `hf_olmo` layout.
//!
//! The directory is assembled as `<out>.tmp-<pid>` and renamed into place, so an interrupted
//! export never leaves a half-written model under `out`. An existing `out` is replaced only if it
//! is empty or a previous gfm export (it holds [`EXPORT_MARKER`]); anything else is refused, so a
//! mistyped `--out` cannot delete unrelated files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use serde::Deserialize;
use serde_json::{json, Value};

use super::hf_config::{self, HF_NORM_EPS};
use super::{keys, params, safetensors_file, ExportDtype, ExportError, ExportFormat};
use crate::model::{NormKind, OlmoConfig, OlmoModel};
use crate::tokenizer::DnaTokenizer;
use crate::checkpoint::{self, LoadedCheckpoint};

/// Provenance file in every export; its presence marks a directory as safe to replace.
pub const EXPORT_MARKER: &str = "gfm_export.json";

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub out: PathBuf,
    pub format: ExportFormat,
    pub dtype: ExportDtype,
    /// The checkpoint directory exported, and its optimizer step (absent for [`export_model`]).
    pub checkpoint: Option<PathBuf>,
    pub step: Option<u64>,
    pub tensors: usize,
    pub params: u64,
    /// Size of `model.safetensors`.
    pub bytes: u64,
    /// Non-fatal problems met on the way (a corrupted newest checkpoint skipped, ...).
    pub warnings: Vec<String>,
}

/// Export the newest complete checkpoint of a run directory, or one `step_NNNNNNN` checkpoint
/// directory (its parent run directory supplies `config.toml` and `tokenizer.json`).
pub fn export_checkpoint(src: &Path, out: &Path, dtype: ExportDtype, format: ExportFormat) -> Result<ExportSummary, ExportError> {
    let mut warnings = Vec::new();
    let not_a_run = || ExportError::NotARun { src: src.to_path_buf() };
    let src_abs = src.canonicalize().map_err(|_| not_a_run())?;
    let is_step = src_abs.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step_"));
    let (ck, run_dir): (LoadedCheckpoint, PathBuf) = if src_abs.join("manifest.toml").is_file() || is_step {
        let run_dir = src_abs.parent().ok_or_else(not_a_run)?.to_path_buf();
        (checkpoint::load(&src_abs)?, run_dir)
    } else if src_abs.join("config.toml").is_file() {
        (checkpoint::load_newest(&src_abs, |w| warnings.push(w.to_string()))?, src_abs.clone())
    } else {
        return Err(not_a_run());
    };
    let cfg = run_model_config(&run_dir, &mut warnings)?;
    let tok_path = run_dir.join("tokenizer.json");
    let tokens = DnaTokenizer::from_file(&tok_path)?.vocab_size();
    if tokens > cfg.vocab_size {
        return Err(ExportError::TokenizerTooLarge { tokenizer: tok_path, tokens, rows: cfg.vocab_size });
    }
    let tokenizer_json = fs::read(&tok_path).map_err(|source| ExportError::Io { path: tok_path.clone(), source })?;

    let device = Default::default();
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.model.clone(), &device)
        .map_err(|e| ExportError::Record { dir: ck.dir.clone(), message: e.to_string() })?;
    let model: OlmoModel<Flex> = cfg.init::<Flex>(&device).load_record(record);
    let source = json!({ "checkpoint": ck.dir.display().to_string(), "step": ck.state.step,
                         "tokens_seen": ck.state.tokens_seen });
    let mut summary = write_export(&model, &cfg, Some(&tokenizer_json), out, dtype, format, source)?;
    summary.checkpoint = Some(ck.dir);
    summary.step = Some(ck.state.step);
    summary.warnings.splice(0..0, warnings);
    Ok(summary)
}

/// `gfm export --from DIR`: re-export a pretrained checkpoint that [`super::load_pretrained`]
/// reads. Its `tokenizer.json`, if it ships one, is validated like every foreign tokenizer
/// ([`DnaTokenizer::from_file`]) and must fit the embedding table before it is copied.
pub fn export_pretrained(from: &Path, out: &Path, dtype: ExportDtype, format: ExportFormat) -> Result<ExportSummary, ExportError> {
    let (cfg, model) = super::load_pretrained::<Flex>(from, &Default::default())?;
    let tok_path = from.join("tokenizer.json");
    let tokenizer_json = if tok_path.is_file() {
        let tokens = DnaTokenizer::from_file(&tok_path)?.vocab_size();
        if tokens > cfg.vocab_size {
            return Err(ExportError::TokenizerTooLarge { tokenizer: tok_path, tokens, rows: cfg.vocab_size });
        }
        Some(fs::read(&tok_path).map_err(|source| ExportError::Io { path: tok_path.clone(), source })?)
    } else {
        None
    };
    export_model(&model, &cfg, tokenizer_json.as_deref(), out, dtype, format)
}

/// Export an in-memory model (no tokenizer files when `tokenizer_json` is `None`).
pub fn export_model<B: Backend>(
    model: &OlmoModel<B>,
    cfg: &OlmoConfig,
    tokenizer_json: Option<&[u8]>,
    out: &Path,
    dtype: ExportDtype,
    format: ExportFormat,
) -> Result<ExportSummary, ExportError> {
    write_export(model, cfg, tokenizer_json, out, dtype, format, Value::Null)
}

/// The model shape of a run: its resolved `config.toml` through [`crate::config::load_experiment`];
/// if the experiment no longer validates as a whole (its FASTA files moved, say), the fully
/// resolved `[model]` section alone, with a warning.
fn run_model_config(run_dir: &Path, warnings: &mut Vec<String>) -> Result<OlmoConfig, ExportError> {
    // The exact shape of the run's checkpoints (after any vocabulary expansion), when recorded.
    if let Ok(cfg) = crate::export::source::read_config(run_dir) {
        return Ok(cfg);
    }
    let path = run_dir.join("config.toml");
    let first = match crate::config::load_experiment(&path, &[]) {
        Ok(resolved) => return Ok(resolved.model),
        Err(e) => e,
    };
    let fail = |reason: String| ExportError::RunConfig { path: path.clone(), reason };
    let text = fs::read_to_string(&path).map_err(|e| fail(format!("{e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(format!("{e}")))?;
    let mut model = table
        .get("model")
        .and_then(|v| v.as_table())
        .cloned()
        .ok_or_else(|| fail(format!("{first}; and it has no [model] section")))?;
    model.remove("preset");
    let cfg = OlmoConfig::deserialize(toml::Value::Table(model))
        .map_err(|e| fail(format!("{first}; and its [model] section is incomplete: {e}")))?;
    warnings.push(format!("{first}\n(used the fully resolved [model] section of {} alone)", path.display()));
    Ok(cfg)
}

fn write_export<B: Backend>(
    model: &OlmoModel<B>,
    cfg: &OlmoConfig,
    tokenizer_json: Option<&[u8]>,
    out: &Path,
    dtype: ExportDtype,
    format: ExportFormat,
    source: Value,
) -> Result<ExportSummary, ExportError> {
    if format == ExportFormat::Hf {
        let not = |what: String| ExportError::NotRepresentable { format, what };
        if cfg.norm == NormKind::RmsNorm {
            return Err(not("RMSNorm with a learned scale (model.norm = \"rms_norm\"): transformers' OlmoForCausalLM has only the LayerNorm without weights".into()));
        }
        if (cfg.norm_eps - HF_NORM_EPS).abs() > 1e-12 {
            return Err(not(format!("model.norm_eps = {}: transformers' OlmoLayerNorm hard-codes {HF_NORM_EPS}", cfg.norm_eps)));
        }
    }
    let mut gfm = params::collect(model).map_err(|e| ExportError::Data { tensor: "model".into(), message: e.to_string() })?;
    let mut tensors = Vec::new();
    for e in keys::expand(cfg) {
        let t = gfm
            .remove(&e.gfm)
            .ok_or_else(|| ExportError::Data { tensor: e.gfm.clone(), message: "not in the model".into() })?;
        if t.shape != e.gfm_shape {
            return Err(ExportError::Shape { tensor: e.gfm, expected: e.gfm_shape, found: t.shape });
        }
        let parts = e
            .to_external(&t, format)
            .ok_or_else(|| ExportError::NotRepresentable { format, what: format!("parameter {}", e.gfm) })?;
        tensors.extend(parts);
    }
    if let Some(name) = gfm.keys().next() {
        return Err(ExportError::Data { tensor: name.clone(), message: "has no row in the key table (gfm bug)".into() });
    }
    let params = tensors.iter().map(|(_, t)| t.data.len() as u64).sum();
    let marker = json!({
        "gfm_version": env!("CARGO_PKG_VERSION"), "format": format.as_str(), "dtype": dtype.as_str(),
        "source": source, "model": cfg,
    });
    let bytes = replace_dir(out, |dir| {
        let weights = dir.join("model.safetensors");
        let bytes = safetensors_file::write(&weights, &tensors, dtype)
            .map_err(|e| ExportError::Write { path: weights.clone(), message: e.to_string() })?;
        fs::File::open(&weights).and_then(|f| f.sync_all()).map_err(|source| ExportError::Io { path: weights, source })?;
        write_json(&dir.join("config.json"), &hf_config::config_json(cfg, format, dtype))?;
        write_json(&dir.join("generation_config.json"), &hf_config::generation_config_json())?;
        if let Some(tok) = tokenizer_json {
            write_file(&dir.join("tokenizer.json"), tok)?;
            write_json(&dir.join("tokenizer_config.json"), &hf_config::tokenizer_config_json(cfg.context))?;
            write_json(&dir.join("special_tokens_map.json"), &hf_config::special_tokens_map_json())?;
        }
        write_json(&dir.join(EXPORT_MARKER), &marker)?;
        Ok(bytes)
    })?;
    Ok(ExportSummary {
        out: out.to_path_buf(), format, dtype, checkpoint: None, step: None,
        tensors: tensors.len(), params, bytes, warnings: Vec::new(),
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let io = |source| ExportError::Io { path: path.to_path_buf(), source };
    let mut f = fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn write_json(path: &Path, value: &Value) -> Result<(), ExportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ExportError::Write { path: path.to_path_buf(), message: e.to_string() })?;
    write_file(path, format!("{text}\n").as_bytes())
}

/// Fill `<out>.tmp-<pid>` with `fill`, then move it to `out` (replacing an empty directory or a
/// previous gfm export; refusing anything else).
fn replace_dir<T>(out: &Path, fill: impl FnOnce(&Path) -> Result<T, ExportError>) -> Result<T, ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    let name = out
        .file_name()
        .ok_or_else(|| ExportError::Write { path: out.to_path_buf(), message: "--out must end in a directory name".into() })?
        .to_string_lossy()
        .to_string();
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    if out.exists() {
        let empty = out.is_dir() && fs::read_dir(out).map_err(io(out))?.next().is_none();
        if !empty && !out.join(EXPORT_MARKER).is_file() {
            return Err(ExportError::OutExists { path: out.to_path_buf() });
        }
    }
    let pid = std::process::id();
    let tmp = parent.join(format!("{name}.tmp-{pid}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    fs::create_dir(&tmp).map_err(io(&tmp))?;
    let value = match fill(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if out.exists() {
        let old = parent.join(format!("{name}.old-{pid}"));
        fs::rename(out, &old).map_err(io(out))?;
        fs::rename(&tmp, out).map_err(io(out))?;
        fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        fs::rename(&tmp, out).map_err(io(out))?;
    }
    if let Ok(d) = fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(value)
}
