//! Agreement between two clusterings of the same `n` items: adjusted Rand index, normalized and
//! adjusted mutual information. Natural logs throughout; special cases follow scikit-learn
//! (`sklearn/metrics/cluster/_supervised.py`, checked against version 1.9.1).
//!
//! Labels are any `Ord` type (`usize`, `&str`, ...); only which items share a label matters.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("labelings differ in length ({a} vs {b}); both must label the same items in the same order")]
    LengthMismatch { a: usize, b: usize },
}

/// Counts `n_ij` of items with the `i`-th label of `a` and the `j`-th label of `b` (labels in
/// sorted order), with row sums `a_i`, column sums `b_j` and the item count `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contingency {
    pub rows: usize,
    pub cols: usize,
    /// `[rows * cols]`, row-major.
    pub table: Vec<u64>,
    pub row_sums: Vec<u64>,
    pub col_sums: Vec<u64>,
    pub n: u64,
}

impl Contingency {
    pub fn get(&self, i: usize, j: usize) -> u64 {
        self.table[i * self.cols + j]
    }

    /// `(i, j, n_ij)` for the non-zero cells.
    fn cells(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.table.iter().enumerate().filter(|(_, &v)| v > 0).map(|(k, &v)| (k / self.cols, k % self.cols, v))
    }
}

fn index_of<L: Ord>(labels: &[L]) -> (Vec<usize>, usize) {
    let mut ids: BTreeMap<&L, usize> = labels.iter().map(|l| (l, 0)).collect();
    for (k, v) in ids.values_mut().enumerate() {
        *v = k;
    }
    (labels.iter().map(|l| ids[l]).collect(), ids.len())
}

pub fn contingency<A: Ord, B: Ord>(a: &[A], b: &[B]) -> Result<Contingency, MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::LengthMismatch { a: a.len(), b: b.len() });
    }
    let ((ia, rows), (ib, cols)) = (index_of(a), index_of(b));
    let mut table = vec![0u64; rows * cols];
    let (mut row_sums, mut col_sums) = (vec![0u64; rows], vec![0u64; cols]);
    for (&i, &j) in ia.iter().zip(&ib) {
        table[i * cols + j] += 1;
        row_sums[i] += 1;
        col_sums[j] += 1;
    }
    Ok(Contingency { rows, cols, table, row_sums, col_sums, n: a.len() as u64 })
}

/// Hubert & Arabie (1985) adjusted Rand index, in sklearn's pair-confusion form. 1.0 when no pair
/// of items is split by one labeling and joined by the other (this includes `n = 0`).
pub fn adjusted_rand_index<A: Ord, B: Ord>(a: &[A], b: &[B]) -> Result<f64, MetricError> {
    let c = contingency(a, b)?;
    let n = c.n as i128;
    let (mut ss, mut joined_a, mut joined_b) = (0i128, 0i128, 0i128);
    for (i, j, v) in c.cells() {
        let v = v as i128;
        ss += v * v;
        joined_a += v * c.row_sums[i] as i128;
        joined_b += v * c.col_sums[j] as i128;
    }
    // Ordered pairs of distinct items: together in both, only in b (fp), only in a (fn), in neither.
    let tp = ss - n;
    let fp = joined_b - ss;
    let fn_ = joined_a - ss;
    let tn = n * n - fp - fn_ - ss;
    if fp == 0 && fn_ == 0 {
        return Ok(1.0);
    }
    let num = 2.0 * (tp * tn - fn_ * fp) as f64;
    Ok(num / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn)) as f64)
}

fn entropy(sums: &[u64], n: u64) -> f64 {
    let n = n as f64;
    -sums.iter().filter(|&&s| s > 0).map(|&s| s as f64 / n * (s as f64 / n).ln()).sum::<f64>()
}

/// MI in nats; terms below machine epsilon are zeroed and the sum clipped at 0, as sklearn does.
fn mutual_info(c: &Contingency) -> f64 {
    if c.rows <= 1 || c.cols <= 1 {
        return 0.0;
    }
    let n = c.n as f64;
    let mi: f64 = c
        .cells()
        .map(|(i, j, v)| {
            let v = v as f64;
            let t = v / n * ((n * v).ln() - (c.row_sums[i] as f64 * c.col_sums[j] as f64).ln());
            if t.abs() < f64::EPSILON { 0.0 } else { t }
        })
        .sum();
    mi.max(0.0)
}

