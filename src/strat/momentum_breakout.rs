//! Owns: the scheduled momentum breakout (seed-spec §2.6) — on every closed 1-minute bar of
//! a symbol, a long entry when the price has moved enough over the lookback, closes at or
//! above the high that preceded the move, on rising volume with enough quote turnover and
//! not already stretched too far; the entry carries an exchange-side stop and take-profit.
//! Never: enters a symbol it holds, another strategy owns or that is out of its scope
//! (static list or the scanner's selection); signals from warm-up bars; manages the exit
//! itself (the bracket at the venue does); reads a clock or allocates per bar.
//!
//! **Windows.** Bars are counted in 1-minute periods; a minute with no bar is a flat bar at
//! the previous close with zero volume (`bar_window`). With the newest closed bar as
//! "0 bars ago", L = `lookback_minutes`, R = `prior_high_minutes`, V = `volume_window`,
//! B = `volume_baseline_window`, A = `atr_period`:
//! - *lookback window*: bars 0 … L−1 (the last L minutes); *window low* = its lowest low;
//! - *move* = close(0) / close(L) − 1 (close(L) is the last close before the lookback window);
//! - *prior high* = the highest high of bars L … L+R−1, the R bars before the lookback
//!   window (the seed used whatever its kline request returned; the span is a knob here);
//! - *volume ratio* = Σ volume of bars 0 … V−1 / mean volume of bars V … V+B−1 — a sum
//!   over a per-bar mean, as the seed defines it, so at the defaults (V = 3, ×2.5) the last
//!   three bars must average at least 2.5 / 3 ≈ 0.83 of a baseline bar. With a zero
//!   baseline the ratio is undefined (never NaN): it passes when the recent volume is
//!   positive (volume out of nothing) and fails when both are zero;
//! - *recent quote volume* = Σ quote volume of bars 0 … V−1;
//! - *extension* = close(0) / window low − 1;
//! - *ATR* = mean true range of bars 0 … A−1 (each with the close before it).
//!
//! A symbol is evaluated once it holds max(L + R, V + B, A + 1) bars, and the entry fires
//! when, in this order (the first failing check is the counted decision): the strategy
//! may enter (`Holding::can_enter`), the symbol is in scope and no other strategy owns it,
//! its cooldown is over, move ≥ `move_threshold_pct` %, close(0) ≥ prior high, volume
//! ratio ≥ `volume_multiplier`, recent quote volume ≥ `min_quote_vol_usd`, extension <
//! `max_extension_pct` %, fewer than `max_signals_per_cycle` entries were sent for this
//! minute (all symbols together; the first symbols whose bars arrive win), and the stop
//! leaves room below the price.
//!
//! **Entry.** A market BUY of `notional_usd` quote. Price = the dispatcher's buy reference
//! (best ask, else last trade), else the bar close. Stop = max(price − ATR ×
//! `stop_atr_mult`, window low), refused (`no_stop_room`) when not below the price;
//! take-profit = price × (1 + `tp_pct` / 100) (none when 0). Both go to the venue with the
//! entry plan: the seed's 50 % reduce-only take-profit was never placed (D-04). Exits are
//! those two orders; the strategy sends none of its own.
//!
//! **Schedule.** Evaluation happens per closed bar, not on a wall-clock loop: the seed's
//! 30 s `MOMENTUM_INTERVAL_SEC` loop polled REST klines that only change once a minute, so
//! a bar close is the natural tick (and the seed's "cycle" becomes one bar minute).
//!
//! **Cooldown** (`cooldown_sec`) starts when the entry is sent, in venue time (the bar close
//! or the latest venue time, whichever is later), and is persisted in the snapshot: an
//! entry the rails refuse is not retried every minute. `MOMENTUM_LEVERAGE_*` is not
//! offered: the seed computed a leverage and never applied it; leverage is the venue
//! account's setting. The market (spot or futures) is the engine's, not this strategy's.
//! The seed's `MOMENTUM_SCANNER_TOP_N` is not a knob: with `use_scanner` the scope is the
//! scanner's whole selection, sized by the scanner's own `top_n`.
//!
//! **Metrics.** `momentum_breakout_candidates_total{symbol,venue,decision}` counts every
//! evaluation by decision (labels: [`Decision::as_str`]);
//! `momentum_breakout_orders_total{symbol,venue,status}` counts entries sent (`submitted`)
//! and their outcomes (`filled`, `rejected`, `canceled`, and bracket exits `stop_loss`,
//! `take_profit`); `momentum_breakout_cooldown_epoch{symbol}` is the cooldown end in epoch
//! seconds (0: none).

