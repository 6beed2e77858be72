//! Owns: the order manager's state-machine tests, driven by scripted venue reports.
//! Never: touches a socket or a clock.

use super::*;
use crate::core::{AssetName, BookTicker, LotSizeFilter, OrderKind, OrderKinds, PriceFilter, Side};
use crate::oms::venue::{OcoOrder, VenueReject};

#[derive(Default)]
struct TestLedger {
    fills: Vec<VenueFill>,
    position: i128,
    /// One balance is enough for these tests.
    balance: Qty,
}

impl Ledger for TestLedger {
    fn apply_fill(&mut self, fill: &VenueFill) -> Notional {
        self.fills.push(*fill);
        let signed = match fill.side {
            Side::Buy => fill.qty.raw(),
            Side::Sell => -fill.qty.raw(),
        };
        self.position += signed;
        Notional::from_raw(fill.fee.raw())
    }
    fn set_balance(
        &mut self,
        asset: AssetName,
        free: Qty,
        locked: Qty,
    ) -> crate::oms::portfolio::BalanceCorrection {
        let after = free.saturating_add(locked);
        crate::oms::portfolio::BalanceCorrection {
            wallet: crate::core::Market::Spot,
            asset,
            before: std::mem::replace(&mut self.balance, after),
            after,
        }
    }
    fn set_position(&mut self, _symbol: SymbolId, qty: Qty, _entry: Price) {
        self.position = qty.raw();
    }
    fn mark(&mut self, _symbol: SymbolId, _price: Price) {}
    fn account(&self) -> crate::oms::metrics::AccountFigures {
        crate::oms::metrics::AccountFigures::default()
    }
}

const SYM: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("test price")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test qty")
}

fn instrument(market: Market) -> Instrument {
    let mut i = Instrument::new("BTCUSDT", market, "BTC", "USDT");
    i.price_filter = PriceFilter {
        min_price: p("0.01"),
        max_price: p("1000000"),
        tick_size: p("0.01"),
    };
    i.lot_size = LotSizeFilter {
        min_qty: q("0.00001"),
        max_qty: q("9000"),
        step_size: q("0.00001"),
    };
    i
}

struct Harness {
    oms: OrderManager<TestLedger>,
    commands: Outbox<VenueCommand>,
    out: OrderOutputs,
    now: u64,
}

impl Harness {
    fn new(market: Market) -> Self {
        Self::with(instrument(market), 7)
    }

    fn with_instrument(instrument: Instrument) -> Self {
        Self::with(instrument, 7)
    }

    /// A manager of journal session `session` (a restart runs under the next one).
    fn with_session(market: Market, session: u32) -> Self {
        Self::with(instrument(market), session)
    }

    fn with(instrument: Instrument, session: u32) -> Self {
        let config = OmsConfig {
            market: instrument.market,
            ..OmsConfig::default()
        };
        let oms = OrderManager::new(
            config,
            session,
            vec![Some(instrument)],
            TestLedger::default(),
        )
        .expect("valid session");
        Self {
            oms,
            commands: Outbox::with_capacity(64),
            out: OrderOutputs::with_capacity(64, 64),
            now: 1_000,
        }
    }

    /// Reconciled and with a reference price, ready to trade.
    fn ready(market: Market) -> Self {
        Self::ready_with(instrument(market))
    }

    fn ready_with(instrument: Instrument) -> Self {
        let mut h = Self::with_instrument(instrument);
        h.oms.start_reconcile(&mut h.commands);
        h.report(VenueReport::ReconcileDone {
            symbol: SYM,
            ok: true,
        });
        h.oms.on_market(&MarketEvent {
            symbol: SYM,
            recv_ns: 1,
            exch_ts_ms: 0,
            kind: MarketEventKind::BookTicker(BookTicker {
                update_id: 1,
                bid_price: p("100.00"),
                bid_qty: q("1"),
                ask_price: p("100.02"),
                ask_qty: q("1"),
            }),
        });
        h.drain();
        h
    }

    fn intent(&mut self, intent: OrderIntent) {
        self.now += 10;
        self.oms.on_intent(
            &crate::risk::Approved::unchecked(intent),
            self.now,
            &mut self.commands,
            &mut self.out,
        );
    }

    fn report(&mut self, report: VenueReport) {
        self.now += 10;
        self.oms
            .on_report(&report, self.now, &mut self.commands, &mut self.out);
    }

    fn timer(&mut self, at: u64) {
        self.now = at;
        self.oms.on_timer(at, &mut self.commands, &mut self.out);
    }

    fn drain(&mut self) -> (Vec<VenueCommand>, Vec<ExecEvent>, Vec<JournalMsg>) {
        (
            self.commands.drain().collect(),
            self.out.exec.drain().collect(),
            self.out.journal.drain().collect(),
        )
    }

    fn place(&mut self, intent: OrderIntent) -> VenueOrder {
        self.intent(intent);
        let (commands, _, _) = self.drain();
        match commands.as_slice() {
            [VenueCommand::Place(order)] => *order,
            other => panic!("expected one Place, got {other:?}"),
        }
    }

    fn fill(&mut self, order: &VenueOrder, trade_id: u64, price: &str, qty: &str) {
        self.report(VenueReport::Fill(VenueFill {
            client_order_id: order.client_order_id,
            symbol: SYM,
            market: order.market,
            side: order.side,
            price: p(price),
            qty: q(qty),
            fee: q("0.01"),
            fee_asset: AssetName::new("USDT").expect("asset"),
            venue_trade_id: trade_id,
            venue_order_id: 99,
            is_maker: false,
            venue_ts_ms: 0,
        }));
    }

    fn status(&self, id: ClientOrderId) -> OrderStatus {
        self.oms.order(id).map(|o| o.status).expect("tracked")
    }
}

fn limit_buy(qty: &str, price: &str) -> OrderIntent {
    OrderIntent {
        symbol: SYM,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p(price),
        qty: q(qty),
        ..OrderIntent::default()
    }
}

/// The orders `commands` ask the venue about, in order.
fn queried(commands: &[VenueCommand]) -> Vec<ClientOrderId> {
    commands
        .iter()
        .filter_map(|c| match c {
            VenueCommand::QueryOrder {
                client_order_id, ..
            } => Some(*client_order_id),
            _ => None,
        })
        .collect()
}

fn updates(exec: &[ExecEvent]) -> Vec<OrderStatus> {
    exec.iter()
        .filter_map(|e| match e {
            ExecEvent::Update(u) => Some(u.status),
            ExecEvent::Fill(_) | ExecEvent::Account { .. } => None,
        })
        .collect()
}

#[test]
fn nothing_trades_before_reconciliation() {
    let mut h = Harness::new(Market::Spot);
    h.intent(limit_buy("0.1", "100"));
    let (commands, exec, journal) = h.drain();
    assert!(commands.is_empty());
    assert!(matches!(
        exec.as_slice(),
        [ExecEvent::Update(u)] if u.status == OrderStatus::Rejected && u.reject_code == reject::NOT_RECONCILED
    ));
    assert_eq!(journal.len(), 2, "intent and reject are journaled");
    assert!(!h.oms.is_reconciled());
    h.oms.start_reconcile(&mut h.commands);
    let (commands, _, _) = h.drain();
    assert!(matches!(
        commands.as_slice(),
        [VenueCommand::Reconcile {
            since_trade_id: 0,
            ..
        }]
    ));
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    assert!(h.oms.is_reconciled());
}

