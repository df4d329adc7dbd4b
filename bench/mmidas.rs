//! MMIDAS speed on the gene-embedding shape: 20,000 genes × two modalities of 1,280 (Nucleotide
//! Transformer) and 1,536 (ESM3) dims of random data, hidden 100, latent 10, Adam lr 1e-3.
//!
//!     cargo bench --bench mmidas -- [--genes 20000] [--dims 1280,1536] [--categories 12]
//!                                   [--min-categories 8] [--batch 1000] [--epochs 1]
//!                                   [--epochs-per-round 1]
//!
//! Prints one JSON line: seconds per epoch of plain training (the loop's step time, no
//! evaluation) and the wall time of a whole prune run (`--epochs` epochs, then one category
//! pruned per round with `--epochs-per-round` epochs after each, down to `--min-categories`,
//! evaluating all genes, writing a checkpoint per K). `bench/mmidas_compare.sh` runs this and the
//! original PyTorch code (bench/reference/mmidas_original.py) with the same shape and schedule.

use std::time::Instant;

use gfm::backend::CpuBackend;
use gfm::config::{Duration, Schedule, TrainSection};
use gfm::logging::MemorySink;
use gfm::mmidas::config::MmidasSection;
use gfm::recipes::mmidas::{fit, FitSpec, MmidasData};
use rand::{Rng, SeedableRng};

struct Args {
    genes: usize,
    dims: Vec<usize>,
    categories: usize,
    min_categories: usize,
    batch: usize,
    epochs: u64,
    epochs_per_round: u64,
}

fn parse() -> Args {
    let mut a = Args { genes: 20_000, dims: vec![1280, 1536], categories: 12, min_categories: 8, batch: 1000, epochs: 1, epochs_per_round: 1 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let val = argv.get(i + 1).cloned().unwrap_or_default();
        let num = |what: &str| val.parse::<u64>().unwrap_or_else(|_| panic!("{what} needs a positive integer, got {val:?}"));
        match argv[i].as_str() {
            "--genes" => a.genes = num("--genes") as usize,
            "--dims" => a.dims = val.split(',').map(|d| d.trim().parse().expect("--dims 1280,1536")).collect(),
            "--categories" => a.categories = num("--categories") as usize,
            "--min-categories" => a.min_categories = num("--min-categories") as usize,
            "--batch" => a.batch = num("--batch") as usize,
            "--epochs" => a.epochs = num("--epochs"),
            "--epochs-per-round" => a.epochs_per_round = num("--epochs-per-round"),
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn main() {
    gfm::backend::keep_freed_memory();
    let a = parse();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let data = MmidasData {
        ids: (0..a.genes).map(|i| format!("gene{i:05}")).collect(),
        names: (0..a.dims.len()).map(|m| format!("m{m}")).collect(),
        dims: a.dims.clone(),
        values: a.dims.iter().map(|&d| (0..a.genes * d).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()).collect(),
    };
    let steps_per_epoch = (a.genes / a.batch) as u64;
    // Adam as the original: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay, no clipping.
    let train = TrainSection {
        batch_size: a.batch,
        duration: Duration::Steps(a.epochs * steps_per_epoch),
        lr: 1e-3,
        warmup_steps: 0,
        schedule: Schedule::Constant,
        weight_decay: 0.0,
        beta2: 0.999,
        grad_clip_norm: 0.0,
        eval_every: 0,
        log_every: 1_000_000,
        checkpoint_every: 1_000_000,
        keep_last: 1,
        ..TrainSection::default()
    };
    let mut section = MmidasSection {
        n_categories: a.categories,
        min_categories: a.categories,
        steps_per_round: a.epochs_per_round * steps_per_epoch,
        views: false,
        ..MmidasSection::default()
    };
    let device = Default::default();
    let run = |section: &MmidasSection| {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = FitSpec { section, train: &train, first_steps: a.epochs * steps_per_epoch, seed: 0, run_dir: dir.path() };
        let mut sink = MemorySink::new();
        let started = Instant::now();
        let (rounds, state) = fit::<CpuBackend>(&data, &spec, &mut sink, &mut |_| {}, &device).expect("fit");
        (started.elapsed().as_secs_f64(), rounds.len(), state)
    };

    // Plain training: one round, no pruning.
    let (_, _, state) = run(&section);
    let s_per_epoch = state.train_time_s / a.epochs as f64;
    // A prune run down to --min-categories.
    section.min_categories = a.min_categories;
    let (prune_s, rounds, _) = run(&section);
    println!(
        "{{\"impl\": \"gfm (burn flex, CPU)\", \"threads\": \"{}\", \"genes\": {}, \"dims\": {:?}, \"categories\": {}, \"batch\": {}, \"epochs\": {}, \"s_per_epoch\": {:.3}, \"epochs_per_s\": {:.4}, \"prune_rounds\": {}, \"epochs_prune\": {}, \"prune_run_s\": {:.2}, \"peak_rss_gib\": {:.3}}}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
        a.genes, a.dims, a.categories, a.batch, a.epochs, s_per_epoch, 1.0 / s_per_epoch,
        rounds.saturating_sub(1), a.epochs_per_round, prune_s, gfm::logging::machine::peak_memory_gib()
    );
}