use serde::{Deserialize, Serialize};

use super::slots::SymbolSlots;
use crate::book::{Bar, MINUTE_MS};
use crate::core::{
    MarketEvent, Notional, OrderRole, OrderStatus, OrderUpdate, Price, Ratio, Side, SymbolId,
};
use crate::ops::{Counter, Gauge, OpsError};

use super::api::{
    ids, EntryPlan, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx, StrategyInfo,
};
use super::bar_window::{BarWindow, Pushed};

/// Config section and metric prefix.
pub const NAME: &str = "momentum_breakout";
/// The `source` tag of its entries.
pub const TAG: &str = "momentum_breakout";
/// Longest window a knob may ask for, in bars (one week of minutes).
pub const MAX_WINDOW_BARS: usize = 10_080;

/// `[strategies.momentum_breakout]`: the scheduled momentum breakout (seed-spec §2.6,
/// `MOMENTUM_*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumBreakoutConfig {
    /// Run the strategy. Default false.
    pub enabled: bool,
    /// Send its orders to the risk rails' dry-run mode instead of the venue. Default false.
    pub dry_run: bool,
    /// Symbols it trades (without `use_scanner`). Default `["BTCUSDT", "ETHUSDT"]`.
    pub symbols: Vec<String>,
    /// Trade the scanner's selection instead of `symbols`. Default false.
    pub use_scanner: bool,
    /// L: bars (minutes) the move is measured over. Default 15.
    pub lookback_minutes: usize,
    /// R: bars (minutes) before the lookback window whose high the close must reach.
    /// Default 45 (with L, the last hour).
    pub prior_high_minutes: usize,
    /// Least move over the lookback, percent. Default 2.5.
    pub move_threshold_pct: f64,
    /// V: recent bars whose volume is summed. Default 3.
    pub volume_window: usize,
    /// B: bars before those whose mean volume is the baseline. Default 12.
    pub volume_baseline_window: usize,
    /// Least volume ratio (recent sum / baseline mean). Default 2.5.
    pub volume_multiplier: f64,
    /// Least quote volume of the V recent bars, USD. Default "250000".
    pub min_quote_vol_usd: Notional,
    /// Extension from the window low at or above which it does not chase, percent.
    /// Default 12.
    pub max_extension_pct: f64,
    /// A: bars in the ATR. Default 14 (the seed's period is not documented).
    pub atr_period: usize,
    /// Stop distance in ATRs below the price (floored at the window low). Default 1.6.
    pub stop_atr_mult: f64,
    /// Take-profit above the price, percent (0: none). Default 4.
    pub tp_pct: f64,
    /// Entry size, USD quote. Default "150".
    pub notional_usd: Notional,
    /// Most entries sent for one bar minute, all symbols together. Default 3.
    pub max_signals_per_cycle: u32,
    /// Seconds after an entry before the symbol may enter again. Default 600.
    pub cooldown_sec: u64,
}

impl Default for MomentumBreakoutConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            symbols: vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()],
            use_scanner: false,
            lookback_minutes: 15,
            prior_high_minutes: 45,
            move_threshold_pct: 2.5,
            volume_window: 3,
            volume_baseline_window: 12,
            volume_multiplier: 2.5,
            min_quote_vol_usd: Notional::from_int(250_000),
            max_extension_pct: 12.0,
            atr_period: 14,
            stop_atr_mult: 1.6,
            tp_pct: 4.0,
            notional_usd: Notional::from_int(150),
            max_signals_per_cycle: 3,
            cooldown_sec: 600,
        }
    }
}

