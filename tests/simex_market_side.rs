//! `simex` market side end to end: real captures replayed over WS (plain and TLS) byte for
//! byte, runtime subscriptions, futures routes, pings, REST depth consistent with the stream,
//! exchangeInfo/time/errors. No timing thresholds: only generous socket timeouts.

mod simex_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use kestrel::sim::{Market, Speed};
use simex_support::*;
use tungstenite::Message;

fn combined_frames_match_capture(tls: bool) {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, tls));
    let mut ws = ws_connect(
        &handle,
        Market::Spot,
        &format!("/stream?streams={DEPTH}/{TRADE}"),
    );
    let want: Vec<String> = expected(SPOT_CAPTURE, &[DEPTH, TRADE])
        .into_iter()
        .map(|(whole, _)| whole)
        .collect();
    assert_contiguous(&texts(&mut ws, 500), &want);
    handle.stop().expect("clean stop");
}

#[test]
fn combined_path_over_plain_tcp_streams_recorded_frames_byte_for_byte() {
    combined_frames_match_capture(false);
}

#[test]
fn combined_path_over_tls_trusting_the_returned_cert_streams_recorded_frames() {
    combined_frames_match_capture(true);
}

#[test]
fn runtime_subscribe_on_raw_path_acks_and_sends_bare_payloads_of_that_stream_only() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    let mut ws = ws_connect(&handle, Market::Spot, "/ws");
    let request = format!(r#"{{"method":"SUBSCRIBE","params":["{TRADE}"],"id":1}}"#);
    ws.send(Message::text(request)).expect("send subscribe");
    assert_eq!(next_text(&mut ws), r#"{"result":null,"id":1}"#);
    let want: Vec<String> = expected(SPOT_CAPTURE, &[TRADE])
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    assert_contiguous(&texts(&mut ws, 300), &want);
    handle.stop().expect("clean stop");
}

#[test]
fn futures_public_and_market_paths_serve_only_their_streams() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, false));
    let depth = "btcusdt@depth@0ms";
    let mut public = ws_connect(
        &handle,
        Market::UsdmFutures,
        &format!("/public/stream?streams={depth}/{TRADE}"),
    );
    let mut market = ws_connect(&handle, Market::UsdmFutures, &format!("/market/ws/{TRADE}"));
    let want_depth: Vec<String> = expected(USDM_CAPTURE, &[depth])
        .into_iter()
        .map(|(whole, _)| whole)
        .collect();
    let want_trade: Vec<String> = expected(USDM_CAPTURE, &[TRADE])
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    assert_contiguous(&texts(&mut public, 200), &want_depth);
    assert_contiguous(&texts(&mut market, 200), &want_trade);
    handle.stop().expect("clean stop");
}

