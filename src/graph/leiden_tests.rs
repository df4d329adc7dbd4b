//! Tests of [`super::leiden`]: small graphs with known optima, the resolution limit, a planted
//! partition, connectivity of every community, and modularity against a dense formula.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::eval::clustering::adjusted_rand_index;

/// Graph from undirected unit-weight edges.
fn graph(n: usize, edges: &[(usize, usize)]) -> WeightedGraph {
    let directed = edges
        .iter()
        .flat_map(|&(a, b)| [(a as u32, b as u32, 1.0), (b as u32, a as u32, 1.0)])
        .collect();
    WeightedGraph::from_edges(n, directed)
}

fn clique_edges(first: usize, size: usize) -> Vec<(usize, usize)> {
    (first..first + size).flat_map(|a| (a + 1..first + size).map(move |b| (a, b))).collect()
}

/// Modularity by the textbook double sum over all ordered pairs on a dense matrix.
fn dense_modularity(g: &WeightedGraph, labels: &[usize], gamma: f64) -> f64 {
    let n = g.n();
    let mut a = vec![vec![0.0; n]; n];
    for i in 0..n {
        for (j, w) in g.row(i) {
            a[i][j] += w;
        }
    }
    let k: Vec<f64> = a.iter().map(|row| row.iter().sum()).collect();
    let two_m: f64 = k.iter().sum();
    let mut q = 0.0;
    for i in 0..n {
        for j in 0..n {
            if labels[i] == labels[j] {
                q += a[i][j] - gamma * k[i] * k[j] / two_m;
            }
        }
    }
    q / two_m
}

fn communities(labels: &[usize]) -> Vec<Vec<usize>> {
    let c = labels.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); c];
    labels.iter().enumerate().for_each(|(i, &l)| out[l].push(i));
    out
}

fn assert_connected(g: &WeightedGraph, labels: &[usize]) {
    for (c, members) in communities(labels).iter().enumerate() {
        assert!(!members.is_empty(), "community {c} is empty");
        assert!(g.is_connected_subset(members), "community {c} ({members:?}) is disconnected");
    }
}

#[test]
fn two_cliques_joined_by_an_edge_are_two_communities() {
    let mut edges = clique_edges(0, 5);
    edges.extend(clique_edges(5, 5));
    edges.push((4, 5));
    let g = graph(10, &edges);
    let labels = leiden(&g, &LeidenConfig::default());
    assert_eq!(labels, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    // 21 edges; each side has 10 internal edges and degree sum 21:
    // Q = 2 (10/21 - (21/42)^2) = 0.452381.
    let q = modularity(&g, &labels, 1.0);
    assert!((q - (2.0 * (10.0 / 21.0 - 0.25))).abs() < 1e-12, "{q}");
    assert!((q - dense_modularity(&g, &labels, 1.0)).abs() < 1e-12);
}

/// Ring of 30 five-cliques, neighbours joined by one edge (Fortunato & Barthelemy 2007, the
/// resolution limit). 330 edges. At gamma = 1 pairs of cliques score higher than single ones
/// (0.8879 vs 0.8758); at gamma = 2 single cliques win (0.8424 vs 0.8212).
fn ring_of_cliques() -> WeightedGraph {
    let (count, size) = (30, 5);
    let mut edges = Vec::new();
    for c in 0..count {
        edges.extend(clique_edges(c * size, size));
        edges.push((c * size + size - 1, ((c + 1) % count) * size));
    }
    graph(count * size, &edges)
}

#[test]
fn ring_of_cliques_shows_the_resolution_limit() {
    let g = ring_of_cliques();
    let clique_of: Vec<usize> = (0..150).map(|i| i / 5).collect();
    let pairs: Vec<usize> = (0..150).map(|i| i / 10).collect();
    assert!((modularity(&g, &clique_of, 1.0) - 0.875758).abs() < 1e-6);
    assert!((modularity(&g, &pairs, 1.0) - 0.887879).abs() < 1e-6);

    let coarse = leiden(&g, &LeidenConfig { resolution: 1.0, seed: 3, ..LeidenConfig::default() });
    // Pairs of adjacent cliques, except where the pairing shifts by one along the ring and a
    // clique is left alone (a local optimum: joining either neighbouring pair is worse).
    let groups = communities(&coarse);
    let pairs_found = groups.iter().filter(|m| m.len() == 10).count();
    assert!((15..=20).contains(&groups.len()) && pairs_found >= 10, "{groups:?}");
    for members in &groups {
        let cliques: std::collections::BTreeSet<usize> = members.iter().map(|i| i / 5).collect();
        assert_eq!(members.len(), 5 * cliques.len(), "partial clique in {members:?}");
        let first = *cliques.iter().next().unwrap();
        let adjacent = cliques.len() == 1
            || (cliques.len() == 2 && cliques.iter().any(|&c| cliques.contains(&((c + 1) % 30))));
        assert!(adjacent, "{members:?} (cliques {first}..)");
    }
    assert!(modularity(&g, &coarse, 1.0) > modularity(&g, &clique_of, 1.0));

    let fine = leiden(&g, &LeidenConfig { resolution: 2.0, seed: 3, ..LeidenConfig::default() });
    assert_eq!(adjusted_rand_index(&fine, &clique_of).unwrap(), 1.0);
    assert_connected(&g, &coarse);
    assert_connected(&g, &fine);
}

/// Stochastic block model: `blocks` groups of `size`, edge probabilities `p_in` / `p_out`.
fn planted_partition(blocks: usize, size: usize, p_in: f64, p_out: f64, seed: u64) -> (WeightedGraph, Vec<usize>) {
    let n = blocks * size;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut edges = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let p = if a / size == b / size { p_in } else { p_out };
            if rng.random::<f64>() < p {
                edges.push((a, b));
            }
        }
    }
    (graph(n, &edges), (0..n).map(|i| i / size).collect())
}

