use super::*;
use crate::core::{BookTop, Level, LotSizeFilter, NotionalFilter, PriceFilter, BOOK_TOP_LEVELS};

const BTC: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}
fn asset(code: &str) -> AssetName {
    AssetName::new(code).expect("test asset codes are short ASCII")
}
fn id(n: u64) -> ClientOrderId {
    ClientOrderId(n)
}

fn instrument(market: Market) -> Instrument {
    let mut inst = Instrument::new("BTCUSDT", market, "BTC", "USDT");
    inst.price_filter = PriceFilter {
        min_price: p("0.01"),
        max_price: p("1000000"),
        tick_size: p("0.01"),
    };
    inst.lot_size = LotSizeFilter {
        min_qty: q("0.001"),
        max_qty: q("9000"),
        step_size: q("0.001"),
    };
    inst.notional = NotionalFilter {
        min_notional: Notional::from_int(5),
        apply_min_to_market: true,
        ..NotionalFilter::default()
    };
    inst
}

fn config() -> PaperConfig {
    PaperConfig {
        maker_fee_rate: Ratio::parse("0.001").expect("valid"),
        taker_fee_rate: Ratio::parse("0.002").expect("valid"),
        ..PaperConfig::default()
    }
}

/// Drives one venue with an advancing clock and collects what `poll` hands out.
struct Harness {
    venue: PaperVenue,
    out: Outbox<VenueReport>,
    now_ns: u64,
    market: Market,
}

impl Harness {
    fn new(config: PaperConfig, market: Market) -> Self {
        let mut venue = PaperVenue::new(config, &[(BTC, instrument(market))])
            .expect("the test instrument is valid");
        venue.fund(market, asset("USDT"), q("100000"));
        venue.fund(market, asset("BTC"), q("10"));
        let mut harness = Self {
            venue,
            out: Outbox::with_capacity(1024),
            now_ns: 1_000,
            market,
        };
        harness.market_event(book(1, 100, 101));
        harness
    }

    fn spot() -> Self {
        Self::new(config(), Market::Spot)
    }

    fn collect(&mut self) -> Vec<VenueReport> {
        self.venue.poll(self.now_ns, &mut self.out);
        self.out.drain().collect()
    }

    fn send(&mut self, command: VenueCommand) -> Vec<VenueReport> {
        self.now_ns += 10;
        self.venue.submit(&command, self.now_ns);
        self.collect()
    }

    fn market_event(&mut self, kind: MarketEventKind) -> Vec<VenueReport> {
        self.now_ns += 10;
        let event = MarketEvent {
            symbol: BTC,
            recv_ns: self.now_ns,
            exch_ts_ms: 1_723_161_255_000 + self.now_ns / 1_000,
            kind,
        };
        self.venue.on_market(&event);
        self.collect()
    }

    fn order(
        &self,
        n: u64,
        side: Side,
        order_type: OrderType,
        price: &str,
        qty: &str,
    ) -> VenueOrder {
        VenueOrder {
            client_order_id: id(n),
            symbol: BTC,
            market: self.market,
            side,
            order_type,
            time_in_force: TimeInForce::Gtc,
            price: p(price),
            trigger_price: Price::ZERO,
            qty: q(qty),
            ..VenueOrder::default()
        }
    }

    fn place(&mut self, order: VenueOrder) -> Vec<VenueReport> {
        self.send(VenueCommand::Place(order))
    }
}

/// A valid book: bids `best_bid`, −1, … and asks `best_ask`, +1, …, quantities 1..5.
fn book(update_id: u64, best_bid: i64, best_ask: i64) -> MarketEventKind {
    let mut top = BookTop {
        last_update_id: update_id,
        valid: true,
        bid_count: BOOK_TOP_LEVELS as u8,
        ask_count: BOOK_TOP_LEVELS as u8,
        ..BookTop::default()
    };
    for i in 0..BOOK_TOP_LEVELS {
        let qty = Qty::from_int(i as i64 + 1);
        top.bids[i] = Level {
            price: Price::from_int(best_bid - i as i64),
            qty,
        };
        top.asks[i] = Level {
            price: Price::from_int(best_ask + i as i64),
            qty,
        };
    }
    MarketEventKind::Book(top)
}

