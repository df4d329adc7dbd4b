//! Reading each `[[tasks]]` entry into train/valid/test examples, adding the task and label tokens
//! to the tokenizer, and building SFT examples in the Omni-DNA format.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{TaskFormat, TaskSpec};
use crate::data::benchmarks::{
    is_gb_cache, nt_metric, read_gb_cache, read_gb_intervals, read_nt, read_table, stratified_split, GbOptions, LabelledSeq, Reference, ReferenceSpec,
    TableSpec, GB_METRIC,
};
use crate::data::sft::{SftExample, SftFormat, SftStats};
use crate::eval::metrics::Metric;
use crate::tokenizer::DnaTokenizer;
use crate::train::session::RunError;

/// One task, read and split.
pub struct TaskData {
    pub name: String,
    pub labels: Vec<String>,
    pub metric: Metric,
    pub weight: f64,
    pub train: Vec<LabelledSeq>,
    pub valid: Vec<LabelledSeq>,
    pub test: Vec<LabelledSeq>,
    /// What the readers did that the caller should print (layout used, hidden files skipped).
    pub notes: Vec<String>,
}

fn bad(task: &str, message: impl std::fmt::Display) -> RunError {
    RunError::Task { task: task.to_string(), message: message.to_string() }
}

fn pick(all: &[LabelledSeq], idx: &[usize]) -> Vec<LabelledSeq> {
    idx.iter().map(|&i| all[i].clone()).collect()
}

fn labels_of(v: &[LabelledSeq]) -> Vec<String> {
    v.iter().map(|e| e.label.clone()).collect()
}

/// Read a task's files and cut train/valid/test as the spec says (stratified by label, seeded);
/// `valid_fraction` of the training examples are held out for validation.
pub fn load_task(spec: &TaskSpec, valid_fraction: f64, seed: u64) -> Result<TaskData, RunError> {
    let name = spec.name.as_str();
    let table = |path: &std::path::Path| {
        let table_spec = TableSpec { labels: spec.labels.clone(), task: Some(spec.name.clone()), ..TableSpec::default() };
        read_table(path, &table_spec).map_err(|e| bad(name, e))
    };
    let nt = |path: &std::path::Path| {
        let which = vec![spec.nt_task.clone().unwrap_or_else(|| spec.name.clone())];
        read_nt(path, Some(&which)).map_err(|e| bad(name, e))
    };
    let mut notes = Vec::new();
    let (train_all, test): (Vec<LabelledSeq>, Option<Vec<LabelledSeq>>) = match spec.format {
        TaskFormat::Table => (table(&spec.path)?, spec.test_path.as_deref().map(table).transpose()?),
        TaskFormat::NucleotideTransformer => (nt(&spec.path)?, spec.test_path.as_deref().map(nt).transpose()?),
        TaskFormat::GenomicBenchmarks if is_gb_cache(&spec.path) => {
            let (train, train_notes) = read_gb_cache(&spec.path, "train").map_err(|e| bad(name, e))?;
            let (test, test_notes) = read_gb_cache(&spec.path, "test").map_err(|e| bad(name, e))?;
            notes.push(format!("{}: Genomic Benchmarks download-cache layout (<split>/<class>/<n>.txt)", spec.path.display()));
            if spec.reference.is_some() {
                notes.push("the cache layout holds its sequences, so `reference` is not read".into());
            }
            notes.extend(train_notes.into_iter().chain(test_notes));
            (train, Some(test))
        }
        TaskFormat::GenomicBenchmarks => {
            let reference = spec.reference.as_ref().ok_or_else(|| {
                bad(name, format!("{} is the Genomic Benchmarks interval layout (<split>/<class>.csv.gz), which needs reference = \"<FASTA>\"", spec.path.display()))
            })?;
            let reference = Reference::load(&ReferenceSpec::new(reference)).map_err(|e| bad(name, e))?;
            let opts = GbOptions { skip_missing: false };
            let (train, train_stats) = read_gb_intervals(&spec.path, "train", &reference, &opts).map_err(|e| bad(name, e))?;
            let (test, test_stats) = read_gb_intervals(&spec.path, "test", &reference, &opts).map_err(|e| bad(name, e))?;
            notes.extend(train_stats.notes.into_iter().chain(test_stats.notes));
            (train, Some(test))
        }
    };
    if test.is_some() && spec.split.is_some() {
        notes.push(format!("task {name}: `split` is not used: the test set is separate, and validation takes valid_fraction = {valid_fraction} of the training examples"));
    }
    let (mut train, valid, test) = match test {
        Some(test) => {
            let parts = stratified_split(&labels_of(&train_all), &[1.0 - valid_fraction, valid_fraction], seed)
                .map_err(|e| bad(name, e))?;
            (pick(&train_all, &parts[0]), pick(&train_all, &parts[1]), test)
        }
        None => {
            let f = spec.split.ok_or_else(|| bad(name, "needs test_path or split"))?;
            let parts = stratified_split(&labels_of(&train_all), &f, seed).map_err(|e| bad(name, e))?;
            (pick(&train_all, &parts[0]), pick(&train_all, &parts[1]), pick(&train_all, &parts[2]))
        }
    };
    // Split parts come back in file order, and benchmark files are often sorted by label: shuffle
    // the validation part so the first `eval_max_examples` of it hold every class.
    let mut valid = valid;
    valid.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x7a11d));
    if let Some(max) = spec.max_train.filter(|&m| m < train.len()) {
        train.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
        train.truncate(max);
    }
    let labels = match &spec.labels {
        Some(l) => l.clone(),
        None => train.iter().map(|e| e.label.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
    };
    for e in valid.iter().chain(&test) {
        if !labels.contains(&e.label) {
            return Err(bad(name, format!("label `{}` of {} is not among the training labels {labels:?}; declare `labels`", e.label, e.id)));
        }
    }
    if train.is_empty() || test.is_empty() {
        return Err(bad(name, format!("{} training and {} test examples; both must be non-empty", train.len(), test.len())));
    }
    let metric = spec.metric.unwrap_or_else(|| match spec.format {
        TaskFormat::NucleotideTransformer => nt_metric(spec.nt_task.as_deref().unwrap_or(name)).unwrap_or(Metric::Mcc),
        _ => GB_METRIC,
    });
    Ok(TaskData { name: spec.name.clone(), labels, metric, weight: spec.weight, train, valid, test, notes })
}

