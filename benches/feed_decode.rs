//! Binance frame decoding on the feed thread, against DESIGN.md: trade / bookTicker decode
//! ≤ 150 ns; a 20+20-level depth diff is the decode half of the ≤ 1.5 µs decode + apply
//! (`binance_depth/decode_apply20`, with `binance_depth/apply20` as the apply half alone).
//! Frames are real ones from the shared captures (combined-stream form) when present.

use std::hint::black_box;
use std::io::{BufRead, BufReader};

use criterion::{criterion_group, criterion_main, Criterion};
use flate2::read::GzDecoder;
use kestrel::book::L2Book;
use kestrel::core::{Level, Price, Qty, SymbolTable};
use kestrel::feed::binance::{BinanceDecoder, Decoded};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");

const BOOK_TICKER: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
const TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
const USDM_BOOK_TICKER: &str = r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}"#;
const USDM_TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
const AGG_TRADE: &str = r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}}"#;

/// The first frame of `stream_suffix` in a gzip capture whose lines hold the frame after `skip`.
fn first_frame(path: &str, stream_suffix: &str, fallback: &str) -> String {
    let Ok(file) = std::fs::File::open(format!("{SHARED}/{path}")) else {
        println!("shared capture {path} not found; using the built-in frame");
        return fallback.to_owned();
    };
    let needle = format!("@{stream_suffix}\",\"data\"");
    for line in BufReader::new(GzDecoder::new(file))
        .lines()
        .map_while(Result::ok)
    {
        if let Some(at) = line.find("{\"stream\"") {
            if line.contains(&needle) {
                return line[at..].to_owned();
            }
        }
        if line.contains("\"t\":\"recv\"") && line.contains(&needle.replace('"', "\\\"")) {
            let parsed: serde_json::Value =
                serde_json::from_str(&line).expect("capture line is JSON");
            if let Some(data) = parsed["data"].as_str() {
                return data.to_owned();
            }
        }
    }
    fallback.to_owned()
}

/// A USDⓈ-M style diff with 20 bid and 20 ask levels around a BTC price.
fn depth20() -> String {
    let side = |base: u32, step: i32| {
        (0..20)
            .map(|i| {
                let cents = (base as i64 + i64::from(step) * i) as u64;
                format!(
                    "[\"{}.{:02}\",\"{}.{:03}\"]",
                    cents / 100,
                    cents % 100,
                    i % 7,
                    17 * i + 3
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":1723161256352,"T":1723161256352,"s":"BTCUSDT","U":5123107837801,"u":5123107842679,"pu":5123107837557,"b":[{}],"a":[{}]}}}}"#,
        side(6_180_020, -10),
        side(6_180_030, 10)
    )
}

fn binance_decode(c: &mut Criterion) {
    let mut table = SymbolTable::new();
    for name in ["BTCUSDT", "NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"] {
        table.intern(name).expect("valid symbol");
    }
    let spot = "hftbacktest/binance_spot/btcusdt_20240808.gz";
    let usdm = "hftbacktest/binance_usdm/btcusdt_20240808.gz";
    let frames = [
        ("book_ticker", first_frame(spot, "bookTicker", BOOK_TICKER)),
        ("trade", first_frame(spot, "trade", TRADE)),
        (
            "book_ticker_usdm",
            first_frame(usdm, "bookTicker", USDM_BOOK_TICKER),
        ),
        ("trade_usdm", first_frame(usdm, "trade", USDM_TRADE)),
        (
            "agg_trade",
            first_frame(
                "cryptofeed/binance_spot_2021-10-12.jsonl.gz",
                "aggTrade",
                AGG_TRADE,
            ),
        ),
        ("depth20", depth20()),
    ];
    let mut decoder = BinanceDecoder::new(&table);
    let mut group = c.benchmark_group("binance_decode");
    for (name, frame) in &frames {
        if let Err(e) = decoder.decode(frame.as_bytes(), 1) {
            panic!("bench frame {name} must decode: {e}");
        }
        group.bench_function(*name, |b| {
            b.iter(|| {
                decoder
                    .decode(black_box(frame.as_bytes()), black_box(1))
                    .is_ok()
            })
        });
    }
    group.finish();
}

/// Decode + apply, the DESIGN.md figure (≤ 1.5 µs for 20 levels): the depth20 frame decoded
/// and its levels applied to a book holding 400 levels per side around the same prices
/// (absolute quantities, so re-applying the same diff leaves the book as it was).
fn binance_depth_decode_apply(c: &mut Criterion) {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid symbol");
    let mut decoder = BinanceDecoder::new(&table);
    let mut book = L2Book::with_capacity(8_192);
    let cent = Price::parse("0.01").expect("valid price");
    let mid = Price::parse("61800.25").expect("valid price");
    for i in 1..=400i64 {
        let offset = Price::from_raw(cent.raw() * i128::from(i));
        let qty = Qty::parse("0.5").expect("valid qty");
        book.apply_bid(Level {
            price: mid.saturating_sub(offset),
            qty,
        });
        book.apply_ask(Level {
            price: mid.saturating_add(offset),
            qty,
        });
    }
    let frame = depth20();
    let (bids, asks) = match decoder.decode(frame.as_bytes(), 1) {
        Ok(Decoded::Depth(diff)) => (diff.bids.to_vec(), diff.asks.to_vec()),
        other => panic!("the depth20 frame must decode to a diff: {other:?}"),
    };
    let mut group = c.benchmark_group("binance_depth");
    group.bench_function("decode_apply20", |b| {
        b.iter(|| {
            if let Ok(Decoded::Depth(diff)) = decoder.decode(black_box(frame.as_bytes()), 1) {
                book.apply_levels(diff.bids, diff.asks);
            }
            book.best_bid()
        })
    });
    // The apply half alone, to split the combined figure (decode alone is binance_decode/depth20).
    group.bench_function("apply20", |b| {
        b.iter(|| {
            book.apply_levels(black_box(&bids), black_box(&asks));
            book.best_bid()
        })
    });
    group.finish();
}

criterion_group!(benches, binance_decode, binance_depth_decode_apply);
criterion_main!(benches);
