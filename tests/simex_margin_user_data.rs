//! simex's margin user data, as Binance's margin trade data stream page documents it
//! (2025-10): `POST /sapi/v1/userListenToken` issues a listenToken (`{"token",
//! "expirationTime"}`, `validity` up to 24 h), `userDataStream.subscribe.listenToken` on the
//! WebSocket API subscribes with it (-1209 for an unknown or expired token), the margin
//! account's `executionReport`, `outboundAccountPosition` and `listStatus` arrive on that
//! subscription in the spot shapes (compared key by key with the real spot payloads), a newer
//! token extends the same subscription, and an expired one ends it with
//! `eventStreamTerminated`. The margin OCO answers in the legacy margin shape.

mod simex_support;

use kestrel::core::Price;
use kestrel::sim::{Market, Speed};
use serde_json::{json, Value};
use simex_support::orders::{
    assert_shape, dec, market_buy, nautilus, nautilus_dir, params, q, top_of_book, Rest, WsApi,
};
use simex_support::{config, start, TIMEOUT};

fn listen_token(
    rest: &Rest,
    handle: &kestrel::sim::SimexHandle,
    extra: &[(&'static str, &str)],
) -> Value {
    let reply = rest.signed(handle, "POST", "/sapi/v1/userListenToken", &params(extra));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"]["e"] == kind).collect()
}

#[test]
fn listen_tokens_are_issued_checked_and_bounded_like_binance_s() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    let rest = Rest::new(&handle, Market::Spot);
    let now = handle.server_time_ms(Market::Spot).expect("served");
    let day = listen_token(&rest, &handle, &[]);
    let token = day["token"].as_str().expect("a token");
    assert!(
        token.len() >= 60
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
        "base64 like Binance's example: {token}"
    );
    let expires = day["expirationTime"].as_u64().expect("ms number");
    assert!((now + 86_400_000..now + 86_400_000 + 5_000).contains(&expires));
    let raw = rest.signed(&handle, "POST", "/sapi/v1/userListenToken", &[]);
    assert!(
        raw.text.starts_with("{\"token\":\"") && raw.body.as_object().map(|o| o.len()) == Some(2),
        "the documented two fields, token first: {}",
        raw.text
    );
    let short = listen_token(&rest, &handle, &[("validity", "3000")]);
    let expires = short["expirationTime"].as_u64().expect("ms number");
    assert!((now + 3_000..now + 8_000).contains(&expires));
    for (name, value, code) in [
        ("validity", "86400001", -1130),
        ("validity", "0", -1130),
        ("isIsolated", "true", -11001),
    ] {
        let refused = rest.signed(
            &handle,
            "POST",
            "/sapi/v1/userListenToken",
            &params(&[(name, value)]),
        );
        assert_eq!(
            refused.code(),
            Some(code),
            "{name}={value}: {}",
            refused.text
        );
    }
    let unsigned = rest.send("POST", "/sapi/v1/userListenToken", "", "");
    assert_ne!(unsigned.status, 200, "a signed endpoint");
    handle.stop().expect("clean stop");
}

#[test]
fn margin_events_stream_on_the_listen_token_subscription_with_the_real_shapes() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, true));
    let rest = Rest::new(&handle, Market::Spot);
    let mut api = WsApi::connect(&handle, Market::Spot);
    let refused = api.call(
        &handle,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": "bm90LWEtdG9rZW4="}),
        false,
    );
    assert_eq!(
        (
            refused["status"].as_u64(),
            refused["error"]["code"].as_i64()
        ),
        (Some(400), Some(-1209)),
        "{refused}"
    );
    let token = listen_token(&rest, &handle, &[]);
    let subscribed = api.call(
        &handle,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": token["token"]}),
        false,
    );
    assert_eq!(subscribed["status"], 200, "{subscribed}");
    let subscription = subscribed["result"]["subscriptionId"]
        .as_u64()
        .expect("an id");
    assert_eq!(
        subscribed["result"]["expirationTime"],
        token["expirationTime"]
    );

    // A spot order is not the margin account's: nothing of it on this subscription.
    market_buy(&rest, &handle, "/api/v3/order", "0.001", Some("spot-buy"));
    market_buy(
        &rest,
        &handle,
        "/sapi/v1/margin/order",
        "0.01",
        Some("margin-buy"),
    );
    let trade = api
        .wait_event(
            |e| e["event"]["e"] == "executionReport" && e["event"]["x"] == "TRADE",
            TIMEOUT,
        )
        .expect("the margin fill on the stream");
    assert_eq!(trade["event"]["c"], "margin-buy");
    assert_eq!(dec(&trade["event"]["l"]), q("0.01"));
    let position = api
        .wait_event(|e| e["event"]["e"] == "outboundAccountPosition", TIMEOUT)
        .expect("the margin balances on the stream");

    // A margin OCO: the legacy parameters, answered in the margin shape.
    let (bid, ask) = top_of_book(&rest, "/api/v3/depth");
    let oco = rest.signed(
        &handle,
        "POST",
        "/sapi/v1/margin/order/oco",
        &params(&[
            ("symbol", "BTCUSDT"),
            ("isIsolated", "FALSE"),
            ("side", "SELL"),
            ("quantity", "0.01"),
            ("listClientOrderId", "margin-list"),
            ("limitClientOrderId", "margin-take"),
            (
                "price",
                &ask.saturating_add(Price::from_int(2_000)).to_string(),
            ),
            ("stopClientOrderId", "margin-stop"),
            (
                "stopPrice",
                &bid.saturating_sub(Price::from_int(2_000)).to_string(),
            ),
            (
                "stopLimitPrice",
                &bid.saturating_sub(Price::from_int(2_010)).to_string(),
            ),
            ("stopLimitTimeInForce", "GTC"),
            ("sideEffectType", "NO_SIDE_EFFECT"),
        ]),
    );
    assert_eq!(oco.status, 200, "{}", oco.text);
    assert_eq!(
        (
            oco.body["listClientOrderId"].as_str(),
            oco.body["contingencyType"].as_str(),
            oco.body["isIsolated"].as_bool()
        ),
        (Some("margin-list"), Some("OCO"), Some(false))
    );
    let reports = oco.body["orderReports"].as_array().expect("leg reports");
    assert_eq!(reports[0]["type"], "STOP_LOSS_LIMIT", "the stop leg first");
    assert_eq!(reports[1]["type"], "LIMIT_MAKER");
    assert!(reports.iter().all(|r| r.get("workingTime").is_none()));
    let list = api
        .wait_event(|e| e["event"]["e"] == "listStatus", TIMEOUT)
        .expect("the margin list on the stream");
    let spot_open = rest.signed(
        &handle,
        "GET",
        "/api/v3/openOrders",
        &params(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(
        spot_open.body.as_array().map(Vec::len),
        Some(0),
        "margin legs only"
    );

    // Subscribing again with a newer token extends the same subscription.
    let newer = listen_token(&rest, &handle, &[("validity", "60000")]);
    let extended = api.call(
        &handle,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": newer["token"]}),
        false,
    );
    assert_eq!(extended["result"]["subscriptionId"], subscription);
    assert_eq!(
        extended["result"]["expirationTime"],
        newer["expirationTime"]
    );

    let events = api.events.clone();
    assert!(events.iter().all(|e| e["subscriptionId"] == subscription));
    assert!(
        events_of(&events, "executionReport")
            .iter()
            .all(|e| e["event"]["c"] != "spot-buy"),
        "no spot order on the margin stream"
    );
    if let Some(dir) =
        nautilus_dir("margin_events_stream_on_the_listen_token_subscription_with_the_real_shapes")
    {
        let real = |rel: &str| nautilus(&dir, &format!("spot/user_data_json/{rel}"));
        let first = events_of(&events, "executionReport")[0];
        assert_shape(
            first,
            &real("execution_report_wrapped.json"),
            &[],
            "wrapped margin executionReport",
        );
        assert_shape(
            &trade["event"],
            &real("execution_report_trade.json"),
            &[],
            "margin executionReport TRADE",
        );
        assert_shape(
            &position["event"],
            &real("account_position.json"),
            &[],
            "margin outboundAccountPosition",
        );
        assert_shape(
            &list,
            &real("list_status_wrapped.json"),
            &[],
            "margin listStatus",
        );
    }

    // Every token expires: the subscription ends with eventStreamTerminated, the
    // connection stays open, and margin events no longer reach it.
    handle.expire_listen_tokens();
    let ended = api
        .wait_event(|e| e["event"]["e"] == "eventStreamTerminated", TIMEOUT)
        .expect("the subscription ends");
    assert_eq!(ended["subscriptionId"], subscription);
    assert!(ended["event"]["E"].is_u64());
    let seen = api.events.len();
    market_buy(&rest, &handle, "/sapi/v1/margin/order", "0.001", None);
    // Events queued before a request go out right after its reply: the second reply
    // comes after anything the order would have sent.
    for _ in 0..2 {
        let status = api.call(&handle, "session.status", json!({}), false);
        assert_eq!(status["status"], 200, "the connection still answers");
    }
    assert_eq!(api.events.len(), seen, "nothing after the termination");
    let stale = api.call(
        &handle,
        "userDataStream.subscribe.listenToken",
        json!({"listenToken": newer["token"]}),
        false,
    );
    assert_eq!(stale["error"]["code"], -1209, "an expired token is refused");
    handle.stop().expect("clean stop");
}
