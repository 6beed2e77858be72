//! The rails one by one: each refuses at its limit with its code, and passes just inside it.

use super::*;
use crate::core::{BookTicker, ClientOrderId, Fill, OrderStatus, OrderUpdate};

const MS: u64 = 1_000_000;
const NOW: u64 = 10_000 * MS;

fn px(n: i64) -> Price {
    Price::from_int(n)
}

fn q(text: &str) -> Qty {
    Qty::parse(text).expect("literal")
}

fn usd(n: i64) -> Notional {
    Notional::from_int(n)
}

/// Generous limits, so one test can tighten exactly one rail.
fn open_limits() -> RiskLimits {
    RiskLimits {
        min_order_notional: usd(5),
        max_order_notional: usd(1_000_000),
        max_symbol_exposure: usd(1_000_000),
        max_venue_exposure: usd(1_000_000),
        max_gross_exposure: usd(1_000_000),
        default_strategy_budget: usd(1_000_000),
        max_orders_per_window: 1_000,
        max_cancels_per_window: 1_000,
        max_open_orders: 1_000,
        max_open_orders_per_symbol: 1_000,
        ..RiskLimits::default()
    }
}

fn rails(limits: RiskLimits) -> RiskRails {
    let mut rails = RiskRails::new(limits, 2, 0);
    for s in 0..2 {
        rails.add_traded_symbol(SymbolId(s), 0);
        rails.on_market(&MarketEvent {
            symbol: SymbolId(s),
            recv_ns: NOW,
            exch_ts_ms: 0,
            kind: MarketEventKind::BookTicker(BookTicker {
                bid_price: px(99),
                ask_price: px(101),
                ..BookTicker::default()
            }),
        });
    }
    rails.add_strategy(StrategyId(1), StrategyMode::Enabled);
    rails.add_strategy(StrategyId(2), StrategyMode::Enabled);
    rails
}

fn buy(qty: &str) -> OrderIntent {
    OrderIntent {
        strategy: StrategyId(1),
        symbol: SymbolId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: px(100),
        qty: q(qty),
        ..OrderIntent::default()
    }
}

fn code(verdict: RiskVerdict) -> u16 {
    match verdict {
        RiskVerdict::Approved(_) => 0,
        RiskVerdict::Rejected(r) => r.code,
    }
}

fn book() -> ExposureBook {
    ExposureBook::new(2, 64)
}

/// An open order of `qty` on symbol 0 for strategy 1.
fn rest(book: &mut ExposureBook, id: u64, side: Side, qty: &str) {
    book.on_update(&OrderUpdate {
        client_order_id: ClientOrderId(id),
        strategy: StrategyId(1),
        symbol: SymbolId(0),
        side,
        status: OrderStatus::New,
        qty: q(qty),
        price: px(100),
        ..OrderUpdate::default()
    });
}

fn hold(book: &mut ExposureBook, strategy: u16, side: Side, qty: &str) {
    book.on_fill(&Fill {
        strategy: StrategyId(strategy),
        symbol: SymbolId(0),
        side,
        qty: q(qty),
        price: px(100),
        ..Fill::default()
    });
}

#[test]
fn notional_min_and_max() {
    let mut r = rails(RiskLimits {
        max_order_notional: usd(400),
        ..open_limits()
    });
    let b = book();
    assert_eq!(
        code(r.check(&buy("0.04"), &b, NOW)),
        codes::NOTIONAL_TOO_SMALL
    );
    assert_eq!(code(r.check(&buy("0.05"), &b, NOW)), 0, "5 USD exactly");
    assert_eq!(code(r.check(&buy("4"), &b, NOW)), 0, "400 USD exactly");
    assert_eq!(
        code(r.check(&buy("4.01"), &b, NOW)),
        codes::NOTIONAL_TOO_LARGE
    );
    // A market buy is valued at the ask.
    let market = OrderIntent {
        order_type: OrderType::Market,
        price: Price::ZERO,
        qty: q("3.97"),
        ..buy("0")
    };
    match r.check(&market, &b, NOW) {
        RiskVerdict::Rejected(reject) => {
            assert_eq!(reject.code, codes::NOTIONAL_TOO_LARGE);
            assert_eq!(reject.observed, Notional::parse("400.97").expect("literal"));
            assert_eq!(reject.limit, usd(400));
        }
        RiskVerdict::Approved(_) => panic!("3.97 at the 101 ask is 400.97"),
    }
}

