//! `kestrel run` with a `[binance]` section instead of `[replay]`: the engine connects to
//! the simulator over TLS, syncs the configured symbol's book, exports the feed's health
//! on /metrics, journals the raw frames, and stops cleanly on SIGTERM.

use std::io::Read;
use std::time::{Duration, Instant};

mod cli_support;
mod simex_support;

use cli_support::{get_metrics, metric_value, simex_run_config, start, stop_cleanly};
use kestrel::sim::Speed;

#[test]
fn run_with_a_binance_section_syncs_the_book_from_the_simulator() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (handle, port, cert) = simex_support::start_spot_tls(Speed::Times(20.0), dir.path());

    let config = simex_run_config(dir.path(), port, &cert, "");

    let (mut child, addr, mut stderr, _) = start(&config);
    let valid = "book_valid{source=\"binance-spot\",symbol=\"BTCUSDT\"}";
    let books = "market_data_events_total{source=\"binance-spot\",type=\"book\"}";
    // Generous: only there so a broken feed fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(60);
    let exposition = loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            panic!(
                "the book never became valid: {rest}\n{}",
                get_metrics(&addr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        let exposition = get_metrics(&addr);
        if metric_value(&exposition, valid) == Some(1.0)
            && metric_value(&exposition, books).unwrap_or(0.0) > 10.0
        {
            break exposition;
        }
    };
    assert!(
        metric_value(&exposition, "kestrel_journal_frames_total").unwrap_or(0.0) > 0.0,
        "raw frames are captured: {exposition}"
    );
    assert!(exposition.contains("ws_disconnects_total{source=\"binance-spot\"} 0"));

    stop_cleanly(child, stderr, dir.path());
    handle.stop().expect("simex stops cleanly");
}
