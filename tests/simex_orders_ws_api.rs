//! simex's WebSocket API: spot `/ws-api/v3` (orders, OCO, queries, session logon, the
//! user-data subscription on the same connection) and futures `/ws-fapi/v1` (orders, algo
//! orders, listenKey), driven by a tungstenite client with the sorted-params HMAC signature
//! (the logon: Ed25519 with the documented test key);
//! replies and pushed events compared key by key with the real Binance payloads.

mod simex_support;

use kestrel::core::{Price, Qty};
use kestrel::oms::binance::Ed25519Signer;
use kestrel::sim::{Market, Speed, DOCS_ED25519_PRIVATE_KEY_PEM};
use serde_json::{json, Value};
use simex_support::orders::{
    assert_shape, dec, nautilus, nautilus_dir, q, top_of_book, Rest, WsApi,
};
use simex_support::{config, start, TIMEOUT};

fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"]["e"] == kind).collect()
}

#[test]
fn spot_ws_api_trades_and_streams_user_data_with_the_real_shapes() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, true));
    let mut api = WsApi::connect(&handle, Market::Spot);
    let subscribed = api.call(
        &handle,
        "userDataStream.subscribe.signature",
        json!({}),
        true,
    );
    assert_eq!(subscribed["status"], 200, "{subscribed}");
    let subscription = subscribed["result"]["subscriptionId"]
        .as_u64()
        .expect("an id");
    assert!(subscribed["rateLimits"].is_array());
    let market = api.call(
        &handle,
        "order.place",
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01000000"}),
        true,
    );
    assert_eq!(market["status"], 200, "{market}");
    assert_eq!(market["result"]["status"], "FILLED");
    let limits = market["rateLimits"].as_array().expect("rate limits");
    assert!(limits
        .iter()
        .any(|l| l["rateLimitType"] == "ORDERS" && l["count"] == 1));
    let limit = api.call(
        &handle,
        "order.place",
        json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
               "quantity": "0.01", "price": "70000", "newClientOrderId": "ws-limit"}),
        true,
    );
    assert_eq!(limit["result"]["status"], "NEW");
    let open = api.call(
        &handle,
        "openOrders.status",
        json!({"symbol": "BTCUSDT"}),
        true,
    );
    assert_eq!(open["result"].as_array().map(Vec::len), Some(1));
    let canceled = api.call(
        &handle,
        "order.cancel",
        json!({"symbol": "BTCUSDT", "origClientOrderId": "ws-limit", "newClientOrderId": "ws-cancel"}),
        true,
    );
    assert_eq!(canceled["result"]["status"], "CANCELED");
    let account = api.call(&handle, "account.status", json!({}), true);
    assert!(account["result"]["balances"].is_array());
    let trades = api.call(&handle, "myTrades", json!({"symbol": "BTCUSDT"}), true);
    assert!(trades["result"].as_array().is_some_and(|t| !t.is_empty()));
    handle.deposit("USDT", Qty::from_int(25));
    let (bid, ask) = top_of_book(&Rest::new(&handle, Market::Spot), "/api/v3/depth");
    let oco = api.call(
        &handle,
        "orderList.place.oco",
        json!({"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01",
               "aboveType": "LIMIT_MAKER", "abovePrice": ask.saturating_add(Price::from_int(500)).to_string(),
               "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": bid.saturating_sub(Price::from_int(500)).to_string(),
               "belowPrice": bid.saturating_sub(Price::from_int(510)).to_string(), "belowTimeInForce": "GTC"}),
        true,
    );
    assert_eq!(oco["result"]["listStatusType"], "EXEC_STARTED", "{oco}");
    api.wait_event(|e| e["event"]["e"] == "listStatus", TIMEOUT)
        .expect("listStatus");
    api.wait_event(|e| e["event"]["e"] == "balanceUpdate", TIMEOUT)
        .expect("balanceUpdate");
    let events = api.events.clone();
    assert!(events.iter().all(|e| e["subscriptionId"] == subscription));
    let reports = events_of(&events, "executionReport");
    let execs: Vec<(&str, &str)> = reports
        .iter()
        .filter_map(|e| Some((e["event"]["x"].as_str()?, e["event"]["X"].as_str()?)))
        .collect();
    assert_eq!(execs[0], ("NEW", "NEW"));
    assert!(execs.contains(&("TRADE", "FILLED")));
    assert!(execs.contains(&("CANCELED", "CANCELED")));
    let cancel = reports
        .iter()
        .find(|e| e["event"]["x"] == "CANCELED")
        .expect("cancel report");
    assert_eq!(
        (cancel["event"]["c"].as_str(), cancel["event"]["C"].as_str()),
        (Some("ws-cancel"), Some("ws-limit"))
    );
    let trade = reports
        .iter()
        .find(|e| e["event"]["x"] == "TRADE")
        .expect("trade report");
    assert_eq!(dec(&trade["event"]["z"]), q("0.01"));
    assert_eq!(trade["event"]["N"], "USDT");
    let deposit = events_of(&events, "balanceUpdate")[0];
    assert_eq!(dec(&deposit["event"]["d"]), q("25"));
    if let Some(dir) = nautilus_dir("spot_ws_api_trades_and_streams_user_data_with_the_real_shapes")
    {
        let real = |rel: &str| nautilus(&dir, &format!("spot/user_data_json/{rel}"));
        assert_shape(
            reports[0],
            &real("execution_report_wrapped.json"),
            &[],
            "wrapped executionReport",
        );
        assert_shape(
            &trade["event"],
            &real("execution_report_trade.json"),
            &[],
            "executionReport TRADE",
        );
        assert_shape(
            &cancel["event"],
            &real("execution_report_canceled.json"),
            &[],
            "executionReport CANCELED",
        );
        let position = events_of(&events, "outboundAccountPosition")[0];
        assert_shape(
            &position["event"],
            &real("account_position.json"),
            &[],
            "outboundAccountPosition",
        );
        assert_shape(
            &deposit["event"],
            &real("balance_update.json"),
            &[],
            "balanceUpdate",
        );
        let list = events_of(&events, "listStatus")[0];
        assert_shape(list, &real("list_status_wrapped.json"), &[], "listStatus");
        let http = |rel: &str| nautilus(&dir, &format!("spot/http_json/{rel}"));
        assert_shape(
            &market["result"],
            &http("new_order_full_response.json"),
            &[],
            "order.place FULL",
        );
        assert_shape(
            &account["result"],
            &http("account_response.json"),
            &[],
            "account.status",
        );
    }
    handle.stop().expect("clean stop");
}

