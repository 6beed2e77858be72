//! Owns: the engine's notion of "now" for latency stamps. Never: used inside state machines
//! (they take timestamps as arguments so backtests are deterministic).

use std::sync::OnceLock;
use std::time::Instant;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the first call in this process (CLOCK_MONOTONIC underneath).
///
/// Only runners and gateways call this; components receive the value as an argument.
#[inline]
pub fn mono_ns() -> u64 {
    let origin = *ORIGIN.get_or_init(Instant::now);
    origin.elapsed().as_nanos() as u64
}

/// Wall-clock milliseconds since the Unix epoch, for venue timestamps and journal records.
#[inline]
pub fn wall_ms() -> u64 {
    wall_ns() / 1_000_000
}

/// Wall-clock nanoseconds since the Unix epoch.
#[inline]
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_clock_never_goes_back() {
        let mut last = mono_ns();
        for _ in 0..10_000 {
            let now = mono_ns();
            assert!(now >= last);
            last = now;
        }
    }
}
