//! After construction, the paper venue makes zero heap allocations while it takes market
//! events (books, tickers, trades), commands of every kind, fills orders, books them into its
//! account and hands reports to `poll` (limits that keep taking past the visible book
//! included), counted by a per-thread counting global allocator; with each queue model, and
//! with recorded latencies cycling through their samples.

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::core::{
    AssetName, BookTicker, BookTop, ClientOrderId, Instrument, Level, Market, MarketEvent,
    MarketEventKind, OrderType, Price, Qty, Side, SymbolId, TimeInForce, TradePrint,
    BOOK_TOP_LEVELS,
};
use kestrel::engine::stage::Outbox;
use kestrel::oms::paper::{PaperConfig, PaperVenue, QueueModel};
use kestrel::oms::venue::{OcoOrder, Venue, VenueCommand, VenueOrder, VenueReport};

const BTC: SymbolId = SymbolId(0);

/// A book around `mid` (whole units), 5 levels a side, one unit apart.
fn book(update_id: u64, mid: i64) -> MarketEventKind {
    let mut top = BookTop {
        last_update_id: update_id,
        valid: true,
        bid_count: BOOK_TOP_LEVELS as u8,
        ask_count: BOOK_TOP_LEVELS as u8,
        ..BookTop::default()
    };
    for i in 0..BOOK_TOP_LEVELS {
        let qty = Qty::from_int(1 + i as i64);
        top.bids[i] = Level {
            price: Price::from_int(mid - 1 - i as i64),
            qty,
        };
        top.asks[i] = Level {
            price: Price::from_int(mid + 1 + i as i64),
            qty,
        };
    }
    MarketEventKind::Book(top)
}

fn order(n: u64, side: Side, order_type: OrderType, price: i64, trigger: i64) -> VenueOrder {
    VenueOrder {
        client_order_id: ClientOrderId(n),
        symbol: BTC,
        market: Market::Spot,
        side,
        order_type,
        time_in_force: TimeInForce::Gtc,
        price: Price::from_int(price),
        trigger_price: Price::from_int(trigger),
        qty: Qty::parse("0.5").expect("valid"),
        ..VenueOrder::default()
    }
}

/// The commands issued at step `i` with the market around `mid`.
fn commands(i: u64, mid: i64) -> [Option<VenueCommand>; 2] {
    let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
    let n = i * 10;
    let place = |o| Some(VenueCommand::Place(o));
    match i % 8 {
        0 => [place(order(n, side, OrderType::Market, 0, 0)), None],
        1 => [
            place(order(n, Side::Buy, OrderType::Limit, mid - 2, 0)),
            place(order(n + 1, Side::Sell, OrderType::Limit, mid + 2, 0)),
        ],
        2 => [
            place(order(n, Side::Sell, OrderType::StopMarket, 0, mid - 3)),
            place(order(n + 1, Side::Buy, OrderType::LimitMaker, mid - 1, 0)),
        ],
        3 => [
            Some(VenueCommand::PlaceOco(OcoOrder {
                list_id: ClientOrderId(n),
                symbol: BTC,
                market: Market::Spot,
                side: Side::Sell,
                qty: Qty::parse("0.5").expect("valid"),
                take_profit_id: ClientOrderId(n + 1),
                take_profit_price: Price::from_int(mid + 3),
                stop_id: ClientOrderId(n + 2),
                stop_trigger: Price::from_int(mid - 3),
                ..OcoOrder::default()
            })),
            None,
        ],
        4 => [
            Some(VenueCommand::QueryOrder {
                client_order_id: ClientOrderId(n - 30),
                symbol: BTC,
                market: Market::Spot,
            }),
            Some(VenueCommand::Cancel {
                client_order_id: ClientOrderId(n - 30),
                symbol: BTC,
                market: Market::Spot,
            }),
        ],
        5 => [
            Some(VenueCommand::Reconcile {
                symbol: BTC,
                market: Market::Spot,
                since_trade_id: i * 3,
            }),
            place(VenueOrder {
                time_in_force: TimeInForce::Ioc,
                ..order(n, side, OrderType::Limit, mid, 0)
            }),
        ],
        6 => [
            Some(VenueCommand::CancelAll {
                symbol: BTC,
                market: Market::Spot,
            }),
            None,
        ],
        _ => {
            // A limit far through the book, bigger than what is visible: it keeps taking.
            let (side, price) = if (i / 8) % 2 == 0 {
                (Side::Buy, mid + 10)
            } else {
                (Side::Sell, mid - 10)
            };
            let through = VenueOrder {
                qty: Qty::from_int(40),
                ..order(n, side, OrderType::Limit, price, 0)
            };
            [place(through), None]
        }
    }
}

