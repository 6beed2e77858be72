//! Owns: the strict byte cursor the hot decoders read JSON with (strings without escapes,
//! unsigned integers, booleans, decimal strings straight to fixed point, level arrays).
//! Never: allocates, unescapes, or accepts a shape it does not know how to check.

use super::error::{BadDecimal, DecodeError};
use crate::core::decimal::{Price, Qty};
use crate::core::event::Level;

/// Deepest nesting `skip_value` follows inside an unknown field.
const MAX_SKIP_DEPTH: u32 = 8;

/// A read position over one frame.
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at byte `pos` of `buf`.
    #[inline]
    pub(super) fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Current byte offset.
    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// A malformed-JSON error at the current offset.
    #[inline]
    pub(super) fn error(&self, what: &'static str) -> DecodeError {
        DecodeError::Malformed {
            offset: self.pos,
            what,
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace, or fails.
    #[inline]
    pub(super) fn eat(&mut self, byte: u8) -> Result<(), DecodeError> {
        if self.try_eat(byte) {
            Ok(())
        } else {
            Err(self.error(match byte {
                b'{' => "expected '{'",
                b'}' => "expected '}'",
                b'[' => "expected '['",
                b']' => "expected ']'",
                b':' => "expected ':'",
                b',' => "expected ','",
                _ => "unexpected byte",
            }))
        }
    }

    /// Consumes `byte` after optional whitespace when it is next.
    #[inline]
    pub(super) fn try_eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Fails unless only whitespace remains.
    #[inline]
    pub(super) fn finish(&mut self) -> Result<(), DecodeError> {
        self.skip_ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.error("trailing bytes"))
        }
    }

    /// A string's raw bytes; escapes and control characters are rejected.
    #[inline]
    pub(super) fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        if !self.try_eat(b'"') {
            return Err(self.error("expected string"));
        }
        let start = self.pos;
        let rest = &self.buf[start..];
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'"' => {
                    self.pos = start + i + 1;
                    return Ok(&rest[..i]);
                }
                b'\\' => {
                    self.pos = start + i;
                    return Err(self.error("escaped string"));
                }
                0..=0x1f => {
                    self.pos = start + i;
                    return Err(self.error("control character in string"));
                }
                _ => {}
            }
        }
        self.pos = self.buf.len();
        Err(self.error("unterminated string"))
    }

    /// An object key and its ':'.
    #[inline]
    pub(super) fn key(&mut self) -> Result<&'a [u8], DecodeError> {
        let key = self.string()?;
        self.eat(b':')?;
        Ok(key)
    }

    /// Reads `{ key: value, … }`, handing each key to `field`, which must consume its value.
    #[inline]
    pub(super) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.eat(b'{')?;
        if self.try_eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.key()?;
            field(self, key)?;
            if self.try_eat(b',') {
                continue;
            }
            return self.eat(b'}');
        }
    }

    /// A JSON unsigned integer that fits in `u64`.
    #[inline]
    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.skip_ws();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            let digit = u64::from(b - b'0');
            // Up to 19 digits cannot overflow a `u64`; only a 20th needs the checks.
            value = if self.pos - start < 19 {
                value * 10 + digit
            } else {
                value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(digit))
                    .ok_or_else(|| self.error("integer out of range"))?
            };
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 {
            return Err(self.error("expected unsigned integer"));
        }
        if digits > 1 && self.buf[start] == b'0' {
            return Err(self.error("leading zero"));
        }
        if let Some(b'.' | b'e' | b'E' | b'-' | b'+') = self.peek() {
            return Err(self.error("expected integer"));
        }
        Ok(value)
    }

    /// A JSON boolean.
    #[inline]
    pub(super) fn bool(&mut self) -> Result<bool, DecodeError> {
        self.skip_ws();
        let rest = &self.buf[self.pos..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.error("expected boolean"))
        }
    }

    /// A decimal string that must be zero or positive, as a price.
    #[inline]
    pub(super) fn price(&mut self, field: &'static str) -> Result<Price, DecodeError> {
        self.unsigned_decimal(field).map(Price::from_raw)
    }

    /// A decimal string that must be zero or positive, as a quantity.
    #[inline]
    pub(super) fn qty(&mut self, field: &'static str) -> Result<Qty, DecodeError> {
        self.unsigned_decimal(field).map(Qty::from_raw)
    }

    /// A quoted non-negative decimal; the usual shape is parsed while the string is scanned,
    /// anything else is re-read as a string and given to [`unsigned_decimal`].
    #[inline]
    fn unsigned_decimal(&mut self, field: &'static str) -> Result<i128, DecodeError> {
        if !self.try_eat(b'"') {
            return Err(self.error("expected string"));
        }
        let open = self.pos - 1;
        let mut mantissa: u64 = 0;
        let mut digits = 0usize;
        let mut dot = None;
        let mut i = self.pos;
        while let Some(&b) = self.buf.get(i) {
            match b {
                b'0'..=b'9' if digits < 19 => {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    digits += 1;
                }
                b'.' if dot.is_none() && digits > 0 => dot = Some(i),
                b'"' if digits > 0 && dot != Some(i - 1) => {
                    let frac_digits = dot.map_or(0, |d| i - d - 1);
                    if frac_digits > SCALE_DIGITS {
                        break;
                    }
                    self.pos = i + 1;
                    return Ok(i128::from(mantissa) * POW10[SCALE_DIGITS - frac_digits]);
                }
                _ => break,
            }
            i += 1;
        }
        self.pos = open;
        let text = self.string()?;
        unsigned_decimal(text, field)
    }

    /// `[[price, qty], …]` into `out` (cleared first; its capacity is reused).
    #[inline]
    pub(super) fn levels(
        &mut self,
        out: &mut Vec<Level>,
        price_field: &'static str,
        qty_field: &'static str,
    ) -> Result<(), DecodeError> {
        out.clear();
        self.eat(b'[')?;
        if self.try_eat(b']') {
            return Ok(());
        }
        loop {
            self.eat(b'[')?;
            let price = self.price(price_field)?;
            self.eat(b',')?;
            let qty = self.qty(qty_field)?;
            self.eat(b']')?;
            out.push(Level { price, qty });
            if self.try_eat(b',') {
                continue;
            }
            return self.eat(b']');
        }
    }

    /// Skips one value of a field the decoder does not use; strings keep the strict rules.
    pub(super) fn skip_value(&mut self) -> Result<(), DecodeError> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_SKIP_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => self.object(|c, _| c.skip_nested(depth + 1)),
            Some(b'[') => {
                self.pos += 1;
                if self.try_eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip_nested(depth + 1)?;
                    if self.try_eat(b',') {
                        continue;
                    }
                    return self.eat(b']');
                }
            }
            Some(b't' | b'f') => self.bool().map(|_| ()),
            Some(b'n') if self.buf[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            _ => Err(self.error("expected value")),
        }
    }

    fn skip_number(&mut self) -> Result<(), DecodeError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.peek() {
            self.pos += 1;
        }
        match self.buf.get(start) {
            Some(b'0'..=b'9') if self.pos > start => Ok(()),
            _ => Err(self.error("expected number")),
        }
    }
}

