//! Owns: one symbol's matching against the replayed market: walking the replayed book for
//! taker orders (with the liquidity our own fills already took from each level), our
//! resting limit orders in price-time priority, and which of them the replayed book or a
//! replayed trade crosses. Never: reads the clock, books funds, or changes the replayed
//! book (the capture stays the exchange's truth; what we took is remembered beside it).
//!
//! Our own orders never trade with each other: takers walk only the replayed book.

use std::collections::HashMap;

use crate::core::{Notional, Price, Qty, Side};

/// The replayed market as the matching engine reads it. `Side::Buy` names the bids,
/// `Side::Sell` the asks.
pub(crate) trait ReplayedBook {
    /// Visits the levels of `side` best first until `visit` returns false.
    fn visit_levels(&self, side: Side, visit: &mut dyn FnMut(Price, Qty) -> bool);
    /// The quantity resting at `price` on `side`, if there is a level.
    fn level_qty(&self, side: Side, price: Price) -> Option<Qty>;
}

/// Liquidity our fills took from one replayed level, valid while the level is unchanged.
#[derive(Clone, Copy, Debug)]
struct Taken {
    /// The level's quantity when we took from it; a new quantity means the replay moved on.
    level_qty: Qty,
    taken: Qty,
}

/// One of our orders resting on the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Resting {
    order_id: u64,
    side: Side,
    price: Price,
    /// Arrival sequence, for time priority.
    seq: u64,
}

/// How much a taker walk may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TakeLimits {
    /// Worst price accepted (`None`: any, a market order).
    pub limit: Option<Price>,
    /// Most base quantity.
    pub max_qty: Qty,
    /// Most quote value (price × qty), e.g. a `quoteOrderQty` or a buyer's funds.
    pub max_quote: Option<Notional>,
    /// Lot step every fill quantity is floored to (zero: none).
    pub step: Qty,
}

/// One symbol's matching state.
#[derive(Debug, Default)]
pub(crate) struct SymbolMatcher {
    resting: Vec<Resting>,
    taken: HashMap<(Side, i128), Taken>,
    next_seq: u64,
}

/// Whether a taker on `taker_side` accepts a level at `level_price` under `limit`.
fn within(taker_side: Side, level_price: Price, limit: Option<Price>) -> bool {
    match (limit, taker_side) {
        (None, _) => true,
        (Some(limit), Side::Buy) => level_price <= limit,
        (Some(limit), Side::Sell) => level_price >= limit,
    }
}

impl SymbolMatcher {
    /// What is left to take at a level after our earlier fills.
    fn available(&self, book_side: Side, price: Price, level_qty: Qty) -> Qty {
        match self.taken.get(&(book_side, price.raw())) {
            Some(t) if t.level_qty == level_qty => level_qty.saturating_sub(t.taken),
            _ => level_qty,
        }
    }

    /// The fills (price, qty) a taker on `taker_side` would get now, best price first.
    pub fn plan(
        &self,
        book: &dyn ReplayedBook,
        taker_side: Side,
        limits: TakeLimits,
    ) -> Vec<(Price, Qty)> {
        let book_side = taker_side.opposite();
        let mut fills = Vec::new();
        let mut left = limits.max_qty;
        let mut quote_left = limits.max_quote;
        book.visit_levels(book_side, &mut |price, level_qty| {
            if !left.is_positive() || !within(taker_side, price, limits.limit) {
                return false;
            }
            let mut qty = self.available(book_side, price, level_qty).min(left);
            if let Some(quote) = quote_left {
                let affordable = affordable_qty(quote, price).floor_to(limits.step);
                if !affordable.is_positive() {
                    // Not one more step can be paid for: the walk is over.
                    return false;
                }
                qty = qty.min(affordable);
            }
            qty = qty.floor_to(limits.step);
            if qty.is_positive() {
                fills.push((price, qty));
                left = left.saturating_sub(qty);
                if let Some(quote) = quote_left.as_mut() {
                    let cost = price.notional(qty).unwrap_or(Notional::MAX);
                    *quote = quote.saturating_sub(cost);
                }
            }
            true
        });
        fills
    }

    /// Remembers that `fills` (from [`plan`](Self::plan)) were taken from the book.
    pub fn commit(&mut self, book: &dyn ReplayedBook, taker_side: Side, fills: &[(Price, Qty)]) {
        let book_side = taker_side.opposite();
        for &(price, qty) in fills {
            let Some(level_qty) = book.level_qty(book_side, price) else {
                continue;
            };
            let entry = self.taken.entry((book_side, price.raw())).or_insert(Taken {
                level_qty,
                taken: Qty::ZERO,
            });
            if entry.level_qty != level_qty {
                *entry = Taken {
                    level_qty,
                    taken: Qty::ZERO,
                };
            }
            entry.taken = entry.taken.saturating_add(qty);
        }
    }

