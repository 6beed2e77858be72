//! Unit tests of the trend strategy on constructed bar series (values hand-computed in the
//! comments: primary SMA 2 / 4, RSI 4, ATR 2, swing 2 on 1-minute bars; secondary hourly and
//! regime daily context warmed up as a rising series unless a test says otherwise).

use super::*;
use crate::core::{Market, OrderStatus, StrategyId};
use crate::ops::Registry;
use crate::strat::testkit::TestView;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// Close of the last warm-up hourly and daily bar; primary bar k closes at T0 + k min.
const T0: u64 = 3 * DAY;
const SYMBOL: SymbolId = SymbolId(0);

/// (high, low, close) of primary bars 1..=11. Bar 5 is the first with every value known:
/// fast 101.75 > slow 101.5, RSI 71.43 (gains 2.5, losses 1), ATR 1.25, swing low 101,
/// stop 101 − 1.5 = 99.5, target 101.5 + 2.5 = 104. Then the ATR stop is 99.8 (bar 6),
/// 100.3 (7), 99.88 (8, lower: not taken), 100.38 (9); bar 10 crosses down (101.35 ≤
/// 101.875).
const BARS: [(f64, f64, f64); 11] = [
    (100.5, 99.5, 100.0),
    (102.0, 101.0, 101.5),
    (101.5, 100.5, 101.0),
    (102.5, 101.5, 102.0),
    (102.0, 101.0, 101.5),
    (102.5, 101.5, 102.0),
    (102.5, 101.5, 101.8),
    (103.5, 102.5, 103.0),
    (103.0, 102.0, 102.2),
    (102.5, 100.0, 100.5),
    (101.0, 99.5, 100.0),
];

fn config() -> TrendConfig {
    TrendConfig {
        enabled: true,
        fetch_limit: 10,
        primary_minutes: 1,
        primary_fast: 2,
        primary_slow: 4,
        primary_rsi: 4,
        secondary_minutes: 60,
        secondary_fast: 2,
        secondary_slow: 3,
        secondary_rsi: 2,
        regime_minutes: 1440,
        regime_fast: 2,
        regime_slow: 3,
        regime_rsi: 2,
        atr_length: 2,
        swing_lookback: 2,
        ..TrendConfig::default()
    }
}

fn price(v: f64) -> Price {
    Price::from_f64_lossy(v).expect("finite test price")
}

fn near(p: Price, v: f64) -> bool {
    (p.to_f64() - v).abs() < 1e-9
}

fn bar(minutes: u32, close_ms: u64, (high, low, close): (f64, f64, f64)) -> Bar {
    Bar {
        symbol: SYMBOL,
        timeframe_min: minutes,
        open_time_ms: close_ms - u64::from(minutes) * MIN,
        close_time_ms: close_ms,
        open: price(close),
        high: price(high),
        low: price(low),
        close: price(close),
        trade_count: 1,
        ..Bar::default()
    }
}

fn around(close: f64) -> (f64, f64, f64) {
    (close + 1.0, close - 1.0, close)
}

struct Harness {
    strategy: TrendStrategy,
    view: TestView,
    equity: Option<Notional>,
    venue_ms: u64,
}

impl Harness {
    fn new(config: &TrendConfig) -> Self {
        Self::with_context(config, [90.0, 95.0, 100.0], [90.0, 95.0, 100.0])
    }

    /// Warm-up: three hourly and three daily bars ending at T0.
    fn with_context(config: &TrendConfig, secondary: [f64; 3], regime: [f64; 3]) -> Self {
        let mut strategy = TrendStrategy::new(config, &[SYMBOL]);
        for (i, close) in secondary.into_iter().enumerate() {
            strategy.on_warmup_bar(&bar(60, T0 - (2 - i as u64) * HOUR, around(close)));
        }
        for (i, close) in regime.into_iter().enumerate() {
            strategy.on_warmup_bar(&bar(1440, T0 - (2 - i as u64) * DAY, around(close)));
        }
        Self {
            strategy,
            view: TestView::new(1, Market::Spot),
            equity: Some(Notional::from_int(10_000)),
            venue_ms: T0,
        }
    }

