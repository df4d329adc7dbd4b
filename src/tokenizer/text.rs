//! A byte-level BPE for free-text answers (DNA2Func), and its vocabulary expansion into the DNA
//! tokenizer (Omni-DNA §3.4 adds a 10,000-entry text vocabulary the same way).
//!
//! The text tokenizer is a GPT-2-style byte-level BPE (Hugging Face `tokenizers`: `ByteLevel`
//! pre-tokenizer without a prefix space, `ByteLevel` decoder, `BpeTrainer` seeded with all 256
//! byte symbols), so any string encodes without `[UNK]` and decodes back exactly. It is trained on
//! the training answers only; the trainer stops early when no pair is left to merge, so the
//! vocabulary can be smaller than asked.
//!
//! [`expand_with_text`] appends every text token, written `[T]<token>` (e.g. `[T]Ġdisease`), to the
//! DNA tokenizer with `DnaTokenizer::add_tokens`: DNA ids and tokens are unchanged, and the
//! `[T]` prefix keeps the new tokens from colliding with DNA BPE tokens or ever matching inside
//! upper-case DNA. [`TextVocab`] maps between the two id spaces.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::Tokenizer;

use super::expand::ExpandError;
use super::DnaTokenizer;

/// Prefix of text tokens inside the DNA tokenizer's vocabulary.
pub const TEXT_PREFIX: &str = "[T]";

