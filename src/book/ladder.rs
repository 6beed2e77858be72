//! Owns: one side of an L2 book as a ladder of fixed-size sorted blocks (a B+ tree of height
//! two): sort keys ascending with the best level last, quantities beside them.
//! Never: allocates after construction, holds a zero quantity, or moves more than one block
//! of levels for an update.
//!
//! Real Binance diffs touch levels at every depth (in the USDⓈ-M capture half of the changes
//! are more than 200 levels from the touch, and a fifth are new levels), so a flat sorted
//! array pays a long memmove for most inserts and deletes. Here an update moves at most one
//! block (32 levels) and a split or merge shifts only the small index of blocks.
//!
//! Layout: `blocks` is a slab preallocated at construction; `order` lists block ids by key,
//! with each block's lowest key in `lows` and its length in `lens` (parallel arrays, so the
//! search over blocks reads one dense array). Unused slots of a block hold [`EMPTY_KEY`],
//! which sorts after every real key, so the in-block search needs no length and no branch.
//! A diff lists its levels in price order, so each level's block is the next one's guess.
//! Any two neighbouring blocks hold more than half a block between them (merged otherwise),
//! which bounds the block count by `2·levels/(BLOCK/2 + 1) + 1`: the slab never runs out.
//!
//! Measured on the real replays (`benches/book.rs`): about 0.6–0.7× the time of a BTreeMap
//! book, where the flat array with tombstones it replaced took 1.2–1.9×.
//!
//! Keys: bids use the price, asks its bitwise complement (`!price`, i.e. `−price − 1`, which
//! reverses the order without the overflow of `−i128::MIN`), so both sides sort best last.

use crate::core::event::Level;
use crate::core::{Price, Qty};

/// Levels per block: small enough that a shift inside one is cheap, large enough that the
/// block index stays short (a 5000-level side needs about 200 blocks).
const BLOCK: usize = 32;
/// Two neighbouring blocks holding this many levels or fewer are merged.
const HALF: usize = BLOCK / 2;
/// The in-block search counts fences a quarter block apart, then keys within one quarter.
const QUARTER: usize = BLOCK / 4;
/// A search hint that names no block.
pub(super) const NO_HINT: usize = usize::MAX;
/// Key of an unused slot: sorts after every real key.
const EMPTY_KEY: i128 = i128::MAX;

/// Up to [`BLOCK`] levels, keys ascending, unused slots last.
#[derive(Clone, Debug)]
struct Block {
    keys: [i128; BLOCK],
    qtys: [Qty; BLOCK],
}

impl Block {
    const EMPTY: Block = Block {
        keys: [EMPTY_KEY; BLOCK],
        qtys: [Qty::ZERO; BLOCK],
    };

    /// First index whose key is ≥ `key` (the length when none), with no branches: count
    /// the quarter fences below `key`, then the keys below it in that quarter. Every
    /// comparison is independent, and counting (unlike a halving search) leaves the
    /// compiler no select to turn back into a mispredicted branch.
    #[inline(always)]
    fn lower_bound(&self, key: i128) -> usize {
        let quarter = usize::from(self.keys[QUARTER - 1] < key)
            + usize::from(self.keys[2 * QUARTER - 1] < key)
            + usize::from(self.keys[3 * QUARTER - 1] < key);
        let start = quarter * QUARTER;
        let within: usize = self.keys[start..start + QUARTER]
            .iter()
            .map(|&k| usize::from(k < key))
            .sum();
        start + within
    }

    /// Opens slot `i` of a block holding `len < BLOCK` levels and writes the level there.
    #[inline(always)]
    fn insert(&mut self, i: usize, len: usize, key: i128, qty: Qty) {
        self.keys.copy_within(i..len, i + 1);
        self.qtys.copy_within(i..len, i + 1);
        self.keys[i] = key;
        self.qtys[i] = qty;
    }

    /// Closes slot `i` of a block holding `len` levels; the freed last slot becomes unused.
    #[inline(always)]
    fn remove(&mut self, i: usize, len: usize) {
        self.keys.copy_within(i + 1..len, i);
        self.qtys.copy_within(i + 1..len, i);
        self.keys[len - 1] = EMPTY_KEY;
        self.qtys[len - 1] = Qty::ZERO;
    }
}

/// Where a key is or would go: block `at` in `order`, slot `slot` in that block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    at: usize,
    slot: usize,
    found: bool,
}

