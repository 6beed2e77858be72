//! Owns: the journal benchmarks against DESIGN.md's "journal append ≤ 50 ns per record":
//! `journal_append` (64-byte payload records into a pre-faulted mmap segment, `maintain()` run
//! off the measured loop every 1024 records) and `payload_encode_fill`. Never: measures
//! msync (the flush policy is off here; msync runs on the persist thread's own schedule).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kestrel::core::clock::mono_ns;
use kestrel::core::{ClientOrderId, Fill, Notional, Price, Qty, Side, StrategyId, SymbolId};
use kestrel::persist::format::list_segments;
use kestrel::persist::payload::{encode_fill, MAX_FIXED_PAYLOAD};
use kestrel::persist::{FlushPolicy, JournalConfig, JournalWriter, RecordType};

/// Records appended between two `maintain()` calls (≈ 104 KiB, well inside the prefault window).
const BATCH: u64 = 1024;

fn sample_fill() -> Fill {
    Fill {
        client_order_id: ClientOrderId((12 << 40) | 345_678),
        strategy: StrategyId(3),
        symbol: SymbolId(7),
        side: Side::Buy,
        price: Price::parse("65012.37").expect("literal"),
        qty: Qty::parse("0.00153").expect("literal"),
        fee: Notional::parse("0.0995").expect("literal"),
        venue_trade_id: 3_912_345_678,
        is_maker: true,
    }
}

/// Deletes every segment but the newest, so a long run does not fill the disk; the writer
/// has already unmapped them (flush policy off) or only holds mappings of unlinked files.
fn drop_old_segments(dir: &Path) {
    let segments = list_segments(dir).expect("bench journal dir is listable");
    for (_, path) in segments.iter().rev().skip(1) {
        std::fs::remove_file(path).expect("old bench segment removable");
    }
}

/// Runs `append_one` `iters` times, timing only the appends: `maintain()` and segment
/// clean-up run between batches, outside the clock, as the persist thread would do them.
fn timed_appends(
    writer: &mut JournalWriter,
    dir: &Path,
    iters: u64,
    mut append_one: impl FnMut(&mut JournalWriter, u64),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        writer.maintain(mono_ns()).expect("maintain");
        if done % (BATCH * 512) == 0 {
            drop_old_segments(dir);
        }
        let batch = (iters - done).min(BATCH);
        let start = Instant::now();
        for i in 0..batch {
            append_one(writer, done + i);
        }
        total += start.elapsed();
        done += batch;
    }
    total
}

fn journal_append(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench temp dir on disk");
    let cfg = JournalConfig {
        dir: tmp.path().to_path_buf(),
        segment_bytes: 64 * 1024 * 1024,
        prefault_ahead_bytes: 1024 * 1024,
        flush: FlushPolicy {
            every_records: 0,
            every_ms: 0,
        },
    };
    let (mut writer, _) = JournalWriter::open(&cfg).expect("bench journal opens");
    let payload = [0x5Au8; 64];
    let fill = sample_fill();
    let mut group = c.benchmark_group("journal_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("payload_64B", |b| {
        b.iter_custom(|iters| {
            timed_appends(&mut writer, tmp.path(), iters, |w, i| {
                let seq = w
                    .append(RecordType::MarketFrame, i, black_box(&payload))
                    .expect("append");
                black_box(seq);
            })
        })
    });
    group.bench_function("encode_fill_and_append", |b| {
        let mut buf = [0u8; MAX_FIXED_PAYLOAD];
        b.iter_custom(|iters| {
            timed_appends(&mut writer, tmp.path(), iters, |w, i| {
                let n = encode_fill(black_box(&fill), black_box("BTCUSDT"), &mut buf);
                let seq = w.append(RecordType::Fill, i, &buf[..n]).expect("append");
                black_box(seq);
            })
        })
    });
    group.finish();
    writer.close().expect("bench journal closes");
}

fn payload_encode_fill(c: &mut Criterion) {
    let fill = sample_fill();
    let mut buf = [0u8; MAX_FIXED_PAYLOAD];
    let mut group = c.benchmark_group("payload_encode_fill");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fill_98B", |b| {
        b.iter(|| encode_fill(black_box(&fill), black_box("BTCUSDT"), black_box(&mut buf)))
    });
    group.finish();
}

criterion_group!(benches, journal_append, payload_encode_fill);
criterion_main!(benches);
