//! The one way gfm opens a parquet file: a bounded walk of the file's thrift structures (the
//! footer's `FileMetaData`, then every page header) before the `parquet` crate decodes them.
//!
//! Why this is hand-written: `parquet` 57.3.2 skips unknown thrift fields with
//! `ThriftCompactInputProtocol::skip_till_depth` (its `src/parquet_thrift.rs`), which skips a
//! list of booleans element by element without consuming a byte. A list size read from the file
//! (up to 2^31 - 1) then costs seconds of spinning, and a few such lists, in the footer or in a
//! page header, keep `SerializedFileReader::new` or the row iterator busy for ever (found by
//! `cargo fuzz`, fuzz/README.md). `catch_unwind` cannot stop a loop and no option of the crate
//! bounds it, so such a file is refused here first. The walk reads the structure only (field
//! ids, types, lengths and counts, plus each page's size), with the footer and page-header
//! field tables of the format so that it reads the bytes as the crate will. Remove this module
//! once arrow-rs's skip consumes one byte per boolean list element: the crate then returns in
//! milliseconds on `tests/fixtures/fuzz/parquet_thrift_skip_bool_list.parquet` and on the file
//! of the test helper `page_header_hang` (the inputs of the readers' tests
//! `a_parquet_file_the_library_would_hang_on_is_refused_quickly`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};

mod thrift;
use thrift::{walk, walk_page_header, FILE_META_DATA};

/// Where a malformed thrift structure sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The `FileMetaData` just before the file's last 8 bytes.
    Footer,
    /// The header of a page of column chunk `column` in row group `row_group`, at byte `offset`
    /// of the file.
    PageHeader { row_group: usize, column: usize, offset: u64 },
}

/// A thrift structure the walk refused: where, what, and the byte within the structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub place: Place,
    pub what: String,
    pub at: usize,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, at) = (&self.what, self.at);
        match &self.place {
            Place::Footer => write!(f, "the parquet footer (file metadata) is malformed: {what} (byte {at} of the metadata)")?,
            Place::PageHeader { row_group, column, offset } => write!(
                f,
                "the parquet page header at byte {offset} (row group {row_group}, column {column}) is malformed: {what} (byte {at} of the header)"
            )?,
        }
        write!(f, "; the file is corrupt or was not written completely, so re-export it (e.g. pandas `df.to_parquet(...)` or `pyarrow.parquet.write_table`)")
    }
}

impl std::error::Error for Malformed {}

/// Why [`open`] gave no reader; each reader maps these to its own error type.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Opening or reading the file failed, or it is compressed ([`super::compressed`]).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The `parquet` crate refused the footer.
    #[error("{0}")]
    Parquet(#[from] ParquetError),
    /// The bounded walk refused a thrift structure.
    #[error("{0}")]
    Malformed(#[from] Malformed),
}

/// Open `path` as a parquet file: refuse compressed files, walk the footer, let the `parquet`
/// crate decode it, then walk every page header of every column chunk. Reads the file's column
/// chunks once more than the row reader does (one chunk in memory at a time).
pub fn open(path: &Path) -> Result<SerializedFileReader<File>, OpenError> {
    super::compressed::refuse_compressed(path)?;
    let file = File::open(path)?;
    check_footer(&file)?;
    let reader = SerializedFileReader::new(file.try_clone()?)?;
    check_page_headers(&file, reader.metadata())?;
    Ok(reader)
}

/// Walk the footer's `FileMetaData`. A file without the `PAR1` tail or with a metadata length
/// past its start is left to the `parquet` crate, which refuses it with its own message.
fn check_footer(mut file: &File) -> Result<(), OpenError> {
    let len = file.metadata()?.len();
    if len < 8 {
        return Ok(());
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8))?;
    file.read_exact(&mut tail)?;
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if &tail[4..] != b"PAR1" || meta_len + 8 > len {
        return Ok(());
    }
    let mut meta = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(len - 8 - meta_len))?;
    file.read_exact(&mut meta)?;
    walk(&meta, FILE_META_DATA).map(drop).map_err(|(what, at)| Malformed { place: Place::Footer, what, at }.into())
}

/// Walk the page headers of every column chunk the way the row reader meets them: from the
/// chunk's first byte (the dictionary page if any, else the first data page), each header
/// followed by its `compressed_page_size` (field 3) bytes of page data, to the chunk's end. A
/// range or page size the `parquet` crate refuses itself ends that chunk's walk.
fn check_page_headers(mut file: &File, meta: &ParquetMetaData) -> Result<(), OpenError> {
    let file_len = file.metadata()?.len();
    for (row_group, group) in meta.row_groups().iter().enumerate() {
        for (column, chunk) in group.columns().iter().enumerate() {
            let start = chunk.dictionary_page_offset().unwrap_or_else(|| chunk.data_page_offset());
            let (Ok(start), Ok(len)) = (u64::try_from(start), u64::try_from(chunk.compressed_size())) else { continue };
            let end = start.saturating_add(len).min(file_len);
            if start >= end {
                continue;
            }
            let mut bytes = vec![0u8; (end - start) as usize];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut bytes)?;
            let mut at = 0usize;
            while at < bytes.len() {
                let offset = start + at as u64;
                let bad = |(what, at)| Malformed { place: Place::PageHeader { row_group, column, offset }, what, at };
                let (header_len, page_size) = walk_page_header(&bytes[at..]).map_err(bad)?;
                let Some(page_size) = page_size.and_then(|s| usize::try_from(s).ok()) else { break };
                at = at.saturating_add(header_len).saturating_add(page_size);
            }
        }
    }
    Ok(())
}

