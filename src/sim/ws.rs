//! Owns: one WebSocket market-stream connection: path routing, runtime SUBSCRIBE /
//! UNSUBSCRIBE / LIST_SUBSCRIPTIONS, server pings and the pong deadline, and writing the
//! frames the replay queues for it (combined envelope or bare payload), stamping each
//! write for the wire-to-wire measurement. Never: reads the capture or decides what the
//! replay sends next.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, RecvTimeoutError};
use tungstenite::handshake::HandshakeError;
use tungstenite::{Message, WebSocket};

use super::config::Market;
use super::conn::Rewind;
use super::faults::Faults;
use super::replay::{ClientSink, MarketState, OutFrame, Route};
use super::wire::WireClock;

/// Longest wait for a queued frame before looking at the socket and the switches again.
const POLL_STEP: Duration = Duration::from_millis(20);
/// Frames written per flush.
const BATCH: usize = 64;
/// Handshake attempts that may be interrupted by the socket's read timeout.
const HANDSHAKE_TRIES: usize = 50;

/// Where an upgrade request's path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamPath {
    pub route: Route,
    /// `/stream` (frames wrapped `{"stream":…,"data":…}`) rather than `/ws` (bare payloads).
    pub combined: bool,
    pub streams: Vec<String>,
}

/// Routes an upgrade target (`/stream?streams=a/b`, `/ws/a`, futures `/public/…`,
/// `/market/…`); `None` for paths the market does not serve. Binance retired the unrouted
/// futures paths (`/ws/…`, `/stream?…` on fstream) on 2026-04-23: they are refused.
pub(crate) fn route_path(market: Market, target: &str) -> Option<StreamPath> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (route, rest) = match market {
        Market::UsdmFutures => {
            if let Some(rest) = path.strip_prefix("/public") {
                (Route::Public, rest)
            } else if let Some(rest) = path.strip_prefix("/market") {
                (Route::Market, rest)
            } else {
                return None;
            }
        }
        Market::Spot => (Route::All, path),
    };
    let names = |text: &str| -> Vec<String> {
        text.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if rest == "/stream" {
        let streams = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("streams="))
            .map(names)
            .unwrap_or_default();
        return Some(StreamPath {
            route,
            combined: true,
            streams,
        });
    }
    let streams = if rest == "/ws" {
        Vec::new()
    } else {
        names(rest.strip_prefix("/ws/")?)
    };
    Some(StreamPath {
        route,
        combined: false,
        streams,
    })
}

/// Ping cadence of stream connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PingPolicy {
    pub interval: Duration,
    pub pong_timeout: Duration,
}

/// Everything one stream connection shares with the rest of the simulator.
pub(crate) struct StreamContext {
    pub state: Arc<MarketState>,
    pub faults: Arc<Faults>,
    pub stop: Arc<AtomicBool>,
    pub ping: PingPolicy,
    pub queue_frames: usize,
    pub wire: Arc<WireClock>,
}

/// Upgrades the connection and serves it until the client leaves, a fault drops it, it
/// falls behind, or the simulator stops.
pub(crate) fn serve(stream: Rewind, path: StreamPath, ctx: &StreamContext) {
    let Some(mut ws) = handshake(stream) else {
        return;
    };
    let subscriptions = Arc::new(Mutex::new(path.streams.iter().cloned().collect()));
    let alive = Arc::new(AtomicBool::new(true));
    let (queue, frames) = bounded(ctx.queue_frames.max(1));
    if let Ok(mut clients) = ctx.state.clients.lock() {
        clients.push(Arc::new(ClientSink {
            subscriptions: Arc::clone(&subscriptions),
            route: path.route,
            queue,
            alive: Arc::clone(&alive),
            socket: ws.get_ref().conn().socket().try_clone().ok(),
        }));
    }
    let mut session = Session {
        ws: &mut ws,
        combined: path.combined,
        subscriptions,
        frames,
        ctx,
    };
    let graceful = session.run(&alive);
    alive.store(false, Ordering::Release);
    if graceful {
        // Best effort: the client may already be gone.
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    ws.get_ref().conn().abort();
}

/// Completes the server side of the WebSocket handshake.
pub(crate) fn handshake(stream: Rewind) -> Option<WebSocket<Rewind>> {
    let mut attempt = tungstenite::accept(stream);
    for _ in 0..HANDSHAKE_TRIES {
        match attempt {
            Ok(ws) => return Some(ws),
            Err(HandshakeError::Interrupted(mid)) => attempt = mid.handshake(),
            Err(HandshakeError::Failure(_)) => return None,
        }
    }
    None
}

struct Session<'a> {
    ws: &'a mut WebSocket<Rewind>,
    combined: bool,
    subscriptions: Arc<Mutex<HashSet<String>>>,
    frames: Receiver<Arc<OutFrame>>,
    ctx: &'a StreamContext,
}

