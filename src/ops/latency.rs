//! Owns: latency histograms — the hot-thread recorder, the SPSC hand-off of pre-allocated
//! hdrhistograms to the ops side, the cumulative merge and quantile read-out.
//! Never: allocates, locks or blocks in `record_ns`/`publish`; drops a batch silently.
//!
//! Hand-off protocol: `HANDOFF_SLOTS` spare histograms are created at registration and start in
//! the return ring. `publish` swaps the recorder's full histogram for a spare and pushes the
//! full one to the ops ring; the ops side adds it to its cumulative histogram, resets it and
//! pushes it back. Exactly `HANDOFF_SLOTS` spares circulate, so neither ring can overflow. If
//! no spare is back yet, the recorder keeps accumulating locally and counts the deferral.

use std::fmt;

use hdrhistogram::Histogram;
use rtrb::{Consumer, Producer, PushError, RingBuffer};

use super::metrics::Counter;
use super::prometheus::HistogramBuckets;
use super::OpsError;

/// Highest latency a histogram can hold (60 s); larger values are clamped to it.
pub const HISTOGRAM_HIGHEST_NS: u64 = 60_000_000_000;
/// Lowest discernible value: 1 ns.
const LOWEST_NS: u64 = 1;
/// 3 significant digits: ±0.1 % per value, about 220 KiB of counts per histogram.
const SIGNIFICANT_DIGITS: u8 = 3;
/// Histograms in flight between one recorder and the ops side.
const HANDOFF_SLOTS: usize = 4;

/// A histogram delta and the exact sum of the values recorded into it.
struct Batch {
    histogram: Histogram<u64>,
    sum_ns: u64,
}

impl Batch {
    fn new(name: &str) -> Result<Self, OpsError> {
        let histogram =
            Histogram::new_with_bounds(LOWEST_NS, HISTOGRAM_HIGHEST_NS, SIGNIFICANT_DIGITS)
                .map_err(|source| OpsError::Histogram {
                    name: name.to_owned(),
                    source,
                })?;
        Ok(Self {
            histogram,
            sum_ns: 0,
        })
    }
}

/// Hot-thread end of one latency histogram series; owned by exactly one thread.
///
/// Call [`LatencyRecorder::publish`] every few ms or every N records; the ops loop returns
/// spares on each `Registry::collect` (which `OpsServer::poll` runs). Values still local when
/// the recorder is dropped are published one last time, or lost (and counted) if no spare is back.
pub struct LatencyRecorder {
    local: Batch,
    full_tx: Producer<Batch>,
    empty_rx: Consumer<Batch>,
    deferred: Counter,
}

impl LatencyRecorder {
    /// Records one latency in nanoseconds (values above 60 s are clamped).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.local.histogram.saturating_record(ns);
        self.local.sum_ns = self.local.sum_ns.saturating_add(ns);
    }

    /// Values recorded since the last successful publish (to publish every N records).
    #[inline]
    pub fn pending(&self) -> u64 {
        self.local.histogram.len()
    }

    /// Hands the accumulated values to the ops side; returns false (and counts it) when no
    /// empty histogram is back yet, in which case the values stay here for the next publish.
    #[inline]
    pub fn publish(&mut self) -> bool {
        if self.local.histogram.is_empty() {
            return true;
        }
        // This thread is the only producer, so a free slot seen here stays free for the push.
        if self.full_tx.is_full() {
            self.deferred.inc();
            return false;
        }
        let Ok(spare) = self.empty_rx.pop() else {
            self.deferred.inc();
            return false;
        };
        let full = std::mem::replace(&mut self.local, spare);
        if let Err(PushError::Full(full)) = self.full_tx.push(full) {
            // Unreachable given the check above; keep the data rather than lose it.
            self.local = full;
            self.deferred.inc();
            return false;
        }
        true
    }
}

impl Drop for LatencyRecorder {
    fn drop(&mut self) {
        // A stopping thread hands over what it measured last.
        self.publish();
    }
}

impl fmt::Debug for LatencyRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyRecorder")
            .field("pending", &self.pending())
            .finish()
    }
}

/// Ops-side end of one latency histogram series: the cumulative histogram and bucket bounds.
pub(crate) struct LatencyCollector {
    full_rx: Consumer<Batch>,
    empty_tx: Producer<Batch>,
    cumulative: Batch,
    bounds_us: Vec<u64>,
}

