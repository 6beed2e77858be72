//! Owns: the fixed-layout fast paths for the hot messages, reading compact JSON in the exact
//! key order Binance spot and USDⓈ-M write it (literals checked, no key dispatch).
//! Never: reports errors or decides what is valid: any difference from the layout returns
//! `None`, and the caller rewinds and runs the generic decoder in `hot`, which gives the same
//! result on every frame the fast path accepts (property-tested below).

use super::hot::{AggTrade, DepthHeader, Stamped};
use super::scanner::Cursor;
use super::symbols::SymbolMap;
use crate::core::decimal::{Price, Qty};
use crate::core::event::{BookTicker, Level, Side, TradePrint};

/// Buyer-is-maker means the seller took liquidity.
#[inline(always)]
fn aggressor(buyer_is_maker: bool) -> Side {
    if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    }
}

/// `"p":"…","q":"…"` after the caller consumed the `,` before `"p"`.
#[inline(always)]
fn price_and_qty(c: &mut Cursor<'_>) -> Option<(Price, Qty)> {
    c.fast_literal(b"\"p\":\"")?;
    let price = Price::from_raw(c.fast_decimal_rest()?);
    c.fast_literal(b",\"q\":\"")?;
    let qty = Qty::from_raw(c.fast_decimal_rest()?);
    Some((price, qty))
}

/// Spot `{"u":…,"s":…,"b":…,"B":…,"a":…,"A":…}`; USDⓈ-M adds `"e"` first and `"T"`,`"E"` last.
#[inline(always)]
pub(super) fn book_ticker(c: &mut Cursor<'_>, symbols: &SymbolMap) -> Option<Stamped<BookTicker>> {
    let futures = c.fast_literal(b"{\"e\":\"bookTicker\",\"u\":").is_some();
    if !futures {
        c.fast_literal(b"{\"u\":")?;
    }
    let update_id = c.fast_u64()?;
    c.fast_literal(b",\"s\":\"")?;
    let name = c.fast_string_rest()?;
    c.fast_literal(b",\"b\":\"")?;
    let bid_price = Price::from_raw(c.fast_decimal_rest()?);
    c.fast_literal(b",\"B\":\"")?;
    let bid_qty = Qty::from_raw(c.fast_decimal_rest()?);
    c.fast_literal(b",\"a\":\"")?;
    let ask_price = Price::from_raw(c.fast_decimal_rest()?);
    c.fast_literal(b",\"A\":\"")?;
    let ask_qty = Qty::from_raw(c.fast_decimal_rest()?);
    let exch_ts_ms = if futures {
        c.fast_literal(b",\"T\":")?;
        c.fast_u64()?;
        c.fast_literal(b",\"E\":")?;
        c.fast_u64()?
    } else {
        0
    };
    c.fast_literal(b"}")?;
    Some(Stamped {
        symbol: symbols.get(name)?,
        exch_ts_ms,
        body: BookTicker {
            update_id,
            bid_price,
            bid_qty,
            ask_price,
            ask_qty,
        },
    })
}

/// Spot `{"e":"trade","E","s","t","p","q","T","m","M"}`; USDⓈ-M `{"e","E","T","s","t","p","q","X","m"}`.
#[inline(always)]
pub(super) fn trade(c: &mut Cursor<'_>, symbols: &SymbolMap) -> Option<Stamped<TradePrint>> {
    c.fast_literal(b"{\"e\":\"trade\",\"E\":")?;
    let event_ms = c.fast_u64()?;
    let futures = c.fast_literal(b",\"T\":").is_some();
    if futures {
        c.fast_u64()?;
    }
    c.fast_literal(b",\"s\":\"")?;
    let name = c.fast_string_rest()?;
    c.fast_literal(b",\"t\":")?;
    let trade_id = c.fast_u64()?;
    c.fast_literal(b",")?;
    let (price, qty) = price_and_qty(c)?;
    let buyer_is_maker = if futures {
        c.fast_literal(b",\"X\":\"")?;
        c.fast_string_rest()?;
        c.fast_literal(b",\"m\":")?;
        c.fast_bool()?
    } else {
        c.fast_literal(b",\"T\":")?;
        c.fast_u64()?;
        c.fast_literal(b",\"m\":")?;
        let maker = c.fast_bool()?;
        c.fast_literal(b",\"M\":")?;
        c.fast_bool()?;
        maker
    };
    c.fast_literal(b"}")?;
    Some(Stamped {
        symbol: symbols.get(name)?,
        exch_ts_ms: event_ms,
        body: TradePrint {
            trade_id,
            price,
            qty,
            aggressor: aggressor(buyer_is_maker),
        },
    })
}

