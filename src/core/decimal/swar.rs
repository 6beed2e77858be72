//! Owns: SWAR primitives over ASCII text, eight bytes per `u64` (digit runs, their values,
//! byte search), shared by the decimal parser and the feed scanners.
//! Never: reads outside the slice it is given, allocates, or decides which text is valid.
//!
//! Words are loaded little-endian, so the first byte of the text is the word's low byte and
//! "the first byte that is not a digit" is the lowest flagged byte (`trailing_zeros / 8`).
//! The flag tricks below carry between bytes only upward, out of a flagged byte, so the
//! lowest flag is always exact even though the bytes above it may be flagged wrongly.

/// Eight ASCII '0' bytes.
pub(crate) const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The byte 0x01 in every lane.
const LANES_01: u64 = 0x0101_0101_0101_0101;

/// The high bit of every lane.
const LANES_80: u64 = 0x8080_8080_8080_8080;

/// 10^n for n in 0..=19.
pub(crate) const POW10_U64: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Most digits [`digit_run`] reads: two words.
pub(crate) const RUN_MAX_DIGITS: usize = 16;

/// Bytes `at..at + 8` of `bytes` as a little-endian word; bytes past the end read as zero.
#[inline(always)]
pub(crate) fn load_word(bytes: &[u8], at: usize) -> u64 {
    let rest = bytes.get(at..).unwrap_or(&[]);
    match rest.first_chunk::<8>() {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => load_partial_word(rest),
    }
}

/// The (fewer than eight) bytes of `rest` as a zero-padded word, without a byte loop: two
/// overlapping four-byte loads, or three single bytes below four.
#[inline]
fn load_partial_word(rest: &[u8]) -> u64 {
    let n = rest.len().min(8);
    if n >= 4 {
        let low = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let high = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
        // The overlap holds the same bytes in both halves, so OR keeps them intact.
        u64::from(low) | (u64::from(high) << (8 * (n - 4)))
    } else if n > 0 {
        u64::from(rest[0])
            | (u64::from(rest[n / 2]) << (8 * (n / 2)))
            | (u64::from(rest[n - 1]) << (8 * (n - 1)))
    } else {
        0
    }
}

/// Lanes whose byte is not an ASCII digit, as their high bits (exact up to and including
/// the lowest one).
#[inline(always)]
pub(crate) fn non_digit_lanes(word: u64) -> u64 {
    // After the XOR a digit lane holds 0..=9; adding 0x76 sets the high bit from 10 upward.
    let x = word ^ ASCII_ZEROS;
    (x.wrapping_add(0x7676_7676_7676_7676) | x) & LANES_80
}

/// How many of the word's first bytes are ASCII digits, 0..=8.
#[inline(always)]
pub(crate) fn leading_digits(word: u64) -> usize {
    (non_digit_lanes(word).trailing_zeros() / 8) as usize
}

/// Value of eight ASCII digits (first digit in the low byte); the caller checked they are digits.
#[inline(always)]
pub(crate) fn eight_digits_value(word: u64) -> u64 {
    const PAIR_MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL_HIGH: u64 = 100 + (1_000_000 << 32);
    const MUL_LOW: u64 = 1 + (10_000 << 32);
    let v = word.wrapping_sub(ASCII_ZEROS);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = (v & PAIR_MASK)
        .wrapping_mul(MUL_HIGH)
        .wrapping_add(((v >> 16) & PAIR_MASK).wrapping_mul(MUL_LOW))
        >> 32;
    v & 0xFFFF_FFFF
}

/// Value of the first `n` (0..=8) bytes of `word`, which the caller checked are digits.
#[inline(always)]
pub(crate) fn leading_digits_value(word: u64, n: usize) -> u64 {
    // Move the n digits to the high bytes and fill the low ones with '0': same number.
    // The shifts go through u128 so n = 0 and n = 8 need no special case.
    let shift = 8 * (8 - n as u32);
    let high =
        ((u128::from(word) << shift) as u64) | ((u128::from(ASCII_ZEROS) >> (64 - shift)) as u64);
    eight_digits_value(high)
}

/// The run of ASCII digits starting at `bytes[at]`, at most [`RUN_MAX_DIGITS`] of them:
/// `(value, count)`. A longer run stops at 16; callers check the byte that follows.
#[inline(always)]
pub(crate) fn digit_run(bytes: &[u8], at: usize) -> (u64, usize) {
    let first = load_word(bytes, at);
    let n = leading_digits(first);
    if n < 8 {
        return (leading_digits_value(first, n), n);
    }
    let high = eight_digits_value(first);
    let second = load_word(bytes, at + 8);
    let m = leading_digits(second);
    if m == 0 {
        return (high, 8);
    }
    (high * POW10_U64[m] + leading_digits_value(second, m), 8 + m)
}

