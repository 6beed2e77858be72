//! Owns: the trend strategy's snapshot — per symbol the position it manages (entry, initial
//! and ratcheted stop, target) and the cooldown end in venue ms, plus the tuner's params and
//! trade history — written as JSON for the journal and read back at start-up. Never: carries
//! indicator windows (they warm up again from klines) or overrides the configured params
//! with tuned ones while tuning is off (the tuner decides).

use crate::core::Price;

use super::super::api::RestoreError;
use super::tuner::{exact_f64, TunerSnapshot};
use super::{Position, TrendStrategy, NAME, SNAPSHOT_VERSION};

/// Per-symbol persisted state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SymbolSnapshot {
    name: String,
    symbol: u32,
    long: bool,
    entry_avg: Price,
    initial_stop: Price,
    stop: Price,
    target: Price,
    #[serde(with = "exact_f64")]
    stop_bps: f64,
    cooldown_until_ms: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Snapshot {
    version: u32,
    symbols: Vec<SymbolSnapshot>,
    tuner: TunerSnapshot,
}

impl TrendStrategy {
    /// The snapshot as JSON into `out` (left empty if it could not be written).
    pub(super) fn write_snapshot(&self, out: &mut Vec<u8>) {
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            symbols: self
                .states
                .iter()
                .map(|s| SymbolSnapshot {
                    name: s.name.clone(),
                    symbol: s.symbol.0,
                    long: s.position.long,
                    entry_avg: s.position.entry_avg,
                    initial_stop: s.position.initial_stop,
                    stop: s.position.stop,
                    target: s.position.target,
                    stop_bps: s.position.stop_bps,
                    cooldown_until_ms: s.cooldown_until_ms,
                })
                .collect(),
            tuner: self.tuner.snapshot(),
        };
        // Serialising plain data into a Vec cannot fail; an empty body restores nothing.
        if serde_json::to_writer(&mut *out, &snapshot).is_err() {
            out.clear();
        }
    }

    /// Takes back what [`write_snapshot`](Self::write_snapshot) wrote.
    pub(super) fn read_snapshot(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let snapshot: Snapshot = serde_json::from_slice(body).map_err(|e| RestoreError {
            strategy: NAME,
            message: e.to_string(),
        })?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(RestoreError {
                strategy: NAME,
                message: format!(
                    "snapshot version {} (this build reads {SNAPSHOT_VERSION})",
                    snapshot.version
                ),
            });
        }
        for saved in &snapshot.symbols {
            let found = self.states.iter_mut().find(|s| {
                if !saved.name.is_empty() && !s.name.is_empty() {
                    s.name == saved.name
                } else {
                    s.symbol.0 == saved.symbol
                }
            });
            let Some(state) = found else {
                continue;
            };
            state.cooldown_until_ms = saved.cooldown_until_ms;
            state.position = Position {
                long: saved.long,
                entry_avg: saved.entry_avg,
                initial_stop: saved.initial_stop,
                stop: saved.stop,
                target: saved.target,
                stop_bps: if saved.stop_bps.is_finite() {
                    saved.stop_bps
                } else {
                    0.0
                },
                ..Position::default()
            };
        }
        self.tuner.restore(&snapshot.tuner);
        Ok(())
    }
}
