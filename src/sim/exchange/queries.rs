//! Owns: reading the venue: orders by id or client id, open orders, trades, balances,
//! positions, margins held, and the snapshot the control handle shows. Never: changes it.

use crate::core::Notional;

use super::super::orders::{AccountKind, BalanceView, PositionView, Reject, SimOrder, SimTrade};
use super::{AccountSnapshot, Exchange, OrderRef};

impl Exchange {
    pub(super) fn find(&self, account: AccountKind, symbol: &str, by: &OrderRef) -> Option<u64> {
        match by {
            OrderRef::Id(id) => self
                .orders
                .get(id)
                .filter(|o| o.account == account && o.symbol == symbol)
                .map(|o| o.order_id),
            // The newest order with that client id (ids may be reused once closed).
            OrderRef::Client(client) => self
                .orders
                .values()
                .rev()
                .find(|o| {
                    o.account == account && o.symbol == symbol && &o.client_order_id == client
                })
                .map(|o| o.order_id),
        }
    }

    /// An order by id, in any state and account.
    pub fn order(&self, order_id: u64) -> Option<SimOrder> {
        self.orders.get(&order_id).cloned()
    }

    /// One order in any state.
    pub fn query(
        &self,
        account: AccountKind,
        symbol: &str,
        by: &OrderRef,
    ) -> Result<SimOrder, Reject> {
        self.find(account, symbol, by)
            .and_then(|id| self.orders.get(&id).cloned())
            .ok_or_else(Reject::no_such_order)
    }

    /// Open orders of `account`, on one symbol or all, oldest first.
    pub fn open_orders(&self, account: AccountKind, symbol: Option<&str>) -> Vec<SimOrder> {
        self.orders
            .values()
            .filter(|o| {
                o.account == account && o.status.is_open() && symbol.is_none_or(|s| s == o.symbol)
            })
            .cloned()
            .collect()
    }

    /// Fills of `account` on `symbol`: of one order, or from a trade id, at most `limit`
    /// (the newest `limit` when no start is given), oldest first.
    pub fn trades(
        &self,
        account: AccountKind,
        symbol: &str,
        order_id: Option<u64>,
        from_id: Option<u64>,
        limit: usize,
    ) -> Vec<SimTrade> {
        let matching: Vec<&SimTrade> = self
            .trades
            .iter()
            .filter(|t| {
                t.account == account
                    && t.symbol == symbol
                    && order_id.is_none_or(|id| t.order_id == id)
                    && from_id.is_none_or(|from| t.trade_id >= from)
            })
            .collect();
        let skip = if from_id.is_some() {
            0
        } else {
            matching.len().saturating_sub(limit)
        };
        matching
            .into_iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Orders of `account` on `symbol` in any state, oldest first, as `allOrders` lists
    /// them: from order id `from_order_id` on, or the newest `limit` when no start is given.
    pub fn all_orders(
        &self,
        account: AccountKind,
        symbol: &str,
        from_order_id: Option<u64>,
        limit: usize,
    ) -> Vec<SimOrder> {
        let matching = self
            .orders
            .range(from_order_id.unwrap_or(0)..)
            .map(|(_, o)| o)
            .filter(|o| o.account == account && o.symbol == symbol);
        if from_order_id.is_some() {
            return matching.take(limit).cloned().collect();
        }
        let all: Vec<&SimOrder> = matching.collect();
        let skip = all.len().saturating_sub(limit);
        all.into_iter().skip(skip).cloned().collect()
    }

    /// Balances of a spot or margin account.
    pub fn balances(&self, account: AccountKind) -> Vec<BalanceView> {
        self.ledger_ref(account).views()
    }

    /// The futures wallet per margin asset.
    pub fn futures_wallets(&self) -> Vec<(String, Notional)> {
        self.futures_ledger.wallets()
    }

    /// Futures positions valued at the current marks.
    pub fn positions(&self) -> Vec<PositionView> {
        self.futures_ledger.views(&|symbol| self.mark_price(symbol))
    }

    /// The leverage futures positions use.
    pub fn leverage(&self) -> u32 {
        self.futures_ledger.leverage()
    }

    /// Initial margin held by open futures orders that add exposure.
    pub fn open_order_margin(&self) -> Notional {
        let total = self
            .orders
            .values()
            .filter(|o| o.account == AccountKind::Futures && o.status.is_open() && !o.reduce_only)
            .fold(Notional::ZERO, |sum, o| {
                let price = if o.price.is_positive() {
                    o.price
                } else {
                    self.mark_price(&o.symbol)
                };
                sum.saturating_add(price.notional(o.remaining()).unwrap_or(Notional::ZERO))
            });
        self.futures_ledger.initial_margin(total)
    }

    /// Initial margin held by open positions at the marks.
    pub fn position_margin(&self) -> Notional {
        let total = self.positions().iter().fold(Notional::ZERO, |sum, p| {
            sum.saturating_add(p.mark_price.notional(p.qty.abs()).unwrap_or(Notional::ZERO))
        });
        self.futures_ledger.initial_margin(total)
    }

    /// Everything the control handle shows.
    pub fn snapshot(&self) -> AccountSnapshot {
        AccountSnapshot {
            spot_balances: self.spot.views(),
            margin_balances: self.margin.views(),
            futures_wallet: self.futures_ledger.wallets(),
            positions: self.positions(),
            open_orders: self
                .orders
                .values()
                .filter(|o| o.status.is_open())
                .cloned()
                .collect(),
            open_algo_orders: self
                .algos
                .values()
                .filter(|a| a.status.is_open())
                .cloned()
                .collect(),
            trades: self.trades.clone(),
            realized_pnl: self.futures_ledger.realized_total(),
        }
    }
}
