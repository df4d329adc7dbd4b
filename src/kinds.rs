//! The table of kinds: one row per `kind = "…"` an experiment can name. It is the only list of
//! kinds in gfm. Two modules expand it, so that neither imports the other:
//! - `config::kinds` makes the [`crate::config::Kind`] enum from it: the names, the sections each
//!   kind reads (any other section in its file is an error, and its run's `config.toml` holds only
//!   these) and the kind's default for `sft.eval_max_examples`;
//! - `recipes` makes the registry `recipes::KINDS` from it: the recipe type that runs each kind.
//!
//! Adding a kind: a module under `src/recipes/` with a type implementing `recipes::Recipe`, and
//! one row here.
//!
//! A row: doc comment, enum variant, name, recipe type (a path inside `crate::recipes`), the
//! sections it reads besides `name`, `kind`, `seed`, `[train]` and `[run]` (`"tasks"` stands for
//! `[[tasks]]`), and the default of `sft.eval_max_examples` (0: all; read by the kinds with `[sft]`).

/// Expand `$callback!` with every row of the table (see the module docs for a row's fields).
macro_rules! kinds_table {
    ($callback:ident) => {
        $callback! {
            /// Next-token pretraining of an OLMo decoder on DNA.
            Pretrain, "pretrain", pretrain::Pretrain, ["model", "tokenizer", "data"], 256;
            /// Multi-task supervised finetuning by vocabulary expansion (Omni-DNA), then evaluation.
            Finetune, "finetune", finetune::Finetune, ["model", "tokenizer", "finetune", "sft", "tasks"], 256;
            /// Logistic regression on k-mer frequencies for one task: the baseline beside `finetune`.
            KmerBaseline, "kmer_baseline", kmer::KmerBaseline, ["baseline", "tasks"], 256;
            /// The small CNN digit classifier that scores Needle-in-DNA's generated images.
            ImageClassifier, "image_classifier", classifier::ImageClassifier, ["classifier"], 256;
            /// Needle-in-DNA (Omni-DNA §5.2): DNA with a planted motif → VQ-VAE tokens of a digit image.
            NeedleInDna, "needle_in_dna", needle::NeedleInDna, ["model", "tokenizer", "needle", "sft"], 100;
            /// A VQ-VAE on 28 x 28 images (MNIST): image tokens for cross-modal tasks.
            Vqvae, "vqvae", vqvae::Vqvae, ["vqvae"], 256;
            /// MMIDAS coupled mixture VAE over per-modality gene embeddings, with consensus pruning.
            Mmidas, "mmidas", mmidas::MmidasRecipe, ["mmidas"], 256;
            /// DNA to free text (DNA2Func): text-token vocabulary expansion, finetuning, generation.
            Dna2func, "dna2func", dna2func::Dna2func, ["model", "tokenizer", "dna2func", "sft"], 0;
            /// A benchmark suite (GB or NT) as one experiment: a finetune per task or one over all,
            /// the k-mer baseline beside it, and `suite.md` with the published numbers.
            Suite, "suite", suite::Suite, ["model", "tokenizer", "suite", "finetune", "sft", "baseline", "tasks"], 256;
        }
    };
}

pub(crate) use kinds_table;