/// Spot `{"e":"aggTrade","E","s","a",…,"m","M"}`; USDⓈ-M has `"a"` before `"s"` and no `"M"`.
#[inline(always)]
pub(super) fn agg_trade(c: &mut Cursor<'_>, symbols: &SymbolMap) -> Option<AggTrade> {
    c.fast_literal(b"{\"e\":\"aggTrade\",\"E\":")?;
    let event_ms = c.fast_u64()?;
    let (name, agg_id);
    if c.fast_literal(b",\"s\":\"").is_some() {
        name = c.fast_string_rest()?;
        c.fast_literal(b",\"a\":")?;
        agg_id = c.fast_u64()?;
    } else {
        c.fast_literal(b",\"a\":")?;
        agg_id = c.fast_u64()?;
        c.fast_literal(b",\"s\":\"")?;
        name = c.fast_string_rest()?;
    }
    c.fast_literal(b",")?;
    let (price, qty) = price_and_qty(c)?;
    c.fast_literal(b",\"f\":")?;
    let first_trade_id = c.fast_u64()?;
    c.fast_literal(b",\"l\":")?;
    let last_trade_id = c.fast_u64()?;
    c.fast_literal(b",\"T\":")?;
    c.fast_u64()?;
    c.fast_literal(b",\"m\":")?;
    let buyer_is_maker = c.fast_bool()?;
    if c.fast_literal(b",\"M\":").is_some() {
        c.fast_bool()?;
    }
    c.fast_literal(b"}")?;
    Some(AggTrade {
        trade: Stamped {
            symbol: symbols.get(name)?,
            exch_ts_ms: event_ms,
            body: TradePrint {
                trade_id: agg_id,
                price,
                qty,
                aggressor: aggressor(buyer_is_maker),
            },
        },
        first_trade_id,
        last_trade_id,
    })
}

