//! Owns: the `[orders]` section of the configuration — which venue `kestrel run` trades on
//! (the Binance gateway or the in-process paper venue), where the gateway connects, where its
//! keys come from, the strategy and its knobs, the traded symbols and the order manager's
//! settings — and the checks serde cannot make. Never: holds or reads a secret (keys come
//! from the environment at start-up) or opens a connection.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::core::{Market, Qty};
use crate::feed::binance::live::BinanceFeedConfig;
use crate::feed::binance::BinanceMarket;
use crate::oms::manager::OmsConfig;

/// Where orders go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderVenue {
    /// Binance (or `kestrel simex` speaking its protocols) through the order gateway.
    Binance,
    /// The in-process paper venue, matching against the live book of the feed.
    Paper,
}

/// The account on the venue the orders trade in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAccount {
    /// The feed's market: spot, or the USDⓈ-M futures account.
    #[default]
    Spot,
    /// Cross margin on the spot books (`/sapi/v1/margin`, listenToken user data).
    Margin,
    /// Each traded symbol's isolated margin account.
    IsolatedMargin,
}

/// The strategy that sends the orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyChoice {
    /// The probe: a market entry with a bracket, or a market order every Nth book.
    Probe,
    /// The strategies of the `[strategies]` section behind the dispatcher.
    Strategies,
    /// No strategy: the engine reconciles, tracks the account and its open orders, and
    /// sends nothing (watching an account, or settling it after a crash).
    None,
}

/// The probe's knobs (`[orders.probe]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSettings {
    /// Quantity of each order.
    pub qty: Qty,
    /// Bracket distance from the mid in basis points (0: entries without a bracket).
    pub bracket_bps: i64,
    /// Book events to wait after a round trip closed.
    pub cooldown_events: u32,
    /// An unbracketed market order every this many valid books, alternating sides (0: off,
    /// the bracketed round trips run instead).
    pub every_tick: u32,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            qty: Qty::from_raw(1_000_000_000_000_000), // 0.001
            bracket_bps: 10,
            cooldown_events: 20,
            every_tick: 0,
        }
    }
}

/// The order manager's knobs (`[orders.oms]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OmsSettings {
    /// Most orders tracked at once (open and recently final).
    pub capacity: usize,
    /// A new order without an answer for this long is asked about.
    pub ack_timeout_ms: u64,
    /// Retries of one request after rate-limit, timestamp or unavailable rejects.
    pub max_retries: u8,
    /// Wait before a retry when the venue gave no Retry-After.
    pub retry_backoff_ms: u64,
}

impl Default for OmsSettings {
    fn default() -> Self {
        let oms = OmsConfig::default();
        Self {
            capacity: oms.capacity,
            ack_timeout_ms: oms.ack_timeout_ns / 1_000_000,
            max_retries: oms.max_retries,
            retry_backoff_ms: oms.retry_backoff_ns / 1_000_000,
        }
    }
}

impl OmsSettings {
    /// The manager's configuration for `market`.
    pub fn oms_config(&self, market: Market) -> OmsConfig {
        OmsConfig {
            market,
            capacity: self.capacity,
            ack_timeout_ns: self.ack_timeout_ms.saturating_mul(1_000_000),
            max_retries: self.max_retries,
            retry_backoff_ns: self.retry_backoff_ms.saturating_mul(1_000_000),
            ..OmsConfig::default()
        }
    }
}

/// The `[orders]` section: without it `kestrel run` only captures market data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersConfig {
    pub venue: OrderVenue,
    /// `spot` (default: the feed's market, spot or USDⓈ-M), `margin` or `isolated_margin`
    /// (Binance venue and a spot feed only).
    #[serde(default)]
    pub account: OrderAccount,
    /// Symbols traded (each must be one of `[binance].symbols`). Default: all of them.
    #[serde(default)]
    pub symbols: Vec<String>,
    #[serde(default = "default_strategy")]
    pub strategy: StrategyChoice,
    #[serde(default)]
    pub probe: ProbeSettings,
    #[serde(default)]
    pub oms: OmsSettings,
    /// Gateway REST base (default: Binance's for the `[binance]` market).
    #[serde(default)]
    pub rest_base_url: Option<String>,
    /// Gateway WebSocket API URL (default: Binance's for the market).
    #[serde(default)]
    pub ws_api_url: Option<String>,
    /// USDⓈ-M user-data stream base (default `wss://fstream.binance.com`); unused on spot.
    #[serde(default)]
    pub user_stream_url: Option<String>,
    /// A certificate (PEM or DER) the gateway trusts instead of the webpki roots.
    #[serde(default)]
    pub trusted_cert: Option<PathBuf>,
    /// Sign with the simulator's documented test key pair instead of
    /// `KESTREL_BINANCE_API_KEY` / `_SECRET`; only accepted when every gateway URL is a
    /// loopback host.
    #[serde(default)]
    pub simex_test_keys: bool,
    /// Paper venue only: the account it starts with on a fresh journal (asset → amount);
    /// a continued journal starts from these plus its fills.
    #[serde(default)]
    pub paper_balances: BTreeMap<String, Qty>,
}