/// Offset of the first byte in `bytes[at..]` that is `"`, `\` or a control byte (< 0x20),
/// or `None` when there is none: the end of a JSON string without escapes.
#[inline(always)]
pub(crate) fn find_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while i + 8 <= bytes.len() {
        let word = load_word(bytes, i);
        let hits = zero_lanes(word ^ (u64::from(b'"') * LANES_01))
            | zero_lanes(word ^ (u64::from(b'\\') * LANES_01))
            | below_lanes(word, 0x20);
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes
        .get(i..)
        .and_then(|rest| {
            rest.iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        })
        .map(|offset| i + offset)
}

/// Lanes whose byte is zero (exact up to and including the lowest one).
#[inline(always)]
fn zero_lanes(word: u64) -> u64 {
    word.wrapping_sub(LANES_01) & !word & LANES_80
}

/// Lanes whose byte is below `limit` (≤ 0x80; exact up to and including the lowest one).
#[inline(always)]
fn below_lanes(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(u64::from(limit) * LANES_01) & !word & LANES_80
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digit_prefix(bytes: &[u8]) -> usize {
        bytes.iter().take_while(|b| b.is_ascii_digit()).count()
    }

    fn value_of(digits: &[u8]) -> u64 {
        digits
            .iter()
            .fold(0, |acc, &b| acc * 10 + u64::from(b - b'0'))
    }

    #[test]
    fn partial_words_are_zero_padded() {
        for len in 0..8 {
            let text = &b"12345678"[..len];
            let mut want = [0u8; 8];
            want[..len].copy_from_slice(text);
            assert_eq!(load_word(text, 0), u64::from_le_bytes(want), "len {len}");
        }
        assert_eq!(load_word(b"12", 5), 0);
    }

    #[test]
    fn digit_runs_read_the_common_venue_shapes() {
        assert_eq!(digit_run(b"61837.63000000", 0), (61837, 5));
        assert_eq!(digit_run(b"61837.63000000", 6), (63_000_000, 8));
        assert_eq!(digit_run(b"1723161255343,", 0), (1_723_161_255_343, 13));
        assert_eq!(
            digit_run(b"12345678901234567", 0),
            (1_234_567_890_123_456, 16)
        );
        assert_eq!(digit_run(b"x1", 0), (0, 0));
        assert_eq!(digit_run(b"", 0), (0, 0));
    }

    #[test]
    fn string_end_finds_quote_backslash_or_control_byte() {
        assert_eq!(find_string_end(b"BTCUSDT\",\"b\"", 0), Some(7));
        assert_eq!(find_string_end(b"btcusdt@bookTicker\",", 0), Some(18));
        assert_eq!(find_string_end(b"ab\\\"", 0), Some(2));
        assert_eq!(find_string_end(b"abcdefghij\nkl\"", 0), Some(10));
        assert_eq!(find_string_end(b"abc", 0), None);
        assert_eq!(find_string_end(b"\"", 1), None);
    }

    proptest! {
        #[test]
        fn leading_digits_and_value_match_a_byte_loop(bytes in proptest::array::uniform8(
            prop_oneof![b'0'..=b'9', any::<u8>()]
        )) {
            let word = u64::from_le_bytes(bytes);
            let n = digit_prefix(&bytes);
            prop_assert_eq!(leading_digits(word), n);
            prop_assert_eq!(leading_digits_value(word, n), value_of(&bytes[..n]));
        }

        #[test]
        fn digit_run_matches_a_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![4 => b'0'..=b'9', 1 => any::<u8>()], 0..24),
            at in 0usize..26,
        ) {
            let rest = bytes.get(at..).unwrap_or(&[]);
            let n = digit_prefix(rest).min(RUN_MAX_DIGITS);
            prop_assert_eq!(digit_run(&bytes, at), (value_of(&rest[..n]), n));
        }

        #[test]
        fn string_end_matches_a_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![8 => b' '..=b'~', 1 => any::<u8>()], 0..40),
            at in 0usize..42,
        ) {
            let want = bytes.get(at..).and_then(|rest| {
                rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
            });
            prop_assert_eq!(find_string_end(&bytes, at), want);
        }
    }
}
