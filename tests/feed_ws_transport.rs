//! The WebSocket feed against a test-owned local server (std threads running
//! `tungstenite::accept` over plain TCP and over rustls with an rcgen self-signed cert):
//! handshakes, frames, pings, closes, stale streams, backoff and rotation.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kestrel::core::clock::mono_ns;
use kestrel::feed::ws::{
    DisconnectReason, FrameKind, FrameMeta, ReconnectBackoff, WsEndpoint, WsEvent, WsFeed,
    WsFeedConfig,
};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

mod ws_client_support;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::{Message, WebSocket};
use ws_client_support::open_connection;

const MS: u64 = 1_000_000;

/// The server side's byte stream: plain TCP or rustls over TCP.
enum ServerStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.write(buf),
            ServerStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ServerStream::Plain(s) => s.flush(),
            ServerStream::Tls(s) => s.flush(),
        }
    }
}

type ServerWs = WebSocket<ServerStream>;

/// What a test server records: request paths and text messages received.
#[derive(Default)]
struct Record {
    paths: Mutex<Vec<String>>,
    received: Mutex<Vec<String>>,
    accepted: AtomicUsize,
}

/// Runs `handler(connection_index, ws, record)` on a thread per accepted connection.
fn serve<H>(listener: TcpListener, tls: Option<Arc<ServerConfig>>, handler: H) -> Arc<Record>
where
    H: Fn(usize, &mut ServerWs, &Record) + Send + Sync + 'static,
{
    let record = Arc::new(Record::default());
    let handler = Arc::new(handler);
    let rec = Arc::clone(&record);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let index = rec.accepted.fetch_add(1, Ordering::SeqCst);
            let (rec, handler, tls) = (Arc::clone(&rec), Arc::clone(&handler), tls.clone());
            thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("test socket option");
                stream.set_nodelay(true).expect("test socket option");
                let stream = match tls {
                    None => ServerStream::Plain(stream),
                    Some(config) => {
                        let conn = ServerConnection::new(config).expect("test tls server");
                        ServerStream::Tls(Box::new(StreamOwned::new(conn, stream)))
                    }
                };
                let mut path = String::new();
                // The Err type is fixed by tungstenite's `Callback` trait.
                #[allow(clippy::result_large_err)]
                let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                    path = req.uri().to_string();
                    Ok(resp)
                };
                let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) else {
                    return;
                };
                rec.paths.lock().expect("test lock").push(path);
                handler(index, &mut ws, &rec);
            });
        }
    });
    record
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().expect("bound address");
    (l, addr)
}

/// Reads until the client goes away or the read times out, recording text messages.
fn read_until_gone(ws: &mut ServerWs, rec: &Record) {
    while let Ok(msg) = ws.read() {
        if let Message::Text(t) = msg {
            rec.received.lock().expect("test lock").push(t.to_string());
        }
    }
}

fn test_config() -> WsFeedConfig {
    WsFeedConfig {
        backoff_base_ms: 10,
        backoff_cap_ms: 100,
        backoff_reset_after_stable_ms: 60_000,
        connect_timeout_ms: 5_000,
        use_webpki_roots: false,
        ..WsFeedConfig::default()
    }
}

fn plain_feed(config: WsFeedConfig, addr: SocketAddr, streams: &[&str]) -> WsFeed {
    let url = format!("ws://127.0.0.1:{}/stream", addr.port());
    let endpoint = WsEndpoint::with_addr(&url, addr).expect("valid test url");
    WsFeed::with_endpoints(config, vec![endpoint], streams).expect("feed builds")
}

/// What the client saw.
#[derive(Default)]
struct Seen {
    frames: Vec<(FrameMeta, Vec<u8>)>,
    events: Vec<WsEvent>,
}

