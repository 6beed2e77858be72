//! Owns: the `[strategies.momentum_rt]` section — the real-time breakout's knobs with the
//! seed's defaults (seed-spec §2.5) and its clamps as validation errors. Never: holds state.

use crate::core::Notional;

/// Longest `baseline_sec` (one 40-byte bucket per second and symbol, preallocated).
pub const MAX_BASELINE_SEC: u32 = 86_400;

/// Real-time momentum breakout knobs; windows run on engine time, in whole seconds.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumRtConfig {
    /// Run the strategy (default false).
    pub enabled: bool,
    /// Decide and count, but let the risk rails' per-strategy dry-run mode keep the orders
    /// from the venue (default false).
    pub dry_run: bool,
    /// Symbols traded (default empty; the seed's empty list meant every symbol, and the
    /// engine passes its traded symbols then).
    pub symbols: Vec<String>,
    /// Fast window, seconds (default 45, at least 10).
    pub window_sec: u32,
    /// Baseline window, seconds, the fast window included (default 360, above
    /// `window_sec`, at most 86 400).
    pub baseline_sec: u32,
    /// Trades needed in the fast window (default 3, at least 2).
    pub min_ticks: u32,
    /// Move from the fast window's low (high for a short), percent (default 1.8, above 0).
    pub move_threshold_pct: f64,
    /// Smallest fast-window volume rate over the baseline's, per second (default 2.0, at
    /// least 1).
    pub volume_spike_ratio: f64,
    /// Margin over the baseline high (under the baseline low), bps (default 5: the seed's
    /// × 1.0005; at least 0).
    pub breakout_margin_bps: f64,
    /// Per-symbol pause after a signal, seconds (default 180, at least 15).
    pub cooldown_sec: u32,
    /// Entry notional in the quote currency (default "150", at least 25).
    pub quote_usd: Notional,
    /// Initial stop distance from the signal price, percent (default 0.8, 0.1..100).
    pub stop_pct: f64,
    /// Trailing distance from the best price since entry, percent (default 1.2, 0.1..100).
    pub trail_pct: f64,
    /// Take-profit distance, percent; 0 places none (default 3.5, 0..99).
    pub tp_pct: f64,
    /// Smallest stop move worth replacing the bracket for, bps of the current stop
    /// (default 1, above 0).
    pub min_stop_step_bps: f64,
    /// Allow breakdown shorts; they also need a market where shorts are possible
    /// (default false).
    pub allow_shorts: bool,
}

impl Default for MomentumRtConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            symbols: Vec::new(),
            window_sec: 45,
            baseline_sec: 360,
            min_ticks: 3,
            move_threshold_pct: 1.8,
            volume_spike_ratio: 2.0,
            breakout_margin_bps: 5.0,
            cooldown_sec: 180,
            quote_usd: Notional::from_int(150),
            stop_pct: 0.8,
            trail_pct: 1.2,
            tp_pct: 3.5,
            min_stop_step_bps: 1.0,
            allow_shorts: false,
        }
    }
}

impl MomentumRtConfig {
    /// The seed's clamps and the checks serde cannot make: (key, message) of the first
    /// problem, the key as written in the configuration file.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad =
            |key: &str, message: String| Err((format!("strategies.momentum_rt.{key}"), message));
        for (key, value, min) in [
            ("window_sec", self.window_sec, 10),
            (
                "baseline_sec",
                self.baseline_sec,
                self.window_sec.saturating_add(1),
            ),
            ("min_ticks", self.min_ticks, 2),
            ("cooldown_sec", self.cooldown_sec, 15),
        ] {
            if value < min {
                return bad(key, format!("{value} is below the minimum {min}"));
            }
        }
        if self.baseline_sec > MAX_BASELINE_SEC {
            return bad("baseline_sec", format!("at most {MAX_BASELINE_SEC}"));
        }
        for (key, value, low, high, low_open) in [
            (
                "move_threshold_pct",
                self.move_threshold_pct,
                0.0,
                100.0,
                true,
            ),
            (
                "volume_spike_ratio",
                self.volume_spike_ratio,
                1.0,
                f64::MAX,
                false,
            ),
            (
                "breakout_margin_bps",
                self.breakout_margin_bps,
                0.0,
                10_000.0,
                false,
            ),
            ("stop_pct", self.stop_pct, 0.1, 99.0, false),
            ("trail_pct", self.trail_pct, 0.1, 99.0, false),
            ("tp_pct", self.tp_pct, 0.0, 99.0, false),
            (
                "min_stop_step_bps",
                self.min_stop_step_bps,
                0.0,
                10_000.0,
                true,
            ),
        ] {
            let above_low = if low_open { value > low } else { value >= low };
            // NaN fails both comparisons.
            if !(above_low && value <= high) {
                let open = if low_open { " (exclusive)" } else { "" };
                return bad(key, format!("{value} is outside {low}{open}..={high}"));
            }
        }
        if self.quote_usd < Notional::from_int(25) {
            return bad("quote_usd", format!("{} is below 25", self.quote_usd));
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
        let config = MomentumRtConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!((config.window_sec, config.baseline_sec), (45, 360));
        assert_eq!(config.quote_usd, Notional::from_int(150));
        assert!(!config.allow_shorts && !config.enabled && !config.dry_run);
    }

    #[test]
    fn toml_section_and_clamps_naming_the_key() {
        let config: MomentumRtConfig =
            toml::from_str("enabled = true\nquote_usd = \"40\"\ntp_pct = 0\n").expect("valid");
        assert_eq!(config.quote_usd, Notional::from_int(40));
        assert_eq!(config.validate(), Ok(()));
        assert!(toml::from_str::<MomentumRtConfig>("prefer_futures = true\n").is_err());
        let key_of = |config: MomentumRtConfig| config.validate().map_err(|(key, _)| key);
        let base = MomentumRtConfig::default;
        for (config, key) in [
            (
                MomentumRtConfig {
                    baseline_sec: 45,
                    ..base()
                },
                "baseline_sec",
            ),
            (
                MomentumRtConfig {
                    volume_spike_ratio: 0.5,
                    ..base()
                },
                "volume_spike_ratio",
            ),
            (
                MomentumRtConfig {
                    move_threshold_pct: 0.0,
                    ..base()
                },
                "move_threshold_pct",
            ),
            (
                MomentumRtConfig {
                    trail_pct: f64::NAN,
                    ..base()
                },
                "trail_pct",
            ),
            (
                MomentumRtConfig {
                    cooldown_sec: 14,
                    ..base()
                },
                "cooldown_sec",
            ),
            (
                MomentumRtConfig {
                    quote_usd: Notional::from_int(24),
                    ..base()
                },
                "quote_usd",
            ),
        ] {
            assert_eq!(key_of(config), Err(format!("strategies.momentum_rt.{key}")));
        }
    }
}
