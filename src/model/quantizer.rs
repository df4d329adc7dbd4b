//! Vector quantiser with an exponential-moving-average codebook (van den Oord et al. 2017,
//! "Neural Discrete Representation Learning", §3.2 and Appendix A.1; the same scheme as
//! Omni-DNA's image VQ-VAE): nearest-code assignment, straight-through gradients, a commitment
//! loss, and codebook updates by EMA of assigned vectors instead of by gradient.
//!
//! The EMA state (codebook, cluster sizes, embedding sums) lives in [`RunningState`]s, as burn's
//! `BatchNorm` keeps its running statistics: it is updated inside the training step through
//! `&self`, has no gradient, and is saved in and restored from checkpoints with the weights.
//!
//! EMA update for a batch of `N` encoder outputs `z_i` with assignments `a_i` (A.1, eqs. 6-8):
//! - `n_k   <- decay * n_k + (1 - decay) * |{i : a_i = k}|`
//! - `m_k   <- decay * m_k + (1 - decay) * sum_{i : a_i = k} z_i`
//! - Laplace smoothing (Sonnet `VectorQuantizerEMA`): `n'_k = (n_k + eps) / (n + K * eps) * n`,
//!   `n = sum_k n_k`
//! - `e_k   <- m_k / n'_k` for codes that have ever been assigned (`n_k > 0`); others keep their
//!   initial value.
//!
//! Dead codes (`n_k < dead_code_threshold` after the update) are re-seeded from encoder outputs of
//! the batch chosen with the backend RNG (the training loop reseeds it every step), with
//! `n_k = threshold` and `m_k = threshold * z` so that `e_k = z`.

use burn::module::{Module, RunningState};
use burn::prelude::*;
use burn::tensor::Distribution;

/// EMA vector quantiser of `codebook_size` codes of `code_dim` values.
#[derive(Module, Debug)]
pub struct VectorQuantizer<B: Backend> {
    /// Code vectors `e_k`, `[codebook_size, code_dim]`.
    pub codebook: RunningState<Tensor<B, 2>>,
    /// EMA cluster sizes `n_k`, `[codebook_size]`.
    pub cluster_size: RunningState<Tensor<B, 1>>,
    /// EMA sums of assigned vectors `m_k`, `[codebook_size, code_dim]`.
    pub embed_sum: RunningState<Tensor<B, 2>>,
    #[module(skip)]
    pub decay: f64,
    #[module(skip)]
    pub eps: f64,
    #[module(skip)]
    pub dead_code_threshold: f64,
}

/// Quantiser output for `N` vectors.
pub struct Quantized<B: Backend> {
    /// Straight-through output `z + sg(q - z)`: the value of `q`, the gradient of `z`. `[N, D]`
    pub st: Tensor<B, 2>,
    /// Code ids, `[N]`.
    pub indices: Tensor<B, 1, Int>,
    /// Commitment term `mean((z - sg(q))^2)` over all `N * D` values, `[1]` (not yet weighted).
    pub commit: Tensor<B, 1>,
}

impl<B: Backend> VectorQuantizer<B> {
    /// A quantiser with codebook entries drawn from `U(-1/K, 1/K)` (the usual PyTorch VQ-VAE
    /// init) and zero EMA statistics.
    pub fn new(codebook_size: usize, code_dim: usize, decay: f64, eps: f64, dead_code_threshold: f64, device: &B::Device) -> Self {
        let bound = 1.0 / codebook_size as f64;
        let codebook = Tensor::random([codebook_size, code_dim], Distribution::Uniform(-bound, bound), device);
        Self::from_state(codebook, Tensor::zeros([codebook_size], device), Tensor::zeros([codebook_size, code_dim], device), decay, eps, dead_code_threshold)
    }

    /// A quantiser with the given state (tests and hand-built models).
    ///
    /// # Shapes
    /// - codebook, embed_sum: `[K, D]`; cluster_size: `[K]`
    pub fn from_state(
        codebook: Tensor<B, 2>,
        cluster_size: Tensor<B, 1>,
        embed_sum: Tensor<B, 2>,
        decay: f64,
        eps: f64,
        dead_code_threshold: f64,
    ) -> Self {
        Self {
            codebook: RunningState::new(codebook.detach()),
            cluster_size: RunningState::new(cluster_size.detach()),
            embed_sum: RunningState::new(embed_sum.detach()),
            decay,
            eps,
            dead_code_threshold,
        }
    }

    pub fn codebook_size(&self) -> usize {
        self.codebook.value().dims()[0]
    }

    /// The current codebook, detached (it never receives gradients), `[K, D]`.
    pub fn codes(&self) -> Tensor<B, 2> {
        self.codebook.value_sync().detach()
    }

