//! Owns: per-symbol market state built from venue events: L2 books kept in sync with each
//! venue's sequencing rule, the venue's top of book, and closed OHLCV bars.
//! Never: I/O, clock reads, threads, or allocation per update (all storage is sized up front).

mod bars;
mod l2;
mod ladder;
mod sync;
#[cfg(test)]
mod sync_tests;
mod ticker;

pub use bars::{
    Bar, BarAggregator, BarConfigError, BarCounters, TradeOutcome, DAY_MINUTES, MAX_TIMEFRAMES,
    MINUTE_MS,
};
pub use l2::L2Book;
pub use sync::{BookSync, SyncConfig, SyncCounters, SyncRule, SyncStatus};
pub use ticker::TopOfBook;
