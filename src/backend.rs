//! The one place that picks the backend and device. Model and loop code are generic over
//! `B: TrainBackend` (an autodiff backend with the fused kernels of [`crate::kernels`]); [`dispatch`] instantiates them for the device the experiment names.
//!
//! - `cpu`: burn's `Flex` backend (pure Rust, SIMD), default feature `flex`.
//! - `cuda`: burn's CUDA backend (feature `cuda`); libcuda is loaded at run time, so we check
//!   that it can be opened before touching the device and give a clear error otherwise.

use crate::kernels::TrainBackend;

/// Where a run computes (`run.device`, `gfm embed --device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("run.device = \"cuda\" but this gfm was built without CUDA support; rebuild with `cargo build --release --features cuda`")]
    CudaNotBuilt,
    #[error("run.device = \"cuda\" but the CUDA driver library could not be loaded ({0}); install the NVIDIA driver, or set run.device = \"cpu\"")]
    CudaDriverMissing(String),
    #[error("run.device = \"cpu\" but this gfm was built without a CPU backend; rebuild with the default `flex` feature")]
    CpuNotBuilt,
}

/// The allocator of every gfm program (binary, benches, tests): mimalloc, configured by
/// [`keep_freed_memory`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the `mi_option_e` enum of mimalloc 3's `mimalloc.h`;
/// libmimalloc-sys 0.1.49 has no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed memory mapped for reuse instead of returning it to the OS after 10 ms (mimalloc
/// `purge_delay = -1`). A training step allocates and frees the same buffers (activations,
/// gradients, logits) every step; returned memory comes back as fresh pages the kernel must
/// clear, which was 16 % of a 20M-preset step (`perf`: 64,000 page faults in 7 steps, 475 with
/// this). The price: the process keeps its peak memory until it exits.
pub fn keep_freed_memory() {
    // SAFETY: sets a mimalloc option (an integer in its options table); valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Code to run on whichever backend [`dispatch`] selects (a generic closure, spelled as a trait).
pub trait WithBackend {
    type Output;
    fn run<B: TrainBackend>(self, device: B::Device, backend_name: &str) -> Self::Output;
}

#[cfg(feature = "flex")]
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;

#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Autodiff<burn::backend::Cuda<f32, i32>>;

/// Check that the CUDA driver library can be opened, without keeping it open.
pub fn cuda_driver_available() -> Result<(), String> {
    for name in ["libcuda.so.1", "libcuda.so"] {
        let cname = std::ffi::CString::new(name).expect("no NUL in library name");
        // SAFETY: dlopen/dlclose with a valid C string; the handle is closed immediately.
        let handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
        if !handle.is_null() {
            unsafe { libc::dlclose(handle) };
            return Ok(());
        }
    }
    Err("dlopen(libcuda.so.1) failed".into())
}

pub fn dispatch<W: WithBackend>(device: DeviceKind, work: W) -> Result<W::Output, BackendError> {
    keep_freed_memory();
    match device {
        DeviceKind::Cpu => {
            #[cfg(feature = "flex")]
            {
                Ok(work.run::<CpuBackend>(Default::default(), "cpu (burn flex)"))
            }
            #[cfg(not(feature = "flex"))]
            {
                let _ = work;
                Err(BackendError::CpuNotBuilt)
            }
        }
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                cuda_driver_available().map_err(BackendError::CudaDriverMissing)?;
                Ok(work.run::<CudaBackend>(burn::backend::cuda::CudaDevice::new(0), "cuda:0 (burn cuda)"))
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = work;
                Err(BackendError::CudaNotBuilt)
            }
        }
    }
}
