//! The backtester's inputs on real data: the bundled captures yield exactly what the live
//! feed's frame handling publishes and the same final book as `kestrel replay`; every
//! data.binance.vision sample, the freqtrade candle file and Binance REST klines read
//! exactly; the candle path is checked print by print; several inputs merge in time order
//! within a window; and each kind of bad data is refused (file and line) or repaired and
//! counted.

#[allow(dead_code)] // Only `real_data_dir` is used here.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use kestrel::backtest::input::{
    guess_capture_market, open_inputs, CaptureInput, InputEvent, InputItem, InputOptions,
    InputSpec, MarketInput, Stamp,
};
use kestrel::book::Bar;
use kestrel::core::{MarketEventKind, Price, Qty, Side, SymbolTable};
use kestrel::feed::binance::book_replay::replay_book;
use kestrel::feed::binance::BinanceMarket;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn table(names: &[&str]) -> SymbolTable {
    let mut table = SymbolTable::new();
    for name in names {
        table.intern(name).expect("valid symbol name");
    }
    table
}

fn drain(input: &mut dyn MarketInput) -> anyhow::Result<Vec<InputItem>> {
    let mut items = Vec::new();
    while let Some(item) = input.next_item()? {
        items.push(item);
    }
    Ok(items)
}

fn open_all(specs: &[&str], table: &SymbolTable, options: &InputOptions) -> Vec<InputItem> {
    let specs: Vec<InputSpec> = specs
        .iter()
        .map(|s| InputSpec::parse(s).expect("valid spec"))
        .collect();
    let mut input = open_inputs(&specs, table, options).expect("inputs open");
    drain(&mut input).expect("inputs read")
}

fn repair(input: &dyn MarketInput, name: &str) -> u64 {
    let repairs = input.repairs();
    let mut sorted = repairs.clone();
    sorted.sort();
    assert_eq!(repairs, sorted, "repairs are sorted by name");
    repairs
        .iter()
        .find(|(n, _)| n == name)
        .map_or_else(|| panic!("no repair named {name} in {repairs:?}"), |r| r.1)
}

/// (bookTicker, trade, book) events of the items.
fn kinds(items: &[InputItem]) -> [u64; 3] {
    let mut out = [0; 3];
    for item in items {
        if let InputEvent::Market(event) = item.event {
            out[match event.kind {
                MarketEventKind::BookTicker(_) => 0,
                MarketEventKind::Trade(_) => 1,
                MarketEventKind::Book(_) => 2,
            }] += 1;
        }
    }
    out
}

fn trades(items: &[InputItem]) -> Vec<(u64, kestrel::core::TradePrint)> {
    items
        .iter()
        .filter_map(|item| match item.event {
            InputEvent::Market(event) => match event.kind {
                MarketEventKind::Trade(trade) => Some((item.ts_ns, trade)),
                _ => None,
            },
            InputEvent::Bar(_) => None,
        })
        .collect()
}

fn bars(items: &[InputItem]) -> Vec<(u64, Bar)> {
    items
        .iter()
        .filter_map(|item| match item.event {
            InputEvent::Bar(bar) => Some((item.ts_ns, bar)),
            InputEvent::Market(_) => None,
        })
        .collect()
}

/// Lines of a capture by frame type: (bookTicker, trade, depth, snapshot), and the depth
/// lines after the snapshot.
fn capture_line_types(path: &Path) -> ([u64; 4], u64) {
    let file = std::fs::File::open(path).expect("open capture");
    let mut out = [0; 4];
    let mut depth_after_snapshot = 0;
    for line in BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines() {
        let line = line.expect("capture line");
        let frame = line.split_once(' ').expect("<recv_ns> <frame>").1;
        let slot = if frame.starts_with("{\"lastUpdateId\"") {
            3
        } else if frame.contains("@bookTicker\"") {
            0
        } else if frame.contains("@trade\"") {
            1
        } else {
            assert!(frame.contains("@depth"), "unexpected frame {frame}");
            depth_after_snapshot += u64::from(out[3] > 0);
            2
        };
        out[slot] += 1;
    }
    (out, depth_after_snapshot)
}

