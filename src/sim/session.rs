//! Owns: the loop of one order-side WebSocket connection (WS API or futures private
//! stream): the socket non-blocking under mio, requests read the moment they arrive,
//! user-data events pushed as the venue queues them (a waker ends the wait), delayed
//! replies, server pings with a pong deadline, and the event faults (duplicated, held back
//! behind the next). Never: interprets a request (the handler does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};
use tungstenite::{Message, WebSocket};

use crate::core::clock::mono_ns;

use super::conn::Rewind;
use super::faults::Faults;
use super::ws::{handshake, PingPolicy};

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// Longest wait before the stop flag and the fault switches are looked at again.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How long an event held back (reorder fault) waits for the next one before going out.
const REORDER_WAIT: Duration = Duration::from_millis(200);
/// Flush attempts for the close frame of a graceful end.
const CLOSE_FLUSHES: usize = 20;

/// What a handler wants done after a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// Send this frame now.
    Now(String),
    /// Send this frame at that time (delayed ack).
    At(Instant, String),
    /// Cut the connection without a reply.
    Cut,
}

/// How a handler reaches its connection: the event queue a user-data subscription feeds,
/// the waker that ends the loop's wait, and the flag that says the connection lives.
pub(crate) struct Link {
    pub events: Sender<Arc<str>>,
    pub waker: Arc<Waker>,
    pub alive: Arc<AtomicBool>,
}

/// The request side of a connection.
pub(crate) trait Handler {
    /// The connection is up (a stream handler subscribes here).
    fn on_open(&mut self, _link: &Link) {}
    /// A text frame arrived; `read_ns` is the monotonic time the read returned.
    fn on_text(&mut self, text: &str, read_ns: u64, link: &Link) -> Vec<Outgoing>;
    /// Looked at every pass: frames to send, and whether to end the connection.
    fn on_tick(&mut self) -> (Vec<String>, bool) {
        (Vec::new(), false)
    }
    /// The connection ended.
    fn on_close(&mut self, link: &Link);
}

/// What every session shares with the simulator.
pub(crate) struct SessionContext<'a> {
    pub faults: &'a Faults,
    pub stop: &'a AtomicBool,
    pub ping: PingPolicy,
    pub queue_frames: usize,
}

/// Why a pass ended the session.
enum End {
    /// Close handshake then close.
    Graceful,
    /// Close the socket at once.
    Abort,
}

struct Loop<'a> {
    ws: WebSocket<Rewind>,
    ctx: &'a SessionContext<'a>,
    events: Receiver<Arc<str>>,
    delayed: Vec<(Instant, String)>,
    held: Option<(Arc<str>, Instant)>,
}

