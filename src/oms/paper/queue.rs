//! Owns: where a resting paper order stands in the queue at its price — the quantity ahead
//! of it, moved by trades at that price and by the level's published quantity — under the
//! queue models of hftbacktest (`RiskAdverseQueueModel`, `ProbQueueModel` with
//! `PowerProbQueueFunc`), in exact fixed point. Never: fills anything (that is `matching`),
//! allocates, or draws a random number (the probabilistic model moves the queue by its
//! expected value, so runs stay reproducible).
//!
//! How it follows hftbacktest (`backtest/models/queue.rs`) and where it differs:
//! - **Start.** The quantity ahead is the visible level quantity at our price when the order
//!   starts resting (hftbacktest: `new_order`). Ours differs for prices the five visible
//!   levels do not reach: the queue is unknown until the level first shows, and from then on
//!   starts at that level's quantity. A price inside the visible range with no level there
//!   starts at zero.
//! - **Trades** at our price whose taker is on the other side (a sell hits our bid, as
//!   hftbacktest checks buy orders against sell trades only) reduce the quantity ahead by the
//!   trade's quantity (`trade`); what the trade takes beyond the queue fills us, rounded down
//!   to the lot step (hftbacktest: `is_filled` floors to the lot size). hftbacktest lets the
//!   quantity ahead go negative and fills `min(-ahead, trade, leaves)`; we stop it at zero
//!   and fill `min(trade − ahead before, leaves)`, the same quantity, since a trade after the
//!   queue is gone fills up to its own size either way. Ours differs when several of our
//!   orders take part in one trade: hftbacktest gives each the whole trade, we share it in
//!   arrival order (the part our earlier orders took counts as ahead of later ones).
//! - **Level changes** (`depth`) apply when the published quantity at our price differs from
//!   the one last seen: risk-averse keeps `min(ahead, new level)`; probabilistic takes the
//!   decrease net of the trades at our price since the last change (hftbacktest's
//!   `cum_trade_qty`, so a trade and the level decrease it causes are counted once, no
//!   better than hftbacktest does: a decrease larger than the trades is split by the
//!   probability, the trades' share is not), resets that sum, and for a net decrease `chg`
//!   with `front` ahead and `back = previous level − front` behind:
//!   `p = back^n / (back^n + front^n)`, `ahead = min(front − (1 − p)·chg + min(back − p·chg,
//!   0), new level)`. A net increase keeps `min(ahead, new level)`. We also stop `ahead` at
//!   zero (see trades). `n` is an integer power; `p` is computed as `1 / (1 + (front/back)^n)`
//!   or `r^n / (1 + r^n)` with `r = back/front ≤ 1`, truncated at 1e-18 at each step.
//! - **Hidden levels.** When the level leaves the visible range (the book moved away) the
//!   queue keeps its last state; when it shows again, the change since it was last seen
//!   applies as one level change.

use crate::core::decimal::{mul_div_raw, mul_raw, SCALE};
use crate::core::{Level, Price, Qty, Side};

/// How resting limit orders advance in the queue at their price.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum QueueModel {
    /// No queue: a trade at the limit fills only under [`super::TradeFillRule::Touch`].
    #[default]
    Off,
    /// hftbacktest's `RiskAdverseQueueModel`: trades at our price advance us; a level
    /// decrease only caps the quantity ahead at the new level.
    RiskAverse,
    /// hftbacktest's `ProbQueueModel` with `PowerProbQueueFunc(power)`: a level decrease not
    /// explained by trades is taken from ahead of us with probability
    /// `front^power / (front^power + back^power)` (expected value, no randomness).
    Probabilistic { power: u32 },
}

/// One resting order's place in its price level's queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueSpot {
    /// Quantity ahead of us; `None` until the level was visible once.
    pub ahead: Option<Qty>,
    /// The level quantity at our price when last seen.
    pub level_seen: Qty,
    /// Trade quantity at our price since the level last changed (hftbacktest's
    /// `cum_trade_qty`).
    pub traded_since_change: Qty,
}

