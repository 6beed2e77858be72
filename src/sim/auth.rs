//! Owns: request parameters and their authentication as Binance checks them: form and query
//! decoding (the query string wins over the body), the API-key header, HMAC-SHA256
//! signatures over `query ++ body` (REST) or the alphabetically sorted params (WS API), and
//! the `timestamp`/`recvWindow` window against the simulator's clock, and Ed25519 signatures
//! (base64) against the public key registered for an API key. Never: logs a secret
//! or accepts a request whose signature it did not recompute.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::orders::Reject;

/// Largest `recvWindow` Binance accepts (ms).
const MAX_RECV_WINDOW_MS: f64 = 60_000.0;
/// Default `recvWindow` (ms).
const DEFAULT_RECV_WINDOW_MS: f64 = 5_000.0;
/// How far ahead of the server a timestamp may be (ms).
const AHEAD_TOLERANCE_MS: u64 = 1_000;

/// One API key the simulator accepts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The `X-MBX-APIKEY` / `apiKey` value.
    pub key: String,
    /// The HMAC secret.
    pub secret: String,
    /// The Ed25519 public key (64 hex digits) `session.logon` signatures are checked with;
    /// without one the key logs on HMAC-signed (see `ws_api`).
    #[serde(default)]
    pub ed25519_public_key: Option<String>,
}

/// A request's parameters, in the order they were sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Query-string parameters first, then body parameters not already in the query.
    pub fn from_rest(query: &str, body: &str) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for source in [query, body] {
            for pair in source.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let key = form_decode(key);
                if pairs.iter().all(|(k, _)| *k != key) {
                    pairs.push((key, form_decode(value)));
                }
            }
        }
        Self { pairs }
    }

    /// A WS API `params` object: strings as they are, numbers and booleans as their text.
    pub fn from_json(params: Option<&serde_json::Map<String, serde_json::Value>>) -> Self {
        let pairs = params
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| json_text(value).map(|text| (key.clone(), text)))
            .collect();
        Self { pairs }
    }

    /// The value of `name`, if sent and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` or Binance's -1102.
    pub fn required(&self, name: &str) -> Result<&str, Reject> {
        self.get(name).ok_or_else(|| {
            Reject::new(
                -1102,
                format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
            )
        })
    }

    /// Adds a parameter (the session's API key for logged-on WS API requests).
    pub fn insert(&mut self, name: &str, value: &str) {
        if self.get(name).is_none() {
            self.pairs.retain(|(k, _)| k != name);
            self.pairs.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// The text a WS API parameter is signed and read as.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Lower-case hex HMAC-SHA256 of `payload`.
pub(crate) fn sign(secret: &str, payload: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(payload);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `text` without its `signature=…` pair (and the `&` that joined it).
fn without_signature(text: &str) -> String {
    text.split('&')
        .filter(|pair| !pair.starts_with("signature="))
        .collect::<Vec<_>>()
        .join("&")
}

/// The bytes a REST request's signature covers: query and body concatenated as sent.
pub(crate) fn rest_payload(query: &str, body: &str) -> String {
    let mut payload = without_signature(query);
    payload.push_str(&without_signature(body));
    payload
}

/// The text a WS API signature covers: every parameter but `signature`, sorted by name.
pub(crate) fn ws_payload(params: &Params) -> String {
    let mut pairs: Vec<&(String, String)> = params
        .pairs
        .iter()
        .filter(|(k, _)| k != "signature")
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The keys the simulator accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Keys {
    keys: Vec<ApiKey>,
}

impl Keys {
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self { keys }
    }

    /// The secret of `api_key`, or -2014 (missing) / -2015 (unknown).
    pub fn secret(&self, api_key: Option<&str>) -> Result<&str, Reject> {
        let key = api_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Reject::new(-2014, "API-key format invalid."))?;
        self.keys
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.secret.as_str())
            .ok_or_else(|| Reject::new(-2015, "Invalid API-key, IP, or permissions for action."))
    }

    /// The Ed25519 public key registered for `api_key` (hex), if any.
    pub fn ed25519_public_key(&self, api_key: Option<&str>) -> Option<&str> {
        let api_key = api_key?;
        self.keys
            .iter()
            .find(|k| k.key == api_key)
            .and_then(|k| k.ed25519_public_key.as_deref())
    }
}

/// The `signature` sent, or Binance's -1102 for a missing one.
fn sent_signature(sent: Option<&str>) -> Result<&str, Reject> {
    sent.ok_or_else(|| {
        Reject::new(
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        )
    })
}

/// Bytes of an even-length hex text (`None` if it is not hex).
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(hex_value(pair[0])? * 16 + hex_value(pair[1])?))
        .collect()
}

