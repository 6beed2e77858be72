//! Owns: registering the metrics the runner's threads update (ring gauges and counters,
//! stage counters, latency histograms). Never: updates them; the loops do, lock-free.

use crate::ops::OpsError;
use crate::ops::Registry;

use super::persist_loop::PersistMetrics;
use super::ring::RingMetrics;
use super::runner::{RunnerLatency, RunnerMetrics};

/// Market event receive → the order stage handled the intent it caused.
pub const TICK_TO_ORDER: &str = "strategy_tick_to_order_latency_seconds";
/// Time spent in one stage, labelled `stage` = feed, strategy, order.
pub const STAGE: &str = "kestrel_stage_latency_seconds";
/// Market event receive → the strategy thread took it off the market ring.
pub const MARKET_HOP: &str = "kestrel_ring_hop_latency_seconds";
/// Frame receive → its capture record appended to the journal.
pub const JOURNAL_LAG: &str = "kestrel_journal_lag_seconds";

/// Histogram buckets in µs, dense around the targets (p50 5 µs, p99 20 µs, p99.9 50 µs).
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000,
];

fn ring_metrics(registry: &mut Registry, ring: &str) -> Result<RingMetrics, OpsError> {
    let labels = [("ring", ring)];
    Ok(RingMetrics {
        depth: registry.gauge("kestrel_ring_depth", "Messages waiting in an engine ring.", &labels)?,
        backpressure: registry.counter(
            "kestrel_ring_backpressure_total",
            "Times a producer found an engine ring full and had to wait.",
            &labels,
        )?,
        conflated: registry.counter(
            "kestrel_ring_conflated_total",
            "Messages replaced or dropped because an engine ring was full (market data and capture only).",
            &labels,
        )?,
    })
}

fn stage(registry: &mut Registry, stage: &str) -> Result<crate::ops::LatencyRecorder, OpsError> {
    registry.latency_histogram(
        STAGE,
        "Time one message spends in a stage: feed = frame receive to event out (decode, book), strategy = one market event, order = one intent.",
        &[("stage", stage)],
        &LATENCY_BUCKETS_US,
    )
}

/// Registers every runner metric and returns the handles for the threads.
pub fn register(registry: &mut Registry) -> Result<(RunnerMetrics, RunnerLatency), OpsError> {
    let metrics = RunnerMetrics {
        market_ring: ring_metrics(registry, "market")?,
        oms_market_ring: ring_metrics(registry, "oms_market")?,
        intent_ring: ring_metrics(registry, "intents")?,
        exec_ring: ring_metrics(registry, "exec")?,
        journal_ring: ring_metrics(registry, "journal")?,
        capture_ring: ring_metrics(registry, "capture")?,
        market_events: registry.counter(
            "kestrel_market_events_total",
            "Market events produced by the feed stage.",
            &[],
        )?,
        intents: registry.counter("kestrel_intents_total", "Order intents emitted by strategies.", &[])?,
        exec_undelivered: registry.counter(
            "kestrel_exec_undelivered_total",
            "Order updates and fills that reached no strategy because the strategy stage had stopped.",
            &[],
        )?,
        exec_backlog_grown: registry.counter(
            "kestrel_exec_backlog_grown_total",
            "Times the order thread's preallocated backlog of fills and updates for the strategies was full and grew.",
            &[],
        )?,
        intents_undelivered: registry.counter(
            "kestrel_intents_undelivered_total",
            "Intents emitted during shutdown after the order stage had finished draining.",
            &[],
        )?,
        outbox_overflow: registry.counter(
            "kestrel_outbox_overflow_total",
            "Times a component filled its per-event outbox.",
            &[],
        )?,
        persist: PersistMetrics {
            records: registry.counter("kestrel_journal_records_total", "Records appended to the journal.", &[])?,
            bytes: registry.counter("kestrel_journal_bytes_total", "Payload bytes appended to the journal.", &[])?,
            frames: registry.counter(
                "kestrel_journal_frames_total",
                "Raw market frames captured into the journal.",
                &[],
            )?,
            errors: registry.counter(
                "kestrel_journal_errors_total",
                "Journal append, maintenance or close failures.",
                &[],
            )?,
        },
    };
    let latency = RunnerLatency {
        tick_to_order: registry.latency_histogram(
            TICK_TO_ORDER,
            "Market event receive to intent handled by the order stage.",
            &[],
            &LATENCY_BUCKETS_US,
        )?,
        market_hop: registry.latency_histogram(
            MARKET_HOP,
            "Market event receive to strategy stage pickup.",
            &[("ring", "market")],
            &LATENCY_BUCKETS_US,
        )?,
        journal_lag: registry.latency_histogram(
            JOURNAL_LAG,
            "Frame receive to its capture record appended to the journal.",
            &[],
            &LATENCY_BUCKETS_US,
        )?,
        feed_stage: stage(registry, "feed")?,
        strategy_stage: stage(registry, "strategy")?,
        order_stage: stage(registry, "order")?,
    };
    Ok((metrics, latency))
}
