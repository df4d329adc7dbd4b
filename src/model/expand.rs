//! Growing the model's vocabulary after `DnaTokenizer::add_tokens` (the tokenizer side is
//! `crate::tokenizer::expand`).
//!
//! New embedding rows, and new columns of an untied output layer, start at the MEAN of the
//! existing ones. Hugging Face `resize_token_embeddings` (which Omni-DNA's
//! `extend_model_tokenizer` calls) does the same since transformers 4.46 (`mean_resizing=True`),
//! there drawn from a normal around the mean with 1e-9 × the old covariance; we take the mean
//! itself so the result is deterministic. Mean initialisation keeps the new tokens' logits near
//! the average of the old ones instead of at random values (Hewitt 2021, "Initializing new word
//! embeddings for pretrained language models"). Old rows and columns are copied exactly, so the
//! logits of the old vocabulary are unchanged for any input of old tokens.

use burn::nn::Linear;
use burn::prelude::*;

use super::olmo::OlmoModel;

/// Append `n` copies of the mean over `dim` to `t` along `dim`, keeping the tensor's
/// gradient requirement (the result is a fresh leaf, not a function of the old value).
///
/// # Shapes
/// - t: `[a, b]` → `[a + n, b]` (dim 0) or `[a, b + n]` (dim 1)
fn append_mean<B: Backend>(t: Tensor<B, 2>, dim: usize, n: usize) -> Tensor<B, 2> {
    let require_grad = t.is_require_grad();
    let t = t.detach();
    let mean = t.clone().mean_dim(dim); // [1, b] or [a, 1]
    let grown = Tensor::cat(vec![t, mean.repeat_dim(dim, n)], dim);
    // On an autodiff backend the result of `cat` is not a leaf even when its inputs are
    // detached; a round trip through host data makes it a fresh leaf parameter.
    let device = grown.device();
    Tensor::from_data(grown.into_data(), &device).set_require_grad(require_grad)
}

/// Same as [`append_mean`] for a bias vector.
///
/// # Shapes
/// - t: `[a]` → `[a + n]`
fn append_mean_1d<B: Backend>(t: Tensor<B, 1>, n: usize) -> Tensor<B, 1> {
    let require_grad = t.is_require_grad();
    let t = t.detach();
    let mean = t.clone().mean(); // [1]
    let grown = Tensor::cat(vec![t, mean.repeat_dim(0, n)], 0);
    let device = grown.device();
    Tensor::from_data(grown.into_data(), &device).set_require_grad(require_grad)
}

/// Grow the output projection by `n` columns (and bias entries, if any).
///
/// # Shapes
/// - head.weight: `[d_model, vocab]` → `[d_model, vocab + n]`
fn expand_head<B: Backend>(head: Linear<B>, n: usize) -> Linear<B> {
    Linear {
        weight: head.weight.map(|w| append_mean(w, 1, n)),
        bias: head.bias.map(|b| b.map(|b| append_mean_1d(b, n))),
    }
}

/// Give `model` a vocabulary of `new_vocab` entries: rows `old..new_vocab` of `wte` (and the
/// matching columns of an untied `ff_out`) are set to the mean of the old rows (columns).
/// `new_vocab` equal to the current size returns the model unchanged; a smaller one is
/// refused (shrinking would drop trained tokens). The caller sets `OlmoConfig::vocab_size` to
/// `new_vocab` (normally `DnaTokenizer::vocab_size()` after `add_tokens`). Parameter ids are
/// kept, so start a fresh optimizer state: the old one has the old shapes.
///
/// # Shapes
/// - wte: `[vocab, d_model]` → `[new_vocab, d_model]`
/// - untied ff_out.weight: `[d_model, vocab]` → `[d_model, new_vocab]`
pub fn expand_vocab<B: Backend>(model: OlmoModel<B>, new_vocab: usize) -> Result<OlmoModel<B>, ExpandVocabError> {
    let old = model.vocab_size();
    if new_vocab < old {
        return Err(ExpandVocabError::Shrink { old, new_vocab });
    }
    let n = new_vocab - old;
    if n == 0 {
        return Ok(model);
    }
    Ok(OlmoModel {
        wte: model.wte.map(|w| append_mean(w, 0, n)),
        blocks: model.blocks,
        ln_f: model.ln_f,
        ff_out: model.ff_out.map(|head| expand_head(head, n)),
    })
}

/// Why the vocabulary could not be grown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandVocabError {
    #[error("cannot shrink the vocabulary from {old} to {new_vocab} entries; pass the tokenizer's vocab_size after add_tokens, which is never smaller")]
    Shrink { old: usize, new_vocab: usize },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NormKind, OlmoConfig};
    use burn::backend::Flex;

    type B = Flex;

    fn cfg(tied: bool) -> OlmoConfig {
        OlmoConfig {
            n_layers: 2, d_model: 16, n_heads: 2, mlp_ratio: 2, vocab_size: 12, context: 16,
            norm: NormKind::RmsNorm, norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: tied, init_std: 0.3,
        }
    }

    fn host(t: Tensor<B, 2>) -> Vec<f32> {
        t.into_data().convert::<f32>().into_vec::<f32>().expect("f32")
    }

    fn check(tied: bool) {
        let device = Default::default();
        let model = cfg(tied).init::<B>(&device);
        let ids = Tensor::<B, 1, Int>::from_ints([1, 7, 3, 11, 0, 5, 9, 2], &device).reshape([1, 8]);
        // The forward pass touches (initialises) every parameter before the model is moved.
        let before = model.forward(ids.clone()); // [1, 8, 12]
        let old_wte = model.wte.val();
        let expanded = expand_vocab(model, 15).expect("expand");
        assert_eq!(expanded.vocab_size(), 15);

        let after = expanded.forward(ids); // [1, 8, 15]
        assert_eq!(after.dims(), [1, 8, 15]);
        let diff = (after.narrow(2, 0, 12) - before).abs().max().into_scalar();
        assert!(diff <= 1e-6, "old-vocabulary logits moved by {diff}");

        let wte = expanded.wte.val();
        let mean = host(old_wte.clone().mean_dim(0));
        assert_eq!(host(wte.clone().narrow(0, 0, 12)), host(old_wte));
        for row in 12..15 {
            assert_eq!(host(wte.clone().narrow(0, row, 1)), mean);
        }
        if let Some(head) = &expanded.ff_out {
            let w = head.weight.val(); // [16, 15]
            let mean = host(w.clone().narrow(1, 0, 12).mean_dim(1));
            for col in 12..15 {
                assert_eq!(host(w.clone().narrow(1, col, 1)), mean);
            }
        }
    }

    #[test]
    fn expand_keeps_old_logits_and_sets_new_rows_to_the_mean_tied() {
        check(true);
    }

    #[test]
    fn expand_keeps_old_logits_and_sets_new_rows_to_the_mean_untied() {
        check(false);
    }

    #[test]
    fn expand_refuses_to_shrink_and_is_a_no_op_at_the_same_size() {
        let device = Default::default();
        let model = cfg(true).init::<B>(&device);
        let wte = host(model.wte.val());
        let same = expand_vocab(model, 12).expect("same size");
        assert_eq!(host(same.wte.val()), wte);
        let err = expand_vocab(same, 10).expect_err("shrink");
        assert_eq!(err, ExpandVocabError::Shrink { old: 12, new_vocab: 10 });
    }
}
