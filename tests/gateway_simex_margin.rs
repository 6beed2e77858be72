//! The Binance gateway in cross-margin mode against simex (spot listener, over TLS), through
//! `OmsStage<BinanceGateway, PortfolioLedger>`: orders, cancels and the bracket OCO go over
//! REST (`/sapi/v1/margin/…`), fills come from the listenToken subscription on the WebSocket
//! API; a borrowed asset books as a negative balance; a dropped connection is reported Down
//! then Up and reconciled through the margin endpoints; an expired token ends the stream
//! (`eventStreamTerminated`) and a new one restores it; a short-lived token is renewed before
//! it expires without losing the link. Position, open orders and net balances equal the
//! simulator's margin account, and no client id is placed twice.

mod gateway_support;
mod simex_support;

use std::collections::BTreeSet;

use gateway_support::{market_order, q, Rig};
use kestrel::core::{
    ClientOrderId, IntentAction, OrderIntent, OrderRole, OrderStatus, OrderType, Price, Qty, Side,
    TimeInForce,
};
use kestrel::oms::binance::gateway::GatewayConfig;
use kestrel::oms::venue::{MarginParams, MarginSideEffect};
use kestrel::sim::{Market, Speed};
use serde_json::Value;
use simex_support::orders::{market_buy, params, Rest};
use simex_support::{config, start};

/// Cross margin, borrowing what an order lacks (`MARGIN_BUY`).
const BORROWING: MarginParams = MarginParams {
    isolated: false,
    side_effect: MarginSideEffect::MarginBuy,
};

fn rig(gateway: impl FnOnce(&mut GatewayConfig)) -> Rig {
    Rig::margin(
        start(config(Market::Spot, Speed::AsFastAsPossible, true)),
        BORROWING,
        gateway,
    )
}

/// The statuses the manager reported for `id`, in order.
fn statuses(rig: &Rig, id: ClientOrderId) -> Vec<OrderStatus> {
    rig.updates
        .iter()
        .filter(|u| u.client_order_id == id)
        .map(|u| u.status)
        .collect()
}

