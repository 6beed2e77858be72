//! Owns: the WebSocket API of a listener (`/ws-api/v3` spot, `/ws-fapi/v1` futures): request
//! envelopes `{"id","method","params"}`, session logon, user-data subscriptions on the
//! connection (spot's, and margin's `userDataStream.subscribe.listenToken`, ended with
//! `eventStreamTerminated` when its token expires), the order operations with the WS API's
//! sorted-params signature, and replies `{"id","status","result"|"error","rateLimits"}`
//! under the throttle and ack faults.
//! Never: formats an operation's result (the shared `api` layer does).
//!
//! A margin subscription follows Binance's margin trade data stream page (2025-10): the
//! token is checked (-1209 when unknown or expired), the reply is
//! `{"subscriptionId","expirationTime"}`, and subscribing again on the same connection with
//! a newer token extends the subscription (same id) instead of opening a second one.
//!
//! `session.logon` follows Binance's session authentication page: for an API key with an
//! Ed25519 public key registered, the signature must be that key's (base64 Ed25519 over the
//! sorted params), else -1022; afterwards requests on the connection may omit `apiKey` and
//! `signature` but still carry `timestamp`. Binance takes only Ed25519 keys for the logon;
//! the error it answers for an HMAC key is not documented (protocols.md, the docs corpus),
//! so the simulator still logs on an API key that has no Ed25519 key registered with an
//! HMAC signature rather than invent a code.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::api::{self, Endpoint};
use super::auth::{check_ed25519_signature, check_signature, check_timing, ws_payload, Params};
use super::config::Market;
use super::json_out::object;
use super::limits::Usage;
use super::order_side::OrderSide;
use super::orders::Reject;
use super::orders_http::{delivery, status_of, throttled_reject, Delivery};
use super::session::{self, Handler, Link, Outgoing, SessionContext};
use super::user_stream::{stream_terminated, Subscriber, Target};

/// The WS API paths: spot `/ws-api/v3`, futures `/ws-fapi/v1`.
pub(crate) fn serves(market: Market, path: &str) -> bool {
    matches!(
        (market, path),
        (Market::Spot, "/ws-api/v3") | (Market::UsdmFutures, "/ws-fapi/v1")
    )
}

/// Subscription ids are unique per simulator, like Binance's per-connection counters
/// seen from one client.
static NEXT_SUBSCRIPTION_ID: AtomicU64 = AtomicU64::new(0);

/// One WS API connection's state.
struct WsApi {
    venue: Arc<OrderSide>,
    /// The API key of a `session.logon`.
    logged_on: Option<String>,
    return_rate_limits: bool,
    connected_ms: u64,
    subscriptions: Vec<u64>,
    /// The margin subscription of this connection, with its token.
    margin: Option<MarginSubscription>,
}

/// A margin user-data subscription: its id, the token it was made (or last extended)
/// with, and the connection's liveness flag (to unsubscribe it).
struct MarginSubscription {
    subscription_id: u64,
    token: String,
    alive: Arc<AtomicBool>,
}

/// Serves one upgraded WS API connection; `query` is the upgrade URL's query string.
pub(crate) fn serve(
    stream: super::conn::Rewind,
    query: &str,
    venue: Arc<OrderSide>,
    ctx: &SessionContext<'_>,
) {
    let return_rate_limits = !query.split('&').any(|p| p == "returnRateLimits=false");
    let mut handler = WsApi {
        connected_ms: venue.now_ms(),
        venue,
        logged_on: None,
        return_rate_limits,
        subscriptions: Vec::new(),
        margin: None,
    };
    session::run(stream, ctx, &mut handler);
}

