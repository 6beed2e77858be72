//! The scheduled momentum breakout through the backtester on real 1-minute candles
//! (freqtrade's `UNITTEST_BTC-1m.json`: an altcoin quoted in BTC, 2017-11-04 → 11-14, 13,681
//! candles with 538 missing minutes). The pair trades around 0.0016–0.0027 BTC, so the run
//! uses BTC-sized instrument filters and risk limits (tick 1e-8, lot 1, notionals in BTC)
//! and a BTC-scaled liquidity floor; the breakout rules keep the seed's defaults. Every
//! entry must carry an exchange-side stop below and a take-profit above its fill, entries
//! of the symbol must be at least the cooldown apart, and never overlap a held position.

#[allow(dead_code)] // Only `real_data_dir` is used here.
mod common;

use std::collections::BTreeMap;

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::{open_inputs, InputOptions, InputSpec, MarketInput};
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::report::{analyze, summary_table};
use kestrel::backtest::setup::{build_with, load_instruments};
use kestrel::core::{ClientOrderId, Notional, OrderRole, OrderStatus, Price, Qty, SymbolId};
use kestrel::strat::api::ids;
use kestrel::strat::dispatch::Entry;
use kestrel::strat::{
    Dispatcher, DispatcherConfig, MomentumBreakoutConfig, MomentumBreakoutStrategy,
};

/// The bundled BTCUSDT spot exchangeInfo with filters for a coin priced in satoshis.
fn satoshi_exchange_info() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/binance_spot_exchange_info_btcusdt.json"
    );
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("bundled exchangeInfo")).expect("json");
    let filters = info["symbols"][0]["filters"]
        .as_array_mut()
        .expect("filters");
    for filter in filters.iter_mut() {
        match filter["filterType"].as_str() {
            Some("PRICE_FILTER") => {
                filter["minPrice"] = "0.00000001".into();
                filter["tickSize"] = "0.00000001".into();
            }
            Some("LOT_SIZE") => {
                filter["minQty"] = "1".into();
                filter["maxQty"] = "90000000".into();
                filter["stepSize"] = "1".into();
            }
            Some("MARKET_LOT_SIZE") => filter["maxQty"] = "90000000".into(),
            Some("MIN_NOTIONAL") => filter["minNotional"] = "0.001".into(),
            _ => {}
        }
    }
    info.to_string()
}

