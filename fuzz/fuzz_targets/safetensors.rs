//! safetensors: the checkpoint-import header reader (`export::safetensors_file::read_header`,
//! then `read_tensor` on what it accepts) and the MMIDAS safetensors table reader.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::export::safetensors_file::{read_header, read_tensor};
use gfm::mmidas::config::TableFormat;
use gfm::mmidas::read_table_as;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("in.safetensors", data);
    if let Ok(headers) = read_header(&path) {
        for (name, h) in headers.iter().take(8) {
            let _ = read_tensor(name, h);
        }
    }
    let ids = common::write("ids.txt", b"g1\n");
    let _ = read_table_as(&path, Some(&ids), "fuzz", TableFormat::Safetensors, None);
});
