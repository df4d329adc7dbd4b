//! Leiden community detection (Traag, Waltman & van Eck 2019, "From Louvain to Leiden:
//! guaranteeing well-connected communities", Sci Rep 9:5233; Algorithms A.1-A.2 of the
//! supplement).
//!
//! Written by hand: no maintained Rust crate implements Leiden with the RB configuration quality
//! and resolution that scanpy (`tl.leiden`, via leidenalg's `RBConfigurationVertexPartition`)
//! uses, and the algorithm is a few hundred lines.
//!
//! Quality (RB configuration model, edge-weight units, i.e. not divided by `2m`):
//! `H = sum_ij (A_ij - gamma k_i k_j / 2m) delta(c_i, c_j)`, `k_i = sum_j A_ij`, `2m = sum_i k_i`.
//! [`modularity`] reports `H / 2m`, Newman-Girvan modularity when `gamma = 1`.
//!
//! One Leiden iteration: (1) fast local moving: a queue of nodes in seeded random order; each
//! node moves to the neighbouring (or an empty) community with the largest positive gain, and
//! its neighbours outside the new community are queued again; (2) refinement: inside each
//! community, starting from singletons, each well-connected node still alone joins a
//! well-connected sub-community chosen at random with probability `~ exp(gain / theta)` among
//! gains >= 0 (`theta = 0.01` as in the paper; gains are in edge-weight units, so with unit
//! weights this is nearly greedy); a node only joins a sub-community it has an edge to, so
//! sub-communities are connected; (3) aggregation: one node per refined community, its initial
//! community the unrefined one. Repeat until the local moving leaves every aggregate node alone.
//! Iterations are repeated from the previous partition until the quality stops improving (as
//! leidenalg with `n_iterations = -1`), at most `max_iterations` times.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::weighted::WeightedGraph;

#[derive(Debug, Clone, PartialEq)]
pub struct LeidenConfig {
    /// `gamma` (leidenalg's `resolution_parameter`); larger gives more, smaller communities.
    pub resolution: f64,
    /// Node orders and refinement choices.
    pub seed: u64,
    /// Refinement randomness `theta`.
    pub randomness: f64,
    /// Upper bound on Leiden iterations (each runs to convergence of its own aggregation).
    pub max_iterations: usize,
}

impl Default for LeidenConfig {
    fn default() -> Self {
        Self { resolution: 1.0, seed: 0, randomness: 0.01, max_iterations: 50 }
    }
}

