//! Owns: starting and stopping `simex`: one listener per market (REST and WebSocket upgrade
//! on the same port, the path decides), one replay thread per market, one thread per
//! connection, the periodic faults of the plan, and the control handle tests drive. Never:
//! formats payloads (`http`, `ws` and the recorded frames do) or outlives `stop`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use super::capture::CaptureLines;
use super::config::{FaultPlan, Market, SimexConfig, Speed};
use super::conn::{Conn, Rewind, Tls};
use super::faults::Faults;
use super::http::{self, HeadRead, Reply};
use super::replay::{prime, MarketState, Replay};
use super::ws::{self, PingPolicy, StreamContext};
use super::SimError;

/// How often idle loops look at the stop flag and the fault switches.
const IDLE_STEP: Duration = Duration::from_millis(5);
/// Socket read timeout while waiting for a request, so stop requests are seen.
const READ_STEP: Duration = Duration::from_millis(100);
/// A blocked write longer than this ends the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive REST connection is closed after this.
const HTTP_IDLE: Duration = Duration::from_secs(60);

/// Where one market is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketEndpoint {
    /// The market's protocol.
    pub market: Market,
    /// Bound address: `http(s)://addr/api/v3/…` and `ws(s)://addr/stream?streams=…`.
    pub addr: SocketAddr,
}

/// The local exchange simulator.
pub struct Simex;

/// A running simulator: its addresses, its certificate and its fault switches.
pub struct SimexHandle {
    endpoints: Vec<MarketEndpoint>,
    cert_der: Option<Vec<u8>>,
    cert_pem: Option<String>,
    faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
    states: Vec<Arc<MarketState>>,
    threads: Vec<(&'static str, JoinHandle<Result<(), SimError>>)>,
}

/// What a connection thread needs.
struct ConnContext {
    stream: StreamContext,
    tls: Option<Arc<ServerConfig>>,
}

impl Simex {
    /// Loads every market, binds its listener and starts replaying.
    pub fn start(config: SimexConfig) -> Result<SimexHandle, SimError> {
        if config.markets.is_empty() {
            return Err(SimError::Config("no market to serve".into()));
        }
        if let Speed::Times(times) = config.speed {
            if !(times.is_finite() && times > 0.0) {
                return Err(SimError::Config(format!("speed times {times} is not > 0")));
            }
        }
        let tls = if config.tls {
            Some(Tls::self_signed()?)
        } else {
            None
        };
        if let (Some(path), Some(tls)) = (&config.cert_out, &tls) {
            std::fs::write(path, &tls.cert_pem).map_err(|source| SimError::CertOut {
                path: path.clone(),
                source,
            })?;
        }
        let faults = Arc::new(Faults::from_plan(&config.faults));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handle = SimexHandle {
            endpoints: Vec::new(),
            cert_der: tls.as_ref().map(|t| t.cert_der.clone()),
            cert_pem: tls.as_ref().map(|t| t.cert_pem.clone()),
            faults: Arc::clone(&faults),
            stop: Arc::clone(&stop),
            states: Vec::new(),
            threads: Vec::new(),
        };
        for (index, replay) in config.markets.iter().enumerate() {
            let exchange_info =
                std::fs::read_to_string(&replay.exchange_info).map_err(|source| {
                    SimError::ExchangeInfo {
                        path: replay.exchange_info.clone(),
                        source,
                    }
                })?;
            let primed = prime(
                replay.market,
                CaptureLines::new(replay.capture.clone()),
                exchange_info,
            )?;
            let mut addr = config.listen;
            if addr.port() != 0 {
                let port = u16::try_from(usize::from(addr.port()) + index).map_err(|_| {
                    SimError::Config(format!("port {} + {index} is out of range", addr.port()))
                })?;
                addr.set_port(port);
            }
            let listen_error = |source| SimError::Listen {
                addr,
                market: replay.market,
                source,
            };
            let listener = TcpListener::bind(addr).map_err(listen_error)?;
            listener.set_nonblocking(true).map_err(listen_error)?;
            let bound = listener.local_addr().map_err(listen_error)?;
            let state = Arc::clone(&primed.state);
            let ping = PingPolicy {
                interval: config
                    .ping_interval_ms
                    .map_or(replay.market.default_ping_interval(), Duration::from_millis),
                pong_timeout: config
                    .pong_timeout_ms
                    .map_or(replay.market.default_pong_timeout(), Duration::from_millis),
            };
            let ctx = Arc::new(ConnContext {
                stream: StreamContext {
                    state: Arc::clone(&state),
                    faults: Arc::clone(&faults),
                    stop: Arc::clone(&stop),
                    ping,
                    queue_frames: config.client_queue_frames,
                },
                tls: tls.as_ref().map(|t| Arc::clone(&t.config)),
            });
            let runner = Replay::new(primed, config.speed, Arc::clone(&faults), Arc::clone(&stop));
            handle.spawn("replay", move || runner.run());
            handle.spawn("listener", move || accept_loop(&listener, &ctx));
            handle.endpoints.push(MarketEndpoint {
                market: replay.market,
                addr: bound,
            });
            handle.states.push(state);
        }
        if config.faults.drop_every_ms.is_some() || config.faults.stall.is_some() {
            let plan = config.faults.clone();
            let (faults, stop) = (Arc::clone(&faults), Arc::clone(&stop));
            handle.spawn("fault timer", move || {
                fault_timer(&plan, &faults, &stop);
                Ok(())
            });
        }
        Ok(handle)
    }
}

impl SimexHandle {
    fn spawn(
        &mut self,
        name: &'static str,
        body: impl FnOnce() -> Result<(), SimError> + Send + 'static,
    ) {
        self.threads.push((name, std::thread::spawn(body)));
    }

