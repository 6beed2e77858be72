//! Owns: the trend strategy's auto-tuner (seed-spec §2.2.4) — the record of closed trades
//! and the bounded adjustments of the stop and target multiples, the RSI entry band and the
//! cooldown from the rolling win rate. Never: applies anything while tuning is disabled,
//! moves a value past its bound, or reads a clock (trades carry their venue close time).
//!
//! Rules, as in the seed. Every closed trade is recorded (history capped at
//! `auto_tune_history`, oldest dropped). When tuning is enabled, with at least `min_trades`
//! records and at least `interval` trades since the last change, the win rate over the last
//! `min_trades` trades (a win is a trade with pnl > 0) is compared with the band:
//! - below `win_low` ("losing"): stop multiple + 0.1 (≤ stop_max), target multiple + 0.15
//!   (≤ 1.5 × stop_max), RSI band one point wider each side (min ≥ 35, max ≤ 85), cooldown
//!   + 1 bar (≤ 6);
//! - above `win_high` ("winning"): stop multiple − 0.1 (≥ stop_min), target multiple =
//!   max(new stop + 0.3, target − 0.1), RSI min + 1 (≤ max − 0.5), RSI max = max(min + 5,
//!   max − 1), cooldown − 1 bar (≥ 1).
//!
//! The trade counter restarts only when something changed. Two refinements over the seed: a
//! step toward a bound never crosses it from the wrong side (a configured cooldown of 10
//! stays 10 on a losing streak instead of being "raised" to 6), and the winning rule caps
//! the RSI max at 85 as the losing rule does (in the seed `max = max(min + 5, max − 1)`
//! dragged the band up by one point per adjustment without end, past 100).
//!
//! Persistence: the params and history travel in the strategy snapshot. Restored params are
//! used only when tuning is enabled; with tuning off the configured values stand (the seed
//! restored tuned values over the environment even when tuning was off).

use std::collections::VecDeque;

use crate::core::Price;

use super::config::TrendConfig;

/// Snapshot form of an `f64`: its shortest exact text, so a restore gets the very same
/// value back (serde_json's default float parsing may be one ulp off); plain JSON numbers
/// are read too.
pub(super) mod exact_f64 {
    use std::fmt;

    pub fn serialize<S: serde::Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, as text or plain")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
                v.parse::<f64>()
                    .map_err(|e| E::custom(format_args!("{e}: {v:?}")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The values the tuner adjusts.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TunedParams {
    #[serde(with = "exact_f64")]
    pub atr_stop_mult: f64,
    #[serde(with = "exact_f64")]
    pub atr_target_mult: f64,
    #[serde(with = "exact_f64")]
    pub rsi_long_min: f64,
    #[serde(with = "exact_f64")]
    pub rsi_long_max: f64,
    pub cooldown_bars: u32,
}

impl TunedParams {
    /// The configured values.
    pub fn from_config(config: &TrendConfig) -> Self {
        Self {
            atr_stop_mult: config.atr_stop_mult,
            atr_target_mult: config.atr_target_mult,
            rsi_long_min: config.rsi_long_min,
            rsi_long_max: config.rsi_long_max,
            cooldown_bars: config.cooldown_bars.max(1),
        }
    }

    fn is_sane(&self) -> bool {
        let finite = [
            self.atr_stop_mult,
            self.atr_target_mult,
            self.rsi_long_min,
            self.rsi_long_max,
        ]
        .iter()
        .all(|v| v.is_finite());
        finite && self.atr_stop_mult > 0.0 && self.atr_target_mult > 0.0 && self.cooldown_bars > 0
    }
}

/// How a position ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitReason {
    /// The exchange-side stop filled.
    Stop,
    /// The exchange-side take-profit filled.
    Target,
    /// The strategy's own exit (RSI or cross-down) filled.
    Signal,
    /// Closed by something else (an operator, the risk rails' flatten).
    Other,
}

/// Win, loss or breakeven (|pnl| within 0.05 %), the `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TradeResult {
    Win,
    Loss,
    Breakeven,
}

impl TradeResult {
    /// All results, in label order.
    pub const ALL: [TradeResult; 3] = [TradeResult::Win, TradeResult::Loss, TradeResult::Breakeven];

    /// Result of a trade returning `pnl_pct` percent.
    pub fn of(pnl_pct: f64) -> Self {
        if pnl_pct > 0.05 {
            TradeResult::Win
        } else if pnl_pct < -0.05 {
            TradeResult::Loss
        } else {
            TradeResult::Breakeven
        }
    }

