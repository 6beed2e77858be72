//! Owns: strategies — the components that turn market events, closed bars and their own
//! fills into signals — and the dispatcher that runs several of them side by side and turns
//! their signals into order intents. Never: talks to a venue, reads the clock or sizes an
//! order past the risk rails; every intent goes through the order stage's one funnel.

pub mod api;
pub mod dispatch;
pub mod ensemble;
pub mod hmm;
pub mod indicators;
pub mod probe;
pub mod testkit;

pub use api::{
    CtxView, EntryPlan, Holding, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx,
    StrategyInfo, SymbolSelector, SymbolState,
};
pub use dispatch::{DispatchCounts, Dispatcher, DispatcherConfig};
pub use ensemble::{EnsembleConfig, EnsembleStrategy};
pub use probe::{ProbeConfig, ProbeStrategy};