#[test]
fn a_limit_order_is_rounded_sent_acked_and_filled_in_parts() {
    let mut h = Harness::ready(Market::Spot);
    let order = h.place(limit_buy("0.123456", "99.999"));
    assert_eq!(order.qty, q("0.12345"), "floored to the step");
    assert_eq!(order.price, p("99.99"), "a passive buy floors to the tick");
    assert_eq!(order.client_order_id.session(), 7);
    assert_eq!(h.status(order.client_order_id), OrderStatus::PendingNew);
    h.report(VenueReport::Accepted {
        client_order_id: order.client_order_id,
        venue_order_id: 42,
        venue_ts_ms: 1,
    });
    h.fill(&order, 1, "99.99", "0.1");
    assert_eq!(
        h.status(order.client_order_id),
        OrderStatus::PartiallyFilled
    );
    h.fill(&order, 1, "99.99", "0.1");
    assert_eq!(h.oms.counters().duplicate_fills, 1, "same trade id twice");
    h.fill(&order, 2, "99.99", "0.02345");
    let (_, exec, journal) = h.drain();
    assert_eq!(
        updates(&exec),
        [
            OrderStatus::New,
            OrderStatus::PartiallyFilled,
            OrderStatus::Filled
        ]
    );
    let fills = exec
        .iter()
        .filter(|e| matches!(e, ExecEvent::Fill(_)))
        .count();
    assert_eq!(fills, 2);
    assert_eq!(
        journal
            .iter()
            .filter(|m| matches!(m, JournalMsg::Fill { .. }))
            .count(),
        2
    );
    assert_eq!(h.oms.ledger().position, q("0.12345").raw());
    assert_eq!(h.oms.open_orders().count(), 0);
}

#[test]
fn filter_failures_are_refused_locally_with_their_code() {
    let mut h = Harness::ready(Market::Spot);
    h.intent(limit_buy("0.000001", "100"));
    let (commands, exec, _) = h.drain();
    assert!(commands.is_empty());
    assert!(matches!(
        exec.as_slice(),
        [ExecEvent::Update(u)] if u.reject_code == reject::QTY_ROUNDS_TO_ZERO
    ));
    h.intent(limit_buy("1", "2000000"));
    let (_, exec, _) = h.drain();
    assert!(
        matches!(
            exec.as_slice(),
            [ExecEvent::Update(u)] if u.reject_code == 12
        ),
        "PRICE_FILTER maxPrice"
    );
    assert_eq!(h.oms.counters().local_rejects, 2);
}

#[test]
fn rate_limited_orders_are_retried_with_the_same_id_and_rejected_after_the_budget() {
    let mut h = Harness::ready(Market::Spot);
    let order = h.place(limit_buy("0.1", "100"));
    let limited = VenueReject {
        kind: RejectKind::RateLimited,
        code: 429,
        retry_after_ms: 1_000,
    };
    for attempt in 0..3 {
        h.report(VenueReport::Rejected {
            client_order_id: order.client_order_id,
            reject: limited,
        });
        assert_eq!(h.status(order.client_order_id), OrderStatus::PendingNew);
        h.timer(h.now + 500_000_000);
        assert!(h.drain().0.is_empty(), "not before Retry-After ({attempt})");
        h.timer(h.now + 600_000_000);
        let (commands, _, _) = h.drain();
        assert_eq!(
            commands,
            vec![VenueCommand::Place(order)],
            "same id, same terms"
        );
    }
    h.report(VenueReport::Rejected {
        client_order_id: order.client_order_id,
        reject: limited,
    });
    assert_eq!(h.status(order.client_order_id), OrderStatus::Rejected);
    assert_eq!(
        h.oms.order(order.client_order_id).map(|o| o.reject_code),
        Some(reject::RETRIES_EXHAUSTED)
    );
}

#[test]
fn a_timestamp_reject_is_retried_once() {
    let mut h = Harness::ready(Market::Spot);
    let order = h.place(limit_buy("0.1", "100"));
    let stale = VenueReject {
        kind: RejectKind::Timestamp,
        code: -1021,
        retry_after_ms: 0,
    };
    h.report(VenueReport::Rejected {
        client_order_id: order.client_order_id,
        reject: stale,
    });
    h.timer(h.now + 1_000_000_000);
    assert_eq!(h.drain().0, vec![VenueCommand::Place(order)]);
    h.report(VenueReport::Rejected {
        client_order_id: order.client_order_id,
        reject: stale,
    });
    assert_eq!(h.status(order.client_order_id), OrderStatus::Rejected);
}

#[test]
fn an_unanswered_order_is_queried_and_a_fill_before_the_ack_counts() {
    let mut h = Harness::ready(Market::Spot);
    let order = h.place(limit_buy("0.1", "100"));
    h.timer(h.now + 6_000_000_000);
    let (commands, _, _) = h.drain();
    assert!(matches!(
        commands.as_slice(),
        [VenueCommand::QueryOrder { client_order_id, .. }] if *client_order_id == order.client_order_id
    ));
    // Asked again after each timeout, up to the budget; then a note, and the order stays
    // pending (it may exist at the venue).
    for _ in 0..2 {
        h.timer(h.now + 6_000_000_000);
        assert_eq!(h.drain().0.len(), 1, "asked again");
    }
    h.timer(h.now + 6_000_000_000);
    let (commands, _, journal) = h.drain();
    assert!(commands.is_empty());
    assert!(matches!(journal.as_slice(), [JournalMsg::Note { .. }]));
    assert_eq!(h.oms.counters().unanswered, 1);
    assert_eq!(h.status(order.client_order_id), OrderStatus::PendingNew);
    h.timer(h.now + 6_000_000_000);
    assert!(h.drain().2.is_empty(), "said once");
    h.fill(&order, 5, "100", "0.1");
    assert_eq!(h.status(order.client_order_id), OrderStatus::Filled);
}

