//! Owns: the `[risk]` section of the configuration — the rails' limits, the breakers'
//! thresholds and levels, and how a breach is handled — with its defaults (seed-spec §4.1)
//! and the checks serde cannot make. Never: holds state; a reload sends a whole new
//! [`RiskLimits`] to the order thread, which swaps it in between two intents.

use crate::core::{Notional, StrategyId};

use super::HealthLevel;

/// Per-strategy budgets kept inline, so limits stay `Copy` and can cross a ring.
pub const MAX_STRATEGY_BUDGETS: usize = 16;

/// One strategy's budget: the gross notional its position and open orders may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyBudget {
    pub strategy: u16,
    pub max_notional: Notional,
}

/// The level each breaker raises when it trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerLevels {
    pub equity_floor: HealthLevel,
    pub drawdown_total: HealthLevel,
    pub drawdown_daily: HealthLevel,
    pub venue_error_rate: HealthLevel,
    pub consecutive_failures: HealthLevel,
    pub market_data_stale: HealthLevel,
    pub latency: HealthLevel,
}

impl Default for BreakerLevels {
    fn default() -> Self {
        Self {
            equity_floor: HealthLevel::Critical,
            drawdown_total: HealthLevel::Critical,
            drawdown_daily: HealthLevel::Soft,
            venue_error_rate: HealthLevel::Soft,
            consecutive_failures: HealthLevel::Soft,
            market_data_stale: HealthLevel::Soft,
            latency: HealthLevel::Soft,
        }
    }
}

/// Every limit the risk rails and breakers apply (`[risk]`); amounts in the valuation
/// asset (USDT on the bundled data). A zero limit switches its rail or breaker off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Smallest order notional (seed `MIN_NOTIONAL_USDT`, 5 on spot).
    pub min_order_notional: Notional,
    /// Largest order notional (seed `MAX_NOTIONAL_USDT`).
    pub max_order_notional: Notional,
    /// Gross exposure per symbol: position plus open orders on the side that grows it.
    pub max_symbol_exposure: Notional,
    /// Gross exposure of every symbol of one venue together.
    pub max_venue_exposure: Notional,
    /// Gross exposure of everything, all venues.
    pub max_gross_exposure: Notional,
    /// Budget of a strategy without an entry in `strategy_budgets`.
    pub default_strategy_budget: Notional,
    /// Budgets of named strategies.
    #[serde(deserialize_with = "budgets")]
    pub strategy_budgets: [StrategyBudget; MAX_STRATEGY_BUDGETS],
    /// New orders allowed per `order_rate_window_ms` (seed `MAX_ORDERS_PER_MIN`).
    pub max_orders_per_window: u32,
    pub order_rate_window_ms: u64,
    /// Strategy cancels allowed per `cancel_rate_window_ms` (the rails' own cancels of a
    /// breach or kill are never limited).
    pub max_cancels_per_window: u32,
    pub cancel_rate_window_ms: u64,
    /// A limit or trigger price further than this from the book's mid is refused.
    pub price_band_bps: u32,
    /// Open orders at once, all symbols, and per symbol.
    pub max_open_orders: u32,
    pub max_open_orders_per_symbol: u32,
    /// The same order from the same strategy within this window is refused as a duplicate.
    pub duplicate_window_ms: u64,
    /// No trading on a symbol whose last market event is older than this.
    pub max_market_data_age_ms: u64,

    /// Equity below this trips the equity-floor breaker (seed `EQUITY_FLOOR_USD`).
    pub equity_floor: Notional,
    /// Drawdown from the all-time high-water mark, in percent (seed 35).
    pub max_drawdown_pct: u32,
    /// Drawdown from today's (UTC) high-water mark, in percent.
    pub max_daily_drawdown_pct: u32,
    /// Venue errors (rejects, timeouts, disconnects) over outcomes in the window, percent.
    pub venue_error_rate_pct: u32,
    pub venue_error_window_ms: u64,
    /// Outcomes the window needs before the rate counts (one reject is not 100 %).
    pub venue_error_min_events: u32,
    /// Orders the venue refused or never answered, in a row.
    pub max_consecutive_failures: u32,
    /// Any traded symbol without market data for this long trips the staleness breaker.
    pub market_data_stale_ms: u64,
    /// Tick-to-order p99 over the last `latency_window` orders above this trips.
    pub max_tick_to_order_p99_us: u64,
    pub latency_window: u32,

    /// A soft breach clears once every soft breaker has been clear this long.
    pub soft_recovery_ms: u64,
    /// On a soft breach each protective stop moves this share of the way to the mark.
    pub soft_stop_tighten_pct: u32,
    /// A critical breach also closes every position at market.
    pub flatten_on_critical: bool,
    pub levels: BreakerLevels,
}

