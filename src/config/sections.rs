//! What each section of an experiment checks and which of its paths it resolves. The resolver and
//! the validator visit only the sections the experiment's kind reads ([`Kind::sections`]), each
//! through [`check`] and [`resolve_paths`].

use std::path::{Path, PathBuf};

use super::{BaselineSection, DataSection, Experiment, FinetuneSection, Kind, SftSection, TaskFormat, TaskSpec, TokenizerSection};

/// `p` made absolute (relative to `base`) and canonical; `None` when the file does not exist.
pub(super) fn existing(p: &Path, base: &Path) -> Option<PathBuf> {
    let abs = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    abs.canonicalize().ok()
}

/// Replace `p` by its absolute, canonical form; when it does not exist, a problem naming `key`.
pub(super) fn resolve_existing(key: &str, p: &mut PathBuf, base: &Path, problems: &mut Vec<String>) {
    match existing(p, base) {
        Some(c) => *p = c,
        None => problems.push(format!(
            "{key}: {} not found (relative paths are relative to the experiment file's directory {})",
            p.display(),
            base.display()
        )),
    }
}

/// Append the problems of section `name` of `exp` to `problems`.
pub(super) fn check(exp: &Experiment, name: &str, problems: &mut Vec<String>) {
    match name {
        "model" if exp.kind.starts_from_pretrained() && exp.model.init_from.is_none() => problems.push(format!(
            "kind = \"{}\" needs model.init_from: a gfm run, a gfm export or an OLMo checkpoint (e.g. ../checkpoints/quickstart)",
            exp.kind.as_str()
        )),
        "data" => exp.data.check(problems),
        "tasks" => check_tasks(exp.kind, &exp.tasks, problems),
        "finetune" => exp.finetune.check(problems),
        "baseline" => exp.baseline.check(problems),
        "sft" => exp.sft.check(problems),
        "classifier" => exp.classifier.check(problems),
        "needle" => exp.needle.check(problems),
        "vqvae" => exp.vqvae.check(problems),
        "mmidas" => problems.extend(exp.mmidas.problems()),
        "dna2func" => exp.dna2func.check(problems),
        "suite" => exp.suite.check(exp.model.init_from.is_some(), problems),
        _ => {}
    }
}

/// Make the paths of section `name` of `exp` absolute (relative to `base`, the experiment file's
/// directory), so the run's `config.toml` loads from anywhere; files that do not exist are problems.
pub(super) fn resolve_paths(exp: &mut Experiment, name: &str, base: &Path, problems: &mut Vec<String>) {
    match name {
        "data" => exp.data.resolve_paths(base, problems),
        "tokenizer" => exp.tokenizer.resolve_paths(base, problems),
        "tasks" => {
            for (i, t) in exp.tasks.iter_mut().enumerate() {
                t.resolve_paths(i, base, problems);
            }
        }
        "classifier" => exp.classifier.images.resolve_paths("classifier.images", base, problems),
        "needle" => exp.needle.resolve_paths(base, problems),
        "vqvae" => exp.vqvae.resolve_paths(base, problems),
        "mmidas" => exp.mmidas.resolve_paths(base, problems),
        "dna2func" => exp.dna2func.resolve_paths(base, problems),
        "suite" => exp.suite.resolve_paths(base, problems),
        _ => {}
    }
}

impl DataSection {
    fn check(&self, problems: &mut Vec<String>) {
        if self.train.is_empty() {
            problems.push("data.train is empty: list at least one FASTA file".into());
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            problems.push(format!("data.valid_fraction = {} must be in [0, 1)", self.valid_fraction));
        }
        if self.min_tokens < 2 {
            problems.push(format!("data.min_tokens = {} must be >= 2", self.min_tokens));
        }
    }

    fn resolve_paths(&mut self, base: &Path, problems: &mut Vec<String>) {
        for (key, list) in [("data.train", &mut self.train), ("data.valid", &mut self.valid)] {
            for p in list.iter_mut() {
                resolve_existing(key, p, base, problems);
            }
        }
    }
}

