//! Owns: the risk side's Prometheus series — health and trading mode, kill switch, equity
//! buffer and drawdowns, exposure per venue with its cap and headroom, every breaker's
//! state, value and limit, rejects per code, transitions — and copying the rails' state into
//! them. Never: runs per order; the order stage publishes about once a second.

use crate::core::Notional;
use crate::ops::{Counter, Gauge, OpsError, Registry};

use super::breakers::{Breaker, BREAKER_COUNT};
use super::codes;
use super::rails::{RejectCounts, RiskRails};

/// The risk series of one order stage.
#[derive(Debug)]
pub struct RiskMetrics {
    health: Gauge,
    mode: Gauge,
    kill_switch: Gauge,
    equity_buffer: Gauge,
    equity_floor: Gauge,
    equity_floor_breach: Gauge,
    high_water_mark: Gauge,
    drawdown: Gauge,
    daily_drawdown: Gauge,
    drawdown_limit: Gauge,
    venue_exposure: Gauge,
    venue_cap: Gauge,
    venue_headroom: Gauge,
    gross_exposure: Gauge,
    breaker_tripped: [Gauge; BREAKER_COUNT],
    breaker_value: [Gauge; BREAKER_COUNT],
    breaker_limit: [Gauge; BREAKER_COUNT],
    rejects: Vec<Counter>,
    transitions: Counter,
    last_rejects: RejectCounts,
    last_transitions: u64,
}

impl RiskMetrics {
    /// Registers the series; `venue` labels the exposure gauges.
    pub fn register(registry: &mut Registry, venue: &str) -> Result<Self, OpsError> {
        let mut gauge = |name: &str, help: &str| registry.gauge(name, help, &[]);
        let health = gauge(
            "health_state",
            "Engine health: 0 ok, 1 soft breach, 2 critical",
        )?;
        let mode = gauge(
            "trading_mode",
            "Trading mode: 0 active, 1 reduce-only, 2 halted",
        )?;
        let kill_switch = gauge(
            "kill_switch_active",
            "1 while the operator's kill switch holds",
        )?;
        let equity_buffer = gauge(
            "risk_equity_buffer_usd",
            "Equity above the equity floor (0 at or below it)",
        )?;
        let equity_floor = gauge("risk_equity_floor_usd", "Configured equity floor")?;
        let equity_floor_breach = gauge(
            "risk_equity_floor_breach",
            "1 while the equity floor breaker is tripped",
        )?;
        let high_water_mark = gauge(
            "risk_equity_high_water_mark_usd",
            "All-time high-water mark of equity (kept across restarts)",
        )?;
        let drawdown = gauge(
            "risk_equity_drawdown_pct",
            "Drawdown from the all-time high-water mark, percent",
        )?;
        let daily_drawdown = gauge(
            "risk_equity_daily_drawdown_pct",
            "Drawdown from today's (UTC) high-water mark, percent",
        )?;
        let drawdown_limit = gauge(
            "risk_equity_drawdown_limit_pct",
            "Configured total drawdown limit, percent",
        )?;
        let gross_exposure = gauge(
            "gross_exposure_usd",
            "Gross exposure of every symbol: positions plus open orders on the growing side",
        )?;
        let venue_label = [("venue", venue)];
        let venue_exposure = registry.gauge(
            "venue_exposure_usd",
            "Gross exposure on the venue: positions plus open orders on the growing side",
            &venue_label,
        )?;
        let venue_cap = registry.gauge(
            "exposure_cap_usd",
            "Configured venue exposure cap",
            &venue_label,
        )?;
        let venue_headroom = registry.gauge(
            "risk_exposure_headroom_usd",
            "Venue exposure cap minus exposure",
            &venue_label,
        )?;
        let mut per_breaker =
            |name: &str, help: &str| -> Result<[Gauge; BREAKER_COUNT], OpsError> {
                let mut gauges = Vec::with_capacity(BREAKER_COUNT);
                for breaker in Breaker::ALL {
                    gauges.push(registry.gauge(
                        name,
                        help,
                        &[("breaker", codes::name(breaker.cause()))],
                    )?);
                }
                gauges.try_into().map_err(|_| OpsError::Conflict {
                    name: name.to_owned(),
                    reason: "breaker count".to_owned(),
                })
            };
        let breaker_tripped =
            per_breaker("risk_breaker_tripped", "1 while the breaker is tripped")?;
        let breaker_value = per_breaker(
            "risk_breaker_value",
            "The breaker's measured value (USD, percent, count, ms or µs by breaker)",
        )?;
        let breaker_limit = per_breaker("risk_breaker_limit", "The breaker's configured limit")?;
        let mut rejects = Vec::with_capacity(codes::REJECT_CODES.len());
        for code in codes::REJECT_CODES {
            rejects.push(registry.counter(
                "risk_rejects_total",
                "Intents refused by the risk rails, by reason (dry runs included)",
                &[("reason", codes::name(code))],
            )?);
        }
        let transitions = registry.counter(
            "health_transitions_total",
            "Changes of health or trading mode (each journaled with its cause)",
            &[],
        )?;
        Ok(Self {
            health,
            mode,
            kill_switch,
            equity_buffer,
            equity_floor,
            equity_floor_breach,
            high_water_mark,
            drawdown,
            daily_drawdown,
            drawdown_limit,
            venue_exposure,
            venue_cap,
            venue_headroom,
            gross_exposure,
            breaker_tripped,
            breaker_value,
            breaker_limit,
            rejects,
            transitions,
            last_rejects: [0; codes::REJECT_CODES.len()],
            last_transitions: 0,
        })
    }

