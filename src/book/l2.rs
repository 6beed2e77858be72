//! Owns: one symbol's price levels on both sides. Never: sequencing rules (see `sync`),
//! allocation after construction.
//!
//! Each side is a pair of parallel arrays (sort keys, quantities) kept ascending by key, with
//! the best level at the END: bids are keyed by price, asks by negated price, so the best level
//! is a constant-time read and a change near the touch moves only the few entries above it.
//! Real Binance diffs also touch levels hundreds deep, so a delete leaves a tombstone (its key
//! stays, quantity zero) instead of shifting the array, and an insert shifts only as far as the
//! nearest tombstone (or the end). Tombstones are compacted away when they outnumber live levels.
//! A lookup is a short linear probe from the top, then a binary search over the rest.

use crate::core::event::{BookTop, Level, Side, BOOK_TOP_LEVELS};
use crate::core::{DepthSnapshot, Price, Qty};

/// Levels probed linearly from the touch before falling back to binary search.
const TOP_PROBE: usize = 8;
/// How far an insert looks for a tombstone to absorb its shift before shifting to the end.
const TOMBSTONE_SCAN: usize = 32;
/// Tombstones tolerated beyond the live count before a compaction.
const TOMBSTONE_SLACK: usize = 64;

/// Lower-bound search with a fixed step count and one compare per step (the std search adds
/// a three-way compare and an early exit on equality).
#[inline]
fn lower_bound(keys: &[i128], key: i128) -> Result<usize, usize> {
    if keys.is_empty() {
        return Err(0);
    }
    let mut base = 0;
    let mut size = keys.len();
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base += half * usize::from(keys[mid] <= key);
        size -= half;
    }
    match keys[base].cmp(&key) {
        std::cmp::Ordering::Equal => Ok(base),
        std::cmp::Ordering::Less => Err(base + 1),
        std::cmp::Ordering::Greater => Err(base),
    }
}

/// One side of the book: keys ascending, best last, live levels capped at `capacity`.
///
/// Invariants: keys strictly ascending (tombstones included); the last entry, if any, is live.
#[derive(Clone, Debug)]
struct Ladder {
    keys: Vec<i128>,
    qtys: Vec<Qty>,
    live: usize,
    capacity: usize,
    /// Asks store `-price` so both sides share one ordering.
    negate: bool,
}

impl Ladder {
    fn new(capacity: usize, negate: bool) -> Self {
        // Room for as many tombstones as live levels plus the slack, so compaction always frees space.
        let slots = 2 * capacity + TOMBSTONE_SLACK + 1;
        Self {
            keys: Vec::with_capacity(slots),
            qtys: Vec::with_capacity(slots),
            live: 0,
            capacity,
            negate,
        }
    }

    #[inline]
    fn key(&self, price: Price) -> i128 {
        if self.negate {
            -price.raw()
        } else {
            price.raw()
        }
    }

    #[inline]
    fn level_at(&self, index: usize) -> Level {
        let key = self.keys[index];
        let raw = if self.negate { -key } else { key };
        Level {
            price: Price::from_raw(raw),
            qty: self.qtys[index],
        }
    }

