//! What a finished `kind = "mmidas"` run writes: `consensus.tsv`, `labels.tsv`,
//! `clusters/cluster_XX.txt`, `eval/results.toml`, and the reference scores; plus the pure
//! functions the figures use (joint labels, arm-vs-arm confusion).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{ArmsEval, MmidasData, RoundResult};
use crate::eval::clustering as metrics;
use crate::mmidas::prune;
use crate::train::session::RunError;

/// Labels of the selected round: per arm, the joint label (argmax of the arms' mean posterior),
/// whether all arms agree, and the joint label's mean posterior.
pub fn joint_labels(eval: &ArmsEval, k: usize) -> Vec<(usize, bool, f32)> {
    let arms = eval.labels.len();
    let n = eval.labels.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            let mean: Vec<f32> = (0..k).map(|c| eval.posteriors.iter().map(|p| p[i * k + c]).sum::<f32>() / arms as f32).collect();
            let best = (0..k).max_by(|&a, &b| mean[a].total_cmp(&mean[b]).then(b.cmp(&a))).unwrap_or(0);
            let agree = eval.labels.iter().all(|l| l[i] == eval.labels[0][i]);
            (best, agree, mean[best])
        })
        .collect()
}

/// The confusion counts between two arms of a round (rows: arm `a`), for figures.
pub fn arm_confusion(round: &RoundResult, a: usize, b: usize) -> Vec<Vec<f64>> {
    prune::confusion(&round.eval.labels[a], &round.eval.labels[b], round.active.len())
}

pub(super) fn io_other(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Write { path: path.to_path_buf(), source }
}

/// `consensus.tsv`: one line per round.
/// `reference[i]`, when given, holds round `i`'s (ARI, NMI) of the joint labels.
pub fn write_consensus(
    path: &Path,
    rounds: &[RoundResult],
    names: &[String],
    selected: usize,
    reference: Option<&[(f64, f64)]>,
) -> Result<(), RunError> {
    let mut out = String::from("k\tconsensus\tagree_fraction");
    names.iter().for_each(|n| out.push_str(&format!("\trecon_{n}")));
    if reference.is_some() {
        out.push_str("\tjoint_ari\tjoint_nmi");
    }
    out.push_str("\tselected\tdir\n");
    for (i, r) in rounds.iter().enumerate() {
        let s = &r.summary;
        out.push_str(&format!("{}\t{:.6}\t{:.6}", s.k, s.consensus, s.agree_fraction));
        s.recon.iter().for_each(|v| out.push_str(&format!("\t{v:.6}")));
        if let Some((ari, nmi)) = reference.and_then(|r| r.get(i)) {
            out.push_str(&format!("\t{ari:.6}\t{nmi:.6}"));
        }
        out.push_str(&format!("\t{}\t{}\n", i == selected, r.dir.file_name().unwrap_or_default().to_string_lossy()));
    }
    std::fs::write(path, out).map_err(io_other(path))
}

/// `labels.tsv` and `clusters/cluster_XX.txt` of the selected round.
pub fn write_labels(run_dir: &Path, data: &MmidasData, round: &RoundResult) -> Result<Vec<usize>, RunError> {
    let k = round.active.len();
    let joint = joint_labels(&round.eval, k);
    let path = run_dir.join("labels.tsv");
    let mut out = String::from("id");
    data.names.iter().for_each(|n| out.push_str(&format!("\t{n}")));
    out.push_str("\tjoint\tagree\tmax_posterior\n");
    for (i, id) in data.ids.iter().enumerate() {
        out.push_str(id);
        round.eval.labels.iter().for_each(|l| out.push_str(&format!("\t{}", l[i])));
        let (j, agree, p) = joint[i];
        out.push_str(&format!("\t{j}\t{agree}\t{p:.4}\n"));
    }
    std::fs::write(&path, out).map_err(io_other(&path))?;
    let dir = run_dir.join("clusters");
    std::fs::create_dir_all(&dir).map_err(io_other(&dir))?;
    let width = k.saturating_sub(1).to_string().len().max(2);
    for c in (0..k).filter(|&c| round.active[c]) {
        let path = dir.join(format!("cluster_{c:0width$}.txt"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io_other(&path))?);
        for (id, _) in data.ids.iter().zip(&joint).filter(|(_, j)| j.0 == c) {
            writeln!(f, "{id}").map_err(io_other(&path))?;
        }
        f.flush().map_err(io_other(&path))?;
    }
    Ok(joint.iter().map(|j| j.0).collect())
}

/// ARI / NMI / AMI of the joint labels and of each arm against reference labels (items without a
/// reference label are left out).
pub fn reference_scores(
    data: &MmidasData,
    round: &RoundResult,
    joint: &[usize],
    reference: &std::collections::HashMap<String, String>,
) -> BTreeMap<String, f64> {
    let keep: Vec<usize> = (0..data.ids.len()).filter(|&i| reference.contains_key(&data.ids[i])).collect();
    let truth: Vec<&str> = keep.iter().map(|&i| reference[&data.ids[i]].as_str()).collect();
    let mut out = BTreeMap::new();
    out.insert("reference/items".into(), keep.len() as f64);
    let mut score = |name: &str, pred: Vec<usize>| {
        if let (Ok(ari), Ok(nmi), Ok(ami)) = (
            metrics::adjusted_rand_index(&pred, &truth),
            metrics::normalized_mutual_info(&pred, &truth),
            metrics::adjusted_mutual_info(&pred, &truth),
        ) {
            out.insert(format!("{name}/ari"), ari);
            out.insert(format!("{name}/nmi"), nmi);
            out.insert(format!("{name}/ami"), ami);
        }
    };
    score("joint", keep.iter().map(|&i| joint[i]).collect());
    for (a, name) in data.names.iter().enumerate() {
        score(name, keep.iter().map(|&i| round.eval.labels[a][i]).collect());
    }
    out
}

/// `eval/results.toml`: the selected K, the metrics and the consensus series.
pub(super) fn write_results(dir: &Path, rounds: &[RoundResult], selected: usize, metrics: &BTreeMap<String, f64>) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(io_other(dir))?;
    let mut t = toml::Table::new();
    t.insert("selected_k".into(), toml::Value::Integer(rounds[selected].summary.k as i64));
    t.insert("selected_dir".into(), toml::Value::String(rounds[selected].dir.display().to_string()));
    let m: toml::Table = metrics.iter().map(|(k, v)| (k.clone(), toml::Value::Float(*v))).collect();
    t.insert("metrics".into(), toml::Value::Table(m));
    let series: Vec<toml::Value> = rounds
        .iter()
        .map(|r| {
            let mut row = toml::Table::new();
            row.insert("k".into(), toml::Value::Integer(r.summary.k as i64));
            row.insert("consensus".into(), toml::Value::Float(r.summary.consensus));
            row.insert("agree_fraction".into(), toml::Value::Float(r.summary.agree_fraction));
            toml::Value::Table(row)
        })
        .collect();
    t.insert("rounds".into(), toml::Value::Array(series));
    let path = dir.join("results.toml");
    std::fs::write(&path, toml::to_string_pretty(&t).unwrap_or_default()).map_err(io_other(&path))
}
