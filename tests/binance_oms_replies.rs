//! Binance REST and WebSocket API replies (the nautilus spot and futures `http_json`
//! fixtures, documented error bodies) become the expected venue reports, field by field;
//! malformed or mismatched replies are typed errors, never panics.

mod binance_oms_support;
mod common;

use binance_oms_support::{a, nautilus_fixture, ours, p, q, Symbols};

use kestrel::core::{
    ClientOrderId, Market, OrderStatus, OrderType, Price, Qty, Side, SymbolId, SymbolTable,
};
use kestrel::oms::binance::exchange_info::parse_exchange_info;
use kestrel::oms::binance::rate_limit::{LimitKind, RateLimiter};
use kestrel::oms::binance::response::{
    parse_rest_reply, parse_ws_reply, ws_reply, Pending, ReplyContext, ReplyKind, ReplyOutcome,
};
use kestrel::oms::binance::{
    BinanceOrderCodec, CodecConfig, HmacSigner, InstrumentFamily, OrderRoute, OrderSymbols,
    ParseErrorKind, Request,
};
use kestrel::oms::venue::{
    LinkState, RejectKind, VenueFill, VenueOpenOrder, VenueOrder, VenueReject, VenueReport,
};

type Setup = Symbols;

fn setup() -> Setup {
    Symbols::new()
}

fn pending(kind: ReplyKind, market: Market, symbol: SymbolId, id: &str) -> Pending {
    Pending {
        kind,
        market,
        route: OrderRoute::Book,
        symbol,
        client_order_id: ours(id),
    }
}

fn no_orders(_: SymbolId, _: u64) -> Option<ClientOrderId> {
    None
}

/// Parses a 200 reply; returns the outcome and the reports.
fn reply(
    setup: &Setup,
    body: &str,
    pending: &Pending,
    orders: &dyn kestrel::oms::binance::response::OrderIds,
) -> Result<(ReplyOutcome, Vec<VenueReport>), kestrel::oms::binance::ParseError> {
    let context = ReplyContext {
        symbols: setup.of(pending.market),
        orders,
    };
    let mut reports = Vec::new();
    let outcome = parse_rest_reply(200, None, body.as_bytes(), pending, &context, &mut reports)?;
    Ok((outcome, reports))
}

fn fixture(test: &str, market: &str, name: &str) -> Option<String> {
    nautilus_fixture(test, market, "http_json", name)
}

#[test]
fn spot_full_order_reply_gives_accepted_then_each_fill() {
    let Some(body) = fixture(
        "spot_full_order_reply",
        "spot",
        "new_order_full_response.json",
    ) else {
        return;
    };
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let place = pending(ReplyKind::Place, Market::Spot, btc, "ks3-7");
    let err = reply(&setup, &body, &place, &no_orders).expect_err("the fixture's id is not ours");
    assert_eq!(err.kind(), ParseErrorKind::Mismatch);

    let body = body.replace("6gCrw2kRUAF9CvJDGP16IP", "ks3-7");
    let (outcome, reports) = reply(&setup, &body, &place, &no_orders).expect("valid reply");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 6,
            skipped: 0
        }
    );
    assert_eq!(
        reports[0],
        VenueReport::Accepted {
            client_order_id: ours("ks3-7"),
            venue_order_id: 28,
            venue_ts_ms: 1507725176595
        }
    );
    let fill = |price: &str, qty: &str, fee: &str, trade_id: u64| {
        VenueReport::Fill(VenueFill {
            client_order_id: ours("ks3-7"),
            symbol: btc,
            market: Market::Spot,
            side: Side::Sell,
            price: p(price),
            qty: q(qty),
            fee: q(fee),
            fee_asset: a("USDT"),
            venue_trade_id: trade_id,
            venue_order_id: 28,
            is_maker: false,
            venue_ts_ms: 1507725176595,
        })
    };
    assert_eq!(
        reports[1..],
        [
            fill("4000", "1", "4", 56),
            fill("3999", "5", "19.995", 57),
            fill("3998", "2", "7.996", 58),
            fill("3997", "1", "3.997", 59),
            fill("3995", "1", "3.995", 60),
        ]
    );
}

