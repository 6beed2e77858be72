//! Owns: the simulator's configuration (`[simex]` in TOML, or built by tests). Never: opens
//! files or sockets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::{Price, Qty, Ratio};

use super::auth::ApiKey;

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
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
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
    /// Answer the next this many REST / WS API requests with 429 (a client that does not
    /// wait the Retry-After is then banned with 418).
    #[serde(default)]
    pub rate_limit_requests: u64,
    /// Retry-After of those 429s (seconds).
    #[serde(default = "default_retry_after_secs")]
    pub retry_after_secs: u64,
    /// Length of a 418 ban (seconds).
    #[serde(default = "default_ban_secs")]
    pub ban_secs: u64,
    /// Reject the next this many signed requests with -1021 (timestamp outside recvWindow).
    #[serde(default)]
    pub timestamp_rejects: u64,
    /// Hold every order acknowledgement (REST and WS API) this long after processing.
    #[serde(default)]
    pub ack_delay_ms: u64,
    /// Process the next this many orders but never answer them.
    #[serde(default)]
    pub lose_acks: u64,
    /// Fill the next this many orders at most half of what is left per match.
    #[serde(default)]
    pub partial_fill_orders: u64,
    /// Send the next this many user-data events twice.
    #[serde(default)]
    pub duplicate_events: u64,
    /// Deliver the next this many user-data events after the event that follows them.
    #[serde(default)]
    pub reorder_events: u64,
    /// Close the connection right after each of the next this many orders is processed.
    #[serde(default)]
    pub drop_order_connections: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            skip_update_ids: Vec::new(),
            drop_every_ms: None,
            stall: None,
            malformed_frames: 0,
            split_frames: 0,
            refuse_connections: false,
            rate_limit_requests: 0,
            retry_after_secs: default_retry_after_secs(),
            ban_secs: default_ban_secs(),
            timestamp_rejects: 0,
            ack_delay_ms: 0,
            lose_acks: 0,
            partial_fill_orders: 0,
            duplicate_events: 0,
            reorder_events: 0,
            drop_order_connections: 0,
        }
    }
}

fn default_retry_after_secs() -> u64 {
    1
}

fn default_ban_secs() -> u64 {
    120
}

/// Which asset spot fees are charged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeAsset {
    /// The symbol's quote asset.
    #[default]
    Quote,
    /// BNB at `bnb_price`, the quote asset when BNB runs short.
    Bnb,
}

/// The order side: keys, starting balances, fees and venue behaviour.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderSideConfig {
    /// Accepted API keys (default: the key pair of Binance's signing examples).
    pub api_keys: Vec<ApiKey>,
    /// Spot balances at start, asset → amount.
    pub spot_balances: BTreeMap<String, Qty>,
    /// Cross-margin balances at start.
    pub margin_balances: BTreeMap<String, Qty>,
    /// USDⓈ-M wallet at start, margin asset → amount.
    pub futures_balances: BTreeMap<String, Qty>,
    pub spot_maker_commission: Ratio,
    pub spot_taker_commission: Ratio,
    pub futures_maker_commission: Ratio,
    pub futures_taker_commission: Ratio,
    /// Asset spot fees are paid in.
    pub commission_asset: FeeAsset,
    /// Quote units per BNB when fees are paid in BNB.
    pub bnb_price: Price,
    /// Leverage of every futures position.
    pub futures_leverage: u32,
    /// Whether margin orders may use `sideEffectType=AUTO_BORROW_REPAY` (false: rejected,
    /// as a venue that retired it would).
    pub margin_auto_borrow_repay: bool,
    /// The simulator's clock (server time, recvWindow checks) minus the wall clock.
    pub clock_skew_ms: i64,
    /// How long a futures listenKey lives after its last keepalive.
    pub listen_key_validity_ms: u64,
    /// Refuse requests over the exchangeInfo rate limits (429 / -1015); false only counts
    /// them in the headers (benchmarks outrun Binance's 50 orders per 10 s).
    pub enforce_rate_limits: bool,
}

