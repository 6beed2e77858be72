//! The live Binance source against `simex` over TLS (WS and REST both trust only the
//! simulator's self-signed certificate): the source, driven by `poll` on the test thread,
//! must end with the same book as the simulator's exchange side, cleanly and under faults
//! (dropped connections, a sequence gap, malformed frames); and run by the engine's own
//! threads, the strategy thread's last book top equals the exchange's book. No timing
//! thresholds: the deadlines only turn a hang into a failure.

#[path = "simex_support/mod.rs"]
mod simex_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kestrel::book::BookSync;
use kestrel::core::clock::mono_ns;
use kestrel::core::{
    BookTop, ExecEvent, Level, MarketEvent, MarketEventKind, OrderIntent, Price, Qty, SymbolId,
    SymbolTable, BOOK_TOP_LEVELS,
};
use kestrel::engine::stage::{CaptureOnly, FrameSink, MarketSource, Outbox, StrategyStage};
use kestrel::engine::{Components, EngineConfig, Layout, PinPolicy, Shutdown, WaitStrategy};
use kestrel::feed::binance::book_replay::replay_book;
use kestrel::feed::binance::live::{BinanceFeedConfig, BinanceFeedSource};
use kestrel::feed::binance::BinanceMarket;
use kestrel::feed::binance::{BinanceDecoder, DecodeErrorKind};
use kestrel::feed::ws::WsFeedConfig;
use kestrel::ops::Registry;
use kestrel::persist::{JournalConfig, JournalWriter};
use kestrel::sim::{Market, SimexHandle, Speed};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

const SYMBOL: &str = "BTCUSDT";
/// Levels compared per side.
const DEPTH: usize = 20;
/// Only there so a broken source fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(180);

/// Counts captured frames.
#[derive(Default)]
struct CountingSink {
    /// WebSocket frames captured.
    frames: u64,
    /// REST depth snapshots captured (the source captures each one it applies).
    snapshots: u64,
}

impl FrameSink for CountingSink {
    fn capture(&mut self, _stream_tag: u16, _recv_ns: u64, frame: &[u8]) -> bool {
        if kestrel::feed::binance::frames::is_rest_snapshot(frame) {
            self.snapshots += 1;
        } else {
            self.frames += 1;
        }
        true
    }
}

/// What a run saw on the outbox.
#[derive(Default)]
struct Seen {
    tickers: u64,
    trades: u64,
    valid_tops: u64,
    invalid_tops: u64,
}

impl Seen {
    fn take(&mut self, events: &mut Outbox<MarketEvent>) {
        for event in events.drain() {
            match event.kind {
                MarketEventKind::BookTicker(_) => self.tickers += 1,
                MarketEventKind::Trade(_) => self.trades += 1,
                MarketEventKind::Book(top) if top.valid => self.valid_tops += 1,
                MarketEventKind::Book(_) => self.invalid_tops += 1,
            }
        }
    }
}

