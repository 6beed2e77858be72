//! Owns: the payload codec of every record type: fixed little-endian layouts, version byte
//! first; encoding into a caller buffer without allocation, decoding into owned entries for
//! tools. Never: panics on bytes from a file, or allocates while encoding.
//!
//! Layout version 1 (all integers little-endian, decimals as raw `i128` 1e-18 units, `sym`
//! = length u8 + 24 bytes zero-padded, longer names truncated at a character boundary):
//! ```text
//! intent  : v u8 | strategy u16 | intent_seq u64 | symbol_id u32 | side u8 | order_type u8
//!           | tif u8 | reduce_only u8 | price i128 | qty i128 | cause_recv_ns u64 | sym      (84 B)
//! order   : v | client_order_id u64 | strategy u16 | symbol_id u32 | side u8 | status u8
//!           | filled_qty i128 | venue_order_id u64 | reject_code u16 | sym                   (68 B)
//! fill    : v | client_order_id u64 | strategy u16 | symbol_id u32 | side u8 | is_maker u8
//!           | price i128 | qty i128 | fee i128 | venue_trade_id u64 | sym                    (98 B)
//! risk    : v | code u16 | strategy u16 | client_order_id u64 | observed i128 | limit i128 | sym (70 B)
//! state   : v | from u8 | to u8 | cause_code u16 | cause_len u8 | cause [64]             (70 B)
//! session : v | session u32 | wall_ns u64 | pid u32                                      (17 B)
//! note    : v | len u32 | text
//! frame   : v | recv_ns u64 | tag_len u8 | len u32 | tag | bytes
//! snapshot: v | as_of_seq u64 | component_len u8 | len u32 | component | body
//! ```

mod text;

pub use text::format_utc_ns;

use crate::core::decimal::Notional;
use crate::core::symbol::SYMBOL_NAME_MAX;
use crate::core::{
    ClientOrderId, Fill, OrderIntent, OrderStatus, OrderType, OrderUpdate, Price, Qty, Side,
    TimeInForce,
};
use crate::core::{StrategyId, SymbolId};

use super::RecordType;

/// Payload layout version written as the first byte of every payload.
pub const PAYLOAD_VERSION: u8 = 1;
/// Bytes of an encoded intent.
pub const INTENT_BYTES: usize = 84;
/// Bytes of an encoded order update.
pub const UPDATE_BYTES: usize = 68;
/// Bytes of an encoded fill.
pub const FILL_BYTES: usize = 98;
/// Bytes of an encoded risk event.
pub const RISK_BYTES: usize = 70;
/// Bytes of an encoded trading-state change.
pub const STATE_BYTES: usize = 70;
/// Bytes of an encoded session record.
pub const SESSION_BYTES: usize = 17;
/// Longest trading-state cause text kept (longer text is truncated).
pub const STATE_CAUSE_MAX: usize = 64;
/// Longest market-frame tag or snapshot component name.
pub const TAG_MAX: usize = 64;
/// A buffer this large holds any fixed-size payload (every type but note, frame, snapshot).
pub const MAX_FIXED_PAYLOAD: usize = FILL_BYTES;

/// Why payload bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is {have} bytes, expected {need}")]
    Length { need: usize, have: usize },
    #[error("unsupported payload version {0}")]
    Version(u8),
    #[error("invalid {field} value {value}")]
    BadValue { field: &'static str, value: u64 },
    #[error("{0} is not valid UTF-8")]
    BadText(&'static str),
    #[error("{field} of {len} bytes is longer than {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("output buffer of {have} bytes, {need} needed")]
    BufferTooSmall { need: usize, have: usize },
}

/// A risk rail decision or alert, as journaled.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RiskEvent {
    /// Stable risk code (meanings live in the risk module).
    pub code: u16,
    pub strategy: StrategyId,
    /// Order concerned (0 when none).
    pub client_order_id: ClientOrderId,
    /// The measured value that triggered the event, in 1e-18 units.
    pub observed: Notional,
    /// The limit it was compared with, in 1e-18 units.
    pub limit: Notional,
}

/// The engine's trading state, as journaled.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum TradingMode {
    #[default]
    Active = 0,
    ReduceOnly = 1,
    Halted = 2,
}

