//! Owns: the request parameters the codec sends, held in a fixed buffer, and their two wire
//! forms: a REST query string and a WebSocket API JSON `params` object with its sorted payload.
//! Never: allocates per request, sorts at run time, or writes a value that needs escaping.
//!
//! [`Param`] is declared in the byte order of its wire names, so walking the set of present
//! params in discriminant order already yields the alphabetical order the WebSocket API signs
//! (protocols.md §0 B4–B6); REST signs whatever order is sent and gets the same order.

use super::wire::{copy_bytes, Overflow, WireBuf};
use crate::core::decimal::{write_raw, write_u64, MAX_TEXT_LEN, SCALE_DIGITS};
use crate::core::ClientOrderId;

/// Every parameter name the codec sends, in the byte order of the names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
pub enum Param {
    AboveClientOrderId,
    AbovePrice,
    AboveStopPrice,
    AboveTimeInForce,
    AboveType,
    AlgoType,
    ApiKey,
    BelowClientOrderId,
    BelowPrice,
    BelowStopPrice,
    BelowTimeInForce,
    BelowType,
    ClientAlgoId,
    FromId,
    IsIsolated,
    Limit,
    LimitClientOrderId,
    ListClientOrderId,
    ListenToken,
    NewClientOrderId,
    NewOrderRespType,
    OmitZeroBalances,
    OrderId,
    OrigClientOrderId,
    PositionSide,
    Price,
    Quantity,
    RecvWindow,
    ReduceOnly,
    Side,
    SideEffectType,
    StopClientOrderId,
    StopLimitPrice,
    StopLimitTimeInForce,
    StopPrice,
    Symbol,
    Symbols,
    TimeInForce,
    Timestamp,
    TriggerPrice,
    Type,
    Validity,
    WorkingType,
}

/// Number of [`Param`] variants.
pub const PARAM_COUNT: usize = 43;

// The set of present params is one `u64` mask.
const _: () = assert!(PARAM_COUNT <= 64);

impl Param {
    /// Every parameter, in wire-name order.
    pub const ALL: [Param; PARAM_COUNT] = [
        Param::AboveClientOrderId,
        Param::AbovePrice,
        Param::AboveStopPrice,
        Param::AboveTimeInForce,
        Param::AboveType,
        Param::AlgoType,
        Param::ApiKey,
        Param::BelowClientOrderId,
        Param::BelowPrice,
        Param::BelowStopPrice,
        Param::BelowTimeInForce,
        Param::BelowType,
        Param::ClientAlgoId,
        Param::FromId,
        Param::IsIsolated,
        Param::Limit,
        Param::LimitClientOrderId,
        Param::ListClientOrderId,
        Param::ListenToken,
        Param::NewClientOrderId,
        Param::NewOrderRespType,
        Param::OmitZeroBalances,
        Param::OrderId,
        Param::OrigClientOrderId,
        Param::PositionSide,
        Param::Price,
        Param::Quantity,
        Param::RecvWindow,
        Param::ReduceOnly,
        Param::Side,
        Param::SideEffectType,
        Param::StopClientOrderId,
        Param::StopLimitPrice,
        Param::StopLimitTimeInForce,
        Param::StopPrice,
        Param::Symbol,
        Param::Symbols,
        Param::TimeInForce,
        Param::Timestamp,
        Param::TriggerPrice,
        Param::Type,
        Param::Validity,
        Param::WorkingType,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Param::AboveClientOrderId => "aboveClientOrderId",
            Param::AbovePrice => "abovePrice",
            Param::AboveStopPrice => "aboveStopPrice",
            Param::AboveTimeInForce => "aboveTimeInForce",
            Param::AboveType => "aboveType",
            Param::AlgoType => "algoType",
            Param::ApiKey => "apiKey",
            Param::BelowClientOrderId => "belowClientOrderId",
            Param::BelowPrice => "belowPrice",
            Param::BelowStopPrice => "belowStopPrice",
            Param::BelowTimeInForce => "belowTimeInForce",
            Param::BelowType => "belowType",
            Param::ClientAlgoId => "clientAlgoId",
            Param::FromId => "fromId",
            Param::IsIsolated => "isIsolated",
            Param::Limit => "limit",
            Param::LimitClientOrderId => "limitClientOrderId",
            Param::ListClientOrderId => "listClientOrderId",
            Param::ListenToken => "listenToken",
            Param::NewClientOrderId => "newClientOrderId",
            Param::NewOrderRespType => "newOrderRespType",
            Param::OmitZeroBalances => "omitZeroBalances",
            Param::OrderId => "orderId",
            Param::OrigClientOrderId => "origClientOrderId",
            Param::PositionSide => "positionSide",
            Param::Price => "price",
            Param::Quantity => "quantity",
            Param::RecvWindow => "recvWindow",
            Param::ReduceOnly => "reduceOnly",
            Param::Side => "side",
            Param::SideEffectType => "sideEffectType",
            Param::StopClientOrderId => "stopClientOrderId",
            Param::StopLimitPrice => "stopLimitPrice",
            Param::StopLimitTimeInForce => "stopLimitTimeInForce",
            Param::StopPrice => "stopPrice",
            Param::Symbol => "symbol",
            Param::Symbols => "symbols",
            Param::TimeInForce => "timeInForce",
            Param::Timestamp => "timestamp",
            Param::TriggerPrice => "triggerPrice",
            Param::Type => "type",
            Param::Validity => "validity",
            Param::WorkingType => "workingType",
        }
    }

    /// This param's bit in a presence mask.
    #[inline]
    pub const fn bit(self) -> u64 {
        1 << self as u32
    }

    /// Integers the WebSocket API documents as JSON numbers; everything else is a string.
    const fn is_json_number(self) -> bool {
        matches!(
            self,
            Param::Timestamp
                | Param::RecvWindow
                | Param::FromId
                | Param::Limit
                | Param::OrderId
                | Param::Validity
        )
    }
}