    /// Forgets taken liquidity of levels the replay has since changed or removed.
    pub fn prune(&mut self, book: &dyn ReplayedBook) {
        self.taken.retain(|&(side, raw), t| {
            book.level_qty(side, Price::from_raw(raw)) == Some(t.level_qty)
        });
    }

    /// Whether an order at `price` on `side` would take liquidity now (post-only check).
    pub fn would_take(&self, book: &dyn ReplayedBook, side: Side, price: Price) -> bool {
        let limits = TakeLimits {
            limit: Some(price),
            max_qty: Qty::MAX,
            max_quote: None,
            step: Qty::ZERO,
        };
        !self.plan(book, side, limits).is_empty()
    }

    /// The best price on `side` of the book (`Side::Buy`: best bid), ignoring our fills.
    pub fn best(book: &dyn ReplayedBook, side: Side) -> Option<Price> {
        let mut best = None;
        book.visit_levels(side, &mut |price, _| {
            best = Some(price);
            false
        });
        best
    }

    /// Mid of the replayed book's best bid and ask.
    pub fn mid(book: &dyn ReplayedBook) -> Option<Price> {
        let bid = Self::best(book, Side::Buy)?;
        let ask = Self::best(book, Side::Sell)?;
        Some(bid.midpoint(ask))
    }

    /// Puts an order on the book behind every order already at its price.
    pub fn rest(&mut self, order_id: u64, side: Side, price: Price) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.resting.push(Resting {
            order_id,
            side,
            price,
            seq,
        });
    }

    /// Takes an order off the book (filled or canceled); false if it was not resting.
    pub fn remove(&mut self, order_id: u64) -> bool {
        let before = self.resting.len();
        self.resting.retain(|r| r.order_id != order_id);
        self.resting.len() != before
    }

    /// Whether any order of ours rests on the symbol.
    pub fn has_resting(&self) -> bool {
        !self.resting.is_empty()
    }

    /// Our resting orders in priority order: bids best first, then asks best first, each
    /// price level in arrival order.
    fn by_priority(&self) -> Vec<Resting> {
        let mut orders = self.resting.clone();
        orders.sort_by(|a, b| {
            let side = (a.side as u8).cmp(&(b.side as u8));
            let price = match a.side {
                Side::Buy => b.price.cmp(&a.price),
                Side::Sell => a.price.cmp(&b.price),
            };
            side.then(price).then(a.seq.cmp(&b.seq))
        });
        orders
    }

    /// Resting orders the replayed book now crosses (a bid at or above the best ask, an
    /// ask at or below the best bid), in priority order: (order id, side, limit price).
    pub fn crossed(&self, book: &dyn ReplayedBook) -> Vec<(u64, Side, Price)> {
        let best_bid = Self::best(book, Side::Buy);
        let best_ask = Self::best(book, Side::Sell);
        self.by_priority()
            .into_iter()
            .filter(|r| match r.side {
                Side::Buy => best_ask.is_some_and(|ask| r.price >= ask),
                Side::Sell => best_bid.is_some_and(|bid| r.price <= bid),
            })
            .map(|r| (r.order_id, r.side, r.price))
            .collect()
    }

    /// Resting orders a replayed trade at `print` traded through (strictly better than
    /// our price, so the queue ahead of us at our price is irrelevant), in priority order.
    pub fn traded_through(&self, print: Price) -> Vec<(u64, Side, Price)> {
        self.by_priority()
            .into_iter()
            .filter(|r| match r.side {
                Side::Buy => print < r.price,
                Side::Sell => print > r.price,
            })
            .map(|r| (r.order_id, r.side, r.price))
            .collect()
    }
}

/// Most quantity whose value at `price` stays within `quote` (exact, truncated).
pub(crate) fn affordable_qty(quote: Notional, price: Price) -> Qty {
    if !price.is_positive() || !quote.is_positive() {
        return Qty::ZERO;
    }
    Qty::from_raw(super::account::div_raw(quote.raw(), price.raw()))
}