impl TokenizerSection {
    fn resolve_paths(&mut self, base: &Path, problems: &mut Vec<String>) {
        if let Some(p) = &self.path {
            match existing(p, base) {
                // Validated here too, so `gfm check` and a run stop before any data is read.
                Some(c) => {
                    if let Err(e) = crate::tokenizer::DnaTokenizer::from_file(&c) {
                        problems.push(format!("tokenizer.path: {e}"));
                    }
                    self.path = Some(c)
                }
                None => problems.push(format!("tokenizer.path: file {} not found", p.display())),
            }
        }
    }
}

impl TaskSpec {
    fn resolve_paths(&mut self, i: usize, base: &Path, problems: &mut Vec<String>) {
        for (key, p) in [("path", Some(&mut self.path)), ("test_path", self.test_path.as_mut()), ("reference", self.reference.as_mut())] {
            let Some(p) = p else { continue };
            match existing(p, base) {
                Some(c) => *p = c,
                None => problems.push(format!("tasks[{i}].{key}: {} not found", p.display())),
            }
        }
        // A split folder given for the dataset folder: say which folder to give.
        let split_folder = self.path.file_name().is_some_and(|n| n == "train" || n == "test")
            && self.path.parent().is_some_and(|d| d.join("train").is_dir() && d.join("test").is_dir());
        if self.format == TaskFormat::GenomicBenchmarks && split_folder {
            let dataset = self.path.parent().unwrap_or(&self.path).display().to_string();
            problems.push(format!(
                "tasks[{i}] ({}): path = {} is a split folder; give the dataset folder that holds train/ and test/: path = \"{dataset}\"",
                self.name,
                self.path.display()
            ));
        } else if self.format == TaskFormat::GenomicBenchmarks && self.reference.is_none() && self.path.exists() && !crate::data::benchmarks::is_gb_cache(&self.path) {
            // The interval layout cuts sequences out of a reference; the download-cache layout holds them.
            problems.push(format!(
                "tasks[{i}] ({}): {} is not in the Genomic Benchmarks download-cache layout (train/<class>/<n>.txt), so it must be the interval layout (train/<class>.csv.gz), which needs reference = \"<FASTA>\"",
                self.name,
                self.path.display()
            ));
        }
    }
}

fn check_tasks(kind: Kind, tasks: &[TaskSpec], problems: &mut Vec<String>) {
    let mut need = |ok: bool, msg: String| if !ok { problems.push(msg) };
    // A suite finds its tasks in `suite.data`; its [[tasks]] tables only add or replace some.
    need(!tasks.is_empty() || kind.reads("suite"), format!("kind = \"{}\" needs at least one [[tasks]] table", kind.as_str()));
    need(kind != Kind::KmerBaseline || tasks.len() == 1, format!("kind = \"kmer_baseline\" takes exactly one [[tasks]] table, found {}", tasks.len()));
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in tasks.iter().enumerate() {
        need(names.insert(t.name.clone()), format!("tasks[{i}].name = \"{}\" is used twice", t.name));
        need(!t.name.is_empty() && t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            format!("tasks[{i}].name = \"{}\" must be letters, digits, '_' or '-' (it becomes a token)", t.name));
        need(t.weight > 0.0, format!("tasks[{i}].weight = {} must be > 0", t.weight));
        if let Some(s) = t.split {
            // With a separate test set (test_path, or GB's test/ split) the split is not used.
            let own_test = t.test_path.is_some() || t.format == TaskFormat::GenomicBenchmarks;
            need(s.iter().all(|f| f.is_finite() && *f >= 0.0) && s.iter().sum::<f64>() <= 1.0 + 1e-9,
                format!("tasks[{i}].split = {s:?} must be three fractions >= 0 [train, valid, test] summing to at most 1 (the rest is unused)"));
            need(own_test || s[0] > 0.0, format!("tasks[{i}].split = {s:?}: the train fraction must be > 0"));
            need(own_test || s[2] > 0.0,
                format!("tasks[{i}].split = {s:?}: a test fraction of 0 leaves no test examples; give it a test fraction > 0, or a separate test_path"));
        }
        need(t.test_path.is_some() || t.split.is_some() || t.format == TaskFormat::GenomicBenchmarks,
            format!("tasks[{i}] ({}) needs test_path or split = [train, valid, test]", t.name));
    }
}

