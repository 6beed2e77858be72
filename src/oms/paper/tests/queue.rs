//! Queue models: a resting limit fills from trades at its price only once they clear the
//! quantity ahead of it, and level changes move that quantity as hftbacktest's models do.

use super::*;

/// A valid book with the given bids and asks, best first.
fn levels_book(update_id: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> MarketEventKind {
    let mut top = BookTop {
        last_update_id: update_id,
        valid: true,
        bid_count: bids.len() as u8,
        ask_count: asks.len() as u8,
        ..BookTop::default()
    };
    for (slot, (price, qty)) in top.bids.iter_mut().zip(bids) {
        *slot = Level {
            price: p(price),
            qty: q(qty),
        };
    }
    for (slot, (price, qty)) in top.asks.iter_mut().zip(asks) {
        *slot = Level {
            price: p(price),
            qty: q(qty),
        };
    }
    MarketEventKind::Book(top)
}

/// The book around 60000 with `at_60000` BTC bid at 60000.
fn book_60000(update_id: u64, at_60000: &str) -> MarketEventKind {
    levels_book(
        update_id,
        &[
            ("60000", at_60000),
            ("59999", "1"),
            ("59998", "1"),
            ("59997", "1"),
            ("59996", "1"),
        ],
        &[
            ("60001", "1"),
            ("60002", "1"),
            ("60003", "1"),
            ("60004", "1"),
            ("60005", "1"),
        ],
    )
}

fn print(trade_id: u64, price: &str, qty: &str, aggressor: Side) -> MarketEventKind {
    MarketEventKind::Trade(TradePrint {
        trade_id,
        price: p(price),
        qty: q(qty),
        aggressor,
    })
}

fn with_queue(model: QueueModel) -> Harness {
    Harness::new(
        PaperConfig {
            queue_model: model,
            ..config()
        },
        Market::Spot,
    )
}

/// (order, price, qty, maker, fee) of every fill among `reports`.
fn fill_rows(reports: &[VenueReport]) -> Vec<(ClientOrderId, Price, Qty, bool, Qty)> {
    reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.client_order_id, f.price, f.qty, f.is_maker, f.fee)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_buy_behind_2_5_btc_fills_only_once_trades_at_its_price_clear_the_queue() {
    for model in [
        QueueModel::RiskAverse,
        QueueModel::Probabilistic { power: 2 },
        QueueModel::Probabilistic { power: 3 },
    ] {
        let mut h = with_queue(model);
        h.market_event(book_60000(2, "2.5"));
        let placed = h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
        assert!(
            matches!(placed[..], [VenueReport::Accepted { .. }]),
            "{model:?}"
        );
        assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2.5")), "{model:?}");
        // A buyer lifting at 60000 does not trade with the bids: the queue stays.
        assert!(h
            .market_event(print(1, "60000", "1.5", Side::Buy))
            .is_empty());
        assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2.5")), "{model:?}");
        assert!(h
            .market_event(print(2, "60000", "1.5", Side::Sell))
            .is_empty());
        assert!(h
            .market_event(print(3, "60000", "0.9", Side::Sell))
            .is_empty());
        assert_eq!(h.venue.queue_ahead(id(1)), Some(q("0.1")), "{model:?}");
        // 2.5 + 0.3 traded: the 0.3 past the queue is ours; maker fee 0.1 % of 18000 = 18.
        let partial = h.market_event(print(4, "60000", "0.4", Side::Sell));
        assert_eq!(
            fill_rows(&partial),
            vec![(id(1), p("60000"), q("0.3"), true, q("18"))],
            "{model:?}"
        );
        assert_eq!(h.venue.queue_ahead(id(1)), Some(Qty::ZERO));
        let rest = h.market_event(print(5, "60000", "0.9", Side::Sell));
        assert_eq!(
            fill_rows(&rest),
            vec![(id(1), p("60000"), q("0.7"), true, q("42"))],
            "{model:?}: 0.7 of the 0.9 is left to fill, fee 0.1 % of 42000"
        );
        assert_eq!(h.venue.open_orders(), 0);
        let account = h.venue.account();
        assert_eq!(account.balance(Market::Spot, asset("USDT")), q("39940"));
        assert_eq!(account.balance(Market::Spot, asset("BTC")), q("11"));
    }
}

#[test]
fn without_a_queue_model_trades_at_the_limit_fill_nothing_as_before() {
    let mut h = Harness::spot();
    h.market_event(book_60000(2, "2.5"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
    assert_eq!(h.venue.queue_ahead(id(1)), None);
    for n in 0..4 {
        assert!(h
            .market_event(print(n, "60000", "2", Side::Sell))
            .is_empty());
    }
    let through = h.market_event(print(9, "59999", "0.4", Side::Sell));
    assert_eq!(
        fill_rows(&through),
        vec![(id(1), p("60000"), q("0.4"), true, q("24"))]
    );
}

#[test]
fn our_orders_at_one_price_share_a_trade_in_arrival_order() {
    let mut h = with_queue(QueueModel::RiskAverse);
    h.venue.fund(Market::Spot, asset("USDT"), q("200000"));
    h.market_event(book_60000(2, "2.5"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
    let second = h.place(h.order(2, Side::Buy, OrderType::Limit, "60000", "1"));
    assert!(matches!(second[..], [VenueReport::Accepted { .. }]));
    // 3 traded: 2.5 ahead of both, 0.5 to order 1, which is ahead of order 2.
    let first = h.market_event(print(1, "60000", "3", Side::Sell));
    assert_eq!(
        fill_rows(&first),
        vec![(id(1), p("60000"), q("0.5"), true, q("30"))]
    );
    // 1 traded: order 1's last 0.5, then 0.5 for order 2.
    let second = h.market_event(print(2, "60000", "1", Side::Sell));
    assert_eq!(
        fill_rows(&second),
        vec![
            (id(1), p("60000"), q("0.5"), true, q("30")),
            (id(2), p("60000"), q("0.5"), true, q("30")),
        ]
    );
}

#[test]
fn a_price_beyond_the_visible_levels_starts_its_queue_when_the_level_first_shows() {
    let mut h = with_queue(QueueModel::RiskAverse);
    h.market_event(book_60000(2, "1"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "59990", "0.5"));
    assert_eq!(h.venue.queue_ahead(id(1)), None, "59990 is past the 5 bids");
    assert!(
        h.market_event(print(1, "59990", "5", Side::Sell))
            .is_empty(),
        "an unknown queue cannot fill from trades at its price"
    );
    let lower = levels_book(
        3,
        &[
            ("59992", "1"),
            ("59991", "1"),
            ("59990", "0.8"),
            ("59989", "1"),
            ("59988", "1"),
        ],
        &[("59993", "1"), ("59994", "1")],
    );
    h.market_event(lower);
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("0.8")));
    let reports = h.market_event(print(2, "59990", "1", Side::Sell));
    assert_eq!(
        fill_rows(&reports),
        vec![(id(1), p("59990"), q("0.2"), true, q("11.998"))]
    );
    // A trade through the price fills as without a queue model.
    let through = h.market_event(print(3, "59989.5", "2", Side::Sell));
    assert_eq!(
        fill_rows(&through),
        vec![(id(1), p("59990"), q("0.3"), true, q("17.997"))]
    );
}

#[test]
fn a_cancel_driven_decrease_moves_the_queue_per_model() {
    // Ahead 2.5; others join behind (level 4); 1 BTC is canceled (level 3), no trade.
    // RiskAverse: min(2.5, 3) = 2.5.
    // Probabilistic, front 2.5, back 1.5, chg 1: p = 0.6^n / (1 + 0.6^n);
    //   n = 2: p = 0.36/1.36 = 9/34 → 0.264705882352941176; ahead = 2.5 − (1 − p) = 30/17
    //          = 1.764705882352941176 (after truncation at 1e-18);
    //   n = 3: p = 0.216/1.216 = 27/152 → 0.177631578947368421; ahead = 255/152
    //          = 1.677631578947368421.
    // A trade of 2 then fills 2 − ahead, rounded down to the 0.001 lot: 0, 0.235, 0.322.
    let cases = [
        (QueueModel::RiskAverse, q("2.5"), None),
        (
            QueueModel::Probabilistic { power: 2 },
            Qty::from_raw(1_764_705_882_352_941_176),
            Some((q("0.235"), q("14.1"))),
        ),
        (
            QueueModel::Probabilistic { power: 3 },
            Qty::from_raw(1_677_631_578_947_368_421),
            Some((q("0.322"), q("19.32"))),
        ),
    ];
    for (model, ahead, fill) in cases {
        let mut h = with_queue(model);
        h.market_event(book_60000(2, "2.5"));
        h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
        h.market_event(book_60000(3, "4"));
        assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2.5")), "{model:?}");
        h.market_event(book_60000(4, "3"));
        assert_eq!(h.venue.queue_ahead(id(1)), Some(ahead), "{model:?}");
        let reports = h.market_event(print(1, "60000", "2", Side::Sell));
        let expected: Vec<_> = fill
            .into_iter()
            .map(|(qty, fee)| (id(1), p("60000"), qty, true, fee))
            .collect();
        assert_eq!(fill_rows(&reports), expected, "{model:?}");
    }
    // RiskAverse: a decrease under the queue caps it at the new level.
    let mut h = with_queue(QueueModel::RiskAverse);
    h.market_event(book_60000(2, "2.5"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
    h.market_event(book_60000(3, "1.2"));
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("1.2")));
    let reports = h.market_event(print(1, "60000", "1.5", Side::Sell));
    assert_eq!(
        fill_rows(&reports),
        vec![(id(1), p("60000"), q("0.3"), true, q("18"))]
    );
}

#[test]
fn a_trade_and_the_level_decrease_it_causes_count_once_in_the_probabilistic_model() {
    let mut h = with_queue(QueueModel::Probabilistic { power: 2 });
    h.market_event(book_60000(2, "2.5"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
    h.market_event(book_60000(3, "4"));
    assert!(h
        .market_event(print(1, "60000", "0.5", Side::Sell))
        .is_empty());
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2")));
    // The book shows the traded 0.5 gone (4 → 3.5): net decrease 0, the queue stays at 2.
    h.market_event(book_60000(4, "3.5"));
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2")));
    // Then 0.5 canceled (3.5 → 3): front 2, back 1.5, p = 0.75² / (1 + 0.75²) = 0.36,
    // ahead = 2 − 0.64 × 0.5 = 1.68.
    h.market_event(book_60000(5, "3"));
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("1.68")));
}

#[test]
fn a_newer_ticker_moves_the_queue_at_the_best_bid_and_a_crossing_book_fills_as_before() {
    let mut h = with_queue(QueueModel::RiskAverse);
    h.market_event(book_60000(2, "2.5"));
    h.place(h.order(1, Side::Buy, OrderType::Limit, "60000", "1"));
    let ticker = |update_id, bid_qty: &str, ask: &str, ask_qty: &str| {
        MarketEventKind::BookTicker(crate::core::BookTicker {
            update_id,
            bid_price: p("60000"),
            bid_qty: q(bid_qty),
            ask_price: p(ask),
            ask_qty: q(ask_qty),
        })
    };
    h.market_event(ticker(3, "0.7", "60001", "1"));
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("0.7")));
    // A seller shows 0.4 at our price: the book crosses us, we fill as maker at 60000.
    let crossed = h.market_event(ticker(4, "0.7", "60000", "0.4"));
    assert_eq!(
        fill_rows(&crossed),
        vec![(id(1), p("60000"), q("0.4"), true, q("24"))]
    );
}

#[test]
fn a_still_taking_order_has_no_queue_until_it_turns_passive() {
    let mut h = with_queue(QueueModel::RiskAverse);
    h.venue.fund(Market::Spot, asset("USDT"), q("1000000"));
    h.market_event(book_60000(2, "2.5"));
    // Asks 60001 … 60005, 1 BTC each, all under the limit 60010: 5 of 7 fill as taker and
    // nothing visible is left, so the other 2 keep taking, outside any queue.
    let arrival = h.place(h.order(1, Side::Buy, OrderType::Limit, "60010", "7"));
    assert_eq!(fill_rows(&arrival).len(), 5);
    assert_eq!(h.venue.queue_ahead(id(1)), None);
    // A trade under the limit: we are the aggressor, 1 at 60008 as taker (fee 0.2 %).
    let traded = h.market_event(print(1, "60008", "1", Side::Sell));
    assert_eq!(
        fill_rows(&traded),
        vec![(id(1), p("60008"), q("1"), false, q("120.016"))]
    );
    // The book shows an ask above the limit: no longer crossed, passive behind the 2 BTC bid
    // at 60010.
    let moved = h.market_event(levels_book(
        3,
        &[("60010", "2"), ("60009", "1")],
        &[("60012", "1")],
    ));
    assert!(fill_rows(&moved).is_empty());
    assert_eq!(h.venue.queue_ahead(id(1)), Some(q("2")));
    // Trades at our price clear the 2 ahead; the 0.5 beyond fills us as maker (fee 0.1 %).
    let reports = h.market_event(print(2, "60010", "2.5", Side::Sell));
    assert_eq!(
        fill_rows(&reports),
        vec![(id(1), p("60010"), q("0.5"), true, q("30.005"))]
    );
}
