//! Listing a data folder, the one rule every folder reader follows: entries sorted by name, and
//! hidden entries (names starting with `.`) skipped and reported. Hidden entries are never data:
//! macOS writes an AppleDouble `._<name>` beside every file copied to a non-Apple volume or into
//! a zip (its resource fork and extended attributes, binary), and `.DS_Store`, `.ipynb_checkpoints`
//! or `.git` are tool state. Reading `._a.txt` as a sequence or `.ipynb_checkpoints` as a class
//! would be a silent wrong result.

use std::path::{Path, PathBuf};

/// The entries of one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Visible entries that pass the caller's filter, sorted by file name.
    pub entries: Vec<PathBuf>,
    /// Names of the hidden entries skipped, sorted.
    pub hidden: Vec<String>,
}

impl Listing {
    /// The note to print when hidden entries were skipped, e.g. `skipped 2 hidden entries in
    /// data/train (._0.txt, .DS_Store): macOS AppleDouble files and tool state are not data`.
    pub fn note(&self, dir: &Path) -> Option<String> {
        if self.hidden.is_empty() {
            return None;
        }
        let shown: Vec<&str> = self.hidden.iter().take(5).map(String::as_str).collect();
        let more = if self.hidden.len() > 5 { ", …" } else { "" };
        Some(format!(
            "skipped {} hidden entries in {} ({}{more}): names starting with '.' (macOS AppleDouble `._*` files, .DS_Store, tool state) are not data",
            self.hidden.len(),
            dir.display(),
            shown.join(", ")
        ))
    }
}

/// Whether a file name is hidden (starts with `.`; `._*` AppleDouble files included).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// List `dir`: the visible entries for which `keep` holds, sorted by name, and every hidden
/// entry's name.
///
/// # Errors
/// The folder cannot be read.
pub fn list_folder(dir: &Path, keep: impl Fn(&Path) -> bool) -> std::io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            listing.hidden.push(name);
        } else if keep(&entry.path()) {
            listing.entries.push(entry.path());
        }
    }
    listing.entries.sort();
    listing.hidden.sort();
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_entries_are_skipped_and_named() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "a.txt", "._a.txt", ".DS_Store"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join(".ipynb_checkpoints")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let listing = list_folder(dir.path(), |p| p.is_file()).unwrap();
        let names: Vec<_> = listing.entries.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert_eq!(listing.hidden, [".DS_Store", "._a.txt", ".ipynb_checkpoints"]);
        let note = listing.note(dir.path()).unwrap();
        assert!(note.contains("skipped 3 hidden entries") && note.contains("._a.txt") && note.contains("AppleDouble"), "{note}");
        assert_eq!(list_folder(dir.path(), |p| p.is_dir()).unwrap().entries.len(), 1);
    }
}
