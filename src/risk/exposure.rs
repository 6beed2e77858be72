//! Owns: what the exposure rails count — every open order's remaining quantity per symbol
//! and side, each symbol's position, and each strategy's own position and open orders —
//! kept in step, one order update or fill at a time, by the order manager that owns the
//! orders. Never: prices anything (the rails value quantities at their marks) or allocates
//! after construction while the order table stays within its capacity. Quantities, not
//! notionals, are kept: the rails value them at the current mark when they check, so a
//! moving price moves the exposure too.

use std::collections::HashMap;

use crate::core::{ClientOrderId, Fill, OrderUpdate, Qty, Side, StrategyId, SymbolId};

/// Strategy ids the book keeps positions for (ids at or above it share the last slot).
pub const MAX_STRATEGIES: usize = 64;

/// One open order as exposure sees it.
#[derive(Debug, Clone, Copy)]
struct OpenOrder {
    symbol: SymbolId,
    strategy: StrategyId,
    side: Side,
    remaining: Qty,
    /// Protective bracket legs only ever shrink a position.
    protective: bool,
}

/// One symbol's open quantities and position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolExposure {
    /// Remaining quantity of open orders that would grow a long / a short (bracket legs
    /// excluded: they only close).
    pub open_buy: Qty,
    pub open_sell: Qty,
    /// Open orders of any kind.
    pub open_orders: u32,
    /// Signed base quantity held (the venue's figure after reconciliation, then fills).
    pub position: Qty,
}

/// One strategy's figures in one symbol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrategySymbol {
    /// Signed position its own fills built.
    pub position: Qty,
    /// Remaining quantity of its open orders that grow a long / a short.
    pub open_buy: Qty,
    pub open_sell: Qty,
}

/// Exposure inputs for every symbol and strategy.
#[derive(Debug, Clone)]
pub struct ExposureBook {
    orders: HashMap<ClientOrderId, OpenOrder>,
    symbols: Vec<SymbolExposure>,
    /// Each strategy's own position and open orders, per symbol: `[strategy][symbol]`.
    strategies: Vec<StrategySymbol>,
    open_total: u32,
}

fn strategy_slot(strategy: StrategyId) -> usize {
    usize::from(strategy.0).min(MAX_STRATEGIES - 1)
}

impl ExposureBook {
    /// A book for `symbols` symbols tracking up to `capacity` open orders without allocating.
    pub fn new(symbols: usize, capacity: usize) -> Self {
        Self {
            orders: HashMap::with_capacity(capacity.max(16)),
            symbols: vec![SymbolExposure::default(); symbols],
            strategies: vec![StrategySymbol::default(); MAX_STRATEGIES * symbols.max(1)],
            open_total: 0,
        }
    }

    /// Symbols tracked.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// One symbol's figures.
    #[inline]
    pub fn symbol(&self, symbol: SymbolId) -> SymbolExposure {
        self.symbols
            .get(symbol.index())
            .copied()
            .unwrap_or_default()
    }

    /// Every symbol's figures, by id.
    pub fn symbols(&self) -> &[SymbolExposure] {
        &self.symbols
    }

    /// Open orders of every symbol.
    #[inline]
    pub fn open_orders(&self) -> u32 {
        self.open_total
    }

    /// `strategy`'s own figures in `symbol`.
    #[inline]
    pub fn strategy(&self, strategy: StrategyId, symbol: SymbolId) -> StrategySymbol {
        let n = self.symbols.len();
        self.strategies
            .get(strategy_slot(strategy) * n + symbol.index())
            .copied()
            .unwrap_or_default()
    }

    /// An order's latest state (every update the manager emits passes here).
    pub fn on_update(&mut self, update: &OrderUpdate) {
        if update.client_order_id.0 == 0 {
            return; // a refused intent: never an order
        }
        if let Some(old) = self.orders.remove(&update.client_order_id) {
            self.count(&old, false);
        }
        if update.status.is_final() {
            return;
        }
        let order = OpenOrder {
            symbol: update.symbol,
            strategy: update.strategy,
            side: update.side,
            remaining: update.qty.saturating_sub(update.filled_qty).max(Qty::ZERO),
            protective: matches!(
                update.role,
                crate::core::OrderRole::StopLoss | crate::core::OrderRole::TakeProfit
            ) || update.reduce_only,
        };
        self.count(&order, true);
        self.orders.insert(update.client_order_id, order);
    }

    /// A new fill (de-duplicated by the manager): moves the symbol's and the strategy's
    /// position. The order's remaining quantity moves with its update.
    pub fn on_fill(&mut self, fill: &Fill) {
        let signed = match fill.side {
            Side::Buy => fill.qty,
            Side::Sell => fill.qty.neg(),
        };
        if let Some(s) = self.symbols.get_mut(fill.symbol.index()) {
            s.position = s.position.saturating_add(signed);
        }
        if let Some(p) = self.strategy_mut(fill.strategy, fill.symbol) {
            p.position = p.position.saturating_add(signed);
        }
    }