#[test]
fn spot_cancel_query_and_open_orders_replies() {
    let setup = setup();
    let ltc = setup.id("LTCBTC");
    let Some(cancel) = fixture("spot_cancel_reply", "spot", "cancel_order_response.json") else {
        return;
    };
    let cancel = cancel.replace("\"myOrder1\"", "\"ks1-4\"");
    let (_, reports) = reply(
        &setup,
        &cancel,
        &pending(ReplyKind::Cancel, Market::Spot, ltc, "ks1-4"),
        &no_orders,
    )
    .expect("valid cancel reply");
    assert_eq!(
        reports,
        [VenueReport::Canceled {
            client_order_id: ours("ks1-4"),
            venue_ts_ms: 1684804350068
        }]
    );

    let Some(query) = fixture("spot_query_reply", "spot", "order_response.json") else {
        return;
    };
    let query = query.replace("\"myOrder1\"", "\"ks1-4\"");
    let (_, reports) = reply(
        &setup,
        &query,
        &pending(ReplyKind::QueryOrder, Market::Spot, ltc, "ks1-4"),
        &no_orders,
    )
    .expect("valid query reply");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks1-4"),
            venue_order_id: 1,
            venue_ts_ms: 1499827319559
        }]
    );

    let Some(open) = fixture("spot_open_orders", "spot", "open_orders_response.json") else {
        return;
    };
    let (outcome, reports) = reply(
        &setup,
        &open,
        &pending(ReplyKind::OpenOrders, Market::Spot, ltc, "ks1-4"),
        &no_orders,
    )
    .expect("valid open orders");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 1,
            skipped: 0
        }
    );
    assert_eq!(
        reports,
        [VenueReport::OpenOrder(VenueOpenOrder {
            client_order_id: None, // "myOrder1" is a manual order, not ours
            venue_order_id: 1,
            symbol: ltc,
            market: Market::Spot,
            side: Side::Buy,
            order_type: OrderType::Limit,
            price: p("0.1"),
            trigger_price: Price::ZERO,
            qty: q("1"),
            filled_qty: Qty::ZERO,
            reduce_only: false,
        })]
    );
}

#[test]
fn spot_cancel_all_reports_plain_orders_and_oco_legs() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    // The documented DELETE /api/v3/openOrders reply shape: an order, then an OCO list.
    let body = r#"[
      {"symbol":"BTCUSDT","origClientOrderId":"ks2-1","orderId":11,"orderListId":-1,
       "clientOrderId":"cancel1","transactTime":1684804350068,"price":"0.089853","origQty":"0.178622",
       "executedQty":"0.000000","cummulativeQuoteQty":"0.000000","status":"CANCELED",
       "timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"},
      {"orderListId":1929,"contingencyType":"OCO","listStatusType":"ALL_DONE",
       "listOrderStatus":"ALL_DONE","listClientOrderId":"ks2-2","transactionTime":1684804350068,
       "symbol":"BTCUSDT","orders":[{"symbol":"BTCUSDT","orderId":20,"clientOrderId":"ks2-3"},
       {"symbol":"BTCUSDT","orderId":21,"clientOrderId":"manual"}],
       "orderReports":[
         {"symbol":"BTCUSDT","origClientOrderId":"ks2-3","orderId":20,"orderListId":1929,
          "clientOrderId":"cancel2","transactTime":1684804350069,"price":"0.668611","origQty":"0.690354",
          "executedQty":"0.000000","cummulativeQuoteQty":"0.000000","status":"CANCELED",
          "timeInForce":"GTC","type":"STOP_LOSS_LIMIT","side":"BUY","stopPrice":"0.378131",
          "selfTradePreventionMode":"NONE"},
         {"symbol":"BTCUSDT","origClientOrderId":"manual","orderId":21,"orderListId":1929,
          "clientOrderId":"cancel3","transactTime":1684804350069,"price":"0.008791","origQty":"0.690354",
          "executedQty":"0.000000","cummulativeQuoteQty":"0.000000","status":"CANCELED",
          "timeInForce":"GTC","type":"LIMIT_MAKER","side":"BUY","selfTradePreventionMode":"NONE"}]}
    ]"#;
    let (outcome, reports) = reply(
        &setup,
        body,
        &pending(ReplyKind::CancelAll, Market::Spot, btc, "ks2-1"),
        &no_orders,
    )
    .expect("valid cancel-all reply");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 2,
            skipped: 1
        }
    );
    assert_eq!(
        reports,
        [
            VenueReport::Canceled {
                client_order_id: ours("ks2-1"),
                venue_ts_ms: 1684804350068
            },
            VenueReport::Canceled {
                client_order_id: ours("ks2-3"),
                venue_ts_ms: 1684804350069
            },
        ]
    );
    let (outcome, _) = reply(
        &setup,
        r#"{"code":200,"msg":"The operation of cancel all open order is done."}"#,
        &pending(ReplyKind::CancelAll, Market::UsdmFutures, btc, "ks2-1"),
        &no_orders,
    )
    .expect("futures answers with a notice");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 0,
            skipped: 0
        }
    );
}

