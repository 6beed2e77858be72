//! Owns: the on-disk format (segment names and headers, the record frame, CRC, the published
//! length word). Never: keeps state, does file I/O beyond listing a directory, or panics on
//! bytes read from a file.
//!
//! Segment file `journal-<first_seq:020>.seg`, pre-sized, little-endian:
//! ```text
//! header (64 B): magic "KSTRLJNL" | version u16 | header_len u16 | reserved u32
//!                | first_seq u64 | segment_bytes u64 | created_wall_ns u64 | zero[20] | crc32c u32
//! records from byte 64, each 8-byte aligned:
//!   len u32 | type u16 | flags u16 | seq u64 | event_ns u64 | write_ns u64 | payload | crc32c u32 | pad
//!   len = 36 + payload bytes (no padding); crc32c covers len..payload end.
//!   len is stored last, with Release ordering; len 0 means "nothing here (yet)".
//! ```
//! A segment ends where the next record would not fit or at len 0 once the file of the next
//! segment (`first_seq` = last sequence + 1) exists.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::JournalError;

/// Segment file magic.
pub const MAGIC: [u8; 8] = *b"KSTRLJNL";
/// Format version written into every segment header.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the segment header; the first record starts here.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// Bytes of a record's fixed header (len, type, flags, seq, event_ns, write_ns).
pub const RECORD_HEADER_BYTES: usize = 32;
/// Bytes of the trailing CRC.
pub const CRC_BYTES: usize = 4;
/// Smallest valid record length word (empty payload).
pub const MIN_RECORD_LEN: usize = RECORD_HEADER_BYTES + CRC_BYTES;
/// Smallest accepted segment size.
pub const MIN_SEGMENT_BYTES: u64 = 4096;

/// What a record holds; the codes are part of the on-disk format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u16)]
pub enum RecordType {
    /// A strategy's order intent (after risk approval, before the gateway).
    OrderIntent = 1,
    /// An order state change.
    OrderUpdate = 2,
    /// An execution.
    Fill = 3,
    /// A risk rail decision or alert.
    RiskEvent = 4,
    /// A trading-state (breaker) change: from, to, cause.
    TradingState = 5,
    /// A component snapshot.
    Snapshot = 6,
    /// A raw captured market-data frame.
    MarketFrame = 7,
    /// Free text from the operator.
    OperatorNote = 8,
    /// Engine start: session number and wall time.
    Session = 9,
}

impl RecordType {
    /// Every record type, in code order.
    pub const ALL: [RecordType; 9] = [
        RecordType::OrderIntent,
        RecordType::OrderUpdate,
        RecordType::Fill,
        RecordType::RiskEvent,
        RecordType::TradingState,
        RecordType::Snapshot,
        RecordType::MarketFrame,
        RecordType::OperatorNote,
        RecordType::Session,
    ];

    /// Decodes the on-disk code.
    pub const fn from_u16(code: u16) -> Option<Self> {
        Some(match code {
            1 => RecordType::OrderIntent,
            2 => RecordType::OrderUpdate,
            3 => RecordType::Fill,
            4 => RecordType::RiskEvent,
            5 => RecordType::TradingState,
            6 => RecordType::Snapshot,
            7 => RecordType::MarketFrame,
            8 => RecordType::OperatorNote,
            9 => RecordType::Session,
            _ => return None,
        })
    }

    /// Short name used by the tools (`--type`) and in JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            RecordType::OrderIntent => "intent",
            RecordType::OrderUpdate => "order",
            RecordType::Fill => "fill",
            RecordType::RiskEvent => "risk",
            RecordType::TradingState => "state",
            RecordType::Snapshot => "snapshot",
            RecordType::MarketFrame => "frame",
            RecordType::OperatorNote => "note",
            RecordType::Session => "session",
        }
    }

    /// Parses a short name (see [`RecordType::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Rounds `n` up to a multiple of 8.
#[inline(always)]
pub const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// File name of the segment whose first record has sequence `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.seg")
}

/// Path of the segment starting at `first_seq` in `dir`.
pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(segment_file_name(first_seq))
}

/// Parses a segment file name back into its first sequence.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("journal-")?.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segments in `dir` as `(first_seq, path)`, sorted by first sequence; empty when `dir` is missing.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("listing", dir, e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(seq, _)| *seq);
    Ok(out)
}

/// A parsed segment header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SegmentHeader {
    /// Sequence of the first record in the segment.
    pub first_seq: u64,
    /// Size the segment was created with.
    pub segment_bytes: u64,
    /// Wall-clock ns when the segment was put into service.
    pub created_wall_ns: u64,
}