#[test]
fn breakouts_on_real_candles_enter_with_a_stop_below_and_a_target_above_the_fill() {
    let Some(dir) = common::real_data_dir("momentum breakout on freqtrade candles") else {
        return;
    };
    let candles = dir.join("freqtrade/UNITTEST_BTC-1m.json");
    let tmp = tempfile::tempdir().expect("temp dir");
    let info_path = tmp.path().join("exchange_info.json");
    std::fs::write(&info_path, satoshi_exchange_info()).expect("write exchangeInfo");

    let mut config = BacktestConfig::default();
    config.backtest.exchange_info = Some(info_path);
    config.backtest.starting_cash = Qty::from_int(1);
    let btc = |text: &str| Notional::parse(text).expect("notional");
    let risk = &mut config.risk;
    risk.min_order_notional = btc("0.001");
    risk.max_order_notional = btc("0.1");
    risk.max_symbol_exposure = btc("0.5");
    risk.max_venue_exposure = btc("1");
    risk.max_gross_exposure = btc("1");
    risk.default_strategy_budget = btc("0.5");
    risk.equity_floor = Notional::ZERO;
    // The file has gaps of up to hours: not a stale feed to halt on.
    risk.market_data_stale_ms = 24 * 3_600_000;
    risk.max_market_data_age_ms = 24 * 3_600_000;
    let instruments = load_instruments(&config).expect("instruments");

    let strategy_config = MomentumBreakoutConfig {
        enabled: true,
        symbols: vec!["BTCUSDT".to_owned()],
        notional_usd: btc("0.01"),
        // The seed's 250 000 USD over three minutes, for a pair that turns ~0.1 BTC a minute.
        min_quote_vol_usd: btc("0.1"),
        ..MomentumBreakoutConfig::default()
    };
    strategy_config.validate().expect("valid config");
    let strategy = MomentumBreakoutStrategy::new(&strategy_config, &[SymbolId(0)]);
    let dispatcher = Dispatcher::new(
        DispatcherConfig {
            bars_from_data: true,
            ..DispatcherConfig::default()
        },
        1,
        vec![Entry {
            strategy: Box::new(strategy),
            dry_run: false,
        }],
        None,
    )
    .expect("dispatcher");
    let metas = vec![StrategyMeta {
        id: ids::MOMENTUM_BREAKOUT,
        name: "momentum_breakout".to_owned(),
        mode: kestrel::risk::StrategyMode::Enabled,
    }];
    let spec = InputSpec::parse(&format!("BTCUSDT:candles:{}", candles.display())).expect("spec");
    let mut input =
        open_inputs(&[spec], &instruments.symbols, &InputOptions::default()).expect("candles open");
    let mut backtest = build_with(
        &config,
        config.paper(),
        &instruments,
        &[candles.display().to_string()],
        dispatcher,
        metas,
    )
    .expect("backtest");
    backtest.run(&mut input, 0, &mut |_| {}).expect("runs");
    let (recording, _) = backtest.finish(input.repairs());
    let report = analyze(&recording).expect("report");

    // Entries, their fills and their bracket legs.
    let mut entry_fill: BTreeMap<ClientOrderId, (u64, Price, Qty)> = BTreeMap::new();
    for fill in &recording.fills {
        let is_entry = recording.orders.iter().any(|o| {
            o.update.client_order_id == fill.fill.client_order_id
                && o.update.role == OrderRole::Entry
                && o.update.parent == ClientOrderId(0)
        });
        if is_entry {
            let slot = entry_fill.entry(fill.fill.client_order_id).or_insert((
                fill.ts_ns,
                fill.fill.price,
                Qty::ZERO,
            ));
            slot.2 = slot.2.saturating_add(fill.fill.qty);
        }
    }
    let mut legs: BTreeMap<ClientOrderId, (Price, Price)> = BTreeMap::new();
    for order in &recording.orders {
        let u = &order.update;
        let leg = legs.entry(u.parent).or_default();
        match u.role {
            OrderRole::StopLoss if u.trigger_price.is_positive() => leg.0 = u.trigger_price,
            OrderRole::TakeProfit => {
                let price = if u.price.is_positive() {
                    u.price
                } else {
                    u.trigger_price
                };
                if price.is_positive() {
                    leg.1 = price;
                }
            }
            _ => {}
        }
    }
    let exits = |role: OrderRole| {
        recording
            .orders
            .iter()
            .filter(|o| o.update.role == role && o.update.status == OrderStatus::Filled)
            .count()
    };

    eprintln!("momentum breakout on {}:", candles.display());
    eprintln!("entry time (ms)  fill price   qty  stop        take-profit");
    for (id, (ts_ns, price, qty)) in &entry_fill {
        let (stop, target) = legs.get(id).copied().unwrap_or_default();
        eprintln!(
            "{:>15}  {price}  {qty:>4}  {stop}  {target}",
            ts_ns / 1_000_000
        );
    }
    eprintln!(
        "entries filled {}, stops filled {}, take-profits filled {}, risk rejects {}",
        entry_fill.len(),
        exits(OrderRole::StopLoss),
        exits(OrderRole::TakeProfit),
        recording.risk_rejects.len()
    );
    for trade in &report.replay.trades {
        eprintln!(
            "trade {:>2}: open {} close {:?} entry {} exit {} net pnl {}",
            trade.id,
            trade.open_ts_ns / 1_000_000,
            trade.close_ts_ns.map(|t| t / 1_000_000),
            trade.entry_notional,
            trade.exit_notional,
            trade.net_pnl()
        );
    }
    eprintln!("{}", summary_table(&report.summary));
    let total = &report.summary.total;
    eprintln!(
        "pnl {} BTC on 1 BTC (ending equity {}), fees {}, closed trades {} (wins {}, losses {}), \
         profit factor {:?}, average win {:?}, average loss {:?}",
        total.equity.pnl,
        total.equity.ending_equity,
        total.fees_paid,
        total.trades.closed_trades,
        total.trades.wins,
        total.trades.losses,
        total.trades.profit_factor,
        total.trades.average_win,
        total.trades.average_loss
    );

    assert!(
        entry_fill.len() >= 3,
        "the seed's thresholds trade on this data: {} entries",
        entry_fill.len()
    );
    for (id, (ts_ns, price, _)) in &entry_fill {
        let (stop, target) = legs.get(id).copied().unwrap_or_default();
        assert!(
            stop.is_positive() && stop < *price,
            "entry {id:?} at {ts_ns}: stop {stop} not below fill {price}"
        );
        assert!(
            target > *price,
            "entry {id:?} at {ts_ns}: take-profit {target} not above fill {price}"
        );
    }
    let times: Vec<u64> = entry_fill.values().map(|(ts, _, _)| *ts).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        assert!(
            pair[1] - pair[0] >= 600 * 1_000_000_000,
            "entries {} and {} ns are closer than the 600 s cooldown",
            pair[0],
            pair[1]
        );
    }
    // One position at a time: a trade opens only after the previous one closed.
    for pair in report.replay.trades.windows(2) {
        let closed = pair[0].close_ts_ns.expect("an earlier trade is closed");
        assert!(
            pair[1].open_ts_ns >= closed,
            "{:?} overlaps {:?}",
            pair[1],
            pair[0]
        );
    }
    assert_eq!(
        report.replay.trades.len(),
        entry_fill.len(),
        "every entry is one trade"
    );
}
