//! Every risk rail on the real order stage (rails → order manager → paper venue, bundled
//! BTCUSDT): each test tightens one rail, lets one intent through just inside its limit (it
//! reaches the venue) and shows the next refused — the strategy told with the rail's code,
//! the journal's risk record with the measured value and the limit, and
//! `risk_rejects_total{reason}` counting it after a publish.

mod risk_stage_support;
mod risk_support;

use kestrel::core::{OrderStatus, Side, StrategyId};
use kestrel::engine::control::{ControlCommand, ControlOutcome};
use kestrel::engine::stage::OrderStage;
use kestrel::risk::{codes, RiskLimits, StrategyBudget, StrategyMode, TradingMode};
use risk_stage_support::{assert_last_transition, q, updates, usd, wide, Rig, MS, S1, S2};

#[test]
fn notional_min_passes_at_the_minimum_and_refuses_just_below() {
    let mut rig = Rig::new(RiskLimits {
        min_order_notional: usd("20"),
        ..wide()
    });
    // 0.0004 × 50 000 = 20: exactly the minimum.
    let at_min = rig.limit(S1, Side::Buy, "0.0004", "50000");
    rig.place(at_min);
    let below = rig.limit(S1, Side::Buy, "0.00039", "50000");
    rig.refused_with(below, codes::NOTIONAL_TOO_SMALL, "19.5", "20");
    rig.assert_rejects_counted(codes::NOTIONAL_TOO_SMALL, 1);
}

#[test]
fn notional_max_passes_at_the_maximum_and_refuses_just_above() {
    let mut rig = Rig::new(RiskLimits {
        max_order_notional: usd("100"),
        ..wide()
    });
    let at_max = rig.limit(S1, Side::Buy, "0.002", "50000");
    rig.place(at_max);
    let above = rig.limit(S1, Side::Buy, "0.00201", "50000");
    rig.refused_with(above, codes::NOTIONAL_TOO_LARGE, "100.5", "100");
    // A market order is valued at the ask it would take (60 000.01).
    let market = rig.market_order(S1, Side::Buy, "0.0017");
    let event = rig.refused(market, codes::NOTIONAL_TOO_LARGE);
    assert_eq!(event.observed, usd("102.000017"));
    rig.assert_rejects_counted(codes::NOTIONAL_TOO_LARGE, 2);
}

/// A filled position of 0.005 and a resting buy of 0.005, marked at the mid 60 000: 600 of
/// exposure before the intents under test.
fn position_and_open_order(rig: &mut Rig) {
    let entry = rig.market_order(S1, Side::Buy, "0.005");
    rig.place(entry);
    assert_eq!(rig.position(), q("0.005"), "the market buy filled");
    let resting = rig.limit(S1, Side::Buy, "0.005", "59000");
    let id = rig.place(resting);
    assert_eq!(rig.status(id), OrderStatus::New, "rests below the market");
}

#[test]
fn symbol_exposure_counts_the_position_and_the_open_orders() {
    let mut rig = Rig::new(RiskLimits {
        max_symbol_exposure: usd("1000"),
        ..wide()
    });
    position_and_open_order(&mut rig);
    // 0.005 held + 0.005 resting + 0.006 = 0.016 × 60 000 = 960: inside.
    let inside = rig.limit(S1, Side::Buy, "0.006", "59500");
    rig.place(inside);
    // + 0.0007 = 0.0167 × 60 000 = 1002: the order alone is 41.65, the cap counts it all.
    let over = rig.limit(S1, Side::Buy, "0.0007", "59500");
    rig.refused_with(over, codes::EXPOSURE_SYMBOL_CAP, "1002", "1000");
    // Selling what is held shrinks the position: never refused for exposure.
    let exit = rig.market_order(S1, Side::Sell, "0.005");
    rig.place(exit);
    assert_eq!(rig.position(), q("0"));
    rig.assert_rejects_counted(codes::EXPOSURE_SYMBOL_CAP, 1);
}

