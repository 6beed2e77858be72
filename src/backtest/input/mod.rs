//! Owns: the backtest's market data — recorded files turned into one time-ordered stream of
//! market events and closed bars. Never: decides what an event means for trading, or
//! reorders, invents or drops data silently (every repair is counted and reported).
//!
//! - [`capture`]: hftbacktest-style captures and journal directories, through the live
//!   feed's own frame handling (`feed::binance::frames`): the live feed's exact events.
//! - [`vision`]: data.binance.vision CSV archives (spot and USDⓈ-M dialects).
//! - [`candles`]: candle JSON (freqtrade, Binance REST klines).
//! - [`candle_path`]: the documented price path candles are replayed as.
//! - [`merge`] and [`spec`]: `open_inputs` — several files and symbols merged in time
//!   order within a window.
//!
//! Clocks: captures and journals are stamped `Stamp::Received`, archives and candles
//! `Stamp::Exchange`; the merge orders items on `ts_ns` as given (it does not shift one clock
//! onto the other: the driver applies the feed latency per stamp).
//!
//! Repairs, by name (summed over the inputs by `MergedInput::repairs`): `duplicate_rows`
//! (exact repeats dropped), `kline_gaps` (missing candles, none invented), and for captures
//! the live feed's own drops: `foreign_symbol`, `ticker_duplicates`, `trade_duplicates`,
//! `decode_errors`, `ignored_messages`, `snapshot_decode_errors`, `unassigned_snapshots`,
//! `book_gaps` and `book_resyncs`. Everything else that is wrong (rows back in time, unknown
//! formats or file names, malformed fields, cut-off gzip files, symbols not in the run's
//! table) is an error naming the file and line.

pub mod candle_path;
pub mod candles;
pub mod capture;
mod file;
pub mod merge;
pub mod spec;
pub mod vision;

pub use candles::CandleFileInput;
pub use capture::{guess_capture_market, CaptureInput};
pub use merge::MergedInput;
pub use spec::{open_input, open_inputs, InputKind, InputOptions, InputSpec};
pub use vision::VisionInput;

use crate::book::Bar;
use crate::core::MarketEvent;

/// Which clock an item's time was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// The recorder's local receive time (hftbacktest-style captures, journal captures):
    /// when the engine saw it; the venue had it `feed latency` earlier.
    Received,
    /// The venue's own event time (data.binance.vision archives, candles): when the venue
    /// had it; the engine sees it `feed latency` later.
    Exchange,
}

/// What an item carries.
// Items are the market events themselves (as `MarketEventKind` keeps `BookTop` inline):
// boxing would allocate per event on the replay's hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputEvent {
    /// A market event exactly as the live feed would publish it (book tops after each applied
    /// diff, tickers, trades).
    Market(MarketEvent),
    /// A closed candle, delivered at its close time.
    Bar(Bar),
}

/// One item of the merged stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputItem {
    /// ns since the UTC epoch, on the clock `stamp` names; non-decreasing along a stream.
    pub ts_ns: u64,
    pub stamp: Stamp,
    pub event: InputEvent,
}

/// A source of items in time order.
pub trait MarketInput {
    /// The next item, `Ok(None)` at the end. Errors name the file and line.
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>>;
    /// Repairs made so far, by name (`duplicate_rows`, `kline_gaps`, …), for the report.
    fn repairs(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// Input consumed and total, in bytes of the files read (for a progress bar; 0 total when
    /// unknown).
    fn progress(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// Items already in memory (tests, benchmarks, pre-decoded data).
#[derive(Debug, Clone, Default)]
pub struct VecInput {
    items: Vec<InputItem>,
    next: usize,
}

impl VecInput {
    /// Replays `items` in the order given (they must be in time order).
    pub fn new(items: Vec<InputItem>) -> Self {
        Self { items, next: 0 }
    }
}

impl MarketInput for VecInput {
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>> {
        let item = self.items.get(self.next).copied();
        self.next += usize::from(item.is_some());
        Ok(item)
    }

    fn progress(&self) -> (u64, u64) {
        (self.next as u64, self.items.len() as u64)
    }
}
