//! Owns: fetching closed klines over REST at start-up (`GET /api/v3/klines` or
//! `/fapi/v1/klines`, with the venue's `/time` to tell closed candles from the forming one)
//! and turning Binance's rows into closed [`Bar`]s, so strategies warm their indicators up
//! before the first live bar. Never: hands out the still-forming candle (the old engine
//! traded on it), runs on a hot thread, or rounds a price (decimal strings are parsed
//! exactly).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::book::{Bar, MINUTE_MS};
use crate::core::{Market, Notional, Price, Qty, SymbolId};

/// Binance's interval name for a bar length in minutes (None: no such interval).
pub fn interval_name(minutes: u32) -> Option<&'static str> {
    Some(match minutes {
        1 => "1m",
        3 => "3m",
        5 => "5m",
        15 => "15m",
        30 => "30m",
        60 => "1h",
        120 => "2h",
        240 => "4h",
        360 => "6h",
        480 => "8h",
        720 => "12h",
        1440 => "1d",
        _ => return None,
    })
}

/// Parses a klines response into the bars of `symbol` that closed at or before
/// `server_ms` (the venue's time), oldest first. With `last_is_forming`, the response's
/// last row is left out whatever its times say: Binance always lists the current candle
/// last, and a simulator replaying old data answers `/time` with the wall clock, so the time
/// alone cannot tell its forming candle from a closed one.
pub fn parse_closed_klines(
    body: &[u8],
    symbol: SymbolId,
    minutes: u32,
    server_ms: u64,
    last_is_forming: bool,
) -> anyhow::Result<Vec<Bar>> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(body).context("klines: not an array of rows")?;
    let period = u64::from(minutes) * MINUTE_MS;
    let mut bars = Vec::with_capacity(rows.len());
    let closed_rows = if last_is_forming {
        rows.len().saturating_sub(1)
    } else {
        rows.len()
    };
    for (i, row) in rows.iter().enumerate().take(closed_rows) {
        let int = |col: usize| {
            row.get(col)
                .and_then(serde_json::Value::as_u64)
                .with_context(|| format!("klines row {i}: column {col} is not an integer"))
        };
        let text = |col: usize| {
            row.get(col)
                .and_then(serde_json::Value::as_str)
                .with_context(|| format!("klines row {i}: column {col} is not a decimal string"))
        };
        let price = |col: usize| -> anyhow::Result<Price> {
            Price::parse(text(col)?).with_context(|| format!("klines row {i}: column {col}"))
        };
        let open_time_ms = int(0)?;
        let close_time_ms = int(6)?.saturating_add(1);
        anyhow::ensure!(
            close_time_ms == open_time_ms + period,
            "klines row {i}: spans {} ms, not {minutes} minutes",
            close_time_ms.saturating_sub(open_time_ms)
        );
        if close_time_ms > server_ms {
            continue; // the forming candle
        }
        let bar = Bar {
            symbol,
            timeframe_min: minutes,
            open_time_ms,
            close_time_ms,
            open: price(1)?,
            high: price(2)?,
            low: price(3)?,
            close: price(4)?,
            volume: Qty::parse(text(5)?).with_context(|| format!("klines row {i}: volume"))?,
            quote_volume: Notional::parse(text(7)?)
                .with_context(|| format!("klines row {i}: quote volume"))?,
            trade_count: u32::try_from(int(8)?).unwrap_or(u32::MAX),
        };
        anyhow::ensure!(
            bar.low <= bar.open.min(bar.close) && bar.high >= bar.open.max(bar.close),
            "klines row {i}: high/low do not contain open/close"
        );
        if let Some(last) = bars.last() {
            let last: &Bar = last;
            anyhow::ensure!(
                bar.open_time_ms > last.open_time_ms,
                "klines row {i}: not after the row before"
            );
        }
        bars.push(bar);
    }
    Ok(bars)
}

