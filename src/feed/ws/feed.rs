//! Owns: every connection of one WebSocket feed — stream groups (slots), reconnect scheduling,
//! stale detection, 24 h rotation, runtime (un)subscription, health events and counters. Never:
//! reads the clock for decisions (`now_ns` comes in), logs, blocks or decodes payloads.

use std::sync::Arc;

use mio::{Events, Poll};
use rustls::ClientConfig;
use tungstenite::protocol::WebSocketConfig;

use super::backoff::{AttemptBudget, ReconnectBackoff};
use super::conn::FrameKind;
use super::plan::{normalize_stream, split_streams};
use super::policy::{end_live, Slot, Timing};
use super::{tls, WsEndpoint, WsError, WsFeedConfig};

/// Where a data frame came from, for de-duplication across overlapping connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// The stream group (slot) index.
    pub slot: u16,
    /// The connection that delivered it (unique for the feed's life).
    pub conn_id: u64,
    /// Receive order across the whole feed, starting at 1.
    pub seq: u64,
    /// `mono_ns()` taken right after the read returned.
    pub recv_ns: u64,
    /// Text or binary.
    pub kind: FrameKind,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server sent a close frame or closed the socket.
    ServerClosed,
    /// An I/O, TLS or protocol error (see `WsFeed::last_error`).
    Error,
    /// No data frame within the stale timeout.
    Stale,
    /// Connect + handshake exceeded the connect timeout.
    ConnectTimeout,
    /// A pong or control message stayed unsent past the pong deadline.
    WriteStalled,
    /// Replaced by a fresh connection (rotation).
    Rotated,
    /// Its streams were all unsubscribed.
    Unsubscribed,
    /// `WsFeed::shutdown` was called.
    Shutdown,
}

/// A health event for the caller to forward to the ops thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsEvent {
    /// A TCP connect was started.
    ConnectAttempt {
        /// Slot index.
        slot: u16,
        /// New connection id.
        conn_id: u64,
        /// `now_ns` of the poll that started it.
        at_ns: u64,
        /// True for a rotation's standby connection.
        standby: bool,
    },
    /// The WebSocket handshake completed.
    Connected {
        /// Slot index.
        slot: u16,
        /// Connection id.
        conn_id: u64,
        /// True for a rotation's standby connection.
        standby: bool,
    },
    /// A connection ended.
    Disconnected {
        /// Slot index.
        slot: u16,
        /// Connection id.
        conn_id: u64,
        /// Why.
        reason: DisconnectReason,
        /// True when it had completed its handshake.
        was_open: bool,
    },
    /// The next connect of a slot was scheduled.
    ReconnectScheduled {
        /// Slot index.
        slot: u16,
        /// Failed attempts before this delay was drawn (the backoff exponent).
        attempt: u32,
        /// The jittered delay.
        delay_ns: u64,
        /// When the attempt may start.
        at_ns: u64,
    },
    /// The backoff exponent was reset after a stable connection.
    BackoffReset {
        /// Slot index.
        slot: u16,
    },
    /// No data frame for the stale timeout; the connection is being replaced.
    StaleTimeout {
        /// Slot index.
        slot: u16,
        /// Connection id.
        conn_id: u64,
        /// Time since the last data frame (or the open).
        silent_ns: u64,
    },
    /// The server has not pinged for twice its announced interval.
    PingOverdue {
        /// Slot index.
        slot: u16,
        /// Connection id.
        conn_id: u64,
        /// Time since the last ping (or the open).
        silent_ns: u64,
    },
    /// A standby connection was opened to replace an ageing one.
    RotationStarted {
        /// Slot index.
        slot: u16,
        /// The ageing connection.
        old_conn: u64,
        /// The standby.
        new_conn: u64,
    },
    /// The standby delivered data and took over; the old connection was closed.
    RotationCompleted {
        /// Slot index.
        slot: u16,
        /// The closed connection.
        old_conn: u64,
        /// The new active connection.
        new_conn: u64,
    },
    /// A SUBSCRIBE/UNSUBSCRIBE could not be queued (write buffer full); it will be retried.
    ControlDeferred {
        /// Slot index.
        slot: u16,
        /// Connection id.
        conn_id: u64,
    },
}

