//! Owns: exact fixed-point decimals (`Price`, `Qty`, `Notional`) and their text codec.
//! Never: goes through `f64` for a value that is sent, compared against a filter or booked.
//!
//! Every value is an `i128` count of 10^-18 units. One scale for all three types keeps
//! arithmetic between them exact and simple:
//! - the finest real increment seen in the venues' instrument lists is Bybit spot's
//!   tick of 1e-13, and Binance's filter maxima reach 1e10 (price) and 4.6e10 (qty);
//!   Bybit's spot maxOrderQty reaches 2.6e13. An `i64` cannot span 1e-13..1e7 at one
//!   scale, so the mantissa is `i128`: range ±1.7e20 at 18 decimals.
//! - `Price × Qty` is computed through a 256-bit intermediate and rescaled, so a
//!   notional is exact to 1e-18 quote units and never overflows silently.

use std::fmt;

/// Number of fractional decimal digits every fixed-point value carries.
pub const SCALE_DIGITS: u32 = 18;
/// 10^SCALE_DIGITS: the raw value of 1.0.
pub const SCALE: i128 = 1_000_000_000_000_000_000;

const POW10_U64: [u64; 20] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];

/// Why a decimal text could not be turned into a fixed-point value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("empty decimal")]
    Empty,
    #[error("invalid character at byte {0}")]
    InvalidChar(usize),
    #[error("more than {SCALE_DIGITS} significant fractional digits")]
    TooPrecise,
    #[error("value out of range")]
    Overflow,
}

/// Parses plain decimal text (`-?digits[.digits]`) into raw 1e-18 units, exactly.
///
/// Trailing fractional zeros beyond 18 digits are accepted; any other digit there would
/// be lost and is an error. Exponents are rejected: venues send prices as plain text.
#[inline]
pub fn parse_raw(text: &[u8]) -> Result<i128, DecimalError> {
    let (negative, body) = match text.first() {
        None => return Err(DecimalError::Empty),
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
    };
    if body.is_empty() {
        return Err(DecimalError::Empty);
    }
    let offset = text.len() - body.len();
    let dot = body.iter().position(|&b| b == b'.');
    let (int_part, frac_part) = match dot {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &body[..0]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DecimalError::InvalidChar(offset));
    }
    let int_value = parse_digits_u128(int_part, offset)?;
    let frac_offset = offset + int_part.len() + 1;
    // Fractional digits past the scale must be zeros, or precision would be lost.
    let (frac_kept, frac_rest) = if frac_part.len() > SCALE_DIGITS as usize {
        frac_part.split_at(SCALE_DIGITS as usize)
    } else {
        (frac_part, &frac_part[..0])
    };
    for (i, &b) in frac_rest.iter().enumerate() {
        match b {
            b'0' => {}
            b'1'..=b'9' => return Err(DecimalError::TooPrecise),
            _ => {
                return Err(DecimalError::InvalidChar(
                    frac_offset + SCALE_DIGITS as usize + i,
                ))
            }
        }
    }
    let frac_value = parse_digits_u128(frac_kept, frac_offset)?;
    let frac_scaled = frac_value * POW10_U64[SCALE_DIGITS as usize - frac_kept.len()] as u128;
    let magnitude = int_value
        .checked_mul(SCALE as u128)
        .and_then(|v| v.checked_add(frac_scaled))
        .filter(|&v| v <= i128::MAX as u128)
        .ok_or(DecimalError::Overflow)?;
    let value = magnitude as i128;
    Ok(if negative { -value } else { value })
}

/// Parses ASCII digits; 19 at a time go through `u64` so the common case stays in one register.
#[inline]
fn parse_digits_u128(digits: &[u8], offset: usize) -> Result<u128, DecimalError> {
    let mut value: u128 = 0;
    for (chunk_index, chunk) in digits.chunks(19).enumerate() {
        let mut part: u64 = 0;
        for (i, &b) in chunk.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return Err(DecimalError::InvalidChar(offset + chunk_index * 19 + i));
            }
            part = part * 10 + d as u64;
        }
        value = value
            .checked_mul(POW10_U64[chunk.len()] as u128)
            .and_then(|v| v.checked_add(part as u128))
            .ok_or(DecimalError::Overflow)?;
    }
    Ok(value)
}

