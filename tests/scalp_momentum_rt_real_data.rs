//! The scalper and the real-time momentum breakout through the dispatcher and the backtest
//! driver on real Binance captures (issue 7 acceptance): the scalper on the bundled spot
//! BTCUSDT capture (L2 book and trades) never enters while the dispatcher's book is invalid
//! or stale and every entry it sends carries a bracket that the order manager places when
//! it fills; the breakout on the bundled USDⓈ-M BTCUSDT capture (knobs scaled to its six
//! minutes) enters with a stop, and its trailing stop moves only ever tighten. Each run
//! prints its trades and statistics (`--nocapture`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::{open_inputs, InputOptions, InputSpec, MarketInput};
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::report::{analyze, files};
use kestrel::backtest::setup::{build_with, load_instruments, resolve};
use kestrel::backtest::Recording;
use kestrel::core::{
    Fill, Market, MarketEvent, MarketEventKind, Notional, OrderRole, OrderStatus, OrderUpdate,
    Price, Side, SymbolId,
};
use kestrel::feed::binance::BinanceMarket;
use kestrel::ops::OpsError;
use kestrel::strat::api::ids;
use kestrel::strat::dispatch::{Dispatcher, DispatcherConfig, Entry};
use kestrel::strat::momentum_rt::{MomentumRtConfig, MomentumRtStrategy};
use kestrel::strat::scalp::{ScalpConfig, ScalpStrategy};
use kestrel::strat::{
    MetricsScope, RestoreError, Signal, Strategy, StrategyCtx, StrategyInfo, SymbolState,
};

const SPOT_CAPTURE: &str = "data/binance_spot_btcusdt_20240808.gz";
const USDM_CAPTURE: &str = "data/binance_usdm_btcusdt_20240808.gz";

/// A signal and the market state the dispatcher showed the strategy when it was emitted.
#[derive(Debug, Clone, Copy)]
struct Seen {
    now_ns: u64,
    market_symbol: SymbolId,
    signal: Signal,
    market: SymbolState,
}

/// Runs a strategy unchanged and records every signal it emits with what it saw, and
/// counts the trades it was shown while the book was not valid.
struct Recorder<S: Strategy> {
    inner: S,
    seen: Arc<Mutex<Vec<Seen>>>,
    trades_on_invalid_book: Arc<AtomicU64>,
}

impl<S: Strategy> Recorder<S> {
    fn record(&self, ctx: &StrategyCtx<'_>) {
        let mut seen = self.seen.lock().expect("test mutex");
        for signal in ctx.signals() {
            let symbol = match signal {
                Signal::Enter(plan) => plan.symbol,
                Signal::Exit { symbol, .. } | Signal::MoveStop { symbol, .. } => symbol,
            };
            seen.push(Seen {
                now_ns: ctx.now_ns,
                market_symbol: symbol,
                signal,
                market: ctx.market(symbol),
            });
        }
    }
}

impl<S: Strategy> Strategy for Recorder<S> {
    fn info(&self) -> StrategyInfo {
        self.inner.info()
    }
    fn tags(&self) -> &'static [&'static str] {
        self.inner.tags()
    }
    fn symbols(&self) -> &[SymbolId] {
        self.inner.symbols()
    }
    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        if matches!(event.kind, MarketEventKind::Trade(_)) && !ctx.market(event.symbol).book_valid {
            self.trades_on_invalid_book.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.on_market(event, ctx);
        self.record(ctx);
    }
    fn on_fill(&mut self, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        self.inner.on_fill(fill, ctx);
        self.record(ctx);
    }
    fn on_order(&mut self, update: &OrderUpdate, ctx: &mut StrategyCtx<'_>) {
        self.inner.on_order(update, ctx);
        self.record(ctx);
    }
    fn on_timer(&mut self, ctx: &mut StrategyCtx<'_>) {
        self.inner.on_timer(ctx);
        self.record(ctx);
    }
    fn snapshot(&self, out: &mut Vec<u8>) {
        self.inner.snapshot(out);
    }
    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        self.inner.restore(body)
    }
    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        self.inner.attach_metrics(scope)
    }
}

