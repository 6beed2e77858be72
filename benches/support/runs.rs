//! Owns: the benchmark runs of our backtester — the settings every load runs with (order
//! latencies 1 ms / 1 ms, fees 0 / 0.0007, the probabilistic queue model with power 3,
//! non-binding risk rails), the probe and grid strategy
//! stages, and one run over an input with what it produced. Never: measures time (the
//! benches do) or changes a setting between the probe and the grid other than the
//! instrument (below).
//!
//! The grid quotes both sides and goes short like hftbacktest's example (which trades a
//! linear perpetual): it runs on the BTCUSDT USDⓈ-M instrument (tick 0.01, lot 0.001, no
//! spot balance needed to sell) over the spot capture's data. The probe runs on the spot
//! instrument, as `kestrel backtest` does by default.

// Shared by two bench binaries (backtest, hftbacktest_compare); each uses a part.
#![allow(dead_code)]

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::driver::LoopCounts;
use kestrel::backtest::input::MarketInput;
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::setup::{build_with, load_instruments, strategies, Instruments};
use kestrel::core::{Price, Qty, Ratio, StrategyId};
use kestrel::engine::stage::CaptureOnly;
use kestrel::feed::binance::BinanceMarket;
use kestrel::oms::paper::{PaperConfig, QueueModel};
use kestrel::risk::RiskLimits;

use super::grid::{GridSettings, GridStrategy};

/// Engine → venue delay of each order (hftbacktest `ConstantLatency` entry).
pub const ENTRY_LATENCY_US: u64 = 1_000;
/// Venue → engine delay of each order report (`ConstantLatency` response).
pub const REPORT_LATENCY_US: u64 = 1_000;
/// Maker fee rate (the example's rebate is −0.00005; ours must be ≥ 0, so both run 0).
pub const MAKER_FEE: f64 = 0.0;
/// Taker fee rate (the example's 0.0007).
pub const TAKER_FEE: f64 = 0.0007;
/// Power of the probabilistic queue model (ours `QueueModel::Probabilistic`, hftbacktest
/// `ProbQueueModel(PowerProbQueueFunc::new(3.0))`, the same rule).
pub const QUEUE_POWER: u32 = 3;
/// Grid order quantity, BTC (the instrument's lot).
pub const GRID_QTY: &str = "0.001";
/// Grid levels per side.
pub const GRID_LEVELS: usize = 10;
/// Grid re-quote cadence (the example's `elapse(100_000_000)`).
pub const GRID_REQUOTE_NS: u64 = 100_000_000;
/// Relative half spread and grid interval (the example's 0.0005 each).
pub const GRID_RELATIVE: &str = "0.0005";
/// Smallest grid step: the tick.
pub const GRID_MIN_STEP: &str = "0.01";

fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse()
        .unwrap_or_else(|e| panic!("bench constant {text:?}: {e:?}"))
}

fn ratio(rate: f64) -> Ratio {
    Ratio::from_f64_lossy(rate).unwrap_or_else(|| panic!("bench rate {rate} fits"))
}

/// The settings every run shares.
fn base_config(market: BinanceMarket) -> BacktestConfig {
    let mut config = BacktestConfig::default();
    // The benchmarks' strategy load is the probe (`kestrel paper --probe`).
    config.backtest.strategy = kestrel::backtest::config::BacktestStrategy::Probe;
    config.backtest.market = market;
    config.backtest.order_entry_latency_us = ENTRY_LATENCY_US;
    config.backtest.order_report_latency_us = REPORT_LATENCY_US;
    config.backtest.maker_fee = ratio(MAKER_FEE);
    config.backtest.taker_fee = ratio(TAKER_FEE);
    config.risk = RiskLimits::non_binding();
    config
        .validate()
        .unwrap_or_else(|e| panic!("bench config: {e:#}"));
    config
}

/// Which strategy a run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// No strategy (`CaptureOnly`): the book, marks and the order stage's market handling.
    Replay,
    /// The default probe (`kestrel backtest` without a strategy section).
    Probe,
    /// The hftbacktest grid-trading example.
    Grid,
}

