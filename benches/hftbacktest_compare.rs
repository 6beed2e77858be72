//! Opt-in side-by-side with hftbacktest 0.9.4 (crates.io, `backtest` feature only) on the
//! same data in the same process: `cargo bench --features hftbacktest-compare --bench
//! hftbacktest_compare`. CI never builds it (the feature pulls the crate).
//!
//! Data: the bundled spot capture, decoded once by the live Binance decoder. hftbacktest
//! gets it as `Event`s in its L2 layout (benches/support/capture.rs: a `DEPTH_CLEAR` and one
//! `DEPTH_SNAPSHOT` per level for the REST snapshot, one `DEPTH` per diff level, one `TRADE`
//! per trade, one `DEPTH_BBO` per bookTicker side — its L2 processors skip BBO rows, ours
//! applies bookTicker to the paper venue's book), all flagged `EXCH | LOCAL` with the
//! receive time as both stamps (zero feed latency on both sides); ours gets the decoded
//! input items (`VecInput`). Both from memory.
//!
//! - `replay`: hftbacktest `goto_end` with no orders; ours with no strategy (`CaptureOnly`).
//! - `grid`: hftbacktest's grid-trading example logic (10 levels a side, 100 ms steps,
//!   written here against its `Bot` API) with `ProbQueueModel(PowerProbQueueFunc(3))` (the
//!   example uses `PowerProbQueueFunc3`; `PowerProbQueueFunc` is the rule our
//!   `QueueModel::Probabilistic { power: 3 }` implements, so both run the same model),
//!   `ConstantLatency(1 ms, 1 ms)`, `NoPartialFillExchange`, fees 0 / 0.0007 on
//!   `HashMapMarketDepth`; ours the same grid (benches/support/grid.rs) through risk rails,
//!   order manager and paper venue with the same latencies and fees.
//!
//! Mode: one thread, unpinned, release (fat LTO), 2-vCPU KVM VM shared with builds; the
//! wall clock varies ±25 %, so the ratio is printed from medians of interleaved runs. For
//! the noise-free A/B, count instructions of one run each:
//! `KESTREL_COMPARE_RUNS=1 KESTREL_COMPARE_ONLY=grid valgrind --tool=callgrind
//! target/release/deps/hftbacktest_compare-* --bench no-criterion-group` (or `=replay`), then
//! `callgrind_annotate --inclusive=yes` and read the `timed_ours` / `timed_hbt` lines (the
//! filter skips the criterion groups). The final best
//! bid/ask of both books are compared as a check that both ran on identical data.

#[path = "support/capture.rs"]
mod capture;
#[path = "support/grid.rs"]
mod grid;
#[path = "support/runs.rs"]
mod runs;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hftbacktest::backtest::assettype::LinearAsset;
use hftbacktest::backtest::data::Data;
use hftbacktest::backtest::models::{
    CommonFees, ConstantLatency, PowerProbQueueFunc, ProbQueueModel, TradingValueFeeModel,
};
use hftbacktest::backtest::{Backtest, DataSource, ExchangeKind, L2AssetBuilder};
use hftbacktest::prelude::{
    Bot, ElapseResult, Event, HashMapMarketDepth, MarketDepth, OrdType, Side as HbtSide,
    TimeInForce, BUY_EVENT, DEPTH_BBO_EVENT, DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT, INVALID_MAX, INVALID_MIN, LOCAL_EVENT, SELL_EVENT, TRADE_EVENT,
};
use kestrel::backtest::input::{InputEvent, InputItem, VecInput};
use kestrel::core::{MarketEventKind, Side};

use capture::{capture_path, decode_items, hbt_rows, Row, RowKind};
use runs::{Load, Setup};

/// hftbacktest's depth: the spot capture's tick and lot.
const TICK: f64 = 0.01;
const LOT: f64 = 0.00001;
/// Interleaved timed runs per side for the summary (medians).
const SUMMARY_RUNS: usize = 9;

