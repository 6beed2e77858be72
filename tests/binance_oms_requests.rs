//! The Binance order codec builds, for every order type and market, exactly the parameter
//! set the venue documents (protocols.md §1.3–1.5, §2.4), signed the way each transport
//! requires, and refuses locally what the venue would reject.

use std::collections::BTreeMap;

use kestrel::core::ids::ClientOrderIdGen;
use kestrel::core::{
    ClientOrderId, Instrument, LotSizeFilter, Market, Notional, NotionalFilter, OrderType, Price,
    PriceFilter, Qty, Side, SymbolId, SymbolTable, TimeInForce,
};
use kestrel::oms::binance::{
    BinanceOrderCodec, BuildError, CodecConfig, Ed25519Signer, HmacSigner, HttpMethod,
    InstrumentFamily, ListenKeyAction, OrderResponseType, OrderRoute, OrderSymbols, Request,
    SymbolScope,
};
use kestrel::oms::venue::{MarginParams, MarginSideEffect, OcoOrder, RejectKind, VenueOrder};

const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const NOW_MS: u64 = 1_660_801_715_431;

fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}

struct Fixture {
    btc: SymbolId,
    eth: SymbolId,
    ids: ClientOrderIdGen,
    spot: BinanceOrderCodec,
    futures: BinanceOrderCodec,
}

fn instrument(
    name: &str,
    market: Market,
    tick: &str,
    step: &str,
    decimals: (u32, u32),
) -> Instrument {
    let mut inst = Instrument::new(name, market, &name[..3], &name[3..]);
    inst.price_filter = PriceFilter {
        min_price: p(tick),
        max_price: p("1000000"),
        tick_size: p(tick),
    };
    inst.lot_size = LotSizeFilter {
        min_qty: q(step),
        max_qty: q("9000"),
        step_size: q(step),
    };
    inst.notional = NotionalFilter {
        min_notional: Notional::from_int(5),
        apply_min_to_market: true,
        ..NotionalFilter::default()
    };
    (inst.price_decimals, inst.qty_decimals) = decimals;
    inst
}

fn fixture(config: CodecConfig) -> Fixture {
    let mut table = SymbolTable::new();
    let btc = table.intern("BTCUSDT").expect("valid name");
    let eth = table.intern("ETHUSDT").expect("valid name");
    let spot_instruments = [
        instrument("BTCUSDT", Market::Spot, "0.01", "0.00001", (2, 8)),
        instrument("ETHUSDT", Market::Spot, "0.01", "0.0001", (2, 8)),
    ];
    let futures_instruments = [instrument(
        "BTCUSDT",
        Market::UsdmFutures,
        "0.1",
        "0.001",
        (1, 3),
    )];
    let signer = || HmacSigner::new(SECRET).expect("non-empty secret");
    let spot_symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &spot_instruments)
        .expect("spot instruments");
    let futures_symbols =
        OrderSymbols::new(InstrumentFamily::UsdmFutures, &table, &futures_instruments)
            .expect("futures instruments");
    Fixture {
        btc,
        eth,
        ids: ClientOrderIdGen::new(7).expect("small session"),
        spot: BinanceOrderCodec::new(spot_symbols, API_KEY, signer(), config).expect("valid key"),
        futures: BinanceOrderCodec::new(futures_symbols, API_KEY, signer(), config)
            .expect("valid key"),
    }
}

impl Fixture {
    fn order(&mut self, market: Market, order_type: OrderType, side: Side) -> VenueOrder {
        let futures = market == Market::UsdmFutures;
        VenueOrder {
            client_order_id: self.ids.next_id().expect("fresh id"),
            symbol: self.btc,
            market,
            side,
            order_type,
            time_in_force: TimeInForce::Gtc,
            price: match order_type {
                OrderType::Limit | OrderType::LimitMaker => p("52000"),
                _ => Price::ZERO,
            },
            trigger_price: match order_type {
                OrderType::StopMarket => p("48000"),
                OrderType::TakeProfitMarket => p("56000"),
                _ => Price::ZERO,
            },
            qty: if futures { q("0.012") } else { q("0.01") },
            reduce_only: false,
            margin: MarginParams::default(),
        }
    }
}

fn form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("every pair is key=value");
            (key.to_string(), value.to_string())
        })
        .collect()
}

fn expect_set(actual: &BTreeMap<String, String>, expected: &[(&str, &str)]) {
    let mut actual = actual.clone();
    let signature = actual.remove("signature");
    assert!(
        signature.is_none_or(|s| s.len() == 64),
        "a REST signature is 64 hex digits"
    );
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(actual, expected);
}

/// The REST request's params (query or body), after checking the signature covers exactly
/// the bytes before `&signature=`.
fn rest_params(
    codec: &mut BinanceOrderCodec,
    request: &Request<'_>,
) -> (HttpMethod, String, BTreeMap<String, String>) {
    let built = codec.rest(request, NOW_MS).expect("request builds");
    let (method, path) = (built.method, built.path.to_string());
    let text = if matches!(method, HttpMethod::Get | HttpMethod::Delete) {
        assert!(built.body.is_empty());
        built.query_str().to_string()
    } else {
        assert!(built.query.is_empty());
        built.body_str().to_string()
    };
    let (signed, signature) = text
        .rsplit_once("&signature=")
        .expect("signed requests end with the signature");
    let expected = HmacSigner::new(SECRET)
        .expect("non-empty secret")
        .sign(signed.as_bytes());
    assert_eq!(signature, expected.as_str());
    (method, path, form(&text))
}

