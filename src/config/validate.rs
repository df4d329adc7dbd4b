//! The range and consistency checks of an experiment: the model shape, `[train]` and `[run]`
//! here, then each section the kind reads checks itself (`sections::check`). Every problem is
//! collected (not just the first) and reported with the key, the value and what is allowed.

use super::{Duration, Experiment};
use crate::model::OlmoConfig;

/// Append to `problems` everything wrong with `exp` (and the model shape it resolved to).
pub(super) fn validate(exp: &Experiment, model: Option<&OlmoConfig>, problems: &mut Vec<String>) {
    let mut need = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg)
        }
    };
    need(!exp.name.trim().is_empty() && !exp.name.contains(['/', '\\']) && !exp.name.starts_with('.'), format!(
        "name = \"{}\" must be a non-empty name without slashes or a leading dot (it names the run directory)", exp.name));
    if let Some(m) = model {
        need(m.n_layers >= 1, format!("model.n_layers = {} must be >= 1", m.n_layers));
        need(m.n_heads >= 1 && m.d_model % m.n_heads == 0, format!(
            "model.d_model = {} must be divisible by model.n_heads = {}", m.d_model, m.n_heads));
        need(m.n_heads >= 1 && (m.d_model / m.n_heads.max(1)) % 2 == 0, format!(
            "model.d_model / model.n_heads = {} must be even for RoPE", m.d_model / m.n_heads.max(1)));
        need(m.mlp_ratio >= 1, format!("model.mlp_ratio = {} must be >= 1", m.mlp_ratio));
        need(m.vocab_size >= 8, format!("model.vocab_size = {} must be >= 8 (5 special tokens + A, C, G, T)", m.vocab_size));
        need(m.context >= 4, format!("model.context = {} must be >= 4 tokens", m.context));
        need(m.norm_eps > 0.0, format!("model.norm_eps = {} must be > 0", m.norm_eps));
        need(m.rope_theta > 0.0, format!("model.rope_theta = {} must be > 0", m.rope_theta));
        need(m.init_std > 0.0, format!("model.init_std = {} must be > 0", m.init_std));
        if let Some(v) = exp.tokenizer.vocab_size {
            need((8..=m.vocab_size).contains(&v), format!(
                "tokenizer.vocab_size = {v} must be between 8 and model.vocab_size = {}", m.vocab_size));
        }
    }
    let t = &exp.train;
    need(t.batch_size >= 1, format!("train.batch_size = {} must be >= 1", t.batch_size));
    need(t.grad_accum >= 1, format!("train.grad_accum = {} must be >= 1", t.grad_accum));
    let dur_ok = match t.duration {
        Duration::Steps(n) | Duration::Tokens(n) => n > 0,
        Duration::Epochs(e) => e > 0.0 && e.is_finite(),
    };
    need(dur_ok, format!("train.duration = {:?} must be positive", t.duration));
    need(t.lr > 0.0 && t.lr.is_finite(), format!("train.lr = {} must be > 0; set a positive learning rate (e.g. 3e-4)", t.lr));
    need((0.0..=1.0).contains(&t.min_lr_ratio), format!("train.min_lr_ratio = {} must be in [0, 1]", t.min_lr_ratio));
    need(t.weight_decay >= 0.0, format!("train.weight_decay = {} must be >= 0", t.weight_decay));
    need((0.0..1.0).contains(&t.beta1), format!("train.beta1 = {} must be in [0, 1)", t.beta1));
    need((0.0..1.0).contains(&t.beta2), format!("train.beta2 = {} must be in [0, 1)", t.beta2));
    need(t.adam_eps > 0.0, format!("train.adam_eps = {} must be > 0", t.adam_eps));
    need(t.grad_clip_norm >= 0.0, format!("train.grad_clip_norm = {} must be >= 0 (0 disables)", t.grad_clip_norm));
    need(t.log_every >= 1, format!("train.log_every = {} must be >= 1", t.log_every));
    need(t.checkpoint_every >= 1, format!("train.checkpoint_every = {} must be >= 1", t.checkpoint_every));
    need(t.keep_last >= 1, format!("train.keep_last = {} must be >= 1", t.keep_last));
    need(exp.run.tdp_watts > 0.0, format!("run.tdp_watts = {} must be > 0", exp.run.tdp_watts));
    need(exp.run.precision == crate::model::Precision::F32 || exp.kind.sections().contains(&"model"), format!(
        "run.precision = \"{}\" applies to the kinds that train an OLMo decoder (those with a [model] section); \
         kind = \"{}\" computes in f32: remove run.precision", exp.run.precision.as_str(), exp.kind.as_str()));
    let dp = exp.run.data_parallel;
    need(dp >= 1, format!("run.data_parallel = {dp} must be >= 1 (1: no data parallelism)"));
    if dp > 1 {
        need(exp.kind.sections().contains(&"model"), format!(
            "run.data_parallel = {dp} applies to the kinds that train an OLMo decoder (those with a [model] section); \
             kind = \"{}\" trains on one device: remove run.data_parallel", exp.kind.as_str()));
        need(t.batch_size % dp == 0, format!(
            "train.batch_size = {} must divide by run.data_parallel = {dp} (each replica takes an equal share of every \
             micro-batch); set train.batch_size to a multiple of {dp}", t.batch_size));
        need(!exp.kind.sections().contains(&"sft") || exp.sft.neftune_alpha == 0.0, format!(
            "run.data_parallel = {dp} with sft.neftune_alpha = {}: the NEFTune noise of all replicas would come from the \
             backend's one random stream in whatever order the threads reach it, so runs would not repeat; \
             set sft.neftune_alpha = 0 or run.data_parallel = 1", exp.sft.neftune_alpha));
    }
    for name in exp.kind.sections() {
        super::sections::check(exp, name, problems);
    }
}
