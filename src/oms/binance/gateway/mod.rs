//! Owns: the Binance order gateway transport — `BinanceGateway`, a `Venue` that places orders
//! over a persistent WebSocket API connection (mio + rustls + tungstenite through
//! `feed::ws::WsConnection`, polled from `poll`, never blocking), falls back to REST and runs
//! reconciliation on a helper thread (`rest_worker`), keeps the user-data stream subscribed
//! (spot: `userDataStream.subscribe.signature` on the same connection; USDⓈ-M: a listenKey
//! kept alive every 30 min and its `/private/ws/<listenKey>` stream; margin: a listenToken,
//! below), obeys the rate tracker, resyncs the venue clock on -1021 and turns silence into
//! `StatusUnknown`.
//! Never: blocks the order thread, retries an order on its own (the manager decides), logs
//! or prints the API key or secret, or decides what to trade.
//!
//! Session logon: with an Ed25519 key in `GatewayKeys` (spot only: margin orders take REST,
//! and USDⓈ-M's WS API logon is not verified), each new WebSocket API connection sends
//! `session.logon` as soon as it opens, next to the user-data subscription (which stays
//! `userDataStream.subscribe.signature`, so the link never waits on the logon). Until the logon's success reply, orders go HMAC-signed;
//! from it on the codec writes them without `apiKey` and `signature` (no HMAC on the order
//! path, the idle `warm` rebuild included). A lost connection resets to HMAC until the next
//! connection's logon succeeds. A refused or unanswered logon is counted
//! (`GatewayCounters::logons_refused`), kept in `last_error`, and not retried on that
//! connection: the gateway keeps trading HMAC-signed.
//!
//! Link reports: the first connection comes up silently (the stage reconciles at start);
//! after any loss the gateway reports `Link(Down)` once, reconnects with backoff, and reports
//! `Link(Up)` once the user data is subscribed again, which makes the manager reconcile.
//! Orders sent while the WebSocket API is down go over REST.
//!
//! Margin (`Market::Margin`, the spot symbols; cross, or isolated per symbol when
//! `CodecConfig::isolated_margin`). Binance has no margin order method on the WebSocket API,
//! so every order, cancel and query goes over REST through the helper thread (never
//! waiting on it), and reconciliation asks the `/sapi/v1/margin/…` endpoints. The WebSocket
//! API connection carries only the account stream, per Binance's margin trade data stream
//! page (developers.binance.com/docs/margin_trading/trade-data-stream, 2025-10):
//! `POST /sapi/v1/userListenToken` (signed; `isIsolated`+`symbol` for an isolated account,
//! `validity` ms, default and maximum 24 h) answers `{"token","expirationTime"}`; then
//! `userDataStream.subscribe.listenToken {listenToken}` (no logon) subscribes, and an invalid
//! token is refused with -1209. The subscription is not renewed by the venue: before
//! `expirationTime` (by `listen_token_renew_lead_ms`, at most half the token's life) the
//! gateway fetches a new token and subscribes again on the live connection, which extends
//! the subscription; one that lapses ends with `eventStreamTerminated`, which the gateway
//! treats as a lost link (Down, new tokens, reconnect, resubscribe, Up, reconcile). Events
//! arrive as spot's (`{"subscriptionId","event"}`); margin `outboundAccountPosition` is not
//! booked (it leaves the debt out), so margin balances are net of debt: moved by fills,
//! set by reconciliation from `netAsset` (negative while borrowed).
//!
//! Latency: `encode_sign` is the codec build (params, filter check, HMAC); `send` is the
//! write syscall (with TLS, rustls handing its encrypted records to the socket).
//! [`BinanceGateway::last_wire_ns`] is the monotonic stamp between them, taken with the
//! WebSocket frame built, masked and (wss://) encrypted, just before the write syscall: the
//! runner ends tick-to-order there. A REST fallback order takes no stamp. A margin order,
//! REST being its only path, records `encode_sign` and is stamped when the signed request
//! has been handed to the helper thread: margin tick-to-order ends at that hand-off, before
//! the HTTP framing, TLS and write the helper thread still does (`send` is not recorded).
//!
//! Allocation: the order path builds the request in the codec's reused buffer and the
//! WebSocket frame in `ws_frame` (reused), written straight to the socket
//! (`WsConnection::send_text_now`); only a congested socket falls back to tungstenite's
//! queue, which takes an owned `String`. A margin order's REST query and body are copied
//! into buffers the helper thread hands back with each reply (`rest_buffers`).

mod keys;
mod margin;
mod rest_worker;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll};
use rustls::ClientConfig;
use tungstenite::protocol::WebSocketConfig;

use margin::TokenSlot;

pub use keys::{GatewayKeys, KeyError};
pub use rest_worker::{RestJob, RestReply, RestWorker, RestWorkerError};

use super::exchange_info::RateLimit;
use super::rate_limit::RateLimiter;
use super::response::{
    parse_rest_reply, parse_ws_reply, ws_reply, ListenKey, Pending, ReplyContext, ReplyKind,
    ReplyOutcome,
};
use super::server_time::ServerClock;
use super::user_data::{parse_user_data_with, ws_frame_kind, UserDataNote, WsFrameKind};
use super::{
    BinanceOrderCodec, BuildError, CodecConfig, HmacSigner, InstrumentFamily, ListenKeyAction,
    OrderRoute, OrderSymbols, Request, SymbolScope, RECONCILE_PAGE,
};
use crate::core::clock::{mono_ns, wall_ms};
use crate::core::{ClientOrderId, Market, MarketEvent, MarketEventKind, Price, SymbolId};
use crate::engine::stage::Outbox;
use crate::feed::ws::{client_config, ReconnectBackoff, WsConnection, WsEndpoint, WsError};
use crate::oms::venue::{
    LinkState, RejectKind, Venue, VenueCommand, VenueFill, VenueOrder, VenueReject, VenueReport,
};
use crate::ops::{LatencyRecorder, OpsError, Registry};

/// Reports one poll can stage before they are handed over (the rest wait in the backlog).
const STAGED: usize = 1024;
/// Requests in flight on the WebSocket API at once (more are refused as `Unavailable`).
const IN_FLIGHT: usize = 4096;
/// Venue order ids remembered for the trade parser (reconciliation).
const ORDER_IDS: usize = 65_536;
/// How often an idle gateway rebuilds its last order frame (not sent) to keep the order
/// path's code and data in cache. A run that orders rarely otherwise finds them cold: on the
/// 2-vCPU dev machine the build + sign took ~7 µs p50 at one order per ~10 ms and ~2 µs at
/// one per ~2 ms, against ~0.5 µs in a hot criterion loop.
const WARM_EVERY_NS: u64 = 200_000;
/// Open connections are read when the poller reports them ready; every connection is also
/// driven at least this often regardless, a safety net for readiness the poller did not
/// report (an idle loop turn then costs one `epoll_wait` instead of a read per socket).
const DRIVE_ALL_EVERY_NS: u64 = 100_000;
/// REST query and body buffers kept for reuse (a margin order builds into two of them).
const REST_BUFFERS: usize = 64;
/// Capacity of each reused REST buffer: more than the longest request the codec builds.
const REST_BUFFER_BYTES: usize = 4096;
/// Histogram buckets in µs (the same as the engine's stage histograms).
const LATENCY_BUCKETS_US: [u64; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000,
];

/// Where and how the gateway connects.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `Spot` (spot API), `Margin` (cross, or isolated per `codec.isolated_margin`, on the
    /// spot symbols) or `UsdmFutures`.
    pub market: Market,
    /// WebSocket API URL (`wss://ws-api.binance.com:443/ws-api/v3`, `…/ws-fapi/v1`).
    pub ws_api_url: String,
    /// REST base (`https://api.binance.com`, `https://fapi.binance.com`).
    pub rest_base_url: String,
    /// Futures user-data base (`wss://fstream.binance.com`); `/private/ws/<listenKey>` is
    /// appended. Unused on spot and margin (their account streams ride the WS API).
    pub user_stream_base_url: String,
    /// A certificate (PEM or DER) to trust instead of the webpki roots (simex's).
    pub trusted_cert: Option<PathBuf>,
    /// A request without an answer for this long is reported `StatusUnknown`.
    pub request_timeout_ms: u64,
    /// REST phase timeout on the helper thread.
    pub rest_timeout_ms: u64,
    /// Reconnect backoff base and cap.
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// Futures listenKey keepalive period (Binance: every 30 min, valid 60).
    pub listen_key_keepalive_ms: u64,
    /// Margin listenToken validity asked for (`validity`; 0: the venue's default and
    /// maximum, 24 h).
    pub listen_token_validity_ms: u64,
    /// How long before a margin listenToken expires a new one is fetched and subscribed
    /// (at most half the token's remaining life).
    pub listen_token_renew_lead_ms: u64,
    /// `/time` resync period.
    pub time_resync_ms: u64,
    /// Codec settings (recvWindow, response type, …).
    pub codec: CodecConfig,
    /// Refuse locally what the venue's announced request and order limits would refuse.
    /// Always on against Binance. Off only against a simulator that enforces no limits
    /// (`kestrel bench e2e`), where the local budget would refuse the benchmark's order
    /// rate; 429 / 418 answers from the venue are obeyed either way.
    pub local_rate_limits: bool,
}

