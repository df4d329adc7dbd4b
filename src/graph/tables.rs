//! Single-modality views of an embedding table: Leiden clusters and a 2-D UMAP layout, as the
//! baselines MMIDAS is compared with (scanpy's `pp.neighbors` + `tl.leiden` + `tl.umap`).

use super::weighted::{EdgeWeights, WeightedGraph};
use super::knn::{knn_exact_gemm, knn_hnsw, KnnConfig, KnnError, KnnGraph, Metric};
use super::leiden::{leiden, LeidenConfig};
use super::umap::{umap, UmapConfig};
use crate::mmidas::EmbeddingTable;

/// Up to this many rows the kNN graph is exact (blocked GEMM on the CPU backend: O(n^2 d), about
/// 10^12 multiply-adds and tens of seconds at 20,000 x 1,280 on 2 cores); above it, HNSW.
const EXACT_ROWS: usize = 60_000;

/// Euclidean kNN graph of the table's rows (`k` neighbours, self excluded): exact up to
/// `EXACT_ROWS` rows (HNSW's recall fell to 82 % on 20,000 x 1,280 clustered data, see
/// `mmidas::knn`), HNSW (serial insertion, seeded) above.
pub fn knn_graph(table: &EmbeddingTable, k: usize, seed: u64) -> Result<KnnGraph, KnnError> {
    let (n, dim) = (table.ids.len(), table.dim);
    if n <= EXACT_ROWS {
        type Cpu = <crate::backend::CpuBackend as burn::tensor::backend::AutodiffBackend>::InnerBackend;
        knn_exact_gemm::<Cpu>(&table.values, n, dim, k, Metric::Euclidean, &Default::default())
    } else {
        let config = KnnConfig { k, seed, ..KnnConfig::default() };
        knn_hnsw(&table.values, n, dim, &config)
    }
}

/// Leiden labels (`0..c`, largest community first) of the table's rows: Euclidean kNN graph with
/// `k` neighbours, UMAP fuzzy edge weights (scanpy's default), RB configuration quality at
/// `resolution`.
pub fn leiden_labels(table: &EmbeddingTable, k: usize, resolution: f64, seed: u64) -> Result<Vec<usize>, KnnError> {
    let knn = knn_graph(table, k, seed)?;
    Ok(leiden_on(&knn, resolution, seed))
}

/// Leiden on an existing kNN graph (to share one graph between Leiden and UMAP).
pub fn leiden_on(knn: &KnnGraph, resolution: f64, seed: u64) -> Vec<usize> {
    let graph = WeightedGraph::from_knn(knn, EdgeWeights::Fuzzy);
    leiden(&graph, &LeidenConfig { resolution, seed, ..LeidenConfig::default() })
}

/// 2-D UMAP layout of the table's rows (`min_dist = 0.1`, random initialisation), one point per
/// row in row order.
pub fn umap_2d(table: &EmbeddingTable, k: usize, seed: u64) -> Result<Vec<(f32, f32)>, KnnError> {
    let knn = knn_graph(table, k, seed)?;
    Ok(umap(&knn, &UmapConfig { seed, ..UmapConfig::default() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::clustering::adjusted_rand_index;
    use rand::{Rng, SeedableRng};

    /// `clusters` Gaussian blobs (unit noise, centres at distance ~ `separation`) in `dim`
    /// dimensions, `n` rows.
    pub(super) fn blob_table(n: usize, dim: usize, clusters: usize, separation: f32, seed: u64) -> (EmbeddingTable, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.random_range(-1.0f32..1.0) * separation / (dim as f32 / 3.0).sqrt()).collect();
        let mut values = Vec::with_capacity(n * dim);
        let labels: Vec<usize> = (0..n).map(|i| i % clusters).collect();
        for &c in &labels {
            for d in 0..dim {
                let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
                let z = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
                values.push(centres[c * dim + d] + z);
            }
        }
        let ids = (0..n).map(|i| format!("g{i}")).collect();
        (EmbeddingTable { modality: "test".into(), ids, dim, values, notes: Vec::new() }, labels)
    }

    #[test]
    fn leiden_labels_recover_blobs_and_umap_has_one_point_per_row() {
        let (table, truth) = blob_table(400, 32, 4, 12.0, 3);
        let labels = leiden_labels(&table, 10, 1.0, 0).unwrap();
        let ari = adjusted_rand_index(&labels, &truth).unwrap();
        assert!(ari >= 0.95, "ARI {ari}");
        let knn = knn_graph(&table, 10, 0).unwrap();
        assert_eq!(leiden_on(&knn, 1.0, 0), labels);
    }

    /// Timing at the target size: `cargo test --lib mmidas::views -- --ignored --nocapture`.
    #[test]
    #[ignore = "minutes: 20,000 x 1,280 kNN + Leiden + UMAP timing"]
    fn bench_views_20k_by_1280() {
        // Process CPU seconds (all threads), to compare runs on a shared machine.
        let cpu = || {
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            secs(usage.ru_utime) + secs(usage.ru_stime)
        };
        let (table, truth) = blob_table(20_000, 1_280, 30, 20.0, 1);
        let mut report = Vec::new();
        let (mut wall, mut cpu0) = (std::time::Instant::now(), cpu());
        let mut lap = |name: &str, report: &mut Vec<String>| {
            report.push(format!("{name}: {:.1} s wall, {:.1} s CPU", wall.elapsed().as_secs_f64(), cpu() - cpu0));
            (wall, cpu0) = (std::time::Instant::now(), cpu());
        };
        let knn = knn_graph(&table, 15, 0).unwrap();
        lap("knn (hnsw, k = 15)", &mut report);
        let labels = leiden_on(&knn, 1.0, 0);
        lap("leiden", &mut report);
        let layout = umap(&knn, &UmapConfig::default());
        lap("umap (200 epochs)", &mut report);
        let clusters = labels.iter().max().map_or(0, |m| m + 1);
        let ari = adjusted_rand_index(&labels, &truth).unwrap();
        println!("{} | {clusters} clusters, ARI {ari:.3} vs 30 planted blobs, {} points", report.join(" | "), layout.len());
    }
}

