//! Owns: the strict byte cursor the hot decoders read JSON with (strings without escapes,
//! unsigned integers, booleans, decimal strings straight to fixed point, level arrays).
//! Never: allocates, unescapes, or accepts a shape it does not know how to check.

use super::error::{BadDecimal, DecodeError};
use crate::core::decimal::{
    digit_run, find_string_end, parse_unsigned_prefix, Price, Qty, RUN_MAX_DIGITS,
};
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
        // Venues send compact JSON: look for the byte itself before any whitespace.
        if self.peek() != Some(byte) {
            self.skip_ws();
            if self.peek() != Some(byte) {
                return false;
            }
        }
        self.pos += 1;
        true
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
        let Some(end) = find_string_end(self.buf, start) else {
            self.pos = self.buf.len();
            return Err(self.error("unterminated string"));
        };
        self.pos = end;
        match self.buf[end] {
            b'"' => {
                self.pos = end + 1;
                Ok(&self.buf[start..end])
            }
            b'\\' => Err(self.error("escaped string")),
            _ => Err(self.error("control character in string")),
        }
    }

    /// An object key and its ':'.
    #[inline]
    pub(super) fn key(&mut self) -> Result<&'a [u8], DecodeError> {
        // Binance's hot keys are one letter: `"k":` read as one four-byte pattern.
        if let Some(&[b'"', letter, b'"', b':']) = self.buf.get(self.pos..self.pos + 4) {
            if letter >= 0x20 && letter != b'"' && letter != b'\\' {
                self.pos += 4;
                return Ok(&self.buf[self.pos - 3..self.pos - 2]);
            }
        }
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
        let (value, digits) = digit_run(self.buf, start);
        // Up to 16 digits a word at a time; a longer run (or a zero) takes the checked loop.
        if digits > 0 && digits < RUN_MAX_DIGITS && (digits == 1 || self.buf[start] != b'0') {
            self.pos = start + digits;
            if let Some(b'.' | b'e' | b'E' | b'-' | b'+') = self.peek() {
                return Err(self.error("expected integer"));
            }
            return Ok(value);
        }
        self.u64_checked(start)
    }

    /// The digit-at-a-time reader with the overflow and leading-zero checks.
    fn u64_checked(&mut self, start: usize) -> Result<u64, DecodeError> {
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

    /// A quoted non-negative decimal; the usual shape is read in place a word at a time,
    /// anything else is re-read as a string and given to [`unsigned_decimal`].
    #[inline]
    fn unsigned_decimal(&mut self, field: &'static str) -> Result<i128, DecodeError> {
        if !self.try_eat(b'"') {
            return Err(self.error("expected string"));
        }
        if let Some((raw, end)) = parse_unsigned_prefix(self.buf, self.pos) {
            if self.buf.get(end) == Some(&b'"') {
                self.pos = end + 1;
                return Ok(raw);
            }
        }
        self.pos -= 1;
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

    /// Moves back to `pos` (a fast path that did not match hands over to the generic one).
    #[inline(always)]
    pub(super) fn rewind(&mut self, pos: usize) {
        self.pos = pos;
    }

    // Layout fast paths: `Option`-returning readers for compact JSON exactly as Binance
    // writes it. `None` only means "not this layout" and carries no error: the caller
    // rewinds and the generic reader above decides (and describes any error).

    /// Consumes `text` when the bytes at the cursor are exactly it (no whitespace skipped).
    #[inline(always)]
    pub(super) fn fast_literal<const N: usize>(&mut self, text: &[u8; N]) -> Option<()> {
        let end = self.pos + N;
        if self.buf.get(self.pos..end)? != text {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// An unsigned integer of 1..=15 digits without a leading zero; the caller's next
    /// literal (`,` or `}`) rules out fractions and exponents.
    #[inline(always)]
    pub(super) fn fast_u64(&mut self) -> Option<u64> {
        let (value, digits) = digit_run(self.buf, self.pos);
        if digits == 0 || digits == RUN_MAX_DIGITS || (digits > 1 && self.buf[self.pos] == b'0') {
            return None;
        }
        self.pos += digits;
        Some(value)
    }

    /// The rest of a string whose opening quote the caller's literal consumed, through its
    /// closing quote; escapes and control bytes decline.
    #[inline(always)]
    pub(super) fn fast_string_rest(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let end = find_string_end(self.buf, start)?;
        if self.buf[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        Some(&self.buf[start..end])
    }

    /// The rest of a quoted plain decimal (`digits[.digits]`) whose opening quote the
    /// caller's literal consumed, through its closing quote.
    #[inline(always)]
    pub(super) fn fast_decimal_rest(&mut self) -> Option<i128> {
        let (raw, end) = parse_unsigned_prefix(self.buf, self.pos)?;
        if self.buf.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        Some(raw)
    }

    /// `true` or `false`.
    #[inline(always)]
    pub(super) fn fast_bool(&mut self) -> Option<bool> {
        if self.fast_literal(b"true").is_some() {
            return Some(true);
        }
        self.fast_literal(b"false").map(|()| false)
    }

    /// Like [`Self::fast_decimal_rest`], but first tries the text length `predicted` (the
    /// length of the same field in the previous level, 0 when unknown) and updates it.
    ///
    /// Why: finding where a number ends is a chain of dependent word operations, and the
    /// next field cannot start before it. Checking the predicted closing quote is a branch
    /// instead, which the CPU predicts and runs past, so the levels of a diff (whose texts
    /// mostly share a length) are parsed in parallel. The parse still has to end exactly at
    /// that quote, so a wrong guess only costs the fallback.
    #[inline(always)]
    fn fast_decimal_predicted(&mut self, predicted: &mut usize) -> Option<i128> {
        let start = self.pos;
        let quote = start + *predicted;
        if *predicted > 0 && self.buf.get(quote) == Some(&b'"') {
            if let Some((raw, end)) = parse_unsigned_prefix(self.buf, start) {
                if end == quote {
                    self.pos = quote + 1;
                    return Some(raw);
                }
            }
        }
        let raw = self.fast_decimal_rest()?;
        *predicted = self.pos - 1 - start;
        Some(raw)
    }

    /// `[["price","qty"],…]` into `out` (cleared first).
    ///
    /// Not inlined: as its own function the loop keeps the cursor in registers instead of
    /// sharing them with the rest of the frame decoder.
    #[inline(never)]
    pub(super) fn fast_levels(&mut self, out: &mut Vec<Level>) -> Option<()> {
        out.clear();
        self.fast_literal(b"[")?;
        if self.fast_literal(b"]").is_some() {
            return Some(());
        }
        let (mut price_len, mut qty_len) = (0, 0);
        loop {
            self.fast_literal(b"[\"")?;
            let price = self.fast_decimal_predicted(&mut price_len)?;
            self.fast_literal(b",\"")?;
            let qty = self.fast_decimal_predicted(&mut qty_len)?;
            out.push(Level {
                price: Price::from_raw(price),
                qty: Qty::from_raw(qty),
            });
            match self.buf.get(self.pos..self.pos + 2)? {
                [b']', b','] => self.pos += 2,
                [b']', b']'] => {
                    self.pos += 2;
                    return Some(());
                }
                _ => return None,
            }
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

/// Decimal text that must be zero or positive, to raw 1e-18 units.
#[inline]
pub(super) fn unsigned_decimal(text: &[u8], field: &'static str) -> Result<i128, DecodeError> {
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

    use proptest::prelude::any;

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

    /// The cursor's in-place reading of `"text"` followed by `tail`.
    fn quoted_with_tail(text: &str, tail: &str) -> Option<i128> {
        let quoted = format!("\"{text}\"{tail}");
        let mut c = Cursor::new(quoted.as_bytes(), 0);
        let raw = c.unsigned_decimal("q").ok()?;
        assert_eq!(
            c.pos(),
            quoted.len() - tail.len(),
            "cursor stops after the closing quote"
        );
        Some(raw)
    }

    /// At the end of a buffer (partial words) and inside a frame (whole words).
    fn quoted(text: &str) -> Option<i128> {
        let at_end = quoted_with_tail(text, ",");
        let in_frame = quoted_with_tail(text, r#","B":"3.78826000","a":"61837.64000000"}}"#);
        assert_eq!(at_end, in_frame, "{text:?}");
        at_end
    }

    /// The reference reading of an unsigned integer: digit by digit with every check.
    fn checked_u64(text: &[u8]) -> Result<(u64, usize), DecodeError> {
        let mut c = Cursor::new(text, 0);
        c.skip_ws();
        let value = c.u64_checked(c.pos())?;
        Ok((value, c.pos()))
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
        fn text_decimals_agree_with_the_reference_parser(text in "[0-9.+-]{0,22}") {
            let ours = unsigned_decimal(text.as_bytes(), "q").ok();
            let reference = crate::core::decimal::parse_raw(text.as_bytes()).ok().filter(|r| *r >= 0);
            proptest::prop_assert_eq!(ours, reference);
        }

        #[test]
        fn word_integers_agree_with_the_checked_reader(text in "[0-9]{0,22}[.eE+,}x-]?[0-9]{0,9}") {
            for tail in ["", r#","s":"BTCUSDT","b":"61837.63000000"}"#] {
                let framed = format!("{text}{tail}");
                let mut c = Cursor::new(framed.as_bytes(), 0);
                let ours = c.u64().map(|v| (v, c.pos()));
                let reference = checked_u64(framed.as_bytes());
                proptest::prop_assert_eq!(ours.is_ok(), reference.is_ok(), "{:?}", framed);
                if let (Ok(ours), Ok(reference)) = (ours, reference) {
                    proptest::prop_assert_eq!(ours, reference);
                }
            }
        }

        #[test]
        fn one_letter_keys_read_like_any_key(key in proptest::collection::vec(any::<u8>(), 0..3), gap in " ?") {
            let mut frame = vec![b'"'];
            frame.extend_from_slice(&key);
            frame.extend_from_slice(format!("\"{gap}:1}}").as_bytes());
            let ours = Cursor::new(&frame, 0).key().map(<[u8]>::to_vec).ok();
            let mut generic = Cursor::new(&frame, 0);
            let reference = generic.string().ok().filter(|_| generic.eat(b':').is_ok()).map(<[u8]>::to_vec);
            proptest::prop_assert_eq!(ours, reference);
        }
    }

    #[test]
    fn in_place_decimals_take_the_usual_shapes() {
        assert_eq!(
            quoted("61837.63000000"),
            Some(61_837_630_000_000_000_000_000)
        );
        assert_eq!(quoted("0.00000000"), Some(0));
        assert_eq!(quoted("0.003"), Some(3_000_000_000_000_000));
        assert_eq!(
            quoted("9999999999999999999"),
            Some(9_999_999_999_999_999_999_000_000_000_000_000_000)
        );
        assert_eq!(quoted("0.000000000000000001"), Some(1));
        assert_eq!(quoted("1."), Some(1_000_000_000_000_000_000));
        assert_eq!(quoted(".5"), Some(500_000_000_000_000_000));
        assert_eq!(quoted("1.2.3"), None);
        assert_eq!(quoted("-1"), None);
        assert_eq!(quoted("1e5"), None);
        assert_eq!(quoted("99999999999999999999999"), None);
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