impl GatewayConfig {
    /// Settings for a venue at `host_port` (`127.0.0.1:9443`), plain or TLS, with Binance's
    /// paths for `market` and the documented periods.
    pub fn for_host(market: Market, host_port: &str, tls: bool) -> Self {
        let (ws, http) = if tls {
            ("wss", "https")
        } else {
            ("ws", "http")
        };
        let ws_path = match market {
            Market::UsdmFutures => "/ws-fapi/v1",
            Market::Spot | Market::Margin => "/ws-api/v3",
        };
        Self {
            market,
            ws_api_url: format!("{ws}://{host_port}{ws_path}"),
            rest_base_url: format!("{http}://{host_port}"),
            user_stream_base_url: format!("{ws}://{host_port}"),
            trusted_cert: None,
            request_timeout_ms: 5_000,
            rest_timeout_ms: 5_000,
            backoff_base_ms: 50,
            backoff_cap_ms: 5_000,
            listen_key_keepalive_ms: 30 * 60 * 1_000,
            listen_token_validity_ms: 0,
            listen_token_renew_lead_ms: 30 * 60 * 1_000,
            time_resync_ms: 60_000,
            codec: CodecConfig::default(),
            local_rate_limits: true,
        }
    }
}

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway market {0:?} does not match its symbols (spot or margin: spot symbols; USDⓈ-M: futures symbols)")]
    Market(Market),
    #[error("gateway codec: {0}")]
    Codec(#[from] super::CodecError),
    #[error("gateway symbols: {0}")]
    Symbols(#[from] super::OrderSymbolsError),
    #[error("gateway signer: {0}")]
    Sign(#[from] super::SignError),
    #[error("gateway websocket setup: {0}")]
    Ws(#[from] WsError),
    #[error("gateway REST helper: {0}")]
    Rest(#[from] RestWorkerError),
    #[error("gateway poll: {0}")]
    Poll(std::io::Error),
}

/// What the gateway counted (for the health page and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayCounters {
    pub ws_requests: u64,
    pub rest_requests: u64,
    pub reconnects: u64,
    pub timeouts: u64,
    pub rate_limited_locally: u64,
    pub venue_throttled: u64,
    pub timestamp_resyncs: u64,
    pub parse_errors: u64,
    pub user_events: u64,
    pub listen_key_renewals: u64,
    /// Margin listenTokens fetched to replace one (renewal before expiry, or after the
    /// subscription was terminated).
    pub listen_token_renewals: u64,
    pub unmatched_replies: u64,
    /// Order frames rebuilt (not sent) while idle to keep the order path in cache.
    pub warm_builds: u64,
    /// Readiness polls that failed (the sockets are then read on the periodic sweep).
    pub poll_errors: u64,
    /// Trades whose order reconciliation could not find (not even in `allOrders`).
    pub unresolved_trades: u64,
    /// `session.logon` answered success (one per connection at most).
    pub logons: u64,
    /// `session.logon` refused, unanswered or not sent (orders stay HMAC-signed).
    pub logons_refused: u64,
}

/// The latency series the gateway records.
pub struct GatewayLatency {
    /// Codec build: params, filter check, HMAC signature.
    pub encode_sign: LatencyRecorder,
    /// The WebSocket write: framing, TLS, the write syscall.
    pub send: LatencyRecorder,
}

impl GatewayLatency {
    /// Registers `kestrel_stage_latency_seconds{stage="encode_sign"}` and
    /// `kestrel_gateway_send_latency_seconds`.
    pub fn register(registry: &mut Registry) -> Result<Self, OpsError> {
        Ok(Self {
            encode_sign: registry.latency_histogram(
                crate::engine::metrics::STAGE,
                "Time one message spends in a stage: feed = frame receive to event out (decode, book), strategy = one market event, order = one intent.",
                &[("stage", "encode_sign")],
                &LATENCY_BUCKETS_US,
            )?,
            send: registry.latency_histogram(
                "kestrel_gateway_send_latency_seconds",
                "WebSocket API write of one order frame (framing, TLS, write syscall).",
                &[],
                &LATENCY_BUCKETS_US,
            )?,
        })
    }
}

/// Where the link is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Waiting to (re)connect at `reconnect_at_ns`.
    Down,
    /// Connections opening / user data subscribing.
    Connecting,
    /// Orders go over the WebSocket API, user data flows.
    Up,
}

/// Where the WebSocket API connection's `session.logon` is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Logon {
    /// Not sent on this connection yet (or no Ed25519 key: never sent).
    NotSent,
    /// Sent, not answered: orders still go HMAC-signed.
    InFlight,
    /// Answered success: orders go without apiKey and signature.
    LoggedOn,
    /// Refused or unanswered: HMAC-signed until the next connection.
    Refused,
}

/// Why a WebSocket API request is in flight.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct InFlight {
    pending: Pending,
    sent_ns: u64,
    /// The margin listenToken slot a `subscribe.listenToken` is for.
    token_slot: Option<usize>,
}

/// Why a REST job is in flight.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RestPurpose {
    Order(Pending),
    Reconcile(Pending),
    ServerTime,
    ListenKey(ListenKeyAction),
    /// A margin listenToken for the slot at this index.
    ListenToken(usize),
}

/// One reconciliation in progress: the steps left, in order.
#[derive(Clone, Copy, Debug)]
struct ReconcileRun {
    symbol: SymbolId,
    market: Market,
    step: usize,
    ok: bool,
    /// The next trades page starts after this trade id.
    trades_after: u64,
    /// The next `allOrders` page starts at this venue order id (0: not started).
    orders_from: u64,
}

impl ReconcileRun {
    fn new(symbol: SymbolId, market: Market, since_trade_id: u64) -> Self {
        Self {
            symbol,
            market,
            step: 0,
            ok: true,
            trades_after: since_trade_id,
            orders_from: 0,
        }
    }
}

/// The Binance order gateway.
pub struct BinanceGateway {
    config: GatewayConfig,
    market: Market,
    codec: BinanceOrderCodec,
    limiter: RateLimiter,
    clock: ServerClock,
    rest: RestWorker,
    poll: Poll,
    events: Events,
    next_drive_all_ns: u64,
    tls: Option<Arc<ClientConfig>>,
    ws_config: WebSocketConfig,
    api_endpoint: WsEndpoint,
    api: Option<WsConnection>,
    private: Option<WsConnection>,
    phase: Phase,
    logon: Logon,
    ever_up: bool,
    down_reported: bool,
    subscribed: bool,
    backoff: ReconnectBackoff,
    reconnect_at_ns: u64,
    opened_ns: u64,
    next_conn_id: u64,
    next_request_id: u64,
    next_token: u64,
    listen_key: Option<ListenKey>,
    listen_key_requested: bool,
    next_keepalive_ns: u64,
    /// Margin: the listenToken of each account traded (empty on spot and futures).
    tokens: Vec<TokenSlot>,
    /// Margin: query and body buffers of REST jobs, reused.
    rest_buffers: Vec<String>,
    time_requested: bool,
    in_flight: HashMap<u64, InFlight>,
    rest_pending: HashMap<u64, RestPurpose>,
    order_ids: HashMap<(SymbolId, u64), ClientOrderId>,
    /// Client ids of orders placed (or found open) through the algo service: their cancels
    /// and queries must go to the algo endpoints, which are the only ones that know them.
    algo_orders: HashSet<ClientOrderId>,
    reference: Vec<Price>,
    reconcile: Option<ReconcileRun>,
    reconcile_queue: VecDeque<ReconcileRun>,
    /// Fills of the running reconciliation whose venue order id nobody here knew; held
    /// until `allOrders` names their orders.
    unresolved: Vec<VenueFill>,
    /// The orders `allOrders` found for `unresolved`, reported after their fills.
    resolved: Vec<VenueReport>,
    staged: Vec<VenueReport>,
    backlog: VecDeque<VenueReport>,
    expired: Vec<u64>,
    frame_bytes: Vec<u8>,
    /// The last order sent over the WebSocket API, rebuilt while idle (`warm`).
    warm_order: Option<VenueOrder>,
    next_warm_ns: u64,
    /// The masked WebSocket frame of the order being written (reused: no allocation).
    ws_frame: Vec<u8>,
    frame_ends: Vec<(bool, usize)>,
    latency: Option<GatewayLatency>,
    last_wire_ns: u64,
    counters: GatewayCounters,
    last_error: Option<String>,
    /// Local wall ms = `wall_anchor_ms` + (now_ns - `mono_anchor_ns`) / 1e6.
    wall_anchor_ms: u64,
    mono_anchor_ns: u64,
}

