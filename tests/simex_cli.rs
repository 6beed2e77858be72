//! `kestrel simex` with the bundled data announces its endpoints, answers REST on them and
//! stops cleanly on SIGTERM; bad flags are refused with a message naming the flag.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect simex");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

#[test]
fn simex_serves_the_bundled_markets_and_stops_on_sigterm() {
    let mut child = Command::new(KESTREL)
        .args(["simex", "--listen", "127.0.0.1:0", "--speed", "10x"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kestrel simex");
    let Some(pipe) = child.stderr.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("stderr not piped");
    };
    let mut lines = BufReader::new(pipe).lines();
    let mut endpoints = Vec::new();
    while endpoints.len() < 2 {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("simex exited before announcing both markets: {endpoints:?}");
        };
        // "simex: Spot at http://127.0.0.1:PORT and ws://127.0.0.1:PORT"
        if let Some(rest) = line.strip_prefix("simex: ") {
            let market = rest.split(' ').next().unwrap_or_default().to_owned();
            let addr = rest
                .split("http://")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .unwrap_or_default()
                .to_owned();
            endpoints.push((market, addr));
        }
    }
    let spot = &endpoints
        .iter()
        .find(|(m, _)| m == "Spot")
        .expect("spot endpoint")
        .1;
    let futures = &endpoints
        .iter()
        .find(|(m, _)| m == "UsdmFutures")
        .expect("futures endpoint")
        .1;
    let time = http_get(spot, "/api/v3/time");
    assert!(
        time.starts_with("HTTP/1.1 200") && time.contains("\"serverTime\""),
        "{time}"
    );
    let info = http_get(futures, "/fapi/v1/exchangeInfo");
    assert!(info.contains("\"symbol\":\"BTCUSDT\""), "{info}");
    let depth = http_get(spot, "/api/v3/depth?symbol=BTCUSDT&limit=5");
    assert!(depth.contains("\"lastUpdateId\""), "{depth}");

    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("simex did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "simex exited with {status}");
}

#[test]
fn bad_simex_flags_are_refused_naming_the_flag() {
    for (flag, value) in [("--speed", "3"), ("--skip-update-ids", "9-1")] {
        let out = Command::new(KESTREL)
            .args(["simex", flag, value])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run kestrel simex");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{err}");
    }
}
