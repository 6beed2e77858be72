//! Owns: the Binance request-weight and order-count budget: local windows from
//! `exchangeInfo.rateLimits` (or config), resynced to the `X-MBX-USED-WEIGHT-*` /
//! `X-MBX-ORDER-COUNT-*` headers and WebSocket API `rateLimits` arrays, 429 back-off and
//! 418 bans. Never: reads the clock or sleeps (time is passed in), or allocates per request.
//!
//! Binance counts per fixed interval (the minute, the 10 s slot, the UTC day), so each local
//! bucket refills at the same boundaries (epoch-aligned windows). The venue's own counts are
//! authoritative but lag requests still in flight, so a reported count only ever raises the
//! local one within a window: the tracker errs towards waiting, never towards a 429.

use serde::Deserialize;

use super::exchange_info::{RateLimit, RateLimitInterval, RateLimitKind};
use super::request::RequestCost;
use crate::oms::venue::{RejectKind, VenueReject};

/// Most windows tracked (Binance announces 3–5).
const MAX_WINDOWS: usize = 8;

/// Wait after a 429 that named no `Retry-After`.
const DEFAULT_BACKOFF_MS: u64 = 1_000;

/// What a window counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LimitKind {
    /// `REQUEST_WEIGHT` (per IP).
    Weight,
    /// `ORDERS` (per account).
    Orders,
    /// `RAW_REQUESTS` (per IP).
    RawRequests,
}

/// One local budget: at most `limit` per `window_ms`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LimitWindow {
    pub kind: LimitKind,
    pub window_ms: u64,
    pub limit: u32,
    used: u32,
    window_index: u64,
}

/// Why a request must wait.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Throttle {
    /// A local window is full until `retry_at_ms`.
    Window {
        kind: LimitKind,
        window_ms: u64,
        retry_at_ms: u64,
    },
    /// The venue answered 429: back off until `retry_at_ms`.
    BackingOff { retry_at_ms: u64 },
    /// The venue answered 418: banned until `retry_at_ms`.
    Banned { retry_at_ms: u64 },
}

impl Throttle {
    /// When the request may go.
    pub const fn retry_at_ms(&self) -> u64 {
        match *self {
            Throttle::Window { retry_at_ms, .. }
            | Throttle::BackingOff { retry_at_ms }
            | Throttle::Banned { retry_at_ms } => retry_at_ms,
        }
    }

    /// The local refusal as a venue-neutral reject (code 429 or 418 as the venue would say).
    pub fn to_reject(&self, now_ms: u64) -> VenueReject {
        let (kind, code) = match self {
            Throttle::Banned { .. } => (RejectKind::Banned, 418),
            Throttle::Window { .. } | Throttle::BackingOff { .. } => (RejectKind::RateLimited, 429),
        };
        VenueReject {
            kind,
            code,
            retry_after_ms: self.retry_at_ms().saturating_sub(now_ms),
        }
    }
}

/// One entry of a WebSocket API `rateLimits` array.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsRateLimit {
    #[serde(deserialize_with = "limit_kind")]
    pub rate_limit_type: Option<LimitKind>,
    #[serde(deserialize_with = "interval_ms")]
    pub interval: u64,
    pub interval_num: u64,
    pub limit: u64,
    pub count: u64,
}

fn limit_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<LimitKind>, D::Error> {
    let text: &str = Deserialize::deserialize(d)?;
    Ok(match text {
        "REQUEST_WEIGHT" => Some(LimitKind::Weight),
        "ORDERS" => Some(LimitKind::Orders),
        "RAW_REQUESTS" => Some(LimitKind::RawRequests),
        _ => None,
    })
}

fn interval_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text: &str = Deserialize::deserialize(d)?;
    interval_unit_ms(text.as_bytes())
        .ok_or_else(|| serde::de::Error::custom(format_args!("unknown interval {text:?}")))
}

fn interval_unit_ms(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"SECOND" | b"S" | b"s" => 1_000,
        b"MINUTE" | b"M" | b"m" => 60_000,
        b"HOUR" | b"H" | b"h" => 3_600_000,
        b"DAY" | b"D" | b"d" => 86_400_000,
        _ => return None,
    })
}