fn default_strategy() -> StrategyChoice {
    StrategyChoice::Probe
}

/// The gateway's endpoints after defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayUrls {
    pub rest_base_url: String,
    pub ws_api_url: String,
    pub user_stream_url: String,
}

impl OrdersConfig {
    /// The market the orders trade: the feed's, or margin on the spot feed's books.
    pub fn market(&self, feed: &BinanceFeedConfig) -> Market {
        match (feed.market, self.account) {
            (BinanceMarket::Spot, OrderAccount::Spot) => Market::Spot,
            (BinanceMarket::Spot, OrderAccount::Margin | OrderAccount::IsolatedMargin) => {
                Market::Margin
            }
            // `validate` refuses margin on a futures feed.
            (BinanceMarket::Usdm, _) => Market::UsdmFutures,
        }
    }

    /// Traded symbols (upper case); all the feed's when none are named.
    pub fn traded_symbols(&self, feed: &BinanceFeedConfig) -> Vec<String> {
        let names = if self.symbols.is_empty() {
            &feed.symbols
        } else {
            &self.symbols
        };
        names.iter().map(|n| n.to_ascii_uppercase()).collect()
    }

    /// The gateway URLs, Binance's defaults filled in for `market`.
    pub fn gateway_urls(&self, market: Market) -> GatewayUrls {
        let (rest, ws) = match market {
            Market::UsdmFutures => (
                "https://fapi.binance.com",
                "wss://ws-fapi.binance.com/ws-fapi/v1",
            ),
            Market::Spot | Market::Margin => (
                "https://api.binance.com",
                "wss://ws-api.binance.com:443/ws-api/v3",
            ),
        };
        GatewayUrls {
            rest_base_url: self
                .rest_base_url
                .clone()
                .unwrap_or_else(|| rest.to_owned()),
            ws_api_url: self.ws_api_url.clone().unwrap_or_else(|| ws.to_owned()),
            user_stream_url: self
                .user_stream_url
                .clone()
                .unwrap_or_else(|| "wss://fstream.binance.com".to_owned()),
        }
    }

