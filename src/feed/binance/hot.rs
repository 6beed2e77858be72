//! Owns: the hand-written decoders for the hot messages (bookTicker, trade, aggTrade,
//! depthUpdate), reading the payload in place with the strict cursor.
//! Never: allocates (level buffers are reused), goes through `f64`, or accepts escapes.

use super::error::DecodeError;
use super::scanner::Cursor;
use super::symbols::SymbolMap;
use crate::core::decimal::{Price, Qty};
use crate::core::event::{BookTicker, Level, Side, TradePrint};
use crate::core::symbol::SymbolId;

/// Header fields of a depth diff; the levels are in the caller's buffers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct DepthHeader {
    pub(super) symbol: SymbolId,
    pub(super) exch_ts_ms: u64,
    pub(super) first_update_id: u64,
    pub(super) last_update_id: u64,
    pub(super) prev_last_update_id: Option<u64>,
}

/// A decoded body with its symbol and venue time; kept small so the (large) `MarketEvent`
/// is written once, by the caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Stamped<T> {
    pub(super) symbol: SymbolId,
    pub(super) exch_ts_ms: u64,
    pub(super) body: T,
}

/// Aggregate trade with the range of trade ids it covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct AggTrade {
    pub(super) trade: Stamped<TradePrint>,
    pub(super) first_trade_id: u64,
    pub(super) last_trade_id: u64,
}

#[inline]
fn required<T>(value: Option<T>, name: &'static str) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField(name))
}

#[inline]
fn lookup(symbols: &SymbolMap, name: Option<&[u8]>) -> Result<SymbolId, DecodeError> {
    let name = required(name, "s")?;
    symbols
        .get(name)
        .ok_or_else(|| DecodeError::unknown_symbol(name))
}

/// Checks the `e` field against the expected event type.
#[inline]
fn event_type(c: &mut Cursor<'_>, expected: &[u8]) -> Result<(), DecodeError> {
    let at = c.pos();
    if c.string()? == expected {
        Ok(())
    } else {
        Err(DecodeError::Malformed {
            offset: at,
            what: "event type does not match the decoder",
        })
    }
}

/// Buyer-is-maker means the seller took liquidity.
#[inline]
fn aggressor(buyer_is_maker: bool) -> Side {
    if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    }
}

/// `bookTicker` (spot has no `e`/`E`; futures adds `e`, `E`, `T`).
pub(super) fn book_ticker(
    c: &mut Cursor<'_>,
    symbols: &SymbolMap,
) -> Result<Stamped<BookTicker>, DecodeError> {
    let (mut u, mut s, mut event_ms) = (None, None, 0);
    let (mut b, mut bq, mut a, mut aq) = (None, None, None, None);
    c.object(|c, key| {
        match key {
            b"u" => u = Some(c.u64()?),
            b"s" => s = Some(c.string()?),
            b"b" => b = Some(c.price("b")?),
            b"B" => bq = Some(c.qty("B")?),
            b"a" => a = Some(c.price("a")?),
            b"A" => aq = Some(c.qty("A")?),
            b"E" => event_ms = c.u64()?,
            b"e" => event_type(c, b"bookTicker")?,
            _ => c.skip_value()?,
        }
        Ok(())
    })?;
    let ticker = BookTicker {
        update_id: required(u, "u")?,
        bid_price: required(b, "b")?,
        bid_qty: required(bq, "B")?,
        ask_price: required(a, "a")?,
        ask_qty: required(aq, "A")?,
    };
    Ok(Stamped {
        symbol: lookup(symbols, s)?,
        exch_ts_ms: event_ms,
        body: ticker,
    })
}

/// Fields shared by `trade` and `aggTrade`.
#[derive(Default)]
struct TradeFields<'a> {
    symbol: Option<&'a [u8]>,
    id: Option<u64>,
    price: Option<Price>,
    qty: Option<Qty>,
    buyer_is_maker: Option<bool>,
    event_ms: Option<u64>,
    trade_ms: Option<u64>,
}

