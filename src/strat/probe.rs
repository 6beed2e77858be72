//! Owns: the probe strategy — a deliberately simple, always-trading strategy for the
//! paper-trading demo, the end-to-end latency benchmark and integration tests: on a valid
//! book it buys at market with an exchange-side bracket (stop-loss and take-profit a fixed
//! number of basis points away), waits until the bracket has closed the position, and
//! repeats after a cooldown; in `every_tick` mode it sends an order on every Nth book event
//! (alternating sides, no bracket) to measure tick-to-order. Never: claims an edge; it
//! exists to exercise the order path with real market data.

use crate::core::{
    ClientOrderId, ExecEvent, MarketEvent, MarketEventKind, OrderIntent, OrderRole, OrderStatus,
    OrderType, Price, Qty, Side, StrategyId, SymbolId,
};
use crate::engine::stage::{Outbox, StrategyStage};

/// Probe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    pub strategy: StrategyId,
    pub symbol: SymbolId,
    /// Quantity of each entry.
    pub qty: Qty,
    /// Bracket distance from the mid, in basis points (stop below, take-profit above).
    pub bracket_bps: i64,
    /// Book events to wait after a round trip closed.
    pub cooldown_events: u32,
    /// Benchmark mode: an unbracketed market order every `every_tick` book events (0: off).
    pub every_tick: u32,
    /// In benchmark mode, count trades instead of book updates (only while the last book
    /// seen was valid): the tick is then a trade frame, not a depth diff to apply.
    pub tick_on_trades: bool,
}

/// The probe strategy.
#[derive(Debug)]
pub struct ProbeStrategy {
    config: ProbeConfig,
    /// Signed position from our fills.
    position: i128,
    /// An entry is in flight (sent, not yet final).
    entry_open: bool,
    /// Open bracket legs (by client id): while any is open the round trip is not over. A
    /// restarted engine replays its open orders first, so the probe resumes mid-trip.
    open_legs: [ClientOrderId; 4],
    cooldown: u32,
    seq: u64,
    ticks: u32,
    /// The last book seen was valid (two-sided, not resyncing).
    book_valid: bool,
    /// Round trips started.
    pub entries: u64,
    /// Fills seen.
    pub fills: u64,
    /// Rejects seen.
    pub rejects: u64,
}

impl ProbeStrategy {
    /// A probe with `config`.
    pub fn new(config: ProbeConfig) -> Self {
        Self {
            config,
            position: 0,
            entry_open: false,
            open_legs: [ClientOrderId(0); 4],
            cooldown: 0,
            seq: 0,
            ticks: 0,
            book_valid: false,
            entries: 0,
            fills: 0,
            rejects: 0,
        }
    }

    fn intent(&mut self, side: Side, cause_recv_ns: u64) -> OrderIntent {
        self.seq += 1;
        OrderIntent {
            strategy: self.config.strategy,
            intent_seq: self.seq,
            symbol: self.config.symbol,
            side,
            order_type: OrderType::Market,
            qty: self.config.qty,
            cause_recv_ns,
            ..OrderIntent::default()
        }
    }
}

impl ProbeStrategy {
    /// Benchmark mode: a market order on every `every_tick`-th tick, alternating sides.
    fn tick_every_nth(&mut self, cause_recv_ns: u64, intents: &mut Outbox<OrderIntent>) {
        if self.config.every_tick == 0 {
            return;
        }
        self.ticks += 1;
        if self.ticks % self.config.every_tick == 0 {
            let side = if self.seq % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let intent = self.intent(side, cause_recv_ns);
            let _ = intents.push(intent);
        }
    }
}

fn bps(price: Price, bps: i64) -> Price {
    Price::from_raw(price.raw() + price.raw() / 10_000 * i128::from(bps))
}

