//! simex's spot and margin order side over REST: orders of every spot type placed,
//! queried and canceled with a ureq client over TLS and plain TCP, replies compared key by
//! key with the real Binance payloads, Binance's error codes, OCO lists, margin borrowing,
//! a resting order filled by the replayed market, and identical fills for identical inputs.

mod simex_support;

use std::time::{Duration, Instant};

use kestrel::core::Price;
use kestrel::sim::{AccountKind, Market, Speed};
use serde_json::Value;
use simex_support::orders::{
    assert_shape, dec, hmac_hex, nautilus, nautilus_dir, params as p, q, top_of_book, trades_after,
    Rest,
};
use simex_support::{config, start, SPOT_CAPTURE, TIMEOUT};

/// A simulator whose book stays at the recorded snapshot: nothing subscribes, so the
/// as-fast-as-possible replay waits.
fn frozen(tls: bool) -> kestrel::sim::SimexHandle {
    start(config(Market::Spot, Speed::AsFastAsPossible, tls))
}

#[test]
fn spot_orders_round_trip_over_tls_with_the_real_shapes() {
    let handle = frozen(true);
    let rest = Rest::new(&handle, Market::Spot);
    let market = rest.signed(
        &handle,
        "POST",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.01"),
        ]),
    );
    assert_eq!(market.status, 200, "{}", market.text);
    assert_eq!(market.body["status"], "FILLED");
    assert_eq!(dec(&market.body["executedQty"]), q("0.01"));
    assert!(!market.body["fills"]
        .as_array()
        .expect("FULL has fills")
        .is_empty());
    assert!(market.header("X-MBX-USED-WEIGHT-1M").is_some());
    assert_eq!(market.header("X-MBX-ORDER-COUNT-10S"), Some("1"));
    let limit = rest.signed(
        &handle,
        "POST",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01000000"),
            ("price", "60000.00"),
            ("newClientOrderId", "rest-limit-1"),
            ("newOrderRespType", "RESULT"),
        ]),
    );
    assert_eq!(
        (limit.status, &limit.body["status"]),
        (200, &Value::from("NEW"))
    );
    assert!(limit.body.get("fills").is_none(), "RESULT has no fills");
    let ack = rest.signed(
        &handle,
        "POST",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "70000"),
            ("newOrderRespType", "ACK"),
        ]),
    );
    let ack_keys: Vec<&str> = ack
        .text
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|pair| pair.split(':').next())
        .map(|key| key.trim_matches('"'))
        .collect();
    assert_eq!(
        ack_keys,
        [
            "symbol",
            "orderId",
            "orderListId",
            "clientOrderId",
            "transactTime"
        ],
        "{}",
        ack.text
    );
    let query_one = rest.signed(
        &handle,
        "GET",
        "/api/v3/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "rest-limit-1")]),
    );
    assert_eq!(query_one.body["orderId"], limit.body["orderId"]);
    assert_eq!(query_one.body["isWorking"], true);
    let open = rest.signed(
        &handle,
        "GET",
        "/api/v3/openOrders",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(open.body.as_array().map(Vec::len), Some(2));
    let canceled = rest.signed(
        &handle,
        "DELETE",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("orderId", &limit.body["orderId"].to_string()),
        ]),
    );
    assert_eq!(canceled.body["status"], "CANCELED");
    assert_eq!(canceled.body["origClientOrderId"], "rest-limit-1");
    let account = rest.signed(&handle, "GET", "/api/v3/account", &[]);
    let btc = account.body["balances"]
        .as_array()
        .and_then(|b| b.iter().find(|x| x["asset"] == "BTC"))
        .expect("BTC balance");
    // 1 + 0.01 bought, 0.01 of it locked by the resting sell.
    assert_eq!(
        (dec(&btc["free"]), dec(&btc["locked"])),
        (q("1"), q("0.01"))
    );
    let trades = rest.signed(
        &handle,
        "GET",
        "/api/v3/myTrades",
        &p(&[("symbol", "BTCUSDT")]),
    );
    let fills = market.body["fills"].as_array().expect("fills");
    assert_eq!(trades.body.as_array().map(Vec::len), Some(fills.len()));
    let venue = handle.account(Market::Spot).expect("spot served");
    assert_eq!(venue.trades.len(), fills.len());
    assert_eq!(venue.open_orders.len(), 1);
    assert_eq!(
        venue
            .spot_balances
            .iter()
            .find(|b| b.asset == "BTC")
            .map(|b| (b.free, b.locked)),
        Some((q("1"), q("0.01")))
    );
    if let Some(dir) = nautilus_dir("spot_orders_round_trip_over_tls_with_the_real_shapes") {
        let real = |rel: &str| nautilus(&dir, &format!("spot/http_json/{rel}"));
        assert_shape(
            &market.body,
            &real("new_order_full_response.json"),
            &[],
            "FULL order",
        );
        assert_shape(
            &query_one.body,
            &real("order_response.json"),
            &[],
            "query order",
        );
        assert_shape(
            &open.body,
            &real("open_orders_response.json"),
            &[],
            "open orders",
        );
        assert_shape(
            &canceled.body,
            &real("cancel_order_response.json"),
            &[],
            "cancel",
        );
        assert_shape(
            &account.body,
            &real("account_response.json"),
            &[],
            "account",
        );
        assert_shape(
            &trades.body,
            &real("account_trades_response.json"),
            &[],
            "myTrades",
        );
    }
    handle.stop().expect("clean stop");
}

