//! MMIDAS `.npy` embedding tables through `mmidas::read_table_as` (explicit format and by
//! extension), with a one-id ids file where the format needs one.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::mmidas::config::TableFormat;
use gfm::mmidas::{read_table, read_table_as};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ids = common::write("ids.txt", b"g1\n");
    let path = common::write("in.npy", data);
    let _ = read_table_as(&path, Some(&ids), "fuzz", TableFormat::Npy, None);
    let _ = read_table(&path, Some(&ids), "fuzz");
});
