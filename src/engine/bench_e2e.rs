//! Owns: `kestrel bench e2e` — the engine against the in-process simulator replaying the
//! bundled capture, the probe strategy sending a market order every Nth book through the
//! order manager and the Binance gateway (WS API order entry), and the latency report:
//! tick-to-order, the write syscall (`send`), wire-to-wire seen by the simulator, and every
//! stage. Never: runs in tests with timing thresholds, or hides which layout and wait mode
//! it measured.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::{Market, Qty, StrategyId};
use crate::oms::binance::gateway::GatewayKeys;
use crate::oms::manager::OmsConfig;
use crate::oms::OmsStage;
use crate::ops::{LatencySummary, Registry};
use crate::persist::{JournalConfig, JournalWriter};
use crate::sim;
use crate::strat::{ProbeConfig, ProbeStrategy};

use super::paper::{fetch_instrument, live_source, start_simex};
use super::runner::Components;
use super::trading::config::GatewayUrls;
use super::trading::{binance_gateway, rebuild_order_side, risk_rails, GatewaySetup};
use super::{metrics, Shutdown, TopologySettings};

/// What `kestrel bench e2e` was asked to do.
#[derive(Debug, Clone)]
pub struct E2eArgs {
    pub capture: PathBuf,
    pub exchange_info: PathBuf,
    /// Replay pace (×N of the recorded pace).
    pub speed: f64,
    /// Stop after this many orders.
    pub orders: u64,
    /// One order every this many valid books (or trades, with `tick_on_trades`).
    pub every_tick: u32,
    /// Count trades instead of book updates as the ticks that trigger orders.
    pub tick_on_trades: bool,
    pub qty: Qty,
    /// Give up after this long even if fewer orders went out.
    pub timeout: Duration,
    /// Keep the simulator (and every thread the engine does not pin) on this core, so a
    /// pinned hot thread has its core to itself, as it would with the exchange on another
    /// machine. None: the simulator's threads go wherever the OS puts them.
    pub simulator_core: Option<usize>,
    /// Market data and orders over TLS (wss://, as Binance requires): tick-to-order then
    /// includes decrypting the tick and encrypting the order. False: plain ws://.
    pub tls: bool,
}

/// p50 / p90 / p99 / p99.9 / max in ns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Quantiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl From<LatencySummary> for Quantiles {
    fn from(s: LatencySummary) -> Self {
        Self {
            p50: s.p50_ns,
            p90: s.p90_ns,
            p99: s.p99_ns,
            p999: s.p999_ns,
            max: s.max_ns,
        }
    }
}

/// The benchmark's result; serialises to the documented JSON object.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct E2eReport {
    /// Layout, wait and pinning it ran with, e.g. `layout fused, wait spin_yield, unpinned`.
    pub mode: String,
    pub orders: u64,
    /// Orders refused before or by the venue (rails, filters, rate budget, venue rejects):
    /// those that never reached the wire have no tick-to-order sample.
    pub refused: u64,
    /// Orders with a tick-to-order sample (caused by a market event, framed for the wire).
    pub samples: u64,
    pub tick_to_order_ns: Quantiles,
    pub send_ns: Quantiles,
    pub wire_to_wire_ns: Quantiles,
    pub stages: BTreeMap<String, Quantiles>,
}

