//! Owns: the persist thread's loop: journal messages and captured frames in, journal
//! records out, periodic maintenance, final flush. Never: runs trading logic or blocks a
//! hot thread (it only consumes rings).

use crate::core::clock::{mono_ns, wall_ns};
use crate::core::SymbolTable;
use crate::ops::{Counter, LatencyRecorder};
use crate::persist::{payload, JournalWriter, RecordType};

use super::journal_msg::NOTE_MAX;
use super::ring::{split_snapshot, FrameRx, RingRx};
use super::shutdown::{Shutdown, Stage};
use super::wait::{Backoff, WaitStrategy};
use super::JournalMsg;

/// How often the writer pre-faults ahead and applies the timed flush policy.
const MAINTAIN_EVERY_NS: u64 = 1_000_000;
/// Records appended per input before looking at the other input.
const BATCH: usize = 1024;
/// Symbol name written when an id is unknown to the persist thread's table.
const UNKNOWN_SYMBOL: &str = "?";

/// Counters the persist thread updates.
#[derive(Clone)]
pub struct PersistMetrics {
    pub records: Counter,
    pub bytes: Counter,
    pub frames: Counter,
    pub errors: Counter,
}

/// The rings the persist thread drains, and the names behind the ids they carry.
pub struct PersistInputs {
    pub journal: RingRx<JournalMsg>,
    pub frames: FrameRx,
    /// Strategy state snapshots (see `ring::SnapshotTx`).
    pub snapshots: FrameRx,
    pub symbols: SymbolTable,
    /// Capture stream names, indexed by a frame's stream tag.
    pub stream_names: Vec<String>,
}

/// Stream name written when a frame's tag has no entry in `stream_names`.
const UNKNOWN_STREAM: &str = "unknown";
/// Fixed bytes of a market-frame payload besides the stream name and the frame.
const FRAME_PAYLOAD_OVERHEAD: usize = 14;

/// Runs until the order, feed and strategy stages are done and every ring is empty, then closes the
/// journal (final flush). A journal write error fails the whole run: the engine must not
/// trade on without a record of what it does.
pub fn run_persist(
    mut writer: JournalWriter,
    mut inputs: PersistInputs,
    metrics: PersistMetrics,
    mut journal_lag: LatencyRecorder,
    wait: WaitStrategy,
    shutdown: &Shutdown,
) {
    let mut backoff = Backoff::new(wait);
    let mut payload_buf = vec![0u8; payload::MAX_FIXED_PAYLOAD.max(NOTE_MAX + 8)];
    let mut frame_buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut frame_payload: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut next_maintain = 0u64;
    // A wall-clock offset taken once keeps per-record stamps to one monotonic read.
    let wall_offset = wall_ns().saturating_sub(mono_ns());
    let mut failed = false;
    loop {
        let mut worked = false;
        for _ in 0..BATCH {
            let Some(msg) = inputs.journal.pop() else {
                break;
            };
            worked = true;
            let (kind, event_mono_ns, encoded) = encode(&msg, &inputs.symbols, &mut payload_buf);
            let event_ns = event_mono_ns.saturating_add(wall_offset);
            let Ok(len) = encoded else {
                // Sizes are fixed at compile time; count rather than lose the thread.
                metrics.errors.inc();
                continue;
            };
            if !append(&mut writer, kind, event_ns, &payload_buf[..len], &metrics) {
                failed = true;
                break;
            }
        }
        for _ in 0..BATCH {
            if failed {
                break;
            }
            let Some(meta) = inputs.frames.pop_frame(&mut frame_buf) else {
                break;
            };
            worked = true;
            let stream = inputs
                .stream_names
                .get(meta.stream_tag as usize)
                .map_or(UNKNOWN_STREAM, String::as_str);
            frame_payload.clear();
            frame_payload.resize(FRAME_PAYLOAD_OVERHEAD + stream.len() + frame_buf.len(), 0);
            let Ok(len) =
                payload::encode_market_frame(stream, meta.recv_ns, &frame_buf, &mut frame_payload)
            else {
                metrics.errors.inc();
                continue;
            };
            metrics.frames.inc();
            journal_lag.record_ns(mono_ns().saturating_sub(meta.recv_ns));
            let event_ns = meta.recv_ns.saturating_add(wall_offset);
            if !append(
                &mut writer,
                RecordType::MarketFrame,
                event_ns,
                &frame_payload[..len],
                &metrics,
            ) {
                failed = true;
            }
        }
        while !failed {
            let Some(_) = inputs.snapshots.pop_frame(&mut frame_buf) else {
                break;
            };
            worked = true;
            let Some((component, body)) = split_snapshot(&frame_buf) else {
                metrics.errors.inc();
                continue;
            };
            frame_payload.clear();
            frame_payload.resize(FRAME_PAYLOAD_OVERHEAD + component.len() + body.len(), 0);
            let as_of = writer.next_seq().saturating_sub(1);
            let Ok(len) = payload::encode_snapshot(component, as_of, body, &mut frame_payload)
            else {
                metrics.errors.inc();
                continue;
            };
            let event_ns = mono_ns().saturating_add(wall_offset);
            if !append(
                &mut writer,
                RecordType::Snapshot,
                event_ns,
                &frame_payload[..len],
                &metrics,
            ) {
                failed = true;
            }
        }
        if failed {
            shutdown.fail();
            break;
        }
        let now = mono_ns();
        if now >= next_maintain {
            if writer.maintain(now).is_err() {
                metrics.errors.inc();
                shutdown.fail();
                break;
            }
            inputs.journal.sample_depth();
            journal_lag.publish();
            next_maintain = now + MAINTAIN_EVERY_NS;
        }
        if worked {
            backoff.reset();
            continue;
        }
        let producers_done = shutdown.is_done(Stage::Oms) && shutdown.is_done(Stage::Feed);
        let strat_done = shutdown.is_done(Stage::Strat);
        if (producers_done
            && strat_done
            && inputs.journal.is_empty()
            && inputs.frames.is_empty()
            && inputs.snapshots.is_empty())
            || shutdown.failed()
        {
            break;
        }
        backoff.idle();
    }
    journal_lag.publish();
    if writer.close().is_err() {
        metrics.errors.inc();
        shutdown.fail();
    }
}