#[test]
fn spot_rejections_carry_binance_codes_and_http_statuses() {
    let handle = frozen(false);
    let rest = Rest::new(&handle, Market::Spot);
    let order = |extra: &[(&'static str, &str)]| {
        let mut params = p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
        ]);
        params.extend(p(extra));
        params
    };
    let code = |reply: simex_support::orders::RestReply| (reply.status, reply.code());
    let post =
        |params: &[(&str, String)]| code(rest.signed(&handle, "POST", "/api/v3/order", params));
    assert_eq!(
        post(&order(&[("quantity", "0.000015"), ("price", "60000")])),
        (400, Some(-1013))
    );
    assert_eq!(
        post(&order(&[("quantity", "0.01"), ("price", "60000.001")])),
        (400, Some(-1013))
    );
    assert_eq!(
        post(&order(&[
            ("quantity", "0.01"),
            ("price", "60000.000000001")
        ])),
        (400, Some(-1111))
    );
    assert_eq!(post(&order(&[("quantity", "0.01")])), (400, Some(-1102)));
    assert_eq!(
        post(&order(&[("quantity", "0.0001"), ("price", "60000")])),
        (400, Some(-1013))
    );
    assert_eq!(
        post(&order(&[("quantity", "10"), ("price", "60000")])),
        (400, Some(-2010))
    );
    let mut bad_symbol = order(&[("quantity", "0.01"), ("price", "60000")]);
    bad_symbol[0].1 = "ETHBTC".into();
    assert_eq!(post(&bad_symbol), (400, Some(-1121)));
    let mut bad_side = order(&[("quantity", "0.01"), ("price", "60000")]);
    bad_side[1].1 = "HOLD".into();
    assert_eq!(post(&bad_side), (400, Some(-1117)));
    let market_with_price = p(&[
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", "0.01"),
        ("price", "1"),
    ]);
    assert_eq!(post(&market_with_price), (400, Some(-1106)));
    let stop_loss = p(&[
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "STOP_LOSS"),
        ("quantity", "0.01"),
        ("stopPrice", "50000"),
    ]);
    let reply = rest.signed(&handle, "POST", "/api/v3/order", &stop_loss);
    assert_eq!(
        reply.body["msg"],
        "Stop loss orders are not supported for this symbol."
    );
    let (_, ask) = top_of_book(&rest, "/api/v3/depth");
    let maker = p(&[
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT_MAKER"),
        ("quantity", "0.01"),
        ("price", &ask.to_string()),
    ]);
    let reply = rest.signed(&handle, "POST", "/api/v3/order", &maker);
    assert_eq!(
        (reply.code(), reply.body["msg"].as_str()),
        (Some(-2010), Some("Order would immediately match and take."))
    );
    let first = order(&[
        ("quantity", "0.01"),
        ("price", "60000"),
        ("newClientOrderId", "dup"),
    ]);
    assert_eq!(post(&first).0, 200);
    let reply = rest.signed(&handle, "POST", "/api/v3/order", &first);
    assert_eq!(
        (reply.code(), reply.body["msg"].as_str()),
        (Some(-2010), Some("Duplicate order sent."))
    );
    let unknown = p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "never-placed")]);
    assert_eq!(
        code(rest.signed(&handle, "DELETE", "/api/v3/order", &unknown)),
        (400, Some(-2011))
    );
    assert_eq!(
        code(rest.signed(&handle, "GET", "/api/v3/order", &unknown)),
        (400, Some(-2013))
    );
    let now = handle.server_time_ms(Market::Spot).expect("spot served");
    let stale = format!("symbol=BTCUSDT&timestamp={}", now - 10_000);
    let signed_stale = format!("{stale}&signature={}", hmac_hex(&stale));
    assert_eq!(
        code(rest.send("GET", "/api/v3/openOrders", &signed_stale, "")),
        (400, Some(-1021))
    );
    let fresh = format!("symbol=BTCUSDT&timestamp={now}");
    let wrong = format!("{fresh}&signature={}", hmac_hex("something else"));
    assert_eq!(
        code(rest.send("GET", "/api/v3/openOrders", &wrong, "")),
        (400, Some(-1022))
    );
    let signed = format!("{fresh}&signature={}", hmac_hex(&fresh));
    assert_eq!(
        code(rest.send_with_key("GET", "/api/v3/openOrders", &signed, "", None)),
        (401, Some(-2014))
    );
    assert_eq!(
        code(rest.send_with_key("GET", "/api/v3/openOrders", &signed, "", Some("nope"))),
        (401, Some(-2015))
    );
    // The documented mixed query + body signature (no '&' between them) is accepted.
    let now = handle.server_time_ms(Market::Spot).expect("spot served");
    let head = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC";
    let tail = format!("quantity=0.01&price=80000&recvWindow=5000&timestamp={now}");
    let body = format!("{tail}&signature={}", hmac_hex(&format!("{head}{tail}")));
    let mixed = rest.send("POST", "/api/v3/order", head, &body);
    assert_eq!(
        (mixed.status, mixed.body["status"].as_str()),
        (200, Some("NEW")),
        "{}",
        mixed.text
    );
    handle.stop().expect("clean stop");
}

