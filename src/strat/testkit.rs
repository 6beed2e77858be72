//! Owns: a stand-in for the dispatcher's view, so a strategy's unit tests can call it with
//! constructed holdings, market state and scope and read back exactly what it emitted.
//! Never: used by the engine itself (tests and benches only).

use crate::core::{Market, StrategyId, SymbolId};

use super::api::{CtxView, Holding, Signal, StrategyCtx, SymbolState, SIGNALS_PER_CALL};

/// A settable view for one strategy.
#[derive(Debug, Clone)]
pub struct TestView {
    pub holdings: Vec<Holding>,
    pub markets: Vec<SymbolState>,
    pub owners: Vec<Option<StrategyId>>,
    pub scope: Vec<bool>,
    pub market: Market,
}

impl TestView {
    /// A view of `symbols` symbols, all in scope, nothing held, on `market`.
    pub fn new(symbols: usize, market: Market) -> Self {
        Self {
            holdings: vec![Holding::default(); symbols],
            markets: vec![SymbolState::default(); symbols],
            owners: vec![None; symbols],
            scope: vec![true; symbols],
            market,
        }
    }

    /// Mutable holding of `symbol`.
    pub fn holding_mut(&mut self, symbol: SymbolId) -> &mut Holding {
        &mut self.holdings[symbol.index()]
    }

    /// Mutable market state of `symbol`.
    pub fn market_mut(&mut self, symbol: SymbolId) -> &mut SymbolState {
        &mut self.markets[symbol.index()]
    }

    /// Runs `call` with a context at `now_ns` / `venue_ms` and returns what it emitted.
    pub fn call(
        &self,
        now_ns: u64,
        venue_ms: u64,
        equity: Option<crate::core::Notional>,
        call: impl FnOnce(&mut StrategyCtx<'_>),
    ) -> Emitted {
        let mut buf = [None; SIGNALS_PER_CALL];
        let mut ctx = StrategyCtx::new(now_ns, venue_ms, equity, self, &mut buf);
        call(&mut ctx);
        Emitted {
            signals: ctx.signals().collect(),
            dirty: ctx.is_dirty(),
        }
    }
}

/// What one call emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub signals: Vec<Signal>,
    /// The strategy marked its persistent state changed.
    pub dirty: bool,
}

impl CtxView for TestView {
    fn holding(&self, symbol: SymbolId) -> Holding {
        self.holdings
            .get(symbol.index())
            .copied()
            .unwrap_or_default()
    }
    fn market(&self, symbol: SymbolId) -> SymbolState {
        self.markets
            .get(symbol.index())
            .copied()
            .unwrap_or_default()
    }
    fn owner(&self, symbol: SymbolId) -> Option<StrategyId> {
        self.owners.get(symbol.index()).copied().flatten()
    }
    fn in_scope(&self, symbol: SymbolId) -> bool {
        self.scope.get(symbol.index()).copied().unwrap_or(false)
    }
    fn shorts_possible(&self) -> bool {
        self.market == Market::UsdmFutures
    }
}