/// Replays `capture` through a dispatcher running `strategy` alone.
fn run(
    config: &BacktestConfig,
    capture: &str,
    market: Market,
    make: impl FnOnce(SymbolId) -> Box<dyn Strategy>,
) -> Recording {
    let instruments = load_instruments(config).expect("bundled exchangeInfo");
    let btc = instruments
        .symbols
        .get(b"BTCUSDT")
        .expect("BTCUSDT interned");
    let strategy = make(btc);
    let info = strategy.info();
    let dispatcher = Dispatcher::new(
        DispatcherConfig {
            market,
            ..DispatcherConfig::default()
        },
        instruments.symbols.len(),
        vec![Entry {
            strategy,
            dry_run: false,
        }],
        None,
    )
    .expect("dispatcher");
    let path = resolve(Path::new(capture));
    let specs = [InputSpec::new(&path)];
    let options = InputOptions {
        market: Some(config.backtest.market),
        ..InputOptions::default()
    };
    let mut input = open_inputs(&specs, &instruments.symbols, &options).expect("capture opens");
    let metas = vec![StrategyMeta {
        id: info.id,
        name: info.name.to_owned(),
        mode: kestrel::risk::StrategyMode::Enabled,
    }];
    let names = [path.display().to_string()];
    let mut backtest = build_with(
        config,
        config.paper(),
        &instruments,
        &names,
        dispatcher,
        metas,
    )
    .expect("backtest builds");
    backtest
        .run(&mut input, 0, &mut |_| {})
        .expect("replays to the end");
    backtest.finish(input.repairs()).0
}

fn print_report(title: &str, recording: &Recording) {
    let report = analyze(recording).expect("report");
    eprintln!("=== {title}: trades ===");
    eprint!("{}", files::trades_csv(recording, &report));
    eprintln!("=== {title}: statistics ===");
    eprint!("{}", files::stats_csv(&report.summary));
    eprintln!(
        "=== {title}: {} orders updates, {} fills, {} risk refusals ===",
        recording.orders.len(),
        recording.fills.len(),
        recording.risk_rejects.len()
    );
}

fn print_signals(title: &str, seen: &[Seen]) {
    eprintln!("=== {title}: signals (engine ns, signal, book, L2 top and newest bid / ask) ===");
    for s in seen {
        let what = match s.signal {
            Signal::Enter(plan) => format!(
                "ENTER {} {} stop {} tp {}",
                plan.side.as_str(),
                plan.tag,
                plan.stop_loss,
                plan.take_profit
            ),
            Signal::Exit { tag, .. } => format!("EXIT {tag}"),
            Signal::MoveStop { stop_loss, .. } => format!("MOVE_STOP {stop_loss}"),
        };
        let m = &s.market;
        eprintln!(
            "{} {what} book_valid={} L2 {} / {} newest {} / {}",
            s.now_ns, m.book_valid, m.top.bids[0].price, m.top.asks[0].price, m.bid, m.ask
        );
    }
}

fn spot_config() -> BacktestConfig {
    BacktestConfig::default()
}

fn usdm_config() -> BacktestConfig {
    let mut config = BacktestConfig::default();
    config.backtest.market = BinanceMarket::Usdm;
    config
}

/// Filled entries of `strategy` (client ids), on `side` only when given (a closing market
/// order of `Signal::Exit` has the entry role too).
fn filled_entries(
    recording: &Recording,
    strategy: kestrel::core::StrategyId,
    side: Option<Side>,
) -> Vec<u64> {
    let mut ids: Vec<u64> = recording
        .orders
        .iter()
        .filter(|o| {
            o.update.strategy == strategy
                && o.update.role == OrderRole::Entry
                && o.update.status == OrderStatus::Filled
                && side.is_none_or(|s| o.update.side == s)
        })
        .map(|o| o.update.client_order_id.0)
        .collect();
    ids.dedup();
    ids
}

/// Bracket legs (role, parent) placed for `strategy`.
fn legs(recording: &Recording, strategy: kestrel::core::StrategyId) -> Vec<(OrderRole, u64)> {
    let mut legs: Vec<(OrderRole, u64)> = recording
        .orders
        .iter()
        .filter(|o| {
            o.update.strategy == strategy
                && matches!(o.update.role, OrderRole::StopLoss | OrderRole::TakeProfit)
        })
        .map(|o| (o.update.role, o.update.parent.0))
        .collect();
    legs.sort_by_key(|&(role, parent)| (parent, role as u8));
    legs.dedup();
    legs
}