    /// The venue's position (reconciliation, account stream): replaces the symbol's figure.
    pub fn set_position(&mut self, symbol: SymbolId, qty: Qty) {
        if let Some(s) = self.symbols.get_mut(symbol.index()) {
            s.position = qty;
        }
    }

    fn strategy_mut(
        &mut self,
        strategy: StrategyId,
        symbol: SymbolId,
    ) -> Option<&mut StrategySymbol> {
        let n = self.symbols.len();
        if symbol.index() >= n {
            return None;
        }
        self.strategies
            .get_mut(strategy_slot(strategy) * n + symbol.index())
    }

    fn count(&mut self, order: &OpenOrder, add: bool) {
        let apply = |total: &mut Qty| {
            *total = if add {
                total.saturating_add(order.remaining)
            } else {
                total.saturating_sub(order.remaining)
            };
        };
        if !order.protective {
            if let Some(o) = self.strategy_mut(order.strategy, order.symbol) {
                match order.side {
                    Side::Buy => apply(&mut o.open_buy),
                    Side::Sell => apply(&mut o.open_sell),
                }
            }
        }
        let Some(s) = self.symbols.get_mut(order.symbol.index()) else {
            return;
        };
        if !order.protective {
            match order.side {
                Side::Buy => apply(&mut s.open_buy),
                Side::Sell => apply(&mut s.open_sell),
            }
        }
        if add {
            s.open_orders += 1;
            self.open_total += 1;
        } else {
            s.open_orders = s.open_orders.saturating_sub(1);
            self.open_total = self.open_total.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{OrderRole, OrderStatus, Price};

    fn qty(text: &str) -> Qty {
        Qty::parse(text).expect("literal")
    }

    fn update(id: u64, side: Side, status: OrderStatus, q: &str, filled: &str) -> OrderUpdate {
        OrderUpdate {
            client_order_id: ClientOrderId(id),
            strategy: StrategyId(1),
            symbol: SymbolId(0),
            side,
            status,
            qty: qty(q),
            filled_qty: qty(filled),
            price: Price::from_int(100),
            ..OrderUpdate::default()
        }
    }

    #[test]
    fn open_quantities_follow_each_order_to_its_end() {
        let mut book = ExposureBook::new(1, 16);
        book.on_update(&update(1, Side::Buy, OrderStatus::PendingNew, "2", "0"));
        book.on_update(&update(2, Side::Sell, OrderStatus::New, "1", "0"));
        let s = book.symbol(SymbolId(0));
        assert_eq!(
            (s.open_buy, s.open_sell, s.open_orders),
            (qty("2"), qty("1"), 2)
        );
        book.on_update(&update(
            1,
            Side::Buy,
            OrderStatus::PartiallyFilled,
            "2",
            "0.5",
        ));
        book.on_fill(&Fill {
            client_order_id: ClientOrderId(1),
            strategy: StrategyId(1),
            symbol: SymbolId(0),
            side: Side::Buy,
            qty: qty("0.5"),
            price: Price::from_int(100),
            ..Fill::default()
        });
        let s = book.symbol(SymbolId(0));
        assert_eq!((s.open_buy, s.position), (qty("1.5"), qty("0.5")));
        let own = book.strategy(StrategyId(1), SymbolId(0));
        assert_eq!((own.position, own.open_buy), (qty("0.5"), qty("1.5")));
        book.on_update(&update(1, Side::Buy, OrderStatus::Canceled, "2", "0.5"));
        book.on_update(&update(2, Side::Sell, OrderStatus::Filled, "1", "1"));
        let s = book.symbol(SymbolId(0));
        assert_eq!(
            (s.open_buy, s.open_sell, s.open_orders),
            (Qty::ZERO, Qty::ZERO, 0)
        );
        assert_eq!(book.open_orders(), 0);
        assert_eq!(
            book.strategy(StrategyId(1), SymbolId(0)).open_buy,
            Qty::ZERO
        );
    }

    #[test]
    fn bracket_legs_count_as_orders_but_not_as_growth() {
        let mut book = ExposureBook::new(1, 16);
        let mut stop = update(5, Side::Sell, OrderStatus::New, "1", "0");
        stop.role = OrderRole::StopLoss;
        book.on_update(&stop);
        let s = book.symbol(SymbolId(0));
        assert_eq!((s.open_sell, s.open_orders), (Qty::ZERO, 1));
        // A refused intent (id 0) is never an order.
        book.on_update(&update(0, Side::Buy, OrderStatus::Rejected, "1", "0"));
        assert_eq!(book.open_orders(), 1);
        book.set_position(SymbolId(0), qty("-3"));
        assert_eq!(book.symbol(SymbolId(0)).position, qty("-3"));
    }
}
