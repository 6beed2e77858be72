//! The Binance gateway against simex (USDⓈ-M, TLS): a market entry with a bracket goes
//! through `OmsStage<BinanceGateway, PortfolioLedger>`; the manager places the reduce-only
//! STOP_MARKET and TAKE_PROFIT_MARKET (sent to `/fapi/v1/algoOrder`); the replayed market
//! triggers one leg, the manager cancels the sibling through the algo route, and the final
//! position, open orders and realized PnL equal the simulator's account.

mod gateway_support;
mod simex_support;

use std::time::Duration;

use gateway_support::{market_order, Rig};
use kestrel::core::{OrderIntent, OrderRole, OrderStatus, Price, Qty, Side};
use kestrel::sim::{Market, Speed};
use simex_support::orders::trades_after;
use simex_support::{config, start, USDM_CAPTURE};

#[test]
fn bracket_leg_triggered_by_the_replay_closes_the_position_and_cancels_its_sibling() {
    let handle = start(config(Market::UsdmFutures, Speed::Times(40.0), true));
    // Hold the replay while the entry and its bracket are placed, so the prices picked
    // from the capture below are still ahead.
    handle.stall(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(100));
    let mut rig = Rig::new(handle, Market::UsdmFutures);
    let (bid, ask) = rig.book();
    let position = rig
        .handle
        .replay_ms(Market::UsdmFutures)
        .expect("futures served");
    // The next minute of the capture (1.5 s at 40x) decides which leg triggers; the other
    // sits far away. Far enough from the last replayed trade that placing does not trigger.
    let future: Vec<Price> = trades_after(USDM_CAPTURE, position + 1_000)
        .into_iter()
        .take_while(|(at, _)| *at < position + 60_000)
        .map(|(_, price)| price)
        .collect();
    let lowest = future.iter().copied().min().expect("trades follow");
    let highest = future.iter().copied().max().expect("trades follow");
    let margin = Price::from_int(30);
    let far = Price::from_int(5_000);
    let (stop_loss, take_profit, triggered) = if lowest < bid.saturating_sub(margin) {
        (
            bid.saturating_sub(margin),
            ask.saturating_add(far),
            OrderRole::StopLoss,
        )
    } else {
        assert!(
            highest > ask.saturating_add(margin),
            "the capture moves {margin} either way within a minute"
        );
        (
            bid.saturating_sub(far),
            ask.saturating_add(margin),
            OrderRole::TakeProfit,
        )
    };

    rig.intent(OrderIntent {
        stop_loss,
        take_profit,
        ..market_order(Side::Buy, "0.010")
    });
    rig.run_until("entry filled and both legs acked", |s| {
        let m = s.manager();
        m.open_orders().count() == 2 && m.open_orders().all(|o| o.status == OrderStatus::New)
    });
    let legs: Vec<_> = rig.stage.manager().open_orders().copied().collect();
    let entry = legs[0].parent;
    assert_eq!(
        rig.stage
            .manager()
            .order(entry)
            .map(|o| (o.status, o.filled_qty)),
        Some((OrderStatus::Filled, gateway_support::q("0.010")))
    );
    assert!(legs.iter().all(|o| o.reduce_only && o.parent == entry));
    assert!(legs.iter().all(|o| o.qty == gateway_support::q("0.010")));
    let account = rig.handle.account(Market::UsdmFutures).expect("account");
    assert_eq!(
        account.open_algo_orders.len(),
        2,
        "both legs wait in the algo service"
    );
    rig.assert_matches_venue();
    let fired = legs
        .iter()
        .find(|o| o.role == triggered)
        .expect("the triggered leg")
        .client_order_id;
    let sibling = legs
        .iter()
        .find(|o| o.role != triggered)
        .expect("the sibling")
        .client_order_id;

    rig.handle.stall(Duration::ZERO);
    rig.run_until("leg filled and sibling cancelled", |s| {
        let m = s.manager();
        m.order(fired)
            .is_some_and(|o| o.status == OrderStatus::Filled)
            && m.order(sibling)
                .is_some_and(|o| o.status == OrderStatus::Canceled)
    });
    rig.settle("flat and nothing open");
    assert_eq!(rig.position(), Qty::ZERO, "the bracket closed the position");
    assert!(rig.order_ids().is_empty());
    let account = rig.handle.account(Market::UsdmFutures).expect("account");
    assert!(
        account.open_algo_orders.is_empty(),
        "sibling gone at the venue"
    );
    assert_eq!(
        rig.realized_pnl(),
        account.realized_pnl,
        "realized PnL equals the simulator's"
    );
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
