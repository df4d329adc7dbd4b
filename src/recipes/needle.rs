//! `kind = "needle_in_dna"`: Omni-DNA's DNA→image task (Li et al. 2025 §5.2). Random DNA carries
//! one of four motifs; the model must answer with the 49 VQ-VAE tokens of an image of the
//! motif's digit. Image tokens `[IMG_k]` (one per codebook entry) and the task token join the
//! vocabulary by the same expansion as finetuning; examples are
//! `[CLS] [TASK_needle] dna [MASK] [IMG_..]×49 [SEP]` with loss on the image tokens and `[SEP]`.
//!
//! Scoring follows Omni-DNA: an output that is not exactly 49 image tokens then `[SEP]` is
//! invalid; valid outputs are decoded by the VQ-VAE and read by the digit classifier
//! (`kind = "image_classifier"`). Per-class precision/recall/F1 and macro F1 count an invalid
//! output as a miss of its class (so they are not inflated by invalid answers), and the invalid
//! percentage is reported beside them. `samples.png` shows, per class (row), a target image then
//! generated images (an invalid output is a flat grey square).

use std::path::Path;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::classifier::{load_classifier, load_digits, Digits};
use super::sft::{base_tokenizer, expanded_config, load_expanded, GenerationScore, SftSets, SftTask};
use super::{Context, Finished, Metrics, Recipe};
use crate::config::{NeedleSection, Resolved};
use crate::data::images::{save_png_grid, PIXELS};
use crate::data::needle::{generate, NeedleExample, MOTIFS};
use crate::data::sft::{SftExample, SftFormat, SftStats, Truncation};
use crate::eval::classify::TaskEval;
use crate::eval::metrics::{classification_report, ClassReport, Metric};
use crate::eval::predictions::Prediction;
use crate::eval::results::{markdown, write_results};
use crate::export::source::{write_model_toml, MODEL_TOML};
use crate::model::digit_cnn::DigitCnn;
use crate::model::generate::generate_greedy;
use crate::model::vqvae::VqVae;
use crate::model::OlmoModel;
use crate::tokenizer::{DnaTokenizer, SEP_ID};
use crate::train::session::{RunError, Session};
use crate::train::EvalMetrics;
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

/// Image tokens per answer: the VQ-VAE's 7×7 latent grid.
pub const IMAGE_TOKENS: usize = 49;
/// The task token of Needle-in-DNA.
pub const TASK_TOKEN: &str = "[TASK_needle]";

/// The token of codebook entry `k`.
pub fn image_token(k: usize) -> String {
    format!("[IMG_{k}]")
}

/// The codebook ids of a generated answer (the answer only, without the prompt) when it is
/// exactly [`IMAGE_TOKENS`] image tokens followed by `[SEP]`; `None` (invalid) for a wrong
/// count, any other token, or a missing `[SEP]`. Image token `k` has id `image_base + k`.
///
/// # Shapes
/// - output: `[n_generated]` → `[49]`
pub fn image_codes(output: &[u32], image_base: u32, codebook: usize) -> Option<Vec<u32>> {
    let (body, rest) = output.split_at_checked(IMAGE_TOKENS)?;
    if rest != [SEP_ID] {
        return None;
    }
    body.iter().map(|&id| id.checked_sub(image_base).filter(|&k| (k as usize) < codebook)).collect()
}

/// What Needle-in-DNA generates and judges, on a non-autodiff backend `B` for the frozen VQ-VAE
/// decoder and classifier.
pub struct NeedleJudge<B: Backend> {
    /// Generation prompts `[CLS] [TASK] dna [MASK]` and true classes of the valid and test sets.
    pub valid_prompts: Vec<(Vec<u32>, usize)>,
    pub test_prompts: Vec<(Vec<u32>, usize)>,
    pub image_base: u32,
    pub vqvae: VqVae<B>,
    pub judge: DigitCnn<B>,
    pub classes: usize,
    pub opts: NeedleSection,
    /// Validation generation size and batch (`[sft]`).
    pub eval_max_examples: usize,
    pub eval_batch_size: usize,
}

