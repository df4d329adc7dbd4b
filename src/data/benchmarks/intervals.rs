//! Genomic Benchmarks (GB) interval datasets: `<dataset>/<split>/<class>.csv.gz` files with
//! columns `id,region,start,end,strand`, cut out of a reference FASTA.
//!
//! Coordinates follow GB's own code (`src/genomic_benchmarks/loc2seq/with_biopython.py` and
//! `utils/datasets.py` in ML-Bioinfo-CEITEC/genomic_benchmarks): `_fill_seq_column` takes
//! `fasta[region][start:end]`, a Python slice, so `start` is 0-based and `end` exclusive; `_rev`
//! reverse-complements when `strand == "-"` and leaves any other strand (`+`, empty) as is.
//! GB names human and mouse chromosomes `chr1`… (it prefixes Ensembl's `1`…); here a `chr`
//! prefix on either side is ignored, and `M` and `MT` are one region.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::table::{Delimiter, Table};
use super::{reverse_complement, BenchmarkError, LabelledSeq};
use crate::data::folder::list_folder;
use crate::data::{read_fasta, AmbiguityPolicy};

/// Where one FASTA record sits in genome coordinates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Record name: the first word of its FASTA header.
    pub record: String,
    /// Region (chromosome) the intervals call it, e.g. `chr22` or `22`.
    pub region: String,
    /// 0-based genome position of the record's first base (a record holding chr22 from
    /// position 20,000,001, 1-based, has `region_offset = 20_000_000`).
    pub region_offset: u64,
}

/// A reference FASTA and how its records map onto regions.
///
/// Without a placement a record is its own region at offset 0, except that a record named like
/// a samtools region, `22:20000001-21000000` (1-based, inclusive), whose length matches, is
/// region `22` at offset `20000000`. Placements override both.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// FASTA file, plain or gzipped.
    pub path: PathBuf,
    #[serde(default)]
    pub placements: Vec<Placement>,
}

impl ReferenceSpec {
    /// A reference whose record names are the regions.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            placements: Vec::new(),
        }
    }
}

/// Strand of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strand {
    /// `+`, `.` or empty: the reference bases as they are.
    Plus,
    /// `-`: the reverse complement.
    Minus,
}

/// One region's bases and where they start in genome coordinates.
#[derive(Debug)]
struct Contig {
    record: String,
    region: String,
    offset: u64,
    seq: Vec<u8>,
}

/// Why an interval could not be cut.
enum CutError {
    MissingRegion,
    OutOfRange {
        covered_start: u64,
        covered_end: u64,
    },
}

/// A loaded reference genome (or excerpt), keyed by region.
#[derive(Debug)]
pub struct Reference {
    path: PathBuf,
    /// Keyed by [`region_key`].
    contigs: HashMap<String, Contig>,
}

impl Reference {
    /// Read the FASTA (ambiguous bases kept as `N`, as GB keeps them) and place its records.
    pub fn load(spec: &ReferenceSpec) -> Result<Self, BenchmarkError> {
        let (records, _) = read_fasta(&spec.path, AmbiguityPolicy::Unk, 0)?;
        for placement in &spec.placements {
            if !records.iter().any(|r| r.name == placement.record) {
                return Err(BenchmarkError::UnknownRecord {
                    path: spec.path.clone(),
                    record: placement.record.clone(),
                    found: records.iter().map(|r| r.name.clone()).collect(),
                });
            }
        }
        let mut contigs: HashMap<String, Contig> = HashMap::new();
        for record in records {
            let (region, offset) = match spec.placements.iter().find(|p| p.record == record.name) {
                Some(p) => (p.region.clone(), p.region_offset),
                None => samtools_region(&record.name, record.seq.len())
                    .unwrap_or_else(|| (record.name.clone(), 0)),
            };
            let key = region_key(&region);
            if let Some(first) = contigs.get(&key) {
                return Err(BenchmarkError::DuplicateRegion {
                    path: spec.path.clone(),
                    region,
                    first: first.record.clone(),
                    second: record.name,
                });
            }
            let contig = Contig {
                record: record.name,
                region,
                offset,
                seq: record.seq,
            };
            contigs.insert(key, contig);
        }
        Ok(Self {
            path: spec.path.clone(),
            contigs,
        })
    }

