//! Owns: appending records to the journal: the active segment's mapping, the write cursor,
//! pre-dirtying pages ahead of it, rollover into a pre-created spare segment, msync under the
//! flush policy, and repairing a torn tail on open. Never: syscalls (except the rename at
//! rollover), page faults on fresh pages or allocation inside `append` (all of that happens in
//! `maintain`, off the fast path), or two writers on one directory.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::format::{
    align8, segment_path, store_len, write_record_body, RecordType, SegmentHeader, CRC_BYTES,
    MIN_SEGMENT_BYTES, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use super::recovery::{scan, RecoveryReport};
use super::stamp::WallStamp;
use super::{FlushPolicy, JournalConfig, JournalError};
use crate::core::clock::wall_ns;

/// Name of the pre-created next segment before it is put into service.
const SPARE_NAME: &str = "journal.spare";
/// Name of the lock file that keeps a second writer out.
const LOCK_NAME: &str = "journal.lock";
/// Most spare-segment pages `maintain` dirties per call, to bound its duration.
const SPARE_PAGES_PER_MAINTAIN: usize = 64;

/// A mapped segment file.
struct Segment {
    path: PathBuf,
    map: MmapMut,
    /// Bytes up to which the mapping was msynced.
    flushed_to: usize,
    /// End of the written data (only meaningful once retired).
    end: usize,
}

/// The pre-created next segment, not yet visible to readers.
struct Spare {
    map: MmapMut,
    prefaulted_to: usize,
}

/// The journal's single appender. Owns the directory (an exclusive lock) while it lives.
pub struct JournalWriter {
    dir: PathBuf,
    segment_bytes: usize,
    prefault_ahead: usize,
    flush_policy: FlushPolicy,
    page: usize,
    seg: Segment,
    cursor: usize,
    next_seq: u64,
    prefaulted_to: usize,
    spare: Option<Spare>,
    retired: Vec<Segment>,
    unflushed: u64,
    last_flush_ns: u64,
    dir_dirty: bool,
    stamp: WallStamp,
    _lock: File,
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page)
        .ok()
        .filter(|&p| p >= 4096)
        .unwrap_or(4096)
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io("opening", &path, e))?;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(JournalError::io(
            "locking (is another writer running?)",
            &path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(file)
}

fn map_rw(path: &Path, min_len: Option<u64>) -> Result<MmapMut, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(min_len.is_some())
        .truncate(false)
        .open(path)
        .map_err(|e| JournalError::io("opening", path, e))?;
    if let Some(len) = min_len {
        let now = file
            .metadata()
            .map_err(|e| JournalError::io("stat", path, e))?
            .len();
        if now < len {
            file.set_len(len)
                .map_err(|e| JournalError::io("sizing", path, e))?;
        }
    }
    // SAFETY: the file is ours (the directory lock keeps other writers out); readers only map
    // it read-only and never change it, and the mapping never outlives the file's size
    // because journal files are never shrunk while mapped.
    unsafe { MmapMut::map_mut(&file) }.map_err(|e| JournalError::io("mapping", path, e))
}

/// Creates (or re-sizes) the spare segment file and maps it.
fn create_spare(dir: &Path, segment_bytes: usize) -> Result<Spare, JournalError> {
    let map = map_rw(&dir.join(SPARE_NAME), Some(segment_bytes as u64))?;
    Ok(Spare {
        map,
        prefaulted_to: 0,
    })
}

/// Writes the header into the spare and renames it into place as the segment starting at
/// `first_seq`; from then on readers can see it.
fn install(dir: &Path, mut spare: Spare, first_seq: u64) -> Result<Segment, JournalError> {
    let header = SegmentHeader {
        first_seq,
        segment_bytes: spare.map.len() as u64,
        created_wall_ns: wall_ns(),
    };
    header.write(&mut spare.map);
    let to = segment_path(dir, first_seq);
    std::fs::rename(dir.join(SPARE_NAME), &to)
        .map_err(|e| JournalError::io("renaming spare to", &to, e))?;
    Ok(Segment {
        path: to,
        map: spare.map,
        flushed_to: 0,
        end: 0,
    })
}

