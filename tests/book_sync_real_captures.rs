//! Rebuilds L2 books from real Binance captures (hftbacktest and cryptofeed, spot and USDⓈ-M)
//! through `BookSync` and checks them against an independent BTreeMap rebuild written here.
//! Frames are decoded with serde_json (test-only reference code, not the production decoder).

use flate2::read::GzDecoder;
use kestrel::book::{BookSync, SyncConfig, SyncRule, SyncStatus};
use kestrel::core::{DepthDiff, DepthSnapshot, Level, Price, Qty, Side, SymbolId};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");
const TOP: usize = 20;

/// One decoded depth event with owned levels.
enum Event {
    Diff {
        symbol: String,
        first: u64,
        last: u64,
        prev: Option<u64>,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    Snapshot {
        symbol: String,
        snap: DepthSnapshot,
    },
}

impl Event {
    /// The borrowed `DepthDiff` a decoder would hand over, for diff events.
    fn as_diff(&self) -> Option<DepthDiff<'_>> {
        let Event::Diff {
            first,
            last,
            prev,
            bids,
            asks,
            ..
        } = self
        else {
            return None;
        };
        Some(DepthDiff {
            symbol: SymbolId(0),
            recv_ns: 0,
            exch_ts_ms: 0,
            first_update_id: *first,
            last_update_id: *last,
            prev_last_update_id: *prev,
            bids,
            asks,
        })
    }
}

fn capture(rel: &str) -> Option<PathBuf> {
    let path = Path::new(DATA).join(rel);
    if path.exists() {
        Some(path)
    } else {
        println!("SKIP: shared capture {} is absent", path.display());
        None
    }
}

fn lines(path: &Path) -> impl Iterator<Item = String> {
    let file = std::fs::File::open(path).expect("capture opens");
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|l| l.expect("capture line is valid UTF-8"))
}

fn levels(v: &Value) -> Vec<Level> {
    v.as_array()
        .expect("levels are an array")
        .iter()
        .map(|pair| Level {
            price: Price::parse(pair[0].as_str().expect("price text")).expect("price parses"),
            qty: Qty::parse(pair[1].as_str().expect("qty text")).expect("qty parses"),
        })
        .collect()
}

fn diff_event(data: &Value) -> Event {
    Event::Diff {
        symbol: data["s"].as_str().expect("symbol").to_string(),
        first: data["U"].as_u64().expect("U"),
        last: data["u"].as_u64().expect("u"),
        prev: data.get("pu").and_then(Value::as_u64),
        bids: levels(&data["b"]),
        asks: levels(&data["a"]),
    }
}

fn snapshot_event(symbol: &str, body: &Value) -> Event {
    Event::Snapshot {
        symbol: symbol.to_string(),
        snap: DepthSnapshot {
            symbol: SymbolId(0),
            last_update_id: body["lastUpdateId"].as_u64().expect("lastUpdateId"),
            exch_ts_ms: body.get("E").and_then(Value::as_u64).unwrap_or(0),
            bids: levels(&body["bids"]),
            asks: levels(&body["asks"]),
        },
    }
}

/// hftbacktest: `<recv_ns> <json>`, combined-stream frames plus one bare REST snapshot.
fn read_hftbacktest(path: &Path, symbol: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for line in lines(path) {
        let Some((_, json)) = line.split_once(' ') else {
            continue;
        };
        if !json.contains("depthUpdate") && !json.contains("lastUpdateId") {
            continue;
        }
        let v: Value = serde_json::from_str(json).expect("frame is JSON");
        if v.get("lastUpdateId").is_some() {
            out.push(snapshot_event(symbol, &v));
        } else {
            out.push(diff_event(&v["data"]));
        }
    }
    out
}

