//! Owns: decoding Binance spot and USDⓈ-M market-data frames (combined or bare) and REST
//! depth snapshots into venue-neutral events, one `BinanceDecoder` per connection.
//! Never: does I/O, panics on input, or allocates per hot message once warmed up.
//!
//! Hot messages (bookTicker, trade, aggTrade, depthUpdate) go through a strict hand-written
//! scanner; the rest through simd-json with reused buffers.

mod envelope;
mod error;
mod hot;
mod layout;
mod scanner;
mod symbols;
mod tape;
mod types;

pub mod book_replay;
pub mod feed_metrics;
pub mod frames;
pub mod klines;
pub mod live;
pub(crate) mod snapshot_fetch;
pub mod vision;

pub use error::{BadDecimal, DecodeError, DecodeErrorKind};
pub use types::{
    Decoded, ForceOrder, Kline, KlineInterval, MarkPrice, MiniTicker, Ohlcv, PartialDepth, Ticker,
};

use envelope::{Envelope, Route};
use hot::{AggTrade, DepthHeader, Stamped};
use scanner::Cursor;
use symbols::SymbolMap;
use tape::TapeParser;

use crate::core::event::{
    BookTicker, DepthDiff, DepthSnapshot, Level, MarketEvent, MarketEventKind, TradePrint,
};
use crate::core::symbol::{SymbolId, SymbolTable};

/// Which Binance market a stream or book belongs to: decides the REST paths and the
/// book-sync rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinanceMarket {
    /// Spot: `/api/v3`, diffs chained by `U == previous u + 1`.
    Spot,
    /// USDⓈ-M futures: `/fapi/v1`, diffs chained by `pu == previous u`.
    Usdm,
}

impl BinanceMarket {
    /// Name used in configs, on the command line and in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            BinanceMarket::Spot => "spot",
            BinanceMarket::Usdm => "usdm",
        }
    }

    /// The order-book sync rule of this market.
    pub const fn sync_rule(self) -> crate::book::SyncRule {
        match self {
            BinanceMarket::Spot => crate::book::SyncRule::BinanceSpot,
            BinanceMarket::Usdm => crate::book::SyncRule::BinanceFutures,
        }
    }

    /// REST path of the depth snapshot.
    pub const fn depth_path(self) -> &'static str {
        match self {
            BinanceMarket::Spot => "/api/v3/depth",
            BinanceMarket::Usdm => "/fapi/v1/depth",
        }
    }
}

/// Default largest frame accepted, in bytes.
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 << 20;

/// Levels per side reserved up front, so diffs and snapshots up to this size never grow a buffer.
const RESERVED_LEVELS: usize = 5_000;

/// Typical payload size the simd-json buffers are first sized for.
const TAPE_INPUT_HINT: usize = 64 << 10;

/// What a payload decoded to, before the level buffers are lent out.
enum Parsed {
    BookTicker(Stamped<BookTicker>),
    Trade(Stamped<TradePrint>),
    AggTrade(AggTrade),
    Depth(DepthHeader),
    PartialDepth {
        symbol: SymbolId,
        last_update_id: u64,
    },
    Kline(Kline),
    MiniTicker(MiniTicker),
    Ticker(Ticker),
    MarkPrice(MarkPrice),
    ForceOrder(ForceOrder),
    SubscribeAck(u64),
}

/// Decodes one connection's Binance frames, reusing its level and simd-json buffers.
pub struct BinanceDecoder {
    symbols: SymbolMap,
    bids: Vec<Level>,
    asks: Vec<Level>,
    tape: TapeParser,
    max_frame_len: usize,
}

impl BinanceDecoder {
    /// A decoder for the symbols of `table`, with the default frame-size limit.
    pub fn new(table: &SymbolTable) -> Self {
        Self::with_max_frame_len(table, DEFAULT_MAX_FRAME_LEN)
    }