impl std::fmt::Debug for BinanceGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceGateway")
            .field("market", &self.market)
            .field("ws_api_url", &self.config.ws_api_url)
            .field("phase", &self.phase)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl BinanceGateway {
    /// Builds the gateway for `symbols` (one instrument family) and starts its REST helper;
    /// connections open on the first `poll`. `rate_limits` come from exchangeInfo.
    pub fn new(
        config: GatewayConfig,
        keys: &GatewayKeys,
        symbols: OrderSymbols,
        rate_limits: &[RateLimit],
    ) -> Result<Self, GatewayError> {
        let market = config.market;
        let family_ok = matches!(
            (market, symbols.family()),
            (Market::Spot | Market::Margin, InstrumentFamily::Spot)
                | (Market::UsdmFutures, InstrumentFamily::UsdmFutures)
        );
        if !family_ok {
            return Err(GatewayError::Market(market));
        }
        let reference = vec![Price::ZERO; symbols.id_bound()];
        let tokens = match market {
            Market::Margin => Self::token_slots(&symbols, config.codec.isolated_margin),
            Market::Spot | Market::UsdmFutures => Vec::new(),
        };
        let mut rest_buffers = Vec::new();
        if market == Market::Margin {
            rest_buffers.reserve_exact(REST_BUFFERS);
            rest_buffers
                .extend((0..REST_BUFFERS).map(|_| String::with_capacity(REST_BUFFER_BYTES)));
        }
        let signer = HmacSigner::new(keys.secret().as_bytes())?;
        let mut codec = BinanceOrderCodec::new(symbols, keys.api_key(), signer, config.codec)?;
        // Spot only: margin orders never use the WebSocket API, and the USDⓈ-M WS API's
        // session.logon is not verified here (protocols.md documents spot's).
        if market == Market::Spot {
            if let Some(logon) = keys.ed25519_signer() {
                let (api_key, signer) = logon?;
                codec = codec.with_logon_key(api_key, signer);
            }
        }
        let certs: Vec<PathBuf> = config.trusted_cert.iter().cloned().collect();
        let tls = if config.ws_api_url.starts_with("wss://") {
            Some(client_config(config.trusted_cert.is_none(), &certs)?)
        } else {
            None
        };
        let api_endpoint = WsEndpoint::resolve(&config.ws_api_url)?;
        let rest = RestWorker::start(
            config.rest_base_url.clone(),
            keys.api_key().to_owned(),
            config.trusted_cert.as_deref(),
            Duration::from_millis(config.rest_timeout_ms),
        )?;
        let limiter = if !config.local_rate_limits {
            RateLimiter::new(&[])
        } else if rate_limits.is_empty() {
            RateLimiter::spot_defaults()
        } else {
            RateLimiter::new(rate_limits)
        };
        let ws_config = WebSocketConfig::default()
            // Small on purpose: tungstenite zero-fills this much before every read, and the
            // order thread reads both sockets on every poll (see WsFeedConfig::read_buffer_bytes).
            .read_buffer_size(4096)
            .max_message_size(Some(16 << 20))
            .max_frame_size(Some(16 << 20));
        let backoff = ReconnectBackoff::new(
            config.backoff_base_ms * 1_000_000,
            config.backoff_cap_ms * 1_000_000,
            10_000_000_000,
            0x6b65_7374_7265_6c67,
        );
        Ok(Self {
            clock: ServerClock::new(config.time_resync_ms),
            poll: Poll::new().map_err(GatewayError::Poll)?,
            events: Events::with_capacity(16),
            next_drive_all_ns: 0,
            market,
            codec,
            limiter,
            rest,
            tls,
            ws_config,
            api_endpoint,
            api: None,
            private: None,
            phase: Phase::Down,
            logon: Logon::NotSent,
            ever_up: false,
            down_reported: false,
            subscribed: false,
            backoff,
            reconnect_at_ns: 0,
            opened_ns: 0,
            next_conn_id: 1,
            next_request_id: 1,
            next_token: 1,
            listen_key: None,
            listen_key_requested: false,
            next_keepalive_ns: 0,
            tokens,
            rest_buffers,
            time_requested: false,
            in_flight: HashMap::with_capacity(IN_FLIGHT),
            rest_pending: HashMap::with_capacity(256),
            order_ids: HashMap::with_capacity(ORDER_IDS),
            algo_orders: HashSet::with_capacity(ORDER_IDS),
            reference,
            reconcile: None,
            reconcile_queue: VecDeque::with_capacity(16),
            unresolved: Vec::with_capacity(RECONCILE_PAGE as usize),
            resolved: Vec::with_capacity(64),
            staged: Vec::with_capacity(STAGED),
            backlog: VecDeque::with_capacity(STAGED),
            expired: Vec::with_capacity(64),
            frame_bytes: Vec::with_capacity(1 << 16),
            ws_frame: Vec::with_capacity(4096),
            warm_order: None,
            next_warm_ns: 0,
            frame_ends: Vec::with_capacity(256),
            latency: None,
            last_wire_ns: 0,
            counters: GatewayCounters::default(),
            last_error: None,
            wall_anchor_ms: wall_ms(),
            mono_anchor_ns: mono_ns(),
            config,
        })
    }

    /// Registers the gateway's latency series (encode+sign, send).
    pub fn attach_metrics(&mut self, registry: &mut Registry) -> Result<(), OpsError> {
        self.latency = Some(GatewayLatency::register(registry)?);
        Ok(())
    }

    /// True when user data is subscribed (and, on spot and futures, orders go over the
    /// WebSocket API; margin orders always take REST).
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    /// True while the WebSocket API session is logged on (orders go without a signature).
    pub fn is_logged_on(&self) -> bool {
        self.logon == Logon::LoggedOn
    }

    /// What the gateway counted so far.
    pub fn counters(&self) -> &GatewayCounters {
        &self.counters
    }

    /// The last transport or parse error, for the operator.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Monotonic ns taken with the last order frame encoded and signed, just before its
    /// write (margin: handed to the REST thread; 0 before the first): where tick-to-order
    /// ends.
    pub fn last_wire_ns(&self) -> u64 {
        self.last_wire_ns
    }

    /// Venue clock offset in ms (venue minus local).
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }

    fn local_ms(&self, now_ns: u64) -> u64 {
        self.wall_anchor_ms + now_ns.saturating_sub(self.mono_anchor_ns) / 1_000_000
    }

    /// The last market price seen for `symbol` (zero before any), for the filter checks.
    fn reference_price(&self, symbol: SymbolId) -> Price {
        self.reference
            .get(symbol.index())
            .copied()
            .unwrap_or(Price::ZERO)
    }

    fn report(&mut self, report: VenueReport) {
        if self.staged.len() < STAGED {
            self.staged.push(report);
        } else {
            self.backlog.push_back(report);
        }
    }

    fn reject(&mut self, command: &VenueCommand, reject: VenueReject) {
        let report = match *command {
            VenueCommand::Place(order) => VenueReport::Rejected {
                client_order_id: order.client_order_id,
                reject,
            },
            VenueCommand::PlaceOco(oco) => VenueReport::Rejected {
                client_order_id: oco.list_id,
                reject,
            },
            VenueCommand::Cancel {
                client_order_id, ..
            } => VenueReport::CancelRejected {
                client_order_id,
                reject,
            },
            VenueCommand::QueryOrder { .. } | VenueCommand::CancelAll { .. } => return,
            VenueCommand::Reconcile { symbol, .. } => {
                VenueReport::ReconcileDone { symbol, ok: false }
            }
        };
        self.report(report);
    }

    // ----- commands -------------------------------------------------------------------

    fn pending_of(&self, command: &VenueCommand) -> Option<Pending> {
        let (kind, market, route, symbol, id) = match *command {
            VenueCommand::Place(order) => (
                ReplyKind::Place,
                order.market,
                OrderRoute::of(&order),
                order.symbol,
                order.client_order_id,
            ),
            VenueCommand::PlaceOco(oco) => (
                ReplyKind::PlaceOco,
                oco.market,
                OrderRoute::Book,
                oco.symbol,
                oco.list_id,
            ),
            VenueCommand::Cancel {
                client_order_id,
                symbol,
                market,
            } => (
                ReplyKind::Cancel,
                market,
                self.route_of_existing(client_order_id),
                symbol,
                client_order_id,
            ),
            VenueCommand::CancelAll { symbol, market } => (
                ReplyKind::CancelAll,
                market,
                OrderRoute::Book,
                symbol,
                ClientOrderId(0),
            ),
            VenueCommand::QueryOrder {
                client_order_id,
                symbol,
                market,
            } => (
                ReplyKind::QueryOrder,
                market,
                self.route_of_existing(client_order_id),
                symbol,
                client_order_id,
            ),
            VenueCommand::Reconcile { .. } => return None,
        };
        Some(Pending {
            kind,
            market,
            route,
            symbol,
            client_order_id: id,
        })
    }

    /// Cancels and queries name the order by client id only: orders placed through the
    /// algo service are remembered, every other order is on the book route.
    fn route_of_existing(&self, client_order_id: ClientOrderId) -> OrderRoute {
        if self.algo_orders.contains(&client_order_id) {
            OrderRoute::Algo
        } else {
            OrderRoute::Book
        }
    }

    fn remember_algo(&mut self, client_order_id: ClientOrderId) {
        if self.algo_orders.len() < ORDER_IDS {
            self.algo_orders.insert(client_order_id);
        }
    }

    fn send_command(&mut self, command: &VenueCommand, now_ns: u64) {
        let Some(pending) = self.pending_of(command) else {
            return;
        };
        if pending.kind == ReplyKind::Place && pending.route == OrderRoute::Algo {
            self.remember_algo(pending.client_order_id);
        }
        if let Some(reject) = self.wrong_margin_account(command) {
            self.reject(command, reject);
            return;
        }
        let reference_price = self.reference_price(pending.symbol);
        let scope = self.scope_of(pending.symbol, pending.market);
        let request = match command {
            VenueCommand::Place(order) => Request::Place {
                order,
                reference_price,
            },
            VenueCommand::PlaceOco(oco) => Request::PlaceOco {
                oco,
                reference_price,
            },
            VenueCommand::Cancel {
                client_order_id, ..
            } => Request::Cancel {
                scope,
                client_order_id: *client_order_id,
                route: pending.route,
            },
            VenueCommand::CancelAll { .. } => Request::CancelAll {
                scope,
                route: OrderRoute::Book,
            },
            VenueCommand::QueryOrder {
                client_order_id, ..
            } => Request::QueryOrder {
                scope,
                client_order_id: *client_order_id,
                route: pending.route,
            },
            VenueCommand::Reconcile { .. } => return,
        };
        let now_ms = self.local_ms(now_ns);
        if let Some(until) = self.limiter.banned_until(now_ms) {
            self.counters.rate_limited_locally += 1;
            self.reject(
                command,
                VenueReject {
                    kind: RejectKind::Banned,
                    code: 418,
                    retry_after_ms: until.saturating_sub(now_ms),
                },
            );
            return;
        }
        // Margin orders have no WebSocket API method: REST is their order path.
        let ws_path = self.market != Market::Margin;
        if ws_path && self.phase == Phase::Up && self.in_flight.len() < IN_FLIGHT {
            match self.send_ws(&request, pending, now_ns) {
                Ok(()) => {
                    if let VenueCommand::Place(order) = command {
                        self.warm_order = Some(*order);
                    }
                    return;
                }
                Err(SendError::Build(BuildError::RestOnly { .. })) => {}
                Err(SendError::Build(error)) => {
                    self.reject(command, error.to_reject());
                    return;
                }
                Err(SendError::Throttled(reject)) => {
                    self.counters.rate_limited_locally += 1;
                    self.reject(command, reject);
                    return;
                }
                Err(SendError::Link) => {}
            }
        }
        self.send_rest(&request, RestPurpose::Order(pending), now_ns, Some(command));
    }

    /// Rebuilds and signs the last order's frame without sending it, touching neither the
    /// rate budget, nor request ids, nor the latency figures: the next real order finds the
    /// codec, the signer and their buffers in cache (see `WARM_EVERY_NS`).
    fn warm(&mut self, now_ns: u64) {
        let Some(order) = self.warm_order else {
            return;
        };
        let request = Request::Place {
            order: &order,
            reference_price: self.reference_price(order.symbol),
        };
        let timestamp = self.clock.timestamp_ms(self.local_ms(now_ns));
        // The result is discarded: this only runs the code the next order runs.
        if let Ok(frame) = self.codec.ws(&request, timestamp, self.next_request_id) {
            if let Some(api) = self.api.as_mut() {
                api.warm_send_path(frame.text_str(), &mut self.ws_frame);
            }
        }
        self.counters.warm_builds += 1;
    }

    /// Builds, signs and writes one WebSocket API frame.
    fn send_ws(
        &mut self,
        request: &Request<'_>,
        pending: Pending,
        now_ns: u64,
    ) -> Result<(), SendError> {
        let now_ms = self.local_ms(now_ns);
        let Some(api) = self.api.as_mut() else {
            return Err(SendError::Link);
        };
        let timestamp = self.clock.timestamp_ms(now_ms);
        let id = self.next_request_id;
        let started = mono_ns();
        let frame = self
            .codec
            .ws(request, timestamp, id)
            .map_err(SendError::Build)?;
        self.limiter
            .try_acquire(frame.cost, now_ms)
            .map_err(|throttle| SendError::Throttled(throttle.to_reject(now_ms)))?;
        let encoded_ns = mono_ns();
        let result = api.send_text_now(frame.text_str(), &mut self.ws_frame);
        let sent_ns = mono_ns();
        let wire_ns = match result {
            Ok(stamp) => stamp,
            Err(error) => {
                self.last_error = Some(error.to_string());
                self.connection_lost(now_ns);
                return Err(SendError::Link);
            }
        };
        if let Some(latency) = self.latency.as_mut() {
            latency
                .encode_sign
                .record_ns(encoded_ns.saturating_sub(started));
            latency.send.record_ns(sent_ns.saturating_sub(wire_ns));
        }
        if matches!(pending.kind, ReplyKind::Place | ReplyKind::PlaceOco) {
            self.last_wire_ns = wire_ns;
        }
        self.next_request_id += 1;
        self.counters.ws_requests += 1;
        self.in_flight.insert(
            id,
            InFlight {
                pending,
                sent_ns: now_ns,
                token_slot: None,
            },
        );
        Ok(())
    }

    /// Builds one REST request and hands it to the helper thread. A margin placement (REST
    /// is its order path) records its encode+sign time and stamps `last_wire_ns` once the
    /// helper thread has it.
    fn send_rest(
        &mut self,
        request: &Request<'_>,
        purpose: RestPurpose,
        now_ns: u64,
        command: Option<&VenueCommand>,
    ) -> bool {
        let now_ms = self.local_ms(now_ns);
        let timestamp = self.clock.timestamp_ms(now_ms);
        let timed = self.market == Market::Margin
            && matches!(purpose, RestPurpose::Order(pending)
                if matches!(pending.kind, ReplyKind::Place | ReplyKind::PlaceOco));
        let started = if timed { mono_ns() } else { 0 };
        let built = match self.codec.rest(request, timestamp) {
            Ok(built) => built,
            Err(error) => {
                if let Some(command) = command {
                    self.reject(command, error.to_reject());
                }
                return false;
            }
        };
        let encoded_ns = if timed { mono_ns() } else { 0 };
        if let Err(throttle) = self.limiter.try_acquire(built.cost, now_ms) {
            self.counters.rate_limited_locally += 1;
            if let Some(command) = command {
                self.reject(command, throttle.to_reject(now_ms));
            }
            return false;
        }
        let mut query = self.rest_buffers.pop().unwrap_or_default();
        query.clear();
        query.push_str(built.query_str());
        let mut body = self.rest_buffers.pop().unwrap_or_default();
        body.clear();
        body.push_str(built.body_str());
        let token = self.next_token;
        let job = RestJob {
            token,
            method: built.method,
            path: built.path,
            query,
            body,
            needs_api_key: built.needs_api_key,
        };
        if let Err(job) = self.rest.submit(job) {
            self.reuse_rest_buffers([job.query, job.body]);
            if let Some(command) = command {
                self.reject(
                    command,
                    VenueReject {
                        kind: RejectKind::Unavailable,
                        code: 0,
                        retry_after_ms: 0,
                    },
                );
            }
            return false;
        }
        if timed {
            // The order thread is done with it here; the HTTP write (framing, TLS, the
            // syscall) happens on the helper thread.
            self.last_wire_ns = mono_ns();
            if let Some(latency) = self.latency.as_mut() {
                latency
                    .encode_sign
                    .record_ns(encoded_ns.saturating_sub(started));
            }
        }
        self.next_token += 1;
        self.counters.rest_requests += 1;
        self.rest_pending.insert(token, purpose);
        true
    }

    // ----- reconciliation ---------------------------------------------------------------

    /// What a reconciliation of `market` asks, in order. Spot and margin ask the same
    /// questions; the scope's market sends margin's to `/sapi/v1/margin/…`.
    fn reconcile_steps(market: Market) -> &'static [ReconcileStep] {
        match market {
            Market::UsdmFutures => &[
                ReconcileStep::OpenOrders(OrderRoute::Book),
                ReconcileStep::OpenOrders(OrderRoute::Algo),
                ReconcileStep::Trades,
                ReconcileStep::Orders,
                ReconcileStep::Account,
                ReconcileStep::Positions,
            ],
            Market::Spot | Market::Margin => &[
                ReconcileStep::OpenOrders(OrderRoute::Book),
                ReconcileStep::Trades,
                ReconcileStep::Orders,
                ReconcileStep::Account,
            ],
        }
    }

    /// A trades page arrived (staged from `start`): fills of orders nobody here knows move
    /// to `unresolved`. True when the page was full (another follows from its last id).
    fn hold_unresolved_trades(&mut self, start: usize) -> bool {
        let mut kept = start;
        let mut entries = 0u64;
        let mut last_id = 0u64;
        for index in start..self.staged.len() {
            let report = self.staged[index];
            if let VenueReport::Fill(fill) = report {
                entries += 1;
                last_id = last_id.max(fill.venue_trade_id);
                if fill.client_order_id.0 == 0 {
                    self.unresolved.push(fill);
                    continue;
                }
            }
            self.staged[kept] = report;
            kept += 1;
        }
        self.staged.truncate(kept);
        let Some(run) = self.reconcile.as_mut() else {
            return false;
        };
        if entries < RECONCILE_PAGE || last_id <= run.trades_after {
            return false;
        }
        run.trades_after = last_id;
        true
    }

    /// An `allOrders` page arrived (staged from `start`): the orders `unresolved` names are
    /// kept, the rest dropped. True when a full page stopped short of the highest order id
    /// still wanted. On the last page the held fills go out under their orders' ids (an
    /// operator's order under its venue id, see `VenueOpenOrder::tracked_id`), each
    /// order's `ResolvedOrder` after its fills.
    fn resolve_orders(&mut self, start: usize) -> bool {
        let mut entries = 0u64;
        let mut last_order_id = 0u64;
        for index in start..self.staged.len() {
            if let VenueReport::ResolvedOrder { order, .. } = self.staged[index] {
                entries += 1;
                last_order_id = last_order_id.max(order.venue_order_id);
                let wanted = self
                    .unresolved
                    .iter()
                    .any(|f| f.venue_order_id == order.venue_order_id && f.symbol == order.symbol);
                if wanted {
                    self.resolved.push(self.staged[index]);
                }
            }
        }
        self.staged.truncate(start);
        let highest_wanted = self.unresolved.iter().map(|f| f.venue_order_id).max();
        if let Some(run) = self.reconcile.as_mut() {
            if entries >= RECONCILE_PAGE && highest_wanted.is_some_and(|h| h > last_order_id) {
                run.orders_from = last_order_id + 1;
                return true;
            }
        }
        for index in 0..self.unresolved.len() {
            let mut fill = self.unresolved[index];
            let order = self.resolved.iter().find_map(|report| match report {
                VenueReport::ResolvedOrder { order, .. }
                    if order.venue_order_id == fill.venue_order_id =>
                {
                    Some(*order)
                }
                _ => None,
            });
            match order {
                Some(order) => {
                    fill.client_order_id = order.tracked_id();
                    self.staged.push(VenueReport::Fill(fill));
                }
                None => self.counters.unresolved_trades += 1,
            }
        }
        self.staged.extend_from_slice(&self.resolved);
        self.unresolved.clear();
        self.resolved.clear();
        false
    }

    /// Sends the current reconciliation's next step, or reports it done.
    fn advance_reconcile(&mut self, now_ns: u64) {
        loop {
            let Some(run) = self.reconcile else {
                match self.reconcile_queue.pop_front() {
                    Some(next) => {
                        self.reconcile = Some(next);
                        self.unresolved.clear();
                        self.resolved.clear();
                        continue;
                    }
                    None => return,
                }
            };
            let steps = Self::reconcile_steps(run.market);
            let Some(step) = steps.get(run.step) else {
                self.report(VenueReport::ReconcileDone {
                    symbol: run.symbol,
                    ok: run.ok,
                });
                self.reconcile = None;
                continue;
            };
            let scope = self.scope_of(run.symbol, run.market);
            let from_order_id = match step {
                ReconcileStep::Orders => {
                    let Some(lowest) = self.unresolved.iter().map(|f| f.venue_order_id).min()
                    else {
                        // Every trade named an order we know: nothing to look up.
                        if let Some(run) = self.reconcile.as_mut() {
                            run.step += 1;
                        }
                        continue;
                    };
                    run.orders_from.max(lowest)
                }
                _ => 0,
            };
            let (request, kind, route) = reconcile_request(*step, scope, &run, from_order_id);
            let pending = Pending {
                kind,
                market: run.market,
                route,
                symbol: run.symbol,
                client_order_id: ClientOrderId(0),
            };
            if self.send_rest(&request, RestPurpose::Reconcile(pending), now_ns, None) {
                return;
            }
            // Not sent (throttled or the queue is full): this run is incomplete.
            if let Some(run) = self.reconcile.as_mut() {
                run.ok = false;
                run.step = steps.len();
            }
            self.unresolved.clear();
            self.resolved.clear();
        }
    }

    // ----- connections --------------------------------------------------------------------

    fn connect(&mut self, url: String, endpoint: &WsEndpoint) -> Result<WsConnection, WsError> {
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        WsConnection::connect(
            id,
            url,
            endpoint,
            self.tls.clone(),
            self.ws_config,
            self.poll.registry(),
        )
    }

    fn start_connecting(&mut self, now_ns: u64) {
        let url = self.config.ws_api_url.clone();
        let endpoint = self.api_endpoint.clone();
        match self.connect(url, &endpoint) {
            Ok(conn) => {
                self.api = Some(conn);
                self.phase = Phase::Connecting;
                self.subscribed = false;
                self.reset_logon();
                self.opened_ns = now_ns;
            }
            Err(error) => {
                self.last_error = Some(error.to_string());
                self.reconnect_at_ns = now_ns.saturating_add(self.backoff.next_delay_ns());
            }
        }
    }

    fn connect_private(&mut self, now_ns: u64) {
        let Some(key) = self.listen_key else {
            return;
        };
        let url = format!(
            "{}/private/ws/{}",
            self.config.user_stream_base_url,
            key.as_str()
        );
        let endpoint = match WsEndpoint::with_addr(&url, self.api_endpoint.addr) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                self.last_error = Some(error.to_string());
                return;
            }
        };
        match self.connect(url, &endpoint) {
            Ok(conn) => self.private = Some(conn),
            Err(error) => {
                self.last_error = Some(error.to_string());
                self.connection_lost(now_ns);
            }
        }
    }

    /// A connection closed or failed: every order request in flight has an unknown outcome,
    /// the link is down until resubscribed.
    fn connection_lost(&mut self, now_ns: u64) {
        if let Some(mut api) = self.api.take() {
            api.close();
        }
        if let Some(mut private) = self.private.take() {
            private.close();
        }
        self.subscribed = false;
        self.reset_logon();
        for slot in &mut self.tokens {
            // The next connection subscribes with the newest token anyway.
            slot.subscribed = false;
            slot.resubscribe = false;
        }
        let lost: Vec<InFlight> = self.in_flight.drain().map(|(_, v)| v).collect();
        for flight in lost {
            self.unknown_outcome(&flight.pending);
        }
        if self.ever_up && !self.down_reported {
            self.report(VenueReport::Link(LinkState::Down));
            self.down_reported = true;
        }
        if self.phase != Phase::Down {
            self.counters.reconnects += 1;
        }
        self.phase = Phase::Down;
        self.reconnect_at_ns = now_ns.saturating_add(self.backoff.next_delay_ns());
    }

    fn unknown_outcome(&mut self, pending: &Pending) {
        if matches!(
            pending.kind,
            ReplyKind::Place | ReplyKind::PlaceOco | ReplyKind::Cancel
        ) {
            self.report(VenueReport::StatusUnknown {
                client_order_id: pending.client_order_id,
            });
        }
    }

    fn link_ready(&mut self, now_ns: u64) {
        let ready = match self.market {
            Market::UsdmFutures => {
                self.api.as_ref().is_some_and(WsConnection::is_open)
                    && self.private.as_ref().is_some_and(WsConnection::is_open)
            }
            _ => self.subscribed,
        };
        if ready && self.phase != Phase::Up {
            self.phase = Phase::Up;
            self.backoff.on_stable(self.opened_ns, now_ns);
            if self.ever_up {
                self.report(VenueReport::Link(LinkState::Up));
            }
            self.ever_up = true;
            self.down_reported = false;
        }
    }

    /// Connects, subscribes, renews and keeps alive as due.
    fn maintain(&mut self, now_ns: u64) {
        let now_ms = self.local_ms(now_ns);
        if !self.time_requested && self.clock.needs_resync(now_ms) {
            self.time_requested =
                self.send_rest(&Request::ServerTime, RestPurpose::ServerTime, now_ns, None);
        }
        if self.phase == Phase::Down && now_ns >= self.reconnect_at_ns {
            self.start_connecting(now_ns);
        }
        if self.market == Market::UsdmFutures {
            if self.listen_key.is_none() && !self.listen_key_requested {
                self.listen_key_requested = self.send_rest(
                    &Request::ListenKey(ListenKeyAction::Open),
                    RestPurpose::ListenKey(ListenKeyAction::Open),
                    now_ns,
                    None,
                );
            }
            if self.listen_key.is_some() && now_ns >= self.next_keepalive_ns {
                self.next_keepalive_ns = now_ns.saturating_add(
                    self.config
                        .listen_key_keepalive_ms
                        .saturating_mul(1_000_000),
                );
                self.send_rest(
                    &Request::ListenKey(ListenKeyAction::KeepAlive),
                    RestPurpose::ListenKey(ListenKeyAction::KeepAlive),
                    now_ns,
                    None,
                );
            }
            if self.phase == Phase::Connecting
                && self.private.is_none()
                && self.listen_key.is_some()
            {
                self.connect_private(now_ns);
            }
        }
        self.maintain_tokens(now_ns);
    }

    /// Drives both connections; frames go to the reply and user-data handlers.
    fn drive(&mut self, now_ns: u64) -> bool {
        let mut worked = false;
        let mut lost = false;
        let mut bytes = std::mem::take(&mut self.frame_bytes);
        let mut ends = std::mem::take(&mut self.frame_ends);
        bytes.clear();
        ends.clear();
        let drive_all = now_ns >= self.next_drive_all_ns;
        if drive_all {
            self.next_drive_all_ns = now_ns.saturating_add(DRIVE_ALL_EVERY_NS);
        }
        // One non-blocking epoll_wait says which sockets have something (edge-triggered:
        // a connection that is driven reads until WouldBlock, so nothing is left behind).
        if self
            .poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .is_err()
        {
            self.counters.poll_errors += 1;
        }
        let ready = |conn: &WsConnection| {
            self.events
                .iter()
                .any(|event| event.token().0 as u64 == conn.id())
        };
        let due = [self.api.as_ref(), self.private.as_ref()]
            .map(|c| c.is_some_and(|c| drive_all || !c.is_open() || c.write_pending() || ready(c)));
        for ((is_api, slot), due) in [(true, &mut self.api), (false, &mut self.private)]
            .into_iter()
            .zip(due)
        {
            let Some(conn) = slot.as_mut().filter(|_| due) else {
                continue;
            };
            let result = conn.drive(&mut |_kind, payload: &[u8], _recv_ns| {
                bytes.extend_from_slice(payload);
                ends.push((is_api, bytes.len()));
            });
            match result {
                Ok(report) => {
                    worked |= report.frames > 0 || report.opened;
                    lost |= report.closed_by_server;
                }
                Err(error) => {
                    self.last_error = Some(error.to_string());
                    lost = true;
                }
            }
        }
        let mut start = 0;
        for &(is_api, end) in &ends {
            let frame = &bytes[start..end];
            start = end;
            if is_api {
                self.on_api_frame(frame, now_ns);
            } else {
                self.on_user_frame(frame, now_ns);
            }
        }
        self.frame_bytes = bytes;
        self.frame_ends = ends;
        if lost {
            self.connection_lost(now_ns);
            return true;
        }
        let subscribe_due = self.market == Market::Spot
            && self.phase == Phase::Connecting
            && !self.subscribed
            && self.api.as_ref().is_some_and(WsConnection::is_open)
            && !self
                .in_flight
                .values()
                .any(|f| f.pending.kind == ReplyKind::SubscribeUserData);
        if subscribe_due {
            self.subscribe(now_ns);
        }
        let logon_due = self.logon == Logon::NotSent
            && self.codec.has_logon_key()
            && self.api.as_ref().is_some_and(WsConnection::is_open);
        if logon_due {
            self.send_logon(now_ns);
        }
        if self.market == Market::Margin {
            self.subscribe_tokens_due(now_ns);
        }
        self.link_ready(now_ns);
        worked
    }

    fn subscribe(&mut self, now_ns: u64) {
        let pending = Pending {
            kind: ReplyKind::SubscribeUserData,
            market: self.market,
            route: OrderRoute::Book,
            symbol: SymbolId(0),
            client_order_id: ClientOrderId(0),
        };
        let request = Request::SubscribeUserData { after_logon: false };
        if let Err(error) = self.send_ws_control(&request, pending, now_ns) {
            self.last_error = Some(error);
            self.connection_lost(now_ns);
        }
    }

    /// A new connection starts logged off: HMAC-signed until its own logon succeeds.
    fn reset_logon(&mut self) {
        self.logon = Logon::NotSent;
        self.codec.set_session_authenticated(false);
    }

    fn send_logon(&mut self, now_ns: u64) {
        let pending = Pending {
            kind: ReplyKind::Logon,
            market: self.market,
            route: OrderRoute::Book,
            symbol: SymbolId(0),
            client_order_id: ClientOrderId(0),
        };
        match self.send_ws_control(&Request::Logon, pending, now_ns) {
            Ok(()) => self.logon = Logon::InFlight,
            Err(error) => self.logon_failed(format!("session.logon not sent: {error}")),
        }
    }

    /// The logon did not succeed: counted, kept for the operator, orders stay HMAC-signed.
    fn logon_failed(&mut self, why: String) {
        self.logon = Logon::Refused;
        self.counters.logons_refused += 1;
        self.last_error = Some(why);
    }

    fn on_logon_reply(&mut self, outcome: &Result<ReplyOutcome, super::ParseError>) {
        match outcome {
            Ok(ReplyOutcome::LoggedOn) => {
                self.logon = Logon::LoggedOn;
                self.codec.set_session_authenticated(true);
                self.counters.logons += 1;
            }
            Ok(ReplyOutcome::Refused(reject) | ReplyOutcome::TimestampRejected(reject)) => {
                self.logon_failed(format!("session.logon refused: code {}", reject.code))
            }
            Ok(other) => self.logon_failed(format!("session.logon answered {other:?}")),
            Err(error) => self.logon_failed(format!("session.logon reply: {error}")),
        }
    }

    /// A signed request outside the order path (no latency recorded, no rate refusal).
    fn send_ws_control(
        &mut self,
        request: &Request<'_>,
        pending: Pending,
        now_ns: u64,
    ) -> Result<(), String> {
        self.send_ws_control_for(request, pending, None, now_ns)
    }

    fn send_ws_control_for(
        &mut self,
        request: &Request<'_>,
        pending: Pending,
        token_slot: Option<usize>,
        now_ns: u64,
    ) -> Result<(), String> {
        let now_ms = self.local_ms(now_ns);
        let id = self.next_request_id;
        let timestamp = self.clock.timestamp_ms(now_ms);
        let text = self
            .codec
            .ws(request, timestamp, id)
            .map_err(|e| e.to_string())?
            .text_str()
            .to_owned();
        let api = self.api.as_mut().ok_or("no WebSocket API connection")?;
        api.send_text(text).map_err(|e| e.to_string())?;
        self.next_request_id += 1;
        self.in_flight.insert(
            id,
            InFlight {
                pending,
                sent_ns: now_ns,
                token_slot,
            },
        );
        Ok(())
    }

    fn on_api_frame(&mut self, frame: &[u8], now_ns: u64) {
        match ws_frame_kind(frame) {
            Ok(WsFrameKind::Event) => self.on_user_frame(frame, now_ns),
            Ok(WsFrameKind::Reply) => self.on_ws_reply(frame, now_ns),
            Err(error) => self.parse_failed(&error),
        }
    }

    fn parse_failed(&mut self, error: &super::ParseError) {
        self.counters.parse_errors += 1;
        self.last_error = Some(error.to_string());
    }

    fn on_ws_reply(&mut self, frame: &[u8], now_ns: u64) {
        let reply = match ws_reply(frame) {
            Ok(reply) => reply,
            Err(error) => return self.parse_failed(&error),
        };
        let Some(flight) = reply.id.and_then(|id| self.in_flight.remove(&id)) else {
            self.counters.unmatched_replies += 1;
            return;
        };
        let now_ms = self.local_ms(now_ns);
        self.limiter.on_ws_rate_limits(&reply.rate_limits, now_ms);
        let start = self.staged.len();
        let outcome = {
            let ids = &self.order_ids;
            let lookup = |symbol: SymbolId, venue_id: u64| ids.get(&(symbol, venue_id)).copied();
            let context = ReplyContext {
                symbols: self.codec.symbols(),
                orders: &lookup,
            };
            parse_ws_reply(&reply, now_ms, &flight.pending, &context, &mut self.staged)
        };
        match flight.token_slot {
            Some(slot) => self.on_token_subscribed(slot, outcome, now_ns),
            None => self.after_reply(outcome, &flight.pending, start, now_ns),
        }
    }

    fn after_reply(
        &mut self,
        outcome: Result<ReplyOutcome, super::ParseError>,
        pending: &Pending,
        staged_from: usize,
        now_ns: u64,
    ) {
        let now_ms = self.local_ms(now_ns);
        for index in staged_from..self.staged.len() {
            let report = self.staged[index];
            self.remember_ids(&report, Some(pending.symbol));
        }
        if pending.kind == ReplyKind::Logon {
            self.on_logon_reply(&outcome);
        }
        match outcome {
            Ok(ReplyOutcome::Refused(reject)) => match reject.kind {
                RejectKind::RateLimited => {
                    self.counters.venue_throttled += 1;
                    self.limiter.on_too_many_requests(
                        Some(reject.retry_after_ms).filter(|&ms| ms > 0),
                        now_ms,
                    );
                }
                RejectKind::Banned => {
                    self.counters.venue_throttled += 1;
                    self.limiter
                        .on_banned(Some(reject.retry_after_ms).filter(|&ms| ms > 0), now_ms);
                }
                _ => {}
            },
            Ok(ReplyOutcome::TimestampRejected(reject)) => {
                // Resync now; the manager retries once with the same client id.
                self.counters.timestamp_resyncs += 1;
                self.clock.on_timestamp_rejected(false);
                self.time_requested =
                    self.send_rest(&Request::ServerTime, RestPurpose::ServerTime, now_ns, None);
                let report = match pending.kind {
                    ReplyKind::Place | ReplyKind::PlaceOco => Some(VenueReport::Rejected {
                        client_order_id: pending.client_order_id,
                        reject,
                    }),
                    ReplyKind::Cancel => Some(VenueReport::CancelRejected {
                        client_order_id: pending.client_order_id,
                        reject,
                    }),
                    _ => None,
                };
                if let Some(report) = report {
                    self.report(report);
                }
            }
            Ok(ReplyOutcome::Subscribed { .. }) => {
                self.subscribed = true;
                self.link_ready(now_ns);
            }
            Ok(ReplyOutcome::ServerTime { .. })
            | Ok(ReplyOutcome::ListenKey(_))
            | Ok(ReplyOutcome::ListenToken(_))
            | Ok(ReplyOutcome::LoggedOn)
            | Ok(ReplyOutcome::Reported { .. })
            | Ok(ReplyOutcome::Unknown) => {}
            Err(error) => {
                self.parse_failed(&error);
                // A reply we could not read leaves the order's outcome unknown.
                self.unknown_outcome(pending);
            }
        }
        if pending.kind == ReplyKind::SubscribeUserData && !self.subscribed {
            self.last_error = Some("user-data subscription refused".to_owned());
            self.connection_lost(now_ns);
        }
    }

    fn remember_ids(&mut self, report: &VenueReport, symbol: Option<SymbolId>) {
        let (symbol, venue_id, client) = match *report {
            VenueReport::Accepted {
                client_order_id,
                venue_order_id,
                ..
            } => match symbol {
                Some(symbol) => (symbol, venue_order_id, client_order_id),
                None => return,
            },
            VenueReport::Fill(fill) => (fill.symbol, fill.venue_order_id, fill.client_order_id),
            VenueReport::OpenOrder(open) => match open.client_order_id {
                Some(id) => (open.symbol, open.venue_order_id, id),
                None => return,
            },
            _ => return,
        };
        if self.order_ids.len() < ORDER_IDS || self.order_ids.contains_key(&(symbol, venue_id)) {
            self.order_ids.insert((symbol, venue_id), client);
        }
    }

    fn on_user_frame(&mut self, frame: &[u8], now_ns: u64) {
        self.counters.user_events += 1;
        let start = self.staged.len();
        let market = self.market;
        // A triggered algo order's updates name it by a venue-made client id: its venue id,
        // mapped when the ALGO_UPDATE said which order it became, names kestrel's order.
        let ids = &self.order_ids;
        let known = |symbol: SymbolId, venue_id: u64| ids.get(&(symbol, venue_id)).copied();
        let outcome = parse_user_data_with(
            frame,
            self.codec.symbols(),
            market,
            &known,
            &mut self.staged,
        );
        for index in start..self.staged.len() {
            let report = self.staged[index];
            self.remember_ids(&report, None);
        }
        match outcome {
            Ok(outcome) => match outcome.note {
                Some(UserDataNote::AlgoBecameOrder {
                    client_order_id,
                    venue_order_id,
                }) => {
                    for symbol in 0..self.reference.len() {
                        self.order_ids
                            .insert((SymbolId(symbol as u32), venue_order_id), client_order_id);
                    }
                }
                Some(UserDataNote::StreamEnded) => {
                    // The parser reported Link(Down): renew and reconnect. The event does not
                    // say which margin subscription ended, so every token is replaced.
                    self.down_reported = true;
                    if self.market == Market::Margin {
                        for slot in &mut self.tokens {
                            slot.token = None;
                            slot.renew_at_ns = 0;
                        }
                        self.counters.listen_token_renewals += 1;
                    } else {
                        self.listen_key = None;
                        self.listen_key_requested = false;
                        self.counters.listen_key_renewals += 1;
                    }
                    self.connection_lost(now_ns);
                }
                _ => {}
            },
            Err(error) => self.parse_failed(&error),
        }
    }

    fn on_rest_reply(&mut self, mut reply: RestReply, now_ns: u64) {
        self.reuse_rest_buffers(std::mem::take(&mut reply.spent));
        let Some(purpose) = self.rest_pending.remove(&reply.token) else {
            self.counters.unmatched_replies += 1;
            return;
        };
        let now_ms = self.local_ms(now_ns);
        for (name, value) in &reply.limit_headers {
            let _ = self.limiter.on_header(name, value, now_ms);
        }
        if let Some(error) = &reply.error {
            self.last_error = Some(error.clone());
        }
        let pending = match purpose {
            RestPurpose::Order(pending) | RestPurpose::Reconcile(pending) => pending,
            RestPurpose::ServerTime => Pending {
                kind: ReplyKind::ServerTime,
                market: self.market,
                route: OrderRoute::Book,
                symbol: SymbolId(0),
                client_order_id: ClientOrderId(0),
            },
            RestPurpose::ListenKey(_) => Pending {
                kind: ReplyKind::ListenKey,
                market: self.market,
                route: OrderRoute::Book,
                symbol: SymbolId(0),
                client_order_id: ClientOrderId(0),
            },
            RestPurpose::ListenToken(_) => Pending {
                kind: ReplyKind::ListenToken,
                market: Market::Margin,
                route: OrderRoute::Book,
                symbol: SymbolId(0),
                client_order_id: ClientOrderId(0),
            },
        };
        let start = self.staged.len();
        let outcome = if reply.status == 0 {
            self.unknown_outcome(&pending);
            Ok(ReplyOutcome::Unknown)
        } else {
            let ids = &self.order_ids;
            let lookup = |symbol: SymbolId, venue_id: u64| ids.get(&(symbol, venue_id)).copied();
            let context = ReplyContext {
                symbols: self.codec.symbols(),
                orders: &lookup,
            };
            parse_rest_reply(
                reply.status,
                reply.retry_after_ms,
                &reply.body,
                &pending,
                &context,
                &mut self.staged,
            )
        };
        match purpose {
            RestPurpose::ServerTime => {
                self.time_requested = false;
                if let Ok(ReplyOutcome::ServerTime { server_time_ms }) = outcome {
                    self.clock.on_server_time(
                        reply.sent_wall_ms,
                        reply.received_wall_ms,
                        server_time_ms,
                    );
                }
            }
            RestPurpose::ListenKey(action) => match outcome {
                Ok(ReplyOutcome::ListenKey(key)) => {
                    let changed = self.listen_key.is_some_and(|old| old != key);
                    self.listen_key = Some(key);
                    self.listen_key_requested = false;
                    if action == ListenKeyAction::Open {
                        self.next_keepalive_ns = now_ns.saturating_add(
                            self.config
                                .listen_key_keepalive_ms
                                .saturating_mul(1_000_000),
                        );
                    }
                    if changed {
                        self.connection_lost(now_ns);
                    }
                }
                Ok(ReplyOutcome::Refused(_)) | Ok(ReplyOutcome::Unknown) | Err(_) => {
                    // Expired or unknown key: open a new one and resubscribe.
                    self.listen_key = None;
                    self.listen_key_requested = false;
                    self.counters.listen_key_renewals += 1;
                    if self.phase == Phase::Up {
                        self.connection_lost(now_ns);
                    }
                }
                Ok(_) => self.listen_key_requested = false,
            },
            RestPurpose::ListenToken(slot) => {
                if let Err(error) = &outcome {
                    self.parse_failed(error);
                }
                self.on_listen_token(slot, &outcome, now_ns);
            }
            RestPurpose::Order(_) => self.after_reply(outcome, &pending, start, now_ns),
            RestPurpose::Reconcile(_) => {
                let failed = !matches!(outcome, Ok(ReplyOutcome::Reported { .. }));
                let more = match pending.kind {
                    ReplyKind::Trades if !failed => self.hold_unresolved_trades(start),
                    ReplyKind::AllOrders if !failed => self.resolve_orders(start),
                    _ => false,
                };
                for index in start..self.staged.len() {
                    let report = self.staged[index];
                    self.remember_ids(&report, Some(pending.symbol));
                    if let (OrderRoute::Algo, VenueReport::OpenOrder(open)) =
                        (pending.route, report)
                    {
                        if let Some(id) = open.client_order_id {
                            self.remember_algo(id);
                        }
                    }
                }
                if let Err(error) = &outcome {
                    self.parse_failed(error);
                }
                if failed {
                    // Held fills cannot be resolved in this run; the retry fetches them again.
                    self.unresolved.clear();
                    self.resolved.clear();
                }
                if let Some(run) = self.reconcile.as_mut() {
                    run.ok &= !failed;
                    if !more {
                        run.step += 1;
                    }
                }
                self.advance_reconcile(now_ns);
            }
        }
    }

    fn expire_requests(&mut self, now_ns: u64) {
        let timeout_ns = self.config.request_timeout_ms.saturating_mul(1_000_000);
        self.expired.clear();
        for (id, flight) in &self.in_flight {
            if now_ns.saturating_sub(flight.sent_ns) >= timeout_ns {
                self.expired.push(*id);
            }
        }
        if self.expired.is_empty() {
            return;
        }
        let mut subscribe_lost = false;
        for index in 0..self.expired.len() {
            let id = self.expired[index];
            if let Some(flight) = self.in_flight.remove(&id) {
                self.counters.timeouts += 1;
                subscribe_lost |= flight.pending.kind == ReplyKind::SubscribeUserData;
                if flight.pending.kind == ReplyKind::Logon {
                    self.logon_failed("session.logon unanswered".to_owned());
                }
                self.unknown_outcome(&flight.pending);
            }
        }
        self.report(VenueReport::Link(LinkState::Timeout));
        if subscribe_lost {
            self.connection_lost(now_ns);
        }
    }

    fn hand_over(&mut self, reports: &mut Outbox<VenueReport>) -> bool {
        let mut moved = false;
        while let Some(report) = self.backlog.front().copied() {
            if reports.push(report).is_err() {
                break;
            }
            self.backlog.pop_front();
            moved = true;
        }
        for report in self.staged.drain(..) {
            moved = true;
            if !self.backlog.is_empty() || reports.push(report).is_err() {
                self.backlog.push_back(report);
            }
        }
        moved
    }
}