/// Why a rate-limit header could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum HeaderError {
    /// The interval suffix (`1M`, `10S`) is not `<digits><S|M|H|D>`.
    #[error("rate-limit header interval is not <number><S|M|H|D>")]
    BadInterval,
    /// The value is not a non-negative integer.
    #[error("rate-limit header value is not an integer")]
    BadValue,
}

/// The request budget of one venue link.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    windows: [Option<LimitWindow>; MAX_WINDOWS],
    backoff_until_ms: u64,
    banned_until_ms: u64,
}

impl RateLimiter {
    /// Windows from the announced limits (the first eight; connection limits are skipped).
    pub fn new(limits: &[RateLimit]) -> Self {
        let mut windows = [None; MAX_WINDOWS];
        let usable = limits.iter().filter_map(|limit| {
            let kind = match limit.kind {
                RateLimitKind::RequestWeight => LimitKind::Weight,
                RateLimitKind::Orders => LimitKind::Orders,
                RateLimitKind::RawRequests => LimitKind::RawRequests,
                RateLimitKind::Other(_) => return None,
            };
            Some(LimitWindow {
                kind,
                window_ms: limit.window_ms().max(1),
                limit: limit.limit,
                used: 0,
                window_index: 0,
            })
        });
        for (slot, window) in windows.iter_mut().zip(usable) {
            *slot = Some(window);
        }
        Self {
            windows,
            backoff_until_ms: 0,
            banned_until_ms: 0,
        }
    }

    /// The spot WebSocket API documented defaults (6000 weight/min, 50 orders/10 s,
    /// 160000 orders/day), for use before `exchangeInfo` arrives.
    pub fn spot_defaults() -> Self {
        let limit = |kind, interval, interval_num, limit| RateLimit {
            kind,
            interval,
            interval_num,
            limit,
        };
        Self::new(&[
            limit(
                RateLimitKind::RequestWeight,
                RateLimitInterval::Minute,
                1,
                6_000,
            ),
            limit(RateLimitKind::Orders, RateLimitInterval::Second, 10, 50),
            limit(RateLimitKind::Orders, RateLimitInterval::Day, 1, 160_000),
        ])
    }

    /// The windows tracked.
    pub fn windows(&self) -> impl Iterator<Item = &LimitWindow> {
        self.windows.iter().flatten()
    }

    /// Used count of the window `kind`/`window_ms` at `now_ms` (0 when untracked or new).
    pub fn used(&self, kind: LimitKind, window_ms: u64, now_ms: u64) -> u32 {
        self.windows()
            .find(|w| w.kind == kind && w.window_ms == window_ms)
            .filter(|w| w.window_index == now_ms / w.window_ms)
            .map_or(0, |w| w.used)
    }

    /// Takes `cost` from every window if all have room; otherwise says until when to wait.
    pub fn try_acquire(&mut self, cost: RequestCost, now_ms: u64) -> Result<(), Throttle> {
        if now_ms < self.banned_until_ms {
            return Err(Throttle::Banned {
                retry_at_ms: self.banned_until_ms,
            });
        }
        if now_ms < self.backoff_until_ms {
            return Err(Throttle::BackingOff {
                retry_at_ms: self.backoff_until_ms,
            });
        }
        for window in self.windows.iter_mut().flatten() {
            window.roll(now_ms);
            let need = window.cost_of(cost);
            if need > 0 && window.used.saturating_add(need) > window.limit {
                return Err(Throttle::Window {
                    kind: window.kind,
                    window_ms: window.window_ms,
                    retry_at_ms: (window.window_index + 1) * window.window_ms,
                });
            }
        }
        for window in self.windows.iter_mut().flatten() {
            window.used = window.used.saturating_add(window.cost_of(cost));
        }
        Ok(())
    }

