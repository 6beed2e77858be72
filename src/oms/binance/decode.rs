//! Owns: what the reply and user-data parsers share: where reports go, typed parse errors,
//! Binance's enum spellings and error codes mapped to venue-neutral terms.
//! Never: panics on input, or guesses a value that failed to parse.

use serde::Deserialize;

use crate::core::{AssetName, ClientOrderId, Market, OrderType, Side, SymbolId};
use crate::engine::stage::Outbox;
use crate::oms::venue::{RejectKind, VenueReject, VenueReport};

use super::symbols::OrderSymbols;

/// Where parsed reports go; a full sink is an error, never a silent drop.
pub trait ReportSink {
    /// Adds a report; gives it back when there is no room.
    fn push_report(&mut self, report: VenueReport) -> Result<(), VenueReport>;
}

impl ReportSink for Vec<VenueReport> {
    fn push_report(&mut self, report: VenueReport) -> Result<(), VenueReport> {
        self.push(report);
        Ok(())
    }
}

impl ReportSink for Outbox<VenueReport> {
    fn push_report(&mut self, report: VenueReport) -> Result<(), VenueReport> {
        self.push(report)
    }
}

/// Stable class of a parse failure, for counters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ParseErrorKind {
    /// Not JSON, or JSON of another shape (missing field, wrong type, bad decimal).
    Malformed,
    /// A symbol the codec does not trade, on one of our orders.
    UnknownSymbol,
    /// An event type or enum value this code does not know.
    Unknown,
    /// A reply that names another order than the request it answers.
    Mismatch,
    /// The report sink had no room.
    SinkFull,
}

/// Why a reply or user-data frame could not be turned into reports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The JSON does not fit the expected shape; `path` names where.
    #[error("malformed {what}: at {path}: {detail}")]
    Malformed {
        what: &'static str,
        path: String,
        detail: String,
    },
    /// One of our orders on a symbol the codec does not trade.
    #[error("{what}: unknown symbol {symbol:?}")]
    UnknownSymbol { what: &'static str, symbol: String },
    /// A user-data event type this code does not know.
    #[error("unknown user-data event type {0:?}")]
    UnknownEvent(String),
    /// An enum value this code does not know (`x`, `X`, `type`, `side`, …).
    #[error("{what}: unknown {field} {value:?}")]
    UnknownValue {
        what: &'static str,
        field: &'static str,
        value: String,
    },
    /// The reply is about another order than the request.
    #[error("{what}: reply names order {got:?}, request was for {expected}")]
    Mismatch {
        what: &'static str,
        expected: ClientOrderId,
        got: String,
    },
    /// The sink had no room for a report.
    #[error("report sink full while handling {0}")]
    SinkFull(&'static str),
}

impl ParseError {
    /// The stable class of this error.
    pub fn kind(&self) -> ParseErrorKind {
        match self {
            ParseError::Malformed { .. } => ParseErrorKind::Malformed,
            ParseError::UnknownSymbol { .. } => ParseErrorKind::UnknownSymbol,
            ParseError::UnknownEvent(_) | ParseError::UnknownValue { .. } => {
                ParseErrorKind::Unknown
            }
            ParseError::Mismatch { .. } => ParseErrorKind::Mismatch,
            ParseError::SinkFull(_) => ParseErrorKind::SinkFull,
        }
    }
}

/// Deserializes `json` as `T` (borrowing), naming the failing path in the error.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(
    json: &'a [u8],
    what: &'static str,
) -> Result<T, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        ParseError::Malformed {
            what,
            path: err.path().to_string(),
            detail: err.inner().to_string(),
        }
    })?;
    deserializer.end().map_err(|err| ParseError::Malformed {
        what,
        path: "(after the document)".to_string(),
        detail: err.to_string(),
    })?;
    Ok(value)
}

/// Pushes one report, turning a full sink into an error.
pub(crate) fn push(
    sink: &mut dyn ReportSink,
    report: VenueReport,
    what: &'static str,
) -> Result<(), ParseError> {
    sink.push_report(report)
        .map_err(|_| ParseError::SinkFull(what))
}

/// A side as Binance spells it.
pub(crate) fn side(text: &str, what: &'static str) -> Result<Side, ParseError> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(unknown(what, "side", other)),
    }
}

