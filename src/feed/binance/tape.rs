//! Owns: the simd-json decoders for the less frequent and larger messages (kline, tickers,
//! mark price, liquidations, partial depth, REST snapshots, subscribe acks), over a reused
//! scratch copy, `Buffers` and `Tape`.
//! Never: builds `BorrowedValue`s, goes through `f64`, or allocates once warmed up.

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{fill_tape_padded, Buffers, Tape, INPUT_PADDING};

use super::error::DecodeError;
use super::scanner::{signed_decimal, unsigned_decimal};
use super::symbols::SymbolMap;
use super::types::{ForceOrder, Kline, KlineInterval, MarkPrice, MiniTicker, Ohlcv, Ticker};
use crate::core::decimal::{Notional, Price, Qty, Ratio};
use crate::core::event::{Level, Side};
use crate::core::symbol::SymbolId;

/// A node of a parsed tape.
pub(super) type Node<'t, 'i> = Value<'t, 'i>;

/// Reused simd-json state: a padded copy of the input, stage buffers and the tape.
pub(super) struct TapeParser {
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl TapeParser {
    /// Buffers sized for inputs of about `input_len` bytes.
    pub(super) fn new(input_len: usize) -> Self {
        Self {
            scratch: Vec::with_capacity(input_len + INPUT_PADDING),
            buffers: Buffers::new(input_len),
            tape: Some(Tape::null()),
        }
    }

    /// Parses `json` and hands the root value to `read`.
    pub(super) fn parse<T>(
        &mut self,
        json: &[u8],
        read: impl FnOnce(Node<'_, '_>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let len = json.len();
        self.scratch.clear();
        self.scratch.extend_from_slice(json);
        self.scratch.resize(len + INPUT_PADDING, 0);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = match fill_tape_padded(&mut self.scratch, len, &mut self.buffers, &mut tape) {
            Ok(()) => read(tape.as_value()),
            Err(err) => Err(DecodeError::Malformed {
                offset: err.index(),
                what: "invalid JSON",
            }),
        };
        self.tape = Some(tape.reset());
        result
    }
}

fn wrong_type(what: &'static str) -> DecodeError {
    DecodeError::Malformed { offset: 0, what }
}

/// A required member of an object.
pub(super) fn field<'t, 'i>(
    obj: Node<'t, 'i>,
    key: &'static str,
) -> Result<Node<'t, 'i>, DecodeError> {
    if !obj.is_object() {
        return Err(wrong_type("expected object"));
    }
    obj.get(key).ok_or(DecodeError::MissingField(key))
}

fn text<'i>(obj: Node<'_, 'i>, key: &'static str) -> Result<&'i str, DecodeError> {
    field(obj, key)?
        .into_string()
        .ok_or(wrong_type("expected string"))
}

/// A required unsigned integer member.
pub(super) fn uint(obj: Node<'_, '_>, key: &'static str) -> Result<u64, DecodeError> {
    field(obj, key)?
        .as_u64()
        .ok_or(wrong_type("expected unsigned integer"))
}

fn int(obj: Node<'_, '_>, key: &'static str) -> Result<i64, DecodeError> {
    field(obj, key)?
        .as_i64()
        .ok_or(wrong_type("expected integer"))
}

fn boolean(obj: Node<'_, '_>, key: &'static str) -> Result<bool, DecodeError> {
    field(obj, key)?
        .as_bool()
        .ok_or(wrong_type("expected boolean"))
}

fn unsigned(obj: Node<'_, '_>, key: &'static str) -> Result<i128, DecodeError> {
    unsigned_decimal(text(obj, key)?.as_bytes(), key)
}

fn signed(obj: Node<'_, '_>, key: &'static str) -> Result<i128, DecodeError> {
    signed_decimal(text(obj, key)?.as_bytes(), key)
}

fn price(obj: Node<'_, '_>, key: &'static str) -> Result<Price, DecodeError> {
    unsigned(obj, key).map(Price::from_raw)
}

fn qty(obj: Node<'_, '_>, key: &'static str) -> Result<Qty, DecodeError> {
    unsigned(obj, key).map(Qty::from_raw)
}

fn notional(obj: Node<'_, '_>, key: &'static str) -> Result<Notional, DecodeError> {
    unsigned(obj, key).map(Notional::from_raw)
}

/// The id of the symbol named by the `s` member.
fn symbol(obj: Node<'_, '_>, symbols: &SymbolMap) -> Result<SymbolId, DecodeError> {
    let name = text(obj, "s")?.as_bytes();
    symbols
        .get(name)
        .ok_or_else(|| DecodeError::unknown_symbol(name))
}

/// `[[price, qty], …]` into `out` (cleared first).
pub(super) fn levels(
    obj: Node<'_, '_>,
    key: &'static str,
    out: &mut Vec<Level>,
) -> Result<(), DecodeError> {
    out.clear();
    let list = field(obj, key)?
        .as_array()
        .ok_or(wrong_type("expected level array"))?;
    for pair in list.iter() {
        let (Some(p), Some(q), None) = (pair.get_idx(0), pair.get_idx(1), pair.get_idx(2)) else {
            return Err(wrong_type("expected [price, qty]"));
        };
        let p = p.into_string().ok_or(wrong_type("expected price string"))?;
        let q = q.into_string().ok_or(wrong_type("expected qty string"))?;
        out.push(Level {
            price: Price::from_raw(unsigned_decimal(p.as_bytes(), key)?),
            qty: Qty::from_raw(unsigned_decimal(q.as_bytes(), key)?),
        });
    }
    Ok(())
}

