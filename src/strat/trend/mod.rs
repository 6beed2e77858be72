//! Owns: the trend-following strategy (seed-spec §2.2) — per symbol, SMA / RSI / ATR on
//! three timeframes from closed bars, a long entry when all three trend up and the primary
//! RSI is in the entry band, an exchange-side ATR stop below the swing low that only
//! ratchets up and a take-profit target, an exit on RSI or a cross-down, a cooldown in
//! primary bars, sizing from the account's equity, and the auto-tuner fed by closed trades.
//! Never: sizes from a made-up equity, reads a forming bar, changes state on an emitted
//! signal (only on fills and holdings), lowers a stop, sells short, reads a clock or
//! allocates per event.
//!
//! **Timeframes.** Primary (default 4h: entries, exits, ATR, stops), secondary (1h) and
//! regime (1d), in minutes in the config. Bars arrive closed from the dispatcher (live) and
//! as warm-up history (indicators only). A primary close is evaluated once every other
//! timeframe's bar closing at the same instant is in, whatever order the dispatcher
//! delivers them in (a daily bar closing at midnight arrives after the 4h bar of midnight).
//!
//! **Entry** (at a primary close, flat, all values known): primary, secondary and regime
//! fast SMA > slow SMA and `rsi_long_min ≤ RSI_primary ≤ rsi_long_max`, then the gates:
//! in scope, out of cooldown, [`Holding::can_enter`], no other strategy owning the symbol,
//! equity known. Stop = swing low − ATR × stop multiple; target = close + ATR × target
//! multiple; both are placed at the venue with the entry. The stop must sit strictly
//! between zero and the reference price (best ask, else last trade, else the bar close) and
//! the target above it, else no entry — on flat prices ATR is 0 and the swing low is the
//! price, so a flat market never enters. Quote = max(min_quote, equity × risk_pct / 100),
//! floored at zero. Every met condition that does not lead to an entry is counted by
//! [`SkipReason`].
//!
//! **In position** (from the holding: a filled entry, or one found after a restart): at each
//! primary close, exit at market when RSI ≥ `rsi_exit` or fast ≤ slow; otherwise recompute
//! the ATR stop and, when it is higher than the stop in force and below the price, raise it
//! ([`Signal::MoveStop`]). The target is set at entry and kept (`take_profit` zero in the
//! move keeps it): the seed recomputed it from every close, which moves it away as the
//! price rises so it is only reached by a spike, and would replace the bracket on every
//! bar. The stop and target themselves trigger at the venue.
//!
//! **Closing** (the fill that brings the holding to zero): a [`TradeRecord`] (pnl % from the
//! average entry and exit fill prices, fees excluded; win / loss beyond ±0.05 %, exit reason
//! from the filled order's role) goes to the metrics and the tuner, and the cooldown runs
//! until the closing fill's venue time + `cooldown_bars` × the primary period: the first
//! primary close at or after it may enter again. Venue time survives a restart.
//!
//! **Shorts** are not offered: the seed flag only chose the futures market, with no short
//! rules; shorts done properly need mirrored entry, stop and exit rules on a futures side.

mod config;
mod fills;
mod frames;
mod metrics;
mod snapshot;
mod tuner;

#[cfg(test)]
mod tests;

pub use config::TrendConfig;
pub use frames::BarOutcome;
pub use metrics::SkipReason;
pub use tuner::{
    Adjustment, AutoTuner, ExitReason, TradeRecord, TradeResult, TunedParams, TunerSnapshot,
};

use crate::book::Bar;
use crate::core::decimal::mul_raw;
use crate::core::{
    ClientOrderId, Fill, MarketEvent, Notional, OrderRole, OrderUpdate, Price, Qty, Ratio, Side,
    SymbolId,
};
use crate::ops::OpsError;

use super::api::{
    ids, EntryPlan, Holding, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx,
    StrategyInfo,
};
use frames::{FrameIndicators, FrameLengths};
use metrics::{SymbolMetrics, SIGNAL_ENTRY, SIGNAL_EXIT, SIGNAL_STOP_RAISE};

/// Config section, snapshot component and metric label.
pub const NAME: &str = "trend_follow";
/// `source` tag of entries.
pub const TAG_LONG: &str = "trend_follow_long";
/// `source` tag of exits.
pub const TAG_EXIT: &str = "trend_follow_exit";
const TAGS: [&str; 2] = [TAG_LONG, TAG_EXIT];

