//! `tokenizer.json`: the DNA tokenizer loader and its validation (`DnaTokenizer::from_file`,
//! `from_file_for_model`) and the DNA2Text text tokenizer loader.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::tokenizer::text::TextTokenizer;
use gfm::tokenizer::DnaTokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("tokenizer.json", data);
    let _ = DnaTokenizer::from_file(&path);
    let _ = DnaTokenizer::from_file_for_model(&path, 64);
    let _ = TextTokenizer::from_file(&path);
});
