//! Owns: the breakers — equity floor, drawdown from the all-time and the day's high-water
//! mark, venue error rate over a window, consecutive order failures, market-data staleness
//! and tick-to-order p99 over the last orders — each a measured value against its limit.
//! Never: acts on a trip itself (the health state decides), trips on figures it cannot trust
//! (an incomplete equity, before the venue was reconciled: the seed's D-08 blocked accounts
//! whose fetch failed), or allocates after construction.

use crate::core::Notional;

use super::codes;
use super::config::{RiskLimits, MAX_LATENCY_WINDOW};
use super::window::OutcomeWindow;
use super::HealthLevel;

/// Breakers the engine runs.
pub const BREAKER_COUNT: usize = 7;

/// Which breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Breaker {
    EquityFloor = 0,
    DrawdownTotal = 1,
    DrawdownDaily = 2,
    VenueErrorRate = 3,
    ConsecutiveFailures = 4,
    MarketDataStale = 5,
    Latency = 6,
}

impl Breaker {
    /// Every breaker, in index order.
    pub const ALL: [Breaker; BREAKER_COUNT] = [
        Breaker::EquityFloor,
        Breaker::DrawdownTotal,
        Breaker::DrawdownDaily,
        Breaker::VenueErrorRate,
        Breaker::ConsecutiveFailures,
        Breaker::MarketDataStale,
        Breaker::Latency,
    ];

    /// Its cause code (`codes::CAUSE_*`).
    pub const fn cause(self) -> u16 {
        match self {
            Breaker::EquityFloor => codes::CAUSE_EQUITY_FLOOR,
            Breaker::DrawdownTotal => codes::CAUSE_DRAWDOWN_TOTAL,
            Breaker::DrawdownDaily => codes::CAUSE_DRAWDOWN_DAILY,
            Breaker::VenueErrorRate => codes::CAUSE_VENUE_ERROR_RATE,
            Breaker::ConsecutiveFailures => codes::CAUSE_CONSECUTIVE_FAILURES,
            Breaker::MarketDataStale => codes::CAUSE_MARKET_DATA_STALE,
            Breaker::Latency => codes::CAUSE_LATENCY,
        }
    }

    /// The level it raises under `limits`.
    pub const fn level(self, limits: &RiskLimits) -> HealthLevel {
        let l = &limits.levels;
        match self {
            Breaker::EquityFloor => l.equity_floor,
            Breaker::DrawdownTotal => l.drawdown_total,
            Breaker::DrawdownDaily => l.drawdown_daily,
            Breaker::VenueErrorRate => l.venue_error_rate,
            Breaker::ConsecutiveFailures => l.consecutive_failures,
            Breaker::MarketDataStale => l.market_data_stale,
            Breaker::Latency => l.latency,
        }
    }
}

/// One breaker's last evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading {
    pub tripped: bool,
    /// Measured value and limit in the breaker's unit: USD (equity), percent (drawdowns,
    /// error rate), count (failures), ms (staleness), µs (latency). Display only.
    pub observed: f64,
    pub limit: f64,
}

/// Equity as the order side values it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EquityReading {
    pub value: Notional,
    /// Every balance priced and the venue reconciled: only then may equity trip anything.
    pub trusted: bool,
}

/// The breakers' inputs and last readings.
#[derive(Debug, Clone)]
pub struct Breakers {
    readings: [Reading; BREAKER_COUNT],
    high_water_mark: Notional,
    daily_high_water_mark: Notional,
    /// UTC day number of `daily_high_water_mark`.
    day: u64,
    equity: Notional,
    errors: OutcomeWindow,
    consecutive_failures: u32,
    latency_ns: Box<[u64]>,
    latency_len: usize,
    latency_next: usize,
    latency_scratch: Box<[u64]>,
    latency_dirty: bool,
    latency_p99_ns: u64,
}