/// Leiden communities of `graph`: `labels[i]` in `0..c`, numbered by decreasing size (ties by
/// smallest member). Isolated nodes are communities of their own.
pub fn leiden(graph: &WeightedGraph, config: &LeidenConfig) -> Vec<usize> {
    let n = graph.n();
    let two_m: f64 = (0..n).map(|i| graph.strength(i)).sum();
    if n == 0 || two_m <= 0.0 {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut labels: Vec<usize> = (0..n).collect();
    let mut best = modularity(graph, &labels, config.resolution);
    for _ in 0..config.max_iterations.max(1) {
        let next = iteration(graph, labels.clone(), config, two_m, &mut rng);
        let quality = modularity(graph, &next, config.resolution);
        if quality <= best + 1e-12 * best.abs().max(1.0) {
            break;
        }
        (labels, best) = (next, quality);
    }
    renumber_by_size(&labels)
}

/// `H / 2m` of `labels` on `graph` (see the module doc).
pub fn modularity(graph: &WeightedGraph, labels: &[usize], resolution: f64) -> f64 {
    let n = graph.n();
    let c = labels.iter().max().map_or(0, |m| m + 1);
    let (mut inside, mut total) = (vec![0.0f64; c], vec![0.0f64; c]);
    for i in 0..n {
        for (j, w) in graph.row(i) {
            if labels[i] == labels[j] {
                inside[labels[i]] += w;
            }
        }
        total[labels[i]] += graph.strength(i);
    }
    let two_m: f64 = total.iter().sum();
    if two_m <= 0.0 {
        return 0.0;
    }
    inside.iter().zip(&total).map(|(e, k)| e - resolution * k * k / two_m).sum::<f64>() / two_m
}

/// One Leiden iteration from `labels` (Algorithm A.2, `Leiden`).
fn iteration(
    original: &WeightedGraph,
    labels: Vec<usize>,
    config: &LeidenConfig,
    two_m: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let gamma = config.resolution / two_m;
    let mut graph = original.clone();
    let mut strength: Vec<f64> = (0..graph.n()).map(|i| graph.strength(i)).collect();
    let mut partition = compact(&labels);
    // Current aggregate node of each original node.
    let mut node_of: Vec<usize> = (0..original.n()).collect();
    loop {
        move_nodes_fast(&graph, &strength, &mut partition, gamma, rng);
        let communities = partition.iter().max().map_or(0, |m| m + 1);
        if communities == graph.n() {
            break;
        }
        let mut refined = refine(&graph, &strength, &partition, gamma, config.randomness, rng);
        if refined.iter().max().map_or(0, |m| m + 1) == graph.n() {
            // Nothing merged: aggregate on the unrefined partition so the graph shrinks (as
            // leidenalg does).
            refined = partition.clone();
        }
        let (aggregate, aggregate_strength) = aggregate(&graph, &refined);
        let mut initial = vec![0usize; aggregate.n()];
        for (v, &r) in refined.iter().enumerate() {
            initial[r] = partition[v];
        }
        for v in node_of.iter_mut() {
            *v = refined[*v];
        }
        graph = aggregate;
        strength = aggregate_strength;
        partition = compact(&initial);
    }
    node_of.iter().map(|&v| partition[v]).collect()
}

/// Relabel to `0..c` in order of first appearance.
fn compact(labels: &[usize]) -> Vec<usize> {
    let mut map = std::collections::HashMap::new();
    labels.iter().map(|&l| { let next = map.len(); *map.entry(l).or_insert(next) }).collect()
}

fn renumber_by_size(labels: &[usize]) -> Vec<usize> {
    let labels = compact(labels);
    let c = labels.iter().max().map_or(0, |m| m + 1);
    let mut size = vec![0usize; c];
    labels.iter().for_each(|&l| size[l] += 1);
    // Labels are in first-appearance order, so ties keep the smallest member first.
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|a, b| size[*b].cmp(&size[*a]).then(a.cmp(b)));
    let mut rank = vec![0usize; c];
    order.iter().enumerate().for_each(|(r, &l)| rank[l] = r);
    labels.iter().map(|&l| rank[l]).collect()
}

/// Fast local moving (Algorithm A.2, `MoveNodesFast`). `gamma` is `resolution / 2m`.
fn move_nodes_fast(
    graph: &WeightedGraph,
    strength: &[f64],
    partition: &mut Vec<usize>,
    gamma: f64,
    rng: &mut ChaCha8Rng,
) {
    let n = graph.n();
    // Community ids range over 0..n so that every node can be alone.
    let mut total = vec![0.0f64; n];
    let mut size = vec![0usize; n];
    for v in 0..n {
        total[partition[v]] += strength[v];
        size[partition[v]] += 1;
    }
    let mut empty: Vec<usize> = (0..n).filter(|&c| size[c] == 0).collect();
    let mut queue: std::collections::VecDeque<usize> = {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        order.into()
    };
    let mut queued = vec![true; n];
    let mut link = vec![0.0f64; n];
    let mut touched: Vec<usize> = Vec::new();
    while let Some(v) = queue.pop_front() {
        queued[v] = false;
        let own = partition[v];
        for (u, w) in graph.row(v) {
            if u != v {
                if link[partition[u]] == 0.0 {
                    touched.push(partition[u]);
                }
                link[partition[u]] += w;
            }
        }
        total[own] -= strength[v];
        size[own] -= 1;
        let gain = |c: usize| link[c] - gamma * strength[v] * total[c];
        let (mut best, mut best_gain) = (own, gain(own));
        for &c in &touched {
            let g = gain(c);
            if g > best_gain {
                (best, best_gain) = (c, g);
            }
        }
        if best_gain < 0.0 {
            // Alone in a fresh community (gain 0) beats every candidate.
            best = if size[own] == 0 { own } else { *empty.last().expect("n ids for n nodes") };
        }
        for &c in &touched {
            link[c] = 0.0;
        }
        touched.clear();
        total[best] += strength[v];
        size[best] += 1;
        if best == own {
            continue;
        }
        if empty.last() == Some(&best) {
            empty.pop();
        }
        if size[own] == 0 {
            empty.push(own);
        }
        partition[v] = best;
        for (u, _) in graph.row(v) {
            if u != v && !queued[u] && partition[u] != best {
                queued[u] = true;
                queue.push_back(u);
            }
        }
    }
    *partition = compact(partition);
}