/// Bytes of parameter values one request may hold.
const VALUE_CAPACITY: usize = 768;

/// Why a parameter could not be stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParamError {
    /// A decimal has digits past what the venue accepts for it (sending it truncated
    /// would change the order).
    #[error("{param} {value} has more than {decimals} decimals")]
    TooPrecise {
        param: &'static str,
        value: crate::core::Price,
        decimals: u32,
    },
    /// A value holds a byte that would need escaping or percent-encoding.
    #[error("{param} holds a byte that is not URL- and JSON-safe")]
    UnsafeByte { param: &'static str },
    /// The values of one request exceed the fixed buffer.
    #[error("request parameters or the encoded request exceed their fixed buffers")]
    TooLong,
}

impl From<Overflow> for ParamError {
    fn from(_: Overflow) -> Self {
        ParamError::TooLong
    }
}

/// The parameters of one request, values in a fixed buffer (reused across requests).
#[derive(Clone)]
pub struct ParamSet {
    present: u64,
    spans: [(u16, u16); PARAM_COUNT],
    values: [u8; VALUE_CAPACITY],
    used: usize,
}

impl Default for ParamSet {
    fn default() -> Self {
        Self {
            present: 0,
            spans: [(0, 0); PARAM_COUNT],
            values: [0; VALUE_CAPACITY],
            used: 0,
        }
    }
}

/// True for bytes that pass through a query string and a JSON string unchanged.
#[inline]
const fn is_safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

impl ParamSet {
    /// Forgets every value.
    #[inline]
    pub fn clear(&mut self) {
        self.present = 0;
        self.used = 0;
    }

    /// True when `param` has a value.
    #[inline]
    pub fn contains(&self, param: Param) -> bool {
        self.present & param.bit() != 0
    }

    /// True when a param that sorts before `param` is set.
    #[inline]
    pub fn has_any_before(&self, param: Param) -> bool {
        self.present & (param.bit() - 1) != 0
    }

    /// The value of `param`, if set.
    pub fn get(&self, param: Param) -> Option<&str> {
        if !self.contains(param) {
            return None;
        }
        let (start, len) = self.spans[param as usize];
        std::str::from_utf8(&self.values[start as usize..start as usize + len as usize]).ok()
    }

    /// The free value space from the cursor, refused unless at least `min` bytes long.
    #[inline]
    fn free(&mut self, min: usize) -> Result<&mut [u8], ParamError> {
        if self.used + min > VALUE_CAPACITY {
            return Err(ParamError::TooLong);
        }
        Ok(&mut self.values[self.used..])
    }

    /// Records the `len` bytes just written at the cursor as the value of `param`.
    #[inline]
    fn commit(&mut self, param: Param, len: usize) {
        self.spans[param as usize] = (self.used as u16, len as u16);
        self.present |= param.bit();
        self.used += len;
    }

    /// Sets a text value; it must be URL- and JSON-safe (`[A-Za-z0-9._-]`).
    #[inline]
    pub fn text(&mut self, param: Param, value: &str) -> Result<(), ParamError> {
        self.checked_text(param, value, is_safe_byte)
    }

