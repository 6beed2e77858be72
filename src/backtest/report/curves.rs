//! Owns: the replay of a `Recording` into what the statistics are computed from — the run's
//! span, the trades, each strategy's equity curve, exposure time, fees and turnover, and the
//! total equity curve. Never: computes ratios (`stats` does) or reorders anything in a way
//! that depends on more than the recording (ties keep recording order).
//!
//! A strategy's equity at time t is the account's starting equity plus that strategy's
//! realized PnL minus its fees plus the unrealized PnL of its open positions, each valued at
//! the symbol's last known price at or before t: the latest mark or the latest fill price of
//! that symbol, whichever came later (a fill at the same time as a mark wins). The curve has
//! a point at the span start (the starting equity) and one at every distinct time of a mark,
//! an equity sample or a fill.
//!
//! The total curve is the recording's own equity samples after a starting point (the span
//! start, the starting equity). In both, a point equal to the one before it (same time,
//! same equity) is kept once.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::{Notional, Price, StrategyId, SymbolId};

use super::trades::{Trade, TradeBuilder};
use super::ReportError;
use crate::backtest::Recording;

/// Equity at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurvePoint {
    pub ts_ns: u64,
    pub equity: Notional,
}

/// The time the run covers, ns since the UTC epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Span {
    /// Length in ns.
    pub fn len_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// The run's first and last event times when the recording has them, widened to every
    /// recorded timestamp (an empty recording spans nothing at 0).
    pub fn of(recording: &Recording) -> Self {
        let meta = &recording.meta;
        let has_meta = meta.last_event_ns > 0;
        let mut times = recording
            .equity
            .iter()
            .map(|s| s.ts_ns)
            .chain(recording.marks.iter().map(|m| m.ts_ns))
            .chain(recording.fills.iter().map(|f| f.ts_ns))
            .chain(recording.orders.iter().map(|o| o.ts_ns))
            .chain(recording.risk_rejects.iter().map(|r| r.ts_ns));
        let (mut start, mut end) = match (has_meta, times.next()) {
            (true, _) => (meta.first_event_ns, meta.last_event_ns),
            (false, Some(first)) => (first, first),
            (false, None) => return Span::default(),
        };
        for ts in times {
            start = start.min(ts);
            end = end.max(ts);
        }
        Span {
            start_ns: start,
            end_ns: end.max(start),
        }
    }
}

/// One strategy's share of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyReplay {
    pub id: StrategyId,
    pub name: String,
    pub curve: Vec<CurvePoint>,
    /// Time with a non-zero position on at least one symbol.
    pub exposure_ns: u64,
    pub fees: Notional,
    /// Σ |price × qty| of its fills.
    pub turnover: Notional,
    pub fills: u64,
}

/// Everything the statistics need, replayed from a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub span: Span,
    /// In the recording's strategy order, then strategies only seen in the data, by id.
    pub strategies: Vec<StrategyReplay>,
    pub total_curve: Vec<CurvePoint>,
    /// Time any strategy held a non-zero position.
    pub total_exposure_ns: u64,
    /// Every trade, in the order they opened.
    pub trades: Vec<Trade>,
}

/// Tracks time spent with at least one open position.
#[derive(Debug, Default, Clone, Copy)]
struct Exposure {
    open_positions: u32,
    since_ns: u64,
    total_ns: u64,
}

