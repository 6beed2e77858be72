//! Owns: the backtest event loop — simulated time, the feed latency between the venue and
//! the engine, venue wake-ups for its latency queues, strategy and order-stage timers — and
//! the [`Recording`] of what happened. Never: reads the wall clock, sleeps, or calls a
//! component in an order that depends on anything but the inputs and the settings.
//!
//! **Time.** Simulated time is ns since the UTC epoch, read from the data. An item stamped
//! [`Stamp::Received`] reached the engine at its stamp and the venue `feed_latency_ns`
//! earlier; one stamped [`Stamp::Exchange`] reached the venue at its stamp and the engine
//! `feed_latency_ns` later. The order stage is the live one (`OmsStage`: risk rails → order
//! manager → paper venue); the paper venue applies the order latencies (entry, report) and
//! the queue model, and says when it next has something due (`next_wakeup_ns`), so the
//! loop visits exactly those times. Strategy code runs in zero simulated time.
//!
//! **Order of work at one instant** (what makes runs reproducible, and what the paper run
//! does at zero latency): the engine's delivery of an earlier item, then the venue's due
//! work, then the next item's arrival at the venue. When an item reaches the engine the
//! order stage sees it first (marks, rails, venue reports that are due), then the strategy;
//! its intents go to the order stage at once and the resulting order updates and fills go
//! back to the strategy until both are quiet. Timers (`on_timer` of the strategy, `poll` of
//! the order stage: risk breakers, order time-outs) run every `timer_every_ns` of simulated
//! time, at the first action at or after they fall due — as in the live loop, which runs
//! them on its next turn. With no feed latency an item is delivered to the engine right
//! after the venue took it (the same order, without the queue).
//!
//! **Recording.** Order updates, fills and risk refusals come from the order stage's journal
//! output, so they are the records a live run journals. Equity and the portfolio's marks
//! (the prices it values positions at) are sampled every `sample_every_ns` of simulated
//! time, equity also after each fill.

use std::collections::{HashMap, VecDeque};

use crate::core::{ExecEvent, Instrument, MarketEvent, OrderIntent, OrderStatus, SymbolId};
use crate::engine::stage::{OrderOutputs, OrderStage, Outbox, StrategyStage};
use crate::engine::JournalMsg;
use crate::oms::manager::Ledger;
use crate::oms::{OmsStage, PaperVenue, PortfolioLedger, Venue, VenueCommand, VenueReport};

use super::input::{InputEvent, InputItem, MarketInput, Stamp};
use super::latency::is_venue_answer;
use super::recording::{EquitySample, FillRecord, MarkSample, OrderRecord, Recording, RiskRecord};

/// How the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopSettings {
    /// Venue → engine delay of market data.
    pub feed_latency_ns: u64,
    /// Strategy timer and order-stage poll cadence (the live runner's is 1 ms).
    pub timer_every_ns: u64,
    /// Equity and mark sampling cadence.
    pub sample_every_ns: u64,
    /// Strategy ⇄ order-stage rounds after one input before the loop reports a ping-pong.
    pub max_reaction_rounds: usize,
}

impl Default for LoopSettings {
    fn default() -> Self {
        Self {
            feed_latency_ns: 0,
            timer_every_ns: 1_000_000,
            sample_every_ns: 1_000_000_000,
            max_reaction_rounds: 10_000,
        }
    }
}

/// The paper venue as the backtest's order stage sees it: market data reaches it from the
/// loop at venue time, not through the order stage (which sees it `feed_latency` later).
pub struct SimulatedVenue {
    inner: PaperVenue,
}

impl SimulatedVenue {
    /// Wraps a configured paper venue.
    pub fn new(inner: PaperVenue) -> Self {
        Self { inner }
    }

    /// The paper venue (account, counters).
    pub fn paper(&self) -> &PaperVenue {
        &self.inner
    }

    /// Market data arriving at the venue.
    pub fn arrive(&mut self, event: &MarketEvent) {
        self.inner.on_market(event);
    }
}

impl Venue for SimulatedVenue {
    fn submit(&mut self, command: &VenueCommand, now_ns: u64) {
        self.inner.submit(command, now_ns);
    }

    /// The venue already has the event; the order stage polls it when a report is due.
    fn on_market(&mut self, event: &MarketEvent) -> bool {
        self.inner
            .next_wakeup_ns()
            .is_some_and(|due| due <= event.recv_ns)
    }

    fn poll(&mut self, now_ns: u64, reports: &mut Outbox<VenueReport>) -> bool {
        self.inner.poll(now_ns, reports)
    }

