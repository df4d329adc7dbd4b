//! Experiment files: parse, apply `--set` overrides, expand the preset, validate, resolve paths.
//! After [`load_experiment`] succeeds, every field is filled and in range (linfa's ParamGuard).

mod dna2func;
mod images;
pub mod kinds;
mod validate;
pub mod presets;
mod run;
pub mod schema;
mod sections;
mod suite;
pub mod suite_tasks;

use std::path::{Path, PathBuf};

pub use schema::*;

use crate::model::OlmoConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read experiment file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },
    #[error("{path}: invalid experiment:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<String> },
}

/// A validated experiment plus the model shape it resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub experiment: Experiment,
    pub model: OlmoConfig,
    /// The file it came from and the overrides applied, for the run's provenance.
    pub source: PathBuf,
    pub overrides: Vec<String>,
}

/// Read `path`, apply `overrides` (`key.path=value`, value in TOML syntax or a bare string),
/// and validate.
pub fn load_experiment(path: &Path, overrides: &[String]) -> Result<Resolved, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let mut table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
    for arg in overrides {
        apply_override(&mut table, arg)?;
    }
    // Deserialise from the text when there are no overrides so errors quote the file's lines.
    let experiment: Experiment = if overrides.is_empty() {
        toml::from_str(&text)
    } else {
        Experiment::deserialize(toml::Value::Table(table.clone()))
    }
    .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
    let unused = kinds::unused_sections(&table, experiment.kind);
    if !unused.is_empty() {
        return Err(ConfigError::Invalid { path: path.to_path_buf(), problems: unused });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    resolve(experiment, base, path, overrides)
}

use serde::Deserialize;