#[test]
fn venue_exposure_cap_counts_the_position_and_the_open_orders_on_the_venue() {
    let mut rig = Rig::new(RiskLimits {
        max_venue_exposure: usd("1000"),
        ..wide()
    });
    position_and_open_order(&mut rig);
    let inside = rig.limit(S1, Side::Buy, "0.006", "59500");
    rig.place(inside);
    let over = rig.limit(S1, Side::Buy, "0.0007", "59500");
    rig.refused_with(over, codes::EXPOSURE_VENUE_CAP, "1002", "1000");
    rig.assert_rejects_counted(codes::EXPOSURE_VENUE_CAP, 1);
    assert_eq!(rig.metric("venue_exposure_usd{venue=\"paper\"}"), 960.0);
    assert_eq!(rig.metric("exposure_cap_usd{venue=\"paper\"}"), 1000.0);
    assert_eq!(
        rig.metric("risk_exposure_headroom_usd{venue=\"paper\"}"),
        40.0
    );
}

#[test]
fn total_gross_exposure_cap_counts_the_position_and_the_open_orders() {
    let mut rig = Rig::new(RiskLimits {
        max_gross_exposure: usd("800"),
        ..wide()
    });
    position_and_open_order(&mut rig);
    // 0.0133 × 60 000 = 798.
    let inside = rig.limit(S1, Side::Buy, "0.0033", "59500");
    rig.place(inside);
    let over = rig.limit(S1, Side::Buy, "0.0002", "59500");
    rig.refused_with(over, codes::EXPOSURE_TOTAL_CAP, "810", "800");
    rig.assert_rejects_counted(codes::EXPOSURE_TOTAL_CAP, 1);
    assert_eq!(rig.metric("gross_exposure_usd"), 798.0);
}

#[test]
fn strategy_budget_counts_only_the_strategys_own_position_and_orders() {
    let mut budgets = [StrategyBudget::default(); 16];
    budgets[0] = StrategyBudget {
        strategy: 2,
        max_notional: usd("500"),
    };
    let mut rig = Rig::new(RiskLimits {
        strategy_budgets: budgets,
        ..wide()
    });
    // Strategy 1 holds 600 of exposure; strategy 2's budget does not see it.
    position_and_open_order(&mut rig);
    let first = rig.limit(S2, Side::Buy, "0.005", "59000");
    rig.place(first);
    // 0.005 resting + 0.003 = 0.008 × 60 000 = 480.
    let inside = rig.limit(S2, Side::Buy, "0.003", "59100");
    rig.place(inside);
    let over = rig.limit(S2, Side::Buy, "0.0004", "59100");
    let event = rig.refused_with(over, codes::STRATEGY_BUDGET, "504", "500");
    assert_eq!(event.strategy, S2);
    // Strategy 1 runs on the (wide) default budget.
    let other = rig.limit(S1, Side::Buy, "0.0004", "59100");
    rig.place(other);
    rig.assert_rejects_counted(codes::STRATEGY_BUDGET, 1);
}

#[test]
fn order_rate_refuses_past_the_window_count_until_the_window_moves() {
    let mut rig = Rig::new(RiskLimits {
        max_orders_per_window: 3,
        order_rate_window_ms: 60_000,
        ..wide()
    });
    let first_ns = rig.now;
    for price in ["59000", "59001", "59002"] {
        let order = rig.limit(S1, Side::Buy, "0.001", price);
        rig.place(order);
        rig.now += MS;
    }
    let fourth = rig.limit(S1, Side::Buy, "0.001", "59003");
    rig.refused_with(fourth, codes::ORDER_RATE, "3", "3");
    // A minute after the first order it has left the window.
    rig.advance((first_ns + 60_000 * MS - rig.now) / MS);
    let later = rig.limit(S1, Side::Buy, "0.001", "59004");
    rig.place(later);
    rig.assert_rejects_counted(codes::ORDER_RATE, 1);
}