impl TradingMode {
    /// Decodes the one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(TradingMode::Active),
            1 => Some(TradingMode::ReduceOnly),
            2 => Some(TradingMode::Halted),
            _ => None,
        }
    }
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradingMode::Active => "active",
            TradingMode::ReduceOnly => "reduce_only",
            TradingMode::Halted => "halted",
        }
    }
}

/// A trading-state change (breaker trip, operator halt, …).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TradingStateChange {
    pub from: TradingMode,
    pub to: TradingMode,
    /// Stable cause code (meanings live in the risk module).
    pub cause_code: u16,
}

/// An engine start.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SessionStart {
    /// Session number; client order ids of this run carry it.
    pub session: u32,
    /// Wall-clock ns at start-up.
    pub wall_ns: u64,
    /// Process id of the engine.
    pub pid: u32,
}

/// A decoded payload, owned, for tools.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum JournalEntry {
    Intent {
        symbol: String,
        intent: OrderIntent,
    },
    Update {
        symbol: String,
        update: OrderUpdate,
    },
    Fill {
        symbol: String,
        fill: Fill,
    },
    Risk {
        symbol: String,
        event: RiskEvent,
    },
    TradingState {
        change: TradingStateChange,
        cause: String,
    },
    Snapshot {
        component: String,
        as_of_seq: u64,
        body: Vec<u8>,
    },
    MarketFrame {
        tag: String,
        recv_ns: u64,
        bytes: Vec<u8>,
    },
    Note {
        text: String,
    },
    Session(SessionStart),
}

impl JournalEntry {
    /// The record type this entry is stored as.
    pub fn kind(&self) -> RecordType {
        match self {
            JournalEntry::Intent { .. } => RecordType::OrderIntent,
            JournalEntry::Update { .. } => RecordType::OrderUpdate,
            JournalEntry::Fill { .. } => RecordType::Fill,
            JournalEntry::Risk { .. } => RecordType::RiskEvent,
            JournalEntry::TradingState { .. } => RecordType::TradingState,
            JournalEntry::Snapshot { .. } => RecordType::Snapshot,
            JournalEntry::MarketFrame { .. } => RecordType::MarketFrame,
            JournalEntry::Note { .. } => RecordType::OperatorNote,
            JournalEntry::Session(_) => RecordType::Session,
        }
    }
    /// The symbol the entry concerns, when it has one.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            JournalEntry::Intent { symbol, .. }
            | JournalEntry::Update { symbol, .. }
            | JournalEntry::Fill { symbol, .. }
            | JournalEntry::Risk { symbol, .. } => Some(symbol),
            _ => None,
        }
    }
}

/// Sequential little-endian writer over a buffer already sliced to the exact payload size.
struct Put<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Put<'a> {
    #[inline(always)]
    fn new(out: &'a mut [u8]) -> Self {
        let mut p = Self { out, pos: 0 };
        p.u8(PAYLOAD_VERSION);
        p
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.out[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    #[inline(always)]
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    #[inline(always)]
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    #[inline(always)]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    #[inline(always)]
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    #[inline(always)]
    fn i128(&mut self, v: i128) {
        self.bytes(&v.to_le_bytes());
    }
    /// Length byte plus `max` bytes, zero-padded.
    #[inline(always)]
    fn padded_text(&mut self, text: &str, max: usize) {
        let t = truncate_at_char(text, max).as_bytes();
        self.u8(t.len() as u8);
        self.bytes(t);
        self.out[self.pos..self.pos + (max - t.len())].fill(0);
        self.pos += max - t.len();
    }
    #[inline(always)]
    fn done(self) -> usize {
        self.pos
    }
}

fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Encodes an intent and its symbol name into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes); returns the length.
#[inline]
pub fn encode_intent(i: &OrderIntent, symbol: &str, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..INTENT_BYTES]);
    p.u16(i.strategy.0);
    p.u64(i.intent_seq);
    p.u32(i.symbol.0);
    p.u8(i.side as u8);
    p.u8(i.order_type as u8);
    p.u8(i.time_in_force as u8);
    p.u8(i.reduce_only as u8);
    p.i128(i.price.raw());
    p.i128(i.qty.raw());
    p.u64(i.cause_recv_ns);
    p.padded_text(symbol, SYMBOL_NAME_MAX);
    p.done()
}

