//! Evaluation: classification metrics for benchmark tasks, clustering agreement (ARI, NMI,
//! AMI: [`clustering`]), text scores, benchmark suites and embeddings.
//!
//! [`classification_report`] scores predicted class indices (with invalid outputs as `None`)
//! against the truth; each task names its headline [`Metric`] (see `data::benchmarks`).

pub mod auroc;
pub mod classify;
pub mod clustering;
pub mod embed;
pub mod metrics;
pub mod predictions;
pub mod published;
pub mod results;
pub mod text;

pub use metrics::{classification_report, ClassReport, ClassStats, Metric};
