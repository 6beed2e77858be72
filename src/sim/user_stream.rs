//! Owns: who receives user-data events and how they are written: spot WS API subscriptions
//! (`{"subscriptionId":N,"event":{…}}`), margin listenTokens (issued by
//! `POST /sapi/v1/userListenToken`, valid until their `expirationTime`) and the WS API
//! subscriptions made with them, the futures listenKey (create, keep alive, close, expiry)
//! and its `/private/ws/<listenKey>` connections, and turning the venue's events into
//! Binance's event JSON, and the private stream connection itself. Never: waits on a slow
//! subscriber (a full queue ends it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam::channel::{Sender, TrySendError};
use mio::Waker;

use super::config::Market;
use super::conn::Rewind;
use super::exchange::{generated_id, Exchange};
use super::order_side::OrderSide;
use super::orders::{AccountKind, UserEvent};
use super::session::{self, Handler, Link, Outgoing, SessionContext};
use super::shapes_futures::{self, FuturesDecimals};
use super::shapes_spot::{self, SpotDecimals};

/// Where a subscriber's events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A spot WS API subscription on one connection.
    Spot { subscription_id: u64 },
    /// A margin (cross) WS API subscription made with a listenToken.
    Margin { subscription_id: u64 },
    /// A futures `/private/ws/<listenKey>` connection.
    Futures { listen_key: String },
}

/// One connection receiving events.
pub(crate) struct Subscriber {
    pub target: Target,
    pub queue: Sender<Arc<str>>,
    pub waker: Arc<Waker>,
    pub alive: Arc<AtomicBool>,
}

impl Subscriber {
    /// A subscription for `target` fed through the connection behind `link`.
    pub fn of(target: Target, link: &Link) -> Self {
        Self {
            target,
            queue: link.events.clone(),
            waker: Arc::clone(&link.waker),
            alive: Arc::clone(&link.alive),
        }
    }
}

/// The futures account's listenKey.
#[derive(Clone, Debug)]
struct ListenKey {
    key: String,
    expires_ms: u64,
}

/// A margin listenToken.
#[derive(Clone, Debug)]
struct ListenToken {
    token: String,
    expires_ms: u64,
}

/// Every user-data subscriber of one market, the futures listenKey and the margin
/// listenTokens.
pub(crate) struct UserStreams {
    subscribers: Mutex<Vec<Subscriber>>,
    listen_key: Mutex<Option<ListenKey>>,
    listen_tokens: Mutex<Vec<ListenToken>>,
    key_seed: AtomicU64,
    validity_ms: u64,
    /// Events dropped because a subscriber's queue was full (the subscriber is ended).
    pub overflowed: AtomicU64,
}

impl UserStreams {
    /// No subscriber yet; a listenKey lives `validity_ms` after its last keepalive.
    pub fn new(validity_ms: u64) -> Self {
        Self {
            subscribers: Mutex::new(Vec::new()),
            listen_key: Mutex::new(None),
            listen_tokens: Mutex::new(Vec::new()),
            key_seed: AtomicU64::new(1),
            validity_ms,
            overflowed: AtomicU64::new(0),
        }
    }

    /// Adds a subscriber.
    pub fn subscribe(&self, subscriber: Subscriber) {
        if let Ok(mut subscribers) = self.subscribers.lock() {
            subscribers.retain(|s| s.alive.load(Ordering::Acquire));
            subscribers.push(subscriber);
        }
    }

    /// Removes the spot subscriptions of one connection (by its `alive` flag), or one of them.
    pub fn unsubscribe(&self, alive: &Arc<AtomicBool>, subscription_id: Option<u64>) {
        if let Ok(mut subscribers) = self.subscribers.lock() {
            subscribers.retain(|s| {
                let same_connection = Arc::ptr_eq(&s.alive, alive);
                let same_id = match (&s.target, subscription_id) {
                    (_, None) => true,
                    (
                        Target::Spot {
                            subscription_id: id,
                        }
                        | Target::Margin {
                            subscription_id: id,
                        },
                        Some(wanted),
                    ) => *id == wanted,
                    (Target::Futures { .. }, Some(_)) => false,
                };
                !(same_connection && same_id)
            });
        }
    }

