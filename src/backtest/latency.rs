//! Owns: turning a kestrel journal into the order round trips the paper venue replays as
//! recorded latencies (`PaperVenue::set_recorded_latency`). Never: writes the journal or
//! guesses a sample it did not see.
//!
//! A round trip is, per client order id, the time from the order's first `PendingNew`
//! update to the first venue answer about it: a `New`, `PartiallyFilled`, `Filled`,
//! `Rejected` or `Expired` update, or a fill record, whichever the journal holds first.
//! Times are the records' `event_ns` (the order stage's monotonic clock when it journaled).
//! The journal sees only the sum, so each round trip is split half entry (rounded down),
//! half report (the rest): `(rt / 2, rt − rt / 2)`. Samples come in the order of the orders'
//! `PendingNew` records; orders never answered (still open at the end of the journal,
//! canceled before an answer) and local rejects (client order id 0) give none.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use crate::core::{ClientOrderId, OrderStatus};
use crate::persist::payload::JournalEntry;
use crate::persist::JournalReader;

/// True for the order states only a venue answer produces (what ends a round trip, with a
/// fill); `PendingCancel` and `Canceled` can be the engine's own before any answer.
pub fn is_venue_answer(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::New
            | OrderStatus::PartiallyFilled
            | OrderStatus::Filled
            | OrderStatus::Rejected
            | OrderStatus::Expired
    )
}

/// One order's request time and, once seen, its first answer's time.
struct Trip {
    sent_ns: u64,
    answered_ns: Option<u64>,
}

/// The `(entry ns, report ns)` round trips of the orders journaled in `journal_dir`, in the
/// order the orders were sent; an error when the journal cannot be read or holds none.
pub fn recorded_round_trips(journal_dir: &Path) -> anyhow::Result<Vec<(u64, u64)>> {
    if !journal_dir.is_dir() {
        bail!(
            "reading round trips: journal directory {} does not exist",
            journal_dir.display()
        );
    }
    let mut reader = JournalReader::open(journal_dir, 0)
        .with_context(|| format!("opening journal {}", journal_dir.display()))?;
    let mut trips: Vec<Trip> = Vec::new();
    let mut by_order: HashMap<ClientOrderId, usize> = HashMap::new();
    while let Some(record) = reader.next() {
        let record =
            record.with_context(|| format!("reading journal {}", journal_dir.display()))?;
        let event_ns = record.event_ns;
        let entry = record
            .decode()
            .with_context(|| format!("decoding journal {}", journal_dir.display()))?;
        let (client_order_id, is_request) = match entry {
            JournalEntry::Update { update, .. } => {
                if update.status == OrderStatus::PendingNew {
                    (update.client_order_id, true)
                } else if is_venue_answer(update.status) {
                    (update.client_order_id, false)
                } else {
                    continue;
                }
            }
            JournalEntry::Fill { fill, .. } => (fill.client_order_id, false),
            _ => continue,
        };
        if client_order_id.0 == 0 {
            continue;
        }
        match (by_order.get(&client_order_id), is_request) {
            (None, true) => {
                by_order.insert(client_order_id, trips.len());
                trips.push(Trip {
                    sent_ns: event_ns,
                    answered_ns: None,
                });
            }
            (Some(&index), false) => {
                let trip = &mut trips[index];
                trip.answered_ns.get_or_insert(event_ns);
            }
            _ => {}
        }
    }
    let samples: Vec<(u64, u64)> = trips
        .iter()
        .filter_map(|trip| {
            let round_trip = trip.answered_ns?.saturating_sub(trip.sent_ns);
            let entry = round_trip / 2;
            Some((entry, round_trip - entry))
        })
        .collect();
    if samples.is_empty() {
        bail!(
            "no round trips in journal {}: no order there has both a PENDING_NEW update and \
             a venue answer",
            journal_dir.display()
        );
    }
    Ok(samples)
}