fn check_bundled_capture(name: &str, market: BinanceMarket, expected_lines: [u64; 4]) {
    let path = data(name);
    assert_eq!(
        guess_capture_market(&path).expect("capture reads"),
        Some(market)
    );
    let (lines, depth_after_snapshot) = capture_line_types(&path);
    assert_eq!(lines, expected_lines);
    let table = table(&["BTCUSDT"]);
    let mut input = CaptureInput::open(&path, false, market, None, &table).expect("opens");
    let items = drain(&mut input).expect("the bundled capture reads to its end");
    let books = input.frame_books();
    let counters = *books.counters();

    // The live counters: every stream line was a frame, nothing dropped or foreign.
    assert_eq!(
        counters.frames,
        expected_lines[0] + expected_lines[1] + expected_lines[2]
    );
    assert_eq!(input.snapshots(), expected_lines[3]);
    assert_eq!(counters.decode_errors.iter().sum::<u64>(), 0);
    assert_eq!(counters.foreign_symbol, 0);
    assert_eq!(counters.outbox_full, 0);
    // What was published is what the items carry, and what the file holds minus the live
    // feed's de-duplication.
    assert_eq!(kinds(&items), counters.published);
    assert_eq!(
        counters.published[0] + counters.ticker_duplicates,
        expected_lines[0]
    );
    assert_eq!(
        counters.published[1] + counters.trade_duplicates,
        expected_lines[1]
    );
    let sync = books.sync_counters();
    assert_eq!(sync.gaps, 0);
    assert_eq!(sync.snapshots_loaded, 1);
    // One book event for the snapshot that synced the book, then one per diff recorded
    // after it (the captures are gap-free; diffs before it were buffered, not published).
    assert_eq!(counters.published[2], depth_after_snapshot + 1);
    assert!(counters.published[2] > 0 && counters.published[1] > 0);
    assert_eq!(repair(&input, "duplicate_rows"), 0);
    assert_eq!(repair(&input, "foreign_symbol"), 0);

    // Stamps: received, non-decreasing, recv_ns == ts_ns.
    let mut last = 0;
    for item in &items {
        assert_eq!(item.stamp, Stamp::Received);
        assert!(item.ts_ns >= last);
        last = item.ts_ns;
        let InputEvent::Market(event) = item.event else {
            panic!("a capture yields market events only");
        };
        assert_eq!(event.recv_ns, item.ts_ns);
    }

    // The same final book as `kestrel replay`.
    let report =
        replay_book(std::slice::from_ref(&path), "BTCUSDT", market, 20).expect("replay runs");
    let symbol = table.get(b"BTCUSDT").expect("interned");
    let book = books.book(symbol).expect("configured symbol");
    assert!(book.is_valid());
    assert_eq!(book.last_update_id(), report.last_update_id);
    let as_text = |levels: &[[String; 2]]| -> Vec<(Price, Qty)> {
        levels
            .iter()
            .map(|[p, q]| {
                (
                    Price::parse(p).expect("price text"),
                    Qty::parse(q).expect("qty text"),
                )
            })
            .collect()
    };
    let ours = |levels: Vec<kestrel::core::Level>| -> Vec<(Price, Qty)> {
        levels.into_iter().map(|l| (l.price, l.qty)).collect()
    };
    assert_eq!(
        ours(book.book().bids().take(20).collect()),
        as_text(&report.bids)
    );
    assert_eq!(
        ours(book.book().asks().take(20).collect()),
        as_text(&report.asks)
    );
    // The last book event carries that book's top.
    let last_top = items
        .iter()
        .rev()
        .find_map(|item| match item.event {
            InputEvent::Market(event) => match event.kind {
                MarketEventKind::Book(top) => Some(top),
                _ => None,
            },
            InputEvent::Bar(_) => None,
        })
        .expect("book events");
    assert!(last_top.valid);
    assert_eq!(last_top.last_update_id, report.last_update_id);
    assert_eq!(
        (last_top.bids[0].price, last_top.bids[0].qty),
        as_text(&report.bids)[0]
    );
    assert_eq!(
        (last_top.asks[0].price, last_top.asks[0].qty),
        as_text(&report.asks)[0]
    );

    // Progress: the whole compressed file was read.
    let (done, total) = input.progress();
    assert_eq!(total, std::fs::metadata(&path).expect("stat").len());
    assert_eq!(done, total);
}

