//! Data-parallel training (`run.data_parallel = N`): N replicas of the model, each on its own
//! device (a GPU each) or worker thread (CPU), each computing the gradient of a disjoint shard of
//! every step's examples; the gradients are summed by burn-collective's all-reduce.
//!
//! Why burn-collective (burn 0.21, `burn/collective` feature) and not burn's `distributed`
//! feature: `distributed` all-reduces inside `Autodiff`'s backward pass, but only the CUDA
//! backend implements it (NCCL), and turning it on makes `Autodiff<B>` require it of every `B`,
//! so `Autodiff<Flex>` would no longer train in that build. burn-collective works on any backend
//! with ordinary tensor operations (`GradientsParams::all_reduce`, burn-optim `grads.rs`), so the
//! same code runs, and is tested, on the CPU; its all-reduce of two peers is deterministic, so a
//! 2-replica run is reproducible bit for bit. Its reduction moves gradients between devices
//! through burn's `to_device`, not NCCL: on several GPUs of one node that costs bandwidth
//! NCCL would save, which is what a later switch to the `distributed` feature (a CUDA-only
//! build) would buy.
//!
//! The loop (`trainer::train`) keeps one model, one optimizer and the sampler on the main thread.
//! Each step it draws the step's micro-batches as with one replica, splits every micro-batch into
//! N contiguous shards of `batch_size / N` examples, and runs replica k on shard k in its own
//! scoped thread on a fork of the model on device k (`Module::fork`: the same parameter ids, new
//! autodiff leaves). Every replica divides its summed loss by the loss units of the whole step
//! (all shards), so the all-reduced **sum** of the replicas' gradients is exactly the gradient
//! one replica would compute on the whole step (up to the order of floating-point additions).
//! The optimizer step, clipping, evaluation, logging and checkpoints then run once, on the main
//! thread, as without data parallelism; the data cursor and `--resume` are unchanged.

use burn::collective::{self, AllReduceStrategy, CollectiveConfig, PeerId, ReduceOperation};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::pools::WorkerPools;
use super::task::Task;
use crate::kernels::TrainBackend;

#[derive(Debug, thiserror::Error)]
pub enum DataParallelError {
    #[error("run.data_parallel = {asked} but this machine has {available} CPU threads; set run.data_parallel to at most {available}")]
    TooManyCpuWorkers { asked: usize, available: usize },
    #[error("run.data_parallel = {asked} but the backend sees {available} devices; set run.data_parallel to at most {available}, or run on a node with more GPUs")]
    TooManyDevices { asked: usize, available: usize },
    #[error("data-parallel all-reduce failed: {0}")]
    Collective(String),
    #[error("data-parallel replica {replica} panicked: {message}")]
    ReplicaPanicked { replica: usize, message: String },
}

/// The devices of `n` replicas, the first being `device`'s kind: `n` distinct devices where the
/// backend has several (CUDA: devices 0..n), else `n` worker threads on the one device (CPU).
///
/// # Errors
/// More replicas than devices, or than CPU threads.
pub fn replica_devices<B: Backend>(device: &B::Device, n: usize) -> Result<Vec<B::Device>, DataParallelError> {
    let id = device.to_id();
    let count = B::device_count(id.type_id);
    if count <= 1 {
        let available = std::thread::available_parallelism().map_or(1, |p| p.get());
        if n > available {
            return Err(DataParallelError::TooManyCpuWorkers { asked: n, available });
        }
        return Ok(vec![device.clone(); n]);
    }
    if n > count {
        return Err(DataParallelError::TooManyDevices { asked: n, available: count });
    }
    Ok((0..n).map(|k| B::Device::from_id(burn::tensor::backend::DeviceId { type_id: id.type_id, index_id: k as u16 })).collect())
}

/// A registered burn-collective session of `devices.len()` peers (peer k = replica k); reset
/// when dropped, so a failed run leaves no peers behind.
pub struct Collective<B: AutodiffBackend> {
    pub devices: Vec<B::Device>,
    /// On the CPU, each replica's share of the threads ([`WorkerPools`]).
    pub pools: WorkerPools,
}

impl<B: AutodiffBackend> Collective<B> {
    /// Register every peer (each `register` blocks until all have registered, so each runs on
    /// its own thread).
    pub fn start(devices: Vec<B::Device>) -> Result<Self, DataParallelError> {
        let n = devices.len();
        // Peers are reduced in a tree of arity n: one level, a fixed order for n = 2.
        let config = CollectiveConfig::default().with_num_devices(n).with_local_all_reduce_strategy(AllReduceStrategy::Tree(n as u32));
        collective::reset_collective::<B::InnerBackend>();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = devices
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    let (d, config) = (d.clone(), config.clone());
                    s.spawn(move || collective::register::<B::InnerBackend>(PeerId::from(k), d, config))
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        for r in results {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(DataParallelError::Collective(format!("{e:?}"))),
                Err(p) => return Err(DataParallelError::Collective(panic_message(p))),
            }
        }
        Ok(Self { devices, pools: WorkerPools::default() })
    }
}