/// An order type as Binance spells it, folded onto the engine's types: stop-limit and
/// trailing kinds count as stops, and the order's price says whether a limit is attached.
pub(crate) fn order_type(text: &str, what: &'static str) -> Result<OrderType, ParseError> {
    Ok(match text {
        "LIMIT" => OrderType::Limit,
        "MARKET" => OrderType::Market,
        "LIMIT_MAKER" => OrderType::LimitMaker,
        "STOP_LOSS" | "STOP_LOSS_LIMIT" | "STOP" | "STOP_MARKET" | "TRAILING_STOP_MARKET" => {
            OrderType::StopMarket
        }
        "TAKE_PROFIT" | "TAKE_PROFIT_LIMIT" | "TAKE_PROFIT_MARKET" => OrderType::TakeProfitMarket,
        other => return Err(unknown(what, "order type", other)),
    })
}

pub(crate) fn unknown(what: &'static str, field: &'static str, value: &str) -> ParseError {
    ParseError::UnknownValue {
        what,
        field,
        value: value.to_string(),
    }
}

/// An asset code; codes that do not fit inline are malformed input.
pub(crate) fn asset(code: &str, what: &'static str) -> Result<AssetName, ParseError> {
    AssetName::new(code).ok_or_else(|| ParseError::Malformed {
        what,
        path: "asset".to_string(),
        detail: format!("asset code {code:?} is empty, too long or not ASCII"),
    })
}

/// The id of `name`, or an error naming it (for our own orders).
pub(crate) fn symbol(
    symbols: &OrderSymbols,
    name: &str,
    what: &'static str,
) -> Result<SymbolId, ParseError> {
    symbols
        .id_of(name)
        .ok_or_else(|| ParseError::UnknownSymbol {
            what,
            symbol: name.to_string(),
        })
}

/// A futures position as a report when it is a one-way-mode (`BOTH`) position of a traded
/// symbol; `Ok(None)` for hedge-mode sides and other symbols (the engine trades one-way).
pub(crate) fn one_way_position(
    symbols: &OrderSymbols,
    name: &str,
    position_side: &str,
    qty: crate::core::Qty,
    entry_price: crate::core::Price,
    what: &'static str,
) -> Result<Option<VenueReport>, ParseError> {
    match (position_side, symbols.id_of(name)) {
        ("BOTH", Some(symbol)) => Ok(Some(VenueReport::Position {
            symbol,
            qty,
            entry_price,
        })),
        ("BOTH" | "LONG" | "SHORT", _) => Ok(None),
        (other, _) => Err(unknown(what, "position side", other)),
    }
}

/// How the venue's answer to a request is to be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// A refusal.
    Reject(VenueReject),
    /// -1021: the clock offset is off; resync and retry once (see `ServerClock`).
    Timestamp(VenueReject),
    /// 5xx, -1006, -1007: the request may or may not have executed.
    Unknown,
}

/// Maps an HTTP status and a Binance error code/message to what it means for the order.
/// `retry_after_ms` is the wait the venue named (REST `Retry-After` or WS `retryAfter`).
pub fn classify_error(
    http_status: u16,
    code: i32,
    msg: &str,
    market: Market,
    retry_after_ms: Option<u64>,
) -> Verdict {
    let reject = |kind, code| VenueReject {
        kind,
        code,
        retry_after_ms: match kind {
            RejectKind::RateLimited | RejectKind::Banned => retry_after_ms.unwrap_or(0),
            _ => 0,
        },
    };
    if http_status >= 500 || matches!(code, -1006 | -1007) {
        return Verdict::Unknown;
    }
    if http_status == 418 {
        return Verdict::Reject(reject(RejectKind::Banned, 418));
    }
    if http_status == 429 {
        return Verdict::Reject(reject(RejectKind::RateLimited, 429));
    }
    let futures = market == Market::UsdmFutures;
    let lower = msg.to_ascii_lowercase();
    let kind = match code {
        -1003 if lower.contains("banned") => RejectKind::Banned,
        -1003 | -1015 => RejectKind::RateLimited,
        -1021 => return Verdict::Timestamp(reject(RejectKind::Timestamp, code)),
        -1013 | -1111 | -4164 => RejectKind::Filter,
        -1022 | -2014 | -2015 => RejectKind::Auth,
        -1121 => RejectKind::BadSymbol,
        -2013 => RejectKind::UnknownOrder,
        -2019 => RejectKind::InsufficientFunds,
        -2021 if futures => RejectKind::WouldTrigger,
        -2022 if futures => RejectKind::ReduceOnly,
        -5022 => RejectKind::WouldTake,
        -2010 | -2011 => {
            if lower.contains("insufficient balance") || lower.contains("insufficient margin") {
                RejectKind::InsufficientFunds
            } else if lower.contains("immediately match and take") {
                RejectKind::WouldTake
            } else if lower.contains("would trigger immediately")
                || lower.contains("immediately trigger")
            {
                RejectKind::WouldTrigger
            } else if lower.contains("duplicate") {
                RejectKind::Duplicate
            } else if lower.contains("unknown order") {
                RejectKind::UnknownOrder
            } else if lower.contains("reduceonly") || lower.contains("reduce only") {
                RejectKind::ReduceOnly
            } else {
                RejectKind::Other
            }
        }
        // 403 is the venue's WAF, not an authentication failure.
        _ if http_status == 401 => RejectKind::Auth,
        _ => RejectKind::Other,
    };
    let code = if code == 0 {
        i32::from(http_status)
    } else {
        code
    };
    Verdict::Reject(reject(kind, code))
}

