//! Owns: one symbol's trades of the last N seconds of engine time, folded into one bucket
//! per second (high, low, traded quantity, trade count), so any window of whole seconds is
//! summarised without keeping every trade. Never: allocates after construction; a bucket
//! whose second has passed out of the ring is reused, so gaps in the data read as seconds
//! without trades.

use crate::core::Qty;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// The engine second it holds (`u64::MAX`: never used).
    second: u64,
    high: f64,
    low: f64,
    volume: Qty,
    ticks: u32,
}

const EMPTY: Bucket = Bucket {
    second: u64::MAX,
    high: 0.0,
    low: 0.0,
    volume: Qty::ZERO,
    ticks: 0,
};

/// What a window of seconds saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSummary {
    /// Extremes of the trade prices (meaningful when `ticks > 0`).
    pub high: f64,
    pub low: f64,
    /// Traded base quantity, exact.
    pub volume: Qty,
    pub ticks: u32,
}

/// The last `capacity` seconds of one symbol's trades.
#[derive(Debug, Clone)]
pub struct SecondBuckets {
    buckets: Vec<Bucket>,
    /// The first second a trade was seen (`None`: never).
    first_second: Option<u64>,
}

impl SecondBuckets {
    /// Buckets for `capacity` seconds (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            buckets: vec![EMPTY; capacity.max(1)],
            first_second: None,
        }
    }

    fn index(&self, second: u64) -> usize {
        (second % self.buckets.len() as u64) as usize
    }

    /// Adds a trade in engine second `second`.
    pub fn push(&mut self, second: u64, price: f64, qty: Qty) {
        self.first_second.get_or_insert(second);
        let index = self.index(second);
        let bucket = &mut self.buckets[index];
        if bucket.second != second {
            *bucket = Bucket {
                second,
                high: price,
                low: price,
                volume: Qty::ZERO,
                ticks: 0,
            };
        }
        bucket.high = bucket.high.max(price);
        bucket.low = bucket.low.min(price);
        bucket.volume = bucket.volume.saturating_add(qty.abs());
        bucket.ticks += 1;
    }

    /// The first second a trade was seen.
    pub fn first_second(&self) -> Option<u64> {
        self.first_second
    }

    /// Seconds `from..=to` (both within the last `capacity` seconds of the newest push).
    pub fn summary(&self, from: u64, to: u64) -> WindowSummary {
        let mut out = WindowSummary {
            high: f64::MIN,
            low: f64::MAX,
            volume: Qty::ZERO,
            ticks: 0,
        };
        if from > to {
            return out;
        }
        let span = (to - from + 1).min(self.buckets.len() as u64);
        for second in (to + 1 - span)..=to {
            let bucket = &self.buckets[self.index(second)];
            if bucket.second != second {
                continue;
            }
            out.high = out.high.max(bucket.high);
            out.low = out.low.min(bucket.low);
            out.volume = out.volume.saturating_add(bucket.volume);
            out.ticks += bucket.ticks;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Qty {
        Qty::parse(text).expect("qty")
    }

    #[test]
    fn sums_windows_of_seconds_and_forgets_what_left_the_ring() {
        let mut buckets = SecondBuckets::new(10);
        buckets.push(100, 5.0, q("1"));
        buckets.push(100, 6.0, q("2"));
        buckets.push(103, 4.0, q("0.5"));
        let all = buckets.summary(94, 103);
        assert_eq!((all.high, all.low, all.ticks), (6.0, 4.0, 3));
        assert_eq!(all.volume, q("3.5"));
        assert_eq!(buckets.summary(101, 103).ticks, 1);
        assert_eq!(buckets.first_second(), Some(100));
        // Second 110 reuses 100's bucket.
        buckets.push(110, 7.0, q("1"));
        let recent = buckets.summary(101, 110);
        assert_eq!((recent.high, recent.low, recent.ticks), (7.0, 4.0, 2));
        assert_eq!(buckets.summary(100, 100).ticks, 0);
        assert_eq!(buckets.summary(5, 4).ticks, 0, "empty range");
    }
}