#[test]
fn session_logon_signs_once_and_errors_keep_the_envelope() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    let mut api = WsApi::connect(&handle, Market::Spot);
    let unsigned = api.call(
        &handle,
        "v3/order.place",
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}),
        false,
    );
    assert_eq!(
        (
            unsigned["status"].as_u64(),
            unsigned["error"]["code"].as_i64()
        ),
        (Some(401), Some(-2014))
    );
    let before_logon = api.call(&handle, "userDataStream.subscribe", json!({}), false);
    assert_eq!(before_logon["error"]["code"], -2015);
    // The docs API key has an Ed25519 key registered: an HMAC-signed logon does not verify.
    let hmac_logon = api.call(&handle, "session.logon", json!({}), true);
    assert_eq!(hmac_logon["error"]["code"], -1022, "{hmac_logon}");
    let now = handle.server_time_ms(Market::Spot).expect("served");
    let signature = Ed25519Signer::from_pem(DOCS_ED25519_PRIVATE_KEY_PEM)
        .expect("the documented key is valid PKCS#8")
        .sign(format!("apiKey={}&timestamp={now}", simex_support::orders::API_KEY).as_bytes());
    let logon = api.call(
        &handle,
        "session.logon",
        json!({"apiKey": simex_support::orders::API_KEY, "timestamp": now, "signature": signature.as_str()}),
        false,
    );
    assert_eq!(logon["status"], 200, "{logon}");
    assert_eq!(logon["result"]["apiKey"], simex_support::orders::API_KEY);
    let id = api.send(&handle, "order.place", json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "timestamp": handle.server_time_ms(Market::Spot).expect("served"), "returnRateLimits": false}), false);
    let placed = api.reply(&id);
    assert_eq!(placed["result"]["status"], "FILLED", "{placed}");
    assert!(
        placed.get("rateLimits").is_none(),
        "returnRateLimits=false hides them"
    );
    let subscribed = api.call(&handle, "userDataStream.subscribe", json!({}), false);
    assert!(subscribed["result"]["subscriptionId"].is_u64());
    let status = api.call(&handle, "session.status", json!({}), false);
    assert_eq!(status["result"]["userDataStream"], true);
    let forged = api.call(
        &handle,
        "account.status",
        json!({"apiKey": simex_support::orders::API_KEY, "timestamp": 1, "signature": "00"}),
        false,
    );
    assert_eq!(forged["error"]["code"], -1022);
    let unknown = api.call(&handle, "order.teleport", json!({}), true);
    assert_eq!(
        (
            unknown["status"].as_u64(),
            unknown["error"]["code"].as_i64()
        ),
        (Some(400), Some(-1020))
    );
    api.ws
        .send(tungstenite::Message::text("{not json"))
        .expect("sent");
    let invalid = api.next_frame();
    let invalid = if invalid.get("error").is_some() {
        invalid
    } else {
        api.next_frame()
    };
    assert_eq!(invalid["error"]["code"], -1135);
    // A connection opened with returnRateLimits=false never carries them.
    let mut quiet = WsApi::connect_path(&handle, Market::Spot, "/ws-api/v3?returnRateLimits=false");
    let account = quiet.call(&handle, "account.status", json!({}), true);
    assert!(account["result"].is_object() && account.get("rateLimits").is_none());
    handle.stop().expect("clean stop");
}