/// Pending health events kept before new ones are dropped (and counted).
pub const EVENT_CAPACITY: usize = 1024;

/// A bounded event buffer: the feed never grows memory because a caller forgot to drain.
#[derive(Debug)]
pub(super) struct EventLog {
    items: Vec<WsEvent>,
    dropped: u64,
}

impl EventLog {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            items: Vec::with_capacity(capacity),
            dropped: 0,
        }
    }

    /// Records an event, or counts it as dropped when full.
    pub(super) fn push(&mut self, event: WsEvent) {
        if self.items.len() >= EVENT_CAPACITY {
            self.dropped += 1;
        } else {
            self.items.push(event);
        }
    }
}

/// Plain health counters; the caller copies them to metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WsCounters {
    /// TCP connects started (including standbys).
    pub connect_attempts: u64,
    /// Handshakes completed.
    pub connects: u64,
    /// Attempts that ended before the handshake completed.
    pub connect_failures: u64,
    /// Open connections that ended (any reason).
    pub disconnects: u64,
    /// Reconnects scheduled through the backoff.
    pub reconnects_scheduled: u64,
    /// Connects or rotations postponed by the per-IP attempt budget.
    pub attempts_deferred: u64,
    /// Stale-stream timeouts.
    pub stale_timeouts: u64,
    /// Completed rotations.
    pub rotations: u64,
    /// Data frames delivered.
    pub frames: u64,
    /// Payload bytes of data frames delivered.
    pub bytes: u64,
    /// Server pings received (each answered with a pong).
    pub pings: u64,
    /// Overdue-ping events.
    pub pings_overdue: u64,
    /// WebSocket protocol or handshake errors (tungstenite rejected something).
    pub protocol_errors: u64,
    /// Socket, TLS-setup and timeout errors.
    pub io_errors: u64,
    /// SUBSCRIBE/UNSUBSCRIBE messages queued.
    pub control_sent: u64,
}

impl WsCounters {
    /// Adds another feed's counters into these.
    pub fn add(&mut self, other: &WsCounters) {
        self.connect_attempts += other.connect_attempts;
        self.connects += other.connects;
        self.connect_failures += other.connect_failures;
        self.disconnects += other.disconnects;
        self.reconnects_scheduled += other.reconnects_scheduled;
        self.attempts_deferred += other.attempts_deferred;
        self.stale_timeouts += other.stale_timeouts;
        self.rotations += other.rotations;
        self.frames += other.frames;
        self.bytes += other.bytes;
        self.pings += other.pings;
        self.pings_overdue += other.pings_overdue;
        self.protocol_errors += other.protocol_errors;
        self.io_errors += other.io_errors;
        self.control_sent += other.control_sent;
    }
}

/// A venue market-data feed: stream groups over non-blocking WebSocket connections.
pub struct WsFeed {
    pub(super) endpoints: Vec<WsEndpoint>,
    pub(super) tls: Option<Arc<ClientConfig>>,
    pub(super) ws_config: WebSocketConfig,
    pub(super) config: WsFeedConfig,
    pub(super) timing: Timing,
    /// `WsFeedConfig::frames_per_poll`, at least 1.
    pub(super) frames_per_poll: u32,
    pub(super) poll: Poll,
    pub(super) mio_events: Events,
    pub(super) slots: Vec<Slot>,
    pub(super) budget: AttemptBudget,
    pub(super) counters: WsCounters,
    pub(super) events: EventLog,
    pub(super) next_conn_id: u64,
    pub(super) next_request_id: u64,
    pub(super) seq: u64,
}