    /// Every market's bound address.
    pub fn endpoints(&self) -> &[MarketEndpoint] {
        &self.endpoints
    }

    /// The bound address of `market`, if it is served.
    pub fn addr(&self, market: Market) -> Option<SocketAddr> {
        self.endpoints
            .iter()
            .find(|e| e.market == market)
            .map(|e| e.addr)
    }

    /// The self-signed certificate (DER) clients must trust; `None` without TLS.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }

    /// The self-signed certificate (PEM); `None` without TLS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Closes every open connection at once, without a close handshake.
    pub fn drop_connections(&self) {
        self.faults.drop_connections();
    }

    /// Stops sending depth diffs whose `[U, u]` overlaps `range` (a sequence gap).
    pub fn skip_update_ids(&self, range: RangeInclusive<u64>) {
        self.faults.skip_update_ids(range);
    }

    /// Pauses the replay for `duration`; due frames then follow in a burst.
    pub fn stall(&self, duration: Duration) {
        self.faults.stall(duration);
    }

    /// Sends the next `frames` frames truncated (invalid JSON).
    pub fn send_malformed(&self, frames: u64) {
        self.faults.send_malformed(frames);
    }

    /// Writes each of the next `frames` frames in two TCP writes with a pause between.
    pub fn split_next_frames(&self, frames: u64) {
        self.faults.split_next_frames(frames);
    }

    /// While true, connections are accepted and closed at once.
    pub fn refuse_connections(&self, refuse: bool) {
        self.faults.refuse_connections(refuse);
    }

    /// Stream clients disconnected because their queue was full.
    pub fn slow_clients_dropped(&self) -> u64 {
        self.states
            .iter()
            .map(|s| s.slow_clients_dropped.load(Ordering::Acquire))
            .sum()
    }

    /// Capture lines of `market` that were neither frames nor snapshots (known once finished).
    pub fn skipped_capture_lines(&self, market: Market) -> u64 {
        self.states
            .iter()
            .filter(|s| s.market == market)
            .map(|s| s.skipped_lines.load(Ordering::Acquire))
            .sum()
    }

    /// Whether `market`'s replay reached the end of its captures.
    pub fn replay_finished(&self, market: Market) -> bool {
        self.states
            .iter()
            .any(|s| s.market == market && s.finished.load(Ordering::Acquire))
    }

    /// The exchange-side book of `symbol` as a `GET …/depth` body with every level.
    pub fn book_json(&self, market: Market, symbol: &str) -> Option<String> {
        let state = self.states.iter().find(|s| s.market == market)?;
        let books = state.books.lock().ok()?;
        let book = books.get(symbol)?;
        Some(book.snapshot_json(usize::MAX, market == Market::UsdmFutures))
    }

