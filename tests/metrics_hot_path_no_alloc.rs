//! Hot-thread metric updates — counters, gauges, `record_ns` and `publish` with the ops side
//! collecting in between — neither allocate nor free once the hand-off ring has cycled.

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::engine::metrics::LATENCY_BUCKETS_US;
use kestrel::ops::Registry;

/// Runs `f` and returns how many heap allocations this thread made inside it.
fn heap_ops_in(f: impl FnOnce()) -> u64 {
    let before = thread_allocs();
    f();
    thread_allocs() - before
}

#[test]
fn hot_updates_and_histogram_publish_do_not_allocate_after_warm_up() {
    let mut registry = Registry::new();
    let counter = registry
        .counter("hot_events_total", "test", &[("venue", "binance")])
        .expect("valid counter");
    let gauge = registry
        .gauge("hot_depth", "test", &[])
        .expect("valid gauge");
    let mut recorder = registry
        .latency_histogram("hot_latency_seconds", "test", &[], &LATENCY_BUCKETS_US)
        .expect("valid histogram");

    // Warm-up: cycle every pre-allocated histogram through both rings once.
    for i in 0..16 {
        recorder.record_ns(1_000 + i);
        assert!(recorder.publish());
        registry.collect();
    }

    let probe = heap_ops_in(|| drop(std::hint::black_box(vec![1u8; 8])));
    assert!(
        probe > 0,
        "the counting allocator sees this thread's allocations"
    );

    let mut recorded = 16u64;
    let mut total_ops = 0;
    for round in 0..1_000u64 {
        total_ops += heap_ops_in(|| {
            for i in 0..50 {
                counter.inc();
                gauge.set(i);
                gauge.add(1);
                recorder.record_ns(round * 1_000 + i as u64 * 37);
            }
            assert!(recorder.publish(), "ops collected, a spare is back");
        });
        recorded += 50;
        registry.collect();
    }
    assert_eq!(total_ops, 0, "hot-path metric updates touched the heap");
    assert_eq!(counter.get(), 50_000);
    let summary = registry
        .latency_quantiles("hot_latency_seconds")
        .expect("registered");
    assert_eq!(summary.count, recorded);
}
