//! NEFTune: uniform noise on the input embeddings during finetuning (Jain et al. 2023, "NEFTune:
//! Noisy Embeddings Improve Instruction Finetuning", Algorithm 1). Omni-DNA finetunes with
//! `neftune_noise_alpha = 5` (Li et al. 2025 §3.3; Zehui127/Omni-DNA
//! `src/multitask_sft/train_sft.py`).
//!
//! `embeds + U(-1, 1) · α / √(L · d)` with `L` the PADDED sequence length of the batch and `d` the
//! model width, as in Hugging Face `neftune_post_forward_hook` (which trl's `SFTTrainer` installs
//! for Omni-DNA); the paper's Algorithm 1 uses each example's own length instead.
//!
//! Training only: the task's `step` calls it between `OlmoModel::embed` and `OlmoModel::hidden`;
//! evaluation and generation never do. The noise is a constant (no gradient flows into it) drawn
//! from the backend's generator, so `B::seed` makes it reproducible.

use burn::prelude::*;
use burn::tensor::Distribution;

/// Largest absolute noise value NEFTune adds: `α / √(L · d)`.
pub fn neftune_scale(alpha: f64, seq: usize, d_model: usize) -> f64 {
    alpha / ((seq * d_model) as f64).sqrt()
}

/// Add NEFTune noise to a batch of input embeddings; `alpha = 0` returns them unchanged.
///
/// # Shapes
/// - embeds: `[batch, seq, d_model]` (`seq` = padded length) → `[batch, seq, d_model]`
pub fn neftune_noise<B: Backend>(embeds: Tensor<B, 3>, alpha: f64) -> Tensor<B, 3> {
    let [batch, seq, d] = embeds.dims();
    if alpha == 0.0 || seq * d == 0 {
        return embeds;
    }
    let scale = neftune_scale(alpha, seq, d);
    let device = embeds.device();
    let noise = Tensor::<B, 3>::random([batch, seq, d], Distribution::Uniform(-scale, scale), (&device, embeds.dtype()));
    embeds + noise
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    fn noise_of(alpha: f64, shape: [usize; 3]) -> Vec<f64> {
        let device = Default::default();
        B::seed(&device, 7);
        let embeds = Tensor::<B, 3>::ones(shape, &device);
        let noisy = neftune_noise(embeds.clone(), alpha);
        (noisy - embeds).into_data().convert::<f64>().into_vec::<f64>().expect("f64")
    }

    #[test]
    fn neftune_noise_is_uniform_with_the_papers_scale() {
        let (alpha, shape) = (5.0, [8, 50, 32]);
        let scale = neftune_scale(alpha, 50, 32); // 5 / sqrt(1600) = 0.125
        assert!((scale - 0.125).abs() < 1e-12);
        let noise = noise_of(alpha, shape);
        let n = noise.len() as f64;
        let max = noise.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let mean = noise.iter().sum::<f64>() / n;
        let var = noise.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        assert!(max <= scale * (1.0 + 1e-6), "max {max} above {scale}");
        assert!(max >= 0.99 * scale, "max {max} far below {scale}");
        // 12,800 draws: the mean's standard error is scale/sqrt(3n) ≈ 6e-4.
        assert!(mean.abs() < 4e-3, "mean {mean}");
        let expected = scale * scale / 3.0;
        assert!((var / expected - 1.0).abs() < 0.05, "variance {var}, expected {expected}");
    }

    #[test]
    fn neftune_noise_is_zero_when_alpha_is_zero() {
        assert!(noise_of(0.0, [2, 5, 4]).iter().all(|&x| x == 0.0));
    }
}
