//! Owns: candle JSON files — freqtrade's `[[open_ms, o, h, l, c, volume], …]` (JSON
//! numbers) and Binance REST klines `[[openTime, "o", "h", "l", "c", "v", closeTime,
//! "quoteVolume", count, …], …]` (decimal strings) — read exactly (no binary floating point:
//! a number's text, exponent included, is converted to the fixed-point scale) and replayed
//! as the candle path of `candle_path`. Never: rounds a price, or guesses a symbol or
//! timeframe it cannot read from the spec, the file name or the rows.
//!
//! Both layouts are the same generic shape, an array of arrays whose columns are: 0 open
//! time (integer ms), 1–4 open/high/low/close, 5 base volume, and optionally 6 close time
//! (ms, inclusive: the bar ends 1 ms later), 7 quote volume, 8 trade count; an element is a
//! JSON number or a string holding a decimal. Without a quote volume the bar's is the
//! synthetic prints' (Σ price × qty); without a count, 4 (0 for an empty candle).
//!
//! Symbol: the spec's, else the file name's first dash-separated part (`BTCUSDT-1h-….json`;
//! with `_` removed when that is what the table holds: `BTC_USDT-1m.json`), which must be
//! in the run's table. Timeframe: the spec's, else the first name part that is an interval
//! (`UNITTEST_BTC-1m.json` → 1m), else the first row's close time − open time.
//!
//! Bad data: a file that is not this shape, a malformed element, a candle whose high/low do
//! not contain its open/close, a close time that does not match the timeframe or a row going
//! back in time is an error naming the file, the line and the candle's index; an exact
//! repeat of the previous row is dropped (`duplicate_rows`); a missing candle is counted
//! (`kline_gaps`, no bar invented).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::book::Bar;
use crate::core::{Notional, Price, Qty, SymbolId, SymbolTable};
use crate::feed::binance::vision::interval_minutes;

use super::candle_path::{candle_items, check_candle, path_quote_volume, CandleItems};
use super::file::{file_name, open_file};
use super::{InputItem, MarketInput};

/// Most columns read per row (the rest are skipped).
const MAX_COLUMNS: usize = 9;
/// Longest decimal text accepted after exponent expansion.
const MAX_DECIMAL_TEXT: usize = 96;

/// One candle JSON file.
pub struct CandleFileInput {
    path: PathBuf,
    data: Vec<u8>,
    /// Size of the file on disk (compressed size for gzip).
    size: u64,
    pos: usize,
    /// 1-based line at `pos`.
    line: u64,
    /// Candle rows read so far.
    rows: u64,
    symbol: SymbolId,
    timeframe_min: Option<u32>,
    last: Option<Bar>,
    duplicates: u64,
    gaps: u64,
    pending: CandleItems,
    finished: bool,
}

impl std::fmt::Debug for CandleFileInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleFileInput")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

/// A row's columns, as byte ranges of the file (strings without their quotes).
#[derive(Clone, Copy, Default)]
struct Row {
    columns: [(usize, usize); MAX_COLUMNS],
    count: usize,
    line: u64,
}

