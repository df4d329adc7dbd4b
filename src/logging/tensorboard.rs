//! TensorBoard event files: a scalar writer ([`TensorBoardWriter`]) and a verifying
//! reader ([`read_scalars`]) for tests. The byte format is in [`super::tfrecord`].
//!
//! Written by hand on `prost` + `crc32c` rather than with `tensorboard-rs`: its latest release
//! (0.5.9) still depends on the superseded rust-protobuf 2.x line (`protobuf ^2.14`) and on
//! `image 0.23`, and scalars need only three small messages.
//!
//! A run's directory holds `events.out.tfevents.<unix secs>.<hostname>`; the first event
//! carries `file_version = "brain.Event:2"`, each later event one scalar. A resumed run writes a
//! new file whose second event is a `SessionLog.START` ([`TensorBoardWriter::mark_resume`]), so
//! TensorBoard hides the old file's steps after the checkpoint instead of showing them twice.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;

use super::tfrecord::{encode_record, read_events, Event, SessionLog, SessionStatus, Summary, SummaryValue};
use super::{LogError, MetricSink};

/// The version string TensorBoard expects in the first event of a file.
pub const FILE_VERSION: &str = "brain.Event:2";
/// Records written between automatic flushes.
const DEFAULT_FLUSH_EVERY: usize = 64;
/// Longest time buffered records wait before an automatic flush, so a live TensorBoard updates.
const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// One scalar read back from an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct TbScalar {
    pub tag: String,
    pub step: i64,
    pub value: f32,
    pub wall_time: f64,
}

/// Seconds since the Unix epoch, as TensorBoard's `wall_time`.
fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Writes scalars to a new TensorBoard event file.
///
/// Records are buffered and flushed every 64 records, every 10 s, on [`MetricSink::flush`]
/// and on drop. A write error is reported once on stderr, kept in [`TensorBoardWriter::error`],
/// and turns the writer off; training goes on.
pub struct TensorBoardWriter {
    path: PathBuf,
    out: BufWriter<File>,
    flush_every: usize,
    pending: usize,
    last_flush: Instant,
    error: Option<LogError>,
}

impl TensorBoardWriter {
    /// Creates `dir` if needed and a new event file in it, holding the file-version event.
    /// If a file of the same name exists (two writers in one second), a `.1`, `.2`, …
    /// suffix is added; TensorBoard reads any file whose name contains `tfevents`.
    pub fn create(dir: &Path) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(|e| LogError::io("create directory", dir, e))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let base = format!("events.out.tfevents.{secs}.{}", super::machine::host_name());
        let mut attempt = 0u32;
        let (path, file) = loop {
            let path = dir.join(if attempt == 0 {
                base.clone()
            } else {
                format!("{base}.{attempt}")
            });
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 1000 => attempt += 1,
                Err(e) => return Err(LogError::io("create", path, e)),
            }
        };
        let mut writer = TensorBoardWriter {
            path,
            out: BufWriter::new(file),
            flush_every: DEFAULT_FLUSH_EVERY,
            pending: 0,
            last_flush: Instant::now(),
            error: None,
        };
        let first = Event {
            wall_time: now_secs(),
            step: 0,
            file_version: Some(FILE_VERSION.to_string()),
            summary: None,
            session_log: None,
        };
        writer.write_event(&first)?;
        writer.try_flush()?;
        Ok(writer)
    }

    /// Flush after this many records instead of 64 (at least 1).
    pub fn with_flush_every(mut self, records: usize) -> Self {
        self.flush_every = records.max(1);
        self
    }

    /// The event file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write error that turned this writer off, if any.
    pub fn error(&self) -> Option<&LogError> {
        self.error.as_ref()
    }

    /// Writes one scalar event with an explicit wall time, returning any I/O error.
    pub fn write_scalar(
        &mut self,
        tag: &str,
        step: i64,
        value: f32,
        wall_time: f64,
    ) -> Result<(), LogError> {
        let event = Event {
            wall_time,
            step,
            file_version: None,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: tag.to_string(),
                    simple_value: Some(value),
                }],
            }),
            session_log: None,
        };
        self.write_event(&event)?;
        if self.pending >= self.flush_every || self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.try_flush()?;
        }
        Ok(())
    }

    /// Mark a resumed run: an event `session_log { status: START }` at `first_step`, the first
    /// optimizer step the resumed run will log (checkpoint step + 1), flushed at once.
    ///
    /// TensorBoard's `EventAccumulator` then drops every earlier event (from this run's older
    /// event files) whose step is `>= first_step`: the steps logged between the checkpoint and
    /// the crash, which the resumed run logs again (`_CheckForRestartAndMaybePurge`,
    /// tensorboard/backend/event_processing/event_accumulator.py). Call it before any scalar.
    pub fn mark_resume(&mut self, first_step: u64, checkpoint: &Path) -> Result<(), LogError> {
        let event = Event {
            wall_time: now_secs(),
            step: i64::try_from(first_step).unwrap_or(i64::MAX),
            file_version: None,
            summary: None,
            session_log: Some(SessionLog {
                status: SessionStatus::Start as i32,
                checkpoint_path: checkpoint.display().to_string(),
                msg: format!("resumed from {}", checkpoint.display()),
            }),
        };
        self.write_event(&event)?;
        self.try_flush()
    }

    fn write_event(&mut self, event: &Event) -> Result<(), LogError> {
        let record = encode_record(&event.encode_to_vec());
        self.out
            .write_all(&record)
            .map_err(|e| LogError::io("write", &self.path, e))?;
        self.pending += 1;
        Ok(())
    }

    /// Flushes buffered records to the file, returning any I/O error.
    pub fn try_flush(&mut self) -> Result<(), LogError> {
        self.out
            .flush()
            .map_err(|e| LogError::io("flush", &self.path, e))?;
        self.pending = 0;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Keeps the first error, says so once, and stops further writes.
    fn disable(&mut self, err: LogError) {
        eprintln!("warning: TensorBoard logging stopped: {err}; training continues");
        self.error = Some(err);
    }
}