/// Bracket legs remembered per symbol to tell a stop fill from a target fill.
const LEGS_KEPT: usize = 8;
/// Snapshot layout version.
const SNAPSHOT_VERSION: u32 = 1;

/// Totals for tests and status lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrendCounters {
    pub entries: u64,
    pub exits: u64,
    pub stop_raises: u64,
    pub trades: u64,
    /// Entry conditions met without an entry, by [`SkipReason::index`].
    pub skips: [u64; 8],
    pub stale_bars: u64,
    pub invalid_bars: u64,
    /// Flat bars inserted to bridge gaps, and resets after holes too long to bridge.
    pub bridged_bars: u64,
    pub resets: u64,
    /// Primary closes evaluated.
    pub evaluations: u64,
    /// Positions that disappeared from the holding without a closing fill seen.
    pub lost_positions: u64,
}

/// The position the strategy manages on one symbol (from fills and the holding).
#[derive(Clone, Copy, Debug, Default)]
struct Position {
    long: bool,
    entry_avg: Price,
    initial_stop: Price,
    /// The stop in force (ratcheted).
    stop: Price,
    target: Price,
    stop_bps: f64,
    /// An exit signal was sent for this position.
    exit_requested: bool,
    exit_qty: Qty,
    exit_notional: Notional,
}

/// What the last entry signal asked for, adopted when its fill arrives.
#[derive(Clone, Copy, Debug, Default)]
struct Planned {
    stop: Price,
    target: Price,
    stop_bps: f64,
}

#[derive(Debug, Clone)]
struct SymbolTrend {
    symbol: SymbolId,
    /// Name for the snapshot (from the config, when it lists the symbols in order).
    name: String,
    primary: FrameIndicators,
    secondary: FrameIndicators,
    regime: FrameIndicators,
    /// Primary close time waiting for the other timeframes' bars of the same instant.
    pending_eval_ms: u64,
    planned: Planned,
    position: Position,
    /// Recent bracket legs (client id, role).
    legs: [(ClientOrderId, OrderRole); LEGS_KEPT],
    next_leg: usize,
    /// Venue ms before which no entry is made (0: none).
    cooldown_until_ms: u64,
}

/// What an entry needs from the indicators.
#[derive(Clone, Copy, Debug)]
struct EntrySetup {
    close: f64,
    atr: f64,
    swing_low: f64,
}

/// The trend-following strategy.
#[derive(Debug)]
pub struct TrendStrategy {
    info: StrategyInfo,
    symbols: Vec<SymbolId>,
    /// Slot of a symbol by `SymbolId::index` (`u32::MAX`: not ours).
    slot_of: Vec<u32>,
    timeframes: Vec<u32>,
    primary_minutes: u32,
    rsi_exit: f64,
    /// `risk_pct / 100` at 1e-18.
    risk_ratio_raw: i128,
    min_quote: Notional,
    tuner: AutoTuner,
    states: Vec<SymbolTrend>,
    metrics: Vec<SymbolMetrics>,
    counters: TrendCounters,
}

