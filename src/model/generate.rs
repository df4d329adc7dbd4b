//! Greedy decoding with a key/value cache, batched over prompts of different lengths.
//!
//! Batching: prompts are LEFT-padded to the longest, so every row's next token is read at the
//! same column. Each row gets its own RoPE positions (`0..len` for its real tokens, whatever
//! the padded columns would have had being irrelevant) and a boolean attention mask that hides
//! the padded keys from every real query; a padded query attends only to itself, so no
//! softmax row is empty. The rows then advance in lock step: at decoding step `s` row `b`
//! feeds its last token at position `len_b + s`, and its query attends to all its cached
//! (non-padded) keys. This is the layout Hugging Face `generate` uses for decoder-only models
//! (left padding, `position_ids = cumsum(attention_mask) - 1`).
//!
//! The cached forward pass reuses the fields of [`OlmoBlock`] (same projections, split-half
//! RoPE, SwiGLU and norms as `OlmoBlock::forward`), so it computes the same function;
//! [`generate_greedy_no_cache`] re-runs `OlmoModel::forward` on each prompt alone every step and
//! is the reference the tests compare against.

use burn::prelude::*;

use super::olmo::{KvCache, OlmoModel};
use super::rope::rope_tables;
use crate::tokenizer::PAD_ID;
use crate::kernels::Kernels;

/// Why generation could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("prompt {index} is empty; a prompt needs at least one token (e.g. [CLS] … [MASK])")]
    EmptyPrompt { index: usize },
    #[error("prompt {index} holds token id {id}, outside the model's vocabulary of {vocab_size}; expand the model's vocabulary after adding tokens")]
    TokenOutOfVocab { index: usize, id: u32, vocab_size: usize },
}

/// The running state of a batched decode: per-layer caches and the RoPE table.
struct Decoder<'a, B: Backend> {
    model: &'a OlmoModel<B>,
    caches: Vec<Option<KvCache<B>>>,
    /// cos and sin for positions `0..max_pos`, `[max_pos, head_dim]` each.
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
    heads: usize,
    device: B::Device,
}

impl<'a, B: Kernels> Decoder<'a, B> {
    fn new(model: &'a OlmoModel<B>, max_pos: usize, device: B::Device) -> Self {
        let d = model.d_model();
        let (heads, theta) = model.blocks.first().map_or((1, 10_000.0), |b| (b.n_heads, b.rope_theta));
        let hd = d / heads;
        let (cos, sin) = rope_tables::<B>(max_pos, 0, hd, theta, &device); // [1, 1, max_pos, hd]
        Self {
            model,
            caches: model.blocks.iter().map(|_| None).collect(),
            cos: cos.reshape([max_pos, hd]),
            sin: sin.reshape([max_pos, hd]),
            heads,
            device,
        }
    }

    /// Run `ids` (the next `new` columns of every row) through the model, appending to the
    /// caches; returns the logits of each row's next token.
    ///
    /// # Shapes
    /// - ids, positions: `[batch][new]` → `[batch, vocab]`
    /// - mask: `[batch, 1, new, seen + new]` host flags, true = hidden
    fn step(&mut self, ids: &[Vec<u32>], positions: &[Vec<usize>], mask: Option<Vec<bool>>, causal: bool) -> Tensor<B, 2> {
        let (batch, new) = (ids.len(), ids[0].len());
        let hd = self.cos.dims()[1];
        let flat: Vec<i64> = ids.iter().flatten().map(|&id| id as i64).collect();
        let ids = Tensor::<B, 1, Int>::from_ints(flat.as_slice(), &self.device).reshape([batch, new]);
        let pos: Vec<i64> = positions.iter().flatten().map(|&p| p as i64).collect();
        let pos = Tensor::<B, 1, Int>::from_ints(pos.as_slice(), &self.device);
        let table = |t: &Tensor<B, 2>| t.clone().select(0, pos.clone()).reshape([batch, 1, new, hd]);
        let (cos, sin) = (table(&self.cos), table(&self.sin));
        let mask = mask.map(|m| {
            let keys = m.len() / (batch * new);
            Tensor::<B, 4, Bool>::from_data(TensorData::new(m, [batch, 1, new, keys]), &self.device)
                .expand([batch, self.heads, new, keys])
        });

        let mut x = self.model.embed(ids); // [batch, new, d]
        for (block, cache) in self.model.blocks.iter().zip(self.caches.iter_mut()) {
            let (y, c) = block.forward_cached(x, &cos, &sin, cache.take(), mask.clone(), causal);
            *cache = Some(c);
            x = y;
        }
        let last = self.model.ln_f.forward(x.narrow(1, new - 1, 1)); // [batch, 1, d]
        let logits = self.model.logits(last); // [batch, 1, vocab]
        let vocab = logits.dims()[2];
        logits.reshape([batch, vocab])
    }
}

