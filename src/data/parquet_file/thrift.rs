//! The thrift compact protocol walker of [`super`]: the footer and page-header field tables of
//! the parquet format (apache/parquet-format `parquet.thrift`, as the `parquet` crate 57.3.2
//! reads them) and a bounded walk over their encoding (apache/thrift
//! `doc/specs/thrift-compact-protocol.md`). Why it is hand-written: see [`super`].

/// Deepest nesting of structs and collections accepted: the `parquet` crate's own skip limit.
/// Valid footers nest about 8 deep (file → row group → column chunk → column metadata →
/// statistics).
pub(super) const MAX_DEPTH: usize = 64;

/// Compact-protocol type ids (thrift-compact-protocol.md, "Struct encoding").
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const STRUCT: u8 = 12;


/// Walk one thrift struct laid out as `fields` at the start of `bytes`; `Ok(its length)`, or
/// `Err((what, byte))`.
pub(super) fn walk(bytes: &[u8], fields: Fields) -> Result<usize, (String, usize)> {
    let mut w = Walker { bytes, at: 0 };
    w.structure(Some(fields), 1, None)?;
    Ok(w.at)
}

/// Walk a `PageHeader` at the start of `bytes`: its length and its `compressed_page_size`.
pub(super) fn walk_page_header(bytes: &[u8]) -> Result<(usize, Option<i64>), (String, usize)> {
    let mut w = Walker { bytes, at: 0 };
    let size = w.structure(Some(PAGE_HEADER), 1, Some(3))?;
    Ok((w.at, size))
}

/// A field's type as the `parquet` crate reads it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty {
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
pub(super) type Fields = &'static [(i16, Ty)];

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
pub(super) const EMPTY: Fields = &[];
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
pub(super) const STATISTICS: Fields = &[(1, Binary), (2, Binary), (3, I64), (4, I64), (5, Binary), (6, Binary), (7, Bool), (8, Bool)];
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
pub(super) const FILE_META_DATA: Fields = &[
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
pub(super) const PAGE_HEADER: Fields = &[
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
