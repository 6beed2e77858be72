//! Sequencing-rule edge cases for `BookSync`, spot and futures side by side.

use super::{BookSync, SyncConfig, SyncRule, SyncStatus};
use crate::core::{BookTop, DepthDiff, DepthSnapshot, Level, Price, Qty, Side, SymbolId};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn lvl(price: i64, qty: i64) -> Level {
    Level {
        price: Price::from_int(price),
        qty: Qty::from_int(qty),
    }
}

fn diff<'a>(
    first: u64,
    last: u64,
    prev: Option<u64>,
    bids: &'a [Level],
    asks: &'a [Level],
) -> DepthDiff<'a> {
    DepthDiff {
        symbol: SymbolId(0),
        recv_ns: 0,
        exch_ts_ms: 0,
        first_update_id: first,
        last_update_id: last,
        prev_last_update_id: prev,
        bids,
        asks,
    }
}

fn units(l: &Level) -> (i64, i64) {
    (
        (l.price.raw() / Price::ONE.raw()) as i64,
        (l.qty.raw() / Qty::ONE.raw()) as i64,
    )
}

fn snapshot(last_update_id: u64) -> DepthSnapshot {
    DepthSnapshot {
        symbol: SymbolId(0),
        last_update_id,
        exch_ts_ms: 0,
        bids: vec![lvl(100, 1), lvl(99, 2)],
        asks: vec![lvl(101, 1), lvl(102, 2)],
    }
}

fn spot() -> BookSync {
    BookSync::new(SyncRule::BinanceSpot, SyncConfig::default())
}

fn futures() -> BookSync {
    BookSync::new(SyncRule::BinanceFutures, SyncConfig::default())
}

#[test]
fn first_diff_asks_for_a_snapshot_then_later_ones_just_buffer() {
    let mut s = spot();
    assert_eq!(
        s.on_diff(&diff(10, 12, None, &[], &[])),
        SyncStatus::NeedSnapshot
    );
    assert_eq!(
        s.on_diff(&diff(13, 14, None, &[], &[])),
        SyncStatus::Buffered
    );
    assert!(!s.is_valid());
    assert_eq!(s.buffered_diffs(), 2);
    assert_eq!(s.counters().buffered, 2);
}

#[test]
fn spot_drops_u_at_or_below_snapshot_and_bridges_with_u_plus_one() {
    let mut s = spot();
    let bid = [lvl(100, 7)];
    s.on_diff(&diff(95, 98, None, &[], &[]));
    s.on_diff(&diff(99, 100, None, &[], &[])); // u == lastUpdateId: stale for spot
    s.on_diff(&diff(101, 101, None, &bid, &[])); // U == lastUpdateId + 1 == u
    s.on_diff(&diff(102, 104, None, &[], &[]));
    assert_eq!(s.on_snapshot(&snapshot(100)), SyncStatus::Synced);
    assert!(s.is_valid());
    assert_eq!(s.last_update_id(), 104);
    assert_eq!(s.counters().stale_drops, 2);
    assert_eq!(s.book().best_bid(), Some(lvl(100, 7)));
    assert_eq!(s.buffered_diffs(), 0);
}

#[test]
fn futures_keeps_u_equal_to_snapshot_as_first_event() {
    let mut f = futures();
    let bid = [lvl(100, 7)];
    f.on_diff(&diff(90, 99, Some(89), &[], &[])); // u < lastUpdateId: stale
    f.on_diff(&diff(95, 100, Some(99), &bid, &[])); // U ≤ 100 ≤ u: first processed
    f.on_diff(&diff(101, 103, Some(100), &[], &[]));
    assert_eq!(f.on_snapshot(&snapshot(100)), SyncStatus::Synced);
    assert_eq!(f.last_update_id(), 103);
    assert_eq!(f.counters().stale_drops, 1);
    assert_eq!(f.book().best_bid(), Some(lvl(100, 7)));
}

#[test]
fn first_event_starting_at_snapshot_plus_one_bridges_spot_but_not_futures() {
    let mut s = spot();
    s.on_diff(&diff(101, 105, None, &[], &[]));
    assert_eq!(s.on_snapshot(&snapshot(100)), SyncStatus::Synced);

    let mut f = futures();
    f.on_diff(&diff(101, 105, Some(100), &[], &[]));
    assert_eq!(f.on_snapshot(&snapshot(100)), SyncStatus::SnapshotTooOld);
    assert!(!f.is_valid());
    assert_eq!(
        f.buffered_diffs(),
        1,
        "buffer is kept for the next snapshot"
    );
    assert_eq!(f.on_snapshot(&snapshot(103)), SyncStatus::Synced);
    assert_eq!(f.last_update_id(), 105);
}

