//! Owns: the bounded SPSC rings between engine threads (typed message rings and the byte
//! ring for captured frames) and their back-pressure accounting. Never: drops an order,
//! fill or journal record silently; a full ring makes the producer wait and counts it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::ops::{Counter, Gauge};

use super::wait::Backoff;

/// Counters and gauges one ring reports.
#[derive(Clone)]
pub struct RingMetrics {
    /// Messages waiting, sampled by the consumer.
    pub depth: Gauge,
    /// Times a producer found the ring full and had to wait.
    pub backpressure: Counter,
    /// Market events replaced by a newer one because the ring was full.
    pub conflated: Counter,
}

/// Why a push could not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("ring {0}: consumer is gone")]
    ConsumerGone(&'static str),
    #[error("ring {0}: stopped while full")]
    Stopped(&'static str),
}

/// Creates a ring of `capacity` messages named `name` in metrics and errors.
pub fn ring<T: Copy + Send>(
    name: &'static str,
    capacity: usize,
    metrics: RingMetrics,
) -> (RingTx<T>, RingRx<T>) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity);
    (
        RingTx {
            name,
            producer,
            metrics: metrics.clone(),
            pending: None,
        },
        RingRx {
            name,
            consumer,
            metrics,
            pops: 0,
        },
    )
}

/// Producing end of a typed ring.
pub struct RingTx<T> {
    name: &'static str,
    producer: rtrb::Producer<T>,
    metrics: RingMetrics,
    /// Newest conflatable message that did not fit yet.
    pending: Option<T>,
}

impl<T: Copy + Send> RingTx<T> {
    /// Pushes if there is room; gives the message back otherwise.
    #[inline]
    pub fn try_push(&mut self, msg: T) -> Result<(), T> {
        self.producer
            .push(msg)
            .map_err(|rtrb::PushError::Full(m)| m)
    }

    /// Pushes, waiting with `backoff` while the ring is full (counted once per full episode).
    /// Gives up only if the consumer is gone, or if `abort` is set while still full.
    #[inline]
    pub fn push_wait(
        &mut self,
        msg: T,
        backoff: &mut Backoff,
        abort: &AtomicBool,
    ) -> Result<(), RingError> {
        let mut msg = match self.producer.push(msg) {
            Ok(()) => return Ok(()),
            Err(rtrb::PushError::Full(m)) => m,
        };
        self.metrics.backpressure.inc();
        loop {
            if self.producer.is_abandoned() {
                return Err(RingError::ConsumerGone(self.name));
            }
            if abort.load(Ordering::Relaxed) {
                return Err(RingError::Stopped(self.name));
            }
            backoff.idle();
            match self.producer.push(msg) {
                Ok(()) => {
                    backoff.reset();
                    return Ok(());
                }
                Err(rtrb::PushError::Full(m)) => msg = m,
            }
        }
    }

    /// Pushes market state where only the newest value matters: when the ring is full the
    /// message is parked in a one-slot buffer, replacing (and counting) any older one there.
    /// Call [`RingTx::flush_pending`] when idle.
    #[inline]
    pub fn push_conflating(&mut self, msg: T) {
        if self.pending.is_some() {
            self.flush_pending();
        }
        if self.pending.is_none() {
            if let Err(rtrb::PushError::Full(m)) = self.producer.push(msg) {
                self.pending = Some(m);
            }
        } else {
            self.metrics.conflated.inc();
            self.pending = Some(msg);
        }
    }

    /// Tries to deliver the parked conflated message; true when nothing is left pending.
    #[inline]
    pub fn flush_pending(&mut self) -> bool {
        if let Some(m) = self.pending.take() {
            if let Err(rtrb::PushError::Full(m)) = self.producer.push(m) {
                self.pending = Some(m);
                return false;
            }
        }
        true
    }

    /// True when the consuming thread has dropped its end.
    pub fn is_abandoned(&self) -> bool {
        self.producer.is_abandoned()
    }

    /// The ring's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// How often (in pops) the consumer refreshes the depth gauge.
const DEPTH_SAMPLE_EVERY: u32 = 256;

/// Consuming end of a typed ring.
pub struct RingRx<T> {
    name: &'static str,
    consumer: rtrb::Consumer<T>,
    metrics: RingMetrics,
    pops: u32,
}

impl<T: Copy + Send> RingRx<T> {
    /// Takes the oldest message, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let msg = self.consumer.pop().ok()?;
        self.pops = self.pops.wrapping_add(1);
        if self.pops % DEPTH_SAMPLE_EVERY == 0 {
            self.metrics.depth.set(self.consumer.slots() as i64);
        }
        Some(msg)
    }

