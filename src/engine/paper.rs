//! Owns: start-up and shutdown of a paper-trading run — the local simulator in-process
//! replaying the bundled capture, the live Binance feed connected to it, the configured
//! strategies (or the probe),
//! the order manager on the paper venue, the journal (rebuilt from on restart), a status
//! line and a final summary. Never: trades against a real venue, or starts trading before
//! the journal rebuild and the venue reconciliation have finished.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::{Instrument, Market, Qty, StrategyId, SymbolTable};
use crate::feed::binance::live::{BinanceFeedConfig, BinanceFeedSource};
use crate::feed::binance::BinanceMarket;
use crate::feed::ws::WsFeedConfig;
use crate::oms::manager::OmsConfig;
use crate::oms::portfolio::PairAssets;
use crate::oms::OmsStage;
use crate::ops::{OpsServer, Registry};
use crate::persist::JournalWriter;
use crate::sim::{self, MarketReplay, Simex, SimexConfig, SimexHandle, Speed};
use crate::strat::{ProbeConfig, ProbeStrategy};

use super::runner::{Components, RunReport};
use super::trading::strategies::{configured_strategies, StrategySet, StrategySetup};
use super::trading::{
    fetch_exchange_info, pair_assets, paper_venue, rebuild_with_strategies, risk_rails,
    traded_instruments,
};
use super::{metrics, Shutdown, TopologySettings};

/// What `kestrel paper` was asked to do.
#[derive(Debug, Clone)]
pub struct PaperArgs {
    /// Journal directory (created; a second run on it recovers and continues).
    pub journal: PathBuf,
    /// Replay pace of the simulator (×N of the recorded pace).
    pub speed: f64,
    /// Stop after this long (None: when the capture has been replayed).
    pub duration: Option<Duration>,
    /// Capture the simulator replays.
    pub capture: PathBuf,
    /// exchangeInfo the simulator serves.
    pub exchange_info: PathBuf,
    /// Symbol traded.
    pub symbol: String,
    /// Quote-asset cash the paper account starts with (use the same on a continued run).
    pub starting_quote: Qty,
    /// What trades.
    pub strategy: PaperStrategy,
    /// Metrics endpoint.
    pub metrics_listen: std::net::SocketAddr,
    /// Where the final metrics (Prometheus text) are written when the run ends.
    pub metrics_out: Option<PathBuf>,
    /// Print a status line every second.
    pub status_line: bool,
    /// The risk rails' limits (`[risk]`).
    pub risk: crate::risk::RiskLimits,
    /// The operator control API.
    pub control: crate::engine::control::ControlSetup,
}

/// The strategies of a paper run.
#[derive(Debug, Clone)]
pub enum PaperStrategy {
    /// The `[strategies]` section; relative model paths resolve against `base_dir`.
    Configured {
        config: Box<crate::strat::StrategiesConfig>,
        base_dir: PathBuf,
    },
    /// The probe: a market entry with a bracket, again and again.
    Probe {
        qty: Qty,
        bracket_bps: i64,
        cooldown_events: u32,
    },
}

/// What the run did, for the summary and tests.
#[derive(Debug, Clone, Default)]
pub struct PaperSummary {
    pub session: u32,
    pub recovered_orders: u64,
    pub recovered_fills: u64,
    pub report: RunReport,
    pub orders: u64,
    pub fills: u64,
    pub equity: f64,
    pub realized_pnl: f64,
    pub fees: f64,
    pub tick_to_order_p50_us: f64,
    pub tick_to_order_p99_us: f64,
}

