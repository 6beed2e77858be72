//! Every Binance frame in the shared real captures decodes without error, and each decoded
//! value equals a serde_json reference decode of the same frame, field by field (decimals
//! compared as normalised exact text, never through `f64`); per-type counts match too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use kestrel::core::event::{Level, MarketEvent, MarketEventKind, Side};
use kestrel::core::{SymbolId, SymbolTable};
use kestrel::feed::binance::{BinanceDecoder, Decoded, Ohlcv};
use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");

/// One captured input: a WebSocket frame or a REST depth snapshot body.
enum Input {
    Frame { recv_ns: u64, text: String },
    Snapshot { symbol: String, body: String },
}

fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(SHARED);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: shared real data not found at {SHARED}");
        None
    }
}

fn gz_lines(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).expect("capture file opens");
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|l| l.expect("capture line is valid UTF-8"))
        .collect()
}

/// hftbacktest: `<recv_ns> <json>` lines; the bare `{"lastUpdateId"…}` line is a REST snapshot.
fn hftbacktest(path: &Path, symbol: &str) -> Vec<Input> {
    gz_lines(path)
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (ns, json) = line.split_once(' ').expect("line is `<ns> <json>`");
            if json.starts_with("{\"lastUpdateId\"") {
                Input::Snapshot {
                    symbol: symbol.to_owned(),
                    body: json.to_owned(),
                }
            } else {
                Input::Frame {
                    recv_ns: ns.parse().expect("recv ns is an integer"),
                    text: json.to_owned(),
                }
            }
        })
        .collect()
}

