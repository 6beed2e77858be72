//! Owns: recorded Binance stream frames — hftbacktest-style capture files (`<recv_ns> <raw
//! JSON>` per line, plain or gzip) and the engine's own journal captures (`MarketFrame`
//! records) — replayed through the live feed's own frame handling
//! (`feed::binance::frames::FrameBooks`), so they yield exactly the market events the live
//! feed published. Never: parses venue JSON itself (the feed/binance API does), or skips a
//! frame before the window start without applying it (the books need their history).
//!
//! Items are `Stamp::Received`; `ts_ns` is the recorded receive time and each event's
//! `recv_ns` equals it. Capture files carry a UTC-epoch receive stamp per line; journal
//! records carry the engine's monotonic receive time and the writer's wall offset, and the
//! record's `event_ns` (receive time on the UTC epoch) is used.
//!
//! REST depth snapshots recorded among the frames (lines starting `{"lastUpdateId"`) are
//! applied as the live source applies a fetched snapshot, to: the spec's symbol when one is
//! given, else the only configured symbol, else the symbol of the last depth diff read
//! before it (a snapshot with none of these is counted as `unassigned_snapshots`). The live
//! source captures each REST snapshot it applies (stream `binance-<market>/rest-snapshot/
//! <SYMBOL>`) at the point it applied it, so a journal capture syncs where the live run did.
//!
//! Bad data: a line that is not `<integer> <frame>` or a receive time going back in time is
//! an error naming the file and line (the bundled captures have no backward step); an exact
//! repeat of the previous line is dropped (`duplicate_rows`); frames the live feed would drop
//! are dropped and counted like it does (decode errors, foreign symbols — frames of symbols
//! outside the run's symbol table included —, duplicate tickers and trades); a cut-off gzip
//! file is an error naming the file and the line after the last whole one.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use crate::core::{MarketEvent, SymbolId, SymbolTable};
use crate::feed::binance::frames::{is_rest_snapshot, market_of_frame, FrameBooks};
use crate::feed::binance::{BinanceMarket, DecodeErrorKind};
use crate::persist::payload::JournalEntry;
use crate::persist::{JournalReader, RecordType};

use super::file::{open_file, trim_line_end, OpenedFile};
use super::{InputEvent, InputItem, MarketInput, Stamp};

/// Lines a market guess looks at before giving up.
const GUESS_LINES: usize = 10_000;

/// Where the frames come from.
enum Frames {
    Lines(OpenedFile),
    Journal {
        reader: JournalReader,
        /// Bytes of journal payload read (for progress; the total is the directory's size).
        read: u64,
        size: u64,
    },
}

/// One capture file or journal directory, replayed as the live feed would publish it.
pub struct CaptureInput {
    path: PathBuf,
    frames: Frames,
    books: FrameBooks,
    /// The current frame (line without its stamp, or journal record bytes) and the previous
    /// whole line, swapped each line so neither reallocates once warm.
    line: Vec<u8>,
    previous: Vec<u8>,
    /// 1-based line (file) or record count (journal) of the current frame.
    line_no: u64,
    last_ts: u64,
    /// Snapshot target fixed by the spec or a single configured symbol.
    snapshot_index: Option<usize>,
    last_depth_symbol: Option<SymbolId>,
    events: Vec<MarketEvent>,
    next_event: usize,
    ts_ns: u64,
    duplicate_rows: u64,
    unassigned_snapshots: u64,
    snapshots: u64,
    finished: bool,
}

impl std::fmt::Debug for CaptureInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureInput")
            .field("path", &self.path)
            .field("line", &self.line_no)
            .field("books", &self.books)
            .finish()
    }
}

