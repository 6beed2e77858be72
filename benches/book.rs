//! Book hot operations against DESIGN.md's "depth update, 20 levels, decode + apply ≤ 1.5 µs"
//! (this bench measures the apply half; decode is `feed_decode`):
//! - `book_apply/diff20`: 20 level changes (~20% deletions, most near the touch) on a book of
//!   400 levels per side taken from the real spot BTCUSDT snapshot; `diff20_btreemap_baseline`
//!   applies the same diffs to a BTreeMap book for a same-machine comparison.
//! - `book_sync/on_diff_real*`: replaying the real spot / USDⓈ-M diffs through `BookSync`;
//!   `*_btreemap_baseline` applies the same levels to a BTreeMap book (no sequencing).
//! - `bars/on_trade`: real spot trades into 1m/5m/1h/4h/1d bars.
//!
//! Needs `../shared/data/real`; each bench is skipped with a message when it is absent.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use flate2::read::GzDecoder;
use kestrel::book::{Bar, BarAggregator, BookSync, L2Book, SyncConfig, SyncRule};
use kestrel::core::{DepthDiff, DepthSnapshot, Level, Price, Qty, Side, SymbolId, TradePrint};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");
const SPOT: &str = "hftbacktest/binance_spot/btcusdt_20240808.gz";
const USDM: &str = "hftbacktest/binance_usdm/btcusdt_20240808.gz";
const BOOK_LEVELS: usize = 400;
const CHANGES: usize = 20;

/// An owned diff: (U, u, pu, bids, asks).
type OwnedDiff = (u64, u64, Option<u64>, Vec<Level>, Vec<Level>);

/// The capture's snapshot, its diffs and its trades (trade time ms), decoded with serde_json.
struct Capture {
    snapshot: DepthSnapshot,
    diffs: Vec<OwnedDiff>,
    trades: Vec<(u64, TradePrint)>,
}

fn levels(v: &Value) -> Vec<Level> {
    let pairs = v.as_array().expect("levels are an array");
    pairs
        .iter()
        .map(|p| Level {
            price: Price::parse(p[0].as_str().expect("price text")).expect("price parses"),
            qty: Qty::parse(p[1].as_str().expect("qty text")).expect("qty parses"),
        })
        .collect()
}

fn load(rel: &str) -> Option<Capture> {
    let path = Path::new(DATA).join(rel);
    if !path.exists() {
        println!("SKIP book bench: {} is absent", path.display());
        return None;
    }
    let file = std::fs::File::open(&path).expect("capture opens");
    let mut capture = Capture {
        snapshot: DepthSnapshot::default(),
        diffs: Vec::new(),
        trades: Vec::new(),
    };
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line.expect("capture line is UTF-8");
        let (_, json) = line.split_once(' ').expect("recv_ns then JSON");
        if json.contains("bookTicker") {
            continue;
        }
        let v: Value = serde_json::from_str(json).expect("frame is JSON");
        if let Some(id) = v.get("lastUpdateId").and_then(Value::as_u64) {
            capture.snapshot.last_update_id = id;
            capture.snapshot.bids = levels(&v["bids"]);
            capture.snapshot.asks = levels(&v["asks"]);
            continue;
        }
        let d = &v["data"];
        match d["e"].as_str() {
            Some("depthUpdate") => capture.diffs.push((
                d["U"].as_u64().expect("U"),
                d["u"].as_u64().expect("u"),
                d.get("pu").and_then(Value::as_u64),
                levels(&d["b"]),
                levels(&d["a"]),
            )),
            Some("trade") => capture.trades.push((
                d["T"].as_u64().expect("T"),
                TradePrint {
                    trade_id: d["t"].as_u64().expect("t"),
                    price: Price::parse(d["p"].as_str().expect("p")).expect("price parses"),
                    qty: Qty::parse(d["q"].as_str().expect("q")).expect("qty parses"),
                    aggressor: Side::Buy,
                },
            )),
            _ => {}
        }
    }
    Some(capture)
}

