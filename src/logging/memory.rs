//! An in-memory [`MetricSink`] for tests.
//!
//! The training loop takes ownership of its (boxed) sink, so [`MemorySink`] is a
//! cheap cloneable handle onto shared storage: give one clone to the loop, keep
//! another in the test and read the numbers back after the run.

use std::sync::{Arc, Mutex, MutexGuard};

use super::MetricSink;

/// Everything a [`MemorySink`] has received, in arrival order.
#[derive(Debug, Default, Clone)]
struct Store {
    /// `(tag, step, value)` for every scalar.
    scalars: Vec<(String, u64, f64)>,
    /// Every text line.
    texts: Vec<String>,
    /// How many times `flush` was called.
    flushes: usize,
}

/// Stores all scalars and text lines; clones share the same storage.
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    store: Arc<Mutex<Store>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the store. A panic in another holder cannot leave the plain
    /// vectors half-updated, so a poisoned lock is safe to reuse.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every scalar received, as `(tag, step, value)`, in arrival order.
    pub fn scalars(&self) -> Vec<(String, u64, f64)> {
        self.lock().scalars.clone()
    }

    /// The `(step, value)` pairs recorded under `tag`, in arrival order.
    pub fn values(&self, tag: &str) -> Vec<(u64, f64)> {
        self.lock()
            .scalars
            .iter()
            .filter(|(t, _, _)| t == tag)
            .map(|&(_, step, value)| (step, value))
            .collect()
    }

    /// The most recent value recorded under `tag`, if any.
    pub fn last(&self, tag: &str) -> Option<f64> {
        self.lock()
            .scalars
            .iter()
            .rev()
            .find(|(t, _, _)| t == tag)
            .map(|&(_, _, value)| value)
    }

    /// The distinct tags seen, in order of first appearance.
    pub fn tags(&self) -> Vec<String> {
        let store = self.lock();
        let mut tags: Vec<String> = Vec::new();
        for (tag, _, _) in &store.scalars {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags
    }

    /// Every text line received, in arrival order.
    pub fn texts(&self) -> Vec<String> {
        self.lock().texts.clone()
    }

    /// How many times [`MetricSink::flush`] was called.
    pub fn flush_count(&self) -> usize {
        self.lock().flushes
    }
}

impl MetricSink for MemorySink {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        self.lock().scalars.push((tag.to_string(), step, value));
    }

    fn text(&mut self, line: &str) {
        self.lock().texts.push(line.to_string());
    }

    fn flush(&mut self) {
        self.lock().flushes += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_handle_sees_what_the_boxed_sink_received() {
        let handle = MemorySink::new();
        let mut owned: Box<dyn MetricSink> = Box::new(handle.clone());
        owned.scalar("train/loss", 1, 2.0);
        owned.scalar("train/lr", 1, 1e-3);
        owned.scalar("train/loss", 2, 1.5);
        owned.text("step 2 done");
        owned.flush();
        drop(owned);

        assert_eq!(handle.values("train/loss"), vec![(1, 2.0), (2, 1.5)]);
        assert_eq!(handle.last("train/loss"), Some(1.5));
        assert_eq!(handle.last("missing"), None);
        assert_eq!(handle.tags(), vec!["train/loss", "train/lr"]);
        assert_eq!(handle.scalars().len(), 3);
        assert_eq!(handle.texts(), vec!["step 2 done"]);
        assert_eq!(handle.flush_count(), 1);
    }

    #[test]
    fn handle_can_cross_threads() {
        let handle = MemorySink::new();
        let mut sink = handle.clone();
        std::thread::spawn(move || sink.scalar("x", 7, 0.5))
            .join()
            .expect("writer thread panicked");
        assert_eq!(handle.values("x"), vec![(7, 0.5)]);
    }
}