impl FinetuneSection {
    fn check(&self, problems: &mut Vec<String>) {
        if self.replicate < 1 {
            problems.push(format!("finetune.replicate = {} must be >= 1", self.replicate));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            problems.push(format!("finetune.valid_fraction = {} must be in [0, 1)", self.valid_fraction));
        }
    }
}

impl BaselineSection {
    fn check(&self, problems: &mut Vec<String>) {
        if !(1..=8).contains(&self.k) {
            problems.push(format!("baseline.k = {} must be in 1..=8", self.k));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            problems.push(format!("baseline.valid_fraction = {} must be in [0, 1)", self.valid_fraction));
        }
    }
}

impl SftSection {
    fn check(&self, problems: &mut Vec<String>) {
        if self.neftune_alpha < 0.0 {
            problems.push(format!("sft.neftune_alpha = {} must be >= 0", self.neftune_alpha));
        }
        if self.eval_batch_size < 1 {
            problems.push(format!("sft.eval_batch_size = {} must be >= 1", self.eval_batch_size));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_experiment;

    /// A kmer_baseline experiment with one `[[tasks]]` entry (`task` is its TOML body).
    fn experiment(dir: &std::path::Path, task: &str) -> std::path::PathBuf {
        let path = dir.join("x.toml");
        let text = format!("name = \"x\"\nkind = \"kmer_baseline\"\n[[tasks]]\nname = \"t\"\n{task}\n[run]\nout_dir = \"runs\"\n");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// A zero test fraction is refused only when it leaves the task without a test set, and
    /// the message says so (it once said "non-negative" while refusing 0).
    #[test]
    fn zero_test_fraction_is_accepted_beside_a_test_file_and_explained_without_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["a.tsv", "b.tsv"] {
            std::fs::write(dir.path().join(f), "seq\tlabel\nACGT\t1\n").expect("write");
        }
        let p = experiment(dir.path(), "format = \"table\"\npath = \"a.tsv\"\ntest_path = \"b.tsv\"\nsplit = [0.9, 0.1, 0.0]");
        load_experiment(&p, &[]).expect("separate test file");
        let p = experiment(dir.path(), "format = \"table\"\npath = \"a.tsv\"\nsplit = [0.9, 0.1, 0.0]");
        let e = load_experiment(&p, &[]).expect_err("no test set").to_string();
        assert!(e.contains("test fraction of 0 leaves no test examples") && e.contains("test_path"), "{e}");
    }

    /// Genomic Benchmarks: the download-cache layout needs no reference; the interval layout does.
    #[test]
    fn gb_reference_is_required_for_the_interval_layout_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("cache/train/positive")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("intervals/train")).expect("mkdir");
        std::fs::write(dir.path().join("intervals/train/positive.csv"), "id,region,start,end,strand\n").expect("write");
        let p = experiment(dir.path(), "format = \"genomic_benchmarks\"\npath = \"cache\"");
        load_experiment(&p, &[]).expect("cache layout");
        let p = experiment(dir.path(), "format = \"genomic_benchmarks\"\npath = \"intervals\"");
        let e = load_experiment(&p, &[]).expect_err("interval layout").to_string();
        assert!(e.contains("needs reference") && e.contains("download-cache layout"), "{e}");
        std::fs::create_dir_all(dir.path().join("cache/test/positive")).expect("mkdir");
        let p = experiment(dir.path(), "format = \"genomic_benchmarks\"\npath = \"cache/train\"");
        let e = load_experiment(&p, &[]).expect_err("split folder").to_string();
        assert!(e.contains("is a split folder") && e.contains("cache\""), "{e}");
    }
}