#[test]
fn bundled_spot_capture_yields_the_live_feeds_events_and_replays_book() {
    check_bundled_capture(
        "binance_spot_btcusdt_20240808.gz",
        BinanceMarket::Spot,
        [28_040, 9_757, 3_451, 1],
    );
}

#[test]
fn bundled_usdm_capture_yields_the_live_feeds_events_and_replays_book() {
    check_bundled_capture(
        "binance_usdm_btcusdt_20240808.gz",
        BinanceMarket::Usdm,
        [66_089, 21_313, 6_551, 1],
    );
}

#[test]
fn a_capture_through_open_inputs_matches_the_capture_input_and_honours_the_window() {
    let path = data("binance_spot_btcusdt_20240808.gz");
    let table = table(&["BTCUSDT"]);
    let mut direct =
        CaptureInput::open(&path, false, BinanceMarket::Spot, None, &table).expect("opens");
    let all = drain(&mut direct).expect("reads");
    let spec = path.display().to_string();
    let merged = open_all(&[&spec], &table, &InputOptions::default());
    assert_eq!(merged, all);

    let from_ns = all[all.len() / 3].ts_ns;
    let to_ns = all[2 * all.len() / 3].ts_ns;
    let options = InputOptions {
        from_ns,
        to_ns,
        ..InputOptions::default()
    };
    let window = open_all(&[&spec], &table, &options);
    let expected: Vec<InputItem> = all
        .iter()
        .copied()
        .filter(|i| i.ts_ns >= from_ns && i.ts_ns < to_ns)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(window, expected);
}

fn vision_dir() -> Option<PathBuf> {
    common::real_data_dir("vision samples").map(|d| d.join("bbgo_binance_vision_format"))
}

#[test]
fn every_vision_sample_reads_in_its_dialect() {
    let Some(dir) = vision_dir() else { return };
    let table = table(&["BTCUSDT"]);
    let options = InputOptions::default();
    let read = |rel: &str| open_all(&[&dir.join(rel).display().to_string()], &table, &options);

    let agg = read("spot/BTCUSDT-aggTrades-2023-11-17.csv");
    let prints = trades(&agg);
    assert_eq!(prints.len(), 4);
    assert_eq!(prints[0].0, 1_700_179_200_000 * 1_000_000);
    assert_eq!(prints[0].1.trade_id, 2_759_293_842);
    assert_eq!(prints[0].1.price, Price::parse("36163.51").expect("price"));
    assert_eq!(prints[0].1.qty, Qty::parse("0.00207").expect("qty"));
    assert_eq!(prints[0].1.aggressor, Side::Sell); // buyer was maker
    assert_eq!(prints[2].1.aggressor, Side::Buy);
    assert!(agg.iter().all(|i| i.stamp == Stamp::Exchange));

    // Spot klines in µs: 4 candles → 4 prints and a bar each, times in ms.
    let spot_klines = read("spot/BTCUSDT-1m-2026-09-15.csv");
    assert_eq!(spot_klines.len(), 20);
    let spot_bars = bars(&spot_klines);
    assert_eq!(spot_bars.len(), 4);
    assert_eq!(spot_bars[0].1.open_time_ms, 1_789_430_400_000);
    assert_eq!(spot_bars[0].1.close_time_ms, 1_789_430_460_000);
    assert_eq!(spot_bars[0].0, 1_789_430_460_000 * 1_000_000);
    assert_eq!(spot_bars[0].1.trade_count, 1076);
    assert_eq!(trades(&spot_klines)[3].0, 1_789_430_459_999 * 1_000_000);

    let um_klines = read("um/BTCUSDT-1h-2026-09-15.csv");
    let um_bars = bars(&um_klines);
    assert_eq!(um_bars.len(), 3);
    assert_eq!(um_bars[2].1.timeframe_min, 60);
    assert_eq!(um_bars[2].1.close, Price::parse("77878.30").expect("price"));
    assert_eq!(trades(&um_klines).len(), 12);

    let um_trades = trades(&read("um/BTCUSDT-trades-2026-09-15.csv"));
    assert_eq!(
        um_trades.iter().map(|t| t.1.trade_id).collect::<Vec<_>>(),
        [8_078_264_332, 8_078_264_333, 8_078_264_334]
    );
    assert_eq!(um_trades[0].1.aggressor, Side::Buy);
    let um_agg = trades(&read("um/BTCUSDT-aggTrades-2026-09-15.csv"));
    assert_eq!(um_agg.len(), 5);
    assert_eq!(um_agg[4].0, 1_789_430_400_008 * 1_000_000);

    let tickers = read("um/BTCUSDT-bookTicker-2024-01-15.csv");
    assert_eq!(kinds(&tickers), [3, 0, 0]);
    assert_eq!(tickers[0].ts_ns, 1_705_276_800_018 * 1_000_000); // event time

    // bookDepth is not a supported archive: an error naming the file.
    let depth = dir.join("um/BTCUSDT-bookDepth-2026-09-15.csv");
    let specs = [InputSpec::new(&depth)];
    let error = open_inputs(&specs, &table, &options).expect_err("unknown archive");
    let text = format!("{error:#}");
    assert!(
        text.contains("BTCUSDT-bookDepth-2026-09-15.csv:0"),
        "{text}"
    );

    // A symbol the run does not trade is refused.
    let eth_only = self::table(&["ETHUSDT"]);
    let specs = [InputSpec::new(dir.join("um/BTCUSDT-trades-2026-09-15.csv"))];
    let error = open_inputs(&specs, &eth_only, &options).expect_err("unknown symbol");
    assert!(format!("{error:#}").contains("not in the run's symbol table"));
}

