//! Owns: spawning the hot threads (or the fused hot loop), the persist thread and the ops
//! thread, their loops, orderly drain on stop, and joining them. Never: decides anything
//! about trading; components do that, the runner only moves their inputs and outputs.

use std::sync::Arc;
use std::thread::JoinHandle;

use crate::core::clock::mono_ns;

use crate::core::{ExecEvent, MarketEvent, OrderIntent, SymbolTable};
use crate::ops::{Counter, LatencyRecorder};
use crate::persist::JournalWriter;

use super::affinity::{pin_current_thread, CorePlan, HotThread};
use super::fused::FusedLoop;
use super::persist_loop::{run_persist, PersistInputs, PersistMetrics};
use super::ring::{frame_ring, ring, RingMetrics, RingTx};
use super::shutdown::{Shutdown, Stage};
use super::stage::{MarketSource, OrderStage, Outbox, StrategyStage};
use super::threaded::{FeedLoop, OmsLoop, StratLoop};
use super::wait::{Backoff, WaitStrategy};
use super::{JournalMsg, Layout};

/// Messages drained from one ring before the loop looks at its other inputs.
pub(super) const BATCH: usize = 256;
/// How often hot threads hand their latency histograms to the ops thread.
pub(super) const PUBLISH_EVERY_NS: u64 = 10_000_000;
/// Timer period for strategies.
pub(super) const TIMER_EVERY_NS: u64 = 1_000_000;
/// How often the strategy stage is asked for due state snapshots (each strategy is
/// snapshotted at most once a second, and only after a change).
pub(super) const SNAPSHOT_POLL_NS: u64 = 100_000_000;
/// Bytes of the strategy snapshot ring.
const SNAPSHOT_RING_BYTES: usize = 4 << 20;

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
            "layout {}, wait {}, ",
            self.layout.as_str(),
            self.wait.as_str()
        )?;
        if self.cores.is_unpinned() {
            return f.write_str("unpinned");
        }
        f.write_str("pinned")?;
        for (i, (thread, core)) in self.cores.pins().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{} on core {core}", thread.name())?;
        }
        Ok(())
    }
}

