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
