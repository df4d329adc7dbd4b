//! The `[mmidas]` section of an experiment (`kind = "mmidas"`). Names follow gfm's habit of
//! descriptive keys; the reference's names (AllenInstitute/MMIDAS `cpl_mixVAE.init_model` and
//! `train`) are in the doc comments.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::ArmConfig;
use super::prune::SelectionRule;

/// How a modality's table is stored; `auto` picks by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    #[default]
    Auto,
    Npy,
    Npz,
    Safetensors,
    /// CSV/TSV(.gz) with a header and the id in the first column.
    Delimited,
    Parquet,
    /// MNIST IDX images (`*-images-idx3-ubyte[.gz]`) cut into a view (see [`MnistView`]); ids
    /// are `img_00000`, ... in file order. For demonstrations with known labels.
    MnistIdx,
}

/// Which pixels of each 28 x 28 MNIST image a modality sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MnistView {
    /// Columns 0..14 (392 pixels).
    #[default]
    LeftHalf,
    /// Columns 14..28 (392 pixels).
    RightHalf,
    /// 2 x 2 mean pooling (196 pixels).
    Downsampled,
    /// All 784 pixels.
    Full,
}

/// One modality's embedding table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModalitySpec {
    /// Names the arm in outputs (`labels.tsv` columns, `missing_ids.txt`).
    pub name: String,
    /// Relative to the experiment file.
    pub path: PathBuf,
    /// Ids file (one per line, in row order) for `.npy`, `.npz` and safetensors.
    pub ids: Option<PathBuf>,
    #[serde(default)]
    pub format: TableFormat,
    /// `.npz`: the array to read (default: the only one). Parquet: the id column (default: the
    /// first column).
    pub array: Option<String>,
    /// Zero mean, unit variance per column after alignment.
    #[serde(default = "yes")]
    pub standardize: bool,
    /// `mnist_idx` only.
    #[serde(default)]
    pub view: MnistView,
    /// `mnist_idx` only: read the first this many images (0: all).
    #[serde(default)]
    pub limit: usize,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MmidasSection {
    pub modalities: Vec<ModalitySpec>,
    /// Reference labels for evaluation: TSV `id<TAB>label` (a header line is skipped if its id is
    /// not found), or an MNIST `*-labels-idx1-ubyte[.gz]` file (ids `img_00000`, ...).
    pub labels: Option<PathBuf>,
    /// `K` before pruning (`n_categories`).
    pub n_categories: usize,
    /// Stop pruning at this many kept categories.
    pub min_categories: usize,
    /// Consensus threshold of the `largest_k_above` rule (`min_con`; 0.99 in
    /// `tutorials/train_mixvae.py`, where it is not used to stop pruning).
    pub consensus_min: f64,
    /// Stop pruning as soon as a round reaches `consensus_min`.
    pub stop_at_consensus: bool,
    /// Pruning rounds at most (`max_prun_it`); 0: until `min_categories`.
    pub max_rounds: usize,
    /// Optimizer steps after each pruning (`n_epoch_p`, in steps); the first round trains for
    /// `train.duration`.
    pub steps_per_round: u64,
    /// Gumbel-softmax temperature in training (`temp`, 1).
    pub temperature: f64,
    /// Weight of the log-simplex distance between arms (`lam`, 1).
    pub coupling: f64,
    /// Weight of the state KL (`beta`, 1).
    pub beta: f64,
    /// The arms' shape (`[mmidas.model]`): hidden width and layers, code and state sizes,
    /// dropout, the categorical head's `tau`, batch-norm momentum.
    pub model: ArmConfig,
    /// How the pruning round whose labels are kept is chosen.
    pub selection: SelectionRule,
    /// Single-modality baselines beside the joint clusters: Leiden on each modality's kNN graph
    /// and UMAP figures coloured by Leiden, MMIDAS and reference labels.
    pub views: bool,
    /// Neighbours per item of the kNN graph behind Leiden and UMAP (scanpy's default: 15).
    pub views_k: usize,
    /// Leiden resolution (RB configuration model, 1 = modularity).
    pub leiden_resolution: f64,
}

