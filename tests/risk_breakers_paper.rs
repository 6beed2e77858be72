//! Every breaker on the real order stage (rails → order manager → paper venue, bundled
//! BTCUSDT), tripped by what it watches — equity marked down by market data, drawdowns from
//! the all-time and the UTC day's high-water mark, orders the paper venue refuses, silence
//! on the feed, slow tick-to-order samples: the journaled transition with its cause, the
//! breaker, health and mode gauges, entries refused, and then the way out — a soft breach
//! recovers by itself once clear for `soft_recovery_ms`, a critical one stays halted until
//! the operator resumes.

mod risk_stage_support;
mod risk_support;

use kestrel::core::{OrderStatus, Side};
use kestrel::engine::control::{ControlCommand, ControlOutcome};
use kestrel::engine::stage::OrderStage;
use kestrel::risk::{codes, Breaker, RiskLimits, TradingMode};
use risk_stage_support::{
    assert_last_transition, q, updates, wide, Rig, MS, RISK_STEP_MS, S1, START_NS,
};

const DAY_NS: u64 = 86_400_000_000_000;

/// Buys 0.015 BTC at market (60 000.01, fee 0.1 % in USDT): 1 000 USDT becomes
/// 99.0998 USDT + 0.015 BTC, worth 999.10 at the 60 000 mid.
fn buy_position(rig: &mut Rig) {
    let entry = rig.market_order(S1, Side::Buy, "0.015");
    rig.place(entry);
    assert_eq!(rig.position(), q("0.015"));
}

/// Sends a buy the rails pass and the paper venue refuses for want of USDT.
fn venue_refuses(rig: &mut Rig) {
    let too_dear = rig.limit(S1, Side::Buy, "0.02", "59000");
    let told = updates(&rig.send(too_dear));
    assert!(
        told.iter().any(|u| u.client_order_id.0 != 0
            && u.status == OrderStatus::Rejected
            && !(300..400).contains(&u.reject_code)),
        "the venue, not the rails, refused it: {told:#?}"
    );
}

/// A resting buy the venue takes (an `Accepted`); returns its id.
fn venue_takes(rig: &mut Rig, price: &str) -> kestrel::core::ClientOrderId {
    let resting = rig.limit(S1, Side::Buy, "0.001", price);
    rig.place(resting)
}

/// The last transition went from active to `mode` for `cause`; after a publish the
/// breaker's gauge is 1 and health (soft 1, critical 2) and mode gauges follow.
fn assert_tripped(rig: &mut Rig, mode: TradingMode, cause: u16) {
    assert_last_transition(rig, TradingMode::Active, mode, cause);
    rig.publish();
    assert_eq!(rig.breaker_metric(cause), 1.0, "{}", codes::name(cause));
    let level = match mode {
        TradingMode::ReduceOnly => 1.0,
        _ => 2.0,
    };
    assert_eq!(rig.metric("health_state"), level);
    assert_eq!(rig.metric("trading_mode"), level);
}

fn assert_entries_refused(rig: &mut Rig, code: u16) {
    let entry = rig.passive_buy(S1, "0.001");
    rig.refused(entry, code);
}

/// Keeps the feed alive for `ms` and asserts the mode stays `mode` with no new transition.
fn assert_holds(rig: &mut Rig, ms: u64, mode: TradingMode) {
    let before = rig.transitions().len();
    rig.advance_quoting(ms);
    assert_eq!(rig.mode(), mode);
    assert_eq!(rig.transitions().len(), before, "{:#?}", rig.transitions());
}

/// A soft breach whose breakers are clear since the last evaluation: still reduce-only one
/// step before `soft_recovery_ms`, active (journaled `soft_recovered`) at it; entries pass
/// and the gauges are back.
fn assert_soft_recovery(rig: &mut Rig, breaker: Breaker) {
    assert!(!rig.tripped(breaker), "{breaker:?} clear");
    let recovery_ms = rig.stage.rails().limits().soft_recovery_ms;
    assert_holds(rig, recovery_ms - RISK_STEP_MS, TradingMode::ReduceOnly);
    rig.advance_quoting(RISK_STEP_MS);
    assert_last_transition(
        rig,
        TradingMode::ReduceOnly,
        TradingMode::Active,
        codes::CAUSE_SOFT_RECOVERED,
    );
    let entry = rig.passive_buy(S1, "0.001");
    rig.place(entry);
    rig.publish();
    assert_eq!(rig.breaker_metric(breaker.cause()), 0.0);
    assert_eq!(rig.metric("health_state"), 0.0);
    assert_eq!(rig.metric("trading_mode"), 0.0);
    assert_eq!(rig.metric("health_transitions_total"), 2.0);
}

