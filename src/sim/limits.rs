//! Owns: one listener's request-weight and order-count limits as its exchangeInfo
//! announces them, counted in fixed windows of the simulator's clock, and how the usage is
//! reported (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`, the WS API `rateLimits`).
//! Never: sleeps or blocks a request; it only counts and refuses.

use std::sync::Mutex;

use crate::oms::binance::exchange_info::{
    parse_exchange_info, RateLimit, RateLimitInterval, RateLimitKind,
};

use super::json_out::array;

/// One counted limit and its current window.
#[derive(Clone, Debug)]
struct Counter {
    limit: RateLimit,
    window_start_ms: u64,
    count: u64,
}

impl Counter {
    fn roll(&mut self, now_ms: u64) {
        let window = self.limit.window_ms().max(1);
        let start = now_ms - now_ms % window;
        if start != self.window_start_ms {
            self.window_start_ms = start;
            self.count = 0;
        }
    }

    /// `1M`, `10S`, `1D`: the header suffix.
    fn label(&self) -> String {
        let letter = match self.limit.interval {
            RateLimitInterval::Second => 'S',
            RateLimitInterval::Minute => 'M',
            RateLimitInterval::Hour => 'H',
            RateLimitInterval::Day => 'D',
        };
        format!("{}{letter}", self.limit.interval_num)
    }

    fn interval_name(&self) -> &'static str {
        match self.limit.interval {
            RateLimitInterval::Second => "SECOND",
            RateLimitInterval::Minute => "MINUTE",
            RateLimitInterval::Hour => "HOUR",
            RateLimitInterval::Day => "DAY",
        }
    }
}

/// A request refused for breaking a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OverLimit {
    pub code: i32,
    pub msg: String,
    /// When the breached window ends (ms); `None` for order limits (no Retry-After).
    pub retry_at_ms: Option<u64>,
}

/// The weight and order counters of one listener.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    weights: Mutex<Vec<Counter>>,
    orders: Mutex<Vec<Counter>>,
    /// Refuse over-limit requests (else only count and report them).
    enforce: bool,
}

/// What a request used, for the reply's headers and `rateLimits`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Usage {
    /// (header label, limit description, used).
    weights: Vec<(String, RateLimitKind, String, u32, u64)>,
    orders: Vec<(String, RateLimitKind, String, u32, u64)>,
}

impl RateLimiter {
    /// The limits `exchange_info` announces (none when it announces none); `enforce`
    /// false only counts (for benchmarks that outrun Binance's order limits).
    pub fn new(exchange_info: &str, futures: bool, enforce: bool) -> Self {
        use crate::core::instrument::Market;
        let market = if futures {
            Market::UsdmFutures
        } else {
            Market::Spot
        };
        let limits = parse_exchange_info(exchange_info.as_bytes(), market)
            .map(|info| info.rate_limits)
            .unwrap_or_default();
        let counters = |kind: RateLimitKind| -> Vec<Counter> {
            limits
                .iter()
                .filter(|l| l.kind == kind)
                .map(|limit| Counter {
                    limit: limit.clone(),
                    window_start_ms: 0,
                    count: 0,
                })
                .collect()
        };
        Self {
            weights: Mutex::new(counters(RateLimitKind::RequestWeight)),
            orders: Mutex::new(counters(RateLimitKind::Orders)),
            enforce,
        }
    }

    /// Counts `weight`; refuses (429) once a weight window is over its limit.
    pub fn use_weight(&self, weight: u32, now_ms: u64) -> Result<Usage, OverLimit> {
        let mut usage = Usage::default();
        let Ok(mut counters) = self.weights.lock() else {
            return Ok(usage);
        };
        for counter in counters.iter_mut() {
            counter.roll(now_ms);
            counter.count += u64::from(weight);
            if self.enforce && counter.count > u64::from(counter.limit.limit) {
                return Err(OverLimit {
                    code: -1003,
                    msg: format!(
                        "Too much request weight used; current limit is {} request weight per {} {}. Please use WebSocket Streams for live updates to avoid polling the API.",
                        counter.limit.limit,
                        counter.limit.interval_num,
                        counter.interval_name()
                    ),
                    retry_at_ms: Some(counter.window_start_ms + counter.limit.window_ms()),
                });
            }
            usage.weights.push(snapshot(counter));
        }
        Ok(usage)
    }