/// The published quantity at `price` among `levels` (one side, best first) of an order on
/// `side`: `Some(zero)` for a price inside the visible range without a level, `None` for a
/// price past the worst visible level (or no level at all).
pub fn level_qty_at(levels: &[Level], side: Side, price: Price) -> Option<Qty> {
    let worst = levels.last()?;
    let inside = match side {
        Side::Buy => price >= worst.price,
        Side::Sell => price <= worst.price,
    };
    if !inside {
        return None;
    }
    Some(
        levels
            .iter()
            .find(|l| l.price == price)
            .map_or(Qty::ZERO, |l| l.qty),
    )
}

impl QueueSpot {
    /// The queue of an order that starts resting where the level shows `level` (see
    /// [`level_qty_at`]).
    pub fn start(level: Option<Qty>) -> Self {
        Self {
            ahead: level,
            level_seen: level.unwrap_or(Qty::ZERO),
            traded_since_change: Qty::ZERO,
        }
    }

    /// A trade of `qty` printed at our price.
    pub fn on_trade(&mut self, qty: Qty) {
        if let Some(ahead) = self.ahead {
            self.ahead = Some(ahead.saturating_sub(qty).max(Qty::ZERO));
            self.traded_since_change = self.traded_since_change.saturating_add(qty);
        }
    }

    /// The level at our price is visible now with `level` (`None`: not visible).
    pub fn on_level(&mut self, model: QueueModel, level: Option<Qty>) {
        let Some(new_qty) = level else {
            return;
        };
        let Some(front) = self.ahead else {
            *self = Self::start(level);
            return;
        };
        if new_qty == self.level_seen {
            return;
        }
        let prev_qty = self.level_seen;
        self.level_seen = new_qty;
        let traded = std::mem::replace(&mut self.traded_since_change, Qty::ZERO);
        let ahead = match model {
            QueueModel::Off => front,
            QueueModel::RiskAverse => front.min(new_qty),
            QueueModel::Probabilistic { power } => {
                let change = prev_qty
                    .raw()
                    .saturating_sub(new_qty.raw())
                    .saturating_sub(traded.raw());
                if change < 0 {
                    front.min(new_qty)
                } else {
                    expected_front(front, prev_qty, change, power).min(new_qty)
                }
            }
        };
        self.ahead = Some(ahead.max(Qty::ZERO));
    }
}

/// hftbacktest's `est_front` for a net decrease of `change` raw units.
fn expected_front(front: Qty, prev_qty: Qty, change: i128, power: u32) -> Qty {
    let front = front.raw();
    let back = prev_qty.raw().saturating_sub(front).max(0);
    let prob = back_probability(front, back, power);
    let not_prob = SCALE - prob;
    let from_front = mul_raw(not_prob, change).unwrap_or(i128::MAX);
    let behind_left = back.saturating_sub(mul_raw(prob, change).unwrap_or(i128::MAX));
    Qty::from_raw(
        front
            .saturating_sub(from_front)
            .saturating_add(behind_left.min(0)),
    )
}

/// `back^n / (back^n + front^n)` as a raw 1e-18 ratio, computed from the ratio of the
/// smaller to the larger so nothing overflows; both zero gives one (hftbacktest's infinite
/// probability rule; the result is then the same for any probability).
fn back_probability(front: i128, back: i128, power: u32) -> i128 {
    if front <= 0 && back <= 0 {
        return SCALE;
    }
    if front <= back {
        // p = 1 / (1 + (front/back)^n)
        let r = mul_div_raw(front, SCALE, back).unwrap_or(SCALE);
        let rn = pow_ratio(r, power);
        mul_div_raw(SCALE, SCALE, SCALE.saturating_add(rn)).unwrap_or(0)
    } else {
        // p = (back/front)^n / (1 + (back/front)^n)
        let r = mul_div_raw(back, SCALE, front).unwrap_or(0);
        let rn = pow_ratio(r, power);
        mul_div_raw(rn, SCALE, SCALE.saturating_add(rn)).unwrap_or(0)
    }
}

