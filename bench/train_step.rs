//! Training-step throughput: forward, backward and AdamW of an OLMo preset at sequence length
//! 250 on random tokens, for every backend compiled in (flex always; ndarray with
//! `--features ndarray`), in one invocation so the figures compare.
//!
//!     cargo bench --bench train_step -- [--preset omni_dna_20m] [--batch 4] [--steps 10] [--warmup 2]
//!
//! Reports the median step time over `--steps` timed steps after `--warmup` untimed ones, tokens/s,
//! achieved FLOP/s from 6·N·T + 12·L·T·d (nanoGPT `estimate_mfu`) and peak resident memory.
//! CPU backends are synchronous, so reading the clock after `into_scalar` measures the whole step.

use std::time::Instant;


use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use gfm::kernels::TrainBackend;
use gfm::config::TrainSection;
use gfm::train::lm::{masked_cross_entropy_sum, LmBatch};
use gfm::train::optim::adamw;

struct Args {
    preset: String,
    batch: usize,
    seq: usize,
    steps: usize,
    warmup: usize,
}

fn parse() -> Args {
    let mut a = Args { preset: "omni_dna_20m".into(), batch: 4, seq: 250, steps: 10, warmup: 2 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let val = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--preset" => a.preset = val,
            "--batch" => a.batch = val.parse().expect("--batch N"),
            "--seq" => a.seq = val.parse().expect("--seq N"),
            "--steps" => a.steps = val.parse().expect("--steps N"),
            "--warmup" => a.warmup = val.parse().expect("--warmup N"),
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}; see the doc comment of bench/train_step.rs"),
        }
        i += 2;
    }
    a
}

fn bench<B: TrainBackend>(name: &str, args: &Args, device: B::Device) {
    let cfg = gfm::config::presets::preset(&args.preset).unwrap_or_else(|| panic!("unknown preset {}", args.preset));
    B::seed(&device, 0);
    let mut model = cfg.init::<B>(&device);
    let mut optim = adamw::<B, gfm::model::OlmoModel<B>>(&TrainSection::default());
    // Deterministic pseudo-random windows of seq + 1 tokens.
    let windows: Vec<Vec<u32>> = (0..args.batch)
        .map(|b| (0..=args.seq).map(|t| ((b * 7919 + t * 104_729) % (cfg.vocab_size - 5) + 5) as u32).collect())
        .collect();
    let refs: Vec<&[u32]> = windows.iter().map(|w| w.as_slice()).collect();
    let batch = LmBatch::from_windows(&refs);
    let mut times = Vec::new();
    for i in 0..args.warmup + args.steps {
        let t0 = Instant::now();
        let (inputs, targets, mask) = batch.tensors::<B>(&device);
        let loss = masked_cross_entropy_sum(model.forward(inputs), targets, mask).div_scalar(batch.units());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        // Synchronise: pull one parameter value to the host.
        let _ = model.wte.val().slice([0..1, 0..1]).into_scalar();
        if i >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let _ = model.valid();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    let tokens = (args.batch * args.seq) as f64;
    let flops = cfg.train_flops_per_token(args.seq) * tokens;
    println!(
        "{name:<22} preset {:<14} params {:>11} batch {:>3} seq {} | median step {:.3} s | {:>9.0} tokens/s | {:>7.2} GFLOP/s | peak RSS {:.2} GiB",
        args.preset,
        cfg.num_params(),
        args.batch,
        args.seq,
        median,
        tokens / median,
        flops / median / 1e9,
        gfm::train::record::peak_memory_gib()
    );
}

fn main() {
    gfm::backend::keep_freed_memory();
    let args = parse();
    println!(
        "train_step: {} threads available, x86-v4 feature {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        if cfg!(feature = "x86-v4") { "on" } else { "off" }
    );
    #[cfg(feature = "flex")]
    bench::<burn::backend::Autodiff<burn::backend::Flex>>("flex", &args, Default::default());
    #[cfg(feature = "ndarray")]
    bench::<burn::backend::Autodiff<burn::backend::NdArray>>("ndarray", &args, Default::default());
}
