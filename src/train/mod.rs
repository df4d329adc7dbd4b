//! The engine: the one training loop and what it needs (the task interface, optimizer pieces,
//! learning-rate schedule, the run's session and record). It imports no recipe; the kinds of run
//! live in `crate::recipes`, checkpoint storage in `crate::checkpoint`.

pub mod adamw;
pub mod error;
pub mod lm;
pub mod optim;
pub mod parallel;
pub mod record;
pub mod schedule;
pub mod session;
pub mod pools;
pub mod task;
pub mod trainer;

pub use session::{RunSummary, Session};
pub use task::{EvalMetrics, EvalOutput, StepGradients, StepOutput, Task};