/// Why a WebSocket send did not happen.
enum SendError {
    Build(BuildError),
    Throttled(VenueReject),
    Link,
}

/// The request one reconciliation step sends about `run`'s symbol in `scope`'s account
/// (`from_order_id`: where an `Orders` page starts), with the reply it expects.
fn reconcile_request(
    step: ReconcileStep,
    scope: SymbolScope,
    run: &ReconcileRun,
    from_order_id: u64,
) -> (Request<'static>, ReplyKind, OrderRoute) {
    match step {
        ReconcileStep::OpenOrders(route) => (
            Request::OpenOrders { scope, route },
            ReplyKind::OpenOrders,
            route,
        ),
        ReconcileStep::Trades => (
            Request::Trades {
                scope,
                since_trade_id: run.trades_after,
            },
            ReplyKind::Trades,
            OrderRoute::Book,
        ),
        ReconcileStep::Orders => (
            Request::AllOrders {
                scope,
                from_order_id,
            },
            ReplyKind::AllOrders,
            OrderRoute::Book,
        ),
        ReconcileStep::Account => (
            Request::Account { scope },
            ReplyKind::Account,
            OrderRoute::Book,
        ),
        ReconcileStep::Positions => (
            Request::Positions {
                symbol: Some(run.symbol),
            },
            ReplyKind::Positions,
            OrderRoute::Book,
        ),
    }
}