/// A critical halt that outlives its cause: clear breakers for a while change nothing, the
/// operator's resume does.
fn assert_halt_until_resume(rig: &mut Rig, breaker: Breaker) {
    assert_holds(rig, 5_000, TradingMode::Halted);
    assert!(!rig.tripped(breaker));
    assert_entries_refused(rig, codes::HALTED);
    assert_eq!(rig.command(ControlCommand::Resume), ControlOutcome::Done);
    assert_last_transition(
        rig,
        TradingMode::Halted,
        TradingMode::Active,
        codes::CAUSE_OPERATOR_RESUME,
    );
    assert_holds(rig, 1_000, TradingMode::Active);
    let entry = rig.passive_buy(S1, "0.001");
    rig.place(entry);
    rig.publish();
    assert_eq!(rig.breaker_metric(breaker.cause()), 0.0);
    assert_eq!(rig.metric("health_state"), 0.0);
    assert_eq!(rig.metric("trading_mode"), 0.0);
}

#[test]
fn equity_floor_halts_when_a_position_is_marked_below_it_until_resume() {
    let mut rig = Rig::with(
        RiskLimits {
            equity_floor: kestrel::core::Notional::from_int(800),
            ..wide()
        },
        "1000",
        0,
    );
    buy_position(&mut rig);
    // 99.10 + 0.015 × 50 000 = 849.10: above the floor.
    rig.quote("50000");
    assert_holds(&mut rig, 500, TradingMode::Active);
    // 99.10 + 0.015 × 40 000 = 699.10.
    rig.quote("40000");
    rig.advance_quoting(RISK_STEP_MS);
    let reading = rig.stage.rails().breakers().reading(Breaker::EquityFloor);
    assert!((reading.observed - 699.0998).abs() < 0.001, "{reading:?}");
    assert_tripped(&mut rig, TradingMode::Halted, codes::CAUSE_EQUITY_FLOOR);
    assert_eq!(rig.metric("risk_equity_floor_breach"), 1.0);
    assert_eq!(rig.metric("risk_equity_buffer_usd"), 0.0);
    assert_entries_refused(&mut rig, codes::HALTED);
    // Halted refuses even an order that only shrinks the position.
    let exit = rig.market_order(S1, Side::Sell, "0.005");
    rig.refused(exit, codes::HALTED);
    // The price comes back: the breaker clears, the halt stays.
    rig.quote("60000");
    assert_halt_until_resume(&mut rig, Breaker::EquityFloor);
}

#[test]
fn total_drawdown_from_the_high_water_mark_halts_until_resume() {
    let mut rig = Rig::with(
        RiskLimits {
            max_drawdown_pct: 20,
            ..wide()
        },
        "1000",
        0,
    );
    buy_position(&mut rig);
    // High-water mark 1 000 (before the fee). 99.10 + 705 = 804.10: 19.6 % down.
    rig.quote("47000");
    assert_holds(&mut rig, 500, TradingMode::Active);
    // 99.10 + 690 = 789.10: 21.1 % down.
    rig.quote("46000");
    rig.advance_quoting(RISK_STEP_MS);
    assert_tripped(&mut rig, TradingMode::Halted, codes::CAUSE_DRAWDOWN_TOTAL);
    assert_eq!(rig.metric("risk_equity_high_water_mark_usd"), 1000.0);
    let drawdown = rig.metric("risk_equity_drawdown_pct");
    assert!((drawdown - 21.09).abs() < 0.01, "{drawdown}");
    let marks = rig.risk_records(codes::EVENT_HIGH_WATER_MARK);
    assert_eq!(
        marks.last().map(|m| m.observed),
        Some(kestrel::core::Notional::from_int(1000)),
        "the high-water mark is journaled for restarts"
    );
    assert_entries_refused(&mut rig, codes::HALTED);
    rig.quote("60000");
    assert_halt_until_resume(&mut rig, Breaker::DrawdownTotal);
}

