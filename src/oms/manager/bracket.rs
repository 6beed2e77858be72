//! Owns: the order manager's exchange-side brackets: building them after an entry fills
//! (spot: one OCO of a `LIMIT_MAKER` take-profit and a stop; futures: two reduce-only
//! orders), the stop leg's kind and limit price, keeping them in step with the entry's fills,
//! the other leg once one filled, and re-creating them at a venue that lost them.
//! Never: reads the clock, does I/O, or chooses where a bracket goes (the intent does).
//!
//! **Stop leg kind.** A spot venue lists the order kinds it takes (`orderTypes`): real
//! BTCUSDT has `STOP_LOSS_LIMIT` but no `STOP_LOSS`, and refuses a stop-market leg. So a stop
//! leg is a stop-market only where the instrument takes one; elsewhere it is a stop-limit
//! whose limit sits [`OmsConfig::stop_limit_slippage_bps`] beyond the trigger (below it for a
//! sell, above for a buy; at least one tick), moved onto the tick grid away from the trigger
//! and kept inside `PRICE_FILTER` and the percent-price band around the manager's reference
//! price (the venue refuses a limit outside them). Such a leg keeps `order_type:
//! StopMarket` with `price` = its limit, as venue reports describe it (zero price: stop-market).
//! Futures stops stay `STOP_MARKET` on the algo endpoint.
//!
//! **OCO lists.** Both legs of a list are one request at the venue: the manager remembers
//! which legs a list id names, so a refusal under the list id or under either leg ends both
//! legs (see `rejects`), a retry sends the list again, and when one leg fills the venue
//! ends the other by itself (no cancel is sent for it).

use std::collections::HashSet;

use crate::core::ids::ClientOrderIdGen;
use crate::core::{
    ClientOrderId, Instrument, Market, OrderRole, OrderStatus, OrderType, OrderUpdate, Price, Qty,
    Side, TimeInForce,
};
use crate::engine::stage::{OrderOutputs, Outbox};

use super::{venue_order, Ledger, Order, OrderManager};
use crate::oms::venue::{OcoOrder, VenueCommand};

impl<L: Ledger> OrderManager<L> {
    /// Commands that re-create every open order at a venue that lost them (the in-process
    /// paper venue after a restart): brackets of one entry as one OCO on spot, others as
    /// they were. Start-up only (allocates).
    pub fn open_venue_commands(&self) -> Vec<VenueCommand> {
        let margin = self.config.margin;
        let spot = self.config.market != Market::UsdmFutures;
        let mut commands = Vec::new();
        let mut paired = HashSet::new();
        let mut open: Vec<&Order> = self.orders.values().filter(|o| o.is_open()).collect();
        open.sort_by_key(|o| o.state.client_order_id);
        for order in &open {
            let s = &order.state;
            if paired.contains(&s.client_order_id) {
                continue;
            }
            let sibling = (spot && s.role == OrderRole::StopLoss)
                .then(|| {
                    open.iter().find(|o| {
                        o.state.role == OrderRole::TakeProfit && o.state.parent == s.parent
                    })
                })
                .flatten();
            match sibling {
                Some(take) => {
                    paired.insert(take.state.client_order_id);
                    // The entry's id names the list: an open list id needs only be unique,
                    // and the paper venue answers per leg.
                    commands.push(VenueCommand::PlaceOco(OcoOrder {
                        list_id: s.parent,
                        symbol: s.symbol,
                        market: order.market,
                        side: s.side,
                        qty: s.qty.saturating_sub(s.filled_qty),
                        take_profit_id: take.state.client_order_id,
                        take_profit_price: take.state.price,
                        stop_id: s.client_order_id,
                        stop_trigger: s.trigger_price,
                        stop_limit: self.stop_limit_of(s),
                        margin,
                    }));
                }
                None if s.role == OrderRole::TakeProfit
                    && spot
                    && open.iter().any(|o| {
                        o.state.role == OrderRole::StopLoss && o.state.parent == s.parent
                    }) => {}
                None => {
                    let mut place = venue_order(order, margin);
                    place.qty = s.qty.saturating_sub(s.filled_qty);
                    if s.role == OrderRole::StopLoss && spot {
                        place.price = self.stop_limit_of(s);
                    }
                    commands.push(VenueCommand::Place(place));
                }
            }
        }
        commands
    }