/// A Binance error body `{"code": -2010, "msg": "…"}`.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct ApiError<'a> {
    pub code: i32,
    #[serde(borrow)]
    pub msg: std::borrow::Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(status: u16, code: i32, msg: &str, market: Market) -> Option<RejectKind> {
        match classify_error(status, code, msg, market, Some(5_000)) {
            Verdict::Reject(reject) => Some(reject.kind),
            Verdict::Timestamp(_) => Some(RejectKind::Timestamp),
            Verdict::Unknown => None,
        }
    }

    #[test]
    fn documented_codes_map_to_their_reject_kinds() {
        use Market::{Spot, UsdmFutures};
        let cases = [
            (400, -1013, "Filter failure: LOT_SIZE", Spot, Some(RejectKind::Filter)),
            (400, -1111, "Parameter 'price' has too much precision.", Spot, Some(RejectKind::Filter)),
            (400, -2010, "Account has insufficient balance for requested action.", Spot, Some(RejectKind::InsufficientFunds)),
            (400, -2010, "Order would immediately match and take.", Spot, Some(RejectKind::WouldTake)),
            (400, -2010, "Duplicate order sent.", Spot, Some(RejectKind::Duplicate)),
            (400, -2010, "Stop price would trigger immediately.", Spot, Some(RejectKind::WouldTrigger)),
            (400, -2011, "Unknown order sent.", Spot, Some(RejectKind::UnknownOrder)),
            (400, -2013, "Order does not exist.", Spot, Some(RejectKind::UnknownOrder)),
            (400, -1121, "Invalid symbol.", Spot, Some(RejectKind::BadSymbol)),
            (400, -1022, "Signature for this request is not valid.", Spot, Some(RejectKind::Auth)),
            (401, -2015, "Invalid API-key, IP, or permissions for action.", Spot, Some(RejectKind::Auth)),
            (400, -1021, "Timestamp for this request is outside of the recvWindow.", Spot, Some(RejectKind::Timestamp)),
            (400, -2019, "Margin is insufficient.", UsdmFutures, Some(RejectKind::InsufficientFunds)),
            (400, -2021, "Order would immediately trigger.", UsdmFutures, Some(RejectKind::WouldTrigger)),
            (400, -2021, "Order cancel-replace partially failed.", Spot, Some(RejectKind::Other)),
            (400, -2022, "ReduceOnly Order is rejected.", UsdmFutures, Some(RejectKind::ReduceOnly)),
            (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.", UsdmFutures, Some(RejectKind::WouldTake)),
            (400, -4164, "Order's notional must be no smaller than 5.", UsdmFutures, Some(RejectKind::Filter)),
            (429, -1003, "Too much request weight used.", Spot, Some(RejectKind::RateLimited)),
            (418, -1003, "Way too much request weight used; IP banned until 1659146700000.", Spot, Some(RejectKind::Banned)),
            (400, -1015, "Too many new orders.", Spot, Some(RejectKind::RateLimited)),
            (503, 0, "", Spot, None),
            (400, -1007, "Timeout waiting for response from backend server.", Spot, None),
            (403, 0, "", Spot, Some(RejectKind::Other)),
        ];
        for (status, code, msg, market, expected) in cases {
            assert_eq!(
                kind_of(status, code, msg, market),
                expected,
                "{status} {code} {msg}"
            );
        }
    }

    #[test]
    fn rate_limit_rejects_carry_the_wait_and_http_codes() {
        let Verdict::Reject(reject) = classify_error(429, -1003, "x", Market::Spot, Some(3_000))
        else {
            panic!("429 is a reject");
        };
        assert_eq!((reject.code, reject.retry_after_ms), (429, 3_000));
        let Verdict::Reject(reject) = classify_error(
            400,
            -2010,
            "Duplicate order sent.",
            Market::Spot,
            Some(3_000),
        ) else {
            panic!("-2010 is a reject");
        };
        assert_eq!((reject.code, reject.retry_after_ms), (-2010, 0));
    }
}
