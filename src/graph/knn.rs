//! k-nearest-neighbour graphs over an embedding table, the input of Leiden and UMAP.
//!
//! [`knn_hnsw`] is approximate, through `hnsw_rs` (Malkov & Yashunin 2018, HNSW). [`knn_exact`]
//! is brute force, O(n^2 d), for small tables and for measuring the recall of the former;
//! [`knn_exact_gemm`] is the same exact graph by blocked matrix products on a burn backend, the
//! default up to 60,000 rows (`mmidas::views::knn_graph`).
//!
//! Determinism: hnsw_rs draws each point's layer from its own generator with a fixed seed (397),
//! and the graph depends on insertion order. Points are inserted serially in an order shuffled
//! by `seed` (ChaCha8), so the graph is a function of (data, config). Queries are read-only and
//! run on rayon threads, which does not change results. Parallel insertion is faster but not
//! reproducible; it is opt-in (`parallel_insert`).
//!
//! Known limitation (measured, see `mmidas::views` bench): on 30 well-separated Gaussian blobs in
//! 1,280 dimensions, 5,000 rows give recall@15 0.9998 against [`knn_exact`], but at 20,000 rows
//! only 82 % of HNSW neighbours lie in the point's own blob (exact: 100 %); hnsw_rs'
//! `keep_pruned` made it worse (55 %). Reduce dimension first (PCA to ~50, as scanpy does) or
//! use an exact GEMM-based kNN for such tables.
//!
//! Cosine distance is `1 - cos(a, b)`. It is computed as `|a' - b'|^2 / 2` on L2-normalised rows
//! (the same ordering as cosine, with hnsw_rs' L2 kernel); an all-zero row stays zero and is at
//! distance 0.5 from every unit vector.

use hnsw_rs::prelude::{DistL2, Hnsw};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Distance between two embedding rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// `|a - b|_2`.
    #[default]
    Euclidean,
    /// `1 - a.b / (|a| |b|)`.
    Cosine,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KnnConfig {
    /// Neighbours per node, excluding the node itself.
    pub k: usize,
    pub metric: Metric,
    /// HNSW `M`: links kept per node and layer (at most 256).
    pub max_connections: usize,
    /// HNSW `ef_construction`: candidate list width while inserting.
    pub ef_construction: usize,
    /// HNSW `ef` at query time; raised to at least `2 (k + 1)`.
    pub ef_search: usize,
    /// Shuffles the insertion order.
    pub seed: u64,
    /// Insert on all threads: faster, but the graph then varies from run to run.
    pub parallel_insert: bool,
}

impl Default for KnnConfig {
    fn default() -> Self {
        Self {
            k: 15,
            metric: Metric::Euclidean,
            max_connections: 16,
            ef_construction: 100,
            ef_search: 64,
            seed: 0,
            parallel_insert: false,
        }
    }
}

/// Each node's `k` nearest other nodes, nearest first (ties by index).
#[derive(Debug, Clone, PartialEq)]
pub struct KnnGraph {
    pub n: usize,
    pub k: usize,
    /// `[n * k]`: row `i` holds node `i`'s neighbours.
    pub indices: Vec<u32>,
    /// `[n * k]`: the matching distances, ascending within a row.
    pub distances: Vec<f32>,
}

impl KnnGraph {
    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    pub fn distances_of(&self, i: usize) -> &[f32] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KnnError {
    #[error("embedding table has {len} values, not rows x dim = {n} x {dim}")]
    Shape { len: usize, n: usize, dim: usize },
    #[error("k = {k} neighbours need at least k + 1 = {} rows, the table has {n}; lower k", k + 1)]
    TooFewRows { k: usize, n: usize },
    #[error("k must be at least 1")]
    ZeroK,
    #[error("row {row}, column {column} is {value}; impute or drop that row before building a kNN graph")]
    NonFinite { row: usize, column: usize, value: f32 },
    #[error("max_connections = {0} must be in 2..=256 (hnsw_rs limit)")]
    Connections(usize),
}

fn validate(values: &[f32], n: usize, dim: usize, k: usize) -> Result<(), KnnError> {
    if dim == 0 || values.len() != n * dim {
        return Err(KnnError::Shape { len: values.len(), n, dim });
    }
    if k == 0 {
        return Err(KnnError::ZeroK);
    }
    if n <= k {
        return Err(KnnError::TooFewRows { k, n });
    }
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(KnnError::NonFinite { row: at / dim, column: at % dim, value: values[at] });
    }
    Ok(())
}

