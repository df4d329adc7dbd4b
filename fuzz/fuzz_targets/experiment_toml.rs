//! Experiment TOML through `config::load_experiment` (parse, kind sections, presets, validation,
//! path resolution), with and without a `--set` override.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::config::load_experiment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("experiment.toml", data);
    let _ = load_experiment(&path, &[]);
    let _ = load_experiment(&path, &["train.seed=1".to_string()]);
});
