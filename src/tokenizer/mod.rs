//! DNA byte-pair-encoding tokenizer on top of Hugging Face `tokenizers`.
//!
//! The on-disk format is the Hugging Face `tokenizer.json`, so a tokenizer trained here loads in
//! Python (`tokenizers.Tokenizer.from_file`, `PreTrainedTokenizerFast(tokenizer_file=...)`), and
//! a released BPE tokenizer (e.g. Omni-DNA's, 4096 entries) loads here if it encodes DNA the
//! way gfm needs; [`DnaTokenizer::from_file`] checks that by behaviour (`validate.rs`: BPE, the
//! special ids, no normalizer or pre-tokenizer that changes DNA, deterministic, a probe encoded
//! into base tokens) and names the component at fault.
//!
//! Conventions (the project's; DNABERT-2 uses the same special ids):
//! - five special tokens with fixed ids: `[UNK]`=0, `[CLS]`=1, `[SEP]`=2, `[PAD]`=3, `[MASK]`=4;
//! - the BPE alphabet is exactly `A`, `C`, `G`, `T`; any other base (e.g. `N`) becomes `[UNK]`;
//! - no normalizer and no pre-tokenizer: the tokenizer is case-sensitive and a sequence is one
//!   word, so callers (this module included) upper-case DNA before encoding;
//! - a `TemplateProcessing` post-processor wraps each sequence as `[CLS] … [SEP]` and a `Fuse`
//!   decoder joins tokens without spaces, so Python's `encode`/`decode` behave like ours.
//!   Merges are saved in the list form of `tokenizers` >= 0.20 (older Python releases can't read it).

pub mod expand;
pub mod text;
mod validate;

pub use validate::PROBE;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokenizers::decoders::fuse::Fuse;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// Id of `[UNK]`: any base outside the BPE alphabet (N and other IUPAC codes).
pub const UNK_ID: u32 = 0;
/// Id of `[CLS]`: first token of every wrapped sequence.
pub const CLS_ID: u32 = 1;
/// Id of `[SEP]`: last token of every wrapped sequence.
pub const SEP_ID: u32 = 2;
/// Id of `[PAD]`: batch padding.
pub const PAD_ID: u32 = 3;
/// Id of `[MASK]`: masked-language-model corruption.
pub const MASK_ID: u32 = 4;

/// The special tokens in id order; `SPECIAL_TOKENS[i]` has id `i`.
pub const SPECIAL_TOKENS: [&str; 5] = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"];

/// Training text is cut into pieces of at most this many bases. BPE merges never cross a piece
/// boundary, and the trainer's cost per merge is the total length of the pieces holding the
/// merged pair, so short pieces keep training on Mbp corpora to seconds (see `train`).
pub const TRAIN_CHUNK_BP: usize = 1_000;

/// Smallest useful vocabulary: the five specials plus A, C, G, T.
pub const MIN_VOCAB_SIZE: usize = SPECIAL_TOKENS.len() + 4;

