//! Binance user-data events (every nautilus spot and futures `user_data_json` fixture, bare
//! and in the WebSocket API envelope) become the expected venue reports, field by field;
//! orders that are not ours are noted, not reported; malformed and unknown events are typed
//! errors, never panics.

mod binance_oms_support;
// Only `real_data_dir` is needed here; the capture reader serves other tests.
#[allow(dead_code)]
mod common;

use binance_oms_support::{a, nautilus_fixture, ours, p, q, Symbols};

use kestrel::core::{Market, Price, Qty, Side};
use kestrel::engine::stage::Outbox;
use kestrel::oms::binance::user_data::{
    parse_user_data, ws_frame_kind, UserDataEvent, UserDataNote, UserDataOutcome, WsFrameKind,
};
use kestrel::oms::binance::{ParseError, ParseErrorKind};
use kestrel::oms::venue::{LinkState, RejectKind, VenueFill, VenueReject, VenueReport};

type Setup = Symbols;

fn setup() -> Setup {
    Symbols::new()
}

trait ParseUserData {
    fn parse(
        &self,
        frame: &str,
        market: Market,
    ) -> Result<(UserDataOutcome, Vec<VenueReport>), ParseError>;
}

impl ParseUserData for Symbols {
    fn parse(
        &self,
        frame: &str,
        market: Market,
    ) -> Result<(UserDataOutcome, Vec<VenueReport>), ParseError> {
        let mut reports = Vec::new();
        let outcome = parse_user_data(frame.as_bytes(), self.of(market), market, &mut reports)?;
        Ok((outcome, reports))
    }
}

fn fixture(test: &str, market: &str, name: &str) -> Option<String> {
    nautilus_fixture(test, market, "user_data_json", name)
}

fn outcome(
    event: UserDataEvent,
    reports: usize,
    skipped: usize,
    note: Option<UserDataNote>,
) -> UserDataOutcome {
    UserDataOutcome {
        event,
        reports,
        skipped,
        note,
    }
}

#[test]
fn spot_execution_reports_new_trade_canceled() {
    let test = "spot_execution_reports_new_trade_canceled";
    let setup = setup();
    let eth = setup.id("ETHUSDT");
    let foreign_id = "x-TD67BGP9-T0000000000000";
    let mut parsed = Vec::new();
    for name in [
        "execution_report_new.json",
        "execution_report_trade.json",
        "execution_report_canceled.json",
    ] {
        let Some(frame) = fixture(test, "spot", name) else {
            return;
        };
        let (foreign, reports) = setup.parse(&frame, Market::Spot).expect("valid fixture");
        assert!(reports.is_empty(), "{name}: a manual order is not reported");
        assert_eq!(
            foreign,
            outcome(
                UserDataEvent::ExecutionReport,
                0,
                0,
                Some(UserDataNote::ForeignOrder {
                    venue_order_id: 12345678
                })
            )
        );
        let frame = frame.replace(foreign_id, "ks4-2");
        parsed.extend(
            setup
                .parse(&frame, Market::Margin)
                .expect("valid fixture")
                .1,
        );
    }
    assert_eq!(
        parsed,
        [
            VenueReport::Accepted {
                client_order_id: ours("ks4-2"),
                venue_order_id: 12345678,
                venue_ts_ms: 1709654400000
            },
            VenueReport::Fill(VenueFill {
                client_order_id: ours("ks4-2"),
                symbol: eth,
                market: Market::Margin,
                side: Side::Buy,
                price: p("2500"),
                qty: q("1"),
                fee: q("0.001"),
                fee_asset: a("ETH"),
                venue_trade_id: 98765432,
                venue_order_id: 12345678,
                is_maker: true,
                venue_ts_ms: 1709654401000,
            }),
            VenueReport::Canceled {
                client_order_id: ours("ks4-2"),
                venue_ts_ms: 1709654402000
            },
        ]
    );
}

