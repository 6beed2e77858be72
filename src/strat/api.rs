//! Owns: the contract between one strategy and the dispatcher that runs it — the
//! [`Strategy`] trait (market events, closed bars, the strategy's own fills and order
//! updates, a timer), the [`StrategyCtx`] a call sees (time, equity, the strategy's own
//! holdings, book tops, symbol scope) and the [`Signal`]s a strategy may emit (enter with a
//! stop and take-profit plan, exit what it holds, move its protective stop). Never: builds an
//! order, sizes past the rails, sees another strategy's position, reads a clock or does I/O;
//! the dispatcher turns signals into order intents for the one funnel.
//!
//! **Time.** `now_ns` is the engine's event time (the market event's receive stamp, or the
//! timer's time): monotonic in a live run, simulated epoch ns in a backtest. Use it for
//! windows and in-memory cooldowns. `venue_ms` is the latest exchange time seen (ms since
//! the UTC epoch); anything persisted across a restart (a cooldown end) is kept in venue
//! time, because the monotonic clock restarts with the process.
//!
//! **State follows fills, not signals.** A strategy learns that it is in a position from
//! [`Strategy::on_fill`] / [`StrategyCtx::holding`], never from having emitted an entry: an
//! entry can be refused by the rails, run dry, or lose a symbol conflict (the old engine
//! changed state on emission and drifted from the account).

use crate::book::Bar;
use crate::core::{
    BookTop, ClientOrderId, Fill, MarketEvent, Notional, OrderUpdate, Price, Qty, Side, StrategyId,
    SymbolId,
};
use crate::ops::{OpsError, Registry};

/// Most signals one call may emit; more are dropped and counted by the dispatcher.
pub const SIGNALS_PER_CALL: usize = 8;

/// Who a strategy is: its stable id (journal, risk rails, control API) and its name
/// (config section, snapshot component, metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyInfo {
    pub id: StrategyId,
    pub name: &'static str,
}

/// How big an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A quote-currency notional (USDT), turned into base quantity at the side's reference
    /// price (best ask for a buy, best bid for a sell, else the last trade); the order
    /// manager floors it onto the lot grid.
    Quote(Notional),
    /// A base-asset quantity.
    Base(Qty),
}

/// An entry and its exit plan. A zero `stop_loss` / `take_profit` means none; when set,
/// the order manager places them at the venue once the entry fills (spot: one OCO;
/// futures: two reduce-only orders), so they protect the position even if the engine dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPlan {
    pub symbol: SymbolId,
    pub side: Side,
    pub size: Size,
    /// Limit price; zero sends a market order.
    pub limit: Price,
    pub stop_loss: Price,
    pub take_profit: Price,
    /// Why (the `source` label of `strategy_orders_total`), e.g. `trend_follow_long`; one
    /// of [`Strategy::tags`].
    pub tag: &'static str,
}

/// What a strategy asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Open a position. Refused (and counted) when the strategy already holds one on the
    /// symbol or has an entry or exit in flight, when another strategy owns the symbol,
    /// when the symbol is out of the strategy's scope, or for a sell entry on spot.
    Enter(EntryPlan),
    /// Close everything the strategy holds on `symbol`: its open orders there (bracket
    /// legs included) are cancelled, then the held quantity is sold (or bought back) at
    /// market. Ignored when it holds nothing and has nothing open.
    Exit { symbol: SymbolId, tag: &'static str },
    /// Move the exchange-side stop (and take-profit; zero keeps the current one) of the
    /// strategy's position on `symbol`: the bracket is replaced at the venue. A stop that
    /// would loosen the protection is refused: stops only ratchet toward the price.
    MoveStop {
        symbol: SymbolId,
        stop_loss: Price,
        take_profit: Price,
    },
}

/// What one strategy holds on one symbol, from its own fills and order updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holding {
    /// Signed base quantity (long > 0, short < 0).
    pub qty: Qty,
    /// Average entry price of the open quantity (zero when flat).
    pub avg_entry: Price,
    /// An entry order is live (sent, not final).
    pub entry_open: bool,
    /// An exit is in progress (orders being cancelled or the closing order live).
    pub exiting: bool,
    /// Live orders of the strategy on the symbol (entries and bracket legs).
    pub open_orders: u16,
    /// The entry whose bracket protects the position (zero: none).
    pub bracket_entry: ClientOrderId,
    /// Current protective stop and take-profit of that bracket (zero: none).
    pub stop_loss: Price,
    pub take_profit: Price,
}

impl Holding {
    /// True when nothing is held and nothing is open or in flight.
    pub fn is_idle(&self) -> bool {
        self.qty.is_zero() && !self.entry_open && !self.exiting && self.open_orders == 0
    }

    /// True when the strategy may send an entry here (see [`Signal::Enter`]).
    pub fn can_enter(&self) -> bool {
        self.is_idle()
    }
}

