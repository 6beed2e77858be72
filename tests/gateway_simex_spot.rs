//! The Binance gateway against simex (spot, over TLS trusting simex's certificate): market
//! and limit orders placed by the order manager through `OmsStage<BinanceGateway,
//! PortfolioLedger>` round-trip over the WebSocket API with fills from the user-data stream;
//! a cancel ends the limit; lost acks become `StatusUnknown` and are resolved by a query
//! without a second order; a dropped connection is reported Down then Up and reconciled;
//! the manager's position and open orders equal the simulator's account.

mod gateway_support;
mod simex_support;

use std::time::{Duration, Instant};

use gateway_support::{market_order, q, Rig};
use kestrel::core::clock::mono_ns;
use kestrel::core::{Market as CoreMarket, OrderIntent, OrderStatus, Qty, Side, SymbolId};
use kestrel::engine::stage::OrderStage;
use kestrel::sim::{Market, Speed};
use simex_support::{config, start, TIMEOUT};

fn market_buy(qty: &str) -> OrderIntent {
    market_order(Side::Buy, qty)
}

#[test]
fn orders_round_trip_through_the_gateway_and_match_the_simulator() {
    let mut rig = Rig::new(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        Market::Spot,
    );

    // Market buy: acked over the WS API, filled from the user-data stream.
    rig.intent(market_buy("0.01"));
    rig.run_until("market buy filled", |s| {
        s.manager()
            .ledger()
            .portfolio()
            .position(CoreMarket::Spot, SymbolId(0))
            .is_some_and(|p| p.qty == Qty::parse("0.01").unwrap_or_default())
    });
    assert!(
        rig.stage.venue().last_wire_ns() > 0,
        "the order went over the WS API"
    );
    rig.assert_matches_venue();

    // Idle, the gateway rebuilds that order's frame to keep the path in cache, and never
    // sends it: no request goes out, the venue still holds just the one fill.
    let requests = rig.stage.venue().counters().ws_requests;
    let warmed = rig.stage.venue().counters().warm_builds;
    let idle_until = Instant::now() + Duration::from_millis(20);
    while Instant::now() < idle_until {
        rig.poll();
        std::thread::sleep(Duration::from_micros(300));
    }
    assert!(
        rig.stage.venue().counters().warm_builds > warmed,
        "warmed while idle"
    );
    assert_eq!(rig.stage.venue().counters().ws_requests, requests);
    rig.assert_matches_venue();

    // Limit sell far above the market rests, then is cancelled.
    let limit = rig.rest_and_cancel_limit_sell("0.005");
    assert_eq!(rig.status(limit), Some(OrderStatus::Canceled));
    rig.assert_matches_venue();

    // Lost ack: the order executes, the ack never comes; StatusUnknown → query → filled,
    // and the venue holds exactly one order with that client id.
    rig.handle.lose_acks(1);
    rig.intent(market_buy("0.002"));
    let lost = rig.last_submitted();
    rig.run_until("lost-ack order resolved", |s| {
        s.manager()
            .order(lost)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    // The fill came from the user-data stream; the missing ack still times out, the manager
    // queries, and nothing is placed twice.
    rig.run_until("the missing ack timed out", |s| {
        s.venue().counters().timeouts >= 1
    });
    rig.run_until("query answered", |s| {
        s.manager()
            .order(lost)
            .is_some_and(|o| o.status == OrderStatus::Filled)
            && s.manager().counters().orders_sent == 3
    });
    rig.assert_matches_venue();

    // The order connection drops mid-order: Down, reconnect, Up, reconcile; nothing doubled.
    let reconnects = rig.stage.venue().counters().reconnects;
    rig.handle.drop_order_connections(1);
    rig.intent(market_buy("0.003"));
    rig.run_until("reconnected and reconciled", |s| {
        s.venue().counters().reconnects > reconnects
            && s.venue().is_up()
            && s.manager().is_reconciled()
            && s.manager()
                .open_orders()
                .all(|o| o.status != OrderStatus::PendingNew)
    });
    let deadline = Instant::now() + TIMEOUT;
    while rig.position() != rig.venue_state().0 && Instant::now() < deadline {
        rig.stage.poll(mono_ns(), &mut rig.out);
        rig.drain();
        std::thread::sleep(Duration::from_millis(1));
    }
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn timestamp_and_rate_limit_refusals_end_in_one_fill_each() {
    let mut rig = Rig::new(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        Market::Spot,
    );

    // -1021: the gateway resyncs /time and reports Timestamp; the manager retries once with
    // the same client id, which fills.
    rig.handle.reject_timestamps(1);
    rig.intent(market_buy("0.004"));
    let first = rig.last_submitted();
    rig.run_until("-1021 order filled after the retry", |s| {
        s.manager()
            .order(first)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert_eq!(rig.stage.venue().counters().timestamp_resyncs, 1);
    assert_eq!(rig.stage.manager().counters().retries, 1);
    rig.assert_matches_venue();

    // 429 with Retry-After: refused, the tracker backs off, the manager retries after it.
    rig.handle
        .throttle(1, Duration::from_secs(1), Duration::from_secs(30));
    rig.intent(market_buy("0.006"));
    let second = rig.last_submitted();
    rig.run_until("429 order filled after Retry-After", |s| {
        s.manager()
            .order(second)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert!(rig.stage.venue().counters().venue_throttled >= 1);
    assert_eq!(rig.position(), q("0.010"), "each order filled exactly once");
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
