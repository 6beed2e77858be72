//! Unit tests of the scalper on constructed tick series and books: every rule, every gate
//! and the exact signals.

use super::*;
use crate::core::{BookTop, ClientOrderId, Level, Market, Notional, Qty, TradePrint};
use crate::ops::Registry;
use crate::strat::api::{Holding, SymbolState};
use crate::strat::testkit::TestView;

const SEC: u64 = NS_PER_SEC;
const BTC: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("test price")
}

fn config() -> ScalpConfig {
    ScalpConfig {
        enabled: true,
        ..ScalpConfig::default()
    }
}

fn trade(symbol: SymbolId, price: &str) -> MarketEvent {
    MarketEvent {
        symbol,
        recv_ns: 0,
        exch_ts_ms: 0,
        kind: MarketEventKind::Trade(TradePrint {
            trade_id: 1,
            price: p(price),
            qty: Qty::ONE,
            aggressor: Side::Buy,
        }),
    }
}

/// A valid L2 top with one level per side (more levels: `deeper_asks`).
fn book(bid: &str, bid_qty: &str, ask: &str, ask_qty: &str) -> SymbolState {
    let mut top = BookTop {
        valid: true,
        bid_count: 1,
        ask_count: 1,
        ..BookTop::default()
    };
    top.bids[0] = Level {
        price: p(bid),
        qty: Qty::parse(bid_qty).expect("qty"),
    };
    top.asks[0] = Level {
        price: p(ask),
        qty: Qty::parse(ask_qty).expect("qty"),
    };
    SymbolState {
        top,
        book_valid: true,
        book_ns: 1,
        ..SymbolState::default()
    }
}

/// Bid 99.99 × 150, ask 100.01 × 150: mid 100, spread 2 bps, depth 30 000, no imbalance.
fn balanced() -> SymbolState {
    book("99.99", "150", "100.01", "150")
}

/// Bid 99.99 × 300, ask 100.01 × 150: imbalance +1/3 (bids heavier).
fn bid_heavy() -> SymbolState {
    book("99.99", "300", "100.01", "150")
}

/// Ask side heavier: imbalance −1/3.
fn ask_heavy() -> SymbolState {
    book("99.99", "150", "100.01", "300")
}

struct Rig {
    strategy: ScalpStrategy,
    view: TestView,
    /// The L2 top is refreshed to each tick's time unless frozen.
    freeze_book: bool,
}

impl Rig {
    fn new(config: &ScalpConfig, market: Market, state: SymbolState) -> Self {
        let mut view = TestView::new(1, market);
        *view.market_mut(BTC) = state;
        Self {
            strategy: ScalpStrategy::new(config, &[BTC]),
            view,
            freeze_book: false,
        }
    }

    /// One trade at `at_ns`; the signals it caused.
    fn tick(&mut self, at_ns: u64, price: &str) -> Vec<Signal> {
        if !self.freeze_book {
            self.view.market_mut(BTC).book_ns = at_ns;
        }
        let strategy = &mut self.strategy;
        let event = trade(BTC, price);
        self.view
            .call(at_ns, at_ns / 1_000_000, None, |ctx| {
                strategy.on_market(&event, ctx)
            })
            .signals
    }

    /// Ticks one second apart from `start_sec`; the signals of each.
    fn ticks(&mut self, start_sec: u64, prices: &[&str]) -> Vec<Vec<Signal>> {
        prices
            .iter()
            .enumerate()
            .map(|(i, price)| self.tick((start_sec + i as u64) * SEC, price))
            .collect()
    }

    /// The signals of the last tick of the series, asserting the others emitted none.
    fn last_of(&mut self, start_sec: u64, prices: &[&str]) -> Vec<Signal> {
        let mut all = self.ticks(start_sec, prices);
        let last = all.pop().expect("a series");
        assert!(
            all.iter().all(Vec::is_empty),
            "only the last tick decides: {all:?}"
        );
        last
    }

    fn timer(&mut self, at_ns: u64) -> Vec<Signal> {
        let strategy = &mut self.strategy;
        self.view
            .call(at_ns, at_ns / 1_000_000, None, |ctx| strategy.on_timer(ctx))
            .signals
    }
}