impl Default for Breakers {
    fn default() -> Self {
        let window = MAX_LATENCY_WINDOW as usize;
        Self {
            readings: [Reading::default(); BREAKER_COUNT],
            high_water_mark: Notional::ZERO,
            daily_high_water_mark: Notional::ZERO,
            day: 0,
            equity: Notional::ZERO,
            errors: OutcomeWindow::default(),
            consecutive_failures: 0,
            latency_ns: vec![0; window].into_boxed_slice(),
            latency_len: 0,
            latency_next: 0,
            latency_scratch: vec![0; window].into_boxed_slice(),
            latency_dirty: false,
            latency_p99_ns: 0,
        }
    }
}

fn pct_of(part: Notional, whole: Notional) -> f64 {
    if !whole.is_positive() {
        return 0.0;
    }
    part.to_f64() / whole.to_f64() * 100.0
}

/// `(peak - value) / peak ≥ limit_pct / 100`, exactly.
fn drawdown_reached(peak: Notional, value: Notional, limit_pct: u32) -> bool {
    if limit_pct == 0 || !peak.is_positive() {
        return false;
    }
    let drop = peak.raw().saturating_sub(value.raw());
    drop.saturating_mul(100) >= peak.raw().saturating_mul(i128::from(limit_pct))
}

impl Breakers {
    /// The last readings, by [`Breaker`] index.
    pub fn readings(&self) -> &[Reading; BREAKER_COUNT] {
        &self.readings
    }

    /// One reading.
    pub fn reading(&self, breaker: Breaker) -> Reading {
        self.readings[breaker as usize]
    }

    /// The all-time high-water mark of equity.
    pub fn high_water_mark(&self) -> Notional {
        self.high_water_mark
    }

    /// The last equity seen.
    pub fn equity(&self) -> Notional {
        self.equity
    }

    /// Drawdown from the all-time and the day's high-water mark, percent (display).
    pub fn drawdowns_pct(&self) -> (f64, f64) {
        (
            pct_of(
                self.high_water_mark.saturating_sub(self.equity),
                self.high_water_mark,
            ),
            pct_of(
                self.daily_high_water_mark.saturating_sub(self.equity),
                self.daily_high_water_mark,
            ),
        )
    }

    /// Restores the all-time high-water mark journaled by an earlier run.
    pub fn restore_high_water_mark(&mut self, mark: Notional) {
        self.high_water_mark = self.high_water_mark.max(mark);
    }

    /// Equity at UTC day `day`; returns true when the all-time high-water mark rose.
    pub fn on_equity(&mut self, equity: EquityReading, day: u64, limits: &RiskLimits) -> bool {
        let floor = &mut self.readings[Breaker::EquityFloor as usize];
        floor.limit = limits.equity_floor.to_f64();
        if !equity.trusted {
            // Keep the last verdicts: an account that cannot be valued proves nothing.
            return false;
        }
        self.equity = equity.value;
        floor.observed = equity.value.to_f64();
        floor.tripped = limits.equity_floor.is_positive() && equity.value < limits.equity_floor;
        let rose = equity.value > self.high_water_mark;
        if rose {
            self.high_water_mark = equity.value;
        }
        if day != self.day {
            self.day = day;
            self.daily_high_water_mark = equity.value;
        } else if equity.value > self.daily_high_water_mark {
            self.daily_high_water_mark = equity.value;
        }
        let (total_pct, daily_pct) = self.drawdowns_pct();
        let total = &mut self.readings[Breaker::DrawdownTotal as usize];
        total.observed = total_pct;
        total.limit = f64::from(limits.max_drawdown_pct);
        total.tripped =
            drawdown_reached(self.high_water_mark, equity.value, limits.max_drawdown_pct);
        let daily = &mut self.readings[Breaker::DrawdownDaily as usize];
        daily.observed = daily_pct;
        daily.limit = f64::from(limits.max_daily_drawdown_pct);
        daily.tripped = drawdown_reached(
            self.daily_high_water_mark,
            equity.value,
            limits.max_daily_drawdown_pct,
        );
        rose
    }

    /// A venue interaction ended: `error` for a reject, timeout or disconnect.
    pub fn on_venue_outcome(&mut self, now_ns: u64, error: bool) {
        self.errors.record(now_ns, error);
    }

