//! Owns: one market's replay: the shared replay clock, the exchange-side books it advances,
//! handing each applied depth diff and each trade to the venue's matching, and fan-out of
//! each recorded frame to the clients subscribed to its stream through bounded queues.
//! Never: writes to a socket or waits on one client in paced modes (a client whose queue is
//! full is disconnected and counted).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam::channel::{SendTimeoutError, Sender, TrySendError};

use super::book::{DepthDiffMsg, ExchangeBook};
use super::capture::{CaptureItem, CaptureLines, StreamFrame};
use super::config::{Market, Speed};
use super::faults::Faults;
use super::order_side::OrderSide;
use super::SimError;

/// Lines read ahead at start-up to find the recorded snapshot and its symbol.
const PRIME_LINES: usize = 200_000;
/// Longest single sleep, so stop requests and stalls are seen promptly.
const SLEEP_STEP: Duration = Duration::from_millis(10);
/// As fast as possible: how long the replay waits for a full client queue before dropping it.
const AFAP_CLIENT_WAIT: Duration = Duration::from_secs(10);

/// Which streams a connection's path serves (futures split them by path since 2026-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Unrouted `/ws`, `/stream` (spot): every stream.
    All,
    /// `/public/…`: bookTicker and depth.
    Public,
    /// `/market/…`: trades, klines, mark price, tickers, …
    Market,
}

impl Route {
    pub fn allows(self, stream: &str) -> bool {
        let public = stream.contains("bookTicker") || stream.contains("@depth");
        match self {
            Route::All => true,
            Route::Public => public,
            Route::Market => !public,
        }
    }
}

/// A frame on its way to clients.
#[derive(Debug)]
pub(crate) struct OutFrame {
    pub frame: StreamFrame,
    /// Sent truncated (fault injection).
    pub malformed: bool,
}

/// One connected stream client as the replay sees it.
pub(crate) struct ClientSink {
    pub subscriptions: Arc<Mutex<HashSet<String>>>,
    pub route: Route,
    pub queue: Sender<Arc<OutFrame>>,
    pub alive: Arc<AtomicBool>,
    /// The client's socket, to end a write blocked on a client that stopped reading.
    pub socket: Option<TcpStream>,
}