/// Rows as given (Euclidean) or L2-normalised (cosine).
fn prepared(values: &[f32], dim: usize, metric: Metric) -> std::borrow::Cow<'_, [f32]> {
    match metric {
        Metric::Euclidean => std::borrow::Cow::Borrowed(values),
        Metric::Cosine => {
            let mut out = values.to_vec();
            for row in out.chunks_mut(dim) {
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|v| *v /= norm);
                }
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// L2 distance on prepared rows -> the metric's distance.
fn finish(metric: Metric, l2: f32) -> f32 {
    match metric {
        Metric::Euclidean => l2,
        Metric::Cosine => 0.5 * l2 * l2,
    }
}

/// Approximate kNN graph of the `n x dim` row-major table `values` through HNSW.
pub fn knn_hnsw(values: &[f32], n: usize, dim: usize, config: &KnnConfig) -> Result<KnnGraph, KnnError> {
    let k = config.k;
    validate(values, n, dim, k)?;
    if !(2..=256).contains(&config.max_connections) {
        return Err(KnnError::Connections(config.max_connections));
    }
    let data = prepared(values, dim, config.metric);
    let rows: Vec<&[f32]> = data.chunks(dim).collect();
    let layers = 16;
    let mut index: Hnsw<f32, DistL2> =
        Hnsw::new(config.max_connections, n, layers, config.ef_construction, DistL2 {});
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(config.seed));
    if config.parallel_insert {
        let batch: Vec<(&[f32], usize)> = order.iter().map(|&i| (rows[i], i)).collect();
        index.parallel_insert_slice(&batch);
    } else {
        for &i in &order {
            index.insert_slice((rows[i], i));
        }
    }
    index.set_searching_mode(true);
    let queries: Vec<Vec<f32>> = rows.iter().map(|r| r.to_vec()).collect();
    let ef = config.ef_search.max(2 * (k + 1));
    let found = index.parallel_search(&queries, k + 1, ef);
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for (i, hits) in found.into_iter().enumerate() {
        let mut row: Vec<(f32, u32)> = hits
            .iter()
            .filter(|h| h.d_id != i)
            .map(|h| (finish(config.metric, h.distance), h.d_id as u32))
            .collect();
        row.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        row.truncate(k);
        // HNSW may return fewer than k + 1 hits on tiny or degenerate data: fill exactly.
        if row.len() < k {
            row = exact_row(&data, dim, i, k, config.metric);
        }
        indices.extend(row.iter().map(|r| r.1));
        distances.extend(row.iter().map(|r| r.0));
    }
    Ok(KnnGraph { n, k, indices, distances })
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// Node `i`'s `k` nearest others by brute force on prepared rows.
fn exact_row(data: &[f32], dim: usize, i: usize, k: usize, metric: Metric) -> Vec<(f32, u32)> {
    let query = &data[i * dim..(i + 1) * dim];
    let mut row: Vec<(f32, u32)> = data
        .chunks(dim)
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(j, other)| (finish(metric, l2(query, other)), j as u32))
        .collect();
    let by = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    row.select_nth_unstable_by(k - 1, by);
    row.truncate(k);
    row.sort_by(by);
    row
}

/// Exact kNN graph by comparing every pair: O(n^2 dim); for a few thousand rows.
/// Exact kNN by blocks of a matrix product on `B` (`|a|^2 + |b|^2 - 2 a.b` over a block of query
/// rows against every row, then a host-side selection of the `k` smallest per row, whose
/// distances are recomputed exactly). The same graph as [`knn_exact`] up to ties of equal
/// distance, at GEMM speed: 20,000 x 1,280 takes seconds rather than minutes, which is where
/// [`knn_hnsw`]'s recall breaks down (module doc).
///
/// # Shapes
/// - values: `[n * dim]` → `[n * k]` neighbours and distances
pub fn knn_exact_gemm<B: burn::tensor::backend::Backend>(
    values: &[f32],
    n: usize,
    dim: usize,
    k: usize,
    metric: Metric,
    device: &B::Device,
) -> Result<KnnGraph, KnnError> {
    use burn::tensor::Tensor;
    validate(values, n, dim, k)?;
    let data = prepared(values, dim, metric);
    let x = Tensor::<B, 1>::from_floats(&data[..], device).reshape([n, dim]); // [n, d]
    let sq = x.clone().powf_scalar(2.0).sum_dim(1).reshape([1, n]); // [1, n]
    let xt = x.clone().transpose(); // [d, n]
    // Rows per block: keep a block's distance matrix near 64 MiB.
    let block = (16_000_000 / n).clamp(1, n);
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        let q = x.clone().slice([start..end, 0..dim]); // [b, d]
        let d2 = sq.clone() - q.matmul(xt.clone()).mul_scalar(2.0); // [b, n], without |q|^2 (constant per row)
        let d2: Vec<f32> = d2.into_data().iter::<f32>().collect();
        for (r, row) in d2.chunks(n).enumerate() {
            let i = start + r;
            let mut cand: Vec<(f32, u32)> = row.iter().enumerate().filter(|(j, _)| *j != i).map(|(j, &v)| (v, j as u32)).collect();
            // Keep a margin of candidates against rounding in the expanded form, then rank them
            // by their exact distances.
            let m = (2 * k).min(cand.len());
            cand.select_nth_unstable_by(m - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            cand.truncate(m);
            let query = &data[i * dim..(i + 1) * dim];
            let mut exact: Vec<(f32, u32)> =
                cand.iter().map(|&(_, j)| (finish(metric, l2(query, &data[j as usize * dim..(j as usize + 1) * dim])), j)).collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            indices.extend(exact[..k].iter().map(|e| e.1));
            distances.extend(exact[..k].iter().map(|e| e.0));
        }
        start = end;
    }
    Ok(KnnGraph { n, k, indices, distances })
}

