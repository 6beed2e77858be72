//! `simex` fault injection observed by a blocking tungstenite client: dropped connections,
//! skipped update ids (a U/u gap), stalls, malformed and split frames, refused connections,
//! and slow clients. No timing thresholds: only generous timeouts.

mod simex_support;

use std::time::Duration;

use kestrel::sim::{Market, Speed};
use simex_support::*;
use tungstenite::Message;

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
    let time = || handle.replay_ms(Market::Spot).expect("spot is served");
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
