//! Owns: one symbol's price levels on both sides. Never: sequencing rules (see `sync`),
//! allocation after construction.
//!
//! Each side is a [`Ladder`] of sorted blocks (see `ladder`), best level last, so the best
//! level is a constant-time read and an update anywhere in the book moves at most one block.

use super::ladder::{Ladder, NO_HINT};
use crate::core::event::{BookTop, Level, Side, BOOK_TOP_LEVELS};
use crate::core::DepthSnapshot;

/// One symbol's L2 book: bids best (highest) first, asks best (lowest) first.
#[derive(Clone, Debug)]
pub struct L2Book {
    bids: Ladder,
    asks: Ladder,
    evicted_levels: u64,
}

impl L2Book {
    /// An empty book holding at most `max_levels_per_side` levels on each side.
    pub fn with_capacity(max_levels_per_side: usize) -> Self {
        let capacity = max_levels_per_side.max(1);
        Self {
            bids: Ladder::new(capacity, false),
            asks: Ladder::new(capacity, true),
            evicted_levels: 0,
        }
    }

    /// Sets the absolute bid quantity at a price; zero (or negative) deletes, unknown deletes
    /// are no-ops.
    #[inline]
    pub fn apply_bid(&mut self, level: Level) {
        if self.bids.apply(level, &mut { NO_HINT }) {
            self.evicted_levels += 1;
        }
    }

    /// Sets the absolute ask quantity at a price; zero (or negative) deletes, unknown deletes
    /// are no-ops.
    #[inline]
    pub fn apply_ask(&mut self, level: Level) {
        if self.asks.apply(level, &mut { NO_HINT }) {
            self.evicted_levels += 1;
        }
    }

    /// Applies a batch of absolute bid and ask levels in order.
    #[inline]
    pub fn apply_levels(&mut self, bids: &[Level], asks: &[Level]) {
        // Each level's block is the next one's first guess (diffs come in price order).
        let mut hint = NO_HINT;
        for &level in bids {
            if self.bids.apply(level, &mut hint) {
                self.evicted_levels += 1;
            }
        }
        hint = NO_HINT;
        for &level in asks {
            if self.asks.apply(level, &mut hint) {
                self.evicted_levels += 1;
            }
        }
    }

    /// How many of these bid and ask prices the book holds; changes nothing. Searching the
    /// levels of a recent diff keeps the search code and the blocks near the touch in the
    /// cache while the feed is idle, so the next update does not start cold (see
    /// `feed::binance::live`'s warm-up).
    pub fn count_held(&self, bids: &[Level], asks: &[Level]) -> usize {
        self.bids.count_held(bids) + self.asks.count_held(asks)
    }

    /// Highest bid.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    /// Lowest ask.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// Number of bid levels held.
    pub fn bid_count(&self) -> usize {
        self.bids.live()
    }

    /// Number of ask levels held.
    pub fn ask_count(&self) -> usize {
        self.asks.live()
    }

    /// Levels that did not fit because a side was full (deep tail truncated).
    pub fn evicted_levels(&self) -> u64 {
        self.evicted_levels
    }

