//! Executions: how each order type fills against the book and trades, OCO, latency, ids.

use super::*;

#[test]
fn market_buy_walks_the_visible_asks_at_their_prices_and_pays_the_taker_fee() {
    let mut h = Harness::spot();
    let reports = h.place(h.order(1, Side::Buy, OrderType::Market, "0", "2.5"));
    assert!(
        matches!(reports[0], VenueReport::Accepted { client_order_id, venue_order_id: 1, .. } if client_order_id == id(1))
    );
    assert_eq!(
        fills(&reports),
        vec![(p("101"), q("1"), false), (p("102"), q("1.5"), false)]
    );
    assert_eq!(
        reports.len(),
        3,
        "no Expired after a complete fill: {reports:?}"
    );
    // 101 + 153 = 254 quote, taker fee 0.2 % of each piece: 0.202 + 0.306.
    let fees: Vec<Qty> = reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some(f.fee),
            _ => None,
        })
        .collect();
    assert_eq!(fees, vec![q("0.202"), q("0.306")]);
    let account = h.venue.account();
    assert_eq!(account.balance(Market::Spot, asset("USDT")), q("99745.492"));
    assert_eq!(account.balance(Market::Spot, asset("BTC")), q("12.5"));
}

#[test]
fn market_remainder_past_visible_depth_slips_by_ticks_or_expires_as_configured() {
    let mut h = Harness::spot();
    // Visible asks hold 15 BTC, 101..105; 16 leaves 1 past them.
    let reports = h.place(h.order(1, Side::Sell, OrderType::Market, "0", "10"));
    assert_eq!(fills(&reports).len(), 4);
    h.market_event(book(2, 100, 101));
    h.venue.fund(Market::Spot, asset("USDT"), q("100000"));
    let reports = h.place(h.order(2, Side::Buy, OrderType::Market, "0", "16"));
    let got = fills(&reports);
    assert_eq!(got.len(), 6);
    assert_eq!(got[5], (p("105.01"), q("1"), false), "one tick past 105");

    let mut pessimistic = Harness::new(
        PaperConfig {
            beyond_visible_depth: BeyondVisibleDepth::ExpireRemainder,
            ..config()
        },
        Market::Spot,
    );
    let reports = pessimistic.place(pessimistic.order(3, Side::Buy, OrderType::Market, "0", "16"));
    let total: Qty = fills(&reports)
        .iter()
        .fold(Qty::ZERO, |sum, f| sum.saturating_add(f.1));
    assert_eq!(total, q("15"));
    assert!(is_expired(reports.last().expect("reports"), 3));
}

#[test]
fn liquidity_we_took_is_gone_until_the_next_book_update() {
    let mut h = Harness::spot();
    let first = h.place(h.order(1, Side::Buy, OrderType::Market, "0", "1"));
    assert_eq!(fills(&first), vec![(p("101"), q("1"), false)]);
    let second = h.place(h.order(2, Side::Buy, OrderType::Market, "0", "1"));
    assert_eq!(fills(&second), vec![(p("102"), q("1"), false)]);
    h.market_event(book(2, 100, 101));
    let third = h.place(h.order(3, Side::Buy, OrderType::Market, "0", "1"));
    assert_eq!(fills(&third), vec![(p("101"), q("1"), false)]);
}

#[test]
fn gtc_limit_takes_within_its_price_then_rests_and_fills_at_its_price_as_maker() {
    let mut h = Harness::spot();
    let reports = h.place(h.order(1, Side::Buy, OrderType::Limit, "102", "4"));
    assert_eq!(
        fills(&reports),
        vec![(p("101"), q("1"), false), (p("102"), q("2"), false)]
    );
    assert_eq!(h.venue.open_orders(), 1);
    // A newer ticker shows an ask under our bid: that seller would have hit us.
    let ticker = MarketEventKind::BookTicker(crate::core::BookTicker {
        update_id: 5,
        bid_price: p("100"),
        bid_qty: q("1"),
        ask_price: p("101.5"),
        ask_qty: q("0.4"),
    });
    let crossed = h.market_event(ticker);
    assert_eq!(fills(&crossed), vec![(p("102"), q("0.4"), true)]);
    // A trade below our bid went through it: we fill the rest at our price.
    let through = h.market_event(trade(7, "101.99", "5"));
    assert_eq!(fills(&through), vec![(p("102"), q("0.6"), true)]);
    assert_eq!(h.venue.open_orders(), 0);
    let fee = match through[0] {
        VenueReport::Fill(f) => f.fee,
        _ => panic!("expected a fill, got {through:?}"),
    };
    assert_eq!(fee, q("0.0612"), "maker rate 0.1 % of 61.2");
}