    /// `Ok(index)` of `key` (possibly a tombstone), or `Err(insertion index)`.
    #[inline]
    fn find(&self, key: i128) -> Result<usize, usize> {
        let len = self.keys.len();
        let probe_end = len.saturating_sub(TOP_PROBE);
        let mut i = len;
        while i > probe_end {
            let k = self.keys[i - 1];
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        lower_bound(&self.keys[..probe_end], key)
    }

    /// Sets the absolute quantity at `level.price`; returns true when a level was evicted or
    /// refused because the side was full.
    #[inline]
    fn apply(&mut self, level: Level) -> bool {
        let key = self.key(level.price);
        let positive = level.qty.is_positive();
        match self.find(key) {
            Ok(i) if !self.qtys[i].is_zero() => {
                if positive {
                    self.qtys[i] = level.qty;
                } else {
                    self.delete_at(i);
                }
                false
            }
            // Deleting a level we do not hold: normal on futures streams.
            _ if !positive => false,
            found if self.live < self.capacity => {
                self.place(found, key, level.qty);
                false
            }
            _ => {
                // Full: the new level replaces the worst live one, unless it is worse still.
                let Some(worst) = self.qtys.iter().position(|q| !q.is_zero()) else {
                    return true;
                };
                if key > self.keys[worst] {
                    self.delete_at(worst);
                    // The delete may have compacted: look the key up again.
                    self.place(self.find(key), key, level.qty);
                }
                true
            }
        }
    }

    /// Puts a level that is not live at its search result: revives a tombstone or inserts.
    #[inline]
    fn place(&mut self, found: Result<usize, usize>, key: i128, qty: Qty) {
        self.live += 1;
        match found {
            Ok(i) => self.qtys[i] = qty,
            Err(i) => self.insert_at(i, key, qty),
        }
    }

    fn delete_at(&mut self, i: usize) {
        self.qtys[i] = Qty::ZERO;
        self.live -= 1;
        // Keep the best entry live so `best` stays a constant-time read.
        while self.qtys.last().is_some_and(|q| q.is_zero()) {
            self.keys.pop();
            self.qtys.pop();
        }
        if self.keys.len() - self.live > self.live + TOMBSTONE_SLACK {
            self.compact();
        }
    }

    /// Inserts `key` at insertion index `i`, absorbing the shift into the nearest tombstone when
    /// it is closer than the end.
    fn insert_at(&mut self, i: usize, key: i128, qty: Qty) {
        let len = self.keys.len();
        if i < len && self.qtys[i].is_zero() {
            (self.keys[i], self.qtys[i]) = (key, qty);
            return;
        }
        if i > 0 && self.qtys[i - 1].is_zero() {
            (self.keys[i - 1], self.qtys[i - 1]) = (key, qty);
            return;
        }
        for d in 1..TOMBSTONE_SCAN.min(len - i) {
            if i + d < len && self.qtys[i + d].is_zero() {
                self.keys.copy_within(i..i + d, i + 1);
                self.qtys.copy_within(i..i + d, i + 1);
                (self.keys[i], self.qtys[i]) = (key, qty);
                return;
            }
            if d < i && self.qtys[i - 1 - d].is_zero() {
                let j = i - 1 - d;
                self.keys.copy_within(j + 1..i, j);
                self.qtys.copy_within(j + 1..i, j);
                (self.keys[i - 1], self.qtys[i - 1]) = (key, qty);
                return;
            }
        }
        // Within the slots reserved at construction: tombstones never exceed live + slack.
        self.keys.insert(i, key);
        self.qtys.insert(i, qty);
    }

    /// Drops every tombstone.
    fn compact(&mut self) {
        let mut w = 0;
        for r in 0..self.keys.len() {
            if !self.qtys[r].is_zero() {
                self.keys[w] = self.keys[r];
                self.qtys[w] = self.qtys[r];
                w += 1;
            }
        }
        self.keys.truncate(w);
        self.qtys.truncate(w);
    }

    #[inline]
    fn best(&self) -> Option<Level> {
        let len = self.keys.len();
        (len > 0).then(|| self.level_at(len - 1))
    }

    fn iter(&self) -> impl Iterator<Item = Level> + '_ {
        (0..self.keys.len())
            .rev()
            .filter(|&i| !self.qtys[i].is_zero())
            .map(|i| self.level_at(i))
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.qtys.clear();
        self.live = 0;
    }
}

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
        if self.bids.apply(level) {
            self.evicted_levels += 1;
        }
    }

    /// Sets the absolute ask quantity at a price; zero (or negative) deletes, unknown deletes
    /// are no-ops.
    #[inline]
    pub fn apply_ask(&mut self, level: Level) {
        if self.asks.apply(level) {
            self.evicted_levels += 1;
        }
    }

    /// Applies a batch of absolute bid and ask levels in order.
    #[inline]
    pub fn apply_levels(&mut self, bids: &[Level], asks: &[Level]) {
        for &level in bids {
            self.apply_bid(level);
        }
        for &level in asks {
            self.apply_ask(level);
        }
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
        self.bids.live
    }

    /// Number of ask levels held.
    pub fn ask_count(&self) -> usize {
        self.asks.live
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
        // Worst first: with best-last storage each insert of a sorted snapshot is an append.
        for &level in snap.bids.iter().rev() {
            self.apply_bid(level);
        }
        for &level in snap.asks.iter().rev() {
            self.apply_ask(level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn deep_deletes_leave_tombstones_that_inserts_reuse_and_compaction_drops() {
        let mut book = L2Book::with_capacity(1024);
        for p in 0..300 {
            book.apply_bid(lvl(p, 1));
        }
        for p in (0..200).filter(|p| p % 10 != 0) {
            book.apply_bid(lvl(p, 0));
        }
        assert_eq!(book.bid_count(), 120);
        assert_eq!(
            book.bids.keys.len(),
            300,
            "deletes below the touch are tombstones"
        );
        book.apply_bid(lvl(5, 9)); // revives the tombstone at 5
        book.apply_bid(lvl(300, 9)); // new best: appended
        assert_eq!(book.bids.keys.len(), 301);
        for p in (250..300).filter(|p| p % 2 == 1) {
            book.apply_bid(lvl(p, 0));
        }
        assert_eq!(book.bid_count(), 97);
        assert!(
            book.bids.keys.len() < 150,
            "tombstones past live + slack are compacted"
        );
        let mut want: Vec<i64> = (0..200).filter(|p| p % 10 == 0).collect();
        want.push(5);
        want.extend(200..250);
        want.extend((250..300).filter(|p| p % 2 == 0));
        want.push(300);
        want.sort_unstable_by(|a, b| b.cmp(a));
        let got: Vec<i64> = book
            .bids()
            .map(|l| (l.price.raw() / Price::ONE.raw()) as i64)
            .collect();
        assert_eq!(got, want);
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
            // Many deletes across a wide range: tombstones, shift absorption and compaction.
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
