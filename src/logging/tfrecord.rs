//! The TFRecord framing and the `Event` protobuf messages of TensorBoard event files.
//!
//! A file `events.out.tfevents.<unix secs>.<hostname>` holds TFRecord records:
//!
//! ```text
//! u64 LE   length of data
//! u32 LE   masked crc32c of the 8 length bytes
//! [u8]     data: one serialized `Event`
//! u32 LE   masked crc32c of data
//! ```
//!
//! with `mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8` (wrapping). The first event
//! carries `file_version = "brain.Event:2"`; each later event carries one scalar, except the
//! `session_log { status: START }` event that marks where a resumed run restarts.
//! Field numbers are those of `tensorboard/compat/proto/event.proto` and `summary.proto`
//! in the tensorflow/tensorboard repository.

use std::path::Path;

use prost::Message;

use super::LogError;

/// `tensorboard.Event` (only the fields we use; others are skipped when reading).
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// Global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// Member of the `what` oneof: set only in the first event of a file.
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    /// Member of the `what` oneof: the summary values.
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
    /// Member of the `what` oneof: a session status; a resumed run writes `START` at its first
    /// step (field 7; 6 is the deprecated `log_message`).
    #[prost(message, optional, tag = "7")]
    pub session_log: Option<SessionLog>,
}

/// `tensorboard.SessionLog`: TensorBoard's `EventAccumulator` (`_CheckForRestartAndMaybePurge`
/// in `tensorboard/backend/event_processing/event_accumulator.py`) drops every event seen
/// before a `START` whose step is `>=` the `START`'s step, in files with `file_version` >= 2.
#[derive(Clone, PartialEq, Message)]
pub struct SessionLog {
    #[prost(enumeration = "SessionStatus", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub checkpoint_path: String,
    #[prost(string, tag = "3")]
    pub msg: String,
}

/// `tensorboard.SessionLog.SessionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SessionStatus {
    StatusUnspecified = 0,
    Start = 1,
    Stop = 2,
    Checkpoint = 3,
}

/// `tensorboard.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorboard.Summary.Value`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Member of the `value` oneof, hence `optional`: a scalar of exactly 0.0 must still be written.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

/// TFRecord's checksum: crc32c, rotated and offset so that checksums of data containing
/// checksums stay well distributed.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    // (crc >> 15) | (crc << 17) is a rotation right by 15.
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Frames one serialized event as a TFRecord record.
pub fn encode_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// Parses every event of a file, verifying both checksums of every record.
pub fn read_events(path: &Path) -> Result<Vec<Event>, LogError> {
    let bytes = std::fs::read(path).map_err(|e| LogError::io("read", path, e))?;
    let mut events = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let offset = pos as u64;
        let truncated = || LogError::Truncated {
            path: path.to_path_buf(),
            offset,
        };
        let crc_err = |which| LogError::Crc {
            path: path.to_path_buf(),
            offset,
            which,
        };
        let header = bytes.get(pos..pos + 12).ok_or_else(truncated)?;
        let (len_bytes, len_crc) = header.split_at(8);
        if masked_crc32c(len_bytes) != u32::from_le_bytes(len_crc.try_into().expect("4 bytes")) {
            return Err(crc_err("length"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let data_start = pos + 12;
        let remaining = (bytes.len() - data_start) as u64;
        if len.saturating_add(4) > remaining {
            return Err(truncated());
        }
        let data_end = data_start + len as usize;
        let data = &bytes[data_start..data_end];
        let data_crc =
            u32::from_le_bytes(bytes[data_end..data_end + 4].try_into().expect("4 bytes"));
        if masked_crc32c(data) != data_crc {
            return Err(crc_err("data"));
        }
        let event = Event::decode(data).map_err(|source| LogError::Decode {
            path: path.to_path_buf(),
            offset,
            source,
        })?;
        events.push(event);
        pos = data_end + 4;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_crate_matches_the_standard_check_value() {
        // Check value of CRC-32C (Castagnoli) from the CRC catalogue.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn a_framed_event_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.out.tfevents.test");
        let event = Event {
            wall_time: 1.5,
            step: 9,
            file_version: None,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: "a/b".into(),
                    simple_value: Some(0.0),
                }],
            }),
            session_log: None,
        };
        let record = encode_record(&event.encode_to_vec());
        std::fs::write(&path, [record.clone(), record].concat()).expect("write");
        assert_eq!(
            read_events(&path).expect("read"),
            vec![event.clone(), event]
        );
    }
}
