//! Small grayscale images (28 x 28, MNIST-sized) for the VQ-VAE and image tokens: the MNIST IDX
//! reader, a labelled PNG-folder reader, and PNG writers for single images and comparison grids.
//!
//! Pixels are `u8` on disk and `f32` in `[0, 1]` (`value / 255`) in tensors. An image is always
//! row-major, 784 values (`y * 28 + x`), white = 1 (MNIST: white digit on black). Every PNG
//! colour type becomes grey by one rule, [`to_grey`] (alpha composited onto white, BT.709 luma),
//! and a set of mostly constant images is refused ([`check_not_constant`]).
//!
//! IDX format (LeCun et al., <http://yann.lecun.com/exdb/mnist/>): a big-endian header
//! `0x00 0x00 <type 0x08 = u8> <ndim>`, then `ndim` big-endian `u32` sizes, then the data.
//! Images are `ndim = 3` (`0x00000803`: count, rows, cols), labels `ndim = 1` (`0x00000801`).
//! Files may be gzip-compressed (detected by the gzip magic, not the file name).

use std::path::{Path, PathBuf};

/// Image side in pixels.
pub const SIDE: usize = 28;
/// Pixels per image, `SIDE * SIDE`.
pub const PIXELS: usize = SIDE * SIDE;

/// One 28 x 28 grayscale image, row-major.
pub type Image = [u8; PIXELS];

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}; check the path (relative paths in an experiment are relative to the experiment file)")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an IDX {what} file: magic {found:#010x}, expected {expected:#010x}; give the MNIST `*-{what}-idx*-ubyte[.gz]` file here (check that images and labels are not swapped)")]
    BadMagic { path: PathBuf, what: &'static str, found: u32, expected: u32 },
    #[error("{path} is truncated: the header promises {expected} bytes of data but the file holds {found}; download it again")]
    Truncated { path: PathBuf, expected: u64, found: u64 },
    #[error("{path} holds {rows} x {cols} images; only {SIDE} x {SIDE} images are supported")]
    WrongSize { path: PathBuf, rows: usize, cols: usize },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels; use the matching pair of files")]
    CountMismatch { images: PathBuf, n_images: usize, labels: PathBuf, n_labels: usize },
    #[error("cannot decode image {path}: {message}; check that it is a complete PNG file, or export it again")]
    Decode { path: PathBuf, message: String },
    #[error("{path}: no PNG images found in its sub-folders; expect <dir>/<label>/<image>.png")]
    EmptyFolder { path: PathBuf },
    #[error("{path}: {constant} of {total} images are constant (every pixel within {CONSTANT_RANGE} grey levels, e.g. all {value}), so the set has no content to learn; check how the images were drawn (ink only in the alpha channel is composited onto white, see data::images::to_grey) and export them as grey or opaque RGB")]
    Constant { path: PathBuf, constant: usize, total: usize, value: u8 },
    #[error("{path} is {width} x {height} pixels; gfm reads square images (resized to {SIDE} x {SIDE}) and would squash this one; crop or pad it to a square")]
    NotSquare { path: PathBuf, width: u32, height: u32 },
    #[error("cannot write image {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Images with class indices into `classes`.
#[derive(Debug, Clone, Default)]
pub struct LabelledImages {
    pub images: Vec<Image>,
    /// `labels[i]` indexes `classes`; same length as `images`.
    pub labels: Vec<u32>,
    /// Class names; MNIST: `"0"` .. `"9"` (so a label equals its digit).
    pub classes: Vec<String>,
    /// What the reader skipped that the caller should print (hidden files of a PNG folder).
    pub notes: Vec<String>,
}

impl LabelledImages {
    /// Keep only the images whose label is in `keep` (in file order).
    pub fn filter_labels(&mut self, keep: &[u32]) {
        let (images, labels) = std::mem::take(&mut self.images)
            .into_iter()
            .zip(std::mem::take(&mut self.labels))
            .filter(|(_, l)| keep.contains(l))
            .unzip();
        self.images = images;
        self.labels = labels;
    }

    /// Keep the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        self.images.truncate(n);
        self.labels.truncate(n);
    }
}

/// Pixels in `[0, 1]`.
pub fn to_unit(img: &Image) -> [f32; PIXELS] {
    let mut out = [0f32; PIXELS];
    for (o, &p) in out.iter_mut().zip(img.iter()) {
        *o = p as f32 / 255.0;
    }
    out
}

