//! Bad input never panics the Binance decoder: malformed JSON, unknown symbols, NaN-like,
//! negative or exponent decimals, oversized frames, arbitrary bytes and mutated real frames
//! all come back as errors with a stable kind, and the decoder keeps working afterwards.

use std::time::{Duration, Instant};

use kestrel::core::SymbolTable;
use kestrel::feed::binance::{BinanceDecoder, DecodeErrorKind, Decoded};
use proptest::prelude::*;

/// Real frames (copied from the shared captures) covering every decoder path.
const SAMPLES: &[&str] = &[
    r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#,
    r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}"#,
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#,
    r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"BTCUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}}"#,
    r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"]]}}"#,
    r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256352,"T":1723161256352,"s":"BTCUSDT","U":5123107837801,"u":5123107842679,"pu":5123107837557,"b":[["1000.00","606.675"]],"a":[]}}"#,
    r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1626992742139,"s":"BTCUSDT","k":{"t":1626992700000,"T":1626992759999,"s":"BTCUSDT","i":"1m","f":27931328,"L":27931348,"o":"0.01731","c":"0.01731","h":"0.01733","l":"0.01731","v":"156058","n":21,"x":false,"q":"2702.20770","V":"68508","Q":"1186.7","B":"0"}}}"#,
    r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}"#,
    r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}"#,
    r#"{"result":null,"id":1}"#,
];

fn decoder() -> BinanceDecoder {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid symbol");
    BinanceDecoder::new(&table)
}

fn kind_of(decoder: &mut BinanceDecoder, frame: &[u8]) -> Option<DecodeErrorKind> {
    decoder.decode(frame, 1).err().map(|e| e.kind())
}

fn trade_with_qty(qty: &str) -> String {
    format!(
        r#"{{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"61800.30","q":"{qty}","T":1,"m":false}}"#
    )
}

#[test]
fn every_sample_frame_decodes() {
    let mut d = decoder();
    for frame in SAMPLES {
        assert!(d.decode(frame.as_bytes(), 1).is_ok(), "{frame}");
    }
}

