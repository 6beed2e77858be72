//! Owns: the live Binance market-data source — the WebSocket feed of the configured symbols'
//! depth, bookTicker and trade streams, their decoding, one synced L2 book and one venue top
//! of book per symbol, and the REST snapshot requests that (re)sync the books. Never: blocks
//! the feed thread (snapshots are fetched by `SnapshotFetcher`'s thread), panics on network
//! input, or allocates per frame once warmed up (only the snapshot path allocates).
//!
//! De-duplication during a WebSocket rotation: bookTickers with an older `u` and trades with
//! a trade id not above the last one are dropped; depth diffs are de-duplicated by `BookSync`.
//! A connection that ends for any reason but a rotation (or shutdown) resets the books of its
//! symbols: an invalid `BookTop` is published and the next diff asks for a fresh snapshot.

use std::path::PathBuf;

use serde::Deserialize;

use crate::book::{BookSync, SyncConfig, SyncCounters, SyncStatus, TopOfBook};
use crate::core::{BookTop, MarketEvent, MarketEventKind, SymbolId, SymbolTable};
use crate::engine::stage::{FrameSink, MarketSource, Outbox, SourceState};
use crate::feed::ws::{
    DisconnectReason, FrameMeta, WsCounters, WsError, WsEvent, WsFeed, WsFeedConfig,
};

use super::{BinanceDecoder, BinanceMarket, DecodeErrorKind, Decoded};

pub use super::snapshot_fetch::{FetchCounters, FetchError};
use super::snapshot_fetch::{SnapshotFetcher, SnapshotReply};

/// Settings of one live Binance market-data source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinanceFeedConfig {
    /// Spot or USDⓈ-M futures.
    pub market: BinanceMarket,
    /// Symbols as the venue names them (`BTCUSDT`); each must be in the engine's table.
    pub symbols: Vec<String>,
    /// The WebSocket feed (URLs, reconnect, rotation, TLS roots).
    #[serde(default)]
    pub ws: WsFeedConfig,
    /// REST base URL, e.g. `https://api.binance.com` or `https://fapi.binance.com`.
    pub rest_base_url: String,
    /// Levels per REST snapshot. Default 1000.
    #[serde(default = "default_snapshot_limit")]
    pub snapshot_limit: u32,
    /// A certificate (PEM or DER) to trust for both WS and REST, e.g. the simulator's.
    #[serde(default)]
    pub trusted_cert: Option<PathBuf>,
}

fn default_snapshot_limit() -> u32 {
    1000
}

/// Why the source could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A configured symbol is not in the symbol table.
    #[error("symbol {0:?} is not in the symbol table")]
    UnknownSymbol(String),
    /// No symbol configured.
    #[error("no symbol configured")]
    NoSymbols,
    /// The WebSocket feed could not be built.
    #[error(transparent)]
    Ws(#[from] WsError),
    /// The snapshot fetcher could not start.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Source-level counters (the WS feed, fetcher and book syncs have their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Frames handed to the decoder.
    pub frames: u64,
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

/// Everything `poll`'s frame callback touches, apart from the feed that calls it.
struct Books {
    decoder: BinanceDecoder,
    symbols: Vec<SymbolState>,
    counters: LiveCounters,
}

/// The live Binance market source: WS streams in, market events and synced books out.
pub struct BinanceFeedSource {
    feed: WsFeed,
    books: Books,
    fetcher: SnapshotFetcher,
    /// Symbol indexes carried by each WS slot.
    slot_symbols: Vec<Vec<usize>>,
}

impl std::fmt::Debug for BinanceFeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceFeedSource")
            .field("feed", &self.feed)
            .field("counters", &self.books.counters)
            .finish()
    }
}

