//! Owns: the `[strategies]` section — which strategies run, in which dispatcher order, each
//! one's own section with the seed's defaults, the symbol scanner — its checks, and
//! building the dispatcher from it for the symbols a run trades. Never: reads a file other
//! than what a strategy names (the HMM model and calibration profile, at start-up), or lets
//! a strategy trade a symbol the run does not trade (names outside the run's symbols are
//! left out and reported).
//!
//! ```toml
//! [strategies]
//! order = ["scalping", "momentum_rt", "trend_follow", "ensemble", "momentum_breakout"]
//! [strategies.ensemble]
//! enabled = true
//! [strategies.scalping]
//! enabled = true
//! dry_run = false
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::core::{Instrument, Market, SymbolId, SymbolTable};

use super::api::{Strategy, SymbolSelector, RELOAD_CALIBRATION, RELOAD_HMM_MODEL};
use super::dispatch::{Dispatcher, DispatcherConfig, Entry};
use super::ensemble::calibration::Calibration;
use super::hmm::HmmModel;
use super::{
    EnsembleConfig, EnsembleStrategy, MomentumBreakoutConfig, MomentumBreakoutStrategy,
    MomentumRtConfig, MomentumRtStrategy, ScalpConfig, ScalpStrategy, ScannerConfig, SymbolScanner,
    TrendConfig, TrendStrategy,
};

/// Section names, in the seed's dispatcher order (§2.0: scalping, momentum-RT, trend, then
/// the MA/HMM ensemble; the scheduled momentum breakout was never wired in the seed and
/// comes last).
pub const STRATEGY_NAMES: [&str; 5] = [
    "scalping",
    "momentum_rt",
    "trend_follow",
    "ensemble",
    "momentum_breakout",
];

/// The `[strategies]` section.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategiesConfig {
    /// Dispatcher order by section name: the first strategy in the list that enters a
    /// symbol owns it until it is flat. Strategies left out run after the listed ones, in
    /// [`STRATEGY_NAMES`] order.
    pub order: Vec<String>,
    pub scalping: ScalpConfig,
    pub momentum_rt: MomentumRtConfig,
    pub trend_follow: TrendConfig,
    pub ensemble: EnsembleConfig,
    pub momentum_breakout: MomentumBreakoutConfig,
    /// Ranks a universe and limits the strategies with `use_scanner` to its selection.
    pub scanner: ScannerConfig,
}

impl Default for StrategiesConfig {
    fn default() -> Self {
        Self {
            order: STRATEGY_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            scalping: ScalpConfig::default(),
            momentum_rt: MomentumRtConfig::default(),
            trend_follow: TrendConfig::default(),
            ensemble: EnsembleConfig::default(),
            momentum_breakout: MomentumBreakoutConfig::default(),
            scanner: ScannerConfig::default(),
        }
    }
}

/// A dispatcher ready to run, and what building it found.
pub struct BuiltStrategies {
    pub dispatcher: Dispatcher,
    /// (section, symbol) pairs left out: named by a section, not traded by the run.
    pub left_out: Vec<(String, String)>,
    /// Files the engine should watch for run-time reloads (key, path).
    pub watched: Vec<(&'static str, PathBuf)>,
}

/// Parses an HMM model file for a reload.
pub fn parse_model(bytes: &[u8]) -> anyhow::Result<Arc<dyn std::any::Any + Send + Sync>> {
    Ok(Arc::new(HmmModel::parse(bytes)?))
}

/// Parses a calibration profile for a reload.
pub fn parse_calibration(bytes: &[u8]) -> anyhow::Result<Arc<dyn std::any::Any + Send + Sync>> {
    Ok(Arc::new(Calibration::parse(bytes)?))
}

fn prefixed(section: &str, (key, message): (String, String)) -> (String, String) {
    if key.starts_with("strategies.") {
        (key, message)
    } else {
        (format!("strategies.{section}.{key}"), message)
    }
}

impl StrategiesConfig {
    /// True when at least one strategy is enabled.
    pub fn any_enabled(&self) -> bool {
        self.scalping.enabled
            || self.momentum_rt.enabled
            || self.trend_follow.enabled
            || self.ensemble.enabled
            || self.momentum_breakout.enabled
    }

