//! The random draws of an MMIDAS arm's training pass: input dropout and the noise of the
//! Gumbel-softmax and reparameterisation samples ([`super::model`]).

use burn::nn::DropoutConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng};

/// Inverted dropout of an arm's input (`x_drop` in the reference: `nn.Dropout(p)` on `x`): in
/// training each entry is zeroed with probability `prob` and the rest are scaled by
/// `1 / (1 - prob)`; outside training `x` is returned unchanged.
///
/// Written here instead of burn's `Dropout` because burn 0.21 draws its Bernoulli mask one `f64`
/// at a time through a generic sampler: on the 20,000-gene bench (1,280 + 1,536 inputs, batch
/// 1,000) that was 60 % of the MMIDAS step (`perf`, bench/README.md). The mask here comes from a
/// ChaCha8 stream (`rand_chacha`) whose 64-bit key is drawn from the backend's generator, which the
/// trainer reseeds every step, so runs stay deterministic by seed and resume exactly.
///
/// The input must carry no gradient (it is data); a tracked tensor goes through burn's `Dropout`.
///
/// # Shapes
/// - `x`: `[n, d]` -> `[n, d]`
pub fn input_dropout<B: Backend>(x: Tensor<B, 2>, prob: f64) -> Tensor<B, 2> {
    if !B::ad_enabled(&x.device()) || prob == 0.0 {
        return x;
    }
    let key = dropout_key::<B>(&x.device());
    dropout_with_key(x, prob, key)
}

/// A 64-bit key for the dropout mask stream, from three 30-bit draws of the backend's generator
/// (the bound must fit the backend's int type, i32 on some).
fn dropout_key<B: Backend>(device: &B::Device) -> u64 {
    Tensor::<B, 1, Int>::random([3], Distribution::Uniform(0.0, 1_073_741_824.0), device)
        .into_data()
        .iter::<i64>()
        .fold(0u64, |k, v| k.rotate_left(30) ^ (v as u64 & 0x3fff_ffff))
}

/// [`input_dropout`] with the mask stream's key given.
pub(super) fn dropout_with_key<B: Backend>(x: Tensor<B, 2>, prob: f64, key: u64) -> Tensor<B, 2> {
    let device = x.device();
    if !B::ad_enabled(&device) || prob == 0.0 {
        return x;
    }
    if x.is_require_grad() {
        return DropoutConfig::new(prob).init().forward(x);
    }
    // Copies unless `x` holds the only reference to its buffer.
    let mut data = x.into_data().convert::<f32>();
    dropout_in_place(data.as_mut_slice::<f32>().expect("f32 after conversion"), prob, key);
    Tensor::from_data(data, &device)
}

/// The random draws of one arm's training pass, in the order the pass uses them (dropout mask
/// key, Gumbel uniforms, reparameterisation normals). Drawing them before the pass lets arms run
/// on threads of their own and still get the numbers a sequential pass would.
#[derive(Debug, Clone)]
pub struct ArmNoise<B: Backend> {
    /// Key of the input-dropout mask stream (unused when dropout is 0).
    pub dropout_key: u64,
    /// `U ~ U(0, 1)` of the Gumbel-softmax sample, `[n, K]`.
    pub uniform: Tensor<B, 2>,
    /// `e ~ N(0, I)` of `s = mu + sqrt(var) * e`, `[n, state]`.
    pub normal: Tensor<B, 2>,
}

impl<B: Backend> ArmNoise<B> {
    /// Draw from the backend's generator: `n` rows, `k` categories, `state` dims.
    pub fn draw(n: usize, k: usize, state: usize, dropout: f64, device: &B::Device) -> Self {
        let dropout_key = if dropout > 0.0 && B::ad_enabled(device) { dropout_key::<B>(device) } else { 0 };
        let uniform = Tensor::random([n, k], Distribution::Uniform(0.0, 1.0), device);
        let normal = Tensor::random([n, state], Distribution::Normal(0.0, 1.0), device);
        Self { dropout_key, uniform, normal }
    }
}

/// Zero each entry of `values` with probability `prob` (an entry is kept when its `u32` from the
/// keyed ChaCha8 stream is at least `prob * 2^32`) and scale the kept ones by `1 / (1 - prob)`.
fn dropout_in_place(values: &mut [f32], prob: f64, key: u64) {
    if prob >= 1.0 {
        values.fill(0.0);
        return;
    }
    let threshold = (prob * 4_294_967_296.0) as u32; // prob < 1
    let scale = (1.0 / (1.0 - prob)) as f32;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(key);
    let mut draws = [0u32; 1024];
    for chunk in values.chunks_mut(draws.len()) {
        let draws = &mut draws[..chunk.len()];
        rng.fill(draws);
        for (v, &u) in chunk.iter_mut().zip(draws.iter()) {
            *v *= if u >= threshold { scale } else { 0.0 };
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type AB = Autodiff<Flex>;

    #[test]
    fn input_dropout_keeps_one_minus_p_scaled_and_follows_the_seed() {
        let device = Default::default();
        let x = Tensor::<AB, 2>::ones([200, 50], &device);
        let draw = |seed| {
            AB::seed(&device, seed);
            input_dropout(x.clone(), 0.25).into_data().iter::<f32>().collect::<Vec<f32>>()
        };
        let a = draw(1);
        let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
        // 10,000 Bernoulli(0.75) draws: standard deviation 0.0043.
        assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
        assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert_eq!(a, draw(1), "same seed, same mask");
        assert_ne!(a, draw(2), "another seed, another mask");
        // Outside training (no autodiff) and at p = 0 it is the identity.
        let inner = Tensor::<Flex, 2>::ones([4, 3], &device);
        assert_eq!(input_dropout(inner, 0.5).into_data().iter::<f32>().sum::<f32>(), 12.0);
        assert_eq!(input_dropout(x.clone(), 0.0).into_data().iter::<f32>().sum::<f32>(), 10_000.0);
        // A tracked input takes burn's dropout and keeps its gradient.
        let t = Tensor::<AB, 2>::ones([20, 5], &device).require_grad();
        let g = input_dropout(t.clone(), 0.5).sum().backward();
        let g: Vec<f32> = t.grad(&g).unwrap().into_data().iter::<f32>().collect();
        assert!(g.iter().all(|&v| v == 0.0 || v == 2.0) && g.contains(&2.0));
    }
}
