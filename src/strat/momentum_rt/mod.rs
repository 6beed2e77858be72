//! Owns: the real-time momentum breakout (seed-spec §2.5) — per trade, a jump over the fast
//! window's low that clears the baseline's high on a real volume spike (a short mirrors it),
//! entered with an exchange-side stop and take-profit, and the trailing stop it ratchets
//! through the order manager while in the position. Never: confirms a breakout without
//! volume on both sides of the ratio, enters while it holds or has orders on the symbol, or
//! loosens a stop.
//!
//! **Windows** are whole seconds of engine time (a trade belongs to the second of
//! `ctx.now_ns`): the fast window is the last `window_sec` seconds, the current one
//! included; the baseline is the `baseline_sec − window_sec` seconds before it, or as many
//! of them as have passed since the symbol's first trade.
//!
//! **Rule, per trade** (the first failing step ends it without a signal):
//! 1. At least `min_ticks` trades in the fast window.
//! 2. up = (price − fast low) / fast low, down = (fast high − price) / fast high; a
//!    candidate when up (or down, for a short) ≥ `move_threshold_pct`.
//! 3. Nothing held or open on the symbol, no other owner, in scope, not cooling down.
//! 4. The baseline covers at least `window_sec` seconds (a warm-up after the first trade).
//! 5. **Volume ratio** (bug D-19: the seed divided a sum by a per-point mean, of a 24 h
//!    rolling volume, and always passed): traded base quantity per second in the fast
//!    window over traded quantity per second in the covered baseline — like against like,
//!    from the trades' own quantities. A baseline without any traded quantity gives no
//!    ratio and no signal (it cannot tell a spike from a feed gap), and neither does a fast
//!    window without volume; a missing volume never passes.
//! 6. BUY `breakout_up` when up ≥ threshold, price ≥ baseline high × (1 +
//!    `breakout_margin_bps`/1e4) and ratio ≥ `volume_spike_ratio`; else, when shorts are
//!    possible on the market and `allow_shorts`, SELL `breakout_down` when down ≥
//!    threshold, price ≤ baseline low × (1 − margin) and the same ratio test. A baseline
//!    without trades has no extremes of its own and uses the fast window's (as the seed),
//!    which no price can clear.
//! 7. Emit the entry (quote `quote_usd`, tag `momentum_rt_<reason>`) with stop = price ×
//!    (1 ∓ `stop_pct`/100) and take-profit = price × (1 ± `tp_pct`/100) (none when 0), and
//!    start the cooldown (engine time, and venue time for a restart).
//!
//! **Trailing stop**, per trade while the strategy holds the symbol and its bracket has a
//! stop: the best price since entry (from the entry's average price, then every trade) sets
//! a candidate stop best × (1 − `trail_pct`/100) (× (1 + …) for a short); when it tightens
//! the current stop (the bracket's, or the last one this strategy asked for) by at least
//! `min_stop_step_bps` of it, `Signal::MoveStop` asks the order manager to replace the
//! bracket's stop (the take-profit is kept). The stop therefore only ratchets; the step
//! keeps the venue from seeing a replacement on every trade. A candidate at or through the
//! current best bid (best ask for a short) is not sent: the venue would refuse it or fill
//! it at once (the trades that set the best price can run ahead of the book).

mod buckets;
mod config;

#[cfg(test)]
mod tests;

pub use config::{MomentumRtConfig, MAX_BASELINE_SEC};

use crate::core::{Fill, MarketEvent, MarketEventKind, OrderUpdate, Price, Ratio, Side};
use crate::core::{SymbolId, TradePrint};
use crate::ops::{Counter, Gauge, OpsError};
use crate::strat::api::{
    ids, EntryPlan, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx, StrategyInfo,
};

use buckets::SecondBuckets;

const NS_PER_SEC: u64 = 1_000_000_000;
const NO_SLOT: u32 = u32::MAX;

