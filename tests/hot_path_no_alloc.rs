//! After warm-up, the feed → strat → oms path makes zero heap allocations per event, in the
//! threaded layout and in the fused layout. A counting global allocator tracks allocations
//! per thread; each stage samples its own thread's count at the warm-up mark and at the
//! last event.

mod alloc_support;
mod engine_support;

use alloc_support::CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use engine_support::{
    run_engine, symbols, test_settings, AllocProbe, EchoStrategy, JournalingOrders, SyntheticSource,
};
use kestrel::engine::{Components, Layout};
use kestrel::persist::{JournalConfig, JournalWriter};

fn allocations_after_warmup(layout: Layout) -> [u64; 3] {
    let total = 300_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let (journal, _) = JournalWriter::open(&JournalConfig::new(dir.path())).expect("open journal");
    let probe = Arc::new(AllocProbe::new(50_000, alloc_support::thread_allocs));
    let mut source = SyntheticSource::new(total, 5);
    source.probe = Some(Arc::clone(&probe));
    // Capture on: the feed also copies a raw frame per event into the byte ring.
    source.capture = true;
    let components = || Components {
        source,
        strategy: EchoStrategy {
            exec_seen: Arc::new(AtomicU64::new(0)),
            probe: Some(Arc::clone(&probe)),
            total,
        },
        orders: JournalingOrders {
            probe: Some(Arc::clone(&probe)),
            total,
            market_seen: Arc::new(AtomicU64::new(0)),
        },
        journal,
        symbols: symbols(5),
        stream_names: vec!["synthetic".to_owned()],
    };
    let (report, _) = run_engine(&test_settings(layout, true), components);
    assert!(report.frames > 0, "frames were captured");
    assert_eq!(
        report.journal_records,
        total + report.frames,
        "one intent record per event, plus frames"
    );
    probe.deltas()
}

#[test]
fn threaded_hot_path_allocates_nothing_per_event_after_warmup() {
    let [feed, strat, oms] = allocations_after_warmup(Layout::Threads);
    assert_eq!(
        (feed, strat, oms),
        (0, 0, 0),
        "allocations on feed, strat, oms threads"
    );
}

#[test]
fn fused_hot_path_allocates_nothing_per_event_after_warmup() {
    let [feed, strat, oms] = allocations_after_warmup(Layout::Fused);
    assert_eq!(
        (feed, strat, oms),
        (0, 0, 0),
        "allocations on the fused hot thread"
    );
}