/// Builds a connected recorder/collector pair with all histograms pre-allocated.
pub(crate) fn channel(
    name: &str,
    bucket_bounds_us: &[u64],
    deferred: Counter,
) -> Result<(LatencyRecorder, LatencyCollector), OpsError> {
    validate_bounds(name, bucket_bounds_us)?;
    let (full_tx, full_rx) = RingBuffer::new(HANDOFF_SLOTS);
    let (mut empty_tx, empty_rx) = RingBuffer::new(HANDOFF_SLOTS);
    for _ in 0..HANDOFF_SLOTS {
        if empty_tx.push(Batch::new(name)?).is_err() {
            unreachable!("a fresh ring of {HANDOFF_SLOTS} slots holds {HANDOFF_SLOTS} spares");
        }
    }
    let recorder = LatencyRecorder {
        local: Batch::new(name)?,
        full_tx,
        empty_rx,
        deferred,
    };
    let collector = LatencyCollector {
        full_rx,
        empty_tx,
        cumulative: Batch::new(name)?,
        bounds_us: bucket_bounds_us.to_vec(),
    };
    Ok((recorder, collector))
}

fn validate_bounds(name: &str, bounds_us: &[u64]) -> Result<(), OpsError> {
    let invalid = |reason| OpsError::InvalidBuckets {
        name: name.to_owned(),
        reason,
    };
    match (bounds_us.first(), bounds_us.last()) {
        (None, _) | (_, None) => Err(invalid("no bounds given")),
        (Some(0), _) => Err(invalid("bounds must be at least 1 µs")),
        (_, Some(&last)) if last > HISTOGRAM_HIGHEST_NS / 1_000 => {
            Err(invalid("bounds must not exceed the 60 s histogram range"))
        }
        _ if bounds_us.windows(2).any(|w| w[0] >= w[1]) => {
            Err(invalid("bounds must be strictly increasing"))
        }
        _ => Ok(()),
    }
}

impl LatencyCollector {
    /// Merges every published delta and returns its histogram to the recorder.
    pub(crate) fn collect(&mut self) {
        while let Ok(mut batch) = self.full_rx.pop() {
            // Same bounds on both sides, so the add never needs to resize and cannot fail.
            let merged = self.cumulative.histogram.add(&batch.histogram);
            debug_assert!(merged.is_ok(), "histograms share one configuration");
            self.cumulative.sum_ns = self.cumulative.sum_ns.saturating_add(batch.sum_ns);
            batch.histogram.reset();
            batch.sum_ns = 0;
            // Only HANDOFF_SLOTS batches exist, so the return ring always has room.
            let _ = self.empty_tx.push(batch);
        }
    }

    /// Cumulative counts at each bound; values count at their bucket's lowest equivalent,
    /// so a bound is exact to hdrhistogram's 0.1 % resolution.
    pub(crate) fn buckets(&self) -> HistogramBuckets<'_> {
        let histogram = &self.cumulative.histogram;
        let mut cumulative = vec![0u64; self.bounds_us.len()];
        for value in histogram.iter_recorded() {
            let value_ns = histogram.lowest_equivalent(value.value_iterated_to());
            let bucket = self
                .bounds_us
                .partition_point(|&bound_us| bound_us * 1_000 < value_ns);
            if let Some(slot) = cumulative.get_mut(bucket) {
                *slot += value.count_at_value();
            }
        }
        let mut running = 0;
        for slot in &mut cumulative {
            running += *slot;
            *slot = running;
        }
        HistogramBuckets {
            bounds_us: &self.bounds_us,
            cumulative,
            count: histogram.len(),
            sum_seconds: self.cumulative.sum_ns as f64 / 1e9,
        }
    }

    /// Copy of the cumulative histogram for quantile read-out.
    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            histogram: self.cumulative.histogram.clone(),
            sum_ns: self.cumulative.sum_ns,
        }
    }

    /// Adds this series' cumulative histogram to `into` (merging labelled series).
    pub(crate) fn merge_into(&self, into: &mut LatencySnapshot) {
        let merged = into.histogram.add(&self.cumulative.histogram);
        debug_assert!(merged.is_ok(), "histograms share one configuration");
        into.sum_ns = into.sum_ns.saturating_add(self.cumulative.sum_ns);
    }
}

/// A merged copy of one or more cumulative histograms, on the ops side.
pub(crate) struct LatencySnapshot {
    histogram: Histogram<u64>,
    sum_ns: u64,
}

impl LatencySnapshot {
    pub(crate) fn summary(&self) -> LatencySummary {
        let h = &self.histogram;
        let count = h.len();
        LatencySummary {
            count,
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            mean_ns: if count == 0 {
                0.0
            } else {
                self.sum_ns as f64 / count as f64
            },
        }
    }
}