    /// `(region, start, end)` of every record, 0-based and end-exclusive, sorted by region.
    pub fn regions(&self) -> Vec<(String, u64, u64)> {
        let mut out: Vec<_> = self
            .contigs
            .values()
            .map(|c| (c.region.clone(), c.offset, c.offset + c.seq.len() as u64))
            .collect();
        out.sort();
        out
    }

    /// Bases of `region[start..end)` (0-based, end-exclusive), reverse-complemented on `Minus`.
    fn cut(&self, region: &str, start: u64, end: u64, strand: Strand) -> Result<Vec<u8>, CutError> {
        let contig = self
            .contigs
            .get(&region_key(region))
            .ok_or(CutError::MissingRegion)?;
        let covered_end = contig.offset + contig.seq.len() as u64;
        if start < contig.offset || end > covered_end {
            return Err(CutError::OutOfRange {
                covered_start: contig.offset,
                covered_end,
            });
        }
        // Both bounds are within the record, so the casts cannot truncate.
        let bases = &contig.seq[(start - contig.offset) as usize..(end - contig.offset) as usize];
        Ok(match strand {
            Strand::Plus => bases.to_vec(),
            Strand::Minus => reverse_complement(bases),
        })
    }

    /// Up to ten region names, for error messages.
    fn describe_regions(&self) -> String {
        let regions = self.regions();
        let names: Vec<_> = regions.iter().take(10).map(|r| r.0.as_str()).collect();
        match regions.len() {
            n if n > 10 => format!("{}, … ({n} regions)", names.join(", ")),
            _ => names.join(", "),
        }
    }
}

/// Options for [`read_gb_intervals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GbOptions {
    /// Skip (and count) intervals whose region is absent or that run past the reference,
    /// instead of failing on the first one. Meant for partial references such as an excerpt.
    pub skip_missing: bool,
}

/// Counts from one [`read_gb_intervals`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GbStats {
    /// Interval rows read, over all class files.
    pub intervals: usize,
    /// Examples returned per class.
    pub kept_per_class: BTreeMap<String, usize>,
    /// Intervals skipped because their region is not in the reference.
    pub skipped_missing_region: usize,
    /// Intervals skipped because they reach outside the reference's bases.
    pub skipped_out_of_range: usize,
    /// The regions that were missing.
    pub missing_regions: BTreeSet<String>,
    /// What the caller should print: hidden files skipped ([`crate::data::folder`]).
    pub notes: Vec<String>,
}

