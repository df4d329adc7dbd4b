//! The kinds of run, one module each behind one trait ([`Recipe`]) and one table ([`KINDS`]).
//! A recipe supplies what differs between kinds: its data (prepared on the host), its model and
//! task (built on the chosen backend), and what it writes when the loop is done. The
//! [`driver`] does what every kind shares, once: the run directory and record, seeding, progress,
//! sinks, backend dispatch, the loop and the run's conclusion.
//!
//! Adding a kind: a module here with a type implementing [`Recipe`], and one row in the table of
//! kinds (`crate::kinds`), from which both [`KINDS`] and `config::Kind` are made.

pub mod classifier;
pub mod dna2func;
pub mod driver;
pub mod finetune;
pub mod kmer;
pub mod mmidas;
pub mod needle;
pub mod pretrain;
pub mod sft;
pub mod suite;
pub mod vqvae;

use std::collections::BTreeMap;


pub use self::driver::{Context, Finished};
use crate::config::{Kind, Resolved};
use crate::train::session::{RunError, RunSummary, Session};
use crate::kernels::TrainBackend;

/// What one kind of run supplies to the driver.
pub trait Recipe {
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

const fn entry<R: Recipe>(kind: Kind) -> Entry {
    Entry { kind, run: driver::run::<R>, summary: R::summary }
}

/// Makes [`KINDS`] from the table of kinds (`crate::kinds`): each row's recipe type.
macro_rules! define_registry {
    ($( $(#[$doc:meta])* $variant:ident, $name:literal, $recipe:path, [$($section:literal),*], $eval_max:literal; )*) => {
        /// Every kind gfm runs, with the recipe that runs it, in the order of the table.
        pub static KINDS: &[Entry] = &[$( entry::<$recipe>(Kind::$variant) ),*];
    };
}

crate::kinds::kinds_table!(define_registry);

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
        for &kind in Kind::ALL {
            assert_eq!(KINDS.iter().filter(|e| e.kind == kind).count(), 1, "{}", kind.as_str());
        }
        // Names round-trip through the experiment file's `kind = "…"`.
        for &kind in Kind::ALL {
            #[derive(serde::Deserialize)]
            struct K {
                kind: Kind,
            }
            let parsed: K = toml::from_str(&format!("kind = \"{}\"", kind.as_str())).unwrap();
            assert_eq!(parsed.kind, kind);
        }
    }
}
