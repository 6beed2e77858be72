//! Owns: the backtester — one thread that drives the very same book, strategy, risk rails,
//! order manager and portfolio the live engine runs, from recorded data, against the paper
//! venue with latency and queue models, and the reports it writes. Never: reads the wall
//! clock, spawns threads inside a run, or lets anything but its inputs and config shape its
//! output (same inputs and config → byte-identical files).
//!
//! - [`input`]: recorded data to a time-ordered stream of market events and closed bars
//!   (hftbacktest-style captures, journal captures, data.binance.vision CSVs, candle JSON),
//!   several files and symbols merged in time order, with bad data refused or repaired and
//!   counted.
//! - [`latency`]: order round trips read from a kestrel journal, the paper venue's recorded
//!   latencies.
//! - [`driver`]: the event loop — simulated time, feed latency between the venue and the
//!   engine, venue wake-ups for latency queues, strategy timers — and the [`Recording`].
//! - [`report`]: statistics per strategy and total, trades list, JSON / CSV / HTML files
//!   and the terminal summary.
//! - [`config`] and [`sweep`]: the `kestrel backtest` settings and parameter grids run in
//!   parallel (one run per thread, each run still single-threaded and deterministic).

pub mod command;
pub mod config;
pub mod driver;
pub mod input;
pub mod latency;
pub mod recording;
pub mod report;
pub mod setup;
pub mod sweep;
pub mod when;

pub use recording::Recording;