/// Runs the benchmark to `args.orders` orders (or the timeout, or the end of the replay).
pub fn run_e2e(
    args: &E2eArgs,
    settings: &TopologySettings,
    shutdown: Arc<Shutdown>,
) -> anyhow::Result<E2eReport> {
    use anyhow::Context;

    if let Some(core) = args.simulator_core {
        // Threads inherit the mask of the thread that spawns them: the simulator's, the
        // persist and the ops threads all stay on this core; only the hot thread pins away.
        anyhow::ensure!(
            super::affinity::pin_current_thread(core),
            "could not keep the simulator on core {core}"
        );
    }
    let journal_dir =
        std::env::temp_dir().join(format!("kestrel-bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&journal_dir)
        .with_context(|| format!("creating {}", journal_dir.display()))?;
    let cert = args.tls.then(|| journal_dir.join("simex-cert.pem"));
    let simex = start_simex(&args.capture, &args.exchange_info, args.speed, false, cert)?;
    let venue = fetch_instrument(&simex, "BTCUSDT")?;
    let mut registry = Registry::new();
    let (runner_metrics, latency) = metrics::register(&mut registry)?;
    let traded = [(venue.symbol, venue.instrument.clone())];
    let mut gateway = binance_gateway(
        &GatewaySetup {
            market: Market::Spot,
            urls: GatewayUrls {
                rest_base_url: simex.base(false),
                ws_api_url: format!("{}/ws-api/v3", simex.base(true)),
                user_stream_url: simex.base(true),
            },
            trusted_cert: simex.cert.as_deref(),
            keys: GatewayKeys::simex_test(),
            // The simulator runs without request limits (start_simex), so the gateway's
            // local budget (50 orders / 10 s on spot) must not refuse the benchmark's orders
            // either: a refused order never reaches the wire and would time the refusal.
            local_rate_limits: false,
            isolated_margin: false,
        },
        &venue.symbols,
        &traded,
        &venue.rate_limits,
    )?;
    gateway.attach_metrics(&mut registry)?;
    let (mut journal, recovered) = JournalWriter::open(&JournalConfig::new(&journal_dir))
        .with_context(|| format!("opening journal {}", journal_dir.display()))?;
    let session = journal.begin_session(&recovered)?;
    let (manager, rebuilt) = rebuild_order_side(
        &journal_dir,
        session,
        OmsConfig::default(),
        &venue.symbols,
        &traded,
        &[],
    )?;
    let (rails, _) = risk_rails(
        // Every rail runs on every order (its cost is part of tick-to-order); none binds:
        // the benchmark sends an order every few ticks and alternates identical orders.
        crate::risk::RiskLimits::non_binding(),
        &venue.symbols,
        &traded,
        &[(
            crate::core::StrategyId(1),
            crate::risk::StrategyMode::Enabled,
        )],
        &rebuilt,
    );
    let mut orders = OmsStage::new(manager, gateway, rails);
    orders.attach_metrics(&mut registry, "simex")?;
    let mut source = live_source(&simex, "BTCUSDT", &venue.symbols)?;
    source.attach_metrics(&mut registry)?;
    let stream_names = source.stream_names().to_vec();
    let strategy = ProbeStrategy::new(ProbeConfig {
        strategy: StrategyId(1),
        symbol: venue.symbol,
        qty: args.qty,
        bracket_bps: 0,
        cooldown_events: 0,
        every_tick: args.every_tick.max(1),
        tick_on_trades: args.tick_on_trades,
    });

    let registry = Arc::new(registry);
    let ops_registry = Arc::clone(&registry);
    let simex = Arc::new(simex.handle);
    let ops_simex = Arc::clone(&simex);
    let target = args.orders;
    let deadline = Instant::now() + args.timeout;
    let ops = move |shutdown: Arc<Shutdown>| {
        while !shutdown.is_joined() {
            std::thread::sleep(Duration::from_millis(20));
            // Takes the hot threads' histogram deltas, so their hand-off rings never fill.
            ops_registry.collect();
            let sent = ops_registry.sample("orders_submitted_total").unwrap_or(0.0) as u64;
            if sent >= target
                || Instant::now() >= deadline
                || ops_simex.replay_finished(sim::Market::Spot)
            {
                shutdown.request_stop();
            }
        }
    };
    let components = Components {
        source,
        strategy,
        orders,
        journal,
        symbols: venue.symbols,
        stream_names,
    };
    let report = super::run(settings, components, runner_metrics, latency, shutdown, ops)?;
    anyhow::ensure!(!report.failed, "the engine failed during the benchmark");
    registry.collect();
    let quantiles = |name: &str| registry.latency_quantiles(name).map(Quantiles::from);
    let mut stages = BTreeMap::new();
    for stage in ["feed", "strategy", "order", "encode_sign"] {
        if let Some(q) = registry.latency_quantiles_labeled(metrics::STAGE, "stage", stage) {
            stages.insert(stage.to_owned(), Quantiles::from(q));
        }
    }
    let wire = simex.wire_to_wire().map(|h| Quantiles {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    });
    let out = E2eReport {
        mode: format!(
            "{settings}; {}; {}",
            match args.simulator_core {
                Some(core) => format!("simulator, persist and ops on core {core}"),
                None => "simulator unpinned".to_owned(),
            },
            if args.tls { "tls" } else { "plain tcp" },
        ),
        orders: registry.sample("orders_submitted_total").unwrap_or(0.0) as u64,
        refused: registry.sample("orders_rejected_total").unwrap_or(0.0) as u64,
        samples: registry
            .latency_quantiles(metrics::TICK_TO_ORDER)
            .map_or(0, |s| s.count),
        tick_to_order_ns: quantiles(metrics::TICK_TO_ORDER).unwrap_or_default(),
        send_ns: quantiles("kestrel_gateway_send_latency_seconds").unwrap_or_default(),
        wire_to_wire_ns: wire.unwrap_or_default(),
        stages,
    };
    if let Ok(simex) = Arc::try_unwrap(simex) {
        simex.stop().context("stopping the simulator")?;
    }
    let _ = std::fs::remove_dir_all(&journal_dir);
    Ok(out)
}

/// The report as the human-readable table `kestrel bench e2e` prints without `--json`.
pub fn render_table(report: &E2eReport) -> String {
    let mut text = format!(
        "kestrel bench e2e: {} orders, {} refused ({} tick-to-order samples); {}\n{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}  (µs)\n",
        report.orders, report.refused, report.samples, report.mode, "", "p50", "p90", "p99", "p99.9", "max"
    );
    let mut row = |name: &str, q: &Quantiles| {
        let us = |ns: u64| ns as f64 / 1e3;
        text.push_str(&format!(
            "{name:<22} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
            us(q.p50),
            us(q.p90),
            us(q.p99),
            us(q.p999),
            us(q.max)
        ));
    };
    row("tick-to-order", &report.tick_to_order_ns);
    row("send (write syscall)", &report.send_ns);
    row("wire-to-wire (simex)", &report.wire_to_wire_ns);
    for (name, q) in &report.stages {
        row(&format!("stage {name}"), q);
    }
    text
}