pub fn knn_exact(values: &[f32], n: usize, dim: usize, k: usize, metric: Metric) -> Result<KnnGraph, KnnError> {
    validate(values, n, dim, k)?;
    let data = prepared(values, dim, metric);
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for i in 0..n {
        let row = exact_row(&data, dim, i, k, metric);
        indices.extend(row.iter().map(|r| r.1));
        distances.extend(row.iter().map(|r| r.0));
    }
    Ok(KnnGraph { n, k, indices, distances })
}

/// Fraction of `exact`'s neighbour lists that `approx` also found (recall@k), over all nodes.
pub fn recall(approx: &KnnGraph, exact: &KnnGraph) -> f64 {
    let mut hits = 0usize;
    for i in 0..exact.n {
        let found = approx.neighbours(i);
        hits += exact.neighbours(i).iter().filter(|j| found.contains(j)).count();
    }
    hits as f64 / (exact.n * exact.k).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    pub(super) fn random_table(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn gemm_knn_equals_brute_force() {
        type B = <crate::backend::CpuBackend as burn::tensor::backend::AutodiffBackend>::InnerBackend;
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let values = random_table(300, 12, 4);
            let exact = knn_exact(&values, 300, 12, 7, metric).unwrap();
            let gemm = knn_exact_gemm::<B>(&values, 300, 12, 7, metric, &Default::default()).unwrap();
            assert_eq!(gemm.indices, exact.indices, "{metric:?}");
            for (a, b) in gemm.distances.iter().zip(&exact.distances) {
                assert!((a - b).abs() <= 1e-6 * b.max(1.0), "{metric:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn hnsw_recall_against_exact_is_at_least_95_percent() {
        let dim = 8;
        for (metric, n) in [(Metric::Euclidean, 2_000), (Metric::Cosine, 1_000)] {
            let values = random_table(n, dim, 1);
            let config = KnnConfig { k: 10, metric, ..KnnConfig::default() };
            let approx = knn_hnsw(&values, n, dim, &config).unwrap();
            let exact = knn_exact(&values, n, dim, 10, metric).unwrap();
            let r = recall(&approx, &exact);
            eprintln!("{metric:?} recall@10 {r}");
            assert!(r >= 0.95, "{metric:?} recall {r}");
            assert!((0..n).all(|i| !approx.neighbours(i).contains(&(i as u32))));
            assert!(approx.distances.windows(1).all(|d| d[0] >= 0.0));
        }
    }

    #[test]
    fn exact_graph_matches_hand_computed_neighbours() {
        // Points on a line at 0, 1, 3, 7: neighbours by distance, self excluded.
        let values = [0.0f32, 1.0, 3.0, 7.0];
        let g = knn_exact(&values, 4, 1, 2, Metric::Euclidean).unwrap();
        assert_eq!(g.indices, [1, 2, 0, 2, 1, 0, 2, 1]);
        assert_eq!(g.distances, [1.0, 3.0, 1.0, 2.0, 2.0, 3.0, 4.0, 6.0]);
        // Cosine: (1,0), (1,1), (0,1), (-1,0) -> 1 - cos.
        let values = [1.0f32, 0.0, 1.0, 1.0, 0.0, 2.0, -3.0, 0.0];
        let g = knn_exact(&values, 4, 2, 1, Metric::Cosine).unwrap();
        assert_eq!(g.indices, [1, 0, 1, 2]);
        let half = 1.0 - std::f32::consts::FRAC_1_SQRT_2;
        assert!((g.distances[0] - half).abs() < 1e-6 && (g.distances[3] - 1.0).abs() < 1e-6, "{:?}", g.distances);
    }

    #[test]
    fn hnsw_graph_is_deterministic_for_a_seed() {
        let values = random_table(500, 8, 2);
        let config = KnnConfig { k: 5, seed: 7, ..KnnConfig::default() };
        let a = knn_hnsw(&values, 500, 8, &config).unwrap();
        let b = knn_hnsw(&values, 500, 8, &config).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_tables_are_rejected_with_the_reason() {
        let err = knn_hnsw(&[1.0; 6], 3, 2, &KnnConfig { k: 3, ..KnnConfig::default() }).unwrap_err();
        assert!(matches!(err, KnnError::TooFewRows { k: 3, n: 3 }), "{err}");
        let err = knn_exact(&[1.0; 5], 3, 2, 1, Metric::Euclidean).unwrap_err();
        assert!(matches!(err, KnnError::Shape { .. }), "{err}");
        let err = knn_exact(&[1.0, f32::NAN, 0.0, 0.0], 2, 2, 1, Metric::Euclidean).unwrap_err();
        assert!(matches!(err, KnnError::NonFinite { row: 0, column: 1, .. }), "{err}");
    }
}