fn trade(trade_id: u64, price: &str, qty: &str) -> MarketEventKind {
    MarketEventKind::Trade(TradePrint {
        trade_id,
        price: p(price),
        qty: q(qty),
        aggressor: Side::Sell,
    })
}

/// (price, qty, maker) of every fill among `reports`.
fn fills(reports: &[VenueReport]) -> Vec<(Price, Qty, bool)> {
    reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.price, f.qty, f.is_maker)),
            _ => None,
        })
        .collect()
}

fn rejected(reports: &[VenueReport]) -> Option<(RejectKind, i32)> {
    reports.iter().find_map(|r| match r {
        VenueReport::Rejected { reject, .. } => Some((reject.kind, reject.code)),
        _ => None,
    })
}

fn is_expired(report: &VenueReport, n: u64) -> bool {
    matches!(report, VenueReport::Expired { client_order_id, .. } if *client_order_id == id(n))
}

fn is_canceled(report: &VenueReport, n: u64) -> bool {
    matches!(report, VenueReport::Canceled { client_order_id, .. } if *client_order_id == id(n))
}

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

fn sell_oco(h: &Harness, stop_limit: &str) -> VenueCommand {
    VenueCommand::PlaceOco(OcoOrder {
        list_id: id(100),
        symbol: BTC,
        market: h.market,
        side: Side::Sell,
        qty: q("2"),
        take_profit_id: id(10),
        take_profit_price: p("110"),
        stop_id: id(11),
        stop_trigger: p("95"),
        stop_limit: p(stop_limit),
        ..OcoOrder::default()
    })
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
fn cancel_cancel_all_and_unknown_cancel() {
    let mut h = Harness::spot();
    h.place(h.order(1, Side::Buy, OrderType::Limit, "90", "1"));
    h.place(h.order(2, Side::Buy, OrderType::Limit, "91", "1"));
    h.place(h.order(3, Side::Sell, OrderType::Limit, "120", "1"));
    let reports = h.send(VenueCommand::Cancel {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::Spot,
    });
    assert!(is_canceled(&reports[0], 1));
    let reports = h.send(VenueCommand::Cancel {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::Spot,
    });
    assert!(matches!(
        reports[0],
        VenueReport::CancelRejected {
            reject: VenueReject {
                kind: RejectKind::UnknownOrder,
                code: -2011,
                ..
            },
            ..
        }
    ));
    let reports = h.send(VenueCommand::CancelAll {
        symbol: BTC,
        market: Market::Spot,
    });
    assert!(is_canceled(&reports[0], 2) && is_canceled(&reports[1], 3));
    assert_eq!(h.venue.open_orders(), 0);
    assert_eq!(h.venue.locked(Market::Spot, asset("USDT")), Qty::ZERO);
    assert_eq!(h.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);
}

#[test]
fn query_answers_from_the_venue_state_for_open_filled_canceled_rejected_and_unknown() {
    let mut h = Harness::spot();
    let query = |n| VenueCommand::QueryOrder {
        client_order_id: id(n),
        symbol: BTC,
        market: Market::Spot,
    };
    h.place(h.order(1, Side::Buy, OrderType::Limit, "101", "1.5"));
    let open = h.send(query(1));
    assert!(matches!(
        open[0],
        VenueReport::Accepted {
            venue_order_id: 1,
            ..
        }
    ));
    assert_eq!(fills(&open), vec![(p("101"), q("1"), false)]);
    h.place(h.order(2, Side::Buy, OrderType::Market, "0", "0.5"));
    let filled = h.send(query(2));
    assert_eq!(filled.len(), 2, "{filled:?}");
    h.send(VenueCommand::Cancel {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::Spot,
    });
    let canceled = h.send(query(1));
    assert!(is_canceled(canceled.last().expect("reports"), 1));
    h.place(h.order(3, Side::Buy, OrderType::Limit, "100.005", "1"));
    assert_eq!(
        rejected(&h.send(query(3))),
        Some((RejectKind::Filter, -1013))
    );
    assert_eq!(
        rejected(&h.send(query(4))),
        Some((RejectKind::UnknownOrder, -2013))
    );
}

#[test]
fn reconcile_reports_open_orders_newer_fills_balances_then_done() {
    let mut h = Harness::spot();
    h.place(h.order(1, Side::Buy, OrderType::Market, "0", "1"));
    h.place(h.order(2, Side::Buy, OrderType::Limit, "90", "2"));
    let reports = h.send(VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::Spot,
        since_trade_id: 0,
    });
    assert!(
        matches!(reports[0], VenueReport::OpenOrder(o) if o.client_order_id == Some(id(2)) && o.qty == q("2"))
    );
    assert!(matches!(reports[1], VenueReport::Fill(f) if f.venue_trade_id == 1));
    // 100000 − 101 − 0.202 fee = 99898.798, of which 2 × 90 × 1.002 = 180.36 is locked.
    assert_eq!(
        reports[2],
        VenueReport::Balance {
            asset: asset("BTC"),
            free: q("11"),
            locked: Qty::ZERO
        }
    );
    assert_eq!(
        reports[3],
        VenueReport::Balance {
            asset: asset("USDT"),
            free: q("99718.438"),
            locked: q("180.36")
        }
    );
    assert_eq!(
        reports[4],
        VenueReport::ReconcileDone {
            symbol: BTC,
            ok: true
        }
    );
    let later = h.send(VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::Spot,
        since_trade_id: 1,
    });
    assert!(!later.iter().any(|r| matches!(r, VenueReport::Fill(_))));
}

