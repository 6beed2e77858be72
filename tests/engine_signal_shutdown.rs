//! `kestrel run` serves /metrics while it runs and, on SIGTERM or SIGINT, stops intake,
//! drains its rings, closes the journal and exits 0; the journal then verifies and a
//! restart continues its sequence in a new session.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");
const JOURNAL_TOOL: &str = env!("CARGO_BIN_EXE_kestrel-journal");

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

/// Starts `kestrel run`; returns it, the metrics address it announced, its stderr and the
/// start-up lines printed before the address.
fn start(config: &Path) -> (Child, String, BufReader<std::process::ChildStderr>, String) {
    let mut child = Command::new(KESTREL)
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kestrel");
    let Some(pipe) = child.stderr.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("kestrel's stderr was not piped");
    };
    let mut stderr = BufReader::new(pipe);
    let mut line = String::new();
    let mut preamble = String::new();
    loop {
        line.clear();
        if !matches!(stderr.read_line(&mut line), Ok(n) if n > 0) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kestrel exited before announcing its metrics address: {preamble}");
        }
        if let Some(rest) = line.trim().strip_prefix("kestrel: metrics on http://") {
            let addr = rest.trim_end_matches("/metrics").to_owned();
            return (child, addr, stderr, preamble);
        }
        preamble.push_str(&line);
    }
}

fn get_metrics(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: kestrel\r\nConnection: close\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    // A generous bound only so a hung engine fails the test instead of hanging CI.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "kestrel did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn verify(dir: &Path) -> String {
    let out = Command::new(JOURNAL_TOOL)
        .arg("verify")
        .arg(dir)
        .output()
        .expect("run kestrel-journal verify");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "journal verify failed: {text}");
    text
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
