//! The Binance gateway against simex (spot, over TLS trusting simex's certificate): market
//! and limit orders placed by the order manager through `OmsStage<BinanceGateway,
//! PortfolioLedger>` round-trip over the WebSocket API with fills from the user-data stream;
//! a cancel ends the limit; lost acks become `StatusUnknown` and are resolved by a query
//! without a second order; a dropped connection is reported Down then Up and reconciled;
//! the manager's position and open orders equal the simulator's account.

mod simex_support;

use std::time::{Duration, Instant};

use kestrel::core::clock::mono_ns;
use kestrel::core::{
    AssetName, BookTop, ClientOrderId, ExecEvent, IntentAction, Level, Market as CoreMarket,
    MarketEvent, MarketEventKind, OrderIntent, OrderStatus, OrderType, Price, Qty, Side,
    StrategyId, SymbolId, SymbolTable, TimeInForce,
};
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::oms::binance::exchange_info::parse_exchange_info;
use kestrel::oms::binance::gateway::{BinanceGateway, GatewayConfig, GatewayKeys};
use kestrel::oms::binance::{InstrumentFamily, OrderSymbols};
use kestrel::oms::manager::{OmsConfig, OrderManager};
use kestrel::oms::portfolio::{PairAssets, PortfolioLedger};
use kestrel::oms::OmsStage;
use kestrel::sim::{Market, SimexHandle, Speed};
use simex_support::orders::{top_of_book, Rest};
use simex_support::{config, path, start, SPOT_INFO, TIMEOUT};

type Stage = OmsStage<BinanceGateway, PortfolioLedger>;

fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty literal")
}

struct Rig {
    handle: SimexHandle,
    stage: Stage,
    out: OrderOutputs,
    btc: SymbolId,
    /// The highest client order id the manager reported (the newest order, open or not).
    newest: ClientOrderId,
    seq: u64,
    _cert: tempfile::NamedTempFile,
}

impl Rig {
    fn new(handle: SimexHandle) -> Self {
        let info = std::fs::read(path(SPOT_INFO)).expect("bundled exchangeInfo");
        let info = parse_exchange_info(&info, CoreMarket::Spot).expect("parses");
        let instrument = info
            .instruments
            .iter()
            .find(|i| i.symbol == "BTCUSDT")
            .expect("listed")
            .clone();
        let mut table = SymbolTable::new();
        let btc = table.intern("BTCUSDT").expect("name");
        let symbols = OrderSymbols::new(
            InstrumentFamily::Spot,
            &table,
            std::slice::from_ref(&instrument),
        )
        .expect("symbols");
        let cert = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(cert.path(), handle.cert_pem().expect("TLS on")).expect("write cert");
        let port = handle.addr(Market::Spot).expect("spot served").port();
        let mut gateway_config =
            GatewayConfig::for_host(CoreMarket::Spot, &format!("localhost:{port}"), true);
        gateway_config.trusted_cert = Some(cert.path().to_owned());
        gateway_config.request_timeout_ms = 1_000;
        let gateway = BinanceGateway::new(
            gateway_config,
            &GatewayKeys::simex_test(),
            symbols,
            &info.rate_limits,
        )
        .expect("gateway");
        let assets = PairAssets {
            base: AssetName::new("BTC").expect("asset"),
            quote: AssetName::new("USDT").expect("asset"),
        };
        let mut ledger = PortfolioLedger::new(CoreMarket::Spot, assets.quote);
        ledger.add_instrument(btc, assets);
        ledger.fund(assets.quote, q("100000"));
        let oms = OmsConfig {
            ack_timeout_ns: 1_500_000_000,
            ..OmsConfig::default()
        };
        let manager = OrderManager::new(oms, 1, vec![Some(instrument)], ledger).expect("manager");
        let mut rig = Self {
            handle,
            stage: OmsStage::new(manager, gateway),
            out: OrderOutputs::with_capacity(1024, 1024),
            btc,
            newest: ClientOrderId::default(),
            seq: 0,
            _cert: cert,
        };
        rig.book();
        rig.run_until("link up and reconciled", |stage| {
            stage.venue().is_up() && stage.manager().is_reconciled()
        });
        rig
    }