    fn bar(&mut self, bar: &Bar) -> Vec<Signal> {
        self.venue_ms = self.venue_ms.max(bar.close_time_ms);
        let strategy = &mut self.strategy;
        self.view
            .call(0, self.venue_ms, self.equity, |ctx| {
                strategy.on_bar(bar, ctx)
            })
            .signals
    }

    /// Primary bar `k` (1-based) of `BARS`.
    fn primary(&mut self, k: u64) -> Vec<Signal> {
        self.bar(&bar(1, T0 + k * MIN, BARS[k as usize - 1]))
    }

    fn primaries(&mut self, ks: std::ops::RangeInclusive<u64>) -> Vec<Vec<Signal>> {
        ks.map(|k| self.primary(k)).collect()
    }

    /// A fill of ours; the holding becomes `qty_after` at `avg_entry`.
    fn fill(&mut self, side: Side, at: f64, qty_after: i64, avg_entry: f64, id: u64) -> bool {
        let holding = self.view.holding_mut(SYMBOL);
        holding.qty = Qty::from_int(qty_after);
        holding.avg_entry = if qty_after > 0 {
            price(avg_entry)
        } else {
            Price::ZERO
        };
        holding.entry_open = false;
        holding.exiting = false;
        let fill = Fill {
            client_order_id: ClientOrderId(id),
            strategy: ids::TREND_FOLLOW,
            symbol: SYMBOL,
            side,
            price: price(at),
            qty: Qty::ONE,
            ..Fill::default()
        };
        let strategy = &mut self.strategy;
        self.view
            .call(0, self.venue_ms, self.equity, |ctx| {
                strategy.on_fill(&fill, ctx)
            })
            .dirty
    }

    fn leg(&mut self, id: u64, role: OrderRole) {
        let update = OrderUpdate {
            client_order_id: ClientOrderId(id),
            strategy: ids::TREND_FOLLOW,
            symbol: SYMBOL,
            side: Side::Sell,
            status: OrderStatus::New,
            role,
            ..OrderUpdate::default()
        };
        let strategy = &mut self.strategy;
        self.view.call(0, self.venue_ms, self.equity, |ctx| {
            strategy.on_order(&update, ctx)
        });
    }

    /// Enters on bar 5 and has the entry filled at 101.6 (stop leg 2, target leg 3).
    fn entered(config: &TrendConfig) -> Self {
        let mut h = Self::new(config);
        h.primaries(1..=4);
        assert!(matches!(h.primary(5)[..], [Signal::Enter(_)]));
        h.fill(Side::Buy, 101.6, 1, 101.6, 1);
        let holding = h.view.holding_mut(SYMBOL);
        holding.stop_loss = price(99.5);
        holding.take_profit = price(104.0);
        holding.bracket_entry = ClientOrderId(1);
        holding.open_orders = 2;
        h.leg(2, OrderRole::StopLoss);
        h.leg(3, OrderRole::TakeProfit);
        h
    }

    fn skips(&self, reason: SkipReason) -> u64 {
        self.strategy.counters().skips[reason.index()]
    }
}

fn move_stop(signal: &Signal) -> Option<f64> {
    match signal {
        Signal::MoveStop {
            symbol,
            stop_loss,
            take_profit,
        } if *symbol == SYMBOL && take_profit.is_zero() => Some(stop_loss.to_f64()),
        _ => None,
    }
}

