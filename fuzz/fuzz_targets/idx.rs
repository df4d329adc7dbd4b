//! MNIST IDX files (raw or gzipped): `data::images::read_idx_images`/`read_idx_labels` and the
//! MMIDAS `mnist_idx` modality (every view) through `mmidas::dataset::load_modalities`.
#![no_main]
#[path = "common/mod.rs"]
mod common;

use gfm::data::images::{read_idx_images, read_idx_labels};
use gfm::mmidas::config::{MnistView, ModalitySpec, TableFormat};
use gfm::mmidas::dataset::load_modalities;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write("in-images-idx3-ubyte", data);
    let _ = read_idx_images(&path);
    let _ = read_idx_labels(&path);
    for (view, limit) in [
        (MnistView::LeftHalf, 0),
        (MnistView::RightHalf, 1),
        (MnistView::Downsampled, 0),
        (MnistView::Full, 2),
    ] {
        let spec = ModalitySpec {
            name: "fuzz".into(),
            path: path.clone(),
            ids: None,
            format: TableFormat::MnistIdx,
            array: None,
            standardize: true,
            view,
            limit,
        };
        let _ = load_modalities(&[spec]);
    }
});