#[test]
fn spot_bracket_follows_partial_fills_through_cancel_and_replace() {
    let mut h = Harness::ready(Market::Spot);
    let entry = h.place(OrderIntent {
        stop_loss: p("95.005"),
        take_profit: p("110.005"),
        ..limit_buy("0.2", "100")
    });
    h.fill(&entry, 1, "100", "0.1");
    let (commands, _, _) = h.drain();
    let first = match commands.as_slice() {
        [VenueCommand::PlaceOco(oco)] => *oco,
        other => panic!("expected an OCO, got {other:?}"),
    };
    assert_eq!(first.qty, q("0.1"));
    assert_eq!(first.side, Side::Sell);
    assert_eq!(
        first.stop_trigger,
        p("95.01"),
        "a sell stop rounds up (earlier)"
    );
    assert_eq!(first.take_profit_price, p("110.01"), "a passive sell ceils");
    // The rest fills: the old OCO is cancelled, and replaced once both legs are gone.
    h.fill(&entry, 2, "100", "0.1");
    let (commands, _, _) = h.drain();
    let cancelled: Vec<ClientOrderId> = commands
        .iter()
        .filter_map(|c| match c {
            VenueCommand::Cancel {
                client_order_id, ..
            } => Some(*client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, vec![first.stop_id, first.take_profit_id]);
    h.report(VenueReport::Canceled {
        client_order_id: first.stop_id,
        venue_ts_ms: 0,
    });
    assert!(h.drain().0.is_empty(), "wait for both legs");
    h.report(VenueReport::Canceled {
        client_order_id: first.take_profit_id,
        venue_ts_ms: 0,
    });
    let (commands, _, _) = h.drain();
    match commands.as_slice() {
        [VenueCommand::PlaceOco(oco)] => assert_eq!(oco.qty, q("0.2")),
        other => panic!("expected the replacement OCO, got {other:?}"),
    }
    assert_eq!(h.oms.counters().brackets_placed, 2);
}

#[test]
fn futures_bracket_is_two_reduce_only_orders_and_a_filled_stop_cancels_the_take_profit() {
    let mut h = Harness::ready(Market::UsdmFutures);
    let entry = h.place(OrderIntent {
        order_type: OrderType::Market,
        price: Price::ZERO,
        stop_loss: p("95"),
        take_profit: p("110"),
        ..limit_buy("0.5", "0")
    });
    h.fill(&entry, 1, "100.02", "0.5");
    let (commands, _, _) = h.drain();
    let legs: Vec<VenueOrder> = commands
        .iter()
        .filter_map(|c| match c {
            VenueCommand::Place(o) => Some(*o),
            _ => None,
        })
        .collect();
    assert_eq!(legs.len(), 2);
    assert!(legs
        .iter()
        .all(|o| o.reduce_only && o.side == Side::Sell && o.qty == q("0.5")));
    assert_eq!(legs[0].order_type, OrderType::StopMarket);
    assert_eq!(legs[0].trigger_price, p("95"));
    assert_eq!(legs[1].order_type, OrderType::TakeProfitMarket);
    h.fill(&legs[0], 2, "94.9", "0.5");
    let (commands, _, _) = h.drain();
    assert_eq!(
        commands,
        vec![VenueCommand::Cancel {
            client_order_id: legs[1].client_order_id,
            symbol: SYM,
            market: Market::UsdmFutures
        }]
    );
    assert_eq!(h.oms.ledger().position, 0, "flat after the stop");
}

#[test]
fn cancel_and_cancel_all_only_touch_the_strategys_open_orders() {
    let mut h = Harness::ready(Market::Spot);
    let a = h.place(limit_buy("0.1", "90"));
    let b = h.place(limit_buy("0.1", "91"));
    let other = h.place(OrderIntent {
        strategy: StrategyId(2),
        ..limit_buy("0.1", "92")
    });
    h.intent(OrderIntent {
        action: IntentAction::Cancel,
        target: a.client_order_id,
        symbol: SYM,
        ..OrderIntent::default()
    });
    assert_eq!(h.status(a.client_order_id), OrderStatus::PendingCancel);
    h.drain();
    h.intent(OrderIntent {
        action: IntentAction::CancelAll,
        symbol: SYM,
        ..OrderIntent::default()
    });
    let (commands, _, _) = h.drain();
    assert_eq!(
        commands,
        vec![VenueCommand::Cancel {
            client_order_id: b.client_order_id,
            symbol: SYM,
            market: Market::Spot
        }],
        "a is already pending cancel; the other strategy's order stays"
    );
    assert_eq!(h.status(other.client_order_id), OrderStatus::PendingNew);
    h.report(VenueReport::Canceled {
        client_order_id: a.client_order_id,
        venue_ts_ms: 0,
    });
    assert_eq!(h.status(a.client_order_id), OrderStatus::Canceled);
    h.report(VenueReport::Canceled {
        client_order_id: a.client_order_id,
        venue_ts_ms: 0,
    });
    assert_eq!(
        h.oms.counters().stale_reports,
        1,
        "a duplicate cancel is stale"
    );
}

#[test]
fn unknown_fills_and_foreign_open_orders_are_adopted_and_journaled() {
    let mut h = Harness::ready(Market::Spot);
    let ghost = VenueOrder {
        client_order_id: ClientOrderId(12345),
        side: Side::Sell,
        ..VenueOrder::default()
    };
    h.fill(&ghost, 77, "100", "0.3");
    let (_, exec, journal) = h.drain();
    assert!(exec.is_empty(), "no strategy owns it");
    assert!(
        matches!(journal.as_slice(), [JournalMsg::Fill { fill, .. }] if fill.venue_trade_id == 77)
    );
    assert_eq!(h.oms.counters().fills_unknown_order, 1);
    assert_eq!(h.oms.ledger().position, -q("0.3").raw());
    h.report(VenueReport::OpenOrder(VenueOpenOrder {
        client_order_id: None,
        venue_order_id: 555,
        symbol: SYM,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("80"),
        qty: q("1"),
        ..VenueOpenOrder::default()
    }));
    let adopted: Vec<&OrderUpdate> = h.oms.open_orders().collect();
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0].role, OrderRole::External);
    assert_eq!(adopted[0].venue_order_id, 555);
}

#[test]
fn journal_updates_and_fills_rebuild_open_orders_positions_and_the_duplicate_filter() {
    let mut first = Harness::ready(Market::Spot);
    let order = first.place(limit_buy("0.3", "100"));
    first.report(VenueReport::Accepted {
        client_order_id: order.client_order_id,
        venue_order_id: 9,
        venue_ts_ms: 0,
    });
    first.fill(&order, 31, "100", "0.1");
    let (_, _, journal) = first.drain();

    let mut second = Harness::new(Market::Spot);
    let usdt = AssetName::new("USDT").expect("asset");
    for msg in &journal {
        match msg {
            JournalMsg::Update { update, .. } => second.oms.recover_update(update),
            JournalMsg::Fill { fill, .. } => second.oms.recover_fill(fill, usdt),
            _ => {}
        }
    }
    let open: Vec<&OrderUpdate> = second.oms.open_orders().collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, OrderStatus::PartiallyFilled);
    assert_eq!(open[0].filled_qty, q("0.1"));
    assert_eq!(second.oms.ledger().position, q("0.1").raw());
    second.oms.start_reconcile(&mut second.commands);
    let (commands, _, _) = second.drain();
    // The order is still open: its trades are asked for from before it was created (no
    // trade was known then), not only after trade 31.
    assert!(matches!(
        commands.as_slice(),
        [VenueCommand::Reconcile {
            since_trade_id: 0,
            ..
        }]
    ));
    // The venue reports the same trade again during reconciliation: counted once.
    second.fill(&order, 31, "100", "0.1");
    assert_eq!(second.oms.counters().duplicate_fills, 1);
    assert_eq!(second.oms.ledger().position, q("0.1").raw());
}

#[test]
fn reconciliation_asks_about_orders_the_venue_did_not_list() {
    let mut h = Harness::ready(Market::Spot);
    let resting = h.place(limit_buy("0.1", "90"));
    h.report(VenueReport::Accepted {
        client_order_id: resting.client_order_id,
        venue_order_id: 1,
        venue_ts_ms: 0,
    });
    let listed = h.place(limit_buy("0.1", "91"));
    let in_flight = h.place(limit_buy("0.1", "92"));
    h.drain();
    // A reconnect: the venue lists only `listed`.
    h.report(VenueReport::Link(LinkState::Down));
    h.report(VenueReport::Link(LinkState::Up));
    h.drain();
    h.report(VenueReport::OpenOrder(VenueOpenOrder {
        client_order_id: Some(listed.client_order_id),
        venue_order_id: 2,
        symbol: SYM,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("91"),
        qty: q("0.1"),
        ..VenueOpenOrder::default()
    }));
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    let (commands, _, _) = h.drain();
    let mut asked = queried(&commands);
    asked.sort();
    assert_eq!(
        asked,
        vec![resting.client_order_id, in_flight.client_order_id]
    );
    assert_eq!(h.status(listed.client_order_id), OrderStatus::New);
    let unknown = VenueReject {
        kind: RejectKind::UnknownOrder,
        code: -2013,
        retry_after_ms: 0,
    };
    h.report(VenueReport::Rejected {
        client_order_id: resting.client_order_id,
        reject: unknown,
    });
    assert_eq!(
        h.status(resting.client_order_id),
        OrderStatus::Expired,
        "gone while away"
    );
    h.report(VenueReport::Rejected {
        client_order_id: in_flight.client_order_id,
        reject: unknown,
    });
    h.timer(h.now + 1_000_000_000);
    let (commands, _, _) = h.drain();
    assert_eq!(
        commands,
        vec![VenueCommand::Place(in_flight)],
        "never received: sent again under the same id"
    );
}