    /// The simulator's current top of book as a market event (reference prices).
    fn book(&mut self) -> (Price, Price) {
        let (bid, ask) = top_of_book(&Rest::new(&self.handle, Market::Spot), "/api/v3/depth");
        let mut top = BookTop {
            last_update_id: 1,
            valid: true,
            bid_count: 1,
            ask_count: 1,
            ..BookTop::default()
        };
        top.bids[0] = Level {
            price: bid,
            qty: q("10"),
        };
        top.asks[0] = Level {
            price: ask,
            qty: q("10"),
        };
        let event = MarketEvent {
            symbol: self.btc,
            recv_ns: mono_ns(),
            exch_ts_ms: 0,
            kind: MarketEventKind::Book(top),
        };
        self.stage.on_market(&event, mono_ns(), &mut self.out);
        (bid, ask)
    }

    fn drain(&mut self) {
        for event in self.out.exec.drain() {
            if let ExecEvent::Update(update) = event {
                self.newest = self.newest.max(update.client_order_id);
            }
        }
        self.out.journal.drain().for_each(drop);
    }

    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Stage) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.stage.poll(mono_ns(), &mut self.out);
            self.drain();
            if done(&self.stage) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not reached; gateway {:?}, last error {:?}",
                self.stage.venue(),
                self.stage.venue().last_error()
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn intent(&mut self, intent: OrderIntent) {
        self.seq += 1;
        let intent = OrderIntent {
            strategy: StrategyId(1),
            intent_seq: self.seq,
            symbol: self.btc,
            ..intent
        };
        self.stage.on_intent(&intent, mono_ns(), &mut self.out);
        self.drain();
    }

    fn order_ids(&self) -> Vec<ClientOrderId> {
        let mut ids: Vec<_> = self
            .stage
            .manager()
            .open_orders()
            .map(|o| o.client_order_id)
            .collect();
        ids.sort();
        ids
    }

    fn status(&self, id: ClientOrderId) -> Option<OrderStatus> {
        self.stage.manager().order(id).map(|o| o.status)
    }

    fn position(&self) -> Qty {
        self.stage
            .manager()
            .ledger()
            .portfolio()
            .position(CoreMarket::Spot, self.btc)
            .map_or(Qty::ZERO, |p| p.qty)
    }

    /// The simulator's BTC holding beyond the 1 BTC it starts with, and its open order ids.
    fn venue_state(&self) -> (Qty, Vec<ClientOrderId>) {
        let account = self.handle.account(Market::Spot).expect("spot account");
        let btc = account
            .spot_balances
            .iter()
            .find(|b| b.asset == "BTC")
            .map_or(Qty::ZERO, |b| b.free.saturating_add(b.locked));
        let mut ids: Vec<_> = account
            .open_orders
            .iter()
            .filter_map(|o| ClientOrderId::parse(&o.client_order_id))
            .collect();
        ids.sort();
        (btc.saturating_sub(Qty::from_int(1)), ids)
    }

    fn assert_matches_venue(&self) {
        let (held, open) = self.venue_state();
        assert_eq!(
            self.position(),
            held,
            "position equals the simulator's holding"
        );
        assert_eq!(self.order_ids(), open, "open orders equal the simulator's");
        let trades = self.handle.account(Market::Spot).expect("account").trades;
        let mut trade_ids: Vec<u64> = trades.iter().map(|t| t.trade_id).collect();
        trade_ids.sort_unstable();
        trade_ids.dedup();
        assert_eq!(trade_ids.len(), trades.len(), "no trade twice at the venue");
    }

    /// The order the latest intent created: it may already have filled (a fast market
    /// order), so it is taken from the reported updates, not from the open orders.
    fn last_submitted(&self) -> ClientOrderId {
        self.newest
    }
}

fn market_buy(qty: &str) -> OrderIntent {
    OrderIntent {
        side: Side::Buy,
        order_type: OrderType::Market,
        qty: q(qty),
        ..OrderIntent::default()
    }
}

