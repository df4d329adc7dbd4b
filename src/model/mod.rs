//! Model code: pure tensor functions and modules, no I/O, logging or optimiser.

pub mod config;
pub mod digit_cnn;
pub mod expand;
pub mod generate;
pub mod neftune;
pub mod norm;
pub mod olmo;
pub mod precision;
pub mod quantizer;
pub mod vqvae;

/// RoPE lives with the kernels that apply it; re-exported here for model code and tests.
pub use crate::kernels::rope;
pub use config::OlmoConfig;
pub use norm::{Norm, NormKind};
pub use olmo::{OlmoBlock, OlmoModel};
pub use precision::Precision;