#[test]
fn enters_at_the_first_primary_close_with_every_value_known() {
    let mut h = Harness::new(&config());
    h.view.market_mut(SYMBOL).ask = price(101.6);
    for signals in h.primaries(1..=4) {
        assert!(signals.is_empty(), "values not all known yet");
    }
    let signals = h.primary(5);
    let [Signal::Enter(plan)] = signals[..] else {
        panic!("one entry expected, got {signals:?}");
    };
    assert_eq!(plan.symbol, SYMBOL);
    assert_eq!(plan.side, Side::Buy);
    assert_eq!(plan.limit, Price::ZERO, "market order");
    assert_eq!(plan.tag, TAG_LONG);
    // 1.5 % of 10 000 = 150 > the 75 minimum.
    assert_eq!(plan.size, Size::Quote(Notional::from_int(150)));
    assert!(near(plan.stop_loss, 99.5), "{}", plan.stop_loss);
    assert!(near(plan.take_profit, 104.0), "{}", plan.take_profit);
    let counters = h.strategy.counters();
    assert_eq!((counters.entries, counters.evaluations), (1, 5));
    // State follows fills: nothing is held yet, so the next bar may enter again only if the
    // holding allows it (the dispatcher marks the entry in flight).
    h.view.holding_mut(SYMBOL).entry_open = true;
    assert!(h.primary(6).is_empty());
    assert_eq!(h.skips(SkipReason::Busy), 1);
    assert_eq!(
        h.strategy.stop_of(SYMBOL),
        Price::ZERO,
        "no position from a signal"
    );
}

#[test]
fn sizing_uses_the_minimum_quote_below_it_and_never_enters_without_equity() {
    let mut h = Harness::new(&config());
    h.equity = Some(Notional::from_int(1_000));
    h.primaries(1..=4);
    let signals = h.primary(5);
    let [Signal::Enter(plan)] = signals[..] else {
        panic!("entry expected, got {signals:?}");
    };
    assert_eq!(plan.size, Size::Quote(Notional::from_int(75)), "15 < 75");

    let mut h = Harness::new(&config());
    h.equity = None;
    h.primaries(1..=4);
    assert!(h.primary(5).is_empty(), "no made-up equity");
    assert_eq!(h.skips(SkipReason::NoEquity), 1);

    let mut h = Harness::new(&TrendConfig {
        min_quote: Notional::ZERO,
        ..config()
    });
    h.equity = Some(Notional::from_int(-500));
    h.primaries(1..=4);
    assert!(h.primary(5).is_empty());
    assert_eq!(h.skips(SkipReason::ZeroQuote), 1, "floored at zero");
}

#[test]
fn the_rsi_band_edges_are_inclusive() {
    // The primary RSI at bar 5, computed the way the strategy does.
    let mut rsi = crate::strat::indicators::Rsi::new(4);
    for (_, _, close) in &BARS[..5] {
        rsi.push(price(*close).to_f64());
    }
    let at_bar_5 = rsi.value().expect("5 closes");
    assert!((at_bar_5 - 71.428_571).abs() < 1e-5);
    let run = |min: f64, max: f64| {
        let mut h = Harness::new(&TrendConfig {
            rsi_long_min: min,
            rsi_long_max: max,
            ..config()
        });
        h.primaries(1..=4);
        h.primary(5).len()
    };
    assert_eq!(run(52.0, at_bar_5), 1, "upper edge included");
    assert_eq!(run(at_bar_5, 80.0), 1, "lower edge included");
    assert_eq!(run(52.0, at_bar_5 - 1e-9), 0, "just above the band");
    assert_eq!(run(at_bar_5 + 1e-9, 80.0), 0, "just below the band");
}

#[test]
fn the_regime_and_the_secondary_trend_must_both_point_up() {
    let mut falling_regime =
        Harness::with_context(&config(), [90.0, 95.0, 100.0], [100.0, 95.0, 90.0]);
    falling_regime.primaries(1..=4);
    assert!(falling_regime.primary(5).is_empty(), "regime fast < slow");
    let mut falling_secondary =
        Harness::with_context(&config(), [100.0, 95.0, 90.0], [90.0, 95.0, 100.0]);
    falling_secondary.primaries(1..=4);
    assert!(
        falling_secondary.primary(5).is_empty(),
        "secondary fast < slow"
    );
    let mut flat_regime = Harness::with_context(&config(), [90.0, 95.0, 100.0], [95.0; 3]);
    flat_regime.primaries(1..=4);
    assert!(
        flat_regime.primary(5).is_empty(),
        "fast = slow is not a trend"
    );
    // None of these met the conditions, so nothing counts as skipped.
    assert_eq!(flat_regime.strategy.counters().skips, [0; 8]);
}