    /// Counts one new order; refuses (429, -1015) once an order window is over its limit.
    pub fn count_order(&self, usage: &mut Usage, now_ms: u64) -> Result<(), OverLimit> {
        let Ok(mut counters) = self.orders.lock() else {
            return Ok(());
        };
        for counter in counters.iter_mut() {
            counter.roll(now_ms);
            counter.count += 1;
            if self.enforce && counter.count > u64::from(counter.limit.limit) {
                return Err(OverLimit {
                    code: -1015,
                    msg: format!(
                        "Too many new orders; current limit is {} orders per {} {}.",
                        counter.limit.limit,
                        counter.limit.interval_num,
                        counter.interval_name()
                    ),
                    retry_at_ms: None,
                });
            }
            usage.orders.push(snapshot(counter));
        }
        Ok(())
    }
}

fn snapshot(counter: &Counter) -> (String, RateLimitKind, String, u32, u64) {
    (
        counter.label(),
        counter.limit.kind.clone(),
        counter.interval_name().to_owned(),
        counter.limit.limit,
        counter.count,
    )
}

impl Usage {
    /// `X-MBX-USED-WEIGHT-<n><unit>` and, for orders, `X-MBX-ORDER-COUNT-<n><unit>`.
    pub fn headers(&self) -> Vec<(String, String)> {
        let weights = self
            .weights
            .iter()
            .map(|(label, _, _, _, used)| (format!("X-MBX-USED-WEIGHT-{label}"), used.to_string()));
        let orders = self
            .orders
            .iter()
            .map(|(label, _, _, _, used)| (format!("X-MBX-ORDER-COUNT-{label}"), used.to_string()));
        weights.chain(orders).collect()
    }

    /// The WS API `rateLimits` array.
    pub fn rate_limits_json(&self) -> String {
        array(|a| {
            for (label, kind, interval, limit, count) in self.weights.iter().chain(&self.orders) {
                let kind = match kind {
                    RateLimitKind::RequestWeight => "REQUEST_WEIGHT",
                    RateLimitKind::Orders => "ORDERS",
                    RateLimitKind::RawRequests => "RAW_REQUESTS",
                    RateLimitKind::Other(name) => name.as_str(),
                };
                let interval_num = label.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                a.obj(|o| {
                    o.str("rateLimitType", kind)
                        .str("interval", interval)
                        .uint("intervalNum", interval_num.parse().unwrap_or(1))
                        .uint("limit", u64::from(*limit))
                        .uint("count", *count);
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = r#"{"rateLimits":[
        {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":10},
        {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":2},
        {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000}],
        "symbols":[]}"#;

    #[test]
    fn windows_count_report_and_refuse_then_roll_over() {
        let limiter = RateLimiter::new(INFO, false, true);
        let mut usage = limiter.use_weight(4, 60_500).expect("under the limit");
        limiter
            .count_order(&mut usage, 60_500)
            .expect("first order");
        assert_eq!(
            usage.headers(),
            vec![
                ("X-MBX-USED-WEIGHT-1M".to_owned(), "4".to_owned()),
                ("X-MBX-ORDER-COUNT-10S".to_owned(), "1".to_owned()),
                ("X-MBX-ORDER-COUNT-1D".to_owned(), "1".to_owned()),
            ]
        );
        let json: serde_json::Value =
            serde_json::from_str(&usage.rate_limits_json()).expect("valid");
        assert_eq!(json[1]["intervalNum"], 10);
        assert_eq!(json[0]["rateLimitType"], "REQUEST_WEIGHT");
        let over = limiter.use_weight(7, 61_000).expect_err("11 > 10");
        assert_eq!((over.code, over.retry_at_ms), (-1003, Some(120_000)));
        assert!(limiter.use_weight(1, 120_000).is_ok(), "a new minute");
        let mut usage = Usage::default();
        limiter
            .count_order(&mut usage, 62_000)
            .expect("second order");
        let refused = limiter
            .count_order(&mut usage, 62_001)
            .expect_err("third in 10 s");
        assert_eq!((refused.code, refused.retry_at_ms), (-1015, None));
    }
}
