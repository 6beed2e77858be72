//! Owns: turning Binance market-data frames into the market events the engine sees — one
//! decoder, one synced L2 book (`BookSync`) and one venue top of book per configured symbol,
//! trade and bookTicker de-duplication, REST snapshots applied to the books, and the source
//! counters. The live source (`live::BinanceFeedSource`) and the backtester's recorded
//! captures (`backtest::input`) both drive this one type, so a replayed capture publishes
//! exactly what the live feed published. Never: does I/O, reads a clock (times are passed
//! in), panics on input, or allocates per frame once warmed up (snapshots allocate).
//!
//! De-duplication: bookTickers with an older `u` and trades with a trade id not above the
//! last one are dropped and counted; depth diffs are de-duplicated by `BookSync`.

use crate::book::{BookSync, SyncConfig, SyncCounters, SyncStatus, TopOfBook};
use crate::core::{BookTop, MarketEvent, MarketEventKind, SymbolId, SymbolTable};
use crate::engine::stage::Outbox;
use crate::ops::LogThrottle;

use super::{BinanceDecoder, BinanceMarket, DecodeErrorKind, Decoded};

/// Where published market events go: the feed thread's outbox, or a backtest's queue.
pub trait MarketEventSink {
    /// Takes one event; false when full (the event is dropped and counted).
    fn push_event(&mut self, event: MarketEvent) -> bool;
}

impl MarketEventSink for Outbox<MarketEvent> {
    #[inline]
    fn push_event(&mut self, event: MarketEvent) -> bool {
        self.push(event).is_ok()
    }
}

/// A growable queue never refuses (reserve it up front to keep the hot path allocation-free).
impl MarketEventSink for Vec<MarketEvent> {
    #[inline]
    fn push_event(&mut self, event: MarketEvent) -> bool {
        self.push(event);
        true
    }
}

/// Source-level counters (the WS feed, fetcher and book syncs have their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Frames handed to the decoder.
    pub frames: u64,
    /// Events published, indexed like `feed_metrics::EVENT_TYPES` (bookTicker, trade, book).
    pub published: [u64; 3],
    /// Decode errors, indexed like `DecodeErrorKind::ALL`.
    pub decode_errors: [u64; DecodeErrorKind::ALL.len()],
    /// Decoded messages of a type this source does not publish.
    pub ignored: u64,
    /// Frames of a symbol that is not configured.
    pub foreign_symbol: u64,
    /// bookTickers dropped for an older update id.
    pub ticker_duplicates: u64,
    /// Trades dropped for a trade id already seen.
    pub trade_duplicates: u64,
    /// Events dropped because the outbox was full.
    pub outbox_full: u64,
    /// Snapshot requests sent to the fetcher.
    pub snapshot_requests: u64,
    /// Snapshot bodies that failed to decode.
    pub snapshot_decode_errors: u64,
    /// Book resets after a connection ended.
    pub disconnect_resets: u64,
    /// `WsFeed::poll` errors (readiness poll failures).
    pub ws_poll_errors: u64,
    /// Idle warm-ups run (the last depth frame decoded again and its levels looked up).
    pub warm_runs: u64,
}

impl LiveCounters {
    /// Decode errors of one kind.
    pub fn decode_errors_of(&self, kind: DecodeErrorKind) -> u64 {
        self.decode_errors[kind_index(kind)]
    }
}

fn kind_index(kind: DecodeErrorKind) -> usize {
    DecodeErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0)
}

/// One configured symbol's state.
struct SymbolState {
    id: SymbolId,
    sync: BookSync,
    top: TopOfBook,
    last_trade_id: u64,
    /// A snapshot request is with the fetcher.
    in_flight: bool,
    /// A snapshot is wanted as soon as none is in flight.
    wanted: bool,
    book_top: BookTop,
}

/// One log line about bad frames per this interval at most.
const BAD_INPUT_LOG_EVERY_NS: u64 = 10_000_000_000;
/// Depth frames longer than this are not kept for the warm-up (the copy must not allocate).
const WARM_FRAME_BYTES: usize = 16 * 1024;

