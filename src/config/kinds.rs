//! The kinds of run an experiment can name, and which sections of the file each one reads, made
//! from the table of kinds (`crate::kinds`). The recipe that runs each kind is in `crate::recipes`.

use serde::{Deserialize, Serialize};

/// Makes [`Kind`] from the table of kinds (`crate::kinds`); the recipe paths are not used here.
macro_rules! define_kinds {
    ($( $(#[$doc:meta])* $variant:ident, $name:literal, $recipe:path, [$($section:literal),*], $eval_max:literal; )*) => {
        /// What `gfm run` does with the experiment (one variant per row of `crate::kinds`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Kind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Kind {
            /// Every kind, in the order of the table.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The name in `kind = "…"`.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            /// The sections (and `[[tasks]]`) this kind reads besides [`COMMON_KEYS`]. Any other
            /// section in its experiment file is an error, and the run's `config.toml` holds only these.
            pub fn sections(&self) -> &'static [&'static str] {
                match self {
                    $(Kind::$variant => &[$($section),*],)*
                }
            }

            /// `sft.eval_max_examples` when the file does not set it (0: all).
            pub fn default_eval_max_examples(&self) -> usize {
                match self {
                    $(Kind::$variant => $eval_max,)*
                }
            }
        }
    };
}

crate::kinds::kinds_table!(define_kinds);

/// Keys of the experiment every kind reads.
pub const COMMON_KEYS: [&str; 5] = ["name", "kind", "seed", "train", "run"];

impl Kind {
    /// Whether the kind reads `key` of the experiment.
    pub fn reads(&self, key: &str) -> bool {
        COMMON_KEYS.contains(&key) || self.sections().contains(&key)
    }

    /// Whether the kind trains an OLMo decoder (and so reads `[model]`).
    pub fn is_language_model(&self) -> bool {
        self.reads("model")
    }

    /// Whether the kind always starts from a pretrained model (`model.init_from` required): the
    /// supervised-finetuning kinds, which read `[sft]`. A suite needs one unless it only runs
    /// the k-mer baseline, and checks that itself.
    pub fn starts_from_pretrained(&self) -> bool {
        self.reads("sft") && !self.reads("suite")
    }
}

/// Top-level keys of `table` that `kind` does not read, each as a problem naming it.
pub fn unused_sections(table: &toml::Table, kind: Kind) -> Vec<String> {
    let reads: Vec<String> = kind.sections().iter().map(|s| if *s == "tasks" { "[[tasks]]".to_string() } else { format!("[{s}]") }).collect();
    let reads = if reads.is_empty() { "none besides [train] and [run]".to_string() } else { reads.join(", ") };
    table
        .keys()
        .filter(|key| !kind.reads(key))
        .map(|key| {
            let shown = if key == "tasks" { "[[tasks]]".to_string() } else { format!("[{key}]") };
            format!("section {shown} is not read by kind = \"{}\" (it reads {reads}); remove it", kind.as_str())
        })
        .collect()
}
