//! The account and the venue's answers: refusals, funds and locks, limits, cancel, query,
//! reconcile, reduce-only, margin, construction.

use super::*;

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

#[test]
fn open_order_and_algo_order_limits_of_the_instrument_apply() {
    let mut inst = instrument(Market::Spot);
    inst.max_num_orders = 3;
    inst.max_num_algo_orders = 1;
    let mut venue = PaperVenue::new(config(), &[(BTC, inst)]).expect("valid");
    venue.fund(Market::Spot, asset("BTC"), q("10"));
    venue.fund(Market::Spot, asset("USDT"), q("100000"));
    let mut h = Harness {
        venue,
        out: Outbox::with_capacity(64),
        now_ns: 1_000,
        market: Market::Spot,
    };
    h.market_event(book(1, 100, 101));
    let stop = |h: &Harness, n| VenueOrder {
        trigger_price: p("90"),
        ..h.order(n, Side::Sell, OrderType::StopMarket, "0", "1")
    };
    assert!(matches!(
        h.place(stop(&h, 1))[..],
        [VenueReport::Accepted { .. }]
    ));
    assert_eq!(
        rejected(&h.place(stop(&h, 2))),
        Some((RejectKind::Filter, -1013))
    );
    assert!(matches!(
        h.place(h.order(3, Side::Buy, OrderType::Limit, "90", "1"))[..],
        [VenueReport::Accepted { .. }]
    ));
    let oco = sell_oco(&h, "0");
    assert_eq!(
        rejected(&h.send(oco)),
        Some((RejectKind::Filter, -1013)),
        "its stop leg is a second algo order"
    );
    h.send(VenueCommand::Cancel {
        client_order_id: id(1),
        symbol: BTC,
        market: Market::Spot,
    });
    assert_eq!(h.send(oco).len(), 2, "two slots and one algo slot free");
    assert_eq!(
        rejected(&h.place(h.order(4, Side::Buy, OrderType::Limit, "91", "1"))),
        Some((RejectKind::Filter, -1013))
    );
}

#[test]
fn a_futures_start_position_is_reported_and_can_be_reduced() {
    let mut h = Harness::new(config(), Market::UsdmFutures);
    let set = h
        .venue
        .set_position(BTC, q("-2"), p("105"))
        .expect("a traded futures symbol");
    assert_eq!((set.qty_before, set.qty_after), (Qty::ZERO, q("-2")));
    assert!(h.venue.set_position(SymbolId(5), q("1"), p("1")).is_err());
    let reconcile = VenueCommand::Reconcile {
        symbol: BTC,
        market: Market::UsdmFutures,
        since_trade_id: 0,
    };
    let reports = h.send(reconcile);
    assert!(reports.contains(&VenueReport::Position {
        symbol: BTC,
        qty: q("-2"),
        entry_price: p("105")
    }));
    let cover = VenueOrder {
        reduce_only: true,
        ..h.order(1, Side::Buy, OrderType::Market, "0", "1")
    };
    assert_eq!(fills(&h.place(cover)), vec![(p("101"), q("1"), false)]);
    let position = h
        .venue
        .account()
        .position(Market::UsdmFutures, BTC)
        .expect("registered");
    // Covered 1 of a short entered at 105 at 101: +4, before the 0.202 fee.
    assert_eq!(
        (position.qty, position.realized_pnl),
        (q("-1"), Notional::from_int(4))
    );
}