/// The WebSocket API frame's method and params, after checking id, sorted-payload signature
/// and that `apiKey` is among the signed params.
fn ws_params(
    codec: &mut BinanceOrderCodec,
    request: &Request<'_>,
) -> (String, BTreeMap<String, String>) {
    let built = codec.ws(request, NOW_MS, 42).expect("request builds");
    let frame: serde_json::Value = serde_json::from_slice(built.text).expect("frame is JSON");
    assert_eq!(frame["id"], 42);
    let method = frame["method"].as_str().expect("method").to_string();
    assert_eq!(method, built.method);
    let mut map = frame_params(built.text);
    let signature = map.remove("signature").expect("signed frame");
    assert_eq!(map.get("apiKey").map(String::as_str), Some(API_KEY));
    let payload = map
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let expected = HmacSigner::new(SECRET)
        .expect("non-empty secret")
        .sign(payload.as_bytes());
    assert_eq!(signature, expected.as_str());
    map.remove("apiKey");
    (method, map)
}

fn place(order: &VenueOrder) -> Request<'_> {
    Request::Place {
        order,
        reference_price: p("52000"),
    }
}

#[test]
fn spot_limit_rest_body_is_exact_and_signed_over_itself() {
    let mut fx = fixture(CodecConfig::default());
    let order = fx.order(Market::Spot, OrderType::Limit, Side::Sell);
    let built = fx.spot.rest(&place(&order), NOW_MS).expect("valid order");
    assert_eq!(
        (built.method, built.path),
        (HttpMethod::Post, "/api/v3/order")
    );
    assert!(built.needs_api_key);
    assert_eq!((built.cost.weight, built.cost.orders), (1, 1));
    let body = built.body_str().to_string();
    // The params that depend only on what is traded lead (their SHA block is hashed once
    // when the codec is built); the rest follow, each group in name order.
    let signed = "newOrderRespType=ACK&recvWindow=5000&side=SELL&symbol=BTCUSDT&type=LIMIT\
                  &newClientOrderId=ks7-1&price=52000.00&quantity=0.01000000&timeInForce=GTC\
                  &timestamp=1660801715431";
    let signature = HmacSigner::new(SECRET)
        .expect("non-empty")
        .sign(signed.as_bytes());
    assert_eq!(body, format!("{signed}&signature={}", signature.as_str()));

    // Under one SHA block of constant params there is nothing to hash ahead: plain name order.
    let mut short = fixture(CodecConfig {
        recv_window_ms: 0,
        ..CodecConfig::default()
    });
    let mut order = short.order(Market::Spot, OrderType::Market, Side::Buy);
    order.symbol = short.eth;
    let built = short
        .spot
        .rest(&place(&order), NOW_MS)
        .expect("valid order");
    let signed = "newClientOrderId=ks7-1&newOrderRespType=ACK&quantity=0.01000000&side=BUY\
                  &symbol=ETHUSDT&timestamp=1660801715431&type=MARKET";
    let signature = HmacSigner::new(SECRET)
        .expect("non-empty")
        .sign(signed.as_bytes());
    assert_eq!(
        built.body_str(),
        format!("{signed}&signature={}", signature.as_str())
    );
}

