//! Owns: the performance metrics of one equity curve and one set of trades (definitions in
//! the `report` module doc). Never: returns NaN or infinity (an undefined ratio is `None`,
//! written as `null`), or computes money in `f64` (only ratios are `f64`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::core::{Notional, StrategyId};

use super::curves::{CurvePoint, Span};
use super::trades::Trade;

const NS_PER_SECOND: u64 = 1_000_000_000;
const NS_PER_DAY: u64 = 86_400 * NS_PER_SECOND;
/// CAGR (and so Calmar) is only reported for spans at least this long.
pub const CAGR_MIN_SPAN_NS: u64 = 30 * NS_PER_DAY;
/// Spans shorter than this are resampled to 1-minute returns, longer ones to daily returns.
pub const MINUTE_RETURNS_BELOW_NS: u64 = 2 * NS_PER_DAY;
const DAYS_PER_YEAR: f64 = 365.0;

/// The grid equity returns are taken on for Sharpe and Sortino.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnPeriod {
    Minute,
    Day,
}

impl ReturnPeriod {
    /// 1-minute returns for spans under 2 days, daily returns otherwise.
    pub fn for_span(span: Span) -> Self {
        if span.len_ns() < MINUTE_RETURNS_BELOW_NS {
            ReturnPeriod::Minute
        } else {
            ReturnPeriod::Day
        }
    }
    /// Length of one period in ns.
    pub fn ns(self) -> u64 {
        match self {
            ReturnPeriod::Minute => 60 * NS_PER_SECOND,
            ReturnPeriod::Day => NS_PER_DAY,
        }
    }
    /// Periods in a 365-day year.
    pub fn per_year(self) -> f64 {
        (DAYS_PER_YEAR * NS_PER_DAY as f64) / self.ns() as f64
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnPeriod::Minute => "minute",
            ReturnPeriod::Day => "day",
        }
    }
}

/// Metrics of one strategy, or of the whole account (`strategy_id` null). The groups are
/// flattened in JSON: one object with every metric as a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceStats {
    pub name: String,
    pub strategy_id: Option<u16>,
    #[serde(flatten)]
    pub equity: CurveStats,
    #[serde(flatten)]
    pub trades: TradeStats,
    pub exposure_time: Option<f64>,
    pub exposure_ns: u64,
    pub fees_paid: Notional,
    pub turnover: Notional,
    #[serde(flatten)]
    pub activity: Activity,
}

/// What an equity curve says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveStats {
    pub starting_equity: Notional,
    pub ending_equity: Notional,
    pub pnl: Notional,
    pub total_return: Option<f64>,
    pub cagr: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub max_drawdown_amount: Notional,
    pub max_drawdown_duration_ns: u64,
    pub max_drawdown_duration_seconds: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub calmar: Option<f64>,
    pub return_samples: u64,
}

/// What a set of trades says (closed trades only, except `open_trades`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeStats {
    pub closed_trades: u64,
    pub open_trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub win_rate: Option<f64>,
    pub profit_factor: Option<f64>,
    pub average_win: Option<Notional>,
    pub average_loss: Option<Notional>,
    pub gross_profit: Notional,
    pub gross_loss: Notional,
    pub closed_trades_pnl: Notional,
}

/// `Some(x)` only for a finite `x`.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// `a / b` as a ratio; `None` when `b` is zero.
fn ratio(a: Notional, b: Notional) -> Option<f64> {
    if b.is_zero() {
        return None;
    }
    finite(a.to_f64() / b.to_f64())
}

