//! Training-step throughput: forward, backward and AdamW of an OLMo preset at sequence length
//! 250 on random tokens, for every CPU backend compiled in (flex always; ndarray with
//! `--features ndarray`), or on CUDA (`--features cuda`, `--device cuda`), in one invocation so
//! the figures compare.
//!
//!     cargo bench --bench train_step -- [--preset omni_dna_20m] [--batch 4] [--seq 250]
//!         [--steps 10] [--warmup 2] [--device cpu|cuda] [--bf16]
//!
//! Reports the median step time over `--steps` timed steps after `--warmup` untimed ones, tokens/s,
//! achieved FLOP/s from 6·N·T + 12·L·T·d (nanoGPT `estimate_mfu`) and peak resident memory.
//! `--bf16` trains under `run.precision = "bf16"` autocast (`gfm::model::precision`). On CUDA the
//! line adds the MFU against a bf16 matmul peak measured with the same backend on the same GPU
//! (8192³ products, as `bench/reference/olmo_step.py` measures PyTorch's).
//! The clock is read after the step's result is on the host (`into_scalar`), which waits for the
//! device (CPU backends are synchronous anyway).

use std::time::Instant;


use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use gfm::kernels::TrainBackend;
use gfm::model::Precision;
use gfm::config::TrainSection;
use gfm::train::lm::{masked_cross_entropy_sum, LmBatch};
use gfm::train::optim::adamw;

struct Args {
    preset: String,
    batch: usize,
    seq: usize,
    steps: usize,
    warmup: usize,
    device: String,
    bf16: bool,
}

fn parse() -> Args {
    let mut a = Args { preset: "omni_dna_20m".into(), batch: 4, seq: 250, steps: 10, warmup: 2, device: "cpu".into(), bf16: false };
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
            "--device" => a.device = val,
            "--bf16" => {
                a.bf16 = true;
                i += 1;
                continue;
            }
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
    let precision = if args.bf16 { Precision::Bf16 } else { Precision::F32 };
    if let Err(e) = gfm::model::precision::check_supported::<B>(precision, &device, name) {
        println!("{name}: skipped: {e}");
        return;
    }
    let _autocast = gfm::model::precision::autocast(precision);
    let name = if args.bf16 { format!("{name}-bf16") } else { name.to_string() };
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
    let mut line = format!(
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
    if args.device == "cuda" {
        let peak = bf16_matmul_peak::<B>(&device);
        line += &format!(" | MFU {:.1}% of measured bf16 matmul {:.0} TFLOP/s", 100.0 * flops / median / peak, peak / 1e12);
    }
    println!("{line}");
}

/// FLOP/s of an n×n×n bf16 matmul loop on `device` (the denominator of MFU): 3 untimed products,
/// then 20 timed ones, the clock read after the last result is synchronised.
fn bf16_matmul_peak<B: burn::tensor::backend::Backend>(device: &B::Device) -> f64 {
    use burn::tensor::{Distribution, FloatDType, Tensor};
    let n = 8192;
    let a = Tensor::<B, 2>::random([n, n], Distribution::Normal(0.0, 1.0), device).cast(FloatDType::BF16);
    let b = Tensor::<B, 2>::random([n, n], Distribution::Normal(0.0, 1.0), device).cast(FloatDType::BF16);
    for _ in 0..3 {
        let _ = a.clone().matmul(b.clone());
    }
    B::sync(device).expect("device sync");
    let iters = 20;
    let t0 = Instant::now();
    for _ in 0..iters {
        let _ = a.clone().matmul(b.clone());
    }
    B::sync(device).expect("device sync");
    2.0 * (n as f64).powi(3) * iters as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    gfm::backend::keep_freed_memory();
    let args = parse();
    println!(
        "train_step: {} threads available, x86-v4 feature {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        if cfg!(feature = "x86-v4") { "on" } else { "off" }
    );
    match args.device.as_str() {
        "cpu" => {
            #[cfg(feature = "flex")]
            bench::<burn::backend::Autodiff<burn::backend::Flex>>("flex", &args, Default::default());
            #[cfg(feature = "ndarray")]
            bench::<burn::backend::Autodiff<burn::backend::NdArray>>("ndarray", &args, Default::default());
        }
        "cuda" => {
            #[cfg(feature = "cuda")]
            {
                gfm::backend::cuda_driver_available().unwrap_or_else(|e| panic!("--device cuda: {e}; install the NVIDIA driver"));
                bench::<gfm::backend::CudaBackend>("gfm-cuda", &args, burn::backend::cuda::CudaDevice::new(0));
            }
            #[cfg(not(feature = "cuda"))]
            panic!("--device cuda needs a build with --features cuda: cargo bench --features cuda --bench train_step -- --device cuda");
        }
        other => panic!("--device {other}: expected cpu or cuda"),
    }
}
