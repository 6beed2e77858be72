//! Owns: market-data sources for the feed thread: venue WebSockets (decoders, reconnect)
//! and replays of recorded captures. Never: touches books, strategies or orders; it only
//! produces `MarketEvent`s and raw frames.

pub mod binance;
pub mod replay;
pub mod source;
pub mod ws;

pub use source::ConfiguredSource;
