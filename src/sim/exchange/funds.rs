//! Owns: the money side of order entry: what a spot or margin order locks (or borrows) and
//! a futures order's margin check, locks drawn by fills and released when orders close,
//! and the funds a taker walk may spend. Never: matches or emits order events.

use crate::core::{Notional, Price, Qty, Ratio, Side};

use super::super::account::div_raw;
use super::super::matching::{ReplayedBook, SymbolMatcher, TakeLimits};
use super::super::orders::{AccountKind, OrderType, Reject, SideEffectType, SimOrder};
use super::{CommissionAsset, Exchange, Lock, LockKey, NewOrder, SymbolRules};

/// Most debt a cross-margin account may carry: total assets at least 1.25 × liabilities
/// (Binance's 3x cross margin has its margin-call level close to that).
const MARGIN_LEVEL_FLOOR_NUM: i128 = 5;
const MARGIN_LEVEL_FLOOR_DEN: i128 = 4;

/// `amount × (1 + rate)`.
fn with_fee(amount: Notional, rate: Ratio) -> Notional {
    let fee = crate::core::decimal::mul_raw(amount.raw(), rate.raw()).unwrap_or(0);
    amount.saturating_add(Notional::from_raw(fee))
}

impl Exchange {
    /// The fee rate a buyer must keep in quote on top of the price (zero when fees are
    /// paid in BNB or come out of the proceeds).
    fn quote_fee_reserve(&self, account: AccountKind) -> Ratio {
        match self.commission_asset {
            CommissionAsset::Quote => {
                let fees = self.fees(account);
                fees.maker.max(fees.taker)
            }
            CommissionAsset::Bnb => Ratio::ZERO,
        }
    }

    /// What a spot or margin order needs: the asset, the amount, and whether it is locked
    /// (resting and conditional orders) or only checked (market orders spend at once).
    fn spot_need(
        &self,
        req: &NewOrder,
        rules: &SymbolRules,
        book: Option<&dyn ReplayedBook>,
    ) -> (String, Qty, bool) {
        let inst = &rules.instrument;
        let qty = req.qty.unwrap_or(Qty::ZERO);
        let lock = req.order_type != OrderType::Market;
        match req.side {
            Side::Sell => (inst.base_asset.clone(), qty, lock && req.qty.is_some()),
            Side::Buy => {
                let rate = self.quote_fee_reserve(req.account);
                let value = match (req.order_type, req.quote_qty) {
                    (OrderType::Market, Some(quote)) => quote,
                    (OrderType::Market, None) => self.market_cost(req, book, qty),
                    (OrderType::StopLoss | OrderType::TakeProfit, _) => req
                        .stop_price
                        .unwrap_or(Price::ZERO)
                        .notional(qty)
                        .unwrap_or(Notional::MAX),
                    _ => req
                        .price
                        .unwrap_or(Price::ZERO)
                        .notional(qty)
                        .unwrap_or(Notional::MAX),
                };
                let amount = Qty::from_raw(with_fee(value, rate).raw());
                (inst.quote_asset.clone(), amount, lock)
            }
        }
    }

    /// Estimated quote cost of buying `qty` at market now (the book walk, or the last
    /// price for what the book cannot show).
    fn market_cost(&self, req: &NewOrder, book: Option<&dyn ReplayedBook>, qty: Qty) -> Notional {
        let fresh = SymbolMatcher::default();
        let matcher = self.matchers.get(&req.symbol).unwrap_or(&fresh);
        let limits = TakeLimits {
            limit: None,
            max_qty: qty,
            max_quote: None,
            step: Qty::ZERO,
        };
        let plan = book
            .map(|b| matcher.plan(b, Side::Buy, limits))
            .unwrap_or_default();
        let mut cost = Notional::ZERO;
        let mut left = qty;
        for (price, taken) in plan {
            cost = cost.saturating_add(price.notional(taken).unwrap_or(Notional::MAX));
            left = left.saturating_sub(taken);
        }
        let last = self.last_price(&req.symbol);
        cost.saturating_add(last.notional(left).unwrap_or(Notional::MAX))
    }

