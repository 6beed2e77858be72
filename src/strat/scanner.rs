//! Owns: the symbol scanner (seed-spec §2.3) — keeps the last `lookback` closed bars of its
//! kline timeframe for every universe symbol, periodically ranks the universe by a score
//! of return, short-term trend and volatility after volume and volatility filters, and
//! keeps the top N as the selection the strategies that use it trade. Never: trades,
//! fetches klines (the dispatcher feeds it closed bars), reads a clock (scans happen when
//! the dispatcher calls [`SymbolScanner::rescan`] with venue time), allocates per bar.
//!
//! **Score** over the window of the last `lookback` bars (n of them, at least 5; periods
//! with no trade are flat bars at the previous close, see `bar_window`):
//! - `ret` = last close / first close − 1;
//! - `trend` = mean of the last 5 closes / mean of all n closes − 1;
//! - `ATR` = mean true range of the n − 1 bars that have a previous close in the window,
//!   TR = max(high − low, |high − previous close|, |low − previous close|);
//!   `atr_pct` = ATR / last close × 100;
//! - `volume_usd` = mean base volume of the n bars × last close;
//! - score = ret·`weight_ret` + trend·`weight_trend` + (atr_pct / 100)·`weight_vol`.
//!
//! A symbol with fewer than 5 bars, a non-positive close or a non-finite result is not
//! scored. A scored symbol is dropped when `volume_usd < min_volume_usd` or
//! `atr_pct < min_atr_pct`. The rest rank by score, highest first; equal scores rank in
//! universe order, so a scan is deterministic.
//!
//! **Selection.** At start: the persisted selection (journal snapshot), else the first N of
//! the universe. A scan that ranks nothing keeps the previous selection as it is. Otherwise
//! (the anti-churn rule, fixing D-21, where the seed excluded recently selected symbols
//! from ranking and so dropped its own top picks on the next scan):
//! 1. A symbol that entered the selection less than `min_minutes_between_reselect` ago
//!    (venue time) is *pinned*: it stays selected whether it ranks or not. The first-N
//!    start-up selection has no entry time and is never pinned (it was not chosen by rank).
//! 2. The remaining N − pinned places go to the best-ranked symbols not pinned.
//! 3. The selection is listed in rank order, pinned symbols that did not rank last (in
//!    their previous order).
//!
//! A symbol keeps its entry time while it stays selected; leaving and re-entering resets
//! it; a start-up pick that a scan keeps gets the scan's time (the scan chose it). `symbol_scanner_selected_total{symbol}` counts entries into the selection (not
//! scans that keep it); `symbol_scanner_score{symbol}` is the score of the last scan that
//! could score it (filtered symbols included; 0 before any).

use serde::{Deserialize, Serialize};

use super::slots::SymbolSlots;
use crate::book::{Bar, DAY_MINUTES, MINUTE_MS};
use crate::core::{Notional, SymbolId};
use crate::ops::{Counter, Gauge, OpsError};

use super::api::{MetricsScope, RestoreError, SymbolSelector};
use super::bar_window::BarWindow;
use super::dispatch::SCANNER_SNAPSHOT;

/// Closes the trend term averages over.
pub const TREND_CLOSES: usize = 5;
/// Fewest bars a symbol needs to be scored.
pub const MIN_SCAN_BARS: usize = TREND_CLOSES;

/// `[strategies.scanner]`: the symbol scanner (seed-spec §2.3, `SYMBOL_SCANNER_*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    /// Run the scanner; strategies with `use_scanner` then trade its selection. Default false.
    pub enabled: bool,
    /// Candidate symbols. Default `["BTCUSDT", "ETHUSDT"]`.
    pub universe: Vec<String>,
    /// Seconds of venue time between scans. Default 300.
    pub interval_sec: u64,
    /// Kline timeframe scored, in minutes (must divide a UTC day). Default 60 (seed `1h`).
    pub interval_minutes: u32,
    /// Bars per symbol in the score window (at least 5). Default 60.
    pub lookback: usize,
    /// Symbols selected (at least 1). Default 3.
    pub top_n: usize,
    /// Filter: least mean base volume × last close, USD. Default "250000".
    pub min_volume_usd: Notional,
    /// Filter: least ATR / last close, percent. Default 0.5.
    pub min_atr_pct: f64,
    /// Score weight of the window return. Default 0.5.
    pub weight_ret: f64,
    /// Score weight of the 5-close trend. Default 0.3.
    pub weight_trend: f64,
    /// Score weight of ATR % / 100. Default 0.2.
    pub weight_vol: f64,
    /// Minutes a newly selected symbol stays selected whatever its rank (anti-churn, see
    /// the module doc). Default 30.
    pub min_minutes_between_reselect: u64,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            universe: vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()],
            interval_sec: 300,
            interval_minutes: 60,
            lookback: 60,
            top_n: 3,
            min_volume_usd: Notional::from_int(250_000),
            min_atr_pct: 0.5,
            weight_ret: 0.5,
            weight_trend: 0.3,
            weight_vol: 0.2,
            min_minutes_between_reselect: 30,
        }
    }
}