pub const TAG_BREAKOUT_UP: &str = "momentum_rt_breakout_up";
pub const TAG_BREAKOUT_DOWN: &str = "momentum_rt_breakout_down";
const TAGS: &[&str] = &[TAG_BREAKOUT_UP, TAG_BREAKOUT_DOWN];

/// One symbol's state.
#[derive(Debug, Clone)]
struct SymbolSlot {
    symbol: SymbolId,
    buckets: SecondBuckets,
    cooldown_until_ns: u64,
    /// Cooldown end in venue ms (survives a restart; 0: none).
    cooldown_until_venue_ms: u64,
    /// Best price since entry (highest long, lowest short; zero: flat).
    best_since_entry: Price,
    /// The last stop this strategy asked for (zero: none yet).
    requested_stop: Price,
}

/// One symbol's metric handles (detached until `attach_metrics`).
#[derive(Debug, Clone, Default)]
struct SymbolMetrics {
    /// By side: buy (`breakout_up`), sell (`breakout_down`).
    breakouts: [Counter; 2],
    window_return_pct: Gauge,
    volume_ratio: Gauge,
    cooldown_epoch: Gauge,
}

/// The persisted part, by symbol id.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    /// Cooldown ends, venue ms.
    cooldowns: Vec<(u32, u64)>,
    /// Best price since entry and the last stop asked for, of open positions.
    trails: Vec<(u32, Price, Price)>,
}

/// The real-time momentum breakout strategy.
#[derive(Debug)]
pub struct MomentumRtStrategy {
    config: MomentumRtConfig,
    symbols: Vec<SymbolId>,
    slot_of: Vec<u32>,
    slots: Vec<SymbolSlot>,
    metrics: Vec<SymbolMetrics>,
    cooldown_ns: u64,
    /// 1 − stop_pct / 100, 1 + stop_pct / 100, and the same for the trail and the target.
    stop_long: Ratio,
    stop_short: Ratio,
    trail_long: Ratio,
    trail_short: Ratio,
    target_long: Ratio,
    target_short: Ratio,
}

/// 1 + `sign` × `pct` / 100, exact for percentages with up to 16 decimals (0.8 gives
/// 0.992, not the nearest double's expansion).
fn percent_ratio(sign: i128, pct: f64) -> Ratio {
    let fraction_raw = (pct * 1e16).round();
    if !fraction_raw.is_finite() {
        return Ratio::ONE;
    }
    Ratio::from_raw(Ratio::ONE.raw() + sign * fraction_raw as i128)
}

impl MomentumRtStrategy {
    /// A breakout strategy over `symbols` (resolved from `config.symbols`); `config` should
    /// have passed [`MomentumRtConfig::validate`] (windows are clamped here, not trusted).
    pub fn new(config: &MomentumRtConfig, symbols: &[SymbolId]) -> Self {
        let mut config = config.clone();
        config.window_sec = config.window_sec.clamp(1, MAX_BASELINE_SEC - 1);
        config.baseline_sec = config
            .baseline_sec
            .clamp(config.window_sec + 1, MAX_BASELINE_SEC);
        let mut unique: Vec<SymbolId> = Vec::with_capacity(symbols.len());
        for &symbol in symbols {
            if !unique.contains(&symbol) {
                unique.push(symbol);
            }
        }
        let table_len = unique.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        let mut slot_of = vec![NO_SLOT; table_len];
        for (slot, symbol) in unique.iter().enumerate() {
            slot_of[symbol.index()] = slot as u32;
        }
        let slots = unique
            .iter()
            .map(|&symbol| SymbolSlot {
                symbol,
                buckets: SecondBuckets::new(config.baseline_sec as usize),
                cooldown_until_ns: 0,
                cooldown_until_venue_ms: 0,
                best_since_entry: Price::ZERO,
                requested_stop: Price::ZERO,
            })
            .collect();
        Self {
            metrics: vec![SymbolMetrics::default(); unique.len()],
            symbols: unique,
            slot_of,
            slots,
            cooldown_ns: u64::from(config.cooldown_sec) * NS_PER_SEC,
            stop_long: percent_ratio(-1, config.stop_pct),
            stop_short: percent_ratio(1, config.stop_pct),
            trail_long: percent_ratio(-1, config.trail_pct),
            trail_short: percent_ratio(1, config.trail_pct),
            target_long: percent_ratio(1, config.tp_pct),
            target_short: percent_ratio(-1, config.tp_pct),
            config,
        }
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        match self.slot_of.get(symbol.index()) {
            Some(&slot) if slot != NO_SLOT => Some(slot as usize),
            _ => None,
        }
    }

