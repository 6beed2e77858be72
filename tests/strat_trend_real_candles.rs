//! The trend strategy through the backtester on real data: freqtrade's 9.5 days of 1-minute
//! UNITTEST/BTC candles (a real BTC-quoted pair, renamed upstream), replayed on the real
//! XRPBTC filters of Binance's 2021 exchangeInfo (tick 1e-8, lot 1, min notional 0.0001
//! BTC) with short timeframes (primary 15m, secondary 5m, regime 1h). It must trade, and
//! every exit must respect the ratcheted stop, checked on the venue's own records:
//!
//! 1. **Ratchet.** For each entry, the trigger prices of its successive stop legs (the
//!    initial bracket, then every replacement a stop move made) never decrease.
//! 2. **Stop fills.** Every fill of a stop leg is at or above that leg's limit price (the
//!    spot stop is a stop-limit: trigger − 25 bps on the tick grid), and that leg's trigger
//!    is at or above the entry's initial stop. So no stop exit is worse than the initial
//!    stop minus the stop-limit's slippage allowance.
//! 3. **Spot, long only.** The position never goes below zero, and one entry order at a
//!    time: every buy of a round trip belongs to one entry.
//! 4. **State follows fills.** The strategy's own closed-trade count equals the round trips
//!    the venue's fills show.
//!
//! Run with `--nocapture` to see the trades and statistics.

use std::collections::BTreeMap;

use kestrel::backtest::config::BacktestConfig;
use kestrel::backtest::input::{open_inputs, InputOptions, InputSpec};
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::setup::{build_with, load_instruments};
use kestrel::core::{ClientOrderId, Notional, OrderRole, OrderUpdate, Price, Qty, Side, SymbolId};
use kestrel::ops::Registry;
use kestrel::risk::RiskLimits;
use kestrel::strat::api::ids;
use kestrel::strat::dispatch::Entry;
use kestrel::strat::{Dispatcher, DispatcherConfig, TrendConfig, TrendStrategy};

mod common;

const SYMBOL: &str = "XRPBTC";

fn bp(text: &str) -> Notional {
    Notional::parse(text).expect("amount")
}

/// One position from flat to flat, from the venue's fills.
#[derive(Debug, Default)]
struct RoundTrip {
    entry_id: ClientOrderId,
    opened_ns: u64,
    closed_ns: u64,
    bought: Qty,
    cost: Notional,
    sold: Qty,
    proceeds: Notional,
    exit_roles: Vec<OrderRole>,
}

impl RoundTrip {
    fn entry_price(&self) -> f64 {
        self.cost.to_f64() / self.bought.to_f64()
    }
    fn exit_price(&self) -> f64 {
        self.proceeds.to_f64() / self.sold.to_f64()
    }
    fn pnl_pct(&self) -> f64 {
        (self.exit_price() / self.entry_price() - 1.0) * 100.0
    }
}