/// Writes `raw` (1e-18 units) as plain decimal text into `out`, without trailing fractional
/// zeros, and returns the number of bytes written. `out` must hold at least 42 bytes.
#[inline]
pub fn write_raw(raw: i128, out: &mut [u8]) -> usize {
    write_raw_with_decimals(raw, None, out)
}

/// Like [`write_raw`], but with exactly `decimals` fractional digits when given (the value
/// is truncated toward zero past them: callers round to the venue's step first).
pub fn write_raw_with_decimals(raw: i128, decimals: Option<u32>, out: &mut [u8]) -> usize {
    let mut pos = 0;
    if raw < 0 {
        out[0] = b'-';
        pos = 1;
    }
    let magnitude = raw.unsigned_abs();
    let int_part = magnitude / SCALE as u128;
    let frac_part = (magnitude % SCALE as u128) as u64;
    // Integer digits.
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut v = int_part;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        out[pos + i] = digits[n - 1 - i];
    }
    pos += n;
    // Fractional digits, most significant first.
    let mut frac = [b'0'; SCALE_DIGITS as usize];
    let mut f = frac_part;
    for slot in frac.iter_mut().rev() {
        *slot = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let keep = match decimals {
        Some(d) => d.min(SCALE_DIGITS) as usize,
        None => frac.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1),
    };
    if keep > 0 {
        out[pos] = b'.';
        pos += 1;
        out[pos..pos + keep].copy_from_slice(&frac[..keep]);
        pos += keep;
    }
    if let Some(d) = decimals {
        // Zero padding past the scale, if a venue ever asks for more than 18 decimals.
        for _ in SCALE_DIGITS..d {
            out[pos] = b'0';
            pos += 1;
        }
    }
    pos
}

/// Largest text a value can format to (sign, 21 integer digits, dot, 18 decimals).
pub const MAX_TEXT_LEN: usize = 42;

/// Multiplies two raw 1e-18 values and rescales the product to 1e-18, rounding toward zero.
/// Returns `None` when the result does not fit in `i128`.
#[inline]
pub fn mul_raw(a: i128, b: i128) -> Option<i128> {
    let negative = (a < 0) != (b < 0);
    let (hi, lo) = widening_mul_u128(a.unsigned_abs(), b.unsigned_abs());
    let quotient = div_u256_by_u64(hi, lo, SCALE as u64)?;
    let value = i128::try_from(quotient).ok()?;
    Some(if negative { -value } else { value })
}

/// Full 128×128 → 256-bit unsigned product as (high, low) halves.
#[inline]
fn widening_mul_u128(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let low = (cross << 64) | (lo_lo & MASK);
    let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (cross >> 64);
    (high, low)
}

/// Divides the 256-bit value (hi, lo) by `d`, returning `None` if the quotient exceeds u128.
#[inline]
fn div_u256_by_u64(hi: u128, lo: u128, d: u64) -> Option<u128> {
    if hi == 0 {
        return Some(lo / d as u128);
    }
    let d = d as u128;
    // Long division over 64-bit limbs, most significant first.
    let limbs = [(hi >> 64) as u64, hi as u64, (lo >> 64) as u64, lo as u64];
    let mut remainder: u128 = 0;
    let mut quotient = [0u64; 4];
    for (i, &limb) in limbs.iter().enumerate() {
        let current = (remainder << 64) | limb as u128;
        quotient[i] = (current / d) as u64;
        remainder = current % d;
    }
    if quotient[0] != 0 || quotient[1] != 0 {
        return None;
    }
    Some(((quotient[2] as u128) << 64) | quotient[3] as u128)
}