    /// True when nothing is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.consumer.is_empty()
    }

    /// True when the producing thread has dropped its end.
    pub fn is_abandoned(&self) -> bool {
        self.consumer.is_abandoned()
    }

    /// Refreshes the depth gauge now (for idle consumers).
    pub fn sample_depth(&self) {
        self.metrics.depth.set(self.consumer.slots() as i64);
    }

    /// The ring's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Header in front of every captured frame in a [`FrameTx`] byte ring.
const FRAME_HEADER: usize = 4 + 2 + 8;

/// Creates a byte ring of `capacity` bytes for raw captured frames.
pub fn frame_ring(name: &'static str, capacity: usize, metrics: RingMetrics) -> (FrameTx, FrameRx) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity);
    (
        FrameTx {
            producer,
            metrics: metrics.clone(),
        },
        FrameRx {
            name,
            consumer,
            metrics,
        },
    )
}

/// Producing end of the capture byte ring (feed thread).
pub struct FrameTx {
    producer: rtrb::Producer<u8>,
    metrics: RingMetrics,
}

impl FrameTx {
    /// Copies one frame in without waiting: capture must never slow the feed, so a frame
    /// that does not fit is dropped and counted in `conflated` (the journal shows the gap).
    #[inline]
    pub fn push_frame(&mut self, stream_tag: u16, recv_ns: u64, frame: &[u8]) -> bool {
        let total = FRAME_HEADER + frame.len();
        let Ok(len) = u32::try_from(frame.len()) else {
            self.metrics.conflated.inc();
            return false;
        };
        let Ok(mut chunk) = self.producer.write_chunk(total) else {
            self.metrics.conflated.inc();
            return false;
        };
        let mut header = [0u8; FRAME_HEADER];
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..6].copy_from_slice(&stream_tag.to_le_bytes());
        header[6..].copy_from_slice(&recv_ns.to_le_bytes());
        let (first, second) = chunk.as_mut_slices();
        // `total` slots were reserved for exactly `total` source bytes.
        for (slot, byte) in first
            .iter_mut()
            .chain(second.iter_mut())
            .zip(header.iter().chain(frame))
        {
            *slot = *byte;
        }
        chunk.commit_all();
        true
    }
}

/// Producing end of the strategy snapshot ring: each snapshot travels as one frame of
/// `[name length u8][component name][body]` (see [`split_snapshot`]).
pub struct SnapshotTx {
    tx: FrameTx,
    scratch: Vec<u8>,
}

impl SnapshotTx {
    /// Wraps a byte ring.
    pub fn new(tx: FrameTx) -> Self {
        Self {
            tx,
            scratch: Vec::with_capacity(64 * 1024),
        }
    }
}

impl super::stage::SnapshotSink for SnapshotTx {
    fn snapshot(&mut self, component: &str, body: &[u8]) -> bool {
        let Ok(name_len) = u8::try_from(component.len()) else {
            return true; // a name this long can never be journaled: do not offer it again
        };
        self.scratch.clear();
        self.scratch.push(name_len);
        self.scratch.extend_from_slice(component.as_bytes());
        self.scratch.extend_from_slice(body);
        self.tx.push_frame(0, 0, &self.scratch)
    }
}

/// Splits a snapshot frame into component name and body (None: malformed).
pub fn split_snapshot(frame: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = frame.split_first()?;
    let name = rest.get(..len as usize)?;
    let body = rest.get(len as usize..)?;
    Some((std::str::from_utf8(name).ok()?, body))
}

/// A frame taken out of the capture ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    pub stream_tag: u16,
    pub recv_ns: u64,
    pub len: usize,
}

/// Consuming end of the capture byte ring (persist thread).
pub struct FrameRx {
    name: &'static str,
    consumer: rtrb::Consumer<u8>,
    metrics: RingMetrics,
}