#[derive(Clone, Copy, Debug)]
enum ReconcileStep {
    OpenOrders(OrderRoute),
    /// Our trades since the manager's floor, page by page.
    Trades,
    /// The orders of trades whose venue order id nobody here knew (`allOrders`).
    Orders,
    Account,
    Positions,
}

impl Venue for BinanceGateway {
    fn last_wire_ns(&self) -> Option<u64> {
        Some(BinanceGateway::last_wire_ns(self))
    }

    fn submit(&mut self, command: &VenueCommand, now_ns: u64) {
        match *command {
            VenueCommand::Reconcile {
                symbol,
                market,
                since_trade_id,
            } => {
                let run = ReconcileRun::new(symbol, market, since_trade_id);
                if self.reconcile.is_none() {
                    self.reconcile = Some(run);
                    self.unresolved.clear();
                    self.resolved.clear();
                    self.advance_reconcile(now_ns);
                } else {
                    self.reconcile_queue.push_back(run);
                }
            }
            _ => self.send_command(command, now_ns),
        }
    }

    fn on_market(&mut self, event: &MarketEvent) -> bool {
        let price = match event.kind {
            MarketEventKind::Trade(trade) => trade.price,
            MarketEventKind::BookTicker(ticker) => ticker.bid_price,
            MarketEventKind::Book(top) if top.valid && top.bid_count > 0 => top.bids[0].price,
            MarketEventKind::Book(_) => return false,
        };
        if let Some(slot) = self.reference.get_mut(event.symbol.index()) {
            *slot = price;
        }
        false
    }

    fn poll(&mut self, now_ns: u64, reports: &mut Outbox<VenueReport>) -> bool {
        self.maintain(now_ns);
        let mut worked = self.drive(now_ns);
        while let Some(reply) = self.rest.try_recv() {
            self.on_rest_reply(reply, now_ns);
            worked = true;
        }
        self.expire_requests(now_ns);
        if let Some(latency) = self.latency.as_mut() {
            latency.encode_sign.publish();
            latency.send.publish();
        }
        let handed = self.hand_over(reports);
        if !(worked | handed) && now_ns >= self.next_warm_ns {
            self.next_warm_ns = now_ns.saturating_add(WARM_EVERY_NS);
            self.warm(now_ns);
        }
        worked | handed
    }
}