    /// After an entry fill: the bracket must cover the whole filled quantity. An existing
    /// smaller bracket is cancelled first and replaced once the venue confirmed the cancel
    /// (a spot OCO locks the coins it sells, so both cannot exist at once).
    pub(super) fn keep_bracket_in_step(
        &mut self,
        entry: ClientOrderId,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let Some(order) = self.orders.get(&entry) else {
            return;
        };
        if order.stop_loss.is_zero() && order.take_profit.is_zero() {
            return;
        }
        if order.protected_qty >= order.state.filled_qty {
            return;
        }
        let live: [ClientOrderId; 2] = order.bracket;
        let any_live = live
            .iter()
            .any(|id| self.orders.get(id).is_some_and(Order::is_open));
        if any_live {
            if let Some(o) = self.orders.get_mut(&entry) {
                o.rebracket = true;
            }
            for id in live {
                if self
                    .orders
                    .get(&id)
                    .is_some_and(|o| o.is_open() && o.state.status != OrderStatus::PendingCancel)
                {
                    self.cancel(id, now_ns, commands, out);
                }
            }
            return;
        }
        self.place_bracket(entry, now_ns, commands, out);
    }

    /// After reconciliation: an entry that filled but never got a bracket (a session killed
    /// between the fill and journaling its bracket) gets one now, over its filled quantity.
    /// Not when the venue holds an order of ours nobody journaled on the exit side for that
    /// quantity: that is the bracket, sent before the kill, and a second would sell twice.
    pub(super) fn bracket_unprotected_entries(
        &mut self,
        symbol: crate::core::SymbolId,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let mut due = [ClientOrderId::default(); 16];
        let mut n = 0;
        for (id, order) in &self.orders {
            let s = &order.state;
            let unprotected = s.symbol == symbol
                && s.role == OrderRole::Entry
                && s.filled_qty.is_positive()
                && !(order.stop_loss.is_zero() && order.take_profit.is_zero())
                && order.bracket == [ClientOrderId::default(); 2]
                && order.protected_qty.is_zero();
            if !unprotected || n == due.len() {
                continue;
            }
            let sent_before_kill = self.orders.values().any(|other| {
                other.is_open()
                    && other.state.symbol == symbol
                    && other.state.role == OrderRole::External
                    && other.state.side != s.side
                    && other.state.qty == s.filled_qty
            });
            if !sent_before_kill {
                due[n] = *id;
                n += 1;
            }
        }
        for &entry in &due[..n] {
            self.place_bracket(entry, now_ns, commands, out);
        }
    }