/// Metrics of `curve` (ascending times, starting at the span start) over `span`.
pub fn curve_stats(curve: &[CurvePoint], span: Span) -> CurveStats {
    let starting_equity = curve.first().map_or(Notional::ZERO, |p| p.equity);
    let ending_equity = curve.last().map_or(Notional::ZERO, |p| p.equity);
    let pnl = ending_equity.saturating_sub(starting_equity);
    let total_return = starting_equity
        .is_positive()
        .then(|| ratio(pnl, starting_equity))
        .flatten();
    let cagr = cagr(starting_equity, ending_equity, span);
    let drawdown = max_drawdown(curve, span.end_ns);
    let returns = resampled_returns(curve, span, ReturnPeriod::for_span(span));
    let per_year = ReturnPeriod::for_span(span).per_year();
    let calmar = match (cagr, drawdown.fraction) {
        (Some(cagr), Some(dd)) if dd > 0.0 => finite(cagr / dd),
        _ => None,
    };
    CurveStats {
        starting_equity,
        ending_equity,
        pnl,
        total_return,
        cagr,
        max_drawdown: drawdown.fraction,
        max_drawdown_amount: drawdown.amount,
        max_drawdown_duration_ns: drawdown.longest_ns,
        max_drawdown_duration_seconds: drawdown.longest_ns as f64 / NS_PER_SECOND as f64,
        sharpe: returns.as_deref().and_then(|r| sharpe(r, per_year)),
        sortino: returns.as_deref().and_then(|r| sortino(r, per_year)),
        calmar,
        return_samples: returns.map_or(0, |r| r.len() as u64),
    }
}

/// Compound annual growth over `span`; `None` under 30 days or for non-positive equity.
pub fn cagr(start: Notional, end: Notional, span: Span) -> Option<f64> {
    if span.len_ns() < CAGR_MIN_SPAN_NS || !start.is_positive() || !end.is_positive() {
        return None;
    }
    let years = span.len_ns() as f64 / NS_PER_DAY as f64 / DAYS_PER_YEAR;
    finite((end.to_f64() / start.to_f64()).powf(1.0 / years) - 1.0)
}

/// The deepest fall below a running peak and the longest time below a peak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawdown {
    /// (peak − equity) / peak at its largest; `None` when no peak was positive.
    pub fraction: Option<f64>,
    /// peak − equity at its largest, exact.
    pub amount: Notional,
    /// Longest time from a peak to the first point back at or above it (or to `end_ns`).
    pub longest_ns: u64,
}