/// One side of the book; see the module docs for the layout.
#[derive(Debug)]
pub(super) struct Ladder {
    blocks: Vec<Block>,
    /// Blocks the neighbour invariant can ever need for `capacity` levels; all reserved.
    max_blocks: usize,
    free: Vec<u32>,
    order: Vec<u32>,
    lows: Vec<i128>,
    lens: Vec<usize>,
    live: usize,
    capacity: usize,
    /// Asks: keys are `!price`.
    complement: bool,
}

/// A clone keeps the full reservation (a derived one would size its vectors to their
/// current length, and the copy would allocate, or refuse levels, as it grows).
impl Clone for Ladder {
    fn clone(&self) -> Self {
        let mut copy = Self::new(self.capacity, self.complement);
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        if self.max_blocks < source.max_blocks {
            *self = Self::new(source.capacity, source.complement);
        }
        self.blocks.clone_from(&source.blocks);
        self.free.clone_from(&source.free);
        self.order.clone_from(&source.order);
        self.lows.clone_from(&source.lows);
        self.lens.clone_from(&source.lens);
        self.max_blocks = source.max_blocks;
        self.live = source.live;
        self.capacity = source.capacity;
        self.complement = source.complement;
    }
}

impl Ladder {
    /// An empty side holding at most `capacity` levels, with every block it can need reserved.
    pub(super) fn new(capacity: usize, complement: bool) -> Self {
        let max_blocks = capacity.saturating_mul(2) / (HALF + 1) + 2;
        Self {
            blocks: Vec::with_capacity(max_blocks),
            max_blocks,
            free: Vec::with_capacity(max_blocks),
            order: Vec::with_capacity(max_blocks),
            lows: Vec::with_capacity(max_blocks),
            lens: Vec::with_capacity(max_blocks),
            live: 0,
            capacity,
            complement,
        }
    }

    /// Levels held.
    #[inline]
    pub(super) fn live(&self) -> usize {
        self.live
    }

    #[inline(always)]
    fn key(&self, price: Price) -> i128 {
        if self.complement {
            !price.raw()
        } else {
            price.raw()
        }
    }

    #[inline(always)]
    fn price(&self, key: i128) -> Price {
        Price::from_raw(if self.complement { !key } else { key })
    }

    /// The block that holds `key` or would take it: the last whose lowest key is ≤ `key`,
    /// else the first. A halving search over the dense `lows` (a few hundred entries at
    /// most, so it stays in L1); callers try their hint block first.
    #[inline(always)]
    fn block_for(&self, key: i128) -> usize {
        let lows = self.lows.as_slice();
        let mut base = 0;
        let mut size = lows.len();
        while size > 1 {
            let half = size / 2;
            if lows[base + half] <= key {
                base += half;
            }
            size -= half;
        }
        base
    }

    /// Where `key` is, or where it would be inserted. `hint` is the block of the previous
    /// level of the same diff ([`NO_HINT`] for none): a diff lists its levels in price
    /// order, so the next one often lies in the same block, which two comparisons confirm
    /// without a search. The hint is only a guess; a wrong one costs the search.
    #[inline(always)]
    fn locate(&self, key: i128, hint: &mut usize) -> Position {
        if self.order.is_empty() {
            return Position {
                at: 0,
                slot: 0,
                found: false,
            };
        }
        let lows = self.lows.as_slice();
        // The hinted block or one of its neighbours, when `key` falls in it.
        let holds = |at: usize| {
            at < lows.len() && lows[at] <= key && lows.get(at + 1).is_none_or(|&next| key < next)
        };
        let near = *hint;
        let (below, above) = (near.wrapping_sub(1), near.wrapping_add(1));
        let at = if holds(near) {
            near
        } else if holds(below) {
            below
        } else if holds(above) {
            above
        } else {
            self.block_for(key)
        };
        *hint = at;
        let block = &self.blocks[self.order[at] as usize];
        let slot = block.lower_bound(key);
        Position {
            at,
            slot,
            found: slot < self.lens[at] && block.keys[slot] == key,
        }
    }

    /// How many of `levels` the side holds, found the way [`Self::apply`] finds them but
    /// changing nothing: it reads the blocks an update at those prices would touch.
    pub(super) fn count_held(&self, levels: &[Level]) -> usize {
        let mut hint = NO_HINT;
        levels
            .iter()
            .filter(|level| self.locate(self.key(level.price), &mut hint).found)
            .count()
    }