#[test]
fn a_balance_the_venue_corrects_is_journaled_and_an_unchanged_one_is_not() {
    let mut h = Harness::ready(Market::Spot);
    let usdt = AssetName::new("USDT").expect("asset");
    let balance = |free: &str, locked: &str| VenueReport::Balance {
        asset: usdt,
        free: q(free),
        locked: q(locked),
    };
    h.report(balance("100", "5"));
    let (_, _, journal) = h.drain();
    let notes: Vec<String> = journal
        .iter()
        .filter_map(|m| match m {
            JournalMsg::Note { len, text, .. } => {
                Some(String::from_utf8_lossy(&text[..usize::from(*len)]).into_owned())
            }
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["balance USDT: 0 -> 105"]);
    // The same figure again (an account update after a fill already booked): nothing new.
    h.report(balance("105", "0"));
    let (_, _, journal) = h.drain();
    assert!(journal.is_empty(), "{journal:?}");
}

#[test]
fn a_failed_reconciliation_is_retried_after_a_growing_wait_not_at_once() {
    let mut h = Harness::new(Market::Spot);
    h.oms.start_reconcile(&mut h.commands);
    let reconciles = |commands: &[VenueCommand]| {
        commands
            .iter()
            .filter(|c| matches!(c, VenueCommand::Reconcile { .. }))
            .count()
    };
    let (commands, _, _) = h.drain();
    assert_eq!(reconciles(&commands), 1);
    let backoff = OmsConfig::default().retry_backoff_ns;
    // The venue refuses (e.g. its weight window is used up): nothing is sent right away,
    // whatever the timer does before the wait is over; one note per attempt.
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: false,
    });
    let failed_at = h.now;
    let (commands, _, journal) = h.drain();
    assert_eq!(reconciles(&commands), 0);
    assert_eq!(journal.len(), 1, "{journal:?}");
    h.timer(failed_at + backoff - 1);
    assert_eq!(reconciles(&h.drain().0), 0);
    h.timer(failed_at + backoff);
    assert_eq!(reconciles(&h.drain().0), 1);
    // A second failure waits twice as long.
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: false,
    });
    let failed_again = h.now;
    h.drain();
    h.timer(failed_again + 2 * backoff - 1);
    assert_eq!(reconciles(&h.drain().0), 0);
    h.timer(failed_again + 2 * backoff);
    assert_eq!(reconciles(&h.drain().0), 1);
    assert!(!h.oms.is_reconciled());
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    assert!(h.oms.is_reconciled());
    h.timer(h.now + 100 * backoff);
    assert_eq!(reconciles(&h.drain().0), 0, "nothing left to retry");
}

#[test]
fn reconciliation_asks_for_trades_from_before_the_oldest_open_order_not_the_newest_fill() {
    // The journal of a killed run: order 1 filled by trade 90; order 2 sent, its fill
    // (trade 93) never journaled; order 3 sent later, its fill (trade 94) journaled first.
    let mut h = Harness::new(Market::Spot);
    let update = |id: u64, status: OrderStatus| OrderUpdate {
        client_order_id: ClientOrderId(id),
        symbol: SYM,
        side: Side::Buy,
        status,
        order_type: OrderType::Market,
        qty: q("0.001"),
        ..OrderUpdate::default()
    };
    let fill = |id: u64, trade: u64| Fill {
        client_order_id: ClientOrderId(id),
        symbol: SYM,
        side: Side::Buy,
        price: p("100"),
        qty: q("0.001"),
        venue_trade_id: trade,
        ..Fill::default()
    };
    let usdt = AssetName::new("USDT").expect("asset");
    h.oms.recover_update(&update(1, OrderStatus::PendingNew));
    h.oms.recover_fill(&fill(1, 90), usdt);
    h.oms.recover_update(&update(1, OrderStatus::Filled));
    h.oms.recover_update(&update(2, OrderStatus::New));
    h.oms.recover_update(&update(3, OrderStatus::PendingNew));
    h.oms.recover_fill(&fill(3, 94), usdt);
    h.oms.recover_update(&update(3, OrderStatus::Filled));
    assert_eq!(h.oms.last_trade_id(SYM), 94);
    h.oms.start_reconcile(&mut h.commands);
    let (commands, _, _) = h.drain();
    assert!(
        matches!(
            commands.as_slice(),
            [VenueCommand::Reconcile {
                since_trade_id: 90,
                ..
            }]
        ),
        "{commands:?}"
    );
    // Trade 93 arrives with reconciliation (94 again is a duplicate); order 2 is done.
    h.report(VenueReport::Fill(VenueFill {
        client_order_id: ClientOrderId(2),
        symbol: SYM,
        market: Market::Spot,
        side: Side::Buy,
        price: p("100"),
        qty: q("0.001"),
        fee: Qty::ZERO,
        fee_asset: usdt,
        venue_trade_id: 93,
        venue_order_id: 5,
        is_maker: false,
        venue_ts_ms: 0,
    }));
    assert_eq!(h.oms.counters().fills, 1);
    assert_eq!(h.status(ClientOrderId(2)), OrderStatus::Filled);
    // Nothing open any more: the next reconciliation starts after the newest trade.
    assert_eq!(h.oms.reconcile_since(SYM), 94);
}

/// Spot BTCUSDT as real exchangeInfo lists it: no `STOP_LOSS`, only `STOP_LOSS_LIMIT`.
fn spot_without_stop_market() -> Instrument {
    let mut i = instrument(Market::Spot);
    i.order_kinds = OrderKinds::NONE
        .with(OrderKind::Limit)
        .with(OrderKind::LimitMaker)
        .with(OrderKind::Market)
        .with(OrderKind::StopLimit)
        .with(OrderKind::TakeProfitLimit);
    i
}

/// A spot entry of 0.2 filled at 100 with stop 95 and take-profit 110: the OCO it caused.
fn bracketed(h: &mut Harness) -> (VenueOrder, OcoOrder) {
    let entry = h.place(OrderIntent {
        stop_loss: p("95"),
        take_profit: p("110"),
        ..limit_buy("0.2", "100")
    });
    h.fill(&entry, 1, "100", "0.2");
    let (commands, _, _) = h.drain();
    match commands.as_slice() {
        [VenueCommand::PlaceOco(oco)] => (entry, *oco),
        other => panic!("expected an OCO, got {other:?}"),
    }
}

fn leg_updates(exec: &[ExecEvent], legs: [ClientOrderId; 2]) -> Vec<(ClientOrderId, OrderStatus)> {
    exec.iter()
        .filter_map(|e| match e {
            ExecEvent::Update(u) if legs.contains(&u.client_order_id) => {
                Some((u.client_order_id, u.status))
            }
            _ => None,
        })
        .collect()
}

fn notes(journal: &[JournalMsg]) -> usize {
    journal
        .iter()
        .filter(|m| matches!(m, JournalMsg::Note { .. }))
        .count()
}

