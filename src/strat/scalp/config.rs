//! Owns: the `[strategies.scalping]` section — the scalper's knobs with the seed's defaults
//! (seed-spec §2.4.1) and its clamps as validation errors. Never: holds state or reads the
//! book; the strategy reads these values once at construction.

use crate::core::Notional;

/// Largest `max_signals_per_min` (the per-symbol ring of signal times is sized by it).
pub const MAX_SIGNALS_PER_MIN: u32 = 600;
/// Largest `max_window_ticks` (ticks kept per symbol; 16 bytes each, preallocated).
pub const MAX_WINDOW_TICKS: u32 = 1 << 20;

/// How an entry is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalpEntry {
    /// A market order; it fills at once or not at all, so `signal_ttl_sec` has nothing to
    /// cancel (it is only reported on the `scalp_signal_ttl_sec` gauge).
    #[default]
    Market,
    /// A limit at the far touch at signal time (the best ask for a buy, the best bid for a
    /// sell): it takes what the top level holds and rests for the rest, never paying more
    /// than the top; what has not filled `signal_ttl_sec` after the signal is cancelled
    /// (and any partial fill closed) with an exit tagged `scalp_ttl_expired`.
    Limit,
}

/// Scalping knobs. Ticks are public trades of the strategy's symbols; windows and
/// cooldowns run on engine time.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScalpConfig {
    /// Run the strategy (default false).
    pub enabled: bool,
    /// Decide and count, but let the risk rails' per-strategy dry-run mode keep the orders
    /// from the venue (default false).
    pub dry_run: bool,
    /// Symbols traded (default BTCUSDT, ETHUSDT, BNBUSDT).
    pub symbols: Vec<String>,
    /// Rolling tick window, seconds (default 30, at least 5).
    pub window_sec: u32,
    /// Ticks needed in the window before deciding (default 8, at least 3).
    pub min_ticks: u32,
    /// Most ticks kept per symbol (default 4096, at least `min_ticks`); when a burst puts
    /// more in one window, the oldest drop out first and the window is shorter.
    pub max_window_ticks: u32,
    /// Smallest (high − low) / price of the window, bps (default 6, at least 3).
    pub min_range_bps: f64,
    /// Buy zone: position of the price in the window's range, 0..1 (default 0.22, 0..0.45).
    pub lower_threshold: f64,
    /// Sell zone, 0..1 (default 0.78, 0.55..1).
    pub upper_threshold: f64,
    /// Tick RSI length in price changes (default 2, at least 2).
    pub rsi_length: u32,
    /// Oversold RSI level (default 20, 0..100).
    pub rsi_buy: f64,
    /// Overbought RSI level (default 80, 0..100, above `rsi_buy`).
    pub rsi_sell: f64,
    /// Stop-loss distance from the mid, bps (default 12, at least 4).
    pub stop_bps: u32,
    /// Take-profit distance from the mid, bps (default 18, at least 4); the gross edge.
    pub tp_bps: u32,
    /// Entry notional in the quote currency (default "125", at least 10).
    pub quote_usd: Notional,
    /// Per-symbol pause after a signal, seconds (default 15).
    pub cooldown_sec: u32,
    /// Allow sell entries; they also need a market where shorts are possible (default true).
    pub allow_shorts: bool,
    /// Market or limit entries (default "market").
    pub entry: ScalpEntry,
    /// Life of a limit entry, seconds (default 30, at least 5); see [`ScalpEntry`].
    pub signal_ttl_sec: u32,
    /// Signals per symbol in any 60 s (default 6, 1..=600).
    pub max_signals_per_min: u32,
    /// |book imbalance| that counts as order flow, 0..1 (default 0.18).
    pub imbalance_threshold: f64,
    /// Widest best bid/ask spread, bps of the mid (default 6, at least 1).
    pub max_spread_bps: f64,
    /// Smallest top-of-book depth, bid qty × bid + ask qty × ask, in the quote currency
    /// (default "20000", at least 1000).
    pub min_depth_usd: Notional,
    /// Momentum look-back in ticks (default 3, at least 1).
    pub momentum_ticks: u32,
    /// Round-trip fee deducted from the edge, bps (default 7.5, at least 0).
    pub fee_bps: f64,
    /// Oldest L2 book an entry may rely on, seconds (default 5, at least 1).
    pub book_stale_sec: u32,
    /// Close a position still open this long after its entry filled, seconds; 0 leaves
    /// it to the bracket alone (default 90: the seed watcher's horizon, max(60, 3 × window)).
    pub max_hold_sec: u32,
}

impl Default for ScalpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            symbols: ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
                .map(str::to_owned)
                .to_vec(),
            window_sec: 30,
            min_ticks: 8,
            max_window_ticks: 4096,
            min_range_bps: 6.0,
            lower_threshold: 0.22,
            upper_threshold: 0.78,
            rsi_length: 2,
            rsi_buy: 20.0,
            rsi_sell: 80.0,
            stop_bps: 12,
            tp_bps: 18,
            quote_usd: Notional::from_int(125),
            cooldown_sec: 15,
            allow_shorts: true,
            entry: ScalpEntry::Market,
            signal_ttl_sec: 30,
            max_signals_per_min: 6,
            imbalance_threshold: 0.18,
            max_spread_bps: 6.0,
            min_depth_usd: Notional::from_int(20_000),
            momentum_ticks: 3,
            fee_bps: 7.5,
            book_stale_sec: 5,
            max_hold_sec: 90,
        }
    }
}

