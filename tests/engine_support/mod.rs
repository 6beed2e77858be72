//! Shared pieces of the engine integration tests: a synthetic market source, an echo
//! strategy and a journaling order stage, all allocation-free per event.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kestrel::core::ids::ClientOrderId;
use kestrel::core::SymbolTable;
use kestrel::core::{
    BookTicker, ExecEvent, MarketEvent, MarketEventKind, OrderIntent, OrderStatus, OrderType,
    OrderUpdate, Price, Qty, Side, StrategyId, SymbolId,
};
use kestrel::engine::affinity::CorePlan;
use kestrel::engine::stage::{
    FrameSink, MarketSource, OrderOutputs, OrderStage, Outbox, SourceState, StrategyStage,
};
use kestrel::engine::{
    self, Components, JournalMsg, Layout, RunReport, Shutdown, TopologySettings, WaitStrategy,
};
use kestrel::ops::Registry;

/// Small rings on two shared cores: four hot threads get the sharing wait `auto` picks here.
pub fn test_settings(layout: Layout, capture_frames: bool) -> TopologySettings {
    TopologySettings {
        layout,
        wait: WaitStrategy::SpinYield,
        persist_wait: WaitStrategy::Park,
        cores: CorePlan::unpinned(),
        market_ring: 4096,
        intent_ring: 1024,
        exec_ring: 1024,
        exec_backlog: 16_384,
        journal_ring: 8192,
        capture_ring_bytes: 1 << 22,
        capture_frames,
    }
}

/// `SYM0USDT` … `SYM{n-1}USDT`: the names `SyntheticSource` events refer to by index.
pub fn symbols(n: u32) -> SymbolTable {
    let mut t = SymbolTable::new();
    for i in 0..n {
        t.intern(&format!("SYM{i}USDT")).expect("valid symbol name");
    }
    t
}