/// The Needle-in-DNA task of the loop on autodiff backend `B`.
pub type NeedleTask<B> = SftTask<NeedleJudge<<B as AutodiffBackend>::InnerBackend>>;

/// What generation produced for a set of prompts.
pub struct Judged {
    pub report: ClassReport,
    /// Per prompt: the true class and the judged class of the generated image (`None`: invalid).
    pub truth: Vec<usize>,
    pub pred: Vec<Option<usize>>,
    /// Per prompt: the decoded image (valid outputs) as `[784]` pixels, else `None`.
    pub images: Vec<Option<Vec<f32>>>,
}

impl<B: Kernels> NeedleJudge<B> {
    fn class_names(&self) -> Vec<String> {
        (0..self.classes).map(|c| c.to_string()).collect()
    }

    /// Generate answers for `prompts` (the first `limit`, 0: all), decode the valid ones and let
    /// the classifier read their digits.
    pub fn judge(&self, model: &OlmoModel<B>, prompts: &[(Vec<u32>, usize)], limit: usize) -> Result<Judged, RunError> {
        let n = if limit == 0 { prompts.len() } else { limit.min(prompts.len()) };
        let codebook = self.vqvae.codebook_size();
        let mut pred = Vec::with_capacity(n);
        let mut images = Vec::with_capacity(n);
        for chunk in prompts[..n].chunks(self.eval_batch_size) {
            let ids: Vec<Vec<u32>> = chunk.iter().map(|(p, _)| p.clone()).collect();
            let outs = generate_greedy(model, &ids, IMAGE_TOKENS + 1, SEP_ID)?;
            let codes: Vec<Option<Vec<u32>>> = outs.iter().map(|o| image_codes(o, self.image_base, codebook)).collect();
            let valid: Vec<i64> = codes.iter().flatten().flatten().map(|&k| k as i64).collect();
            let mut decoded = Vec::new().into_iter();
            let mut digits = Vec::new().into_iter();
            if !valid.is_empty() {
                let device = self.judge.fc2.weight.val().device();
                let m = valid.len() / IMAGE_TOKENS;
                let idx = Tensor::<B, 1, Int>::from_ints(valid.as_slice(), &device).reshape([m, IMAGE_TOKENS]);
                let img = self.vqvae.decode_indices(idx).clamp(0.0, 1.0); // [m, 1, 28, 28]
                digits = self.judge.predict(img.clone()).into_iter();
                let px: Vec<f32> = img.into_data().iter::<f32>().collect();
                decoded = px.chunks(PIXELS).map(|c| c.to_vec()).collect::<Vec<_>>().into_iter();
            }
            for c in &codes {
                if c.is_some() {
                    // Classifier class c stands for digit c (checked when the run starts).
                    pred.push(digits.next().filter(|&d| d < self.classes));
                    images.push(decoded.next());
                } else {
                    pred.push(None);
                    images.push(None);
                }
            }
        }
        let truth: Vec<usize> = prompts[..n].iter().map(|(_, c)| *c).collect();
        Ok(Judged { report: classification_report(&self.class_names(), &truth, &pred), truth, pred, images })
    }
}

impl<B: Kernels> GenerationScore<B> for NeedleJudge<B> {
    fn score(&self, model: &OlmoModel<B>) -> EvalMetrics {
        match self.judge(model, &self.valid_prompts, self.eval_max_examples) {
            Ok(j) => EvalMetrics {
                scalars: vec![("needle/macro_f1".into(), j.report.macro_f1), ("needle/invalid_rate".into(), j.report.invalid_rate)],
                select: Some(j.report.macro_f1),
                ..EvalMetrics::default()
            },
            Err(e) => EvalMetrics::warning(format!("validation generation failed, no best checkpoint this time: {e}")),
        }
    }
}