impl CandleFileInput {
    /// Opens `path` (`.json` or `.json.gz`, read whole) for `symbol` and `timeframe_min`,
    /// each taken from the file name (and rows) when not given.
    pub fn open(
        path: &Path,
        symbol: Option<&str>,
        timeframe_min: Option<u32>,
        table: &SymbolTable,
    ) -> anyhow::Result<Self> {
        let mut file = open_file(path)?;
        let mut data = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        file.reader
            .read_to_end(&mut data)
            .map_err(|e| anyhow!("{}:0: cannot read (cut-off file?): {e}", path.display()))?;
        let name = file_name(path);
        let stem = name
            .trim_end_matches(".gz")
            .trim_end_matches(".json")
            .trim_end_matches(".JSON");
        let symbol = match symbol {
            Some(s) => table
                .get(s.to_ascii_uppercase().as_bytes())
                .ok_or_else(|| {
                    anyhow!(
                        "{}:0: symbol {s:?} is not in the run's symbol table",
                        path.display()
                    )
                })?,
            None => {
                let first = stem.split('-').next().unwrap_or("").to_ascii_uppercase();
                let joined = first.replace('_', "");
                table
                    .get(first.as_bytes())
                    .or_else(|| table.get(joined.as_bytes()))
                    .ok_or_else(|| {
                        anyhow!(
                            "{}:0: symbol {first:?} (from the file name) is not in the run's \
                             symbol table; give the symbol (SYMBOL:candles:PATH)",
                            path.display()
                        )
                    })?
            }
        };
        let timeframe_min =
            timeframe_min.or_else(|| stem.split('-').skip(1).find_map(interval_minutes));
        let mut input = Self {
            path: path.to_owned(),
            data,
            size: file.size,
            pos: 0,
            line: 1,
            rows: 0,
            symbol,
            timeframe_min,
            last: None,
            duplicates: 0,
            gaps: 0,
            pending: CandleItems::default(),
            finished: false,
        };
        input.skip_ws();
        if input.peek() != Some(b'[') {
            return Err(input.error("not a candle file: expected `[` (an array of candles)"));
        }
        input.pos += 1;
        Ok(input)
    }

    /// The symbol the candles are read for.
    pub fn symbol(&self) -> SymbolId {
        self.symbol
    }

    /// The timeframe in minutes (known after the first candle when read from the rows).
    pub fn timeframe_min(&self) -> Option<u32> {
        self.timeframe_min
    }

