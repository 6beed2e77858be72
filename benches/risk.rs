//! The risk check against the issue's ≤ 100 ns per order target, measured on the 2-vCPU
//! KVM dev machine, unpinned. `RiskRails::check` with every rail on at the seed's limits
//! (`RiskLimits::default()`, the order-rate count raised so a stream of orders can pass) on
//! two symbols, each with a position and open orders in the `ExposureBook`:
//! - `risk_check/approve_limit_order`: a limit buy that passes every rail; each iteration
//!   is a new intent (sequence number and quantity change, 1 ms later), so the approval
//!   records it in the rate window, which prunes as the clock moves, and in the duplicate
//!   ring, which it scans;
//! - `risk_check/reject_exposure`: refused at the symbol cap, the last-but-one rail;
//! - `risk_check/reject_halted`: refused by the first rail (kill switch);
//! - `risk_on_market/book_ticker`: the rails' view of one `bookTicker`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kestrel::core::{
    BookTicker, ClientOrderId, Fill, MarketEvent, MarketEventKind, OrderIntent, OrderStatus,
    OrderType, OrderUpdate, Price, Qty, Side, StrategyId, SymbolId,
};
use kestrel::risk::{codes, ExposureBook, RiskLimits, RiskRails, RiskVerdict, StrategyMode};

const MS: u64 = 1_000_000;
const BTC: SymbolId = SymbolId(0);
const ETH: SymbolId = SymbolId(1);
const STRATEGY: StrategyId = StrategyId(1);

fn p(text: &str) -> Price {
    Price::parse(text).expect("price literal")
}

fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty literal")
}

/// The seed's limits; the order rate is the one raised (4 096 a second) so a passing
/// order every millisecond keeps passing while the window fills and prunes.
fn limits() -> RiskLimits {
    RiskLimits {
        max_orders_per_window: 4_096,
        order_rate_window_ms: 1_000,
        ..RiskLimits::default()
    }
}

fn book_ticker(symbol: SymbolId, bid: Price, ask: Price, recv_ns: u64) -> MarketEvent {
    MarketEvent {
        symbol,
        recv_ns,
        exch_ts_ms: 0,
        kind: MarketEventKind::BookTicker(BookTicker {
            update_id: recv_ns,
            bid_price: bid,
            bid_qty: q("1"),
            ask_price: ask,
            ask_qty: q("1"),
        }),
    }
}

/// Both symbols quoted at `now_ns`: BTC 60 000, ETH 3 000.
fn quote(rails: &mut RiskRails, now_ns: u64) {
    rails.on_market(&book_ticker(BTC, p("59999.99"), p("60000.01"), now_ns));
    rails.on_market(&book_ticker(ETH, p("2999.99"), p("3000.01"), now_ns));
}

fn quoted_rails(now_ns: u64) -> RiskRails {
    let mut rails = RiskRails::new(limits(), 2, 0);
    rails.add_traded_symbol(BTC, 0);
    rails.add_traded_symbol(ETH, 0);
    rails.add_strategy(STRATEGY, StrategyMode::Enabled);
    rails.add_strategy(StrategyId(2), StrategyMode::Enabled);
    quote(&mut rails, now_ns);
    rails
}

/// A position of `btc` BTC and 0.1 ETH, three resting BTC buys of 0.002 and two resting
/// ETH buys of 0.05, all strategy 1's.
fn exposure(btc: &str) -> ExposureBook {
    let mut book = ExposureBook::new(2, 64);
    for (symbol, qty) in [(BTC, btc), (ETH, "0.1")] {
        book.on_fill(&Fill {
            strategy: STRATEGY,
            symbol,
            side: Side::Buy,
            qty: q(qty),
            ..Fill::default()
        });
    }
    let resting = [
        (BTC, "0.002"),
        (BTC, "0.002"),
        (BTC, "0.002"),
        (ETH, "0.05"),
        (ETH, "0.05"),
    ];
    for (id, (symbol, qty)) in resting.into_iter().enumerate() {
        book.on_update(&OrderUpdate {
            client_order_id: ClientOrderId(id as u64 + 1),
            strategy: STRATEGY,
            symbol,
            side: Side::Buy,
            status: OrderStatus::New,
            qty: q(qty),
            price: p("1000"),
            ..OrderUpdate::default()
        });
    }
    book
}