impl ScannerConfig {
    /// `(key, message)` for the first bad value.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_owned(), message));
        if self.enabled && self.universe.is_empty() {
            return bad("universe", "an enabled scanner needs candidates".into());
        }
        if self.interval_sec == 0 {
            return bad("interval_sec", "must be at least 1".into());
        }
        if self.interval_minutes == 0 || DAY_MINUTES % self.interval_minutes != 0 {
            return bad(
                "interval_minutes",
                format!("{} does not divide a UTC day", self.interval_minutes),
            );
        }
        if self.lookback < MIN_SCAN_BARS {
            return bad(
                "lookback",
                format!("{} bars: at least {MIN_SCAN_BARS}", self.lookback),
            );
        }
        if self.top_n == 0 {
            return bad("top_n", "must be at least 1".into());
        }
        if self.min_volume_usd.raw() < 0 {
            return bad("min_volume_usd", "must not be negative".into());
        }
        for (key, value) in [
            ("min_atr_pct", self.min_atr_pct),
            ("weight_ret", self.weight_ret),
            ("weight_trend", self.weight_trend),
            ("weight_vol", self.weight_vol),
        ] {
            if !value.is_finite() {
                return bad(key, format!("{value} is not a number"));
            }
        }
        if self.min_atr_pct < 0.0 {
            return bad("min_atr_pct", "must not be negative".into());
        }
        Ok(())
    }
}

/// One symbol's score terms at a scan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScanScore {
    pub ret: f64,
    pub trend: f64,
    pub atr_pct: f64,
    pub volume_usd: f64,
    pub score: f64,
}

/// The persisted state.
#[derive(Debug, Serialize, Deserialize)]
struct ScannerSnapshot {
    /// Selected symbols (ids) in selection order, with their entry time (venue ms; none for
    /// the start-up selection).
    selected: Vec<(u32, Option<u64>)>,
    last_scan_ms: Option<u64>,
}

/// The symbol scanner (see the module doc). The dispatcher owns one.
#[derive(Debug)]
pub struct SymbolScanner {
    interval_ms: u64,
    timeframe_min: u32,
    top_n: usize,
    min_volume_usd: f64,
    min_atr_pct: f64,
    weights: [f64; 3],
    min_reselect_ms: u64,
    /// Universe in config order (duplicates dropped).
    universe: Vec<SymbolId>,
    /// Universe position by `SymbolId::index`.
    slot_of: SymbolSlots,
    windows: Vec<BarWindow>,
    /// Selection state by universe position: selected, and since when (venue ms; `None`
    /// for the start-up selection).
    member: Vec<bool>,
    since_ms: Vec<Option<u64>>,
    selected: Vec<SymbolId>,
    last_scan_ms: Option<u64>,
    /// Scratch for a scan: (score, universe position), and the next selection.
    ranked: Vec<(f64, usize)>,
    next: Vec<SymbolId>,
    score_gauges: Vec<Gauge>,
    selected_counters: Vec<Counter>,
}

impl SymbolScanner {
    /// A scanner over `universe` (the config's names resolved), selecting its first N.
    pub fn new(config: &ScannerConfig, universe: &[SymbolId]) -> Self {
        let slot_of = SymbolSlots::new(universe);
        let unique = slot_of.symbols().to_vec();
        let n = unique.len();
        let period_ms = u64::from(config.interval_minutes.max(1)) * MINUTE_MS;
        let top_n = config.top_n.max(1);
        let mut scanner = Self {
            interval_ms: config.interval_sec.saturating_mul(1000),
            timeframe_min: config.interval_minutes,
            top_n,
            min_volume_usd: config.min_volume_usd.to_f64(),
            min_atr_pct: config.min_atr_pct,
            weights: [config.weight_ret, config.weight_trend, config.weight_vol],
            min_reselect_ms: config
                .min_minutes_between_reselect
                .saturating_mul(MINUTE_MS),
            windows: (0..n)
                .map(|_| BarWindow::new(config.lookback.max(MIN_SCAN_BARS), period_ms))
                .collect(),
            member: vec![false; n],
            since_ms: vec![None; n],
            selected: Vec::with_capacity(top_n),
            last_scan_ms: None,
            ranked: Vec::with_capacity(n),
            next: Vec::with_capacity(top_n),
            score_gauges: (0..n).map(|_| Gauge::new()).collect(),
            selected_counters: (0..n).map(|_| Counter::new()).collect(),
            universe: unique,
            slot_of,
        };
        scanner.select_first_n();
        scanner
    }