fn apply_override(table: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let err = |message: &str| ConfigError::Override { arg: arg.to_string(), message: message.to_string() };
    let (key, raw) = arg.split_once('=').ok_or_else(|| err("expected key=value, e.g. train.lr=3e-4"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(err("empty key; expected key=value, e.g. train.lr=3e-4"));
    }
    // TOML syntax first (numbers, booleans, arrays, inline tables); otherwise a plain string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for part in &parts[..parts.len() - 1] {
        let entry = cur.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{part}` is a value, not a section")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

fn resolve(mut exp: Experiment, base: &Path, source: &Path, overrides: &[String]) -> Result<Resolved, ConfigError> {
    let mut problems = Vec::new();
    if let Some(p) = exp.model.init_from.clone() {
        let abs = if p.is_absolute() { p.clone() } else { base.join(&p) };
        match abs.canonicalize() {
            // An experiment's directory stands for its newest complete run: record which one.
            Ok(c) => exp.model.init_from = Some(crate::export::source::concrete_source(&c)),
            Err(_) => problems.push(format!(
                "model.init_from: directory {} not found; run the experiment that produces it first (e.g. gfm run experiments/quickstart.toml)",
                p.display()
            )),
        }
    }
    let model = resolve_model(&mut exp.model, &mut problems);
    exp.sft.eval_max_examples.get_or_insert(exp.kind.default_eval_max_examples());
    validate::validate(&exp, model.as_ref(), &mut problems);

    // Relative paths are relative to the experiment file; each section the kind reads stores
    // its own absolute, so the resolved config.toml in the run directory loads from anywhere.
    for name in exp.kind.sections() {
        sections::resolve_paths(&mut exp, name, base, &mut problems);
    }
    if exp.kind.reads("suite") && problems.is_empty() {
        // A suite's tasks, with their data and metric, become its [[tasks]] tables.
        match suite_tasks::plan(&exp) {
            Ok(tasks) => exp.tasks = tasks.into_iter().map(|t| t.spec).collect(),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if exp.tokenizer.vocab_size.is_none() {
        exp.tokenizer.vocab_size = model.as_ref().map(|m| m.vocab_size);
    }

    match (problems.is_empty(), model) {
        (true, Some(model)) => Ok(Resolved {
            experiment: exp,
            model,
            source: source.to_path_buf(),
            overrides: overrides.to_vec(),
        }),
        _ => Err(ConfigError::Invalid { path: source.to_path_buf(), problems }),
    }
}

/// Expand the preset (or the `init_from` checkpoint's shape) into every field of the section and
/// return the shape. Explicit fields win over a preset; against `init_from` they must agree.
fn resolve_model(section: &mut ModelSection, problems: &mut Vec<String>) -> Option<OlmoConfig> {
    if let Some(dir) = section.init_from.clone().filter(|d| d.exists()) {
        let c = match crate::export::source::read_config(&dir) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("model.init_from: {e}"));
                return None;
            }
        };
        let s = section;
        let mut check = |key: &str, set: Option<String>, have: String| {
            if let Some(v) = set.filter(|v| *v != have) {
                problems.push(format!("model.{key} = {v} disagrees with {} ({have}); remove it", dir.display()));
            }
        };
        check("n_layers", s.n_layers.map(|v| v.to_string()), c.n_layers.to_string());
        check("d_model", s.d_model.map(|v| v.to_string()), c.d_model.to_string());
        check("n_heads", s.n_heads.map(|v| v.to_string()), c.n_heads.to_string());
        check("vocab_size", s.vocab_size.map(|v| v.to_string()), c.vocab_size.to_string());
        check("norm", s.norm.map(|v| v.as_str().to_string()), c.norm.as_str().to_string());
        check("tie_embeddings", s.tie_embeddings.map(|v| v.to_string()), c.tie_embeddings.to_string());
        s.preset = None;
        s.n_layers = Some(c.n_layers);
        s.d_model = Some(c.d_model);
        s.n_heads = Some(c.n_heads);
        s.mlp_ratio = Some(c.mlp_ratio);
        s.vocab_size = Some(c.vocab_size);
        // A shorter context than the checkpoint's is allowed (RoPE has no learned positions).
        let context = *s.context.get_or_insert(c.context);
        s.norm = Some(c.norm);
        s.norm_eps = Some(c.norm_eps);
        s.rope_theta = Some(c.rope_theta);
        s.tie_embeddings = Some(c.tie_embeddings);
        s.init_std = Some(c.init_std);
        return Some(OlmoConfig { context, ..c });
    }
    let name = section.preset.clone().unwrap_or_else(|| "omni_dna_20m".to_string());
    let Some(p) = presets::preset(&name) else {
        problems.push(format!(
            "model.preset = \"{name}\" is not a preset; choose one of: {}",
            presets::preset_names().join(", ")
        ));
        return None;
    };
    let s = section;
    s.preset = Some(name);
    let c = OlmoConfig {
        n_layers: *s.n_layers.get_or_insert(p.n_layers),
        d_model: *s.d_model.get_or_insert(p.d_model),
        n_heads: *s.n_heads.get_or_insert(p.n_heads),
        mlp_ratio: *s.mlp_ratio.get_or_insert(p.mlp_ratio),
        vocab_size: *s.vocab_size.get_or_insert(p.vocab_size),
        context: *s.context.get_or_insert(p.context),
        norm: *s.norm.get_or_insert(p.norm),
        norm_eps: *s.norm_eps.get_or_insert(p.norm_eps),
        rope_theta: *s.rope_theta.get_or_insert(p.rope_theta),
        tie_embeddings: *s.tie_embeddings.get_or_insert(p.tie_embeddings),
        init_std: *s.init_std.get_or_insert(p.init_std),
    };
    Some(c)
}

impl Resolved {
    /// What `gfm check` prints about how the run computes: device, precision, replicas and the
    /// global batch (sequences or examples per optimizer step).
    pub fn compute_summary(&self) -> String {
        let (run, t) = (&self.experiment.run, &self.experiment.train);
        format!(
            "device: {}\nprecision: {}\nreplicas: {}\nglobal batch: {} sequences per optimizer step (train.batch_size {} x \
             train.grad_accum {}); {} per replica per micro-batch\n",
            match run.device { crate::backend::DeviceKind::Cpu => "cpu", crate::backend::DeviceKind::Cuda => "cuda" },
            run.precision.as_str(),
            run.data_parallel,
            t.batch_size * t.grad_accum,
            t.batch_size,
            t.grad_accum,
            t.batch_size / run.data_parallel.max(1)
        )
    }

    /// The resolved experiment as TOML, with a provenance header; loadable by `gfm run`.
    /// Only the sections the experiment's kind reads are written.
    pub fn to_toml(&self, git_commit: Option<&str>) -> String {
        let kind = self.experiment.kind;
        let body = toml::Table::try_from(&self.experiment)
            .map(|mut t| {
                t.retain(|key, _| kind.reads(key));
                t
            })
            .and_then(|t| toml::to_string_pretty(&t))
            .unwrap_or_else(|e| format!("# serialisation failed: {e}\n"));
        let mut head = format!(
            "# Resolved by gfm {} from {}\n# git commit: {}\n",
            env!("CARGO_PKG_VERSION"),
            self.source.display(),
            git_commit.unwrap_or("unknown")
        );
        for o in &self.overrides {
            head.push_str(&format!("# override: --set {o}\n"));
        }
        if kind.is_language_model() {
            head.push_str(&format!("# parameters: {}\n", self.model.num_params()));
        }
        head + "\n" + &body
    }

    /// Tokens per optimizer step at full windows.
    pub fn tokens_per_step(&self) -> u64 {
        let t = &self.experiment.train;
        (t.batch_size * t.grad_accum * self.model.context) as u64
    }
}
