//! Owns: fixed-capacity sliding time windows — event stamps for the order and cancel rate
//! rails, outcomes (ok / error) for the venue error-rate breaker. Never: allocates after
//! construction; a window holds at most [`MAX_EVENTS`] entries and forgets the oldest.

use std::collections::VecDeque;

/// Most events one window holds.
pub const MAX_EVENTS: usize = 4096;

/// Stamps of recent events, oldest first.
#[derive(Debug, Clone)]
pub struct RateWindow {
    stamps: VecDeque<u64>,
}

impl Default for RateWindow {
    fn default() -> Self {
        Self {
            stamps: VecDeque::with_capacity(MAX_EVENTS),
        }
    }
}

impl RateWindow {
    /// Events in the `window_ns` before `now_ns` (older ones are forgotten).
    #[inline]
    pub fn count(&mut self, now_ns: u64, window_ns: u64) -> usize {
        let start = now_ns.saturating_sub(window_ns);
        while self
            .stamps
            .front()
            .is_some_and(|&t| t <= start && now_ns >= window_ns)
        {
            self.stamps.pop_front();
        }
        self.stamps.len()
    }

    /// Records an event at `now_ns`.
    #[inline]
    pub fn record(&mut self, now_ns: u64) {
        if self.stamps.len() == MAX_EVENTS {
            self.stamps.pop_front();
        }
        self.stamps.push_back(now_ns);
    }
}

/// Outcomes (error or not) of recent venue interactions, oldest first.
#[derive(Debug, Clone)]
pub struct OutcomeWindow {
    outcomes: VecDeque<(u64, bool)>,
    errors: usize,
}

impl Default for OutcomeWindow {
    fn default() -> Self {
        Self {
            outcomes: VecDeque::with_capacity(MAX_EVENTS),
            errors: 0,
        }
    }
}

impl OutcomeWindow {
    /// Records an outcome at `now_ns`.
    pub fn record(&mut self, now_ns: u64, error: bool) {
        if self.outcomes.len() == MAX_EVENTS {
            self.pop_oldest();
        }
        self.outcomes.push_back((now_ns, error));
        self.errors += usize::from(error);
    }

    /// (outcomes, errors) in the `window_ns` before `now_ns`.
    pub fn counts(&mut self, now_ns: u64, window_ns: u64) -> (usize, usize) {
        let start = now_ns.saturating_sub(window_ns);
        while self
            .outcomes
            .front()
            .is_some_and(|&(t, _)| t <= start && now_ns >= window_ns)
        {
            self.pop_oldest();
        }
        (self.outcomes.len(), self.errors)
    }

    fn pop_oldest(&mut self) {
        if let Some((_, error)) = self.outcomes.pop_front() {
            self.errors -= usize::from(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn rate_window_forgets_what_left_the_window() {
        let mut w = RateWindow::default();
        for t in [10, 20, 30] {
            w.record(t * MS);
        }
        assert_eq!(w.count(30 * MS, 100 * MS), 3);
        assert_eq!(w.count(115 * MS, 100 * MS), 2, "the event at 10 ms left");
        assert_eq!(w.count(200 * MS, 100 * MS), 0);
    }

    #[test]
    fn outcome_window_counts_errors_of_the_window_only() {
        let mut w = OutcomeWindow::default();
        w.record(MS, true);
        w.record(2 * MS, false);
        w.record(3 * MS, true);
        assert_eq!(w.counts(3 * MS, 10 * MS), (3, 2));
        assert_eq!(w.counts(11 * MS + 1, 10 * MS), (2, 1));
        for i in 0..MAX_EVENTS as u64 + 10 {
            w.record(20 * MS + i, false);
        }
        assert_eq!(w.counts(20 * MS + 5_000, 10 * MS), (MAX_EVENTS, 0));
    }
}