#[test]
fn reconcile_says_not_ok_when_newer_trades_fell_out_of_the_log() {
    let mut h = Harness::new(
        PaperConfig {
            trade_history: 1,
            ..config()
        },
        Market::Spot,
    );
    h.place(h.order(1, Side::Buy, OrderType::Market, "0", "2"));
    assert_eq!(h.venue.stats().evicted_trades, 1);
    let reports = h.send(VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::Spot,
        since_trade_id: 0,
    });
    assert_eq!(
        reports.last(),
        Some(&VenueReport::ReconcileDone {
            symbol: BTC,
            ok: false
        })
    );
    let reports = h.send(VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::Spot,
        since_trade_id: 1,
    });
    assert_eq!(
        reports.last(),
        Some(&VenueReport::ReconcileDone {
            symbol: BTC,
            ok: true
        })
    );
}

#[test]
fn refusals_carry_the_reason_and_the_venue_code() {
    let mut h = Harness::spot();
    let off_tick = h.place(h.order(1, Side::Buy, OrderType::Limit, "100.005", "1"));
    assert_eq!(rejected(&off_tick), Some((RejectKind::Filter, -1013)));
    let tiny = h.place(h.order(2, Side::Buy, OrderType::Limit, "100", "0.01"));
    assert_eq!(
        rejected(&tiny),
        Some((RejectKind::Filter, -1013)),
        "notional 1 < 5"
    );
    let too_big = h.place(h.order(3, Side::Buy, OrderType::Limit, "100", "1000"));
    assert_eq!(
        rejected(&too_big),
        Some((RejectKind::InsufficientFunds, -2010))
    );
    let oversell = h.place(h.order(4, Side::Sell, OrderType::Market, "0", "10.001"));
    assert_eq!(
        rejected(&oversell),
        Some((RejectKind::InsufficientFunds, -2010))
    );
    let unknown = VenueOrder {
        symbol: SymbolId(9),
        ..h.order(5, Side::Buy, OrderType::Market, "0", "1")
    };
    assert_eq!(
        rejected(&h.place(unknown)),
        Some((RejectKind::BadSymbol, -1121))
    );
    let wrong_market = VenueOrder {
        market: Market::UsdmFutures,
        ..h.order(6, Side::Buy, OrderType::Market, "0", "1")
    };
    assert_eq!(
        rejected(&h.place(wrong_market)),
        Some((RejectKind::BadSymbol, -1121))
    );
    h.place(h.order(7, Side::Buy, OrderType::Limit, "90", "1"));
    let duplicate = h.place(h.order(7, Side::Buy, OrderType::Limit, "91", "1"));
    assert_eq!(rejected(&duplicate), Some((RejectKind::Duplicate, -2010)));
    assert_eq!(h.venue.stats().rejected, 7);
}

