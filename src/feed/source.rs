//! Owns: the market-data source `kestrel run` was configured with (a capture replay or a
//! live venue feed) behind one type the runner can hold. Never: adds behaviour of its own;
//! every call goes straight to the chosen source.

use crate::core::{MarketEvent, SymbolTable};
use crate::engine::stage::{FrameSink, MarketSource, Outbox, SourceState};

use super::binance::live::{BinanceFeedConfig, BinanceFeedSource, LiveError};
use super::replay::{CaptureReplay, ReplayConfig};

/// The configured market-data source.
pub enum ConfiguredSource {
    /// A recorded capture, replayed.
    Replay(CaptureReplay),
    /// Binance's WebSocket streams.
    Binance(Box<BinanceFeedSource>),
}

impl std::fmt::Debug for ConfiguredSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Replay(_) => f.write_str("ConfiguredSource::Replay"),
            Self::Binance(source) => f
                .debug_tuple("ConfiguredSource::Binance")
                .field(source)
                .finish(),
        }
    }
}

/// Why the configured source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("replay: {0}")]
    Replay(#[from] super::replay::ReplayError),
    #[error("binance feed: {0}")]
    Binance(#[from] LiveError),
    #[error("binance feed: symbol {0:?}: {1}")]
    Symbol(String, crate::core::symbol::SymbolError),
    #[error("no market-data source configured")]
    Missing,
}

impl ConfiguredSource {
    /// Opens the one configured source and the symbol table it trades: the live feed's
    /// symbols, or none for a replay (frames are captured, not decoded).
    pub fn open(
        replay: Option<&ReplayConfig>,
        binance: Option<&BinanceFeedConfig>,
    ) -> Result<(Self, SymbolTable, Vec<String>), SourceError> {
        let mut symbols = SymbolTable::new();
        match (replay, binance) {
            (_, Some(config)) => {
                for name in &config.symbols {
                    symbols
                        .intern(&name.to_ascii_uppercase())
                        .map_err(|e| SourceError::Symbol(name.clone(), e))?;
                }
                let source = BinanceFeedSource::new(config.clone(), &symbols)?;
                let names = source.stream_names().to_vec();
                Ok((Self::Binance(Box::new(source)), symbols, names))
            }
            (Some(config), None) => {
                let source = CaptureReplay::open(config)?;
                Ok((Self::Replay(source), symbols, vec![config.stream.clone()]))
            }
            (None, None) => Err(SourceError::Missing),
        }
    }
}

impl ConfiguredSource {
    /// Registers the source's own metric series (the live feed's health; a replay has none).
    pub fn attach_metrics(
        &mut self,
        registry: &mut crate::ops::Registry,
    ) -> Result<(), crate::ops::OpsError> {
        match self {
            Self::Replay(_) => Ok(()),
            Self::Binance(source) => source.attach_metrics(registry),
        }
    }
}

impl MarketSource for ConfiguredSource {
    #[inline]
    fn poll(
        &mut self,
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> SourceState {
        match self {
            Self::Replay(source) => source.poll(now_ns, events, frames),
            Self::Binance(source) => source.poll(now_ns, events, frames),
        }
    }
}
