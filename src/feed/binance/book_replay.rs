//! Owns: rebuilding one symbol's order book offline from recorded captures through the live
//! Binance decoders and the live `BookSync`, and the JSON report `kestrel replay` prints.
//! Never: fetches anything (snapshots come from the captures) or uses other decode/book code
//! than the live engine's.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::book::{BookSync, SyncConfig};
use crate::core::{Level, SymbolTable};
use crate::feed::replay::{open_capture, split_capture_line, ReplayError};
use crate::persist::payload::JournalEntry;
use crate::persist::{JournalError, JournalReader, RecordType};

use super::{BinanceDecoder, BinanceMarket, DecodeErrorKind, Decoded};

/// The final state of a replayed book, as `kestrel replay` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BookReplayReport {
    pub symbol: String,
    pub market: &'static str,
    pub last_update_id: u64,
    /// Best first; `[price, qty]` as decimal text in the exchange's own formatting.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
    /// Frames seen per message type (all symbols), and decode errors per kind.
    pub messages: BTreeMap<String, u64>,
    pub gaps: u64,
    pub resyncs: u64,
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum BookReplayError {
    #[error("symbol {0:?} is not a valid symbol name")]
    Symbol(String),
    #[error(transparent)]
    Capture(#[from] ReplayError),
    #[error("reading capture {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading journal capture: {0}")]
    Journal(#[from] JournalError),
}

/// Decimal places the venue prints prices and quantities with, learnt from the first level
/// of the first snapshot text (`"bids":[["61837.99000000","0.12300000"]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TextFormat {
    price_decimals: Option<u32>,
    qty_decimals: Option<u32>,
}

impl TextFormat {
    fn learn(&mut self, snapshot_text: &str) {
        if self.price_decimals.is_some() {
            return;
        }
        let Some(start) = snapshot_text.find("[[\"") else {
            return;
        };
        let mut fields = snapshot_text[start + 3..].split('"');
        let price = fields.next().unwrap_or("");
        let qty = fields.nth(1).unwrap_or("");
        let decimals = |t: &str| t.split_once('.').map(|(_, f)| f.len() as u32);
        self.price_decimals = decimals(price).or(Some(0));
        self.qty_decimals = decimals(qty).or(Some(0));
    }

    fn level(&self, level: Level) -> [String; 2] {
        let mut buf = [0u8; crate::core::decimal::MAX_TEXT_LEN];
        let mut text = |raw: i128, decimals: Option<u32>| {
            let n = crate::core::decimal::write_raw_with_decimals(raw, decimals, &mut buf);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        [
            text(level.price.raw(), self.price_decimals),
            text(level.qty.raw(), self.qty_decimals),
        ]
    }
}

/// Rebuilds `symbol`'s book from `captures` (hftbacktest-style `<recv_ns> <frame>` files,
/// plain or gzip, or journal directories with captured frames), read in the order given as
/// one continuous stream, and reports its top `depth` levels.
pub fn replay_book(
    captures: &[PathBuf],
    symbol: &str,
    market: BinanceMarket,
    depth: usize,
) -> Result<BookReplayReport, BookReplayError> {
    let mut table = SymbolTable::new();
    let symbol_id = table
        .intern(&symbol.to_ascii_uppercase())
        .map_err(|_| BookReplayError::Symbol(symbol.to_owned()))?;
    let mut run = Run {
        decoder: BinanceDecoder::new(&table),
        sync: BookSync::new(market.sync_rule(), SyncConfig::default()),
        symbol: symbol_id,
        format: TextFormat::default(),
        messages: BTreeMap::new(),
    };
    for path in captures {
        if path.is_dir() {
            run.journal(path)?;
        } else {
            run.file(path)?;
        }
    }
    let counters = run.sync.counters();
    let book = run.sync.book();
    Ok(BookReplayReport {
        symbol: symbol.to_ascii_uppercase(),
        market: market.as_str(),
        last_update_id: run.sync.last_update_id(),
        bids: book
            .bids()
            .take(depth)
            .map(|l| run.format.level(l))
            .collect(),
        asks: book
            .asks()
            .take(depth)
            .map(|l| run.format.level(l))
            .collect(),
        messages: run.messages,
        gaps: counters.gaps,
        resyncs: counters.resyncs,
    })
}

struct Run {
    decoder: BinanceDecoder,
    sync: BookSync,
    symbol: crate::core::SymbolId,
    format: TextFormat,
    messages: BTreeMap<String, u64>,
}

impl Run {
    fn count(&mut self, kind: &str) {
        *self.messages.entry(kind.to_owned()).or_default() += 1;
    }

    fn file(&mut self, path: &Path) -> Result<(), BookReplayError> {
        let mut reader = open_capture(path)?;
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|source| BookReplayError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
            if n == 0 {
                return Ok(());
            }
            match split_capture_line(&line) {
                Some((recv_ns, frame)) => self.frame(frame, recv_ns),
                None if line.trim().is_empty() => {}
                None => self.count("error:capture_line"),
            }
        }
    }

    fn journal(&mut self, dir: &Path) -> Result<(), BookReplayError> {
        let mut reader = JournalReader::open(dir, 0)?;
        while let Some(record) = reader.next() {
            let record = record?;
            if record.kind()? != RecordType::MarketFrame {
                continue;
            }
            if let JournalEntry::MarketFrame { recv_ns, bytes, .. } = record.decode()? {
                match std::str::from_utf8(&bytes) {
                    Ok(frame) => self.frame(frame, recv_ns),
                    Err(_) => self.count("error:not_utf8"),
                }
            }
        }
        Ok(())
    }

    fn frame(&mut self, frame: &str, recv_ns: u64) {
        // A bare REST depth snapshot recorded among the stream frames.
        if frame.starts_with("{\"lastUpdateId\"") {
            self.count("snapshot");
            self.format.learn(frame);
            match self.decoder.decode_snapshot(frame.as_bytes(), self.symbol) {
                Ok(snapshot) => {
                    self.sync.on_snapshot(&snapshot);
                }
                Err(e) => self.count(&format!("error:{}", e.kind().as_str())),
            }
            return;
        }
        let kind = match self.decoder.decode(frame.as_bytes(), recv_ns) {
            Ok(Decoded::Depth(diff)) => {
                if diff.symbol == self.symbol {
                    self.sync.on_diff(&diff);
                }
                "depthUpdate"
            }
            Ok(decoded) => message_type(&decoded),
            // Multi-symbol captures: frames of symbols other than the replayed one.
            Err(e) if e.kind() == DecodeErrorKind::UnknownSymbol => "other_symbol",
            Err(e) => {
                self.count(&format!("error:{}", e.kind().as_str()));
                return;
            }
        };
        self.count(kind);
    }
}

/// The venue's name for a decoded message type, as the report counts them.
fn message_type(decoded: &Decoded<'_>) -> &'static str {
    match decoded {
        Decoded::BookTicker(_) => "bookTicker",
        Decoded::Trade(_) => "trade",
        Decoded::AggTrade { .. } => "aggTrade",
        Decoded::Depth(_) => "depthUpdate",
        Decoded::PartialDepth(_) => "partialDepth",
        Decoded::Kline(_) => "kline",
        Decoded::MiniTicker(_) => "24hrMiniTicker",
        Decoded::Ticker(_) => "24hrTicker",
        Decoded::MarkPrice(_) => "markPriceUpdate",
        Decoded::ForceOrder(_) => "forceOrder",
        Decoded::SubscribeAck { .. } => "subscribeAck",
    }
}
