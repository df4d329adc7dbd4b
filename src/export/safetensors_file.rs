//! Reading and writing `.safetensors` files (format: github.com/huggingface/safetensors, README
//! "Format": 8-byte little-endian header length N, N bytes of JSON header, then the tensor bytes).
//!
//! The header is validated here by hand, before any tensor byte is read or allocated, because the
//! `safetensors` crate validates only a file already read (or mapped) whole, and its errors name
//! neither the file nor the tensor. Checks: N against the file size and a 100 MB cap; the JSON
//! shape; every dtype known; element count x dtype size == the tensor's byte range (checked
//! arithmetic); ranges inside the data section, non-overlapping and covering it exactly (so a
//! truncated file is caught). Writing uses the `safetensors` crate.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use serde::Deserialize;

use super::keys::HostTensor;
use super::{ExportDtype, ImportError};

/// Largest header accepted (the `safetensors` crate's own limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Where one tensor lives, after its header entry was validated.
#[derive(Debug, Clone)]
pub struct TensorHeader {
    pub file: PathBuf,
    /// dtype as written in the header (`F32`, `BF16`, ...).
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Absolute byte offset of the first element in `file`.
    pub offset: u64,
    pub bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

fn bad(file: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::BadSafetensors { file: file.to_path_buf(), reason: reason.into() }
}

/// Size in bytes of one element, for the dtypes of the safetensors spec (sub-byte ones excluded).
fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// Read and validate the header of one safetensors file. Reads at most the header bytes.
pub fn read_header(file: &Path) -> Result<BTreeMap<String, TensorHeader>, ImportError> {
    let io = |source| ImportError::Io { path: file.to_path_buf(), source };
    let mut f = File::open(file).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut len_bytes = [0u8; 8];
    if file_len < 8 {
        return Err(bad(file, format!("file has {file_len} bytes, fewer than the 8-byte header length; it is truncated or not safetensors")));
    }
    f.read_exact(&mut len_bytes).map_err(io)?;
    let n = u64::from_le_bytes(len_bytes);
    if n > file_len - 8 {
        return Err(bad(file, format!("header length {n} exceeds the file size {file_len}; the file is truncated or not safetensors")));
    }
    if n > MAX_HEADER_BYTES {
        return Err(bad(file, format!("header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io)?;
    let raw: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| bad(file, format!("header is not a JSON object: {e}")))?;
    let data_start = 8 + n;
    let data_len = file_len - data_start;
    let mut out = BTreeMap::new();
    let mut ranges = Vec::new();
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let e: RawEntry = serde_json::from_value(value)
            .map_err(|err| bad(file, format!("tensor {name}: malformed header entry ({err})")))?;
        let size = dtype_bytes(&e.dtype).ok_or_else(|| bad(file, format!("tensor {name}: unknown dtype {}", e.dtype)))?;
        let need = e
            .shape
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad(file, format!("tensor {name}: shape {:?} overflows", e.shape)))?;
        let [start, end] = e.data_offsets;
        if start > end || end > data_len {
            return Err(bad(file, format!(
                "tensor {name}: data_offsets [{start}, {end}] are outside the {data_len} bytes of tensor data; the file is truncated or corrupted"
            )));
        }
        if end - start != need {
            return Err(bad(file, format!(
                "tensor {name}: dtype {} x shape {:?} needs {need} bytes but data_offsets span {}",
                e.dtype, e.shape, end - start
            )));
        }
        let shape = e.shape.iter().map(|&d| usize::try_from(d)).collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad(file, format!("tensor {name}: shape {:?} does not fit this machine", e.shape)))?;
        ranges.push((start, end, name.clone()));
        out.insert(name, TensorHeader { file: file.to_path_buf(), dtype: e.dtype, shape, offset: data_start + start, bytes: need });
    }
    ranges.sort();
    for pair in ranges.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(bad(file, format!("tensor {}: data_offsets overlap those of tensor {}", pair[1].2, pair[0].2)));
        }
    }
    let mut covered = 0;
    for (start, end, name) in &ranges {
        if *start > covered {
            return Err(bad(file, format!("tensor {name}: {} unused bytes before its data", start - covered)));
        }
        covered = *end;
    }
    if covered != data_len {
        return Err(bad(file, format!("the header describes {covered} bytes of tensor data but the file holds {data_len}")));
    }
    Ok(out)
}

/// Read one tensor (validated by [`read_header`]) and convert it to f32.
pub fn read_tensor(name: &str, h: &TensorHeader) -> Result<HostTensor, ImportError> {
    let io = |source| ImportError::Io { path: h.file.clone(), source };
    let mut f = File::open(&h.file).map_err(io)?;
    f.seek(SeekFrom::Start(h.offset)).map_err(io)?;
    let mut bytes = vec![0u8; h.bytes as usize];
    f.read_exact(&mut bytes).map_err(|e| bad(&h.file, format!("tensor {name}: cannot read its data ({e}); the file changed or is truncated")))?;
    let data: Vec<f32> = match h.dtype.as_str() {
        "F32" => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        "F16" => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        "BF16" => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        "F64" => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        other => {
            return Err(ImportError::Dtype { file: h.file.clone(), tensor: name.to_string(), dtype: other.to_string() });
        }
    };
    // A NaN or infinite weight (a checkpoint saved after a diverged step, or F64 beyond the f32
    // range) would only surface later as a non-finite loss far from its cause.
    let bad_values = data.iter().filter(|v| !v.is_finite()).count();
    if let Some(first) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(&h.file, format!(
            "tensor {name} holds {bad_values} non-finite value(s) (first at flat index {first}: {}); gfm loads only finite weights: use a checkpoint saved before training diverged",
            data[first]
        )));
    }
    Ok(HostTensor { shape: h.shape.clone(), data })
}

/// Encode f32 values in `dtype` (little-endian; bf16/f16 round to nearest even via `half`).
fn encode(data: &[f32], dtype: ExportDtype) -> Vec<u8> {
    match dtype {
        ExportDtype::F32 => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ExportDtype::Bf16 => data.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect(),
        ExportDtype::F16 => data.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect(),
    }
}

/// Write `tensors` to `file` in `dtype`, with header metadata `{"format": "pt"}` (transformers
/// refuses files without it). Returns the file size in bytes.
pub fn write(file: &Path, tensors: &[(String, HostTensor)], dtype: ExportDtype) -> Result<u64, safetensors::SafeTensorError> {
    let st_dtype = match dtype {
        ExportDtype::F32 => Dtype::F32,
        ExportDtype::Bf16 => Dtype::BF16,
        ExportDtype::F16 => Dtype::F16,
    };
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.shape.clone(), encode(&t.data, dtype))).collect();
    let views = encoded
        .iter()
        .map(|(n, shape, bytes)| TensorView::new(st_dtype, shape.clone(), bytes).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), file)?;
    Ok(std::fs::metadata(file)?.len())
}
