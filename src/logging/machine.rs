//! Facts about the machine a run is on: host, CPU, GPU, peak memory. Recorded in each
//! run's `record.toml` (see `crate::train::record`) and used to name TensorBoard files.

use std::path::Path;
use std::process::{Command, Stdio};

/// Stdout of a successful command, or `None` if it is missing or fails.
pub(crate) fn command_stdout(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// This machine's host name, or "unknown".
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes, the length we pass.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The CPU model from `/proc/cpuinfo`, "unknown" otherwise.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model_from(&text))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The first model line of a `/proc/cpuinfo` text (x86 `model name`, ARM boards' `Model`).
fn cpu_model_from(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let value = value.trim();
        (["model name", "Model", "cpu model"].contains(&key.trim()) && !value.is_empty())
            .then(|| value.to_string())
    })
}

/// Hardware threads available to this process.
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// GPU name(s) from `nvidia-smi --query-gpu=name`, e.g. "NVIDIA H100 80GB HBM3" or
/// "2 x NVIDIA H100 80GB HBM3"; `None` without nvidia-smi or GPUs.
pub fn gpu_model() -> Option<String> {
    let out = command_stdout(
        "nvidia-smi",
        &["--query-gpu=name", "--format=csv,noheader"],
        None,
    )?;
    let names: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match names.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        [first, rest @ ..] if rest.iter().all(|n| n == first) => {
            Some(format!("{} x {first}", names.len()))
        }
        _ => Some(names.join(", ")),
    }
}

/// Peak resident memory of this process in GiB (`VmHWM` in `/proc/self/status`, else
/// `getrusage`); 0.0 if neither is available.
pub fn peak_memory_gib() -> f64 {
    const KIB_PER_GIB: f64 = 1024.0 * 1024.0;
    let from_proc = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        });
    if let Some(kib) = from_proc {
        return kib / KIB_PER_GIB;
    }
    #[cfg(unix)]
    {
        // SAFETY: `usage` is a plain C struct that getrusage fills completely on success.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            // ru_maxrss is in bytes on macOS and in KiB elsewhere.
            let kib = if cfg!(target_os = "macos") {
                usage.ru_maxrss as f64 / 1024.0
            } else {
                usage.ru_maxrss as f64
            };
            return kib / KIB_PER_GIB;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_memory_is_positive_on_linux() {
        let gib = peak_memory_gib();
        assert!(gib > 0.0 && gib < 4096.0, "{gib}");
    }

    #[test]
    fn machine_facts_are_never_empty() {
        assert!(!host_name().is_empty());
        assert!(!cpu_model().is_empty());
        assert!(cpu_threads() >= 1);
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n";
        assert_eq!(
            cpu_model_from(info).as_deref(),
            Some("AMD EPYC 7763 64-Core Processor")
        );
    }
}
