//! Owns: spot and cross-margin one-cancels-the-other lists: their checks (leg types, the
//! price relationship, funds locked once for both legs), placing both legs, expiring the
//! other leg when one is activated (filled or triggered), and canceling a whole list.
//! Never: matches by itself (legs work through the ordinary order path) or borrows for a
//! list (a margin OCO exits what the account holds; its side effect applies to the fills).

use crate::core::{Price, Qty, Side};

use super::super::orders::{
    AccountKind, ExecType, OrderList, OrderStatus, OrderType, Reject, SideEffectType, SimOrder,
    Tif, UserEvent,
};
use super::{generated_id, BookSource, Exchange, LockKey, NewOrder};

/// One leg of a new OCO.
#[derive(Clone, Debug)]
pub(crate) struct OcoLeg {
    pub order_type: OrderType,
    pub price: Option<Price>,
    pub stop_price: Option<Price>,
    pub time_in_force: Option<Tif>,
    pub client_order_id: Option<String>,
}

/// A validated `POST /api/v3/orderList/oco` (or `/sapi/v1/margin/order/oco`) request.
#[derive(Clone, Debug)]
pub(crate) struct NewOco {
    pub account: AccountKind,
    /// Margin only: applied to both legs' fills (`AUTO_REPAY` repays from the proceeds).
    pub side_effect: SideEffectType,
    pub symbol: String,
    pub side: Side,
    pub qty: Qty,
    pub list_client_order_id: Option<String>,
    pub above: OcoLeg,
    pub below: OcoLeg,
    pub force_partial: bool,
}

/// How a request names an order list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListRef {
    Id(i64),
    Client(String),
}

fn is_stop(order_type: OrderType) -> bool {
    matches!(order_type, OrderType::StopLoss | OrderType::StopLossLimit)
}

fn is_profit_taker(order_type: OrderType) -> bool {
    matches!(
        order_type,
        OrderType::LimitMaker | OrderType::TakeProfit | OrderType::TakeProfitLimit
    )
}

/// The price a leg is judged by in the price relationship: its limit price for a
/// `LIMIT_MAKER`, its stop price otherwise.
fn leg_reference(leg: &OcoLeg) -> Price {
    match leg.order_type {
        OrderType::LimitMaker => leg.price.unwrap_or(Price::ZERO),
        _ => leg.stop_price.unwrap_or(Price::ZERO),
    }
}

impl Exchange {
    /// Accepts, or refuses, a spot or margin OCO; both legs work at once.
    pub fn place_oco(
        &mut self,
        req: NewOco,
        books: &dyn BookSource,
        now_ms: u64,
    ) -> Result<(OrderList, Vec<SimOrder>), Reject> {
        let rules = self
            .rules
            .get(&req.symbol)
            .cloned()
            .ok_or_else(Reject::bad_symbol)?;
        if self.futures || req.account == AccountKind::Futures {
            return Err(Reject::bad_symbol());
        }
        if req.account == AccountKind::Margin
            && req.side_effect == SideEffectType::AutoBorrowRepay
            && !self.auto_borrow_repay
        {
            return Err(super::retired_auto_borrow_repay());
        }
        if !rules.oco_allowed {
            return Err(Reject::order_rejected(
                "OCO orders are not supported for this symbol",
            ));
        }
        let legal = match req.side {
            Side::Sell => is_profit_taker(req.above.order_type) && is_stop(req.below.order_type),
            Side::Buy => is_stop(req.above.order_type) && is_profit_taker(req.below.order_type),
        };
        if !legal {
            return Err(Reject::new(-1014, "Unsupported order combination."));
        }
        let last = self.last_price(&req.symbol);
        let (above, below) = (leg_reference(&req.above), leg_reference(&req.below));
        if last.is_positive() && !(below < last && last < above) {
            return Err(Reject::order_rejected(
                "The relationship of the prices for the orders is not correct.",
            ));
        }
        let leg_request = |leg: &OcoLeg| NewOrder {
            account: req.account,
            symbol: req.symbol.clone(),
            side: req.side,
            order_type: leg.order_type,
            time_in_force: leg.time_in_force,
            qty: Some(req.qty),
            quote_qty: None,
            price: leg.price,
            stop_price: leg.stop_price,
            client_order_id: leg.client_order_id.clone(),
            reduce_only: false,
            side_effect: req.side_effect,
            force_partial: req.force_partial,
            algo_id: None,
        };
        let legs = [leg_request(&req.below), leg_request(&req.above)];
        let book = books.book(&req.symbol);
        self.refresh_mark(&req.symbol, book);
        for leg in &legs {
            self.validate(leg, &rules, book)?;
        }
        if let (Some(a), Some(b)) = (&legs[0].client_order_id, &legs[1].client_order_id) {
            if a == b {
                return Err(Reject::duplicate());
            }
        }
        let list_id = self.next_list_id;
        let key = LockKey::List(list_id);
        let inst = &rules.instrument;
        match req.side {
            Side::Sell => self.reserve_list(key, req.account, &inst.base_asset.clone(), req.qty)?,
            Side::Buy => {
                let worst = legs
                    .iter()
                    .map(|l| l.price.or(l.stop_price).unwrap_or(Price::ZERO))
                    .max()
                    .unwrap_or(Price::ZERO);
                let value = worst
                    .notional(req.qty)
                    .unwrap_or(crate::core::Notional::MAX);
                let amount = self.buy_lock(req.account, value);
                self.reserve_list(key, req.account, &inst.quote_asset.clone(), amount)?;
            }
        }
        self.next_list_id += 1;
        let mut ids = [0u64; 2];
        for (slot, leg) in legs.into_iter().enumerate() {
            match self.place_in_list(leg, Some((list_id, key)), books, now_ms) {
                Ok(placed) => ids[slot] = placed.order.order_id,
                Err(reject) => {
                    // Validated above; undo what was reserved should it fail anyway.
                    self.release_if_idle(key);
                    self.flush_balances(now_ms);
                    return Err(reject);
                }
            }
        }
        let list = OrderList {
            account: req.account,
            order_list_id: list_id,
            symbol: req.symbol.clone(),
            list_client_order_id: req
                .list_client_order_id
                .clone()
                .unwrap_or_else(|| generated_id(list_id as u64 ^ 0x0C0)),
            done: false,
            order_ids: ids,
            time_ms: now_ms,
        };
        self.lists.insert(list_id, list.clone());
        for id in ids {
            self.order_event(id, ExecType::New, None, None, now_ms);
        }
        self.list_event(list_id, now_ms);
        self.flush_balances(now_ms);
        for id in ids {
            let working = self
                .orders
                .get(&id)
                .is_some_and(|o| !o.is_pending_trigger() && o.status.is_open());
            if working {
                self.work(id, book, now_ms);
            }
        }
        let list = self.lists.get(&list_id).cloned().unwrap_or(list);
        let orders = ids
            .iter()
            .filter_map(|id| self.orders.get(id).cloned())
            .collect();
        Ok((list, orders))
    }

