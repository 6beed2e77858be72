//! Owns: spawning the hot threads (or the fused hot loop), the persist thread and the ops
//! thread, their loops, orderly drain on stop, and joining them. Never: decides anything
//! about trading; components do that, the runner only moves their inputs and outputs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::core::clock::mono_ns;
use crate::core::{ExecEvent, MarketEvent, OrderIntent, SymbolTable};
use crate::ops::{Counter, LatencyRecorder};
use crate::persist::JournalWriter;

use super::affinity::{pin_current_thread, CorePlan, HotThread};
use super::persist_loop::{run_persist, PersistInputs, PersistMetrics};
use super::ring::{frame_ring, ring, FrameTx, RingMetrics, RingRx, RingTx};
use super::shutdown::{Shutdown, Stage};
use super::stage::{MarketSource, OrderOutputs, OrderStage, Outbox, SourceState, StrategyStage};
use super::wait::{Backoff, WaitStrategy};
use super::{JournalMsg, Layout};

/// Messages drained from one ring before the loop looks at its other inputs.
const BATCH: usize = 256;
/// How often hot threads hand their latency histograms to the ops thread.
const PUBLISH_EVERY_NS: u64 = 10_000_000;
/// Timer period for strategies.
const TIMER_EVERY_NS: u64 = 1_000_000;

/// Resolved run-time settings of the thread topology.
#[derive(Debug, Clone)]
pub struct TopologySettings {
    pub layout: Layout,
    pub wait: WaitStrategy,
    /// Wait strategy of the persist thread (it is not latency-critical).
    pub persist_wait: WaitStrategy,
    pub cores: CorePlan,
    pub market_ring: usize,
    pub intent_ring: usize,
    pub exec_ring: usize,
    /// Exec events the order thread can hold for the strategies without allocating.
    pub exec_backlog: usize,
    pub journal_ring: usize,
    pub capture_ring_bytes: usize,
    /// Whether raw frames go to the journal.
    pub capture_frames: bool,
}

impl std::fmt::Display for TopologySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layout {}, wait {}, {}",
            self.layout.as_str(),
            self.wait.as_str(),
            if self.cores.is_unpinned() {
                "unpinned"
            } else {
                "pinned"
            }
        )
    }
}

/// Metric handles the runner updates.
#[derive(Clone)]
pub struct RunnerMetrics {
    pub market_ring: RingMetrics,
    pub intent_ring: RingMetrics,
    pub exec_ring: RingMetrics,
    pub journal_ring: RingMetrics,
    pub capture_ring: RingMetrics,
    pub market_events: Counter,
    pub intents: Counter,
    /// Exec events that could not reach the strategies because they had already stopped.
    pub exec_undelivered: Counter,
    /// Times the order thread's exec backlog was full and had to grow (allocation).
    pub exec_backlog_grown: Counter,
    /// Intents emitted after the order stage had finished draining (shutdown only).
    pub intents_undelivered: Counter,
    /// Intents a component could not emit because its outbox was full.
    pub outbox_overflow: Counter,
    pub persist: PersistMetrics,
}

/// Latency recorders, one per owning thread.
pub struct RunnerLatency {
    /// Market event receive → order stage handled the intent it caused.
    pub tick_to_order: LatencyRecorder,
    /// Market event receive → strategy thread took it off the ring.
    pub market_hop: LatencyRecorder,
    /// Frame receive → capture record appended (persist thread).
    pub journal_lag: LatencyRecorder,
}

/// The components one run drives.
pub struct Components<S, G, O> {
    pub source: S,
    pub strategy: G,
    pub orders: O,
    pub journal: JournalWriter,
    pub symbols: SymbolTable,
    /// Names of the capture streams, indexed by the tag the source gives each frame.
    pub stream_names: Vec<String>,
}

/// What a finished run reports.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub layout: Option<Layout>,
    pub wait: Option<WaitStrategy>,
    pub market_events: u64,
    pub intents: u64,
    pub journal_records: u64,
    pub frames: u64,
    pub failed: bool,
}

