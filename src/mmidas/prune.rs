//! Consensus between arms and the pruning policy (AllenInstitute/MMIDAS `mmidas/cpl_mixvae.py`,
//! `cpl_mixVAE.train`, the `while not stop_prune` loop): after training with `K` categories, every
//! pair of arms' argmax labels on the training set gives a `K x K` contingency `n`; category `k`'s
//! agreement is `n_kk / max(row_k, col_k)`, averaged over arm pairs; the kept category with the
//! lowest agreement is pruned next. Choosing the final `K` from the `(K, consensus)` series is a
//! separate policy ([`select_k`]).
//!
//! Pure host functions: the lead's figures can call [`confusion`], [`row_normalised`] and use
//! [`RoundSummary`] series directly.

use serde::{Deserialize, Serialize};

/// Counts `m[i][j]` of items labelled `i` by arm a and `j` by arm b.
pub fn confusion(a: &[usize], b: &[usize], k: usize) -> Vec<Vec<f64>> {
    let mut m = vec![vec![0.0; k]; k];
    for (&i, &j) in a.iter().zip(b) {
        if i < k && j < k {
            m[i][j] += 1.0;
        }
    }
    m
}

/// Each row divided by its sum (all-zero rows stay zero).
pub fn row_normalised(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    m.iter()
        .map(|row| {
            let s: f64 = row.iter().sum();
            row.iter().map(|v| if s > 0.0 { v / s } else { 0.0 }).collect()
        })
        .collect()
}

/// `n_kk / max(row_k, col_k)` per category (0 where the category is unused by both arms).
pub fn category_agreement(m: &[Vec<f64>]) -> Vec<f64> {
    (0..m.len())
        .map(|k| {
            let row: f64 = m[k].iter().sum();
            let col: f64 = m.iter().map(|r| r[k]).sum();
            let d = row.max(col);
            if d > 0.0 { m[k][k] / d } else { 0.0 }
        })
        .collect()
}

/// Consensus of one `K`: averages over all arm pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consensus {
    /// Mean over kept categories of the diagonal of the row-normalised arm-vs-arm confusion.
    pub consensus: f64,
    /// Fraction of items whose arms all give the same label.
    pub agree_fraction: f64,
    /// Per category `n_kk / max(row_k, col_k)` (the pruning criterion), all `K` entries.
    pub agreement: Vec<f64>,
}

/// Consensus of the arms' labels (`labels[arm][item]`) over the kept categories.
pub fn consensus(labels: &[Vec<usize>], active: &[bool]) -> Consensus {
    let k = active.len();
    let kept: Vec<usize> = (0..k).filter(|&c| active[c]).collect();
    let (mut diag_sum, mut agreement, mut pairs) = (0.0, vec![0.0; k], 0usize);
    for a in 0..labels.len() {
        for b in a + 1..labels.len() {
            let m = confusion(&labels[a], &labels[b], k);
            let r = row_normalised(&m);
            diag_sum += kept.iter().map(|&c| r[c][c]).sum::<f64>() / kept.len().max(1) as f64;
            for (acc, v) in agreement.iter_mut().zip(category_agreement(&m)) {
                *acc += v;
            }
            pairs += 1;
        }
    }
    let pairs_f = pairs.max(1) as f64;
    agreement.iter_mut().for_each(|v| *v /= pairs_f);
    let n = labels.first().map_or(0, Vec::len);
    let agree = (0..n).filter(|&i| labels.iter().all(|l| l[i] == labels[0][i])).count();
    Consensus {
        consensus: if pairs == 0 { 1.0 } else { diag_sum / pairs_f },
        agree_fraction: if n == 0 { 0.0 } else { agree as f64 / n as f64 },
        agreement,
    }
}

/// The kept category with the lowest agreement (the first on ties), or `None` if none is kept.
pub fn category_to_prune(agreement: &[f64], active: &[bool]) -> Option<usize> {
    (0..agreement.len())
        .filter(|&c| active[c])
        .min_by(|&a, &b| agreement[a].total_cmp(&agreement[b]).then(a.cmp(&b)))
}

