//! Owns: the WebSocket feed settings and their defaults. Never: opens connections.

use std::path::PathBuf;

use serde::Deserialize;

const MS: u64 = 1_000_000;

/// Settings for one venue's market-data WebSocket feed. Durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsFeedConfig {
    /// Base URLs, tried in turn on reconnect (failover). Default: Binance spot combined-stream.
    pub urls: Vec<String>,
    /// First reconnect delay ceiling. Default 250 ms.
    pub backoff_base_ms: u64,
    /// Largest reconnect delay ceiling. Default 30 s.
    pub backoff_cap_ms: u64,
    /// A connection up this long resets the backoff exponent. Default 60 s.
    pub backoff_reset_after_stable_ms: u64,
    /// Seed of the jitter RNG (fixed for reproducible runs; vary per process in production).
    pub backoff_seed: u64,
    /// No data frame for this long → reconnect and a `StaleTimeout` event; 0 disables. Default 30 s.
    pub stale_timeout_ms: u64,
    /// TCP connect + TLS + WS handshake must finish within this. Default 10 s.
    pub connect_timeout_ms: u64,
    /// Rotate to a fresh connection after this long (Binance cuts at 24 h); 0 disables.
    /// Default 23 h 30 min.
    pub rotate_after_ms: u64,
    /// The server pings at least this often; silence past twice this is a `PingOverdue` event.
    /// Default 20 s (spot; futures: 180 s).
    pub server_ping_interval_ms: u64,
    /// A pong still unsent after this long means the write side is stuck → reconnect.
    /// Default 60 s (spot; futures: 600 s).
    pub pong_deadline_ms: u64,
    /// Streams per connection. Default 1024 (Binance).
    pub max_streams_per_connection: usize,
    /// Minimum gap between our control messages on one connection (Binance spot allows 5
    /// inbound messages/s including pongs). Default 250 ms.
    pub min_control_interval_ms: u64,
    /// Connection attempts allowed per `attempt_window_ms` (Binance: 300 per 5 min per IP).
    pub max_attempts_per_window: usize,
    /// Window for `max_attempts_per_window`. Default 300 000 ms.
    pub attempt_window_ms: u64,
    /// Trust the bundled webpki (Mozilla) roots. Default true.
    pub use_webpki_roots: bool,
    /// Extra trusted certificates (PEM bundles or DER files), e.g. the simulator's self-signed.
    pub extra_trusted_certs: Vec<PathBuf>,
    /// Bytes asked of the socket per tungstenite read, and the read buffer's starting size.
    /// Default 4 KiB. tungstenite zero-fills this much before every read call, even one that
    /// returns WouldBlock, so a large value costs on every poll: at 128 KiB the fill took about
    /// 12 % of the order thread's time in `kestrel bench e2e`. The buffer still grows to hold
    /// any frame up to `max_message_bytes`; larger frames just take more read calls.
    pub read_buffer_bytes: usize,
    /// Largest accepted message in bytes. Default 16 MiB.
    pub max_message_bytes: usize,
    /// Data frames one poll takes from a connection before handing them on (at least 1).
    /// Default 1: a tick reaches the strategy before the feed pays for the next read, which
    /// on a quiet socket is a syscall that only returns WouldBlock (with rustls, a read
    /// attempt per drained TLS record). Reading to WouldBlock first put 5–7 µs between the
    /// receive stamp and the strategy in `kestrel bench e2e` on the 2-vCPU dev machine.
    /// Larger values trade that latency for fewer poll turns in bursts.
    pub frames_per_poll: u32,
}

impl Default for WsFeedConfig {
    fn default() -> Self {
        Self {
            urls: vec!["wss://stream.binance.com:9443/stream".to_owned()],
            backoff_base_ms: 250,
            backoff_cap_ms: 30_000,
            backoff_reset_after_stable_ms: 60_000,
            backoff_seed: 0x6B65_7374_7265_6C00,
            stale_timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            rotate_after_ms: (23 * 60 + 30) * 60_000,
            server_ping_interval_ms: 20_000,
            pong_deadline_ms: 60_000,
            max_streams_per_connection: 1024,
            min_control_interval_ms: 250,
            max_attempts_per_window: 300,
            attempt_window_ms: 300_000,
            use_webpki_roots: true,
            extra_trusted_certs: Vec::new(),
            read_buffer_bytes: 4 * 1024,
            max_message_bytes: 16 * 1024 * 1024,
            frames_per_poll: 1,
        }
    }
}

impl WsFeedConfig {
    /// Milliseconds → nanoseconds, saturating.
    pub(crate) fn ns(ms: u64) -> u64 {
        ms.saturating_mul(MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_binance_limits() {
        let c = WsFeedConfig::default();
        assert_eq!(c.max_streams_per_connection, 1024);
        assert_eq!(c.rotate_after_ms, 84_600_000);
        assert!(c.rotate_after_ms < 24 * 3_600_000);
        assert!(c.backoff_base_ms < c.backoff_cap_ms);
    }

    #[test]
    fn partial_toml_keeps_defaults_and_rejects_unknown_keys() {
        let c: WsFeedConfig = toml::from_str("stale_timeout_ms = 5000\nurls = [\"ws://h/stream\"]")
            .expect("valid config");
        assert_eq!(c.stale_timeout_ms, 5_000);
        assert_eq!(c.backoff_cap_ms, 30_000);
        assert!(toml::from_str::<WsFeedConfig>("stale_timeout = 5").is_err());
    }
}
