//! Nucleotide Transformer (NT) downstream tasks, revised release: tables with columns
//! `sequence, name, label, task`, all 18 tasks in one file or one file per task.

use std::collections::BTreeSet;
use std::path::Path;

use super::table::{read_table, Delimiter, Table, TableSpec};
use super::{BenchmarkError, LabelledSeq};
use crate::eval::Metric;

/// The 18 tasks of the revised NT benchmark and the metric the literature reports for each: MCC
/// for all 18 (Dalla-Torre et al. 2024, Nature Methods, Fig. 2a: mean MCC over 10-fold
/// cross-validation; `src/eval/published.toml` cites it). The original NT benchmark's papers
/// (HyenaDNA Table 4.2, Caduceus Table 2) used F1 for promoters and splice sites and accuracy for
/// `splice_sites_all`; those tasks hold different data. Names checked against
/// `nt_benchmark/revised_toy_subsample/train.tsv.gz`, which holds all 18.
pub const NT_TASKS: &[(&str, Metric)] = &[
    ("H2AFZ", Metric::Mcc),
    ("H3K27ac", Metric::Mcc),
    ("H3K27me3", Metric::Mcc),
    ("H3K36me3", Metric::Mcc),
    ("H3K4me1", Metric::Mcc),
    ("H3K4me2", Metric::Mcc),
    ("H3K4me3", Metric::Mcc),
    ("H3K9ac", Metric::Mcc),
    ("H3K9me3", Metric::Mcc),
    ("H4K20me1", Metric::Mcc),
    ("enhancers", Metric::Mcc),
    ("enhancers_types", Metric::Mcc),
    ("promoter_all", Metric::Mcc),
    ("promoter_no_tata", Metric::Mcc),
    ("promoter_tata", Metric::Mcc),
    ("splice_sites_acceptors", Metric::Mcc),
    ("splice_sites_all", Metric::Mcc),
    ("splice_sites_donors", Metric::Mcc),
];

/// The Genomic Benchmarks datasets a GB suite runs: the eight that HyenaDNA (Nguyen et al. 2023)
/// and Caduceus (Schiff et al. 2024) report, plus `drosophila_enhancers_stark` (in the GB
/// repository's `datasets/`, left out of those papers' tables).
pub const GB_TASKS: [&str; 9] = [
    "dummy_mouse_enhancers_ensembl",
    "demo_coding_vs_intergenomic_seqs",
    "demo_human_or_worm",
    "human_enhancers_cohn",
    "human_enhancers_ensembl",
    "human_ensembl_regulatory",
    "human_nontata_promoters",
    "human_ocr_ensembl",
    "drosophila_enhancers_stark",
];

/// Genomic Benchmarks datasets are scored by accuracy (Grešová et al. 2023, BMC Genomic Data).
pub const GB_METRIC: Metric = Metric::Accuracy;

/// The metric of an NT task, or `None` for a name outside [`NT_TASKS`].
pub fn nt_metric(task: &str) -> Option<Metric> {
    NT_TASKS
        .iter()
        .find(|(name, _)| *name == task)
        .map(|&(_, metric)| metric)
}

/// Read an NT table and keep the rows of `tasks` (all rows when `None`), in file order.
///
/// Each example's id is the `name` column (e.g. `chr3:32091651-32092651|1`). A requested task
/// with no row in the file is an error listing the tasks the file holds.
///
/// A file without a `task` column is one task's file (the first NT release and the per-task
/// files of `InstaDeepAI/nucleotide_transformer_downstream_tasks` are `sequence, name, label`):
/// its rows are the one task asked for, or, when none is asked, the task named by the file name
/// up to its first dot. Asking such a file for several tasks is an error
/// ([`BenchmarkError::SingleTaskFile`]).
pub fn read_nt(path: &Path, tasks: Option<&[String]>) -> Result<Vec<LabelledSeq>, BenchmarkError> {
    let has_task_column = Table::open(path, Delimiter::Auto)?.header.iter().any(|h| h.eq_ignore_ascii_case("task"));
    let spec = TableSpec {
        sequence_column: Some("sequence".into()),
        task_column: Some("task".into()),
        id_column: Some("name".into()),
        ..TableSpec::default()
    };
    if !has_task_column {
        let task = match tasks {
            None => None,
            Some([one]) => Some(one.clone()),
            Some(many) => return Err(BenchmarkError::SingleTaskFile { path: path.into(), asked: many.to_vec() }),
        };
        return read_table(path, &TableSpec { task_column: None, task, ..spec }).map_err(nt_columns);
    }
    let rows = read_table(path, &spec).map_err(nt_columns)?;
    let Some(tasks) = tasks else {
        return Ok(rows);
    };
    let present: BTreeSet<&str> = rows.iter().map(|r| r.task.as_str()).collect();
    if let Some(missing) = tasks.iter().find(|t| !present.contains(t.as_str())) {
        return Err(BenchmarkError::UnknownTask {
            path: path.into(),
            task: missing.clone(),
            found: present.iter().map(|t| t.to_string()).collect(),
        });
    }
    Ok(rows
        .into_iter()
        .filter(|r| tasks.contains(&r.task))
        .collect())
}

