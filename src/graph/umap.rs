//! UMAP to 2-D (McInnes, Healy & Melville 2018, arXiv:1802.03426), following the reference
//! implementation umap-learn (`umap_.py`: `smooth_knn_dist`, `fuzzy_simplicial_set`,
//! `find_ab_params`; `layouts.py`: `optimize_layout_euclidean`) for the formulas and defaults.
//!
//! 1. Fuzzy simplicial set ([`fuzzy_simplicial_set`]): per point `rho_i` = distance to its
//!    nearest neighbour and `sigma_i` by binary search so that
//!    `sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)` over its `k` neighbours (self
//!    excluded; umap-learn's `n_neighbors` counts the point itself, so its `n_neighbors = k + 1`
//!    targets `log2(k + 1)`); `sigma_i` is floored at `1e-3` times the mean neighbour distance.
//!    Memberships `p_ij = exp(-max(0, d_ij - rho_i) / sigma_i)` are symmetrised as
//!    `p_ij + p_ji - p_ij p_ji`.
//! 2. Output kernel `1 / (1 + a d^(2b))`, `(a, b)` fitted by least squares to the `min_dist`
//!    / `spread` curve ([`fit_ab`]; 1.577, 0.895 for `min_dist = 0.1`, as umap-learn).
//! 3. Initial layout: uniform in `[0, 10)^2` from the seed. umap-learn defaults to a spectral
//!    layout, which keeps more global structure; random initialisation is its documented
//!    alternative (`init = "random"`) and avoids an eigensolver here.
//! 4. SGD over `n_epochs` (200 above 10,000 points, 500 otherwise, as umap-learn): edge `ij`
//!    is sampled every `max_w / w_ij` epochs (edges below `max_w / n_epochs` dropped), with 5
//!    negative samples per positive one; gradients clipped to `[-4, 4]`, learning rate
//!    decaying linearly from 1 to 0.
//!
//! Single-threaded with a ChaCha8 generator: the layout is a function of (kNN graph, config).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::weighted::WeightedGraph;
use super::knn::KnnGraph;

#[derive(Debug, Clone, PartialEq)]
pub struct UmapConfig {
    /// `None`: 500 epochs up to 10,000 points, 200 above.
    pub n_epochs: Option<usize>,
    /// Smallest distance between embedded points (umap-learn `min_dist`).
    pub min_dist: f64,
    /// Scale of embedded distances (umap-learn `spread`).
    pub spread: f64,
    /// Negative samples per positive sample.
    pub negative_sample_rate: usize,
    /// Initial SGD step (umap-learn `learning_rate`).
    pub learning_rate: f32,
    pub seed: u64,
}

impl Default for UmapConfig {
    fn default() -> Self {
        Self { n_epochs: None, min_dist: 0.1, spread: 1.0, negative_sample_rate: 5, learning_rate: 1.0, seed: 0 }
    }
}

/// Per point `(rho, sigma)` (umap-learn `smooth_knn_dist` with `local_connectivity = 1`).
fn smooth_distances(knn: &KnnGraph) -> Vec<(f64, f64)> {
    let target = (knn.k as f64).log2().max(1e-3);
    let mean_all = knn.distances.iter().map(|&d| d as f64).sum::<f64>() / knn.distances.len().max(1) as f64;
    (0..knn.n)
        .map(|i| {
            let d: Vec<f64> = knn.distances_of(i).iter().map(|&x| x as f64).collect();
            let rho = d.iter().copied().find(|&x| x > 0.0).unwrap_or(0.0);
            let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
            for _ in 0..64 {
                let sum: f64 = d.iter().map(|&x| if x > rho { (-(x - rho) / mid).exp() } else { 1.0 }).sum();
                if (sum - target).abs() < 1e-5 {
                    break;
                }
                if sum > target {
                    hi = mid;
                    mid = 0.5 * (lo + hi);
                } else {
                    lo = mid;
                    mid = if hi.is_infinite() { 2.0 * mid } else { 0.5 * (lo + hi) };
                }
            }
            let mean_i = d.iter().sum::<f64>() / d.len().max(1) as f64;
            let floor = 1e-3 * if rho > 0.0 { mean_i } else { mean_all };
            (rho, mid.max(floor))
        })
        .collect()
}

