//! The engine's threads carry every event feed → strat → oms → persist exactly once and in
//! order, in both layouts, and the journal holds one intent record per market event.

mod engine_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engine_support::{
    run_engine, symbols, test_settings, EchoStrategy, JournalingOrders, SyntheticSource,
};
use kestrel::engine::{self, Components, Layout};
use kestrel::persist::payload::JournalEntry;
use kestrel::persist::{JournalConfig, JournalReader, JournalWriter};

/// Runs `total` events through the engine and checks the journal; returns exec events seen.
fn run_and_check(layout: Layout, total: u64) -> u64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut jcfg = JournalConfig::new(dir.path());
    // Small segments so the run crosses several rollovers.
    jcfg.segment_bytes = 16 << 20;
    let (journal, recovery) = JournalWriter::open(&jcfg).expect("open journal");
    assert_eq!(recovery.records, 0);

    let exec_seen = Arc::new(AtomicU64::new(0));
    let market_seen = Arc::new(AtomicU64::new(0));
    let components = || Components {
        source: SyntheticSource::new(total, 7),
        strategy: EchoStrategy {
            exec_seen: Arc::clone(&exec_seen),
            probe: None,
            total,
        },
        orders: JournalingOrders {
            probe: None,
            total,
            market_seen: Arc::clone(&market_seen),
        },
        journal,
        symbols: symbols(7),
        stream_names: vec!["synthetic".to_owned()],
    };
    let (report, registry) = run_engine(&test_settings(layout, false), components);
    assert_eq!(report.market_events, total);
    assert_eq!(report.intents, total);
    assert_eq!(report.journal_records, total);
    assert_eq!(
        market_seen.load(Ordering::Relaxed),
        total,
        "the order stage saw every market event"
    );

    let mut reader = JournalReader::open(dir.path(), 0).expect("open reader");
    let mut expected_intent = 1u64;
    let mut last_seq = None;
    while let Some(record) = reader.next() {
        let record = record.expect("every record checks");
        if let Some(prev) = last_seq {
            assert_eq!(record.seq, prev + 1, "journal sequence has a gap");
        }
        last_seq = Some(record.seq);
        match record.decode().expect("payload decodes") {
            JournalEntry::Intent { symbol, intent } => {
                assert_eq!(
                    intent.intent_seq, expected_intent,
                    "intent out of order or duplicated"
                );
                assert_eq!(symbol, format!("SYM{}USDT", expected_intent % 7));
                expected_intent += 1;
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(
        expected_intent,
        total + 1,
        "every intent arrived exactly once"
    );
    let quantiles = registry
        .latency_quantiles(engine::metrics::TICK_TO_ORDER)
        .expect("tick-to-order histogram registered");
    assert_eq!(
        quantiles.count, total,
        "one tick-to-order sample per intent"
    );
    exec_seen.load(Ordering::Relaxed)
}

#[test]
fn one_million_events_reach_the_journal_once_and_in_order_threaded() {
    let total = 1_000_000;
    let exec = run_and_check(Layout::Threads, total);
    // The strategy stays until the order stage is done, so it hears every acknowledgement.
    assert_eq!(exec, total, "every acknowledgement reached the strategy");
}

#[test]
fn fused_layout_carries_every_event_and_acknowledgement() {
    let total = 200_000;
    let exec = run_and_check(Layout::Fused, total);
    assert_eq!(
        exec, total,
        "the fused loop delivers every acknowledgement inline"
    );
}
