//! Shared rig of the risk tests: the real order stage (risk rails → order manager → paper
//! venue) on the bundled BTCUSDT instrument, a USDT-funded account, a control link, a
//! metrics registry, and every output the stage emits kept in order.

#![allow(dead_code)] // each test binary uses its own part of the rig

use kestrel::core::{
    AssetName, BookTop, ExecEvent, Instrument, Level, Market, MarketEvent, MarketEventKind,
    OrderIntent, OrderType, OrderUpdate, Price, Qty, Side, StrategyId, SymbolId,
};
use kestrel::engine::control::{control_link, ControlClient, ControlCommand, ControlOutcome};
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::engine::JournalMsg;
use kestrel::oms::manager::{OmsConfig, OrderManager};
use kestrel::oms::paper::{PaperConfig, PaperVenue};
use kestrel::oms::portfolio::{PairAssets, PortfolioLedger};
use kestrel::oms::OmsStage;
use kestrel::ops::Registry;
use kestrel::risk::{RiskLimits, RiskRails, StrategyMode};

pub const BTC: SymbolId = SymbolId(0);
pub const MS: u64 = 1_000_000;

pub fn p(text: &str) -> Price {
    Price::parse(text).expect("price")
}

pub fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty")
}

pub fn instrument() -> Instrument {
    let info = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/binance_spot_exchange_info_btcusdt.json"
    ))
    .expect("bundled exchangeInfo");
    kestrel::oms::binance::exchange_info::parse_exchange_info(&info, Market::Spot)
        .expect("parses")
        .instruments
        .into_iter()
        .find(|i| i.symbol == "BTCUSDT")
        .expect("BTCUSDT listed")
}

/// The real order stage on the paper venue, with its metrics and control link.
pub struct PaperStage {
    pub stage: OmsStage<PaperVenue, PortfolioLedger>,
    pub registry: Registry,
    pub control: ControlClient,
}

/// Risk rails with `limits` (strategies 1 and 2; `wall_offset_ns` = wall clock − monotonic
/// clock, for the UTC day) in front of an order manager and a portfolio funded with `usdt`,
/// joined to a paper venue holding the same; BTCUSDT from the bundled exchangeInfo.
pub fn paper_stage(limits: RiskLimits, usdt: &str, wall_offset_ns: i128) -> PaperStage {
    let instrument = instrument();
    let assets = PairAssets {
        base: AssetName::new("BTC").expect("asset"),
        quote: AssetName::new("USDT").expect("asset"),
    };
    let mut ledger = PortfolioLedger::new(Market::Spot, assets.quote);
    ledger.add_instrument(BTC, assets);
    ledger.fund(assets.quote, q(usdt));
    let manager = OrderManager::new(
        OmsConfig::default(),
        1,
        vec![Some(instrument.clone())],
        ledger,
    )
    .expect("manager");
    let mut venue = PaperVenue::new(PaperConfig::default(), &[(BTC, instrument)]).expect("venue");
    venue.fund(Market::Spot, assets.quote, q(usdt));
    let mut rails = RiskRails::new(limits, 1, wall_offset_ns);
    rails.add_traded_symbol(BTC, 0);
    rails.add_strategy(StrategyId(1), StrategyMode::Enabled);
    rails.add_strategy(StrategyId(2), StrategyMode::Enabled);
    let mut stage = OmsStage::new(manager, venue, rails);
    let mut registry = Registry::new();
    stage
        .attach_metrics(&mut registry, "paper")
        .expect("metrics register once");
    let (control, endpoint) = control_link();
    stage.attach_control(endpoint);
    PaperStage {
        stage,
        registry,
        control,
    }
}

/// The signed spot BTC position `stage`'s portfolio holds.
pub fn spot_position(stage: &OmsStage<PaperVenue, PortfolioLedger>) -> Qty {
    stage
        .manager()
        .ledger()
        .portfolio()
        .position(Market::Spot, BTC)
        .map_or(Qty::ZERO, |p| p.qty)
}

/// The order stage under test and everything it emitted.
pub struct Rig {
    pub stage: OmsStage<PaperVenue, PortfolioLedger>,
    pub control: ControlClient,
    pub registry: Registry,
    pub out: OrderOutputs,
    pub exec: Vec<ExecEvent>,
    pub journal: Vec<JournalMsg>,
    pub now: u64,
    seq: u64,
}

impl Rig {
    /// A stage with `limits`, strategies 1 and 2, `usdt` of cash, reconciled, with a book
    /// of 59999.99 / 60000.00 (deep on both sides).
    pub fn new(limits: RiskLimits, usdt: &str) -> Self {
        let PaperStage {
            stage,
            registry,
            control,
        } = paper_stage(limits, usdt, 0);
        let mut rig = Self {
            stage,
            control,
            registry,
            out: OrderOutputs::with_capacity(1024, 1024),
            exec: Vec::new(),
            journal: Vec::new(),
            now: 10_000 * MS,
            seq: 0,
        };
        rig.book("59999.99", "60000.00");
        rig.settle();
        assert!(
            rig.stage.manager().is_reconciled(),
            "reconciled before trading"
        );
        rig
    }