/// The reply envelope.
fn reply(
    id: &Value,
    status: u16,
    body: Result<&str, &Reject>,
    rate_limits: Option<&str>,
    retry_after_ms: Option<u64>,
    server_ms: u64,
) -> String {
    object(|o| {
        o.raw("id", &id.to_string())
            .uint("status", u64::from(status));
        match body {
            Ok(result) => {
                o.raw("result", result);
            }
            Err(reject) => {
                o.obj("error", |e| {
                    e.int("code", i64::from(reject.code))
                        .str("msg", &reject.msg);
                    if let Some(retry_at) = retry_after_ms {
                        e.obj("data", |d| {
                            d.uint("serverTime", server_ms).uint("retryAfter", retry_at);
                        });
                    }
                });
            }
        }
        if let Some(limits) = rate_limits {
            o.raw("rateLimits", limits);
        }
    })
}

impl WsApi {
    fn rate_limits(&self, usage: &Usage, params: &Params) -> Option<String> {
        let wanted = self.return_rate_limits && params.get("returnRateLimits") != Some("false");
        wanted.then(|| usage.rate_limits_json())
    }

    /// API key and signature: from the params, or the session's logon.
    fn authenticate(&self, params: &mut Params, signed: bool, now_ms: u64) -> Result<(), Reject> {
        let venue = &self.venue;
        let session = params.get("signature").is_none() && self.logged_on.is_some();
        if let (true, Some(key)) = (session, &self.logged_on) {
            params.insert("apiKey", key);
            if !signed {
                return Ok(());
            }
        } else {
            let secret = venue.keys.secret(params.get("apiKey"))?;
            if !signed {
                return Ok(());
            }
            check_signature(secret, &ws_payload(params), params.get("signature"))?;
        }
        self.check_signed_timing(params, now_ms)
    }

    /// `session.logon`: the Ed25519 signature of the key's registered public key (an API
    /// key without one logs on HMAC-signed, see the module doc).
    fn logon(&mut self, params: &mut Params, now_ms: u64) -> Result<String, Reject> {
        let venue = Arc::clone(&self.venue);
        let secret = venue.keys.secret(params.get("apiKey"))?;
        match venue.keys.ed25519_public_key(params.get("apiKey")) {
            Some(public_key) => {
                check_ed25519_signature(public_key, &ws_payload(params), params.get("signature"))?
            }
            None => check_signature(secret, &ws_payload(params), params.get("signature"))?,
        }
        self.check_signed_timing(params, now_ms)?;
        self.logged_on = params.get("apiKey").map(str::to_owned);
        venue.ws_order_auth.logons.fetch_add(1, Ordering::AcqRel);
        Ok(self.session_status(now_ms))
    }

    /// The `timestamp` window of a signed request, and the -1021 fault.
    fn check_signed_timing(&self, params: &Params, now_ms: u64) -> Result<(), Reject> {
        if self.venue.faults.take_timestamp_reject() {
            return Err(Reject::new(
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            ));
        }
        check_timing(params, now_ms)
    }

    /// `userDataStream.subscribe.listenToken`: subscribes the margin account, or extends this
    /// connection's margin subscription to a newer token's expiry.
    fn subscribe_listen_token(
        &mut self,
        params: &Params,
        link: &Link,
        now_ms: u64,
    ) -> Result<String, Reject> {
        let token = params.required("listenToken")?;
        let expires_ms = self
            .venue
            .users
            .listen_token_expiry(token, now_ms)
            .ok_or_else(|| Reject::new(-1209, "Invalid listenToken."))?;
        let subscription_id = match &mut self.margin {
            Some(current) => {
                current.token = token.to_owned();
                current.subscription_id
            }
            None => {
                let subscription_id = NEXT_SUBSCRIPTION_ID.fetch_add(1, Ordering::AcqRel);
                self.venue
                    .users
                    .subscribe(Subscriber::of(Target::Margin { subscription_id }, link));
                self.margin = Some(MarginSubscription {
                    subscription_id,
                    token: token.to_owned(),
                    alive: Arc::clone(&link.alive),
                });
                subscription_id
            }
        };
        Ok(object(|o| {
            o.uint("subscriptionId", subscription_id)
                .uint("expirationTime", expires_ms);
        }))
    }