#[test]
fn wrapped_spot_events_are_unwrapped() {
    let test = "wrapped_spot_events_are_unwrapped";
    let setup = setup();
    let Some(frame) = fixture(test, "spot", "execution_report_wrapped.json") else {
        return;
    };
    assert_eq!(
        ws_frame_kind(frame.as_bytes()).expect("valid"),
        WsFrameKind::Event
    );
    let (note, _) = setup.parse(&frame, Market::Spot).expect("valid");
    assert_eq!(
        note.note,
        Some(UserDataNote::ForeignOrder {
            venue_order_id: 4293153
        })
    );
    let frame = frame.replace("mUvoqJxFIILMdfAW5iGSOW", "ks9-1");
    let (_, reports) = setup.parse(&frame, Market::Spot).expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks9-1"),
            venue_order_id: 4293153,
            venue_ts_ms: 1499405658657
        }]
    );

    let Some(list) = fixture(test, "spot", "list_status_wrapped.json") else {
        return;
    };
    let (foreign, reports) = setup.parse(&list, Market::Spot).expect("valid");
    assert!(reports.is_empty());
    assert_eq!(
        foreign.note,
        Some(UserDataNote::ForeignOrder { venue_order_id: 2 })
    );
    let list = list.replace("F4QN4G8DlFATFlIUQ0cjdD", "ks9-2");
    let (executing, reports) = setup.parse(&list, Market::Spot).expect("valid");
    assert_eq!(executing, outcome(UserDataEvent::ListStatus, 0, 0, None));
    assert!(reports.is_empty(), "the legs report their own progress");
    let rejected = list
        .replace("\"EXECUTING\"", "\"REJECT\"")
        .replace("\"r\": \"NONE\"", "\"r\": \"INSUFFICIENT_BALANCE\"");
    let (_, reports) = setup.parse(&rejected, Market::Spot).expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Rejected {
            client_order_id: ours("ks9-2"),
            reject: VenueReject {
                kind: RejectKind::InsufficientFunds,
                code: 0,
                retry_after_ms: 0
            }
        }]
    );
}

#[test]
fn spot_account_position_and_balance_update() {
    let test = "spot_account_position_and_balance_update";
    let setup = setup();
    let Some(frame) = fixture(test, "spot", "account_position.json") else {
        return;
    };
    let (done, reports) = setup.parse(&frame, Market::Spot).expect("valid");
    assert_eq!(
        done,
        outcome(UserDataEvent::OutboundAccountPosition, 2, 0, None)
    );
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("USDT"),
                free: q("10000"),
                locked: q("2500")
            },
            VenueReport::Balance {
                asset: a("ETH"),
                free: q("5"),
                locked: Qty::ZERO
            },
        ]
    );
    let mut small: Outbox<VenueReport> = Outbox::with_capacity(1);
    let err = parse_user_data(frame.as_bytes(), &setup.spot, Market::Spot, &mut small)
        .expect_err("two balances, room for one");
    assert_eq!(err.kind(), ParseErrorKind::SinkFull);

    let Some(update) = fixture(test, "spot", "balance_update.json") else {
        return;
    };
    let (done, reports) = setup.parse(&update, Market::Spot).expect("valid");
    assert!(reports.is_empty());
    assert_eq!(
        done.note,
        Some(UserDataNote::BalanceDelta {
            asset: a("BTC"),
            delta: q("0.001"),
            venue_ts_ms: 1709654400000
        })
    );
}

#[test]
fn futures_order_trade_updates() {
    let test = "futures_order_trade_updates";
    let setup = setup();
    let btc = setup.id("BTCUSDT");
    let Some(new) = fixture(test, "futures", "order_update_new.json") else {
        return;
    };
    let (foreign, _) = setup.parse(&new, Market::UsdmFutures).expect("valid");
    assert_eq!(
        foreign.note,
        Some(UserDataNote::ForeignOrder {
            venue_order_id: 8886774
        })
    );
    let (_, reports) = setup
        .parse(&new.replace("\"TEST\"", "\"ks6-1\""), Market::UsdmFutures)
        .expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks6-1"),
            venue_order_id: 8886774,
            venue_ts_ms: 1568879465651
        }]
    );
    let Some(trade) = fixture(test, "futures", "order_update_trade.json") else {
        return;
    };
    let (_, reports) = setup
        .parse(&trade.replace("\"TEST\"", "\"ks6-1\""), Market::UsdmFutures)
        .expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Fill(VenueFill {
            client_order_id: ours("ks6-1"),
            symbol: btc,
            market: Market::UsdmFutures,
            side: Side::Buy,
            price: p("7100.5"),
            qty: q("0.001"),
            fee: q("0.01"),
            fee_asset: a("USDT"),
            venue_trade_id: 12345678,
            venue_order_id: 8886774,
            is_maker: true,
            venue_ts_ms: 1568879465651,
        })]
    );
    let Some(lite) = fixture(test, "futures", "trade_lite.json") else {
        return;
    };
    let (done, reports) = setup
        .parse(&lite.replace("\"TEST\"", "\"ks6-1\""), Market::UsdmFutures)
        .expect("valid");
    assert_eq!(done, outcome(UserDataEvent::TradeLite, 0, 0, None));
    assert!(
        reports.is_empty(),
        "the fill is reported once, from ORDER_TRADE_UPDATE"
    );
}