    fn list_event(&mut self, list_id: i64, now_ms: u64) {
        let Some(list) = self.lists.get(&list_id).cloned() else {
            return;
        };
        let legs = list
            .order_ids
            .iter()
            .filter_map(|id| {
                self.orders
                    .get(id)
                    .map(|o| (o.order_id, o.client_order_id.clone()))
            })
            .collect();
        self.events.push(UserEvent::List {
            list,
            legs,
            time_ms: now_ms,
        });
    }

    /// A leg filled or triggered: the other leg expires and the list is done.
    pub(super) fn on_leg_activated(&mut self, order_id: u64, now_ms: u64) {
        let Some(list_id) = self.orders.get(&order_id).map(|o| o.order_list_id) else {
            return;
        };
        let Some(list) = self.lists.get_mut(&list_id) else {
            return;
        };
        if list.done {
            return;
        }
        list.done = true;
        let others: Vec<u64> = list
            .order_ids
            .iter()
            .copied()
            .filter(|id| *id != order_id)
            .collect();
        for other in others {
            self.finish(other, OrderStatus::Expired, ExecType::Expired, None, now_ms);
        }
        self.list_event(list_id, now_ms);
    }

    /// Cancels every open leg of a list and marks it done.
    pub(super) fn cancel_list_orders(
        &mut self,
        list_id: i64,
        cancel_client_id: Option<String>,
        now_ms: u64,
    ) {
        let Some(list) = self.lists.get_mut(&list_id) else {
            return;
        };
        list.done = true;
        let ids = list.order_ids;
        for id in ids {
            self.finish(
                id,
                OrderStatus::Canceled,
                ExecType::Canceled,
                cancel_client_id.clone(),
                now_ms,
            );
        }
        self.list_event(list_id, now_ms);
    }

    fn find_list(&self, account: AccountKind, symbol: &str, by: &ListRef) -> Option<i64> {
        self.lists
            .values()
            .rev()
            .find(|l| {
                l.account == account
                    && l.symbol == symbol
                    && match by {
                        ListRef::Id(id) => l.order_list_id == *id,
                        ListRef::Client(client) => &l.list_client_order_id == client,
                    }
            })
            .map(|l| l.order_list_id)
    }

    /// Cancels a whole OCO (`DELETE /api/v3/orderList`).
    pub fn cancel_list(
        &mut self,
        account: AccountKind,
        symbol: &str,
        by: &ListRef,
        cancel_client_id: Option<String>,
        now_ms: u64,
    ) -> Result<(OrderList, Vec<SimOrder>), Reject> {
        let list_id = self
            .find_list(account, symbol, by)
            .filter(|id| self.lists.get(id).is_some_and(|l| !l.done))
            .ok_or_else(|| Reject::new(-2011, "Order list does not exist."))?;
        self.cancel_list_orders(list_id, cancel_client_id, now_ms);
        self.list_with_orders(list_id)
            .ok_or_else(Reject::unknown_order)
    }

    /// A list and its legs as they stand.
    pub fn list_with_orders(&self, list_id: i64) -> Option<(OrderList, Vec<SimOrder>)> {
        let list = self.lists.get(&list_id)?.clone();
        let orders = list
            .order_ids
            .iter()
            .filter_map(|id| self.orders.get(id).cloned())
            .collect();
        Some((list, orders))
    }
}
