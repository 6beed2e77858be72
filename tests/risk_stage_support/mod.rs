//! Shared by `risk_rails_paper` and `risk_breakers_paper`: the real order stage — risk
//! rails in front of an order manager and its portfolio, joined to the paper venue, trading
//! the bundled BTCUSDT instrument — with its metrics registry and control link, driven by
//! events and a test clock; everything it emits is kept for the assertions.
#![allow(dead_code)] // each test binary uses its own subset

use kestrel::core::{
    BookTop, ClientOrderId, ExecEvent, IntentAction, Level, MarketEvent, MarketEventKind, Notional,
    OrderIntent, OrderStatus, OrderType, OrderUpdate, Price, Qty, Side, StrategyId, SymbolId,
};
use kestrel::engine::control::{ControlClient, ControlCommand, ControlOutcome};
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::engine::JournalMsg;
use kestrel::oms::paper::PaperVenue;
use kestrel::oms::portfolio::PortfolioLedger;
use kestrel::oms::OmsStage;
use kestrel::ops::Registry;
use kestrel::persist::payload::{RiskEvent, TradingStateChange};
use kestrel::risk::{codes, Breaker, RiskLimits, TradingMode};

use crate::risk_support::{paper_stage, PaperStage};

pub const BTC: SymbolId = SymbolId(0);
pub const MS: u64 = 1_000_000;
/// The test clock's start (monotonic ns): far from zero, like a real uptime.
pub const START_NS: u64 = 1_000_000 * MS;
/// How often the stage evaluates its breakers (`oms::stage`).
pub const RISK_STEP_MS: u64 = 100;
/// How often the stage publishes its metrics (`oms::metrics::PUBLISH_EVERY_NS`).
pub const PUBLISH_MS: u64 = 1_000;
/// The two strategies every rig registers.
pub const S1: StrategyId = StrategyId(1);
pub const S2: StrategyId = StrategyId(2);

pub fn p(text: &str) -> Price {
    Price::parse(text).expect("price literal")
}

pub fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty literal")
}

pub fn usd(text: &str) -> Notional {
    Notional::parse(text).expect("notional literal")
}

/// One order stage on the paper venue and what it said so far.
pub struct Rig {
    pub stage: OmsStage<PaperVenue, PortfolioLedger>,
    pub registry: Registry,
    pub control: ControlClient,
    out: OrderOutputs,
    /// Every order update and fill the strategies were told, in order.
    pub exec: Vec<ExecEvent>,
    /// Every journal message, in order.
    pub journal: Vec<JournalMsg>,
    pub now: u64,
    /// The book's mid the rig quotes around.
    mid: Price,
    next_update_id: u64,
    next_intent_seq: u64,
}

impl Rig {
    /// A rig funded with 10 000 USDT, quoting BTCUSDT at 60 000.
    pub fn new(limits: RiskLimits) -> Self {
        Self::with(limits, "10000", 0)
    }

    /// A rig funded with `usdt`, its rails told wall clock − monotonic clock =
    /// `wall_offset_ns` (the UTC day of the daily drawdown), reconciled and quoting
    /// BTCUSDT at 60 000.
    pub fn with(limits: RiskLimits, usdt: &str, wall_offset_ns: i128) -> Self {
        let PaperStage {
            stage,
            registry,
            control,
        } = paper_stage(limits, usdt, wall_offset_ns);
        let mut rig = Self {
            stage,
            registry,
            control,
            out: OrderOutputs::with_capacity(4096, 4096),
            exec: Vec::new(),
            journal: Vec::new(),
            now: START_NS,
            mid: p("60000"),
            next_update_id: 1,
            next_intent_seq: 1,
        };
        rig.quote("60000");
        rig.poll();
        assert!(
            rig.stage.manager().is_reconciled(),
            "the paper venue answered the reconciliation"
        );
        rig
    }

    fn drain(&mut self) -> Vec<ExecEvent> {
        let new: Vec<ExecEvent> = self.out.exec.drain().collect();
        self.exec.extend_from_slice(&new);
        self.journal.extend(self.out.journal.drain());
        new
    }

    /// A synced book around `mid` (one cent either side, 2 BTC on each of 3 levels), received now.
    pub fn quote(&mut self, mid: &str) {
        self.quote_at(p(mid));
    }

    fn quote_at(&mut self, mid: Price) {
        self.mid = mid;
        let cent = p("0.01");
        let mut top = BookTop {
            last_update_id: self.next_update_id,
            valid: true,
            bid_count: 3,
            ask_count: 3,
            ..BookTop::default()
        };
        for level in 0..3 {
            let step = Price::from_int(level);
            top.bids[level as usize] = Level {
                price: self.mid.saturating_sub(cent).saturating_sub(step),
                qty: q("2"),
            };
            top.asks[level as usize] = Level {
                price: self.mid.saturating_add(cent).saturating_add(step),
                qty: q("2"),
            };
        }
        self.market(MarketEventKind::Book(top));
    }

    /// The same book again, received now (market data stays fresh).
    pub fn requote(&mut self) {
        self.quote_at(self.mid);
    }