/// The latest market state of one symbol, as the dispatcher keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SymbolState {
    /// The latest L2 top (meaningful when `book_valid`).
    pub top: BookTop,
    /// The last L2 top was synced and two-sided.
    pub book_valid: bool,
    /// Engine time of that top (0: none yet).
    pub book_ns: u64,
    /// Best bid / ask from the L2 top or bookTicker, whichever is newer (zero: none).
    pub bid: Price,
    pub bid_qty: Qty,
    pub ask: Price,
    pub ask_qty: Qty,
    /// Engine time of the newest bid/ask.
    pub quote_ns: u64,
    /// Last public trade price (zero: none yet) and its engine time.
    pub last_trade: Price,
    pub last_trade_ns: u64,
}

impl SymbolState {
    /// Mid of the best bid and ask, when both are known.
    pub fn mid(&self) -> Option<Price> {
        (self.bid.is_positive() && self.ask.is_positive()).then(|| self.bid.midpoint(self.ask))
    }

    /// The price a new order on `side` would trade at: the ask for a buy, the bid for a
    /// sell, else the last trade.
    pub fn reference(&self, side: Side) -> Option<Price> {
        let touch = match side {
            Side::Buy => self.ask,
            Side::Sell => self.bid,
        };
        if touch.is_positive() {
            Some(touch)
        } else {
            self.last_trade.is_positive().then_some(self.last_trade)
        }
    }
}

/// Read-only engine state a call sees, owned by the dispatcher.
pub trait CtxView {
    /// The calling strategy's holding on `symbol`.
    fn holding(&self, symbol: SymbolId) -> Holding;
    /// The latest market state of `symbol` (default when never seen).
    fn market(&self, symbol: SymbolId) -> SymbolState;
    /// The strategy that owns `symbol` (holds a position or an order there), if any.
    fn owner(&self, symbol: SymbolId) -> Option<StrategyId>;
    /// True when the calling strategy may enter `symbol` (its static list, or the
    /// scanner's selection when it uses the scanner).
    fn in_scope(&self, symbol: SymbolId) -> bool;
    /// True when the order side trades futures (shorts possible).
    fn shorts_possible(&self) -> bool;
}

/// What a strategy sees and emits into during one call.
pub struct StrategyCtx<'a> {
    /// Engine event time (see the module doc).
    pub now_ns: u64,
    /// Latest venue time seen, ms since the UTC epoch (0: none yet).
    pub venue_ms: u64,
    /// Account equity in the quote currency, when the order stage knows it (reconciled and
    /// every position marked).
    pub equity: Option<Notional>,
    view: &'a dyn CtxView,
    signals: &'a mut [Option<Signal>; SIGNALS_PER_CALL],
    emitted: usize,
    dropped: usize,
    dirty: bool,
}

impl<'a> StrategyCtx<'a> {
    /// A context over `view`, collecting into `signals` (cleared here).
    pub fn new(
        now_ns: u64,
        venue_ms: u64,
        equity: Option<Notional>,
        view: &'a dyn CtxView,
        signals: &'a mut [Option<Signal>; SIGNALS_PER_CALL],
    ) -> Self {
        signals.iter_mut().for_each(|s| *s = None);
        Self {
            now_ns,
            venue_ms,
            equity,
            view,
            signals,
            emitted: 0,
            dropped: 0,
            dirty: false,
        }
    }

    /// The calling strategy's holding on `symbol`.
    pub fn holding(&self, symbol: SymbolId) -> Holding {
        self.view.holding(symbol)
    }

    /// The latest market state of `symbol`.
    pub fn market(&self, symbol: SymbolId) -> SymbolState {
        self.view.market(symbol)
    }

    /// The strategy owning `symbol`, if any.
    pub fn owner(&self, symbol: SymbolId) -> Option<StrategyId> {
        self.view.owner(symbol)
    }

    /// True when the calling strategy may enter `symbol`.
    pub fn in_scope(&self, symbol: SymbolId) -> bool {
        self.view.in_scope(symbol)
    }

    /// True when the order side trades futures.
    pub fn shorts_possible(&self) -> bool {
        self.view.shorts_possible()
    }

    /// Emits a signal; false (and counted) when this call already emitted
    /// [`SIGNALS_PER_CALL`].
    pub fn emit(&mut self, signal: Signal) -> bool {
        match self.signals.get_mut(self.emitted) {
            Some(slot) => {
                *slot = Some(signal);
                self.emitted += 1;
                true
            }
            None => {
                self.dropped += 1;
                false
            }
        }
    }

    /// Marks the strategy's persistent state as changed: the dispatcher snapshots it to the
    /// journal soon after.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Signals emitted in this call, in order.
    pub fn signals(&self) -> impl Iterator<Item = Signal> + '_ {
        self.signals[..self.emitted].iter().flatten().copied()
    }

    /// Signals that did not fit.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// True when [`mark_dirty`](Self::mark_dirty) was called.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

