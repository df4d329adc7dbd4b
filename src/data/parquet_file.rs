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

/// Deepest nesting of structs and collections accepted: the `parquet` crate's own skip limit.
/// Valid footers nest about 8 deep (file → row group → column chunk → column metadata →
/// statistics).
const MAX_DEPTH: usize = 64;

/// Compact-protocol type ids (thrift-compact-protocol.md, "Struct encoding").
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const STRUCT: u8 = 12;

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

/// Walk one thrift struct laid out as `fields` at the start of `bytes`; `Ok(its length)`, or
/// `Err((what, byte))`.
fn walk(bytes: &[u8], fields: Fields) -> Result<usize, (String, usize)> {
    let mut w = Walker { bytes, at: 0 };
    w.structure(Some(fields), 1, None)?;
    Ok(w.at)
}

/// Walk a `PageHeader` at the start of `bytes`: its length and its `compressed_page_size`.
fn walk_page_header(bytes: &[u8]) -> Result<(usize, Option<i64>), (String, usize)> {
    let mut w = Walker { bytes, at: 0 };
    let size = w.structure(Some(PAGE_HEADER), 1, Some(3))?;
    Ok((w.at, size))
}

/// A field's type as the `parquet` crate reads it.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Bool,
    I8,
    I16,
    /// Also every enum (`Type`, `Encoding`, `CompressionCodec`, …).
    I32,
    I64,
    Double,
    /// Also `string`.
    Binary,
    /// Also a union.
    Struct(Fields),
    List(&'static Ty),
}

/// A struct's fields: id and type.
type Fields = &'static [(i16, Ty)];

impl Ty {
    /// The compact-protocol type id (thrift-compact-protocol.md, "Struct encoding").
    fn code(self) -> u8 {
        match self {
            Ty::Bool => BOOL_TRUE,
            Ty::I8 => 3,
            Ty::I16 => 4,
            Ty::I32 => 5,
            Ty::I64 => 6,
            Ty::Double => 7,
            Ty::Binary => 8,
            Ty::List(_) => 9,
            Ty::Struct(_) => STRUCT,
        }
    }
}

/// A compact-protocol type id for messages.
fn type_name(code: u8) -> String {
    let name = match code {
        BOOL_TRUE | BOOL_FALSE => "bool",
        3 => "i8",
        4 => "i16",
        5 => "i32",
        6 => "i64",
        7 => "double",
        8 => "binary",
        9 => "list",
        10 => "set",
        11 => "map",
        STRUCT => "struct",
        _ => return format!("unknown ({code})"),
    };
    name.to_string()
}

// The footer and page-header structures of parquet-format's `parquet.thrift`, as the `parquet`
// 57.3.2 crate declares them (`file/metadata/thrift/mod.rs`, `basic.rs`). The crate decodes a
// field it knows by its id whatever type the file declares, and skips the others by their
// declared type; so a known field must be declared with the type listed here, or the crate
// would read its bytes as something else than this walk does. Fields the crate skips
// (the `encryption` feature's, which gfm does not enable) are listed too: a field listed here
// but skipped by the crate is walked alike either way. On a `parquet` upgrade, compare these
// tables with the crate's: a field it reads by id that is missing here reopens the hang.
use Ty::{Binary, Bool, Double, List, Struct, I16, I32, I64, I8};
const EMPTY: Fields = &[];
const KEY_VALUE: Fields = &[(1, Binary), (2, Binary)];
const TIME_UNIT: Fields = &[(1, Struct(EMPTY)), (2, Struct(EMPTY)), (3, Struct(EMPTY))];
const TIMESTAMP_TYPE: Fields = &[(1, Bool), (2, Struct(TIME_UNIT))];
const LOGICAL_TYPE: Fields = &[
    (1, Struct(EMPTY)),
    (2, Struct(EMPTY)),
    (3, Struct(EMPTY)),
    (4, Struct(EMPTY)),
    (5, Struct(&[(1, I32), (2, I32)])),
    (6, Struct(EMPTY)),
    (7, Struct(TIMESTAMP_TYPE)),
    (8, Struct(TIMESTAMP_TYPE)),
    (10, Struct(&[(1, I8), (2, Bool)])),
    (11, Struct(EMPTY)),
    (12, Struct(EMPTY)),
    (13, Struct(EMPTY)),
    (14, Struct(EMPTY)),
    (15, Struct(EMPTY)),
    (16, Struct(&[(1, I8)])),
    (17, Struct(&[(1, Binary)])),
    (18, Struct(&[(1, Binary), (2, I32)])),
];
const SCHEMA_ELEMENT: Fields =
    &[(1, I32), (2, I32), (3, I32), (4, Binary), (5, I32), (6, I32), (7, I32), (8, I32), (9, I32), (10, Struct(LOGICAL_TYPE))];