/// 10^n for the scale step of the fast path.
const POW10: [i128; 19] = {
    let mut table = [1i128; 19];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Fixed-point scale digits (1e-18 units).
const SCALE_DIGITS: usize = 18;

/// The venue's usual shape, `digits.digits` with at most 19 digits, in one pass; `None`
/// hands anything else (signs, exponents, long or odd texts) to the reference parser,
/// which is the only producer of errors.
#[inline]
fn plain_decimal(text: &[u8]) -> Option<i128> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut dot = None;
    for (i, &b) in text.iter().enumerate() {
        match b {
            // 19 digits always fit in a `u64`; a 20th goes to the reference parser.
            b'0'..=b'9' if digits < 19 => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b'.' if dot.is_none() && i > 0 && i + 1 < text.len() => dot = Some(i),
            _ => return None,
        }
    }
    let frac_digits = dot.map_or(0, |d| text.len() - d - 1);
    if frac_digits > SCALE_DIGITS {
        return None;
    }
    Some(i128::from(mantissa) * POW10[SCALE_DIGITS - frac_digits])
}

/// Decimal text that must be zero or positive, to raw 1e-18 units.
#[inline]
pub(super) fn unsigned_decimal(text: &[u8], field: &'static str) -> Result<i128, DecodeError> {
    if let Some(raw) = plain_decimal(text) {
        return Ok(raw);
    }
    let raw = signed_decimal(text, field)?;
    if raw < 0 {
        return Err(DecodeError::BadDecimal {
            field,
            reason: BadDecimal::Negative,
        });
    }
    Ok(raw)
}