#[test]
fn snapshot_older_than_first_buffered_diff_asks_for_another() {
    let mut s = spot();
    s.on_diff(&diff(110, 112, None, &[], &[]));
    s.on_diff(&diff(113, 115, None, &[], &[]));
    let status = s.on_snapshot(&snapshot(100));
    assert_eq!(status, SyncStatus::SnapshotTooOld);
    assert!(status.needs_snapshot());
    assert_eq!(s.book().bid_count(), 0);
    assert_eq!(s.counters().snapshots_too_old, 1);
    assert_eq!(s.on_snapshot(&snapshot(111)), SyncStatus::Synced);
    assert_eq!(s.last_update_id(), 115);
}

#[test]
fn snapshot_before_any_diff_waits_for_the_bridging_diff() {
    for (rule, prev) in [
        (SyncRule::BinanceSpot, None),
        (SyncRule::BinanceFutures, Some(1)),
    ] {
        let mut s = BookSync::new(rule, SyncConfig::default());
        assert_eq!(s.on_snapshot(&snapshot(100)), SyncStatus::AwaitingBridge);
        assert!(!s.is_valid());
        assert_eq!(
            s.on_diff(&diff(90, 99, prev, &[], &[])),
            SyncStatus::DroppedStale
        );
        assert_eq!(
            s.on_diff(&diff(99, 101, prev, &[], &[])),
            SyncStatus::Applied
        );
        assert!(s.is_valid());
    }
    // A diff that jumps past the snapshot: refetch, and the diff is kept.
    let mut s = spot();
    s.on_snapshot(&snapshot(100));
    assert_eq!(
        s.on_diff(&diff(105, 106, None, &[], &[])),
        SyncStatus::SnapshotTooOld
    );
    assert_eq!(s.buffered_diffs(), 1);
    assert_eq!(
        s.on_diff(&diff(107, 107, None, &[], &[])),
        SyncStatus::Buffered
    );
}

#[test]
fn gap_in_spot_diffs_triggers_resync_and_keeps_the_gap_diff() {
    let mut s = spot();
    s.on_snapshot(&snapshot(100));
    assert_eq!(
        s.on_diff(&diff(101, 103, None, &[], &[])),
        SyncStatus::Applied
    );
    assert_eq!(
        s.on_diff(&diff(102, 103, None, &[], &[])),
        SyncStatus::DroppedStale
    );
    let status = s.on_diff(&diff(105, 106, None, &[], &[]));
    assert_eq!(status, SyncStatus::ResyncGap);
    assert!(status.needs_snapshot());
    assert!(!s.is_valid());
    assert_eq!(s.book().bid_count() + s.book().ask_count(), 0);
    assert_eq!(s.buffered_diffs(), 1);
    assert_eq!(
        s.on_diff(&diff(107, 108, None, &[], &[])),
        SyncStatus::Buffered
    );
    let c = s.counters();
    assert_eq!((c.gaps, c.resyncs, c.stale_drops), (1, 1, 1));
    assert_eq!(s.on_snapshot(&snapshot(106)), SyncStatus::Synced);
    assert_eq!(s.last_update_id(), 108);
}

#[test]
fn futures_pu_mismatch_triggers_resync_even_when_ids_look_contiguous() {
    let mut f = futures();
    f.on_snapshot(&snapshot(100));
    assert_eq!(
        f.on_diff(&diff(95, 104, Some(94), &[], &[])),
        SyncStatus::Applied
    );
    assert_eq!(
        f.on_diff(&diff(120, 130, Some(104), &[], &[])),
        SyncStatus::Applied
    );
    assert_eq!(
        f.on_diff(&diff(131, 140, Some(129), &[], &[])),
        SyncStatus::ResyncGap
    );
    assert_eq!(
        f.on_diff(&diff(141, 150, None, &[], &[])),
        SyncStatus::Buffered
    );
    assert_eq!(f.counters().gaps, 1);
}

#[test]
fn futures_delete_of_unknown_level_is_harmless() {
    let mut f = futures();
    f.on_snapshot(&snapshot(100));
    let del = [lvl(50, 0)];
    assert_eq!(
        f.on_diff(&diff(100, 101, Some(99), &del, &del)),
        SyncStatus::Applied
    );
    assert_eq!(f.book().bid_count(), 2);
}

#[test]
fn crossed_book_triggers_resync() {
    let mut s = spot();
    s.on_snapshot(&snapshot(100));
    let crossing_bid = [lvl(101, 1)];
    assert_eq!(
        s.on_diff(&diff(101, 101, None, &crossing_bid, &[])),
        SyncStatus::ResyncCrossed
    );
    assert!(!s.is_valid());
    assert_eq!(s.counters().crossed, 1);
    assert_eq!(s.counters().resyncs, 1);
    let mut crossed = snapshot(200);
    crossed.bids[0] = lvl(103, 1);
    assert_eq!(s.on_snapshot(&crossed), SyncStatus::ResyncCrossed);
}

