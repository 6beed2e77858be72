//! Owns: the venue-neutral results of decoding a Binance frame (the `Decoded` enum and the
//! small `Copy` structs for klines, tickers, mark prices and liquidations).
//! Never: holds venue JSON text or heap data; level slices borrow the decoder's buffers.

use crate::core::decimal::{Notional, Price, Qty, Ratio};
use crate::core::event::{DepthDiff, Level, MarketEvent, Side};
use crate::core::symbol::SymbolId;

/// One decoded frame; slices borrow the decoder and live until its next `decode`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decoded<'a> {
    /// Best bid and offer (`MarketEventKind::BookTicker`).
    BookTicker(MarketEvent),
    /// One public trade (`MarketEventKind::Trade`).
    Trade(MarketEvent),
    /// An aggregated trade; the event's trade id is the aggregate id.
    AggTrade {
        event: MarketEvent,
        first_trade_id: u64,
        last_trade_id: u64,
    },
    /// An incremental order-book diff.
    Depth(DepthDiff<'a>),
    /// A top-N book published whole (spot `depth5/10/20`).
    PartialDepth(PartialDepth<'a>),
    /// A candlestick update.
    Kline(Kline),
    /// Rolling 24 h statistics, short form.
    MiniTicker(MiniTicker),
    /// Rolling 24 h statistics, full form.
    Ticker(Ticker),
    /// Perpetual mark price and funding.
    MarkPrice(MarkPrice),
    /// A liquidation order.
    ForceOrder(ForceOrder),
    /// Reply to a SUBSCRIBE/UNSUBSCRIBE request.
    SubscribeAck { id: u64 },
}

/// A whole top-N book, best first, borrowing the decoder's level buffers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PartialDepth<'a> {
    pub symbol: SymbolId,
    /// Monotonic ns when the frame was read.
    pub recv_ns: u64,
    /// The update id the book is consistent with.
    pub last_update_id: u64,
    pub bids: &'a [Level],
    pub asks: &'a [Level],
}

/// Candlestick width.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KlineInterval {
    S1,
    M1,
    M3,
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H6,
    H8,
    H12,
    D1,
    D3,
    W1,
    Month1,
}

impl KlineInterval {
    /// Parses the venue's interval code (`1m`, `4h`, `1M` …).
    pub fn from_code(code: &[u8]) -> Option<Self> {
        Some(match code {
            b"1s" => KlineInterval::S1,
            b"1m" => KlineInterval::M1,
            b"3m" => KlineInterval::M3,
            b"5m" => KlineInterval::M5,
            b"15m" => KlineInterval::M15,
            b"30m" => KlineInterval::M30,
            b"1h" => KlineInterval::H1,
            b"2h" => KlineInterval::H2,
            b"4h" => KlineInterval::H4,
            b"6h" => KlineInterval::H6,
            b"8h" => KlineInterval::H8,
            b"12h" => KlineInterval::H12,
            b"1d" => KlineInterval::D1,
            b"3d" => KlineInterval::D3,
            b"1w" => KlineInterval::W1,
            b"1M" => KlineInterval::Month1,
            _ => return None,
        })
    }

    /// The venue's interval code.
    pub const fn code(self) -> &'static str {
        match self {
            KlineInterval::S1 => "1s",
            KlineInterval::M1 => "1m",
            KlineInterval::M3 => "3m",
            KlineInterval::M5 => "5m",
            KlineInterval::M15 => "15m",
            KlineInterval::M30 => "30m",
            KlineInterval::H1 => "1h",
            KlineInterval::H2 => "2h",
            KlineInterval::H4 => "4h",
            KlineInterval::H6 => "6h",
            KlineInterval::H8 => "8h",
            KlineInterval::H12 => "12h",
            KlineInterval::D1 => "1d",
            KlineInterval::D3 => "3d",
            KlineInterval::W1 => "1w",
            KlineInterval::Month1 => "1M",
        }
    }
}

/// Open, high, low, close and volumes of a bar or a rolling window.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ohlcv {
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Volume in base units.
    pub volume: Qty,
    /// Volume in quote units.
    pub volume_quote: Notional,
}

/// A candlestick as of `exch_ts_ms`; `closed` is true on its final update.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Kline {
    pub symbol: SymbolId,
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub interval: KlineInterval,
    pub open_time_ms: u64,
    pub close_time_ms: u64,
    /// First trade id in the bar; `-1` when the bar has no trades.
    pub first_trade_id: i64,
    /// Last trade id in the bar; `-1` when the bar has no trades.
    pub last_trade_id: i64,
    pub bar: Ohlcv,
    pub trade_count: u64,
    pub taker_buy_volume: Qty,
    pub taker_buy_volume_quote: Notional,
    pub closed: bool,
}

/// Rolling 24 h window statistics, short form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MiniTicker {
    pub symbol: SymbolId,
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub window: Ohlcv,
}

/// Rolling 24 h window statistics, full form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ticker {
    pub mini: MiniTicker,
    /// Close minus open (signed).
    pub price_change: Price,
    /// Change in percent (signed, e.g. `-0.786`).
    pub price_change_pct: Ratio,
    pub weighted_avg_price: Price,
    pub last_qty: Qty,
    pub window_open_ms: u64,
    pub window_close_ms: u64,
    /// First trade id in the window; `-1` when none.
    pub first_trade_id: i64,
    /// Last trade id in the window; `-1` when none.
    pub last_trade_id: i64,
    pub trade_count: u64,
}

/// Perpetual mark price, index and funding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarkPrice {
    pub symbol: SymbolId,
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub mark_price: Price,
    pub index_price: Price,
    /// Estimated settle price (only meaningful in the last hour before settlement).
    pub estimated_settle_price: Price,
    /// Funding rate for the current period; `None` where the contract has none.
    pub funding_rate: Option<Ratio>,
    pub next_funding_ms: u64,
}

/// A liquidation order reported by the venue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ForceOrder {
    pub symbol: SymbolId,
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub side: Side,
    pub price: Price,
    pub avg_price: Price,
    pub qty: Qty,
    pub last_filled_qty: Qty,
    pub filled_qty: Qty,
    pub trade_time_ms: u64,
}
