//! Owns: stream-name normalisation, splitting a stream list across connections, combined-stream
//! URLs, SUBSCRIBE/UNSUBSCRIBE messages and parsed `ws://`/`wss://` endpoints. Never: opens a
//! socket or resolves a name outside `WsEndpoint::resolve` (a cold, blocking call).

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};

use super::WsError;

/// A parsed `ws://` or `wss://` base URL with the address to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsEndpoint {
    /// The base URL as configured, e.g. `wss://stream.binance.com:9443/stream`.
    pub url: String,
    /// Host name for SNI and the `Host` header.
    pub host: String,
    /// Port from the URL (default 80 / 443).
    pub port: u16,
    /// True for `wss://`.
    pub tls: bool,
    /// The socket address to connect to.
    pub addr: SocketAddr,
}

/// The parts of a URL that matter before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// Host name (brackets stripped from IPv6 literals).
    pub host: String,
    /// Explicit or default port.
    pub port: u16,
    /// True for `wss://`.
    pub tls: bool,
}

/// Splits a `ws://` / `wss://` URL into host, port and scheme.
pub fn parse_url(url: &str) -> Result<ParsedUrl, WsError> {
    let bad = |reason: &'static str| WsError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("ws://") {
        (false, rest)
    } else {
        return Err(bad("scheme must be ws:// or wss://"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("missing host or userinfo present"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed IPv6 bracket"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("port is not a number"))?,
        None if tls => 443,
        None => 80,
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    Ok(ParsedUrl {
        host: host.to_owned(),
        port,
        tls,
    })
}

impl WsEndpoint {
    /// An endpoint for `url` that connects to `addr` (no name resolution).
    pub fn with_addr(url: &str, addr: SocketAddr) -> Result<Self, WsError> {
        let parsed = parse_url(url)?;
        Ok(Self {
            url: url.to_owned(),
            host: parsed.host,
            port: parsed.port,
            tls: parsed.tls,
            addr,
        })
    }

    /// Parses `url` and resolves its host (blocking DNS: call at start-up, off the hot path).
    /// Prefers an IPv4 address when the name has both families.
    pub fn resolve(url: &str) -> Result<Self, WsError> {
        let parsed = parse_url(url)?;
        let addrs: Vec<SocketAddr> = (parsed.host.as_str(), parsed.port)
            .to_socket_addrs()
            .map_err(|source| WsError::Resolve {
                url: url.to_owned(),
                source,
            })?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| WsError::BadUrl {
                url: url.to_owned(),
                reason: "host resolved to no address",
            })?;
        Self::with_addr(url, addr)
    }
}

/// A stream name as Binance expects it: trimmed, with a lower-case symbol part.
pub fn normalize_stream(name: &str) -> String {
    // Binance wants the symbol part lower-case, but the stream type keeps its case
    // (`btcusdt@bookTicker`, `btcusdt@aggTrade`, `btcusdt@kline_1m`).
    let name = name.trim();
    match name.split_once('@') {
        Some((symbol, rest)) => format!("{}@{rest}", symbol.to_ascii_lowercase()),
        None => name.to_ascii_lowercase(),
    }
}

/// Normalises, de-duplicates (first occurrence wins) and splits streams into groups of at most
/// `max_per_connection`.
pub fn split_streams<S: AsRef<str>>(streams: &[S], max_per_connection: usize) -> Vec<Vec<String>> {
    let max = max_per_connection.max(1);
    let mut seen = std::collections::HashSet::with_capacity(streams.len());
    let mut groups: Vec<Vec<String>> = Vec::new();
    for s in streams {
        let name = normalize_stream(s.as_ref());
        if name.is_empty() || !seen.insert(name.clone()) {
            continue;
        }
        match groups.last_mut() {
            Some(g) if g.len() < max => g.push(name),
            _ => groups.push(vec![name]),
        }
    }
    groups
}

/// `<base>?streams=a/b/c` (or `<base>` alone when `streams` is empty); symbol parts are lower-cased.
pub fn combined_stream_url<S: AsRef<str>>(base: &str, streams: &[S]) -> String {
    let mut url = String::with_capacity(base.len() + 9 + streams.len() * 24);
    url.push_str(base);
    for (i, s) in streams.iter().enumerate() {
        url.push_str(if i == 0 { "?streams=" } else { "/" });
        url.push_str(&normalize_stream(s.as_ref()));
    }
    url
}

/// Whether a control message adds or removes streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlMethod {
    /// `SUBSCRIBE`.
    Subscribe,
    /// `UNSUBSCRIBE`.
    Unsubscribe,
}

/// `{"method":"SUBSCRIBE","params":["a","b"],"id":7}`.
pub fn control_message<S: AsRef<str>>(method: ControlMethod, streams: &[S], id: u64) -> String {
    let mut msg = String::with_capacity(48 + streams.len() * 26);
    msg.push_str(match method {
        ControlMethod::Subscribe => r#"{"method":"SUBSCRIBE","params":["#,
        ControlMethod::Unsubscribe => r#"{"method":"UNSUBSCRIBE","params":["#,
    });
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            msg.push(',');
        }
        msg.push('"');
        // Stream names are `[a-z0-9@_.!-]`; anything JSON-special is dropped rather than escaped.
        msg.extend(
            normalize_stream(s.as_ref())
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && !c.is_control()),
        );
        msg.push('"');
    }
    let _ = write!(msg, r#"],"id":{id}}}"#);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_within_the_limit_and_drops_duplicates() {
        let streams = [
            "BTCUSDT@trade",
            "ethusdt@trade",
            "btcusdt@trade",
            "a@x",
            "b@x",
        ];
        let g = split_streams(&streams, 2);
        assert_eq!(
            g,
            vec![
                vec!["btcusdt@trade".to_owned(), "ethusdt@trade".to_owned()],
                vec!["a@x".to_owned(), "b@x".to_owned()],
            ]
        );
        let many: Vec<String> = (0..2500).map(|i| format!("s{i}@depth")).collect();
        let g = split_streams(&many, 1024);
        assert_eq!(
            g.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1024, 1024, 452]
        );
        assert!(split_streams::<&str>(&[], 10).is_empty());
    }

    #[test]
    fn combined_url_lower_cases_symbols_keeps_stream_types_and_uses_slashes() {
        let url = combined_stream_url(
            "wss://x:9443/stream",
            &["BTCUSDT@bookTicker", "ethusdt@trade"],
        );
        assert_eq!(
            url,
            "wss://x:9443/stream?streams=btcusdt@bookTicker/ethusdt@trade"
        );
        assert_eq!(
            combined_stream_url::<&str>("ws://h/stream", &[]),
            "ws://h/stream"
        );
    }

    #[test]
    fn control_messages_are_binance_json() {
        let m = control_message(ControlMethod::Subscribe, &["BTCUSDT@trade", "x@y"], 3);
        assert_eq!(
            m,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","x@y"],"id":3}"#
        );
        let v: serde_json::Value = serde_json::from_str(&m).expect("valid json by construction");
        assert_eq!(v["id"], 3);
        let m = control_message(ControlMethod::Unsubscribe, &["a\"b"], 4);
        assert_eq!(m, r#"{"method":"UNSUBSCRIBE","params":["ab"],"id":4}"#);
    }

    #[test]
    fn parses_schemes_ports_and_ipv6() {
        let p = parse_url("wss://stream.binance.com:9443/stream").expect("valid url");
        assert_eq!(
            (p.host.as_str(), p.port, p.tls),
            ("stream.binance.com", 9443, true)
        );
        let p = parse_url("wss://data-stream.binance.vision/ws").expect("valid url");
        assert_eq!(p.port, 443);
        let p = parse_url("ws://[::1]:8080/stream").expect("valid url");
        assert_eq!((p.host.as_str(), p.port, p.tls), ("::1", 8080, false));
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("ws://:80/").is_err());
        assert!(parse_url("ws://h:port/").is_err());
    }

    #[test]
    fn endpoint_with_addr_keeps_host_for_sni() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().expect("literal address");
        let e = WsEndpoint::with_addr("wss://localhost:9000/stream", addr).expect("valid url");
        assert_eq!(e.host, "localhost");
        assert!(e.tls);
        assert_eq!(e.addr, addr);
    }
}