macro_rules! fixed_point_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(i128);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// One whole unit.
            pub const ONE: Self = Self(SCALE);
            /// Largest representable value.
            pub const MAX: Self = Self(i128::MAX);

            /// Wraps a raw count of 1e-18 units.
            #[inline]
            pub const fn from_raw(raw: i128) -> Self {
                Self(raw)
            }
            /// The raw count of 1e-18 units.
            #[inline]
            pub const fn raw(self) -> i128 {
                self.0
            }
            /// A whole number of units.
            #[inline]
            pub const fn from_int(units: i64) -> Self {
                Self(units as i128 * SCALE)
            }
            /// Parses plain decimal text exactly.
            #[inline]
            pub fn parse(text: &str) -> Result<Self, DecimalError> {
                parse_raw(text.as_bytes()).map(Self)
            }
            /// Parses plain decimal bytes exactly.
            #[inline]
            pub fn parse_bytes(text: &[u8]) -> Result<Self, DecimalError> {
                parse_raw(text).map(Self)
            }
            /// Writes the shortest exact text into `out` (≥ [`MAX_TEXT_LEN`] bytes), returns its length.
            #[inline]
            pub fn write_to(self, out: &mut [u8]) -> usize {
                write_raw(self.0, out)
            }
            /// Writes with exactly `decimals` fractional digits (truncating past them).
            #[inline]
            pub fn write_with_decimals(self, decimals: u32, out: &mut [u8]) -> usize {
                write_raw_with_decimals(self.0, Some(decimals), out)
            }
            /// Approximate value for indicators and display; never for order sizes sent.
            #[inline]
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / SCALE as f64
            }
            /// Nearest representable value to `value` (for strategy-side computations that
            /// are rounded to a venue step afterwards); `None` for NaN or out of range.
            pub fn from_f64_lossy(value: f64) -> Option<Self> {
                let raw = (value * SCALE as f64).round();
                if raw.is_finite() && raw.abs() < i128::MAX as f64 {
                    Some(Self(raw as i128))
                } else {
                    None
                }
            }
            /// True when exactly zero.
            #[inline]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
            /// True when strictly above zero.
            #[inline]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }
            /// Sum, or `None` on overflow.
            #[inline]
            pub fn checked_add(self, other: Self) -> Option<Self> {
                self.0.checked_add(other.0).map(Self)
            }
            /// Difference, or `None` on overflow.
            #[inline]
            pub fn checked_sub(self, other: Self) -> Option<Self> {
                self.0.checked_sub(other.0).map(Self)
            }
            /// Sum clamped to the representable range.
            #[inline]
            pub fn saturating_add(self, other: Self) -> Self {
                Self(self.0.saturating_add(other.0))
            }
            /// Difference clamped to the representable range.
            #[inline]
            pub fn saturating_sub(self, other: Self) -> Self {
                Self(self.0.saturating_sub(other.0))
            }
            /// Absolute value.
            #[inline]
            pub fn abs(self) -> Self {
                Self(self.0.saturating_abs())
            }
            /// Negated value.
            #[inline]
            pub fn neg(self) -> Self {
                Self(self.0.saturating_neg())
            }
            /// Largest multiple of `step` that is ≤ self (self unchanged when `step` is zero,
            /// which venues use to mean "no constraint").
            #[inline]
            pub fn floor_to(self, step: Self) -> Self {
                if step.0 <= 0 {
                    return self;
                }
                Self(self.0.div_euclid(step.0) * step.0)
            }
            /// Smallest multiple of `step` that is ≥ self (unchanged when `step` is zero).
            #[inline]
            pub fn ceil_to(self, step: Self) -> Self {
                if step.0 <= 0 {
                    return self;
                }
                let floored = self.0.div_euclid(step.0) * step.0;
                if floored == self.0 {
                    self
                } else {
                    Self(floored.saturating_add(step.0))
                }
            }
            /// True when self is an exact multiple of `step` (always true for a zero step).
            #[inline]
            pub fn is_multiple_of(self, step: Self) -> bool {
                step.0 <= 0 || self.0.rem_euclid(step.0) == 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; MAX_TEXT_LEN];
                let n = write_raw(self.0, &mut buf);
                // The writer emits ASCII digits, '-' and '.' only.
                f.pad(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = DecimalError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; MAX_TEXT_LEN];
                let n = write_raw(self.0, &mut buf);
                s.serialize_str(std::str::from_utf8(&buf[..n]).map_err(serde::ser::Error::custom)?)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a decimal as a string or an integer")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(|e| E::custom(format_args!("{e}: {v:?}")))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        Ok($name::from_int(v))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        i64::try_from(v)
                            .map($name::from_int)
                            .map_err(|_| E::custom("integer out of range"))
                    }
                }
                d.deserialize_any(Visitor)
            }
        }
    };
}

