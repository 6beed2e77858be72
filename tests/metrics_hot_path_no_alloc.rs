//! Hot-thread metric updates — counters, gauges, `record_ns` and `publish` with the ops side
//! collecting in between — neither allocate nor free once the hand-off ring has cycled.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kestrel::engine::metrics::LATENCY_BUCKETS_US;
use kestrel::ops::Registry;

/// Counts heap operations made by the current thread while counting is switched on.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static HEAP_OPS: Cell<u64> = const { Cell::new(0) };
}

fn note_heap_op() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = HEAP_OPS.try_with(|ops| ops.set(ops.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches
// only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_heap_op();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_heap_op();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_heap_op();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_heap_op();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns how many heap operations this thread made inside it.
fn heap_ops_in(f: impl FnOnce()) -> u64 {
    HEAP_OPS.with(|ops| ops.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    HEAP_OPS.with(Cell::get)
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
