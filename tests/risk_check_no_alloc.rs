//! The risk rails on the hot path allocate nothing: after warm-up, intents through the real
//! order stage — approved ones reaching the paper venue, refused ones at every kind of
//! limit, cancels — make no heap allocation on the order thread.

mod alloc_support;
mod risk_support;

use alloc_support::{thread_allocs, CountingAlloc};
use kestrel::core::{IntentAction, Notional, OrderIntent, Side};
use kestrel::risk::{codes, RiskLimits};
use risk_support::{limit, market, Rig};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn checking_approving_and_refusing_intents_does_not_allocate() {
    let limits = RiskLimits {
        max_order_notional: Notional::from_int(1_000),
        max_symbol_exposure: Notional::from_int(3_000),
        max_orders_per_window: 4_000,
        max_open_orders: 4_000,
        max_open_orders_per_symbol: 4_000,
        duplicate_window_ms: 50,
        ..RiskLimits::default()
    };
    let mut rig = Rig::new(limits, "1000000");
    let intents = [
        limit(Side::Buy, "59000", "0.001"), // rests: approved
        limit(Side::Buy, "59500", "0.002"), // rests: approved
        limit(Side::Buy, "59000", "0.1"),   // 5900: notional too large
        limit(Side::Buy, "50000", "0.001"), // price band
        market(Side::Buy, "0.00001"),       // notional too small
        OrderIntent {
            action: IntentAction::CancelAll,
            ..limit(Side::Buy, "0", "0")
        },
    ];
    let run = |rig: &mut Rig, rounds: usize| {
        for round in 0..rounds {
            rig.book("59999.99", "60000.00"); // fresh market data: no stale refusals
            for intent in &intents {
                rig.send(*intent);
            }
            if round % 8 == 7 {
                rig.exec.clear();
                rig.journal.clear();
            }
        }
    };
    run(&mut rig, 16); // warm-up: tables, outboxes, the venue's book
    rig.exec.reserve(4096);
    rig.journal.reserve(4096);
    let before = thread_allocs();
    run(&mut rig, 64);
    let allocated = thread_allocs() - before;
    assert_eq!(allocated, 0, "the order path allocated {allocated} times");
    let (counts, total) = rig.stage.rails().rejects();
    assert!(total > 64 * 3, "the refusals were exercised: {total}");
    let large = codes::REJECT_CODES
        .iter()
        .position(|&c| c == codes::NOTIONAL_TOO_LARGE)
        .expect("listed");
    let named: Vec<_> = codes::REJECT_CODES
        .iter()
        .zip(counts.iter())
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (codes::name(*c), *n))
        .collect();
    assert!(counts[large] >= 64, "{named:?}");
}