impl MomentumBreakoutConfig {
    /// `(key, message)` for the first bad value.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_owned(), message));
        for (key, bars) in [
            ("lookback_minutes", self.lookback_minutes),
            ("prior_high_minutes", self.prior_high_minutes),
            ("volume_window", self.volume_window),
            ("volume_baseline_window", self.volume_baseline_window),
            ("atr_period", self.atr_period),
        ] {
            if bars == 0 || bars > MAX_WINDOW_BARS {
                return bad(key, format!("{bars} bars: 1 to {MAX_WINDOW_BARS}"));
            }
        }
        for (key, value) in [
            ("move_threshold_pct", self.move_threshold_pct),
            ("volume_multiplier", self.volume_multiplier),
            ("max_extension_pct", self.max_extension_pct),
            ("stop_atr_mult", self.stop_atr_mult),
            ("tp_pct", self.tp_pct),
        ] {
            if !value.is_finite() || value < 0.0 {
                return bad(key, format!("{value}: a number ≥ 0"));
            }
        }
        if self.max_extension_pct == 0.0 {
            return bad("max_extension_pct", "0 would refuse every entry".into());
        }
        if !self.notional_usd.is_positive() {
            return bad("notional_usd", "must be above 0".into());
        }
        if self.min_quote_vol_usd.raw() < 0 {
            return bad("min_quote_vol_usd", "must not be negative".into());
        }
        if self.max_signals_per_cycle == 0 {
            return bad("max_signals_per_cycle", "0 would refuse every entry".into());
        }
        Ok(())
    }

    /// Bars a symbol needs before it is evaluated.
    pub fn bars_needed(&self) -> usize {
        (self.lookback_minutes + self.prior_high_minutes)
            .max(self.volume_window + self.volume_baseline_window)
            .max(self.atr_period + 1)
    }
}

/// The outcome of one evaluation (the `decision` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fewer bars than the windows need.
    Warming,
    /// It holds the symbol or has an order there.
    Holding,
    /// Not in its list or the scanner's selection.
    OutOfScope,
    /// Another strategy owns the symbol.
    Owned,
    /// Within the cooldown after its last entry.
    Cooldown,
    /// Move below the threshold.
    NoMove,
    /// Close below the prior high.
    NoBreakout,
    /// Volume ratio below the multiplier.
    NoVolume,
    /// Recent quote volume below the minimum.
    LowLiquidity,
    /// Extension from the window low at or above the maximum.
    Overextended,
    /// The minute's entry budget is spent.
    CycleFull,
    /// The stop would not be below the price.
    NoStopRoom,
    /// Entry sent.
    Signal,
}

impl Decision {
    /// Every decision, in label order.
    pub const ALL: [Decision; 13] = [
        Decision::Warming,
        Decision::Holding,
        Decision::OutOfScope,
        Decision::Owned,
        Decision::Cooldown,
        Decision::NoMove,
        Decision::NoBreakout,
        Decision::NoVolume,
        Decision::LowLiquidity,
        Decision::Overextended,
        Decision::CycleFull,
        Decision::NoStopRoom,
        Decision::Signal,
    ];

    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Warming => "warming",
            Decision::Holding => "holding",
            Decision::OutOfScope => "out_of_scope",
            Decision::Owned => "owned",
            Decision::Cooldown => "cooldown",
            Decision::NoMove => "no_move",
            Decision::NoBreakout => "no_breakout",
            Decision::NoVolume => "no_volume",
            Decision::LowLiquidity => "low_liquidity",
            Decision::Overextended => "overextended",
            Decision::CycleFull => "cycle_full",
            Decision::NoStopRoom => "no_stop_room",
            Decision::Signal => "signal",
        }
    }
}

/// `status` labels of `momentum_breakout_orders_total`.
const ORDER_STATUSES: [&str; 6] = [
    "submitted",
    "filled",
    "rejected",
    "canceled",
    "stop_loss",
    "take_profit",
];
const SUBMITTED: usize = 0;

/// The persisted state: cooldown ends by symbol id (venue ms).
#[derive(Debug, Serialize, Deserialize)]
struct BreakoutSnapshot {
    cooldown_until_ms: Vec<(u32, u64)>,
}

/// What the windows say about the newest bar (see the module doc).
#[derive(Clone, Copy, Debug)]
struct Terms {
    close: Price,
    window_low: Price,
    atr: f64,
}

