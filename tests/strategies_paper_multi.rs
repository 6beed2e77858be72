//! Several strategies side by side in a paper run: `kestrel paper` against the in-process
//! simulator replaying the bundled capture, with trend following (short timeframes, so it
//! has bars to work on in six minutes), the MA + HMM ensemble (the bundled model) and
//! scalping enabled together. Checked on the journal and the final metrics:
//! - no conflicting positions: at no point do two strategies hold a position on the symbol;
//! - every order went through the risk rails: each strategy order the manager placed follows
//!   the approved intent it came from, and no order of a strategy appears without one;
//! - `strategy_orders_total` on /metrics counts, per strategy, exactly the new-order intents
//!   the journal holds (approved) plus the ones the rails refused;
//! - a second run on the same journal resumes: the strategies' snapshots are restored.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kestrel::core::{IntentAction, OrderRole, OrderStatus, Side};
use kestrel::persist::payload::JournalEntry;
use kestrel::persist::JournalReader;

mod cli_support;
use cli_support::{verify, KESTREL};

const SCALPING: u16 = 12;
const ENSEMBLE: u16 = 11;
const TREND: u16 = 10;

/// The shipped example with trend following switched on at minute timeframes.
fn config() -> String {
    kestrel::config::EXAMPLE.replace(
        "[strategies.trend_follow]\nenabled = false",
        "[strategies.trend_follow]\nenabled = true\nprimary_minutes = 1\nprimary_fast = 2\n\
         primary_slow = 3\nprimary_rsi = 2\nsecondary_minutes = 1\nsecondary_fast = 2\n\
         secondary_slow = 3\nsecondary_rsi = 2\nregime_minutes = 1\nregime_fast = 2\n\
         regime_slow = 3\nregime_rsi = 2\natr_length = 2\nswing_lookback = 2\n\
         rsi_long_min = 0\nrsi_long_max = 100\nmin_quote = \"20\"",
    )
}

fn paper(journal: &Path, config: &Path, metrics_out: &Path, seconds: &str) -> String {
    let out = Command::new(KESTREL)
        .args([
            "paper",
            "--quiet",
            "--speed",
            "20",
            "--metrics",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--duration",
            seconds,
        ])
        .arg("--config")
        .arg(config)
        .arg("--journal")
        .arg(journal)
        .arg("--metrics-out")
        .arg(metrics_out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run kestrel paper");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kestrel paper failed: {text}");
    text
}

/// The strategy a `source` tag belongs to.
fn strategy_of(source: &str) -> u16 {
    if source.starts_with("scalp") {
        SCALPING
    } else if source.starts_with("trend_follow") {
        TREND
    } else if matches!(source, "ma_v1" | "hmm_v1" | "ensemble_v1") {
        ENSEMBLE
    } else {
        panic!("unknown source tag {source}")
    }
}

