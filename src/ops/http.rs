//! Owns: the ops HTTP/1.1 endpoint (`/metrics`, `/healthz`) and the route table and error
//! page other endpoints (the control API) plug into. Never: blocks the ops loop on a client; every socket is non-blocking,
//! size-limited and dropped at its deadline.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::metrics::Registry;
use super::OpsError;

/// Default ops listen address: loopback only, the usual node-exporter-style port.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));

/// Content type of the Prometheus text exposition format 0.0.4.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// `[metrics]` section of the configuration.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address the ops HTTP server listens on.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
        }
    }
}

/// Limits that keep one client from holding the ops loop or its memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HttpLimits {
    /// Largest request line plus headers.
    pub max_head_bytes: usize,
    /// Largest request body (`Content-Length`).
    pub max_body_bytes: usize,
    /// Time from accept to the last response byte written; the connection is dropped after it.
    pub connection_timeout: Duration,
    /// Connections served at once; further clients wait in the kernel's accept queue.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: 8 * 1024,
            max_body_bytes: 64 * 1024,
            connection_timeout: Duration::from_secs(2),
            max_connections: 32,
        }
    }
}

/// HTTP request method.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    /// Any other token.
    Other,
}

impl Method {
    fn parse(token: &str) -> Self {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }
}

/// A parsed request, borrowing the connection's buffer.
#[derive(Debug)]
pub struct Request<'a> {
    /// Request method.
    pub method: Method,
    /// Path without the query string.
    pub path: &'a str,
    /// Query string after `?` (empty when absent).
    pub query: &'a str,
    /// Header lines, unparsed; read them with [`Request::header`].
    headers: &'a str,
    /// Request body (`Content-Length` bytes).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Value of the first header called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A response to write back; the server adds `Content-Length` and `Connection: close`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// Further headers (`Allow`, `WWW-Authenticate`, …).
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Response with the given status, content type and body.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Plain-text response (body ends with a newline).
    pub fn text(status: u16, body: &str) -> Self {
        Self::new(status, TEXT_CONTENT_TYPE, format!("{body}\n"))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 160);
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        out.extend_from_slice(head.as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Renders the errors the server answers by itself (malformed or oversized request, unknown
/// path, wrong method) from the status, a stable snake_case code and a human message.
pub type ErrorPage = fn(status: u16, code: &'static str, message: &str) -> Response;

/// The default [`ErrorPage`]: the message as plain text.
fn text_error_page(status: u16, _code: &'static str, message: &str) -> Response {
    Response::text(status, message)
}

/// An error found before any handler ran.
struct HttpError {
    status: u16,
    code: &'static str,
    message: &'static str,
}

impl HttpError {
    const fn new(status: u16, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }
}

/// Something that answers one route; closures `Fn(&Request, &Registry) -> Response` qualify.
pub trait Handler: Send {
    /// Builds the response to `request`.
    fn handle(&self, request: &Request<'_>, registry: &Registry) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&Request<'_>, &Registry) -> Response + Send,
{
    fn handle(&self, request: &Request<'_>, registry: &Registry) -> Response {
        self(request, registry)
    }
}

struct Route {
    method: Method,
    path: String,
    handler: Box<dyn Handler>,
}

/// What a connection is doing.
enum Phase {
    Reading,
    Writing { out: Vec<u8>, written: usize },
}

struct Connection {
    stream: TcpStream,
    deadline: Instant,
    buf: Vec<u8>,
    phase: Phase,
}

/// What one step on a connection achieved.
enum Step {
    Idle,
    Progress,
    Finished,
    Dropped,
}

/// Non-blocking HTTP/1.1 server polled by the ops loop; one request per connection.
pub struct OpsServer {
    listener: TcpListener,
    limits: HttpLimits,
    routes: Vec<Route>,
    error_page: ErrorPage,
    connections: Vec<Connection>,
    dropped: u64,
}

impl OpsServer {
    /// Listens on `addr` with default limits and the `/metrics` and `/healthz` routes.
    pub fn bind(addr: SocketAddr) -> Result<Self, OpsError> {
        Self::bind_with_limits(addr, HttpLimits::default())
    }

    /// Like [`OpsServer::bind`] with explicit limits.
    pub fn bind_with_limits(addr: SocketAddr, limits: HttpLimits) -> Result<Self, OpsError> {
        let mut server = Self::bind_without_routes(addr, limits)?;
        server.route(
            Method::Get,
            "/metrics",
            |_: &Request<'_>, registry: &Registry| {
                Response::new(200, METRICS_CONTENT_TYPE, registry.render())
            },
        );
        server.route(Method::Get, "/healthz", |_: &Request<'_>, _: &Registry| {
            Response::text(200, "ok")
        });
        Ok(server)
    }

    /// Listens on `addr` with explicit limits and an empty route table (a server that must
    /// not expose `/metrics`, such as the control API).
    pub fn bind_without_routes(addr: SocketAddr, limits: HttpLimits) -> Result<Self, OpsError> {
        let bind_error = |source| OpsError::Bind { addr, source };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(Self {
            listener,
            limits,
            routes: Vec::new(),
            error_page: text_error_page,
            connections: Vec::new(),
            dropped: 0,
        })
    }

    /// Renders the server's own errors (400, 404, 405, 413, 431, 501) with `page` instead
    /// of plain text.
    pub fn set_error_page(&mut self, page: ErrorPage) {
        self.error_page = page;
    }

    /// Adds (or replaces) the handler for `method` on `path`.
    pub fn route(&mut self, method: Method, path: &str, handler: impl Handler + 'static) {
        self.routes
            .retain(|r| !(r.method == method && r.path == path));
        self.routes.push(Route {
            method,
            path: path.to_owned(),
            handler: Box::new(handler),
        });
    }

    /// Address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Connections dropped so far for timeouts or socket errors.
    pub fn dropped_connections(&self) -> u64 {
        self.dropped
    }

    /// Collects published histograms, then accepts and serves whatever is ready for at most
    /// about `budget`; returns the number of responses completed. Never waits for a client.
    pub fn poll(&mut self, registry: &Registry, budget: Duration) -> usize {
        let start = Instant::now();
        // Recorders hold only a few spare histograms: return them every poll, not per scrape.
        registry.collect();
        let mut completed = 0;
        loop {
            let mut progressed = self.accept_ready();
            let now = Instant::now();
            let mut i = 0;
            while i < self.connections.len() {
                let step = if now >= self.connections[i].deadline {
                    Step::Dropped
                } else {
                    self.step(i, registry)
                };
                match step {
                    Step::Idle => i += 1,
                    Step::Progress => {
                        progressed = true;
                        i += 1;
                    }
                    Step::Finished | Step::Dropped => {
                        let connection = self.connections.swap_remove(i);
                        if matches!(step, Step::Finished) {
                            completed += 1;
                            // Best effort: the response is complete, the client closes anyway.
                            let _ = connection.stream.shutdown(std::net::Shutdown::Write);
                        } else {
                            self.dropped += 1;
                        }
                        progressed = true;
                    }
                }
            }
            if !progressed || start.elapsed() >= budget {
                return completed;
            }
        }
    }

    fn accept_ready(&mut self) -> bool {
        let mut accepted = false;
        while self.connections.len() < self.limits.max_connections {
            match self.listener.accept() {
                Ok((stream, _peer)) => {
                    if stream.set_nonblocking(true).is_err() {
                        self.dropped += 1;
                        continue;
                    }
                    // Nagle only delays a single-write response.
                    let _ = stream.set_nodelay(true);
                    self.connections.push(Connection {
                        stream,
                        deadline: Instant::now() + self.limits.connection_timeout,
                        buf: Vec::new(),
                        phase: Phase::Reading,
                    });
                    accepted = true;
                }
                // WouldBlock: nothing pending. Other errors (EMFILE, aborted handshakes) are
                // retried on the next poll rather than spun on here.
                Err(_) => break,
            }
        }
        accepted
    }

    fn step(&mut self, index: usize, registry: &Registry) -> Step {
        let limits = self.limits;
        let connection = &mut self.connections[index];
        match &mut connection.phase {
            Phase::Reading => {
                let mut chunk = [0u8; 4096];
                let mut read_any = false;
                let mut peer_closed = false;
                loop {
                    match connection.stream.read(&mut chunk) {
                        // The peer may half-close right after its request; answer it anyway.
                        Ok(0) => {
                            peer_closed = true;
                            break;
                        }
                        Ok(n) => {
                            connection.buf.extend_from_slice(&chunk[..n]);
                            read_any = true;
                            let cap = limits.max_head_bytes + limits.max_body_bytes;
                            if connection.buf.len() >= cap {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => return Step::Dropped,
                    }
                }
                match parse(&connection.buf, &limits) {
                    Parsed::Incomplete if peer_closed => Step::Dropped,
                    Parsed::Incomplete if read_any => Step::Progress,
                    Parsed::Incomplete => Step::Idle,
                    Parsed::Invalid(error) => {
                        let response = (self.error_page)(error.status, error.code, error.message);
                        connection.phase = writing(&response);
                        Step::Progress
                    }
                    Parsed::Complete(request) => {
                        let response = dispatch(&self.routes, self.error_page, &request, registry);
                        connection.phase = writing(&response);
                        Step::Progress
                    }
                }
            }
            Phase::Writing { out, written } => match connection.stream.write(&out[*written..]) {
                Ok(0) => Step::Dropped,
                Ok(n) => {
                    *written += n;
                    if *written == out.len() {
                        Step::Finished
                    } else {
                        Step::Progress
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Progress,
                Err(_) => Step::Dropped,
            },
        }
    }
}

fn writing(response: &Response) -> Phase {
    Phase::Writing {
        out: response.serialize(),
        written: 0,
    }
}

/// Route table lookup: exact path, then method; 404 and 405 (with `Allow`) otherwise.
fn dispatch(
    routes: &[Route],
    error_page: ErrorPage,
    request: &Request<'_>,
    registry: &Registry,
) -> Response {
    if let Some(route) = routes
        .iter()
        .find(|r| r.path == request.path && r.method == request.method)
    {
        return route.handler.handle(request, registry);
    }
    let allowed: Vec<&str> = routes
        .iter()
        .filter(|r| r.path == request.path)
        .map(|r| r.method.as_str())
        .collect();
    if allowed.is_empty() {
        error_page(404, "not_found", "not found")
    } else {
        error_page(405, "method_not_allowed", "method not allowed")
            .with_header("Allow", allowed.join(", "))
    }
}

enum Parsed<'a> {
    Incomplete,
    Invalid(HttpError),
    Complete(Request<'a>),
}

const HEAD_TOO_LARGE: HttpError = HttpError::new(431, "head_too_large", "request head too large");

fn parse<'a>(buf: &'a [u8], limits: &HttpLimits) -> Parsed<'a> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > limits.max_head_bytes {
            Parsed::Invalid(HEAD_TOO_LARGE)
        } else {
            Parsed::Incomplete
        };
    };
    if head_end > limits.max_head_bytes {
        return Parsed::Invalid(HEAD_TOO_LARGE);
    }
    let bad = |why| Parsed::Invalid(HttpError::new(400, "malformed_request", why));
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return bad("request head is not UTF-8");
    };
    let (request_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad("malformed request line");
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return bad("expected an HTTP/1.x request for an absolute path");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: Method::parse(method),
        path,
        query,
        headers,
        body: &[],
    };
    if request.header("transfer-encoding").is_some() {
        return Parsed::Invalid(HttpError::new(
            501,
            "transfer_encoding_unsupported",
            "chunked bodies are not supported",
        ));
    }
    let body_len = match request.header("content-length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(len)) if len <= limits.max_body_bytes => len,
        Some(Ok(_)) => {
            return Parsed::Invalid(HttpError::new(
                413,
                "body_too_large",
                "request body too large",
            ))
        }
        Some(Err(_)) => return bad("invalid Content-Length"),
    };
    let body_start = head_end + 4;
    match buf.get(body_start..body_start + body_len) {
        Some(body) => {
            request.body = body;
            Parsed::Complete(request)
        }
        None => Parsed::Incomplete,
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