    /// One response header; names other than `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*`
    /// (any case) are ignored. Returns whether the header was a rate-limit header.
    pub fn on_header(&mut self, name: &str, value: &str, now_ms: u64) -> Result<bool, HeaderError> {
        let upper = |prefix: &str| {
            name.len() > prefix.len()
                && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        };
        let (kind, interval) = if upper("X-MBX-USED-WEIGHT-") {
            (LimitKind::Weight, &name["X-MBX-USED-WEIGHT-".len()..])
        } else if upper("X-MBX-ORDER-COUNT-") {
            (LimitKind::Orders, &name["X-MBX-ORDER-COUNT-".len()..])
        } else {
            return Ok(false);
        };
        let split = interval
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(HeaderError::BadInterval)?;
        let count: u64 = interval[..split]
            .parse()
            .map_err(|_| HeaderError::BadInterval)?;
        let unit_ms =
            interval_unit_ms(&interval.as_bytes()[split..]).ok_or(HeaderError::BadInterval)?;
        let used: u64 = value.trim().parse().map_err(|_| HeaderError::BadValue)?;
        self.on_venue_count(kind, count.saturating_mul(unit_ms), used, now_ms);
        Ok(true)
    }

    /// The `rateLimits` array of a WebSocket API response.
    pub fn on_ws_rate_limits(&mut self, limits: &[WsRateLimit], now_ms: u64) {
        for limit in limits {
            if let Some(kind) = limit.rate_limit_type {
                let window_ms = limit.interval.saturating_mul(limit.interval_num);
                self.on_venue_count(kind, window_ms, limit.count, now_ms);
            }
        }
    }

    fn on_venue_count(&mut self, kind: LimitKind, window_ms: u64, used: u64, now_ms: u64) {
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        for window in self.windows.iter_mut().flatten() {
            if window.kind == kind && window.window_ms == window_ms {
                window.roll(now_ms);
                window.used = window.used.max(used);
            }
        }
    }

    /// HTTP 429 (or WebSocket API status 429): wait `retry_after_ms` from `now_ms`
    /// (`None`: the venue named no wait).
    pub fn on_too_many_requests(&mut self, retry_after_ms: Option<u64>, now_ms: u64) {
        let until = now_ms.saturating_add(retry_after_ms.unwrap_or(DEFAULT_BACKOFF_MS));
        self.backoff_until_ms = self.backoff_until_ms.max(until);
    }

    /// HTTP 418 (or WebSocket API status 418): banned for `retry_after_ms` from `now_ms`.
    pub fn on_banned(&mut self, retry_after_ms: Option<u64>, now_ms: u64) {
        // Bans last from 2 minutes to 3 days; without a stated end assume the shortest.
        let until = now_ms.saturating_add(retry_after_ms.unwrap_or(120_000));
        self.banned_until_ms = self.banned_until_ms.max(until);
    }

    /// The end of a ban in force at `now_ms`.
    pub fn banned_until(&self, now_ms: u64) -> Option<u64> {
        (now_ms < self.banned_until_ms).then_some(self.banned_until_ms)
    }
}

impl LimitWindow {
    fn roll(&mut self, now_ms: u64) {
        let index = now_ms / self.window_ms;
        if index != self.window_index {
            self.window_index = index;
            self.used = 0;
        }
    }

    fn cost_of(&self, cost: RequestCost) -> u32 {
        match self.kind {
            LimitKind::Weight => cost.weight,
            LimitKind::Orders => cost.orders,
            LimitKind::RawRequests => 1,
        }
    }
}

/// REST `Retry-After` (seconds) in ms.
pub fn retry_after_header_ms(value: &str) -> Option<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1_000))
}