/// `strategy_orders_total` summed per strategy, from Prometheus text.
fn orders_by_strategy(metrics: &str) -> BTreeMap<u16, u64> {
    let mut out = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("strategy_orders_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").expect("a sample line");
        let source = labels
            .split(',')
            .find_map(|l| l.strip_prefix("source=\""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("a source label");
        let value: f64 = value.trim().parse().expect("a number");
        *out.entry(strategy_of(source)).or_insert(0) += value as u64;
    }
    out
}

#[test]
fn trend_ensemble_and_scalping_trade_side_by_side_without_conflicts_and_through_risk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kestrel.toml");
    std::fs::write(&config, config_text()).expect("write config");
    let journal = dir.path().join("journal");
    let metrics_out = dir.path().join("metrics.txt");
    let first = paper(&journal, &config, &metrics_out, "14");
    assert!(
        first.contains("strategies scalping, trend_follow, ensemble"),
        "all three run, in dispatcher order: {first}"
    );
    verify(&journal);

    // Walk the journal: positions per strategy, intents before orders.
    let mut reader = JournalReader::open(&journal, 0).expect("journal opens");
    let mut positions: BTreeMap<u16, i128> = BTreeMap::new();
    let mut last_new_intent: Option<(u16, Side)> = None;
    let mut approved: BTreeMap<u16, u64> = BTreeMap::new();
    let mut refused: BTreeMap<u16, u64> = BTreeMap::new();
    let mut orders: BTreeMap<u16, u64> = BTreeMap::new();
    let mut fills = 0;
    // BTCUSDT's lot step: a residue below it is dust, not a position.
    let dust = kestrel::core::Qty::parse("0.00001").expect("literal").raw();
    while let Some(record) = reader.next() {
        match record.expect("record checks").decode().expect("decodes") {
            JournalEntry::Intent { intent, .. } => {
                if intent.action == IntentAction::New {
                    *approved.entry(intent.strategy.0).or_insert(0) += 1;
                    last_new_intent = Some((intent.strategy.0, intent.side));
                } else {
                    last_new_intent = None;
                }
            }
            JournalEntry::Update { update, .. } => {
                let strategy = update.strategy.0;
                if update.client_order_id.0 == 0 {
                    // A refused intent (the rails' or the manager's local check).
                    if update.status == OrderStatus::Rejected && update.qty.is_positive() {
                        *refused.entry(strategy).or_insert(0) += 1;
                    }
                    continue;
                }
                if update.role == OrderRole::Entry && update.status == OrderStatus::PendingNew {
                    assert_eq!(
                        last_new_intent.take(),
                        Some((strategy, update.side)),
                        "order {} of strategy {strategy} follows its approved intent",
                        update.client_order_id.0
                    );
                    *orders.entry(strategy).or_insert(0) += 1;
                }
            }
            JournalEntry::Fill { fill, .. } => {
                fills += 1;
                let signed = match fill.side {
                    Side::Buy => fill.qty.raw(),
                    Side::Sell => -fill.qty.raw(),
                };
                *positions.entry(fill.strategy.0).or_insert(0) += signed;
                let holders: Vec<u16> = positions
                    .iter()
                    .filter(|(_, qty)| qty.abs() >= dust)
                    .map(|(s, _)| *s)
                    .collect();
                assert!(
                    holders.len() <= 1,
                    "two strategies hold BTCUSDT at once after fill {}: {positions:?}",
                    fill.venue_trade_id
                );
                assert!(
                    positions.values().all(|q| *q > -dust),
                    "spot: no strategy is ever short: {positions:?}"
                );
            }
            _ => {}
        }
    }
    eprintln!(
        "orders placed by strategy {orders:?}; approved new intents {approved:?}; refused \
         {refused:?}; fills {fills}; final positions {positions:?}"
    );
    assert!(fills > 0, "the strategies traded: {first}");
    assert!(
        orders.len() >= 2,
        "at least two strategies placed orders: {orders:?}"
    );

    // The final metrics: per-strategy order counts are the journal's.
    let metrics = std::fs::read_to_string(&metrics_out).expect("final metrics written");
    let counted = orders_by_strategy(&metrics);
    eprintln!("strategy_orders_total by strategy: {counted:?}");
    for strategy in [SCALPING, ENSEMBLE, TREND] {
        let sent = approved.get(&strategy).copied().unwrap_or(0)
            + refused.get(&strategy).copied().unwrap_or(0);
        assert_eq!(
            counted.get(&strategy).copied().unwrap_or(0),
            sent,
            "strategy {strategy}: strategy_orders_total = approved + refused intents \
             ({approved:?} / {refused:?})"
        );
    }
    assert!(
        metrics.contains("strategy_ticks_total{symbol=\"BTCUSDT\",venue=\"paper\"}"),
        "ticks are counted"
    );

    // A second run on the same journal resumes the strategies' state.
    let second = paper(&journal, &config, &metrics_out, "4");
    assert!(second.contains("session 2"), "{second}");
    assert!(
        second.contains("strategy state restored from the journal"),
        "snapshots restored: {second}"
    );
    verify(&journal);
}

fn config_text() -> String {
    let text = config();
    assert!(
        text.contains("primary_minutes = 1"),
        "the example's trend section was found and switched on"
    );
    text
}
