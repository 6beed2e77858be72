//! Shared by the tests that run the `kestrel` binary: start `kestrel run` and read the
//! metrics address it announces, scrape /metrics, wait for the exit, verify the journal.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");
pub const JOURNAL_TOOL: &str = env!("CARGO_BIN_EXE_kestrel-journal");

/// Starts `kestrel run`; returns it, the metrics address it announced, its stderr and the
/// start-up lines printed before the address.
pub fn start(config: &Path) -> (Child, String, BufReader<std::process::ChildStderr>, String) {
    start_with_env(config, &[])
}

/// [`start`] with extra environment variables.
pub fn start_with_env(
    config: &Path,
    env: &[(&str, &str)],
) -> (Child, String, BufReader<std::process::ChildStderr>, String) {
    let mut child = Command::new(KESTREL)
        .args(["run", "--config"])
        .arg(config)
        .envs(env.iter().copied())
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

pub fn get_metrics(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: kestrel\r\nConnection: close\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

pub fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
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

pub fn verify(dir: &Path) -> String {
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

/// Writes a `kestrel run` config for the simulator on `port` over TLS (trusting `cert`):
/// the example's sections before `[replay]`, a `[binance]` spot BTCUSDT feed, then `extra`
/// (e.g. an `[orders]` section); journal under `dir/journal`, metrics on an ephemeral port.
pub fn simex_run_config(dir: &Path, port: u16, cert: &Path, extra: &str) -> std::path::PathBuf {
    let example = kestrel::config::EXAMPLE;
    let replay_start = example.find("[replay]").expect("example has [replay]");
    let text = format!(
        "{}\n[binance]\nmarket = \"spot\"\nsymbols = [\"BTCUSDT\"]\n\
         ws_urls = [\"wss://localhost:{port}\"]\nrest_base_url = \"https://localhost:{port}\"\n\
         trusted_cert = {cert:?}\n[binance.ws]\nuse_webpki_roots = false\nbackoff_base_ms = 20\n\
         {extra}",
        &example[..replay_start]
    )
    .replace(
        "dir = \"out/journal\"",
        &format!("dir = {:?}", dir.join("journal")),
    )
    .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
    .replace("listen = \"127.0.0.1:9465\"", "listen = \"127.0.0.1:0\"");
    let config = dir.join("kestrel.toml");
    std::fs::write(&config, text).expect("write config");
    config
}

/// SIGTERMs `child`, expects a clean exit (stderr in the message otherwise) and a journal
/// under `dir/journal` that verifies.
pub fn stop_cleanly(
    mut child: Child,
    mut stderr: BufReader<std::process::ChildStderr>,
    dir: &Path,
) {
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill failed");
    let status = wait_exit(&mut child);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    assert!(status.success(), "kestrel exited with {status}: {rest}");
    verify(&dir.join("journal"));
}
