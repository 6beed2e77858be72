//! Owns: starting and stopping `simex`: one listener per market (REST, market streams, the
//! WS API and the futures private stream on the same port, the path decides), one replay
//! thread per market, one thread per connection, the periodic faults of the plan, and the
//! control handle tests drive. Never: formats payloads (`http`, `ws`, the order side's
//! shapes and the recorded frames do) or outlives `stop`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustls::ServerConfig;

use crate::core::clock::mono_ns;
use crate::core::Qty;

use super::capture::CaptureLines;
use super::config::{FaultPlan, Market, SimexConfig, Speed};
use super::conn::{Conn, Rewind, Tls};
use super::exchange::AccountSnapshot;
use super::faults::Faults;
use super::http::{self, HeadRead, Reply};
use super::order_side::{OrderSide, WsOrderAuthCounts};
use super::orders_http::{self, Delivery};
use super::replay::{prime, MarketState, Replay};
use super::session::SessionContext;
use super::user_stream;
use super::wire::WireClock;
use super::ws::{self, PingPolicy, StreamContext};
use super::ws_api;
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
    orders: Vec<Arc<OrderSide>>,
    wire: Arc<WireClock>,
    threads: Vec<(&'static str, JoinHandle<Result<(), SimError>>)>,
}

/// What a connection thread needs.
struct ConnContext {
    stream: StreamContext,
    orders: Arc<OrderSide>,
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
        let wire = Arc::new(WireClock::default());
        let mut handle = SimexHandle {
            endpoints: Vec::new(),
            cert_der: tls.as_ref().map(|t| t.cert_der.clone()),
            cert_pem: tls.as_ref().map(|t| t.cert_pem.clone()),
            faults: Arc::clone(&faults),
            stop: Arc::clone(&stop),
            states: Vec::new(),
            orders: Vec::new(),
            wire: Arc::clone(&wire),
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
            let orders = Arc::new(OrderSide::new(
                Arc::clone(&state),
                &config.orders,
                Arc::clone(&faults),
                Arc::clone(&wire),
            )?);
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
                    wire: Arc::clone(&wire),
                },
                orders: Arc::clone(&orders),
                tls: tls.as_ref().map(|t| Arc::clone(&t.config)),
            });
            let runner = Replay::new(
                primed,
                Arc::clone(&orders),
                config.speed,
                Arc::clone(&faults),
                Arc::clone(&stop),
            );
            handle.spawn("replay", move || runner.run());
            handle.spawn("listener", move || accept_loop(&listener, &ctx));
            handle.endpoints.push(MarketEndpoint {
                market: replay.market,
                addr: bound,
            });
            handle.states.push(state);
            handle.orders.push(orders);
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

    /// Exchange time of `market`'s replay position (ms), if it is served.
    pub fn replay_ms(&self, market: Market) -> Option<u64> {
        self.states
            .iter()
            .find(|s| s.market == market)
            .map(|s| s.replay_ms.load(Ordering::Acquire))
    }

    fn order_side(&self, market: Market) -> Option<&Arc<OrderSide>> {
        self.orders.iter().find(|o| o.market == market)
    }

    /// The simulator's clock for `market` (its server time, recvWindow reference).
    pub fn server_time_ms(&self, market: Market) -> Option<u64> {
        self.order_side(market).map(|o| o.now_ms())
    }

    /// `market`'s WebSocket API orders by how they were authenticated (own signature, or the
    /// connection's `session.logon`), and the logons accepted.
    pub fn ws_order_auth(&self, market: Market) -> Option<WsOrderAuthCounts> {
        self.order_side(market).map(|o| o.ws_order_auth.snapshot())
    }

    /// Balances, positions, open orders, trades and realized PnL of `market`'s venue.
    pub fn account(&self, market: Market) -> Option<AccountSnapshot> {
        self.order_side(market).map(|o| o.snapshot())
    }

    /// Credits a spot deposit (sends `balanceUpdate` and `outboundAccountPosition`).
    pub fn deposit(&self, asset: &str, amount: Qty) {
        if let Some(orders) = self.order_side(Market::Spot) {
            let now = orders.now_ms();
            orders.with_exchange(|ex, _| ex.deposit(asset, amount, now));
        }
    }

    /// Makes the futures listenKey expire now: its streams get `listenKeyExpired`.
    pub fn expire_listen_keys(&self) {
        for orders in &self.orders {
            orders.users.expire_listen_key();
        }
    }

    /// Makes every margin listenToken expire now: subscriptions made with one get
    /// `eventStreamTerminated` and end.
    pub fn expire_listen_tokens(&self) {
        for orders in &self.orders {
            orders.users.expire_listen_tokens();
        }
    }

    /// Wire-to-wire so far: per order received, ns from the last market frame written to
    /// any client to the order frame read.
    pub fn wire_to_wire(&self) -> Option<Histogram<u64>> {
        self.wire.snapshot()
    }

    /// Answers the next `requests` REST / WS API requests with 429 and `retry_after`; a
    /// client that sends again before it ran out is banned (418) for `ban`.
    pub fn throttle(&self, requests: u64, retry_after: Duration, ban: Duration) {
        self.faults.throttle(requests, retry_after, ban);
    }

    /// Rejects the next `requests` signed requests with -1021.
    pub fn reject_timestamps(&self, requests: u64) {
        self.faults.reject_timestamps(requests);
    }

    /// Holds every order acknowledgement `delay` after processing (zero: off).
    pub fn delay_acks(&self, delay: Duration) {
        self.faults.delay_acks(delay);
    }

    /// Processes the next `orders` orders without ever answering them.
    pub fn lose_acks(&self, orders: u64) {
        self.faults.lose_acks(orders);
    }

    /// Fills the next `orders` orders at most half of what is left per match.
    pub fn force_partial_fills(&self, orders: u64) {
        self.faults.force_partial_fills(orders);
    }

    /// Sends the next `events` user-data events twice.
    pub fn duplicate_events(&self, events: u64) {
        self.faults.duplicate_events(events);
    }

    /// Delivers each of the next `events` user-data events after the one that follows it.
    pub fn reorder_events(&self, events: u64) {
        self.faults.reorder_events(events);
    }

    /// Cuts the connection right after each of the next `orders` orders is processed.
    pub fn drop_order_connections(&self, orders: u64) {
        self.faults.drop_order_connections(orders);
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
        let ws_api = match endpoint.market {
            Market::Spot => "/ws-api/v3",
            Market::UsdmFutures => "/ws-fapi/v1",
        };
        eprintln!(
            "simex: {:?} at {}://{addr} and {}://{addr} (WS API {}://{addr}{ws_api})",
            endpoint.market,
            scheme.0,
            scheme.1,
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

/// Serves one accepted connection: REST requests until it closes, or one upgrade (market
/// streams, the WS API, or the futures private stream).
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
            upgrade(conn, std::mem::take(&mut buf), &head.target, ctx);
            return;
        }
        let body = if head.content_length > 0 {
            match http::read_body(
                &mut conn,
                &mut buf,
                head.len,
                head.content_length,
                keep_waiting,
            ) {
                Ok(Some(body)) => body,
                Ok(None) | Err(_) => break,
            }
        } else {
            String::new()
        };
        let answer = orders_http::answer(&ctx.orders, &head, &body, mono_ns());
        match answer.delivery {
            Delivery::Now => {}
            Delivery::After(delay) => pause(delay, &stream.stop),
            Delivery::Never => {
                wait_for_close(&mut conn, keep_waiting);
                break;
            }
            Delivery::Cut => break,
        }
        let written = http::write_reply(&mut conn, &answer.reply, head.keep_alive);
        if written.is_err() || !head.keep_alive {
            break;
        }
        buf.drain(..head.len + head.content_length);
    }
    conn.abort();
}