/// The scheduled momentum breakout (see the module doc).
#[derive(Debug)]
pub struct MomentumBreakoutStrategy {
    config: MomentumBreakoutConfig,
    bars_needed: usize,
    symbols: Vec<SymbolId>,
    /// Position in `symbols` by `SymbolId::index`.
    slot_of: SymbolSlots,
    windows: Vec<BarWindow>,
    cooldown_until_ms: Vec<u64>,
    last_decision: Vec<Option<Decision>>,
    /// The bar minute (close time) being counted, and the entries sent for it.
    cycle_close_ms: u64,
    cycle_entries: u32,
    candidates: Vec<Counter>,
    orders: Vec<Counter>,
    cooldown_epoch: Vec<Gauge>,
}

impl MomentumBreakoutStrategy {
    /// The strategy over `symbols` (its list resolved, or the scanner universe when it uses
    /// the scanner).
    pub fn new(config: &MomentumBreakoutConfig, symbols: &[SymbolId]) -> Self {
        let slot_of = SymbolSlots::new(symbols);
        let unique = slot_of.symbols().to_vec();
        let n = unique.len();
        let bars_needed = config.bars_needed().max(1);
        Self {
            config: config.clone(),
            bars_needed,
            slot_of,
            windows: (0..n)
                .map(|_| BarWindow::new(bars_needed, MINUTE_MS))
                .collect(),
            cooldown_until_ms: vec![0; n],
            last_decision: vec![None; n],
            cycle_close_ms: 0,
            cycle_entries: 0,
            candidates: (0..n * Decision::ALL.len())
                .map(|_| Counter::new())
                .collect(),
            orders: (0..n * ORDER_STATUSES.len())
                .map(|_| Counter::new())
                .collect(),
            cooldown_epoch: (0..n).map(|_| Gauge::new()).collect(),
            symbols: unique,
        }
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        self.slot_of.slot(symbol)
    }

    /// The decision of the last evaluation of `symbol` (`None`: not evaluated yet).
    pub fn last_decision(&self, symbol: SymbolId) -> Option<Decision> {
        self.slot(symbol).and_then(|slot| self.last_decision[slot])
    }

    /// Cooldown end of `symbol`, venue ms (0: none).
    pub fn cooldown_until_ms(&self, symbol: SymbolId) -> u64 {
        self.slot(symbol)
            .map_or(0, |slot| self.cooldown_until_ms[slot])
    }

    fn set_cooldown(&mut self, slot: usize, until_ms: u64) {
        self.cooldown_until_ms[slot] = until_ms;
        self.cooldown_epoch[slot].set((until_ms / 1000) as i64);
    }

    /// The breakout rules over the window of `slot` (decisions `NoMove` … `Overextended`).
    fn terms(&self, slot: usize) -> Result<Terms, Decision> {
        let c = &self.config;
        let window = &self.windows[slot];
        let (lookback, prior) = (c.lookback_minutes, c.prior_high_minutes);
        let (recent, baseline) = (c.volume_window, c.volume_baseline_window);
        let (Some(newest), Some(reference)) = (window.ago(0), window.ago(lookback)) else {
            return Err(Decision::Warming);
        };
        let close = newest.close;
        let reference = reference.close.to_f64();
        if reference <= 0.0 {
            return Err(Decision::NoMove);
        }
        let change = close.to_f64() / reference - 1.0;
        if change < c.move_threshold_pct / 100.0 {
            return Err(Decision::NoMove);
        }
        let prior_high = window
            .range(lookback, lookback + prior - 1)
            .map(|b| b.high)
            .max()
            .unwrap_or(Price::MAX);
        if close < prior_high {
            return Err(Decision::NoBreakout);
        }
        let recent_volume: f64 = window.range(0, recent - 1).map(|b| b.volume.to_f64()).sum();
        let baseline_mean = window
            .range(recent, recent + baseline - 1)
            .map(|b| b.volume.to_f64())
            .sum::<f64>()
            / baseline as f64;
        let volume_ok = if baseline_mean > 0.0 {
            recent_volume / baseline_mean >= c.volume_multiplier
        } else {
            recent_volume > 0.0
        };
        if !volume_ok {
            return Err(Decision::NoVolume);
        }
        let recent_quote = window
            .range(0, recent - 1)
            .fold(Notional::ZERO, |sum, b| sum.saturating_add(b.quote_volume));
        if recent_quote < c.min_quote_vol_usd {
            return Err(Decision::LowLiquidity);
        }
        let window_low = window
            .range(0, lookback - 1)
            .map(|b| b.low)
            .min()
            .unwrap_or(Price::ZERO);
        let low = window_low.to_f64();
        let extension = if low > 0.0 {
            close.to_f64() / low - 1.0
        } else {
            f64::INFINITY
        };
        if extension >= c.max_extension_pct / 100.0 {
            return Err(Decision::Overextended);
        }
        let mut range_sum = 0.0;
        for ago in 0..c.atr_period {
            if let (Some(bar), Some(before)) = (window.ago(ago), window.ago(ago + 1)) {
                let (high, low, before) =
                    (bar.high.to_f64(), bar.low.to_f64(), before.close.to_f64());
                range_sum += (high - low)
                    .max((high - before).abs())
                    .max((low - before).abs());
            }
        }
        Ok(Terms {
            close,
            window_low,
            atr: range_sum / c.atr_period as f64,
        })
    }