impl Seen {
    fn texts(&self) -> Vec<String> {
        self.frames
            .iter()
            .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

/// Polls the feed (as a runner would, with `mono_ns()` as now) until `done` or the deadline.
fn run_until(feed: &mut WsFeed, seen: &mut Seen, limit: Duration, done: impl Fn(&Seen) -> bool) {
    let start = Instant::now();
    while !done(seen) {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}; events: {:?}; last error: {:?}",
            seen.events,
            feed.last_error(0)
        );
        let frames = &mut seen.frames;
        feed.poll(mono_ns(), |meta, payload| {
            frames.push((*meta, payload.to_vec()))
        })
        .expect("mio poll works");
        seen.events.extend(feed.drain_events());
        thread::sleep(Duration::from_micros(500));
    }
}

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn ws_handshake_delivers_text_and_binary_frames_in_order_with_receive_stamps() {
    let (l, addr) = listener();
    let rec = serve(l, None, |_, ws, rec| {
        for i in 0..3 {
            ws.send(Message::text(format!("{{\"u\":{i}}}")))
                .expect("server send");
        }
        ws.send(Message::binary(vec![1u8, 2, 3]))
            .expect("server send");
        read_until_gone(ws, rec);
    });
    let mut feed = plain_feed(test_config(), addr, &["BTCUSDT@trade", "ethusdt@trade"]);
    let mut seen = Seen::default();
    let before = mono_ns();
    run_until(&mut feed, &mut seen, WAIT, |s| s.frames.len() >= 4);
    assert_eq!(&seen.texts()[..3], ["{\"u\":0}", "{\"u\":1}", "{\"u\":2}"]);
    assert_eq!(seen.frames[3].1, vec![1, 2, 3]);
    assert_eq!(seen.frames[3].0.kind, FrameKind::Binary);
    assert_eq!(seen.frames[0].0.kind, FrameKind::Text);
    let seqs: Vec<u64> = seen.frames.iter().map(|(m, _)| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(seen
        .frames
        .windows(2)
        .all(|w| w[0].0.recv_ns <= w[1].0.recv_ns));
    assert!(seen.frames[0].0.recv_ns >= before);
    assert_eq!(
        rec.paths.lock().expect("test lock").as_slice(),
        ["/stream?streams=btcusdt@trade/ethusdt@trade"]
    );
    assert!(feed.is_open(0));
    let c = feed.counters();
    assert_eq!((c.connects, c.frames, c.connect_attempts), (1, 4, 1));
    assert!(seen
        .events
        .iter()
        .any(|e| matches!(e, WsEvent::Connected { slot: 0, .. })));
}

#[test]
fn wss_with_self_signed_localhost_cert_completes_handshake_and_delivers_frames() {
    let tls = kestrel::sim::Tls::self_signed().expect("self-signed cert for localhost");
    let dir = tempfile::tempdir().expect("temp dir");
    let pem = dir.path().join("sim.pem");
    std::fs::write(&pem, &tls.cert_pem).expect("write pem");

    let (l, addr) = listener();
    serve(l, Some(tls.config), |_, ws, rec| {
        for i in 0..5 {
            ws.send(Message::text(format!("tls-{i}")))
                .expect("server send");
        }
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        extra_trusted_certs: vec![pem],
        ..test_config()
    };
    // The certificate names `localhost`: SNI and Host come from the URL, the address is given.
    let url = format!("wss://localhost:{}/stream", addr.port());
    let endpoint = WsEndpoint::with_addr(&url, addr).expect("valid test url");
    let mut feed = WsFeed::with_endpoints(config, vec![endpoint], &["btcusdt@bookTicker"])
        .expect("feed builds");
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| s.frames.len() >= 5);
    assert_eq!(seen.texts(), ["tls-0", "tls-1", "tls-2", "tls-3", "tls-4"]);
}

#[test]
fn server_ping_is_answered_with_a_pong_echoing_its_payload() {
    let (l, addr) = listener();
    serve(l, None, |_, ws, _| {
        ws.send(Message::Ping(b"kestrel-ping".to_vec().into()))
            .expect("server ping");
        loop {
            match ws.read() {
                Ok(Message::Pong(p)) => {
                    let reply = format!("pong:{}", String::from_utf8_lossy(&p));
                    ws.send(Message::text(reply)).expect("server send");
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let mut feed = plain_feed(test_config(), addr, &["btcusdt@trade"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| !s.frames.is_empty());
    assert_eq!(seen.texts(), ["pong:kestrel-ping"]);
    assert_eq!(feed.counters().pings, 1);
}

#[test]
fn server_close_triggers_a_scheduled_reconnect_and_frames_resume() {
    let (l, addr) = listener();
    let rec = serve(l, None, |index, ws, rec| {
        ws.send(Message::text(format!("conn{index}")))
            .expect("server send");
        if index == 0 {
            ws.close(None).expect("server close");
            // Finish the closing handshake (reads the client's reply) before dropping.
            while ws.read().is_ok() {}
            return;
        }
        read_until_gone(ws, rec);
    });
    let mut feed = plain_feed(test_config(), addr, &["btcusdt@trade"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| s.frames.len() >= 2);
    assert_eq!(seen.texts(), ["conn0", "conn1"]);
    assert_ne!(seen.frames[0].0.conn_id, seen.frames[1].0.conn_id);
    assert!(seen.events.iter().any(|e| matches!(
        e,
        WsEvent::Disconnected {
            reason: DisconnectReason::ServerClosed,
            was_open: true,
            ..
        }
    )));
    assert!(seen
        .events
        .iter()
        .any(|e| matches!(e, WsEvent::ReconnectScheduled { attempt: 0, .. })));
    assert_eq!(rec.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(feed.counters().disconnects, 1);
}

#[test]
fn frame_written_in_several_tcp_writes_is_received_whole() {
    let payload: String = (0..3000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let expected = payload.clone();
    let (l, addr) = listener();
    serve(l, None, move |_, ws, rec| {
        // An unmasked server text frame with a 16-bit length, written in five pieces.
        let mut frame = vec![0x81u8, 126];
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        frame.extend_from_slice(payload.as_bytes());
        let cuts = [0, 1, 3, 700, 2000, frame.len()];
        for w in cuts.windows(2) {
            let stream = ws.get_mut();
            stream.write_all(&frame[w[0]..w[1]]).expect("raw write");
            stream.flush().expect("raw flush");
            thread::sleep(Duration::from_millis(15));
        }
        read_until_gone(ws, rec);
    });
    let mut feed = plain_feed(test_config(), addr, &["btcusdt@depth"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| !s.frames.is_empty());
    assert_eq!(seen.frames.len(), 1);
    assert_eq!(seen.texts()[0], expected);
    assert_eq!(feed.counters().bytes, 3000);
}

#[test]
fn stale_stream_is_reported_and_replaced_by_a_new_connection() {
    let (l, addr) = listener();
    let rec = serve(l, None, |index, ws, rec| {
        ws.send(Message::text(format!("hello{index}")))
            .expect("server send");
        // Then silence, holding the connection open.
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        stale_timeout_ms: 200,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| s.frames.len() >= 2);
    assert_eq!(seen.texts(), ["hello0", "hello1"]);
    let stale = seen
        .events
        .iter()
        .find_map(|e| match e {
            WsEvent::StaleTimeout { silent_ns, .. } => Some(*silent_ns),
            _ => None,
        })
        .expect("a stale event");
    assert!(stale >= 200 * MS);
    assert!(seen.events.iter().any(|e| matches!(
        e,
        WsEvent::Disconnected {
            reason: DisconnectReason::Stale,
            ..
        }
    )));
    assert!(feed.counters().stale_timeouts >= 1);
    assert!(rec.accepted.load(Ordering::SeqCst) >= 2);
}

#[test]
fn runtime_subscribe_unsubscribe_and_send_text_reach_the_server() {
    let (l, addr) = listener();
    let rec = serve(l, None, |_, ws, rec| {
        ws.send(Message::text("ready")).expect("server send");
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        min_control_interval_ms: 20,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade", "ethusdt@trade"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| !s.frames.is_empty());
    feed.unsubscribe(&["ETHUSDT@trade"]);
    feed.subscribe(&["XRPUSDT@trade", "btcusdt@trade"]);
    assert_eq!(feed.streams(0), ["btcusdt@trade", "xrpusdt@trade"]);
    let list = r#"{"method":"LIST_SUBSCRIPTIONS","id":99}"#;
    assert!(feed.send_text(7, list.to_owned()).is_err(), "no such slot");
    let got = || rec.received.lock().expect("test lock").len();
    let start = Instant::now();
    while got() < 2 {
        assert!(start.elapsed() < WAIT, "control messages not received");
        feed.poll(mono_ns(), |_, _| {}).expect("mio poll works");
        thread::sleep(Duration::from_millis(1));
    }
    let received = rec.received.lock().expect("test lock").clone();
    assert_eq!(
        received,
        [
            r#"{"method":"UNSUBSCRIBE","params":["ethusdt@trade"],"id":1}"#,
            r#"{"method":"SUBSCRIBE","params":["xrpusdt@trade"],"id":2}"#,
        ]
    );
    assert_eq!(feed.counters().control_sent, 2);
    feed.send_text(0, list.to_owned()).expect("slot 0 is open");
    while got() < 3 {
        assert!(start.elapsed() < WAIT, "free-form message not received");
        feed.poll(mono_ns(), |_, _| {}).expect("mio poll works");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rec.received.lock().expect("test lock")[2], list);
}

#[test]
fn refused_connects_back_off_exponentially_with_jitter_to_the_cap_and_reset_after_stable() {
    // A port with nothing listening: every connect is refused.
    let (l, addr) = listener();
    drop(l);
    let (base_ms, cap_ms) = (5, 80);
    let config = WsFeedConfig {
        backoff_base_ms: base_ms,
        backoff_cap_ms: cap_ms,
        backoff_reset_after_stable_ms: 150,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade"]);
    let mut seen = Seen::default();
    let scheduled = |s: &Seen| {
        s.events
            .iter()
            .filter_map(|e| match e {
                WsEvent::ReconnectScheduled {
                    attempt,
                    delay_ns,
                    at_ns,
                    ..
                } => Some((*attempt, *delay_ns, *at_ns)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let attempts_at = |s: &Seen| {
        s.events
            .iter()
            .filter_map(|e| match e {
                WsEvent::ConnectAttempt { at_ns, .. } => Some(*at_ns),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    run_until(&mut feed, &mut seen, WAIT, |s| scheduled(s).len() >= 10);
    let sched = scheduled(&seen);
    let attempts = attempts_at(&seen);
    for (k, &(attempt, delay_ns, at_ns)) in sched.iter().enumerate() {
        // Consecutive failures raise the exponent by one each time…
        assert_eq!(attempt as usize, k, "exponent of failure {k}");
        // …and every delay lies in [0, min(cap, base·2^attempt)] (full jitter).
        let ceiling = ReconnectBackoff::ceiling_for(base_ms * MS, cap_ms * MS, attempt);
        assert!(delay_ns <= ceiling, "failure {k}: {delay_ns} > {ceiling}");
        // The next attempt never starts before its scheduled time.
        if let Some(&next) = attempts.get(k + 1) {
            assert!(next >= at_ns, "attempt {} started early", k + 1);
        }
    }
    // Observed gaps between attempts are at least the drawn delays (ordering, not timing).
    for (k, w) in attempts.windows(2).enumerate() {
        assert!(w[1] - w[0] >= sched[k].1, "gap {k} shorter than its delay");
    }
    let delays: Vec<u64> = sched.iter().map(|s| s.1).collect();
    assert!(
        delays.iter().any(|&d| d > 2 * base_ms * MS),
        "delays never grew past the first ceilings: {delays:?}"
    );
    assert!(
        delays.iter().collect::<BTreeSet<_>>().len() > 1,
        "no jitter: {delays:?}"
    );
    assert_eq!(
        ReconnectBackoff::ceiling_for(base_ms * MS, cap_ms * MS, sched[9].0),
        cap_ms * MS,
        "the ceiling reached the cap"
    );
    assert_eq!(feed.counters().connects, 0);

    // Now a server appears on that port, holds the connection past the stability period and
    // closes it: the next reconnect starts from the base again.
    let l = TcpListener::bind(addr).expect("rebind the test port");
    serve(l, None, |index, ws, rec| {
        ws.send(Message::text(format!("up{index}")))
            .expect("server send");
        if index == 0 {
            thread::sleep(Duration::from_millis(400));
            let _ = ws.close(None);
            while ws.read().is_ok() {}
            return;
        }
        read_until_gone(ws, rec);
    });
    let before = seen.events.len();
    run_until(&mut feed, &mut seen, WAIT, |s| {
        s.texts().iter().any(|t| t == "up1")
    });
    let later = &seen.events[before..];
    let reset_at = later
        .iter()
        .position(|e| matches!(e, WsEvent::BackoffReset { .. }))
        .expect("backoff reset after a stable connection");
    let after_reset = later[reset_at..]
        .iter()
        .find_map(|e| match e {
            WsEvent::ReconnectScheduled {
                attempt, delay_ns, ..
            } => Some((*attempt, *delay_ns)),
            _ => None,
        })
        .expect("a reconnect after the server closed");
    assert_eq!(after_reset.0, 0);
    assert!(after_reset.1 <= base_ms * MS);
}

#[test]
fn rotation_opens_a_second_connection_and_switches_without_missing_frames() {
    // A ticker the server streams to every connection: each connection sends every tick from
    // its accept time on, so overlapping connections carry the same update ids.
    let tick = Arc::new(AtomicU64::new(0));
    let ticker = Arc::clone(&tick);
    thread::spawn(move || {
        for _ in 0..20_000 {
            thread::sleep(Duration::from_millis(2));
            ticker.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (l, addr) = listener();
    let server_tick = Arc::clone(&tick);
    let rec = serve(l, None, move |_, ws, _| {
        let mut next = server_tick.load(Ordering::SeqCst);
        loop {
            let now = server_tick.load(Ordering::SeqCst);
            while next <= now {
                if ws.send(Message::text(format!("{{\"u\":{next}}}"))).is_err() {
                    return;
                }
                next += 1;
            }
            thread::sleep(Duration::from_millis(1));
        }
    });
    let config = WsFeedConfig {
        rotate_after_ms: 300,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@depth@100ms"]);
    let mut seen = Seen::default();
    let rotated = |s: &Seen| {
        s.events
            .iter()
            .position(|e| matches!(e, WsEvent::RotationCompleted { .. }))
    };
    run_until(&mut feed, &mut seen, WAIT, |s| rotated(s).is_some());
    // Keep reading a little after the switch.
    let frames_at_switch = seen.frames.len();
    run_until(&mut feed, &mut seen, WAIT, |s| {
        s.frames.len() >= frames_at_switch + 30
    });

    let Some(WsEvent::RotationCompleted {
        old_conn, new_conn, ..
    }) = rotated(&seen).map(|i| seen.events[i])
    else {
        panic!("rotation event expected");
    };
    assert!(seen.events.iter().any(|e| matches!(
        e,
        WsEvent::RotationStarted { old_conn: o, new_conn: n, .. } if *o == old_conn && *n == new_conn
    )));
    assert!(seen.events.iter().any(|e| matches!(
        e,
        WsEvent::Disconnected { conn_id, reason: DisconnectReason::Rotated, .. } if *conn_id == old_conn
    )));
    assert!(rec.accepted.load(Ordering::SeqCst) >= 2);
    assert!(feed.counters().rotations >= 1);
    // The caller's de-duplication by update id leaves a gap-free sequence across the switch.
    let ids: Vec<(u64, u64)> = seen
        .frames
        .iter()
        .map(|(m, p)| {
            let text = String::from_utf8_lossy(p);
            let u = text
                .trim_start_matches("{\"u\":")
                .trim_end_matches('}')
                .parse::<u64>()
                .expect("server payload");
            (m.conn_id, u)
        })
        .collect();
    let unique: BTreeSet<u64> = ids.iter().map(|&(_, u)| u).collect();
    let (first, last) = (
        *unique.first().expect("frames"),
        *unique.last().expect("frames"),
    );
    assert_eq!(
        unique.len() as u64,
        last - first + 1,
        "gap in update ids across the rotation"
    );
    assert!(ids.iter().any(|&(c, _)| c == old_conn));
    assert!(ids.iter().any(|&(c, _)| c == new_conn));
}

#[test]
fn requested_rotation_switches_even_when_age_rotation_is_disabled() {
    let (l, addr) = listener();
    serve(l, None, |index, ws, _| {
        for i in 0..2_000 {
            if ws.send(Message::text(format!("c{index}-{i}"))).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(3));
        }
    });
    let config = WsFeedConfig {
        rotate_after_ms: 0,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade"]);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| !s.frames.is_empty());
    let first = feed.active_conn(0).expect("an active connection");
    feed.request_rotation(0);
    run_until(&mut feed, &mut seen, WAIT, |s| {
        s.events
            .iter()
            .any(|e| matches!(e, WsEvent::RotationCompleted { .. }))
    });
    let now_active = feed.active_conn(0).expect("an active connection");
    assert_ne!(first, now_active);
    assert!(seen
        .events
        .iter()
        .any(|e| matches!(e, WsEvent::RotationStarted { old_conn, .. } if *old_conn == first)));
}

#[test]
fn feed_can_move_to_the_feed_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<WsFeed>();
}

#[test]
fn stale_detection_follows_the_callers_clock_not_the_wall_clock() {
    let (l, addr) = listener();
    serve(l, None, |_, ws, rec| {
        ws.send(Message::text("only")).expect("server send");
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        stale_timeout_ms: 1_000,
        connect_timeout_ms: 3_600_000,
        server_ping_interval_ms: 0,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade"]);
    // A fake clock: every poll is 100 ms later, however fast the loop really runs.
    let step_ns = 100 * MS;
    let mut fake_now = 0u64;
    let mut frame_at = None;
    let start = Instant::now();
    let stale = loop {
        assert!(start.elapsed() < WAIT, "no stale event");
        fake_now += step_ns;
        let mut got_frame = false;
        feed.poll(fake_now, |_, _| got_frame = true)
            .expect("mio poll works");
        if got_frame {
            frame_at.get_or_insert(fake_now);
        }
        let stale = feed.drain_events().find_map(|e| match e {
            WsEvent::StaleTimeout { silent_ns, .. } => Some(silent_ns),
            _ => None,
        });
        if let Some(silent_ns) = stale {
            break (silent_ns, fake_now);
        }
        thread::sleep(Duration::from_micros(200));
    };
    let frame_at = frame_at.expect("the frame arrived before the stale event");
    // Exactly ten fake steps after the last frame, whatever the real elapsed time was.
    assert_eq!(stale.0, 1_000 * MS);
    assert_eq!(stale.1 - frame_at, 1_000 * MS);
}

#[test]
fn connection_attempts_respect_the_per_window_budget() {
    let (l, addr) = listener();
    drop(l);
    let config = WsFeedConfig {
        backoff_base_ms: 1,
        backoff_cap_ms: 2,
        max_attempts_per_window: 3,
        attempt_window_ms: 600_000,
        ..test_config()
    };
    let mut feed = plain_feed(config, addr, &["btcusdt@trade"]);
    let start = Instant::now();
    while feed.counters().attempts_deferred == 0 {
        assert!(start.elapsed() < WAIT, "budget never deferred an attempt");
        feed.poll(mono_ns(), |_, _| {}).expect("mio poll works");
        thread::sleep(Duration::from_micros(500));
    }
    assert_eq!(feed.counters().connect_attempts, 3);
    // Keep polling: no fourth attempt inside the window.
    for _ in 0..50 {
        feed.poll(mono_ns(), |_, _| {}).expect("mio poll works");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(feed.counters().connect_attempts, 3);
}

#[test]
fn streams_beyond_the_per_connection_limit_open_more_connections() {
    let (l, addr) = listener();
    let rec = serve(l, None, |_, ws, rec| {
        ws.send(Message::text("hi")).expect("server send");
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        max_streams_per_connection: 2,
        ..test_config()
    };
    let streams = ["a@trade", "B@trade", "c@trade", "d@trade", "e@trade"];
    let mut feed = plain_feed(config, addr, &streams);
    assert_eq!(feed.slot_count(), 3);
    let mut seen = Seen::default();
    run_until(&mut feed, &mut seen, WAIT, |s| s.frames.len() >= 3);
    let slots: BTreeSet<u16> = seen.frames.iter().map(|(m, _)| m.slot).collect();
    assert_eq!(slots, BTreeSet::from([0, 1, 2]));
    let paths: BTreeSet<String> = rec
        .paths
        .lock()
        .expect("test lock")
        .iter()
        .cloned()
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/stream?streams=a@trade/b@trade".to_owned(),
            "/stream?streams=c@trade/d@trade".to_owned(),
            "/stream?streams=e@trade".to_owned(),
        ])
    );
    // A runtime subscription fills the slot with room before opening another.
    feed.subscribe(&["f@trade", "g@trade"]);
    assert_eq!(feed.streams(2), ["e@trade", "f@trade"]);
    assert_eq!(feed.slot_count(), 4);
    assert_eq!(feed.streams(3), ["g@trade"]);
}

/// Sends direct frames (`send_text_now`) to a server that does not read until the client's
/// socket is full, so part of a frame stays queued; then the server reads everything while
/// the client keeps flushing and sending. Every message arrives whole and in order.
fn direct_frames_survive_a_full_socket(tls: bool) {
    let server_tls = kestrel::sim::Tls::self_signed().expect("self-signed cert for localhost");
    let (l, addr) = listener();
    let release = Arc::new(AtomicUsize::new(0));
    let gate = Arc::clone(&release);
    let rec = serve(
        l,
        tls.then(|| server_tls.config.clone()),
        move |_, ws, rec| {
            while gate.load(Ordering::SeqCst) == 0 {
                thread::sleep(Duration::from_millis(5));
            }
            read_until_gone(ws, rec);
        },
    );
    let (_poll, mut conn) = open_connection(addr, tls.then_some(server_tls.cert_der.as_slice()));
    let deadline = Instant::now() + WAIT;
    assert_eq!(
        conn.warms_encryption(),
        tls,
        "the negotiated suite has a warm-up key"
    );
    // The warm-up sends nothing: the server's first message is the first one sent below.
    let mut scratch = Vec::new();
    conn.warm_send_path("{\"warm\":true}", &mut scratch);

    let mut sent = Vec::new();
    let body = "x".repeat(60_000);
    // Fill the socket: the server is not reading yet.
    while !conn.write_pending() {
        assert!(sent.len() < 2_000, "the socket buffer filled up");
        let text = format!("{}:{body}", sent.len());
        let stamp = conn.send_text_now(&text, &mut scratch).expect("send");
        assert!(stamp > 0);
        sent.push(text);
    }
    // Queued behind the unsent tail: these must not jump ahead of it.
    for _ in 0..3 {
        let text = format!("{}:short", sent.len());
        conn.send_text_now(&text, &mut scratch)
            .expect("send while congested");
        sent.push(text);
    }
    release.store(1, Ordering::SeqCst);
    while conn.write_pending() {
        assert!(Instant::now() < deadline, "the queue drained in time");
        conn.flush().expect("flush");
        thread::sleep(Duration::from_millis(1));
    }
    let text = format!("{}:last", sent.len());
    conn.send_text_now(&text, &mut scratch)
        .expect("send after draining");
    sent.push(text);
    while rec.received.lock().expect("test lock").len() < sent.len() {
        assert!(
            Instant::now() < deadline,
            "server received everything in time"
        );
        conn.flush().expect("flush");
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(*rec.received.lock().expect("test lock"), sent);
}

#[test]
fn direct_frames_stay_whole_and_ordered_when_the_socket_is_full_plain() {
    direct_frames_survive_a_full_socket(false);
}

#[test]
fn direct_frames_stay_whole_and_ordered_when_the_socket_is_full_tls() {
    direct_frames_survive_a_full_socket(true);
}

/// A server writes a burst of frames and then stays silent. With a budget of one frame per
/// poll the feed hands over one frame per poll and still delivers the whole burst, in order,
/// although the poller reports the socket ready only once (edge-triggered) and everything
/// after the first frame waits in tungstenite's, rustls' or the kernel's buffers.
fn a_silent_burst_arrives_one_frame_per_poll(tls: bool) {
    const BURST: usize = 40;
    let server_tls = kestrel::sim::Tls::self_signed().expect("self-signed cert for localhost");
    let dir = tempfile::tempdir().expect("temp dir");
    let pem = dir.path().join("sim.pem");
    std::fs::write(&pem, &server_tls.cert_pem).expect("write pem");
    let (l, addr) = listener();
    serve(l, tls.then(|| server_tls.config.clone()), |_, ws, rec| {
        for i in 0..BURST {
            ws.write(Message::text(format!("burst-{i}")))
                .expect("server queues");
        }
        ws.flush().expect("server sends the burst at once");
        read_until_gone(ws, rec);
    });
    let config = WsFeedConfig {
        extra_trusted_certs: vec![pem],
        frames_per_poll: 1,
        ..test_config()
    };
    let scheme = if tls { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}/stream", addr.port());
    let endpoint = WsEndpoint::with_addr(&url, addr).expect("valid test url");
    let mut feed =
        WsFeed::with_endpoints(config, vec![endpoint], &["btcusdt@trade"]).expect("feed builds");
    let mut texts = Vec::new();
    let mut most_in_one_poll = 0;
    let deadline = Instant::now() + WAIT;
    while texts.len() < BURST {
        assert!(
            Instant::now() < deadline,
            "only {} of {BURST} frames arrived",
            texts.len()
        );
        let delivered = feed
            .poll(mono_ns(), |_, payload| {
                texts.push(String::from_utf8_lossy(payload).into_owned())
            })
            .expect("mio poll works");
        most_in_one_poll = most_in_one_poll.max(delivered);
        thread::sleep(Duration::from_millis(1));
    }
    let expected: Vec<String> = (0..BURST).map(|i| format!("burst-{i}")).collect();
    assert_eq!(texts, expected);
    assert_eq!(most_in_one_poll, 1, "the budget is one frame per poll");
}

#[test]
fn a_silent_burst_arrives_one_frame_per_poll_plain() {
    a_silent_burst_arrives_one_frame_per_poll(false);
}

#[test]
fn a_silent_burst_arrives_one_frame_per_poll_tls() {
    a_silent_burst_arrives_one_frame_per_poll(true);
}
