//! `kestrel paper --probe` end to end: a first run trades the probe strategy on the paper venue
//! against the in-process simulator and journals it; a second run on the same journal
//! rebuilds orders and positions, restores the open bracket at the venue and continues.
//! Afterwards the journal verifies, every fill appears once, and the position implied by
//! the journaled fills is covered by the open bracket orders.

use std::collections::HashSet;
use std::process::Command;

use kestrel::core::{OrderRole, OrderStatus, Side};
use kestrel::persist::payload::JournalEntry;
use kestrel::persist::JournalReader;

mod cli_support;
use cli_support::{verify, KESTREL};

fn paper(journal: &std::path::Path, seconds: &str) -> String {
    let out = Command::new(KESTREL)
        .args([
            "paper",
            "--probe",
            "--quiet",
            "--speed",
            "20",
            "--metrics",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
        ])
        .args(["--duration", seconds])
        .arg("--journal")
        .arg(journal)
        .output()
        .expect("run kestrel paper");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kestrel paper failed: {text}");
    text
}

#[test]
fn paper_runs_journals_and_continues_on_the_same_journal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("journal");
    let first = paper(&journal, "8");
    assert!(first.contains("session 1"), "{first}");
    assert!(first.contains("kestrel paper: done:"), "{first}");
    let second = paper(&journal, "6");
    assert!(second.contains("session 2"), "{second}");
    assert!(
        !second.contains(" 0 fills replayed"),
        "the second run rebuilt from the first one's fills: {second}"
    );
    verify(&journal);

    let mut reader = JournalReader::open(&journal, 0).expect("journal opens");
    let mut trade_ids = HashSet::new();
    let mut position: i128 = 0;
    let mut last_state = std::collections::HashMap::new();
    while let Some(record) = reader.next() {
        match record.expect("record checks").decode().expect("decodes") {
            JournalEntry::Fill { fill, .. } => {
                assert!(
                    trade_ids.insert(fill.venue_trade_id),
                    "trade {} journaled twice",
                    fill.venue_trade_id
                );
                position += match fill.side {
                    Side::Buy => fill.qty.raw(),
                    Side::Sell => -fill.qty.raw(),
                };
            }
            JournalEntry::Update { update, .. } if update.client_order_id.0 != 0 => {
                last_state.insert(update.client_order_id, update);
            }
            _ => {}
        }
    }
    assert!(trade_ids.len() >= 2, "the probe traded: {first}{second}");
    assert!(position >= 0, "the probe only buys then exits");
    let protecting: i128 = last_state
        .values()
        .filter(|u| u.role == OrderRole::StopLoss && !u.status.is_final())
        .map(|u| u.qty.raw() - u.filled_qty.raw())
        .sum();
    assert_eq!(
        protecting,
        position,
        "whatever is held is covered by an open stop (final states: {:?})",
        last_state
            .values()
            .filter(|u| !u.status.is_final())
            .collect::<Vec<_>>()
    );
    assert!(last_state
        .values()
        .all(|u| u.status != OrderStatus::PendingNew || u.role == OrderRole::Entry));
}
