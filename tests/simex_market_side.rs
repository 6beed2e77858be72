//! `simex` market side end to end: real captures replayed over WS (plain and TLS), REST
//! depth consistent with the stream, exchangeInfo/time, and every fault switch observed by
//! a blocking tungstenite client. No timing thresholds: only generous socket timeouts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kestrel::sim::{FaultPlan, Market, MarketReplay, Simex, SimexConfig, SimexHandle, Speed};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

const SPOT_CAPTURE: &str = "data/binance_spot_btcusdt_20240808.gz";
const USDM_CAPTURE: &str = "data/binance_usdm_btcusdt_20240808.gz";
const SPOT_INFO: &str = "data/binance_spot_exchange_info_btcusdt.json";
const USDM_INFO: &str = "data/binance_usdm_exchange_info_btcusdt.json";
const DEPTH: &str = "btcusdt@depth@100ms";
const TRADE: &str = "btcusdt@trade";
/// Generous: only there so a broken simulator fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(20);

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn config(market: Market, speed: Speed, tls: bool) -> SimexConfig {
    let (capture, info) = match market {
        Market::Spot => (SPOT_CAPTURE, SPOT_INFO),
        Market::UsdmFutures => (USDM_CAPTURE, USDM_INFO),
    };
    SimexConfig {
        markets: vec![MarketReplay {
            market,
            capture: vec![path(capture)],
            exchange_info: path(info),
        }],
        listen: "127.0.0.1:0".parse().expect("literal address"),
        tls,
        speed,
        faults: FaultPlan::default(),
        ping_interval_ms: None,
        pong_timeout_ms: None,
        client_queue_frames: 4096,
        cert_out: None,
    }
}

fn start(config: SimexConfig) -> SimexHandle {
    Simex::start(config).expect("simex starts on the bundled data")
}

/// The capture's frames of `streams`, in order: (whole envelope, bare payload).
fn expected(capture: &str, streams: &[&str]) -> Vec<(String, String)> {
    let file = std::fs::File::open(path(capture)).expect("bundled capture");
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.expect("capture line");
        let Some((_, frame)) = line.split_once(' ') else {
            continue;
        };
        for stream in streams {
            let head = format!("{{\"stream\":\"{stream}\",\"data\":");
            if let Some(data) = frame.strip_prefix(&head) {
                out.push((frame.to_owned(), data[..data.len() - 1].to_owned()));
            }
        }
    }
    out
}

enum ClientStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.read(buf),
            ClientStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.write(buf),
            ClientStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ClientStream::Plain(s) => s.flush(),
            ClientStream::Tls(s) => s.flush(),
        }
    }
}

/// Connects, trusting only the simulator's certificate when it serves TLS.
fn connect(handle: &SimexHandle, addr: SocketAddr) -> ClientStream {
    let socket = TcpStream::connect(addr).expect("connect to simex");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let Some(cert) = handle.cert_der() else {
        return ClientStream::Plain(socket);
    };
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.to_vec()))
        .expect("simex certificate parses");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the defaults")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("valid name");
    let session = ClientConnection::new(Arc::new(config), name).expect("client session");
    ClientStream::Tls(Box::new(StreamOwned::new(session, socket)))
}

fn ws_connect(handle: &SimexHandle, market: Market, target: &str) -> WebSocket<ClientStream> {
    let addr = handle.addr(market).expect("market served");
    let scheme = if handle.cert_der().is_some() {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://localhost:{}{target}", addr.port());
    let (ws, _) = tungstenite::client(url, connect(handle, addr)).expect("ws handshake");
    ws
}

/// The next text frame (pings are answered by tungstenite on read).
fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match ws.read().expect("frame before the timeout") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Close(frame) => panic!("closed by simex: {frame:?}"),
            _ => {}
        }
    }
}

fn texts(ws: &mut WebSocket<ClientStream>, n: usize) -> Vec<String> {
    (0..n).map(|_| next_text(ws)).collect()
}

/// Asserts `got` is a contiguous run of `want` (a client starts at the replay position).
fn assert_contiguous(got: &[String], want: &[String]) {
    let start = want
        .iter()
        .position(|w| *w == got[0])
        .expect("first frame is a recorded frame, byte for byte");
    assert_eq!(
        got,
        &want[start..start + got.len()],
        "frames in recorded order"
    );
}

/// `GET target` on a fresh connection: (status, body).
fn get(handle: &SimexHandle, market: Market, target: &str) -> (u16, String) {
    let addr = handle.addr(market).expect("market served");
    let mut stream = connect(handle, addr);
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("content length");
            if body.len() >= length {
                let status = head[9..12].parse().expect("status code");
                return (status, body[..length].to_owned());
            }
        }
        let n = stream
            .read(&mut chunk)
            .expect("response before the timeout");
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}

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
    assert_eq!(get(&handle, Market::UsdmFutures, "/api/v3/time").0, 404);
    handle.stop().expect("clean stop");
}