/// The whole file, gunzipped when it starts with the gzip magic `1f 8b`.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, ImageError> {
    super::compressed::read_maybe_gz(path).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })
}

/// An IDX file (`.gz` or raw) of `ndim` dimensions of `u8` (yann.lecun.com/exdb/mnist):
/// big-endian magic `0x0000_08NN`, `ndim` u32 sizes, then the data. Returns the sizes and the
/// data; `what` names the file kind in errors (`images`, `labels`).
pub fn read_idx(path: &Path, ndim: u8, what: &'static str) -> Result<(Vec<usize>, Vec<u8>), ImageError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, data) = idx_header(path, &bytes, ndim, what)?;
    Ok((dims, data.to_vec()))
}

/// Check the magic and read the `ndim` sizes; returns the sizes and the data after the header.
fn idx_header<'a>(path: &Path, bytes: &'a [u8], ndim: u8, what: &'static str) -> Result<(Vec<usize>, &'a [u8]), ImageError> {
    let expected = 0x0000_0800 | ndim as u32;
    let head = 4 + 4 * ndim as usize;
    if bytes.len() < 4 {
        return Err(ImageError::BadMagic { path: path.to_path_buf(), what, found: 0, expected });
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != expected {
        return Err(ImageError::BadMagic { path: path.to_path_buf(), what, found, expected });
    }
    if bytes.len() < head {
        return Err(ImageError::Truncated { path: path.to_path_buf(), expected: head as u64, found: bytes.len() as u64 });
    }
    let dims: Vec<usize> = (0..ndim as usize)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let data = &bytes[head..];
    // Three u32 sizes can overflow u64; such a header cannot describe the data that follows.
    let need = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).unwrap_or(u64::MAX);
    if (data.len() as u64) < need {
        return Err(ImageError::Truncated { path: path.to_path_buf(), expected: need, found: data.len() as u64 });
    }
    Ok((dims, &data[..need as usize]))
}

/// Read an IDX3 image file (`.gz` or raw) of 28 x 28 `u8` images.
pub fn read_idx_images(path: &Path) -> Result<Vec<Image>, ImageError> {
    let (dims, data) = read_idx(path, 3, "images")?;
    if dims[1] != SIDE || dims[2] != SIDE {
        return Err(ImageError::WrongSize { path: path.to_path_buf(), rows: dims[1], cols: dims[2] });
    }
    let images: Vec<Image> = data.chunks_exact(PIXELS).map(|c| c.try_into().expect("PIXELS bytes")).collect();
    check_not_constant(path, &images)?;
    Ok(images)
}

/// Read an IDX1 label file (`.gz` or raw).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, ImageError> {
    Ok(read_idx(path, 1, "labels")?.1)
}

/// Read an MNIST pair of image and label files; classes are `"0"` .. `"9"`.
pub fn read_mnist(images: &Path, labels: &Path) -> Result<LabelledImages, ImageError> {
    let imgs = read_idx_images(images)?;
    let labs = read_idx_labels(labels)?;
    if imgs.len() != labs.len() {
        return Err(ImageError::CountMismatch {
            images: images.to_path_buf(), n_images: imgs.len(), labels: labels.to_path_buf(), n_labels: labs.len(),
        });
    }
    Ok(LabelledImages { images: imgs, labels: labs.into_iter().map(u32::from).collect(), classes: (0..10).map(|d| d.to_string()).collect(), notes: Vec::new() })
}

/// Background that transparent pixels are composited onto: white, `1.0`.
///
/// Why white: it is what image viewers and browsers show behind a transparent PNG, so gfm trains
/// on the picture a person sees when opening the file. Digits drawn as black ink in the alpha
/// channel (RGB all zero, the case `png-alpha-flattened`) become dark digits on white, the reverse
/// of MNIST's polarity but with the digit intact; on a black background they would vanish. The
/// reverse case (white ink on transparency) becomes all white and is caught by
/// [`check_not_constant`], never trained on silently.
pub const ALPHA_BACKGROUND: f32 = 1.0;

/// Images whose pixels all lie within this many grey levels (of 255) of each other carry no
/// pattern: they are "constant".
pub const CONSTANT_RANGE: u8 = 2;