/// Drawdown of `curve`, an unrecovered one lasting until `end_ns`.
pub fn max_drawdown(curve: &[CurvePoint], end_ns: u64) -> Drawdown {
    let Some(first) = curve.first() else {
        return Drawdown {
            fraction: None,
            amount: Notional::ZERO,
            longest_ns: 0,
        };
    };
    let (mut peak, mut peak_ts) = (first.equity, first.ts_ns);
    let mut fraction: Option<f64> = None;
    let mut amount = Notional::ZERO;
    let mut longest_ns = 0;
    let mut below_peak = false;
    for point in curve {
        if point.equity >= peak {
            if below_peak {
                longest_ns = longest_ns.max(point.ts_ns.saturating_sub(peak_ts));
            }
            peak = point.equity;
            peak_ts = point.ts_ns;
            below_peak = false;
            continue;
        }
        below_peak = true;
        let fall = peak.saturating_sub(point.equity);
        amount = amount.max(fall);
        if peak.is_positive() {
            let depth = ratio(fall, peak);
            fraction = match (fraction, depth) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    if below_peak {
        longest_ns = longest_ns.max(end_ns.saturating_sub(peak_ts));
    }
    if fraction.is_none() && curve.iter().any(|p| p.equity.is_positive()) {
        fraction = Some(0.0);
    }
    Drawdown {
        fraction,
        amount,
        longest_ns,
    }
}

/// Simple returns between equity read on a fixed grid (span start + k periods, the last
/// point at or before each grid time); `None` when equity at a grid time is not positive.
pub fn resampled_returns(
    curve: &[CurvePoint],
    span: Span,
    period: ReturnPeriod,
) -> Option<Vec<f64>> {
    let step = period.ns();
    let steps = span.len_ns() / step;
    let mut returns = Vec::with_capacity(steps as usize);
    let mut next = 0;
    let mut value_at = |t: u64| {
        while next < curve.len() && curve[next].ts_ns <= t {
            next += 1;
        }
        Some(curve[next.checked_sub(1)?].equity)
    };
    let mut previous = value_at(span.start_ns)?;
    for k in 1..=steps {
        let value = value_at(span.start_ns + k * step)?;
        if !previous.is_positive() {
            return None;
        }
        returns.push(ratio(value.saturating_sub(previous), previous)?);
        previous = value;
    }
    Some(returns)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// mean / sample standard deviation × √periods_per_year; `None` with fewer than 2 returns
/// or zero variance.
pub fn sharpe(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let m = mean(returns);
    let variance =
        returns.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (returns.len() - 1) as f64;
    if variance <= 0.0 {
        return None;
    }
    finite(m / variance.sqrt() * periods_per_year.sqrt())
}

/// mean / downside deviation × √periods_per_year, downside deviation = √(Σ min(r, 0)² / n);
/// `None` with fewer than 2 returns or no negative return.
pub fn sortino(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let downside =
        returns.iter().map(|r| r.min(0.0) * r.min(0.0)).sum::<f64>() / returns.len() as f64;
    if downside <= 0.0 {
        return None;
    }
    finite(mean(returns) / downside.sqrt() * periods_per_year.sqrt())
}

/// Win/loss figures of the closed trades among `trades`.
pub fn trade_stats<'a>(trades: impl IntoIterator<Item = &'a Trade>) -> TradeStats {
    let mut stats = TradeStats {
        closed_trades: 0,
        open_trades: 0,
        wins: 0,
        losses: 0,
        win_rate: None,
        profit_factor: None,
        average_win: None,
        average_loss: None,
        gross_profit: Notional::ZERO,
        gross_loss: Notional::ZERO,
        closed_trades_pnl: Notional::ZERO,
    };
    for trade in trades {
        if !trade.is_closed() {
            stats.open_trades += 1;
            continue;
        }
        stats.closed_trades += 1;
        let net = trade.net_pnl();
        stats.closed_trades_pnl = stats.closed_trades_pnl.saturating_add(net);
        if net.is_positive() {
            stats.wins += 1;
            stats.gross_profit = stats.gross_profit.saturating_add(net);
        } else if !net.is_zero() {
            stats.losses += 1;
            stats.gross_loss = stats.gross_loss.saturating_add(net.abs());
        }
    }
    if stats.closed_trades > 0 {
        stats.win_rate = finite(stats.wins as f64 / stats.closed_trades as f64);
    }
    if stats.losses > 0 {
        stats.profit_factor = ratio(stats.gross_profit, stats.gross_loss);
        stats.average_loss = Some(Notional::from_raw(
            -(stats.gross_loss.raw() / i128::from(stats.losses)),
        ));
    }
    if stats.wins > 0 {
        stats.average_win = Some(Notional::from_raw(
            stats.gross_profit.raw() / i128::from(stats.wins),
        ));
    }
    stats
}

/// Orders, fills and refusals of one strategy (or all).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Activity {
    pub orders: u64,
    pub order_updates: u64,
    pub rejected_orders: u64,
    pub fills: u64,
    pub risk_rejects: u64,
    pub risk_rejects_by_code: BTreeMap<String, u64>,
}

/// The parts a `PerformanceStats` is made of.
pub struct StatsInputs<'a> {
    pub name: &'a str,
    pub strategy_id: Option<StrategyId>,
    pub curve: &'a [CurvePoint],
    pub span: Span,
    pub trades: TradeStats,
    pub exposure_ns: u64,
    pub fees_paid: Notional,
    pub turnover: Notional,
    pub activity: Activity,
}

impl PerformanceStats {
    /// Computes every metric from its inputs.
    pub fn compute(inputs: StatsInputs<'_>) -> Self {
        let span_ns = inputs.span.len_ns();
        Self {
            name: inputs.name.to_string(),
            strategy_id: inputs.strategy_id.map(|id| id.0),
            equity: curve_stats(inputs.curve, inputs.span),
            trades: inputs.trades,
            exposure_time: (span_ns > 0)
                .then(|| finite(inputs.exposure_ns as f64 / span_ns as f64))
                .flatten(),
            exposure_ns: inputs.exposure_ns,
            fees_paid: inputs.fees_paid,
            turnover: inputs.turnover,
            activity: inputs.activity,
        }
    }
}
