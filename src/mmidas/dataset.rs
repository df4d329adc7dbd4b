//! From the `[mmidas]` section to aligned, standardised tables and optional reference labels.

use std::collections::HashMap;
use std::path::Path;

use super::config::{ModalitySpec, TableFormat};
use super::{align, mnist, read_table_as, standardize, Aligned, InputError};

/// Read every modality, align them by id, then standardise those that ask for it.
pub fn load_modalities(specs: &[ModalitySpec]) -> Result<Aligned, InputError> {
    let mut tables = Vec::with_capacity(specs.len());
    for m in specs {
        let t = if m.format == TableFormat::MnistIdx {
            mnist::read_images(&m.path, m.view, m.limit, &m.name)?
        } else {
            read_table_as(&m.path, m.ids.as_deref(), &m.name, m.format, m.array.as_deref())?
        };
        tables.push(t);
    }
    let mut aligned = align(tables)?;
    for (t, m) in aligned.tables.iter_mut().zip(specs) {
        if m.standardize {
            standardize(t);
        }
    }
    Ok(aligned)
}

/// Reference labels by id: an MNIST IDX label file, or TSV `id<TAB>label` (a first line whose id
/// is `id`, `gene` or `gene_id` is a header).
pub fn read_reference_labels(path: &Path) -> Result<HashMap<String, String>, InputError> {
    let name = path.to_string_lossy();
    if name.contains("idx1-ubyte") {
        return Ok(mnist::read_labels(path)?.into_iter().collect());
    }
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Io { path: path.to_path_buf(), source })?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Some((id, label)) = line.split_once('\t') else {
            return Err(InputError::Format { path: path.to_path_buf(), reason: format!("line {}: expected `id<TAB>label`", i + 1) });
        };
        if i == 0 && ["id", "gene", "gene_id"].contains(&id.trim()) {
            continue;
        }
        if out.insert(id.trim().to_string(), label.trim().to_string()).is_some() {
            return Err(InputError::Format { path: path.to_path_buf(), reason: format!("line {}: id {id:?} is labelled twice", i + 1) });
        }
    }
    Ok(out)
}
