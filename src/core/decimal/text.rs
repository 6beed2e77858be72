//! Owns: the exact text codec between plain decimal text and raw 1e-18 units.
//! Never: allocates, goes through `f64`, or accepts text whose digits would be lost.
//!
//! Parsing has two paths with one meaning. The fast path handles the common venue shape
//! (≤ 16 integer digits, ≤ 16 fraction digits) a word of eight digits at a time with the
//! SWAR trick from simdjson (`swar`), with a shorter route for ≤ 7 integer digits, which
//! is every Binance price; anything else, including every malformed text, goes to the
//! scalar path, which is the reference and the only producer of errors. The feed scanners
//! call the fast path in place on the frame ([`parse_unsigned_prefix`]).

use super::{SCALE, SCALE_DIGITS};

use super::swar::{
    digit_run, eight_digits_value, load_word, non_digit_lanes, ASCII_ZEROS, POW10_U64,
    RUN_MAX_DIGITS,
};

/// Largest text a value can format to (sign, 21 integer digits, dot, 18 decimals).
pub const MAX_TEXT_LEN: usize = 42;

/// Why a decimal text could not be turned into a fixed-point value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// No digits at all.
    #[error("empty decimal")]
    Empty,
    /// A byte that is not a digit, sign or the one dot, at this offset.
    #[error("invalid character at byte {0}")]
    InvalidChar(usize),
    /// A non-zero digit past the 18th decimal, which would be lost.
    #[error("more than {SCALE_DIGITS} significant fractional digits")]
    TooPrecise,
    /// Magnitude beyond what an `i128` at 1e-18 holds (about 1.7e20).
    #[error("value out of range")]
    Overflow,
}

/// Parses plain decimal text (`-?digits[.digits]`) into raw 1e-18 units, exactly.
///
/// Trailing fractional zeros beyond 18 digits are accepted; any other digit there would
/// be lost and is an error. Exponents are rejected: venues send prices as plain text.
#[inline]
pub fn parse_raw(text: &[u8]) -> Result<i128, DecimalError> {
    match parse_raw_fast(text) {
        Some(value) => Ok(value),
        None => parse_raw_scalar(text),
    }
}

/// The common shape (sign, then ≤ 16 integer and ≤ 16 fraction digits) a word at a time;
/// `None` hands the text to the scalar path.
#[inline]
fn parse_raw_fast(text: &[u8]) -> Option<i128> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        Some(_) => (false, text),
        None => return None,
    };
    match parse_unsigned_prefix(body, 0) {
        Some((magnitude, end)) if end == body.len() => {
            Some(if negative { -magnitude } else { magnitude })
        }
        _ => None,
    }
}

/// Reads `digits[.digits]` (1..=16 integer digits, then 1..=16 fraction digits when a dot
/// and a digit follow) starting at `bytes[at]`: raw 1e-18 units and the offset of the first
/// byte after the number. The caller checks that byte: a number that continues there
/// (a 17th digit, a second dot, an exponent) must go to [`parse_raw`] instead.
///
/// Loads whole words, so it is fastest when eight bytes past each part are readable (text
/// inside a larger frame); it never reads outside `bytes`.
#[inline(always)]
pub(crate) fn parse_unsigned_prefix(bytes: &[u8], at: usize) -> Option<(i128, usize)> {
    if let Some(short) = parse_short_prefix(bytes, at) {
        return Some(short);
    }
    parse_long_prefix(bytes, at)
}

