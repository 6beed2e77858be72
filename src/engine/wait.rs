//! Owns: how an idle hot thread waits for work (spin, spin-then-yield, park) and the choice
//! of a sharing mode when cores are scarce. Never: blocks on a lock or a channel.

use std::time::Duration;

/// How an idle thread waits for its input ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitStrategy {
    /// Busy-spin: lowest latency, needs a dedicated (ideally isolated) core per thread.
    Spin,
    /// Spin briefly, then `sched_yield`: for threads that share cores.
    SpinYield,
    /// Spin briefly, yield, then sleep in short, growing naps: lowest CPU use.
    Park,
    /// Decide at start-up from the cores available (see [`resolve_wait`]).
    Auto,
}

impl WaitStrategy {
    /// Lower-case name as in the config.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitStrategy::Spin => "spin",
            WaitStrategy::SpinYield => "spin_yield",
            WaitStrategy::Park => "park",
            WaitStrategy::Auto => "auto",
        }
    }
}

/// Spins before the first yield: a hand-off normally lands within a few hundred ns.
const SPIN_ROUNDS: u32 = 256;
/// Yields before a parking thread starts to nap.
const YIELD_ROUNDS: u32 = 64;
/// First and longest nap of a parked thread.
const NAP_MIN: Duration = Duration::from_micros(20);
const NAP_MAX: Duration = Duration::from_millis(1);

/// Per-thread idle state: call [`Backoff::idle`] when there was no work, [`Backoff::reset`]
/// when there was.
#[derive(Debug)]
pub struct Backoff {
    strategy: WaitStrategy,
    rounds: u32,
    nap: Duration,
}

impl Backoff {
    /// A backoff for a resolved strategy (`Auto` behaves as `SpinYield`).
    pub fn new(strategy: WaitStrategy) -> Self {
        Self {
            strategy,
            rounds: 0,
            nap: NAP_MIN,
        }
    }

    /// Work arrived: the next idle period starts with spinning again.
    #[inline]
    pub fn reset(&mut self) {
        self.rounds = 0;
        self.nap = NAP_MIN;
    }

    /// No work this round: wait a little according to the strategy.
    #[inline]
    pub fn idle(&mut self) {
        match self.strategy {
            WaitStrategy::Spin => std::hint::spin_loop(),
            WaitStrategy::SpinYield | WaitStrategy::Auto => {
                if self.rounds < SPIN_ROUNDS {
                    self.rounds += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            WaitStrategy::Park => {
                if self.rounds < SPIN_ROUNDS {
                    self.rounds += 1;
                    std::hint::spin_loop();
                } else if self.rounds < SPIN_ROUNDS + YIELD_ROUNDS {
                    self.rounds += 1;
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(self.nap);
                    self.nap = (self.nap * 2).min(NAP_MAX);
                }
            }
        }
    }
}

/// The concrete strategy for the hot threads: `Auto` becomes `Spin` when every hot thread
/// can have a core of its own with one left for the OS and the ops thread, otherwise
/// `SpinYield` (two spinners on one core hand off once per scheduler tick, ~4 ms here).
pub fn resolve_wait(
    requested: WaitStrategy,
    usable_cores: usize,
    hot_threads: usize,
) -> WaitStrategy {
    match requested {
        WaitStrategy::Auto if usable_cores > hot_threads => WaitStrategy::Spin,
        WaitStrategy::Auto => WaitStrategy::SpinYield,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_shares_cores_when_they_are_scarce() {
        assert_eq!(
            resolve_wait(WaitStrategy::Auto, 2, 4),
            WaitStrategy::SpinYield
        );
        assert_eq!(
            resolve_wait(WaitStrategy::Auto, 4, 4),
            WaitStrategy::SpinYield
        );
        assert_eq!(resolve_wait(WaitStrategy::Auto, 6, 4), WaitStrategy::Spin);
        assert_eq!(resolve_wait(WaitStrategy::Park, 64, 4), WaitStrategy::Park);
    }

    #[test]
    fn park_backoff_naps_grow_and_reset() {
        let mut b = Backoff::new(WaitStrategy::Park);
        for _ in 0..(SPIN_ROUNDS + YIELD_ROUNDS + 3) {
            b.idle();
        }
        assert!(b.nap > NAP_MIN);
        b.reset();
        assert_eq!(b.nap, NAP_MIN);
        assert_eq!(b.rounds, 0);
    }
}
