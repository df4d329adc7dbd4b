//! Pretrained checkpoint `config.json` (HF `OlmoForCausalLM` or `hf_olmo` layout) through
//! `export::read_config` and `export::source::read_config`.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("config.json", data);
    let dir = path.parent().expect("scratch dir");
    let _ = gfm::export::read_config(dir);
    let _ = gfm::export::source::read_config(dir);
});