impl Default for MmidasSection {
    fn default() -> Self {
        Self {
            modalities: Vec::new(),
            labels: None,
            n_categories: 10,
            min_categories: 2,
            consensus_min: 0.5,
            stop_at_consensus: false,
            max_rounds: 0,
            steps_per_round: 500,
            temperature: 1.0,
            coupling: 1.0,
            beta: 1.0,
            model: ArmConfig::default(),
            selection: SelectionRule::LargestKAbove,
            views: true,
            views_k: 15,
            leiden_resolution: 1.0,
        }
    }
}

impl MmidasSection {
    /// Problems with the section (for `kind = "mmidas"`), as `config::validate` lists them.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut need = |ok: bool, msg: String| if !ok { p.push(msg) };
        need(self.modalities.len() >= 2, format!(
            "mmidas.modalities has {} entries; list at least two [[mmidas.modalities]] tables (one arm each)", self.modalities.len()));
        need(self.views_k >= 2, format!("mmidas.views_k = {} must be >= 2", self.views_k));
        need(self.leiden_resolution > 0.0, format!("mmidas.leiden_resolution = {} must be > 0", self.leiden_resolution));
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in self.modalities.iter().enumerate() {
            need(names.insert(m.name.clone()), format!("mmidas.modalities[{i}].name = \"{}\" is used twice", m.name));
            need(!m.name.is_empty() && !m.name.contains(['\t', '\n', '/']), format!(
                "mmidas.modalities[{i}].name = {:?} must be non-empty without tabs, newlines or slashes", m.name));
        }
        need(self.n_categories >= 2, format!("mmidas.n_categories = {} must be >= 2", self.n_categories));
        need((1..=self.n_categories).contains(&self.min_categories), format!(
            "mmidas.min_categories = {} must be in 1..=n_categories ({})", self.min_categories, self.n_categories));
        need((0.0..=1.0).contains(&self.consensus_min), format!("mmidas.consensus_min = {} must be in [0, 1]", self.consensus_min));
        need(self.steps_per_round >= 1, format!("mmidas.steps_per_round = {} must be >= 1", self.steps_per_round));
        let m = &self.model;
        need(m.tau > 0.0, format!("mmidas.model.tau = {} must be > 0", m.tau));
        need(self.temperature > 0.0, format!("mmidas.temperature = {} must be > 0", self.temperature));
        need(self.coupling >= 0.0, format!("mmidas.coupling = {} must be >= 0", self.coupling));
        need(self.beta >= 0.0, format!("mmidas.beta = {} must be >= 0", self.beta));
        for (key, v) in [("hidden", m.hidden), ("hidden_layers", m.hidden_layers), ("latent", m.latent), ("state_dim", m.state_dim)] {
            need(v >= 1, format!("mmidas.model.{key} = {v} must be >= 1"));
        }
        need((0.0..1.0).contains(&m.dropout), format!("mmidas.model.dropout = {} must be in [0, 1)", m.dropout));
        need(m.batch_norm_momentum > 0.0 && m.batch_norm_momentum <= 1.0, format!(
            "mmidas.model.batch_norm_momentum = {} must be in (0, 1]", m.batch_norm_momentum));
        p
    }

    /// Make every path absolute (relative to `base`), reporting files that do not exist.
    pub fn resolve_paths(&mut self, base: &Path, problems: &mut Vec<String>) {
        let mut fix = |key: String, p: &mut PathBuf| {
            let abs = if p.is_absolute() { p.clone() } else { base.join(&*p) };
            match abs.canonicalize() {
                Ok(c) => *p = c,
                Err(_) => problems.push(format!("{key}: {} not found (relative to {})", p.display(), base.display())),
            }
        };
        for (i, m) in self.modalities.iter_mut().enumerate() {
            fix(format!("mmidas.modalities[{i}].path"), &mut m.path);
            if let Some(ids) = m.ids.as_mut() {
                fix(format!("mmidas.modalities[{i}].ids"), ids);
            }
        }
        if let Some(l) = self.labels.as_mut() {
            fix("mmidas.labels".into(), l);
        }
    }
}