/// The configured symbols' books, fed frame by frame.
pub struct FrameBooks {
    /// Source name for log lines and metric labels, e.g. `binance-spot`.
    name: String,
    decoder: BinanceDecoder,
    symbols: Vec<SymbolState>,
    counters: LiveCounters,
    bad_input_log: LogThrottle,
    /// Whether dropped frames are reported on stderr (rate-limited); counted either way.
    log_bad_frames: bool,
    /// A copy of the last depth frame, for the idle warm-up (`FrameBooks::warm`).
    last_depth: Vec<u8>,
}

impl std::fmt::Debug for FrameBooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBooks")
            .field("name", &self.name)
            .field("symbols", &self.symbols.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl FrameBooks {
    /// Books of `symbols` (in this order: their index is the snapshot index) under `market`'s
    /// sync rule, decoding the symbols of `table`; `name` labels log lines
    /// (e.g. `binance-spot`).
    pub fn new(
        name: String,
        market: BinanceMarket,
        symbols: &[SymbolId],
        table: &SymbolTable,
    ) -> Self {
        Self {
            name,
            decoder: BinanceDecoder::new(table),
            symbols: symbols
                .iter()
                .map(|&id| SymbolState {
                    id,
                    sync: BookSync::new(market.sync_rule(), SyncConfig::default()),
                    top: TopOfBook::new(),
                    last_trade_id: 0,
                    in_flight: false,
                    wanted: false,
                    book_top: BookTop::default(),
                })
                .collect(),
            counters: LiveCounters::default(),
            bad_input_log: LogThrottle::new(BAD_INPUT_LOG_EVERY_NS),
            log_bad_frames: true,
            last_depth: Vec::with_capacity(WARM_FRAME_BYTES),
        }
    }

    /// Stops (or restarts) the stderr line about dropped frames; they are counted either way.
    pub fn set_log_bad_frames(&mut self, log: bool) {
        self.log_bad_frames = log;
    }

    /// Source name, e.g. `binance-spot`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counters so far.
    pub fn counters(&self) -> &LiveCounters {
        &self.counters
    }

    /// Counters, for the owner's own events (outbox, WS poll errors).
    pub fn counters_mut(&mut self) -> &mut LiveCounters {
        &mut self.counters
    }

    /// Number of configured symbols.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// The symbol at `index`, in configuration order.
    pub fn symbol_at(&self, index: usize) -> Option<SymbolId> {
        self.symbols.get(index).map(|s| s.id)
    }

    /// The configuration index of `symbol`.
    pub fn index(&self, symbol: SymbolId) -> Option<usize> {
        self.symbols.iter().position(|s| s.id == symbol)
    }

    /// The book sync of `symbol`, if configured (book, validity, sync counters).
    pub fn book(&self, symbol: SymbolId) -> Option<&BookSync> {
        self.state(symbol).map(|s| &s.sync)
    }

    /// The venue top of book (bookTicker) of `symbol`, if configured.
    pub fn top_of_book(&self, symbol: SymbolId) -> Option<&TopOfBook> {
        self.state(symbol).map(|s| &s.top)
    }

    /// Whether each configured symbol's book is valid, in configuration order.
    pub fn books_valid(&self) -> impl Iterator<Item = bool> + '_ {
        self.symbols.iter().map(|s| s.sync.is_valid())
    }

    /// Sync counters summed over all symbols.
    pub fn sync_counters(&self) -> SyncCounters {
        let mut sum = SyncCounters::default();
        for s in &self.symbols {
            let c = s.sync.counters();
            sum.applied += c.applied;
            sum.buffered += c.buffered;
            sum.stale_drops += c.stale_drops;
            sum.gaps += c.gaps;
            sum.crossed += c.crossed;
            sum.overflows += c.overflows;
            sum.resyncs += c.resyncs;
            sum.snapshots_loaded += c.snapshots_loaded;
            sum.snapshots_too_old += c.snapshots_too_old;
            sum.snapshots_ignored += c.snapshots_ignored;
        }
        sum
    }

    /// True when the symbol at `index` wants a snapshot and none is in flight.
    pub fn wants_snapshot(&self, index: usize) -> bool {
        self.symbols
            .get(index)
            .is_some_and(|s| s.wanted && !s.in_flight)
    }

    /// Notes that a snapshot of the symbol at `index` was requested.
    pub fn snapshot_requested(&mut self, index: usize) {
        if let Some(s) = self.symbols.get_mut(index) {
            s.wanted = false;
            s.in_flight = true;
            self.counters.snapshot_requests += 1;
        }
    }

    /// Notes that the snapshot request of the symbol at `index` failed (wanted again).
    pub fn snapshot_failed(&mut self, index: usize) {
        if let Some(s) = self.symbols.get_mut(index) {
            s.in_flight = false;
            s.wanted = true;
        }
    }

    fn state(&self, symbol: SymbolId) -> Option<&SymbolState> {
        self.symbols.iter().find(|s| s.id == symbol)
    }

    fn push<S: MarketEventSink + ?Sized>(&mut self, event: MarketEvent, events: &mut S) {
        let kind = match event.kind {
            MarketEventKind::BookTicker(_) => 0,
            MarketEventKind::Trade(_) => 1,
            MarketEventKind::Book(_) => 2,
        };
        if !events.push_event(event) {
            self.counters.outbox_full += 1;
        } else {
            self.counters.published[kind] += 1;
        }
    }

    /// Decodes one stream frame received at `recv_ns` and publishes what it changes: the
    /// bookTicker or trade (unless a duplicate), or the symbol's book top after a diff.
    /// Returns the symbol of a decoded depth diff (configured or not), else `None`.
    pub fn on_frame<S: MarketEventSink + ?Sized>(
        &mut self,
        payload: &[u8],
        recv_ns: u64,
        events: &mut S,
    ) -> Option<SymbolId> {
        self.counters.frames += 1;
        let decoded = match self.decoder.decode(payload, recv_ns) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.counters.decode_errors[kind_index(e.kind())] += 1;
                if !self.log_bad_frames {
                    return None;
                }
                if let Some(held_back) = self.bad_input_log.allow(recv_ns) {
                    // Rate-limited: a flood of bad frames costs one line per interval.
                    eprintln!(
                        "kestrel: {}: dropped a frame of {} bytes: {e} ({held_back} more bad frames since the last report)",
                        self.name,
                        payload.len()
                    );
                }
                return None;
            }
        };
        let (symbol, event) = match decoded {
            Decoded::BookTicker(event) => (event.symbol, Some(event)),
            // Futures publish trades as aggTrade; the aggregate id orders them like a trade id.
            Decoded::Trade(event) | Decoded::AggTrade { event, .. } => (event.symbol, Some(event)),
            Decoded::Depth(diff) => {
                if payload.len() <= WARM_FRAME_BYTES {
                    self.last_depth.clear();
                    self.last_depth.extend_from_slice(payload);
                }
                let symbol = diff.symbol;
                let Some(index) = self.symbols.iter().position(|s| s.id == symbol) else {
                    self.counters.foreign_symbol += 1;
                    return Some(symbol);
                };
                let status = self.symbols[index].sync.on_diff(&diff);
                let exch_ts_ms = diff.exch_ts_ms;
                self.after_sync(index, status, recv_ns, exch_ts_ms, events);
                return Some(symbol);
            }
            _ => {
                self.counters.ignored += 1;
                return None;
            }
        };
        let (Some(index), Some(event)) = (self.index(symbol), event) else {
            self.counters.foreign_symbol += 1;
            return None;
        };
        let s = &mut self.symbols[index];
        let keep = match &event.kind {
            MarketEventKind::BookTicker(ticker) => {
                let taken = s.top.on_book_ticker(ticker);
                self.counters.ticker_duplicates += u64::from(!taken);
                taken
            }
            MarketEventKind::Trade(trade) => {
                let fresh = trade.trade_id > s.last_trade_id;
                if fresh {
                    s.last_trade_id = trade.trade_id;
                } else {
                    self.counters.trade_duplicates += 1;
                }
                fresh
            }
            MarketEventKind::Book(_) => false,
        };
        if keep {
            self.push(event, events);
        }
        None
    }

    /// Decodes the last depth frame again and looks its levels up in its symbol's book,
    /// changing neither (keeps the decoder's and the book's code and data in cache).
    pub fn warm(&mut self) {
        let Ok(Decoded::Depth(diff)) = self.decoder.decode(&self.last_depth, 0) else {
            return;
        };
        if let Some(s) = self.symbols.iter().find(|s| s.id == diff.symbol) {
            std::hint::black_box(s.sync.book().count_held(diff.bids, diff.asks));
            self.counters.warm_runs += 1;
        }
    }

    /// Publishes the book after an applied update or a resync, and notes a wanted snapshot.
    fn after_sync<S: MarketEventSink + ?Sized>(
        &mut self,
        index: usize,
        status: SyncStatus,
        recv_ns: u64,
        exch_ts_ms: u64,
        events: &mut S,
    ) {
        let s = &mut self.symbols[index];
        if status.needs_snapshot() {
            s.wanted = true;
        }
        let publish = matches!(
            status,
            SyncStatus::Applied
                | SyncStatus::Synced
                | SyncStatus::ResyncGap
                | SyncStatus::ResyncCrossed
                | SyncStatus::ResyncOverflow
        );
        if publish {
            s.sync.fill_top(&mut s.book_top);
            let event = MarketEvent {
                symbol: s.id,
                recv_ns,
                exch_ts_ms,
                kind: MarketEventKind::Book(s.book_top),
            };
            self.push(event, events);
        }
    }

    /// Applies a REST depth snapshot body to the symbol at `index` (received at `now_ns`)
    /// and publishes its book if that synced it; a body that does not decode is counted and
    /// the snapshot wanted again.
    pub fn on_snapshot<S: MarketEventSink + ?Sized>(
        &mut self,
        index: usize,
        body: &[u8],
        now_ns: u64,
        events: &mut S,
    ) {
        let Some(s) = self.symbols.get_mut(index) else {
            return;
        };
        s.in_flight = false;
        let id = s.id;
        match self.decoder.decode_snapshot(body, id) {
            Ok(snapshot) => {
                let status = self.symbols[index].sync.on_snapshot(&snapshot);
                self.symbols[index].wanted = false;
                self.after_sync(index, status, now_ns, snapshot.exch_ts_ms, events);
            }
            Err(_) => {
                self.counters.snapshot_decode_errors += 1;
                self.symbols[index].wanted = true;
            }
        }
    }

    /// Drops the book of the symbol at `index` after its connection ended and publishes it
    /// as invalid.
    pub fn reset<S: MarketEventSink + ?Sized>(
        &mut self,
        index: usize,
        now_ns: u64,
        events: &mut S,
    ) {
        let Some(s) = self.symbols.get_mut(index) else {
            return;
        };
        s.sync.reset();
        s.wanted = false;
        s.sync.fill_top(&mut s.book_top);
        let event = MarketEvent {
            symbol: s.id,
            recv_ns: now_ns,
            exch_ts_ms: 0,
            kind: MarketEventKind::Book(s.book_top),
        };
        self.counters.disconnect_resets += 1;
        self.push(event, events);
    }
}

