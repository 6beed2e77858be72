//! Owns: one venue account as the engine books it: positions per (market, symbol) with average
//! entry, realized and unrealized PnL and fees; balances per (wallet, asset); marks; equity.
//! Never: reads the clock, does I/O, uses floats for money, or prices a fee it cannot price as zero.
//!
//! Run one `Portfolio` per venue account (Binance, Bybit, the paper venue each get their own);
//! inside it the spot, margin and USDⓈ-M wallets are kept apart, keyed by [`Market`].
//!
//! Accounting is exact to 1e-18 and drift-free by construction: a position keeps its signed
//! cost basis (the quote paid for what is still open) rather than only an average price, so
//! for every fill `cash change = realized PnL − cost basis change − fee` holds to the last
//! unit, and a position closed to zero has a cost basis of exactly zero. The average entry
//! price is the cost basis over the quantity, taken when the position grows and left alone
//! when it shrinks; a fill that crosses zero closes the old side at its cost and opens the
//! new side at the fill price (the seed booked short sales as profit, D-09).
//!
//! Spot wallets hold coins, not just cash: a buy adds the base asset and spends the quote
//! asset, and equity values every coin at its mark, so buying is not a drawdown (D-08).
//! USDⓈ-M fills move no notional: the futures wallet takes the realized PnL and fees, and
//! open positions add their unrealized PnL to the margin balance and to equity.
//!
//! Fees are charged to the balance of the asset they were paid in (USDT, the base coin, BNB)
//! and converted into the position's quote asset at the fill price (base-asset fees) or the
//! current mark of `<fee asset><quote>` (BNB → BNBUSDT). A fee with no price yet stays only
//! in its asset's balance, is counted in the position's `unconverted_fees` and listed by
//! [`Portfolio::unconverted_fees`]; it is never booked as zero.
//!
//! The order manager de-duplicates fills (on symbol and venue trade id) before they reach
//! [`Portfolio::on_fill`]: applying a fill twice books it twice (the seed's D-10).
//! Register every instrument with [`Portfolio::add_instrument`] at start-up; then fills and
//! marks never allocate (a fill for an unregistered key allocates its slot once).

use crate::core::decimal::mul_raw;
use crate::core::{AssetName, Market, Notional, Price, Qty, Side, SymbolId};

use super::venue::VenueFill;

mod ledger;
mod position;

pub use ledger::PortfolioLedger;
pub(crate) use position::book_fill;
pub use position::{Position, PositionChange};

/// The two assets of a trading pair.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PairAssets {
    /// Asset bought or sold (`BTC` in `BTCUSDT`).
    pub base: AssetName,
    /// Asset prices and PnL are counted in (`USDT`).
    pub quote: AssetName,
}

/// An asset amount held in one wallet (negative: owed, e.g. a margin loan).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Balance {
    /// The wallet: spot, margin or the USDⓈ-M futures wallet.
    pub wallet: Market,
    pub asset: AssetName,
    pub qty: Qty,
}

/// What one fill did to the account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FillEffect {
    pub change: PositionChange,
    /// PnL this fill realized, in the quote asset, before fees.
    pub realized_pnl: Notional,
    /// The fee in the quote asset; `None` when it could not be priced (it stays unconverted).
    pub fee_in_quote: Option<Notional>,
    /// Position after the fill.
    pub position_qty: Qty,
    pub avg_entry_price: Price,
}

/// A balance overwritten by reconciliation, for the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BalanceCorrection {
    pub wallet: Market,
    pub asset: AssetName,
    pub before: Qty,
    pub after: Qty,
}

impl BalanceCorrection {
    /// `after − before` (saturating).
    pub fn delta(&self) -> Qty {
        self.after.saturating_sub(self.before)
    }
}

/// A position overwritten by reconciliation, for the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PositionCorrection {
    pub market: Market,
    pub symbol: SymbolId,
    pub qty_before: Qty,
    pub qty_after: Qty,
    pub entry_before: Price,
    pub entry_after: Price,
}

