//! Third-party parsers that panic on malformed input instead of returning an error.
//!
//! The `tokenizers` crate (a BPE whose `continuing_subword_prefix` does not match its merges,
//! a merge shorter than its prefix) and the `parquet` crate (a thrift footer missing a required
//! field) were found to panic on user files by `cargo fuzz` (fuzz/README.md). A user's file must
//! give a message naming it, not a crash, so their parse calls run under [`catch`]. The same goes
//! for probing a backend for a feature it may lack (`model::precision::check_supported`).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `parse`; a panic inside it becomes `Err(message)`.
///
/// The process's panic hook still runs (it prints the panic to stderr); the caller turns the
/// message into its own typed error naming the file.
pub fn catch<T>(parse: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(parse)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(super::catch(|| 7), Ok(7));
        assert_eq!(super::catch(|| -> u8 { panic!("bad footer {}", 3) }), Err("bad footer 3".to_string()));
        assert_eq!(super::catch(|| -> u8 { panic!("static") }), Err("static".to_string()));
    }
}