/// Encodes an order update and its symbol name into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes).
#[inline]
pub fn encode_update(u: &OrderUpdate, symbol: &str, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..UPDATE_BYTES]);
    p.u64(u.client_order_id.0);
    p.u16(u.strategy.0);
    p.u32(u.symbol.0);
    p.u8(u.side as u8);
    p.u8(u.status as u8);
    p.i128(u.filled_qty.raw());
    p.u64(u.venue_order_id);
    p.u16(u.reject_code);
    p.padded_text(symbol, SYMBOL_NAME_MAX);
    p.done()
}

/// Encodes a fill and its symbol name into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes).
#[inline]
pub fn encode_fill(f: &Fill, symbol: &str, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..FILL_BYTES]);
    p.u64(f.client_order_id.0);
    p.u16(f.strategy.0);
    p.u32(f.symbol.0);
    p.u8(f.side as u8);
    p.u8(f.is_maker as u8);
    p.i128(f.price.raw());
    p.i128(f.qty.raw());
    p.i128(f.fee.raw());
    p.u64(f.venue_trade_id);
    p.padded_text(symbol, SYMBOL_NAME_MAX);
    p.done()
}

/// Encodes a risk event and its symbol name (empty when none) into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes).
#[inline]
pub fn encode_risk_event(r: &RiskEvent, symbol: &str, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..RISK_BYTES]);
    p.u16(r.code);
    p.u16(r.strategy.0);
    p.u64(r.client_order_id.0);
    p.i128(r.observed.raw());
    p.i128(r.limit.raw());
    p.padded_text(symbol, SYMBOL_NAME_MAX);
    p.done()
}

/// Encodes a trading-state change; `cause` is truncated to [`STATE_CAUSE_MAX`] bytes.
#[inline]
pub fn encode_trading_state(c: &TradingStateChange, cause: &str, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..STATE_BYTES]);
    p.u8(c.from as u8);
    p.u8(c.to as u8);
    p.u16(c.cause_code);
    p.padded_text(cause, STATE_CAUSE_MAX);
    p.done()
}

/// Encodes an engine start into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes).
#[inline]
pub fn encode_session(s: &SessionStart, out: &mut [u8]) -> usize {
    let mut p = Put::new(&mut out[..SESSION_BYTES]);
    p.u32(s.session);
    p.u64(s.wall_ns);
    p.u32(s.pid);
    p.done()
}

fn check_room(need: usize, out: &[u8]) -> Result<(), PayloadError> {
    if out.len() < need {
        return Err(PayloadError::BufferTooSmall {
            need,
            have: out.len(),
        });
    }
    Ok(())
}

fn check_tag(field: &'static str, tag: &str) -> Result<(), PayloadError> {
    if tag.len() > TAG_MAX {
        return Err(PayloadError::TooLong {
            field,
            len: tag.len(),
            max: TAG_MAX,
        });
    }
    Ok(())
}

fn check_u32_len(field: &'static str, len: usize) -> Result<u32, PayloadError> {
    u32::try_from(len).map_err(|_| PayloadError::TooLong {
        field,
        len,
        max: u32::MAX as usize,
    })
}

/// Encodes an operator note; fails when `out` is too small.
pub fn encode_note(text: &str, out: &mut [u8]) -> Result<usize, PayloadError> {
    let len = check_u32_len("note", text.len())?;
    check_room(5 + text.len(), out)?;
    let mut p = Put::new(out);
    p.u32(len);
    p.bytes(text.as_bytes());
    Ok(p.done())
}

/// Encodes a raw market frame with its stream tag (≤ [`TAG_MAX`] bytes) and receive time.
pub fn encode_market_frame(
    tag: &str,
    recv_ns: u64,
    frame: &[u8],
    out: &mut [u8],
) -> Result<usize, PayloadError> {
    check_tag("frame tag", tag)?;
    let len = check_u32_len("frame", frame.len())?;
    check_room(14 + tag.len() + frame.len(), out)?;
    let mut p = Put::new(out);
    p.u64(recv_ns);
    p.u8(tag.len() as u8);
    p.u32(len);
    p.bytes(tag.as_bytes());
    p.bytes(frame);
    Ok(p.done())
}