    /// Sets the absolute quantity at `level.price` (zero or negative deletes; deleting a level
    /// not held is a no-op). Returns true when a level was evicted or refused because the side
    /// was full.
    ///
    /// Inlined into the caller's loop with only the search and the in-place update: the loop
    /// keeps the ladder's pointers in registers, and the structural changes stay out of line.
    #[inline(always)]
    pub(super) fn apply(&mut self, level: Level, hint: &mut usize) -> bool {
        let key = self.key(level.price);
        let position = self.locate(key, hint);
        if position.found && level.qty.is_positive() {
            let id = self.order[position.at] as usize;
            self.blocks[id].qtys[position.slot] = level.qty;
            return false;
        }
        self.apply_structural(position, key, level.qty)
    }

    /// The rest of [`Self::apply`]: deletes, inserts and evictions.
    #[inline(never)]
    fn apply_structural(&mut self, position: Position, key: i128, qty: Qty) -> bool {
        let positive = qty.is_positive();
        if position.found {
            self.remove(position);
            return false;
        }
        if !positive {
            // Deleting a level we do not hold: normal on futures streams.
            return false;
        }
        if self.live < self.capacity {
            return !self.insert(position, key, qty);
        }
        // Full: the new level replaces the worst one, unless it is worse still.
        if self.order.is_empty() || key <= self.lows[0] {
            return true;
        }
        self.remove(Position {
            at: 0,
            slot: 0,
            found: true,
        });
        let position = self.locate(key, &mut { NO_HINT });
        self.insert(position, key, qty);
        true
    }

    /// Inserts a key that is not held at its search position; false when no block was free
    /// (impossible while the neighbour invariant holds, refused rather than trusted).
    fn insert(&mut self, position: Position, key: i128, qty: Qty) -> bool {
        let Position { at, slot, .. } = position;
        if self.order.is_empty() {
            let Some(id) = self.take_block() else {
                return false;
            };
            self.blocks[id as usize].insert(0, 0, key, qty);
            self.order.push(id);
            self.lows.push(key);
            self.lens.push(1);
            self.live += 1;
            return true;
        }
        let len = self.lens[at];
        if len < BLOCK {
            self.blocks[self.order[at] as usize].insert(slot, len, key, qty);
            self.lens[at] = len + 1;
            if slot == 0 {
                self.lows[at] = key;
            }
            self.live += 1;
            return true;
        }
        let Some(id) = self.take_block() else {
            return false;
        };
        let last = at + 1 == self.order.len();
        if (slot == BLOCK && last) || (slot == 0 && at == 0) {
            // A new best (or worst) beyond a full end block starts a block of its own, so a
            // snapshot loaded worst-first fills whole blocks instead of half ones.
            self.blocks[id as usize].insert(0, 0, key, qty);
            let to = if slot == 0 { 0 } else { at + 1 };
            self.order.insert(to, id);
            self.lows.insert(to, key);
            self.lens.insert(to, 1);
            self.live += 1;
            return true;
        }
        // Split: the upper half moves to the new block, placed right after.
        let source = self.order[at] as usize;
        let (upper_keys, upper_qtys) = {
            let block = &mut self.blocks[source];
            let keys: [i128; HALF] = std::array::from_fn(|k| block.keys[HALF + k]);
            let qtys: [Qty; HALF] = std::array::from_fn(|k| block.qtys[HALF + k]);
            block.keys[HALF..].fill(EMPTY_KEY);
            block.qtys[HALF..].fill(Qty::ZERO);
            (keys, qtys)
        };
        let target = &mut self.blocks[id as usize];
        target.keys[..HALF].copy_from_slice(&upper_keys);
        target.qtys[..HALF].copy_from_slice(&upper_qtys);
        self.order.insert(at + 1, id);
        self.lows.insert(at + 1, upper_keys[0]);
        self.lens.insert(at + 1, HALF);
        self.lens[at] = HALF;
        let (at, slot) = if slot <= HALF {
            (at, slot)
        } else {
            (at + 1, slot - HALF)
        };
        self.blocks[self.order[at] as usize].insert(slot, HALF, key, qty);
        self.lens[at] = HALF + 1;
        if slot == 0 {
            self.lows[at] = key;
        }
        self.live += 1;
        true
    }

    /// Removes the held level at `position`, then restores the neighbour invariant.
    fn remove(&mut self, position: Position) {
        let Position { at, slot, .. } = position;
        let id = self.order[at] as usize;
        let len = self.lens[at];
        self.blocks[id].remove(slot, len);
        self.lens[at] = len - 1;
        self.live -= 1;
        if len == 1 {
            self.drop_block(at);
            if at > 0 && at < self.order.len() {
                self.merge_if_small(at - 1);
            }
            return;
        }
        if slot == 0 {
            self.lows[at] = self.blocks[id].keys[0];
        }
        let mut at = at;
        if at > 0 && self.merge_if_small(at - 1) {
            at -= 1;
        }
        if at + 1 < self.order.len() {
            self.merge_if_small(at);
        }
    }