#[test]
fn spot_order_types_carry_the_documented_params() {
    let mut fx = fixture(CodecConfig::default());
    let common = |id: &str| {
        vec![
            ("symbol", "BTCUSDT"),
            ("newClientOrderId", id),
            ("newOrderRespType", "ACK"),
            ("recvWindow", "5000"),
            ("timestamp", "1660801715431"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect::<Vec<_>>()
    };
    type Case<'a> = (OrderType, Side, &'a [(&'a str, &'a str)]);
    let cases: [Case<'_>; 5] = [
        (
            OrderType::Limit,
            Side::Buy,
            &[
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.01000000"),
                ("price", "52000.00"),
            ],
        ),
        (
            OrderType::Market,
            Side::Buy,
            &[
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quantity", "0.01000000"),
            ],
        ),
        (
            OrderType::LimitMaker,
            Side::Sell,
            &[
                ("side", "SELL"),
                ("type", "LIMIT_MAKER"),
                ("quantity", "0.01000000"),
                ("price", "52000.00"),
            ],
        ),
        (
            OrderType::StopMarket,
            Side::Sell,
            &[
                ("side", "SELL"),
                ("type", "STOP_LOSS"),
                ("quantity", "0.01000000"),
                ("stopPrice", "48000.00"),
            ],
        ),
        (
            OrderType::TakeProfitMarket,
            Side::Sell,
            &[
                ("side", "SELL"),
                ("type", "TAKE_PROFIT"),
                ("quantity", "0.01000000"),
                ("stopPrice", "56000.00"),
            ],
        ),
    ];
    for (order_type, side, specific) in cases {
        let order = fx.order(Market::Spot, order_type, side);
        let id = order.client_order_id.to_string();
        let mut expected: Vec<(&str, String)> = common(&id);
        expected.extend(specific.iter().map(|(k, v)| (*k, v.to_string())));
        let expected: Vec<(&str, &str)> = expected.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let (method, path, params) = rest_params(&mut fx.spot, &place(&order));
        assert_eq!((method, path.as_str()), (HttpMethod::Post, "/api/v3/order"));
        expect_set(&params, &expected);

        let (ws_method, ws) = ws_params(&mut fx.spot, &place(&order));
        assert_eq!(ws_method, "order.place");
        expect_set(&ws, &expected);
    }
}

#[test]
fn a_spot_stop_with_a_limit_price_is_stop_loss_limit_and_signed_without_the_stop_prefix() {
    let mut fx = fixture(CodecConfig::default());
    let mut order = fx.order(Market::Spot, OrderType::StopMarket, Side::Sell);
    order.price = p("47880.00");
    let id = order.client_order_id.to_string();
    let expected = [
        ("symbol", "BTCUSDT"),
        ("newClientOrderId", id.as_str()),
        ("newOrderRespType", "ACK"),
        ("recvWindow", "5000"),
        ("timestamp", "1660801715431"),
        ("side", "SELL"),
        ("type", "STOP_LOSS_LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01000000"),
        ("price", "47880.00"),
        ("stopPrice", "48000.00"),
    ];
    // rest_params checks the signature covers the bytes sent: the precomputed STOP_LOSS
    // prefix must not be used for it.
    let (_, path, params) = rest_params(&mut fx.spot, &place(&order));
    assert_eq!(path, "/api/v3/order");
    expect_set(&params, &expected);
    let (_, ws) = ws_params(&mut fx.spot, &place(&order));
    expect_set(&ws, &expected);
    // The limit is a limit price: it must sit on the tick grid.
    order.price = p("47880.005");
    let err = fx
        .spot
        .rest(&place(&order), NOW_MS)
        .expect_err("off the tick");
    assert!(err.to_string().contains("PRICE_FILTER"), "{err}");
}

#[test]
fn margin_orders_add_isolation_and_side_effect_and_fall_back_from_auto_borrow_repay() {
    let mut fx = fixture(CodecConfig {
        response_type: OrderResponseType::Full,
        ..CodecConfig::default()
    });
    let mut order = fx.order(Market::Margin, OrderType::Limit, Side::Buy);
    order.margin = MarginParams {
        isolated: true,
        side_effect: MarginSideEffect::MarginBuy,
    };
    let id = order.client_order_id.to_string();
    let (method, path, params) = rest_params(&mut fx.spot, &place(&order));
    assert_eq!(
        (method, path.as_str()),
        (HttpMethod::Post, "/sapi/v1/margin/order")
    );
    expect_set(
        &params,
        &[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01000000"),
            ("price", "52000.00"),
            ("newClientOrderId", &id),
            ("newOrderRespType", "FULL"),
            ("isIsolated", "TRUE"),
            ("sideEffectType", "MARGIN_BUY"),
            ("recvWindow", "5000"),
            ("timestamp", "1660801715431"),
        ],
    );
    assert!(matches!(
        fx.spot.ws(&place(&order), NOW_MS, 1),
        Err(BuildError::RestOnly {
            market: Market::Margin,
            ..
        })
    ));

    order.margin = MarginParams {
        isolated: false,
        side_effect: MarginSideEffect::AutoBorrowRepay,
    };
    let (_, _, params) = rest_params(&mut fx.spot, &place(&order));
    assert_eq!(params["isIsolated"], "FALSE");
    assert_eq!(params["sideEffectType"], "AUTO_BORROW_REPAY");

    let mut retired = fixture(CodecConfig {
        auto_borrow_repay: false,
        ..CodecConfig::default()
    });
    let (_, _, opening) = rest_params(&mut retired.spot, &place(&order));
    assert_eq!(opening["sideEffectType"], "MARGIN_BUY");
    order.reduce_only = true;
    let (_, _, closing) = rest_params(&mut retired.spot, &place(&order));
    assert_eq!(closing["sideEffectType"], "AUTO_REPAY");
}

#[test]
fn futures_book_orders_use_gtx_for_post_only_and_send_reduce_only() {
    let mut fx = fixture(CodecConfig {
        response_type: OrderResponseType::Full,
        recv_window_ms: 0,
        ..CodecConfig::default()
    });
    let mut order = fx.order(Market::UsdmFutures, OrderType::LimitMaker, Side::Buy);
    order.reduce_only = true;
    let id = order.client_order_id.to_string();
    let expected = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTX"),
        ("quantity", "0.012"),
        ("price", "52000.0"),
        ("reduceOnly", "true"),
        ("newClientOrderId", id.as_str()),
        ("newOrderRespType", "RESULT"),
        ("timestamp", "1660801715431"),
    ];
    let (method, path, params) = rest_params(&mut fx.futures, &place(&order));
    assert_eq!(
        (method, path.as_str()),
        (HttpMethod::Post, "/fapi/v1/order")
    );
    expect_set(&params, &expected);
    let (ws_method, ws) = ws_params(&mut fx.futures, &place(&order));
    assert_eq!(ws_method, "order.place");
    expect_set(&ws, &expected);

    let market = fx.order(Market::UsdmFutures, OrderType::Market, Side::Sell);
    let (_, _, params) = rest_params(&mut fx.futures, &place(&market));
    assert_eq!(params["type"], "MARKET");
    assert!(!params.contains_key("reduceOnly") && !params.contains_key("timeInForce"));
}

