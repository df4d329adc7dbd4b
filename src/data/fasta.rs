//! FASTA reading (plain or gzip, opened by [`super::compressed::open_text`], which also skips a
//! UTF-8 byte-order mark, reads CR-only line ends and names compressions gfm does not read)
//! into upper-case DNA records.
//!
//! `needletail` parses records; this module checks every base, applies the
//! [`AmbiguityPolicy`] and reports bad input with file, record, line and column.

use std::path::Path;

use needletail::errors::ParseErrorKind;

use super::DataError;

/// What to do with IUPAC ambiguity codes (N R Y S W K M B D H V).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguityPolicy {
    /// Keep ambiguous bases as `N`, which the tokenizer maps to `[UNK]`.
    Unk,
    /// Split records at runs of ambiguous bases; the pieces become separate sequences.
    #[default]
    Split,
    /// Drop records that contain any ambiguous base.
    Drop,
}

/// One sequence ready for tokenization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnaRecord {
    /// First word of the FASTA header. A piece cut out by [`AmbiguityPolicy::Split`] from a
    /// record with ambiguous bases is named `name:start-end` (0-based, end-exclusive, in bases).
    pub name: String,
    /// Upper-case bases: only `ACGT`, plus `N` under [`AmbiguityPolicy::Unk`].
    pub seq: Vec<u8>,
}

/// Counts from one [`read_fasta`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct FastaStats {
    /// Records in the file.
    pub records_read: usize,
    /// Records dropped whole because they hold ambiguous bases ([`AmbiguityPolicy::Drop`]).
    pub records_dropped: usize,
    /// Sequences returned (records, or pieces of records under `Split`).
    pub pieces: usize,
    /// Bases in the returned sequences (`N` included under `Unk`).
    pub bases_kept: u64,
    /// Ambiguous bases seen in the file, whatever the policy did with them.
    pub ambiguous_bases: u64,
    /// Sequences (records or pieces) dropped for being shorter than `min_len` bases.
    pub too_short_dropped: usize,
}

/// Read every record of a FASTA file (`.fa` or `.fa.gz`; FASTQ is accepted too).
///
/// Lower case is upper-cased; ambiguity codes follow `policy`; sequences shorter than
/// `min_len` bases are dropped and counted. Errors: missing file, empty file, an empty record,
/// or any character that is not a base (each names file, record and line), and a file from
/// which nothing is left after filtering.
pub fn read_fasta(
    path: &Path,
    policy: AmbiguityPolicy,
    min_len: usize,
) -> Result<(Vec<DnaRecord>, FastaStats), DataError> {
    let file = super::compressed::open_text(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::InvalidData => DataError::Unreadable { cause },
        _ => DataError::Open { path: path.into(), cause },
    })?;
    let mut reader = needletail::parse_fastx_reader(file).map_err(|cause| match cause.kind {
        ParseErrorKind::EmptyFile => DataError::NoRecords { path: path.into() },
        _ => DataError::Parse {
            path: path.into(),
            cause,
        },
    })?;
    let mut records = Vec::new();
    let mut stats = FastaStats::default();
    while let Some(record) = reader.next() {
        let record = record.map_err(|cause| DataError::Parse {
            path: path.into(),
            cause,
        })?;
        stats.records_read += 1;
        let header = String::from_utf8_lossy(record.id());
        let name = header.split_whitespace().next().unwrap_or("").to_string();
        let header_line = record.start_line_number();
        let (bases, ambiguous) =
            clean_bases(record.raw_seq(), header_line).map_err(|bad| DataError::InvalidBase {
                path: path.into(),
                record: name.clone(),
                line: bad.line,
                column: bad.column,
                found: describe_byte(bad.byte),
            })?;
        if bases.is_empty() {
            return Err(DataError::EmptyRecord {
                path: path.into(),
                record: name,
                line: header_line,
            });
        }
        stats.ambiguous_bases += ambiguous;
        let mut keep = |record: DnaRecord| {
            if record.seq.len() < min_len {
                stats.too_short_dropped += 1;
            } else {
                stats.bases_kept += record.seq.len() as u64;
                records.push(record);
            }
        };
        match policy {
            AmbiguityPolicy::Drop if ambiguous > 0 => stats.records_dropped += 1,
            AmbiguityPolicy::Split if ambiguous > 0 => {
                for (start, end) in unambiguous_runs(&bases) {
                    let seq = bases[start..end].to_vec();
                    keep(DnaRecord {
                        name: format!("{name}:{start}-{end}"),
                        seq,
                    });
                }
            }
            _ => keep(DnaRecord { name, seq: bases }),
        }
    }
    stats.pieces = records.len();
    if stats.records_read == 0 {
        return Err(DataError::NoRecords { path: path.into() });
    }
    if records.is_empty() {
        return Err(DataError::NothingKept {
            path: path.into(),
            records_read: stats.records_read,
            records_dropped: stats.records_dropped,
            too_short_dropped: stats.too_short_dropped,
            min_len,
        });
    }
    Ok((records, stats))
}

