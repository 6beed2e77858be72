//! Spot brackets through `OmsStage<BinanceGateway, PortfolioLedger>` against simex on the
//! bundled real BTCUSDT exchangeInfo, whose `orderTypes` has `STOP_LOSS_LIMIT` but no
//! `STOP_LOSS`: an entry's fill places one OCO (`LIMIT_MAKER` take-profit, `STOP_LOSS_LIMIT`
//! stop) that simex accepts; the replayed market then fills the take-profit and the venue
//! expires the stop leg, or triggers the stop, whose limit fills while the take-profit leg
//! expires. Order states, fills, position and realized PnL equal the simulator's account,
//! every client id is one order at the venue. A partly filled entry gets an OCO for the filled
//! quantity, and canceling one leg ends the list.

mod gateway_support;
mod simex_support;

use std::time::Duration;

use gateway_support::{market_order, q, Rig};
use kestrel::core::{
    ClientOrderId, IntentAction, Notional, OrderIntent, OrderKinds, OrderRole, OrderStatus,
    OrderUpdate, Price, Side,
};
use kestrel::sim::{Market, Speed};
use serde_json::Value;
use simex_support::orders::{params, trades_after, Rest};
use simex_support::{config, start, SPOT_CAPTURE};

/// Bps of the trigger the manager's default puts a stop-limit's limit beyond it.
const STOP_LIMIT_SLIPPAGE_BPS: i128 = 25;

/// A spot rig whose replay runs at 40× once `release` lets it; until then the simulator's
/// market stands still (the orders are placed against a known book).
fn held_rig() -> Rig {
    let handle = start(config(Market::Spot, Speed::Times(40.0), true));
    handle.stall(Duration::from_secs(600));
    Rig::new(handle, Market::Spot)
}

fn release(rig: &Rig) {
    rig.handle.stall(Duration::ZERO);
}

/// The open bracket legs once both are acknowledged, each for `qty`.
fn acked_legs(rig: &mut Rig, what: &str, qty: &str) -> (OrderUpdate, OrderUpdate) {
    let want = q(qty);
    rig.run_until(what, |s| {
        let legs: Vec<_> = s
            .manager()
            .open_orders()
            .filter(|o| o.role != OrderRole::Entry)
            .collect();
        legs.len() == 2
            && legs
                .iter()
                .all(|o| o.status == OrderStatus::New && o.qty == want)
    });
    let leg = |role| {
        *rig.stage
            .manager()
            .open_orders()
            .find(|o| o.role == role)
            .expect("leg open")
    };
    (leg(OrderRole::StopLoss), leg(OrderRole::TakeProfit))
}

/// The simulator's view of one of our orders (`GET /api/v3/order` by client id).
fn venue_order(rig: &Rig, id: ClientOrderId) -> Value {
    let rest = Rest::new(&rig.handle, Market::Spot);
    let reply = rest.signed(
        &rig.handle,
        "GET",
        "/api/v3/order",
        &params(&[
            ("symbol", "BTCUSDT"),
            ("origClientOrderId", &id.to_string()),
        ]),
    );
    assert_eq!(reply.status, 200, "{id}: {}", reply.text);
    reply.body
}

fn price_of(value: &Value) -> Price {
    Price::parse(value.as_str().expect("decimal text")).expect("decimal")
}

/// Realized PnL of the simulator's trades once flat: what the sells brought in minus what
/// the buys cost (before fees, as the portfolio books it).
fn venue_realized_pnl(rig: &Rig) -> Notional {
    let trades = rig.handle.account(Market::Spot).expect("account").trades;
    trades.iter().fold(Notional::ZERO, |sum, t| match t.side {
        Side::Sell => sum.saturating_add(t.quote_qty),
        Side::Buy => sum.saturating_sub(t.quote_qty),
    })
}