    /// Stops every thread and waits for them; the first replay error, if any.
    pub fn stop(mut self) -> Result<(), SimError> {
        self.stop.store(true, Ordering::Release);
        for state in &self.states {
            if let Ok(clients) = state.clients.lock() {
                clients.iter().for_each(|c| c.disconnect());
            }
        }
        let mut result = Ok(());
        for (name, thread) in self.threads.drain(..) {
            let outcome = thread.join().unwrap_or(Err(SimError::ThreadPanicked(name)));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

impl Drop for SimexHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Runs `simex` until `stop` is set (the CLI's entry point); prints where it listens.
pub fn run_simex(config: SimexConfig, stop: &AtomicBool) -> Result<(), SimError> {
    let scheme = if config.tls {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    let handle = Simex::start(config)?;
    for endpoint in handle.endpoints() {
        eprintln!(
            "simex: {:?} at {}://{addr} and {}://{addr}",
            endpoint.market,
            scheme.0,
            scheme.1,
            addr = endpoint.addr
        );
    }
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(50));
    }
    handle.stop()
}

fn fault_timer(plan: &FaultPlan, faults: &Faults, stop: &AtomicBool) {
    let start = Instant::now();
    let every = |ms: u64| Duration::from_millis(ms.max(1));
    let mut next_drop = plan.drop_every_ms.map(|ms| start + every(ms));
    let mut next_stall = plan.stall.map(|s| start + every(s.every_ms));
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if let (Some(at), Some(ms)) = (next_drop, plan.drop_every_ms) {
            if now >= at {
                faults.drop_connections();
                next_drop = Some(at + every(ms));
            }
        }
        if let (Some(at), Some(stall)) = (next_stall, plan.stall) {
            if now >= at {
                faults.stall(Duration::from_millis(stall.for_ms));
                next_stall = Some(at + every(stall.every_ms));
            }
        }
        std::thread::sleep(IDLE_STEP);
    }
}

fn accept_loop(listener: &TcpListener, ctx: &Arc<ConnContext>) -> Result<(), SimError> {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !ctx.stream.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((socket, _)) => {
                if ctx.stream.faults.refusing() {
                    drop(socket);
                    continue;
                }
                let ctx = Arc::clone(ctx);
                workers.retain(|w| !w.is_finished());
                workers.push(std::thread::spawn(move || serve_connection(socket, &ctx)));
            }
            // WouldBlock, or a transient accept failure (EMFILE, aborted handshake).
            Err(_) => std::thread::sleep(IDLE_STEP),
        }
    }
    for worker in workers {
        // A connection thread's panic is its own; the others still shut down cleanly.
        let _ = worker.join();
    }
    Ok(())
}

/// Serves one accepted connection: REST requests until it closes, or one stream upgrade.
fn serve_connection(socket: TcpStream, ctx: &ConnContext) {
    let setup = socket
        .set_nonblocking(false)
        .and_then(|()| socket.set_nodelay(true))
        .and_then(|()| socket.set_read_timeout(Some(READ_STEP)))
        .and_then(|()| socket.set_write_timeout(Some(WRITE_TIMEOUT)));
    if setup.is_err() {
        return;
    }
    let Ok(mut conn) = Conn::new(socket, ctx.tls.as_ref()) else {
        return;
    };
    let stream = &ctx.stream;
    let generation = stream.faults.drop_generation();
    let mut buf = Vec::new();
    loop {
        let idle_since = Instant::now();
        let keep_waiting = || {
            !stream.stop.load(Ordering::Acquire)
                && stream.faults.drop_generation() == generation
                && idle_since.elapsed() < HTTP_IDLE
        };
        let head = match http::read_head(&mut conn, &mut buf, keep_waiting) {
            Ok(HeadRead::Head(head)) => head,
            Ok(HeadRead::Closed | HeadRead::Invalid) | Err(_) => break,
        };
        if head.upgrade_websocket {
            match ws::route_path(stream.state.market, &head.target) {
                Some(path) => {
                    ws::serve(Rewind::new(std::mem::take(&mut buf), conn), path, stream);
                    return;
                }
                None => {
                    let reply = Reply {
                        status: 404,
                        body: String::new(),
                    };
                    // The connection closes either way.
                    let _ = http::write_reply(&mut conn, &reply, false);
                    break;
                }
            }
        }
        let reply = http::answer(&stream.state, &head.method, &head.target);
        if http::write_reply(&mut conn, &reply, head.keep_alive).is_err() || !head.keep_alive {
            break;
        }
        buf.drain(..head.len);
    }
    conn.abort();
}