    /// The decision for the newest bar of `slot`, and the entry when it is `Signal`.
    fn decide(
        &self,
        slot: usize,
        now_ms: u64,
        ctx: &StrategyCtx<'_>,
    ) -> (Decision, Option<EntryPlan>) {
        let symbol = self.symbols[slot];
        if self.windows[slot].len() < self.bars_needed {
            return (Decision::Warming, None);
        }
        if !ctx.holding(symbol).can_enter() {
            return (Decision::Holding, None);
        }
        if !ctx.in_scope(symbol) {
            return (Decision::OutOfScope, None);
        }
        if ctx
            .owner(symbol)
            .is_some_and(|owner| owner != ids::MOMENTUM_BREAKOUT)
        {
            return (Decision::Owned, None);
        }
        if now_ms < self.cooldown_until_ms[slot] {
            return (Decision::Cooldown, None);
        }
        let terms = match self.terms(slot) {
            Ok(terms) => terms,
            Err(decision) => return (decision, None),
        };
        if self.cycle_entries >= self.config.max_signals_per_cycle {
            return (Decision::CycleFull, None);
        }
        let price = ctx
            .market(symbol)
            .reference(Side::Buy)
            .unwrap_or(terms.close);
        let distance =
            Price::from_f64_lossy(terms.atr * self.config.stop_atr_mult).unwrap_or(Price::ZERO);
        let stop_loss = price.saturating_sub(distance).max(terms.window_low);
        if stop_loss >= price || !stop_loss.is_positive() {
            return (Decision::NoStopRoom, None);
        }
        let take_profit = if self.config.tp_pct > 0.0 {
            Ratio::from_f64_lossy(1.0 + self.config.tp_pct / 100.0)
                .and_then(|ratio| price.scaled(ratio))
                .unwrap_or(Price::ZERO)
        } else {
            Price::ZERO
        };
        let plan = EntryPlan {
            symbol,
            side: Side::Buy,
            size: Size::Quote(self.config.notional_usd),
            limit: Price::ZERO,
            stop_loss,
            take_profit,
            tag: TAG,
        };
        (Decision::Signal, Some(plan))
    }
}

impl Strategy for MomentumBreakoutStrategy {
    fn info(&self) -> StrategyInfo {
        StrategyInfo {
            id: ids::MOMENTUM_BREAKOUT,
            name: NAME,
        }
    }

