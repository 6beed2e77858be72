//! Owns: the per-slot decisions of a `WsFeed` — when to connect, reconnect, declare a stream
//! stale, rotate, and send SUBSCRIBE/UNSUBSCRIBE — all from the `now_ns` passed in. Never: reads
//! the clock for a decision, blocks, or delivers a frame out of receive order.

use super::backoff::ReconnectBackoff;
use super::conn::WsConnection;
use super::feed::{DisconnectReason, EventLog, FrameMeta, WsCounters, WsEvent, WsFeed};
use super::plan::{combined_stream_url, control_message};
use super::{ControlMethod, WsError};

/// Derived settings in nanoseconds (0 disables stale detection, rotation and ping checks).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) stale_ns: u64,
    pub(super) connect_timeout_ns: u64,
    pub(super) rotate_after_ns: u64,
    pub(super) ping_overdue_ns: u64,
    pub(super) pong_deadline_ns: u64,
    pub(super) control_interval_ns: u64,
    pub(super) rotation_retry_ns: u64,
}

/// A connection plus what the policy tracks about it.
#[derive(Debug)]
pub(super) struct Live {
    conn: WsConnection,
    started_ns: u64,
    opened_ns: Option<u64>,
    last_data_ns: u64,
    last_ping_ns: u64,
    ping_overdue_reported: bool,
    write_pending_since_ns: Option<u64>,
    subscribed: Vec<String>,
    synced_version: u64,
    last_control_ns: Option<u64>,
    data_frames: u64,
    pub(super) ready: bool,
}

impl Live {
    /// The connection's id.
    pub(super) fn id(&self) -> u64 {
        self.conn.id()
    }

    /// True once its handshake completed and until it closes.
    pub(super) fn is_open(&self) -> bool {
        self.conn.is_open()
    }

    /// Queues a text message on the connection (see `WsConnection::send_text`).
    pub(super) fn send_text(&mut self, text: String) -> Result<(), WsError> {
        self.conn.send_text(text)
    }
}

/// One stream group and its connections.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) streams: Vec<String>,
    pub(super) version: u64,
    pub(super) active: Option<Live>,
    pub(super) standby: Option<Live>,
    pub(super) backoff: ReconnectBackoff,
    pub(super) next_attempt_ns: Option<u64>,
    pub(super) next_rotation_ns: u64,
    pub(super) rotate_requested: bool,
    pub(super) endpoint_rotor: usize,
    pub(super) last_error: Option<WsError>,
}

/// A connection ended: why, and the error if there was one.
type Ended = Option<(DisconnectReason, Option<WsError>)>;

/// Closes a connection and records its end.
pub(super) fn end_live(
    mut live: Live,
    slot: u16,
    reason: DisconnectReason,
    counters: &mut WsCounters,
    events: &mut EventLog,
) {
    live.conn.close();
    let was_open = live.opened_ns.is_some();
    if was_open {
        counters.disconnects += 1;
    } else {
        counters.connect_failures += 1;
    }
    events.push(WsEvent::Disconnected {
        slot,
        conn_id: live.conn.id(),
        reason,
        was_open,
    });
}

/// The parts of a `WsFeed` one slot's step needs while its connections are borrowed.
struct Step<'a> {
    slot: u16,
    now_ns: u64,
    seq: &'a mut u64,
    counters: &'a mut WsCounters,
    events: &'a mut EventLog,
    timing: &'a Timing,
    next_request_id: &'a mut u64,
    frames_per_poll: u32,
}

/// Drives one connection, then applies its timers and brings its subscriptions in line.
fn advance<F>(
    live: &mut Live,
    standby: bool,
    streams: &[String],
    version: u64,
    step: &mut Step<'_>,
    on_frame: &mut F,
) -> Ended
where
    F: FnMut(&FrameMeta, &[u8]),
{
    drive_live(live, standby, step, on_frame)
        .or_else(|| check_timers(live, step))
        .or_else(|| sync_subscriptions(live, streams, version, step))
}

