//! Owns: exact fixed-point decimals (`Price`, `Qty`, `Notional`, `Ratio`), arithmetic, text codec.
//! Never: goes through `f64` for a value that is sent, compared against a filter or booked.
//!
//! Every value is an `i128` count of 10^-18 units. One scale for all the types keeps
//! arithmetic between them exact and simple:
//! - the finest real increment seen in the venues' instrument lists is Bybit spot's
//!   tick of 1e-13, and Binance's filter maxima reach 1e10 (price) and 4.6e10 (qty);
//!   Bybit's spot maxOrderQty reaches 2.6e13. An `i64` cannot span 1e-13..1e7 at one
//!   scale, so the mantissa is `i128`: range ±1.7e20 at 18 decimals.
//! - `Price × Qty` is computed through a 256-bit intermediate and rescaled, so a
//!   notional is exact to 1e-18 quote units and never overflows silently.

use std::fmt;

mod swar;
mod text;

pub(crate) use swar::{digit_run, find_string_end, load_word, RUN_MAX_DIGITS};
pub use text::{parse_raw, write_raw, write_raw_with_decimals, DecimalError, MAX_TEXT_LEN};
pub(crate) use text::{parse_unsigned_prefix, write_u64};

/// Number of fractional decimal digits every fixed-point value carries.
pub const SCALE_DIGITS: u32 = 18;
/// 10^SCALE_DIGITS: the raw value of 1.0.
pub const SCALE: i128 = 1_000_000_000_000_000_000;

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

/// Computes `a × b / divisor` exactly through a 256-bit intermediate, truncating toward zero
/// (a weighted average price is `cost × 1e18 / qty`). `None` for a zero divisor or a
/// result that does not fit in `i128`.
pub fn mul_div_raw(a: i128, b: i128, divisor: i128) -> Option<i128> {
    if divisor == 0 {
        return None;
    }
    let negative = ((a < 0) != (b < 0)) != (divisor < 0);
    let (hi, lo) = widening_mul_u128(a.unsigned_abs(), b.unsigned_abs());
    let quotient = div_u256_by_u128(hi, lo, divisor.unsigned_abs())?;
    let value = i128::try_from(quotient).ok()?;
    Some(if negative { -value } else { value })
}

/// Divides the 256-bit value (hi, lo) by a non-zero `d` with binary long division;
/// `None` if the quotient exceeds u128.
fn div_u256_by_u128(hi: u128, lo: u128, d: u128) -> Option<u128> {
    if hi >= d {
        return None;
    }
    if hi == 0 {
        return Some(lo / d);
    }
    // The quotient fits in 128 bits because hi < d; shift the low half in bit by bit.
    let mut remainder = hi;
    let mut quotient: u128 = 0;
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((lo >> bit) & 1);
        quotient <<= 1;
        // With the carry the true remainder is 2^128 + remainder ≥ d, and the difference
        // is below d, so the wrapping subtraction yields it exactly.
        if carry == 1 || remainder >= d {
            remainder = remainder.wrapping_sub(d);
            quotient |= 1;
        }
    }
    Some(quotient)
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
/// Long division over 64-bit limbs, most significant first; each step divides a remainder
/// below `d` with the next limb appended, so its quotient fits one limb.
#[inline]
fn div_u256_by_u64(hi: u128, lo: u128, d: u64) -> Option<u128> {
    if (hi >> 64) as u64 >= d {
        return None; // the quotient's top limb would be non-zero
    }
    let limbs = [hi as u64, (lo >> 64) as u64, lo as u64];
    let mut remainder = (hi >> 64) as u64;
    let mut quotient = [0u64; 3];
    for (slot, &limb) in quotient.iter_mut().zip(limbs.iter()) {
        let (q, r) = if remainder == 0 && limb < d {
            (0, limb) // leading limbs of a small product: no division needed
        } else {
            div_two_limbs(remainder, limb, d)
        };
        *slot = q;
        remainder = r;
    }
    if quotient[0] != 0 {
        return None;
    }
    Some(((quotient[1] as u128) << 64) | quotient[2] as u128)
}