fn cert_file(handle: &SimexHandle, name: &str) -> PathBuf {
    let pem = handle.cert_pem().expect("simex serves TLS");
    let path = std::env::temp_dir().join(format!("kestrel-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write the simex certificate");
    path
}

fn source(handle: &SimexHandle, name: &str) -> (BinanceFeedSource, SymbolId) {
    market_source(handle, Market::Spot, name)
}

fn market_source(
    handle: &SimexHandle,
    market: Market,
    name: &str,
) -> (BinanceFeedSource, SymbolId) {
    let cert = cert_file(handle, name);
    let port = handle.addr(market).expect("market served").port();
    let mut table = SymbolTable::new();
    let id = table.intern(SYMBOL).expect("valid symbol");
    let config = BinanceFeedConfig {
        market: match market {
            Market::Spot => BinanceMarket::Spot,
            Market::UsdmFutures => BinanceMarket::Usdm,
        },
        symbols: vec![SYMBOL.to_owned()],
        ws_urls: vec![format!("wss://localhost:{port}")],
        depth_stream: match market {
            Market::Spot => "depth@100ms".to_owned(),
            Market::UsdmFutures => "depth@0ms".to_owned(),
        },
        trade_stream: "trade".to_owned(),
        ws: WsFeedConfig {
            backoff_base_ms: 20,
            backoff_cap_ms: 200,
            use_webpki_roots: false,
            ..WsFeedConfig::default()
        },
        rest_base_url: format!("https://localhost:{port}"),
        snapshot_limit: 1000,
        trusted_cert: Some(cert.clone()),
    };
    let source = BinanceFeedSource::new(config, &table).expect("source starts");
    // Read at start-up by both the WS feed and the fetcher; no longer needed.
    let _ = std::fs::remove_file(cert);
    (source, id)
}

/// The simulator's exchange-side book (its REST depth, 5000 levels a side) as levels, with
/// its last update id, read over REST the way a client sees it.
fn exchange_book(handle: &SimexHandle) -> (u64, Vec<Level>, Vec<Level>) {
    market_exchange_book(handle, Market::Spot)
}

fn market_exchange_book(handle: &SimexHandle, market: Market) -> (u64, Vec<Level>, Vec<Level>) {
    let der = handle.cert_der().expect("simex serves TLS").to_vec();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(vec![Certificate::from_der(
            &der,
        )
        .to_owned()])))
        .build();
    let agent: Agent = Agent::config_builder().tls_config(tls).build().into();
    let port = handle.addr(market).expect("market served").port();
    let path = match market {
        Market::Spot => "/api/v3/depth",
        Market::UsdmFutures => "/fapi/v1/depth",
    };
    let url = format!("https://localhost:{port}{path}?symbol={SYMBOL}&limit=1000");
    let body = agent
        .get(&url)
        .call()
        .expect("simex answers")
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .expect("depth body");
    let mut table = SymbolTable::new();
    let id = table.intern(SYMBOL).expect("valid symbol");
    let snapshot = BinanceDecoder::new(&table)
        .decode_snapshot(&body, id)
        .expect("simex book decodes");
    (snapshot.last_update_id, snapshot.bids, snapshot.asks)
}

fn top(levels: impl Iterator<Item = Level>) -> Vec<Level> {
    levels.take(DEPTH).collect()
}

/// True once the replay is over and the source's book is valid at the exchange's last id.
/// The exchange's book no longer moves once the replay is over, so its id is asked once
/// (`final_id`): asking on every poll would run into the simulator's request-weight limit
/// while the source works through the frames still in flight.
fn caught_up(handle: &SimexHandle, book: &BookSync, final_id: &mut Option<u64>) -> bool {
    if !handle.replay_finished(Market::Spot) || !book.is_valid() {
        return false;
    }
    let last_id = *final_id.get_or_insert_with(|| exchange_book(handle).0);
    book.last_update_id() == last_id
}

