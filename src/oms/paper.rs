//! Owns: the paper venue, a simulated account that fills orders against the live book and
//! answers with the same reports a real gateway sends. Never: reads the clock, does I/O, or
//! allocates per command or market event once built (the report queue's overflow aside, below).
//!
//! Rules (each a decision a real venue makes for us):
//! - **Book.** Per symbol the latest `BookTop` (5 levels) with a newer `bookTicker` laid on
//!   top ([`depth`]); liquidity our fills take is gone until the next update. An invalid
//!   (resyncing) book shows nothing.
//! - **Market orders** walk the visible levels. What is left past them fills at the last
//!   visible price moved [`BeyondVisibleDepth::FillWithSlippage`] ticks further (the default,
//!   1 tick: a real market order keeps walking deeper levels we cannot see), or expires with
//!   [`BeyondVisibleDepth::ExpireRemainder`] (pessimistic runs). With no level visible the last
//!   trade price stands in; with no trade either the order is refused (`Unavailable`).
//! - **Limit orders** take what the visible book offers within their price on arrival (taker
//!   fee), then IOC expires the rest, FOK expires entirely unless the visible book covers all
//!   of it, GTC rests. `LIMIT_MAKER` that would take is rejected (`WouldTake`), so it never
//!   takes.
//! - **Still taking.** A GTC rest (or a triggered stop-limit's) is still marketable when the
//!   book crossed it on arrival and the take left no level visible on that side: nothing we
//!   see shows where the liquidity within its limit ends (five levels and a ticker; the depth
//!   stream lags the ticker), and a real venue would keep matching it. Such an order keeps
//!   taking: on each later book or ticker update it takes what is visible within its limit at
//!   the book's prices (taker fee), exactly as on arrival, and a trade at or through its limit
//!   fills it at the trade's price (taker fee; it is the aggressor, so the trade shows
//!   liquidity there; up to the trade's quantity, shared with our other orders in arrival
//!   order). An update that leaves no level on that side keeps it taking; one that shows a
//!   level there (after it took what is within its limit, so a level beyond it) makes it
//!   passive. A rest with a visible level beyond its limit after the arrival take is passive
//!   at once, as is one the book did not cross on arrival.
//! - **Passive orders** fill at their own price (maker fee) when the book crosses them (up to
//!   the crossing quantity; the crossing order is the aggressor) or a trade prints strictly
//!   through them (up to the trade's quantity, shared by our orders in arrival order);
//!   [`TradeFillRule::Touch`] also fills on a trade at the limit.
//! - **Queue position** ([`QueueModel`]; the rules in `queue`), for passive orders only.
//!   `Off` (the default, so paper trading is unchanged): not modelled, the rule above.
//!   `RiskAverse` / `Probabilistic { power }` (hftbacktest's queue models): each passive limit
//!   keeps the quantity ahead of it at its price, starting from the visible level there when
//!   it turns passive (zero inside the visible range without a level; past the visible levels
//!   unknown until the level first shows, and until then trades at its price cannot fill it).
//!   A trade at our price whose taker is on the other side reduces it; what the trade takes
//!   beyond it fills us as maker (rounded down to the lot step), a trade shared by our orders
//!   in arrival order (what earlier orders of ours took of it counts as ahead of later ones).
//!   Book and ticker updates move it per the model (after the update's crossing fills); the
//!   `trade_fill` rule no longer applies at the limit. A trade strictly through our price and
//!   the book crossing it fill as without a queue.
//! - **Stops.** `STOP_MARKET` / `TAKE_PROFIT_MARKET` trigger on trade prices (a stop buys on a
//!   rise, sells on a fall; a take-profit the other way), report `Triggered`, then execute as a
//!   market order. With a `price` they are `STOP_LOSS_LIMIT` / `TAKE_PROFIT_LIMIT`: once
//!   triggered they work as a GTC limit at that price arriving then (taking what the book
//!   offers within it, still taking or passive for the rest, as above). A stop that would
//!   trigger at once is rejected (`WouldTrigger`).
//! - **OCO.** A `LIMIT_MAKER` take-profit leg and a stop leg (stop-market, or stop-limit when
//!   `stop_limit` is set). A take-profit fill or the stop's trigger cancels the other leg;
//!   canceling either leg cancels both (Binance's behaviour).
//! - **Funds.** Spot, and margin without a borrowing side effect, must hold what an order
//!   needs: free = balance − locked. Resting buys lock `price × qty × (1 + max fee rate)` of
//!   the quote asset, sells lock the base quantity; market orders are checked against the
//!   walk's cost. USDⓈ-M orders are not margin-checked (the paper venue keeps no leverage
//!   model); reduce-only futures orders must reduce, are capped at the position and
//!   expire once it is closed.
//! - **Fees** are `notional × maker/taker rate` in the quote asset.
//! - **Time.** Commands take effect `entry_latency_ns` after `submit` (immediately at zero),
//!   against the book as it is then (a command ready at the same ns as a market event runs
//!   before it); reports become visible to `poll` `report_latency_ns` after the step that
//!   made them. [`PaperVenue::set_recorded_latency`] replaces both constants with recorded
//!   `(entry, report)` samples, one per command, used in order and cycled: the command waits
//!   its sample's entry latency, the reports its execution makes wait its report latency,
//!   and reports made by market events (resting fills, triggers) wait the report latency of
//!   the last command executed (the constant before any). Commands and reports stay FIFO as
//!   over one TCP connection: a command is ready at `max(now + entry, previous command's
//!   ready time)`, a report at `max(step + report latency, previous report's ready time)`.
//!   [`Venue::next_wakeup_ns`] is the earliest of those ready times still waiting. Venue
//!   time in reports is the latest exchange time seen in market data.
//! - **Capacity.** The order table is fixed (`max_open_orders`; full → `Rejected{Unavailable}`
//!   with [`CODE_ORDER_TABLE_FULL`]), as are the latency queue, the trade log and the
//!   order history. The report queue is preallocated to `report_capacity`; if the caller stops
//!   polling long enough to fill it, it grows (counted in [`PaperStats::report_queue_growths`])
//!   rather than lose an execution.
//!
//! Refusal codes copy Binance's (`-1013` filters, `-2010` new order rejected, `-2011` cancel
//! rejected, `-2013` no such order, `-1121` bad symbol; USDⓈ-M `-2021`, `-2022`, `-5022`,
//! which protocols.md lists as not re-verified: here they are labels only). Paper-only
//! refusals use small positive codes.
//!
//! Market events do not say which market they come from, so one `PaperVenue` holds at most
//! one instrument per symbol id: run one per market when a symbol trades on several.

