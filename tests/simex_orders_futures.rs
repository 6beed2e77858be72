//! simex's USDⓈ-M order side: orders, positions and the account over REST (TLS and plain),
//! conditional orders through the algo service triggered by the replayed market, the
//! listenKey life cycle and its `/private/ws/<listenKey>` events, each compared key by key
//! with the real Binance payloads; the retired unrouted market paths are refused.

mod simex_support;

use std::time::Duration;

use kestrel::core::Price;
use kestrel::sim::{Market, SimexHandle, Speed};
use serde_json::Value;
use simex_support::orders::{
    assert_shape, dec, nautilus, nautilus_dir, params as p, q, top_of_book, trades_after, Rest,
};
use simex_support::{config, start, ws_connect, ClientStream, TIMEOUT, USDM_CAPTURE};
use tungstenite::{Message, WebSocket};

const FAPI_DEPTH: &str = "/fapi/v1/depth";

/// Frames of a private stream until `wanted` has matched `count` events (all kept).
fn read_until(
    ws: &mut WebSocket<ClientStream>,
    seen: &mut Vec<Value>,
    wanted: impl Fn(&Value) -> bool,
    count: usize,
) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while seen.iter().filter(|e| wanted(e)).count() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "events so far: {seen:?}"
        );
        match ws.read().expect("event before the timeout") {
            Message::Text(text) => {
                seen.push(serde_json::from_str(text.as_str()).expect("JSON event"))
            }
            Message::Close(frame) => panic!("stream closed: {frame:?}; events {seen:?}"),
            _ => {}
        }
    }
}

fn event<'a>(seen: &'a [Value], kind: &str, exec: Option<&str>) -> &'a Value {
    seen.iter()
        .find(|e| e["e"] == kind && exec.is_none_or(|x| e["o"]["x"] == x))
        .unwrap_or_else(|| panic!("no {kind} {exec:?} in {seen:?}"))
}

fn private_stream(handle: &SimexHandle, rest: &Rest) -> WebSocket<ClientStream> {
    let key = rest.send("POST", "/fapi/v1/listenKey", "", "");
    let key = key.body["listenKey"]
        .as_str()
        .expect("a listenKey")
        .to_owned();
    ws_connect(handle, Market::UsdmFutures, &format!("/private/ws/{key}"))
}

