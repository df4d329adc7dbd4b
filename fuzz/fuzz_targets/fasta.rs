//! FASTA/FASTQ (plain or gzipped) through `data::read_fasta`, every ambiguity policy.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::data::{read_fasta, AmbiguityPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("in.fa", data);
    for policy in [
        AmbiguityPolicy::Unk,
        AmbiguityPolicy::Split,
        AmbiguityPolicy::Drop,
    ] {
        let _ = read_fasta(&path, policy, 0);
    }
    let _ = read_fasta(&path, AmbiguityPolicy::Split, 8);
});