/// Read one split of a GB interval dataset and cut each interval out of `reference`.
///
/// Classes are the `<class>.csv.gz` (or `.csv`) files in `dataset_dir/split`, in name order
/// (hidden files skipped, with a note in [`GbStats::notes`]);
/// each example's label is its class and its task the dataset directory's name. Rows keep file
/// order. An absent region or an interval past the reference's end is an error naming the file
/// and line, unless `options.skip_missing`.
pub fn read_gb_intervals(
    dataset_dir: &Path,
    split: &str,
    reference: &Reference,
    options: &GbOptions,
) -> Result<(Vec<LabelledSeq>, GbStats), BenchmarkError> {
    let split_dir = dataset_dir.join(split);
    if !split_dir.is_dir() {
        return Err(BenchmarkError::MissingSplit {
            dir: dataset_dir.into(),
            split: split.into(),
            found: list_dir(dataset_dir, |p| p.is_dir()),
        });
    }
    let listing = list_folder(&split_dir, |p| p.is_file())
        .map_err(|cause| BenchmarkError::Open { path: split_dir.clone(), cause })?;
    let mut stats = GbStats { notes: listing.note(&split_dir).into_iter().collect(), ..GbStats::default() };
    let classes: Vec<(String, PathBuf)> = listing
        .entries
        .iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let class = name.strip_suffix(".csv.gz").or(name.strip_suffix(".csv"))?;
            Some((class.to_string(), path.clone()))
        })
        .collect();
    if classes.is_empty() {
        return Err(BenchmarkError::NoClassFiles { dir: split_dir });
    }
    let task = dataset_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut examples = Vec::new();
    for (class, path) in classes {
        let mut table = Table::open(&path, Delimiter::Comma)?;
        let cols = [
            table.column("id", &["id"])?,
            table.column("region", &["region"])?,
            table.column("start", &["start"])?,
            table.column("end", &["end"])?,
        ];
        let strand_col = table.column("strand", &["strand"]).ok();
        let mut row = ByteRecord::new();
        let mut kept = 0usize;
        while let Some(line) = table.next_row(&mut row)? {
            stats.intervals += 1;
            let text = |i: usize| String::from_utf8_lossy(row.get(i).unwrap_or(b"")).into_owned();
            let [id, region, start, end] = cols.map(text);
            let bad = |problem: String| BenchmarkError::BadInterval {
                path: path.clone(),
                line,
                problem,
            };
            let (start, end) = parse_bounds(&start, &end).map_err(bad)?;
            let strand = match strand_col.map(text).as_deref() {
                None | Some("" | "+" | ".") => Strand::Plus,
                Some("-") => Strand::Minus,
                Some(other) => {
                    return Err(bad(format!("strand '{other}' is not '+', '-' or empty")))
                }
            };
            match reference.cut(&region, start, end, strand) {
                Ok(seq) => {
                    kept += 1;
                    let (label, task) = (class.clone(), task.clone());
                    examples.push(LabelledSeq {
                        id,
                        seq,
                        label,
                        task,
                    });
                }
                Err(CutError::MissingRegion) if options.skip_missing => {
                    stats.skipped_missing_region += 1;
                    stats.missing_regions.insert(region);
                }
                Err(CutError::OutOfRange { .. }) if options.skip_missing => {
                    stats.skipped_out_of_range += 1;
                }
                Err(CutError::MissingRegion) => {
                    return Err(BenchmarkError::MissingRegion {
                        path,
                        line,
                        region,
                        reference: reference.path.clone(),
                        available: reference.describe_regions(),
                    })
                }
                Err(CutError::OutOfRange {
                    covered_start,
                    covered_end,
                }) => {
                    return Err(BenchmarkError::OutOfRange {
                        path,
                        line,
                        region,
                        start,
                        end,
                        covered_start,
                        covered_end,
                    })
                }
            }
        }
        stats.kept_per_class.insert(class, kept);
    }
    Ok((examples, stats))
}

/// Parse `start` and `end`; the interval must hold at least one base.
fn parse_bounds(start: &str, end: &str) -> Result<(u64, u64), String> {
    let parse = |what: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("{what} '{v}' is not a whole number >= 0"))
    };
    let (s, e) = (parse("start", start)?, parse("end", end)?);
    if e <= s {
        return Err(format!(
            "end {e} is not after start {s}, so the interval holds no bases"
        ));
    }
    Ok((s, e))
}

/// Names of the visible entries of `dir` that pass `keep`, sorted; empty if `dir` cannot be read.
fn list_dir(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<String> {
    let listing = list_folder(dir, keep).unwrap_or_default();
    listing.entries.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect()
}

/// Lookup key of a region name: without a `chr` prefix (any case), `M` as `MT`, and Ensembl
/// ids without their version (GB strips it: `ENST00000671676.1` → `ENST00000671676`).
fn region_key(name: &str) -> String {
    let bare = match name.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("chr") && name.len() > 3 => &name[3..],
        _ => name,
    };
    if bare == "M" {
        return "MT".to_string();
    }
    if bare.starts_with("ENS") {
        if let Some((id, version)) = bare.rsplit_once('.') {
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
                return id.to_string();
            }
        }
    }
    bare.to_string()
}

/// `chrom:start-end` (samtools style: 1-based, inclusive) → `(chrom, start - 1)`, only when
/// the record holds exactly `end - start + 1` bases.
fn samtools_region(name: &str, len: usize) -> Option<(String, u64)> {
    let (chrom, range) = name.rsplit_once(':')?;
    let (start, end) = range.split_once('-')?;
    let (start, end) = (start.parse::<u64>().ok()?, end.parse::<u64>().ok()?);
    (start >= 1 && end >= start && end - start + 1 == len as u64 && !chrom.is_empty())
        .then(|| (chrom.to_string(), start - 1))
}

#[cfg(test)]
#[path = "intervals_tests.rs"]
mod tests;