#[test]
fn spot_trades_map_venue_order_ids_to_our_ids() {
    let Some(body) = fixture("spot_trades", "spot", "account_trades_response.json") else {
        return;
    };
    let setup = setup();
    let bnb = setup.id("BNBBTC");
    let trades = pending(ReplyKind::Trades, Market::Spot, bnb, "ks1-1");
    // An order id the gateway does not know: reported under client id 0, for the gateway
    // to resolve with allOrders, never dropped (a fill would be lost) nor guessed.
    let (outcome, reports) = reply(&setup, &body, &trades, &no_orders).expect("valid");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 1,
            skipped: 0
        }
    );
    assert!(matches!(
        reports.as_slice(),
        [VenueReport::Fill(fill)] if fill.client_order_id == ClientOrderId(0)
            && fill.venue_order_id == 100234
            && fill.venue_trade_id == 28457
    ));

    let known =
        |symbol: SymbolId, order: u64| (symbol == bnb && order == 100234).then(|| ours("ks2-9"));
    let (_, reports) = reply(&setup, &body, &trades, &known).expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Fill(VenueFill {
            client_order_id: ours("ks2-9"),
            symbol: bnb,
            market: Market::Spot,
            side: Side::Buy,
            price: p("4.000001"),
            qty: q("12"),
            fee: q("10.1"),
            fee_asset: a("BNB"),
            venue_trade_id: 28457,
            venue_order_id: 100234,
            is_maker: false,
            venue_ts_ms: 1499865549590,
        })]
    );
}

#[test]
fn spot_all_orders_report_each_order_with_its_status_and_filled_quantity() {
    let Some(body) = fixture("spot_all_orders", "spot", "open_orders_response.json") else {
        return;
    };
    let setup = setup();
    let ltc = setup.id("LTCBTC");
    // allOrders answers the open-orders array shape with orders in any state: the real
    // payload, once as is (a manual order) and once as ours, filled in part and cancelled.
    let ours_cancelled = body
        .replace("\"myOrder1\"", "\"ks3-17\"")
        .replace("\"orderId\": 1,", "\"orderId\": 2,")
        .replace("\"executedQty\": \"0.0\"", "\"executedQty\": \"0.4\"")
        .replace("\"NEW\"", "\"CANCELED\"");
    let both = format!(
        "[{},{}]",
        body.trim().trim_start_matches('[').trim_end_matches(']'),
        ours_cancelled
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
    );
    let all = pending(ReplyKind::AllOrders, Market::Spot, ltc, "ks1-1");
    let (outcome, reports) = reply(&setup, &both, &all, &no_orders).expect("valid");
    assert_eq!(
        outcome,
        ReplyOutcome::Reported {
            reports: 2,
            skipped: 0
        }
    );
    let order = |client_order_id, venue_order_id, filled_qty| VenueOpenOrder {
        client_order_id,
        venue_order_id,
        symbol: ltc,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("0.1"),
        trigger_price: Price::ZERO,
        qty: q("1"),
        filled_qty,
        reduce_only: false,
    };
    assert_eq!(
        reports,
        [
            VenueReport::ResolvedOrder {
                order: order(None, 1, Qty::ZERO),
                status: OrderStatus::New,
            },
            VenueReport::ResolvedOrder {
                order: order(Some(ours("ks3-17")), 2, q("0.4")),
                status: OrderStatus::Canceled,
            },
        ]
    );
    let unknown_status = body.replace("\"NEW\"", "\"HALF_DONE\"");
    assert!(reply(&setup, &unknown_status, &all, &no_orders).is_err());
}

#[test]
fn spot_account_balances() {
    let Some(body) = fixture("spot_account", "spot", "account_response.json") else {
        return;
    };
    let setup = setup();
    let account = pending(ReplyKind::Account, Market::Spot, SymbolId(0), "ks1-1");
    let (_, reports) = reply(&setup, &body, &account, &no_orders).expect("valid");
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("BTC"),
                free: q("4723846.89208129"),
                locked: Qty::ZERO
            },
            VenueReport::Balance {
                asset: a("LTC"),
                free: q("4763368.68006011"),
                locked: Qty::ZERO
            },
        ]
    );
}

