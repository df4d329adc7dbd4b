//! The kinds of run, one module each behind one trait ([`Recipe`]) and one table ([`KINDS`]).
//! A recipe supplies what differs between kinds: its data (prepared on the host), its model and
//! task (built on the chosen backend), and what it writes when the loop is done. The
//! [`driver`] does what every kind shares, once: the run directory and record, seeding, progress,
//! sinks, backend dispatch, the loop and the run's conclusion.
//!
//! Adding a kind: a module here, its name and sections in `config::kinds`, and one line in
//! [`KINDS`].

pub mod classifier;
pub mod dna2func;
pub mod driver;
pub mod finetune;
pub mod kmer;
pub mod mmidas;
pub mod needle;
pub mod pretrain;
pub mod sft;
pub mod vqvae;

use std::collections::BTreeMap;


pub use self::driver::{Context, Finished};
use crate::config::{Kind, Resolved};
use crate::train::session::{RunError, RunSummary, Session};
use crate::kernels::TrainBackend;

/// What one kind of run supplies to the driver.
pub trait Recipe {
    /// The `kind = "…"` this recipe runs.
    const KIND: Kind;
    /// Whether `--resume` can continue an interrupted run (short runs are simply started again).
    const RESUMABLE: bool = true;
    /// What the host-side preparation hands to the backend side.
    type Prepared;

    /// Create (or, when resuming, find) the run directory. Recipes with preconditions on other
    /// runs, or with their own run layout (MMIDAS rounds), override it.
    fn open(resolved: &Resolved, resume: bool) -> Result<Session, RunError> {
        Session::open(resolved, resume)
    }

    /// Read and prepare the data on the host; every line said goes to the console and `train.log`.
    fn prepare(resolved: &Resolved, session: &mut Session) -> Result<Self::Prepared, RunError>;

    /// On the chosen backend (already seeded with the experiment's seed): build model and task,
    /// train them with [`Context::fit`], and write what the kind writes when done.
    fn train<B: TrainBackend>(prepared: Self::Prepared, ctx: &mut Context<'_, B>) -> Result<Finished, RunError>;

    /// The kind's lines of `gfm check`'s summary.
    fn summary(resolved: &Resolved) -> String {
        driver::lm_summary(resolved)
    }
}

/// One row of the table of kinds.
pub struct Entry {
    pub kind: Kind,
    /// Runs the experiment (`gfm run`).
    pub run: fn(&Resolved, bool) -> Result<RunSummary, RunError>,
    /// The summary `gfm check` prints under the resolved config.
    pub summary: fn(&Resolved) -> String,
}

const fn entry<R: Recipe>() -> Entry {
    Entry { kind: R::KIND, run: driver::run::<R>, summary: R::summary }
}

/// Every kind gfm runs.
pub static KINDS: [Entry; 8] = [
    entry::<pretrain::Pretrain>(),
    entry::<finetune::Finetune>(),
    entry::<kmer::KmerBaseline>(),
    entry::<classifier::ImageClassifier>(),
    entry::<needle::NeedleInDna>(),
    entry::<vqvae::Vqvae>(),
    entry::<mmidas::MmidasRecipe>(),
    entry::<dna2func::Dna2func>(),
];

/// The row of `kind`.
pub fn recipe(kind: Kind) -> &'static Entry {
    KINDS.iter().find(|e| e.kind == kind).expect("every Kind has a row in recipes::KINDS (tested)")
}

/// Run `resolved` as its kind says (`gfm run`).
pub fn run(resolved: &Resolved, resume: bool) -> Result<RunSummary, RunError> {
    (recipe(resolved.experiment.kind).run)(resolved, resume)
}

/// Task metrics of a finished run, by name (e.g. `test/<task>/mcc`).
pub type Metrics = BTreeMap<String, f64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_recipe() {
        for kind in Kind::ALL {
            assert_eq!(KINDS.iter().filter(|e| e.kind == kind).count(), 1, "{}", kind.as_str());
        }
    }
}
