//! Owns: the bundled spot capture as the backtest benchmarks read it — through the
//! backtester's capture input (the live decoder and `BookSync`) into the driver's input
//! items, and the same data as hftbacktest `Event` rows (a depth clear and
//! one row per snapshot level, one per diff level, one per trade, one per bookTicker side),
//! in the order our book applies them. Never: repairs or reorders data, or depends on
//! hftbacktest (the comparison bench maps the rows to its `Event`).

// Shared by two bench binaries (backtest, hftbacktest_compare); each uses a part.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kestrel::backtest::input::{CaptureInput, InputItem, MarketInput};
use kestrel::book::{BookSync, SyncConfig, SyncStatus};
use kestrel::core::{Level, MarketEventKind, Side, SymbolId, SymbolTable};
use kestrel::feed::binance::{BinanceDecoder, BinanceMarket, Decoded};
use kestrel::feed::replay::{open_capture, split_capture_line};

/// The bundled capture (41,249 lines, 346 s of BTCUSDT spot on 2024-08-08).
pub fn capture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/binance_spot_btcusdt_20240808.gz")
}

/// The traded symbol of the capture, interned first (id 0) as the backtest setup does.
pub fn capture_symbols() -> (SymbolTable, SymbolId) {
    let mut table = SymbolTable::new();
    let id = table
        .intern("BTCUSDT")
        .unwrap_or_else(|e| panic!("BTCUSDT is a valid symbol: {e:?}"));
    (table, id)
}

fn is_snapshot(frame: &str) -> bool {
    frame.starts_with("{\"lastUpdateId\"")
}

/// The capture opened through the backtester's own input (`backtest::input::CaptureInput`:
/// gunzip, the live frame handling — decoder, `BookSync`, top of book, de-dup — per line).
pub fn open_input(path: &Path) -> anyhow::Result<(CaptureInput, SymbolId)> {
    let (table, symbol) = capture_symbols();
    let input = CaptureInput::open(path, false, BinanceMarket::Spot, Some(symbol), &table)?;
    Ok((input, symbol))
}

/// The whole capture decoded into items, with the input that produced them (its books).
pub fn decode_items(path: &Path) -> anyhow::Result<(Vec<InputItem>, CaptureInput, SymbolId)> {
    let (mut input, symbol) = open_input(path)?;
    let mut items = Vec::with_capacity(64 * 1024);
    while let Some(item) = input.next_item()? {
        items.push(item);
    }
    Ok((items, input, symbol))
}

/// What an hftbacktest row says (its `ev` flags are set by the comparison bench).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// `DEPTH_CLEAR_EVENT` (both sides) before a snapshot.
    Clear,
    /// `DEPTH_SNAPSHOT_EVENT` level.
    Snapshot(Side),
    /// `DEPTH_EVENT` level change (qty 0 deletes).
    Depth(Side),
    /// `TRADE_EVENT`, flagged with the aggressor's side.
    Trade(Side),
    /// `DEPTH_BBO_EVENT` (one per bookTicker side).
    Bbo(Side),
}

/// One hftbacktest `Event` worth of data: received at `ts_ns` (used as both its exchange
/// and local time: zero feed latency, as our driver runs with `feed_latency_us = 0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    pub ts_ns: u64,
    pub px: f64,
    pub qty: f64,
}

fn level_rows(
    rows: &mut Vec<Row>,
    kind: fn(Side) -> RowKind,
    ts_ns: u64,
    side: Side,
    levels: &[Level],
) {
    rows.extend(levels.iter().map(|l| Row {
        kind: kind(side),
        ts_ns,
        px: l.price.to_f64(),
        qty: l.qty.to_f64(),
    }));
}

/// A diff held back until the snapshot that it must follow (its levels owned).
struct HeldDiff {
    last_update_id: u64,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

/// The capture as hftbacktest rows, in the order our `BookSync` applies the data: diffs the
/// sync drops as stale are left out; diffs it buffered before the snapshot follow the
/// snapshot (at the snapshot's time) when they reach past it. Errors on a sequence gap or
/// resync (the bundled capture has none), since hftbacktest's data would then differ.
pub fn hbt_rows(path: &Path) -> anyhow::Result<Vec<Row>> {
    let (table, symbol) = capture_symbols();
    let mut decoder = BinanceDecoder::new(&table);
    let mut sync = BookSync::new(BinanceMarket::Spot.sync_rule(), SyncConfig::default());
    let mut reader = open_capture(path)?;
    let mut rows = Vec::with_capacity(512 * 1024);
    let mut held: Vec<HeldDiff> = Vec::new();
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        line_no += 1;
        let Some((ts_ns, frame)) = split_capture_line(&line) else {
            continue;
        };
        let at = || format!("{}:{line_no}", path.display());
        if is_snapshot(frame) {
            let snapshot = decoder
                .decode_snapshot(frame.as_bytes(), symbol)
                .with_context(at)?;
            let status = sync.on_snapshot(&snapshot);
            anyhow::ensure!(
                matches!(status, SyncStatus::Synced | SyncStatus::AwaitingBridge),
                "{}: snapshot gave {status:?}",
                at()
            );
            rows.push(Row {
                kind: RowKind::Clear,
                ts_ns,
                px: 0.0,
                qty: 0.0,
            });
            level_rows(
                &mut rows,
                RowKind::Snapshot,
                ts_ns,
                Side::Buy,
                &snapshot.bids,
            );
            level_rows(
                &mut rows,
                RowKind::Snapshot,
                ts_ns,
                Side::Sell,
                &snapshot.asks,
            );
            for diff in held.drain(..) {
                if diff.last_update_id > snapshot.last_update_id {
                    level_rows(&mut rows, RowKind::Depth, ts_ns, Side::Buy, &diff.bids);
                    level_rows(&mut rows, RowKind::Depth, ts_ns, Side::Sell, &diff.asks);
                }
            }
            continue;
        }
        match decoder.decode(frame.as_bytes(), ts_ns).with_context(at)? {
            Decoded::Depth(diff) if diff.symbol == symbol => match sync.on_diff(&diff) {
                SyncStatus::Applied => {
                    level_rows(&mut rows, RowKind::Depth, ts_ns, Side::Buy, diff.bids);
                    level_rows(&mut rows, RowKind::Depth, ts_ns, Side::Sell, diff.asks);
                }
                SyncStatus::NeedSnapshot | SyncStatus::Buffered => held.push(HeldDiff {
                    last_update_id: diff.last_update_id,
                    bids: diff.bids.to_vec(),
                    asks: diff.asks.to_vec(),
                }),
                SyncStatus::DroppedStale => {}
                status => anyhow::bail!("{}: diff gave {status:?}", at()),
            },
            Decoded::Trade(event) if event.symbol == symbol => {
                if let MarketEventKind::Trade(trade) = event.kind {
                    rows.push(Row {
                        kind: RowKind::Trade(trade.aggressor),
                        ts_ns,
                        px: trade.price.to_f64(),
                        qty: trade.qty.to_f64(),
                    });
                }
            }
            Decoded::BookTicker(event) if event.symbol == symbol => {
                if let MarketEventKind::BookTicker(t) = event.kind {
                    for (side, px, qty) in [
                        (Side::Buy, t.bid_price, t.bid_qty),
                        (Side::Sell, t.ask_price, t.ask_qty),
                    ] {
                        rows.push(Row {
                            kind: RowKind::Bbo(side),
                            ts_ns,
                            px: px.to_f64(),
                            qty: qty.to_f64(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(rows)
}
