//! Owns: the liquidity the paper venue fills against for one symbol: the latest five-level
//! book top with a newer best bid/offer laid over it, minus what our own fills took from it
//! until the venue's next update. Never: allocates, or shows liquidity nobody published.
//!
//! Binance's `bookTicker` and depth streams count the same order-book update ids, so a ticker
//! whose id is above the book's `last_update_id` is newer: its best level replaces the book's
//! levels at or better than it (they are gone), the book's worse levels stay. What our fills
//! take is charged to the message that published it (a book level or the ticker) and comes
//! back only when that source publishes again, so two orders cannot take the same resting
//! quantity, and a new ticker does not restore deeper book levels we already took.

use crate::core::{BookTicker, BookTop, Level, Notional, Price, Qty, Side, BOOK_TOP_LEVELS};

/// Levels per side: the book top plus a best level from a newer ticker.
pub const DEPTH_LEVELS: usize = BOOK_TOP_LEVELS + 1;

/// Which message published a visible level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Source {
    #[default]
    Ticker,
    /// Index into the book top's levels of that side.
    Book(usize),
}

/// One side's visible levels, best first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Levels {
    levels: [Level; DEPTH_LEVELS],
    sources: [Source; DEPTH_LEVELS],
    count: usize,
}

impl Levels {
    /// The levels, best first.
    pub fn as_slice(&self) -> &[Level] {
        &self.levels[..self.count]
    }

    /// Empties the view (the arrays are overwritten as levels are pushed).
    fn clear(&mut self) {
        self.count = 0;
    }

    fn push(&mut self, level: Level, source: Source) {
        if self.count < DEPTH_LEVELS && level.qty.is_positive() && level.price.is_positive() {
            self.levels[self.count] = level;
            self.sources[self.count] = source;
            self.count += 1;
        }
    }
}

/// What our fills took from one side's sources since each last published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Taken {
    book: [Qty; BOOK_TOP_LEVELS],
    ticker: Qty,
}

impl Taken {
    fn of(&mut self, source: Source) -> &mut Qty {
        match source {
            Source::Ticker => &mut self.ticker,
            Source::Book(index) => &mut self.book[index],
        }
    }
}

/// What a taker order would get from the visible levels: the pieces, best first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    pieces: [Level; DEPTH_LEVELS],
    count: usize,
    /// Total quantity of the pieces.
    pub qty: Qty,
    /// Σ price × quantity of the pieces (each truncated as the fills will be).
    pub notional: Notional,
}

impl Walk {
    /// The fills the walk makes, best price first.
    pub fn pieces(&self) -> &[Level] {
        &self.pieces[..self.count]
    }

    /// Price of the last (worst) piece.
    pub fn last_price(&self) -> Option<Price> {
        self.pieces().last().map(|l| l.price)
    }
}

/// True when a resting level at `level_price` trades with an order on `side` limited at `limit`.
pub fn marketable(side: Side, level_price: Price, limit: Price) -> bool {
    match side {
        Side::Buy => level_price <= limit,
        Side::Sell => level_price >= limit,
    }
}

/// The visible book for one symbol as the paper venue sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Liquidity {
    top: Option<BookTop>,
    ticker: Option<BookTicker>,
    bids_taken: Taken,
    asks_taken: Taken,
    bids: Levels,
    asks: Levels,
}

impl Liquidity {
    /// A new book top replaces the book levels (and what our fills took from the old ones).
    pub fn on_book(&mut self, top: &BookTop) {
        self.top = Some(*top);
        self.bids_taken.book = [Qty::ZERO; BOOK_TOP_LEVELS];
        self.asks_taken.book = [Qty::ZERO; BOOK_TOP_LEVELS];
        self.rebuild();
    }

    /// A new best bid/offer is laid over the book top when it is newer.
    pub fn on_ticker(&mut self, ticker: &BookTicker) {
        self.ticker = Some(*ticker);
        self.bids_taken.ticker = Qty::ZERO;
        self.asks_taken.ticker = Qty::ZERO;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.rebuild_side(Side::Sell);
        self.rebuild_side(Side::Buy);
    }

