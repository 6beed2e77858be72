//! Owns: bringing an [`L2Book`] in line with a venue's diff stream (buffering, snapshot bridging,
//! gap and crossed-book detection). Never: fetches snapshots itself, reads a clock, allocates
//! after construction.
//!
//! Rules (protocols.md §2.1, §2.2, §6.5):
//! - Spot: drop buffered diffs with `u ≤ lastUpdateId`; the first kept needs
//!   `U ≤ lastUpdateId+1 ≤ u`; afterwards a diff with `u ≤ localId` is stale and one with
//!   `U > localId+1` is a gap.
//! - Futures: drop diffs with `u < lastUpdateId`; the first kept needs `U ≤ lastUpdateId ≤ u`;
//!   afterwards a diff with `u ≤ localId` is stale and one with `pu ≠ localId` is a gap.
//!
//! A snapshot older than the first diff it must bridge is refused (`SnapshotTooOld`); a gap,
//! a crossed book or a full buffer clears the book and asks for a new snapshot.

use super::l2::L2Book;
use crate::core::{BookTop, DepthDiff, DepthSnapshot, Level};

/// Which venue sequencing rule a [`BookSync`] follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SyncRule {
    /// Binance spot: diffs chain by `U == previous u + 1`.
    BinanceSpot,
    /// Binance USDⓈ-M futures: diffs chain by `pu == previous u`.
    BinanceFutures,
}

/// What the feed runner must do after handing a diff or snapshot to a [`BookSync`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SyncStatus {
    /// Diff buffered and no snapshot is pending: fetch a snapshot now.
    NeedSnapshot,
    /// Diff buffered while the requested snapshot is in flight: nothing to do.
    Buffered,
    /// Diff applied; the book is valid.
    Applied,
    /// Diff already covered by the book (old or duplicate); ignored.
    DroppedStale,
    /// Snapshot loaded and bridged by buffered diffs; the book is valid.
    Synced,
    /// Snapshot loaded; no buffered diff reaches past it yet, the next diff must bridge it.
    AwaitingBridge,
    /// Snapshot is older than the diffs it must bridge: fetch another (buffer kept).
    SnapshotTooOld,
    /// Book already live; the snapshot was not needed and was ignored.
    SnapshotIgnored,
    /// Sequence gap: book cleared, fetch a snapshot now.
    ResyncGap,
    /// Book crossed after an update: book cleared, fetch a snapshot now.
    ResyncCrossed,
    /// Diff buffer full before a snapshot arrived: buffer restarted, fetch a snapshot now.
    ResyncOverflow,
}

impl SyncStatus {
    /// True when the runner must request a (new) snapshot.
    pub const fn needs_snapshot(self) -> bool {
        matches!(
            self,
            SyncStatus::NeedSnapshot
                | SyncStatus::SnapshotTooOld
                | SyncStatus::ResyncGap
                | SyncStatus::ResyncCrossed
                | SyncStatus::ResyncOverflow
        )
    }
}

/// Sizes fixed at construction so no update allocates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SyncConfig {
    /// Levels held per side; deeper levels are truncated and counted.
    pub max_levels_per_side: usize,
    /// Diffs held while waiting for a snapshot.
    pub max_buffered_diffs: usize,
    /// Levels (both sides, all buffered diffs) held while waiting for a snapshot.
    pub max_buffered_levels: usize,
}

impl Default for SyncConfig {
    /// Spot snapshots carry up to 5000 levels; a snapshot round trip buffers a few hundred diffs.
    fn default() -> Self {
        Self {
            max_levels_per_side: 8192,
            max_buffered_diffs: 1024,
            max_buffered_levels: 65_536,
        }
    }
}