/// Why the engine could not run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("could not spawn thread {name}: {source}")]
    Spawn {
        name: &'static str,
        source: std::io::Error,
    },
    #[error("thread {0} panicked")]
    Panicked(&'static str),
}

/// A spawned hot thread and its name, joined in pipeline order.
struct Spawned {
    name: &'static str,
    handle: JoinHandle<()>,
}

fn spawn_hot(
    thread: HotThread,
    cores: &CorePlan,
    shutdown: &Arc<Shutdown>,
    body: impl FnOnce() + Send + 'static,
) -> Result<Spawned, EngineError> {
    let core = cores.core_for(thread);
    let shutdown = Arc::clone(shutdown);
    let name = thread.name();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Some(core) = core {
                // A refused pin leaves the thread runnable anywhere: slower, still correct.
                let _pinned = pin_current_thread(core);
            }
            // A panic must not leave the other threads waiting on a ring forever.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_err() {
                shutdown.fail();
            }
        })
        .map_err(|source| EngineError::Spawn { name, source })?;
    Ok(Spawned { name, handle })
}

/// Runs the engine until the source finishes or a stop is requested, then drains every
/// ring, closes the journal and returns. `ops` runs on its own unpinned thread.
pub fn run<S, G, O>(
    settings: &TopologySettings,
    components: Components<S, G, O>,
    metrics: RunnerMetrics,
    latency: RunnerLatency,
    shutdown: Arc<Shutdown>,
    ops: impl FnOnce(Arc<Shutdown>) + Send + 'static,
) -> Result<RunReport, EngineError>
where
    S: MarketSource + 'static,
    G: StrategyStage + 'static,
    O: OrderStage + 'static,
{
    let Components {
        source,
        strategy,
        orders,
        journal,
        symbols,
        stream_names,
    } = components;
    let (journal_tx, journal_rx) = ring::<JournalMsg>(
        "journal",
        settings.journal_ring,
        metrics.journal_ring.clone(),
    );
    let (frame_tx, frame_rx) = frame_ring(
        "capture",
        settings.capture_ring_bytes,
        metrics.capture_ring.clone(),
    );
    let capture = settings.capture_frames.then_some(frame_tx);
    let RunnerLatency {
        tick_to_order,
        market_hop,
        journal_lag,
    } = latency;

    let ops_handle = {
        let shutdown = Arc::clone(&shutdown);
        std::thread::Builder::new()
            .name("kestrel-ops".to_owned())
            .spawn(move || ops(shutdown))
            .map_err(|source| EngineError::Spawn {
                name: "kestrel-ops",
                source,
            })?
    };

    let persist = {
        let shutdown_for_thread = Arc::clone(&shutdown);
        let inputs = PersistInputs {
            journal: journal_rx,
            frames: frame_rx,
            symbols,
            stream_names,
        };
        let persist_metrics = metrics.persist.clone();
        let wait = settings.persist_wait;
        spawn_hot(HotThread::Persist, &settings.cores, &shutdown, move || {
            run_persist(
                journal,
                inputs,
                persist_metrics,
                journal_lag,
                wait,
                &shutdown_for_thread,
            );
            shutdown_for_thread.mark_done(Stage::Persist);
        })?
    };

    let mut threads = Vec::with_capacity(4);
    match settings.layout {
        // `EngineConfig::resolve` never leaves `Auto`; treat a hand-built one as threads.
        Layout::Threads | Layout::Auto => {
            let (market_tx, market_rx) =
                ring::<MarketEvent>("market", settings.market_ring, metrics.market_ring.clone());
            let (intent_tx, intent_rx) =
                ring::<OrderIntent>("intents", settings.intent_ring, metrics.intent_ring.clone());
            let (exec_tx, exec_rx) =
                ring::<ExecEvent>("exec", settings.exec_ring, metrics.exec_ring.clone());
            let feed = FeedLoop {
                source,
                market: market_tx,
                capture,
                wait: settings.wait,
                metrics: metrics.clone(),
            };
            let sd = Arc::clone(&shutdown);
            threads.push(spawn_hot(
                HotThread::Feed,
                &settings.cores,
                &shutdown,
                move || {
                    feed.run(&sd);
                    sd.mark_done(Stage::Feed);
                },
            )?);
            let strat = StratLoop {
                strategy,
                market: market_rx,
                exec: exec_rx,
                intents: intent_tx,
                wait: settings.wait,
                market_hop,
                metrics: metrics.clone(),
            };
            let sd = Arc::clone(&shutdown);
            threads.push(spawn_hot(
                HotThread::Strat,
                &settings.cores,
                &shutdown,
                move || {
                    strat.run(&sd);
                },
            )?);
            let oms = OmsLoop {
                orders,
                exec_backlog: settings.exec_backlog,
                intents: intent_rx,
                exec: exec_tx,
                journal: journal_tx,
                wait: settings.wait,
                tick_to_order,
                metrics: metrics.clone(),
            };
            let sd = Arc::clone(&shutdown);
            threads.push(spawn_hot(
                HotThread::Oms,
                &settings.cores,
                &shutdown,
                move || {
                    oms.run(&sd);
                    sd.mark_done(Stage::Oms);
                },
            )?);
        }
        Layout::Fused => {
            let fused = FusedLoop {
                source,
                exec_backlog: settings.exec_backlog,
                strategy,
                orders,
                capture,
                journal: journal_tx,
                wait: settings.wait,
                tick_to_order,
                market_hop,
                metrics: metrics.clone(),
            };
            let sd = Arc::clone(&shutdown);
            threads.push(spawn_hot(
                HotThread::Fused,
                &settings.cores,
                &shutdown,
                move || {
                    fused.run(&sd);
                    sd.mark_done(Stage::Feed);
                    sd.mark_done(Stage::Strat);
                    sd.mark_done(Stage::Oms);
                },
            )?);
        }
    }
    threads.push(persist);

    let mut panicked = None;
    for t in threads {
        if t.handle.join().is_err() {
            panicked.get_or_insert(t.name);
        }
    }
    // The ops thread serves metrics until every pipeline thread is gone; it is joined last.
    shutdown.mark_joined();
    if ops_handle.join().is_err() {
        panicked.get_or_insert("kestrel-ops");
    }
    if let Some(name) = panicked {
        return Err(EngineError::Panicked(name));
    }
    Ok(RunReport {
        layout: Some(settings.layout),
        wait: Some(settings.wait),
        market_events: metrics.market_events.get(),
        intents: metrics.intents.get(),
        journal_records: metrics.persist.records.get(),
        frames: metrics.persist.frames.get(),
        failed: shutdown.failed(),
    })
}