mod answers;
mod depth;
mod matching;
mod orders;
mod placing;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::core::{
    AssetName, ClientOrderId, Instrument, Market, MarketEvent, MarketEventKind, Price, Qty, Ratio,
    SymbolId, TradePrint,
};
use crate::engine::stage::Outbox;

use super::portfolio::{
    BalanceCorrection, PairAssets, Portfolio, PortfolioError, PositionCorrection,
};
use super::venue::{
    MarginSideEffect, RejectKind, Venue, VenueCommand, VenueFill, VenueOrder, VenueReject,
    VenueReport,
};

use depth::Liquidity;
use orders::{Outcome, PaperOrder};
pub use queue::QueueModel;

/// Binance's codes for the refusals the paper venue makes.
mod code {
    pub const FILTER: i32 = -1013;
    pub const BAD_SYMBOL: i32 = -1121;
    pub const NEW_ORDER_REJECTED: i32 = -2010;
    pub const CANCEL_REJECTED: i32 = -2011;
    pub const NO_SUCH_ORDER: i32 = -2013;
    pub const FUTURES_WOULD_TRIGGER: i32 = -2021;
    pub const FUTURES_REDUCE_ONLY: i32 = -2022;
    pub const FUTURES_POST_ONLY: i32 = -5022;
}