/// Runs a paper-trading session to its end (duration, replay over, or a signal).
pub fn run_paper(
    args: &PaperArgs,
    settings: &TopologySettings,
    shutdown: Arc<Shutdown>,
) -> anyhow::Result<PaperSummary> {
    use anyhow::Context;

    // The journal first: its session number names this run's client order ids.
    let journal_config = crate::persist::JournalConfig::new(&args.journal);
    let (mut journal, recovered) = JournalWriter::open(&journal_config)
        .with_context(|| format!("opening journal {}", args.journal.display()))?;
    let session = journal.begin_session(&recovered)?;

    let simex = start_simex(&args.capture, &args.exchange_info, args.speed, true, None)?;
    let venue_info = fetch_instrument(&simex, &args.symbol)?;
    let instrument = venue_info.instrument.clone();
    let (symbols, symbol, assets) = (venue_info.symbols, venue_info.symbol, venue_info.assets);

    // The order side: manager + portfolio rebuilt from the journal, on the paper venue.
    // The account starts with the configured cash on every run; the journal's fills are
    // replayed on top of it, so a continued run ends where the last one stopped. The paper
    // venue is in-process: it starts from that account and the orders still open.
    let traded = [(symbol, instrument)];
    let mut registry = Registry::new();
    let (mut strategy, mut watcher) = match &args.strategy {
        PaperStrategy::Configured { config, base_dir } => {
            let rest = simex.base(false);
            let setup = StrategySetup {
                config,
                symbols: &symbols,
                traded: &traded,
                market: Market::Spot,
                base_dir,
                venue_label: "paper",
                klines_from: Some((rest.as_str(), simex.cert.as_deref())),
            };
            let (set, watcher, warm) = configured_strategies(&setup, &mut registry)?;
            let names: Vec<String> = match &set {
                StrategySet::Dispatcher(d) => d
                    .strategies()
                    .iter()
                    .map(|(_, name, dry)| format!("{name}{}", if *dry { " (dry run)" } else { "" }))
                    .collect(),
                StrategySet::Probes(_) => Vec::new(),
            };
            eprintln!(
                "kestrel paper: strategies {}; {} closed bars of warm-up",
                names.join(", "),
                warm.bars
            );
            (set, watcher)
        }
        PaperStrategy::Probe {
            qty,
            bracket_bps,
            cooldown_events,
        } => {
            let probe = ProbeStrategy::new(ProbeConfig {
                strategy: StrategyId(1),
                symbol,
                qty: *qty,
                bracket_bps: *bracket_bps,
                cooldown_events: *cooldown_events,
                every_tick: 0,
                tick_on_trades: false,
            });
            (
                StrategySet::Probes(super::trading::Probes::from(vec![probe])),
                None,
            )
        }
    };
    let (manager, rebuilt, resumed) = rebuild_with_strategies(
        &args.journal,
        session,
        OmsConfig::default(),
        &symbols,
        &traded,
        &[(assets.quote, args.starting_quote)],
        &mut strategy,
    )?;
    if !resumed.restored.is_empty() {
        eprintln!(
            "kestrel paper: strategy state restored from the journal: {}",
            resumed.restored.join(", ")
        );
    }
    let venue = paper_venue(&manager, &traded)?;
    eprintln!(
        "kestrel paper: journal {}: session {session}, {} order updates and {} fills replayed, {} orders open",
        args.journal.display(),
        rebuilt.updates,
        rebuilt.fills,
        rebuilt.open_orders
    );

    let (runner_metrics, latency) = metrics::register(&mut registry)?;
    let (rails, restored) = risk_rails(args.risk, &symbols, &traded, &strategy.modes(), &rebuilt);
    let mut orders = OmsStage::new(manager, venue, rails);
    orders.set_restored(restored);
    orders.attach_metrics(&mut registry, "paper")?;
    let (control_client, control_endpoint) = crate::engine::control::control_link();
    orders.attach_control(control_endpoint);
    let mut control = args.control.bind(control_client, &symbols)?;
    control.attach_alerts(&mut registry)?;
    if let Some(addr) = control.local_addr() {
        eprintln!("kestrel paper: control API on http://{addr} (kestrel ctl --addr {addr} status)");
    }
    let mut source = live_source(&simex, &args.symbol, &symbols)?;
    source.attach_metrics(&mut registry)?;
    let stream_names = source.stream_names().to_vec();

    let mut server = OpsServer::bind(args.metrics_listen)
        .with_context(|| format!("metrics endpoint {}", args.metrics_listen))?;
    let metrics_addr = server.local_addr().unwrap_or(args.metrics_listen);
    eprintln!("kestrel paper: metrics on http://{metrics_addr}/metrics");
    let registry = Arc::new(registry);
    let ops_registry = Arc::clone(&registry);
    let status_line = args.status_line;
    let deadline = args.duration.map(|d| Instant::now() + d);
    let simex = Arc::new(simex.handle);
    let ops_simex = Arc::clone(&simex);
    let started = Instant::now();
    let ops = move |shutdown: Arc<Shutdown>| {
        let mut next_status = Instant::now();
        let mut next_watch = Instant::now();
        while !shutdown.is_joined() {
            let mut served = server.poll(&ops_registry, Duration::from_millis(50))
                + control.poll(Duration::from_millis(50));
            if let Some(watcher) = &mut watcher {
                if Instant::now() >= next_watch {
                    next_watch = Instant::now() + Duration::from_secs(1);
                    served += watcher.poll();
                }
            }
            if served == 0 {
                std::thread::sleep(crate::ops::OPS_IDLE);
            }
            let now = Instant::now();
            let replayed = ops_simex.replay_finished(sim::Market::Spot);
            if deadline.is_some_and(|d| now >= d) || replayed {
                shutdown.request_stop();
            }
            if status_line && now >= next_status {
                next_status = now + Duration::from_secs(1);
                eprintln!("{}", status(&ops_registry, started.elapsed()));
            }
        }
    };
    let components = Components {
        source,
        strategy,
        orders,
        journal,
        symbols,
        stream_names,
    };
    let report = super::run(settings, components, runner_metrics, latency, shutdown, ops)?;
    registry.collect();
    if let Some(path) = &args.metrics_out {
        std::fs::write(path, registry.render())
            .with_context(|| format!("writing the final metrics to {}", path.display()))?;
    }
    let tick = registry.latency_quantiles(metrics::TICK_TO_ORDER);
    let summary = PaperSummary {
        session,
        recovered_orders: rebuilt.updates,
        recovered_fills: rebuilt.fills,
        report,
        orders: registry.sample("orders_submitted_total").unwrap_or(0.0) as u64,
        fills: registry.sample("orders_filled_total").unwrap_or(0.0) as u64,
        equity: registry.sample("equity_usd").unwrap_or(0.0),
        realized_pnl: registry.sample("pnl_realized_usd").unwrap_or(0.0),
        fees: registry.sample("fees_paid_usd").unwrap_or(0.0),
        tick_to_order_p50_us: tick.as_ref().map_or(0.0, |t| t.p50_ns as f64 / 1e3),
        tick_to_order_p99_us: tick.as_ref().map_or(0.0, |t| t.p99_ns as f64 / 1e3),
    };
    if let Ok(simex) = Arc::try_unwrap(simex) {
        simex.stop().context("stopping the simulator")?;
    }
    Ok(summary)
}

