//! After construction, `BookSync` (buffering, snapshot bridging, applying, gap resync),
//! `TopOfBook` and `BarAggregator` make zero heap allocations, counted by a per-thread
//! counting global allocator.

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::book::{Bar, BarAggregator, BookSync, SyncConfig, SyncRule, SyncStatus, TopOfBook};
use kestrel::core::{BookTicker, BookTop, DepthDiff, DepthSnapshot, Level, Price, Qty, Side};
use kestrel::core::{SymbolId, TradePrint};

fn lvl(price: i64, qty: i64) -> Level {
    Level {
        price: Price::from_int(price),
        qty: Qty::from_int(qty),
    }
}

/// 20 changes per diff around a 10_000 mid: bids below, asks above, every fifth a delete.
fn diff_levels(seed: u64) -> (Vec<Level>, Vec<Level>) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 400) as i64
    };
    let (mut bids, mut asks) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let qty = if i % 5 == 0 { 0 } else { 1 + next() };
        if i % 2 == 0 {
            bids.push(lvl(9_999 - next(), qty));
        } else {
            asks.push(lvl(10_001 + next(), qty));
        }
    }
    (bids, asks)
}

fn diff<'a>(first: u64, last: u64, levels: &'a (Vec<Level>, Vec<Level>)) -> DepthDiff<'a> {
    DepthDiff {
        symbol: SymbolId(0),
        recv_ns: 0,
        exch_ts_ms: 0,
        first_update_id: first,
        last_update_id: last,
        prev_last_update_id: Some(first - 1),
        bids: &levels.0,
        asks: &levels.1,
    }
}

#[test]
fn book_sync_ticker_and_bars_do_not_allocate_after_construction() {
    let snapshot = DepthSnapshot {
        symbol: SymbolId(0),
        last_update_id: 1_000,
        exch_ts_ms: 0,
        bids: (0..400).map(|i| lvl(9_999 - i, 1)).collect(),
        asks: (0..400).map(|i| lvl(10_001 + i, 1)).collect(),
    };
    let diffs: Vec<(Vec<Level>, Vec<Level>)> = (0..5_000).map(diff_levels).collect();
    let trades: Vec<(u64, TradePrint)> = (0..20_000u64)
        .map(|i| {
            let print = TradePrint {
                trade_id: i,
                price: Price::from_int(10_000 + (i % 7) as i64),
                qty: Qty::ONE,
                aggressor: Side::Buy,
            };
            // One trade every 13 s, with a 30-minute hole in the middle.
            let hole = if i > 10_000 { 1_800_000 } else { 0 };
            (1_723_075_200_000 + i * 13_000 + hole, print)
        })
        .collect();

    // Diff i covers ids [991 + 3i, 993 + 3i]; diff 2_500 jumps 50 ids ahead (a gap) and covers
    // [8_540, 8_542], so the snapshot served after the gap is at 8_541.
    let resync_snapshot = DepthSnapshot {
        last_update_id: 8_541,
        ..snapshot.clone()
    };
    for rule in [SyncRule::BinanceSpot, SyncRule::BinanceFutures] {
        let mut sync = BookSync::new(rule, SyncConfig::default());
        let mut top = BookTop::default();
        let before = thread_allocs();
        let mut id = 990;
        for (i, levels) in diffs.iter().enumerate() {
            let snap = match i {
                5 => Some(&snapshot),
                2_505 => Some(&resync_snapshot),
                _ => None,
            };
            if let Some(snap) = snap {
                assert_eq!(
                    sync.on_snapshot(snap),
                    SyncStatus::Synced,
                    "{rule:?} at diff {i}"
                );
            }
            let first = id + if i == 2_500 { 50 } else { 1 };
            id = first + 2;
            sync.on_diff(&diff(first, id, levels));
            sync.fill_top(&mut top);
        }
        assert!(sync.is_valid(), "{rule:?} ends valid");
        assert_eq!(sync.counters().gaps, 1);
        assert_eq!(thread_allocs() - before, 0, "{rule:?} book sync allocated");
    }

    let mut ticker = TopOfBook::new();
    let mut bars = BarAggregator::new(SymbolId(0), &[5, 60, 240, 1440]).expect("valid timeframes");
    let mut closed = 0u64;
    let before = thread_allocs();
    for (i, (ms, trade)) in trades.iter().enumerate() {
        let bbo = BookTicker {
            update_id: i as u64,
            bid_price: trade.price,
            bid_qty: Qty::ONE,
            ask_price: trade.price,
            ask_qty: Qty::ONE,
        };
        ticker.on_book_ticker(&bbo);
        bars.on_trade(trade, *ms, &mut |_: &Bar| closed += 1);
        if i % 100 == 0 {
            bars.on_time(*ms + 1, &mut |_: &Bar| closed += 1);
        }
    }
    assert_eq!(thread_allocs() - before, 0, "ticker and bars allocated");
    let gap_minutes = bars.counters().gap_minutes;
    assert!(
        closed > 4_000 && gap_minutes >= 29,
        "{closed} bars, {gap_minutes} gap minutes"
    );
}