    fn subscribe(&mut self, link: &Link) -> String {
        let subscription_id = NEXT_SUBSCRIPTION_ID.fetch_add(1, Ordering::AcqRel);
        self.venue
            .users
            .subscribe(Subscriber::of(Target::Spot { subscription_id }, link));
        self.subscriptions.push(subscription_id);
        format!("{{\"subscriptionId\":{subscription_id}}}")
    }

    /// The session and user-data methods; `None` for the order operations.
    fn session_method(
        &mut self,
        method: &str,
        params: &mut Params,
        link: &Link,
        now_ms: u64,
    ) -> Option<Result<String, Reject>> {
        let spot = self.venue.market == Market::Spot;
        Some(match method {
            "session.logon" => self.logon(params, now_ms),
            "session.status" => Ok(self.session_status(now_ms)),
            "session.logout" => {
                self.logged_on = None;
                Ok(self.session_status(now_ms))
            }
            "userDataStream.subscribe" if spot => match &self.logged_on {
                Some(_) => Ok(self.subscribe(link)),
                None => Err(Reject::new(
                    -2015,
                    "Invalid API-key, IP, or permissions for action.",
                )),
            },
            "userDataStream.subscribe.signature" if spot => self
                .authenticate(params, true, now_ms)
                .map(|()| self.subscribe(link)),
            "userDataStream.subscribe.listenToken" if spot => {
                self.subscribe_listen_token(params, link, now_ms)
            }
            "userDataStream.unsubscribe" if spot => {
                let wanted = params.get("subscriptionId").and_then(|id| id.parse().ok());
                self.venue.users.unsubscribe(&link.alive, wanted);
                self.subscriptions
                    .retain(|id| wanted.is_some_and(|w| w != *id));
                Ok("{}".to_owned())
            }
            _ => return None,
        })
    }

    fn session_status(&self, now_ms: u64) -> String {
        object(|o| {
            match &self.logged_on {
                Some(key) => o.str("apiKey", key),
                None => o.null("apiKey"),
            };
            match self.logged_on {
                Some(_) => o.uint("authorizedSince", self.connected_ms),
                None => o.null("authorizedSince"),
            };
            o.uint("connectedSince", self.connected_ms)
                .bool("returnRateLimits", self.return_rate_limits)
                .uint("serverTime", now_ms)
                .bool("userDataStream", !self.subscriptions.is_empty());
        })
    }
}

