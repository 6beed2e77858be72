//! Owns: what the trend strategy's own fills and order updates do to its position — the
//! entry plan adopted on the first entry fill, the exit fills summed, the closed trade
//! recorded (metrics, tuner) and the cooldown started from the closing fill's venue time, and
//! the bracket legs remembered to tell a stop exit from a target exit. Never: changes state
//! on a signal, or records a trade without the fill that closed it.

use crate::core::decimal::{mul_div_raw, SCALE};
use crate::core::{ClientOrderId, Fill, Notional, OrderRole, OrderUpdate, Price, Side};

use super::super::api::StrategyCtx;
use super::{ExitReason, Planned, Position, TradeRecord, TradeResult, TrendStrategy, LEGS_KEPT};

impl TrendStrategy {
    /// One of our fills (`ctx.holding` already includes it).
    pub(super) fn take_fill(&mut self, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(fill.symbol) else {
            return;
        };
        let holding = ctx.holding(fill.symbol);
        let state = &mut self.states[slot];
        match fill.side {
            Side::Buy => {
                let position = &mut state.position;
                if !position.long {
                    let planned = state.planned;
                    *position = Position {
                        long: true,
                        initial_stop: planned.stop,
                        stop: planned.stop.max(holding.stop_loss),
                        target: planned.target,
                        stop_bps: planned.stop_bps,
                        ..Position::default()
                    };
                }
                if holding.avg_entry.is_positive() {
                    position.entry_avg = holding.avg_entry;
                }
                ctx.mark_dirty();
            }
            Side::Sell => {
                if !state.position.long {
                    return;
                }
                let position = &mut state.position;
                position.exit_qty = position.exit_qty.saturating_add(fill.qty);
                let notional = fill.price.notional(fill.qty).unwrap_or(Notional::ZERO);
                position.exit_notional = position.exit_notional.saturating_add(notional);
                if !holding.qty.is_positive() {
                    self.close_trade(slot, fill, ctx);
                }
            }
        }
    }

    /// One of our order updates: remembers bracket legs by client id.
    pub(super) fn take_order_update(&mut self, update: &OrderUpdate) {
        let Some(slot) = self.slot(update.symbol) else {
            return;
        };
        if !matches!(update.role, OrderRole::StopLoss | OrderRole::TakeProfit) {
            return;
        }
        if self.leg_role(slot, update.client_order_id).is_some() {
            return;
        }
        let state = &mut self.states[slot];
        state.legs[state.next_leg] = (update.client_order_id, update.role);
        state.next_leg = (state.next_leg + 1) % LEGS_KEPT;
    }

    /// No entry on `slot` before `at_ms` + cooldown bars × the primary period.
    pub(super) fn start_cooldown(&mut self, slot: usize, at_ms: u64) {
        let period_ms = u64::from(self.primary_minutes.max(1)) * 60_000;
        let bars = u64::from(self.tuner.params().cooldown_bars.max(1));
        let until = at_ms.saturating_add(bars.saturating_mul(period_ms));
        self.states[slot].cooldown_until_ms = until;
        self.metrics[slot].cooldown_epoch.set((until / 1000) as i64);
    }

    fn leg_role(&self, slot: usize, id: ClientOrderId) -> Option<OrderRole> {
        self.states[slot]
            .legs
            .iter()
            .find(|(leg, _)| *leg == id && id.0 != 0)
            .map(|&(_, role)| role)
    }

    fn close_trade(&mut self, slot: usize, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        let state = &self.states[slot];
        let position = state.position;
        let exit = mul_div_raw(position.exit_notional.raw(), SCALE, position.exit_qty.raw())
            .map_or(fill.price, Price::from_raw);
        let entry = position.entry_avg;
        let pnl_pct = if entry.is_positive() {
            let ratio = exit.to_f64() / entry.to_f64();
            if ratio.is_finite() {
                (ratio - 1.0) * 100.0
            } else {
                0.0
            }
        } else {
            0.0
        };
        let reason = match self.leg_role(slot, fill.client_order_id) {
            Some(OrderRole::StopLoss) => ExitReason::Stop,
            Some(OrderRole::TakeProfit) => ExitReason::Target,
            _ if position.exit_requested => ExitReason::Signal,
            _ => ExitReason::Other,
        };
        let closed_ms = if ctx.venue_ms > 0 {
            ctx.venue_ms
        } else {
            state.primary.last_close_ms()
        };
        let result = TradeResult::of(pnl_pct);
        let record = TradeRecord {
            symbol: state.symbol.0,
            entry,
            exit,
            pnl_pct,
            result,
            reason,
            initial_stop: position.initial_stop,
            final_stop: position.stop,
            stop_bps: position.stop_bps,
            closed_ms,
        };
        self.tuner.record(record);
        self.counters.trades += 1;
        let metrics = &self.metrics[slot];
        metrics.trades[result.index()].inc();
        metrics.trade_pnl_pct.set_f64(pnl_pct);
        self.states[slot].position = Position::default();
        self.states[slot].planned = Planned::default();
        self.start_cooldown(slot, closed_ms);
        ctx.mark_dirty();
    }
}
