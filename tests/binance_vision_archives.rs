//! data.binance.vision archives: every real sample (spot and USDⓈ-M dialects) reads to the
//! right records, and bad data — rows out of order, repeated rows, kline gaps, a layout that
//! matches no archive, an unknown file name, a truncated gzip — is an error with the file
//! and line, or a counted repair, never a silent wrong result.

use std::io::Write;
use std::path::{Path, PathBuf};

use kestrel::core::{Price, Qty, Side, SymbolId};
use kestrel::feed::binance::vision::{VisionKind, VisionReader, VisionRecord};

const SAMPLES: &str = "../shared/data/real/bbgo_binance_vision_format";

fn sample(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(SAMPLES)
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent (CI always has it)", path.display());
        None
    }
}

fn read_all(
    path: &Path,
) -> (
    Vec<VisionRecord>,
    kestrel::feed::binance::vision::VisionCounts,
) {
    let mut reader = VisionReader::open(path, SymbolId(0)).expect("opens");
    let records: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("reads");
    (records, reader.counts())
}

fn p(text: &str) -> Price {
    Price::parse(text).expect("price")
}

#[test]
fn spot_aggtrades_without_header_and_capitalised_booleans() {
    let Some(path) = sample("spot/BTCUSDT-aggTrades-2023-11-17.csv") else {
        return;
    };
    let (records, counts) = read_all(&path);
    assert_eq!(counts.rows as usize, records.len());
    assert!(records.len() >= 3);
    let VisionRecord::Trade { exch_ts_ms, trade } = records[0] else {
        panic!("a trade: {:?}", records[0]);
    };
    assert_eq!(exch_ts_ms, 1_700_179_200_000);
    assert_eq!(trade.trade_id, 2_759_293_842);
    assert_eq!(trade.price, p("36163.51"));
    assert_eq!(trade.qty, Qty::parse("0.00207").expect("qty"));
    assert_eq!(trade.aggressor, Side::Sell, "buyer was maker: a sell took");
    let VisionRecord::Trade { trade, .. } = records[2] else {
        panic!("a trade");
    };
    assert_eq!(trade.aggressor, Side::Buy);
}

#[test]
fn spot_klines_in_microseconds_and_futures_klines_in_milliseconds() {
    if let Some(path) = sample("spot/BTCUSDT-1m-2026-09-15.csv") {
        let (records, _) = read_all(&path);
        let VisionRecord::Bar(bar) = records[0] else {
            panic!("a bar");
        };
        assert_eq!(bar.timeframe_min, 1);
        assert_eq!(bar.open_time_ms, 1_789_430_400_000, "µs read as ms");
        assert_eq!(bar.close_time_ms, 1_789_430_460_000);
        assert_eq!((bar.open, bar.close), (p("78189.20"), p("78199.66")));
        assert_eq!(bar.trade_count, 1_076);
    }
    if let Some(path) = sample("um/BTCUSDT-1h-2026-09-15.csv") {
        let (records, counts) = read_all(&path);
        let VisionRecord::Bar(bar) = records[1] else {
            panic!("a bar");
        };
        assert_eq!(bar.timeframe_min, 60);
        assert_eq!(bar.open_time_ms, 1_789_434_000_000);
        assert_eq!(bar.high, p("78061.60"));
        assert_eq!(counts.gaps, 0, "hourly bars back to back");
    }
}

#[test]
fn futures_trades_aggtrades_and_bookticker_with_headers() {
    if let Some(path) = sample("um/BTCUSDT-trades-2026-09-15.csv") {
        let (records, _) = read_all(&path);
        let VisionRecord::Trade { exch_ts_ms, trade } = records[1] else {
            panic!("a trade");
        };
        assert_eq!(
            (exch_ts_ms, trade.trade_id),
            (1_789_430_400_006, 8_078_264_333)
        );
        assert_eq!(trade.aggressor, Side::Sell);
    }
    if let Some(path) = sample("um/BTCUSDT-aggTrades-2026-09-15.csv") {
        let (records, _) = read_all(&path);
        assert!(
            matches!(records[0], VisionRecord::Trade { trade, .. } if trade.trade_id == 3_449_899_747)
        );
    }
    if let Some(path) = sample("um/BTCUSDT-bookTicker-2024-01-15.csv") {
        let (records, _) = read_all(&path);
        let VisionRecord::BookTicker { exch_ts_ms, ticker } = records[0] else {
            panic!("a book ticker");
        };
        assert_eq!(exch_ts_ms, 1_705_276_800_018, "the event time");
        assert_eq!(
            (ticker.bid_price, ticker.ask_price),
            (p("41734.9"), p("41735.0"))
        );
    }
}