/// The token strings a task adds: its task token and one token per label.
pub fn task_token(task: &str) -> String {
    format!("[TASK_{task}]")
}

pub fn label_token(task: &str, label: &str) -> String {
    format!("[{task}={label}]")
}

/// Token ids of one task after vocabulary expansion.
pub struct TaskVocab {
    pub prompt: Vec<u32>,
    pub label_ids: Vec<u32>,
}

/// Add every task's tokens to `tok` (existing ids never move; repeated calls change nothing).
pub fn expand_tokenizer(tok: &mut DnaTokenizer, tasks: &[TaskData], task_tokens: bool) -> Result<Vec<TaskVocab>, RunError> {
    let mut out = Vec::new();
    for t in tasks {
        let prompt = if task_tokens {
            tok.add_tokens(&[task_token(&t.name).as_str()])?
        } else {
            Vec::new()
        };
        let labels: Vec<String> = t.labels.iter().map(|l| label_token(&t.name, l)).collect();
        let refs: Vec<&str> = labels.iter().map(|s| s.as_str()).collect();
        let label_ids = tok.add_tokens(&refs)?;
        out.push(TaskVocab { prompt, label_ids });
    }
    Ok(out)
}

/// SFT examples of a list of labelled sequences (the label's token, replicated by the format).
pub fn sft_examples(
    seqs: &[LabelledSeq],
    task: &TaskData,
    vocab: &TaskVocab,
    format: &SftFormat,
    tok: &DnaTokenizer,
    stats: &mut SftStats,
) -> Result<Vec<SftExample>, RunError> {
    let mut out = Vec::with_capacity(seqs.len());
    for e in seqs {
        let class = task.labels.iter().position(|l| *l == e.label).ok_or_else(|| bad(&task.name, format!("unknown label {}", e.label)))?;
        let dna = tok.encode_dna(&e.seq)?;
        if let Some(ex) = format.example(&dna, &[vocab.label_ids[class]], stats).map_err(|err| bad(&task.name, err))? {
            out.push(ex);
        }
    }
    Ok(out)
}

/// A deterministic order of training examples honouring the task weights: position `k` of an
/// epoch is drawn from task `t` with probability `w_t / sum(w)`, cycling through that task's
/// examples in a seeded order. Returns `(task, example)` pairs, one epoch of `total` draws.
pub fn weighted_schedule(sizes: &[usize], weights: &[f64], total: usize, seed: u64) -> Vec<(usize, usize)> {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a5c);
    let orders: Vec<Vec<usize>> = sizes
        .iter()
        .map(|&n| {
            let mut o: Vec<usize> = (0..n).collect();
            o.shuffle(&mut rng);
            o
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut next = vec![0usize; sizes.len()];
    (0..total)
        .map(|_| {
            let mut x = rng.random::<f64>() * sum;
            let mut t = 0;
            while t + 1 < weights.len() && x >= weights[t] {
                x -= weights[t];
                t += 1;
            }
            let i = orders[t][next[t] % sizes[t]];
            next[t] += 1;
            (t, i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_schedule_follows_the_weights_and_is_deterministic() {
        let s = weighted_schedule(&[10, 1000], &[3.0, 1.0], 4000, 1);
        let first = s.iter().filter(|(t, _)| *t == 0).count() as f64 / 4000.0;
        assert!((first - 0.75).abs() < 0.03, "{first}");
        assert_eq!(s, weighted_schedule(&[10, 1000], &[3.0, 1.0], 4000, 1));
        // The small task cycles through all of its examples.
        let seen: BTreeSet<usize> = s.iter().filter(|(t, _)| *t == 0).map(|(_, i)| *i).collect();
        assert_eq!(seen.len(), 10);
    }
}
