use burn::module::AutodiffModule;

use super::*;
use crate::config::{Duration, Schedule, TrainSection};
use crate::logging::MemorySink;
use crate::model::quantizer::TEST_RNG_LOCK;
use crate::checkpoint::LoadedCheckpoint;
use crate::logging::ConsoleProgress;
use crate::model::vqvae::CODES_PER_IMAGE;
use crate::train::trainer::{self, LoopSpec};

type AD = burn::backend::Autodiff<burn::backend::Flex>;
type B = burn::backend::Flex;

/// Eight distinct binary images: a 14 x 14 bright square in quadrant `i % 4`, plus a 4-pixel
/// horizontal bar across row 12 for `i >= 4`.
fn patterns() -> Vec<Image> {
    (0..8)
        .map(|i| {
            let (qy, qx) = ((i % 4) / 2 * 14, (i % 4) % 2 * 14);
            let mut img = [0u8; PIXELS];
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let square = (qy..qy + 14).contains(&y) && (qx..qx + 14).contains(&x);
                    let bar = i >= 4 && (12..16).contains(&y);
                    if square || bar {
                        img[y * SIDE + x] = 255;
                    }
                }
            }
            img
        })
        .collect()
}

fn tiny_model() -> VqVaeConfig {
    // ~4,000 parameters: 8 channels, 16 codes of 4 values.
    VqVaeConfig { channels: 8, codebook_size: 16, code_dim: 4, dead_code_threshold: 0.01, ..Default::default() }
}

fn tiny_train(steps: u64) -> TrainSection {
    TrainSection {
        batch_size: 8,
        duration: Duration::Steps(steps),
        lr: 1e-2,
        warmup_steps: 0,
        schedule: Schedule::Constant,
        weight_decay: 0.0,
        eval_every: 0,
        log_every: 1,
        checkpoint_every: 1000,
        keep_last: 1,
        ..Default::default()
    }
}

/// Train the tiny model on the patterns for `total` steps (resuming from `resume` if given).
fn train_tiny(total: u64, run_dir: &Path, resume: Option<LoadedCheckpoint>) -> (VqVae<AD>, MemorySink) {
    let device = Default::default();
    <AD as Backend>::seed(&device, 11);
    let task = VqTask { train: patterns(), heldout: patterns(), model: tiny_model() };
    let model = task.model.init::<AD>(&device);
    let train = tiny_train(total);
    let spec = LoopSpec { train: &train, total_steps: total, seed: 5, run_dir, data_parallel: 1 };
    let mut sink = MemorySink::new();
    let mut progress = ConsoleProgress::plain(total, 0, 1000);
    let (model, _) = trainer::train::<AD, _>(&task, model, &spec, resume, &mut sink, &mut progress, &device).unwrap();
    (model, sink)
}

#[test]
fn tiny_training_run_lowers_the_loss_and_logs_codebook_diagnostics() {
    let _rng = TEST_RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (_, sink) = train_tiny(40, dir.path(), None);
    let loss = sink.values("train/loss");
    let first = loss[0].1;
    let last = loss.iter().rev().take(5).map(|(_, v)| v).sum::<f64>() / 5.0;
    assert!(last < 0.5 * first, "loss did not fall: first {first}, last five mean {last}");
    for tag in ["train/vq/perplexity", "train/vq/usage", "train/vq/commit", "train/recon/mse"] {
        assert!(sink.last(tag).is_some_and(f64::is_finite), "{tag} missing: {:?}", sink.tags());
    }
}