fn side_flag(side: Side) -> u64 {
    match side {
        Side::Buy => BUY_EVENT,
        Side::Sell => SELL_EVENT,
    }
}

fn to_event(row: &Row) -> Event {
    let ev = match row.kind {
        RowKind::Clear => DEPTH_CLEAR_EVENT,
        RowKind::Snapshot(side) => DEPTH_SNAPSHOT_EVENT | side_flag(side),
        RowKind::Depth(side) => DEPTH_EVENT | side_flag(side),
        RowKind::Trade(side) => TRADE_EVENT | side_flag(side),
        RowKind::Bbo(side) => DEPTH_BBO_EVENT | side_flag(side),
    };
    Event {
        ev: ev | EXCH_EVENT | LOCAL_EVENT,
        exch_ts: row.ts_ns as i64,
        local_ts: row.ts_ns as i64,
        px: row.px,
        qty: row.qty,
        order_id: 0,
        ival: 0,
        fval: 0.0,
    }
}

fn hbt_backtest(data: &Data<Event>) -> Backtest<HashMapMarketDepth> {
    let asset = L2AssetBuilder::new()
        .data(vec![DataSource::Data(data.clone())])
        .latency_model(ConstantLatency::new(
            runs::ENTRY_LATENCY_US as i64 * 1_000,
            runs::REPORT_LATENCY_US as i64 * 1_000,
        ))
        .asset_type(LinearAsset::new(1.0))
        .fee_model(TradingValueFeeModel::new(CommonFees::new(
            runs::MAKER_FEE,
            runs::TAKER_FEE,
        )))
        .exchange(ExchangeKind::NoPartialFillExchange)
        .queue_model(ProbQueueModel::new(PowerProbQueueFunc::new(f64::from(
            runs::QUEUE_POWER,
        ))))
        .depth(|| HashMapMarketDepth::new(TICK, LOT))
        .build()
        .unwrap_or_else(|e| panic!("hftbacktest asset: {e:?}"));
    Backtest::builder()
        .add_asset(asset)
        .build()
        .unwrap_or_else(|e| panic!("hftbacktest backtest: {e:?}"))
}

/// What an hftbacktest run ended with.
#[derive(Debug, Clone, Copy)]
struct HbtOutcome {
    best_bid: f64,
    best_ask: f64,
    fills: i64,
    position: f64,
}

fn hbt_outcome(hbt: &Backtest<HashMapMarketDepth>) -> HbtOutcome {
    let depth = hbt.depth(0);
    let state = hbt.state_values(0);
    HbtOutcome {
        best_bid: depth.best_bid(),
        best_ask: depth.best_ask(),
        fills: state.num_trades,
        position: state.position,
    }
}

fn hbt_replay(data: &Data<Event>) -> HbtOutcome {
    let mut hbt = hbt_backtest(data);
    hbt.goto_end()
        .unwrap_or_else(|e| panic!("hftbacktest replay: {e:?}"));
    hbt_outcome(&hbt)
}

