//! Energy used by a run: measured from power counters where the machine exposes them,
//! otherwise estimated from a declared TDP. Recorded in each run's `record.toml`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::console::human_duration;
use super::machine::command_stdout;

/// Where [`EnergyMeter`] looks for power readings; `Default` is this machine.
#[derive(Debug, Clone)]
pub struct EnergySources {
    /// Root of the Linux powercap tree (`/sys/class/powercap`).
    pub rapl_root: PathBuf,
    /// Whether to sample `nvidia-smi --query-gpu=power.draw`.
    pub query_gpu: bool,
    /// Time between samples; RAPL counters wrap within an hour at ~100 W, so keep this short.
    pub sample_interval: Duration,
}

impl Default for EnergySources {
    fn default() -> Self {
        EnergySources {
            rapl_root: PathBuf::from("/sys/class/powercap"),
            query_gpu: true,
            sample_interval: Duration::from_secs(1),
        }
    }
}

/// One RAPL package counter (`intel-rapl:N/energy_uj`), accumulated across wraparounds.
#[derive(Debug)]
struct RaplZone {
    energy_path: PathBuf,
    max_range_uj: u64,
    last_uj: u64,
    total_uj: u64,
}

/// Trapezoidal integral of sampled GPU power.
#[derive(Debug)]
struct GpuPower {
    last_w: f64,
    last_at: Instant,
    joules: f64,
}

/// State shared by the meter and its sampler thread.
#[derive(Debug)]
struct Readings {
    zones: Vec<RaplZone>,
    gpu: Option<GpuPower>,
}

/// Increase of a counter that wraps to 0 after `max_range`.
fn wrapping_delta(last: u64, now: u64, max_range: u64) -> u64 {
    if now >= last {
        now - last
    } else {
        max_range.saturating_sub(last).saturating_add(now)
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Top-level package zones `intel-rapl:N` under `root`; subzones (`intel-rapl:N:M`, part of
/// their package) and `psys` (the whole platform, which contains the packages) are skipped
/// so nothing is counted twice. Zones whose counter is unreadable (root-only since 2020) are skipped.
fn discover_rapl(root: &Path) -> Vec<RaplZone> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut zones: Vec<RaplZone> = entries
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let name = dir.file_name()?.to_str()?.to_string();
            let index = name.strip_prefix("intel-rapl:")?;
            if index.contains(':')
                || std::fs::read_to_string(dir.join("name")).is_ok_and(|n| n.trim() == "psys")
            {
                return None;
            }
            let energy_path = dir.join("energy_uj");
            let last_uj = read_u64(&energy_path)?;
            let max_range_uj = read_u64(&dir.join("max_energy_range_uj"))?;
            Some(RaplZone {
                energy_path,
                max_range_uj,
                last_uj,
                total_uj: 0,
            })
        })
        .collect();
    zones.sort_by(|a, b| a.energy_path.cmp(&b.energy_path));
    zones
}

/// Total power draw of all GPUs in watts, or `None` if nvidia-smi is missing or reports no number.
fn sample_gpu_watts() -> Option<f64> {
    let out = command_stdout(
        "nvidia-smi",
        &["--query-gpu=power.draw", "--format=csv,noheader,nounits"],
        None,
    )?;
    let watts: Vec<f64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    (!watts.is_empty()).then(|| watts.iter().sum())
}

/// Measures a run's energy where the machine allows, else estimates it.
///
/// Measured: Linux RAPL package counters (`/sys/class/powercap/intel-rapl:*/energy_uj`,
/// CPU packages only) and `nvidia-smi` `power.draw` for GPUs, both sampled by a background
/// thread every `sample_interval` (so counter wraparounds via `max_energy_range_uj` are all
/// seen). Estimated: the declared CPU TDP × wall time × utilisation 1.0, used for the CPU
/// when no RAPL counter is readable. The method string says which was used.
pub struct EnergyMeter {
    declared_tdp_w: f64,
    sample_interval: Duration,
    readings: Arc<Mutex<Readings>>,
    stop: Arc<AtomicBool>,
}

impl EnergyMeter {
    /// Starts measuring on this machine; `declared_tdp_w` is the CPU's TDP for the fallback.
    pub fn start(declared_tdp_w: f64) -> Self {
        Self::start_with(declared_tdp_w, EnergySources::default())
    }

    /// Starts measuring with explicit sources (tests point `rapl_root` at a fake tree).
    pub fn start_with(declared_tdp_w: f64, sources: EnergySources) -> Self {
        let zones = discover_rapl(&sources.rapl_root);
        let gpu = sources
            .query_gpu
            .then(sample_gpu_watts)
            .flatten()
            .map(|w| GpuPower {
                last_w: w,
                last_at: Instant::now(),
                joules: 0.0,
            });
        let has_gpu = gpu.is_some();
        let measuring = !zones.is_empty() || has_gpu;
        let meter = EnergyMeter {
            declared_tdp_w,
            sample_interval: sources.sample_interval,
            readings: Arc::new(Mutex::new(Readings { zones, gpu })),
            stop: Arc::new(AtomicBool::new(false)),
        };
        if measuring {
            let (readings, stop, interval) = (
                meter.readings.clone(),
                meter.stop.clone(),
                sources.sample_interval,
            );
            std::thread::spawn(move || sampler(readings, stop, interval, has_gpu));
        }
        meter
    }