/// Paper-only refusal: the order table is full.
pub const CODE_ORDER_TABLE_FULL: i32 = 1;
/// Paper-only refusal: no book and no trade seen for the symbol, so nothing to fill against.
pub const CODE_NO_MARKET_DATA: i32 = 2;
/// Paper-only refusal: the entry-latency queue is full.
pub const CODE_COMMAND_QUEUE_FULL: i32 = 3;

/// What a market order does with the quantity the visible levels cannot fill.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BeyondVisibleDepth {
    /// Fill it at the last visible price moved `ticks` ticks against the order.
    FillWithSlippage { ticks: u32 },
    /// Let it expire (the order ends `Expired` after its visible fills).
    ExpireRemainder,
}

/// When a trade print fills a resting limit order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TradeFillRule {
    /// Only a trade strictly through the limit (others at our price may be ahead of us).
    ThroughOnly,
    /// A trade at the limit too.
    Touch,
}

/// Paper venue settings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PaperConfig {
    /// Fee rate for resting fills (0.001 = 0.1 %).
    pub maker_fee_rate: Ratio,
    /// Fee rate for taking fills.
    pub taker_fee_rate: Ratio,
    /// Delay between `submit` and the command taking effect at the venue.
    pub entry_latency_ns: u64,
    /// Delay between the venue acting and `poll` seeing the report.
    pub report_latency_ns: u64,
    /// What market orders do past the visible levels.
    pub beyond_visible_depth: BeyondVisibleDepth,
    /// When a trade fills a resting limit (at the limit: only with `queue_model` off).
    pub trade_fill: TradeFillRule,
    /// How a resting limit advances in the queue at its price.
    pub queue_model: QueueModel,
    /// Open orders the venue holds (an OCO takes two).
    pub max_open_orders: usize,
    /// Commands waiting out `entry_latency_ns`.
    pub max_pending_commands: usize,
    /// Reports preallocated between polls.
    pub report_capacity: usize,
    /// Fills kept for `QueryOrder` and `Reconcile`.
    pub trade_history: usize,
    /// Closed orders kept for `QueryOrder`.
    pub order_history: usize,
    /// Asset the internal account values equity in.
    pub account_asset: AssetName,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            maker_fee_rate: Ratio::from_raw(1_000_000_000_000_000),
            taker_fee_rate: Ratio::from_raw(1_000_000_000_000_000),
            entry_latency_ns: 0,
            report_latency_ns: 0,
            beyond_visible_depth: BeyondVisibleDepth::FillWithSlippage { ticks: 1 },
            trade_fill: TradeFillRule::ThroughOnly,
            queue_model: QueueModel::Off,
            max_open_orders: 256,
            max_pending_commands: 256,
            report_capacity: 4096,
            trade_history: 4096,
            order_history: 1024,
            account_asset: AssetName::new("USDT").expect("USDT is a short ASCII asset code"),
        }
    }
}

/// Why a paper venue could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaperError {
    #[error("instrument {symbol}: asset {asset:?} is empty, too long or not ASCII")]
    BadAsset { symbol: String, asset: String },
    #[error("instrument {symbol} uses symbol id {id:?}, already taken by another instrument")]
    DuplicateSymbol { symbol: String, id: SymbolId },
    #[error("paper venue config: {0}")]
    Config(&'static str),
}

/// Counters for the ops page.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PaperStats {
    pub accepted: u64,
    pub rejected: u64,
    pub fills: u64,
    pub canceled: u64,
    pub expired: u64,
    pub triggered: u64,
    /// Market events for symbols the venue does not trade.
    pub foreign_events: u64,
    /// Commands answered `Unavailable` because the latency queue was full.
    pub refused_commands: u64,
    /// Reports pushed past `report_capacity` (the queue grew).
    pub report_queue_growths: u64,
    /// Fills the internal account could not book (arithmetic overflow).
    pub accounting_errors: u64,
    /// Fills dropped from the trade log to make room.
    pub evicted_trades: u64,
}

/// What the venue keeps per traded symbol.
struct SymbolState {
    instrument: Instrument,
    assets: PairAssets,
    liquidity: Liquidity,
    last_trade: Option<TradePrint>,
}

