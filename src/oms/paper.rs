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
//!   of it, GTC rests. A resting order fills at its own price (maker fee) when the book crosses
//!   it (up to the crossing quantity) or a trade prints strictly through it (up to the trade's
//!   quantity, shared by our orders in arrival order); [`TradeFillRule::Touch`] also fills on
//!   a trade at the limit. Queue position is not modelled. `LIMIT_MAKER` that would take is
//!   rejected (`WouldTake`).
//! - **Stops.** `STOP_MARKET` / `TAKE_PROFIT_MARKET` trigger on trade prices (a stop buys on a
//!   rise, sells on a fall; a take-profit the other way), report `Triggered`, then execute as a
//!   market order. A stop that would trigger at once is rejected (`WouldTrigger`).
//! - **OCO.** A `LIMIT_MAKER` take-profit leg and a stop leg (stop-market, or stop-limit when
//!   `stop_limit` is set). A take-profit fill or the stop's trigger cancels the other leg;
//!   canceling either leg cancels both (Binance's behaviour).
//! - **Funds.** Spot, and margin without a borrowing side effect, must hold what an order
//!   needs: free = balance − locked. Resting buys lock `price × qty × (1 + max fee rate)` of
//!   the quote asset, sells lock the base quantity; market orders are checked against the
//!   walk's cost. USDⓈ-M orders are not margin-checked (the paper venue keeps no leverage
//!   model); reduce-only futures orders must reduce and are capped at the position.
//! - **Fees** are `notional × maker/taker rate` in the quote asset.
//! - **Time.** Commands take effect `entry_latency_ns` after `submit` (immediately at zero),
//!   against the book as it is then; reports become visible to `poll`
//!   `report_latency_ns` after the step that made them. Venue time in reports is the latest
//!   exchange time seen in market data.
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

mod depth;
mod orders;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::core::decimal::mul_raw;
use crate::core::{
    AssetName, ClientOrderId, Instrument, Market, MarketEvent, MarketEventKind, Notional,
    OrderType, Price, Qty, Ratio, Side, SymbolId, TimeInForce, TradePrint,
};
use crate::engine::stage::Outbox;

use super::portfolio::{
    BalanceCorrection, PairAssets, Portfolio, PortfolioError, PositionCorrection,
};
use super::venue::{
    MarginSideEffect, OcoOrder, RejectKind, Venue, VenueCommand, VenueFill, VenueOpenOrder,
    VenueOrder, VenueReject, VenueReport,
};

use depth::Liquidity;
use orders::{stop_triggers, Outcome, PaperOrder, Stage};

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
    pub beyond_visible_depth: BeyondVisibleDepth,
    pub trade_fill: TradeFillRule,
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

struct SymbolState {
    instrument: Instrument,
    assets: PairAssets,
    liquidity: Liquidity,
    last_trade: Option<TradePrint>,
}

#[derive(Clone, Copy, Debug)]
struct ClosedOrder {
    client_order_id: ClientOrderId,
    venue_order_id: u64,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug)]
struct Lock {
    wallet: Market,
    asset: AssetName,
    qty: Qty,
}

/// A market execution worked out before it happens: the visible pieces and the rest.
#[derive(Clone, Copy, Debug)]
struct MarketPlan {
    walk: depth::Walk,
    /// Quantity beyond the visible levels and the price it fills at (`None`: it expires).
    rest: Qty,
    rest_price: Option<Price>,
}