/// The greedy (argmax) token of each row of `logits` `[batch, vocab]`.
fn argmax_ids<B: Backend>(logits: Tensor<B, 2>) -> Vec<u32> {
    let next = logits.argmax(1); // [batch, 1]
    let next = next.into_data().convert::<i64>().into_vec::<i64>().expect("argmax ids are integers");
    next.into_iter().map(|id| id as u32).collect()
}

/// Softmax probabilities (over the whole vocabulary) of the tokens `ids` in each row of `logits`.
///
/// # Shapes
/// - logits: `[batch, vocab]` → `[batch][ids.len()]`
fn token_probs<B: Backend>(logits: Tensor<B, 2>, ids: &[u32]) -> Vec<Vec<f64>> {
    let batch = logits.dims()[0];
    if ids.is_empty() {
        return vec![Vec::new(); batch];
    }
    let device = logits.device();
    let idx: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let idx = Tensor::<B, 1, Int>::from_ints(idx.as_slice(), &device);
    let probs = burn::tensor::activation::softmax(logits, 1).select(1, idx); // [batch, ids]
    let flat: Vec<f32> = probs.into_data().convert::<f32>().into_vec::<f32>().expect("probabilities are floats");
    flat.chunks(ids.len()).map(|row| row.iter().map(|&p| f64::from(p)).collect()).collect()
}

/// Check every prompt is non-empty and inside the vocabulary.
fn validate<B: Backend>(model: &OlmoModel<B>, prompts: &[Vec<u32>]) -> Result<(), GenerateError> {
    let vocab_size = model.vocab_size();
    for (index, prompt) in prompts.iter().enumerate() {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt { index });
        }
        if let Some(&id) = prompt.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(GenerateError::TokenOutOfVocab { index, id, vocab_size });
        }
    }
    Ok(())
}

/// Greedy decoding of all `prompts` in one batch with a KV cache.
///
/// Returns, per prompt, the generated tokens only (not the prompt): at most `max_new_tokens`,
/// ending with `stop` (normally `SEP_ID`) when the model produced it, so a stopped output can be
/// told from a cut one. Rows that stopped keep being fed (their outputs ignored) until every row
/// has stopped. Positions are not limited to the training context: keep prompt plus answer
/// within it (e.g. `SftFormat::generation_prompt`). Appending to the cache copies it, so a
/// sequence of `T` tokens costs `O(T²)` copies; fine for the short answers of SFT evaluation.
///
/// # Shapes
/// - prompts: `[batch][len_b]` → `[batch][<= max_new_tokens]`
pub fn generate_greedy<B: Kernels>(
    model: &OlmoModel<B>,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop: u32,
) -> Result<Vec<Vec<u32>>, GenerateError> {
    Ok(generate_greedy_scored(model, prompts, max_new_tokens, stop, &[])?.0)
}

