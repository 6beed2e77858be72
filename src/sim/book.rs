//! Owns: the simulator's exchange-side order book for one symbol: the recorded REST
//! snapshot with the capture's depth diffs applied on top. This is the exchange's truth that
//! REST snapshots are cut from and that the matching engine trades against.
//! Never: reformats a price or quantity (levels keep the exchange's decimal text), or syncs
//! the way a client does (that is the engine's book code).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::core::decimal::parse_raw;
use crate::core::{Price, Qty, Side};

use super::exchange::BookSource;
use super::matching::ReplayedBook;

/// One price level as the exchange formats it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Level {
    price: String,
    qty: String,
}

/// A recorded `GET …/depth` body, levels as decimal text.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DepthSnapshotMsg {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    /// Futures snapshots carry the event and transaction times.
    #[serde(rename = "E", default)]
    pub event_ms: Option<u64>,
    #[serde(rename = "T", default)]
    pub transaction_ms: Option<u64>,
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

/// The fields of a `depthUpdate` payload the book needs.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DepthDiffMsg {
    #[serde(rename = "E")]
    pub event_ms: u64,
    #[serde(rename = "T", default)]
    pub transaction_ms: Option<u64>,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "U")]
    pub first_update_id: u64,
    #[serde(rename = "u")]
    pub last_update_id: u64,
    #[serde(rename = "b")]
    pub bids: Vec<[String; 2]>,
    #[serde(rename = "a")]
    pub asks: Vec<[String; 2]>,
}

/// One symbol's book at the exchange: levels keyed by exact fixed-point price.
#[derive(Debug, Clone)]
pub struct ExchangeBook {
    last_update_id: u64,
    /// `E` and `T` of the last applied diff (futures snapshots carry them).
    event_ms: u64,
    transaction_ms: u64,
    /// Futures only: `U` of the next diff, the id a snapshot cut between two diffs carries
    /// so that the next diff spans it (Binance's futures rule `U ≤ lastUpdateId ≤ u`).
    next_first_update_id: Option<u64>,
    bids: BTreeMap<Reverse<i128>, Level>,
    asks: BTreeMap<i128, Level>,
    /// The recorded snapshot body and its deepest side, served verbatim until a diff lands.
    recorded: Option<(String, usize)>,
}

/// Quantity text that means "no level" ("0", "0.000", …).
fn is_zero(qty: &str) -> bool {
    qty.bytes().all(|b| b == b'0' || b == b'.')
}

impl ExchangeBook {
    /// Builds the book from a recorded REST snapshot body; `None` if it is not one.
    /// `recv_ms` stands in for `E`/`T` when the body has none (spot).
    pub(crate) fn from_recorded(text: &str, recv_ms: u64) -> Option<Self> {
        let msg: DepthSnapshotMsg = serde_json::from_str(text).ok()?;
        let event_ms = msg.event_ms.unwrap_or(recv_ms);
        let mut book = Self {
            last_update_id: msg.last_update_id,
            event_ms,
            transaction_ms: msg.transaction_ms.unwrap_or(event_ms),
            next_first_update_id: None,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            recorded: Some((text.to_owned(), msg.bids.len().max(msg.asks.len()))),
        };
        book.set_levels(&msg.bids, &msg.asks);
        Some(book)
    }

    /// The `u` of the last applied diff (or the snapshot's `lastUpdateId`).
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Bids best first as (price, qty) text.
    pub fn bids(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bids
            .values()
            .map(|l| (l.price.as_str(), l.qty.as_str()))
    }