    fn next_wakeup_ns(&self) -> Option<u64> {
        self.inner.next_wakeup_ns()
    }
}

/// The order stage a backtest runs: the live one on the simulated venue.
pub type BacktestOrders = OmsStage<SimulatedVenue, PortfolioLedger>;

/// What the loop counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoopCounts {
    pub items: u64,
    pub market_events: u64,
    pub bars: u64,
    pub intents: u64,
    pub venue_wakeups: u64,
    pub timer_runs: u64,
    /// Inputs after which strategy and order stage were still reacting after
    /// `max_reaction_rounds` rounds (the rest ran at the next action).
    pub reaction_overruns: u64,
    /// Items earlier than the one before them on the engine's clock (merged inputs with
    /// different stamps); delivered at the later time.
    pub late_items: u64,
}

/// An item on its way from the venue to the engine.
#[derive(Clone, Copy)]
struct InFlight {
    engine_ns: u64,
    event: InputEvent,
}

/// The next thing that happens.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    /// An item reaches the engine (rank 0 at a tie).
    Deliver,
    /// The venue has due work (rank 1).
    Wakeup,
    /// The next item reaches the venue (rank 2).
    Arrive,
}

/// How long before the first item the order stage starts.
const WARM_UP_NS: u64 = 1_000_000_000;

/// The running state that is neither a component nor an input.
struct Recorder {
    recording: Recording,
    symbol_count: usize,
    sent_at: HashMap<crate::core::ClientOrderId, u64>,
    next_sample_ns: u64,
    sample_every_ns: u64,
}

impl Recorder {
    fn journal(&mut self, msg: &JournalMsg) -> bool {
        match *msg {
            JournalMsg::Update { event_ns, update } => {
                if update.status == OrderStatus::PendingNew {
                    self.sent_at
                        .entry(update.client_order_id)
                        .or_insert(event_ns);
                } else if is_venue_answer(update.status) {
                    // Not the engine's own changes (a cancel sent before any answer).
                    if let Some(sent) = self.sent_at.remove(&update.client_order_id) {
                        self.recording
                            .order_latency_ns
                            .push(event_ns.saturating_sub(sent));
                    }
                }
                self.recording.orders.push(OrderRecord {
                    ts_ns: event_ns,
                    update,
                });
                false
            }
            JournalMsg::Fill { event_ns, fill } => {
                if let Some(sent) = self.sent_at.remove(&fill.client_order_id) {
                    self.recording
                        .order_latency_ns
                        .push(event_ns.saturating_sub(sent));
                }
                self.recording.fills.push(FillRecord {
                    ts_ns: event_ns,
                    fill,
                });
                true
            }
            JournalMsg::Risk {
                event_ns,
                symbol,
                event,
            } if crate::risk::codes::REJECT_CODES.contains(&event.code) => {
                self.recording.risk_rejects.push(RiskRecord {
                    ts_ns: event_ns,
                    strategy: event.strategy,
                    symbol,
                    code: event.code,
                });
                false
            }
            _ => false,
        }
    }

    fn sample(&mut self, now_ns: u64, ledger: &PortfolioLedger, force: bool) {
        if !force && now_ns < self.next_sample_ns {
            return;
        }
        if !force || now_ns >= self.next_sample_ns {
            self.next_sample_ns = next_multiple(now_ns, self.sample_every_ns);
        }
        if let Some(equity) = ledger.equity_value() {
            if self.recording.starting_equity.is_zero() && self.recording.equity.is_empty() {
                self.recording.starting_equity = equity;
            }
            if self
                .recording
                .equity
                .last()
                .is_some_and(|s| s.ts_ns == now_ns)
            {
                self.recording.equity.pop();
            }
            self.recording.equity.push(EquitySample {
                ts_ns: now_ns,
                equity,
            });
        }
        if force {
            return;
        }
        // The portfolio's own marks, so every equity figure values positions alike.
        for index in 0..self.symbol_count {
            let symbol = SymbolId(index as u32);
            if let Some(price) = ledger.portfolio().mark(symbol) {
                self.recording.marks.push(MarkSample {
                    ts_ns: now_ns,
                    symbol,
                    price,
                });
            }
        }
    }
}

/// The first multiple of `every` after `now`.
fn next_multiple(now: u64, every: u64) -> u64 {
    let every = every.max(1);
    (now / every).saturating_add(1).saturating_mul(every)
}

