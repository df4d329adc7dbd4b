//! The `gfm` command line: parse, dispatch, print errors. All work happens in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gfm::config::{load_experiment, Duration, Kind};
use gfm::export::{ExportDtype, ExportFormat};

#[derive(Parser)]
#[command(name = "gfm", version, about = "Train genomic foundation models from one TOML experiment file")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the experiment its `kind` names; outputs go to <run.out_dir>/<name>/<run id>/.
    Run {
        experiment: PathBuf,
        /// Override a key, e.g. --set train.lr=3e-4 --set model.preset=tiny
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Continue the newest run of this experiment from its newest complete checkpoint.
        #[arg(long)]
        resume: bool,
    },
    /// Write a checkpoint as a Hugging Face OLMo directory (or the hf_olmo layout).
    Export {
        /// A run directory (its newest complete checkpoint) or a step_NNNNNNN directory.
        #[arg(required_unless_present = "from")]
        src: Option<PathBuf>,
        /// Instead of a gfm run: convert an external checkpoint (gfm export, HF OLMo, hf_olmo).
        #[arg(long, conflicts_with = "src")]
        from: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "f32")]
        dtype: ExportDtype,
        #[arg(long, value_enum, default_value = "hf")]
        format: ExportFormat,
    },
    /// Score a finetuned checkpoint on the [[tasks]] of an experiment file (by generation).
    Eval {
        /// A finetune run directory, one of its step_NNNNNNN directories, or an export.
        checkpoint: PathBuf,
        /// An experiment file whose [[tasks]] (and [finetune] options) say what to evaluate.
        spec: PathBuf,
        #[arg(long, default_value = "test", value_parser = ["test", "valid"])]
        split: String,
        /// Where results.toml and results.md go; default <checkpoint>/eval/<name>-<split>/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate an experiment and print the resolved config, parameter count and tokens per step.
    Check {
        experiment: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check { experiment, set } => {
            let r = load_experiment(&experiment, &set)?;
            print!("{}", r.to_toml(None));
            let t = &r.experiment.train;
            println!("\n# ---- summary ----");
            println!("# kind:             {}", r.experiment.kind.as_str());
            println!("# parameters:       {}", thousands(r.model.num_params()));
            println!(
                "# tokens per step:  {} ({} seqs x {} accum x {} context, at full windows)",
                thousands(r.tokens_per_step()), t.batch_size, t.grad_accum, r.model.context
            );
            let steps = match t.duration {
                Duration::Steps(n) => format!("{n}"),
                Duration::Tokens(n) => format!("~{} (at full windows)", n.div_ceil(r.tokens_per_step().max(1))),
                Duration::Epochs(e) => format!("{e} epochs: known after tokenisation (printed at the start of `gfm run`)"),
            };
            println!("# steps:            {steps}");
            println!("# train FLOPs/step: {:.3e}", r.model.train_flops_per_token(r.model.context) * r.tokens_per_step() as f64);
            Ok(())
        }
        Command::Export { src, from, out, dtype, format } => {
            let summary = match (src, from) {
                (Some(src), _) => gfm::export::export_checkpoint(&src, &out, dtype, format)?,
                (None, Some(from)) => {
                    let device = Default::default();
                    let (cfg, model) = gfm::export::load_pretrained::<burn::backend::Flex>(&from, &device)?;
                    let tok = std::fs::read(from.join("tokenizer.json")).ok();
                    gfm::export::export_model(&model, &cfg, tok.as_deref(), &out, dtype, format)?
                }
                (None, None) => unreachable!("clap requires src or --from"),
            };
            for w in &summary.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "exported {} tensors ({} parameters, {} bytes, {}, {}) to {}",
                summary.tensors, summary.params, summary.bytes, summary.format.as_str(), summary.dtype.as_str(), summary.out.display()
            );
            Ok(())
        }
        Command::Eval { checkpoint, spec, split, out } => {
            let r = load_experiment(&spec, &[])?;
            let out = out.unwrap_or_else(|| gfm::train::finetune::eval::default_out(&checkpoint, &r, &split));
            let evals = gfm::train::finetune::eval::eval_checkpoint(&checkpoint, &r, &split, &out)?;
            print!("{}", gfm::eval::results::markdown(&evals, &format!("{split} results of {}", checkpoint.display())));
            println!("\nwritten to {}", out.display());
            Ok(())
        }
        Command::Run { experiment, set, resume } => {
            let r = load_experiment(&experiment, &set)?;
            let resume = resume || r.experiment.run.resume;
            let s = match r.experiment.kind {
                Kind::Pretrain => gfm::train::pretrain::run(&r, resume)?,
                Kind::Finetune => gfm::train::finetune::run(&r, resume)?,
                Kind::KmerBaseline => gfm::train::kmer::run(&r, resume)?,
                Kind::Dna2func => gfm::train::dna2func::run(&r, resume)?,
            };
            println!(
                "done: {} steps in {:.1}s | final train loss {:.4}{} | {:.0} tokens/s | {}",
                s.steps,
                s.wall_time_s,
                s.final_loss,
                s.final_valid_loss.map(|v| format!(" | valid loss {v:.4}")).unwrap_or_default(),
                s.tokens_per_s,
                s.run_dir.display()
            );
            for (name, value) in &s.metrics {
                println!("  {name} = {value:.4}");
            }
            Ok(())
        }
    }
}

fn thousands(n: u64) -> String {
    gfm::logging::console::thousands(n)
}