/// Writes `rows` as an archive file named `name` in `dir` (gzip when it ends in `.gz`).
fn write(dir: &Path, name: &str, rows: &str) -> PathBuf {
    let path = dir.join(name);
    if name.ends_with(".gz") {
        let file = std::fs::File::create(&path).expect("create");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(rows.as_bytes()).expect("write");
        gz.finish().expect("finish");
    } else {
        std::fs::write(&path, rows).expect("write");
    }
    path
}

fn first_error(path: &Path) -> String {
    let reader = VisionReader::open(path, SymbolId(0)).expect("opens");
    for record in reader {
        if let Err(e) = record {
            return e.to_string();
        }
    }
    panic!("{} read without an error", path.display());
}

#[test]
fn bad_data_is_an_error_with_file_and_line_or_a_counted_repair() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Out of order: the third row goes back in id and time.
    let unsorted = write(
        d,
        "BTCUSDT-trades-2026-09-15.csv",
        "id,price,qty,quote_qty,time,is_buyer_maker\n5,1.0,1,1,1000,true\n6,1.0,1,1,1001,true\n4,1.0,1,1,999,true\n",
    );
    let e = first_error(&unsorted);
    assert!(
        e.contains("BTCUSDT-trades-2026-09-15.csv:4:") && e.contains("out of order"),
        "{e}"
    );
    // An exact repeat of the previous row is dropped and counted.
    let repeated = write(
        d,
        "BTCUSDT-aggTrades-2026-09-15.csv",
        "1,1.0,1,1,1,1000,true\n1,1.0,1,1,1,1000,true\n2,1.0,1,2,2,1001,false\n",
    );
    let (records, counts) = read_all(&repeated);
    assert_eq!((records.len(), counts.duplicates), (2, 1));
    // A kline gap is counted, not filled.
    let gappy = write(
        d,
        "BTCUSDT-1m-2026-09-15.csv",
        "60000,1,1,1,1,1,119999,1,1,0,0,0\n120000,1,1,1,1,1,179999,1,1,0,0,0\n300000,1,1,1,1,1,359999,1,1,0,0,0\n",
    );
    let (records, counts) = read_all(&gappy);
    assert_eq!((records.len(), counts.gaps), (3, 1));
    // A layout that is no archive of this kind: named, with the line.
    let wrong = write(d, "BTCUSDT-bookTicker-2024-01-15.csv", "1,2,3\n");
    let e = first_error(&wrong);
    assert!(e.contains(":1:") && e.contains("3 columns"), "{e}");
    // A malformed field.
    let malformed = write(d, "ETHUSDT-trades-2026-09-15.csv", "7,abc,1,1,1000,true\n");
    let e = first_error(&malformed);
    assert!(e.contains(":1:") && e.contains("price"), "{e}");
    // An unknown archive name.
    let unknown = write(d, "BTCUSDT-fundingRate-2026-09.csv", "x\n");
    let e = VisionReader::open(&unknown, SymbolId(0))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("unknown archive"), "{e}");
    assert_eq!(
        VisionKind::from_file_name("BTCUSDT-4h-2026-09-15.csv"),
        Some(VisionKind::Klines { timeframe_min: 240 })
    );
    // A truncated gzip: the rows before the cut, then an error naming the file.
    let rows: String = (1..=5_000)
        .map(|i| format!("{i},1.0,1,1,{},true\n", 1_000 + i))
        .collect();
    let whole = write(d, "BTCUSDT-trades-2026-09-16.csv.gz", &rows);
    let bytes = std::fs::read(&whole).expect("read");
    let cut = d.join("BTCUSDT-trades-2026-09-17.csv.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let e = first_error(&cut);
    assert!(
        e.contains("BTCUSDT-trades-2026-09-17.csv.gz") && e.contains("cannot read"),
        "{e}"
    );
}