const STATISTICS: Fields = &[(1, Binary), (2, Binary), (3, I64), (4, I64), (5, Binary), (6, Binary), (7, Bool), (8, Bool)];
const BOUNDING_BOX: Fields = &[(1, Double), (2, Double), (3, Double), (4, Double), (5, Double), (6, Double), (7, Double), (8, Double)];
const COLUMN_META_DATA: Fields = &[
    (1, I32),
    (2, List(&I32)),
    (3, List(&Binary)),
    (4, I32),
    (5, I64),
    (6, I64),
    (7, I64),
    (8, List(&Struct(KEY_VALUE))),
    (9, I64),
    (10, I64),
    (11, I64),
    (12, Struct(STATISTICS)),
    (13, List(&Struct(&[(1, I32), (2, I32), (3, I32)]))),
    (14, I64),
    (15, I32),
    (16, Struct(&[(1, I64), (2, List(&I64)), (3, List(&I64))])),
    (17, Struct(&[(1, Struct(BOUNDING_BOX)), (2, List(&I32))])),
];
const COLUMN_CRYPTO_META_DATA: Fields = &[(1, Struct(EMPTY)), (2, Struct(&[(1, List(&Binary)), (2, Binary)]))];
const COLUMN_CHUNK: Fields = &[
    (1, Binary),
    (2, I64),
    (3, Struct(COLUMN_META_DATA)),
    (4, I64),
    (5, I32),
    (6, I64),
    (7, I32),
    (8, Struct(COLUMN_CRYPTO_META_DATA)),
    (9, Binary),
];
const SORTING_COLUMN: Fields = &[(1, I32), (2, Bool), (3, Bool)];
const ROW_GROUP: Fields =
    &[(1, List(&Struct(COLUMN_CHUNK))), (2, I64), (3, I64), (4, List(&Struct(SORTING_COLUMN))), (5, I64), (6, I64), (7, I16)];
const AES_GCM: Fields = &[(1, Binary), (2, Binary), (3, Bool)];
const FILE_META_DATA: Fields = &[
    (1, I32),
    (2, List(&Struct(SCHEMA_ELEMENT))),
    (3, I64),
    (4, List(&Struct(ROW_GROUP))),
    (5, List(&Struct(KEY_VALUE))),
    (6, Binary),
    (7, List(&Struct(&[(1, Struct(EMPTY))]))),
    (8, Struct(&[(1, Struct(AES_GCM)), (2, Struct(AES_GCM))])),
    (9, Binary),
];
const PAGE_HEADER: Fields = &[
    (1, I32),
    (2, I32),
    (3, I32),
    (4, I32),
    (5, Struct(&[(1, I32), (2, I32), (3, I32), (4, I32), (5, Struct(STATISTICS))])),
    (6, Struct(EMPTY)),
    (7, Struct(&[(1, I32), (2, I32), (3, Bool)])),
    (8, Struct(&[(1, I32), (2, I32), (3, I32), (4, I32), (5, I32), (6, I32), (7, Bool), (8, Struct(STATISTICS))])),
];