impl CaptureInput {
    /// Opens a capture file (`journal == false`) or journal directory for `market`'s frames.
    /// With `symbol`, only that symbol's events are published (others are foreign); without,
    /// every symbol of `table`.
    pub fn open(
        path: &Path,
        journal: bool,
        market: BinanceMarket,
        symbol: Option<SymbolId>,
        table: &SymbolTable,
    ) -> anyhow::Result<Self> {
        let frames = if journal {
            let reader = JournalReader::open(path, 0)
                .with_context(|| format!("cannot open journal {}", path.display()))?;
            Frames::Journal {
                reader,
                read: 0,
                size: directory_size(path),
            }
        } else {
            Frames::Lines(open_file(path)?)
        };
        let symbols: Vec<SymbolId> = match symbol {
            Some(id) => vec![id],
            None => (0..table.len() as u32).map(SymbolId).collect(),
        };
        if symbols.is_empty() {
            bail!("{}: the run's symbol table is empty", path.display());
        }
        let mut books = FrameBooks::new(
            format!("binance-{} {}", market.as_str(), path.display()),
            market,
            &symbols,
            table,
        );
        books.set_log_bad_frames(false);
        Ok(Self {
            path: path.to_owned(),
            frames,
            books,
            line: Vec::with_capacity(64 << 10),
            previous: Vec::with_capacity(64 << 10),
            line_no: 0,
            last_ts: 0,
            snapshot_index: (symbols.len() == 1).then_some(0),
            last_depth_symbol: None,
            events: Vec::with_capacity(8),
            next_event: 0,
            ts_ns: 0,
            duplicate_rows: 0,
            unassigned_snapshots: 0,
            snapshots: 0,
            finished: false,
        })
    }

    /// The books and counters, as the live source would hold them after the same frames.
    pub fn frame_books(&self) -> &FrameBooks {
        &self.books
    }

    /// REST snapshots found among the frames (applied or not).
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    fn error(&self, reason: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}:{}: {reason}", self.path.display(), self.line_no)
    }

    /// Reads the next frame into `self.line`, with its receive time; `None` at the end.
    fn next_frame(&mut self) -> anyhow::Result<Option<u64>> {
        loop {
            std::mem::swap(&mut self.line, &mut self.previous);
            self.line.clear();
            let ts =
                match &mut self.frames {
                    Frames::Lines(file) => {
                        let n = file.reader.read_until(b'\n', &mut self.line);
                        match n {
                            Ok(0) => return Ok(None),
                            Ok(_) => self.line_no += 1,
                            Err(e) => {
                                self.line_no += 1;
                                return Err(self.error(format!("cannot read (cut-off file?): {e}")));
                            }
                        }
                        if trim_line_end(&self.line)
                            .iter()
                            .all(u8::is_ascii_whitespace)
                        {
                            continue;
                        }
                        if self.line == self.previous {
                            self.duplicate_rows += 1;
                            continue;
                        }
                        match split_stamp(trim_line_end(&self.line)) {
                            Some((ts, _)) => ts,
                            None => return Err(self.error(
                                "not a `<recv_ns> <frame>` capture line (unknown capture format)",
                            )),
                        }
                    }
                    Frames::Journal { reader, read, .. } => {
                        let Some((event_ns, bytes)) = next_journal_frame(reader, read)? else {
                            return Ok(None);
                        };
                        self.line_no += 1;
                        if bytes == self.previous {
                            self.duplicate_rows += 1;
                            continue;
                        }
                        self.line = bytes;
                        event_ns
                    }
                };
            if ts < self.last_ts {
                return Err(self.error(format!(
                    "receive time {ts} goes back in time (previous {})",
                    self.last_ts
                )));
            }
            self.last_ts = ts;
            return Ok(Some(ts));
        }
    }

    /// Feeds the current frame to the books.
    fn apply(&mut self, ts: u64) {
        let frame = match self.frames {
            Frames::Lines(_) => split_stamp(trim_line_end(&self.line)).map_or(&[][..], |f| f.1),
            Frames::Journal { .. } => &self.line[..],
        };
        if is_rest_snapshot(frame) {
            self.snapshots += 1;
            let index = self.snapshot_index.or_else(|| {
                self.last_depth_symbol
                    .and_then(|symbol| self.books.index(symbol))
            });
            match index {
                Some(index) => self.books.on_snapshot(index, frame, ts, &mut self.events),
                None => self.unassigned_snapshots += 1,
            }
            return;
        }
        if let Some(symbol) = self.books.on_frame(frame, ts, &mut self.events) {
            self.last_depth_symbol = Some(symbol);
        }
    }
}

/// `<digits> <frame>` → (stamp, frame).
fn split_stamp(line: &[u8]) -> Option<(u64, &[u8])> {
    let space = line.iter().position(|&b| b == b' ')?;
    let (digits, frame) = (&line[..space], &line[space + 1..]);
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((value, frame))
}

