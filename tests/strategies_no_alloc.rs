//! The strategy thread's hot path allocates nothing: every strategy of `[strategies]`
//! (scalping, real-time momentum, trend following at minute timeframes, the MA + HMM
//! ensemble with the bundled model, the scheduled momentum breakout) runs behind the
//! dispatcher through a backtest of the bundled capture, trading on the paper venue; after
//! the first minute of data, the allocations made inside the strategy stage's calls (market
//! events, fills and order updates, closed bars, timers) are counted by a per-thread counting
//! allocator and must be zero. Not counted: the order side's own work between those calls
//! (it has its own tests) and state snapshots, which are taken at most once a second after a
//! change and may allocate (`Strategy::snapshot`).

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::spec::{open_inputs, InputKind, InputOptions, InputSpec};
use kestrel::backtest::setup::{build_with, load_instruments, strategies};
use kestrel::book::Bar;
use kestrel::core::{ExecEvent, MarketEvent, OrderIntent};
use kestrel::engine::stage::{Outbox, SnapshotSink, StrategyStage};
use kestrel::feed::binance::BinanceMarket;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/binance_spot_btcusdt_20240808.gz"
);

/// Wraps the strategy stage, counting the allocations made inside its calls once `armed`.
struct Counted<G> {
    inner: G,
    calls: u64,
    /// Calls before counting starts (warm-up: first bars, first orders).
    warm_calls: u64,
    allocs: u64,
    counted_calls: u64,
    intents: u64,
}

impl<G: StrategyStage> Counted<G> {
    fn measure(&mut self, f: impl FnOnce(&mut G)) {
        self.calls += 1;
        let before = thread_allocs();
        f(&mut self.inner);
        if self.calls > self.warm_calls {
            self.allocs += thread_allocs() - before;
            self.counted_calls += 1;
        }
    }
}

impl<G: StrategyStage> StrategyStage for Counted<G> {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        self.measure(|g| g.on_market(event, intents));
        self.intents += intents.len() as u64;
    }
    fn on_exec(&mut self, event: &ExecEvent, intents: &mut Outbox<OrderIntent>) {
        self.measure(|g| g.on_exec(event, intents));
    }
    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>) {
        self.measure(|g| g.on_timer(now_ns, intents));
    }
    fn on_bar(&mut self, bar: &Bar, intents: &mut Outbox<OrderIntent>) {
        self.measure(|g| g.on_bar(bar, intents));
    }
    fn snapshots(&mut self, now_ns: u64, sink: &mut dyn SnapshotSink) {
        self.measure(|g| g.snapshots(now_ns, sink));
    }
}

#[test]
fn the_strategy_stage_allocates_nothing_per_event() {
    let mut config = BacktestConfig::default();
    let s = &mut config.strategies;
    s.momentum_rt.enabled = true;
    s.momentum_rt.symbols = vec!["BTCUSDT".to_owned()];
    s.momentum_rt.move_threshold_pct = 0.05;
    s.trend_follow.enabled = true;
    s.trend_follow.primary_minutes = 1;
    s.trend_follow.secondary_minutes = 1;
    s.trend_follow.regime_minutes = 1;
    for (fast, slow, rsi) in [
        (
            &mut s.trend_follow.primary_fast,
            &mut s.trend_follow.primary_slow,
            &mut s.trend_follow.primary_rsi,
        ),
        (
            &mut s.trend_follow.secondary_fast,
            &mut s.trend_follow.secondary_slow,
            &mut s.trend_follow.secondary_rsi,
        ),
        (
            &mut s.trend_follow.regime_fast,
            &mut s.trend_follow.regime_slow,
            &mut s.trend_follow.regime_rsi,
        ),
    ] {
        (*fast, *slow, *rsi) = (2, 3, 2);
    }
    s.trend_follow.atr_length = 2;
    s.trend_follow.swing_lookback = 2;
    s.momentum_breakout.enabled = true;
    s.momentum_breakout.symbols = vec!["BTCUSDT".to_owned()];
    assert!(s.scalping.enabled && s.ensemble.enabled && s.ensemble.hmm_enabled);

    let instruments = load_instruments(&config).expect("bundled exchangeInfo");
    let (stage, metas) = strategies(&config, &instruments, false).expect("strategies build");
    assert_eq!(metas.len(), 5, "{metas:?}");
    let counted = Counted {
        inner: stage,
        calls: 0,
        warm_calls: 20_000, // about the first minute of the capture
        allocs: 0,
        counted_calls: 0,
        intents: 0,
    };
    let spec = InputSpec {
        kind: Some(InputKind::Capture),
        market: Some(BinanceMarket::Spot),
        ..InputSpec::new(std::path::Path::new(CAPTURE))
    };
    let mut input = open_inputs(&[spec], &instruments.symbols, &InputOptions::default())
        .expect("capture opens");
    let mut backtest = build_with(
        &config,
        config.paper(),
        &instruments,
        &["bundled".to_owned()],
        counted,
        metas,
    )
    .expect("builds");
    backtest.run(&mut input, 0, &mut |_| {}).expect("runs");
    let stage = backtest.strategy();
    eprintln!(
        "{} strategy-stage calls, {} counted after warm-up, {} intents, {} allocations",
        stage.calls, stage.counted_calls, stage.intents, stage.allocs
    );
    assert!(stage.counted_calls > 30_000, "the run was long enough");
    assert!(stage.intents > 0, "the strategies traded");
    assert_eq!(
        stage.allocs, 0,
        "allocations on the strategy thread's hot path"
    );
}
