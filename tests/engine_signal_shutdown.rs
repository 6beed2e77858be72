//! `kestrel run` serves /metrics while it runs and, on SIGTERM or SIGINT, stops intake,
//! drains its rings, closes the journal and exits 0; the journal then verifies and a
//! restart continues its sequence in a new session.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

mod cli_support;
use cli_support::{get_metrics, metric_value, start, verify, wait_exit};

fn capture_path() -> String {
    format!(
        "{}/data/binance_spot_btcusdt_20240808.gz",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A config replaying the bundled capture at its recorded pace (minutes long), so the run
/// is still going when the test signals it.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let text = kestrel::config::EXAMPLE
        .replace(
            "dir = \"out/journal\"",
            &format!("dir = {:?}", dir.join("journal")),
        )
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
        .replace("as_fast_as_possible = true", "as_fast_as_possible = false")
        .replace(
            "path = \"data/binance_spot_btcusdt_20240808.gz\"",
            &format!("path = {:?}", capture_path()),
        );
    let path = dir.join("kestrel.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn signal_and_check(signal: i32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path());
    let (mut child, addr, mut stderr, preamble) = start(&config);
    assert!(
        preamble.contains("session 1"),
        "first run is session 1: {preamble}"
    );

    // Let frames flow, then look at the live exposition.
    let mut frames = 0.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while frames < 50.0 {
        assert!(Instant::now() < deadline, "no frames were journaled");
        std::thread::sleep(Duration::from_millis(100));
        let exposition = get_metrics(&addr);
        assert!(exposition.starts_with("HTTP/1.1 200"), "{exposition}");
        assert!(exposition.contains("kestrel_ring_depth{ring=\"journal\"}"));
        frames = metric_value(&exposition, "kestrel_journal_frames_total").unwrap_or(0.0);
    }

    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0, "kill failed");
    let status = wait_exit(&mut child);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    assert!(status.success(), "kestrel exited with {status}: {rest}");
    assert!(rest.contains("kestrel: done:"), "no summary: {rest}");

    let journal = dir.path().join("journal");
    let report = verify(&journal);
    assert!(
        !report.contains("torn"),
        "a clean stop leaves no torn tail: {report}"
    );

    // A restart recovers every record and starts a new session after the last one.
    let (mut again, _, mut stderr2, preamble) = start(&config);
    assert!(
        preamble.contains("session 2"),
        "restart is session 2: {preamble}"
    );
    assert!(
        !preamble.contains(" 0 records recovered"),
        "restart recovered the journal: {preamble}"
    );
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(again.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill failed");
    let status = wait_exit(&mut again);
    let mut text = String::new();
    stderr2.read_to_string(&mut text).expect("read stderr");
    assert!(status.success(), "restart exited with {status}: {text}");
    verify(&journal);
}

#[test]
fn sigterm_drains_closes_the_journal_and_exits_zero() {
    signal_and_check(libc::SIGTERM);
}

#[test]
fn sigint_drains_closes_the_journal_and_exits_zero() {
    signal_and_check(libc::SIGINT);
}