#[test]
fn a_resting_buy_locks_its_quote_so_a_second_cannot_spend_it() {
    let mut h = Harness::spot();
    h.venue.fund(Market::Spot, asset("USDT"), q("1002"));
    assert!(matches!(
        h.place(h.order(1, Side::Buy, OrderType::Limit, "100", "10"))[..],
        [VenueReport::Accepted { .. }]
    ));
    assert_eq!(h.venue.free(Market::Spot, asset("USDT")), Qty::ZERO);
    let second = h.place(h.order(2, Side::Buy, OrderType::Limit, "50", "1"));
    assert_eq!(
        rejected(&second),
        Some((RejectKind::InsufficientFunds, -2010))
    );
}

#[test]
fn a_full_order_table_refuses_with_its_own_code() {
    let mut h = Harness::new(
        PaperConfig {
            max_open_orders: 2,
            ..config()
        },
        Market::Spot,
    );
    h.place(h.order(1, Side::Buy, OrderType::Limit, "90", "1"));
    h.place(h.order(2, Side::Buy, OrderType::Limit, "91", "1"));
    let full = h.place(h.order(3, Side::Buy, OrderType::Limit, "92", "1"));
    assert_eq!(
        rejected(&full),
        Some((RejectKind::Unavailable, CODE_ORDER_TABLE_FULL))
    );
    h.send(VenueCommand::Cancel {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::Spot,
    });
    assert!(matches!(
        h.place(h.order(4, Side::Buy, OrderType::Limit, "92", "1"))[..],
        [VenueReport::Accepted { .. }]
    ));
}