/// Drives one connection's I/O and updates what the policy tracks.
fn drive_live<F>(live: &mut Live, standby: bool, step: &mut Step<'_>, on_frame: &mut F) -> Ended
where
    F: FnMut(&FrameMeta, &[u8]),
{
    let (slot, now_ns) = (step.slot, step.now_ns);
    let (seq, counters, events) = (&mut *step.seq, &mut *step.counters, &mut *step.events);
    // Open connections only do work on readiness or pending writes (edge-triggered, and each
    // drive drains to WouldBlock); connecting ones are re-checked every poll.
    if live.conn.is_open() && !live.ready && !live.conn.write_pending() {
        return None;
    }
    live.ready = false;
    let conn_id = live.conn.id();
    let result = live.conn.drive_up_to(
        step.frames_per_poll,
        &mut |kind, payload: &[u8], recv_ns| {
            *seq += 1;
            let meta = FrameMeta {
                slot,
                conn_id,
                seq: *seq,
                recv_ns,
                kind,
            };
            on_frame(&meta, payload);
        },
    );
    match result {
        Ok(report) => {
            // Stopped at the frame budget: drive it again next poll without waiting for a
            // readiness edge the poller may never report.
            live.ready = report.more;
            counters.frames += u64::from(report.frames);
            counters.bytes += report.bytes;
            counters.pings += u64::from(report.pings);
            if report.opened {
                counters.connects += 1;
                live.opened_ns = Some(now_ns);
                live.last_data_ns = now_ns;
                live.last_ping_ns = now_ns;
                events.push(WsEvent::Connected {
                    slot,
                    conn_id,
                    standby,
                });
            }
            if report.frames > 0 {
                live.last_data_ns = now_ns;
                live.data_frames += u64::from(report.frames);
            }
            if report.pings > 0 {
                live.last_ping_ns = now_ns;
                live.ping_overdue_reported = false;
            }
            report
                .closed_by_server
                .then_some((DisconnectReason::ServerClosed, None))
        }
        Err(e) => {
            count_error(counters, &e);
            Some((DisconnectReason::Error, Some(e)))
        }
    }
}

/// Applies the connect, stale, ping and write-stall timers to one connection.
fn check_timers(live: &mut Live, step: &mut Step<'_>) -> Ended {
    let (slot, now_ns, timing) = (step.slot, step.now_ns, step.timing);
    let (counters, events) = (&mut *step.counters, &mut *step.events);
    let conn_id = live.conn.id();
    let Some(_) = live.opened_ns else {
        if now_ns.saturating_sub(live.started_ns) >= timing.connect_timeout_ns {
            let err = WsError::ConnectTimeout {
                url: live.conn.url().to_owned(),
                peer: live.conn.peer(),
                phase: live.conn.phase(),
            };
            count_error(counters, &err);
            return Some((DisconnectReason::ConnectTimeout, Some(err)));
        }
        return None;
    };
    let silent_ns = now_ns.saturating_sub(live.last_data_ns);
    if timing.stale_ns > 0 && silent_ns >= timing.stale_ns {
        counters.stale_timeouts += 1;
        events.push(WsEvent::StaleTimeout {
            slot,
            conn_id,
            silent_ns,
        });
        return Some((DisconnectReason::Stale, None));
    }
    let ping_silent_ns = now_ns.saturating_sub(live.last_ping_ns);
    if timing.ping_overdue_ns > 0
        && ping_silent_ns >= timing.ping_overdue_ns
        && !live.ping_overdue_reported
    {
        live.ping_overdue_reported = true;
        counters.pings_overdue += 1;
        events.push(WsEvent::PingOverdue {
            slot,
            conn_id,
            silent_ns: ping_silent_ns,
        });
    }
    if live.conn.write_pending() {
        let since = *live.write_pending_since_ns.get_or_insert(now_ns);
        if timing.pong_deadline_ns > 0 && now_ns.saturating_sub(since) >= timing.pong_deadline_ns {
            return Some((DisconnectReason::WriteStalled, None));
        }
    } else {
        live.write_pending_since_ns = None;
    }
    None
}

/// Sends at most one paced SUBSCRIBE or UNSUBSCRIBE to bring `live` in line with `streams`.
fn sync_subscriptions(
    live: &mut Live,
    streams: &[String],
    version: u64,
    step: &mut Step<'_>,
) -> Ended {
    let (slot, now_ns, timing) = (step.slot, step.now_ns, step.timing);
    let next_request_id = &mut *step.next_request_id;
    let (counters, events) = (&mut *step.counters, &mut *step.events);
    if !live.conn.is_open() || live.synced_version == version {
        return None;
    }
    if let Some(last) = live.last_control_ns {
        if now_ns.saturating_sub(last) < timing.control_interval_ns {
            return None;
        }
    }
    let removed: Vec<String> = live
        .subscribed
        .iter()
        .filter(|s| !streams.contains(s))
        .cloned()
        .collect();
    let (method, list) = if removed.is_empty() {
        let added: Vec<String> = streams
            .iter()
            .filter(|s| !live.subscribed.contains(s))
            .cloned()
            .collect();
        if added.is_empty() {
            live.synced_version = version;
            return None;
        }
        (ControlMethod::Subscribe, added)
    } else {
        (ControlMethod::Unsubscribe, removed)
    };
    let id = *next_request_id;
    *next_request_id += 1;
    live.last_control_ns = Some(now_ns);
    match live.conn.send_text(control_message(method, &list, id)) {
        Ok(()) => {
            counters.control_sent += 1;
            match method {
                ControlMethod::Subscribe => live.subscribed.extend(list),
                ControlMethod::Unsubscribe => live.subscribed.retain(|s| !list.contains(s)),
            }
            None
        }
        Err(WsError::WriteBufferFull { .. }) => {
            events.push(WsEvent::ControlDeferred {
                slot,
                conn_id: live.conn.id(),
            });
            None
        }
        Err(e) => {
            count_error(counters, &e);
            Some((DisconnectReason::Error, Some(e)))
        }
    }
}

impl WsFeed {
    /// Runs one slot: I/O on its connections, timers, rotation switch, (re)connects, syncs.
    pub(super) fn poll_slot<F>(&mut self, index: usize, now_ns: u64, on_frame: &mut F)
    where
        F: FnMut(&FrameMeta, &[u8]),
    {
        let slot_id = index as u16;
        self.poll_active(index, now_ns, on_frame);
        self.poll_standby(index, now_ns, on_frame);

        let Self {
            slots,
            counters,
            events,
            ..
        } = self;
        let slot = &mut slots[index];
        if slot.streams.is_empty() {
            for live in [slot.active.take(), slot.standby.take()]
                .into_iter()
                .flatten()
            {
                end_live(
                    live,
                    slot_id,
                    DisconnectReason::Unsubscribed,
                    counters,
                    events,
                );
            }
            slot.next_attempt_ns = None;
            return;
        }
        if slot.active.is_none() {
            let at = *slot.next_attempt_ns.get_or_insert(now_ns);
            if now_ns >= at {
                self.start_active(index, now_ns);
            }
            return;
        }
        self.maybe_start_rotation(index, now_ns);
    }

    /// The slot and the rest of the feed's state its step needs, borrowed apart.
    fn split_step(&mut self, index: usize, now_ns: u64) -> (&mut Slot, Step<'_>) {
        let Self {
            slots,
            counters,
            events,
            seq,
            timing,
            next_request_id,
            frames_per_poll,
            ..
        } = self;
        let step = Step {
            slot: index as u16,
            now_ns,
            seq,
            counters,
            events,
            timing,
            next_request_id,
            frames_per_poll: *frames_per_poll,
        };
        (&mut slots[index], step)
    }

    fn poll_active<F>(&mut self, index: usize, now_ns: u64, on_frame: &mut F)
    where
        F: FnMut(&FrameMeta, &[u8]),
    {
        let (slot, mut step) = self.split_step(index, now_ns);
        let Some(live) = slot.active.as_mut() else {
            return;
        };
        let ended = advance(
            live,
            false,
            &slot.streams,
            slot.version,
            &mut step,
            on_frame,
        );
        if let Some(opened_ns) = live.opened_ns {
            if slot.backoff.on_stable(opened_ns, now_ns) {
                step.events.push(WsEvent::BackoffReset { slot: step.slot });
            }
        }
        let Some((reason, err)) = ended else {
            return;
        };
        if let Some(e) = err {
            slot.last_error = Some(e);
        }
        if let Some(live) = slot.active.take() {
            end_live(live, step.slot, reason, step.counters, step.events);
        }
        if let Some(standby) = slot.standby.take() {
            // A rotation was under way: its standby carries the same streams, use it at once.
            slot.active = Some(standby);
            return;
        }
        schedule_reconnect(slot, step.slot, now_ns, step.counters, step.events);
    }

    fn poll_standby<F>(&mut self, index: usize, now_ns: u64, on_frame: &mut F)
    where
        F: FnMut(&FrameMeta, &[u8]),
    {
        let (slot, mut step) = self.split_step(index, now_ns);
        let Some(standby) = slot.standby.as_mut() else {
            return;
        };
        let ended = advance(
            standby,
            true,
            &slot.streams,
            slot.version,
            &mut step,
            on_frame,
        );
        if let Some((reason, err)) = ended {
            if let Some(e) = err {
                slot.last_error = Some(e);
            }
            if let Some(standby) = slot.standby.take() {
                end_live(standby, step.slot, reason, step.counters, step.events);
            }
            slot.next_rotation_ns = now_ns.saturating_add(step.timing.rotation_retry_ns);
            return;
        }
        // Switch only once the standby delivers and carries every stream the slot wants.
        if standby.data_frames == 0 || standby.synced_version != slot.version {
            return;
        }
        // Drain the old connection one last time so nothing it already holds is lost, then
        // close it. Frames of both may overlap; callers de-duplicate by update id.
        if let Some(old) = slot.active.as_mut() {
            old.ready = true;
            // All of it, whatever the per-poll frame budget: it is closed right after.
            step.frames_per_poll = u32::MAX;
            // Its end (if any) does not matter any more: it is being replaced.
            let _ = drive_live(old, false, &mut step, on_frame);
        }
        let (Some(old), Some(new)) = (slot.active.take(), slot.standby.take()) else {
            return;
        };
        let (old_conn, new_conn) = (old.id(), new.id());
        let reason = DisconnectReason::Rotated;
        end_live(old, step.slot, reason, step.counters, step.events);
        slot.active = Some(new);
        step.counters.rotations += 1;
        step.events.push(WsEvent::RotationCompleted {
            slot: step.slot,
            old_conn,
            new_conn,
        });
    }

    fn maybe_start_rotation(&mut self, index: usize, now_ns: u64) {
        let rotate_after_ns = self.timing.rotate_after_ns;
        let slot = &self.slots[index];
        let due = match (&slot.active, &slot.standby) {
            (Some(active), None) => active.opened_ns.is_some_and(|opened| {
                let aged = rotate_after_ns > 0 && now_ns.saturating_sub(opened) >= rotate_after_ns;
                (aged || slot.rotate_requested) && now_ns >= slot.next_rotation_ns
            }),
            _ => false,
        };
        if !due {
            return;
        }
        let earliest = self.budget.earliest_ns(now_ns);
        if earliest > now_ns {
            self.counters.attempts_deferred += 1;
            self.slots[index].next_rotation_ns = earliest;
            return;
        }
        let old_conn = slot.active.as_ref().map_or(0, Live::id);
        match self.open_live(index, now_ns, true) {
            Ok(live) => {
                self.events.push(WsEvent::RotationStarted {
                    slot: index as u16,
                    old_conn,
                    new_conn: live.id(),
                });
                let slot = &mut self.slots[index];
                slot.standby = Some(live);
                slot.rotate_requested = false;
            }
            Err(e) => {
                count_error(&mut self.counters, &e);
                let slot = &mut self.slots[index];
                slot.last_error = Some(e);
                slot.next_rotation_ns = now_ns.saturating_add(self.timing.rotation_retry_ns);
            }
        }
    }

    fn start_active(&mut self, index: usize, now_ns: u64) {
        let earliest = self.budget.earliest_ns(now_ns);
        if earliest > now_ns {
            self.counters.attempts_deferred += 1;
            self.slots[index].next_attempt_ns = Some(earliest);
            return;
        }
        match self.open_live(index, now_ns, false) {
            Ok(live) => {
                let slot = &mut self.slots[index];
                slot.active = Some(live);
                slot.next_attempt_ns = None;
            }
            Err(e) => {
                count_error(&mut self.counters, &e);
                self.counters.connect_failures += 1;
                let slot = &mut self.slots[index];
                slot.last_error = Some(e);
                schedule_reconnect(
                    slot,
                    index as u16,
                    now_ns,
                    &mut self.counters,
                    &mut self.events,
                );
            }
        }
    }

    /// Starts a connection for slot `index` to its current endpoint with its current streams.
    fn open_live(&mut self, index: usize, now_ns: u64, standby: bool) -> Result<Live, WsError> {
        let slot = &self.slots[index];
        let endpoint = &self.endpoints[slot.endpoint_rotor % self.endpoints.len()];
        let url = combined_stream_url(&endpoint.url, &slot.streams);
        let conn_id = self.next_conn_id;
        self.next_conn_id += 1;
        self.budget.record(now_ns);
        self.counters.connect_attempts += 1;
        self.events.push(WsEvent::ConnectAttempt {
            slot: index as u16,
            conn_id,
            at_ns: now_ns,
            standby,
        });
        let conn = WsConnection::connect(
            conn_id,
            url,
            endpoint,
            self.tls.clone(),
            self.ws_config,
            self.poll.registry(),
        )?;
        Ok(Live {
            conn,
            started_ns: now_ns,
            opened_ns: None,
            last_data_ns: now_ns,
            last_ping_ns: now_ns,
            ping_overdue_reported: false,
            write_pending_since_ns: None,
            subscribed: slot.streams.clone(),
            synced_version: slot.version,
            last_control_ns: None,
            data_frames: 0,
            ready: false,
        })
    }
}

/// Counts an error under protocol or I/O.
fn count_error(counters: &mut WsCounters, error: &WsError) {
    match error {
        WsError::Protocol { .. } => counters.protocol_errors += 1,
        _ => counters.io_errors += 1,
    }
}

/// Draws the next backoff delay and moves to the next endpoint (failover).
fn schedule_reconnect(
    slot: &mut Slot,
    slot_id: u16,
    now_ns: u64,
    counters: &mut WsCounters,
    events: &mut EventLog,
) {
    let attempt = slot.backoff.attempt();
    let delay_ns = slot.backoff.next_delay_ns();
    let at_ns = now_ns.saturating_add(delay_ns);
    slot.next_attempt_ns = Some(at_ns);
    slot.endpoint_rotor = slot.endpoint_rotor.wrapping_add(1);
    counters.reconnects_scheduled += 1;
    events.push(WsEvent::ReconnectScheduled {
        slot: slot_id,
        attempt,
        delay_ns,
        at_ns,
    });
}
