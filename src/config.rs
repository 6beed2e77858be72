//! Owns: the one TOML configuration file: parsing, defaults, and rejecting unknown keys and
//! bad values with the key path. Never: holds secrets (those come from the environment).

use std::path::{Path, PathBuf};

use crate::engine::trading::config::OrdersConfig;
use crate::engine::EngineConfig;
use crate::feed::binance::live::BinanceFeedConfig;
use crate::feed::replay::ReplayConfig;
use crate::ops::{ControlConfig, MetricsConfig};
use crate::persist::JournalConfig;

/// The example configuration shipped in `config/kestrel.example.toml`; also the embedded
/// default of `kestrel run`.
pub const EXAMPLE: &str = include_str!("../config/kestrel.example.toml");

/// The whole configuration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub engine: EngineConfig,
    pub journal: JournalConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The operator control API (`kestrel ctl`).
    #[serde(default)]
    pub control: ControlConfig,
    /// Market data from a recorded capture (exactly one of `replay` and `binance`).
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
    /// Market data from Binance's WebSocket streams (or the simulator speaking them).
    #[serde(default)]
    pub binance: Option<BinanceFeedConfig>,
    /// Trading: the venue, strategy and order manager (absent: `kestrel run` only
    /// captures market data).
    #[serde(default)]
    pub orders: Option<OrdersConfig>,
    /// Risk rails, breakers and breach handling for every order (defaults: seed-spec §4.1).
    #[serde(default)]
    pub risk: crate::risk::RiskLimits,
    /// The systematic strategies (run with `[orders] strategy = "strategies"`, and by
    /// `kestrel paper` and `kestrel backtest`).
    #[serde(default)]
    pub strategies: crate::strat::StrategiesConfig,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin}: key `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

/// Parses TOML text into any config section type, rejecting unknown keys and bad values
/// with the key path; `origin` names the text in errors (a path, or "embedded default").
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::Invalid {
        origin: origin.to_owned(),
        key: "(syntax)".to_owned(),
        message: e.to_string().trim().to_owned(),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::Invalid {
        origin: origin.to_owned(),
        key: e.path().to_string(),
        message: e.inner().message().to_owned(),
    })
}

/// Reads and parses a TOML file with [`parse_toml`].
pub fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

impl Config {
    /// Parses TOML text; `origin` names it in errors (a path, or "embedded default").
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = parse_toml(text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let config: Config = load_toml(path)?;
        config.validate(&path.display().to_string())?;
        Ok(config)
    }

    /// The embedded default (the shipped example).
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::parse(EXAMPLE, "embedded default")
    }

    /// Checks values serde cannot: sizes, ranges and relations between keys.
    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message,
        };
        let rings = &self.engine.rings;
        for (key, value) in [
            ("engine.rings.market", rings.market),
            ("engine.rings.intents", rings.intents),
            ("engine.rings.exec", rings.exec),
            ("engine.rings.exec_backlog", rings.exec_backlog),
            ("engine.rings.journal", rings.journal),
        ] {
            if !(16..=1 << 24).contains(&value) {
                return Err(bad(key, format!("{value} is outside 16..=16777216")));
            }
        }
        if !(64 * 1024..=1 << 30).contains(&rings.capture_bytes) {
            return Err(bad(
                "engine.rings.capture_bytes",
                format!("{} is outside 65536..=1073741824", rings.capture_bytes),
            ));
        }
        if self.journal.segment_bytes < 1 << 20 {
            return Err(bad(
                "journal.segment_bytes",
                format!("{} is below the 1 MiB minimum", self.journal.segment_bytes),
            ));
        }
        if self.journal.prefault_ahead_bytes > self.journal.segment_bytes {
            return Err(bad(
                "journal.prefault_ahead_bytes",
                "must not exceed journal.segment_bytes".to_owned(),
            ));
        }
        match (&self.replay, &self.binance) {
            (Some(replay), None) => {
                if replay.speed.is_nan() || replay.speed <= 0.0 {
                    return Err(bad(
                        "replay.speed",
                        format!("{} must be above 0", replay.speed),
                    ));
                }
            }
            (None, Some(binance)) => binance
                .validate()
                .map_err(|e| bad("binance", e.to_string()))?,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "binance",
                    "choose one market-data source: [replay] or [binance], not both".to_owned(),
                ))
            }
            (None, None) => {
                return Err(bad(
                    "replay",
                    "no market-data source: add a [replay] or a [binance] section".to_owned(),
                ))
            }
        }
        if let Some(orders) = &self.orders {
            orders
                .validate(self.binance.as_ref())
                .map_err(|(key, message)| bad(&key, message))?;
        }
        self.risk
            .validate()
            .map_err(|(key, message)| bad(&key, message))?;
        self.strategies
            .validate()
            .map_err(|(key, message)| bad(&key, message))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses() {
        let c = Config::embedded_default().expect("the shipped example is valid");
        assert!(c.engine.capture_frames);
    }

    #[test]
    fn a_binance_section_replaces_the_replay() {
        let replay_start = EXAMPLE.find("[replay]").expect("example has [replay]");
        let live = format!(
            "{}[binance]\nmarket = \"usdm\"\nsymbols = [\"BTCUSDT\"]\nrest_base_url = \"https://fapi.binance.com\"\n",
            &EXAMPLE[..replay_start]
        );
        let c = Config::parse(&live, "test").expect("a live source alone is valid");
        assert!(c.replay.is_none());
        assert_eq!(
            c.binance.map(|b| b.symbols),
            Some(vec!["BTCUSDT".to_owned()])
        );
        let both = format!("{EXAMPLE}\n[binance]\nmarket = \"spot\"\nsymbols = [\"BTCUSDT\"]\nrest_base_url = \"https://api.binance.com\"\n");
        let err = Config::parse(&both, "test")
            .expect_err("two sources")
            .to_string();
        assert!(err.contains("not both"), "{err}");
        let none = &EXAMPLE[..replay_start];
        let err = Config::parse(none, "test")
            .expect_err("no source")
            .to_string();
        assert!(err.contains("no market-data source"), "{err}");
        let bad_depth = live.replace("symbols", "depth_stream = \"depth@1s\"\nsymbols");
        let err = Config::parse(&bad_depth, "test")
            .expect_err("bad depth")
            .to_string();
        assert!(err.contains("depth@1s"), "{err}");
    }

    #[test]
    fn an_orders_section_is_checked_against_the_feed_and_names_the_key() {
        let replay_start = EXAMPLE.find("[replay]").expect("example has [replay]");
        let live = format!(
            "{}[binance]\nmarket = \"spot\"\nsymbols = [\"BTCUSDT\"]\nrest_base_url = \"http://127.0.0.1:9443\"\n",
            &EXAMPLE[..replay_start]
        );
        let orders = "[orders]\nvenue = \"binance\"\nrest_base_url = \"http://127.0.0.1:9443\"\nws_api_url = \"ws://localhost:9443/ws-api/v3\"\nsimex_test_keys = true\n";
        let c = Config::parse(&format!("{live}{orders}"), "test").expect("valid orders");
        assert_eq!(c.orders.map(|o| o.simex_test_keys), Some(true));
        let err = |text: String| {
            Config::parse(&text, "test")
                .expect_err("must be refused")
                .to_string()
        };
        let remote = orders.replace("ws://localhost:9443", "wss://ws-api.binance.com:443");
        assert!(err(format!("{live}{remote}")).contains("orders.simex_test_keys"));
        let unknown = format!("{orders}symbols = [\"ETHUSDT\"]\n");
        assert!(err(format!("{live}{unknown}")).contains("orders.symbols"));
        let no_feed = format!("{EXAMPLE}\n{orders}");
        assert!(err(no_feed).contains("orders.venue"));
        let paper_cash = format!("{orders}paper_balances = {{ USDT = \"10\" }}\n");
        assert!(err(format!("{live}{paper_cash}")).contains("orders.paper_balances"));
        let zero = format!("{orders}[orders.probe]\nqty = \"0\"\n");
        assert!(err(format!("{live}{zero}")).contains("orders.probe.qty"));
    }

    #[test]
    fn unknown_key_is_rejected_with_its_path() {
        let text = EXAMPLE.replace("[engine]", "[engine]\nlayuot = \"fused\"");
        let err = Config::parse(&text, "test")
            .expect_err("typo must be rejected")
            .to_string();
        assert!(err.contains("engine"), "{err}");
        assert!(err.contains("layuot"), "{err}");
    }

    #[test]
    fn bad_value_is_rejected_with_its_path() {
        let text = EXAMPLE.replace("layout = \"auto\"", "layout = \"sideways\"");
        let err = Config::parse(&text, "test")
            .expect_err("bad enum value")
            .to_string();
        assert!(err.contains("engine.layout"), "{err}");
        let text = EXAMPLE.replace("market = 65536", "market = 3");
        let err = Config::parse(&text, "test")
            .expect_err("ring too small")
            .to_string();
        assert!(err.contains("engine.rings.market"), "{err}");
    }
}
