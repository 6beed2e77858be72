//! Owns: the fault switches the control handle flips and the replay, listeners and
//! connections read: market-side (drops, gaps, stalls, malformed and split frames) and
//! order-side (429/418 throttling, -1021, slow, lost and connection-dropping acks, forced
//! partial fills, duplicated and reordered user-data events). Never: acts on sockets
//! itself; each thread applies what it reads.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::FaultPlan;

/// Fault switches shared by every thread of one simulator.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Bumped by `drop_connections`; a connection opened under an older value closes.
    drop_generation: AtomicU64,
    skip_ranges: Mutex<Vec<RangeInclusive<u64>>>,
    stall_until: Mutex<Option<Instant>>,
    malformed_pending: AtomicU64,
    split_pending: AtomicU64,
    refuse: AtomicBool,
    throttle: Mutex<Throttle>,
    timestamp_rejects: AtomicU64,
    ack_delay_ms: AtomicU64,
    lost_acks: AtomicU64,
    partial_fills: AtomicU64,
    duplicate_events: AtomicU64,
    reorder_events: AtomicU64,
    dropped_order_connections: AtomicU64,
}

/// The 429 → 418 switch: the next `pending` requests get 429; a request sent before the
/// last 429's Retry-After ran out earns a ban.
#[derive(Debug, Default)]
struct Throttle {
    pending: u64,
    retry_after_ms: u64,
    ban_ms: u64,
    /// Wall ms until which the client was told to wait.
    backoff_until_ms: u64,
    /// Wall ms until which the client is banned.
    banned_until_ms: u64,
}

/// A request refused by the throttle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// 429 or 418.
    pub status: u16,
    /// Wall ms from which requests are served again.
    pub until_ms: u64,
}

/// Takes one from `counter` if it is positive.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

impl Faults {
    /// Switches set from the start by the config.
    pub fn from_plan(plan: &FaultPlan) -> Self {
        let faults = Self::default();
        for [first, last] in &plan.skip_update_ids {
            faults.skip_update_ids(*first..=*last);
        }
        faults.send_malformed(plan.malformed_frames);
        faults.split_next_frames(plan.split_frames);
        faults.refuse_connections(plan.refuse_connections);
        faults.throttle(
            plan.rate_limit_requests,
            Duration::from_secs(plan.retry_after_secs),
            Duration::from_secs(plan.ban_secs),
        );
        faults.reject_timestamps(plan.timestamp_rejects);
        faults.delay_acks(Duration::from_millis(plan.ack_delay_ms));
        faults.lose_acks(plan.lose_acks);
        faults.force_partial_fills(plan.partial_fill_orders);
        faults.duplicate_events(plan.duplicate_events);
        faults.reorder_events(plan.reorder_events);
        faults.drop_order_connections(plan.drop_order_connections);
        faults
    }

    /// Asks every open connection to close at once.
    pub fn drop_connections(&self) {
        self.drop_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current drop generation; a connection remembers the one it opened under.
    pub fn drop_generation(&self) -> u64 {
        self.drop_generation.load(Ordering::Acquire)
    }

    /// Adds a range of update ids whose depth diffs are not sent.
    pub fn skip_update_ids(&self, range: RangeInclusive<u64>) {
        if let Ok(mut ranges) = self.skip_ranges.lock() {
            ranges.push(range);
        }
    }

    /// Whether a depth diff covering `first..=last` falls in a skipped range.
    pub fn skips(&self, first: u64, last: u64) -> bool {
        self.skip_ranges.lock().is_ok_and(|ranges| {
            ranges
                .iter()
                .any(|r| first <= *r.end() && *r.start() <= last)
        })
    }

    /// Holds the replay until `duration` from now.
    pub fn stall(&self, duration: Duration) {
        if let Ok(mut until) = self.stall_until.lock() {
            *until = Some(Instant::now() + duration);
        }
    }

    /// The end of the current stall, if one is running.
    pub fn stalled_until(&self) -> Option<Instant> {
        let until = (*self.stall_until.lock().ok()?)?;
        (until > Instant::now()).then_some(until)
    }

    /// Adds `frames` frames to send truncated.
    pub fn send_malformed(&self, frames: u64) {
        self.malformed_pending.fetch_add(frames, Ordering::AcqRel);
    }

    /// Whether the next sent frame must be malformed (consumes one).
    pub fn take_malformed(&self) -> bool {
        take_one(&self.malformed_pending)
    }

    /// Adds `frames` frames to write in two TCP writes.
    pub fn split_next_frames(&self, frames: u64) {
        self.split_pending.fetch_add(frames, Ordering::AcqRel);
    }

    /// Whether the next written frame must be split (consumes one).
    pub fn take_split(&self) -> bool {
        take_one(&self.split_pending)
    }

    /// Switches accept-and-close on or off.
    pub fn refuse_connections(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::Release);
    }

    /// Whether new connections are closed at once.
    pub fn refusing(&self) -> bool {
        self.refuse.load(Ordering::Acquire)
    }

    /// Answers the next `requests` requests with 429 and `retry_after`; a client that
    /// sends again sooner is banned (418) for `ban`.
    pub fn throttle(&self, requests: u64, retry_after: Duration, ban: Duration) {
        if let Ok(mut throttle) = self.throttle.lock() {
            throttle.pending += requests;
            throttle.retry_after_ms = retry_after.as_millis() as u64;
            throttle.ban_ms = ban.as_millis() as u64;
        }
    }