/// Quantiles of a latency histogram in nanoseconds (hdrhistogram's 0.1 % resolution).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct LatencySummary {
    /// Number of recorded values.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest recorded value.
    pub max_ns: u64,
    /// Exact arithmetic mean.
    pub mean_ns: f64,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |ns: u64| ns as f64 / 1_000.0;
        write!(
            f,
            "n={} p50={:.2}µs p99={:.2}µs p99.9={:.2}µs max={:.2}µs mean={:.2}µs",
            self.count,
            us(self.p50_ns),
            us(self.p99_ns),
            us(self.p999_ns),
            us(self.max_ns),
            self.mean_ns / 1_000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Registry;
    use super::*;

    const BOUNDS_US: [u64; 4] = [1, 10, 100, 1000];

    #[test]
    fn publish_and_collect_many_times_keeps_exact_counts() {
        let mut registry = Registry::new();
        let mut recorder = registry
            .latency_histogram("hop_seconds", "test", &[], &BOUNDS_US)
            .expect("valid histogram");
        let mut expected = 0;
        for round in 0..1_000u64 {
            for i in 0..(round % 7 + 1) {
                recorder.record_ns(500 + i * 10_000);
                expected += 1;
            }
            assert!(
                recorder.publish(),
                "ops collects every round, a spare is back"
            );
            assert_eq!(recorder.pending(), 0);
            registry.collect();
        }
        let summary = registry
            .latency_quantiles("hop_seconds")
            .expect("registered");
        assert_eq!(summary.count, expected);
    }

    #[test]
    fn full_ring_defers_publish_and_keeps_values_locally() {
        let mut registry = Registry::new();
        let mut recorder = registry
            .latency_histogram("defer_seconds", "test", &[], &BOUNDS_US)
            .expect("valid histogram");
        for _ in 0..HANDOFF_SLOTS {
            recorder.record_ns(2_000);
            assert!(recorder.publish());
        }
        recorder.record_ns(3_000);
        recorder.record_ns(4_000);
        assert!(!recorder.publish(), "no spare left until ops collects");
        assert_eq!(recorder.pending(), 2);
        registry.collect();
        assert!(recorder.publish());
        registry.collect();
        let summary = registry
            .latency_quantiles("defer_seconds")
            .expect("registered");
        assert_eq!(summary.count, HANDOFF_SLOTS as u64 + 2);
        let text = registry.render();
        assert!(
            text.contains(
                "kestrel_latency_publish_deferred_total{histogram=\"defer_seconds\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn buckets_are_cumulative_with_sum_in_seconds() {
        let mut registry = Registry::new();
        let mut recorder = registry
            .latency_histogram("b_seconds", "test", &[("ring", "a")], &BOUNDS_US)
            .expect("valid histogram");
        for ns in [800, 1_000, 5_000, 10_000, 50_000, 2_000_000] {
            recorder.record_ns(ns);
        }
        drop(recorder); // publishes on drop
        let text = registry.render();
        for line in [
            "b_seconds_bucket{ring=\"a\",le=\"0.000001\"} 2\n",
            "b_seconds_bucket{ring=\"a\",le=\"0.00001\"} 4\n",
            "b_seconds_bucket{ring=\"a\",le=\"0.0001\"} 5\n",
            "b_seconds_bucket{ring=\"a\",le=\"0.001\"} 5\n",
            "b_seconds_bucket{ring=\"a\",le=\"+Inf\"} 6\n",
            "b_seconds_sum{ring=\"a\"} 0.0020668\n",
            "b_seconds_count{ring=\"a\"} 6\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn quantiles_merge_all_series_of_a_family() {
        let mut registry = Registry::new();
        let mut a = registry
            .latency_histogram("q_seconds", "t", &[("ring", "a")], &BOUNDS_US)
            .expect("valid");
        let mut b = registry
            .latency_histogram("q_seconds", "t", &[("ring", "b")], &BOUNDS_US)
            .expect("valid");
        for ns in 1..=1_000 {
            a.record_ns(ns);
            b.record_ns(ns + 1_000);
        }
        a.publish();
        b.publish();
        let summary = registry.latency_quantiles("q_seconds").expect("registered");
        assert_eq!(summary.count, 2_000);
        assert!(summary.p50_ns.abs_diff(1_000) <= 1, "{summary}");
        assert!(summary.p99_ns.abs_diff(1_980) <= 2, "{summary}");
        assert!(summary.max_ns.abs_diff(2_000) <= 2, "{summary}");
        assert_eq!(summary.mean_ns, 1_000.5);
        assert!(registry.latency_quantiles("missing_seconds").is_none());
    }

    #[test]
    fn bad_bounds_are_rejected() {
        let mut registry = Registry::new();
        for bounds in [&[][..], &[0, 1], &[5, 5], &[10, 2], &[61_000_000]] {
            let err = registry
                .latency_histogram("bad_seconds", "t", &[], bounds)
                .expect_err("invalid bounds");
            assert!(matches!(err, OpsError::InvalidBuckets { .. }), "{err}");
        }
    }
}