#[test]
fn server_pings_and_the_connection_survives_pongs() {
    let mut cfg = config(Market::Spot, Speed::AsFastAsPossible, false);
    cfg.ping_interval_ms = Some(50);
    cfg.pong_timeout_ms = Some(60_000);
    let handle = start(cfg);
    let mut ws = ws_connect(&handle, Market::Spot, "/ws");
    for _ in 0..3 {
        // tungstenite queues the pong and sends it on the next read.
        match ws.read().expect("ping before the timeout") {
            Message::Ping(_) => {}
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    ws.send(Message::text(r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#))
        .expect("still open");
    assert_eq!(next_text(&mut ws), r#"{"result":[],"id":2}"#);
    handle.stop().expect("clean stop");
}

#[test]
fn a_client_that_never_pongs_is_disconnected() {
    let mut cfg = config(Market::Spot, Speed::AsFastAsPossible, false);
    cfg.ping_interval_ms = Some(50);
    cfg.pong_timeout_ms = Some(100);
    let handle = start(cfg);
    let mut ws = ws_connect(&handle, Market::Spot, "/ws");
    // Raw socket reads: tungstenite would answer the pings.
    let mut chunk = [0u8; 1024];
    let ended = loop {
        match ws.get_mut().read(&mut chunk) {
            Ok(0) => break None,
            Ok(_) => {}
            Err(e) => break Some(e.kind()),
        }
    };
    assert!(
        matches!(
            ended,
            None | Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
        ),
        "dropped, not timed out: {ended:?}"
    );
    handle.stop().expect("clean stop");
}

type Side = BTreeMap<String, String>;

fn levels(value: &serde_json::Value) -> Side {
    value
        .as_array()
        .expect("levels array")
        .iter()
        .map(|l| {
            (
                l[0].as_str().expect("price text").to_owned(),
                l[1].as_str().expect("qty text").to_owned(),
            )
        })
        .collect()
}

fn apply(side: &mut Side, changes: &serde_json::Value) {
    for (price, qty) in levels(changes) {
        if qty.bytes().all(|b| b == b'0' || b == b'.') {
            side.remove(&price);
        } else {
            side.insert(price, qty);
        }
    }
}

#[test]
fn rest_depth_before_any_diff_is_the_recorded_snapshot_text() {
    // As fast as possible waits for a subscriber, so the replay has not moved yet.
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    let (status, body) = get(
        &handle,
        Market::Spot,
        "/api/v3/depth?symbol=BTCUSDT&limit=5000",
    );
    assert_eq!(status, 200);
    let file = std::fs::File::open(path(SPOT_CAPTURE)).expect("bundled capture");
    let recorded = BufReader::new(flate2::read::MultiGzDecoder::new(file))
        .lines()
        .map(|l| l.expect("capture line"))
        .find_map(|l| {
            let (_, frame) = l.split_once(' ')?;
            frame
                .starts_with("{\"lastUpdateId\"")
                .then(|| frame.to_owned())
        })
        .expect("the capture holds a REST snapshot");
    assert_eq!(body, recorded);
    handle.stop().expect("clean stop");
}

/// The levels of `side` inside the price range both snapshot sides cover (a 1000-level
/// snapshot cannot tell the client about deeper levels).
fn within(side: &Side, first: &Side, second: &Side) -> Side {
    let price = |p: &String| p.parse::<f64>().expect("price text");
    let range = |s: &Side| {
        let lo = s.keys().map(price).fold(f64::INFINITY, f64::min);
        let hi = s.keys().map(price).fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let ((lo1, hi1), (lo2, hi2)) = (range(first), range(second));
    let (lo, hi) = (lo1.max(lo2), hi1.min(hi2));
    side.iter()
        .filter(|(p, _)| (lo..=hi).contains(&price(p)))
        .map(|(p, q)| (p.clone(), q.clone()))
        .collect()
}

/// Snapshot, then diffs from its lastUpdateId, then a later snapshot: the client's book
/// equals the later snapshot over the prices it covers.
fn depth_consistency(market: Market, stream_target: &str, rest_target: &str) {
    let handle = start(config(market, Speed::Times(100.0), false));
    let mut ws = ws_connect(&handle, market, stream_target);
    let first = json(&get(&handle, market, rest_target).1);
    let (mut bids, mut asks) = (levels(&first["bids"]), levels(&first["asks"]));
    let mut local_id = first["lastUpdateId"].as_u64().expect("lastUpdateId");
    let mut previous_u: Option<u64> = None;
    let mut applied_any = false;
    let mut second: Option<serde_json::Value> = None;
    let mut applied = 0;
    loop {
        let diff = json(&next_text(&mut ws));
        let (from, to) = (
            diff["U"].as_u64().expect("U"),
            diff["u"].as_u64().expect("u"),
        );
        if let (Some(pu), Some(prev)) = (diff["pu"].as_u64(), previous_u) {
            assert_eq!(pu, prev, "futures pu chain unbroken");
        }
        previous_u = Some(to);
        let futures = diff["pu"].is_u64();
        // Futures: a snapshot's id lies inside the next diff's [U, u], which spans it.
        let skip = if futures {
            to < local_id
        } else {
            to <= local_id
        };
        if skip {
            continue;
        }
        if let Some(snap) = &second {
            let target = snap["lastUpdateId"].as_u64().expect("lastUpdateId");
            // The book the later snapshot shows, before the diff that reaches past it.
            let reached = if futures {
                to >= target
            } else {
                local_id >= target
            };
            if reached {
                if !futures {
                    assert_eq!(local_id, target, "spot: a snapshot's id is an applied u");
                }
                let (snap_bids, snap_asks) = (levels(&snap["bids"]), levels(&snap["asks"]));
                let (first_bids, first_asks) = (levels(&first["bids"]), levels(&first["asks"]));
                let common_bids = within(&snap_bids, &first_bids, &snap_bids);
                let common_asks = within(&snap_asks, &first_asks, &snap_asks);
                assert!(common_bids.len() > 100 && common_asks.len() > 100);
                let bids_seen = within(&bids, &first_bids, &snap_bids);
                assert_eq!(bids_seen, common_bids, "bids match the exchange book");
                let asks_seen = within(&asks, &first_asks, &snap_asks);
                assert_eq!(asks_seen, common_asks, "asks match the exchange book");
                break;
            }
        }
        match diff["pu"].as_u64() {
            Some(pu) if applied_any => assert_eq!(pu, local_id, "pu chains to the book"),
            Some(_) => assert!(from <= local_id, "U={from} ≤ lastUpdateId {local_id}"),
            None => assert!(from <= local_id + 1, "no gap: U={from} after {local_id}"),
        }
        applied_any = true;
        apply(&mut bids, &diff["b"]);
        apply(&mut asks, &diff["a"]);
        local_id = to;
        applied += 1;
        if applied == 50 {
            second = Some(json(&get(&handle, market, rest_target).1));
        }
    }
    handle.stop().expect("clean stop");
}

#[test]
fn rest_depth_snapshot_plus_following_diffs_equals_the_exchange_book() {
    depth_consistency(
        Market::Spot,
        &format!("/ws/{DEPTH}"),
        "/api/v3/depth?symbol=BTCUSDT&limit=5000",
    );
}

#[test]
fn futures_rest_depth_snapshot_plus_following_diffs_equals_the_exchange_book() {
    depth_consistency(
        Market::UsdmFutures,
        "/public/ws/btcusdt@depth@0ms",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
    );
}

#[test]
fn rest_exchange_info_time_and_binance_errors() {
    let handle = start(config(Market::UsdmFutures, Speed::AsFastAsPossible, true));
    let (status, body) = get(&handle, Market::UsdmFutures, "/fapi/v1/exchangeInfo");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        std::fs::read_to_string(path(USDM_INFO)).expect("bundled info")
    );
    let (status, body) = get(&handle, Market::UsdmFutures, "/fapi/v1/time");
    assert_eq!(status, 200);
    assert!(json(&body)["serverTime"].as_u64().expect("serverTime") > 1_700_000_000_000);
    let (status, body) = get(
        &handle,
        Market::UsdmFutures,
        "/fapi/v1/depth?symbol=ETHUSDT",
    );
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#)
    );
    let (status, body) = get(&handle, Market::UsdmFutures, "/fapi/v1/depth");
    assert_eq!((status, json(&body)["code"].as_i64()), (400, Some(-1102)));
    let (status, body) = get(
        &handle,
        Market::UsdmFutures,
        "/fapi/v1/depth?symbol=BTCUSDT&limit=5",
    );
    assert_eq!(status, 200);
    let snap = json(&body);
    assert!(
        snap["E"].is_u64() && snap["T"].is_u64(),
        "futures depth has E and T"
    );
    assert_eq!(snap["bids"].as_array().map(Vec::len), Some(5));
    assert_eq!(get(&handle, Market::UsdmFutures, "/fapi/v1/ping").1, "{}");
    assert_eq!(get(&handle, Market::UsdmFutures, "/api/v3/time").0, 404);
    handle.stop().expect("clean stop");
}

#[test]
fn run_simex_writes_the_certificate_and_returns_once_the_stop_flag_is_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(Market::Spot, Speed::RealTime, true);
    let cert = dir.path().join("simex.pem");
    cfg.cert_out = Some(cert.clone());
    let stop = std::sync::atomic::AtomicBool::new(true);
    kestrel::sim::run_simex(cfg, &stop).expect("starts and stops cleanly");
    let pem = std::fs::read_to_string(cert).expect("certificate written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}