    /// Nearest code of each row by squared Euclidean distance.
    ///
    /// # Shapes
    /// - z: `[N, D]` -> `[N]` code ids
    pub fn nearest(&self, z: Tensor<B, 2>) -> Tensor<B, 1, Int> {
        nearest(z, self.codes())
    }

    /// Code vectors of `indices`.
    ///
    /// # Shapes
    /// - indices: `[N]` -> `[N, D]`
    pub fn lookup(&self, indices: Tensor<B, 1, Int>) -> Tensor<B, 2> {
        self.codes().select(0, indices)
    }

    /// Quantise without touching the EMA state (evaluation).
    ///
    /// # Shapes
    /// - z: `[N, D]`
    pub fn quantize(&self, z: Tensor<B, 2>) -> Quantized<B> {
        let indices = self.nearest(z.clone().detach());
        let q = self.lookup(indices.clone()); // [N, D]
        Quantized { st: straight_through(z.clone(), q.clone()), indices, commit: commitment(z, q) }
    }

    /// Quantise with the codebook as it was before this batch, then update the EMA state with the
    /// batch (Sonnet `VectorQuantizerEMA` order). Training only.
    ///
    /// # Shapes
    /// - z: `[N, D]`
    pub fn quantize_train(&self, z: Tensor<B, 2>) -> Quantized<B> {
        let out = self.quantize(z.clone());
        self.ema_update(z.detach(), out.indices.clone());
        out
    }

    /// One EMA step of cluster sizes, sums and codebook (module docs), then dead-code re-seeding.
    ///
    /// # Shapes
    /// - z: `[N, D]` (detached); indices: `[N]`
    pub fn ema_update(&self, z: Tensor<B, 2>, indices: Tensor<B, 1, Int>) {
        let [n_vec, d] = z.dims();
        let k = self.codebook_size();
        let decay = self.decay;
        let onehot: Tensor<B, 2> = indices.one_hot::<2>(k).float(); // [N, K]
        let counts = onehot.clone().sum_dim(0).reshape([k]); // [K]
        let sums = onehot.transpose().matmul(z.clone()); // [K, D]
        let cs = self.cluster_size.value_sync().mul_scalar(decay) + counts.mul_scalar(1.0 - decay); // [K]
        let mut es = self.embed_sum.value_sync().mul_scalar(decay) + sums.mul_scalar(1.0 - decay); // [K, D]
        let total = cs.clone().sum(); // [1]
        let smoothed = (cs.clone().add_scalar(self.eps) / total.clone().add_scalar(k as f64 * self.eps)) * total; // [K]
        let updated = es.clone() / smoothed.unsqueeze_dim::<2>(1); // [K, D]
        let seen = cs.clone().greater_elem(0.0).unsqueeze_dim::<2>(1).expand([k, d]); // [K, D]
        let mut codebook = self.codebook.value_sync().mask_where(seen, updated);
        let mut cs = cs;

        let thr = self.dead_code_threshold;
        let dead = cs.clone().lower_elem(thr); // [K]
        let n_dead = dead.clone().int().sum().into_scalar().elem::<i64>();
        if n_dead > 0 && n_vec > 0 {
            let device = z.device();
            let pick = Tensor::<B, 1>::random([k], Distribution::Uniform(0.0, n_vec as f64), &device)
                .int()
                .clamp(0, n_vec as i64 - 1); // [K]
            let candidates = z.select(0, pick); // [K, D]
            let dead2 = dead.clone().unsqueeze_dim::<2>(1).expand([k, d]);
            codebook = codebook.mask_where(dead2.clone(), candidates.clone());
            es = es.mask_where(dead2, candidates.mul_scalar(thr));
            cs = cs.mask_fill(dead, thr);
        }
        self.cluster_size.update(cs.detach());
        self.embed_sum.update(es.detach());
        self.codebook.update(codebook.detach());
    }
}

/// Nearest row of `codebook` for each row of `z`: `argmin_k ||z||^2 - 2 z.e_k + ||e_k||^2`.
///
/// # Shapes
/// - z: `[N, D]`, codebook: `[K, D]` -> `[N]`
pub fn nearest<B: Backend>(z: Tensor<B, 2>, codebook: Tensor<B, 2>) -> Tensor<B, 1, Int> {
    let n = z.dims()[0];
    let z2 = z.clone().square().sum_dim(1); // [N, 1]
    let e2 = codebook.clone().square().sum_dim(1).transpose(); // [1, K]
    let dist = z2 - z.matmul(codebook.transpose()).mul_scalar(2.0) + e2; // [N, K]
    dist.argmin(1).reshape([n])
}