/// Falls to the bottom of a 10-bps range with the last tick rising (momentum > 0).
const DIP_AND_TURN: [&str; 8] = [
    "100.10", "100.08", "100.06", "100.04", "100.00", "99.99", "100.00", "100.01",
];
/// Falls steadily to the low: momentum < 0, RSI(2) = 0 (oversold).
const STEADY_FALL: [&str; 8] = [
    "100.10", "100.09", "100.08", "100.07", "100.06", "100.04", "100.02", "100.00",
];
/// Rises steadily to the high: momentum > 0, RSI(2) = 100 (overbought).
const STEADY_RISE: [&str; 8] = [
    "99.90", "99.92", "99.94", "99.96", "99.98", "100.00", "100.02", "100.04",
];

fn buy(reason: ScalpReason) -> Signal {
    Signal::Enter(EntryPlan {
        symbol: BTC,
        side: Side::Buy,
        size: Size::Quote(Notional::from_int(125)),
        limit: Price::ZERO,
        stop_loss: p("99.88"),
        take_profit: p("100.18"),
        tag: reason.tag(),
    })
}

fn sell(reason: ScalpReason) -> Signal {
    Signal::Enter(EntryPlan {
        symbol: BTC,
        side: Side::Sell,
        size: Size::Quote(Notional::from_int(125)),
        limit: Price::ZERO,
        stop_loss: p("100.12"),
        take_profit: p("99.82"),
        tag: reason.tag(),
    })
}

#[test]
fn buys_range_support_on_momentum_with_a_bracket_from_the_mid() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    let signals = rig.last_of(1, &DIP_AND_TURN);
    assert_eq!(signals, vec![buy(ScalpReason::RangeSupport)]);
    let metrics = &rig.strategy.metrics[0];
    assert_eq!(metrics.signals[ScalpReason::RangeSupport.index()].get(), 1);
    // 125 quote fits in the 100.01 ask: 1 bp from the mid; 18 − 1 − 7.5.
    assert!((metrics.edge_bp[0].get() - 9.5).abs() < 1e-6);
    assert!((metrics.slippage_bp[0].get() - 1.0).abs() < 1e-6);
    assert!((metrics.range_width_bp.get() - 0.11 / 100.01 * 1e4).abs() < 1e-6);
    assert!((metrics.spread_bp.get() - 2.0).abs() < 1e-6);
}

#[test]
fn buys_range_support_on_book_imbalance_without_momentum() {
    // At the low, momentum −0.06 (bearish), RSI(2) 50 (+0.01, −0.01): only the book's
    // imbalance makes the flow.
    let prices = [
        "100.10", "100.09", "100.08", "100.07", "100.06", "100.00", "100.01", "100.00",
    ];
    let mut rig = Rig::new(&config(), Market::Spot, bid_heavy());
    assert_eq!(
        rig.last_of(1, &prices),
        vec![buy(ScalpReason::RangeSupport)]
    );
    assert_eq!(rig.strategy.metrics[0].rsi.get(), 50.0);
    let mut flat_book = Rig::new(&config(), Market::Spot, balanced());
    assert!(flat_book.ticks(1, &prices).iter().all(Vec::is_empty));
}

#[test]
fn flow_wins_over_oversold_for_the_reason() {
    // Oversold and at the low: imbalance makes it range_support, without it rsi_rebound.
    let mut heavy = Rig::new(&config(), Market::Spot, bid_heavy());
    assert_eq!(
        heavy.last_of(1, &STEADY_FALL),
        vec![buy(ScalpReason::RangeSupport)]
    );
    let mut flat_book = Rig::new(&config(), Market::Spot, balanced());
    assert_eq!(
        flat_book.last_of(1, &STEADY_FALL),
        vec![buy(ScalpReason::RsiRebound)]
    );
}

#[test]
fn buys_rsi_rebound_when_oversold_without_flow() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    assert_eq!(
        rig.last_of(1, &STEADY_FALL),
        vec![buy(ScalpReason::RsiRebound)]
    );
    assert_eq!(rig.strategy.metrics[0].rsi.get(), 0.0);
}

#[test]
fn sells_range_resist_and_rsi_mean_revert_only_where_shorts_are_possible() {
    let mut futures = Rig::new(&config(), Market::UsdmFutures, ask_heavy());
    assert_eq!(
        futures.last_of(1, &STEADY_RISE),
        vec![sell(ScalpReason::RangeResist)]
    );
    let mut overbought = Rig::new(&config(), Market::UsdmFutures, balanced());
    assert_eq!(
        overbought.last_of(1, &STEADY_RISE),
        vec![sell(ScalpReason::RsiMeanRevert)]
    );
    let mut spot = Rig::new(&config(), Market::Spot, ask_heavy());
    assert!(spot.ticks(1, &STEADY_RISE).iter().all(Vec::is_empty));
    let no_shorts = ScalpConfig {
        allow_shorts: false,
        ..config()
    };
    let mut disallowed = Rig::new(&no_shorts, Market::UsdmFutures, ask_heavy());
    assert!(disallowed.ticks(1, &STEADY_RISE).iter().all(Vec::is_empty));
}

