//! Dispatcher tests with a scripted strategy: sizing, the no-double-entry and conflict
//! rules, the exit sequence, stop moves, bars and snapshots.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::core::{BookTop, Level, Notional, TradePrint};
use crate::ops::OpsError;
use crate::strat::api::StrategyInfo;

const SYM: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal")
}

/// What the scripted strategy saw.
#[derive(Default)]
struct Seen {
    fills: Vec<Fill>,
    updates: Vec<OrderUpdate>,
    bars: Vec<Bar>,
    warm: Vec<Bar>,
    holdings: Vec<Holding>,
}

/// Emits the next queued batch of signals on each market event (or bar, when
/// `on_bars`), and records what it is told.
struct Scripted {
    info: StrategyInfo,
    symbols: Vec<SymbolId>,
    timeframes: Vec<u32>,
    script: VecDeque<Vec<Signal>>,
    on_bars: bool,
    dirty_on_event: bool,
    seen: Arc<Mutex<Seen>>,
}

impl Scripted {
    fn new(id: u16, name: &'static str) -> (Self, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (
            Self {
                info: StrategyInfo {
                    id: StrategyId(id),
                    name,
                },
                symbols: vec![SYM],
                timeframes: Vec::new(),
                script: VecDeque::new(),
                on_bars: false,
                dirty_on_event: false,
                seen: Arc::clone(&seen),
            },
            seen,
        )
    }

    fn then(mut self, signals: Vec<Signal>) -> Self {
        self.script.push_back(signals);
        self
    }

    fn play(&mut self, ctx: &mut StrategyCtx<'_>) {
        if let Some(batch) = self.script.pop_front() {
            for s in batch {
                ctx.emit(s);
            }
        }
        if self.dirty_on_event {
            ctx.mark_dirty();
        }
        self.seen
            .lock()
            .expect("test lock")
            .holdings
            .push(ctx.holding(SYM));
    }
}

impl Strategy for Scripted {
    fn info(&self) -> StrategyInfo {
        self.info
    }
    fn tags(&self) -> &'static [&'static str] {
        &["entry", "exit"]
    }
    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }
    fn timeframes(&self) -> &[u32] {
        &self.timeframes
    }
    fn on_market(&mut self, _event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        if !self.on_bars {
            self.play(ctx);
        }
    }
    fn on_bar(&mut self, bar: &Bar, ctx: &mut StrategyCtx<'_>) {
        self.seen.lock().expect("test lock").bars.push(*bar);
        if self.on_bars {
            self.play(ctx);
        }
    }
    fn on_warmup_bar(&mut self, bar: &Bar) {
        self.seen.lock().expect("test lock").warm.push(*bar);
    }
    fn on_fill(&mut self, fill: &Fill, _ctx: &mut StrategyCtx<'_>) {
        self.seen.lock().expect("test lock").fills.push(*fill);
    }
    fn on_order(&mut self, update: &OrderUpdate, _ctx: &mut StrategyCtx<'_>) {
        self.seen.lock().expect("test lock").updates.push(*update);
    }
    fn snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"n\":1}");
    }
}

fn entry(side: Side, quote: &str) -> Signal {
    Signal::Enter(EntryPlan {
        symbol: SYM,
        side,
        size: Size::Quote(Notional::parse(quote).expect("test literal")),
        limit: Price::ZERO,
        stop_loss: p("90"),
        take_profit: p("120"),
        tag: "entry",
    })
}

fn exit() -> Signal {
    Signal::Exit {
        symbol: SYM,
        tag: "exit",
    }
}

fn book(recv_ns: u64, bid: &str, ask: &str) -> MarketEvent {
    let mut top = BookTop {
        valid: true,
        bid_count: 1,
        ask_count: 1,
        ..BookTop::default()
    };
    top.bids[0] = Level {
        price: p(bid),
        qty: q("5"),
    };
    top.asks[0] = Level {
        price: p(ask),
        qty: q("5"),
    };
    MarketEvent {
        symbol: SYM,
        recv_ns,
        exch_ts_ms: 0,
        kind: MarketEventKind::Book(top),
    }
}

