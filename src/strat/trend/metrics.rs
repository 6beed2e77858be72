//! Owns: the trend strategy's metric handles, one set per symbol, registered once at
//! start-up (seed-spec §7 names). Never: formats or allocates when a handle is updated.
//!
//! The seed's `trend_follow_stop_distance_bp` and `trend_follow_trade_pnl_pct` were
//! histograms; the registry has no generic histogram, so both are gauges holding the last
//! value (the entry's stop distance, the last closed trade's signed pnl %), without the
//! seed's `result` label on the pnl (the trades counter carries it).

use crate::ops::{Counter, Gauge, OpsError};

use super::super::api::MetricsScope;
use super::tuner::TradeResult;

/// Signal kinds of `trend_follow_signals_total`: (state, side) label values.
pub const SIGNAL_LABELS: [(&str, &str); 3] =
    [("entry", "buy"), ("exit", "sell"), ("stop_raise", "sell")];

/// Index of an entry in [`SIGNAL_LABELS`].
pub const SIGNAL_ENTRY: usize = 0;
pub const SIGNAL_EXIT: usize = 1;
pub const SIGNAL_STOP_RAISE: usize = 2;

/// Why a met entry condition did not lead to an entry (`trend_follow_skipped_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The symbol is outside the strategy's scope.
    OutOfScope,
    /// Inside the cooldown after the last position closed.
    Cooldown,
    /// An order or position of this strategy is still there (`Holding::can_enter`).
    Busy,
    /// Another strategy owns the symbol.
    OwnedElsewhere,
    /// The account's equity is unknown: no entry rather than a made-up size.
    NoEquity,
    /// The ATR stop is not below the reference price (flat prices give ATR 0).
    StopNotBelowPrice,
    /// The target is not above the reference price.
    TargetNotAbovePrice,
    /// The sized quote is zero.
    ZeroQuote,
}

impl SkipReason {
    /// Every reason, in label order.
    pub const ALL: [SkipReason; 8] = [
        SkipReason::OutOfScope,
        SkipReason::Cooldown,
        SkipReason::Busy,
        SkipReason::OwnedElsewhere,
        SkipReason::NoEquity,
        SkipReason::StopNotBelowPrice,
        SkipReason::TargetNotAbovePrice,
        SkipReason::ZeroQuote,
    ];

    /// Label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::OutOfScope => "out_of_scope",
            SkipReason::Cooldown => "cooldown",
            SkipReason::Busy => "busy",
            SkipReason::OwnedElsewhere => "owned_elsewhere",
            SkipReason::NoEquity => "no_equity",
            SkipReason::StopNotBelowPrice => "stop_not_below_price",
            SkipReason::TargetNotAbovePrice => "target_not_above_price",
            SkipReason::ZeroQuote => "zero_quote",
        }
    }

    /// Index into [`ALL`](Self::ALL).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One symbol's handles (detached until registered).
#[derive(Debug, Clone, Default)]
pub struct SymbolMetrics {
    pub signals: [Counter; 3],
    pub trades: [Counter; 3],
    pub skips: [Counter; 8],
    pub stop_distance_bp: Gauge,
    pub trade_pnl_pct: Gauge,
    /// End of the cooldown, seconds since the UTC epoch (0: none).
    pub cooldown_epoch: Gauge,
}

impl SymbolMetrics {
    /// Registers this symbol's series under `scope`.
    pub fn register(scope: &mut MetricsScope<'_>, symbol: &str) -> Result<Self, OpsError> {
        let venue = scope.venue.to_owned();
        let registry = &mut *scope.registry;
        let base = [("symbol", symbol), ("venue", venue.as_str())];
        let mut metrics = Self::default();
        for (i, (state, side)) in SIGNAL_LABELS.iter().enumerate() {
            metrics.signals[i] = registry.counter(
                "trend_follow_signals_total",
                "Trend-follow entries, exits and stop raises emitted",
                &[base[0], base[1], ("side", side), ("state", state)],
            )?;
        }
        for result in TradeResult::ALL {
            metrics.trades[result.index()] = registry.counter(
                "trend_follow_trades_total",
                "Trend-follow positions closed, by result (win/loss beyond ±0.05 %)",
                &[base[0], base[1], ("result", result.as_str())],
            )?;
        }
        for reason in SkipReason::ALL {
            metrics.skips[reason.index()] = registry.counter(
                "trend_follow_skipped_total",
                "Trend-follow entry conditions met without an entry, by reason",
                &[base[0], base[1], ("reason", reason.as_str())],
            )?;
        }
        metrics.stop_distance_bp = registry.gauge(
            "trend_follow_stop_distance_bp",
            "Stop distance of the last trend-follow entry, basis points of the price",
            &base,
        )?;
        metrics.trade_pnl_pct = registry.gauge(
            "trend_follow_trade_pnl_pct",
            "Pnl of the last closed trend-follow trade, percent (signed, fees excluded)",
            &base,
        )?;
        metrics.cooldown_epoch = registry.gauge(
            "trend_follow_cooldown_epoch",
            "End of the trend-follow cooldown, seconds since the UTC epoch",
            &base,
        )?;
        Ok(metrics)
    }
}