#[test]
fn never_sells_into_an_oversold_top() {
    // At the top of the range with falling momentum but RSI(2) = 0: the seed's "and not
    // oversold" keeps it out.
    let prices = [
        "99.90", "99.92", "99.94", "99.96", "100.00", "100.04", "100.03", "100.02",
    ];
    let mut rig = Rig::new(&config(), Market::UsdmFutures, balanced());
    assert!(rig.ticks(1, &prices).iter().all(Vec::is_empty));
    assert_eq!(rig.strategy.metrics[0].rsi.get(), 0.0);
    assert!(rig.strategy.metrics[0].position.get() >= 0.78);
}

#[test]
fn flat_prices_a_single_tick_and_a_narrow_range_never_signal() {
    let mut flat = Rig::new(&config(), Market::Spot, bid_heavy());
    assert!(flat.ticks(1, &["100.00"; 12]).iter().all(Vec::is_empty));
    assert_eq!(flat.strategy.metrics[0].range_width_bp.get(), 0.0);
    let mut single = Rig::new(&config(), Market::Spot, bid_heavy());
    assert!(single.tick(SEC, "100.00").is_empty());
    // 5 bps of range < min_range_bps 6.
    let narrow = [
        "100.05", "100.04", "100.03", "100.02", "100.01", "100.00", "100.00", "100.00",
    ];
    let mut rig = Rig::new(&config(), Market::Spot, bid_heavy());
    assert!(rig.ticks(1, &narrow).iter().all(Vec::is_empty));
}

#[test]
fn seven_ticks_are_not_enough_and_old_ticks_leave_the_window() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    assert!(rig.ticks(1, &DIP_AND_TURN[..7]).iter().all(Vec::is_empty));
    let mut late = Rig::new(&config(), Market::Spot, balanced());
    late.ticks(1, &DIP_AND_TURN[..7]);
    // 30 s later the first tick (t = 1 s) has left the window: 7 ticks again.
    assert!(late.tick(31 * SEC, "100.01").is_empty());
    assert_eq!(late.strategy.slots[0].window.len(), 7);
}

#[test]
fn no_entry_on_an_invalid_stale_wide_or_thin_book() {
    let mut invalid = balanced();
    invalid.book_valid = false;
    let mut rig = Rig::new(&config(), Market::Spot, invalid);
    assert!(rig.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty));

    let mut stale = Rig::new(&config(), Market::Spot, balanced());
    stale.freeze_book = true;
    stale.view.market_mut(BTC).book_ns = 2 * SEC;
    // The last tick is at 8 s: the book is 6 s old > 5.
    assert!(stale.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty));
    stale.view.market_mut(BTC).book_ns = 3 * SEC;
    assert_eq!(
        stale.tick(8 * SEC, "100.01"),
        vec![buy(ScalpReason::RangeSupport)],
        "5 s old is still fresh"
    );

    let mut wide = Rig::new(
        &config(),
        Market::Spot,
        book("99.96", "150", "100.04", "150"),
    );
    assert!(
        wide.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty),
        "8 bps spread > 6"
    );

    let mut thin = Rig::new(&config(), Market::Spot, book("99.99", "90", "100.01", "90"));
    assert!(
        thin.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty),
        "18 000 of depth < 20 000"
    );
    let mut cannot_fill = Rig::new(&config(), Market::Spot, book("99.99", "300", "100.01", "1"));
    assert!(
        cannot_fill
            .ticks(1, &DIP_AND_TURN)
            .iter()
            .all(Vec::is_empty),
        "the visible asks (100 quote) cannot hold a 125 entry"
    );
}