/// NMI = MI / ((H(a) + H(b)) / 2). Both single-cluster (or empty) → 1.0; MI = 0 otherwise → 0.0.
pub fn normalized_mutual_info<A: Ord, B: Ord>(a: &[A], b: &[B]) -> Result<f64, MetricError> {
    let c = contingency(a, b)?;
    if c.rows == c.cols && c.rows <= 1 {
        return Ok(1.0);
    }
    let mi = mutual_info(&c);
    if mi == 0.0 {
        return Ok(0.0);
    }
    let h = (entropy(&c.row_sums, c.n) + entropy(&c.col_sums, c.n)) / 2.0;
    Ok(mi / h)
}

/// Expected MI under the hypergeometric (permutation) model, Vinh, Epps & Bailey (2010), eq. 24a.
fn expected_mutual_info(c: &Contingency) -> f64 {
    let n = c.n as usize;
    // ln k! for k = 0..=n.
    let mut lf = vec![0.0f64; n + 1];
    for k in 1..=n {
        lf[k] = lf[k - 1] + (k as f64).ln();
    }
    let nf = n as f64;
    let mut emi = 0.0;
    for &ai in &c.row_sums {
        let ai = ai as usize;
        for &bj in &c.col_sums {
            let bj = bj as usize;
            let start = (ai + bj).saturating_sub(n).max(1);
            // ln[a! b! (n-a)! (n-b)! / n!], shared by every n_ij of this cell.
            let fixed = lf[ai] + lf[bj] + lf[n - ai] + lf[n - bj] - lf[n];
            let log_ab = (ai as f64).ln() + (bj as f64).ln();
            for nij in start..=ai.min(bj) {
                // n - a - b + n_ij >= 0 by `start`; added before subtracting so usize cannot underflow.
                let log_p = fixed - lf[nij] - lf[ai - nij] - lf[bj - nij] - lf[n + nij - ai - bj];
                let x = nij as f64;
                emi += x / nf * ((nf * x).ln() - log_ab) * log_p.exp();
            }
        }
    }
    emi
}

