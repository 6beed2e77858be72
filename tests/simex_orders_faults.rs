//! Every order-side fault of simex, observed the way a client sees it: 429 with
//! Retry-After then a 418 ban (REST header seconds, WS API `retryAfter` epoch ms), -1021,
//! delayed, lost and connection-cutting acks (the order is placed all the same), forced
//! partial fills, duplicated and reordered user-data events; and the wire-to-wire
//! histogram counting each order read after a market frame.

mod simex_support;

use std::time::{Duration, Instant};

use kestrel::sim::{Market, Speed};
use serde_json::{json, Value};
use simex_support::orders::{dec, params as p, q, Rest, WsApi};
use simex_support::{config, next_text, start, ws_connect, DEPTH, TIMEOUT};

fn frozen() -> kestrel::sim::SimexHandle {
    start(config(Market::Spot, Speed::AsFastAsPossible, false))
}

fn market_buy(qty: &str) -> Value {
    json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty})
}

#[test]
fn throttled_clients_get_429_with_retry_after_then_a_418_ban_if_they_keep_going() {
    let handle = frozen();
    let rest = Rest::new(&handle, Market::Spot);
    // A long Retry-After, so the immediate second request surely comes before it ran out.
    handle.throttle(2, Duration::from_secs(5), Duration::from_millis(1_500));
    let first = rest.send("GET", "/api/v3/time", "", "");
    assert_eq!(
        (first.status, first.code(), first.header("Retry-After")),
        (429, Some(-1003), Some("5"))
    );
    let eager = rest.send("GET", "/api/v3/time", "", "");
    assert_eq!(
        (eager.status, eager.header("Retry-After")),
        (418, Some("2"))
    );
    assert!(eager.body["msg"]
        .as_str()
        .is_some_and(|m| m.contains("banned until")));
    std::thread::sleep(Duration::from_millis(1_600));
    assert_eq!(
        rest.send("GET", "/api/v3/time", "", "").status,
        200,
        "the ban is over"
    );
    handle.throttle(2, Duration::from_millis(300), Duration::from_secs(60));
    assert_eq!(rest.send("GET", "/api/v3/time", "", "").status, 429);
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        rest.send("GET", "/api/v3/time", "", "").status,
        429,
        "waited: a 429, not a ban"
    );
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(rest.send("GET", "/api/v3/time", "", "").status, 200);
    let mut api = WsApi::connect(&handle, Market::Spot);
    handle.throttle(1, Duration::from_secs(5), Duration::from_secs(1));
    let server_ms = handle.server_time_ms(Market::Spot).expect("served");
    let limited = api.call(&handle, "account.status", json!({}), true);
    assert_eq!(
        (
            limited["status"].as_u64(),
            limited["error"]["code"].as_i64()
        ),
        (Some(429), Some(-1003))
    );
    let retry_at = limited["error"]["data"]["retryAfter"]
        .as_u64()
        .expect("epoch ms");
    assert!(
        retry_at >= server_ms + 5_000,
        "retryAfter is an epoch ms timestamp, not seconds"
    );
    let banned = api.call(&handle, "account.status", json!({}), true);
    assert_eq!(banned["status"], 418);
    handle.stop().expect("clean stop");
}

#[test]
fn timestamp_rejects_hit_the_next_signed_requests_only() {
    let handle = frozen();
    let rest = Rest::new(&handle, Market::Spot);
    handle.reject_timestamps(2);
    assert_eq!(
        rest.send("GET", "/api/v3/time", "", "").status,
        200,
        "unsigned requests pass"
    );
    let account = || rest.signed(&handle, "GET", "/api/v3/account", &[]);
    assert_eq!(account().code(), Some(-1021));
    assert_eq!(
        account().body["msg"],
        "Timestamp for this request is outside of the recvWindow."
    );
    assert_eq!(account().status, 200);
    handle.stop().expect("clean stop");
}