#[test]
fn orders_round_trip_through_the_gateway_and_match_the_simulator() {
    let mut rig = Rig::new(start(config(Market::Spot, Speed::AsFastAsPossible, true)));

    // Market buy: acked over the WS API, filled from the user-data stream.
    rig.intent(market_buy("0.01"));
    rig.run_until("market buy filled", |s| {
        s.manager()
            .ledger()
            .portfolio()
            .position(CoreMarket::Spot, SymbolId(0))
            .is_some_and(|p| p.qty == Qty::parse("0.01").unwrap_or_default())
    });
    assert!(
        rig.stage.venue().last_wire_ns() > 0,
        "the order went over the WS API"
    );
    rig.assert_matches_venue();

    // Limit sell far above the market rests, then is cancelled.
    let (_, ask) = rig.book();
    rig.intent(OrderIntent {
        side: Side::Sell,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        price: ask.saturating_add(Price::from_int(2_000)),
        qty: q("0.005"),
        ..OrderIntent::default()
    });
    let limit = rig.last_submitted();
    rig.run_until("limit acked", |s| {
        s.manager()
            .order(limit)
            .is_some_and(|o| o.status == OrderStatus::New)
    });
    rig.assert_matches_venue();
    rig.intent(OrderIntent {
        action: IntentAction::Cancel,
        target: limit,
        ..OrderIntent::default()
    });
    rig.run_until("limit cancelled", |s| {
        s.manager()
            .order(limit)
            .is_some_and(|o| o.status == OrderStatus::Canceled)
    });
    assert_eq!(rig.status(limit), Some(OrderStatus::Canceled));
    rig.assert_matches_venue();

    // Lost ack: the order executes, the ack never comes; StatusUnknown → query → filled,
    // and the venue holds exactly one order with that client id.
    rig.handle.lose_acks(1);
    rig.intent(market_buy("0.002"));
    let lost = rig.last_submitted();
    rig.run_until("lost-ack order resolved", |s| {
        s.manager()
            .order(lost)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    // The fill came from the user-data stream; the missing ack still times out, the manager
    // queries, and nothing is placed twice.
    rig.run_until("the missing ack timed out", |s| {
        s.venue().counters().timeouts >= 1
    });
    rig.run_until("query answered", |s| {
        s.manager()
            .order(lost)
            .is_some_and(|o| o.status == OrderStatus::Filled)
            && s.manager().counters().orders_sent == 3
    });
    rig.assert_matches_venue();

    // The order connection drops mid-order: Down, reconnect, Up, reconcile; nothing doubled.
    let reconnects = rig.stage.venue().counters().reconnects;
    rig.handle.drop_order_connections(1);
    rig.intent(market_buy("0.003"));
    rig.run_until("reconnected and reconciled", |s| {
        s.venue().counters().reconnects > reconnects
            && s.venue().is_up()
            && s.manager().is_reconciled()
            && s.manager()
                .open_orders()
                .all(|o| o.status != OrderStatus::PendingNew)
    });
    let deadline = Instant::now() + TIMEOUT;
    while rig.position() != rig.venue_state().0 && Instant::now() < deadline {
        rig.stage.poll(mono_ns(), &mut rig.out);
        rig.drain();
        std::thread::sleep(Duration::from_millis(1));
    }
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}

#[test]
fn timestamp_and_rate_limit_refusals_end_in_one_fill_each() {
    let mut rig = Rig::new(start(config(Market::Spot, Speed::AsFastAsPossible, true)));

    // -1021: the gateway resyncs /time and reports Timestamp; the manager retries once with
    // the same client id, which fills.
    rig.handle.reject_timestamps(1);
    rig.intent(market_buy("0.004"));
    let first = rig.last_submitted();
    rig.run_until("-1021 order filled after the retry", |s| {
        s.manager()
            .order(first)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert_eq!(rig.stage.venue().counters().timestamp_resyncs, 1);
    assert_eq!(rig.stage.manager().counters().retries, 1);
    rig.assert_matches_venue();

    // 429 with Retry-After: refused, the tracker backs off, the manager retries after it.
    rig.handle
        .throttle(1, Duration::from_secs(1), Duration::from_secs(30));
    rig.intent(market_buy("0.006"));
    let second = rig.last_submitted();
    rig.run_until("429 order filled after Retry-After", |s| {
        s.manager()
            .order(second)
            .is_some_and(|o| o.status == OrderStatus::Filled)
    });
    assert!(rig.stage.venue().counters().venue_throttled >= 1);
    assert_eq!(rig.position(), q("0.010"), "each order filled exactly once");
    rig.assert_matches_venue();
    let handle = rig.handle;
    handle.stop().expect("clean stop");
}