/// Straight-through estimator `z + sg(q - z)` (van den Oord et al. 2017 §3.2): forward value `q`,
/// gradient passed to `z` unchanged.
///
/// # Shapes
/// - z, q: `[N, D]` -> `[N, D]`
pub fn straight_through<B: Backend>(z: Tensor<B, 2>, q: Tensor<B, 2>) -> Tensor<B, 2> {
    z.clone() + (q - z).detach()
}

/// Commitment term `mean((z - sg(q))^2)` (the `beta` weight is applied by the caller).
///
/// # Shapes
/// - z, q: `[N, D]` -> `[1]`
pub fn commitment<B: Backend>(z: Tensor<B, 2>, q: Tensor<B, 2>) -> Tensor<B, 1> {
    (z - q.detach()).square().mean()
}

/// Code counts on the host, for usage and perplexity.
#[derive(Debug, Clone)]
pub struct CodeUsage {
    pub counts: Vec<u64>,
}

impl CodeUsage {
    pub fn new(codebook_size: usize) -> Self {
        Self { counts: vec![0; codebook_size] }
    }

    /// Count code ids (out-of-range ids are ignored).
    pub fn add(&mut self, ids: impl IntoIterator<Item = i64>) {
        for id in ids {
            if let Some(c) = usize::try_from(id).ok().and_then(|i| self.counts.get_mut(i)) {
                *c += 1;
            }
        }
    }

    /// Fraction of the codebook used at least once.
    pub fn usage(&self) -> f64 {
        self.counts.iter().filter(|&&c| c > 0).count() as f64 / self.counts.len().max(1) as f64
    }

    /// `exp(H(p))` of the code distribution `p = counts / total` (1 = one code, K = uniform).
    pub fn perplexity(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let h: f64 = self
            .counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / total as f64;
                -p * p.ln()
            })
            .sum();
        h.exp()
    }
}