    /// An order failed (refused by the venue or never answered) or succeeded.
    pub fn on_order_result(&mut self, failed: bool) {
        self.consecutive_failures = if failed {
            self.consecutive_failures.saturating_add(1)
        } else {
            0
        };
    }

    /// One tick-to-order sample.
    #[inline]
    pub fn on_latency(&mut self, latency_ns: u64) {
        let window = self.latency_ns.len();
        self.latency_ns[self.latency_next] = latency_ns;
        self.latency_next = (self.latency_next + 1) % window;
        self.latency_len = (self.latency_len + 1).min(window);
        self.latency_dirty = true;
    }

    /// Re-evaluates the breakers fed by windows and clocks; `oldest_market_ns` is the receive
    /// time of the stalest traded symbol's last event (0: none traded).
    pub fn evaluate(&mut self, now_ns: u64, oldest_market_ns: u64, limits: &RiskLimits) {
        let window_ns = limits.venue_error_window_ms.saturating_mul(1_000_000);
        let (outcomes, errors) = self.errors.counts(now_ns, window_ns);
        let rate = if outcomes == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / outcomes as f64
        };
        let venue = &mut self.readings[Breaker::VenueErrorRate as usize];
        venue.observed = rate;
        venue.limit = f64::from(limits.venue_error_rate_pct);
        venue.tripped = limits.venue_error_rate_pct > 0
            && outcomes >= limits.venue_error_min_events.max(1) as usize
            && errors * 100 >= limits.venue_error_rate_pct as usize * outcomes;

        let failures = &mut self.readings[Breaker::ConsecutiveFailures as usize];
        failures.observed = f64::from(self.consecutive_failures);
        failures.limit = f64::from(limits.max_consecutive_failures);
        failures.tripped = limits.max_consecutive_failures > 0
            && self.consecutive_failures >= limits.max_consecutive_failures;

        let stale = &mut self.readings[Breaker::MarketDataStale as usize];
        let age_ms = if oldest_market_ns == 0 {
            0
        } else {
            now_ns.saturating_sub(oldest_market_ns) / 1_000_000
        };
        stale.observed = age_ms as f64;
        stale.limit = limits.market_data_stale_ms as f64;
        stale.tripped = limits.market_data_stale_ms > 0 && age_ms >= limits.market_data_stale_ms;