#[test]
fn the_stop_leg_is_stop_limit_where_the_instrument_takes_no_stop_market() {
    // Real BTCUSDT: the OCO's stop is a STOP_LOSS_LIMIT 25 bps under the trigger.
    let mut h = Harness::ready_with(spot_without_stop_market());
    let (_, oco) = bracketed(&mut h);
    assert_eq!(oco.stop_trigger, p("95"));
    // 95 − 95 × 0.0025 = 94.7625, floored onto the 0.01 grid (more room, never less).
    assert_eq!(oco.stop_limit, p("94.76"));
    let stop = h.oms.order(oco.stop_id).expect("tracked");
    assert_eq!(
        (stop.order_type, stop.price, stop.trigger_price),
        (OrderType::StopMarket, p("94.76"), p("95")),
        "a stop leg with a price is a stop-limit"
    );
    // Where the venue takes STOP_LOSS, the leg stays a stop-market.
    let mut h = Harness::ready(Market::Spot);
    let (_, oco) = bracketed(&mut h);
    assert_eq!(oco.stop_limit, Price::ZERO);
    // A stop without a take-profit is one stop-limit order.
    let mut h = Harness::ready_with(spot_without_stop_market());
    let entry = h.place(OrderIntent {
        side: Side::Sell,
        stop_loss: p("105"),
        ..limit_buy("0.2", "100.02")
    });
    h.fill(&entry, 1, "100.02", "0.2");
    let (commands, _, _) = h.drain();
    match commands.as_slice() {
        [VenueCommand::Place(stop)] => assert_eq!(
            (stop.side, stop.order_type, stop.trigger_price, stop.price),
            (Side::Buy, OrderType::StopMarket, p("105"), p("105.27")),
            "a buy stop's limit sits above: 105 + 0.2625, ceiled"
        ),
        other => panic!("expected one stop, got {other:?}"),
    }
}

#[test]
fn the_stop_limit_stays_on_the_grid_inside_the_price_filter_and_the_side_band() {
    let mut i = spot_without_stop_market();
    let limit = |i: &Instrument, side, trigger: &str, bps| {
        bracket::stop_limit_price(i, side, p(trigger), p("100"), bps)
    };
    assert_eq!(
        limit(&i, Side::Sell, "95", 0),
        p("94.99"),
        "at least a tick"
    );
    assert_eq!(limit(&i, Side::Buy, "105", 0), p("105.01"));
    assert_eq!(limit(&i, Side::Sell, "95", 1_000), p("85.50"));
    // PERCENT_PRICE_BY_SIDE: asks no lower than 0.9 × 100.015, bids no higher than 1.1 × it.
    i.percent_price = crate::core::PercentPriceFilter::BySide {
        bid_multiplier_up: crate::core::Ratio::parse("1.1").expect("ratio"),
        bid_multiplier_down: crate::core::Ratio::parse("0.2").expect("ratio"),
        ask_multiplier_up: crate::core::Ratio::parse("5").expect("ratio"),
        ask_multiplier_down: crate::core::Ratio::parse("0.9").expect("ratio"),
        avg_price_mins: 5,
    };
    assert_eq!(limit(&i, Side::Sell, "95", 1_000), p("90"), "band floor");
    assert_eq!(limit(&i, Side::Buy, "105", 1_000), p("110"), "band ceiling");
    for (side, trigger) in [(Side::Sell, "95"), (Side::Buy, "105")] {
        let price = limit(&i, side, trigger, 1_000);
        assert_eq!(i.check_order(false, side, price, q("1"), p("100")), Ok(()));
    }
    // PRICE_FILTER's minimum holds when the slippage would go below it.
    i.price_filter.min_price = p("50");
    i.percent_price = crate::core::PercentPriceFilter::Disabled;
    assert_eq!(limit(&i, Side::Sell, "60", 5_000), p("50"));
    // A venue that takes a stop-market: no limit.
    assert_eq!(
        limit(&instrument(Market::Spot), Side::Sell, "95", 25),
        Price::ZERO
    );
}

#[test]
fn an_oco_refused_under_its_list_id_rejects_both_legs_once() {
    let mut h = Harness::ready_with(spot_without_stop_market());
    let (entry, oco) = bracketed(&mut h);
    let legs = [oco.stop_id, oco.take_profit_id];
    let before = *h.oms.counters();
    h.report(VenueReport::Rejected {
        client_order_id: oco.list_id,
        reject: VenueReject {
            kind: RejectKind::Other,
            code: -2010,
            retry_after_ms: 0,
        },
    });
    let (commands, exec, journal) = h.drain();
    assert!(commands.is_empty(), "nothing re-sent: {commands:?}");
    assert_eq!(
        leg_updates(&exec, legs),
        vec![
            (oco.stop_id, OrderStatus::Rejected),
            (oco.take_profit_id, OrderStatus::Rejected)
        ],
        "both legs end, each reported once"
    );
    assert_eq!(notes(&journal), 1, "said once in the journal");
    let updates = journal
        .iter()
        .filter(|m| matches!(m, JournalMsg::Update { update, .. } if update.status == OrderStatus::Rejected))
        .count();
    assert_eq!(updates, 2, "both legs journaled");
    for leg in legs {
        let order = h.oms.order(leg).expect("tracked");
        assert_eq!(order.reject_code, reject::VENUE_BASE + 99);
    }
    let after = *h.oms.counters();
    assert_eq!(after.venue_rejects - before.venue_rejects, 2);
    assert_eq!(after.unprotected_fills - before.unprotected_fills, 1);
    assert_eq!(h.status(entry.client_order_id), OrderStatus::Filled);
    assert_eq!(
        h.oms.ledger().position,
        q("0.2").raw(),
        "the position stays known"
    );
    // Nothing is left pending: no query, no retry, ever.
    h.timer(h.now + 60_000_000_000);
    assert!(h.drain().0.is_empty());
    assert_eq!(h.oms.open_orders().count(), 0);
    // A late copy of the refusal changes nothing.
    h.report(VenueReport::Rejected {
        client_order_id: oco.list_id,
        reject: VenueReject::default(),
    });
    assert_eq!(h.oms.counters().venue_rejects, after.venue_rejects, "stale");
}

#[test]
fn an_oco_refused_under_a_leg_id_rejects_both_legs() {
    let mut h = Harness::ready_with(spot_without_stop_market());
    let (_, oco) = bracketed(&mut h);
    h.report(VenueReport::Rejected {
        client_order_id: oco.take_profit_id,
        reject: VenueReject {
            kind: RejectKind::WouldTake,
            code: -2010,
            retry_after_ms: 0,
        },
    });
    let (commands, exec, journal) = h.drain();
    assert!(commands.is_empty());
    assert_eq!(
        leg_updates(&exec, [oco.stop_id, oco.take_profit_id]),
        vec![
            (oco.stop_id, OrderStatus::Rejected),
            (oco.take_profit_id, OrderStatus::Rejected)
        ]
    );
    assert_eq!(notes(&journal), 1);
    // The venue says the same of the other leg: already final, counted stale.
    let stale = h.oms.counters().stale_reports;
    h.report(VenueReport::Rejected {
        client_order_id: oco.stop_id,
        reject: VenueReject::default(),
    });
    assert_eq!(h.oms.counters().stale_reports, stale + 1);
    assert_eq!(h.oms.counters().venue_rejects, 2);
}

