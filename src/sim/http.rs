//! Owns: reading HTTP/1.1 requests (head, then a `Content-Length` body) and writing replies
//! with their headers, and answering Binance's REST market-data endpoints (depth,
//! exchangeInfo, time, ping) with Binance's bodies and error JSON. Never: upgrades to
//! WebSocket (it only reports that a request asks to) or touches the replay.

use std::io::{self, Read, Write};

use super::config::Market;
use super::replay::MarketState;

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub method: String,
    /// Path and query as sent (`/stream?streams=a/b`).
    pub target: String,
    pub upgrade_websocket: bool,
    pub keep_alive: bool,
    /// Length of the head in the buffer it was read into.
    pub len: usize,
    /// `Content-Length` (0 when absent).
    pub content_length: usize,
    /// `X-MBX-APIKEY`.
    pub api_key: Option<String>,
}

/// Outcome of reading one head.
pub(crate) enum HeadRead {
    Head(RequestHead),
    /// The peer closed before a request started.
    Closed,
    /// Not HTTP, or too long.
    Invalid,
}

/// Reads until `buf` holds a full request head. `retry` decides whether a read timeout
/// (used to look at the stop flag) keeps waiting.
pub(crate) fn read_head(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    mut retry: impl FnMut() -> bool,
) -> io::Result<HeadRead> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(parse_head(&buf[..end + 4]).map_or(HeadRead::Invalid, HeadRead::Head));
        }
        if buf.len() > MAX_HEAD {
            return Ok(HeadRead::Invalid);
        }
        if !read_more(reader, buf, &mut retry)? {
            return Ok(HeadRead::Closed);
        }
    }
}

/// Appends what one read returns to `buf`; false when the peer closed. A read timeout
/// (used to look at the stop flag) reads again while `retry` says so.
fn read_more(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    retry: &mut impl FnMut() -> bool,
) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && retry() => {}
            Err(e) => return Err(e),
        }
    }
}

fn parse_head(head: &[u8]) -> Option<RequestHead> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let version = request_line.next()?;
    let mut upgrade_websocket = false;
    let mut keep_alive = version == "HTTP/1.1";
    let mut content_length = 0;
    let mut api_key = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("upgrade") && value.eq_ignore_ascii_case("websocket") {
            upgrade_websocket = true;
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("x-mbx-apikey") {
            api_key = Some(value.to_owned());
        }
    }
    Some(RequestHead {
        method,
        target,
        upgrade_websocket,
        keep_alive,
        len: head.len(),
        content_length,
        api_key,
    })
}

/// Reads until `buf` holds the `content_length` body bytes after a head of `head_len`
/// bytes; `None` when the peer closed first or the body is too large.
pub(crate) fn read_body(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    head_len: usize,
    content_length: usize,
    mut retry: impl FnMut() -> bool,
) -> io::Result<Option<String>> {
    if content_length > MAX_BODY {
        return Ok(None);
    }
    while buf.len() < head_len + content_length {
        if !read_more(reader, buf, &mut retry)? {
            return Ok(None);
        }
    }
    let body = &buf[head_len..head_len + content_length];
    Ok(Some(String::from_utf8_lossy(body).into_owned()))
}

/// A REST reply.
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    /// Extra headers (rate-limit usage, Retry-After).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok(body: String) -> Self {
        Self {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    /// Binance's error body `{"code":…,"msg":…}`.
    pub fn error(status: u16, code: i32, msg: &str) -> Self {
        let body = serde_json::json!({ "code": code, "msg": msg }).to_string();
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        _ => "Error",
    }
}

/// Writes `reply` as an HTTP/1.1 response.
pub(crate) fn write_reply(out: &mut impl Write, reply: &Reply, keep_alive: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    for (name, value) in &reply.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(reply.body.as_bytes())?;
    out.flush()
}

/// The query parameter `name`, if present.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Request weight of a market-data request (Binance's documented weights).
pub(crate) fn weight(state: &MarketState, target: &str) -> u32 {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let futures = state.market == Market::UsdmFutures;
    let limit = query_param(query, "limit").and_then(|l| l.parse::<u32>().ok());
    match (path.rsplit('/').next().unwrap_or(""), futures) {
        ("depth", false) => match limit.unwrap_or(100) {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        },
        ("depth", true) => match limit.unwrap_or(500) {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
        ("exchangeInfo", false) => 20,
        ("klines", _) => match limit.unwrap_or(500) {
            0..=99 => 1,
            100..=499 => 2,
            500..=1000 => 5,
            _ => 10,
        },
        _ => 1,
    }
}

/// Answers one REST market-data request against `state`; `now_ms` is the server time.
pub(crate) fn answer(state: &MarketState, method: &str, target: &str, now_ms: u64) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let prefix = match state.market {
        Market::Spot => "/api/v3/",
        Market::UsdmFutures => "/fapi/v1/",
    };
    let Some(endpoint) = path.strip_prefix(prefix) else {
        return Reply::error(404, -1, "Unknown path.");
    };
    if !matches!(
        endpoint,
        "depth" | "klines" | "exchangeInfo" | "time" | "ping"
    ) {
        return Reply::error(404, -1, "Unknown path.");
    }
    if method != "GET" {
        return Reply::error(405, -1, "Method not allowed.");
    }
    match endpoint {
        "depth" => depth(state, query),
        "klines" => match state.klines.lock() {
            Ok(klines) => klines.answer(query, |symbol| {
                state
                    .books
                    .lock()
                    .is_ok_and(|books| books.contains_key(symbol))
            }),
            Err(_) => Reply::error(
                500,
                -1000,
                "An unknown error occurred while processing the request.",
            ),
        },
        "exchangeInfo" => Reply::ok(state.exchange_info.clone()),
        "ping" => Reply::ok("{}".to_owned()),
        _ => Reply::ok(format!("{{\"serverTime\":{now_ms}}}")),
    }
}

fn depth(state: &MarketState, query: &str) -> Reply {
    let futures = state.market == Market::UsdmFutures;
    let symbol = match query_param(query, "symbol") {
        Some(s) if !s.is_empty() => s,
        _ => {
            return Reply::error(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            )
        }
    };
    let (default_limit, max_limit) = if futures { (500, 1000) } else { (100, 5000) };
    let limit = match query_param(query, "limit") {
        None => default_limit,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n.min(max_limit),
            _ => return Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
            ),
        },
    };
    let books = match state.books.lock() {
        Ok(books) => books,
        Err(_) => {
            return Reply::error(
                500,
                -1000,
                "An unknown error occurred while processing the request.",
            )
        }
    };
    match books.get(symbol) {
        Some(book) => Reply::ok(book.snapshot_json(limit, futures)),
        None => Reply::error(400, -1121, "Invalid symbol."),
    }
}