/// Routes an upgrade request to its WebSocket service, or refuses it.
fn upgrade(mut conn: Conn, consumed: Vec<u8>, target: &str, ctx: &ConnContext) {
    let stream = &ctx.stream;
    let market = stream.state.market;
    let session = SessionContext {
        faults: &stream.faults,
        stop: &stream.stop,
        ping: stream.ping,
        queue_frames: stream.queue_frames,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if ws_api::serves(market, path) {
        let rewind = Rewind::new(consumed, conn);
        ws_api::serve(rewind, query, Arc::clone(&ctx.orders), &session);
        return;
    }
    if let Some(key) = user_stream::private_listen_key(market, target) {
        if ctx.orders.users.key_valid(&key, ctx.orders.now_ms()) {
            let rewind = Rewind::new(consumed, conn);
            user_stream::serve_private(rewind, key, Arc::clone(&ctx.orders), &session);
        } else {
            let reply = Reply::error(400, -1125, "This listenKey does not exist.");
            // The connection closes either way.
            let _ = http::write_reply(&mut conn, &reply, false);
            conn.abort();
        }
        return;
    }
    match ws::route_path(market, target) {
        Some(path) => ws::serve(Rewind::new(consumed, conn), path, stream),
        None => {
            let reply = Reply {
                status: 404,
                body: String::new(),
                headers: Vec::new(),
            };
            // The connection closes either way.
            let _ = http::write_reply(&mut conn, &reply, false);
            conn.abort();
        }
    }
}

/// Sleeps `delay` in short steps, ending early when the simulator stops.
fn pause(delay: Duration, stop: &AtomicBool) {
    let until = Instant::now() + delay;
    while !stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(IDLE_STEP));
    }
}

/// Keeps a connection open and silent until the client closes it (a lost ack).
fn wait_for_close(conn: &mut Conn, keep_waiting: impl Fn() -> bool) {
    use std::io::Read;
    let mut sink = [0u8; 1024];
    while keep_waiting() {
        match conn.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}
