//! The one way gfm opens a file that may be compressed: gzip is recognised by its magic bytes
//! `1f 8b`, not by the file name, and concatenated gzip members (bgzip) are read whole. Other
//! compressions and archives are recognised by their magic bytes too and refused with the
//! command that decompresses them, so they never reach a parser as garbage. [`open_text`] also
//! skips a UTF-8 byte-order mark and reads old Mac (CR-only) line ends as line ends.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The first two bytes of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The UTF-8 encoding of U+FEFF, which Windows editors write at the start of "UTF-8" files.
pub const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Compressions and archives gfm recognises but does not read: magic bytes at offset 0, name,
/// and the command that makes a plain file (`FILE` stands for the path). Magic numbers from
/// each format's specification: zstd RFC 8878 §3.1.1; bzip2 `BZh` + block size `1`–`9`;
/// xz file format 1.0.4 §2.1.1.1; zip PKWARE APPNOTE §4.3.7 (local header) and §4.3.16 (empty
/// archive); 7z 7zFormat.txt; LZ4 frame format §"General structure"; Unix `compress` `1f 9d`;
/// RAR 4/5 `Rar!\x1a\x07`.
const UNREAD_FORMATS: &[(&[u8], &str, &str)] = &[
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", "zstd -d FILE"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz", "xz -dk FILE"),
    (b"PK\x03\x04", "zip", "unzip FILE"),
    (b"PK\x05\x06", "zip", "unzip FILE"),
    (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7z", "7z x FILE"),
    (&[0x04, 0x22, 0x4d, 0x18], "lz4", "lz4 -d FILE"),
    (&[0x1f, 0x9d], "Unix compress (.Z)", "uncompress FILE"),
    (b"Rar!\x1a\x07", "RAR", "unrar x FILE"),
];

/// A file whose bytes show a format gfm does not read.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{path} is {format}-compressed (recognised by its first bytes), which gfm does not read here; decompress it first with `{command}`")]
    Compressed { path: PathBuf, format: &'static str, command: String },
    #[error("{path} is UTF-16 text (it starts with the byte-order mark {bom}); save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 {path} > out`")]
    Utf16 { path: PathBuf, bom: &'static str },
}

/// The format of `head` (a file's first bytes, at least 262 for tar) if it is one gfm
/// recognises but does not read: `(name, command)` with `FILE` in the command.
pub fn unread_format(head: &[u8]) -> Option<(&'static str, &'static str)> {
    if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        return Some(("bzip2", "bunzip2 -k FILE"));
    }
    if head.get(257..262) == Some(&b"ustar"[..]) {
        return Some(("tar (an archive)", "tar -xf FILE"));
    }
    UNREAD_FORMATS.iter().find(|(magic, _, _)| head.starts_with(magic)).map(|&(_, name, command)| (name, command))
}

/// Refuse `head` when it starts a format gfm does not read.
fn check_readable(path: &Path, head: &[u8]) -> std::io::Result<()> {
    match unread_format(head) {
        Some((format, command)) => {
            let command = command.replace("FILE", &path.display().to_string());
            let e = ContainerError::Compressed { path: path.into(), format, command };
            Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }
        None => Ok(()),
    }
}

/// Refuse a file that must be read as it is (parquet, `.npy`) when it is compressed, gzip
/// included: a compressed binary table would otherwise fail deep in its parser, or not at all.
///
/// # Errors
/// The file cannot be read, or it starts with a compression's magic bytes (an `InvalidData`
/// error holding a [`ContainerError`] that names the format and the command).
pub fn refuse_compressed(path: &Path) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    File::open(path)?.take(512).read_to_end(&mut head)?;
    if head.starts_with(&GZIP_MAGIC) {
        let command = format!("gunzip -k {}", path.display());
        let e = ContainerError::Compressed { path: path.into(), format: "gzip", command };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
    check_readable(path, &head)
}

