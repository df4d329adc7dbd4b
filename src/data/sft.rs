//! Supervised-finetuning examples in the released Omni-DNA format, their loss masks and batches,
//! and the reading of a replicated label back out of generated tokens.
//!
//! Omni-DNA formats each example as the text `{instruction}[MASK]{output}` (Zehui127/Omni-DNA
//! `src/multitask_sft/train_sft.py`), tokenises it with the tokenizer's `[CLS] $A [SEP]` template
//! (trl 0.13 `SFTTrainer` tokenises with `add_special_tokens=True`), and trains with trl's
//! `DataCollatorForCompletionOnlyLM("[MASK]")`, which masks every label up to and including
//! `[MASK]` and every padding label. In token ids that is
//!
//! ```text
//! [CLS] prompt… dna… [MASK] answer…×replicate [SEP] [PAD]…
//!  └──────── no loss ──────┘ └──── loss ──────────┘ └ no loss
//! ```
//!
//! `prompt` is the task's token(s) (e.g. `[TASK_H3K4me3]`, from `DnaTokenizer::add_tokens`), empty
//! for single-task finetuning. Token replication (Li et al. 2025 §3.3): the answer is written
//! `replicate` times (Omni-DNA: a label token 10 times), so one wrong first token is less likely to
//! decide the prediction; [`parse_label`] reads the first generated token and reports how many of
//! the replicas agree with it.

use serde::{Deserialize, Serialize};

use crate::tokenizer::{CLS_ID, MASK_ID, PAD_ID, SEP_ID};
use crate::train::lm::LmBatch;

/// What to do with an example longer than the context. The answer is never cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// Drop DNA tokens from the start, keeping the DNA nearest `[MASK]`.
    DnaLeft,
    /// Drop DNA tokens from the end, keeping the start of the DNA.
    DnaRight,
    /// Drop the whole example.
    Drop,
}

/// Why an SFT format or example is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SftError {
    #[error("replicate = 0 would leave no answer to train on; use 1 for no replication (Omni-DNA uses 10 for labels)")]
    ReplicateZero,
    #[error("context = {context} tokens cannot hold [CLS], a {prompt}-token prompt, one DNA token, [MASK], one answer token and [SEP]; use context >= {needed}")]
    ContextTooSmall { context: usize, prompt: usize, needed: usize },
    #[error("an SFT example has an empty answer; every example needs at least one answer token")]
    EmptyAnswer,
    #[error("an SFT example has no DNA tokens; remove empty sequences from the data set")]
    EmptyDna,
}

/// How examples are laid out: the task prompt, the replication and the length limit.
/// Built by [`SftFormat::new`], which checks that a minimal example fits.
#[derive(Debug, Clone, PartialEq)]
pub struct SftFormat {
    prompt: Vec<u32>,
    replicate: usize,
    context: usize,
    truncation: Truncation,
}

/// One tokenised example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftExample {
    /// `[CLS] prompt dna [MASK] answer×replicate [SEP]`, at most `context` ids.
    pub ids: Vec<u32>,
    /// One flag per target position, aligned with `ids[1..]`: true where the target
    /// `ids[t + 1]` is an answer token or the closing `[SEP]`.
    pub loss_mask: Vec<bool>,
    /// Ids up to and including `[MASK]` (the generation prompt); the answer starts here.
    pub prompt_len: usize,
}

/// Counts of examples kept whole, truncated or dropped by [`SftFormat::example`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SftStats {
    pub kept: usize,
    /// Kept with some DNA cut off (counted in `kept` too).
    pub truncated: usize,
    pub dropped: usize,
}

impl SftFormat {
    /// `prompt`: task/prompt ids placed after `[CLS]`; `replicate`: copies of the answer
    /// (>= 1); `context`: longest example in tokens.
    pub fn new(prompt: Vec<u32>, replicate: usize, context: usize, truncation: Truncation) -> Result<Self, SftError> {
        if replicate == 0 {
            return Err(SftError::ReplicateZero);
        }
        let needed = prompt.len() + 5;
        if context < needed {
            return Err(SftError::ContextTooSmall { context, prompt: prompt.len(), needed });
        }
        Ok(Self { prompt, replicate, context, truncation })
    }

