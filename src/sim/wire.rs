//! Owns: the simulator's wire-to-wire measurement: when the last market frame went out to
//! any client, and per order received, the time from that write to the order frame being
//! read (the figure `kestrel bench e2e` reports). Never: blocks a writer or a reader for
//! long (one atomic store per market write, one short lock per order).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;

/// Longest interval recorded (ns); longer ones are clamped.
const MAX_RECORDED_NS: u64 = 60_000_000_000;

/// Market-write stamps and the order-read histogram, shared by every connection.
#[derive(Debug)]
pub(crate) struct WireClock {
    /// Monotonic ns (`core::clock::mono_ns`) as the last market frames went to the socket
    /// (just before the flush); 0 before.
    last_market_write_ns: AtomicU64,
    histogram: Mutex<Option<Histogram<u64>>>,
}

impl Default for WireClock {
    fn default() -> Self {
        Self {
            last_market_write_ns: AtomicU64::new(0),
            histogram: Mutex::new(Histogram::new_with_bounds(1, MAX_RECORDED_NS, 3).ok()),
        }
    }
}

impl WireClock {
    /// A market frame (or a batch of them) was just written to a client.
    pub fn market_written(&self, now_ns: u64) {
        self.last_market_write_ns.store(now_ns, Ordering::Release);
    }

    /// An order frame was read at `read_ns`: records the time since the last market write.
    pub fn order_read(&self, read_ns: u64) {
        let written = self.last_market_write_ns.load(Ordering::Acquire);
        if written == 0 || read_ns < written {
            return;
        }
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
        let histogram = clock.snapshot().expect("histogram exists");
        assert_eq!(histogram.len(), 2);
        assert_eq!(histogram.max(), histogram.highest_equivalent(25_000));
        assert_eq!(histogram.min(), histogram.lowest_equivalent(1_000));
    }
}
