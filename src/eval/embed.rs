//! `gfm embed`: one vector per FASTA record from a gfm (or OLMo) model, written as an embedding
//! table that MMIDAS reads, so sequences become gene embeddings with gfm alone.
//!
//! Each record is tokenised as `[CLS] dna [SEP]` (cut to the model's context, keeping the start of
//! the sequence, with `[SEP]` kept last), and the hidden states of the chosen layer are pooled:
//! - `mean`: the mean over the DNA tokens (not `[CLS]`/`[SEP]`);
//! - `last`: the `[SEP]` position, which in a causal decoder is the only one that has seen the
//!   whole sequence;
//! - `cls`: the `[CLS]` position. In a causal decoder it sees nothing but itself, so every record
//!   gets the same vector; it exists for encoder-style checkpoints and is refused here with a hint.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::data::fasta::{read_fasta, AmbiguityPolicy, DnaRecord};
use crate::mmidas::{write::write_table, EmbeddingTable};
use crate::model::OlmoModel;
use crate::tokenizer::{DnaTokenizer, PAD_ID, SEP_ID};
use crate::kernels::TrainBackend;
use crate::kernels::Kernels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    Cls,
    Mean,
    Last,
}

#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Hidden states after this many blocks (0: token embeddings); `None`: after all blocks and
    /// the final norm.
    pub layer: Option<usize>,
    pub pooling: Pooling,
    pub batch_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("--layer {layer}: the model has {blocks} blocks; use 0..={blocks} (0: token embeddings) or leave it out for the final hidden states")]
    Layer { layer: usize, blocks: usize },
    #[error("--pooling cls: in a causal decoder the [CLS] position sees only itself, so every sequence would get the same vector; use --pooling mean or --pooling last")]
    ClsInDecoder,
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    Table(#[from] crate::mmidas::InputError),
}

/// What an embedding run did.
#[derive(Debug, Clone)]
pub struct EmbedSummary {
    pub records: usize,
    pub dim: usize,
    /// Records longer than the context, embedded from their first `context` tokens.
    pub truncated: usize,
    pub files: Vec<PathBuf>,
}

/// Embed `records` with `model`: one row of `d_model` values per record, in record order.
///
/// # Shapes
/// - returns `[records, d_model]` row-major, and the number of truncated records
pub fn embed_records<B: Kernels>(
    model: &OlmoModel<B>,
    tok: &DnaTokenizer,
    records: &[DnaRecord],
    context: usize,
    opts: &EmbedOptions,
) -> Result<(Vec<f32>, usize), EmbedError> {
    if let Some(layer) = opts.layer.filter(|&l| l > model.blocks.len()) {
        return Err(EmbedError::Layer { layer, blocks: model.blocks.len() });
    }
    if opts.pooling == Pooling::Cls {
        return Err(EmbedError::ClsInDecoder);
    }
    let device = model.wte.val().device();
    let d = model.d_model();
    let mut out = Vec::with_capacity(records.len() * d);
    let mut truncated = 0;
    for chunk in records.chunks(opts.batch_size.max(1)) {
        let mut rows: Vec<Vec<u32>> = Vec::with_capacity(chunk.len());
        for r in chunk {
            let mut ids = tok.encode_wrapped(&r.seq)?;
            if ids.len() > context {
                ids.truncate(context);
                ids[context - 1] = SEP_ID;
                truncated += 1;
            }
            rows.push(ids);
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(1);
        let mut flat = vec![PAD_ID as i64; rows.len() * width];
        // Pooling weights: 1/n over the pooled positions of each row (right padding cannot reach
        // earlier positions through causal attention).
        let mut weights = vec![0f32; rows.len() * width];
        for (b, ids) in rows.iter().enumerate() {
            for (t, &id) in ids.iter().enumerate() {
                flat[b * width + t] = id as i64;
            }
            let last = ids.len() - 1;
            let pooled: Vec<usize> = match opts.pooling {
                Pooling::Mean if ids.len() > 2 => (1..last).collect(),
                Pooling::Mean | Pooling::Last => vec![last],
                Pooling::Cls => vec![0],
            };
            for &t in &pooled {
                weights[b * width + t] = 1.0 / pooled.len() as f32;
            }
        }
        let ids = Tensor::<B, 1, Int>::from_ints(flat.as_slice(), &device).reshape([rows.len(), width]);
        let h = model.hidden_at(model.embed(ids), opts.layer); // [b, width, d]
        let w = Tensor::<B, 1>::from_floats(weights.as_slice(), &device).reshape([rows.len(), width, 1]);
        let pooled = (h * w).sum_dim(1); // [b, 1, d]
        out.extend(pooled.into_data().iter::<f32>());
    }
    Ok((out, truncated))
}

/// `gfm embed`: read `fasta`, embed every record with the model at `checkpoint` (a gfm run,
/// step directory or export, or an OLMo checkpoint with its tokenizer), write the table to `out`.
pub fn embed_fasta<B: Kernels>(
    checkpoint: &Path,
    fasta: &Path,
    out: &Path,
    opts: &EmbedOptions,
    device: &B::Device,
) -> Result<EmbedSummary, EmbedError> {
    let source = crate::export::source::concrete_source(checkpoint);
    let load = |message: String| EmbedError::Load { path: source.clone(), message };
    let (cfg, model) = crate::export::source::load_model::<B>(&source, device, &mut |w| eprintln!("{w}")).map_err(|e| load(e.to_string()))?;
    let tok_path = crate::export::source::tokenizer_path(&source)
        .ok_or_else(|| load("no tokenizer.json beside the weights; embed from a gfm run or export".into()))?;
    let tok = DnaTokenizer::from_file_for_model(&tok_path, cfg.vocab_size)?;
    let (records, _) = read_fasta(fasta, AmbiguityPolicy::Unk, 1)?;
    let (values, truncated) = embed_records(&model, &tok, &records, cfg.context, opts)?;
    let table = EmbeddingTable {
        modality: source.display().to_string(),
        ids: records.iter().map(|r| r.name.clone()).collect(),
        dim: model.d_model(),
        values,
        notes: Vec::new(),
    };
    let files = write_table(&table, out)?;
    Ok(EmbedSummary { records: records.len(), dim: table.dim, truncated, files })
}

/// [`embed_fasta`] on the backend of `run.device`-style dispatch (`gfm embed --device`).
pub struct EmbedWork<'a> {
    pub checkpoint: &'a Path,
    pub fasta: &'a Path,
    pub out: &'a Path,
    pub opts: EmbedOptions,
}

