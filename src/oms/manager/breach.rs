//! Owns: the order side of a breach or an operator command — refusing what the rails
//! refused, cancelling resting entries (protective stops stay), cancelling everything,
//! tightening protective stops (and a strategy's own stop move), and closing every position at market once the symbol's
//! orders are gone. Never: decides when (the risk state and the operator do) or sends an
//! order the venue's filters would refuse (closing orders go through the same preparation
//! as any other).

use crate::core::{
    ClientOrderId, IntentAction, OrderIntent, OrderRole, OrderStatus, OrderType, Price, Side,
    StrategyId, SymbolId, TimeInForce,
};
use crate::engine::stage::{OrderOutputs, Outbox};
use crate::engine::JournalMsg;
use crate::oms::venue::VenueCommand;

use super::{rejected_intent, Ledger, Order, OrderManager};
use crate::oms::reject;

/// Orders one pass of a bulk cancel collects (passes repeat until none is left).
const PASS: usize = 64;

impl<L: Ledger> OrderManager<L> {
    /// An intent the risk rails refused with `code`: journaled, and the strategy told.
    pub fn refuse(&mut self, intent: &OrderIntent, code: u16, now_ns: u64, out: &mut OrderOutputs) {
        self.journal(
            out,
            JournalMsg::Intent {
                event_ns: now_ns,
                intent: *intent,
            },
        );
        let mut update = rejected_intent(intent, code);
        if intent.action != IntentAction::New {
            update.client_order_id = ClientOrderId::default();
        }
        self.emit(out, now_ns, update);
    }

    /// Cancels every open order `matches` accepts (not already being cancelled); returns
    /// how many cancels went out.
    fn cancel_where(
        &mut self,
        matches: impl Fn(&Order) -> bool,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) -> usize {
        let mut sent = 0;
        loop {
            let mut due = [ClientOrderId::default(); PASS];
            let mut n = 0;
            for (id, order) in &self.orders {
                if n == PASS {
                    break;
                }
                if order.is_open()
                    && order.state.status != OrderStatus::PendingCancel
                    && matches(order)
                {
                    due[n] = *id;
                    n += 1;
                }
            }
            if n == 0 {
                return sent;
            }
            for &id in &due[..n] {
                self.cancel(id, now_ns, commands, out);
            }
            sent += n;
        }
    }

    /// A breach: cancels every resting entry (what is left of it); bracket legs, reduce-only
    /// orders and orders kestrel did not send stay.
    pub fn cancel_entries(
        &mut self,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) -> usize {
        self.cancel_where(
            |o| o.state.role == OrderRole::Entry && !o.state.reduce_only,
            now_ns,
            commands,
            out,
        )
    }

    /// The operator's cancel-all: every open order, protective stops and adopted ones too.
    pub fn cancel_everything(
        &mut self,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) -> usize {
        self.cancel_where(|_| true, now_ns, commands, out)
    }

    /// A soft breach: moves every live protective stop `pct` % of the way from where it is
    /// to the reference price (tighter only, never at or past the price, on the tick grid)
    /// and replaces the bracket with it. Returns how many brackets are being replaced.
    pub fn tighten_stops(
        &mut self,
        pct: u32,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) -> usize {
        if pct == 0 || pct >= 100 {
            return 0;
        }
        let mut due = [(ClientOrderId::default(), Price::ZERO); PASS];
        let mut n = 0;
        for (id, order) in &self.orders {
            if n == PASS {
                break;
            }
            let live_bracket = order
                .bracket
                .iter()
                .any(|leg| self.orders.get(leg).is_some_and(Order::is_open));
            if order.state.role != OrderRole::Entry
                || order.stop_loss.is_zero()
                || order.rebracket
                || !live_bracket
            {
                continue;
            }
            let Some(symbol) = self.symbols.get(order.state.symbol.index()) else {
                continue;
            };
            let Some(instrument) = symbol.instrument.as_ref() else {
                continue;
            };
            let stop = order.stop_loss.raw();
            let price = symbol.reference.raw();
            // Long entries have their stop below the price, shorts above.
            let long = order.state.side == Side::Buy;
            let room = if long { price - stop } else { stop - price };
            if price <= 0 || room <= 0 {
                continue;
            }
            let step = room / 100 * i128::from(pct);
            let target = Price::from_raw(if long { stop + step } else { stop - step });
            // Rounded away from the price: a stop the grid would put past it would trigger.
            let rounded = instrument.round_price(target, order.state.side, true);
            let tighter = if long {
                rounded.raw() > stop && rounded.raw() < price
            } else {
                rounded.raw() < stop && rounded.raw() > price
            };
            if tighter {
                due[n] = (*id, rounded);
                n += 1;
            }
        }
        for &(entry, stop) in &due[..n] {
            let Some(order) = self.orders.get_mut(&entry) else {
                continue;
            };
            order.stop_loss = stop;
            order.rebracket = true;
            let legs = order.bracket;
            for leg in legs {
                if self
                    .orders
                    .get(&leg)
                    .is_some_and(|o| o.is_open() && o.state.status != OrderStatus::PendingCancel)
                {
                    self.cancel(leg, now_ns, commands, out);
                }
            }
        }
        n
    }