/// The grid-trading example's loop (hftbacktest `examples/algo.rs`), same parameters as
/// our grid (runs.rs).
fn hbt_grid(data: &Data<Event>) -> HbtOutcome {
    let mut hbt = hbt_backtest(data);
    let levels = runs::GRID_LEVELS;
    let qty: f64 = runs::GRID_QTY.parse().unwrap_or(0.001);
    let relative: f64 = runs::GRID_RELATIVE.parse().unwrap_or(0.0005);
    let min_step: f64 = runs::GRID_MIN_STEP.parse().unwrap_or(TICK);
    let skew = relative / levels as f64;
    let max_position = levels as f64 * qty;
    let tick = hbt.depth(0).tick_size();
    let mut wanted: HashSet<u64> = HashSet::with_capacity(2 * levels);
    let mut cancels: Vec<u64> = Vec::with_capacity(4 * levels);
    let mut news: Vec<(u64, f64)> = Vec::with_capacity(2 * levels);
    while hbt
        .elapse(runs::GRID_REQUOTE_NS as i64)
        .unwrap_or_else(|e| panic!("hftbacktest elapse: {e:?}"))
        == ElapseResult::Ok
    {
        let depth = hbt.depth(0);
        if depth.best_bid_tick() == INVALID_MIN || depth.best_ask_tick() == INVALID_MAX {
            continue;
        }
        let (best_bid, best_ask) = (depth.best_bid(), depth.best_ask());
        let position = hbt.position(0);
        let mid = (best_bid + best_ask) / 2.0;
        let normalized = position / qty;
        let bid = (mid * (1.0 - (relative + skew * normalized))).min(best_bid);
        let ask = (mid * (1.0 + (relative - skew * normalized))).max(best_ask);
        let interval = ((mid * relative / min_step).round() * min_step).max(min_step);
        let first_bid = (bid / interval).floor() * interval;
        let first_ask = (ask / interval).ceil() * interval;
        hbt.clear_inactive_orders(Some(0));
        for (side, on, first, step) in [
            (HbtSide::Buy, position < max_position, first_bid, -interval),
            (HbtSide::Sell, position > -max_position, first_ask, interval),
        ] {
            wanted.clear();
            cancels.clear();
            news.clear();
            if on && first.is_finite() {
                for level in 0..levels {
                    let price = first + step * level as f64;
                    let id = (price / tick).round() as u64;
                    if wanted.insert(id) {
                        news.push((id, price));
                    }
                }
            }
            let orders = hbt.orders(0);
            cancels.extend(
                orders
                    .values()
                    .filter(|o| o.side == side && o.cancellable() && !wanted.contains(&o.order_id))
                    .map(|o| o.order_id),
            );
            news.retain(|(id, _)| !orders.contains_key(id));
            for &id in &cancels {
                hbt.cancel(0, id, false)
                    .unwrap_or_else(|e| panic!("hftbacktest cancel: {e:?}"));
            }
            for &(id, price) in &news {
                let placed = match side {
                    HbtSide::Buy => hbt.submit_buy_order(
                        0,
                        id,
                        price,
                        qty,
                        TimeInForce::GTX,
                        OrdType::Limit,
                        false,
                    ),
                    _ => hbt.submit_sell_order(
                        0,
                        id,
                        price,
                        qty,
                        TimeInForce::GTX,
                        OrdType::Limit,
                        false,
                    ),
                };
                placed.unwrap_or_else(|e| panic!("hftbacktest submit: {e:?}"));
            }
        }
    }
    hbt_outcome(&hbt)
}

/// One hftbacktest run over the data.
type HbtRun = fn(&Data<Event>) -> HbtOutcome;

/// Our final best bid/ask: the last book top the input published.
fn our_final_book(items: &[InputItem]) -> Option<(f64, f64)> {
    items.iter().rev().find_map(|item| match &item.event {
        InputEvent::Market(event) => match &event.kind {
            MarketEventKind::Book(top) if top.valid && top.bid_count > 0 && top.ask_count > 0 => {
                Some((top.bids[0].price.to_f64(), top.asks[0].price.to_f64()))
            }
            _ => None,
        },
        InputEvent::Bar(_) => None,
    })
}

