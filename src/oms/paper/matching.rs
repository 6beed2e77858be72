//! Owns: executions: taking from the visible book, limits that keep taking while they are
//! marketable, passive orders crossed by books and trades, stops firing, fills booked into the
//! account, locks kept in step, orders finished with their final report. Never: validates a
//! new order (that is `placing`).

use crate::core::{Market, OrderType, Price, Qty, Side, SymbolId, TradePrint};
use crate::oms::venue::{VenueFill, VenueReport};

use super::depth::{marketable, Walk};
use super::orders::{stop_triggers, Outcome, Stage};
use super::queue::{level_qty_at, QueueSpot};
use super::{funds_tracked, ClosedOrder, PaperVenue, QueueModel, TradeFillRule};

impl PaperVenue {
    /// Quantity an order may still fill: reduce-only futures orders stop at the position.
    pub(super) fn fillable(&self, index: usize) -> Qty {
        let order = &self.orders[index];
        let remaining = order.remaining();
        if !(order.order.reduce_only && order.order.market == Market::UsdmFutures) {
            return remaining;
        }
        let position = self
            .account
            .position(Market::UsdmFutures, order.order.symbol)
            .map_or(Qty::ZERO, |p| p.qty);
        let reducible = match order.order.side {
            Side::Buy if position.raw() < 0 => position.abs(),
            Side::Sell if position.is_positive() => position,
            _ => Qty::ZERO,
        };
        remaining.min(reducible)
    }

    /// Sets an order's lock to what it needs now and the wallet's total with it.
    pub(super) fn relock(&mut self, index: usize) {
        let order = self.orders[index];
        let sibling_holds = order.shares_sibling_lock && order.oco_sibling.is_some();
        let needed = if order.done
            || order.stage == Stage::Taking
            || sibling_holds
            || !funds_tracked(&order.order)
        {
            Qty::ZERO
        } else {
            match order.order.side {
                Side::Sell => order.remaining(),
                Side::Buy => self.buy_hold(order.lock_price, order.remaining()),
            }
        };
        let delta = needed.saturating_sub(order.locked);
        self.orders[index].locked = needed;
        if let Some(lock) = self
            .locks
            .iter_mut()
            .find(|l| l.wallet == order.order.market && l.asset == order.lock_asset)
        {
            lock.qty = lock.qty.saturating_add(delta);
        }
    }

    /// Takes what the visible book offers within the order's limit, as a taker.
    pub(super) fn take_within_limit(&mut self, index: usize) {
        let order = self.orders[index];
        let fillable = self.fillable(index);
        let Some(state) = self
            .symbols
            .get_mut(order.order.symbol.index())
            .and_then(Option::as_mut)
        else {
            return;
        };
        let walk = state
            .liquidity
            .take(order.order.side, fillable, Some(order.order.price));
        for piece in walk.pieces() {
            self.fill(index, piece.price, piece.qty, false);
        }
    }

    /// A limit that may take (a GTC limit arriving, a stop-limit triggering, a still-taking
    /// order on a book or ticker update) takes what the visible book offers within its price
    /// as a taker. What is left keeps taking while nothing visible on that side shows where
    /// the liquidity within its limit ends (the book crossed it and ran out, or shows no
    /// level); a visible level, necessarily beyond its limit, makes it a passive order.
    pub(super) fn take_then_rest(&mut self, index: usize) {
        let order = self.orders[index];
        let (symbol, side) = (order.order.symbol, order.order.side);
        let crossed = self
            .state(symbol)
            .is_some_and(|s| s.liquidity.crosses(side, order.order.price));
        if crossed {
            self.take_within_limit(index);
        }
        if self.orders[index].done {
            return;
        }
        let side_empty = self
            .state(symbol)
            .is_none_or(|s| s.liquidity.takeable(side).as_slice().is_empty());
        let marketable_before = crossed || order.stage == Stage::StillTaking;
        if marketable_before && side_empty {
            self.orders[index].stage = Stage::StillTaking;
        } else {
            self.orders[index].stage = Stage::Resting;
            self.start_queue(index);
        }
    }

    /// Executes the rest of an order as a market order, then expires what is left.
    pub(super) fn execute_market(&mut self, index: usize) {
        let order = self.orders[index];
        let fillable = self.fillable(index);
        let Some(plan) = self.market_plan(order.order.symbol, order.order.side, fillable) else {
            return self.finish(index, Outcome::Expired);
        };
        let walk = match self
            .symbols
            .get_mut(order.order.symbol.index())
            .and_then(Option::as_mut)
        {
            Some(state) => state.liquidity.take(order.order.side, fillable, None),
            None => Walk::default(),
        };
        for piece in walk.pieces() {
            self.fill(index, piece.price, piece.qty, false);
        }
        if let Some(price) = plan.rest_price {
            let rest = self.fillable(index);
            if rest.is_positive() && !self.orders[index].done {
                self.fill(index, price, rest, false);
            }
        }
        self.finish(index, Outcome::Expired);
    }

