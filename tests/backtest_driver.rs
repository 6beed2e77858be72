//! The backtest loop on hand-made market data, hand-checked: the probe's market entry fills
//! at the ask it takes with the taker fee; an order latency moves the fill to the book as it
//! is when the order reaches the venue, and a report latency moves the moment the engine
//! learns of it; a feed latency makes the venue see data before the strategy does; a limit
//! order behind a known queue fills exactly when the traded volume has cleared it.

use kestrel::backtest::config::{BacktestConfig, QueueChoice};
use kestrel::backtest::driver::LoopCounts;
use kestrel::backtest::input::{InputEvent, InputItem, Stamp, VecInput};
use kestrel::backtest::recording::StrategyMeta;
use kestrel::backtest::setup::{build, build_with, load_instruments};
use kestrel::backtest::Recording;
use kestrel::core::event::{BookTop, Level};
use kestrel::core::{
    ExecEvent, MarketEvent, MarketEventKind, Notional, OrderIntent, OrderRole, OrderStatus,
    OrderType, Price, Qty, Side, StrategyId, SymbolId, TradePrint,
};
use kestrel::engine::stage::{Outbox, StrategyStage};

/// 2024-08-08 00:00:00 UTC.
const T0: u64 = 1_723_075_200_000_000_000;
const MS: u64 = 1_000_000;

fn p(text: &str) -> Price {
    Price::parse(text).expect("price")
}

fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty")
}

fn book(ts_ns: u64, bid: &str, ask: &str) -> InputItem {
    book_sized(ts_ns, bid, "1", ask)
}

fn book_sized(ts_ns: u64, bid: &str, bid_qty: &str, ask: &str) -> InputItem {
    let mut top = BookTop {
        valid: true,
        bid_count: 1,
        ask_count: 1,
        ..BookTop::default()
    };
    top.bids[0] = Level {
        price: p(bid),
        qty: q(bid_qty),
    };
    top.asks[0] = Level {
        price: p(ask),
        qty: q("1"),
    };
    InputItem {
        ts_ns,
        stamp: Stamp::Received,
        event: InputEvent::Market(MarketEvent {
            symbol: SymbolId(0),
            recv_ns: ts_ns,
            exch_ts_ms: ts_ns / MS,
            kind: MarketEventKind::Book(top),
        }),
    }
}

fn trade(ts_ns: u64, price: &str, qty: &str, id: u64) -> InputItem {
    trade_by(ts_ns, price, qty, id, Side::Buy)
}

fn trade_by(ts_ns: u64, price: &str, qty: &str, id: u64, aggressor: Side) -> InputItem {
    InputItem {
        ts_ns,
        stamp: Stamp::Received,
        event: InputEvent::Market(MarketEvent {
            symbol: SymbolId(0),
            recv_ns: ts_ns,
            exch_ts_ms: ts_ns / MS,
            kind: MarketEventKind::Trade(TradePrint {
                trade_id: id,
                price: p(price),
                qty: q(qty),
                aggressor,
            }),
        }),
    }
}

fn run(config: &BacktestConfig, items: Vec<InputItem>) -> (Recording, LoopCounts) {
    // These hand-checked runs trade the probe.
    let mut config = config.clone();
    config.backtest.strategy = kestrel::backtest::config::BacktestStrategy::Probe;
    let config = &config;
    let instruments = load_instruments(config).expect("bundled exchangeInfo");
    let mut backtest =
        build(config, &instruments, &["hand-made".to_owned()], false).expect("builds");
    let mut input = VecInput::new(items);
    backtest
        .run(&mut input, 0, &mut |_| {})
        .expect("runs to the end");
    backtest.finish(Vec::new())
}

/// The market entry moves the ask: 60000.10 at t0, 60001.00 from t0+3 ms, 60002.00 from
/// t0+8 ms.
fn moving_book() -> Vec<InputItem> {
    vec![
        book(T0, "60000.00", "60000.10"),
        book(T0 + 3 * MS, "60000.90", "60001.00"),
        book(T0 + 8 * MS, "60001.90", "60002.00"),
    ]
}

