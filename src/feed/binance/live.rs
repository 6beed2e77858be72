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

use crate::book::{BookSync, SyncCounters, TopOfBook};
use crate::core::{MarketEvent, SymbolId, SymbolTable};
use crate::engine::stage::{FrameSink, MarketSource, Outbox, SourceState};
use crate::feed::ws::{
    DisconnectReason, FrameMeta, WsCounters, WsError, WsEvent, WsFeed, WsFeedConfig,
};

use crate::ops::{OpsError, Registry};

use super::feed_metrics::{FeedMetrics, PUBLISH_EVERY_NS};
use super::frames::FrameBooks;
use super::BinanceMarket;

pub use super::frames::LiveCounters;

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
    /// Base URLs of the venue's market streams (scheme, host, port; no path), tried in turn
    /// on reconnect. The source appends the routes: spot `/stream`; USDⓈ-M `/public/stream`
    /// (depth, bookTicker) and `/market/stream` (trades). Default: the official host.
    #[serde(default)]
    pub ws_urls: Vec<String>,
    /// The diff-depth stream to follow (`depth@100ms`; futures also `depth@0ms`,
    /// `depth@500ms`, `depth`). Default `depth@100ms`.
    #[serde(default = "default_depth_stream")]
    pub depth_stream: String,
    /// The trade stream to follow: `trade` (every trade) or `aggTrade`. Default `trade`.
    #[serde(default = "default_trade_stream")]
    pub trade_stream: String,
    /// The WebSocket feed (reconnect, rotation, staleness, TLS roots); its `urls` come from
    /// `ws_urls` and must not be set here.
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

fn default_depth_stream() -> String {
    "depth@100ms".to_owned()
}

fn default_trade_stream() -> String {
    "trade".to_owned()
}

impl BinanceFeedConfig {
    /// Checks what serde cannot: depth stream name, URL form, `ws.urls` left alone.
    pub fn validate(&self) -> Result<(), LiveError> {
        const DEPTHS: [&str; 4] = ["depth", "depth@0ms", "depth@100ms", "depth@500ms"];
        let spot_ok = matches!(self.depth_stream.as_str(), "depth" | "depth@100ms");
        let ok = match self.market {
            BinanceMarket::Spot => spot_ok,
            BinanceMarket::Usdm => DEPTHS.contains(&self.depth_stream.as_str()),
        };
        if !ok {
            return Err(LiveError::Config(format!(
                "depth_stream {:?} is not a {} diff-depth stream (one of {})",
                self.depth_stream,
                self.market.as_str(),
                if self.market == BinanceMarket::Spot {
                    "depth, depth@100ms".to_owned()
                } else {
                    DEPTHS.join(", ")
                }
            )));
        }
        if !matches!(self.trade_stream.as_str(), "trade" | "aggTrade") {
            return Err(LiveError::Config(format!(
                "trade_stream {:?} is neither trade nor aggTrade",
                self.trade_stream
            )));
        }
        if self.ws.urls != WsFeedConfig::default().urls {
            return Err(LiveError::Config(
                "set the stream hosts in ws_urls (base URLs); ws.urls is derived from them"
                    .to_owned(),
            ));
        }
        for url in &self.ws_urls {
            let rest = url
                .strip_prefix("wss://")
                .or_else(|| url.strip_prefix("ws://"));
            if rest.is_none_or(|r| r.trim_end_matches('/').contains('/')) {
                return Err(LiveError::Config(format!(
                    "ws_urls entry {url:?} must be ws:// or wss:// with a host and no path"
                )));
            }
        }
        Ok(())
    }

    /// The stream hosts: configured, or the official one for the market.
    fn stream_hosts(&self) -> Vec<String> {
        if !self.ws_urls.is_empty() {
            return self
                .ws_urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect();
        }
        vec![match self.market {
            BinanceMarket::Spot => "wss://stream.binance.com:9443".to_owned(),
            BinanceMarket::Usdm => "wss://fstream.binance.com".to_owned(),
        }]
    }

