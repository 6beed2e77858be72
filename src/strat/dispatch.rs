//! Owns: running several strategies side by side on the strategy thread — delivering each
//! the market events, closed bars, fills and order updates of its own symbols and orders,
//! keeping every strategy's holdings from its fills and updates, the latest market state per
//! symbol, the account equity, the symbol scanner's selection, and turning the strategies'
//! signals into order intents for the one funnel (risk rails → order manager). Never: sends
//! an order the risk rails did not see, reads a clock, does I/O or allocates per event.
//!
//! **Dispatcher order.** Strategies are called in the configured order (`[strategies]
//! order`), each with the event, and the signals of one strategy are turned into intents
//! before the next strategy is called. So within one event, the first strategy in the list
//! that enters a symbol claims it.
//!
//! **Conflict rule (two strategies, one symbol).** A symbol belongs to the strategy that
//! holds a position there or has an order live or in flight there, until it is flat with
//! nothing open. While it belongs to one strategy, every other strategy's entry on it is
//! refused (counted in `strategy_signals_refused_total{reason="owned"}`); their exits and
//! stop moves only ever touch their own holdings. So two strategies never hold opposite (or
//! stacked) positions on one symbol, and a strategy's exit never sells another's position.
//!
//! **Entries.** Refused when the strategy holds or has anything open or in flight on the
//! symbol (no doubled entry), when the symbol is out of its scope (its list, or the scanner's
//! selection), for a sell entry when the order side trades spot (a short sale needs futures),
//! or without a price to size a quote at. A quote size becomes base quantity at the side's
//! reference price; the order manager floors it onto the lot grid.
//!
//! **Exits.** `Exit` cancels the strategy's live orders on the symbol (its bracket legs hold
//! the coins on spot), then sends a market order for exactly the held quantity (reduce-only
//! on futures) once they are confirmed gone. A refused closing order is retried after
//! `exit_retry_ns`. An exit with nothing held and nothing open is ignored.
//!
//! **Dust.** A residue below the symbol's lot floor (`set_lot_floor`: fees taken in the base
//! asset, partial fills off the lot grid) stays booked but shows as flat: it can neither be
//! sold nor may it block new entries.
//!
//! **Bars.** Closed bars come from the trades the dispatcher sees (1m and the higher
//! timeframes any strategy asks for, UTC-aligned, flat bars for quiet periods; see
//! `book::bars`). In a backtest on candle data (`bars_from_data`) the data's closed bars are
//! used instead, rolled up into the higher timeframes; trades are then not aggregated, so no
//! bar is delivered twice.
//!
//! **Bookkeeping of intents.** Every new-order intent yields an order update: its first one
//! (an id seen for the first time, or a rejection without an id) ends the "in flight" state.
//! A rejection without an id and with zero quantity answers a cancel or a stop move and
//! changes nothing.

use crate::book::{Bar, BarAggregator, MINUTE_MS};
use crate::core::decimal::{mul_div_raw, SCALE};
use crate::core::{
    ClientOrderId, ExecEvent, Fill, Market, MarketEvent, MarketEventKind, Notional, OrderIntent,
    OrderRole, OrderStatus, OrderType, OrderUpdate, Price, Qty, Side, StrategyId, SymbolId,
};
use crate::core::{IntentAction, TimeInForce};
use crate::engine::stage::{Outbox, SnapshotSink, StrategyStage};
use crate::ops::{Counter, OpsError, Registry};

use super::api::{
    CtxView, EntryPlan, Holding, MetricsScope, Reloaded, RestoreError, Signal, Size, Strategy,
    StrategyCtx, SymbolSelector, SymbolState, SIGNALS_PER_CALL,
};

/// Live orders one strategy tracks per symbol (entries, legs, the closing order).
const LIVE_PER_HOLDING: usize = 8;
/// Component name of the scanner's snapshot.
pub const SCANNER_SNAPSHOT: &str = "symbol_scanner";

/// Dispatcher settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// The market the order side trades (spot refuses sell entries).
    pub market: Market,
    /// Closed bars come from the data (`on_bar`), not from trades.
    pub bars_from_data: bool,
    /// Least engine time between two snapshots of one strategy.
    pub snapshot_every_ns: u64,
    /// Wait before a refused closing order is sent again.
    pub exit_retry_ns: u64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            market: Market::Spot,
            bars_from_data: false,
            snapshot_every_ns: 1_000_000_000,
            exit_retry_ns: 1_000_000_000,
        }
    }
}

/// Why a signal was not turned into an intent (`reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Refusal {
    NotInScope = 0,
    Holding = 1,
    Owned = 2,
    SpotShort = 3,
    NoPrice = 4,
    ZeroSize = 5,
    NoBracket = 6,
    LooserStop = 7,
    TooManySignals = 8,
    OutboxFull = 9,
    NothingHeld = 10,
}

impl Refusal {
    const ALL: [Refusal; 11] = [
        Refusal::NotInScope,
        Refusal::Holding,
        Refusal::Owned,
        Refusal::SpotShort,
        Refusal::NoPrice,
        Refusal::ZeroSize,
        Refusal::NoBracket,
        Refusal::LooserStop,
        Refusal::TooManySignals,
        Refusal::OutboxFull,
        Refusal::NothingHeld,
    ];