#[test]
fn a_rate_limited_oco_is_sent_again_whole_and_an_unknown_one_is_asked_about_per_leg() {
    let mut h = Harness::ready_with(spot_without_stop_market());
    let (_, oco) = bracketed(&mut h);
    let limited = VenueReject {
        kind: RejectKind::RateLimited,
        code: 429,
        retry_after_ms: 1_000,
    };
    h.report(VenueReport::Rejected {
        client_order_id: oco.list_id,
        reject: limited,
    });
    // The same attempt refused again under a leg id: still one retry.
    h.report(VenueReport::Rejected {
        client_order_id: oco.stop_id,
        reject: limited,
    });
    assert_eq!(h.status(oco.stop_id), OrderStatus::PendingNew);
    h.timer(h.now + 1_100_000_000);
    let (commands, _, _) = h.drain();
    assert_eq!(
        commands,
        vec![VenueCommand::PlaceOco(oco)],
        "same list, same ids"
    );
    assert_eq!(h.oms.counters().retries, 1);
    // A lost answer: each leg is asked about.
    h.report(VenueReport::StatusUnknown {
        client_order_id: oco.list_id,
    });
    let (commands, _, _) = h.drain();
    assert_eq!(queried(&commands), vec![oco.stop_id, oco.take_profit_id]);
    // The venue never got it: both legs answer "unknown", the list is sent once more.
    let unknown = VenueReject {
        kind: RejectKind::UnknownOrder,
        code: -2013,
        retry_after_ms: 0,
    };
    for leg in [oco.stop_id, oco.take_profit_id] {
        h.report(VenueReport::Rejected {
            client_order_id: leg,
            reject: unknown,
        });
    }
    h.timer(h.now + 1);
    let (commands, _, _) = h.drain();
    assert_eq!(commands, vec![VenueCommand::PlaceOco(oco)]);
    for leg in [oco.stop_id, oco.take_profit_id] {
        h.report(VenueReport::Accepted {
            client_order_id: leg,
            venue_order_id: leg.0,
            venue_ts_ms: 0,
        });
        assert_eq!(h.status(leg), OrderStatus::New);
    }
}

#[test]
fn a_filled_oco_leg_leaves_the_other_to_the_venue_and_asks_if_it_stays_silent() {
    let mut h = Harness::ready_with(spot_without_stop_market());
    let (_, oco) = bracketed(&mut h);
    for leg in [oco.stop_id, oco.take_profit_id] {
        h.report(VenueReport::Accepted {
            client_order_id: leg,
            venue_order_id: leg.0,
            venue_ts_ms: 0,
        });
    }
    h.drain();
    let take = VenueOrder {
        client_order_id: oco.take_profit_id,
        side: Side::Sell,
        market: Market::Spot,
        ..VenueOrder::default()
    };
    h.fill(&take, 2, "110", "0.2");
    let (commands, exec, _) = h.drain();
    assert!(commands.is_empty(), "the venue expires the stop leg itself");
    assert_eq!(
        leg_updates(&exec, [oco.stop_id, oco.take_profit_id]),
        vec![
            (oco.take_profit_id, OrderStatus::Filled),
            (oco.stop_id, OrderStatus::PendingCancel)
        ]
    );
    assert_eq!(h.oms.ledger().position, 0, "flat after the take-profit");
    // Its report does not come: after the ack timeout the manager asks.
    h.timer(h.now + 5_000_000_000);
    let (commands, _, _) = h.drain();
    assert_eq!(
        commands,
        vec![VenueCommand::QueryOrder {
            client_order_id: oco.stop_id,
            symbol: SYM,
            market: Market::Spot
        }]
    );
    h.report(VenueReport::Expired {
        client_order_id: oco.stop_id,
        venue_ts_ms: 0,
    });
    assert_eq!(h.status(oco.stop_id), OrderStatus::Expired);
    assert_eq!(h.oms.open_orders().count(), 0);
}

#[test]
fn restart_re_placement_keeps_the_stop_limit_of_the_journaled_leg() {
    let mut first = Harness::ready_with(spot_without_stop_market());
    let (entry, oco) = bracketed(&mut first);
    // The last journaled update of each order is its current state.
    let mut second = Harness::ready_with(spot_without_stop_market());
    for id in [entry.client_order_id, oco.stop_id, oco.take_profit_id] {
        let update = *first.oms.order(id).expect("tracked");
        second.oms.recover_update(&update);
    }
    match second.oms.open_venue_commands().as_slice() {
        [VenueCommand::PlaceOco(again)] => {
            assert_eq!(
                (
                    again.stop_id,
                    again.stop_trigger,
                    again.stop_limit,
                    again.qty
                ),
                (oco.stop_id, oco.stop_trigger, p("94.76"), q("0.2"))
            );
        }
        other => panic!("expected the OCO again, got {other:?}"),
    }
}

/// Session 8 after a killed session 7: the journal replayed, reconciled.
fn restarted(journal: &[JournalMsg]) -> Harness {
    let mut h = Harness::with_session(Market::Spot, 8);
    let usdt = AssetName::new("USDT").expect("asset");
    for msg in journal {
        match msg {
            JournalMsg::Update { update, .. } => h.oms.recover_update(update),
            JournalMsg::Fill { fill, .. } => h.oms.recover_fill(fill, usdt),
            _ => {}
        }
    }
    h.oms.start_reconcile(&mut h.commands);
    h.drain();
    h
}

fn never_received() -> VenueReject {
    VenueReject {
        kind: RejectKind::UnknownOrder,
        code: -2013,
        retry_after_ms: 0,
    }
}

#[test]
fn an_order_a_killed_session_journaled_but_never_sent_is_rejected_not_sent_again() {
    let mut first = Harness::ready(Market::Spot);
    first.intent(limit_buy("0.1", "90"));
    let (commands, _, journal) = first.drain();
    let [VenueCommand::Place(lost)] = commands.as_slice() else {
        panic!("one Place expected: {commands:?}");
    };

    let mut h = restarted(&journal);
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    let (commands, _, _) = h.drain();
    assert_eq!(queried(&commands), vec![lost.client_order_id]);
    h.report(VenueReport::Rejected {
        client_order_id: lost.client_order_id,
        reject: never_received(),
    });
    let (_, exec, journal) = h.drain();
    let rejected = |u: &OrderUpdate| {
        u.client_order_id == lost.client_order_id
            && u.status == OrderStatus::Rejected
            && u.reject_code == reject::NOT_AT_VENUE_AFTER_RESTART
    };
    assert!(
        matches!(exec.as_slice(), [ExecEvent::Update(u)] if rejected(u)),
        "the strategy is told: {exec:?}"
    );
    assert!(
        journal
            .iter()
            .any(|m| matches!(m, JournalMsg::Update { update, .. } if rejected(update))),
        "journaled: {journal:?}"
    );
    h.timer(h.now + 10_000_000_000);
    let (commands, _, _) = h.drain();
    assert!(
        !commands.iter().any(|c| matches!(c, VenueCommand::Place(_))),
        "a stale order never goes out: {commands:?}"
    );
    assert_eq!(h.oms.open_orders().count(), 0);
}

#[test]
fn a_live_order_the_venue_never_received_is_still_sent_again_in_the_same_session() {
    let mut h = Harness::ready(Market::Spot);
    let order = h.place(limit_buy("0.1", "90"));
    h.report(VenueReport::StatusUnknown {
        client_order_id: order.client_order_id,
    });
    h.drain();
    h.report(VenueReport::Rejected {
        client_order_id: order.client_order_id,
        reject: never_received(),
    });
    h.timer(h.now + 1_000_000_000);
    let (commands, _, _) = h.drain();
    assert_eq!(commands, vec![VenueCommand::Place(order)]);
    assert_eq!(h.status(order.client_order_id), OrderStatus::PendingNew);
}

fn resolved(client_order_id: Option<ClientOrderId>, venue_order_id: u64) -> VenueOpenOrder {
    VenueOpenOrder {
        client_order_id,
        venue_order_id,
        symbol: SYM,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Market,
        qty: q("0.3"),
        filled_qty: q("0.3"),
        ..VenueOpenOrder::default()
    }
}