impl<B: AutodiffBackend> Drop for Collective<B> {
    fn drop(&mut self) {
        collective::reset_collective::<B::InnerBackend>();
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "no message".into())
}

/// Example indices of replica `k` of `n` in a micro-batch: the k-th of n contiguous, equal
/// shards (`indices.len()` is a multiple of `n`, checked by the experiment's validation).
pub fn shard(indices: &[usize], k: usize, n: usize) -> &[usize] {
    let per = indices.len() / n;
    &indices[k * per..(k + 1) * per]
}

/// Touches every float parameter, which initialises the lazily initialised ones (in the
/// module's field order, so the draws do not depend on which layer a forward pass reaches first).
pub(crate) struct Materialise;

impl<B: Backend> burn::module::ModuleVisitor<B> for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
        let _ = param.val();
    }
}

/// What one replica returns: its all-reduced gradients (the whole step's), its share of the
/// step's loss and its diagnostics.
pub struct ReplicaOutput {
    pub grads: burn::optim::GradientsParams,
    pub loss: f64,
    pub aux: Vec<(String, f64)>,
}

/// Run replica k on `batches[k]` (its shards of the step's micro-batches) for every k, in
/// parallel, and all-reduce the gradients. `units` is the loss units of the whole step.
///
/// `accumulate` is the single-replica forward and backward of `trainer` (loss sums divided by
/// `units`). Returns the outputs in replica order.
///
/// # Errors
/// A failed all-reduce, or a replica that panicked (its message).
pub fn run_replicas<B, T, F>(
    task: &T,
    model: &T::Model,
    batches: Vec<Vec<T::Batch>>,
    collective: &Collective<B>,
    accumulate: F,
) -> Result<Vec<ReplicaOutput>, DataParallelError>
where
    B: TrainBackend,
    T: Task<B> + Sync,
    T::Model: Send,
    T::Batch: Send,
    F: Fn(&T, &T::Model, &[T::Batch], &B::Device) -> ReplicaOutput + Sync,
{
    // burn initialises a fresh model's parameters lazily, at first use, from the backend's
    // random stream; a clone made before that initialises its own copy on its own. So every
    // parameter is initialised here, on the main thread, before the replicas are cloned: in the
    // modules' field order, which for the OLMo decoder is the order a forward pass reaches them,
    // so the values are those a single replica would draw.
    model.visit(&mut Materialise);
    let precision = crate::model::precision::current();
    // CPU replicas (all on one device) each run on a pool of their own share of the threads.
    let cpu = collective.devices.iter().all(|d| *d == collective.devices[0]);
    let results: Vec<std::thread::Result<Result<ReplicaOutput, DataParallelError>>> = std::thread::scope(|s| {
        let handles: Vec<_> = batches
            .into_iter()
            .enumerate()
            .map(|(k, shards)| {
                let device = collective.devices[k].clone();
                let replica = model.clone().fork(&device);
                let accumulate = &accumulate;
                let n = collective.devices.len();
                s.spawn(move || {
                    let job = move || {
                        // Autocast is per thread (model::precision), like PyTorch's.
                        let _autocast = crate::model::precision::autocast(precision);
                        accumulate(task, &replica, &shards, &device)
                    };
                    let out = if cpu { collective.pools.install(k, n, job) } else { job() };
                    let grads = out
                        .grads
                        .all_reduce::<B::InnerBackend>(PeerId::from(k), ReduceOperation::Sum)
                        .map_err(|e| DataParallelError::Collective(format!("{e:?}")))?;
                    Ok(ReplicaOutput { grads, ..out })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    results
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.map_err(|p| DataParallelError::ReplicaPanicked { replica: k, message: panic_message(p) })?)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_contiguous_and_cover_the_micro_batch() {
        let idx = [9, 3, 7, 1, 0, 4];
        assert_eq!(shard(&idx, 0, 2), &[9, 3, 7]);
        assert_eq!(shard(&idx, 1, 2), &[1, 0, 4]);
        let all: Vec<usize> = (0..3).flat_map(|k| shard(&idx, k, 3).to_vec()).collect();
        assert_eq!(all, idx);
    }

    #[cfg(feature = "flex")]
    #[test]
    fn cpu_replicas_share_the_device_up_to_the_thread_count() {
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let d = replica_devices::<burn::backend::Flex>(&Default::default(), threads).unwrap();
        assert_eq!(d.len(), threads);
        let err = replica_devices::<burn::backend::Flex>(&Default::default(), threads + 1).unwrap_err();
        assert!(err.to_string().contains(&format!("run.data_parallel = {}", threads + 1)), "{err}");
    }
}
