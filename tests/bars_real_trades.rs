//! Closes bars from the real Binance BTCUSDT trades (hftbacktest captures, spot and USDⓈ-M,
//! 2024-08-08 23:54 → 2024-08-09 00:00 UTC, so every timeframe closes at midnight) and checks
//! them against a reference computed here with plain integer arithmetic.

use flate2::read::GzDecoder;
use kestrel::book::{Bar, BarAggregator, TradeOutcome, MINUTE_MS};
use kestrel::core::{Notional, Price, Qty, Side, SymbolId, TradePrint};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");
const TIMEFRAMES: [u32; 5] = [1, 5, 60, 240, 1440];
/// 2024-08-09 00:00:00 UTC.
const MIDNIGHT_MS: u64 = 1_723_161_600_000;

/// Trades (trade time `T` in ms, print) from one capture, or `None` when the data is absent.
fn trades(rel: &str) -> Option<Vec<(u64, TradePrint)>> {
    let path = Path::new(DATA).join(rel);
    if !path.exists() {
        println!("SKIP: shared capture {} is absent", path.display());
        return None;
    }
    let file = std::fs::File::open(&path).expect("capture opens");
    let mut out = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line.expect("capture line is valid UTF-8");
        if !line.contains("@trade") {
            continue;
        }
        let (_, json) = line.split_once(' ').expect("recv_ns then JSON");
        let v: Value = serde_json::from_str(json).expect("frame is JSON");
        let d = &v["data"];
        let print = TradePrint {
            trade_id: d["t"].as_u64().expect("t"),
            price: Price::parse(d["p"].as_str().expect("p")).expect("price parses"),
            qty: Qty::parse(d["q"].as_str().expect("q")).expect("qty parses"),
            // `m`: the buyer is the maker, so the seller took liquidity.
            aggressor: if d["m"].as_bool().expect("m") {
                Side::Sell
            } else {
                Side::Buy
            },
        };
        out.push((d["T"].as_u64().expect("T"), print));
    }
    Some(out)
}

/// Reference bars per (timeframe, bucket start), built in arrival order; flat buckets filled
/// between the first and last traded bucket with the previous close.
fn reference(trades: &[(u64, TradePrint)], minutes: u32) -> Vec<Bar> {
    let period = u64::from(minutes) * MINUTE_MS;
    let mut buckets: BTreeMap<u64, Bar> = BTreeMap::new();
    for &(ms, t) in trades {
        let start = ms / period * period;
        // Inputs have at most 8 decimals: divide first so the product fits, then rescale.
        let notional = (t.price.raw() / 10_000_000_000) * (t.qty.raw() / 10_000_000_000) * 100;
        let bar = buckets.entry(start).or_insert(Bar {
            symbol: SymbolId(7),
            timeframe_min: minutes,
            open_time_ms: start,
            close_time_ms: start + period,
            open: t.price,
            high: t.price,
            low: t.price,
            ..Bar::default()
        });
        bar.high = bar.high.max(t.price);
        bar.low = bar.low.min(t.price);
        bar.close = t.price;
        bar.volume = Qty::from_raw(bar.volume.raw() + t.qty.raw());
        bar.quote_volume = Notional::from_raw(bar.quote_volume.raw() + notional);
        bar.trade_count += 1;
    }
    let mut out: Vec<Bar> = Vec::new();
    for (_, bar) in buckets {
        while let Some(prev) = out.last().copied() {
            if prev.close_time_ms >= bar.open_time_ms {
                break;
            }
            out.push(Bar {
                open_time_ms: prev.close_time_ms,
                close_time_ms: prev.close_time_ms + period,
                open: prev.close,
                high: prev.close,
                low: prev.close,
                volume: Qty::ZERO,
                quote_volume: Notional::ZERO,
                trade_count: 0,
                ..prev
            });
        }
        out.push(bar);
    }
    out
}

/// Feeds every trade, then closes the last minute with `on_time`; returns emitted bars.
fn aggregate(trades: &[(u64, TradePrint)]) -> (BarAggregator, Vec<Bar>) {
    let mut agg = BarAggregator::new(SymbolId(7), &TIMEFRAMES[1..]).expect("valid timeframes");
    let mut emitted = Vec::new();
    for (ms, trade) in trades {
        let outcome = agg.on_trade(trade, *ms, &mut |b: &Bar| emitted.push(*b));
        assert_eq!(outcome, TradeOutcome::Accepted);
    }
    let last_ms = trades.last().expect("captures have trades").0;
    let minute_end = last_ms / MINUTE_MS * MINUTE_MS + MINUTE_MS;
    agg.on_time(minute_end, &mut |b: &Bar| emitted.push(*b));
    (agg, emitted)
}