/// Every venue trade belongs to one of `ours`, and each of ours is one venue order.
fn assert_one_venue_order_per_client_id(rig: &Rig, ours: &[ClientOrderId]) {
    let mut venue_ids: Vec<u64> = ours
        .iter()
        .map(|id| venue_order(rig, *id)["orderId"].as_u64().expect("orderId"))
        .collect();
    let placed = venue_ids.len();
    venue_ids.sort_unstable();
    venue_ids.dedup();
    assert_eq!(venue_ids.len(), placed, "each client id is its own order");
    let trades = rig.handle.account(Market::Spot).expect("account").trades;
    assert!(
        trades.iter().all(|t| venue_ids.contains(&t.order_id)),
        "no trade of an order we did not place"
    );
    assert_eq!(rig.stage.manager().counters().retries, 0, "nothing re-sent");
}

/// Market entry with a bracket; the OCO the manager places is accepted by simex.
fn enter_with_bracket(
    rig: &mut Rig,
    stop_loss: Price,
    take_profit: Price,
) -> (ClientOrderId, OrderUpdate, OrderUpdate) {
    rig.intent(OrderIntent {
        stop_loss,
        take_profit,
        ..market_order(Side::Buy, "0.010")
    });
    let entry = rig.newest_entry;
    let (stop, take) = acked_legs(rig, "OCO legs acked", "0.010");
    assert!(stop.parent == entry && take.parent == entry);
    assert_eq!(rig.status(entry), Some(OrderStatus::Filled));
    // The stop leg is a STOP_LOSS_LIMIT at the venue: the symbol lists no STOP_LOSS.
    let venue_stop = venue_order(rig, stop.client_order_id);
    assert_eq!(venue_stop["type"], "STOP_LOSS_LIMIT", "{venue_stop}");
    assert_eq!(price_of(&venue_stop["stopPrice"]), stop.trigger_price);
    assert_eq!(price_of(&venue_stop["price"]), stop.price);
    let room = Price::from_raw(stop.trigger_price.raw() * STOP_LIMIT_SLIPPAGE_BPS / 10_000);
    let tick = Price::parse("0.01").expect("tick");
    assert!(
        stop.price <= stop.trigger_price.saturating_sub(room)
            && stop.price > stop.trigger_price.saturating_sub(room).saturating_sub(tick),
        "limit {:?} is 25 bps under the trigger {:?}, floored to the tick",
        stop.price,
        stop.trigger_price
    );
    let venue_take = venue_order(rig, take.client_order_id);
    assert_eq!(venue_take["type"], "LIMIT_MAKER");
    let list = venue_stop["orderListId"].as_i64().expect("list id");
    assert!(list >= 0 && venue_take["orderListId"].as_i64() == Some(list));
    rig.settle("OCO placed");
    rig.assert_matches_venue();
    (entry, stop, take)
}

/// Waits until both legs are final at the manager, then checks the venue agrees.
fn run_until_legs_final(rig: &mut Rig, stop: ClientOrderId, take: ClientOrderId) {
    rig.run_until("both legs final", |s| {
        [stop, take]
            .iter()
            .all(|id| s.manager().order(*id).is_some_and(|o| o.status.is_final()))
    });
    rig.settle("the manager agrees with the venue");
}

/// After one leg filled the position: the filled leg and the venue-expired leg agree at the
/// manager and the venue, the position is flat with the venue's realized PnL, no cancel was
/// sent, each client id is one venue order. Returns the exit's fills.
fn assert_exited_through(
    rig: &Rig,
    entry: ClientOrderId,
    filled: &OrderUpdate,
    expired: &OrderUpdate,
) -> Vec<kestrel::core::Fill> {
    let (filled, expired) = (filled.client_order_id, expired.client_order_id);
    assert_eq!(rig.status(filled), Some(OrderStatus::Filled));
    assert_eq!(
        rig.status(expired),
        Some(OrderStatus::Expired),
        "the venue ended the other leg of the list"
    );
    assert_eq!(venue_order(rig, filled)["status"], "FILLED");
    assert_eq!(venue_order(rig, expired)["status"], "EXPIRED");
    assert_eq!(
        rig.stage.manager().counters().cancels_sent,
        0,
        "no cancel was needed"
    );
    assert_eq!(rig.position(), q("0"));
    assert_eq!(rig.realized_pnl(), venue_realized_pnl(rig));
    rig.assert_matches_venue();
    assert_one_venue_order_per_client_id(rig, &[entry, filled, expired]);
    let exits: Vec<_> = rig
        .fills
        .iter()
        .filter(|f| f.client_order_id == filled)
        .copied()
        .collect();
    assert!(!exits.is_empty(), "the exit filled");
    exits
}