    pub(super) fn place_bracket(
        &mut self,
        entry: ClientOrderId,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let Some(order) = self.orders.get(&entry).copied() else {
            return;
        };
        let qty = order.state.filled_qty;
        let exit_side = match order.state.side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let Some(symbol) = self.symbols.get(order.state.symbol.index()) else {
            return;
        };
        let Some(instrument) = symbol.instrument.as_ref() else {
            return;
        };
        // Both legs round away from the market on the exit side (sells up, buys down): the
        // stop then triggers no later than asked, the take-profit never sells below its target.
        let stop = if order.stop_loss.is_zero() {
            Price::ZERO
        } else {
            instrument.round_price(order.stop_loss, exit_side, true)
        };
        let take = if order.take_profit.is_zero() {
            Price::ZERO
        } else {
            instrument.round_price(order.take_profit, exit_side, true)
        };
        let stop_limit = if self.config.market == Market::UsdmFutures || stop.is_zero() {
            Price::ZERO
        } else {
            stop_limit_price(
                instrument,
                exit_side,
                stop,
                symbol.reference,
                self.config.stop_limit_slippage_bps,
            )
        };
        let leg = |ids: &mut ClientOrderIdGen, role: OrderRole, order_type, price, trigger| {
            ids.next_id().ok().map(|id| OrderUpdate {
                client_order_id: id,
                strategy: order.state.strategy,
                symbol: order.state.symbol,
                side: exit_side,
                status: OrderStatus::PendingNew,
                order_type,
                time_in_force: TimeInForce::Gtc,
                role,
                reduce_only: true,
                price,
                trigger_price: trigger,
                qty,
                parent: entry,
                ..OrderUpdate::default()
            })
        };
        let stop_leg = (!stop.is_zero())
            .then(|| {
                leg(
                    &mut self.ids,
                    OrderRole::StopLoss,
                    OrderType::StopMarket,
                    stop_limit,
                    stop,
                )
            })
            .flatten();
        let take_leg = if take.is_zero() {
            None
        } else if self.config.market == Market::UsdmFutures {
            leg(
                &mut self.ids,
                OrderRole::TakeProfit,
                OrderType::TakeProfitMarket,
                Price::ZERO,
                take,
            )
        } else {
            leg(
                &mut self.ids,
                OrderRole::TakeProfit,
                OrderType::Limit,
                take,
                Price::ZERO,
            )
        };
        let floor = self.last_trade_id(order.state.symbol);
        let template = |state: OrderUpdate| {
            Order::new(state, order.market, now_ns, order.cause_recv_ns, floor)
        };
        let spot_oco = self.config.market != Market::UsdmFutures;
        match (stop_leg, take_leg) {
            (Some(s), Some(t)) if spot_oco => {
                let Ok(list_id) = self.ids.next_id() else {
                    return;
                };
                let oco = OcoOrder {
                    list_id,
                    symbol: order.state.symbol,
                    market: order.market,
                    side: exit_side,
                    qty,
                    take_profit_id: t.client_order_id,
                    take_profit_price: t.price,
                    stop_id: s.client_order_id,
                    stop_trigger: s.trigger_price,
                    stop_limit: s.price,
                    margin: self.config.margin,
                };
                if self.orders.len() + 2 > self.config.capacity {
                    self.prune();
                }
                for state in [s, t] {
                    let leg = Order {
                        oco_list: list_id,
                        ..template(state)
                    };
                    self.orders.insert(state.client_order_id, leg);
                    self.emit(out, now_ns, state);
                }
                self.oco_lists
                    .insert(list_id, [s.client_order_id, t.client_order_id]);
                if commands.push(VenueCommand::PlaceOco(oco)).is_err() {
                    self.counters.outbox_full += 1;
                }
                self.counters.orders_sent += 2;
            }
            (s, t) => {
                for state in [s, t].into_iter().flatten() {
                    self.send_new(template(state), now_ns, commands, out);
                }
            }
        }
        self.counters.brackets_placed += 1;
        if let Some(o) = self.orders.get_mut(&entry) {
            o.bracket = [
                stop_leg.map_or(ClientOrderId::default(), |s| s.client_order_id),
                take_leg.map_or(ClientOrderId::default(), |t| t.client_order_id),
            ];
            o.protected_qty = qty;
            o.rebracket = false;
        }
    }

    pub(super) fn cancel_sibling(
        &mut self,
        entry: ClientOrderId,
        filled_leg: ClientOrderId,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let Some(bracket) = self.orders.get(&entry).map(|o| o.bracket) else {
            return;
        };
        let filled_list = self.orders.get(&filled_leg).map(|o| o.oco_list);
        for id in bracket {
            let Some(order) = self.orders.get_mut(&id) else {
                continue;
            };
            if id == filled_leg || !order.is_open() {
                continue;
            }
            if order.oco_list.0 == 0 || Some(order.oco_list) != filled_list {
                self.cancel(id, now_ns, commands, out);
            } else if order.state.status != OrderStatus::PendingCancel {
                // The venue ends the other leg of a list itself (Binance reports it EXPIRED):
                // no cancel request, only the wait for that report, asked about after the ack
                // timeout like any cancel should it never come.
                order.state.status = OrderStatus::PendingCancel;
                order.sent_ns = now_ns;
                order.queries = 0;
                let update = order.state;
                self.emit(out, now_ns, update);
            }
        }
    }