    /// Label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeResult::Win => "win",
            TradeResult::Loss => "loss",
            TradeResult::Breakeven => "breakeven",
        }
    }

    /// Index into [`ALL`](Self::ALL).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One closed position.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TradeRecord {
    /// `SymbolId` index.
    pub symbol: u32,
    /// Average entry and exit fill prices.
    pub entry: Price,
    pub exit: Price,
    /// (exit / entry − 1) × 100, fees excluded.
    #[serde(with = "exact_f64")]
    pub pnl_pct: f64,
    pub result: TradeResult,
    pub reason: ExitReason,
    /// Stop at entry, and the ratcheted stop when the position closed.
    pub initial_stop: Price,
    pub final_stop: Price,
    /// Entry stop distance from the entry reference price, basis points.
    #[serde(with = "exact_f64")]
    pub stop_bps: f64,
    /// Venue time of the closing fill, ms since the UTC epoch.
    pub closed_ms: u64,
}

/// Which way the last adjustment went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjustment {
    /// The win rate was below the band: wider stops and band, longer cooldown.
    Losing,
    /// Above the band: tighter stops and band, shorter cooldown.
    Winning,
}

/// The tuner's knobs (from the config).
#[derive(Clone, Copy, Debug)]
struct TunerSettings {
    enabled: bool,
    min_trades: usize,
    interval: u32,
    history: usize,
    win_low: f64,
    win_high: f64,
    stop_min: f64,
    stop_max: f64,
}

/// What the tuner persists.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TunerSnapshot {
    pub params: TunedParams,
    pub trades_since_change: u32,
    pub history: Vec<TradeRecord>,
}

/// The auto-tuner.
#[derive(Debug, Clone)]
pub struct AutoTuner {
    settings: TunerSettings,
    params: TunedParams,
    history: VecDeque<TradeRecord>,
    trades_since_change: u32,
    adjustments: u64,
}

const RSI_FLOOR: f64 = 35.0;
const RSI_CEILING: f64 = 85.0;
const COOLDOWN_CEILING: u32 = 6;

/// `value + step`, at most `bound`; a value already at or past the bound stays.
fn raise(value: f64, step: f64, bound: f64) -> f64 {
    if value >= bound {
        value
    } else {
        (value + step).min(bound)
    }
}

/// `value − step`, at least `bound`; a value already at or past the bound stays.
fn lower(value: f64, step: f64, bound: f64) -> f64 {
    if value <= bound {
        value
    } else {
        (value - step).max(bound)
    }
}

impl AutoTuner {
    /// A tuner starting from the configured values, with an empty history.
    pub fn new(config: &TrendConfig) -> Self {
        let history = (config.auto_tune_history as usize).max(10);
        Self {
            settings: TunerSettings {
                enabled: config.auto_tune_enabled,
                min_trades: (config.auto_tune_min_trades as usize).max(1),
                interval: config.auto_tune_interval.max(1),
                history,
                win_low: config.auto_tune_win_low,
                win_high: config.auto_tune_win_high,
                stop_min: config.auto_tune_stop_min,
                stop_max: config.auto_tune_stop_max,
            },
            params: TunedParams::from_config(config),
            history: VecDeque::with_capacity(history),
            trades_since_change: 0,
            adjustments: 0,
        }
    }

    /// The values in use.
    pub fn params(&self) -> TunedParams {
        self.params
    }