/// Polls until the portfolio's net balances of the pair equal the simulator's.
fn settle_balances(rig: &mut Rig, what: &str) {
    let deadline = std::time::Instant::now() + simex_support::TIMEOUT;
    loop {
        rig.poll();
        let ours = (rig.balance("BTC"), rig.balance("USDT"));
        let venue = (rig.venue_balance("BTC"), rig.venue_balance("USDT"));
        if ours == venue {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: portfolio (BTC, USDT) {ours:?} vs simulator's margin account {venue:?}"
        );
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
}

/// The simulator's margin orders of BTCUSDT (`GET /sapi/v1/margin/allOrders`).
fn venue_margin_orders(rig: &Rig) -> Vec<Value> {
    let rest = Rest::new(&rig.handle, Market::Spot);
    let reply = rest.signed(
        &rig.handle,
        "GET",
        "/sapi/v1/margin/allOrders",
        &params(&[("symbol", "BTCUSDT"), ("limit", "1000")]),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body.as_array().expect("an order list").clone()
}

/// Each client id the simulator holds names one margin order, and none is a spot order.
fn assert_client_ids_unique(rig: &Rig) {
    let orders = venue_margin_orders(rig);
    let ids: Vec<&str> = orders
        .iter()
        .map(|o| o["clientOrderId"].as_str().expect("client id"))
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a client id placed twice: {ids:?}");
    let account = rig.handle.account(Market::Spot).expect("served");
    assert!(
        account
            .trades
            .iter()
            .all(|t| t.account == kestrel::sim::AccountKind::Margin),
        "every trade is a margin trade"
    );
}

fn limit(side: Side, price: Price, qty: &str) -> OrderIntent {
    OrderIntent {
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        price,
        qty: q(qty),
        ..OrderIntent::default()
    }
}

fn cancel(target: ClientOrderId) -> OrderIntent {
    OrderIntent {
        action: IntentAction::Cancel,
        target,
        ..OrderIntent::default()
    }
}

#[test]
fn margin_orders_go_over_rest_and_fill_from_the_listen_token_stream() {
    let mut rig = rig(|_| {});
    assert_eq!(
        (rig.balance("BTC"), rig.balance("USDT")),
        (rig.venue_balance("BTC"), rig.venue_balance("USDT")),
        "the start-up reconciliation read the margin account"
    );

    // Market buy: acknowledged over REST (ACK: no fills in it), filled from the stream.
    rig.intent(market_order(Side::Buy, "0.01"));
    let buy = rig.last_submitted();
    rig.run_until("market buy filled", |s| {
        s.manager()
            .order(buy)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    let counters = *rig.stage.venue().counters();
    assert_eq!(counters.ws_requests, 0, "no order went over the WS API");
    assert!(counters.rest_requests > 0 && counters.user_events > 0);
    assert!(
        rig.stage.venue().last_wire_ns() > 0,
        "the REST hand-off is stamped"
    );
    let buy_statuses = statuses(&rig, buy);
    assert_eq!(buy_statuses.first(), Some(&OrderStatus::PendingNew));
    assert_eq!(buy_statuses.last(), Some(&OrderStatus::Filled));
    assert!(
        buy_statuses.iter().all(|s| matches!(
            s,
            OrderStatus::PendingNew
                | OrderStatus::New
                | OrderStatus::PartiallyFilled
                | OrderStatus::Filled
        )),
        "{buy_statuses:?}"
    );
    rig.settle("after the market buy");
    settle_balances(&mut rig, "after the market buy");
    rig.assert_matches_venue();

    // Limit sell far above the market rests (New), then is canceled.
    let (_, ask) = rig.book();
    rig.intent(limit(
        Side::Sell,
        ask.saturating_add(Price::from_int(5_000)),
        "0.005",
    ));
    let resting = rig.last_submitted();
    rig.run_until("limit acked", |s| {
        s.manager()
            .order(resting)
            .is_some_and(|o| o.status == OrderStatus::New)
    });
    rig.assert_matches_venue();
    rig.intent(cancel(resting));
    rig.run_until("limit canceled", |s| {
        s.manager()
            .order(resting)
            .is_some_and(|o| o.status == OrderStatus::Canceled)
    });
    assert_eq!(
        statuses(&rig, resting),
        [
            OrderStatus::PendingNew,
            OrderStatus::New,
            OrderStatus::PendingCancel,
            OrderStatus::Canceled
        ]
    );
    rig.assert_matches_venue();

    // Selling more BTC than the account holds borrows the rest: the net BTC balance goes
    // negative, and the portfolio books it negative (not clamped to zero).
    let held = rig.venue_balance("BTC");
    rig.intent(market_order(Side::Sell, "1.03"));
    let short = rig.last_submitted();
    rig.run_until("borrowing sell filled", |s| {
        s.manager()
            .order(short)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    rig.settle("after the borrowing sell");
    settle_balances(&mut rig, "after the borrowing sell");
    let owed = held.saturating_sub(q("1.03"));
    assert!(owed < Qty::ZERO, "1.03 BTC sold from {held:?}");
    assert_eq!(rig.balance("BTC"), owed);
    let borrowed = rig
        .handle
        .account(Market::Spot)
        .expect("served")
        .margin_balances
        .iter()
        .find(|b| b.asset == "BTC")
        .map(|b| b.borrowed)
        .expect("BTC in the margin account");
    assert_eq!(
        borrowed,
        Qty::ZERO.saturating_sub(owed),
        "the venue lent it"
    );
    rig.assert_matches_venue();
    assert_client_ids_unique(&rig);
    assert_eq!(rig.stage.venue().counters().parse_errors, 0);
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_bracketed_entry_gets_a_margin_oco_and_canceling_a_leg_ends_both() {
    let mut rig = rig(|_| {});
    let (bid, ask) = rig.book();
    rig.intent(OrderIntent {
        stop_loss: bid.saturating_sub(Price::from_int(3_000)),
        take_profit: ask.saturating_add(Price::from_int(3_000)),
        ..market_order(Side::Buy, "0.010")
    });
    let entry = rig.newest_entry;
    rig.run_until("OCO legs acked", |s| {
        let legs: Vec<_> = s
            .manager()
            .open_orders()
            .filter(|o| o.role != OrderRole::Entry)
            .collect();
        legs.len() == 2 && legs.iter().all(|o| o.status == OrderStatus::New)
    });
    assert_eq!(rig.status(entry), Some(OrderStatus::Filled));
    let legs: Vec<_> = rig
        .stage
        .manager()
        .open_orders()
        .copied()
        .filter(|o| o.parent == entry)
        .collect();
    assert_eq!(legs.len(), 2);
    // Both legs are one margin order list at the venue.
    let venue_orders = venue_margin_orders(&rig);
    let venue_leg = |id: ClientOrderId| {
        venue_orders
            .iter()
            .find(|o| o["clientOrderId"] == id.to_string())
            .cloned()
            .expect("the leg is a margin order")
    };
    let stop = legs
        .iter()
        .find(|o| o.role == OrderRole::StopLoss)
        .expect("stop leg");
    let take = legs
        .iter()
        .find(|o| o.role == OrderRole::TakeProfit)
        .expect("take-profit leg");
    assert_eq!(venue_leg(stop.client_order_id)["type"], "STOP_LOSS_LIMIT");
    assert_eq!(venue_leg(take.client_order_id)["type"], "LIMIT_MAKER");
    rig.settle("bracket placed");
    rig.assert_matches_venue();

    // Canceling the take-profit ends the list: the venue cancels the stop with it.
    rig.intent(cancel(take.client_order_id));
    rig.run_until("both legs ended", |s| {
        [stop.client_order_id, take.client_order_id]
            .iter()
            .all(|id| {
                s.manager()
                    .order(*id)
                    .is_some_and(|o| o.status == OrderStatus::Canceled)
            })
    });
    rig.settle("bracket canceled");
    settle_balances(&mut rig, "bracket canceled");
    rig.assert_matches_venue();
    assert_client_ids_unique(&rig);
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_dropped_link_is_reconciled_through_the_margin_endpoints() {
    let mut rig = rig(|_| {});
    // A resting order and a position before the drop.
    let (bid, _) = rig.book();
    rig.intent(limit(
        Side::Buy,
        bid.saturating_sub(Price::from_int(5_000)),
        "0.002",
    ));
    let resting = rig.last_submitted();
    rig.intent(market_order(Side::Buy, "0.003"));
    rig.run_until("resting and filled", |s| {
        s.manager()
            .order(resting)
            .is_some_and(|o| o.status == OrderStatus::New)
            && s.manager().open_orders().count() == 1
    });
    rig.settle("before the drop");

    // The link drops. While it is down (this thread is not polling the gateway, so it cannot
    // resubscribe), an operator's margin order fills at the venue with no stream to say so:
    // only reconciliation (margin myTrades, allOrders and account) can tell.
    let reconnects = rig.stage.venue().counters().reconnects;
    rig.handle.drop_connections();
    rig.run_until("the drop noticed", |s| {
        !s.venue().is_up() || s.venue().counters().reconnects > reconnects
    });
    assert!(
        !rig.stage.manager().is_reconciled(),
        "Link(Down) reached the manager"
    );
    let rest = Rest::new(&rig.handle, Market::Spot);
    market_buy(
        &rest,
        &rig.handle,
        "/sapi/v1/margin/order",
        "0.004",
        Some("operator-1"),
    );
    rig.run_until("reconnected, resubscribed and reconciled", |s| {
        s.venue().counters().reconnects > reconnects
            && s.venue().is_up()
            && s.manager().is_reconciled()
    });
    rig.settle("after the reconciliation");
    settle_balances(&mut rig, "after the reconciliation");
    assert_eq!(
        rig.position(),
        q("0.007"),
        "the operator's fill was found and booked"
    );
    assert_eq!(
        rig.order_ids(),
        vec![resting],
        "the resting margin order is still open"
    );
    assert_eq!(
        rig.balance("BNB"),
        Qty::ZERO,
        "the spot account's BNB is not ours"
    );
    let trades = rig.handle.account(Market::Spot).expect("served").trades;
    assert_eq!(trades.len(), 2);
    assert_eq!(
        rig.manager_position().map(|p| p.fill_count),
        Some(2),
        "each venue trade booked once"
    );
    assert_eq!(
        rig.fills.len(),
        1,
        "only our own order's fill goes to the strategy"
    );
    assert_client_ids_unique(&rig);
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn an_expired_listen_token_ends_the_stream_and_a_new_one_restores_it() {
    let mut rig = rig(|_| {});
    let before = *rig.stage.venue().counters();
    rig.handle.expire_listen_tokens();
    rig.run_until("terminated, new token subscribed, reconciled", |s| {
        let now = s.venue().counters();
        now.listen_token_renewals > before.listen_token_renewals
            && now.reconnects > before.reconnects
            && s.venue().is_up()
            && s.manager().is_reconciled()
    });
    // The stream works again: a fill arrives with no reconciliation in between.
    let reconnects = rig.stage.venue().counters().reconnects;
    let events = rig.stage.venue().counters().user_events;
    rig.intent(market_order(Side::Buy, "0.006"));
    let buy = rig.last_submitted();
    rig.run_until("filled from the stream", |s| {
        s.manager()
            .order(buy)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert_eq!(rig.stage.venue().counters().reconnects, reconnects);
    assert!(rig.stage.venue().counters().user_events > events);
    rig.settle("after the renewal");
    settle_balances(&mut rig, "after the renewal");
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_short_lived_listen_token_is_renewed_before_it_expires_without_losing_the_link() {
    // 3 s tokens: renewed at half their life, subscribed again on the live connection.
    let mut rig = rig(|g| g.listen_token_validity_ms = 3_000);
    rig.run_until("three renewals (past the first token's expiry)", |s| {
        s.venue().counters().listen_token_renewals >= 3
    });
    let counters = *rig.stage.venue().counters();
    assert_eq!(counters.reconnects, 0, "the link never dropped");
    assert_eq!(counters.parse_errors, 0);
    rig.intent(market_order(Side::Buy, "0.002"));
    let buy = rig.last_submitted();
    rig.run_until("filled from the stream", |s| {
        s.manager()
            .order(buy)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert_eq!(rig.stage.venue().counters().reconnects, 0);
    rig.settle("after the renewals");
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
