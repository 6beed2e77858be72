//! The Binance gateway's Ed25519 session logon against simex (spot, over TLS), through
//! `OmsStage<BinanceGateway, PortfolioLedger>`: with the simulator's documented Ed25519 key
//! the gateway logs its WebSocket API session on, and its market and limit orders then go
//! without `apiKey` and `signature` (counted by the simulator), round-trip, and fill from
//! the user-data stream; a dropped connection logs on again and orders still work; a wrong
//! Ed25519 key is refused (-1022) and the gateway keeps trading HMAC-signed.

mod gateway_support;
mod simex_support;

use gateway_support::{market_order, q, Rig};
use kestrel::core::{Market as CoreMarket, OrderStatus, Qty, Side, SymbolId};
use kestrel::oms::binance::gateway::GatewayKeys;
use kestrel::sim::{Market, Speed, WsOrderAuthCounts, DOCS_API_KEY};
use simex_support::{config, start};

/// RFC 8032 test 2's private key (PKCS#8): a valid Ed25519 key the simulator does not have
/// registered for the API key.
const UNREGISTERED_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n\
    -----END PRIVATE KEY-----\n";

fn auth(rig: &Rig) -> WsOrderAuthCounts {
    rig.handle
        .ws_order_auth(Market::Spot)
        .expect("the spot market is served")
}

fn filled_qty(rig: &Rig) -> Qty {
    rig.stage
        .manager()
        .ledger()
        .portfolio()
        .position(CoreMarket::Spot, SymbolId(0))
        .map_or(Qty::ZERO, |p| p.qty)
}

fn buy_and_wait_filled(rig: &mut Rig, qty: &str, position_after: &str) {
    rig.intent(market_order(Side::Buy, qty));
    let id = rig.last_submitted();
    let wanted = q(position_after);
    rig.run_until("market buy filled", |s| {
        s.manager()
            .order(id)
            .is_some_and(|o| o.status == OrderStatus::Filled)
            && s.manager()
                .ledger()
                .portfolio()
                .position(CoreMarket::Spot, SymbolId(0))
                .is_some_and(|p| p.qty == wanted)
    });
}

#[test]
fn logged_on_orders_go_unsigned_round_trip_and_log_on_again_after_a_drop() {
    let mut rig = Rig::new(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        Market::Spot,
    );
    rig.run_until("session logged on", |s| s.venue().is_logged_on());
    assert_eq!(rig.stage.venue().counters().logons, 1);
    assert_eq!(rig.stage.venue().counters().logons_refused, 0);
    let before = auth(&rig);
    assert_eq!(before.logons, 1);
    let user_events = rig.stage.venue().counters().user_events;

    // Market buy: acked (ACK replies carry no fills), filled from the user-data stream.
    buy_and_wait_filled(&mut rig, "0.01", "0.01");
    assert!(rig.stage.venue().counters().user_events > user_events);

    // Limit sell far above the market rests, then is cancelled.
    rig.rest_and_cancel_limit_sell("0.005");
    rig.assert_matches_venue();
    let after = auth(&rig);
    assert_eq!(
        (
            after.session_orders - before.session_orders,
            after.signed_orders - before.signed_orders
        ),
        (2, 0),
        "both orders went without apiKey and signature"
    );

    // The connection drops: HMAC until the new connection's logon succeeds, then unsigned.
    let reconnects = rig.stage.venue().counters().reconnects;
    rig.handle.drop_connections();
    rig.run_until("reconnected, logged on again and reconciled", |s| {
        s.venue().counters().reconnects > reconnects
            && s.venue().is_up()
            && s.venue().is_logged_on()
            && s.manager().is_reconciled()
    });
    assert_eq!(rig.stage.venue().counters().logons, 2);
    let before = auth(&rig);
    assert_eq!(before.logons, 2);
    buy_and_wait_filled(&mut rig, "0.002", "0.012");
    let after = auth(&rig);
    assert_eq!(after.session_orders - before.session_orders, 1);
    assert_eq!(after.signed_orders, before.signed_orders);
    assert_eq!(filled_qty(&rig), q("0.012"));
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_wrong_ed25519_key_is_refused_and_orders_stay_hmac_signed() {
    let keys = GatewayKeys::simex_test()
        .with_ed25519_pem(DOCS_API_KEY, UNREGISTERED_ED25519_PEM)
        .expect("a valid PKCS#8 Ed25519 key");
    let mut rig = Rig::with_keys(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        &keys,
    );
    rig.run_until("logon refused", |s| {
        s.venue().counters().logons_refused == 1
    });
    assert!(!rig.stage.venue().is_logged_on());
    assert_eq!(rig.stage.venue().counters().logons, 0);
    assert_eq!(
        rig.stage.venue().last_error(),
        Some("session.logon refused: code -1022")
    );
    let before = auth(&rig);
    assert_eq!(before.logons, 0);

    buy_and_wait_filled(&mut rig, "0.003", "0.003");
    let after = auth(&rig);
    assert_eq!(
        (
            after.signed_orders - before.signed_orders,
            after.session_orders
        ),
        (1, 0),
        "the order went HMAC-signed"
    );
    assert!(rig.stage.venue().is_up());
    assert_eq!(
        rig.stage.venue().counters().logons_refused,
        1,
        "not retried"
    );
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