#[test]
fn the_freqtrade_candle_file_reads_exactly_with_its_gaps_counted() {
    let Some(dir) = common::real_data_dir("freqtrade candles") else {
        return;
    };
    let path = dir.join("freqtrade/UNITTEST_BTC-1m.json");
    let table = table(&["BTCUSDT"]);
    let spec = InputSpec::parse(&format!("BTCUSDT:candles:{}", path.display())).expect("spec");
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    let items = drain(&mut input).expect("reads");
    let all_bars = bars(&items);
    assert_eq!(all_bars.len(), 13_681);
    assert_eq!(repair(&input, "kline_gaps"), 538);
    assert_eq!(repair(&input, "duplicate_rows"), 0);
    let first = all_bars[0].1;
    assert_eq!(first.timeframe_min, 1);
    assert_eq!(first.open_time_ms, 1_509_836_520_000);
    assert_eq!(first.open, Price::parse("0.00162008").expect("price"));
    assert_eq!(first.volume, Qty::parse("108.14853839").expect("qty"));
    // 108.14853839 / 4 exactly.
    let prints = trades(&items);
    assert_eq!(prints[0].1.qty, Qty::parse("27.0371345975").expect("qty"));
    // A volume written with an exponent is read exactly.
    let tiny = all_bars
        .iter()
        .find(|(_, b)| b.open_time_ms == 1_509_880_080_000)
        .expect("the candle with volume 9.417e-05");
    assert_eq!(tiny.1.volume, Qty::parse("0.00009417").expect("qty"));
    assert_eq!(
        all_bars[13_680].1.close,
        Price::parse("0.00270002").expect("p")
    );
    let (done, total) = input.progress();
    assert_eq!((done, total), (1_037_421, 1_037_421));

    // Without a symbol, `UNITTEST_BTC` is not in the table: a clear error.
    let error = open_inputs(&[InputSpec::new(&path)], &table, &InputOptions::default())
        .expect_err("symbol unknown");
    assert!(format!("{error:#}").contains("UNITTEST_BTC"), "{error:#}");
}