#[test]
fn without_regime_history_nothing_enters() {
    let mut strategy = TrendStrategy::new(&config(), &[SYMBOL]);
    let view = TestView::new(1, Market::Spot);
    let mut emitted = Vec::new();
    for k in 1..=5u64 {
        let b = bar(1, T0 + k * MIN, BARS[k as usize - 1]);
        emitted.extend(
            view.call(0, T0, Some(Notional::from_int(10_000)), |ctx| {
                strategy.on_bar(&b, ctx)
            })
            .signals,
        );
    }
    assert!(emitted.is_empty(), "every value must be available");
}

#[test]
fn a_primary_close_waits_for_the_other_timeframes_of_the_same_instant() {
    // Bars 1..5 close at T0 + 56..60 min: the last one shares its close with an hourly bar,
    // which the dispatcher may deliver after it.
    let run = |hourly_close: f64| {
        let mut h = Harness::new(&config());
        let base = T0 + 55 * MIN;
        for k in 1..=4u64 {
            assert!(h
                .bar(&bar(1, base + k * MIN, BARS[k as usize - 1]))
                .is_empty());
        }
        let at_primary = h.bar(&bar(1, base + 5 * MIN, BARS[4]));
        assert!(
            at_primary.is_empty(),
            "waits for the hourly bar closing at the same time"
        );
        let at_hourly = h.bar(&bar(60, base + 5 * MIN, around(hourly_close)));
        (at_hourly, h.strategy.counters().evaluations)
    };
    // A rising hourly close keeps the secondary trend up: the entry comes with that bar.
    let (signals, evaluations) = run(110.0);
    assert!(matches!(signals[..], [Signal::Enter(_)]), "{signals:?}");
    assert_eq!(evaluations, 5);
    // A collapse on the hourly bar turns the secondary trend down (fast (100+80)/2 = 90 <
    // slow (95+100+80)/3): the evaluation saw the new hourly bar, not the stale one.
    let (signals, evaluations) = run(80.0);
    assert!(signals.is_empty(), "{signals:?}");
    assert_eq!(evaluations, 5);
}

#[test]
fn in_position_the_stop_only_ratchets_up_and_a_cross_down_exits() {
    let mut h = Harness::entered(&config());
    assert!(
        near(h.strategy.stop_of(SYMBOL), 99.5),
        "adopted from the entry plan"
    );
    let six = h.primary(6);
    assert_eq!(six.iter().filter_map(move_stop).count(), 1, "{six:?}");
    assert!((move_stop(&six[0]).expect("move") - 99.8).abs() < 1e-9);
    h.view.holding_mut(SYMBOL).stop_loss = price(99.8);
    let seven = h.primary(7);
    assert!((move_stop(&seven[0]).expect("move") - 100.3).abs() < 1e-9);
    h.view.holding_mut(SYMBOL).stop_loss = price(100.3);
    assert!(
        h.primary(8).is_empty(),
        "99.88 would lower the stop: not sent"
    );
    assert!(near(h.strategy.stop_of(SYMBOL), 100.3));
    let nine = h.primary(9);
    assert!((move_stop(&nine[0]).expect("move") - 100.38).abs() < 1e-9);
    let ten = h.primary(10);
    assert_eq!(
        ten,
        vec![Signal::Exit {
            symbol: SYMBOL,
            tag: TAG_EXIT
        }],
        "fast 101.35 ≤ slow 101.875"
    );
    let counters = h.strategy.counters();
    assert_eq!((counters.stop_raises, counters.exits), (3, 1));
    // While the exit is in flight nothing more is sent.
    h.view.holding_mut(SYMBOL).exiting = true;
    assert!(h.primary(11).is_empty());
}

#[test]
fn a_stop_in_force_higher_than_the_atr_stop_is_never_lowered() {
    let mut h = Harness::entered(&config());
    // The venue's bracket already sits at 100.5 (moved by the risk rails' soft breach).
    h.view.holding_mut(SYMBOL).stop_loss = price(100.5);
    assert!(h.primary(6).is_empty(), "99.8 < 100.5");
    assert!(h.primary(7).is_empty(), "100.3 < 100.5");
}

