//! Owns: `simex`, the local exchange simulator: Binance spot and USDⓈ-M WS market streams
//! and REST market data on loopback, replaying recorded captures, and the order side: a
//! matching engine trading against the replayed books behind Binance's REST order
//! endpoints, WS API and user-data streams, with fault injection for tests. Never: runs on
//! the engine's hot path, invents payload shapes (streams are replayed byte for byte,
//! replies copy the real shapes in `data/real`), or blocks the replay on a slow client.
//!
//! Layout, market side: `config` (what to serve), `capture` (capture lines → frames),
//! `book` (the exchange-side book), `replay` (the shared replay clock and fan-out),
//! `faults` (the control handle's switches), `conn` (plain/TLS sockets), `http` (REST),
//! `ws` (streams), `server` (listeners, threads, the handle).
//! Order side: `orders` (vocabulary), `matching` (against the replayed book), `account`
//! (balances, positions), `exchange` (the venue state machine), `shapes_spot` and
//! `shapes_futures` (wire JSON), `json_out` (ordered JSON writer), `auth` (params,
//! signatures, recvWindow), `limits` (weights, order counts), `api` (operations shared by
//! REST and WS API), `requests` (their parameters), `orders_http` (REST front door),
//! `session` (order-side WebSocket loop), `ws_api`, `user_stream` (subscribers, listenKey,
//! events), `order_side` (one market's shared order state), `wire` (wire-to-wire).

mod account;
mod api;
mod auth;
mod book;
mod capture;
mod config;
mod conn;
mod exchange;
mod faults;
mod http;
mod json_out;
mod klines;
mod limits;
mod matching;
mod order_side;
mod orders;
mod orders_http;
mod replay;
mod requests;
mod server;
mod session;
mod shapes_futures;
mod shapes_spot;
mod user_stream;
mod wire;
mod ws;
mod ws_api;

use std::path::PathBuf;

pub use auth::ApiKey;
pub use book::ExchangeBook;
pub use config::{
    docs_ed25519_public_key, FaultPlan, FeeAsset, Market, MarketReplay, OrderSideConfig,
    SimexConfig, Speed, StallPlan, DOCS_API_KEY, DOCS_API_SECRET, DOCS_ED25519_PRIVATE_KEY_PEM,
    DOCS_ED25519_PUBLIC_KEY_HEX,
};
pub use conn::Tls;
pub use exchange::AccountSnapshot;
pub use order_side::WsOrderAuthCounts;
pub use orders::{
    AccountKind, AlgoOrder, AlgoStatus, BalanceView, OrderStatus, OrderType, PositionView,
    SimOrder, SimTrade, Tif, WorkingType,
};
pub use server::{run_simex, MarketEndpoint, Simex, SimexHandle};

/// Why the simulator could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot open capture: {0}")]
    Capture(#[from] crate::feed::replay::ReplayError),
    #[error("cannot read capture {path}: {source}")]
    CaptureRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read exchangeInfo {path}: {source}")]
    ExchangeInfo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} for {market:?}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        market: Market,
        source: std::io::Error,
    },
    #[error("cannot create the self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot write the certificate to {path}: {source}")]
    CertOut {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Config(String),
    #[error("simulator thread {0} panicked")]
    ThreadPanicked(&'static str),
}
