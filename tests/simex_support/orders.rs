//! Order-side clients for the `simex_orders_*` tests: HMAC signing (REST: the bytes as
//! sent; WS API: the sorted params), a ureq REST client trusting the simulator's
//! certificate, a WS API caller that keeps the user-data events it reads on the way, and
//! the real payloads in `../shared/data/real/nautilus/binance` to compare shapes with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use kestrel::sim::{Market, SimexHandle, DOCS_API_KEY, DOCS_API_SECRET};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use tungstenite::{Message, WebSocket};

use super::{ws_connect, ClientStream, TIMEOUT};

pub const API_KEY: &str = DOCS_API_KEY;

/// Lower-case hex HMAC-SHA256 with the docs secret.
pub fn hmac_hex(payload: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(DOCS_API_SECRET.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Request parameters from literal pairs.
pub fn params(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// `k=v&…` in the given order.
pub fn query(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A REST reply.
#[derive(Debug)]
pub struct RestReply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl RestReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Binance's error code, if the body is an error.
    pub fn code(&self) -> Option<i64> {
        self.body.get("code").and_then(Value::as_i64)
    }
}

/// A keep-alive REST client for one market of a running simulator.
pub struct Rest {
    agent: ureq::Agent,
    base: String,
    market: Market,
}

impl Rest {
    pub fn new(handle: &SimexHandle, market: Market) -> Self {
        Self::with_timeout(handle, market, TIMEOUT)
    }

    /// A client that gives up on a reply after `timeout`.
    pub fn with_timeout(handle: &SimexHandle, market: Market, timeout: Duration) -> Self {
        let addr = handle.addr(market).expect("market served");
        let mut tls = ureq::tls::TlsConfig::builder();
        let scheme = match handle.cert_der() {
            Some(der) => {
                let cert = ureq::tls::Certificate::from_der(der).to_owned();
                tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])));
                "https"
            }
            None => "http",
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .tls_config(tls.build())
            .build()
            .into();
        Self {
            agent,
            base: format!("{scheme}://localhost:{}", addr.port()),
            market,
        }
    }

    /// Sends `method path` with `query` (and `body` for POST/PUT forms) and the API key.
    pub fn send(&self, method: &str, path: &str, query_text: &str, body: &str) -> RestReply {
        self.send_with_key(method, path, query_text, body, Some(API_KEY))
    }

    /// Like [`send`](Self::send) with any (or no) `X-MBX-APIKEY`.
    pub fn send_with_key(
        &self,
        method: &str,
        path: &str,
        query_text: &str,
        body: &str,
        key: Option<&str>,
    ) -> RestReply {
        let url = if query_text.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query_text}", self.base)
        };
        let key = key.unwrap_or("");
        let result = match method {
            "GET" if key.is_empty() => self.agent.get(&url).call(),
            "GET" => self.agent.get(&url).header("X-MBX-APIKEY", key).call(),
            "DELETE" => self.agent.delete(&url).header("X-MBX-APIKEY", key).call(),
            "POST" if key.is_empty() => self
                .agent
                .post(&url)
                .content_type("application/x-www-form-urlencoded")
                .send(body),
            "POST" => self
                .agent
                .post(&url)
                .header("X-MBX-APIKEY", key)
                .content_type("application/x-www-form-urlencoded")
                .send(body),
            "PUT" => self
                .agent
                .put(&url)
                .header("X-MBX-APIKEY", key)
                .content_type("application/x-www-form-urlencoded")
                .send(body),
            other => panic!("no {other} in these tests"),
        };
        let mut response =
            result.unwrap_or_else(|e| panic!("the simulator answers {method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = response.body_mut().read_to_string().expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        RestReply {
            status,
            body,
            text,
            headers,
        }
    }

    /// A signed POST whose reply may never come: `Err` with ureq's error then.
    pub fn try_signed_post(
        &self,
        handle: &SimexHandle,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<RestReply, ureq::Error> {
        let now = handle.server_time_ms(self.market).expect("market served");
        let mut all: Vec<(&str, String)> = params.to_vec();
        all.push(("timestamp", now.to_string()));
        let unsigned = query(&all);
        let body = format!("{unsigned}&signature={}", hmac_hex(&unsigned));
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("X-MBX-APIKEY", API_KEY)
            .content_type("application/x-www-form-urlencoded")
            .send(&body)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        Ok(RestReply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers: Vec::new(),
        })
    }

    /// A signed request: `params` plus `timestamp` (the simulator's clock) and `signature`
    /// in the query string (POSTs send them as the body instead).
    pub fn signed(
        &self,
        handle: &SimexHandle,
        method: &str,
        path: &str,
        params: &[(&str, String)],
    ) -> RestReply {
        let now = handle.server_time_ms(self.market).expect("market served");
        let mut all: Vec<(&str, String)> = params.to_vec();
        all.push(("timestamp", now.to_string()));
        let unsigned = query(&all);
        let signed = format!("{unsigned}&signature={}", hmac_hex(&unsigned));
        if method == "POST" {
            self.send(method, path, "", &signed)
        } else {
            self.send(method, path, &signed, "")
        }
    }
}

/// A filled-or-refused BUY at market of `qty` BTCUSDT on `path` (`/api/v3/order` or
/// `/sapi/v1/margin/order`), under `client_id` when given; asserts the venue took it.
pub fn market_buy(
    rest: &Rest,
    handle: &SimexHandle,
    path: &str,
    qty: &str,
    client_id: Option<&str>,
) -> RestReply {
    let mut pairs = params(&[
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", qty),
    ]);
    if let Some(id) = client_id {
        pairs.push(("newClientOrderId", id.to_owned()));
    }
    let reply = rest.signed(handle, "POST", path, &pairs);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply
}