/// A finished order, kept to answer queries about it.
#[derive(Clone, Copy, Debug)]
struct ClosedOrder {
    client_order_id: ClientOrderId,
    venue_order_id: u64,
    outcome: Outcome,
}

/// Funds open orders hold in one wallet and asset.
#[derive(Clone, Copy, Debug)]
struct Lock {
    wallet: Market,
    asset: AssetName,
    qty: Qty,
}

/// The simulated venue; see the module docs.
pub struct PaperVenue {
    config: PaperConfig,
    symbols: Vec<Option<SymbolState>>,
    account: Portfolio,
    locks: Vec<Lock>,
    /// Open orders in arrival order (time priority among our own orders).
    orders: Vec<PaperOrder>,
    /// Commands waiting out their entry latency: (ready ns, report latency, command).
    pending: VecDeque<(u64, u64, VenueCommand)>,
    reports: VecDeque<(u64, VenueReport)>,
    /// Recorded (entry, report) latencies cycled one per command; empty: the constants.
    latency_samples: Vec<(u64, u64)>,
    next_latency_sample: usize,
    /// Ready time of the last command queued (commands leave in order).
    last_command_ready_ns: u64,
    /// Ready time of the last report queued (reports leave in order).
    last_report_ready_ns: u64,
    /// Report latency of the step being processed.
    report_latency_ns: u64,
    trades: VecDeque<VenueFill>,
    closed: VecDeque<ClosedOrder>,
    newest_evicted_trade_id: u64,
    clock_ns: u64,
    /// When the step being processed happens at the venue.
    event_ns: u64,
    venue_ms: u64,
    next_venue_order_id: u64,
    next_trade_id: u64,
    stats: PaperStats,
}

fn funds_tracked(order: &VenueOrder) -> bool {
    match order.market {
        Market::Spot => true,
        Market::Margin => matches!(
            order.margin.side_effect,
            MarginSideEffect::NoSideEffect | MarginSideEffect::AutoRepay
        ),
        Market::UsdmFutures => false,
    }
}

fn reject_of(kind: RejectKind, code: i32) -> VenueReject {
    VenueReject {
        kind,
        code,
        retry_after_ms: 0,
    }
}

impl PaperVenue {
    /// A venue trading `instruments` (by symbol id), with empty balances.
    pub fn new(
        config: PaperConfig,
        instruments: &[(SymbolId, Instrument)],
    ) -> Result<Self, PaperError> {
        if config.max_open_orders < 2 {
            return Err(PaperError::Config("max_open_orders must hold an OCO (2)"));
        }
        if config.report_capacity == 0 || config.trade_history == 0 || config.order_history == 0 {
            return Err(PaperError::Config(
                "report_capacity, trade_history and order_history must be positive",
            ));
        }
        if config.entry_latency_ns > 0 && config.max_pending_commands == 0 {
            return Err(PaperError::Config(
                "max_pending_commands must be positive with an entry latency",
            ));
        }
        let rates_valid = |rate: Ratio| rate.raw() >= 0 && rate < Ratio::ONE;
        if !rates_valid(config.maker_fee_rate) || !rates_valid(config.taker_fee_rate) {
            return Err(PaperError::Config("fee rates must be in [0, 1)"));
        }
        let mut venue = Self {
            config,
            symbols: Vec::new(),
            account: Portfolio::new(config.account_asset),
            locks: Vec::new(),
            orders: Vec::with_capacity(config.max_open_orders),
            pending: VecDeque::with_capacity(config.max_pending_commands),
            reports: VecDeque::with_capacity(config.report_capacity),
            latency_samples: Vec::new(),
            next_latency_sample: 0,
            last_command_ready_ns: 0,
            last_report_ready_ns: 0,
            report_latency_ns: config.report_latency_ns,
            trades: VecDeque::with_capacity(config.trade_history),
            closed: VecDeque::with_capacity(config.order_history),
            newest_evicted_trade_id: 0,
            clock_ns: 0,
            event_ns: 0,
            venue_ms: 0,
            next_venue_order_id: 1,
            next_trade_id: 1,
            stats: PaperStats::default(),
        };
        for (id, instrument) in instruments {
            venue.add_instrument(*id, instrument)?;
        }
        Ok(venue)
    }

