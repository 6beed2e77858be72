//! Breach handling on the real order stage (risk rails → order manager → paper venue): a
//! soft breach cancels exactly the resting entries, tightens the protective stop as
//! configured, goes reduce-only and recovers by itself; a critical breach halts, flattens
//! when configured and stays halted until the operator resumes; two strategies sending
//! conflicting intents at once never pass the symbol cap together.

mod risk_support;

use kestrel::core::{Notional, OrderRole, OrderStatus, OrderType, Side, StrategyId};
use kestrel::engine::control::{ControlCommand, ControlOutcome};
use kestrel::engine::JournalMsg;
use kestrel::risk::{codes, RiskLimits, TradingMode};
use risk_support::{limit, market, p, q, Rig, MS};

const ACTIVE: u8 = TradingMode::Active as u8;
const REDUCE_ONLY: u8 = TradingMode::ReduceOnly as u8;
const HALTED: u8 = TradingMode::Halted as u8;

/// A bracketed 0.01 BTC position (stop 59900, take-profit 60100) and a resting limit entry.
fn position_with_bracket_and_resting_entry(rig: &mut Rig) {
    rig.send(kestrel::core::OrderIntent {
        stop_loss: p("59900"),
        take_profit: p("60100"),
        ..market(Side::Buy, "0.01")
    });
    assert_eq!(rig.position(), q("0.01"));
    rig.send(limit(Side::Buy, "59000", "0.01"));
    let open: Vec<_> = rig.stage.manager().open_orders().copied().collect();
    assert_eq!(open.len(), 3, "stop, take-profit, resting entry: {open:#?}");
}

fn stop_leg(rig: &Rig) -> kestrel::core::OrderUpdate {
    *rig.stage
        .manager()
        .open_orders()
        .find(|o| o.role == OrderRole::StopLoss)
        .expect("a live stop")
}

#[test]
fn soft_breach_cancels_only_entries_tightens_the_stop_goes_reduce_only_and_recovers() {
    let limits = RiskLimits {
        max_tick_to_order_p99_us: 1_000,
        latency_window: 4,
        soft_stop_tighten_pct: 50,
        soft_recovery_ms: 1_000,
        ..RiskLimits::non_binding()
    };
    let mut rig = Rig::new(limits, "10000");
    position_with_bracket_and_resting_entry(&mut rig);
    assert_eq!(stop_leg(&rig).trigger_price, p("59900"));
    let resting = rig
        .stage
        .manager()
        .open_orders()
        .find(|o| o.role == OrderRole::Entry)
        .map(|o| o.client_order_id)
        .expect("resting entry");
    let from = rig.exec.len();

    // Four slow orders: the latency breaker (soft) trips at the next evaluation.
    for _ in 0..4 {
        kestrel::engine::stage::OrderStage::on_tick_to_order(&mut rig.stage, 5 * MS);
    }
    rig.wait_ms(200);
    assert_eq!(
        rig.transitions(),
        vec![(ACTIVE, REDUCE_ONLY, codes::CAUSE_LATENCY)]
    );
    assert_eq!(rig.metric("health_state"), 1.0);
    assert_eq!(rig.metric("trading_mode"), 1.0);
    assert_eq!(rig.metric("risk_breaker_tripped{breaker=\"latency\"}"), 1.0);

    // Exactly the resting entry was cancelled; the bracket was replaced, never dropped for
    // good: a stop is live again, moved half-way from 59900 to the 59999.995 mid (floored
    // onto the 0.01 tick, away from the price), the take-profit where it was.
    let cancelled: Vec<_> = rig
        .updates_since(from)
        .into_iter()
        .filter(|u| u.status == OrderStatus::Canceled)
        .collect();
    assert!(cancelled
        .iter()
        .any(|u| u.client_order_id == resting && u.role == OrderRole::Entry));
    assert!(
        cancelled
            .iter()
            .all(|u| u.role != OrderRole::Entry || u.client_order_id == resting),
        "only the resting entry: {cancelled:#?}"
    );
    let stop = stop_leg(&rig);
    assert_eq!(stop.trigger_price, p("59949.99"));
    assert_eq!(stop.qty, q("0.01"), "the whole position stays protected");
    let take = rig
        .stage
        .manager()
        .open_orders()
        .find(|o| o.role == OrderRole::TakeProfit)
        .copied()
        .expect("take-profit still live");
    assert_eq!(take.price, p("60100"));
    assert_eq!(rig.position(), q("0.01"), "a soft breach closes nothing");

    // Reduce-only: a new entry is refused with its code.
    rig.send(limit(Side::Buy, "59500", "0.01"));
    assert_eq!(rig.last_reject(), codes::REDUCE_ONLY);

    // The latency clears; the soft state holds for the recovery time, then lifts.
    for _ in 0..4 {
        kestrel::engine::stage::OrderStage::on_tick_to_order(&mut rig.stage, 10_000);
    }
    rig.wait_ms(500);
    assert_eq!(rig.transitions().len(), 1, "still reduce-only after 0.5 s");
    rig.wait_ms(1_000);
    assert_eq!(
        rig.transitions().last(),
        Some(&(REDUCE_ONLY, ACTIVE, codes::CAUSE_SOFT_RECOVERED))
    );
    assert_eq!(rig.metric("health_state"), 0.0);
    let sent_before = rig.stage.manager().counters().orders_sent;
    rig.send(limit(Side::Buy, "59500", "0.01"));
    assert_eq!(rig.stage.manager().counters().orders_sent, sent_before + 1);
}