/// [`parse_unsigned_prefix`] for the everyday venue shape, `d{1,7}(.d{1,16})?` (every
/// Binance price and nearly every quantity), in about half the work of the general reader:
/// one word per part, and the fraction word is filled with '0' past its digits, so
/// converting it gives the fraction already scaled to eight places. `None` means "not this
/// shape" (or not a number); the general reader decides.
#[inline(always)]
fn parse_short_prefix(bytes: &[u8], at: usize) -> Option<(i128, usize)> {
    const TEN_POW_10: u64 = 10_000_000_000;
    let head = load_word(bytes, at);
    let head_non_digits = non_digit_lanes(head);
    let int_digits = (head_non_digits.trailing_zeros() / 8) as usize;
    if int_digits == 0 || int_digits == 8 {
        return None;
    }
    let dot = at + int_digits;
    // The byte after the digits is in the same word (zero past the end of `bytes`).
    if (head >> (8 * int_digits)) as u8 == b'.' {
        // A dot does not carry into the lane above, so the next flag is exact too: when the
        // fraction also ends inside this word (`61800.20"`), one conversion reads it all.
        let after_dot = head_non_digits & (head_non_digits - 1);
        let end_lane = (after_dot.trailing_zeros() / 8) as usize;
        let frac_digits = end_lane.wrapping_sub(int_digits + 1);
        if end_lane < 8 && frac_digits >= 1 {
            // Close the dot's lane, then right-align the digits and fill below with '0'.
            let below_dot = (1u64 << (8 * int_digits)) - 1;
            let digits = (head & below_dot) | ((head >> 8) & !below_dot);
            let shift = 8 * (8 - (int_digits + frac_digits) as u32);
            let mantissa = eight_digits_value((digits << shift) | (ASCII_ZEROS >> (64 - shift)));
            let scale = POW10_U64[SCALE_DIGITS as usize - frac_digits];
            let raw = u128::from(mantissa) * u128::from(scale);
            return Some((raw as i128, dot + 1 + frac_digits));
        }
    }
    // Right-align the integer digits in the word and fill the lanes below with '0'.
    let shift = 8 * (8 - int_digits as u32);
    let int_value = eight_digits_value((head << shift) | (ASCII_ZEROS >> (64 - shift)));
    let int_raw = u128::from(int_value) * SCALE as u128;
    if (head >> (8 * int_digits)) as u8 != b'.' {
        return Some((int_raw as i128, dot));
    }
    let tail = load_word(bytes, dot + 1);
    let non_digits = non_digit_lanes(tail);
    let frac_digits = (non_digits.trailing_zeros() / 8) as usize;
    if frac_digits == 0 {
        return Some((int_raw as i128, dot));
    }
    let mut frac_raw = eight_digits_scaled(tail, non_digits) * TEN_POW_10;
    let mut end = dot + 1 + frac_digits;
    if frac_digits == 8 && bytes.get(end).is_some_and(u8::is_ascii_digit) {
        // Nine to sixteen fraction digits (Bybit's 1e-13 ticks): one more word, worth 10^2
        // per unit once zero-filled to eight places.
        let more = load_word(bytes, end);
        let more_non_digits = non_digit_lanes(more);
        let more_digits = (more_non_digits.trailing_zeros() / 8) as usize;
        end += more_digits;
        if more_digits == 8 && bytes.get(end).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        frac_raw += eight_digits_scaled(more, more_non_digits) * 100;
    }
    // int_value < 10^7, so the sum stays below 10^25.
    Some(((int_raw + u128::from(frac_raw)) as i128, end))
}

/// The digits of `word` before its first non-digit lane (`non_digits` from
/// [`non_digit_lanes`]), zero-filled to eight places: the value times 10^(8 − digits).
#[inline(always)]
fn eight_digits_scaled(word: u64, non_digits: u64) -> u64 {
    // Lanes below the first flag (all eight when there is none) keep their digits.
    let first_flag = non_digits & non_digits.wrapping_neg();
    let digit_lanes = (first_flag >> 7).wrapping_sub(1);
    eight_digits_value((word & digit_lanes) | (ASCII_ZEROS & !digit_lanes))
}

/// [`parse_unsigned_prefix`] for up to 16 digits on each side of the dot.
#[inline(always)]
fn parse_long_prefix(bytes: &[u8], at: usize) -> Option<(i128, usize)> {
    let (int_value, int_digits) = digit_run(bytes, at);
    if int_digits == 0 {
        return None;
    }
    let dot = at + int_digits;
    // int_value < 10^16, so int_value·10^18 + fraction < 10^35 fits in i128.
    let int_raw = i128::from(int_value) * SCALE;
    if bytes.get(dot) != Some(&b'.') {
        return Some((int_raw, dot));
    }
    let (frac_value, frac_digits) = digit_run(bytes, dot + 1);
    if frac_digits == 0 {
        return Some((int_raw, dot));
    }
    let frac_raw = frac_value * POW10_U64[SCALE_DIGITS as usize - frac_digits];
    Some((int_raw + i128::from(frac_raw), dot + 1 + frac_digits))
}