impl Load {
    pub const ALL: [Load; 3] = [Load::Replay, Load::Probe, Load::Grid];

    pub fn name(self) -> &'static str {
        match self {
            Load::Replay => "replay",
            Load::Probe => "probe",
            Load::Grid => "grid",
        }
    }
}

/// A load's settings and instruments, built once per bench.
pub struct Setup {
    pub load: Load,
    pub config: BacktestConfig,
    pub instruments: Instruments,
}

impl Setup {
    pub fn new(load: Load) -> Self {
        let config = base_config(match load {
            Load::Replay | Load::Probe => BinanceMarket::Spot,
            Load::Grid => BinanceMarket::Usdm,
        });
        let instruments =
            load_instruments(&config).unwrap_or_else(|e| panic!("bench instruments: {e:#}"));
        Self {
            load,
            config,
            instruments,
        }
    }

    /// The paper venue: the settings file's, with the probabilistic queue model on.
    fn paper(&self) -> PaperConfig {
        PaperConfig {
            queue_model: QueueModel::Probabilistic { power: QUEUE_POWER },
            ..self.config.paper()
        }
    }

    fn grid(&self) -> GridStrategy {
        let symbol = self.instruments.traded[0].0;
        let qty: Qty = parse(GRID_QTY);
        let relative: Ratio = parse(GRID_RELATIVE);
        GridStrategy::new(GridSettings {
            strategy: StrategyId(1),
            symbol,
            min_grid_step: parse::<Price>(GRID_MIN_STEP),
            half_spread: relative,
            grid_interval: relative,
            levels: GRID_LEVELS,
            qty,
            max_position: Qty::from_raw(qty.raw() * GRID_LEVELS as i128),
            requote_every_ns: GRID_REQUOTE_NS,
        })
    }

    /// One run over `input` to its end.
    pub fn run(&self, input: &mut dyn MarketInput) -> anyhow::Result<Outcome> {
        let inputs = ["bench".to_owned()];
        let mut quiet = |_: (u64, u64)| {};
        match self.load {
            Load::Replay => {
                let mut backtest = build_with(
                    &self.config,
                    self.paper(),
                    &self.instruments,
                    &inputs,
                    CaptureOnly,
                    Vec::new(),
                )?;
                backtest.run(input, 0, &mut quiet)?;
                Ok(Outcome::of(backtest.finish(Vec::new())))
            }
            Load::Probe => {
                let (probes, metas) = strategies(&self.config, &self.instruments, false)?;
                let mut backtest = build_with(
                    &self.config,
                    self.paper(),
                    &self.instruments,
                    &inputs,
                    probes,
                    metas,
                )?;
                backtest.run(input, 0, &mut quiet)?;
                Ok(Outcome::of(backtest.finish(Vec::new())))
            }
            Load::Grid => {
                let metas = vec![StrategyMeta {
                    id: StrategyId(1),
                    name: "grid:BTCUSDT".to_owned(),
                    mode: kestrel::risk::StrategyMode::Enabled,
                }];
                let mut backtest = build_with(
                    &self.config,
                    self.paper(),
                    &self.instruments,
                    &inputs,
                    self.grid(),
                    metas,
                )?;
                backtest.run(input, 0, &mut quiet)?;
                let requotes = backtest.strategy().requotes;
                let position = backtest.strategy().position();
                let mut outcome = Outcome::of(backtest.finish(Vec::new()));
                outcome.requotes = requotes;
                outcome.grid_position = position;
                Ok(outcome)
            }
        }
    }
}

/// What a run did (printed next to the throughput so a silent strategy shows).
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub counts: LoopCounts,
    pub order_updates: usize,
    pub fills: usize,
    pub risk_rejects: usize,
    pub requotes: u64,
    /// The grid's position at the end (zero for the probe).
    pub grid_position: Qty,
}

impl Outcome {
    fn of((recording, counts): (kestrel::backtest::recording::Recording, LoopCounts)) -> Self {
        Self {
            counts,
            order_updates: recording.orders.len(),
            fills: recording.fills.len(),
            risk_rejects: recording.risk_rejects.len(),
            requotes: 0,
            grid_position: Qty::ZERO,
        }
    }
}