impl PositionCorrection {
    /// True when reconciliation found what the book already had.
    pub fn is_unchanged(&self) -> bool {
        self.qty_before == self.qty_after && self.entry_before == self.entry_after
    }
}

/// Account value in the valuation asset, with what could not be valued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Equity {
    /// Σ balances × their price + unrealized PnL of futures positions.
    pub value: Notional,
    /// Non-zero balances left out because their asset has no price yet.
    pub unpriced_assets: u32,
    /// Open futures positions left out because their symbol has no mark yet.
    pub unmarked_positions: u32,
}

impl Equity {
    /// True when everything held was valued.
    pub fn is_complete(&self) -> bool {
        self.unpriced_assets == 0 && self.unmarked_positions == 0
    }
}

/// The USDⓈ-M margin balance in one settlement asset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarginBalance {
    /// Futures wallet balance (deposits + realized PnL − fees).
    pub wallet: Notional,
    /// Unrealized PnL of the marked positions settled in the asset.
    pub unrealized: Notional,
    /// `wallet + unrealized`.
    pub margin_balance: Notional,
    /// Open positions without a mark (not in `unrealized`).
    pub unmarked_positions: u32,
}

/// Why a fill or a correction was refused; the account is unchanged when this is returned.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PortfolioError {
    /// The fill's numbers cannot be booked.
    #[error("fill {venue_trade_id} on {symbol:?} ({market:?}) refused: {reason}")]
    BadFill {
        symbol: SymbolId,
        market: Market,
        venue_trade_id: u64,
        reason: &'static str,
    },
    /// A result would not fit the fixed-point range.
    #[error(
        "position {symbol:?} ({market:?}): arithmetic overflow booking trade {venue_trade_id}"
    )]
    Overflow {
        symbol: SymbolId,
        market: Market,
        venue_trade_id: u64,
    },
}

/// Fee amounts that are still waiting for a price, per wallet and asset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnconvertedFee {
    pub wallet: Market,
    pub asset: AssetName,
    pub qty: Qty,
}

/// The account: positions, balances and marks; see the module docs for the rules.
#[derive(Clone, Debug)]
pub struct Portfolio {
    valuation_asset: AssetName,
    positions: Vec<Position>,
    balances: Vec<Balance>,
    /// Every symbol seen with its assets, for pricing an asset through a mark.
    pairs: Vec<(SymbolId, PairAssets)>,
    /// Mark per symbol index; zero when unknown.
    marks: Vec<Price>,
    unconverted: Vec<UnconvertedFee>,
}

/// Same scale, different meaning: an amount of the quote asset as a notional.
fn qty_as_notional(qty: Qty) -> Notional {
    Notional::from_raw(qty.raw())
}

fn notional_as_qty(value: Notional) -> Qty {
    Qty::from_raw(value.raw())
}

impl Portfolio {
    /// An empty account valued in `valuation_asset` (e.g. `USDT`).
    pub fn new(valuation_asset: AssetName) -> Self {
        Self {
            valuation_asset,
            positions: Vec::new(),
            balances: Vec::new(),
            pairs: Vec::new(),
            marks: Vec::new(),
            unconverted: Vec::new(),
        }
    }

    /// The asset equity is counted in.
    pub fn valuation_asset(&self) -> AssetName {
        self.valuation_asset
    }

    /// Registers an instrument: its position slot, its wallet's base and quote balances, and
    /// its pair for pricing (a mark on `BNBUSDT` prices BNB in USDT). Idempotent.
    pub fn add_instrument(&mut self, market: Market, symbol: SymbolId, assets: PairAssets) {
        self.position_index(market, symbol, assets);
        self.balance_index(market, assets.base);
        self.balance_index(market, assets.quote);
        self.learn_pair(symbol, assets);
    }

    fn learn_pair(&mut self, symbol: SymbolId, assets: PairAssets) {
        if !self.pairs.iter().any(|&(s, _)| s == symbol) {
            self.pairs.push((symbol, assets));
        }
        if self.marks.len() <= symbol.index() {
            self.marks.resize(symbol.index() + 1, Price::ZERO);
        }
    }