/// One backtest: components, input and the loop's state.
pub struct Backtest<G: StrategyStage> {
    strategy: G,
    orders: BacktestOrders,
    settings: LoopSettings,
    in_flight: VecDeque<InFlight>,
    intents: Outbox<OrderIntent>,
    out: OrderOutputs,
    pending_exec: VecDeque<ExecEvent>,
    recorder: Recorder,
    next_timer_ns: u64,
    last_engine_ns: u64,
    /// The venue reported work due no later than this and a poll did not take it: wait for
    /// a later time before asking again (guards against a venue that never drains).
    stalled_until_ns: Option<u64>,
    counts: LoopCounts,
}

impl<G: StrategyStage> Backtest<G> {
    /// A backtest of `strategy` trading through `orders`; `recording` carries the run's
    /// metadata (symbols, strategies, account asset) and receives the rest.
    pub fn new(
        strategy: G,
        orders: BacktestOrders,
        settings: LoopSettings,
        recording: Recording,
        symbol_count: usize,
    ) -> Self {
        Self {
            strategy,
            orders,
            settings,
            in_flight: VecDeque::with_capacity(1024),
            intents: Outbox::with_capacity(256),
            out: OrderOutputs::with_capacity(1024, 4096),
            pending_exec: VecDeque::with_capacity(1024),
            recorder: Recorder {
                recording,
                symbol_count,
                sent_at: HashMap::new(),
                next_sample_ns: 0,
                sample_every_ns: settings.sample_every_ns,
            },
            next_timer_ns: 0,
            last_engine_ns: 0,
            stalled_until_ns: None,
            counts: LoopCounts::default(),
        }
    }

    /// The order stage (manager, rails, venue).
    pub fn orders(&self) -> &BacktestOrders {
        &self.orders
    }

    /// The strategy stage.
    pub fn strategy(&self) -> &G {
        &self.strategy
    }

    /// Counters so far.
    pub fn counts(&self) -> LoopCounts {
        self.counts
    }

    /// Replays `input` to its end; `progress` is called with the input's progress every
    /// `progress_every` items (0: never).
    pub fn run(
        &mut self,
        input: &mut dyn MarketInput,
        progress_every: u64,
        progress: &mut dyn FnMut((u64, u64)),
    ) -> anyhow::Result<()> {
        let mut next_item = input.next_item()?;
        if let Some(first) = next_item {
            self.warm_up(self.venue_time(&first));
        }
        loop {
            let arrive = next_item.map(|item| (self.venue_time(&item), Action::Arrive));
            let deliver = self
                .in_flight
                .front()
                .map(|f| (f.engine_ns, Action::Deliver));
            let wakeup = self
                .orders
                .next_wakeup_ns()
                .filter(|&due| self.stalled_until_ns.is_none_or(|floor| due > floor))
                .map(|due| (due, Action::Wakeup));
            let Some((now, action)) = [deliver, wakeup, arrive].into_iter().flatten().min() else {
                break;
            };
            self.run_timers(now);
            match action {
                Action::Arrive => {
                    let Some(item) = next_item else { break };
                    self.arrive(item, now);
                    self.counts.items += 1;
                    if progress_every > 0 && self.counts.items % progress_every == 0 {
                        progress(input.progress());
                    }
                    next_item = input.next_item()?;
                }
                Action::Deliver => {
                    if let Some(flight) = self.in_flight.pop_front() {
                        self.deliver(flight, now);
                    }
                }
                Action::Wakeup => {
                    self.counts.venue_wakeups += 1;
                    let worked = self.orders.poll(now, &mut self.out);
                    self.react(now);
                    let still_due = self.orders.next_wakeup_ns().is_some_and(|due| due <= now);
                    self.stalled_until_ns = (!worked && still_due).then_some(now);
                }
            }
        }
        // Let the order side settle what the data left due, then a last sample.
        let end = self.last_engine_ns;
        self.orders.poll(end, &mut self.out);
        self.react(end);
        self.recorder
            .sample(end, self.orders.manager().ledger(), true);
        progress(input.progress());
        Ok(())
    }

    /// Finishes the run: the recording with its last counts.
    pub fn finish(mut self, repairs: Vec<(String, u64)>) -> (Recording, LoopCounts) {
        let meta = &mut self.recorder.recording.meta;
        meta.events = self.counts.market_events + self.counts.bars;
        meta.data_repairs = repairs;
        (self.recorder.recording, self.counts)
    }

    /// The engine was running before the data starts: the order stage starts (reconciles
    /// with the venue through its latencies) in the second before the first item, and the
    /// starting equity is read before anything trades.
    fn warm_up(&mut self, first_ns: u64) {
        let start = first_ns.saturating_sub(WARM_UP_NS);
        self.last_engine_ns = start;
        self.recorder.next_sample_ns = start;
        self.orders.poll(start, &mut self.out);
        self.react(start);
        while let Some(due) = self.orders.next_wakeup_ns().filter(|&due| due < first_ns) {
            let due = due.max(start);
            self.orders.poll(due, &mut self.out);
            self.react(due);
            if self.orders.next_wakeup_ns() == Some(due) {
                break;
            }
        }
        self.recorder
            .sample(start, self.orders.manager().ledger(), false);
    }