    /// Sets a venue-issued token (a margin `listenToken`: base64, so `+`, `/` and `=` besides
    /// the safe bytes; never empty). JSON-safe but not URL-safe: only WebSocket API
    /// requests carry one.
    pub fn token(&mut self, param: Param, value: &str) -> Result<(), ParamError> {
        if value.is_empty() {
            return Err(ParamError::UnsafeByte {
                param: param.name(),
            });
        }
        self.checked_text(param, value, |b| {
            is_safe_byte(b) || matches!(b, b'+' | b'/' | b'=')
        })
    }

    /// Sets `value` once every byte passes `allowed`.
    #[inline]
    fn checked_text(
        &mut self,
        param: Param,
        value: &str,
        allowed: fn(u8) -> bool,
    ) -> Result<(), ParamError> {
        if !value.bytes().all(allowed) {
            return Err(ParamError::UnsafeByte {
                param: param.name(),
            });
        }
        let len = value.len();
        copy_bytes(&mut self.free(len)?[..len], value.as_bytes());
        self.commit(param, len);
        Ok(())
    }

    /// Sets a text value the codec already knows is safe (constants, and names and keys
    /// checked when the codec was built); checked again only in debug builds.
    #[inline]
    pub(crate) fn trusted_text(&mut self, param: Param, value: &str) -> Result<(), ParamError> {
        debug_assert!(value.bytes().all(is_safe_byte), "{value:?} needs escaping");
        let len = value.len();
        copy_bytes(&mut self.free(len)?[..len], value.as_bytes());
        self.commit(param, len);
        Ok(())
    }

    /// Sets an unsigned integer.
    #[inline]
    pub fn integer(&mut self, param: Param, value: u64) -> Result<(), ParamError> {
        let len = write_u64(value, self.free(20)?);
        self.commit(param, len);
        Ok(())
    }

    /// Sets a client order id in its `ks<session>-<n>` wire form.
    #[inline]
    pub fn client_id(&mut self, param: Param, id: ClientOrderId) -> Result<(), ParamError> {
        let mut text = [0u8; 24];
        let len = id.write_to(&mut text);
        copy_bytes(&mut self.free(len)?[..len], &text[..len]);
        self.commit(param, len);
        Ok(())
    }

    /// Sets a decimal (raw 1e-18 units) with exactly `decimals` fractional digits; refuses a
    /// value with significant digits past them instead of truncating it.
    #[inline]
    pub fn decimal(&mut self, param: Param, raw: i128, decimals: u32) -> Result<(), ParamError> {
        let decimals = decimals.min(SCALE_DIGITS) as usize;
        // The shortest exact text tells how many decimals the value needs; zero padding
        // then brings it to the venue's count without a second division.
        let text = self.free(MAX_TEXT_LEN + 1 + SCALE_DIGITS as usize)?;
        let len = write_raw(raw, text);
        let needed = text[..len]
            .iter()
            .position(|&b| b == b'.')
            .map_or(0, |dot| len - dot - 1);
        if needed > decimals {
            return Err(ParamError::TooPrecise {
                param: param.name(),
                value: crate::core::Price::from_raw(raw),
                decimals: decimals as u32,
            });
        }
        let mut end = len;
        if decimals > 0 && needed == 0 {
            text[end] = b'.';
            end += 1;
        }
        let padded = end + (decimals - needed);
        text[end..padded].fill(b'0');
        self.commit(param, padded);
        Ok(())
    }