/// The in-process simulator and how to reach it: plain on 127.0.0.1, or TLS on `localhost`
/// (the name its self-signed certificate carries) trusting that certificate.
pub(super) struct LocalSimex {
    pub handle: SimexHandle,
    pub port: u16,
    /// The simulator's certificate (PEM) when it speaks TLS.
    pub cert: Option<PathBuf>,
}

impl LocalSimex {
    /// `scheme://host:port` for HTTP (`http`/`https`) or WebSocket (`ws`/`wss`) URLs.
    pub fn base(&self, websocket: bool) -> String {
        let scheme = match (websocket, self.cert.is_some()) {
            (false, false) => "http://127.0.0.1",
            (false, true) => "https://localhost",
            (true, false) => "ws://127.0.0.1",
            (true, true) => "wss://localhost",
        };
        format!("{scheme}:{}", self.port)
    }
}

/// Starts the simulator in-process on one spot capture; `enforce_limits` false only counts
/// the exchangeInfo rate limits, for benchmarks that outrun them. With `tls_cert_out`, it
/// speaks TLS and writes its certificate there.
pub(super) fn start_simex(
    capture: &Path,
    exchange_info: &Path,
    speed: f64,
    enforce_limits: bool,
    tls_cert_out: Option<PathBuf>,
) -> anyhow::Result<LocalSimex> {
    use anyhow::Context;
    let orders = sim::OrderSideConfig {
        enforce_rate_limits: enforce_limits,
        ..sim::OrderSideConfig::default()
    };
    let handle = Simex::start(SimexConfig {
        markets: vec![MarketReplay {
            market: sim::Market::Spot,
            capture: vec![capture.to_path_buf()],
            exchange_info: exchange_info.to_path_buf(),
        }],
        listen: ([127, 0, 0, 1], 0).into(),
        tls: tls_cert_out.is_some(),
        speed: Speed::Times(speed),
        faults: sim::FaultPlan::default(),
        ping_interval_ms: None,
        pong_timeout_ms: None,
        client_queue_frames: 1 << 20,
        cert_out: tls_cert_out.clone(),
        orders,
    })
    .context("starting the simulator")?;
    let port = handle
        .addr(sim::Market::Spot)
        .context("simulator serves spot")?
        .port();
    Ok(LocalSimex {
        handle,
        port,
        cert: tls_cert_out,
    })
}