    pub fn replicate(&self) -> usize {
        self.replicate
    }

    /// The DNA that fits when `reserved` tokens after `[MASK]` must also fit, under the
    /// truncation policy; `None` when the example must be dropped. The bool says whether DNA was cut.
    fn fit<'a>(&self, dna: &'a [u32], reserved: usize) -> Option<(&'a [u32], bool)> {
        // [CLS] prompt … [MASK] <reserved>
        let fixed = 1 + self.prompt.len() + 1 + reserved;
        let budget = self.context.checked_sub(fixed).filter(|&b| b > 0)?;
        if dna.len() <= budget {
            return Some((dna, false));
        }
        match self.truncation {
            Truncation::DnaLeft => Some((&dna[dna.len() - budget..], true)),
            Truncation::DnaRight => Some((&dna[..budget], true)),
            Truncation::Drop => None,
        }
    }

    /// `[CLS] prompt dna [MASK]`.
    fn prefix(&self, dna: &[u32]) -> Vec<u32> {
        let mut ids = Vec::with_capacity(self.context);
        ids.push(CLS_ID);
        ids.extend_from_slice(&self.prompt);
        ids.extend_from_slice(dna);
        ids.push(MASK_ID);
        ids
    }

    /// Build one training example from DNA ids (`DnaTokenizer::encode_dna`, no specials) and
    /// answer ids (e.g. one label token). Returns `None`, counted in `stats.dropped`, when the
    /// example does not fit: under [`Truncation::Drop`], or when even one DNA token leaves no
    /// room for the whole answer.
    ///
    /// # Shapes
    /// - dna: `[n_dna]`, answer: `[n_answer]`
    /// - returns ids `[<= context]`, loss_mask `[ids - 1]`
    pub fn example(&self, dna: &[u32], answer: &[u32], stats: &mut SftStats) -> Result<Option<SftExample>, SftError> {
        if dna.is_empty() {
            return Err(SftError::EmptyDna);
        }
        if answer.is_empty() {
            return Err(SftError::EmptyAnswer);
        }
        let answer_len = answer.len() * self.replicate + 1; // + [SEP]
        let Some((dna, cut)) = self.fit(dna, answer_len) else {
            stats.dropped += 1;
            return Ok(None);
        };
        let mut ids = self.prefix(dna);
        let prompt_len = ids.len();
        for _ in 0..self.replicate {
            ids.extend_from_slice(answer);
        }
        ids.push(SEP_ID);
        // Target ids[t + 1] is supervised when it lies at or after the first answer token.
        let loss_mask = (1..ids.len()).map(|target| target >= prompt_len).collect();
        stats.kept += 1;
        stats.truncated += usize::from(cut);
        Ok(Some(SftExample { ids, loss_mask, prompt_len }))
    }

    /// The generation prompt `[CLS] prompt dna [MASK]` for an example whose answer will be
    /// generated in at most `max_new_tokens` tokens, truncated by the same policy so that prompt
    /// plus answer fit the context; `None` when it must be dropped.
    ///
    /// # Shapes
    /// - dna: `[n_dna]` → `[<= context - max_new_tokens]`
    pub fn generation_prompt(&self, dna: &[u32], max_new_tokens: usize) -> Option<Vec<u32>> {
        let (dna, _) = self.fit(dna, max_new_tokens)?;
        (!dna.is_empty()).then(|| self.prefix(dna))
    }
}