/// Runs the engine to completion with an ops thread that keeps collecting the latency
/// hand-offs, and returns its report and the registry it exported to.
pub fn run_engine<S, G, O>(
    settings: &TopologySettings,
    components: impl FnOnce() -> Components<S, G, O>,
) -> (RunReport, Arc<Registry>)
where
    S: MarketSource + 'static,
    G: StrategyStage + 'static,
    O: OrderStage + 'static,
{
    let mut registry = Registry::new();
    let (metrics, latency) = engine::metrics::register(&mut registry).expect("register metrics");
    let registry = Arc::new(registry);
    let ops_registry = Arc::clone(&registry);
    let report = engine::run(
        settings,
        components(),
        metrics,
        latency,
        Shutdown::new(),
        move |shutdown| {
            while !shutdown.is_joined() {
                ops_registry.collect();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        },
    )
    .expect("engine run");
    assert!(!report.failed);
    (report, registry)
}

/// Emits `total` book tickers numbered 1..=total over `symbols` symbols, `per_poll` at a time,
/// with a raw frame per event when `capture` is set.
pub struct SyntheticSource {
    pub next: u64,
    pub total: u64,
    pub symbols: u32,
    pub per_poll: usize,
    pub capture: bool,
    pub probe: Option<Arc<AllocProbe>>,
}

impl SyntheticSource {
    pub fn new(total: u64, symbols: u32) -> Self {
        Self {
            next: 1,
            total,
            symbols,
            per_poll: 64,
            capture: false,
            probe: None,
        }
    }
}

impl MarketSource for SyntheticSource {
    fn poll(
        &mut self,
        now_ns: u64,
        events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> SourceState {
        if self.next > self.total {
            return SourceState::Finished;
        }
        for _ in 0..self.per_poll {
            if self.next > self.total || events.is_full() {
                break;
            }
            let n = self.next;
            if let Some(p) = &self.probe {
                p.observe(0, n, self.total);
            }
            let event = MarketEvent {
                symbol: SymbolId((n % self.symbols as u64) as u32),
                recv_ns: now_ns.max(1),
                exch_ts_ms: 0,
                kind: MarketEventKind::BookTicker(BookTicker {
                    update_id: n,
                    bid_price: Price::from_raw(60_000 * 1_000_000_000_000_000_000 + n as i128),
                    bid_qty: Qty::from_int(1),
                    ask_price: Price::from_raw(60_001 * 1_000_000_000_000_000_000 + n as i128),
                    ask_qty: Qty::from_int(2),
                }),
            };
            if events.push(event).is_err() {
                break;
            }
            if self.capture {
                let mut frame = [b' '; 32];
                let digits = n.to_le_bytes();
                frame[..8].copy_from_slice(&digits);
                frames.capture(1, now_ns, &frame);
            }
            self.next += 1;
        }
        SourceState::Active
    }
}

/// Turns every book ticker into one intent carrying its number; counts exec events.
pub struct EchoStrategy {
    pub exec_seen: Arc<AtomicU64>,
    pub probe: Option<Arc<AllocProbe>>,
    pub total: u64,
}

impl StrategyStage for EchoStrategy {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        let MarketEventKind::BookTicker(t) = event.kind else {
            return;
        };
        if let Some(p) = &self.probe {
            p.observe(1, t.update_id, self.total);
        }
        let intent = OrderIntent {
            strategy: StrategyId(1),
            intent_seq: t.update_id,
            symbol: event.symbol,
            side: if t.update_id % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            order_type: OrderType::Limit,
            price: t.bid_price,
            qty: t.bid_qty,
            cause_recv_ns: event.recv_ns,
            ..OrderIntent::default()
        };
        // The outbox is drained after every event, so it cannot be full here.
        let _ = intents.push(intent);
    }

    fn on_exec(&mut self, _event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {
        self.exec_seen.fetch_add(1, Ordering::Relaxed);
    }

    fn on_timer(&mut self, _now_ns: u64, _intents: &mut Outbox<OrderIntent>) {}
}

/// Journals every intent and acknowledges it back to the strategy; counts market events.
pub struct JournalingOrders {
    pub probe: Option<Arc<AllocProbe>>,
    pub total: u64,
    pub market_seen: Arc<AtomicU64>,
}

impl OrderStage for JournalingOrders {
    fn on_market(&mut self, _event: &MarketEvent, _now_ns: u64, _out: &mut OrderOutputs) {
        self.market_seen.fetch_add(1, Ordering::Relaxed);
    }

    fn on_intent(&mut self, intent: &OrderIntent, now_ns: u64, out: &mut OrderOutputs) {
        if let Some(p) = &self.probe {
            p.observe(2, intent.intent_seq, self.total);
        }
        let _ = out.journal.push(JournalMsg::Intent {
            event_ns: now_ns,
            intent: *intent,
        });
        let _ = out.exec.push(ExecEvent::Update(OrderUpdate {
            client_order_id: ClientOrderId(intent.intent_seq),
            strategy: intent.strategy,
            symbol: intent.symbol,
            side: intent.side,
            status: OrderStatus::New,
            ..OrderUpdate::default()
        }));
    }

    fn poll(&mut self, _now_ns: u64, _out: &mut OrderOutputs) -> bool {
        false
    }
}

/// Samples each stage thread's allocation count at the warm-up mark and at the last event.
pub struct AllocProbe {
    pub warmup: u64,
    /// Reads the calling thread's allocation count (from the test binary's allocator).
    pub thread_allocs: fn() -> u64,
    pub at_warmup: [AtomicU64; 3],
    pub at_end: [AtomicU64; 3],
}

impl AllocProbe {
    pub fn new(warmup: u64, thread_allocs: fn() -> u64) -> Self {
        Self {
            warmup,
            thread_allocs,
            at_warmup: Default::default(),
            at_end: Default::default(),
        }
    }

    fn observe(&self, stage: usize, n: u64, total: u64) {
        let allocs = (self.thread_allocs)();
        if n == self.warmup {
            self.at_warmup[stage].store(allocs, Ordering::Relaxed);
        }
        if n == total {
            self.at_end[stage].store(allocs, Ordering::Relaxed);
        }
    }

    /// Allocations per stage between the warm-up mark and the last event.
    pub fn deltas(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| {
            self.at_end[i].load(Ordering::Relaxed) - self.at_warmup[i].load(Ordering::Relaxed)
        })
    }
}