fn entry_fill(recording: &Recording) -> (u64, Price, Qty, Notional) {
    let entry = recording
        .fills
        .iter()
        .find(|f| f.fill.side == Side::Buy)
        .unwrap_or_else(|| {
            panic!(
                "the entry filled: orders {:?} risk {:?}",
                recording.orders, recording.risk_rejects
            )
        });
    (
        entry.ts_ns,
        entry.fill.price,
        entry.fill.qty,
        entry.fill.fee,
    )
}

#[test]
fn zero_latency_entry_takes_the_ask_of_the_book_it_saw() {
    let config = BacktestConfig::default();
    let (recording, counts) = run(&config, moving_book());
    assert_eq!(counts.market_events, 3);
    let (ts, price, qty, fee) = entry_fill(&recording);
    assert_eq!(ts, T0);
    assert_eq!(price, p("60000.10"));
    assert_eq!(qty, q("0.01"));
    // 0.01 × 60000.10 = 600.001; taker fee 0.1 % = 0.600001 USDT.
    assert_eq!(fee, Notional::parse("0.600001").expect("fee"));
    // The round trip's first answer came at once.
    assert_eq!(recording.order_latency_ns.first(), Some(&0));
    // The bracket legs went out after the entry filled.
    let legs: Vec<_> = recording
        .orders
        .iter()
        .filter(|o| {
            matches!(o.update.role, OrderRole::StopLoss | OrderRole::TakeProfit)
                && o.update.status == OrderStatus::New
        })
        .collect();
    assert_eq!(legs.len(), 2, "stop and take-profit acknowledged");
    assert_eq!(recording.starting_equity, Notional::from_int(10_000));
}

#[test]
fn entry_latency_fills_against_the_book_when_the_order_arrives() {
    let mut config = BacktestConfig::default();
    config.backtest.order_entry_latency_us = 5_000;
    let (recording, _) = run(&config, moving_book());
    let (ts, price, _, fee) = entry_fill(&recording);
    // Sent at t0, at the venue at t0+5 ms: the book of t0+3 ms (ask 60001.00).
    assert_eq!(ts, T0 + 5 * MS);
    assert_eq!(price, p("60001.00"));
    // 600.01 × 0.001.
    assert_eq!(fee, Notional::parse("0.60001").expect("fee"));
    assert_eq!(recording.order_latency_ns.first(), Some(&(5 * MS)));
}

#[test]
fn report_latency_delays_when_the_engine_learns_of_the_fill() {
    let mut config = BacktestConfig::default();
    config.backtest.order_entry_latency_us = 5_000;
    config.backtest.order_report_latency_us = 2_000;
    let (recording, _) = run(&config, moving_book());
    let (ts, price, _, _) = entry_fill(&recording);
    assert_eq!(price, p("60001.00"), "the venue filled at t0+5 ms");
    assert_eq!(ts, T0 + 7 * MS, "the engine heard of it 2 ms later");
    assert_eq!(recording.order_latency_ns.first(), Some(&(7 * MS)));
}

#[test]
fn feed_latency_lets_the_venue_move_before_the_strategy_sees_it() {
    let mut config = BacktestConfig::default();
    config.backtest.feed_latency_us = 4_000;
    // Received stamps: the venue had each book 4 ms before the engine. The second book
    // (stamped t0+3 ms) reached the venue at t0-1 ms, before the engine saw the first book
    // at t0 and bought: the order meets the second book's ask.
    let (recording, _) = run(&config, moving_book());
    let (ts, price, _, _) = entry_fill(&recording);
    assert_eq!(ts, T0);
    assert_eq!(price, p("60001.00"));
}

#[test]
fn take_profit_fills_on_a_trade_through_it_and_pnl_adds_up() {
    let config = BacktestConfig::default();
    let mut items = moving_book();
    // Mid at entry 60000.05; take-profit 10 bps above: 60060.05 on the tick grid. A trade
    // at 60080.00 prints through it.
    items.push(book(T0 + 20 * MS, "60070.00", "60070.10"));
    items.push(trade(T0 + 21 * MS, "60080.00", "0.5", 1));
    items.push(book(T0 + 22 * MS, "60079.00", "60080.10"));
    let (recording, _) = run(&config, items);
    let sells: Vec<_> = recording
        .fills
        .iter()
        .filter(|f| f.fill.side == Side::Sell)
        .collect();
    assert_eq!(
        sells.len(),
        1,
        "the take-profit filled once: {:?}",
        recording.fills
    );
    let tp = sells[0].fill;
    assert_eq!(tp.qty, q("0.01"));
    assert!(
        tp.price >= p("60060.05") && tp.price <= p("60080.00"),
        "{tp:?}"
    );
    assert!(tp.is_maker, "a resting take-profit fills as maker");
    // Realised PnL: (tp − 60000.10) × 0.01 − fees; equity at the end reflects it exactly.
    let entry_fee = Notional::parse("0.600001").expect("fee");
    let gross = tp
        .price
        .notional(tp.qty)
        .and_then(|sold| sold.checked_sub(Notional::parse("600.001").expect("cost")))
        .expect("pnl");
    let pnl = gross
        .checked_sub(entry_fee)
        .and_then(|v| v.checked_sub(tp.fee))
        .expect("net");
    let last = recording.equity.last().expect("sampled").equity;
    assert_eq!(
        last,
        Notional::from_int(10_000).checked_add(pnl).expect("sum"),
        "flat at the end: equity is cash"
    );
}

