//! Owns: the human renderings of decoded entries (one-line `Display`, JSON objects, UTC time
//! text). Never: used on the engine's hot path (tools only; allocation is fine here).

use std::fmt;

use serde_json::{json, Value};

use super::JournalEntry;
use crate::core::{ClientOrderId, IntentAction, Price};

/// Exact decimal text of a raw 1e-18 value.
fn dec(raw: i128) -> String {
    Price::from_raw(raw).to_string()
}

fn coid(id: ClientOrderId) -> String {
    if id.0 == 0 {
        String::new()
    } else {
        id.to_string()
    }
}

/// Up to `max` bytes shown as text when printable, else as hex.
fn preview(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let more = if bytes.len() > max { "…" } else { "" };
    match std::str::from_utf8(shown) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s}{more}"),
        _ => {
            let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}{more}")
        }
    }
}

impl JournalEntry {
    /// The entry as a JSON object with a `type` field and its decoded fields (decimals as
    /// exact strings, binary bodies as text when valid UTF-8, else hex).
    pub fn to_json(&self) -> Value {
        let kind = self.kind().name();
        match self {
            JournalEntry::Intent { symbol, intent: i } => json!({
                "type": kind, "symbol": symbol, "side": i.side.as_str(),
                "order_type": i.order_type.as_str(), "time_in_force": i.time_in_force.as_str(),
                "reduce_only": i.reduce_only, "price": dec(i.price.raw()),
                "qty": dec(i.qty.raw()), "strategy": i.strategy.0, "intent_seq": i.intent_seq,
                "symbol_id": i.symbol.0, "cause_recv_ns": i.cause_recv_ns,
                "action": i.action.as_str(), "target": coid(i.target),
                "stop_loss": dec(i.stop_loss.raw()), "take_profit": dec(i.take_profit.raw()),
            }),
            JournalEntry::Update { symbol, update: u } => json!({
                "type": kind, "symbol": symbol, "client_order_id": coid(u.client_order_id),
                "status": u.status.as_str(), "side": u.side.as_str(),
                "filled_qty": dec(u.filled_qty.raw()), "venue_order_id": u.venue_order_id,
                "reject_code": u.reject_code, "strategy": u.strategy.0, "symbol_id": u.symbol.0,
                "order_type": u.order_type.as_str(), "time_in_force": u.time_in_force.as_str(),
                "role": u.role.as_str(), "reduce_only": u.reduce_only,
                "price": dec(u.price.raw()), "trigger_price": dec(u.trigger_price.raw()),
                "qty": dec(u.qty.raw()), "parent": coid(u.parent),
            }),
            JournalEntry::Fill { symbol, fill: f } => json!({
                "type": kind, "symbol": symbol, "side": f.side.as_str(),
                "price": dec(f.price.raw()), "qty": dec(f.qty.raw()), "fee": dec(f.fee.raw()),
                "client_order_id": coid(f.client_order_id), "venue_trade_id": f.venue_trade_id,
                "is_maker": f.is_maker, "strategy": f.strategy.0, "symbol_id": f.symbol.0,
            }),
            JournalEntry::Risk { symbol, event: r } => json!({
                "type": kind, "symbol": symbol, "code": r.code, "strategy": r.strategy.0,
                "client_order_id": coid(r.client_order_id),
                "observed": dec(r.observed.raw()), "limit": dec(r.limit.raw()),
            }),
            JournalEntry::TradingState { change, cause } => json!({
                "type": kind, "from": change.from.as_str(), "to": change.to.as_str(),
                "cause_code": change.cause_code, "cause": cause,
            }),
            JournalEntry::Snapshot {
                component,
                as_of_seq,
                body,
            } => json!({
                "type": kind, "component": component, "as_of_seq": as_of_seq,
                "bytes": body.len(), "body": preview(body, usize::MAX),
            }),
            JournalEntry::MarketFrame {
                tag,
                recv_ns,
                bytes,
            } => json!({
                "type": kind, "tag": tag, "recv_ns": recv_ns, "bytes": bytes.len(),
                "frame": preview(bytes, usize::MAX),
            }),
            JournalEntry::Note { text } => json!({ "type": kind, "text": text }),
            JournalEntry::Session(s) => json!({
                "type": kind, "session": s.session, "wall_ns": s.wall_ns, "pid": s.pid,
                "wall": format_utc_ns(s.wall_ns),
            }),
        }
    }
}

