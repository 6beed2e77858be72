//! Owns: the REST front door of a listener: the throttle and weight limits every request
//! passes, then market data (`http`) or the order side: API key, signature over
//! `query ++ body`, timestamp window, order-count limit, the operation, and the reply with
//! Binance's headers, plus how an order's acknowledgement is delivered under the ack faults
//! (now, later, never, or with the connection cut). Never: writes to the socket.

use std::time::Duration;

use super::api::{self, Endpoint};
use super::auth::{check_signature, check_timing, rest_payload, Params};
use super::faults::Throttled;
use super::http::{self, Reply, RequestHead};
use super::limits::OverLimit;
use super::order_side::OrderSide;
use super::orders::Reject;

/// How the reply reaches the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Now,
    /// Held this long first (delayed ack).
    After(Duration),
    /// Never: the connection stays silent until the client gives up (lost ack).
    Never,
    /// The connection is cut without a reply (dropped mid-order).
    Cut,
}

/// A reply and how to deliver it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub reply: Reply,
    pub delivery: Delivery,
}

impl Answer {
    fn now(reply: Reply) -> Self {
        Self {
            reply,
            delivery: Delivery::Now,
        }
    }
}

/// Seconds until `until_ms`, rounded up, at least 1.
fn retry_after_secs(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(1_000).max(1)
}

/// The 429 / 418 reply of the throttle fault.
pub(crate) fn throttled_reject(throttled: Throttled) -> Reject {
    if throttled.status == 418 {
        Reject::new(
            -1003,
            format!(
                "Way too much request weight used; IP banned until {}. Please use WebSocket Streams for live updates to avoid bans.",
                throttled.until_ms
            ),
        )
    } else {
        Reject::new(
            -1003,
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        )
    }
}

/// HTTP status Binance answers a reject with.
pub(crate) fn status_of(reject: &Reject) -> u16 {
    match reject.code {
        -2014 | -2015 => 401,
        -1003 | -1015 => 429,
        _ => 400,
    }
}

fn reject_reply(reject: &Reject) -> Reply {
    Reply::error(status_of(reject), reject.code, &reject.msg)
}

fn over_limit_reply(over: &OverLimit, now_ms: u64) -> Reply {
    let mut reply = Reply::error(429, over.code, &over.msg);
    if let Some(at) = over.retry_at_ms {
        reply.headers.push((
            "Retry-After".to_owned(),
            retry_after_secs(at, now_ms).to_string(),
        ));
    }
    reply
}

/// Answers one REST request read at `read_ns` (monotonic) with `body`.
pub(crate) fn answer(venue: &OrderSide, head: &RequestHead, body: &str, read_ns: u64) -> Answer {
    let now = venue.now_ms();
    if let Some(throttled) = venue.faults.admit(now) {
        let mut reply = Reply::error(throttled.status, -1003, &throttled_reject(throttled).msg);
        reply.headers.push((
            "Retry-After".to_owned(),
            retry_after_secs(throttled.until_ms, now).to_string(),
        ));
        return Answer::now(reply);
    }
    let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let Some(endpoint) = Endpoint::rest(venue.market, &head.method, path) else {
        if Endpoint::serves_path(venue.market, path) {
            return Answer::now(Reply::error(405, -1, "Method not allowed."));
        }
        let weight = http::weight(&venue.state, &head.target);
        return Answer::now(match venue.limiter.use_weight(weight, now) {
            Ok(usage) => {
                let mut reply = http::answer(&venue.state, &head.method, &head.target, now);
                reply.headers = usage.headers();
                reply
            }
            Err(over) => over_limit_reply(&over, now),
        });
    };
    let params = Params::from_rest(query, body);
    let mut usage = match venue.limiter.use_weight(endpoint.weight(&params), now) {
        Ok(usage) => usage,
        Err(over) => return Answer::now(over_limit_reply(&over, now)),
    };
    if let Err(reject) = authenticate(venue, head, endpoint, query, body, &params, now) {
        let mut reply = reject_reply(&reject);
        reply.headers = usage.headers();
        return Answer::now(reply);
    }
    if endpoint.places_order() {
        venue.wire.order_read(read_ns);
        if let Err(over) = venue.limiter.count_order(&mut usage, now) {
            return Answer::now(over_limit_reply(&over, now));
        }
    }
    let force_partial = endpoint.places_order() && venue.faults.take_partial_fill();
    let mut reply = match api::execute(venue, endpoint, &params, force_partial) {
        Ok(body) => Reply::ok(body),
        Err(reject) => reject_reply(&reject),
    };
    reply.headers = usage.headers();
    Answer {
        reply,
        delivery: delivery(venue, endpoint),
    }
}

/// API key, then (signed endpoints) signature and timestamp window.
fn authenticate(
    venue: &OrderSide,
    head: &RequestHead,
    endpoint: Endpoint,
    query: &str,
    body: &str,
    params: &Params,
    now_ms: u64,
) -> Result<(), Reject> {
    let secret = venue.keys.secret(head.api_key.as_deref())?;
    if !endpoint.signed() {
        return Ok(());
    }
    check_signature(secret, &rest_payload(query, body), params.get("signature"))?;
    if venue.faults.take_timestamp_reject() {
        return Err(Reject::new(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    check_timing(params, now_ms)
}

/// How an acknowledgement goes out under the ack faults.
pub(crate) fn delivery(venue: &OrderSide, endpoint: Endpoint) -> Delivery {
    if !endpoint.acknowledges_order() {
        return Delivery::Now;
    }
    if endpoint.places_order() {
        if venue.faults.take_order_connection_drop() {
            return Delivery::Cut;
        }
        if venue.faults.take_lost_ack() {
            return Delivery::Never;
        }
    }
    match venue.faults.ack_delay() {
        delay if delay.is_zero() => Delivery::Now,
        delay => Delivery::After(delay),
    }
}
