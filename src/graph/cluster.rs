//! `gfm cluster`: single-modality baselines from embedding tables. Per table: kNN graph, Leiden
//! clusters and a UMAP figure; with a reference label file, ARI / NMI / AMI against it.
//!
//! Outputs in `out`: `leiden.tsv` (`modality`, `id`, `cluster`), `umap_<modality>.png`
//! (coloured by Leiden cluster), `umap_<modality>_labels.png` (coloured by reference label,
//! when given) and `scores.tsv` (`modality`, `genes`, `clusters`, `labelled`, `ari`, `nmi`,
//! `ami`; the scores over genes that have a reference label).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::knn::KnnError;
use crate::eval::clustering::{adjusted_mutual_info, adjusted_rand_index, normalized_mutual_info, MetricError};
use super::umap::{umap, UmapConfig};
use super::{knn_graph, leiden_on};
use crate::mmidas::{read_table, InputError};
use crate::plot::{scatter, PlotError};

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub tables: Vec<PathBuf>,
    /// Ids file for `.npy` / `.safetensors` tables (one id per line, row order).
    pub ids: Option<PathBuf>,
    /// Reference labels: TSV/CSV with the id in the first column and the label in the second;
    /// a first line that names columns is skipped when its id is not a known gene.
    pub labels: Option<PathBuf>,
    pub k: usize,
    pub resolution: f64,
    pub seed: u64,
    pub out: PathBuf,
}

/// One table's result, as written to `scores.tsv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSummary {
    pub modality: String,
    pub genes: usize,
    pub clusters: usize,
    /// Genes with a reference label and the scores over them.
    pub labelled: usize,
    pub scores: Option<(f64, f64, f64)>,
    /// The table reader's notes (which columns became the embedding, what it skipped).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{modality}: {source}")]
    Knn { modality: String, #[source] source: KnnError },
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("{modality}: {source}")]
    Metric { modality: String, #[source] source: MetricError },
    #[error("{path}: {source}")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("{path}: line {line} has no label column; write `id<TAB>label` per line")]
    LabelLine { path: PathBuf, line: usize },
}

/// Modality name of a table path: the file name up to its first dot.
fn modality_of(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("table");
    name.split('.').next().filter(|s| !s.is_empty()).unwrap_or(name).to_string()
}

fn read_labels(path: &Path) -> Result<HashMap<String, String>, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Io { path: path.into(), source })?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = line.split(['\t', ',']).map(str::trim);
        let (Some(id), Some(label)) = (fields.next(), fields.next()) else {
            return Err(ClusterError::LabelLine { path: path.into(), line: i + 1 });
        };
        out.insert(id.to_string(), label.to_string());
    }
    Ok(out)
}

