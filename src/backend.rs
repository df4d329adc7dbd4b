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
