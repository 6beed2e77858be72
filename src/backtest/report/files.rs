//! Owns: the text of the JSON and CSV report files. Never: reads the clock or the file
//! system; every byte comes from the recording and the report computed from it.
//!
//! CSV: comma-separated, a header row, `\n` line ends, fields with a comma, quote or line
//! break quoted (RFC 4180); times both as ns since the UTC epoch and as ISO-8601 UTC; money
//! and prices as exact decimal text; ratios in Rust's shortest round-trip form; an
//! undefined value is an empty field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::backtest::Recording;
use crate::core::{Notional, StrategyId, SymbolId};
use crate::persist::payload::format_utc_ns;

use super::stats::PerformanceStats;
use super::{Report, ReportSummary};

/// Names for ids in the files.
pub(super) struct Names {
    strategies: BTreeMap<StrategyId, String>,
    symbols: BTreeMap<SymbolId, String>,
}

impl Names {
    pub(super) fn new(recording: &Recording, report: &Report) -> Self {
        Self {
            strategies: report
                .replay
                .strategies
                .iter()
                .map(|s| (s.id, s.name.clone()))
                .collect(),
            symbols: recording
                .symbols
                .iter()
                .map(|s| (s.id, s.name.clone()))
                .collect(),
        }
    }

    pub(super) fn strategy(&self, id: StrategyId) -> String {
        self.strategies
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("strategy-{}", id.0))
    }

    pub(super) fn symbol(&self, id: SymbolId) -> String {
        self.symbols
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("symbol-{}", id.0))
    }
}

/// One CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Appends one CSV row.
fn row(out: &mut String, fields: &[String]) {
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(value));
    }
    out.push('\n');
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `summary.json`: the summary, pretty-printed, with a final line break.
pub fn summary_json(summary: &ReportSummary) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(summary)?;
    text.push('\n');
    Ok(text)
}

/// `trades.csv`: one row per trade, in the order they opened.
pub fn trades_csv(recording: &Recording, report: &Report) -> String {
    let names = Names::new(recording, report);
    let mut out = String::new();
    out.push_str(
        "trade_id,strategy,symbol,direction,status,open_time_ns,open_time,close_time_ns,\
         close_time,holding_seconds,entry_qty,avg_entry_price,exit_qty,avg_exit_price,fills,\
         gross_pnl,fees,net_pnl\n",
    );
    for trade in &report.replay.trades {
        let holding = trade
            .close_ts_ns
            .map(|close| close.saturating_sub(trade.open_ts_ns) as f64 / 1e9);
        row(
            &mut out,
            &[
                trade.id.to_string(),
                names.strategy(trade.strategy),
                names.symbol(trade.symbol),
                if trade.direction == crate::core::Side::Buy {
                    "LONG".into()
                } else {
                    "SHORT".into()
                },
                if trade.is_closed() { "closed" } else { "open" }.into(),
                trade.open_ts_ns.to_string(),
                format_utc_ns(trade.open_ts_ns),
                opt(trade.close_ts_ns),
                opt(trade.close_ts_ns.map(format_utc_ns)),
                opt(holding),
                trade.entry_qty.to_string(),
                opt(trade.avg_entry_price()),
                trade.exit_qty.to_string(),
                opt(trade.avg_exit_price()),
                trade.fills.to_string(),
                trade.gross_pnl.to_string(),
                trade.fees.to_string(),
                trade.net_pnl().to_string(),
            ],
        );
    }
    out
}

/// `fills.csv`: every fill in recording order.
pub fn fills_csv(recording: &Recording, report: &Report) -> String {
    let names = Names::new(recording, report);
    let mut out = String::new();
    out.push_str(
        "time_ns,time,strategy,symbol,side,price,qty,notional,fee,is_maker,client_order_id,\
         venue_trade_id\n",
    );
    for record in &recording.fills {
        let fill = &record.fill;
        row(
            &mut out,
            &[
                record.ts_ns.to_string(),
                format_utc_ns(record.ts_ns),
                names.strategy(fill.strategy),
                names.symbol(fill.symbol),
                fill.side.as_str().into(),
                fill.price.to_string(),
                fill.qty.to_string(),
                opt(fill.price.notional(fill.qty)),
                fill.fee.to_string(),
                fill.is_maker.to_string(),
                fill.client_order_id.to_string(),
                fill.venue_trade_id.to_string(),
            ],
        );
    }
    out
}

/// A reject code's name: the risk rails' for 300–499, the order manager's otherwise.
fn reject_name(code: u16) -> &'static str {
    match code {
        300..=499 => crate::risk::codes::name(code),
        _ => crate::oms::reject::name(code),
    }
}