/// The next `MarketFrame` record of a journal: its UTC receive time and bytes.
fn next_journal_frame(
    reader: &mut JournalReader,
    read: &mut u64,
) -> anyhow::Result<Option<(u64, Vec<u8>)>> {
    while let Some(record) = reader.next() {
        let record = record?;
        *read += record.payload.len() as u64;
        if record.kind()? != RecordType::MarketFrame {
            continue;
        }
        let event_ns = record.event_ns;
        if let JournalEntry::MarketFrame { bytes, .. } = record.decode()? {
            return Ok(Some((event_ns, bytes)));
        }
    }
    Ok(None)
}

/// Total size of the files directly in `dir` (0 when unreadable).
fn directory_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

impl MarketInput for CaptureInput {
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>> {
        loop {
            if let Some(&event) = self.events.get(self.next_event) {
                self.next_event += 1;
                return Ok(Some(InputItem {
                    ts_ns: self.ts_ns,
                    stamp: Stamp::Received,
                    event: InputEvent::Market(event),
                }));
            }
            self.events.clear();
            self.next_event = 0;
            if self.finished {
                return Ok(None);
            }
            match self.next_frame()? {
                Some(ts) => {
                    self.ts_ns = ts;
                    self.apply(ts);
                }
                None => self.finished = true,
            }
        }
    }

    fn repairs(&self) -> Vec<(String, u64)> {
        let c = self.books.counters();
        let unknown = c.decode_errors_of(DecodeErrorKind::UnknownSymbol);
        let other_errors: u64 = c.decode_errors.iter().sum::<u64>() - unknown;
        let sync = self.books.sync_counters();
        let mut out = vec![
            ("book_gaps".to_owned(), sync.gaps),
            ("book_resyncs".to_owned(), sync.resyncs),
            ("decode_errors".to_owned(), other_errors),
            ("duplicate_rows".to_owned(), self.duplicate_rows),
            ("foreign_symbol".to_owned(), c.foreign_symbol + unknown),
            ("ignored_messages".to_owned(), c.ignored),
            (
                "snapshot_decode_errors".to_owned(),
                c.snapshot_decode_errors,
            ),
            ("ticker_duplicates".to_owned(), c.ticker_duplicates),
            ("trade_duplicates".to_owned(), c.trade_duplicates),
            ("unassigned_snapshots".to_owned(), self.unassigned_snapshots),
        ];
        out.sort();
        out
    }

    fn progress(&self) -> (u64, u64) {
        match &self.frames {
            Frames::Lines(file) => (file.read.get(), file.size),
            Frames::Journal { read, size, .. } => (*read, *size),
        }
    }
}

/// Guesses a capture's market from its first diff-depth frame (USDⓈ-M diffs carry `pu`);
/// `None` when none of its first lines is a depth update.
pub fn guess_capture_market(path: &Path) -> anyhow::Result<Option<BinanceMarket>> {
    if path.is_dir() {
        let mut reader = JournalReader::open(path, 0)
            .with_context(|| format!("cannot open journal {}", path.display()))?;
        let mut read = 0;
        for _ in 0..GUESS_LINES {
            let Some((_, bytes)) = next_journal_frame(&mut reader, &mut read)? else {
                break;
            };
            if let Some(market) = market_of_frame(&bytes) {
                return Ok(Some(market));
            }
        }
        return Ok(None);
    }
    let mut file = open_file(path)?;
    let mut line = Vec::with_capacity(64 << 10);
    for line_no in 1..=GUESS_LINES {
        line.clear();
        let n = file
            .reader
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow!("{}:{line_no}: cannot read: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        if let Some(market) = split_stamp(trim_line_end(&line)).and_then(|f| market_of_frame(f.1)) {
            return Ok(Some(market));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_line_splits_into_stamp_and_frame() {
        assert_eq!(
            split_stamp(b"123 {\"a\":1}"),
            Some((123, &b"{\"a\":1}"[..]))
        );
        assert_eq!(split_stamp(b"12x {}"), None);
        assert_eq!(split_stamp(b" {}"), None);
        assert_eq!(split_stamp(b"123"), None);
        assert_eq!(split_stamp(b"99999999999999999999999 {}"), None);
    }
}