impl Exposure {
    fn on_change(&mut self, ts_ns: u64, was_flat: bool, is_flat: bool) {
        match (was_flat, is_flat) {
            (true, false) => {
                if self.open_positions == 0 {
                    self.since_ns = ts_ns;
                }
                self.open_positions += 1;
            }
            (false, true) => {
                self.open_positions = self.open_positions.saturating_sub(1);
                if self.open_positions == 0 {
                    self.total_ns += ts_ns.saturating_sub(self.since_ns);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end_ns: u64) -> u64 {
        if self.open_positions > 0 {
            self.total_ns += end_ns.saturating_sub(self.since_ns);
        }
        self.total_ns
    }
}

/// Appends `point` unless it repeats the last point (same time, same equity).
fn push_point(curve: &mut Vec<CurvePoint>, point: CurvePoint) {
    if curve.last() != Some(&point) {
        curve.push(point);
    }
}

/// The strategies of a recording: its own list, then ids only met in orders, fills or risk
/// refusals (named `strategy-<id>`), ascending.
pub fn strategy_names(recording: &Recording) -> Vec<(StrategyId, String)> {
    let mut names: Vec<(StrategyId, String)> = recording
        .strategies
        .iter()
        .map(|s| (s.id, s.name.clone()))
        .collect();
    let known: BTreeSet<StrategyId> = names.iter().map(|(id, _)| *id).collect();
    let seen: BTreeSet<StrategyId> = recording
        .fills
        .iter()
        .map(|f| f.fill.strategy)
        .chain(recording.orders.iter().map(|o| o.update.strategy))
        .chain(recording.risk_rejects.iter().map(|r| r.strategy))
        .filter(|id| !known.contains(id))
        .collect();
    names.extend(
        seen.into_iter()
            .map(|id| (id, format!("strategy-{}", id.0))),
    );
    names
}

/// Replays `recording` into trades, curves and exposure.
pub fn replay(recording: &Recording) -> Result<Replay, ReportError> {
    let span = Span::of(recording);
    let names = strategy_names(recording);
    let slot_of: BTreeMap<StrategyId, usize> = names
        .iter()
        .enumerate()
        .map(|(slot, (id, _))| (*id, slot))
        .collect();
    let start_point = CurvePoint {
        ts_ns: span.start_ns,
        equity: recording.starting_equity,
    };
    let mut strategies: Vec<StrategyReplay> = names
        .into_iter()
        .map(|(id, name)| StrategyReplay {
            id,
            name,
            curve: vec![start_point],
            exposure_ns: 0,
            fees: Notional::ZERO,
            turnover: Notional::ZERO,
            fills: 0,
        })
        .collect();
    let mut realized_net = vec![Notional::ZERO; strategies.len()];
    let mut exposures = vec![Exposure::default(); strategies.len()];
    let mut total_exposure = Exposure::default();

    // Stable: fills at the same time keep recording order.
    let mut fill_order: Vec<usize> = (0..recording.fills.len()).collect();
    fill_order.sort_by_key(|&i| recording.fills[i].ts_ns);
    let mut mark_order: Vec<usize> = (0..recording.marks.len()).collect();
    mark_order.sort_by_key(|&i| recording.marks[i].ts_ns);
    let times: BTreeSet<u64> = recording
        .equity
        .iter()
        .map(|s| s.ts_ns)
        .chain(recording.marks.iter().map(|m| m.ts_ns))
        .chain(recording.fills.iter().map(|f| f.ts_ns))
        .collect();

    let mut builder = TradeBuilder::new();
    let mut last_price: BTreeMap<SymbolId, Price> = BTreeMap::new();
    let (mut next_fill, mut next_mark) = (0, 0);
    for &t in &times {
        while let Some(&i) = mark_order.get(next_mark) {
            let mark = &recording.marks[i];
            if mark.ts_ns > t {
                break;
            }
            last_price.insert(mark.symbol, mark.price);
            next_mark += 1;
        }
        while let Some(&i) = fill_order.get(next_fill) {
            let record = &recording.fills[i];
            if record.ts_ns > t {
                break;
            }
            let fill = &record.fill;
            let booked = builder.on_fill(i, record.ts_ns, fill)?;
            last_price.insert(fill.symbol, fill.price);
            // Every fill's strategy is in `strategy_names`; the error only guards the lookup.
            let slot = *slot_of
                .get(&fill.strategy)
                .ok_or(ReportError::Inconsistent {
                    fill: i,
                    ts_ns: record.ts_ns,
                })?;
            let overflow = ReportError::Overflow {
                fill: i,
                ts_ns: record.ts_ns,
            };
            let strategy = &mut strategies[slot];
            strategy.fees = strategy.fees.checked_add(fill.fee).ok_or(overflow)?;
            strategy.turnover = strategy
                .turnover
                .checked_add(booked.notional)
                .ok_or(overflow)?;
            strategy.fills += 1;
            realized_net[slot] = realized_net[slot]
                .checked_add(booked.realized)
                .and_then(|v| v.checked_sub(fill.fee))
                .ok_or(overflow)?;
            exposures[slot].on_change(record.ts_ns, booked.was_flat, booked.is_flat);
            total_exposure.on_change(record.ts_ns, booked.was_flat, booked.is_flat);
            next_fill += 1;
        }
        for (slot, strategy) in strategies.iter_mut().enumerate() {
            let mut equity = recording.starting_equity.saturating_add(realized_net[slot]);
            for (symbol, position) in builder.positions_of(strategy.id) {
                if let Some(&price) = last_price.get(&symbol) {
                    equity = equity.saturating_add(position.unrealized_pnl(price));
                }
            }
            push_point(&mut strategy.curve, CurvePoint { ts_ns: t, equity });
        }
    }
    for (strategy, exposure) in strategies.iter_mut().zip(exposures.iter_mut()) {
        strategy.exposure_ns = exposure.finish(span.end_ns);
    }
    let total_exposure_ns = total_exposure.finish(span.end_ns);

    let mut samples: Vec<CurvePoint> = recording
        .equity
        .iter()
        .map(|s| CurvePoint {
            ts_ns: s.ts_ns,
            equity: s.equity,
        })
        .collect();
    samples.sort_by_key(|p| p.ts_ns);
    let mut total_curve = Vec::with_capacity(samples.len() + 1);
    total_curve.push(start_point);
    for point in samples {
        push_point(&mut total_curve, point);
    }

    Ok(Replay {
        span,
        strategies,
        total_curve,
        total_exposure_ns,
        trades: builder.into_trades(),
    })
}