#[test]
fn an_order_sent_but_never_journaled_is_adopted_under_its_id_with_its_fill_once() {
    let mut h = Harness::with_session(Market::Spot, 8);
    h.oms.start_reconcile(&mut h.commands);
    h.drain();
    // Session 7 was killed after sending ks7-5 and before journaling it. Reconciliation
    // resolved its trade (allOrders): the fill, then the order as the venue holds it.
    let lost = ClientOrderId((7 << 40) | 5);
    let order = VenueOrder {
        client_order_id: lost,
        side: Side::Buy,
        market: Market::Spot,
        ..VenueOrder::default()
    };
    h.fill(&order, 40, "100", "0.3");
    h.report(VenueReport::ResolvedOrder {
        order: resolved(Some(lost), 99),
        status: OrderStatus::Filled,
    });
    let (_, _, journal) = h.drain();
    let adopted = h
        .oms
        .order(lost)
        .copied()
        .expect("adopted under its own id");
    assert_eq!(adopted.status, OrderStatus::Filled);
    assert_eq!(adopted.filled_qty, q("0.3"));
    assert_eq!(adopted.role, OrderRole::Entry, "kestrel sent it");
    assert_eq!(adopted.venue_order_id, 99);
    assert!(journal
        .iter()
        .any(|m| matches!(m, JournalMsg::Fill { fill, .. } if fill.client_order_id == lost)));
    assert!(journal.iter().any(
        |m| matches!(m, JournalMsg::Update { update, .. } if update.client_order_id == lost
            && update.status == OrderStatus::Filled)
    ));
    assert_eq!(h.oms.ledger().position, q("0.3").raw());
    assert_eq!(h.oms.open_orders().count(), 0);
    // The next reconciliation sees the trade again: applied once.
    h.fill(&order, 40, "100", "0.3");
    assert_eq!(h.oms.ledger().position, q("0.3").raw());
    assert_eq!(h.oms.counters().duplicate_fills, 1);
    // The order is final: nothing is asked about it.
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    let (commands, _, _) = h.drain();
    assert!(queried(&commands).is_empty());
}

#[test]
fn a_manual_order_found_through_its_trade_is_adopted_as_external() {
    let mut h = Harness::ready(Market::Spot);
    let manual = resolved(None, 4242);
    let order = VenueOrder {
        client_order_id: manual.tracked_id(),
        side: Side::Buy,
        market: Market::Spot,
        ..VenueOrder::default()
    };
    h.fill(&order, 41, "100", "0.1");
    h.report(VenueReport::ResolvedOrder {
        order: VenueOpenOrder {
            filled_qty: q("0.1"),
            ..manual
        },
        status: OrderStatus::Canceled,
    });
    let adopted = h.oms.order(manual.tracked_id()).copied().expect("adopted");
    assert_eq!(adopted.role, OrderRole::External);
    assert_eq!(adopted.status, OrderStatus::Canceled);
    assert_eq!(adopted.filled_qty, q("0.1"));
    assert_eq!(h.oms.ledger().position, q("0.1").raw());
    assert_eq!(h.oms.open_orders().count(), 0);
}

#[test]
fn a_journaled_order_whose_fill_was_lost_takes_the_venues_final_state() {
    let mut first = Harness::ready(Market::Spot);
    first.intent(limit_buy("0.3", "100"));
    let (commands, _, mut journal) = first.drain();
    let [VenueCommand::Place(order)] = commands.as_slice() else {
        panic!("one Place expected: {commands:?}");
    };
    let order = *order;
    first.report(VenueReport::Accepted {
        client_order_id: order.client_order_id,
        venue_order_id: 9,
        venue_ts_ms: 0,
    });
    journal.extend(first.drain().2);
    // Killed before the fill reached the journal; the venue filled it meanwhile.
    let mut h = restarted(&journal);
    h.fill(&order, 50, "100", "0.3");
    h.report(VenueReport::ResolvedOrder {
        order: VenueOpenOrder {
            order_type: OrderType::Limit,
            price: p("100"),
            ..resolved(Some(order.client_order_id), 9)
        },
        status: OrderStatus::Filled,
    });
    assert_eq!(h.status(order.client_order_id), OrderStatus::Filled);
    assert_eq!(h.oms.ledger().position, q("0.3").raw());
    assert_eq!(h.oms.counters().adopted_orders, 0);
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    let (commands, _, _) = h.drain();
    assert!(queried(&commands).is_empty(), "nothing left to ask about");
}

#[test]
fn an_adopted_partly_filled_order_counts_the_fills_reconciliation_brings_once() {
    // A session killed after sending an order and before journaling it: the venue lists
    // it open with 0.3 of 1 filled; reconciliation's trades then bring those fills, and
    // one more (0.2) made after the open-orders snapshot.
    let mut h = Harness::with_session(Market::Spot, 8);
    h.oms.start_reconcile(&mut h.commands);
    h.drain();
    let lost = ClientOrderId(0x0700_0000_0000_0005);
    h.report(VenueReport::OpenOrder(VenueOpenOrder {
        client_order_id: Some(lost),
        venue_order_id: 41,
        symbol: SYM,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: p("100"),
        qty: q("1"),
        filled_qty: q("0.3"),
        ..VenueOpenOrder::default()
    }));
    assert_eq!(h.oms.order(lost).map(|o| o.filled_qty), Some(q("0.3")));
    let order = VenueOrder {
        client_order_id: lost,
        side: Side::Buy,
        ..VenueOrder::default()
    };
    h.fill(&order, 11, "100", "0.1");
    h.fill(&order, 12, "100", "0.2");
    let state = *h.oms.order(lost).expect("adopted");
    assert_eq!(
        state.filled_qty,
        q("0.3"),
        "the listed fills are not added again"
    );
    assert_eq!(state.status, OrderStatus::PartiallyFilled);
    h.fill(&order, 13, "100", "0.2");
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    let (commands, _, _) = h.drain();
    assert!(
        queried(&commands).is_empty(),
        "the venue listed it: nothing to ask: {commands:?}"
    );
    assert_eq!(h.oms.order(lost).map(|o| o.filled_qty), Some(q("0.5")));
    // After reconciliation every fill is new: the rest fills the order.
    h.fill(&order, 14, "100", "0.5");
    assert_eq!(h.status(lost), OrderStatus::Filled);
    assert_eq!(h.oms.order(lost).map(|o| o.filled_qty), Some(q("1")));
    assert_eq!(h.oms.ledger().position, q("1").raw(), "each trade once");
    assert_eq!(h.oms.counters().adopted_orders, 1);
}

/// Session 7's journal of a spot entry of 0.2 filled at 100 with stop 95 and take-profit 110,
/// the entry and the OCO it caused.
fn bracketed_session() -> (Vec<JournalMsg>, VenueOrder, OcoOrder) {
    let mut first = Harness::ready(Market::Spot);
    first.intent(OrderIntent {
        stop_loss: p("95"),
        take_profit: p("110"),
        ..limit_buy("0.2", "100")
    });
    let (commands, _, mut journal) = first.drain();
    let [VenueCommand::Place(entry)] = commands.as_slice() else {
        panic!("one Place expected: {commands:?}");
    };
    let entry = *entry;
    first.fill(&entry, 1, "100", "0.2");
    let (commands, _, more) = first.drain();
    journal.extend(more);
    let [VenueCommand::PlaceOco(oco)] = commands.as_slice() else {
        panic!("one OCO expected: {commands:?}");
    };
    (journal, entry, *oco)
}