impl SegmentHeader {
    /// Writes the header into the first [`SEGMENT_HEADER_BYTES`] of `out`.
    pub fn write(&self, out: &mut [u8]) {
        let h = &mut out[..SEGMENT_HEADER_BYTES];
        h.fill(0);
        h[0..8].copy_from_slice(&MAGIC);
        h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[10..12].copy_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
        h[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        h[24..32].copy_from_slice(&self.segment_bytes.to_le_bytes());
        h[32..40].copy_from_slice(&self.created_wall_ns.to_le_bytes());
        let crc = crc32c::crc32c(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    /// Parses and checks the header at the start of `bytes` (the mapped segment `file`).
    pub fn parse(bytes: &[u8], file: &Path) -> Result<Self, JournalError> {
        let bad = |offset: u64, reason: String| JournalError::BadHeader {
            file: file.to_path_buf(),
            offset,
            reason,
        };
        let Some(h) = bytes.get(..SEGMENT_HEADER_BYTES) else {
            return Err(bad(
                0,
                format!(
                    "file is {} bytes, shorter than the {SEGMENT_HEADER_BYTES}-byte header",
                    bytes.len()
                ),
            ));
        };
        if h[0..8] != MAGIC {
            return Err(bad(0, format!("wrong magic {:02x?}", &h[0..8])));
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != FORMAT_VERSION {
            return Err(bad(8, format!("unsupported version {version}")));
        }
        let stored = read_u32(h, 60);
        let computed = crc32c::crc32c(&h[..60]);
        if stored != computed {
            return Err(bad(
                60,
                format!("header CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"),
            ));
        }
        Ok(Self {
            first_seq: read_u64(h, 16),
            segment_bytes: read_u64(h, 24),
            created_wall_ns: read_u64(h, 32),
        })
    }
}

/// The fixed fields of one record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecordHeader {
    /// The length word (header + payload + CRC, without padding).
    pub len: usize,
    /// Raw record type code.
    pub type_code: u16,
    /// Sequence number.
    pub seq: u64,
    /// Producer's timestamp.
    pub event_ns: u64,
    /// Writer's wall-clock stamp.
    pub write_ns: u64,
}

impl RecordHeader {
    /// Payload bytes.
    pub const fn payload_len(&self) -> usize {
        self.len - MIN_RECORD_LEN
    }
    /// Bytes the record occupies including padding.
    pub const fn stride(&self) -> usize {
        align8(self.len)
    }
}

/// What sits at a record position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    /// A complete record with a valid CRC.
    Record(RecordHeader),
    /// Length word 0, or no room left for a record: nothing (yet) at this position.
    Empty,
    /// A non-zero length word that does not frame a valid record.
    Bad(BadRecord),
}

/// Why a non-empty slot is not a record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BadRecord {
    /// The length word is below the minimum.
    LengthTooSmall(u32),
    /// The record would run past the end of the file.
    PastEnd {
        /// The length word.
        len: u32,
        /// Bytes in the file.
        file_len: usize,
    },
    /// The stored CRC does not match.
    Crc {
        /// CRC stored in the record.
        stored: u32,
        /// CRC computed over the record.
        computed: u32,
    },
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            BadRecord::LengthTooSmall(len) => {
                write!(f, "length {len} below the minimum {MIN_RECORD_LEN}")
            }
            BadRecord::PastEnd { len, file_len } => {
                write!(
                    f,
                    "length {len} runs past the end of the {file_len}-byte file"
                )
            }
            BadRecord::Crc { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
        }
    }
}

/// Loads the length word at `offset` with Acquire ordering (pairs with the writer's Release).
///
/// Returns 0 when fewer than 8 bytes remain (a record cannot start there).
#[inline]
pub fn load_len(bytes: &[u8], offset: usize) -> u32 {
    if offset % 8 != 0 || offset.saturating_add(8) > bytes.len() {
        return 0;
    }
    let ptr = bytes[offset..offset + 4].as_ptr() as *mut u32;
    // SAFETY: the four bytes are in bounds (checked above) and 4-aligned (mappings are
    // page-aligned, `offset` is a multiple of 8); `AtomicU32` has the layout of `u32`, and the
    // only concurrent writer of this word (the journal writer, possibly in another process)
    // also accesses it atomically.
    let word = unsafe { AtomicU32::from_ptr(ptr) };
    u32::from_le(word.load(Ordering::Acquire))
}

/// Publishes a record's length word at `offset` with Release ordering, after every other byte
/// of the record was written.
#[inline(always)]
pub fn store_len(bytes: &mut [u8], offset: usize, len: u32) {
    let word = &mut bytes[offset..offset + 4];
    let ptr = word.as_mut_ptr() as *mut u32;
    debug_assert!(ptr.is_aligned());
    // SAFETY: the four bytes are in bounds (the slice above) and 4-aligned (the mapping is
    // page-aligned and the writer only places records at multiples of 8); we hold the only
    // `&mut` to them in this process, and readers in other processes load them atomically.
    let word = unsafe { AtomicU32::from_ptr(ptr) };
    word.store(len.to_le(), Ordering::Release);
}