#[test]
fn deeper_levels_raise_the_slippage_estimate_and_a_non_positive_edge_stops_the_entry() {
    let mut walked = balanced();
    walked.top.asks[0].qty = Qty::parse("1").expect("qty");
    walked.top.asks[1] = Level {
        price: p("100.03"),
        qty: Qty::parse("500").expect("qty"),
    };
    walked.top.ask_count = 2;
    walked.top.bids[0].qty = Qty::parse("300").expect("qty");
    let mut rig = Rig::new(&config(), Market::Spot, walked);
    let signals = rig.last_of(1, &DIP_AND_TURN);
    assert_eq!(signals.len(), 1);
    // 100.01 quote at 100.01, 24.99 at 100.03: average ≈ 100.014, ≈ 1.4 bps.
    let slippage = rig.strategy.metrics[0].slippage_bp[0].get();
    let average = 125.0 / (1.0 + 24.99 / 100.03);
    assert!((slippage - (average - 100.0) / 100.0 * 1e4).abs() < 1e-6);

    let zero_edge = ScalpConfig {
        fee_bps: 17.0,
        ..config()
    };
    let mut none = Rig::new(&zero_edge, Market::Spot, balanced());
    assert!(
        none.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty),
        "18 − 1 − 17 = 0 is no edge"
    );
    let thin_edge = ScalpConfig {
        fee_bps: 16.9,
        ..config()
    };
    let mut some = Rig::new(&thin_edge, Market::Spot, balanced());
    assert_eq!(some.last_of(1, &DIP_AND_TURN).len(), 1);
}

#[test]
fn holding_another_owner_and_scope_block_entries() {
    let mut holding = Rig::new(&config(), Market::Spot, balanced());
    holding.view.holding_mut(BTC).qty = Qty::parse("0.5").expect("qty");
    assert!(holding.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty));

    let mut pending = Rig::new(&config(), Market::Spot, balanced());
    pending.view.holding_mut(BTC).entry_open = true;
    assert!(pending.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty));

    let mut owned = Rig::new(&config(), Market::Spot, balanced());
    owned.view.owners[0] = Some(ids::TREND_FOLLOW);
    assert!(owned.ticks(1, &DIP_AND_TURN).iter().all(Vec::is_empty));

    let mut out_of_scope = Rig::new(&config(), Market::Spot, balanced());
    out_of_scope.view.scope[0] = false;
    assert!(out_of_scope
        .ticks(1, &DIP_AND_TURN)
        .iter()
        .all(Vec::is_empty));
}

#[test]
fn cooldown_holds_the_symbol_for_its_seconds() {
    let mut rig = Rig::new(&config(), Market::Spot, bid_heavy());
    let prices = [
        "100.10", "100.09", "100.08", "100.07", "100.06", "100.04", "100.00", "100.00",
    ];
    assert_eq!(rig.last_of(1, &prices).len(), 1, "signal at 8 s");
    assert!(
        rig.tick(8 * SEC + 14 * SEC, "100.00").is_empty(),
        "22 s: cooling"
    );
    assert!(rig.tick(23 * SEC - 1, "100.00").is_empty());
    assert_eq!(
        rig.tick(23 * SEC, "100.00"),
        vec![buy(ScalpReason::RangeSupport)],
        "15 s after the signal"
    );
}

#[test]
fn at_most_max_signals_per_minute() {
    let capped = ScalpConfig {
        cooldown_sec: 0,
        max_signals_per_min: 2,
        ..config()
    };
    let mut rig = Rig::new(&capped, Market::Spot, bid_heavy());
    let prices = [
        "100.10", "100.09", "100.08", "100.07", "100.06", "100.04", "100.00", "100.00",
    ];
    let emitted: Vec<usize> = rig.ticks(1, &prices).iter().map(Vec::len).collect();
    assert_eq!(emitted, vec![0, 0, 0, 0, 0, 0, 0, 1], "8 ticks at 8 s");
    // Keep the range alive (a high every few seconds) and the price at the low.
    let mut signal_secs = Vec::new();
    for sec in 9..=75u64 {
        let price = if sec % 10 == 0 { "100.10" } else { "100.00" };
        if !rig.tick(sec * SEC, price).is_empty() {
            signal_secs.push(sec);
        }
    }
    // Signals at 8 s and 9 s fill the cap; they leave the 60 s window at 68 s and 69 s.
    assert_eq!(signal_secs, vec![9, 68, 69]);
}

#[test]
fn a_limit_entry_rests_at_the_far_touch_and_is_cancelled_after_its_ttl() {
    let limit = ScalpConfig {
        entry: ScalpEntry::Limit,
        ..config()
    };
    let mut rig = Rig::new(&limit, Market::Spot, balanced());
    let signals = rig.last_of(1, &DIP_AND_TURN);
    let Some(Signal::Enter(plan)) = signals.first().copied() else {
        panic!("an entry: {signals:?}");
    };
    assert_eq!(plan.limit, p("100.01"));
    // The touch is 1 bp from the mid: edge 18 − 1 − 7.5.
    assert!((rig.strategy.metrics[0].edge_bp[0].get() - 9.5).abs() < 1e-6);
    rig.view.holding_mut(BTC).entry_open = true;
    assert!(rig.timer(8 * SEC + 30 * SEC - 1).is_empty());
    assert_eq!(
        rig.timer(38 * SEC),
        vec![Signal::Exit {
            symbol: BTC,
            tag: TAG_TTL_EXPIRED
        }]
    );
    assert!(rig.timer(39 * SEC).is_empty(), "one exit per signal");
}