/// The `o`,`h`,`l`,`c`,`v`,`q` members shared by klines and tickers.
fn ohlcv(obj: Node<'_, '_>) -> Result<Ohlcv, DecodeError> {
    Ok(Ohlcv {
        open: price(obj, "o")?,
        high: price(obj, "h")?,
        low: price(obj, "l")?,
        close: price(obj, "c")?,
        volume: qty(obj, "v")?,
        volume_quote: notional(obj, "q")?,
    })
}

/// `kline` event.
pub(super) fn kline(
    root: Node<'_, '_>,
    symbols: &SymbolMap,
    recv_ns: u64,
) -> Result<Kline, DecodeError> {
    let k = field(root, "k")?;
    let interval = KlineInterval::from_code(text(k, "i")?.as_bytes())
        .ok_or(DecodeError::UnknownMessage("kline interval"))?;
    Ok(Kline {
        symbol: symbol(root, symbols)?,
        recv_ns,
        exch_ts_ms: uint(root, "E")?,
        interval,
        open_time_ms: uint(k, "t")?,
        close_time_ms: uint(k, "T")?,
        first_trade_id: int(k, "f")?,
        last_trade_id: int(k, "L")?,
        bar: ohlcv(k)?,
        trade_count: uint(k, "n")?,
        taker_buy_volume: qty(k, "V")?,
        taker_buy_volume_quote: notional(k, "Q")?,
        closed: boolean(k, "x")?,
    })
}

/// `24hrMiniTicker` event (also the common part of `24hrTicker`).
pub(super) fn mini_ticker(
    root: Node<'_, '_>,
    symbols: &SymbolMap,
    recv_ns: u64,
) -> Result<MiniTicker, DecodeError> {
    Ok(MiniTicker {
        symbol: symbol(root, symbols)?,
        recv_ns,
        exch_ts_ms: uint(root, "E")?,
        window: ohlcv(root)?,
    })
}

/// `24hrTicker` event.
pub(super) fn ticker(
    root: Node<'_, '_>,
    symbols: &SymbolMap,
    recv_ns: u64,
) -> Result<Ticker, DecodeError> {
    Ok(Ticker {
        mini: mini_ticker(root, symbols, recv_ns)?,
        price_change: Price::from_raw(signed(root, "p")?),
        price_change_pct: Ratio::from_raw(signed(root, "P")?),
        weighted_avg_price: price(root, "w")?,
        last_qty: qty(root, "Q")?,
        window_open_ms: uint(root, "O")?,
        window_close_ms: uint(root, "C")?,
        first_trade_id: int(root, "F")?,
        last_trade_id: int(root, "L")?,
        trade_count: uint(root, "n")?,
    })
}

/// `markPriceUpdate` event; an empty funding rate (delivery contracts) is `None`.
pub(super) fn mark_price(
    root: Node<'_, '_>,
    symbols: &SymbolMap,
    recv_ns: u64,
) -> Result<MarkPrice, DecodeError> {
    let funding_rate = match text(root, "r")? {
        "" => None,
        rate => Some(Ratio::from_raw(signed_decimal(rate.as_bytes(), "r")?)),
    };
    let settle = match text(root, "P")? {
        "" => Price::ZERO,
        settle => Price::from_raw(unsigned_decimal(settle.as_bytes(), "P")?),
    };
    Ok(MarkPrice {
        symbol: symbol(root, symbols)?,
        recv_ns,
        exch_ts_ms: uint(root, "E")?,
        mark_price: price(root, "p")?,
        index_price: price(root, "i")?,
        estimated_settle_price: settle,
        funding_rate,
        next_funding_ms: uint(root, "T")?,
    })
}

/// `forceOrder` event (liquidation order in `o`).
pub(super) fn force_order(
    root: Node<'_, '_>,
    symbols: &SymbolMap,
    recv_ns: u64,
) -> Result<ForceOrder, DecodeError> {
    let o = field(root, "o")?;
    let side = match text(o, "S")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(wrong_type("expected BUY or SELL")),
    };
    Ok(ForceOrder {
        symbol: symbol(o, symbols)?,
        recv_ns,
        exch_ts_ms: uint(root, "E")?,
        side,
        price: price(o, "p")?,
        avg_price: price(o, "ap")?,
        qty: qty(o, "q")?,
        last_filled_qty: qty(o, "l")?,
        filled_qty: qty(o, "z")?,
        trade_time_ms: uint(o, "T")?,
    })
}

/// `{"result":null,"id":N}`; any other control reply is not understood.
pub(super) fn subscribe_ack(root: Node<'_, '_>) -> Result<u64, DecodeError> {
    if !field(root, "result")?.is_null() {
        return Err(DecodeError::UnknownMessage("control reply with a result"));
    }
    uint(root, "id")
}
