//! Owns: the terminal summary of a backtest — one row per strategy and one for the total,
//! columns aligned. Never: prints (the caller does) or shows money with more than two
//! decimals (the files carry the exact values).

use crate::core::decimal::MAX_TEXT_LEN;
use crate::core::Notional;

use super::stats::PerformanceStats;
use super::ReportSummary;

const HEADERS: [&str; 12] = [
    "strategy", "pnl", "return", "max_dd", "dd_time", "sharpe", "sortino", "trades", "win_rate",
    "pf", "fees", "exposure",
];

fn money(value: Notional) -> String {
    let mut buf = [0u8; MAX_TEXT_LEN];
    let n = value.write_with_decimals(2, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
}

fn plain(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2}"))
}

/// Seconds as `1h02m03s`, `4m05s` or `6s`.
fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

fn cells(stats: &PerformanceStats) -> [String; 12] {
    [
        stats.name.clone(),
        money(stats.equity.pnl),
        percent(stats.equity.total_return),
        percent(stats.equity.max_drawdown),
        duration(stats.equity.max_drawdown_duration_seconds),
        plain(stats.equity.sharpe),
        plain(stats.equity.sortino),
        stats.trades.closed_trades.to_string(),
        percent(stats.trades.win_rate),
        plain(stats.trades.profit_factor),
        money(stats.fees_paid),
        percent(stats.exposure_time),
    ]
}

/// The summary as an aligned text table (first column left-aligned, the rest right), a
/// rule under the header and above the total, each line ending in `\n`.
pub fn summary_table(summary: &ReportSummary) -> String {
    let mut rows: Vec<[String; 12]> = vec![HEADERS.map(String::from)];
    rows.extend(summary.strategies.iter().map(cells));
    rows.push(cells(&summary.total));
    let mut widths = [0usize; 12];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let rule: String = {
        let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        "-".repeat(total)
    };
    let last = rows.len() - 1;
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        if index == last {
            out.push_str(&rule);
            out.push('\n');
        }
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths.iter()).enumerate() {
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if index == 0 {
            out.push_str(&rule);
            out.push('\n');
        }
    }
    out
}