/// Byte-level BPE starts from one symbol per byte.
pub const BYTE_ALPHABET: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum TextTokenizerError {
    #[error("text vocab_size {requested} is too small: the byte-level alphabet alone has {BYTE_ALPHABET} symbols; use at least {}", BYTE_ALPHABET + 1)]
    VocabTooSmall { requested: usize },
    #[error("no training text: every answer is empty")]
    EmptyCorpus,
    #[error("text BPE training failed: {0}")]
    Train(tokenizers::Error),
    #[error("text encoding failed: {0}")]
    Encode(tokenizers::Error),
    #[error("cannot read text tokenizer {path}: {cause}")]
    Read { path: PathBuf, cause: String },
    #[error("cannot write text tokenizer {path}: {cause}")]
    Write { path: PathBuf, cause: String },
    #[error(transparent)]
    Expand(#[from] ExpandError),
}

/// The answer tokenizer; ids `0..vocab_size` are its own, not the model's (see [`TextVocab`]).
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

fn byte_level() -> ByteLevel {
    // No prefix space: an answer's first word has no leading 'Ġ', so decode(encode(s)) == s.
    ByteLevel::new(false, true, true)
}

impl TextTokenizer {
    /// Train on `texts` (deterministic: the same texts give the same vocabulary).
    pub fn train(texts: &[&str], vocab_size: usize) -> Result<Self, TextTokenizerError> {
        if vocab_size <= BYTE_ALPHABET {
            return Err(TextTokenizerError::VocabTooSmall { requested: vocab_size });
        }
        if texts.iter().all(|t| t.is_empty()) {
            return Err(TextTokenizerError::EmptyCorpus);
        }
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(vocab_size)
            .min_frequency(0)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build()
            .into();
        let mut inner = Tokenizer::new(BPE::default());
        inner.with_pre_tokenizer(Some(byte_level()));
        inner.with_decoder(Some(byte_level())); // the same type decodes byte symbols
        inner.train(&mut trainer, texts.iter()).map_err(TextTokenizerError::Train)?;
        Ok(Self { inner })
    }

    /// Load a `tokenizer.json` written by [`Self::save`].
    pub fn from_file(path: &Path) -> Result<Self, TextTokenizerError> {
        let err = |cause: String| TextTokenizerError::Read { path: path.to_path_buf(), cause };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        // The `tokenizers` crate panics on some inconsistent files (see `crate::library_panic`).
        let inner = crate::library_panic::catch(|| Tokenizer::from_str(&text))
            .map_err(|message| err(format!("the tokenizers library failed on this file ({message})")))?
            .map_err(|e| err(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Write the Hugging Face `tokenizer.json` (loads in Python with `Tokenizer.from_file`).
    pub fn save(&self, path: &Path) -> Result<(), TextTokenizerError> {
        let err = |cause: String| TextTokenizerError::Write { path: path.to_path_buf(), cause };
        let text = self.inner.to_string(true).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| err(e.to_string()))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Text-token ids of `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TextTokenizerError> {
        let e = self.inner.encode_fast(text, false).map_err(TextTokenizerError::Encode)?;
        Ok(e.get_ids().to_vec())
    }

    /// The string of text-token ids (bytes that do not form UTF-8 become U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TextTokenizerError> {
        self.inner.decode(ids, false).map_err(TextTokenizerError::Encode)
    }

    /// Token strings in id order.
    pub fn tokens(&self) -> Vec<String> {
        (0..self.vocab_size() as u32).filter_map(|id| self.inner.id_to_token(id)).collect()
    }
}

/// Where the text tokens sit in the expanded DNA vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextVocab {
    /// `model_ids[text_id]`: the DNA-tokenizer (model) id of each text token.
    pub model_ids: Vec<u32>,
}

impl TextVocab {
    /// Model ids of text-token ids.
    pub fn to_model(&self, text_ids: &[u32]) -> Vec<u32> {
        text_ids.iter().map(|&t| self.model_ids[t as usize]).collect()
    }

    /// Text-token ids of model ids; ids that are not text tokens (DNA, specials, task tokens)
    /// are left out and counted in the second value.
    pub fn to_text(&self, model_ids: &[u32]) -> (Vec<u32>, usize) {
        let first = self.model_ids.first().copied().unwrap_or(0);
        let contiguous = self.model_ids.iter().enumerate().all(|(i, &m)| m == first + i as u32);
        let mut out = Vec::with_capacity(model_ids.len());
        let mut foreign = 0;
        for &m in model_ids {
            let text = if contiguous {
                m.checked_sub(first).filter(|&t| (t as usize) < self.model_ids.len())
            } else {
                self.model_ids.iter().position(|&x| x == m).map(|t| t as u32)
            };
            match text {
                Some(t) => out.push(t),
                None => foreign += 1,
            }
        }
        (out, foreign)
    }
}

/// Append every text token as `[T]<token>` to `tok` (existing ids never move; tokens already
/// present keep their id, so a resumed run's tokenizer gives the same map).
pub fn expand_with_text(tok: &mut DnaTokenizer, text: &TextTokenizer) -> Result<TextVocab, TextTokenizerError> {
    let names: Vec<String> = text.tokens().iter().map(|t| format!("{TEXT_PREFIX}{t}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(TextVocab { model_ids: tok.add_tokens(&refs)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Found by `cargo fuzz run tokenizer_json` (fuzz/README.md): a BPE whose
    /// `continuing_subword_prefix` ("##") does not match its merges makes the `tokenizers` crate
    /// panic while loading. `DnaTokenizer::from_file` already caught it; the text tokenizer
    /// loader now gives a typed error too.
    #[test]
    fn a_tokenizer_json_the_library_panics_on_is_a_typed_error() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/tokenizer_bpe_merge_panic.json"));
        let err = TextTokenizer::from_file(path).err().expect("inconsistent BPE");
        assert!(matches!(err, TextTokenizerError::Read { .. }), "{err}");
        assert!(err.to_string().contains("tokenizers library failed"), "{err}");
        assert!(crate::tokenizer::DnaTokenizer::from_file(path).is_err());
    }

    const ANSWERS: [&str; 5] = [
        "alzheimer's disease",
        "parkinson's disease",
        "amyotrophic lateral sclerosis",
        "non-small cell lung cancer",
        "clear cell renal cell carcinoma",
    ];

    fn dna_tokenizer() -> DnaTokenizer {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let seqs: Vec<Vec<u8>> = (0..8).map(|_| (0..600).map(|_| b"ACGT"[rng.random_range(0..4)]).collect()).collect();
        DnaTokenizer::train(seqs.iter().map(|s| s.as_slice()), 48).expect("dna train")
    }

    #[test]
    fn text_tokenizer_expansion_keeps_dna_ids() {
        let mut dna = dna_tokenizer();
        let old = dna.vocab_size();
        let old_tokens: Vec<String> = (0..old as u32).map(|id| dna.id_to_token(id).expect("id")).collect();
        let seq = b"ACGTTGCAACGGTACCAGTNACGT";
        let old_ids = dna.encode_dna(seq).expect("encode");

        let text = TextTokenizer::train(&ANSWERS, 320).expect("text train");
        let vocab = expand_with_text(&mut dna, &text).expect("expand");
        assert_eq!(vocab.model_ids.len(), text.vocab_size());
        assert_eq!(vocab.model_ids, (old as u32..(old + text.vocab_size()) as u32).collect::<Vec<_>>());
        assert_eq!(dna.vocab_size(), old + text.vocab_size());
        for (id, token) in old_tokens.iter().enumerate() {
            assert_eq!(dna.id_to_token(id as u32).as_deref(), Some(token.as_str()));
        }
        assert_eq!(dna.encode_dna(seq).expect("encode"), old_ids);

        // Saved and loaded, the expanded tokenizer still has the DNA ids and the text tokens.
        let dir = tempfile::tempdir().expect("tempdir");
        dna.save(&dir.path().join("tokenizer.json")).expect("save");
        let loaded = DnaTokenizer::from_file(&dir.path().join("tokenizer.json")).expect("load");
        assert_eq!(loaded.encode_dna(seq).expect("encode"), old_ids);
        let t0 = format!("{TEXT_PREFIX}{}", text.tokens()[0]);
        assert_eq!(loaded.token_to_id(&t0), Some(old as u32));
        // Expanding again (a resumed run) changes nothing.
        let mut again = loaded;
        assert_eq!(expand_with_text(&mut again, &text).expect("again"), vocab);
        assert_eq!(again.vocab_size(), old + text.vocab_size());
    }

    #[test]
    fn answers_round_trip_through_text_and_model_ids() {
        let mut dna = dna_tokenizer();
        let text = TextTokenizer::train(&ANSWERS, 400).expect("text train");
        let vocab = expand_with_text(&mut dna, &text).expect("expand");
        for answer in ANSWERS.iter().chain(&["an unseen answer: Ω", "cushing syndrome"]) {
            let ids = text.encode(answer).expect("encode");
            let model = vocab.to_model(&ids);
            assert!(model.iter().all(|&m| m as usize >= dna.vocab_size() - text.vocab_size()));
            let mut with_others = model.clone();
            with_others.extend([crate::tokenizer::SEP_ID, 5]);
            let (back, foreign) = vocab.to_text(&with_others);
            assert_eq!(foreign, 2);
            assert_eq!(back, ids);
            assert_eq!(text.decode(&back).expect("decode"), *answer);
        }
        // Trained answers become a few tokens each (the trainer merged whole words).
        assert!(text.encode("alzheimer's disease").expect("encode").len() <= 4);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("text_tokenizer.json");
        text.save(&path).expect("save");
        let loaded = TextTokenizer::from_file(&path).expect("load");
        assert_eq!(loaded.tokens(), text.tokens());
        assert!(matches!(TextTokenizer::train(&ANSWERS, 100), Err(TextTokenizerError::VocabTooSmall { .. })));
    }
}
