//! Owns: the interfaces through which the runner drives components (market source,
//! strategy stage, order stage) and the fixed-capacity outboxes they write into. Never:
//! lets a component see a thread, a ring or a clock; the runner passes time in.

use crate::book::Bar;
use crate::core::{ExecEvent, MarketEvent, OrderIntent};

use super::JournalMsg;

/// A preallocated output buffer: components push into it, the runner drains it into a ring.
/// Pushing past the capacity fails instead of allocating.
#[derive(Debug)]
pub struct Outbox<T> {
    items: Vec<T>,
    capacity: usize,
}

impl<T: Copy> Outbox<T> {
    /// An outbox that holds up to `capacity` items (allocated once, here).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            items: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Adds an item; gives it back when the outbox is full.
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.items.len() >= self.capacity {
            return Err(item);
        }
        self.items.push(item);
        Ok(())
    }

    /// True when nothing was pushed since the last drain.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of items waiting.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no more items fit.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    /// Takes the items out in push order, keeping the allocation.
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, T> {
        self.items.drain(..)
    }
}

/// What a source's poll achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Produced something; poll again at once.
    Active,
    /// Nothing ready; the runner may wait.
    Idle,
    /// The source has ended (replay finished); the engine drains and stops.
    Finished,
}

/// Receives raw frames for the journal's capture records.
pub trait FrameSink {
    /// Offers one raw frame; returns false when it was dropped (counted by the sink).
    fn capture(&mut self, stream_tag: u16, recv_ns: u64, frame: &[u8]) -> bool;
}

/// No sink (capture switched off) keeps nothing.
impl<T: FrameSink> FrameSink for Option<T> {
    #[inline]
    fn capture(&mut self, stream_tag: u16, recv_ns: u64, frame: &[u8]) -> bool {
        match self {
            Some(sink) => sink.capture(stream_tag, recv_ns, frame),
            None => true,
        }
    }
}

impl FrameSink for super::ring::FrameTx {
    #[inline]
    fn capture(&mut self, stream_tag: u16, recv_ns: u64, frame: &[u8]) -> bool {
        self.push_frame(stream_tag, recv_ns, frame)
    }
}

/// The feed thread's component: sockets or a replay, decoded into market events.
pub trait MarketSource: Send {
    /// Moves whatever is ready into `events` (and raw frames into `frames`), without blocking.
    fn poll(
        &mut self,
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> SourceState;
}

/// Takes strategy state snapshots for the journal (the persist thread writes them as
/// snapshot records).
pub trait SnapshotSink {
    /// Offers one snapshot of `component`; false when it could not be taken now (ring
    /// full): the stage offers it again later.
    fn snapshot(&mut self, component: &str, body: &[u8]) -> bool;
}

/// The strategy thread's component: books, bars and strategies behind one dispatcher.
pub trait StrategyStage: Send {
    /// A market event arrived.
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>);
    /// An order update or fill arrived from the order stage.
    fn on_exec(&mut self, event: &ExecEvent, intents: &mut Outbox<OrderIntent>);
    /// Periodic call with the current time, for timers and cooldowns.
    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>);
    /// A closed candle from candle data (backtests on klines); strategies that trade on
    /// bars take it, the rest ignore it.
    fn on_bar(&mut self, _bar: &Bar, _intents: &mut Outbox<OrderIntent>) {}
    /// Periodic call (about once a second): hands the state snapshots that are due to
    /// `sink`.
    fn snapshots(&mut self, _now_ns: u64, _sink: &mut dyn SnapshotSink) {}
}

/// What the order stage emits.
#[derive(Debug)]
pub struct OrderOutputs {
    /// Order updates and fills for the strategies.
    pub exec: Outbox<ExecEvent>,
    /// Records for the journal.
    pub journal: Outbox<JournalMsg>,
}

impl OrderOutputs {
    /// Outboxes sized for one intent's worth of output.
    pub fn with_capacity(exec: usize, journal: usize) -> Self {
        Self {
            exec: Outbox::with_capacity(exec),
            journal: Outbox::with_capacity(journal),
        }
    }
}

/// The order thread's component: risk rails, order manager, gateways.
pub trait OrderStage: Send {
    /// A market event, before any intent it causes: reference prices for checks, marks for
    /// the portfolio, the book the paper venue fills against.
    fn on_market(&mut self, event: &MarketEvent, now_ns: u64, out: &mut OrderOutputs);
    /// A strategy wants to trade.
    fn on_intent(&mut self, intent: &OrderIntent, now_ns: u64, out: &mut OrderOutputs);
    /// Gives the stage a chance to do I/O (gateway acks, fills); true if it did something.
    fn poll(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool;
    /// The tick-to-order latency the runner measured for the last intent (the latency
    /// breaker's input).
    fn on_tick_to_order(&mut self, _latency_ns: u64) {}
    /// Monotonic ns at which the last order frame was ready on the wire (None: a stage
    /// without a wire); the runner ends tick-to-order there when it falls inside the
    /// intent's handling.
    fn last_wire_ns(&self) -> Option<u64> {
        None
    }
    /// The earliest simulated time the stage has queued work due (its venue's latency
    /// queues); None when nothing is queued. Only the backtester asks.
    fn next_wakeup_ns(&self) -> Option<u64> {
        None
    }
}

/// The stage used when no strategies or venues are configured (capture-only runs, feed
/// soak tests): it consumes its input and emits nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaptureOnly;

impl StrategyStage for CaptureOnly {
    fn on_market(&mut self, _event: &MarketEvent, _intents: &mut Outbox<OrderIntent>) {}
    fn on_exec(&mut self, _event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {}
    fn on_timer(&mut self, _now_ns: u64, _intents: &mut Outbox<OrderIntent>) {}
}

impl OrderStage for CaptureOnly {
    fn on_market(&mut self, _event: &MarketEvent, _now_ns: u64, _out: &mut OrderOutputs) {}
    fn on_intent(&mut self, _intent: &OrderIntent, _now_ns: u64, _out: &mut OrderOutputs) {}
    fn poll(&mut self, _now_ns: u64, _out: &mut OrderOutputs) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_refuses_instead_of_growing() {
        let mut o = Outbox::with_capacity(2);
        assert!(o.push(1u32).is_ok());
        assert!(o.push(2).is_ok());
        assert_eq!(o.push(3), Err(3));
        assert_eq!(o.drain().collect::<Vec<_>>(), vec![1, 2]);
        assert!(o.is_empty());
        assert!(o.push(4).is_ok());
    }
}