impl std::fmt::Debug for WsFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsFeed")
            .field("endpoints", &self.endpoints)
            .field("slots", &self.slots.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl WsFeed {
    /// A feed over `config.urls` (resolved here, blocking: call at start-up) carrying `streams`.
    pub fn new<S: AsRef<str>>(config: WsFeedConfig, streams: &[S]) -> Result<Self, WsError> {
        let endpoints = config
            .urls
            .iter()
            .map(|u| WsEndpoint::resolve(u))
            .collect::<Result<Vec<_>, _>>()?;
        Self::with_endpoints(config, endpoints, streams)
    }

    /// A feed over already-resolved endpoints (`config.urls` is ignored).
    pub fn with_endpoints<S: AsRef<str>>(
        config: WsFeedConfig,
        endpoints: Vec<WsEndpoint>,
        streams: &[S],
    ) -> Result<Self, WsError> {
        if endpoints.is_empty() {
            return Err(WsError::Config {
                detail: "no WebSocket endpoint configured".to_owned(),
            });
        }
        if config.max_streams_per_connection == 0 {
            return Err(WsError::Config {
                detail: "max_streams_per_connection must be at least 1".to_owned(),
            });
        }
        let tls = if endpoints.iter().any(|e| e.tls) {
            Some(tls::client_config(
                config.use_webpki_roots,
                &config.extra_trusted_certs,
            )?)
        } else {
            None
        };
        let ns = WsFeedConfig::ns;
        let timing = Timing {
            stale_ns: ns(config.stale_timeout_ms),
            connect_timeout_ns: ns(config.connect_timeout_ms.max(1)),
            rotate_after_ns: ns(config.rotate_after_ms),
            ping_overdue_ns: ns(config.server_ping_interval_ms).saturating_mul(2),
            pong_deadline_ns: ns(config.pong_deadline_ms),
            control_interval_ns: ns(config.min_control_interval_ms),
            rotation_retry_ns: ns(config.backoff_cap_ms),
        };
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(config.read_buffer_bytes.max(4096))
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let poll = Poll::new().map_err(|source| WsError::Poll { source })?;
        let mut feed = Self {
            endpoints,
            tls,
            ws_config,
            budget: AttemptBudget::new(
                config.max_attempts_per_window,
                ns(config.attempt_window_ms),
            ),
            timing,
            frames_per_poll: config.frames_per_poll.max(1),
            poll,
            mio_events: Events::with_capacity(64),
            slots: Vec::new(),
            counters: WsCounters::default(),
            events: EventLog::with_capacity(EVENT_CAPACITY),
            next_conn_id: 1,
            next_request_id: 1,
            seq: 0,
            config,
        };
        for group in split_streams(streams, feed.config.max_streams_per_connection) {
            feed.push_slot(group);
        }
        Ok(feed)
    }

    fn push_slot(&mut self, streams: Vec<String>) {
        let index = self.slots.len() as u64;
        let seed = self.config.backoff_seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.slots.push(Slot {
            streams,
            version: 1,
            active: None,
            standby: None,
            backoff: ReconnectBackoff::new(
                WsFeedConfig::ns(self.config.backoff_base_ms),
                WsFeedConfig::ns(self.config.backoff_cap_ms),
                WsFeedConfig::ns(self.config.backoff_reset_after_stable_ms),
                seed,
            ),
            next_attempt_ns: None,
            next_rotation_ns: 0,
            rotate_requested: false,
            endpoint_rotor: 0,
            last_error: None,
        });
    }

    /// Number of stream groups (each has one connection, two while rotating).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The streams a slot should carry.
    pub fn streams(&self, slot: usize) -> &[String] {
        self.slots.get(slot).map_or(&[], |s| s.streams.as_slice())
    }

    /// The id of a slot's active connection, if any.
    pub fn active_conn(&self, slot: usize) -> Option<u64> {
        self.slots.get(slot)?.active.as_ref().map(|l| l.id())
    }

    /// True when a slot's active connection is open.
    pub fn is_open(&self, slot: usize) -> bool {
        self.slots
            .get(slot)
            .and_then(|s| s.active.as_ref())
            .is_some_and(|l| l.is_open())
    }

    /// The most recent error a slot's connections hit (kept after recovery, for diagnostics).
    pub fn last_error(&self, slot: usize) -> Option<&WsError> {
        self.slots.get(slot)?.last_error.as_ref()
    }

    /// Health counters since construction.
    pub fn counters(&self) -> &WsCounters {
        &self.counters
    }

    /// Takes the health events produced since the last call, oldest first (drain every poll:
    /// past `EVENT_CAPACITY` pending events new ones are dropped and counted).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, WsEvent> {
        self.events.items.drain(..)
    }

    /// Events dropped because the caller did not drain them.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped
    }

    /// Adds streams at run time: into slots with room, else new slots. Open connections get a
    /// SUBSCRIBE (paced by `min_control_interval_ms`); reconnects use the updated list.
    pub fn subscribe<S: AsRef<str>>(&mut self, streams: &[S]) {
        let max = self.config.max_streams_per_connection;
        for name in streams.iter().map(|s| normalize_stream(s.as_ref())) {
            if name.is_empty() || self.slots.iter().any(|s| s.streams.contains(&name)) {
                continue;
            }
            match self.slots.iter().position(|s| s.streams.len() < max) {
                Some(i) => {
                    let slot = &mut self.slots[i];
                    slot.streams.push(name);
                    slot.version += 1;
                }
                None => self.push_slot(vec![name]),
            }
        }
    }

    /// Removes streams at run time; a slot left empty closes its connections.
    pub fn unsubscribe<S: AsRef<str>>(&mut self, streams: &[S]) {
        for name in streams.iter().map(|s| normalize_stream(s.as_ref())) {
            for slot in &mut self.slots {
                if let Some(pos) = slot.streams.iter().position(|s| *s == name) {
                    slot.streams.remove(pos);
                    slot.version += 1;
                }
            }
        }
    }

    /// Starts a rotation of `slot` at the next poll, whatever its age (e.g. on the venue's
    /// `serverShutdown` notice); ignored while a rotation is already under way.
    pub fn request_rotation(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.rotate_requested = true;
        }
    }

    /// Queues a text message (e.g. `LIST_SUBSCRIPTIONS`) on a slot's open active connection.
    /// `Ok` means queued, possibly not yet written (the next polls flush it). Not paced: it
    /// counts against the venue's inbound message limit alongside pongs and (un)subscribes.
    pub fn send_text(&mut self, slot: usize, text: String) -> Result<(), WsError> {
        match self.slots.get_mut(slot).and_then(|s| s.active.as_mut()) {
            Some(live) if live.is_open() => live.send_text(text),
            _ => Err(WsError::NoOpenConnection { slot }),
        }
    }

    /// Closes every connection; later polls reconnect only after new subscriptions.
    pub fn shutdown(&mut self) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            for live in [slot.active.take(), slot.standby.take()]
                .into_iter()
                .flatten()
            {
                end_live(
                    live,
                    i as u16,
                    DisconnectReason::Shutdown,
                    &mut self.counters,
                    &mut self.events,
                );
            }
            slot.streams.clear();
            slot.version += 1;
            slot.next_attempt_ns = None;
        }
    }

    /// Does all ready I/O and every due policy action without blocking; calls
    /// `on_frame(meta, payload)` for each data frame in receive order. Returns frames delivered.
    pub fn poll<F>(&mut self, now_ns: u64, mut on_frame: F) -> Result<usize, WsError>
    where
        F: FnMut(&FrameMeta, &[u8]),
    {
        match self
            .poll
            .poll(&mut self.mio_events, Some(std::time::Duration::ZERO))
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(WsError::Poll { source }),
        }
        for event in self.mio_events.iter() {
            let id = event.token().0 as u64;
            for slot in &mut self.slots {
                for live in [slot.active.as_mut(), slot.standby.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if live.id() == id {
                        live.ready = true;
                    }
                }
            }
        }
        let before = self.counters.frames;
        for index in 0..self.slots.len() {
            self.poll_slot(index, now_ns, &mut on_frame);
        }
        Ok((self.counters.frames - before) as usize)
    }
}