#[test]
fn spot_exchange_info_fixture_feeds_the_order_codec() {
    let Some(body) = fixture("spot_exchange_info", "spot", "exchange_info_response.json") else {
        return;
    };
    let info = parse_exchange_info(body.as_bytes(), Market::Spot).expect("valid exchangeInfo");
    let mut table = SymbolTable::new();
    let instrument = &info.instruments[0];
    let id = table.intern(&instrument.symbol).expect("valid name");
    let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &info.instruments)
        .expect("spot instruments");
    let mut codec = BinanceOrderCodec::new(
        symbols,
        "apikey",
        HmacSigner::new(b"secret").expect("non-empty"),
        CodecConfig::default(),
    )
    .expect("valid key");
    assert_eq!(instrument.symbol, "ETHBTC");
    let order = VenueOrder {
        client_order_id: ours("ks1-1"),
        symbol: id,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("0.0725"),
        qty: q("1"),
        ..VenueOrder::default()
    };
    let request = Request::Place {
        order: &order,
        reference_price: Price::ZERO,
    };
    let built = codec
        .rest(&request, 1)
        .expect("the fixture lists no filters");
    assert!(
        built.body_str().starts_with(
            "newOrderRespType=ACK&recvWindow=5000&side=BUY&symbol=ETHBTC&type=LIMIT\
             &newClientOrderId=ks1-1&price=0.07250000&quantity=1.00000000&timeInForce=GTC\
             &timestamp=1&signature="
        ),
        "{}",
        built.body_str()
    );
}

#[test]
fn live_spot_exchange_info_filters_are_enforced_before_sending() {
    let test = "live_spot_exchange_info_filters_are_enforced_before_sending";
    let Some(dir) = common::real_data_dir(test) else {
        return;
    };
    let bodies = common::http_bodies(
        &dir.join("cryptofeed/binance_spot_2021-10-12.jsonl.gz"),
        "exchangeInfo",
    );
    let info = parse_exchange_info(bodies[0].as_bytes(), Market::Spot).expect("real capture");
    let mut table = SymbolTable::new();
    let ethbtc = table.intern("ETHBTC").expect("valid name");
    let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &info.instruments)
        .expect("spot instruments");
    let mut codec = BinanceOrderCodec::new(
        symbols,
        "apikey",
        HmacSigner::new(b"secret").expect("non-empty"),
        CodecConfig::default(),
    )
    .expect("valid key");
    let mut order = VenueOrder {
        client_order_id: ours("ks1-1"),
        symbol: ethbtc,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("0.0725"),
        qty: q("0.5"),
        ..VenueOrder::default()
    };
    let reference_price = p("0.07");
    let built = codec
        .rest(
            &Request::Place {
                order: &order,
                reference_price,
            },
            1,
        )
        .expect("within the real ETHBTC filters");
    assert!(built
        .body_str()
        .contains("price=0.07250000&quantity=0.50000000"));
    order.qty = q("0.50005");
    let err = codec
        .rest(
            &Request::Place {
                order: &order,
                reference_price,
            },
            1,
        )
        .expect_err("off the real 0.0001 step");
    assert!(err.to_string().contains("LOT_SIZE"), "{err}");
    order.qty = q("0.5");
    order.price = p("0.5");
    let err = codec
        .rest(
            &Request::Place {
                order: &order,
                reference_price,
            },
            1,
        )
        .expect_err("more than 5x the reference price");
    assert!(err.to_string().contains("PERCENT_PRICE"), "{err}");
}