#[test]
fn futures_orders_positions_and_account_round_trip_with_the_real_shapes() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, true));
    let rest = Rest::new(&handle, Market::UsdmFutures);
    let mut stream = private_stream(&handle, &rest);
    let opened = rest.signed(
        &handle,
        "POST",
        "/fapi/v1/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.010"),
            ("newOrderRespType", "RESULT"),
        ]),
    );
    assert_eq!(
        (opened.status, opened.body["status"].as_str()),
        (200, Some("FILLED")),
        "{}",
        opened.text
    );
    assert_eq!(dec(&opened.body["executedQty"]), q("0.01"));
    let resting = rest.signed(
        &handle,
        "POST",
        "/fapi/v1/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "55000"),
            ("newClientOrderId", "fut-1"),
        ]),
    );
    assert_eq!(resting.body["status"], "NEW");
    let open = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/openOrders",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(open.body.as_array().map(Vec::len), Some(1));
    let queried = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "fut-1")]),
    );
    assert_eq!(queried.body["orderId"], resting.body["orderId"]);
    let canceled = rest.signed(
        &handle,
        "DELETE",
        "/fapi/v1/order",
        &p(&[("symbol", "BTCUSDT"), ("origClientOrderId", "fut-1")]),
    );
    assert_eq!(canceled.body["status"], "CANCELED");
    let risk = rest.signed(
        &handle,
        "GET",
        "/fapi/v2/positionRisk",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(dec(&risk.body[0]["positionAmt"]), q("0.01"));
    assert_eq!(
        dec(&risk.body[0]["entryPrice"]),
        dec(&opened.body["avgPrice"])
    );
    let account = rest.signed(&handle, "GET", "/fapi/v2/account", &[]);
    let fee = dec(&opened.body["cumQuote"]).raw() / 2_000; // 5 bps taker
    assert_eq!(
        dec(&account.body["totalWalletBalance"]).raw(),
        q("100000").raw() - fee,
        "the wallet paid the taker fee"
    );
    let trades = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/userTrades",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert!(trades.body.as_array().is_some_and(|t| !t.is_empty()));
    let venue = handle.account(Market::UsdmFutures).expect("served");
    assert_eq!(venue.positions[0].qty, q("0.01"));
    assert!(venue.open_orders.is_empty());
    let mut seen = Vec::new();
    read_until(
        &mut stream,
        &mut seen,
        |e| e["e"] == "ORDER_TRADE_UPDATE" && e["o"]["X"] == "CANCELED",
        1,
    );
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["e"].as_str()).collect();
    let lite = kinds
        .iter()
        .position(|k| *k == "TRADE_LITE")
        .expect("a TRADE_LITE");
    assert_eq!(
        kinds[lite + 1..lite + 3],
        ["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    );
    let update = event(&seen, "ACCOUNT_UPDATE", None);
    assert_eq!(dec(&update["a"]["P"][0]["pa"]), q("0.01"));
    assert_eq!(update["a"]["m"], "ORDER");
    // Rejects, with futures codes.
    let reject = |params: &[(&'static str, &str)]| {
        rest.signed(&handle, "POST", "/fapi/v1/order", &p(params))
            .code()
    };
    assert_eq!(
        reject(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "100")
        ]),
        Some(-2019)
    );
    assert_eq!(
        reject(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.0001")
        ]),
        Some(-1111)
    );
    assert_eq!(
        reject(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "STOP_MARKET"),
            ("quantity", "0.01"),
            ("stopPrice", "50000")
        ]),
        Some(-4120)
    );
    assert_eq!(
        reject(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.01"),
            ("positionSide", "LONG")
        ]),
        Some(-4061)
    );
    assert_eq!(
        reject(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.01"),
            ("reduceOnly", "true")
        ]),
        Some(-2022)
    );
    let (bid, _) = top_of_book(&rest, FAPI_DEPTH);
    let post_only = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTX"),
        ("quantity", "0.01"),
        ("price", &bid.to_string()),
    ];
    assert_eq!(reject(&post_only), Some(-5022));
    let closed = rest.signed(
        &handle,
        "POST",
        "/fapi/v1/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", "MARKET"),
            ("quantity", "0.01"),
            ("reduceOnly", "true"),
            ("newOrderRespType", "RESULT"),
        ]),
    );
    assert_eq!(closed.body["status"], "FILLED");
    let venue = handle.account(Market::UsdmFutures).expect("served");
    assert!(venue.positions[0].qty.is_zero());
    let trades = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/userTrades",
        &p(&[("symbol", "BTCUSDT")]),
    );
    let realized = trades
        .body
        .as_array()
        .expect("trades")
        .iter()
        .fold(q("0"), |sum, t| sum.saturating_add(dec(&t["realizedPnl"])));
    assert_eq!(
        realized.raw(),
        venue.realized_pnl.raw(),
        "userTrades and the venue agree on realized PnL"
    );
    assert!(
        venue.realized_pnl.raw() < 0,
        "bought at the ask, sold at the bid"
    );
    if let Some(dir) =
        nautilus_dir("futures_orders_positions_and_account_round_trip_with_the_real_shapes")
    {
        let real = |rel: &str| nautilus(&dir, &format!("futures/{rel}"));
        assert_shape(
            &opened.body,
            &real("http_json/order_response.json"),
            &[],
            "order",
        );
        assert_shape(
            &risk.body,
            &real("http_json/position_risk.json"),
            &[],
            "positionRisk",
        );
        assert_shape(
            &account.body,
            &real("http_json/account_info_v2.json"),
            &[],
            "account v2",
        );
        assert_shape(
            event(&seen, "ORDER_TRADE_UPDATE", Some("TRADE")),
            &real("user_data_json/order_update_trade.json"),
            &[],
            "ORDER_TRADE_UPDATE trade",
        );
        assert_shape(
            event(&seen, "ORDER_TRADE_UPDATE", Some("NEW")),
            &real("user_data_json/order_update_new.json"),
            &[],
            "ORDER_TRADE_UPDATE new",
        );
        assert_shape(
            event(&seen, "TRADE_LITE", None),
            &real("user_data_json/trade_lite.json"),
            &[],
            "TRADE_LITE",
        );
        assert_shape(
            update,
            &real("user_data_json/account_update.json"),
            &[],
            "ACCOUNT_UPDATE",
        );
    }
    handle.stop().expect("clean stop");
}

