//! Tests of the DNA tokenizer: fixed special ids, DNA conventions, file round trips and an
//! older released tokenizer.json layout.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random DNA with a repeated motif, so BPE has frequent pairs to merge.
fn corpus() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    (0..30)
        .map(|i| {
            let mut s: Vec<u8> = (0..1_500)
                .map(|_| b"ACGT"[rng.random_range(0..4)])
                .collect();
            s.extend_from_slice(&b"TATAAAGGCC".repeat(i % 5 + 1));
            s
        })
        .collect()
}

fn trained(vocab_size: usize) -> DnaTokenizer {
    let seqs = corpus();
    DnaTokenizer::train(seqs.iter().map(|s| s.as_slice()), vocab_size).expect("train")
}

#[test]
fn special_tokens_have_fixed_ids_and_vocab_size_is_respected() {
    let tok = trained(100);
    for (id, token) in SPECIAL_TOKENS.iter().enumerate() {
        assert_eq!(tok.token_to_id(token), Some(id as u32));
        assert_eq!(tok.id_to_token(id as u32).as_deref(), Some(*token));
    }
    assert_eq!(tok.vocab_size(), 100);
    assert_eq!(trained(MIN_VOCAB_SIZE).vocab_size(), MIN_VOCAB_SIZE);
}

#[test]
fn training_is_deterministic() {
    let a = trained(80).inner().to_string(false).expect("json");
    let b = trained(80).inner().to_string(false).expect("json");
    assert_eq!(a, b);
}

#[test]
fn encodings_follow_the_dna_conventions() {
    let tok = trained(100);
    let seq = b"ACGTTATAAAGGCCGATTACA";
    let ids = tok.encode_dna(seq).expect("encode");
    assert!(!ids.is_empty() && ids.iter().all(|&id| id >= 5));
    assert_eq!(
        tok.encode_dna(&seq.to_ascii_lowercase()).expect("lower"),
        ids
    );
    assert_eq!(
        tok.decode(&ids).expect("decode"),
        std::str::from_utf8(seq).expect("utf8")
    );

    let wrapped = tok.encode_wrapped(seq).expect("wrapped");
    assert_eq!(wrapped.first(), Some(&CLS_ID));
    assert_eq!(wrapped.last(), Some(&SEP_ID));
    assert_eq!(&wrapped[1..wrapped.len() - 1], ids.as_slice());
    // The saved post-processor wraps the same way (what Python's tokenizers does).
    let hf = tok
        .inner()
        .encode(std::str::from_utf8(seq).expect("utf8"), true)
        .expect("hf");
    assert_eq!(hf.get_ids(), wrapped.as_slice());

    assert_eq!(tok.encode_dna(b"N").expect("n"), vec![UNK_ID]);
    let with_n = tok.encode_dna(b"ACGTNNACGT").expect("n");
    assert_eq!(with_n.iter().filter(|&&id| id == UNK_ID).count(), 2);
    assert_eq!(
        tok.decode(&[CLS_ID, UNK_ID, SEP_ID]).expect("decode"),
        "[CLS][UNK][SEP]"
    );
    assert!(tok.decode(&[100_000]).is_err());
    assert!(matches!(
        tok.encode_dna("ACGé".as_bytes()),
        Err(TokenizerError::NonAscii { position: 3, .. })
    ));
}

