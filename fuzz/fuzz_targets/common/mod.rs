//! Shared by every target: the fuzz input goes to one file in a per-process temp directory
//! (most gfm readers take a path), reused across executions.

use std::path::PathBuf;
use std::sync::OnceLock;

/// This process's scratch directory, created once.
pub fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gfm-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Write `data` to `<scratch>/<name>` and return its path.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, data).expect("write the fuzz input");
    path
}
