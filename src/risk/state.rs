//! Owns: the health state (`ok` → `soft` → `critical`) and the trading mode it implies
//! (active / reduce-only / halted), the kill switch, and the transitions between them with
//! their causes. Never: clears a halt by itself — a critical breach and the kill switch stay
//! until an operator's resume (not a timer, a day boundary or a restart: the seed's guardian
//! re-enabled trading at midnight, D-25); only a soft breach recovers by itself, after its
//! breakers stayed clear for the configured time.

use super::breakers::{Breaker, Reading, BREAKER_COUNT};
use super::codes;
use super::config::RiskLimits;
use super::{HealthLevel, TradingMode};

/// What the order side must do after a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthAction {
    /// Nothing beyond journaling the change.
    None,
    /// Soft breach: cancel resting entries, tighten stops (mode is reduce-only now).
    EnterSoft,
    /// Critical breach: cancel resting entries; close every position when configured.
    EnterCritical { flatten: bool },
}

/// One change of health or mode, with its cause (`codes::CAUSE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from_mode: TradingMode,
    pub to_mode: TradingMode,
    pub from_health: HealthLevel,
    pub to_health: HealthLevel,
    pub cause: u16,
    pub action: HealthAction,
}

/// The health state machine.
#[derive(Debug, Clone, Default)]
pub struct HealthState {
    kill_switch: bool,
    /// Cause of the latched critical breach.
    critical: Option<u16>,
    /// Cause of the running soft breach.
    soft: Option<u16>,
    /// Since when every soft breaker is clear (0: one is tripped or no soft breach runs).
    soft_clear_since_ns: u64,
}

impl HealthState {
    /// The trading mode.
    #[inline]
    pub fn mode(&self) -> TradingMode {
        if self.kill_switch || self.critical.is_some() {
            TradingMode::Halted
        } else if self.soft.is_some() {
            TradingMode::ReduceOnly
        } else {
            TradingMode::Active
        }
    }

    /// The health level.
    pub fn health(&self) -> HealthLevel {
        if self.critical.is_some() {
            HealthLevel::Critical
        } else if self.soft.is_some() {
            HealthLevel::Soft
        } else {
            HealthLevel::Ok
        }
    }