#[test]
fn an_rsi_at_the_exit_level_exits() {
    let mut h = Harness::entered(&config());
    // Closes 101.5 101 102 101.5 105.5: gains 5, losses 1 → RSI 83.3 ≥ 80; fast > slow.
    let signals = h.bar(&bar(1, T0 + 6 * MIN, (106.0, 101.5, 105.5)));
    assert_eq!(
        signals,
        vec![Signal::Exit {
            symbol: SYMBOL,
            tag: TAG_EXIT
        }]
    );
}

#[test]
fn a_closed_position_records_the_trade_and_cools_down_for_whole_primary_bars() {
    let mut h = Harness::entered(&config());
    h.venue_ms = T0 + 5 * MIN + 30_000;
    // The stop leg fills at 99.5: (99.5 / 101.6 − 1) × 100 = −2.067 %.
    assert!(
        h.fill(Side::Sell, 99.5, 0, 0.0, 2),
        "a closed trade is persistent state"
    );
    let trades: Vec<TradeRecord> = h.strategy.trades().copied().collect();
    assert_eq!(trades.len(), 1);
    let trade = trades[0];
    assert_eq!(trade.reason, ExitReason::Stop);
    assert_eq!(trade.result, TradeResult::Loss);
    assert!((trade.pnl_pct - (99.5 / 101.6 - 1.0) * 100.0).abs() < 1e-9);
    assert!(near(trade.entry, 101.6) && near(trade.exit, 99.5));
    assert!(near(trade.initial_stop, 99.5) && near(trade.final_stop, 99.5));
    assert_eq!(trade.closed_ms, T0 + 5 * MIN + 30_000);
    // Cooldown: 3 primary bars from the closing fill → until T0 + 8.5 min.
    let until = T0 + 8 * MIN + 30_000;
    assert_eq!(h.strategy.cooldown_until_ms(SYMBOL), until);
    h.view.holding_mut(SYMBOL).open_orders = 0;
    assert!(h.primary(6).is_empty());
    assert!(h.primary(7).is_empty());
    assert!(h.primary(8).is_empty(), "T0 + 8 min is before the end");
    assert_eq!(
        h.skips(SkipReason::Cooldown),
        3,
        "bars 6, 7 and 8 met the conditions"
    );
    // Bar 9 (RSI 62.96, fast 102.6 > slow 102.25) is the first after the cooldown.
    let nine = h.primary(9);
    assert!(matches!(nine[..], [Signal::Enter(_)]), "{nine:?}");
}

#[test]
fn exits_are_classified_by_the_filled_order() {
    let close_with = |id: u64, exit_signal: bool| {
        let mut h = Harness::entered(&config());
        if exit_signal {
            h.bar(&bar(1, T0 + 6 * MIN, (106.0, 101.5, 105.5)));
        }
        h.fill(Side::Sell, 104.0, 0, 0.0, id);
        let trade = *h.strategy.trades().last().expect("a trade");
        (trade.reason, trade.result)
    };
    assert_eq!(close_with(3, false), (ExitReason::Target, TradeResult::Win));
    assert_eq!(close_with(9, true), (ExitReason::Signal, TradeResult::Win));
    assert_eq!(close_with(9, false), (ExitReason::Other, TradeResult::Win));
}

#[test]
fn a_partial_exit_is_one_trade_at_the_average_exit_price() {
    let mut h = Harness::entered(&config());
    h.view.holding_mut(SYMBOL).qty = Qty::from_int(2);
    h.fill(Side::Sell, 100.0, 1, 101.6, 7);
    assert_eq!(h.strategy.trades().count(), 0, "still holding one");
    h.fill(Side::Sell, 103.0, 0, 0.0, 7);
    let trade = *h.strategy.trades().last().expect("a trade");
    assert!(near(trade.exit, 101.5), "(100 + 103) / 2");
    assert_eq!(trade.result, TradeResult::Loss, "101.5 vs 101.6: −0.098 %");
}

