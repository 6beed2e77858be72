//! Owns: the non-blocking venue WebSocket transport (mio + rustls + tungstenite): connections,
//! reconnect policy, rotation, stream planning and health counters. Never: decodes venue JSON,
//! logs, sleeps or blocks (name resolution happens once, at construction).
//!
//! Layout: `conn` drives one socket through connect → TLS/WS handshake → open; `feed` is the
//! public face of one feed (one slot per stream group, its events and counters); `policy` makes
//! the per-slot decisions (timers, reconnects, rotation, subscription sync); `backoff` is the
//! pure reconnect-delay math; `plan` builds URLs and control messages; `tls` the rustls config;
//! `config` the settings.
//!
//! Driving it (feed thread): build once with `WsFeed::new` (resolves names, blocking), then on
//! every loop turn call `poll(now_ns, |meta, payload| …)` — it never blocks, delivers frames in
//! receive order stamped with `meta.recv_ns`, and performs every due reconnect, rotation and
//! subscription change — then forward `drain_events()` and `counters()` to the ops thread.
//! During a rotation both connections of a slot may deliver the same updates: de-duplicate by
//! the venue's update id (`meta.conn_id` and `meta.seq` say which connection and in what order).

mod backoff;
mod config;
mod conn;
mod feed;
mod plan;
mod policy;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use backoff::{AttemptBudget, ReconnectBackoff, SplitMix64};
pub use config::WsFeedConfig;
pub use conn::{ConnPhase, DriveReport, FrameKind, WsConnection};
pub use feed::{DisconnectReason, FrameMeta, WsCounters, WsEvent, WsFeed, EVENT_CAPACITY};
pub use plan::{
    combined_stream_url, control_message, normalize_stream, parse_url, split_streams,
    ControlMethod, ParsedUrl, WsEndpoint,
};
pub use tls::{client_config, client_config_with, load_certs};

/// Why a WebSocket operation failed, with the URL, peer and connection phase it happened in.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The URL cannot be used.
    #[error("bad url {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Name resolution failed.
    #[error("resolving {url}: {source}")]
    Resolve {
        /// The URL whose host failed to resolve.
        url: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// A trusted-certificate file could not be read.
    #[error("reading certificate file {path}: {source}")]
    CertFile {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The TLS configuration or server name is unusable.
    #[error("tls: {detail}")]
    Tls {
        /// What was rejected.
        detail: String,
    },
    /// The feed configuration is inconsistent.
    #[error("config: {detail}")]
    Config {
        /// What is inconsistent.
        detail: String,
    },
    /// A socket call failed.
    #[error("io on {url} (peer {peer}, {phase}): {source}")]
    Io {
        /// The request URL.
        url: String,
        /// The remote address.
        peer: SocketAddr,
        /// The connection phase.
        phase: ConnPhase,
        /// The socket error.
        source: std::io::Error,
    },
    /// tungstenite rejected the handshake or a frame.
    #[error("websocket on {url} (peer {peer}, {phase}): {source}")]
    Protocol {
        /// The request URL.
        url: String,
        /// The remote address.
        peer: SocketAddr,
        /// The connection phase.
        phase: ConnPhase,
        /// tungstenite's error.
        source: Box<tungstenite::Error>,
    },
    /// Connect + handshake took longer than the configured timeout.
    #[error("connect timeout on {url} (peer {peer}, {phase})")]
    ConnectTimeout {
        /// The request URL.
        url: String,
        /// The remote address.
        peer: SocketAddr,
        /// The phase it was stuck in.
        phase: ConnPhase,
    },
    /// A control message was refused because our write buffer is full.
    #[error("write buffer full on {url} (peer {peer})")]
    WriteBufferFull {
        /// The request URL.
        url: String,
        /// The remote address.
        peer: SocketAddr,
    },
    /// The slot has no open connection to write to.
    #[error("slot {slot} has no open connection")]
    NoOpenConnection {
        /// The slot index.
        slot: usize,
    },
    /// The readiness poll itself failed.
    #[error("mio poll: {source}")]
    Poll {
        /// The poll error.
        source: std::io::Error,
    },
    /// The connection is not open.
    #[error("not open: {url} (peer {peer}, {phase})")]
    NotOpen {
        /// The request URL.
        url: String,
        /// The remote address.
        peer: SocketAddr,
        /// The phase it is in.
        phase: ConnPhase,
    },
}
