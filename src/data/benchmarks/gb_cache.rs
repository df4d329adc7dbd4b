//! Genomic Benchmarks (GB) download-cache layout: `<dataset>/<split>/<class>/<n>.txt`, one
//! sequence per file, as `genomic_benchmarks.loc2seq.download_dataset` leaves it in
//! `~/.genomic_benchmarks/<dataset>` (sequences already cut, so no reference is needed).
//!
//! GB's own reader (`dataset_getters/pytorch_datasets.py`, `GenomicClfDataset`) takes the class
//! from each folder's name (`x.stem`) and a file's whole content as its sequence (its tokenizer
//! drops the `\n`). It numbers classes in `Path.iterdir()` order, which is the file system's
//! and not stable; gfm keeps labels as the class names, so only the example order depends on
//! the listing, and here classes are sorted by name (as keras `text_dataset_from_directory`,
//! which GB's TensorFlow notebooks use, sorts them) and files by number (`2.txt` before
//! `10.txt`; by name when a stem is not a number). Hidden entries are skipped
//! ([`crate::data::folder`]).

use std::path::Path;

use super::{clean_seq, BenchmarkError, LabelledSeq};
use crate::data::folder::{list_folder, Listing};

/// Whether `dataset_dir` is in the cache layout: its `train` folder holds at least one visible
/// class folder (the interval layout holds `<class>.csv.gz` files there instead).
pub fn is_gb_cache(dataset_dir: &Path) -> bool {
    list_folder(&dataset_dir.join("train"), |p| p.is_dir()).is_ok_and(|l| !l.entries.is_empty())
}

/// Read one split (`train` or `test`) of a dataset in the cache layout.
///
/// Each example's label is its class folder's name, its task the dataset folder's name, its id
/// `<class>/<file stem>`, and its sequence the file's content with line breaks and surrounding
/// whitespace removed, upper-cased, IUPAC codes as `N`. Returns the examples (classes in name
/// order, files in number order) and notes on skipped hidden entries.
///
/// # Errors
/// A missing split folder, a split without class folders, an empty class folder, an unreadable
/// or empty file, or a character that is not a base (file and position named).
pub fn read_gb_cache(dataset_dir: &Path, split: &str) -> Result<(Vec<LabelledSeq>, Vec<String>), BenchmarkError> {
    let split_dir = dataset_dir.join(split);
    let missing_split = || BenchmarkError::MissingSplit {
        dir: dataset_dir.into(),
        split: split.into(),
        found: list_folder(dataset_dir, |p| p.is_dir())
            .map(|l| l.entries.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect())
            .unwrap_or_default(),
    };
    let classes = list_folder(&split_dir, |p| p.is_dir()).map_err(|_| missing_split())?;
    if classes.entries.is_empty() {
        return Err(BenchmarkError::NoClassFiles { dir: split_dir });
    }
    let task = dataset_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut notes: Vec<String> = classes.note(&split_dir).into_iter().collect();
    let mut examples = Vec::new();
    for class_dir in &classes.entries {
        let class = class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let open = |cause| BenchmarkError::Open { path: class_dir.clone(), cause };
        let Listing { entries: mut files, hidden } = list_folder(class_dir, |p| p.is_file()).map_err(open)?;
        notes.extend(Listing { entries: Vec::new(), hidden }.note(class_dir));
        if files.is_empty() {
            return Err(BenchmarkError::Empty { path: class_dir.clone() });
        }
        let number = |p: &std::path::PathBuf| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok());
        files.sort_by(|a, b| match (number(a), number(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
        for file in files {
            let bytes = std::fs::read(&file).map_err(|cause| BenchmarkError::Open { path: file.clone(), cause })?;
            let raw: Vec<u8> = bytes.iter().copied().filter(|b| !matches!(b, b'\n' | b'\r')).collect();
            let raw = raw.trim_ascii();
            if raw.is_empty() {
                return Err(BenchmarkError::EmptySequence { path: file, line: 1 });
            }
            let seq = clean_seq(raw).map_err(|bad| BenchmarkError::InvalidBase {
                path: file.clone(),
                line: 1,
                column: "file content".into(),
                position: bad.position,
                found: bad.found,
            })?;
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            examples.push(LabelledSeq { id: format!("{class}/{stem}"), seq, label: class.clone(), task: task.clone() });
        }
    }
    Ok((examples, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-class cache dataset with a macOS `._` file and a `.DS_Store` in it.
    #[test]
    fn cache_layout_reads_classes_from_folders_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dir.path().join("demo_set");
        for (split, class, n, seq) in [("train", "positive", 11, "acgt\n"), ("train", "negative", 2, "TTNA"), ("test", "positive", 1, "GG\r\nCC")] {
            let class_dir = ds.join(split).join(class);
            std::fs::create_dir_all(&class_dir).unwrap();
            for i in 0..n {
                std::fs::write(class_dir.join(format!("{i}.txt")), seq).unwrap();
            }
        }
        std::fs::write(ds.join("train/positive/._3.txt"), [0u8, 5, 22, 7]).unwrap();
        std::fs::write(ds.join("train/.DS_Store"), b"x").unwrap();
        assert!(is_gb_cache(&ds));
        let (train, notes) = read_gb_cache(&ds, "train").unwrap();
        assert_eq!(train.len(), 13);
        assert_eq!((train[0].id.as_str(), train[0].label.as_str(), train[0].seq.as_slice()), ("negative/0", "negative", &b"TTNA"[..]));
        assert_eq!((train[2].id.as_str(), train[12].id.as_str(), train[12].seq.as_slice()), ("positive/0", "positive/10", &b"ACGT"[..]));
        assert_eq!(train[0].task, "demo_set");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("._3.txt")) && notes.iter().any(|n| n.contains(".DS_Store")), "{notes:?}");
        let (test, _) = read_gb_cache(&ds, "test").unwrap();
        assert_eq!(test[0].seq, b"GGCC");

        std::fs::write(ds.join("test/positive/0.txt"), "ACGU").unwrap();
        let e = read_gb_cache(&ds, "test").unwrap_err().to_string();
        assert!(e.contains("positive/0.txt") && e.contains("'U'"), "{e}");
        let e = read_gb_cache(&ds, "valid").unwrap_err().to_string();
        assert!(e.contains("'valid'") && e.contains("train"), "{e}");
        assert!(!is_gb_cache(dir.path()));
    }
}