/// The three splits, drawn with seeds derived from the experiment's.
fn needle_splits(n: &NeedleSection, seed: u64) -> Result<[Vec<NeedleExample>; 3], RunError> {
    let draw = |per_class, salt: u64| generate(n.length_bp, per_class, n.classes, seed ^ salt).map_err(RunError::from);
    Ok([draw(n.train_per_class, 0x7261_696e)?, draw(n.valid_per_class, 0x7661_6c69)?, draw(n.test_per_class, 0x7465_7374)?])
}

/// `targets_per_class` training images of each digit, chosen by a seeded shuffle.
fn target_pool(train: &Digits, classes: usize, per_class: usize, seed: u64) -> Result<Vec<Vec<usize>>, RunError> {
    let perm = crate::data::windows::epoch_permutation(train.len(), seed, 0x7467);
    let mut pool = vec![Vec::new(); classes];
    for &i in &perm {
        let c = train.labels[i];
        if pool[c].len() < per_class {
            pool[c].push(i);
        }
    }
    if let Some(c) = pool.iter().position(|p| p.len() < per_class) {
        return Err(RunError::TooFewTargets { digit: c, found: pool[c].len(), needed: per_class });
    }
    Ok(pool)
}

/// `kind = "needle_in_dna"`.
pub struct NeedleInDna;

/// The expanded tokenizer, the DNA splits and the target images, before the VQ-VAE encodes them.
pub struct Prepared {
    tok: DnaTokenizer,
    task_id: u32,
    image_base: u32,
    vocab_size: usize,
    context: usize,
    splits: [Vec<NeedleExample>; 3],
    targets: Digits,
}

impl Recipe for NeedleInDna {
    type Prepared = Prepared;

    /// The VQ-VAE and the classifier come from other experiments' runs: say so before starting.
    fn open(resolved: &Resolved, resume: bool) -> Result<Session, RunError> {
        let n = &resolved.experiment.needle;
        for (key, p, kind) in [("needle.vqvae", &n.vqvae, "vqvae_mnist.toml"), ("needle.classifier", &n.classifier, "mnist_classifier.toml")] {
            if !p.is_dir() {
                return Err(RunError::MissingRun { key, path: p.clone(), experiment: kind });
            }
        }
        Session::open(resolved, resume)
    }

    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Prepared, RunError> {
        let exp = &resolved.experiment;
        let n = &exp.needle;
        let run_path = session.run_dir.path.clone();
        let (mut tok, own) = base_tokenizer(resolved, &run_path)?;
        // The codebook size decides the image tokens; read it from the VQ-VAE run on the host.
        let codebook = super::vqvae::vqvae_config(&n.vqvae, &mut |w| session.say(w))?.codebook_size;
        let mut new_tokens = vec![TASK_TOKEN.to_string()];
        new_tokens.extend((0..codebook).map(image_token));
        let refs: Vec<&str> = new_tokens.iter().map(String::as_str).collect();
        let ids = tok.add_tokens(&refs)?;
        let (task_id, image_base) = (ids[0], ids[1]);
        if ids[1..].iter().enumerate().any(|(k, &id)| id != image_base + k as u32) {
            return Err(RunError::ImageTokensNotConsecutive);
        }
        tok.save(&own)?;
        let model_cfg = expanded_config(resolved, &tok);
        write_model_toml(&run_path, &model_cfg).map_err(|source| RunError::Write { path: run_path.join(MODEL_TOML), source })?;
        session.say(&format!(
            "vocabulary {} -> {} ([TASK_needle] + {codebook} image tokens from id {image_base})",
            resolved.model.vocab_size, model_cfg.vocab_size
        ));
        let splits = needle_splits(n, exp.seed)?;
        let motifs: Vec<String> = MOTIFS[..n.classes].iter().enumerate().map(|(i, m)| format!("{m}->{i}")).collect();
        session.say(&format!(
            "needles: {} bp, motifs {}, {} / {} / {} per class (train / valid / test)",
            n.length_bp, motifs.join(" "), n.train_per_class, n.valid_per_class, n.test_per_class
        ));
        let digits: Vec<u8> = (0..n.classes as u8).collect();
        let targets = load_digits(&n.images.train_images, &n.images.train_labels, &digits)?;
        Ok(Prepared { tok, task_id, image_base, vocab_size: model_cfg.vocab_size, context: model_cfg.context, splits, targets })
    }

