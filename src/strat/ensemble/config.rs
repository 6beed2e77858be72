//! Owns: the ensemble strategy's settings (`[strategies.ensemble]`): the seed's knobs
//! (seed-spec §2.1.1) that still mean something, their defaults, and the checks serde
//! cannot make. Never: reads files or the environment.

use crate::core::Notional;
use crate::strat::hmm::features::{MAX_WINDOW, MIN_WINDOW};

/// Fusion weights of the two components.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnsembleWeights {
    /// Weight of the MA-cross vote (seed `ma_v1`: 0.5).
    pub ma: f64,
    /// Weight of the HMM vote (seed `hmm_v1`: 0.5).
    pub hmm: f64,
}

impl Default for EnsembleWeights {
    fn default() -> Self {
        Self { ma: 0.5, hmm: 0.5 }
    }
}

/// `[strategies.ensemble]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnsembleConfig {
    /// Run the strategy (default false).
    pub enabled: bool,
    /// Decide but send nothing: the risk rails' DryRun mode for this strategy (default false).
    pub dry_run: bool,
    /// Symbols it trades; it ignores every other symbol (default `["BTCUSDT"]`).
    pub symbols: Vec<String>,
    /// Fast MA length in trade ticks (default 9; below `slow`).
    pub fast: usize,
    /// Slow MA length in trade ticks (default 21).
    pub slow: usize,
    /// Entry notional in quote currency, USDT (default "10").
    pub quote_usdt: Notional,
    /// MA gap, in bps of the slow MA, that counts as full MA confidence (default 10): the MA
    /// confidence is min(1, gap / scale). The seed's raw gap / price (~1e-4) could never
    /// meet a 0.6 threshold (D-13).
    pub ma_conf_scale_bps: f64,
    /// Use the HMM component (default false).
    pub hmm_enabled: bool,
    /// HMM model file (`kestrel hmm-train` output; default `models/hmm_policy.json`); the
    /// integrator loads and watches it.
    pub model_path: String,
    /// Calibration profile file (default `models/hmm_calibration.json`; empty: none); the
    /// integrator loads and watches it.
    pub calibration_path: String,
    /// Rolling feature window in 1-minute rows (default 120); must equal the model's.
    pub hmm_window: usize,
    /// Least calibrated HMM confidence (max state probability × gain) for an HMM vote
    /// (default 0.5, the seed's hard-coded value).
    pub hmm_min_conf: f64,
    /// Base cooldown in seconds between orders on a symbol (default 30).
    pub cooldown_sec: f64,
    /// Take-profit distance from the entry in bps (default 20; 0: none).
    pub tp_bps: u32,
    /// Stop-loss distance from the entry in bps (default 30; 0: none).
    pub sl_bps: u32,
    /// Fuse the MA and HMM votes (default false; needs `hmm_enabled`).
    pub ensemble_enabled: bool,
    /// Least fused confidence to act (default 0.6).
    pub min_conf: f64,
    /// Fusion weights (default 0.5 / 0.5).
    pub weights: EnsembleWeights,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            symbols: vec!["BTCUSDT".to_string()],
            fast: 9,
            slow: 21,
            quote_usdt: Notional::from_int(10),
            ma_conf_scale_bps: 10.0,
            hmm_enabled: false,
            model_path: "models/hmm_policy.json".to_string(),
            calibration_path: "models/hmm_calibration.json".to_string(),
            hmm_window: 120,
            hmm_min_conf: 0.5,
            cooldown_sec: 30.0,
            tp_bps: 20,
            sl_bps: 30,
            ensemble_enabled: false,
            min_conf: 0.6,
            weights: EnsembleWeights::default(),
        }
    }
}

/// Longest MA accepted, in ticks.
pub const MAX_MA_LENGTH: usize = 10_000;

