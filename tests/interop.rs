//! Checkpoint interchange: parity with the reference PyTorch implementations (fixtures made by
//! tests/fixtures/parity/make_parity.py), export → import round trips, and hostile inputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use gfm::export::{export_checkpoint, export_model, load_pretrained, read_config, ExportDtype, ExportFormat};
use gfm::model::{NormKind, OlmoConfig, OlmoModel};
use gfm::train::lm::{masked_cross_entropy_sum, LmBatch};
use gfm::train::optim::global_grad_norm;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

#[path = "interop/catalogue.rs"]
mod catalogue;
#[path = "interop/hostile.rs"]
mod hostile;

type B = Flex;
type AB = Autodiff<Flex>;

fn parity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn ids_tensor<BK: Backend>(ids: &[i64], batch: usize, device: &BK::Device) -> Tensor<BK, 2, Int> {
    Tensor::<BK, 1, Int>::from_ints(ids, device).reshape([batch, ids.len() / batch])
}

fn logits_of<BK: gfm::kernels::Kernels>(model: &OlmoModel<BK>, ids: &[i64], batch: usize) -> Vec<f32> {
    let device = model.wte.val().device();
    model.forward(ids_tensor::<BK>(ids, batch, &device)).into_data().to_vec::<f32>().unwrap()
}

