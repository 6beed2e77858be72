//! Owns: identifiers that must be unique across restarts (client order ids) and small ids
//! (strategies). Never: uses randomness: ids are derived from the journal's sequence so a
//! restarted engine continues where it stopped and cannot collide with its own past.

use std::fmt;

use super::decimal::write_u64;

/// Index of a strategy instance in the engine's strategy table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct StrategyId(pub u16);

/// Engine-assigned client order id: `session` (bumped at every start, persisted in the journal)
/// in the high 24 bits and a per-session counter in the low 40 bits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ClientOrderId(pub u64);

/// Prefix every kestrel client order id carries on the wire, so reconciliation can tell our
/// orders from the operator's manual ones.
pub const CLIENT_ORDER_ID_PREFIX: &str = "ks";

const COUNTER_BITS: u32 = 40;
const COUNTER_MASK: u64 = (1 << COUNTER_BITS) - 1;

impl ClientOrderId {
    /// The session part of the id.
    pub const fn session(self) -> u32 {
        (self.0 >> COUNTER_BITS) as u32
    }
    /// The per-session counter part of the id.
    pub const fn counter(self) -> u64 {
        self.0 & COUNTER_MASK
    }
    /// Writes the wire form `ks<session>-<counter>` (at most 24 bytes, within Binance's
    /// 36-character limit) into `out` and returns its length.
    pub fn write_to(self, out: &mut [u8; 24]) -> usize {
        let mut pos = 0;
        for &b in CLIENT_ORDER_ID_PREFIX.as_bytes() {
            out[pos] = b;
            pos += 1;
        }
        pos += write_u64(self.session() as u64, &mut out[pos..]);
        out[pos] = b'-';
        pos += 1;
        pos += write_u64(self.counter(), &mut out[pos..]);
        pos
    }
    /// Parses the wire form back; `None` for ids that are not kestrel's.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(CLIENT_ORDER_ID_PREFIX)?;
        let (session, counter) = rest.split_once('-')?;
        let session: u64 = session.parse().ok()?;
        let counter: u64 = counter.parse().ok()?;
        if session >= 1 << (64 - COUNTER_BITS) || counter > COUNTER_MASK {
            return None;
        }
        Some(Self((session << COUNTER_BITS) | counter))
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        let n = self.write_to(&mut buf);
        f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hands out client order ids for one engine session.
#[derive(Debug, Clone)]
pub struct ClientOrderIdGen {
    session: u32,
    next: u64,
}

/// Why no further id can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("session number {0} does not fit in 24 bits")]
    SessionTooLarge(u32),
    #[error("client order id counter exhausted for session {0}")]
    Exhausted(u32),
}

impl ClientOrderIdGen {
    /// A generator for `session`, which the engine takes as one more than the last session
    /// recorded in the journal, so ids never repeat across restarts.
    pub fn new(session: u32) -> Result<Self, IdError> {
        if session >= 1 << (64 - COUNTER_BITS) {
            return Err(IdError::SessionTooLarge(session));
        }
        Ok(Self { session, next: 1 })
    }

    /// The next id.
    #[inline]
    pub fn next_id(&mut self) -> Result<ClientOrderId, IdError> {
        if self.next > COUNTER_MASK {
            return Err(IdError::Exhausted(self.session));
        }
        let id = ClientOrderId(((self.session as u64) << COUNTER_BITS) | self.next);
        self.next += 1;
        Ok(id)
    }

    /// The session this generator issues ids for.
    pub fn session(&self) -> u32 {
        self.session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_do_not_collide_across_sessions() {
        let mut first = ClientOrderIdGen::new(7).expect("small session");
        let mut second = ClientOrderIdGen::new(8).expect("small session");
        let a = first.next_id().expect("fresh");
        let b = second.next_id().expect("fresh");
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "ks7-1");
        assert_eq!(ClientOrderId::parse("ks7-1"), Some(a));
        assert_eq!(ClientOrderId::parse("web_abc"), None);
        assert!(ClientOrderIdGen::new(1 << 24).is_err());
    }
}