/// A right-padded batch of SFT examples as an [`LmBatch`] (inputs `ids[..n-1]`, targets
/// `ids[1..]`), whose `mask` is each example's `loss_mask` and 0 on padding, so
/// `masked_cross_entropy_sum` trains on answers and `[SEP]` only and `units()` counts them.
/// `tokens` counts the real input tokens.
///
/// # Shapes
/// - examples: `[batch]` of ids `[n_i]` → `LmBatch` `[batch, max_i n_i - 1]`
pub fn sft_batch(examples: &[&SftExample]) -> LmBatch {
    let seq = examples.iter().map(|e| e.ids.len()).max().unwrap_or(1).saturating_sub(1).max(1);
    let batch = examples.len();
    let mut inputs = vec![PAD_ID as i64; batch * seq];
    let mut targets = vec![PAD_ID as i64; batch * seq];
    let mut mask = vec![0.0f32; batch * seq];
    let mut tokens = 0;
    for (b, e) in examples.iter().enumerate() {
        for t in 0..e.ids.len().saturating_sub(1) {
            let i = b * seq + t;
            inputs[i] = e.ids[t] as i64;
            targets[i] = e.ids[t + 1] as i64;
            mask[i] = if e.loss_mask[t] { 1.0 } else { 0.0 };
            tokens += 1;
        }
    }
    LmBatch { batch, seq, inputs, targets, mask, tokens }
}