#[test]
fn futures_ws_api_places_orders_algo_orders_and_starts_a_listen_key() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, false));
    let mut api = WsApi::connect(&handle, Market::UsdmFutures);
    let placed = api.call(
        &handle,
        "order.place",
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "newOrderRespType": "RESULT"}),
        true,
    );
    assert_eq!(placed["result"]["status"], "FILLED", "{placed}");
    let algo = api.call(
        &handle,
        "algoOrder.place",
        json!({"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
               "quantity": "0.01", "triggerPrice": "50000", "reduceOnly": "true", "clientAlgoId": "ws-algo"}),
        true,
    );
    assert_eq!(
        (
            algo["result"]["algoStatus"].as_str(),
            algo["result"]["orderType"].as_str()
        ),
        (Some("NEW"), Some("STOP_MARKET")),
        "{algo}"
    );
    let status = api.call(
        &handle,
        "order.status",
        json!({"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"]}),
        true,
    );
    assert_eq!(status["result"]["status"], "FILLED");
    let account = api.call(&handle, "v2/account.status", json!({}), true);
    assert!(account["result"]["positions"].is_array());
    let position = api.call(
        &handle,
        "v2/account.position",
        json!({"symbol": "BTCUSDT"}),
        true,
    );
    assert_eq!(dec(&position["result"][0]["positionAmt"]), q("0.01"));
    let canceled = api.call(
        &handle,
        "algoOrder.cancel",
        json!({"clientAlgoId": "ws-algo"}),
        true,
    );
    assert_eq!(canceled["result"]["msg"], "success");
    let key = api.call(
        &handle,
        "userDataStream.start",
        json!({"apiKey": simex_support::orders::API_KEY}),
        false,
    );
    assert_eq!(
        key["result"]["listenKey"].as_str().map(str::len),
        Some(64),
        "{key}"
    );
    handle.stop().expect("clean stop");
}