/// Encodes a component snapshot (opaque `body`, component name ≤ [`TAG_MAX`] bytes) taken
/// after record `as_of_seq`.
pub fn encode_snapshot(
    component: &str,
    as_of_seq: u64,
    body: &[u8],
    out: &mut [u8],
) -> Result<usize, PayloadError> {
    check_tag("snapshot component", component)?;
    let len = check_u32_len("snapshot", body.len())?;
    check_room(14 + component.len() + body.len(), out)?;
    let mut p = Put::new(out);
    p.u64(as_of_seq);
    p.u8(component.len() as u8);
    p.u32(len);
    p.bytes(component.as_bytes());
    p.bytes(body);
    Ok(p.done())
}

/// Sequential little-endian reader that fails instead of panicking.
struct Get<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Get<'a> {
    fn new(b: &'a [u8], exact: Option<usize>) -> Result<Self, PayloadError> {
        let version = *b.first().ok_or(PayloadError::Length {
            need: exact.unwrap_or(1),
            have: 0,
        })?;
        if version != PAYLOAD_VERSION {
            return Err(PayloadError::Version(version));
        }
        if let Some(need) = exact {
            if b.len() != need {
                return Err(PayloadError::Length {
                    need,
                    have: b.len(),
                });
            }
        }
        Ok(Self { b, pos: 1 })
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return Err(PayloadError::Length {
                need: self.pos.saturating_add(n),
                have: self.b.len(),
            });
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, PayloadError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, PayloadError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, PayloadError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, PayloadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i128(&mut self) -> Result<i128, PayloadError> {
        Ok(i128::from_le_bytes(self.array()?))
    }
    fn bool(&mut self, field: &'static str) -> Result<bool, PayloadError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(PayloadError::BadValue {
                field,
                value: v as u64,
            }),
        }
    }
    fn side(&mut self) -> Result<Side, PayloadError> {
        let v = self.u8()?;
        Side::from_u8(v).ok_or(PayloadError::BadValue {
            field: "side",
            value: v as u64,
        })
    }
    fn text(&mut self, field: &'static str, len: usize) -> Result<String, PayloadError> {
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| PayloadError::BadText(field))
    }
    fn padded_text(&mut self, field: &'static str, max: usize) -> Result<String, PayloadError> {
        let len = self.u8()? as usize;
        if len > max {
            return Err(PayloadError::TooLong { field, len, max });
        }
        let field_bytes = self.take(max)?;
        std::str::from_utf8(&field_bytes[..len])
            .map(str::to_owned)
            .map_err(|_| PayloadError::BadText(field))
    }
    /// Fails when bytes are left over after the last field.
    fn finish(&self) -> Result<(), PayloadError> {
        if self.pos != self.b.len() {
            return Err(PayloadError::Length {
                need: self.pos,
                have: self.b.len(),
            });
        }
        Ok(())
    }
}

fn bad(field: &'static str, value: u8) -> PayloadError {
    PayloadError::BadValue {
        field,
        value: value as u64,
    }
}