    /// Books one execution of the order at `index`.
    pub(super) fn fill(&mut self, index: usize, price: Price, qty: Qty, is_maker: bool) {
        let order = self.orders[index];
        let Some(assets) = self.state(order.order.symbol).map(|s| s.assets) else {
            return;
        };
        let Some(notional) = price.notional(qty) else {
            self.stats.accounting_errors += 1;
            return;
        };
        let fill = VenueFill {
            client_order_id: order.order.client_order_id,
            symbol: order.order.symbol,
            market: order.order.market,
            side: order.order.side,
            price,
            qty,
            fee: self.fee(notional, is_maker),
            fee_asset: assets.quote,
            venue_trade_id: self.next_trade_id,
            venue_order_id: order.venue_order_id,
            is_maker,
            venue_ts_ms: self.venue_ms,
        };
        self.next_trade_id += 1;
        if self.account.on_fill(&fill, assets).is_err() {
            self.stats.accounting_errors += 1;
        }
        self.orders[index].filled = order.filled.saturating_add(qty);
        if self.trades.len() >= self.config.trade_history {
            if let Some(evicted) = self.trades.pop_front() {
                self.newest_evicted_trade_id = evicted.venue_trade_id;
                self.stats.evicted_trades += 1;
            }
        }
        self.trades.push_back(fill);
        self.stats.fills += 1;
        self.report(VenueReport::Fill(fill));
        self.relock(index);
        // The take-profit leg of an OCO filling (even partly) cancels the stop leg.
        if let Some(sibling) = order.oco_sibling.filter(|_| !order.is_stop_leg()) {
            if let Some(other) = self.open_index(sibling) {
                self.finish(other, Outcome::Canceled);
            }
        }
        if self.orders[index].remaining().is_zero() {
            self.finish(index, Outcome::Filled);
        } else if order.order.reduce_only && self.fillable(index).is_zero() {
            // The position it reduced is closed: a reduce-only order has nothing left to do.
            self.finish(index, Outcome::Expired);
        }
    }

    /// Takes an order out of the table with its final report; no-op when already done.
    pub(super) fn finish(&mut self, index: usize, outcome: Outcome) {
        let order = self.orders[index];
        if order.done {
            return;
        }
        self.orders[index].done = true;
        let client_order_id = order.order.client_order_id;
        match outcome {
            Outcome::Canceled => {
                self.stats.canceled += 1;
                self.report(VenueReport::Canceled {
                    client_order_id,
                    venue_ts_ms: self.venue_ms,
                });
            }
            Outcome::Expired => {
                self.stats.expired += 1;
                self.report(VenueReport::Expired {
                    client_order_id,
                    venue_ts_ms: self.venue_ms,
                });
            }
            Outcome::Filled | Outcome::Rejected(_) => {}
        }
        self.relock(index);
        if let Some(sibling) = order.oco_sibling {
            self.orders[index].oco_sibling = None;
            if let Some(other) = self.open_index(sibling) {
                self.orders[other].oco_sibling = None;
                self.relock(other);
            }
        }
        self.remember(ClosedOrder {
            client_order_id,
            venue_order_id: order.venue_order_id,
            outcome,
        });
    }

    /// A stop fired: report it, cancel its OCO partner, then execute or rest.
    pub(super) fn trigger(&mut self, index: usize) {
        let order = self.orders[index];
        self.stats.triggered += 1;
        self.report(VenueReport::Triggered {
            client_order_id: order.order.client_order_id,
            venue_ts_ms: self.venue_ms,
        });
        if let Some(other) = order.oco_sibling.and_then(|id| self.open_index(id)) {
            self.finish(other, Outcome::Canceled);
        }
        if order.stop_limit.is_positive() {
            let triggered = &mut self.orders[index];
            triggered.order.order_type = OrderType::Limit;
            triggered.order.price = order.stop_limit;
            triggered.stage = Stage::Resting;
            triggered.lock_price = order.stop_limit;
            self.relock(index);
            return self.take_then_rest(index);
        }
        self.orders[index].stage = Stage::Taking;
        self.relock(index);
        if funds_tracked(&order.order) {
            let fillable = self.fillable(index);
            let affordable = self
                .market_plan(order.order.symbol, order.order.side, fillable)
                .zip(self.state(order.order.symbol))
                .is_some_and(|(plan, state)| {
                    let asset = match order.order.side {
                        Side::Buy => state.assets.quote,
                        Side::Sell => state.assets.base,
                    };
                    self.market_cost(&plan, order.order.side, fillable)
                        <= self.free(order.order.market, asset)
                });
            if !affordable {
                return self.finish(index, Outcome::Expired);
            }
        }
        self.execute_market(index);
    }