impl crate::backend::WithBackend for EmbedWork<'_> {
    type Output = Result<EmbedSummary, EmbedError>;
    fn run<B: TrainBackend>(self, device: B::Device, _backend: &str) -> Self::Output {
        embed_fasta::<B::InnerBackend>(self.checkpoint, self.fasta, self.out, &self.opts, &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use crate::model::{NormKind, OlmoConfig};
    use burn::module::AutodiffModule;

    type B = <CpuBackend as burn::tensor::backend::AutodiffBackend>::InnerBackend;

    fn setup() -> (OlmoModel<B>, DnaTokenizer) {
        let seqs: Vec<&[u8]> = vec![b"ACGTACGTTTGACCAGT", b"GGGCCCAAATTTACGTA"];
        let tok = DnaTokenizer::train(seqs.into_iter(), 16).unwrap();
        let cfg = OlmoConfig {
            vocab_size: 16, d_model: 8, n_layers: 2, n_heads: 2, mlp_ratio: 2, context: 12,
            norm: NormKind::LayerNormNoAffine, norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: true, init_std: 0.3,
        };
        let m = cfg.init::<CpuBackend>(&Default::default()).valid();
        (m, tok)
    }

    fn rec(name: &str, seq: &[u8]) -> DnaRecord {
        DnaRecord { name: name.into(), seq: seq.to_vec() }
    }

    #[test]
    fn pooled_embedding_of_a_record_does_not_depend_on_its_batch() {
        let (m, tok) = setup();
        let recs = [rec("a", b"ACGTACGT"), rec("b", b"GGGCCCAAATTTACG"), rec("c", b"TTGACC")];
        for pooling in [Pooling::Mean, Pooling::Last] {
            for layer in [None, Some(0), Some(1)] {
                let opts = EmbedOptions { layer, pooling, batch_size: 3 };
                let (together, _) = embed_records(&m, &tok, &recs, 12, &opts).unwrap();
                let alone: Vec<f32> = recs
                    .iter()
                    .flat_map(|r| embed_records(&m, &tok, std::slice::from_ref(r), 12, &opts).unwrap().0)
                    .collect();
                assert_eq!(together.len(), 3 * 8);
                for (x, y) in together.iter().zip(&alone) {
                    assert!((x - y).abs() < 1e-5, "{pooling:?} {layer:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn last_pooling_equals_the_final_hidden_state_at_sep() {
        let (m, tok) = setup();
        let r = rec("a", b"ACGTACGT");
        let ids = tok.encode_wrapped(&r.seq).unwrap();
        let t = Tensor::<B, 1, Int>::from_ints(ids.iter().map(|&i| i as i64).collect::<Vec<_>>().as_slice(), &Default::default())
            .reshape([1, ids.len()]);
        let h: Vec<f32> = m.hidden(m.embed(t)).slice([0..1, ids.len() - 1..ids.len()]).into_data().iter::<f32>().collect();
        let opts = EmbedOptions { layer: None, pooling: Pooling::Last, batch_size: 1 };
        let (e, _) = embed_records(&m, &tok, &[r], 12, &opts).unwrap();
        for (x, y) in e.iter().zip(&h) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    #[test]
    fn long_records_are_cut_to_the_context_and_counted() {
        let (m, tok) = setup();
        let long = rec("long", &b"ACGTTGCA".repeat(20));
        let opts = EmbedOptions { layer: None, pooling: Pooling::Mean, batch_size: 2 };
        let (e, truncated) = embed_records(&m, &tok, &[long, rec("s", b"ACG")], 12, &opts).unwrap();
        assert_eq!((e.len(), truncated), (16, 1));
        assert!(matches!(embed_records(&m, &tok, &[rec("s", b"ACG")], 12, &EmbedOptions { layer: Some(3), ..opts.clone() }),
            Err(EmbedError::Layer { layer: 3, blocks: 2 })));
        assert!(matches!(
            embed_records(&m, &tok, &[rec("s", b"ACG")], 12, &EmbedOptions { pooling: Pooling::Cls, ..opts }),
            Err(EmbedError::ClsInDecoder)
        ));
    }
}