/// The simulated venue; see the module docs.
pub struct PaperVenue {
    config: PaperConfig,
    symbols: Vec<Option<SymbolState>>,
    account: Portfolio,
    locks: Vec<Lock>,
    /// Open orders in arrival order (time priority among our own orders).
    orders: Vec<PaperOrder>,
    pending: VecDeque<(u64, VenueCommand)>,
    reports: VecDeque<(u64, VenueReport)>,
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
        while let Some(&(ready_ns, command)) = self.pending.front() {
            if ready_ns > self.clock_ns {
                break;
            }
            self.pending.pop_front();
            self.event_ns = self.event_ns.max(ready_ns);
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
        let ready_ns = self.event_ns.saturating_add(self.config.report_latency_ns);
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

    /// Last trade price, else the book mid, else zero (unknown).
    fn reference_price(&self, symbol: SymbolId) -> Price {
        self.state(symbol).map_or(Price::ZERO, |s| {
            s.last_trade
                .map(|t| t.price)
                .or_else(|| s.liquidity.mid())
                .unwrap_or(Price::ZERO)
        })
    }

    fn fee(&self, notional: Notional, is_maker: bool) -> Qty {
        let rate = if is_maker {
            self.config.maker_fee_rate
        } else {
            self.config.taker_fee_rate
        };
        Qty::from_raw(mul_raw(notional.raw(), rate.raw()).unwrap_or(i128::MAX))
    }

    /// Quote a buy of `qty` at up to `price` must hold, fee included at the higher rate.
    fn buy_hold(&self, price: Price, qty: Qty) -> Qty {
        let rate = self.config.maker_fee_rate.max(self.config.taker_fee_rate);
        let notional = price.notional(qty).map_or(i128::MAX, |n| n.raw());
        let fee = mul_raw(notional, rate.raw()).unwrap_or(i128::MAX);
        Qty::from_raw(notional.saturating_add(fee))
    }

    /// What a market order of `qty` on `side` would do now.
    fn market_plan(&self, symbol: SymbolId, side: Side, qty: Qty) -> Option<MarketPlan> {
        let state = self.state(symbol)?;
        let walk = state.liquidity.walk(side, qty, None);
        let rest = qty.saturating_sub(walk.qty);
        let rest_price = match self.config.beyond_visible_depth {
            _ if rest.is_zero() => None,
            BeyondVisibleDepth::ExpireRemainder => None,
            BeyondVisibleDepth::FillWithSlippage { ticks } => {
                let last = walk
                    .last_price()
                    .or_else(|| {
                        state
                            .liquidity
                            .takeable(side)
                            .as_slice()
                            .last()
                            .map(|l| l.price)
                    })
                    .or(state.last_trade.map(|t| t.price))?;
                let tick = state.instrument.price_filter.tick_size.max(Price::ZERO);
                let slip = Price::from_raw(tick.raw().saturating_mul(i128::from(ticks)));
                Some(match side {
                    Side::Buy => last.saturating_add(slip),
                    Side::Sell => {
                        let lower = last.saturating_sub(slip);
                        if lower.is_positive() {
                            lower
                        } else {
                            last
                        }
                    }
                })
            }
        };
        if walk.qty.is_zero() && rest_price.is_none() {
            return None;
        }
        Some(MarketPlan {
            walk,
            rest,
            rest_price,
        })
    }

    /// Quote (buy) or base (sell) a market plan spends, fee included for buys.
    fn market_cost(&self, plan: &MarketPlan, side: Side, qty: Qty) -> Qty {
        match side {
            Side::Sell => qty,
            Side::Buy => {
                let mut notional = plan.walk.notional;
                if let Some(price) = plan.rest_price {
                    let rest = price.notional(plan.rest).unwrap_or(Notional::MAX);
                    notional = notional.saturating_add(rest);
                }
                Qty::from_raw(notional.raw()).saturating_add(self.fee(notional, false))
            }
        }
    }

    /// Quantity an order may still fill: reduce-only futures orders stop at the position.
    fn fillable(&self, index: usize) -> Qty {
        let order = &self.orders[index];
        let remaining = order.remaining();
        if !(order.order.reduce_only && order.order.market == Market::UsdmFutures) {
            return remaining;
        }
        let position = self
            .account
            .position(Market::UsdmFutures, order.order.symbol)
            .map_or(Qty::ZERO, |p| p.qty);
        let reducible = match order.order.side {
            Side::Buy if position.raw() < 0 => position.abs(),
            Side::Sell if position.is_positive() => position,
            _ => Qty::ZERO,
        };
        remaining.min(reducible)
    }

    /// Checks a new order against the instrument, the account and the book.
    fn validate(&self, order: &VenueOrder, state: &SymbolState) -> Result<(), (RejectKind, i32)> {
        let futures = order.market == Market::UsdmFutures;
        let reference = self.reference_price(order.symbol);
        let instrument = &state.instrument;
        let is_stop = matches!(
            order.order_type,
            OrderType::StopMarket | OrderType::TakeProfitMarket
        );
        let checked = match order.order_type {
            OrderType::Market => {
                instrument.check_order(true, order.side, Price::ZERO, order.qty, reference)
            }
            OrderType::Limit | OrderType::LimitMaker => {
                instrument.check_order(false, order.side, order.price, order.qty, reference)
            }
            OrderType::StopMarket | OrderType::TakeProfitMarket => {
                instrument.check_order(false, order.side, order.trigger_price, order.qty, reference)
            }
        };
        checked.map_err(|_| (RejectKind::Filter, code::FILTER))?;
        self.check_open_order_limits(order.symbol, is_stop, 1, instrument)?;
        if futures && order.reduce_only {
            let position = self
                .account
                .position(Market::UsdmFutures, order.symbol)
                .map_or(Qty::ZERO, |p| p.qty);
            let reduces = match order.side {
                Side::Buy => position.raw() < 0,
                Side::Sell => position.is_positive(),
            };
            if !reduces {
                return Err((RejectKind::ReduceOnly, code::FUTURES_REDUCE_ONLY));
            }
        }
        let last_trade = state.last_trade.map(|t| t.price);
        if is_stop
            && last_trade.is_some_and(|last| {
                stop_triggers(order.order_type, order.side, order.trigger_price, last)
            })
        {
            let code = if futures {
                code::FUTURES_WOULD_TRIGGER
            } else {
                code::NEW_ORDER_REJECTED
            };
            return Err((RejectKind::WouldTrigger, code));
        }
        if order.order_type == OrderType::LimitMaker
            && state.liquidity.crosses(order.side, order.price)
        {
            let code = if futures {
                code::FUTURES_POST_ONLY
            } else {
                code::NEW_ORDER_REJECTED
            };
            return Err((RejectKind::WouldTake, code));
        }
        let plan = if order.order_type == OrderType::Market {
            Some(
                self.market_plan(order.symbol, order.side, order.qty)
                    .ok_or((RejectKind::Unavailable, CODE_NO_MARKET_DATA))?,
            )
        } else {
            None
        };
        if !funds_tracked(order) {
            return Ok(());
        }
        let (asset, needed) = match (order.side, plan) {
            (Side::Sell, _) => (state.assets.base, order.qty),
            (Side::Buy, Some(plan)) => (
                state.assets.quote,
                self.market_cost(&plan, Side::Buy, order.qty),
            ),
            (Side::Buy, None) => {
                let price = if is_stop {
                    order.trigger_price
                } else {
                    order.price
                };
                (state.assets.quote, self.buy_hold(price, order.qty))
            }
        };
        if self.free(order.market, asset) < needed {
            return Err((RejectKind::InsufficientFunds, code::NEW_ORDER_REJECTED));
        }
        Ok(())
    }

    /// The instrument's `MAX_NUM_ORDERS` / `MAX_NUM_ALGO_ORDERS` for `adding` more orders.
    fn check_open_order_limits(
        &self,
        symbol: SymbolId,
        is_stop: bool,
        adding: u32,
        instrument: &Instrument,
    ) -> Result<(), (RejectKind, i32)> {
        let on_symbol = self
            .orders
            .iter()
            .filter(|o| !o.done && o.order.symbol == symbol);
        let (all, stops) = on_symbol.fold((0u32, 0u32), |(all, stops), o| {
            (all + 1, stops + u32::from(o.is_stop_leg()))
        });
        let over = |count: u32, max: u32| max > 0 && count + adding > max;
        if over(all, instrument.max_num_orders)
            || (is_stop && over(stops, instrument.max_num_algo_orders))
        {
            return Err((RejectKind::Filter, code::FILTER));
        }
        Ok(())
    }

    /// Places one order: validate, acknowledge, then execute or rest.
    fn place(&mut self, order: VenueOrder) {
        let id = order.client_order_id;
        if self.open_index(id).is_some() {
            // Not remembered: the open order keeps answering queries for this id.
            return self.reject(id, RejectKind::Duplicate, code::NEW_ORDER_REJECTED, false);
        }
        if self.orders.len() >= self.config.max_open_orders {
            return self.reject(id, RejectKind::Unavailable, CODE_ORDER_TABLE_FULL, true);
        }
        let verdict = self
            .traded_state(order.symbol, order.market)
            .ok_or((RejectKind::BadSymbol, code::BAD_SYMBOL))
            .and_then(|state| self.validate(&order, state).map(|()| state.assets));
        let assets = match verdict {
            Ok(assets) => assets,
            Err((kind, code)) => return self.reject(id, kind, code, true),
        };
        let stage = match order.order_type {
            OrderType::Market => Stage::Taking,
            OrderType::Limit | OrderType::LimitMaker => Stage::Resting,
            OrderType::StopMarket | OrderType::TakeProfitMarket => Stage::Armed,
        };
        let lock_price = match order.order_type {
            OrderType::StopMarket | OrderType::TakeProfitMarket => order.trigger_price,
            _ => order.price,
        };
        let index = self.accept(order, stage, lock_price, assets);
        match (order.order_type, order.time_in_force) {
            (OrderType::Market, _) => self.execute_market(index),
            (OrderType::Limit, TimeInForce::Fok) => {
                let covered = self.state(order.symbol).is_some_and(|s| {
                    s.liquidity
                        .walk(order.side, order.qty, Some(order.price))
                        .qty
                        == order.qty
                });
                if covered {
                    self.take_within_limit(index);
                } else {
                    self.finish(index, Outcome::Expired);
                }
            }
            (OrderType::Limit, TimeInForce::Ioc) => {
                self.take_within_limit(index);
                self.finish(index, Outcome::Expired);
            }
            (OrderType::Limit, TimeInForce::Gtc) => self.take_within_limit(index),
            _ => {}
        }
    }

    /// Adds an accepted order to the table, acknowledges it and locks its funds.
    fn accept(
        &mut self,
        order: VenueOrder,
        stage: Stage,
        lock_price: Price,
        assets: PairAssets,
    ) -> usize {
        let venue_order_id = self.next_venue_order_id;
        self.next_venue_order_id += 1;
        self.orders.push(PaperOrder {
            order,
            venue_order_id,
            filled: Qty::ZERO,
            stage,
            stop_limit: Price::ZERO,
            oco_sibling: None,
            shares_sibling_lock: false,
            lock_price,
            locked: Qty::ZERO,
            lock_asset: match order.side {
                Side::Buy => assets.quote,
                Side::Sell => assets.base,
            },
            done: false,
        });
        self.stats.accepted += 1;
        self.report(VenueReport::Accepted {
            client_order_id: order.client_order_id,
            venue_order_id,
            venue_ts_ms: self.venue_ms,
        });
        let index = self.orders.len() - 1;
        self.relock(index);
        index
    }

    fn place_oco(&mut self, oco: OcoOrder) {
        let legs = [oco.take_profit_id, oco.stop_id];
        let reject_both = |venue: &mut Self, kind, code, remember| {
            for id in legs {
                venue.reject(id, kind, code, remember);
            }
        };
        if oco.take_profit_id == oco.stop_id || legs.iter().any(|&id| self.open_index(id).is_some())
        {
            return reject_both(self, RejectKind::Duplicate, code::NEW_ORDER_REJECTED, false);
        }
        if self.orders.len() + 2 > self.config.max_open_orders {
            return reject_both(self, RejectKind::Unavailable, CODE_ORDER_TABLE_FULL, true);
        }
        let take_profit = VenueOrder {
            client_order_id: oco.take_profit_id,
            symbol: oco.symbol,
            market: oco.market,
            side: oco.side,
            order_type: OrderType::LimitMaker,
            time_in_force: TimeInForce::Gtc,
            price: oco.take_profit_price,
            trigger_price: Price::ZERO,
            qty: oco.qty,
            reduce_only: false,
            margin: oco.margin,
        };
        let stop = VenueOrder {
            client_order_id: oco.stop_id,
            order_type: OrderType::StopMarket,
            price: Price::ZERO,
            trigger_price: oco.stop_trigger,
            ..take_profit
        };
        let verdict = self
            .traded_state(oco.symbol, oco.market)
            .ok_or((RejectKind::BadSymbol, code::BAD_SYMBOL))
            .and_then(|state| {
                self.validate_oco(&oco, &take_profit, &stop, state)
                    .map(|()| state.assets)
            });
        let assets = match verdict {
            Ok(assets) => assets,
            Err((kind, code)) => return reject_both(self, kind, code, true),
        };
        let worst_buy_price = oco
            .take_profit_price
            .max(oco.stop_trigger)
            .max(oco.stop_limit);
        let tp_index = self.accept(take_profit, Stage::Resting, worst_buy_price, assets);
        let stop_index = self.accept(
            stop,
            Stage::Armed,
            oco.stop_limit.max(oco.stop_trigger),
            assets,
        );
        self.orders[tp_index].oco_sibling = Some(oco.stop_id);
        let stop_leg = &mut self.orders[stop_index];
        stop_leg.oco_sibling = Some(oco.take_profit_id);
        stop_leg.shares_sibling_lock = true;
        stop_leg.stop_limit = oco.stop_limit.max(Price::ZERO);
        self.relock(tp_index);
        self.relock(stop_index);
    }

    fn validate_oco(
        &self,
        oco: &OcoOrder,
        take_profit: &VenueOrder,
        stop: &VenueOrder,
        state: &SymbolState,
    ) -> Result<(), (RejectKind, i32)> {
        let reference = self.reference_price(oco.symbol);
        let instrument = &state.instrument;
        let filter = |price: Price| {
            instrument
                .check_order(false, oco.side, price, oco.qty, reference)
                .map_err(|_| (RejectKind::Filter, code::FILTER))
        };
        filter(oco.take_profit_price)?;
        filter(oco.stop_trigger)?;
        if oco.stop_limit.is_positive() {
            filter(oco.stop_limit)?;
        }
        self.check_open_order_limits(oco.symbol, true, 2, instrument)?;
        let last = state.last_trade.map(|t| t.price);
        // Binance: a sell OCO needs take-profit > last > stop; a buy OCO the mirror image.
        let take_profit_takes = state.liquidity.crosses(oco.side, oco.take_profit_price)
            || last.is_some_and(|last| match oco.side {
                Side::Sell => oco.take_profit_price <= last,
                Side::Buy => oco.take_profit_price >= last,
            });
        if take_profit_takes {
            return Err((RejectKind::WouldTake, code::NEW_ORDER_REJECTED));
        }
        if last
            .is_some_and(|last| stop_triggers(stop.order_type, stop.side, stop.trigger_price, last))
        {
            return Err((RejectKind::WouldTrigger, code::NEW_ORDER_REJECTED));
        }
        if !funds_tracked(take_profit) {
            return Ok(());
        }
        let (asset, needed) = match oco.side {
            Side::Sell => (state.assets.base, oco.qty),
            Side::Buy => {
                let worst = oco
                    .take_profit_price
                    .max(oco.stop_trigger)
                    .max(oco.stop_limit);
                (state.assets.quote, self.buy_hold(worst, oco.qty))
            }
        };
        if self.free(oco.market, asset) < needed {
            return Err((RejectKind::InsufficientFunds, code::NEW_ORDER_REJECTED));
        }
        Ok(())
    }

    /// Sets an order's lock to what it needs now and the wallet's total with it.
    fn relock(&mut self, index: usize) {
        let order = self.orders[index];
        let sibling_holds = order.shares_sibling_lock && order.oco_sibling.is_some();
        let needed = if order.done
            || order.stage == Stage::Taking
            || sibling_holds
            || !funds_tracked(&order.order)
        {
            Qty::ZERO
        } else {
            match order.order.side {
                Side::Sell => order.remaining(),
                Side::Buy => self.buy_hold(order.lock_price, order.remaining()),
            }
        };
        let delta = needed.saturating_sub(order.locked);
        self.orders[index].locked = needed;
        if let Some(lock) = self
            .locks
            .iter_mut()
            .find(|l| l.wallet == order.order.market && l.asset == order.lock_asset)
        {
            lock.qty = lock.qty.saturating_add(delta);
        }
    }

    /// Takes what the visible book offers within the order's limit, as a taker.
    fn take_within_limit(&mut self, index: usize) {
        let order = self.orders[index];
        let fillable = self.fillable(index);
        let Some(state) = self
            .symbols
            .get_mut(order.order.symbol.index())
            .and_then(Option::as_mut)
        else {
            return;
        };
        let walk = state
            .liquidity
            .take(order.order.side, fillable, Some(order.order.price));
        for piece in walk.pieces() {
            self.fill(index, piece.price, piece.qty, false);
        }
    }

    /// Executes the rest of an order as a market order, then expires what is left.
    fn execute_market(&mut self, index: usize) {
        let order = self.orders[index];
        let fillable = self.fillable(index);
        let Some(plan) = self.market_plan(order.order.symbol, order.order.side, fillable) else {
            return self.finish(index, Outcome::Expired);
        };
        let walk = match self
            .symbols
            .get_mut(order.order.symbol.index())
            .and_then(Option::as_mut)
        {
            Some(state) => state.liquidity.take(order.order.side, fillable, None),
            None => depth::Walk::default(),
        };
        for piece in walk.pieces() {
            self.fill(index, piece.price, piece.qty, false);
        }
        if let Some(price) = plan.rest_price {
            let rest = self.fillable(index);
            if rest.is_positive() && !self.orders[index].done {
                self.fill(index, price, rest, false);
            }
        }
        self.finish(index, Outcome::Expired);
    }

    /// Books one execution of the order at `index`.
    fn fill(&mut self, index: usize, price: Price, qty: Qty, is_maker: bool) {
        let order = self.orders[index];
        let Some(assets) = self.state(order.order.symbol).map(|s| s.assets) else {
            return;
        };
        let Some(notional) = price.notional(qty) else {
            self.stats.accounting_errors += 1;
            return;
        };
        let fill = VenueFill {
            client_order_id: order.order.client_order_id,
            symbol: order.order.symbol,
            market: order.order.market,
            side: order.order.side,
            price,
            qty,
            fee: self.fee(notional, is_maker),
            fee_asset: assets.quote,
            venue_trade_id: self.next_trade_id,
            venue_order_id: order.venue_order_id,
            is_maker,
            venue_ts_ms: self.venue_ms,
        };
        self.next_trade_id += 1;
        if self.account.on_fill(&fill, assets).is_err() {
            self.stats.accounting_errors += 1;
        }
        self.orders[index].filled = order.filled.saturating_add(qty);
        if self.trades.len() >= self.config.trade_history {
            if let Some(evicted) = self.trades.pop_front() {
                self.newest_evicted_trade_id = evicted.venue_trade_id;
                self.stats.evicted_trades += 1;
            }
        }
        self.trades.push_back(fill);
        self.stats.fills += 1;
        self.report(VenueReport::Fill(fill));
        self.relock(index);
        // The take-profit leg of an OCO filling (even partly) cancels the stop leg.
        if let Some(sibling) = order.oco_sibling.filter(|_| !order.is_stop_leg()) {
            if let Some(other) = self.open_index(sibling) {
                self.finish(other, Outcome::Canceled);
            }
        }
        if self.orders[index].remaining().is_zero() {
            self.finish(index, Outcome::Filled);
        } else if order.order.reduce_only && self.fillable(index).is_zero() {
            // The position it reduced is closed: a reduce-only order has nothing left to do.
            self.finish(index, Outcome::Expired);
        }
    }

    /// Takes an order out of the table with its final report; no-op when already done.
    fn finish(&mut self, index: usize, outcome: Outcome) {
        let order = self.orders[index];
        if order.done {
            return;
        }
        self.orders[index].done = true;
        let client_order_id = order.order.client_order_id;
        match outcome {
            Outcome::Canceled => {
                self.stats.canceled += 1;
                self.report(VenueReport::Canceled {
                    client_order_id,
                    venue_ts_ms: self.venue_ms,
                });
            }
            Outcome::Expired => {
                self.stats.expired += 1;
                self.report(VenueReport::Expired {
                    client_order_id,
                    venue_ts_ms: self.venue_ms,
                });
            }
            Outcome::Filled | Outcome::Rejected(_) => {}
        }
        self.relock(index);
        if let Some(sibling) = order.oco_sibling {
            self.orders[index].oco_sibling = None;
            if let Some(other) = self.open_index(sibling) {
                self.orders[other].oco_sibling = None;
                self.relock(other);
            }
        }
        self.remember(ClosedOrder {
            client_order_id,
            venue_order_id: order.venue_order_id,
            outcome,
        });
    }

    /// A stop fired: report it, cancel its OCO partner, then execute or rest.
    fn trigger(&mut self, index: usize) {
        let order = self.orders[index];
        self.stats.triggered += 1;
        self.report(VenueReport::Triggered {
            client_order_id: order.order.client_order_id,
            venue_ts_ms: self.venue_ms,
        });
        if let Some(other) = order.oco_sibling.and_then(|id| self.open_index(id)) {
            self.finish(other, Outcome::Canceled);
        }
        if order.stop_limit.is_positive() {
            let triggered = &mut self.orders[index];
            triggered.order.order_type = OrderType::Limit;
            triggered.order.price = order.stop_limit;
            triggered.stage = Stage::Resting;
            triggered.lock_price = order.stop_limit;
            self.relock(index);
            self.take_within_limit(index);
            return;
        }
        self.orders[index].stage = Stage::Taking;
        self.relock(index);
        if funds_tracked(&order.order) {
            let fillable = self.fillable(index);
            let affordable = self
                .market_plan(order.order.symbol, order.order.side, fillable)
                .zip(self.state(order.order.symbol))
                .is_some_and(|(plan, state)| {
                    let asset = match order.order.side {
                        Side::Buy => state.assets.quote,
                        Side::Sell => state.assets.base,
                    };
                    self.market_cost(&plan, order.order.side, fillable)
                        <= self.free(order.order.market, asset)
                });
            if !affordable {
                return self.finish(index, Outcome::Expired);
            }
        }
        self.execute_market(index);
    }

    /// Resting orders the (new) book crosses fill at their own price, best levels first.
    fn match_book(&mut self, symbol: SymbolId) {
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.done || order.order.symbol != symbol || order.stage != Stage::Resting {
                continue;
            }
            let fillable = self.fillable(index);
            if fillable.is_zero() {
                self.finish(index, Outcome::Expired);
                continue;
            }
            let Some(state) = self
                .symbols
                .get_mut(symbol.index())
                .and_then(Option::as_mut)
            else {
                return;
            };
            let walk = state
                .liquidity
                .take(order.order.side, fillable, Some(order.order.price));
            if walk.qty.is_positive() {
                self.fill(index, order.order.price, walk.qty, true);
            }
        }
    }

