//! The one way gfm opens a file that may be gzip-compressed: gzip is recognised by its magic
//! bytes `1f 8b`, not by the file name, and concatenated gzip members (bgzip) are read whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The first two bytes of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A buffered reader of the file's content, gunzipped when it starts with [`GZIP_MAGIC`].
pub fn open_maybe_gz(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut reader = BufReader::new(File::open(path)?);
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

/// The whole content of the file, gunzipped when it starts with [`GZIP_MAGIC`].
pub fn read_maybe_gz(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_maybe_gz(path)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_recognised_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.gz");
        std::fs::write(&plain, b"plain text").unwrap();
        assert_eq!(read_maybe_gz(&plain).unwrap(), b"plain text");
        let packed = dir.path().join("b.txt");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"packed").unwrap();
        let mut bytes = gz.finish().unwrap();
        // A second member, as bgzip writes them.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b" twice").unwrap();
        bytes.extend(gz.finish().unwrap());
        std::fs::write(&packed, bytes).unwrap();
        assert_eq!(read_maybe_gz(&packed).unwrap(), b"packed twice");
    }
}