    /// The book changed: still-taking orders take what it shows within their limit at its
    /// prices; passive orders it crosses fill at their own price, best levels first.
    pub(super) fn match_book(&mut self, symbol: SymbolId) {
        for index in 0..self.orders.len() {
            // Read in place: this runs for every open order on every book event.
            let order = &self.orders[index];
            if order.done
                || order.order.symbol != symbol
                || !matches!(order.stage, Stage::Resting | Stage::StillTaking)
            {
                continue;
            }
            let (stage, side, price) = (order.stage, order.order.side, order.order.price);
            let fillable = self.fillable(index);
            if fillable.is_zero() {
                self.finish(index, Outcome::Expired);
                continue;
            }
            if stage == Stage::StillTaking {
                self.take_then_rest(index);
                continue;
            }
            let Some(state) = self
                .symbols
                .get_mut(symbol.index())
                .and_then(Option::as_mut)
            else {
                return;
            };
            // A passive order fills only when the book crosses it: one comparison decides.
            if !state.liquidity.crosses(side, price) {
                continue;
            }
            let walk = state.liquidity.take(side, fillable, Some(price));
            if walk.qty.is_positive() {
                self.fill(index, price, walk.qty, true);
            }
        }
        self.update_queues(symbol);
    }

    /// A limit starts resting: its queue starts at the level visible at its price.
    pub(super) fn start_queue(&mut self, index: usize) {
        let order = self.orders[index];
        if self.config.queue_model == QueueModel::Off || order.done || order.stage != Stage::Resting
        {
            return;
        }
        let side = order.order.side;
        let level = self.state(order.order.symbol).and_then(|state| {
            let own_side = state.liquidity.takeable(side.opposite()).as_slice();
            level_qty_at(own_side, side, order.order.price)
        });
        self.orders[index].queue = QueueSpot::start(level);
    }

    /// The book changed: resting orders' queues follow the levels at their prices.
    fn update_queues(&mut self, symbol: SymbolId) {
        let model = self.config.queue_model;
        if model == QueueModel::Off {
            return;
        }
        let Some(state) = self.symbols.get(symbol.index()).and_then(Option::as_ref) else {
            return;
        };
        for order in &mut self.orders {
            if order.done || order.order.symbol != symbol || order.stage != Stage::Resting {
                continue;
            }
            let side = order.order.side;
            let own_side = state.liquidity.takeable(side.opposite()).as_slice();
            let level = level_qty_at(own_side, side, order.order.price);
            order.queue.on_level(model, level);
        }
    }

    /// A trade under a queue model: through our price it fills as without one; at our price
    /// (taker on the other side) it advances the queue and fills what it takes beyond it.
    /// Returns what is left of `budget`, the trade quantity not yet given to our orders.
    fn trade_in_queue(&mut self, index: usize, trade: TradePrint, mut budget: Qty) -> Qty {
        let order = self.orders[index];
        let limit = order.order.price;
        let through = match order.order.side {
            Side::Buy => trade.price < limit,
            Side::Sell => trade.price > limit,
        };
        let reached = if through {
            budget
        } else {
            if trade.price != limit || trade.aggressor == order.order.side {
                return budget;
            }
            let Some(ahead) = order.queue.ahead else {
                return budget;
            };
            self.orders[index].queue.on_trade(trade.qty);
            let step = self
                .state(order.order.symbol)
                .map_or(Qty::ZERO, |s| s.instrument.lot_size.step_size);
            budget.saturating_sub(ahead).floor_to(step)
        };
        let qty = self.fillable(index).min(reached);
        if qty.is_positive() {
            budget = budget.saturating_sub(qty);
            self.fill(index, limit, qty, true);
        }
        budget
    }

    /// A trade fires stops at or through their trigger, fills still-taking orders at or
    /// through their limit at its price (taker) and passive orders it went through at theirs.
    pub(super) fn match_trade(&mut self, symbol: SymbolId, trade: TradePrint) {
        let mut budget = trade.qty;
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.done || order.order.symbol != symbol {
                continue;
            }
            match order.stage {
                Stage::Armed
                    if stop_triggers(
                        order.order.order_type,
                        order.order.side,
                        order.order.trigger_price,
                        trade.price,
                    ) =>
                {
                    self.trigger(index);
                }
                Stage::StillTaking
                    if budget.is_positive()
                        && marketable(order.order.side, trade.price, order.order.price) =>
                {
                    // We are the aggressor: the trade shows liquidity at its price.
                    let qty = self.fillable(index).min(budget);
                    if qty.is_positive() {
                        budget = budget.saturating_sub(qty);
                        self.fill(index, trade.price, qty, false);
                    }
                }
                Stage::Resting if self.config.queue_model != QueueModel::Off => {
                    budget = self.trade_in_queue(index, trade, budget);
                }
                Stage::Resting if budget.is_positive() => {
                    let limit = order.order.price;
                    let through = match (self.config.trade_fill, order.order.side) {
                        (TradeFillRule::ThroughOnly, Side::Buy) => trade.price < limit,
                        (TradeFillRule::ThroughOnly, Side::Sell) => trade.price > limit,
                        (TradeFillRule::Touch, Side::Buy) => trade.price <= limit,
                        (TradeFillRule::Touch, Side::Sell) => trade.price >= limit,
                    };
                    if !through {
                        continue;
                    }
                    let qty = self.fillable(index).min(budget);
                    if qty.is_positive() {
                        budget = budget.saturating_sub(qty);
                        self.fill(index, limit, qty, true);
                    }
                }
                _ => {}
            }
        }
    }
}