    /// The best `n` levels of one side (`Buy` = bids), best first.
    pub fn top_n(&self, side: Side, n: usize) -> impl Iterator<Item = Level> + '_ {
        let ladder = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        ladder.iter().take(n)
    }

    /// All bids, best first.
    pub fn bids(&self) -> impl Iterator<Item = Level> + '_ {
        self.bids.iter()
    }

    /// All asks, best first.
    pub fn asks(&self) -> impl Iterator<Item = Level> + '_ {
        self.asks.iter()
    }

    /// Copies the top [`BOOK_TOP_LEVELS`] of each side into `top` (levels and counts only).
    pub fn fill_top(&self, top: &mut BookTop) {
        top.bids = [Level::default(); BOOK_TOP_LEVELS];
        top.asks = [Level::default(); BOOK_TOP_LEVELS];
        let mut n = 0;
        for (slot, level) in top.bids.iter_mut().zip(self.bids.iter()) {
            *slot = level;
            n += 1;
        }
        top.bid_count = n;
        n = 0;
        for (slot, level) in top.asks.iter_mut().zip(self.asks.iter()) {
            *slot = level;
            n += 1;
        }
        top.ask_count = n;
    }

    /// True when the best bid is at or above the best ask (impossible on a correct book).
    #[inline]
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(bid), Some(ask)) => bid.price >= ask.price,
            _ => false,
        }
    }

    /// Removes every level (capacity is kept).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Replaces the book with a snapshot's levels (any order; zero quantities skipped).
    pub fn load_snapshot(&mut self, snap: &DepthSnapshot) {
        self.clear();
        // Worst first: with best-last storage each insert of a sorted snapshot is an append
        // to the last block, which the hint finds without a search.
        let mut hint = NO_HINT;
        for &level in snap.bids.iter().rev() {
            if self.bids.apply(level, &mut hint) {
                self.evicted_levels += 1;
            }
        }
        hint = NO_HINT;
        for &level in snap.asks.iter().rev() {
            if self.asks.apply(level, &mut hint) {
                self.evicted_levels += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Price, Qty};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn lvl(price: i64, qty: i64) -> Level {
        Level {
            price: Price::from_int(price),
            qty: Qty::from_int(qty),
        }
    }

    #[test]
    fn sides_are_ordered_best_first_and_zero_deletes() {
        let mut book = L2Book::with_capacity(16);
        for p in [100, 102, 101] {
            book.apply_bid(lvl(p, 1));
            book.apply_ask(lvl(p + 10, 2));
        }
        let bids: Vec<i64> = book
            .bids()
            .map(|l| (l.price.raw() / Price::ONE.raw()) as i64)
            .collect();
        let asks: Vec<i64> = book
            .asks()
            .map(|l| (l.price.raw() / Price::ONE.raw()) as i64)
            .collect();
        assert_eq!(bids, vec![102, 101, 100]);
        assert_eq!(asks, vec![110, 111, 112]);
        book.apply_bid(lvl(102, 0));
        book.apply_bid(lvl(55, 0)); // unknown delete: no-op
        assert_eq!(book.best_bid(), Some(lvl(101, 1)));
        assert_eq!(book.bid_count(), 2);
        assert!(!book.is_crossed());
        book.apply_bid(lvl(110, 1));
        assert!(book.is_crossed());
    }

    #[test]
    fn full_side_keeps_the_best_levels_and_counts_evictions() {
        let mut book = L2Book::with_capacity(3);
        for p in [10, 11, 12] {
            book.apply_bid(lvl(p, 1));
        }
        book.apply_bid(lvl(9, 1)); // worse than all held: refused
        book.apply_bid(lvl(13, 1)); // better: evicts 10
        let bids: Vec<Level> = book.bids().collect();
        assert_eq!(bids, vec![lvl(13, 1), lvl(12, 1), lvl(11, 1)]);
        assert_eq!(book.evicted_levels(), 2);
    }

    #[test]
    fn fill_top_copies_at_most_book_top_levels() {
        let mut book = L2Book::with_capacity(32);
        for p in 1..=8 {
            book.apply_bid(lvl(p, p));
        }
        book.apply_ask(lvl(20, 1));
        let mut top = BookTop::default();
        book.fill_top(&mut top);
        assert_eq!(top.bid_count as usize, BOOK_TOP_LEVELS);
        assert_eq!(top.ask_count, 1);
        assert_eq!(top.bids[0], lvl(8, 8));
        assert_eq!(top.asks[0], lvl(20, 1));
        assert_eq!(top.asks[1], Level::default());
    }

    proptest! {
        #[test]
        fn wide_random_updates_with_many_deletes_match_a_btreemap_model(
            ops in prop::collection::vec((0i64..1500, 0i64..3, any::<bool>()), 1..3000)
        ) {
            // Many deletes across a wide range: block splits, merges and emptied blocks.
            let mut book = L2Book::with_capacity(4096);
            let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
            for (price, qty, delete) in ops {
                let qty = if delete { 0 } else { qty };
                if qty == 0 { asks.remove(&price); } else { asks.insert(price, qty); }
                book.apply_ask(lvl(price, qty));
                prop_assert_eq!(book.best_ask(), asks.iter().next().map(|(&p, &q)| lvl(p, q)));
            }
            let want: Vec<Level> = asks.iter().map(|(&p, &q)| lvl(p, q)).collect();
            prop_assert_eq!(book.ask_count(), want.len());
            prop_assert_eq!(book.asks().collect::<Vec<_>>(), want);
        }

        #[test]
        fn random_updates_match_a_btreemap_model(
            ops in prop::collection::vec((any::<bool>(), 0i64..60, 0i64..4), 1..400)
        ) {
            let mut book = L2Book::with_capacity(128);
            let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
            let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
            for (is_bid, price, qty) in ops {
                let (side, map) = if is_bid { (Side::Buy, &mut bids) } else { (Side::Sell, &mut asks) };
                if qty == 0 { map.remove(&price); } else { map.insert(price, qty); }
                match side {
                    Side::Buy => book.apply_bid(lvl(price, qty)),
                    Side::Sell => book.apply_ask(lvl(price, qty)),
                }
            }
            let want_bids: Vec<Level> = bids.iter().rev().map(|(&p, &q)| lvl(p, q)).collect();
            let want_asks: Vec<Level> = asks.iter().map(|(&p, &q)| lvl(p, q)).collect();
            prop_assert_eq!(book.bids().collect::<Vec<_>>(), want_bids.clone());
            prop_assert_eq!(book.asks().collect::<Vec<_>>(), want_asks.clone());
            prop_assert_eq!(book.top_n(Side::Buy, 5).collect::<Vec<_>>(), want_bids.into_iter().take(5).collect::<Vec<_>>());
            prop_assert_eq!(book.best_ask(), want_asks.first().copied());
        }
    }
}
