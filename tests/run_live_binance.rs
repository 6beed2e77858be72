//! `kestrel run` with a `[binance]` section instead of `[replay]`: the engine connects to
//! the simulator over TLS, syncs the configured symbol's book, exports the feed's health
//! on /metrics, journals the raw frames, and stops cleanly on SIGTERM.

use std::io::Read;
use std::time::{Duration, Instant};

mod cli_support;
mod simex_support;

use cli_support::{get_metrics, metric_value, start, verify, wait_exit};
use kestrel::sim::{Market, Speed};

#[test]
fn run_with_a_binance_section_syncs_the_book_from_the_simulator() {
    let handle = simex_support::start(simex_support::config(
        Market::Spot,
        Speed::Times(20.0),
        true,
    ));
    let port = handle.addr(Market::Spot).expect("spot served").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("simex.pem");
    std::fs::write(&cert, handle.cert_pem().expect("TLS on")).expect("write cert");

    let example = kestrel::config::EXAMPLE;
    let replay_start = example.find("[replay]").expect("example has [replay]");
    let text = format!(
        "{}\n[binance]\nmarket = \"spot\"\nsymbols = [\"BTCUSDT\"]\n\
         ws_urls = [\"wss://localhost:{port}\"]\nrest_base_url = \"https://localhost:{port}\"\n\
         trusted_cert = {cert:?}\n[binance.ws]\nuse_webpki_roots = false\nbackoff_base_ms = 20\n",
        &example[..replay_start]
    )
    .replace(
        "dir = \"out/journal\"",
        &format!("dir = {:?}", dir.path().join("journal")),
    )
    .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"");
    let config = dir.path().join("kestrel.toml");
    std::fs::write(&config, text).expect("write config");

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

    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill failed");
    let status = wait_exit(&mut child);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    assert!(status.success(), "kestrel exited with {status}: {rest}");
    verify(&dir.path().join("journal"));
    handle.stop().expect("simex stops cleanly");
}