/// [`generate_greedy`], also returning for each prompt the probability (softmax over the whole
/// vocabulary) of each token in `score_ids` at the first generated position: e.g. of each label
/// token at a classification answer, for AUROC and thresholds.
///
/// # Shapes
/// - prompts: `[batch][len_b]` → (`[batch][<= max_new_tokens]`, `[batch][score_ids.len()]`)
///
/// # Errors
/// As [`generate_greedy`].
pub fn generate_greedy_scored<B: Kernels>(
    model: &OlmoModel<B>,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop: u32,
    score_ids: &[u32],
) -> Result<(Vec<Vec<u32>>, Vec<Vec<f64>>), GenerateError> {
    validate(model, prompts)?;
    let mut out = vec![Vec::new(); prompts.len()];
    if prompts.is_empty() || max_new_tokens == 0 {
        return Ok((out, vec![Vec::new(); prompts.len()]));
    }
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let pads: Vec<usize> = prompts.iter().map(|p| width - p.len()).collect();
    let padded = pads.iter().any(|&p| p > 0);
    let device = model.wte.val().device();
    let mut dec = Decoder::new(model, width + max_new_tokens, device);

    // Prefill: left-padded prompts, per-row positions, causal mask that also hides padding.
    let ids: Vec<Vec<u32>> = prompts
        .iter()
        .zip(&pads)
        .map(|(p, &pad)| std::iter::repeat_n(PAD_ID, pad).chain(p.iter().copied()).collect())
        .collect();
    let positions: Vec<Vec<usize>> = pads.iter().map(|&pad| (0..width).map(|t| t.saturating_sub(pad)).collect()).collect();
    let mask = padded.then(|| {
        let mut m = Vec::with_capacity(prompts.len() * width * width);
        for &pad in &pads {
            for q in 0..width {
                m.extend((0..width).map(|k| k > q || (k < pad && k != q)));
            }
        }
        m
    });
    let first = dec.step(&ids, &positions, mask, !padded);
    let scores = token_probs(first.clone(), score_ids);
    let mut next = argmax_ids(first);

    let mut done = vec![false; prompts.len()];
    for step in 0..max_new_tokens {
        for (b, &id) in next.iter().enumerate() {
            if !done[b] {
                out[b].push(id);
                done[b] = id == stop;
            }
        }
        if step + 1 == max_new_tokens || done.iter().all(|&d| d) {
            break;
        }
        // Decode: one new column; row b's token sits at position len_b + step.
        let ids: Vec<Vec<u32>> = next.iter().map(|&id| vec![id]).collect();
        let positions: Vec<Vec<usize>> = prompts.iter().map(|p| vec![p.len() + step]).collect();
        let keys = width + step + 1;
        let mask = padded.then(|| pads.iter().flat_map(|&pad| (0..keys).map(move |k| k < pad)).collect());
        next = argmax_ids(dec.step(&ids, &positions, mask, false));
    }
    Ok((out, scores))
}

