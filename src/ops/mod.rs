//! Owns: metrics registry, Prometheus exposition, the ops HTTP endpoint and the operator
//! control API (server and `kestrel ctl` client). Never: takes a lock or allocates on behalf
//! of a hot thread.
//!
//! Split of work between threads:
//! - Start-up builds a [`Registry`] and registers every series (allocation happens here only).
//! - Hot threads keep cheap handles: [`Counter`] and [`Gauge`] are cache-padded atomics, and a
//!   [`LatencyRecorder`] records into a thread-local hdrhistogram that it hands to the ops side
//!   through an SPSC ring of pre-allocated histograms (and gets an empty one back).
//! - The ops thread polls an [`OpsServer`], which merges histogram deltas and renders the
//!   Prometheus text format on each scrape; the ops side may lock and allocate.
//!
//! ```no_run
//! use std::time::Duration;
//! use kestrel::ops::{MetricsConfig, OpsServer, Registry};
//!
//! # fn main() -> Result<(), kestrel::ops::OpsError> {
//! let mut registry = Registry::new();
//! let mut tick_to_order = registry.latency_histogram(
//!     "strategy_tick_to_order_latency_seconds",
//!     "Tick to order.",
//!     &[],
//!     &[1, 5, 20, 50],
//! )?; // moved to the order-stage thread
//! tick_to_order.record_ns(4_200);
//! tick_to_order.publish();
//! let mut server = OpsServer::bind(MetricsConfig::default().listen)?;
//! loop {
//!     server.poll(&registry, Duration::from_millis(2)); // ops loop tick
//!     # break;
//! }
//! println!("{:?}", registry.latency_quantiles("strategy_tick_to_order_latency_seconds"));
//! # Ok(())
//! # }
//! ```
//!
//! Units: latency histograms record nanoseconds, take bucket bounds in microseconds and are
//! exported in seconds (`*_seconds`), the Prometheus base unit that `promtool check metrics`
//! insists on; quantile read-outs ([`LatencySummary`]) stay in nanoseconds.

mod control;
mod control_client;
mod control_views;
mod http;
mod latency;
pub mod log;
mod metrics;
mod prometheus;

use std::net::SocketAddr;

/// How long an idle ops loop sleeps between polls of its servers (they never block).
pub const OPS_IDLE: std::time::Duration = std::time::Duration::from_millis(2);

pub use control::{
    risk_limits_from_toml, ControlConfig, ControlServer, DEFAULT_CONTROL_LISTEN, DEFAULT_TOKEN_ENV,
};
pub use control_client::{ctl_send, CtlArgs, CtlCommand, CtlError, CtlReply, CtlRequest};
pub use http::{
    ErrorPage, Handler, HttpLimits, Method, MetricsConfig, OpsServer, Request, Response,
    DEFAULT_LISTEN,
};
pub use latency::{LatencyRecorder, LatencySummary, HISTOGRAM_HIGHEST_NS};
pub use log::LogThrottle;
pub use metrics::{Counter, Gauge, Registry};

/// Everything that can go wrong in the ops module, with the metric or address concerned.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*` or breaks a naming rule.
    #[error("invalid metric name {name:?}: {reason}")]
    InvalidMetricName { name: String, reason: &'static str },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`, is reserved or repeated.
    #[error("metric {metric:?}: invalid label name {label:?}: {reason}")]
    InvalidLabelName {
        metric: String,
        label: String,
        reason: &'static str,
    },
    /// The same name with the same label values was registered twice.
    #[error("metric {name:?} with labels {{{labels}}} is already registered")]
    Duplicate { name: String, labels: String },
    /// A name is already used by a metric of another type, help text or label set.
    #[error("metric {name:?} conflicts with an existing registration: {reason}")]
    Conflict { name: String, reason: String },
    /// Histogram bucket bounds are empty, zero or not strictly increasing.
    #[error("histogram {name:?}: invalid bucket bounds: {reason}")]
    InvalidBuckets { name: String, reason: &'static str },
    /// hdrhistogram refused the configured range.
    #[error("histogram {name:?}: cannot create hdrhistogram: {source}")]
    Histogram {
        name: String,
        source: hdrhistogram::CreationError,
    },
    /// The control API was asked to listen beyond loopback without `allow_non_loopback`.
    #[error("control api: refusing to listen on {addr}, which is not a loopback address (set control.allow_non_loopback = true to allow it)")]
    NonLoopback { addr: SocketAddr },
    /// The ops HTTP listener could not be set up.
    #[error("ops http: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