#[test]
fn symbol_exposure_counts_position_and_open_orders() {
    let mut r = rails(RiskLimits {
        max_symbol_exposure: usd(1_000),
        ..open_limits()
    });
    let mut b = book();
    hold(&mut b, 1, Side::Buy, "5"); // 500 at the 100 mid
    rest(&mut b, 1, Side::Buy, "3"); // 300 more if it fills
    assert_eq!(
        code(r.check(&buy("2"), &b, NOW)),
        0,
        "500 + 300 + 200 = cap"
    );
    assert_eq!(
        code(r.check(&buy("2.01"), &b, NOW)),
        codes::EXPOSURE_SYMBOL_CAP
    );
    // Selling what is held shrinks: never refused for size.
    let sell = OrderIntent {
        side: Side::Sell,
        ..buy("5")
    };
    assert_eq!(code(r.check(&sell, &b, NOW)), 0);
    // Selling past the position opens a short: counted on the short side.
    let flip = OrderIntent {
        side: Side::Sell,
        ..buy("16")
    };
    assert_eq!(code(r.check(&flip, &b, NOW)), codes::EXPOSURE_SYMBOL_CAP);
}

#[test]
fn venue_and_total_exposure_sum_the_symbols() {
    let mut r = rails(RiskLimits {
        max_venue_exposure: usd(900),
        ..open_limits()
    });
    let mut b = book();
    b.on_fill(&Fill {
        symbol: SymbolId(1),
        side: Side::Sell,
        qty: q("6"),
        price: px(100),
        ..Fill::default()
    });
    assert_eq!(code(r.check(&buy("3"), &b, NOW)), 0, "600 short + 300 long");
    assert_eq!(
        code(r.check(&buy("3.1"), &b, NOW)),
        codes::EXPOSURE_VENUE_CAP
    );
    let mut r = rails(RiskLimits {
        max_gross_exposure: usd(700),
        ..open_limits()
    });
    assert_eq!(
        code(r.check(&buy("1.1"), &b, NOW)),
        codes::EXPOSURE_TOTAL_CAP
    );
}

#[test]
fn strategy_budget_counts_only_its_own_position_and_orders() {
    let mut limits = open_limits();
    limits.strategy_budgets[0] = crate::risk::StrategyBudget {
        strategy: 1,
        max_notional: usd(500),
    };
    let mut r = rails(limits);
    let mut b = book();
    hold(&mut b, 2, Side::Buy, "10"); // the other strategy's
    hold(&mut b, 1, Side::Buy, "3");
    assert_eq!(code(r.check(&buy("2"), &b, NOW)), 0);
    assert_eq!(code(r.check(&buy("2.5"), &b, NOW)), codes::STRATEGY_BUDGET);
    let other = OrderIntent {
        strategy: StrategyId(2),
        ..buy("2.5")
    };
    assert_eq!(code(r.check(&other, &b, NOW)), 0, "default budget");
}