#[test]
fn malformed_json_is_rejected_as_malformed() {
    let mut d = decoder();
    let cases: &[&[u8]] = &[
        b"",
        b"not json",
        b"{",
        b"{\"e\":\"trade\",\"s\":\"BTCUSDT\",}",
        br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1"#,
        br#"{"e":"trade","E":1,"s":"BTC\u0055SDT","t":2,"p":"1","q":"1","m":false}"#,
        br#"{"e":"trade","E":1.5,"s":"BTCUSDT","t":2,"p":"1","q":"1","m":false}"#,
        br#"{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1","q":"1","m":false} trailing"#,
        br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1","q":"1","m":false}"#,
        br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":[}}"#,
        br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#,
    ];
    for case in cases {
        assert_eq!(
            kind_of(&mut d, case),
            Some(DecodeErrorKind::Malformed),
            "{}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn unknown_symbols_are_rejected_on_hot_and_cold_paths() {
    let mut d = decoder();
    let hot = trade_with_qty("1").replace("BTCUSDT", "ETHUSDT");
    assert_eq!(
        kind_of(&mut d, hot.as_bytes()),
        Some(DecodeErrorKind::UnknownSymbol)
    );
    let cold = SAMPLES[8].replace("BTCUSDT", "ETHUSDT");
    assert_eq!(
        kind_of(&mut d, cold.as_bytes()),
        Some(DecodeErrorKind::UnknownSymbol)
    );
    let partial = SAMPLES[9].replace("btcusdt", "ethusdt");
    assert_eq!(
        kind_of(&mut d, partial.as_bytes()),
        Some(DecodeErrorKind::UnknownSymbol)
    );
}

#[test]
fn nan_negative_exponent_and_too_precise_quantities_are_bad_decimals() {
    let mut d = decoder();
    for qty in [
        "NaN",
        "-1",
        "1e5",
        "",
        "inf",
        "0.0000000000000000001",
        "1.2.3",
    ] {
        let frame = trade_with_qty(qty);
        assert_eq!(
            kind_of(&mut d, frame.as_bytes()),
            Some(DecodeErrorKind::BadDecimal),
            "{qty}"
        );
        let depth = SAMPLES[5].replace("0.32332000", qty);
        assert_eq!(
            kind_of(&mut d, depth.as_bytes()),
            Some(DecodeErrorKind::BadDecimal),
            "{qty}"
        );
        let kline = SAMPLES[7].replace("156058", qty);
        assert_eq!(
            kind_of(&mut d, kline.as_bytes()),
            Some(DecodeErrorKind::BadDecimal),
            "{qty}"
        );
    }
}

#[test]
fn missing_fields_and_unknown_events_have_their_kinds() {
    let mut d = decoder();
    let no_price = trade_with_qty("1").replace(r#""p":"61800.30","#, "");
    assert_eq!(
        kind_of(&mut d, no_price.as_bytes()),
        Some(DecodeErrorKind::MissingField)
    );
    let no_k = r#"{"e":"kline","E":1,"s":"BTCUSDT"}"#;
    assert_eq!(
        kind_of(&mut d, no_k.as_bytes()),
        Some(DecodeErrorKind::MissingField)
    );
    let unknown = r#"{"e":"somethingNew","E":1,"s":"BTCUSDT"}"#;
    assert_eq!(
        kind_of(&mut d, unknown.as_bytes()),
        Some(DecodeErrorKind::UnknownMessage)
    );
    let bare_partial = r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#;
    assert_eq!(
        kind_of(&mut d, bare_partial.as_bytes()),
        Some(DecodeErrorKind::UnknownMessage)
    );
    let stream_only = r#"{"stream":"btcusdt@avgPrice","data":{"i":"5m"}}"#;
    assert_eq!(
        kind_of(&mut d, stream_only.as_bytes()),
        Some(DecodeErrorKind::UnknownMessage)
    );
}

#[test]
fn fifty_megabyte_frame_is_rejected_before_parsing() {
    let mut d = decoder();
    let mut huge = vec![b' '; 50 << 20];
    huge[0] = b'{';
    let started = Instant::now();
    let err = d
        .decode(&huge, 1)
        .expect_err("a 50 MB frame is over the default limit");
    let snapshot_err = d
        .decode_snapshot(&huge, kestrel::core::SymbolId(0))
        .expect_err("a 50 MB snapshot is over the default limit");
    // Any parsing pass over 50 MB would take milliseconds; the length check takes nanoseconds.
    assert!(
        started.elapsed() < Duration::from_millis(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), DecodeErrorKind::FrameTooLarge);
    assert_eq!(snapshot_err.kind(), DecodeErrorKind::FrameTooLarge);
}

#[test]
fn configured_frame_limit_applies() {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid symbol");
    let mut d = BinanceDecoder::with_max_frame_len(&table, 64);
    assert_eq!(
        kind_of(&mut d, SAMPLES[0].as_bytes()),
        Some(DecodeErrorKind::FrameTooLarge)
    );
    assert!(d.decode(br#"{"result":null,"id":9}"#, 1).is_ok());
}

#[test]
fn decoder_keeps_working_after_errors() {
    let mut d = decoder();
    for frame in SAMPLES {
        let _ = d.decode(&frame.as_bytes()[..frame.len() / 2], 1);
        assert!(d.decode(frame.as_bytes(), 1).is_ok(), "{frame}");
    }
    let Ok(Decoded::Depth(diff)) = d.decode(SAMPLES[5].as_bytes(), 1) else {
        panic!("depth sample decodes")
    };
    assert_eq!((diff.bids.len(), diff.asks.len()), (1, 2));
}

/// Every single-byte replacement from a small alphabet, and every truncation, of every sample.
#[test]
fn byte_flips_and_truncations_of_real_frames_never_panic() {
    let mut d = decoder();
    let alphabet = [
        0u8, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'9', b'-', b'.', b'e', 0xff,
    ];
    let mut errors = 0usize;
    for frame in SAMPLES {
        let bytes = frame.as_bytes();
        for i in 0..bytes.len() {
            let mut mutated = bytes.to_vec();
            for &b in &alphabet {
                mutated[i] = b;
                if let Err(e) = d.decode(&mutated, 1) {
                    assert!(!e.kind().as_str().is_empty());
                    errors += 1;
                }
            }
            if let Err(e) = d.decode(&bytes[..i], 1) {
                assert!(!e.kind().as_str().is_empty());
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_give_ok_or_an_error_with_a_kind(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut d = decoder();
        if let Err(e) = d.decode(&bytes, 1) {
            prop_assert!(DecodeErrorKind::ALL.contains(&e.kind()));
        }
        if let Err(e) = d.decode_snapshot(&bytes, kestrel::core::SymbolId(0)) {
            prop_assert!(DecodeErrorKind::ALL.contains(&e.kind()));
        }
    }

    #[test]
    fn mutated_real_frames_give_ok_or_an_error_with_a_kind(
        sample in 0..SAMPLES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut frame = SAMPLES[sample].as_bytes().to_vec();
        for (at, byte, op) in edits {
            if frame.is_empty() {
                break;
            }
            let i = at.index(frame.len());
            match op {
                0 => frame[i] = byte,
                1 => frame.insert(i, byte),
                _ => {
                    frame.remove(i);
                }
            }
        }
        let mut d = decoder();
        if let Err(e) = d.decode(&frame, 1) {
            prop_assert!(DecodeErrorKind::ALL.contains(&e.kind()));
        }
    }
}