/// Refinement (Algorithm A.2, `RefinePartition` + `MergeNodesSubset`): returns refined
/// community ids `0..r`, each inside one community of `partition`.
fn refine(
    graph: &WeightedGraph,
    strength: &[f64],
    partition: &[usize],
    gamma: f64,
    theta: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let n = graph.n();
    let communities = partition.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); communities];
    for v in 0..n {
        members[partition[v]].push(v);
    }
    // Refined communities start as singletons, named by their first node.
    let mut refined: Vec<usize> = (0..n).collect();
    let mut total: Vec<f64> = strength.to_vec();
    let mut size = vec![1usize; n];
    // Weight from each refined community to the rest of its community S.
    let mut external = vec![0.0f64; n];
    for v in 0..n {
        external[v] = graph.row(v).filter(|&(u, _)| u != v && partition[u] == partition[v]).map(|(_, w)| w).sum();
    }
    let mut link = vec![0.0f64; n];
    let mut touched: Vec<usize> = Vec::new();
    for set in &mut members {
        let set_total: f64 = set.iter().map(|&v| strength[v]).sum();
        set.shuffle(rng);
        for &v in set.iter() {
            let well_connected = |ext: f64, k: f64| ext >= gamma * k * (set_total - k);
            if size[refined[v]] != 1 || !well_connected(external[v], strength[v]) {
                continue;
            }
            for (u, w) in graph.row(v) {
                if u != v && partition[u] == partition[v] {
                    if link[refined[u]] == 0.0 {
                        touched.push(refined[u]);
                    }
                    link[refined[u]] += w;
                }
            }
            // Candidates: stay alone (gain 0) or join a well-connected neighbour with gain >= 0.
            let mut candidates: Vec<(usize, f64)> = vec![(refined[v], 0.0)];
            for &c in &touched {
                let gain = link[c] - gamma * strength[v] * total[c];
                if c != refined[v] && gain >= 0.0 && well_connected(external[c], total[c]) {
                    candidates.push((c, gain));
                }
            }
            let max_gain = candidates.iter().map(|c| c.1).fold(0.0, f64::max);
            let odds: Vec<f64> = candidates.iter().map(|c| ((c.1 - max_gain) / theta).exp()).collect();
            let mut draw = rng.random::<f64>() * odds.iter().sum::<f64>();
            let mut chosen = candidates[candidates.len() - 1].0;
            for (candidate, p) in candidates.iter().zip(&odds) {
                if draw < *p {
                    chosen = candidate.0;
                    break;
                }
                draw -= p;
            }
            if chosen != refined[v] {
                let own = refined[v];
                external[chosen] += external[v] - 2.0 * link[chosen];
                total[chosen] += strength[v];
                size[chosen] += 1;
                (total[own], size[own], external[own]) = (0.0, 0, 0.0);
                refined[v] = chosen;
            }
            for &c in &touched {
                link[c] = 0.0;
            }
            touched.clear();
        }
    }
    compact(&refined)
}

/// One node per refined community; `A'_CD = sum_{i in C, j in D} A_ij` (self-loops included).
fn aggregate(graph: &WeightedGraph, refined: &[usize]) -> (WeightedGraph, Vec<f64>) {
    let r = refined.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); r];
    for (v, &c) in refined.iter().enumerate() {
        members[c].push(v);
    }
    let mut edges: Vec<(u32, u32, f64)> = Vec::new();
    let mut link = vec![0.0f64; r];
    let mut touched: Vec<usize> = Vec::new();
    for (c, nodes) in members.iter().enumerate() {
        for &v in nodes {
            for (u, w) in graph.row(v) {
                let d = refined[u];
                if link[d] == 0.0 {
                    touched.push(d);
                }
                link[d] += w;
            }
        }
        touched.sort_unstable();
        for &d in &touched {
            edges.push((c as u32, d as u32, link[d]));
            link[d] = 0.0;
        }
        touched.clear();
    }
    let aggregate = WeightedGraph::from_edges(r, edges);
    let strength = (0..r).map(|c| aggregate.strength(c)).collect();
    (aggregate, strength)
}

#[cfg(test)]
#[path = "leiden_tests.rs"]
mod tests;