    /// Merges block `at + 1` into block `at` when they hold `HALF` levels or fewer together.
    fn merge_if_small(&mut self, at: usize) -> bool {
        let (len, next_len) = (self.lens[at], self.lens[at + 1]);
        if len + next_len > HALF {
            return false;
        }
        let (into, from) = (self.order[at] as usize, self.order[at + 1] as usize);
        let moved_keys: [i128; HALF] = std::array::from_fn(|k| self.blocks[from].keys[k]);
        let moved_qtys: [Qty; HALF] = std::array::from_fn(|k| self.blocks[from].qtys[k]);
        let target = &mut self.blocks[into];
        target.keys[len..len + next_len].copy_from_slice(&moved_keys[..next_len]);
        target.qtys[len..len + next_len].copy_from_slice(&moved_qtys[..next_len]);
        self.lens[at] = len + next_len;
        self.drop_block(at + 1);
        true
    }

    /// Takes block `at` out of the order and returns it, cleared, to the free list.
    fn drop_block(&mut self, at: usize) {
        let id = self.order.remove(at);
        self.lows.remove(at);
        self.lens.remove(at);
        self.blocks[id as usize] = Block::EMPTY;
        self.free.push(id);
    }

    /// A cleared block from the free list or the reserved slab.
    fn take_block(&mut self) -> Option<u32> {
        if let Some(id) = self.free.pop() {
            return Some(id);
        }
        if self.blocks.len() >= self.max_blocks {
            return None;
        }
        let id = u32::try_from(self.blocks.len()).ok()?;
        self.blocks.push(Block::EMPTY);
        Some(id)
    }

    /// The best level.
    #[inline]
    pub(super) fn best(&self) -> Option<Level> {
        let (&id, &len) = self.order.last().zip(self.lens.last())?;
        let block = &self.blocks[id as usize];
        Some(Level {
            price: self.price(block.keys[len - 1]),
            qty: block.qtys[len - 1],
        })
    }