/// True for a bare REST depth snapshot body (`{"lastUpdateId":…}`), as recorders such as
/// hftbacktest's collector write them among the stream frames.
pub fn is_rest_snapshot(frame: &[u8]) -> bool {
    frame.starts_with(b"{\"lastUpdateId\"")
}

/// The market a recorded frame comes from, when it tells: a diff-depth update carries
/// `pu` (the previous final update id) on USDⓈ-M futures and not on spot. `None` for any
/// other frame.
pub fn market_of_frame(frame: &[u8]) -> Option<BinanceMarket> {
    let contains = |needle: &[u8]| frame.windows(needle.len()).any(|w| w == needle);
    if !contains(b"\"e\":\"depthUpdate\"") {
        return None;
    }
    Some(if contains(b"\"pu\":") {
        BinanceMarket::Usdm
    } else {
        BinanceMarket::Spot
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_depth_update_tells_its_market_by_pu() {
        let spot = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}"#;
        let usdm = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}"#;
        let ticker = br#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}"#;
        assert_eq!(market_of_frame(spot), Some(BinanceMarket::Spot));
        assert_eq!(market_of_frame(usdm), Some(BinanceMarket::Usdm));
        assert_eq!(market_of_frame(ticker), None);
        assert!(is_rest_snapshot(
            br#"{"lastUpdateId":5,"bids":[],"asks":[]}"#
        ));
        assert!(!is_rest_snapshot(ticker));
    }
}