#[test]
fn futures_account_update_reports_balances_and_one_way_positions() {
    let test = "futures_account_update_reports_balances_and_one_way_positions";
    let setup = setup();
    let Some(frame) = fixture(test, "futures", "account_update.json") else {
        return;
    };
    let (done, reports) = setup.parse(&frame, Market::UsdmFutures).expect("valid");
    assert_eq!(
        done,
        outcome(UserDataEvent::AccountUpdate, 2, 2, None),
        "the LONG and SHORT hedge-mode entries are skipped"
    );
    assert_eq!(
        reports,
        [
            VenueReport::Balance {
                asset: a("USDT"),
                free: q("122624.12345678"),
                locked: Qty::ZERO
            },
            VenueReport::Position {
                symbol: setup.id("BTCUSDT"),
                qty: Qty::ZERO,
                entry_price: Price::ZERO
            },
        ]
    );
    let one_way = frame.replace("\"LONG\"", "\"BOTH\"").replace(
        "\"BTCUSDT\",\n        \"pa\": \"0\"",
        "\"XRPUSDT\",\n        \"pa\": \"0\"",
    );
    let (done, reports) = setup.parse(&one_way, Market::UsdmFutures).expect("valid");
    assert_eq!((done.reports, done.skipped), (2, 2));
    assert_eq!(
        reports[1],
        VenueReport::Position {
            symbol: setup.id("BTCUSDT"),
            qty: q("20"),
            entry_price: p("6563.6")
        }
    );
}

#[test]
fn futures_algo_updates() {
    let test = "futures_algo_updates";
    let setup = setup();
    let Some(frame) = fixture(test, "futures", "algo_update_new.json") else {
        return;
    };
    let (foreign, _) = setup.parse(&frame, Market::UsdmFutures).expect("valid");
    assert_eq!(
        foreign.note,
        Some(UserDataNote::ForeignOrder {
            venue_order_id: 2148719
        })
    );
    let ours_frame = frame.replace("Q5xaq5EGKgXXa0fD7fs0Ip", "ks6-3");
    let (_, reports) = setup
        .parse(&ours_frame, Market::UsdmFutures)
        .expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Accepted {
            client_order_id: ours("ks6-3"),
            venue_order_id: 2148719,
            venue_ts_ms: 1750515742297
        }]
    );
    let triggered = ours_frame
        .replace("\"X\": \"NEW\"", "\"X\": \"TRIGGERED\"")
        .replace("\"ai\": \"\"", "\"ai\": \"8886775\"");
    let (done, reports) = setup.parse(&triggered, Market::UsdmFutures).expect("valid");
    assert_eq!(
        reports,
        [VenueReport::Triggered {
            client_order_id: ours("ks6-3"),
            venue_ts_ms: 1750515742297
        }]
    );
    assert_eq!(
        done.note,
        Some(UserDataNote::AlgoBecameOrder {
            client_order_id: ours("ks6-3"),
            venue_order_id: 8886775
        })
    );
}

#[test]
fn stream_end_events_report_the_link_down() {
    let setup = setup();
    for (frame, market) in [
        (
            r#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#,
            Market::Spot,
        ),
        (
            r#"{"e":"listenKeyExpired","E":1576653824250,"listenKey":"WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv"}"#,
            Market::UsdmFutures,
        ),
    ] {
        let (done, reports) = setup.parse(frame, market).expect("valid");
        assert_eq!(reports, [VenueReport::Link(LinkState::Down)]);
        assert_eq!(done.note, Some(UserDataNote::StreamEnded));
    }
}

