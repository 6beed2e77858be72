//! Owns: the offset between the local clock and Binance's, from `/time` replies and order
//! acknowledgements, and the -1021 "resync, then retry once" decision. Never: reads the
//! clock or sends anything: every time is passed in (local ms), every sample handed over.
//!
//! Binance accepts a signed request when `timestamp < serverTime + 1000` and
//! `serverTime − timestamp ≤ recvWindow` (protocols.md §1.2). A sample's offset is the
//! venue time minus the midpoint of the round trip; the sample with the shortest round trip
//! among the recent ones is the most precise and is the one used.

/// Samples kept; the shortest round trip among them sets the offset.
const SAMPLES: usize = 8;

/// One offset observation.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Sample {
    offset_ms: i64,
    round_trip_ms: u64,
}

/// What to do after a -1021 (timestamp outside the receive window).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimestampDecision {
    /// Fetch `/time`, then rebuild and resend the request once with a fresh timestamp.
    ResyncThenRetry,
    /// The retry failed too: report the request as rejected (`RejectKind::Timestamp`).
    Reject,
}

/// Venue clock tracking for one Binance host.
#[derive(Clone, Debug)]
pub struct ServerClock {
    samples: [Sample; SAMPLES],
    count: usize,
    next: usize,
    offset_ms: i64,
    last_sync_local_ms: Option<u64>,
    resync_interval_ms: u64,
    stale: bool,
}

impl ServerClock {
    /// A clock that asks for a resync every `resync_interval_ms` (and before first use).
    pub fn new(resync_interval_ms: u64) -> Self {
        Self {
            samples: [Sample::default(); SAMPLES],
            count: 0,
            next: 0,
            offset_ms: 0,
            last_sync_local_ms: None,
            resync_interval_ms,
            stale: true,
        }
    }

    /// A `/time` reply (or any reply stamped by the venue while handling the request):
    /// `server_time_ms` observed between `sent_local_ms` and `received_local_ms`.
    pub fn on_server_time(
        &mut self,
        sent_local_ms: u64,
        received_local_ms: u64,
        server_time_ms: u64,
    ) {
        let round_trip_ms = received_local_ms.saturating_sub(sent_local_ms);
        let midpoint_ms = sent_local_ms.saturating_add(round_trip_ms / 2);
        let offset_ms = (server_time_ms as i128 - midpoint_ms as i128)
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        if self.stale {
            // After a -1021 or on first sync, older samples may be what went wrong.
            self.count = 0;
            self.next = 0;
        }
        self.samples[self.next] = Sample {
            offset_ms,
            round_trip_ms,
        };
        self.next = (self.next + 1) % SAMPLES;
        self.count = (self.count + 1).min(SAMPLES);
        let best = self.samples[..self.count]
            .iter()
            .min_by_key(|sample| sample.round_trip_ms)
            .copied()
            .unwrap_or_default();
        self.offset_ms = best.offset_ms;
        self.last_sync_local_ms = Some(received_local_ms);
        self.stale = false;
    }

    /// Venue time minus local time, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// True once at least one sample arrived and no -1021 has invalidated it.
    pub fn is_synced(&self) -> bool {
        !self.stale
    }

    /// The `timestamp` to sign a request with at local time `local_now_ms`.
    pub fn timestamp_ms(&self, local_now_ms: u64) -> u64 {
        let venue = local_now_ms as i128 + self.offset_ms as i128;
        venue.clamp(0, u64::MAX as i128) as u64
    }

    /// True when `/time` should be fetched now (never synced, stale after -1021, or due).
    pub fn needs_resync(&self, local_now_ms: u64) -> bool {
        match self.last_sync_local_ms {
            None => true,
            Some(_) if self.stale => true,
            Some(last) => local_now_ms.saturating_sub(last) >= self.resync_interval_ms,
        }
    }

    /// The venue answered -1021 to a request; `already_retried` says whether that request
    /// was itself the retry. Marks the clock stale so the next check asks for a resync.
    pub fn on_timestamp_rejected(&mut self, already_retried: bool) -> TimestampDecision {
        self.stale = true;
        if already_retried {
            TimestampDecision::Reject
        } else {
            TimestampDecision::ResyncThenRetry
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_comes_from_the_shortest_round_trip() {
        let mut clock = ServerClock::new(60_000);
        assert!(clock.needs_resync(0) && !clock.is_synced());
        // Venue 250 ms ahead; a slow sample (400 ms round trip, asymmetric) says 350.
        clock.on_server_time(1_000, 1_400, 1_550);
        assert_eq!(clock.offset_ms(), 350);
        clock.on_server_time(2_000, 2_010, 2_255);
        assert_eq!(clock.offset_ms(), 250);
        clock.on_server_time(3_000, 3_300, 3_500);
        assert_eq!(clock.offset_ms(), 250, "the 10 ms sample still wins");
        assert_eq!(clock.timestamp_ms(10_000), 10_250);
        assert!(!clock.needs_resync(3_300 + 59_999));
        assert!(clock.needs_resync(3_300 + 60_000));
    }

    #[test]
    fn venue_behind_gives_a_negative_offset_and_no_underflow() {
        let mut clock = ServerClock::new(60_000);
        clock.on_server_time(5_000, 5_002, 4_001);
        assert_eq!(clock.offset_ms(), -1_000);
        assert_eq!(clock.timestamp_ms(500), 0);
    }

    #[test]
    fn timestamp_rejection_resyncs_and_retries_exactly_once() {
        let mut clock = ServerClock::new(60_000);
        clock.on_server_time(1_000, 1_002, 1_001);
        assert!(!clock.needs_resync(1_003));
        assert_eq!(
            clock.on_timestamp_rejected(false),
            TimestampDecision::ResyncThenRetry
        );
        assert!(clock.needs_resync(1_003), "stale until a new sample");
        // After the stale mark, old samples are dropped: the new (slower) one sets the offset.
        clock.on_server_time(2_000, 2_100, 3_050);
        assert_eq!(clock.offset_ms(), 1_000);
        assert!(clock.is_synced());
        assert_eq!(clock.on_timestamp_rejected(true), TimestampDecision::Reject);
    }
}
