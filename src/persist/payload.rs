//! Owns: the payload codec of every record type: fixed little-endian layouts, version byte
//! first; encoding into a caller buffer without allocation, decoding into owned entries for
//! tools. Never: panics on bytes from a file, or allocates while encoding.
//!
//! Layout version 2 (all integers little-endian, decimals as raw `i128` 1e-18 units, `sym`
//! = length u8 + 24 bytes zero-padded, longer names truncated at a character boundary):
//! ```text
//! intent  : v u8 | strategy u16 | intent_seq u64 | symbol_id u32 | side u8 | order_type u8
//!           | tif u8 | reduce_only u8 | price i128 | qty i128 | cause_recv_ns u64 | sym
//!           | action u8 | target u64 | stop_loss i128 | take_profit i128                 (125 B)
//! order   : v | client_order_id u64 | strategy u16 | symbol_id u32 | side u8 | status u8
//!           | filled_qty i128 | venue_order_id u64 | reject_code u16 | sym
//!           | order_type u8 | tif u8 | role u8 | reduce_only u8 | price i128
//!           | trigger_price i128 | qty i128 | parent u64                                  (128 B)
//! fill    : v | client_order_id u64 | strategy u16 | symbol_id u32 | side u8 | is_maker u8
//!           | price i128 | qty i128 | fee i128 | venue_trade_id u64 | sym                    (98 B)
//! risk    : v | code u16 | strategy u16 | client_order_id u64 | observed i128 | limit i128 | sym (70 B)
//! state   : v | from u8 | to u8 | cause_code u16 | cause_len u8 | cause [64]             (70 B)
//! session : v | session u32 | wall_ns u64 | pid u32                                      (17 B)
//! note    : v | len u32 | text
//! frame   : v | recv_ns u64 | tag_len u8 | len u32 | tag | bytes
//! snapshot: v | as_of_seq u64 | component_len u8 | len u32 | component | body
//! ```

mod decode;
mod text;

pub use decode::{decode, decode_session_number};
pub use text::format_utc_ns;

use crate::core::decimal::Notional;
use crate::core::symbol::SYMBOL_NAME_MAX;
use crate::core::{ClientOrderId, Fill, OrderIntent, OrderUpdate, StrategyId};

use super::RecordType;

/// Payload layout version written as the first byte of every payload.
/// Version 2 added the intent's action, target and bracket prices and the order's terms to
/// the update; version 1 journals are refused by the decoder with `Version(1)`.
pub const PAYLOAD_VERSION: u8 = 2;
/// Bytes of an encoded intent.
pub const INTENT_BYTES: usize = 125;
/// Bytes of an encoded order update.
pub const UPDATE_BYTES: usize = 128;
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
pub const MAX_FIXED_PAYLOAD: usize = UPDATE_BYTES;

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
    /// Trading normally.
    #[default]
    Active = 0,
    /// Only orders that reduce a position are allowed.
    ReduceOnly = 1,
    /// No new orders until an operator clears the halt.
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
    /// State before the change.
    pub from: TradingMode,
    /// State after the change.
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
    /// An order intent and its symbol name.
    Intent { symbol: String, intent: OrderIntent },
    /// An order update and its symbol name.
    Update { symbol: String, update: OrderUpdate },
    /// A fill and its symbol name.
    Fill { symbol: String, fill: Fill },
    /// A risk event and the symbol it concerns (empty when none).
    Risk { symbol: String, event: RiskEvent },
    /// A trading-state change and its cause text.
    TradingState {
        change: TradingStateChange,
        cause: String,
    },
    /// A component snapshot taken after record `as_of_seq`.
    Snapshot {
        component: String,
        as_of_seq: u64,
        body: Vec<u8>,
    },
    /// A raw market frame with its stream tag and receive time.
    MarketFrame {
        tag: String,
        recv_ns: u64,
        bytes: Vec<u8>,
    },
    /// An operator note.
    Note { text: String },
    /// An engine start.
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

/// Encodes an intent and its symbol name into `out` (≥ [`MAX_FIXED_PAYLOAD`] bytes).
///
/// Returns the payload length. Panics only when `out` is shorter than the layout, a caller bug.
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
    p.u8(i.action as u8);
    p.u64(i.target.0);
    p.i128(i.stop_loss.raw());
    p.i128(i.take_profit.raw());
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
    p.u8(u.order_type as u8);
    p.u8(u.time_in_force as u8);
    p.u8(u.role as u8);
    p.u8(u.reduce_only as u8);
    p.i128(u.price.raw());
    p.i128(u.trigger_price.raw());
    p.i128(u.qty.raw());
    p.u64(u.parent.0);
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

/// Encodes a risk event and its symbol (empty when none) into `out` (≥ [`MAX_FIXED_PAYLOAD`] B).
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

#[cfg(test)]
mod tests;