/// Spot `{"e":"depthUpdate","E","s","U","u","b","a"}`; USDⓈ-M adds `"T"` after `"E"` and
/// `"pu"` after `"u"`. Levels go into `bids`/`asks`.
#[inline(always)]
pub(super) fn depth_update(
    c: &mut Cursor<'_>,
    symbols: &SymbolMap,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Option<DepthHeader> {
    c.fast_literal(b"{\"e\":\"depthUpdate\",\"E\":")?;
    let exch_ts_ms = c.fast_u64()?;
    let futures = c.fast_literal(b",\"T\":").is_some();
    if futures {
        c.fast_u64()?;
    }
    c.fast_literal(b",\"s\":\"")?;
    let name = c.fast_string_rest()?;
    c.fast_literal(b",\"U\":")?;
    let first_update_id = c.fast_u64()?;
    c.fast_literal(b",\"u\":")?;
    let last_update_id = c.fast_u64()?;
    let prev_last_update_id = if futures {
        c.fast_literal(b",\"pu\":")?;
        Some(c.fast_u64()?)
    } else {
        None
    };
    c.fast_literal(b",\"b\":")?;
    c.fast_levels(bids)?;
    c.fast_literal(b",\"a\":")?;
    c.fast_levels(asks)?;
    c.fast_literal(b"}")?;
    Some(DepthHeader {
        symbol: symbols.get(name)?,
        exch_ts_ms,
        first_update_id,
        last_update_id,
        prev_last_update_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::symbol::SymbolTable;
    use crate::feed::binance::error::DecodeError;
    use crate::feed::binance::hot;
    use proptest::prelude::*;
    use std::fmt::Debug;
    use std::io::{BufRead, BufReader};

    fn symbols() -> SymbolMap {
        let mut table = SymbolTable::new();
        for name in [
            "BTCUSDT",
            "ETHBTC",
            "NKNUSDT",
            "BLZETH",
            "LRCBTC",
            "RUNEEUR",
            "AKROUSDT",
            "SUSHIUSDT",
        ] {
            table.intern(name).expect("valid symbol");
        }
        SymbolMap::new(&table)
    }

    /// Runs both paths on `frame` from `at`; when the fast one accepts, the generic one must
    /// give the same value and stop at the same byte. Returns whether the fast path accepted.
    fn agree<T: PartialEq + Debug>(
        frame: &[u8],
        at: usize,
        fast: impl FnOnce(&mut Cursor<'_>) -> Option<T>,
        generic: impl FnOnce(&mut Cursor<'_>) -> Result<T, DecodeError>,
    ) -> Result<bool, TestCaseError> {
        let mut fast_cursor = Cursor::new(frame, at);
        let Some(value) = fast(&mut fast_cursor) else {
            return Ok(false);
        };
        let mut generic_cursor = Cursor::new(frame, at);
        let reference = generic(&mut generic_cursor);
        prop_assert_eq!(Ok(value), reference, "{}", String::from_utf8_lossy(frame));
        prop_assert_eq!(fast_cursor.pos(), generic_cursor.pos());
        Ok(true)
    }

    fn book_ticker_agrees(frame: &[u8], at: usize) -> Result<bool, TestCaseError> {
        let map = symbols();
        agree(
            frame,
            at,
            |c| book_ticker(c, &map),
            |c| hot::book_ticker(c, &map),
        )
    }

    fn trade_agrees(frame: &[u8], at: usize) -> Result<bool, TestCaseError> {
        let map = symbols();
        agree(frame, at, |c| trade(c, &map), |c| hot::trade(c, &map))
    }

    fn agg_trade_agrees(frame: &[u8], at: usize) -> Result<bool, TestCaseError> {
        let map = symbols();
        agree(
            frame,
            at,
            |c| agg_trade(c, &map),
            |c| hot::agg_trade(c, &map),
        )
    }

    fn depth_agrees(frame: &[u8], at: usize) -> Result<bool, TestCaseError> {
        let map = symbols();
        let (mut fast_bids, mut fast_asks) = (Vec::new(), Vec::new());
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let accepted = agree(
            frame,
            at,
            |c| depth_update(c, &map, &mut fast_bids, &mut fast_asks),
            |c| hot::depth_update(c, &map, &mut bids, &mut asks),
        )?;
        if accepted {
            prop_assert_eq!(fast_bids, bids);
            prop_assert_eq!(fast_asks, asks);
        }
        Ok(accepted)
    }

    /// Decimal texts: the venue's shapes, long ones, and texts the fast path must decline.
    fn decimal_text() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[0-9]{1,5}\\.[0-9]{8}",
            2 => "[0-9]{1,18}(\\.[0-9]{1,18})?",
            1 => "[0-9.eE+-]{0,5}",
            1 => Just(String::from("1\\u0030")),
        ]
    }

    fn integer_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[1-9][0-9]{0,14}",
            1 => "0[0-9]{0,2}",
            1 => "[1-9][0-9]{14,20}",
            1 => "-?[0-9]{1,3}(\\.[0-9])?(e5)?",
        ]
    }

    fn symbol_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(String::from("BTCUSDT")),
            1 => Just(String::from("ETHBTC")),
            1 => Just(String::from("BTC\\\\USDT")),
            1 => "[A-Za-z]{0,9}",
        ]
    }

    fn bool_text() -> impl Strategy<Value = &'static str> {
        prop_oneof![4 => Just("true"), 4 => Just("false"), 1 => Just("null")]
    }

    fn levels_text() -> impl Strategy<Value = String> {
        prop::collection::vec((decimal_text(), decimal_text()), 0..4).prop_map(|levels| {
            let inner: Vec<String> = levels
                .iter()
                .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
                .collect();
            format!("[{}]", inner.join(","))
        })
    }

    /// Inserts a space at `at` (modulo the length) when asked: a layout the fast path declines.
    fn maybe_spaced(frame: String, space_at: Option<usize>) -> String {
        match space_at {
            Some(at) if !frame.is_empty() => {
                let at = at % frame.len();
                format!("{} {}", &frame[..at], &frame[at..])
            }
            _ => frame,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn book_ticker_fast_path_matches_the_generic_decoder(
            futures in any::<bool>(),
            u in integer_text(),
            s in symbol_text(),
            d in prop::array::uniform4(decimal_text()),
            t in integer_text(),
            e in integer_text(),
            space_at in prop::option::weighted(0.1, any::<usize>()),
        ) {
            let body = format!(
                r#""u":{u},"s":"{s}","b":"{}","B":"{}","a":"{}","A":"{}""#,
                d[0], d[1], d[2], d[3]
            );
            let frame = if futures {
                format!(r#"{{"e":"bookTicker",{body},"T":{t},"E":{e}}}"#)
            } else {
                format!("{{{body}}}")
            };
            book_ticker_agrees(maybe_spaced(frame, space_at).as_bytes(), 0)?;
        }

        #[test]
        fn trade_fast_path_matches_the_generic_decoder(
            futures in any::<bool>(),
            ints in prop::array::uniform4(integer_text()),
            s in symbol_text(),
            p in decimal_text(),
            q in decimal_text(),
            m in bool_text(),
            x in symbol_text(),
            space_at in prop::option::weighted(0.1, any::<usize>()),
        ) {
            let [event_ms, trade_ms, id, _] = &ints;
            let frame = if futures {
                format!(r#"{{"e":"trade","E":{event_ms},"T":{trade_ms},"s":"{s}","t":{id},"p":"{p}","q":"{q}","X":"{x}","m":{m}}}"#)
            } else {
                format!(r#"{{"e":"trade","E":{event_ms},"s":"{s}","t":{id},"p":"{p}","q":"{q}","T":{trade_ms},"m":{m},"M":true}}"#)
            };
            trade_agrees(maybe_spaced(frame, space_at).as_bytes(), 0)?;
        }

        #[test]
        fn agg_trade_fast_path_matches_the_generic_decoder(
            futures in any::<bool>(),
            ints in prop::array::uniform5(integer_text()),
            s in symbol_text(),
            p in decimal_text(),
            q in decimal_text(),
            m in bool_text(),
            space_at in prop::option::weighted(0.1, any::<usize>()),
        ) {
            let [event_ms, agg_id, first, last, trade_ms] = &ints;
            let frame = if futures {
                format!(r#"{{"e":"aggTrade","E":{event_ms},"a":{agg_id},"s":"{s}","p":"{p}","q":"{q}","f":{first},"l":{last},"T":{trade_ms},"m":{m}}}"#)
            } else {
                format!(r#"{{"e":"aggTrade","E":{event_ms},"s":"{s}","a":{agg_id},"p":"{p}","q":"{q}","f":{first},"l":{last},"T":{trade_ms},"m":{m},"M":true}}"#)
            };
            agg_trade_agrees(maybe_spaced(frame, space_at).as_bytes(), 0)?;
        }

        #[test]
        fn depth_fast_path_matches_the_generic_decoder(
            futures in any::<bool>(),
            ints in prop::array::uniform5(integer_text()),
            s in symbol_text(),
            bids in levels_text(),
            asks in levels_text(),
            space_at in prop::option::weighted(0.1, any::<usize>()),
        ) {
            let [event_ms, trade_ms, first, last, prev] = &ints;
            let frame = if futures {
                format!(r#"{{"e":"depthUpdate","E":{event_ms},"T":{trade_ms},"s":"{s}","U":{first},"u":{last},"pu":{prev},"b":{bids},"a":{asks}}}"#)
            } else {
                format!(r#"{{"e":"depthUpdate","E":{event_ms},"s":"{s}","U":{first},"u":{last},"b":{bids},"a":{asks}}}"#)
            };
            depth_agrees(maybe_spaced(frame, space_at).as_bytes(), 0)?;
        }
    }

    /// Every hot frame of the real captures takes the fast path and decodes exactly as the
    /// generic decoder does (the layouts are Binance's own, not guessed).
    #[test]
    fn fast_paths_take_every_real_hot_frame_and_match_the_generic_decoder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
        if !dir.exists() {
            eprintln!("SKIP: real captures not found at {}", dir.display());
            return;
        }
        let mut taken = std::collections::BTreeMap::<&str, usize>::new();
        for capture in [
            "hftbacktest/binance_spot/btcusdt_20240808.gz",
            "hftbacktest/binance_usdm/btcusdt_20240808.gz",
            "cryptofeed/binance_spot_2021-10-12.jsonl.gz",
            "cryptofeed/binance_usdm_2021-07-22_SUSHI_AKRO.jsonl.gz",
        ] {
            let file = std::fs::File::open(dir.join(capture)).expect("capture opens");
            let reader = BufReader::new(flate2::read::GzDecoder::new(file));
            for line in reader.lines() {
                let line = line.expect("capture is text");
                let frame = if line.starts_with('{') {
                    // cryptofeed: the frame is the JSON string in "data" of a "recv" line.
                    let record: serde_json::Value =
                        serde_json::from_str(&line).expect("capture line is JSON");
                    match (record["t"].as_str(), record["data"].as_str()) {
                        (Some("recv"), Some(data)) => data.to_owned(),
                        _ => continue,
                    }
                } else {
                    match line.split_once(' ') {
                        Some((_, json)) => json.to_owned(),
                        None => continue,
                    }
                };
                let Some(at) = frame.find(",\"data\":{").map(|i| i + 8) else {
                    continue;
                };
                let bytes = frame.as_bytes();
                let payload = &frame[at..];
                let (kind, accepted) = if frame.contains("@bookTicker") {
                    ("bookTicker", book_ticker_agrees(bytes, at))
                } else if payload.starts_with(r#"{"e":"trade""#) {
                    ("trade", trade_agrees(bytes, at))
                } else if payload.starts_with(r#"{"e":"aggTrade""#) {
                    ("aggTrade", agg_trade_agrees(bytes, at))
                } else if payload.starts_with(r#"{"e":"depthUpdate""#) {
                    ("depthUpdate", depth_agrees(bytes, at))
                } else {
                    continue;
                };
                match accepted {
                    Ok(true) => {}
                    Ok(false) => panic!("{capture}: fast path declined {frame}"),
                    Err(disagreement) => panic!("{capture}: {disagreement}"),
                }
                *taken.entry(kind).or_default() += 1;
            }
        }
        for kind in ["bookTicker", "trade", "aggTrade", "depthUpdate"] {
            assert!(
                taken.get(kind).is_some_and(|&n| n > 0),
                "no real {kind} frames: {taken:?}"
            );
        }
    }
}