#[test]
fn futures_stops_and_take_profits_go_to_the_algo_service() {
    let mut fx = fixture(CodecConfig::default());
    for (order_type, kind, trigger) in [
        (OrderType::StopMarket, "STOP_MARKET", "48000.0"),
        (OrderType::TakeProfitMarket, "TAKE_PROFIT_MARKET", "56000.0"),
    ] {
        let mut order = fx.order(Market::UsdmFutures, order_type, Side::Sell);
        order.reduce_only = true;
        assert_eq!(OrderRoute::of(&order), OrderRoute::Algo);
        let id = order.client_order_id.to_string();
        let expected = [
            ("algoType", "CONDITIONAL"),
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", kind),
            ("quantity", "0.012"),
            ("triggerPrice", trigger),
            ("workingType", "MARK_PRICE"),
            ("reduceOnly", "true"),
            ("clientAlgoId", id.as_str()),
            ("recvWindow", "5000"),
            ("timestamp", "1660801715431"),
        ];
        let (method, path, params) = rest_params(&mut fx.futures, &place(&order));
        assert_eq!(
            (method, path.as_str()),
            (HttpMethod::Post, "/fapi/v1/algoOrder")
        );
        expect_set(&params, &expected);
        let (ws_method, ws) = ws_params(&mut fx.futures, &place(&order));
        assert_eq!(ws_method, "algoOrder.place");
        expect_set(&ws, &expected);
    }
}

fn oco(fx: &mut Fixture, market: Market, side: Side, stop_limit: &str) -> OcoOrder {
    let (take_profit, stop) = match side {
        Side::Sell => ("56000", "48000"),
        Side::Buy => ("48000", "56000"),
    };
    OcoOrder {
        list_id: fx.ids.next_id().expect("fresh"),
        symbol: fx.btc,
        market,
        side,
        qty: q("0.01"),
        take_profit_id: fx.ids.next_id().expect("fresh"),
        take_profit_price: p(take_profit),
        stop_id: fx.ids.next_id().expect("fresh"),
        stop_trigger: p(stop),
        stop_limit: if stop_limit.is_empty() {
            Price::ZERO
        } else {
            p(stop_limit)
        },
        margin: MarginParams::default(),
    }
}

#[test]
fn spot_oco_puts_the_take_profit_and_stop_on_the_right_sides() {
    let mut fx = fixture(CodecConfig::default());
    let sell = oco(&mut fx, Market::Spot, Side::Sell, "47900");
    let request = Request::PlaceOco {
        oco: &sell,
        reference_price: p("52000"),
    };
    let (method, path, params) = rest_params(&mut fx.spot, &request);
    assert_eq!(
        (method, path.as_str()),
        (HttpMethod::Post, "/api/v3/orderList/oco")
    );
    let ids = [sell.list_id, sell.take_profit_id, sell.stop_id].map(|id| id.to_string());
    let expected = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("quantity", "0.01000000"),
        ("listClientOrderId", ids[0].as_str()),
        ("newOrderRespType", "ACK"),
        ("aboveType", "LIMIT_MAKER"),
        ("abovePrice", "56000.00"),
        ("aboveClientOrderId", ids[1].as_str()),
        ("belowType", "STOP_LOSS_LIMIT"),
        ("belowStopPrice", "48000.00"),
        ("belowPrice", "47900.00"),
        ("belowTimeInForce", "GTC"),
        ("belowClientOrderId", ids[2].as_str()),
        ("recvWindow", "5000"),
        ("timestamp", "1660801715431"),
    ];
    expect_set(&params, &expected);
    let (ws_method, ws) = ws_params(&mut fx.spot, &request);
    assert_eq!(ws_method, "orderList.place.oco");
    expect_set(&ws, &expected);
    assert_eq!(
        fx.spot.rest(&request, NOW_MS).expect("valid").cost.orders,
        2
    );

    let buy = oco(&mut fx, Market::Spot, Side::Buy, "");
    let (_, _, params) = rest_params(
        &mut fx.spot,
        &Request::PlaceOco {
            oco: &buy,
            reference_price: p("52000"),
        },
    );
    assert_eq!(params["belowType"], "LIMIT_MAKER");
    assert_eq!(params["belowPrice"], "48000.00");
    assert_eq!(params["belowClientOrderId"], buy.take_profit_id.to_string());
    assert_eq!(params["aboveType"], "STOP_LOSS");
    assert_eq!(params["aboveStopPrice"], "56000.00");
    assert!(!params.contains_key("abovePrice") && !params.contains_key("aboveTimeInForce"));

    let mut crossed = oco(&mut fx, Market::Spot, Side::Sell, "");
    std::mem::swap(&mut crossed.take_profit_price, &mut crossed.stop_trigger);
    assert!(matches!(
        fx.spot.rest(
            &Request::PlaceOco {
                oco: &crossed,
                reference_price: p("52000"),
            },
            NOW_MS,
        ),
        Err(BuildError::BadOrder { .. })
    ));
}