fn as_diff(d: &OwnedDiff) -> DepthDiff<'_> {
    DepthDiff {
        symbol: SymbolId(0),
        recv_ns: 0,
        exch_ts_ms: 0,
        first_update_id: d.0,
        last_update_id: d.1,
        prev_last_update_id: d.2,
        bids: &d.3,
        asks: &d.4,
    }
}

/// Deterministic xorshift, so every run benches the same diffs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Mostly near the touch: the minimum of two uniform draws over `0..n`.
    fn near_top(&mut self, n: usize) -> usize {
        let a = self.next() as usize % n;
        let b = self.next() as usize % n;
        a.min(b)
    }
}

/// Diffs of 20 changes: 4 deletions of held levels, 4 new levels, 12 quantity updates, generated
/// against a running model so deletions hit real levels and the book stays near 400 per side.
fn diff20_sequence(book: &L2Book, count: usize) -> Vec<(Vec<Level>, Vec<Level>)> {
    let mut model = book.clone();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tick = Price::parse("0.01").expect("tick parses").raw();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        for change in 0..CHANGES {
            let side = if rng.next() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let held: Vec<Level> = model.top_n(side, usize::MAX).collect();
            let pick = held[rng.near_top(held.len())];
            let qty = Qty::from_raw((1 + (rng.next() % 5000) as i128) * 100_000_000_000_000);
            let level = match change % 5 {
                0 => Level {
                    price: pick.price,
                    qty: Qty::ZERO,
                },
                1 => {
                    // A new price next to a held one, on the far side from the touch.
                    let step = if side == Side::Buy { -tick } else { tick };
                    let mut raw = pick.price.raw() + step;
                    while held.iter().any(|l| l.price.raw() == raw) {
                        raw += step;
                    }
                    Level {
                        price: Price::from_raw(raw),
                        qty,
                    }
                }
                _ => Level {
                    price: pick.price,
                    qty,
                },
            };
            match side {
                Side::Buy => {
                    model.apply_bid(level);
                    bids.push(level);
                }
                Side::Sell => {
                    model.apply_ask(level);
                    asks.push(level);
                }
            }
        }
        out.push((bids, asks));
    }
    out
}

fn book_apply(c: &mut Criterion) {
    let Some(capture) = load(SPOT) else { return };
    let mut snap = capture.snapshot.clone();
    snap.bids.truncate(BOOK_LEVELS);
    snap.asks.truncate(BOOK_LEVELS);
    let mut start = L2Book::with_capacity(4 * BOOK_LEVELS);
    start.load_snapshot(&snap);
    let diffs = diff20_sequence(&start, 1024);
    let mut book = start.clone();
    let mut group = c.benchmark_group("book_apply");
    group.throughput(Throughput::Elements(1));
    group.bench_function("diff20", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                // Restart the sequence from the snapshot book, untimed.
                book.clone_from(&start);
                let n = (left as usize).min(diffs.len());
                let t0 = Instant::now();
                for (bids, asks) in &diffs[..n] {
                    book.apply_levels(black_box(bids), black_box(asks));
                    black_box(book.best_bid());
                }
                total += t0.elapsed();
                left -= n as u64;
            }
            total
        })
    });
    let slices: Vec<(&[Level], &[Level])> = diffs
        .iter()
        .map(|(b, a)| (b.as_slice(), a.as_slice()))
        .collect();
    bench_map_baseline(
        &mut group,
        "diff20_btreemap_baseline",
        &map_book(&start),
        &slices,
    );
    println!(
        "book_apply/diff20: book {} bids / {} asks after the sequence",
        book.bid_count(),
        book.ask_count()
    );
    group.finish();
}

/// Bids and asks as BTreeMaps: the barter/nautilus book shape, as a same-machine baseline
/// (the bench machine is shared, so ratios mean more than absolute times).
type MapBook = (BTreeMap<Price, Qty>, BTreeMap<Price, Qty>);

fn map_book(book: &L2Book) -> MapBook {
    (
        book.bids().map(|l| (l.price, l.qty)).collect(),
        book.asks().map(|l| (l.price, l.qty)).collect(),
    )
}