#[test]
fn an_oco_places_both_legs_locks_once_and_cancels_as_a_list() {
    let handle = frozen(true);
    let rest = Rest::new(&handle, Market::Spot);
    let (bid, ask) = top_of_book(&rest, "/api/v3/depth");
    let above = ask.saturating_add(Price::from_int(1000)).to_string();
    let below_stop = bid.saturating_sub(Price::from_int(1000)).to_string();
    let below_price = bid.saturating_sub(Price::from_int(1010)).to_string();
    let oco = rest.signed(
        &handle,
        "POST",
        "/api/v3/orderList/oco",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("quantity", "0.02"),
            ("listClientOrderId", "my-oco"),
            ("aboveType", "LIMIT_MAKER"),
            ("abovePrice", &above),
            ("belowType", "STOP_LOSS_LIMIT"),
            ("belowStopPrice", &below_stop),
            ("belowPrice", &below_price),
            ("belowTimeInForce", "GTC"),
        ]),
    );
    assert_eq!(oco.status, 200, "{}", oco.text);
    assert_eq!(
        (
            oco.body["contingencyType"].as_str(),
            oco.body["listStatusType"].as_str(),
            oco.body["listOrderStatus"].as_str()
        ),
        (Some("OCO"), Some("EXEC_STARTED"), Some("EXECUTING"))
    );
    let reports = oco.body["orderReports"].as_array().expect("reports");
    let types: Vec<&str> = reports.iter().filter_map(|r| r["type"].as_str()).collect();
    assert_eq!(types, ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]);
    assert_eq!(reports[0]["orderListId"], oco.body["orderListId"]);
    assert_eq!(oco.body["orders"].as_array().map(Vec::len), Some(2));
    let locked = |rest: &Rest| {
        let account = rest.signed(&handle, "GET", "/api/v3/account", &[]);
        let btc = account.body["balances"]
            .as_array()
            .and_then(|b| b.iter().find(|x| x["asset"] == "BTC").cloned())
            .expect("BTC");
        dec(&btc["locked"])
    };
    assert_eq!(locked(&rest), q("0.02"), "one lock for both legs");
    let stop_leg = rest.signed(
        &handle,
        "GET",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("orderId", &reports[0]["orderId"].to_string()),
        ]),
    );
    assert_eq!(
        (
            stop_leg.body["isWorking"].as_bool(),
            stop_leg.body["workingTime"].as_i64()
        ),
        (Some(false), Some(-1))
    );
    let bad = rest.signed(
        &handle,
        "POST",
        "/api/v3/orderList/oco",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("quantity", "0.02"),
            ("aboveType", "LIMIT_MAKER"),
            ("abovePrice", &below_price),
            ("belowType", "STOP_LOSS_LIMIT"),
            ("belowStopPrice", &below_stop),
            ("belowPrice", &below_price),
            ("belowTimeInForce", "GTC"),
        ]),
    );
    assert_eq!(
        bad.body["msg"],
        "The relationship of the prices for the orders is not correct."
    );
    let canceled = rest.signed(
        &handle,
        "DELETE",
        "/api/v3/orderList",
        &p(&[("symbol", "BTCUSDT"), ("listClientOrderId", "my-oco")]),
    );
    assert_eq!(canceled.body["listOrderStatus"], "ALL_DONE");
    let statuses: Vec<&str> = canceled.body["orderReports"]
        .as_array()
        .expect("reports")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["CANCELED", "CANCELED"]);
    assert_eq!(locked(&rest), q("0"));
    handle.stop().expect("clean stop");
}

