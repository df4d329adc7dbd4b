//! Tests of `kind = "mmidas"`: a two-arm fit on synthetic clusters, determinism by seed, resume.

mod fit {
    use super::super::*;
    use crate::config::TrainSection;
    use crate::mmidas::config::MmidasSection;
    use crate::mmidas::model::ArmConfig;
    use crate::config::Duration;
    use burn::backend::{Autodiff, Flex};
    use rand::{Rng, SeedableRng};

    /// `n` items in 4 clusters seen through two views of different sizes: each view is the
    /// cluster's mean in that view (N(0, 2^2) per coordinate) plus N(0, 0.5^2) noise.
    pub(in crate::recipes::mmidas) fn synthetic(n: usize, seed: u64) -> (MmidasData, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut normal = move |sd: f32| {
            // Box-Muller from two uniforms.
            let (u, v): (f32, f32) = (rng.random::<f32>().max(1e-7), rng.random());
            sd * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        };
        let dims = [8usize, 5];
        let means: Vec<Vec<Vec<f32>>> = dims.iter().map(|&d| (0..4).map(|_| (0..d).map(|_| normal(2.0)).collect()).collect()).collect();
        let truth: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let values = dims
            .iter()
            .enumerate()
            .map(|(a, &d)| truth.iter().flat_map(|&c| (0..d).map(|j| means[a][c][j] + normal(0.5)).collect::<Vec<_>>()).collect())
            .collect();
        let data = MmidasData {
            ids: (0..n).map(|i| format!("g{i}")).collect(),
            names: vec!["a".into(), "b".into()],
            dims: dims.to_vec(),
            values,
        };
        (data, truth)
    }

    #[test]
    fn two_arm_fit_recovers_synthetic_clusters_after_pruning() {
        let (data, truth) = synthetic(400, 11);
        let section = MmidasSection {
            n_categories: 5,
            min_categories: 4,
            steps_per_round: 60,
            model: ArmConfig { tau: 0.2, hidden: 16, hidden_layers: 1, latent: 4, dropout: 0.0, batch_norm_momentum: 0.1, ..ArmConfig::default() },
            ..MmidasSection::default()
        };
        let train = TrainSection {
            batch_size: 50,
            duration: Duration::Steps(150),
            lr: 1e-2,
            warmup_steps: 0,
            weight_decay: 0.0,
            beta2: 0.999,
            grad_clip_norm: 0.0,
            eval_every: 0,
            log_every: 1000,
            checkpoint_every: 100_000,
            keep_last: 1,
            schedule: crate::config::Schedule::Constant,
            ..TrainSection::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let spec = FitSpec { section: &section, train: &train, first_steps: 150, seed: 5, run_dir: dir.path() };
        let mut sink = crate::logging::MemorySink::new();
        let (rounds, state) = fit::<Autodiff<Flex>>(&data, &spec, &mut sink, &mut |_| {}, &Default::default()).unwrap();
        assert_eq!(rounds.iter().map(|r| r.summary.k).collect::<Vec<_>>(), vec![5, 4]);
        assert_eq!(state.step, 210);
        let last = &rounds[1];
        assert_eq!(last.active.iter().filter(|a| !**a).count(), 1);
        let joint: Vec<usize> = joint_labels(&last.eval, 5).iter().map(|j| j.0).collect();
        let pruned = last.active.iter().position(|a| !a).unwrap();
        assert!(joint.iter().all(|&j| j != pruned), "no item may land in the pruned category");
        let ari = crate::eval::clustering::adjusted_rand_index(&joint, &truth).unwrap();
        eprintln!("ARI {ari}, consensus {:?}", rounds.iter().map(|r| r.summary.consensus).collect::<Vec<_>>());
        assert!(ari >= 0.9, "ARI {ari}, consensus {:?}", rounds.iter().map(|r| r.summary.consensus).collect::<Vec<_>>());
        assert!(last.summary.consensus > 0.9, "{:?}", last.summary);
        assert!(dir.path().join("K_005").is_dir() && dir.path().join("K_004").is_dir());
    }
}

mod determinism {
    use super::super::*;
    use crate::config::TrainSection;
    use crate::mmidas::config::MmidasSection;
    use crate::mmidas::model::ArmConfig;
    use burn::backend::{Autodiff, Flex};

    /// burn's Flex backend has one process-wide RNG; `.cargo/config.toml` runs tests one at a
    /// time so that no other test draws from it meanwhile.
    #[test]
    fn same_seed_gives_same_labels_and_loss() {
        let (data, _) = super::tests_data();
        let section = MmidasSection {
            n_categories: 3,
            min_categories: 3,
            model: ArmConfig { hidden: 8, hidden_layers: 1, latent: 3, ..ArmConfig::default() },
            ..MmidasSection::default()
        };
        let train = TrainSection { batch_size: 40, log_every: 1000, checkpoint_every: 100_000, warmup_steps: 0, ..TrainSection::default() };
        let run = || {
            let dir = tempfile::tempdir().unwrap();
            let spec = FitSpec { section: &section, train: &train, first_steps: 15, seed: 9, run_dir: dir.path() };
            let mut sink = crate::logging::MemorySink::new();
            let (rounds, state) = fit::<Autodiff<Flex>>(&data, &spec, &mut sink, &mut |_| {}, &Default::default()).unwrap();
            (rounds[0].eval.labels.clone(), state.last_loss)
        };
        let (a, b) = (run(), run());
        assert_eq!(a.0, b.0);
        assert_eq!(a.1.to_bits(), b.1.to_bits(), "{} vs {}", a.1, b.1);
    }
}

mod resume {
    use super::super::*;
    use crate::config::TrainSection;
    use crate::mmidas::config::MmidasSection;
    use crate::mmidas::model::ArmConfig;
    use burn::backend::{Autodiff, Flex};

