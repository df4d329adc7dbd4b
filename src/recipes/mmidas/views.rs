//! Figures of an MMIDAS run and the single-modality baselines beside it (`figures/`, `views/`):
//! consensus against the number of categories, the arm-vs-arm confusion of the selected K, and
//! per modality Leiden clusters on its kNN graph and a UMAP layout coloured by Leiden, MMIDAS
//! joint and reference labels, with ARI/NMI/AMI of Leiden against the references and the joint
//! labels.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use super::{arm_confusion, MmidasData, RoundResult};
use crate::mmidas::config::MmidasSection;
use crate::mmidas::prune::{consensus_series, row_normalised};
use crate::graph::umap::{umap, UmapConfig};
use crate::eval::clustering as metrics;
use crate::graph::{knn_graph, leiden_on};
use crate::mmidas::EmbeddingTable;
use crate::plot::{heatmap, line_plot, scatter};
use crate::train::session::RunError;

/// The run's error for a failed write of `path`.
fn write_err(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |source| RunError::Write { path: path.to_path_buf(), source }
}

/// `figures/consensus_vs_k.png` and `figures/confusion_<a>_vs_<b>.png` (selected K, rows
/// normalised, active categories only).
pub fn write_figures(run_dir: &Path, data: &MmidasData, rounds: &[RoundResult], selected: usize, joint_ari: Option<&[(f64, f64)]>) -> Result<(), RunError> {
    let dir = run_dir.join("figures");
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Create { path: dir.clone(), source })?;
    let summaries: Vec<_> = rounds.iter().map(|r| r.summary.clone()).collect();
    let as_f64 = |v: Vec<(usize, f64)>| v.into_iter().map(|(k, c)| (k as f64, c)).collect::<Vec<_>>();
    let mut series = vec![
        ("consensus (mean agreement)", as_f64(consensus_series(&summaries))),
        ("items whose arms agree", rounds.iter().map(|r| (r.summary.k as f64, r.summary.agree_fraction)).collect()),
    ];
    if let Some(scores) = joint_ari {
        series.push(("joint ARI vs reference", rounds.iter().zip(scores).map(|(r, s)| (r.summary.k as f64, s.0)).collect()));
    }
    line_plot(&dir.join("consensus_vs_k.png"), "MMIDAS consensus by number of categories", "categories K", "value", &series)
        ?;
    let round = &rounds[selected];
    let active: Vec<usize> = (0..round.active.len()).filter(|&k| round.active[k]).collect();
    let names: Vec<String> = active.iter().map(|k| format!("c{k}")).collect();
    for a in 0..data.names.len() {
        for b in a + 1..data.names.len() {
            let full = row_normalised(&arm_confusion(round, a, b));
            let m: Vec<Vec<f64>> = active.iter().map(|&i| active.iter().map(|&j| full[i][j]).collect()).collect();
            let title = format!("{} (rows) vs {} (columns), K = {}", data.names[a], data.names[b], round.summary.k);
            let path = dir.join(format!("confusion_{}_vs_{}.png", data.names[a], data.names[b]));
            heatmap(&path, &title, &names, &names, &m, active.len() <= 20)?;
        }
    }
    Ok(())
}

/// Per modality: Leiden labels (`views/leiden.tsv`), UMAP figures, and scores. Returns metrics
/// named `leiden/<modality>/{clusters,ari,nmi,ami}` (against the reference) and
/// `leiden/<modality>/ari_vs_joint`.
pub fn write_views(
    run_dir: &Path,
    data: &MmidasData,
    joint: &[usize],
    reference: Option<&HashMap<String, String>>,
    s: &MmidasSection,
    seed: u64,
    say: &mut dyn FnMut(&str),
) -> Result<BTreeMap<String, f64>, RunError> {
    let dir = run_dir.join("views");
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Create { path: dir.clone(), source })?;
    let mut out = BTreeMap::new();
    let mut columns: Vec<Vec<usize>> = Vec::new();
    let truth: Option<Vec<String>> =
        reference.map(|r| data.ids.iter().map(|id| r.get(id).cloned().unwrap_or_else(|| "unlabelled".into())).collect());
    for (a, name) in data.names.iter().enumerate() {
        let started = std::time::Instant::now();
        let table = EmbeddingTable { modality: name.clone(), ids: data.ids.clone(), dim: data.dims[a], values: data.values[a].clone(), notes: Vec::new() };
        let knn = knn_graph(&table, s.views_k, seed)?;
        let leiden = leiden_on(&knn, s.leiden_resolution, seed);
        let layout = umap(&knn, &UmapConfig { seed, ..UmapConfig::default() });
        let clusters = leiden.iter().max().map_or(0, |m| m + 1);
        out.insert(format!("leiden/{name}/clusters"), clusters as f64);
        out.insert(format!("leiden/{name}/ari_vs_joint"), metrics::adjusted_rand_index(&leiden, joint)?);
        let mut line = format!("{name}: Leiden {clusters} clusters");
        if let (Some(truth), Some(r)) = (&truth, reference) {
            let keep: Vec<usize> = (0..data.ids.len()).filter(|&i| r.contains_key(&data.ids[i])).collect();
            let t: Vec<&str> = keep.iter().map(|&i| truth[i].as_str()).collect();
            let p: Vec<usize> = keep.iter().map(|&i| leiden[i]).collect();
            let ari = metrics::adjusted_rand_index(&p, &t)?;
            out.insert(format!("leiden/{name}/ari"), ari);
            out.insert(format!("leiden/{name}/nmi"), metrics::normalized_mutual_info(&p, &t)?);
            out.insert(format!("leiden/{name}/ami"), metrics::adjusted_mutual_info(&p, &t)?);
            line.push_str(&format!(", ARI {ari:.4} vs reference"));
            scatter(&dir.join(format!("umap_{name}_by_reference.png")), &format!("UMAP of {name}: reference labels"), &layout, truth)
                ?;
        }
        scatter(&dir.join(format!("umap_{name}_by_leiden.png")), &format!("UMAP of {name}: Leiden"), &layout, &leiden)?;
        scatter(&dir.join(format!("umap_{name}_by_mmidas.png")), &format!("UMAP of {name}: MMIDAS joint"), &layout, joint)
            ?;
        say(&format!("{line} ({:.1}s for kNN, Leiden and UMAP)", started.elapsed().as_secs_f64()));
        columns.push(leiden);
    }
    let path = dir.join("leiden.tsv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).map_err(write_err(&path))?);
    let header: Vec<String> = data.names.iter().map(|n| format!("leiden_{n}")).collect();
    writeln!(f, "id\t{}", header.join("\t")).map_err(write_err(&path))?;
    for (i, id) in data.ids.iter().enumerate() {
        let row: Vec<String> = columns.iter().map(|c| c[i].to_string()).collect();
        writeln!(f, "{id}\t{}", row.join("\t")).map_err(write_err(&path))?;
    }
    f.flush().map_err(write_err(&path))?;
    Ok(out)
}
