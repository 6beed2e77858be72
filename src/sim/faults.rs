//! Owns: the fault switches the control handle flips and the replay, listeners and
//! connections read. Never: acts on sockets itself; each thread applies what it reads.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::FaultPlan;

/// Fault switches shared by every thread of one simulator.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Bumped by `drop_connections`; a connection opened under an older value closes.
    drop_generation: AtomicU64,
    skip_ranges: Mutex<Vec<RangeInclusive<u64>>>,
    stall_until: Mutex<Option<Instant>>,
    malformed_pending: AtomicU64,
    split_pending: AtomicU64,
    refuse: AtomicBool,
}

/// Takes one from `counter` if it is positive.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

impl Faults {
    /// Switches set from the start by the config.
    pub fn from_plan(plan: &FaultPlan) -> Self {
        let faults = Self::default();
        for [first, last] in &plan.skip_update_ids {
            faults.skip_update_ids(*first..=*last);
        }
        faults.send_malformed(plan.malformed_frames);
        faults.split_next_frames(plan.split_frames);
        faults.refuse_connections(plan.refuse_connections);
        faults
    }

    /// Asks every open connection to close at once.
    pub fn drop_connections(&self) {
        self.drop_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current drop generation; a connection remembers the one it opened under.
    pub fn drop_generation(&self) -> u64 {
        self.drop_generation.load(Ordering::Acquire)
    }

    /// Adds a range of update ids whose depth diffs are not sent.
    pub fn skip_update_ids(&self, range: RangeInclusive<u64>) {
        if let Ok(mut ranges) = self.skip_ranges.lock() {
            ranges.push(range);
        }
    }

    /// Whether a depth diff covering `first..=last` falls in a skipped range.
    pub fn skips(&self, first: u64, last: u64) -> bool {
        self.skip_ranges.lock().is_ok_and(|ranges| {
            ranges
                .iter()
                .any(|r| first <= *r.end() && *r.start() <= last)
        })
    }

    /// Holds the replay until `duration` from now.
    pub fn stall(&self, duration: Duration) {
        if let Ok(mut until) = self.stall_until.lock() {
            *until = Some(Instant::now() + duration);
        }
    }

    /// The end of the current stall, if one is running.
    pub fn stalled_until(&self) -> Option<Instant> {
        let until = (*self.stall_until.lock().ok()?)?;
        (until > Instant::now()).then_some(until)
    }

    /// Adds `frames` frames to send truncated.
    pub fn send_malformed(&self, frames: u64) {
        self.malformed_pending.fetch_add(frames, Ordering::AcqRel);
    }

    /// Whether the next sent frame must be malformed (consumes one).
    pub fn take_malformed(&self) -> bool {
        take_one(&self.malformed_pending)
    }

    /// Adds `frames` frames to write in two TCP writes.
    pub fn split_next_frames(&self, frames: u64) {
        self.split_pending.fetch_add(frames, Ordering::AcqRel);
    }

    /// Whether the next written frame must be split (consumes one).
    pub fn take_split(&self) -> bool {
        take_one(&self.split_pending)
    }

    /// Switches accept-and-close on or off.
    pub fn refuse_connections(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::Release);
    }

    /// Whether new connections are closed at once.
    pub fn refusing(&self) -> bool {
        self.refuse.load(Ordering::Acquire)
    }
}