/// Applies `diffs` to a BTreeMap book restarted from `start` (untimed) after each pass.
fn bench_map_baseline(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    start: &MapBook,
    diffs: &[(&[Level], &[Level])],
) {
    let mut maps = start.clone();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                maps.clone_from(start);
                let n = (left as usize).min(diffs.len());
                let t0 = Instant::now();
                for &(bids, asks) in &diffs[..n] {
                    for (map, levels) in [
                        (&mut maps.0, black_box(bids)),
                        (&mut maps.1, black_box(asks)),
                    ] {
                        for l in levels {
                            if l.qty.is_zero() {
                                map.remove(&l.price);
                            } else {
                                map.insert(l.price, l.qty);
                            }
                        }
                    }
                    black_box(maps.0.last_key_value());
                }
                total += t0.elapsed();
                left -= n as u64;
            }
            total
        })
    });
}

/// A synced `BookSync` at the snapshot plus the diffs that follow it.
fn synced(capture: &Capture, rule: SyncRule) -> (BookSync, Vec<OwnedDiff>) {
    let mut sync = BookSync::new(rule, SyncConfig::default());
    let mut live = Vec::new();
    let mut snapshot_given = false;
    for d in &capture.diffs {
        if !snapshot_given && d.1 >= capture.snapshot.last_update_id {
            sync.on_snapshot(&capture.snapshot);
            snapshot_given = true;
        }
        if snapshot_given {
            live.push(d.clone());
        }
    }
    (sync, live)
}

fn book_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_sync");
    group.throughput(Throughput::Elements(1));
    for (name, rel, rule) in [
        ("on_diff_real", SPOT, SyncRule::BinanceSpot),
        ("on_diff_real_futures", USDM, SyncRule::BinanceFutures),
    ] {
        let Some(capture) = load(rel) else { continue };
        let (start, live) = synced(&capture, rule);
        let mean_levels =
            live.iter().map(|d| d.3.len() + d.4.len()).sum::<usize>() as f64 / live.len() as f64;
        println!(
            "book_sync/{name}: {} diffs, {mean_levels:.1} levels per diff",
            live.len()
        );
        let mut sync = start.clone();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    sync.clone_from(&start);
                    let n = (left as usize).min(live.len());
                    let t0 = Instant::now();
                    for d in &live[..n] {
                        black_box(sync.on_diff(black_box(&as_diff(d))));
                    }
                    total += t0.elapsed();
                    left -= n as u64;
                }
                total
            })
        });
        // Skipped when a filter left this bench out (the clone never replayed a diff).
        let c = sync.counters();
        if c.applied > start.counters().applied {
            assert_eq!(c.gaps + c.crossed, 0, "replay stays in sync");
            assert!(sync.is_valid(), "replay ends with a valid book");
        }
        let slices: Vec<(&[Level], &[Level])> = live
            .iter()
            .map(|d| (d.3.as_slice(), d.4.as_slice()))
            .collect();
        let baseline = format!("{name}_btreemap_baseline");
        bench_map_baseline(&mut group, &baseline, &map_book(start.book()), &slices);
    }
    group.finish();
}

fn bars(c: &mut Criterion) {
    let Some(capture) = load(SPOT) else { return };
    let trades = capture.trades;
    let fresh = || BarAggregator::new(SymbolId(0), &[5, 60, 240, 1440]).expect("valid timeframes");
    let mut agg = fresh();
    let mut group = c.benchmark_group("bars");
    group.throughput(Throughput::Elements(1));
    group.bench_function("on_trade", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            let mut closed = 0u64;
            while left > 0 {
                agg = fresh();
                let n = (left as usize).min(trades.len());
                let t0 = Instant::now();
                for (ms, trade) in &trades[..n] {
                    agg.on_trade(black_box(trade), *ms, &mut |bar: &Bar| {
                        closed += u64::from(bar.trade_count)
                    });
                }
                total += t0.elapsed();
                left -= n as u64;
            }
            black_box(closed);
            total
        })
    });
    group.finish();
}

criterion_group!(benches, book_apply, book_sync, bars);
criterion_main!(benches);