/// Decimal text of either sign, to raw 1e-18 units.
#[inline]
pub(super) fn signed_decimal(text: &[u8], field: &'static str) -> Result<i128, DecodeError> {
    crate::core::decimal::parse_raw(text).map_err(|err| DecodeError::BadDecimal {
        field,
        reason: err.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_rejects_escapes_and_unterminated_text() {
        assert!(Cursor::new(br#""a\"b""#, 0).string().is_err());
        assert!(Cursor::new(br#""abc"#, 0).string().is_err());
        assert_eq!(
            Cursor::new(br#" "abc" "#, 0).string().ok(),
            Some(&b"abc"[..])
        );
    }

    #[test]
    fn u64_rejects_fractions_signs_and_overflow() {
        assert_eq!(
            Cursor::new(b"18446744073709551615", 0).u64().ok(),
            Some(u64::MAX)
        );
        assert!(Cursor::new(b"18446744073709551616", 0).u64().is_err());
        assert!(Cursor::new(b"1.5", 0).u64().is_err());
        assert!(Cursor::new(b"-1", 0).u64().is_err());
        assert!(Cursor::new(b"01", 0).u64().is_err());
    }

    #[test]
    fn skip_value_walks_nested_shapes_and_stops_at_depth_limit() {
        let mut c = Cursor::new(br#"{"a":[1,-2.5e3,"x",{"b":null}],"c":true}"#, 0);
        assert!(c.skip_value().is_ok());
        assert!(c.finish().is_ok());
        let deep = [b'['; 64];
        assert!(Cursor::new(&deep, 0).skip_value().is_err());
    }

    fn quoted(text: &str) -> Option<i128> {
        let quoted = format!("\"{text}\",");
        let mut c = Cursor::new(quoted.as_bytes(), 0);
        let raw = c.unsigned_decimal("q").ok()?;
        assert_eq!(
            c.pos(),
            quoted.len() - 1,
            "cursor stops after the closing quote"
        );
        Some(raw)
    }

    proptest::proptest! {
        #[test]
        fn scanned_decimals_agree_with_the_reference_parser(text in "[0-9.e-]{0,24}") {
            let reference = crate::core::decimal::parse_raw(text.as_bytes()).ok().filter(|r| *r >= 0);
            proptest::prop_assert_eq!(quoted(&text), reference);
        }

        #[test]
        fn scanned_venue_shaped_decimals_agree_with_the_reference_parser(text in "[0-9]{1,20}(\\.[0-9]{1,20})?") {
            let reference = crate::core::decimal::parse_raw(text.as_bytes()).ok();
            proptest::prop_assert_eq!(quoted(&text), reference);
        }

        #[test]
        fn plain_path_agrees_with_the_reference_parser(text in "[0-9.]{0,22}") {
            if let Some(raw) = plain_decimal(text.as_bytes()) {
                proptest::prop_assert_eq!(crate::core::decimal::parse_raw(text.as_bytes()), Ok(raw));
            }
            let ours = unsigned_decimal(text.as_bytes(), "q").ok();
            proptest::prop_assert_eq!(ours, crate::core::decimal::parse_raw(text.as_bytes()).ok());
        }

        #[test]
        fn plain_path_agrees_on_venue_shaped_text(text in "[0-9]{1,19}(\\.[0-9]{1,19})?") {
            let ours = unsigned_decimal(text.as_bytes(), "q").ok();
            proptest::prop_assert_eq!(ours, crate::core::decimal::parse_raw(text.as_bytes()).ok());
        }
    }

    #[test]
    fn plain_path_takes_the_usual_shapes() {
        assert_eq!(
            plain_decimal(b"61837.63000000"),
            Some(61_837_630_000_000_000_000_000)
        );
        assert_eq!(plain_decimal(b"0.00000000"), Some(0));
        assert_eq!(
            plain_decimal(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999 * POW10[18])
        );
        assert_eq!(plain_decimal(b"0.000000000000000001"), Some(1));
        assert_eq!(plain_decimal(b"1."), None);
        assert_eq!(plain_decimal(b".5"), None);
        assert_eq!(plain_decimal(b"1.2.3"), None);
        assert_eq!(plain_decimal(b"-1"), None);
        assert_eq!(plain_decimal(b"99999999999999999999"), None);
    }

    #[test]
    fn decimals_reject_negative_exponent_and_nan() {
        assert!(unsigned_decimal(b"-1", "q").is_err());
        assert!(unsigned_decimal(b"1e5", "q").is_err());
        assert!(unsigned_decimal(b"NaN", "q").is_err());
        assert_eq!(
            signed_decimal(b"-0.5", "p").ok(),
            Some(-500_000_000_000_000_000)
        );
    }
}
