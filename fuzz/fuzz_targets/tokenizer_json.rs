//! `tokenizer.json`: the DNA tokenizer loader and its validation (`DnaTokenizer::from_file`,
//! `from_file_for_model`) and the DNA2Text text tokenizer loader.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::tokenizer::text::TextTokenizer;
use gfm::tokenizer::DnaTokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // gfm catches the panics the `tokenizers` crate raises on some files (gfm::library_panic)
    // and returns a typed error; libfuzzer-sys's hook would abort on those caught panics, so it
    // is replaced by a silent one. A panic that escapes gfm still aborts: libfuzzer-sys wraps
    // every input in catch_unwind and aborts when it unwinds out of the target.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
    let path = common::write("tokenizer.json", data);
    let _ = DnaTokenizer::from_file(&path);
    let _ = DnaTokenizer::from_file_for_model(&path, 64);
    let _ = TextTokenizer::from_file(&path);
});