/// Upgrades the connection and runs it until the client leaves, a fault cuts it, the
/// handler ends it, or the simulator stops.
pub(crate) fn run(stream: Rewind, ctx: &SessionContext<'_>, handler: &mut dyn Handler) {
    let Ok(mut poll) = Poll::new() else {
        return;
    };
    let Ok(waker) = Waker::new(poll.registry(), WAKE) else {
        return;
    };
    let (sender, events) = bounded(ctx.queue_frames.max(1));
    let link = Link {
        events: sender,
        waker: Arc::new(waker),
        alive: Arc::new(AtomicBool::new(true)),
    };
    // Subscribed before the handshake completes, so no event the client could cause once
    // it sees the upgrade is missed; they wait in the queue.
    handler.on_open(&link);
    let Some(ws) = handshake(stream) else {
        link.alive.store(false, Ordering::Release);
        handler.on_close(&link);
        return;
    };
    // mio watches a duplicate of the socket's descriptor: readiness is the socket's, and
    // the connection keeps owning (and closing) the original.
    let socket = ws.get_ref().conn().socket();
    let watched = socket
        .set_nonblocking(true)
        .and_then(|()| socket.try_clone())
        .map(mio::net::TcpStream::from_std)
        .and_then(|mut watched| {
            poll.registry()
                .register(
                    &mut watched,
                    SOCKET,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map(|()| watched)
        });
    let Ok(_watched) = watched else {
        link.alive.store(false, Ordering::Release);
        handler.on_close(&link);
        ws.get_ref().conn().abort();
        return;
    };
    let mut session = Loop {
        ws,
        ctx,
        events,
        delayed: Vec::new(),
        held: None,
    };
    let end = session.serve(&mut poll, handler, &link);
    link.alive.store(false, Ordering::Release);
    handler.on_close(&link);
    if matches!(end, End::Graceful) {
        // Best effort: the client may already be gone.
        let _ = session.ws.close(None);
        for _ in 0..CLOSE_FLUSHES {
            match session.ws.flush() {
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => break,
            }
        }
    }
    session.ws.get_ref().conn().abort();
}

fn would_block(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

impl Loop<'_> {
    /// Queues a frame; false when the connection is broken.
    fn send(&mut self, text: &str) -> bool {
        match self.ws.write(Message::text(text)) {
            Ok(()) => true,
            Err(e) => would_block(&e),
        }
    }

    /// Sends a user-data event under the duplicate and reorder faults.
    fn deliver(&mut self, frame: Arc<str>) -> bool {
        if self.held.is_none() && self.ctx.faults.take_reorder_event() {
            self.held = Some((frame, Instant::now() + REORDER_WAIT));
            return true;
        }
        let mut ok = self.send(&frame);
        if self.ctx.faults.take_duplicate_event() {
            ok &= self.send(&frame);
        }
        if let Some((held, _)) = self.held.take() {
            ok &= self.send(&held);
        }
        ok
    }

    fn serve(&mut self, poll: &mut Poll, handler: &mut dyn Handler, link: &Link) -> End {
        let generation = self.ctx.faults.drop_generation();
        let mut next_ping = Instant::now() + self.ctx.ping.interval;
        let mut pong_due: Option<Instant> = None;
        let mut events = Events::with_capacity(8);
        loop {
            if self.ctx.stop.load(Ordering::Acquire) {
                return End::Graceful;
            }
            if self.ctx.faults.drop_generation() != generation
                || !link.alive.load(Ordering::Acquire)
            {
                return End::Abort;
            }
            let now = Instant::now();
            if pong_due.is_some_and(|due| now >= due) {
                return End::Abort;
            }
            if now >= next_ping {
                let payload = crate::core::clock::wall_ms().to_string();
                match self.ws.write(Message::Ping(payload.into_bytes().into())) {
                    Ok(()) => {}
                    Err(e) if would_block(&e) => {}
                    Err(_) => return End::Abort,
                }
                next_ping = now + self.ctx.ping.interval;
                pong_due.get_or_insert(now + self.ctx.ping.pong_timeout);
            }
            let mut wake_at = next_ping.min(now + IDLE_POLL);
            if let Some(first) = self.delayed.iter().map(|(at, _)| *at).min() {
                wake_at = wake_at.min(first);
            }
            if let Some((_, at)) = &self.held {
                wake_at = wake_at.min(*at);
            }
            match poll.poll(&mut events, Some(wake_at.saturating_duration_since(now))) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return End::Abort,
            }
            loop {
                match self.ws.read() {
                    Ok(Message::Text(text)) => {
                        let read_ns = mono_ns();
                        for out in handler.on_text(text.as_str(), read_ns, link) {
                            match out {
                                Outgoing::Now(frame) => {
                                    if !self.send(&frame) {
                                        return End::Abort;
                                    }
                                }
                                Outgoing::At(at, frame) => self.delayed.push((at, frame)),
                                Outgoing::Cut => return End::Abort,
                            }
                        }
                    }
                    Ok(Message::Pong(_)) => pong_due = None,
                    Ok(Message::Close(_)) => return End::Abort,
                    Ok(_) => {}
                    Err(e) if would_block(&e) => break,
                    Err(_) => return End::Abort,
                }
            }
            while let Ok(frame) = self.events.try_recv() {
                if !self.deliver(frame) {
                    return End::Abort;
                }
            }
            if self
                .held
                .as_ref()
                .is_some_and(|(_, at)| Instant::now() >= *at)
            {
                if let Some((held, _)) = self.held.take() {
                    if !self.send(&held) {
                        return End::Abort;
                    }
                }
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) =
                self.delayed.drain(..).partition(|(at, _)| *at <= now);
            self.delayed = later;
            for (_, frame) in due {
                if !self.send(&frame) {
                    return End::Abort;
                }
            }
            let (frames, end) = handler.on_tick();
            for frame in frames {
                if !self.send(&frame) {
                    return End::Abort;
                }
            }
            match self.ws.flush() {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(_) => return End::Abort,
            }
            if end {
                return End::Graceful;
            }
        }
    }
}