/// Polls until `done`, calling `step` between polls; returns what the outbox carried.
fn drive(
    source: &mut BinanceFeedSource,
    sink: &mut CountingSink,
    mut step: impl FnMut(&BinanceFeedSource) -> bool,
) -> Seen {
    let start = Instant::now();
    let mut events = Outbox::with_capacity(1 << 16);
    let mut seen = Seen::default();
    loop {
        let now_ns = start.elapsed().as_nanos() as u64;
        source.poll(now_ns, &mut events, sink);
        seen.take(&mut events);
        if step(source) {
            return seen;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no catch-up before the deadline: {:?} {:?} {:?}",
            source.counters(),
            source.sync_counters(),
            source.fetch_counters()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The source's top levels equal the exchange's and the offline replay's depth.
fn assert_same_book(handle: &SimexHandle, book: &BookSync) {
    let (last_id, bids, asks) = exchange_book(handle);
    assert_eq!(book.last_update_id(), last_id);
    assert_eq!(top(book.book().bids()), top(bids.into_iter()), "bids");
    assert_eq!(top(book.book().asks()), top(asks.into_iter()), "asks");
    let capture = simex_support::path(simex_support::SPOT_CAPTURE);
    let offline = replay_book(&[capture], SYMBOL, BinanceMarket::Spot, DEPTH).expect("replay");
    assert_eq!(
        offline.last_update_id, last_id,
        "offline replay ends at the same id"
    );
    assert_eq!(
        parse(&offline.bids),
        top(book.book().bids()),
        "offline bids"
    );
    assert_eq!(
        parse(&offline.asks),
        top(book.book().asks()),
        "offline asks"
    );
}

/// The replay report's `[price, qty]` text as levels.
fn parse(levels: &[[String; 2]]) -> Vec<Level> {
    levels
        .iter()
        .map(|[price, qty]| Level {
            price: Price::parse(price).expect("report price"),
            qty: Qty::parse(qty).expect("report qty"),
        })
        .collect()
}

#[test]
fn live_source_over_tls_ends_with_the_exchange_book() {
    let handle = simex_support::start(simex_support::config(
        Market::Spot,
        Speed::AsFastAsPossible,
        true,
    ));
    let (mut source, id) = source(&handle, "live-clean");
    let mut sink = CountingSink::default();
    let mut final_id = None;
    let seen = drive(&mut source, &mut sink, |s| {
        caught_up(&handle, s.book(id).expect("configured"), &mut final_id)
    });
    assert_same_book(&handle, source.book(id).expect("configured"));
    // The replay is over: idle polls decode the last depth frame again and look its levels
    // up (the warm-up), which must leave the book exactly as it was.
    let mut events = Outbox::with_capacity(1 << 16);
    let mut quiet_polls = 0;
    while quiet_polls < 100 {
        // Trades and tickers after the last diff may still be in flight: let them land.
        let frames = source.counters().frames;
        std::thread::sleep(Duration::from_micros(300));
        source.poll(mono_ns(), &mut events, &mut sink);
        let _ = events.drain().count();
        quiet_polls = if source.counters().frames == frames {
            quiet_polls + 1
        } else {
            0
        };
    }
    let warmed = source.counters().warm_runs;
    let levels = |s: &BinanceFeedSource| {
        let book = s.book(id).expect("configured");
        let bids: Vec<Level> = book.book().bids().collect();
        let asks: Vec<Level> = book.book().asks().collect();
        (book.last_update_id(), bids, asks)
    };
    let before = levels(&source);
    let start = Instant::now();
    while source.counters().warm_runs < warmed + 3 {
        assert!(start.elapsed() < DEADLINE, "idle polls warm up");
        std::thread::sleep(Duration::from_micros(300));
        source.poll(mono_ns(), &mut events, &mut sink);
    }
    assert!(events.is_empty(), "a warm-up publishes nothing");
    assert!(
        levels(&source) == before,
        "a warm-up leaves the book as it was"
    );

    let counters = *source.counters();
    assert_eq!(sink.frames, counters.frames, "every frame captured");
    assert!(
        sink.snapshots >= 1 && sink.snapshots <= counters.snapshot_requests,
        "every applied snapshot captured: {} of {} requested",
        sink.snapshots,
        counters.snapshot_requests
    );
    assert_eq!(counters.decode_errors.iter().sum::<u64>(), 0);
    assert_eq!(counters.outbox_full, 0);
    assert!(
        seen.trades > 0 && seen.valid_tops > 0 && seen.tickers > 0,
        "{counters:?}"
    );
    let sync = source.sync_counters();
    assert_eq!(sync.gaps, 0);
    assert!(sync.snapshots_loaded >= 1);
    let fetch = source.fetch_counters();
    assert!(fetch.ok >= 1 && fetch.failed == 0, "{fetch:?}");
    source.shutdown();
    handle.stop().expect("simex stops cleanly");
}

#[test]
fn live_source_resyncs_through_malformed_frames_gap_and_dropped_connections() {
    let handle = simex_support::start(simex_support::config(
        Market::Spot,
        Speed::Times(50.0),
        true,
    ));
    let (mut source, id) = source(&handle, "live-faults");
    let mut sink = CountingSink::default();
    let mut phase = 0;
    let mut final_id = None;
    let seen = drive(&mut source, &mut sink, |s| {
        let book = s.book(id).expect("configured");
        let applied = book.counters().applied;
        match phase {
            0 if book.is_valid() && applied >= 200 => {
                handle.send_malformed(5);
                phase = 1;
            }
            1 if s.counters().decode_errors.iter().sum::<u64>() > 0 && applied >= 400 => {
                let ahead = exchange_book(&handle).0 + 5_000;
                handle.skip_update_ids(ahead..=ahead);
                phase = 2;
            }
            2 if book.counters().gaps > 0 && book.is_valid() => {
                handle.drop_connections();
                phase = 3;
            }
            3 if s.counters().disconnect_resets > 0 => phase = 4,
            4 => return caught_up(&handle, book, &mut final_id),
            _ => {}
        }
        false
    });
    assert_same_book(&handle, source.book(id).expect("configured"));

    let counters = *source.counters();
    assert!(
        counters.decode_errors_of(DecodeErrorKind::Malformed) > 0,
        "{counters:?}"
    );
    assert!(counters.disconnect_resets > 0);
    assert_eq!(sink.frames, counters.frames, "every frame captured");
    assert!(
        sink.snapshots >= 1 && sink.snapshots <= counters.snapshot_requests,
        "every applied snapshot captured: {} of {} requested",
        sink.snapshots,
        counters.snapshot_requests
    );
    let sync = source.sync_counters();
    assert!(sync.gaps > 0 && sync.resyncs > 0, "{sync:?}");
    assert!(
        sync.snapshots_loaded >= 3,
        "initial, after the gap, after the drop: {sync:?}"
    );
    assert!(
        seen.invalid_tops > 0,
        "resyncs are published as invalid books"
    );
    assert!(source.ws_counters().disconnects > 0);
    source.shutdown();
    handle.stop().expect("simex stops cleanly");
}

#[test]
fn live_config_reads_toml_with_defaults_and_rejects_unknown_keys() {
    let text = r#"
        market = "usdm"
        symbols = ["BTCUSDT"]
        rest_base_url = "https://fapi.binance.com"
        ws_urls = ["wss://fstream.binance.com"]
        depth_stream = "depth@0ms"
        [ws]
        stale_timeout_ms = 5000
    "#;
    let config: BinanceFeedConfig = toml::from_str(text).expect("valid config");
    assert_eq!(config.market, BinanceMarket::Usdm);
    assert_eq!(config.snapshot_limit, 1000);
    assert_eq!(config.trusted_cert, None);
    assert_eq!(config.trade_stream, "trade");
    assert_eq!(config.ws.stale_timeout_ms, 5000);
    assert_eq!(
        config.ws.backoff_cap_ms,
        WsFeedConfig::default().backoff_cap_ms
    );
    config.validate().expect("consistent");
    for (from, to) in [
        ("depth@0ms", "depth@250ms"),
        (
            "wss://fstream.binance.com",
            "wss://fstream.binance.com/public/stream",
        ),
        ("stale_timeout_ms = 5000", "urls = [\"wss://h/stream\"]"),
    ] {
        let bad: BinanceFeedConfig = toml::from_str(&text.replace(from, to)).expect("parses");
        assert!(bad.validate().is_err(), "{to} must be refused");
    }
    let unknown = format!("snapshot_limt = 10\n{text}");
    assert!(toml::from_str::<BinanceFeedConfig>(&unknown).is_err());
    let bad_market = text.replace("usdm", "coinm");
    assert!(toml::from_str::<BinanceFeedConfig>(&bad_market).is_err());
}

/// The value of one exact series line in a Prometheus exposition (NaN when absent).
fn metric_value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Keeps the last book top the strategy thread saw, for the test thread to read.
struct LastTop(Arc<std::sync::Mutex<Option<BookTop>>>);

impl StrategyStage for LastTop {
    fn on_market(&mut self, event: &MarketEvent, _intents: &mut Outbox<OrderIntent>) {
        if let MarketEventKind::Book(top) = event.kind {
            if let Ok(mut last) = self.0.lock() {
                *last = Some(top);
            }
        }
    }
    fn on_exec(&mut self, _event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {}
    fn on_timer(&mut self, _now_ns: u64, _intents: &mut Outbox<OrderIntent>) {}
}

#[test]
fn engine_threads_carry_the_live_source_and_the_strategy_sees_the_exchange_book() {
    engine_holds_the_exchange_book(Market::Spot, false);
}

#[test]
fn usdm_feeds_on_the_public_and_market_routes_hold_the_exchange_book_in_the_engine() {
    engine_holds_the_exchange_book(Market::UsdmFutures, false);
}

#[test]
fn engine_holds_the_book_through_malformed_frames_a_gap_a_stall_and_a_drop() {
    engine_holds_the_exchange_book(Market::Spot, true);
}

/// Injects one fault after another while the engine runs, each once the previous one has
/// shown in the strategy's view (a later valid top) — malformed frames, an update-id gap,
/// a stall, dropped connections.
struct FaultScript {
    step: usize,
    last_id: u64,
}

impl FaultScript {
    fn advance(&mut self, handle: &SimexHandle, top: Option<BookTop>) {
        let Some(top) = top.filter(|t| t.valid) else {
            return;
        };
        // Each fault waits for the book to be valid again and well past the previous one.
        if top.last_update_id < self.last_id.saturating_add(2_000) {
            return;
        }
        self.last_id = top.last_update_id;
        match self.step {
            0 => handle.send_malformed(5),
            1 => {
                let ahead = top.last_update_id + 20_000;
                handle.skip_update_ids(ahead..=ahead);
            }
            2 => handle.stall(Duration::from_millis(300)),
            3 => handle.drop_connections(),
            _ => return,
        }
        self.step += 1;
    }
}

/// The engine's threads carry the live source of `market`; once the replay is over, the
/// strategy's last book top equals the simulator's book at its last update id.
fn engine_holds_the_exchange_book(market: Market, faults: bool) {
    // Recorded pace ×50. At `AsFastAsPossible` the simulator outruns any client and drops
    // it as too slow (its queue stays full past the wait); the engine then reconnects, but
    // with the replay over no diff ever bridges a new snapshot, so its book rightly stays
    // invalid. A deep client queue keeps a client slowed by a loaded machine (tests run in
    // parallel on two cores) from being dropped: this test is about the engine's book.
    let mut config = simex_support::config(market, Speed::Times(50.0), true);
    config.client_queue_frames = 1 << 20;
    // The test polls the exchange book over REST (weight 50 a call) until it matches: keep the
    // simulator's request-weight limit from answering 429 to the test itself.
    config.orders.enforce_rate_limits = false;
    let handle = simex_support::start(config);
    let (mut source, _id) = market_source(&handle, market, &format!("engine-{market:?}-{faults}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let (journal, _) = JournalWriter::open(&JournalConfig::new(dir.path())).expect("open journal");
    let mut registry = Registry::new();
    let (metrics, latency) = kestrel::engine::metrics::register(&mut registry).expect("metrics");
    source
        .attach_metrics(&mut registry)
        .expect("feed metrics register");
    let stream_names = source.stream_names().to_vec();
    // The WS connections, then one REST snapshot stream per symbol.
    let expected_streams = match market {
        Market::Spot => 2,
        Market::UsdmFutures => 3,
    };
    assert_eq!(stream_names.len(), expected_streams, "{stream_names:?}");
    let mut symbols = SymbolTable::new();
    symbols.intern(SYMBOL).expect("valid symbol");
    let last_top = Arc::new(std::sync::Mutex::new(None));
    let components = Components {
        source,
        strategy: LastTop(Arc::clone(&last_top)),
        orders: CaptureOnly,
        journal,
        symbols,
        stream_names,
    };
    let settings = EngineConfig {
        layout: Layout::Threads,
        wait: WaitStrategy::SpinYield,
        pin: PinPolicy::Off,
        ..EngineConfig::default()
    }
    .resolve(&[0, 1])
    .expect("valid settings");
    let shutdown = Shutdown::new();
    let engine_shutdown = Arc::clone(&shutdown);
    let engine = std::thread::spawn(move || {
        kestrel::engine::run(
            &settings,
            components,
            metrics,
            latency,
            engine_shutdown,
            |s| {
                while !s.is_joined() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            },
        )
    });

    // Wait until the replay is over and the strategy's last top is valid at the exchange's
    // last update id; then stop the engine the way a signal would.
    let start = Instant::now();
    let mut script = FaultScript {
        step: if faults { 0 } else { 4 },
        last_id: 0,
    };
    let (exchange_id, bids, asks) = loop {
        let seen_now = last_top.lock().map(|t| *t).unwrap_or(None);
        script.advance(&handle, seen_now);
        assert!(
            start.elapsed() < DEADLINE,
            "the engine's book never caught up: replay finished={} last top (valid, id)={:?}",
            handle.replay_finished(market),
            seen_now.map(|t| (t.valid, t.last_update_id)),
        );
        std::thread::sleep(Duration::from_millis(50));
        if !handle.replay_finished(market) {
            continue;
        }
        let seen = last_top.lock().map(|t| *t).unwrap_or(None);
        let (id, bids, asks) = market_exchange_book(&handle, market);
        if seen.is_some_and(|t| t.valid && t.last_update_id == id) {
            break (id, bids, asks);
        }
    };
    shutdown.request_stop();
    let report = engine
        .join()
        .expect("engine thread")
        .expect("engine runs and stops cleanly");
    assert!(!report.failed);
    assert!(report.frames > 0, "frames were captured into the journal");

    let top = last_top
        .lock()
        .map(|t| *t)
        .unwrap_or(None)
        .expect("a book top was seen");
    assert_eq!(top.last_update_id, exchange_id);
    let n = BOOK_TOP_LEVELS;
    assert_eq!(&top.bids[..top.bid_count as usize], &bids[..n], "top bids");
    assert_eq!(&top.asks[..top.ask_count as usize], &asks[..n], "top asks");
    assert_eq!(handle.slow_clients_dropped(), 0, "the engine kept up");
    let exposition = registry.render();
    let source_label = match market {
        Market::Spot => "binance-spot",
        Market::UsdmFutures => "binance-usdm",
    };
    for kind in ["book", "trade", "book_ticker"] {
        let series =
            format!("market_data_events_total{{source=\"{source_label}\",type=\"{kind}\"}}");
        let count = metric_value(&exposition, &series);
        assert!(count > 0.0, "{series} = {count}\n{exposition}");
    }
    let counted = |name: &str| {
        let series = format!("{name}{{source=\"{source_label}\"}}");
        metric_value(&exposition, &series)
    };
    let malformed = metric_value(
        &exposition,
        &format!("market_data_decode_errors_total{{kind=\"malformed\",source=\"{source_label}\"}}"),
    );
    if faults {
        assert_eq!(
            script.step, 4,
            "every fault was injected before the replay ended"
        );
        assert!(malformed > 0.0, "malformed frames counted");
        assert!(counted("book_gaps_total") > 0.0, "the gap was counted");
        assert!(counted("book_resyncs_total") > 0.0, "and resynced");
        assert!(
            counted("ws_disconnects_total") > 0.0,
            "the drop was counted"
        );
        assert!(
            counted("book_snapshots_loaded_total") >= 3.0,
            "initial, gap, drop"
        );
        // The final book also equals the offline replay of the same capture.
        let capture = simex_support::path(simex_support::SPOT_CAPTURE);
        let offline = replay_book(&[capture], SYMBOL, BinanceMarket::Spot, n).expect("replay");
        assert_eq!(offline.last_update_id, exchange_id);
        assert_eq!(parse(&offline.bids), &top.bids[..n], "offline bids");
        assert_eq!(parse(&offline.asks), &top.asks[..n], "offline asks");
    } else {
        assert_eq!(malformed, 0.0, "a clean run decodes every frame");
        assert_eq!(counted("book_gaps_total"), 0.0);
    }
    handle.stop().expect("simex stops cleanly");
}
