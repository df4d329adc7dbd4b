//! Model code: pure tensor functions and modules, no I/O, logging or optimiser.

pub mod config;
pub mod digit_cnn;
pub mod expand;
pub mod generate;
pub mod neftune;
pub mod norm;
pub mod olmo;
pub mod quantizer;
pub mod rope;
pub mod vqvae;

pub use config::OlmoConfig;
pub use norm::{Norm, NormKind};
pub use olmo::{OlmoBlock, OlmoModel};