#[test]
fn daily_drawdown_goes_reduce_only_and_the_next_utc_day_starts_a_new_mark() {
    // The UTC day turns 20 s into the test.
    let boundary_ns = START_NS + 20_000 * MS;
    let wall_offset_ns = i128::from(19_950 * DAY_NS) - i128::from(boundary_ns);
    let mut rig = Rig::with(
        RiskLimits {
            max_daily_drawdown_pct: 10,
            soft_recovery_ms: 2_000,
            ..wide()
        },
        "1000",
        wall_offset_ns,
    );
    buy_position(&mut rig);
    // 99.10 + 795 = 894.10: 10.6 % below today's mark of 1 000.
    rig.quote("53000");
    rig.advance_quoting(RISK_STEP_MS);
    assert_tripped(
        &mut rig,
        TradingMode::ReduceOnly,
        codes::CAUSE_DRAWDOWN_DAILY,
    );
    let daily = rig.metric("risk_equity_daily_drawdown_pct");
    assert!((daily - 10.59).abs() < 0.01, "{daily}");
    assert_entries_refused(&mut rig, codes::REDUCE_ONLY);
    // Same day: the breach holds, however long.
    let to_boundary_ms = (boundary_ns - rig.now) / MS;
    assert_holds(
        &mut rig,
        to_boundary_ms - RISK_STEP_MS,
        TradingMode::ReduceOnly,
    );
    assert!(rig.tripped(Breaker::DrawdownDaily));
    // Midnight UTC: today's mark is today's first equity, 894.10; the breaker clears.
    rig.advance_quoting(RISK_STEP_MS);
    assert_eq!(rig.now, boundary_ns);
    assert_soft_recovery(&mut rig, Breaker::DrawdownDaily);
    assert_eq!(rig.metric("risk_equity_daily_drawdown_pct"), 0.0);
    let total = rig.metric("risk_equity_drawdown_pct");
    assert!(
        (total - 10.59).abs() < 0.01,
        "the all-time mark stays: {total}"
    );
    // A further 10 % below the new day's mark trips again: 99.10 + 0.015 × 46 500 = 796.60
    // is 10.9 % below 894.10.
    rig.quote("46500");
    rig.advance_quoting(RISK_STEP_MS);
    assert_last_transition(
        &rig,
        TradingMode::Active,
        TradingMode::ReduceOnly,
        codes::CAUSE_DRAWDOWN_DAILY,
    );
}

#[test]
fn venue_error_rate_over_the_window_goes_reduce_only_and_recovers_when_it_ages_out() {
    let mut rig = Rig::with(
        RiskLimits {
            venue_error_rate_pct: 50,
            venue_error_window_ms: 10_000,
            venue_error_min_events: 4,
            soft_recovery_ms: 2_000,
            ..wide()
        },
        "1000",
        0,
    );
    let first_outcome_ns = rig.now;
    let resting = venue_takes(&mut rig, "59000");
    venue_refuses(&mut rig);
    venue_refuses(&mut rig);
    // 2 errors of 3 outcomes: fewer than the 4 the rate needs.
    assert_holds(&mut rig, RISK_STEP_MS, TradingMode::Active);
    venue_refuses(&mut rig);
    rig.advance_quoting(RISK_STEP_MS);
    assert_eq!(
        rig.status(resting),
        OrderStatus::Canceled,
        "entries cancelled"
    );
    assert_tripped(
        &mut rig,
        TradingMode::ReduceOnly,
        codes::CAUSE_VENUE_ERROR_RATE,
    );
    assert_eq!(
        rig.metric("risk_breaker_value{breaker=\"venue_error_rate\"}"),
        75.0
    );
    assert_entries_refused(&mut rig, codes::REDUCE_ONLY);
    // The first three outcomes stay in the window for 10 s, the breach with them; then
    // one outcome is left, fewer than the rate needs.
    let in_window_ms = (first_outcome_ns + 10_000 * MS - rig.now) / MS - RISK_STEP_MS;
    assert_holds(&mut rig, in_window_ms, TradingMode::ReduceOnly);
    rig.advance_quoting(RISK_STEP_MS);
    assert_eq!(rig.now, first_outcome_ns + 10_000 * MS);
    assert_soft_recovery(&mut rig, Breaker::VenueErrorRate);
}