#[test]
fn margin_oco_uses_the_limit_and_stop_param_names() {
    let mut fx = fixture(CodecConfig::default());
    let mut exit = oco(&mut fx, Market::Margin, Side::Sell, "47900");
    exit.margin = MarginParams {
        isolated: true,
        side_effect: MarginSideEffect::AutoRepay,
    };
    let ids = [exit.list_id, exit.take_profit_id, exit.stop_id].map(|id| id.to_string());
    let (method, path, params) = rest_params(
        &mut fx.spot,
        &Request::PlaceOco {
            oco: &exit,
            reference_price: Price::ZERO,
        },
    );
    assert_eq!(
        (method, path.as_str()),
        (HttpMethod::Post, "/sapi/v1/margin/order/oco")
    );
    expect_set(
        &params,
        &[
            ("symbol", "BTCUSDT"),
            ("isIsolated", "TRUE"),
            ("side", "SELL"),
            ("quantity", "0.01000000"),
            ("listClientOrderId", ids[0].as_str()),
            ("newOrderRespType", "ACK"),
            ("limitClientOrderId", ids[1].as_str()),
            ("price", "56000.00"),
            ("stopClientOrderId", ids[2].as_str()),
            ("stopPrice", "48000.00"),
            ("stopLimitPrice", "47900.00"),
            ("stopLimitTimeInForce", "GTC"),
            ("sideEffectType", "AUTO_REPAY"),
            ("recvWindow", "5000"),
            ("timestamp", "1660801715431"),
        ],
    );
}

#[test]
fn cancels_queries_and_reconciliation_requests_hit_the_documented_endpoints() {
    let mut fx = fixture(CodecConfig {
        recv_window_ms: 0,
        ..CodecConfig::default()
    });
    let id = ClientOrderId::parse("ks7-99").expect("kestrel id");
    let spot = SymbolScope::new(fx.btc, Market::Spot);
    let isolated = SymbolScope::isolated(fx.btc);
    let futures = SymbolScope::new(fx.btc, Market::UsdmFutures);
    let ts = ("timestamp", "1660801715431");
    let check = |codec: &mut BinanceOrderCodec,
                 request: Request<'_>,
                 method: HttpMethod,
                 path: &str,
                 expected: &[(&str, &str)]| {
        let (got_method, got_path, params) = rest_params(codec, &request);
        assert_eq!(
            (got_method, got_path.as_str()),
            (method, path),
            "{request:?}"
        );
        let mut with_ts = expected.to_vec();
        with_ts.push(ts);
        expect_set(&params, &with_ts);
    };
    use HttpMethod::{Delete, Get};
    let book = OrderRoute::Book;
    let algo = OrderRoute::Algo;
    check(
        &mut fx.spot,
        Request::Cancel {
            scope: spot,
            client_order_id: id,
            route: book,
        },
        Delete,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "ks7-99")],
    );
    check(
        &mut fx.spot,
        Request::Cancel {
            scope: isolated,
            client_order_id: id,
            route: book,
        },
        Delete,
        "/sapi/v1/margin/order",
        &[
            ("symbol", "BTCUSDT"),
            ("isIsolated", "TRUE"),
            ("origClientOrderId", "ks7-99"),
        ],
    );
    check(
        &mut fx.futures,
        Request::Cancel {
            scope: futures,
            client_order_id: id,
            route: book,
        },
        Delete,
        "/fapi/v1/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "ks7-99")],
    );
    check(
        &mut fx.futures,
        Request::Cancel {
            scope: futures,
            client_order_id: id,
            route: algo,
        },
        Delete,
        "/fapi/v1/algoOrder",
        &[("symbol", "BTCUSDT"), ("clientAlgoId", "ks7-99")],
    );
    check(
        &mut fx.spot,
        Request::CancelAll {
            scope: spot,
            route: book,
        },
        Delete,
        "/api/v3/openOrders",
        &[("symbol", "BTCUSDT")],
    );
    check(
        &mut fx.futures,
        Request::CancelAll {
            scope: futures,
            route: book,
        },
        Delete,
        "/fapi/v1/allOpenOrders",
        &[("symbol", "BTCUSDT")],
    );
    check(
        &mut fx.futures,
        Request::CancelAll {
            scope: futures,
            route: algo,
        },
        Delete,
        "/fapi/v1/algoOpenOrders",
        &[("symbol", "BTCUSDT")],
    );
    check(
        &mut fx.spot,
        Request::QueryOrder {
            scope: spot,
            client_order_id: id,
            route: book,
        },
        Get,
        "/api/v3/order",
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "ks7-99")],
    );
    check(
        &mut fx.futures,
        Request::QueryOrder {
            scope: futures,
            client_order_id: id,
            route: algo,
        },
        Get,
        "/fapi/v1/algoOrder",
        &[("symbol", "BTCUSDT"), ("clientAlgoId", "ks7-99")],
    );
    check(
        &mut fx.spot,
        Request::OpenOrders {
            scope: spot,
            route: book,
        },
        Get,
        "/api/v3/openOrders",
        &[("symbol", "BTCUSDT")],
    );
    check(
        &mut fx.spot,
        Request::OpenOrders {
            scope: SymbolScope::new(fx.btc, Market::Margin),
            route: book,
        },
        Get,
        "/sapi/v1/margin/openOrders",
        &[("symbol", "BTCUSDT"), ("isIsolated", "FALSE")],
    );
    check(
        &mut fx.futures,
        Request::OpenOrders {
            scope: futures,
            route: algo,
        },
        Get,
        "/fapi/v1/openAlgoOrders",
        &[("symbol", "BTCUSDT")],
    );
    check(
        &mut fx.spot,
        Request::Trades {
            scope: spot,
            since_trade_id: 28456,
        },
        Get,
        "/api/v3/myTrades",
        &[
            ("symbol", "BTCUSDT"),
            ("fromId", "28457"),
            ("limit", "1000"),
        ],
    );
    check(
        &mut fx.spot,
        Request::AllOrders {
            scope: spot,
            from_order_id: 4242,
        },
        Get,
        "/api/v3/allOrders",
        &[
            ("symbol", "BTCUSDT"),
            ("orderId", "4242"),
            ("limit", "1000"),
        ],
    );
    check(
        &mut fx.spot,
        Request::Trades {
            scope: isolated,
            since_trade_id: 0,
        },
        Get,
        "/sapi/v1/margin/myTrades",
        &[
            ("symbol", "BTCUSDT"),
            ("isIsolated", "TRUE"),
            ("fromId", "1"),
            ("limit", "1000"),
        ],
    );
    check(
        &mut fx.futures,
        Request::Trades {
            scope: futures,
            since_trade_id: 9,
        },
        Get,
        "/fapi/v1/userTrades",
        &[("symbol", "BTCUSDT"), ("fromId", "10"), ("limit", "1000")],
    );
    check(
        &mut fx.spot,
        Request::Account { scope: spot },
        Get,
        "/api/v3/account",
        &[("omitZeroBalances", "true")],
    );
    check(
        &mut fx.spot,
        Request::Account {
            scope: SymbolScope::new(fx.btc, Market::Margin),
        },
        Get,
        "/sapi/v1/margin/account",
        &[],
    );
    check(
        &mut fx.spot,
        Request::Account { scope: isolated },
        Get,
        "/sapi/v1/margin/isolated/account",
        &[("symbols", "BTCUSDT")],
    );
    check(
        &mut fx.futures,
        Request::Account { scope: futures },
        Get,
        "/fapi/v2/account",
        &[],
    );
    check(
        &mut fx.futures,
        Request::Positions {
            symbol: Some(fx.btc),
        },
        Get,
        "/fapi/v2/positionRisk",
        &[("symbol", "BTCUSDT")],
    );

    let (method, map) = ws_params(
        &mut fx.spot,
        &Request::OpenOrders {
            scope: spot,
            route: book,
        },
    );
    assert_eq!(method, "openOrders.status");
    expect_set(&map, &[("symbol", "BTCUSDT"), ts]);
    let (method, map) = ws_params(
        &mut fx.spot,
        &Request::Cancel {
            scope: spot,
            client_order_id: id,
            route: book,
        },
    );
    assert_eq!(method, "order.cancel");
    expect_set(
        &map,
        &[("symbol", "BTCUSDT"), ("origClientOrderId", "ks7-99"), ts],
    );
    let (method, map) = ws_params(&mut fx.spot, &Request::Account { scope: spot });
    assert_eq!(method, "account.status");
    expect_set(&map, &[("omitZeroBalances", "true"), ts]);
    let (method, map) = ws_params(
        &mut fx.spot,
        &Request::Trades {
            scope: spot,
            since_trade_id: 5,
        },
    );
    assert_eq!(method, "myTrades");
    expect_set(
        &map,
        &[
            ("symbol", "BTCUSDT"),
            ("fromId", "6"),
            ("limit", "1000"),
            ts,
        ],
    );
    let (method, map) = ws_params(
        &mut fx.spot,
        &Request::SubscribeUserData { after_logon: false },
    );
    assert_eq!(method, "userDataStream.subscribe.signature");
    expect_set(&map, &[ts]);
    let bare = fx
        .spot
        .ws(&Request::SubscribeUserData { after_logon: true }, NOW_MS, 9)
        .expect("builds");
    assert_eq!(
        bare.text_str(),
        r#"{"id":9,"method":"userDataStream.subscribe"}"#
    );
    assert!(matches!(
        fx.spot
            .rest(&Request::SubscribeUserData { after_logon: true }, NOW_MS),
        Err(BuildError::WsOnly("userDataStream.subscribe"))
    ));
    assert!(matches!(
        fx.futures.ws(
            &Request::SubscribeUserData { after_logon: false },
            NOW_MS,
            1
        ),
        Err(BuildError::Unsupported { .. })
    ));
}