fn trade(recv_ns: u64, exch_ts_ms: u64, price: &str) -> MarketEvent {
    MarketEvent {
        symbol: SYM,
        recv_ns,
        exch_ts_ms,
        kind: MarketEventKind::Trade(TradePrint {
            trade_id: recv_ns,
            price: p(price),
            qty: q("1"),
            aggressor: Side::Buy,
        }),
    }
}

fn dispatcher(market: Market, strategies: Vec<Scripted>) -> Dispatcher {
    let config = DispatcherConfig {
        market,
        ..DispatcherConfig::default()
    };
    let entries = strategies
        .into_iter()
        .map(|s| Entry {
            strategy: Box::new(s),
            dry_run: false,
        })
        .collect();
    Dispatcher::new(config, 1, entries, None).expect("valid timeframes")
}

fn drain(out: &mut Outbox<OrderIntent>) -> Vec<OrderIntent> {
    out.drain().collect()
}

fn update(strategy: u16, id: u64, role: OrderRole, status: OrderStatus) -> ExecEvent {
    ExecEvent::Update(OrderUpdate {
        client_order_id: ClientOrderId(id),
        strategy: StrategyId(strategy),
        symbol: SYM,
        status,
        role,
        qty: q("10"),
        ..OrderUpdate::default()
    })
}

fn fill(strategy: u16, id: u64, side: Side, qty: &str, price: &str) -> ExecEvent {
    ExecEvent::Fill(Fill {
        client_order_id: ClientOrderId(id),
        strategy: StrategyId(strategy),
        symbol: SYM,
        side,
        price: p(price),
        qty: q(qty),
        ..Fill::default()
    })
}

#[test]
fn a_quote_entry_is_sized_at_the_ask_with_its_bracket() {
    let (s, _) = Scripted::new(10, "a");
    let mut d = dispatcher(Market::Spot, vec![s.then(vec![entry(Side::Buy, "1000")])]);
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(5, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    let i = sent[0];
    assert_eq!(i.strategy, StrategyId(10));
    assert_eq!(i.intent_seq, 1);
    assert_eq!(i.action, IntentAction::New);
    assert_eq!(i.side, Side::Buy);
    assert_eq!(i.order_type, OrderType::Market);
    assert_eq!(i.qty, q("10"));
    assert_eq!(i.stop_loss, p("90"));
    assert_eq!(i.take_profit, p("120"));
    assert_eq!(i.cause_recv_ns, 5);
    assert_eq!(d.owner(SYM), Some(StrategyId(10)));
    let h = d.holding(StrategyId(10), SYM).expect("known strategy");
    assert!(h.entry_open);
}

#[test]
fn no_second_entry_while_one_is_in_flight_until_it_is_answered() {
    let (s, _) = Scripted::new(10, "a");
    let s = s
        .then(vec![entry(Side::Buy, "1000")])
        .then(vec![entry(Side::Buy, "1000")])
        .then(vec![entry(Side::Buy, "1000")]);
    let mut d = dispatcher(Market::Spot, vec![s]);
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    d.on_market(&book(2, "99", "100"), &mut out);
    assert_eq!(drain(&mut out).len(), 1, "the second entry is refused");
    assert_eq!(d.counts().refused, 1);
    // The rails refuse the first (no id, its quantity): in flight no more.
    let mut refused = update(10, 0, OrderRole::Entry, OrderStatus::Rejected);
    if let ExecEvent::Update(u) = &mut refused {
        u.reject_code = 303;
    }
    d.on_exec(&refused, &mut out);
    assert_eq!(d.owner(SYM), None);
    d.on_market(&book(3, "99", "100"), &mut out);
    assert_eq!(drain(&mut out).len(), 1, "a new entry after the refusal");
}

#[test]
fn the_first_strategy_in_order_claims_a_contested_symbol_until_it_is_flat() {
    let (a, _) = Scripted::new(10, "a");
    let (b, seen_b) = Scripted::new(11, "b");
    let a = a.then(vec![entry(Side::Buy, "1000")]).then(vec![exit()]);
    let b = b
        .then(vec![entry(Side::Buy, "500")])
        .then(vec![])
        .then(vec![entry(Side::Buy, "500")]);
    let mut d = dispatcher(Market::Spot, vec![a, b]);
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].strategy, StrategyId(10));
    assert_eq!(d.counts().refused, 1, "b's entry lost the conflict");
    // a's entry fills; its exit sells exactly what it holds.
    d.on_exec(&update(10, 7, OrderRole::Entry, OrderStatus::New), &mut out);
    d.on_exec(&fill(10, 7, Side::Buy, "10", "100"), &mut out);
    d.on_exec(
        &update(10, 7, OrderRole::Entry, OrderStatus::Filled),
        &mut out,
    );
    let h = d.holding(StrategyId(10), SYM).expect("known");
    assert_eq!(
        (h.qty, h.avg_entry, h.entry_open),
        (q("10"), p("100"), false)
    );
    d.on_market(&book(2, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].side, sent[0].qty, sent[0].reduce_only),
        (Side::Sell, q("10"), false)
    );
    assert_eq!(
        d.owner(SYM),
        Some(StrategyId(10)),
        "still a's while exiting"
    );
    d.on_exec(&update(10, 8, OrderRole::Entry, OrderStatus::New), &mut out);
    d.on_exec(&fill(10, 8, Side::Sell, "10", "99"), &mut out);
    d.on_exec(
        &update(10, 8, OrderRole::Entry, OrderStatus::Filled),
        &mut out,
    );
    let h = d.holding(StrategyId(10), SYM).expect("known");
    assert!(h.is_idle(), "{h:?}");
    assert_eq!(d.owner(SYM), None);
    // Now b may enter.
    d.on_market(&book(3, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].strategy, sent[0].qty), (StrategyId(11), q("5")));
    assert!(
        seen_b.lock().expect("lock").fills.is_empty(),
        "b never saw a's fills"
    );
}