/// A bounded reader of the thrift compact protocol
/// (<https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md>):
/// integers are ULEB128 varints (zigzag for signed), a struct is field headers (type in the low
/// nibble, field id delta 1–15 in the high nibble, or 0 and a zigzag i16 id) ending with a 0
/// byte, booleans in a struct are the field type itself (1 true, 2 false) but take one byte in
/// a collection, binary is a varint length and the bytes, a list or set header is one byte
/// (element type low, size 0–14 high, or 15 and a varint size), and a map is a varint size then,
/// unless empty, one byte of key and value types.
///
/// Every collection element takes at least one byte, so a count larger than the bytes left is
/// refused before the walk starts on it, and the walk is linear in the input whatever the counts.
/// It also refuses what would make the `parquet` crate read the bytes differently from it: a
/// known field (see the tables above) of another type than the format's, and any non-empty
/// collection of booleans (no footer or page header holds one, and the crate's skip does not
/// consume their bytes).
struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walker<'_> {
    fn fail<T>(&self, what: impl Into<String>) -> Result<T, (String, usize)> {
        Err((what.into(), self.at))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, (String, usize)> {
        let Some(&b) = self.bytes.get(self.at) else { return self.fail("it ends in the middle of a value") };
        self.at += 1;
        Ok(b)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), (String, usize)> {
        if n > self.remaining() as u64 {
            return self.fail(format!("{what} of {n} bytes runs past the end ({} bytes left)", self.remaining()));
        }
        self.at += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, (String, usize)> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.fail("a varint is longer than 10 bytes")
    }

    fn zigzag(&mut self) -> Result<i64, (String, usize)> {
        let n = self.varint()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// Walk a struct at nesting `depth`, laid out as `fields` when known; the value of integer
    /// field `want` when asked for and present.
    fn structure(&mut self, fields: Option<Fields>, depth: usize, want: Option<i16>) -> Result<Option<i64>, (String, usize)> {
        if depth > MAX_DEPTH {
            return self.fail(format!("structures are nested more than {MAX_DEPTH} deep"));
        }
        let (mut last_id, mut found) = (0i16, None);
        loop {
            let header = self.byte()?;
            let declared = header & 0x0f;
            if declared == 0 {
                return Ok(found);
            }
            let id = match header >> 4 {
                0 => self.zigzag()? as i16,
                delta => last_id.wrapping_add(i16::from(delta)),
            };
            last_id = id;
            let Some(&(_, ty)) = fields.and_then(|f| f.iter().find(|(known, _)| *known == id)) else {
                self.value(declared, depth)?;
                continue;
            };
            let bool_field = matches!(ty, Ty::Bool) && declared == BOOL_FALSE;
            if declared != ty.code() && !bool_field {
                let (declared, expected) = (type_name(declared), type_name(ty.code()));
                return self.fail(format!("field {id} has thrift type {declared} where the parquet format has {expected}"));
            }
            match ty {
                Ty::I16 | Ty::I32 | Ty::I64 if want == Some(id) => found = Some(self.zigzag()?),
                Ty::Bool => {}
                ty => self.known(ty, depth)?,
            }
        }
    }

    /// Walk a value of known type `ty` (not a struct field's bool) inside a structure at `depth`.
    fn known(&mut self, ty: Ty, depth: usize) -> Result<(), (String, usize)> {
        match ty {
            Ty::Struct(fields) => self.structure(Some(fields), depth + 1, None).map(drop),
            Ty::List(element) => {
                let (declared, count) = self.collection_header(depth)?;
                if count > 0 && declared != element.code() {
                    let (declared, expected) = (type_name(declared), type_name(element.code()));
                    return self.fail(format!("a list of {declared} where the parquet format has a list of {expected}"));
                }
                (0..count).try_for_each(|_| self.known(*element, depth + 1))
            }
            other => self.value(other.code(), depth),
        }
    }

    /// Walk a value of declared type `ty` in a field or collection no table describes.
    fn value(&mut self, ty: u8, depth: usize) -> Result<(), (String, usize)> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8, "a double"),
            8 => {
                let len = self.varint()?;
                self.skip(len, "a binary value")
            }
            9 | 10 => {
                let (element, count) = self.collection_header(depth)?;
                self.elements(count, &[element], depth)
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                self.check_count(count, 2, "map")?;
                self.elements(count, &[types >> 4, types & 0x0f], depth)
            }
            STRUCT => self.structure(None, depth + 1, None).map(drop),
            other => self.fail(format!("unknown thrift type {other}")),
        }
    }

    /// Read a list or set header: element type and a count that fits in the bytes left.
    fn collection_header(&mut self, depth: usize) -> Result<(u8, u64), (String, usize)> {
        if depth + 1 > MAX_DEPTH {
            return self.fail(format!("structures are nested more than {MAX_DEPTH} deep"));
        }
        let header = self.byte()?;
        let count = match header >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        self.check_count(count, 1, "list")?;
        Ok((header & 0x0f, count))
    }

    /// Refuse a collection of `count` elements of at least `min_bytes` each that cannot fit.
    fn check_count(&self, count: u64, min_bytes: u64, kind: &str) -> Result<(), (String, usize)> {
        if count.saturating_mul(min_bytes) > self.remaining() as u64 {
            return self.fail(format!("a {kind} declares {count} elements but only {} bytes are left", self.remaining()));
        }
        Ok(())
    }

    /// Walk `count` entries of a collection no table describes, each one value of every type in
    /// `types`.
    fn elements(&mut self, count: u64, types: &[u8], depth: usize) -> Result<(), (String, usize)> {
        if count == 0 {
            return Ok(());
        }
        if types.iter().any(|&t| t == BOOL_TRUE || t == BOOL_FALSE) {
            return self.fail(format!("a collection of {count} booleans, which no parquet footer or page header holds"));
        }
        for _ in 0..count {
            for &ty in types {
                self.value(ty, depth + 1)?;
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
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