/// `input_ids` (I64 `[batch, seq]`) and `logits` (F32) from a fixture's expected.safetensors.
fn expected(dir: &Path) -> (Vec<i64>, usize, Vec<f32>) {
    let bytes = std::fs::read(dir.join("expected.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let ids = st.tensor("input_ids").unwrap();
    assert_eq!(ids.dtype(), Dtype::I64);
    let batch = ids.shape()[0];
    let ids = ids.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    let logits = st.tensor("logits").unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (ids, batch, logits)
}

/// Mean next-token cross-entropy over the batch and the global gradient norm (gfm's own loss).
fn loss_and_grad_norm(dir: &Path, ids: &[i64], batch: usize) -> (f64, f64) {
    let device = Default::default();
    let (_, model) = load_pretrained::<AB>(dir, &device).unwrap();
    let windows: Vec<Vec<u32>> = ids.chunks(ids.len() / batch).map(|w| w.iter().map(|&t| t as u32).collect()).collect();
    let refs: Vec<&[u32]> = windows.iter().map(|w| w.as_slice()).collect();
    let lm = LmBatch::from_windows(&refs);
    let (inputs, targets, mask) = lm.tensors::<AB>(&device);
    let loss = masked_cross_entropy_sum(model.forward(inputs), targets, mask).div_scalar(lm.units());
    let value = loss.clone().into_scalar().elem::<f64>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (value, global_grad_norm::<AB, _>(&model, &grads))
}

#[test]
fn every_parity_fixture_matches_its_reference_logits_loss_and_gradient_norm() {
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(parity_dir().join("parity.json")).unwrap()).unwrap();
    let fixtures = summary["fixtures"].as_object().unwrap();
    assert_eq!(fixtures.len(), 6);
    for (name, reference) in fixtures {
        let dir = parity_dir().join(name);
        let (ids, batch, want) = expected(&dir);
        let (cfg, model) = load_pretrained::<B>(&dir, &Default::default()).unwrap();
        assert_eq!(cfg.tie_embeddings, reference["tied"].as_bool().unwrap(), "{name}");
        assert_eq!(cfg.vocab_size as u64, reference["embedding_rows"].as_u64().unwrap(), "{name}");
        let logit_diff = max_abs_diff(&logits_of(&model, &ids, batch), &want);
        let (loss, grad_norm) = loss_and_grad_norm(&dir, &ids, batch);
        let rel = |got: f64, key: &str| {
            let want = reference[key].as_f64().unwrap();
            (got - want).abs() / want.abs()
        };
        let (loss_rel, grad_rel) = (rel(loss, "loss"), rel(grad_norm, "grad_norm"));
        eprintln!("{name}: max |logit diff| {logit_diff:.2e}, loss rel {loss_rel:.2e}, grad-norm rel {grad_rel:.2e}");
        assert!(logit_diff <= 1e-4, "{name}: max abs logit diff {logit_diff}");
        assert!(loss_rel <= 1e-4, "{name}: loss {loss} vs {}", reference["loss"]);
        assert!(grad_rel <= 1e-4, "{name}: grad norm {grad_norm} vs {}", reference["grad_norm"]);
    }
}

#[test]
fn read_config_resolves_the_model_shape_without_loading_weights() {
    let c = read_config(&parity_dir().join("hf_olmo_rms_tied")).unwrap();
    assert_eq!((c.n_layers, c.d_model, c.n_heads, c.mlp_ratio, c.context), (2, 32, 4, 2, 64));
    assert_eq!((c.norm, c.tie_embeddings, c.vocab_size), (NormKind::RmsNorm, true, 64), "padded embedding rows kept");
    let c = read_config(&parity_dir().join("hf_untied")).unwrap();
    assert_eq!((c.norm, c.tie_embeddings, c.norm_eps), (NormKind::LayerNormNoAffine, false, 1e-5));
}

// ---- export → import ---------------------------------------------------------------------------

fn tiny(norm: NormKind, tie: bool) -> OlmoConfig {
    OlmoConfig {
        n_layers: 2, d_model: 16, n_heads: 2, mlp_ratio: 4, vocab_size: 40, context: 32, norm,
        norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: tie, init_std: 0.3,
    }
}

const IDS: [i64; 12] = [1, 7, 9, 12, 30, 2, 1, 5, 5, 39, 17, 2];

/// A random model whose RMSNorm scales are not all ones (so a dropped scale would show).
fn random_model(cfg: &OlmoConfig, seed: u64) -> OlmoModel<B> {
    let device = Default::default();
    B::seed(&device, seed);
    let mut m = cfg.init::<B>(&device);
    if let Some(w) = m.ln_f.weight.take() {
        m.ln_f.weight = Some(burn::module::Param::from_tensor(w.val().add_scalar(0.5)));
    }
    // Materialise the lazily initialised parameters: a clone of a lazy parameter initialises on
    // its own, with different random values.
    logits_of(&m, &IDS, 2);
    m
}

#[test]
fn f32_export_reimports_to_identical_logits_in_both_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (ExportFormat::Hf, NormKind::LayerNormNoAffine, true),
        (ExportFormat::Hf, NormKind::LayerNormNoAffine, false),
        (ExportFormat::HfOlmo, NormKind::LayerNormNoAffine, false),
        (ExportFormat::HfOlmo, NormKind::RmsNorm, true),
        (ExportFormat::HfOlmo, NormKind::RmsNorm, false),
    ];
    for (k, (format, norm, tie)) in cases.into_iter().enumerate() {
        let cfg = tiny(norm, tie);
        let model = random_model(&cfg, k as u64);
        let out = tmp.path().join(format!("case{k}"));
        let s = export_model(&model, &cfg, None, &out, ExportDtype::F32, format).unwrap();
        assert_eq!(s.params, cfg.num_params(), "{format} {norm:?} tie={tie}");
        let (back_cfg, back) = load_pretrained::<B>(&out, &Default::default()).unwrap();
        assert_eq!(back_cfg, cfg, "{format} {norm:?} tie={tie}");
        assert_eq!(logits_of(&back, &IDS, 2), logits_of(&model, &IDS, 2), "{format} {norm:?} tie={tie}");
    }
}