impl FrameRx {
    /// Moves the next whole frame into `scratch` (resized as needed; it keeps its capacity
    /// so the persist thread stops allocating once it has seen the largest frame).
    pub fn pop_frame(&mut self, scratch: &mut Vec<u8>) -> Option<FrameMeta> {
        let available = self.consumer.slots();
        if available < FRAME_HEADER {
            return None;
        }
        let mut header = [0u8; FRAME_HEADER];
        {
            let chunk = self.consumer.read_chunk(FRAME_HEADER).ok()?;
            let (a, b) = chunk.as_slices();
            header[..a.len()].copy_from_slice(a);
            header[a.len()..].copy_from_slice(b);
            // Not committed yet: the frame is taken whole or not at all.
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if available < FRAME_HEADER + len {
            return None;
        }
        let chunk = self.consumer.read_chunk(FRAME_HEADER + len).ok()?;
        let (a, b) = chunk.as_slices();
        scratch.clear();
        scratch.extend(a.iter().chain(b.iter()).skip(FRAME_HEADER).copied());
        chunk.commit_all();
        self.metrics.depth.set(self.consumer.slots() as i64);
        Some(FrameMeta {
            stream_tag: u16::from_le_bytes([header[4], header[5]]),
            recv_ns: u64::from_le_bytes([
                header[6], header[7], header[8], header[9], header[10], header[11], header[12],
                header[13],
            ]),
            len,
        })
    }

    /// True when no bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.consumer.is_empty()
    }

    /// True when the producer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.consumer.is_abandoned()
    }

    /// The ring's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wait::WaitStrategy;
    use crate::ops::{Counter, Gauge};

    fn metrics() -> RingMetrics {
        RingMetrics {
            depth: Gauge::new(),
            backpressure: Counter::new(),
            conflated: Counter::new(),
        }
    }

    #[test]
    fn full_ring_makes_the_producer_wait_counts_it_and_loses_nothing() {
        let m = metrics();
        let (mut tx, mut rx) = ring::<u64>("test", 4, m.clone());
        for i in 0..4 {
            tx.try_push(i).expect("room for the first four");
        }
        let waits = m.backpressure.clone();
        let consumer = std::thread::spawn(move || {
            // Drain only once the producer has found the ring full (else the race decides).
            while waits.get() == 0 {
                std::thread::yield_now();
            }
            let mut got = Vec::new();
            while got.len() < 6 {
                if let Some(v) = rx.pop() {
                    got.push(v);
                } else {
                    std::thread::yield_now();
                }
            }
            got
        });
        let never = AtomicBool::new(false);
        let mut backoff = Backoff::new(WaitStrategy::SpinYield);
        tx.push_wait(4, &mut backoff, &never)
            .expect("consumer drains");
        tx.push_wait(5, &mut backoff, &never)
            .expect("consumer drains");
        assert_eq!(
            consumer.join().expect("consumer thread"),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert!(
            m.backpressure.get() >= 1,
            "the wait on the full ring was counted"
        );
    }

    #[test]
    fn push_wait_gives_up_when_the_consumer_is_gone_or_the_run_failed() {
        let (mut tx, rx) = ring::<u64>("gone", 1, metrics());
        tx.try_push(1).expect("room");
        let abort = AtomicBool::new(true);
        let mut backoff = Backoff::new(WaitStrategy::Spin);
        assert_eq!(
            tx.push_wait(2, &mut backoff, &abort),
            Err(RingError::Stopped("gone"))
        );
        drop(rx);
        let never = AtomicBool::new(false);
        assert_eq!(
            tx.push_wait(3, &mut backoff, &never),
            Err(RingError::ConsumerGone("gone"))
        );
    }

    #[test]
    fn conflating_push_keeps_the_newest_value_and_counts_the_replaced_one() {
        let m = metrics();
        let (mut tx, mut rx) = ring::<u64>("md", 1, m.clone());
        tx.push_conflating(1);
        tx.push_conflating(2); // parked: ring full
        tx.push_conflating(3); // replaces 2
        assert_eq!(m.conflated.get(), 1);
        assert_eq!(rx.pop(), Some(1));
        assert!(tx.flush_pending());
        assert_eq!(rx.pop(), Some(3));
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn frames_cross_the_byte_ring_whole_including_wrap_around_and_oversize_is_counted() {
        let m = metrics();
        let (mut tx, mut rx) = frame_ring("capture", 64, m.clone());
        let mut scratch = Vec::new();
        for round in 0..10u8 {
            let frame = vec![round; 20 + round as usize % 7];
            assert!(tx.push_frame(round as u16, 1000 + round as u64, &frame));
            let meta = rx.pop_frame(&mut scratch).expect("a whole frame");
            assert_eq!(
                (meta.stream_tag, meta.recv_ns, meta.len),
                (round as u16, 1000 + round as u64, frame.len())
            );
            assert_eq!(scratch, frame);
        }
        assert!(
            !tx.push_frame(0, 0, &[0u8; 100]),
            "a frame larger than the ring is refused"
        );
        assert_eq!(m.conflated.get(), 1);
        assert!(rx.pop_frame(&mut scratch).is_none());
    }
}