#[test]
fn a_trade_at_the_limit_fills_only_under_the_touch_rule() {
    for (rule, fills_expected) in [(TradeFillRule::ThroughOnly, 0), (TradeFillRule::Touch, 1)] {
        let mut h = Harness::new(
            PaperConfig {
                trade_fill: rule,
                ..config()
            },
            Market::Spot,
        );
        h.place(h.order(1, Side::Buy, OrderType::Limit, "99", "1"));
        let reports = h.market_event(trade(1, "99", "3"));
        assert_eq!(fills(&reports).len(), fills_expected, "{rule:?}");
    }
}

#[test]
fn a_trade_fills_our_resting_orders_only_up_to_its_quantity_in_arrival_order() {
    let mut h = Harness::spot();
    h.place(h.order(1, Side::Sell, OrderType::Limit, "110", "1"));
    h.place(h.order(2, Side::Sell, OrderType::Limit, "109", "1"));
    let reports = h.market_event(trade(1, "111", "1.5"));
    let by_order: Vec<(ClientOrderId, Qty)> = reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.client_order_id, f.qty)),
            _ => None,
        })
        .collect();
    assert_eq!(by_order, vec![(id(1), q("1")), (id(2), q("0.5"))]);
}

#[test]
fn limit_maker_that_would_take_is_rejected_and_one_that_would_not_rests() {
    let mut h = Harness::spot();
    let taking = h.place(h.order(1, Side::Buy, OrderType::LimitMaker, "101", "1"));
    assert_eq!(rejected(&taking), Some((RejectKind::WouldTake, -2010)));
    let resting = h.place(h.order(2, Side::Buy, OrderType::LimitMaker, "100.5", "1"));
    assert!(matches!(resting[..], [VenueReport::Accepted { .. }]));
    assert_eq!(h.venue.open_orders(), 1);
}

#[test]
fn ioc_expires_its_remainder_and_fok_expires_whole_unless_visible_depth_covers_it() {
    let mut h = Harness::spot();
    let ioc = VenueOrder {
        time_in_force: TimeInForce::Ioc,
        ..h.order(1, Side::Buy, OrderType::Limit, "101", "3")
    };
    let reports = h.place(ioc);
    assert_eq!(fills(&reports), vec![(p("101"), q("1"), false)]);
    assert!(is_expired(reports.last().expect("reports"), 1));
    h.market_event(book(2, 100, 101));
    let fok = VenueOrder {
        time_in_force: TimeInForce::Fok,
        ..h.order(2, Side::Buy, OrderType::Limit, "102", "3.5")
    };
    let reports = h.place(fok);
    assert!(fills(&reports).is_empty());
    assert!(is_expired(reports.last().expect("reports"), 2));
    let fok_ok = VenueOrder {
        time_in_force: TimeInForce::Fok,
        ..h.order(3, Side::Buy, OrderType::Limit, "102", "3")
    };
    let reports = h.place(fok_ok);
    assert_eq!(fills(&reports).len(), 2);
    assert_eq!(h.venue.open_orders(), 0);
}

#[test]
fn stop_market_triggers_on_a_trade_reports_triggered_then_fills_as_market() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let instant = VenueOrder {
        trigger_price: p("101"),
        ..h.order(1, Side::Sell, OrderType::StopMarket, "0", "1")
    };
    assert_eq!(
        rejected(&h.place(instant)),
        Some((RejectKind::WouldTrigger, -2010))
    );
    let stop = VenueOrder {
        trigger_price: p("99.5"),
        ..h.order(2, Side::Sell, OrderType::StopMarket, "0", "1.5")
    };
    assert!(matches!(h.place(stop)[..], [VenueReport::Accepted { .. }]));
    assert!(h.market_event(trade(2, "99.6", "1")).is_empty());
    let reports = h.market_event(trade(3, "99.5", "1"));
    assert!(
        matches!(reports[0], VenueReport::Triggered { client_order_id, .. } if client_order_id == id(2))
    );
    assert_eq!(
        fills(&reports),
        vec![(p("100"), q("1"), false), (p("99"), q("0.5"), false)]
    );
}