/// What a run learns from the venue's exchangeInfo about the one symbol it trades.
pub(super) struct VenueInstrument {
    pub instrument: Instrument,
    pub rate_limits: Vec<crate::oms::binance::exchange_info::RateLimit>,
    pub symbols: SymbolTable,
    pub symbol: crate::core::SymbolId,
    pub assets: PairAssets,
}

/// Instruments the way a live run gets them: the venue's exchangeInfo over REST.
pub(super) fn fetch_instrument(simex: &LocalSimex, name: &str) -> anyhow::Result<VenueInstrument> {
    use anyhow::Context;
    let info = fetch_exchange_info(&simex.base(false), simex.cert.as_deref(), Market::Spot)?;
    let mut symbols = SymbolTable::new();
    let symbol = symbols.intern(name)?;
    let (_, instrument) = traded_instruments(&info, &symbols, &[name.to_owned()])?
        .pop()
        .context("one traded instrument")?;
    let assets = pair_assets(&instrument)?;
    Ok(VenueInstrument {
        instrument,
        rate_limits: info.rate_limits,
        symbols,
        symbol,
        assets,
    })
}

/// The live Binance spot feed of `name`, connected to the simulator.
pub(super) fn live_source(
    simex: &LocalSimex,
    name: &str,
    symbols: &SymbolTable,
) -> anyhow::Result<BinanceFeedSource> {
    Ok(BinanceFeedSource::new(
        BinanceFeedConfig {
            market: BinanceMarket::Spot,
            symbols: vec![name.to_owned()],
            ws_urls: vec![simex.base(true)],
            depth_stream: "depth@100ms".to_owned(),
            trade_stream: "trade".to_owned(),
            ws: WsFeedConfig {
                backoff_base_ms: 50,
                backoff_cap_ms: 2_000,
                ..WsFeedConfig::default()
            },
            rest_base_url: simex.base(false),
            snapshot_limit: 1000,
            trusted_cert: simex.cert.clone(),
        },
        symbols,
    )?)
}

/// One status line: progress, orders, fills, PnL, tick-to-order.
fn status(registry: &Registry, elapsed: Duration) -> String {
    registry.collect();
    let get = |name| registry.sample(name).unwrap_or(0.0);
    let tick = registry.latency_quantiles(metrics::TICK_TO_ORDER);
    format!(
        "kestrel paper: {:>5.0}s  events {:>8}  orders {:>5}  fills {:>5}  equity {:>12.4}  realized {:>9.4}  fees {:>8.4}  tick-to-order p50 {:.1} µs p99 {:.1} µs",
        elapsed.as_secs_f64(),
        get("kestrel_market_events_total"),
        get("orders_submitted_total"),
        get("orders_filled_total"),
        get("equity_usd"),
        get("pnl_realized_usd"),
        get("fees_paid_usd"),
        tick.as_ref().map_or(0.0, |t| t.p50_ns as f64 / 1e3),
        tick.as_ref().map_or(0.0, |t| t.p99_ns as f64 / 1e3),
    )
}

/// The bundled capture and exchangeInfo, relative to the crate root.
pub fn bundled_data(root: &Path) -> (PathBuf, PathBuf) {
    (
        root.join("data/binance_spot_btcusdt_20240808.gz"),
        root.join("data/binance_spot_exchange_info_btcusdt.json"),
    )
}