    fn select_first_n(&mut self) {
        self.selected.clear();
        self.member.iter_mut().for_each(|m| *m = false);
        self.since_ms.iter_mut().for_each(|s| *s = None);
        for (position, &symbol) in self.universe.iter().enumerate().take(self.top_n) {
            self.selected.push(symbol);
            self.member[position] = true;
        }
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        self.slot_of.slot(symbol)
    }

    /// The score of `symbol` over its current window (`None` when it cannot be scored).
    pub fn score(&self, symbol: SymbolId) -> Option<ScanScore> {
        self.slot(symbol).and_then(|slot| self.score_slot(slot))
    }

    fn score_slot(&self, slot: usize) -> Option<ScanScore> {
        let window = &self.windows[slot];
        let n = window.len();
        if n < MIN_SCAN_BARS {
            return None;
        }
        let first = window.ago(n - 1)?.close.to_f64();
        let last = window.ago(0)?.close.to_f64();
        if !(first > 0.0 && last > 0.0) {
            return None;
        }
        let (mut close_sum, mut volume_sum, mut recent_sum, mut range_sum) = (0.0, 0.0, 0.0, 0.0);
        for ago in 0..n {
            let bar = window.ago(ago)?;
            let close = bar.close.to_f64();
            close_sum += close;
            volume_sum += bar.volume.to_f64();
            if ago < TREND_CLOSES {
                recent_sum += close;
            }
            if let Some(previous) = window.ago(ago + 1) {
                let (high, low, before) =
                    (bar.high.to_f64(), bar.low.to_f64(), previous.close.to_f64());
                range_sum += (high - low)
                    .max((high - before).abs())
                    .max((low - before).abs());
            }
        }
        let mean_close = close_sum / n as f64;
        if mean_close <= 0.0 {
            return None;
        }
        let ret = last / first - 1.0;
        let trend = (recent_sum / TREND_CLOSES as f64) / mean_close - 1.0;
        let atr_pct = range_sum / (n - 1) as f64 / last * 100.0;
        let volume_usd = volume_sum / n as f64 * last;
        let [w_ret, w_trend, w_vol] = self.weights;
        let score = ret * w_ret + trend * w_trend + atr_pct / 100.0 * w_vol;
        let terms = [ret, trend, atr_pct, volume_usd, score];
        terms.iter().all(|t| t.is_finite()).then_some(ScanScore {
            ret,
            trend,
            atr_pct,
            volume_usd,
            score,
        })
    }

    fn pinned(&self, slot: usize, venue_ms: u64) -> bool {
        self.member[slot]
            && self.since_ms[slot]
                .is_some_and(|since| venue_ms.saturating_sub(since) < self.min_reselect_ms)
    }

    /// True when `symbol` is selected.
    pub fn is_selected(&self, symbol: SymbolId) -> bool {
        self.slot(symbol).is_some_and(|slot| self.member[slot])
    }

    /// Venue time of the last scan (`None`: none yet).
    pub fn last_scan_ms(&self) -> Option<u64> {
        self.last_scan_ms
    }
}

impl SymbolSelector for SymbolScanner {
    /// The kline timeframe it scores, in minutes.
    fn timeframe_min(&self) -> u32 {
        self.timeframe_min
    }

    /// The universe, in config order.
    fn universe(&self) -> &[SymbolId] {
        &self.universe
    }

    /// A closed bar; ignored unless it is of [`timeframe_min`](Self::timeframe_min) on a
    /// universe symbol.
    fn on_bar(&mut self, bar: &Bar) {
        if bar.timeframe_min != self.timeframe_min {
            return;
        }
        if let Some(slot) = self.slot(bar.symbol) {
            self.windows[slot].push(bar);
        }
    }

    /// A closed bar from history (start-up klines): the same as a live one, since the
    /// scanner only scores at [`rescan`](Self::rescan).
    fn on_warmup_bar(&mut self, bar: &Bar) {
        self.on_bar(bar);
    }

