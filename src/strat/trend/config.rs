//! Owns: the trend-following strategy's settings (`[strategies.trend_follow]`) — timeframes,
//! indicator lengths, entry band, ATR stop and target, sizing, cooldown and the auto-tuner's
//! knobs — with the seed's defaults (seed-spec §2.2.1) and the checks serde cannot make.
//! Never: holds state; the tuned values live in the tuner, which starts from these.
//!
//! Seed knobs left out on purpose: `TREND_FALLBACK_EQUITY` (sizing uses the account's real
//! equity or does not enter, bug D-05), `TREND_REFRESH_SEC` (bars come closed from the
//! dispatcher, there is no kline cache), `TREND_AUTO_TUNE_STATE_PATH` (the tuner persists
//! through the strategy snapshot in the journal) and `TREND_ALLOW_SHORTS` (shorts are not
//! offered: the seed flag only switched the market to futures, there was no short logic;
//! doing it properly needs mirrored entry, stop and exit rules and a futures order side).
//! `deny_unknown_fields` turns any of them in a config into an error instead of silence.

use crate::core::Notional;

/// Minutes in a UTC day: every timeframe must divide it (bars align to midnight UTC).
const DAY_MINUTES: u32 = 1440;

/// Most bars any one indicator window may span (keeps the preallocated windows bounded).
pub const MAX_WINDOW_BARS: u32 = 5000;

/// Trend-following settings. Prices are in the symbol's quote currency.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendConfig {
    /// Runs the strategy (default false).
    pub enabled: bool,
    /// Signals go through the risk rails' dry-run mode for this strategy (default false).
    pub dry_run: bool,
    /// Symbols traded (default `["BTCUSDT"]`).
    pub symbols: Vec<String>,
    /// Klines per timeframe to fetch for the start-up warm-up (default 720, seed
    /// `TREND_FETCH_LIMIT`); must cover the longest window of each timeframe.
    pub fetch_limit: u32,

    /// Primary timeframe, minutes (default 240 = 4h): entries, exits, ATR and stops.
    pub primary_minutes: u32,
    /// Primary fast / slow SMA lengths, bars (defaults 50 / 200).
    pub primary_fast: u32,
    pub primary_slow: u32,
    /// Primary RSI length, bars (default 14).
    pub primary_rsi: u32,
    /// Secondary (confirmation) timeframe, minutes (default 60 = 1h).
    pub secondary_minutes: u32,
    /// Secondary fast / slow SMA lengths, bars (defaults 100 / 400).
    pub secondary_fast: u32,
    pub secondary_slow: u32,
    /// Secondary RSI length, bars (default 14; must be available, not compared).
    pub secondary_rsi: u32,
    /// Regime timeframe, minutes (default 1440 = 1d).
    pub regime_minutes: u32,
    /// Regime fast / slow SMA lengths, bars (defaults 50 / 200).
    pub regime_fast: u32,
    pub regime_slow: u32,
    /// Regime RSI length, bars (default 14; must be available, not compared).
    pub regime_rsi: u32,

    /// ATR length on primary bars (default 14).
    pub atr_length: u32,
    /// Stop = swing low − ATR × this (default 1.2; tuned when auto-tune is on).
    pub atr_stop_mult: f64,
    /// Take-profit = entry bar close + ATR × this (default 2.0; tuned).
    pub atr_target_mult: f64,
    /// Primary bars whose lowest low is the swing low (default 3).
    pub swing_lookback: u32,
    /// Entry band on the primary RSI, inclusive (defaults 52 / 72; tuned).
    pub rsi_long_min: f64,
    pub rsi_long_max: f64,
    /// Exit when the primary RSI is at or above this (default 80).
    pub rsi_exit: f64,

    /// Entry quote = max(min_quote, equity × risk_pct / 100), percent (default 1.5, the
    /// seed's `TREND_RISK_PCT` 0.015 written as a percentage).
    pub risk_pct: f64,
    /// Smallest entry quote, USD (default "75").
    pub min_quote: Notional,
    /// Primary bars without a new entry after a position closed (default 3, at least 1 as
    /// in the seed; tuned).
    pub cooldown_bars: u32,

    /// Applies the tuner's adjustments (default false). Trades are recorded either way;
    /// tuned values are only used, and only restored from a snapshot, when this is on.
    pub auto_tune_enabled: bool,
    /// Trades needed before tuning, and the win-rate window (default 30).
    pub auto_tune_min_trades: u32,
    /// Trades between two adjustments (default 15).
    pub auto_tune_interval: u32,
    /// Trade records kept (default 200, at least 10).
    pub auto_tune_history: u32,
    /// Win rate below this is "losing", above `win_high` "winning" (defaults 0.40 / 0.65).
    pub auto_tune_win_low: f64,
    pub auto_tune_win_high: f64,
    /// Bounds of the tuned stop multiple (defaults 0.5 / 2.5); the target multiple is
    /// capped at 1.5 × `stop_max`.
    pub auto_tune_stop_min: f64,
    pub auto_tune_stop_max: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            symbols: vec!["BTCUSDT".to_owned()],
            fetch_limit: 720,
            primary_minutes: 240,
            primary_fast: 50,
            primary_slow: 200,
            primary_rsi: 14,
            secondary_minutes: 60,
            secondary_fast: 100,
            secondary_slow: 400,
            secondary_rsi: 14,
            regime_minutes: 1440,
            regime_fast: 50,
            regime_slow: 200,
            regime_rsi: 14,
            atr_length: 14,
            atr_stop_mult: 1.2,
            atr_target_mult: 2.0,
            swing_lookback: 3,
            rsi_long_min: 52.0,
            rsi_long_max: 72.0,
            rsi_exit: 80.0,
            risk_pct: 1.5,
            min_quote: Notional::from_int(75),
            cooldown_bars: 3,
            auto_tune_enabled: false,
            auto_tune_min_trades: 30,
            auto_tune_interval: 15,
            auto_tune_history: 200,
            auto_tune_win_low: 0.40,
            auto_tune_win_high: 0.65,
            auto_tune_stop_min: 0.5,
            auto_tune_stop_max: 2.5,
        }
    }
}