    fn add_instrument(&mut self, id: SymbolId, instrument: &Instrument) -> Result<(), PaperError> {
        let asset = |code: &str| {
            AssetName::new(code).ok_or_else(|| PaperError::BadAsset {
                symbol: instrument.symbol.clone(),
                asset: code.to_string(),
            })
        };
        let assets = PairAssets {
            base: asset(&instrument.base_asset)?,
            quote: asset(&instrument.quote_asset)?,
        };
        if self.symbols.len() <= id.index() {
            self.symbols.resize_with(id.index() + 1, || None);
        }
        if self.symbols[id.index()].is_some() {
            return Err(PaperError::DuplicateSymbol {
                symbol: instrument.symbol.clone(),
                id,
            });
        }
        self.account.add_instrument(instrument.market, id, assets);
        for asset in [assets.base, assets.quote] {
            if !self
                .locks
                .iter()
                .any(|l| l.wallet == instrument.market && l.asset == asset)
            {
                self.locks.push(Lock {
                    wallet: instrument.market,
                    asset,
                    qty: Qty::ZERO,
                });
            }
        }
        self.symbols[id.index()] = Some(SymbolState {
            instrument: instrument.clone(),
            assets,
            liquidity: Liquidity::default(),
            last_trade: None,
        });
        Ok(())
    }

    /// Sets a wallet balance (start-up funding, or a test's account state).
    pub fn fund(&mut self, wallet: Market, asset: AssetName, qty: Qty) -> BalanceCorrection {
        self.account.set_balance(wallet, asset, qty)
    }

    /// Sets a futures position the account starts with.
    pub fn set_position(
        &mut self,
        symbol: SymbolId,
        qty: Qty,
        entry_price: Price,
    ) -> Result<PositionCorrection, PortfolioError> {
        let Some(state) = self.traded_state(symbol, Market::UsdmFutures) else {
            return Err(PortfolioError::BadFill {
                symbol,
                market: Market::UsdmFutures,
                venue_trade_id: 0,
                reason: "the paper venue trades no USDⓈ-M instrument with this symbol id",
            });
        };
        let assets = state.assets;
        self.account
            .set_position(Market::UsdmFutures, symbol, assets, qty, entry_price)
    }

    /// Continues trade and order ids after `trade_id` (a restarted in-process venue must not
    /// hand out ids the journal already holds: fills are de-duplicated on them).
    pub fn continue_ids_after(&mut self, trade_id: u64) {
        let next = trade_id.saturating_add(1);
        self.next_trade_id = self.next_trade_id.max(next);
        self.next_venue_order_id = self.next_venue_order_id.max(next);
    }

    /// Replaces the constant latencies with recorded `(entry ns, report ns)` samples, used
    /// one per command in order and cycled (see the module docs); restarts at the first.
    pub fn set_recorded_latency(&mut self, samples: Vec<(u64, u64)>) -> Result<(), PaperError> {
        if samples.is_empty() {
            return Err(PaperError::Config(
                "recorded latency needs at least one (entry, report) sample",
            ));
        }
        if self.config.max_pending_commands == 0 && samples.iter().any(|s| s.0 > 0) {
            return Err(PaperError::Config(
                "max_pending_commands must be positive with an entry latency",
            ));
        }
        self.latency_samples = samples;
        self.next_latency_sample = 0;
        Ok(())
    }

    /// Quantity ahead of an open resting order at its price under the queue model (`None`:
    /// no such order, the model is off, or its level was never visible).
    pub fn queue_ahead(&self, client_order_id: ClientOrderId) -> Option<Qty> {
        if self.config.queue_model == QueueModel::Off {
            return None;
        }
        let index = self.open_index(client_order_id)?;
        self.orders[index].queue.ahead
    }