impl MetricSink for TensorBoardWriter {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) {
        if self.error.is_some() {
            return;
        }
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if let Err(err) = self.write_scalar(tag, step, value as f32, now_secs()) {
            self.disable(err);
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(err) = self.try_flush() {
                self.disable(err);
            }
        }
    }
}

impl Drop for TensorBoardWriter {
    fn drop(&mut self) {
        MetricSink::flush(self);
    }
}

/// Parse an event file back, verifying both CRCs of every record; error on a bad CRC or truncation.
/// Returns the `simple_value` scalars in file order.
pub fn read_scalars(path: &Path) -> Result<Vec<TbScalar>, LogError> {
    let mut scalars = Vec::new();
    for event in read_events(path)? {
        for value in event.summary.into_iter().flat_map(|s| s.value) {
            if let Some(v) = value.simple_value {
                scalars.push(TbScalar {
                    tag: value.tag,
                    step: event.step,
                    value: v,
                    wall_time: event.wall_time,
                });
            }
        }
    }
    Ok(scalars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path, values: &[(&str, u64, f64)]) -> PathBuf {
        let mut writer = TensorBoardWriter::create(dir).expect("create writer");
        for &(tag, step, value) in values {
            writer.scalar(tag, step, value);
        }
        let path = writer.path().to_path_buf();
        drop(writer);
        path
    }

    #[test]
    fn scalars_read_back_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = [
            ("train/loss", 1, 2.5),
            ("train/loss", 2, 0.0),
            ("perf/tokens_per_s", 2, 12345.0),
        ];
        let path = written(dir.path(), &input);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        assert!(name.starts_with("events.out.tfevents."), "{name}");

        let back = read_scalars(&path).expect("read");
        let got: Vec<(&str, i64, f32)> = back
            .iter()
            .map(|s| (s.tag.as_str(), s.step, s.value))
            .collect();
        let want: Vec<(&str, i64, f32)> = input
            .iter()
            .map(|&(t, s, v)| (t, s as i64, v as f32))
            .collect();
        assert_eq!(got, want);
        assert!(back.iter().all(|s| s.wall_time > 1.0e9));
    }

    #[test]
    fn first_record_is_the_file_version_event() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = written(dir.path(), &[("a", 1, 1.0)]);
        let events = read_events(&path).expect("read");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].file_version.as_deref(), Some(FILE_VERSION));
        assert!(events[0].summary.is_none());
        assert!(events[1].file_version.is_none());
    }

    #[test]
    fn a_flipped_byte_is_a_crc_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = written(dir.path(), &[("train/loss", 1, 1.0)]);
        let clean = std::fs::read(&path).expect("read");
        // Byte 3 lies in the first length field; len - 6 lies in the last event's data
        // (the final 4 bytes are that record's data checksum).
        for (index, which) in [(3, "length"), (clean.len() - 6, "data")] {
            let mut bytes = clean.clone();
            bytes[index] ^= 0x01;
            std::fs::write(&path, &bytes).expect("write");
            match read_scalars(&path) {
                Err(LogError::Crc { which: w, .. }) => assert_eq!(w, which),
                other => panic!("expected a {which} CRC error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_truncated_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = written(dir.path(), &[("train/loss", 1, 1.0)]);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 2]).expect("write");
        assert!(matches!(
            read_scalars(&path),
            Err(LogError::Truncated { .. })
        ));
    }

    #[test]
    fn two_writers_in_one_second_get_distinct_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TensorBoardWriter::create(dir.path()).expect("first");
        let b = TensorBoardWriter::create(dir.path()).expect("second");
        assert_ne!(a.path(), b.path());
    }

    #[test]
    fn records_are_flushed_every_n_without_an_explicit_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = TensorBoardWriter::create(dir.path())
            .expect("create")
            .with_flush_every(2);
        writer.scalar("x", 1, 1.0);
        writer.scalar("x", 2, 2.0);
        assert_eq!(read_scalars(writer.path()).expect("read").len(), 2);
    }

    /// Fields of one protobuf message as `(field number, wire type, payload)`, decoded by hand
    /// (protobuf encoding guide: a varint key `field << 3 | wire type`; types 0 varint,
    /// 1 fixed64, 2 length-delimited, 5 fixed32), so the field numbers are checked
    /// independently of the prost annotations.
    fn raw_fields(mut b: &[u8]) -> Vec<(u64, u8, Vec<u8>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0u64;
            for shift in (0..64).step_by(7) {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            v
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            let (field, wire) = (key >> 3, (key & 7) as u8);
            let payload = match wire {
                0 => varint(&mut b).to_le_bytes().to_vec(),
                1 | 5 => {
                    let n = if wire == 1 { 8 } else { 4 };
                    let (p, rest) = b.split_at(n);
                    b = rest;
                    p.to_vec()
                }
                2 => {
                    let n = varint(&mut b) as usize;
                    let (p, rest) = b.split_at(n);
                    b = rest;
                    p.to_vec()
                }
                other => panic!("wire type {other}"),
            };
            out.push((field, wire, payload));
        }
        out
    }

    #[test]
    fn a_resumed_run_marks_its_first_step_with_a_session_log_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = TensorBoardWriter::create(dir.path()).expect("create");
        writer.mark_resume(201, Path::new("run/step_0000200")).expect("mark");
        writer.scalar("train/loss", 210, 1.5);
        let path = writer.path().to_path_buf();
        drop(writer);

        let events = read_events(&path).expect("read");
        assert_eq!(events.len(), 3);
        let start = &events[1];
        assert_eq!(start.step, 201);
        assert_eq!(start.session_log.as_ref().map(|l| l.status), Some(SessionStatus::Start as i32));
        assert!(start.summary.is_none() && start.file_version.is_none());

        // The same record decoded by hand: Event.step (field 2) = 201 and Event.session_log
        // (field 7; tensorboard/compat/proto/event.proto) whose status (field 1) is START = 1.
        let bytes = std::fs::read(&path).expect("bytes");
        let first_len = u64::from_le_bytes(bytes[..8].try_into().expect("8")) as usize;
        let second = &bytes[16 + first_len..];
        let len = u64::from_le_bytes(second[..8].try_into().expect("8")) as usize;
        let fields = raw_fields(&second[12..12 + len]);
        let step = fields.iter().find(|f| f.0 == 2).expect("step field");
        assert_eq!((step.1, u64::from_le_bytes(step.2[..8].try_into().expect("8"))), (0, 201));
        let log = fields.iter().find(|f| f.0 == 7).expect("session_log is field 7");
        assert_eq!(log.1, 2, "a message");
        let status = raw_fields(&log.2).into_iter().find(|f| f.0 == 1).expect("status field");
        assert_eq!((status.1, status.2[0]), (0, 1), "status START = 1");
    }
}