/// Run the baselines for every table (see the module doc) and return one summary per table.
pub fn cluster_tables(options: &ClusterOptions) -> Result<Vec<ClusterSummary>, ClusterError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ClusterError::Io { path: path.clone(), source }
    };
    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    let reference = options.labels.as_deref().map(read_labels).transpose()?;
    let leiden_path = options.out.join("leiden.tsv");
    let mut leiden_tsv = std::io::BufWriter::new(std::fs::File::create(&leiden_path).map_err(io(&leiden_path))?);
    writeln!(leiden_tsv, "modality\tid\tcluster").map_err(io(&leiden_path))?;
    let mut summaries = Vec::new();
    for path in &options.tables {
        let modality = modality_of(path);
        let table = read_table(path, options.ids.as_deref(), &modality)?;
        let knn_error = |source| ClusterError::Knn { modality: modality.clone(), source };
        let knn = knn_graph(&table, options.k, options.seed).map_err(knn_error)?;
        let clusters = leiden_on(&knn, options.resolution, options.seed);
        for (id, c) in table.ids.iter().zip(&clusters) {
            writeln!(leiden_tsv, "{modality}\t{id}\t{c}").map_err(io(&leiden_path))?;
        }
        let layout = umap(&knn, &UmapConfig { seed: options.seed, ..UmapConfig::default() });
        let count = clusters.iter().max().map_or(0, |m| m + 1);
        let title = format!("{modality}: UMAP, {count} Leiden clusters (k = {}, resolution {})", options.k, options.resolution);
        scatter(&options.out.join(format!("umap_{modality}.png")), &title, &layout, &clusters)?;
        let mut summary = ClusterSummary { modality: modality.clone(), genes: table.ids.len(), clusters: count, labelled: 0, scores: None, notes: table.notes.clone() };
        if let Some(reference) = &reference {
            let (mut found, mut truth, mut points, mut names) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (i, id) in table.ids.iter().enumerate() {
                if let Some(label) = reference.get(id) {
                    found.push(clusters[i]);
                    truth.push(label.as_str());
                    points.push(layout[i]);
                    names.push(label.clone());
                }
            }
            summary.labelled = found.len();
            if !found.is_empty() {
                let metric = |source| ClusterError::Metric { modality: modality.clone(), source };
                let ari = adjusted_rand_index(&found, &truth).map_err(metric)?;
                let nmi = normalized_mutual_info(&found, &truth).map_err(metric)?;
                let ami = adjusted_mutual_info(&found, &truth).map_err(metric)?;
                summary.scores = Some((ari, nmi, ami));
                let title = format!("{modality}: UMAP coloured by reference label ({} genes)", found.len());
                scatter(&options.out.join(format!("umap_{modality}_labels.png")), &title, &points, &names)?;
            }
        }
        summaries.push(summary);
    }
    leiden_tsv.flush().map_err(io(&leiden_path))?;
    let scores_path = options.out.join("scores.tsv");
    let mut text = String::from("modality\tgenes\tclusters\tlabelled\tari\tnmi\tami\n");
    for s in &summaries {
        let (ari, nmi, ami) = s.scores.map_or(("".into(), "".into(), "".into()), |(a, n, m)| (format!("{a:.4}"), format!("{n:.4}"), format!("{m:.4}")));
        text += &format!("{}\t{}\t{}\t{}\t{ari}\t{nmi}\t{ami}\n", s.modality, s.genes, s.clusters, s.labelled);
    }
    std::fs::write(&scores_path, text).map_err(io(&scores_path))?;
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_tables_writes_assignments_figures_and_scores() {
        let dir = tempfile::tempdir().unwrap();
        // Two modalities of 60 genes in 3 well-separated groups; labels for 45 of them (+ header).
        let mut labels = String::from("gene\tcell_type\n");
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for (name, dim) in [("rna", 24usize), ("atac", 32)] {
            let mut csv = String::from("gene");
            (0..dim).for_each(|d| csv += &format!(",d{d}"));
            csv += "\n";
            for i in 0..60 {
                csv += &format!("g{i}");
                for d in 0..dim {
                    let centre = if d == i % 3 { 20.0 } else { 0.0 };
                    csv += &format!(",{}", centre + rng.random_range(-1.0f32..1.0));
                }
                csv += "\n";
                if name == "rna" && i < 45 {
                    labels += &format!("g{i}\ttype{}\n", i % 3);
                }
            }
            std::fs::write(dir.path().join(format!("{name}.csv")), csv).unwrap();
        }
        std::fs::write(dir.path().join("labels.tsv"), labels).unwrap();
        let out = dir.path().join("out");
        let options = ClusterOptions {
            tables: vec![dir.path().join("rna.csv"), dir.path().join("atac.csv")],
            ids: None,
            labels: Some(dir.path().join("labels.tsv")),
            k: 8,
            resolution: 1.0,
            seed: 0,
            out: out.clone(),
        };
        let summaries = cluster_tables(&options).unwrap();
        assert_eq!(summaries.len(), 2);
        for s in &summaries {
            assert_eq!((s.genes, s.clusters, s.labelled), (60, 3, 45), "{s:?}");
            assert_eq!(s.scores.unwrap().0, 1.0, "{s:?}");
        }
        let tsv = std::fs::read_to_string(out.join("leiden.tsv")).unwrap();
        assert_eq!(tsv.lines().count(), 1 + 120);
        for file in ["umap_rna.png", "umap_rna_labels.png", "umap_atac.png", "scores.tsv"] {
            assert!(out.join(file).exists(), "{file}");
        }
    }
}