    /// Sends each event to the subscribers of its account.
    pub fn dispatch(&self, events: &[UserEvent], exchange: &Exchange) {
        if events.is_empty() {
            return;
        }
        let Ok(mut subscribers) = self.subscribers.lock() else {
            return;
        };
        subscribers.retain(|s| s.alive.load(Ordering::Acquire));
        if subscribers.is_empty() {
            return;
        }
        for event in events {
            let account = event.account();
            for text in format_event(event, exchange) {
                for subscriber in subscribers.iter() {
                    let wanted = matches!(
                        (&subscriber.target, account),
                        (Target::Spot { .. }, AccountKind::Spot)
                            | (Target::Margin { .. }, AccountKind::Margin)
                            | (Target::Futures { .. }, AccountKind::Futures)
                    );
                    if !wanted {
                        continue;
                    }
                    let frame: Arc<str> = match &subscriber.target {
                        Target::Spot { subscription_id } | Target::Margin { subscription_id } => {
                            format!("{{\"subscriptionId\":{subscription_id},\"event\":{text}}}")
                                .into()
                        }
                        Target::Futures { .. } => text.as_str().into(),
                    };
                    match subscriber.queue.try_send(frame) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            self.overflowed.fetch_add(1, Ordering::AcqRel);
                            subscriber.alive.store(false, Ordering::Release);
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            subscriber.alive.store(false, Ordering::Release);
                        }
                    }
                    // A waker that fails belongs to a connection already going away.
                    let _ = subscriber.waker.wake();
                }
            }
        }
    }

    /// `POST /sapi/v1/userListenToken`: a new token valid for `validity_ms`; returns it and
    /// its `expirationTime`. Tokens issued earlier stay valid until they expire.
    pub fn create_listen_token(&self, now_ms: u64, validity_ms: u64) -> (String, u64) {
        let seed = self.key_seed.fetch_add(1, Ordering::AcqRel);
        let token = listen_token_text(seed);
        let expires_ms = now_ms.saturating_add(validity_ms);
        if let Ok(mut tokens) = self.listen_tokens.lock() {
            tokens.retain(|t| t.expires_ms > now_ms);
            tokens.push(ListenToken {
                token: token.clone(),
                expires_ms,
            });
        }
        (token, expires_ms)
    }

    /// The `expirationTime` of `token` if it is a live listenToken.
    pub fn listen_token_expiry(&self, token: &str, now_ms: u64) -> Option<u64> {
        let tokens = self.listen_tokens.lock().ok()?;
        tokens
            .iter()
            .find(|t| t.token == token && t.expires_ms > now_ms)
            .map(|t| t.expires_ms)
    }

    /// Makes every listenToken expire now: their subscriptions get `eventStreamTerminated`.
    pub fn expire_listen_tokens(&self) {
        if let Ok(mut tokens) = self.listen_tokens.lock() {
            for token in tokens.iter_mut() {
                token.expires_ms = 0;
            }
        }
    }

    /// `POST /fapi/v1/listenKey`: the active key (extended), or a new one.
    pub fn start_listen_key(&self, now_ms: u64) -> String {
        let Ok(mut slot) = self.listen_key.lock() else {
            return String::new();
        };
        match slot.as_mut() {
            Some(key) if key.expires_ms > now_ms => {
                key.expires_ms = now_ms + self.validity_ms;
                key.key.clone()
            }
            _ => {
                let seed = self.key_seed.fetch_add(1, Ordering::AcqRel);
                let key: String = (0..3)
                    .map(|i| generated_id(seed * 7 + i))
                    .collect::<String>();
                let key: String = key.chars().take(64).collect();
                *slot = Some(ListenKey {
                    key: key.clone(),
                    expires_ms: now_ms + self.validity_ms,
                });
                key
            }
        }
    }

    /// `PUT /fapi/v1/listenKey`: extends the active key; `None` when there is none.
    pub fn keep_alive(&self, now_ms: u64) -> Option<String> {
        let mut slot = self.listen_key.lock().ok()?;
        let key = slot.as_mut().filter(|k| k.expires_ms > now_ms)?;
        key.expires_ms = now_ms + self.validity_ms;
        Some(key.key.clone())
    }

    /// `DELETE /fapi/v1/listenKey`: closes the active key.
    pub fn close_listen_key(&self) {
        if let Ok(mut slot) = self.listen_key.lock() {
            *slot = None;
        }
    }

    /// Whether `key` is the active, unexpired listenKey.
    pub fn key_valid(&self, key: &str, now_ms: u64) -> bool {
        self.listen_key.lock().is_ok_and(|slot| {
            slot.as_ref()
                .is_some_and(|k| k.key == key && k.expires_ms > now_ms)
        })
    }

    /// Makes the active listenKey expire now (its streams get `listenKeyExpired`).
    pub fn expire_listen_key(&self) {
        if let Ok(mut slot) = self.listen_key.lock() {
            if let Some(key) = slot.as_mut() {
                key.expires_ms = 0;
            }
        }
    }
}