impl TrendStrategy {
    /// The strategy for `symbols` (the resolved ids of `config.symbols`, in that order);
    /// `config` is expected validated ([`TrendConfig::validate`]).
    pub fn new(config: &TrendConfig, symbols: &[SymbolId]) -> Self {
        let primary = FrameLengths {
            minutes: config.primary_minutes,
            fast: config.primary_fast,
            slow: config.primary_slow,
            rsi: config.primary_rsi,
            atr: config.atr_length,
            swing: config.swing_lookback,
        };
        let secondary = FrameLengths {
            minutes: config.secondary_minutes,
            fast: config.secondary_fast,
            slow: config.secondary_slow,
            rsi: config.secondary_rsi,
            atr: 0,
            swing: 0,
        };
        let regime = FrameLengths {
            minutes: config.regime_minutes,
            fast: config.regime_fast,
            slow: config.regime_slow,
            rsi: config.regime_rsi,
            atr: 0,
            swing: 0,
        };
        let names_match = config.symbols.len() == symbols.len();
        let states: Vec<SymbolTrend> = symbols
            .iter()
            .enumerate()
            .map(|(i, &symbol)| SymbolTrend {
                symbol,
                name: if names_match {
                    config.symbols[i].clone()
                } else {
                    String::new()
                },
                primary: FrameIndicators::new(primary),
                secondary: FrameIndicators::new(secondary),
                regime: FrameIndicators::new(regime),
                pending_eval_ms: 0,
                planned: Planned::default(),
                position: Position::default(),
                legs: [(ClientOrderId(0), OrderRole::Entry); LEGS_KEPT],
                next_leg: 0,
                cooldown_until_ms: 0,
            })
            .collect();
        let mut slot_of = vec![u32::MAX; symbols.iter().map(|s| s.index() + 1).max().unwrap_or(0)];
        for (slot, symbol) in symbols.iter().enumerate() {
            slot_of[symbol.index()] = slot as u32;
        }
        let mut timeframes = vec![
            config.primary_minutes,
            config.secondary_minutes,
            config.regime_minutes,
        ];
        timeframes.sort_unstable();
        timeframes.dedup();
        // Percent at 1e-18, then / 100: exact for any percentage with up to 16 decimals.
        let risk_ratio_raw =
            Ratio::from_f64_lossy(config.risk_pct).map_or(0, |pct| pct.raw().max(0) / 100);
        Self {
            info: StrategyInfo {
                id: ids::TREND_FOLLOW,
                name: NAME,
            },
            symbols: symbols.to_vec(),
            slot_of,
            timeframes,
            primary_minutes: config.primary_minutes,
            rsi_exit: config.rsi_exit,
            risk_ratio_raw,
            min_quote: config.min_quote.max(Notional::ZERO),
            tuner: AutoTuner::new(config),
            metrics: vec![SymbolMetrics::default(); states.len()],
            states,
            counters: TrendCounters::default(),
        }
    }

    /// Totals since start.
    pub fn counters(&self) -> TrendCounters {
        self.counters
    }

    /// The tuner (params in use, trade history).
    pub fn tuner(&self) -> &AutoTuner {
        &self.tuner
    }