    fn error(&self, reason: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}:{}: {reason}", self.path.display(), self.line)
    }

    fn row_error(&self, row: &Row, reason: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{}:{}: candle {}: {reason}",
            self.path.display(),
            row.line,
            self.rows
        )
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    /// The next row, `None` after the closing `]`.
    fn next_row(&mut self) -> anyhow::Result<Option<Row>> {
        self.skip_ws();
        if self.rows > 0 {
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => return self.end(),
                _ => return Err(self.error("expected `,` or `]` after a candle")),
            }
        } else if self.peek() == Some(b']') {
            return self.end();
        }
        if self.peek() != Some(b'[') {
            return Err(self.error("expected `[` (a candle row)"));
        }
        self.pos += 1;
        let mut row = Row {
            line: self.line,
            ..Row::default()
        };
        loop {
            self.skip_ws();
            let (start, end) = match self.peek() {
                Some(b'"') => {
                    let start = self.pos + 1;
                    let len = self.data[start..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b == b'\n')
                        .ok_or_else(|| self.error("unterminated string"))?;
                    if self.data[start + len] != b'"' {
                        return Err(self.error("a candle string must be plain decimal text"));
                    }
                    self.pos = start + len + 1;
                    (start, start + len)
                }
                Some(b) if b == b'-' || b.is_ascii_digit() => {
                    let start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    {
                        self.pos += 1;
                    }
                    (start, self.pos)
                }
                _ => return Err(self.error("expected a number or a decimal string")),
            };
            if let Some(slot) = row.columns.get_mut(row.count) {
                *slot = (start, end);
            }
            row.count += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.rows += 1;
                    return Ok(Some(row));
                }
                _ => return Err(self.error("expected `,` or `]` in a candle row")),
            }
        }
    }

    fn end(&mut self) -> anyhow::Result<Option<Row>> {
        self.pos += 1;
        self.skip_ws();
        if self.pos < self.data.len() {
            return Err(self.error("unexpected text after the candle array"));
        }
        Ok(None)
    }

    fn text(&self, row: &Row, column: usize) -> &[u8] {
        let (start, end) = row.columns[column];
        &self.data[start..end]
    }

    fn integer(&self, row: &Row, column: usize, what: &str) -> anyhow::Result<u64> {
        let text = self.text(row, column);
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| {
                self.row_error(
                    row,
                    format!(
                        "{what} {:?} is not a whole number",
                        String::from_utf8_lossy(text)
                    ),
                )
            })
    }

    fn decimal(&self, row: &Row, column: usize, what: &str) -> anyhow::Result<i128> {
        let text = self.text(row, column);
        let mut buf = [0u8; MAX_DECIMAL_TEXT];
        let plain = plain_decimal(text, &mut buf).ok_or_else(|| {
            self.row_error(
                row,
                format!(
                    "{what} {:?} is not a decimal",
                    String::from_utf8_lossy(text)
                ),
            )
        })?;
        Price::parse_bytes(plain).map(Price::raw).map_err(|e| {
            self.row_error(
                row,
                format!("{what} {:?}: {e}", String::from_utf8_lossy(text)),
            )
        })
    }

    /// The bar of a row, checked.
    fn bar(&mut self, row: &Row) -> anyhow::Result<Bar> {
        if row.count < 6 {
            return Err(self.row_error(
                row,
                format!(
                    "{} columns, a candle has at least 6 (open time, o, h, l, c, volume)",
                    row.count
                ),
            ));
        }
        let open_time_ms = self.integer(row, 0, "open time")?;
        let close_time = if row.count > 6 {
            Some(self.integer(row, 6, "close time")?)
        } else {
            None
        };
        if self.timeframe_min.is_none() {
            let span = close_time.map(|c| (c + 1).saturating_sub(open_time_ms));
            self.timeframe_min = span
                .filter(|s| *s > 0 && s % 60_000 == 0)
                .and_then(|s| u32::try_from(s / 60_000).ok());
        }
        let Some(timeframe_min) = self.timeframe_min else {
            return Err(self.row_error(
                row,
                "no timeframe: give it (SYMBOL:candles@1h:PATH) or name the file SYMBOL-1h…",
            ));
        };
        let close_time_ms = open_time_ms + u64::from(timeframe_min) * 60_000;
        if let Some(close) = close_time {
            if close + 1 != close_time_ms {
                return Err(self.row_error(
                    row,
                    format!(
                        "close time {close} does not end a {timeframe_min}-minute candle \
                         opened at {open_time_ms}"
                    ),
                ));
            }
        }
        let mut bar = Bar {
            symbol: self.symbol,
            timeframe_min,
            open_time_ms,
            close_time_ms,
            open: Price::from_raw(self.decimal(row, 1, "open")?),
            high: Price::from_raw(self.decimal(row, 2, "high")?),
            low: Price::from_raw(self.decimal(row, 3, "low")?),
            close: Price::from_raw(self.decimal(row, 4, "close")?),
            volume: Qty::from_raw(self.decimal(row, 5, "volume")?),
            quote_volume: Notional::ZERO,
            trade_count: 0,
        };
        check_candle(&bar).map_err(|reason| self.row_error(row, reason))?;
        bar.quote_volume = if row.count > 7 {
            Notional::from_raw(self.decimal(row, 7, "quote volume")?)
        } else {
            path_quote_volume(&bar)
        };
        bar.trade_count = if row.count > 8 {
            let count = self.integer(row, 8, "trade count")?;
            u32::try_from(count).map_err(|_| self.row_error(row, "trade count too large"))?
        } else if bar.volume.is_positive() {
            4
        } else {
            0
        };
        Ok(bar)
    }
}

