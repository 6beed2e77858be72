//! Shared by the `simex_*` integration tests: the bundled data, a blocking tungstenite client
//! over plain TCP or TLS trusting the simulator's certificate, a tiny HTTP/1.1 GET, and the
//! capture's expected frames.
#![allow(dead_code)] // each test binary uses its own subset

pub mod orders;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kestrel::sim::{FaultPlan, Market, MarketReplay, Simex, SimexConfig, SimexHandle, Speed};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

pub const SPOT_CAPTURE: &str = "data/binance_spot_btcusdt_20240808.gz";
pub const USDM_CAPTURE: &str = "data/binance_usdm_btcusdt_20240808.gz";
pub const SPOT_INFO: &str = "data/binance_spot_exchange_info_btcusdt.json";
pub const USDM_INFO: &str = "data/binance_usdm_exchange_info_btcusdt.json";
pub const DEPTH: &str = "btcusdt@depth@100ms";
pub const TRADE: &str = "btcusdt@trade";
/// Generous: only there so a broken simulator fails instead of hanging.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The bundled exchangeInfo at `info_path`, read for `market`, and BTCUSDT as it lists it.
pub fn bundled_btcusdt(
    info_path: &str,
    market: kestrel::core::Market,
) -> (
    kestrel::oms::binance::exchange_info::ExchangeInfo,
    kestrel::core::Instrument,
) {
    let info = std::fs::read(path(info_path)).expect("bundled exchangeInfo");
    let info =
        kestrel::oms::binance::exchange_info::parse_exchange_info(&info, market).expect("parses");
    let instrument = info
        .instruments
        .iter()
        .find(|i| i.symbol == "BTCUSDT")
        .expect("listed")
        .clone();
    (info, instrument)
}

/// The simulator serving the bundled spot capture over TLS at `speed`, its port, and the
/// path of its certificate, written to `dir/simex.pem` for clients to trust.
pub fn start_spot_tls(speed: Speed, dir: &std::path::Path) -> (SimexHandle, u16, PathBuf) {
    let handle = start(config(Market::Spot, speed, true));
    let port = handle.addr(Market::Spot).expect("spot served").port();
    let cert = dir.join("simex.pem");
    std::fs::write(&cert, handle.cert_pem().expect("TLS on")).expect("write cert");
    (handle, port, cert)
}

pub fn config(market: Market, speed: Speed, tls: bool) -> SimexConfig {
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
        orders: kestrel::sim::OrderSideConfig::default(),
    }
}

pub fn start(config: SimexConfig) -> SimexHandle {
    Simex::start(config).expect("simex starts on the bundled data")
}

/// The capture's frames of `streams`, in order: (whole envelope, bare payload).
pub fn expected(capture: &str, streams: &[&str]) -> Vec<(String, String)> {
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

pub enum ClientStream {
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
pub fn connect(handle: &SimexHandle, addr: SocketAddr) -> ClientStream {
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

pub fn ws_connect(handle: &SimexHandle, market: Market, target: &str) -> WebSocket<ClientStream> {
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
pub fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match ws.read().expect("frame before the timeout") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Close(frame) => panic!("closed by simex: {frame:?}"),
            _ => {}
        }
    }
}

pub fn texts(ws: &mut WebSocket<ClientStream>, n: usize) -> Vec<String> {
    (0..n).map(|_| next_text(ws)).collect()
}

/// Asserts `got` is a contiguous run of `want` (a client starts at the replay position).
pub fn assert_contiguous(got: &[String], want: &[String]) {
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
pub fn get(handle: &SimexHandle, market: Market, target: &str) -> (u16, String) {
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

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("valid JSON")
}