#[test]
fn cancel_rate_refuses_past_the_window_count_and_the_order_stays() {
    let mut rig = Rig::new(RiskLimits {
        max_cancels_per_window: 2,
        cancel_rate_window_ms: 60_000,
        ..wide()
    });
    let mut ids = Vec::new();
    for price in ["59000", "59001", "59002"] {
        let order = rig.limit(S1, Side::Buy, "0.001", price);
        ids.push(rig.place(order));
    }
    for &id in &ids[..2] {
        let cancel = rig.cancel(S1, id);
        let told = updates(&rig.send(cancel));
        assert!(
            told.iter()
                .any(|u| u.client_order_id == id && u.status == OrderStatus::Canceled),
            "cancelled at the venue: {told:#?}"
        );
    }
    let third = rig.cancel(S1, ids[2]);
    let event = rig.refused_with(third, codes::CANCEL_RATE, "2", "2");
    assert_eq!(event.client_order_id, ids[2], "the record names the order");
    assert_eq!(rig.status(ids[2]), OrderStatus::New, "still working");
    assert_eq!(rig.stage.venue().open_orders(), 1);
    rig.assert_rejects_counted(codes::CANCEL_RATE, 1);
}

#[test]
fn price_band_passes_at_the_band_edge_and_refuses_beyond_it() {
    let mut rig = Rig::new(RiskLimits {
        price_band_bps: 100,
        ..wide()
    });
    // Mid 60 000; 100 bps = 600.
    let at_edge = rig.limit(S1, Side::Buy, "0.001", "59400");
    rig.place(at_edge);
    let beyond = rig.limit(S1, Side::Buy, "0.001", "59300");
    // 700 from the mid: 116.7 bps, reported in whole bps.
    rig.refused_with(beyond, codes::PRICE_BAND, "116", "100");
    rig.assert_rejects_counted(codes::PRICE_BAND, 1);
}

#[test]
fn max_open_orders_of_all_symbols_refuses_until_one_ends() {
    let mut rig = Rig::new(RiskLimits {
        max_open_orders: 3,
        ..wide()
    });
    let mut ids = Vec::new();
    for price in ["59000", "59001", "59002"] {
        let order = rig.limit(S1, Side::Buy, "0.001", price);
        ids.push(rig.place(order));
    }
    let fourth = rig.limit(S2, Side::Buy, "0.001", "59003");
    rig.refused_with(fourth, codes::MAX_OPEN_ORDERS, "3", "3");
    let cancel = rig.cancel(S1, ids[0]);
    rig.send(cancel);
    assert_eq!(rig.status(ids[0]), OrderStatus::Canceled);
    let again = rig.limit(S2, Side::Buy, "0.001", "59003");
    rig.place(again);
    rig.assert_rejects_counted(codes::MAX_OPEN_ORDERS, 1);
}

#[test]
fn max_open_orders_per_symbol_refuses_until_one_ends() {
    let mut rig = Rig::new(RiskLimits {
        max_open_orders_per_symbol: 2,
        ..wide()
    });
    let first = rig.limit(S1, Side::Buy, "0.001", "59000");
    let first = rig.place(first);
    let second = rig.limit(S2, Side::Buy, "0.001", "59001");
    rig.place(second);
    let third = rig.limit(S1, Side::Buy, "0.001", "59002");
    rig.refused_with(third, codes::MAX_OPEN_ORDERS_SYMBOL, "2", "2");
    let cancel = rig.cancel(S1, first);
    rig.send(cancel);
    let again = rig.limit(S1, Side::Buy, "0.001", "59002");
    rig.place(again);
    rig.assert_rejects_counted(codes::MAX_OPEN_ORDERS_SYMBOL, 1);
}

#[test]
fn duplicate_intent_is_refused_by_sequence_and_by_terms_within_the_window() {
    let mut rig = Rig::new(RiskLimits {
        duplicate_window_ms: 1_000,
        ..wide()
    });
    let original = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(original);
    // The same intent again (a strategy replaying its output).
    rig.refused_with(original, codes::DUPLICATE_INTENT, "0", "0");
    // The same terms under a new sequence number, half a window later.
    rig.advance(500);
    let same_terms = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.refused(same_terms, codes::DUPLICATE_INTENT);
    // Another strategy may send the same order.
    let other = rig.limit(S2, Side::Buy, "0.001", "59000");
    rig.place(other);
    // A full window after the approval the terms are free again.
    rig.advance(500);
    let later = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(later);
    assert_eq!(rig.stage.venue().open_orders(), 3);
    rig.assert_rejects_counted(codes::DUPLICATE_INTENT, 2);
}

