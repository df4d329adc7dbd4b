//! PNG images through `data::images::read_png` (grey conversion, square check, resize).
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::data::images::read_png;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("in.png", data);
    let _ = read_png(&path);
});
