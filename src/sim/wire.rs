//! Owns: the simulator's wire-to-wire measurement: when the last market frame went out to
//! any client, and per order received, the time from that write to the order frame being
//! read (the figure `kestrel bench e2e` reports). Never: blocks a writer or a reader for
//! long (two atomic operations per market write, one short lock per order).
//!
//! The last few write stamps are kept, not only the newest: an order is read (and stamped)
//! before it is timed, and a market write may land in between; the order is then timed
//! from the newest write before its read, not dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;

/// Longest interval recorded (ns); longer ones are clamped.
const MAX_RECORDED_NS: u64 = 60_000_000_000;

/// Market-write stamps and the order-read histogram, shared by every connection.
#[derive(Debug)]
pub(crate) struct WireClock {
    /// Monotonic ns (`core::clock::mono_ns`) as the last market frames went to the socket
    /// (just before the flush), a ring of the newest [`KEPT_WRITES`]; 0: empty slot.
    market_writes_ns: [AtomicU64; KEPT_WRITES],
    /// Writes so far (the next slot is `writes % KEPT_WRITES`).
    writes: AtomicU64,
    histogram: Mutex<Option<Histogram<u64>>>,
}

/// Market-write stamps kept for orders read just before a later write.
const KEPT_WRITES: usize = 8;

impl Default for WireClock {
    fn default() -> Self {
        Self {
            market_writes_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            writes: AtomicU64::new(0),
            histogram: Mutex::new(Histogram::new_with_bounds(1, MAX_RECORDED_NS, 3).ok()),
        }
    }
}

impl WireClock {
    /// A market frame (or a batch of them) was just written to a client.
    pub fn market_written(&self, now_ns: u64) {
        let slot = self.writes.fetch_add(1, Ordering::AcqRel) as usize % KEPT_WRITES;
        self.market_writes_ns[slot].store(now_ns, Ordering::Release);
    }

    /// An order frame was read at `read_ns`: records the time since the last market write.
    pub fn order_read(&self, read_ns: u64) {
        let written = self
            .market_writes_ns
            .iter()
            .map(|stamp| stamp.load(Ordering::Acquire))
            .filter(|&stamp| stamp != 0 && stamp <= read_ns)
            .max();
        let Some(written) = written else {
            return;
        };
        if let Ok(mut guard) = self.histogram.lock() {
            if let Some(histogram) = guard.as_mut() {
                histogram.saturating_record((read_ns - written).max(1));
            }
        }
    }

    /// A copy of the histogram so far (ns).
    pub fn snapshot(&self) -> Option<Histogram<u64>> {
        self.histogram.lock().ok().and_then(|h| h.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_timed_from_the_last_market_write_before_them() {
        let clock = WireClock::default();
        clock.order_read(500);
        assert_eq!(
            clock.snapshot().map(|h| h.len()),
            Some(0),
            "nothing written yet"
        );
        clock.market_written(1_000);
        clock.order_read(26_000);
        clock.market_written(30_000);
        clock.order_read(31_000);
        // Read at 33 000, timed only after a write stamped 34 000: timed from 30 000.
        clock.market_written(34_000);
        clock.order_read(33_000);
        let histogram = clock.snapshot().expect("histogram exists");
        assert_eq!(histogram.len(), 3);
        assert_eq!(histogram.max(), histogram.highest_equivalent(25_000));
        assert_eq!(histogram.min(), histogram.lowest_equivalent(1_000));
    }
}
