//! Owns: what the replayed market does to our orders: a working order's taker walk (then
//! resting or expiring), resting orders filled when the replayed book crosses them or a
//! replayed trade prints through them, and conditional orders triggered on the last price.
//! Never: books money (`settle`) or checks requests (`checks`).
//!
//! A spot stop that triggers sends an `executionReport` with `x=NEW` and `w=true` before
//! it trades (Binance's docs do not show the trigger event; this is the simulator's choice).

use crate::core::{Price, Qty, Side};

use super::super::matching::{partial_cap, ReplayedBook, TakeLimits};
use super::super::orders::{AccountKind, ExecType, OrderStatus, OrderType, SimOrder, Tif};
use super::{BookSource, Exchange};

impl Exchange {
    /// Lot step for `order_type` on `symbol` (market orders use `MARKET_LOT_SIZE` when set).
    pub(super) fn step(&self, symbol: &str, market: bool) -> Qty {
        let Some(rules) = self.rules.get(symbol) else {
            return Qty::ZERO;
        };
        let inst = &rules.instrument;
        if market && inst.market_lot_size.step_size.is_positive() {
            inst.market_lot_size.step_size
        } else {
            inst.lot_size.step_size
        }
    }

    /// Runs a working order as a taker against the book, then rests or expires the rest.
    pub(super) fn work(&mut self, order_id: u64, book: Option<&dyn ReplayedBook>, now_ms: u64) {
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        let working = order.working_order_type();
        let market = working == OrderType::Market;
        let step = self.step(&order.symbol, market);
        let quote_order = order.orig_quote_qty.is_positive() && order.orig_qty.is_zero();
        let mut max_qty = if quote_order {
            Qty::MAX
        } else {
            order.remaining()
        };
        let mut max_quote = quote_order.then_some(order.orig_quote_qty);
        if order.account != AccountKind::Futures {
            let (budget_qty, budget_quote) = self.spot_budget(&order);
            max_qty = max_qty.min(budget_qty);
            max_quote = match (max_quote, budget_quote) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if self.futures && order.reduce_only {
            max_qty = max_qty.min(self.reducible(&order));
        }
        let full_limits = TakeLimits {
            limit: working.has_limit_price().then_some(order.price),
            max_qty,
            max_quote,
            step,
        };
        let matcher = self.matchers.entry(order.symbol.clone()).or_default();
        let mut plan = match book {
            Some(book) => matcher.plan(book, order.side, full_limits),
            None => Vec::new(),
        };
        let planned: Qty = plan
            .iter()
            .fold(Qty::ZERO, |sum, (_, q)| sum.saturating_add(*q));
        if order.time_in_force == Tif::Fok && !quote_order && planned < order.remaining() {
            plan.clear();
        }
        if order.force_partial && !quote_order {
            let cap = partial_cap(order.remaining(), step);
            plan = cap_plan(plan, cap);
        }
        if quote_order {
            if let Some(o) = self.orders.get_mut(&order_id) {
                o.orig_qty = planned;
            }
        }
        if let Some(book) = book {
            if let Some(matcher) = self.matchers.get_mut(&order.symbol) {
                matcher.commit(book, order.side, &plan);
            }
        }
        for (price, qty) in plan {
            self.fill(order_id, price, qty, false, now_ms);
        }
        let Some(order) = self.orders.get(&order_id) else {
            return;
        };
        if !order.status.is_open() {
            return;
        }
        let rests = !market && order.time_in_force != Tif::Ioc && order.time_in_force != Tif::Fok;
        if rests {
            let (side, price) = (order.side, order.price);
            self.matchers
                .entry(order.symbol.clone())
                .or_default()
                .rest(order_id, side, price);
        } else {
            self.expire(order_id, now_ms);
        }
    }

    /// Most a resting order may fill in one match: what is left, at most half of it under
    /// the forced-partial fault, and no more than a reduce-only order can still reduce.
    fn maker_cap(&self, order: &SimOrder, step: Qty) -> Qty {
        let mut cap = order.remaining();
        if order.force_partial {
            cap = partial_cap(cap, step);
        }
        if self.futures && order.reduce_only {
            cap = cap.min(self.reducible(order));
        }
        cap
    }

    /// Ends an order that can no longer trade (a taker's unfilled rest, IOC, FOK).
    fn expire(&mut self, order_id: u64, now_ms: u64) {
        self.finish(
            order_id,
            OrderStatus::Expired,
            ExecType::Expired,
            None,
            now_ms,
        );
    }

    /// How much of a futures reduce-only order can still reduce the position.
    pub(super) fn reducible(&self, order: &SimOrder) -> Qty {
        let position = self.futures_ledger.position_qty(&order.symbol);
        match order.side {
            Side::Buy if position.raw() < 0 => position.abs(),
            Side::Sell if position.raw() > 0 => position,
            _ => Qty::ZERO,
        }
    }

    /// The replay applied a depth diff to `symbol`'s book: our resting orders it now
    /// crosses fill at their price, and mark-price triggers are looked at.
    pub fn on_depth(&mut self, symbol: &str, books: &dyn BookSource, now_ms: u64) {
        let Some(book) = books.book(symbol) else {
            return;
        };
        self.refresh_mark(symbol, Some(book));
        let crossed = match self.matchers.get_mut(symbol) {
            Some(matcher) => {
                matcher.prune(book);
                matcher.crossed(book)
            }
            None => Vec::new(),
        };
        for (order_id, side, price) in crossed {
            self.fill_resting(order_id, side, price, book, now_ms);
        }
        self.check_triggers(symbol, books, now_ms);
    }

    /// Fills a resting order against the replayed levels that cross it, as maker.
    pub(super) fn fill_resting(
        &mut self,
        order_id: u64,
        side: Side,
        price: Price,
        book: &dyn ReplayedBook,
        now_ms: u64,
    ) {
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        if !order.status.is_open() {
            return;
        }
        let step = self.step(&order.symbol, false);
        let max_qty = self.maker_cap(&order, step);
        if !max_qty.is_positive() {
            // A reduce-only order whose position is gone.
            self.expire(order_id, now_ms);
            return;
        }
        let limits = TakeLimits {
            limit: Some(price),
            max_qty,
            max_quote: None,
            step,
        };
        let Some(matcher) = self.matchers.get_mut(&order.symbol) else {
            return;
        };
        let plan = matcher.plan(book, side, limits);
        matcher.commit(book, side, &plan);
        let total = plan
            .iter()
            .fold(Qty::ZERO, |sum, (_, q)| sum.saturating_add(*q));
        self.fill(order_id, price, total, true, now_ms);
    }

    /// The replay printed a trade: resting orders it traded through fill at their price
    /// (sharing the printed quantity in priority order), then last-price triggers.
    pub fn on_trade(
        &mut self,
        symbol: &str,
        price: Price,
        qty: Qty,
        books: &dyn BookSource,
        now_ms: u64,
    ) {
        self.last_price.insert(symbol.to_owned(), price);
        let through = self
            .matchers
            .get(symbol)
            .filter(|m| m.has_resting())
            .map(|m| m.traded_through(price))
            .unwrap_or_default();
        let mut left = qty;
        for (order_id, _, limit) in through {
            if !left.is_positive() {
                break;
            }
            let Some(order) = self.orders.get(&order_id).cloned() else {
                continue;
            };
            let step = self.step(symbol, false);
            let take = self.maker_cap(&order, step).min(left).floor_to(step);
            if take.is_positive() {
                left = left.saturating_sub(take);
                self.fill(order_id, limit, take, true, now_ms);
            }
        }
        self.check_triggers(symbol, books, now_ms);
    }

    /// Triggers the conditional orders on `symbol` whose stop the market reached.
    pub(super) fn check_triggers(&mut self, symbol: &str, books: &dyn BookSource, now_ms: u64) {
        let last = self.last_price.get(symbol).copied();
        let due: Vec<u64> = self
            .pending
            .iter()
            .copied()
            .filter(|id| {
                self.orders.get(id).is_some_and(|o| {
                    o.symbol == symbol
                        && o.status.is_open()
                        && last.is_some_and(|last| {
                            o.order_type
                                .trigger()
                                .is_some_and(|t| t.reached(o.side, last, o.stop_price))
                        })
                })
            })
            .collect();
        for order_id in due {
            self.trigger(order_id, books, now_ms);
        }
        self.check_algo_triggers(symbol, books, now_ms);
    }

    /// A spot conditional order's stop was reached: it starts working.
    pub(super) fn trigger(&mut self, order_id: u64, books: &dyn BookSource, now_ms: u64) {
        if !self.pending.remove(&order_id) {
            return;
        }
        let Some(order) = self.orders.get_mut(&order_id) else {
            return;
        };
        order.triggered = true;
        order.working_ms = Some(now_ms);
        order.update_ms = now_ms;
        let (symbol, list_id) = (order.symbol.clone(), order.order_list_id);
        self.order_event(order_id, ExecType::New, None, None, now_ms);
        if list_id >= 0 {
            self.on_leg_activated(order_id, now_ms);
        }
        self.work(order_id, books.book(&symbol), now_ms);
    }
}

/// Trims a fill plan so its total stays within `cap`.
fn cap_plan(plan: Vec<(Price, Qty)>, cap: Qty) -> Vec<(Price, Qty)> {
    let mut left = cap;
    plan.into_iter()
        .filter_map(|(price, qty)| {
            let take = qty.min(left);
            left = left.saturating_sub(take);
            take.is_positive().then_some((price, take))
        })
        .collect()
}