#[test]
fn take_profit_market_sells_on_a_rise() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let take_profit = VenueOrder {
        trigger_price: p("103"),
        ..h.order(1, Side::Sell, OrderType::TakeProfitMarket, "0", "1")
    };
    assert!(matches!(
        h.place(take_profit)[..],
        [VenueReport::Accepted { .. }]
    ));
    assert!(h.market_event(trade(2, "102.99", "1")).is_empty());
    let reports = h.market_event(trade(3, "103", "1"));
    assert!(matches!(reports[0], VenueReport::Triggered { .. }));
    assert_eq!(fills(&reports), vec![(p("100"), q("1"), false)]);
}

#[test]
fn oco_take_profit_fill_cancels_the_stop_leg() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let placed = h.send(sell_oco(&h, "0"));
    assert_eq!(placed.len(), 2);
    assert_eq!(
        h.venue.locked(Market::Spot, asset("BTC")),
        q("2"),
        "one lock for both legs"
    );
    let reports = h.market_event(trade(2, "110.5", "0.5"));
    assert_eq!(fills(&reports), vec![(p("110"), q("0.5"), true)]);
    assert!(reports.iter().any(|r| is_canceled(r, 11)));
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), q("1.5"));
    assert!(
        h.market_event(trade(3, "94", "1")).is_empty(),
        "the stop leg is gone"
    );
}

#[test]
fn oco_stop_trigger_cancels_the_take_profit_and_a_stop_limit_leg_rests_at_its_limit() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    h.send(sell_oco(&h, "94"));
    h.market_event(book(2, 96, 97));
    let reports = h.market_event(trade(2, "95", "1"));
    assert!(
        matches!(reports[0], VenueReport::Triggered { client_order_id, .. } if client_order_id == id(11))
    );
    assert!(is_canceled(&reports[1], 10));
    // Stop-limit at 94 sells into bids 96, 95 (3 BTC visible ≥ 94): all 2 fill as taker.
    assert_eq!(
        fills(&reports),
        vec![(p("96"), q("1"), false), (p("95"), q("1"), false)]
    );
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);
}

#[test]
fn canceling_one_oco_leg_cancels_both_and_an_oco_on_the_wrong_side_is_refused() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    h.send(sell_oco(&h, "0"));
    let reports = h.send(VenueCommand::Cancel {
        client_order_id: id(11),
        symbol: BTC,
        market: Market::Spot,
    });
    assert!(is_canceled(&reports[0], 11) && is_canceled(&reports[1], 10));
    assert_eq!(h.venue.open_orders(), 0);
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);
    let wrong = VenueCommand::PlaceOco(OcoOrder {
        take_profit_price: p("100"),
        ..match sell_oco(&h, "0") {
            VenueCommand::PlaceOco(oco) => oco,
            _ => unreachable!("sell_oco builds an OCO"),
        }
    });
    let reports = h.send(wrong);
    assert_eq!(reports.len(), 2);
    assert_eq!(rejected(&reports), Some((RejectKind::WouldTake, -2010)));
}

#[test]
fn commands_wait_out_the_entry_latency_and_fill_against_the_book_of_that_moment() {
    let latency = PaperConfig {
        entry_latency_ns: 100,
        report_latency_ns: 30,
        ..config()
    };
    let mut h = Harness::new(latency, Market::Spot);
    let start = h.now_ns;
    h.venue.submit(
        &VenueCommand::Place(h.order(1, Side::Buy, OrderType::Market, "0", "1")),
        start,
    );
    assert!(h.collect().is_empty(), "not at the venue yet");
    h.now_ns = start + 50;
    // The book moved up while the order was on its way.
    let event = MarketEvent {
        symbol: BTC,
        recv_ns: start + 50,
        exch_ts_ms: 0,
        kind: book(2, 110, 111),
    };
    h.venue.on_market(&event);
    h.now_ns = start + 129;
    assert!(h.collect().is_empty(), "executed at +100, reported at +130");
    h.now_ns = start + 130;
    let reports = h.collect();
    assert_eq!(fills(&reports), vec![(p("111"), q("1"), false)]);
}