#[test]
fn unknown_and_malformed_events_are_typed_errors() {
    let setup = setup();
    let cases: [(&str, ParseErrorKind); 9] = [
        ("", ParseErrorKind::Malformed),
        ("not json", ParseErrorKind::Malformed),
        (r#"{"E":1}"#, ParseErrorKind::Malformed),
        (r#"{"e":"newShinyEvent","E":1}"#, ParseErrorKind::Unknown),
        (
            r#"{"subscriptionId":0,"event":{"e":"mystery"}}"#,
            ParseErrorKind::Unknown,
        ),
        (
            r#"{"e":"executionReport","s":"ETHUSDT","c":"ks1-1","S":"BUY","x":"NEW","X":"NEW","r":"NONE","i":1,"l":"0","L":"0","n":"0","N":null,"T":1,"t":-1}"#,
            ParseErrorKind::Malformed, // "m" missing
        ),
        (
            r#"{"e":"executionReport","s":"ETHUSDT","c":"ks1-1","S":"BUY","x":"TRADE","X":"FILLED","r":"NONE","i":1,"l":"1","L":"NaN","n":"0","N":null,"T":1,"t":5,"m":false}"#,
            ParseErrorKind::Malformed,
        ),
        (
            r#"{"e":"executionReport","s":"ETHUSDT","c":"ks1-1","S":"BUY","x":"TELEPORTED","X":"NEW","r":"NONE","i":1,"l":"0","L":"0","n":"0","N":null,"T":1,"t":-1,"m":false}"#,
            ParseErrorKind::Unknown,
        ),
        (
            r#"{"e":"executionReport","s":"DOGEUSDT","c":"ks1-1","S":"BUY","x":"TRADE","X":"FILLED","r":"NONE","i":1,"l":"1","L":"1","n":"0","N":null,"T":1,"t":5,"m":false}"#,
            ParseErrorKind::UnknownSymbol,
        ),
    ];
    for (frame, kind) in cases {
        let err = setup.parse(frame, Market::Spot).expect_err("invalid event");
        assert_eq!(err.kind(), kind, "{frame}: {err}");
    }
    let trade_without_id = r#"{"e":"executionReport","s":"ETHUSDT","c":"ks1-1","S":"BUY","x":"TRADE","X":"FILLED","r":"NONE","i":1,"l":"1","L":"1","n":"0.1","N":"BNB","T":1,"t":-1,"m":false}"#;
    let err = setup
        .parse(trade_without_id, Market::Spot)
        .expect_err("a trade needs its id");
    assert!(err.to_string().contains("trade id -1"), "{err}");
    let fee_without_asset = trade_without_id
        .replace("\"t\":-1", "\"t\":9")
        .replace("\"N\":\"BNB\"", "\"N\":null");
    let err = setup
        .parse(&fee_without_asset, Market::Spot)
        .expect_err("a fee needs its asset");
    assert_eq!(err.kind(), ParseErrorKind::Malformed);
    assert_eq!(
        ws_frame_kind(br#"{"id":1,"status":200,"result":{}}"#).expect("valid"),
        WsFrameKind::Reply
    );
    assert!(ws_frame_kind(b"{}").is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_and_mutated_events_never_panic(
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        at in 0usize..2_000,
        byte in proptest::prelude::any::<u8>(),
    ) {
        let setup = setup();
        let mut reports = Vec::new();
        let _ = parse_user_data(&noise, &setup.spot, Market::Spot, &mut reports);
        let _ = ws_frame_kind(&noise);
        let events = [
            r#"{"e":"executionReport","E":1,"s":"ETHUSDT","c":"ks1-1","S":"BUY","o":"LIMIT","f":"GTC","q":"1","p":"2500","P":"0","x":"TRADE","X":"FILLED","r":"NONE","i":1,"l":"1","z":"1","L":"2500","n":"0.001","N":"ETH","T":1,"t":7,"w":false,"m":true,"O":1,"Z":"2500","C":""}"#,
            r#"{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1,"u":1,"B":[{"a":"USDT","f":"1","l":"0"}]}}"#,
            r#"{"e":"ACCOUNT_UPDATE","T":1,"E":1,"a":{"m":"ORDER","B":[{"a":"USDT","wb":"1","cw":"1","bc":"0"}],"P":[{"s":"BTCUSDT","pa":"1","ep":"1","bep":"1","cr":"0","up":"0","mt":"cross","iw":"0","ps":"BOTH"}]}}"#,
        ];
        for event in events {
            let mut mutated = event.as_bytes().to_vec();
            let index = at % mutated.len();
            mutated[index] = byte;
            let market = if event.contains("ACCOUNT_UPDATE") {
                Market::UsdmFutures
            } else {
                Market::Spot
            };
            let symbols = setup.of(market);
            let _ = parse_user_data(&mutated, symbols, market, &mut reports);
        }
    }
}
