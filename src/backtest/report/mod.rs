//! Owns: the backtest's reports — statistics per strategy and total, the trades list, and
//! the files written from a [`Recording`]: `summary.json`, `trades.csv`, `fills.csv`,
//! `orders.csv`, `equity.csv`, `stats.csv`, a self-contained `report.html` (inline CSS,
//! JS and data, no network) and the terminal summary table. Never: reads the clock or
//! anything but the recording, so the bytes written depend on the recording alone (no
//! generation time, sorted map keys, shortest round-trip number text).
//!
//! # Definitions
//!
//! Money (equity, PnL, fees, turnover, average win/loss) is exact `Notional`, written as
//! decimal text. Ratios are `f64`; a ratio that is undefined is `null`, never NaN or
//! infinity.
//!
//! - **Span**: from the run's first to its last event (`RunMeta`), widened to every
//!   recorded timestamp.
//! - **Trade**: a round trip of one strategy on one symbol: opens when the position leaves
//!   zero, closes when it returns to zero; a flipping fill closes one and opens the next
//!   with the remainder (fee split by quantity). PnL by average cost, fees included.
//!   Trades still open at the end are listed (`status = open`) but not counted below.
//! - **Equity curve**: total = the recording's equity samples after (span start, starting
//!   equity). Per strategy = starting equity + its realized PnL − its fees + the
//!   unrealized PnL of its positions at the last known price (see `curves`); each
//!   strategy's returns are therefore relative to the whole account's starting equity.
//! - **pnl** = ending − starting equity; **total_return** = pnl / starting equity (null if
//!   the starting equity is not positive).
//! - **cagr** = (ending / starting)^(1 / years) − 1 with years = span / 365 days; null when
//!   the span is under 30 days (annualising less is noise) or either equity is not
//!   positive.
//! - **max_drawdown** = the largest (peak − equity) / peak over the curve, peak = running
//!   maximum (null when no peak is positive); **max_drawdown_amount** its money value at
//!   its largest; **max_drawdown_duration** = the longest time from a peak until the curve
//!   first gets back to it (to the span end when it never does), whichever drawdown that is.
//! - **sharpe** = mean(r) / stdev(r) × √P, **sortino** = mean(r) / √(Σ min(r, 0)² / n) × √P,
//!   where r are simple returns of equity read on a fixed grid from the span start (the
//!   last curve point at or before each grid time): 1-minute returns for spans under 2
//!   days (P = 525,600), daily returns otherwise (P = 365); risk-free rate 0, stdev is the
//!   sample one (n − 1). Null with fewer than 2 returns, zero variance (sharpe), no negative
//!   return (sortino), or a non-positive equity on the grid.
//! - **calmar** = cagr / max_drawdown; null when cagr is null or the drawdown is 0.
//! - **win_rate** = closed trades with net PnL > 0 / closed trades (null with none);
//!   **profit_factor** = Σ winning net PnL / |Σ losing net PnL| (null with no loss);
//!   **average_win** = Σ winning net PnL / wins, **average_loss** = Σ losing net PnL /
//!   losses (negative; null with none; truncated to 1e-18). A net PnL of exactly 0 is
//!   neither a win nor a loss.
//! - **exposure_time** = time with a non-zero position / span (total: any strategy holds a
//!   position); null for a zero span.
//! - **fees_paid** = Σ `Fill.fee` (quote); **turnover** = Σ |price × qty| of fills.
//! - **orders** = distinct client order ids seen in order updates, **order_updates** = their
//!   updates, **rejected_orders** = updates with status `REJECTED`, **risk_rejects** = risk
//!   refusals, by `risk::codes::name`.
//! - **order latency**: count, nearest-rank p50/p90/p99, min, max and a histogram on 1-2-5
//!   edges (see `latency`).

pub mod curves;
pub mod files;
pub mod html;
pub mod latency;
pub mod stats;
pub mod table;
pub mod trades;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::backtest::Recording;
use crate::core::{ClientOrderId, Notional, OrderStatus, StrategyId};
use crate::persist::payload::format_utc_ns;

pub use curves::{CurvePoint, Replay, Span, StrategyReplay};
pub use latency::{LatencyBucket, LatencySummary};
pub use stats::{PerformanceStats, ReturnPeriod};
pub use table::summary_table;
pub use trades::Trade;

use stats::{trade_stats, Activity, StatsInputs};

/// Why a recording cannot be reported on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("fill #{fill} at {ts_ns} ns has a non-positive price or quantity")]
    BadFill { fill: usize, ts_ns: u64 },
    #[error("fill #{fill} at {ts_ns} ns overflows the decimal range")]
    Overflow { fill: usize, ts_ns: u64 },
    #[error("fill #{fill} at {ts_ns} ns does not fit the position it books into")]
    Inconsistent { fill: usize, ts_ns: u64 },
}

/// One `key = value` setting of the run, in the recording's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

/// What ran, over what time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryMeta {
    pub account_asset: String,
    pub starting_equity: Notional,
    pub span_start_ns: u64,
    pub span_end_ns: u64,
    pub span_start: String,
    pub span_end: String,
    pub span_seconds: f64,
    pub inputs: Vec<String>,
    pub events: u64,
    pub symbols: Vec<String>,
    pub strategies: Vec<String>,
    pub data_repairs: BTreeMap<String, u64>,
    pub returns_period: ReturnPeriod,
    pub periods_per_year: f64,
}