#[test]
fn binance_rest_klines_read_with_quote_volume_and_count() {
    let table = table(&["BTCUSDT"]);
    if let Some(dir) = common::real_data_dir("REST klines") {
        // The Binance docs' example: one weekly candle; the timeframe comes from its close.
        let path = dir.join("nautilus/binance/spot/http_json/klines_response.json");
        let spec = format!("BTCUSDT:candles:{}", path.display());
        let items = open_all(&[&spec], &table, &InputOptions::default());
        let bars = bars(&items);
        assert_eq!(bars.len(), 1);
        let bar = bars[0].1;
        assert_eq!(bar.timeframe_min, 10_080);
        assert_eq!(bar.close_time_ms, 1_499_644_800_000);
        assert_eq!(bar.high, Price::parse("0.80000000").expect("price"));
        assert_eq!(
            bar.quote_volume,
            kestrel::core::Notional::parse("2434.19055334").expect("notional")
        );
        assert_eq!(bar.trade_count, 308);
    }
    // A REST file named the Binance way: symbol and timeframe from the name; one hour missing.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("BTCUSDT-1h-2024-01-01.json");
    std::fs::write(
        &path,
        r#"[
  [1704067200000,"42283.58","42554.57","42261.02","42475.23","1271.68108",1704070799999,"53957347.6","47134","682.57","28966","0"],
  [1704070800000,"42475.23","42775.00","42431.65","42613.56","1196.37856",1704074399999,"50946523.8","43997","599.6","25535","0"],
  [1704078000000,"42613.56","42638.70","42448.00","42505.82","606.55467",1704081599999,"25780437.3","33014","290.4","12343","0"]
]"#,
    )
    .expect("write fixture");
    let spec = InputSpec::new(&path);
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    let items = drain(&mut input).expect("reads");
    let bars = bars(&items);
    assert_eq!(bars.len(), 3);
    assert!(bars.iter().all(|(_, b)| b.timeframe_min == 60));
    assert_eq!(bars[2].1.trade_count, 33_014);
    assert_eq!(repair(&input, "kline_gaps"), 1);
}

#[test]
fn the_candle_path_is_open_low_high_close_up_and_open_high_low_close_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("BTCUSDT-1m.json");
    // Up: 100 → 105 (low 95, high 110); down: 100 → 92 (high 104, low 90).
    std::fs::write(
        &path,
        "[[60000, 100, 110, 95, 105, 1.000000000000000003],\n \
          [120000, 100, 104, 90, 92, 2]]",
    )
    .expect("write fixture");
    let table = table(&["BTCUSDT"]);
    let items = open_all(
        &[&path.display().to_string()],
        &table,
        &InputOptions::default(),
    );
    let p = |s: &str| Price::parse(s).expect("price");
    let q = |raw: i128| Qty::from_raw(raw);
    let got: Vec<(u64, u64, Price, Qty, Side)> = trades(&items)
        .into_iter()
        .map(|(ts, t)| (ts / 1_000_000, t.trade_id, t.price, t.qty, t.aggressor))
        .collect();
    let quarter = 250_000_000_000_000_000;
    assert_eq!(
        got,
        vec![
            (60_000, 240_000, p("100"), q(quarter), Side::Buy),
            (80_000, 240_001, p("95"), q(quarter), Side::Sell),
            (100_000, 240_002, p("110"), q(quarter), Side::Buy),
            (119_999, 240_003, p("105"), q(quarter + 3), Side::Sell),
            (
                120_000,
                480_000,
                p("100"),
                q(500_000_000_000_000_000),
                Side::Sell
            ),
            (
                140_000,
                480_001,
                p("104"),
                q(500_000_000_000_000_000),
                Side::Buy
            ),
            (
                160_000,
                480_002,
                p("90"),
                q(500_000_000_000_000_000),
                Side::Sell
            ),
            (
                179_999,
                480_003,
                p("92"),
                q(500_000_000_000_000_000),
                Side::Buy
            ),
        ]
    );
    // Each bar follows its close print, at its close time; the next open print comes after.
    let order: Vec<(u64, bool)> = items
        .iter()
        .map(|i| (i.ts_ns / 1_000_000, matches!(i.event, InputEvent::Bar(_))))
        .collect();
    assert_eq!(order[4], (120_000, true));
    assert_eq!(order[5], (120_000, false));
    assert_eq!(order[9], (180_000, true));
    let up = bars(&items)[0].1;
    assert_eq!(up.trade_count, 4);
    // Σ price × qty of the four prints.
    assert_eq!(
        up.quote_volume,
        kestrel::core::Notional::parse("102.500000000000000315").expect("notional")
    );
}

fn write_lines(path: &Path, lines: &[&str]) {
    let mut file = std::fs::File::create(path).expect("create");
    for line in lines {
        writeln!(file, "{line}").expect("write");
    }
}