#[test]
fn futures_order_algo_and_position_replies() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let Some(order) = fixture("futures_order_reply", "futures", "order_response.json") else {
        return;
    };
    let order = order.replace("\"testOrder123\"", "\"ks5-1\"");
    let (_, reports) = reply(
        &setup,
        &order,
        &pending(ReplyKind::Place, Market::UsdmFutures, btc, "ks5-1"),
        &no_orders,
    )
    .expect("valid futures order reply");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks5-1"),
            venue_order_id: 12345678,
            venue_ts_ms: 1625474304765
        }]
    );

    let Some(algo) = fixture("futures_open_algo", "futures", "open_algo_orders.json") else {
        return;
    };
    let mut open = pending(ReplyKind::OpenOrders, Market::UsdmFutures, btc, "ks5-1");
    open.route = OrderRoute::Algo;
    let (_, reports) = reply(&setup, &algo, &open, &no_orders).expect("valid algo list");
    assert_eq!(
        reports,
        [VenueReport::OpenOrder(VenueOpenOrder {
            client_order_id: None,
            venue_order_id: 123456789,
            symbol: btc,
            market: Market::UsdmFutures,
            side: Side::Buy,
            order_type: OrderType::StopMarket,
            price: Price::ZERO,
            trigger_price: p("45000"),
            qty: q("0.001"),
            filled_qty: Qty::ZERO,
            reduce_only: false,
        })]
    );
    let ours_algo = algo.replace("\"test-algo-order-1\"", "\"ks5-2\"");
    let mut placed = pending(ReplyKind::Place, Market::UsdmFutures, btc, "ks5-2");
    placed.route = OrderRoute::Algo;
    let single = ours_algo
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let (_, reports) = reply(&setup, single, &placed, &no_orders).expect("valid algo reply");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks5-2"),
            venue_order_id: 123456789,
            venue_ts_ms: 1625474304765
        }]
    );

    let Some(risk) = fixture("futures_position_risk", "futures", "position_risk.json") else {
        return;
    };
    let (_, reports) = reply(
        &setup,
        &risk,
        &pending(ReplyKind::Positions, Market::UsdmFutures, btc, "ks5-1"),
        &no_orders,
    )
    .expect("valid positionRisk");
    assert_eq!(
        reports,
        [VenueReport::Position {
            symbol: btc,
            qty: q("0.001"),
            entry_price: p("50000")
        }]
    );
}

#[test]
fn futures_account_and_balance_replies() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let account = pending(ReplyKind::Account, Market::UsdmFutures, btc, "ks5-1");
    let Some(body) = fixture("futures_account", "futures", "account_info_v2.json") else {
        return;
    };
    let (_, reports) = reply(&setup, &body, &account, &no_orders).expect("valid account");
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("USDT"),
                free: q("23.72469206"),
                locked: Qty::ZERO
            },
            VenueReport::Position {
                symbol: btc,
                qty: Qty::ZERO,
                entry_price: Price::ZERO
            },
        ]
    );
    let Some(body) = fixture("futures_balance", "futures", "balance.json") else {
        return;
    };
    let (_, reports) = reply(&setup, &body, &account, &no_orders).expect("valid balance");
    assert_eq!(
        reports,
        [VenueReport::Balance {
            asset: a("USDT"),
            free: q("122.12345678"),
            locked: Qty::ZERO
        }]
    );
}

#[test]
fn error_bodies_become_rejects_unknowns_or_a_resync() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let context = ReplyContext {
        symbols: &setup.spot,
        orders: &no_orders,
    };
    let place = pending(ReplyKind::Place, Market::Spot, btc, "ks1-1");
    let run = |status: u16, retry: Option<u64>, body: &str, pending: &Pending| {
        let mut reports = Vec::new();
        let outcome = parse_rest_reply(
            status,
            retry,
            body.as_bytes(),
            pending,
            &context,
            &mut reports,
        )
        .expect("error bodies parse");
        (outcome, reports)
    };
    let (outcome, reports) = run(
        400,
        None,
        r#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#,
        &place,
    );
    let reject = VenueReject {
        kind: RejectKind::InsufficientFunds,
        code: -2010,
        retry_after_ms: 0,
    };
    assert_eq!(outcome, ReplyOutcome::Refused(reject));
    assert_eq!(
        reports,
        [VenueReport::Rejected {
            client_order_id: ours("ks1-1"),
            reject
        }]
    );

    let cancel = pending(ReplyKind::Cancel, Market::Spot, btc, "ks1-1");
    let (_, reports) = run(
        400,
        None,
        r#"{"code":-2011,"msg":"Unknown order sent."}"#,
        &cancel,
    );
    assert!(matches!(
        reports[..],
        [VenueReport::CancelRejected {
            reject: VenueReject {
                kind: RejectKind::UnknownOrder,
                code: -2011,
                ..
            },
            ..
        }]
    ));

    let (outcome, reports) = run(
        429,
        Some(7_000),
        r#"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}"#,
        &place,
    );
    assert!(matches!(
        outcome,
        ReplyOutcome::Refused(VenueReject {
            kind: RejectKind::RateLimited,
            code: 429,
            retry_after_ms: 7_000
        })
    ));
    assert_eq!(reports.len(), 1);

    let (outcome, reports) = run(502, None, "<html>Bad Gateway</html>", &place);
    assert_eq!(outcome, ReplyOutcome::Unknown);
    assert_eq!(
        reports,
        [VenueReport::StatusUnknown {
            client_order_id: ours("ks1-1")
        }]
    );

    let (outcome, reports) = run(
        400,
        None,
        r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
        &place,
    );
    assert!(matches!(outcome, ReplyOutcome::TimestampRejected(_)));
    assert!(reports.is_empty(), "the retry decides, not the parser");

    let query = pending(ReplyKind::QueryOrder, Market::Spot, btc, "ks1-1");
    let (_, reports) = run(
        400,
        None,
        r#"{"code":-2013,"msg":"Order does not exist."}"#,
        &query,
    );
    assert!(matches!(
        reports[..],
        [VenueReport::Rejected {
            reject: VenueReject {
                kind: RejectKind::UnknownOrder,
                ..
            },
            ..
        }]
    ));
    let account = pending(ReplyKind::Account, Market::Spot, btc, "ks1-1");
    let (_, reports) = run(
        400,
        None,
        r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
        &account,
    );
    assert!(reports.is_empty(), "a failed account query reports nothing");
}