const fn usd(units: i64) -> Notional {
    Notional::from_int(units)
}

impl Default for RiskLimits {
    fn default() -> Self {
        Self {
            min_order_notional: usd(5),
            max_order_notional: usd(400),
            max_symbol_exposure: usd(2_000),
            max_venue_exposure: usd(10_000),
            max_gross_exposure: usd(10_000),
            default_strategy_budget: usd(2_000),
            strategy_budgets: [StrategyBudget::default(); MAX_STRATEGY_BUDGETS],
            max_orders_per_window: 30,
            order_rate_window_ms: 60_000,
            max_cancels_per_window: 120,
            cancel_rate_window_ms: 60_000,
            price_band_bps: 500,
            max_open_orders: 64,
            max_open_orders_per_symbol: 16,
            duplicate_window_ms: 1_000,
            max_market_data_age_ms: 5_000,
            equity_floor: usd(500),
            max_drawdown_pct: 35,
            max_daily_drawdown_pct: 10,
            venue_error_rate_pct: 50,
            venue_error_window_ms: 60_000,
            venue_error_min_events: 10,
            max_consecutive_failures: 5,
            market_data_stale_ms: 30_000,
            max_tick_to_order_p99_us: 50_000,
            latency_window: 256,
            soft_recovery_ms: 300_000,
            soft_stop_tighten_pct: 50,
            flatten_on_critical: false,
            levels: BreakerLevels::default(),
        }
    }
}

/// Longest latency window (samples kept inline).
pub const MAX_LATENCY_WINDOW: u32 = 1024;

impl RiskLimits {
    /// Limits no order reaches: every rail still runs (its cost is measured, a halted or
    /// disabled strategy still stops), none binds and no breaker trips. For benchmarks that
    /// send an order every few ticks and for tests of the order path below the rails.
    pub fn non_binding() -> Self {
        let wide = Notional::from_int(1_000_000_000_000);
        Self {
            min_order_notional: Notional::ZERO,
            max_order_notional: wide,
            max_symbol_exposure: wide,
            max_venue_exposure: wide,
            max_gross_exposure: wide,
            default_strategy_budget: wide,
            max_orders_per_window: 0,
            max_cancels_per_window: 0,
            price_band_bps: 0,
            max_open_orders: 0,
            max_open_orders_per_symbol: 0,
            duplicate_window_ms: 0,
            max_market_data_age_ms: 0,
            equity_floor: Notional::ZERO,
            max_drawdown_pct: 0,
            max_daily_drawdown_pct: 0,
            venue_error_rate_pct: 0,
            max_consecutive_failures: 0,
            market_data_stale_ms: 0,
            max_tick_to_order_p99_us: 0,
            ..Self::default()
        }
    }

    /// The budget of `strategy`.
    #[inline]
    pub fn budget_of(&self, strategy: StrategyId) -> Notional {
        self.strategy_budgets
            .iter()
            .find(|b| b.strategy == strategy.0 && b.strategy != 0)
            .map_or(self.default_strategy_budget, |b| b.max_notional)
    }