    /// The (entry, report) latency of the next command.
    fn next_latency(&mut self) -> (u64, u64) {
        let Some(&sample) = self.latency_samples.get(self.next_latency_sample) else {
            return (self.config.entry_latency_ns, self.config.report_latency_ns);
        };
        self.next_latency_sample = (self.next_latency_sample + 1) % self.latency_samples.len();
        sample
    }

    /// The venue's own account: balances, positions and PnL from its fills.
    pub fn account(&self) -> &Portfolio {
        &self.account
    }

    /// Counters since start.
    pub fn stats(&self) -> PaperStats {
        self.stats
    }

    /// Orders open now.
    pub fn open_orders(&self) -> usize {
        self.orders.iter().filter(|o| !o.done).count()
    }

    /// Amount of `asset` held for open orders in `wallet`.
    pub fn locked(&self, wallet: Market, asset: AssetName) -> Qty {
        self.locks
            .iter()
            .find(|l| l.wallet == wallet && l.asset == asset)
            .map_or(Qty::ZERO, |l| l.qty)
    }

    /// Balance minus what open orders hold.
    pub fn free(&self, wallet: Market, asset: AssetName) -> Qty {
        self.account
            .balance(wallet, asset)
            .saturating_sub(self.locked(wallet, asset))
    }

    fn state(&self, symbol: SymbolId) -> Option<&SymbolState> {
        self.symbols.get(symbol.index()).and_then(Option::as_ref)
    }

    fn traded_state(&self, symbol: SymbolId, market: Market) -> Option<&SymbolState> {
        self.state(symbol).filter(|s| s.instrument.market == market)
    }

    /// Runs the commands whose latency has passed by `now_ns`; true if any ran.
    fn advance(&mut self, now_ns: u64) -> bool {
        self.clock_ns = self.clock_ns.max(now_ns);
        let mut ran = false;
        while let Some(&(ready_ns, report_latency_ns, command)) = self.pending.front() {
            if ready_ns > self.clock_ns {
                break;
            }
            self.pending.pop_front();
            self.event_ns = self.event_ns.max(ready_ns);
            self.report_latency_ns = report_latency_ns;
            self.execute(command);
            ran = true;
        }
        ran
    }

    fn execute(&mut self, command: VenueCommand) {
        match command {
            VenueCommand::Place(order) => self.place(order),
            VenueCommand::PlaceOco(oco) => self.place_oco(oco),
            VenueCommand::Cancel {
                client_order_id,
                symbol,
                market,
            } => self.cancel(client_order_id, symbol, market),
            VenueCommand::CancelAll { symbol, market } => self.cancel_all(symbol, market),
            VenueCommand::QueryOrder {
                client_order_id,
                symbol,
                market,
            } => self.query(client_order_id, symbol, market),
            VenueCommand::Reconcile {
                symbol,
                market,
                since_trade_id,
            } => self.reconcile(symbol, market, since_trade_id),
        }
        self.orders.retain(|o| !o.done);
    }

    /// Answers a command the latency queue has no room for.
    fn refuse(&mut self, command: VenueCommand) {
        self.stats.refused_commands += 1;
        let unavailable = reject_of(RejectKind::Unavailable, CODE_COMMAND_QUEUE_FULL);
        match command {
            VenueCommand::Place(order) => self.report(VenueReport::Rejected {
                client_order_id: order.client_order_id,
                reject: unavailable,
            }),
            VenueCommand::PlaceOco(oco) => {
                for client_order_id in [oco.take_profit_id, oco.stop_id] {
                    self.report(VenueReport::Rejected {
                        client_order_id,
                        reject: unavailable,
                    });
                }
            }
            VenueCommand::Cancel {
                client_order_id, ..
            } => self.report(VenueReport::CancelRejected {
                client_order_id,
                reject: unavailable,
            }),
            VenueCommand::QueryOrder {
                client_order_id, ..
            } => self.report(VenueReport::StatusUnknown { client_order_id }),
            VenueCommand::Reconcile { symbol, .. } => {
                self.report(VenueReport::ReconcileDone { symbol, ok: false })
            }
            // Nothing names a target to answer; the counter records it.
            VenueCommand::CancelAll { .. } => {}
        }
    }

