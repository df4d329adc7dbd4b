//! Symmetric weighted graphs (CSR) built from a kNN graph: the input of Leiden and UMAP's layout.

use super::knn::KnnGraph;

/// An undirected weighted graph stored as both directions of every edge (CSR). Entry `(i, j)`
/// is the matrix entry `A_ij`; `A_ii` (self-loops) appear once, as matrix diagonal entries.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedGraph {
    /// `[n + 1]`: row `i`'s entries are `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<usize>,
    /// Column of each entry, ascending within a row.
    pub targets: Vec<u32>,
    pub weights: Vec<f64>,
}

/// How a directed kNN relation becomes a symmetric edge weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EdgeWeights {
    /// 1 where `j` is among `i`'s neighbours or `i` among `j`'s (union).
    Unit,
    /// UMAP's fuzzy simplicial set, `p_ij + p_ji - p_ij p_ji` with
    /// `p_ij = exp(-(d_ij - rho_i) / sigma_i)` (McInnes et al. 2018, section 3.1; what scanpy's
    /// `pp.neighbors` hands to `tl.leiden` by default).
    #[default]
    Fuzzy,
}

impl WeightedGraph {
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let span = self.offsets[i]..self.offsets[i + 1];
        self.targets[span.clone()].iter().map(|&j| j as usize).zip(self.weights[span].iter().copied())
    }

    /// `k_i = sum_j A_ij`, the node's strength (weighted degree).
    pub fn strength(&self, i: usize) -> f64 {
        self.weights[self.offsets[i]..self.offsets[i + 1]].iter().sum()
    }

    /// Symmetric graph from directed memberships `(i, j, p_ij)`: each unordered pair `{i, j}`
    /// gets `combine(p_ij, p_ji)` (a missing direction counts as 0). Self pairs are dropped, as
    /// are pairs whose combined weight is not positive.
    pub fn from_directed(n: usize, entries: &[(u32, u32, f64)], combine: impl Fn(f64, f64) -> f64) -> Self {
        // (low, high, p_low_high, p_high_low) per entry, then merged per pair.
        let mut pairs: Vec<(u32, u32, f64, f64)> = entries
            .iter()
            .filter(|e| e.0 != e.1)
            .map(|&(i, j, p)| if i < j { (i, j, p, 0.0) } else { (j, i, 0.0, p) })
            .collect();
        pairs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut edges: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * pairs.len());
        let mut at = 0;
        while at < pairs.len() {
            let (i, j) = (pairs[at].0, pairs[at].1);
            let (mut forward, mut backward) = (0.0f64, 0.0f64);
            while at < pairs.len() && (pairs[at].0, pairs[at].1) == (i, j) {
                forward = forward.max(pairs[at].2);
                backward = backward.max(pairs[at].3);
                at += 1;
            }
            let w = combine(forward, backward);
            if w > 0.0 {
                edges.push((i, j, w));
                edges.push((j, i, w));
            }
        }
        Self::from_edges(n, edges)
    }

    /// CSR from directed entries `(i, j, A_ij)` given in both directions; duplicates are summed.
    pub fn from_edges(n: usize, mut edges: Vec<(u32, u32, f64)>) -> Self {
        edges.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut offsets = vec![0usize; n + 1];
        let mut targets = Vec::with_capacity(edges.len());
        let mut weights: Vec<f64> = Vec::with_capacity(edges.len());
        let mut last: Option<(u32, u32)> = None;
        for (i, j, w) in edges {
            if last == Some((i, j)) {
                *weights.last_mut().expect("a previous entry exists") += w;
                continue;
            }
            last = Some((i, j));
            targets.push(j);
            weights.push(w);
            offsets[i as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Self { offsets, targets, weights }
    }

    /// Symmetrised kNN graph with the chosen weights.
    pub fn from_knn(knn: &KnnGraph, weights: EdgeWeights) -> Self {
        match weights {
            EdgeWeights::Unit => {
                let entries: Vec<(u32, u32, f64)> = (0..knn.n)
                    .flat_map(|i| knn.neighbours(i).iter().map(move |&j| (i as u32, j, 1.0)))
                    .collect();
                Self::from_directed(knn.n, &entries, f64::max)
            }
            EdgeWeights::Fuzzy => super::umap::fuzzy_simplicial_set(knn),
        }
    }

    /// Whether the nodes in `members` induce a connected subgraph (breadth-first search).
    pub fn is_connected_subset(&self, members: &[usize]) -> bool {
        let Some(&start) = members.first() else { return true };
        let inside: std::collections::HashSet<usize> = members.iter().copied().collect();
        let mut seen = std::collections::HashSet::from([start]);
        let mut frontier = vec![start];
        while let Some(i) = frontier.pop() {
            for (j, w) in self.row(i) {
                if w > 0.0 && inside.contains(&j) && seen.insert(j) {
                    frontier.push(j);
                }
            }
        }
        seen.len() == inside.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_weights_are_the_symmetric_union_of_neighbour_lists() {
        // 0 -> 1, 1 -> 0, 2 -> 1: edges {0,1} and {1,2}, weight 1 each.
        let knn = KnnGraph { n: 3, k: 1, indices: vec![1, 0, 1], distances: vec![1.0; 3] };
        let g = WeightedGraph::from_knn(&knn, EdgeWeights::Unit);
        assert_eq!(g.offsets, [0, 1, 3, 4]);
        assert_eq!(g.targets, [1, 0, 2, 1]);
        assert_eq!(g.weights, [1.0; 4]);
        assert_eq!(g.strength(1), 2.0);
        assert!(g.is_connected_subset(&[0, 1, 2]));
        assert!(!g.is_connected_subset(&[0, 2]));
    }

    #[test]
    fn directed_memberships_combine_as_fuzzy_union() {
        let entries = [(0, 1, 0.5), (1, 0, 0.5), (1, 2, 1.0), (2, 2, 1.0)];
        let g = WeightedGraph::from_directed(3, &entries, |a, b| a + b - a * b);
        assert_eq!(g.targets, [1, 0, 2, 1]);
        assert_eq!(g.weights, [0.75, 0.75, 1.0, 1.0]);
    }
}