    /// Whether a request arriving at wall `now_ms` is refused, and how.
    pub fn admit(&self, now_ms: u64) -> Option<Throttled> {
        let mut t = self.throttle.lock().ok()?;
        if now_ms < t.banned_until_ms {
            return Some(Throttled {
                status: 418,
                until_ms: t.banned_until_ms,
            });
        }
        if now_ms < t.backoff_until_ms {
            t.banned_until_ms = now_ms + t.ban_ms;
            t.backoff_until_ms = 0;
            t.pending = 0;
            return Some(Throttled {
                status: 418,
                until_ms: t.banned_until_ms,
            });
        }
        if t.pending > 0 {
            t.pending -= 1;
            t.backoff_until_ms = now_ms + t.retry_after_ms;
            return Some(Throttled {
                status: 429,
                until_ms: t.backoff_until_ms,
            });
        }
        None
    }

    /// Rejects the next `requests` signed requests with -1021.
    pub fn reject_timestamps(&self, requests: u64) {
        self.timestamp_rejects.fetch_add(requests, Ordering::AcqRel);
    }

    /// Whether this signed request must get -1021 (consumes one).
    pub fn take_timestamp_reject(&self) -> bool {
        take_one(&self.timestamp_rejects)
    }

    /// Holds every order acknowledgement `delay` after processing (zero: off).
    pub fn delay_acks(&self, delay: Duration) {
        self.ack_delay_ms
            .store(delay.as_millis() as u64, Ordering::Release);
    }

    /// The current acknowledgement delay.
    pub fn ack_delay(&self) -> Duration {
        Duration::from_millis(self.ack_delay_ms.load(Ordering::Acquire))
    }

    /// Processes the next `orders` orders without answering them.
    pub fn lose_acks(&self, orders: u64) {
        self.lost_acks.fetch_add(orders, Ordering::AcqRel);
    }

    /// Whether this order's acknowledgement is lost (consumes one).
    pub fn take_lost_ack(&self) -> bool {
        take_one(&self.lost_acks)
    }

    /// Fills the next `orders` orders at most half of what is left per match.
    pub fn force_partial_fills(&self, orders: u64) {
        self.partial_fills.fetch_add(orders, Ordering::AcqRel);
    }

    /// Whether this order fills partially (consumes one).
    pub fn take_partial_fill(&self) -> bool {
        take_one(&self.partial_fills)
    }

    /// Sends the next `events` user-data events twice.
    pub fn duplicate_events(&self, events: u64) {
        self.duplicate_events.fetch_add(events, Ordering::AcqRel);
    }

    /// Whether this event goes out twice (consumes one).
    pub fn take_duplicate_event(&self) -> bool {
        take_one(&self.duplicate_events)
    }

    /// Delivers each of the next `events` user-data events after the one that follows it.
    pub fn reorder_events(&self, events: u64) {
        self.reorder_events.fetch_add(events, Ordering::AcqRel);
    }

    /// Whether this event is held back behind the next (consumes one).
    pub fn take_reorder_event(&self) -> bool {
        take_one(&self.reorder_events)
    }

    /// Closes the connection right after each of the next `orders` orders is processed.
    pub fn drop_order_connections(&self, orders: u64) {
        self.dropped_order_connections
            .fetch_add(orders, Ordering::AcqRel);
    }

    /// Whether this order's connection is dropped (consumes one).
    pub fn take_order_connection_drop(&self) -> bool {
        take_one(&self.dropped_order_connections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_waits_out_each_429_is_never_banned_and_one_that_does_not_is() {
        let patient = Faults::default();
        patient.throttle(
            2,
            Duration::from_millis(1_000),
            Duration::from_millis(60_000),
        );
        assert_eq!(
            patient.admit(10).map(|t| (t.status, t.until_ms)),
            Some((429, 1_010))
        );
        assert_eq!(patient.admit(1_010).map(|t| t.status), Some(429));
        assert_eq!(patient.admit(2_010), None);
        let eager = Faults::default();
        eager.throttle(
            3,
            Duration::from_millis(1_000),
            Duration::from_millis(60_000),
        );
        assert_eq!(eager.admit(10).map(|t| t.status), Some(429));
        assert_eq!(
            eager.admit(500).map(|t| (t.status, t.until_ms)),
            Some((418, 60_500))
        );
        assert_eq!(eager.admit(59_000).map(|t| t.status), Some(418));
        assert_eq!(
            eager.admit(60_500),
            None,
            "the ban ends and pending 429s are forgiven"
        );
    }

    #[test]
    fn counted_faults_are_consumed_one_request_at_a_time() {
        let faults = Faults::from_plan(&FaultPlan {
            lose_acks: 1,
            timestamp_rejects: 2,
            ..FaultPlan::default()
        });
        assert!(faults.take_lost_ack() && !faults.take_lost_ack());
        assert!(faults.take_timestamp_reject() && faults.take_timestamp_reject());
        assert!(!faults.take_timestamp_reject());
        assert_eq!(faults.ack_delay(), Duration::ZERO);
    }
}