/// Greedy decoding without a cache: each prompt alone, the full `OlmoModel::forward` re-run
/// for every new token, the argmax of the last position appended. Same outputs as
/// [`generate_greedy`]; the reference for its tests, and a fallback.
///
/// # Shapes
/// - prompts: `[batch][len_b]` → `[batch][<= max_new_tokens]`
pub fn generate_greedy_no_cache<B: Kernels>(
    model: &OlmoModel<B>,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop: u32,
) -> Result<Vec<Vec<u32>>, GenerateError> {
    validate(model, prompts)?;
    let device = model.wte.val().device();
    let mut outputs = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        let mut seq: Vec<i64> = prompt.iter().map(|&id| id as i64).collect();
        let mut out = Vec::new();
        while out.len() < max_new_tokens {
            let len = seq.len();
            let ids = Tensor::<B, 1, Int>::from_ints(seq.as_slice(), &device).reshape([1, len]);
            let logits = model.forward(ids); // [1, len, vocab]
            let vocab = logits.dims()[2];
            let last = logits.narrow(1, len - 1, 1).reshape([1, vocab]);
            let id = last.argmax(1).into_scalar().elem::<i64>() as u32;
            out.push(id);
            seq.push(id as i64);
            if id == stop {
                break;
            }
        }
        outputs.push(out);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NormKind, OlmoConfig};
    use burn::backend::Flex;

    type B = Flex;

    fn model(norm: NormKind, tied: bool) -> OlmoModel<B> {
        let cfg = OlmoConfig {
            n_layers: 2, d_model: 16, n_heads: 2, mlp_ratio: 2, vocab_size: 23, context: 32,
            norm, norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: tied, init_std: 0.4,
        };
        B::seed(&Default::default(), 5);
        cfg.init::<B>(&Default::default())
    }

    fn prompts() -> Vec<Vec<u32>> {
        vec![vec![1, 7, 9, 4, 12], vec![1], vec![1, 5, 6, 7, 8, 20, 21, 4], vec![3, 3, 17]]
    }

    const NEVER: u32 = u32::MAX;

    fn check_cache_matches_reference(m: &OlmoModel<B>) {
        let reference = generate_greedy_no_cache(m, &prompts(), 7, NEVER).expect("reference");
        assert!(reference.iter().all(|r| r.len() == 7));
        let cached = generate_greedy(m, &prompts(), 7, NEVER).expect("cached");
        assert_eq!(cached, reference);
        for (p, r) in prompts().iter().zip(&reference) {
            let alone = generate_greedy(m, std::slice::from_ref(p), 7, NEVER).expect("alone");
            assert_eq!(&alone[0], r);
        }
        // The first token is the argmax of the forward logits at the prompt's last position.
        let p = &prompts()[2];
        let ids = Tensor::<B, 1, Int>::from_ints(p.iter().map(|&x| x as i64).collect::<Vec<_>>().as_slice(), &Default::default())
            .reshape([1, p.len()]);
        let logits = m.forward(ids).narrow(1, p.len() - 1, 1).reshape([1, 23]);
        assert_eq!(logits.argmax(1).into_scalar().elem::<i64>() as u32, reference[2][0]);
    }

    #[test]
    fn label_scores_are_the_softmax_of_the_full_forward_at_each_prompts_last_position() {
        let m = model(NormKind::RmsNorm, false);
        let score_ids = [4u32, 9, 22];
        let (out, scores) = generate_greedy_scored(&m, &prompts(), 3, NEVER, &score_ids).expect("scored");
        assert_eq!(out, generate_greedy(&m, &prompts(), 3, NEVER).expect("plain"));
        // Left padding must not change a row's scores: compare each row with its prompt alone.
        for (p, got) in prompts().iter().zip(&scores) {
            let ids = Tensor::<B, 1, Int>::from_ints(p.iter().map(|&x| x as i64).collect::<Vec<_>>().as_slice(), &Default::default())
                .reshape([1, p.len()]);
            let logits = m.forward(ids).narrow(1, p.len() - 1, 1).reshape([1, 23]);
            let probs: Vec<f32> = burn::tensor::activation::softmax(logits, 1).into_data().to_vec().unwrap();
            for (k, &id) in score_ids.iter().enumerate() {
                let want = f64::from(probs[id as usize]);
                assert!((got[k] - want).abs() < 1e-5, "token {id}: {} vs {want}", got[k]);
            }
        }
    }

    #[test]
    fn generate_with_cache_matches_full_forward_rms_untied() {
        check_cache_matches_reference(&model(NormKind::RmsNorm, false));
    }

    #[test]
    fn generate_with_cache_matches_full_forward_layer_norm_tied() {
        check_cache_matches_reference(&model(NormKind::LayerNormNoAffine, true));
    }

    #[test]
    fn generate_stops_each_row_at_the_stop_token() {
        let m = model(NormKind::RmsNorm, false);
        let unlimited = generate_greedy(&m, &prompts(), 8, NEVER).expect("unlimited");
        let stop = unlimited[0][2];
        let stopped = generate_greedy(&m, &prompts(), 8, stop).expect("stopped");
        for (full, cut) in unlimited.iter().zip(&stopped) {
            let end = full.iter().position(|&id| id == stop).map_or(full.len(), |i| i + 1);
            assert_eq!(cut.as_slice(), &full[..end]);
        }
        assert!(stopped[0].len() <= 3 && stopped[0].last() == Some(&stop));
        assert_eq!(stopped, generate_greedy_no_cache(&m, &prompts(), 8, stop).expect("reference"));
    }

    #[test]
    fn generate_refuses_empty_and_out_of_vocab_prompts() {
        let m = model(NormKind::RmsNorm, true);
        assert_eq!(generate_greedy(&m, &[vec![1], vec![]], 3, 2), Err(GenerateError::EmptyPrompt { index: 1 }));
        let err = generate_greedy(&m, &[vec![1, 23]], 3, 2).expect_err("oov");
        assert_eq!(err, GenerateError::TokenOutOfVocab { index: 0, id: 23, vocab_size: 23 });
        assert_eq!(generate_greedy(&m, &[vec![1]], 0, 2), Ok(vec![vec![]]));
    }
}
