//! Owns: the arithmetic of one position: booking a fill onto its signed quantity and cost
//! basis (open, increase, reduce, close, flip) and its unrealized PnL at a mark.
//! Never: touches balances, fees or marks (the portfolio does), or rounds in a way that drifts.

use crate::core::decimal::{mul_div_raw, SCALE};
use crate::core::{Market, Notional, Price, Qty, SymbolId};

use super::PairAssets;

/// One position: signed quantity, what it cost, and what it has earned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Position {
    pub market: Market,
    pub symbol: SymbolId,
    pub assets: PairAssets,
    /// Signed: long is positive, short negative; equals the sum of signed fill quantities.
    pub qty: Qty,
    /// Signed quote amount paid for the open quantity (negative for a short: received).
    pub cost_basis: Notional,
    /// Weighted entry price of the open quantity; zero when flat.
    pub avg_entry_price: Price,
    /// Realized PnL in the quote asset, before fees.
    pub realized_pnl: Notional,
    /// Fees converted into the quote asset.
    pub fees: Notional,
    /// Fills whose fee could not be priced in the quote asset when they happened.
    pub unconverted_fees: u32,
    /// Fills applied.
    pub fill_count: u64,
}

impl Position {
    pub(super) fn flat(market: Market, symbol: SymbolId, assets: PairAssets) -> Self {
        Self {
            market,
            symbol,
            assets,
            qty: Qty::ZERO,
            cost_basis: Notional::ZERO,
            avg_entry_price: Price::ZERO,
            realized_pnl: Notional::ZERO,
            fees: Notional::ZERO,
            unconverted_fees: 0,
            fill_count: 0,
        }
    }

    /// Unrealized PnL at `mark` in the quote asset; `None` on overflow.
    pub fn unrealized_pnl(&self, mark: Price) -> Option<Notional> {
        mark.notional(self.qty)?.checked_sub(self.cost_basis)
    }

    /// True when no quantity is open.
    pub fn is_flat(&self) -> bool {
        self.qty.is_zero()
    }
}

/// How a fill changed its position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PositionChange {
    /// From flat to open.
    Opened,
    /// Same side, larger.
    Increased,
    /// Same side, smaller.
    Reduced,
    /// Back to flat.
    Closed,
    /// Through zero to the other side.
    Flipped,
}

/// The work of one fill, computed before anything is written.
pub(crate) struct Booking {
    pub(crate) change: PositionChange,
    pub(crate) qty: Qty,
    pub(crate) cost_basis: Notional,
    pub(crate) avg_entry_price: Price,
    pub(crate) realized: Notional,
    /// Quote paid (positive) or received (negative) for the whole fill, before fees.
    pub(crate) signed_notional: Notional,
}

/// Books a fill of `signed_qty` at `price` on top of (`qty`, `cost_basis`, `avg`).
pub(crate) fn book_fill(
    qty: Qty,
    cost_basis: Notional,
    avg: Price,
    signed_qty: Qty,
    price: Price,
) -> Option<Booking> {
    let sign = |value: Notional| {
        if signed_qty.is_positive() {
            value
        } else {
            value.neg()
        }
    };
    let fill_abs = signed_qty.abs();
    let notional = price.notional(fill_abs)?;
    let signed_notional = sign(notional);
    let new_qty = qty.checked_add(signed_qty)?;
    let same_side = qty.is_zero() || (qty.is_positive() == signed_qty.is_positive());
    if same_side {
        let cost = cost_basis.checked_add(signed_notional)?;
        let avg_entry_price = if qty.is_zero() {
            price
        } else {
            Price::from_raw(mul_div_raw(cost.raw(), SCALE, new_qty.raw())?.abs())
        };
        let change = if qty.is_zero() {
            PositionChange::Opened
        } else {
            PositionChange::Increased
        };
        return Some(Booking {
            change,
            qty: new_qty,
            cost_basis: cost,
            avg_entry_price,
            realized: Notional::ZERO,
            signed_notional,
        });
    }
    let open_abs = qty.abs();
    if fill_abs <= open_abs {
        // The share of the cost basis the closed quantity carried (all of it on a close).
        let released = if fill_abs == open_abs {
            cost_basis
        } else {
            Notional::from_raw(mul_div_raw(
                cost_basis.raw(),
                fill_abs.raw(),
                open_abs.raw(),
            )?)
        };
        let realized = signed_notional.neg().checked_sub(released)?;
        let closed = new_qty.is_zero();
        return Some(Booking {
            change: if closed {
                PositionChange::Closed
            } else {
                PositionChange::Reduced
            },
            qty: new_qty,
            cost_basis: cost_basis.checked_sub(released)?,
            avg_entry_price: if closed { Price::ZERO } else { avg },
            realized,
            signed_notional,
        });
    }
    // Flip: close the whole open side at the fill price, open the rest at the fill price.
    // The notional is split so both parts add up to the fill's notional exactly.
    let close_notional = sign(price.notional(open_abs)?);
    let open_notional = signed_notional.checked_sub(close_notional)?;
    Some(Booking {
        change: PositionChange::Flipped,
        qty: new_qty,
        cost_basis: open_notional,
        avg_entry_price: price,
        realized: close_notional.neg().checked_sub(cost_basis)?,
        signed_notional,
    })
}