    fn position_index(&mut self, market: Market, symbol: SymbolId, assets: PairAssets) -> usize {
        match self
            .positions
            .iter()
            .position(|p| p.market == market && p.symbol == symbol)
        {
            Some(index) => index,
            None => {
                self.positions.push(Position::flat(market, symbol, assets));
                self.positions.len() - 1
            }
        }
    }

    fn balance_index(&mut self, wallet: Market, asset: AssetName) -> usize {
        match self
            .balances
            .iter()
            .position(|b| b.wallet == wallet && b.asset == asset)
        {
            Some(index) => index,
            None => {
                self.balances.push(Balance {
                    wallet,
                    asset,
                    qty: Qty::ZERO,
                });
                self.balances.len() - 1
            }
        }
    }

    /// Books one fill; `assets` are the instrument's base and quote. On error no amount changed.
    pub fn on_fill(
        &mut self,
        fill: &VenueFill,
        assets: PairAssets,
    ) -> Result<FillEffect, PortfolioError> {
        let refuse = |reason| PortfolioError::BadFill {
            symbol: fill.symbol,
            market: fill.market,
            venue_trade_id: fill.venue_trade_id,
            reason,
        };
        let overflow = PortfolioError::Overflow {
            symbol: fill.symbol,
            market: fill.market,
            venue_trade_id: fill.venue_trade_id,
        };
        if !fill.qty.is_positive() {
            return Err(refuse("quantity is not positive"));
        }
        if !fill.price.is_positive() {
            return Err(refuse("price is not positive"));
        }
        if fill.fee.raw() < 0 {
            return Err(refuse("fee is negative"));
        }
        self.learn_pair(fill.symbol, assets);
        let index = self.position_index(fill.market, fill.symbol, assets);
        let position = self.positions[index];
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
        .ok_or(overflow)?;
        let fee_in_quote = self.fee_in_quote(fill, assets).map_err(|()| overflow)?;
        let realized_pnl = position
            .realized_pnl
            .checked_add(booking.realized)
            .ok_or(overflow)?;
        let fees = match fee_in_quote {
            Some(fee) => position.fees.checked_add(fee).ok_or(overflow)?,
            None => position.fees,
        };
        // Wallet moves: spot and margin exchange the coins; futures settle only the PnL.
        let wallet = fill.market;
        let mut moves = [(assets.quote, Qty::ZERO); 3];
        if wallet == Market::UsdmFutures {
            moves[0] = (assets.quote, notional_as_qty(booking.realized));
        } else {
            moves[0] = (assets.quote, notional_as_qty(booking.signed_notional.neg()));
            moves[1] = (assets.base, signed_qty);
        }
        moves[2] = (fill.fee_asset, fill.fee.neg());
        // Validate the combined wallet moves before writing anything.
        let mut combined: [(AssetName, Qty); 3] = [(assets.quote, Qty::ZERO); 3];
        let mut used = 0;
        for &(asset, delta) in &moves {
            match combined[..used].iter_mut().find(|(a, _)| *a == asset) {
                Some((_, sum)) => *sum = sum.checked_add(delta).ok_or(overflow)?,
                None => {
                    combined[used] = (asset, delta);
                    used += 1;
                }
            }
        }
        let mut new_balances = [Qty::ZERO; 3];
        for (new_balance, &(asset, delta)) in new_balances.iter_mut().zip(&combined[..used]) {
            *new_balance = self
                .balance(wallet, asset)
                .checked_add(delta)
                .ok_or(overflow)?;
        }
        if fee_in_quote.is_none() {
            self.note_unconverted(wallet, fill.fee_asset, fill.fee)
                .ok_or(overflow)?;
        }
        for (&(asset, _), &qty) in combined[..used].iter().zip(&new_balances) {
            let slot = self.balance_index(wallet, asset);
            self.balances[slot].qty = qty;
        }
        let position = &mut self.positions[index];
        position.qty = booking.qty;
        position.cost_basis = booking.cost_basis;
        position.avg_entry_price = booking.avg_entry_price;
        position.realized_pnl = realized_pnl;
        position.fees = fees;
        position.unconverted_fees += u32::from(fee_in_quote.is_none());
        position.fill_count += 1;
        Ok(FillEffect {
            change: booking.change,
            realized_pnl: booking.realized,
            fee_in_quote,
            position_qty: booking.qty,
            avg_entry_price: booking.avg_entry_price,
        })
    }

