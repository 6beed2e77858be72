//! The ensemble strategy on real recorded data through the backtester, with an HMM model
//! trained here by `hmm-train` on the freqtrade 1-minute candles: on the bundled BTCUSDT
//! spot capture (trades drive the MA, the capture's 1-minute bars the filter) and on the
//! candles themselves (9.5 days). Prints the trades and statistics; asserts what the
//! strategy must do there: never a second entry before the first is closed, never a short
//! on spot, and every filled entry protected by an exchange-side bracket on the right sides.

#[allow(dead_code)] // Only `real_data_dir` is used here.
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::MarketInput;
use kestrel::backtest::input::{open_inputs, InputOptions, InputSpec};
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::report::{analyze, table::summary_table};
use kestrel::backtest::setup::{build_with, load_instruments};
use kestrel::backtest::Recording;
use kestrel::core::{ClientOrderId, Market, Notional, OrderRole, OrderStatus, Qty, Side};
use kestrel::ops::Registry;
use kestrel::strat::api::ids;
use kestrel::strat::dispatch::Entry;
use kestrel::strat::hmm::{train_command, HmmModel, HmmTrainArgs, StateLabel};
use kestrel::strat::{Dispatcher, DispatcherConfig, EnsembleConfig, EnsembleStrategy};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kestrel-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Trains on the freqtrade candles (fewer restarts than the CLI default: a debug build).
fn trained_model(real: &Path, out: &Path) -> Arc<HmmModel> {
    let candles = real.join("freqtrade/UNITTEST_BTC-1m.json");
    let report = train_command(HmmTrainArgs {
        data: vec![format!("BTCUSDT:candles:{}", candles.display())],
        out: out.to_path_buf(),
        restarts: 2,
        iterations: 80,
        ..HmmTrainArgs::default()
    })
    .expect("trains on the freqtrade candles");
    eprint!("{}", report.render());
    Arc::new(HmmModel::load(out).expect("the written model parses back"))
}

/// Runs the strategy alone; returns the recording and the rendered metrics.
fn run(
    config: &BacktestConfig,
    specs: &[InputSpec],
    strategy: EnsembleStrategy,
    bars_from_data: bool,
) -> (Recording, Registry) {
    let instruments = load_instruments(config).expect("instruments");
    let mut dispatcher = Dispatcher::new(
        DispatcherConfig {
            market: Market::Spot,
            bars_from_data,
            ..DispatcherConfig::default()
        },
        instruments.symbols.len(),
        vec![Entry {
            strategy: Box::new(strategy),
            dry_run: false,
        }],
        None,
    )
    .expect("dispatcher");
    let mut registry = Registry::new();
    let names: Vec<String> = (0..instruments.symbols.len())
        .map(|i| {
            let id = kestrel::core::SymbolId(i as u32);
            instruments.symbols.name(id).unwrap_or("?").to_owned()
        })
        .collect();
    dispatcher
        .attach_metrics(&mut registry, "paper", &names)
        .expect("metrics");
    let metas = vec![StrategyMeta {
        id: ids::ENSEMBLE,
        name: "ensemble".to_owned(),
        mode: kestrel::risk::StrategyMode::Enabled,
    }];
    let names: Vec<String> = specs.iter().map(|s| s.path.display().to_string()).collect();
    let mut backtest = build_with(
        config,
        config.paper(),
        &instruments,
        &names,
        dispatcher,
        metas,
    )
    .expect("backtest");
    let mut input =
        open_inputs(specs, &instruments.symbols, &InputOptions::default()).expect("inputs");
    backtest.run(&mut input, 0, &mut |_| {}).expect("runs");
    let (recording, _) = backtest.finish(input.repairs());
    (recording, registry)
}

