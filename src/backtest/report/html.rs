//! Owns: `report.html`, one self-contained page — inline CSS (`page.css`), the plot renderer
//! (`page.js`, vanilla JS on `<canvas>`) and the plotted data as embedded JSON; no external
//! reference of any kind, so it opens offline. Never: embeds unbounded series (each is
//! decimated to at most [`MAX_SERIES_POINTS`] points) or anything not derived from the
//! recording.
//!
//! The page reports its own health for automated checks: a hook in `<head>` writes every
//! uncaught error and `console.error` into `#report-errors`; each plot canvas gets
//! `data-points` (points drawn) and `<body>` gets `data-rendered="1"` once all are drawn.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::backtest::Recording;
use crate::core::{Notional, Side, SymbolId};
use crate::persist::payload::format_utc_ns;

use super::files::{drawdowns, Names};
use super::stats::PerformanceStats;
use super::Report;

/// Largest number of points a plotted series keeps.
pub const MAX_SERIES_POINTS: usize = 5_000;
/// Largest number of trades listed in the page (all of them are in `trades.csv`).
pub const MAX_TABLE_TRADES: usize = 500;

const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");
const HEALTH_HOOK_JS: &str = r#"(function () {
  function record(text) {
    var box = document.getElementById("report-errors");
    if (box) { box.textContent += text + "\n"; } else { window.__reportErrors = (window.__reportErrors || "") + text + "\n"; }
  }
  window.onerror = function (message, source, line) { record("error: " + message + " (line " + line + ")"); };
  var original = console.error;
  console.error = function () { record("console.error: " + Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); };
  document.addEventListener("DOMContentLoaded", function () { if (window.__reportErrors) { record(window.__reportErrors); } });
})();"#;

/// Keeps at most `max` points of `points` (ascending time): when there are more, the
/// series is cut into `max / 2` runs of consecutive points and each run keeps its lowest
/// and highest point, in time order, so spikes survive.
pub fn decimate(points: &[(u64, f64)], max: usize) -> Vec<(u64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let mut kept = Vec::with_capacity(max);
    for bucket in 0..buckets {
        let from = bucket * points.len() / buckets;
        let to = (bucket + 1) * points.len() / buckets;
        let run = &points[from..to];
        let (mut low, mut high) = (0, 0);
        for (i, point) in run.iter().enumerate() {
            if point.1 < run[low].1 {
                low = i;
            }
            if point.1 > run[high].1 {
                high = i;
            }
        }
        let (first, second) = (low.min(high), low.max(high));
        kept.push(run[first]);
        if second != first {
            kept.push(run[second]);
        }
    }
    kept
}

/// Keeps every k-th marker so at most `max` remain (k = ⌈n / max⌉).
fn thin<T: Copy>(items: &[T], max: usize) -> Vec<T> {
    let stride = items.len().div_ceil(max.max(1)).max(1);
    items.iter().step_by(stride).copied().collect()
}

#[derive(Serialize, Default)]
struct Points {
    /// ms since the UTC epoch.
    t: Vec<u64>,
    v: Vec<f64>,
}

impl Points {
    fn from_pairs(pairs: &[(u64, f64)]) -> Self {
        Self {
            t: pairs.iter().map(|p| p.0 / 1_000_000).collect(),
            v: pairs.iter().map(|p| p.1).collect(),
        }
    }
}

#[derive(Serialize)]
struct Series {
    name: String,
    #[serde(flatten)]
    points: Points,
}

#[derive(Serialize)]
struct PriceSeries {
    symbol: String,
    #[serde(flatten)]
    line: Points,
    buys: Points,
    sells: Points,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    count: u64,
}

#[derive(Serialize)]
struct PageData {
    asset: String,
    equity: Vec<Series>,
    drawdown: Vec<Series>,
    prices: Vec<PriceSeries>,
    latency: Vec<Bar>,
}

/// A duration in ns as short text (`250ns`, `1.5µs`, `2ms`, `10s`).
fn duration_label(ns: u64) -> String {
    let (value, unit) = match ns {
        0..=999 => return format!("{ns}ns"),
        1_000..=999_999 => (ns as f64 / 1e3, "µs"),
        1_000_000..=999_999_999 => (ns as f64 / 1e6, "ms"),
        _ => (ns as f64 / 1e9, "s"),
    };
    let text = format!("{value:.3}");
    format!("{}{unit}", text.trim_end_matches('0').trim_end_matches('.'))
}

/// UTC time as `YYYY-MM-DD HH:MM:SS.mmm` for tables.
fn short_time(ns: u64) -> String {
    let full = format_utc_ns(ns);
    // `format_utc_ns` writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: ASCII, fixed width.
    match (full.get(..10), full.get(11..23)) {
        (Some(date), Some(time)) => format!("{date} {time}"),
        _ => full,
    }
}