impl StrategyStage for ProbeStrategy {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        if event.symbol != self.config.symbol {
            return;
        }
        if let MarketEventKind::Book(top) = &event.kind {
            // Strategies must not trade on a book that is resyncing.
            self.book_valid = top.valid && top.bid_count > 0 && top.ask_count > 0;
        }
        let tick = match &event.kind {
            MarketEventKind::Book(_) => !self.config.tick_on_trades,
            MarketEventKind::Trade(_) => self.config.tick_on_trades,
            MarketEventKind::BookTicker(_) => false,
        };
        if !self.book_valid || !tick {
            return;
        }
        let MarketEventKind::Book(top) = &event.kind else {
            // A trade tick (benchmark mode).
            self.tick_every_nth(event.recv_ns, intents);
            return;
        };
        if self.config.every_tick > 0 {
            self.tick_every_nth(event.recv_ns, intents);
            return;
        }
        let legs_open = self.open_legs.iter().any(|id| id.0 != 0);
        if self.entry_open || legs_open || self.position > 0 {
            return;
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            return;
        }
        let mid = top.bids[0].price.midpoint(top.asks[0].price);
        let mut intent = self.intent(Side::Buy, event.recv_ns);
        intent.stop_loss = bps(mid, -self.config.bracket_bps);
        intent.take_profit = bps(mid, self.config.bracket_bps);
        if intents.push(intent).is_ok() {
            self.entry_open = true;
            self.entries += 1;
        }
    }

    fn on_exec(&mut self, event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {
        match event {
            ExecEvent::Fill(fill) if fill.strategy == self.config.strategy => {
                self.fills += 1;
                let qty = fill.qty.raw();
                self.position += match fill.side {
                    Side::Buy => qty,
                    Side::Sell => -qty,
                };
                if self.position == 0 && !self.entry_open {
                    self.cooldown = self.config.cooldown_events;
                }
            }
            ExecEvent::Update(update) if update.strategy == self.config.strategy => {
                if update.status == OrderStatus::Rejected {
                    self.rejects += 1;
                }
                let is_leg = matches!(update.role, OrderRole::StopLoss | OrderRole::TakeProfit);
                if is_leg {
                    let id = update.client_order_id;
                    let slot = self.open_legs.iter().position(|&l| l == id);
                    match (update.status.is_final(), slot) {
                        (true, Some(i)) => {
                            self.open_legs[i] = ClientOrderId(0);
                            if self.open_legs.iter().all(|l| l.0 == 0) {
                                // The round trip is over, whatever our own fill count says.
                                self.position = 0;
                                self.cooldown = self.config.cooldown_events;
                            }
                        }
                        (false, None) => {
                            if let Some(free) = self.open_legs.iter_mut().find(|l| l.0 == 0) {
                                *free = id;
                            }
                        }
                        _ => {}
                    }
                }
                let entry = update.role == OrderRole::Entry;
                if entry && update.status.is_final() {
                    self.entry_open = false;
                    if self.position == 0 {
                        self.cooldown = self.config.cooldown_events;
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _now_ns: u64, _intents: &mut Outbox<OrderIntent>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{BookTop, Fill, Level, OrderUpdate};

    fn book(valid: bool, bid: &str, ask: &str) -> MarketEvent {
        let mut top = BookTop {
            valid,
            bid_count: 1,
            ask_count: 1,
            ..BookTop::default()
        };
        top.bids[0] = Level {
            price: Price::parse(bid).expect("price"),
            qty: Qty::ONE,
        };
        top.asks[0] = Level {
            price: Price::parse(ask).expect("price"),
            qty: Qty::ONE,
        };
        MarketEvent {
            symbol: SymbolId(0),
            recv_ns: 77,
            exch_ts_ms: 0,
            kind: MarketEventKind::Book(top),
        }
    }

    fn config() -> ProbeConfig {
        ProbeConfig {
            strategy: StrategyId(1),
            symbol: SymbolId(0),
            qty: Qty::parse("0.001").expect("qty"),
            bracket_bps: 20,
            cooldown_events: 2,
            every_tick: 0,
            tick_on_trades: false,
        }
    }

    #[test]
    fn enters_once_with_a_bracket_waits_for_the_round_trip_and_cools_down() {
        let mut probe = ProbeStrategy::new(config());
        let mut out = Outbox::with_capacity(8);
        probe.on_market(&book(false, "100", "100.02"), &mut out);
        assert!(out.is_empty(), "never on an invalid book");
        probe.on_market(&book(true, "100", "100.02"), &mut out);
        let intents: Vec<OrderIntent> = out.drain().collect();
        assert_eq!(intents.len(), 1);
        let entry = intents[0];
        assert_eq!(entry.side, Side::Buy);
        assert_eq!(entry.cause_recv_ns, 77);
        assert_eq!(entry.stop_loss, Price::parse("99.80998").expect("price"));
        assert_eq!(entry.take_profit, Price::parse("100.21002").expect("price"));
        probe.on_market(&book(true, "100", "100.02"), &mut out);
        assert!(out.is_empty(), "one round trip at a time");
        let fill = |side| {
            ExecEvent::Fill(Fill {
                strategy: StrategyId(1),
                side,
                qty: Qty::parse("0.001").expect("qty"),
                client_order_id: ClientOrderId(1),
                ..Fill::default()
            })
        };
        let done = ExecEvent::Update(OrderUpdate {
            strategy: StrategyId(1),
            status: OrderStatus::Filled,
            role: OrderRole::Entry,
            ..OrderUpdate::default()
        });
        probe.on_exec(&fill(Side::Buy), &mut out);
        probe.on_exec(&done, &mut out);
        probe.on_market(&book(true, "100", "100.02"), &mut out);
        assert!(out.is_empty(), "holding: the bracket closes it");
        probe.on_exec(&fill(Side::Sell), &mut out);
        for _ in 0..2 {
            probe.on_market(&book(true, "100", "100.02"), &mut out);
            assert!(out.is_empty(), "cooling down");
        }
        probe.on_market(&book(true, "100", "100.02"), &mut out);
        assert_eq!(out.len(), 1, "next round trip");
    }

    #[test]
    fn every_tick_mode_alternates_sides_on_every_nth_book() {
        let mut probe = ProbeStrategy::new(ProbeConfig {
            every_tick: 2,
            ..config()
        });
        let mut out = Outbox::with_capacity(8);
        for _ in 0..6 {
            probe.on_market(&book(true, "100", "100.02"), &mut out);
        }
        let sides: Vec<Side> = out.drain().map(|i| i.side).collect();
        assert_eq!(sides, vec![Side::Buy, Side::Sell, Side::Buy]);
    }

    #[test]
    fn trade_tick_mode_orders_on_every_nth_trade_only_while_the_book_is_valid() {
        let mut probe = ProbeStrategy::new(ProbeConfig {
            every_tick: 2,
            tick_on_trades: true,
            ..config()
        });
        let trade = |recv_ns| MarketEvent {
            symbol: SymbolId(0),
            recv_ns,
            exch_ts_ms: 0,
            kind: MarketEventKind::Trade(crate::core::TradePrint::default()),
        };
        let mut out = Outbox::with_capacity(8);
        for i in 0..4 {
            probe.on_market(&trade(i), &mut out);
        }
        assert!(out.is_empty(), "no valid book yet");
        probe.on_market(&book(true, "100", "100.02"), &mut out);
        assert!(out.is_empty(), "books are not ticks in this mode");
        for i in 10..14 {
            probe.on_market(&trade(i), &mut out);
        }
        probe.on_market(&book(false, "100", "100.02"), &mut out);
        probe.on_market(&trade(20), &mut out);
        probe.on_market(&trade(21), &mut out);
        let causes: Vec<u64> = out.drain().map(|i| i.cause_recv_ns).collect();
        assert_eq!(
            causes,
            vec![11, 13],
            "every 2nd trade, none while resyncing"
        );
    }
}