    fn tags(&self) -> &'static [&'static str] {
        &[TAG]
    }

    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    fn timeframes(&self) -> &[u32] {
        &[1]
    }

    fn uses_scanner(&self) -> bool {
        self.config.use_scanner
    }

    fn on_market(&mut self, _event: &MarketEvent, _ctx: &mut StrategyCtx<'_>) {}

    fn on_bar(&mut self, bar: &Bar, ctx: &mut StrategyCtx<'_>) {
        if bar.timeframe_min != 1 {
            return;
        }
        let Some(slot) = self.slot(bar.symbol) else {
            return;
        };
        if self.windows[slot].push(bar) == Pushed::Stale {
            return;
        }
        if bar.close_time_ms != self.cycle_close_ms {
            self.cycle_close_ms = bar.close_time_ms;
            self.cycle_entries = 0;
        }
        let now_ms = ctx.venue_ms.max(bar.close_time_ms);
        let (mut decision, plan) = self.decide(slot, now_ms, ctx);
        if let Some(plan) = plan {
            if ctx.emit(Signal::Enter(plan)) {
                self.cycle_entries += 1;
                let until = now_ms.saturating_add(self.config.cooldown_sec.saturating_mul(1000));
                self.set_cooldown(slot, until);
                self.orders[slot * ORDER_STATUSES.len() + SUBMITTED].inc();
                ctx.mark_dirty();
            } else {
                decision = Decision::CycleFull;
            }
        }
        self.last_decision[slot] = Some(decision);
        let index = Decision::ALL
            .iter()
            .position(|&d| d == decision)
            .unwrap_or(0);
        self.candidates[slot * Decision::ALL.len() + index].inc();
    }

    fn on_warmup_bar(&mut self, bar: &Bar) {
        if bar.timeframe_min != 1 {
            return;
        }
        if let Some(slot) = self.slot(bar.symbol) {
            self.windows[slot].push(bar);
        }
    }

    fn on_order(&mut self, update: &OrderUpdate, _ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(update.symbol) else {
            return;
        };
        let status = match (update.role, update.status) {
            (OrderRole::Entry, OrderStatus::Filled) => "filled",
            (OrderRole::Entry, OrderStatus::Rejected) => "rejected",
            (OrderRole::Entry, OrderStatus::Canceled | OrderStatus::Expired) => "canceled",
            (OrderRole::StopLoss, OrderStatus::Filled) => "stop_loss",
            (OrderRole::TakeProfit, OrderStatus::Filled) => "take_profit",
            _ => return,
        };
        if let Some(index) = ORDER_STATUSES.iter().position(|&s| s == status) {
            self.orders[slot * ORDER_STATUSES.len() + index].inc();
        }
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let snapshot = BreakoutSnapshot {
            cooldown_until_ms: self
                .symbols
                .iter()
                .zip(&self.cooldown_until_ms)
                .filter(|(_, &until)| until > 0)
                .map(|(symbol, &until)| (symbol.0, until))
                .collect(),
        };
        // Serialising plain integers into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &snapshot);
    }

    /// Cooldowns of symbols no longer in its list are dropped.
    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let snapshot: BreakoutSnapshot =
            serde_json::from_slice(body).map_err(|e| RestoreError {
                strategy: NAME,
                message: e.to_string(),
            })?;
        for (id, until) in snapshot.cooldown_until_ms {
            if let Some(slot) = self.slot(SymbolId(id)) {
                self.set_cooldown(slot, until);
            }
        }
        Ok(())
    }

    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        for (slot, &symbol) in self.symbols.iter().enumerate() {
            let name = scope.symbol_name(symbol).to_owned();
            for (index, decision) in Decision::ALL.iter().enumerate() {
                self.candidates[slot * Decision::ALL.len() + index] = scope.registry.counter(
                    "momentum_breakout_candidates_total",
                    "Momentum breakout evaluations by decision",
                    &[
                        ("symbol", &name),
                        ("venue", scope.venue),
                        ("decision", decision.as_str()),
                    ],
                )?;
            }
            for (index, status) in ORDER_STATUSES.iter().enumerate() {
                self.orders[slot * ORDER_STATUSES.len() + index] = scope.registry.counter(
                    "momentum_breakout_orders_total",
                    "Momentum breakout entries sent and their outcomes",
                    &[
                        ("symbol", &name),
                        ("venue", scope.venue),
                        ("status", status),
                    ],
                )?;
            }
            let gauge = scope.registry.gauge(
                "momentum_breakout_cooldown_epoch",
                "End of the symbol's momentum breakout cooldown, epoch seconds (0: none)",
                &[("symbol", &name)],
            )?;
            gauge.set((self.cooldown_until_ms[slot] / 1000) as i64);
            self.cooldown_epoch[slot] = gauge;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "momentum_breakout_tests.rs"]
mod tests;