fn check_against_reference(trades: &[(u64, TradePrint)], emitted: &[Bar]) {
    let last_ms = trades.last().expect("captures have trades").0;
    let minute_end = last_ms / MINUTE_MS * MINUTE_MS + MINUTE_MS;
    for minutes in TIMEFRAMES {
        let got: Vec<Bar> = emitted
            .iter()
            .filter(|b| b.timeframe_min == minutes)
            .copied()
            .collect();
        let want: Vec<Bar> = reference(trades, minutes)
            .into_iter()
            .filter(|b| b.close_time_ms <= minute_end)
            .collect();
        assert!(
            !want.is_empty(),
            "{minutes}m: the capture closes at least one bar"
        );
        assert_eq!(got, want, "{minutes}m bars");
    }
}

#[test]
fn spot_trades_close_bars_on_every_timeframe_at_utc_midnight() {
    let Some(trades) = trades("hftbacktest/binance_spot/btcusdt_20240808.gz") else {
        return;
    };
    assert!(trades.len() > 9000);
    assert!(
        trades.last().expect("trades").0 > MIDNIGHT_MS,
        "capture crosses midnight UTC"
    );
    let (agg, emitted) = aggregate(&trades);
    check_against_reference(&trades, &emitted);
    let daily: Vec<&Bar> = emitted.iter().filter(|b| b.timeframe_min == 1440).collect();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].close_time_ms, MIDNIGHT_MS);
    let four_hour = emitted
        .iter()
        .find(|b| b.timeframe_min == 240)
        .expect("4h bar");
    assert_eq!(four_hour.open_time_ms, MIDNIGHT_MS - 4 * 60 * MINUTE_MS);
    let c = agg.counters();
    assert_eq!(
        (c.trades as usize, c.late_trades, c.gap_minutes),
        (trades.len(), 0, 0)
    );
}

#[test]
fn futures_trades_close_bars_matching_the_reference() {
    let Some(trades) = trades("hftbacktest/binance_usdm/btcusdt_20240808.gz") else {
        return;
    };
    assert!(trades.len() > 20_000);
    let (_, emitted) = aggregate(&trades);
    check_against_reference(&trades, &emitted);
}

#[test]
fn minutes_without_trades_become_flat_bars_in_real_data() {
    let Some(all) = trades("hftbacktest/binance_spot/btcusdt_20240808.gz") else {
        return;
    };
    // Remove two whole minutes (23:56 and 23:57) to make a real gap.
    let gap_start = MIDNIGHT_MS - 4 * MINUTE_MS;
    let gap_end = gap_start + 2 * MINUTE_MS;
    let trades: Vec<(u64, TradePrint)> = all
        .into_iter()
        .filter(|(ms, _)| *ms < gap_start || *ms >= gap_end)
        .collect();
    let (agg, emitted) = aggregate(&trades);
    check_against_reference(&trades, &emitted);
    let flat: Vec<&Bar> = emitted.iter().filter(|b| b.trade_count == 0).collect();
    assert_eq!(flat.len(), 2);
    let before = emitted
        .iter()
        .find(|b| b.timeframe_min == 1 && b.close_time_ms == gap_start)
        .expect("the minute before the gap");
    for bar in flat {
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close),
            (before.close, before.close, before.close, before.close)
        );
        assert_eq!(bar.volume, Qty::ZERO);
    }
    assert_eq!(agg.counters().gap_minutes, 2);
}

#[test]
fn replayed_trades_after_a_timer_close_are_late_and_do_not_change_bars() {
    let Some(trades) = trades("hftbacktest/binance_spot/btcusdt_20240808.gz") else {
        return;
    };
    let (mut agg, emitted) = aggregate(&trades);
    let before = emitted.len();
    let mut more = Vec::new();
    for (ms, trade) in trades.iter().take(100) {
        let outcome = agg.on_trade(trade, *ms, &mut |b: &Bar| more.push(*b));
        assert_eq!(outcome, TradeOutcome::Late);
    }
    assert!(more.is_empty());
    assert_eq!(agg.counters().late_trades, 100);
    assert_eq!(emitted.len(), before);
}