/// Test input: the footer form of the hang, as `cargo fuzz run parquet` found it (fuzz/README.md).
#[cfg(test)]
pub(crate) const FOOTER_HANG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/parquet_thrift_skip_bool_list.parquet");

/// Test input: the page-header form of the hang. `tests/fixtures/mmidas/columns.parquet` (pyarrow)
/// with its first page header, from byte 6 on, overwritten by four `list<bool>` fields (ids
/// 10-13) of 2^31 - 1 elements each; `parquet` 57.3.2's row reader spins on it for over a
/// minute (the fuzz target built before this module, 2026-11-29).
#[cfg(test)]
pub(crate) fn page_header_hang() -> Vec<u8> {
    let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mmidas/columns.parquet")).expect("fixture");
    let list = [0xf1, 0xff, 0xff, 0xff, 0xff, 0x07];
    let patch: Vec<u8> = [&[0x99][..], &list, &[0x19], &list, &[0x19], &list, &[0x19], &list].concat();
    bytes[6..6 + patch.len()].copy_from_slice(&patch);
    bytes
}

/// Test helper of the readers: run `read` on both forms of the hang (footer and page header),
/// assert that each is refused within 5 s with a message naming the file, the place and "is
/// malformed", and return the errors for the reader's own checks.
#[cfg(test)]
pub(crate) fn refuse_both_hangs<E: std::fmt::Display>(read: impl Fn(&Path) -> Result<(), E>) -> Vec<E> {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = dir.path().join("pages.parquet");
    std::fs::write(&pages, page_header_hang()).expect("write");
    let cases = [(Path::new(FOOTER_HANG), "footer (file metadata)"), (pages.as_path(), "page header")];
    cases
        .into_iter()
        .map(|(path, place)| {
            let started = std::time::Instant::now();
            let err = read(path).err().expect("malformed thrift must be refused");
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
            let (msg, name) = (err.to_string(), path.file_name().unwrap().to_string_lossy().to_string());
            assert!(msg.contains(&name) && msg.contains(place) && msg.contains("is malformed"), "{msg}");
            err
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::thrift::*;
    use super::*;

    #[test]
    fn both_forms_of_the_library_hang_are_refused_with_their_place() {
        let footer = open(Path::new(FOOTER_HANG)).map(drop).unwrap_err();
        let OpenError::Malformed(m) = &footer else { panic!("{footer}") };
        // Its first malformed element is a varint of 11+ bytes, before the lists the library spins on.
        assert_eq!((&m.place, m.what.as_str(), m.at), (&Place::Footer, "a varint is longer than 10 bytes", 29), "{m}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pages.parquet");
        std::fs::write(&path, page_header_hang()).expect("write");
        let pages = open(&path).map(drop).unwrap_err();
        let OpenError::Malformed(m) = &pages else { panic!("{pages}") };
        assert_eq!(m.place, Place::PageHeader { row_group: 0, column: 0, offset: 4 }, "{m}");
        assert!(m.to_string().contains("list declares 2147483647 elements"), "{m}");
    }

    /// `struct { 1: i32 1, 2: binary "abc", 3: list<i32> [1, 2], 4: bool true, 5: struct {} }`.
    const SMALL: &[u8] = &[0x15, 0x02, 0x18, 0x03, b'a', b'b', b'c', 0x19, 0x25, 0x02, 0x04, 0x11, 0x1c, 0x00, 0x00];

    #[test]
    fn a_valid_small_struct_is_walked_to_its_end() {
        assert_eq!(walk(SMALL, EMPTY), Ok(SMALL.len()));
        // Bytes after the struct are not the walk's business.
        assert_eq!(walk(&[SMALL, b"PAR1"].concat(), EMPTY), Ok(SMALL.len()));
        // A map<binary, i32> of one entry, a set<i32> of two, a double, a full field id (300).
        let more = [0x1b, 0x01, 0x85, 0x01, b'k', 0x02, 0x1a, 0x25, 0x02, 0x04, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0x06, 0xd8, 0x04, 0x00, 0x00];
        assert_eq!(walk(&more, EMPTY), Ok(more.len()));
        // A FileMetaData: version 2, schema [{name "a"}], num_rows 3, no row groups.
        let footer = [0x15, 0x04, 0x19, 0x1c, 0x48, 0x01, b'a', 0x00, 0x16, 0x06, 0x19, 0x0c, 0x00];
        assert_eq!(walk(&footer, FILE_META_DATA), Ok(footer.len()));
        // Statistics { is_max_value_exact: false } (a bool field's type is its value).
        assert_eq!(walk(&[0x72, 0x00], STATISTICS), Ok(2));
    }

    #[test]
    fn a_list_declaring_more_elements_than_bytes_left_is_refused() {
        // Field 1: list<bool> of 2^31 - 1 elements, the shape that hangs `parquet` 57.3.2.
        let bytes = [0x19, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00];
        let (what, at) = walk(&bytes, EMPTY).unwrap_err();
        assert_eq!(at, 7);
        assert!(what.contains("list declares 2147483647 elements but only 1 bytes are left"), "{what}");
        // A map counts two bytes an entry: 2 entries in 3 bytes cannot fit.
        let (what, _) = walk(&[0x1b, 0x02, 0x55, 0x00, 0x00, 0x00], EMPTY).unwrap_err();
        assert!(what.contains("map declares 2 elements"), "{what}");
    }

    #[test]
    fn a_list_of_booleans_is_refused_whatever_its_size() {
        // The crate's skip would not consume these three bytes and read them as fields.
        let (what, at) = walk(&[0x19, 0x31, 0x01, 0x19, 0xf1, 0x00], EMPTY).unwrap_err();
        assert_eq!(at, 2);
        assert!(what.contains("a collection of 3 booleans"), "{what}");
        assert_eq!(walk(&[0x19, 0x01, 0x00], EMPTY), Ok(3), "an empty list of booleans is harmless");
    }

    #[test]
    fn a_known_field_of_another_type_than_the_format_is_refused() {
        // FileMetaData field 2 (schema, a list) declared as binary: the crate would read a list.
        let (what, _) = walk(&[0x28, 0x01, b'x', 0x00], FILE_META_DATA).unwrap_err();
        assert_eq!(what, "field 2 has thrift type binary where the parquet format has list");
        let (what, _) = walk(&[0x29, 0x15, 0x02, 0x00], FILE_META_DATA).unwrap_err();
        assert_eq!(what, "a list of i32 where the parquet format has a list of struct");
        // Statistics field 7 (a bool) declared as i8: the crate panics on it.
        let (what, _) = walk(&[0x73, 0x01, 0x00], STATISTICS).unwrap_err();
        assert_eq!(what, "field 7 has thrift type i8 where the parquet format has bool");
    }

    #[test]
    fn a_binary_value_running_past_the_end_is_refused() {
        let (what, at) = walk(&[0x18, 0x0a, b'a', 0x00], EMPTY).unwrap_err();
        assert_eq!(at, 2);
        assert!(what.contains("binary value of 10 bytes runs past the end (2 bytes left)"), "{what}");
        let (what, _) = walk(&SMALL[..5], EMPTY).unwrap_err();
        assert!(what.contains("runs past the end"), "{what}");
        let (what, _) = walk(&SMALL[..SMALL.len() - 1], EMPTY).unwrap_err();
        assert!(what.contains("ends in the middle"), "{what}");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        // Structs inside structs (field 1 each), one level too many.
        let deep: Vec<u8> = [vec![0x1c; MAX_DEPTH], vec![0x00; MAX_DEPTH + 1]].concat();
        let (what, _) = walk(&deep, EMPTY).unwrap_err();
        assert!(what.contains("nested more than 64 deep"), "{what}");
        let ok: Vec<u8> = [vec![0x1c; MAX_DEPTH - 1], vec![0x00; MAX_DEPTH]].concat();
        assert_eq!(walk(&ok, EMPTY), Ok(ok.len()));
        // Lists of one list each.
        let lists: Vec<u8> = [vec![0x19], vec![0x19; MAX_DEPTH + 1]].concat();
        let (what, _) = walk(&lists, EMPTY).unwrap_err();
        assert!(what.contains("nested more than 64 deep"), "{what}");
    }

    #[test]
    fn unknown_types_and_overlong_varints_are_refused() {
        let (what, _) = walk(&[0x1d, 0x00], EMPTY).unwrap_err();
        assert!(what.contains("unknown thrift type 13"), "{what}");
        let (what, _) = walk(&[0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00], EMPTY).unwrap_err();
        assert!(what.contains("longer than 10 bytes"), "{what}");
    }

    #[test]
    fn a_page_header_gives_its_length_and_compressed_page_size() {
        // type 0 (DATA_PAGE), uncompressed 18, compressed 20, data_page_header { num_values 3 }.
        let header = [0x15, 0x00, 0x15, 0x24, 0x15, 0x28, 0x2c, 0x15, 0x06, 0x00, 0x00];
        assert_eq!(walk_page_header(&header), Ok((header.len(), Some(20))));
        assert_eq!(walk_page_header(&[0x15, 0x00, 0x00]), Ok((3, None)));
    }

    #[test]
    fn every_parquet_fixture_passes_the_check() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mmidas"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "parquet") {
                open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 4, "{seen} parquet fixtures");
    }
}
