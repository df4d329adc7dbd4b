//! Vocabulary expansion: new whole tokens (task tokens such as `[TASK_H3K4me3]`, label tokens
//! such as `[LABEL_0]`, later text or image-code tokens) appended after a trained vocabulary.
//!
//! As Hugging Face `add_tokens` (which Omni-DNA's `extend_model_tokenizer` calls, Li et al. 2025
//! §3.3; Zehui127/Omni-DNA `src/utils.py`), every existing id keeps its token and new ids follow
//! the current vocabulary: `vocab_size, vocab_size + 1, …`. New tokens are "added tokens" in
//! `tokenizer.json`: matched whole before BPE runs and saved in its `added_tokens` list, so they
//! survive save and load. The model side is `crate::model::expand::expand_vocab`.
//!
//! A token made only of the bases `A C G T N` is refused: DNA is upper-cased before encoding, so
//! such a token would be cut out of every sequence that contains it and change DNA encodings.

use tokenizers::AddedToken;

use super::DnaTokenizer;

/// Why tokens could not be added or looked up.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error("cannot add an empty token; give every new token at least one character")]
    EmptyToken,
    #[error("new token {token:?} is made only of DNA bases, so it would be matched inside DNA sequences and change their encoding; use a bracketed name such as \"[{token}]\"")]
    DnaLikeToken { token: String },
    #[error("token {token:?} would get id {found}, not the next free id {expected}: the vocabulary has gaps in its ids; expand a tokenizer whose ids run 0..vocab_size")]
    NonContiguousId {
        token: String,
        expected: u32,
        found: u32,
    },
    #[error("token {token:?} is not in the vocabulary; add it first with DnaTokenizer::add_tokens")]
    UnknownToken { token: String },
}

/// True when `token` could occur inside upper-cased DNA (only `A C G T N`).
fn is_dna_like(token: &str) -> bool {
    token.bytes().all(|b| matches!(b, b'A' | b'C' | b'G' | b'T' | b'N'))
}

impl DnaTokenizer {
    /// Add whole tokens after the current vocabulary; returns the id of every requested token,
    /// in order. Tokens already in the vocabulary (model tokens or earlier additions) keep their
    /// id and add nothing, so calling this twice with the same tokens changes nothing the second
    /// time. The embedding table then needs [`Self::vocab_size`] rows
    /// (`crate::model::expand::expand_vocab`).
    ///
    /// # Shapes
    /// `tokens`: `[n]` → `[n]` ids; new ones are `old_vocab_size ..`.
    pub fn add_tokens(&mut self, tokens: &[&str]) -> Result<Vec<u32>, ExpandError> {
        // Check everything first, so a refused request leaves the vocabulary untouched.
        for &token in tokens {
            if token.is_empty() {
                return Err(ExpandError::EmptyToken);
            }
            if self.inner.token_to_id(token).is_none() && is_dna_like(token) {
                return Err(ExpandError::DnaLikeToken { token: token.to_string() });
            }
        }
        let mut ids = Vec::with_capacity(tokens.len());
        for &token in tokens {
            if let Some(id) = self.inner.token_to_id(token) {
                ids.push(id);
                continue;
            }
            // One at a time, so each new id can be checked against the next free one.
            let expected = self.vocab_size() as u32;
            self.inner.add_tokens(&[AddedToken::from(token.to_string(), false)]);
            let found = self
                .inner
                .token_to_id(token)
                .ok_or_else(|| ExpandError::UnknownToken { token: token.to_string() })?;
            if found != expected {
                return Err(ExpandError::NonContiguousId { token: token.to_string(), expected, found });
            }
            ids.push(found);
        }
        Ok(ids)
    }

    /// Ids of whole tokens (task, label or other added tokens, or any vocabulary entry), looked
    /// up exactly: no BPE, no upper-casing.
    ///
    /// # Shapes
    /// `tokens`: `[n]` → `[n]` ids.
    pub fn encode_tokens(&self, tokens: &[&str]) -> Result<Vec<u32>, ExpandError> {
        tokens
            .iter()
            .map(|&token| {
                self.inner
                    .token_to_id(token)
                    .ok_or_else(|| ExpandError::UnknownToken { token: token.to_string() })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn trained() -> DnaTokenizer {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let seqs: Vec<Vec<u8>> = (0..10)
            .map(|_| (0..800).map(|_| b"ACGT"[rng.random_range(0..4)]).collect())
            .collect();
        DnaTokenizer::train(seqs.iter().map(|s| s.as_slice()), 60).expect("train")
    }

    const NEW: [&str; 3] = ["[TASK_H3K4me3]", "[LABEL_0]", "[LABEL_1]"];

    #[test]
    fn expand_appends_new_ids_and_keeps_old_ones_through_save_and_load() {
        let mut tok = trained();
        let old = tok.vocab_size();
        let old_tokens: Vec<String> = (0..old as u32).map(|id| tok.id_to_token(id).expect("old id")).collect();
        let dna = b"ACGTTGCAACGGTACCAGTN";
        let old_dna = tok.encode_dna(dna).expect("encode");

        let ids = tok.add_tokens(&NEW).expect("add");
        let first = old as u32;
        assert_eq!(ids, vec![first, first + 1, first + 2]);
        assert_eq!(tok.vocab_size(), old + 3);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).expect("save");
        let loaded = DnaTokenizer::from_file(&path).expect("load");
        assert_eq!(loaded.vocab_size(), old + 3);
        for (id, token) in old_tokens.iter().enumerate() {
            assert_eq!(loaded.id_to_token(id as u32).as_deref(), Some(token.as_str()));
        }
        assert_eq!(loaded.encode_tokens(&NEW).expect("lookup"), ids);
        assert_eq!(loaded.encode_dna(dna).expect("encode"), old_dna);
        assert_eq!(loaded.decode(&ids).expect("decode"), NEW.concat());
    }

    #[test]
    fn expand_is_idempotent_for_present_tokens() {
        let mut tok = trained();
        let ids = tok.add_tokens(&NEW).expect("add");
        let size = tok.vocab_size();
        let again = tok.add_tokens(&["[LABEL_1]", "A", "[LABEL_0]", "[SEP]"]).expect("again");
        assert_eq!(again, vec![ids[2], tok.token_to_id("A").expect("A"), ids[1], crate::tokenizer::SEP_ID]);
        assert_eq!(tok.vocab_size(), size);
        let dup = tok.add_tokens(&["[LABEL_2]", "[LABEL_2]"]).expect("dup");
        assert_eq!(dup, vec![size as u32, size as u32]);
        assert_eq!(tok.vocab_size(), size + 1);
    }

    #[test]
    fn expand_refuses_dna_like_and_empty_tokens_and_lookup_names_unknown_ones() {
        let mut tok = trained();
        let size = tok.vocab_size();
        let refused = tok.add_tokens(&["[LABEL_0]", "GATTACANNN"]);
        assert!(matches!(refused, Err(ExpandError::DnaLikeToken { .. })));
        assert!(matches!(tok.add_tokens(&[""]), Err(ExpandError::EmptyToken)));
        assert_eq!(tok.vocab_size(), size);
        let err = tok.encode_tokens(&["[LABEL_9]"]).expect_err("unknown");
        assert!(err.to_string().contains("[LABEL_9]"), "{err}");
    }
}