        let p99 = self.latency_p99(limits);
        let latency = &mut self.readings[Breaker::Latency as usize];
        latency.observed = p99 as f64 / 1_000.0;
        latency.limit = limits.max_tick_to_order_p99_us as f64;
        // A few orders prove nothing about a p99: wait for a full window.
        latency.tripped = limits.max_tick_to_order_p99_us > 0
            && self.latency_len >= limits.latency_window.max(1) as usize
            && p99 > limits.max_tick_to_order_p99_us.saturating_mul(1_000);
    }

    /// p99 of the last `latency_window` samples (sorted copy, only when new samples came).
    fn latency_p99(&mut self, limits: &RiskLimits) -> u64 {
        if !self.latency_dirty {
            return self.latency_p99_ns;
        }
        self.latency_dirty = false;
        let window = self.latency_ns.len();
        let n = self.latency_len.min(limits.latency_window.max(1) as usize);
        if n == 0 {
            self.latency_p99_ns = 0;
            return 0;
        }
        for i in 0..n {
            let index = (self.latency_next + window - 1 - i) % window;
            self.latency_scratch[i] = self.latency_ns[index];
        }
        let samples = &mut self.latency_scratch[..n];
        samples.sort_unstable();
        let rank = (n * 99).div_ceil(100).max(1) - 1;
        self.latency_p99_ns = samples[rank];
        self.latency_p99_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn usd(n: i64) -> Notional {
        Notional::from_int(n)
    }

    fn trusted(n: i64) -> EquityReading {
        EquityReading {
            value: usd(n),
            trusted: true,
        }
    }

    #[test]
    fn equity_floor_and_drawdowns_trip_at_their_limits_exactly() {
        let limits = RiskLimits {
            equity_floor: usd(500),
            max_drawdown_pct: 35,
            max_daily_drawdown_pct: 10,
            ..RiskLimits::default()
        };
        let mut b = Breakers::default();
        assert!(b.on_equity(trusted(1_000), 1, &limits));
        assert!(!b.reading(Breaker::DrawdownDaily).tripped);
        b.on_equity(trusted(901), 1, &limits);
        assert!(!b.reading(Breaker::DrawdownDaily).tripped, "9.9 %");
        b.on_equity(trusted(900), 1, &limits);
        assert!(b.reading(Breaker::DrawdownDaily).tripped, "10 % exactly");
        // A new day starts a new daily mark; the all-time one stays.
        b.on_equity(trusted(900), 2, &limits);
        assert!(!b.reading(Breaker::DrawdownDaily).tripped);
        b.on_equity(trusted(650), 2, &limits);
        assert!(b.reading(Breaker::DrawdownTotal).tripped, "35 % of 1000");
        assert!(!b.reading(Breaker::EquityFloor).tripped);
        b.on_equity(trusted(499), 2, &limits);
        assert!(b.reading(Breaker::EquityFloor).tripped);
        // Untrusted equity (unpriced assets, not reconciled) changes nothing.
        b.on_equity(
            EquityReading {
                value: Notional::ZERO,
                trusted: false,
            },
            2,
            &limits,
        );
        assert_eq!(b.equity(), usd(499));
        assert_eq!(b.high_water_mark(), usd(1_000));
    }

    #[test]
    fn venue_error_rate_needs_enough_outcomes_and_forgets_old_ones() {
        let limits = RiskLimits {
            venue_error_rate_pct: 50,
            venue_error_window_ms: 1_000,
            venue_error_min_events: 4,
            ..RiskLimits::default()
        };
        let mut b = Breakers::default();
        for t in 1..=3 {
            b.on_venue_outcome(t * MS, true);
        }
        b.evaluate(3 * MS, 0, &limits);
        assert!(
            !b.reading(Breaker::VenueErrorRate).tripped,
            "3 outcomes < 4"
        );
        b.on_venue_outcome(4 * MS, false);
        b.evaluate(4 * MS, 0, &limits);
        assert!(b.reading(Breaker::VenueErrorRate).tripped, "75 %");
        b.evaluate(2_000 * MS, 0, &limits);
        assert!(!b.reading(Breaker::VenueErrorRate).tripped, "window passed");
    }

    #[test]
    fn failures_staleness_and_latency() {
        let limits = RiskLimits {
            max_consecutive_failures: 3,
            market_data_stale_ms: 100,
            max_tick_to_order_p99_us: 50,
            latency_window: 100,
            ..RiskLimits::default()
        };
        let mut b = Breakers::default();
        for _ in 0..3 {
            b.on_order_result(true);
        }
        b.evaluate(1_000 * MS, 950 * MS, &limits);
        assert!(b.reading(Breaker::ConsecutiveFailures).tripped);
        assert!(!b.reading(Breaker::MarketDataStale).tripped, "50 ms old");
        b.on_order_result(false);
        b.evaluate(1_000 * MS, 900 * MS, &limits);
        assert!(!b.reading(Breaker::ConsecutiveFailures).tripped);
        assert!(b.reading(Breaker::MarketDataStale).tripped, "100 ms old");
        // 98 fast orders and 2 slow: p99 is slow; a partial window never trips.
        for i in 0..100u64 {
            b.on_latency(if i % 50 == 0 { 80_000 } else { 5_000 });
            if i == 50 {
                b.evaluate(1_000 * MS, 0, &limits);
                assert!(!b.reading(Breaker::Latency).tripped, "half a window");
            }
        }
        b.evaluate(1_000 * MS, 0, &limits);
        assert!(b.reading(Breaker::Latency).tripped);
        assert_eq!(b.reading(Breaker::Latency).observed, 80.0);
        for _ in 0..100 {
            b.on_latency(5_000);
        }
        b.evaluate(1_000 * MS, 0, &limits);
        assert!(!b.reading(Breaker::Latency).tripped);
    }
}