#[test]
fn image_tokens_survive_decode_then_encode_and_reload_from_the_run() {
    let _rng = TEST_RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_tiny(80, dir.path(), None);
    std::fs::write(dir.path().join(VQVAE_TOML), toml::to_string(&tiny_model()).unwrap()).unwrap();
    let device = Default::default();
    let model = model.valid();
    let imgs = patterns();
    let ids = encode_images(&model, &imgs, &device);
    // Decode the ids, encode the decoded images: (nearly) the same ids come back.
    let ints: Vec<i64> = ids.iter().flatten().map(|&v| v as i64).collect();
    let t = Tensor::<B, 1, Int>::from_ints(ints.as_slice(), &device).reshape([imgs.len(), CODES_PER_IMAGE]);
    let decoded = model.decode_indices(t.clone());
    let again = model.encode_indices(decoded.clone());
    let (a, b) = (t.into_data().iter::<i64>().collect::<Vec<_>>(), again.into_data().iter::<i64>().collect::<Vec<_>>());
    // Cells whose encoding sits between two codes can flip (a trained model is not idempotent;
    // the MNIST run keeps about 70 %); the exact property is pinned on a hand-built model in
    // `model::vqvae`. A wrong grid order would keep about 1 in 16.
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert!(same * 4 >= a.len() * 3, "only {same}/{} ids survive decode -> encode", a.len());
    let report = heldout_report(&model, &imgs, 4, &device);
    assert!((report.token_roundtrip - same as f64 / a.len() as f64).abs() < 1e-9, "{report:?}");
    // The images differ from each other, so their token sequences do too.
    assert!(ids.iter().enumerate().all(|(i, x)| ids[i + 1..].iter().all(|y| y != x)), "{ids:?}");
    // The model loaded from the run directory gives the same tokens.
    let (loaded, cfg) = load_vqvae::<B>(dir.path(), &device, &mut |w| panic!("unexpected warning: {w}")).unwrap();
    assert_eq!(cfg, tiny_model());
    assert_eq!(encode_images(&loaded, &imgs, &device), ids);
    // File helpers: a pattern written as PNG encodes to its ids; decoding to PNG writes the
    // decoder's pixels (to 1/255).
    let png = dir.path().join("x.png");
    images::save_png(&png, &images::to_unit(&imgs[2])).unwrap();
    assert_eq!(encode_png(&loaded, &png, &device).unwrap(), ids[2]);
    decode_to_png(&model, &ids[2], &png, &device).unwrap();
    let written = images::to_unit(&images::read_png(&png).unwrap());
    let px = decoded.narrow(0, 2, 1).into_data().to_vec::<f32>().unwrap();
    assert!(written.iter().zip(&px).all(|(w, p)| (w - p).abs() <= 0.5 / 255.0 + 1e-6));
}

#[test]
fn resumed_run_matches_uninterrupted_run_including_the_ema_codebook() {
    let _rng = TEST_RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let full = tempfile::tempdir().unwrap();
    let (a, _) = train_tiny(6, full.path(), None);
    let part = tempfile::tempdir().unwrap();
    let mut train = tiny_train(6);
    train.checkpoint_every = 3;
    // First half: 3 steps, checkpoint at step 3 (total_steps 6 so the schedule matches).
    {
        let device = Default::default();
        <AD as Backend>::seed(&device, 11);
        let task = VqTask { train: patterns(), heldout: patterns(), model: tiny_model() };
        let model = task.model.init::<AD>(&device);
        let spec = LoopSpec { train: &train, total_steps: 3, seed: 5, run_dir: part.path(), data_parallel: 1 };
        let mut progress = ConsoleProgress::plain(3, 0, 1000);
        trainer::train::<AD, _>(&task, model, &spec, None, &mut MemorySink::new(), &mut progress, &device).unwrap();
    }
    let ck = checkpoint::load_newest(part.path(), |_| {}).unwrap();
    assert_eq!(ck.state.step, 3);
    let (b, _) = train_tiny(6, part.path(), Some(ck));
    let codes = |m: &VqVae<AD>| m.quantizer.codes().into_data().to_vec::<f32>().unwrap();
    let sizes = |m: &VqVae<AD>| m.quantizer.cluster_size.value_sync().into_data().to_vec::<f32>().unwrap();
    assert_eq!(codes(&a), codes(&b));
    assert_eq!(sizes(&a), sizes(&b));
    let w = |m: &VqVae<AD>| m.decoder.up2.weight.val().into_data().to_vec::<f32>().unwrap();
    assert_eq!(w(&a), w(&b));
}

#[test]
fn code_id_text_is_validated() {
    let ok: String = (0..49).map(|i| format!("{} ", i % 16)).collect();
    assert_eq!(parse_ids(&ok, 16).unwrap().len(), 49);
    assert!(parse_ids("1, 2, 3", 16).unwrap_err().to_string().contains("expected 49"));
    let bad = ok.replacen("0 ", "16 ", 1);
    assert!(parse_ids(&bad, 16).unwrap_err().to_string().contains("out of range"));
}
