//! Owns: the metric set the engine threads update (rings, market data, orders, journal,
//! latencies) and their names. Never: decides when they are updated; the runner hands the
//! handles to the threads that own the events.

use std::collections::BTreeMap;

use super::latency::LatencyRecorder;
use super::metrics::{Counter, Gauge, Registry};
use super::OpsError;

/// Latency bucket bounds in µs, dense around the tick-to-order and ring-hop targets.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000,
];
/// Values of the `source` label on market-data and bad-input counters.
pub const MARKET_DATA_SOURCES: [&str; 3] = ["binance", "bybit", "kraken"];
/// Values of the `type` label on `market_data_events_total`.
pub const MARKET_DATA_EVENT_TYPES: [&str; 3] = ["book_ticker", "trade", "depth"];

/// Handles for one SPSC ring between engine stages.
#[derive(Debug)]
pub struct RingMetrics {
    /// Ring name, the `ring` label value.
    pub ring: String,
    /// `kestrel_ring_depth{ring}`: messages waiting, set by the consumer.
    pub depth: Gauge,
    /// `kestrel_ring_backpressure_total{ring}`: times the producer found the ring full and waited.
    pub backpressure: Counter,
    /// `kestrel_ring_conflated_total{ring}`: market-data messages replaced by a newer one.
    pub conflated: Counter,
    /// `kestrel_ring_hop_latency_seconds{ring}`: push → pop, recorded by the consumer thread.
    pub hop_latency: LatencyRecorder,
}

/// Every metric the engine threads need, registered once at start-up; the runner moves each
/// handle (maps resolved by key, recorders moved out) to its thread before the hot loop starts.
#[derive(Debug)]
pub struct EngineMetrics {
    /// One entry per ring, in the order the names were given.
    pub rings: Vec<RingMetrics>,
    /// `market_data_events_total{source,type}` keyed by (source, type).
    pub market_data_events: BTreeMap<(&'static str, &'static str), Counter>,
    /// `kestrel_bad_input_total{source}`: malformed or inconsistent input dropped.
    pub bad_input: BTreeMap<&'static str, Counter>,
    /// `orders_submitted_total`: orders accepted by the engine and sent on.
    pub orders_submitted: Counter,
    /// `orders_rejected_total`: orders refused by the risk rails or the venue.
    pub orders_rejected: Counter,
    /// `orders_filled_total`: fills applied to the portfolio.
    pub orders_filled: Counter,
    /// `kestrel_journal_records_total`: records appended.
    pub journal_records: Counter,
    /// `kestrel_journal_bytes_total`: bytes appended, framing included.
    pub journal_bytes: Counter,
    /// `kestrel_journal_flushes_total`: msync calls.
    pub journal_flushes: Counter,
    /// `kestrel_journal_errors_total`: failed appends, flushes or segment rolls.
    pub journal_errors: Counter,
    /// `kestrel_tick_to_order_latency_seconds`: market event receive → order intent at the
    /// order stage, recorded by the order-stage thread.
    pub tick_to_order_latency: LatencyRecorder,
    /// `kestrel_journal_append_latency_seconds`: one append, recorded by the persist thread.
    pub journal_append_latency: LatencyRecorder,
}