    /// Copies the rails' state; `exposures` = (venue, gross), `transitions` so far.
    pub fn publish(
        &mut self,
        rails: &RiskRails,
        exposures: (Notional, Notional),
        transitions: u64,
    ) {
        let health = rails.health();
        let limits = rails.limits();
        let breakers = rails.breakers();
        self.health.set(health.health() as i64);
        self.mode.set(health.mode() as i64);
        self.kill_switch.set(i64::from(health.kill_switch()));
        let equity = breakers.equity();
        self.equity_buffer.set_f64(
            equity
                .saturating_sub(limits.equity_floor)
                .max(Notional::ZERO)
                .to_f64(),
        );
        self.equity_floor.set_f64(limits.equity_floor.to_f64());
        self.equity_floor_breach
            .set(i64::from(breakers.reading(Breaker::EquityFloor).tripped));
        self.high_water_mark
            .set_f64(breakers.high_water_mark().to_f64());
        let (total, daily) = breakers.drawdowns_pct();
        self.drawdown.set_f64(total);
        self.daily_drawdown.set_f64(daily);
        self.drawdown_limit
            .set_f64(f64::from(limits.max_drawdown_pct));
        let (venue, gross) = exposures;
        self.venue_exposure.set_f64(venue.to_f64());
        self.venue_cap.set_f64(limits.max_venue_exposure.to_f64());
        self.venue_headroom
            .set_f64(limits.max_venue_exposure.saturating_sub(venue).to_f64());
        self.gross_exposure.set_f64(gross.to_f64());
        for (i, reading) in breakers.readings().iter().enumerate() {
            self.breaker_tripped[i].set(i64::from(reading.tripped));
            self.breaker_value[i].set_f64(reading.observed);
            self.breaker_limit[i].set_f64(reading.limit);
        }
        let (counts, _) = rails.rejects();
        for (i, counter) in self.rejects.iter().enumerate() {
            counter.add(counts[i].saturating_sub(self.last_rejects[i]));
        }
        self.last_rejects = *counts;
        self.transitions
            .add(transitions.saturating_sub(self.last_transitions));
        self.last_transitions = transitions;
    }
}