/// The headline of a run: what `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSummary {
    pub meta: SummaryMeta,
    pub settings: Vec<Setting>,
    pub strategies: Vec<PerformanceStats>,
    pub total: PerformanceStats,
    pub order_latency: LatencySummary,
}

/// The summary with the replay it was computed from (trades and curves).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub summary: ReportSummary,
    pub replay: Replay,
}

/// Orders, fills and refusals of `strategy` (all strategies for `None`).
fn activity(recording: &Recording, strategy: Option<StrategyId>) -> Activity {
    let matches = |id: StrategyId| strategy.is_none_or(|s| s == id);
    let mut orders: BTreeSet<(StrategyId, ClientOrderId)> = BTreeSet::new();
    let mut activity = Activity::default();
    for record in recording
        .orders
        .iter()
        .filter(|o| matches(o.update.strategy))
    {
        orders.insert((record.update.strategy, record.update.client_order_id));
        activity.order_updates += 1;
        if record.update.status == OrderStatus::Rejected {
            activity.rejected_orders += 1;
        }
    }
    activity.orders = orders.len() as u64;
    activity.fills = recording
        .fills
        .iter()
        .filter(|f| matches(f.fill.strategy))
        .count() as u64;
    for reject in recording
        .risk_rejects
        .iter()
        .filter(|r| matches(r.strategy))
    {
        activity.risk_rejects += 1;
        *activity
            .risk_rejects_by_code
            .entry(crate::risk::codes::name(reject.code).to_string())
            .or_default() += 1;
    }
    activity
}

/// Computes the statistics, trades and curves of `recording`.
pub fn analyze(recording: &Recording) -> Result<Report, ReportError> {
    let replay = curves::replay(recording)?;
    let span = replay.span;
    let mut strategies = Vec::with_capacity(replay.strategies.len());
    for strategy in &replay.strategies {
        strategies.push(PerformanceStats::compute(StatsInputs {
            name: &strategy.name,
            strategy_id: Some(strategy.id),
            curve: &strategy.curve,
            span,
            trades: trade_stats(replay.trades.iter().filter(|t| t.strategy == strategy.id)),
            exposure_ns: strategy.exposure_ns,
            fees_paid: strategy.fees,
            turnover: strategy.turnover,
            activity: activity(recording, Some(strategy.id)),
        }));
    }
    let sum = |f: fn(&StrategyReplay) -> Notional| {
        replay
            .strategies
            .iter()
            .fold(Notional::ZERO, |acc, s| acc.saturating_add(f(s)))
    };
    let total = PerformanceStats::compute(StatsInputs {
        name: "total",
        strategy_id: None,
        curve: &replay.total_curve,
        span,
        trades: trade_stats(&replay.trades),
        exposure_ns: replay.total_exposure_ns,
        fees_paid: sum(|s| s.fees),
        turnover: sum(|s| s.turnover),
        activity: activity(recording, None),
    });
    let period = ReturnPeriod::for_span(span);
    let meta = SummaryMeta {
        account_asset: recording.account_asset.clone(),
        starting_equity: recording.starting_equity,
        span_start_ns: span.start_ns,
        span_end_ns: span.end_ns,
        span_start: format_utc_ns(span.start_ns),
        span_end: format_utc_ns(span.end_ns),
        span_seconds: span.len_ns() as f64 / 1e9,
        inputs: recording.meta.inputs.clone(),
        events: recording.meta.events,
        symbols: recording.symbols.iter().map(|s| s.name.clone()).collect(),
        strategies: replay.strategies.iter().map(|s| s.name.clone()).collect(),
        data_repairs: recording.meta.data_repairs.iter().cloned().collect(),
        returns_period: period,
        periods_per_year: period.per_year(),
    };
    let settings = recording
        .meta
        .settings
        .iter()
        .map(|(key, value)| Setting {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    Ok(Report {
        summary: ReportSummary {
            meta,
            settings,
            strategies,
            total,
            order_latency: LatencySummary::of(&recording.order_latency_ns),
        },
        replay,
    })
}

/// Names of the files [`write_reports`] writes into its directory.
pub const REPORT_FILES: [&str; 7] = [
    "summary.json",
    "trades.csv",
    "fills.csv",
    "orders.csv",
    "equity.csv",
    "stats.csv",
    "report.html",
];

/// Computes the report of `recording` and writes every file of [`REPORT_FILES`] into
/// `out_dir` (created if missing); returns the summary for the terminal table.
pub fn write_reports(recording: &Recording, out_dir: &Path) -> anyhow::Result<ReportSummary> {
    let report = analyze(recording).context("backtest report")?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("create report directory {}", out_dir.display()))?;
    let contents: [(&str, String); 7] = [
        ("summary.json", files::summary_json(&report.summary)?),
        ("trades.csv", files::trades_csv(recording, &report)),
        ("fills.csv", files::fills_csv(recording, &report)),
        ("orders.csv", files::orders_csv(recording, &report)),
        ("equity.csv", files::equity_csv(&report)),
        ("stats.csv", files::stats_csv(&report.summary)),
        ("report.html", html::report_html(recording, &report)?),
    ];
    for (name, text) in contents {
        let path = out_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(report.summary)
}

#[cfg(test)]
mod tests;