/// Session 8 rebuilt from `journal` (with the entry's bracket prices, as the journal's
/// intent gives them), reconciled.
fn restarted_bracketed(journal: &[JournalMsg], entry: &VenueOrder) -> Harness {
    let mut h = restarted(journal);
    h.oms
        .recover_bracket_prices(entry.client_order_id, p("95"), p("110"));
    h
}

fn reconciled(h: &mut Harness) -> Vec<VenueCommand> {
    h.report(VenueReport::ReconcileDone {
        symbol: SYM,
        ok: true,
    });
    h.drain().0
}

#[test]
fn an_entry_killed_between_its_fill_and_its_bracket_is_bracketed_after_reconciliation() {
    let (journal, entry, lost) = bracketed_session();
    // Killed after the fill was journaled, before the bracket legs were.
    let kept: Vec<JournalMsg> = journal
        .into_iter()
        .filter(|m| !matches!(m, JournalMsg::Update { update, .. } if update.parent.0 != 0))
        .collect();
    let mut h = restarted_bracketed(&kept, &entry);
    assert_eq!(h.oms.ledger().position, q("0.2").raw());
    let commands = reconciled(&mut h);
    let [VenueCommand::PlaceOco(oco)] = commands.as_slice() else {
        panic!("the filled entry gets its OCO: {commands:?}");
    };
    assert_eq!(
        (oco.qty, oco.stop_trigger, oco.take_profit_price, oco.side),
        (q("0.2"), p("95"), p("110"), Side::Sell)
    );
    assert_eq!(oco.stop_id.session(), 8, "under this session's ids");
    assert_ne!(oco.list_id, lost.list_id);
    // A second reconciliation (a reconnect) does not bracket it again.
    h.oms.start_reconcile(&mut h.commands);
    h.drain();
    assert!(reconciled(&mut h)
        .iter()
        .all(|c| !matches!(c, VenueCommand::PlaceOco(_))));
}

#[test]
fn a_bracket_a_killed_session_journaled_but_never_sent_is_placed_again_once() {
    let (journal, entry, lost) = bracketed_session();
    let mut h = restarted_bracketed(&journal, &entry);
    let commands = reconciled(&mut h);
    let mut asked = queried(&commands);
    asked.sort();
    assert_eq!(asked, vec![lost.stop_id, lost.take_profit_id]);
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, VenueCommand::PlaceOco(_))),
        "journaled legs are asked about first: {commands:?}"
    );
    h.report(VenueReport::Rejected {
        client_order_id: lost.stop_id,
        reject: never_received(),
    });
    let (commands, _, _) = h.drain();
    // The legs are one list again: both end with the one answer.
    for leg in [lost.stop_id, lost.take_profit_id] {
        assert_eq!(h.status(leg), OrderStatus::Rejected);
        assert_eq!(
            h.oms.order(leg).map(|o| o.reject_code),
            Some(reject::NOT_AT_VENUE_AFTER_RESTART)
        );
    }
    let [VenueCommand::PlaceOco(again)] = commands.as_slice() else {
        panic!("the entry's fill gets a new OCO: {commands:?}");
    };
    assert_eq!((again.qty, again.stop_trigger), (q("0.2"), p("95")));
    assert_eq!(again.take_profit_id.session(), 8);
    // The other leg's answer to the same query changes nothing.
    h.report(VenueReport::Rejected {
        client_order_id: lost.take_profit_id,
        reject: never_received(),
    });
    let (commands, _, _) = h.drain();
    assert!(commands.is_empty(), "one new bracket only: {commands:?}");
}

#[test]
fn recovered_oco_legs_are_one_list_again_so_a_fill_sends_no_cancel_for_the_other_leg() {
    let (journal, entry, oco) = bracketed_session();
    let mut h = restarted_bracketed(&journal, &entry);
    for (id, venue_order_id, side_price, trigger) in [
        (oco.stop_id, 51, oco.stop_limit, oco.stop_trigger),
        (oco.take_profit_id, 52, oco.take_profit_price, Price::ZERO),
    ] {
        h.report(VenueReport::OpenOrder(VenueOpenOrder {
            client_order_id: Some(id),
            venue_order_id,
            symbol: SYM,
            market: Market::Spot,
            side: Side::Sell,
            order_type: OrderType::Limit,
            price: side_price,
            trigger_price: trigger,
            qty: q("0.2"),
            ..VenueOpenOrder::default()
        }));
    }
    let commands = reconciled(&mut h);
    assert!(commands.is_empty(), "listed legs: nothing to ask or place");
    let take = VenueOrder {
        client_order_id: oco.take_profit_id,
        side: Side::Sell,
        ..VenueOrder::default()
    };
    h.fill(&take, 2, "110", "0.2");
    let (commands, _, _) = h.drain();
    assert!(
        commands.is_empty(),
        "the venue ends the stop itself: {commands:?}"
    );
    assert_eq!(h.status(oco.stop_id), OrderStatus::PendingCancel);
    h.report(VenueReport::Expired {
        client_order_id: oco.stop_id,
        venue_ts_ms: 0,
    });
    assert_eq!(h.status(oco.stop_id), OrderStatus::Expired);
    assert_eq!(h.oms.ledger().position, 0);
    assert_eq!(h.oms.open_orders().count(), 0);
}

#[test]
fn a_strategy_stop_move_replaces_the_bracket_only_when_tighter_and_below_the_price() {
    let mut h = Harness::ready(Market::Spot);
    let (entry, oco) = bracketed(&mut h);
    let rebracket = |stop: &str, take: &str| OrderIntent {
        action: IntentAction::Rebracket,
        symbol: SYM,
        target: entry.client_order_id,
        side: Side::Buy,
        stop_loss: p(stop),
        take_profit: if take.is_empty() {
            Price::ZERO
        } else {
            p(take)
        },
        ..OrderIntent::default()
    };
    let refused = |exec: &[ExecEvent]| {
        exec.iter().any(|e| {
            matches!(e, ExecEvent::Update(u)
                if u.status == OrderStatus::Rejected && u.reject_code == reject::BAD_STOP_MOVE
                    && u.client_order_id.0 == 0)
        })
    };
    // Looser than 95, at the price, and past it: refused, nothing sent.
    for stop in ["94", "100.01", "101"] {
        h.intent(rebracket(stop, ""));
        let (commands, exec, _) = h.drain();
        assert!(commands.is_empty(), "{stop}: {commands:?}");
        assert!(refused(&exec), "{stop}");
    }
    // Another strategy's entry: refused.
    h.intent(OrderIntent {
        strategy: StrategyId(9),
        ..rebracket("97", "")
    });
    assert!(refused(&h.drain().1));
    // Tighter: both legs are cancelled, then the OCO comes back with the new stop and the
    // old take-profit.
    h.intent(rebracket("97.004", ""));
    let (commands, _, _) = h.drain();
    assert_eq!(commands.len(), 2, "{commands:?}");
    for leg in [oco.stop_id, oco.take_profit_id] {
        h.report(VenueReport::Canceled {
            client_order_id: leg,
            venue_ts_ms: 0,
        });
    }
    let (commands, _, _) = h.drain();
    match commands.as_slice() {
        [VenueCommand::PlaceOco(new)] => {
            assert_eq!(new.stop_trigger, p("97"), "floored: away from the price");
            assert_eq!(new.take_profit_price, p("110"));
            assert_eq!(new.qty, q("0.2"));
        }
        other => panic!("expected the replacement OCO, got {other:?}"),
    }
    // A new take-profit moves with it.
    h.intent(rebracket("98", "112"));
    let (commands, _, _) = h.drain();
    assert_eq!(commands.len(), 2);
}