#[test]
fn stale_market_data_refuses_once_the_book_is_older_than_the_limit() {
    let mut rig = Rig::new(RiskLimits {
        max_market_data_age_ms: 2_000,
        ..wide()
    });
    let quoted_ns = rig.now;
    rig.advance(2_000);
    assert_eq!(rig.now - quoted_ns, 2_000 * MS);
    let at_limit = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(at_limit);
    rig.now += MS;
    let stale = rig.limit(S1, Side::Buy, "0.001", "59001");
    rig.refused_with(stale, codes::STALE_MARKET_DATA, "2001", "2000");
    rig.requote();
    let fresh = rig.limit(S1, Side::Buy, "0.001", "59001");
    rig.place(fresh);
    rig.assert_rejects_counted(codes::STALE_MARKET_DATA, 1);
}

#[test]
fn an_invalid_book_refuses_entries_until_the_book_is_synced_again() {
    let mut rig = Rig::new(RiskLimits {
        max_market_data_age_ms: 5_000,
        ..wide()
    });
    rig.invalid_book();
    let during_resync = rig.limit(S1, Side::Buy, "0.001", "59000");
    // Fresh (0 ms old) but invalid.
    rig.refused_with(during_resync, codes::STALE_MARKET_DATA, "0", "5000");
    rig.requote();
    let synced = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(synced);
    rig.assert_rejects_counted(codes::STALE_MARKET_DATA, 1);
}

#[test]
fn kill_switch_halts_everything_and_cancels_until_the_operator_resumes() {
    let mut rig = Rig::new(wide());
    let entry = rig.market_order(S1, Side::Buy, "0.002");
    rig.place(entry);
    let resting = rig.limit(S1, Side::Buy, "0.001", "59000");
    let resting = rig.place(resting);
    let outcome = rig.command(ControlCommand::Kill {
        cancel_all: true,
        flatten: false,
    });
    assert_eq!(outcome, ControlOutcome::Done);
    assert_last_transition(
        &rig,
        TradingMode::Active,
        TradingMode::Halted,
        codes::CAUSE_KILL_SWITCH,
    );
    assert_eq!(rig.status(resting), OrderStatus::Canceled, "cancel_all");
    let entry = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.refused_with(entry, codes::HALTED, "0", "0");
    // Even an order that only shrinks the position waits for the operator.
    let exit = rig.market_order(S1, Side::Sell, "0.001");
    rig.refused(exit, codes::HALTED);
    rig.assert_rejects_counted(codes::HALTED, 2);
    assert_eq!(rig.metric("trading_mode"), 2.0);
    assert_eq!(rig.metric("kill_switch_active"), 1.0);
    // Time does not clear it; the operator does.
    rig.advance_quoting(5_000);
    assert_eq!(rig.mode(), TradingMode::Halted);
    assert_eq!(rig.command(ControlCommand::Resume), ControlOutcome::Done);
    assert_last_transition(
        &rig,
        TradingMode::Halted,
        TradingMode::Active,
        codes::CAUSE_OPERATOR_RESUME,
    );
    let entry = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(entry);
    rig.publish();
    assert_eq!(rig.metric("trading_mode"), 0.0);
    assert_eq!(rig.metric("kill_switch_active"), 0.0);
}

/// The latency breaker (soft, no recovery within the test) tripped by ten slow orders.
fn slow_orders_trip_soft() -> RiskLimits {
    RiskLimits {
        max_tick_to_order_p99_us: 50,
        latency_window: 10,
        soft_recovery_ms: 60_000,
        ..wide()
    }
}

/// Buys 0.01 BTC, then ten slow tick-to-order samples put the stage in reduce-only.
fn hold_then_reduce_only(rig: &mut Rig) {
    let entry = rig.market_order(S1, Side::Buy, "0.01");
    rig.place(entry);
    assert_eq!(rig.position(), q("0.01"));
    for _ in 0..10 {
        rig.stage.on_tick_to_order(100_000);
    }
    rig.advance_quoting(100);
    assert_last_transition(
        rig,
        TradingMode::Active,
        TradingMode::ReduceOnly,
        codes::CAUSE_LATENCY,
    );
}

