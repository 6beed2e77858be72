//! The per-strategy switches really work (the old engine parsed its per-strategy dry-run
//! flags and ignored them): on the bundled capture through the backtester,
//! - with the default `[strategies]` both the ensemble and scalping send orders and fill;
//! - `dry_run = true` on scalping: its orders pass every rail and are refused with the
//!   dry-run code, none reaches the venue, none fills, while the ensemble trades as before;
//! - `enabled = false` on scalping: it sends nothing at all.

use kestrel::backtest::command::replay;
use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::spec::{InputKind, InputOptions, InputSpec};
use kestrel::backtest::recording::Recording;
use kestrel::core::{OrderRole, OrderStatus, StrategyId};
use kestrel::feed::binance::BinanceMarket;
use kestrel::risk::codes;
use kestrel::strat::api::ids;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/binance_spot_btcusdt_20240808.gz"
);

fn run(config: &BacktestConfig) -> Recording {
    let spec = InputSpec {
        kind: Some(InputKind::Capture),
        market: Some(BinanceMarket::Spot),
        ..InputSpec::new(std::path::Path::new(CAPTURE))
    };
    replay(config, &[spec], InputOptions::default(), false)
        .expect("backtest runs")
        .0
}

/// Orders a strategy got to the venue (acknowledged entries) and its fills.
fn sent_and_filled(r: &Recording, strategy: StrategyId) -> (usize, usize) {
    let sent = r
        .orders
        .iter()
        .filter(|o| {
            o.update.strategy == strategy
                && o.update.role == OrderRole::Entry
                && o.update.status == OrderStatus::New
        })
        .count();
    let fills = r
        .fills
        .iter()
        .filter(|f| f.fill.strategy == strategy)
        .count();
    (sent, fills)
}

fn dry_run_refusals(r: &Recording, strategy: StrategyId) -> usize {
    r.risk_rejects
        .iter()
        .filter(|x| x.strategy == strategy && x.code == codes::DRY_RUN)
        .count()
}

#[test]
fn dry_run_and_enabled_switch_each_strategy_on_its_own() {
    let base = BacktestConfig::default();
    let live = run(&base);
    let (scalp_sent, scalp_fills) = sent_and_filled(&live, ids::SCALPING);
    let (ensemble_sent, ensemble_fills) = sent_and_filled(&live, ids::ENSEMBLE);
    eprintln!(
        "default: scalping {scalp_sent} orders / {scalp_fills} fills, ensemble \
         {ensemble_sent} / {ensemble_fills}"
    );
    assert!(
        scalp_sent > 0 && scalp_fills > 0,
        "scalping trades by default"
    );
    assert!(
        ensemble_sent > 0 && ensemble_fills > 0,
        "the ensemble trades by default"
    );
    assert_eq!(dry_run_refusals(&live, ids::SCALPING), 0);

    let mut dry = base.clone();
    dry.strategies.scalping.dry_run = true;
    let dry = run(&dry);
    assert_eq!(
        sent_and_filled(&dry, ids::SCALPING),
        (0, 0),
        "a dry-run strategy's orders never reach the venue"
    );
    assert!(
        dry_run_refusals(&dry, ids::SCALPING) > 0,
        "its orders went through the rails and were held back as dry-run"
    );
    assert!(
        sent_and_filled(&dry, ids::ENSEMBLE).1 > 0,
        "the other strategy still trades"
    );

    let mut off = base.clone();
    off.strategies.scalping.enabled = false;
    let off = run(&off);
    assert_eq!(sent_and_filled(&off, ids::SCALPING), (0, 0));
    assert_eq!(dry_run_refusals(&off, ids::SCALPING), 0);
    assert!(
        off.orders
            .iter()
            .all(|o| o.update.strategy != ids::SCALPING),
        "a disabled strategy sends nothing at all"
    );
    assert!(
        off.strategies.iter().all(|s| s.id != ids::SCALPING),
        "and is not listed"
    );
}