    fn on_trade(&mut self, slot: usize, trade: &TradePrint, ctx: &mut StrategyCtx<'_>) {
        let price = trade.price.to_f64();
        if !trade.price.is_positive() || !price.is_finite() {
            return;
        }
        let now_s = ctx.now_ns / NS_PER_SEC;
        self.slots[slot].buckets.push(now_s, price, trade.qty);
        let symbol = self.slots[slot].symbol;
        let holding = ctx.holding(symbol);
        if !holding.qty.is_zero() {
            self.trail(slot, trade.price, ctx);
            return;
        }
        self.consider_entry(slot, trade.price, now_s, ctx);
    }

    fn consider_entry(
        &mut self,
        slot: usize,
        trade_price: Price,
        now_s: u64,
        ctx: &mut StrategyCtx<'_>,
    ) {
        let config = &self.config;
        let metrics = &self.metrics[slot];
        let state = &mut self.slots[slot];
        let price = trade_price.to_f64();
        let window = u64::from(config.window_sec);
        let fast_from = (now_s + 1).saturating_sub(window);
        let fast = state.buckets.summary(fast_from, now_s);
        // 1.
        if fast.ticks < config.min_ticks {
            return;
        }
        // 2. The extremes include this trade, so both moves are ≥ 0 and the lows > 0.
        let up = (price - fast.low) / fast.low;
        let down = (fast.high - price) / fast.high;
        if !(up.is_finite() && down.is_finite()) {
            return;
        }
        let signed_move = if up >= down { up } else { -down };
        metrics.window_return_pct.set_f64(signed_move * 100.0);
        let threshold = config.move_threshold_pct / 100.0;
        let shorts = config.allow_shorts && ctx.shorts_possible();
        let wants_up = up >= threshold;
        let wants_down = shorts && down >= threshold;
        if !wants_up && !wants_down {
            return;
        }
        // 3.
        let symbol = state.symbol;
        if !ctx.holding(symbol).can_enter()
            || ctx
                .owner(symbol)
                .is_some_and(|owner| owner != ids::MOMENTUM_RT)
            || !ctx.in_scope(symbol)
            || ctx.now_ns < state.cooldown_until_ns
            || (ctx.venue_ms != 0 && ctx.venue_ms < state.cooldown_until_venue_ms)
        {
            return;
        }
        // 4.
        let Some(first_s) = state.buckets.first_second() else {
            return;
        };
        let Some(base_to) = fast_from.checked_sub(1) else {
            return;
        };
        let base_from = (now_s + 1)
            .saturating_sub(u64::from(config.baseline_sec))
            .max(first_s);
        if base_to < base_from || base_to + 1 - base_from < window {
            return;
        }
        let covered_s = (base_to + 1 - base_from) as f64;
        let base = state.buckets.summary(base_from, base_to);
        // 5.
        let (fast_volume, base_volume) = (fast.volume.to_f64(), base.volume.to_f64());
        if base_volume <= 0.0 || fast_volume <= 0.0 {
            return;
        }
        let volume_ratio = (fast_volume / window as f64) / (base_volume / covered_s);
        if !volume_ratio.is_finite() {
            return;
        }
        metrics.volume_ratio.set_f64(volume_ratio);
        if volume_ratio < config.volume_spike_ratio {
            return;
        }
        // 6.
        let (base_high, base_low) = if base.ticks > 0 {
            (base.high, base.low)
        } else {
            (fast.high, fast.low)
        };
        let margin = config.breakout_margin_bps / 1e4;
        let side = if wants_up && price >= base_high * (1.0 + margin) {
            Side::Buy
        } else if wants_down && price <= base_low * (1.0 - margin) {
            Side::Sell
        } else {
            return;
        };
        // 7.
        let (stop_ratio, target_ratio, tag, counter) = match side {
            Side::Buy => (self.stop_long, self.target_long, TAG_BREAKOUT_UP, 0),
            Side::Sell => (self.stop_short, self.target_short, TAG_BREAKOUT_DOWN, 1),
        };
        let (Some(stop_loss), Some(target)) = (
            trade_price.scaled(stop_ratio),
            trade_price.scaled(target_ratio),
        ) else {
            return;
        };
        let take_profit = if config.tp_pct > 0.0 {
            target
        } else {
            Price::ZERO
        };
        ctx.emit(Signal::Enter(EntryPlan {
            symbol,
            side,
            size: Size::Quote(config.quote_usd),
            limit: Price::ZERO,
            stop_loss,
            take_profit,
            tag,
        }));
        state.cooldown_until_ns = ctx.now_ns.saturating_add(self.cooldown_ns);
        if ctx.venue_ms != 0 {
            state.cooldown_until_venue_ms = ctx.venue_ms + u64::from(config.cooldown_sec) * 1000;
            metrics
                .cooldown_epoch
                .set((state.cooldown_until_venue_ms / 1000) as i64);
            ctx.mark_dirty();
        }
        metrics.breakouts[counter].inc();
    }