#[test]
fn take_profit_fills_and_the_venue_expires_the_stop_limit_leg() {
    let mut rig = held_rig();
    let (bid, ask) = rig.book();
    let at = rig.handle.replay_ms(Market::Spot).expect("served");
    let future = trades_after(SPOT_CAPTURE, at);
    // Take profit under the highest print still to come, above the ask; stop under every
    // print before that high, so only the take-profit can fill.
    let (high_at, high) = future
        .iter()
        .copied()
        .max_by_key(|&(_, price)| price)
        .expect("trades follow");
    let take_profit = high.saturating_sub(Price::from_int(2));
    assert!(
        take_profit > ask,
        "the capture rises after the start: high {high:?}, ask {ask:?}"
    );
    let low_before = future
        .iter()
        .filter(|&&(t, _)| t <= high_at)
        .map(|&(_, price)| price)
        .min()
        .expect("trades before the high")
        .min(bid);
    let stop_loss = low_before.saturating_sub(Price::from_int(20));
    let (entry, stop, take) = enter_with_bracket(&mut rig, stop_loss, take_profit);

    release(&rig);
    run_until_legs_final(&mut rig, stop.client_order_id, take.client_order_id);
    let exits = assert_exited_through(&rig, entry, &take, &stop);
    assert!(
        exits.iter().all(|f| f.price == take.price && f.is_maker),
        "the take-profit rests and fills at its price: {exits:?}"
    );
    assert!(rig.realized_pnl().raw() > 0, "a take-profit gains");
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn stop_triggers_its_limit_fills_and_the_venue_expires_the_take_profit_leg() {
    let mut rig = held_rig();
    let (bid, ask) = rig.book();
    let at = rig.handle.replay_ms(Market::Spot).expect("served");
    let future = trades_after(SPOT_CAPTURE, at);
    // Stop 15 under the bid (the capture falls further); take-profit over every print
    // before the stop's trigger, so only the stop can fill.
    let stop_loss = bid.saturating_sub(Price::from_int(15));
    let (trigger_at, _) = future
        .iter()
        .copied()
        .find(|&(_, price)| price <= stop_loss)
        .expect("the capture falls through the stop");
    let high_before = future
        .iter()
        .filter(|&&(t, _)| t <= trigger_at)
        .map(|&(_, price)| price)
        .max()
        .unwrap_or(ask)
        .max(ask);
    let take_profit = high_before.saturating_add(Price::from_int(20));
    let (entry, stop, take) = enter_with_bracket(&mut rig, stop_loss, take_profit);

    release(&rig);
    run_until_legs_final(&mut rig, stop.client_order_id, take.client_order_id);
    let exits = assert_exited_through(&rig, entry, &stop, &take);
    assert!(
        exits.iter().all(|f| f.price >= stop.price && !f.is_maker),
        "the triggered limit takes the bids, never below its limit: {exits:?}"
    );
    assert!(rig.realized_pnl().raw() < 0, "a stop loses");
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn a_partly_filled_entry_gets_an_oco_for_the_filled_quantity_and_one_cancel_ends_the_list() {
    let mut rig = held_rig();
    let (bid, ask) = rig.book();
    let stop_loss = bid.saturating_sub(Price::from_int(500));
    let take_profit = ask.saturating_add(Price::from_int(500));

    // Canceling one leg of an OCO ends the list: both legs go.
    let (_, stop, take) = enter_with_bracket(&mut rig, stop_loss, take_profit);
    rig.intent(OrderIntent {
        action: IntentAction::Cancel,
        target: stop.client_order_id,
        ..OrderIntent::default()
    });
    run_until_legs_final(&mut rig, stop.client_order_id, take.client_order_id);
    assert_eq!(
        rig.status(stop.client_order_id),
        Some(OrderStatus::Canceled)
    );
    assert_eq!(
        rig.status(take.client_order_id),
        Some(OrderStatus::Canceled)
    );
    assert!(rig.order_ids().is_empty(), "no leg left open");
    rig.assert_matches_venue();

    // Forced partial fill: the market entry fills only part, the rest expires; the bracket
    // covers exactly the quantity filled.
    let held = rig.position();
    rig.handle.force_partial_fills(1);
    rig.intent(OrderIntent {
        stop_loss,
        take_profit,
        ..market_order(Side::Buy, "0.010")
    });
    let entry = rig.newest_entry;
    rig.run_until("entry ended partly filled", |s| {
        s.manager()
            .order(entry)
            .is_some_and(|o| o.status.is_final() && o.filled_qty.is_positive())
    });
    let partial = rig
        .stage
        .manager()
        .order(entry)
        .map(|o| o.filled_qty)
        .expect("entry tracked");
    assert!(
        partial < q("0.010"),
        "the fault filled only part: {partial:?}"
    );
    let (stop, take) = acked_legs(&mut rig, "bracket covers the fill", &partial.to_string());
    assert!(stop.parent == entry && take.parent == entry);
    assert!(stop.price.is_positive(), "a stop-limit leg");
    rig.settle("partial entry settled");
    let account = rig.handle.account(Market::Spot).expect("account");
    assert_eq!(account.open_orders.len(), 2, "exactly one live OCO");
    assert!(account.open_orders.iter().all(|o| o.orig_qty == partial));
    assert_eq!(rig.position(), held.saturating_add(partial));
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn an_oco_the_venue_refuses_ends_both_legs_and_leaves_the_position_known() {
    // The order side wrongly believes BTCUSDT takes STOP_LOSS: simex refuses the list (as
    // Binance refused it), the gateway reports the refusal under the list id.
    let handle = start(config(Market::Spot, Speed::Times(40.0), true));
    handle.stall(Duration::from_secs(600));
    let mut rig = Rig::with_instrument(handle, Market::Spot, |i| {
        i.order_kinds = OrderKinds::ALL;
    });
    let (bid, ask) = rig.book();
    rig.intent(OrderIntent {
        stop_loss: bid.saturating_sub(Price::from_int(500)),
        take_profit: ask.saturating_add(Price::from_int(500)),
        ..market_order(Side::Buy, "0.010")
    });
    let entry = rig.newest_entry;
    rig.run_until("the OCO refused", |s| {
        s.manager().counters().venue_rejects == 2 && s.manager().open_orders().count() == 0
    });
    let counters = *rig.stage.manager().counters();
    assert_eq!(
        counters.unprotected_fills, 1,
        "the unprotected position is counted once"
    );
    assert_eq!(counters.brackets_placed, 1);
    assert_eq!(rig.status(entry), Some(OrderStatus::Filled));
    let legs: Vec<ClientOrderId> = (1..=2)
        .map(|n| ClientOrderId(entry.0 + n))
        .filter(|id| rig.status(*id).is_some())
        .collect();
    assert_eq!(legs.len(), 2, "both legs tracked");
    for leg in legs {
        assert_eq!(rig.status(leg), Some(OrderStatus::Rejected));
    }
    assert_eq!(
        rig.position(),
        q("0.010"),
        "the position is known, unprotected"
    );
    rig.assert_matches_venue();
    // Nothing stays pending: past the ack timeout no query or retry goes out.
    std::thread::sleep(Duration::from_millis(1_600));
    rig.poll();
    assert_eq!(rig.stage.manager().counters().queries, counters.queries);
    assert_eq!(rig.stage.manager().counters().retries, 0);
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