#[test]
fn buffer_overflow_restarts_the_buffer_and_is_counted() {
    let config = SyncConfig {
        max_levels_per_side: 64,
        max_buffered_diffs: 2,
        max_buffered_levels: 4,
    };
    let mut s = BookSync::new(SyncRule::BinanceSpot, config);
    let two = [lvl(1, 1), lvl(2, 1)];
    assert_eq!(
        s.on_diff(&diff(1, 1, None, &two, &[])),
        SyncStatus::NeedSnapshot
    );
    assert_eq!(
        s.on_diff(&diff(2, 2, None, &two, &[])),
        SyncStatus::Buffered
    );
    // Level store full.
    assert_eq!(
        s.on_diff(&diff(3, 3, None, &[], &two)),
        SyncStatus::ResyncOverflow
    );
    assert_eq!(s.buffered_diffs(), 1);
    assert_eq!(s.on_diff(&diff(4, 4, None, &[], &[])), SyncStatus::Buffered);
    // Diff count full.
    assert_eq!(
        s.on_diff(&diff(5, 5, None, &[], &[])),
        SyncStatus::ResyncOverflow
    );
    assert_eq!(s.counters().overflows, 2);
    assert_eq!(s.on_snapshot(&snapshot(4)), SyncStatus::Synced);
}

#[test]
fn snapshot_while_live_is_ignored_and_top_carries_the_valid_flag() {
    let mut s = spot();
    let mut top = BookTop::default();
    s.fill_top(&mut top);
    assert!(!top.valid);
    s.on_snapshot(&snapshot(100));
    s.on_diff(&diff(101, 101, None, &[], &[]));
    assert_eq!(s.on_snapshot(&snapshot(150)), SyncStatus::SnapshotIgnored);
    s.fill_top(&mut top);
    assert!(top.valid);
    assert_eq!(top.last_update_id, 101);
    assert_eq!((top.bid_count, top.ask_count), (2, 2));
    assert_eq!(top.bids[0], lvl(100, 1));
    s.reset();
    assert!(!s.is_valid());
}

/// One generated diff: levels on the bid side below 100, on the ask side from 101 (never crossed).
/// (price, qty) pairs of one side of a generated diff.
type SideLevels = Vec<(i64, i64)>;

fn diff_levels() -> impl Strategy<Value = (SideLevels, SideLevels)> {
    let side = |lo: i64, hi: i64| prop::collection::vec((lo..hi, 0i64..3), 0..8);
    (side(60, 100), side(101, 140))
}

proptest! {
    #[test]
    fn random_diff_streams_match_a_btreemap_model(
        stream in prop::collection::vec(diff_levels(), 1..60),
        futures_rule in any::<bool>(),
        snapshot_at in 0usize..10,
    ) {
        let rule = if futures_rule { SyncRule::BinanceFutures } else { SyncRule::BinanceSpot };
        let mut sync = BookSync::new(rule, SyncConfig::default());
        let snap = snapshot(1000);
        let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for (map, levels) in model.iter_mut().zip([&snap.bids, &snap.asks]) {
            map.extend(levels.iter().map(units));
        }
        // Diff i covers ids [first, last]; the stream starts before the snapshot id.
        let mut last = 990u64;
        for (i, (bids, asks)) in stream.iter().enumerate() {
            if i == snapshot_at {
                let status = sync.on_snapshot(&snap);
                prop_assert!(matches!(status, SyncStatus::Synced | SyncStatus::AwaitingBridge));
            }
            let first = last + 1;
            last = first + 3;
            let b: Vec<Level> = bids.iter().map(|&(p, q)| lvl(p, q)).collect();
            let a: Vec<Level> = asks.iter().map(|&(p, q)| lvl(p, q)).collect();
            let covered = if futures_rule { last >= 1000 } else { last > 1000 };
            if covered {
                for (map, levels) in model.iter_mut().zip([&b, &a]) {
                    for l in levels.iter() {
                        let (p, q) = units(l);
                        if q == 0 { map.remove(&p); } else { map.insert(p, q); }
                    }
                }
            }
            sync.on_diff(&diff(first, last, Some(first - 1), &b, &a));
        }
        if snapshot_at >= stream.len() {
            sync.on_snapshot(&snap);
        }
        prop_assert_eq!(sync.is_valid(), last > 1000);
        prop_assert_eq!(sync.counters().gaps, 0);
        if sync.is_valid() {
            let want_bids: Vec<Level> = model[0].iter().rev().map(|(&p, &q)| lvl(p, q)).collect();
            let want_asks: Vec<Level> = model[1].iter().map(|(&p, &q)| lvl(p, q)).collect();
            prop_assert_eq!(sync.book().bids().collect::<Vec<_>>(), want_bids);
            prop_assert_eq!(sync.book().asks().collect::<Vec<_>>(), want_asks);
            prop_assert_eq!(sync.book().top_n(Side::Buy, 3).count(), sync.book().bid_count().min(3));
        }
    }
}
