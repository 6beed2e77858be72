//! Owns: reading Binance's public data archive (data.binance.vision) CSV files — trades,
//! aggTrades, klines and USDⓈ-M bookTicker, in both dialects (spot: no header, `True`, kline
//! times in µs since 2025; USDⓈ-M: a header row, `true`, ms) — into market events and bars,
//! in file order, plain or gzip. Never: guesses silently. An unknown file name or layout, a
//! malformed field, a truncated gzip or rows going back in time are errors naming the file
//! and line; an exact repeat of the previous row's id (or kline open time) is dropped and
//! counted, and a kline gap is counted (the missing bars are not invented).

use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::book::Bar;
use crate::core::event::{BookTicker, TradePrint};
use crate::core::{Notional, Price, Qty, Side, SymbolId};

/// Which archive a file is, from its name (`BTCUSDT-aggTrades-2023-11-17.csv`, `-1m-`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisionKind {
    Trades,
    AggTrades,
    /// Candles of this many minutes.
    Klines {
        timeframe_min: u32,
    },
    BookTicker,
}

impl VisionKind {
    /// The kind named by a file name's second dash-separated part.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let part = name.split('-').nth(1)?;
        Some(match part {
            "trades" => VisionKind::Trades,
            "aggTrades" => VisionKind::AggTrades,
            "bookTicker" => VisionKind::BookTicker,
            interval => VisionKind::Klines {
                timeframe_min: interval_minutes(interval)?,
            },
        })
    }

    /// Columns a row has.
    const fn columns(self) -> &'static [usize] {
        match self {
            VisionKind::Trades => &[6, 7],    // futures 6; spot adds is_best_match
            VisionKind::AggTrades => &[7, 8], // futures 7; spot adds is_best_match
            VisionKind::Klines { .. } => &[12],
            VisionKind::BookTicker => &[7],
        }
    }
}

/// Minutes of a Binance kline interval (`1m` … `1d`, `1w`); `1M` has no fixed length.
pub fn interval_minutes(interval: &str) -> Option<u32> {
    let (count, unit) = interval.split_at(interval.len().checked_sub(1)?);
    let count: u32 = count.parse().ok().filter(|&n| n > 0)?;
    let unit_min = match unit {
        "m" => 1,
        "h" => 60,
        "d" => 1_440,
        "w" => 10_080,
        _ => return None,
    };
    count.checked_mul(unit_min)
}

/// The most columns any archive row has (klines: 12).
const MAX_COLUMNS: usize = 12;

/// One row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisionRecord {
    /// A trade (trades) or aggregated trade (aggTrades; `trade_id` is the aggregate id).
    Trade { exch_ts_ms: u64, trade: TradePrint },
    /// A best bid/offer change (USDⓈ-M bookTicker; `event time` as the stamp).
    BookTicker { exch_ts_ms: u64, ticker: BookTicker },
    /// A closed candle.
    Bar(Bar),
}

impl VisionRecord {
    /// The row's time, ms since the UTC epoch (a bar's open time).
    pub fn time_ms(&self) -> u64 {
        match self {
            VisionRecord::Trade { exch_ts_ms, .. }
            | VisionRecord::BookTicker { exch_ts_ms, .. } => *exch_ts_ms,
            VisionRecord::Bar(bar) => bar.open_time_ms,
        }
    }
}

/// What went wrong, and where.
#[derive(Debug)]
pub struct VisionError {
    pub path: PathBuf,
    /// 1-based line (0: before any line was read).
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for VisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

impl std::error::Error for VisionError {}

/// What a reader skipped or noticed, by count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisionCounts {
    pub rows: u64,
    /// Rows repeating the previous row's id (or kline open time) exactly: dropped.
    pub duplicates: u64,
    /// Kline rows that start later than one interval after the previous one.
    pub gaps: u64,
}

/// Reads one archive file row by row.
pub struct VisionReader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    kind: VisionKind,
    symbol: SymbolId,
    line: u64,
    text: String,
    last_id: Option<u64>,
    last_time_ms: u64,
    counts: VisionCounts,
}

