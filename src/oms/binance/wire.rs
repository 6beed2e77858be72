//! Owns: the fixed byte buffer requests are encoded into, with short copies done inline.
//! Never: grows, reallocates or panics: a write that does not fit is refused.
//!
//! A request is a few dozen copies of 1–64 bytes; through `Vec::extend_from_slice` each one
//! is a capacity check plus a `memcpy` call, which cost as much as hashing the request.
//! Copies here of up to 32 bytes are two overlapping fixed-size moves instead.

/// The buffer had no room for a write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Overflow;

/// Copies `src` into `dst` (same length) without a call for lengths up to 32.
#[inline(always)]
pub fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if dst.len() != n {
        return;
    }
    if n > 32 {
        dst.copy_from_slice(src);
    } else if n >= 16 {
        move_fixed::<16>(&mut dst[..16], &src[..16]);
        move_fixed::<16>(&mut dst[n - 16..], &src[n - 16..]);
    } else if n >= 8 {
        move_fixed::<8>(&mut dst[..8], &src[..8]);
        move_fixed::<8>(&mut dst[n - 8..], &src[n - 8..]);
    } else if n >= 4 {
        move_fixed::<4>(&mut dst[..4], &src[..4]);
        move_fixed::<4>(&mut dst[n - 4..], &src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// Moves exactly `N` bytes as one array assignment (a register move, never a `memcpy` call).
#[inline(always)]
fn move_fixed<const N: usize>(dst: &mut [u8], src: &[u8]) {
    if let (Ok(dst), Ok(src)) = (<&mut [u8; N]>::try_from(dst), <&[u8; N]>::try_from(src)) {
        *dst = *src;
    }
}

/// A fixed-capacity output buffer.
#[derive(Clone)]
pub struct WireBuf {
    bytes: Box<[u8]>,
    len: usize,
}

impl std::fmt::Debug for WireBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WireBuf({} of {} bytes)", self.len, self.bytes.len())
    }
}

impl WireBuf {
    /// A buffer of `capacity` bytes, allocated once here.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: vec![0; capacity].into_boxed_slice(),
            len: 0,
        }
    }

    /// Forgets the contents.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes written.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// True when nothing is written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one byte.
    #[inline(always)]
    pub fn push(&mut self, byte: u8) -> Result<(), Overflow> {
        *self.bytes.get_mut(self.len).ok_or(Overflow)? = byte;
        self.len += 1;
        Ok(())
    }

    /// Appends `src`.
    #[inline(always)]
    pub fn extend(&mut self, src: &[u8]) -> Result<(), Overflow> {
        let end = self.len + src.len();
        copy_bytes(self.bytes.get_mut(self.len..end).ok_or(Overflow)?, src);
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_length_copies_exactly() {
        let src: Vec<u8> = (0..80u8).collect();
        for n in 0..=80 {
            let mut dst = vec![0xff; n];
            copy_bytes(&mut dst, &src[..n]);
            assert_eq!(dst, &src[..n], "length {n}");
        }
    }

    #[test]
    fn writes_past_capacity_are_refused_and_leave_the_contents() {
        let mut buf = WireBuf::with_capacity(4);
        buf.extend(b"abc").expect("fits");
        assert_eq!(buf.extend(b"de"), Err(Overflow));
        buf.push(b'd').expect("fits");
        assert_eq!(buf.push(b'e'), Err(Overflow));
        assert_eq!(buf.as_bytes(), b"abcd");
        buf.clear();
        assert!(buf.is_empty());
    }
}
