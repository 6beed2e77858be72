//! Owns: round trips (trades) per strategy and symbol built from fills, with average-cost PnL
//! exact in `Notional` and every fee charged to the trade it was paid in. Never: reads marks
//! or equity (the curves do) or goes through `f64`.
//!
//! A trade opens when the (strategy, symbol) position leaves zero and closes when it returns
//! to zero. A fill that flips the position closes the open trade with the part that brings it
//! to zero and opens the next trade with the remainder; its fee is split between the two in
//! proportion to quantity (the closing share truncated, the opening share the exact rest).
//! PnL is the portfolio's own booking (`oms::portfolio::book_fill`): a reduction realizes
//! exit notional minus the share of the cost basis it releases.

use std::collections::BTreeMap;

use crate::core::decimal::{mul_div_raw, SCALE};
use crate::core::{Fill, Notional, Price, Qty, Side, StrategyId, SymbolId};
use crate::oms::portfolio::book_fill;

use super::ReportError;

/// One round trip of one strategy on one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// 1-based, in the order trades opened.
    pub id: u64,
    pub strategy: StrategyId,
    pub symbol: SymbolId,
    /// `Buy` for a long trade, `Sell` for a short one.
    pub direction: Side,
    pub open_ts_ns: u64,
    /// `None` while the position is still open at the end of the run.
    pub close_ts_ns: Option<u64>,
    /// Quantity bought (long) or sold (short) into the trade.
    pub entry_qty: Qty,
    /// |price × qty| of the entries.
    pub entry_notional: Notional,
    /// Quantity taken out of the trade.
    pub exit_qty: Qty,
    /// |price × qty| of the exits.
    pub exit_notional: Notional,
    /// Fills that touched the trade (a flipping fill counts in both trades).
    pub fills: u32,
    /// Realized PnL before fees.
    pub gross_pnl: Notional,
    /// Fees charged to the trade, quote currency.
    pub fees: Notional,
}

impl Trade {
    /// Realized PnL after fees.
    pub fn net_pnl(&self) -> Notional {
        self.gross_pnl.saturating_sub(self.fees)
    }

    /// True once the position went back to zero.
    pub fn is_closed(&self) -> bool {
        self.close_ts_ns.is_some()
    }

    /// Quantity-weighted entry price (truncated to 1e-18).
    pub fn avg_entry_price(&self) -> Option<Price> {
        average_price(self.entry_notional, self.entry_qty)
    }

    /// Quantity-weighted exit price; `None` before the first exit.
    pub fn avg_exit_price(&self) -> Option<Price> {
        average_price(self.exit_notional, self.exit_qty)
    }
}

fn average_price(notional: Notional, qty: Qty) -> Option<Price> {
    if qty.is_zero() {
        return None;
    }
    mul_div_raw(notional.raw(), SCALE, qty.raw()).map(Price::from_raw)
}

/// One (strategy, symbol) position as the report books it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenPosition {
    /// Signed: long positive.
    pub qty: Qty,
    /// Signed quote paid for the open quantity (negative for a short).
    pub cost_basis: Notional,
    avg_entry_price: Price,
    open_trade: Option<usize>,
}

impl OpenPosition {
    /// PnL of the open quantity at `price`; saturates instead of overflowing.
    pub fn unrealized_pnl(&self, price: Price) -> Notional {
        match price.notional(self.qty) {
            Some(value) => value.saturating_sub(self.cost_basis),
            None if self.qty.is_positive() => Notional::MAX,
            None => Notional::MAX.neg(),
        }
    }
}

/// What one fill did to its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillBooked {
    /// Realized PnL before fees.
    pub realized: Notional,
    /// |price × qty|.
    pub notional: Notional,
    pub was_flat: bool,
    pub is_flat: bool,
}

/// Books fills into positions and round trips.
#[derive(Debug, Default)]
pub struct TradeBuilder {
    positions: BTreeMap<(StrategyId, SymbolId), OpenPosition>,
    trades: Vec<Trade>,
}