#[test]
fn venue_order_and_trade_ids_increase_and_replays_are_identical() {
    let script = |h: &mut Harness| -> Vec<VenueReport> {
        let mut all = Vec::new();
        all.extend(h.place(h.order(1, Side::Buy, OrderType::Market, "0", "3")));
        all.extend(h.place(h.order(2, Side::Sell, OrderType::Limit, "104", "2")));
        all.extend(h.market_event(trade(1, "104.5", "1")));
        all.extend(h.market_event(book(2, 103, 104)));
        all.extend(h.place(h.order(3, Side::Sell, OrderType::Market, "0", "1")));
        all
    };
    let first = script(&mut Harness::spot());
    assert_eq!(first, script(&mut Harness::spot()));
    let trade_ids: Vec<u64> = first
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some(f.venue_trade_id),
            _ => None,
        })
        .collect();
    assert!(
        trade_ids.len() >= 4 && trade_ids.windows(2).all(|w| w[0] < w[1]),
        "{trade_ids:?}"
    );
    let order_ids: Vec<u64> = first
        .iter()
        .filter_map(|r| match r {
            VenueReport::Accepted { venue_order_id, .. } => Some(*venue_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(order_ids, vec![1, 2, 3]);
}

#[test]
fn a_buy_oco_locks_quote_for_its_worst_leg_and_its_stop_limit_buys_once_triggered() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let oco = VenueCommand::PlaceOco(OcoOrder {
        list_id: id(100),
        symbol: BTC,
        market: Market::Spot,
        side: Side::Buy,
        qty: q("1"),
        take_profit_id: id(10),
        take_profit_price: p("95"),
        stop_id: id(11),
        stop_trigger: p("106"),
        stop_limit: p("107"),
        ..OcoOrder::default()
    });
    assert_eq!(h.send(oco).len(), 2);
    assert_eq!(
        h.venue.locked(Market::Spot, asset("USDT")),
        q("107.214"),
        "107 × (1 + 0.2 %)"
    );
    let reports = h.market_event(trade(2, "106", "1"));
    assert!(
        matches!(reports[0], VenueReport::Triggered { client_order_id, .. } if client_order_id == id(11))
    );
    assert!(is_canceled(&reports[1], 10));
    assert_eq!(fills(&reports), vec![(p("101"), q("1"), false)]);
    assert_eq!(h.venue.locked(Market::Spot, asset("USDT")), Qty::ZERO);
    assert_eq!(h.venue.open_orders(), 0);
}

#[test]
fn a_stop_limit_triggers_then_rests_at_its_limit_until_the_market_comes_back() {
    let mut h = Harness::spot();
    h.market_event(trade(1, "100.5", "0.1"));
    let stop = VenueOrder {
        trigger_price: p("99.5"),
        ..h.order(1, Side::Sell, OrderType::StopMarket, "99", "1.5")
    };
    assert!(matches!(h.place(stop)[..], [VenueReport::Accepted { .. }]));
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), q("1.5"));
    // The market gaps under the limit: the trigger fires, the limit finds no bid ≥ 99.
    h.market_event(book(2, 97, 98));
    let reports = h.market_event(trade(2, "97.5", "1"));
    assert!(
        matches!(reports[..], [VenueReport::Triggered { client_order_id, .. }] if client_order_id == id(1)),
        "triggered, nothing filled: {reports:?}"
    );
    assert_eq!(h.venue.open_orders(), 1, "resting at its limit");
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), q("1.5"));
    assert!(
        h.market_event(trade(3, "98.9", "5")).is_empty(),
        "under the limit"
    );
    // The price comes back through the limit: filled at the limit as maker.
    let reports = h.market_event(trade(4, "99.2", "1"));
    assert_eq!(fills(&reports), vec![(p("99"), q("1"), true)]);
    let reports = h.market_event(book(3, 100, 101));
    assert_eq!(fills(&reports), vec![(p("99"), q("0.5"), true)]);
    assert_eq!(h.venue.open_orders(), 0);
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);
}