#[test]
fn a_market_order_with_no_book_and_no_trade_is_refused() {
    let mut venue =
        PaperVenue::new(config(), &[(BTC, instrument(Market::UsdmFutures))]).expect("valid");
    let order = VenueOrder {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::UsdmFutures,
        qty: q("1"),
        ..VenueOrder::default()
    };
    venue.submit(&VenueCommand::Place(order), 1);
    let mut out = Outbox::with_capacity(8);
    venue.poll(1, &mut out);
    let reports: Vec<_> = out.drain().collect();
    assert_eq!(
        rejected(&reports),
        Some((RejectKind::Unavailable, CODE_NO_MARKET_DATA))
    );
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
fn a_full_latency_queue_refuses_each_command_kind_with_an_answer() {
    let mut h = Harness::new(
        PaperConfig {
            entry_latency_ns: 1_000,
            max_pending_commands: 1,
            ..config()
        },
        Market::Spot,
    );
    let now = h.now_ns;
    h.venue.submit(
        &VenueCommand::CancelAll {
            symbol: BTC,
            market: Market::Spot,
        },
        now,
    );
    h.venue.submit(
        &VenueCommand::Place(h.order(1, Side::Buy, OrderType::Market, "0", "1")),
        now,
    );
    h.venue.submit(
        &VenueCommand::QueryOrder {
            client_order_id: id(1),
            symbol: BTC,
            market: Market::Spot,
        },
        now,
    );
    h.venue.submit(
        &VenueCommand::Reconcile {
            symbol: BTC,
            market: Market::Spot,
            since_trade_id: 0,
        },
        now,
    );
    let reports = h.collect();
    assert_eq!(
        rejected(&reports),
        Some((RejectKind::Unavailable, CODE_COMMAND_QUEUE_FULL))
    );
    assert_eq!(
        reports[1],
        VenueReport::StatusUnknown {
            client_order_id: id(1)
        }
    );
    assert_eq!(
        reports[2],
        VenueReport::ReconcileDone {
            symbol: BTC,
            ok: false
        }
    );
    assert_eq!(h.venue.stats().refused_commands, 3);
}

#[test]
fn futures_reduce_only_must_reduce_and_stops_at_the_position() {
    let mut h = Harness::new(config(), Market::UsdmFutures);
    let flat = VenueOrder {
        reduce_only: true,
        ..h.order(1, Side::Sell, OrderType::Market, "0", "1")
    };
    assert_eq!(
        rejected(&h.place(flat)),
        Some((RejectKind::ReduceOnly, -2022))
    );
    // No margin model: a futures buy with an empty wallet is accepted.
    h.venue.fund(Market::UsdmFutures, asset("USDT"), Qty::ZERO);
    let opened = h.place(h.order(2, Side::Buy, OrderType::Market, "0", "1.5"));
    assert_eq!(fills(&opened).len(), 2);
    h.market_event(book(2, 100, 101));
    let reduce = VenueOrder {
        reduce_only: true,
        ..h.order(3, Side::Sell, OrderType::Market, "0", "4")
    };
    let reports = h.place(reduce);
    assert_eq!(
        fills(&reports),
        vec![(p("100"), q("1"), false), (p("99"), q("0.5"), false)]
    );
    assert!(is_expired(reports.last().expect("reports"), 3));
    let position = h
        .venue
        .account()
        .position(Market::UsdmFutures, BTC)
        .expect("registered");
    assert!(position.is_flat());
    let reconcile = h.send(VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::UsdmFutures,
        since_trade_id: 0,
    });
    assert!(reconcile
        .iter()
        .any(|r| matches!(r, VenueReport::Position { qty, .. } if qty.is_zero())));
}

#[test]
fn margin_with_a_borrowing_side_effect_skips_the_funds_check() {
    let mut h = Harness::new(config(), Market::Margin);
    let plain = h.order(1, Side::Buy, OrderType::Market, "0", "5000");
    assert_eq!(
        rejected(&h.place(plain)),
        Some((RejectKind::InsufficientFunds, -2010))
    );
    let borrow = VenueOrder {
        margin: crate::oms::venue::MarginParams {
            isolated: true,
            side_effect: MarginSideEffect::MarginBuy,
        },
        ..h.order(2, Side::Buy, OrderType::Market, "0", "20")
    };
    let reports = h.place(borrow);
    assert_eq!(fills(&reports).len(), 6);
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
fn construction_refuses_bad_instruments_and_configs() {
    let bad = Instrument::new("BTCUSDT", Market::Spot, "", "USDT");
    assert!(matches!(
        PaperVenue::new(config(), &[(BTC, bad)]),
        Err(PaperError::BadAsset { .. })
    ));
    let twice = [
        (BTC, instrument(Market::Spot)),
        (BTC, instrument(Market::UsdmFutures)),
    ];
    assert!(matches!(
        PaperVenue::new(config(), &twice),
        Err(PaperError::DuplicateSymbol { .. })
    ));
    let no_room = PaperConfig {
        max_open_orders: 1,
        ..config()
    };
    assert!(matches!(
        PaperVenue::new(no_room, &[]),
        Err(PaperError::Config(_))
    ));
    let free_money = PaperConfig {
        taker_fee_rate: Ratio::from_int(-1),
        ..config()
    };
    assert!(matches!(
        PaperVenue::new(free_money, &[]),
        Err(PaperError::Config(_))
    ));
}