#[inline]
fn append(
    writer: &mut JournalWriter,
    kind: RecordType,
    event_ns: u64,
    bytes: &[u8],
    metrics: &PersistMetrics,
) -> bool {
    match writer.append(kind, event_ns, bytes) {
        Ok(_) => {
            metrics.records.inc();
            metrics.bytes.add(bytes.len() as u64);
            true
        }
        Err(_) => {
            metrics.errors.inc();
            false
        }
    }
}

fn symbol_name(symbols: &SymbolTable, id: crate::core::SymbolId) -> &str {
    symbols.name(id).unwrap_or(UNKNOWN_SYMBOL)
}

/// Encodes one message into `buf` (at least `payload::MAX_FIXED_PAYLOAD` bytes, or the
/// note's length); returns its record type, event time and length. The persist thread's
/// codec, public so tools and tests write journals exactly as the engine does.
pub fn encode(
    msg: &JournalMsg,
    symbols: &SymbolTable,
    buf: &mut [u8],
) -> (RecordType, u64, Result<usize, payload::PayloadError>) {
    match msg {
        JournalMsg::Intent { event_ns, intent } => (
            RecordType::OrderIntent,
            *event_ns,
            Ok(payload::encode_intent(
                intent,
                symbol_name(symbols, intent.symbol),
                buf,
            )),
        ),
        JournalMsg::Update { event_ns, update } => (
            RecordType::OrderUpdate,
            *event_ns,
            Ok(payload::encode_update(
                update,
                symbol_name(symbols, update.symbol),
                buf,
            )),
        ),
        JournalMsg::Fill { event_ns, fill } => (
            RecordType::Fill,
            *event_ns,
            Ok(payload::encode_fill(
                fill,
                symbol_name(symbols, fill.symbol),
                buf,
            )),
        ),
        JournalMsg::Risk {
            event_ns,
            symbol,
            event,
        } => (
            RecordType::RiskEvent,
            *event_ns,
            Ok(payload::encode_risk_event(
                event,
                symbol.map_or("", |id| symbol_name(symbols, id)),
                buf,
            )),
        ),
        JournalMsg::State { event_ns, change } => (
            RecordType::TradingState,
            *event_ns,
            Ok(payload::encode_trading_state(
                change,
                crate::risk::codes::name(change.cause_code),
                buf,
            )),
        ),
        JournalMsg::Note {
            event_ns,
            len,
            text,
        } => {
            let text = std::str::from_utf8(&text[..*len as usize]).unwrap_or("");
            (
                RecordType::OperatorNote,
                *event_ns,
                payload::encode_note(text, buf),
            )
        }
    }
}