#[test]
fn scalping_on_the_spot_capture_enters_only_on_a_fresh_valid_book_and_always_bracketed() {
    let scalp = ScalpConfig {
        enabled: true,
        symbols: vec!["BTCUSDT".to_owned()],
        // The capture is 5.8 minutes of a calm BTCUSDT: the seed's 6 bps range and
        // 20 000 USDT of top-of-book depth are scaled down to its clamps.
        min_range_bps: 3.0,
        min_depth_usd: Notional::from_int(1000),
        ..ScalpConfig::default()
    };
    scalp.validate().expect("valid knobs");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let invalid = Arc::new(AtomicU64::new(0));
    let (recorded, counted) = (Arc::clone(&seen), Arc::clone(&invalid));
    let recording = run(&spot_config(), SPOT_CAPTURE, Market::Spot, move |btc| {
        Box::new(Recorder {
            inner: ScalpStrategy::new(&scalp, &[btc]),
            seen: recorded,
            trades_on_invalid_book: counted,
        })
    });
    let invalid = invalid.load(Ordering::Relaxed);
    eprintln!("scalping: {invalid} trades arrived while the book was not valid");
    assert!(
        invalid > 0,
        "the capture's trades before the book synced reach the scalper"
    );
    print_report("scalping, spot BTCUSDT 2024-08-08", &recording);
    let seen = seen.lock().expect("test mutex").clone();
    let entries: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s.signal, Signal::Enter(_)))
        .collect();
    print_signals("scalping", &seen);
    assert!(!entries.is_empty(), "the scalper trades on this capture");
    let stale_ns = u64::from(ScalpConfig::default().book_stale_sec) * 1_000_000_000;
    for entry in &entries {
        assert!(
            entry.market.book_valid && entry.market.book_ns > 0,
            "entry on an invalid book: {entry:?}"
        );
        assert!(
            entry.now_ns - entry.market.book_ns <= stale_ns,
            "stale book: {entry:?}"
        );
        let Signal::Enter(plan) = entry.signal else {
            unreachable!("filtered on entries");
        };
        let mid = entry.market.mid().expect("a best bid and ask at an entry");
        assert!(
            plan.stop_loss.is_positive() && plan.stop_loss < mid && mid < plan.take_profit,
            "every entry carries its bracket around the mid: {entry:?}"
        );
    }
    for exit in seen
        .iter()
        .filter(|s| matches!(s.signal, Signal::Exit { .. }))
    {
        assert_eq!(
            exit.signal,
            Signal::Exit {
                symbol: exit.market_symbol,
                tag: kestrel::strat::scalp::TAG_TIME_STOP
            },
            "market entries only end by their bracket or the time stop"
        );
    }
    let strategy = ids::SCALPING;
    // Spot: every entry is a buy, the sells are the time stop's closing orders.
    let filled = filled_entries(&recording, strategy, Some(Side::Buy));
    assert!(!filled.is_empty(), "some entries filled");
    let legs = legs(&recording, strategy);
    for entry in &filled {
        for role in [OrderRole::StopLoss, OrderRole::TakeProfit] {
            assert!(
                legs.contains(&(role, *entry)),
                "entry {entry} filled without its {role:?} leg: {legs:?}"
            );
        }
    }
}

#[test]
fn momentum_rt_on_the_usdm_capture_enters_with_a_stop_and_only_tightens_it() {
    let momentum = MomentumRtConfig {
        enabled: true,
        symbols: vec!["BTCUSDT".to_owned()],
        // Scaled to 6 minutes of BTCUSDT futures: 10 s fast window over a 60 s baseline,
        // a 0.05 % jump, and stops of tenths of a percent.
        window_sec: 10,
        baseline_sec: 60,
        move_threshold_pct: 0.05,
        volume_spike_ratio: 2.0,
        cooldown_sec: 15,
        stop_pct: 0.1,
        trail_pct: 0.1,
        tp_pct: 0.3,
        allow_shorts: true,
        ..MomentumRtConfig::default()
    };
    momentum.validate().expect("valid knobs");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let recording = run(
        &usdm_config(),
        USDM_CAPTURE,
        Market::UsdmFutures,
        move |btc| {
            Box::new(Recorder {
                inner: MomentumRtStrategy::new(&momentum, &[btc]),
                seen: recorded,
                trades_on_invalid_book: Arc::new(AtomicU64::new(0)),
            })
        },
    );
    print_report("momentum_rt, USD-M BTCUSDT 2024-08-08", &recording);
    let seen = seen.lock().expect("test mutex").clone();
    print_signals("momentum_rt", &seen);
    let entries = seen
        .iter()
        .filter(|s| matches!(s.signal, Signal::Enter(_)))
        .count();
    assert!(entries > 0, "a breakout on this capture");
    let mut last_entry_side = None;
    let mut last_stop: Option<Price> = None;
    for s in &seen {
        match s.signal {
            Signal::Enter(plan) => {
                assert!(plan.stop_loss.is_positive(), "entry without a stop: {s:?}");
                last_entry_side = Some(plan.side);
                last_stop = Some(plan.stop_loss);
            }
            Signal::MoveStop { stop_loss, .. } => {
                let side = last_entry_side.expect("a stop move follows an entry");
                let before = last_stop.expect("a stop before");
                let tighter = match side {
                    Side::Buy => stop_loss > before,
                    Side::Sell => stop_loss < before,
                };
                assert!(tighter, "a stop move loosened {before} to {stop_loss}");
                last_stop = Some(stop_loss);
            }
            Signal::Exit { .. } => panic!("momentum_rt exits through its bracket only"),
        }
    }
    let strategy = ids::MOMENTUM_RT;
    let legs = legs(&recording, strategy);
    for entry in filled_entries(&recording, strategy, None) {
        assert!(
            legs.contains(&(OrderRole::StopLoss, entry)),
            "entry {entry} filled without its stop: {legs:?}"
        );
    }
}