/// Why restoring a snapshot failed.
#[derive(Debug, thiserror::Error)]
#[error("{strategy} snapshot: {message}")]
pub struct RestoreError {
    pub strategy: &'static str,
    pub message: String,
}

/// A strategy: a deterministic state machine. Every method is called on the strategy
/// thread with a fresh context; none may block, read a clock, do I/O or allocate per
/// event (allocations at construction and in `snapshot` / `restore` are fine).
pub trait Strategy: Send {
    /// Id and name.
    fn info(&self) -> StrategyInfo;

    /// Every `source` tag this strategy's entries and exits carry (metrics are registered
    /// for these up front).
    fn tags(&self) -> &'static [&'static str];

    /// The symbols whose events it wants (its list, plus the scanner universe when it uses
    /// the scanner); the dispatcher delivers nothing else.
    fn symbols(&self) -> &[SymbolId];

    /// Bar timeframes (minutes) it wants closed bars of, for its symbols.
    fn timeframes(&self) -> &[u32] {
        &[]
    }

    /// True when its entries are limited to the scanner's selection.
    fn uses_scanner(&self) -> bool {
        false
    }

    /// A market event on one of its symbols.
    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>);

    /// A closed bar of one of its timeframes on one of its symbols (never a forming one).
    fn on_bar(&mut self, _bar: &Bar, _ctx: &mut StrategyCtx<'_>) {}

    /// A closed bar from history (REST klines at start-up, before any live event): it
    /// only warms indicators up and must never lead to a signal.
    fn on_warmup_bar(&mut self, _bar: &Bar) {}

    /// One of its own fills; `ctx.holding` already includes it.
    fn on_fill(&mut self, _fill: &Fill, _ctx: &mut StrategyCtx<'_>) {}

    /// One of its own orders changed state; `ctx.holding` already includes it.
    fn on_order(&mut self, _update: &OrderUpdate, _ctx: &mut StrategyCtx<'_>) {}

    /// Periodic call (about every millisecond of engine time).
    fn on_timer(&mut self, _ctx: &mut StrategyCtx<'_>) {}

    /// Writes the state that must survive a restart (JSON) into `out`; nothing when there
    /// is none.
    fn snapshot(&self, _out: &mut Vec<u8>) {}

    /// Restores what [`snapshot`](Self::snapshot) wrote, before any event.
    fn restore(&mut self, _body: &[u8]) -> Result<(), RestoreError> {
        Ok(())
    }

    /// Registers the strategy's own metrics (seed-spec §7 names) at start-up; until then
    /// its counters are detached and count for nobody.
    fn attach_metrics(&mut self, _scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        Ok(())
    }
}

/// Chooses which symbols the strategies that use it may enter (the symbol scanner): fed
/// closed bars of its timeframe, asked to rescan on the timer. Deterministic like a
/// strategy.
pub trait SymbolSelector: Send {
    /// The candidate symbols.
    fn universe(&self) -> &[SymbolId];
    /// Bar timeframe (minutes) it ranks on.
    fn timeframe_min(&self) -> u32;
    /// A closed bar of its timeframe for a universe symbol.
    fn on_bar(&mut self, bar: &Bar);
    /// A historical bar at start-up.
    fn on_warmup_bar(&mut self, bar: &Bar);
    /// Scans when due at venue time `venue_ms`; true when the selection changed.
    fn rescan(&mut self, venue_ms: u64) -> bool;
    /// The current selection.
    fn selected(&self) -> &[SymbolId];
    /// State that must survive a restart (JSON).
    fn snapshot(&self, out: &mut Vec<u8>);
    /// Restores [`snapshot`](Self::snapshot)'s output.
    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError>;
    /// Registers its metrics.
    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError>;
}

/// Where a strategy registers its metrics, and the label values it needs.
pub struct MetricsScope<'a> {
    pub registry: &'a mut Registry,
    /// `venue` label (`binance-spot`, `paper`, …).
    pub venue: &'a str,
    /// Symbol names by [`SymbolId::index`].
    pub symbol_names: &'a [String],
}

impl MetricsScope<'_> {
    /// The name of `symbol` (`?` when unknown).
    pub fn symbol_name(&self, symbol: SymbolId) -> &str {
        self.symbol_names
            .get(symbol.index())
            .map_or("?", String::as_str)
    }
}

/// The stable ids of the built-in strategies (journal records, risk rails, control API,
/// snapshots). Probes take 1, 2, … (one per traded symbol).
pub mod ids {
    use crate::core::StrategyId;

    pub const TREND_FOLLOW: StrategyId = StrategyId(10);
    pub const ENSEMBLE: StrategyId = StrategyId(11);
    pub const SCALPING: StrategyId = StrategyId(12);
    pub const MOMENTUM_RT: StrategyId = StrategyId(13);
    pub const MOMENTUM_BREAKOUT: StrategyId = StrategyId(14);
}