/// Where a non-base character sits: 1-based line and column in the file.
struct BadByte {
    byte: u8,
    line: u64,
    column: u64,
}

/// Upper-case the bases of a raw FASTA sequence (line breaks included) and turn every IUPAC
/// ambiguity code into `N`. Returns the bases and the number of ambiguous ones.
///
/// `header_line` is the 1-based line of the `>` header; sequence lines follow it. Hand-written
/// because `needletail` does not validate bases and we want the exact line of a bad one.
fn clean_bases(raw: &[u8], header_line: u64) -> Result<(Vec<u8>, u64), BadByte> {
    let mut bases = Vec::with_capacity(raw.len());
    let mut ambiguous = 0u64;
    let mut line = header_line + 1;
    let mut line_start = 0usize;
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'A' | b'C' | b'G' | b'T' => bases.push(b),
            b'a' | b'c' | b'g' | b't' => bases.push(b.to_ascii_uppercase()),
            b'N' | b'R' | b'Y' | b'S' | b'W' | b'K' | b'M' | b'B' | b'D' | b'H' | b'V' | b'n'
            | b'r' | b'y' | b's' | b'w' | b'k' | b'm' | b'b' | b'd' | b'h' | b'v' => {
                bases.push(b'N');
                ambiguous += 1;
            }
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'\r' => {}
            _ => {
                let column = (i - line_start + 1) as u64;
                return Err(BadByte {
                    byte: b,
                    line,
                    column,
                });
            }
        }
    }
    Ok((bases, ambiguous))
}

/// `[start, end)` of each maximal run without `N`.
fn unambiguous_runs(bases: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &b) in bases.iter().enumerate() {
        match (b == b'N', start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, bases.len()));
    }
    runs
}