/// A buffered reader of the file's content, gunzipped when it starts with [`GZIP_MAGIC`].
///
/// # Errors
/// The file cannot be read, or it is in a compression or archive format gfm does not read
/// ([`unread_format`]; an `InvalidData` error holding a [`ContainerError`]).
pub fn open_maybe_gz(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let head = reader.fill_buf()?;
    check_readable(path, head)?;
    if head.starts_with(&GZIP_MAGIC) {
        let mut inner = BufReader::new(flate2::bufread::MultiGzDecoder::new(reader));
        check_readable(path, inner.fill_buf()?)?;
        Ok(Box::new(inner))
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

/// A text file's content as [`open_maybe_gz`] gives it, with a leading UTF-8 byte-order mark
/// skipped and, when the first block holds carriage returns but no line feed (old Mac OS line
/// ends), every CR read as LF. Windows CRLF is left to the parsers, which all accept it.
///
/// # Errors
/// As [`open_maybe_gz`], and UTF-16 text (`FF FE` or `FE FF` first), refused with
/// [`ContainerError::Utf16`] inside an `InvalidData` error.
pub fn open_text(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut reader = open_maybe_gz(path)?;
    let head = reader.fill_buf()?;
    let bom = match head {
        [0xff, 0xfe, ..] => Some("FF FE"),
        [0xfe, 0xff, ..] => Some("FE FF"),
        _ => None,
    };
    if let Some(bom) = bom {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, ContainerError::Utf16 { path: path.into(), bom }));
    }
    if head.starts_with(&UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    let head = reader.fill_buf()?;
    if head.contains(&b'\r') && !head.contains(&b'\n') {
        return Ok(Box::new(BufReader::new(CrAsLf(reader))));
    }
    Ok(reader)
}

/// Reads every carriage return as a line feed (for files with old Mac OS line ends).
struct CrAsLf<R>(R);

impl<R: Read> Read for CrAsLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        for b in &mut buf[..n] {
            if *b == b'\r' {
                *b = b'\n';
            }
        }
        Ok(n)
    }
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

    fn text_of(path: &Path) -> std::io::Result<String> {
        let mut s = String::new();
        open_text(path)?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn text_skips_a_bom_and_reads_cr_only_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bom.fa");
        std::fs::write(&path, b"\xef\xbb\xbf>r1\nACGT\n").unwrap();
        assert_eq!(text_of(&path).unwrap(), ">r1\nACGT\n");
        std::fs::write(&path, b"\xef\xbb\xbf>r1\rACGT\rAC\r").unwrap();
        assert_eq!(text_of(&path).unwrap(), ">r1\nACGT\nAC\n");
        std::fs::write(&path, b">r1\r\nACGT\r\n").unwrap();
        assert_eq!(text_of(&path).unwrap(), ">r1\r\nACGT\r\n", "CRLF is left alone");
        std::fs::write(&path, b"\xff\xfe>\x00r\x00").unwrap();
        let e = text_of(&path).unwrap_err().to_string();
        assert!(e.contains("bom.fa") && e.contains("UTF-16") && e.contains("iconv"), "{e}");
    }

    #[test]
    fn other_compressions_are_named_with_the_command_that_decompresses_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = vec![0u8; 512];
        tar[..6].copy_from_slice(b"x.fa\0\0");
        tar[257..263].copy_from_slice(b"ustar\0");
        let cases: [(&str, Vec<u8>, &str, &str); 8] = [
            ("a.fa.zst", vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0], "zstd", "zstd -d"),
            ("a.fa.bz2", b"BZh91AY&SY".to_vec(), "bzip2", "bunzip2"),
            ("a.fa.xz", vec![0xfd, b'7', b'z', b'X', b'Z', 0, 0], "xz", "xz -dk"),
            ("a.zip", b"PK\x03\x04\x14\x00".to_vec(), "zip", "unzip"),
            ("a.7z", vec![b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, 0], "7z", "7z x"),
            ("a.fa.lz4", vec![0x04, 0x22, 0x4d, 0x18, 0], "lz4", "lz4 -d"),
            ("a.tar", tar, "tar", "tar -xf"),
            ("a.txt", b"BZh is text here".to_vec(), "", ""),
        ];
        for (name, bytes, format, command) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            match open_maybe_gz(&path) {
                Ok(_) => assert!(format.is_empty(), "{name} was not recognised"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(name) && msg.contains(format) && msg.contains(command), "{name}: {msg}");
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                }
            }
        }
        // zstd inside gzip is named too.
        let path = dir.path().join("double.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2]).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert!(open_maybe_gz(&path).err().map(|e| e.to_string()).unwrap_or_default().contains("zstd"));
        // A binary format read as it is: gzip is refused too.
        let e = refuse_compressed(&path).unwrap_err().to_string();
        assert!(e.contains("double.gz is gzip-compressed") && e.contains("gunzip -k"), "{e}");
        assert!(refuse_compressed(&dir.path().join("a.txt")).is_ok());
    }
}