#[test]
fn flat_prices_never_enter_and_produce_no_nan() {
    let mut h = Harness::new(&config());
    for k in 1..=20u64 {
        assert!(h
            .bar(&bar(1, T0 + k * MIN, (100.0, 100.0, 100.0)))
            .is_empty());
    }
    assert_eq!(h.strategy.counters().skips, [0; 8], "fast = slow: no trend");
    // Rising then flat: fast > slow and RSI 50 (band opened to include it), but ATR 0 and
    // the swing low equal to the price put the stop at the price: skipped, counted.
    let config = TrendConfig {
        primary_slow: 6,
        primary_rsi: 2,
        rsi_long_min: 45.0,
        ..config()
    };
    let mut h = Harness::new(&config);
    let closes = [100.0, 101.0, 102.0, 102.0, 102.0, 102.0];
    for (k, close) in closes.into_iter().enumerate() {
        let signals = h.bar(&bar(1, T0 + (k as u64 + 1) * MIN, (close, close, close)));
        assert!(signals.is_empty());
    }
    assert_eq!(h.skips(SkipReason::StopNotBelowPrice), 1);
}

#[test]
fn a_gap_behaves_as_the_flat_bars_the_aggregator_would_have_closed() {
    // Closes 100 101.5 101 [101] 102 101.5 102: RSI 83.3, 50, 75 at the last three; the
    // band is opened to 45 so the bridged series enters at RSI 50 (stop 99.5).
    let band = TrendConfig {
        rsi_long_min: 45.0,
        ..config()
    };
    let feed = |with_gap: bool| {
        let mut h = Harness::new(&band);
        h.primaries(1..=3);
        let mut signals = Vec::new();
        if !with_gap {
            let mut flat = bar(1, T0 + 4 * MIN, (101.0, 101.0, 101.0));
            flat.trade_count = 0;
            signals.extend(h.bar(&flat));
        }
        // Bars 4 and 5 shifted one minute later.
        signals.extend(h.bar(&bar(1, T0 + 5 * MIN, BARS[3])));
        signals.extend(h.bar(&bar(1, T0 + 6 * MIN, BARS[4])));
        signals.extend(h.bar(&bar(1, T0 + 7 * MIN, BARS[5])));
        (signals, h.strategy.counters())
    };
    let (gap, gap_counters) = feed(true);
    let (flat, flat_counters) = feed(false);
    assert_eq!(gap, flat);
    assert!(!gap.is_empty(), "the bridged series still trades");
    assert_eq!(
        (gap_counters.bridged_bars, flat_counters.bridged_bars),
        (1, 0)
    );
    // A hole longer than every window resets the primary indicators.
    let mut h = Harness::new(&config());
    h.primaries(1..=4);
    assert!(h.bar(&bar(1, T0 + 60 * MIN, BARS[4])).is_empty());
    assert_eq!(h.strategy.counters().resets, 1);
}

#[test]
fn a_single_bar_and_bad_bars_do_nothing() {
    let mut h = Harness::new(&config());
    assert!(h.primary(1).is_empty());
    assert_eq!(h.strategy.counters().evaluations, 1);
    assert!(
        h.bar(&bar(1, T0 + MIN, BARS[1])).is_empty(),
        "same close time"
    );
    assert!(h
        .bar(&bar(1, T0 + 2 * MIN, (99.0, 101.0, 100.0)))
        .is_empty());
    let other_symbol = Bar {
        symbol: SymbolId(5),
        ..bar(1, T0 + 3 * MIN, BARS[2])
    };
    assert!(h.bar(&other_symbol).is_empty());
    let counters = h.strategy.counters();
    assert_eq!((counters.stale_bars, counters.invalid_bars), (1, 1));
    assert_eq!(counters.evaluations, 1);
}

