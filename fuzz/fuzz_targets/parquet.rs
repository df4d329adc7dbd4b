//! Parquet: MMIDAS `.parquet` embedding tables through `mmidas::read_table_as` (explicit format and by
//! extension), with a one-id ids file where the format needs one; and DNA2Func tables
//! (`data::dna2text::read_dna2text`).
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::mmidas::config::TableFormat;
use gfm::mmidas::{read_table, read_table_as};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // gfm catches the panics the `parquet` crate raises on some files (gfm::library_panic) and
    // returns a typed error; libfuzzer-sys's hook would abort on those caught panics, so it is
    // replaced by a silent one. A panic that escapes gfm still aborts: libfuzzer-sys wraps every
    // input in catch_unwind and aborts when it unwinds out of the target.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
    let ids = common::write("ids.txt", b"g1\n");
    let path = common::write("in.parquet", data);
    let _ = read_table_as(&path, Some(&ids), "fuzz", TableFormat::Parquet, None);
    let _ = read_table(&path, Some(&ids), "fuzz");
    let _ = gfm::data::dna2text::read_dna2text(&path);
});