#[test]
fn ws_api_replies_carry_rate_limits_and_epoch_retry_after() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let context = ReplyContext {
        symbols: &setup.spot,
        orders: &no_orders,
    };
    let place = pending(ReplyKind::Place, Market::Spot, btc, "ks1-2");
    let ok = br#"{"id":42,"status":200,"result":{"symbol":"BTCUSDT","orderId":12569099453,"orderListId":-1,"clientOrderId":"ks1-2","transactTime":1660801715793},"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":1}]}"#;
    let frame = ws_reply(ok).expect("valid frame");
    assert_eq!(
        (frame.id, frame.status, frame.rate_limits.len()),
        (Some(42), 200, 2)
    );
    let mut limiter = RateLimiter::spot_defaults();
    limiter.on_ws_rate_limits(&frame.rate_limits, 1_660_801_715_800);
    assert_eq!(
        limiter.used(LimitKind::Orders, 10_000, 1_660_801_715_800),
        1
    );
    let mut reports = Vec::new();
    parse_ws_reply(&frame, 1_660_801_715_800, &place, &context, &mut reports).expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks1-2"),
            venue_order_id: 12569099453,
            venue_ts_ms: 1660801715793
        }]
    );

    let banned = br#"{"id":43,"status":418,"error":{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans.","data":{"serverTime":1659142907531,"retryAfter":1659146400000}},"rateLimits":[]}"#;
    let frame = ws_reply(banned).expect("valid frame");
    let mut reports = Vec::new();
    let outcome =
        parse_ws_reply(&frame, 1_659_142_907_531, &place, &context, &mut reports).expect("valid");
    assert_eq!(
        outcome,
        ReplyOutcome::Refused(VenueReject {
            kind: RejectKind::Banned,
            code: 418,
            retry_after_ms: 1_659_146_400_000 - 1_659_142_907_531
        })
    );

    let subscribe = pending(ReplyKind::SubscribeUserData, Market::Spot, btc, "ks1-2");
    let frame = ws_reply(br#"{"id":"7","status":200,"result":{"subscriptionId":0}}"#);
    assert_eq!(
        frame
            .map(|_| ())
            .expect_err("string ids are not ours")
            .kind(),
        ParseErrorKind::Malformed
    );
    let frame = ws_reply(br#"{"id":7,"status":200,"result":{"subscriptionId":3}}"#).expect("valid");
    let mut reports = Vec::new();
    assert_eq!(
        parse_ws_reply(&frame, 0, &subscribe, &context, &mut reports).expect("valid"),
        ReplyOutcome::Subscribed { subscription_id: 3 }
    );
    assert!(!reports.contains(&VenueReport::Link(LinkState::Down)));
}

#[test]
fn time_and_listen_key_replies() {
    let setup = setup();
    let none = pending(
        ReplyKind::ServerTime,
        Market::UsdmFutures,
        SymbolId(0),
        "ks1-1",
    );
    let (outcome, _) =
        reply(&setup, r#"{"serverTime":1499827319559}"#, &none, &no_orders).expect("valid");
    assert_eq!(
        outcome,
        ReplyOutcome::ServerTime {
            server_time_ms: 1499827319559
        }
    );
    let listen = Pending {
        kind: ReplyKind::ListenKey,
        ..none
    };
    let key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1";
    let (outcome, _) = reply(
        &setup,
        &format!(r#"{{"listenKey":"{key}"}}"#),
        &listen,
        &no_orders,
    )
    .expect("valid");
    let ReplyOutcome::ListenKey(got) = outcome else {
        panic!("a listenKey outcome, got {outcome:?}");
    };
    assert_eq!(got.as_str(), key);
    assert!(
        !format!("{got:?}").contains(key),
        "Debug must not leak the key"
    );
}

#[test]
fn malformed_replies_are_typed_errors() {
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let place = pending(ReplyKind::Place, Market::Spot, btc, "ks1-1");
    for body in [
        "",
        "{",
        "[]",
        r#"{"symbol":"BTCUSDT","orderId":"x","clientOrderId":"ks1-1"}"#,
        r#"{"symbol":"BTCUSDT","orderId":1,"clientOrderId":"ks1-1","transactTime":1,"side":"BUY","fills":[{"price":"1e3","qty":"1","commission":"0","commissionAsset":"BNB","tradeId":1}]}"#,
        r#"{"symbol":"BTCUSDT","orderId":1,"clientOrderId":"ks1-1"} trailing"#,
    ] {
        let err = reply(&setup, body, &place, &no_orders).expect_err("malformed");
        assert_eq!(err.kind(), ParseErrorKind::Malformed, "{body}: {err}");
    }
    let unknown_status =
        r#"{"symbol":"BTCUSDT","orderId":1,"clientOrderId":"ks1-1","status":"LOST"}"#;
    let query = pending(ReplyKind::QueryOrder, Market::Spot, btc, "ks1-1");
    let err = reply(&setup, unknown_status, &query, &no_orders).expect_err("unknown status");
    assert_eq!(err.kind(), ParseErrorKind::Unknown);
    assert!(err.to_string().contains("LOST"), "{err}");
    let fills_unknown_symbol = r#"{"symbol":"DOGEUSDT","orderId":1,"clientOrderId":"ks1-1","transactTime":1,"side":"BUY","fills":[{"price":"1","qty":"1","commission":"0","commissionAsset":"BNB","tradeId":1}]}"#;
    let err = reply(&setup, fills_unknown_symbol, &place, &no_orders).expect_err("unknown symbol");
    assert_eq!(err.kind(), ParseErrorKind::UnknownSymbol);
}

proptest::proptest! {
    #[test]
    fn arbitrary_and_mutated_replies_never_panic(
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        status in 100u16..600,
        at in 0usize..2_000,
        byte in proptest::prelude::any::<u8>(),
        kind in 0usize..13,
    ) {
        let setup = setup();
        let kinds = [
            ReplyKind::Place, ReplyKind::PlaceOco, ReplyKind::Cancel, ReplyKind::CancelAll,
            ReplyKind::QueryOrder, ReplyKind::OpenOrders, ReplyKind::Trades, ReplyKind::Account,
            ReplyKind::Positions, ReplyKind::ServerTime, ReplyKind::ListenKey,
            ReplyKind::SubscribeUserData, ReplyKind::Logon,
        ];
        let pending = pending(kinds[kind], Market::Spot, setup.id("BTCUSDT"), "ks1-1");
        let context = ReplyContext { symbols: &setup.spot, orders: &no_orders };
        let mut reports = Vec::new();
        let _ = parse_rest_reply(status, Some(1), &noise, &pending, &context, &mut reports);
        let _ = ws_reply(&noise);
        let reply = br#"{"id":1,"status":200,"result":{"symbol":"BTCUSDT","orderId":1,"orderListId":-1,"clientOrderId":"ks1-1","transactTime":1,"side":"BUY","status":"FILLED","fills":[{"price":"1","qty":"1","commission":"0","commissionAsset":"BNB","tradeId":1}]},"rateLimits":[]}"#;
        let mut mutated = reply.to_vec();
        let index = at % mutated.len();
        mutated[index] = byte;
        if let Ok(frame) = ws_reply(&mutated) {
            let _ = parse_ws_reply(&frame, 0, &pending, &context, &mut reports);
        }
    }
}
