//! The `gfm` command line: parse, dispatch, print errors. All work happens in the library.

use std::path::PathBuf;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gfm::config::load_experiment;
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
    /// Embed every record of a FASTA file with a model: one row per record, as .npy or
    /// .safetensors (+ <stem>.ids.txt) or TSV/CSV(.gz), the tables MMIDAS reads.
    Embed {
        /// A gfm run (its newest checkpoint), step directory or export, or an OLMo checkpoint.
        checkpoint: PathBuf,
        fasta: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Hidden states after this many blocks (0: token embeddings); default: the final ones.
        #[arg(long)]
        layer: Option<usize>,
        #[arg(long, value_enum, default_value = "mean")]
        pooling: gfm::eval::embed::Pooling,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, value_enum, default_value = "cpu")]
        device: gfm::config::DeviceKind,
    },
    /// Image tokens of a trained VQ-VAE (a `kind = "vqvae"` run): 49 code ids per 28 x 28 image.
    Image {
        #[command(subcommand)]
        action: ImageCommand,
    },
    /// Single-modality baselines: Leiden clusters and UMAP figures per embedding table, scored
    /// against reference labels when given (leiden.tsv, umap_<modality>.png, scores.tsv).
    Cluster {
        /// Embedding tables (.npy/.safetensors with --ids, or CSV/TSV with ids in column 1).
        #[arg(required = true)]
        tables: Vec<PathBuf>,
        /// Gene ids for .npy/.safetensors tables, one per line in row order.
        #[arg(long)]
        ids: Option<PathBuf>,
        /// Reference labels: `id<TAB>label` per line (TSV or CSV).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Neighbours per gene in the kNN graph.
        #[arg(long, default_value_t = 15)]
        k: usize,
        /// Leiden resolution (RB configuration model).
        #[arg(long, default_value_t = 1.0)]
        resolution: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Validate an experiment and print the resolved config, parameter count and tokens per step.
    Check {
        experiment: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Print the 49 code ids of an image (7 lines of 7, row-major over the code grid).
    Encode {
        /// A vqvae run directory (best/ or newest checkpoint), a step_NNNNNNN directory, or the
        /// experiment's directory (its newest run).
        vqvae: PathBuf,
        /// A PNG (grayscale; resized to 28 x 28; light digit on dark, like MNIST).
        #[arg(required_unless_present = "mnist", conflicts_with = "mnist")]
        image: Option<PathBuf>,
        /// Instead of a PNG: an MNIST IDX images file (.gz or raw) and --index N.
        #[arg(long, requires = "index")]
        mnist: Option<PathBuf>,
        #[arg(long)]
        index: Option<usize>,
        /// Also write the ids to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Decode 49 code ids (whitespace or comma separated) into a 28 x 28 PNG.
    Decode {
        vqvae: PathBuf,
        /// A text file of ids, or `-` for stdin.
        ids: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn image_command(action: ImageCommand) -> anyhow::Result<()> {
    use gfm::recipes::vqvae as vq;
    type B = burn::backend::Flex;
    let device = Default::default();
    match action {
        ImageCommand::Encode { vqvae, image, mnist, index, out } => {
            let (model, _) = vq::load_vqvae::<B>(&vqvae, &device, &mut |w| eprintln!("{w}"))?;
            let ids = match (image, mnist, index) {
                (Some(png), _, _) => vq::encode_png(&model, &png, &device)?,
                (None, Some(idx_file), Some(i)) => {
                    let imgs = gfm::data::images::read_idx_images(&idx_file)?;
                    let img = imgs.get(i).ok_or_else(|| anyhow::anyhow!("--index {i}: {} holds {} images", idx_file.display(), imgs.len()))?;
                    vq::encode_images(&model, std::slice::from_ref(img), &device).remove(0)
                }
                _ => anyhow::bail!("give a PNG or --mnist <IDX file> --index <N>"),
            };
            let text: String = ids.chunks(7).map(|row| row.iter().map(u32::to_string).collect::<Vec<_>>().join(" ") + "\n").collect();
            print!("{text}");
            if let Some(out) = out {
                std::fs::write(&out, &text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            }
            Ok(())
        }
        ImageCommand::Decode { vqvae, ids, out } => {
            let (model, cfg) = vq::load_vqvae::<B>(&vqvae, &device, &mut |w| eprintln!("{w}"))?;
            let text = if ids.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&ids).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", ids.display()))?
            };
            let ids = vq::parse_ids(&text, cfg.codebook_size)?;
            vq::decode_to_png(&model, &ids, &out, &device)?;
            println!("wrote {}", out.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", gfm::train::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Image { action } => image_command(action),
        Command::Check { experiment, set } => {
            let r = load_experiment(&experiment, &set)?;
            print!("{}", r.to_toml(None));
            println!("\n# ---- summary ----");
            print!("{}", r.compute_summary());
            print!("{}", (gfm::recipes::recipe(r.experiment.kind).summary)(&r));
            Ok(())
        }
        Command::Export { src, from, out, dtype, format } => {
            let summary = match (src, from) {
                (Some(src), _) => gfm::export::export_checkpoint(&src, &out, dtype, format)?,
                (None, Some(from)) => gfm::export::export_pretrained(&from, &out, dtype, format)?,
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
            let out = out.unwrap_or_else(|| gfm::recipes::finetune::eval::default_out(&checkpoint, &r, &split));
            let evals = gfm::recipes::finetune::eval::eval_checkpoint(&checkpoint, &r, &split, &out)?;
            print!("{}", gfm::eval::results::markdown(&evals, &format!("{split} results of {}", checkpoint.display())));
            println!("\nwritten to {}", out.display());
            Ok(())
        }
        Command::Embed { checkpoint, fasta, out, layer, pooling, batch_size, device } => {
            let opts = gfm::eval::embed::EmbedOptions { layer, pooling, batch_size };
            let work = gfm::eval::embed::EmbedWork { checkpoint: &checkpoint, fasta: &fasta, out: &out, opts };
            let s = gfm::backend::dispatch(device, work)??;
            if s.truncated > 0 {
                eprintln!("warning: {} of {} records were longer than the context and embedded from their start", s.truncated, s.records);
            }
            let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
            println!("embedded {} records ({} dims) -> {}", s.records, s.dim, files.join(", "));
            Ok(())
        }
        Command::Cluster { tables, ids, labels, k, resolution, seed, out } => {
            let options = gfm::graph::cluster::ClusterOptions { tables, ids, labels, k, resolution, seed, out };
            for s in gfm::graph::cluster::cluster_tables(&options)? {
                for note in &s.notes {
                    println!("{note}");
                }
                let scores = s.scores.map_or(String::new(), |(a, n, m)| format!(" | ARI {a:.4} NMI {n:.4} AMI {m:.4} over {} labelled", s.labelled));
                println!("{}: {} genes, {} clusters{scores}", s.modality, s.genes, s.clusters);
            }
            println!("written to {}", options.out.display());
            Ok(())
        }
        Command::Run { experiment, set, resume } => {
            let r = load_experiment(&experiment, &set)?;
            let resume = resume || r.experiment.run.resume;
            let s = gfm::recipes::run(&r, resume)?;
            for line in s.lines() {
                println!("{line}");
            }
            Ok(())
        }
    }
}

