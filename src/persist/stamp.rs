//! Owns: the writer's `write_ns` stamp: wall-clock nanoseconds since the Unix epoch,
//! extrapolated from the CPU's invariant TSC between re-anchorings that `maintain()` does, so
//! a stamp costs one `rdtsc` (≈ 17 ns on the dev VM) instead of a `clock_gettime` (≈ 35 ns).
//! Never: used where the kernel's clocksource is not the TSC (then every stamp is a real
//! `clock_gettime`), or relied on for ordering (the sequence number orders records; a stamp
//! may step back by the extrapolation error, sub-microsecond, at a re-anchoring).

use crate::core::clock::wall_ns;

/// Fixed-point shift of the ns-per-tick multiplier.
const SHIFT: u32 = 32;
/// Shortest window over which the ns-per-tick rate is measured (at open: spin this long).
const CALIBRATION_NS: u64 = 2_000_000;
/// The rate is re-measured once the window since the last rate sample reaches this.
const RECALIBRATION_NS: u64 = 1_000_000_000;

/// A `(tsc, wall_ns)` pair read back to back.
#[derive(Clone, Copy, Debug)]
struct Sample {
    tsc: u64,
    wall: u64,
}

/// Wall-clock stamps for journal records.
#[derive(Debug)]
pub(crate) struct WallStamp {
    /// `None`: no usable TSC, every stamp reads the clock.
    tsc: Option<TscState>,
}

#[derive(Debug)]
struct TscState {
    anchor: Sample,
    rate_from: Sample,
    /// ns per tick << SHIFT.
    mult: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn read_tsc() -> u64 {
    // SAFETY: rdtsc has no memory effects; it exists on every x86_64 CPU. It is only used
    // when the kernel itself uses the TSC as its clocksource (checked in `WallStamp::new`),
    // i.e. the TSC is invariant and synchronised across cores.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn read_tsc() -> u64 {
    0
}

fn kernel_uses_tsc() -> bool {
    cfg!(target_arch = "x86_64")
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc")
}

fn sample() -> Sample {
    let before = read_tsc();
    let wall = wall_ns();
    let after = read_tsc();
    Sample {
        tsc: before + (after.wrapping_sub(before) / 2),
        wall,
    }
}

/// ns-per-tick multiplier measured between two samples; `None` when the window is unusable.
fn rate(from: Sample, to: Sample) -> Option<u64> {
    let ticks = to.tsc.checked_sub(from.tsc).filter(|&t| t > 0)?;
    let ns = to.wall.checked_sub(from.wall).filter(|&n| n > 0)?;
    let mult = ((ns as u128) << SHIFT) / ticks as u128;
    u64::try_from(mult).ok().filter(|&m| m > 0)
}

impl WallStamp {
    /// Calibrates against the wall clock (spins ≈ 2 ms when the TSC is usable).
    pub(crate) fn new() -> Self {
        if !kernel_uses_tsc() {
            return Self { tsc: None };
        }
        let from = sample();
        let mut to = sample();
        while to.wall.saturating_sub(from.wall) < CALIBRATION_NS {
            std::hint::spin_loop();
            to = sample();
        }
        let tsc = rate(from, to).map(|mult| TscState {
            anchor: to,
            rate_from: from,
            mult,
        });
        Self { tsc }
    }

    /// A stamp that always reads the clock (tests, non-TSC machines).
    #[cfg(test)]
    pub(crate) fn system() -> Self {
        Self { tsc: None }
    }

    /// Wall-clock nanoseconds now.
    #[inline(always)]
    pub(crate) fn now(&self) -> u64 {
        match &self.tsc {
            Some(t) => {
                // Saturating: a read on another core may trail the anchor by a few ticks.
                let ticks = read_tsc().saturating_sub(t.anchor.tsc);
                t.anchor.wall + ((ticks as u128 * t.mult as u128) >> SHIFT) as u64
            }
            None => wall_ns(),
        }
    }

    /// Re-anchors on the real clock (removing accumulated extrapolation error) and, about
    /// once a second, re-measures the tick rate. Called from `maintain()`.
    pub(crate) fn reanchor(&mut self) {
        let Some(t) = self.tsc.as_mut() else {
            return;
        };
        let now = sample();
        if now.tsc < t.anchor.tsc || now.wall < t.anchor.wall {
            // The wall clock stepped back (or the TSC misbehaved): start over from here.
            t.rate_from = now;
        } else if now.wall - t.rate_from.wall >= RECALIBRATION_NS {
            if let Some(mult) = rate(t.rate_from, now) {
                t.mult = mult;
            }
            t.rate_from = now;
        }
        t.anchor = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_track_the_wall_clock_within_a_few_microseconds() {
        let mut stamp = WallStamp::new();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(3));
            let before = wall_ns();
            let s = stamp.now();
            let after = wall_ns();
            // Loose bound: a shared 2-core VM can be descheduled between the three reads.
            assert!(
                s + 2_000_000 >= before && s <= after + 2_000_000,
                "stamp {s} outside [{before}, {after}] ± 2 ms"
            );
            stamp.reanchor();
        }
        let plain = WallStamp::system();
        let before = wall_ns();
        assert!(plain.now() >= before);
    }
}