impl Session<'_> {
    /// Serves until the connection ends; true when it should end with a close handshake.
    fn run(&mut self, alive: &AtomicBool) -> bool {
        let generation = self.ctx.faults.drop_generation();
        let mut next_ping = Instant::now() + self.ctx.ping.interval;
        let mut pong_due: Option<Instant> = None;
        loop {
            if self.ctx.stop.load(Ordering::Acquire) {
                return true;
            }
            if self.ctx.faults.drop_generation() != generation || !alive.load(Ordering::Acquire) {
                return false;
            }
            let now = Instant::now();
            if pong_due.is_some_and(|due| now >= due) {
                return false;
            }
            if now >= next_ping {
                let payload = self.ctx.state.replay_ms.load(Ordering::Acquire).to_string();
                if self
                    .ws
                    .send(Message::Ping(payload.into_bytes().into()))
                    .is_err()
                {
                    return false;
                }
                next_ping = now + self.ctx.ping.interval;
                pong_due.get_or_insert(now + self.ctx.ping.pong_timeout);
            }
            let wait = next_ping.saturating_duration_since(now).min(POLL_STEP);
            match self.frames.recv_timeout(wait) {
                Ok(first) => {
                    if self.write_frames(first).is_err() {
                        return false;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
            match self.read_pending() {
                Ok(Inbound::Open { pong }) => {
                    if pong {
                        pong_due = None;
                    }
                }
                Ok(Inbound::Closed) => return false,
                Err(_) => return false,
            }
        }
    }

    fn payload(&self, out: &OutFrame) -> String {
        let text = if self.combined {
            out.frame.text.as_str()
        } else {
            out.frame.data()
        };
        if !out.malformed {
            return text.to_owned();
        }
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_owned()
    }

    /// Writes `first` and whatever else is queued, splitting frames when a fault asks.
    fn write_frames(&mut self, first: Arc<OutFrame>) -> tungstenite::Result<()> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(out) = next.take() {
            let message = Message::text(self.payload(&out));
            if self.ctx.faults.take_split() {
                self.ws.flush()?;
                self.ws.get_mut().split_next_write();
                self.ws.send(message)?;
            } else {
                self.ws.write(message)?;
            }
            written += 1;
            if written < BATCH {
                next = self.frames.try_recv().ok();
            }
        }
        // Stamped as the frames go to the socket, not after: a client can read them and answer
        // before a descheduled writer gets to a stamp taken afterwards, and that order would
        // then be timed from an older frame, or not at all.
        self.ctx.wire.market_written(crate::core::clock::mono_ns());
        self.ws.flush()?;
        Ok(())
    }

    /// Reads what the client sent without waiting: control requests, pongs, close.
    fn read_pending(&mut self) -> tungstenite::Result<Inbound> {
        let socket = self.ws.get_ref().conn().socket();
        socket.set_nonblocking(true)?;
        let result = self.read_available();
        let restore = self.ws.get_ref().conn().socket().set_nonblocking(false);
        let inbound = result?;
        restore?;
        // Control replies queued while non-blocking go out now, not with the next frame.
        self.ws.flush()?;
        Ok(inbound)
    }

    fn read_available(&mut self) -> tungstenite::Result<Inbound> {
        let mut pong = false;
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    let reply = control_reply(text.as_str(), &self.subscriptions);
                    // Queued now, flushed with the next frames or the next pass.
                    match self.ws.write(Message::text(reply)) {
                        Ok(()) => {}
                        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(Message::Pong(_)) => pong = true,
                Ok(Message::Close(_)) => return Ok(Inbound::Closed),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Inbound::Open { pong });
                }
                Err(tungstenite::Error::ConnectionClosed) => return Ok(Inbound::Closed),
                Err(e) => return Err(e),
            }
        }
    }
}