impl Handler for WsApi {
    fn on_text(&mut self, text: &str, read_ns: u64, link: &Link) -> Vec<Outgoing> {
        let venue = Arc::clone(&self.venue);
        let now = venue.now_ms();
        let request: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => {
                let reject = Reject::new(-1135, "Invalid JSON Request");
                return vec![Outgoing::Now(reply(
                    &Value::Null,
                    400,
                    Err(&reject),
                    None,
                    None,
                    now,
                ))];
            }
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        // "v3/order.place" names the same method.
        let method = match method.split_once('/') {
            Some((version, rest)) if version.starts_with('v') => rest,
            _ => method,
        };
        let mut params = Params::from_json(request.get("params").and_then(Value::as_object));
        if let Some(throttled) = venue.faults.admit(now) {
            let reject = throttled_reject(throttled);
            let frame = reply(
                &id,
                throttled.status,
                Err(&reject),
                None,
                Some(throttled.until_ms),
                now,
            );
            return vec![Outgoing::Now(frame)];
        }
        if let Some(result) = self.session_method(method, &mut params, link, now) {
            let usage = venue.limiter.use_weight(2, now).unwrap_or_default();
            let limits = self.rate_limits(&usage, &params);
            let status = result.as_ref().map_or_else(status_of, |_| 200);
            let frame = reply(&id, status, result.as_deref(), limits.as_deref(), None, now);
            return vec![Outgoing::Now(frame)];
        }
        let Some(endpoint) = Endpoint::ws(venue.market, method) else {
            let reject = Reject::new(-1020, "This operation is not supported.");
            return vec![Outgoing::Now(reply(
                &id,
                400,
                Err(&reject),
                None,
                None,
                now,
            ))];
        };
        let mut usage = match venue.limiter.use_weight(endpoint.weight(&params), now) {
            Ok(usage) => usage,
            Err(over) => {
                let reject = Reject::new(over.code, over.msg);
                return vec![Outgoing::Now(reply(
                    &id,
                    429,
                    Err(&reject),
                    None,
                    over.retry_at_ms,
                    now,
                ))];
            }
        };
        let by_session = params.get("signature").is_none() && self.logged_on.is_some();
        if let Err(reject) = self.authenticate(&mut params, endpoint.signed(), now) {
            let limits = self.rate_limits(&usage, &params);
            let frame = reply(
                &id,
                status_of(&reject),
                Err(&reject),
                limits.as_deref(),
                None,
                now,
            );
            return vec![Outgoing::Now(frame)];
        }
        if endpoint.places_order() {
            venue.wire.order_read(read_ns);
            let auth = &venue.ws_order_auth;
            let count = if by_session {
                &auth.session
            } else {
                &auth.signed
            };
            count.fetch_add(1, Ordering::AcqRel);
            if let Err(over) = venue.limiter.count_order(&mut usage, now) {
                let reject = Reject::new(over.code, over.msg);
                return vec![Outgoing::Now(reply(
                    &id,
                    429,
                    Err(&reject),
                    None,
                    None,
                    now,
                ))];
            }
        }
        let force_partial = endpoint.places_order() && venue.faults.take_partial_fill();
        let result = api::execute(&venue, endpoint, &params, force_partial);
        let limits = self.rate_limits(&usage, &params);
        let status = result.as_ref().map_or_else(status_of, |_| 200);
        let frame = reply(&id, status, result.as_deref(), limits.as_deref(), None, now);
        match delivery(&venue, endpoint) {
            Delivery::Now => vec![Outgoing::Now(frame)],
            Delivery::After(delay) => vec![Outgoing::At(Instant::now() + delay, frame)],
            Delivery::Never => Vec::new(),
            Delivery::Cut => vec![Outgoing::Cut],
        }
    }

    fn on_tick(&mut self) -> (Vec<String>, bool) {
        let now = self.venue.now_ms();
        let expired = self.margin.as_ref().is_some_and(|margin| {
            self.venue
                .users
                .listen_token_expiry(&margin.token, now)
                .is_none()
        });
        if !expired {
            return (Vec::new(), false);
        }
        let Some(margin) = self.margin.take() else {
            return (Vec::new(), false);
        };
        // The subscription ends; the connection stays open for other requests.
        self.venue
            .users
            .unsubscribe(&margin.alive, Some(margin.subscription_id));
        (vec![stream_terminated(margin.subscription_id, now)], false)
    }

    fn on_close(&mut self, link: &Link) {
        self.venue.users.unsubscribe(&link.alive, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_the_id_status_and_either_a_result_or_an_error_with_retry_data() {
        let ok = reply(
            &Value::from("a-1"),
            200,
            Ok("{\"x\":1}"),
            Some("[]"),
            None,
            5,
        );
        assert_eq!(
            ok,
            r#"{"id":"a-1","status":200,"result":{"x":1},"rateLimits":[]}"#
        );
        let reject = Reject::new(-1003, "slow down");
        let err = reply(&Value::from(7), 429, Err(&reject), None, Some(1_000), 5);
        assert_eq!(
            err,
            r#"{"id":7,"status":429,"error":{"code":-1003,"msg":"slow down","data":{"serverTime":5,"retryAfter":1000}}}"#
        );
        assert!(serves(Market::Spot, "/ws-api/v3") && !serves(Market::Spot, "/ws-fapi/v1"));
    }
}