#[test]
fn warm_up_bars_only_warm_up_and_live_bars_continue_from_them() {
    let mut h = Harness::new(&config());
    for k in 1..=5u64 {
        h.strategy
            .on_warmup_bar(&bar(1, T0 + k * MIN, BARS[k as usize - 1]));
    }
    assert_eq!(
        h.strategy.counters().evaluations,
        0,
        "no evaluation in warm-up"
    );
    assert!(
        h.primary(5).is_empty(),
        "a live bar overlapping the warm-up is stale"
    );
    // Bar 6: fast 101.75 > slow 101.625, RSI 60, stop 99.8 — the live close enters.
    let six = h.primary(6);
    let [Signal::Enter(plan)] = six[..] else {
        panic!("entry expected, got {six:?}");
    };
    assert!(near(plan.stop_loss, 99.8));
}

#[test]
fn gates_scope_owner_and_busy_are_counted() {
    let run = |prepare: &dyn Fn(&mut TestView)| {
        let mut h = Harness::new(&config());
        prepare(&mut h.view);
        h.primaries(1..=4);
        let signals = h.primary(5);
        (signals.len(), h.strategy.counters().skips)
    };
    let (n, skips) = run(&|view| view.scope[0] = false);
    assert_eq!((n, skips[SkipReason::OutOfScope.index()]), (0, 1));
    let (n, skips) = run(&|view| view.owners[0] = Some(StrategyId(11)));
    assert_eq!((n, skips[SkipReason::OwnedElsewhere.index()]), (0, 1));
    let (n, _) = run(&|view| view.owners[0] = Some(ids::TREND_FOLLOW));
    assert_eq!(n, 1, "owning it ourselves is no conflict");
    let (n, skips) = run(&|view| view.holdings[0].open_orders = 1);
    assert_eq!((n, skips[SkipReason::Busy.index()]), (0, 1));
    // An ask above the target (a spike after the close): no entry.
    let (n, skips) = run(&|view| view.markets[0].ask = price(104.5));
    assert_eq!((n, skips[SkipReason::TargetNotAbovePrice.index()]), (0, 1));
    // An ask below the stop (a crash after the close): no entry.
    let (n, skips) = run(&|view| view.markets[0].ask = price(99.0));
    assert_eq!((n, skips[SkipReason::StopNotBelowPrice.index()]), (0, 1));
}

#[test]
fn a_position_found_in_the_holding_is_managed_after_a_restart() {
    let mut h = Harness::new(&config());
    h.primaries(1..=4);
    // The restarted engine already holds the position with its bracket at 99.
    let holding = h.view.holding_mut(SYMBOL);
    holding.qty = Qty::ONE;
    holding.avg_entry = price(101.0);
    holding.stop_loss = price(99.0);
    holding.take_profit = price(104.0);
    let five = h.primary(5);
    let [Signal::MoveStop { stop_loss, .. }] = five[..] else {
        panic!("a stop raise expected, got {five:?}");
    };
    assert!(
        near(stop_loss, 99.5),
        "adopted the venue stop and raised it"
    );
    // It vanishes without a fill (flattened while down): forgotten, cooldown from the close.
    h.view.holding_mut(SYMBOL).qty = Qty::ZERO;
    assert!(h.primary(6).is_empty());
    assert_eq!(h.strategy.counters().lost_positions, 1);
    assert_eq!(h.strategy.cooldown_until_ms(SYMBOL), T0 + 9 * MIN);
}