    /// Stops sampling and returns `(kWh, method)` for the run so far.
    pub fn finish(&self, wall_time_s: f64) -> (f64, String) {
        self.stop.store(true, Ordering::Relaxed);
        poll_rapl(&self.readings);
        let r = lock(&self.readings);
        let tdp = format!("declared TDP {} W x wall time", self.declared_tdp_w);
        let (cpu_j, cpu_method) = if r.zones.is_empty() {
            let why = if r.gpu.is_some() {
                "CPU, no power counters readable"
            } else {
                "no power counters readable"
            };
            (
                self.declared_tdp_w * wall_time_s.max(0.0),
                format!("{tdp} ({why})"),
            )
        } else {
            (
                r.zones.iter().map(|z| z.total_uj as f64).sum::<f64>() / 1e6,
                "rapl package counters".to_string(),
            )
        };
        let mut method = cpu_method;
        let mut joules = cpu_j;
        if let Some(g) = &r.gpu {
            joules += g.joules + g.last_w * g.last_at.elapsed().as_secs_f64();
            let every = human_duration(self.sample_interval.as_secs_f64());
            method.push_str(&format!(
                " + nvidia-smi power.draw sampled every {every} (GPU)"
            ));
        }
        (joules / 3.6e6, method)
    }
}

impl Drop for EnergyMeter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn lock(readings: &Mutex<Readings>) -> MutexGuard<'_, Readings> {
    readings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads every RAPL counter (outside the lock) and adds the increases.
fn poll_rapl(readings: &Mutex<Readings>) {
    let paths: Vec<PathBuf> = lock(readings)
        .zones
        .iter()
        .map(|z| z.energy_path.clone())
        .collect();
    let now: Vec<Option<u64>> = paths.iter().map(|p| read_u64(p)).collect();
    for (zone, value) in lock(readings).zones.iter_mut().zip(now) {
        if let Some(v) = value {
            zone.total_uj =
                zone.total_uj
                    .saturating_add(wrapping_delta(zone.last_uj, v, zone.max_range_uj));
            zone.last_uj = v;
        }
    }
}

/// Background loop: sample every `interval` until `stop`, checking `stop` every 100 ms.
fn sampler(
    readings: Arc<Mutex<Readings>>,
    stop: Arc<AtomicBool>,
    interval: Duration,
    has_gpu: bool,
) {
    loop {
        let wake = Instant::now() + interval;
        while Instant::now() < wake {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100).min(interval));
        }
        poll_rapl(&readings);
        if has_gpu {
            if let Some(w) = sample_gpu_watts() {
                if let Some(g) = lock(&readings).gpu.as_mut() {
                    let now = Instant::now();
                    g.joules += 0.5 * (g.last_w + w) * (now - g.last_at).as_secs_f64();
                    g.last_w = w;
                    g.last_at = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_falls_back_to_declared_tdp_without_counters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sources = EnergySources {
            rapl_root: dir.path().join("absent"),
            query_gpu: false,
            ..Default::default()
        };
        let (kwh, method) = EnergyMeter::start_with(65.0, sources).finish(3600.0);
        assert!((kwh - 0.065).abs() < 1e-12, "{kwh}");
        assert_eq!(
            method,
            "declared TDP 65 W x wall time (no power counters readable)"
        );
    }

    #[test]
    fn energy_reads_rapl_packages_across_a_wraparound() {
        let root = tempfile::tempdir().expect("tempdir");
        let zone = |name: &str, kind: &str, uj: u64| {
            let dir = root.path().join(name);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("name"), kind).expect("name");
            std::fs::write(dir.join("energy_uj"), uj.to_string()).expect("energy");
            std::fs::write(dir.join("max_energy_range_uj"), "1000000").expect("range");
        };
        zone("intel-rapl:0", "package-0", 900_000);
        zone("intel-rapl:0:0", "core", 5); // subzone: part of package 0
        zone("intel-rapl:1", "psys", 7); // platform: contains the packages
        let sources = EnergySources {
            rapl_root: root.path().to_path_buf(),
            query_gpu: false,
            sample_interval: Duration::from_secs(3600),
        };
        let meter = EnergyMeter::start_with(65.0, sources);
        std::fs::write(root.path().join("intel-rapl:0/energy_uj"), "100000").expect("advance");
        let (kwh, method) = meter.finish(10.0);
        // 900,000 -> wrap at 1,000,000 -> 100,000: 200,000 uJ = 0.2 J.
        assert!((kwh - 0.2 / 3.6e6).abs() < 1e-15, "{kwh}");
        assert_eq!(method, "rapl package counters");
        assert_eq!(wrapping_delta(10, 25, 100), 15);
    }
}