    /// Rebuilds the levels a `taker` takes from (the asks for a buy), from the book top, the
    /// newer ticker and what our fills took.
    fn rebuild_side(&mut self, taker: Side) {
        // By reference: a book top is a few hundred bytes and this runs on every event.
        let top = self.top.as_ref().filter(|t| t.valid);
        let ticker = self
            .ticker
            .as_ref()
            .filter(|t| top.is_none_or(|top| t.update_id > top.last_update_id));
        match taker {
            Side::Sell => {
                let book = top.map_or(&[][..], |t| {
                    &t.bids[..usize::from(t.bid_count).min(BOOK_TOP_LEVELS)]
                });
                let best = ticker.map(|t| Level {
                    price: t.bid_price,
                    qty: t.bid_qty,
                });
                merge(book, best, &self.bids_taken, Side::Sell, &mut self.bids);
            }
            Side::Buy => {
                let book = top.map_or(&[][..], |t| {
                    &t.asks[..usize::from(t.ask_count).min(BOOK_TOP_LEVELS)]
                });
                let best = ticker.map(|t| Level {
                    price: t.ask_price,
                    qty: t.ask_qty,
                });
                merge(book, best, &self.asks_taken, Side::Buy, &mut self.asks);
            }
        }
    }

    /// The levels an order on `side` takes from (asks for a buy).
    pub fn takeable(&self, side: Side) -> &Levels {
        match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        }
    }

    /// Midpoint of the best bid and ask, when both sides show.
    pub fn mid(&self) -> Option<Price> {
        let bid = self.bids.as_slice().first()?.price;
        let ask = self.asks.as_slice().first()?.price;
        Some(bid.midpoint(ask))
    }

    /// True when an order on `side` at `limit` would take liquidity now.
    pub fn crosses(&self, side: Side, limit: Price) -> bool {
        self.takeable(side)
            .as_slice()
            .first()
            .is_some_and(|best| marketable(side, best.price, limit))
    }

    /// What taking up to `qty` on `side` would fill, at level prices no worse than `limit`
    /// (`None`: any visible level); nothing is consumed.
    pub fn walk(&self, side: Side, qty: Qty, limit: Option<Price>) -> Walk {
        let mut walk = Walk::default();
        let mut wanted = qty;
        for level in self.takeable(side).as_slice() {
            if !wanted.is_positive() || limit.is_some_and(|l| !marketable(side, level.price, l)) {
                break;
            }
            let take = wanted.min(level.qty);
            walk.pieces[walk.count] = Level {
                price: level.price,
                qty: take,
            };
            walk.count += 1;
            walk.qty = walk.qty.saturating_add(take);
            let notional = level.price.notional(take).unwrap_or(Notional::MAX);
            walk.notional = walk.notional.saturating_add(notional);
            wanted = wanted.saturating_sub(take);
        }
        walk
    }

    /// Takes up to `qty` at or through `limit` (or anywhere visible) out of the view.
    pub fn take(&mut self, side: Side, qty: Qty, limit: Option<Price>) -> Walk {
        let walk = self.walk(side, qty, limit);
        if walk.count == 0 {
            return walk;
        }
        let (levels, taken) = match side {
            Side::Buy => (&self.asks, &mut self.asks_taken),
            Side::Sell => (&self.bids, &mut self.bids_taken),
        };
        // The walk took its pieces from the front of the view, one level each, in order.
        for (piece, source) in walk.pieces().iter().zip(levels.sources) {
            let charged = taken.of(source);
            *charged = charged.saturating_add(piece.qty);
        }
        // Only the side taken from changed.
        self.rebuild_side(side);
        walk
    }
}

