//! The Binance codec's margin user-data pieces: the listenToken request
//! (`POST /sapi/v1/userListenToken`, signed) and its WebSocket API subscription
//! (`userDataStream.subscribe.listenToken`, unsigned), the listenToken reply, margin account
//! replies as net balances (negative while borrowed, never clamped), and the margin stream's
//! events (`outboundAccountPosition` skipped, `eventStreamTerminated` reporting the link down).
//! Good input gives the documented values; missing fields and wrong types are clear typed
//! errors, never panics.

// Only the literal helpers and the symbol table are needed here.
#[allow(dead_code)]
mod binance_oms_support;
#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;

use binance_oms_support::{a, ours, q, Symbols};
use kestrel::core::{Instrument, Market, Qty, SymbolId, SymbolTable};
use kestrel::oms::binance::response::{
    parse_listen_token, parse_rest_reply, parse_ws_reply, ws_reply, Pending, ReplyContext,
    ReplyKind, ReplyOutcome, LISTEN_TOKEN_MAX_LEN,
};
use kestrel::oms::binance::user_data::{parse_user_data, UserDataEvent, UserDataNote};
use kestrel::oms::binance::{
    BinanceOrderCodec, BuildError, CodecConfig, HmacSigner, HttpMethod, InstrumentFamily,
    OrderRoute, OrderSymbols, ParseErrorKind, Request,
};
use kestrel::oms::venue::{LinkState, RejectKind, VenueReport};

const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const NOW_MS: u64 = 1_758_705_804_196;
/// The token of Binance's "Create Margin Account listenToken" response example.
const DOCS_TOKEN: &str = "6xXxePXwZRjVSHKhzUCCGnmN3fkvMTXru+pYJS8RwijXk9Vcyr3rkwfVOTcP2OkONqciYA";

fn codec(family: InstrumentFamily) -> (BinanceOrderCodec, SymbolId) {
    let mut table = SymbolTable::new();
    let btc = table.intern("BTCUSDT").expect("valid name");
    let market = match family {
        InstrumentFamily::Spot => Market::Spot,
        InstrumentFamily::UsdmFutures => Market::UsdmFutures,
    };
    let symbols = OrderSymbols::new(
        family,
        &table,
        &[Instrument::new("BTCUSDT", market, "BTC", "USDT")],
    )
    .expect("one instrument");
    let signer = HmacSigner::new(SECRET).expect("non-empty secret");
    let codec =
        BinanceOrderCodec::new(symbols, API_KEY, signer, CodecConfig::default()).expect("codec");
    (codec, btc)
}

fn form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn the_listen_token_request_is_a_signed_post_with_the_account_and_validity() {
    let (mut spot, btc) = codec(InstrumentFamily::Spot);
    let cross = Request::MarginListenToken {
        isolated_symbol: None,
        validity_ms: 0,
    };
    let built = spot.rest(&cross, NOW_MS).expect("builds");
    assert_eq!(
        (built.method, built.path, built.needs_api_key),
        (HttpMethod::Post, "/sapi/v1/userListenToken", true)
    );
    assert!(built.query.is_empty());
    let body = built.body_str().to_owned();
    let (signed, signature) = body.rsplit_once("&signature=").expect("signed");
    let expected = HmacSigner::new(SECRET)
        .expect("non-empty secret")
        .sign(signed.as_bytes());
    assert_eq!(signature, expected.as_str());
    assert_eq!(
        signed,
        format!("recvWindow=5000&timestamp={NOW_MS}"),
        "cross margin is the default: no isIsolated, no symbol, the venue's validity"
    );
    let isolated = Request::MarginListenToken {
        isolated_symbol: Some(btc),
        validity_ms: 3_000,
    };
    let params = form(spot.rest(&isolated, NOW_MS).expect("builds").body_str());
    assert_eq!(params["isIsolated"], "true", "a BOOLEAN here, not \"TRUE\"");
    assert_eq!(params["symbol"], "BTCUSDT");
    assert_eq!(params["validity"], "3000");
    assert!(matches!(
        spot.ws(&cross, NOW_MS, 1),
        Err(BuildError::RestOnly { .. })
    ));
    let unknown = Request::MarginListenToken {
        isolated_symbol: Some(SymbolId(99)),
        validity_ms: 0,
    };
    assert_eq!(
        spot.rest(&unknown, NOW_MS).err(),
        Some(BuildError::UnknownSymbol(SymbolId(99)))
    );
    let (mut futures, _) = codec(InstrumentFamily::UsdmFutures);
    assert!(matches!(
        futures.rest(&cross, NOW_MS),
        Err(BuildError::Unsupported { .. })
    ));
}