/// Pushes everything in `outbox` into `tx`, waiting on back-pressure.
#[inline]
fn drain_into<T: Copy + Send>(
    outbox: &mut Outbox<T>,
    tx: &mut RingTx<T>,
    backoff: &mut Backoff,
    shutdown: &Shutdown,
) {
    for item in outbox.drain() {
        if tx.push_wait(item, backoff, shutdown.abort_flag()).is_err() {
            // The consumer is gone or the run failed: the panic path already stops the run.
            shutdown.fail();
            return;
        }
    }
}

struct FeedLoop<S> {
    source: S,
    market: RingTx<MarketEvent>,
    capture: Option<FrameTx>,
    wait: WaitStrategy,
    metrics: RunnerMetrics,
}

impl<S: MarketSource> FeedLoop<S> {
    fn run(mut self, shutdown: &Shutdown) {
        let mut events = Outbox::with_capacity(BATCH);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut no_capture = super::stage::NoCapture;
        while !shutdown.stop_requested() {
            let state = match self.capture.as_mut() {
                Some(tx) => self.source.poll(mono_ns(), &mut events, tx),
                None => self.source.poll(mono_ns(), &mut events, &mut no_capture),
            };
            let produced = events.len() as u64;
            if produced > 0 {
                self.metrics.market_events.add(produced);
                drain_into(&mut events, &mut self.market, &mut push_backoff, shutdown);
            }
            match state {
                SourceState::Finished => break,
                SourceState::Idle if produced == 0 => backoff.idle(),
                _ => backoff.reset(),
            }
        }
    }
}

