//! The cpl-mixVAE loss (AllenInstitute/MMIDAS `mmidas/nn_model.py`, `mixVAE_model.loss`, MSE mode,
//! `ref_prior = False`, `variational = True`):
//!
//! ```text
//! loss = scaler * sum_a (l_rec_a + beta * KL_a)
//!      + coupling * sum_{a<b} d(q_a, q_b) + sum_{a<b} (H-(q_a) + H-(q_b))
//!      + n_pairs * ((K / 2) ln(2 pi) - 0.5 ln(2 coupling))
//! l_rec_a = 0.5 * sum((x_rec - x)^2) / n
//! KL_a    = sum_d mean_n(-0.5 * (1 + log_var - mu^2 - exp(log_var)))
//! d(q_a, q_b) = mean_n || log(q_a + eps) / sqrt(var_n(q_a) + eps) - log(q_b + eps) / sqrt(var_n(q_b) + eps) ||^2
//! H-(q)   = mean_n sum_k q log(q + eps)            (negative entropy)
//! ```
//! with `scaler = max(arms - 1, 1)`, `n_pairs = arms (arms - 1) / 2` (at least 1), `var_n` the
//! unbiased variance over the batch (`torch.var(0)`), `K` all categories (pruned included, as
//! `c[0].size()` in the reference). The constant term is dropped when `coupling = 0` (its log
//! would be infinite; it carries no gradient).
//!
//! Not reproduced: the reference adds `0.5 * BCE(1[x_rec > 0.1], 1[x > 0.1])` to `l_rec`, a
//! thresholded term with no gradient, meant for non-negative expression values.

use burn::prelude::*;

use super::model::{ArmOutput, EPS};

/// Weights of the loss terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// `beta`: weight of the state KL.
    pub beta: f64,
    /// `lam` in the reference: weight of the log-simplex distance between arms.
    pub coupling: f64,
}

/// The total loss `[1]` and its parts on the host.
#[derive(Debug, Clone)]
pub struct LossParts<B: Backend> {
    pub total: Tensor<B, 1>,
    /// Per arm.
    pub recon: Vec<f64>,
    pub kl: Vec<f64>,
    /// Sums over arm pairs.
    pub distance: f64,
    pub neg_entropy: f64,
}