/// A WS API connection with the user-data events seen while waiting for replies.
pub struct WsApi {
    pub ws: WebSocket<ClientStream>,
    pub events: Vec<Value>,
    next_id: u64,
    market: Market,
}

impl WsApi {
    pub fn connect(handle: &SimexHandle, market: Market) -> Self {
        let path = match market {
            Market::Spot => "/ws-api/v3",
            Market::UsdmFutures => "/ws-fapi/v1",
        };
        Self::connect_path(handle, market, path)
    }

    /// Connects to `path` (a WS API path with its query).
    pub fn connect_path(handle: &SimexHandle, market: Market, path: &str) -> Self {
        Self {
            ws: ws_connect(handle, market, path),
            events: Vec::new(),
            next_id: 1,
            market,
        }
    }

    /// Sends a request; signed ones get `apiKey`, `timestamp` and the sorted-params
    /// signature. Returns the request id.
    pub fn send(
        &mut self,
        handle: &SimexHandle,
        method: &str,
        params: Value,
        signed: bool,
    ) -> String {
        let id = format!("req-{}", self.next_id);
        self.next_id += 1;
        let mut params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
        if signed {
            let now = handle.server_time_ms(self.market).expect("market served");
            params.insert("apiKey".into(), json!(API_KEY));
            params.insert("timestamp".into(), json!(now));
            let mut pairs: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            pairs.sort();
            let payload = pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            params.insert("signature".into(), json!(hmac_hex(&payload)));
        }
        let request = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(request.to_string()))
            .expect("request sent");
        id
    }

    /// Reads frames until the reply to `id` arrives; events read meanwhile are kept.
    pub fn reply(&mut self, id: &str) -> Value {
        loop {
            let frame = self.next_frame();
            if frame.get("id").and_then(Value::as_str) == Some(id) {
                return frame;
            }
            self.events.push(frame);
        }
    }

    /// Sends and waits for the reply.
    pub fn call(
        &mut self,
        handle: &SimexHandle,
        method: &str,
        params: Value,
        signed: bool,
    ) -> Value {
        let id = self.send(handle, method, params, signed);
        self.reply(&id)
    }

    /// The next text frame as JSON.
    pub fn next_frame(&mut self) -> Value {
        loop {
            match self.ws.read().expect("frame before the timeout") {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("the simulator sends JSON")
                }
                Message::Close(frame) => panic!("closed by simex: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Reads until `events` holds an event matching `wanted`, or `deadline` passes.
    pub fn wait_event(
        &mut self,
        wanted: impl Fn(&Value) -> bool,
        deadline: Duration,
    ) -> Option<Value> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(found) = self.events.iter().find(|e| wanted(e)) {
                return Some(found.clone());
            }
            if Instant::now() >= until {
                return None;
            }
            let frame = self.next_frame();
            self.events.push(frame);
        }
    }
}

/// The nautilus folder of real Binance payloads, or `None` after printing why the test skips.
pub fn nautilus_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/nautilus/binance");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP {test}: real payloads not found at {}", dir.display());
        None
    }
}

/// A nautilus payload.
pub fn nautilus(dir: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(rel)).expect("the README lists this payload");
    serde_json::from_str(&text).expect("payloads are JSON")
}

/// Every key path of `value` (`a`, `a.b`, `list[].c`).
pub fn key_paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(path.clone());
                    walk(v, &path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// Asserts every key path of the real payload appears in ours (`ours` may add fields the
/// venue added since), except the `allowed_missing` ones.
pub fn assert_shape(ours: &Value, real: &Value, allowed_missing: &[&str], what: &str) {
    let ours_keys = key_paths(ours);
    let missing: Vec<String> = key_paths(real)
        .into_iter()
        .filter(|k| !ours_keys.contains(k) && !allowed_missing.contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: missing real keys {missing:?} in {ours}"
    );
}

/// A decimal text field as an exact quantity.
pub fn dec(value: &Value) -> kestrel::core::Qty {
    let text = value.as_str().expect("a decimal text field");
    kestrel::core::Qty::parse(text).expect("decimal text")
}

/// An exact quantity from a literal.
pub fn q(text: &str) -> kestrel::core::Qty {
    kestrel::core::Qty::parse(text).expect("test literal")
}

/// (event ms, price) of every trade in a bundled capture recorded after `after_ms`.
pub fn trades_after(capture: &str, after_ms: u64) -> Vec<(u64, kestrel::core::Price)> {
    super::expected(capture, &["btcusdt@trade"])
        .into_iter()
        .filter_map(|(_, data)| {
            let v: Value = serde_json::from_str(&data).ok()?;
            let at = v["E"].as_u64()?;
            let price = kestrel::core::Price::parse(v["p"].as_str()?).ok()?;
            (at > after_ms).then_some((at, price))
        })
        .collect()
}

/// Best bid and ask of the simulator's book now (from its REST depth).
pub fn top_of_book(rest: &Rest, path: &str) -> (kestrel::core::Price, kestrel::core::Price) {
    let depth = rest.send("GET", path, "symbol=BTCUSDT&limit=5", "");
    let price = |side: &str| {
        kestrel::core::Price::parse(depth.body[side][0][0].as_str().expect("a level"))
            .expect("price text")
    };
    (price("bids"), price("asks"))
}