/// Examines the slot at `offset` of a mapped segment: a valid record, empty, or bad.
pub fn check_slot(bytes: &[u8], offset: usize) -> Slot {
    let len = load_len(bytes, offset);
    if len == 0 {
        return Slot::Empty;
    }
    let len_usize = len as usize;
    if len_usize < MIN_RECORD_LEN {
        return Slot::Bad(BadRecord::LengthTooSmall(len));
    }
    let end = offset.saturating_add(len_usize);
    if end > bytes.len() {
        return Slot::Bad(BadRecord::PastEnd {
            len,
            file_len: bytes.len(),
        });
    }
    let rec = &bytes[offset..end];
    let body = len_usize - CRC_BYTES;
    let computed = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), &rec[4..body]);
    let stored = read_u32(rec, body);
    if stored != computed {
        return Slot::Bad(BadRecord::Crc { stored, computed });
    }
    Slot::Record(RecordHeader {
        len: len_usize,
        type_code: u16::from_le_bytes([rec[4], rec[5]]),
        seq: read_u64(rec, 8),
        event_ns: read_u64(rec, 16),
        write_ns: read_u64(rec, 24),
    })
}

/// Writes a complete record (all but the length word) at `offset` and returns its length word;
/// the caller publishes it with [`store_len`]. `out` must hold the aligned record.
#[inline(always)]
pub fn write_record_body(
    out: &mut [u8],
    type_code: u16,
    seq: u64,
    event_ns: u64,
    write_ns: u64,
    payload: &[u8],
) -> u32 {
    let body = RECORD_HEADER_BYTES + payload.len();
    let len = (body + CRC_BYTES) as u32;
    let rec = &mut out[..align8(body + CRC_BYTES)];
    rec[4..6].copy_from_slice(&type_code.to_le_bytes());
    rec[6..8].copy_from_slice(&0u16.to_le_bytes());
    rec[8..16].copy_from_slice(&seq.to_le_bytes());
    rec[16..24].copy_from_slice(&event_ns.to_le_bytes());
    rec[24..32].copy_from_slice(&write_ns.to_le_bytes());
    rec[RECORD_HEADER_BYTES..body].copy_from_slice(payload);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), &rec[4..body]);
    let tail = &mut rec[body..];
    tail[..CRC_BYTES].copy_from_slice(&crc.to_le_bytes());
    tail[CRC_BYTES..].fill(0);
    len
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_any_flipped_bit_is_caught() {
        let mut buf = vec![0u8; 256];
        let len = write_record_body(&mut buf[8..], 3, 42, 7, 9, b"hello journal");
        store_len(&mut buf, 8, len);
        let Slot::Record(h) = check_slot(&buf, 8) else {
            panic!("freshly written record must check");
        };
        assert_eq!((h.type_code, h.seq, h.event_ns, h.write_ns), (3, 42, 7, 9));
        assert_eq!(
            &buf[8 + RECORD_HEADER_BYTES..][..h.payload_len()],
            b"hello journal"
        );
        for byte in 8..8 + len as usize {
            let mut copy = buf.clone();
            copy[byte] ^= 0x10;
            assert!(
                !matches!(check_slot(&copy, 8), Slot::Record(_)),
                "flip at {byte} undetected"
            );
        }
        assert_eq!(check_slot(&buf, 8 + h.stride()), Slot::Empty);
    }

    #[test]
    fn header_rejects_wrong_magic_and_names_round_trip() {
        let mut h = [0u8; SEGMENT_HEADER_BYTES];
        let hdr = SegmentHeader {
            first_seq: 5,
            segment_bytes: 4096,
            created_wall_ns: 1,
        };
        hdr.write(&mut h);
        assert_eq!(SegmentHeader::parse(&h, Path::new("x")).ok(), Some(hdr));
        h[0] = b'X';
        let err = SegmentHeader::parse(&h, Path::new("x")).expect_err("magic was broken");
        assert!(err.to_string().contains("x at byte 0"), "{err}");
        assert_eq!(parse_segment_file_name(&segment_file_name(77)), Some(77));
        assert_eq!(parse_segment_file_name("journal-1.seg"), None);
        for t in RecordType::ALL {
            assert_eq!(RecordType::from_name(t.name()), Some(t));
            assert_eq!(RecordType::from_u16(t as u16), Some(t));
        }
    }
}