/// Expands JSON number text (`9.417e-05`, `3.0`, `-1E2`) or decimal text into plain decimal
/// text in `buf`; `None` when it is neither.
fn plain_decimal<'a>(text: &[u8], buf: &'a mut [u8; MAX_DECIMAL_TEXT]) -> Option<&'a [u8]> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => {
            let exp = std::str::from_utf8(&body[at + 1..]).ok()?;
            (&body[..at], exp.parse::<i32>().ok()?)
        }
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    if frac_part.is_empty() && mantissa.len() != int_part.len() {
        return None; // `1.` is not JSON
    }
    let digits = int_part.len() + frac_part.len();
    let digit = |i: usize| {
        if i < int_part.len() {
            int_part[i]
        } else {
            frac_part[i - int_part.len()]
        }
    };
    // Position of the decimal point within the digits after the exponent shift.
    let point = i64::try_from(int_part.len()).ok()? + i64::from(exponent);
    let mut len = 0;
    let mut put = |b: u8, buf: &mut [u8; MAX_DECIMAL_TEXT]| -> Option<()> {
        *buf.get_mut(len)? = b;
        len += 1;
        Some(())
    };
    if negative {
        put(b'-', buf)?;
    }
    if point <= 0 {
        put(b'0', buf)?;
        put(b'.', buf)?;
        for _ in 0..(-point) {
            put(b'0', buf)?;
        }
        for i in 0..digits {
            put(digit(i), buf)?;
        }
    } else {
        let point = usize::try_from(point).ok()?;
        for i in 0..digits.max(point) {
            if i == point {
                put(b'.', buf)?;
            }
            put(if i < digits { digit(i) } else { b'0' }, buf)?;
        }
    }
    Some(&buf[..len])
}

impl MarketInput for CandleFileInput {
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>> {
        loop {
            if let Some(item) = self.pending.pop() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            let Some(row) = self.next_row()? else {
                self.finished = true;
                return Ok(None);
            };
            let bar = self.bar(&row)?;
            if let Some(last) = self.last {
                if bar.open_time_ms == last.open_time_ms {
                    if bar == last {
                        self.duplicates += 1;
                        continue;
                    }
                    return Err(self.row_error(
                        &row,
                        format!("a second, different candle opened at {}", bar.open_time_ms),
                    ));
                }
                if bar.open_time_ms < last.open_time_ms {
                    return Err(self.row_error(
                        &row,
                        format!(
                            "out of order: opened at {} after a candle opened at {}",
                            bar.open_time_ms, last.open_time_ms
                        ),
                    ));
                }
                if bar.open_time_ms > last.close_time_ms {
                    self.gaps += 1;
                } else if bar.open_time_ms < last.close_time_ms {
                    return Err(self.row_error(
                        &row,
                        format!(
                            "opens at {} inside the previous candle (closing at {})",
                            bar.open_time_ms, last.close_time_ms
                        ),
                    ));
                }
            }
            self.last = Some(bar);
            self.pending = candle_items(&bar);
        }
    }

    fn repairs(&self) -> Vec<(String, u64)> {
        vec![
            ("duplicate_rows".to_owned(), self.duplicates),
            ("kline_gaps".to_owned(), self.gaps),
        ]
    }

    fn progress(&self) -> (u64, u64) {
        let len = self.data.len().max(1) as u128;
        let done = (self.pos as u128 * u128::from(self.size) / len) as u64;
        (done.min(self.size), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Option<String> {
        let mut buf = [0u8; MAX_DECIMAL_TEXT];
        plain_decimal(text.as_bytes(), &mut buf).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    #[test]
    fn json_numbers_expand_to_exact_decimal_text() {
        assert_eq!(plain("9.417e-05").as_deref(), Some("0.00009417"));
        assert_eq!(plain("1e-08").as_deref(), Some("0.00000001"));
        assert_eq!(plain("3.0").as_deref(), Some("3.0"));
        assert_eq!(plain("108.14853839").as_deref(), Some("108.14853839"));
        assert_eq!(plain("1.5E2").as_deref(), Some("150"));
        assert_eq!(plain("12e1").as_deref(), Some("120"));
        assert_eq!(plain("-2.5e-1").as_deref(), Some("-0.25"));
        assert_eq!(plain("0.01634790").as_deref(), Some("0.01634790"));
        assert_eq!(plain("1.").as_deref(), None);
        assert_eq!(plain("abc").as_deref(), None);
        assert_eq!(plain("1e").as_deref(), None);
        assert_eq!(plain("").as_deref(), None);
    }
}