/// A listenToken's text: 70 base64 characters, like Binance's
/// (`6xXxePXwZRjVSHKhzUCCGnmN3fkvMTXru+pYJS8RwijXk9Vcyr3rkwfVOTcP2OkONqciYA`).
fn listen_token_text(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..4)
        .flat_map(|round| generated_id(seed.wrapping_mul(31).wrapping_add(round)).into_bytes())
        .enumerate()
        .take(70)
        .map(|(i, b)| ALPHABET[(usize::from(b) + i) % ALPHABET.len()] as char)
        .collect()
}

/// The `eventStreamTerminated` event that ends subscription `subscription_id`.
pub(crate) fn stream_terminated(subscription_id: u64, now_ms: u64) -> String {
    format!(
        "{{\"subscriptionId\":{subscription_id},\"event\":{}}}",
        shapes_spot::event_stream_terminated(now_ms)
    )
}

/// The wire JSON of one event: spot and margin events are the same (margin's go to the
/// listenToken subscriptions); futures fills come as `TRADE_LITE` then
/// `ORDER_TRADE_UPDATE`.
pub(crate) fn format_event(event: &UserEvent, exchange: &Exchange) -> Vec<String> {
    let spot_decimals = |symbol: &str| {
        exchange
            .rules(symbol)
            .map(|r| SpotDecimals::of(&r.instrument))
            .unwrap_or(SpotDecimals { price: 8, qty: 8 })
    };
    match event {
        UserEvent::Order {
            order,
            exec,
            fill,
            cancel_client_id,
            time_ms,
        } => match order.account {
            AccountKind::Spot | AccountKind::Margin => vec![shapes_spot::execution_report(
                order,
                *exec,
                fill.as_ref(),
                cancel_client_id.as_deref(),
                spot_decimals(&order.symbol),
                *time_ms,
            )],
            AccountKind::Futures => {
                let mut out = Vec::with_capacity(2);
                if let Some(fill) = fill {
                    out.push(shapes_futures::trade_lite(order, fill, *time_ms));
                }
                out.push(shapes_futures::order_trade_update(
                    order,
                    *exec,
                    fill.as_ref(),
                    *time_ms,
                ));
                out
            }
        },
        UserEvent::List {
            list,
            legs,
            time_ms,
        } => {
            vec![shapes_spot::list_status(list, legs, *time_ms)]
        }
        UserEvent::Balances {
            account: AccountKind::Spot | AccountKind::Margin,
            balances,
            time_ms,
        } => vec![shapes_spot::account_position(balances, *time_ms)],
        UserEvent::Balances { .. } => Vec::new(),
        UserEvent::BalanceDelta {
            asset,
            delta,
            time_ms,
        } => vec![shapes_spot::balance_update(asset, *delta, *time_ms)],
        UserEvent::FuturesAccount {
            reason,
            balances,
            positions,
            time_ms,
        } => vec![shapes_futures::account_update(
            reason, balances, positions, *time_ms,
        )],
        UserEvent::Algo { algo, time_ms } => {
            let actual = algo.actual_order_id.and_then(|id| exchange.order(id));
            vec![shapes_futures::algo_update(algo, actual.as_ref(), *time_ms)]
        }
    }
}

/// Decimals by symbol for futures formatting.
pub(crate) fn futures_decimals(exchange: &Exchange) -> impl Fn(&str) -> FuturesDecimals + '_ {
    move |symbol| {
        exchange
            .rules(symbol)
            .map(|r| FuturesDecimals::of(&r.instrument))
            .unwrap_or(FuturesDecimals { price: 2, qty: 3 })
    }
}