    /// Locks (or checks) the funds an order needs, borrowing on margin when it may;
    /// returns what was borrowed for it.
    pub(super) fn reserve(
        &mut self,
        req: &NewOrder,
        rules: &SymbolRules,
        book: Option<&dyn ReplayedBook>,
        order_id: u64,
    ) -> Result<Option<(Qty, String)>, Reject> {
        if req.account == AccountKind::Futures {
            if !req.reduce_only {
                self.check_futures_margin(req, book)?;
            }
            return Ok(None);
        }
        if req.account == AccountKind::Margin
            && req.side_effect == SideEffectType::AutoBorrowRepay
            && !self.auto_borrow_repay
        {
            return Err(super::retired_auto_borrow_repay());
        }
        let (asset, amount, lock) = self.spot_need(req, rules, book);
        let free = self.ledger_ref(req.account).free(&asset);
        let mut borrowed = None;
        if free < amount {
            let may_borrow = req.account == AccountKind::Margin && req.side_effect.borrows();
            let shortfall = amount.saturating_sub(free);
            if !may_borrow || !self.can_borrow(&asset, shortfall, &rules.instrument.quote_asset) {
                return Err(Reject::insufficient_balance());
            }
            self.margin.borrow(&asset, shortfall);
            borrowed = Some((shortfall, asset.clone()));
        }
        if lock {
            self.ledger(req.account)
                .lock(&asset, amount)
                .map_err(|_| Reject::insufficient_balance())?;
            self.locks.insert(
                LockKey::Order(order_id),
                Lock {
                    account: req.account,
                    asset: asset.clone(),
                    remaining: amount,
                },
            );
            self.order_locks.insert(order_id, LockKey::Order(order_id));
        }
        if lock || borrowed.is_some() {
            self.touch(req.account, &asset);
        }
        Ok(borrowed)
    }

    /// Locks what an OCO needs for both legs under the list's key.
    pub(super) fn reserve_list(
        &mut self,
        key: LockKey,
        account: AccountKind,
        asset: &str,
        amount: Qty,
    ) -> Result<(), Reject> {
        self.ledger(account)
            .lock(asset, amount)
            .map_err(|_| Reject::insufficient_balance())?;
        self.locks.insert(
            key,
            Lock {
                account,
                asset: asset.to_owned(),
                remaining: amount,
            },
        );
        self.touch(account, asset);
        Ok(())
    }

    /// The amount of locked quote a buy of `value` needs, fee reserve included.
    pub(super) fn buy_lock(&self, account: AccountKind, value: Notional) -> Qty {
        Qty::from_raw(with_fee(value, self.quote_fee_reserve(account)).raw())
    }

    /// Value of `asset` in `quote` units (1 for the quote itself, the mark of
    /// `asset`+`quote` otherwise, zero when no symbol prices it).
    fn value_in(&self, asset: &str, amount: Qty, quote: &str) -> i128 {
        if asset == quote {
            return amount.raw();
        }
        let price = self
            .rules
            .values()
            .find(|r| r.instrument.base_asset == asset && r.instrument.quote_asset == quote)
            .map_or(Price::ZERO, |r| self.mark_price(&r.instrument.symbol));
        price.notional(amount).map_or(0, |n| n.raw())
    }

    /// Whether the margin account may borrow `amount` of `asset` and keep its margin level.
    fn can_borrow(&self, asset: &str, amount: Qty, quote: &str) -> bool {
        let (mut assets, mut debts) = (0i128, 0i128);
        for view in self.margin.views() {
            let held = view.free.saturating_add(view.locked);
            assets = assets.saturating_add(self.value_in(&view.asset, held, quote));
            debts = debts.saturating_add(self.value_in(&view.asset, view.borrowed, quote));
        }
        let extra = self.value_in(asset, amount, quote);
        // (assets + extra) / (debts + extra) ≥ 5/4  ⇔  4·assets − 5·debts ≥ extra.
        let capacity = assets
            .saturating_mul(MARGIN_LEVEL_FLOOR_DEN)
            .saturating_sub(debts.saturating_mul(MARGIN_LEVEL_FLOOR_NUM));
        extra > 0 && extra <= capacity
    }