    /// Present params with their values, in wire-name order.
    pub fn iter(&self) -> impl Iterator<Item = (Param, &[u8])> + '_ {
        self.iter_masked(self.present)
    }

    /// The params of `mask` with their values, in wire-name order.
    #[inline]
    fn iter_masked(&self, mask: u64) -> impl Iterator<Item = (Param, &[u8])> + '_ {
        let mut remaining = mask;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            let index = remaining.trailing_zeros() as usize;
            remaining &= remaining - 1;
            let (start, len) = self.spans[index];
            let value = &self.values[start as usize..start as usize + len as usize];
            Some((Param::ALL[index], value))
        })
    }

    /// Appends `name=value&…` (no trailing `&`): a REST query string or form body, and the
    /// WebSocket API signing payload.
    #[inline]
    pub fn write_query(&self, out: &mut WireBuf) -> Result<(), Overflow> {
        self.write_query_without(&[], out)
    }

    /// Like [`ParamSet::write_query`], leaving out `skip` (already written elsewhere).
    #[inline]
    pub fn write_query_without(&self, skip: &[Param], out: &mut WireBuf) -> Result<(), Overflow> {
        let skip_mask = skip.iter().fold(0u64, |mask, param| mask | param.bit());
        let mut first = true;
        for (param, value) in self.iter_masked(self.present & !skip_mask) {
            if !first {
                out.push(b'&')?;
            }
            first = false;
            out.extend(param.name().as_bytes())?;
            out.push(b'=')?;
            out.extend(value)?;
        }
        Ok(())
    }

    /// Appends the members of a JSON object (`"name":"value",…`, no braces, no trailing comma).
    #[inline]
    pub fn write_json_members(&self, out: &mut WireBuf) -> Result<(), Overflow> {
        let mut first = true;
        for (param, value) in self.iter() {
            if !first {
                out.push(b',')?;
            }
            first = false;
            out.push(b'"')?;
            out.extend(param.name().as_bytes())?;
            out.extend(b"\":")?;
            if param.is_json_number() {
                out.extend(value)?;
            } else {
                out.push(b'"')?;
                out.extend(value)?;
                out.push(b'"')?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_order_is_the_byte_order_of_the_wire_names() {
        for (index, param) in Param::ALL.iter().enumerate() {
            assert_eq!(*param as usize, index, "{param:?} is listed out of place");
        }
        for pair in Param::ALL.windows(2) {
            assert!(
                pair[0].name().as_bytes() < pair[1].name().as_bytes(),
                "{} must sort before {}",
                pair[0].name(),
                pair[1].name()
            );
        }
    }

    #[test]
    fn params_come_out_sorted_whatever_order_they_were_set_in() {
        let mut set = ParamSet::default();
        set.text(Param::Type, "LIMIT").expect("fits");
        set.integer(Param::Timestamp, 1645423376532).expect("fits");
        set.text(Param::ApiKey, "key").expect("fits");
        set.decimal(Param::Price, 52_000 * 10i128.pow(18), 2)
            .expect("fits");
        let mut query = WireBuf::with_capacity(256);
        set.write_query(&mut query).expect("fits");
        assert_eq!(
            String::from_utf8(query.as_bytes().to_vec()).expect("ASCII"),
            "apiKey=key&price=52000.00&timestamp=1645423376532&type=LIMIT"
        );
        let mut json = WireBuf::with_capacity(256);
        set.write_json_members(&mut json).expect("fits");
        assert_eq!(
            String::from_utf8(json.as_bytes().to_vec()).expect("ASCII"),
            r#""apiKey":"key","price":"52000.00","timestamp":1645423376532,"type":"LIMIT""#
        );
        set.clear();
        assert_eq!(set.iter().count(), 0);
    }

    #[test]
    fn decimals_past_the_venue_precision_are_refused_not_truncated() {
        let mut set = ParamSet::default();
        let raw = 123_456 * 10i128.pow(14); // 12.3456
        assert!(matches!(
            set.decimal(Param::Quantity, raw, 3),
            Err(ParamError::TooPrecise { decimals: 3, .. })
        ));
        set.decimal(Param::Quantity, raw, 4).expect("exact at 4");
        assert_eq!(set.get(Param::Quantity), Some("12.3456"));
        set.decimal(Param::Price, 52_000 * 10i128.pow(18), 0)
            .expect("integer");
        assert_eq!(set.get(Param::Price), Some("52000"));
        set.decimal(Param::StopPrice, 52_000 * 10i128.pow(18), 3)
            .expect("padded");
        assert_eq!(set.get(Param::StopPrice), Some("52000.000"));
        set.decimal(Param::TriggerPrice, 5 * 10i128.pow(16), 8)
            .expect("padded");
        assert_eq!(set.get(Param::TriggerPrice), Some("0.05000000"));
        set.decimal(Param::AbovePrice, 1, 18)
            .expect("the finest unit");
        assert_eq!(set.get(Param::AbovePrice), Some("0.000000000000000001"));
        assert!(set.decimal(Param::BelowPrice, 1, 17).is_err());
        set.decimal(Param::BelowStopPrice, i128::MAX, 18)
            .expect("the widest value");
        assert_eq!(
            set.get(Param::BelowStopPrice),
            Some("170141183460469231731.687303715884105727")
        );
    }

    #[test]
    fn unsafe_text_and_overflow_are_errors() {
        let mut set = ParamSet::default();
        assert!(matches!(
            set.text(Param::Symbol, "BTC\"USDT"),
            Err(ParamError::UnsafeByte { param: "symbol" })
        ));
        assert!(set.text(Param::Symbol, "１２３").is_err());
        let long = "A".repeat(VALUE_CAPACITY + 1);
        assert_eq!(set.text(Param::ApiKey, &long), Err(ParamError::TooLong));
    }
}