#[test]
fn drop_connections_closes_the_stream_without_a_close_frame() {
    let handle = start(config(Market::Spot, Speed::Times(10.0), false));
    let mut ws = ws_connect(&handle, Market::Spot, &format!("/ws/{TRADE}"));
    next_text(&mut ws);
    handle.drop_connections();
    let ended = loop {
        match ws.read() {
            Ok(Message::Close(_)) => panic!("a dropped connection sends no close frame"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        !matches!(ended, tungstenite::Error::Io(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "connection ended, not timed out: {ended}"
    );
    handle.stop().expect("clean stop");
}

#[test]
fn skipped_update_ids_are_not_sent_and_leave_a_gap() {
    let diffs = expected(SPOT_CAPTURE, &[DEPTH]);
    let ids = |data: &str| {
        let v = json(data);
        (v["U"].as_u64().expect("U"), v["u"].as_u64().expect("u"))
    };
    let (gap_from, _) = ids(&diffs[40].1);
    let (_, gap_to) = ids(&diffs[42].1);
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    handle.skip_update_ids(gap_from..=gap_to);
    let mut ws = ws_connect(&handle, Market::Spot, &format!("/ws/{DEPTH}"));
    let got = texts(&mut ws, 60);
    let want: Vec<String> = diffs
        .iter()
        .enumerate()
        .filter(|(i, _)| !(40..=42).contains(i))
        .map(|(_, (_, data))| data.clone())
        .collect();
    assert_contiguous(&got, &want);
    let gap = got.windows(2).any(|w| ids(&w[1]).0 > ids(&w[0]).1 + 1);
    assert!(gap, "the client sees U > previous u + 1");
    handle.stop().expect("clean stop");
}

#[test]
fn stall_freezes_the_replay_clock_then_frames_resume() {
    let handle = start(config(Market::Spot, Speed::Times(10.0), false));
    let mut ws = ws_connect(&handle, Market::Spot, &format!("/ws/{TRADE}"));
    next_text(&mut ws);
    handle.stall(Duration::from_secs(3));
    // Let a frame already past the pacing step land before reading the clock.
    std::thread::sleep(Duration::from_millis(200));
    let time = || json(&get(&handle, Market::Spot, "/api/v3/time").1)["serverTime"].clone();
    let before = time();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(time(), before, "no frame replayed during the stall");
    next_text(&mut ws);
    assert_ne!(time(), before, "the replay moved on after the stall");
    handle.stop().expect("clean stop");
}

#[test]
fn malformed_frame_arrives_truncated_and_the_stream_continues() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    handle.send_malformed(1);
    let mut ws = ws_connect(&handle, Market::Spot, &format!("/ws/{TRADE}"));
    let got = texts(&mut ws, 20);
    let want = expected(SPOT_CAPTURE, &[TRADE]);
    assert!(serde_json::from_str::<serde_json::Value>(&got[0]).is_err());
    assert!(want[0].1.starts_with(&got[0]), "a truncated recorded frame");
    let rest: Vec<String> = want.iter().map(|(_, data)| data.clone()).collect();
    assert_eq!(&got[1..], &rest[1..20], "later frames are intact");
    handle.stop().expect("clean stop");
}

#[test]
fn split_frames_still_decode_on_the_client_over_plain_and_tls() {
    for tls in [false, true] {
        let handle = start(config(Market::Spot, Speed::AsFastAsPossible, tls));
        handle.split_next_frames(5);
        let mut ws = ws_connect(&handle, Market::Spot, &format!("/stream?streams={TRADE}"));
        let want: Vec<String> = expected(SPOT_CAPTURE, &[TRADE])
            .into_iter()
            .map(|(whole, _)| whole)
            .collect();
        assert_contiguous(&texts(&mut ws, 20), &want);
        handle.stop().expect("clean stop");
    }
}

#[test]
fn refused_connections_fail_the_handshake_until_allowed_again() {
    let handle = start(config(Market::Spot, Speed::AsFastAsPossible, false));
    handle.refuse_connections(true);
    let addr = handle.addr(Market::Spot).expect("market served");
    let url = format!("ws://localhost:{}/ws/{TRADE}", addr.port());
    let refused = tungstenite::client(url.as_str(), connect(&handle, addr));
    assert!(refused.is_err(), "handshake on a refused connection fails");
    handle.refuse_connections(false);
    let (mut ws, _) = tungstenite::client(url.as_str(), connect(&handle, addr)).expect("accepted");
    next_text(&mut ws);
    handle.stop().expect("clean stop");
}

#[test]
fn client_that_cannot_keep_up_is_disconnected_and_counted_without_blocking_the_replay() {
    let mut cfg = config(Market::Spot, Speed::Times(1000.0), false);
    cfg.client_queue_frames = 4;
    let handle = start(cfg);
    let streams = format!("/stream?streams={DEPTH}/btcusdt@bookTicker/{TRADE}");
    // Never read: the socket buffers fill, then the client's queue does.
    let _stuck = ws_connect(&handle, Market::Spot, &streams);
    let deadline = std::time::Instant::now() + TIMEOUT * 3;
    while !(handle.replay_finished(Market::Spot) && handle.slow_clients_dropped() > 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "slow client dropped and replay done"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(handle.slow_clients_dropped(), 1);
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