impl EngineMetrics {
    /// Registers the engine metric set with one `ring` series per name in `ring_names`.
    pub fn register(registry: &mut Registry, ring_names: &[&str]) -> Result<Self, OpsError> {
        let mut rings = Vec::with_capacity(ring_names.len());
        for &ring in ring_names {
            let labels = [("ring", ring)];
            rings.push(RingMetrics {
                ring: ring.to_owned(),
                depth: registry.gauge(
                    "kestrel_ring_depth",
                    "Messages waiting in an engine ring",
                    &labels,
                )?,
                backpressure: registry.counter(
                    "kestrel_ring_backpressure_total",
                    "Times a producer found the ring full and had to wait",
                    &labels,
                )?,
                conflated: registry.counter(
                    "kestrel_ring_conflated_total",
                    "Market-data messages replaced by a newer one because the ring was full",
                    &labels,
                )?,
                hop_latency: registry.latency_histogram(
                    "kestrel_ring_hop_latency_seconds",
                    "Time from push to pop on an engine ring",
                    &labels,
                    &LATENCY_BUCKETS_US,
                )?,
            });
        }
        let mut market_data_events = BTreeMap::new();
        let mut bad_input = BTreeMap::new();
        for source in MARKET_DATA_SOURCES {
            for event_type in MARKET_DATA_EVENT_TYPES {
                let counter = registry.counter(
                    "market_data_events_total",
                    "Market-data events decoded",
                    &[("source", source), ("type", event_type)],
                )?;
                market_data_events.insert((source, event_type), counter);
            }
            let counter = registry.counter(
                "kestrel_bad_input_total",
                "Malformed or inconsistent input dropped (bad JSON, unknown symbol, gap)",
                &[("source", source)],
            )?;
            bad_input.insert(source, counter);
        }
        Ok(Self {
            rings,
            market_data_events,
            bad_input,
            orders_submitted: registry.counter(
                "orders_submitted_total",
                "Orders accepted by the engine and sent to a venue",
                &[],
            )?,
            orders_rejected: registry.counter(
                "orders_rejected_total",
                "Orders rejected by the risk rails or the venue",
                &[],
            )?,
            orders_filled: registry.counter(
                "orders_filled_total",
                "Fills applied to the portfolio",
                &[],
            )?,
            journal_records: registry.counter(
                "kestrel_journal_records_total",
                "Journal records appended",
                &[],
            )?,
            journal_bytes: registry.counter(
                "kestrel_journal_bytes_total",
                "Journal bytes appended, framing included",
                &[],
            )?,
            journal_flushes: registry.counter(
                "kestrel_journal_flushes_total",
                "Journal msync calls",
                &[],
            )?,
            journal_errors: registry.counter(
                "kestrel_journal_errors_total",
                "Failed journal appends, flushes or segment rolls",
                &[],
            )?,
            tick_to_order_latency: registry.latency_histogram(
                "kestrel_tick_to_order_latency_seconds",
                "Market event receive to order intent at the order stage",
                &[],
                &LATENCY_BUCKETS_US,
            )?,
            journal_append_latency: registry.latency_histogram(
                "kestrel_journal_append_latency_seconds",
                "Time to append one journal record",
                &[],
                &LATENCY_BUCKETS_US,
            )?,
        })
    }

    /// Handles of the ring called `name`.
    pub fn ring(&self, name: &str) -> Option<&RingMetrics> {
        self.rings.iter().find(|r| r.ring == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_set_renders_every_name_with_ring_labels() {
        let mut registry = Registry::new();
        let mut metrics =
            EngineMetrics::register(&mut registry, &["feed_to_strat", "strat_to_oms"])
                .expect("engine metrics register cleanly");
        metrics.ring("strat_to_oms").expect("ring").depth.set(3);
        metrics.market_data_events[&("binance", "trade")].add(7);
        metrics.tick_to_order_latency.record_ns(4_000);
        metrics.tick_to_order_latency.publish();
        let text = registry.render();
        for line in [
            "kestrel_ring_depth{ring=\"strat_to_oms\"} 3\n",
            "kestrel_ring_backpressure_total{ring=\"feed_to_strat\"} 0\n",
            "kestrel_ring_conflated_total{ring=\"feed_to_strat\"} 0\n",
            "kestrel_ring_hop_latency_seconds_count{ring=\"strat_to_oms\"} 0\n",
            "market_data_events_total{source=\"binance\",type=\"trade\"} 7\n",
            "kestrel_bad_input_total{source=\"kraken\"} 0\n",
            "orders_submitted_total 0\n",
            "orders_rejected_total 0\n",
            "orders_filled_total 0\n",
            "kestrel_journal_records_total 0\n",
            "kestrel_journal_bytes_total 0\n",
            "kestrel_journal_flushes_total 0\n",
            "kestrel_journal_errors_total 0\n",
            "kestrel_tick_to_order_latency_seconds_bucket{le=\"0.000005\"} 1\n",
            "kestrel_tick_to_order_latency_seconds_count 1\n",
            "kestrel_journal_append_latency_seconds_count 0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let summary = registry
            .latency_quantiles("kestrel_tick_to_order_latency_seconds")
            .expect("registered");
        assert_eq!(summary.count, 1);
    }

    #[test]
    fn duplicate_ring_name_is_an_error() {
        let mut registry = Registry::new();
        let err = EngineMetrics::register(&mut registry, &["a", "a"]).expect_err("duplicate");
        assert!(matches!(err, OpsError::Duplicate { .. }), "{err}");
    }
}