    /// True while the operator's kill switch holds.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch
    }

    /// Why the mode is not active (0 when it is).
    pub fn mode_cause(&self) -> u16 {
        if self.kill_switch {
            codes::CAUSE_KILL_SWITCH
        } else {
            self.critical.or(self.soft).unwrap_or_default()
        }
    }

    fn snapshot(&self) -> (TradingMode, HealthLevel) {
        (self.mode(), self.health())
    }

    fn transition(
        &self,
        before: (TradingMode, HealthLevel),
        cause: u16,
        action: HealthAction,
    ) -> Option<Transition> {
        let after = self.snapshot();
        (after != before || action != HealthAction::None).then_some(Transition {
            from_mode: before.0,
            to_mode: after.0,
            from_health: before.1,
            to_health: after.1,
            cause,
            action,
        })
    }

    /// Applies the breakers' readings at `now_ns`.
    pub fn on_readings(
        &mut self,
        now_ns: u64,
        readings: &[Reading; BREAKER_COUNT],
        limits: &RiskLimits,
    ) -> Option<Transition> {
        let before = self.snapshot();
        let tripped = |level: HealthLevel| {
            Breaker::ALL
                .iter()
                .find(|b| readings[**b as usize].tripped && b.level(limits) == level)
                .map(|b| b.cause())
        };
        if let Some(cause) = tripped(HealthLevel::Critical) {
            if self.critical.is_none() {
                self.critical = Some(cause);
                let action = HealthAction::EnterCritical {
                    flatten: limits.flatten_on_critical,
                };
                return self.transition(before, cause, action);
            }
        }
        match tripped(HealthLevel::Soft) {
            Some(cause) => {
                self.soft_clear_since_ns = 0;
                if self.soft.is_none() {
                    self.soft = Some(cause);
                    return self.transition(before, cause, HealthAction::EnterSoft);
                }
            }
            None if self.soft.is_some() => {
                if self.soft_clear_since_ns == 0 {
                    self.soft_clear_since_ns = now_ns.max(1);
                } else if now_ns.saturating_sub(self.soft_clear_since_ns)
                    >= limits.soft_recovery_ms.saturating_mul(1_000_000)
                {
                    self.soft = None;
                    self.soft_clear_since_ns = 0;
                    return self.transition(
                        before,
                        codes::CAUSE_SOFT_RECOVERED,
                        HealthAction::None,
                    );
                }
            }
            None => {}
        }
        None
    }

    /// The operator's kill switch; a transition whenever it was not set yet (journaled even
    /// over a critical halt, so the journal knows the operator's hand is on it too).
    pub fn kill(&mut self) -> Option<Transition> {
        let before = self.snapshot();
        let was = self.kill_switch;
        self.kill_switch = true;
        (!was).then_some(Transition {
            from_mode: before.0,
            to_mode: TradingMode::Halted,
            from_health: before.1,
            to_health: before.1,
            cause: codes::CAUSE_KILL_SWITCH,
            action: HealthAction::None,
        })
    }

    /// The operator's resume: clears the kill switch and a latched critical breach (a
    /// breaker still tripped latches again at its next reading).
    pub fn resume(&mut self) -> Option<Transition> {
        let before = self.snapshot();
        self.kill_switch = false;
        self.critical = None;
        self.transition(before, codes::CAUSE_OPERATOR_RESUME, HealthAction::None)
    }

    /// A halt an earlier run journaled (`cause` as journaled): trading stays halted. The
    /// transition keeps the original cause, so the journal says the same after any number
    /// of restarts.
    pub fn restore_halt(&mut self, cause: u16) -> Option<Transition> {
        let before = (TradingMode::Active, HealthLevel::Ok);
        if cause == codes::CAUSE_KILL_SWITCH {
            self.kill_switch = true;
        } else {
            self.critical = Some(cause);
        }
        self.transition(before, cause, HealthAction::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn tripped(breakers: &[Breaker]) -> [Reading; BREAKER_COUNT] {
        let mut readings = [Reading::default(); BREAKER_COUNT];
        for b in breakers {
            readings[*b as usize].tripped = true;
        }
        readings
    }

    #[test]
    fn soft_breach_goes_reduce_only_and_recovers_only_after_the_clear_time() {
        let limits = RiskLimits {
            soft_recovery_ms: 100,
            ..RiskLimits::default()
        };
        let mut h = HealthState::default();
        let t = h
            .on_readings(MS, &tripped(&[Breaker::VenueErrorRate]), &limits)
            .expect("enters soft");
        assert_eq!(t.action, HealthAction::EnterSoft);
        assert_eq!(
            (t.from_mode, t.to_mode),
            (TradingMode::Active, TradingMode::ReduceOnly)
        );
        assert_eq!(t.cause, codes::CAUSE_VENUE_ERROR_RATE);
        assert!(h
            .on_readings(2 * MS, &tripped(&[Breaker::VenueErrorRate]), &limits)
            .is_none());
        let clear = tripped(&[]);
        assert!(
            h.on_readings(10 * MS, &clear, &limits).is_none(),
            "clear since 10 ms"
        );
        assert!(h.on_readings(50 * MS, &clear, &limits).is_none());
        // Tripping again restarts the clock.
        assert!(h
            .on_readings(60 * MS, &tripped(&[Breaker::Latency]), &limits)
            .is_none());
        assert!(h.on_readings(70 * MS, &clear, &limits).is_none());
        assert!(
            h.on_readings(160 * MS, &clear, &limits).is_none(),
            "90 ms clear"
        );
        let t = h.on_readings(170 * MS, &clear, &limits).expect("recovers");
        assert_eq!(t.to_mode, TradingMode::Active);
        assert_eq!(t.cause, codes::CAUSE_SOFT_RECOVERED);
        assert_eq!(h.health(), HealthLevel::Ok);
    }

    #[test]
    fn critical_latches_until_resume_and_kill_survives_clear_breakers() {
        let limits = RiskLimits {
            flatten_on_critical: true,
            ..RiskLimits::default()
        };
        let mut h = HealthState::default();
        let t = h
            .on_readings(MS, &tripped(&[Breaker::EquityFloor]), &limits)
            .expect("critical");
        assert_eq!(t.action, HealthAction::EnterCritical { flatten: true });
        assert_eq!(h.mode(), TradingMode::Halted);
        // The breaker clears: still halted, for as long as nobody resumes.
        for t in 2..100 {
            assert!(h
                .on_readings(t * 1_000 * MS, &tripped(&[]), &limits)
                .is_none());
        }
        assert_eq!(h.mode(), TradingMode::Halted);
        let t = h.resume().expect("resumed");
        assert_eq!(
            (t.from_mode, t.to_mode),
            (TradingMode::Halted, TradingMode::Active)
        );
        // Kill switch: halted regardless of breakers, cleared by resume only.
        h.kill().expect("killed");
        assert_eq!(h.mode_cause(), codes::CAUSE_KILL_SWITCH);
        assert!(h.on_readings(MS, &tripped(&[]), &limits).is_none());
        assert_eq!(h.mode(), TradingMode::Halted);
        h.resume();
        assert_eq!(h.mode(), TradingMode::Active);
        // A restored halt is a halt.
        let mut fresh = HealthState::default();
        fresh
            .restore_halt(codes::CAUSE_DRAWDOWN_TOTAL)
            .expect("restored");
        assert_eq!(fresh.mode(), TradingMode::Halted);
        assert_eq!(fresh.health(), HealthLevel::Critical);
    }
}
