//! NumPy `.npy` and `.npz` embedding tables (format: numpy.lib.format, version 1.0-3.0): a 2-D
//! little-endian float array, C order. Written by hand: the header is a Python dict literal of
//! three keys, and no maintained crate reads it without pulling in ndarray.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::inputs::{check_size, data_bytes, format_err, io_err, truncated};
use super::InputError;

const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

pub(super) fn decode<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes.chunks_exact(N).map(|c| f(c.try_into().expect("chunk size"))).collect()
}

/// NumPy `.npy` v1/v2/v3: little-endian `<f4`/`<f8`, C order, 2-D.
pub(super) fn read_npy(path: &Path) -> Result<(usize, usize, Vec<f32>), InputError> {
    crate::data::compressed::refuse_compressed(path).map_err(io_err(path))?;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_npy(path, &bytes)
}

/// Parse `.npy` bytes (a file, or a member of an `.npz` archive).
fn parse_npy(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<f32>), InputError> {
    let file_len = bytes.len() as u64;
    let bad = |reason: String| InputError::NpyHeader { path: path.to_path_buf(), reason };
    if file_len < 10 {
        return Err(truncated(path, 10, file_len));
    }
    let got = file_len.min(12) as usize;
    let mut prefix = [0u8; 12];
    prefix[..got].copy_from_slice(&bytes[..got]);
    if &prefix[..6] != NPY_MAGIC {
        return Err(bad("missing the \\x93NUMPY magic, so it is not a .npy file; write the matrix with `np.save`".into()));
    }
    let (header_len, header_start) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as u64, 10u64),
        2 | 3 if got == 12 => (u32::from_le_bytes(prefix[8..12].try_into().unwrap()) as u64, 12),
        2 | 3 => return Err(truncated(path, 12, file_len)),
        v => return Err(bad(format!("version {v}.{} is not supported (1, 2, 3 are)", prefix[7]))),
    };
    let data_start = header_start + header_len;
    if data_start > file_len {
        return Err(truncated(path, data_start, file_len));
    }
    let header = &bytes[header_start as usize..data_start as usize];
    let header = String::from_utf8_lossy(&header).into_owned();
    let descr = npy_field(&header, "descr")
        .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
        .ok_or_else(|| bad(format!("no 'descr' in header {header:?}")))?;
    let item = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(bad(format!(
                "dtype {other:?} is not supported; save little-endian float32/float64 \
                 (`arr.astype('<f4')`)"
            )))
        }
    };
    match npy_field(&header, "fortran_order").as_deref() {
        Some("False") => {}
        Some("True") => {
            return Err(bad("Fortran order is not supported; save np.ascontiguousarray(arr)".into()))
        }
        _ => return Err(bad(format!("no 'fortran_order' in header {header:?}"))),
    }
    let shape = npy_field(&header, "shape")
        .ok_or_else(|| bad(format!("no 'shape' in header {header:?}")))?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad(format!("shape {shape} is not a tuple of integers"))))
        .collect::<Result<_, _>>()?;
    let [rows, dim] = dims[..] else {
        let d = dims.len();
        return Err(bad(format!("shape {shape} is {d}-D; the table must be 2-D (genes, dim)")));
    };
    check_size(path, data_bytes(path, rows, dim, item)?, file_len - data_start)?;
    let data = &bytes[data_start as usize..];
    let values = if item == 4 {
        decode::<4>(data, f32::from_le_bytes)
    } else {
        decode::<8>(data, |b| f64::from_le_bytes(b) as f32)
    };
    Ok((rows, dim, values))
}

/// NumPy `.npz` (zip of `.npy` members, stored or deflated): the member `array` (with or without
/// `.npy`), or the only member when `array` is `None`.
pub(super) fn read_npz(path: &Path, array: Option<&str>) -> Result<(usize, usize, Vec<f32>), InputError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format_err(path, format!("not a readable .npz (zip) archive: {e}; check that the file is complete, or write it again with `np.savez`")))?;
    let names: Vec<String> = zip.file_names().map(|n| n.trim_end_matches(".npy").to_string()).collect();
    let index = match array {
        Some(want) => names.iter().position(|n| n == want.trim_end_matches(".npy")).ok_or_else(|| {
            format_err(path, format!("no array {want:?} in the archive; it holds {names:?}: name one of them with `array = \"...\"`"))
        })?,
        None if names.len() == 1 => 0,
        None => {
            return Err(format_err(path, format!(
                "the archive holds {} arrays {names:?}; name one with `array = \"...\"`", names.len())))
        }
    };
    let mut member = zip.by_index(index).map_err(|e| format_err(path, format!("zip member {index}: {e}")))?;
    let mut bytes = Vec::with_capacity(member.size().min(1 << 32) as usize);
    member.read_to_end(&mut bytes).map_err(io_err(path))?;
    parse_npy(path, &bytes)
}

/// Raw text of `'key': value` in a NumPy header dict; tuples kept whole.
pub(super) fn npy_field(header: &str, key: &str) -> Option<String> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = header[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim().to_string())
}