#[test]
fn algo_orders_wait_in_the_algo_service_and_trigger_on_the_replayed_market() {
    let handle = start(config(Market::UsdmFutures, Speed::Times(40.0), false));
    handle.stall(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(100));
    let rest = Rest::new(&handle, Market::UsdmFutures);
    let mut stream = private_stream(&handle, &rest);
    let opened = rest.signed(
        &handle,
        "POST",
        "/fapi/v1/order",
        &p(&[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quantity", "0.02"),
        ]),
    );
    assert_eq!(opened.status, 200, "{}", opened.text);
    let (bid, ask) = top_of_book(&rest, FAPI_DEPTH);
    let position = handle.replay_ms(Market::UsdmFutures).expect("served");
    let future = trades_after(USDM_CAPTURE, position + 1_000);
    let lowest = future.iter().map(|t| t.1).min().expect("trades follow");
    // Far enough from the last replayed trade that placing it does not trigger it.
    let margin = Price::from_int(30);
    let (kind, trigger) = if lowest < bid.saturating_sub(margin) {
        ("STOP_MARKET", bid.saturating_sub(margin))
    } else {
        ("TAKE_PROFIT_MARKET", ask.saturating_add(margin))
    };
    let algo = |kind: &str, trigger: &str, client: &str| {
        rest.signed(
            &handle,
            "POST",
            "/fapi/v1/algoOrder",
            &p(&[
                ("algoType", "CONDITIONAL"),
                ("symbol", "BTCUSDT"),
                ("side", "SELL"),
                ("type", kind),
                ("triggerPrice", trigger),
                ("closePosition", "true"),
                ("clientAlgoId", client),
            ]),
        )
    };
    let far = algo(
        "STOP_MARKET",
        &bid.saturating_sub(Price::from_int(5000)).to_string(),
        "far",
    );
    assert_eq!(
        (far.status, far.body["algoStatus"].as_str()),
        (200, Some("NEW")),
        "{}",
        far.text
    );
    let immediate = algo(
        "STOP_MARKET",
        &ask.saturating_add(Price::from_int(1000)).to_string(),
        "now",
    );
    assert_eq!(immediate.code(), Some(-2021));
    let guard = algo(kind, &trigger.to_string(), "guard");
    assert_eq!(guard.body["algoStatus"], "NEW", "{}", guard.text);
    let open = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/openAlgoOrders",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(open.body.as_array().map(Vec::len), Some(2));
    let canceled = rest.signed(
        &handle,
        "DELETE",
        "/fapi/v1/algoOrder",
        &p(&[("clientAlgoId", "far")]),
    );
    assert_eq!(
        (
            canceled.body["code"].as_str(),
            canceled.body["msg"].as_str()
        ),
        (Some("200"), Some("success"))
    );
    handle.stall(Duration::ZERO);
    let mut seen = Vec::new();
    read_until(
        &mut stream,
        &mut seen,
        |e| e["e"] == "ALGO_UPDATE" && e["o"]["caid"] == "guard" && e["o"]["X"] == "FINISHED",
        1,
    );
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|e| e["e"] == "ALGO_UPDATE" && e["o"]["caid"] == "guard")
        .filter_map(|e| e["o"]["X"].as_str())
        .collect();
    assert_eq!(statuses, ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]);
    let risk = rest.signed(
        &handle,
        "GET",
        "/fapi/v2/positionRisk",
        &p(&[("symbol", "BTCUSDT")]),
    );
    assert_eq!(
        dec(&risk.body[0]["positionAmt"]),
        q("0"),
        "closePosition closed it"
    );
    let queried = rest.signed(
        &handle,
        "GET",
        "/fapi/v1/algoOrder",
        &p(&[("clientAlgoId", "guard")]),
    );
    assert_eq!(queried.body["algoStatus"], "FINISHED");
    assert!(queried.body["actualOrderId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    if let Some(dir) =
        nautilus_dir("algo_orders_wait_in_the_algo_service_and_trigger_on_the_replayed_market")
    {
        let real = |rel: &str| nautilus(&dir, &format!("futures/{rel}"));
        // nautilus's hand-made fixture says `type`; Binance sends `orderType` (nautilus
        // reads both).
        assert_shape(
            &open.body,
            &real("http_json/open_algo_orders.json"),
            &["[].type"],
            "openAlgoOrders",
        );
        let first = seen
            .iter()
            .find(|e| e["e"] == "ALGO_UPDATE")
            .expect("an ALGO_UPDATE");
        assert_shape(
            first,
            &real("user_data_json/algo_update_new.json"),
            &[],
            "ALGO_UPDATE",
        );
    }
    handle.stop().expect("clean stop");
}

#[test]
fn listen_keys_live_extend_close_and_expire_with_an_event() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, false));
    let rest = Rest::new(&handle, Market::UsdmFutures);
    let first = rest.send("POST", "/fapi/v1/listenKey", "", "");
    let again = rest.send("POST", "/fapi/v1/listenKey", "", "");
    assert_eq!(first.body["listenKey"], again.body["listenKey"]);
    let key = first.body["listenKey"].as_str().expect("key").to_owned();
    assert_eq!(
        rest.send("PUT", "/fapi/v1/listenKey", "", "").body["listenKey"],
        key.as_str()
    );
    assert_eq!(
        rest.send_with_key("POST", "/fapi/v1/listenKey", "", "", None)
            .code(),
        Some(-2014)
    );
    let mut stream = ws_connect(&handle, Market::UsdmFutures, &format!("/private/ws/{key}"));
    handle.expire_listen_keys();
    let mut seen = Vec::new();
    read_until(&mut stream, &mut seen, |e| e["e"] == "listenKeyExpired", 1);
    assert_eq!(seen[0]["listenKey"], key.as_str());
    let closed = loop {
        match stream.read() {
            Ok(Message::Close(_)) | Err(_) => break true,
            Ok(_) => {}
        }
    };
    assert!(closed, "the stream ends after listenKeyExpired");
    assert_eq!(
        rest.send("PUT", "/fapi/v1/listenKey", "", "").code(),
        Some(-1125)
    );
    let fresh = rest.send("POST", "/fapi/v1/listenKey", "", "");
    assert_ne!(fresh.body["listenKey"], key.as_str());
    assert_eq!(rest.send("DELETE", "/fapi/v1/listenKey", "", "").text, "{}");
    let addr = handle.addr(Market::UsdmFutures).expect("served");
    let url = format!("ws://localhost:{}/private/ws/{key}", addr.port());
    let refused = tungstenite::client(url, simex_support::connect(&handle, addr));
    assert!(refused.is_err(), "an unknown listenKey is refused");
    handle.stop().expect("clean stop");
}

#[test]
fn the_retired_unrouted_futures_market_paths_are_refused() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, false));
    let addr = handle.addr(Market::UsdmFutures).expect("served");
    for target in ["/ws/btcusdt@trade", "/stream?streams=btcusdt@trade"] {
        let url = format!("ws://localhost:{}{target}", addr.port());
        match tungstenite::client(url, simex_support::connect(&handle, addr)) {
            Err(tungstenite::handshake::HandshakeError::Failure(tungstenite::Error::Http(
                response,
            ))) => {
                assert_eq!(response.status().as_u16(), 404, "{target}");
            }
            other => panic!("{target} should be refused, got {:?}", other.map(|_| ())),
        }
    }
    let mut routed = ws_connect(&handle, Market::UsdmFutures, "/market/ws/btcusdt@trade");
    let frame = simex_support::next_text(&mut routed);
    assert!(frame.contains("\"e\":\"trade\""));
    handle.stop().expect("clean stop");
}