/// Metric handles the runner updates.
#[derive(Clone)]
pub struct RunnerMetrics {
    pub market_ring: RingMetrics,
    /// The feed's copy of market events for the order thread (threaded layout).
    pub oms_market_ring: RingMetrics,
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
    /// Per-stage time: frame receive → event out of the feed stage (decode, book sync).
    pub feed_stage: LatencyRecorder,
    /// Per-stage time: one market event in the strategy stage.
    pub strategy_stage: LatencyRecorder,
    /// Per-stage time: one intent in the order stage (checks, manager, venue hand-off).
    pub order_stage: LatencyRecorder,
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
    // Snapshots that do not fit are offered again by the stage; a full ring is counted
    // with the capture ring's drops.
    let (snapshot_tx, snapshot_rx) = frame_ring(
        "snapshots",
        SNAPSHOT_RING_BYTES,
        metrics.capture_ring.clone(),
    );
    let snapshots = super::ring::SnapshotTx::new(snapshot_tx);
    let RunnerLatency {
        tick_to_order,
        market_hop,
        journal_lag,
        feed_stage,
        strategy_stage,
        order_stage,
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
            snapshots: snapshot_rx,
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
            let (oms_market_tx, oms_market_rx) = ring::<MarketEvent>(
                "oms_market",
                settings.market_ring,
                metrics.oms_market_ring.clone(),
            );
            let (intent_tx, intent_rx) =
                ring::<OrderIntent>("intents", settings.intent_ring, metrics.intent_ring.clone());
            let (exec_tx, exec_rx) =
                ring::<ExecEvent>("exec", settings.exec_ring, metrics.exec_ring.clone());
            let feed = FeedLoop {
                source,
                market: market_tx,
                oms_market: oms_market_tx,
                feed_stage,
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
                snapshots,
                market: market_rx,
                exec: exec_rx,
                intents: intent_tx,
                wait: settings.wait,
                market_hop,
                strategy_stage,
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
                market: oms_market_rx,
                exec_backlog: settings.exec_backlog,
                intents: intent_rx,
                exec: exec_tx,
                journal: journal_tx,
                wait: settings.wait,
                tick_to_order,
                order_stage,
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
                snapshots,
                orders,
                capture,
                journal: journal_tx,
                wait: settings.wait,
                tick_to_order,
                market_hop,
                stages: super::fused::StageClocks {
                    feed: feed_stage,
                    strategy: strategy_stage,
                    order: order_stage,
                },
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
pub(super) fn drain_into<T: Copy + Send>(
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

/// Gives `intent` to the order stage and records its tick-to-order latency (from the
/// receive stamp of the market event that caused it, when one did).
#[inline]
pub(super) fn hand_intent<O: OrderStage>(
    orders: &mut O,
    intent: &OrderIntent,
    now_ns: u64,
    out: &mut super::stage::OrderOutputs,
    tick_to_order: &mut LatencyRecorder,
    order_stage: &mut LatencyRecorder,
) {
    orders.on_intent(intent, now_ns, out);
    let done = mono_ns();
    order_stage.record_ns(done.saturating_sub(now_ns));
    if intent.cause_recv_ns != 0 {
        // Tick-to-order ends when the order frame was ready to write (a gateway stamps it
        // just before the write syscall); without a wire (paper), when the stage was done
        // with it. An intent that put no frame on the wire (refused by a rail or the local
        // rate budget, or handed to the REST fallback) is no tick-to-order sample: counting
        // it would time the refusal, not an order.
        let end = match orders.last_wire_ns() {
            None => Some(done),
            Some(wire) => (now_ns..=done).contains(&wire).then_some(wire),
        };
        if let Some(end) = end {
            let latency_ns = end.saturating_sub(intent.cause_recv_ns);
            tick_to_order.record_ns(latency_ns);
            orders.on_tick_to_order(latency_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::MarketEvent;
    use crate::engine::metrics::LATENCY_BUCKETS_US;
    use crate::engine::stage::OrderOutputs;
    use crate::ops::Registry;

    /// What the test order stage does with an intent.
    #[derive(Clone, Copy)]
    enum Wire {
        /// No wire at all (the paper venue).
        None,
        /// A wire, but this intent put nothing on it; the last frame went out at this stamp.
        Stale(u64),
        /// A frame is written for the intent.
        Sends,
    }

    struct Stage {
        wire: Wire,
        stamp: u64,
    }

    impl OrderStage for Stage {
        fn on_market(&mut self, _: &MarketEvent, _: u64, _: &mut OrderOutputs) {}
        fn on_intent(&mut self, _: &OrderIntent, _: u64, _: &mut OrderOutputs) {
            if let Wire::Sends = self.wire {
                self.stamp = mono_ns();
            }
        }
        fn poll(&mut self, _: u64, _: &mut OrderOutputs) -> bool {
            false
        }
        fn last_wire_ns(&self) -> Option<u64> {
            match self.wire {
                Wire::None => None,
                Wire::Stale(at) => Some(at),
                Wire::Sends => Some(self.stamp),
            }
        }
    }

    fn samples_after(wire: Wire, cause_recv_ns: u64) -> u64 {
        let mut registry = Registry::new();
        let mut tick = registry
            .latency_histogram("t_seconds", "t", &[], &LATENCY_BUCKETS_US)
            .expect("register");
        let mut order = registry
            .latency_histogram("o_seconds", "o", &[], &LATENCY_BUCKETS_US)
            .expect("register");
        let mut out = OrderOutputs::with_capacity(4, 4);
        let mut stage = Stage { wire, stamp: 0 };
        let intent = OrderIntent {
            cause_recv_ns,
            ..OrderIntent::default()
        };
        let now = mono_ns();
        hand_intent(&mut stage, &intent, now, &mut out, &mut tick, &mut order);
        tick.publish();
        registry
            .latency_quantiles("t_seconds")
            .map_or(0, |s| s.count)
    }

    #[test]
    fn tick_to_order_counts_only_intents_that_reached_the_wire_or_a_wireless_stage() {
        // The paper venue has no wire: the stage's end closes the sample.
        assert_eq!(samples_after(Wire::None, 1), 1);
        // A frame stamped during the hand-off is this intent's order.
        assert_eq!(samples_after(Wire::Sends, 1), 1);
        // A gateway whose last frame predates this intent sent nothing for it (refused
        // locally, or handed to REST): no sample, or the refusal would be timed.
        assert_eq!(samples_after(Wire::Stale(0), 1), 0);
        assert_eq!(samples_after(Wire::Stale(1), 1), 0);
        // No cause (a timer-driven intent): never a sample.
        assert_eq!(samples_after(Wire::None, 0), 0);
        assert_eq!(samples_after(Wire::Sends, 0), 0);
    }
}