#[test]
fn two_symbols_merge_in_time_order_with_stable_ties_and_a_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let btc = dir.path().join("BTCUSDT-trades-2024-01-01.csv");
    let eth = dir.path().join("ETHUSDT-trades-2024-01-01.csv");
    write_lines(
        &btc,
        &[
            "id,price,qty,quote_qty,time,is_buyer_maker",
            "1,100,1,100,1000,false",
            "2,101,1,101,2000,false",
            "3,102,1,102,2000,true",
            "4,103,1,103,5000,false",
        ],
    );
    write_lines(
        &eth,
        &[
            "id,price,qty,quote_qty,time,is_buyer_maker",
            "7,10,1,10,500,false",
            "8,11,1,11,2000,false",
            "9,12,1,12,3000,true",
        ],
    );
    let table = table(&["BTCUSDT", "ETHUSDT"]);
    let (b, e) = (btc.display().to_string(), eth.display().to_string());
    let ids =
        |items: &[InputItem]| -> Vec<u64> { trades(items).iter().map(|t| t.1.trade_id).collect() };
    let all = open_all(&[&b, &e], &table, &InputOptions::default());
    assert_eq!(ids(&all), [7, 1, 2, 3, 8, 9, 4]);
    // Swapping the inputs swaps the tie order only.
    let swapped = open_all(&[&e, &b], &table, &InputOptions::default());
    assert_eq!(ids(&swapped), [7, 1, 8, 2, 3, 9, 4]);
    let window = InputOptions {
        from_ns: 2_000 * 1_000_000,
        to_ns: 5_000 * 1_000_000,
        ..InputOptions::default()
    };
    assert_eq!(ids(&open_all(&[&b, &e], &table, &window)), [2, 3, 8, 9]);
    let symbols: Vec<&str> = trades(&all)
        .iter()
        .zip(&all)
        .map(|(_, item)| match item.event {
            InputEvent::Market(event) => table.name(event.symbol).expect("interned"),
            InputEvent::Bar(_) => "",
        })
        .collect();
    assert_eq!(
        symbols,
        ["ETHUSDT", "BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHUSDT", "ETHUSDT", "BTCUSDT"]
    );
}

fn open_error(spec: &str, table: &SymbolTable) -> String {
    let spec = InputSpec::parse(spec).expect("spec");
    match open_inputs(&[spec], table, &InputOptions::default()) {
        Err(e) => format!("{e:#}"),
        Ok(mut input) => match drain(&mut input) {
            Err(e) => format!("{e:#}"),
            Ok(items) => panic!("bad data read without error: {} items", items.len()),
        },
    }
}

const TICKER_A: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"100.0","B":"1.0","a":"101.0","A":"1.0"}}"#;
const TICKER_B: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":2,"s":"BTCUSDT","b":"100.5","B":"1.0","a":"101.0","A":"1.0"}}"#;
const TRADE_ETH: &str = r#"{"stream":"ethusdt@trade","data":{"e":"trade","E":5,"s":"ETHUSDT","t":9,"p":"10.0","q":"1.0","T":5,"m":true,"M":true}}"#;

#[test]
fn bad_captures_are_refused_with_file_and_line_or_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = table(&["BTCUSDT"]);

    let back = dir.path().join("back.txt");
    write_lines(
        &back,
        &[&format!("200 {TICKER_A}"), &format!("100 {TICKER_B}")],
    );
    let error = open_error(&format!("capture@spot:{}", back.display()), &table);
    assert!(
        error.contains("back.txt:2") && error.contains("back in time"),
        "{error}"
    );

    let malformed = dir.path().join("malformed.txt");
    write_lines(&malformed, &[&format!("100 {TICKER_A}"), "garbage"]);
    let error = open_error(&format!("capture@spot:{}", malformed.display()), &table);
    assert!(error.contains("malformed.txt:2"), "{error}");

    // An exact repeated line is dropped and counted; a foreign symbol is counted.
    let repeated = dir.path().join("repeated.txt");
    write_lines(
        &repeated,
        &[
            &format!("100 {TICKER_A}"),
            &format!("100 {TICKER_A}"),
            &format!("150 {TRADE_ETH}"),
            "",
            &format!("200 {TICKER_B}"),
        ],
    );
    let spec = InputSpec::parse(&format!("capture@spot:{}", repeated.display())).expect("spec");
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    let items = drain(&mut input).expect("reads");
    assert_eq!(kinds(&items), [2, 0, 0]);
    assert_eq!(
        items.iter().map(|i| i.ts_ns).collect::<Vec<_>>(),
        [100, 200]
    );
    assert_eq!(repair(&input, "duplicate_rows"), 1);
    assert_eq!(repair(&input, "foreign_symbol"), 1);

    // Without any depth update the market cannot be guessed.
    let error = open_error(&repeated.display().to_string(), &table);
    assert!(error.contains("cannot tell spot from usdm"), "{error}");
}