    /// The sections in dispatcher order.
    pub fn dispatch_order(&self) -> Vec<&'static str> {
        let mut order: Vec<&'static str> = Vec::with_capacity(STRATEGY_NAMES.len());
        for name in &self.order {
            if let Some(known) = STRATEGY_NAMES.iter().find(|n| **n == name.as_str()) {
                if !order.contains(known) {
                    order.push(known);
                }
            }
        }
        for name in STRATEGY_NAMES {
            if !order.contains(&name) {
                order.push(name);
            }
        }
        order
    }

    /// Checks what serde cannot; `Err((key, message))` names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let mut seen: Vec<&str> = Vec::new();
        for name in &self.order {
            if !STRATEGY_NAMES.contains(&name.as_str()) {
                return Err((
                    "strategies.order".to_owned(),
                    format!("unknown strategy {name:?}: expected one of {STRATEGY_NAMES:?}"),
                ));
            }
            if seen.contains(&name.as_str()) {
                return Err((
                    "strategies.order".to_owned(),
                    format!("{name:?} listed twice"),
                ));
            }
            seen.push(name);
        }
        if self.scalping.enabled {
            self.scalping
                .validate()
                .map_err(|e| prefixed("scalping", e))?;
        }
        if self.momentum_rt.enabled {
            self.momentum_rt
                .validate()
                .map_err(|e| prefixed("momentum_rt", e))?;
        }
        if self.trend_follow.enabled {
            self.trend_follow
                .validate()
                .map_err(|e| prefixed("trend_follow", e))?;
        }
        if self.ensemble.enabled {
            self.ensemble
                .validate()
                .map_err(|e| prefixed("ensemble", e))?;
        }
        if self.momentum_breakout.enabled {
            self.momentum_breakout
                .validate()
                .map_err(|e| prefixed("momentum_breakout", e))?;
        }
        if self.scanner.enabled {
            self.scanner
                .validate()
                .map_err(|e| prefixed("scanner", e))?;
        }
        Ok(())
    }

    /// Builds the dispatcher for a run on `market` trading `traded` (ids of `symbols`, with
    /// their instruments: each lot minimum is the dispatcher's dust floor); relative file
    /// paths resolve against `base_dir`. The HMM model and calibration profile are read here
    /// (a named file that does not load fails the start).
    pub fn build(
        &self,
        symbols: &SymbolTable,
        traded: &[(SymbolId, Instrument)],
        market: Market,
        bars_from_data: bool,
        base_dir: &Path,
    ) -> anyhow::Result<BuiltStrategies> {
        self.validate()
            .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
        let mut left_out = Vec::new();
        let mut resolve = |section: &str, names: &[String]| -> (Vec<String>, Vec<SymbolId>) {
            let mut kept = (Vec::new(), Vec::new());
            for name in names {
                let upper = name.to_ascii_uppercase();
                match symbols
                    .get(upper.as_bytes())
                    .filter(|id| traded.iter().any(|(t, _)| t == id))
                {
                    Some(id) if !kept.1.contains(&id) => {
                        kept.0.push(upper);
                        kept.1.push(id);
                    }
                    Some(_) => {}
                    None => left_out.push((section.to_owned(), upper)),
                }
            }
            kept
        };
        let scanner: Option<SymbolScanner> = if self.scanner.enabled {
            let (names, ids) = resolve("scanner", &self.scanner.universe);
            let config = ScannerConfig {
                universe: names,
                ..self.scanner.clone()
            };
            Some(SymbolScanner::new(&config, &ids))
        } else {
            None
        };
        let universe: Vec<SymbolId> = scanner
            .as_ref()
            .map(|s| s.universe().to_vec())
            .unwrap_or_default();
        let names_by_index = symbols.names_by_index();
        let mut watched = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for name in self.dispatch_order() {
            let (strategy, dry_run): (Box<dyn Strategy>, bool) = match name {
                "scalping" if self.scalping.enabled => {
                    let (names, ids) = resolve(name, &self.scalping.symbols);
                    let config = ScalpConfig {
                        symbols: names,
                        ..self.scalping.clone()
                    };
                    (Box::new(ScalpStrategy::new(&config, &ids)), config.dry_run)
                }
                "momentum_rt" if self.momentum_rt.enabled => {
                    let (names, ids) = resolve(name, &self.momentum_rt.symbols);
                    let config = MomentumRtConfig {
                        symbols: names,
                        ..self.momentum_rt.clone()
                    };
                    (
                        Box::new(MomentumRtStrategy::new(&config, &ids)),
                        config.dry_run,
                    )
                }
                "trend_follow" if self.trend_follow.enabled => {
                    let (names, ids) = resolve(name, &self.trend_follow.symbols);
                    let config = TrendConfig {
                        symbols: names,
                        ..self.trend_follow.clone()
                    };
                    (Box::new(TrendStrategy::new(&config, &ids)), config.dry_run)
                }
                "ensemble" if self.ensemble.enabled => {
                    let (names, ids) = resolve(name, &self.ensemble.symbols);
                    let config = EnsembleConfig {
                        symbols: names,
                        ..self.ensemble.clone()
                    };
                    let mut strategy = EnsembleStrategy::new(&config, &ids);
                    strategy.set_symbol_names(&names_by_index);
                    if config.hmm_enabled {
                        let path = base_dir.join(&config.model_path);
                        let model = HmmModel::load(&path).with_context(|| {
                            format!("strategies.ensemble.model_path {}", path.display())
                        })?;
                        strategy.set_model(Arc::new(model)).map_err(|e| {
                            anyhow::anyhow!(
                                "strategies.ensemble.model_path {}: {e}",
                                path.display()
                            )
                        })?;
                        watched.push((RELOAD_HMM_MODEL, path));
                    }
                    // The profile is optional: without the file every symbol takes 1.0.
                    let path = base_dir.join(&config.calibration_path);
                    if !config.calibration_path.is_empty() && path.exists() {
                        let profile = Calibration::load(&path).with_context(|| {
                            format!("strategies.ensemble.calibration_path {}", path.display())
                        })?;
                        strategy.set_calibration(Arc::new(profile));
                        watched.push((RELOAD_CALIBRATION, path));
                    }
                    (Box::new(strategy), config.dry_run)
                }
                "momentum_breakout" if self.momentum_breakout.enabled => {
                    let (names, mut ids) = resolve(name, &self.momentum_breakout.symbols);
                    if self.momentum_breakout.use_scanner {
                        for s in &universe {
                            if !ids.contains(s) {
                                ids.push(*s);
                            }
                        }
                    }
                    let config = MomentumBreakoutConfig {
                        symbols: names,
                        ..self.momentum_breakout.clone()
                    };
                    (
                        Box::new(MomentumBreakoutStrategy::new(&config, &ids)),
                        config.dry_run,
                    )
                }
                _ => continue,
            };
            entries.push(Entry { strategy, dry_run });
        }
        let config = DispatcherConfig {
            market,
            bars_from_data,
            ..DispatcherConfig::default()
        };
        let selector = scanner.map(|s| Box::new(s) as Box<dyn SymbolSelector>);
        let mut dispatcher = Dispatcher::new(config, symbols.len(), entries, selector)
            .context("strategy bar timeframes")?;
        for (id, instrument) in traded {
            let lot = &instrument.lot_size;
            dispatcher.set_lot_floor(*id, lot.min_qty.max(lot.step_size));
        }
        Ok(BuiltStrategies {
            dispatcher,
            left_out,
            watched,
        })
    }
}
