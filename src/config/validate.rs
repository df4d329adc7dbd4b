//! The range and consistency checks of an experiment: every problem is collected (not just the
//! first) and reported with the key, the value and what is allowed.

use super::{Duration, Experiment, Kind, TaskFormat};
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
    let d = &exp.data;
    match exp.kind {
        Kind::Pretrain => need(!d.train.is_empty(), "data.train is empty: list at least one FASTA file".into()),
        Kind::Vqvae => {}
        Kind::Mmidas => exp.mmidas.problems().into_iter().for_each(|p| need(false, p)),
        Kind::Dna2func => {}
        Kind::Finetune | Kind::KmerBaseline => {
            need(!exp.tasks.is_empty(), format!("kind = \"{}\" needs at least one [[tasks]] table", exp.kind.as_str()));
            need(exp.kind != Kind::Finetune || exp.model.init_from.is_some(),
                "kind = \"finetune\" needs model.init_from: a gfm run, a gfm export or an OLMo checkpoint".into());
            need(exp.kind != Kind::KmerBaseline || exp.tasks.len() == 1,
                format!("kind = \"kmer_baseline\" takes exactly one [[tasks]] table, found {}", exp.tasks.len()));
            let (b, f) = (&exp.baseline, &exp.finetune);
            if exp.kind == Kind::KmerBaseline {
                need((1..=8).contains(&b.k), format!("baseline.k = {} must be in 1..=8", b.k));
                need((0.0..1.0).contains(&b.valid_fraction), format!("baseline.valid_fraction = {} must be in [0, 1)", b.valid_fraction));
            } else {
                need(f.replicate >= 1, format!("finetune.replicate = {} must be >= 1", f.replicate));
                need((0.0..1.0).contains(&f.valid_fraction), format!("finetune.valid_fraction = {} must be in [0, 1)", f.valid_fraction));
            }
            let mut names = std::collections::BTreeSet::new();
            for (i, t) in exp.tasks.iter().enumerate() {
                need(names.insert(t.name.clone()), format!("tasks[{i}].name = \"{}\" is used twice", t.name));
                need(!t.name.is_empty() && t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                    format!("tasks[{i}].name = \"{}\" must be letters, digits, '_' or '-' (it becomes a token)", t.name));
                need(t.weight > 0.0, format!("tasks[{i}].weight = {} must be > 0", t.weight));
                if let Some(s) = t.split {
                    need(s.iter().all(|f| *f >= 0.0) && s.iter().sum::<f64>() <= 1.0 + 1e-9 && s[0] > 0.0 && s[2] > 0.0,
                        format!("tasks[{i}].split = {s:?} must be three non-negative fractions [train, valid, test] summing to at most 1 (the rest is unused)"));
                }
                need(t.test_path.is_some() || t.split.is_some() || t.format == TaskFormat::GenomicBenchmarks,
                    format!("tasks[{i}] ({}) needs test_path or split = [train, valid, test]", t.name));
                need(t.format != TaskFormat::GenomicBenchmarks || t.reference.is_some(),
                    format!("tasks[{i}] ({}): genomic_benchmarks needs reference = \"<FASTA>\"", t.name));
            }
        }
        Kind::ImageClassifier => {
            let c = &exp.classifier;
            let mut seen = std::collections::BTreeSet::new();
            need(c.digits.len() >= 2 && c.digits.iter().all(|d| *d <= 9 && seen.insert(*d)),
                format!("classifier.digits = {:?} must list at least two distinct digits 0-9", c.digits));
            need(c.channels >= 1 && c.hidden >= 1, "classifier.channels and classifier.hidden must be >= 1".into());
        }
        Kind::NeedleInDna => {
            let n = &exp.needle;
            need(exp.model.init_from.is_some(),
                "kind = \"needle_in_dna\" needs model.init_from: a pretrained DNA model (e.g. ../checkpoints/quickstart)".into());
            need((1..=4).contains(&n.classes), format!("needle.classes = {} must be in 1..=4 (four motifs)", n.classes));
            need(n.length_bp >= 6, format!("needle.length_bp = {} must hold the longest motif (6 bp)", n.length_bp));
            need(n.train_per_class >= 1 && n.valid_per_class >= 1 && n.test_per_class >= 1,
                "needle.train_per_class, valid_per_class and test_per_class must be >= 1".into());
            need(n.targets_per_class >= 1, format!("needle.targets_per_class = {} must be >= 1", n.targets_per_class));
        }
    }
    if exp.kind == Kind::Vqvae {
        let v = &exp.vqvae;
        need(!v.train_images.as_os_str().is_empty(), "kind = \"vqvae\" needs vqvae.train_images (an MNIST IDX file or a PNG folder)".into());
        need(!v.heldout_images.as_os_str().is_empty(), "kind = \"vqvae\" needs vqvae.heldout_images (e.g. MNIST t10k-images-idx3-ubyte.gz)".into());
        let m = &v.model;
        need(m.channels >= 1 && m.code_dim >= 1, format!("vqvae.model.channels = {} and vqvae.model.code_dim = {} must be >= 1", m.channels, m.code_dim));
        need(m.codebook_size >= 2, format!("vqvae.model.codebook_size = {} must be >= 2", m.codebook_size));
        need(m.decay > 0.0 && m.decay < 1.0, format!("vqvae.model.decay = {} must be in (0, 1)", m.decay));
        need(m.commitment >= 0.0 && m.eps > 0.0, format!("vqvae.model.commitment = {} must be >= 0 and vqvae.model.eps = {} > 0", m.commitment, m.eps));
        need(m.dead_code_threshold >= 0.0, format!("vqvae.model.dead_code_threshold = {} must be >= 0 (0 disables)", m.dead_code_threshold));
    }
    if exp.kind == Kind::Dna2func {
        let f = &exp.dna2func;
        need(exp.model.init_from.is_some(), "kind = \"dna2func\" needs model.init_from: a pretrained DNA model".into());
        for (key, p) in [("train", &f.train), ("valid", &f.valid), ("test", &f.test)] {
            need(p.is_some(), format!("kind = \"dna2func\" needs dna2func.{key} = \"<table.parquet>\""));
        }
        need(f.window_bp >= 1, format!("dna2func.window_bp = {} must be >= 1", f.window_bp));
        need(f.max_answer_tokens >= 2, format!("dna2func.max_answer_tokens = {} must be >= 2 (one text token and [SEP])", f.max_answer_tokens));
        need(f.text_vocab_size > 256, format!("dna2func.text_vocab_size = {} must exceed the 256 byte symbols", f.text_vocab_size));
    }
    if exp.kind.reads("sft") {
        let f = &exp.sft;
        need(f.neftune_alpha >= 0.0, format!("sft.neftune_alpha = {} must be >= 0", f.neftune_alpha));
        need(f.eval_batch_size >= 1, format!("sft.eval_batch_size = {} must be >= 1", f.eval_batch_size));
    }
    need(d.valid_fraction >= 0.0 && d.valid_fraction < 1.0, format!(
        "data.valid_fraction = {} must be in [0, 1)", d.valid_fraction));
    need(d.min_tokens >= 2, format!("data.min_tokens = {} must be >= 2", d.min_tokens));
    let t = &exp.train;
    need(t.batch_size >= 1, format!("train.batch_size = {} must be >= 1", t.batch_size));
    need(t.grad_accum >= 1, format!("train.grad_accum = {} must be >= 1", t.grad_accum));
    let dur_ok = match t.duration {
        Duration::Steps(n) | Duration::Tokens(n) => n > 0,
        Duration::Epochs(e) => e > 0.0 && e.is_finite(),
    };
    need(dur_ok, format!("train.duration = {:?} must be positive", t.duration));
    need(t.lr > 0.0 && t.lr.is_finite(), format!("train.lr = {} must be > 0", t.lr));
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
}