    /// A strategy's stop move (`IntentAction::Rebracket`): the filled entry `intent.target`
    /// of the same strategy gets the stop `intent.stop_loss` (on the tick grid, rounded away
    /// from the price) and, when not zero, the take-profit `intent.take_profit`; its live
    /// bracket is cancelled and placed again with them (as a soft breach's tightening
    /// does). Refused with [`reject::BAD_STOP_MOVE`] when the entry has no live bracket, or
    /// the stop is not tighter than the current one, or is at or past the reference price.
    pub fn move_bracket(
        &mut self,
        intent: &OrderIntent,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) -> Result<(), u16> {
        let Some(order) = self.orders.get(&intent.target) else {
            return Err(reject::BAD_STOP_MOVE);
        };
        let live_bracket = order
            .bracket
            .iter()
            .any(|leg| self.orders.get(leg).is_some_and(Order::is_open));
        if order.state.strategy != intent.strategy
            || order.state.role != OrderRole::Entry
            || order.stop_loss.is_zero()
            || !live_bracket
        {
            return Err(reject::BAD_STOP_MOVE);
        }
        let symbol = self
            .symbols
            .get(order.state.symbol.index())
            .ok_or(reject::BAD_STOP_MOVE)?;
        let instrument = symbol.instrument.as_ref().ok_or(reject::BAD_STOP_MOVE)?;
        let long = order.state.side == Side::Buy;
        let stop = instrument.round_price(intent.stop_loss, order.state.side, true);
        let price = symbol.reference.raw();
        let (old, new) = (order.stop_loss.raw(), stop.raw());
        let tighter = if long {
            new > old && new < price
        } else {
            new < old && new > price
        };
        let take = intent.take_profit;
        let take_ok = take.is_zero()
            || if long {
                take.raw() > price
            } else {
                take.raw() < price
            };
        if price <= 0 || !tighter || !take_ok {
            return Err(reject::BAD_STOP_MOVE);
        }
        let legs = order.bracket;
        if let Some(order) = self.orders.get_mut(&intent.target) {
            order.stop_loss = stop;
            if !take.is_zero() {
                order.take_profit = instrument.round_price(take, order.state.side.opposite(), true);
            }
            order.rebracket = true;
        }
        for leg in legs {
            if self
                .orders
                .get(&leg)
                .is_some_and(|o| o.is_open() && o.state.status != OrderStatus::PendingCancel)
            {
                self.cancel(leg, now_ns, commands, out);
            }
        }
        Ok(())
    }

    /// Closes every position at market: cancels each such symbol's open orders (a spot
    /// bracket locks the coins to sell), then sends a reduce-only market order for the
    /// position once the venue confirmed them gone.
    pub fn flatten(
        &mut self,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        for index in 0..self.flatten_pending.len() {
            let held = self.exposure.symbol(SymbolId(index as u32));
            if held.position.is_zero() {
                continue;
            }
            self.flatten_pending[index] = true;
            let symbol = SymbolId(index as u32);
            self.cancel_where(|o| o.state.symbol == symbol, now_ns, commands, out);
        }
        self.flatten_due(now_ns, commands, out);
    }

    /// Sends the closing orders of a flatten whose symbols have no open order left.
    pub(super) fn flatten_due(
        &mut self,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        for index in 0..self.flatten_pending.len() {
            if !self.flatten_pending[index] {
                continue;
            }
            let symbol = SymbolId(index as u32);
            let held = self.exposure.symbol(symbol);
            let reconciled = self.symbols.get(index).is_some_and(|s| s.reconciled);
            if held.open_orders > 0 || !reconciled {
                continue; // cancels still on their way, or the link is down: next timer
            }
            self.flatten_pending[index] = false;
            if held.position.is_zero() {
                continue;
            }
            let intent = OrderIntent {
                strategy: StrategyId::default(),
                symbol,
                action: IntentAction::New,
                side: if held.position.is_positive() {
                    Side::Sell
                } else {
                    Side::Buy
                },
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Gtc,
                reduce_only: true,
                qty: held.position.abs(),
                ..OrderIntent::default()
            };
            self.journal(
                out,
                JournalMsg::Intent {
                    event_ns: now_ns,
                    intent,
                },
            );
            // Prepared like any order: a position below the lot size is refused and said so.
            self.place_entry(&intent, now_ns, commands, out);
        }
    }

    /// True while a flatten waits for a symbol's orders to go.
    pub fn flatten_pending(&self) -> bool {
        self.flatten_pending.iter().any(|&p| p)
    }
}