/// `(high·2⁶⁴ + low) / d` and its remainder, for `high < d` (so the quotient fits 64 bits).
/// One hardware division on x86-64 (a 128-bit `/` would call a library routine).
#[inline]
fn div_two_limbs(high: u64, low: u64, d: u64) -> (u64, u64) {
    debug_assert!(high < d, "quotient must fit one limb");
    #[cfg(target_arch = "x86_64")]
    {
        let (quotient, remainder): (u64, u64);
        // SAFETY: `div` faults only for a zero divisor or a quotient above 64 bits; callers
        // pass `high < d`, which rules out both (d > high ≥ 0).
        unsafe {
            std::arch::asm!(
                "div {d}",
                d = in(reg) d,
                inout("rax") low => quotient,
                inout("rdx") high => remainder,
                options(pure, nomem, nostack)
            );
        }
        (quotient, remainder)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let n = ((high as u128) << 64) | low as u128;
        ((n / d as u128) as u64, (n % d as u128) as u64)
    }
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
            /// Negated value, saturating at the range ends.
            // Deliberately not `ops::Neg`: `-x` reads as if it could not saturate.
            #[allow(clippy::should_implement_trait)]
            #[inline]
            pub fn neg(self) -> Self {
                Self(self.0.saturating_neg())
            }
            /// Largest multiple of `step` that is ≤ self (self unchanged when `step` is zero,
            /// which venues use to mean "no constraint"); saturates at the range ends.
            #[inline]
            pub fn floor_to(self, step: Self) -> Self {
                if step.0 <= 0 {
                    return self;
                }
                Self(self.0.saturating_sub(self.0.rem_euclid(step.0)))
            }
            /// Smallest multiple of `step` that is ≥ self (unchanged when `step` is zero);
            /// saturates at the range ends.
            #[inline]
            pub fn ceil_to(self, step: Self) -> Self {
                if step.0 <= 0 {
                    return self;
                }
                match self.0.rem_euclid(step.0) {
                    0 => self,
                    rest => Self(self.0.saturating_add(step.0 - rest)),
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
fixed_point_type!(
    /// A dimensionless multiplier (percent-price bands, fee rates), exact to 1e-18.
    Ratio
);

impl Price {
    /// The midpoint of this price and `other`, truncated toward zero, without overflow (the
    /// mid of a best bid and ask).
    #[inline]
    pub fn midpoint(self, other: Price) -> Price {
        Price(self.0 / 2 + other.0 / 2 + (self.0 % 2 + other.0 % 2) / 2)
    }

    /// Quote value of `qty` at this price, exact to 1e-18 quote (truncated toward zero);
    /// `None` if it would not fit.
    #[inline]
    pub fn notional(self, qty: Qty) -> Option<Notional> {
        mul_raw(self.0, qty.0).map(Notional)
    }
    /// This price multiplied by `ratio`, truncated toward zero; `None` if it would not fit.
    #[inline]
    pub fn scaled(self, ratio: Ratio) -> Option<Price> {
        mul_raw(self.0, ratio.0).map(Price)
    }
}

/// The exact magnitude of a price × quantity product at 1e-36 scale (256 bits): notionals
/// summed and compared without the division back to 1e-18 (the risk rails compare
/// exposures with limits on every order; the division is the slow part).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct WideNotional {
    // Field order makes the derived ordering numeric: high half first.
    hi: u128,
    lo: u128,
}

impl WideNotional {
    /// Zero.
    pub const ZERO: Self = Self { hi: 0, lo: 0 };

    /// |price| × |qty|.
    #[inline]
    pub fn product(price: Price, qty: Qty) -> Self {
        let (hi, lo) = widening_mul_u128(price.0.unsigned_abs(), qty.0.unsigned_abs());
        Self { hi, lo }
    }

    /// |notional| at the same scale.
    #[inline]
    pub fn of(notional: Notional) -> Self {
        let (hi, lo) = widening_mul_u128(notional.0.unsigned_abs(), SCALE as u128);
        Self { hi, lo }
    }

    /// Sum, saturating at the largest value.
    #[inline]
    pub fn saturating_add(self, other: Self) -> Self {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        match self
            .hi
            .checked_add(other.hi)
            .and_then(|hi| hi.checked_add(u128::from(carry)))
        {
            Some(hi) => Self { hi, lo },
            None => Self {
                hi: u128::MAX,
                lo: u128::MAX,
            },
        }
    }

    /// Back at 1e-18 (truncated), `Notional::MAX` when it does not fit.
    pub fn to_notional(self) -> Notional {
        div_u256_by_u64(self.hi, self.lo, SCALE as u64)
            .and_then(|q| i128::try_from(q).ok())
            .map_or(Notional::MAX, Notional)
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
    use proptest::prelude::*;

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
        let near_min = Qty::from_raw(i128::MIN + 1);
        assert_eq!(
            near_min.floor_to(Qty::from_raw(3)),
            Qty::from_raw(i128::MIN)
        );
    }

    #[test]
    fn scales_a_price_by_a_ratio_exactly() {
        let mark = Price::parse("40000.10").expect("valid");
        let up = Ratio::parse("1.15").expect("valid");
        assert_eq!(
            mark.scaled(up),
            Some(Price::parse("46000.115").expect("valid"))
        );
    }

    proptest! {
        #[test]
        fn checked_and_rounding_ops_never_panic(a in any::<i128>(), b in any::<i128>()) {
            let (p, q) = (Price::from_raw(a), Qty::from_raw(b));
            let _ = p.checked_add(Price::from_raw(b));
            let _ = p.checked_sub(Price::from_raw(b));
            let _ = p.saturating_add(Price::from_raw(b));
            let _ = p.saturating_sub(Price::from_raw(b));
            let _ = (p.abs(), p.neg());
            let _ = p.scaled(Ratio::from_raw(b));
            if let Some(n) = p.notional(q) {
                prop_assert_eq!(Some(n), q.notional_at(p));
            }
            let floored = q.floor_to(Qty::from_raw(a));
            let ceiled = q.ceil_to(Qty::from_raw(a));
            prop_assert!(floored <= q && q <= ceiled);
            let _ = q.is_multiple_of(Qty::from_raw(a));
        }

        #[test]
        fn notional_matches_wide_integer_reference(a in any::<i64>(), b in any::<i64>()) {
            // With |a|,|b| < 2^63 the exact product fits in i128 before the rescale.
            let exact = i128::from(a) * i128::from(b) / SCALE;
            let got = Price::from_raw(i128::from(a)).notional(Qty::from_raw(i128::from(b)));
            prop_assert_eq!(got, Some(Notional::from_raw(exact)));
        }

        #[test]
        fn mul_div_matches_wide_integer_reference(a in any::<i64>(), b in any::<i64>(), d in any::<i64>()) {
            prop_assume!(d != 0);
            // With |a|,|b| < 2^63 the exact product fits in i128; Rust's `/` truncates toward zero.
            let exact = i128::from(a) * i128::from(b) / i128::from(d);
            prop_assert_eq!(mul_div_raw(i128::from(a), i128::from(b), i128::from(d)), Some(exact));
        }

        #[test]
        fn mul_div_by_one_factor_is_identity_across_the_range(a in any::<i128>(), b in 1i128..=i128::MAX) {
            // a × b / b overflows 128 bits in the middle for most inputs; the result is exact.
            prop_assert_eq!(mul_div_raw(a.max(-i128::MAX), b, b), Some(a.max(-i128::MAX)));
            prop_assert_eq!(mul_div_raw(a, b, 0), None);
        }

        #[test]
        fn mul_raw_matches_bitwise_long_division_across_the_range(a in any::<i128>(), b in any::<i128>(), small in any::<i64>()) {
            // The hardware-limb division against the independent bit-by-bit one, on full-range
            // operands (most products overflow: both must say so) and on realistic ones
            // (a price times a quantity whose product passes 128 bits but the result fits).
            for (x, y) in [(a, b), (a >> 40, b >> 50), (i128::from(small) << 20, b >> 60)] {
                let negative = (x < 0) != (y < 0);
                let (hi, lo) = widening_mul_u128(x.unsigned_abs(), y.unsigned_abs());
                let reference = div_u256_by_u128(hi, lo, SCALE as u128)
                    .and_then(|q| i128::try_from(q).ok())
                    .map(|q| if negative { -q } else { q });
                prop_assert_eq!(mul_raw(x, y), reference, "{} × {}", x, y);
            }
        }

        #[test]
        fn wide_notionals_compare_and_add_like_exact_notionals(p in 0i128..i128::MAX >> 40, q in 0i128..i128::MAX >> 50, r in 0i128..i128::MAX >> 50) {
            let (price, a, b) = (Price::from_raw(p), Qty::from_raw(q), Qty::from_raw(r));
            let (wide_a, wide_b) = (WideNotional::product(price, a), WideNotional::product(price, b));
            prop_assert_eq!(wide_a <= wide_b, q <= r);
            if let (Some(na), Some(nb)) = (price.notional(a), price.notional(b)) {
                prop_assert_eq!(wide_a.to_notional(), na);
                // The sum compares with a limit as the exact products do: sum ≤ limit
                // exactly when the 1e-36 sum ≤ limit × 1e18.
                let sum = wide_a.saturating_add(wide_b);
                let limit = na.saturating_add(nb);
                prop_assert!(sum >= WideNotional::of(limit));
                prop_assert!(sum < WideNotional::of(limit.saturating_add(Notional::from_raw(2))));
            }
        }

        #[test]
        fn midpoint_is_the_floor_of_the_exact_mean_without_overflow(a in 0i128..=i128::MAX, b in 0i128..=i128::MAX) {
            let exact = (a as u128 + b as u128) / 2;
            prop_assert_eq!(Price::from_raw(a).midpoint(Price::from_raw(b)).raw() as u128, exact);
        }

        #[test]
        fn floor_and_ceil_land_on_the_step(v in any::<i64>(), step in 1i64..=i64::MAX) {
            let (q, s) = (Qty::from_raw(i128::from(v)), Qty::from_raw(i128::from(step)));
            let (floored, ceiled) = (q.floor_to(s), q.ceil_to(s));
            prop_assert!(floored.is_multiple_of(s) && ceiled.is_multiple_of(s));
            prop_assert!(q.raw() - floored.raw() < s.raw() && ceiled.raw() - q.raw() < s.raw());
        }
    }
}
