//! Where training numbers go: the [`MetricSink`] trait and its implementations.
//!
//! The training loop owns one `Box<dyn MetricSink>` (usually a [`MultiSink`]) and
//! reports every scalar through it with a tag that carries its unit
//! (`train/loss`, `perf/tokens_per_s`, `mem/peak_gib`) and the optimizer step.
//! Sinks never fail the run: a sink that cannot write reports the problem once on
//! stderr and keeps the error for inspection, because losing a log line is better
//! than losing a training run.
//!
//! * [`tensorboard::TensorBoardWriter`]: TensorBoard event files (plus a reader for tests);
//!   the byte format is in [`tfrecord`].
//! * [`console::ConsoleProgress`] and [`console::TextLog`]: progress bar / plain lines and a
//!   timestamped text log.
//! * [`memory::MemorySink`]: keeps everything in memory so tests can assert on it.
//!
//! Two measurement helpers live here too, because they feed the same numbers into the
//! run record (`crate::train::record`, which re-exports them): [`machine`] (host, CPU,
//! GPU, peak memory) and [`energy`] (RAPL / nvidia-smi energy with a declared-TDP fallback).

use std::path::PathBuf;

pub mod console;
pub mod energy;
pub mod machine;
pub mod memory;
pub mod tensorboard;
pub mod tfrecord;

pub use console::{ConsoleProgress, TextLog};
pub use memory::MemorySink;
pub use tensorboard::{read_scalars, TbScalar, TensorBoardWriter};

/// Errors from writing or reading logs.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system refused a read or write.
    #[error("cannot {action} {path}: {source} (check that the directory exists, is writable and the disk is not full)")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A record's checksum does not match its bytes: the file was corrupted or edited.
    #[error("{path}: bad {which} checksum in the record at byte {offset} (the event file is corrupted; delete it or copy it again)")]
    Crc {
        path: PathBuf,
        /// Byte offset of the record's first byte.
        offset: u64,
        /// `"length"` or `"data"`.
        which: &'static str,
    },
    /// The file ends in the middle of a record.
    #[error("{path}: file ends inside the record at byte {offset} (the writer was interrupted or is still writing; flush it or read again later)")]
    Truncated { path: PathBuf, offset: u64 },
    /// The record's checksums hold but its bytes are not an `Event` protobuf.
    #[error("{path}: the record at byte {offset} is not a TensorBoard Event ({source}); is this a tfevents file?")]
    Decode {
        path: PathBuf,
        offset: u64,
        #[source]
        source: prost::DecodeError,
    },
}

impl LogError {
    /// Wraps an I/O error with the path and what we were doing to it.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LogError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// A destination for training metrics.
pub trait MetricSink {
    /// Record one scalar. `tag` like "train/loss", "perf/tokens_per_s"; `step` is the optimizer step.
    fn scalar(&mut self, tag: &str, step: u64, value: f64);
    /// Free-form text line (goes to the text log / console).
    fn text(&mut self, _line: &str) {}
    /// Push buffered data to its destination (called at checkpoints and at the end of a run).
    fn flush(&mut self) {}
}

impl<S: MetricSink + ?Sized> MetricSink for Box<S> {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        (**self).scalar(tag, step, value);
    }
    fn text(&mut self, line: &str) {
        (**self).text(line);
    }
    fn flush(&mut self) {
        (**self).flush();
    }
}

/// Fans out to several sinks, in order.
#[derive(Default)]
pub struct MultiSink {
    pub sinks: Vec<Box<dyn MetricSink>>,
}

impl MultiSink {
    /// An empty fan-out; add sinks with [`MultiSink::push`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink and returns `self` for chaining.
    pub fn with(mut self, sink: impl MetricSink + 'static) -> Self {
        self.push(sink);
        self
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: impl MetricSink + 'static) {
        self.sinks.push(Box::new(sink));
    }
}

impl MetricSink for MultiSink {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        for sink in &mut self.sinks {
            sink.scalar(tag, step, value);
        }
    }
    fn text(&mut self, line: &str) {
        for sink in &mut self.sinks {
            sink.text(line);
        }
    }
    fn flush(&mut self) {
        for sink in &mut self.sinks {
            sink.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_sink_fans_out_scalars_and_text_to_every_sink() {
        let a = MemorySink::new();
        let b = MemorySink::new();
        let mut multi = MultiSink::new().with(a.clone()).with(b.clone());
        multi.scalar("train/loss", 3, 1.5);
        multi.text("hello");
        multi.flush();
        for sink in [&a, &b] {
            assert_eq!(sink.values("train/loss"), vec![(3, 1.5)]);
            assert_eq!(sink.texts(), vec!["hello".to_string()]);
        }
    }

    #[test]
    fn boxed_sink_is_a_sink() {
        let mem = MemorySink::new();
        let mut boxed: Box<dyn MetricSink> = Box::new(mem.clone());
        boxed.scalar("perf/tokens_per_s", 1, 10.0);
        assert_eq!(mem.values("perf/tokens_per_s"), vec![(1, 10.0)]);
    }

    #[test]
    fn log_error_messages_say_what_to_do() {
        let err = LogError::Truncated {
            path: "x".into(),
            offset: 12,
        };
        assert!(err.to_string().contains("byte 12"));
        assert!(err.to_string().contains("flush"));
    }
}
