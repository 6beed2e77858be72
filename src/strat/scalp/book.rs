//! Owns: what the scalper reads from a symbol's book — mid, spread, top-of-book depth and
//! imbalance (seed-spec §2.4.2) — and its deterministic slippage estimate for an entry.
//! Never: trusts a book that is resyncing, one-sided, crossed or older than the staleness
//! limit.
//!
//! **Which top.** Validity and age come from the synced L2 book (its flag and `book_ns`).
//! The best bid and ask with their quantities are the newest of the L2 top and bookTicker
//! (`SymbolState::bid` …), because the diff stream lags the ticker (100 ms on spot, and
//! several bps in a fast move on the bundled capture); the deeper levels are the L2 top's
//! that lie beyond that touch.
//!
//! **Slippage estimate** (replaces the seed's optional ML model): the distance, in bps of
//! the mid, between the mid and the average price a market entry of the configured notional
//! would get walking the visible levels of the L2 top on the far side (asks for a buy, bids
//! for a sell). It is half the spread when the first level holds the whole notional, plus
//! the walk through deeper levels otherwise. When the visible levels cannot hold the
//! notional there is no estimate and no entry. A limit entry at the far touch never pays
//! more than the top level, so its estimate is the top level's distance from the mid.
//! Market impact beyond the visible book and queue effects are not modelled.

use crate::core::{Level, Price, Qty, Side, BOOK_TOP_LEVELS};
use crate::strat::api::SymbolState;

/// Why a book cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookRefusal {
    /// No L2 top yet, resyncing, or one-sided.
    Invalid,
    /// Older than `book_stale_sec`.
    Stale,
}

/// A usable book top, in `f64` for the signal maths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BookRead {
    /// The touch, exact (for the bracket's mid and a limit price).
    pub bid_price: Price,
    pub ask_price: Price,
    pub bid: f64,
    pub ask: f64,
    pub mid: f64,
    /// (ask − bid) / mid × 1e4.
    pub spread_bps: f64,
    /// bid qty × bid + ask qty × ask at the first level, quote currency.
    pub depth_quote: f64,
    /// (bid qty − ask qty) / (bid qty + ask qty) at the first level, −1..1.
    pub imbalance: f64,
    bids: [(f64, f64); BOOK_TOP_LEVELS],
    asks: [(f64, f64); BOOK_TOP_LEVELS],
    bid_count: usize,
    ask_count: usize,
}

/// The touch `first` followed by the L2 levels strictly beyond it (`beyond` true when a
/// level's price is past the touch on this side).
fn levels(
    first: Level,
    side: &[Level; BOOK_TOP_LEVELS],
    count: u8,
    beyond: impl Fn(Price) -> bool,
) -> ([(f64, f64); BOOK_TOP_LEVELS], usize) {
    let count = usize::from(count).min(BOOK_TOP_LEVELS);
    let mut out = [(0.0, 0.0); BOOK_TOP_LEVELS];
    out[0] = (first.price.to_f64(), first.qty.to_f64());
    let mut used = 1;
    for level in side[..count].iter().filter(|l| beyond(l.price)) {
        if used == BOOK_TOP_LEVELS {
            break;
        }
        out[used] = (level.price.to_f64(), level.qty.to_f64());
        used += 1;
    }
    (out, used)
}

impl BookRead {
    /// Reads `state`'s L2 top at `now_ns`; refused when invalid or older than `stale_ns`.
    pub fn of(state: &SymbolState, now_ns: u64, stale_ns: u64) -> Result<Self, BookRefusal> {
        let top = &state.top;
        if !state.book_valid || state.book_ns == 0 || top.bid_count == 0 || top.ask_count == 0 {
            return Err(BookRefusal::Invalid);
        }
        if now_ns.saturating_sub(state.book_ns) > stale_ns {
            return Err(BookRefusal::Stale);
        }
        let newest = |price: Price, qty: Qty, l2: Level| {
            if price.is_positive() && qty.is_positive() {
                Level { price, qty }
            } else {
                l2
            }
        };
        let best_bid = newest(state.bid, state.bid_qty, top.bids[0]);
        let best_ask = newest(state.ask, state.ask_qty, top.asks[0]);
        let (bids, bid_count) = levels(best_bid, &top.bids, top.bid_count, |p| p < best_bid.price);
        let (asks, ask_count) = levels(best_ask, &top.asks, top.ask_count, |p| p > best_ask.price);
        let ((bid, bid_qty), (ask, ask_qty)) = (bids[0], asks[0]);
        // A crossed or non-positive top is a broken book, whatever its flag says.
        if !(bid > 0.0 && ask > bid && bid_qty > 0.0 && ask_qty > 0.0) {
            return Err(BookRefusal::Invalid);
        }
        let mid = (bid + ask) / 2.0;
        Ok(Self {
            bid_price: best_bid.price,
            ask_price: best_ask.price,
            bid,
            ask,
            mid,
            spread_bps: (ask - bid) / mid * 1e4,
            depth_quote: bid_qty * bid + ask_qty * ask,
            imbalance: (bid_qty - ask_qty) / (bid_qty + ask_qty),
            bids,
            asks,
            bid_count,
            ask_count,
        })
    }