impl JournalWriter {
    /// Opens (or creates) the journal in `cfg.dir`, recovers it and positions after the last
    /// complete record: a torn tail is zeroed; corruption followed by valid records is an error.
    pub fn open(cfg: &JournalConfig) -> Result<(Self, RecoveryReport), JournalError> {
        let page = page_size();
        // The length word is a u32, so no record (and no segment) may reach 4 GiB.
        let max = u64::from(u32::MAX) + 1 - page as u64;
        if cfg.segment_bytes < MIN_SEGMENT_BYTES || cfg.segment_bytes > max {
            return Err(JournalError::Config(format!(
                "segment_bytes {} outside {MIN_SEGMENT_BYTES}..={max}",
                cfg.segment_bytes
            )));
        }
        let segment_bytes = (cfg.segment_bytes as usize).next_multiple_of(page);
        let prefault_ahead = usize::try_from(cfg.prefault_ahead_bytes)
            .map_err(|_| JournalError::Config("prefault_ahead_bytes too large".into()))?;
        std::fs::create_dir_all(&cfg.dir).map_err(|e| JournalError::io("creating", &cfg.dir, e))?;
        let lock = lock_dir(&cfg.dir)?;
        let spare_path = cfg.dir.join(SPARE_NAME);
        match std::fs::remove_file(&spare_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JournalError::io("removing", &spare_path, e)),
        }
        let found = scan(&cfg.dir, |_| {})?;
        if let Some(corruption) = found.corruption {
            return Err(corruption);
        }
        let mut dir_dirty = false;
        let (seg, cursor, next_seq) = match &found.tail {
            Some(tail) => {
                let mut map = map_rw(&tail.file, Some(tail.header.segment_bytes))?;
                let offset = tail.offset as usize;
                if let Some(torn) = &found.report.torn_tail {
                    let end = (offset + torn.bytes as usize).min(map.len());
                    map[offset..end].fill(0);
                    map.flush_range(offset, end - offset)
                        .map_err(|e| JournalError::io("syncing repaired tail of", &tail.file, e))?;
                }
                let seg = Segment {
                    path: tail.file.clone(),
                    map,
                    flushed_to: offset,
                    end: 0,
                };
                (seg, offset, tail.next_seq)
            }
            None => {
                let spare = create_spare(&cfg.dir, segment_bytes)?;
                dir_dirty = true;
                (install(&cfg.dir, spare, 1)?, SEGMENT_HEADER_BYTES, 1)
            }
        };
        let mut writer = Self {
            dir: cfg.dir.clone(),
            segment_bytes,
            prefault_ahead,
            flush_policy: cfg.flush,
            page,
            seg,
            cursor,
            next_seq,
            prefaulted_to: cursor,
            spare: None,
            retired: Vec::new(),
            unflushed: 0,
            last_flush_ns: 0,
            dir_dirty,
            stamp: WallStamp::new(),
            _lock: lock,
        };
        writer.prefault_current();
        Ok((writer, found.report))
    }

    /// Starts a new session after `recovered` (the report `open` returned): journals its
    /// session record (number, wall clock, pid) and returns the session number, which client
    /// order ids carry so a restarted engine never reuses one.
    pub fn begin_session(&mut self, recovered: &RecoveryReport) -> Result<u32, JournalError> {
        let session = recovered.last_session.map_or(1, |s| s + 1);
        let mut buf = [0u8; super::payload::MAX_FIXED_PAYLOAD];
        let len = super::payload::encode_session(
            &super::payload::SessionStart {
                session,
                wall_ns: wall_ns(),
                pid: std::process::id(),
            },
            &mut buf,
        );
        self.append(super::RecordType::Session, wall_ns(), &buf[..len])?;
        Ok(session)
    }

    /// Appends one record and returns its sequence number. A memcpy into pre-dirtied pages
    /// plus a CRC; the record is visible to readers (and survives a process crash) on return.
    #[inline]
    pub fn append(
        &mut self,
        kind: RecordType,
        event_ns: u64,
        payload: &[u8],
    ) -> Result<u64, JournalError> {
        let total = align8(RECORD_HEADER_BYTES + payload.len() + CRC_BYTES);
        if self.cursor + total > self.seg.map.len() {
            self.roll(total)?;
        }
        let seq = self.next_seq;
        let at = self.cursor;
        let len = write_record_body(
            &mut self.seg.map[at..at + total],
            kind as u16,
            seq,
            event_ns,
            self.stamp.now(),
            payload,
        );
        store_len(&mut self.seg.map, at, len);
        self.cursor = at + total;
        self.next_seq = seq + 1;
        self.unflushed += 1;
        Ok(seq)
    }

    /// Housekeeping off the append path: dirties pages ahead of the cursor, pre-creates the
    /// next segment and runs the flush policy (which also msyncs segments retired by rollover).
    pub fn maintain(&mut self, now_mono_ns: u64) -> Result<(), JournalError> {
        self.prefault_current();
        self.stamp.reanchor();
        if self.spare.is_none() {
            self.spare = Some(create_spare(&self.dir, self.segment_bytes)?);
        }
        if let Some(spare) = self.spare.as_mut() {
            let target = self.prefault_ahead.min(spare.map.len());
            let mut budget = SPARE_PAGES_PER_MAINTAIN;
            while spare.prefaulted_to < target && budget > 0 {
                spare.map[spare.prefaulted_to] = 0;
                spare.prefaulted_to += self.page;
                budget -= 1;
            }
        }
        let policy = self.flush_policy;
        let by_count = policy.every_records > 0 && self.unflushed >= policy.every_records;
        let by_time = policy.every_ms > 0
            && self.unflushed > 0
            && now_mono_ns.saturating_sub(self.last_flush_ns) >= policy.every_ms * 1_000_000;
        if by_count || by_time {
            self.flush()?;
            self.last_flush_ns = now_mono_ns;
        } else if policy.every_records == 0 && policy.every_ms == 0 {
            // No msync was promised: unmapping is enough, the kernel writes the pages back.
            self.retired.clear();
        }
        Ok(())
    }

    /// msyncs everything appended so far (and new directory entries) to stable storage.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        for seg in self.retired.drain(..) {
            let len = seg.end.saturating_sub(seg.flushed_to);
            if len > 0 {
                seg.map
                    .flush_range(seg.flushed_to, len)
                    .map_err(|e| JournalError::io("syncing", &seg.path, e))?;
            }
        }
        let seg = &mut self.seg;
        if self.cursor > seg.flushed_to {
            seg.map
                .flush_range(seg.flushed_to, self.cursor - seg.flushed_to)
                .map_err(|e| JournalError::io("syncing", &seg.path, e))?;
            seg.flushed_to = self.cursor;
        }
        if self.dir_dirty {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| JournalError::io("syncing directory", &self.dir, e))?;
            self.dir_dirty = false;
        }
        self.unflushed = 0;
        Ok(())
    }

    /// Flushes everything and releases the journal (the spare segment is removed).
    pub fn close(mut self) -> Result<(), JournalError> {
        self.flush()?;
        if self.spare.take().is_some() {
            let path = self.dir.join(SPARE_NAME);
            std::fs::remove_file(&path).map_err(|e| JournalError::io("removing", &path, e))?;
        }
        Ok(())
    }

    /// Sequence number the next appended record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Dirties the pages from the cursor to `prefault_ahead` bytes past it (never a byte
    /// before the cursor: those hold published records).
    fn prefault_current(&mut self) {
        let len = self.seg.map.len();
        let target = self.cursor.saturating_add(self.prefault_ahead).min(len);
        let mut p = self
            .prefaulted_to
            .max(self.cursor.next_multiple_of(self.page));
        while p < target {
            self.seg.map[p] = 0;
            p += self.page;
        }
        self.prefaulted_to = self.prefaulted_to.max(p);
    }

    /// Moves to a fresh segment because a `total`-byte record does not fit in this one.
    #[cold]
    fn roll(&mut self, total: usize) -> Result<(), JournalError> {
        if total > self.segment_bytes - SEGMENT_HEADER_BYTES {
            return Err(JournalError::RecordTooLarge {
                bytes: total,
                segment_bytes: self.segment_bytes as u64,
            });
        }
        let spare = match self.spare.take() {
            Some(spare) => spare,
            None => create_spare(&self.dir, self.segment_bytes)?,
        };
        let prefaulted = spare.prefaulted_to;
        let fresh = install(&self.dir, spare, self.next_seq)?;
        self.dir_dirty = true;
        self.prefaulted_to = prefaulted.max(SEGMENT_HEADER_BYTES);
        let mut old = std::mem::replace(&mut self.seg, fresh);
        old.end = self.cursor;
        self.retired.push(old);
        self.cursor = SEGMENT_HEADER_BYTES;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
