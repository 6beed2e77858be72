//! After warm-up, reading the backtester's inputs makes no heap allocation per item: the
//! bundled spot capture through the live feed's frame handling, a data.binance.vision trades
//! archive (gzip) and a candle file, merged; counted by a per-thread counting allocator.

mod alloc_support;

use std::io::Write;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::backtest::input::{open_inputs, InputOptions, InputSpec, MarketInput};
use kestrel::core::SymbolTable;

/// Items read to warm up (buffers grown, books filled) before counting.
const WARM_ITEMS: u64 = 5_000;

fn allocations_after_warm_up(input: &mut dyn MarketInput) -> (u64, u64) {
    let mut items = 0u64;
    let mut before = 0;
    while let Some(item) = input.next_item().expect("input reads") {
        std::hint::black_box(item);
        items += 1;
        if items == WARM_ITEMS {
            before = thread_allocs();
        }
    }
    assert!(items > WARM_ITEMS, "only {items} items");
    (thread_allocs() - before, items - WARM_ITEMS)
}

#[test]
fn reading_captures_archives_and_candles_allocates_nothing_per_item() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut csv = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..50_000u64 {
        writeln!(
            csv,
            "{},6183{}.5,0.01,618.3,{},{}",
            i + 1,
            i % 10,
            1_723_161_254_000 + i * 7,
            i % 3 == 0
        )
        .expect("write");
    }
    let archive = dir.path().join("BTCUSDT-trades-2024-08-08.csv.gz");
    std::fs::write(&archive, csv.finish().expect("gzip")).expect("write");
    let mut candles = String::from("[");
    for i in 0..5_000u64 {
        if i > 0 {
            candles.push(',');
        }
        candles.push_str(&format!(
            "[{}, 61800.5, 61900, 61700.25, 61850, 12.5e-1]",
            1_723_161_240_000 + i * 60_000
        ));
    }
    candles.push(']');
    let candle_file = dir.path().join("BTCUSDT-1m.json");
    std::fs::write(&candle_file, candles).expect("write");

    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("symbol");
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance_spot_btcusdt_20240808.gz");
    let specs = [
        InputSpec::new(capture),
        InputSpec::new(archive),
        InputSpec::new(candle_file),
    ];
    let mut input = open_inputs(&specs, &table, &InputOptions::default()).expect("opens");
    let (allocations, items) = allocations_after_warm_up(&mut input);
    assert!(items > 100_000, "{items} items counted");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations over {items} items"
    );
}
