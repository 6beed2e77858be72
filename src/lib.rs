//! kestrel: a low-latency autonomous crypto trading engine.
//!
//! Components (book, strategies, risk, order manager, portfolio) are deterministic state
//! machines; `engine` wires them to pinned threads and SPSC rings; `persist` journals what
//! happened; `ops` exports it. See `README.md` and the module docs.

pub mod backtest;
pub mod book;
pub mod config;
pub mod core;
pub mod engine;
pub mod feed;
pub mod oms;
pub mod ops;
pub mod persist;
pub mod risk;
pub mod sim;
pub mod strat;
