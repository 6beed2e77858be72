//! `kestrel simex` takes the order-side fault flags: a throttled request gets 429 with
//! Retry-After and the order endpoints answer Binance's errors over plain HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

fn request(addr: &str, text: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect simex");
    stream.write_all(text.as_bytes()).expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

fn get(addr: &str, path: &str) -> String {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // The test owns this child; it may already have exited.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn simex_cli_order_side_flags_throttle_and_the_order_endpoints_answer() {
    let mut child = Command::new(KESTREL)
        .args([
            "simex",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "max",
            "--rate-limit",
            "1",
            "--retry-after-secs",
            "1",
            "--clock-skew-ms",
            "-250",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kestrel simex");
    let pipe = child.stderr.take().expect("stderr piped");
    let _guard = Killed(child);
    // Keep reading stderr's pipe open for the whole test: simex writes to it.
    let mut lines = BufReader::new(pipe).lines();
    let mut spot = String::new();
    let mut announced = 0;
    while announced < 2 {
        let line = lines
            .next()
            .expect("simex announces both markets")
            .expect("stderr line");
        if let Some(rest) = line.strip_prefix("simex: ") {
            announced += 1;
            if let Some(addr) = rest.strip_prefix("Spot at http://") {
                assert!(line.contains("/ws-api/v3"), "announces the WS API: {line}");
                spot = addr.split(' ').next().unwrap_or_default().to_owned();
            }
        }
    }
    assert!(!spot.is_empty(), "simex announced the spot market");
    let throttled = get(&spot, "/api/v3/time");
    assert!(throttled.starts_with("HTTP/1.1 429"), "{throttled}");
    assert!(throttled.contains("Retry-After: 1\r\n"), "{throttled}");
    std::thread::sleep(Duration::from_millis(1_100));
    let time = get(&spot, "/api/v3/time");
    assert!(
        time.starts_with("HTTP/1.1 200") && time.contains("X-MBX-USED-WEIGHT-1M: "),
        "{time}"
    );
    let body = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&timestamp=1&signature=00";
    let order = request(
        &spot,
        &format!(
            "POST /api/v3/order HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-MBX-APIKEY: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            kestrel::sim::DOCS_API_KEY,
            body.len()
        ),
    );
    assert!(
        order.starts_with("HTTP/1.1 400") && order.contains("\"code\":-1022"),
        "{order}"
    );
}