impl ClientSink {
    /// Ends the connection now, even if its thread is blocked writing to it.
    pub fn disconnect(&self) {
        self.alive.store(false, Ordering::Release);
        if let Some(socket) = &self.socket {
            // Already closed by the peer is fine.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    fn wants(&self, stream: &str) -> bool {
        self.route.allows(stream)
            && self
                .subscriptions
                .lock()
                .is_ok_and(|subs| subs.contains(stream))
    }

    fn has_subscriptions(&self) -> bool {
        self.subscriptions.lock().is_ok_and(|subs| !subs.is_empty())
    }
}

/// What REST and stream connections share with one market's replay.
pub(crate) struct MarketState {
    pub market: Market,
    /// Exchange-side books by symbol (`BTCUSDT`).
    pub books: Mutex<HashMap<String, ExchangeBook>>,
    /// One-minute klines of the trades replayed so far (`/klines`).
    pub klines: Mutex<super::klines::KlineHistory>,
    /// Exchange time of the replay position (ms).
    pub replay_ms: AtomicU64,
    /// Exchange clock minus recorded receive clock, from the last depth diff's `E`.
    exchange_offset_ms: AtomicI64,
    pub clients: Mutex<Vec<Arc<ClientSink>>>,
    pub exchange_info: String,
    pub slow_clients_dropped: AtomicU64,
    /// Capture lines that were neither frames nor snapshots (published at the end).
    pub skipped_lines: AtomicU64,
    pub finished: AtomicBool,
}

/// A market ready to replay: its shared state and the lines not yet replayed.
pub(crate) struct Primed {
    pub state: Arc<MarketState>,
    pub pending: VecDeque<CaptureItem>,
    pub lines: CaptureLines,
}

/// Reads ahead to the first recorded snapshot and seeds the book, so REST depth is
/// answerable from the first moment.
pub(crate) fn prime(
    market: Market,
    mut lines: CaptureLines,
    exchange_info: String,
) -> Result<Primed, SimError> {
    let mut pending = VecDeque::new();
    let mut snapshot: Option<(u64, String)> = None;
    let mut symbol: Option<String> = None;
    let mut first_ms = 0;
    while pending.len() < PRIME_LINES && (snapshot.is_none() || symbol.is_none()) {
        let Some(item) = lines.next_item()? else {
            break;
        };
        match &item {
            CaptureItem::Snapshot { recv_ns, text } if snapshot.is_none() => {
                snapshot = Some((*recv_ns, text.clone()));
            }
            CaptureItem::Frame(frame) if symbol.is_none() && frame.is_depth_diff() => {
                symbol = serde_json::from_str::<DepthDiffMsg>(frame.data())
                    .ok()
                    .map(|d| d.symbol);
            }
            _ => {}
        }
        if first_ms == 0 {
            first_ms = match &item {
                CaptureItem::Snapshot { recv_ns, .. } => recv_ns / 1_000_000,
                CaptureItem::Frame(frame) => frame.recv_ns / 1_000_000,
            };
        }
        pending.push_back(item);
    }
    let mut books = HashMap::new();
    if let (Some((recv_ns, text)), Some(symbol)) = (snapshot, symbol) {
        if let Some(book) = ExchangeBook::from_recorded(&text, recv_ns / 1_000_000) {
            books.insert(symbol, book);
        }
    }
    Ok(Primed {
        state: Arc::new(MarketState {
            market,
            books: Mutex::new(books),
            klines: Mutex::new(super::klines::KlineHistory::default()),
            replay_ms: AtomicU64::new(first_ms),
            exchange_offset_ms: AtomicI64::new(0),
            clients: Mutex::new(Vec::new()),
            exchange_info,
            slow_clients_dropped: AtomicU64::new(0),
            skipped_lines: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }),
        pending,
        lines,
    })
}

/// The replay thread's state.
pub(crate) struct Replay {
    primed: Primed,
    orders: Arc<OrderSide>,
    speed: Speed,
    faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
    /// First recorded stamp and when it was replayed.
    origin: Option<(u64, Instant)>,
    /// Symbol of the last depth diff, the owner of a later recorded snapshot.
    depth_symbol: Option<String>,
}

impl Replay {
    pub fn new(
        primed: Primed,
        orders: Arc<OrderSide>,
        speed: Speed,
        faults: Arc<Faults>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            primed,
            orders,
            speed,
            faults,
            stop,
            origin: None,
            depth_symbol: None,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Replays every line, then marks the market finished (connections stay open).
    pub fn run(mut self) -> Result<(), SimError> {
        let result = self.replay_all();
        let skipped = self.primed.lines.skipped_lines();
        self.primed
            .state
            .skipped_lines
            .store(skipped, Ordering::Release);
        self.primed.state.finished.store(true, Ordering::Release);
        result
    }

    fn replay_all(&mut self) -> Result<(), SimError> {
        while !self.stopped() {
            let item = match self.primed.pending.pop_front() {
                Some(item) => item,
                None => match self.primed.lines.next_item()? {
                    Some(item) => item,
                    None => return Ok(()),
                },
            };
            match item {
                CaptureItem::Snapshot { recv_ns, text } => self.on_snapshot(recv_ns, &text),
                CaptureItem::Frame(frame) => self.on_frame(frame)?,
            }
        }
        Ok(())
    }

    fn on_snapshot(&mut self, recv_ns: u64, text: &str) {
        let Some(symbol) = self.depth_symbol.clone() else {
            return;
        };
        let Some(book) = ExchangeBook::from_recorded(text, recv_ns / 1_000_000) else {
            return;
        };
        if let Ok(mut books) = self.primed.state.books.lock() {
            let newer = books
                .get(&symbol)
                .is_none_or(|held| book.last_update_id() > held.last_update_id());
            if newer {
                books.insert(symbol, book);
            }
        }
    }

    fn on_frame(&mut self, frame: StreamFrame) -> Result<(), SimError> {
        self.pace(frame.recv_ns);
        if self.stopped() {
            return Ok(());
        }
        let recv_ms = frame.recv_ns / 1_000_000;
        let mut skipped = false;
        if frame.is_depth_diff() {
            if let Ok(diff) = serde_json::from_str::<DepthDiffMsg>(frame.data()) {
                let next_first = match self.primed.state.market {
                    Market::UsdmFutures => self.next_first_update_id(&diff.symbol)?,
                    Market::Spot => None,
                };
                let state = &self.primed.state;
                let offset = diff.event_ms as i64 - recv_ms as i64;
                state.exchange_offset_ms.store(offset, Ordering::Release);
                if let Ok(mut books) = state.books.lock() {
                    let applied = match books.get_mut(&diff.symbol) {
                        Some(book) => {
                            let applied = book.apply(&diff);
                            if applied {
                                book.set_next_first_update_id(next_first);
                            }
                            applied
                        }
                        None => false,
                    };
                    if applied {
                        self.orders.on_depth(&diff.symbol, &books);
                    }
                }
                skipped = self.faults.skips(diff.first_update_id, diff.last_update_id);
                self.depth_symbol = Some(diff.symbol);
            }
        }
        if frame.is_trade() {
            if let Ok(books) = self.primed.state.books.lock() {
                self.orders.on_trade_frame(frame.data(), &books);
            }
            if let Ok(mut klines) = self.primed.state.klines.lock() {
                klines.on_trade_frame(frame.data());
            }
        }
        let state = &self.primed.state;
        let offset = state.exchange_offset_ms.load(Ordering::Acquire);
        state
            .replay_ms
            .store(recv_ms.saturating_add_signed(offset), Ordering::Release);
        if !skipped {
            self.dispatch(frame);
        }
        Ok(())
    }

    /// The `U` of `symbol`'s next depth diff, reading ahead into `pending` as needed.
    fn next_first_update_id(&mut self, symbol: &str) -> Result<Option<u64>, SimError> {
        let first_of = |item: &CaptureItem| match item {
            CaptureItem::Frame(frame) if frame.is_depth_diff() => {
                serde_json::from_str::<DepthDiffMsg>(frame.data())
                    .ok()
                    .filter(|d| d.symbol == symbol)
                    .map(|d| d.first_update_id)
            }
            _ => None,
        };
        if let Some(first) = self.primed.pending.iter().find_map(first_of) {
            return Ok(Some(first));
        }
        while self.primed.pending.len() < PRIME_LINES {
            let Some(item) = self.primed.lines.next_item()? else {
                return Ok(None);
            };
            let first = first_of(&item);
            self.primed.pending.push_back(item);
            if first.is_some() {
                return Ok(first);
            }
        }
        Ok(None)
    }

    /// Waits until the frame recorded at `recv_ns` is due, a stall is over, and (as fast
    /// as possible) someone is subscribed.
    fn pace(&mut self, recv_ns: u64) {
        let due = match self.speed {
            Speed::AsFastAsPossible => None,
            Speed::RealTime => Some(self.due(recv_ns, 1.0)),
            Speed::Times(times) => Some(self.due(recv_ns, times)),
        };
        loop {
            if self.stopped() {
                return;
            }
            let now = Instant::now();
            let wait_until = match (self.faults.stalled_until(), due) {
                (Some(stall), _) => stall,
                (None, Some(due)) if due > now => due,
                (None, Some(_)) => return,
                (None, None) if self.anyone_subscribed() => return,
                (None, None) => now + SLEEP_STEP,
            };
            std::thread::sleep(wait_until.saturating_duration_since(now).min(SLEEP_STEP));
        }
    }

    fn due(&mut self, recv_ns: u64, times: f64) -> Instant {
        let (first_ns, first_at) = *self.origin.get_or_insert((recv_ns, Instant::now()));
        let offset_ns = recv_ns.saturating_sub(first_ns) as f64 / times.max(f64::MIN_POSITIVE);
        first_at + Duration::from_nanos(offset_ns.min(u64::MAX as f64) as u64)
    }

    fn anyone_subscribed(&self) -> bool {
        self.primed
            .state
            .clients
            .lock()
            .is_ok_and(|clients| clients.iter().any(|c| c.has_subscriptions()))
    }

    fn dispatch(&self, frame: StreamFrame) {
        let state = &self.primed.state;
        let recipients: Vec<Arc<ClientSink>> = match state.clients.lock() {
            Ok(mut clients) => {
                clients.retain(|c| c.alive.load(Ordering::Acquire));
                clients
                    .iter()
                    .filter(|c| c.wants(frame.stream()))
                    .cloned()
                    .collect()
            }
            Err(_) => return,
        };
        if recipients.is_empty() {
            return;
        }
        let out = Arc::new(OutFrame {
            malformed: self.faults.take_malformed(),
            frame,
        });
        let afap = self.speed == Speed::AsFastAsPossible;
        for client in recipients {
            let delivered = match client.queue.try_send(Arc::clone(&out)) {
                Ok(()) => true,
                Err(TrySendError::Full(frame)) if afap => {
                    match client.queue.send_timeout(frame, AFAP_CLIENT_WAIT) {
                        Ok(()) => true,
                        Err(SendTimeoutError::Timeout(_)) => false,
                        Err(SendTimeoutError::Disconnected(_)) => {
                            client.alive.store(false, Ordering::Release);
                            continue;
                        }
                    }
                }
                Err(TrySendError::Full(_)) => false,
                Err(TrySendError::Disconnected(_)) => {
                    client.alive.store(false, Ordering::Release);
                    continue;
                }
            };
            if !delivered {
                client.disconnect();
                state.slow_clients_dropped.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}