    /// The fee in the quote asset: `Ok(None)` when its asset has no price, `Err` on overflow.
    fn fee_in_quote(&self, fill: &VenueFill, assets: PairAssets) -> Result<Option<Notional>, ()> {
        if fill.fee.is_zero() || fill.fee_asset == assets.quote {
            return Ok(Some(qty_as_notional(fill.fee)));
        }
        let price = if fill.fee_asset == assets.base {
            Some(fill.price)
        } else {
            self.asset_price(fill.fee_asset, assets.quote)
        };
        match price {
            Some(price) => price.notional(fill.fee).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    fn note_unconverted(&mut self, wallet: Market, asset: AssetName, fee: Qty) -> Option<()> {
        match self
            .unconverted
            .iter_mut()
            .find(|u| u.wallet == wallet && u.asset == asset)
        {
            Some(entry) => entry.qty = entry.qty.checked_add(fee)?,
            None => self.unconverted.push(UnconvertedFee {
                wallet,
                asset,
                qty: fee,
            }),
        }
        Some(())
    }

    /// Records the latest mark (mark price, last price or book mid) of `symbol`; false when
    /// the symbol was never registered or the price is not positive.
    pub fn on_mark(&mut self, symbol: SymbolId, price: Price) -> bool {
        match self.marks.get_mut(symbol.index()) {
            Some(mark) if price.is_positive() => {
                *mark = price;
                true
            }
            _ => false,
        }
    }

    /// The latest mark of `symbol`, if any.
    pub fn mark(&self, symbol: SymbolId) -> Option<Price> {
        self.marks
            .get(symbol.index())
            .copied()
            .filter(|p| p.is_positive())
    }

    /// Price of one unit of `asset` in `in_asset`, from the mark of `<asset><in_asset>`.
    pub fn asset_price(&self, asset: AssetName, in_asset: AssetName) -> Option<Price> {
        if asset == in_asset {
            return Some(Price::ONE);
        }
        self.pairs
            .iter()
            .filter(|(_, pair)| pair.base == asset && pair.quote == in_asset)
            .find_map(|&(symbol, _)| self.mark(symbol))
    }

    /// The position of (`market`, `symbol`), if one was registered or traded.
    pub fn position(&self, market: Market, symbol: SymbolId) -> Option<&Position> {
        self.positions
            .iter()
            .find(|p| p.market == market && p.symbol == symbol)
    }

    /// Every position slot, flat ones included.
    pub fn positions(&self) -> impl Iterator<Item = &Position> + '_ {
        self.positions.iter()
    }

    /// Unrealized PnL of a position at its symbol's mark, in its quote asset.
    pub fn unrealized_pnl(&self, market: Market, symbol: SymbolId) -> Option<Notional> {
        let position = self.position(market, symbol)?;
        position.unrealized_pnl(self.mark(symbol)?)
    }

    /// Balance of `asset` in `wallet` (zero when never seen).
    pub fn balance(&self, wallet: Market, asset: AssetName) -> Qty {
        self.balances
            .iter()
            .find(|b| b.wallet == wallet && b.asset == asset)
            .map_or(Qty::ZERO, |b| b.qty)
    }

    /// Every balance slot, zero ones included.
    pub fn balances(&self) -> impl Iterator<Item = &Balance> + '_ {
        self.balances.iter()
    }