#[test]
fn a_limit_entry_that_filled_in_time_is_not_cancelled() {
    let limit = ScalpConfig {
        entry: ScalpEntry::Limit,
        max_hold_sec: 0,
        ..config()
    };
    let mut rig = Rig::new(&limit, Market::Spot, balanced());
    assert_eq!(rig.last_of(1, &DIP_AND_TURN).len(), 1);
    *rig.view.holding_mut(BTC) = Holding {
        qty: Qty::parse("1.25").expect("qty"),
        open_orders: 2,
        ..Holding::default()
    };
    let fill = Fill {
        symbol: BTC,
        strategy: ids::SCALPING,
        ..Fill::default()
    };
    let strategy = &mut rig.strategy;
    rig.view
        .call(9 * SEC, 9_000, None, |ctx| strategy.on_fill(&fill, ctx));
    assert!(rig.timer(60 * SEC).is_empty());
    assert!(
        rig.timer(600 * SEC).is_empty(),
        "no time stop with max_hold_sec 0"
    );
}

#[test]
fn a_market_entry_has_no_ttl_to_enforce_and_the_time_stop_closes_a_stale_position() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    assert_eq!(rig.last_of(1, &DIP_AND_TURN).len(), 1);
    assert!(
        rig.timer(100 * SEC).is_empty(),
        "nothing held, nothing to stop"
    );
    *rig.view.holding_mut(BTC) = Holding {
        qty: Qty::parse("1.25").expect("qty"),
        avg_entry: p("100.01"),
        open_orders: 2,
        ..Holding::default()
    };
    let fill = Fill {
        symbol: BTC,
        strategy: ids::SCALPING,
        ..Fill::default()
    };
    let strategy = &mut rig.strategy;
    rig.view
        .call(101 * SEC, 101_000, None, |ctx| strategy.on_fill(&fill, ctx));
    assert!(rig.timer(191 * SEC - 1).is_empty());
    let exit = Signal::Exit {
        symbol: BTC,
        tag: TAG_TIME_STOP,
    };
    assert_eq!(rig.timer(191 * SEC), vec![exit]);
    assert!(rig.timer(192 * SEC).is_empty(), "sent once");
    assert_eq!(rig.strategy.metrics[0].bracket_exits[EXIT_TIME].get(), 1);
    // Flat again: the clock stops and the next position gets a fresh one.
    *rig.view.holding_mut(BTC) = Holding::default();
    let strategy = &mut rig.strategy;
    rig.view
        .call(193 * SEC, 193_000, None, |ctx| strategy.on_fill(&fill, ctx));
    assert_eq!(rig.strategy.slots[0].entered_ns, 0);
    assert!(!rig.strategy.slots[0].exit_sent);
}

#[test]
fn bracket_leg_fills_are_counted_by_mode() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    let update = |role, status| OrderUpdate {
        client_order_id: ClientOrderId(7),
        strategy: ids::SCALPING,
        symbol: BTC,
        side: Side::Sell,
        status,
        filled_qty: Qty::ONE,
        venue_order_id: 1,
        reject_code: 0,
        order_type: crate::core::OrderType::StopMarket,
        time_in_force: crate::core::TimeInForce::default(),
        role,
        reduce_only: true,
        price: Price::ZERO,
        trigger_price: p("99.88"),
        qty: Qty::ONE,
        parent: ClientOrderId(3),
    };
    for (role, status) in [
        (OrderRole::TakeProfit, OrderStatus::PartiallyFilled),
        (OrderRole::TakeProfit, OrderStatus::Filled),
        (OrderRole::StopLoss, OrderStatus::Canceled),
        (OrderRole::StopLoss, OrderStatus::Filled),
        (OrderRole::Entry, OrderStatus::Filled),
    ] {
        let u = update(role, status);
        let strategy = &mut rig.strategy;
        rig.view
            .call(SEC, 1000, None, |ctx| strategy.on_order(&u, ctx));
    }
    let exits = &rig.strategy.metrics[0].bracket_exits;
    assert_eq!((exits[EXIT_SL].get(), exits[EXIT_TP].get()), (1, 1));
}