    fn train<B: TrainBackend>(p: Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError> {
        let exp = ctx.experiment();
        let (n, sft, seed) = (exp.needle.clone(), exp.sft.clone(), exp.seed);
        let device = ctx.device.clone();
        let (vqvae, _) = super::vqvae::load_vqvae::<B::InnerBackend>(&n.vqvae, &device, &mut |w| ctx.say(w))?;
        let (judge, digits) = load_classifier::<B::InnerBackend>(&n.classifier, &device)?;
        if digits.len() < n.classes || digits.iter().take(n.classes).enumerate().any(|(c, &d)| usize::from(d) != c) {
            return Err(RunError::ClassifierClasses { digits: digits.clone(), classes: n.classes, last: n.classes - 1 });
        }
        let codebook = vqvae.codebook_size();

        // Targets: the VQ-VAE codes of each pool image, as image-token ids.
        let pool = target_pool(&p.targets, n.classes, n.targets_per_class, seed)?;
        let flat: Vec<usize> = pool.iter().flatten().copied().collect();
        let codes = vqvae.encode_indices(p.targets.tensor::<B::InnerBackend>(&flat, &device)); // [n_pool, 49]
        let codes: Vec<u32> = codes.into_data().iter::<i64>().map(|k| p.image_base + k as u32).collect();
        let mut answers: Vec<Vec<Vec<u32>>> = vec![Vec::new(); n.classes];
        for (j, &i) in flat.iter().enumerate() {
            answers[p.targets.labels[i]].push(codes[j * IMAGE_TOKENS..(j + 1) * IMAGE_TOKENS].to_vec());
        }

        let format = SftFormat::new(vec![p.task_id], 1, p.context, Truncation::Drop)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6564);
        let mut stats = SftStats::default();
        let mut examples = |set: &[NeedleExample]| -> Result<Vec<SftExample>, RunError> {
            let mut out = Vec::new();
            for e in set {
                let dna = p.tok.encode_dna(&e.seq)?;
                let answer = &answers[e.class][rng.random_range(0..answers[e.class].len())];
                out.extend(format.example(&dna, answer, &mut stats)?);
            }
            Ok(out)
        };
        let train = examples(&p.splits[0])?;
        let valid = examples(&p.splits[1])?;
        if train.is_empty() || stats.dropped > 0 {
            return Err(RunError::NeedleTooLong { dropped: stats.dropped, total: stats.dropped + stats.kept, context: p.context, length_bp: n.length_bp });
        }
        let prompts = |set: &[NeedleExample]| -> Result<Vec<(Vec<u32>, usize)>, RunError> {
            set.iter()
                .map(|e| {
                    let dna = p.tok.encode_dna(&e.seq)?;
                    let prompt = format.generation_prompt(&dna, IMAGE_TOKENS + 1).ok_or(RunError::PromptTooLong { length_bp: n.length_bp, context: p.context })?;
                    Ok((prompt, e.class))
                })
                .collect()
        };
        let judge = NeedleJudge {
            valid_prompts: prompts(&p.splits[1])?,
            test_prompts: prompts(&p.splits[2])?,
            image_base: p.image_base,
            vqvae,
            judge,
            classes: n.classes,
            opts: n.clone(),
            eval_max_examples: sft.eval_examples(),
            eval_batch_size: sft.eval_batch_size,
        };
        let task: NeedleTask<B> = SftTask { sets: SftSets { train, valid }, neftune_alpha: sft.neftune_alpha, eval: judge };
        let train_examples = &task.sets.train;
        let seqs_per_step = exp.train.batch_size * exp.train.grad_accum;
        let mean_len = train_examples.iter().map(|e| e.ids.len() as f64).sum::<f64>() / train_examples.len() as f64;
        let total = exp.train.duration.steps(train_examples.len(), mean_len, seqs_per_step);
        let model = load_expanded(ctx, p.vocab_size)?;
        ctx.say(&format!(
            "{} train / {} valid / {} test examples, codebook {codebook}, {total} steps",
            task.sets.train.len(), task.sets.valid.len(), task.eval.test_prompts.len()
        ));
        let (model, outcome) = ctx.fit(&task, model, total)?;

        let (model, chosen) = ctx.best_or_final(model, outcome.state.step, "macro F1")?;
        let judged = task.eval.judge(&model.valid(), &task.eval.test_prompts, 0)?;
        write_sheet(&ctx.run_dir.join("samples.png"), &task.eval, &judged, &p.targets, &pool)?;
        let predictions = Prediction::unscored("test_needle", &judged.truth, &judged.pred);
        let eval = TaskEval::from_predictions("needle", Metric::MacroF1, &judged.report.labels, predictions, false);
        let dir = ctx.run_dir.join("eval");
        write_results(&dir, std::slice::from_ref(&eval), &chosen, "test").map_err(|source| RunError::Write { path: dir, source })?;
        let mut metrics = Metrics::new();
        metrics.insert("test/needle/macro_f1".into(), eval.report.macro_f1);
        metrics.insert("test/needle/invalid_rate".into(), eval.report.invalid_rate);
        metrics.insert("test/needle/accuracy".into(), eval.report.accuracy);
        Ok(Finished { outcome, metrics, report: markdown(std::slice::from_ref(&eval), "Needle-in-DNA test results") })
    }
}

