//! Owns: codec round trips for every payload layout and "bad bytes never panic" checks.
//! Never: touches files (pure byte buffers).

use proptest::prelude::*;

use super::*;
use crate::core::{
    IntentAction, OrderRole, OrderStatus, OrderType, Price, Qty, Side, SymbolId, TimeInForce,
};

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn symbol() -> impl Strategy<Value = String> {
    "[A-Z0-9]{1,24}"
}

fn intent() -> impl Strategy<Value = OrderIntent> {
    (
        any::<u16>(),
        any::<u64>(),
        any::<u32>(),
        side(),
        0u8..5,
        0u8..3,
        any::<bool>(),
        any::<i128>(),
        any::<i128>(),
        any::<u64>(),
        (0u8..3, any::<u64>(), any::<i128>(), any::<i128>()),
    )
        .prop_map(
            |(s, seq, sym, side, ot, tif, ro, p, q, c, (a, t, sl, tp))| OrderIntent {
                strategy: StrategyId(s),
                intent_seq: seq,
                symbol: SymbolId(sym),
                action: IntentAction::from_u8(a).expect("range 0..3 is valid"),
                target: ClientOrderId(t),
                stop_loss: Price::from_raw(sl),
                take_profit: Price::from_raw(tp),
                side,
                order_type: OrderType::from_u8(ot).expect("range 0..5 is valid"),
                time_in_force: TimeInForce::from_u8(tif).expect("range 0..3 is valid"),
                reduce_only: ro,
                price: Price::from_raw(p),
                qty: Qty::from_raw(q),
                cause_recv_ns: c,
            },
        )
}

fn update() -> impl Strategy<Value = OrderUpdate> {
    (
        any::<u64>(),
        any::<u16>(),
        any::<u32>(),
        side(),
        0u8..8,
        any::<i128>(),
        any::<u64>(),
        any::<u16>(),
        (0u8..5, 0u8..3, 0u8..4, any::<bool>()),
        (any::<i128>(), any::<i128>(), any::<i128>(), any::<u64>()),
    )
        .prop_map(
            |(id, s, sym, side, st, q, v, r, (ot, tif, role, ro), (p, tp, oq, parent))| {
                OrderUpdate {
                    order_type: OrderType::from_u8(ot).expect("range 0..5 is valid"),
                    time_in_force: TimeInForce::from_u8(tif).expect("range 0..3 is valid"),
                    role: OrderRole::from_u8(role).expect("range 0..4 is valid"),
                    reduce_only: ro,
                    price: Price::from_raw(p),
                    trigger_price: Price::from_raw(tp),
                    qty: Qty::from_raw(oq),
                    parent: ClientOrderId(parent),
                    client_order_id: ClientOrderId(id),
                    strategy: StrategyId(s),
                    symbol: SymbolId(sym),
                    side,
                    status: OrderStatus::from_u8(st).expect("range 0..8 is valid"),
                    filled_qty: Qty::from_raw(q),
                    venue_order_id: v,
                    reject_code: r,
                }
            },
        )
}

fn fill() -> impl Strategy<Value = Fill> {
    (
        any::<u64>(),
        any::<u16>(),
        any::<u32>(),
        side(),
        any::<i128>(),
        any::<i128>(),
        any::<i128>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(id, s, sym, side, p, q, fee, t, m)| Fill {
            client_order_id: ClientOrderId(id),
            strategy: StrategyId(s),
            symbol: SymbolId(sym),
            side,
            price: Price::from_raw(p),
            qty: Qty::from_raw(q),
            fee: Notional::from_raw(fee),
            venue_trade_id: t,
            is_maker: m,
        })
}

fn mode() -> impl Strategy<Value = TradingMode> {
    (0u8..3).prop_map(|v| TradingMode::from_u8(v).expect("range 0..3 is valid"))
}