    /// The feeds this source opens: (name, route path, stream suffixes per symbol).
    fn routes(&self) -> Vec<(&'static str, &'static str, Vec<String>)> {
        let depth = self.depth_stream.clone();
        let trade = self.trade_stream.clone();
        match self.market {
            BinanceMarket::Spot => vec![(
                "stream",
                "/stream",
                vec![depth, "bookTicker".to_owned(), trade],
            )],
            // Since 2026-04-23 futures streams are only served on routed paths
            // (protocols.md §2.2): book data on /public, trades on /market.
            BinanceMarket::Usdm => vec![
                (
                    "public",
                    "/public/stream",
                    vec![depth, "bookTicker".to_owned()],
                ),
                ("market", "/market/stream", vec![trade]),
            ],
        }
    }
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
    /// A setting is inconsistent.
    #[error("binance feed config: {0}")]
    Config(String),
    /// The WebSocket feed could not be built.
    #[error(transparent)]
    Ws(#[from] WsError),
    /// The snapshot fetcher could not start.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// How often an idle source decodes its last depth frame again and looks its levels up in
/// the book (changing nothing). Between ticks the core runs other work that evicts the
/// decoder's and the book's code and data: on the 2-vCPU dev machine a median spot diff
/// (16 levels) then took ~5 µs to decode and ~5 µs to apply in `kestrel bench e2e`, against
/// ~1.3 µs for both in a hot criterion loop. A warm-up costs about one decode; a tick that
/// arrives during one waits for it.
const WARM_EVERY_NS: u64 = 200_000;

/// One WebSocket feed of the source (spot has one; USDⓈ-M one per route).
struct FeedPart {
    feed: WsFeed,
    /// Symbol indexes carried by each WS slot.
    slot_symbols: Vec<Vec<usize>>,
    /// Capture tag of this feed's slot 0 (tags are unique across the source's feeds).
    first_tag: u16,
}

/// The live Binance market source: WS streams in, market events and synced books out.
pub struct BinanceFeedSource {
    parts: Vec<FeedPart>,
    books: FrameBooks,
    fetcher: SnapshotFetcher,
    /// Capture tag of the first symbol's REST snapshots (one tag per symbol after it).
    snapshot_first_tag: u16,
    /// Capture stream name of each tag, e.g. `binance-usdm/public#0`.
    stream_names: Vec<String>,
    /// Configured symbol names, in `books` order.
    symbol_names: Vec<String>,
    metrics: Option<FeedMetrics>,
    next_publish_ns: u64,
    next_warm_ns: u64,
}

impl std::fmt::Debug for BinanceFeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceFeedSource")
            .field("streams", &self.stream_names)
            .field("counters", self.books.counters())
            .finish()
    }
}

impl BinanceFeedSource {
    /// Resolves the WS URLs and starts the snapshot fetcher (blocking: call at start-up).
    pub fn new(config: BinanceFeedConfig, table: &SymbolTable) -> Result<Self, LiveError> {
        config.validate()?;
        if config.symbols.is_empty() {
            return Err(LiveError::NoSymbols);
        }
        let mut symbols = Vec::with_capacity(config.symbols.len());
        let mut urls = Vec::with_capacity(config.symbols.len());
        let base = config.rest_base_url.trim_end_matches('/');
        for name in &config.symbols {
            let upper = name.to_ascii_uppercase();
            let id = table
                .get(upper.as_bytes())
                .ok_or_else(|| LiveError::UnknownSymbol(name.clone()))?;
            urls.push(format!(
                "{base}{}?symbol={upper}&limit={}",
                config.market.depth_path(),
                config.snapshot_limit
            ));
            symbols.push(id);
        }
        let hosts = config.stream_hosts();
        let mut parts = Vec::new();
        let mut stream_names = Vec::new();
        for (route_name, path, suffixes) in config.routes() {
            let streams: Vec<String> = config
                .symbols
                .iter()
                .flat_map(|name| {
                    let lower = name.to_ascii_lowercase();
                    suffixes
                        .iter()
                        .map(move |suffix| format!("{lower}@{suffix}"))
                })
                .collect();
            let mut ws = config.ws.clone();
            ws.urls = hosts.iter().map(|host| format!("{host}{path}")).collect();
            if let Some(cert) = &config.trusted_cert {
                ws.extra_trusted_certs.push(cert.clone());
            }
            let feed = WsFeed::new(ws, &streams)?;
            let first_tag = u16::try_from(stream_names.len())
                .map_err(|_| LiveError::Config("too many stream connections".to_owned()))?;
            let slot_symbols = (0..feed.slot_count())
                .map(|slot| {
                    stream_names.push(format!(
                        "binance-{}/{route_name}#{slot}",
                        config.market.as_str()
                    ));
                    slot_symbol_indexes(feed.streams(slot), &config.symbols)
                })
                .collect();
            parts.push(FeedPart {
                feed,
                slot_symbols,
                first_tag,
            });
        }
        let fetcher = SnapshotFetcher::start(urls, config.trusted_cert.as_deref())?;
        // The fetched REST snapshots are captured too (one tag per symbol), so a journal
        // capture replays through the backtester with the books synced where the live run's
        // were.
        let snapshot_first_tag = u16::try_from(stream_names.len())
            .map_err(|_| LiveError::Config("too many stream connections".to_owned()))?;
        for name in &config.symbols {
            stream_names.push(format!(
                "binance-{}/rest-snapshot/{}",
                config.market.as_str(),
                name.to_ascii_uppercase()
            ));
        }
        Ok(Self {
            parts,
            books: FrameBooks::new(
                format!("binance-{}", config.market.as_str()),
                config.market,
                &symbols,
                table,
            ),
            fetcher,
            snapshot_first_tag,
            stream_names,
            symbol_names: config.symbols.clone(),
            metrics: None,
            next_publish_ns: 0,
            next_warm_ns: 0,
        })
    }