/// Decimals by symbol for spot formatting.
pub(crate) fn spot_decimals(exchange: &Exchange) -> impl Fn(&str) -> SpotDecimals + '_ {
    move |symbol| {
        exchange
            .rules(symbol)
            .map(|r| SpotDecimals::of(&r.instrument))
            .unwrap_or(SpotDecimals { price: 8, qty: 8 })
    }
}

/// A futures `/private/ws/<listenKey>` connection: events only; `listenKeyExpired` then
/// close once the key expires.
struct PrivateStream {
    venue: Arc<OrderSide>,
    listen_key: String,
    expired: bool,
}

/// The listenKey of a futures private stream path (`/private/ws/<key>`, or legacy
/// `/private/stream?listenKey=<key>`), if the path is one.
pub(crate) fn private_listen_key(market: Market, target: &str) -> Option<String> {
    if market != Market::UsdmFutures {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(key) = path.strip_prefix("/private/ws/") {
        return Some(key.to_owned());
    }
    if path == "/private/stream" {
        return query
            .split('&')
            .find_map(|pair| pair.strip_prefix("listenKey="))
            .map(str::to_owned);
    }
    None
}

/// Serves a futures private stream; an unknown or expired key was refused before upgrade.
pub(crate) fn serve_private(
    stream: Rewind,
    listen_key: String,
    venue: Arc<OrderSide>,
    ctx: &SessionContext<'_>,
) {
    let mut handler = PrivateStream {
        venue,
        listen_key,
        expired: false,
    };
    session::run(stream, ctx, &mut handler);
}

impl Handler for PrivateStream {
    fn on_open(&mut self, link: &Link) {
        let target = Target::Futures {
            listen_key: self.listen_key.clone(),
        };
        self.venue.users.subscribe(Subscriber::of(target, link));
    }

    fn on_text(&mut self, _text: &str, _read_ns: u64, _link: &Link) -> Vec<Outgoing> {
        Vec::new()
    }

    fn on_tick(&mut self) -> (Vec<String>, bool) {
        let now = self.venue.now_ms();
        if self.expired || self.venue.users.key_valid(&self.listen_key, now) {
            return (Vec::new(), false);
        }
        self.expired = true;
        (
            vec![shapes_futures::listen_key_expired(&self.listen_key, now)],
            true,
        )
    }

    fn on_close(&mut self, link: &Link) {
        self.venue.users.unsubscribe(&link.alive, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_tokens_are_base64_live_until_their_expiry_and_can_be_expired_at_once() {
        let streams = UserStreams::new(1_000);
        let (first, expires) = streams.create_listen_token(10, 5_000);
        assert_eq!(expires, 5_010);
        assert_eq!(first.len(), 70);
        assert!(first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
        let (second, _) = streams.create_listen_token(20, 86_400_000);
        assert_ne!(first, second);
        assert_eq!(streams.listen_token_expiry(&first, 5_009), Some(5_010));
        assert_eq!(streams.listen_token_expiry(&first, 5_010), None);
        assert_eq!(streams.listen_token_expiry("unknown", 11), None);
        assert!(streams.listen_token_expiry(&second, 5_010).is_some());
        streams.expire_listen_tokens();
        assert_eq!(streams.listen_token_expiry(&second, 21), None);
        assert_eq!(
            stream_terminated(7, 99),
            r#"{"subscriptionId":7,"event":{"e":"eventStreamTerminated","E":99}}"#
        );
    }

    #[test]
    fn a_listen_key_is_reused_while_valid_and_expires_after_its_validity() {
        let streams = UserStreams::new(1_000);
        let key = streams.start_listen_key(10);
        assert_eq!(key.len(), 64);
        assert_eq!(streams.start_listen_key(500), key);
        assert!(streams.key_valid(&key, 1_499));
        assert_eq!(streams.keep_alive(1_400), Some(key.clone()));
        assert!(streams.key_valid(&key, 2_399));
        assert!(!streams.key_valid(&key, 2_400));
        assert_eq!(streams.keep_alive(2_400), None);
        let fresh = streams.start_listen_key(2_500);
        assert_ne!(fresh, key);
        streams.expire_listen_key();
        assert!(!streams.key_valid(&fresh, 2_501));
        streams.close_listen_key();
        assert_eq!(streams.keep_alive(0), None);
    }
}