#[test]
fn trend_follow_trades_real_candles_and_every_exit_respects_the_ratcheted_stop() {
    let Some(dir) = common::real_data_dir("trend on freqtrade candles") else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let info = common::http_bodies(
        &dir.join("cryptofeed/binance_spot_2021-10-12.jsonl.gz"),
        "exchangeInfo",
    );
    let info_path = work.path().join("exchange_info.json");
    std::fs::write(
        &info_path,
        info.first().expect("the capture has exchangeInfo"),
    )
    .expect("write exchangeInfo");

    let mut config = BacktestConfig::default();
    config.backtest.exchange_info = Some(info_path);
    config.backtest.symbols = vec![SYMBOL.to_owned()];
    config.backtest.starting_cash = Qty::from_int(1);
    // The rails in BTC: the venue minimum, a tenth of the account per order.
    config.risk = RiskLimits {
        min_order_notional: bp("0.0001"),
        max_order_notional: bp("0.1"),
        max_symbol_exposure: bp("0.5"),
        max_venue_exposure: bp("1"),
        max_gross_exposure: bp("1"),
        default_strategy_budget: bp("0.5"),
        equity_floor: bp("0.2"),
        ..config.risk
    };
    let instruments = load_instruments(&config).expect("XRPBTC in the real exchangeInfo");

    let trend = TrendConfig {
        enabled: true,
        symbols: vec![SYMBOL.to_owned()],
        fetch_limit: 100,
        primary_minutes: 15,
        primary_fast: 8,
        primary_slow: 21,
        primary_rsi: 14,
        secondary_minutes: 5,
        secondary_fast: 12,
        secondary_slow: 36,
        secondary_rsi: 14,
        regime_minutes: 60,
        regime_fast: 6,
        regime_slow: 18,
        regime_rsi: 14,
        min_quote: bp("0.002"),
        ..TrendConfig::default()
    };
    trend.validate().expect("valid trend settings");
    let symbol = SymbolId(0);
    let strategy = TrendStrategy::new(&trend, &[symbol]);
    let mut dispatcher = Dispatcher::new(
        DispatcherConfig {
            bars_from_data: true,
            ..DispatcherConfig::default()
        },
        instruments.symbols.len(),
        vec![Entry {
            strategy: Box::new(strategy),
            dry_run: false,
        }],
        None,
    )
    .expect("valid timeframes");
    let mut registry = Registry::new();
    dispatcher
        .attach_metrics(&mut registry, "paper", &[SYMBOL.to_owned()])
        .expect("metrics register");

    let candles = format!(
        "{SYMBOL}:candles:{}",
        dir.join("freqtrade/UNITTEST_BTC-1m.json").display()
    );
    let metas = vec![StrategyMeta {
        id: ids::TREND_FOLLOW,
        name: "trend_follow".to_owned(),
        mode: kestrel::risk::StrategyMode::Enabled,
    }];
    let mut backtest = build_with(
        &config,
        config.paper(),
        &instruments,
        std::slice::from_ref(&candles),
        dispatcher,
        metas,
    )
    .expect("builds");
    let spec = InputSpec::parse(&candles).expect("spec");
    let mut input = open_inputs(&[spec], &instruments.symbols, &InputOptions::default())
        .expect("opens the candles");
    backtest
        .run(&mut input, 0, &mut |_| {})
        .expect("runs to the end");
    let (recording, counts) = backtest.finish(Vec::new());

    // Orders by client id: role, parent and prices as last reported.
    let mut orders: BTreeMap<ClientOrderId, OrderUpdate> = BTreeMap::new();
    // Stop legs by entry, in order of first appearance.
    let mut stop_legs: BTreeMap<ClientOrderId, Vec<ClientOrderId>> = BTreeMap::new();
    for record in &recording.orders {
        let update = record.update;
        if update.strategy != ids::TREND_FOLLOW {
            continue;
        }
        if update.role == OrderRole::StopLoss && !orders.contains_key(&update.client_order_id) {
            stop_legs
                .entry(update.parent)
                .or_default()
                .push(update.client_order_id);
        }
        orders.insert(update.client_order_id, update);
    }

    // Round trips from the fills.
    let mut trips: Vec<RoundTrip> = Vec::new();
    let mut open: Option<RoundTrip> = None;
    let mut position = Qty::ZERO;
    let mut stop_fills = 0;
    for record in &recording.fills {
        let fill = record.fill;
        if fill.strategy != ids::TREND_FOLLOW {
            continue;
        }
        let order = orders
            .get(&fill.client_order_id)
            .expect("every fill's order was reported");
        let notional = fill.price.notional(fill.qty).expect("notional fits");
        match fill.side {
            Side::Buy => {
                let trip = open.get_or_insert_with(|| RoundTrip {
                    entry_id: fill.client_order_id,
                    opened_ns: record.ts_ns,
                    ..RoundTrip::default()
                });
                assert_eq!(
                    trip.entry_id, fill.client_order_id,
                    "one entry order per position (no doubled entry)"
                );
                trip.bought = trip.bought.saturating_add(fill.qty);
                trip.cost = trip.cost.saturating_add(notional);
                position = position.saturating_add(fill.qty);
            }
            Side::Sell => {
                position = position.saturating_sub(fill.qty);
                assert!(position.raw() >= 0, "sold more than held: {record:?}");
                let trip = open.as_mut().expect("a sell closes an open position");
                trip.sold = trip.sold.saturating_add(fill.qty);
                trip.proceeds = trip.proceeds.saturating_add(notional);
                trip.exit_roles.push(order.role);
                if order.role == OrderRole::StopLoss {
                    stop_fills += 1;
                    let limit = if order.price.is_positive() {
                        order.price
                    } else {
                        order.trigger_price
                    };
                    assert!(
                        fill.price >= limit,
                        "stop fill {} below its limit {limit}",
                        fill.price
                    );
                    let legs = &stop_legs[&order.parent];
                    let initial = orders[&legs[0]].trigger_price;
                    assert!(
                        order.trigger_price >= initial,
                        "a stop leg at {} below the initial stop {initial}",
                        order.trigger_price
                    );
                }
                if position.is_zero() {
                    let mut done = open.take().expect("open trip");
                    done.closed_ns = record.ts_ns;
                    trips.push(done);
                }
            }
        }
    }

    // The ratchet, over every stop leg ever placed.
    let mut raises = 0;
    for (entry, legs) in &stop_legs {
        let triggers: Vec<Price> = legs.iter().map(|id| orders[id].trigger_price).collect();
        for pair in triggers.windows(2) {
            assert!(
                pair[1] >= pair[0],
                "entry {entry:?}: stop lowered from {} to {}",
                pair[0],
                pair[1]
            );
            if pair[1] > pair[0] {
                raises += 1;
            }
        }
    }

    let sample = |name: &str| registry.sample(name).unwrap_or(0.0);
    eprintln!(
        "trend_follow on UNITTEST/BTC 1m candles as {SYMBOL} (primary 15m, secondary 5m, \
         regime 1h): {} market events, {} bars",
        counts.market_events, counts.bars
    );
    eprintln!(
        "{:>3} {:>20} {:>20} {:>12} {:>12} {:>9}  exit",
        "#", "opened (ms)", "closed (ms)", "entry", "exit", "pnl %"
    );
    for (i, trip) in trips.iter().enumerate() {
        eprintln!(
            "{:>3} {:>20} {:>20} {:>12.8} {:>12.8} {:>9.3}  {:?}",
            i + 1,
            trip.opened_ns / 1_000_000,
            trip.closed_ns / 1_000_000,
            trip.entry_price(),
            trip.exit_price(),
            trip.pnl_pct(),
            trip.exit_roles.last().map(|r| r.as_str()).unwrap_or("?")
        );
    }
    let wins = trips.iter().filter(|t| t.pnl_pct() > 0.05).count();
    let losses = trips.iter().filter(|t| t.pnl_pct() < -0.05).count();
    let by_role = |role: OrderRole| {
        trips
            .iter()
            .filter(|t| t.exit_roles.last() == Some(&role))
            .count()
    };
    let pnl_sum: f64 = trips.iter().map(RoundTrip::pnl_pct).sum();
    let start = recording.starting_equity;
    let end = recording
        .equity
        .last()
        .map_or(start, |sample| sample.equity);
    eprintln!(
        "round trips {} (wins {wins}, losses {losses}, breakeven {}); exits: stop {}, \
         target {}, signal {}; sum of pnl {:.3} %, mean {:.3} %",
        trips.len(),
        trips.len() - wins - losses,
        by_role(OrderRole::StopLoss),
        by_role(OrderRole::TakeProfit),
        by_role(OrderRole::Entry),
        pnl_sum,
        pnl_sum / trips.len().max(1) as f64
    );
    eprintln!(
        "stop legs placed {}, raises {raises}, stop fills {stop_fills}; equity {start} → {end} \
         BTC (fees included); still open: {}",
        stop_legs.values().map(Vec::len).sum::<usize>(),
        open.is_some()
    );
    let mut refusals: BTreeMap<&str, usize> = BTreeMap::new();
    for reject in &recording.risk_rejects {
        *refusals
            .entry(kestrel::risk::codes::name(reject.code))
            .or_default() += 1;
    }
    eprintln!(
        "metrics: signals {} (entries/exits/stop raises), trades {}, skipped {}; risk \
         refusals {refusals:?}",
        sample("trend_follow_signals_total"),
        sample("trend_follow_trades_total"),
        sample("trend_follow_skipped_total"),
    );
    for line in registry.render().lines() {
        if line.starts_with("trend_follow_") && !line.ends_with(" 0") {
            eprintln!("  {line}");
        }
    }

    assert!(
        trips.len() >= 3,
        "the strategy trades on 9.5 days of real data: {} round trips",
        trips.len()
    );
    assert!(raises > 0, "stops were ratcheted up at least once");
    assert_eq!(
        sample("trend_follow_trades_total") as usize,
        trips.len(),
        "the strategy's closed trades are the venue's round trips"
    );
}
