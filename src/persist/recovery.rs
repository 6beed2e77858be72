//! Owns: the full-log scan that finds the valid prefix of a journal, tells a torn tail (what a
//! crash leaves) from corruption in the middle of the log, and recovers the last session.
//! Never: modifies files (the writer repairs what this reports), or panics on file bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::format::{
    check_slot, list_segments, load_len, RecordType, SegmentHeader, Slot, SEGMENT_HEADER_BYTES,
};
use super::payload::decode_session_number;
use super::reader::RecordView;
use super::JournalError;

/// What recovery found after the last complete record: bytes of a record that was being
/// written (or was damaged) when the writer stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Segment holding the torn bytes.
    pub file: PathBuf,
    /// Byte offset of the first torn byte (where the next record goes).
    pub offset: u64,
    /// Length of the torn region (up to its last non-zero byte).
    pub bytes: u64,
    /// Why the bytes at `offset` are not a record.
    pub reason: String,
}

/// What scanning the journal found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Complete, CRC-valid records kept.
    pub records: u64,
    /// Sequence of the first record kept.
    pub first_seq: Option<u64>,
    /// Sequence of the last record kept.
    pub last_seq: Option<u64>,
    /// Torn bytes after the last record (zeroed by `JournalWriter::open`).
    pub torn_tail: Option<TornTail>,
    /// Session number of the last `Session` record.
    pub last_session: Option<u32>,
    /// Segment files found.
    pub segments: usize,
}

/// Where appending would resume: the last segment and the offset after its last record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailPosition {
    /// The last segment.
    pub file: PathBuf,
    /// Its header.
    pub header: SegmentHeader,
    /// Offset after its last valid record.
    pub offset: u64,
    /// Sequence the next record must carry.
    pub next_seq: u64,
}

/// Result of [`scan`]: the report, the resume point, and corruption that stopped the scan
/// before the end of the log (valid records exist after a bad one, or a header is bad).
#[derive(Debug, Default)]
pub struct Scan {
    /// What was found.
    pub report: RecoveryReport,
    /// Where appending would resume (`None` for an empty journal or a bad header).
    pub tail: Option<TailPosition>,
    /// Corruption that stopped the scan, with file and offset.
    pub corruption: Option<JournalError>,
}

fn map_read(path: &Path) -> Result<Mmap, JournalError> {
    let file = File::open(path).map_err(|e| JournalError::io("opening", path, e))?;
    // SAFETY: the mapping is read-only; a concurrent writer only ever fills zeroed space past
    // the published records and publishes each record's length word atomically (see format).
    unsafe { Mmap::map(&file) }.map_err(|e| JournalError::io("mapping", path, e))
}

/// Whether a CRC-valid record with sequence ≥ `min_seq` exists at or after `from`.
fn valid_record_after(bytes: &[u8], from: usize, min_seq: u64) -> Option<usize> {
    let mut off = from.next_multiple_of(8);
    while off + 8 <= bytes.len() {
        if load_len(bytes, off) != 0 {
            let code = u16::from_le_bytes([bytes[off + 4], bytes[off + 5]]);
            let flags = u16::from_le_bytes([bytes[off + 6], bytes[off + 7]]);
            if flags == 0 && RecordType::from_u16(code).is_some() {
                if let Slot::Record(h) = check_slot(bytes, off) {
                    if h.seq >= min_seq {
                        return Some(off);
                    }
                }
            }
        }
        off += 8;
    }
    None
}

/// Length of the region after `from` up to its last non-zero byte.
fn dirty_extent(bytes: &[u8], from: usize) -> usize {
    let tail = bytes.get(from..).unwrap_or(&[]);
    // Page-sized chunks from the end: `all(== 0)` vectorises, so a mostly empty 64 MiB
    // segment is checked quickly.
    let mut end = tail.len();
    while end > 0 {
        let start = end.saturating_sub(4096);
        let chunk = &tail[start..end];
        if !chunk.iter().all(|&b| b == 0) {
            return chunk
                .iter()
                .rposition(|&b| b != 0)
                .map_or(start, |i| start + i + 1);
        }
        end = start;
    }
    0
}

