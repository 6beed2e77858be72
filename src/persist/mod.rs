//! Owns: the mmap journal (segments, record codec, recovery, readers). Never: runs on a hot
//! thread other than the persist thread, or blocks a producer without counting it.
//!
//! # Layout
//! - [`format`]: the on-disk segment and record format, shared by every reader and writer.
//! - [`writer`]: [`JournalWriter`], the single appender (pre-sized segments, pre-dirtied pages,
//!   rollover, flush policy).
//! - [`recovery`]: the full-log scan used by `JournalWriter::open` and `kestrel-journal verify`.
//! - [`reader`]: [`JournalReader`], an independent reader that may live in another process
//!   and follows the writer live.
//! - [`payload`]: the versioned little-endian payload codec for each [`RecordType`].
//!
//! # Durability promise
//! An `append` returns once the record is in the shared file mapping, i.e. in the kernel's
//! page cache, and is visible to readers in other processes. From that moment:
//! - **Process crash** (panic, `kill -9`, OOM kill): every record whose `append` returned
//!   survives, whatever the flush policy. The kernel owns the pages; the next
//!   `JournalWriter::open` finds them. A record being written when the process died is
//!   invisible (its length word is published last) and recovery zeroes its partial bytes.
//! - **Power loss or kernel crash**: only records covered by a completed `msync` are promised:
//!   those appended before the last `flush()`, or before the last flush `maintain()` ran under
//!   [`FlushPolicy`] (every `every_records` records and/or every `every_ms` ms, checked when
//!   `maintain` is called; segments left by a rollover are msynced by the next such flush).
//!   With the defaults, at most the last 1000 records or 100 ms (plus the `maintain` call
//!   interval) are lost. With both triggers 0 nothing is msynced before `flush()`/`close()`.
//!   Pages may reach the disk out of order, so recovery keeps the longest valid prefix: it
//!   stops at the first bad record, zeroes a torn tail, and `JournalWriter::open` refuses a
//!   log where valid records follow a bad one (corruption, not a torn tail: run
//!   `kestrel-journal verify` and decide).
//! - `close()` flushes everything, so a clean shutdown loses nothing.
//!
//! # Conventions
//! Sequences start at 1 and are contiguous across segments. `event_ns` is whatever the
//! producer passes (the engine passes the event's wall-clock ns: its threads stamp events
//! with the monotonic clock and the persist thread adds the offset taken at start-up); `write_ns` is wall-clock ns since the Unix
//! epoch stamped by the writer (TSC-extrapolated, re-anchored in `maintain`). One writer per
//! directory (an `flock` on `journal.lock`); any number of readers.

pub mod format;
pub mod payload;
pub mod reader;
pub mod recovery;
mod stamp;
pub mod writer;

use std::path::PathBuf;

pub use format::RecordType;
pub use reader::{JournalReader, RecordView};
pub use recovery::{RecoveryReport, TornTail};
pub use writer::JournalWriter;

const MIB: u64 = 1024 * 1024;

/// Where and how the journal is written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// Directory holding the segment files (created when missing).
    pub dir: PathBuf,
    /// Size of each pre-sized segment file; rounded up to a whole page, at least one page.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// How far ahead of the write cursor `maintain()` keeps pages dirtied.
    #[serde(default = "default_prefault_ahead_bytes")]
    pub prefault_ahead_bytes: u64,
    /// When `maintain()` issues an `msync`.
    #[serde(default)]
    pub flush: FlushPolicy,
}

/// When `maintain()` msyncs the journal; 0 turns a trigger off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlushPolicy {
    /// Flush once this many records were appended since the last flush.
    #[serde(default = "default_every_records")]
    pub every_records: u64,
    /// Flush once this many milliseconds passed since the last flush (when records are pending).
    #[serde(default = "default_every_ms")]
    pub every_ms: u64,
}

fn default_segment_bytes() -> u64 {
    64 * MIB
}
fn default_prefault_ahead_bytes() -> u64 {
    MIB
}
fn default_every_records() -> u64 {
    1000
}
fn default_every_ms() -> u64 {
    100
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self {
            every_records: default_every_records(),
            every_ms: default_every_ms(),
        }
    }
}

impl JournalConfig {
    /// The default configuration for a journal in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: default_segment_bytes(),
            prefault_ahead_bytes: default_prefault_ahead_bytes(),
            flush: FlushPolicy::default(),
        }
    }
}

/// Everything that can go wrong reading or writing the journal; messages name file and offset.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{op} {}: {source}", file.display())]
    Io {
        op: &'static str,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} at byte {offset}: bad segment header: {reason}", file.display())]
    BadHeader {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{} at byte {offset}: corrupt record: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{} at byte {offset}: undecodable {kind} payload of record {seq}: {source}", file.display())]
    Payload {
        file: PathBuf,
        offset: u64,
        seq: u64,
        kind: &'static str,
        #[source]
        source: payload::PayloadError,
    },
    #[error("{} at byte {offset}: unknown record type {code} (record {seq})", file.display())]
    UnknownType {
        file: PathBuf,
        offset: u64,
        seq: u64,
        code: u16,
    },
    #[error("record of {bytes} bytes does not fit in a {segment_bytes}-byte segment")]
    RecordTooLarge { bytes: usize, segment_bytes: u64 },
    #[error("invalid journal config: {0}")]
    Config(String),
}

impl JournalError {
    pub(crate) fn io(op: &'static str, file: impl Into<PathBuf>, source: std::io::Error) -> Self {
        JournalError::Io {
            op,
            file: file.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_apply_and_unknown_fields_are_rejected() {
        let cfg: JournalConfig =
            serde_json::from_str(r#"{"dir":"/tmp/j"}"#).expect("minimal config parses");
        assert_eq!(cfg, JournalConfig::new("/tmp/j"));
        assert_eq!(cfg.segment_bytes, 64 * MIB);
        assert_eq!(cfg.flush.every_records, 1000);
        assert_eq!(cfg.flush.every_ms, 100);
        let err = serde_json::from_str::<JournalConfig>(r#"{"dir":"/j","segment":1}"#);
        assert!(err.is_err());
        let err = serde_json::from_str::<JournalConfig>(r#"{"dir":"/j","flush":{"every":1}}"#);
        assert!(err.is_err());
    }
}