/// Counters for the ops thread; never reset.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SyncCounters {
    pub applied: u64,
    pub buffered: u64,
    pub stale_drops: u64,
    pub gaps: u64,
    pub crossed: u64,
    pub overflows: u64,
    /// Times the book was cleared to start over (gaps + crossed + overflows).
    pub resyncs: u64,
    pub snapshots_loaded: u64,
    pub snapshots_too_old: u64,
    pub snapshots_ignored: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Buffering diffs until a snapshot arrives; `requested` once the runner was told to fetch.
    AwaitingSnapshot { requested: bool },
    /// Snapshot loaded at `snapshot_id`; the first diff must satisfy the bridge rule.
    Bridging { snapshot_id: u64 },
    /// Book valid; `local_id` is the last applied `u`.
    Live { local_id: u64 },
}

/// Header of one buffered diff; its levels live in the shared level store.
#[derive(Clone, Copy, Debug)]
struct BufferedDiff {
    first_id: u64,
    last_id: u64,
    prev_last_id: Option<u64>,
    bids_start: usize,
    bids_len: usize,
    asks_len: usize,
}

/// Diffs received before a snapshot, copied into storage preallocated at construction.
#[derive(Clone, Debug)]
struct DiffBuffer {
    diffs: Vec<BufferedDiff>,
    levels: Vec<Level>,
    max_diffs: usize,
    max_levels: usize,
}

impl DiffBuffer {
    fn new(max_diffs: usize, max_levels: usize) -> Self {
        Self {
            diffs: Vec::with_capacity(max_diffs),
            levels: Vec::with_capacity(max_levels),
            max_diffs,
            max_levels,
        }
    }

    /// Copies `diff` in; false when it does not fit.
    fn push(&mut self, diff: &DepthDiff) -> bool {
        let n = diff.bids.len() + diff.asks.len();
        if self.diffs.len() >= self.max_diffs || self.levels.len() + n > self.max_levels {
            return false;
        }
        let bids_start = self.levels.len();
        self.levels.extend_from_slice(diff.bids);
        self.levels.extend_from_slice(diff.asks);
        self.diffs.push(BufferedDiff {
            first_id: diff.first_update_id,
            last_id: diff.last_update_id,
            prev_last_id: diff.prev_last_update_id,
            bids_start,
            bids_len: diff.bids.len(),
            asks_len: diff.asks.len(),
        });
        true
    }

    fn clear(&mut self) {
        self.diffs.clear();
        self.levels.clear();
    }
}

/// Outcome of checking one diff against the current position in the stream.
enum Step {
    Stale,
    Apply,
    Gap,
    TooOld,
}

/// Owns: one symbol's L2 book and its sync state. Never: I/O, clock reads, allocation per update.
#[derive(Clone, Debug)]
pub struct BookSync {
    rule: SyncRule,
    book: L2Book,
    phase: Phase,
    buffer: DiffBuffer,
    counters: SyncCounters,
}

impl BookSync {
    /// A book awaiting its first snapshot, with all storage preallocated.
    pub fn new(rule: SyncRule, config: SyncConfig) -> Self {
        Self {
            rule,
            book: L2Book::with_capacity(config.max_levels_per_side),
            phase: Phase::AwaitingSnapshot { requested: false },
            buffer: DiffBuffer::new(config.max_buffered_diffs, config.max_buffered_levels),
            counters: SyncCounters::default(),
        }
    }

    /// The sequencing rule in force.
    pub fn rule(&self) -> SyncRule {
        self.rule
    }

    /// The book valid flag: strategies must not trade on the book while this is false.
    #[inline]
    pub fn is_valid(&self) -> bool {
        matches!(self.phase, Phase::Live { .. })
    }

    /// The book (empty or partial while not valid).
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Last applied update id (`u`), or the snapshot id while bridging; 0 before a snapshot.
    pub fn last_update_id(&self) -> u64 {
        match self.phase {
            Phase::AwaitingSnapshot { .. } => 0,
            Phase::Bridging { snapshot_id } => snapshot_id,
            Phase::Live { local_id } => local_id,
        }
    }

    /// Diffs currently buffered while awaiting a snapshot.
    pub fn buffered_diffs(&self) -> usize {
        self.buffer.diffs.len()
    }