#[test]
fn price_band_open_orders_and_rates() {
    let mut r = rails(RiskLimits {
        price_band_bps: 100,
        max_open_orders: 3,
        max_open_orders_per_symbol: 2,
        max_orders_per_window: 2,
        order_rate_window_ms: 1_000,
        max_cancels_per_window: 1,
        cancel_rate_window_ms: 1_000,
        ..open_limits()
    });
    let mut b = book();
    let far = OrderIntent {
        price: Price::parse("101.01").expect("literal"),
        ..buy("0.1")
    };
    assert_eq!(code(r.check(&far, &b, NOW)), codes::PRICE_BAND);
    let edge = OrderIntent {
        price: px(101),
        ..buy("0.1")
    };
    assert_eq!(code(r.check(&edge, &b, NOW)), 0, "100 bps exactly");
    rest(&mut b, 1, Side::Buy, "0.1");
    rest(&mut b, 2, Side::Buy, "0.1");
    assert_eq!(
        code(r.check(&buy("0.2"), &b, NOW)),
        codes::MAX_OPEN_ORDERS_SYMBOL
    );
    b.on_update(&OrderUpdate {
        client_order_id: ClientOrderId(3),
        symbol: SymbolId(1),
        status: OrderStatus::New,
        qty: q("1"),
        ..OrderUpdate::default()
    });
    assert_eq!(code(r.check(&buy("0.2"), &b, NOW)), codes::MAX_OPEN_ORDERS);
    let b = book();
    assert_eq!(
        code(r.check(&buy("0.3"), &b, NOW)),
        0,
        "second in the window"
    );
    assert_eq!(code(r.check(&buy("0.4"), &b, NOW)), codes::ORDER_RATE);
    assert_eq!(
        code(r.check(&buy("0.4"), &b, NOW + 1_001 * MS)),
        0,
        "window moved"
    );
    let cancel = OrderIntent {
        action: IntentAction::Cancel,
        ..buy("0")
    };
    assert_eq!(code(r.check(&cancel, &b, NOW)), 0);
    assert_eq!(code(r.check(&cancel, &b, NOW)), codes::CANCEL_RATE);
}

#[test]
fn stale_or_invalid_book_and_duplicates() {
    let mut r = rails(RiskLimits {
        max_market_data_age_ms: 100,
        duplicate_window_ms: 50,
        ..open_limits()
    });
    let b = book();
    assert_eq!(code(r.check(&buy("0.1"), &b, NOW + 100 * MS)), 0);
    assert_eq!(
        code(r.check(&buy("0.2"), &b, NOW + 101 * MS)),
        codes::STALE_MARKET_DATA
    );
    assert_eq!(
        code(r.check(&buy("0.1"), &b, NOW + 120 * MS)),
        codes::STALE_MARKET_DATA
    );
    r.on_market(&MarketEvent {
        symbol: SymbolId(0),
        recv_ns: NOW + 130 * MS,
        exch_ts_ms: 0,
        kind: MarketEventKind::Book(crate::core::BookTop::default()),
    });
    assert_eq!(
        code(r.check(&buy("0.3"), &b, NOW + 130 * MS)),
        codes::STALE_MARKET_DATA,
        "an invalid (resyncing) book"
    );
    let mut r = rails(RiskLimits {
        duplicate_window_ms: 50,
        ..open_limits()
    });
    assert_eq!(code(r.check(&buy("0.1"), &b, NOW)), 0);
    assert_eq!(
        code(r.check(&buy("0.1"), &b, NOW + 10 * MS)),
        codes::DUPLICATE_INTENT
    );
    assert_eq!(
        code(r.check(&buy("0.1"), &b, NOW + 60 * MS)),
        0,
        "after the window"
    );
    let numbered = OrderIntent {
        intent_seq: 7,
        ..buy("0.5")
    };
    assert_eq!(code(r.check(&numbered, &b, NOW)), 0);
    let replayed = OrderIntent {
        intent_seq: 7,
        ..buy("0.6")
    };
    assert_eq!(
        code(r.check(&replayed, &b, NOW + 1_000 * MS)),
        codes::DUPLICATE_INTENT
    );
}