    /// Recorded trades, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &TradeRecord> + '_ {
        self.history.iter()
    }

    /// Adjustments applied since start.
    pub fn adjustments(&self) -> u64 {
        self.adjustments
    }

    /// Trades since the last change.
    pub fn trades_since_change(&self) -> u32 {
        self.trades_since_change
    }

    /// Share of wins (pnl > 0) over the last `min_trades` trades, once there are that many.
    pub fn win_rate(&self) -> Option<f64> {
        let window = self.settings.min_trades;
        if self.history.len() < window {
            return None;
        }
        let wins = self
            .history
            .iter()
            .rev()
            .take(window)
            .filter(|t| t.pnl_pct > 0.0)
            .count();
        Some(wins as f64 / window as f64)
    }

    /// Records a closed trade and, when enabled and due, adjusts; the adjustment made, if
    /// any value changed.
    pub fn record(&mut self, trade: TradeRecord) -> Option<Adjustment> {
        if self.history.len() == self.settings.history {
            self.history.pop_front();
        }
        self.history.push_back(trade);
        self.trades_since_change = self.trades_since_change.saturating_add(1);
        if !self.settings.enabled || self.trades_since_change < self.settings.interval {
            return None;
        }
        let rate = self.win_rate()?;
        let before = self.params;
        let kind = if rate < self.settings.win_low {
            self.loosen();
            Adjustment::Losing
        } else if rate > self.settings.win_high {
            self.tighten();
            Adjustment::Winning
        } else {
            return None;
        };
        if self.params == before {
            return None;
        }
        self.trades_since_change = 0;
        self.adjustments += 1;
        Some(kind)
    }

    fn loosen(&mut self) {
        let s = self.settings;
        let p = &mut self.params;
        p.atr_stop_mult = raise(p.atr_stop_mult, 0.1, s.stop_max);
        p.atr_target_mult = raise(p.atr_target_mult, 0.15, 1.5 * s.stop_max);
        p.rsi_long_min = lower(p.rsi_long_min, 1.0, RSI_FLOOR);
        p.rsi_long_max = raise(p.rsi_long_max, 1.0, RSI_CEILING);
        if p.cooldown_bars < COOLDOWN_CEILING {
            p.cooldown_bars += 1;
        }
    }

    fn tighten(&mut self) {
        let s = self.settings;
        let p = &mut self.params;
        p.atr_stop_mult = lower(p.atr_stop_mult, 0.1, s.stop_min);
        p.atr_target_mult = (p.atr_stop_mult + 0.3).max(p.atr_target_mult - 0.1);
        p.rsi_long_min = raise(p.rsi_long_min, 1.0, p.rsi_long_max - 0.5);
        let stepped = (p.rsi_long_min + 5.0).max(p.rsi_long_max - 1.0);
        p.rsi_long_max = if stepped > RSI_CEILING {
            RSI_CEILING.max(p.rsi_long_max - 1.0)
        } else {
            stepped
        };
        if p.cooldown_bars > 1 {
            p.cooldown_bars -= 1;
        }
    }

    /// The state to persist.
    pub fn snapshot(&self) -> TunerSnapshot {
        TunerSnapshot {
            params: self.params,
            trades_since_change: self.trades_since_change,
            history: self.history.iter().copied().collect(),
        }
    }

    /// Takes back a snapshot: the history and counter always, the params only when tuning
    /// is enabled (and they are sane); true when the params were taken.
    pub fn restore(&mut self, snapshot: &TunerSnapshot) -> bool {
        self.history.clear();
        let keep = snapshot.history.len().min(self.settings.history);
        let skip = snapshot.history.len() - keep;
        self.history
            .extend(snapshot.history.iter().skip(skip).copied());
        self.trades_since_change = snapshot.trades_since_change;
        let take = self.settings.enabled && snapshot.params.is_sane();
        if take {
            self.params = snapshot.params;
        }
        take
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(pnl_pct: f64) -> TradeRecord {
        TradeRecord {
            symbol: 0,
            entry: Price::from_int(100),
            exit: Price::from_int(100),
            pnl_pct,
            result: TradeResult::of(pnl_pct),
            reason: ExitReason::Signal,
            initial_stop: Price::from_int(95),
            final_stop: Price::from_int(95),
            stop_bps: 500.0,
            closed_ms: 0,
        }
    }

    fn enabled() -> TrendConfig {
        TrendConfig {
            auto_tune_enabled: true,
            auto_tune_min_trades: 10,
            auto_tune_interval: 5,
            auto_tune_history: 20,
            ..TrendConfig::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_losing_streak_widens_stops_band_and_cooldown_once_due() {
        let mut tuner = AutoTuner::new(&enabled());
        for i in 0..9 {
            assert_eq!(
                tuner.record(trade(-1.0)),
                None,
                "trade {i}: not enough trades"
            );
        }
        assert_eq!(tuner.record(trade(-1.0)), Some(Adjustment::Losing));
        let p = tuner.params();
        assert!(close(p.atr_stop_mult, 1.3) && close(p.atr_target_mult, 2.15));
        assert_eq!(
            (p.rsi_long_min, p.rsi_long_max, p.cooldown_bars),
            (51.0, 73.0, 4)
        );
        assert_eq!(tuner.trades_since_change(), 0);
        for _ in 0..4 {
            assert_eq!(tuner.record(trade(-1.0)), None, "interval not reached");
        }
        assert_eq!(tuner.record(trade(-1.0)), Some(Adjustment::Losing));
        assert!(close(tuner.params().atr_stop_mult, 1.4));
        assert_eq!(tuner.adjustments(), 2);
    }

    #[test]
    fn a_winning_streak_tightens_and_the_target_keeps_its_margin_over_the_stop() {
        let mut tuner = AutoTuner::new(&enabled());
        for _ in 0..9 {
            tuner.record(trade(2.0));
        }
        assert_eq!(tuner.record(trade(2.0)), Some(Adjustment::Winning));
        let p = tuner.params();
        assert!(close(p.atr_stop_mult, 1.1));
        assert!(close(p.atr_target_mult, 1.9), "max(1.1 + 0.3, 2.0 − 0.1)");
        assert_eq!(
            (p.rsi_long_min, p.rsi_long_max, p.cooldown_bars),
            (53.0, 71.0, 2)
        );
        // Far more wins: everything walks to its bound and stops there.
        for _ in 0..200 {
            tuner.record(trade(2.0));
        }
        let p = tuner.params();
        assert!(close(p.atr_stop_mult, 0.5), "stop_min");
        assert!(close(p.atr_target_mult, 0.8), "stop + 0.3");
        assert_eq!(p.cooldown_bars, 1);
        // The band is pushed up (min + 1, max = min + 5) until max meets 85 and min its
        // max − 0.5 bound; it never drifts past 85.
        assert_eq!((p.rsi_long_min, p.rsi_long_max), (84.5, 85.0));
        assert_eq!(tuner.history().count(), 20, "history capped");
        let frozen = tuner.adjustments();
        assert_eq!(tuner.record(trade(2.0)), None, "nothing left to change");
        assert_eq!(tuner.adjustments(), frozen);
        assert!(
            tuner.trades_since_change() >= 5,
            "counter runs on without a change"
        );
    }

    #[test]
    fn losing_forever_stops_at_the_bounds() {
        let mut tuner = AutoTuner::new(&enabled());
        for _ in 0..500 {
            tuner.record(trade(-1.0));
        }
        let p = tuner.params();
        assert!(close(p.atr_stop_mult, 2.5));
        assert!(close(p.atr_target_mult, 3.75), "1.5 × stop_max");
        assert_eq!(
            (p.rsi_long_min, p.rsi_long_max, p.cooldown_bars),
            (35.0, 85.0, 6)
        );
        // Nothing can change any more: the counter keeps running, nothing is reported.
        assert_eq!(tuner.record(trade(-1.0)), None);
        assert!(tuner.trades_since_change() >= 5);
    }

    #[test]
    fn a_win_rate_inside_the_band_changes_nothing() {
        let mut tuner = AutoTuner::new(&enabled());
        for i in 0..30 {
            // One win in two: 0.5, inside [0.40, 0.65].
            let pnl = if i % 2 == 0 { 1.0 } else { -1.0 };
            assert_eq!(tuner.record(trade(pnl)), None);
        }
        assert_eq!(tuner.win_rate(), Some(0.5));
        assert_eq!(tuner.params(), TunedParams::from_config(&enabled()));
    }

    #[test]
    fn disabled_records_but_never_applies_nor_restores_params() {
        let config = TrendConfig {
            auto_tune_enabled: false,
            ..enabled()
        };
        let mut tuner = AutoTuner::new(&config);
        for _ in 0..50 {
            assert_eq!(tuner.record(trade(-1.0)), None);
        }
        assert_eq!(tuner.params(), TunedParams::from_config(&config));
        assert_eq!(tuner.history().count(), 20);
        // A snapshot written by a tuning run: history comes back, params do not.
        let mut tuned = AutoTuner::new(&enabled());
        for _ in 0..10 {
            tuned.record(trade(-1.0));
        }
        let snapshot = tuned.snapshot();
        assert_ne!(snapshot.params, TunedParams::from_config(&config));
        assert!(!tuner.restore(&snapshot));
        assert_eq!(tuner.params(), TunedParams::from_config(&config));
        assert_eq!(tuner.history().count(), 10);
        // The same snapshot into an enabled tuner: params come back too.
        let mut enabled_tuner = AutoTuner::new(&enabled());
        assert!(enabled_tuner.restore(&snapshot));
        assert_eq!(enabled_tuner.params(), snapshot.params);
        assert_eq!(enabled_tuner.snapshot(), snapshot);
    }

    #[test]
    fn steps_never_cross_a_bound_from_the_wrong_side() {
        let config = TrendConfig {
            cooldown_bars: 10,
            atr_stop_mult: 3.0,
            ..enabled()
        };
        let mut tuner = AutoTuner::new(&config);
        for _ in 0..10 {
            tuner.record(trade(-1.0));
        }
        let p = tuner.params();
        assert_eq!(
            p.cooldown_bars, 10,
            "a losing streak never shortens the cooldown"
        );
        assert_eq!(
            p.atr_stop_mult, 3.0,
            "nor narrows a stop set wider than stop_max"
        );
    }

    #[test]
    fn results_use_the_005_percent_band() {
        assert_eq!(TradeResult::of(0.06), TradeResult::Win);
        assert_eq!(TradeResult::of(0.05), TradeResult::Breakeven);
        assert_eq!(TradeResult::of(-0.05), TradeResult::Breakeven);
        assert_eq!(TradeResult::of(-0.051), TradeResult::Loss);
    }
}