#[test]
fn the_subscription_carries_only_the_token_over_the_ws_api() {
    let (mut spot, _) = codec(InstrumentFamily::Spot);
    let subscribe = Request::SubscribeListenToken {
        listen_token: DOCS_TOKEN,
    };
    let frame = spot.ws(&subscribe, NOW_MS, 7).expect("builds");
    assert_eq!(frame.method, "userDataStream.subscribe.listenToken");
    assert_eq!(
        frame.text_str(),
        format!(
            r#"{{"id":7,"method":"userDataStream.subscribe.listenToken","params":{{"listenToken":"{DOCS_TOKEN}"}}}}"#
        ),
        "no apiKey, timestamp or signature: the token is the credential"
    );
    assert!(matches!(
        spot.rest(&subscribe, NOW_MS),
        Err(BuildError::WsOnly(_))
    ));
    for bad in ["", "with space", "quote\"d", "new\nline"] {
        let request = Request::SubscribeListenToken { listen_token: bad };
        assert!(
            matches!(spot.ws(&request, NOW_MS, 8), Err(BuildError::Param(_))),
            "{bad:?} is refused, not sent"
        );
    }
}

#[test]
fn a_listen_token_reply_gives_the_token_and_its_expiry() {
    let body = format!(r#"{{"token":"{DOCS_TOKEN}","expirationTime":1758792204196}}"#);
    let token = parse_listen_token(body.as_bytes()).expect("the documented example");
    assert_eq!(token.as_str(), DOCS_TOKEN);
    assert_eq!(token.expiration_ms, 1758792204196);
    assert!(
        !format!("{token:?}").contains(DOCS_TOKEN),
        "Debug must not leak the token"
    );
    let escaped = r#"{"token":"ab\/cd+ef==","expirationTime":1}"#;
    assert_eq!(
        parse_listen_token(escaped.as_bytes())
            .expect("an escaped slash is a slash")
            .as_str(),
        "ab/cd+ef=="
    );
    let too_long = format!(
        r#"{{"token":"{}","expirationTime":1}}"#,
        "A".repeat(LISTEN_TOKEN_MAX_LEN + 1)
    );
    for (bad, field) in [
        (r#"{"expirationTime":1758792204196}"#.to_owned(), "token"),
        (format!(r#"{{"token":"{DOCS_TOKEN}"}}"#), "expirationTime"),
        (
            r#"{"token":12345,"expirationTime":1758792204196}"#.to_owned(),
            "token",
        ),
        (
            format!(r#"{{"token":"{DOCS_TOKEN}","expirationTime":"1758792204196"}}"#),
            "expirationTime",
        ),
        (
            format!(r#"{{"token":"{DOCS_TOKEN}","expirationTime":-5}}"#),
            "expirationTime",
        ),
        (r#"{"token":"","expirationTime":1}"#.to_owned(), "token"),
        (too_long, "token"),
        (
            r#"{"token":"two words","expirationTime":1}"#.to_owned(),
            "token",
        ),
        ("[]".to_owned(), ""),
        ("not json".to_owned(), ""),
    ] {
        let err = parse_listen_token(bad.as_bytes()).expect_err("malformed");
        assert_eq!(err.kind(), ParseErrorKind::Malformed, "{bad}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("userListenToken reply") && text.contains(field),
            "{bad}: the error names what and where: {text}"
        );
    }
}

fn pending(kind: ReplyKind, market: Market) -> Pending {
    Pending {
        kind,
        market,
        route: OrderRoute::Book,
        symbol: SymbolId(0),
        client_order_id: ours("ks1-1"),
    }
}

fn rest_reply(
    setup: &Symbols,
    status: u16,
    body: &str,
    pending: &Pending,
) -> Result<(ReplyOutcome, Vec<VenueReport>), kestrel::oms::binance::ParseError> {
    let none = |_: SymbolId, _: u64| None;
    let context = ReplyContext {
        symbols: setup.of(pending.market),
        orders: &none,
    };
    let mut reports = Vec::new();
    let outcome = parse_rest_reply(
        status,
        None,
        body.as_bytes(),
        pending,
        &context,
        &mut reports,
    )?;
    Ok((outcome, reports))
}

#[test]
fn listen_token_and_subscription_replies_through_the_reply_parsers() {
    let setup = Symbols::new();
    let token = pending(ReplyKind::ListenToken, Market::Margin);
    let body = format!(r#"{{"token":"{DOCS_TOKEN}","expirationTime":1758792204196}}"#);
    let (outcome, reports) = rest_reply(&setup, 200, &body, &token).expect("valid");
    assert!(reports.is_empty());
    let ReplyOutcome::ListenToken(got) = outcome else {
        panic!("a listenToken outcome, got {outcome:?}");
    };
    assert_eq!(got.as_str(), DOCS_TOKEN);
    let err = rest_reply(&setup, 200, r#"{"token":1}"#, &token).expect_err("wrong type");
    assert_eq!(err.kind(), ParseErrorKind::Malformed);
    let (refused, _) = rest_reply(
        &setup,
        400,
        r#"{"code":-11001,"msg":"Isolated margin account does not exist."}"#,
        &token,
    )
    .expect("an error body");
    assert!(matches!(refused, ReplyOutcome::Refused(r) if r.code == -11001));

    // userDataStream.subscribe.listenToken: the id of the subscription, or -1209.
    let subscribe = pending(ReplyKind::SubscribeUserData, Market::Margin);
    let none = |_: SymbolId, _: u64| None;
    let context = ReplyContext {
        symbols: &setup.spot,
        orders: &none,
    };
    let ok = br#"{"id":3,"status":200,"result":{"subscriptionId":0,"expirationTime":1749094553955},"rateLimits":[]}"#;
    let frame = ws_reply(ok).expect("a reply");
    let mut reports = Vec::new();
    assert_eq!(
        parse_ws_reply(&frame, 0, &subscribe, &context, &mut reports).expect("valid"),
        ReplyOutcome::Subscribed { subscription_id: 0 }
    );
    let invalid = br#"{"id":4,"status":400,"error":{"code":-1209,"msg":"Invalid listenToken."}}"#;
    let frame = ws_reply(invalid).expect("a reply");
    let outcome = parse_ws_reply(&frame, 0, &subscribe, &context, &mut reports).expect("valid");
    assert!(
        matches!(outcome, ReplyOutcome::Refused(r) if r.code == -1209 && r.kind == RejectKind::Other),
        "{outcome:?}"
    );
    assert!(
        reports.is_empty(),
        "a refused subscription reports no order"
    );
}

#[test]
fn margin_accounts_become_net_balances_negative_while_borrowed() {
    let setup = Symbols::new();
    // Binance's "Query Cross Margin Account Details" example, plus an asset owed outright.
    let cross = r#"{"created":true,"borrowEnabled":true,"marginLevel":"11.64405625","collateralMarginLevel":"3.2","totalAssetOfBtc":"6.82728457","totalLiabilityOfBtc":"0.58633215","totalNetAssetOfBtc":"6.24095242","TotalCollateralValueInUSDT":"5.82728457","totalOpenOrderLossInUsdt":"582.728457","tradeEnabled":true,"transferInEnabled":true,"transferOutEnabled":true,"accountType":"MARGIN_1","userAssets":[{"asset":"BTC","borrowed":"0.00000000","free":"0.00499500","interest":"0.00000000","locked":"0.00000000","netAsset":"0.00499500"},{"asset":"BNB","borrowed":"201.66666672","free":"2346.50000000","interest":"0.00000000","locked":"0.00000000","netAsset":"2144.83333328"},{"asset":"ETH","borrowed":"1.50000000","free":"0.40000000","interest":"0.00100000","locked":"0.10000000","netAsset":"-1.00100000"}]}"#;
    let account = pending(ReplyKind::Account, Market::Margin);
    let (_, reports) = rest_reply(&setup, 200, cross, &account).expect("valid");
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("BTC"),
                free: q("0.004995"),
                locked: Qty::ZERO
            },
            VenueReport::Balance {
                asset: a("BNB"),
                free: q("2144.83333328"),
                locked: Qty::ZERO
            },
            VenueReport::Balance {
                asset: a("ETH"),
                free: q("-1.101"),
                locked: q("0.1")
            },
        ],
        "free + locked is netAsset: ETH is owed 1.001, not clamped to zero"
    );
    // Binance's "Query Isolated Margin Account Info" shape.
    let isolated = r#"{"assets":[{"baseAsset":{"asset":"BTC","borrowEnabled":true,"borrowed":"0.25000000","free":"0.05000000","interest":"0.00010000","locked":"0.00000000","netAsset":"-0.20010000","netAssetOfBtc":"-0.20010000","repayEnabled":true,"totalAsset":"0.05000000"},"quoteAsset":{"asset":"USDT","borrowEnabled":true,"borrowed":"0.00000000","free":"15000.00000000","interest":"0.00000000","locked":"100.00000000","netAsset":"15100.00000000","netAssetOfBtc":"0.25000000","repayEnabled":true,"totalAsset":"15100.00000000"},"symbol":"BTCUSDT","isolatedCreated":true,"enabled":true,"marginLevel":"2.00000000","marginLevelStatus":"EXCESSIVE","marginRatio":"0.00000000","indexPrice":"60000.00000000","liquidatePrice":"1000.00000000","liquidateRate":"1.00000000","tradeEnabled":true}],"totalAssetOfBtc":"0.30000000","totalLiabilityOfBtc":"0.25000000","totalNetAssetOfBtc":"0.05000000"}"#;
    let (_, reports) = rest_reply(&setup, 200, isolated, &account).expect("valid");
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("BTC"),
                free: q("-0.2001"),
                locked: Qty::ZERO
            },
            VenueReport::Balance {
                asset: a("USDT"),
                free: q("15000"),
                locked: q("100")
            },
        ]
    );
    for (bad, field) in [
        (
            r#"{"userAssets":[{"asset":"BTC","borrowed":"0","free":"1","interest":"0","locked":"0"}]}"#,
            "netAsset",
        ),
        (
            r#"{"userAssets":[{"asset":"BTC","free":"1","interest":"0","locked":"0","netAsset":"1"}]}"#,
            "borrowed",
        ),
        (
            r#"{"userAssets":[{"asset":"BTC","borrowed":true,"free":"1","interest":"0","locked":"0","netAsset":"1"}]}"#,
            "borrowed",
        ),
        (
            r#"{"userAssets":[{"asset":"BTC","borrowed":"0","free":"1","interest":"0","locked":"0","netAsset":"one"}]}"#,
            "netAsset",
        ),
    ] {
        let err = rest_reply(&setup, 200, bad, &account).expect_err("malformed");
        assert_eq!(err.kind(), ParseErrorKind::Malformed, "{bad}: {err}");
        assert!(err.to_string().contains(field), "{bad}: {err}");
    }
}

#[test]
fn the_margin_stream_skips_gross_balances_and_ends_on_termination() {
    let setup = Symbols::new();
    let parse = |frame: &str, market: Market| {
        let mut reports = Vec::new();
        parse_user_data(frame.as_bytes(), setup.of(market), market, &mut reports)
            .map(|outcome| (outcome, reports))
    };
    let position = r#"{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"},{"a":"BTC","f":"0.000000","l":"0.000000"}]}}"#;
    let (margin, reports) = parse(position, Market::Margin).expect("valid");
    assert!(
        reports.is_empty(),
        "a gross balance would clobber the net one"
    );
    assert_eq!(
        (margin.event, margin.skipped),
        (UserDataEvent::OutboundAccountPosition, 2)
    );
    let (spot, reports) = parse(position, Market::Spot).expect("valid");
    assert_eq!(
        (spot.reports, reports.len()),
        (2, 2),
        "spot still books them"
    );
    let bad_asset = position.replace(r#""a":"ETH""#, r#""a":"""#);
    assert!(
        parse(&bad_asset, Market::Margin).is_err(),
        "still validated"
    );

    let ended = r#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#;
    let (outcome, reports) = parse(ended, Market::Margin).expect("valid");
    assert_eq!(reports, [VenueReport::Link(LinkState::Down)]);
    assert_eq!(outcome.note, Some(UserDataNote::StreamEnded));
    for bad in [
        r#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated"}}"#,
        r#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":"1728973001334"}}"#,
        r#"{"e":"eventStreamTerminated","E":-1}"#,
    ] {
        let err = parse(bad, Market::Margin).expect_err("malformed");
        assert_eq!(err.kind(), ParseErrorKind::Malformed, "{bad}: {err}");
        assert!(err.to_string().contains("eventStreamTerminated"), "{err}");
    }
}