#[test]
fn unsigned_and_key_only_requests_carry_no_signature() {
    let mut fx = fixture(CodecConfig::default());
    let time = fx.spot.rest(&Request::ServerTime, NOW_MS).expect("builds");
    assert_eq!(
        (time.method, time.path, time.query),
        (HttpMethod::Get, "/api/v3/time", &b""[..])
    );
    assert!(!time.needs_api_key);
    let time = fx
        .futures
        .ws(&Request::ServerTime, NOW_MS, 3)
        .expect("builds");
    assert_eq!(time.text_str(), r#"{"id":3,"method":"time"}"#);
    for (action, method) in [
        (ListenKeyAction::Open, HttpMethod::Post),
        (ListenKeyAction::KeepAlive, HttpMethod::Put),
        (ListenKeyAction::Close, HttpMethod::Delete),
    ] {
        let built = fx
            .futures
            .rest(&Request::ListenKey(action), NOW_MS)
            .expect("builds");
        assert_eq!((built.method, built.path), (method, "/fapi/v1/listenKey"));
        assert!(built.needs_api_key && built.query.is_empty() && built.body.is_empty());
    }
    assert!(matches!(
        fx.spot
            .rest(&Request::ListenKey(ListenKeyAction::Open), NOW_MS),
        Err(BuildError::Unsupported {
            what: "listenKey",
            ..
        })
    ));
}

#[test]
fn session_logon_is_signed_with_ed25519_over_the_sorted_params() {
    let mut fx = fixture(CodecConfig {
        recv_window_ms: 0,
        ..CodecConfig::default()
    });
    assert_eq!(
        fx.spot.ws(&Request::Logon, NOW_MS, 1).err(),
        Some(BuildError::NoLogonKey)
    );
    let pem = "-----BEGIN PRIVATE KEY-----\n\
               MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
               -----END PRIVATE KEY-----\n";
    let mut codec = fx
        .spot
        .with_logon_key(API_KEY, Ed25519Signer::from_pem(pem).expect("valid PEM"));
    let frame = codec
        .ws(&Request::Logon, 1_649_729_878_532, 7)
        .expect("builds");
    // Signature computed independently with `openssl pkeyutl -sign -rawin` over
    // `apiKey=<key>&timestamp=1649729878532`.
    assert_eq!(
        frame.text_str(),
        format!(
            r#"{{"id":7,"method":"session.logon","params":{{"apiKey":"{API_KEY}","timestamp":1649729878532,"signature":"763GJeFgG09B/06V/dq24cLu6f0R57whgDMyOCubDex4CTTElmDgPSIQqLdOsvW5TBxyaaFotVCI8tUmQMChAA=="}}}}"#
        )
    );
    assert!(matches!(
        codec.rest(&Request::Logon, NOW_MS),
        Err(BuildError::WsOnly(_))
    ));
}

#[test]
fn orders_failing_filters_precision_or_shape_are_refused_with_the_venue_code() {
    let mut fx = fixture(CodecConfig::default());
    let mut order = fx.order(Market::Spot, OrderType::Limit, Side::Buy);
    order.price = p("52000.005");
    let err = fx
        .spot
        .rest(&place(&order), NOW_MS)
        .expect_err("off the 0.01 tick");
    assert!(err.to_string().contains("PRICE_FILTER"), "{err}");
    assert_eq!(
        (err.to_reject().kind, err.to_reject().code),
        (RejectKind::Filter, -1013)
    );

    let mut tiny = fx.order(Market::Spot, OrderType::Limit, Side::Buy);
    tiny.qty = q("0.00001");
    let err = fx
        .spot
        .rest(&place(&tiny), NOW_MS)
        .expect_err("0.52 USDT notional < 5");
    assert!(err.to_string().contains("NOTIONAL"), "{err}");

    let mut market = fx.order(Market::Spot, OrderType::Market, Side::Buy);
    market.qty = q("0.00001");
    assert!(
        fx.spot.rest(&place(&market), NOW_MS).is_err(),
        "valued at the reference price"
    );
    let unknown_reference = Request::Place {
        order: &market,
        reference_price: Price::ZERO,
    };
    assert!(
        fx.spot.rest(&unknown_reference, NOW_MS).is_ok(),
        "the venue checks it then"
    );

    // A quantity off the futures 0.001 step.
    let mut futures = fx.order(Market::UsdmFutures, OrderType::Limit, Side::Buy);
    futures.qty = q("0.0125");
    let err = fx
        .futures
        .rest(&place(&futures), NOW_MS)
        .expect_err("off step");
    assert!(matches!(err, BuildError::Filter { .. }));

    let mut no_price = fx.order(Market::Spot, OrderType::Limit, Side::Buy);
    no_price.price = Price::ZERO;
    assert!(matches!(
        fx.spot.rest(&place(&no_price), NOW_MS),
        Err(BuildError::BadOrder { .. })
    ));
    let mut no_trigger = fx.order(Market::UsdmFutures, OrderType::StopMarket, Side::Sell);
    no_trigger.trigger_price = Price::ZERO;
    assert!(matches!(
        fx.futures.rest(&place(&no_trigger), NOW_MS),
        Err(BuildError::BadOrder { .. })
    ));

    let mut other_symbol = fx.order(Market::UsdmFutures, OrderType::Limit, Side::Buy);
    other_symbol.symbol = fx.eth;
    let err = fx
        .futures
        .rest(&place(&other_symbol), NOW_MS)
        .expect_err("no futures ETHUSDT");
    assert_eq!(err, BuildError::UnknownSymbol(fx.eth));
    assert_eq!(err.to_reject().kind, RejectKind::BadSymbol);
    let spot_order = fx.order(Market::Spot, OrderType::Limit, Side::Buy);
    assert!(matches!(
        fx.futures.rest(&place(&spot_order), NOW_MS),
        Err(BuildError::WrongMarket { .. })
    ));
}

#[test]
fn decimals_finer_than_the_instrument_allows_are_refused_not_truncated() {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid");
    // A 0.001 tick on an instrument that only accepts 2 price decimals.
    let inst = instrument("BTCUSDT", Market::Spot, "0.001", "0.00001", (2, 8));
    let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &[inst]).expect("spot");
    let mut codec = BinanceOrderCodec::new(
        symbols,
        API_KEY,
        HmacSigner::new(SECRET).expect("non-empty"),
        CodecConfig::default(),
    )
    .expect("valid");
    let mut fx = fixture(CodecConfig::default());
    let mut order = fx.order(Market::Spot, OrderType::Limit, Side::Buy);
    order.price = p("52000.005");
    let err = codec
        .rest(&place(&order), NOW_MS)
        .expect_err("3 decimals > 2");
    assert_eq!(
        (err.to_reject().kind, err.to_reject().code),
        (RejectKind::Filter, -1111)
    );
    assert!(err.to_string().contains("price"), "{err}");
}