#[test]
fn the_cooldown_survives_a_restart_in_venue_time() {
    let mut rig = Rig::new(&config(), Market::Spot, bid_heavy());
    let prices = [
        "100.10", "100.09", "100.08", "100.07", "100.06", "100.04", "100.00", "100.00",
    ];
    let strategy = &mut rig.strategy;
    let mut dirty = false;
    for (i, price) in prices.iter().enumerate() {
        let at = (1 + i as u64) * SEC;
        rig.view.market_mut(BTC).book_ns = at;
        let event = trade(BTC, price);
        dirty |= rig
            .view
            .call(at, 1_700_000_000_000 + at / 1_000_000, None, |ctx| {
                strategy.on_market(&event, ctx)
            })
            .dirty;
    }
    assert!(dirty, "the cooldown is persistent state");
    let mut body = Vec::new();
    rig.strategy.snapshot(&mut body);
    // A new process: engine time restarts at zero, venue time goes on.
    let mut restarted = ScalpStrategy::new(&config(), &[BTC]);
    restarted.restore(&body).expect("own snapshot");
    let mut run = |strategy: &mut ScalpStrategy, venue_ms: u64| -> usize {
        let mut count = 0;
        for (i, price) in prices.iter().enumerate() {
            let at = (1 + i as u64) * SEC;
            rig.view.market_mut(BTC).book_ns = at;
            let event = trade(BTC, price);
            count += rig
                .view
                .call(at, venue_ms + i as u64, None, |ctx| {
                    strategy.on_market(&event, ctx)
                })
                .signals
                .len();
        }
        count
    };
    // Signal at venue 1_700_000_008_000: cooling until 1_700_000_023_000.
    assert_eq!(run(&mut restarted, 1_700_000_010_000), 0);
    let mut later = ScalpStrategy::new(&config(), &[BTC]);
    later.restore(&body).expect("own snapshot");
    assert_eq!(run(&mut later, 1_700_000_023_000), 1);
    assert!(restarted.restore(b"{not json").is_err());
}

#[test]
fn other_symbols_and_book_events_do_not_tick() {
    let mut rig = Rig::new(&config(), Market::Spot, balanced());
    let strategy = &mut rig.strategy;
    let other = trade(SymbolId(5), "100");
    rig.view
        .call(SEC, 1000, None, |ctx| strategy.on_market(&other, ctx));
    let book_event = MarketEvent {
        symbol: BTC,
        recv_ns: 0,
        exch_ts_ms: 0,
        kind: MarketEventKind::Book(rig.view.markets[0].top),
    };
    rig.view.market_mut(BTC).book_ns = SEC;
    let strategy = &mut rig.strategy;
    rig.view
        .call(SEC, 1000, None, |ctx| strategy.on_market(&book_event, ctx));
    assert_eq!(rig.strategy.slots[0].window.len(), 0);
    assert!((rig.strategy.metrics[0].spread_bp.get() - 2.0).abs() < 1e-6);
}

#[test]
fn metrics_register_under_the_seed_names() {
    let mut registry = Registry::new();
    let mut strategy = ScalpStrategy::new(&config(), &[BTC]);
    let names = vec!["BTCUSDT".to_owned()];
    let mut scope = MetricsScope {
        registry: &mut registry,
        venue: "paper",
        symbol_names: &names,
    };
    strategy.attach_metrics(&mut scope).expect("fresh registry");
    let mut rig = Rig {
        strategy,
        view: TestView::new(1, Market::Spot),
        freeze_book: false,
    };
    *rig.view.market_mut(BTC) = balanced();
    assert_eq!(rig.last_of(1, &DIP_AND_TURN).len(), 1);
    let text = registry.render();
    let edge = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("scalp_signal_edge_bp{side=\"BUY\",symbol=\"BTCUSDT\",venue=\"paper\"} ")
        })
        .and_then(|v| v.parse::<f64>().ok());
    assert!(edge.is_some_and(|e| (e - 9.5).abs() < 1e-6), "{text}");
    for line in [
        "scalp_signals_total{reason=\"range_support\",side=\"BUY\",symbol=\"BTCUSDT\",venue=\"paper\"} 1",
        "scalp_bracket_exits_total{mode=\"tp\",symbol=\"BTCUSDT\",venue=\"paper\"} 0",
        "scalp_spread_bp{symbol=\"BTCUSDT\",venue=\"paper\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "missing {line} in\n{text}"
        );
    }
}