/// Human-readable name of a byte for error messages.
pub(crate) fn describe_byte(b: u8) -> String {
    match b {
        b' ' => "a space".to_string(),
        b'\t' => "a tab".to_string(),
        _ if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
        _ => format!("the byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_plain(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write fixture");
        path
    }

    fn write_gz(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).expect("create fixture");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(text.as_bytes()).expect("gzip fixture");
        gz.finish().expect("finish gzip");
        path
    }

    const MIXED: &str =
        ">r1 first record\nACGTacgt\nACNNNGT\n>r2\nAAAACCCC\n>r3 all clean\nggggtttt\n";

    #[test]
    fn plain_and_gzip_files_read_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = write_plain(dir.path(), "x.fa", MIXED);
        let gz = write_gz(dir.path(), "x.fa.gz", MIXED);
        let a = read_fasta(&plain, AmbiguityPolicy::Unk, 0).expect("plain");
        let b = read_fasta(&gz, AmbiguityPolicy::Unk, 0).expect("gz");
        assert_eq!(a, b);
        assert_eq!(a.0[0].name, "r1");
        assert_eq!(a.0[0].seq, b"ACGTACGTACNNNGT");
        assert_eq!(a.0[2].seq, b"GGGGTTTT");
    }

    #[test]
    fn policies_treat_ambiguous_bases_as_documented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_plain(dir.path(), "x.fa", MIXED);
        let (unk, s) = read_fasta(&path, AmbiguityPolicy::Unk, 0).expect("unk");
        assert_eq!((unk.len(), s.ambiguous_bases, s.records_read), (3, 3, 3));
        assert_eq!(s.bases_kept, 15 + 8 + 8);

        let (split, s) = read_fasta(&path, AmbiguityPolicy::Split, 0).expect("split");
        let names: Vec<_> = split.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r1:0-10", "r1:13-15", "r2", "r3"]);
        assert_eq!(split[0].seq, b"ACGTACGTAC");
        assert_eq!(split[1].seq, b"GT");
        assert_eq!((s.pieces, s.bases_kept, s.ambiguous_bases), (4, 28, 3));

        let (drop, s) = read_fasta(&path, AmbiguityPolicy::Drop, 0).expect("drop");
        assert_eq!(
            drop.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["r2", "r3"]
        );
        assert_eq!((s.records_dropped, s.pieces), (1, 2));
    }

    #[test]
    fn pieces_shorter_than_min_len_are_dropped_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_plain(dir.path(), "x.fa", MIXED);
        let (recs, s) = read_fasta(&path, AmbiguityPolicy::Split, 5).expect("split");
        assert_eq!(recs.len(), 3);
        assert_eq!(s.too_short_dropped, 1);
        let err = read_fasta(&path, AmbiguityPolicy::Split, 100).expect_err("nothing kept");
        assert!(
            matches!(
                err,
                DataError::NothingKept {
                    too_short_dropped: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_character_error_names_file_record_line_and_character() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = ">ok\nACGT\n>bad one\nACGT\nAC\nGG-T\n";
        let path = write_gz(dir.path(), "bad.fa.gz", text);
        let err = read_fasta(&path, AmbiguityPolicy::Split, 0).expect_err("gap");
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                DataError::InvalidBase {
                    line: 6,
                    column: 3,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(
            msg.contains("bad.fa.gz") && msg.contains("'bad'") && msg.contains("'-'"),
            "{msg}"
        );
        for (text, found) in [
            (">x\nAC1\n", "'1'"),
            (">x\nACU\n", "'U'"),
            (">x\nA C\n", "a space"),
        ] {
            let path = write_plain(dir.path(), "b.fa", text);
            let msg = read_fasta(&path, AmbiguityPolicy::Unk, 0)
                .expect_err(text)
                .to_string();
            assert!(msg.contains(found) && msg.contains(":2:"), "{msg}");
        }
    }

    /// A UTF-8 byte-order mark (Windows editors) and CR-only line ends (old Mac OS) read as the
    /// plain LF file does; a zstd-compressed file is named with its decompression command.
    #[test]
    fn bom_and_cr_only_line_ends_read_like_lf_and_zstd_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let lf = ">r1 desc\nACGTAC\nGGTT\n>r2\nTTTT\n";
        let (want, _) = read_fasta(&write_plain(dir.path(), "lf.fa", lf), AmbiguityPolicy::Split, 0).unwrap();
        let bom = format!("\u{feff}{lf}");
        let (got, _) = read_fasta(&write_plain(dir.path(), "bom.fa", &bom), AmbiguityPolicy::Split, 0).unwrap();
        assert_eq!(got, want);
        let (got, _) = read_fasta(&write_plain(dir.path(), "cr.fa", &lf.replace('\n', "\r")), AmbiguityPolicy::Split, 0).unwrap();
        assert_eq!(got, want);
        let (got, _) = read_fasta(&write_plain(dir.path(), "bomcr.fa", &bom.replace('\n', "\r")), AmbiguityPolicy::Split, 0).unwrap();
        assert_eq!(got, want);
        let zst = dir.path().join("x.fa.zst");
        std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05]).unwrap();
        let e = read_fasta(&zst, AmbiguityPolicy::Split, 0).unwrap_err().to_string();
        assert!(e.contains("x.fa.zst is zstd-compressed") && e.contains("zstd -d"), "{e}");
    }

    #[test]
    fn empty_record_missing_file_and_empty_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_plain(dir.path(), "e.fa", ">a\nACGT\n>empty\n>c\nACGT\n");
        let err = read_fasta(&path, AmbiguityPolicy::Split, 0).expect_err("empty record");
        assert!(
            matches!(err, DataError::EmptyRecord { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("'empty'"));

        let missing = dir.path().join("nope.fa");
        let err = read_fasta(&missing, AmbiguityPolicy::Split, 0).expect_err("missing");
        assert!(err.to_string().contains("nope.fa"), "{err}");

        let empty = write_plain(dir.path(), "zero.fa", "");
        let err = read_fasta(&empty, AmbiguityPolicy::Split, 0).expect_err("empty file");
        assert!(matches!(err, DataError::NoRecords { .. }), "{err}");
        let empty_gz = write_gz(dir.path(), "zero.fa.gz", "");
        assert!(read_fasta(&empty_gz, AmbiguityPolicy::Split, 0).is_err());
    }

    fn shared_file(name: &str) -> Option<std::path::PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pretrain");
        if !dir.is_dir() {
            println!(
                "SKIPPED: {} is missing, real-FASTA test not run",
                dir.display()
            );
            return None;
        }
        Some(dir.join(name))
    }

    #[test]
    fn reads_the_real_ecoli_genome() {
        let Some(path) = shared_file("ecoli536_NC_008253.fa.gz") else {
            return;
        };
        let (recs, s) = read_fasta(&path, AmbiguityPolicy::Split, 0).expect("ecoli");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].name, "gi|110640213|ref|NC_008253.1|");
        // Base counts checked with: zcat … | grep -v '>' | tr -d '\n' | fold -w1 | sort | uniq -c
        assert_eq!(recs[0].seq.len(), 4_938_920);
        assert_eq!(
            recs[0].seq.iter().filter(|&&b| b == b'A').count(),
            1_222_723
        );
        assert_eq!((s.ambiguous_bases, s.bases_kept), (0, 4_938_920));
    }

    #[test]
    fn splits_the_real_chr22_slice_at_its_n_run() {
        let Some(path) = shared_file("human_chr22_20-21Mb_hisat2_example.fa.gz") else {
            return;
        };
        // The file holds one run of 100,000 N starting at base 509,431 (0-based), found with
        // zcat … | grep -v '>' | tr -d '\n' | grep -ob 'N\+'.
        let (recs, s) = read_fasta(&path, AmbiguityPolicy::Split, 0).expect("chr22");
        assert_eq!(s.ambiguous_bases, 100_000);
        let names: Vec<_> = recs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "22:20000001-21000000:0-509431",
                "22:20000001-21000000:609431-1000000"
            ]
        );
        assert_eq!(s.bases_kept, 900_000);
        let (unk, _) = read_fasta(&path, AmbiguityPolicy::Unk, 0).expect("chr22 unk");
        assert_eq!(unk[0].seq.len(), 1_000_000);
    }
}