    /// A decoder that rejects frames longer than `max_frame_len` bytes before parsing.
    pub fn with_max_frame_len(table: &SymbolTable, max_frame_len: usize) -> Self {
        Self {
            symbols: SymbolMap::new(table),
            bids: Vec::with_capacity(RESERVED_LEVELS),
            asks: Vec::with_capacity(RESERVED_LEVELS),
            tape: TapeParser::new(TAPE_INPUT_HINT),
            max_frame_len,
        }
    }

    /// Decodes one WebSocket text frame received at `recv_ns`; slices borrow the decoder.
    pub fn decode(&mut self, frame: &[u8], recv_ns: u64) -> Result<Decoded<'_>, DecodeError> {
        self.check_len(frame)?;
        Ok(match self.parse(frame, recv_ns)? {
            Parsed::BookTicker(ticker) => Decoded::BookTicker(MarketEvent {
                symbol: ticker.symbol,
                recv_ns,
                exch_ts_ms: ticker.exch_ts_ms,
                kind: MarketEventKind::BookTicker(ticker.body),
            }),
            Parsed::Trade(print) => Decoded::Trade(trade_event(print, recv_ns)),
            Parsed::AggTrade(agg) => Decoded::AggTrade {
                event: trade_event(agg.trade, recv_ns),
                first_trade_id: agg.first_trade_id,
                last_trade_id: agg.last_trade_id,
            },
            Parsed::Depth(header) => Decoded::Depth(DepthDiff {
                symbol: header.symbol,
                recv_ns,
                exch_ts_ms: header.exch_ts_ms,
                first_update_id: header.first_update_id,
                last_update_id: header.last_update_id,
                prev_last_update_id: header.prev_last_update_id,
                bids: &self.bids,
                asks: &self.asks,
            }),
            Parsed::PartialDepth {
                symbol,
                last_update_id,
            } => Decoded::PartialDepth(PartialDepth {
                symbol,
                recv_ns,
                last_update_id,
                bids: &self.bids,
                asks: &self.asks,
            }),
            Parsed::Kline(kline) => Decoded::Kline(kline),
            Parsed::MiniTicker(ticker) => Decoded::MiniTicker(ticker),
            Parsed::Ticker(ticker) => Decoded::Ticker(ticker),
            Parsed::MarkPrice(mark) => Decoded::MarkPrice(mark),
            Parsed::ForceOrder(order) => Decoded::ForceOrder(order),
            Parsed::SubscribeAck(id) => Decoded::SubscribeAck { id },
        })
    }

    /// Decodes a REST depth snapshot body (`/api/v3/depth`, `/fapi/v1/depth`) for `symbol`.
    pub fn decode_snapshot(
        &mut self,
        body: &[u8],
        symbol: SymbolId,
    ) -> Result<DepthSnapshot, DecodeError> {
        self.check_len(body)?;
        let (bids, asks) = (&mut self.bids, &mut self.asks);
        let (last_update_id, exch_ts_ms) = self.tape.parse(body, |root| {
            tape::levels(root, "bids", bids)?;
            tape::levels(root, "asks", asks)?;
            let event_ms = match root.get("E") {
                Some(_) => tape::uint(root, "E")?,
                None => 0,
            };
            Ok((tape::uint(root, "lastUpdateId")?, event_ms))
        })?;
        Ok(DepthSnapshot {
            symbol,
            last_update_id,
            exch_ts_ms,
            bids: self.bids.clone(),
            asks: self.asks.clone(),
        })
    }

    fn check_len(&self, frame: &[u8]) -> Result<(), DecodeError> {
        if frame.len() > self.max_frame_len {
            return Err(DecodeError::FrameTooLarge {
                len: frame.len(),
                max: self.max_frame_len,
            });
        }
        Ok(())
    }

    fn parse(&mut self, frame: &[u8], recv_ns: u64) -> Result<Parsed, DecodeError> {
        let envelope = Envelope::read(frame)?;
        let route = envelope.route(frame)?;
        let start = envelope.payload_start;
        let (parsed, end) = match route {
            Route::BookTicker | Route::Trade | Route::AggTrade | Route::DepthUpdate => {
                self.parse_hot(frame, start, route)?
            }
            _ => {
                let mut skip = Cursor::new(frame, start);
                skip.skip_value()?;
                let end = skip.pos();
                (self.parse_cold(&frame[start..end], route, recv_ns)?, end)
            }
        };
        envelope.finish(frame, end)?;
        Ok(parsed)
    }

    #[inline]
    fn parse_hot(
        &mut self,
        frame: &[u8],
        start: usize,
        route: Route<'_>,
    ) -> Result<(Parsed, usize), DecodeError> {
        let mut c = Cursor::new(frame, start);
        let symbols = &self.symbols;
        let (bids, asks) = (&mut self.bids, &mut self.asks);
        // The layout fast path first; anything it declines is decoded (or rejected with a
        // precise error) by the generic decoder from the payload's start.
        let fast = match route {
            Route::BookTicker => layout::book_ticker(&mut c, symbols).map(Parsed::BookTicker),
            Route::Trade => layout::trade(&mut c, symbols).map(Parsed::Trade),
            Route::AggTrade => layout::agg_trade(&mut c, symbols).map(Parsed::AggTrade),
            _ => layout::depth_update(&mut c, symbols, bids, asks).map(Parsed::Depth),
        };
        if let Some(parsed) = fast {
            return Ok((parsed, c.pos()));
        }
        c.rewind(start);
        let parsed = match route {
            Route::BookTicker => Parsed::BookTicker(hot::book_ticker(&mut c, symbols)?),
            Route::Trade => Parsed::Trade(hot::trade(&mut c, symbols)?),
            Route::AggTrade => Parsed::AggTrade(hot::agg_trade(&mut c, symbols)?),
            _ => Parsed::Depth(hot::depth_update(&mut c, symbols, bids, asks)?),
        };
        Ok((parsed, c.pos()))
    }

    fn parse_cold(
        &mut self,
        payload: &[u8],
        route: Route<'_>,
        recv_ns: u64,
    ) -> Result<Parsed, DecodeError> {
        let symbols = &self.symbols;
        let (bids, asks) = (&mut self.bids, &mut self.asks);
        self.tape.parse(payload, |root| {
            Ok(match route {
                Route::PartialDepth { stream_symbol } => {
                    let symbol = symbols
                        .get(stream_symbol)
                        .ok_or_else(|| DecodeError::unknown_symbol(stream_symbol))?;
                    tape::levels(root, "bids", bids)?;
                    tape::levels(root, "asks", asks)?;
                    Parsed::PartialDepth {
                        symbol,
                        last_update_id: tape::uint(root, "lastUpdateId")?,
                    }
                }
                Route::Kline => Parsed::Kline(tape::kline(root, symbols, recv_ns)?),
                Route::MiniTicker => Parsed::MiniTicker(tape::mini_ticker(root, symbols, recv_ns)?),
                Route::Ticker => Parsed::Ticker(tape::ticker(root, symbols, recv_ns)?),
                Route::MarkPrice => Parsed::MarkPrice(tape::mark_price(root, symbols, recv_ns)?),
                Route::ForceOrder => Parsed::ForceOrder(tape::force_order(root, symbols, recv_ns)?),
                Route::SubscribeAck => Parsed::SubscribeAck(tape::subscribe_ack(root)?),
                Route::BookTicker | Route::Trade | Route::AggTrade | Route::DepthUpdate => {
                    return Err(DecodeError::UnknownMessage("hot message on the cold path"))
                }
            })
        })
    }
}

/// A trade print as the ring's market event.
#[inline]
fn trade_event(print: Stamped<TradePrint>, recv_ns: u64) -> MarketEvent {
    MarketEvent {
        symbol: print.symbol,
        recv_ns,
        exch_ts_ms: print.exch_ts_ms,
        kind: MarketEventKind::Trade(print.body),
    }
}