proptest::proptest! {
    #[test]
    fn any_order_values_build_or_refuse_without_panicking(
        price in proptest::prelude::any::<i128>(),
        trigger in proptest::prelude::any::<i128>(),
        qty in proptest::prelude::any::<i128>(),
        id in proptest::prelude::any::<u64>(),
        kind in 0u8..5,
        sell: bool,
        futures: bool,
        reduce_only: bool,
    ) {
        let mut fx = fixture(CodecConfig::default());
        let market = if futures { Market::UsdmFutures } else { Market::Spot };
        let order = VenueOrder {
            client_order_id: ClientOrderId(id),
            symbol: fx.btc,
            market,
            side: if sell { Side::Sell } else { Side::Buy },
            order_type: OrderType::from_u8(kind).expect("0..5 are order types"),
            time_in_force: TimeInForce::Ioc,
            price: Price::from_raw(price),
            trigger_price: Price::from_raw(trigger),
            qty: Qty::from_raw(qty),
            reduce_only,
            margin: MarginParams::default(),
        };
        let request = Request::Place { order: &order, reference_price: Price::from_raw(price / 3) };
        let codec = if futures { &mut fx.futures } else { &mut fx.spot };
        if let Ok(built) = codec.rest(&request, NOW_MS) {
            proptest::prop_assert!(built.body_str().contains("&signature="));
        }
        if let Ok(built) = codec.ws(&request, NOW_MS, id) {
            proptest::prop_assert!(serde_json::from_slice::<serde_json::Value>(built.text).is_ok());
        }
    }
}