#[test]
fn critical_breach_halts_flattens_and_only_resume_lets_entries_through() {
    let limits = RiskLimits {
        equity_floor: Notional::from_int(9_950),
        flatten_on_critical: true,
        ..RiskLimits::non_binding()
    };
    let mut rig = Rig::new(limits, "10000");
    position_with_bracket_and_resting_entry(&mut rig);
    rig.wait_ms(200);
    assert!(
        rig.transitions().is_empty(),
        "equity ~9999 is above the floor"
    );

    // The price gaps down 15 %: 0.01 BTC loses ~90 USDT, equity falls below 9950. The
    // stop-limit leg triggers but its limit (25 bps under 59900) is far above the book: it
    // rests unfilled, and the flatten must cancel it before it can sell.
    rig.book("51000.00", "51000.01");
    rig.wait_ms(300);
    assert_eq!(
        rig.transitions().first(),
        Some(&(ACTIVE, HALTED, codes::CAUSE_EQUITY_FLOOR))
    );
    assert_eq!(rig.metric("health_state"), 2.0);
    assert_eq!(rig.metric("risk_equity_floor_breach"), 1.0);
    assert_eq!(rig.position(), q("0"), "flattened");
    assert_eq!(
        rig.stage.manager().open_orders().count(),
        0,
        "resting entry cancelled, bracket gone with the position"
    );

    // Entries are refused; the breaker clearing (the operator lowers the floor) changes
    // nothing: a critical halt waits for the operator.
    rig.send(limit(Side::Buy, "50000", "0.001"));
    assert_eq!(rig.last_reject(), codes::HALTED);
    let relaxed = RiskLimits {
        equity_floor: Notional::from_int(1_000),
        ..RiskLimits::non_binding()
    };
    assert_eq!(
        rig.command(ControlCommand::ReloadLimits(Box::new(relaxed))),
        ControlOutcome::Done
    );
    rig.wait_ms(1_000);
    rig.send(limit(Side::Buy, "50000", "0.001"));
    assert_eq!(rig.last_reject(), codes::HALTED, "no timer clears a halt");
    assert_eq!(rig.command(ControlCommand::Resume), ControlOutcome::Done);
    assert_eq!(
        rig.transitions().last(),
        Some(&(HALTED, ACTIVE, codes::CAUSE_OPERATOR_RESUME))
    );
    let sent_before = rig.stage.manager().counters().orders_sent;
    rig.send(limit(Side::Buy, "50000", "0.001"));
    assert_eq!(rig.stage.manager().counters().orders_sent, sent_before + 1);
}