    /// A book the feed marks invalid (resyncing), received now.
    pub fn invalid_book(&mut self) {
        let top = BookTop {
            last_update_id: self.next_update_id,
            valid: false,
            ..BookTop::default()
        };
        self.market(MarketEventKind::Book(top));
    }

    fn market(&mut self, kind: MarketEventKind) {
        let event = MarketEvent {
            symbol: BTC,
            recv_ns: self.now,
            exch_ts_ms: self.now / MS,
            kind,
        };
        self.next_update_id += 1;
        self.stage.on_market(&event, self.now, &mut self.out);
        self.drain();
    }

    /// One poll of the stage at the current time.
    pub fn poll(&mut self) -> Vec<ExecEvent> {
        self.stage.poll(self.now, &mut self.out);
        self.drain()
    }

    /// Moves the clock `ms` on, polling at every breaker step on the way (no market data).
    pub fn advance(&mut self, ms: u64) {
        self.advance_with(ms, false);
    }

    /// Like [`Rig::advance`], with the book received again at every step.
    pub fn advance_quoting(&mut self, ms: u64) {
        self.advance_with(ms, true);
    }

    fn advance_with(&mut self, ms: u64, quoting: bool) {
        let mut left = ms;
        while left > 0 {
            let step = left.min(RISK_STEP_MS);
            self.now += step * MS;
            left -= step;
            if quoting {
                self.requote();
            }
            self.poll();
        }
    }

    /// Polls through one publish period, so the metrics show everything that happened
    /// before (the stage publishes at most once a second, at the start of a poll).
    pub fn publish(&mut self) {
        self.advance(PUBLISH_MS);
    }

    /// Sends an operator command and polls until the stage answered it.
    pub fn command(&mut self, command: ControlCommand) -> ControlOutcome {
        let id = self
            .control
            .send(command)
            .expect("the command ring has room");
        self.poll();
        self.control.reply(id).expect("answered within the poll")
    }

    /// Hands `intent` to the stage now; returns what the strategy was told.
    pub fn send(&mut self, intent: OrderIntent) -> Vec<ExecEvent> {
        self.stage.on_intent(&intent, self.now, &mut self.out);
        self.drain()
    }

    /// A new intent of `strategy` with the next sequence number.
    pub fn intent(&mut self, strategy: StrategyId, side: Side, qty: &str) -> OrderIntent {
        let intent_seq = self.next_intent_seq;
        self.next_intent_seq += 1;
        OrderIntent {
            strategy,
            intent_seq,
            symbol: BTC,
            side,
            order_type: OrderType::Market,
            qty: q(qty),
            cause_recv_ns: self.now,
            ..OrderIntent::default()
        }
    }

    /// A GTC limit intent of `strategy`.
    pub fn limit(
        &mut self,
        strategy: StrategyId,
        side: Side,
        qty: &str,
        price: &str,
    ) -> OrderIntent {
        OrderIntent {
            order_type: OrderType::Limit,
            price: p(price),
            ..self.intent(strategy, side, qty)
        }
    }

    /// A GTC buy of `strategy` resting 1 000 below the mid (never fills while the book stays).
    pub fn passive_buy(&mut self, strategy: StrategyId, qty: &str) -> OrderIntent {
        let price = self.mid.saturating_sub(Price::from_int(1_000));
        OrderIntent {
            order_type: OrderType::Limit,
            price,
            ..self.intent(strategy, Side::Buy, qty)
        }
    }

    /// A market intent of `strategy`.
    pub fn market_order(&mut self, strategy: StrategyId, side: Side, qty: &str) -> OrderIntent {
        self.intent(strategy, side, qty)
    }

    /// A cancel of `target` by `strategy`.
    pub fn cancel(&mut self, strategy: StrategyId, target: ClientOrderId) -> OrderIntent {
        OrderIntent {
            action: IntentAction::Cancel,
            target,
            ..self.intent(strategy, Side::Buy, "0")
        }
    }

    /// Sends `intent` and asserts it reached the venue (an order with a client id, taken
    /// by the venue); returns the order's id.
    pub fn place(&mut self, intent: OrderIntent) -> ClientOrderId {
        let told = self.send(intent);
        let updates: Vec<OrderUpdate> = updates(&told);
        let first = updates
            .iter()
            .find(|u| u.client_order_id.0 != 0)
            .unwrap_or_else(|| panic!("{intent:?} reached no venue: {told:#?}"));
        assert!(
            updates
                .iter()
                .all(|u| u.reject_code == 0 && u.status != OrderStatus::Rejected),
            "{intent:?} was refused: {told:#?}"
        );
        assert!(
            updates
                .iter()
                .any(|u| u.client_order_id == first.client_order_id
                    && u.status != OrderStatus::PendingNew),
            "the venue answered {intent:?}: {told:#?}"
        );
        first.client_order_id
    }