    /// Closed trades kept by the tuner, oldest first.
    pub fn trades(&self) -> impl Iterator<Item = &TradeRecord> + '_ {
        self.tuner.history()
    }

    /// The stop in force on `symbol` as the strategy knows it (zero: none).
    pub fn stop_of(&self, symbol: SymbolId) -> Price {
        self.slot(symbol)
            .map_or(Price::ZERO, |slot| self.states[slot].position.stop)
    }

    /// The venue ms before which `symbol` makes no entry (0: none).
    pub fn cooldown_until_ms(&self, symbol: SymbolId) -> u64 {
        self.slot(symbol)
            .map_or(0, |slot| self.states[slot].cooldown_until_ms)
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        self.slot_of
            .get(symbol.index())
            .filter(|&&slot| slot != u32::MAX)
            .map(|&slot| slot as usize)
    }

    /// Feeds a bar to every frame of its timeframe; true when the primary frame took it.
    fn take_bar(&mut self, slot: usize, bar: &Bar) -> bool {
        let state = &mut self.states[slot];
        let counters = &mut self.counters;
        let mut primary_took = false;
        let frames = [
            (&mut state.primary, true),
            (&mut state.secondary, false),
            (&mut state.regime, false),
        ];
        for (frame, is_primary) in frames {
            if frame.period_ms() != u64::from(bar.timeframe_min) * 60_000 {
                continue;
            }
            let taken = match frame.push(bar) {
                BarOutcome::Taken { bridged } => {
                    counters.bridged_bars += u64::from(bridged);
                    true
                }
                BarOutcome::TakenAfterReset => {
                    counters.resets += 1;
                    true
                }
                BarOutcome::Stale => {
                    counters.stale_bars += 1;
                    false
                }
                BarOutcome::Invalid => {
                    counters.invalid_bars += 1;
                    false
                }
            };
            primary_took |= taken && is_primary;
        }
        primary_took
    }

    /// True when no other timeframe still owes a bar closing at `close_ms`.
    fn ready(state: &SymbolTrend, close_ms: u64) -> bool {
        [&state.secondary, &state.regime].iter().all(|frame| {
            let period = frame.period_ms();
            let due = close_ms % period == 0 && frame.last_close_ms() + period == close_ms;
            !due
        })
    }

    fn evaluate(&mut self, slot: usize, close_ms: u64, ctx: &mut StrategyCtx<'_>) {
        self.counters.evaluations += 1;
        let symbol = self.states[slot].symbol;
        let holding = ctx.holding(symbol);
        self.sync_position(slot, &holding, close_ms, ctx);
        if holding.qty.is_positive() {
            self.manage_long(slot, &holding, ctx);
        } else if holding.qty.is_zero() {
            self.consider_entry(slot, close_ms, &holding, ctx);
        }
    }

    /// Adopts a position the holding shows (a restart), or forgets one that vanished.
    fn sync_position(
        &mut self,
        slot: usize,
        holding: &Holding,
        close_ms: u64,
        ctx: &mut StrategyCtx<'_>,
    ) {
        let position = &mut self.states[slot].position;
        if holding.qty.is_positive() {
            if !position.long {
                position.long = true;
                position.entry_avg = holding.avg_entry;
                position.stop = position.stop.max(holding.stop_loss);
                if position.initial_stop.is_zero() {
                    position.initial_stop = holding.stop_loss;
                }
                if position.target.is_zero() {
                    position.target = holding.take_profit;
                }
                ctx.mark_dirty();
            }
            if holding.avg_entry.is_positive() {
                position.entry_avg = holding.avg_entry;
            }
        } else if position.long && !holding.exiting {
            // Closed without a fill reaching us (flattened while the engine was down).
            *position = Position::default();
            self.counters.lost_positions += 1;
            self.start_cooldown(slot, close_ms);
            ctx.mark_dirty();
        }
    }

    fn entry_setup(&self, slot: usize) -> Option<EntrySetup> {
        let state = &self.states[slot];
        let params = self.tuner.params();
        let primary = state.primary.values()?;
        let secondary = state.secondary.values()?;
        let regime = state.regime.values()?;
        let atr = state.primary.atr()?;
        let swing_low = state.primary.swing_low()?;
        let trending = primary.fast > primary.slow
            && secondary.fast > secondary.slow
            && regime.fast > regime.slow;
        let in_band = (params.rsi_long_min..=params.rsi_long_max).contains(&primary.rsi);
        (trending && in_band).then_some(EntrySetup {
            close: state.primary.last_close(),
            atr,
            swing_low,
        })
    }

    fn skip(&mut self, slot: usize, reason: SkipReason) {
        self.counters.skips[reason.index()] += 1;
        self.metrics[slot].skips[reason.index()].inc();
    }

    fn consider_entry(
        &mut self,
        slot: usize,
        close_ms: u64,
        holding: &Holding,
        ctx: &mut StrategyCtx<'_>,
    ) {
        let Some(setup) = self.entry_setup(slot) else {
            return;
        };
        let symbol = self.states[slot].symbol;
        let gate = if !ctx.in_scope(symbol) {
            Some(SkipReason::OutOfScope)
        } else if close_ms < self.states[slot].cooldown_until_ms {
            Some(SkipReason::Cooldown)
        } else if !holding.can_enter() {
            Some(SkipReason::Busy)
        } else if ctx.owner(symbol).is_some_and(|owner| owner != self.info.id) {
            Some(SkipReason::OwnedElsewhere)
        } else {
            None
        };
        if let Some(reason) = gate {
            return self.skip(slot, reason);
        }
        let Some(equity) = ctx.equity else {
            return self.skip(slot, SkipReason::NoEquity);
        };
        let params = self.tuner.params();
        let close = Price::from_f64_lossy(setup.close).unwrap_or(Price::ZERO);
        let reference = ctx.market(symbol).reference(Side::Buy).unwrap_or(close);
        let stop = Price::from_f64_lossy(setup.swing_low - setup.atr * params.atr_stop_mult)
            .unwrap_or(Price::ZERO);
        let target = Price::from_f64_lossy(setup.close + setup.atr * params.atr_target_mult)
            .unwrap_or(Price::ZERO);
        if !stop.is_positive() || stop >= reference {
            return self.skip(slot, SkipReason::StopNotBelowPrice);
        }
        if target <= reference {
            return self.skip(slot, SkipReason::TargetNotAbovePrice);
        }
        let quote = self.quote_for(equity);
        if !quote.is_positive() {
            return self.skip(slot, SkipReason::ZeroQuote);
        }
        let plan = EntryPlan {
            symbol,
            side: Side::Buy,
            size: Size::Quote(quote),
            limit: Price::ZERO,
            stop_loss: stop,
            take_profit: target,
            tag: TAG_LONG,
        };
        if !ctx.emit(Signal::Enter(plan)) {
            return;
        }
        let reference_f = reference.to_f64();
        let stop_bps = if reference_f > 0.0 {
            (reference_f - stop.to_f64()) / reference_f * 10_000.0
        } else {
            0.0
        };
        self.states[slot].planned = Planned {
            stop,
            target,
            stop_bps,
        };
        self.counters.entries += 1;
        let metrics = &self.metrics[slot];
        metrics.signals[SIGNAL_ENTRY].inc();
        metrics.stop_distance_bp.set_f64(stop_bps);
    }

    /// max(min_quote, equity × risk), floored at zero.
    fn quote_for(&self, equity: Notional) -> Notional {
        let share = mul_raw(equity.raw(), self.risk_ratio_raw)
            .map(Notional::from_raw)
            .unwrap_or(Notional::ZERO);
        share.max(self.min_quote).max(Notional::ZERO)
    }

    fn manage_long(&mut self, slot: usize, holding: &Holding, ctx: &mut StrategyCtx<'_>) {
        if holding.exiting {
            return;
        }
        let state = &self.states[slot];
        let Some(values) = state.primary.values() else {
            return;
        };
        let symbol = state.symbol;
        if values.rsi >= self.rsi_exit || values.fast <= values.slow {
            if ctx.emit(Signal::Exit {
                symbol,
                tag: TAG_EXIT,
            }) {
                self.states[slot].position.exit_requested = true;
                self.counters.exits += 1;
                self.metrics[slot].signals[SIGNAL_EXIT].inc();
            }
            return;
        }
        let (Some(atr), Some(swing_low)) = (state.primary.atr(), state.primary.swing_low()) else {
            return;
        };
        let params = self.tuner.params();
        let Some(candidate) = Price::from_f64_lossy(swing_low - atr * params.atr_stop_mult) else {
            return;
        };
        let in_force = state.position.stop.max(holding.stop_loss);
        let close = Price::from_f64_lossy(state.primary.last_close()).unwrap_or(Price::ZERO);
        let below_price = ctx
            .market(symbol)
            .reference(Side::Sell)
            .is_none_or(|bid| candidate < bid);
        if candidate <= in_force || candidate >= close || !below_price {
            return;
        }
        if ctx.emit(Signal::MoveStop {
            symbol,
            stop_loss: candidate,
            take_profit: Price::ZERO,
        }) {
            self.states[slot].position.stop = candidate;
            self.counters.stop_raises += 1;
            self.metrics[slot].signals[SIGNAL_STOP_RAISE].inc();
            ctx.mark_dirty();
        }
    }
}

