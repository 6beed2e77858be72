//! The Binance gateway against simex (spot, TLS) under order-side faults: duplicated and
//! reordered user-data events count no fill twice; a 418 ban makes the gateway refuse
//! orders locally as Banned until it expires, then orders fill. Each ends with the
//! manager's position and open orders equal to the simulator's account.

mod gateway_support;
mod simex_support;

use std::time::{Duration, Instant};

use gateway_support::{market_order, q, Rig};
use kestrel::core::{OrderStatus, Side};
use kestrel::oms::venue::{RejectKind, VenueReject};
use kestrel::sim::{Market, Speed};
use simex_support::orders::{params as p, Rest};
use simex_support::{config, start};

fn spot_rig() -> Rig {
    Rig::new(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        Market::Spot,
    )
}

#[test]
fn duplicated_and_reordered_user_data_events_count_each_fill_once() {
    let mut rig = spot_rig();

    rig.handle.duplicate_events(8);
    rig.intent(market_order(Side::Buy, "0.010"));
    rig.settle("duplicated events settled");
    assert_eq!(rig.position(), q("0.010"));
    assert!(
        rig.stage.manager().counters().duplicate_fills >= 1,
        "a duplicated fill was seen and ignored: {:?}",
        rig.stage.manager().counters()
    );
    rig.assert_matches_venue();

    // A partly filled order and a sell, their events delivered out of order.
    rig.handle.force_partial_fills(1);
    rig.handle.reorder_events(8);
    rig.intent(market_order(Side::Buy, "0.020"));
    let entry = rig.last_submitted();
    rig.run_until("reordered order ended", |s| {
        s.manager()
            .order(entry)
            .is_some_and(|o| o.status.is_final())
    });
    rig.intent(market_order(Side::Sell, "0.005"));
    rig.settle("reordered events settled");
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_418_ban_refuses_orders_locally_until_it_expires() {
    let mut rig = spot_rig();
    // The next request is throttled (429, Retry-After 1 s); a request sent during that
    // back-off gets the client banned. The test's own REST client triggers both; the ban is
    // long enough that the orders below reach the gateway while it lasts.
    let ban = Duration::from_secs(4);
    rig.handle.throttle(1, Duration::from_secs(1), ban);
    let rest = Rest::new(&rig.handle, Market::Spot);
    let open = p(&[("symbol", "BTCUSDT")]);
    let first = rest.signed(&rig.handle, "GET", "/api/v3/openOrders", &open);
    assert_eq!(first.status, 429, "{}", first.text);
    let second = rest.signed(&rig.handle, "GET", "/api/v3/openOrders", &open);
    assert_eq!(second.status, 418, "{}", second.text);
    let ban_ends = Instant::now() + ban + Duration::from_millis(500);

    // The venue refuses the first order with 418; the gateway learns the ban.
    rig.intent(market_order(Side::Buy, "0.010"));
    let refused = rig.last_submitted();
    rig.run_until("first order refused by the venue", |s| {
        s.manager()
            .order(refused)
            .is_some_and(|o| o.status == OrderStatus::Rejected)
    });
    assert!(rig.stage.venue().counters().venue_throttled >= 1);
    // Until the ban ends, orders are refused locally without reaching the venue.
    let local_before = rig.stage.venue().counters().rate_limited_locally;
    let sent = rig.stage.venue().counters().ws_requests;
    rig.intent(market_order(Side::Buy, "0.010"));
    let local = rig.last_submitted();
    rig.run_until("second order refused locally", |s| {
        s.manager()
            .order(local)
            .is_some_and(|o| o.status == OrderStatus::Rejected)
    });
    assert!(rig.stage.venue().counters().rate_limited_locally > local_before);
    assert_eq!(
        rig.stage.venue().counters().ws_requests,
        sent,
        "nothing sent while banned"
    );
    let banned = kestrel::oms::reject::venue_code(&VenueReject {
        kind: RejectKind::Banned,
        code: 418,
        retry_after_ms: 0,
    });
    for id in [refused, local] {
        assert_eq!(
            rig.stage.manager().order(id).map(|o| o.reject_code),
            Some(banned),
            "refused as Banned"
        );
    }
    rig.settle("nothing placed while banned");
    assert_eq!(rig.position(), q("0"));

    // After the ban: the next order fills.
    while Instant::now() < ban_ends {
        rig.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    rig.intent(market_order(Side::Buy, "0.004"));
    let after = rig.last_submitted();
    rig.run_until("order after the ban filled", |s| {
        s.manager()
            .order(after)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    rig.settle("after the ban");
    assert_eq!(rig.position(), q("0.004"));
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
