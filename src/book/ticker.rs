//! Owns: the venue's own best bid/offer (bookTicker) for one symbol. Never: mixes it with the
//! L2 book (the two streams are sequenced independently), reads a clock.

use crate::core::{BookTicker, Level};

/// Latest best bid/offer from the venue's bookTicker stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TopOfBook {
    ticker: Option<BookTicker>,
    stale_drops: u64,
}

impl TopOfBook {
    /// Empty: no ticker seen yet.
    pub const fn new() -> Self {
        Self {
            ticker: None,
            stale_drops: 0,
        }
    }

    /// Takes a ticker unless its `update_id` is older than the one held; returns true if taken.
    #[inline]
    pub fn on_book_ticker(&mut self, ticker: &BookTicker) -> bool {
        if let Some(held) = &self.ticker {
            if ticker.update_id < held.update_id {
                self.stale_drops += 1;
                return false;
            }
        }
        self.ticker = Some(*ticker);
        true
    }

    /// The ticker held, if any.
    pub fn ticker(&self) -> Option<&BookTicker> {
        self.ticker.as_ref()
    }

    /// Best bid as a level.
    pub fn best_bid(&self) -> Option<Level> {
        self.ticker.map(|t| Level {
            price: t.bid_price,
            qty: t.bid_qty,
        })
    }

    /// Best ask as a level.
    pub fn best_ask(&self) -> Option<Level> {
        self.ticker.map(|t| Level {
            price: t.ask_price,
            qty: t.ask_qty,
        })
    }

    /// Tickers ignored because a newer one was already held.
    pub fn stale_drops(&self) -> u64 {
        self.stale_drops
    }

    /// Forgets the ticker (e.g. after a reconnect, when update ids may restart).
    pub fn clear(&mut self) {
        self.ticker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Price, Qty};

    fn ticker(update_id: u64, bid: i64) -> BookTicker {
        BookTicker {
            update_id,
            bid_price: Price::from_int(bid),
            bid_qty: Qty::ONE,
            ask_price: Price::from_int(bid + 1),
            ask_qty: Qty::ONE,
        }
    }

    #[test]
    fn older_update_ids_are_ignored_and_counted() {
        let mut top = TopOfBook::new();
        assert!(top.best_bid().is_none());
        assert!(top.on_book_ticker(&ticker(10, 100)));
        assert!(!top.on_book_ticker(&ticker(9, 50)));
        assert!(top.on_book_ticker(&ticker(10, 101)));
        assert!(top.on_book_ticker(&ticker(11, 102)));
        assert_eq!(top.best_bid().map(|l| l.price), Some(Price::from_int(102)));
        assert_eq!(top.best_ask().map(|l| l.price), Some(Price::from_int(103)));
        assert_eq!(top.stale_drops(), 1);
        top.clear();
        assert!(top.on_book_ticker(&ticker(1, 1)));
    }
}