struct StratLoop<G> {
    strategy: G,
    market: RingRx<MarketEvent>,
    exec: RingRx<ExecEvent>,
    intents: RingTx<OrderIntent>,
    wait: WaitStrategy,
    market_hop: LatencyRecorder,
    metrics: RunnerMetrics,
}

impl<G: StrategyStage> StratLoop<G> {
    fn run(mut self, shutdown: &Shutdown) {
        let mut out = Outbox::with_capacity(BATCH);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut next_timer = 0u64;
        let mut next_publish = 0u64;
        let mut input_closed = false;
        loop {
            let mut worked = self.drain_exec(&mut out, &mut push_backoff, shutdown);
            for _ in 0..BATCH {
                // Fills and order updates go before new market data: a strategy must know
                // what it holds before it reacts to the next tick.
                self.drain_exec(&mut out, &mut push_backoff, shutdown);
                let Some(event) = self.market.pop() else {
                    break;
                };
                let now = mono_ns();
                self.market_hop.record_ns(now.saturating_sub(event.recv_ns));
                self.strategy.on_market(&event, &mut out);
                self.flush(&mut out, &mut push_backoff, shutdown);
                worked = true;
            }
            let now = mono_ns();
            if now >= next_timer {
                self.strategy.on_timer(now, &mut out);
                self.flush(&mut out, &mut push_backoff, shutdown);
                next_timer = now + TIMER_EVERY_NS;
            }
            if now >= next_publish {
                self.market_hop.publish();
                self.market.sample_depth();
                next_publish = now + PUBLISH_EVERY_NS;
            }
            if worked {
                backoff.reset();
                continue;
            }
            if shutdown.failed() {
                break;
            }
            // Done-flag first, emptiness second: the feed pushes before it marks itself done.
            if !input_closed && shutdown.is_done(Stage::Feed) && self.market.is_empty() {
                // No more market input: the order stage may finish once it has drained our
                // intents; we stay to hear the acknowledgements and fills of the last ones.
                input_closed = true;
                shutdown.mark_done(Stage::Strat);
            }
            if input_closed && shutdown.is_done(Stage::Oms) && self.exec.is_empty() {
                break;
            }
            backoff.idle();
        }
        self.market_hop.publish();
    }

    /// Hands every waiting exec event to the strategy; true if there was any.
    #[inline]
    fn drain_exec(
        &mut self,
        out: &mut Outbox<OrderIntent>,
        backoff: &mut Backoff,
        shutdown: &Shutdown,
    ) -> bool {
        let mut any = false;
        while let Some(event) = self.exec.pop() {
            self.strategy.on_exec(&event, out);
            self.flush(out, backoff, shutdown);
            any = true;
        }
        any
    }

    #[inline]
    fn flush(&mut self, out: &mut Outbox<OrderIntent>, backoff: &mut Backoff, shutdown: &Shutdown) {
        if out.is_empty() {
            return;
        }
        if out.is_full() {
            self.metrics.outbox_overflow.inc();
        }
        self.metrics.intents.add(out.len() as u64);
        if self.intents.is_abandoned() {
            // Intents reacting to the last fills after the order stage finished draining.
            self.metrics.intents_undelivered.add(out.len() as u64);
            out.drain();
            return;
        }
        drain_into(out, &mut self.intents, backoff, shutdown);
    }
}

