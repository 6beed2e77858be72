//! Owns: the fused hot loop (feed → strat → oms on one thread, journal ring to persist).
//! Never: decides anything about trading; it moves component inputs and outputs.

use std::collections::VecDeque;

use crate::core::clock::mono_ns;
use crate::core::{ExecEvent, OrderIntent};
use crate::ops::LatencyRecorder;

use super::ring::{FrameTx, RingTx, SnapshotTx};
use super::runner::{
    drain_into, hand_intent, RunnerMetrics, BATCH, PUBLISH_EVERY_NS, SNAPSHOT_POLL_NS,
    TIMER_EVERY_NS,
};
use super::shutdown::Shutdown;
use super::stage::{MarketSource, OrderOutputs, OrderStage, Outbox, SourceState, StrategyStage};
use super::wait::{Backoff, WaitStrategy};
use super::JournalMsg;

/// The per-stage latency recorders of the fused loop.
pub(super) struct StageClocks {
    pub(super) feed: LatencyRecorder,
    pub(super) strategy: LatencyRecorder,
    pub(super) order: LatencyRecorder,
}

impl StageClocks {
    fn publish(&mut self) {
        self.feed.publish();
        self.strategy.publish();
        self.order.publish();
    }
}

/// feed → strat → oms in one loop, for machines with fewer cores than hot threads: no
/// hand-off between them at all, only the journal ring to the persist thread.
pub(super) struct FusedLoop<S, G, O> {
    pub(super) source: S,
    pub(super) exec_backlog: usize,
    pub(super) strategy: G,
    pub(super) snapshots: SnapshotTx,
    pub(super) orders: O,
    pub(super) capture: Option<FrameTx>,
    pub(super) journal: RingTx<JournalMsg>,
    pub(super) wait: WaitStrategy,
    pub(super) tick_to_order: LatencyRecorder,
    pub(super) market_hop: LatencyRecorder,
    pub(super) stages: StageClocks,
    pub(super) metrics: RunnerMetrics,
}

/// Rounds of strategy ⇄ order-stage reactions handled inline per input before the rest
/// wait for the next loop turn (guards against two components ping-ponging forever).
const FUSED_REACTION_ROUNDS: usize = 8;

/// The buffers one strategy ⇄ order-stage reaction works in, allocated once per run.
struct Reaction {
    intents: Outbox<OrderIntent>,
    out: OrderOutputs,
    /// Exec events not yet handed to the strategy.
    pending: VecDeque<ExecEvent>,
    push_backoff: Backoff,
}

impl<S: MarketSource, G: StrategyStage, O: OrderStage> FusedLoop<S, G, O> {
    pub(super) fn run(mut self, shutdown: &Shutdown) {
        let mut events = Outbox::with_capacity(BATCH);
        let mut r = Reaction {
            intents: Outbox::with_capacity(BATCH),
            out: OrderOutputs::with_capacity(BATCH, BATCH),
            pending: VecDeque::with_capacity(self.exec_backlog),
            push_backoff: Backoff::new(self.wait),
        };
        let mut backoff = Backoff::new(self.wait);
        let mut next_timer = 0u64;
        let mut next_publish = 0u64;
        let mut next_snapshot = 0u64;
        let mut finished = false;
        loop {
            let mut worked = false;
            if !finished && !shutdown.stop_requested() {
                let state = self.source.poll(mono_ns(), &mut events, &mut self.capture);
                finished = state == SourceState::Finished;
                worked = state == SourceState::Active;
            }
            self.metrics.market_events.add(events.len() as u64);
            for event in events.drain() {
                worked = true;
                let now = mono_ns();
                self.market_hop.record_ns(now.saturating_sub(event.recv_ns));
                self.stages
                    .feed
                    .record_ns(now.saturating_sub(event.recv_ns));
                // The order stage sees the book before any intent the event causes.
                self.orders.on_market(&event, now, &mut r.out);
                let strategy_start = mono_ns();
                self.strategy.on_market(&event, &mut r.intents);
                self.stages
                    .strategy
                    .record_ns(mono_ns().saturating_sub(strategy_start));
                self.react(&mut r, shutdown);
            }
            if self.orders.poll(mono_ns(), &mut r.out) || !r.pending.is_empty() {
                worked = true;
                self.react(&mut r, shutdown);
            }
            let now = mono_ns();
            if now >= next_timer {
                self.strategy.on_timer(now, &mut r.intents);
                self.react(&mut r, shutdown);
                next_timer = now + TIMER_EVERY_NS;
            }
            if now >= next_snapshot {
                self.strategy.snapshots(now, &mut self.snapshots);
                next_snapshot = now + SNAPSHOT_POLL_NS;
            }
            if now >= next_publish {
                self.market_hop.publish();
                self.tick_to_order.publish();
                self.stages.publish();
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
        self.strategy.snapshots(u64::MAX, &mut self.snapshots);
        self.market_hop.publish();
        self.tick_to_order.publish();
        self.stages.publish();
    }

    /// Feeds intents to the order stage and its exec events back to the strategy, a bounded
    /// number of rounds; leftovers stay in `r.pending` for the next turn.
    fn react(&mut self, r: &mut Reaction, shutdown: &Shutdown) {
        for _ in 0..FUSED_REACTION_ROUNDS {
            if r.intents.is_full() {
                self.metrics.outbox_overflow.inc();
            }
            self.metrics.intents.add(r.intents.len() as u64);
            for intent in r.intents.drain() {
                hand_intent(
                    &mut self.orders,
                    &intent,
                    mono_ns(),
                    &mut r.out,
                    &mut self.tick_to_order,
                    &mut self.stages.order,
                );
            }
            drain_into(
                &mut r.out.journal,
                &mut self.journal,
                &mut r.push_backoff,
                shutdown,
            );
            if r.pending.len() + r.out.exec.len() > r.pending.capacity() {
                self.metrics.exec_backlog_grown.inc();
            }
            r.pending.extend(r.out.exec.drain());
            let Some(event) = r.pending.pop_front() else {
                return;
            };
            self.strategy.on_exec(&event, &mut r.intents);
            while r.intents.is_empty() {
                let Some(event) = r.pending.pop_front() else {
                    return;
                };
                self.strategy.on_exec(&event, &mut r.intents);
            }
        }
    }
}