impl TradeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Books `fill` (executed at `ts_ns`); `index` names it in errors.
    pub fn on_fill(
        &mut self,
        index: usize,
        ts_ns: u64,
        fill: &Fill,
    ) -> Result<FillBooked, ReportError> {
        let overflow = || ReportError::Overflow { fill: index, ts_ns };
        if !fill.qty.is_positive() || !fill.price.is_positive() {
            return Err(ReportError::BadFill { fill: index, ts_ns });
        }
        let key = (fill.strategy, fill.symbol);
        let position = self.positions.entry(key).or_default();
        let signed_qty = match fill.side {
            Side::Buy => fill.qty,
            Side::Sell => fill.qty.neg(),
        };
        let booking = book_fill(
            position.qty,
            position.cost_basis,
            position.avg_entry_price,
            signed_qty,
            fill.price,
        )
        .ok_or_else(overflow)?;
        let notional = booking.signed_notional.abs();
        let was_flat = position.qty.is_zero();
        let open_abs = position.qty.abs();
        let adds = was_flat || position.qty.is_positive() == signed_qty.is_positive();

        if adds {
            let slot = match position.open_trade {
                Some(slot) => slot,
                None => {
                    self.trades
                        .push(new_trade(self.trades.len(), fill, ts_ns, fill.side));
                    self.trades.len() - 1
                }
            };
            let trade = &mut self.trades[slot];
            trade.entry_qty = trade.entry_qty.checked_add(fill.qty).ok_or_else(overflow)?;
            trade.entry_notional = trade
                .entry_notional
                .checked_add(notional)
                .ok_or_else(overflow)?;
            trade.fees = trade.fees.checked_add(fill.fee).ok_or_else(overflow)?;
            trade.fills += 1;
            position.open_trade = Some(slot);
        } else {
            let slot = position
                .open_trade
                .ok_or(ReportError::Inconsistent { fill: index, ts_ns })?;
            let closing_qty = if fill.qty <= open_abs {
                fill.qty
            } else {
                open_abs
            };
            let remainder = fill.qty.checked_sub(closing_qty).ok_or_else(overflow)?;
            let closing_notional = fill.price.notional(closing_qty).ok_or_else(overflow)?;
            let closing_fee = if remainder.is_zero() {
                fill.fee
            } else {
                Notional::from_raw(
                    mul_div_raw(fill.fee.raw(), closing_qty.raw(), fill.qty.raw())
                        .ok_or_else(overflow)?,
                )
            };
            let trade = &mut self.trades[slot];
            trade.exit_qty = trade
                .exit_qty
                .checked_add(closing_qty)
                .ok_or_else(overflow)?;
            trade.exit_notional = trade
                .exit_notional
                .checked_add(closing_notional)
                .ok_or_else(overflow)?;
            trade.gross_pnl = trade
                .gross_pnl
                .checked_add(booking.realized)
                .ok_or_else(overflow)?;
            trade.fees = trade.fees.checked_add(closing_fee).ok_or_else(overflow)?;
            trade.fills += 1;
            if booking.qty.is_zero() || !remainder.is_zero() {
                trade.close_ts_ns = Some(ts_ns);
                position.open_trade = None;
            }
            if !remainder.is_zero() {
                let mut next = new_trade(self.trades.len(), fill, ts_ns, fill.side);
                next.entry_qty = remainder;
                next.entry_notional = notional
                    .checked_sub(closing_notional)
                    .ok_or_else(overflow)?;
                next.fees = fill.fee.checked_sub(closing_fee).ok_or_else(overflow)?;
                next.fills = 1;
                self.trades.push(next);
                position.open_trade = Some(self.trades.len() - 1);
            }
        }
        position.qty = booking.qty;
        position.cost_basis = booking.cost_basis;
        position.avg_entry_price = booking.avg_entry_price;
        Ok(FillBooked {
            realized: booking.realized,
            notional,
            was_flat,
            is_flat: booking.qty.is_zero(),
        })
    }

    /// The open positions of `strategy`, by symbol.
    pub fn positions_of(
        &self,
        strategy: StrategyId,
    ) -> impl Iterator<Item = (SymbolId, &OpenPosition)> + '_ {
        self.positions
            .range((strategy, SymbolId(0))..=(strategy, SymbolId(u32::MAX)))
            .map(|(&(_, symbol), position)| (symbol, position))
    }

    /// Every position, by (strategy, symbol).
    pub fn positions(&self) -> impl Iterator<Item = (&(StrategyId, SymbolId), &OpenPosition)> {
        self.positions.iter()
    }

    /// The trades, in the order they opened (open ones included).
    pub fn into_trades(self) -> Vec<Trade> {
        self.trades
    }
}