/// `orders.csv`: every order update in recording order.
pub fn orders_csv(recording: &Recording, report: &Report) -> String {
    let names = Names::new(recording, report);
    let mut out = String::new();
    out.push_str(
        "time_ns,time,strategy,symbol,client_order_id,venue_order_id,side,order_type,\
         time_in_force,role,reduce_only,status,price,trigger_price,qty,filled_qty,reject_code,\
         reject_name,parent\n",
    );
    for record in &recording.orders {
        let update = &record.update;
        let parent = if update.parent.0 == 0 {
            String::new()
        } else {
            update.parent.to_string()
        };
        row(
            &mut out,
            &[
                record.ts_ns.to_string(),
                format_utc_ns(record.ts_ns),
                names.strategy(update.strategy),
                names.symbol(update.symbol),
                update.client_order_id.to_string(),
                update.venue_order_id.to_string(),
                update.side.as_str().into(),
                update.order_type.as_str().into(),
                update.time_in_force.as_str().into(),
                update.role.as_str().into(),
                update.reduce_only.to_string(),
                update.status.as_str().into(),
                update.price.to_string(),
                update.trigger_price.to_string(),
                update.qty.to_string(),
                update.filled_qty.to_string(),
                update.reject_code.to_string(),
                if update.reject_code == 0 {
                    String::new()
                } else {
                    reject_name(update.reject_code).into()
                },
                parent,
            ],
        );
    }
    out
}

/// Drawdown below the running peak, as a fraction of it, for each point (0 at a peak;
/// empty when the peak is not positive).
pub(super) fn drawdowns(curve: &[super::CurvePoint]) -> Vec<Option<f64>> {
    let mut peak: Option<Notional> = None;
    curve
        .iter()
        .map(|point| {
            let top = peak.map_or(point.equity, |p| p.max(point.equity));
            peak = Some(top);
            top.is_positive().then(|| {
                let fall = top.saturating_sub(point.equity);
                fall.to_f64() / top.to_f64()
            })
        })
        .collect()
}

/// `equity.csv`: the total curve, then each strategy's, one row per point.
pub fn equity_csv(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("series,time_ns,time,equity,drawdown\n");
    let series = std::iter::once(("total", &report.replay.total_curve)).chain(
        report
            .replay
            .strategies
            .iter()
            .map(|s| (s.name.as_str(), &s.curve)),
    );
    for (name, curve) in series {
        for (point, drawdown) in curve.iter().zip(drawdowns(curve)) {
            row(
                &mut out,
                &[
                    name.to_string(),
                    point.ts_ns.to_string(),
                    format_utc_ns(point.ts_ns),
                    point.equity.to_string(),
                    opt(drawdown),
                ],
            );
        }
    }
    out
}

/// `stats.csv`: one row per strategy, then the total.
pub fn stats_csv(summary: &ReportSummary) -> String {
    let mut out = String::new();
    out.push_str(
        "name,strategy_id,starting_equity,ending_equity,pnl,total_return,cagr,max_drawdown,\
         max_drawdown_amount,max_drawdown_duration_seconds,sharpe,sortino,calmar,\
         return_samples,closed_trades,open_trades,wins,losses,win_rate,profit_factor,average_win,\
         average_loss,gross_profit,gross_loss,closed_trades_pnl,exposure_time,fees_paid,\
         turnover,orders,order_updates,rejected_orders,fills,risk_rejects,risk_rejects_by_code\n",
    );
    for stats in summary.strategies.iter().chain([&summary.total]) {
        row(&mut out, &stats_fields(stats));
    }
    out
}

fn stats_fields(s: &PerformanceStats) -> Vec<String> {
    let mut by_code = String::new();
    for (i, (name, count)) in s.activity.risk_rejects_by_code.iter().enumerate() {
        let separator = if i > 0 { ";" } else { "" };
        // Writing to a String cannot fail.
        let _ = write!(by_code, "{separator}{name}={count}");
    }
    vec![
        s.name.clone(),
        opt(s.strategy_id),
        s.equity.starting_equity.to_string(),
        s.equity.ending_equity.to_string(),
        s.equity.pnl.to_string(),
        opt(s.equity.total_return),
        opt(s.equity.cagr),
        opt(s.equity.max_drawdown),
        s.equity.max_drawdown_amount.to_string(),
        s.equity.max_drawdown_duration_seconds.to_string(),
        opt(s.equity.sharpe),
        opt(s.equity.sortino),
        opt(s.equity.calmar),
        s.equity.return_samples.to_string(),
        s.trades.closed_trades.to_string(),
        s.trades.open_trades.to_string(),
        s.trades.wins.to_string(),
        s.trades.losses.to_string(),
        opt(s.trades.win_rate),
        opt(s.trades.profit_factor),
        opt(s.trades.average_win),
        opt(s.trades.average_loss),
        s.trades.gross_profit.to_string(),
        s.trades.gross_loss.to_string(),
        s.trades.closed_trades_pnl.to_string(),
        opt(s.exposure_time),
        s.fees_paid.to_string(),
        s.turnover.to_string(),
        s.activity.orders.to_string(),
        s.activity.order_updates.to_string(),
        s.activity.rejected_orders.to_string(),
        s.activity.fills.to_string(),
        s.activity.risk_rejects.to_string(),
        by_code,
    ]
}
