//! Graphs over the rows of any embedding table: exact or approximate kNN graphs ([`knn`]), their
//! weighted forms ([`weighted`]), Leiden communities ([`leiden`]), UMAP layouts ([`umap`]), the
//! per-table entry points ([`knn_graph`], [`leiden_labels`], [`umap_2d`]) and `gfm cluster`
//! ([`cluster`]). MMIDAS uses them for its single-modality baselines.

pub mod cluster;
pub mod knn;
pub mod leiden;
mod tables;
pub mod umap;
pub mod weighted;

pub use tables::{knn_graph, leiden_labels, leiden_on, umap_2d};