    /// A valid book with one deep level each side at `bid` / `ask`, received now.
    pub fn book(&mut self, bid: &str, ask: &str) {
        let mut top = BookTop {
            last_update_id: self.now,
            valid: true,
            bid_count: 1,
            ask_count: 1,
            ..BookTop::default()
        };
        top.bids[0] = Level {
            price: p(bid),
            qty: q("50"),
        };
        top.asks[0] = Level {
            price: p(ask),
            qty: q("50"),
        };
        let event = MarketEvent {
            symbol: BTC,
            recv_ns: self.now,
            exch_ts_ms: self.now / MS,
            kind: MarketEventKind::Book(top),
        };
        let now = self.now;
        self.stage.on_market(&event, now, &mut self.out);
        self.drain();
    }

    /// Lets the stage work (venue acks and fills, timers) for a few milliseconds.
    pub fn settle(&mut self) {
        for _ in 0..10 {
            self.now += MS;
            let now = self.now;
            self.stage.poll(now, &mut self.out);
        }
        self.drain();
    }

    /// Moves time on by `ms` in steps, polling (breakers run every 100 ms of it).
    pub fn wait_ms(&mut self, ms: u64) {
        let end = self.now + ms * MS;
        while self.now < end {
            self.now = (self.now + 10 * MS).min(end);
            let now = self.now;
            self.stage.poll(now, &mut self.out);
            self.drain();
        }
    }

    pub fn drain(&mut self) {
        self.exec.extend(self.out.exec.drain());
        self.journal.extend(self.out.journal.drain());
    }

    /// Sends an intent of `strategy` (a fresh sequence number each) and settles.
    pub fn send(&mut self, intent: OrderIntent) {
        self.seq += 1;
        let intent = OrderIntent {
            intent_seq: self.seq,
            cause_recv_ns: self.now,
            ..intent
        };
        let now = self.now;
        self.stage.on_intent(&intent, now, &mut self.out);
        self.settle();
    }

    /// An operator command through the control link, carried out by the next poll.
    pub fn command(&mut self, command: ControlCommand) -> ControlOutcome {
        let id = self
            .control
            .send(command)
            .expect("room in the command ring");
        self.settle();
        self.control
            .reply(id)
            .expect("answered by the order thread")
    }

    /// Updates of orders that reached the stage since `from` (exec index).
    pub fn updates_since(&self, from: usize) -> Vec<OrderUpdate> {
        self.exec[from..]
            .iter()
            .filter_map(|e| match e {
                ExecEvent::Update(u) => Some(*u),
                ExecEvent::Fill(_) | ExecEvent::Account { .. } => None,
            })
            .collect()
    }

    /// The reject code the last refused intent got (0: the last update was no refusal).
    pub fn last_reject(&self) -> u16 {
        self.exec
            .iter()
            .rev()
            .find_map(|e| match e {
                ExecEvent::Update(u) if u.client_order_id.0 == 0 => Some(u.reject_code),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Journaled trading-state changes: (from, to, cause).
    pub fn transitions(&self) -> Vec<(u8, u8, u16)> {
        self.journal
            .iter()
            .filter_map(|m| match m {
                JournalMsg::State { change, .. } => {
                    Some((change.from as u8, change.to as u8, change.cause_code))
                }
                _ => None,
            })
            .collect()
    }

    /// The signed BTC position the portfolio holds.
    pub fn position(&self) -> Qty {
        spot_position(&self.stage)
    }

    /// Publishes the metrics now and reads one series from the exposition text
    /// (`name{labels}` exactly as rendered, or a bare name).
    pub fn metric(&mut self, series: &str) -> f64 {
        self.stage.publish_metrics();
        let text = self.registry.render();
        text.lines()
            .find_map(|line| {
                let (key, value) = line.rsplit_once(' ')?;
                (key == series).then(|| value.parse().expect("a number"))
            })
            .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
    }
}

/// A limit intent of strategy 1.
pub fn limit(side: Side, price: &str, qty: &str) -> OrderIntent {
    OrderIntent {
        strategy: StrategyId(1),
        symbol: BTC,
        side,
        order_type: OrderType::Limit,
        price: p(price),
        qty: q(qty),
        ..OrderIntent::default()
    }
}

/// A market intent of strategy 1.
pub fn market(side: Side, qty: &str) -> OrderIntent {
    OrderIntent {
        strategy: StrategyId(1),
        symbol: BTC,
        side,
        order_type: OrderType::Market,
        qty: q(qty),
        ..OrderIntent::default()
    }
}