    /// Scans when `interval_sec` of venue time has passed since the last scan (or none
    /// was done yet); true when the selection (as a set) changed. A zero `venue_ms` (no
    /// venue time yet) never scans.
    fn rescan(&mut self, venue_ms: u64) -> bool {
        if venue_ms == 0 {
            return false;
        }
        if let Some(last) = self.last_scan_ms {
            if venue_ms < last.saturating_add(self.interval_ms) {
                return false;
            }
        }
        self.last_scan_ms = Some(venue_ms);
        self.ranked.clear();
        for slot in 0..self.universe.len() {
            let Some(score) = self.score_slot(slot) else {
                continue;
            };
            self.score_gauges[slot].set_f64(score.score);
            if score.volume_usd >= self.min_volume_usd && score.atr_pct >= self.min_atr_pct {
                self.ranked.push((score.score, slot));
            }
        }
        if self.ranked.is_empty() {
            return false;
        }
        self.ranked
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let pinned_count = (0..self.universe.len())
            .filter(|&slot| self.pinned(slot, venue_ms))
            .count();
        let mut free = self.top_n.saturating_sub(pinned_count);
        self.next.clear();
        for index in 0..self.ranked.len() {
            let slot = self.ranked[index].1;
            if self.pinned(slot, venue_ms) {
                self.next.push(self.universe[slot]);
            } else if free > 0 {
                self.next.push(self.universe[slot]);
                free -= 1;
            }
        }
        for index in 0..self.selected.len() {
            let symbol = self.selected[index];
            let pinned = self.slot(symbol).is_some_and(|s| self.pinned(s, venue_ms));
            if pinned && !self.next.contains(&symbol) {
                self.next.push(symbol);
            }
        }
        let mut changed = false;
        for slot in 0..self.universe.len() {
            let now_member = self.next.contains(&self.universe[slot]);
            if now_member && !self.member[slot] {
                self.since_ms[slot] = Some(venue_ms);
                self.selected_counters[slot].inc();
                changed = true;
            } else if now_member && self.since_ms[slot].is_none() {
                // A start-up pick the scan chose by rank: chosen now.
                self.since_ms[slot] = Some(venue_ms);
            } else if !now_member && self.member[slot] {
                self.since_ms[slot] = None;
                changed = true;
            }
            self.member[slot] = now_member;
        }
        std::mem::swap(&mut self.selected, &mut self.next);
        changed
    }

    /// The current selection (see the module doc for its order).
    fn selected(&self) -> &[SymbolId] {
        &self.selected
    }

    /// Writes the selection, the entry times and the last scan time as JSON into `out`.
    fn snapshot(&self, out: &mut Vec<u8>) {
        let snapshot = ScannerSnapshot {
            selected: self
                .selected
                .iter()
                .map(|&s| (s.0, self.slot(s).and_then(|slot| self.since_ms[slot])))
                .collect(),
            last_scan_ms: self.last_scan_ms,
        };
        // Serialising plain integers into a Vec cannot fail; an empty body restores nothing.
        let _ = serde_json::to_writer(out, &snapshot);
    }

    /// Restores what [`snapshot`](Self::snapshot) wrote. Symbols no longer in the universe
    /// are dropped (and at most N kept); when none is left the start-up selection stays.
    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let snapshot: ScannerSnapshot = serde_json::from_slice(body).map_err(|e| RestoreError {
            strategy: SCANNER_SNAPSHOT,
            message: e.to_string(),
        })?;
        self.last_scan_ms = snapshot.last_scan_ms;
        let known = || {
            snapshot
                .selected
                .iter()
                .filter_map(|&(id, since)| self.slot(SymbolId(id)).map(|slot| (slot, since)))
        };
        if known().next().is_none() {
            return Ok(());
        }
        let restored: Vec<(usize, Option<u64>)> = known().collect();
        self.selected.clear();
        self.member.iter_mut().for_each(|m| *m = false);
        self.since_ms.iter_mut().for_each(|s| *s = None);
        for (slot, since) in restored {
            if self.selected.len() == self.top_n || self.member[slot] {
                continue;
            }
            self.selected.push(self.universe[slot]);
            self.member[slot] = true;
            self.since_ms[slot] = since;
        }
        Ok(())
    }

    /// Registers `symbol_scanner_score{symbol}` and `symbol_scanner_selected_total{symbol}`
    /// for every universe symbol.
    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        for (slot, &symbol) in self.universe.iter().enumerate() {
            let name = scope.symbol_name(symbol).to_owned();
            let labels = [("symbol", name.as_str())];
            self.score_gauges[slot] = scope.registry.gauge(
                "symbol_scanner_score",
                "Symbol scanner score at the last scan",
                &labels,
            )?;
            self.selected_counters[slot] = scope.registry.counter(
                "symbol_scanner_selected_total",
                "Times the scanner put the symbol into its selection",
                &labels,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;
