//! Limits whose rest is still marketable keep taking at the book's and the trades' prices
//! (taker fee) until the book no longer crosses them; from then on they are passive.

use super::*;

/// A newer best bid/offer.
fn ticker(update_id: u64, bid: &str, bid_qty: &str, ask: &str, ask_qty: &str) -> MarketEventKind {
    MarketEventKind::BookTicker(crate::core::BookTicker {
        update_id,
        bid_price: p(bid),
        bid_qty: q(bid_qty),
        ask_price: p(ask),
        ask_qty: q(ask_qty),
    })
}

/// A book the depth stream marks as resyncing: it shows nothing.
fn resyncing(update_id: u64) -> MarketEventKind {
    match book(update_id, 100, 101) {
        MarketEventKind::Book(top) => MarketEventKind::Book(BookTop {
            valid: false,
            ..top
        }),
        other => other,
    }
}

/// (price, qty, maker, fee) of every fill among `reports`.
fn rows(reports: &[VenueReport]) -> Vec<(Price, Qty, bool, Qty)> {
    reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.price, f.qty, f.is_maker, f.fee)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_triggered_stop_limit_keeps_taking_at_the_book_until_it_no_longer_crosses_then_rests() {
    // Maker 0.1 %, taker 0.2 %. The book (update 1): bids 100 (1), 99 (2) … 96 (5).
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let stop = VenueOrder {
        trigger_price: p("99.5"),
        ..h.order(1, Side::Sell, OrderType::StopMarket, "95.5", "1")
    };
    assert!(matches!(h.place(stop)[..], [VenueReport::Accepted { .. }]));
    // The market falls; the ticker (update 2) is ahead of the lagging depth: its bid 95.9
    // replaces the book's bids, all at or above it. Only 0.2 BTC is visible to sell into.
    assert!(h
        .market_event(ticker(2, "95.9", "0.2", "96", "0.5"))
        .is_empty());
    let reports = h.market_event(trade(2, "95.95", "0.1"));
    assert!(
        matches!(reports[0], VenueReport::Triggered { client_order_id, .. } if client_order_id == id(1))
    );
    // 0.2 × 95.9 = 19.18, taker fee 0.03836. Nothing visible is left: 0.8 still takes.
    assert_eq!(
        rows(&reports),
        vec![(p("95.9"), q("0.2"), false, q("0.03836"))]
    );
    assert_eq!(h.venue.open_orders(), 1);
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), q("0.8"));
    // The next ticker bids 95.8, far above the limit 95.5: the order sells into it at 95.8
    // as a taker (not at its own 95.5 as a maker). 0.3 × 95.8 = 28.74, fee 0.05748.
    let reports = h.market_event(ticker(3, "95.8", "0.3", "95.9", "1"));
    assert_eq!(
        rows(&reports),
        vec![(p("95.8"), q("0.3"), false, q("0.05748"))]
    );
    // A trade at 95.7 shows a buyer there: we take 0.1 at 95.7. 9.57 × 0.2 % = 0.01914.
    let reports = h.market_event(trade(3, "95.7", "0.1"));
    assert_eq!(
        rows(&reports),
        vec![(p("95.7"), q("0.1"), false, q("0.01914"))]
    );
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), q("0.4"));
    // The bid drops under the limit: the book no longer crosses us, the 0.4 turns passive.
    assert!(h
        .market_event(ticker(4, "95.4", "1", "95.5", "1"))
        .is_empty());
    // Passive now: a trade at the limit fills nothing (ThroughOnly), as for any resting order.
    assert!(h.market_event(trade(4, "95.5", "1")).is_empty());
    // A book crossing it later (bids 96 (1), 95 (2) …): that buyer is the aggressor, we fill
    // at our own 95.5 as maker. 0.4 × 95.5 = 38.2, maker fee 0.0382.
    let reports = h.market_event(book(5, 96, 97));
    assert_eq!(
        rows(&reports),
        vec![(p("95.5"), q("0.4"), true, q("0.0382"))]
    );
    assert_eq!(h.venue.open_orders(), 0);
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);
    // Sold 1 BTC for 19.18 + 28.74 + 9.57 + 38.2 = 95.69 less 0.15318 fees.
    let account = h.venue.account();
    assert_eq!(account.balance(Market::Spot, asset("BTC")), q("9"));
    assert_eq!(
        account.balance(Market::Spot, asset("USDT")),
        q("100095.53682")
    );
}

#[test]
fn a_gtc_buy_above_the_visible_asks_fills_at_the_next_asks_as_taker() {
    // Asks 101 (1), 102 (2) … 105 (5): 15 BTC visible under the limit 110.
    let mut h = Harness::spot();
    let reports = h.place(h.order(1, Side::Buy, OrderType::Limit, "110", "20"));
    let arrival = fills(&reports);
    assert_eq!(arrival.len(), 5);
    assert!(arrival.iter().all(|f| !f.2), "taker on arrival");
    assert_eq!(arrival[4], (p("105"), q("5"), false));
    // 5 BTC still taking: they hold 5 × 110 × (1 + 0.2 %) = 551.1 USDT.
    assert_eq!(h.venue.locked(Market::Spot, asset("USDT")), q("551.1"));
    // A resyncing book shows nothing: no evidence the liquidity ended, still taking.
    assert!(h.market_event(resyncing(2)).is_empty());
    // The next ask, 106 × 2: taken at 106 as taker (not at our 110 as maker).
    let reports = h.market_event(ticker(3, "105", "1", "106", "2"));
    assert_eq!(rows(&reports), vec![(p("106"), q("2"), false, q("0.424"))]);
    // The book is back (asks 107 (1), 108 (2) …): the last 3 take 107 and 108.
    let reports = h.market_event(book(4, 106, 107));
    assert_eq!(
        rows(&reports),
        vec![
            (p("107"), q("1"), false, q("0.214")),
            (p("108"), q("2"), false, q("0.432"))
        ]
    );
    assert_eq!(h.venue.open_orders(), 0);
    assert_eq!(h.venue.locked(Market::Spot, asset("USDT")), Qty::ZERO);
    assert_eq!(
        h.venue.account().balance(Market::Spot, asset("BTC")),
        q("30")
    );
}

#[test]
fn a_gtc_sell_the_book_did_not_cross_on_arrival_is_passive_from_the_start() {
    // Bids 100 … 96: a sell at 100.5 does not cross; a ticker bidding 101 later is a buyer
    // crossing our resting ask, the aggressor: we fill at our 100.5 as maker.
    let mut h = Harness::spot();
    assert_eq!(
        fills(&h.place(h.order(1, Side::Sell, OrderType::Limit, "100.5", "1"))),
        vec![]
    );
    let reports = h.market_event(ticker(2, "101", "0.4", "101.5", "1"));
    assert_eq!(
        rows(&reports),
        vec![(p("100.5"), q("0.4"), true, q("0.0402"))]
    );
}
