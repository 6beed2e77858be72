//! Owns: the simulator's kline history — one-minute OHLCV rows built from the trades it
//! has replayed, per symbol — and answering `GET /api/v3/klines` / `/fapi/v1/klines` from
//! them the way Binance does: rows `[openTime, "open", "high", "low", "close", "volume",
//! closeTime, "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]`, oldest first,
//! intervals aligned to the UTC epoch, the last row being the still-forming candle. Never:
//! serves a trade the replay has not reached (history grows with the replay clock), or
//! invents rows for minutes without trades (Binance lists none either).

use std::collections::HashMap;

use crate::core::{Notional, Price, Qty};

use super::http::Reply;

const MINUTE_MS: u64 = 60_000;
/// Most rows one request returns (Binance's limit).
const MAX_LIMIT: usize = 1000;
/// Rows without a `limit` parameter.
const DEFAULT_LIMIT: usize = 500;

#[derive(Clone, Copy, Debug)]
struct Row {
    open_ms: u64,
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    volume: Qty,
    quote: Notional,
    trades: u64,
    taker_buy_base: Qty,
    taker_buy_quote: Notional,
}

impl Row {
    fn merge(&mut self, other: &Row) {
        self.high = self.high.max(other.high);
        self.low = self.low.min(other.low);
        self.close = other.close;
        self.volume = self.volume.saturating_add(other.volume);
        self.quote = self.quote.saturating_add(other.quote);
        self.trades += other.trades;
        self.taker_buy_base = self.taker_buy_base.saturating_add(other.taker_buy_base);
        self.taker_buy_quote = self.taker_buy_quote.saturating_add(other.taker_buy_quote);
    }
}

/// The `trade` stream fields the history needs.
#[derive(serde::Deserialize)]
struct TradeMsg<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "p")]
    price: &'a str,
    #[serde(rename = "q")]
    qty: &'a str,
    #[serde(rename = "T")]
    time_ms: u64,
    /// The buyer was the maker: the taker sold.
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

/// One-minute rows per symbol, from replayed trades.
#[derive(Debug, Default)]
pub(crate) struct KlineHistory {
    rows: HashMap<String, Vec<Row>>,
}

impl KlineHistory {
    /// Books one replayed `trade` frame payload; other payloads and bad ones are ignored.
    pub fn on_trade_frame(&mut self, data: &str) {
        let Ok(t) = serde_json::from_str::<TradeMsg<'_>>(data) else {
            return;
        };
        let (Ok(price), Ok(qty)) = (Price::parse(t.price), Qty::parse(t.qty)) else {
            return;
        };
        let quote = crate::core::WideNotional::product(price, qty).to_notional();
        let (buy_base, buy_quote) = if t.buyer_is_maker {
            (Qty::ZERO, Notional::ZERO)
        } else {
            (qty, quote)
        };
        let trade = Row {
            open_ms: t.time_ms - t.time_ms % MINUTE_MS,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            quote,
            trades: 1,
            taker_buy_base: buy_base,
            taker_buy_quote: buy_quote,
        };
        let rows = self.rows.entry(t.symbol.to_owned()).or_default();
        match rows.last_mut() {
            Some(last) if last.open_ms == trade.open_ms => last.merge(&trade),
            // A trade older than the newest minute (out of order) is folded into it.
            Some(last) if last.open_ms > trade.open_ms => last.merge(&Row {
                open_ms: last.open_ms,
                ..trade
            }),
            _ => rows.push(trade),
        }
    }

    /// Answers a klines request (`query` is the URL's query string); `listed` says
    /// whether the exchange lists a symbol (one without replayed trades yet gets `[]`).
    pub fn answer(&self, query: &str, listed: impl Fn(&str) -> bool) -> Reply {
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value)
        };
        let Some(symbol) = param("symbol").filter(|s| !s.is_empty()) else {
            return Reply::error(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            );
        };
        let Some(interval) = param("interval") else {
            return Reply::error(
                400,
                -1102,
                "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
            );
        };
        let Some(minutes) = interval_minutes(interval) else {
            return Reply::error(400, -1120, "Invalid interval.");
        };
        let limit = match param("limit").map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if n > 0 => n.min(MAX_LIMIT),
            Some(_) => return Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
            ),
        };
        let start = param("startTime").and_then(|v| v.parse::<u64>().ok());
        let end = param("endTime").and_then(|v| v.parse::<u64>().ok());
        if !listed(symbol) && !self.rows.contains_key(symbol) {
            return Reply::error(400, -1121, "Invalid symbol.");
        }
        let minute_rows = self.rows.get(symbol).map_or(&[][..], Vec::as_slice);
        let period = u64::from(minutes) * MINUTE_MS;
        let mut out: Vec<Row> = Vec::new();
        for row in minute_rows {
            let open_ms = row.open_ms - row.open_ms % period;
            match out.last_mut() {
                Some(last) if last.open_ms == open_ms => last.merge(row),
                _ => out.push(Row { open_ms, ..*row }),
            }
        }
        let kept: Vec<&Row> = out
            .iter()
            .filter(|r| start.is_none_or(|s| r.open_ms >= s) && end.is_none_or(|e| r.open_ms <= e))
            .collect();
        let from = if start.is_some() {
            0
        } else {
            kept.len().saturating_sub(limit)
        };
        let mut body = String::with_capacity(kept.len().min(limit) * 160 + 2);
        body.push('[');
        for (i, row) in kept.iter().skip(from).take(limit).enumerate() {
            if i > 0 {
                body.push(',');
            }
            push_row(&mut body, row, period);
        }
        body.push(']');
        Reply::ok(body)
    }
}