/// A frame's params as text, keyed by name.
fn frame_params(text: &[u8]) -> BTreeMap<String, String> {
    let frame: serde_json::Value = serde_json::from_slice(text).expect("frame is JSON");
    frame["params"]
        .as_object()
        .expect("params object")
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => panic!("param {k} has unexpected JSON {other}"),
            };
            (k.clone(), text)
        })
        .collect()
}

#[test]
fn logged_on_order_place_goes_without_api_key_and_signature_and_logged_off_is_unchanged() {
    let mut fx = fixture(CodecConfig::default());
    let order = fx.order(Market::Spot, OrderType::Limit, Side::Sell);
    let signed_frame = fx
        .spot
        .ws(&place(&order), NOW_MS, 7)
        .expect("valid order")
        .text_str()
        .to_string();
    let rest_body = fx
        .spot
        .rest(&place(&order), NOW_MS)
        .expect("valid order")
        .body_str()
        .to_string();

    fx.spot.set_session_authenticated(true);
    assert!(fx.spot.is_session_authenticated());
    let built = fx.spot.ws(&place(&order), NOW_MS, 7).expect("valid order");
    assert_eq!(built.method, "order.place");
    assert_eq!(
        built.text_str(),
        r#"{"id":7,"method":"order.place","params":{"newClientOrderId":"ks7-1","newOrderRespType":"ACK","price":"52000.00","quantity":"0.01000000","recvWindow":5000,"side":"SELL","symbol":"BTCUSDT","timeInForce":"GTC","timestamp":1660801715431,"type":"LIMIT"}}"#
    );
    expect_set(
        &frame_params(built.text),
        &[
            ("newClientOrderId", "ks7-1"),
            ("newOrderRespType", "ACK"),
            ("price", "52000.00"),
            ("quantity", "0.01000000"),
            ("recvWindow", "5000"),
            ("side", "SELL"),
            ("symbol", "BTCUSDT"),
            ("timeInForce", "GTC"),
            ("timestamp", "1660801715431"),
            ("type", "LIMIT"),
        ],
    );
    // The other HMAC requests too (an OCO's legs sort before apiKey; futures likewise).
    let cancel = fx
        .spot
        .ws(
            &Request::Cancel {
                scope: SymbolScope::new(fx.btc, Market::Spot),
                client_order_id: order.client_order_id,
                route: OrderRoute::Book,
            },
            NOW_MS,
            8,
        )
        .expect("builds");
    let cancel = frame_params(cancel.text);
    assert!(!cancel.contains_key("apiKey") && !cancel.contains_key("signature"));
    assert_eq!(
        cancel.get("timestamp").map(String::as_str),
        Some("1660801715431")
    );
    // The subscription that names its signature keeps it; REST is signed as before.
    let (method, _) = ws_params(
        &mut fx.spot,
        &Request::SubscribeUserData { after_logon: false },
    );
    assert_eq!(method, "userDataStream.subscribe.signature");
    assert_eq!(
        fx.spot
            .rest(&place(&order), NOW_MS)
            .expect("valid order")
            .body_str(),
        rest_body
    );
    fx.futures.set_session_authenticated(true);
    let futures_order = fx.order(Market::UsdmFutures, OrderType::Limit, Side::Buy);
    let futures = fx
        .futures
        .ws(&place(&futures_order), NOW_MS, 9)
        .expect("valid order");
    let futures = frame_params(futures.text);
    assert!(!futures.contains_key("apiKey") && !futures.contains_key("signature"));

    // Logged off again (a new connection): byte for byte the signed frame of before.
    fx.spot.set_session_authenticated(false);
    let again = fx.spot.ws(&place(&order), NOW_MS, 7).expect("valid order");
    assert_eq!(again.text_str(), signed_frame);
    // ws_params checks the apiKey and recomputes the signature over the sorted params.
    let (method, _) = ws_params(&mut fx.spot, &place(&order));
    assert_eq!(method, "order.place");
}