    /// Ratchets the stop of the position on `slot` after a trade at `price`.
    fn trail(&mut self, slot: usize, price: Price, ctx: &mut StrategyCtx<'_>) {
        let state = &mut self.slots[slot];
        let holding = ctx.holding(state.symbol);
        if holding.exiting || !holding.stop_loss.is_positive() {
            return;
        }
        let long = holding.qty.is_positive();
        if state.best_since_entry.is_zero() {
            state.best_since_entry = if holding.avg_entry.is_positive() {
                holding.avg_entry
            } else {
                price
            };
        }
        state.best_since_entry = if long {
            state.best_since_entry.max(price)
        } else {
            state.best_since_entry.min(price)
        };
        let trail = if long {
            self.trail_long
        } else {
            self.trail_short
        };
        let Some(candidate) = state.best_since_entry.scaled(trail) else {
            return;
        };
        let current = if !state.requested_stop.is_positive() {
            holding.stop_loss
        } else if long {
            holding.stop_loss.max(state.requested_stop)
        } else {
            holding.stop_loss.min(state.requested_stop)
        };
        // A stop the market has already crossed would be rejected or fill at once: trades
        // can run ahead of the book, so the best price since entry may be through it.
        let market = ctx.market(state.symbol);
        let crossed = if long {
            market.bid.is_positive() && candidate >= market.bid
        } else {
            market.ask.is_positive() && candidate <= market.ask
        };
        if crossed {
            return;
        }
        let gain = if long {
            candidate.raw() - current.raw()
        } else {
            current.raw() - candidate.raw()
        };
        let step_bps = gain as f64 / current.raw() as f64 * 1e4;
        if gain <= 0 || step_bps.is_nan() || step_bps < self.config.min_stop_step_bps {
            return;
        }
        if ctx.emit(Signal::MoveStop {
            symbol: state.symbol,
            stop_loss: candidate,
            take_profit: Price::ZERO,
        }) {
            state.requested_stop = candidate;
            ctx.mark_dirty();
        }
    }