impl ScalpConfig {
    /// The seed's clamps and the checks serde cannot make: (key, message) of the first
    /// problem, the key as written in the configuration file.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((format!("strategies.scalping.{key}"), message));
        for (key, value, min) in [
            ("window_sec", self.window_sec, 5),
            ("min_ticks", self.min_ticks, 3),
            ("rsi_length", self.rsi_length, 2),
            ("stop_bps", self.stop_bps, 4),
            ("tp_bps", self.tp_bps, 4),
            ("signal_ttl_sec", self.signal_ttl_sec, 5),
            ("max_signals_per_min", self.max_signals_per_min, 1),
            ("momentum_ticks", self.momentum_ticks, 1),
            ("book_stale_sec", self.book_stale_sec, 1),
            ("max_window_ticks", self.max_window_ticks, self.min_ticks),
        ] {
            if value < min {
                return bad(key, format!("{value} is below the minimum {min}"));
            }
        }
        if self.max_signals_per_min > MAX_SIGNALS_PER_MIN {
            return bad(
                "max_signals_per_min",
                format!("at most {MAX_SIGNALS_PER_MIN}"),
            );
        }
        if self.max_window_ticks > MAX_WINDOW_TICKS {
            return bad("max_window_ticks", format!("at most {MAX_WINDOW_TICKS}"));
        }
        for (key, value, low, high) in [
            ("min_range_bps", self.min_range_bps, 3.0, f64::MAX),
            ("lower_threshold", self.lower_threshold, 0.0, 0.45),
            ("upper_threshold", self.upper_threshold, 0.55, 1.0),
            ("rsi_buy", self.rsi_buy, 0.0, 100.0),
            ("rsi_sell", self.rsi_sell, 0.0, 100.0),
            ("imbalance_threshold", self.imbalance_threshold, 0.0, 1.0),
            ("max_spread_bps", self.max_spread_bps, 1.0, f64::MAX),
            ("fee_bps", self.fee_bps, 0.0, f64::MAX),
        ] {
            // `!(a <= b)` also catches NaN.
            if !(value >= low && value <= high) {
                return bad(key, format!("{value} is outside {low}..={high}"));
            }
        }
        if self.rsi_buy >= self.rsi_sell {
            return bad("rsi_buy", "must be below rsi_sell".to_owned());
        }
        if self.quote_usd < Notional::from_int(10) {
            return bad("quote_usd", format!("{} is below 10", self.quote_usd));
        }
        if self.min_depth_usd < Notional::from_int(1000) {
            return bad(
                "min_depth_usd",
                format!("{} is below 1000", self.min_depth_usd),
            );
        }
        if self.symbols.iter().any(|s| s.trim().is_empty()) {
            return bad("symbols", "an empty symbol name".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_values_and_valid() {
        let config = ScalpConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(!config.enabled && !config.dry_run);
        assert_eq!((config.window_sec, config.min_ticks), (30, 8));
        assert_eq!((config.stop_bps, config.tp_bps), (12, 18));
        assert_eq!(config.quote_usd, Notional::from_int(125));
        assert_eq!(config.min_depth_usd, Notional::from_int(20_000));
        assert_eq!(config.symbols, vec!["BTCUSDT", "ETHUSDT", "BNBUSDT"]);
    }

    #[test]
    fn toml_reads_money_as_strings_and_refuses_unknown_keys() {
        let config: ScalpConfig =
            toml::from_str("enabled = true\nquote_usd = \"50.5\"\nentry = \"limit\"\n")
                .expect("valid section");
        assert!(config.enabled);
        assert_eq!(config.quote_usd, Notional::parse("50.5").expect("decimal"));
        assert_eq!(config.entry, ScalpEntry::Limit);
        assert_eq!(config.window_sec, 30, "unset keys keep the defaults");
        let unknown = toml::from_str::<ScalpConfig>("stop_pct = 1\n");
        assert!(unknown.is_err());
    }

    #[test]
    fn clamps_are_errors_naming_the_key() {
        let key_of = |config: ScalpConfig| config.validate().map_err(|(key, _)| key);
        let base = ScalpConfig::default;
        let cases = [
            (
                ScalpConfig {
                    window_sec: 4,
                    ..base()
                },
                "window_sec",
            ),
            (
                ScalpConfig {
                    lower_threshold: 0.5,
                    ..base()
                },
                "lower_threshold",
            ),
            (
                ScalpConfig {
                    upper_threshold: f64::NAN,
                    ..base()
                },
                "upper_threshold",
            ),
            (
                ScalpConfig {
                    rsi_buy: 80.0,
                    ..base()
                },
                "rsi_buy",
            ),
            (
                ScalpConfig {
                    min_depth_usd: Notional::from_int(999),
                    ..base()
                },
                "min_depth_usd",
            ),
            (
                ScalpConfig {
                    quote_usd: Notional::from_int(9),
                    ..base()
                },
                "quote_usd",
            ),
            (
                ScalpConfig {
                    max_signals_per_min: 601,
                    ..base()
                },
                "max_signals_per_min",
            ),
            (
                ScalpConfig {
                    max_window_ticks: 7,
                    ..base()
                },
                "max_window_ticks",
            ),
        ];
        for (config, key) in cases {
            assert_eq!(key_of(config), Err(format!("strategies.scalping.{key}")));
        }
    }
}