enum Inbound {
    Open { pong: bool },
    Closed,
}

/// Binance's error reply to a stream control request: `{"code":…,"msg":…[,"id":…]}`.
fn error_reply(code: i32, msg: &str, id: Option<&serde_json::Value>) -> String {
    let msg = serde_json::Value::from(msg);
    match id {
        Some(id) => format!("{{\"code\":{code},\"msg\":{msg},\"id\":{id}}}"),
        None => format!("{{\"code\":{code},\"msg\":{msg}}}"),
    }
}

/// Binance's reply to a stream control request, applying it to `subscriptions`.
pub(crate) fn control_reply(text: &str, subscriptions: &Mutex<HashSet<String>>) -> String {
    let request: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return error_reply(3, &format!("Invalid JSON: {e}"), None),
    };
    let id = request
        .get("id")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let method = request.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let params: Vec<String> = request
        .get("params")
        .and_then(|p| p.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Ok(mut subs) = subscriptions.lock() else {
        return error_reply(2, "Invalid request", Some(&id));
    };
    let result = match method {
        "SUBSCRIBE" => {
            subs.extend(params);
            serde_json::Value::Null
        }
        "UNSUBSCRIBE" => {
            for name in &params {
                subs.remove(name);
            }
            serde_json::Value::Null
        }
        "LIST_SUBSCRIPTIONS" => {
            let mut names: Vec<&String> = subs.iter().collect();
            names.sort();
            serde_json::json!(names)
        }
        other => {
            let msg = format!(
                "Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
            );
            return error_reply(2, &msg, Some(&id));
        }
    };
    format!("{{\"result\":{},\"id\":{}}}", result, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_by_market_and_prefix() {
        let combined = route_path(
            Market::Spot,
            "/stream?streams=btcusdt@trade/btcusdt@depth@100ms",
        );
        assert_eq!(
            combined,
            Some(StreamPath {
                route: Route::All,
                combined: true,
                streams: vec!["btcusdt@trade".into(), "btcusdt@depth@100ms".into()],
            })
        );
        let public = route_path(Market::UsdmFutures, "/public/ws/btcusdt@depth@0ms");
        assert_eq!(
            public.map(|p| (p.route, p.combined, p.streams.len())),
            Some((Route::Public, false, 1))
        );
        assert_eq!(
            route_path(Market::UsdmFutures, "/market/ws").map(|p| p.route),
            Some(Route::Market)
        );
        assert!(route_path(Market::Spot, "/public/ws/btcusdt@trade").is_none());
        assert!(
            route_path(Market::UsdmFutures, "/ws/btcusdt@trade").is_none()
                && route_path(Market::UsdmFutures, "/stream?streams=btcusdt@trade").is_none(),
            "the unrouted futures paths were retired"
        );
        assert!(
            Route::Public.allows("btcusdt@bookTicker") && !Route::Public.allows("btcusdt@trade")
        );
    }

    #[test]
    fn control_requests_update_subscriptions_and_echo_the_id() {
        let subs = Mutex::new(HashSet::new());
        let reply = control_reply(
            r#"{"method":"SUBSCRIBE","params":["a@trade","b@trade"],"id":7}"#,
            &subs,
        );
        assert_eq!(reply, r#"{"result":null,"id":7}"#);
        let reply = control_reply(
            r#"{"method":"UNSUBSCRIBE","params":["b@trade"],"id":8}"#,
            &subs,
        );
        assert_eq!(reply, r#"{"result":null,"id":8}"#);
        let reply = control_reply(r#"{"method":"LIST_SUBSCRIPTIONS","id":9}"#, &subs);
        assert_eq!(reply, r#"{"result":["a@trade"],"id":9}"#);
        assert!(control_reply("{", &subs).starts_with(r#"{"code":3,"#));
    }
}