/// `0.5 * sum((recon - x)^2) / n`.
///
/// # Shapes
/// - `recon`, `x`: `[n, d]` -> `[1]`
pub fn reconstruction<B: crate::kernels::Kernels>(recon: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 1> {
    let n = x.dims()[0] as f64;
    crate::kernels::squared_error_sum(recon, x).mul_scalar(0.5 / n)
}

/// KL(N(mu, exp(log_var)) || N(0, I)), averaged over the batch and summed over dimensions.
///
/// # Shapes
/// - `mu`, `log_var`: `[n, s]` -> `[1]`
pub fn kl_standard_normal<B: Backend>(mu: Tensor<B, 2>, log_var: Tensor<B, 2>) -> Tensor<B, 1> {
    let terms = log_var.clone().add_scalar(1.0).sub(mu.square()).sub(log_var.exp()); // [n, s]
    terms.mean_dim(0).sum().mul_scalar(-0.5)
}

/// `log(q + eps) / sqrt(var_n(q) + eps)`: the log-simplex coordinates scaled per category by the
/// batch variance.
///
/// # Shapes
/// - `q`: `[n, K]` -> `[n, K]`
fn scaled_log<B: Backend>(q: Tensor<B, 2>) -> Tensor<B, 2> {
    let inv_std = q.clone().var(0).add_scalar(EPS).sqrt().recip(); // [1, K]
    q.add_scalar(EPS).log().mul(inv_std)
}

/// Variance-scaled log-simplex distance between two arms' category posteriors.
///
/// # Shapes
/// - `qa`, `qb`: `[n, K]` (n >= 2) -> `[1]`
pub fn log_simplex_distance<B: Backend>(qa: Tensor<B, 2>, qb: Tensor<B, 2>) -> Tensor<B, 1> {
    scaled_log(qa).sub(scaled_log(qb)).square().sum_dim(1).mean().reshape([1])
}

/// `mean_n sum_k q log(q + eps)`: the negative entropy of one arm's posterior.
///
/// # Shapes
/// - `q`: `[n, K]` -> `[1]`
pub fn negative_entropy<B: Backend>(q: Tensor<B, 2>) -> Tensor<B, 1> {
    q.clone().mul(q.add_scalar(EPS).log()).sum_dim(1).mean().reshape([1])
}

fn host<B: Backend>(t: &Tensor<B, 1>) -> f64 {
    t.clone().into_scalar().elem::<f64>()
}

/// `scaler * (l_rec + beta * KL)`: the terms of the loss that depend on one arm only, with the
/// arm's reconstruction and KL values on the host.
///
/// # Shapes
/// - `out`: one arm's outputs for `x` `[n, input]` -> (`[1]`, recon, KL)
pub fn arm_loss<B: crate::kernels::Kernels>(out: &ArmOutput<B>, x: Tensor<B, 2>, arms: usize, w: LossWeights) -> (Tensor<B, 1>, f64, f64) {
    let scaler = (arms.saturating_sub(1)).max(1) as f64;
    let r = reconstruction(out.recon.clone(), x);
    let d = kl_standard_normal(out.mu.clone(), out.log_var.clone());
    let (recon, kl) = (host(&r), host(&d));
    (r.add(d.mul_scalar(w.beta)).mul_scalar(scaler), recon, kl)
}

/// The coupling terms between arms: `coupling * sum_{a<b} d(q_a, q_b)` plus the negative
/// entropies and the constant, with the summed distance and negative entropy on the host.
///
/// # Shapes
/// - `qcs[a]`: `[n, K]` -> (`[1]`, distance, negative entropy)
pub fn coupling_loss<B: Backend>(qcs: &[Tensor<B, 2>], w: LossWeights) -> (Tensor<B, 1>, f64, f64) {
    let arms = qcs.len();
    let k = qcs[0].dims()[1] as f64;
    let n_pairs = ((arms * arms.saturating_sub(1)) / 2).max(1) as f64;
    let mut total = Tensor::<B, 1>::zeros([1], &qcs[0].device());
    let (mut distance, mut neg_entropy) = (0.0, 0.0);
    for a in 0..arms {
        for b in a + 1..arms {
            let d = log_simplex_distance(qcs[a].clone(), qcs[b].clone());
            let h = negative_entropy(qcs[a].clone()).add(negative_entropy(qcs[b].clone()));
            distance += host(&d);
            neg_entropy += host(&h);
            total = total.add(d.mul_scalar(w.coupling)).add(h);
        }
    }
    if w.coupling > 0.0 && arms > 1 {
        let constant = n_pairs * (k / 2.0 * (2.0 * std::f64::consts::PI).ln() - 0.5 * (2.0 * w.coupling).ln());
        total = total.add_scalar(constant);
    }
    (total, distance, neg_entropy)
}

/// The full loss of one batch from the arms' outputs and inputs: [`arm_loss`] of every arm plus
/// [`coupling_loss`].
pub fn mmidas_loss<B: crate::kernels::Kernels>(outs: &[ArmOutput<B>], xs: &[Tensor<B, 2>], w: LossWeights) -> LossParts<B> {
    let (mut recon, mut kl) = (Vec::new(), Vec::new());
    let mut total = Tensor::<B, 1>::zeros([1], &xs[0].device());
    for (o, x) in outs.iter().zip(xs) {
        let (t, r, d) = arm_loss(o, x.clone(), outs.len(), w);
        recon.push(r);
        kl.push(d);
        total = total.add(t);
    }
    let qcs: Vec<Tensor<B, 2>> = outs.iter().map(|o| o.qc.clone()).collect();
    let (coupling, distance, neg_entropy) = coupling_loss(&qcs, w);
    LossParts { total: total.add(coupling), recon, kl, distance, neg_entropy }
}

#[cfg(test)]
mod tests {
    //! Golden values from this PyTorch script (torch 2.15.0, numpy 2.4.6, float64), which spells
    //! out the reference's formulas (`mixVAE_model.loss`) on tiny tensors:
    //!
    //! ```python
    //! import torch, numpy as np
    //! torch.set_default_dtype(torch.float64); eps = 1e-8
    //! recon = torch.tensor([[0.5, -1.0], [2.0, 0.0]]); x = torch.tensor([[1.0, -1.5], [1.0, 0.5]])
    //! mu = torch.tensor([[0.2, -0.4], [1.0, 0.0]]); lv = torch.tensor([[0.0, -1.0], [0.5, 0.1]])
    //! qa = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    //! qb = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    //! l_rec = 0.5 * torch.nn.functional.mse_loss(recon, x, reduction='sum') / x.size(0)
    //! kld = (-0.5 * torch.mean(1 + lv - mu.pow(2) - lv.exp(), dim=0)).sum()
    //! la, lb = torch.log(qa + eps), torch.log(qb + eps)
    //! ia = (1 / (qa.var(0) + eps)).repeat(3, 1).sqrt(); ib = (1 / (qb.var(0) + eps)).repeat(3, 1).sqrt()
    //! dist = (torch.norm(la * ia - lb * ib, p=2, dim=1).pow(2)).mean()
    //! negent = (torch.sum(qa * la, dim=-1)).mean() + (torch.sum(qb * lb, dim=-1)).mean()
    //! total = 2 * (l_rec + kld) + dist + negent + (3 / 2) * np.log(2 * np.pi) - 0.5 * np.log(2)
    //! ```
    //! l_rec 0.4375 (by hand: diffs -0.5, 0.5, 1, -0.5 -> 1.75 * 0.5 / 2), kld 0.4304429075,
    //! dist 59.6580150052, negent -1.6228487815, total 62.1812940480.
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    fn t(rows: &[&[f32]]) -> Tensor<B, 2> {
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default()).reshape([rows.len(), rows[0].len()])
    }

    fn v(x: Tensor<B, 1>) -> f64 {
        x.into_scalar().elem::<f64>()
    }

    fn fixture() -> [Tensor<B, 2>; 6] {
        [
            t(&[&[0.5, -1.0], &[2.0, 0.0]]),
            t(&[&[1.0, -1.5], &[1.0, 0.5]]),
            t(&[&[0.2, -0.4], &[1.0, 0.0]]),
            t(&[&[0.0, -1.0], &[0.5, 0.1]]),
            t(&[&[0.7, 0.2, 0.1], &[0.1, 0.8, 0.1], &[0.3, 0.3, 0.4]]),
            t(&[&[0.6, 0.3, 0.1], &[0.2, 0.7, 0.1], &[0.1, 0.1, 0.8]]),
        ]
    }

    #[test]
    fn each_loss_term_matches_pytorch_reference() {
        let [recon, x, mu, lv, qa, qb] = fixture();
        assert!((v(reconstruction(recon, x)) - 0.4375).abs() < 1e-6);
        assert!((v(kl_standard_normal(mu, lv)) - 0.4304429075).abs() < 1e-5);
        // The variance scaling makes this term large (1/sqrt(var) ~ 3-6 per category).
        assert!((v(log_simplex_distance(qa.clone(), qb.clone())) - 59.6580150052).abs() < 1e-3);
        let h = v(negative_entropy(qa).add(negative_entropy(qb)));
        assert!((h - -1.6228487815).abs() < 1e-5);
    }

    #[test]
    fn total_loss_of_two_arms_matches_pytorch_reference() {
        let [recon, x, mu, lv, qa, qb] = fixture();
        let arm = |q: Tensor<B, 2>| ArmOutput { recon: recon.clone(), qc: q.clone(), c: q, mu: mu.clone(), log_var: lv.clone() };
        let outs = [arm(qa), arm(qb)];
        let parts = mmidas_loss(&outs, &[x.clone(), x], LossWeights { beta: 1.0, coupling: 1.0 });
        assert!((v(parts.total) - 62.1812940480).abs() < 2e-3);
        assert!((parts.recon[1] - 0.4375).abs() < 1e-6);
        assert!((parts.distance - 59.6580150052).abs() < 1e-3);
    }
}