impl VisionReader {
    /// Opens `path` (`.csv` or `.csv.gz`) for `symbol`; the kind comes from the file name.
    pub fn open(path: &Path, symbol: SymbolId) -> Result<Self, VisionError> {
        let error = |reason: String| VisionError {
            path: path.to_owned(),
            line: 0,
            reason,
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| error("no file name".to_owned()))?;
        let kind = VisionKind::from_file_name(name).ok_or_else(|| {
            error(format!(
                "unknown archive {name:?}: expected SYMBOL-trades|aggTrades|bookTicker|<interval>-DATE.csv[.gz]"
            ))
        })?;
        let input = crate::feed::replay::open_capture(path).map_err(|e| error(e.to_string()))?;
        Ok(Self::from_reader(path, input, kind, symbol))
    }

    /// Reads `kind` rows from `input`, named `path` in errors.
    pub fn from_reader(
        path: &Path,
        input: Box<dyn BufRead + Send>,
        kind: VisionKind,
        symbol: SymbolId,
    ) -> Self {
        Self {
            path: path.to_owned(),
            input,
            kind,
            symbol,
            line: 0,
            text: String::with_capacity(256),
            last_id: None,
            last_time_ms: 0,
            counts: VisionCounts::default(),
        }
    }

    /// The 1-based line last read (0 before the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What was read, dropped and noticed so far.
    pub fn counts(&self) -> VisionCounts {
        self.counts
    }