/// Joins the best bid with one GTC limit buy of 0.01 on the first valid book, then waits.
struct BidJoiner {
    sent: bool,
}

impl StrategyStage for BidJoiner {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        let MarketEventKind::Book(top) = &event.kind else {
            return;
        };
        if self.sent || !top.valid {
            return;
        }
        self.sent = true;
        let _ = intents.push(OrderIntent {
            strategy: StrategyId(1),
            intent_seq: 1,
            symbol: SymbolId(0),
            side: Side::Buy,
            order_type: OrderType::Limit,
            price: top.bids[0].price,
            qty: q("0.01"),
            cause_recv_ns: event.recv_ns,
            ..OrderIntent::default()
        });
    }
    fn on_exec(&mut self, _event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {}
    fn on_timer(&mut self, _now_ns: u64, _intents: &mut Outbox<OrderIntent>) {}
}

#[test]
fn a_limit_behind_a_known_queue_fills_when_the_traded_volume_clears_it() {
    let mut config = BacktestConfig::default();
    config.backtest.queue_model = QueueChoice::RiskAverse;
    let instruments = load_instruments(&config).expect("bundled exchangeInfo");
    let strategy = BidJoiner { sent: false };
    let metas = vec![StrategyMeta {
        id: StrategyId(1),
        name: "bid-joiner".to_owned(),
        mode: kestrel::risk::StrategyMode::Enabled,
    }];
    let mut backtest = build_with(
        &config,
        config.paper(),
        &instruments,
        &["hand-made".to_owned()],
        strategy,
        metas,
    )
    .expect("builds");
    let items = vec![
        // 2 BTC bid at 60000.00 ahead of our 0.01.
        book_sized(T0, "60000.00", "2", "60000.10"),
        // Sellers take 1.5 of it: 0.5 left ahead, nothing for us.
        trade_by(T0 + MS, "60000.00", "1.5", 1, Side::Sell),
        book_sized(T0 + 2 * MS, "60000.00", "0.5", "60000.10"),
        // A buyer at our price does not reach a bid.
        trade_by(T0 + 3 * MS, "60000.00", "0.3", 2, Side::Buy),
        // 0.504 sold: 0.5 clears the queue, 0.004 reaches us.
        trade_by(T0 + 4 * MS, "60000.00", "0.504", 3, Side::Sell),
        // The rest of ours.
        trade_by(T0 + 5 * MS, "60000.00", "0.02", 4, Side::Sell),
    ];
    let mut input = VecInput::new(items);
    backtest.run(&mut input, 0, &mut |_| {}).expect("runs");
    let (recording, _) = backtest.finish(Vec::new());
    let fills: Vec<_> = recording
        .fills
        .iter()
        .map(|f| {
            (
                f.ts_ns,
                f.fill.price,
                f.fill.qty,
                f.fill.fee,
                f.fill.is_maker,
            )
        })
        .collect();
    // Maker fee 0.1 %: 0.004 × 60000 × 0.001 = 0.24; 0.006 × 60000 × 0.001 = 0.36.
    assert_eq!(
        fills,
        vec![
            (
                T0 + 4 * MS,
                p("60000"),
                q("0.004"),
                Notional::parse("0.24").expect("fee"),
                true
            ),
            (
                T0 + 5 * MS,
                p("60000"),
                q("0.006"),
                Notional::parse("0.36").expect("fee"),
                true
            ),
        ]
    );
}