    fn report(&mut self, report: VenueReport) {
        if self.reports.len() >= self.config.report_capacity {
            self.stats.report_queue_growths += 1;
        }
        let ready_ns = self
            .event_ns
            .saturating_add(self.report_latency_ns)
            .max(self.last_report_ready_ns);
        self.last_report_ready_ns = ready_ns;
        self.reports.push_back((ready_ns, report));
    }

    fn reject(
        &mut self,
        client_order_id: ClientOrderId,
        kind: RejectKind,
        code: i32,
        remember: bool,
    ) {
        let reject = reject_of(kind, code);
        self.stats.rejected += 1;
        self.report(VenueReport::Rejected {
            client_order_id,
            reject,
        });
        if remember {
            self.remember(ClosedOrder {
                client_order_id,
                venue_order_id: 0,
                outcome: Outcome::Rejected(reject),
            });
        }
    }

    fn remember(&mut self, closed: ClosedOrder) {
        if self.closed.len() >= self.config.order_history {
            self.closed.pop_front();
        }
        self.closed.push_back(closed);
    }

    fn open_index(&self, client_order_id: ClientOrderId) -> Option<usize> {
        self.orders
            .iter()
            .position(|o| !o.done && o.order.client_order_id == client_order_id)
    }
}

impl Venue for PaperVenue {
    fn submit(&mut self, command: &VenueCommand, now_ns: u64) {
        self.advance(now_ns);
        let (entry_ns, report_latency_ns) = self.next_latency();
        if entry_ns == 0 && self.pending.is_empty() {
            self.event_ns = self.event_ns.max(self.clock_ns);
            self.report_latency_ns = report_latency_ns;
            self.execute(*command);
        } else if self.pending.len() >= self.config.max_pending_commands {
            self.event_ns = self.event_ns.max(self.clock_ns);
            self.report_latency_ns = report_latency_ns;
            self.refuse(*command);
        } else {
            let ready_ns = now_ns
                .saturating_add(entry_ns)
                .max(self.last_command_ready_ns);
            self.last_command_ready_ns = ready_ns;
            self.pending
                .push_back((ready_ns, report_latency_ns, *command));
        }
    }

    fn on_market(&mut self, event: &MarketEvent) -> bool {
        let before = self.reports.len();
        self.advance(event.recv_ns);
        self.event_ns = self.event_ns.max(event.recv_ns);
        self.venue_ms = self.venue_ms.max(event.exch_ts_ms);
        let Some(state) = self
            .symbols
            .get_mut(event.symbol.index())
            .and_then(Option::as_mut)
        else {
            self.stats.foreign_events += 1;
            return self.reports.len() != before;
        };
        match &event.kind {
            MarketEventKind::Book(top) => {
                state.liquidity.on_book(top);
                self.match_book(event.symbol);
            }
            MarketEventKind::BookTicker(ticker) => {
                state.liquidity.on_ticker(ticker);
                self.match_book(event.symbol);
            }
            MarketEventKind::Trade(trade) => {
                state.last_trade = Some(*trade);
                self.account.on_mark(event.symbol, trade.price);
                self.match_trade(event.symbol, *trade);
            }
        }
        self.orders.retain(|o| !o.done);
        self.reports.len() != before
    }

    fn poll(&mut self, now_ns: u64, reports: &mut Outbox<VenueReport>) -> bool {
        let mut progressed = self.advance(now_ns);
        self.orders.retain(|o| !o.done);
        while let Some(&(ready_ns, report)) = self.reports.front() {
            if ready_ns > self.clock_ns || reports.push(report).is_err() {
                break;
            }
            self.reports.pop_front();
            progressed = true;
        }
        progressed
    }

    fn next_wakeup_ns(&self) -> Option<u64> {
        // Both queues leave in order, so their fronts are their earliest.
        let command = self.pending.front().map(|c| c.0);
        let report = self.reports.front().map(|r| r.0);
        match (command, report) {
            (Some(c), Some(r)) => Some(c.min(r)),
            (c, r) => c.or(r),
        }
    }
}
