//! MNIST IDX files as MMIDAS modalities: two views of the same digit (e.g. left and right half)
//! are two "modalities" with a known ground truth (the digit), a real multi-view check of the
//! clustering. The IDX format (yann.lecun.com/exdb/mnist): big-endian magic `0x00000803`
//! (images) or `0x00000801` (labels), then u32 sizes, then u8 data; optionally gzipped; read by
//! `data::images::read_idx`.

use std::path::Path;

use super::config::MnistView;
use super::{EmbeddingTable, InputError};
use crate::data::images::read_idx;

/// Sizes and data of an IDX file, by the one IDX reader (`data::images::read_idx`).
fn idx(path: &Path, ndim: u8, what: &'static str) -> Result<(Vec<usize>, Vec<u8>), InputError> {
    read_idx(path, ndim, what).map_err(|e| InputError::Format { path: path.to_path_buf(), reason: e.to_string() })
}

/// Id of the `i`-th image.
pub fn image_id(i: usize) -> String {
    format!("img_{i:05}")
}

/// The first `limit` images (0: all) cut into `view`, pixels scaled to [0, 1].
pub fn read_images(path: &Path, view: MnistView, limit: usize, modality: &str) -> Result<EmbeddingTable, InputError> {
    let (sizes, data) = idx(path, 3, "images")?;
    let (count, h, w) = (sizes[0], sizes[1], sizes[2]);
    // A 0-pixel image would make every view empty (and `count` could then be any size the
    // header claims without data behind it); 2 x 2 pooling needs two rows and two columns.
    let least = if view == MnistView::Downsampled { 2 } else { 1 };
    if h < least || w < least {
        let reason = format!("images of {h} x {w} pixels are too small for the {view:?} view (at least {least} x {least})");
        return Err(InputError::Format { path: path.to_path_buf(), reason });
    }
    let n = if limit == 0 { count } else { limit.min(count) };
    let pixel = |img: usize, r: usize, c: usize| data[img * h * w + r * w + c] as f32 / 255.0;
    let mut values = Vec::new();
    for img in 0..n {
        match view {
            MnistView::Full => (0..h).for_each(|r| (0..w).for_each(|c| values.push(pixel(img, r, c)))),
            MnistView::LeftHalf => (0..h).for_each(|r| (0..w / 2).for_each(|c| values.push(pixel(img, r, c)))),
            MnistView::RightHalf => (0..h).for_each(|r| (w / 2..w).for_each(|c| values.push(pixel(img, r, c)))),
            MnistView::Downsampled => {
                for r in (0..h - 1).step_by(2) {
                    for c in (0..w - 1).step_by(2) {
                        let s = pixel(img, r, c) + pixel(img, r + 1, c) + pixel(img, r, c + 1) + pixel(img, r + 1, c + 1);
                        values.push(s / 4.0);
                    }
                }
            }
        }
    }
    let dim = if n == 0 { 0 } else { values.len() / n };
    Ok(EmbeddingTable { modality: modality.to_string(), ids: (0..n).map(image_id).collect(), dim, values, notes: Vec::new() })
}

/// `(id, digit)` for every label in an IDX label file.
pub fn read_labels(path: &Path) -> Result<Vec<(String, String)>, InputError> {
    let (_, data) = idx(path, 1, "labels")?;
    Ok(data.iter().enumerate().map(|(i, d)| (image_id(i), d.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz run idx` (fuzz/README.md): 91 images of 10,496 x 0 pixels, no data.
    /// The 2 x 2 pooling loop underflowed `w - 1`; a 0-pixel image is now refused in every view.
    #[test]
    fn zero_pixel_images_are_refused_in_every_view() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz/idx_zero_width-images-idx3-ubyte");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz-images-idx3-ubyte");
        std::fs::write(&path, bytes).unwrap();
        for view in [MnistView::Full, MnistView::LeftHalf, MnistView::RightHalf, MnistView::Downsampled] {
            let err = read_images(&path, view, 0, "m").expect_err("0-pixel images");
            assert!(err.to_string().contains("10496 x 0 pixels"), "{err}");
        }
        // 1 x 1 images: enough for the full view, too small for 2 x 2 pooling.
        std::fs::write(&path, [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9]).unwrap();
        assert_eq!(read_images(&path, MnistView::Full, 0, "m").unwrap().dim, 1);
        assert!(read_images(&path, MnistView::Downsampled, 0, "m").is_err());
    }

    #[test]
    fn idx_views_cut_the_right_pixels() {
        // Two 2 x 4 images with pixel value = index within the image (x 10 for the second).
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4];
        bytes.extend((0..8u8).map(|v| v * 25));
        bytes.extend((0..8u8).map(|v| 250 - v));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imgs-idx3-ubyte");
        std::fs::write(&path, &bytes).unwrap();
        let left = read_images(&path, MnistView::LeftHalf, 1, "l").unwrap();
        assert_eq!((left.ids.clone(), left.dim), (vec!["img_00000".to_string()], 4));
        let scaled: Vec<f32> = [0u8, 25, 100, 125].iter().map(|v| *v as f32 / 255.0).collect();
        assert_eq!(left.values, scaled);
        let down = read_images(&path, MnistView::Downsampled, 0, "d").unwrap();
        // Image 0 block (0..2, 0..2): (0 + 25 + 100 + 125) / 4 / 255.
        assert_eq!(down.dim, 2);
        assert!((down.values[0] - 62.5 / 255.0).abs() < 1e-6);
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert!(read_images(&path, MnistView::Full, 0, "x").is_err());
    }
}