    /// Fees still waiting for a price, per wallet and asset (already out of the balances).
    pub fn unconverted_fees(&self) -> impl Iterator<Item = &UnconvertedFee> + '_ {
        self.unconverted.iter()
    }

    /// Overwrites a balance with the venue's figure; returns what changed for the journal.
    pub fn set_balance(&mut self, wallet: Market, asset: AssetName, qty: Qty) -> BalanceCorrection {
        let index = self.balance_index(wallet, asset);
        let before = self.balances[index].qty;
        self.balances[index].qty = qty;
        BalanceCorrection {
            wallet,
            asset,
            before,
            after: qty,
        }
    }

    /// Overwrites a position with the venue's quantity and entry price (cost basis becomes
    /// entry × quantity, realized PnL and fees are kept); returns what changed.
    pub fn set_position(
        &mut self,
        market: Market,
        symbol: SymbolId,
        assets: PairAssets,
        qty: Qty,
        entry_price: Price,
    ) -> Result<PositionCorrection, PortfolioError> {
        let overflow = PortfolioError::Overflow {
            symbol,
            market,
            venue_trade_id: 0,
        };
        if entry_price.raw() < 0 {
            return Err(PortfolioError::BadFill {
                symbol,
                market,
                venue_trade_id: 0,
                reason: "entry price is negative",
            });
        }
        let (avg, cost) = if qty.is_zero() {
            (Price::ZERO, Notional::ZERO)
        } else {
            (entry_price, entry_price.notional(qty).ok_or(overflow)?)
        };
        self.learn_pair(symbol, assets);
        let index = self.position_index(market, symbol, assets);
        let position = &mut self.positions[index];
        let correction = PositionCorrection {
            market,
            symbol,
            qty_before: position.qty,
            qty_after: qty,
            entry_before: position.avg_entry_price,
            entry_after: avg,
        };
        position.qty = qty;
        position.cost_basis = cost;
        position.avg_entry_price = avg;
        Ok(correction)
    }

    /// Quote amount `value` of `quote` expressed in the valuation asset.
    fn in_valuation(&self, value: Notional, quote: AssetName) -> Option<Notional> {
        if quote == self.valuation_asset {
            return Some(value);
        }
        let price = self.asset_price(quote, self.valuation_asset)?;
        mul_raw(value.raw(), price.raw()).map(Notional::from_raw)
    }

    /// Futures wallet, unrealized PnL and margin balance settled in `asset`.
    pub fn futures_margin_balance(&self, asset: AssetName) -> MarginBalance {
        let wallet = qty_as_notional(self.balance(Market::UsdmFutures, asset));
        let mut unrealized = Notional::ZERO;
        let mut unmarked_positions = 0;
        for position in self
            .positions
            .iter()
            .filter(|p| p.market == Market::UsdmFutures && p.assets.quote == asset && !p.is_flat())
        {
            match self
                .mark(position.symbol)
                .and_then(|m| position.unrealized_pnl(m))
            {
                Some(pnl) => unrealized = unrealized.saturating_add(pnl),
                None => unmarked_positions += 1,
            }
        }
        MarginBalance {
            wallet,
            unrealized,
            margin_balance: wallet.saturating_add(unrealized),
            unmarked_positions,
        }
    }

    /// Equity in the valuation asset: every balance (cash, coins held, futures wallets) at its
    /// price, plus the unrealized PnL of open futures positions.
    pub fn equity(&self) -> Equity {
        let mut value = Notional::ZERO;
        let mut unpriced_assets = 0;
        let mut unmarked_positions = 0;
        for balance in self.balances.iter().filter(|b| !b.qty.is_zero()) {
            let worth = self
                .asset_price(balance.asset, self.valuation_asset)
                .and_then(|price| price.notional(balance.qty));
            match worth {
                Some(worth) => value = value.saturating_add(worth),
                None => unpriced_assets += 1,
            }
        }
        for position in self
            .positions
            .iter()
            .filter(|p| p.market == Market::UsdmFutures && !p.is_flat())
        {
            let pnl = self
                .mark(position.symbol)
                .and_then(|mark| position.unrealized_pnl(mark))
                .and_then(|pnl| self.in_valuation(pnl, position.assets.quote));
            match pnl {
                Some(pnl) => value = value.saturating_add(pnl),
                None => unmarked_positions += 1,
            }
        }
        Equity {
            value,
            unpriced_assets,
            unmarked_positions,
        }
    }
}

#[cfg(test)]
mod tests;