#[test]
fn margin_orders_borrow_repay_and_auto_borrow_repay_can_be_refused() {
    let mut cfg = config(Market::Spot, Speed::AsFastAsPossible, false);
    cfg.orders.margin_auto_borrow_repay = false;
    let handle = start(cfg);
    let rest = Rest::new(&handle, Market::Spot);
    let buy = |effect: &str| {
        rest.signed(
            &handle,
            "POST",
            "/sapi/v1/margin/order",
            &p(&[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quantity", "2"),
                ("sideEffectType", effect),
            ]),
        )
    };
    assert_eq!(
        buy("NO_SIDE_EFFECT").code(),
        Some(-2010),
        "2 BTC cost more than 100 000 USDT"
    );
    assert_eq!(
        buy("AUTO_BORROW_REPAY").code(),
        Some(-1100),
        "refused when the venue retired it"
    );
    let borrowed = buy("MARGIN_BUY");
    assert_eq!(
        (borrowed.status, borrowed.body["status"].as_str()),
        (200, Some("FILLED")),
        "{}",
        borrowed.text
    );
    assert_eq!(borrowed.body["marginBuyBorrowAsset"], "USDT");
    assert_eq!(borrowed.body["isIsolated"], false);
    let account = rest.signed(&handle, "GET", "/sapi/v1/margin/account", &[]);
    let usdt = |account: &Value| {
        account["userAssets"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["asset"] == "USDT").cloned())
            .expect("USDT")
    };
    assert_eq!(
        dec(&usdt(&account.body)["borrowed"]),
        dec(&borrowed.body["marginBuyBorrowAmount"])
    );
    assert!(
        account.body["marginLevel"].is_string() && account.body["totalLiabilityOfBtc"].is_string()
    );
    let sell = rest.signed(
        &handle,
        "POST",
        "/sapi/v1/margin/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "MARKET"),
            ("quantity", "2"),
            ("sideEffectType", "AUTO_REPAY"),
        ]),
    );
    assert_eq!(sell.body["status"], "FILLED");
    let account = rest.signed(&handle, "GET", "/sapi/v1/margin/account", &[]);
    assert_eq!(dec(&usdt(&account.body)["borrowed"]), q("0"));
    let trades = rest.signed(
        &handle,
        "GET",
        "/sapi/v1/margin/myTrades",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert!(trades
        .body
        .as_array()
        .is_some_and(|t| t.len() >= 2 && t[0]["isIsolated"] == false));
    let resting = rest.signed(
        &handle,
        "POST",
        "/sapi/v1/margin/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "50000"),
            ("newClientOrderId", "m-limit"),
        ]),
    );
    assert_eq!(resting.body["status"], "NEW", "{}", resting.text);
    let queried = rest.signed(
        &handle,
        "GET",
        "/sapi/v1/margin/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "m-limit")]),
    );
    assert_eq!(
        (
            queried.body["status"].as_str(),
            queried.body["isIsolated"].as_bool()
        ),
        (Some("NEW"), Some(false))
    );
    let open = rest.signed(
        &handle,
        "GET",
        "/sapi/v1/margin/openOrders",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(open.body.as_array().map(Vec::len), Some(1));
    let spot_open = rest.signed(
        &handle,
        "GET",
        "/api/v3/openOrders",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(
        spot_open.body.as_array().map(Vec::len),
        Some(0),
        "margin and spot are separate accounts"
    );
    let canceled = rest.signed(
        &handle,
        "DELETE",
        "/sapi/v1/margin/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "m-limit")]),
    );
    assert_eq!(canceled.body["status"], "CANCELED");
    let venue = handle.account(Market::Spot).expect("served");
    assert!(venue
        .trades
        .iter()
        .all(|t| t.account == AccountKind::Margin));
    handle.stop().expect("clean stop");
}

#[test]
fn a_resting_limit_fills_as_maker_when_the_replayed_market_trades_through_it() {
    let handle = start(config(Market::Spot, Speed::Times(40.0), false));
    handle.stall(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(100));
    let rest = Rest::new(&handle, Market::Spot);
    let (bid, ask) = top_of_book(&rest, "/api/v3/depth");
    let position = handle.replay_ms(Market::Spot).expect("served");
    let future = trades_after(SPOT_CAPTURE, position + 1_000);
    let lowest = future.iter().map(|t| t.1).min().expect("trades follow");
    let highest = future.iter().map(|t| t.1).max().expect("trades follow");
    // Rest on whichever side the rest of the capture trades through.
    let (side, price) = if lowest < bid {
        ("BUY", bid)
    } else {
        ("SELL", ask)
    };
    assert!(lowest < bid || highest > ask, "the capture moves");
    let placed = rest.signed(
        &handle,
        "POST",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", side),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.00100"),
            ("price", &price.to_string()),
            ("newClientOrderId", "through"),
        ]),
    );
    assert_eq!(placed.body["status"], "NEW", "{}", placed.text);
    handle.stall(Duration::ZERO);
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        let order = rest.signed(
            &handle,
            "GET",
            "/api/v3/order",
            &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "through")]),
        );
        if order.body["status"] == "FILLED" || Instant::now() > deadline {
            break order.body["status"].clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, "FILLED");
    let trades = rest.signed(
        &handle,
        "GET",
        "/api/v3/myTrades",
        &p(&[("symbol", "BTCUSDT")]),
    );
    let fills = trades.body.as_array().expect("trades");
    assert!(fills
        .iter()
        .all(|t| t["isMaker"] == true && dec(&t["price"]) == dec(&placed.body["price"])));
    let total = fills
        .iter()
        .fold(q("0"), |sum, t| sum.saturating_add(dec(&t["qty"])));
    assert_eq!(total, q("0.001"));
    handle.stop().expect("clean stop");
}

#[test]
fn identical_orders_on_identical_books_fill_identically() {
    let run = || {
        let handle = frozen(false);
        let rest = Rest::new(&handle, Market::Spot);
        let send = |params: &[(&'static str, &str)]| {
            rest.signed(&handle, "POST", "/api/v3/order", &p(params))
        };
        send(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "1.6"),
        ]);
        send(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quoteOrderQty", "500"),
        ]);
        send(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "IOC"),
            ("quantity", "2.6"),
            ("price", "61836.00"),
        ]);
        let account = handle.account(Market::Spot).expect("served");
        handle.stop().expect("clean stop");
        let fills: Vec<_> = account
            .trades
            .iter()
            .map(|t| {
                (
                    t.trade_id,
                    t.order_id,
                    t.side,
                    t.price,
                    t.qty,
                    t.commission,
                    t.is_maker,
                )
            })
            .collect();
        (fills, account.spot_balances)
    };
    let first = run();
    assert!(first.0.len() > 3, "orders walked several levels");
    assert_eq!(first, run());
}
