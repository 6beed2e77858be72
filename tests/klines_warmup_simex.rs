//! The start-up warm-up path end to end: the simulator replays the bundled capture and
//! serves `/api/v3/klines` from the trades it has replayed; the engine's
//! `fetch_closed_klines` takes the closed candles only, and every one of them equals the
//! 1-minute bar the engine's own bar aggregator builds from the same recorded trades.

mod simex_support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use kestrel::book::{Bar, BarAggregator};
use kestrel::core::{Market, Price, Qty, Side, SymbolId, TradePrint};
use kestrel::feed::binance::klines::fetch_closed_klines;
use kestrel::sim::{Market as SimMarket, Speed};

/// The bundled capture's trades, as 1-minute bars built by the engine's aggregator.
fn bars_from_capture() -> Vec<Bar> {
    let file = std::fs::File::open(simex_support::path("data/binance_spot_btcusdt_20240808.gz"))
        .expect("bundled capture");
    let mut agg = BarAggregator::new(SymbolId(0), &[]).expect("1m only");
    let mut bars = Vec::new();
    for line in BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines() {
        let line = line.expect("capture line");
        let Some((_, frame)) = line.split_once(' ') else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(frame).expect("json frame");
        let data = &v["data"];
        if data["e"] != "trade" {
            continue;
        }
        let text = |k: &str| data[k].as_str().expect("decimal string").to_owned();
        let trade = TradePrint {
            trade_id: data["t"].as_u64().expect("id"),
            price: Price::parse(&text("p")).expect("price"),
            qty: Qty::parse(&text("q")).expect("qty"),
            aggressor: if data["m"].as_bool().expect("m") {
                Side::Sell
            } else {
                Side::Buy
            },
        };
        let time = data["T"].as_u64().expect("trade time");
        let _ = agg.on_trade(&trade, time, &mut |b: &Bar| bars.push(*b));
    }
    bars
}

#[test]
fn warm_up_klines_are_the_closed_bars_of_the_replayed_trades() {
    let handle = simex_support::start(simex_support::config(
        SimMarket::Spot,
        Speed::Times(60.0),
        false,
    ));
    let addr = handle.addr(SimMarket::Spot).expect("spot served");
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let fetched = loop {
        let bars = fetch_closed_klines(&base, None, Market::Spot, "BTCUSDT", SymbolId(0), 1, 1000)
            .expect("klines fetch");
        if bars.len() >= 3 || Instant::now() > deadline {
            break bars;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    handle.stop().expect("simex stops");
    assert!(
        fetched.len() >= 3,
        "three closed minutes were replayed: {fetched:?}"
    );
    let expected = bars_from_capture();
    for bar in &fetched {
        assert_eq!(bar.close_time_ms - bar.open_time_ms, 60_000);
        let same = expected
            .iter()
            .find(|e| e.open_time_ms == bar.open_time_ms)
            .unwrap_or_else(|| panic!("a recorded minute at {}", bar.open_time_ms));
        assert_eq!(
            (
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                bar.trade_count
            ),
            (
                same.open,
                same.high,
                same.low,
                same.close,
                same.volume,
                same.trade_count
            ),
            "minute {}",
            bar.open_time_ms
        );
    }
    assert!(
        fetched
            .windows(2)
            .all(|w| w[0].close_time_ms <= w[1].open_time_ms),
        "oldest first, no overlap"
    );
}
