//! Owns: strategies — the components that turn market events, closed bars and their own
//! fills into signals — and the dispatcher that runs several of them side by side and turns
//! their signals into order intents. Never: talks to a venue, reads the clock or sizes an
//! order past the risk rails; every intent goes through the order stage's one funnel.

pub mod api;
pub mod bar_window;
pub mod config;
pub mod dispatch;
pub mod ensemble;
pub mod hmm;
pub mod indicators;
pub mod momentum_breakout;
pub mod momentum_rt;
pub mod probe;
pub mod scalp;
pub mod scanner;
pub mod slots;
pub mod testkit;
pub mod trend;

pub use api::{
    CtxView, EntryPlan, Holding, MetricsScope, Reloaded, RestoreError, Signal, Size, Strategy,
    StrategyCtx, StrategyInfo, SymbolSelector, SymbolState,
};
pub use config::{BuiltStrategies, StrategiesConfig};
pub use dispatch::{DispatchCounts, Dispatcher, DispatcherConfig};
pub use ensemble::{EnsembleConfig, EnsembleStrategy};
pub use momentum_breakout::{MomentumBreakoutConfig, MomentumBreakoutStrategy};
pub use momentum_rt::{MomentumRtConfig, MomentumRtStrategy};
pub use probe::{ProbeConfig, ProbeStrategy};
pub use scalp::{ScalpConfig, ScalpStrategy};
pub use scanner::{ScannerConfig, SymbolScanner};
pub use trend::{TrendConfig, TrendStrategy};