    /// A bracket leg ended: if its entry waits to re-bracket and no leg is left, place the
    /// new bracket for the entry's whole filled quantity.
    pub(super) fn after_leg_final(
        &mut self,
        update: &OrderUpdate,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        if update.parent.0 != 0 {
            let parent = update.parent;
            let waiting = self.orders.get(&parent).is_some_and(|p| {
                p.rebracket
                    && p.bracket
                        .iter()
                        .all(|leg| !self.orders.get(leg).is_some_and(Order::is_open))
            });
            if waiting {
                if let Some(p) = self.orders.get_mut(&parent) {
                    p.protected_qty = Qty::ZERO;
                }
                self.place_bracket(parent, now_ns, commands, out);
            }
        }
    }

    /// The limit of a tracked stop leg: its own, or (a leg journaled as stop-market where the
    /// instrument takes none) the one the policy gives now.
    fn stop_limit_of(&self, stop: &OrderUpdate) -> Price {
        if stop.price.is_positive() || self.config.market == Market::UsdmFutures {
            return stop.price;
        }
        self.symbols
            .get(stop.symbol.index())
            .and_then(|s| {
                s.instrument.as_ref().map(|instrument| {
                    stop_limit_price(
                        instrument,
                        stop.side,
                        stop.trigger_price,
                        s.reference,
                        self.config.stop_limit_slippage_bps,
                    )
                })
            })
            .unwrap_or(Price::ZERO)
    }

    /// The OCO `list_id` names, rebuilt from its legs (a retry sends the same list again).
    pub(super) fn oco_of(&self, list_id: ClientOrderId) -> Option<OcoOrder> {
        let [stop_id, take_id] = *self.oco_lists.get(&list_id)?;
        let (stop, take) = (self.orders.get(&stop_id)?, self.orders.get(&take_id)?);
        Some(OcoOrder {
            list_id,
            symbol: stop.state.symbol,
            market: stop.market,
            side: stop.state.side,
            qty: stop.state.qty,
            take_profit_id: take_id,
            take_profit_price: take.state.price,
            stop_id,
            stop_trigger: stop.state.trigger_price,
            stop_limit: stop.state.price,
            margin: self.config.margin,
        })
    }

    /// The OCO list `id` is, or belongs to as a leg: (list id, [stop leg, take-profit leg]).
    pub(super) fn oco_request(
        &self,
        id: ClientOrderId,
    ) -> Option<(ClientOrderId, [ClientOrderId; 2])> {
        if let Some(legs) = self.oco_lists.get(&id) {
            return Some((id, *legs));
        }
        let list = self.orders.get(&id)?.oco_list;
        self.oco_lists.get(&list).map(|legs| (list, *legs))
    }
}

/// The limit price of a spot stop leg triggered at `trigger` (already on the tick grid), or
/// zero when the instrument takes a stop-market. `slippage_bps` beyond the trigger, at least
/// one tick, floored (sell) or ceiled (buy) onto the grid, then kept inside the price filter
/// and the `side`'s percent-price band around `reference` (zero: no band known).
pub(super) fn stop_limit_price(
    instrument: &Instrument,
    side: Side,
    trigger: Price,
    reference: Price,
    slippage_bps: u32,
) -> Price {
    use crate::core::OrderKind;
    if instrument.order_kinds.allows(OrderKind::StopMarket) || !trigger.is_positive() {
        return Price::ZERO;
    }
    let tick = instrument.price_filter.tick_size.raw().max(0);
    let offset = trigger
        .raw()
        .checked_mul(i128::from(slippage_bps))
        .map_or(trigger.raw(), |scaled| scaled / 10_000)
        .max(tick);
    // Away from the trigger on the grid: the limit never gives less room than asked.
    let limit = match side {
        Side::Sell => trigger.raw().saturating_sub(offset),
        Side::Buy => trigger.raw().saturating_add(offset),
    };
    let limit = instrument.round_price(Price::from_raw(limit), side, false);
    let (low, high) = instrument.limit_price_bounds(side, reference);
    // Lowest and highest grid prices inside the bounds (and above zero).
    let smallest = Price::from_raw(tick.max(1));
    let low = instrument.round_price(low.max(smallest), Side::Sell, true);
    let high = instrument.round_price(high, Side::Buy, true);
    limit.max(low).min(high)
}