/// UMAP's symmetric fuzzy graph of a kNN graph (module doc, step 1).
pub fn fuzzy_simplicial_set(knn: &KnnGraph) -> WeightedGraph {
    let smooth = smooth_distances(knn);
    let mut entries = Vec::with_capacity(knn.n * knn.k);
    for (i, &(rho, sigma)) in smooth.iter().enumerate() {
        for (&j, &d) in knn.neighbours(i).iter().zip(knn.distances_of(i)) {
            let p = if (d as f64) <= rho { 1.0 } else { (-(d as f64 - rho) / sigma).exp() };
            entries.push((i as u32, j, p));
        }
    }
    WeightedGraph::from_directed(knn.n, &entries, |a, b| a + b - a * b)
}

/// `(a, b)` of `1 / (1 + a x^(2b))` fitted (Levenberg-Marquardt, least squares on 300 points
/// of `[0, 3 spread]`) to `1` below `min_dist` and `exp(-(x - min_dist) / spread)` above
/// (umap-learn `find_ab_params`, which uses scipy's `curve_fit` from `(1, 1)`).
pub fn fit_ab(min_dist: f64, spread: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| if x < min_dist { 1.0 } else { (-(x - min_dist) / spread).exp() }).collect();
    let loss = |a: f64, b: f64| -> f64 {
        xs.iter().zip(&ys).map(|(&x, &y)| { let g = 1.0 / (1.0 + a * x.powf(2.0 * b)); (g - y) * (g - y) }).sum()
    };
    let (mut a, mut b, mut lambda) = (1.0f64, 1.0f64, 1e-3f64);
    let mut current = loss(a, b);
    for _ in 0..500 {
        // Normal equations J^T J + lambda diag(J^T J) of the residuals g - y.
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            if x <= 0.0 {
                continue;
            }
            let p = x.powf(2.0 * b);
            let g = 1.0 / (1.0 + a * p);
            let (da, db) = (-p * g * g, -a * p * 2.0 * x.ln() * g * g);
            let r = g - y;
            (jaa, jab, jbb, ga, gb) = (jaa + da * da, jab + da * db, jbb + db * db, ga + da * r, gb + db * r);
        }
        let (m00, m11) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = m00 * m11 - jab * jab;
        if det.abs() < 1e-300 {
            break;
        }
        let step_a = -(m11 * ga - jab * gb) / det;
        let step_b = -(m00 * gb - jab * ga) / det;
        let trial = loss(a + step_a, b + step_b);
        if trial < current {
            let done = (current - trial) < 1e-15 * current.max(1e-300);
            (a, b, current, lambda) = (a + step_a, b + step_b, trial, lambda * 0.3);
            if done {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

/// 2-D UMAP layout of the points of `knn` (module doc): `[n]` points `(x, y)`.
pub fn umap(knn: &KnnGraph, config: &UmapConfig) -> Vec<(f32, f32)> {
    let n = knn.n;
    let graph = fuzzy_simplicial_set(knn);
    let n_epochs = config.n_epochs.unwrap_or(if n <= 10_000 { 500 } else { 200 }).max(1);
    let (a, b) = fit_ab(config.min_dist, config.spread);
    let (a, b) = (a as f32, b as f32);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut y: Vec<[f32; 2]> = (0..n).map(|_| [rng.random_range(0.0..10.0), rng.random_range(0.0..10.0)]).collect();

    // Directed edges (both directions of each symmetric one), as umap-learn's COO graph.
    let max_w = graph.weights.iter().copied().fold(0.0f64, f64::max);
    let mut heads = Vec::new();
    let mut tails = Vec::new();
    let mut epochs_per_sample = Vec::new();
    for i in 0..n {
        for (j, w) in graph.row(i) {
            if w >= max_w / n_epochs as f64 {
                heads.push(i);
                tails.push(j);
                epochs_per_sample.push(max_w / w);
            }
        }
    }
    let rate = config.negative_sample_rate.max(1) as f64;
    let epochs_per_negative: Vec<f64> = epochs_per_sample.iter().map(|e| e / rate).collect();
    let mut next_sample = epochs_per_sample.clone();
    let mut next_negative = epochs_per_negative.clone();
    let clip = |g: f32| g.clamp(-4.0, 4.0);
    for epoch in 0..n_epochs {
        let alpha = config.learning_rate * (1.0 - epoch as f32 / n_epochs as f32);
        let e = epoch as f64;
        for edge in 0..heads.len() {
            if next_sample[edge] > e {
                continue;
            }
            let (j, k) = (heads[edge], tails[edge]);
            let (cur, other) = (y[j], y[k]);
            let diff = [cur[0] - other[0], cur[1] - other[1]];
            let d2 = diff[0] * diff[0] + diff[1] * diff[1];
            let coeff = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for d in 0..2 {
                let grad = clip(coeff * diff[d]);
                y[j][d] += grad * alpha;
                y[k][d] -= grad * alpha;
            }
            next_sample[edge] += epochs_per_sample[edge];

            let negatives = ((e - next_negative[edge]) / epochs_per_negative[edge]).floor().max(0.0) as usize;
            for _ in 0..negatives {
                let k = rng.random_range(0..n);
                if k == j {
                    continue;
                }
                let (cur, other) = (y[j], y[k]);
                let diff = [cur[0] - other[0], cur[1] - other[1]];
                let d2 = diff[0] * diff[0] + diff[1] * diff[1];
                let coeff = if d2 > 0.0 { 2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0)) } else { 0.0 };
                for d in 0..2 {
                    // Coincident points get the largest push (umap-learn uses 4 as well).
                    let grad = if coeff > 0.0 { clip(coeff * diff[d]) } else { 4.0 };
                    y[j][d] += grad * alpha;
                }
            }
            next_negative[edge] += negatives as f64 * epochs_per_negative[edge];
        }
    }
    y.into_iter().map(|p| (p[0], p[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::knn::{knn_exact, Metric};

    #[test]
    fn fitted_curve_matches_umap_learn_for_min_dist_0_1() {
        // umap-learn 0.5 find_ab_params(1.0, 0.1) = (1.5769434604, 0.8950608781).
        let (a, b) = fit_ab(0.1, 1.0);
        assert!((a - 1.5769).abs() < 2e-3 && (b - 0.89506).abs() < 1e-3, "a {a}, b {b}");
    }

    #[test]
    fn sigma_makes_memberships_sum_to_log2_k() {
        let distances: Vec<f32> = (0..40).map(|i| 1.0 + (i % 8) as f32 * 0.3 + (i / 8) as f32 * 0.01).collect();
        let knn = KnnGraph { n: 5, k: 8, indices: vec![0; 40], distances };
        for (i, &(rho, sigma)) in smooth_distances(&knn).iter().enumerate() {
            let sum: f64 = knn.distances_of(i).iter().map(|&d| (-((d as f64 - rho).max(0.0)) / sigma).exp()).sum();
            assert!((sum - 3.0).abs() < 1e-4, "row {i}: {sum}");
            assert_eq!(rho, knn.distances_of(i)[0] as f64);
        }
    }

    /// Three Gaussian blobs in 20-D (unit variance, centres 10 apart), `per` points each.
    fn blobs(per: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..3 * per {
            let blob = i % 3;
            for d in 0..20 {
                // Box-Muller.
                let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
                let z = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
                values.push(z + if d == blob { 10.0 } else { 0.0 });
            }
            labels.push(blob);
        }
        (values, labels)
    }

    #[test]
    fn separated_blobs_stay_separated_and_layout_is_deterministic() {
        let (values, labels) = blobs(100, 4);
        let knn = knn_exact(&values, 300, 20, 10, Metric::Euclidean).unwrap();
        let config = UmapConfig { n_epochs: Some(200), seed: 1, ..UmapConfig::default() };
        let layout = umap(&knn, &config);
        let mut centroid = [[0.0f32; 2]; 3];
        for (p, &l) in layout.iter().zip(&labels) {
            centroid[l][0] += p.0 / 100.0;
            centroid[l][1] += p.1 / 100.0;
        }
        let dist = |p: &(f32, f32), c: [f32; 2]| (p.0 - c[0]).hypot(p.1 - c[1]);
        let nearest_own = layout
            .iter()
            .zip(&labels)
            .filter(|(p, &l)| (0..3).all(|c| c == l || dist(p, centroid[l]) < dist(p, centroid[c])))
            .count();
        assert!(nearest_own >= 297, "{nearest_own} / 300 nearest their own centroid");
        assert!(layout.iter().all(|p| p.0.is_finite() && p.1.is_finite()));
        assert_eq!(layout, umap(&knn, &config));
        assert_ne!(layout, umap(&knn, &UmapConfig { seed: 2, ..config }));
    }
}