    /// The checks serde cannot make: (key, message) of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: &str| Err((format!("risk.{key}"), message.to_owned()));
        let amounts = [
            ("min_order_notional", self.min_order_notional),
            ("max_order_notional", self.max_order_notional),
            ("max_symbol_exposure", self.max_symbol_exposure),
            ("max_venue_exposure", self.max_venue_exposure),
            ("max_gross_exposure", self.max_gross_exposure),
            ("default_strategy_budget", self.default_strategy_budget),
            ("equity_floor", self.equity_floor),
        ];
        for (key, value) in amounts {
            if value.raw() < 0 {
                return bad(key, "must not be negative");
            }
        }
        if self.max_order_notional.is_positive()
            && self.min_order_notional > self.max_order_notional
        {
            return bad("min_order_notional", "is above max_order_notional");
        }
        for (key, pct) in [
            ("max_drawdown_pct", self.max_drawdown_pct),
            ("max_daily_drawdown_pct", self.max_daily_drawdown_pct),
            ("venue_error_rate_pct", self.venue_error_rate_pct),
            ("soft_stop_tighten_pct", self.soft_stop_tighten_pct),
        ] {
            if pct > 100 {
                return bad(key, "is a percentage (0-100)");
            }
        }
        if self.soft_stop_tighten_pct == 100 {
            return bad(
                "soft_stop_tighten_pct",
                "100 would put the stop at the mark",
            );
        }
        if self.latency_window > MAX_LATENCY_WINDOW {
            return bad("latency_window", "at most 1024 samples");
        }
        for (key, count, window) in [
            (
                "order_rate_window_ms",
                self.max_orders_per_window,
                self.order_rate_window_ms,
            ),
            (
                "cancel_rate_window_ms",
                self.max_cancels_per_window,
                self.cancel_rate_window_ms,
            ),
            (
                "venue_error_window_ms",
                self.venue_error_rate_pct,
                self.venue_error_window_ms,
            ),
        ] {
            if count > 0 && window == 0 {
                return bad(key, "must be positive while its limit is set");
            }
        }
        if self.max_orders_per_window as usize > super::window::MAX_EVENTS
            || self.max_cancels_per_window as usize > super::window::MAX_EVENTS
        {
            return bad("max_orders_per_window", "at most 4096 per window");
        }
        let mut seen = [0u16; MAX_STRATEGY_BUDGETS];
        for (i, budget) in self.strategy_budgets.iter().enumerate() {
            if budget.strategy == 0 {
                continue;
            }
            if budget.max_notional.raw() < 0 {
                return bad("strategy_budgets", "a budget must not be negative");
            }
            if seen[..i].contains(&budget.strategy) {
                return bad("strategy_budgets", "a strategy is listed twice");
            }
            seen[i] = budget.strategy;
        }
        Ok(())
    }
}

/// `strategy_budgets = [{ strategy = 1, max_notional = "1000" }, …]` into the inline array.
fn budgets<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<[StrategyBudget; MAX_STRATEGY_BUDGETS], D::Error> {
    use serde::Deserialize;
    let list = Vec::<StrategyBudget>::deserialize(d)?;
    if list.len() > MAX_STRATEGY_BUDGETS {
        return Err(serde::de::Error::custom(format!(
            "at most {MAX_STRATEGY_BUDGETS} strategy budgets"
        )));
    }
    if list.iter().any(|b| b.strategy == 0) {
        return Err(serde::de::Error::custom("strategy ids start at 1"));
    }
    let mut out = [StrategyBudget::default(); MAX_STRATEGY_BUDGETS];
    out[..list.len()].copy_from_slice(&list);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed_and_validate() {
        let limits = RiskLimits::default();
        assert_eq!(limits.max_order_notional, Notional::from_int(400));
        assert_eq!(limits.equity_floor, Notional::from_int(500));
        assert_eq!(limits.max_drawdown_pct, 35);
        assert_eq!(limits.max_orders_per_window, 30);
        limits.validate().expect("defaults are valid");
    }

    #[test]
    fn toml_with_budgets_and_levels_parses_and_bad_values_are_named() {
        let limits: RiskLimits = toml::from_str(
            r#"
            max_order_notional = "1000"
            strategy_budgets = [{ strategy = 2, max_notional = "300" }]
            [levels]
            latency = "critical"
            "#,
        )
        .expect("parses");
        assert_eq!(limits.budget_of(StrategyId(2)), Notional::from_int(300));
        assert_eq!(limits.budget_of(StrategyId(1)), Notional::from_int(2_000));
        assert_eq!(limits.levels.latency, HealthLevel::Critical);
        let broken = RiskLimits {
            min_order_notional: Notional::from_int(1_500),
            ..limits
        };
        assert_eq!(
            broken.validate().unwrap_err().0,
            "risk.min_order_notional".to_owned()
        );
        let zero: Result<RiskLimits, _> =
            toml::from_str(r#"strategy_budgets = [{ strategy = 0, max_notional = "1" }]"#);
        assert!(zero.is_err());
        let unknown: Result<RiskLimits, _> = toml::from_str("max_notional = \"1\"");
        assert!(unknown.is_err(), "unknown keys are refused");
    }
}
