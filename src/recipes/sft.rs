//! What the three supervised-finetuning kinds (`finetune`, `needle_in_dna`, `dna2func`) share:
//! the loop's task ([`SftTask`]: answer-only loss with NEFTune noise on the example sets, and
//! validation by generation through [`GenerationScore`]), the run's tokenizer, and the expanded
//! pretrained model they start from.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::config::Resolved;
use crate::data::sft::{sft_batch, SftExample};
use crate::model::neftune::neftune_noise;
use crate::model::{OlmoConfig, OlmoModel};
use crate::tokenizer::DnaTokenizer;
use crate::train::lm::{masked_cross_entropy_sum, LmBatch};
use crate::train::session::RunError;
use crate::train::{EvalMetrics, EvalOutput, StepOutput, Task};
use crate::kernels::TrainBackend;
use super::Context;
use crate::kernels::Kernels;

/// Summed answer-only loss of an SFT batch, with NEFTune noise of scale `alpha` on the input
/// embeddings (`alpha = 0`: none, as in evaluation).
///
/// # Shapes
/// - returns `[1]`
pub fn sft_loss<B: Kernels>(model: &OlmoModel<B>, batch: &LmBatch, alpha: f64, device: &B::Device) -> Tensor<B, 1> {
    let (inputs, targets, mask) = batch.tensors::<B>(device);
    let mut x = model.embed(inputs); // [batch, seq, d_model]
    if alpha > 0.0 {
        x = neftune_noise(x, alpha);
    }
    masked_cross_entropy_sum(model.logits(model.hidden(x)), targets, mask)
}

/// The training and validation examples of an SFT kind, as the loop draws them.
pub struct SftSets {
    pub train: Vec<SftExample>,
    pub valid: Vec<SftExample>,
}

impl SftSets {
    pub fn train_batch(&self, indices: &[usize]) -> LmBatch {
        sft_batch(&indices.iter().map(|&i| &self.train[i]).collect::<Vec<_>>())
    }
    pub fn valid_batch(&self, indices: &[usize]) -> LmBatch {
        sft_batch(&indices.iter().map(|&i| &self.valid[i]).collect::<Vec<_>>())
    }
}

/// The run's tokenizer before expansion: its own `tokenizer.json` when resuming, else
/// `tokenizer.path`, else the one shipped beside `model.init_from`. Returns it with the path the
/// expanded tokenizer is saved to.
pub fn base_tokenizer(resolved: &Resolved, run_dir: &Path) -> Result<(DnaTokenizer, PathBuf), RunError> {
    let exp = &resolved.experiment;
    let init = exp.model.init_from.as_deref().ok_or(RunError::NeedsInitFrom { kind: exp.kind.as_str() })?;
    let own = run_dir.join("tokenizer.json");
    let path = if own.exists() { Some(own.clone()) } else { exp.tokenizer.path.clone().or_else(|| crate::export::source::tokenizer_path(init)) };
    let path = path.ok_or_else(|| RunError::NoTokenizer { beside: init.to_path_buf() })?;
    Ok((DnaTokenizer::from_file(&path)?, own))
}

/// The model shape after appending tokens: the pretrained one with the larger vocabulary.
pub fn expanded_config(resolved: &Resolved, tok: &DnaTokenizer) -> OlmoConfig {
    OlmoConfig { vocab_size: tok.vocab_size().max(resolved.model.vocab_size), ..resolved.model.clone() }
}

/// The pretrained model at `model.init_from` with its vocabulary expanded to `vocab_size` (old
/// rows kept, new rows the mean: `model::expand::expand_vocab`), as every SFT kind starts.
pub fn load_expanded<B: TrainBackend>(ctx: &mut Context<'_, B>, vocab_size: usize) -> Result<OlmoModel<B>, RunError> {
    let exp = ctx.experiment();
    let init = exp.model.init_from.as_deref().ok_or(RunError::NeedsInitFrom { kind: exp.kind.as_str() })?;
    let device = ctx.device.clone();
    let (_, base) = crate::export::source::load_model::<B>(init, &device, &mut |w| ctx.say(w)).map_err(RunError::InitFrom)?;
    Ok(crate::model::expand::expand_vocab(base, vocab_size)?)
}

/// What an SFT kind scores by generation at each evaluation.
pub trait GenerationScore<B: Kernels>: Sync {
    /// Validation metrics of `model` from generated answers; `select` picks the best checkpoint.
    fn score(&self, model: &OlmoModel<B>) -> EvalMetrics;
}

/// The loop's task of every SFT kind: the answer-only loss with NEFTune noise on `sets`, and
/// validation metrics from generation by `eval`.
pub struct SftTask<E> {
    pub sets: SftSets,
    pub neftune_alpha: f64,
    pub eval: E,
}

impl<B: TrainBackend, E: GenerationScore<B::InnerBackend>> Task<B> for SftTask<E> {
    type Model = OlmoModel<B>;
    type Batch = LmBatch;

    fn train_len(&self) -> usize {
        self.sets.train.len()
    }
    fn valid_len(&self) -> usize {
        self.sets.valid.len()
    }
    fn train_batch(&self, indices: &[usize]) -> LmBatch {
        self.sets.train_batch(indices)
    }
    fn valid_batch(&self, indices: &[usize]) -> LmBatch {
        self.sets.valid_batch(indices)
    }
    fn units(&self, batch: &LmBatch) -> f64 {
        batch.units()
    }
    fn tokens(&self, batch: &LmBatch) -> u64 {
        batch.tokens
    }
    fn step(&self, model: &OlmoModel<B>, batch: &LmBatch, device: &B::Device) -> StepOutput<B> {
        StepOutput::loss(sft_loss(model, batch, self.neftune_alpha, device))
    }
    fn eval(&self, model: &OlmoModel<B::InnerBackend>, batch: &LmBatch, device: &B::Device) -> EvalOutput {
        // NEFTune is off in evaluation.
        let l = sft_loss(model, batch, 0.0, device);
        EvalOutput { loss_sum: l.into_scalar().elem::<f64>(), units: batch.units() }
    }
    fn eval_metrics(&self, model: &OlmoModel<B::InnerBackend>, _device: &B::Device) -> EvalMetrics {
        self.eval.score(model)
    }
}
