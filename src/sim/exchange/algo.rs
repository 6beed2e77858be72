//! Owns: USDⓈ-M conditional orders in the algo service (`/fapi/v1/algoOrder`): their
//! checks, the trigger on the last or mark price, the order each places when triggered
//! (its margin and reduce-only checks happen then, as on Binance), and their statuses
//! NEW → TRIGGERING → TRIGGERED → FINISHED, or CANCELED / REJECTED. Never: holds funds.

use crate::core::{Price, Qty, Side};

use super::super::orders::{
    AccountKind, AlgoOrder, AlgoStatus, OrderType, Reject, SideEffectType, Tif, UserEvent,
    WorkingType,
};
use super::{generated_id, BookSource, Exchange, NewOrder};

/// A validated `POST /fapi/v1/algoOrder` (`algoType=CONDITIONAL`) request.
#[derive(Clone, Debug)]
pub(crate) struct NewAlgo {
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: Option<Tif>,
    pub qty: Option<Qty>,
    pub price: Option<Price>,
    pub trigger_price: Price,
    pub working_type: WorkingType,
    pub close_position: bool,
    pub price_protect: bool,
    pub reduce_only: bool,
    pub client_algo_id: Option<String>,
    pub force_partial: bool,
}

/// How a request names an algo order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AlgoRef {
    Id(u64),
    Client(String),
}

impl Exchange {
    fn algo_reference(&self, symbol: &str, working_type: WorkingType) -> Price {
        match working_type {
            WorkingType::MarkPrice => self.mark_price(symbol),
            WorkingType::ContractPrice => self.last_price(symbol),
        }
    }

    /// Accepts, or refuses, a futures conditional order.
    pub fn place_algo(
        &mut self,
        req: NewAlgo,
        books: &dyn BookSource,
        now_ms: u64,
    ) -> Result<AlgoOrder, Reject> {
        let rules = self
            .rules
            .get(&req.symbol)
            .cloned()
            .ok_or_else(Reject::bad_symbol)?;
        if !self.futures {
            return Err(Reject::bad_symbol());
        }
        let limit_after = match req.order_type {
            OrderType::StopMarket | OrderType::TakeProfitMarket => false,
            OrderType::FuturesStop | OrderType::FuturesTakeProfit => true,
            _ => return Err(Reject::new(-1116, "Invalid orderType.")),
        };
        self.refresh_mark(&req.symbol, books.book(&req.symbol));
        if !req.close_position {
            let probe = NewOrder {
                account: AccountKind::Futures,
                symbol: req.symbol.clone(),
                side: req.side,
                order_type: if limit_after {
                    OrderType::Limit
                } else {
                    OrderType::Market
                },
                time_in_force: req.time_in_force,
                qty: req.qty,
                quote_qty: None,
                price: req.price,
                stop_price: Some(req.trigger_price),
                client_order_id: None,
                reduce_only: req.reduce_only,
                side_effect: SideEffectType::NoSideEffect,
                force_partial: false,
                algo_id: None,
            };
            self.check_filters(&rules, &probe)?;
        }
        if let Some(client) = &req.client_algo_id {
            if self
                .algos
                .values()
                .any(|a| a.status.is_open() && &a.client_algo_id == client)
            {
                return Err(Reject::duplicate());
            }
        }
        let cap = rules.instrument.max_num_algo_orders as usize;
        let open = self
            .algos
            .values()
            .filter(|a| a.status.is_open() && a.symbol == req.symbol)
            .count();
        if cap > 0 && open >= cap {
            return Err(Reject::filter("MAX_NUM_ALGO_ORDERS"));
        }
        let reference = self.algo_reference(&req.symbol, req.working_type);
        let reached = req
            .order_type
            .trigger()
            .is_some_and(|t| t.reached(req.side, reference, req.trigger_price));
        if reference.is_positive() && reached {
            return Err(Reject::new(-2021, "Order would immediately trigger."));
        }
        let algo_id = self.next_algo_id;
        self.next_algo_id += 1;
        let algo = AlgoOrder {
            algo_id,
            client_algo_id: req
                .client_algo_id
                .clone()
                .unwrap_or_else(|| generated_id(algo_id)),
            symbol: req.symbol.clone(),
            side: req.side,
            order_type: req.order_type,
            time_in_force: req.time_in_force.unwrap_or(Tif::Gtc),
            qty: req.qty.unwrap_or(Qty::ZERO),
            price: req.price.unwrap_or(Price::ZERO),
            trigger_price: req.trigger_price,
            working_type: req.working_type,
            close_position: req.close_position,
            price_protect: req.price_protect,
            reduce_only: req.reduce_only,
            status: AlgoStatus::New,
            actual_order_id: None,
            reject_reason: String::new(),
            create_ms: now_ms,
            update_ms: now_ms,
            trigger_ms: 0,
        };
        self.algos.insert(algo_id, algo.clone());
        self.algo_event(algo_id, now_ms);
        if req.force_partial {
            self.partial_algos.insert(algo_id);
        }
        Ok(algo)
    }

    fn algo_event(&mut self, algo_id: u64, now_ms: u64) {
        if let Some(algo) = self.algos.get(&algo_id) {
            self.events.push(UserEvent::Algo {
                algo: algo.clone(),
                time_ms: now_ms,
            });
        }
    }

    fn set_algo_status(&mut self, algo_id: u64, status: AlgoStatus, now_ms: u64) {
        if let Some(algo) = self.algos.get_mut(&algo_id) {
            algo.status = status;
            algo.update_ms = now_ms;
        }
        self.algo_event(algo_id, now_ms);
    }

