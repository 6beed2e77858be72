//! Owns: decoding payload bytes (from a file, possibly damaged) into owned entries.
//! Never: panics or reads out of bounds, whatever the bytes.

use super::{
    JournalEntry, PayloadError, RiskEvent, SessionStart, TradingMode, TradingStateChange,
    FILL_BYTES, INTENT_BYTES, PAYLOAD_VERSION, RISK_BYTES, SESSION_BYTES, STATE_BYTES,
    STATE_CAUSE_MAX, UPDATE_BYTES,
};
use crate::core::decimal::Notional;
use crate::core::symbol::SYMBOL_NAME_MAX;
use crate::core::{
    ClientOrderId, Fill, IntentAction, OrderIntent, OrderRole, OrderStatus, OrderType, OrderUpdate,
    Price, Qty, Side, StrategyId, SymbolId, TimeInForce,
};
use crate::persist::RecordType;

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
            let price = Price::from_raw(g.i128()?);
            let qty = Qty::from_raw(g.i128()?);
            let cause_recv_ns = g.u64()?;
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            let act = g.u8()?;
            let action = IntentAction::from_u8(act).ok_or(bad("action", act))?;
            let intent = OrderIntent {
                strategy,
                intent_seq,
                symbol: symbol_id,
                action,
                target: ClientOrderId(g.u64()?),
                side,
                order_type,
                time_in_force,
                reduce_only,
                price,
                qty,
                stop_loss: Price::from_raw(g.i128()?),
                take_profit: Price::from_raw(g.i128()?),
                cause_recv_ns,
            };
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
            let filled_qty = Qty::from_raw(g.i128()?);
            let venue_order_id = g.u64()?;
            let reject_code = g.u16()?;
            let symbol = g.padded_text("symbol", SYMBOL_NAME_MAX)?;
            let ot = g.u8()?;
            let order_type = OrderType::from_u8(ot).ok_or(bad("order_type", ot))?;
            let tif = g.u8()?;
            let time_in_force = TimeInForce::from_u8(tif).ok_or(bad("time_in_force", tif))?;
            let r = g.u8()?;
            let role = OrderRole::from_u8(r).ok_or(bad("role", r))?;
            let update = OrderUpdate {
                client_order_id,
                strategy,
                symbol: symbol_id,
                side,
                status,
                filled_qty,
                venue_order_id,
                reject_code,
                order_type,
                time_in_force,
                role,
                reduce_only: g.bool("reduce_only")?,
                price: Price::from_raw(g.i128()?),
                trigger_price: Price::from_raw(g.i128()?),
                qty: Qty::from_raw(g.i128()?),
                parent: ClientOrderId(g.u64()?),
            };
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