#[test]
fn consecutive_venue_failures_go_reduce_only_and_a_success_clears_them() {
    let mut rig = Rig::with(
        RiskLimits {
            max_consecutive_failures: 3,
            soft_recovery_ms: 2_000,
            ..wide()
        },
        "1000",
        0,
    );
    let entry = rig.market_order(S1, Side::Buy, "0.005");
    rig.place(entry);
    venue_refuses(&mut rig);
    venue_refuses(&mut rig);
    // A success in between: four failures, never three in a row.
    venue_takes(&mut rig, "59000");
    venue_refuses(&mut rig);
    venue_refuses(&mut rig);
    assert_holds(&mut rig, RISK_STEP_MS, TradingMode::Active);
    venue_refuses(&mut rig);
    rig.advance_quoting(RISK_STEP_MS);
    assert_tripped(
        &mut rig,
        TradingMode::ReduceOnly,
        codes::CAUSE_CONSECUTIVE_FAILURES,
    );
    assert_eq!(
        rig.metric("risk_breaker_value{breaker=\"consecutive_failures\"}"),
        3.0
    );
    assert_entries_refused(&mut rig, codes::REDUCE_ONLY);
    assert_holds(&mut rig, 5_000, TradingMode::ReduceOnly);
    // Reduce-only still lets the position shrink; the venue taking that order ends the run.
    let exit = rig.market_order(S1, Side::Sell, "0.001");
    rig.place(exit);
    assert_eq!(rig.position(), q("0.004"));
    rig.advance_quoting(RISK_STEP_MS);
    assert_soft_recovery(&mut rig, Breaker::ConsecutiveFailures);
}

#[test]
fn market_data_silence_goes_reduce_only_and_recovers_once_the_feed_is_back() {
    let mut rig = Rig::new(RiskLimits {
        market_data_stale_ms: 2_000,
        soft_recovery_ms: 2_000,
        ..wide()
    });
    let quoted_ns = rig.now;
    // No market event from here on: 1.9 s old is fine.
    rig.advance(1_900);
    assert_eq!(rig.mode(), TradingMode::Active);
    assert!(rig.transitions().is_empty());
    rig.advance(RISK_STEP_MS);
    assert_eq!(rig.now - quoted_ns, 2_000 * MS);
    assert_tripped(
        &mut rig,
        TradingMode::ReduceOnly,
        codes::CAUSE_MARKET_DATA_STALE,
    );
    let silent_ms = rig.metric("risk_breaker_value{breaker=\"market_data_stale\"}");
    assert!(silent_ms >= 2_000.0, "{silent_ms}");
    // The rail's own age limit is off: the breach alone refuses the entry.
    assert_entries_refused(&mut rig, codes::REDUCE_ONLY);
    rig.advance(3_000);
    assert_eq!(rig.mode(), TradingMode::ReduceOnly);
    // The feed is back.
    rig.advance_quoting(RISK_STEP_MS);
    assert_soft_recovery(&mut rig, Breaker::MarketDataStale);
}

#[test]
fn slow_tick_to_order_p99_over_a_full_window_goes_reduce_only_and_recovers() {
    let mut rig = Rig::new(RiskLimits {
        max_tick_to_order_p99_us: 50,
        latency_window: 20,
        soft_recovery_ms: 2_000,
        ..wide()
    });
    // 19 samples, one of them slow: a partial window proves nothing.
    for i in 0..19 {
        rig.stage
            .on_tick_to_order(if i == 7 { 80_000 } else { 5_000 });
    }
    assert_holds(&mut rig, RISK_STEP_MS, TradingMode::Active);
    // The 20th fills the window: its p99 is the slow one, 80 µs.
    rig.stage.on_tick_to_order(5_000);
    rig.advance_quoting(RISK_STEP_MS);
    assert_tripped(&mut rig, TradingMode::ReduceOnly, codes::CAUSE_LATENCY);
    assert_eq!(rig.metric("risk_breaker_value{breaker=\"latency\"}"), 80.0);
    assert_entries_refused(&mut rig, codes::REDUCE_ONLY);
    assert_holds(&mut rig, 5_000, TradingMode::ReduceOnly);
    // A window of fast orders.
    for _ in 0..20 {
        rig.stage.on_tick_to_order(5_000);
    }
    rig.advance_quoting(RISK_STEP_MS);
    assert_soft_recovery(&mut rig, Breaker::Latency);
}