/// Errors from training, loading, saving or running the DNA tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{path}: the tokenizers library failed on this file ({message}); it is not a tokenizer gfm can use: train one with gfm (the [tokenizer] section) or fix the file")]
    LibraryPanic { path: PathBuf, message: String },
    #[error("cannot read tokenizer file {path}: {cause}; check the path")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not a valid Hugging Face tokenizer.json ({cause}); point to the tokenizer.json written by `gfm` or shipped with the model")]
    Parse {
        path: PathBuf,
        cause: tokenizers::Error,
    },
    #[error("{path}: special token {token} {}, but gfm needs [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4; retrain the tokenizer or use one with these ids", .found.map_or("is not in the vocabulary".to_string(), |id| format!("has id {id}")))]
    SpecialId {
        path: PathBuf,
        token: &'static str,
        found: Option<u32>,
    },
    #[error("{path}: base {base} has no token of its own, so DNA cannot be encoded without [UNK]; use a tokenizer whose vocabulary contains A, C, G and T")]
    MissingBase { path: PathBuf, base: char },
    #[error("{path}: an unknown base is dropped instead of becoming [UNK] (the BPE model has no unk_token); set \"unk_token\": \"[UNK]\" in the model section")]
    DropsUnknown { path: PathBuf },
    #[error("{path}: the tokenizer model is {model}, not BPE, so DNA is not split into base tokens (a WordPiece or WordLevel model makes a long sequence one [UNK]); {fix}")]
    NotBpe { path: PathBuf, model: String, fix: &'static str },
    #[error("{path}: the {component} changes DNA before the model sees it ({probe:?} becomes {got:?}), so bases no longer match the vocabulary and become [UNK]; {fix}")]
    AltersDna { path: PathBuf, component: String, probe: &'static str, got: String, fix: &'static str },
    #[error("{path}: the {component} gives different ids for the same DNA on every call; {fix}")]
    Nondeterministic { path: PathBuf, component: String, fix: &'static str },
    #[error("{path}: the DNA probe {probe} encodes (model {model}) as [{got}], which does not spell the probe's bases with [UNK] only for N; {fix}")]
    ProbeMismatch { path: PathBuf, probe: &'static str, got: String, model: String, fix: &'static str },
    #[error("{path} has {tokens} tokens but the model beside it has only {rows} embedding rows, so the highest ids have no embedding; use the tokenizer the model was trained with")]
    TooLargeForModel { path: PathBuf, tokens: usize, rows: usize },
    #[error("cannot write tokenizer file {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot serialise the tokenizer: {0}")]
    Serialize(tokenizers::Error),
    #[error("vocab_size {requested} is too small: it must be at least {MIN_VOCAB_SIZE} (5 special tokens + A, C, G, T)")]
    VocabTooSmall { requested: usize },
    #[error("the training sequences contain no A/C/G/T bases; pass the FASTA records to train on")]
    EmptyCorpus,
    #[error("BPE training failed: {0}")]
    Train(tokenizers::Error),
    #[error("DNA input has a non-ASCII byte 0x{byte:02x} at position {position}; pass raw bases (read them with data::read_fasta)")]
    NonAscii { position: usize, byte: u8 },
    #[error("encoding failed: {0}")]
    Encode(tokenizers::Error),
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    UnknownId { id: u32, vocab_size: usize },
}

/// A BPE tokenizer for DNA with the fixed special ids above.
#[derive(Debug, Clone)]
pub struct DnaTokenizer {
    inner: Tokenizer,
}

impl DnaTokenizer {
    /// Train BPE on DNA sequences. `vocab_size` counts every token, the 5 specials included.
    ///
    /// Sequences are upper-cased, split at every non-ACGT byte (so the alphabet is exactly
    /// A, C, G, T), and cut into pieces of at most [`TRAIN_CHUNK_BP`] bases. Training is
    /// deterministic: the same sequences give the same `tokenizer.json`. The vocabulary can end
    /// up smaller than `vocab_size` when the corpus has too few distinct pairs.
    pub fn train<'a>(
        seqs: impl Iterator<Item = &'a [u8]>,
        vocab_size: usize,
    ) -> Result<Self, TokenizerError> {
        if vocab_size < MIN_VOCAB_SIZE {
            return Err(TokenizerError::VocabTooSmall {
                requested: vocab_size,
            });
        }
        let pieces = training_pieces(seqs, TRAIN_CHUNK_BP);
        if pieces.is_empty() {
            return Err(TokenizerError::EmptyCorpus);
        }
        let specials = SPECIAL_TOKENS
            .iter()
            .map(|t| AddedToken::from(*t, true))
            .collect::<Vec<_>>();
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(vocab_size)
            .min_frequency(0)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(['A', 'C', 'G', 'T'].into_iter().collect())
            .build()
            .into();
        let model = BPE::builder()
            .unk_token(SPECIAL_TOKENS[UNK_ID as usize].to_string())
            .build()
            .map_err(TokenizerError::Train)?;
        let mut inner = Tokenizer::new(model);
        inner
            .train(&mut trainer, pieces.iter())
            .map_err(TokenizerError::Train)?;
        inner.with_post_processor(Some(cls_sep_template()?));
        inner.with_decoder(Some(Fuse::new()));
        let tok = Self { inner };
        tok.validate(Path::new("<trained>"))?;
        Ok(tok)
    }

    /// Load a Hugging Face `tokenizer.json` and validate it before any use: BPE, special ids,
    /// A/C/G/T tokens, DNA unchanged by normalizer and pre-tokenizer, deterministic, and
    /// [`PROBE`] encoded into base tokens (see `validate.rs`). Every foreign tokenizer gfm reads
    /// comes through here.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let text = std::fs::read_to_string(path).map_err(|cause| TokenizerError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        // The `tokenizers` crate panics on some inconsistent files (e.g. a BPE whose
        // `continuing_subword_prefix` does not match its merges) instead of returning an error;
        // a user's file must give a message, not a crash, so parsing and the behaviour checks
        // run under `library_panic::catch` (`catch_unwind`).
        let load = || -> Result<Self, TokenizerError> {
            let inner = Tokenizer::from_str(&text).map_err(|cause| TokenizerError::Parse { path: path.to_path_buf(), cause })?;
            let tok = Self { inner };
            tok.validate(path)?;
            Ok(tok)
        };
        crate::library_panic::catch(load)
            .unwrap_or_else(|message| Err(TokenizerError::LibraryPanic { path: path.to_path_buf(), message }))
    }

    /// Write the pretty-printed `tokenizer.json`: to `<path>.tmp` first, then renamed over
    /// `path`, so a crash never leaves a half-written file. Creates missing parent directories.
    pub fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        let text = self
            .inner
            .to_string(true)
            .map_err(TokenizerError::Serialize)?;
        let write_err = |cause| TokenizerError::Write {
            path: path.to_path_buf(),
            cause,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    /// Token ids of one DNA sequence, without special tokens. Lower case is upper-cased first;
    /// bases outside the vocabulary's alphabet (N, R, Y, ...) become [`UNK_ID`], one per base.
    /// The whole sequence is one BPE word; for genomes use `data::make_windows`, which encodes
    /// in 10 kbp pieces and in parallel.
    ///
    /// # Shapes
    /// `seq`: `[bases]` ASCII → `[tokens]`, with `tokens <= bases`.
    pub fn encode_dna(&self, seq: &[u8]) -> Result<Vec<u32>, TokenizerError> {
        let text = upper_ascii(seq)?;
        let encoding = self
            .inner
            .encode_fast(text.as_str(), false)
            .map_err(TokenizerError::Encode)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Encode several sequences in parallel (the library's thread pool); same ids as calling
    /// [`Self::encode_dna`] on each.
    pub fn encode_dna_batch(&self, seqs: &[&[u8]]) -> Result<Vec<Vec<u32>>, TokenizerError> {
        let texts = seqs
            .iter()
            .map(|s| upper_ascii(s))
            .collect::<Result<Vec<_>, _>>()?;
        let encodings = self
            .inner
            .encode_batch_fast(texts, false)
            .map_err(TokenizerError::Encode)?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// `[CLS] encode_dna(seq) [SEP]`. Built here rather than by the file's post-processor, so a
    /// loaded `tokenizer.json` without the template still gives the same ids.
    ///
    /// # Shapes
    /// `seq`: `[bases]` → `[tokens + 2]`.
    pub fn encode_wrapped(&self, seq: &[u8]) -> Result<Vec<u32>, TokenizerError> {
        let body = self.encode_dna(seq)?;
        let mut ids = Vec::with_capacity(body.len() + 2);
        ids.push(CLS_ID);
        ids.extend_from_slice(&body);
        ids.push(SEP_ID);
        Ok(ids)
    }

    /// Text of `ids`, special tokens included (e.g. `[CLS]ACGT[UNK]A[SEP]`). Tokens are joined
    /// without separators whatever decoder the file names, since DNA tokens are plain bases.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let vocab_size = self.vocab_size();
        let mut text = String::new();
        for &id in ids {
            let token = self
                .inner
                .id_to_token(id)
                .ok_or(TokenizerError::UnknownId { id, vocab_size })?;
            text.push_str(&token);
        }
        Ok(text)
    }

    /// Load `path` ([`Self::from_file`]) for a model with `rows` embedding rows: every id the
    /// tokenizer can emit must have a row.
    pub fn from_file_for_model(path: &Path, rows: usize) -> Result<Self, TokenizerError> {
        let tok = Self::from_file(path)?;
        if tok.vocab_size() > rows {
            return Err(TokenizerError::TooLargeForModel { path: path.to_path_buf(), tokens: tok.vocab_size(), rows });
        }
        Ok(tok)
    }

    /// Number of ids, added tokens included (the embedding table needs this many rows).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of `token`, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token of `id`, if `id` is in the vocabulary.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The underlying Hugging Face tokenizer (for vocabulary expansion and export).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// `[CLS] $A [SEP]` for one sequence and `[CLS] $A [SEP] $B [SEP]` for a pair (BERT layout).
fn cls_sep_template() -> Result<TemplateProcessing, TokenizerError> {
    let (cls, sep) = (
        SPECIAL_TOKENS[CLS_ID as usize],
        SPECIAL_TOKENS[SEP_ID as usize],
    );
    let build = || -> Result<TemplateProcessing, Box<dyn std::error::Error + Send + Sync>> {
        Ok(TemplateProcessing::builder()
            .try_single(format!("{cls} $A {sep}"))?
            .try_pair(format!("{cls} $A {sep} $B:1 {sep}:1"))?
            .special_tokens(vec![(cls, CLS_ID), (sep, SEP_ID)])
            .build()?)
    };
    build().map_err(TokenizerError::Train)
}

/// Upper-case ASCII DNA into a `String`, rejecting non-ASCII bytes.
fn upper_ascii(seq: &[u8]) -> Result<String, TokenizerError> {
    if let Some(position) = seq.iter().position(|b| !b.is_ascii()) {
        return Err(TokenizerError::NonAscii {
            position,
            byte: seq[position],
        });
    }
    Ok(seq
        .iter()
        .map(|b| char::from(b.to_ascii_uppercase()))
        .collect())
}

/// Upper-case, split at non-ACGT bytes and cut into pieces of at most `chunk_bp` bases.
///
/// Pieces are strings because the trainer counts words as `&str`.
fn training_pieces<'a>(seqs: impl Iterator<Item = &'a [u8]>, chunk_bp: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    for seq in seqs {
        let upper = seq.to_ascii_uppercase();
        for run in upper.split(|b| !matches!(b, b'A' | b'C' | b'G' | b'T')) {
            for chunk in run.chunks(chunk_bp.max(1)) {
                if !chunk.is_empty() {
                    pieces.push(chunk.iter().map(|&b| char::from(b)).collect());
                }
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests;
