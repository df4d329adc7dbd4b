//! Moving parameter values between a burn module and host tensors, by parameter path.
//!
//! A path is the chain of field names (and `Vec` indices) burn's derived `Module` reports through
//! `enter_module`/`exit_module`, joined with dots: `blocks.0.att_proj.weight`, `wte`. `Option`
//! fields add no component (`ln_f.weight`, `ff_out.weight`). These paths are the gfm names of
//! [`super::keys::KEY_TABLE`].

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::keys::HostTensor;

/// Why a module's parameters could not be read or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// The tensor data could not be read as f32.
    Data { path: String, message: String },
    /// A host tensor's shape differs from the parameter's.
    Shape { path: String, expected: Vec<usize>, found: Vec<usize> },
    /// The module has a parameter with no host tensor.
    Missing { path: String },
    /// Host tensors left over after every parameter was replaced.
    Unused { paths: Vec<String> },
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Data { path, message } => write!(f, "{path}: {message}"),
            ParamError::Shape { path, expected, found } => write!(f, "{path}: shape {found:?}, parameter has {expected:?}"),
            ParamError::Missing { path } => write!(f, "no value for parameter {path}"),
            ParamError::Unused { paths } => write!(f, "values for unknown parameters {}", paths.join(", ")),
        }
    }
}

struct Collect {
    path: Vec<String>,
    out: BTreeMap<String, HostTensor>,
    error: Option<ParamError>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let path = self.path.join(".");
        let data = param.val().into_data().convert::<f32>();
        let shape = data.shape.to_vec();
        match data.into_vec::<f32>() {
            Ok(data) => {
                self.out.insert(path, HostTensor { shape, data });
            }
            Err(e) => {
                self.error.get_or_insert(ParamError::Data { path, message: format!("{e:?}") });
            }
        }
    }
}

/// Every float parameter of `module` as an f32 host tensor, keyed by path.
pub fn collect<B: Backend, M: Module<B>>(module: &M) -> Result<BTreeMap<String, HostTensor>, ParamError> {
    let mut v = Collect { path: Vec::new(), out: BTreeMap::new(), error: None };
    module.visit(&mut v);
    match v.error {
        Some(e) => Err(e),
        None => Ok(v.out),
    }
}

struct Load<'a, B: Backend> {
    path: Vec<String>,
    values: HashMap<String, HostTensor>,
    device: &'a B::Device,
    error: Option<ParamError>,
}

impl<B: Backend> ModuleMapper<B> for Load<'_, B> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let path = self.path.join(".");
        let Some(value) = self.values.remove(&path) else {
            self.error.get_or_insert(ParamError::Missing { path });
            return param;
        };
        // `lazy_shape` reads the shape without running the (now useless) random initialiser.
        let expected = param.lazy_shape().to_vec();
        if value.shape != expected {
            self.error.get_or_insert(ParamError::Shape { path, expected, found: value.shape });
            return param;
        }
        let tensor = Tensor::<B, D>::from_data(TensorData::new(value.data, value.shape), self.device);
        Param::initialized(param.id, tensor.require_grad())
    }
}

/// Replace every float parameter of `module` with the host tensor at its path. Every parameter
/// must get a value of its own shape and every value must be used.
pub fn load<B: Backend, M: Module<B>>(
    module: M,
    values: HashMap<String, HostTensor>,
    device: &B::Device,
) -> Result<M, ParamError> {
    let mut m = Load::<B> { path: Vec::new(), values, device, error: None };
    let module = module.map(&mut m);
    if let Some(e) = m.error {
        return Err(e);
    }
    if !m.values.is_empty() {
        let mut paths: Vec<String> = m.values.into_keys().collect();
        paths.sort();
        return Err(ParamError::Unused { paths });
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NormKind, OlmoConfig};
    use burn::backend::Flex;

    fn cfg() -> OlmoConfig {
        OlmoConfig {
            n_layers: 1, d_model: 8, n_heads: 2, mlp_ratio: 2, vocab_size: 10, context: 8,
            norm: NormKind::RmsNorm, norm_eps: 1e-5, rope_theta: 10_000.0, tie_embeddings: false, init_std: 0.02,
        }
    }

    #[test]
    fn collected_values_load_into_a_fresh_model_unchanged() {
        let device = Default::default();
        let a = cfg().init::<Flex>(&device);
        let values = collect::<Flex, _>(&a).unwrap();
        let b = load(cfg().init::<Flex>(&device), values.clone().into_iter().collect(), &device).unwrap();
        assert_eq!(collect::<Flex, _>(&b).unwrap(), values);
    }

    #[test]
    fn a_missing_or_misshaped_value_is_reported_by_path() {
        let device = Default::default();
        let mut values: HashMap<_, _> = collect::<Flex, _>(&cfg().init::<Flex>(&device)).unwrap().into_iter().collect();
        values.remove("ln_f.weight");
        let err = load(cfg().init::<Flex>(&device), values.clone(), &device).unwrap_err();
        assert_eq!(err, ParamError::Missing { path: "ln_f.weight".into() });
        values.insert("ln_f.weight".into(), HostTensor { shape: vec![4], data: vec![1.0; 4] });
        let err = load(cfg().init::<Flex>(&device), values, &device).unwrap_err();
        assert!(matches!(err, ParamError::Shape { ref path, .. } if path == "ln_f.weight"), "{err}");
    }
}
