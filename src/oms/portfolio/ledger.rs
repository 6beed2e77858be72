//! Owns: the portfolio as the order manager's ledger — one venue account (one market), the
//! assets of each traded symbol, and the figures the gauges show. Never: de-duplicates fills
//! (the order manager does, before calling) or decides anything about orders.

use crate::core::{AssetName, Market, Notional, Price, Qty, SymbolId};
use crate::oms::manager::Ledger;
use crate::oms::metrics::AccountFigures;
use crate::oms::venue::VenueFill;

use super::{BalanceCorrection, PairAssets, Portfolio};

/// A [`Portfolio`] booked by the order manager for one venue account.
#[derive(Debug, Clone)]
pub struct PortfolioLedger {
    portfolio: Portfolio,
    market: Market,
    /// Base and quote of each symbol (index = `SymbolId`).
    assets: Vec<Option<PairAssets>>,
    /// Fills the portfolio refused (arithmetic overflow, unknown symbol): counted, not booked.
    pub refused_fills: u64,
}

impl PortfolioLedger {
    /// An empty account on `market`, valued in `valuation_asset`.
    pub fn new(market: Market, valuation_asset: AssetName) -> Self {
        Self {
            portfolio: Portfolio::new(valuation_asset),
            market,
            assets: Vec::new(),
            refused_fills: 0,
        }
    }

    /// Registers a traded symbol (start-up only: it allocates).
    pub fn add_instrument(&mut self, symbol: SymbolId, assets: PairAssets) {
        if self.assets.len() <= symbol.index() {
            self.assets.resize(symbol.index() + 1, None);
        }
        self.assets[symbol.index()] = Some(assets);
        self.portfolio.add_instrument(self.market, symbol, assets);
    }

    /// Sets a balance of this account's wallet (start-up funding).
    pub fn fund(&mut self, asset: AssetName, qty: Qty) {
        self.portfolio.set_balance(self.market, asset, qty);
    }

    /// The portfolio.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    fn assets(&self, symbol: SymbolId) -> Option<PairAssets> {
        self.assets.get(symbol.index()).copied().flatten()
    }
}

impl Ledger for PortfolioLedger {
    fn apply_fill(&mut self, fill: &VenueFill) -> Notional {
        let Some(assets) = self.assets(fill.symbol) else {
            self.refused_fills += 1;
            return Notional::ZERO;
        };
        match self.portfolio.on_fill(fill, assets) {
            // An unpriced fee stays in its asset's balance and is counted there.
            Ok(effect) => effect.fee_in_quote.unwrap_or(Notional::ZERO),
            Err(_) => {
                self.refused_fills += 1;
                Notional::ZERO
            }
        }
    }

    fn set_balance(&mut self, asset: AssetName, free: Qty, locked: Qty) -> BalanceCorrection {
        self.portfolio
            .set_balance(self.market, asset, free.saturating_add(locked))
    }

    fn set_position(&mut self, symbol: SymbolId, qty: Qty, entry_price: Price) {
        if let Some(assets) = self.assets(symbol) {
            if self
                .portfolio
                .set_position(self.market, symbol, assets, qty, entry_price)
                .is_err()
            {
                self.refused_fills += 1;
            }
        }
    }

    fn mark(&mut self, symbol: SymbolId, price: Price) {
        self.portfolio.on_mark(symbol, price);
    }

    fn equity_value(&self) -> Option<Notional> {
        let equity = self.portfolio.equity();
        equity.is_complete().then_some(equity.value)
    }

    fn position_rows(&self, rows: &mut [crate::engine::control::PositionRow]) -> usize {
        let mut n = 0;
        for position in self.portfolio.positions().filter(|p| !p.is_flat()) {
            let Some(row) = rows.get_mut(n) else {
                break;
            };
            *row = crate::engine::control::PositionRow {
                symbol: position.symbol,
                qty: position.qty,
                avg_entry_price: position.avg_entry_price,
                mark: self.portfolio.mark(position.symbol).unwrap_or(Price::ZERO),
                unrealized_pnl: self
                    .portfolio
                    .unrealized_pnl(position.market, position.symbol)
                    .unwrap_or(Notional::ZERO),
                realized_pnl: position.realized_pnl,
            };
            n += 1;
        }
        n
    }

    fn account(&self) -> AccountFigures {
        let mut figures = AccountFigures {
            equity: self.portfolio.equity().value.to_f64(),
            ..AccountFigures::default()
        };
        for position in self.portfolio.positions() {
            figures.realized_pnl += position.realized_pnl.to_f64();
            figures.fees += position.fees.to_f64();
            if let Some(upnl) = self
                .portfolio
                .unrealized_pnl(position.market, position.symbol)
            {
                figures.unrealized_pnl += upnl.to_f64();
            }
        }
        figures
    }
}