struct OmsLoop<O> {
    orders: O,
    exec_backlog: usize,
    intents: RingRx<OrderIntent>,
    exec: RingTx<ExecEvent>,
    journal: RingTx<JournalMsg>,
    wait: WaitStrategy,
    tick_to_order: LatencyRecorder,
    metrics: RunnerMetrics,
}

impl<O: OrderStage> OmsLoop<O> {
    fn run(mut self, shutdown: &Shutdown) {
        let mut out = OrderOutputs::with_capacity(BATCH, BATCH);
        // Exec events wait here when the strategy ring is full: the order thread never
        // blocks on the strategies, so the strat ⇄ oms cycle cannot deadlock. Fills are never
        // dropped either, so the backlog is preallocated large and, should it ever fill,
        // grows (counted in `exec_backlog_grown`).
        let mut exec_backlog: VecDeque<ExecEvent> = VecDeque::with_capacity(self.exec_backlog);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut next_publish = 0u64;
        loop {
            let mut worked = false;
            for _ in 0..BATCH {
                let Some(intent) = self.intents.pop() else {
                    break;
                };
                let now = mono_ns();
                self.orders.on_intent(&intent, now, &mut out);
                if intent.cause_recv_ns != 0 {
                    self.tick_to_order
                        .record_ns(mono_ns().saturating_sub(intent.cause_recv_ns));
                }
                self.route(&mut out, &mut exec_backlog, &mut push_backoff, shutdown);
                worked = true;
            }
            let now = mono_ns();
            if self.orders.poll(now, &mut out) {
                self.route(&mut out, &mut exec_backlog, &mut push_backoff, shutdown);
                worked = true;
            }
            worked |= self.deliver_backlog(&mut exec_backlog);
            if now >= next_publish {
                self.tick_to_order.publish();
                self.intents.sample_depth();
                next_publish = now + PUBLISH_EVERY_NS;
            }
            if worked {
                backoff.reset();
                continue;
            }
            let drained = self.intents.is_empty() && exec_backlog.is_empty();
            if (shutdown.is_done(Stage::Strat) && drained) || shutdown.failed() {
                break;
            }
            backoff.idle();
        }
        self.tick_to_order.publish();
        if !exec_backlog.is_empty() {
            self.metrics.exec_undelivered.add(exec_backlog.len() as u64);
        }
    }

    #[inline]
    fn route(
        &mut self,
        out: &mut OrderOutputs,
        backlog: &mut VecDeque<ExecEvent>,
        backoff: &mut Backoff,
        shutdown: &Shutdown,
    ) {
        drain_into(&mut out.journal, &mut self.journal, backoff, shutdown);
        for event in out.exec.drain() {
            if backlog.len() == backlog.capacity() {
                self.metrics.exec_backlog_grown.inc();
            }
            backlog.push_back(event);
        }
        self.deliver_backlog(backlog);
    }

    /// Moves waiting exec events to the strategies as far as the ring allows.
    #[inline]
    fn deliver_backlog(&mut self, backlog: &mut VecDeque<ExecEvent>) -> bool {
        let mut moved = false;
        while let Some(&event) = backlog.front() {
            if self.exec.is_abandoned() {
                self.metrics.exec_undelivered.add(backlog.len() as u64);
                backlog.clear();
                return moved;
            }
            if self.exec.try_push(event).is_err() {
                self.metrics.exec_ring.backpressure.inc();
                break;
            }
            backlog.pop_front();
            moved = true;
        }
        moved
    }
}

/// feed → strat → oms in one loop, for machines with fewer cores than hot threads: no
/// hand-off between them at all, only the journal ring to the persist thread.
struct FusedLoop<S, G, O> {
    source: S,
    exec_backlog: usize,
    strategy: G,
    orders: O,
    capture: Option<FrameTx>,
    journal: RingTx<JournalMsg>,
    wait: WaitStrategy,
    tick_to_order: LatencyRecorder,
    market_hop: LatencyRecorder,
    metrics: RunnerMetrics,
}

