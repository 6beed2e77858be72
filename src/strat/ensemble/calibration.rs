//! Owns: the ensemble's per-symbol calibration profile (seed-spec §2.1.4) — confidence
//! gain, quote multiplier and cooldown scale per symbol with a `"*"` fallback — parsed and
//! validated from JSON. Never: reads the file by itself on a schedule (the integrator
//! watches it and hands a new version to the strategy), or accepts a value that is not a
//! positive finite number.
//!
//! ```json
//! {"BTCUSDT": {"confidence_gain": 1.2, "quote_multiplier": 0.5},
//!  "*": {"cooldown_scale": 2.0}}
//! ```
//!
//! Lookup per field: the symbol's own entry (upper-case), else `"*"`'s, else 1.0 — so a
//! symbol that sets only its gain still takes the fallback's cooldown scale.

use std::collections::BTreeMap;
use std::path::Path;

/// The effective factors for one symbol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// Multiplies the HMM decision's and the fused confidence.
    pub confidence_gain: f64,
    /// Multiplies the quote of an HMM-only entry.
    pub quote_multiplier: f64,
    /// Multiplies every cooldown window.
    pub cooldown_scale: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            confidence_gain: 1.0,
            quote_multiplier: 1.0,
            cooldown_scale: 1.0,
        }
    }
}

/// One entry as written; absent fields fall back.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    confidence_gain: Option<f64>,
    quote_multiplier: Option<f64>,
    cooldown_scale: Option<f64>,
}

/// A calibration profile file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calibration {
    by_symbol: BTreeMap<String, Entry>,
    fallback: Entry,
}

/// Why a calibration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("calibration file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("calibration file is not a JSON object of profiles: {0}")]
    Json(String),
    #[error("calibration {symbol}.{field} = {value} is not a positive number")]
    Value {
        symbol: String,
        field: &'static str,
        value: f64,
    },
}

impl Calibration {
    /// Parses and validates a calibration file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, CalibrationError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: BTreeMap<String, Entry> = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| CalibrationError::Json(format!("{}: {}", e.path(), e.inner())))?;
        let mut calibration = Calibration::default();
        for (symbol, entry) in raw {
            let symbol = symbol.to_ascii_uppercase();
            for (field, value) in [
                ("confidence_gain", entry.confidence_gain),
                ("quote_multiplier", entry.quote_multiplier),
                ("cooldown_scale", entry.cooldown_scale),
            ] {
                if let Some(value) = value {
                    if !(value.is_finite() && value > 0.0) {
                        return Err(CalibrationError::Value {
                            symbol,
                            field,
                            value,
                        });
                    }
                }
            }
            if symbol == "*" {
                calibration.fallback = entry;
            } else {
                calibration.by_symbol.insert(symbol, entry);
            }
        }
        Ok(calibration)
    }

    /// Reads and validates the calibration file at `path`.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let bytes = std::fs::read(path).map_err(|source| CalibrationError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// The factors of `symbol` (any case).
    pub fn lookup(&self, symbol: &str) -> Profile {
        let own = self
            .by_symbol
            .get(&symbol.to_ascii_uppercase())
            .copied()
            .unwrap_or_default();
        let pick = |own: Option<f64>, fallback: Option<f64>| own.or(fallback).unwrap_or(1.0);
        Profile {
            confidence_gain: pick(own.confidence_gain, self.fallback.confidence_gain),
            quote_multiplier: pick(own.quote_multiplier, self.fallback.quote_multiplier),
            cooldown_scale: pick(own.cooldown_scale, self.fallback.cooldown_scale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_takes_the_symbol_then_the_star_then_one_per_field() {
        let c = Calibration::parse(
            br#"{"btcusdt": {"confidence_gain": 1.5, "quote_multiplier": 0.5},
                 "*": {"confidence_gain": 0.8, "cooldown_scale": 2.0}}"#,
        )
        .expect("valid");
        assert_eq!(
            c.lookup("BTCUSDT"),
            Profile {
                confidence_gain: 1.5,
                quote_multiplier: 0.5,
                cooldown_scale: 2.0
            }
        );
        assert_eq!(
            c.lookup("ethusdt"),
            Profile {
                confidence_gain: 0.8,
                quote_multiplier: 1.0,
                cooldown_scale: 2.0
            }
        );
        assert_eq!(
            Calibration::parse(b"{}").expect("empty").lookup("X"),
            Profile::default()
        );
    }

    #[test]
    fn bad_values_and_fields_are_refused_by_name() {
        let e = Calibration::parse(br#"{"ETHUSDT": {"cooldown_scale": 0}}"#).expect_err("zero");
        assert!(e.to_string().contains("ETHUSDT.cooldown_scale = 0"), "{e}");
        let e = Calibration::parse(br#"{"*": {"confidence_gain": -1}}"#).expect_err("negative");
        assert!(e.to_string().contains("*.confidence_gain"), "{e}");
        let e = Calibration::parse(br#"{"X": {"gain": 1}}"#).expect_err("unknown");
        assert!(e.to_string().contains("gain"), "{e}");
        let e = Calibration::parse(br#"{"X": {"quote_multiplier": "2"}}"#).expect_err("type");
        assert!(e.to_string().contains("X.quote_multiplier"), "{e}");
        assert!(Calibration::parse(b"[1]").is_err());
        assert!(Calibration::parse(b"").is_err());
    }
}