/// AMI = (MI - E[MI]) / ((H(a) + H(b)) / 2 - E[MI]). Both single-cluster (or empty) → 1.0; exactly
/// one single-cluster → 0.0. Numerator and denominator are kept at least machine epsilon away
/// from 0 with their sign, as sklearn does.
pub fn adjusted_mutual_info<A: Ord, B: Ord>(a: &[A], b: &[B]) -> Result<f64, MetricError> {
    let c = contingency(a, b)?;
    if c.rows == c.cols && c.rows <= 1 {
        return Ok(1.0);
    }
    if c.rows == 1 || c.cols == 1 {
        return Ok(0.0);
    }
    let mi = mutual_info(&c);
    let emi = expected_mutual_info(&c);
    let h = (entropy(&c.row_sums, c.n) + entropy(&c.col_sums, c.n)) / 2.0;
    let away = |x: f64| if x < 0.0 { x.min(-f64::EPSILON) } else { x.max(f64::EPSILON) };
    Ok(away(mi - emi) / away(h - emi))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Metric = fn(&[usize], &[usize]) -> Result<f64, MetricError>;
    const ALL: [Metric; 3] = [adjusted_rand_index, normalized_mutual_info, adjusted_mutual_info];

    fn scores(a: &[usize], b: &[usize]) -> [f64; 3] {
        ALL.map(|f| f(a, b).unwrap())
    }

    fn close(got: [f64; 3], want: [f64; 3], tol: f64) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < tol, "got {got:?}, want {want:?}");
        }
    }

    const SIX_A: [usize; 6] = [0, 0, 0, 1, 1, 1];
    const SIX_B: [usize; 6] = [0, 0, 1, 1, 2, 2];
    const TWELVE_A: [usize; 12] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
    const TWELVE_B: [usize; 12] = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0];

    #[test]
    fn contingency_counts() {
        let c = contingency(&SIX_A, &SIX_B).unwrap();
        assert_eq!((c.rows, c.cols, c.n), (2, 3, 6));
        assert_eq!(c.table, [2, 1, 0, 0, 1, 2]);
        assert_eq!((c.row_sums.as_slice(), c.col_sums.as_slice()), (&[3, 3][..], &[2, 2, 2][..]));
        // Rows follow sorted label order, whatever the label type.
        let c = contingency(&["y", "x", "y"], &[7usize, 7, 3]).unwrap();
        assert_eq!((c.get(0, 1), c.get(1, 0), c.get(1, 1)), (1, 1, 1));
    }

    #[test]
    fn six_items_by_hand_and_sklearn() {
        // Table [[2,1,0],[0,1,2]]. ARI: sum C(n_ij,2) = 1+1 = 2; sum C(a_i,2) = 3+3 = 6;
        // sum C(b_j,2) = 1+1+1 = 3; C(6,2) = 15; expected = 6*3/15 = 1.2; max = (6+3)/2 = 4.5;
        // ARI = (2-1.2)/(4.5-1.2) = 0.8/3.3 = 8/33.
        // MI: the two 2-cells give 2/6 ln(6*2/(3*2)) = ln2/3 each, the 1-cells ln(6/6) = 0, so
        // MI = 2/3 ln2; H(a) = ln2, H(b) = ln3; NMI = (2/3 ln2) / (ln6/2) = 4 ln2 / (3 ln6).
        let s = scores(&SIX_A, &SIX_B);
        close([s[0], s[1], 0.0], [8.0 / 33.0, 4.0 * 2f64.ln() / (3.0 * 6f64.ln()), 0.0], 1e-12);
        // scikit-learn 1.9.1: adjusted_rand_score / normalized_mutual_info_score /
        // adjusted_mutual_info_score([0,0,0,1,1,1], [0,0,1,1,2,2]).
        close(s, [0.24242424242424243, 0.5158037429793889, 0.2987924581708901], 1e-12);
    }

    #[test]
    fn discordant_pairs_are_negative() {
        // a = [0,0,1,1], b = [0,1,0,1]: every n_ij = 1, so sum C(n_ij,2) = 0; sum C(a_i,2) =
        // sum C(b_j,2) = 2; C(4,2) = 6; expected = 4/6; max = 2; ARI = -(2/3)/(4/3) = -0.5.
        // Every cell is 1/4 ln(4*1/(2*2)) = 0, so MI = 0 and NMI = 0.
        // scikit-learn 1.9.1 on the same input: ARI -0.5, NMI 0.0, AMI -0.49999999999999944.
        close(scores(&[0, 0, 1, 1], &[0, 1, 0, 1]), [-0.5, 0.0, -0.49999999999999944], 1e-12);
    }

    #[test]
    fn three_vs_four_clusters_match_sklearn() {
        // scikit-learn 1.9.1, a = [0,0,0,0,1,1,1,1,2,2,2,2], b = [0,0,1,1,1,2,2,2,3,3,3,0]:
        // ARI, NMI, AMI.
        let want = [0.40310077519379844, 0.6280760724651604, 0.4749271604473428];
        close(scores(&TWELVE_A, &TWELVE_B), want, 1e-12);
    }

    #[test]
    fn relabelling_and_swapping_change_nothing() {
        for (a, b) in [(&SIX_A[..], &SIX_B[..]), (&TWELVE_A[..], &TWELVE_B[..])] {
            let base = scores(a, b);
            let renamed: Vec<usize> = b.iter().map(|&l| [30, 10, 20, 5][l]).collect();
            close(scores(a, &renamed), base, 1e-12);
            close(scores(b, a), base, 1e-12);
            let names: Vec<&str> = a.iter().map(|&l| ["p", "q", "r"][l]).collect();
            let mixed = [
                adjusted_rand_index(&names, b).unwrap(),
                normalized_mutual_info(&names, b).unwrap(),
                adjusted_mutual_info(&names, b).unwrap(),
            ];
            close(mixed, base, 1e-12);
        }
    }

    #[test]
    fn sklearn_edge_cases() {
        // Identical partitions under different names.
        close(scores(&TWELVE_A, &TWELVE_A.map(|l| 9 - l)), [1.0; 3], 1e-12);
        // Both a single cluster; and empty input.
        assert_eq!(scores(&[4, 4, 4], &[1, 1, 1]), [1.0; 3]);
        assert_eq!(scores(&[], &[]), [1.0; 3]);
        // One single cluster, the other all distinct: tp = fp = tn = 0 so ARI = 0; MI = 0.
        assert_eq!(scores(&[0, 0, 0, 0], &[0, 1, 2, 3]), [0.0; 3]);
        assert_eq!(scores(&[0, 1, 2, 3], &[5, 5, 5, 5]), [0.0; 3]);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        for f in ALL {
            let err = f(&[0, 1, 2], &[0, 1]).unwrap_err();
            assert_eq!(err, MetricError::LengthMismatch { a: 3, b: 2 });
            assert!(err.to_string().contains("3 vs 2"), "{err}");
        }
    }
}