impl BinanceFeedSource {
    /// Resolves the WS URLs and starts the snapshot fetcher (blocking: call at start-up).
    pub fn new(config: BinanceFeedConfig, table: &SymbolTable) -> Result<Self, LiveError> {
        if config.symbols.is_empty() {
            return Err(LiveError::NoSymbols);
        }
        let mut symbols = Vec::with_capacity(config.symbols.len());
        let mut streams = Vec::with_capacity(config.symbols.len() * 3);
        let mut urls = Vec::with_capacity(config.symbols.len());
        let base = config.rest_base_url.trim_end_matches('/');
        for name in &config.symbols {
            let upper = name.to_ascii_uppercase();
            let id = table
                .get(upper.as_bytes())
                .ok_or_else(|| LiveError::UnknownSymbol(name.clone()))?;
            let lower = name.to_ascii_lowercase();
            streams.push(format!("{lower}@depth@100ms"));
            streams.push(format!("{lower}@bookTicker"));
            streams.push(format!("{lower}@trade"));
            urls.push(format!(
                "{base}{}?symbol={upper}&limit={}",
                config.market.depth_path(),
                config.snapshot_limit
            ));
            symbols.push(SymbolState {
                id,
                sync: BookSync::new(config.market.sync_rule(), SyncConfig::default()),
                top: TopOfBook::new(),
                last_trade_id: 0,
                in_flight: false,
                wanted: false,
                book_top: BookTop::default(),
            });
        }
        let mut ws = config.ws;
        if let Some(cert) = &config.trusted_cert {
            ws.extra_trusted_certs.push(cert.clone());
        }
        let feed = WsFeed::new(ws, &streams)?;
        let slot_symbols = (0..feed.slot_count())
            .map(|slot| slot_symbol_indexes(feed.streams(slot), &config.symbols))
            .collect();
        let fetcher = SnapshotFetcher::start(urls, config.trusted_cert.as_deref())?;
        Ok(Self {
            feed,
            books: Books {
                decoder: BinanceDecoder::new(table),
                symbols,
                counters: LiveCounters::default(),
            },
            fetcher,
            slot_symbols,
        })
    }

    /// Source counters.
    pub fn counters(&self) -> &LiveCounters {
        &self.books.counters
    }

    /// The WebSocket feed's counters.
    pub fn ws_counters(&self) -> &WsCounters {
        self.feed.counters()
    }

    /// The snapshot fetcher's counters.
    pub fn fetch_counters(&self) -> FetchCounters {
        self.fetcher.counters()
    }

    /// The book sync of `symbol`, if configured (book, validity, sync counters).
    pub fn book(&self, symbol: SymbolId) -> Option<&BookSync> {
        self.books.state(symbol).map(|s| &s.sync)
    }

    /// The venue top of book (bookTicker) of `symbol`, if configured.
    pub fn top_of_book(&self, symbol: SymbolId) -> Option<&TopOfBook> {
        self.books.state(symbol).map(|s| &s.top)
    }