/// What one run saw.
struct Run {
    fills: u64,
    triggers: u64,
    allocations: u64,
}

/// Runs the scripted session on a venue built with `config` (and `recorded` latencies).
fn run(config: PaperConfig, recorded: Option<Vec<(u64, u64)>>) -> Run {
    let usdt = AssetName::new("USDT").expect("valid");
    let btc = AssetName::new("BTC").expect("valid");
    let instrument = Instrument::new("BTCUSDT", Market::Spot, "BTC", "USDT");
    let mut venue = PaperVenue::new(config, &[(BTC, instrument)]).expect("valid instrument");
    if let Some(samples) = recorded {
        venue.set_recorded_latency(samples).expect("samples");
    }
    venue.fund(Market::Spot, usdt, Qty::from_int(10_000_000));
    venue.fund(Market::Spot, btc, Qty::from_int(10_000));
    let mut reports = Outbox::with_capacity(4096);
    let (mut fills, mut triggers, mut polled) = (0u64, 0u64, 0u64);

    let before = thread_allocs();
    let mut mid: i64 = 60_000;
    for i in 0..5_000u64 {
        // A zig-zag walk wide enough to cross resting orders and fire stops both ways.
        mid += if (i / 40) % 2 == 0 { 1 } else { -1 };
        let now_ns = 1_000 + i * 1_000;
        let kinds = [
            book(i * 3, mid),
            MarketEventKind::BookTicker(BookTicker {
                update_id: i * 3 + 1,
                bid_price: Price::from_int(mid - 1),
                bid_qty: Qty::from_int(2),
                ask_price: Price::from_int(mid + 1),
                ask_qty: Qty::from_int(2),
            }),
            MarketEventKind::Trade(TradePrint {
                trade_id: i,
                price: Price::from_int(mid + if i % 2 == 0 { 2 } else { -2 }),
                qty: Qty::from_int(1),
                // Buyers lift the resting sells at mid + 2, sellers hit the bids at mid − 2.
                aggressor: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            }),
        ];
        for kind in kinds {
            let event = MarketEvent {
                symbol: BTC,
                recv_ns: now_ns,
                exch_ts_ms: now_ns / 1_000_000,
                kind,
            };
            venue.on_market(&event);
        }
        for command in commands(i, mid).into_iter().flatten() {
            venue.submit(&command, now_ns);
        }
        venue.poll(now_ns, &mut reports);
        for report in reports.drain() {
            polled += 1;
            match report {
                VenueReport::Fill(_) => fills += 1,
                VenueReport::Triggered { .. } => triggers += 1,
                _ => {}
            }
        }
    }
    let allocations = thread_allocs() - before;
    assert_eq!(venue.stats().report_queue_growths, 0);
    assert_eq!(venue.stats().accounting_errors, 0);
    assert!(polled > fills);
    Run {
        fills,
        triggers,
        allocations,
    }
}

#[test]
fn paper_venue_does_not_allocate_after_construction() {
    let runs = [
        ("off", run(PaperConfig::default(), None)),
        (
            "risk-averse",
            run(
                PaperConfig {
                    queue_model: QueueModel::RiskAverse,
                    ..PaperConfig::default()
                },
                None,
            ),
        ),
        (
            "probabilistic, recorded latency",
            run(
                PaperConfig {
                    queue_model: QueueModel::Probabilistic { power: 3 },
                    ..PaperConfig::default()
                },
                Some(vec![(300, 200), (0, 0), (1_500, 700), (50, 2_000)]),
            ),
        ),
    ];
    for (name, run) in runs {
        assert!(
            run.fills > 1_000 && run.triggers > 100,
            "{name}: the run exercised fills ({}) and stops ({})",
            run.fills,
            run.triggers
        );
        assert_eq!(
            run.allocations, 0,
            "{name}: heap allocations after construction"
        );
    }
}
