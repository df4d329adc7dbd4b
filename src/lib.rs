//! gfm: training genomic foundation models (Omni-DNA, MMIDAS) from one TOML file, on burn.

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod eval;
pub mod export;
pub mod graph;
pub mod kernels;
mod kinds;
pub mod library_panic;
pub mod logging;
pub mod mmidas;
pub mod model;
pub mod plot;
pub mod recipes;
pub mod tokenizer;
pub mod train;