    /// Sync counters summed over all symbols.
    pub fn sync_counters(&self) -> SyncCounters {
        let mut sum = SyncCounters::default();
        for s in &self.books.symbols {
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

    /// Closes every connection (the fetcher thread ends when the source is dropped).
    pub fn shutdown(&mut self) {
        self.feed.shutdown();
    }

    fn take_snapshots(&mut self, now_ns: u64, events: &mut Outbox<MarketEvent>) -> bool {
        let mut any = false;
        while let Some(reply) = self.fetcher.try_recv() {
            any = true;
            let books = &mut self.books;
            match reply {
                SnapshotReply::Body { index, body } => {
                    books.on_snapshot(index, &body, now_ns, events)
                }
                SnapshotReply::Failed { index } => {
                    if let Some(s) = books.symbols.get_mut(index) {
                        s.in_flight = false;
                        s.wanted = true;
                    }
                }
            }
        }
        any
    }

    fn on_ws_events(&mut self, now_ns: u64, events: &mut Outbox<MarketEvent>) {
        for event in self.feed.drain_events() {
            let WsEvent::Disconnected {
                slot,
                reason,
                was_open,
                ..
            } = event
            else {
                continue;
            };
            let keeps_book = matches!(
                reason,
                DisconnectReason::Rotated
                    | DisconnectReason::Unsubscribed
                    | DisconnectReason::Shutdown
            );
            if !was_open || keeps_book {
                continue;
            }
            if let Some(indexes) = self.slot_symbols.get(slot as usize) {
                for &index in indexes {
                    self.books.reset(index, now_ns, events);
                }
            }
        }
    }

    fn send_requests(&mut self) {
        for (index, s) in self.books.symbols.iter_mut().enumerate() {
            if s.wanted && !s.in_flight && self.fetcher.request(index) {
                s.wanted = false;
                s.in_flight = true;
                self.books.counters.snapshot_requests += 1;
            }
        }
    }
}

impl MarketSource for BinanceFeedSource {
    fn poll(
        &mut self,
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> SourceState {
        let mut active = self.take_snapshots(now_ns, events);
        let books = &mut self.books;
        let polled = self.feed.poll(now_ns, |meta: &FrameMeta, payload: &[u8]| {
            frames.capture(meta.slot, meta.recv_ns, payload);
            books.on_frame(payload, meta.recv_ns, events);
        });
        match polled {
            Ok(n) => active |= n > 0,
            Err(_) => self.books.counters.ws_poll_errors += 1,
        }
        self.on_ws_events(now_ns, events);
        self.send_requests();
        if active {
            SourceState::Active
        } else {
            SourceState::Idle
        }
    }
}

impl Books {
    fn state(&self, symbol: SymbolId) -> Option<&SymbolState> {
        self.symbols.iter().find(|s| s.id == symbol)
    }

    fn index(&self, symbol: SymbolId) -> Option<usize> {
        self.symbols.iter().position(|s| s.id == symbol)
    }

    fn push(&mut self, event: MarketEvent, events: &mut Outbox<MarketEvent>) {
        if events.push(event).is_err() {
            self.counters.outbox_full += 1;
        }
    }

    fn on_frame(&mut self, payload: &[u8], recv_ns: u64, events: &mut Outbox<MarketEvent>) {
        self.counters.frames += 1;
        let decoded = match self.decoder.decode(payload, recv_ns) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.counters.decode_errors[kind_index(e.kind())] += 1;
                return;
            }
        };
        let (symbol, event) = match decoded {
            Decoded::BookTicker(event) => (event.symbol, Some(event)),
            Decoded::Trade(event) => (event.symbol, Some(event)),
            Decoded::Depth(diff) => {
                let Some(index) = self.symbols.iter().position(|s| s.id == diff.symbol) else {
                    self.counters.foreign_symbol += 1;
                    return;
                };
                let status = self.symbols[index].sync.on_diff(&diff);
                let exch_ts_ms = diff.exch_ts_ms;
                self.after_sync(index, status, recv_ns, exch_ts_ms, events);
                return;
            }
            _ => {
                self.counters.ignored += 1;
                return;
            }
        };
        let (Some(index), Some(event)) = (self.index(symbol), event) else {
            self.counters.foreign_symbol += 1;
            return;
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
    }

    /// Publishes the book after an applied update or a resync, and notes a wanted snapshot.
    fn after_sync(
        &mut self,
        index: usize,
        status: SyncStatus,
        recv_ns: u64,
        exch_ts_ms: u64,
        events: &mut Outbox<MarketEvent>,
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

    fn on_snapshot(
        &mut self,
        index: usize,
        body: &[u8],
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
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

    /// Drops a symbol's book after its connection ended and publishes it as invalid.
    fn reset(&mut self, index: usize, now_ns: u64, events: &mut Outbox<MarketEvent>) {
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

/// Which configured symbols (by index) a slot's streams belong to.
fn slot_symbol_indexes(streams: &[String], symbols: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    for stream in streams {
        let name = stream.split('@').next().unwrap_or("");
        if let Some(index) = symbols.iter().position(|s| s.eq_ignore_ascii_case(name)) {
            if !out.contains(&index) {
                out.push(index);
            }
        }
    }
    out
}
