//! Hot decimal operations: venue text → fixed point, fixed point → text, price × quantity,
//! and rounding a quantity / price onto an instrument's grid.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kestrel::core::decimal::{parse_raw, write_raw, MAX_TEXT_LEN};
use kestrel::core::{Instrument, LotSizeFilter, Market, Price, PriceFilter, Qty, Side};

/// Typical wire texts: Binance spot price, short quantity, padded price, Bybit 1e-13 tick.
const TEXTS: [(&str, &str); 4] = [
    ("price_8dp", "25.35190000"),
    ("qty_4dp", "0.0024"),
    ("price_5int_8dp", "64123.45000000"),
    ("bybit_tick_13dp", "0.0000000000001"),
];

fn parse(text: &str) -> i128 {
    parse_raw(text.as_bytes()).expect("bench input is valid decimal text")
}

fn decimal_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_parse");
    for (name, text) in TEXTS {
        group.bench_function(name, |b| b.iter(|| parse_raw(black_box(text.as_bytes()))));
    }
    group.finish();
}

fn decimal_format(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal_format");
    for (name, text) in TEXTS {
        let raw = parse(text);
        group.bench_function(name, |b| {
            let mut out = [0u8; MAX_TEXT_LEN];
            b.iter(|| write_raw(black_box(raw), black_box(&mut out)))
        });
    }
    group.finish();
}

fn notional_mul(c: &mut Criterion) {
    let mut group = c.benchmark_group("notional_mul");
    let price = Price::from_raw(parse("64123.45"));
    // A small product fits 128 bits; a large one takes the 256-bit division path.
    for (name, qty) in [("btc_0.00123", "0.00123"), ("wide_2500", "2500")] {
        let qty = Qty::from_raw(parse(qty));
        group.bench_function(name, |b| {
            b.iter(|| black_box(price).notional(black_box(qty)))
        });
    }
    group.finish();
}

fn qty_round(c: &mut Criterion) {
    let mut group = c.benchmark_group("qty_round");
    let mut inst = Instrument::new("BTCUSDT", Market::UsdmFutures, "BTC", "USDT");
    inst.lot_size = LotSizeFilter {
        min_qty: Qty::from_raw(parse("0.001")),
        max_qty: Qty::from_raw(parse("1000")),
        step_size: Qty::from_raw(parse("0.001")),
    };
    inst.price_filter = PriceFilter {
        min_price: Price::from_raw(parse("556.72")),
        max_price: Price::from_raw(parse("1000000")),
        tick_size: Price::from_raw(parse("0.01")),
    };
    let qty = Qty::from_raw(parse("0.123456789"));
    let price = Price::from_raw(parse("64123.456789"));
    group.bench_function("round_qty_down", |b| {
        b.iter(|| black_box(&inst).round_qty_down(black_box(qty)))
    });
    group.bench_function("floor_to_step", |b| {
        b.iter(|| black_box(qty).floor_to(black_box(inst.lot_size.step_size)))
    });
    group.bench_function("round_price_passive_sell", |b| {
        b.iter(|| black_box(&inst).round_price(black_box(price), Side::Sell, true))
    });
    group.finish();
}

criterion_group!(
    benches,
    decimal_parse,
    decimal_format,
    notional_mul,
    qty_round
);
criterion_main!(benches);