#[test]
fn snapshot_and_restore_round_trip_the_state_that_matters() {
    let tuned = TrendConfig {
        auto_tune_enabled: true,
        auto_tune_min_trades: 1,
        auto_tune_interval: 1,
        auto_tune_history: 10,
        ..config()
    };
    let mut h = Harness::entered(&tuned);
    h.primary(6);
    h.venue_ms = T0 + 6 * MIN;
    h.fill(Side::Sell, 99.8, 0, 0.0, 2);
    // A losing trade with min_trades 1: the tuner widened the params.
    let params = h.strategy.tuner().params();
    assert_eq!(params.cooldown_bars, 4);
    assert_eq!(h.strategy.cooldown_until_ms(SYMBOL), T0 + 10 * MIN);
    let mut body = Vec::new();
    h.strategy.snapshot(&mut body);

    let mut restored = TrendStrategy::new(&tuned, &[SYMBOL]);
    restored.restore(&body).expect("own snapshot");
    let mut again = Vec::new();
    restored.snapshot(&mut again);
    assert_eq!(body, again, "byte-identical round trip");
    assert_eq!(restored.cooldown_until_ms(SYMBOL), T0 + 10 * MIN);
    assert_eq!(restored.tuner().params(), params);
    assert_eq!(restored.trades().count(), 1);

    // With tuning off the configured params stand; history and cooldown still come back.
    let mut untuned = TrendStrategy::new(&config(), &[SYMBOL]);
    untuned.restore(&body).expect("own snapshot");
    assert_eq!(
        untuned.tuner().params(),
        TunedParams::from_config(&config())
    );
    assert_eq!(untuned.trades().count(), 1);
    assert_eq!(untuned.cooldown_until_ms(SYMBOL), T0 + 10 * MIN);

    assert!(restored.restore(b"{not json").is_err());
    assert!(restored
        .restore(br#"{"version":99,"symbols":[],"tuner":{"params":{"atr_stop_mult":1,"atr_target_mult":2,"rsi_long_min":50,"rsi_long_max":70,"cooldown_bars":3},"trades_since_change":0,"history":[]}}"#)
        .is_err());
}

#[test]
fn a_position_open_at_snapshot_time_keeps_its_ratcheted_stop() {
    let mut h = Harness::entered(&config());
    h.primary(6);
    let mut body = Vec::new();
    h.strategy.snapshot(&mut body);
    let mut restored = TrendStrategy::new(&config(), &[SYMBOL]);
    restored.restore(&body).expect("own snapshot");
    assert!(near(restored.stop_of(SYMBOL), 99.8));
}

#[test]
fn metrics_count_signals_trades_and_skips_per_symbol() {
    let mut registry = Registry::new();
    let names = vec!["BTCUSDT".to_owned()];
    let mut h = Harness::entered(&config());
    h.strategy
        .attach_metrics(&mut MetricsScope {
            registry: &mut registry,
            venue: "paper",
            symbol_names: &names,
        })
        .expect("registers once");
    h.primary(6);
    h.fill(Side::Sell, 99.5, 0, 0.0, 2);
    h.view.holding_mut(SYMBOL).open_orders = 0;
    h.primary(7);
    assert_eq!(registry.sample("trend_follow_signals_total"), Some(1.0));
    assert_eq!(registry.sample("trend_follow_trades_total"), Some(1.0));
    assert_eq!(registry.sample("trend_follow_skipped_total"), Some(1.0));
    let pnl = registry
        .sample("trend_follow_trade_pnl_pct")
        .expect("gauge");
    assert!((pnl - (99.5 / 101.6 - 1.0) * 100.0).abs() < 1e-9);
    let text = registry.render();
    assert!(text.contains(
        "trend_follow_signals_total{side=\"sell\",state=\"stop_raise\",symbol=\"BTCUSDT\",venue=\"paper\"} 1"
    ), "{text}");
    assert!(text.contains(
        "trend_follow_skipped_total{reason=\"cooldown\",symbol=\"BTCUSDT\",venue=\"paper\"} 1"
    ));
}

#[test]
fn declares_its_timeframes_and_tags() {
    let strategy = TrendStrategy::new(&TrendConfig::default(), &[SymbolId(3)]);
    assert_eq!(strategy.timeframes(), &[60, 240, 1440]);
    assert_eq!(strategy.tags(), &[TAG_LONG, TAG_EXIT]);
    assert_eq!(strategy.info().id, ids::TREND_FOLLOW);
    assert_eq!(strategy.symbols(), &[SymbolId(3)]);
    let same = TrendStrategy::new(
        &TrendConfig {
            secondary_minutes: 240,
            ..TrendConfig::default()
        },
        &[SymbolId(0)],
    );
    assert_eq!(same.timeframes(), &[240, 1440], "deduplicated");
}
