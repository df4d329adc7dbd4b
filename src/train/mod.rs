//! The one training loop and what it needs: tasks, optimizer pieces, schedule, checkpoints,
//! run directories and records.

pub mod adamw;
pub mod checkpoint;
pub mod classifier;
pub mod dna2func;
pub mod finetune;
pub mod init;
pub mod kmer;
pub mod lm;
pub mod needle;
pub mod mmidas;
pub mod optim;
pub mod pretrain;
pub mod record;
pub mod run;
pub mod schedule;
pub mod task;
pub mod trainer;
pub mod vqvae;

pub use task::{EvalMetrics, EvalOutput, StepOutput, Task};