    fn find_algo(&self, by: &AlgoRef) -> Option<u64> {
        match by {
            AlgoRef::Id(id) => self.algos.get(id).map(|a| a.algo_id),
            AlgoRef::Client(client) => self
                .algos
                .values()
                .rev()
                .find(|a| &a.client_algo_id == client)
                .map(|a| a.algo_id),
        }
    }

    /// Cancels an algo order still waiting for its trigger.
    pub fn cancel_algo(&mut self, by: &AlgoRef, now_ms: u64) -> Result<AlgoOrder, Reject> {
        let algo_id = self
            .find_algo(by)
            .filter(|id| self.algos.get(id).is_some_and(|a| a.status.is_open()))
            .ok_or_else(Reject::unknown_order)?;
        self.set_algo_status(algo_id, AlgoStatus::Canceled, now_ms);
        self.partial_algos.remove(&algo_id);
        self.algos
            .get(&algo_id)
            .cloned()
            .ok_or_else(Reject::unknown_order)
    }

    /// Cancels every waiting algo order on `symbol`.
    pub fn cancel_all_algos(&mut self, symbol: &str, now_ms: u64) -> Vec<AlgoOrder> {
        let ids: Vec<u64> = self
            .algos
            .values()
            .filter(|a| a.symbol == symbol && a.status.is_open())
            .map(|a| a.algo_id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.cancel_algo(&AlgoRef::Id(id), now_ms).ok())
            .collect()
    }

    /// One algo order in any state.
    pub fn query_algo(&self, by: &AlgoRef) -> Result<AlgoOrder, Reject> {
        self.find_algo(by)
            .and_then(|id| self.algos.get(&id).cloned())
            .ok_or_else(Reject::no_such_order)
    }

    /// Algo orders waiting for their trigger, on one symbol or all.
    pub fn open_algos(&self, symbol: Option<&str>) -> Vec<AlgoOrder> {
        self.algos
            .values()
            .filter(|a| a.status.is_open() && symbol.is_none_or(|s| s == a.symbol))
            .cloned()
            .collect()
    }

    /// Triggers the algo orders on `symbol` whose trigger price was reached.
    pub(super) fn check_algo_triggers(
        &mut self,
        symbol: &str,
        books: &dyn BookSource,
        now_ms: u64,
    ) {
        let due: Vec<u64> = self
            .algos
            .values()
            .filter(|a| a.symbol == symbol && a.status.is_open())
            .filter(|a| {
                let reference = self.algo_reference(symbol, a.working_type);
                reference.is_positive()
                    && a.order_type
                        .trigger()
                        .is_some_and(|t| t.reached(a.side, reference, a.trigger_price))
            })
            .map(|a| a.algo_id)
            .collect();
        for algo_id in due {
            self.trigger_algo(algo_id, books, now_ms);
        }
    }

    /// Places the order an algo order stands for; a refusal rejects the algo order.
    fn trigger_algo(&mut self, algo_id: u64, books: &dyn BookSource, now_ms: u64) {
        let Some(algo) = self.algos.get(&algo_id).cloned() else {
            return;
        };
        if let Some(a) = self.algos.get_mut(&algo_id) {
            a.trigger_ms = now_ms;
        }
        self.set_algo_status(algo_id, AlgoStatus::Triggering, now_ms);
        let qty = if algo.close_position {
            let position = self.futures_ledger.position_qty(&algo.symbol);
            let closes = match algo.side {
                Side::Buy => position.raw() < 0,
                Side::Sell => position.raw() > 0,
            };
            if closes {
                position.abs()
            } else {
                Qty::ZERO
            }
        } else {
            algo.qty
        };
        if !qty.is_positive() {
            self.reject_algo(algo_id, "Reduce Only reject", now_ms);
            return;
        }
        let limit = matches!(
            algo.order_type,
            OrderType::FuturesStop | OrderType::FuturesTakeProfit
        );
        let request = NewOrder {
            account: AccountKind::Futures,
            symbol: algo.symbol.clone(),
            side: algo.side,
            order_type: if limit {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            time_in_force: limit.then_some(algo.time_in_force),
            qty: Some(qty),
            quote_qty: None,
            price: limit.then_some(algo.price),
            stop_price: None,
            client_order_id: None,
            reduce_only: algo.reduce_only || algo.close_position,
            side_effect: SideEffectType::NoSideEffect,
            force_partial: self.partial_algos.remove(&algo_id),
            algo_id: Some(algo_id),
        };
        let predicted_id = self.next_order_id;
        if let Some(a) = self.algos.get_mut(&algo_id) {
            a.actual_order_id = Some(predicted_id);
        }
        self.set_algo_status(algo_id, AlgoStatus::Triggered, now_ms);
        if let Err(reject) = self.place(request, books, now_ms) {
            if let Some(a) = self.algos.get_mut(&algo_id) {
                a.actual_order_id = None;
            }
            self.reject_algo(algo_id, &reject.msg, now_ms);
        }
    }

    fn reject_algo(&mut self, algo_id: u64, reason: &str, now_ms: u64) {
        if let Some(a) = self.algos.get_mut(&algo_id) {
            a.reject_reason = reason.to_owned();
        }
        self.set_algo_status(algo_id, AlgoStatus::Rejected, now_ms);
    }

    /// The order an algo order placed can no longer trade: the algo order is finished.
    pub(super) fn on_algo_order_closed(&mut self, algo_id: u64, now_ms: u64) {
        if self
            .algos
            .get(&algo_id)
            .is_some_and(|a| a.status == AlgoStatus::Triggered)
        {
            self.set_algo_status(algo_id, AlgoStatus::Finished, now_ms);
        }
    }
}