    /// Sends `intent` and asserts the strategy was told it is refused with `code` and
    /// nothing reached the venue; returns the journaled risk event.
    pub fn refused(&mut self, intent: OrderIntent, code: u16) -> RiskEvent {
        let venue_accepted = self.stage.venue().stats().accepted;
        let journaled = self.journal.len();
        let told = self.send(intent);
        let updates = updates(&told);
        assert_eq!(updates.len(), 1, "one answer to {intent:?}: {told:#?}");
        let update = updates[0];
        assert_eq!(update.status, OrderStatus::Rejected, "{update:#?}");
        assert_eq!(
            update.reject_code,
            code,
            "{intent:?} refused with {} (expected {})",
            codes::name(update.reject_code),
            codes::name(code)
        );
        assert_eq!(update.client_order_id, ClientOrderId(0), "never an order");
        assert_eq!(
            (update.strategy, update.side),
            (intent.strategy, intent.side)
        );
        assert_eq!(
            self.stage.venue().stats().accepted,
            venue_accepted,
            "nothing reached the venue"
        );
        let events: Vec<(Option<SymbolId>, RiskEvent)> = self.journal[journaled..]
            .iter()
            .filter_map(|m| match m {
                JournalMsg::Risk { symbol, event, .. } => Some((*symbol, *event)),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1, "one risk record: {events:#?}");
        let (symbol, event) = events[0];
        assert_eq!(symbol, Some(intent.symbol));
        assert_eq!(event.code, code);
        assert_eq!(event.strategy, intent.strategy);
        event
    }

    /// Like [`Rig::refused`], and the record carries `observed` against `limit`.
    pub fn refused_with(
        &mut self,
        intent: OrderIntent,
        code: u16,
        observed: &str,
        limit: &str,
    ) -> RiskEvent {
        let event = self.refused(intent, code);
        assert_eq!(
            (event.observed, event.limit),
            (usd(observed), usd(limit)),
            "observed and limit of {}",
            codes::name(code)
        );
        event
    }

    /// Publishes, then asserts `risk_rejects_total` counts `count` rejects of `code`.
    pub fn assert_rejects_counted(&mut self, code: u16, count: u32) {
        self.publish();
        assert_eq!(
            self.rejects_metric(code),
            f64::from(count),
            "{}",
            codes::name(code)
        );
    }

    /// True while `breaker` is tripped.
    pub fn tripped(&self, breaker: Breaker) -> bool {
        self.stage.rails().breakers().reading(breaker).tripped
    }

    /// Every trading-state change journaled so far.
    pub fn transitions(&self) -> Vec<TradingStateChange> {
        self.journal
            .iter()
            .filter_map(|m| match m {
                JournalMsg::State { change, .. } => Some(*change),
                _ => None,
            })
            .collect()
    }

    /// Every risk record with `code` journaled so far.
    pub fn risk_records(&self, code: u16) -> Vec<RiskEvent> {
        self.journal
            .iter()
            .filter_map(|m| match m {
                JournalMsg::Risk { event, .. } if event.code == code => Some(*event),
                _ => None,
            })
            .collect()
    }

    /// The trading mode the rails are in.
    pub fn mode(&self) -> TradingMode {
        self.stage.rails().health().mode()
    }

    /// The value of the series `series` (name with its labels, exactly as exported).
    pub fn metric(&self, series: &str) -> f64 {
        let text = self.registry.render();
        text.lines()
            .find_map(|line| {
                let value = line.strip_prefix(series)?.strip_prefix(' ')?;
                value.trim().parse().ok()
            })
            .unwrap_or_else(|| panic!("series {series} not exported:\n{text}"))
    }

    /// `risk_rejects_total` of one reject code.
    pub fn rejects_metric(&self, code: u16) -> f64 {
        self.metric(&format!(
            "risk_rejects_total{{reason=\"{}\"}}",
            codes::name(code)
        ))
    }

    /// `risk_breaker_tripped` of one breaker (by its cause code).
    pub fn breaker_metric(&self, cause: u16) -> f64 {
        self.metric(&format!(
            "risk_breaker_tripped{{breaker=\"{}\"}}",
            codes::name(cause)
        ))
    }

    /// The spot BTC position.
    pub fn position(&self) -> Qty {
        crate::risk_support::spot_position(&self.stage)
    }

    /// The manager's latest state of an order.
    pub fn status(&self, id: ClientOrderId) -> OrderStatus {
        self.stage
            .manager()
            .order(id)
            .expect("tracked order")
            .status
    }
}

/// The order updates among `events`.
pub fn updates(events: &[ExecEvent]) -> Vec<OrderUpdate> {
    events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Update(u) => Some(*u),
            ExecEvent::Fill(_) | ExecEvent::Account { .. } => None,
        })
        .collect()
}

/// Limits that bind nowhere (every rail and breaker still runs): each test tightens one.
pub fn wide() -> RiskLimits {
    RiskLimits::non_binding()
}

/// Asserts one state change `from` → `to` for `cause` is the last journaled.
pub fn assert_last_transition(rig: &Rig, from: TradingMode, to: TradingMode, cause: u16) {
    let last = rig.transitions().last().copied().expect("a transition");
    assert_eq!(
        (last.from, last.to, last.cause_code),
        (from, to, cause),
        "last transition, cause {}",
        codes::name(last.cause_code)
    );
}