/// How the final number of categories is chosen from the pruning series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SelectionRule {
    /// The largest `K` whose consensus is at least `consensus_min`; if none is, the `K` with the
    /// highest consensus.
    #[default]
    LargestKAbove,
    /// The `K` reached by the largest rise in consensus from one pruning round to the next (the
    /// "elbow" of the consensus-vs-K curve read from large to small K).
    SteepestRise,
}

/// One finished round: `k` kept categories and its consensus and reconstruction losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub k: usize,
    pub consensus: f64,
    pub agree_fraction: f64,
    /// Per arm, mean reconstruction loss on the training set (evaluation mode).
    pub recon: Vec<f64>,
}

/// Index into `rounds` (in pruning order, K decreasing) of the selected round.
pub fn select_k(rounds: &[RoundSummary], rule: SelectionRule, consensus_min: f64) -> Option<usize> {
    if rounds.is_empty() {
        return None;
    }
    let best = || (0..rounds.len()).max_by(|&a, &b| rounds[a].consensus.total_cmp(&rounds[b].consensus).then(b.cmp(&a)));
    match rule {
        SelectionRule::LargestKAbove => (0..rounds.len())
            .filter(|&i| rounds[i].consensus >= consensus_min)
            .max_by_key(|&i| (rounds[i].k, usize::MAX - i))
            .or_else(best),
        SelectionRule::SteepestRise => {
            if rounds.len() < 2 {
                return Some(0);
            }
            (1..rounds.len())
                .max_by(|&a, &b| {
                    let rise = |i: usize| rounds[i].consensus - rounds[i - 1].consensus;
                    rise(a).total_cmp(&rise(b)).then(b.cmp(&a))
                })
        }
    }
}

/// The `(K, consensus)` series for plotting.
pub fn consensus_series(rounds: &[RoundSummary]) -> Vec<(usize, f64)> {
    rounds.iter().map(|r| (r.k, r.consensus)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_divides_diagonal_by_larger_marginal() {
        // arm a: 0 0 0 1 1 2 ; arm b: 0 0 1 1 1 1
        // m = [[2,1,0],[0,2,0],[0,1,0]]; rows 3,2,1; cols 2,4,0.
        // agreement: 2/max(3,2)=0.667, 2/max(2,4)=0.5, 0/max(1,0)=0.
        let a = [0, 0, 0, 1, 1, 2];
        let b = [0, 0, 1, 1, 1, 1];
        let m = confusion(&a, &b, 3);
        assert_eq!(m, vec![vec![2.0, 1.0, 0.0], vec![0.0, 2.0, 0.0], vec![0.0, 1.0, 0.0]]);
        let ag = category_agreement(&m);
        assert!((ag[0] - 2.0 / 3.0).abs() < 1e-12 && (ag[1] - 0.5).abs() < 1e-12 && ag[2] == 0.0);
        // Row-normalised diagonal: 2/3, 2/2, 0/1 -> mean over the 3 kept = 5/9.
        let c = consensus(&[a.to_vec(), b.to_vec()], &[true, true, true]);
        assert!((c.consensus - 5.0 / 9.0).abs() < 1e-12, "{c:?}");
        // Items 0, 1, 3, 4 agree: 4/6.
        assert!((c.agree_fraction - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(category_to_prune(&c.agreement, &[true, true, true]), Some(2));
        assert_eq!(category_to_prune(&c.agreement, &[true, true, false]), Some(1));
    }

    fn round(k: usize, consensus: f64) -> RoundSummary {
        RoundSummary { k, consensus, agree_fraction: consensus, recon: vec![] }
    }

    #[test]
    fn selection_rules_pick_expected_k() {
        let rounds = [round(6, 0.5), round(5, 0.6), round(4, 0.92), round(3, 0.95), round(2, 0.97)];
        assert_eq!(select_k(&rounds, SelectionRule::LargestKAbove, 0.9), Some(2)); // K = 4
        assert_eq!(select_k(&rounds, SelectionRule::SteepestRise, 0.9), Some(2)); // 0.6 -> 0.92
        assert_eq!(select_k(&rounds, SelectionRule::LargestKAbove, 0.99), Some(4)); // none: best
        assert_eq!(consensus_series(&rounds[..2]), vec![(6, 0.5), (5, 0.6)]);
    }
}