    /// A trade fires stops at or through their trigger and fills resting orders it went through.
    fn match_trade(&mut self, symbol: SymbolId, trade: TradePrint) {
        let mut budget = trade.qty;
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.done || order.order.symbol != symbol {
                continue;
            }
            match order.stage {
                Stage::Armed
                    if stop_triggers(
                        order.order.order_type,
                        order.order.side,
                        order.order.trigger_price,
                        trade.price,
                    ) =>
                {
                    self.trigger(index);
                }
                Stage::Resting if budget.is_positive() => {
                    let limit = order.order.price;
                    let through = match (self.config.trade_fill, order.order.side) {
                        (TradeFillRule::ThroughOnly, Side::Buy) => trade.price < limit,
                        (TradeFillRule::ThroughOnly, Side::Sell) => trade.price > limit,
                        (TradeFillRule::Touch, Side::Buy) => trade.price <= limit,
                        (TradeFillRule::Touch, Side::Sell) => trade.price >= limit,
                    };
                    if !through {
                        continue;
                    }
                    let qty = self.fillable(index).min(budget);
                    if qty.is_positive() {
                        budget = budget.saturating_sub(qty);
                        self.fill(index, limit, qty, true);
                    }
                }
                _ => {}
            }
        }
    }

    fn cancel(&mut self, client_order_id: ClientOrderId, symbol: SymbolId, market: Market) {
        let index = self.open_index(client_order_id).filter(|&i| {
            let order = &self.orders[i].order;
            order.symbol == symbol && order.market == market
        });
        let Some(index) = index else {
            return self.report(VenueReport::CancelRejected {
                client_order_id,
                reject: reject_of(RejectKind::UnknownOrder, code::CANCEL_REJECTED),
            });
        };
        let sibling = self.orders[index].oco_sibling;
        self.finish(index, Outcome::Canceled);
        // Canceling one leg of an OCO cancels the list.
        if let Some(other) = sibling.and_then(|id| self.open_index(id)) {
            self.finish(other, Outcome::Canceled);
        }
    }

    fn cancel_all(&mut self, symbol: SymbolId, market: Market) {
        for index in 0..self.orders.len() {
            let order = &self.orders[index].order;
            if order.symbol == symbol && order.market == market {
                self.finish(index, Outcome::Canceled);
            }
        }
    }

    /// Re-sends an order's fills still in the trade log.
    fn report_fills_of(&mut self, client_order_id: ClientOrderId) {
        for index in 0..self.trades.len() {
            let fill = self.trades[index];
            if fill.client_order_id == client_order_id {
                self.report(VenueReport::Fill(fill));
            }
        }
    }

    fn query(&mut self, client_order_id: ClientOrderId, symbol: SymbolId, market: Market) {
        let accepted = |venue_order_id, venue: &Self| VenueReport::Accepted {
            client_order_id,
            venue_order_id,
            venue_ts_ms: venue.venue_ms,
        };
        let open = self.open_index(client_order_id).map(|i| self.orders[i]);
        if let Some(order) = open.filter(|o| o.order.symbol == symbol && o.order.market == market) {
            self.report(accepted(order.venue_order_id, self));
            return self.report_fills_of(client_order_id);
        }
        let closed = self
            .closed
            .iter()
            .rev()
            .find(|c| c.client_order_id == client_order_id)
            .copied();
        let Some(closed) = closed else {
            return self.report(VenueReport::Rejected {
                client_order_id,
                reject: reject_of(RejectKind::UnknownOrder, code::NO_SUCH_ORDER),
            });
        };
        if let Outcome::Rejected(reject) = closed.outcome {
            return self.report(VenueReport::Rejected {
                client_order_id,
                reject,
            });
        }
        self.report(accepted(closed.venue_order_id, self));
        self.report_fills_of(client_order_id);
        let venue_ts_ms = self.venue_ms;
        match closed.outcome {
            Outcome::Canceled => self.report(VenueReport::Canceled {
                client_order_id,
                venue_ts_ms,
            }),
            Outcome::Expired => self.report(VenueReport::Expired {
                client_order_id,
                venue_ts_ms,
            }),
            Outcome::Filled | Outcome::Rejected(_) => {}
        }
    }

    fn reconcile(&mut self, symbol: SymbolId, market: Market, since_trade_id: u64) {
        let Some(assets) = self.traded_state(symbol, market).map(|s| s.assets) else {
            return self.report(VenueReport::ReconcileDone { symbol, ok: false });
        };
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.done || order.order.symbol != symbol || order.order.market != market {
                continue;
            }
            self.report(VenueReport::OpenOrder(VenueOpenOrder {
                client_order_id: Some(order.order.client_order_id),
                venue_order_id: order.venue_order_id,
                symbol,
                market,
                side: order.order.side,
                order_type: order.order.order_type,
                price: order.order.price,
                trigger_price: order.order.trigger_price,
                qty: order.order.qty,
                filled_qty: order.filled,
                reduce_only: order.order.reduce_only,
            }));
        }
        for index in 0..self.trades.len() {
            let fill = self.trades[index];
            if fill.symbol == symbol
                && fill.market == market
                && fill.venue_trade_id > since_trade_id
            {
                self.report(VenueReport::Fill(fill));
            }
        }
        // Futures report the settlement wallet; spot and margin both coins of the pair.
        let (balance_assets, count) = match market {
            Market::UsdmFutures => ([assets.quote, assets.quote], 1),
            Market::Spot | Market::Margin => ([assets.base, assets.quote], 2),
        };
        for &asset in &balance_assets[..count] {
            let locked = self.locked(market, asset);
            self.report(VenueReport::Balance {
                asset,
                free: self.account.balance(market, asset).saturating_sub(locked),
                locked,
            });
        }
        if market == Market::UsdmFutures {
            let (qty, entry_price) = self
                .account
                .position(market, symbol)
                .map_or((Qty::ZERO, Price::ZERO), |p| (p.qty, p.avg_entry_price));
            self.report(VenueReport::Position {
                symbol,
                qty,
                entry_price,
            });
        }
        // A trade newer than `since_trade_id` may have been evicted from the log.
        let ok = since_trade_id >= self.newest_evicted_trade_id;
        self.report(VenueReport::ReconcileDone { symbol, ok });
    }
}

impl Venue for PaperVenue {
    fn submit(&mut self, command: &VenueCommand, now_ns: u64) {
        self.advance(now_ns);
        if self.config.entry_latency_ns == 0 {
            self.event_ns = self.event_ns.max(self.clock_ns);
            self.execute(*command);
        } else if self.pending.len() >= self.config.max_pending_commands {
            self.event_ns = self.event_ns.max(self.clock_ns);
            self.refuse(*command);
        } else {
            let ready_ns = now_ns.saturating_add(self.config.entry_latency_ns);
            self.pending.push_back((ready_ns, *command));
        }
    }

    fn on_market(&mut self, event: &MarketEvent) {
        self.advance(event.recv_ns);
        self.event_ns = self.event_ns.max(event.recv_ns);
        self.venue_ms = self.venue_ms.max(event.exch_ts_ms);
        let Some(state) = self
            .symbols
            .get_mut(event.symbol.index())
            .and_then(Option::as_mut)
        else {
            self.stats.foreign_events += 1;
            return;
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
}