    /// The `reason` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::NotInScope => "not_in_scope",
            Refusal::Holding => "holding",
            Refusal::Owned => "owned",
            Refusal::SpotShort => "spot_short",
            Refusal::NoPrice => "no_price",
            Refusal::ZeroSize => "zero_size",
            Refusal::NoBracket => "no_bracket",
            Refusal::LooserStop => "looser_stop",
            Refusal::TooManySignals => "too_many_signals",
            Refusal::OutboxFull => "outbox_full",
            Refusal::NothingHeld => "nothing_held",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LiveOrder {
    id: ClientOrderId,
    role: OrderRole,
    /// The dispatcher's closing order of an exit.
    closing: bool,
}

/// One strategy's bookkeeping on one symbol.
#[derive(Clone, Copy, Debug, Default)]
struct HoldingState {
    view: Holding,
    /// The signed quantity from fills; `view.qty` shows it only from the symbol's lot
    /// floor up (a residue below it cannot be sold and must not block new entries).
    booked: Qty,
    live: [LiveOrder; LIVE_PER_HOLDING],
    /// New-order intents sent and not yet answered.
    in_flight: u16,
    /// The closing order of the current exit was sent (and not yet final).
    close_sent: bool,
    /// Engine time before which a refused closing order is not sent again.
    exit_retry_ns: u64,
    /// Tag index of the exit in progress (metrics).
    exit_tag: usize,
}

impl HoldingState {
    fn live_count(&self) -> u16 {
        self.live.iter().filter(|o| o.id.0 != 0).count() as u16
    }

    fn find(&self, id: ClientOrderId) -> Option<usize> {
        self.live.iter().position(|o| o.id == id && id.0 != 0)
    }

    /// Recomputes the derived view fields after a change.
    fn refresh(&mut self) {
        let live_entries = self
            .live
            .iter()
            .any(|o| o.id.0 != 0 && o.role == OrderRole::Entry && !o.closing);
        self.view.open_orders = self.live_count();
        self.view.entry_open = self.in_flight > 0 && !self.view.exiting || live_entries;
        let leg = self
            .live
            .iter()
            .any(|o| matches!(o.role, OrderRole::StopLoss | OrderRole::TakeProfit) && o.id.0 != 0);
        if !leg {
            self.view.bracket_entry = ClientOrderId(0);
            self.view.stop_loss = Price::ZERO;
            self.view.take_profit = Price::ZERO;
        }
        if self.view.exiting
            && self.view.qty.is_zero()
            && self.view.open_orders == 0
            && self.in_flight == 0
        {
            self.view.exiting = false;
            self.close_sent = false;
        }
    }
}

/// Metric handles of one strategy.
struct SlotMetrics {
    /// `strategy_orders_total{symbol,venue,side,source}`: [(tag × symbols + symbol) × 2 + side].
    orders: Vec<Counter>,
    /// `strategy_signals_refused_total{strategy,reason}` by [`Refusal`].
    refused: Vec<Counter>,
    /// `strategy_dry_run_orders_total{strategy}`.
    dry_run: Counter,
}

impl SlotMetrics {
    fn detached(tags: usize, symbols: usize) -> Self {
        Self {
            orders: (0..tags.max(1) * symbols * 2)
                .map(|_| Counter::new())
                .collect(),
            refused: Refusal::ALL.iter().map(|_| Counter::new()).collect(),
            dry_run: Counter::new(),
        }
    }
}

struct Slot {
    strategy: Box<dyn Strategy>,
    id: StrategyId,
    name: &'static str,
    tags: &'static [&'static str],
    /// Events of these symbols are delivered (by symbol index).
    wants: Vec<bool>,
    /// Entries allowed here when it does not use the scanner (by symbol index).
    scope: Vec<bool>,
    timeframes: Vec<u32>,
    uses_scanner: bool,
    dry_run: bool,
    seq: u64,
    dirty: bool,
    last_snapshot_ns: u64,
    metrics: SlotMetrics,
}

/// How bars reach the strategies for one symbol.
struct SymbolBars {
    aggregator: Option<BarAggregator>,
    /// Forming roll-ups of data bars into higher timeframes (minutes, bar, open).
    rollups: Vec<(u32, Bar, bool)>,
    from_data: bool,
}

/// The state every strategy's view reads.
struct Shared {
    symbols: usize,
    holdings: Vec<HoldingState>,
    markets: Vec<SymbolState>,
    /// Slot owning each symbol.
    owners: Vec<Option<usize>>,
    ids: Vec<StrategyId>,
    /// Scanner selection by symbol index (all false without a scanner).
    selected: Vec<bool>,
    scanner_on: bool,
    futures: bool,
}

struct SlotView<'a> {
    shared: &'a Shared,
    slot: usize,
    scope: &'a [bool],
    uses_scanner: bool,
}

impl CtxView for SlotView<'_> {
    fn holding(&self, symbol: SymbolId) -> Holding {
        let s = self.shared;
        if symbol.index() >= s.symbols {
            return Holding::default();
        }
        s.holdings[self.slot * s.symbols + symbol.index()].view
    }
    fn market(&self, symbol: SymbolId) -> SymbolState {
        self.shared
            .markets
            .get(symbol.index())
            .copied()
            .unwrap_or_default()
    }
    fn owner(&self, symbol: SymbolId) -> Option<StrategyId> {
        let slot = self.shared.owners.get(symbol.index()).copied().flatten()?;
        self.shared.ids.get(slot).copied()
    }
    fn in_scope(&self, symbol: SymbolId) -> bool {
        let i = symbol.index();
        if self.uses_scanner && self.shared.scanner_on {
            self.shared.selected.get(i).copied().unwrap_or(false)
        } else {
            self.scope.get(i).copied().unwrap_or(false)
        }
    }
    fn shorts_possible(&self) -> bool {
        self.shared.futures
    }
}

/// Dispatcher counters (for tests and the run summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchCounts {
    pub market_events: u64,
    pub bars: u64,
    pub intents: u64,
    pub refused: u64,
    pub snapshots: u64,
}

/// The strategy stage of a multi-strategy run.
pub struct Dispatcher {
    config: DispatcherConfig,
    slots: Vec<Slot>,
    shared: Shared,
    bars: Vec<SymbolBars>,
    scanner: Option<Box<dyn SymbolSelector>>,
    scanner_dirty: bool,
    scanner_snapshot_ns: u64,
    /// Smallest quantity the venue trades per symbol (lot minimum): smaller residues of
    /// fills are dust, not a position.
    lot_floor: Vec<Qty>,
    /// Latest venue time seen (ms) and the engine time it was seen at.
    venue_ms: u64,
    venue_seen_ns: u64,
    now_ns: u64,
    equity: Option<Notional>,
    /// `strategy_ticks_total{symbol,venue}` by symbol index.
    ticks: Vec<Counter>,
    counts: DispatchCounts,
    snapshot_buf: Vec<u8>,
    bar_buf: Vec<Bar>,
    /// New versions of file-backed resources (see [`Dispatcher::attach_reloads`]).
    reloads: Option<crossbeam::channel::Receiver<Reloaded>>,
}