/// The book's levels with a newer best level laid on top, less what we took from each,
/// written over `out`; `taker` is the side that would take from them (a buy takes asks,
/// better when lower).
fn merge(book: &[Level], best: Option<Level>, taken: &Taken, taker: Side, out: &mut Levels) {
    out.clear();
    let best = best.filter(|b| b.qty.is_positive() && b.price.is_positive());
    if let Some(best) = best {
        let qty = best.qty.saturating_sub(taken.ticker);
        out.push(Level { qty, ..best }, Source::Ticker);
    }
    for (index, level) in book.iter().enumerate() {
        // Book levels at or better than the newer best one no longer exist.
        if best.is_some_and(|b| marketable(taker, level.price, b.price)) {
            continue;
        }
        let qty = level.qty.saturating_sub(taken.book[index]);
        out.push(Level { qty, ..*level }, Source::Book(index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Price {
        Price::parse(text).expect("test literal is a valid decimal")
    }
    fn q(text: &str) -> Qty {
        Qty::parse(text).expect("test literal is a valid decimal")
    }
    fn level(price: &str, qty: &str) -> Level {
        Level {
            price: p(price),
            qty: q(qty),
        }
    }

    fn top(update_id: u64) -> BookTop {
        let mut top = BookTop {
            last_update_id: update_id,
            valid: true,
            bid_count: 3,
            ask_count: 3,
            ..BookTop::default()
        };
        top.bids[..3].copy_from_slice(&[level("99", "1"), level("98", "2"), level("97", "3")]);
        top.asks[..3].copy_from_slice(&[level("101", "1"), level("102", "2"), level("103", "3")]);
        top
    }

    fn ticker(update_id: u64, bid: &str, ask: &str) -> BookTicker {
        BookTicker {
            update_id,
            bid_price: p(bid),
            bid_qty: q("0.5"),
            ask_price: p(ask),
            ask_qty: q("0.5"),
        }
    }

    #[test]
    fn newer_ticker_replaces_the_levels_it_overtook_and_older_one_is_ignored() {
        let mut view = Liquidity::default();
        view.on_book(&top(10));
        view.on_ticker(&ticker(9, "100", "100.5"));
        assert_eq!(view.takeable(Side::Buy).as_slice()[0], level("101", "1"));
        view.on_ticker(&ticker(11, "98", "102"));
        assert_eq!(
            view.takeable(Side::Buy).as_slice(),
            &[level("102", "0.5"), level("103", "3")]
        );
        assert_eq!(
            view.takeable(Side::Sell).as_slice(),
            &[level("98", "0.5"), level("97", "3")]
        );
        assert_eq!(view.mid(), Some(p("100")));
        view.on_book(&top(12));
        assert_eq!(view.takeable(Side::Buy).as_slice()[0], level("101", "1"));
    }

    #[test]
    fn a_newer_ticker_does_not_give_back_book_levels_we_took() {
        let mut view = Liquidity::default();
        view.on_book(&top(10));
        view.take(Side::Buy, q("2"), None);
        view.on_ticker(&ticker(11, "99", "101.5"));
        assert_eq!(
            view.takeable(Side::Buy).as_slice(),
            &[level("101.5", "0.5"), level("102", "1"), level("103", "3")]
        );
        view.take(Side::Buy, q("0.2"), None);
        assert_eq!(
            view.takeable(Side::Buy).as_slice()[0],
            level("101.5", "0.3")
        );
        view.on_ticker(&ticker(12, "99", "101.5"));
        assert_eq!(
            view.takeable(Side::Buy).as_slice()[0],
            level("101.5", "0.5")
        );
        assert_eq!(view.takeable(Side::Buy).as_slice()[1], level("102", "1"));
    }

    #[test]
    fn an_invalid_book_leaves_only_the_ticker() {
        let mut view = Liquidity::default();
        let mut stale = top(10);
        stale.valid = false;
        view.on_book(&stale);
        assert!(view.takeable(Side::Buy).as_slice().is_empty());
        view.on_ticker(&ticker(3, "99.5", "100.5"));
        assert_eq!(
            view.takeable(Side::Buy).as_slice(),
            &[level("100.5", "0.5")]
        );
    }

    #[test]
    fn taking_walks_best_first_within_the_limit_and_consumes_until_the_next_update() {
        let mut view = Liquidity::default();
        view.on_book(&top(10));
        let preview = view.walk(Side::Buy, q("2.5"), Some(p("102")));
        assert_eq!(preview.pieces(), &[level("101", "1"), level("102", "1.5")]);
        assert_eq!(preview.notional, Notional::parse("254").expect("valid"));
        let taken = view.take(Side::Buy, q("2.5"), Some(p("102")));
        assert_eq!(taken, preview);
        assert_eq!(
            view.takeable(Side::Buy).as_slice(),
            &[level("102", "0.5"), level("103", "3")]
        );
        assert!(view.crosses(Side::Buy, p("102")));
        assert!(!view.crosses(Side::Sell, p("99.5")));
        let rest = view.take(Side::Buy, q("10"), None);
        assert_eq!((rest.qty, rest.last_price()), (q("3.5"), Some(p("103"))));
        assert!(view.takeable(Side::Buy).as_slice().is_empty());
        view.on_book(&top(11));
        assert_eq!(view.takeable(Side::Buy).as_slice().len(), 3);
    }
}