    fn venue_time(&self, item: &InputItem) -> u64 {
        match item.stamp {
            Stamp::Received => item.ts_ns.saturating_sub(self.settings.feed_latency_ns),
            Stamp::Exchange => item.ts_ns,
        }
    }

    fn arrive(&mut self, item: InputItem, venue_ns: u64) {
        let engine_ns = match item.stamp {
            Stamp::Received => item.ts_ns,
            Stamp::Exchange => item.ts_ns.saturating_add(self.settings.feed_latency_ns),
        };
        let mut event = item.event;
        if let InputEvent::Market(market) = &mut event {
            // The venue's view: the event at venue time.
            market.recv_ns = venue_ns;
            self.orders.venue_mut().arrive(market);
            market.recv_ns = engine_ns;
        }
        let meta = &mut self.recorder.recording.meta;
        if meta.first_event_ns == 0 {
            meta.first_event_ns = engine_ns;
        }
        meta.last_event_ns = meta.last_event_ns.max(engine_ns);
        let flight = InFlight { engine_ns, event };
        if engine_ns == venue_ns && self.in_flight.is_empty() {
            // No feed latency and nothing ahead of it: the engine's delivery is the very next
            // action (a delivery goes first at a tie), so it happens here, without the queue.
            self.deliver(flight, engine_ns);
        } else {
            self.in_flight.push_back(flight);
        }
    }

    fn deliver(&mut self, flight: InFlight, now: u64) {
        if now < self.last_engine_ns {
            self.counts.late_items += 1;
        }
        let now = now.max(self.last_engine_ns);
        self.last_engine_ns = now;
        match flight.event {
            InputEvent::Market(mut event) => {
                event.recv_ns = now;
                self.counts.market_events += 1;
                self.orders.on_market(&event, now, &mut self.out);
                self.strategy.on_market(&event, &mut self.intents);
            }
            InputEvent::Bar(bar) => {
                self.counts.bars += 1;
                self.strategy.on_bar(&bar, &mut self.intents);
            }
        }
        self.react(now);
        self.recorder
            .sample(now, self.orders.manager().ledger(), false);
    }

    fn run_timers(&mut self, now: u64) {
        if now < self.next_timer_ns {
            return;
        }
        self.next_timer_ns = now.saturating_add(self.settings.timer_every_ns.max(1));
        self.counts.timer_runs += 1;
        self.strategy.on_timer(now, &mut self.intents);
        self.orders.poll(now, &mut self.out);
        self.react(now);
    }

    /// Intents to the order stage, its journal records to the recording and its exec
    /// events to the strategy, until both are quiet.
    fn react(&mut self, now: u64) {
        for _ in 0..self.settings.max_reaction_rounds {
            self.counts.intents += self.intents.len() as u64;
            for intent in self.intents.drain() {
                self.orders.on_intent(&intent, now, &mut self.out);
            }
            let mut filled = false;
            for msg in self.out.journal.drain() {
                filled |= self.recorder.journal(&msg);
            }
            if filled {
                self.recorder
                    .sample(now, self.orders.manager().ledger(), true);
            }
            self.pending_exec.extend(self.out.exec.drain());
            let Some(event) = self.pending_exec.pop_front() else {
                return;
            };
            self.strategy.on_exec(&event, &mut self.intents);
            while self.intents.is_empty() {
                let Some(event) = self.pending_exec.pop_front() else {
                    return;
                };
                self.strategy.on_exec(&event, &mut self.intents);
            }
        }
        self.counts.reaction_overruns += 1;
    }
}

/// Instruments and their symbol ids, for a run's metadata.
pub fn symbol_metas(instruments: &[(SymbolId, Instrument)]) -> Vec<super::recording::SymbolMeta> {
    instruments
        .iter()
        .map(|(id, instrument)| super::recording::SymbolMeta {
            id: *id,
            name: instrument.symbol.clone(),
            base_asset: instrument.base_asset.clone(),
            quote_asset: instrument.quote_asset.clone(),
            market: market_name(instrument.market),
        })
        .collect()
}

fn market_name(market: crate::core::Market) -> &'static str {
    match market {
        crate::core::Market::Spot => "spot",
        crate::core::Market::Margin => "margin",
        crate::core::Market::UsdmFutures => "usdm",
    }
}
