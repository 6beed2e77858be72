//! Owns: one data.binance.vision archive file (trades, aggTrades, USDⓈ-M bookTicker,
//! klines; spot and USDⓈ-M dialects; plain or gzip) as backtest items, read through the
//! feed's own `VisionReader`. Never: parses the CSV itself or guesses a symbol that is not
//! in the run's table.
//!
//! The symbol is the file name's first dash-separated part (`BTCUSDT-1m-2026-09-15.csv`)
//! unless the spec gives one; it must be in the run's `SymbolTable`. Trades and aggTrades
//! become trade events (an aggTrade's aggregate id as the trade id), bookTicker rows become
//! bookTicker events (stamped with their event time), all `Stamp::Exchange` with
//! `ts_ns` = the row's ms × 1e6, `exch_ts_ms` = the row's ms and `recv_ns = ts_ns` (the
//! driver adds the feed latency). Klines become the candle path of `candle_path` (four
//! prints, then the bar at its close time).
//!
//! Bad data (by `VisionReader`): an unknown file name or layout, a malformed field, a
//! cut-off gzip file or a row going back in time is an error naming the file and line;
//! an exact repeat of the previous row's id is dropped (`duplicate_rows`), a kline gap is
//! counted (`kline_gaps`, no bar invented).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};

use crate::core::{MarketEvent, MarketEventKind, SymbolId, SymbolTable};
use crate::feed::binance::vision::{VisionKind, VisionReader, VisionRecord};

use super::candle_path::{candle_items, check_candle, CandleItems};
use super::file::{file_name, open_file, ReadBytes};
use super::{InputEvent, InputItem, MarketInput, Stamp};

/// One archive file.
pub struct VisionInput {
    path: PathBuf,
    reader: VisionReader,
    read: ReadBytes,
    size: u64,
    symbol: SymbolId,
    pending: CandleItems,
}

impl std::fmt::Debug for VisionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisionInput")
            .field("path", &self.path)
            .field("counts", &self.reader.counts())
            .finish()
    }
}

impl VisionInput {
    /// Opens `path`; the symbol is `symbol` or the file name's first part, looked up in
    /// `table`.
    pub fn open(path: &Path, symbol: Option<&str>, table: &SymbolTable) -> anyhow::Result<Self> {
        let name = file_name(path);
        let kind = VisionKind::from_file_name(name).ok_or_else(|| {
            anyhow!(
                "{}:0: unknown data.binance.vision archive {name:?}: expected \
                 SYMBOL-trades|aggTrades|bookTicker|<interval>-DATE.csv[.gz]",
                path.display()
            )
        })?;
        let symbol_name = match symbol {
            Some(s) => s.to_owned(),
            None => name.split('-').next().unwrap_or("").to_ascii_uppercase(),
        };
        let Some(symbol) = table.get(symbol_name.as_bytes()) else {
            bail!(
                "{}:0: symbol {symbol_name:?} is not in the run's symbol table",
                path.display()
            );
        };
        let file = open_file(path)?;
        Ok(Self {
            path: path.to_owned(),
            reader: VisionReader::from_reader(path, file.reader, kind, symbol),
            read: file.read,
            size: file.size,
            symbol,
            pending: CandleItems::default(),
        })
    }

    /// The symbol the rows are read for.
    pub fn symbol(&self) -> SymbolId {
        self.symbol
    }
}

/// A market event of an archive row at `time_ms`.
fn market_item(symbol: SymbolId, time_ms: u64, kind: MarketEventKind) -> InputItem {
    let ts_ns = time_ms.saturating_mul(1_000_000);
    InputItem {
        ts_ns,
        stamp: Stamp::Exchange,
        event: InputEvent::Market(MarketEvent {
            symbol,
            recv_ns: ts_ns,
            exch_ts_ms: time_ms,
            kind,
        }),
    }
}

impl MarketInput for VisionInput {
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>> {
        if let Some(item) = self.pending.pop() {
            return Ok(Some(item));
        }
        let symbol = self.symbol;
        let Some(record) = self.reader.next_record()? else {
            return Ok(None);
        };
        Ok(Some(match record {
            VisionRecord::Trade { exch_ts_ms, trade } => {
                market_item(symbol, exch_ts_ms, MarketEventKind::Trade(trade))
            }
            VisionRecord::BookTicker { exch_ts_ms, ticker } => {
                market_item(symbol, exch_ts_ms, MarketEventKind::BookTicker(ticker))
            }
            VisionRecord::Bar(bar) => {
                check_candle(&bar).map_err(|reason| {
                    anyhow!("{}:{}: {reason}", self.path.display(), self.reader.line())
                })?;
                self.pending = candle_items(&bar);
                match self.pending.pop() {
                    Some(item) => item,
                    None => return Ok(None),
                }
            }
        }))
    }

    fn repairs(&self) -> Vec<(String, u64)> {
        let counts = self.reader.counts();
        vec![
            ("duplicate_rows".to_owned(), counts.duplicates),
            ("kline_gaps".to_owned(), counts.gaps),
        ]
    }

    fn progress(&self) -> (u64, u64) {
        (self.read.get(), self.size)
    }
}
