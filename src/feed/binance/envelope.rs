//! Owns: reading the combined-stream envelope `{"stream":…,"data":…}` and deciding which
//! decoder a payload goes to (event type first, then stream name, then the keys present).
//! Never: decodes payload fields itself or allocates.

use super::error::DecodeError;
use super::scanner::Cursor;

/// Which decoder a payload needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Route<'a> {
    BookTicker,
    Trade,
    AggTrade,
    DepthUpdate,
    /// Top-N book; the symbol comes from the (lower-case) stream name.
    PartialDepth {
        stream_symbol: &'a [u8],
    },
    Kline,
    MiniTicker,
    Ticker,
    MarkPrice,
    ForceOrder,
    SubscribeAck,
}

/// A frame split into its optional stream name and the payload's byte span.
#[derive(Clone, Copy, Debug)]
pub(super) struct Envelope<'a> {
    pub(super) stream: Option<&'a [u8]>,
    /// Offset of the payload's opening brace.
    pub(super) payload_start: usize,
}

impl<'a> Envelope<'a> {
    /// Reads the envelope head: a combined frame up to `"data":`, or a bare frame as a whole.
    #[inline]
    pub(super) fn read(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let mut c = Cursor::new(frame, 0);
        // Compact combined-stream head as Binance writes it, else the generic reading below.
        if c.fast_literal(b"{\"stream\":\"").is_some() {
            if let Some(stream) = c.fast_string_rest() {
                if c.fast_literal(b",\"data\":").is_some() {
                    return Ok(Self {
                        stream: Some(stream),
                        payload_start: c.pos(),
                    });
                }
            }
            c.rewind(0);
        }
        c.eat(b'{')?;
        if c.try_eat(b'}') {
            return Err(DecodeError::UnknownMessage("empty object"));
        }
        if c.key()? != b"stream" {
            return Ok(Self {
                stream: None,
                payload_start: 0,
            });
        }
        let stream = c.string()?;
        c.eat(b',')?;
        let at = c.pos();
        if c.key()? != b"data" {
            return Err(DecodeError::Malformed {
                offset: at,
                what: "expected \"data\" after \"stream\"",
            });
        }
        Ok(Self {
            stream: Some(stream),
            payload_start: c.pos(),
        })
    }

    /// Checks what follows the payload (ending at `payload_end`): the envelope's `}` if any.
    #[inline]
    pub(super) fn finish(&self, frame: &[u8], payload_end: usize) -> Result<(), DecodeError> {
        let mut c = Cursor::new(frame, payload_end);
        if self.stream.is_some() {
            c.eat(b'}')?;
        }
        c.finish()
    }

    /// Picks the decoder for the payload.
    #[inline]
    pub(super) fn route(&self, frame: &'a [u8]) -> Result<Route<'a>, DecodeError> {
        let mut c = Cursor::new(frame, self.payload_start);
        if c.fast_literal(b"{\"e\":\"").is_some() {
            if let Some(event) = c.fast_string_rest() {
                return route_event(event);
            }
            c.rewind(self.payload_start);
        }
        c.eat(b'{')?;
        let first_key = if c.try_eat(b'}') {
            None
        } else {
            Some(c.key()?)
        };
        if first_key == Some(b"e") {
            return route_event(c.string()?);
        }
        match (self.stream.map(route_stream), first_key) {
            (Some(Some(route)), _) => Ok(route),
            (None, Some(b"u")) => Ok(Route::BookTicker),
            (None, Some(b"result" | b"id")) => Ok(Route::SubscribeAck),
            (Some(None), _) => Err(DecodeError::UnknownMessage("stream without event type")),
            _ => Err(DecodeError::UnknownMessage("frame without event type")),
        }
    }
}

#[inline]
fn route_event(event: &[u8]) -> Result<Route<'static>, DecodeError> {
    Ok(match event {
        b"bookTicker" => Route::BookTicker,
        b"trade" => Route::Trade,
        b"aggTrade" => Route::AggTrade,
        b"depthUpdate" => Route::DepthUpdate,
        b"kline" => Route::Kline,
        b"24hrMiniTicker" => Route::MiniTicker,
        b"24hrTicker" => Route::Ticker,
        b"markPriceUpdate" => Route::MarkPrice,
        b"forceOrder" => Route::ForceOrder,
        _ => return Err(DecodeError::UnknownMessage("event type")),
    })
}

/// Routes for payloads that carry no event type: `<symbol>@bookTicker`, `<symbol>@depthN[@…]`.
fn route_stream(stream: &[u8]) -> Option<Route<'_>> {
    let at = stream.iter().position(|&b| b == b'@')?;
    let (stream_symbol, kind) = (&stream[..at], &stream[at + 1..]);
    if kind == b"bookTicker" {
        return Some(Route::BookTicker);
    }
    let levels = kind.strip_prefix(b"depth")?;
    let digits = levels.iter().take_while(|b| b.is_ascii_digit()).count();
    let suffix_ok = levels.len() == digits || levels[digits] == b'@';
    (digits > 0 && suffix_ok).then_some(Route::PartialDepth { stream_symbol })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_route_payloads_without_event_type() {
        assert_eq!(route_stream(b"btcusdt@bookTicker"), Some(Route::BookTicker));
        assert_eq!(
            route_stream(b"btcusdt@depth20@100ms"),
            Some(Route::PartialDepth {
                stream_symbol: b"btcusdt"
            })
        );
        assert_eq!(
            route_stream(b"btcusdt@depth5"),
            Some(Route::PartialDepth {
                stream_symbol: b"btcusdt"
            })
        );
        assert_eq!(route_stream(b"btcusdt@depth@100ms"), None);
        assert_eq!(route_stream(b"btcusdt@depth@0ms"), None);
        assert_eq!(route_stream(b"btcusdt@trade"), None);
        assert_eq!(route_stream(b"nodelimiter"), None);
    }
}