    /// Estimated slippage from the mid, bps, of a market entry of `notional` on `side`
    /// (`None`: the visible levels cannot hold it).
    pub fn market_slippage_bps(&self, side: Side, notional: f64) -> Option<f64> {
        let (levels, count) = match side {
            Side::Buy => (&self.asks, self.ask_count),
            Side::Sell => (&self.bids, self.bid_count),
        };
        if notional.is_nan() || notional <= 0.0 {
            return None;
        }
        let (mut remaining, mut qty) = (notional, 0.0);
        for &(price, level_qty) in &levels[..count] {
            if price <= 0.0 {
                break;
            }
            let take = remaining.min(price * level_qty);
            qty += take / price;
            remaining -= take;
            if remaining <= notional * 1e-12 {
                let average = notional / qty;
                let distance = match side {
                    Side::Buy => average - self.mid,
                    Side::Sell => self.mid - average,
                };
                let slip = distance / self.mid * 1e4;
                return slip.is_finite().then_some(slip);
            }
        }
        None
    }

    /// Slippage from the mid, bps, of a limit entry at the far touch.
    pub fn touch_slippage_bps(&self, side: Side) -> f64 {
        let distance = match side {
            Side::Buy => self.ask - self.mid,
            Side::Sell => self.mid - self.bid,
        };
        distance / self.mid * 1e4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::BookTop;

    fn state(bids: &[(&str, &str)], asks: &[(&str, &str)], book_ns: u64) -> SymbolState {
        let mut top = BookTop {
            valid: true,
            bid_count: bids.len() as u8,
            ask_count: asks.len() as u8,
            ..BookTop::default()
        };
        let level = |(p, q): &(&str, &str)| Level {
            price: Price::parse(p).expect("price"),
            qty: Qty::parse(q).expect("qty"),
        };
        for (slot, l) in top.bids.iter_mut().zip(bids) {
            *slot = level(l);
        }
        for (slot, l) in top.asks.iter_mut().zip(asks) {
            *slot = level(l);
        }
        SymbolState {
            top,
            book_valid: true,
            book_ns,
            ..SymbolState::default()
        }
    }

    #[test]
    fn reads_spread_depth_and_imbalance_of_the_first_level() {
        let s = state(&[("99.99", "3")], &[("100.01", "1")], 10);
        let book = BookRead::of(&s, 10, 5).expect("usable");
        assert!((book.spread_bps - 2.0).abs() < 1e-9);
        assert!((book.depth_quote - (3.0 * 99.99 + 100.01)).abs() < 1e-9);
        assert!((book.imbalance - 0.5).abs() < 1e-12);
    }

    #[test]
    fn refuses_invalid_one_sided_crossed_and_stale_books() {
        let good = state(&[("99", "1")], &[("101", "1")], 100);
        assert!(BookRead::of(&good, 105, 5).is_ok());
        assert_eq!(BookRead::of(&good, 106, 5), Err(BookRefusal::Stale));
        let mut resyncing = good;
        resyncing.book_valid = false;
        assert_eq!(BookRead::of(&resyncing, 100, 5), Err(BookRefusal::Invalid));
        let one_sided = state(&[("99", "1")], &[], 100);
        assert_eq!(BookRead::of(&one_sided, 100, 5), Err(BookRefusal::Invalid));
        let crossed = state(&[("101", "1")], &[("99", "1")], 100);
        assert_eq!(BookRead::of(&crossed, 100, 5), Err(BookRefusal::Invalid));
        let never = SymbolState::default();
        assert_eq!(BookRead::of(&never, 100, 5), Err(BookRefusal::Invalid));
    }

    #[test]
    fn the_newest_touch_wins_and_deeper_l2_levels_behind_it_are_kept() {
        let mut s = state(
            &[("99", "1"), ("98", "1")],
            &[("101", "1"), ("102", "1"), ("103", "1")],
            1,
        );
        // bookTicker moved up: ask 101.5 × 2, bid 100.5 × 1.
        s.bid = Price::parse("100.5").expect("price");
        s.bid_qty = Qty::parse("1").expect("qty");
        s.ask = Price::parse("101.5").expect("price");
        s.ask_qty = Qty::parse("2").expect("qty");
        let book = BookRead::of(&s, 1, 5).expect("usable");
        assert_eq!(book.ask_price, Price::parse("101.5").expect("price"));
        assert!((book.mid - 101.0).abs() < 1e-12);
        // 2 at 101.5, then 102 and 103 (101 is no longer beyond the touch): 405 quote
        // takes 2 × 101.5 + 1 × 102 + 100/103.
        let walk = book.market_slippage_bps(Side::Buy, 405.0).expect("fits");
        let average = 405.0 / (3.0 + 100.0 / 103.0);
        assert!((walk - (average - 101.0) / 101.0 * 1e4).abs() < 1e-9);
        assert_eq!(book.market_slippage_bps(Side::Buy, 511.0), None);
    }

    #[test]
    fn slippage_is_half_the_spread_plus_the_walk_and_none_past_the_visible_levels() {
        let s = state(
            &[("99", "1"), ("98", "1")],
            &[("101", "1"), ("102", "1")],
            1,
        );
        let book = BookRead::of(&s, 1, 5).expect("usable");
        // 50.5 quote fits in the first ask level: average 101, 100 bps above the mid 100.
        let inside = book.market_slippage_bps(Side::Buy, 50.5).expect("fits");
        assert!((inside - 100.0).abs() < 1e-9);
        // 203 quote: 1 at 101 and 1 at 102, average 101.5.
        let walk = book.market_slippage_bps(Side::Buy, 203.0).expect("fits");
        assert!((walk - 150.0).abs() < 1e-9);
        // Sell of 99 + 98: average 98.5, 150 bps under the mid.
        let sell = book.market_slippage_bps(Side::Sell, 197.0).expect("fits");
        assert!((sell - 150.0).abs() < 1e-9);
        assert_eq!(book.market_slippage_bps(Side::Buy, 204.0), None);
        assert_eq!(book.market_slippage_bps(Side::Buy, 0.0), None);
        assert!((book.touch_slippage_bps(Side::Sell) - 100.0).abs() < 1e-9);
    }
}