fixed_point_type!(
    /// A price in quote units per base unit, exact to 1e-18.
    Price
);
fixed_point_type!(
    /// A quantity in base units, exact to 1e-18.
    Qty
);
fixed_point_type!(
    /// An amount of quote currency (notional, fee, PnL, equity), exact to 1e-18.
    Notional
);

impl Price {
    /// Quote value of `qty` at this price, exact to 1e-18 quote (truncated toward zero);
    /// `None` if it would not fit.
    #[inline]
    pub fn notional(self, qty: Qty) -> Option<Notional> {
        mul_raw(self.0, qty.0).map(Notional)
    }
}

impl Qty {
    /// Quote value of this quantity at `price`; see [`Price::notional`].
    #[inline]
    pub fn notional_at(self, price: Price) -> Option<Notional> {
        price.notional(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(raw: i128) -> String {
        let mut b = [0u8; MAX_TEXT_LEN];
        let n = write_raw(raw, &mut b);
        String::from_utf8(b[..n].to_vec()).expect("ascii")
    }

    #[test]
    fn parses_venue_text_exactly() {
        assert_eq!(parse_raw(b"25.35190000"), Ok(25_351_900_000_000_000_000));
        assert_eq!(parse_raw(b"0.00000001"), Ok(10_000_000_000));
        assert_eq!(parse_raw(b"1E-8"), Err(DecimalError::InvalidChar(1)));
        assert_eq!(parse_raw(b"-0.5"), Ok(-SCALE / 2));
        assert_eq!(parse_raw(b"0.0000000000001"), Ok(100_000));
        assert_eq!(parse_raw(b"9999998955.00000000"), Ok(9_999_998_955 * SCALE));
        assert_eq!(
            parse_raw(b"1.0000000000000000001"),
            Err(DecimalError::TooPrecise)
        );
        assert_eq!(parse_raw(b"1.0000000000000000000000"), Ok(SCALE));
        assert_eq!(parse_raw(b""), Err(DecimalError::Empty));
        assert_eq!(parse_raw(b"."), Err(DecimalError::InvalidChar(0)));
        assert_eq!(parse_raw(b"1.2.3"), Err(DecimalError::InvalidChar(3)));
        assert_eq!(
            parse_raw(b"999999999999999999999"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn formats_shortest_exact_text() {
        assert_eq!(fmt(25_351_900_000_000_000_000), "25.3519");
        assert_eq!(fmt(0), "0");
        assert_eq!(fmt(-SCALE / 2), "-0.5");
        assert_eq!(fmt(100_000), "0.0000000000001");
        let mut b = [0u8; MAX_TEXT_LEN];
        let n = Price::from_raw(SCALE / 10).write_with_decimals(8, &mut b);
        assert_eq!(&b[..n], b"0.10000000");
    }

    #[test]
    fn notional_is_exact_and_checked() {
        let p = Price::parse("64123.45").expect("valid");
        let q = Qty::parse("0.00123").expect("valid");
        assert_eq!(
            p.notional(q),
            Some(Notional::parse("78.8718435").expect("valid"))
        );
        let huge = Price::parse("100000000000000000000").expect("valid");
        assert_eq!(huge.notional(Qty::parse("100").expect("valid")), None);
        let neg = Price::parse("-2").expect("valid");
        assert_eq!(neg.notional(Qty::from_int(3)), Some(Notional::from_int(-6)));
    }

    #[test]
    fn rounds_to_steps() {
        let step = Qty::parse("0.001").expect("valid");
        let q = Qty::parse("1.23456").expect("valid");
        assert_eq!(q.floor_to(step), Qty::parse("1.234").expect("valid"));
        assert_eq!(q.ceil_to(step), Qty::parse("1.235").expect("valid"));
        assert_eq!(q.floor_to(Qty::ZERO), q);
        assert!(Qty::parse("1.235").expect("valid").is_multiple_of(step));
    }
}