#[test]
fn delayed_acks_come_after_the_order_events_they_caused() {
    let handle = frozen();
    let mut api = WsApi::connect(&handle, Market::Spot);
    api.call(
        &handle,
        "userDataStream.subscribe.signature",
        json!({}),
        true,
    );
    handle.delay_acks(Duration::from_millis(300));
    let sent = Instant::now();
    let placed = api.call(&handle, "order.place", market_buy("0.01"), true);
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "the ack was held"
    );
    assert_eq!(placed["result"]["status"], "FILLED");
    assert!(
        api.events.iter().any(|e| e["event"]["x"] == "TRADE"),
        "the fill's executionReport arrived before the delayed ack"
    );
    let rest = Rest::new(&handle, Market::Spot);
    let sent = Instant::now();
    let reply = rest.signed(
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
    assert!(sent.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.body["status"], "FILLED");
    handle.delay_acks(Duration::ZERO);
    handle.stop().expect("clean stop");
}

#[test]
fn a_lost_ack_leaves_the_order_placed_and_its_resend_is_a_duplicate() {
    let handle = frozen();
    let impatient = Rest::with_timeout(&handle, Market::Spot, Duration::from_millis(500));
    let order = p(&[
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01"),
        ("price", "60000"),
        ("newClientOrderId", "lost-1"),
    ]);
    handle.lose_acks(1);
    assert!(
        impatient
            .try_signed_post(&handle, "/api/v3/order", &order)
            .is_err(),
        "no reply comes"
    );
    let rest = Rest::new(&handle, Market::Spot);
    let found = rest.signed(
        &handle,
        "GET",
        "/api/v3/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "lost-1")]),
    );
    assert_eq!(found.body["status"], "NEW", "the order was placed");
    let resent = rest.signed(&handle, "POST", "/api/v3/order", &order);
    assert_eq!(resent.body["msg"], "Duplicate order sent.");
    let mut api = WsApi::connect(&handle, Market::Spot);
    handle.lose_acks(1);
    let silent = api.send(&handle, "order.place", market_buy("0.01"), true);
    let next = api.call(
        &handle,
        "openOrders.status",
        json!({"symbol": "BTCUSDT"}),
        true,
    );
    assert_eq!(next["status"], 200);
    assert!(
        api.events.iter().all(|e| e["id"] != silent.as_str()),
        "the lost ack never came"
    );
    let venue = handle.account(Market::Spot).expect("served");
    assert_eq!(
        venue
            .trades
            .iter()
            .filter(|t| t.side == kestrel::core::Side::Buy)
            .count(),
        1,
        "the silent market order filled"
    );
    handle.stop().expect("clean stop");
}

#[test]
fn an_order_connection_cut_mid_order_still_places_the_order() {
    let handle = frozen();
    let mut api = WsApi::connect(&handle, Market::Spot);
    handle.drop_order_connections(1);
    api.send(&handle, "order.place", json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "80000", "newClientOrderId": "cut-1"}), true);
    let ended = loop {
        match api.ws.read() {
            Ok(tungstenite::Message::Text(text)) => panic!("no reply expected, got {text}"),
            Ok(tungstenite::Message::Close(_)) | Err(_) => break true,
            Ok(_) => {}
        }
    };
    assert!(ended);
    let rest = Rest::new(&handle, Market::Spot);
    let found = rest.signed(
        &handle,
        "GET",
        "/api/v3/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "cut-1")]),
    );
    assert_eq!(found.body["status"], "NEW");
    handle.drop_order_connections(1);
    let cut = Rest::new(&handle, Market::Spot).try_signed_post(
        &handle,
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "80000"),
            ("newClientOrderId", "cut-2"),
        ]),
    );
    assert!(cut.is_err(), "the REST connection is cut before the reply");
    let found = rest.signed(
        &handle,
        "GET",
        "/api/v3/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "cut-2")]),
    );
    assert_eq!(found.body["status"], "NEW");
    handle.stop().expect("clean stop");
}

#[test]
fn forced_partial_fills_leave_market_orders_expired_with_what_filled() {
    let handle = frozen();
    let rest = Rest::new(&handle, Market::Spot);
    let buy = || {
        rest.signed(
            &handle,
            "POST",
            "/api/v3/order",
            &p(&[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quantity", "0.5"),
            ]),
        )
    };
    handle.force_partial_fills(1);
    let partial = buy();
    assert_eq!(partial.body["status"], "EXPIRED", "{}", partial.text);
    assert_eq!(
        (
            dec(&partial.body["executedQty"]),
            dec(&partial.body["origQty"])
        ),
        (q("0.25"), q("0.5"))
    );
    let whole = buy();
    assert_eq!(
        (
            whole.body["status"].as_str(),
            dec(&whole.body["executedQty"])
        ),
        (Some("FILLED"), q("0.5"))
    );
    handle.stop().expect("clean stop");
}