#[test]
fn bf16_export_is_bf16_on_disk_and_close_after_reimport() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(NormKind::LayerNormNoAffine, true);
    let model = random_model(&cfg, 9);
    for (dtype, st_dtype, name) in [(ExportDtype::Bf16, Dtype::BF16, "bfloat16"), (ExportDtype::F16, Dtype::F16, "float16")] {
        let out = tmp.path().join(dtype.as_str());
        export_model(&model, &cfg, None, &out, dtype, ExportFormat::Hf).unwrap();
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert!(st.tensors().iter().all(|(_, t)| t.dtype() == st_dtype), "{dtype}");
        let config: Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["torch_dtype"], name);
        let (_, back) = load_pretrained::<B>(&out, &Default::default()).unwrap();
        let diff = max_abs_diff(&logits_of(&back, &IDS, 2), &logits_of(&model, &IDS, 2));
        assert!(diff > 0.0 && diff < 5e-2, "{dtype}: max abs logit diff {diff}");
    }
}

#[test]
fn rms_norm_model_cannot_be_exported_in_hf_format() {
    let cfg = tiny(NormKind::RmsNorm, true);
    let tmp = tempfile::tempdir().unwrap();
    let err = export_model(&random_model(&cfg, 1), &cfg, None, &tmp.path().join("x"), ExportDtype::F32, ExportFormat::Hf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("RMSNorm") && err.contains("--format hf_olmo"), "{err}");
    assert!(!tmp.path().join("x").exists(), "nothing written");
}

#[test]
fn sharded_checkpoint_loads_like_a_single_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(NormKind::LayerNormNoAffine, false);
    let model = random_model(&cfg, 4);
    let dir = tmp.path().join("sharded");
    export_model(&model, &cfg, None, &dir, ExportDtype::F32, ExportFormat::Hf).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut weight_map = serde_json::Map::new();
    let mut shards: [Vec<(String, safetensors::tensor::TensorView)>; 2] = [Vec::new(), Vec::new()];
    for (k, (name, view)) in st.tensors().into_iter().enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", k % 2 + 1);
        weight_map.insert(name.clone(), Value::String(file));
        shards[k % 2].push((name, view));
    }
    for (k, shard) in shards.into_iter().enumerate() {
        safetensors::serialize_to_file(shard, None, &dir.join(format!("model-0000{}-of-00002.safetensors", k + 1))).unwrap();
    }
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let (_, back) = load_pretrained::<B>(&dir, &Default::default()).unwrap();
    assert_eq!(logits_of(&back, &IDS, 2), logits_of(&model, &IDS, 2));

    // A missing shard is named once, with what to do, in what `gfm` prints.
    let second = dir.join("model-00002-of-00002.safetensors");
    std::fs::rename(&second, tmp.path().join("away")).unwrap();
    let err = anyhow::Error::new(load_pretrained::<B>(&dir, &Default::default()).unwrap_err());
    let printed = gfm::train::error::report(err.as_ref());
    assert_eq!(printed.matches("model-00002-of-00002.safetensors").count(), 1, "{printed}");
    assert!(printed.contains("copy every shard"), "{printed}");
    std::fs::rename(tmp.path().join("away"), &second).unwrap();

    let hostile = serde_json::json!({ "weight_map": { "lm_head.weight": "../elsewhere.safetensors" } });
    std::fs::write(dir.join("model.safetensors.index.json"), hostile.to_string()).unwrap();
    let err = load_pretrained::<B>(&dir, &Default::default()).unwrap_err().to_string();
    assert!(err.contains("is not a file name inside the checkpoint directory"), "{err}");
}

// ---- a run directory → export → transformers (checked by hand with check_export.py) ------------