    #[test]
    fn rerun_in_same_directory_skips_finished_rounds_and_keeps_the_mask() {
        let (data, _) = super::tests_data();
        let section = MmidasSection {
            n_categories: 4,
            min_categories: 3,
            steps_per_round: 5,
            model: ArmConfig { hidden: 8, hidden_layers: 1, latent: 3, ..ArmConfig::default() },
            ..MmidasSection::default()
        };
        let train = TrainSection { batch_size: 40, log_every: 1000, checkpoint_every: 100_000, warmup_steps: 0, ..TrainSection::default() };
        let dir = tempfile::tempdir().unwrap();
        let spec = FitSpec { section: &section, train: &train, first_steps: 8, seed: 9, run_dir: dir.path() };
        let fit_once = || {
            let mut sink = crate::logging::MemorySink::new();
            let mut said = Vec::new();
            let (rounds, state) =
                fit::<Autodiff<Flex>>(&data, &spec, &mut sink, &mut |l| said.push(l.to_string()), &Default::default()).unwrap();
            (rounds, state, said)
        };
        let (first, state, _) = fit_once();
        assert_eq!((first.len(), state.step), (2, 13));
        let (again, state2, said) = fit_once();
        assert_eq!(said.iter().filter(|l| l.contains("skipping")).count(), 2, "{said:?}");
        assert_eq!(state2.step, 13);
        assert_eq!(again[1].active, first[1].active);
        assert_eq!(again[1].eval.labels, first[1].eval.labels);
    }
}

/// 120 items of the synthetic two-view data, for tests outside `tests`.
fn tests_data() -> (super::MmidasData, Vec<usize>) {
    fit::synthetic(120, 3)
}

mod parallel_arms {
    use super::super::*;
    use crate::mmidas::model::{ArmConfig, MmidasConfig};
    use burn::backend::{Autodiff, Flex};
    use burn::module::Module;
    use burn::optim::GradientsParams;

    type AB = Autodiff<Flex>;

    /// Every parameter's gradient as host values, in the module's order.
    fn grads_of(model: &Mmidas<AB>, grads: &GradientsParams) -> Vec<Vec<f32>> {
        struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
        impl burn::module::ModuleVisitor<AB> for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<AB, D>>) {
                if let Some(g) = self.0.get::<Flex, D>(p.id) {
                    self.1.push(g.into_data().iter::<f32>().collect());
                }
            }
        }
        let mut c = Collect(grads, Vec::new());
        model.visit(&mut c);
        c.1
    }

    /// The arms on threads of their own give the loss, the diagnostics and every gradient of
    /// differentiating the whole loss at once, with dropout, a pruned category, three arms and
    /// two micro-batch units.
    #[test]
    fn arms_in_parallel_match_one_backward_pass() {
        let (mut data, _) = super::fit::synthetic(64, 21);
        // A third arm (a copy of the first view), so the coupling has three pairs.
        data.names.push("c".into());
        data.dims.push(data.dims[0]);
        data.values.push(data.values[0].iter().map(|v| v * 0.5 + 0.1).collect());
        let device = Default::default();
        let config = MmidasConfig {
            input_dims: data.dims.clone(),
            n_categories: 5,
            arm: ArmConfig { hidden: 12, hidden_layers: 2, latent: 4, dropout: 0.2, tau: 0.3, ..ArmConfig::default() },
        };
        AB::seed(&device, 4);
        let model: Mmidas<AB> = config.init(&device);
        model.visit(&mut crate::train::parallel::Materialise);
        model.set_active(&[true, true, false, true, true]);
        let task = MmidasTask {
            data,
            weights: LossWeights { beta: 0.7, coupling: 1.3 },
            temperature: 0.8,
            arm_threads: Default::default(),
        };
        let batch = task.data.rows(&(0..48).collect::<Vec<_>>());

        AB::seed(&device, 99);
        let out = <MmidasTask as Task<AB>>::step(&task, &model, &batch, &device);
        let loss = out.loss_sum.div_scalar(2.0);
        let whole_loss = loss.clone().into_scalar().elem::<f64>();
        let whole = GradientsParams::from_grads(loss.backward(), &model);

        AB::seed(&device, 99);
        let threads = arms::ArmThreads::default();
        let split = arms::step_parallel_arms(&task, &threads, &model, &batch, 2.0, &device);

        assert!((split.loss - whole_loss).abs() <= 1e-5 * whole_loss.abs(), "{} vs {whole_loss}", split.loss);
        assert_eq!(split.aux.iter().map(|a| &a.0).collect::<Vec<_>>(), out.aux.iter().map(|a| &a.0).collect::<Vec<_>>());
        for ((name, a), (_, b)) in split.aux.iter().zip(&out.aux) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{name}: {a} vs {b}");
        }
        let (gw, gs) = (grads_of(&model, &whole), grads_of(&model, &split.grads));
        assert_eq!(gw.len(), gs.len());
        assert!(gw.len() >= 3 * 10, "every arm's weights and biases have gradients");
        for (i, (w, s)) in gw.iter().zip(&gs).enumerate() {
            let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
            let err = w.iter().zip(s).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err <= 1e-4 * scale, "parameter {i}: max difference {err:e}, scale {scale:e}");
        }
    }
}