/// `strategy_orders_total` of `source` (both sides).
fn orders_of(registry: &Registry, source: &str) -> u64 {
    let text = registry.render();
    text.lines()
        .filter(|l| {
            l.starts_with("strategy_orders_total{") && l.contains(&format!("source=\"{source}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// What the strategy did, checked: returns (entries, exits by signal, bracket exits).
fn check_and_print(recording: &Recording) -> (usize, usize, usize) {
    let orders = &recording.orders;
    let first_update = |id: ClientOrderId| orders.iter().find(|o| o.update.client_order_id == id);
    let mut position = Qty::ZERO;
    let mut entries: Vec<ClientOrderId> = Vec::new();
    let (mut signal_exits, mut bracket_exits) = (0, 0);
    for record in &recording.fills {
        let fill = record.fill;
        assert_eq!(fill.strategy, ids::ENSEMBLE);
        let order = first_update(fill.client_order_id).expect("a fill of a known order");
        let role = order.update.role;
        let is_new_entry = role == OrderRole::Entry
            && fill.side == Side::Buy
            && !entries.contains(&fill.client_order_id);
        if is_new_entry {
            assert!(
                position.is_zero(),
                "a second entry {:?} while holding {position}",
                fill.client_order_id
            );
            entries.push(fill.client_order_id);
        }
        if fill.side == Side::Sell && position == fill.qty {
            match role {
                OrderRole::StopLoss | OrderRole::TakeProfit => bracket_exits += 1,
                _ => signal_exits += 1,
            }
        }
        position = match fill.side {
            Side::Buy => position.checked_add(fill.qty),
            Side::Sell => position.checked_sub(fill.qty),
        }
        .expect("position fits");
        assert!(position.raw() >= 0, "short on spot after {fill:?}");
        eprintln!(
            "{} {:<4} {:>14} @ {:<12} {:?} → holding {}",
            record.ts_ns / 1_000_000,
            fill.side.as_str(),
            fill.qty.to_string(),
            fill.price.to_string(),
            role,
            position
        );
    }
    // Every filled entry got its bracket from the order manager: stop below, target above
    // the fill (a long).
    if let Some(first) = entries.first() {
        for o in orders
            .iter()
            .filter(|o| o.update.parent == *first || o.update.client_order_id == *first)
        {
            eprintln!("first round trip: {} {:?}", o.ts_ns / 1_000_000, o.update);
        }
    }
    for &entry in &entries {
        let price = recording
            .fills
            .iter()
            .find(|f| f.fill.client_order_id == entry)
            .map(|f| f.fill.price)
            .expect("filled");
        let legs: Vec<_> = orders
            .iter()
            .filter(|o| o.update.parent == entry && o.update.status == OrderStatus::New)
            .map(|o| o.update)
            .collect();
        let stop = legs
            .iter()
            .find(|l| l.role == OrderRole::StopLoss)
            .unwrap_or_else(|| panic!("entry {entry:?} has a stop leg: {legs:?}"));
        let target = legs
            .iter()
            .find(|l| l.role == OrderRole::TakeProfit)
            .unwrap_or_else(|| panic!("entry {entry:?} has a take-profit leg: {legs:?}"));
        let stop_price = if stop.trigger_price.is_positive() {
            stop.trigger_price
        } else {
            stop.price
        };
        let target_price = if target.price.is_positive() {
            target.price
        } else {
            target.trigger_price
        };
        assert!(
            stop_price < price && price < target_price,
            "{stop_price} < {price} < {target_price}"
        );
        assert_eq!(stop.side, Side::Sell);
    }
    let report = analyze(recording).expect("report");
    eprint!("{}", summary_table(&report.summary));
    eprintln!(
        "entries {}, exits on an opposite signal {signal_exits}, bracket exits {bracket_exits}, \
         risk refusals {}",
        entries.len(),
        recording.risk_rejects.len()
    );
    (entries.len(), signal_exits, bracket_exits)
}

#[test]
fn ensemble_on_the_bundled_capture_with_a_model_trained_on_real_candles() {
    let Some(real) = common::real_data_dir("ensemble on the bundled capture") else {
        return;
    };
    let dir = temp_dir("ensemble-capture");
    let model = trained_model(&real, &dir.join("model.json"));
    assert_eq!(model.labels().len(), 3);
    assert!(model.state_of(StateLabel::Bull).is_some());

    let config = BacktestConfig::default();
    let instruments = load_instruments(&config).expect("bundled exchangeInfo");
    let btc = instruments.symbols.get(b"BTCUSDT").expect("BTCUSDT");
    let ensemble = EnsembleConfig {
        enabled: true,
        hmm_enabled: true,
        // The seed's 10 USDT is BTCUSDT's minimum notional: floored onto the 0.00001 lot
        // it always ends below it and the venue filter refuses it.
        quote_usdt: Notional::from_int(20),
        ..EnsembleConfig::default()
    };
    ensemble.validate().expect("valid");
    let mut strategy = EnsembleStrategy::new(&ensemble, &[btc]);
    strategy.set_model(model).expect("the trained model fits");
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/binance_spot_btcusdt_20240808.gz");
    let (recording, registry) = run(&config, &[InputSpec::new(capture)], strategy, false);
    let (entries, signal_exits, bracket_exits) = check_and_print(&recording);
    eprintln!(
        "orders by source: ma_v1 {}, hmm_v1 {}, ensemble_v1 {}",
        orders_of(&registry, "ma_v1"),
        orders_of(&registry, "hmm_v1"),
        orders_of(&registry, "ensemble_v1")
    );
    assert!(
        entries >= 1,
        "the MA crosses on six minutes of BTCUSDT trades"
    );
    assert!(signal_exits + bracket_exits <= entries);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The bundled spot exchangeInfo with filters for the freqtrade pair's prices (~0.002):
/// a 1e-8 tick, a 1e-10 lot (the paper venue fills stops against a quarter of a candle's
/// 8-decimal volume: a coarser lot leaves dust the exit cannot sell, which the dispatcher
/// counts as a holding) and a 0.01 minimum notional, so its candles can be traded as an
/// instrument (the prices are the pair's own, in its quote currency).
fn candle_exchange_info(dir: &Path) -> PathBuf {
    let bundled =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/binance_spot_exchange_info_btcusdt.json");
    let text = std::fs::read_to_string(bundled).expect("bundled exchangeInfo");
    let text = text
        .replace(
            r#""minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000""#,
            r#""minPrice":"0.00000001","maxPrice":"1000.00000000","tickSize":"0.00000001""#,
        )
        .replace(
            r#""minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000""#,
            r#""minQty":"0.0000000001","maxQty":"90000000.00000000","stepSize":"0.0000000001""#,
        )
        .replace(
            r#""minNotional":"10.00000000""#,
            r#""minNotional":"0.01000000""#,
        )
        .replace(
            r#""maxQty":"100.05381873""#,
            r#""maxQty":"90000000.00000000""#,
        );
    let path = dir.join("exchange_info.json");
    std::fs::write(&path, text).expect("write exchangeInfo");
    path
}

#[test]
fn ensemble_fused_on_nine_days_of_real_one_minute_candles() {
    let Some(real) = common::real_data_dir("ensemble on the freqtrade candles") else {
        return;
    };
    let dir = temp_dir("ensemble-candles");
    let model = trained_model(&real, &dir.join("model.json"));
    let mut config = BacktestConfig::default();
    config.backtest.exchange_info = Some(candle_exchange_info(&dir));
    // Candles print every 15 s at best and have gaps: the live 5 s staleness rail would
    // refuse most orders.
    config.risk.max_market_data_age_ms = 0;
    config.risk.market_data_stale_ms = 0;
    // Notionals here are in the pair's quote (~0.2 a position), not USDT.
    config.risk.min_order_notional = Notional::parse("0.01").expect("notional");
    let instruments = load_instruments(&config).expect("instruments");
    let btc = instruments.symbols.get(b"BTCUSDT").expect("BTCUSDT");
    let ensemble = EnsembleConfig {
        enabled: true,
        hmm_enabled: true,
        ensemble_enabled: true,
        // ~100 units at ~0.002: the size of a typical candle's volume on this thin pair
        // (the stop and target fill against the candles' volume).
        quote_usdt: Notional::parse("0.2").expect("quote"),
        ..EnsembleConfig::default()
    };
    ensemble.validate().expect("valid");
    let mut strategy = EnsembleStrategy::new(&ensemble, &[btc]);
    strategy.set_model(model).expect("the trained model fits");
    let candles = real.join("freqtrade/UNITTEST_BTC-1m.json");
    let spec = InputSpec::parse(&format!("BTCUSDT:candles:{}", candles.display())).expect("spec");
    let (recording, registry) = run(&config, &[spec], strategy, true);
    let (entries, signal_exits, bracket_exits) = check_and_print(&recording);
    let fused = orders_of(&registry, "ensemble_v1");
    eprintln!(
        "orders by source: ma_v1 {}, hmm_v1 {}, ensemble_v1 {fused}",
        orders_of(&registry, "ma_v1"),
        orders_of(&registry, "hmm_v1"),
    );
    assert_eq!(
        orders_of(&registry, "ma_v1"),
        0,
        "fusion on: the MA never acts alone"
    );
    assert!(
        fused >= 10,
        "fusion fires with the default weights on real data"
    );
    assert!(
        signal_exits + bracket_exits >= entries - 1,
        "every entry but the last closed"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