/// A run directory like `gfm run` leaves: resolved config.toml, tokenizer.json, one checkpoint.
fn fake_run(root: &Path, cfg: &OlmoConfig, model: &OlmoModel<B>) -> PathBuf {
    let fasta = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dna/markers_small.fa");
    let exp = root.join("exp.toml");
    std::fs::write(&exp, format!(
        "name = \"interop\"\nkind = \"pretrain\"\n[model]\npreset = \"tiny\"\nn_layers = {}\nd_model = {}\nn_heads = {}\nmlp_ratio = {}\nvocab_size = {}\ncontext = {}\nnorm = \"{}\"\ntie_embeddings = {}\n[data]\ntrain = [\"{}\"]\n",
        cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.mlp_ratio, cfg.vocab_size, cfg.context, cfg.norm.as_str(), cfg.tie_embeddings, fasta.display(),
    )).unwrap();
    let resolved = gfm::config::load_experiment(&exp, &[]).unwrap();
    assert_eq!(&resolved.model, &OlmoConfig { init_std: resolved.model.init_std, ..cfg.clone() });
    let run = root.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), resolved.to_toml(None)).unwrap();
    let seqs: Vec<&[u8]> = vec![b"ACGTACGGTACCATGACGTTAGCATCGATCGGGCTAGCTAGGATCCATGCA"; 4];
    let tok = gfm::tokenizer::DnaTokenizer::train(seqs.into_iter(), cfg.vocab_size).unwrap();
    tok.save(&run.join("tokenizer.json")).unwrap();
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder.record(model.clone().into_record(), ()).unwrap();
    let state = gfm::checkpoint::TrainState {
        best_select: None,
        step: 7, tokens_seen: 700, epoch: 0, cursor: 7, seed: 1, train_time_s: 1.0, last_loss: 3.0, last_valid_loss: None,
    };
    gfm::checkpoint::save(&run, &bytes, b"optim", &state).unwrap();
    run
}

#[test]
fn exported_run_reimports_identically_and_replaces_only_its_own_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny(NormKind::LayerNormNoAffine, true);
    let model = random_model(&cfg, 21);
    let run = fake_run(tmp.path(), &cfg, &model);
    // GFM_EXPORT_CHECK_DIR keeps the exports for tests/fixtures/parity/check_export.py.
    let keep = std::env::var_os("GFM_EXPORT_CHECK_DIR").map(PathBuf::from);
    let base = keep.clone().unwrap_or_else(|| tmp.path().join("exports"));
    let want = logits_of(&model, &IDS, 2);
    for (format, src) in [(ExportFormat::Hf, run.clone()), (ExportFormat::HfOlmo, run.join("step_0000007"))] {
        let out = base.join(format.as_str());
        let s = export_checkpoint(&src, &out, ExportDtype::F32, format).unwrap();
        assert_eq!(s.step, Some(7));
        for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            assert!(out.join(f).is_file(), "{format}: {f} missing");
        }
        assert_eq!(logits_of(&load_pretrained::<B>(&out, &Default::default()).unwrap().1, &IDS, 2), want, "{format}");
        // Exporting again over a previous export is allowed.
        export_checkpoint(&src, &out, ExportDtype::F32, format).unwrap();
    }
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = export_checkpoint(&run, &foreign, ExportDtype::F32, ExportFormat::Hf).unwrap_err().to_string();
    assert!(err.contains("not a previous gfm export"), "{err}");
    assert!(foreign.join("notes.txt").is_file());
    let err = export_checkpoint(tmp.path(), &base.join("x"), ExportDtype::F32, ExportFormat::Hf).unwrap_err().to_string();
    assert!(err.contains("neither a run directory"), "{err}");
    if let Some(dir) = keep {
        write_expected(&dir.join("expected.safetensors"), &IDS, &want);
    }
}

fn write_expected(path: &Path, ids: &[i64], logits: &[f32]) {
    let id_bytes: Vec<u8> = ids.iter().flat_map(|x| x.to_le_bytes()).collect();
    let logit_bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
    let seq = ids.len() / 2;
    let views = vec![
        ("input_ids", safetensors::tensor::TensorView::new(Dtype::I64, vec![2, seq], &id_bytes).unwrap()),
        ("logits", safetensors::tensor::TensorView::new(Dtype::F32, vec![2, seq, logits.len() / ids.len()], &logit_bytes).unwrap()),
    ];
    safetensors::serialize_to_file(views, Some(HashMap::from([("format".into(), "pt".into())])), path).unwrap();
}
