//! The order stage end to end on the paper venue: a strategy's bracketed market entry walks
//! two levels of the book, the bracket follows the fills, the take-profit fills on a trade
//! through it and the stop is cancelled; positions, orders and the journal messages agree.

use kestrel::core::{
    AssetName, BookTop, ExecEvent, Level, Market, MarketEvent, MarketEventKind, OrderIntent,
    OrderRole, OrderStatus, OrderType, Price, Qty, Side, StrategyId, SymbolId, TradePrint,
};
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::engine::JournalMsg;
use kestrel::oms::manager::{OmsConfig, OrderManager};
use kestrel::oms::paper::{PaperConfig, PaperVenue};
use kestrel::oms::portfolio::{PairAssets, PortfolioLedger};
use kestrel::oms::OmsStage;

mod risk_support;

use risk_support::instrument;

const BTC: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("price")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty")
}

fn book(update_id: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> MarketEvent {
    let mut top = BookTop {
        last_update_id: update_id,
        valid: true,
        bid_count: bids.len() as u8,
        ask_count: asks.len() as u8,
        ..BookTop::default()
    };
    for (i, (price, qty)) in bids.iter().enumerate() {
        top.bids[i] = Level {
            price: p(price),
            qty: q(qty),
        };
    }
    for (i, (price, qty)) in asks.iter().enumerate() {
        top.asks[i] = Level {
            price: p(price),
            qty: q(qty),
        };
    }
    MarketEvent {
        symbol: BTC,
        recv_ns: update_id * 1_000,
        exch_ts_ms: update_id,
        kind: MarketEventKind::Book(top),
    }
}

fn trade(id: u64, price: &str) -> MarketEvent {
    MarketEvent {
        symbol: BTC,
        recv_ns: 1_000_000 + id,
        exch_ts_ms: 1_000 + id,
        kind: MarketEventKind::Trade(TradePrint {
            trade_id: id,
            price: p(price),
            qty: q("1"),
            aggressor: Side::Buy,
        }),
    }
}

#[test]
fn a_bracketed_entry_round_trips_on_the_paper_venue() {
    let instrument = instrument();
    let assets = PairAssets {
        base: AssetName::new("BTC").expect("asset"),
        quote: AssetName::new("USDT").expect("asset"),
    };
    let mut ledger = PortfolioLedger::new(Market::Spot, assets.quote);
    ledger.add_instrument(BTC, assets);
    ledger.fund(assets.quote, q("10000"));
    let manager = OrderManager::new(
        OmsConfig::default(),
        1,
        vec![Some(instrument.clone())],
        ledger,
    )
    .expect("manager");
    let mut venue = PaperVenue::new(PaperConfig::default(), &[(BTC, instrument)]).expect("venue");
    venue.fund(Market::Spot, assets.quote, q("10000"));
    // The rails run but never bind: this test is about the manager and the paper venue.
    let rails = kestrel::risk::RiskRails::new(kestrel::risk::RiskLimits::non_binding(), 1, 0);
    let mut stage = OmsStage::new(manager, venue, rails);
    let mut out = OrderOutputs::with_capacity(256, 256);
    let mut exec = Vec::new();
    let mut journal = Vec::new();
    let mut drain = |out: &mut OrderOutputs, exec: &mut Vec<ExecEvent>| {
        exec.extend(out.exec.drain());
        journal.extend(out.journal.drain());
    };

    let mut now = 10_000;
    stage.on_market(&trade(1, "60000.00"), now, &mut out);
    stage.on_market(
        &book(
            2,
            &[("59999.99", "1")],
            &[("60000.00", "0.004"), ("60000.50", "1")],
        ),
        now,
        &mut out,
    );
    stage.poll(now, &mut out);
    drain(&mut out, &mut exec);
    assert!(stage.manager().is_reconciled(), "reconciled before trading");

    now += 1_000;
    let entry = OrderIntent {
        strategy: StrategyId(1),
        intent_seq: 1,
        symbol: BTC,
        side: Side::Buy,
        order_type: OrderType::Market,
        qty: q("0.01"),
        stop_loss: p("59900"),
        take_profit: p("60100"),
        cause_recv_ns: 2_000,
        ..OrderIntent::default()
    };
    stage.on_intent(&entry, now, &mut out);
    for _ in 0..10 {
        now += 1_000;
        stage.poll(now, &mut out);
    }
    drain(&mut out, &mut exec);
    let position = |stage: &OmsStage<PaperVenue, PortfolioLedger>| {
        stage
            .manager()
            .ledger()
            .portfolio()
            .position(Market::Spot, BTC)
            .map(|p| p.qty)
    };
    assert_eq!(position(&stage), Some(q("0.01")), "both levels walked");
    let open: Vec<_> = stage.manager().open_orders().copied().collect();
    assert_eq!(open.len(), 2, "one bracket for the whole entry: {open:#?}");
    assert!(open
        .iter()
        .all(|o| o.status == OrderStatus::New && o.qty == q("0.01")));
    assert!(open.iter().any(|o| o.role == OrderRole::StopLoss));
    assert!(open.iter().any(|o| o.role == OrderRole::TakeProfit));

    // A trade through the take-profit: it fills, the stop is cancelled, we are flat.
    now += 1_000;
    stage.on_market(&trade(3, "60100.50"), now, &mut out);
    for _ in 0..10 {
        now += 1_000;
        stage.poll(now, &mut out);
    }
    drain(&mut out, &mut exec);
    assert_eq!(stage.manager().open_orders().count(), 0);
    assert_eq!(position(&stage), Some(Qty::ZERO));
    let fills: Vec<_> = exec
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Fill(f) => Some(*f),
            ExecEvent::Update(_) | ExecEvent::Account { .. } => None,
        })
        .collect();
    assert_eq!(
        fills.len(),
        3,
        "two entry fills and the take-profit: {fills:#?}"
    );
    let journaled_fills = journal
        .iter()
        .filter(|m| matches!(m, JournalMsg::Fill { .. }))
        .count();
    assert_eq!(journaled_fills, 3);
    let realized = stage
        .manager()
        .ledger()
        .portfolio()
        .position(Market::Spot, BTC)
        .map(|p| p.realized_pnl)
        .expect("position");
    assert!(
        realized.is_positive(),
        "bought ~60000.3, sold 60100: {realized:?}"
    );
}
