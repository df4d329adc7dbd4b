//! The one check every `tokenizer.json` passes before gfm uses it: trained here, given as
//! `tokenizer.path`, shipped beside `model.init_from`'s weights, read back on resume or export.
//!
//! A tokenizer gfm did not train can be a valid Hugging Face file and still turn DNA into
//! nonsense without any error: a `Lowercase` normalizer makes every base `[UNK]` for an
//! upper-case vocabulary, a WordPiece model turns a whole chromosome into one `[UNK]`, BPE
//! dropout gives other ids on every call. So the check is on behaviour, not on the file's
//! names (STYLE.md habit 13): the model must be BPE with an `unk_token`, the special tokens at
//! gfm's ids, the normalizer and pre-tokenizer must leave upper-case DNA as it is, two
//! encodings of the same input must agree, and [`PROBE`] must encode into tokens that spell its
//! bases back, with `[UNK]` only where it has `N`s.

use std::path::Path;

use serde_json::Value;
use tokenizers::{ModelWrapper, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
use tokenizers::{Model, NormalizedString};

use super::{DnaTokenizer, TokenizerError, SPECIAL_TOKENS, UNK_ID};

/// The DNA every tokenizer must encode exactly: all four bases in many contexts, and runs of the
/// unknown base `N` that must become `[UNK]`.
pub const PROBE: &str = "ACGTACGTNNACGTTGCAAGGCTTAGCATGCAAACCCGGGTTTNACGTATATCGCGAATTCCA";

/// The fix every refusal of a foreign tokenizer suggests.
const FIX: &str = "use a BPE tokenizer over the upper-case bases A, C, G, T with no normalizer, or leave `tokenizer.path` unset and let gfm train one";

impl DnaTokenizer {
    /// Check the invariants the rest of gfm relies on (module docs); `path` labels the errors.
    ///
    /// # Errors
    /// [`TokenizerError::NotBpe`], [`TokenizerError::SpecialId`], [`TokenizerError::MissingBase`],
    /// [`TokenizerError::DropsUnknown`], [`TokenizerError::AltersDna`],
    /// [`TokenizerError::Nondeterministic`] or [`TokenizerError::ProbeMismatch`], each naming
    /// `path`, the component at fault and the fix.
    pub(super) fn validate(&self, path: &Path) -> Result<(), TokenizerError> {
        let json: Value = self
            .inner
            .to_string(false)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        let ModelWrapper::BPE(bpe) = self.inner.get_model() else {
            return Err(TokenizerError::NotBpe { path: path.to_path_buf(), model: component(&json["model"]), fix: FIX });
        };
        if bpe.dropout.is_some_and(|p| p > 0.0) {
            return Err(TokenizerError::Nondeterministic {
                path: path.to_path_buf(),
                component: format!("model BPE with dropout {:?}", bpe.dropout),
                fix: "set \"dropout\": null in the model section",
            });
        }
        for (id, token) in SPECIAL_TOKENS.iter().enumerate() {
            let found = self.inner.token_to_id(token);
            if found != Some(id as u32) {
                return Err(TokenizerError::SpecialId { path: path.to_path_buf(), token, found });
            }
        }
        for base in ['A', 'C', 'G', 'T'] {
            if self.inner.token_to_id(&base.to_string()).is_none() {
                return Err(TokenizerError::MissingBase { path: path.to_path_buf(), base });
            }
        }
        // A BPE without unk_token silently drops unknown characters; probe with a byte that
        // no DNA vocabulary holds as a token.
        let dropped = self.inner.get_model().tokenize("\u{1}").map_err(TokenizerError::Encode)?;
        if dropped.is_empty() {
            return Err(TokenizerError::DropsUnknown { path: path.to_path_buf() });
        }
        self.check_pre_model_steps(path, &json)?;
        let ids = self.encode_dna(PROBE.as_bytes())?;
        let again = self.encode_dna(PROBE.as_bytes())?;
        if ids != again {
            return Err(TokenizerError::Nondeterministic {
                path: path.to_path_buf(),
                component: component(&json["model"]),
                fix: "encoding the same DNA twice gave different ids; remove any random option (dropout)",
            });
        }
        let spelled: String = ids
            .iter()
            .map(|&id| if id == UNK_ID { Some("N".to_string()) } else { self.inner.id_to_token(id) })
            .collect::<Option<_>>()
            .unwrap_or_default();
        // `fuse_unk` may make a run of N one [UNK]; either is a faithful encoding.
        if collapse_n(&spelled) != collapse_n(PROBE) {
            let tokens: Vec<String> =
                ids.iter().map(|&id| self.inner.id_to_token(id).unwrap_or_else(|| format!("<{id}>"))).collect();
            return Err(TokenizerError::ProbeMismatch {
                path: path.to_path_buf(),
                probe: PROBE,
                got: tokens.join(" "),
                model: component(&json["model"]),
                fix: FIX,
            });
        }
        Ok(())
    }

    /// The normalizer and pre-tokenizer must hand upper-case DNA to the model unchanged, as one
    /// piece or several that join back to it.
    fn check_pre_model_steps(&self, path: &Path, json: &Value) -> Result<(), TokenizerError> {
        let mut text = PROBE.to_string();
        if let Some(normalizer) = self.inner.get_normalizer() {
            let mut n = NormalizedString::from(PROBE);
            let changed = match normalizer.normalize(&mut n) {
                Ok(()) => n.get() != PROBE,
                Err(_) => true,
            };
            if changed {
                return Err(TokenizerError::AltersDna {
                    path: path.to_path_buf(),
                    component: format!("normalizer {}", component(&json["normalizer"])),
                    probe: PROBE,
                    got: n.get().to_string(),
                    fix: "remove it (\"normalizer\": null); gfm upper-cases DNA itself",
                });
            }
            text = n.get().to_string();
        }
        if let Some(pre) = self.inner.get_pre_tokenizer() {
            let mut p = PreTokenizedString::from(text.as_str());
            let joined = match pre.pre_tokenize(&mut p) {
                Ok(()) => p
                    .get_splits(OffsetReferential::Normalized, OffsetType::Char)
                    .iter()
                    .map(|(s, _, _)| *s)
                    .collect::<String>(),
                Err(e) => format!("<error: {e}>"),
            };
            if joined != text {
                return Err(TokenizerError::AltersDna {
                    path: path.to_path_buf(),
                    component: format!("pre_tokenizer {}", component(&json["pre_tokenizer"])),
                    probe: PROBE,
                    got: joined,
                    fix: "remove it (\"pre_tokenizer\": null); a DNA sequence is one word",
                });
            }
        }
        Ok(())
    }
}

/// `"type"` of a component in `tokenizer.json`, with its parts for a `Sequence`
/// (e.g. `Sequence[NFD, Lowercase]`).
fn component(v: &Value) -> String {
    let kind = v["type"].as_str().unwrap_or("(untyped)").to_string();
    let parts = ["normalizers", "pretokenizers"].iter().find_map(|k| v[*k].as_array());
    match parts {
        Some(parts) => format!("{kind}[{}]", parts.iter().map(component).collect::<Vec<_>>().join(", ")),
        None => kind,
    }
}

/// `s` with every run of `N` made one `N`.
fn collapse_n(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == 'N' && out.ends_with('N')) {
            out.push(c);
        }
    }
    out
}