impl EnsembleConfig {
    /// The checks serde cannot make: (key, message) of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((format!("strategies.ensemble.{key}"), message));
        if self.symbols.is_empty() {
            return bad("symbols", "lists no symbol".into());
        }
        if self.fast == 0 || self.fast >= self.slow {
            return bad(
                "fast",
                format!("must be at least 1 and below slow ({})", self.slow),
            );
        }
        if self.slow > MAX_MA_LENGTH {
            return bad("slow", format!("at most {MAX_MA_LENGTH} ticks"));
        }
        if !self.quote_usdt.is_positive() {
            return bad("quote_usdt", "must be positive".into());
        }
        if !(self.ma_conf_scale_bps.is_finite() && self.ma_conf_scale_bps > 0.0) {
            return bad("ma_conf_scale_bps", "must be a positive number".into());
        }
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.hmm_window) {
            return bad(
                "hmm_window",
                format!("must be {MIN_WINDOW}..={MAX_WINDOW} rows"),
            );
        }
        if self.hmm_enabled && self.model_path.trim().is_empty() {
            return bad("model_path", "hmm_enabled needs a model file".into());
        }
        for (key, value) in [
            ("hmm_min_conf", self.hmm_min_conf),
            ("min_conf", self.min_conf),
        ] {
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return bad(key, "is a confidence in 0..=1".into());
            }
        }
        if !(self.cooldown_sec.is_finite() && self.cooldown_sec >= 0.0) {
            return bad("cooldown_sec", "must be a non-negative number".into());
        }
        if self.tp_bps >= 10_000 {
            return bad(
                "tp_bps",
                "must be below 10000 (a short's target would be ≤ 0)".into(),
            );
        }
        if self.sl_bps >= 10_000 {
            return bad(
                "sl_bps",
                "must be below 10000 (a long's stop would be ≤ 0)".into(),
            );
        }
        let w = self.weights;
        if !(w.ma.is_finite() && w.hmm.is_finite() && w.ma >= 0.0 && w.hmm >= 0.0) {
            return bad("weights", "must be non-negative numbers".into());
        }
        if self.ensemble_enabled {
            if !self.hmm_enabled {
                return bad(
                    "ensemble_enabled",
                    "needs hmm_enabled (fusion without the HMM never fires)".into(),
                );
            }
            if w.ma <= 0.0 || w.hmm <= 0.0 {
                return bad("weights", "both must be positive for fusion".into());
            }
            // The largest fused confidence is 1 (both components agree at full confidence).
            // The threshold must be reachable, and not by one component alone.
            let total = w.ma + w.hmm;
            if w.ma.max(w.hmm) / total >= self.min_conf {
                return bad(
                    "min_conf",
                    format!(
                        "{} is reached by one component alone with these weights; fusion would \
                         not need agreement",
                        self.min_conf
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_and_valid() {
        let c = EnsembleConfig::default();
        assert_eq!((c.fast, c.slow, c.hmm_window), (9, 21, 120));
        assert_eq!((c.tp_bps, c.sl_bps), (20, 30));
        assert_eq!(c.quote_usdt, Notional::from_int(10));
        assert_eq!(c.validate(), Ok(()));
        let fused = EnsembleConfig {
            hmm_enabled: true,
            ensemble_enabled: true,
            ..EnsembleConfig::default()
        };
        assert_eq!(fused.validate(), Ok(()));
    }

    #[test]
    fn toml_overrides_and_unknown_keys() {
        let c: EnsembleConfig = toml::from_str(
            "fast = 5\nslow = 8\nquote_usdt = \"125\"\nweights = { ma = 0.4, hmm = 0.6 }\n",
        )
        .expect("valid toml");
        assert_eq!((c.fast, c.slow), (5, 8));
        assert_eq!(c.quote_usdt, Notional::from_int(125));
        assert_eq!(c.weights, EnsembleWeights { ma: 0.4, hmm: 0.6 });
        assert!(toml::from_str::<EnsembleConfig>("hmm_slippage_bps = 3").is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |c: EnsembleConfig| c.validate().expect_err("invalid").0;
        let d = EnsembleConfig::default;
        assert_eq!(
            key(EnsembleConfig { fast: 21, ..d() }),
            "strategies.ensemble.fast"
        );
        assert_eq!(
            key(EnsembleConfig {
                quote_usdt: Notional::ZERO,
                ..d()
            }),
            "strategies.ensemble.quote_usdt"
        );
        assert_eq!(
            key(EnsembleConfig {
                ensemble_enabled: true,
                ..d()
            }),
            "strategies.ensemble.ensemble_enabled"
        );
        assert_eq!(
            key(EnsembleConfig {
                hmm_enabled: true,
                ensemble_enabled: true,
                min_conf: 0.5,
                ..d()
            }),
            "strategies.ensemble.min_conf"
        );
        assert_eq!(
            key(EnsembleConfig {
                hmm_window: 10,
                ..d()
            }),
            "strategies.ensemble.hmm_window"
        );
        assert_eq!(
            key(EnsembleConfig {
                sl_bps: 10_000,
                ..d()
            }),
            "strategies.ensemble.sl_bps"
        );
        assert_eq!(
            key(EnsembleConfig {
                cooldown_sec: f64::NAN,
                ..d()
            }),
            "strategies.ensemble.cooldown_sec"
        );
        assert_eq!(
            key(EnsembleConfig {
                symbols: vec![],
                ..d()
            }),
            "strategies.ensemble.symbols"
        );
    }
}