impl fmt::Display for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind().name();
        match self {
            JournalEntry::Intent { symbol, intent: i } => {
                match i.action {
                    IntentAction::New => write!(
                        f,
                        "{kind:<8} {symbol} {} {} {} @ {} {}{}",
                        i.side.as_str(),
                        i.order_type.as_str(),
                        i.qty,
                        i.price,
                        i.time_in_force.as_str(),
                        if i.reduce_only { " reduce-only" } else { "" },
                    )?,
                    IntentAction::Cancel => write!(f, "{kind:<8} {symbol} CANCEL {}", i.target)?,
                    IntentAction::CancelAll => write!(f, "{kind:<8} {symbol} CANCEL_ALL")?,
                    IntentAction::Rebracket => {
                        write!(f, "{kind:<8} {symbol} REBRACKET {}", i.target)?
                    }
                }
                if !i.stop_loss.is_zero() {
                    write!(f, " sl={}", i.stop_loss)?;
                }
                if !i.take_profit.is_zero() {
                    write!(f, " tp={}", i.take_profit)?;
                }
                write!(f, " strat={} intent={}", i.strategy.0, i.intent_seq)
            }
            JournalEntry::Update { symbol, update: u } => {
                write!(
                    f,
                    "{kind:<8} {symbol} {} {} {} {} {} {}/{} @ {} venue_id={}",
                    u.client_order_id,
                    u.role.as_str(),
                    u.side.as_str(),
                    u.order_type.as_str(),
                    u.status.as_str(),
                    u.filled_qty,
                    u.qty,
                    if u.trigger_price.is_zero() {
                        u.price
                    } else {
                        u.trigger_price
                    },
                    u.venue_order_id
                )?;
                if u.parent.0 != 0 {
                    write!(f, " parent={}", u.parent)?;
                }
                if u.reject_code != 0 {
                    write!(f, " reject={}", u.reject_code)?;
                }
                write!(f, " strat={}", u.strategy.0)
            }
            JournalEntry::Fill { symbol, fill: x } => write!(
                f,
                "{kind:<8} {symbol} {} {} @ {} fee={} {} trade={} {} strat={}",
                x.side.as_str(),
                x.qty,
                x.price,
                x.fee,
                x.client_order_id,
                x.venue_trade_id,
                if x.is_maker { "maker" } else { "taker" },
                x.strategy.0
            ),
            JournalEntry::Risk { symbol, event: r } => write!(
                f,
                "{kind:<8} {symbol} code={} ({}) observed={} limit={} order={} strat={}",
                r.code,
                crate::risk::codes::name(r.code),
                dec(r.observed.raw()),
                dec(r.limit.raw()),
                coid(r.client_order_id),
                r.strategy.0
            ),
            JournalEntry::TradingState { change, cause } => write!(
                f,
                "{kind:<8} {} -> {} cause={} {cause}",
                change.from.as_str(),
                change.to.as_str(),
                change.cause_code
            ),
            JournalEntry::Snapshot {
                component,
                as_of_seq,
                body,
            } => write!(
                f,
                "{kind:<8} {component} as_of={as_of_seq} {} bytes",
                body.len()
            ),
            JournalEntry::MarketFrame {
                tag,
                recv_ns,
                bytes,
            } => write!(
                f,
                "{kind:<8} {tag} recv_ns={recv_ns} {} bytes {}",
                bytes.len(),
                preview(bytes, 80)
            ),
            JournalEntry::Note { text } => write!(f, "{kind:<8} {}", text.escape_debug()),
            JournalEntry::Session(s) => write!(
                f,
                "{kind:<8} session={} started {} pid={}",
                s.session,
                format_utc_ns(s.wall_ns),
                s.pid
            ),
        }
    }
}

/// Formats Unix-epoch nanoseconds as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC).
pub fn format_utc_ns(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for every u64 input here.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_instants() {
        assert_eq!(format_utc_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_utc_ns(1_795_000_000_123_456_789),
            "2026-11-18T11:06:40.123456789Z"
        );
        assert_eq!(
            format_utc_ns(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