#[test]
fn user_data_events_can_come_twice_or_out_of_order() {
    let handle = frozen();
    let mut api = WsApi::connect(&handle, Market::Spot);
    api.call(
        &handle,
        "userDataStream.subscribe.signature",
        json!({}),
        true,
    );
    handle.duplicate_events(1);
    api.call(&handle, "order.place", market_buy("0.01"), true);
    api.wait_event(|e| e["event"]["e"] == "outboundAccountPosition", TIMEOUT)
        .expect("balances");
    let first_two: Vec<&Value> = api.events.iter().take(2).collect();
    assert_eq!(first_two[0], first_two[1], "the first event came twice");
    assert_eq!(first_two[0]["event"]["x"], "NEW");
    api.events.clear();
    handle.reorder_events(1);
    api.call(&handle, "order.place", market_buy("0.01"), true);
    api.wait_event(|e| e["event"]["x"] == "NEW", TIMEOUT)
        .expect("the held NEW");
    let execs: Vec<&str> = api
        .events
        .iter()
        .filter_map(|e| e["event"]["x"].as_str())
        .collect();
    assert_eq!(
        execs[..2],
        ["TRADE", "NEW"],
        "NEW was held behind the TRADE"
    );
    handle.stop().expect("clean stop");
}

#[test]
fn wire_to_wire_times_each_order_from_the_last_market_frame_written() {
    let handle = frozen();
    let mut market = ws_connect(&handle, Market::Spot, &format!("/ws/{DEPTH}"));
    for _ in 0..5 {
        next_text(&mut market);
    }
    let mut api = WsApi::connect(&handle, Market::Spot);
    for _ in 0..3 {
        next_text(&mut market);
        api.call(&handle, "order.place", market_buy("0.001"), true);
    }
    let rest = Rest::new(&handle, Market::Spot);
    rest.signed(
        &handle,
        "POST",
        "/api/v3/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.001"),
        ]),
    );
    rest.signed(&handle, "GET", "/api/v3/account", &[]);
    let histogram = handle.wire_to_wire().expect("histogram");
    assert_eq!(
        histogram.len(),
        4,
        "one sample per order received, none for queries"
    );
    assert!(histogram.min() > 0);
    handle.stop().expect("clean stop");
}

#[test]
fn exchange_info_order_limits_refuse_the_51st_order_in_10_seconds_unless_disabled() {
    let place = |handle: &kestrel::sim::SimexHandle, n: usize| {
        let rest = Rest::new(handle, Market::Spot);
        (0..n)
            .map(|_| {
                let reply = rest.signed(
                    handle,
                    "POST",
                    "/api/v3/order",
                    &p(&[
                        ("symbol", "BTCUSDT"),
                        ("side", "SELL"),
                        ("type", "LIMIT"),
                        ("timeInForce", "GTC"),
                        ("quantity", "0.0002"),
                        ("price", "90000"),
                    ]),
                );
                (
                    reply.status,
                    reply.code(),
                    reply.header("Retry-After").map(str::to_owned),
                )
            })
            .collect::<Vec<_>>()
    };
    let enforced = frozen();
    // Windows are fixed 10 s slices of the server clock: start early in one so all 51
    // orders land in it.
    let into_window = enforced.server_time_ms(Market::Spot).expect("served") % 10_000;
    if into_window > 5_000 {
        std::thread::sleep(Duration::from_millis(10_050 - into_window));
    }
    let replies = place(&enforced, 51);
    assert!(replies[..50].iter().all(|r| r.0 == 200), "{replies:?}");
    assert_eq!(
        replies[50],
        (429, Some(-1015), None),
        "order limits carry no Retry-After"
    );
    enforced.stop().expect("clean stop");
    let mut cfg = config(Market::Spot, Speed::AsFastAsPossible, false);
    cfg.orders.enforce_rate_limits = false;
    let counting = start(cfg);
    assert!(place(&counting, 51).iter().all(|r| r.0 == 200));
    counting.stop().expect("clean stop");
}