#[test]
fn an_exit_cancels_the_bracket_first_and_then_sells_the_held_quantity() {
    let (a, _) = Scripted::new(10, "a");
    let a = a.then(vec![entry(Side::Buy, "1000")]).then(vec![exit()]);
    let mut d = dispatcher(Market::Spot, vec![a]);
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    drain(&mut out);
    d.on_exec(&update(10, 7, OrderRole::Entry, OrderStatus::New), &mut out);
    d.on_exec(&fill(10, 7, Side::Buy, "4", "100"), &mut out);
    d.on_exec(&fill(10, 7, Side::Buy, "6", "101"), &mut out);
    d.on_exec(
        &update(10, 7, OrderRole::Entry, OrderStatus::Filled),
        &mut out,
    );
    let mut stop = OrderUpdate {
        client_order_id: ClientOrderId(9),
        strategy: StrategyId(10),
        symbol: SYM,
        side: Side::Sell,
        status: OrderStatus::New,
        role: OrderRole::StopLoss,
        trigger_price: p("90"),
        parent: ClientOrderId(7),
        qty: q("10"),
        ..OrderUpdate::default()
    };
    d.on_exec(&ExecEvent::Update(stop), &mut out);
    let h = d.holding(StrategyId(10), SYM).expect("known");
    assert_eq!(h.avg_entry, p("100.6"));
    assert_eq!((h.bracket_entry, h.stop_loss), (ClientOrderId(7), p("90")));
    d.on_market(&book(2, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, IntentAction::CancelAll);
    // Nothing more until the leg is gone.
    d.on_timer(3, &mut out);
    assert!(drain(&mut out).is_empty());
    stop.status = OrderStatus::Canceled;
    d.on_exec(&ExecEvent::Update(stop), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].side, sent[0].qty), (Side::Sell, q("10")));
}

#[test]
fn a_refused_closing_order_is_sent_again_after_the_retry_wait() {
    let (a, _) = Scripted::new(10, "a");
    let a = a.then(vec![]).then(vec![exit()]);
    let mut d = dispatcher(Market::Spot, vec![a]);
    d.restore_position(StrategyId(10), SYM, q("2"), p("100"));
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    d.on_market(&book(2, "99", "100"), &mut out);
    assert_eq!(drain(&mut out).len(), 1, "closing order");
    let mut refused = update(10, 0, OrderRole::Entry, OrderStatus::Rejected);
    if let ExecEvent::Update(u) = &mut refused {
        u.qty = q("2");
    }
    d.on_exec(&refused, &mut out);
    assert!(drain(&mut out).is_empty(), "not at once");
    d.on_timer(500_000_000, &mut out);
    assert!(drain(&mut out).is_empty(), "not before the wait");
    d.on_timer(1_000_000_003, &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].side, sent[0].qty), (Side::Sell, q("2")));
}