    /// Counters since construction.
    pub fn counters(&self) -> SyncCounters {
        self.counters
    }

    /// Fills `top` with the book's best levels, its last update id and the valid flag.
    pub fn fill_top(&self, top: &mut BookTop) {
        self.book.fill_top(top);
        top.last_update_id = self.last_update_id();
        top.valid = self.is_valid();
    }

    /// Drops book and buffer and waits for a snapshot again (e.g. after a reconnect).
    pub fn reset(&mut self) {
        self.book.clear();
        self.buffer.clear();
        self.phase = Phase::AwaitingSnapshot { requested: false };
    }

    /// Feeds one diff from the stream.
    pub fn on_diff(&mut self, diff: &DepthDiff) -> SyncStatus {
        match self.phase {
            Phase::AwaitingSnapshot { requested } => self.buffer_diff(diff, requested),
            Phase::Bridging { snapshot_id } => match self.check_first(diff, snapshot_id) {
                Step::Stale => self.stale(),
                Step::Apply => self.apply(diff.bids, diff.asks, diff.last_update_id),
                Step::Gap | Step::TooOld => {
                    // The diff is newer than the snapshot: keep it for the next snapshot.
                    self.counters.snapshots_too_old += 1;
                    self.book.clear();
                    self.buffer.clear();
                    self.phase = Phase::AwaitingSnapshot { requested: true };
                    self.buffer_or_overflow(diff);
                    SyncStatus::SnapshotTooOld
                }
            },
            Phase::Live { local_id } => match self.check_next(diff, local_id) {
                Step::Stale => self.stale(),
                Step::Apply => self.apply(diff.bids, diff.asks, diff.last_update_id),
                Step::Gap | Step::TooOld => {
                    self.counters.gaps += 1;
                    self.start_over();
                    // The gap diff is newer than anything held: the next snapshot may use it.
                    self.buffer_or_overflow(diff);
                    SyncStatus::ResyncGap
                }
            },
        }
    }

    /// Feeds a REST snapshot and replays the buffered diffs on top of it.
    pub fn on_snapshot(&mut self, snap: &DepthSnapshot) -> SyncStatus {
        if self.is_valid() {
            self.counters.snapshots_ignored += 1;
            return SyncStatus::SnapshotIgnored;
        }
        let snapshot_id = snap.last_update_id;
        self.book.load_snapshot(snap);
        if self.book.is_crossed() {
            self.counters.crossed += 1;
            self.counters.resyncs += 1;
            self.book.clear();
            self.phase = Phase::AwaitingSnapshot { requested: true };
            return SyncStatus::ResyncCrossed;
        }
        self.counters.snapshots_loaded += 1;
        self.phase = Phase::Bridging { snapshot_id };
        let mut status = SyncStatus::AwaitingBridge;
        for i in 0..self.buffer.diffs.len() {
            let d = self.buffer.diffs[i];
            let step = match self.phase {
                Phase::Bridging { snapshot_id } => {
                    self.check_first_ids(d.first_id, d.last_id, snapshot_id)
                }
                Phase::Live { local_id } => {
                    self.check_next_ids(d.first_id, d.last_id, d.prev_last_id, local_id)
                }
                Phase::AwaitingSnapshot { .. } => break,
            };
            match step {
                Step::Stale => {
                    self.counters.stale_drops += 1;
                }
                Step::Apply => {
                    let bids_end = d.bids_start + d.bids_len;
                    let asks_end = bids_end + d.asks_len;
                    let levels = &self.buffer.levels;
                    self.book
                        .apply_levels(&levels[d.bids_start..bids_end], &levels[bids_end..asks_end]);
                    if self.book.is_crossed() {
                        self.counters.crossed += 1;
                        self.start_over();
                        return SyncStatus::ResyncCrossed;
                    }
                    self.counters.applied += 1;
                    self.phase = Phase::Live {
                        local_id: d.last_id,
                    };
                    status = SyncStatus::Synced;
                }
                Step::TooOld => {
                    // Keep the buffer: a newer snapshot can still be bridged by it.
                    self.counters.snapshots_too_old += 1;
                    self.book.clear();
                    self.phase = Phase::AwaitingSnapshot { requested: true };
                    return SyncStatus::SnapshotTooOld;
                }
                Step::Gap => {
                    self.counters.gaps += 1;
                    self.start_over();
                    return SyncStatus::ResyncGap;
                }
            }
        }
        self.buffer.clear();
        status
    }