/// cryptofeed: `recv` lines carry frames, `http` lines on depth URLs carry snapshots.
fn cryptofeed(path: &Path) -> Vec<Input> {
    let mut out = Vec::new();
    for line in gz_lines(path) {
        let v: Value = serde_json::from_str(&line).expect("cryptofeed line is JSON");
        let data = v["data"].as_str();
        match (v["t"].as_str(), data) {
            (Some("recv"), Some(text)) => out.push(Input::Frame {
                recv_ns: (v["ts"].as_f64().unwrap_or(0.0) * 1e9) as u64,
                text: text.to_owned(),
            }),
            (Some("http"), Some(body)) => {
                let url = v["url"].as_str().unwrap_or_default();
                if url.contains("/depth?") {
                    let symbol = url
                        .split(['?', '&'])
                        .find_map(|p| p.strip_prefix("symbol="))
                        .expect("depth URL names its symbol");
                    out.push(Input::Snapshot {
                        symbol: symbol.to_owned(),
                        body: body.to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn nautilus(dir: &Path) -> Vec<Input> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("nautilus dir lists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| Input::Frame {
            recv_ns: 1,
            text: std::fs::read_to_string(p).expect("fixture reads"),
        })
        .collect()
}

/// Exact decimal text in the shortest form `Display` of the fixed-point types gives.
fn norm(text: &str) -> String {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if neg && (int != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn dec(v: &Value, key: &str) -> String {
    norm(
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is a string in {v}")),
    )
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a u64 in {v}"))
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is an i64 in {v}"))
}

fn check_levels(reference: &Value, got: &[Level]) {
    let list = reference.as_array().expect("levels are an array");
    assert_eq!(list.len(), got.len(), "level count");
    for (r, g) in list.iter().zip(got) {
        assert_eq!(
            norm(r[0].as_str().expect("price text")),
            g.price.to_string()
        );
        assert_eq!(norm(r[1].as_str().expect("qty text")), g.qty.to_string());
    }
}

fn check_ohlcv(reference: &Value, got: &Ohlcv) {
    assert_eq!(got.open.to_string(), dec(reference, "o"));
    assert_eq!(got.high.to_string(), dec(reference, "h"));
    assert_eq!(got.low.to_string(), dec(reference, "l"));
    assert_eq!(got.close.to_string(), dec(reference, "c"));
    assert_eq!(got.volume.to_string(), dec(reference, "v"));
    assert_eq!(got.volume_quote.to_string(), dec(reference, "q"));
}

fn check_symbol(table: &SymbolTable, id: SymbolId, name: &str) {
    assert_eq!(table.name(id), Some(name), "symbol");
}

fn check_trade(table: &SymbolTable, d: &Value, ev: &MarketEvent, id_key: &str) {
    let MarketEventKind::Trade(t) = ev.kind else {
        panic!("trade event expected, got {ev:?}")
    };
    check_symbol(table, ev.symbol, d["s"].as_str().expect("s"));
    assert_eq!(ev.exch_ts_ms, num(d, "E"));
    assert_eq!(t.trade_id, num(d, id_key));
    assert_eq!(t.price.to_string(), dec(d, "p"));
    assert_eq!(t.qty.to_string(), dec(d, "q"));
    let maker = d["m"].as_bool().expect("m");
    assert_eq!(t.aggressor, if maker { Side::Sell } else { Side::Buy });
}

/// Compares one decoded frame with the serde_json reference; returns the reference type.
fn check(table: &SymbolTable, frame: &Value, decoded: &Decoded<'_>, recv_ns: u64) -> &'static str {
    let d = frame.get("data").unwrap_or(frame);
    let stream = frame["stream"].as_str().unwrap_or_default();
    let event = d["e"]
        .as_str()
        .unwrap_or(if stream.ends_with("@bookTicker") {
            "bookTicker"
        } else {
            "?"
        });
    match (event, decoded) {
        ("bookTicker", Decoded::BookTicker(ev)) => {
            let MarketEventKind::BookTicker(t) = ev.kind else {
                panic!("book ticker kind")
            };
            check_symbol(table, ev.symbol, d["s"].as_str().expect("s"));
            assert_eq!(ev.recv_ns, recv_ns);
            assert_eq!(ev.exch_ts_ms, d["E"].as_u64().unwrap_or(0));
            assert_eq!(t.update_id, num(d, "u"));
            assert_eq!(t.bid_price.to_string(), dec(d, "b"));
            assert_eq!(t.bid_qty.to_string(), dec(d, "B"));
            assert_eq!(t.ask_price.to_string(), dec(d, "a"));
            assert_eq!(t.ask_qty.to_string(), dec(d, "A"));
        }
        ("trade", Decoded::Trade(ev)) => check_trade(table, d, ev, "t"),
        (
            "aggTrade",
            Decoded::AggTrade {
                event,
                first_trade_id,
                last_trade_id,
            },
        ) => {
            check_trade(table, d, event, "a");
            assert_eq!(*first_trade_id, num(d, "f"));
            assert_eq!(*last_trade_id, num(d, "l"));
        }
        ("depthUpdate", Decoded::Depth(diff)) => {
            check_symbol(table, diff.symbol, d["s"].as_str().expect("s"));
            assert_eq!(diff.recv_ns, recv_ns);
            assert_eq!(diff.exch_ts_ms, num(d, "E"));
            assert_eq!(diff.first_update_id, num(d, "U"));
            assert_eq!(diff.last_update_id, num(d, "u"));
            assert_eq!(diff.prev_last_update_id, d["pu"].as_u64());
            check_levels(&d["b"], diff.bids);
            check_levels(&d["a"], diff.asks);
        }
        ("kline", Decoded::Kline(k)) => {
            let r = &d["k"];
            check_symbol(table, k.symbol, d["s"].as_str().expect("s"));
            assert_eq!(k.exch_ts_ms, num(d, "E"));
            assert_eq!(k.interval.code(), r["i"].as_str().expect("i"));
            assert_eq!(
                (k.open_time_ms, k.close_time_ms),
                (num(r, "t"), num(r, "T"))
            );
            assert_eq!(
                (k.first_trade_id, k.last_trade_id),
                (int(r, "f"), int(r, "L"))
            );
            check_ohlcv(r, &k.bar);
            assert_eq!(k.taker_buy_volume.to_string(), dec(r, "V"));
            assert_eq!(k.taker_buy_volume_quote.to_string(), dec(r, "Q"));
            assert_eq!(k.trade_count, num(r, "n"));
            assert_eq!(k.closed, r["x"].as_bool().expect("x"));
        }
        ("24hrTicker", Decoded::Ticker(t)) => {
            check_symbol(table, t.mini.symbol, d["s"].as_str().expect("s"));
            assert_eq!(t.mini.exch_ts_ms, num(d, "E"));
            check_ohlcv(d, &t.mini.window);
            assert_eq!(t.price_change.to_string(), dec(d, "p"));
            assert_eq!(t.price_change_pct.to_string(), dec(d, "P"));
            assert_eq!(t.weighted_avg_price.to_string(), dec(d, "w"));
            assert_eq!(t.last_qty.to_string(), dec(d, "Q"));
            assert_eq!(
                (t.window_open_ms, t.window_close_ms),
                (num(d, "O"), num(d, "C"))
            );
            assert_eq!(
                (t.first_trade_id, t.last_trade_id),
                (int(d, "F"), int(d, "L"))
            );
            assert_eq!(t.trade_count, num(d, "n"));
        }
        ("markPriceUpdate", Decoded::MarkPrice(m)) => {
            check_symbol(table, m.symbol, d["s"].as_str().expect("s"));
            assert_eq!(m.exch_ts_ms, num(d, "E"));
            assert_eq!(m.mark_price.to_string(), dec(d, "p"));
            assert_eq!(m.index_price.to_string(), dec(d, "i"));
            assert_eq!(m.estimated_settle_price.to_string(), dec(d, "P"));
            assert_eq!(m.funding_rate.map(|r| r.to_string()), Some(dec(d, "r")));
            assert_eq!(m.next_funding_ms, num(d, "T"));
        }
        (event, decoded) => panic!("reference type {event} but decoded {decoded:?}"),
    }
    match event {
        "bookTicker" => "bookTicker",
        "trade" => "trade",
        "aggTrade" => "aggTrade",
        "depthUpdate" => "depthUpdate",
        "kline" => "kline",
        "24hrTicker" => "24hrTicker",
        _ => "markPriceUpdate",
    }
}

fn decoded_type(decoded: &Decoded<'_>) -> &'static str {
    match decoded {
        Decoded::BookTicker(_) => "bookTicker",
        Decoded::Trade(_) => "trade",
        Decoded::AggTrade { .. } => "aggTrade",
        Decoded::Depth(_) => "depthUpdate",
        Decoded::PartialDepth(_) => "partialDepth",
        Decoded::Kline(_) => "kline",
        Decoded::MiniTicker(_) => "24hrMiniTicker",
        Decoded::Ticker(_) => "24hrTicker",
        Decoded::MarkPrice(_) => "markPriceUpdate",
        Decoded::ForceOrder(_) => "forceOrder",
        Decoded::SubscribeAck { .. } => "subscribeAck",
    }
}

/// Symbols named anywhere in the inputs, interned so the decoder knows them.
fn symbol_table(inputs: &[Input]) -> SymbolTable {
    let mut table = SymbolTable::new();
    for input in inputs {
        match input {
            Input::Frame { text, .. } => {
                let v: Value = serde_json::from_str(text).expect("frame is JSON");
                let d = v.get("data").unwrap_or(&v);
                if let Some(s) = d["s"].as_str() {
                    table.intern(s).expect("symbol interns");
                }
            }
            Input::Snapshot { symbol, .. } => {
                table.intern(symbol).expect("symbol interns");
            }
        }
    }
    table
}

/// Decodes every input and checks it; returns (reference counts, decoded counts).
fn run(inputs: &[Input]) -> (BTreeMap<&'static str, usize>, BTreeMap<&'static str, usize>) {
    let table = symbol_table(inputs);
    let mut decoder = BinanceDecoder::new(&table);
    let mut reference_counts = BTreeMap::new();
    let mut decoded_counts = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        match input {
            Input::Frame { recv_ns, text } => {
                let reference: Value = serde_json::from_str(text).expect("frame is JSON");
                let decoded = decoder
                    .decode(text.as_bytes(), *recv_ns)
                    .unwrap_or_else(|e| panic!("input {i} failed ({e}): {text}"));
                *decoded_counts.entry(decoded_type(&decoded)).or_insert(0) += 1;
                let kind = check(&table, &reference, &decoded, *recv_ns);
                *reference_counts.entry(kind).or_insert(0) += 1;
            }
            Input::Snapshot { symbol, body } => {
                let reference: Value = serde_json::from_str(body).expect("snapshot is JSON");
                let id = table
                    .get(symbol.as_bytes())
                    .expect("snapshot symbol interned");
                let snap = decoder
                    .decode_snapshot(body.as_bytes(), id)
                    .unwrap_or_else(|e| panic!("snapshot {i} failed: {e}"));
                assert_eq!(snap.symbol, id);
                assert_eq!(snap.last_update_id, num(&reference, "lastUpdateId"));
                assert_eq!(snap.exch_ts_ms, reference["E"].as_u64().unwrap_or(0));
                check_levels(&reference["bids"], &snap.bids);
                check_levels(&reference["asks"], &snap.asks);
                *reference_counts.entry("snapshot").or_insert(0) += 1;
                *decoded_counts.entry("snapshot").or_insert(0) += 1;
            }
        }
    }
    (reference_counts, decoded_counts)
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

#[test]
fn hftbacktest_spot_capture_decodes_every_frame_like_the_reference() {
    let Some(dir) = shared_dir() else { return };
    let inputs = hftbacktest(
        &dir.join("hftbacktest/binance_spot/btcusdt_20240808.gz"),
        "BTCUSDT",
    );
    let (reference, decoded) = run(&inputs);
    assert_eq!(reference, decoded);
    let expected = [
        ("bookTicker", 28_040),
        ("depthUpdate", 3_451),
        ("snapshot", 1),
        ("trade", 9_757),
    ];
    assert_eq!(decoded, counts(&expected));
}

#[test]
fn hftbacktest_usdm_capture_decodes_every_frame_like_the_reference() {
    let Some(dir) = shared_dir() else { return };
    let inputs = hftbacktest(
        &dir.join("hftbacktest/binance_usdm/btcusdt_20240808.gz"),
        "BTCUSDT",
    );
    let (reference, decoded) = run(&inputs);
    assert_eq!(reference, decoded);
    let expected = [
        ("bookTicker", 66_089),
        ("depthUpdate", 6_551),
        ("snapshot", 1),
        ("trade", 21_313),
    ];
    assert_eq!(decoded, counts(&expected));
}

#[test]
fn cryptofeed_spot_capture_decodes_every_frame_and_snapshot_like_the_reference() {
    let Some(dir) = shared_dir() else { return };
    let inputs = cryptofeed(&dir.join("cryptofeed/binance_spot_2021-10-12.jsonl.gz"));
    let (reference, decoded) = run(&inputs);
    assert_eq!(reference, decoded);
    let expected = [
        ("aggTrade", 2),
        ("bookTicker", 84),
        ("depthUpdate", 177),
        ("kline", 2),
        ("snapshot", 4),
    ];
    assert_eq!(decoded, counts(&expected));
}

#[test]
fn cryptofeed_usdm_capture_decodes_every_frame_and_snapshot_like_the_reference() {
    let Some(dir) = shared_dir() else { return };
    let inputs = cryptofeed(&dir.join("cryptofeed/binance_usdm_2021-07-22_SUSHI_AKRO.jsonl.gz"));
    let (reference, decoded) = run(&inputs);
    assert_eq!(reference, decoded);
    let expected = [
        ("aggTrade", 48),
        ("bookTicker", 393),
        ("depthUpdate", 444),
        ("kline", 30),
        ("snapshot", 2),
    ];
    assert_eq!(decoded, counts(&expected));
}

#[test]
fn nautilus_futures_fixtures_decode_like_the_reference() {
    let Some(dir) = shared_dir() else { return };
    let inputs = nautilus(&dir.join("nautilus/binance/futures/market_data_json"));
    let (reference, decoded) = run(&inputs);
    assert_eq!(reference, decoded);
    let expected = [
        ("24hrTicker", 1),
        ("aggTrade", 1),
        ("bookTicker", 1),
        ("depthUpdate", 1),
        ("kline", 1),
        ("markPriceUpdate", 1),
    ];
    assert_eq!(decoded, counts(&expected));
}

#[test]
fn norm_gives_the_shortest_exact_text() {
    assert_eq!(norm("61837.63000000"), "61837.63");
    assert_eq!(norm("0.00000000"), "0");
    assert_eq!(norm("-0.786"), "-0.786");
    assert_eq!(norm("100"), "100");
    assert_eq!(norm("0.0010"), "0.001");
}