/// Fetches up to `limit` closed `minutes` bars of `name` from the venue at `rest_base_url`.
pub fn fetch_closed_klines(
    rest_base_url: &str,
    trusted_cert: Option<&Path>,
    market: Market,
    name: &str,
    symbol: SymbolId,
    minutes: u32,
    limit: u32,
) -> anyhow::Result<Vec<Bar>> {
    let interval = interval_name(minutes)
        .with_context(|| format!("no Binance kline interval of {minutes} minutes"))?;
    let prefix = match market {
        Market::UsdmFutures => "/fapi/v1",
        Market::Spot | Market::Margin => "/api/v3",
    };
    let base = rest_base_url.trim_end_matches('/');
    let agent = super::snapshot_fetch::build_agent(trusted_cert, Duration::from_secs(10))
        .context("klines HTTP client")?;
    let get = |url: &str| super::snapshot_fetch::get_ok_body(&agent, url, 16 << 20);
    let time: serde_json::Value = serde_json::from_slice(&get(&format!("{base}{prefix}/time"))?)
        .context("venue time: not JSON")?;
    let server_ms = time
        .get("serverTime")
        .and_then(serde_json::Value::as_u64)
        .context("venue time: no serverTime")?;
    let url = format!(
        "{base}{prefix}/klines?symbol={name}&interval={interval}&limit={}",
        limit.clamp(1, 1000)
    );
    parse_closed_klines(&get(&url)?, symbol, minutes, server_ms, true)
        .with_context(|| format!("GET {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_payload_parses_and_the_forming_candle_is_left_out() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/real/nautilus/binance/spot/http_json/klines_response.json"
        );
        let Ok(body) = std::fs::read(path) else {
            eprintln!("SKIP: real payloads not found at {path}");
            return;
        };
        // Its one row is a 1w candle in Binance's docs: 1499040000000 … 1499644799999.
        let week = 7 * 1440;
        assert!(parse_closed_klines(&body, SymbolId(0), 1440, u64::MAX, false).is_err());
        let bars = parse_closed_klines(&body, SymbolId(0), week, 1_499_644_800_000, false)
            .expect("parses");
        assert_eq!(bars.len(), 1);
        let b = bars[0];
        assert_eq!(b.open, Price::parse("0.01634790").expect("literal"));
        assert_eq!(b.high, Price::parse("0.80000000").expect("literal"));
        assert_eq!(b.close_time_ms, 1_499_644_800_000);
        assert_eq!(b.trade_count, 308);
        let forming = parse_closed_klines(&body, SymbolId(0), week, 1_499_644_799_999, false)
            .expect("parses");
        assert!(forming.is_empty(), "a candle not yet closed is never a bar");
        let last = parse_closed_klines(&body, SymbolId(0), week, u64::MAX, true).expect("parses");
        assert!(last.is_empty(), "the last row is the current candle");
    }

    #[test]
    fn closed_rows_become_bars_and_bad_rows_are_errors() {
        let row = |open: u64, o: &str, h: &str, l: &str, c: &str| {
            format!(
                r#"[{open},"{o}","{h}","{l}","{c}","2.5",{},"250.0",7,"1","100","0"]"#,
                open + 59_999
            )
        };
        let body = format!(
            "[{},{}]",
            row(60_000, "100", "101", "99", "100.5"),
            row(120_000, "100.5", "102", "100", "101")
        );
        let bars =
            parse_closed_klines(body.as_bytes(), SymbolId(3), 1, 150_000, false).expect("parses");
        assert_eq!(bars.len(), 1, "the second candle is still forming at 150 s");
        let b = bars[0];
        assert_eq!((b.symbol, b.timeframe_min), (SymbolId(3), 1));
        assert_eq!((b.open_time_ms, b.close_time_ms), (60_000, 120_000));
        assert_eq!(b.close, Price::parse("100.5").expect("literal"));
        assert_eq!(b.volume, Qty::parse("2.5").expect("literal"));
        assert_eq!(b.trade_count, 7);
        assert_eq!(
            parse_closed_klines(body.as_bytes(), SymbolId(3), 1, 180_000, false)
                .expect("parses")
                .len(),
            2
        );
        assert_eq!(
            parse_closed_klines(body.as_bytes(), SymbolId(3), 1, u64::MAX, true)
                .expect("parses")
                .len(),
            1,
            "the last row is left out as the forming candle"
        );
        let inverted = format!("[{}]", row(60_000, "100", "99", "101", "100"));
        assert!(parse_closed_klines(inverted.as_bytes(), SymbolId(0), 1, u64::MAX, false).is_err());
        let backwards = format!(
            "[{},{}]",
            row(120_000, "1", "1", "1", "1"),
            row(60_000, "1", "1", "1", "1")
        );
        assert!(
            parse_closed_klines(backwards.as_bytes(), SymbolId(0), 1, u64::MAX, false).is_err()
        );
        assert!(parse_closed_klines(b"{}", SymbolId(0), 1, u64::MAX, false).is_err());
    }

    #[test]
    fn interval_names_cover_the_day_divisors_binance_serves() {
        assert_eq!(interval_name(240), Some("4h"));
        assert_eq!(interval_name(1440), Some("1d"));
        assert_eq!(interval_name(10), None);
    }
}