/// cryptofeed: JSON lines; `t:"recv"` frames and `t:"http"` snapshots, replayed in `ts` order.
fn read_cryptofeed(path: &Path) -> Vec<Event> {
    let mut timed = Vec::new();
    for line in lines(path) {
        let v: Value = serde_json::from_str(&line).expect("line is JSON");
        let ts = v["ts"].as_f64().unwrap_or(0.0);
        let data = v["data"].as_str().unwrap_or("");
        match v["t"].as_str() {
            Some("recv") if data.contains("depthUpdate") => {
                let frame: Value = serde_json::from_str(data).expect("frame is JSON");
                timed.push((ts, diff_event(&frame["data"])));
            }
            Some("http") => {
                let url = v["url"].as_str().unwrap_or("");
                let Some(query) = url.split("depth?symbol=").nth(1) else {
                    continue;
                };
                let symbol = query.split('&').next().expect("symbol in query");
                let body: Value = serde_json::from_str(data).expect("snapshot is JSON");
                timed.push((ts, snapshot_event(symbol, &body)));
            }
            _ => {}
        }
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    timed.into_iter().map(|(_, e)| e).collect()
}

/// A diff the reference holds until its snapshot arrives: (U, u, pu, bids, asks).
type Pending = (u64, u64, Option<u64>, Vec<Level>, Vec<Level>);

/// Independent rebuild: snapshot into BTreeMaps, then every diff that reaches past it, with the
/// venue's continuity rule asserted directly.
#[derive(Default)]
struct Reference {
    snapshot_id: Option<u64>,
    local_id: Option<u64>,
    pending: Vec<Pending>,
    bids: BTreeMap<Price, Qty>,
    asks: BTreeMap<Price, Qty>,
}

impl Reference {
    fn apply(
        &mut self,
        rule: SyncRule,
        first: u64,
        last: u64,
        prev: Option<u64>,
        b: &[Level],
        a: &[Level],
    ) {
        let Some(snapshot_id) = self.snapshot_id else {
            self.pending
                .push((first, last, prev, b.to_vec(), a.to_vec()));
            return;
        };
        match (rule, self.local_id) {
            (SyncRule::BinanceSpot, None) if last <= snapshot_id => return,
            (SyncRule::BinanceFutures, None) if last < snapshot_id => return,
            (SyncRule::BinanceSpot, None) => assert!(first <= snapshot_id + 1),
            (SyncRule::BinanceFutures, None) => assert!(first <= snapshot_id),
            (SyncRule::BinanceSpot, Some(local)) => assert_eq!(first, local + 1, "spot chain"),
            (SyncRule::BinanceFutures, Some(local)) => assert_eq!(prev, Some(local), "pu chain"),
        }
        for (map, levels) in [(&mut self.bids, b), (&mut self.asks, a)] {
            for l in levels {
                if l.qty.is_zero() {
                    map.remove(&l.price);
                } else {
                    map.insert(l.price, l.qty);
                }
            }
        }
        self.local_id = Some(last);
    }

    fn load(&mut self, rule: SyncRule, snap: &DepthSnapshot) {
        self.snapshot_id = Some(snap.last_update_id);
        self.bids = snap.bids.iter().map(|l| (l.price, l.qty)).collect();
        self.asks = snap.asks.iter().map(|l| (l.price, l.qty)).collect();
        for (first, last, prev, b, a) in std::mem::take(&mut self.pending) {
            self.apply(rule, first, last, prev, &b, &a);
        }
    }

    fn bids(&self) -> Vec<Level> {
        self.bids
            .iter()
            .rev()
            .map(|(&price, &qty)| Level { price, qty })
            .collect()
    }

    fn asks(&self) -> Vec<Level> {
        self.asks
            .iter()
            .map(|(&price, &qty)| Level { price, qty })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Replay {
    diffs: usize,
    applied_checks: usize,
    final_update_id: u64,
    bid_levels: usize,
    ask_levels: usize,
}

/// Replays one symbol's events through `BookSync` and the reference; checks top 20 after every
/// applied diff and the whole book at the end.
fn replay(events: &[Event], symbol: &str, rule: SyncRule) -> Replay {
    let mut sync = BookSync::new(rule, SyncConfig::default());
    let mut reference = Reference::default();
    let mut out = Replay::default();
    for event in events {
        match event {
            Event::Snapshot { symbol: s, snap } if s == symbol => {
                let status = sync.on_snapshot(snap);
                assert!(
                    matches!(status, SyncStatus::Synced | SyncStatus::AwaitingBridge),
                    "{symbol}: snapshot {} gave {status:?}",
                    snap.last_update_id
                );
                reference.load(rule, snap);
            }
            Event::Diff {
                symbol: s,
                first,
                last,
                prev,
                bids,
                asks,
            } if s == symbol => {
                out.diffs += 1;
                let status = sync.on_diff(&event.as_diff().expect("a diff event"));
                assert!(
                    !status.needs_snapshot() || out.diffs == 1,
                    "{symbol}: {status:?} at u={last}"
                );
                reference.apply(rule, *first, *last, *prev, bids, asks);
                if status == SyncStatus::Applied {
                    out.applied_checks += 1;
                    let top_bids: Vec<Level> = sync.book().top_n(Side::Buy, TOP).collect();
                    let top_asks: Vec<Level> = sync.book().top_n(Side::Sell, TOP).collect();
                    assert_eq!(
                        top_bids,
                        reference.bids()[..top_bids.len()],
                        "{symbol} bids at u={last}"
                    );
                    assert_eq!(
                        top_asks,
                        reference.asks()[..top_asks.len()],
                        "{symbol} asks at u={last}"
                    );
                    assert_eq!(top_bids.len(), reference.bids.len().min(TOP));
                    assert_eq!(top_asks.len(), reference.asks.len().min(TOP));
                }
            }
            _ => {}
        }
    }
    assert!(sync.is_valid(), "{symbol}: book valid at the end");
    let c = sync.counters();
    assert_eq!(
        (c.gaps, c.resyncs, c.crossed, c.overflows),
        (0, 0, 0, 0),
        "{symbol}: {c:?}"
    );
    assert_eq!(sync.book().evicted_levels(), 0);
    assert_eq!(
        sync.book().bids().collect::<Vec<_>>(),
        reference.bids(),
        "{symbol}: whole bid side"
    );
    assert_eq!(
        sync.book().asks().collect::<Vec<_>>(),
        reference.asks(),
        "{symbol}: whole ask side"
    );
    assert_eq!(Some(sync.last_update_id()), reference.local_id);
    assert!(!sync.book().is_crossed());
    out.final_update_id = sync.last_update_id();
    out.bid_levels = sync.book().bid_count();
    out.ask_levels = sync.book().ask_count();
    println!("{symbol} {rule:?}: {out:?} counters {c:?}");
    out
}

#[test]
fn spot_btcusdt_hftbacktest_rebuild_matches_reference_with_zero_gaps() {
    let Some(path) = capture("hftbacktest/binance_spot/btcusdt_20240808.gz") else {
        return;
    };
    let events = read_hftbacktest(&path, "BTCUSDT");
    let r = replay(&events, "BTCUSDT", SyncRule::BinanceSpot);
    assert!(r.diffs > 3000 && r.applied_checks > 3000, "{r:?}");
    assert!(r.bid_levels >= 1000 && r.ask_levels >= 1000);
}

#[test]
fn futures_btcusdt_hftbacktest_rebuild_matches_reference_with_zero_gaps() {
    let Some(path) = capture("hftbacktest/binance_usdm/btcusdt_20240808.gz") else {
        return;
    };
    let events = read_hftbacktest(&path, "BTCUSDT");
    let r = replay(&events, "BTCUSDT", SyncRule::BinanceFutures);
    assert!(r.diffs > 6000 && r.applied_checks > 6000, "{r:?}");
}

#[test]
fn spot_cryptofeed_nknusdt_first_kept_diff_starts_at_snapshot_plus_one() {
    let Some(path) = capture("cryptofeed/binance_spot_2021-10-12.jsonl.gz") else {
        return;
    };
    let events = read_cryptofeed(&path);
    // Snapshot lastUpdateId=499869752 arrives after the diff U=499869750,u=499869752 was
    // buffered: that diff is stale for spot (u ≤ lastUpdateId) and U=499869753 bridges.
    let r = replay(&events, "NKNUSDT", SyncRule::BinanceSpot);
    assert!(r.applied_checks >= 140, "{r:?}");
    for symbol in ["BLZETH", "LRCBTC", "RUNEEUR"] {
        replay(&events, symbol, SyncRule::BinanceSpot);
    }
}

#[test]
fn spot_cryptofeed_stale_bridge_diff_is_dropped_by_counter() {
    let Some(path) = capture("cryptofeed/binance_spot_2021-10-12.jsonl.gz") else {
        return;
    };
    let events = read_cryptofeed(&path);
    let mut sync = BookSync::new(SyncRule::BinanceSpot, SyncConfig::default());
    let mut statuses = Vec::new();
    for event in &events {
        match event {
            Event::Snapshot { symbol, snap } if symbol == "NKNUSDT" => {
                statuses.push(sync.on_snapshot(snap))
            }
            Event::Diff { symbol, .. } if symbol == "NKNUSDT" => {
                statuses.push(sync.on_diff(&event.as_diff().expect("a diff event")));
            }
            _ => {}
        }
        if statuses.len() == 3 {
            break;
        }
    }
    assert_eq!(
        statuses,
        [
            SyncStatus::NeedSnapshot,
            SyncStatus::AwaitingBridge,
            SyncStatus::Applied
        ]
    );
    assert_eq!(sync.counters().stale_drops, 1);
    assert_eq!(sync.last_update_id(), 499_869_754);
}

#[test]
fn futures_cryptofeed_sushi_and_akro_bridge_with_pu_chain() {
    let Some(path) = capture("cryptofeed/binance_usdm_2021-07-22_SUSHI_AKRO.jsonl.gz") else {
        return;
    };
    let events = read_cryptofeed(&path);
    let mut per_symbol: HashMap<&str, Replay> = HashMap::new();
    for symbol in ["SUSHIUSDT", "AKROUSDT"] {
        per_symbol.insert(symbol, replay(&events, symbol, SyncRule::BinanceFutures));
    }
    // AKRO's first processed diff has u == lastUpdateId (600859605486): kept by the futures
    // rule, where the spot rule would have dropped it.
    let akro = &per_symbol["AKROUSDT"];
    assert_eq!(
        akro.diffs - akro.applied_checks,
        1,
        "only the u < lastUpdateId diff is dropped"
    );
    assert!(per_symbol["SUSHIUSDT"].applied_checks > 200);
}