impl TrendConfig {
    /// Bars a warm-up needs on `minutes` before every indicator of that timeframe has a
    /// value (0 for a timeframe the strategy does not use).
    pub fn warmup_bars(&self, minutes: u32) -> u32 {
        let mut need = 0;
        if minutes == self.primary_minutes {
            need = need
                .max(self.primary_slow)
                .max(self.primary_fast)
                .max(self.primary_rsi + 1)
                .max(self.atr_length + 1)
                .max(self.swing_lookback);
        }
        if minutes == self.secondary_minutes {
            need = need
                .max(self.secondary_slow)
                .max(self.secondary_fast)
                .max(self.secondary_rsi + 1);
        }
        if minutes == self.regime_minutes {
            need = need
                .max(self.regime_slow)
                .max(self.regime_fast)
                .max(self.regime_rsi + 1);
        }
        need
    }

    /// The checks serde cannot make: (key, message) of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: &str| {
            Err((format!("strategies.trend_follow.{key}"), message.to_owned()))
        };
        if self.symbols.iter().any(|s| s.trim().is_empty()) {
            return bad("symbols", "a symbol name is empty");
        }
        for (key, minutes) in [
            ("primary_minutes", self.primary_minutes),
            ("secondary_minutes", self.secondary_minutes),
            ("regime_minutes", self.regime_minutes),
        ] {
            if minutes == 0 || DAY_MINUTES % minutes != 0 {
                return bad(key, "must divide a UTC day (1, 5, 15, 60, 240, 1440, …)");
            }
        }
        for (key, length) in [
            ("primary_fast", self.primary_fast),
            ("primary_slow", self.primary_slow),
            ("primary_rsi", self.primary_rsi),
            ("secondary_fast", self.secondary_fast),
            ("secondary_slow", self.secondary_slow),
            ("secondary_rsi", self.secondary_rsi),
            ("regime_fast", self.regime_fast),
            ("regime_slow", self.regime_slow),
            ("regime_rsi", self.regime_rsi),
            ("atr_length", self.atr_length),
            ("swing_lookback", self.swing_lookback),
        ] {
            if length == 0 || length > MAX_WINDOW_BARS {
                return bad(key, "must be between 1 and 5000 bars");
            }
        }
        for (key, fast, slow) in [
            ("primary_fast", self.primary_fast, self.primary_slow),
            ("secondary_fast", self.secondary_fast, self.secondary_slow),
            ("regime_fast", self.regime_fast, self.regime_slow),
        ] {
            if fast >= slow {
                return bad(key, "must be shorter than the slow SMA");
            }
        }
        for minutes in [
            self.primary_minutes,
            self.secondary_minutes,
            self.regime_minutes,
        ] {
            if self.fetch_limit < self.warmup_bars(minutes) {
                return bad(
                    "fetch_limit",
                    "is shorter than the longest indicator window",
                );
            }
        }
        let finite_positive = |v: f64| v.is_finite() && v > 0.0;
        if !finite_positive(self.atr_stop_mult) {
            return bad("atr_stop_mult", "must be a positive number");
        }
        if !finite_positive(self.atr_target_mult) {
            return bad("atr_target_mult", "must be a positive number");
        }
        let is_rsi = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
        for (key, value) in [
            ("rsi_long_min", self.rsi_long_min),
            ("rsi_long_max", self.rsi_long_max),
            ("rsi_exit", self.rsi_exit),
        ] {
            if !is_rsi(value) {
                return bad(key, "is an RSI level (0-100)");
            }
        }
        if self.rsi_long_min > self.rsi_long_max {
            return bad("rsi_long_min", "is above rsi_long_max");
        }
        if !(self.risk_pct.is_finite() && (0.0..=100.0).contains(&self.risk_pct)) {
            return bad("risk_pct", "is a percentage of equity (0-100)");
        }
        if self.min_quote.raw() < 0 {
            return bad("min_quote", "must not be negative");
        }
        if self.risk_pct == 0.0 && !self.min_quote.is_positive() {
            return bad(
                "min_quote",
                "and risk_pct are both zero: no entry could be sized",
            );
        }
        if self.cooldown_bars == 0 {
            return bad("cooldown_bars", "at least 1 (the seed's minimum)");
        }
        if self.auto_tune_min_trades == 0 {
            return bad("auto_tune_min_trades", "must be positive");
        }
        if self.auto_tune_interval == 0 {
            return bad("auto_tune_interval", "must be positive");
        }
        if !(10..=10_000).contains(&self.auto_tune_history) {
            return bad("auto_tune_history", "must be between 10 and 10000 records");
        }
        if self.auto_tune_min_trades > self.auto_tune_history {
            return bad(
                "auto_tune_min_trades",
                "is above auto_tune_history: never tunes",
            );
        }
        let is_rate = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if !is_rate(self.auto_tune_win_low) || !is_rate(self.auto_tune_win_high) {
            return bad("auto_tune_win_low", "win rates are fractions (0-1)");
        }
        if self.auto_tune_win_low > self.auto_tune_win_high {
            return bad("auto_tune_win_low", "is above auto_tune_win_high");
        }
        if !finite_positive(self.auto_tune_stop_min) || !finite_positive(self.auto_tune_stop_max) {
            return bad("auto_tune_stop_min", "stop bounds must be positive numbers");
        }
        if self.auto_tune_stop_min > self.auto_tune_stop_max {
            return bad("auto_tune_stop_min", "is above auto_tune_stop_max");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_and_valid() {
        let config = TrendConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            (
                config.primary_minutes,
                config.primary_fast,
                config.primary_slow
            ),
            (240, 50, 200)
        );
        assert_eq!(config.secondary_slow, 400);
        assert_eq!(config.regime_minutes, 1440);
        assert_eq!(config.min_quote, Notional::from_int(75));
        assert_eq!(config.warmup_bars(60), 400);
        assert_eq!(config.warmup_bars(240), 200);
        assert_eq!(config.warmup_bars(5), 0);
    }

    #[test]
    fn toml_keys_parse_and_unknown_seed_knobs_are_refused() {
        let config: TrendConfig = toml::from_str(
            "enabled = true\nsymbols = [\"ETHUSDT\"]\nprimary_minutes = 15\nmin_quote = \"20\"\n\
             auto_tune_enabled = true\n",
        )
        .expect("valid section");
        assert!(config.enabled && config.auto_tune_enabled);
        assert_eq!(config.primary_minutes, 15);
        assert_eq!(config.min_quote, Notional::from_int(20));
        assert_eq!(config.secondary_minutes, 60, "the rest keeps its default");
        for removed in [
            "allow_shorts = true",
            "fallback_equity = \"2000\"",
            "refresh_sec = 900",
        ] {
            assert!(
                toml::from_str::<TrendConfig>(removed).is_err(),
                "{removed} must be refused, not ignored"
            );
        }
    }

    #[test]
    fn validation_names_the_bad_key() {
        let key_of = |config: TrendConfig| config.validate().err().map(|(key, _)| key);
        let bad_timeframe = TrendConfig {
            primary_minutes: 7,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(bad_timeframe).as_deref(),
            Some("strategies.trend_follow.primary_minutes")
        );
        let inverted_band = TrendConfig {
            rsi_long_min: 75.0,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(inverted_band).as_deref(),
            Some("strategies.trend_follow.rsi_long_min")
        );
        let fast_not_faster = TrendConfig {
            regime_fast: 200,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(fast_not_faster).as_deref(),
            Some("strategies.trend_follow.regime_fast")
        );
        let short_fetch = TrendConfig {
            fetch_limit: 300,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(short_fetch).as_deref(),
            Some("strategies.trend_follow.fetch_limit")
        );
        let nan_mult = TrendConfig {
            atr_stop_mult: f64::NAN,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(nan_mult).as_deref(),
            Some("strategies.trend_follow.atr_stop_mult")
        );
        let no_cooldown = TrendConfig {
            cooldown_bars: 0,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(no_cooldown).as_deref(),
            Some("strategies.trend_follow.cooldown_bars")
        );
        let tiny_history = TrendConfig {
            auto_tune_history: 5,
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(tiny_history).as_deref(),
            Some("strategies.trend_follow.auto_tune_history")
        );
        let negative_quote = TrendConfig {
            min_quote: Notional::from_int(-1),
            ..TrendConfig::default()
        };
        assert_eq!(
            key_of(negative_quote).as_deref(),
            Some("strategies.trend_follow.min_quote")
        );
    }
}