impl<'a> TradeFields<'a> {
    /// Reads a shared field; false when `key` is not one of them.
    #[inline]
    fn read(&mut self, c: &mut Cursor<'a>, key: &[u8]) -> Result<bool, DecodeError> {
        match key {
            b"s" => self.symbol = Some(c.string()?),
            b"p" => self.price = Some(c.price("p")?),
            b"q" => self.qty = Some(c.qty("q")?),
            b"m" => self.buyer_is_maker = Some(c.bool()?),
            b"E" => self.event_ms = Some(c.u64()?),
            b"T" => self.trade_ms = Some(c.u64()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline]
    fn print(
        self,
        symbols: &SymbolMap,
        id_name: &'static str,
    ) -> Result<Stamped<TradePrint>, DecodeError> {
        let print = TradePrint {
            trade_id: required(self.id, id_name)?,
            price: required(self.price, "p")?,
            qty: required(self.qty, "q")?,
            aggressor: aggressor(required(self.buyer_is_maker, "m")?),
        };
        Ok(Stamped {
            symbol: lookup(symbols, self.symbol)?,
            exch_ts_ms: required(self.event_ms.or(self.trade_ms), "E")?,
            body: print,
        })
    }
}

/// `trade` (spot `M`, futures `X` are accepted and not used).
pub(super) fn trade(
    c: &mut Cursor<'_>,
    symbols: &SymbolMap,
) -> Result<Stamped<TradePrint>, DecodeError> {
    let mut fields = TradeFields::default();
    c.object(|c, key| {
        if fields.read(c, key)? {
            return Ok(());
        }
        match key {
            b"t" => fields.id = Some(c.u64()?),
            b"e" => event_type(c, b"trade")?,
            _ => c.skip_value()?,
        }
        Ok(())
    })?;
    fields.print(symbols, "t")
}

/// `aggTrade`.
pub(super) fn agg_trade(c: &mut Cursor<'_>, symbols: &SymbolMap) -> Result<AggTrade, DecodeError> {
    let mut fields = TradeFields::default();
    let (mut first, mut last) = (None, None);
    c.object(|c, key| {
        if fields.read(c, key)? {
            return Ok(());
        }
        match key {
            b"a" => fields.id = Some(c.u64()?),
            b"f" => first = Some(c.u64()?),
            b"l" => last = Some(c.u64()?),
            b"e" => event_type(c, b"aggTrade")?,
            _ => c.skip_value()?,
        }
        Ok(())
    })?;
    let trade = fields.print(symbols, "a")?;
    Ok(AggTrade {
        trade,
        first_trade_id: required(first, "f")?,
        last_trade_id: required(last, "l")?,
    })
}

/// `depthUpdate` (spot `U`,`u`; futures adds `pu`, `T`); levels go into `bids`/`asks`.
pub(super) fn depth_update(
    c: &mut Cursor<'_>,
    symbols: &SymbolMap,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Result<DepthHeader, DecodeError> {
    let (mut s, mut event_ms, mut first, mut last, mut prev) = (None, None, None, None, None);
    let (mut have_bids, mut have_asks) = (false, false);
    c.object(|c, key| {
        match key {
            b"s" => s = Some(c.string()?),
            b"E" => event_ms = Some(c.u64()?),
            b"U" => first = Some(c.u64()?),
            b"u" => last = Some(c.u64()?),
            b"pu" => prev = Some(c.u64()?),
            b"b" => {
                c.levels(bids, "b.price", "b.qty")?;
                have_bids = true;
            }
            b"a" => {
                c.levels(asks, "a.price", "a.qty")?;
                have_asks = true;
            }
            b"e" => event_type(c, b"depthUpdate")?,
            _ => c.skip_value()?,
        }
        Ok(())
    })?;
    if !have_bids {
        return Err(DecodeError::MissingField("b"));
    }
    if !have_asks {
        return Err(DecodeError::MissingField("a"));
    }
    Ok(DepthHeader {
        symbol: lookup(symbols, s)?,
        exch_ts_ms: required(event_ms, "E")?,
        first_update_id: required(first, "U")?,
        last_update_id: required(last, "u")?,
        prev_last_update_id: prev,
    })
}
