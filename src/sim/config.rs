//! Owns: the simulator's configuration (`[simex]` in TOML, or built by tests). Never: opens
//! files or sockets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which Binance market a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    /// Spot: `/api/v3/…` REST and `/ws`, `/stream` market streams.
    Spot,
    /// USDⓈ-M futures: `/fapi/v1/…` REST and `/public`, `/market` routed streams.
    UsdmFutures,
}

impl Market {
    /// Binance's server ping interval for this market (20 s spot, 3 min futures).
    pub fn default_ping_interval(self) -> Duration {
        match self {
            Market::Spot => Duration::from_secs(20),
            Market::UsdmFutures => Duration::from_secs(180),
        }
    }

    /// How long Binance waits for a pong before dropping (1 min spot, 10 min futures).
    pub fn default_pong_timeout(self) -> Duration {
        match self {
            Market::Spot => Duration::from_secs(60),
            Market::UsdmFutures => Duration::from_secs(600),
        }
    }
}

/// One market served from recorded captures.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketReplay {
    /// The market's protocol.
    pub market: Market,
    /// Capture files (`<recv_ns> <frame>` lines, plain or `.gz`), read in order as one stream.
    pub capture: Vec<PathBuf>,
    /// The exchangeInfo body served verbatim.
    pub exchange_info: PathBuf,
}

/// How fast the capture is replayed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speed {
    /// At the recorded pace.
    RealTime,
    /// At this multiple of the recorded pace.
    Times(f64),
    /// Without pauses: waits while no stream client is subscribed, then is paced by the
    /// subscribed clients' full queues (a client stuck for 10 s is dropped).
    AsFastAsPossible,
}

/// A stall repeated while the simulator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StallPlan {
    /// Time between the starts of two stalls.
    pub every_ms: u64,
    /// Length of each stall.
    pub for_ms: u64,
}

/// Faults active from the start; tests add more through the handle.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Depth frames whose `[U, u]` overlaps one of these inclusive ranges are not sent.
    #[serde(default)]
    pub skip_update_ids: Vec<[u64; 2]>,
    /// Drop every connection this often.
    #[serde(default)]
    pub drop_every_ms: Option<u64>,
    /// Pause the replay periodically.
    #[serde(default)]
    pub stall: Option<StallPlan>,
    /// Send the first this many frames truncated (invalid JSON).
    #[serde(default)]
    pub malformed_frames: u64,
    /// Write the first this many frames in two TCP writes with a pause between.
    #[serde(default)]
    pub split_frames: u64,
    /// Accept and immediately close every connection.
    #[serde(default)]
    pub refuse_connections: bool,
}

/// What `simex` serves and how.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimexConfig {
    /// One listener per market.
    pub markets: Vec<MarketReplay>,
    /// Address of the first market's listener; market `i` listens on port + `i` (port 0: any).
    pub listen: SocketAddr,
    /// Serve TLS with a self-signed certificate for `localhost` and `127.0.0.1`.
    #[serde(default)]
    pub tls: bool,
    /// Replay pace.
    pub speed: Speed,
    /// Faults active from the start.
    #[serde(default)]
    pub faults: FaultPlan,
    /// Server ping interval; the market's Binance default when absent.
    #[serde(default)]
    pub ping_interval_ms: Option<u64>,
    /// Time allowed for a pong; the market's Binance default when absent.
    #[serde(default)]
    pub pong_timeout_ms: Option<u64>,
    /// Frames queued per client before a too-slow client is disconnected.
    #[serde(default = "default_client_queue")]
    pub client_queue_frames: usize,
    /// Where to write the self-signed certificate (PEM) for clients to trust.
    #[serde(default)]
    pub cert_out: Option<PathBuf>,
}

fn default_client_queue() -> usize {
    4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_config_names_markets_speed_and_faults() {
        let config: SimexConfig = toml::from_str(
            r#"
            listen = "127.0.0.1:9443"
            tls = true
            speed = { times = 10.0 }
            ping_interval_ms = 1000
            [[markets]]
            market = "usdm_futures"
            capture = ["data/binance_usdm_btcusdt_20240808.gz"]
            exchange_info = "data/binance_usdm_exchange_info_btcusdt.json"
            [faults]
            skip_update_ids = [[10, 20]]
            stall = { every_ms = 30000, for_ms = 2000 }
            "#,
        )
        .expect("valid simex config");
        assert_eq!(config.speed, Speed::Times(10.0));
        assert_eq!(config.markets[0].market, Market::UsdmFutures);
        assert_eq!(config.faults.skip_update_ids, vec![[10, 20]]);
        assert_eq!(config.client_queue_frames, 4096);
        let fast: Result<SimexConfig, _> = toml::from_str(
            "listen = \"127.0.0.1:0\"\nspeed = \"as_fast_as_possible\"\nmarkets = []\nbogus = 1\n",
        );
        assert!(fast.is_err(), "unknown fields are rejected");
    }
}
