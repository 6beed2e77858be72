//! Parity: the bundled capture replayed once through the live engine against the simulator
//! (`kestrel paper`: simex streams it over WebSocket and REST, the live Binance feed decodes
//! and syncs it, the probe trades on the paper venue) and once through the backtester, with
//! the same latencies (zero), fees and strategy. The backtester replays what the live
//! engine received — its journal capture of that run (every WebSocket frame and the REST
//! snapshots it applied, with their receive stamps) — so both see the same market.
//!
//! Every order update and every fill must agree, in order, field for field. Allowed
//! differences, with their reasons:
//! - timestamps: the paper run's are the engine's monotonic processing times, the
//!   backtest's the recorded receive times (the backtest runs strategy code in zero time);
//! - the frames the simulator sent before the live feed had subscribed are in neither (the
//!   live engine never saw them), which is why the backtest replays the journal capture and
//!   not the capture file: a backtest of the file starts trading from the file's own
//!   snapshot at its first minute, the paper run from the snapshot it fetched seconds later,
//!   and the probe's round trips then start at different ticks.
//!
//! The paper run uses the fused layout, the engine's choice on this 2-core machine: with
//! one thread per stage the strategy learns of a fill a few market events later, depending
//! on thread timing, and its event-counted cooldown would drift from the backtest's.

use std::path::Path;
use std::process::Command;

use kestrel::backtest::command::replay;
use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::spec::{InputKind, InputOptions, InputSpec};
use kestrel::core::{Fill, OrderUpdate};
use kestrel::feed::binance::BinanceMarket;
use kestrel::persist::payload::JournalEntry;
use kestrel::persist::JournalReader;

mod cli_support;
use cli_support::KESTREL;

/// The fields of an order update both runs must agree on (all but time).
fn order_key(u: &OrderUpdate) -> String {
    format!(
        "{} {} {} {} {} {} tif={} reduce_only={} price={} trigger={} qty={} filled={} venue_id={} reject={} parent={}",
        u.client_order_id.0,
        u.strategy.0,
        u.role.as_str(),
        u.side.as_str(),
        u.order_type.as_str(),
        u.status.as_str(),
        u.time_in_force.as_str(),
        u.reduce_only,
        u.price,
        u.trigger_price,
        u.qty,
        u.filled_qty,
        u.venue_order_id,
        u.reject_code,
        u.parent.0
    )
}

fn fill_key(f: &Fill) -> String {
    format!(
        "{} {} {} price={} qty={} fee={} maker={} trade={}",
        f.client_order_id.0,
        f.strategy.0,
        f.side.as_str(),
        f.price,
        f.qty,
        f.fee,
        f.is_maker,
        f.venue_trade_id
    )
}

fn paper_run(journal: &Path, config: &Path) {
    let out = Command::new(KESTREL)
        .args([
            "paper",
            "--probe",
            "--quiet",
            "--speed",
            "40",
            "--metrics",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
        ])
        .arg("--config")
        .arg(config)
        .arg("--journal")
        .arg(journal)
        .output()
        .expect("run kestrel paper");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kestrel paper failed: {text}");
    assert!(
        text.contains("layout fused"),
        "the run used the fused loop: {text}"
    );
}

fn journaled(journal: &Path) -> (Vec<String>, Vec<String>, u64) {
    let mut reader = JournalReader::open(journal, 0).expect("journal opens");
    let (mut orders, mut fills, mut frames) = (Vec::new(), Vec::new(), 0);
    while let Some(record) = reader.next() {
        match record.expect("record checks").decode().expect("decodes") {
            JournalEntry::Update { update, .. } => orders.push(order_key(&update)),
            JournalEntry::Fill { fill, .. } => fills.push(fill_key(&fill)),
            JournalEntry::MarketFrame { .. } => frames += 1,
            _ => {}
        }
    }
    (orders, fills, frames)
}

#[test]
fn backtest_of_the_live_runs_capture_matches_the_paper_run_order_for_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("journal");
    let config = dir.path().join("kestrel.toml");
    let example = kestrel::config::EXAMPLE.replace("layout = \"auto\"", "layout = \"fused\"");
    assert!(example.contains("layout = \"fused\""));
    std::fs::write(&config, example).expect("write config");
    paper_run(&journal, &config);
    let (paper_orders, paper_fills, frames) = journaled(&journal);
    assert!(
        frames > 30_000,
        "the run captured the replay: {frames} frames"
    );
    assert!(
        paper_fills.len() >= 6,
        "the paper run traded (entries and bracket exits): {paper_fills:?}"
    );

    // The backtest: `kestrel paper --probe`'s defaults (probe 0.01 BTC, 10 bps bracket, 10 000
    // USDT, 0.1 % fees, zero latencies, the example config's [risk]).
    let mut settings = BacktestConfig::default();
    settings.backtest.strategy = kestrel::backtest::config::BacktestStrategy::Probe;
    let spec = InputSpec {
        kind: Some(InputKind::Journal),
        market: Some(BinanceMarket::Spot),
        ..InputSpec::new(&journal)
    };
    let (recording, counts) =
        replay(&settings, &[spec], InputOptions::default(), false).expect("backtest runs");
    assert!(counts.market_events > 30_000, "{counts:?}");
    let orders: Vec<String> = recording
        .orders
        .iter()
        .map(|o| order_key(&o.update))
        .collect();
    let fills: Vec<String> = recording.fills.iter().map(|f| fill_key(&f.fill)).collect();

    let first_difference = |a: &[String], b: &[String]| {
        a.iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .map(|i| format!("at {i}:\n paper    {}\n backtest {}", a[i], b[i]))
    };
    assert_eq!(
        fills.len(),
        paper_fills.len(),
        "fill count; first difference {:?}",
        first_difference(&paper_fills, &fills)
    );
    assert_eq!(
        fills,
        paper_fills,
        "{:?}",
        first_difference(&paper_fills, &fills)
    );
    assert_eq!(
        orders.len(),
        paper_orders.len(),
        "order update count; first difference {:?}",
        first_difference(&paper_orders, &orders)
    );
    assert_eq!(
        orders,
        paper_orders,
        "{:?}",
        first_difference(&paper_orders, &orders)
    );
}