/// One strategy to run and how.
pub struct Entry {
    pub strategy: Box<dyn Strategy>,
    /// Its intents are checked by the rails and journaled, never sent (the rails' DryRun
    /// mode does that; the dispatcher only counts them apart).
    pub dry_run: bool,
}

impl Dispatcher {
    /// A dispatcher over `symbols` symbols (ids `0..symbols`) running `entries` in order,
    /// with an optional scanner.
    pub fn new(
        config: DispatcherConfig,
        symbols: usize,
        entries: Vec<Entry>,
        scanner: Option<Box<dyn SymbolSelector>>,
    ) -> Result<Self, crate::book::BarConfigError> {
        let mut slots = Vec::with_capacity(entries.len());
        let universe: Vec<SymbolId> = scanner
            .as_ref()
            .map(|s| s.universe().to_vec())
            .unwrap_or_default();
        for entry in entries {
            let info = entry.strategy.info();
            let mut scope = vec![false; symbols];
            for s in entry.strategy.symbols() {
                if let Some(slot) = scope.get_mut(s.index()) {
                    *slot = true;
                }
            }
            let uses_scanner = entry.strategy.uses_scanner() && scanner.is_some();
            let mut wants = scope.clone();
            if uses_scanner {
                for s in &universe {
                    if let Some(slot) = wants.get_mut(s.index()) {
                        *slot = true;
                    }
                }
            }
            let tags = entry.strategy.tags();
            slots.push(Slot {
                timeframes: entry.strategy.timeframes().to_vec(),
                id: info.id,
                name: info.name,
                tags,
                wants,
                scope,
                uses_scanner,
                dry_run: entry.dry_run,
                seq: 0,
                dirty: false,
                last_snapshot_ns: 0,
                metrics: SlotMetrics::detached(tags.len(), symbols),
                strategy: entry.strategy,
            });
        }
        let mut bars = Vec::with_capacity(symbols);
        for index in 0..symbols {
            let symbol = SymbolId(index as u32);
            let minutes = wanted_timeframes(&slots, scanner.as_deref(), symbol);
            let aggregator = if minutes.is_empty() {
                None
            } else {
                Some(BarAggregator::new(symbol, &minutes)?)
            };
            let rollups = minutes
                .iter()
                .map(|&m| (m, Bar::default(), false))
                .collect();
            bars.push(SymbolBars {
                aggregator,
                rollups,
                from_data: config.bars_from_data,
            });
        }
        let ids = slots.iter().map(|s| s.id).collect();
        let holdings = vec![HoldingState::default(); slots.len() * symbols];
        Ok(Self {
            shared: Shared {
                symbols,
                holdings,
                markets: vec![SymbolState::default(); symbols],
                owners: vec![None; symbols],
                ids,
                selected: selection_mask(scanner.as_deref(), symbols),
                scanner_on: scanner.is_some(),
                futures: config.market == Market::UsdmFutures,
            },
            config,
            slots,
            bars,
            scanner,
            scanner_dirty: false,
            scanner_snapshot_ns: 0,
            lot_floor: vec![Qty::ZERO; symbols],
            venue_ms: 0,
            venue_seen_ns: 0,
            now_ns: 0,
            equity: None,
            ticks: (0..symbols).map(|_| Counter::new()).collect(),
            counts: DispatchCounts::default(),
            snapshot_buf: Vec::with_capacity(64 * 1024),
            bar_buf: Vec::with_capacity(64),
            reloads: None,
        })
    }

    /// Registers the dispatcher's and every strategy's metrics.
    pub fn attach_metrics(
        &mut self,
        registry: &mut Registry,
        venue: &str,
        symbol_names: &[String],
    ) -> Result<(), OpsError> {
        let name_of = |i: usize| symbol_names.get(i).map_or("?", String::as_str);
        for (i, tick) in self.ticks.iter_mut().enumerate() {
            *tick = registry.counter(
                "strategy_ticks_total",
                "Market events delivered to the strategies, by symbol.",
                &[("symbol", name_of(i)), ("venue", venue)],
            )?;
        }
        let symbols = self.shared.symbols;
        for slot in &mut self.slots {
            let mut orders = Vec::with_capacity(slot.tags.len() * symbols * 2);
            for tag in slot.tags {
                for i in 0..symbols {
                    for side in [Side::Buy, Side::Sell] {
                        orders.push(registry.counter(
                            "strategy_orders_total",
                            "Strategy orders sent to the order stage (not dry-run), by source tag.",
                            &[
                                ("symbol", name_of(i)),
                                ("venue", venue),
                                ("side", side.as_str()),
                                ("source", tag),
                            ],
                        )?);
                    }
                }
            }
            if !orders.is_empty() {
                slot.metrics.orders = orders;
            }
            let mut refused = Vec::with_capacity(Refusal::ALL.len());
            for reason in Refusal::ALL {
                refused.push(registry.counter(
                    "strategy_signals_refused_total",
                    "Strategy signals the dispatcher did not turn into orders, by reason.",
                    &[("strategy", slot.name), ("reason", reason.as_str())],
                )?);
            }
            slot.metrics.refused = refused;
            slot.metrics.dry_run = registry.counter(
                "strategy_dry_run_orders_total",
                "Orders of dry-run strategies: checked by the rails and journaled, not sent.",
                &[("strategy", slot.name)],
            )?;
            let mut scope = MetricsScope {
                registry,
                venue,
                symbol_names,
            };
            slot.strategy.attach_metrics(&mut scope)?;
        }
        if let Some(scanner) = &mut self.scanner {
            let mut scope = MetricsScope {
                registry,
                venue,
                symbol_names,
            };
            scanner.attach_metrics(&mut scope)?;
        }
        Ok(())
    }