/// A missing column of an NT file, said in NT terms (its columns are fixed: there is no table
/// spec to name them in).
fn nt_columns(e: BenchmarkError) -> BenchmarkError {
    match e {
        BenchmarkError::MissingColumn { path, role, found, .. } => BenchmarkError::NtColumn { path, role, found },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{label_counts, shared_data};
    use super::*;

    #[test]
    fn every_task_has_one_metric_and_names_are_unique() {
        let names: BTreeSet<&str> = NT_TASKS.iter().map(|(n, _)| *n).collect();
        assert_eq!((NT_TASKS.len(), names.len()), (18, 18));
        assert!(NT_TASKS.iter().all(|(_, m)| *m == Metric::Mcc));
        assert_eq!(nt_metric("H3K4me3"), Some(Metric::Mcc));
        assert_eq!(nt_metric("H3"), None);
    }

    /// One task's file (`sequence,name,label`, no `task` column) gives its rows the task asked
    /// for; asking it for two tasks is refused.
    #[test]
    fn file_without_task_column_is_the_one_task_asked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("promoter_all_train.csv");
        std::fs::write(&path, "sequence,name,label\nACGTAC,chr1:0-6|0,0\nTTGACA,chr1:1-7|1,1\n").expect("write");
        let rows = read_nt(&path, Some(&["promoter_all".to_string()])).expect("one task");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].task.as_str(), rows[1].id.as_str(), rows[1].label.as_str()), ("promoter_all", "chr1:1-7|1", "1"));
        let rows = read_nt(&path, None).expect("no task asked");
        assert_eq!(rows[0].task, "promoter_all_train");
        let two = ["promoter_all".to_string(), "enhancers".to_string()];
        let e = read_nt(&path, Some(&two)).expect_err("two tasks").to_string();
        assert!(e.contains("promoter_all_train.csv") && e.contains("no `task` column") && e.contains("enhancers"), "{e}");
        std::fs::write(&path, "seq,name,label\nACGTAC,chr1:0-6|0,0\n").expect("write");
        let e = read_nt(&path, None).expect_err("no sequence column").to_string();
        assert!(e.contains("no sequence column") && e.contains("sequence, name, label") && !e.contains("table spec"), "{e}");
    }

    #[test]
    fn reads_the_real_nt_subsample_by_task() {
        let Some(path) = shared_data("nt_benchmark/revised_toy_subsample/train.tsv.gz") else {
            return;
        };
        let all = read_nt(&path, None).expect("all tasks");
        assert_eq!(all.len(), 1_500);
        // The file's tasks are exactly NT_TASKS.
        let in_file: BTreeSet<&str> = all.iter().map(|r| r.task.as_str()).collect();
        let known: BTreeSet<&str> = NT_TASKS.iter().map(|(n, _)| *n).collect();
        assert_eq!(in_file, known);
        assert_eq!(all[0].id, "chr3:32091651-32092651|1");

        // Row counts per task and label from: zcat … | awk -F'\t' 'NR>1{print $4, $3}' | sort | uniq -c
        let pick = vec!["splice_sites_all".to_string(), "promoter_tata".to_string()];
        let some = read_nt(&path, Some(&pick)).expect("two tasks");
        assert_eq!(some.len(), 503 + 9);
        let splice: Vec<_> = some
            .into_iter()
            .filter(|r| r.task == "splice_sites_all")
            .collect();
        let counts = label_counts(&splice);
        assert_eq!((counts["0"], counts["1"], counts["2"]), (21, 20, 462));

        let err = read_nt(&path, Some(&["H3".to_string()])).expect_err("not a revised task");
        assert!(
            err.to_string().contains("'H3'") && err.to_string().contains("H3K4me3"),
            "{err}"
        );
    }
}