    fn buffer_diff(&mut self, diff: &DepthDiff, requested: bool) -> SyncStatus {
        if !self.buffer.push(diff) {
            self.counters.overflows += 1;
            self.counters.resyncs += 1;
            self.buffer.clear();
            self.buffer_or_overflow(diff);
            self.phase = Phase::AwaitingSnapshot { requested: true };
            return SyncStatus::ResyncOverflow;
        }
        self.counters.buffered += 1;
        if requested {
            SyncStatus::Buffered
        } else {
            self.phase = Phase::AwaitingSnapshot { requested: true };
            SyncStatus::NeedSnapshot
        }
    }

    /// Buffers `diff` into a freshly cleared buffer (it only fails when one diff exceeds it).
    fn buffer_or_overflow(&mut self, diff: &DepthDiff) {
        if self.buffer.push(diff) {
            self.counters.buffered += 1;
        } else {
            self.counters.overflows += 1;
        }
    }

    fn stale(&mut self) -> SyncStatus {
        self.counters.stale_drops += 1;
        SyncStatus::DroppedStale
    }

    fn apply(&mut self, bids: &[Level], asks: &[Level], last_id: u64) -> SyncStatus {
        self.book.apply_levels(bids, asks);
        if self.book.is_crossed() {
            self.counters.crossed += 1;
            self.start_over();
            return SyncStatus::ResyncCrossed;
        }
        self.counters.applied += 1;
        self.phase = Phase::Live { local_id: last_id };
        SyncStatus::Applied
    }

    /// Clears book and buffer; the caller is told to fetch a snapshot.
    fn start_over(&mut self) {
        self.counters.resyncs += 1;
        self.book.clear();
        self.buffer.clear();
        self.phase = Phase::AwaitingSnapshot { requested: true };
    }

    fn check_first(&self, diff: &DepthDiff, snapshot_id: u64) -> Step {
        self.check_first_ids(diff.first_update_id, diff.last_update_id, snapshot_id)
    }

    fn check_next(&self, diff: &DepthDiff, local_id: u64) -> Step {
        self.check_next_ids(
            diff.first_update_id,
            diff.last_update_id,
            diff.prev_last_update_id,
            local_id,
        )
    }

    /// The first diff after a snapshot `L`: spot needs `U ≤ L+1 ≤ u`, futures `U ≤ L ≤ u`.
    #[inline]
    fn check_first_ids(&self, first: u64, last: u64, snapshot_id: u64) -> Step {
        match self.rule {
            SyncRule::BinanceSpot if last <= snapshot_id => Step::Stale,
            SyncRule::BinanceSpot if first <= snapshot_id.saturating_add(1) => Step::Apply,
            SyncRule::BinanceFutures if last < snapshot_id => Step::Stale,
            SyncRule::BinanceFutures if first <= snapshot_id => Step::Apply,
            _ => Step::TooOld,
        }
    }

    /// A diff after `localId`: spot chains by `U ≤ localId+1`, futures by `pu == localId`.
    #[inline]
    fn check_next_ids(&self, first: u64, last: u64, prev: Option<u64>, local_id: u64) -> Step {
        if last <= local_id {
            return Step::Stale;
        }
        let chained = match self.rule {
            SyncRule::BinanceSpot => first <= local_id.saturating_add(1),
            SyncRule::BinanceFutures => prev == Some(local_id),
        };
        if chained {
            Step::Apply
        } else {
            Step::Gap
        }
    }
}
