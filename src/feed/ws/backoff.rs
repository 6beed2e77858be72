//! Owns: the reconnect delay policy (exponential growth, full jitter, reset after a stable
//! connection), its seeded RNG and the per-IP connection-attempt budget. Never: reads a clock,
//! sleeps or touches a socket; every input time is an argument.

use std::collections::VecDeque;

/// A small seeded RNG (SplitMix64): deterministic, fast, good enough for jitter.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// An RNG whose sequence is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, bound]` (inclusive); `bound == u64::MAX` covers every value.
    pub fn below_inclusive(&mut self, bound: u64) -> u64 {
        match bound.checked_add(1) {
            // Multiply-shift maps 64 random bits onto the range without a modulo bias worth
            // caring about for jitter.
            Some(span) => ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64,
            None => self.next_u64(),
        }
    }
}

/// Reconnect delays: `random in [0, min(cap, base·2^attempt)]`, attempt reset once a connection
/// has stayed up for `reset_after_stable_ns`.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    base_ns: u64,
    cap_ns: u64,
    reset_after_stable_ns: u64,
    attempt: u32,
    rng: SplitMix64,
}

impl ReconnectBackoff {
    /// A policy with the given base, cap and stability period (all ns) and jitter seed.
    pub fn new(base_ns: u64, cap_ns: u64, reset_after_stable_ns: u64, seed: u64) -> Self {
        Self {
            base_ns,
            cap_ns: cap_ns.max(base_ns),
            reset_after_stable_ns,
            attempt: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// Failed attempts since the last reset (the exponent of the next ceiling).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Largest delay the next call to `next_delay_ns` can return.
    pub fn ceiling_ns(&self) -> u64 {
        Self::ceiling_for(self.base_ns, self.cap_ns, self.attempt)
    }

    /// `min(cap, base·2^attempt)` without overflow.
    pub fn ceiling_for(base_ns: u64, cap_ns: u64, attempt: u32) -> u64 {
        let grown = if attempt >= 63 {
            u64::MAX
        } else {
            base_ns.saturating_mul(1u64 << attempt)
        };
        grown.min(cap_ns)
    }

    /// Draws the delay before the next attempt and counts the attempt.
    pub fn next_delay_ns(&mut self) -> u64 {
        let delay = self.rng.below_inclusive(self.ceiling_ns());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Resets the exponent when a connection opened at `opened_ns` has been up long enough.
    /// Returns true when it reset.
    pub fn on_stable(&mut self, opened_ns: u64, now_ns: u64) -> bool {
        if self.attempt > 0 && now_ns.saturating_sub(opened_ns) >= self.reset_after_stable_ns {
            self.attempt = 0;
            return true;
        }
        false
    }
}

/// A sliding-window budget of connection attempts (Binance: 300 per 5 min per IP).
#[derive(Debug, Clone)]
pub struct AttemptBudget {
    window_ns: u64,
    max_attempts: usize,
    recent_ns: VecDeque<u64>,
}

impl AttemptBudget {
    /// A budget of `max_attempts` within any `window_ns`.
    pub fn new(max_attempts: usize, window_ns: u64) -> Self {
        Self {
            window_ns,
            max_attempts: max_attempts.max(1),
            recent_ns: VecDeque::with_capacity(max_attempts.max(1)),
        }
    }

    /// Earliest time at or after `now_ns` at which an attempt fits the budget.
    pub fn earliest_ns(&mut self, now_ns: u64) -> u64 {
        while let Some(&oldest) = self.recent_ns.front() {
            if now_ns.saturating_sub(oldest) >= self.window_ns {
                self.recent_ns.pop_front();
            } else {
                break;
            }
        }
        match self.recent_ns.front() {
            Some(&oldest) if self.recent_ns.len() >= self.max_attempts => {
                oldest.saturating_add(self.window_ns)
            }
            _ => now_ns,
        }
    }

    /// Records an attempt made at `now_ns`.
    pub fn record(&mut self, now_ns: u64) {
        if self.recent_ns.len() >= self.max_attempts {
            self.recent_ns.pop_front();
        }
        self.recent_ns.push_back(now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn delays_stay_within_the_growing_ceiling_and_the_cap() {
        let mut b = ReconnectBackoff::new(100 * MS, 3_000 * MS, 10_000 * MS, 7);
        for attempt in 0..40u32 {
            let ceiling = ReconnectBackoff::ceiling_for(100 * MS, 3_000 * MS, attempt);
            assert_eq!(b.ceiling_ns(), ceiling);
            let d = b.next_delay_ns();
            assert!(d <= ceiling, "attempt {attempt}: {d} > {ceiling}");
            assert!(ceiling <= 3_000 * MS);
        }
        assert_eq!(b.ceiling_ns(), 3_000 * MS);
    }

    #[test]
    fn ceiling_doubles_until_the_cap() {
        let c: Vec<u64> = (0..7)
            .map(|a| ReconnectBackoff::ceiling_for(100, 1_000, a))
            .collect();
        assert_eq!(c, vec![100, 200, 400, 800, 1_000, 1_000, 1_000]);
        assert_eq!(
            ReconnectBackoff::ceiling_for(u64::MAX / 2, u64::MAX, 70),
            u64::MAX
        );
    }

    #[test]
    fn full_jitter_covers_the_whole_range() {
        // Many draws at a fixed ceiling: mean near half the ceiling, both ends reached closely.
        let mut rng = SplitMix64::new(42);
        let n = 20_000u64;
        let (mut sum, mut lo, mut hi) = (0u128, u64::MAX, 0u64);
        for _ in 0..n {
            let v = rng.below_inclusive(1_000);
            assert!(v <= 1_000);
            sum += u128::from(v);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let mean = (sum / u128::from(n)) as u64;
        assert!((450..=550).contains(&mean), "mean {mean}");
        assert!(lo <= 5 && hi >= 995, "range {lo}..{hi}");
    }

    #[test]
    fn same_seed_same_delays() {
        let mut a = ReconnectBackoff::new(10, 10_000, 1, 99);
        let mut b = ReconnectBackoff::new(10, 10_000, 1, 99);
        for _ in 0..20 {
            assert_eq!(a.next_delay_ns(), b.next_delay_ns());
        }
    }

    #[test]
    fn resets_only_after_the_connection_was_stable() {
        let mut b = ReconnectBackoff::new(100, 10_000, 5_000, 1);
        for _ in 0..5 {
            b.next_delay_ns();
        }
        assert_eq!(b.attempt(), 5);
        // Connected at t=1000 but dropped soon after: no reset (the seed's connect-then-drop bug).
        assert!(!b.on_stable(1_000, 1_500));
        assert_eq!(b.attempt(), 5);
        assert_eq!(b.ceiling_ns(), 3_200);
        assert!(b.on_stable(1_000, 6_000));
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.ceiling_ns(), 100);
    }

    #[test]
    fn attempt_budget_defers_past_the_window() {
        let mut budget = AttemptBudget::new(3, 1_000);
        for t in [0, 10, 20] {
            assert_eq!(budget.earliest_ns(t), t);
            budget.record(t);
        }
        assert_eq!(budget.earliest_ns(30), 1_000);
        assert_eq!(budget.earliest_ns(1_005), 1_005);
    }
}