/// `samples.png`: one row per class, a target image first, then up to `sheet_per_class`
/// generated test images of that class (grey: invalid output).
fn write_sheet<B: Kernels>(path: &Path, task: &NeedleJudge<B>, judged: &Judged, targets: &Digits, pool: &[Vec<usize>]) -> Result<(), RunError> {
    let per = task.opts.sheet_per_class;
    let mut cells: Vec<[f32; PIXELS]> = Vec::new();
    for class in 0..task.classes {
        let mut row = vec![[0.5f32; PIXELS]; per + 1];
        let t = pool[class][0];
        row[0].copy_from_slice(&targets.pixels[t * PIXELS..(t + 1) * PIXELS]);
        let mine = task.test_prompts.iter().zip(&judged.images).filter(|((_, c), _)| *c == class).take(per);
        for (slot, (_, img)) in row[1..].iter_mut().zip(mine) {
            if let Some(px) = img {
                slot.copy_from_slice(px);
            }
        }
        cells.extend(row);
    }
    Ok(save_png_grid(path, &cells, per + 1, 2, 2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_49_image_tokens_then_sep_is_a_valid_image() {
        let base = 100;
        let good: Vec<u32> = (0..49).map(|k| base + (k % 16)).chain([SEP_ID]).collect();
        assert_eq!(image_codes(&good, base, 16), Some((0..49).map(|k| k % 16).collect()));
        // Too few image tokens, then [SEP].
        let short: Vec<u32> = (0..48).map(|_| base).chain([SEP_ID]).collect();
        assert_eq!(image_codes(&short, base, 16), None);
        // 50 image tokens: no [SEP] where it belongs.
        let long: Vec<u32> = (0..50).map(|_| base).collect();
        assert_eq!(image_codes(&long, base, 16), None);
        // A DNA token among the image tokens.
        let mut mixed = good.clone();
        mixed[10] = 7;
        assert_eq!(image_codes(&mixed, base, 16), None);
        // A token past the codebook (e.g. the task token appended after the image tokens).
        let mut past = good.clone();
        past[3] = base + 16;
        assert_eq!(image_codes(&past, base, 16), None);
        // 49 image tokens cut off before [SEP].
        assert_eq!(image_codes(&good[..49], base, 16), None);
        assert_eq!(image_codes(&[], base, 16), None);
    }
}
