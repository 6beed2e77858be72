//! Owns: what a backtest run leaves behind for its reports — the orders, fills, risk
//! refusals, sampled equity and marks, and simulated order latencies, in the order they
//! happened, with exact decimals. Never: computes statistics (the report does) or holds
//! anything that depends on the machine running the backtest (wall-clock timings, paths
//! resolved differently, hash-map order), so two runs on the same inputs record the same.

use crate::core::{Fill, Notional, OrderUpdate, Price, StrategyId, SymbolId};

/// One traded symbol, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolMeta {
    pub id: SymbolId,
    /// Venue name, e.g. `BTCUSDT`.
    pub name: String,
    pub base_asset: String,
    pub quote_asset: String,
    /// `spot`, `margin` or `usdm`.
    pub market: &'static str,
}

/// One strategy of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyMeta {
    pub id: StrategyId,
    /// Its config name, e.g. `probe`.
    pub name: String,
    /// Its mode on the risk rails (dry-run strategies are checked, never sent).
    pub mode: crate::risk::StrategyMode,
}

/// What ran on what.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunMeta {
    /// Data inputs as given on the command line (not canonicalised: outputs must not depend
    /// on where the checkout lives).
    pub inputs: Vec<String>,
    /// First and last event time replayed, ns since the UTC epoch.
    pub first_event_ns: u64,
    pub last_event_ns: u64,
    /// Market events replayed (after `--from`/`--to`).
    pub events: u64,
    /// Repairs the data inputs made, by name (`duplicate_rows`, `kline_gaps`, …), sorted.
    pub data_repairs: Vec<(String, u64)>,
    /// The settings that shape the result (latency, queue model, fees), as `key = value`
    /// lines in a fixed order, for the report's header.
    pub settings: Vec<(String, String)>,
}

/// An order changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRecord {
    /// Simulated time of the change, ns since the UTC epoch.
    pub ts_ns: u64,
    pub update: OrderUpdate,
}

/// One of our executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillRecord {
    pub ts_ns: u64,
    pub fill: Fill,
}

/// A risk rail refused an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskRecord {
    pub ts_ns: u64,
    pub strategy: StrategyId,
    pub symbol: Option<SymbolId>,
    /// `risk::codes` value; `risk::codes::name` gives its name.
    pub code: u16,
}

/// Total account equity (valuation asset) at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquitySample {
    pub ts_ns: u64,
    pub equity: Notional,
}

/// The price the portfolio values a symbol at (book mid, or the last trade) at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkSample {
    pub ts_ns: u64,
    pub symbol: SymbolId,
    pub price: Price,
}

/// Everything a run recorded; the input of `backtest::report`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recording {
    pub meta: RunMeta,
    pub symbols: Vec<SymbolMeta>,
    pub strategies: Vec<StrategyMeta>,
    /// Asset equity is valued in (e.g. `USDT`).
    pub account_asset: String,
    /// Equity before the first event.
    pub starting_equity: Notional,
    /// Every order update the order manager emitted, in emission order.
    pub orders: Vec<OrderRecord>,
    /// Every fill, in emission order.
    pub fills: Vec<FillRecord>,
    /// Every risk refusal.
    pub risk_rejects: Vec<RiskRecord>,
    /// Equity every `sample_every_ns` of simulated time and after every fill, ascending.
    pub equity: Vec<EquitySample>,
    /// Marks of every symbol every `sample_every_ns` of simulated time, ascending.
    pub marks: Vec<MarkSample>,
    /// Simulated order round trips: intent handed to the venue → its first answer (ack,
    /// fill or reject) seen by the order manager, ns of simulated time, in order.
    pub order_latency_ns: Vec<u64>,
}