/// Interleaved summary runs: `KESTREL_COMPARE_RUNS` or [`SUMMARY_RUNS`] (1 under callgrind).
fn summary_runs() -> usize {
    std::env::var("KESTREL_COMPARE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SUMMARY_RUNS)
}

/// One of our summary runs, kept out of line so callgrind's inclusive cost names it.
#[inline(never)]
fn timed_ours(
    run: &dyn Fn(Vec<InputItem>) -> runs::Outcome,
    items: Vec<InputItem>,
) -> runs::Outcome {
    run(items)
}

/// One hftbacktest summary run, kept out of line so callgrind's inclusive cost names it.
#[inline(never)]
fn timed_hbt(run: HbtRun, data: &Data<Event>) -> HbtOutcome {
    run(data)
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64()
}

fn bench_compare(c: &mut Criterion) {
    let path = capture_path();
    let (items, _, _) = decode_items(&path).unwrap_or_else(|e| panic!("decode capture: {e:#}"));
    let rows = hbt_rows(&path).unwrap_or_else(|e| panic!("convert capture: {e:#}"));
    let events: Vec<Event> = rows.iter().map(to_event).collect();
    let bbo_rows = rows
        .iter()
        .filter(|r| matches!(r.kind, RowKind::Bbo(_)))
        .count();
    let data = Data::from_data(&events);
    let n = events.len() as u64;
    eprintln!(
        "data: {} input items (ours), {n} hftbacktest events ({bbo_rows} of them BBO rows its L2 backtest skips)",
        items.len()
    );

    // Cross-check: both books end at the same best bid/ask (in ticks: hftbacktest keeps
    // prices as tick counts × tick, so its f64 is not the decoded one bit for bit).
    let theirs = hbt_replay(&data);
    let ours = our_final_book(&items);
    eprintln!(
        "final book: hftbacktest {} / {}, ours {:?}",
        theirs.best_bid, theirs.best_ask, ours
    );
    let ticks = |(bid, ask): (f64, f64)| ((bid / TICK).round() as i64, (ask / TICK).round() as i64);
    assert_eq!(
        ours.map(ticks),
        Some(ticks((theirs.best_bid, theirs.best_ask))),
        "the two backtests did not end on the same book: different input"
    );

    let pairs: [(&str, Load, HbtRun); 2] = [
        ("replay", Load::Replay, hbt_replay),
        ("grid", Load::Grid, hbt_grid),
    ];
    let only = std::env::var("KESTREL_COMPARE_ONLY").ok();
    for (name, load, hbt_run) in pairs {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let setup = Setup::new(load);
        let ours_run = |items: Vec<InputItem>| {
            setup
                .run(&mut VecInput::new(items))
                .unwrap_or_else(|e| panic!("our run: {e:#}"))
        };
        let our_outcome = ours_run(items.clone());
        let their_outcome = hbt_run(&data);
        eprintln!(
            "{name}: ours {} intents, {} fills, position {}; hftbacktest {} fills, position {}",
            our_outcome.counts.intents,
            our_outcome.fills,
            our_outcome.grid_position,
            their_outcome.fills,
            their_outcome.position
        );
        let (mut ours_wall, mut theirs_wall) = (Vec::new(), Vec::new());
        for _ in 0..summary_runs() {
            let copy = items.clone();
            let start = Instant::now();
            std::hint::black_box(timed_ours(&ours_run, copy));
            ours_wall.push(start.elapsed());
            let start = Instant::now();
            std::hint::black_box(timed_hbt(hbt_run, &data));
            theirs_wall.push(start.elapsed());
        }
        let (ours_s, theirs_s) = (median(ours_wall), median(theirs_wall));
        eprintln!(
            "{name}: ours {:.3} ms = {:.2} M events/s ({:.2} M input items/s); hftbacktest {:.3} ms = {:.2} M events/s; ours / hftbacktest = {:.2}×",
            ours_s * 1e3,
            n as f64 / ours_s / 1e6,
            items.len() as f64 / ours_s / 1e6,
            theirs_s * 1e3,
            n as f64 / theirs_s / 1e6,
            theirs_s / ours_s,
        );

        let mut group = c.benchmark_group(format!("compare_{name}"));
        group.throughput(Throughput::Elements(n));
        group.sample_size(10);
        group.bench_function("kestrel", |b| {
            b.iter_batched(|| items.clone(), ours_run, BatchSize::LargeInput)
        });
        group.bench_function("hftbacktest", |b| b.iter(|| hbt_run(&data)));
        group.finish();
    }
}

criterion_group!(benches, bench_compare);
criterion_main!(benches);