#[test]
fn save_and_load_round_trip_gives_identical_encodings() {
    let tok = trained(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/tokenizer.json");
    tok.save(&path).expect("save");
    assert!(!dir.path().join("sub/tokenizer.json.tmp").exists());
    let loaded = DnaTokenizer::from_file(&path).expect("load");
    assert_eq!(loaded.vocab_size(), tok.vocab_size());
    for seq in corpus().iter().take(5) {
        assert_eq!(
            loaded.encode_wrapped(seq).expect("a"),
            tok.encode_wrapped(seq).expect("b")
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(json["model"]["type"], "BPE");
    assert_eq!(json["model"]["unk_token"], "[UNK]");
    assert_eq!(json["post_processor"]["type"], "TemplateProcessing");
    assert_eq!(json["decoder"]["type"], "Fuse");
    assert!(json["pre_tokenizer"].is_null() && json["normalizer"].is_null());
}

#[test]
fn loading_bad_files_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing_tokenizer.json");
    let err = DnaTokenizer::from_file(&missing).expect_err("missing");
    assert!(err.to_string().contains("missing_tokenizer.json"), "{err}");

    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"version\": \"1.0\", \"model\": ").expect("write");
    let err = DnaTokenizer::from_file(&corrupt).expect_err("corrupt");
    assert!(
        matches!(err, TokenizerError::Parse { .. }) && err.to_string().contains("corrupt.json")
    );

    // [PAD] renamed: the special-id check reports it.
    let text = trained(40)
        .inner()
        .to_string(true)
        .expect("json")
        .replace("[PAD]", "[PAX]");
    let renamed = dir.path().join("renamed.json");
    std::fs::write(&renamed, text).expect("write");
    let err = DnaTokenizer::from_file(&renamed).expect_err("renamed");
    assert!(
        matches!(
            err,
            TokenizerError::SpecialId {
                token: "[PAD]",
                found: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("renamed.json"));
}

/// A hand-written file in the layout of older released DNA BPE tokenizers (DNABERT-2 style): BPE
/// with legacy "A B" merge strings, a Whitespace pre-tokenizer and no decoder. The released
/// Omni-DNA tokenizer.json itself could not be read when this was written.
#[test]
fn loads_a_released_style_tokenizer_json() {
    let added: Vec<serde_json::Value> = SPECIAL_TOKENS
        .iter()
        .enumerate()
        .map(|(id, t)| {
            serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let step = |kind: &str, id: &str, type_id: u32| serde_json::json!({kind: {"id": id, "type_id": type_id}});
    let (cls, sep) = (
        step("SpecialToken", "[CLS]", 0),
        step("SpecialToken", "[SEP]", 0),
    );
    let (a, b) = (step("Sequence", "A", 0), step("Sequence", "B", 1));
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "decoder": null,
        "post_processor": {"type": "TemplateProcessing",
            "single": [cls.clone(), a.clone(), sep.clone()],
            "pair": [cls, a, sep, b, step("SpecialToken", "[SEP]", 1)],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
        "model": {"type": "BPE", "dropout": null, "unk_token": "[UNK]",
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false,
            "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4,
                      "A": 5, "C": 6, "G": 7, "T": 8, "TA": 9, "TATA": 10},
            "merges": ["T A", "TA TA"]}
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).expect("write");
    let tok = DnaTokenizer::from_file(&path).expect("load released layout");
    assert_eq!(tok.vocab_size(), 11);
    assert_eq!(
        tok.encode_dna(b"tataNC").expect("encode"),
        vec![10, UNK_ID, 6]
    );
    assert_eq!(
        tok.encode_wrapped(b"TA").expect("wrapped"),
        vec![CLS_ID, 9, SEP_ID]
    );
    assert_eq!(tok.decode(&[10, 6]).expect("decode"), "TATAC");
}

#[test]
fn bad_training_requests_are_refused() {
    let seqs = corpus();
    let err = DnaTokenizer::train(seqs.iter().map(|s| s.as_slice()), 8).expect_err("small");
    assert!(matches!(
        err,
        TokenizerError::VocabTooSmall { requested: 8 }
    ));
    let only_n: Vec<&[u8]> = vec![b"NNNN", b"nn"];
    assert!(matches!(
        DnaTokenizer::train(only_n.into_iter(), 64),
        Err(TokenizerError::EmptyCorpus)
    ));
}

#[test]
fn training_pieces_hold_only_acgt_and_respect_the_chunk_size() {
    let seqs: Vec<&[u8]> = vec![b"acgtNNacgtacgtRA", b"", b"GGGG-CC"];
    let pieces = training_pieces(seqs.into_iter(), 3);
    assert_eq!(
        pieces,
        ["ACG", "T", "ACG", "TAC", "GT", "A", "GGG", "G", "CC"]
    );
}

/// `tokenizer.json` text of a trained tokenizer after `edit`.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut json: serde_json::Value = serde_json::from_str(&trained(40).inner().to_string(false).expect("json")).expect("parse");
    edit(&mut json);
    json.to_string()
}

/// Load `text` as `<name>.json`; the refusal's message.
fn refusal(name: &str, text: &str) -> (TokenizerError, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.json"));
    std::fs::write(&path, text).expect("write");
    let err = DnaTokenizer::from_file(&path).expect_err(name);
    let msg = err.to_string();
    assert!(msg.contains(&format!("{name}.json")), "{msg}");
    (err, msg)
}

/// Case `tokenizer-lowercase-normalizer`: an upper-case vocabulary behind a `Lowercase`
/// normalizer made every base [UNK] and training went on.
#[test]
fn a_normalizer_that_changes_dna_is_refused_by_name() {
    let (err, msg) = refusal("lower", &edited(|j| j["normalizer"] = serde_json::json!({"type": "Lowercase"})));
    assert!(matches!(err, TokenizerError::AltersDna { .. }), "{msg}");
    assert!(msg.contains("normalizer Lowercase") && msg.contains("\"normalizer\": null"), "{msg}");
    let seq = serde_json::json!({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]});
    let (_, msg) = refusal("seq", &edited(|j| j["normalizer"] = seq));
    assert!(msg.contains("normalizer Sequence[NFD, Lowercase]"), "{msg}");
    // A normalizer that leaves upper-case DNA alone is harmless.
    let text = edited(|j| j["normalizer"] = serde_json::json!({"type": "NFC"}));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("nfc.json"), text).expect("write");
    assert!(DnaTokenizer::from_file(&dir.path().join("nfc.json")).is_ok());
}

/// Case `tokenizer-wordpiece-misleading-error`: a WordPiece model made each whole sequence one
/// [UNK], and the run stopped much later with "0 windows; lower the batch size".
#[test]
fn a_model_other_than_bpe_is_refused_by_name() {
    let vocab: serde_json::Map<String, serde_json::Value> = SPECIAL_TOKENS
        .iter()
        .chain(&["A", "C", "G", "T", "##A", "##C", "##G", "##T"])
        .enumerate()
        .map(|(i, t)| (t.to_string(), serde_json::json!(i)))
        .collect();
    let text = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    let (err, msg) = refusal("wordpiece", &text.to_string());
    assert!(matches!(err, TokenizerError::NotBpe { .. }), "{msg}");
    assert!(msg.contains("model is WordPiece") && msg.contains("leave `tokenizer.path` unset"), "{msg}");
}

#[test]
fn a_pre_tokenizer_dropout_or_vocabulary_that_garbles_dna_is_refused() {
    let byte_level = serde_json::json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
    let (err, msg) = refusal("bytelevel", &edited(|j| j["pre_tokenizer"] = byte_level));
    assert!(matches!(err, TokenizerError::AltersDna { .. }) && msg.contains("pre_tokenizer ByteLevel"), "{msg}");

    let (err, msg) = refusal("dropout", &edited(|j| j["model"]["dropout"] = serde_json::json!(0.3)));
    assert!(matches!(err, TokenizerError::Nondeterministic { .. }) && msg.contains("dropout"), "{msg}");

    // "C" given the id of "A": every C would come back as an A.
    let (err, msg) = refusal("shared_id", &edited(|j| j["model"]["vocab"]["C"] = j["model"]["vocab"]["A"].clone()));
    assert!(matches!(err, TokenizerError::ProbeMismatch { .. }) && msg.contains(PROBE), "{msg}");
}

#[test]
fn a_tokenizer_larger_than_the_models_embedding_table_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokenizer.json");
    trained(40).save(&path).expect("save");
    assert!(DnaTokenizer::from_file_for_model(&path, 40).is_ok());
    let err = DnaTokenizer::from_file_for_model(&path, 32).expect_err("too large");
    let msg = err.to_string();
    assert!(msg.contains("tokenizer.json") && msg.contains("40 tokens") && msg.contains("32 embedding rows"), "{msg}");
}

#[test]
fn a_file_the_tokenizers_library_panics_on_is_refused_with_a_message() {
    // A BPE whose continuing_subword_prefix does not match its merges makes the `tokenizers`
    // crate panic while loading; gfm must report it, not crash.
    let (err, msg) = refusal("prefix", &edited(|j| j["model"]["continuing_subword_prefix"] = serde_json::json!("##")));
    assert!(matches!(err, TokenizerError::LibraryPanic { .. }), "{msg}");
    assert!(msg.contains("prefix.json: the tokenizers library failed on this file") && msg.contains("out of bounds"), "{msg}");
}