/// The first `keep` bytes of `source`, written to `dest`.
fn cut(source: &Path, dest: &Path, keep: usize) {
    let bytes = std::fs::read(source).expect("read");
    std::fs::write(dest, &bytes[..keep.min(bytes.len())]).expect("write");
}

#[test]
fn cut_off_gzip_files_are_errors_not_an_early_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = table(&["BTCUSDT"]);
    let capture = dir.path().join("cut_capture.gz");
    cut(&data("binance_spot_btcusdt_20240808.gz"), &capture, 300_000);
    let error = open_error(&format!("capture@spot:{}", capture.display()), &table);
    assert!(
        error.contains("cut_capture.gz:") && error.contains("cannot read"),
        "{error}"
    );

    let mut csv = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..5_000u64 {
        writeln!(csv, "{},100,1,100,{},false", i + 1, 1_000 + i).expect("write");
    }
    let bytes = csv.finish().expect("gzip");
    let whole = dir.path().join("BTCUSDT-trades-2024-01-01.csv.gz");
    std::fs::write(&whole, &bytes).expect("write");
    let items = open_all(
        &[&whole.display().to_string()],
        &table,
        &InputOptions::default(),
    );
    assert_eq!(items.len(), 5_000);
    let cut_csv = dir.path().join("BTCUSDT-trades-2024-01-02.csv.gz");
    std::fs::write(&cut_csv, &bytes[..bytes.len() / 2]).expect("write");
    let error = open_error(&cut_csv.display().to_string(), &table);
    assert!(
        error.contains("BTCUSDT-trades-2024-01-02.csv.gz:"),
        "{error}"
    );
}

