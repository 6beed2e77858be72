//! Owns: rate limiting of log lines about bad input, so a flood of bad frames costs a
//! counter bump each and one line per interval. Never: formats or writes anything itself,
//! reads the clock (time is passed in) or allocates.

/// Lets one log line through per `interval_ns` and counts what it held back.
#[derive(Debug, Clone)]
pub struct LogThrottle {
    interval_ns: u64,
    next_ns: u64,
    held_back: u64,
}

impl LogThrottle {
    /// A throttle that allows one line every `interval_ns` (the first one at once).
    pub const fn new(interval_ns: u64) -> Self {
        Self {
            interval_ns,
            next_ns: 0,
            held_back: 0,
        }
    }

    /// Records one occurrence at `now_ns`. `Some(n)` means: log it now, mentioning the `n`
    /// occurrences held back since the last line; `None` means: stay quiet.
    #[inline]
    pub fn allow(&mut self, now_ns: u64) -> Option<u64> {
        if now_ns < self.next_ns {
            self.held_back += 1;
            return None;
        }
        self.next_ns = now_ns.saturating_add(self.interval_ns);
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let mut t = LogThrottle::new(1_000);
        assert_eq!(t.allow(5), Some(0));
        assert_eq!(t.allow(6), None);
        assert_eq!(t.allow(1_004), None);
        assert_eq!(t.allow(1_005), Some(2));
        assert_eq!(t.allow(2_004), None);
        assert_eq!(t.allow(9_000), Some(1));
    }
}