/// Decodes a payload of type `kind`; malformed bytes give an error, never a panic.
pub fn decode(kind: RecordType, bytes: &[u8]) -> Result<JournalEntry, PayloadError> {
    Ok(match kind {
        RecordType::OrderIntent => {
            let mut g = Get::new(bytes, Some(INTENT_BYTES))?;
            let strategy = StrategyId(g.u16()?);
            let intent_seq = g.u64()?;
            let symbol_id = SymbolId(g.u32()?);
            let side = g.side()?;
            let ot = g.u8()?;
            let order_type = OrderType::from_u8(ot).ok_or(bad("order_type", ot))?;
            let tif = g.u8()?;
            let time_in_force = TimeInForce::from_u8(tif).ok_or(bad("time_in_force", tif))?;
            let reduce_only = g.bool("reduce_only")?;
            let intent = OrderIntent {
                strategy,
                intent_seq,
                symbol: symbol_id,
                side,
                order_type,
                time_in_force,
                reduce_only,
                price: Price::from_raw(g.i128()?),
                qty: Qty::from_raw(g.i128()?),
                cause_recv_ns: g.u64()?,
            };
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            JournalEntry::Intent { symbol, intent }
        }
        RecordType::OrderUpdate => {
            let mut g = Get::new(bytes, Some(UPDATE_BYTES))?;
            let client_order_id = ClientOrderId(g.u64()?);
            let strategy = StrategyId(g.u16()?);
            let symbol_id = SymbolId(g.u32()?);
            let side = g.side()?;
            let st = g.u8()?;
            let status = OrderStatus::from_u8(st).ok_or(bad("status", st))?;
            let update = OrderUpdate {
                client_order_id,
                strategy,
                symbol: symbol_id,
                side,
                status,
                filled_qty: Qty::from_raw(g.i128()?),
                venue_order_id: g.u64()?,
                reject_code: g.u16()?,
            };
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            JournalEntry::Update { symbol, update }
        }
        RecordType::Fill => {
            let mut g = Get::new(bytes, Some(FILL_BYTES))?;
            let fill = Fill {
                client_order_id: ClientOrderId(g.u64()?),
                strategy: StrategyId(g.u16()?),
                symbol: SymbolId(g.u32()?),
                side: g.side()?,
                is_maker: g.bool("is_maker")?,
                price: Price::from_raw(g.i128()?),
                qty: Qty::from_raw(g.i128()?),
                fee: Notional::from_raw(g.i128()?),
                venue_trade_id: g.u64()?,
            };
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            JournalEntry::Fill { symbol, fill }
        }
        RecordType::RiskEvent => {
            let mut g = Get::new(bytes, Some(RISK_BYTES))?;
            let event = RiskEvent {
                code: g.u16()?,
                strategy: StrategyId(g.u16()?),
                client_order_id: ClientOrderId(g.u64()?),
                observed: Notional::from_raw(g.i128()?),
                limit: Notional::from_raw(g.i128()?),
            };
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            JournalEntry::Risk { symbol, event }
        }
        RecordType::TradingState => {
            let mut g = Get::new(bytes, Some(STATE_BYTES))?;
            let f = g.u8()?;
            let from = TradingMode::from_u8(f).ok_or(bad("from", f))?;
            let t = g.u8()?;
            let to = TradingMode::from_u8(t).ok_or(bad("to", t))?;
            let change = TradingStateChange {
                from,
                to,
                cause_code: g.u16()?,
            };
            let cause = g.padded_text("cause", STATE_CAUSE_MAX)?;
            JournalEntry::TradingState { change, cause }
        }
        RecordType::Session => {
            let mut g = Get::new(bytes, Some(SESSION_BYTES))?;
            JournalEntry::Session(SessionStart {
                session: g.u32()?,
                wall_ns: g.u64()?,
                pid: g.u32()?,
            })
        }
        RecordType::OperatorNote => {
            let mut g = Get::new(bytes, None)?;
            let len = g.u32()? as usize;
            let text = g.text("note", len)?;
            g.finish()?;
            JournalEntry::Note { text }
        }
        RecordType::MarketFrame => {
            let mut g = Get::new(bytes, None)?;
            let recv_ns = g.u64()?;
            let tag_len = g.u8()? as usize;
            let len = g.u32()? as usize;
            let tag = g.text("frame tag", tag_len)?;
            let bytes = g.take(len)?.to_vec();
            g.finish()?;
            JournalEntry::MarketFrame {
                tag,
                recv_ns,
                bytes,
            }
        }
        RecordType::Snapshot => {
            let mut g = Get::new(bytes, None)?;
            let as_of_seq = g.u64()?;
            let name_len = g.u8()? as usize;
            let len = g.u32()? as usize;
            let component = g.text("snapshot component", name_len)?;
            let body = g.take(len)?.to_vec();
            g.finish()?;
            JournalEntry::Snapshot {
                component,
                as_of_seq,
                body,
            }
        }
    })
}

/// Reads only the session number of a `Session` payload (recovery uses it on every start).
pub fn decode_session_number(bytes: &[u8]) -> Result<u32, PayloadError> {
    let mut g = Get::new(bytes, Some(SESSION_BYTES))?;
    g.u32()
}

#[cfg(test)]
mod tests;