/// A decimal cut to at most six decimals (truncated), trailing zeros dropped, for tables.
fn short_decimal(raw: i128) -> String {
    let mut buf = [0u8; crate::core::decimal::MAX_TEXT_LEN];
    let n = crate::core::decimal::write_raw_with_decimals(raw, Some(6), &mut buf);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn page_data(recording: &Recording, report: &Report, names: &Names) -> PageData {
    let replay = &report.replay;
    let curves = std::iter::once(("total".to_string(), &replay.total_curve))
        .chain(replay.strategies.iter().map(|s| (s.name.clone(), &s.curve)));
    let mut equity = Vec::new();
    let mut drawdown = Vec::new();
    for (name, curve) in curves {
        let values: Vec<(u64, f64)> = curve.iter().map(|p| (p.ts_ns, p.equity.to_f64())).collect();
        let falls: Vec<(u64, f64)> = curve
            .iter()
            .zip(drawdowns(curve))
            .filter_map(|(p, dd)| dd.map(|dd| (p.ts_ns, -100.0 * dd)))
            .collect();
        equity.push(Series {
            name: name.clone(),
            points: Points::from_pairs(&decimate(&values, MAX_SERIES_POINTS)),
        });
        drawdown.push(Series {
            name,
            points: Points::from_pairs(&decimate(&falls, MAX_SERIES_POINTS)),
        });
    }

    let mut symbols: Vec<SymbolId> = recording.symbols.iter().map(|s| s.id).collect();
    for id in recording
        .fills
        .iter()
        .map(|f| f.fill.symbol)
        .chain(recording.marks.iter().map(|m| m.symbol))
    {
        if !symbols.contains(&id) {
            symbols.push(id);
        }
    }
    let mut marks: BTreeMap<SymbolId, Vec<(u64, f64)>> = BTreeMap::new();
    for mark in &recording.marks {
        marks
            .entry(mark.symbol)
            .or_default()
            .push((mark.ts_ns, mark.price.to_f64()));
    }
    let prices = symbols
        .iter()
        .map(|&symbol| {
            let mut line = marks.remove(&symbol).unwrap_or_default();
            line.sort_by_key(|p| p.0);
            let side_points = |side: Side| {
                let pairs: Vec<(u64, f64)> = recording
                    .fills
                    .iter()
                    .filter(|f| f.fill.symbol == symbol && f.fill.side == side)
                    .map(|f| (f.ts_ns, f.fill.price.to_f64()))
                    .collect();
                Points::from_pairs(&thin(&pairs, MAX_SERIES_POINTS))
            };
            PriceSeries {
                symbol: names.symbol(symbol),
                line: Points::from_pairs(&decimate(&line, MAX_SERIES_POINTS)),
                buys: side_points(Side::Buy),
                sells: side_points(Side::Sell),
            }
        })
        .collect();
    let latency = report
        .summary
        .order_latency
        .histogram
        .iter()
        .map(|bucket| Bar {
            label: match bucket.to_ns {
                Some(_) => duration_label(bucket.from_ns),
                None => format!("≥{}", duration_label(bucket.from_ns)),
            },
            count: bucket.count,
        })
        .collect();
    PageData {
        asset: recording.account_asset.clone(),
        equity,
        drawdown,
        prices,
        latency,
    }
}

/// Text safe inside HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn ratio_cell(value: Option<f64>, percent: bool) -> String {
    match value {
        None => "–".into(),
        Some(v) if percent => format!("{:.2}%", v * 100.0),
        Some(v) => format!("{v:.3}"),
    }
}

