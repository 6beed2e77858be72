//! Owns: the stable reject codes an `OrderUpdate` carries, by origin: exchange filters
//! checked locally (1–99, `FilterReject::code`), the order manager (100–199), the venue
//! (200–299), the risk rails (300–399). Never: changes a published code's meaning; codes
//! are journaled and exported, so they only ever get added.

use super::venue::{RejectKind, VenueReject};

/// The symbol has no instrument (exchangeInfo) loaded.
pub const UNKNOWN_INSTRUMENT: u16 = 100;
/// Trading is refused until reconciliation with the venue has finished.
pub const NOT_RECONCILED: u16 = 101;
/// The order table is full.
pub const TOO_MANY_ORDERS: u16 = 102;
/// A market order's notional cannot be checked: no price seen for the symbol yet.
pub const NO_REFERENCE_PRICE: u16 = 103;
/// The quantity rounds down to zero on the lot-size grid.
pub const QTY_ROUNDS_TO_ZERO: u16 = 104;
/// A cancel names an order that is not open.
pub const CANCEL_UNKNOWN_ORDER: u16 = 105;
/// The venue kept refusing a retried request past the retry budget.
pub const RETRIES_EXHAUSTED: u16 = 106;
/// The client order id space of this session is used up.
pub const IDS_EXHAUSTED: u16 = 107;
/// The intent's fields do not make an order (e.g. a limit without a price).
pub const BAD_INTENT: u16 = 108;
/// A new order an earlier session journaled that the venue never received: not sent after
/// a restart (the decision behind it is stale, possibly by hours).
pub const NOT_AT_VENUE_AFTER_RESTART: u16 = 109;
/// A stop move (`Rebracket`) for an entry without a live bracket, or whose stop would be
/// looser than the current one or at or past the market.
pub const BAD_STOP_MOVE: u16 = 110;

/// First code of the venue range; `VENUE_BASE + kind` for each [`RejectKind`].
pub const VENUE_BASE: u16 = 200;

/// The code for a venue refusal.
pub const fn venue_code(reject: &VenueReject) -> u16 {
    VENUE_BASE
        + match reject.kind {
            RejectKind::Filter => 1,
            RejectKind::InsufficientFunds => 2,
            RejectKind::WouldTake => 3,
            RejectKind::WouldTrigger => 4,
            RejectKind::ReduceOnly => 5,
            RejectKind::Duplicate => 6,
            RejectKind::RateLimited => 7,
            RejectKind::Banned => 8,
            RejectKind::Timestamp => 9,
            RejectKind::UnknownOrder => 10,
            RejectKind::BadSymbol => 11,
            RejectKind::Auth => 12,
            RejectKind::Unavailable => 13,
            RejectKind::Other => 99,
        }
}

/// A short name for a code, for logs and tools.
pub const fn name(code: u16) -> &'static str {
    match code {
        0 => "none",
        1..=99 => "exchange filter (local check)",
        UNKNOWN_INSTRUMENT => "unknown instrument",
        NOT_RECONCILED => "not reconciled",
        TOO_MANY_ORDERS => "order table full",
        NO_REFERENCE_PRICE => "no reference price",
        QTY_ROUNDS_TO_ZERO => "quantity rounds to zero",
        CANCEL_UNKNOWN_ORDER => "cancel of an order that is not open",
        RETRIES_EXHAUSTED => "retries exhausted",
        IDS_EXHAUSTED => "client order ids exhausted",
        BAD_INTENT => "bad intent",
        NOT_AT_VENUE_AFTER_RESTART => "not at the venue after a restart",
        BAD_STOP_MOVE => "stop move refused",
        200..=299 => "venue reject",
        300..=399 => "risk reject",
        _ => "unknown",
    }
}