impl Strategy for TrendStrategy {
    fn info(&self) -> StrategyInfo {
        self.info
    }

    fn tags(&self) -> &'static [&'static str] {
        &TAGS
    }

    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    fn timeframes(&self) -> &[u32] {
        &self.timeframes
    }

    /// Bars drive everything; ticks are not used.
    fn on_market(&mut self, _event: &MarketEvent, _ctx: &mut StrategyCtx<'_>) {}

    fn on_bar(&mut self, bar: &Bar, ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(bar.symbol) else {
            return;
        };
        if self.take_bar(slot, bar) {
            self.states[slot].pending_eval_ms = bar.close_time_ms;
        }
        let pending = self.states[slot].pending_eval_ms;
        if pending != 0 && Self::ready(&self.states[slot], pending) {
            self.states[slot].pending_eval_ms = 0;
            self.evaluate(slot, pending, ctx);
        }
    }

    fn on_warmup_bar(&mut self, bar: &Bar) {
        if let Some(slot) = self.slot(bar.symbol) {
            self.take_bar(slot, bar);
        }
    }

    fn on_fill(&mut self, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        self.take_fill(fill, ctx);
    }

    fn on_order(&mut self, update: &OrderUpdate, _ctx: &mut StrategyCtx<'_>) {
        self.take_order_update(update);
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        self.write_snapshot(out);
    }

    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        self.read_snapshot(body)
    }

    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        for (slot, state) in self.states.iter().enumerate() {
            let name = scope.symbol_name(state.symbol).to_owned();
            self.metrics[slot] = SymbolMetrics::register(scope, &name)?;
        }
        Ok(())
    }
}