#[test]
fn reduce_only_after_a_soft_breach_refuses_growth_and_lets_a_position_shrink() {
    let mut rig = Rig::new(slow_orders_trip_soft());
    hold_then_reduce_only(&mut rig);
    let grow = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.refused_with(grow, codes::REDUCE_ONLY, "0", "0");
    let shrink = rig.market_order(S1, Side::Sell, "0.004");
    rig.place(shrink);
    assert_eq!(rig.position(), q("0.006"));
    // Selling more than is held would open a short: growth.
    let flip = rig.market_order(S2, Side::Sell, "0.007");
    rig.refused(flip, codes::REDUCE_ONLY);
    rig.assert_rejects_counted(codes::REDUCE_ONLY, 2);
    assert_eq!(rig.metric("trading_mode"), 1.0);
}

#[test]
fn a_disabled_strategy_is_refused_while_the_others_trade() {
    let mut rig = Rig::new(wide());
    let outcome = rig.command(ControlCommand::SetStrategyMode {
        strategy: S2,
        mode: StrategyMode::Disabled,
    });
    assert_eq!(outcome, ControlOutcome::Done);
    let recorded = rig.risk_records(codes::EVENT_STRATEGY_MODE);
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].strategy, recorded[0].observed),
        (S2, usd("1")),
        "journaled: strategy 2 → disabled"
    );
    let refused = rig.limit(S2, Side::Buy, "0.001", "59000");
    rig.refused_with(refused, codes::STRATEGY_DISABLED, "0", "0");
    let other = rig.limit(S1, Side::Buy, "0.001", "59000");
    rig.place(other);
    assert_eq!(
        rig.command(ControlCommand::SetStrategyMode {
            strategy: StrategyId(9),
            mode: StrategyMode::Disabled,
        }),
        ControlOutcome::UnknownStrategy
    );
    rig.command(ControlCommand::SetStrategyMode {
        strategy: S2,
        mode: StrategyMode::Enabled,
    });
    let enabled = rig.limit(S2, Side::Buy, "0.001", "59001");
    rig.place(enabled);
    rig.assert_rejects_counted(codes::STRATEGY_DISABLED, 1);
}

#[test]
fn dry_run_checks_every_rail_journals_and_never_reaches_the_venue() {
    let mut rig = Rig::new(RiskLimits {
        max_order_notional: usd("1000"),
        ..wide()
    });
    rig.command(ControlCommand::SetStrategyMode {
        strategy: S1,
        mode: StrategyMode::DryRun,
    });
    let dry = rig.limit(S1, Side::Buy, "0.01", "59000");
    let event = rig.refused(dry, codes::DRY_RUN);
    assert_eq!(event.observed, usd("590"), "the notional it would have had");
    assert_eq!(rig.stage.venue().open_orders(), 0);
    assert_eq!(rig.stage.manager().open_orders().count(), 0);
    // The rails still run in front of it.
    let too_large = rig.limit(S1, Side::Buy, "0.02", "59000");
    rig.refused_with(too_large, codes::NOTIONAL_TOO_LARGE, "1180", "1000");
    // Strategy 2 trades for real.
    let live = rig.limit(S2, Side::Buy, "0.01", "59000");
    rig.place(live);
    assert_eq!(rig.stage.venue().open_orders(), 1);
    rig.assert_rejects_counted(codes::DRY_RUN, 1);
    assert_eq!(rig.rejects_metric(codes::NOTIONAL_TOO_LARGE), 1.0);
}

#[test]
fn reduce_only_counts_resting_sells_against_the_position() {
    let mut rig = Rig::new(slow_orders_trip_soft());
    hold_then_reduce_only(&mut rig);
    // A take-profit sell for 0.006 of the 0.01 held rests above the market.
    let first = rig.limit(S1, Side::Sell, "0.006", "61000");
    let first = rig.place(first);
    assert_eq!(rig.status(first), OrderStatus::New);
    // Another 0.006 would sell 0.012 of 0.01: past flat, so it does not shrink.
    let second = rig.limit(S2, Side::Sell, "0.006", "61000");
    rig.refused(second, codes::REDUCE_ONLY);
    // What is left of the position may still go.
    let rest = rig.limit(S2, Side::Sell, "0.004", "61000");
    rig.place(rest);
    rig.assert_rejects_counted(codes::REDUCE_ONLY, 1);
}