/// Whether any segment after index `after` holds a valid first record.
fn later_segment_has_records(segs: &[(u64, PathBuf)], after: usize) -> bool {
    segs.iter().skip(after + 1).any(|(_, path)| {
        map_read(path).is_ok_and(|m| {
            SegmentHeader::parse(&m, path).is_ok()
                && matches!(check_slot(&m, SEGMENT_HEADER_BYTES), Slot::Record(_))
        })
    })
}

/// Scans every segment of `dir` in order, calling `on_record` for each valid record.
pub fn scan(dir: &Path, mut on_record: impl FnMut(&RecordView<'_>)) -> Result<Scan, JournalError> {
    let segs = list_segments(dir)?;
    let mut out = Scan::default();
    out.report.segments = segs.len();
    let mut expected: Option<u64> = None;
    for (idx, (name_seq, path)) in segs.iter().enumerate() {
        let is_last = idx + 1 == segs.len();
        let map = map_read(path)?;
        let header = match SegmentHeader::parse(&map, path) {
            Ok(h) => h,
            Err(e) => {
                out.corruption = Some(e);
                return Ok(out);
            }
        };
        let start = expected.unwrap_or(header.first_seq);
        if header.first_seq != *name_seq || header.first_seq != start {
            out.corruption = Some(JournalError::BadHeader {
                file: path.clone(),
                offset: 16,
                reason: format!(
                    "first sequence {} (file name says {name_seq}), expected {start}",
                    header.first_seq
                ),
            });
            return Ok(out);
        }
        let mut next = start;
        let mut off = SEGMENT_HEADER_BYTES;
        let stop_reason = loop {
            match check_slot(&map, off) {
                Slot::Record(h) if h.seq == next => {
                    let view = RecordView::new(&map, path, off, &h);
                    if h.type_code == RecordType::Session as u16 {
                        if let Ok(s) = decode_session_number(view.payload) {
                            out.report.last_session = Some(s);
                        }
                    }
                    on_record(&view);
                    out.report.records += 1;
                    out.report.first_seq.get_or_insert(h.seq);
                    out.report.last_seq = Some(h.seq);
                    next += 1;
                    off += h.stride();
                }
                Slot::Record(h) => break Some(format!("sequence {}, expected {next}", h.seq)),
                Slot::Empty => break None,
                Slot::Bad(bad) => break Some(bad.to_string()),
            }
        };
        expected = Some(next);
        let garbage = dirty_extent(&map, off);
        let clean_end = stop_reason.is_none() && garbage == 0;
        if clean_end && !is_last {
            continue;
        }
        // After a clean end nothing can follow in this segment; otherwise look for valid
        // records past the bad spot: they make it corruption rather than a torn tail.
        let corrupt_after = !clean_end
            && (valid_record_after(&map, off + 8, next).is_some()
                || (!is_last && later_segment_has_records(&segs, idx)));
        if corrupt_after {
            out.corruption = Some(JournalError::Corrupt {
                file: path.clone(),
                offset: off as u64,
                reason: format!(
                    "{}; valid records follow, so this is not a torn tail",
                    stop_reason.as_deref().unwrap_or("zero length word")
                ),
            });
            return Ok(out);
        }
        if garbage > 0 || stop_reason.is_some() {
            out.report.torn_tail = Some(TornTail {
                file: path.clone(),
                offset: off as u64,
                bytes: garbage as u64,
                reason: stop_reason.unwrap_or_else(|| "partly written record".to_owned()),
            });
        }
        out.tail = Some(TailPosition {
            file: path.clone(),
            header,
            offset: off as u64,
            next_seq: next,
        });
        if !is_last {
            // Torn bytes in a middle segment followed only by empty segments: stop here.
            out.corruption = Some(JournalError::Corrupt {
                file: path.clone(),
                offset: off as u64,
                reason: "torn record before later (empty) segments".to_owned(),
            });
            return Ok(out);
        }
    }
    Ok(out)
}