/// The API key of Binance's own signing examples (rest-api.md, web-socket-api.md).
pub const DOCS_API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
/// Its secret.
pub const DOCS_API_SECRET: &str =
    "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

/// The Ed25519 private key the simulator's tests log on with: RFC 8032 test 1's key, as
/// OpenSSL writes it (PKCS#8). Public and documented: never a real key.
pub const DOCS_ED25519_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    -----END PRIVATE KEY-----\n";
/// Its public key (RFC 8032 test 1), hex: registered for [`DOCS_API_KEY`] by default.
pub const DOCS_ED25519_PUBLIC_KEY_HEX: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// [`DOCS_ED25519_PUBLIC_KEY_HEX`] as bytes.
pub fn docs_ed25519_public_key() -> Vec<u8> {
    super::auth::unhex(DOCS_ED25519_PUBLIC_KEY_HEX).unwrap_or_default()
}

impl Default for OrderSideConfig {
    fn default() -> Self {
        let amounts = |pairs: &[(&str, i64)]| -> BTreeMap<String, Qty> {
            pairs
                .iter()
                .map(|(asset, amount)| (asset.to_string(), Qty::from_int(*amount)))
                .collect()
        };
        let bps = |n: i128| Ratio::from_raw(n * crate::core::decimal::SCALE / 10_000);
        Self {
            api_keys: vec![ApiKey {
                key: DOCS_API_KEY.into(),
                secret: DOCS_API_SECRET.into(),
                ed25519_public_key: Some(DOCS_ED25519_PUBLIC_KEY_HEX.into()),
            }],
            spot_balances: amounts(&[("BTC", 1), ("USDT", 100_000), ("BNB", 10)]),
            margin_balances: amounts(&[("BTC", 1), ("USDT", 100_000)]),
            futures_balances: amounts(&[("USDT", 100_000)]),
            spot_maker_commission: bps(10),
            spot_taker_commission: bps(10),
            futures_maker_commission: bps(2),
            futures_taker_commission: bps(5),
            commission_asset: FeeAsset::Quote,
            bnb_price: Price::from_int(500),
            futures_leverage: 20,
            margin_auto_borrow_repay: true,
            clock_skew_ms: 0,
            listen_key_validity_ms: 3_600_000,
            enforce_rate_limits: true,
        }
    }
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
    /// The order side: accounts, fees, keys.
    #[serde(default)]
    pub orders: OrderSideConfig,
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
            lose_acks = 2
            "#,
        )
        .expect("valid simex config");
        assert_eq!(config.speed, Speed::Times(10.0));
        assert_eq!(config.markets[0].market, Market::UsdmFutures);
        assert_eq!(config.faults.skip_update_ids, vec![[10, 20]]);
        assert_eq!(
            (config.faults.lose_acks, config.faults.retry_after_secs),
            (2, 1)
        );
        let orders: OrderSideConfig = toml::from_str(
            "spot_balances = { BTC = \"0.5\", USDT = 1000 }\ncommission_asset = \"bnb\"\nfutures_taker_commission = \"0.0004\"\n",
        )
        .expect("valid order side");
        assert_eq!(
            orders.spot_balances["BTC"],
            Qty::parse("0.5").expect("valid")
        );
        assert_eq!(orders.commission_asset, FeeAsset::Bnb);
        assert_eq!(
            orders.futures_leverage, 20,
            "unset keys keep their defaults"
        );
        assert_eq!(config.client_queue_frames, 4096);
        assert_eq!(config.orders, OrderSideConfig::default());
        let fast: Result<SimexConfig, _> = toml::from_str(
            "listen = \"127.0.0.1:0\"\nspeed = \"as_fast_as_possible\"\nmarkets = []\nbogus = 1\n",
        );
        assert!(fast.is_err(), "unknown fields are rejected");
    }
}