/// A money cell with two decimals (the exact values are in the JSON and CSV files).
fn money_cell(value: Notional) -> String {
    let mut buf = [0u8; crate::core::decimal::MAX_TEXT_LEN];
    let n = value.write_with_decimals(2, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn sign_class(value: Notional) -> &'static str {
    if value.is_positive() {
        "pos"
    } else if value.is_zero() {
        ""
    } else {
        "neg"
    }
}

type StatRow = (&'static str, fn(&PerformanceStats) -> String);

fn stats_rows() -> Vec<StatRow> {
    vec![
        ("PnL", |s| money_cell(s.equity.pnl)),
        ("Ending equity", |s| money_cell(s.equity.ending_equity)),
        ("Total return", |s| ratio_cell(s.equity.total_return, true)),
        ("CAGR (span ≥ 30 days)", |s| {
            ratio_cell(s.equity.cagr, true)
        }),
        ("Max drawdown", |s| ratio_cell(s.equity.max_drawdown, true)),
        ("Max drawdown amount", |s| {
            money_cell(s.equity.max_drawdown_amount)
        }),
        ("Longest drawdown (s)", |s| {
            format!("{:.0}", s.equity.max_drawdown_duration_seconds)
        }),
        ("Sharpe", |s| ratio_cell(s.equity.sharpe, false)),
        ("Sortino", |s| ratio_cell(s.equity.sortino, false)),
        ("Calmar", |s| ratio_cell(s.equity.calmar, false)),
        ("Trades (closed)", |s| s.trades.closed_trades.to_string()),
        ("Open trades", |s| s.trades.open_trades.to_string()),
        ("Win rate", |s| ratio_cell(s.trades.win_rate, true)),
        ("Profit factor", |s| {
            ratio_cell(s.trades.profit_factor, false)
        }),
        ("Average win", |s| {
            s.trades.average_win.map_or("–".into(), money_cell)
        }),
        ("Average loss", |s| {
            s.trades.average_loss.map_or("–".into(), money_cell)
        }),
        ("Exposure time", |s| ratio_cell(s.exposure_time, true)),
        ("Fees paid", |s| money_cell(s.fees_paid)),
        ("Turnover", |s| money_cell(s.turnover)),
        ("Orders", |s| s.activity.orders.to_string()),
        ("Rejected orders", |s| {
            s.activity.rejected_orders.to_string()
        }),
        ("Fills", |s| s.activity.fills.to_string()),
        ("Risk rejects", |s| {
            let by_code: Vec<String> = s
                .activity
                .risk_rejects_by_code
                .iter()
                .map(|(name, count)| format!("{name}: {count}"))
                .collect();
            if by_code.is_empty() {
                s.activity.risk_rejects.to_string()
            } else {
                format!("{} ({})", s.activity.risk_rejects, by_code.join(", "))
            }
        }),
    ]
}

/// `report.html` for `report` of `recording`.
pub fn report_html(recording: &Recording, report: &Report) -> anyhow::Result<String> {
    let names = Names::new(recording, report);
    let summary = &report.summary;
    let data = page_data(recording, report, &names);
    // `<` only occurs inside JSON strings, where \u003c means the same: no `</script>`.
    let data_json = serde_json::to_string(&data)?.replace('<', "\\u003c");

    let mut html = String::with_capacity(64 * 1024 + data_json.len());
    // Writing into a String cannot fail; the results are ignored on purpose below.
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>kestrel backtest report</title>\n<style>\n{PAGE_CSS}</style>\n\
         <script>\n{HEALTH_HOOK_JS}\n</script>\n</head>\n<body>\n\
         <h1>kestrel backtest</h1>\n<div id=\"report-errors\" class=\"errors\"></div>\n"
    );
    let meta = &summary.meta;
    let _ = writeln!(
        html,
        "<p class=\"meta\">{} → {} ({:.0} s), {} market events, starting equity {} {}</p>",
        escape(&meta.span_start),
        escape(&meta.span_end),
        meta.span_seconds,
        meta.events,
        money_cell(meta.starting_equity),
        escape(&meta.account_asset)
    );
    let _ = writeln!(
        html,
        "<p class=\"meta\">inputs: {}</p>",
        escape(&meta.inputs.join(", "))
    );

    html.push_str("<h2>Statistics</h2>\n<table class=\"stats\">\n<thead><tr><th>metric</th>");
    let columns: Vec<&PerformanceStats> =
        summary.strategies.iter().chain([&summary.total]).collect();
    for stats in &columns {
        let _ = write!(html, "<th>{}</th>", escape(&stats.name));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (label, cell) in stats_rows() {
        let _ = write!(html, "<tr><td>{}</td>", escape(label));
        for stats in &columns {
            let _ = write!(html, "<td>{}</td>", escape(&cell(stats)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n<p class=\"note\">Sharpe and Sortino from ");
    let _ = writeln!(
        html,
        "{}-returns of equity, annualised over 365 days, risk-free 0. Money in the \
         JSON and CSV files is exact.</p>",
        meta.returns_period.as_str()
    );

    html.push_str("<h2>Equity</h2>\n<canvas id=\"plot-equity\" class=\"plot\" width=\"1200\" height=\"340\"></canvas>\n");
    html.push_str("<h2>Drawdown</h2>\n<canvas id=\"plot-drawdown\" class=\"plot\" width=\"1200\" height=\"260\"></canvas>\n");
    html.push_str("<h2>Trades on price</h2>\n");
    for i in 0..data.prices.len() {
        let _ = writeln!(
            html,
            "<canvas id=\"plot-price-{i}\" class=\"plot\" width=\"1200\" height=\"320\"></canvas>"
        );
    }
    let latency = &summary.order_latency;
    html.push_str("<h2>Order latency</h2>\n<canvas id=\"plot-latency\" class=\"plot\" width=\"1200\" height=\"260\"></canvas>\n");
    let _ = writeln!(
        html,
        "<p class=\"note\">{} round trips; p50 {}, p90 {}, p99 {}, max {}</p>",
        latency.count,
        latency.p50_ns.map_or("–".into(), duration_label),
        latency.p90_ns.map_or("–".into(), duration_label),
        latency.p99_ns.map_or("–".into(), duration_label),
        latency.max_ns.map_or("–".into(), duration_label),
    );

    let trades = &report.replay.trades;
    html.push_str("<h2>Trades</h2>\n");
    if trades.len() > MAX_TABLE_TRADES {
        let _ = writeln!(
            html,
            "<p class=\"note\">The first {MAX_TABLE_TRADES} of {} trades; all are in trades.csv.</p>",
            trades.len()
        );
    }
    html.push_str(
        "<table class=\"trades\">\n<thead><tr><th>#</th><th>strategy</th><th>symbol</th>\
         <th>direction</th><th>opened</th><th>closed</th><th>qty</th><th>entry</th>\
         <th>exit</th><th>fees</th><th>net PnL</th></tr></thead>\n<tbody>\n",
    );
    for trade in trades.iter().take(MAX_TABLE_TRADES) {
        let net = trade.net_pnl();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            trade.id,
            escape(&names.strategy(trade.strategy)),
            escape(&names.symbol(trade.symbol)),
            if trade.direction == Side::Buy {
                "LONG"
            } else {
                "SHORT"
            },
            short_time(trade.open_ts_ns),
            trade.close_ts_ns.map_or("open".into(), short_time),
            trade.entry_qty,
            trade
                .avg_entry_price()
                .map_or("–".into(), |p| short_decimal(p.raw())),
            trade
                .avg_exit_price()
                .map_or("–".into(), |p| short_decimal(p.raw())),
            money_cell(trade.fees),
            sign_class(net),
            money_cell(net),
        );
    }
    html.push_str("</tbody>\n</table>\n");

    if !summary.settings.is_empty() || !meta.data_repairs.is_empty() {
        html.push_str("<h2>Settings</h2>\n<table class=\"settings\">\n<tbody>\n");
        for setting in &summary.settings {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&setting.key),
                escape(&setting.value)
            );
        }
        for (name, count) in &meta.data_repairs {
            let _ = writeln!(
                html,
                "<tr><td>data repair: {}</td><td>{count}</td></tr>",
                escape(name)
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }

    let _ = write!(
        html,
        "<script type=\"application/json\" id=\"report-data\">{data_json}</script>\n\
         <script>\n{PAGE_JS}</script>\n</body>\n</html>\n"
    );
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Price;

    #[test]
    fn decimation_is_bounded_and_keeps_the_extremes() {
        let points: Vec<(u64, f64)> = (0..100_000u64)
            .map(|i| {
                (
                    i,
                    ((i * 7919) % 1000) as f64 + if i == 54_321 { 5_000.0 } else { 0.0 },
                )
            })
            .collect();
        let kept = decimate(&points, 5_000);
        assert!(kept.len() <= 5_000, "{}", kept.len());
        assert!(kept.len() > 4_000);
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "time order kept");
        let spike = points[54_321];
        assert!(spike.1 >= 5_000.0);
        assert!(kept.contains(&spike), "the spike survives");
        let lowest = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(
            kept.iter().any(|p| p.1 == lowest),
            "the lowest value survives"
        );
        assert_eq!(decimate(&points[..10], 5_000), points[..10].to_vec());
        assert_eq!(decimate(&points, 5_000), kept, "deterministic");
    }

    #[test]
    fn thinning_keeps_at_most_max_markers() {
        let items: Vec<u32> = (0..12_345).collect();
        let kept = thin(&items, 5_000);
        assert!(kept.len() <= 5_000 && kept.len() > 2_500);
        assert_eq!(kept[0], 0);
        assert_eq!(thin(&items[..3], 5_000), vec![0, 1, 2]);
    }

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;"
        );
        assert_eq!(duration_label(250), "250ns");
        assert_eq!(duration_label(1_500), "1.5µs");
        assert_eq!(duration_label(2_000_000), "2ms");
        assert_eq!(duration_label(1_239_941), "1.24ms");
        assert_eq!(
            short_time(1_715_677_200_003_000_000),
            "2024-05-14 09:00:00.003"
        );
        assert_eq!(
            short_decimal(Price::parse("67228.743333333333333333").expect("p").raw()),
            "67228.743333"
        );
        assert_eq!(short_decimal(Price::from_int(60_500).raw()), "60500");
        assert_eq!(
            short_decimal(Price::parse("-0.5").expect("p").raw()),
            "-0.5"
        );
    }
}