/// Half of `remaining` floored to `step`, at least one step (the forced-partial fault).
pub(crate) fn partial_cap(remaining: Qty, step: Qty) -> Qty {
    let half = Qty::from_raw(remaining.raw() / 2).floor_to(step);
    if half.is_positive() {
        half
    } else {
        remaining
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A book given as (price, qty) text pairs, best first.
    pub(crate) struct TestBook {
        pub bids: Vec<(Price, Qty)>,
        pub asks: Vec<(Price, Qty)>,
    }

    pub(crate) fn p(text: &str) -> Price {
        Price::parse(text).expect("test literal")
    }
    pub(crate) fn q(text: &str) -> Qty {
        Qty::parse(text).expect("test literal")
    }

    impl TestBook {
        pub(crate) fn new(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Self {
            let side = |levels: &[(&str, &str)]| levels.iter().map(|(a, b)| (p(a), q(b))).collect();
            Self {
                bids: side(bids),
                asks: side(asks),
            }
        }
    }

    impl ReplayedBook for TestBook {
        fn visit_levels(&self, side: Side, visit: &mut dyn FnMut(Price, Qty) -> bool) {
            let levels = if side == Side::Buy {
                &self.bids
            } else {
                &self.asks
            };
            for &(price, qty) in levels {
                if !visit(price, qty) {
                    return;
                }
            }
        }
        fn level_qty(&self, side: Side, price: Price) -> Option<Qty> {
            let levels = if side == Side::Buy {
                &self.bids
            } else {
                &self.asks
            };
            levels.iter().find(|l| l.0 == price).map(|l| l.1)
        }
    }

    fn limits(limit: Option<&str>, qty: &str) -> TakeLimits {
        TakeLimits {
            limit: limit.map(p),
            max_qty: q(qty),
            max_quote: None,
            step: q("0.001"),
        }
    }

    #[test]
    fn a_taker_walks_levels_and_our_fills_use_up_liquidity_until_the_level_changes() {
        let mut book = TestBook::new(&[("99", "1")], &[("100", "1"), ("101", "2"), ("103", "5")]);
        let mut matcher = SymbolMatcher::default();
        let fills = matcher.plan(&book, Side::Buy, limits(Some("101"), "2.5"));
        assert_eq!(fills, vec![(p("100"), q("1")), (p("101"), q("1.5"))]);
        matcher.commit(&book, Side::Buy, &fills);
        let again = matcher.plan(&book, Side::Buy, limits(None, "3"));
        assert_eq!(again, vec![(p("101"), q("0.5")), (p("103"), q("2.5"))]);
        book.asks[0].1 = q("4");
        matcher.prune(&book);
        let refreshed = matcher.plan(&book, Side::Buy, limits(Some("100"), "9"));
        assert_eq!(refreshed, vec![(p("100"), q("4"))]);
    }

    #[test]
    fn quote_limited_walk_floors_to_the_step_and_stops_when_money_runs_out() {
        let book = TestBook::new(&[], &[("100", "1"), ("200", "1")]);
        let matcher = SymbolMatcher::default();
        let mut lim = limits(None, "10");
        lim.max_quote = Some(Notional::parse("150.05").expect("valid"));
        assert_eq!(
            matcher.plan(&book, Side::Buy, lim),
            vec![(p("100"), q("1")), (p("200"), q("0.25"))]
        );
        assert_eq!(
            affordable_qty(Notional::parse("1").expect("valid"), p("3")),
            Qty::from_raw(333_333_333_333_333_333)
        );
    }

    #[test]
    fn resting_orders_cross_by_priority_and_trades_fill_only_through_our_price() {
        let book = TestBook::new(&[("99", "1")], &[("100", "1")]);
        let mut matcher = SymbolMatcher::default();
        matcher.rest(1, Side::Buy, p("99.5"));
        matcher.rest(2, Side::Buy, p("100"));
        matcher.rest(3, Side::Buy, p("100"));
        matcher.rest(4, Side::Sell, p("98"));
        assert_eq!(
            matcher
                .crossed(&book)
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(
            matcher
                .traded_through(p("99.4"))
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            vec![2, 3, 1, 4]
        );
        assert!(matcher.would_take(&book, Side::Buy, p("100")));
        assert!(!matcher.would_take(&book, Side::Buy, p("99.99")));
        assert!(matcher.remove(2) && !matcher.remove(2));
        assert_eq!(SymbolMatcher::mid(&book), Some(p("99.5")));
        assert_eq!(partial_cap(q("0.003"), q("0.001")), q("0.001"));
        assert_eq!(partial_cap(q("0.001"), q("0.001")), q("0.001"));
    }
}