fn new_trade(slot: usize, fill: &Fill, ts_ns: u64, direction: Side) -> Trade {
    Trade {
        id: slot as u64 + 1,
        strategy: fill.strategy,
        symbol: fill.symbol,
        direction,
        open_ts_ns: ts_ns,
        close_ts_ns: None,
        entry_qty: Qty::ZERO,
        entry_notional: Notional::ZERO,
        exit_qty: Qty::ZERO,
        exit_notional: Notional::ZERO,
        fills: 0,
        gross_pnl: Notional::ZERO,
        fees: Notional::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ClientOrderId;

    pub(crate) fn fill(strategy: u16, side: Side, qty: &str, price: &str, fee: &str) -> Fill {
        Fill {
            client_order_id: ClientOrderId(1),
            strategy: StrategyId(strategy),
            symbol: SymbolId(0),
            side,
            price: Price::parse(price).expect("test price"),
            qty: Qty::parse(qty).expect("test qty"),
            fee: Notional::parse(fee).expect("test fee"),
            venue_trade_id: 0,
            is_maker: false,
        }
    }

    fn n(text: &str) -> Notional {
        Notional::parse(text).expect("test notional")
    }

    fn book(fills: &[Fill]) -> Vec<Trade> {
        let mut builder = TradeBuilder::new();
        for (index, f) in fills.iter().enumerate() {
            builder
                .on_fill(index, 1_000 * (index as u64 + 1), f)
                .expect("test fills book");
        }
        builder.into_trades()
    }

    #[test]
    fn long_round_trip_pnl_is_price_move_minus_both_fees_exactly() {
        let trades = book(&[
            fill(1, Side::Buy, "0.01", "60000", "0.6"),
            fill(1, Side::Sell, "0.01", "60600", "0.606"),
        ]);
        assert_eq!(trades.len(), 1);
        let trade = &trades[0];
        assert_eq!(trade.direction, Side::Buy);
        assert_eq!(trade.gross_pnl, n("6"));
        assert_eq!(trade.fees, n("1.206"));
        assert_eq!(trade.net_pnl(), n("4.794"));
        assert_eq!(trade.open_ts_ns, 1_000);
        assert_eq!(trade.close_ts_ns, Some(2_000));
        assert_eq!(trade.avg_entry_price(), Some(Price::from_int(60_000)));
        assert_eq!(trade.avg_exit_price(), Some(Price::from_int(60_600)));
        assert_eq!(trade.fills, 2);
    }

    #[test]
    fn losing_short_round_trip() {
        // Short 0.5 at 3000, buy back at 3010: −5 gross, fees 1.5 + 1.505.
        let trades = book(&[
            fill(2, Side::Sell, "0.5", "3000", "1.5"),
            fill(2, Side::Buy, "0.5", "3010", "1.505"),
        ]);
        assert_eq!(trades.len(), 1);
        assert_eq!(trades[0].direction, Side::Sell);
        assert_eq!(trades[0].gross_pnl, n("-5"));
        assert_eq!(trades[0].net_pnl(), n("-8.005"));
    }

    #[test]
    fn flip_closes_one_trade_and_opens_the_next_with_the_remainder_and_its_fee_share() {
        let trades = book(&[
            fill(1, Side::Buy, "0.01", "60000", "0.6"),
            // 0.01 closes the long (605 − 600 = +5), 0.02 opens a short at 60500; the fee
            // 1.815 splits 0.605 / 1.21 by quantity.
            fill(1, Side::Sell, "0.03", "60500", "1.815"),
            // Buy back 0.02 at 60000: 1210 − 1200 = +10.
            fill(1, Side::Buy, "0.02", "60000", "1.2"),
        ]);
        assert_eq!(trades.len(), 2);
        assert_eq!(trades[0].gross_pnl, n("5"));
        assert_eq!(trades[0].fees, n("1.205"));
        assert_eq!(trades[0].net_pnl(), n("3.795"));
        assert_eq!(trades[0].close_ts_ns, Some(2_000));
        assert_eq!(trades[1].direction, Side::Sell);
        assert_eq!(trades[1].open_ts_ns, 2_000);
        assert_eq!(trades[1].entry_qty, Qty::parse("0.02").expect("qty"));
        assert_eq!(trades[1].avg_entry_price(), Some(Price::from_int(60_500)));
        assert_eq!(trades[1].gross_pnl, n("10"));
        assert_eq!(trades[1].fees, n("2.41"));
        assert_eq!(trades[1].net_pnl(), n("7.59"));
        assert_eq!(trades[1].close_ts_ns, Some(3_000));
        // Fees are conserved across the split.
        assert_eq!(trades[0].fees.saturating_add(trades[1].fees), n("3.615"));
    }

    #[test]
    fn partial_closes_release_average_cost_and_stay_one_trade() {
        let trades = book(&[
            fill(1, Side::Buy, "0.01", "60000", "0"),
            fill(1, Side::Buy, "0.01", "61000", "0"),
            // Average cost 60500: 0.005 at 62000 realizes 310 − 302.5 = 7.5.
            fill(1, Side::Sell, "0.005", "62000", "0.31"),
            // The remaining 0.015 at 60000 realizes 900 − 907.5 = −7.5.
            fill(1, Side::Sell, "0.015", "60000", "0.9"),
        ]);
        assert_eq!(trades.len(), 1);
        let trade = &trades[0];
        assert_eq!(trade.entry_qty, Qty::parse("0.02").expect("qty"));
        assert_eq!(trade.avg_entry_price(), Some(Price::from_int(60_500)));
        assert_eq!(
            trade.avg_exit_price(),
            Some(Price::parse("60500").expect("p"))
        );
        assert_eq!(trade.gross_pnl, Notional::ZERO);
        assert_eq!(trade.net_pnl(), n("-1.21"));
        assert_eq!(trade.fills, 4);
        assert!(trade.is_closed());
    }

    #[test]
    fn partial_close_leaves_the_trade_open_with_its_realized_part() {
        let mut builder = TradeBuilder::new();
        builder
            .on_fill(0, 10, &fill(1, Side::Buy, "0.02", "60000", "1.2"))
            .expect("books");
        let booked = builder
            .on_fill(1, 20, &fill(1, Side::Sell, "0.005", "62000", "0.31"))
            .expect("books");
        assert_eq!(booked.realized, n("10"));
        assert!(!booked.was_flat && !booked.is_flat);
        let open: Vec<_> = builder.positions_of(StrategyId(1)).collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].1.qty, Qty::parse("0.015").expect("qty"));
        assert_eq!(open[0].1.unrealized_pnl(Price::from_int(61_000)), n("15"));
        let trades = builder.into_trades();
        assert_eq!(trades.len(), 1);
        assert!(!trades[0].is_closed());
        assert_eq!(trades[0].net_pnl(), n("8.49"));
    }

    #[test]
    fn strategies_on_the_same_symbol_keep_separate_trades() {
        let trades = book(&[
            fill(1, Side::Buy, "1", "100", "0"),
            fill(2, Side::Sell, "1", "100", "0"),
            fill(1, Side::Sell, "1", "101", "0"),
            fill(2, Side::Buy, "1", "99", "0"),
        ]);
        assert_eq!(trades.len(), 2);
        assert_eq!(
            (trades[0].strategy, trades[0].gross_pnl),
            (StrategyId(1), n("1"))
        );
        assert_eq!(
            (trades[1].strategy, trades[1].gross_pnl),
            (StrategyId(2), n("1"))
        );
    }

    #[test]
    fn zero_quantity_fill_is_refused_with_its_index() {
        let mut builder = TradeBuilder::new();
        let error = builder
            .on_fill(7, 99, &fill(1, Side::Buy, "0", "100", "0"))
            .expect_err("zero qty");
        assert_eq!(error, ReportError::BadFill { fill: 7, ts_ns: 99 });
    }
}