    /// Asks best first as (price, qty) text.
    pub fn asks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.asks
            .values()
            .map(|l| (l.price.as_str(), l.qty.as_str()))
    }

    /// Applies a diff unless it is older than the book; returns whether it was applied.
    pub(crate) fn apply(&mut self, diff: &DepthDiffMsg) -> bool {
        if diff.last_update_id <= self.last_update_id {
            return false;
        }
        self.set_levels(&diff.bids, &diff.asks);
        self.last_update_id = diff.last_update_id;
        self.event_ms = diff.event_ms;
        self.transaction_ms = diff.transaction_ms.unwrap_or(diff.event_ms);
        self.recorded = None;
        self.next_first_update_id = None;
        true
    }

    /// Records the `U` of the diff that follows (futures snapshots carry it).
    pub(crate) fn set_next_first_update_id(&mut self, first: Option<u64>) {
        self.next_first_update_id = first.filter(|f| *f > self.last_update_id);
    }

    fn set_levels(&mut self, bids: &[[String; 2]], asks: &[[String; 2]]) {
        for [price, qty] in bids {
            // A price the codec cannot read cannot be ordered; the exchange never sends one.
            let Ok(key) = parse_raw(price.as_bytes()) else {
                continue;
            };
            if is_zero(qty) {
                self.bids.remove(&Reverse(key));
            } else {
                let level = Level {
                    price: price.clone(),
                    qty: qty.clone(),
                };
                self.bids.insert(Reverse(key), level);
            }
        }
        for [price, qty] in asks {
            let Ok(key) = parse_raw(price.as_bytes()) else {
                continue;
            };
            if is_zero(qty) {
                self.asks.remove(&key);
            } else {
                let level = Level {
                    price: price.clone(),
                    qty: qty.clone(),
                };
                self.asks.insert(key, level);
            }
        }
    }

    /// The `GET …/depth` body for `limit` levels a side (futures add `E` and `T`). Spot's
    /// `lastUpdateId` is the last applied `u`; futures' is the next diff's `U` when known,
    /// as Binance's futures sync rule expects.
    pub fn snapshot_json(&self, limit: usize, futures: bool) -> String {
        if let Some((text, depth)) = &self.recorded {
            if limit >= *depth {
                return text.clone();
            }
        }
        let levels = limit.min(self.bids.len().max(self.asks.len()));
        let mut out = String::with_capacity(64 + 80 * levels);
        let last_update_id = match (futures, self.next_first_update_id) {
            (true, Some(next_first)) => next_first,
            _ => self.last_update_id,
        };
        out.push_str("{\"lastUpdateId\":");
        out.push_str(&last_update_id.to_string());
        if futures {
            out.push_str(",\"E\":");
            out.push_str(&self.event_ms.to_string());
            out.push_str(",\"T\":");
            out.push_str(&self.transaction_ms.to_string());
        }
        out.push_str(",\"bids\":");
        push_levels(&mut out, self.bids().take(limit));
        out.push_str(",\"asks\":");
        push_levels(&mut out, self.asks().take(limit));
        out.push('}');
        out
    }
}

impl ReplayedBook for ExchangeBook {
    fn visit_levels(&self, side: Side, visit: &mut dyn FnMut(Price, Qty) -> bool) {
        let mut each = |raw: i128, level: &Level| match Qty::parse(&level.qty) {
            Ok(qty) => visit(Price::from_raw(raw), qty),
            // Quantities were read from the exchange's own text; keep walking past a bad one.
            Err(_) => true,
        };
        match side {
            Side::Buy => {
                for (Reverse(raw), level) in &self.bids {
                    if !each(*raw, level) {
                        return;
                    }
                }
            }
            Side::Sell => {
                for (raw, level) in &self.asks {
                    if !each(*raw, level) {
                        return;
                    }
                }
            }
        }
    }

    fn level_qty(&self, side: Side, price: Price) -> Option<Qty> {
        let level = match side {
            Side::Buy => self.bids.get(&Reverse(price.raw())),
            Side::Sell => self.asks.get(&price.raw()),
        }?;
        Qty::parse(&level.qty).ok()
    }
}

impl BookSource for std::collections::HashMap<String, ExchangeBook> {
    fn book(&self, symbol: &str) -> Option<&dyn ReplayedBook> {
        self.get(symbol).map(|b| b as &dyn ReplayedBook)
    }
}

fn push_levels<'a>(out: &mut String, levels: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push('[');
    for (i, (price, qty)) in levels.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("[\"");
        out.push_str(price);
        out.push_str("\",\"");
        out.push_str(qty);
        out.push_str("\"]");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(first: u64, last: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> DepthDiffMsg {
        let side = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(p, q)| [p.to_string(), q.to_string()])
                .collect()
        };
        DepthDiffMsg {
            event_ms: 7,
            transaction_ms: Some(6),
            symbol: "BTCUSDT".into(),
            first_update_id: first,
            last_update_id: last,
            bids: side(bids),
            asks: side(asks),
        }
    }

    #[test]
    fn recorded_text_is_served_until_a_diff_lands_then_levels_keep_their_text() {
        let recorded = r#"{"lastUpdateId":10,"bids":[["100.10","1.000"],["99.00","2.000"]],"asks":[["100.20","3.000"]]}"#;
        let mut book = ExchangeBook::from_recorded(recorded, 5).expect("valid snapshot");
        assert_eq!(book.snapshot_json(100, false), recorded);
        assert!(!book.apply(&diff(9, 10, &[("1.00", "1.0")], &[])));
        assert!(book.apply(&diff(
            11,
            12,
            &[("99.00", "0.000"), ("100.15", "0.500")],
            &[]
        )));
        assert_eq!(
            book.snapshot_json(100, true),
            r#"{"lastUpdateId":12,"E":7,"T":6,"bids":[["100.15","0.500"],["100.10","1.000"]],"asks":[["100.20","3.000"]]}"#
        );
        book.set_next_first_update_id(Some(15));
        assert!(book
            .snapshot_json(1, true)
            .starts_with(r#"{"lastUpdateId":15,"E":7"#));
        assert!(book
            .snapshot_json(1, false)
            .starts_with(r#"{"lastUpdateId":12,"#));
        assert_eq!(
            book.snapshot_json(1, false),
            r#"{"lastUpdateId":12,"bids":[["100.15","0.500"]],"asks":[["100.20","3.000"]]}"#
        );
    }
}
