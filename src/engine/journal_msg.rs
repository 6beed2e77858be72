//! Owns: the message the order and ops paths send the persist thread. Never: carries heap
//! data; the persist thread turns it into a journal payload.

use crate::core::{Fill, OrderIntent, OrderUpdate, SymbolId};
use crate::persist::payload::{RiskEvent, TradingStateChange};

/// Longest operator note carried inline.
pub const NOTE_MAX: usize = 160;

/// One thing to journal. `event_ns` fields are monotonic ns (`core::clock::mono_ns`); the
/// persist thread turns them into wall-clock ns for the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalMsg {
    /// An intent as it entered the order stage.
    Intent { event_ns: u64, intent: OrderIntent },
    /// An order changed state.
    Update { event_ns: u64, update: OrderUpdate },
    /// An execution.
    Fill { event_ns: u64, fill: Fill },
    /// A risk rail's reject, a breaker event or an operator command (`risk::codes`).
    Risk {
        event_ns: u64,
        symbol: Option<SymbolId>,
        event: RiskEvent,
    },
    /// The trading mode or health changed (journaled so a restart keeps a halt).
    State {
        event_ns: u64,
        change: TradingStateChange,
    },
    /// Free text from the operator.
    Note {
        event_ns: u64,
        len: u8,
        text: [u8; NOTE_MAX],
    },
}

impl JournalMsg {
    /// A note message; text past [`NOTE_MAX`] bytes is cut at a character boundary.
    pub fn note(event_ns: u64, text: &str) -> Self {
        let mut end = text.len().min(NOTE_MAX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; NOTE_MAX];
        buf[..end].copy_from_slice(&text.as_bytes()[..end]);
        JournalMsg::Note {
            event_ns,
            len: end as u8,
            text: buf,
        }
    }
}
