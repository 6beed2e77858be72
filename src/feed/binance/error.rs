//! Owns: why a Binance frame could not be decoded, with a stable kind for counters.
//! Never: allocates or formats on the hot path; context is carried as `'static` text and numbers.

use crate::core::decimal::DecimalError;
use crate::core::symbol::SymbolName;

/// Stable error class, for counters and rate-limited logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DecodeErrorKind {
    /// Not JSON, or JSON of a shape the decoder does not accept (escapes, wrong types).
    Malformed,
    /// A symbol the decoder was not built with.
    UnknownSymbol,
    /// An event type or stream the decoder does not know.
    UnknownMessage,
    /// A price or quantity that is not exact, non-negative plain decimal text.
    BadDecimal,
    /// Over the configured frame-size limit; rejected before parsing.
    FrameTooLarge,
    /// A required field is absent.
    MissingField,
}

impl DecodeErrorKind {
    /// Every kind, in counter order.
    pub const ALL: [DecodeErrorKind; 6] = [
        DecodeErrorKind::Malformed,
        DecodeErrorKind::UnknownSymbol,
        DecodeErrorKind::UnknownMessage,
        DecodeErrorKind::BadDecimal,
        DecodeErrorKind::FrameTooLarge,
        DecodeErrorKind::MissingField,
    ];

    /// Snake-case name used as a metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            DecodeErrorKind::Malformed => "malformed",
            DecodeErrorKind::UnknownSymbol => "unknown_symbol",
            DecodeErrorKind::UnknownMessage => "unknown_message",
            DecodeErrorKind::BadDecimal => "bad_decimal",
            DecodeErrorKind::FrameTooLarge => "frame_too_large",
            DecodeErrorKind::MissingField => "missing_field",
        }
    }
}

/// What was wrong with a decimal field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BadDecimal {
    /// Not plain decimal text (`NaN`, exponent, empty, stray characters).
    NotDecimal,
    /// A negative price or quantity.
    Negative,
    /// More fractional digits than the fixed-point scale keeps.
    TooPrecise,
    /// Too large for the fixed-point range.
    OutOfRange,
}

impl From<DecimalError> for BadDecimal {
    fn from(err: DecimalError) -> Self {
        match err {
            DecimalError::Empty | DecimalError::InvalidChar(_) => BadDecimal::NotDecimal,
            DecimalError::TooPrecise => BadDecimal::TooPrecise,
            DecimalError::Overflow => BadDecimal::OutOfRange,
        }
    }
}

/// Why a Binance frame was rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed JSON at byte {offset}: {what}")]
    Malformed { offset: usize, what: &'static str },
    #[error("unknown symbol {0:?}")]
    UnknownSymbol(Option<SymbolName>),
    #[error("unknown stream or event type ({0})")]
    UnknownMessage(&'static str),
    #[error("bad decimal in field {field:?}: {reason:?}")]
    BadDecimal {
        field: &'static str,
        reason: BadDecimal,
    },
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("missing field {0:?}")]
    MissingField(&'static str),
}

impl DecodeError {
    /// The stable class of this error.
    pub const fn kind(&self) -> DecodeErrorKind {
        match self {
            DecodeError::Malformed { .. } => DecodeErrorKind::Malformed,
            DecodeError::UnknownSymbol(_) => DecodeErrorKind::UnknownSymbol,
            DecodeError::UnknownMessage(_) => DecodeErrorKind::UnknownMessage,
            DecodeError::BadDecimal { .. } => DecodeErrorKind::BadDecimal,
            DecodeError::FrameTooLarge { .. } => DecodeErrorKind::FrameTooLarge,
            DecodeError::MissingField(_) => DecodeErrorKind::MissingField,
        }
    }

    /// An unknown symbol, keeping its name when it fits the inline form.
    pub(crate) fn unknown_symbol(name: &[u8]) -> Self {
        let inline = std::str::from_utf8(name).ok().and_then(SymbolName::new);
        DecodeError::UnknownSymbol(inline)
    }
}
