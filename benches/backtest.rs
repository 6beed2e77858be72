//! Backtest throughput on the bundled L2 capture (`data/binance_spot_btcusdt_20240808.gz`,
//! 41,249 lines, 346 s of BTCUSDT spot: depth diffs, trades, bookTicker, one REST snapshot)
//! with the probabilistic queue model (power 3) and the order latency model on (1 ms entry,
//! 1 ms report) and fees, the risk rails
//! non-binding (`RiskLimits::non_binding()`) so no order is throttled. Mode: one thread,
//! unpinned, release profile (fat LTO), on the 2-vCPU KVM dev machine shared with builds
//! (wall-clock varies ±25 % run to run; for A/B use callgrind instruction counts).
//!
//! - `backtest_file/{replay,probe,grid}`: the whole pipeline from the `.gz` file — the
//!   backtester's capture input (gunzip, the live Binance decoder and `BookSync`), then the
//!   driver: strategy, risk rails, order
//!   manager, portfolio, paper venue.
//! - `backtest_memory/{replay,probe,grid}`: the same run from the items decoded once into memory
//!   (`VecInput`): the backtester alone.
//!
//! Loads: `replay` runs no strategy (`CaptureOnly`); `probe` is the default `kestrel backtest` strategy (market entry with a bracket);
//! `grid` is hftbacktest's grid-trading example (10 post-only levels a side re-quoted every
//! 100 ms of simulated time, benches/support/grid.rs) sending `OrderIntent`s through the
//! same funnel. Criterion's throughput is in hftbacktest-equivalent events (one per
//! snapshot level, depth level change, trade and bookTicker side — what the capture converts
//! to in hftbacktest's `Event` layout); the `eprintln` lines give input items/s as well.

#[path = "support/capture.rs"]
mod capture;
#[path = "support/grid.rs"]
mod grid;
#[path = "support/runs.rs"]
mod runs;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kestrel::backtest::input::VecInput;

use capture::{capture_path, decode_items, hbt_rows, open_input};
use runs::{Load, Setup};

/// Runs timed outside criterion for the summary line (median taken).
const SUMMARY_RUNS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn bench_backtest(c: &mut Criterion) {
    let path = capture_path();
    let (items, input, symbol) =
        decode_items(&path).unwrap_or_else(|e| panic!("decode capture: {e:#}"));
    let hbt_events = hbt_rows(&path)
        .unwrap_or_else(|e| panic!("convert capture: {e:#}"))
        .len() as u64;
    let item_count = items.len() as u64;
    let book = input
        .frame_books()
        .book(symbol)
        .unwrap_or_else(|| panic!("the capture input holds the BTCUSDT book"))
        .book();
    eprintln!(
        "capture: {item_count} input items, {hbt_events} hftbacktest-equivalent events, {} snapshots; final book {:?} / {:?}",
        input.snapshots(),
        book.best_bid().map(|l| l.price),
        book.best_ask().map(|l| l.price),
    );

    for load in Load::ALL {
        let setup = Setup::new(load);
        let from_file = || {
            let (mut input, _) =
                open_input(&path).unwrap_or_else(|e| panic!("open capture: {e:#}"));
            setup
                .run(&mut input)
                .unwrap_or_else(|e| panic!("file run: {e:#}"))
        };
        let from_memory = |items: Vec<_>| {
            setup
                .run(&mut VecInput::new(items))
                .unwrap_or_else(|e| panic!("memory run: {e:#}"))
        };

        // Summary: median wall time of a few plain runs, both ways of counting.
        let outcome = from_memory(items.clone());
        for (mode, wall) in [
            (
                "file",
                median(
                    (0..SUMMARY_RUNS)
                        .map(|_| {
                            let start = Instant::now();
                            std::hint::black_box(from_file());
                            start.elapsed()
                        })
                        .collect(),
                ),
            ),
            (
                "memory",
                median(
                    (0..SUMMARY_RUNS)
                        .map(|_| {
                            let copy = items.clone();
                            let start = Instant::now();
                            std::hint::black_box(from_memory(copy));
                            start.elapsed()
                        })
                        .collect(),
                ),
            ),
        ] {
            let secs = wall.as_secs_f64();
            eprintln!(
                "backtest_{mode}/{}: {:.3} ms per run; {:.2} M input items/s; {:.2} M hftbacktest-equivalent events/s",
                load.name(),
                secs * 1e3,
                item_count as f64 / secs / 1e6,
                hbt_events as f64 / secs / 1e6,
            );
        }
        eprintln!(
            "  {} run: {} market events, {} intents, {} order updates, {} fills, {} risk rejects, {} venue wake-ups, {} re-quotes, grid position {}",
            load.name(),
            outcome.counts.market_events,
            outcome.counts.intents,
            outcome.order_updates,
            outcome.fills,
            outcome.risk_rejects,
            outcome.counts.venue_wakeups,
            outcome.requotes,
            outcome.grid_position,
        );

        let mut group = c.benchmark_group("backtest_file");
        group.throughput(Throughput::Elements(hbt_events));
        group.sample_size(10);
        group.bench_function(load.name(), |b| b.iter(from_file));
        group.finish();

        let mut group = c.benchmark_group("backtest_memory");
        group.throughput(Throughput::Elements(hbt_events));
        group.sample_size(10);
        group.bench_function(load.name(), |b| {
            b.iter_batched(|| items.clone(), from_memory, BatchSize::LargeInput)
        });
        group.finish();
    }
}

criterion_group!(benches, bench_backtest);
criterion_main!(benches);
