//! Owns: `simex`, the local exchange simulator's market side: Binance spot and USDⓈ-M WS
//! market streams and REST market data on loopback, replaying recorded captures, with the
//! exchange-side order book and fault injection for tests. Never: runs on the engine's hot
//! path, invents payload shapes (streams are replayed byte for byte, replies copy the real
//! shapes in `data/`), or blocks the replay on a slow client.
//!
//! Layout: `config` (what to serve), `capture` (capture lines → frames), `book` (the
//! exchange-side book), `replay` (the shared replay clock and fan-out), `faults` (the
//! control handle's switches), `conn` (plain/TLS sockets), `http` (REST), `ws` (streams),
//! `server` (listeners, threads, the handle).

mod book;
mod capture;
mod config;
mod conn;
mod faults;
mod http;
mod replay;
mod server;
mod ws;

use std::path::PathBuf;

pub use book::ExchangeBook;
pub use config::{FaultPlan, Market, MarketReplay, SimexConfig, Speed, StallPlan};
pub use conn::Tls;
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