#[test]
fn sell_entries_need_futures_and_get_reduce_only_exits_there() {
    let (a, _) = Scripted::new(10, "a");
    let mut d = dispatcher(Market::Spot, vec![a.then(vec![entry(Side::Sell, "1000")])]);
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    assert!(drain(&mut out).is_empty());
    let (a, _) = Scripted::new(10, "a");
    let a = a.then(vec![entry(Side::Sell, "990")]).then(vec![exit()]);
    let mut d = dispatcher(Market::UsdmFutures, vec![a]);
    d.on_market(&book(1, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(
        (sent[0].side, sent[0].qty),
        (Side::Sell, q("10")),
        "sized at the bid"
    );
    d.on_exec(&update(10, 7, OrderRole::Entry, OrderStatus::New), &mut out);
    d.on_exec(&fill(10, 7, Side::Sell, "10", "99"), &mut out);
    d.on_exec(
        &update(10, 7, OrderRole::Entry, OrderStatus::Filled),
        &mut out,
    );
    assert_eq!(
        d.holding(StrategyId(10), SYM).map(|h| h.qty),
        Some(q("-10"))
    );
    d.on_market(&book(2, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(
        (sent[0].side, sent[0].qty, sent[0].reduce_only),
        (Side::Buy, q("10"), true)
    );
}

#[test]
fn stops_only_move_tighter_and_target_the_bracketed_entry() {
    let (a, _) = Scripted::new(10, "a");
    let mv = |stop: &str| Signal::MoveStop {
        symbol: SYM,
        stop_loss: p(stop),
        take_profit: Price::ZERO,
    };
    let a = a
        .then(vec![mv("95")])
        .then(vec![mv("94")])
        .then(vec![mv("96")]);
    let mut d = dispatcher(Market::Spot, vec![a]);
    d.restore_position(StrategyId(10), SYM, q("1"), p("100"));
    d.restore_order(&OrderUpdate {
        client_order_id: ClientOrderId(9),
        strategy: StrategyId(10),
        symbol: SYM,
        status: OrderStatus::New,
        role: OrderRole::StopLoss,
        trigger_price: p("90"),
        parent: ClientOrderId(7),
        ..OrderUpdate::default()
    });
    let mut out = Outbox::with_capacity(16);
    d.on_market(&book(1, "99", "100"), &mut out);
    let sent = drain(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, IntentAction::Rebracket);
    assert_eq!(
        (sent[0].target, sent[0].stop_loss),
        (ClientOrderId(7), p("95"))
    );
    d.on_market(&book(2, "99", "100"), &mut out);
    assert!(drain(&mut out).is_empty(), "94 is looser than 95");
    d.on_market(&book(3, "99", "100"), &mut out);
    assert_eq!(drain(&mut out)[0].stop_loss, p("96"));
}

#[test]
fn trades_close_minute_bars_and_data_bars_roll_up() {
    let (mut a, seen) = Scripted::new(10, "a");
    a.timeframes = vec![1, 5];
    let mut d = dispatcher(Market::Spot, vec![a]);
    let mut out = Outbox::with_capacity(16);
    let t0 = 1_700_000_040_000u64; // 12:14:00 UTC: a 5-minute bucket starts at 12:10
    d.on_market(&trade(1, t0 + 1_000, "100"), &mut out);
    d.on_market(&trade(2, t0 + 61_000, "101"), &mut out);
    let bars = seen.lock().expect("lock").bars.clone();
    assert_eq!(bars.len(), 2, "{bars:?}");
    assert_eq!((bars[0].timeframe_min, bars[0].close), (1, p("100")));
    assert_eq!(bars[1].timeframe_min, 5);
    assert_eq!(bars[1].close_time_ms, t0 + 60_000);

    // Data bars: 1m candles roll into 5m.
    let (mut a, seen) = Scripted::new(10, "a");
    a.timeframes = vec![1, 5];
    let config = DispatcherConfig {
        bars_from_data: true,
        ..DispatcherConfig::default()
    };
    let entries = vec![Entry {
        strategy: Box::new(a),
        dry_run: false,
    }];
    let mut d = Dispatcher::new(config, 1, entries, None).expect("valid");
    let base = 1_700_000_100_000u64; // a 5-minute boundary
    for k in 0..6u64 {
        let open = p(&format!("{}", 100 + k));
        let bar = Bar {
            symbol: SYM,
            timeframe_min: 1,
            open_time_ms: base + k * 60_000,
            close_time_ms: base + (k + 1) * 60_000,
            open,
            high: p(&format!("{}", 110 + k)),
            low: p(&format!("{}", 90 + k)),
            close: open,
            volume: q("1"),
            trade_count: 1,
            ..Bar::default()
        };
        d.on_bar(&bar, &mut out);
    }
    let bars = seen.lock().expect("lock").bars.clone();
    let five: Vec<&Bar> = bars.iter().filter(|b| b.timeframe_min == 5).collect();
    assert_eq!(five.len(), 1);
    assert_eq!(
        (
            five[0].open,
            five[0].high,
            five[0].low,
            five[0].close,
            five[0].volume
        ),
        (p("100"), p("114"), p("90"), p("104"), q("5"))
    );
    assert_eq!(bars.iter().filter(|b| b.timeframe_min == 1).count(), 6);
    // Trades no longer make bars once the data brings them.
    d.on_market(&trade(10, base + 500_000, "1"), &mut out);
    d.on_timer(11, &mut out);
    assert_eq!(seen.lock().expect("lock").bars.len(), 7);
}

struct Sink(Vec<(String, Vec<u8>)>);

impl SnapshotSink for Sink {
    fn snapshot(&mut self, component: &str, body: &[u8]) -> bool {
        self.0.push((component.to_owned(), body.to_vec()));
        true
    }
}

#[test]
fn a_changed_strategy_is_snapshotted_once_per_period() {
    let (mut a, _) = Scripted::new(10, "trend_follow");
    a.dirty_on_event = true;
    let mut d = dispatcher(Market::Spot, vec![a]);
    let mut out = Outbox::with_capacity(16);
    let mut sink = Sink(Vec::new());
    d.snapshots(2_000_000_000, &mut sink);
    assert!(sink.0.is_empty(), "nothing changed yet");
    d.on_market(&book(1, "99", "100"), &mut out);
    d.snapshots(2_000_000_000, &mut sink);
    assert_eq!(
        sink.0,
        vec![("trend_follow".to_owned(), b"{\"n\":1}".to_vec())]
    );
    d.on_market(&book(2, "99", "100"), &mut out);
    d.snapshots(2_500_000_000, &mut sink);
    assert_eq!(sink.0.len(), 1, "not within the period");
    d.snapshots(3_000_000_000, &mut sink);
    assert_eq!(sink.0.len(), 2);
}

#[test]
fn warm_up_bars_reach_only_strategies_wanting_the_timeframe() {
    let (mut a, seen) = Scripted::new(10, "a");
    a.timeframes = vec![60];
    let mut d = dispatcher(Market::Spot, vec![a]);
    let bar = |tf: u32| Bar {
        symbol: SYM,
        timeframe_min: tf,
        ..Bar::default()
    };
    d.warm_up(&bar(60));
    d.warm_up(&bar(1));
    assert_eq!(seen.lock().expect("lock").warm.len(), 1);
    assert_eq!(d.warm_up_timeframes(SYM), vec![60]);
}

#[test]
fn a_residue_below_the_lot_floor_is_flat_and_does_not_block_entries() {
    let (a, _) = Scripted::new(10, "a");
    let a = a
        .then(vec![entry(Side::Buy, "1000")])
        .then(vec![entry(Side::Buy, "1000")]);
    let mut d = dispatcher(Market::Spot, vec![a]);
    d.set_lot_floor(SYM, q("0.001"));
    let mut out = Outbox::with_capacity(16);
    d.restore_position(StrategyId(10), SYM, q("0.0004"), p("100"));
    assert_eq!(
        d.holding(StrategyId(10), SYM).map(|h| h.qty),
        Some(Qty::ZERO)
    );
    assert_eq!(d.owner(SYM), None);
    d.on_market(&book(1, "99", "100"), &mut out);
    assert_eq!(drain(&mut out).len(), 1, "dust does not block the entry");
    d.on_exec(&update(10, 7, OrderRole::Entry, OrderStatus::New), &mut out);
    d.on_exec(&fill(10, 7, Side::Buy, "10", "100"), &mut out);
    d.on_exec(
        &update(10, 7, OrderRole::Entry, OrderStatus::Filled),
        &mut out,
    );
    assert_eq!(
        d.holding(StrategyId(10), SYM).map(|h| h.qty),
        Some(q("10.0004")),
        "the residue is still booked"
    );
}

/// A selector with a fixed universe whose selection the test sets.
struct FixedSelector {
    universe: Vec<SymbolId>,
    selected: Vec<SymbolId>,
    /// The selection the next rescan makes (set by the test).
    next: Arc<Mutex<Option<Vec<SymbolId>>>>,
}

impl SymbolSelector for FixedSelector {
    fn universe(&self) -> &[SymbolId] {
        &self.universe
    }
    fn timeframe_min(&self) -> u32 {
        60
    }
    fn on_bar(&mut self, _bar: &Bar) {}
    fn on_warmup_bar(&mut self, _bar: &Bar) {}
    fn rescan(&mut self, _venue_ms: u64) -> bool {
        match self.next.lock().expect("test lock").take() {
            Some(next) => {
                self.selected = next;
                true
            }
            None => false,
        }
    }
    fn selected(&self) -> &[SymbolId] {
        &self.selected
    }
    fn snapshot(&self, _out: &mut Vec<u8>) {}
    fn restore(&mut self, _body: &[u8]) -> Result<(), RestoreError> {
        Ok(())
    }
    fn attach_metrics(&mut self, _scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        Ok(())
    }
}

struct ScannerUser(Scripted);

impl Strategy for ScannerUser {
    fn info(&self) -> StrategyInfo {
        self.0.info()
    }
    fn tags(&self) -> &'static [&'static str] {
        self.0.tags()
    }
    fn symbols(&self) -> &[SymbolId] {
        &[]
    }
    fn uses_scanner(&self) -> bool {
        true
    }
    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        self.0.on_market(event, ctx);
    }
}

#[test]
fn the_scanner_selection_replaces_the_static_list_of_strategies_that_use_it() {
    let (a, _) = Scripted::new(10, "a");
    let a = a
        .then(vec![entry(Side::Buy, "1000")])
        .then(vec![entry(Side::Buy, "1000")]);
    let next = Arc::new(Mutex::new(None));
    let selector = FixedSelector {
        universe: vec![SYM],
        selected: vec![],
        next: Arc::clone(&next),
    };
    let entries = vec![Entry {
        strategy: Box::new(ScannerUser(a)),
        dry_run: false,
    }];
    let mut d = Dispatcher::new(
        DispatcherConfig::default(),
        1,
        entries,
        Some(Box::new(selector)),
    )
    .expect("valid");
    let mut out = Outbox::with_capacity(16);
    // Its static list is empty, but it hears the universe; not selected: refused.
    let mut first = book(1, "99", "100");
    first.exch_ts_ms = 1_700_000_000_000;
    d.on_market(&first, &mut out);
    assert!(drain(&mut out).is_empty(), "not selected yet");
    assert_eq!(d.counts().refused, 1);
    // The scanner selects it on the next timer: now it may enter.
    *next.lock().expect("test lock") = Some(vec![SYM]);
    d.on_timer(2, &mut out);
    assert_eq!(d.scanner_selection(), &[SYM]);
    d.on_market(&book(3, "99", "100"), &mut out);
    assert_eq!(drain(&mut out).len(), 1, "selected: the entry goes out");
}