    /// Takes new versions of file-backed resources from `rx` on the timer and hands them
    /// to every strategy (the engine's file watcher sends them).
    pub fn attach_reloads(&mut self, rx: crossbeam::channel::Receiver<Reloaded>) {
        self.reloads = Some(rx);
    }

    /// The venue's smallest tradable quantity of `symbol` (its lot minimum): a strategy's
    /// residue below it (fees or partial fills off the lot grid) counts as flat, so it
    /// neither blocks new entries nor triggers an exit the venue would refuse.
    pub fn set_lot_floor(&mut self, symbol: SymbolId, qty: Qty) {
        if let Some(slot) = self.lot_floor.get_mut(symbol.index()) {
            *slot = qty.abs();
        }
    }

    /// Counters so far.
    pub fn counts(&self) -> DispatchCounts {
        self.counts
    }

    /// (id, name, dry-run) of every strategy in dispatcher order.
    pub fn strategies(&self) -> Vec<(StrategyId, &'static str, bool)> {
        self.slots
            .iter()
            .map(|s| (s.id, s.name, s.dry_run))
            .collect()
    }

    /// One strategy's holding on `symbol` (tests, status).
    pub fn holding(&self, strategy: StrategyId, symbol: SymbolId) -> Option<Holding> {
        let slot = self.slot_of(strategy)?;
        self.shared
            .holdings
            .get(slot * self.shared.symbols + symbol.index())
            .map(|h| h.view)
    }

    /// The strategy owning `symbol`.
    pub fn owner(&self, symbol: SymbolId) -> Option<StrategyId> {
        let slot = self.shared.owners.get(symbol.index()).copied().flatten()?;
        self.shared.ids.get(slot).copied()
    }

    /// The scanner's current selection (empty without a scanner).
    pub fn scanner_selection(&self) -> &[SymbolId] {
        self.scanner.as_ref().map_or(&[], |s| s.selected())
    }