/// The one rule that turns any decoded image (every PNG colour type: grey, grey + alpha, RGB,
/// RGBA, palette (expanded to RGB(A) by the decoder, `tRNS` to alpha), 8 or 16 bits per
/// channel) into one grey level per pixel in `[0, 1]`:
///
/// 1. each channel as a fraction of its maximum (`v / 255` or `v / 65535`);
/// 2. alpha composited onto [`ALPHA_BACKGROUND`] with Porter–Duff "over" in the stored
///    (sRGB-encoded) values, as browsers do (W3C Compositing and Blending, §5):
///    `c' = a·c + (1 − a)·background`; an image without alpha has `a = 1`;
/// 3. colour to grey by the BT.709 luma `Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'` (ITU-R BT.709,
///    the coefficients of the `image` crate's `to_luma8`); grey images keep their value.
///
/// # Shapes
/// `img`: `[height, width]` pixels → `[height * width]` grey values, row-major.
pub fn to_grey(img: &image::DynamicImage) -> Vec<f32> {
    let over = |c: f32, a: f32| a * c + (1.0 - a) * ALPHA_BACKGROUND;
    match img.color() {
        image::ColorType::L8 | image::ColorType::L16 | image::ColorType::La8 | image::ColorType::La16 => {
            img.to_luma_alpha32f().pixels().map(|p| over(p.0[0], p.0[1])).collect()
        }
        _ => img
            .to_rgba32f()
            .pixels()
            .map(|p| {
                let [r, g, b, a] = p.0;
                0.2126 * over(r, a) + 0.7152 * over(g, a) + 0.0722 * over(b, a)
            })
            .collect(),
    }
}

/// Read one image file (PNG, or any format the `image` crate was built with) as 28 x 28 grey,
/// converted by [`to_grey`]. Other square sizes are resized (triangle filter); a non-square image
/// is refused ([`ImageError::NotSquare`]) rather than squashed. No inversion: MNIST-like opaque
/// inputs stay light on dark.
pub fn read_png(path: &Path) -> Result<Image, ImageError> {
    let img = image::open(path).map_err(|e| ImageError::Decode { path: path.to_path_buf(), message: e.to_string() })?;
    let (w, h) = (img.width(), img.height());
    if w != h {
        return Err(ImageError::NotSquare { path: path.to_path_buf(), width: w, height: h });
    }
    let raw: Vec<u8> = to_grey(&img).iter().map(|&v| unit_to_u8(v)).collect();
    let mut gray = image::GrayImage::from_raw(w, h, raw)
        .ok_or_else(|| ImageError::Decode { path: path.to_path_buf(), message: format!("{w} x {h} pixels do not fill the image") })?;
    if gray.width() as usize != SIDE || gray.height() as usize != SIDE {
        gray = image::imageops::resize(&gray, SIDE as u32, SIDE as u32, image::imageops::FilterType::Triangle);
    }
    gray.into_raw().try_into().map_err(|_| ImageError::WrongSize { path: path.to_path_buf(), rows: SIDE, cols: SIDE })
}