    /// Trail state after a fill or an order update on `symbol`.
    fn follow_holding(&mut self, symbol: SymbolId, ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(symbol) else {
            return;
        };
        let holding = ctx.holding(symbol);
        let state = &mut self.slots[slot];
        if holding.qty.is_zero() {
            if state.best_since_entry.is_positive() || state.requested_stop.is_positive() {
                state.best_since_entry = Price::ZERO;
                state.requested_stop = Price::ZERO;
                ctx.mark_dirty();
            }
        } else if state.best_since_entry.is_zero() && holding.avg_entry.is_positive() {
            state.best_since_entry = holding.avg_entry;
            ctx.mark_dirty();
        }
    }
}

impl Strategy for MomentumRtStrategy {
    fn info(&self) -> StrategyInfo {
        StrategyInfo {
            id: ids::MOMENTUM_RT,
            name: "momentum_rt",
        }
    }

    fn tags(&self) -> &'static [&'static str] {
        TAGS
    }

    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(event.symbol) else {
            return;
        };
        if let MarketEventKind::Trade(trade) = &event.kind {
            self.on_trade(slot, trade, ctx);
        }
    }

    fn on_fill(&mut self, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        self.follow_holding(fill.symbol, ctx);
    }

    fn on_order(&mut self, update: &OrderUpdate, ctx: &mut StrategyCtx<'_>) {
        self.follow_holding(update.symbol, ctx);
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let snapshot = Snapshot {
            cooldowns: self
                .slots
                .iter()
                .filter(|s| s.cooldown_until_venue_ms != 0)
                .map(|s| (s.symbol.0, s.cooldown_until_venue_ms))
                .collect(),
            trails: self
                .slots
                .iter()
                .filter(|s| s.best_since_entry.is_positive())
                .map(|s| (s.symbol.0, s.best_since_entry, s.requested_stop))
                .collect(),
        };
        if snapshot.cooldowns.is_empty() && snapshot.trails.is_empty() {
            return;
        }
        // Integers and decimal strings into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &snapshot);
    }

    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let snapshot: Snapshot = serde_json::from_slice(body).map_err(|e| RestoreError {
            strategy: "momentum_rt",
            message: e.to_string(),
        })?;
        for (symbol, until_ms) in snapshot.cooldowns {
            if let Some(slot) = self.slot(SymbolId(symbol)) {
                self.slots[slot].cooldown_until_venue_ms = until_ms;
            }
        }
        for (symbol, best, requested) in snapshot.trails {
            if let Some(slot) = self.slot(SymbolId(symbol)) {
                self.slots[slot].best_since_entry = best;
                self.slots[slot].requested_stop = requested;
            }
        }
        Ok(())
    }

    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        for (slot, &symbol) in self.symbols.iter().enumerate() {
            let name = scope.symbol_name(symbol).to_owned();
            let labels = [("symbol", name.as_str()), ("venue", scope.venue)];
            let registry = &mut *scope.registry;
            let mut metrics = SymbolMetrics {
                window_return_pct: registry.gauge(
                    "momentum_rt_window_return_pct",
                    "Momentum-RT move of the last trade over the fast window's low (negative: under its high), percent",
                    &labels,
                )?,
                volume_ratio: registry.gauge(
                    "momentum_rt_volume_ratio",
                    "Momentum-RT fast-window volume per second over the baseline's",
                    &labels,
                )?,
                cooldown_epoch: registry.gauge(
                    "momentum_rt_cooldown_epoch",
                    "Momentum-RT cooldown end, venue time, unix seconds",
                    &labels,
                )?,
                breakouts: Default::default(),
            };
            for (counter, (side, reason)) in metrics
                .breakouts
                .iter_mut()
                .zip([(Side::Buy, "breakout_up"), (Side::Sell, "breakout_down")])
            {
                *counter = registry.counter(
                    "momentum_rt_breakouts_total",
                    "Momentum-RT breakout entries",
                    &[
                        ("symbol", name.as_str()),
                        ("venue", scope.venue),
                        ("side", side.as_str()),
                        ("reason", reason),
                    ],
                )?;
            }
            self.metrics[slot] = metrics;
        }
        Ok(())
    }
}