    /// Refuses a futures order whose initial margin the account cannot cover.
    fn check_futures_margin(
        &self,
        req: &NewOrder,
        book: Option<&dyn ReplayedBook>,
    ) -> Result<(), Reject> {
        let qty = req.qty.unwrap_or(Qty::ZERO);
        let price = match req.price {
            Some(price) if req.order_type.has_limit_price() => price,
            _ => {
                let cost = self.market_cost(req, book, qty);
                return self.require_margin(req, cost);
            }
        };
        self.require_margin(req, price.notional(qty).unwrap_or(Notional::MAX))
    }

    fn require_margin(&self, req: &NewOrder, notional: Notional) -> Result<(), Reject> {
        let Some(asset) = self
            .rules
            .get(&req.symbol)
            .map(|r| r.instrument.quote_asset.clone())
        else {
            return Err(Reject::bad_symbol());
        };
        let (_, taker) = self.fee_rates(AccountKind::Futures);
        let fee = crate::core::decimal::mul_raw(notional.raw(), taker.raw()).unwrap_or(i128::MAX);
        let required = self
            .futures_ledger
            .initial_margin(notional)
            .saturating_add(Notional::from_raw(fee));
        let unrealized = self.positions().iter().fold(Notional::ZERO, |sum, p| {
            sum.saturating_add(p.unrealized_pnl)
        });
        let available = self
            .futures_ledger
            .wallet(&asset)
            .saturating_add(unrealized)
            .saturating_sub(self.position_margin())
            .saturating_sub(self.open_order_margin());
        if required > available {
            return Err(Reject::new(-2019, "Margin is insufficient."));
        }
        Ok(())
    }

    /// What a spot or margin taker walk may spend: (most base to sell, most quote to pay).
    pub(super) fn spot_budget(&self, order: &SimOrder) -> (Qty, Option<Notional>) {
        let Some(rules) = self.rules.get(&order.symbol) else {
            return (Qty::ZERO, Some(Notional::ZERO));
        };
        let inst = &rules.instrument;
        let ledger = self.ledger_ref(order.account);
        match order.side {
            Side::Sell => {
                let held = self.locked_for(order.order_id, &inst.base_asset);
                (held.saturating_add(ledger.free(&inst.base_asset)), None)
            }
            Side::Buy => {
                let held = self.locked_for(order.order_id, &inst.quote_asset);
                let funds = held.saturating_add(ledger.free(&inst.quote_asset));
                let rate = self.quote_fee_reserve(order.account);
                let one_plus = crate::core::decimal::SCALE.saturating_add(rate.raw());
                let budget = div_raw(funds.raw(), one_plus);
                (Qty::MAX, Some(Notional::from_raw(budget)))
            }
        }
    }

    /// What is still locked for an order (through its own or its list's lock) in `asset`.
    fn locked_for(&self, order_id: u64, asset: &str) -> Qty {
        self.order_locks
            .get(&order_id)
            .and_then(|key| self.locks.get(key))
            .filter(|lock| lock.asset == asset)
            .map_or(Qty::ZERO, |lock| lock.remaining)
    }

    /// Takes up to `amount` of `asset` from an order's lock; returns how much came from it.
    pub(super) fn draw_lock(&mut self, order_id: u64, asset: &str, amount: Qty) -> Qty {
        let Some(key) = self.order_locks.get(&order_id).copied() else {
            return Qty::ZERO;
        };
        match self.locks.get_mut(&key) {
            Some(lock) if lock.asset == asset => {
                let taken = amount.min(lock.remaining);
                lock.remaining = lock.remaining.saturating_sub(taken);
                taken
            }
            _ => Qty::ZERO,
        }
    }

    /// Unlocks what is left of a lock once no open order uses it.
    pub(super) fn release_if_idle(&mut self, key: LockKey) {
        let in_use = self
            .order_locks
            .iter()
            .any(|(id, k)| *k == key && self.orders.get(id).is_some_and(|o| o.status.is_open()));
        if in_use {
            return;
        }
        self.order_locks.retain(|_, k| *k != key);
        if let Some(lock) = self.locks.remove(&key) {
            if lock.remaining.is_positive() {
                self.ledger(lock.account)
                    .unlock(&lock.asset, lock.remaining);
            }
            self.touch(lock.account, &lock.asset);
        }
    }
}