/// `r^n` for a raw ratio `0 ≤ r ≤ 1`, by squaring, truncating at each product.
fn pow_ratio(r: i128, mut power: u32) -> i128 {
    let mut result = SCALE;
    let mut base = r;
    while power > 0 {
        if power & 1 == 1 {
            result = mul_raw(result, base).unwrap_or(0);
        }
        power >>= 1;
        if power > 0 {
            base = mul_raw(base, base).unwrap_or(0);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Qty {
        Qty::parse(text).expect("test literal is a valid decimal")
    }
    fn p(text: &str) -> Price {
        Price::parse(text).expect("test literal is a valid decimal")
    }

    #[test]
    fn level_lookup_tells_a_missing_level_inside_the_range_from_one_beyond_it() {
        let bids = [
            Level {
                price: p("100"),
                qty: q("1"),
            },
            Level {
                price: p("98"),
                qty: q("2"),
            },
        ];
        assert_eq!(level_qty_at(&bids, Side::Buy, p("98")), Some(q("2")));
        assert_eq!(level_qty_at(&bids, Side::Buy, p("99")), Some(Qty::ZERO));
        assert_eq!(level_qty_at(&bids, Side::Buy, p("100.5")), Some(Qty::ZERO));
        assert_eq!(level_qty_at(&bids, Side::Buy, p("97.99")), None);
        assert_eq!(level_qty_at(&[], Side::Buy, p("100")), None);
        let asks = [Level {
            price: p("101"),
            qty: q("3"),
        }];
        assert_eq!(level_qty_at(&asks, Side::Sell, p("100.5")), Some(Qty::ZERO));
        assert_eq!(level_qty_at(&asks, Side::Sell, p("102")), None);
    }

    #[test]
    fn power_probability_matches_the_closed_form() {
        // front 2.5, back 1.5: r = 0.6; n = 2 → 0.36 / 1.36 = 9/34; n = 3 → 0.216 / 1.216.
        let (front, back) = (q("2.5").raw(), q("1.5").raw());
        assert_eq!(back_probability(front, back, 2), 264_705_882_352_941_176);
        assert_eq!(back_probability(front, back, 3), 177_631_578_947_368_421);
        // Mirror: front 1.5, back 2.5 → 1 / (1 + 0.36) = 25/34.
        assert_eq!(back_probability(back, front, 2), 735_294_117_647_058_823);
        assert_eq!(back_probability(front, 0, 2), 0);
        assert_eq!(back_probability(0, back, 2), SCALE);
        assert_eq!(back_probability(front, back, 0), SCALE / 2);
    }

    #[test]
    fn a_net_decrease_is_split_by_the_probability_and_never_leaves_a_negative_queue() {
        // front 1, level 3 (back 2) → 0.5, no trades: chg 2.5, n = 1: p = 1 / (1 + 1/2),
        // truncated 0.666666666666666666, so 1 − p = 0.333333333333333334 and
        // (1 − p)·2.5 = 0.833333333333333335; back − p·2.5 = 2 − 1.666666666666666665 > 0.
        // ahead = min(1 − 0.833333333333333335, 0.5) = 0.166666666666666665.
        let mut spot = QueueSpot {
            ahead: Some(q("1")),
            level_seen: q("3"),
            traded_since_change: Qty::ZERO,
        };
        spot.on_level(QueueModel::Probabilistic { power: 1 }, Some(q("0.5")));
        assert_eq!(spot.ahead, Some(Qty::from_raw(166_666_666_666_666_665)));
        // The level empties: whatever the split, nothing can be ahead of us any more.
        let mut drained = QueueSpot {
            ahead: Some(q("1")),
            level_seen: q("1.5"),
            traded_since_change: Qty::ZERO,
        };
        drained.on_level(QueueModel::Probabilistic { power: 1 }, Some(Qty::ZERO));
        assert_eq!(drained.ahead, Some(Qty::ZERO));
    }
}