const _: () = assert!(RUN_MAX_DIGITS <= SCALE_DIGITS as usize);

/// Reference parser: one digit at a time, any length, and the precise error for bad text.
fn parse_raw_scalar(text: &[u8]) -> Result<i128, DecimalError> {
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
    // The remainder is below 10^18, so it fits in u64.
    let frac_part = (magnitude - int_part * SCALE as u128) as u64;
    pos += match u64::try_from(int_part) {
        Ok(small) => write_u64(small, &mut out[pos..]),
        Err(_) => {
            // Above u64 (≥ 1.8e19 units): the high digits, then the low 19 zero-padded.
            const TEN_POW_19: u128 = POW10_U64[19] as u128;
            let high = write_u64((int_part / TEN_POW_19) as u64, &mut out[pos..]);
            let low = (int_part % TEN_POW_19) as u64;
            write_padded(low, &mut out[pos + high..pos + high + 19]);
            high + 19
        }
    };
    let keep = match decimals {
        Some(d) => d.min(SCALE_DIGITS) as usize,
        None => SCALE_DIGITS as usize - trailing_zero_digits(frac_part),
    };
    if keep > 0 {
        out[pos] = b'.';
        pos += 1;
        let leading = frac_part / POW10_U64[SCALE_DIGITS as usize - keep];
        write_padded(leading, &mut out[pos..pos + keep]);
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

/// Writes `value` in decimal without leading zeros and returns the number of bytes (≤ 20).
pub(crate) fn write_u64(value: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut v = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = digits.len() - start;
    out[..n].copy_from_slice(&digits[start..]);
    n
}

/// Fills all of `out` with the low digits of `value`, zero-padded on the left.
fn write_padded(value: u64, out: &mut [u8]) {
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// How many of the 18 fraction digits of `frac` (< 10^18) are trailing zeros.
fn trailing_zero_digits(frac: u64) -> usize {
    if frac == 0 {
        return SCALE_DIGITS as usize;
    }
    let mut count = 0;
    let mut f = frac;
    // Binary search over 16, 8, 4, 2, 1 zeros covers every count up to 17.
    for zeros in [16, 8, 4, 2, 1] {
        if f % POW10_U64[zeros] == 0 {
            f /= POW10_U64[zeros];
            count += zeros;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fmt(raw: i128) -> String {
        let mut b = [0u8; MAX_TEXT_LEN];
        let n = write_raw(raw, &mut b);
        String::from_utf8(b[..n].to_vec()).expect("the writer emits ASCII only")
    }

    /// Independent reference: the canonical text of a decimal string, by string edits only.
    fn normalise(text: &str) -> String {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        let int_part = int_part.trim_start_matches('0');
        let frac_part = frac_part.trim_end_matches('0');
        let int_part = if int_part.is_empty() { "0" } else { int_part };
        let unsigned = if frac_part.is_empty() {
            int_part.to_string()
        } else {
            format!("{int_part}.{frac_part}")
        };
        if negative && unsigned != "0" {
            format!("-{unsigned}")
        } else {
            unsigned
        }
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
        assert_eq!(parse_raw(b"-"), Err(DecimalError::Empty));
        assert_eq!(parse_raw(b"."), Err(DecimalError::InvalidChar(0)));
        assert_eq!(parse_raw(b"1.2.3"), Err(DecimalError::InvalidChar(3)));
        assert_eq!(parse_raw(b".5"), Ok(SCALE / 2));
        assert_eq!(parse_raw(b"7."), Ok(7 * SCALE));
        assert_eq!(
            parse_raw(b"999999999999999999999"),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn fast_path_takes_the_common_shapes_and_declines_the_rest() {
        assert_eq!(
            parse_raw_fast(b"64123.45000000"),
            Some(64_123_450 * SCALE / 1000)
        );
        assert_eq!(parse_raw_fast(b"0.0024"), Some(24 * SCALE / 10_000));
        assert_eq!(
            parse_raw_fast(b"9999999999999999.9999999999999999"),
            Some(9_999_999_999_999_999 * SCALE + 999_999_999_999_999_900)
        );
        // Longer parts are the scalar path's, with the same meaning.
        assert_eq!(parse_raw_fast(b"9999999999999999999.5"), None);
        assert_eq!(
            parse_raw(b"9999999999999999999.5"),
            Ok(9_999_999_999_999_999_999 * SCALE + SCALE / 2)
        );
        assert_eq!(parse_raw_fast(b"12345678901234567890"), None);
        assert_eq!(parse_raw_fast(b"1.0000000000000000000"), None);
        assert_eq!(parse_raw_fast(b"12:45678"), None);
        assert_eq!(parse_raw_fast(b"1/"), None);
        assert_eq!(parse_raw_fast(b"-"), None);
        assert_eq!(parse_raw_fast(b"1."), None);
        assert_eq!(parse_raw_fast(b".5"), None);
    }

    #[test]
    fn prefix_stops_before_anything_that_is_not_its_shape() {
        assert_eq!(
            parse_unsigned_prefix(b"\"61837.63000000\",\"B\"", 1),
            Some((61_837_630 * SCALE / 1000, 15))
        );
        assert_eq!(parse_unsigned_prefix(b"7.\"", 0), Some((7 * SCALE, 1)));
        assert_eq!(
            parse_unsigned_prefix(b"1.2.3", 0),
            Some((SCALE + SCALE / 5, 3))
        );
        assert_eq!(parse_unsigned_prefix(b"1e5", 0), Some((SCALE, 1)));
        assert_eq!(parse_unsigned_prefix(b".5", 0), None);
        assert_eq!(parse_unsigned_prefix(b"-1", 0), None);
        assert_eq!(
            parse_unsigned_prefix(b"12345678901234567", 0).map(|(_, end)| end),
            Some(16)
        );
        // The everyday shapes take the short reader; longer ones the general one.
        assert_eq!(
            parse_short_prefix(b"61837.63000000\"", 0),
            Some((61_837_630 * SCALE / 1000, 14))
        );
        assert_eq!(parse_short_prefix(b"0.003", 0), Some((3 * SCALE / 1000, 5)));
        assert_eq!(
            parse_short_prefix(b"61800.2\",\"", 0),
            Some((618_002 * SCALE / 10, 7)),
            "number inside one word"
        );
        assert_eq!(
            parse_short_prefix(b"1.2345678\"", 0),
            Some((12_345_678 * SCALE / 10_000_000, 9)),
            "fraction running into the next word"
        );
        assert_eq!(parse_short_prefix(b"312\"", 0), Some((312 * SCALE, 3)));
        assert_eq!(
            parse_short_prefix(b"0.0000000000001", 0),
            Some((100_000, 15)),
            "a Bybit tick: sixteen fraction digits at most"
        );
        assert_eq!(parse_short_prefix(b"1.00000000000000001", 0), None);
        assert_eq!(parse_short_prefix(b"12345678.5", 0), None);
    }

    #[test]
    fn formats_shortest_exact_text() {
        assert_eq!(fmt(25_351_900_000_000_000_000), "25.3519");
        assert_eq!(fmt(0), "0");
        assert_eq!(fmt(-SCALE / 2), "-0.5");
        assert_eq!(fmt(100_000), "0.0000000000001");
        assert_eq!(fmt(i128::MAX), "170141183460469231731.687303715884105727");
        assert_eq!(
            fmt(i128::MIN + 1),
            "-170141183460469231731.687303715884105727"
        );
        assert_eq!(
            fmt(10_000_000_000_000_000_000 * SCALE),
            "10000000000000000000"
        );
        assert_eq!(fmt(1), "0.000000000000000001");
        assert_eq!(fmt(10), "0.00000000000000001");
        assert_eq!(fmt(SCALE + SCALE / 10), "1.1");
        let mut b = [0u8; MAX_TEXT_LEN];
        let n = write_raw_with_decimals(SCALE / 10, Some(8), &mut b);
        assert_eq!(&b[..n], b"0.10000000");
    }

    fn decimal_text() -> impl Strategy<Value = String> {
        ("[-+]?", "[0-9]{0,22}", proptest::option::of("[0-9]{0,20}")).prop_map(
            |(sign, int_part, frac_part)| match frac_part {
                Some(frac) => format!("{sign}{int_part}.{frac}"),
                None => format!("{sign}{int_part}"),
            },
        )
    }

    proptest! {
        #[test]
        fn raw_to_text_to_raw_round_trips(raw in (i128::MIN + 1)..=i128::MAX) {
            let text = fmt(raw);
            prop_assert_eq!(parse_raw(text.as_bytes()), Ok(raw));
            prop_assert_eq!(normalise(&text), text);
        }

        #[test]
        fn text_to_raw_to_text_is_the_normalised_text(text in decimal_text()) {
            let digits = text.bytes().filter(u8::is_ascii_digit).count();
            match parse_raw(text.as_bytes()) {
                Ok(raw) => prop_assert_eq!(fmt(raw), normalise(&text)),
                Err(DecimalError::TooPrecise) => {
                    let frac = text.split_once('.').map_or("", |(_, f)| f);
                    prop_assert!(frac.len() > 18 && frac[18..].bytes().any(|b| b != b'0'));
                }
                Err(DecimalError::Overflow) => {
                    let int_part = text.trim_start_matches(['-', '+']);
                    let int_part = int_part.split_once('.').map_or(int_part, |(i, _)| i);
                    prop_assert!(int_part.trim_start_matches('0').len() >= 21);
                }
                Err(other) => prop_assert!(digits == 0, "{other} for {text:?}"),
            }
        }

        #[test]
        fn fast_path_equals_scalar_reference_on_valid_text(text in decimal_text()) {
            if let Some(fast) = parse_raw_fast(text.as_bytes()) {
                prop_assert_eq!(Ok(fast), parse_raw_scalar(text.as_bytes()));
            }
            prop_assert_eq!(parse_raw(text.as_bytes()), parse_raw_scalar(text.as_bytes()));
        }

        #[test]
        fn fast_path_equals_scalar_reference_on_any_bytes(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'.'), Just(b'-'), Just(b'+'), Just(b'/'), Just(b':'),
                    b'0'..=b'9', any::<u8>()],
                0..45,
            )
        ) {
            if let Some(fast) = parse_raw_fast(&bytes) {
                prop_assert_eq!(Ok(fast), parse_raw_scalar(&bytes));
            }
            prop_assert_eq!(parse_raw(&bytes), parse_raw_scalar(&bytes));
        }

        #[test]
        fn short_shape_reader_equals_the_general_one(
            text in "[0-9]{0,9}(\\.[0-9]{0,18})?[\"0-9.e,]?",
            at in 0usize..2,
        ) {
            let framed = format!("{text}\",\"B\":\"3.78826000\"}}");
            for bytes in [text.as_bytes(), framed.as_bytes()] {
                if let Some(short) = parse_short_prefix(bytes, at) {
                    prop_assert_eq!(Some(short), parse_long_prefix(bytes, at), "{:?}", text);
                }
            }
        }

        #[test]
        fn prefix_equals_scalar_reference_on_the_text_it_consumed(
            bytes in proptest::collection::vec(
                prop_oneof![4 => b'0'..=b'9', 1 => Just(b'.'), 1 => Just(b'"'), 1 => any::<u8>()],
                0..45,
            ),
            at in 0usize..4,
        ) {
            if let Some((raw, end)) = parse_unsigned_prefix(&bytes, at) {
                prop_assert_eq!(Ok(raw), parse_raw_scalar(&bytes[at..end]));
                // It stops at a byte that cannot extend the number, or after 16 digits.
                let next = bytes.get(end).copied();
                let digits_before = bytes[at..end].iter().rev().take_while(|b| b.is_ascii_digit()).count();
                prop_assert!(
                    !matches!(next, Some(b'0'..=b'9')) || digits_before == RUN_MAX_DIGITS,
                    "stopped inside a number: {:?} at {}", bytes, end
                );
            } else {
                prop_assert!(!matches!(bytes.get(at), Some(b'0'..=b'9')));
            }
        }
    }
}