#[test]
fn modes_halted_reduce_only_disabled_and_dry_run() {
    let mut r = rails(open_limits());
    let mut b = book();
    hold(&mut b, 1, Side::Buy, "1");
    let exit = OrderIntent {
        side: Side::Sell,
        ..buy("1")
    };
    r.set_strategy_mode(StrategyId(1), StrategyMode::DryRun);
    match r.check(&buy("0.1"), &b, NOW) {
        RiskVerdict::Rejected(reject) => {
            assert_eq!(reject.code, codes::DRY_RUN);
            assert_eq!(reject.observed, usd(10));
        }
        RiskVerdict::Approved(_) => panic!("dry run is never sent"),
    }
    r.set_strategy_mode(StrategyId(1), StrategyMode::Disabled);
    assert_eq!(
        code(r.check(&buy("0.1"), &b, NOW)),
        codes::STRATEGY_DISABLED
    );
    assert!(!r.set_strategy_mode(StrategyId(9), StrategyMode::Enabled));
    r.set_strategy_mode(StrategyId(1), StrategyMode::Enabled);
    // Soft breach: reduce-only.
    let soft = r.limits.levels.venue_error_rate;
    assert_eq!(soft, crate::risk::HealthLevel::Soft);
    for t in 0..20 {
        r.on_report(&VenueReport::Link(LinkState::Down), NOW + t * MS);
    }
    let trusted = EquityReading {
        value: usd(10_000),
        trusted: true,
    };
    let t = r.on_timer(NOW + 20 * MS, trusted).expect("soft");
    assert_eq!(t.to_mode, TradingMode::ReduceOnly);
    assert_eq!(
        code(r.check(&buy("0.2"), &b, NOW + 20 * MS)),
        codes::REDUCE_ONLY
    );
    assert_eq!(code(r.check(&exit, &b, NOW + 20 * MS)), 0, "exits pass");
    r.kill();
    assert_eq!(code(r.check(&exit, &b, NOW + 20 * MS)), codes::HALTED);
    let (counts, total) = r.rejects();
    assert_eq!(total, 4, "dry run, disabled, reduce-only, halted");
    let halted = codes::REJECT_CODES
        .iter()
        .position(|&c| c == codes::HALTED)
        .expect("listed");
    assert_eq!(counts[halted], 1);
}

#[test]
fn high_water_mark_is_journaled_when_it_rises_a_tenth_of_a_percent() {
    let mut r = rails(open_limits());
    let at = |value| EquityReading {
        value: usd(value),
        trusted: true,
    };
    r.on_timer(NOW, at(10_000));
    assert_eq!(r.high_water_mark_to_journal(), Some(usd(10_000)));
    r.on_timer(NOW + MS, at(10_009));
    assert_eq!(r.high_water_mark_to_journal(), None);
    r.on_timer(NOW + 2 * MS, at(10_010));
    assert_eq!(r.high_water_mark_to_journal(), Some(usd(10_010)));
    let mut restarted = rails(open_limits());
    assert!(restarted.restore(usd(10_010), None).is_none());
    restarted.on_timer(NOW, at(6_500));
    assert!(
        restarted
            .breakers()
            .reading(crate::risk::Breaker::DrawdownTotal)
            .tripped,
        "35 % below the mark an earlier run reached"
    );
}

#[test]
fn no_price_and_an_absurd_notional_are_refused_with_their_codes() {
    let mut r = rails(open_limits());
    let b = book();
    // Symbol 1 has only seen a trade without a price: fresh, but nothing to value with.
    let mut quiet = RiskRails::new(open_limits(), 2, 0);
    quiet.add_strategy(StrategyId(1), StrategyMode::Enabled);
    quiet.on_market(&MarketEvent {
        symbol: SymbolId(1),
        recv_ns: NOW,
        exch_ts_ms: 0,
        kind: MarketEventKind::Trade(crate::core::TradePrint::default()),
    });
    let market_order = OrderIntent {
        symbol: SymbolId(1),
        order_type: OrderType::Market,
        price: Price::ZERO,
        ..buy("1")
    };
    assert_eq!(code(quiet.check(&market_order, &b, NOW)), codes::NO_PRICE);
    // A price and quantity whose product passes the 1e-18 notional range.
    let absurd = OrderIntent {
        price: Price::from_raw(i128::MAX / 4),
        qty: q("1000000"),
        ..buy("0")
    };
    assert_eq!(code(r.check(&absurd, &b, NOW)), codes::NOTIONAL_OVERFLOW);
}