/// Limit buys of BTC at 59 990, built without parsing inside the timed loop; `variant`
/// moves the quantity over 64 steps of 0.00001 from 0.001 (more than the duplicate ring
/// holds), so no two recent intents share their terms.
struct Intents {
    base: OrderIntent,
    step_raw: i128,
}

impl Intents {
    fn new() -> Self {
        Self {
            base: OrderIntent {
                strategy: STRATEGY,
                symbol: BTC,
                side: Side::Buy,
                order_type: OrderType::Limit,
                price: p("59990"),
                qty: q("0.001"),
                ..OrderIntent::default()
            },
            step_raw: q("0.00001").raw(),
        }
    }

    #[inline]
    fn get(&self, seq: u64, variant: u64) -> OrderIntent {
        OrderIntent {
            intent_seq: seq,
            qty: Qty::from_raw(self.base.qty.raw() + i128::from(variant % 64) * self.step_raw),
            ..self.base
        }
    }
}

fn code(verdict: RiskVerdict) -> u16 {
    match verdict {
        RiskVerdict::Approved(_) => 0,
        RiskVerdict::Rejected(reject) => reject.code,
    }
}

fn risk_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("risk_check");
    let intents = Intents::new();
    let intent = |seq: u64, variant: u64| intents.get(seq, variant);

    // 0.01 BTC held + 0.006 resting + ~0.0013 = ~1 040 of the 2 000 symbol cap; with ETH
    // (300 held + 300 resting) ~1 640 of strategy 1's 2 000 budget.
    let book = exposure("0.01");
    let mut now_ns = 1_000_000 * MS;
    let mut rails = quoted_rails(now_ns);
    assert_eq!(code(rails.check(&intent(1, 1), &book, now_ns)), 0);
    let mut seq = 1;
    group.bench_function("approve_limit_order", |b| {
        b.iter(|| {
            seq += 1;
            now_ns += MS;
            // The feed keeps the books fresh (the age limit is 5 s).
            if seq % 1_024 == 0 {
                quote(&mut rails, now_ns);
            }
            black_box(rails.check(black_box(&intent(seq, seq)), &book, now_ns))
        })
    });
    assert_eq!(
        code(rails.check(&intent(seq + 1, seq + 1), &book, now_ns + MS)),
        0,
        "still passing after the run"
    );

    // 0.03 BTC held + 0.006 resting = 2 160: over the 2 000 cap before the order.
    let full = exposure("0.03");
    let now_ns = 1_000_000 * MS;
    let mut rails = quoted_rails(now_ns);
    assert_eq!(
        code(rails.check(&intent(1, 1), &full, now_ns)),
        codes::EXPOSURE_SYMBOL_CAP
    );
    let mut seq = 1;
    group.bench_function("reject_exposure", |b| {
        b.iter(|| {
            seq += 1;
            black_box(rails.check(black_box(&intent(seq, seq)), &full, now_ns))
        })
    });

    let mut rails = quoted_rails(now_ns);
    rails.kill();
    assert_eq!(
        code(rails.check(&intent(1, 1), &book, now_ns)),
        codes::HALTED
    );
    let mut seq = 1;
    group.bench_function("reject_halted", |b| {
        b.iter(|| {
            seq += 1;
            black_box(rails.check(black_box(&intent(seq, seq)), &book, now_ns))
        })
    });
    group.finish();
}

fn risk_on_market(c: &mut Criterion) {
    let mut group = c.benchmark_group("risk_on_market");
    let mut now_ns = 1_000_000 * MS;
    let mut rails = quoted_rails(now_ns);
    let bids = [p("59999.99"), p("60000.00"), p("60000.01"), p("59999.98")];
    let mut i = 0usize;
    group.bench_function("book_ticker", |b| {
        b.iter(|| {
            i += 1;
            now_ns += 1_000;
            let bid = bids[i % bids.len()];
            let event = book_ticker(BTC, bid, bid.saturating_add(p("0.02")), now_ns);
            rails.on_market(black_box(&event));
        })
    });
    group.finish();
    let last_bid = bids[i % bids.len()];
    assert_eq!(
        rails.mark(BTC),
        last_bid.saturating_add(p("0.01")),
        "the mark is the last book's mid"
    );
}

criterion_group!(benches, risk_check, risk_on_market);
criterion_main!(benches);