    /// Restores a strategy's (or the scanner's) journaled snapshot, by component name;
    /// false when no component has that name.
    pub fn restore_snapshot(&mut self, component: &str, body: &[u8]) -> Result<bool, RestoreError> {
        if component == SCANNER_SNAPSHOT {
            if let Some(scanner) = &mut self.scanner {
                scanner.restore(body)?;
                self.shared.selected = selection_mask(Some(scanner.as_ref()), self.shared.symbols);
                return Ok(true);
            }
            return Ok(false);
        }
        for slot in &mut self.slots {
            if slot.name == component {
                slot.strategy.restore(body)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Restores a strategy's position on a symbol from the journal's fills (before any
    /// event): signed quantity and average entry price.
    pub fn restore_position(
        &mut self,
        strategy: StrategyId,
        symbol: SymbolId,
        qty: Qty,
        avg: Price,
    ) {
        let Some(slot) = self.slot_of(strategy) else {
            return;
        };
        let Some(h) = self.holding_mut(slot, symbol) else {
            return;
        };
        h.booked = qty;
        h.view.avg_entry = if qty.is_zero() { Price::ZERO } else { avg };
        self.show_position(slot, symbol);
        self.update_owner(slot, symbol);
    }

    /// Replays one journaled fill into its strategy's holding (before any event; the
    /// strategy is not called).
    pub fn restore_fill(&mut self, fill: &Fill) {
        let _ = self.track_fill(fill);
    }

    /// Restores an order that was open when the last run stopped (from the rebuilt order
    /// manager), so the strategy resumes with its bracket and entries known.
    pub fn restore_order(&mut self, update: &OrderUpdate) {
        self.track_update(update);
    }

    /// Delivers a historical closed bar (REST klines at start-up) to the strategies and the
    /// scanner: indicators only.
    pub fn warm_up(&mut self, bar: &Bar) {
        let index = bar.symbol.index();
        if index >= self.shared.symbols {
            return;
        }
        for slot in &mut self.slots {
            if slot.wants[index] && slot.timeframes.contains(&bar.timeframe_min) {
                slot.strategy.on_warmup_bar(bar);
            }
        }
        if let Some(scanner) = &mut self.scanner {
            if scanner.timeframe_min() == bar.timeframe_min {
                scanner.on_warmup_bar(bar);
            }
        }
    }

    /// Timeframes (minutes) the strategies and the scanner want for `symbol`: what a
    /// start-up warm-up should fetch.
    pub fn warm_up_timeframes(&self, symbol: SymbolId) -> Vec<u32> {
        wanted_timeframes(&self.slots, self.scanner.as_deref(), symbol)
    }

    fn slot_of(&self, strategy: StrategyId) -> Option<usize> {
        self.shared.ids.iter().position(|&id| id == strategy)
    }

    fn holding_mut(&mut self, slot: usize, symbol: SymbolId) -> Option<&mut HoldingState> {
        if symbol.index() >= self.shared.symbols {
            return None;
        }
        self.shared
            .holdings
            .get_mut(slot * self.shared.symbols + symbol.index())
    }

    fn venue_now_ms(&self) -> u64 {
        if self.venue_ms == 0 {
            return 0;
        }
        self.venue_ms + self.now_ns.saturating_sub(self.venue_seen_ns) / 1_000_000
    }

    /// Calls one strategy, then turns what it emitted into intents.
    fn call(
        &mut self,
        slot: usize,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
        f: impl FnOnce(&mut dyn Strategy, &mut StrategyCtx<'_>),
    ) {
        let mut buf = [None; SIGNALS_PER_CALL];
        let venue_ms = self.venue_now_ms();
        let (dirty, dropped) = {
            let s = &mut self.slots[slot];
            let view = SlotView {
                shared: &self.shared,
                slot,
                scope: &s.scope,
                uses_scanner: s.uses_scanner,
            };
            let mut ctx = StrategyCtx::new(self.now_ns, venue_ms, self.equity, &view, &mut buf);
            f(s.strategy.as_mut(), &mut ctx);
            (ctx.is_dirty(), ctx.dropped())
        };
        if dirty {
            self.slots[slot].dirty = true;
        }
        for _ in 0..dropped {
            self.refuse(slot, Refusal::TooManySignals);
        }
        for signal in buf.into_iter().flatten() {
            self.apply(slot, signal, cause_recv_ns, intents);
        }
    }

    fn refuse(&mut self, slot: usize, reason: Refusal) {
        self.counts.refused += 1;
        if let Some(c) = self.slots[slot].metrics.refused.get(reason as usize) {
            c.inc();
        }
    }

    fn tag_index(&self, slot: usize, tag: &str) -> usize {
        self.slots[slot]
            .tags
            .iter()
            .position(|t| *t == tag)
            .unwrap_or(0)
    }

    fn count_order(&mut self, slot: usize, tag: usize, symbol: SymbolId, side: Side) {
        let s = &self.slots[slot];
        if s.dry_run {
            s.metrics.dry_run.inc();
            return;
        }
        let i = (tag * self.shared.symbols + symbol.index()) * 2 + side as usize;
        if let Some(c) = s.metrics.orders.get(i) {
            c.inc();
        }
    }

    fn next_intent(&mut self, slot: usize, symbol: SymbolId, cause_recv_ns: u64) -> OrderIntent {
        let s = &mut self.slots[slot];
        s.seq += 1;
        OrderIntent {
            strategy: s.id,
            intent_seq: s.seq,
            symbol,
            cause_recv_ns,
            ..OrderIntent::default()
        }
    }

    fn send(
        &mut self,
        slot: usize,
        intent: OrderIntent,
        intents: &mut Outbox<OrderIntent>,
    ) -> bool {
        if intents.push(intent).is_err() {
            self.refuse(slot, Refusal::OutboxFull);
            return false;
        }
        self.counts.intents += 1;
        true
    }

    fn apply(
        &mut self,
        slot: usize,
        signal: Signal,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
    ) {
        match signal {
            Signal::Enter(plan) => self.enter(slot, &plan, cause_recv_ns, intents),
            Signal::Exit { symbol, tag } => {
                let tag = self.tag_index(slot, tag);
                self.exit(slot, symbol, tag, cause_recv_ns, intents);
            }
            Signal::MoveStop {
                symbol,
                stop_loss,
                take_profit,
            } => self.move_stop(slot, symbol, stop_loss, take_profit, cause_recv_ns, intents),
        }
    }

    fn enter(
        &mut self,
        slot: usize,
        plan: &EntryPlan,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
    ) {
        let index = plan.symbol.index();
        if index >= self.shared.symbols {
            return self.refuse(slot, Refusal::NotInScope);
        }
        let s = &self.slots[slot];
        let in_scope = if s.uses_scanner && self.shared.scanner_on {
            self.shared.selected[index]
        } else {
            s.scope[index]
        };
        if !in_scope {
            return self.refuse(slot, Refusal::NotInScope);
        }
        if self.shared.owners[index].is_some_and(|owner| owner != slot) {
            return self.refuse(slot, Refusal::Owned);
        }
        let state = self.shared.holdings[slot * self.shared.symbols + index];
        if !state.view.can_enter() || state.in_flight > 0 {
            return self.refuse(slot, Refusal::Holding);
        }
        if plan.side == Side::Sell && !self.shared.futures {
            return self.refuse(slot, Refusal::SpotShort);
        }
        let qty = match plan.size {
            Size::Base(qty) => qty,
            Size::Quote(quote) => {
                let reference = if plan.limit.is_positive() {
                    Some(plan.limit)
                } else {
                    self.shared.markets[index].reference(plan.side)
                };
                let Some(price) = reference else {
                    return self.refuse(slot, Refusal::NoPrice);
                };
                Qty::from_raw(mul_div_raw(quote.raw(), SCALE, price.raw()).unwrap_or(0))
            }
        };
        if !qty.is_positive() {
            return self.refuse(slot, Refusal::ZeroSize);
        }
        let mut intent = self.next_intent(slot, plan.symbol, cause_recv_ns);
        intent.action = IntentAction::New;
        intent.side = plan.side;
        intent.qty = qty;
        if plan.limit.is_positive() {
            intent.order_type = OrderType::Limit;
            intent.time_in_force = TimeInForce::Gtc;
            intent.price = plan.limit;
        } else {
            intent.order_type = OrderType::Market;
        }
        intent.stop_loss = plan.stop_loss;
        intent.take_profit = plan.take_profit;
        if !self.send(slot, intent, intents) {
            return;
        }
        let tag = self.tag_index(slot, plan.tag);
        self.count_order(slot, tag, plan.symbol, plan.side);
        if let Some(h) = self.holding_mut(slot, plan.symbol) {
            h.in_flight += 1;
            h.refresh();
        }
        self.shared.owners[index] = Some(slot);
    }

    fn exit(
        &mut self,
        slot: usize,
        symbol: SymbolId,
        tag: usize,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
    ) {
        let Some(h) = self.holding_mut(slot, symbol) else {
            return;
        };
        if h.view.qty.is_zero() && h.live_count() == 0 && h.in_flight == 0 {
            return self.refuse(slot, Refusal::NothingHeld);
        }
        if h.view.exiting {
            return;
        }
        h.view.exiting = true;
        h.exit_tag = tag;
        h.exit_retry_ns = 0;
        h.refresh();
        let has_live = h.live_count() > 0;
        if has_live {
            let mut intent = self.next_intent(slot, symbol, cause_recv_ns);
            intent.action = IntentAction::CancelAll;
            self.send(slot, intent, intents);
        }
        self.progress_exit(slot, symbol, cause_recv_ns, intents);
    }

    /// Sends the closing order of an exit once nothing of the strategy is live there.
    fn progress_exit(
        &mut self,
        slot: usize,
        symbol: SymbolId,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
    ) {
        let now = self.now_ns;
        let futures = self.shared.futures;
        let Some(h) = self.holding_mut(slot, symbol) else {
            return;
        };
        if !h.view.exiting
            || h.close_sent
            || h.live_count() > 0
            || h.in_flight > 0
            || now < h.exit_retry_ns
        {
            return;
        }
        if h.view.qty.is_zero() {
            h.refresh();
            return;
        }
        let held = h.view.qty;
        let tag = h.exit_tag;
        let side = if held.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let mut intent = self.next_intent(slot, symbol, cause_recv_ns);
        intent.action = IntentAction::New;
        intent.side = side;
        intent.order_type = OrderType::Market;
        intent.qty = held.abs();
        intent.reduce_only = futures;
        if !self.send(slot, intent, intents) {
            return;
        }
        self.count_order(slot, tag, symbol, side);
        if let Some(h) = self.holding_mut(slot, symbol) {
            h.close_sent = true;
            h.in_flight += 1;
        }
    }

    fn move_stop(
        &mut self,
        slot: usize,
        symbol: SymbolId,
        stop_loss: Price,
        take_profit: Price,
        cause_recv_ns: u64,
        intents: &mut Outbox<OrderIntent>,
    ) {
        let Some(h) = self.holding_mut(slot, symbol) else {
            return;
        };
        let view = h.view;
        if view.bracket_entry.0 == 0 || view.exiting || view.qty.is_zero() {
            return self.refuse(slot, Refusal::NoBracket);
        }
        let long = view.qty.is_positive();
        let looser = if view.stop_loss.is_zero() {
            false
        } else if long {
            stop_loss.raw() <= view.stop_loss.raw()
        } else {
            stop_loss.raw() >= view.stop_loss.raw()
        };
        if !stop_loss.is_positive() || looser {
            return self.refuse(slot, Refusal::LooserStop);
        }
        let mut intent = self.next_intent(slot, symbol, cause_recv_ns);
        intent.action = IntentAction::Rebracket;
        intent.target = view.bracket_entry;
        intent.side = if long { Side::Buy } else { Side::Sell };
        intent.stop_loss = stop_loss;
        intent.take_profit = if take_profit.is_positive() {
            take_profit
        } else {
            view.take_profit
        };
        if self.send(slot, intent, intents) {
            if let Some(h) = self.holding_mut(slot, symbol) {
                // Known at once, so a second move in the same bar is compared with it.
                h.view.stop_loss = stop_loss;
                if take_profit.is_positive() {
                    h.view.take_profit = take_profit;
                }
            }
        }
    }

    /// Shows the booked quantity as the position unless it is dust (below the lot floor).
    fn show_position(&mut self, slot: usize, symbol: SymbolId) {
        let floor = self
            .lot_floor
            .get(symbol.index())
            .copied()
            .unwrap_or(Qty::ZERO);
        if let Some(h) = self.holding_mut(slot, symbol) {
            let dust = h.booked.abs().raw() < floor.raw();
            h.view.qty = if dust { Qty::ZERO } else { h.booked };
            if h.view.qty.is_zero() {
                h.view.avg_entry = Price::ZERO;
            }
        }
    }

    fn update_owner(&mut self, slot: usize, symbol: SymbolId) {
        let index = symbol.index();
        let Some(h) = self.shared.holdings.get(slot * self.shared.symbols + index) else {
            return;
        };
        let busy = !h.view.is_idle() || h.in_flight > 0;
        let owner = &mut self.shared.owners[index];
        if busy {
            if owner.is_none() {
                *owner = Some(slot);
            }
        } else if *owner == Some(slot) {
            *owner = None;
        }
    }

    /// Books an order update into its strategy's holding; returns the slot.
    fn track_update(&mut self, update: &OrderUpdate) -> Option<usize> {
        let slot = self.slot_of(update.strategy)?;
        let retry_at = self.now_ns.saturating_add(self.config.exit_retry_ns);
        let h = self.holding_mut(slot, update.symbol)?;
        let id = update.client_order_id;
        if id.0 == 0 {
            // A refused intent: a new order (quantity) ends its flight; a refused cancel or
            // stop move changes nothing.
            if update.status == OrderStatus::Rejected && update.qty.is_positive() {
                if h.close_sent && h.view.exiting {
                    h.close_sent = false;
                }
                h.in_flight = h.in_flight.saturating_sub(1);
            }
        } else {
            match (h.find(id), update.status.is_final()) {
                (Some(i), true) => {
                    if h.live[i].closing {
                        h.close_sent = false;
                    }
                    h.live[i] = LiveOrder::default();
                }
                (Some(_), false) => {}
                (None, final_now) => {
                    let new_order = update.role == OrderRole::Entry;
                    let closing = new_order && h.view.exiting && h.close_sent;
                    if new_order && h.in_flight > 0 {
                        h.in_flight -= 1;
                    }
                    if final_now {
                        if closing {
                            h.close_sent = false;
                        }
                    } else if let Some(free) = h.live.iter_mut().find(|o| o.id.0 == 0) {
                        *free = LiveOrder {
                            id,
                            role: update.role,
                            closing,
                        };
                    }
                }
            }
            if !update.status.is_final() {
                match update.role {
                    OrderRole::StopLoss => {
                        h.view.bracket_entry = update.parent;
                        h.view.stop_loss = update.trigger_price;
                    }
                    OrderRole::TakeProfit => {
                        h.view.bracket_entry = update.parent;
                        h.view.take_profit = if update.price.is_positive() {
                            update.price
                        } else {
                            update.trigger_price
                        };
                    }
                    _ => {}
                }
            }
        }
        if update.status == OrderStatus::Rejected && h.view.exiting && !h.close_sent {
            h.exit_retry_ns = retry_at;
        }
        let h = self.holding_mut(slot, update.symbol)?;
        h.refresh();
        self.update_owner(slot, update.symbol);
        Some(slot)
    }

    /// Books a fill into its strategy's holding; returns the slot.
    fn track_fill(&mut self, fill: &Fill) -> Option<usize> {
        let slot = self.slot_of(fill.strategy)?;
        let h = self.holding_mut(slot, fill.symbol)?;
        let signed = match fill.side {
            Side::Buy => fill.qty.raw(),
            Side::Sell => -fill.qty.raw(),
        };
        let old = h.booked.raw();
        let new = old.saturating_add(signed);
        let avg = h.view.avg_entry.raw();
        let adds = old == 0 || (old > 0) == (signed > 0);
        h.view.avg_entry = if new == 0 {
            Price::ZERO
        } else if adds {
            let cost = mul_div_raw(old.abs(), avg, SCALE)
                .unwrap_or(0)
                .saturating_add(mul_div_raw(signed.abs(), fill.price.raw(), SCALE).unwrap_or(0));
            Price::from_raw(mul_div_raw(cost, SCALE, new.abs()).unwrap_or(fill.price.raw()))
        } else if (new > 0) != (old > 0) {
            // Flipped through zero: the rest was opened at this fill's price.
            fill.price
        } else {
            h.view.avg_entry
        };
        h.booked = Qty::from_raw(new);
        self.show_position(slot, fill.symbol);
        if let Some(h) = self.holding_mut(slot, fill.symbol) {
            h.refresh();
        }
        self.update_owner(slot, fill.symbol);
        Some(slot)
    }

    fn on_market_state(&mut self, event: &MarketEvent) {
        let Some(m) = self.shared.markets.get_mut(event.symbol.index()) else {
            return;
        };
        let now = event.recv_ns;
        match &event.kind {
            MarketEventKind::Book(top) => {
                m.top = *top;
                m.book_valid = top.valid && top.bid_count > 0 && top.ask_count > 0;
                m.book_ns = now;
                if m.book_valid {
                    m.bid = top.bids[0].price;
                    m.bid_qty = top.bids[0].qty;
                    m.ask = top.asks[0].price;
                    m.ask_qty = top.asks[0].qty;
                    m.quote_ns = now;
                }
            }
            MarketEventKind::BookTicker(t) => {
                if t.bid_price.is_positive() && t.ask_price.is_positive() {
                    m.bid = t.bid_price;
                    m.bid_qty = t.bid_qty;
                    m.ask = t.ask_price;
                    m.ask_qty = t.ask_qty;
                    m.quote_ns = now;
                }
            }
            MarketEventKind::Trade(t) => {
                if t.price.is_positive() {
                    m.last_trade = t.price;
                    m.last_trade_ns = now;
                }
            }
        }
        if event.exch_ts_ms > self.venue_ms {
            self.venue_ms = event.exch_ts_ms;
            self.venue_seen_ns = now;
        }
    }

    /// Delivers closed bars in `bar_buf` to the strategies and the scanner.
    fn deliver_bars(&mut self, cause_recv_ns: u64, intents: &mut Outbox<OrderIntent>) {
        let bars = std::mem::take(&mut self.bar_buf);
        for bar in &bars {
            self.counts.bars += 1;
            let index = bar.symbol.index();
            if let Some(scanner) = &mut self.scanner {
                if scanner.timeframe_min() == bar.timeframe_min {
                    scanner.on_bar(bar);
                }
            }
            for slot in 0..self.slots.len() {
                let s = &self.slots[slot];
                if !s.wants.get(index).copied().unwrap_or(false)
                    || !s.timeframes.contains(&bar.timeframe_min)
                {
                    continue;
                }
                self.call(slot, cause_recv_ns, intents, |st, ctx| st.on_bar(bar, ctx));
            }
        }
        let mut bars = bars;
        bars.clear();
        self.bar_buf = bars;
    }

    fn roll_time(&mut self, intents: &mut Outbox<OrderIntent>) {
        let now_ms = self.venue_now_ms();
        if now_ms == 0 {
            return;
        }
        let mut buf = std::mem::take(&mut self.bar_buf);
        for bars in &mut self.bars {
            if bars.from_data {
                continue;
            }
            if let Some(agg) = &mut bars.aggregator {
                agg.on_time(now_ms, &mut |b: &Bar| buf.push(*b));
            }
        }
        self.bar_buf = buf;
        if !self.bar_buf.is_empty() {
            self.deliver_bars(0, intents);
        }
    }

    fn rescan(&mut self) {
        let now_ms = self.venue_now_ms();
        let Some(scanner) = &mut self.scanner else {
            return;
        };
        if now_ms > 0 && scanner.rescan(now_ms) {
            self.shared.selected = selection_mask(Some(scanner.as_ref()), self.shared.symbols);
            self.scanner_dirty = true;
        }
    }

    fn progress_exits(&mut self, intents: &mut Outbox<OrderIntent>) {
        let symbols = self.shared.symbols;
        for slot in 0..self.slots.len() {
            for index in 0..symbols {
                let h = &self.shared.holdings[slot * symbols + index];
                if h.view.exiting && !h.close_sent {
                    self.progress_exit(slot, SymbolId(index as u32), 0, intents);
                }
            }
        }
    }
}

/// Bar timeframes (minutes, ascending, once each) the strategies hearing `symbol` and the
/// scanner (for a universe symbol) want.
fn wanted_timeframes(
    slots: &[Slot],
    scanner: Option<&dyn SymbolSelector>,
    symbol: SymbolId,
) -> Vec<u32> {
    let index = symbol.index();
    let mut minutes: Vec<u32> = Vec::new();
    for slot in slots {
        if slot.wants.get(index).copied().unwrap_or(false) {
            minutes.extend(slot.timeframes.iter().copied());
        }
    }
    if let Some(scanner) = scanner {
        if scanner.universe().contains(&symbol) {
            minutes.push(scanner.timeframe_min());
        }
    }
    minutes.sort_unstable();
    minutes.dedup();
    minutes
}

fn selection_mask(scanner: Option<&dyn SymbolSelector>, symbols: usize) -> Vec<bool> {
    let mut mask = vec![false; symbols];
    if let Some(scanner) = scanner {
        for s in scanner.selected() {
            if let Some(slot) = mask.get_mut(s.index()) {
                *slot = true;
            }
        }
    }
    mask
}

impl StrategyStage for Dispatcher {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        self.now_ns = self.now_ns.max(event.recv_ns);
        self.counts.market_events += 1;
        let index = event.symbol.index();
        if index >= self.shared.symbols {
            return;
        }
        self.on_market_state(event);
        if let Some(tick) = self.ticks.get(index) {
            tick.inc();
        }
        if let MarketEventKind::Trade(trade) = &event.kind {
            let bars = &mut self.bars[index];
            if !bars.from_data {
                if let Some(agg) = &mut bars.aggregator {
                    let mut buf = std::mem::take(&mut self.bar_buf);
                    let _ = agg.on_trade(trade, event.exch_ts_ms, &mut |b: &Bar| buf.push(*b));
                    self.bar_buf = buf;
                }
            }
        }
        if !self.bar_buf.is_empty() {
            self.deliver_bars(event.recv_ns, intents);
        }
        for slot in 0..self.slots.len() {
            if self.slots[slot].wants[index] {
                self.call(slot, event.recv_ns, intents, |s, ctx| {
                    s.on_market(event, ctx)
                });
            }
        }
    }

    fn on_exec(&mut self, event: &ExecEvent, intents: &mut Outbox<OrderIntent>) {
        match event {
            ExecEvent::Update(update) => {
                let Some(slot) = self.track_update(update) else {
                    return;
                };
                self.call(slot, 0, intents, |s, ctx| s.on_order(update, ctx));
                self.progress_exit(slot, update.symbol, 0, intents);
            }
            ExecEvent::Fill(fill) => {
                let Some(slot) = self.track_fill(fill) else {
                    return;
                };
                self.call(slot, 0, intents, |s, ctx| s.on_fill(fill, ctx));
                self.progress_exit(slot, fill.symbol, 0, intents);
            }
            ExecEvent::Account { equity } => {
                self.equity = Some(*equity);
            }
        }
    }

    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>) {
        self.now_ns = self.now_ns.max(now_ns);
        if let Some(rx) = &self.reloads {
            if let Ok(reloaded) = rx.try_recv() {
                for slot in &mut self.slots {
                    slot.strategy.on_reload(&reloaded);
                }
            }
        }
        self.roll_time(intents);
        self.rescan();
        for slot in 0..self.slots.len() {
            self.call(slot, 0, intents, |s, ctx| s.on_timer(ctx));
        }
        self.progress_exits(intents);
    }

    fn on_bar(&mut self, bar: &Bar, intents: &mut Outbox<OrderIntent>) {
        let index = bar.symbol.index();
        let Some(bars) = self.bars.get_mut(index) else {
            return;
        };
        bars.from_data = true;
        if bar.close_time_ms > self.venue_ms {
            self.venue_ms = bar.close_time_ms;
            self.venue_seen_ns = self.now_ns;
        }
        let mut buf = std::mem::take(&mut self.bar_buf);
        roll_up(bars, bar, &mut buf);
        self.bar_buf = buf;
        self.deliver_bars(0, intents);
    }

    fn snapshots(&mut self, now_ns: u64, sink: &mut dyn SnapshotSink) {
        for slot in &mut self.slots {
            let due = now_ns.saturating_sub(slot.last_snapshot_ns) >= self.config.snapshot_every_ns;
            if !slot.dirty || !due {
                continue;
            }
            self.snapshot_buf.clear();
            slot.strategy.snapshot(&mut self.snapshot_buf);
            if self.snapshot_buf.is_empty() || sink.snapshot(slot.name, &self.snapshot_buf) {
                slot.dirty = false;
                slot.last_snapshot_ns = now_ns;
                self.counts.snapshots += 1;
            }
        }
        let due = now_ns.saturating_sub(self.scanner_snapshot_ns) >= self.config.snapshot_every_ns;
        if let (Some(scanner), true, true) = (&self.scanner, self.scanner_dirty, due) {
            self.snapshot_buf.clear();
            scanner.snapshot(&mut self.snapshot_buf);
            if self.snapshot_buf.is_empty() || sink.snapshot(SCANNER_SNAPSHOT, &self.snapshot_buf) {
                self.scanner_dirty = false;
                self.scanner_snapshot_ns = now_ns;
                self.counts.snapshots += 1;
            }
        }
    }
}

/// Passes a data bar on, and rolls it into the higher timeframes that are multiples of it
/// (a bucket closes when a bar ends it or a later bucket's bar arrives).
fn roll_up(bars: &mut SymbolBars, bar: &Bar, out: &mut Vec<Bar>) {
    let base = bar.timeframe_min.max(1);
    // Buckets a gap in the data left open close first: they ended before this bar.
    for (minutes, forming, open) in &mut bars.rollups {
        if *minutes > base && *open && bar.open_time_ms >= forming.close_time_ms {
            out.push(*forming);
            *open = false;
        }
    }
    out.push(*bar);
    for (minutes, forming, open) in &mut bars.rollups {
        let minutes = *minutes;
        if minutes <= base || minutes % base != 0 {
            continue;
        }
        let period = u64::from(minutes) * MINUTE_MS;
        let start = bar.open_time_ms - bar.open_time_ms % period;
        if *open {
            forming.high = forming.high.max(bar.high);
            forming.low = forming.low.min(bar.low);
            forming.close = bar.close;
            forming.volume = forming.volume.saturating_add(bar.volume);
            forming.quote_volume = forming.quote_volume.saturating_add(bar.quote_volume);
            forming.trade_count = forming.trade_count.saturating_add(bar.trade_count);
        } else {
            *forming = Bar {
                timeframe_min: minutes,
                open_time_ms: start,
                close_time_ms: start + period,
                ..*bar
            };
            *open = true;
        }
        if bar.close_time_ms >= forming.close_time_ms {
            out.push(*forming);
            *open = false;
        }
    }
}

#[cfg(test)]
mod tests;