    /// Checks what serde cannot; `Err((key, message))` names the offending key.
    pub fn validate(&self, feed: Option<&BinanceFeedConfig>) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((format!("orders.{key}"), message));
        let Some(feed) = feed else {
            return bad(
                "venue",
                "trading needs live market data: add a [binance] section (not [replay])".to_owned(),
            );
        };
        let feed_symbols: Vec<String> = feed
            .symbols
            .iter()
            .map(|n| n.to_ascii_uppercase())
            .collect();
        for name in &self.symbols {
            if !feed_symbols.contains(&name.to_ascii_uppercase()) {
                return bad(
                    "symbols",
                    format!("{name} is not in [binance].symbols {feed_symbols:?}"),
                );
            }
        }
        if self.traded_symbols(feed).is_empty() {
            return bad("symbols", "no symbol to trade".to_owned());
        }
        if self.strategy == StrategyChoice::Probe {
            if !self.probe.qty.is_positive() {
                return bad("probe.qty", format!("{} must be above 0", self.probe.qty));
            }
            if !(0..=5_000).contains(&self.probe.bracket_bps) {
                return bad(
                    "probe.bracket_bps",
                    format!("{} is outside 0..=5000", self.probe.bracket_bps),
                );
            }
        }
        if !(16..=1 << 20).contains(&self.oms.capacity) {
            return bad(
                "oms.capacity",
                format!("{} is outside 16..=1048576", self.oms.capacity),
            );
        }
        if self.oms.ack_timeout_ms == 0 {
            return bad("oms.ack_timeout_ms", "must be above 0".to_owned());
        }
        if self.account != OrderAccount::Spot {
            if self.venue != OrderVenue::Binance {
                return bad("account", "margin needs venue = \"binance\"".to_owned());
            }
            if feed.market != BinanceMarket::Spot {
                return bad(
                    "account",
                    "margin trades on the spot books: the [binance] feed must be spot".to_owned(),
                );
            }
        }
        match self.venue {
            OrderVenue::Paper => {
                for key in [
                    ("rest_base_url", self.rest_base_url.is_some()),
                    ("ws_api_url", self.ws_api_url.is_some()),
                    ("user_stream_url", self.user_stream_url.is_some()),
                    ("trusted_cert", self.trusted_cert.is_some()),
                    ("simex_test_keys", self.simex_test_keys),
                ] {
                    if key.1 {
                        return bad(key.0, "only used with venue = \"binance\"".to_owned());
                    }
                }
                if feed.market != BinanceMarket::Spot {
                    return bad("venue", "the paper venue trades spot only".to_owned());
                }
            }
            OrderVenue::Binance => {
                if !self.paper_balances.is_empty() {
                    return bad(
                        "paper_balances",
                        "only used with venue = \"paper\": the venue's balances are the truth"
                            .to_owned(),
                    );
                }
                let market = self.market(feed);
                let urls = self.gateway_urls(market);
                let checked = [
                    (
                        "rest_base_url",
                        &urls.rest_base_url,
                        ["http://", "https://"],
                    ),
                    ("ws_api_url", &urls.ws_api_url, ["ws://", "wss://"]),
                    (
                        "user_stream_url",
                        &urls.user_stream_url,
                        ["ws://", "wss://"],
                    ),
                ];
                // Spot user data comes over the WebSocket API: no stream URL is used.
                let used = if market == Market::UsdmFutures { 3 } else { 2 };
                for (key, url, schemes) in &checked[..used] {
                    if !schemes.iter().any(|s| url.starts_with(s)) {
                        return bad(key, format!("{url:?} does not start with {schemes:?}"));
                    }
                    if self.simex_test_keys && !is_loopback(url) {
                        return bad(
                            "simex_test_keys",
                            format!(
                                "the simulator's test keys only go to a loopback host, not {url:?}"
                            ),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// True when `url`'s host is `localhost`, `127.x.x.x` or `[::1]`.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart_from_remote_ones() {
        assert!(is_loopback("ws://127.0.0.1:9443/ws-api/v3"));
        assert!(is_loopback("https://localhost:9443"));
        assert!(is_loopback("wss://[::1]:9443/ws-api/v3"));
        assert!(!is_loopback("https://api.binance.com"));
        assert!(!is_loopback("wss://127.0.0.1.evil.example:443"));
        assert!(!is_loopback("http://10.0.0.1:80"));
    }

    fn feed(market: &str) -> BinanceFeedConfig {
        toml::from_str(&format!(
            "market = \"{market}\"\nsymbols = [\"BTCUSDT\"]\nrest_base_url = \"https://api.binance.com\""
        ))
            .expect("feed config")
    }

    fn orders(text: &str) -> OrdersConfig {
        toml::from_str(text).expect("orders config")
    }

    #[test]
    fn margin_accounts_trade_the_spot_books_through_the_binance_venue_only() {
        let spot = feed("spot");
        let margin = orders("venue = \"binance\"\naccount = \"margin\"");
        assert_eq!(margin.validate(Some(&spot)), Ok(()));
        assert_eq!(margin.market(&spot), Market::Margin);
        let isolated = orders("venue = \"binance\"\naccount = \"isolated_margin\"");
        assert_eq!(isolated.market(&spot), Market::Margin);
        let plain = orders("venue = \"binance\"");
        assert_eq!(plain.account, OrderAccount::Spot);
        assert_eq!(plain.market(&spot), Market::Spot);
        assert_eq!(plain.market(&feed("usdm")), Market::UsdmFutures);

        let refused = |text: &str, feed: &BinanceFeedConfig| {
            orders(text).validate(Some(feed)).expect_err("refused").0
        };
        let paper = "venue = \"paper\"\naccount = \"margin\"";
        assert_eq!(refused(paper, &spot), "orders.account");
        let futures = "venue = \"binance\"\naccount = \"margin\"";
        assert_eq!(refused(futures, &feed("usdm")), "orders.account");
        assert!(toml::from_str::<OrdersConfig>("venue = \"binance\"\naccount = \"loan\"").is_err());
    }
}
