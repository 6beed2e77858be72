//! Owns: reading the journal from a sequence onwards, in this or another process, and following
//! a live writer across segment rollover. Never: writes to the journal, or returns a record
//! whose length word was not published or whose CRC does not match.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::format::{
    check_slot, list_segments, segment_path, RecordHeader, RecordType, SegmentHeader, Slot,
    RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use super::payload::{self, JournalEntry};
use super::JournalError;

/// One record as stored, borrowed from the mapped segment.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Raw record type code (see [`RecordType`]).
    pub type_code: u16,
    /// Producer's timestamp.
    pub event_ns: u64,
    /// Writer's wall-clock stamp (ns since the Unix epoch).
    pub write_ns: u64,
    /// Encoded payload (see [`payload`]).
    pub payload: &'a [u8],
    /// Segment file holding the record.
    pub file: &'a Path,
    /// Byte offset of the record in `file`.
    pub offset: u64,
}

impl<'a> RecordView<'a> {
    pub(crate) fn new(map: &'a [u8], file: &'a Path, offset: usize, h: &RecordHeader) -> Self {
        let start = offset + RECORD_HEADER_BYTES;
        Self {
            seq: h.seq,
            type_code: h.type_code,
            event_ns: h.event_ns,
            write_ns: h.write_ns,
            payload: &map[start..start + h.payload_len()],
            file,
            offset: offset as u64,
        }
    }

    /// The record type; an error naming file and offset for an unknown code.
    pub fn kind(&self) -> Result<RecordType, JournalError> {
        RecordType::from_u16(self.type_code).ok_or_else(|| JournalError::UnknownType {
            file: self.file.to_path_buf(),
            offset: self.offset,
            seq: self.seq,
            code: self.type_code,
        })
    }

    /// Decodes the payload into an owned entry.
    pub fn decode(&self) -> Result<JournalEntry, JournalError> {
        let kind = self.kind()?;
        payload::decode(kind, self.payload).map_err(|source| JournalError::Payload {
            file: self.file.to_path_buf(),
            offset: self.offset,
            seq: self.seq,
            kind: kind.name(),
            source,
        })
    }

    /// The record as one JSON object: `seq`, `event_ns`, `write_ns` and the entry's fields.
    pub fn json_with(&self, entry: &JournalEntry) -> serde_json::Value {
        let mut value = entry.to_json();
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("seq".into(), self.seq.into());
            map.insert("event_ns".into(), self.event_ns.into());
            map.insert("write_ns".into(), self.write_ns.into());
        }
        value
    }

    /// One human-readable line: sequence, UTC write time, then the entry.
    pub fn line_with(&self, entry: &JournalEntry) -> String {
        format!(
            "#{:<8} {} {entry}",
            self.seq,
            payload::format_utc_ns(self.write_ns)
        )
    }
}

struct OpenSegment {
    path: PathBuf,
    map: Mmap,
}

/// Reads records in sequence order from a journal directory; usable while a writer appends.
///
/// `next()` never blocks: `None` means "nothing more published yet". Calling it again later
/// (follow mode: poll with a short sleep) returns records appended since, including those in
/// segments created after the reader was opened.
pub struct JournalReader {
    dir: PathBuf,
    seg: Option<OpenSegment>,
    offset: usize,
    next_seq: u64,
    from_seq: u64,
    failed: bool,
}

impl JournalReader {
    /// A reader of `dir` that yields records with sequence ≥ `from_seq` (the directory may
    /// not exist yet: the reader then waits for the first segment).
    pub fn open(dir: &Path, from_seq: u64) -> Result<Self, JournalError> {
        let mut reader = Self {
            dir: dir.to_path_buf(),
            seg: None,
            offset: SEGMENT_HEADER_BYTES,
            next_seq: from_seq,
            from_seq,
            failed: false,
        };
        reader.locate()?;
        Ok(reader)
    }

    /// Sequence of the next record this reader expects.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next record, `None` when none is published yet, or an error naming file and offset
    /// (after which the reader yields nothing more).
    #[allow(clippy::should_implement_trait)] // The view borrows the reader: not an Iterator.
    pub fn next(&mut self) -> Option<Result<RecordView<'_>, JournalError>> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(None) => None,
            Ok(Some((off, h))) => {
                let seg = self.seg.as_ref()?;
                Some(Ok(RecordView::new(&seg.map, &seg.path, off, &h)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    /// Opens the segment holding `from_seq` (or the first one after it); false when none exists.
    fn locate(&mut self) -> Result<bool, JournalError> {
        let segs = list_segments(&self.dir)?;
        let chosen = segs
            .iter()
            .rev()
            .find(|(first, _)| *first <= self.from_seq)
            .or_else(|| segs.first());
        let Some((first, path)) = chosen else {
            return Ok(false);
        };
        self.open_segment(path.clone(), *first)?;
        Ok(true)
    }

    fn open_segment(&mut self, path: PathBuf, first_seq: u64) -> Result<(), JournalError> {
        let file = File::open(&path).map_err(|e| JournalError::io("opening", &path, e))?;
        // SAFETY: read-only mapping; the writer only fills zeroed space past published records
        // and publishes each record's length word atomically, which `check_slot` loads with
        // Acquire before reading the rest of the record.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| JournalError::io("mapping", &path, e))?;
        let header = SegmentHeader::parse(&map, &path)?;
        if header.first_seq != first_seq {
            return Err(JournalError::BadHeader {
                file: path,
                offset: 16,
                reason: format!(
                    "first sequence {}, file name says {first_seq}",
                    header.first_seq
                ),
            });
        }
        self.seg = Some(OpenSegment { path, map });
        self.offset = SEGMENT_HEADER_BYTES;
        self.next_seq = first_seq;
        Ok(())
    }

    /// Moves to the next published record and returns its offset and header.
    fn advance(&mut self) -> Result<Option<(usize, RecordHeader)>, JournalError> {
        if self.seg.is_none() && !self.locate()? {
            return Ok(None);
        }
        loop {
            let Some(seg) = self.seg.as_ref() else {
                return Ok(None);
            };
            match check_slot(&seg.map, self.offset) {
                Slot::Record(h) => {
                    if h.seq != self.next_seq {
                        return Err(JournalError::Corrupt {
                            file: seg.path.clone(),
                            offset: self.offset as u64,
                            reason: format!("sequence {}, expected {}", h.seq, self.next_seq),
                        });
                    }
                    let off = self.offset;
                    self.offset += h.stride();
                    self.next_seq += 1;
                    if h.seq >= self.from_seq {
                        return Ok(Some((off, h)));
                    }
                }
                Slot::Empty => {
                    // The writer creates the next segment only after publishing the last
                    // record of this one, so once the file exists a re-check of this slot is
                    // final.
                    let next_path = segment_path(&self.dir, self.next_seq);
                    if !next_path.exists() {
                        return Ok(None);
                    }
                    if check_slot(&seg.map, self.offset) != Slot::Empty {
                        continue;
                    }
                    self.open_segment(next_path, self.next_seq)?;
                }
                Slot::Bad(bad) => {
                    return Err(JournalError::Corrupt {
                        file: seg.path.clone(),
                        offset: self.offset as u64,
                        reason: bad.to_string(),
                    });
                }
            }
        }
    }
}