/// Checks a base64 Ed25519 signature of `payload` against `public_key_hex`: -1102 when
/// none was sent, -1022 when it does not verify (or the registered key is malformed).
pub(crate) fn check_ed25519_signature(
    public_key_hex: &str,
    payload: &str,
    sent: Option<&str>,
) -> Result<(), Reject> {
    use base64::Engine;
    let sent = sent_signature(sent)?;
    let invalid = || Reject::new(-1022, "Signature for this request is not valid.");
    let public_key = unhex(public_key_hex).ok_or_else(invalid)?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(sent)
        .map_err(|_| invalid())?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(payload.as_bytes(), &signature)
        .map_err(|_| invalid())
}

/// Checks a signature against the one recomputed over `payload` (case-insensitive hex).
pub(crate) fn check_signature(
    secret: &str,
    payload: &str,
    sent: Option<&str>,
) -> Result<(), Reject> {
    let sent = sent_signature(sent)?;
    if sign(secret, payload.as_bytes()).eq_ignore_ascii_case(sent) {
        Ok(())
    } else {
        Err(Reject::new(
            -1022,
            "Signature for this request is not valid.",
        ))
    }
}

/// Checks `timestamp` (ms or µs) and `recvWindow` against the server clock `now_ms`.
pub(crate) fn check_timing(params: &Params, now_ms: u64) -> Result<(), Reject> {
    let text = params.required("timestamp")?;
    let mut timestamp: u64 = text.parse().map_err(|_| {
        Reject::new(
            -1100,
            "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.",
        )
    })?;
    // Microsecond timestamps have 16 digits.
    if timestamp > 10_000_000_000_000 {
        timestamp /= 1_000;
    }
    let window = match params.get("recvWindow") {
        None => DEFAULT_RECV_WINDOW_MS,
        Some(text) => text.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| {
            Reject::new(-1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}(\\.[0-9]{1,3})?$'.")
        })?,
    };
    if window > MAX_RECV_WINDOW_MS {
        return Err(Reject::new(-1131, "recvWindow must be less than 60000"));
    }
    if timestamp >= now_ms + AHEAD_TOLERANCE_MS {
        return Err(Reject::new(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if (now_ms.saturating_sub(timestamp)) as f64 > window {
        return Err(Reject::new(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

    #[test]
    fn rest_signatures_match_the_official_vectors_b1_b2_b3() {
        let b1 = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let signature = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        assert_eq!(sign(SECRET, b1.as_bytes()), signature);
        let signed_body = format!("{b1}&signature={}", signature.to_uppercase());
        let params = Params::from_rest("", &signed_body);
        assert_eq!(
            check_signature(
                SECRET,
                &rest_payload("", &signed_body),
                params.get("signature")
            ),
            Ok(())
        );
        let b2 = "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(SECRET, b2.as_bytes()),
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
        );
        assert_eq!(
            Params::from_rest(b2, "").get("symbol"),
            Some("１２３４５６")
        );
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
        let body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
        let params = Params::from_rest(query, body);
        assert_eq!(
            check_signature(SECRET, &rest_payload(query, body), params.get("signature")),
            Ok(())
        );
        let tampered = body.replace("quantity=1", "quantity=2");
        assert_eq!(
            check_signature(
                SECRET,
                &rest_payload(query, &tampered),
                params.get("signature")
            )
            .map_err(|r| r.code),
            Err(-1022)
        );
    }

    #[test]
    fn ws_api_signatures_sort_params_as_in_vectors_b4_and_b6() {
        let request: serde_json::Value = serde_json::json!({
            "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
            "price": "23416.10000000", "quantity": "0.00847000", "apiKey": API_KEY,
            "signature": "15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88",
            "timestamp": 1660801715431u64
        });
        let params = Params::from_json(request.as_object());
        assert_eq!(
            check_signature(SECRET, &ws_payload(&params), params.get("signature")),
            Ok(())
        );
        let b4: serde_json::Value = serde_json::json!({
            "apiKey": API_KEY, "price": "52000.00", "quantity": "0.01000000", "recvWindow": 100,
            "side": "SELL", "symbol": "BTCUSDT", "timeInForce": "GTC", "timestamp": 1645423376532u64,
            "type": "LIMIT"
        });
        let params = Params::from_json(b4.as_object());
        assert_eq!(
            sign(SECRET, ws_payload(&params).as_bytes()),
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
    }

    #[test]
    fn the_query_string_wins_and_timing_follows_the_recv_window() {
        let params = Params::from_rest("a=1&timestamp=1000", "a=2&b=%2B+x");
        assert_eq!((params.get("a"), params.get("b")), (Some("1"), Some("+ x")));
        assert_eq!(check_timing(&params, 5_000), Ok(()));
        assert_eq!(check_timing(&params, 6_001).map_err(|r| r.code), Err(-1021));
        assert_eq!(check_timing(&params, 0).map_err(|r| r.code), Err(-1021));
        let wide = Params::from_rest("timestamp=1000&recvWindow=60001", "");
        assert_eq!(check_timing(&wide, 1_000).map_err(|r| r.code), Err(-1131));
        let micro = Params::from_rest("timestamp=1000000000000000", "");
        assert_eq!(check_timing(&micro, 1_000_000_000_000), Ok(()));
        assert_eq!(
            Params::default().required("symbol").map_err(|r| r.code),
            Err(-1102)
        );
        let keys = Keys::new(vec![ApiKey {
            key: "k".into(),
            secret: "s".into(),
            ed25519_public_key: None,
        }]);
        assert_eq!(keys.secret(Some("k")), Ok("s"));
        assert_eq!(keys.secret(None).map_err(|r| r.code), Err(-2014));
        assert_eq!(keys.secret(Some("x")).map_err(|r| r.code), Err(-2015));
    }

    #[test]
    fn ed25519_logon_signatures_verify_against_the_registered_public_key() {
        // RFC 8032 test 1's key; the signature was made with `openssl pkeyutl -sign -rawin`.
        let public_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let payload = format!("apiKey={API_KEY}&timestamp=1649729878532");
        let signature = "763GJeFgG09B/06V/dq24cLu6f0R57whgDMyOCubDex4CTTElmDgPSIQqLdOsvW5TBxyaaFotVCI8tUmQMChAA==";
        assert_eq!(
            check_ed25519_signature(public_key, &payload, Some(signature)),
            Ok(())
        );
        let other_time = payload.replace("1649729878532", "1649729878533");
        assert_eq!(
            check_ed25519_signature(public_key, &other_time, Some(signature)).map_err(|r| r.code),
            Err(-1022)
        );
        let hmac = sign(SECRET, payload.as_bytes());
        assert_eq!(
            check_ed25519_signature(public_key, &payload, Some(&hmac)).map_err(|r| r.code),
            Err(-1022)
        );
        assert_eq!(
            check_ed25519_signature(public_key, &payload, None).map_err(|r| r.code),
            Err(-1102)
        );
    }
}
