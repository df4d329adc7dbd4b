//! One rayon pool per worker (an MMIDAS arm, a CPU data-parallel replica), each with an equal
//! share of the process's threads, so that workers running side by side do not contend for the
//! one global pool that burn-flex's operations and gemm run on.
//!
//! Why: small operations gain nothing from being split across threads. On the MMIDAS bench one
//! thread ran an epoch in 1.74 s and two threads in 1.94 s; each arm on a one-thread pool of its
//! own, the arms side by side, ran it in 1.04–1.31 s (bench/README.md).

/// Pools made on first use and kept for the life of the owner (a task, a data-parallel session).
#[derive(Default)]
pub struct WorkerPools {
    #[cfg(feature = "flex")]
    pools: std::sync::OnceLock<Vec<rayon::ThreadPool>>,
}

impl WorkerPools {
    /// Threads in the process-wide pool (what `RAYON_NUM_THREADS` or the CPU count gives).
    pub fn available() -> usize {
        #[cfg(feature = "flex")]
        return rayon::current_num_threads();
        #[cfg(not(feature = "flex"))]
        return 1;
    }

    /// Run `f` on worker `k`'s pool (of `workers` pools, made on first use); without the CPU
    /// backend, on the calling thread.
    pub fn install<T: Send>(&self, k: usize, workers: usize, f: impl FnOnce() -> T + Send) -> T {
        #[cfg(feature = "flex")]
        {
            let pools = self.pools.get_or_init(|| {
                let each = (Self::available() / workers).max(1);
                (0..workers)
                    .map(|w| {
                        rayon::ThreadPoolBuilder::new()
                            .num_threads(each)
                            .thread_name(move |i| format!("gfm-worker{w}-{i}"))
                            .build()
                            .expect("a rayon pool for a worker")
                    })
                    .collect()
            });
            assert_eq!(pools.len(), workers, "worker pools were made for {} workers, asked for {workers}", pools.len());
            pools[k].install(f)
        }
        #[cfg(not(feature = "flex"))]
        {
            let _ = (k, workers);
            f()
        }
    }

    /// Run `jobs[k]` on worker `k`'s pool, all at once; the results in job order.
    pub fn run<'a, T: Send>(&self, jobs: Vec<Box<dyn FnOnce() -> T + Send + 'a>>) -> Vec<T> {
        let workers = jobs.len();
        std::thread::scope(|s| {
            let handles: Vec<_> =
                jobs.into_iter().enumerate().map(|(k, job)| s.spawn(move || self.install(k, workers, job))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    #[test]
    fn each_worker_runs_on_its_own_share_of_the_threads_and_results_keep_job_order() {
        let pools = WorkerPools::default();
        let jobs: Vec<Box<dyn FnOnce() -> (usize, usize, String) + Send>> = (0..2usize)
            .map(|k| {
                Box::new(move || (k, rayon::current_num_threads(), std::thread::current().name().unwrap_or("").to_string()))
                    as Box<dyn FnOnce() -> (usize, usize, String) + Send>
            })
            .collect();
        let out = pools.run(jobs);
        let share = (WorkerPools::available() / 2).max(1);
        for (k, (job, threads, name)) in out.iter().enumerate() {
            assert_eq!(*job, k);
            assert_eq!(*threads, share, "worker {k} sees {threads} threads");
            assert!(name.starts_with(&format!("gfm-worker{k}-")), "{name}");
        }
        // The pools are kept: a second call reuses them, and a different worker count is refused.
        assert_eq!(pools.install(1, 2, rayon::current_num_threads), share);
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pools.install(0, 3, || ()))).is_err());
    }
}
