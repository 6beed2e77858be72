//! Owns: the one risk checker every order from every source passes (the rails), the
//! breakers that watch equity, venue errors, market data and latency, the health state
//! (`ok` → `soft` → `critical`) and trading mode (active / reduce-only / halted) they
//! drive, and the operator's kill switch. Never: reads the clock, does I/O or allocates per
//! order; the order thread passes time and facts in, and only this module can build an
//! [`Approved`] intent, the one kind the order manager accepts.
//!
//! Order of checks for a new order (the first that fails is the reject, see [`codes`]):
//! 1. trading mode: halted refuses everything, reduce-only refuses what does not shrink a
//!    position;
//! 2. the strategy's mode (disabled; dry-run is checked fully, then held back);
//! 3. market data: the symbol's book valid and fresh;
//! 4. duplicate intent;
//! 5. a price to value the order;
//! 6. order notional min / max;
//! 7. price band around the mid;
//! 8. open orders, all and per symbol;
//! 9. order rate;
//! 10. exposure caps — symbol, venue, total gross — counting the position, the open orders
//!     on the growing side and this order;
//! 11. the strategy's budget.
//!
//! Orders that only shrink a position — with what already rests on their side, they stay
//! within it — skip the minimum notional, the exposure caps and the budget: getting out is
//! never refused for being too large. Cancels pass the cancel-rate
//! rail only (and never when the rails themselves cancel).

pub mod breakers;
pub mod codes;
pub mod config;
pub mod exposure;
pub mod metrics;
pub mod rails;
pub mod state;
pub mod window;

pub use breakers::{Breaker, Breakers, BREAKER_COUNT};
pub use config::{BreakerLevels, RiskLimits, StrategyBudget};
pub use exposure::ExposureBook;
pub use rails::{Approved, RiskRails, RiskReject, RiskVerdict};
pub use state::{HealthAction, HealthState, Transition};

pub use crate::persist::payload::TradingMode;

/// How healthy the engine is; each breaker maps to one level when it trips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum HealthLevel {
    #[default]
    Ok = 0,
    /// Reduce-only, entries cancelled, stops tightened; recovers by itself.
    Soft = 1,
    /// Halted and persisted; only an operator resume clears it.
    Critical = 2,
}

impl HealthLevel {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthLevel::Ok => "ok",
            HealthLevel::Soft => "soft",
            HealthLevel::Critical => "critical",
        }
    }
}

/// What the operator lets a strategy do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum StrategyMode {
    #[default]
    Enabled = 0,
    /// Every intent is refused.
    Disabled = 1,
    /// Intents are checked by every rail and journaled, never sent.
    DryRun = 2,
}

impl StrategyMode {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StrategyMode::Enabled => "enabled",
            StrategyMode::Disabled => "disabled",
            StrategyMode::DryRun => "dry_run",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enabled" => Some(StrategyMode::Enabled),
            "disabled" => Some(StrategyMode::Disabled),
            "dry_run" => Some(StrategyMode::DryRun),
            _ => None,
        }
    }
}