/// Rounds of strategy ⇄ order-stage reactions handled inline per input before the rest
/// wait for the next loop turn (guards against two components ping-ponging forever).
const FUSED_REACTION_ROUNDS: usize = 8;

impl<S: MarketSource, G: StrategyStage, O: OrderStage> FusedLoop<S, G, O> {
    fn run(mut self, shutdown: &Shutdown) {
        let mut events = Outbox::with_capacity(BATCH);
        let mut intents = Outbox::with_capacity(BATCH);
        let mut out = OrderOutputs::with_capacity(BATCH, BATCH);
        let mut pending_exec: VecDeque<ExecEvent> = VecDeque::with_capacity(self.exec_backlog);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut no_capture = super::stage::NoCapture;
        let mut next_timer = 0u64;
        let mut next_publish = 0u64;
        let mut finished = false;
        loop {
            let mut worked = false;
            if !finished && !shutdown.stop_requested() {
                let state = match self.capture.as_mut() {
                    Some(tx) => self.source.poll(mono_ns(), &mut events, tx),
                    None => self.source.poll(mono_ns(), &mut events, &mut no_capture),
                };
                finished = state == SourceState::Finished;
                worked = state == SourceState::Active;
            }
            self.metrics.market_events.add(events.len() as u64);
            for event in events.drain() {
                worked = true;
                self.market_hop
                    .record_ns(mono_ns().saturating_sub(event.recv_ns));
                self.strategy.on_market(&event, &mut intents);
                self.react(
                    &mut intents,
                    &mut out,
                    &mut pending_exec,
                    &mut push_backoff,
                    shutdown,
                );
            }
            if self.orders.poll(mono_ns(), &mut out) || !pending_exec.is_empty() {
                worked = true;
                self.react(
                    &mut intents,
                    &mut out,
                    &mut pending_exec,
                    &mut push_backoff,
                    shutdown,
                );
            }
            let now = mono_ns();
            if now >= next_timer {
                self.strategy.on_timer(now, &mut intents);
                self.react(
                    &mut intents,
                    &mut out,
                    &mut pending_exec,
                    &mut push_backoff,
                    shutdown,
                );
                next_timer = now + TIMER_EVERY_NS;
            }
            if now >= next_publish {
                self.market_hop.publish();
                self.tick_to_order.publish();
                next_publish = now + PUBLISH_EVERY_NS;
            }
            if worked {
                backoff.reset();
                continue;
            }
            if finished || shutdown.stop_requested() || shutdown.failed() {
                break;
            }
            backoff.idle();
        }
        self.market_hop.publish();
        self.tick_to_order.publish();
    }

    /// Feeds intents to the order stage and its exec events back to the strategy, a bounded
    /// number of rounds; leftovers stay in `pending` for the next turn.
    fn react(
        &mut self,
        intents: &mut Outbox<OrderIntent>,
        out: &mut OrderOutputs,
        pending: &mut VecDeque<ExecEvent>,
        backoff: &mut Backoff,
        shutdown: &Shutdown,
    ) {
        for _ in 0..FUSED_REACTION_ROUNDS {
            if intents.is_full() {
                self.metrics.outbox_overflow.inc();
            }
            self.metrics.intents.add(intents.len() as u64);
            for intent in intents.drain() {
                self.orders.on_intent(&intent, mono_ns(), out);
                if intent.cause_recv_ns != 0 {
                    self.tick_to_order
                        .record_ns(mono_ns().saturating_sub(intent.cause_recv_ns));
                }
            }
            drain_into(&mut out.journal, &mut self.journal, backoff, shutdown);
            if pending.len() + out.exec.len() > pending.capacity() {
                self.metrics.exec_backlog_grown.inc();
            }
            pending.extend(out.exec.drain());
            let Some(event) = pending.pop_front() else {
                return;
            };
            self.strategy.on_exec(&event, intents);
            while intents.is_empty() {
                let Some(event) = pending.pop_front() else {
                    return;
                };
                self.strategy.on_exec(&event, intents);
            }
        }
    }
}