/// Tests that seed burn's process-wide backend RNG and need exact randomness hold this lock, so
/// parallel test threads do not draw from each other's streams.
#[cfg(test)]
pub(crate) static TEST_RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    type AD = burn::backend::Autodiff<burn::backend::Flex>;
    type B = burn::backend::Flex;

    fn t2<BK: Backend>(rows: &[[f32; 2]], device: &BK::Device) -> Tensor<BK, 2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::<BK, 1>::from_floats(flat.as_slice(), device).reshape([rows.len(), 2])
    }

    fn host2<BK: Backend>(t: Tensor<BK, 2>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn straight_through_passes_the_gradient_and_commitment_gradient_matches_hand_formula() {
        let device = Default::default();
        // N = 2 vectors of D = 2; codebook rows (0, 0) and (1, 1).
        let z = t2::<AD>(&[[0.2, -0.1], [0.9, 1.3]], &device).require_grad();
        let codebook = t2::<AD>(&[[0.0, 0.0], [1.0, 1.0]], &device);
        let idx = nearest(z.clone(), codebook.clone());
        assert_eq!(idx.clone().into_data().iter::<i64>().collect::<Vec<_>>(), vec![0, 1]);
        let q = codebook.select(0, idx); // [[0,0],[1,1]]
        let w = t2::<AD>(&[[1.0, 2.0], [3.0, -4.0]], &device);

        // d/dz sum(w * st(z, q)) = w: the gradient of the quantised output, passed through.
        let st = straight_through(z.clone(), q.clone());
        assert_eq!(host2(st.clone().detach()), vec![0.0, 0.0, 1.0, 1.0]);
        let grads = (st * w.clone()).sum().backward();
        let gz = host2(z.grad(&grads).unwrap());
        let q_leaf = q.clone().detach().require_grad();
        let grads_q = (q_leaf.clone() * w.clone()).sum().backward();
        let gq = host2(q_leaf.grad(&grads_q).unwrap());
        assert_eq!(gz, gq);
        assert_eq!(gz, vec![1.0, 2.0, 3.0, -4.0]);

        // d/dz 0.25 * mean((z - sg(q))^2) = 2 * 0.25 * (z - q) / 4 (N * D = 4 values).
        let grads = commitment(z.clone(), q).mul_scalar(0.25).sum().backward();
        let gz = host2(z.grad(&grads).unwrap());
        let by_hand = [0.2 - 0.0, -0.1 - 0.0, 0.9 - 1.0, 1.3 - 1.0].map(|d: f32| 2.0 * 0.25 * d / 4.0);
        for (g, h) in gz.iter().zip(by_hand) {
            assert!((g - h).abs() < 1e-6, "{gz:?} vs {by_hand:?}");
        }
    }

    #[test]
    fn ema_update_matches_hand_computed_numbers() {
        let device = Default::default();
        // K = 2 codes, D = 2. State before: e0 = (0, 0), e1 = (10, 10); n = (4, 1);
        // m = e * n = ((0, 0), (10, 10)). decay 0.99, eps 1e-5, no dead-code re-seeding.
        let vq = VectorQuantizer::<B>::from_state(
            t2(&[[0.0, 0.0], [10.0, 10.0]], &device),
            Tensor::from_floats([4.0, 1.0], &device),
            t2(&[[0.0, 0.0], [10.0, 10.0]], &device),
            0.99,
            1e-5,
            0.0,
        );
        // Batch: (1, 0) and (0, 1) go to code 0, (9, 9) to code 1.
        let z = t2::<B>(&[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]], &device);
        let idx = vq.nearest(z.clone());
        assert_eq!(idx.clone().into_data().iter::<i64>().collect::<Vec<_>>(), vec![0, 0, 1]);
        vq.ema_update(z, idx);

        // counts (2, 1); sums ((1, 1), (9, 9))
        // n0 = 0.99 * 4 + 0.01 * 2 = 3.98;  n1 = 0.99 * 1 + 0.01 * 1 = 1.0
        // m0 = 0.99 * (0, 0) + 0.01 * (1, 1) = (0.01, 0.01)
        // m1 = 0.99 * (10, 10) + 0.01 * (9, 9) = (9.99, 9.99)
        // n = 4.98; smoothed n'_k = (n_k + 1e-5) / (4.98 + 2e-5) * 4.98
        //   n'0 = 3.98001 * 4.98 / 4.98002 = 3.979994016...; n'1 = 1.00001 * 4.98 / 4.98002 = 1.000005984...
        // e0 = 0.01 / n'0 = 0.0025125666...; e1 = 9.99 / n'1 = 9.98994022...
        let n = 4.98f64;
        let s0 = (3.98 + 1e-5) / (n + 2e-5) * n;
        let s1 = (1.0 + 1e-5) / (n + 2e-5) * n;
        let cs = vq.cluster_size.value_sync().into_data().to_vec::<f32>().unwrap();
        let es = host2(vq.embed_sum.value_sync());
        let cb = host2(vq.codebook.value_sync());
        let close = |a: f32, b: f64| (a as f64 - b).abs() < 1e-5 * b.abs().max(1.0);
        assert!(close(cs[0], 3.98) && close(cs[1], 1.0), "{cs:?}");
        assert!(close(es[0], 0.01) && close(es[1], 0.01) && close(es[2], 9.99) && close(es[3], 9.99), "{es:?}");
        assert!(close(cb[0], 0.01 / s0) && close(cb[1], 0.01 / s0), "{cb:?} vs {}", 0.01 / s0);
        assert!(close(cb[2], 9.99 / s1) && close(cb[3], 9.99 / s1), "{cb:?} vs {}", 9.99 / s1);
        assert!(close(cb[0], 0.0025125666) && close(cb[2], 9.98994022), "{cb:?}");
    }

    #[test]
    fn dead_codes_are_reseeded_from_batch_vectors() {
        let device = Default::default();
        let _rng = TEST_RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        <B as Backend>::seed(&device, 3);
        // Code 1 is far from everything and has a tiny cluster size: it is dead (threshold 0.5).
        let vq = VectorQuantizer::<B>::from_state(
            t2(&[[0.0, 0.0], [100.0, 100.0]], &device),
            Tensor::from_floats([4.0, 0.1], &device),
            t2(&[[0.0, 0.0], [10.0, 10.0]], &device),
            0.99,
            1e-5,
            0.5,
        );
        let z = t2::<B>(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let idx = vq.nearest(z.clone());
        vq.ema_update(z, idx);
        let cb = host2(vq.codebook.value_sync());
        let e1 = [cb[2], cb[3]];
        assert!([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].contains(&e1), "dead code not reseeded from the batch: {e1:?}");
        let cs = vq.cluster_size.value_sync().into_data().to_vec::<f32>().unwrap();
        assert_eq!(cs[1], 0.5);
        // Code 0 is alive and was updated by EMA, not reseeded.
        assert!(cs[0] > 3.9);
    }

    #[test]
    fn usage_and_perplexity_of_code_counts() {
        let mut u = CodeUsage::new(4);
        u.add([0, 0, 1, 1]);
        assert_eq!(u.usage(), 0.5);
        assert!((u.perplexity() - 2.0).abs() < 1e-12);
        u.add([2, 3, 2, 3]);
        assert!((u.perplexity() - 4.0).abs() < 1e-12);
    }
}
