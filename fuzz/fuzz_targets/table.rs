//! Delimited tables: benchmark sequence tables (`data::benchmarks::read_table`, auto/tab/comma
//! delimiters, NT-style task and id columns) and MMIDAS CSV/TSV embedding tables.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::data::benchmarks::{read_table, Delimiter, TableSpec};
use gfm::mmidas::config::TableFormat;
use gfm::mmidas::read_table_as;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("in.tsv", data);
    let _ = read_table(&path, &TableSpec::default());
    let nt = TableSpec {
        task_column: Some("task".into()),
        id_column: Some("name".into()),
        labels: Some(vec!["0".into(), "1".into()]),
        delimiter: Delimiter::Tab,
        ..TableSpec::default()
    };
    let _ = read_table(&path, &nt);
    let comma = TableSpec {
        sequence_column: Some("sequence".into()),
        delimiter: Delimiter::Comma,
        ..TableSpec::default()
    };
    let _ = read_table(&path, &comma);
    let _ = read_table_as(&path, None, "fuzz", TableFormat::Delimited, None);
});