#[test]
fn kill_switch_cancels_everything_and_flattens_and_is_journaled() {
    let mut rig = Rig::new(RiskLimits::non_binding(), "10000");
    position_with_bracket_and_resting_entry(&mut rig);
    let outcome = rig.command(ControlCommand::Kill {
        cancel_all: true,
        flatten: true,
    });
    assert_eq!(outcome, ControlOutcome::Done);
    rig.settle();
    assert_eq!(
        rig.transitions(),
        vec![(ACTIVE, HALTED, codes::CAUSE_KILL_SWITCH)]
    );
    assert_eq!(rig.stage.manager().open_orders().count(), 0);
    assert_eq!(rig.position(), q("0"));
    assert_eq!(rig.metric("kill_switch_active"), 1.0);
    rig.send(limit(Side::Buy, "59000", "0.001"));
    assert_eq!(rig.last_reject(), codes::HALTED);
    // The refusal is journaled as a risk event with its code.
    assert!(rig.journal.iter().any(|m| matches!(
        m,
        JournalMsg::Risk { event, .. } if event.code == codes::HALTED
    )));
}

/// Deterministic pseudo-random numbers (xorshift), so the interleaving is reproducible.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn two_strategies_with_conflicting_simultaneous_intents_never_pass_the_symbol_cap_together() {
    let cap = Notional::from_int(1_500);
    let limits = RiskLimits {
        max_symbol_exposure: cap,
        ..RiskLimits::non_binding()
    };
    let mut rig = Rig::new(limits, "100000");
    let mid = p("59999.995");
    let mut random = Sequence(0x9E37_79B9_7F4A_7C15);
    let (mut approved, mut refused_at_cap) = (0, 0);
    for round in 0..150 {
        // Both strategies decide on the same tick, one buying, one selling or both buying;
        // some orders rest (limits away from the touch), some take (markets).
        for strategy in [StrategyId(1), StrategyId(2)] {
            let r = random.next();
            let side = if r % 3 == 0 { Side::Sell } else { Side::Buy };
            let qty = ["0.004", "0.007", "0.011", "0.013"][(r >> 8) as usize % 4];
            let mut intent = if (r >> 16) % 2 == 0 {
                market(side, qty)
            } else {
                let price = if side == Side::Buy { "59900" } else { "60100" };
                limit(side, price, qty)
            };
            intent.strategy = strategy;
            let sent = rig.stage.manager().counters().orders_sent;
            rig.send(intent);
            if rig.stage.manager().counters().orders_sent > sent {
                approved += 1;
            } else if rig.last_reject() == codes::EXPOSURE_SYMBOL_CAP {
                refused_at_cap += 1;
            }
        }
        // Now and then a strategy cancels its resting orders, freeing room.
        if round % 10 == 9 {
            for strategy in [StrategyId(1), StrategyId(2)] {
                rig.send(kestrel::core::OrderIntent {
                    action: kestrel::core::IntentAction::CancelAll,
                    strategy,
                    order_type: OrderType::Limit,
                    ..limit(Side::Buy, "0", "0")
                });
            }
        }
        // The invariant, recomputed from the manager's orders and the portfolio, not from
        // the rails' own book: the position plus every open order on either side, at the
        // mid, stays within the cap.
        let position = rig.position();
        let (mut buys, mut sells) = (q("0"), q("0"));
        for order in rig.stage.manager().open_orders() {
            let remaining = order.qty.saturating_sub(order.filled_qty);
            if order.role != OrderRole::Entry || order.reduce_only {
                continue; // bracket legs only close
            }
            match order.side {
                Side::Buy => buys = buys.saturating_add(remaining),
                Side::Sell => sells = sells.saturating_add(remaining),
            }
        }
        let worst = position
            .saturating_add(buys)
            .abs()
            .max(position.saturating_sub(sells).abs());
        let gross = mid.notional(worst).expect("fits");
        assert!(
            gross <= cap,
            "round {round}: {gross} over the {cap} cap (position {position}, buys {buys}, sells {sells})"
        );
    }
    assert!(approved > 20, "the strategies did trade: {approved}");
    assert!(refused_at_cap > 5, "the cap did bind: {refused_at_cap}");
}