    fn error(&self, reason: impl Into<String>) -> VisionError {
        VisionError {
            path: self.path.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next row, `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<VisionRecord>, VisionError> {
        loop {
            self.text.clear();
            match self.input.read_line(&mut self.text) {
                Ok(0) => return Ok(None),
                Ok(_) => self.line += 1,
                // A truncated gzip stream or bytes that are not text end here, with the line.
                Err(e) => return Err(self.error(format!("cannot read: {e}"))),
            }
            let row = self.text.trim_end_matches(['\n', '\r']);
            if row.is_empty() {
                continue;
            }
            // Futures files start with a header; spot files do not. Only line 1 may be one.
            if self.line == 1 && row.starts_with(|c: char| c.is_ascii_alphabetic()) {
                continue;
            }
            // Split into a fixed array: no allocation per row (a backtest reads millions).
            let mut fields = [""; MAX_COLUMNS];
            let mut count = 0;
            for field in row.split(',') {
                if let Some(slot) = fields.get_mut(count) {
                    *slot = field;
                }
                count += 1;
            }
            if !self.kind.columns().contains(&count) {
                return Err(self.error(format!(
                    "{count} columns, a {:?} row has {:?}",
                    self.kind,
                    self.kind.columns()
                )));
            }
            let record = self.parse(&fields[..count])?;
            if let Some(record) = self.in_order(record)? {
                self.counts.rows += 1;
                return Ok(Some(record));
            }
        }
    }

    fn parse(&self, f: &[&str]) -> Result<VisionRecord, VisionError> {
        let int = |i: usize, what: &str| -> Result<u64, VisionError> {
            f[i].trim()
                .parse::<u64>()
                .map_err(|_| self.error(format!("{what} {:?} is not an integer", f[i])))
        };
        let price = |i: usize, what: &str| {
            Price::parse(f[i].trim()).map_err(|e| self.error(format!("{what} {:?}: {e}", f[i])))
        };
        let qty = |i: usize, what: &str| {
            Qty::parse(f[i].trim()).map_err(|e| self.error(format!("{what} {:?}: {e}", f[i])))
        };
        let flag = |i: usize, what: &str| match f[i].trim() {
            "true" | "True" => Ok(true),
            "false" | "False" => Ok(false),
            other => Err(self.error(format!("{what} {other:?} is not true/false"))),
        };
        // Spot archives moved to µs on 2025-01-01; ms stamps stay below 1e14 until year 5138.
        let ms = |stamp: u64| {
            if stamp >= 100_000_000_000_000 {
                stamp / 1_000
            } else {
                stamp
            }
        };
        let trade = |id: u64, time: u64, buyer_maker: bool, price: Price, qty: Qty| {
            VisionRecord::Trade {
                exch_ts_ms: ms(time),
                trade: TradePrint {
                    trade_id: id,
                    price,
                    qty,
                    // The buyer was the maker: the seller took liquidity.
                    aggressor: if buyer_maker { Side::Sell } else { Side::Buy },
                },
            }
        };
        Ok(match self.kind {
            VisionKind::Trades => {
                // id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]
                let id = int(0, "id")?;
                trade(
                    id,
                    int(4, "time")?,
                    flag(5, "is_buyer_maker")?,
                    price(1, "price")?,
                    qty(2, "qty")?,
                )
            }
            VisionKind::AggTrades => {
                // agg_id, price, qty, first_id, last_id, time, is_buyer_maker[, is_best_match]
                let id = int(0, "agg_trade_id")?;
                trade(
                    id,
                    int(5, "time")?,
                    flag(6, "is_buyer_maker")?,
                    price(1, "price")?,
                    qty(2, "qty")?,
                )
            }
            VisionKind::BookTicker => VisionRecord::BookTicker {
                // update_id, bid, bid_qty, ask, ask_qty, transaction_time, event_time
                exch_ts_ms: ms(int(6, "event_time")?),
                ticker: BookTicker {
                    update_id: int(0, "update_id")?,
                    bid_price: price(1, "best_bid_price")?,
                    bid_qty: qty(2, "best_bid_qty")?,
                    ask_price: price(3, "best_ask_price")?,
                    ask_qty: qty(4, "best_ask_qty")?,
                },
            },
            VisionKind::Klines { timeframe_min } => {
                // open_time, o, h, l, c, volume, close_time, quote_volume, count, …
                let open_time_ms = ms(int(0, "open_time")?);
                let quote_volume = Notional::parse(f[7].trim())
                    .map_err(|e| self.error(format!("quote_volume {:?}: {e}", f[7])))?;
                let count = int(8, "count")?;
                VisionRecord::Bar(Bar {
                    symbol: self.symbol,
                    timeframe_min,
                    open_time_ms,
                    close_time_ms: open_time_ms + u64::from(timeframe_min) * 60_000,
                    open: price(1, "open")?,
                    high: price(2, "high")?,
                    low: price(3, "low")?,
                    close: price(4, "close")?,
                    volume: qty(5, "volume")?,
                    quote_volume,
                    trade_count: u32::try_from(count)
                        .map_err(|_| self.error(format!("count {count} is too large")))?,
                })
            }
        })
    }

    /// Drops an exact repeat of the previous row, counts kline gaps, refuses rows that go
    /// back in time or id.
    fn in_order(&mut self, record: VisionRecord) -> Result<Option<VisionRecord>, VisionError> {
        let time_ms = record.time_ms();
        let id = match record {
            VisionRecord::Trade { trade, .. } => trade.trade_id,
            VisionRecord::BookTicker { ticker, .. } => ticker.update_id,
            VisionRecord::Bar(bar) => bar.open_time_ms,
        };
        if let Some(last) = self.last_id {
            if id == last {
                self.counts.duplicates += 1;
                return Ok(None);
            }
            if id < last || time_ms < self.last_time_ms {
                return Err(self.error(format!(
                    "out of order: id/time {id}/{time_ms} after {last}/{}",
                    self.last_time_ms
                )));
            }
            if let VisionRecord::Bar(bar) = record {
                if bar.open_time_ms > last + u64::from(bar.timeframe_min) * 60_000 {
                    self.counts.gaps += 1;
                }
            }
        }
        self.last_id = Some(id);
        self.last_time_ms = time_ms;
        Ok(Some(record))
    }
}

impl Iterator for VisionReader {
    type Item = Result<VisionRecord, VisionError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}