/// WebSocket API `error.data.retryAfter` (an epoch-ms time, not a duration) as a wait from `now_ms`.
pub fn retry_after_epoch_ms(retry_after_epoch_ms: u64, now_ms: u64) -> u64 {
    retry_after_epoch_ms.saturating_sub(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn order() -> RequestCost {
        RequestCost {
            weight: 1,
            orders: 1,
        }
    }

    #[test]
    fn order_window_fills_and_refills_at_the_interval_boundary() {
        let mut limiter = RateLimiter::spot_defaults();
        let start = 1_700_000_000_000; // a 10 s boundary
        for i in 0..50 {
            limiter
                .try_acquire(order(), start + i)
                .expect("within 50 per 10 s");
        }
        let throttle = limiter
            .try_acquire(order(), start + 60)
            .expect_err("51st order");
        assert_eq!(
            throttle,
            Throttle::Window {
                kind: LimitKind::Orders,
                window_ms: 10_000,
                retry_at_ms: start + 10_000
            }
        );
        assert_eq!(throttle.to_reject(start + 60).retry_after_ms, 9_940);
        let query = RequestCost {
            weight: 4,
            orders: 0,
        };
        limiter
            .try_acquire(query, start + 61)
            .expect("queries do not count as orders");
        limiter
            .try_acquire(order(), start + 10_000)
            .expect("new 10 s window");
        assert_eq!(limiter.used(LimitKind::Weight, MINUTE, start + 10_000), 55);
    }

    #[test]
    fn headers_raise_local_counts_and_unknown_headers_are_ignored() {
        let mut limiter = RateLimiter::spot_defaults();
        let now = 1_700_000_000_000;
        limiter
            .try_acquire(
                RequestCost {
                    weight: 20,
                    orders: 0,
                },
                now,
            )
            .expect("room");
        assert_eq!(
            limiter.on_header("x-mbx-used-weight-1m", "5990", now),
            Ok(true)
        );
        assert_eq!(limiter.used(LimitKind::Weight, MINUTE, now), 5_990);
        assert_eq!(
            limiter.on_header("X-MBX-USED-WEIGHT-1M", "10", now),
            Ok(true)
        );
        assert_eq!(
            limiter.used(LimitKind::Weight, MINUTE, now),
            5_990,
            "a lagging report never lowers the count"
        );
        assert!(limiter
            .try_acquire(
                RequestCost {
                    weight: 20,
                    orders: 0
                },
                now
            )
            .is_err());
        assert_eq!(
            limiter.on_header("X-MBX-ORDER-COUNT-10S", "50", now),
            Ok(true)
        );
        assert!(matches!(
            limiter.try_acquire(order(), now),
            Err(Throttle::Window {
                kind: LimitKind::Orders,
                window_ms: 10_000,
                ..
            })
        ));
        assert_eq!(
            limiter.on_header("Content-Type", "application/json", now),
            Ok(false)
        );
        assert_eq!(
            limiter.on_header("X-MBX-USED-WEIGHT-1Q", "1", now),
            Err(HeaderError::BadInterval)
        );
        assert_eq!(
            limiter.on_header("X-MBX-ORDER-COUNT-1D", "many", now),
            Err(HeaderError::BadValue)
        );
    }

    #[test]
    fn ws_api_rate_limits_array_updates_matching_windows() {
        let mut limiter = RateLimiter::spot_defaults();
        let now = 1_700_000_000_000;
        let array: Vec<WsRateLimit> = serde_json::from_str(
            r#"[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":50},
                {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":12},
                {"rateLimitType":"CONNECTIONS","interval":"MINUTE","intervalNum":5,"limit":300,"count":1}]"#,
        )
        .expect("documented shape");
        limiter.on_ws_rate_limits(&array, now);
        assert_eq!(limiter.used(LimitKind::Weight, MINUTE, now), 12);
        assert!(matches!(
            limiter.try_acquire(order(), now),
            Err(Throttle::Window {
                window_ms: 10_000,
                ..
            })
        ));
        let bad: Result<Vec<WsRateLimit>, _> = serde_json::from_str(
            r#"[{"rateLimitType":"ORDERS","interval":"FORTNIGHT","intervalNum":1,"limit":1,"count":1}]"#,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn too_many_requests_backs_off_and_418_bans_until_expiry() {
        let mut limiter = RateLimiter::spot_defaults();
        let now = 1_000_000;
        limiter.on_too_many_requests(retry_after_header_ms("3"), now);
        assert_eq!(
            limiter.try_acquire(order(), now + 2_999),
            Err(Throttle::BackingOff {
                retry_at_ms: now + 3_000
            })
        );
        limiter
            .try_acquire(order(), now + 3_000)
            .expect("back-off over");

        let ban_end = now + 7_200_000;
        limiter.on_banned(Some(retry_after_epoch_ms(ban_end, now)), now);
        assert_eq!(limiter.banned_until(now + 1), Some(ban_end));
        let refused = limiter
            .try_acquire(order(), ban_end - 1)
            .expect_err("banned");
        let reject = refused.to_reject(ban_end - 1_000);
        assert_eq!(
            (reject.kind, reject.code, reject.retry_after_ms),
            (RejectKind::Banned, 418, 1_000)
        );
        limiter.try_acquire(order(), ban_end).expect("ban expired");
        assert_eq!(limiter.banned_until(ban_end), None);
    }
}