#[test]
fn planted_partition_is_recovered() {
    let (g, truth) = planted_partition(5, 100, 0.2, 0.01, 11);
    let labels = leiden(&g, &LeidenConfig { seed: 1, ..LeidenConfig::default() });
    let ari = adjusted_rand_index(&labels, &truth).unwrap();
    assert!(ari >= 0.95, "ARI {ari}");
    assert_connected(&g, &labels);
    let q = modularity(&g, &labels, 1.0);
    assert!((q - dense_modularity(&g, &labels, 1.0)).abs() < 1e-10, "{q}");
    assert!(q >= modularity(&g, &truth, 1.0) - 1e-3, "Leiden {q} below the planted partition");
}

#[test]
fn every_community_of_a_sparse_random_graph_is_connected() {
    // Sparse graphs make many small communities, where Louvain can leave disconnected ones.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 600;
    let edges: Vec<(usize, usize)> =
        (0..900).map(|_| (rng.random_range(0..n), rng.random_range(0..n))).filter(|(a, b)| a != b).collect();
    let g = graph(n, &edges);
    for (seed, resolution) in [(0, 1.0), (1, 0.5), (2, 3.0)] {
        let labels = leiden(&g, &LeidenConfig { seed, resolution, ..LeidenConfig::default() });
        assert_connected(&g, &labels);
        let q = modularity(&g, &labels, resolution);
        assert!((q - dense_modularity(&g, &labels, resolution)).abs() < 1e-10);
        assert!(q > 0.0, "{q}");
    }
}

#[test]
fn leiden_is_deterministic_for_a_seed_and_handles_isolated_nodes() {
    let (g, _) = planted_partition(3, 40, 0.3, 0.02, 2);
    let config = LeidenConfig { seed: 9, ..LeidenConfig::default() };
    assert_eq!(leiden(&g, &config), leiden(&g, &config));
    // Nodes 3 and 4 have no edges: each is alone; the triangle is one community.
    let g = graph(5, &[(0, 1), (1, 2), (0, 2)]);
    assert_eq!(leiden(&g, &LeidenConfig::default()), [0, 0, 0, 1, 2]);
}
