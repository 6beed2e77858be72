//! Owns: the Prometheus series of a live Binance feed (events by type, decode errors by
//! kind, WebSocket health, book sync health, book validity per symbol) and copying the
//! source's plain counters into them. Never: runs per frame; the source publishes at most
//! once per [`PUBLISH_EVERY_NS`], and publishing only adds deltas to atomics.

use crate::book::SyncCounters;
use crate::feed::ws::WsCounters;
use crate::ops::{Counter, Gauge, OpsError, Registry};

use super::live::LiveCounters;
use super::DecodeErrorKind;

/// How often the source copies its counters into the series.
pub const PUBLISH_EVERY_NS: u64 = 1_000_000_000;

/// Event types counted in `market_data_events_total{type}`, indexed like
/// `LiveCounters::published`.
pub const EVENT_TYPES: [&str; 3] = ["book_ticker", "trade", "book"];

/// What was last copied into the series, so each publish adds only the difference.
#[derive(Debug, Clone, Copy, Default)]
struct Published {
    live: LiveCounters,
    ws: WsCounters,
    sync: SyncCounters,
}

/// One feed's series.
#[derive(Debug)]
pub struct FeedMetrics {
    events: [Counter; EVENT_TYPES.len()],
    decode_errors: [Counter; DecodeErrorKind::ALL.len()],
    frames: Counter,
    disconnects: Counter,
    connects: Counter,
    connect_failures: Counter,
    stale_timeouts: Counter,
    gaps: Counter,
    resyncs: Counter,
    snapshots_loaded: Counter,
    snapshot_decode_errors: Counter,
    book_valid: Vec<Gauge>,
    last: Published,
}

impl FeedMetrics {
    /// Registers the series of the feed named `source` (e.g. `binance-spot`) carrying
    /// `symbols` (in the source's configured order).
    pub fn register(
        registry: &mut Registry,
        source: &str,
        symbols: &[String],
    ) -> Result<Self, OpsError> {
        let labels = [("source", source)];
        let mut counter = |name: &str, help: &str| registry.counter(name, help, &labels);
        let frames = counter(
            "market_data_frames_total",
            "WebSocket data frames handed to the decoder",
        )?;
        let disconnects = counter(
            "ws_disconnects_total",
            "Open market-data connections that ended for any reason",
        )?;
        let connects = counter(
            "ws_connects_total",
            "Market-data WebSocket handshakes completed (first connects, reconnects, rotations)",
        )?;
        let connect_failures = counter(
            "ws_connect_failures_total",
            "Market-data connection attempts that failed before the handshake completed",
        )?;
        let stale_timeouts = counter(
            "ws_stale_timeouts_total",
            "Market-data connections recycled after no frame arrived for the stale timeout",
        )?;
        let gaps = counter(
            "book_gaps_total",
            "Depth update-id gaps detected (each forces a resync)",
        )?;
        let resyncs = counter(
            "book_resyncs_total",
            "Order-book resyncs (gap, crossed book, overflow)",
        )?;
        let snapshots_loaded = counter(
            "book_snapshots_loaded_total",
            "REST depth snapshots applied to a book",
        )?;
        let snapshot_decode_errors = counter(
            "book_snapshot_decode_errors_total",
            "REST depth snapshots that failed to decode",
        )?;
        let mut events = Vec::with_capacity(EVENT_TYPES.len());
        for kind in EVENT_TYPES {
            events.push(registry.counter(
                "market_data_events_total",
                "Market events published to the strategies, by type",
                &[("source", source), ("type", kind)],
            )?);
        }
        let mut decode_errors = Vec::with_capacity(DecodeErrorKind::ALL.len());
        for kind in DecodeErrorKind::ALL {
            decode_errors.push(registry.counter(
                "market_data_decode_errors_total",
                "Market-data frames rejected by the decoder, by reason",
                &[("source", source), ("kind", kind.as_str())],
            )?);
        }
        let mut book_valid = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            book_valid.push(registry.gauge(
                "book_valid",
                "1 while the symbol's order book is synced and usable, else 0",
                &[("source", source), ("symbol", symbol)],
            )?);
        }
        Ok(Self {
            events: array(events),
            decode_errors: array(decode_errors),
            frames,
            disconnects,
            connects,
            connect_failures,
            stale_timeouts,
            gaps,
            resyncs,
            snapshots_loaded,
            snapshot_decode_errors,
            book_valid,
            last: Published::default(),
        })
    }

    /// Adds what changed since the last call and sets each symbol's validity gauge.
    pub fn publish(
        &mut self,
        live: &LiveCounters,
        ws: &WsCounters,
        sync: &SyncCounters,
        valid: impl Iterator<Item = bool>,
    ) {
        let last = &self.last;
        for (i, c) in self.events.iter().enumerate() {
            c.add(live.published[i].saturating_sub(last.live.published[i]));
        }
        for (i, c) in self.decode_errors.iter().enumerate() {
            c.add(live.decode_errors[i].saturating_sub(last.live.decode_errors[i]));
        }
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        self.frames.add(delta(live.frames, last.live.frames));
        self.snapshot_decode_errors.add(delta(
            live.snapshot_decode_errors,
            last.live.snapshot_decode_errors,
        ));
        self.disconnects
            .add(delta(ws.disconnects, last.ws.disconnects));
        self.connects.add(delta(ws.connects, last.ws.connects));
        self.connect_failures
            .add(delta(ws.connect_failures, last.ws.connect_failures));
        self.stale_timeouts
            .add(delta(ws.stale_timeouts, last.ws.stale_timeouts));
        self.gaps.add(delta(sync.gaps, last.sync.gaps));
        self.resyncs.add(delta(sync.resyncs, last.sync.resyncs));
        self.snapshots_loaded
            .add(delta(sync.snapshots_loaded, last.sync.snapshots_loaded));
        for (gauge, valid) in self.book_valid.iter().zip(valid) {
            gauge.set(i64::from(valid));
        }
        self.last = Published {
            live: *live,
            ws: *ws,
            sync: *sync,
        };
    }
}

fn array<const N: usize>(counters: Vec<Counter>) -> [Counter; N] {
    let mut it = counters.into_iter();
    std::array::from_fn(|_| it.next().unwrap_or_default())
}