    /// Every level, best first.
    pub(super) fn iter(&self) -> impl Iterator<Item = Level> + '_ {
        self.order
            .iter()
            .zip(&self.lens)
            .rev()
            .flat_map(move |(&id, &len)| {
                let block = &self.blocks[id as usize];
                (0..len).rev().map(move |i| Level {
                    price: self.price(block.keys[i]),
                    qty: block.qtys[i],
                })
            })
    }

    /// Removes every level (storage is kept).
    pub(super) fn clear(&mut self) {
        self.blocks.clear();
        self.free.clear();
        self.order.clear();
        self.lows.clear();
        self.lens.clear();
        self.live = 0;
    }

    /// Checks every structural invariant; for tests.
    #[cfg(test)]
    pub(super) fn assert_invariants(&self) {
        assert_eq!(self.order.len(), self.lows.len());
        assert_eq!(self.order.len(), self.lens.len());
        assert_eq!(self.live, self.lens.iter().sum::<usize>());
        assert!(self.live <= self.capacity);
        assert!(self.blocks.len() <= self.max_blocks);
        assert!(
            self.blocks.capacity() >= self.max_blocks,
            "slab stays reserved"
        );
        let mut previous: Option<i128> = None;
        for (at, (&id, &len)) in self.order.iter().zip(&self.lens).enumerate() {
            let block = &self.blocks[id as usize];
            assert!((1..=BLOCK).contains(&len), "block {at} holds {len}");
            assert_eq!(self.lows[at], block.keys[0]);
            for i in 0..len {
                assert!(block.qtys[i].is_positive());
                assert!(previous.is_none_or(|p| p < block.keys[i]), "keys ascend");
                previous = Some(block.keys[i]);
            }
            assert!(block.keys[len..].iter().all(|&k| k == EMPTY_KEY));
            if at > 0 {
                assert!(self.lens[at - 1] + len > HALF, "neighbours {at} merged");
            }
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
    fn block_search_finds_the_first_key_not_below() {
        let mut block = Block::EMPTY;
        for (i, key) in [10, 20, 30].into_iter().enumerate() {
            block.keys[i] = key;
        }
        assert_eq!(block.lower_bound(5), 0);
        assert_eq!(block.lower_bound(10), 0);
        assert_eq!(block.lower_bound(11), 1);
        assert_eq!(block.lower_bound(30), 2);
        assert_eq!(block.lower_bound(31), 3);
        let full = Block {
            keys: std::array::from_fn(|i| i as i128),
            qtys: [Qty::ONE; BLOCK],
        };
        assert_eq!(full.lower_bound(BLOCK as i128), BLOCK);
        assert_eq!(full.lower_bound(-1), 0);
    }

    #[test]
    fn ascending_loads_fill_whole_blocks_and_deletes_merge_neighbours() {
        let mut side = Ladder::new(1024, false);
        for p in 0..320 {
            side.apply(lvl(p, 1), &mut { NO_HINT });
        }
        side.assert_invariants();
        assert_eq!(
            side.order.len(),
            10,
            "a worst-first load fills whole blocks"
        );
        for p in (0..320).filter(|p| p % 8 != 0) {
            side.apply(lvl(p, 0), &mut { NO_HINT });
            side.assert_invariants();
        }
        assert_eq!(side.live(), 40);
        assert!(
            side.order.len() <= 3,
            "{} blocks for 40 levels",
            side.order.len()
        );
        let want: Vec<i64> = (0..320).filter(|p| p % 8 == 0).rev().collect();
        let got: Vec<i64> = side
            .iter()
            .map(|l| (l.price.raw() / Price::ONE.raw()) as i64)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn complemented_keys_order_asks_best_last_even_at_the_extremes() {
        let mut side = Ladder::new(8, true);
        for raw in [i128::MIN, -1, 0, 5, i128::MAX] {
            side.apply(
                Level {
                    price: Price::from_raw(raw),
                    qty: Qty::ONE,
                },
                &mut { NO_HINT },
            );
        }
        side.assert_invariants();
        let prices: Vec<i128> = side.iter().map(|l| l.price.raw()).collect();
        assert_eq!(prices, vec![i128::MIN, -1, 0, 5, i128::MAX]);
    }

    #[test]
    fn clones_keep_the_reservation_and_grow_to_capacity() {
        let mut side = Ladder::new(2048, true);
        side.apply(lvl(1, 1), &mut { NO_HINT });
        let mut copy = side.clone();
        let mut reused = Ladder::new(2048, true);
        reused.clone_from(&side);
        for ladder in [&mut copy, &mut reused] {
            // Middle inserts split blocks in halves: the most blocks per level.
            for p in (0..4096).map(|i| (i * 7919) % 4096) {
                ladder.apply(lvl(p, 2), &mut { NO_HINT });
            }
            ladder.assert_invariants();
            assert_eq!(ladder.live(), 2048);
        }
    }

    proptest! {
        #[test]
        fn random_updates_keep_the_invariants_and_match_a_btreemap(
            ops in prop::collection::vec((0i64..2000, 0i64..3), 1..3000),
            capacity in prop_oneof![Just(64usize), Just(700), Just(4096)],
            complement in any::<bool>(),
            lookups in prop::collection::vec((0i64..2000, 0i64..3), 0..64),
        ) {
            let mut side = Ladder::new(capacity, complement);
            let mut model: BTreeMap<i64, i64> = BTreeMap::new();
            // One hint for the whole run: often stale after splits and merges, never trusted.
            let mut hint = NO_HINT;
            for (price, qty) in ops {
                let key = if complement { -price } else { price };
                let full_and_new = model.len() == capacity && qty > 0 && !model.contains_key(&key);
                if full_and_new {
                    let worst = *model.keys().next().expect("full model is not empty");
                    if key > worst {
                        model.remove(&worst);
                        model.insert(key, qty);
                    }
                } else if qty == 0 {
                    model.remove(&key);
                } else {
                    model.insert(key, qty);
                }
                prop_assert_eq!(side.apply(lvl(price, qty), &mut hint), full_and_new);
            }
            side.assert_invariants();
            let want: Vec<Level> = model
                .iter()
                .rev()
                .map(|(&k, &q)| lvl(if complement { -k } else { k }, q))
                .collect();
            prop_assert_eq!(side.iter().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(side.best(), want.first().copied());
            prop_assert_eq!(side.live(), want.len());
            // Looking levels up (as the feed's warm-up does) finds what the model holds,
            // whatever their quantities, and changes nothing.
            let held = lookups
                .iter()
                .filter(|&&(p, _)| model.contains_key(&if complement { -p } else { p }))
                .count();
            let lookups: Vec<Level> = lookups.into_iter().map(|(p, q)| lvl(p, q)).collect();
            prop_assert_eq!(side.count_held(&lookups), held);
            prop_assert_eq!(side.iter().collect::<Vec<_>>(), want);
            side.assert_invariants();
        }
    }
}