/// True when every pixel of `img` is within [`CONSTANT_RANGE`] of every other.
pub fn is_constant(img: &Image) -> bool {
    let (lo, hi) = img.iter().fold((u8::MAX, u8::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    hi - lo <= CONSTANT_RANGE
}

/// Refuse a data set in which more than half of the images are constant ([`is_constant`]): one
/// blank image may be a real sample, but a set of mostly blank ones trains nothing and scores a
/// meaningless reconstruction PSNR. `path` (the folder or file) names the set in the error.
pub fn check_not_constant(path: &Path, images: &[Image]) -> Result<(), ImageError> {
    let constant = images.iter().filter(|img| is_constant(img)).count();
    if images.is_empty() || constant * 2 <= images.len() {
        return Ok(());
    }
    let value = images.iter().find(|img| is_constant(img)).map_or(0, |img| img[0]);
    Err(ImageError::Constant { path: path.to_path_buf(), constant, total: images.len(), value })
}

/// Read `<dir>/<class>/<file>.png` images: classes are the sub-folder names, sorted; files are
/// sorted by name within a class, so the order is deterministic. Hidden entries (`._*` macOS
/// AppleDouble files, `.ipynb_checkpoints`, …) are skipped with a note ([`crate::data::folder`]).
pub fn read_png_folder(dir: &Path) -> Result<LabelledImages, ImageError> {
    use super::folder::list_folder;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Io { path, source }
    };
    let classes = list_folder(dir, |p| p.is_dir()).map_err(io(dir))?;
    let mut out = LabelledImages { notes: classes.note(dir).into_iter().collect(), ..LabelledImages::default() };
    for class_dir in classes.entries {
        let listing = list_folder(&class_dir, |p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png"))).map_err(io(&class_dir))?;
        out.notes.extend(listing.note(&class_dir));
        let files = listing.entries;
        if files.is_empty() {
            continue;
        }
        let label = out.classes.len() as u32;
        out.classes.push(class_dir.file_name().unwrap_or_default().to_string_lossy().to_string());
        for f in files {
            out.images.push(read_png(&f)?);
            out.labels.push(label);
        }
    }
    if out.images.is_empty() {
        return Err(ImageError::EmptyFolder { path: dir.to_path_buf() });
    }
    check_not_constant(dir, &out.images)?;
    Ok(out)
}

fn unit_to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Write one 28 x 28 image with pixels in `[0, 1]` (clamped) as a grayscale PNG.
pub fn save_png(path: &Path, pixels: &[f32; PIXELS]) -> Result<(), ImageError> {
    let raw: Vec<u8> = pixels.iter().map(|&v| unit_to_u8(v)).collect();
    let img = image::GrayImage::from_raw(SIDE as u32, SIDE as u32, raw).expect("28 x 28 buffer");
    img.save(path).map_err(|e| ImageError::Write { path: path.to_path_buf(), message: e.to_string() })
}

/// Write `images` (pixels in `[0, 1]`, clamped) as a grid of `cols` columns, row by row, each
/// image scaled up `scale` times, with white separators `gap` pixels wide (and a white border).
/// For originals vs reconstructions, pass the originals' row then the reconstructions' row.
pub fn save_png_grid(path: &Path, images: &[[f32; PIXELS]], cols: usize, scale: usize, gap: usize) -> Result<(), ImageError> {
    let cols = cols.max(1);
    let scale = scale.max(1);
    let rows = images.len().div_ceil(cols).max(1);
    let cell = SIDE * scale;
    let (w, h) = (gap + cols * (cell + gap), gap + rows * (cell + gap));
    let mut canvas = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([255]));
    for (i, img) in images.iter().enumerate() {
        let (x0, y0) = (gap + (i % cols) * (cell + gap), gap + (i / cols) * (cell + gap));
        for y in 0..cell {
            for x in 0..cell {
                let v = unit_to_u8(img[(y / scale) * SIDE + x / scale]);
                canvas.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Luma([v]));
            }
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ImageError::Write { path: path.to_path_buf(), message: e.to_string() })?;
    }
    canvas.save(path).map_err(|e| ImageError::Write { path: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three u32 sizes whose product overflows u64 are a truncated file, not an overflow panic.
    #[test]
    fn idx_sizes_overflowing_u64_are_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge-images-idx3-ubyte");
        std::fs::write(&path, idx3(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3])).unwrap();
        let err = read_idx(&path, 3, "images").expect_err("overflowing sizes");
        assert!(matches!(err, ImageError::Truncated { expected: u64::MAX, found: 3, .. }), "{err}");
    }

    fn idx3(n: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for d in [n, rows, cols] {
            b.extend(d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn idx_images_and_labels_read_back_gz_or_raw() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2 * PIXELS).map(|i| (i % 251) as u8).collect();
        let raw = dir.path().join("img-idx3-ubyte");
        std::fs::write(&raw, idx3(2, 28, 28, &data)).unwrap();
        let gz = dir.path().join("img-idx3-ubyte.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &idx3(2, 28, 28, &data)).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for p in [&raw, &gz] {
            let imgs = read_idx_images(p).unwrap();
            assert_eq!(imgs.len(), 2);
            assert_eq!(imgs[1][0], data[PIXELS]);
        }
        let labels = dir.path().join("lab-idx1-ubyte");
        std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9]).unwrap();
        let err = read_mnist(&raw, &labels).unwrap_err().to_string();
        assert!(err.contains("2 images") && err.contains("3 labels"), "{err}");
    }

    #[test]
    fn truncated_idx_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut-idx3-ubyte");
        // Header promises 3 images, data holds 2.5.
        std::fs::write(&p, idx3(3, 28, 28, &vec![0u8; PIXELS * 5 / 2])).unwrap();
        let err = read_idx_images(&p).unwrap_err().to_string();
        assert!(err.contains("cut-idx3-ubyte") && err.contains("truncated") && err.contains("2352"), "{err}");
        // Header itself cut short.
        std::fs::write(&p, &idx3(3, 28, 28, &[])[..9]).unwrap();
        assert!(read_idx_images(&p).unwrap_err().to_string().contains("truncated"));
        // Labels file given as images.
        std::fs::write(&p, [0, 0, 8, 1, 0, 0, 0, 1, 5]).unwrap();
        let err = read_idx_images(&p).unwrap_err().to_string();
        assert!(err.contains("magic 0x00000801"), "{err}");
    }

    #[test]
    fn real_mnist_test_set_has_ten_thousand_labelled_digits() {
        let root = Path::new("../shared/data/images/mnist");
        if !root.exists() {
            eprintln!("SKIPPED: {} not present", root.display());
            return;
        }
        let m = read_mnist(&root.join("t10k-images-idx3-ubyte.gz"), &root.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        assert_eq!((m.images.len(), m.labels.len()), (10_000, 10_000));
        // The first test digit of MNIST is a 7.
        assert_eq!(m.labels[0], 7);
    }

    #[test]
    fn png_folder_and_grid_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = [0f32; PIXELS];
        a[0] = 1.0;
        let b = [0.5f32; PIXELS];
        for (class, img) in [("b", &b), ("a", &a)] {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            save_png(&dir.path().join(class).join("x.png"), img).unwrap();
        }
        // macOS AppleDouble beside an image and a notebook's checkpoint folder: not data.
        std::fs::write(dir.path().join("a").join("._x.png"), [0u8, 5, 22, 7]).unwrap();
        std::fs::create_dir_all(dir.path().join(".ipynb_checkpoints")).unwrap();
        save_png(&dir.path().join(".ipynb_checkpoints").join("x.png"), &a).unwrap();
        let set = read_png_folder(dir.path()).unwrap();
        assert_eq!(set.classes, vec!["a", "b"]);
        assert_eq!(set.notes.len(), 2, "{:?}", set.notes);
        assert!(set.notes[0].contains(".ipynb_checkpoints") && set.notes[1].contains("._x.png"), "{:?}", set.notes);
        assert_eq!(set.labels, vec![0, 1]);
        assert_eq!((set.images[0][0], set.images[0][1], set.images[1][5]), (255, 0, 128));
        let grid = dir.path().join("grid.png");
        save_png_grid(&grid, &[a, b, b], 2, 2, 3).unwrap();
        let g = image::open(&grid).unwrap().to_luma8();
        // 2 columns x 2 rows of 56-pixel cells, 3-pixel white gaps.
        assert_eq!((g.width(), g.height()), (3 + 2 * 59, 3 + 2 * 59));
        assert_eq!(g.get_pixel(0, 0).0[0], 255);
        assert_eq!(g.get_pixel(3, 3).0[0], 255); // a[0] scaled 2x
        assert_eq!(g.get_pixel(5, 3).0[0], 0);
    }

    /// A 28 x 28 image of `kind` whose pixel 0 is `ink` and every other pixel `paper`.
    fn two_tone<P: image::Pixel>(ink: P, paper: P) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
        image::ImageBuffer::from_fn(SIDE as u32, SIDE as u32, |x, y| if x == 0 && y == 0 { ink } else { paper })
    }

    /// Standard CRC-32 (ISO-HDLC, PNG chunks): reflected polynomial 0xEDB88320.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
        !c
    }

    /// A 28 x 28 palette PNG (colour type 3, 8-bit indices) written chunk by chunk (PNG spec
    /// §11.2), since the `image` crate writes no palette images; pixel 0 has index 0, the rest 1.
    fn palette_png(palette: [[u8; 3]; 2], alpha: Option<[u8; 2]>) -> Vec<u8> {
        let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend(&body);
            out.extend(crc32(&body).to_be_bytes());
        };
        let mut raw = Vec::new();
        for y in 0..SIDE {
            raw.push(0); // filter: none
            raw.extend((0..SIDE).map(|x| u8::from(x + y > 0)));
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &raw).unwrap();
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = (SIDE as u32).to_be_bytes().repeat(2);
        ihdr.extend([8, 3, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"PLTE", &palette.concat());
        if let Some(alpha) = alpha {
            chunk(&mut out, b"tRNS", &alpha);
        }
        chunk(&mut out, b"IDAT", &z.finish().unwrap());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// Every PNG colour type goes through `to_grey`: alpha over white, BT.709 luma, 16-bit
    /// scaled. Expected values worked out by hand: e.g. red 255 → 0.2126 · 255 = 54.2 → 54;
    /// black at alpha 128 → (1 − 128/255) · 255 = 127.
    #[test]
    fn every_png_colour_type_becomes_grey_by_one_rule() {
        use image::{Luma, LumaA, Rgb, Rgba};
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(format!("{name}.png"));
        two_tone(Luma([200u8]), Luma([3u8])).save(p("grey")).unwrap();
        two_tone(LumaA([0u8, 255]), LumaA([0u8, 0])).save(p("grey_alpha")).unwrap();
        two_tone(LumaA([0u8, 128]), LumaA([90u8, 255])).save(p("grey_half_alpha")).unwrap();
        two_tone(Rgb([255u8, 0, 0]), Rgb([0u8, 255, 0])).save(p("rgb")).unwrap();
        // The case png-alpha-flattened: black ink drawn only in the alpha channel.
        two_tone(Rgba([0u8, 0, 0, 255]), Rgba([0u8, 0, 0, 0])).save(p("rgba_black_ink")).unwrap();
        two_tone(Rgba([255u8, 255, 255, 255]), Rgba([0u8, 0, 255, 255])).save(p("rgba_opaque")).unwrap();
        two_tone(Luma([128u16 * 257]), Luma([65535u16])).save(p("grey16")).unwrap();
        two_tone(Rgba([0u16, 0, 0, 65535]), Rgba([0u16, 0, 0, 0])).save(p("rgba16")).unwrap();
        std::fs::write(p("palette"), palette_png([[0, 0, 0], [255, 255, 255]], None)).unwrap();
        std::fs::write(p("palette_trns"), palette_png([[0, 0, 0], [0, 0, 0]], Some([255, 0]))).unwrap();
        let cases: [(&str, image::ColorType, u8, u8); 10] = [
            ("grey", image::ColorType::L8, 200, 3),
            ("grey_alpha", image::ColorType::La8, 0, 255),
            ("grey_half_alpha", image::ColorType::La8, 127, 90),
            ("rgb", image::ColorType::Rgb8, 54, 182),
            ("rgba_black_ink", image::ColorType::Rgba8, 0, 255),
            ("rgba_opaque", image::ColorType::Rgba8, 255, 18),
            ("grey16", image::ColorType::L16, 128, 255),
            ("rgba16", image::ColorType::Rgba16, 0, 255),
            ("palette", image::ColorType::Rgb8, 0, 255),
            ("palette_trns", image::ColorType::Rgba8, 0, 255),
        ];
        for (name, color, ink, paper) in cases {
            assert_eq!(image::open(p(name)).unwrap().color(), color, "{name}: decoded colour type");
            let img = read_png(&p(name)).unwrap();
            assert_eq!((img[0], img[1], img[PIXELS - 1]), (ink, paper, paper), "{name}");
        }
    }

    #[test]
    fn mostly_constant_sets_and_non_square_images_are_refused_naming_the_file() {
        use image::Rgba;
        let dir = tempfile::tempdir().unwrap();
        let put = |class: &str, name: &str, img: image::RgbaImage| {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            img.save(dir.path().join(class).join(name)).unwrap();
        };
        let blank = || two_tone(Rgba([0u8, 0, 0, 255]), Rgba([1u8, 1, 1, 255]));
        let digit = || two_tone(Rgba([0u8, 0, 0, 255]), Rgba([0u8, 0, 0, 0]));
        put("0", "a.png", blank());
        put("1", "b.png", digit());
        put("1", "c.png", blank());
        let err = read_png_folder(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ImageError::Constant { constant: 2, total: 3, .. }), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()) && msg.contains("2 of 3 images are constant"), "{msg}");
        // One blank image among real ones is a sample, not a broken set.
        put("0", "d.png", digit());
        assert_eq!(read_png_folder(dir.path()).unwrap().images.len(), 4);
        // A non-square image would be squashed: refused, naming the file.
        let wide = image::RgbaImage::from_pixel(56, 28, Rgba([9u8, 9, 9, 255]));
        wide.save(dir.path().join("wide.png")).unwrap();
        let msg = read_png(&dir.path().join("wide.png")).unwrap_err().to_string();
        assert!(msg.contains("wide.png") && msg.contains("56 x 28"), "{msg}");
        // The same rule for IDX files.
        let idx = dir.path().join("blank-idx3-ubyte");
        std::fs::write(&idx, idx3(2, 28, 28, &[0u8; 2 * PIXELS])).unwrap();
        let msg = read_idx_images(&idx).unwrap_err().to_string();
        assert!(msg.contains("blank-idx3-ubyte") && msg.contains("2 of 2"), "{msg}");
    }
}