/// Binance's interval names up to a day, in minutes.
pub(crate) fn interval_minutes(interval: &str) -> Option<u32> {
    Some(match interval {
        "1m" => 1,
        "3m" => 3,
        "5m" => 5,
        "15m" => 15,
        "30m" => 30,
        "1h" => 60,
        "2h" => 120,
        "4h" => 240,
        "6h" => 360,
        "8h" => 480,
        "12h" => 720,
        "1d" => 1440,
        _ => return None,
    })
}

fn push_decimal(body: &mut String, raw: i128) {
    let mut buf = [0u8; 64];
    let n = Price::from_raw(raw).write_with_decimals(8, &mut buf);
    body.push('"');
    body.push_str(std::str::from_utf8(&buf[..n]).unwrap_or("0"));
    body.push('"');
}

fn push_row(body: &mut String, row: &Row, period: u64) {
    use std::fmt::Write;
    let _ = write!(body, "[{},", row.open_ms);
    for raw in [
        row.open.raw(),
        row.high.raw(),
        row.low.raw(),
        row.close.raw(),
    ] {
        push_decimal(body, raw);
        body.push(',');
    }
    push_decimal(body, row.volume.raw());
    let _ = write!(body, ",{},", row.open_ms + period - 1);
    push_decimal(body, row.quote.raw());
    let _ = write!(body, ",{},", row.trades);
    push_decimal(body, row.taker_buy_base.raw());
    body.push(',');
    push_decimal(body, row.taker_buy_quote.raw());
    body.push_str(",\"0\"]");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(time_ms: u64, price: &str, qty: &str, buyer_is_maker: bool) -> String {
        format!(
            r#"{{"e":"trade","E":{time_ms},"s":"BTCUSDT","t":1,"p":"{price}","q":"{qty}","T":{time_ms},"m":{buyer_is_maker},"M":true}}"#
        )
    }

    #[test]
    fn trades_become_minute_rows_and_roll_up_in_binance_shape() {
        let mut h = KlineHistory::default();
        let t0 = 1_723_075_200_000u64; // 2024-08-08 00:00 UTC
        h.on_trade_frame(&trade(t0 + 1_000, "100", "1", false));
        h.on_trade_frame(&trade(t0 + 2_000, "102", "2", true));
        h.on_trade_frame(&trade(t0 + 61_000, "99", "1", false));
        h.on_trade_frame(&trade(t0 + 300_500, "101", "1", true));
        let body = h.answer("symbol=BTCUSDT&interval=1m", |_| false).body;
        let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(&body).expect("json");
        assert_eq!(rows.len(), 3, "no row for minutes without trades");
        assert_eq!(rows[0].len(), 12, "Binance's 12 columns");
        assert_eq!(rows[0][0], t0);
        assert_eq!(rows[0][1], "100.00000000");
        assert_eq!(rows[0][2], "102.00000000");
        assert_eq!(rows[0][4], "102.00000000");
        assert_eq!(rows[0][5], "3.00000000");
        assert_eq!(rows[0][6], t0 + 59_999);
        assert_eq!(rows[0][7], "304.00000000");
        assert_eq!(rows[0][8], 2);
        assert_eq!(rows[0][9], "1.00000000", "the taker bought 1");
        let five: Vec<Vec<serde_json::Value>> = serde_json::from_str(
            &h.answer("symbol=BTCUSDT&interval=5m&limit=1", |_| false)
                .body,
        )
        .expect("json");
        assert_eq!(five.len(), 1, "limit keeps the newest");
        assert_eq!(five[0][0], t0 + 300_000);
        let five: Vec<Vec<serde_json::Value>> =
            serde_json::from_str(&h.answer("symbol=BTCUSDT&interval=5m", |_| false).body)
                .expect("json");
        assert_eq!(
            (five[0][3].clone(), five[0][4].clone()),
            ("99.00000000".into(), "99.00000000".into())
        );
        assert_eq!(
            h.answer("symbol=BTCUSDT&interval=7m", |_| false).status,
            400
        );
        assert_eq!(
            h.answer("symbol=ETHUSDT&interval=1m", |_| false).status,
            400
        );
        let empty =
            KlineHistory::default().answer("symbol=ETHUSDT&interval=1m", |s| s == "ETHUSDT");
        assert_eq!(
            (empty.status, empty.body.as_str()),
            (200, "[]"),
            "listed, nothing replayed yet"
        );
        assert_eq!(h.answer("interval=1m", |_| true).status, 400);
    }

    #[test]
    fn the_served_shape_parses_like_the_real_payload() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/real/nautilus/binance/spot/http_json/klines_response.json"
        );
        let Ok(real) = std::fs::read_to_string(path) else {
            eprintln!("SKIP: real payloads not found at {path}");
            return;
        };
        let real: Vec<Vec<serde_json::Value>> = serde_json::from_str(&real).expect("real json");
        let mut h = KlineHistory::default();
        h.on_trade_frame(&trade(1_000, "1", "1", false));
        let ours: Vec<Vec<serde_json::Value>> =
            serde_json::from_str(&h.answer("symbol=BTCUSDT&interval=1m", |_| false).body)
                .expect("json");
        let kinds = |row: &Vec<serde_json::Value>| {
            row.iter()
                .map(|v| {
                    if v.is_string() {
                        's'
                    } else if v.is_u64() {
                        'n'
                    } else {
                        '?'
                    }
                })
                .collect::<String>()
        };
        assert_eq!(kinds(&ours[0]), kinds(&real[0]));
    }
}
