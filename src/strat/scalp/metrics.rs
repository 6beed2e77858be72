//! Owns: the scalper's metric handles per symbol, registered under the seed-spec §7 names
//! and labels. Never: registers anything on the hot path; handles are detached (count for
//! nobody) until `attach_metrics`.

use crate::core::{Side, SymbolId};
use crate::ops::{Counter, Gauge, OpsError};
use crate::strat::api::MetricsScope;

use super::ScalpReason;

/// `mode` labels of `scalp_bracket_exits_total`, by index.
const EXIT_MODES: [&str; 3] = ["sl", "tp", "time"];
pub(super) const EXIT_SL: usize = 0;
pub(super) const EXIT_TP: usize = 1;
pub(super) const EXIT_TIME: usize = 2;

/// Index of a side in the per-side arrays (buy, sell).
pub(super) const fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// One symbol's metric handles.
#[derive(Debug, Clone, Default)]
pub(super) struct SymbolMetrics {
    pub range_width_bp: Gauge,
    pub position: Gauge,
    pub rsi: Gauge,
    pub spread_bp: Gauge,
    pub imbalance: Gauge,
    /// By [`ScalpReason`].
    pub signals: [Counter; 4],
    /// By side: the last signal's net edge, slippage estimate and TTL. The registry has no
    /// generic histogram, so these gauges hold the last value.
    pub edge_bp: [Gauge; 2],
    pub slippage_bp: [Gauge; 2],
    pub ttl_sec: [Gauge; 2],
    /// By mode: `sl`, `tp`, `time`.
    pub bracket_exits: [Counter; 3],
}

impl SymbolMetrics {
    /// Registers `symbol`'s series in `scope`.
    pub fn register(scope: &mut MetricsScope<'_>, symbol: SymbolId) -> Result<Self, OpsError> {
        let name = scope.symbol_name(symbol).to_owned();
        let venue = scope.venue;
        let registry = &mut *scope.registry;
        let base = [("symbol", name.as_str()), ("venue", venue)];
        let mut metrics = Self {
            range_width_bp: registry.gauge(
                "scalp_range_width_bp",
                "Scalp window range (high - low) / price, bps",
                &base,
            )?,
            position: registry.gauge(
                "scalp_position",
                "Scalp price position in the window range, 0..1",
                &base,
            )?,
            rsi: registry.gauge("scalp_rsi", "Scalp tick RSI", &base)?,
            spread_bp: registry.gauge(
                "scalp_spread_bp",
                "Scalp best bid/ask spread, bps",
                &base,
            )?,
            imbalance: registry.gauge(
                "scalp_orderbook_imbalance",
                "Scalp top-of-book imbalance (bid - ask) / (bid + ask) qty",
                &base,
            )?,
            ..Self::default()
        };
        for reason in ScalpReason::ALL {
            metrics.signals[reason.index()] = registry.counter(
                "scalp_signals_total",
                "Scalp entry signals",
                &[
                    ("symbol", name.as_str()),
                    ("venue", venue),
                    ("side", reason.side().as_str()),
                    ("reason", reason.label()),
                ],
            )?;
        }
        for (counter, mode) in metrics.bracket_exits.iter_mut().zip(EXIT_MODES) {
            *counter = registry.counter(
                "scalp_bracket_exits_total",
                "Scalp positions closed by a bracket leg (sl, tp) or the time stop",
                &[("symbol", name.as_str()), ("venue", venue), ("mode", mode)],
            )?;
        }
        for side in [Side::Buy, Side::Sell] {
            let labels = [
                ("symbol", name.as_str()),
                ("venue", venue),
                ("side", side.as_str()),
            ];
            let s = side_index(side);
            metrics.edge_bp[s] = registry.gauge(
                "scalp_signal_edge_bp",
                "Net edge of the last scalp signal (tp - slippage - fee), bps",
                &labels,
            )?;
            metrics.slippage_bp[s] = registry.gauge(
                "scalp_slippage_estimate_bp",
                "Slippage estimate of the last scalp signal from the mid, bps",
                &labels,
            )?;
            metrics.ttl_sec[s] = registry.gauge(
                "scalp_signal_ttl_sec",
                "TTL of the last scalp signal (cancels a limit entry; a market entry has none)",
                &labels,
            )?;
        }
        Ok(metrics)
    }
}