#[test]
fn bad_archives_and_candles_are_refused_with_file_and_line_or_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = table(&["BTCUSDT"]);
    let path = |name: &str| dir.path().join(name);

    let unsorted = path("BTCUSDT-trades-2024-01-01.csv");
    write_lines(
        &unsorted,
        &["1,100,1,100,2000,false", "2,100,1,100,1000,false"],
    );
    let error = open_error(&unsorted.display().to_string(), &table);
    assert!(error.contains("BTCUSDT-trades-2024-01-01.csv:2"), "{error}");

    let duplicated = path("BTCUSDT-trades-2024-01-02.csv");
    write_lines(
        &duplicated,
        &[
            "1,100,1,100,1000,false",
            "1,100,1,100,1000,false",
            "2,100,1,100,1000,false",
        ],
    );
    let spec = InputSpec::new(&duplicated);
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    assert_eq!(drain(&mut input).expect("reads").len(), 2);
    assert_eq!(repair(&input, "duplicate_rows"), 1);

    let wrong_dialect = path("BTCUSDT-trades-2024-01-03.csv");
    write_lines(&wrong_dialect, &["1,100,1,100"]);
    let error = open_error(&wrong_dialect.display().to_string(), &table);
    assert!(
        error.contains("BTCUSDT-trades-2024-01-03.csv:1") && error.contains("columns"),
        "{error}"
    );

    let unknown_name = path("BTCUSDT-fundingRate-2024-01.csv");
    write_lines(&unknown_name, &["1,2,3"]);
    let error = open_error(&unknown_name.display().to_string(), &table);
    assert!(
        error.contains("unknown data.binance.vision archive"),
        "{error}"
    );

    let gappy = path("BTCUSDT-1m-2024-01-01.csv");
    write_lines(
        &gappy,
        &[
            "1704067200000,1,1,1,1,1,1704067259999,1,1,0,0,0",
            "1704067260000,1,1,1,1,1,1704067319999,1,1,0,0,0",
            "1704067380000,1,1,1,1,1,1704067439999,1,1,0,0,0",
        ],
    );
    let spec = InputSpec::new(&gappy);
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    assert_eq!(bars(&drain(&mut input).expect("reads")).len(), 3);
    assert_eq!(repair(&input, "kline_gaps"), 1);

    let candles_back = path("BTCUSDT-1m-back.json");
    std::fs::write(&candles_back, "[[120000,1,1,1,1,1],\n[60000,1,1,1,1,1]]").expect("write");
    let error = open_error(&candles_back.display().to_string(), &table);
    assert!(
        error.contains("BTCUSDT-1m-back.json:2") && error.contains("out of order"),
        "{error}"
    );

    let candles_dup = path("BTCUSDT-1m-dup.json");
    std::fs::write(
        &candles_dup,
        "[[60000,1,1,1,1,1],[60000,1,1,1,1,1],[180000,1,1,1,1,1]]",
    )
    .expect("write");
    let spec = InputSpec::new(&candles_dup);
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    assert_eq!(bars(&drain(&mut input).expect("reads")).len(), 2);
    assert_eq!(repair(&input, "duplicate_rows"), 1);
    assert_eq!(repair(&input, "kline_gaps"), 1);

    let candles_bad = path("BTCUSDT-1m-bad.json");
    std::fs::write(&candles_bad, "[[60000,1,1,1,1,1],\n[120000,1,0.5,1,1,1]]").expect("write");
    let error = open_error(&candles_bad.display().to_string(), &table);
    assert!(error.contains("BTCUSDT-1m-bad.json:2"), "{error}");

    let candles_cut = path("BTCUSDT-1m-cut.json");
    std::fs::write(&candles_cut, "[[60000,1,1,1,1,1],[120000,1,1").expect("write");
    let error = open_error(&candles_cut.display().to_string(), &table);
    assert!(error.contains("BTCUSDT-1m-cut.json:1"), "{error}");

    let no_timeframe = path("BTCUSDT.json");
    std::fs::write(&no_timeframe, "[[60000,1,1,1,1,1]]").expect("write");
    let error = open_error(&no_timeframe.display().to_string(), &table);
    assert!(error.contains("no timeframe"), "{error}");
}

#[test]
fn a_journal_capture_yields_the_same_items_as_the_same_frames_in_a_file() {
    use kestrel::persist::payload::encode_market_frame;
    use kestrel::persist::{JournalConfig, JournalWriter, RecordType};

    // The first 5,000 lines of the spot capture (its snapshot is line 8), as a plain file
    // and as journal MarketFrame records stamped with the same receive times.
    let source = data("binance_spot_btcusdt_20240808.gz");
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(&source).expect("open capture"),
    ));
    let lines: Vec<String> = reader
        .lines()
        .take(5_000)
        .map(|l| l.expect("line"))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("head.txt");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    write_lines(&file, &refs);
    let journal_dir = dir.path().join("journal");
    let mut config = JournalConfig::new(&journal_dir);
    config.segment_bytes = 4 << 20;
    let (mut journal, _) = JournalWriter::open(&config).expect("open journal");
    let mut payload = vec![0u8; 1 << 20];
    for line in &lines {
        let (stamp, frame) = line.split_once(' ').expect("<recv_ns> <frame>");
        let recv_ns: u64 = stamp.parse().expect("stamp");
        let len = encode_market_frame(
            "binance-spot/stream#0",
            recv_ns,
            frame.as_bytes(),
            &mut payload,
        )
        .expect("encode");
        journal
            .append(RecordType::MarketFrame, recv_ns, &payload[..len])
            .expect("append");
    }
    journal.close().expect("close journal");

    let table = table(&["BTCUSDT"]);
    let from_file = open_all(
        &[&file.display().to_string()],
        &table,
        &InputOptions::default(),
    );
    let spec = journal_dir.display().to_string();
    let from_journal = open_all(&[&spec], &table, &InputOptions::default());
    assert!(
        kinds(&from_file).iter().all(|&n| n > 0),
        "{:?}",
        kinds(&from_file)
    );
    assert_eq!(from_journal, from_file);
}
