//! Owns: the loops of the threaded layout (feed, strat and oms threads, each draining its
//! rings). Never: decides anything about trading; it moves component inputs and outputs.

use std::collections::VecDeque;

use crate::core::clock::mono_ns;
use crate::core::{ExecEvent, MarketEvent, OrderIntent};
use crate::ops::LatencyRecorder;

use super::ring::{FrameTx, RingRx, RingTx, SnapshotTx};
use super::runner::{
    drain_into, hand_intent, RunnerMetrics, BATCH, PUBLISH_EVERY_NS, SNAPSHOT_POLL_NS,
    TIMER_EVERY_NS,
};
use super::shutdown::{Shutdown, Stage};
use super::stage::{MarketSource, OrderOutputs, OrderStage, Outbox, SourceState, StrategyStage};
use super::wait::{Backoff, WaitStrategy};
use super::JournalMsg;

pub(super) struct FeedLoop<S> {
    pub(super) source: S,
    pub(super) market: RingTx<MarketEvent>,
    /// The same events for the order thread, pushed first: by the time a strategy's intent
    /// reaches the order thread, the event that caused it is already in this ring.
    pub(super) oms_market: RingTx<MarketEvent>,
    pub(super) feed_stage: LatencyRecorder,
    pub(super) capture: Option<FrameTx>,
    pub(super) wait: WaitStrategy,
    pub(super) metrics: RunnerMetrics,
}

impl<S: MarketSource> FeedLoop<S> {
    pub(super) fn run(mut self, shutdown: &Shutdown) {
        let mut events = Outbox::with_capacity(BATCH);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut next_publish = 0u64;
        while !shutdown.stop_requested() {
            let state = self.source.poll(mono_ns(), &mut events, &mut self.capture);
            let produced = events.len() as u64;
            if produced > 0 {
                self.metrics.market_events.add(produced);
                let out_ns = mono_ns();
                for event in events.drain() {
                    self.feed_stage
                        .record_ns(out_ns.saturating_sub(event.recv_ns));
                    let pushed = self
                        .oms_market
                        .push_wait(event, &mut push_backoff, shutdown.abort_flag())
                        .and_then(|()| {
                            self.market
                                .push_wait(event, &mut push_backoff, shutdown.abort_flag())
                        });
                    if pushed.is_err() {
                        // A consumer is gone or the run failed: the panic path stops the run.
                        shutdown.fail();
                        break;
                    }
                }
            }
            let now = mono_ns();
            if now >= next_publish {
                self.feed_stage.publish();
                next_publish = now + PUBLISH_EVERY_NS;
            }
            match state {
                SourceState::Finished => break,
                SourceState::Idle if produced == 0 => backoff.idle(),
                _ => backoff.reset(),
            }
        }
        self.feed_stage.publish();
    }
}

pub(super) struct StratLoop<G> {
    pub(super) strategy: G,
    pub(super) snapshots: SnapshotTx,
    pub(super) market: RingRx<MarketEvent>,
    pub(super) exec: RingRx<ExecEvent>,
    pub(super) intents: RingTx<OrderIntent>,
    pub(super) wait: WaitStrategy,
    pub(super) market_hop: LatencyRecorder,
    pub(super) strategy_stage: LatencyRecorder,
    pub(super) metrics: RunnerMetrics,
}

impl<G: StrategyStage> StratLoop<G> {
    pub(super) fn run(mut self, shutdown: &Shutdown) {
        let mut out = Outbox::with_capacity(BATCH);
        let mut backoff = Backoff::new(self.wait);
        let mut push_backoff = Backoff::new(self.wait);
        let mut next_timer = 0u64;
        let mut next_publish = 0u64;
        let mut next_snapshot = 0u64;
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
                self.strategy_stage.record_ns(mono_ns().saturating_sub(now));
                self.flush(&mut out, &mut push_backoff, shutdown);
                worked = true;
            }
            let now = mono_ns();
            if now >= next_timer {
                self.strategy.on_timer(now, &mut out);
                self.flush(&mut out, &mut push_backoff, shutdown);
                next_timer = now + TIMER_EVERY_NS;
            }
            if now >= next_snapshot {
                self.strategy.snapshots(now, &mut self.snapshots);
                next_snapshot = now + SNAPSHOT_POLL_NS;
            }
            if now >= next_publish {
                self.market_hop.publish();
                self.strategy_stage.publish();
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
                // The last state changes reach the journal before the persist thread may
                // finish.
                self.strategy.snapshots(u64::MAX, &mut self.snapshots);
                shutdown.mark_done(Stage::Strat);
            }
            if input_closed && shutdown.is_done(Stage::Oms) && self.exec.is_empty() {
                break;
            }
            backoff.idle();
        }
        self.market_hop.publish();
        self.strategy_stage.publish();
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

pub(super) struct OmsLoop<O> {
    pub(super) orders: O,
    pub(super) market: RingRx<MarketEvent>,
    pub(super) exec_backlog: usize,
    pub(super) intents: RingRx<OrderIntent>,
    pub(super) exec: RingTx<ExecEvent>,
    pub(super) journal: RingTx<JournalMsg>,
    pub(super) wait: WaitStrategy,
    pub(super) tick_to_order: LatencyRecorder,
    pub(super) order_stage: LatencyRecorder,
    pub(super) metrics: RunnerMetrics,
}

impl<O: OrderStage> OmsLoop<O> {
    pub(super) fn run(mut self, shutdown: &Shutdown) {
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
            // Market first: an intent's cause is in this ring before the intent exists.
            while let Some(event) = self.market.pop() {
                self.orders.on_market(&event, mono_ns(), &mut out);
                self.route(&mut out, &mut exec_backlog, &mut push_backoff, shutdown);
                worked = true;
            }
            for _ in 0..BATCH {
                let Some(intent) = self.intents.pop() else {
                    break;
                };
                let now = mono_ns();
                hand_intent(
                    &mut self.orders,
                    &intent,
                    now,
                    &mut out,
                    &mut self.tick_to_order,
                    &mut self.order_stage,
                );
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
                self.order_stage.publish();
                self.intents.sample_depth();
                next_publish = now + PUBLISH_EVERY_NS;
            }
            if worked {
                backoff.reset();
                continue;
            }
            let drained =
                self.intents.is_empty() && self.market.is_empty() && exec_backlog.is_empty();
            if (shutdown.is_done(Stage::Strat) && drained) || shutdown.failed() {
                break;
            }
            backoff.idle();
        }
        self.tick_to_order.publish();
        self.order_stage.publish();
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