/// Read a (replicated) label from generated tokens (the answer only, without the prompt).
///
/// Returns the class index of the FIRST generated token within `label_ids` (`None` when the
/// output is empty or starts with anything else: an invalid answer), and the consistency: the
/// fraction of the replicas, i.e. the tokens before the first `[SEP]` (at most the
/// `max_new_tokens` the caller allowed, normally `replicate`), that equal the first. 0.0 when
/// invalid. Omni-DNA's own reader takes the first digit after `[MASK]`
/// (`src/multitask_sft/inference_sft.py`), i.e. the first replica.
pub fn parse_label(generated: &[u32], label_ids: &[u32]) -> (Option<usize>, f64) {
    let replicas = generated.iter().position(|&id| id == SEP_ID).map_or(generated, |end| &generated[..end]);
    let Some(&first) = replicas.first() else {
        return (None, 0.0);
    };
    let Some(class) = label_ids.iter().position(|&id| id == first) else {
        return (None, 0.0);
    };
    let agree = replicas.iter().filter(|&&id| id == first).count();
    (Some(class), agree as f64 / replicas.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: u32 = 40;
    const LABEL_0: u32 = 50;
    const LABEL_1: u32 = 51;

    fn format(replicate: usize, context: usize, truncation: Truncation) -> SftFormat {
        SftFormat::new(vec![TASK], replicate, context, truncation).expect("format")
    }

    #[test]
    fn sft_mask_covers_exactly_the_answer_and_sep() {
        let mut stats = SftStats::default();
        let e = format(1, 32, Truncation::Drop).example(&[10, 11, 12], &[LABEL_1], &mut stats).unwrap().unwrap();
        assert_eq!(e.ids, vec![CLS_ID, TASK, 10, 11, 12, MASK_ID, LABEL_1, SEP_ID]);
        assert_eq!(e.prompt_len, 6);
        assert_eq!(e.loss_mask, vec![false, false, false, false, false, true, true]);
        let supervised: Vec<u32> = (0..e.loss_mask.len()).filter(|&t| e.loss_mask[t]).map(|t| e.ids[t + 1]).collect();
        assert_eq!(supervised, vec![LABEL_1, SEP_ID]);
        assert_eq!(stats, SftStats { kept: 1, truncated: 0, dropped: 0 });
    }

    #[test]
    fn sft_replication_writes_the_answer_k_times() {
        let mut stats = SftStats::default();
        let e = format(10, 64, Truncation::Drop).example(&[10, 11], &[LABEL_0], &mut stats).unwrap().unwrap();
        let answer = &e.ids[e.prompt_len..];
        assert_eq!(answer.len(), 11);
        assert!(answer[..10].iter().all(|&id| id == LABEL_0));
        assert_eq!(answer[10], SEP_ID);
        assert_eq!(e.loss_mask.iter().filter(|&&m| m).count(), 11);
        let two = format(3, 64, Truncation::Drop).example(&[10], &[60, 61], &mut stats).unwrap().unwrap();
        assert_eq!(&two.ids[two.prompt_len..], &[60, 61, 60, 61, 60, 61, SEP_ID]);
    }

    #[test]
    fn sft_truncation_policies_keep_the_answer_and_are_counted() {
        let dna: Vec<u32> = (10..30).collect(); // 20 tokens
        // context 12 = [CLS] TASK + 6 DNA + [MASK] + 2 labels + [SEP]
        let mut stats = SftStats::default();
        let left = format(2, 12, Truncation::DnaLeft).example(&dna, &[LABEL_0], &mut stats).unwrap().unwrap();
        assert_eq!(left.ids, vec![CLS_ID, TASK, 24, 25, 26, 27, 28, 29, MASK_ID, LABEL_0, LABEL_0, SEP_ID]);
        let right = format(2, 12, Truncation::DnaRight).example(&dna, &[LABEL_0], &mut stats).unwrap().unwrap();
        assert_eq!(right.ids, vec![CLS_ID, TASK, 10, 11, 12, 13, 14, 15, MASK_ID, LABEL_0, LABEL_0, SEP_ID]);
        assert_eq!(format(2, 12, Truncation::Drop).example(&dna, &[LABEL_0], &mut stats).unwrap(), None);
        // Fits exactly: not truncated.
        let fits = format(2, 12, Truncation::Drop).example(&dna[..6], &[LABEL_0], &mut stats).unwrap().unwrap();
        assert_eq!(fits.ids.len(), 12);
        // An answer that leaves no room for DNA is dropped whatever the policy.
        assert_eq!(format(8, 12, Truncation::DnaLeft).example(&dna, &[LABEL_0], &mut stats).unwrap(), None);
        assert_eq!(stats, SftStats { kept: 3, truncated: 2, dropped: 2 });
        assert_eq!(format(2, 12, Truncation::DnaLeft).generation_prompt(&dna, 3).unwrap(), vec![CLS_ID, TASK, 24, 25, 26, 27, 28, 29, MASK_ID]);
    }

    #[test]
    fn sft_rejects_bad_formats_and_examples() {
        assert_eq!(SftFormat::new(vec![], 0, 10, Truncation::Drop), Err(SftError::ReplicateZero));
        assert_eq!(SftFormat::new(vec![TASK], 1, 5, Truncation::Drop), Err(SftError::ContextTooSmall { context: 5, prompt: 1, needed: 6 }));
        let f = format(1, 16, Truncation::Drop);
        let mut stats = SftStats::default();
        assert_eq!(f.example(&[], &[LABEL_0], &mut stats), Err(SftError::EmptyDna));
        assert_eq!(f.example(&[10], &[], &mut stats), Err(SftError::EmptyAnswer));
    }

    #[test]
    fn sft_batch_masks_prompts_and_padding() {
        let f = format(2, 32, Truncation::Drop);
        let mut stats = SftStats::default();
        let long = f.example(&[10, 11, 12, 13], &[LABEL_1], &mut stats).unwrap().unwrap(); // 10 ids
        let short = f.example(&[10], &[LABEL_0], &mut stats).unwrap().unwrap(); // 7 ids
        let batch = sft_batch(&[&long, &short]);
        assert_eq!((batch.batch, batch.seq), (2, 9));
        assert_eq!(batch.tokens, 9 + 6);
        assert_eq!(batch.units(), 6.0); // 2 labels + [SEP] per example
        let row = |b: usize| &batch.mask[b * 9..(b + 1) * 9];
        assert_eq!(row(0), &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(row(1), &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        for t in 6..9 {
            assert_eq!(batch.inputs[9 + t], PAD_ID as i64);
            assert_eq!(batch.mask[9 + t], 0.0);
        }
        assert_eq!(&batch.targets[9 + 3..9 + 6], &[LABEL_0 as i64, LABEL_0 as i64, SEP_ID as i64]);
    }

    #[test]
    fn parse_label_reads_the_first_token_and_replica_agreement() {
        let labels = [LABEL_0, LABEL_1];
        let out = [LABEL_1, LABEL_1, LABEL_0, LABEL_1, SEP_ID, LABEL_0];
        assert_eq!(parse_label(&out, &labels), (Some(1), 0.75));
        assert_eq!(parse_label(&[LABEL_0; 10], &labels), (Some(0), 1.0));
        assert_eq!(parse_label(&[], &labels), (None, 0.0));
        assert_eq!(parse_label(&[SEP_ID, LABEL_0], &labels), (None, 0.0));
        assert_eq!(parse_label(&[12, LABEL_0, LABEL_0], &labels), (None, 0.0));
    }
}