proptest! {
    #[test]
    fn intent_round_trips(i in intent(), sym in symbol()) {
        let mut buf = [0u8; MAX_FIXED_PAYLOAD];
        let n = encode_intent(&i, &sym, &mut buf);
        prop_assert_eq!(decode(RecordType::OrderIntent, &buf[..n]),
            Ok(JournalEntry::Intent { symbol: sym, intent: i }));
    }

    #[test]
    fn update_round_trips(u in update(), sym in symbol()) {
        let mut buf = [0u8; MAX_FIXED_PAYLOAD];
        let n = encode_update(&u, &sym, &mut buf);
        prop_assert_eq!(decode(RecordType::OrderUpdate, &buf[..n]),
            Ok(JournalEntry::Update { symbol: sym, update: u }));
    }

    #[test]
    fn fill_round_trips(f in fill(), sym in symbol()) {
        let mut buf = [0u8; MAX_FIXED_PAYLOAD];
        let n = encode_fill(&f, &sym, &mut buf);
        prop_assert_eq!(decode(RecordType::Fill, &buf[..n]),
            Ok(JournalEntry::Fill { symbol: sym, fill: f }));
    }

    #[test]
    fn risk_state_and_session_round_trip(
        code in any::<u16>(), s in any::<u16>(), id in any::<u64>(), o in any::<i128>(),
        l in any::<i128>(), sym in "[A-Z]{0,24}", from in mode(), to in mode(),
        cause in "\\PC{0,40}", session in any::<u32>(), wall in any::<u64>(), pid in any::<u32>(),
    ) {
        let mut buf = [0u8; MAX_FIXED_PAYLOAD];
        let event = RiskEvent { code, strategy: StrategyId(s), client_order_id: ClientOrderId(id),
            observed: Notional::from_raw(o), limit: Notional::from_raw(l) };
        let n = encode_risk_event(&event, &sym, &mut buf);
        prop_assert_eq!(decode(RecordType::RiskEvent, &buf[..n]),
            Ok(JournalEntry::Risk { symbol: sym, event }));
        let change = TradingStateChange { from, to, cause_code: code };
        let n = encode_trading_state(&change, &cause, &mut buf);
        let kept = truncate_at_char(&cause, STATE_CAUSE_MAX).to_owned();
        prop_assert_eq!(decode(RecordType::TradingState, &buf[..n]),
            Ok(JournalEntry::TradingState { change, cause: kept }));
        let start = SessionStart { session, wall_ns: wall, pid };
        let n = encode_session(&start, &mut buf);
        prop_assert_eq!(decode(RecordType::Session, &buf[..n]), Ok(JournalEntry::Session(start)));
        prop_assert_eq!(decode_session_number(&buf[..n]), Ok(session));
    }

    #[test]
    fn variable_payloads_round_trip(
        text in "\\PC{0,200}", tag in "[a-z@:]{0,64}", recv in any::<u64>(),
        body in proptest::collection::vec(any::<u8>(), 0..300), seq in any::<u64>(),
    ) {
        let mut buf = vec![0u8; 1024];
        let n = encode_note(&text, &mut buf).expect("buffer is large enough");
        prop_assert_eq!(decode(RecordType::OperatorNote, &buf[..n]),
            Ok(JournalEntry::Note { text: text.clone() }));
        let n = encode_market_frame(&tag, recv, &body, &mut buf).expect("buffer is large enough");
        prop_assert_eq!(decode(RecordType::MarketFrame, &buf[..n]),
            Ok(JournalEntry::MarketFrame { tag: tag.clone(), recv_ns: recv, bytes: body.clone() }));
        let n = encode_snapshot(&tag, seq, &body, &mut buf).expect("buffer is large enough");
        prop_assert_eq!(decode(RecordType::Snapshot, &buf[..n]),
            Ok(JournalEntry::Snapshot { component: tag, as_of_seq: seq, body }));
    }

    #[test]
    fn arbitrary_bytes_decode_to_an_error_or_an_entry_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..160), code in 1u16..10,
    ) {
        let kind = RecordType::from_u16(code).expect("codes 1..10 exist");
        let mut versioned = bytes.clone();
        if let Some(first) = versioned.first_mut() { *first = PAYLOAD_VERSION; }
        let _ = decode(kind, &bytes);
        if let Ok(entry) = decode(kind, &versioned) {
            let _ = entry.to_json();
            let _ = entry.to_string();
        }
    }
}

#[test]
fn truncated_and_mistyped_payloads_are_errors() {
    let mut buf = [0u8; MAX_FIXED_PAYLOAD];
    let n = encode_fill(&Fill::default(), "BTCUSDT", &mut buf);
    for cut in 0..n {
        assert!(
            decode(RecordType::Fill, &buf[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    buf[0] = 9;
    assert_eq!(
        decode(RecordType::Fill, &buf[..n]),
        Err(PayloadError::Version(9))
    );
    buf[0] = PAYLOAD_VERSION;
    buf[15] = 7; // side byte
    assert!(matches!(
        decode(RecordType::Fill, &buf[..n]),
        Err(PayloadError::BadValue { field: "side", .. })
    ));
    let mut small = [0u8; 8];
    assert!(encode_note("longer than eight", &mut small).is_err());
    assert!(encode_market_frame(&"x".repeat(65), 0, b"", &mut [0u8; 200]).is_err());
}

#[test]
fn long_symbols_are_truncated_at_a_char_boundary() {
    let mut buf = [0u8; MAX_FIXED_PAYLOAD];
    let name = format!("{}é", "A".repeat(23));
    let n = encode_fill(&Fill::default(), &name, &mut buf);
    let entry = decode(RecordType::Fill, &buf[..n]).expect("truncated name still decodes");
    assert_eq!(entry.symbol(), Some("A".repeat(23).as_str()));
}

#[test]
fn fill_renders_as_one_line_and_as_json() {
    let mut buf = [0u8; MAX_FIXED_PAYLOAD];
    let fill = Fill {
        client_order_id: ClientOrderId((7 << 40) | 3),
        price: Price::parse("65000.5").expect("literal"),
        qty: Qty::parse("0.01").expect("literal"),
        is_maker: true,
        ..Fill::default()
    };
    let n = encode_fill(&fill, "BTCUSDT", &mut buf);
    let entry = decode(RecordType::Fill, &buf[..n]).expect("fresh encoding");
    let line = entry.to_string();
    assert!(!line.contains('\n'));
    assert!(
        line.contains("BTCUSDT BUY 0.01 @ 65000.5") && line.contains("ks7-3"),
        "{line}"
    );
    let json = entry.to_json();
    assert_eq!(json["price"], "65000.5");
    assert_eq!(json["client_order_id"], "ks7-3");
    assert_eq!(json["type"], "fill");
}