    /// Registers this feed's series (events, decode errors, WebSocket and book health) and
    /// keeps them current from `poll`, once a second.
    pub fn attach_metrics(&mut self, registry: &mut Registry) -> Result<(), OpsError> {
        self.metrics = Some(FeedMetrics::register(
            registry,
            self.books.name(),
            &self.symbol_names,
        )?);
        Ok(())
    }

    /// Copies the counters into the metric series (no-op without `attach_metrics`).
    pub fn publish_metrics(&mut self) {
        let ws = self.ws_counters();
        let sync = self.sync_counters();
        if let Some(metrics) = &mut self.metrics {
            metrics.publish(self.books.counters(), &ws, &sync, self.books.books_valid());
        }
    }

    /// Names of the capture streams, indexed by the tag each captured frame carries.
    pub fn stream_names(&self) -> &[String] {
        &self.stream_names
    }

    /// Source counters.
    pub fn counters(&self) -> &LiveCounters {
        self.books.counters()
    }

    /// The WebSocket feeds' counters, summed.
    pub fn ws_counters(&self) -> WsCounters {
        let mut sum = WsCounters::default();
        for part in &self.parts {
            sum.add(part.feed.counters());
        }
        sum
    }

    /// The snapshot fetcher's counters.
    pub fn fetch_counters(&self) -> FetchCounters {
        self.fetcher.counters()
    }

    /// The book sync of `symbol`, if configured (book, validity, sync counters).
    pub fn book(&self, symbol: SymbolId) -> Option<&BookSync> {
        self.books.book(symbol)
    }

    /// The venue top of book (bookTicker) of `symbol`, if configured.
    pub fn top_of_book(&self, symbol: SymbolId) -> Option<&TopOfBook> {
        self.books.top_of_book(symbol)
    }

    /// Sync counters summed over all symbols.
    pub fn sync_counters(&self) -> SyncCounters {
        self.books.sync_counters()
    }

    /// Closes every connection (the fetcher thread ends when the source is dropped).
    pub fn shutdown(&mut self) {
        for part in &mut self.parts {
            part.feed.shutdown();
        }
    }

    fn take_snapshots(
        &mut self,
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> bool {
        let mut any = false;
        while let Some(reply) = self.fetcher.try_recv() {
            any = true;
            let books = &mut self.books;
            match reply {
                SnapshotReply::Body { index, body } => {
                    let tag = self.snapshot_first_tag.saturating_add(index as u16);
                    frames.capture(tag, now_ns, &body);
                    books.on_snapshot(index, &body, now_ns, events)
                }
                SnapshotReply::Failed { index } => books.snapshot_failed(index),
            }
        }
        any
    }

    fn on_ws_events(&mut self, now_ns: u64, events: &mut Outbox<MarketEvent>) {
        for part in &mut self.parts {
            for event in part.feed.drain_events() {
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
                if let Some(indexes) = part.slot_symbols.get(slot as usize) {
                    for &index in indexes {
                        self.books.reset(index, now_ns, events);
                    }
                }
            }
        }
    }

    fn send_requests(&mut self) {
        for index in 0..self.books.symbol_count() {
            if self.books.wants_snapshot(index) && self.fetcher.request(index) {
                self.books.snapshot_requested(index);
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
        let mut active = self.take_snapshots(now_ns, events, frames);
        let books = &mut self.books;
        for part in &mut self.parts {
            let first_tag = part.first_tag;
            let polled = part.feed.poll(now_ns, |meta: &FrameMeta, payload: &[u8]| {
                frames.capture(first_tag + meta.slot, meta.recv_ns, payload);
                books.on_frame(payload, meta.recv_ns, events);
            });
            match polled {
                Ok(n) => active |= n > 0,
                Err(_) => books.counters_mut().ws_poll_errors += 1,
            }
        }
        self.on_ws_events(now_ns, events);
        self.send_requests();
        if !active && now_ns >= self.next_warm_ns {
            self.next_warm_ns = now_ns.saturating_add(WARM_EVERY_NS);
            self.books.warm();
        }
        if now_ns >= self.next_publish_ns {
            self.next_publish_ns = now_ns.saturating_add(PUBLISH_EVERY_NS);
            self.publish_metrics();
        }
        if active {
            SourceState::Active
        } else {
            SourceState::Idle
        }
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
