//! Every fused kernel against the composite code it replaces, forward and backward, on the CPU
//! backend: outputs and every input gradient agree to 1e-5 relative (max-abs error over the
//! tensor divided by the max-abs of the composite value), on odd sizes, one head, seq 1, several
//! attention blocks, and fully masked cross-entropy rows.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

type A = Autodiff<Flex>;

fn random(shape: &[usize], seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..shape.iter().product::<usize>()).map(|_| rng.random_range(-scale..scale)).collect()
}

fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<A, D> {
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Max-abs difference relative to the max-abs of the reference.
fn assert_close(what: &str, fused: &[f32], reference: &[f32]) {
    assert_eq!(fused.len(), reference.len(), "{what}: lengths differ");
    let scale = reference.iter().fold(0.0f32, |a, &x| a.max(x.abs())).max(f32::MIN_POSITIVE);
    let err = fused.iter().zip(reference).fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(fused.iter().all(|x| x.is_finite()), "{what}: non-finite values");
    assert!(err / scale <= 1e-5, "{what}: relative error {:e} (max abs {err:e}, scale {scale:e})", err / scale);
}

/// Run `fused` and `composite` on the same input with the same upstream gradient; compare the
/// outputs and the input gradients.
fn check<const DI: usize, const DO: usize>(
    what: &str,
    input: Vec<f32>,
    shape: [usize; DI],
    fused: impl Fn(Tensor<A, DI>) -> Tensor<A, DO>,
    composite: impl Fn(Tensor<A, DI>) -> Tensor<A, DO>,
) {
    let run = |f: &dyn Fn(Tensor<A, DI>) -> Tensor<A, DO>| {
        let x = tensor(input.clone(), shape).require_grad();
        let y = f(x.clone());
        let upstream = tensor(random(&y.dims(), 99, 1.0), y.dims());
        let grads = (y.clone() * upstream).sum().backward();
        (values(y), values(x.grad(&grads).expect("input gradient")))
    };
    let (yf, gf) = run(&fused);
    let (yc, gc) = run(&composite);
    assert_close(&format!("{what}: output"), &yf, &yc);
    assert_close(&format!("{what}: input gradient"), &gf, &gc);
}

#[test]
fn fused_attention_matches_composite_forward_and_backward() {
    // (batch, seq, heads, head_dim): odd sizes, seq 1 with one head, several 64-row blocks.
    for (i, &(b, t, h, hd)) in [(2, 7, 3, 4), (1, 1, 1, 8), (3, 70, 2, 6), (1, 130, 1, 2), (2, 64, 4, 16)].iter().enumerate() {
        let spec = AttentionSpec { n_heads: h, rope_theta: 10_000.0 };
        let shape = [b, t, 3 * h * hd];
        check(
            &format!("attention {b}x{t}x{h}x{hd}"),
            random(&shape, i as u64, 2.0),
            shape,
            |x| causal_attention(x, spec),
            |x| composite::causal_attention(x, spec).0,
        );
    }
}

#[test]
fn fused_norms_match_composite_forward_and_backward() {
    for (i, shape) in [[2usize, 5, 7], [1, 1, 3], [3, 11, 256]].into_iter().enumerate() {
        let input = random(&shape, 10 + i as u64, 3.0);
        let spec = NormSpec { kind: NormKind::LayerNormNoAffine, eps: 1e-5 };
        check(&format!("layer norm {shape:?}"), input.clone(), shape, |x| norm(x, None, spec), |x| composite::norm(x, None, spec));

        // RMSNorm: the weight's gradient too.
        let spec = NormSpec { kind: NormKind::RmsNorm, eps: 1e-5 };
        let d = shape[2];
        let w_data = random(&[d], 20 + i as u64, 1.5);
        let run = |fused: bool| {
            let x = tensor(input.clone(), shape).require_grad();
            let w = tensor(w_data.clone(), [d]).require_grad();
            let y = if fused { norm(x.clone(), Some(w.clone()), spec) } else { composite::norm(x.clone(), Some(w.clone()), spec) };
            let upstream = tensor(random(&shape, 98, 1.0), shape);
            let grads = (y.clone() * upstream).sum().backward();
            (values(y), values(x.grad(&grads).unwrap()), values(w.grad(&grads).unwrap()))
        };
        let (f, c) = (run(true), run(false));
        assert_close("rms norm: output", &f.0, &c.0);
        assert_close("rms norm: x gradient", &f.1, &c.1);
        assert_close("rms norm: weight gradient", &f.2, &c.2);
    }
}

#[test]
fn fused_swiglu_matches_composite_forward_and_backward() {
    for (i, shape) in [[2usize, 3, 10], [1, 1, 2], [4, 9, 66]].into_iter().enumerate() {
        check(&format!("swiglu {shape:?}"), random(&shape, 30 + i as u64, 4.0), shape, swiglu, composite::swiglu);
    }
}

#[test]
fn fused_cross_entropy_matches_composite_with_masked_rows() {
    let (tokens, vocab) = (9, 11);
    let targets: Vec<i64> = (0..tokens as i64).map(|i| (i * 7 + 3) % vocab as i64).collect();
    // Rows 0 and 4 are fully masked (no loss, no gradient), row 6 is weighted by one half.
    let masks = [
        (0..tokens).map(|i| if i == 0 || i == 4 { 0.0 } else if i == 6 { 0.5 } else { 1.0 }).collect::<Vec<f32>>(),
        vec![0.0; tokens],
        vec![1.0; tokens],
    ];
    for (i, mask) in masks.into_iter().enumerate() {
        let device = Default::default();
        let t = Tensor::<A, 1, Int>::from_data(TensorData::new(targets.clone(), [tokens]), &device);
        let m = tensor(mask.clone(), [tokens]);
        check(
            &format!("cross-entropy, mask {i}"),
            random(&[tokens, vocab], 40 + i as u64, 5.0),
            [tokens, vocab],
            |x| masked_cross_entropy_sum(x, t.clone(), m.clone()),
            |x| composite::masked_cross_entropy_sum(x, t.clone(), m.clone()),
        );
    }
}

#[test]
fn fused_relu_batch_norm_matches_composite_forward_and_backward() {
    // [n, f]: odd sizes, one row (variance 0), one feature, the MMIDAS layer shape.
    for (i, shape) in [[7usize, 5], [1, 4], [33, 1], [1000, 100]].into_iter().enumerate() {
        let mut input = random(&shape, 60 + i as u64, 3.0);
        // Feature 0 negative in every row: ReLU gives a zero column (variance 0, no gradient).
        input.iter_mut().step_by(shape[1]).for_each(|v| *v = -v.abs() - 0.1);
        check(&format!("relu batch norm {shape:?}"), input.clone(), shape, |z| relu_batch_norm(z, 1e-5).0, |z| composite::relu_batch_norm(z, 1e-5).0);
        let (_, mf, vf) = relu_batch_norm(tensor(input.clone(), shape), 1e-5);
        let (_, mc, vc) = composite::relu_batch_norm(tensor(input, shape), 1e-5);
        assert_close("relu batch norm: mean", &values(mf), &values(mc));
        assert_close("relu batch norm: variance", &values(vf), &values(vc));
    }
}

#[test]
fn fused_linear_matches_composite_forward_and_backward() {
    // (rows, k, n, bias, weight given transposed, input tracked): odd sizes, one row and one
    // feature, the tied-embedding layout, a product large enough to run on rayon's pool, and
    // an untracked input (the data fed to a first layer: no input gradient is computed).
    let cases = [
        (7, 5, 3, true, false, true),
        (1, 1, 1, true, false, true),
        (9, 6, 11, false, true, true),
        (250, 192, 160, true, false, true),
        (13, 8, 4, true, false, false),
    ];
    for (i, &(m, k, n, with_bias, transposed, x_tracked)) in cases.iter().enumerate() {
        let seed = 70 + 3 * i as u64;
        let (xd, wd, bd) = (random(&[m, k], seed, 2.0), random(&[k, n], seed + 1, 1.0), random(&[n], seed + 2, 1.0));
        let run = |fused: bool| {
            let x = tensor(xd.clone(), [1, m, k]);
            let x = if x_tracked { x.require_grad() } else { x };
            // The transposed case stores the weight `[n, k]` and passes its transpose view.
            let w = if transposed {
                let wt: Vec<f32> = (0..n * k).map(|j| wd[(j % k) * n + j / k]).collect();
                tensor(wt, [n, k]).require_grad()
            } else {
                tensor(wd.clone(), [k, n]).require_grad()
            };
            let b = with_bias.then(|| tensor(bd.clone(), [n]).require_grad());
            let wv = if transposed { w.clone().transpose() } else { w.clone() };
            let y = if fused {
                linear(x.clone(), wv, b.clone())
            } else {
                let y = x.clone().matmul(wv.unsqueeze::<3>());
                match &b {
                    Some(b) => y + b.clone().unsqueeze::<3>(),
                    None => y,
                }
            };
            let upstream = tensor(random(&[1, m, n], 97, 1.0), [1, m, n]);
            let grads = (y.clone() * upstream).sum().backward();
            let gw = values(w.grad(&grads).expect("weight gradient"));
            (values(y), x.grad(&grads).map(values), gw, b.map(|b| values(b.grad(&grads).expect("bias gradient"))))
        };
        let (f, c) = (run(true), run(false));
        let what = format!("linear {m}x{k}x{n} bias {with_bias} transposed {transposed}");
        assert_close(&format!("{what}: output"), &f.0, &c.0);
        assert_eq!(f.1.is_some(), x_tracked, "{what}: input gradient present exactly when tracked");
        if let (Some(fx), Some(cx)) = (&f.1, &c.1) {
            assert_close(&format!("{what}: input gradient"), fx, cx);
        }
        assert_close(&format!("{what}: weight gradient"), &f.2, &c.2);
        if let (Some(fb), Some(cb)) = (&f.3, &c.3) {
            assert_close(&format!("{what}: bias gradient"), fb, cb);
        }
    }
}

#[test]
fn fused_squared_error_matches_composite_forward_and_backward() {
    // [n, d]: odd sizes, one element, several 16,384-element chunks (the MMIDAS recon shape).
    for (i, shape) in [[7usize, 5], [1, 1], [1000, 37]].into_iter().enumerate() {
        let target = tensor(random(&shape, 80 + i as u64, 2.0), shape);
        check(
            &format!("squared error {shape:?}"),
            random(&shape, 90 + i as u64, 2.0),
            shape,
            |x| squared_error_sum(x, target.clone()),
            |x| composite::squared_error_sum(x, target.clone()),
        );
    }
    // A tracked target takes the composite code, which differentiates both inputs.
    let (p, t) = (tensor(vec![1.0, 2.0], [1, 2]).require_grad(), tensor(vec![0.5, 3.0], [1, 2]).require_grad());
    let grads = squared_error_sum(p.clone(), t.clone()).backward();
    assert_eq!(values(t.grad(&grads).expect("target gradient")), vec![-1.0, 2.0]);
    assert_eq!(values(p.grad(&grads).expect("prediction gradient")), vec![1.0, -2.0]);
}

#[test]
fn fused_kernels_run_on_the_inner_backend_without_autodiff() {
    // Evaluation runs the model on `Flex` itself: the fused forward must equal the composite.
    let spec = AttentionSpec { n_heads: 2, rope_theta: 10_000.0 };
    let shape = [2, 5, 3 * 2 * 4];
    let x = Tensor::<Flex, 3>::from_data(TensorData::new(random(&shape, 50, 1.0), shape), &Default::default());
    assert_close("attention on Flex", &values(causal_attention(x.clone(), spec)), &values(composite::causal_attention(x.clone(), spec).0));
    let w = Tensor::<Flex, 2>::from_data(TensorData::new(random(&[24, 3], 51, 1.0), [24, 3]), &Default::default());
    assert_close("linear on Flex", &values(linear(x.clone(), w.clone(), None)), &values(x.matmul(w.unsqueeze::<3>())));
}
