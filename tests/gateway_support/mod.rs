//! Shared by the `gateway_simex_*` tests: an `OmsStage<BinanceGateway, PortfolioLedger>`
//! wired to a running simex over TLS (spot, cross margin on the spot listener, or USDⓈ-M),
//! polled until a condition holds, and the comparison of the manager's position, open
//! orders and balances with the simulator's account.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::{Duration, Instant};

use kestrel::core::clock::mono_ns;
use kestrel::core::{
    AssetName, BookTop, ClientOrderId, ExecEvent, Instrument, IntentAction, Level,
    Market as CoreMarket, MarketEvent, MarketEventKind, Notional, OrderIntent, OrderRole,
    OrderStatus, OrderType, OrderUpdate, Price, Qty, Side, StrategyId, SymbolId, SymbolTable,
    TimeInForce,
};
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::oms::binance::gateway::{BinanceGateway, GatewayConfig, GatewayKeys};
use kestrel::oms::binance::{InstrumentFamily, OrderSymbols};
use kestrel::oms::manager::{OmsConfig, OrderManager};
use kestrel::oms::portfolio::{PairAssets, PortfolioLedger};
use kestrel::oms::venue::MarginParams;
use kestrel::oms::OmsStage;
use kestrel::sim::{Market, SimexHandle};

use crate::simex_support::orders::{top_of_book, Rest};
use crate::simex_support::{bundled_btcusdt, SPOT_INFO, TIMEOUT, USDM_INFO};

pub type Stage = OmsStage<BinanceGateway, PortfolioLedger>;

pub fn q(text: &str) -> Qty {
    Qty::parse(text).expect("qty literal")
}

pub struct Rig {
    pub handle: SimexHandle,
    pub stage: Stage,
    pub out: OrderOutputs,
    pub btc: SymbolId,
    pub market: Market,
    pub core_market: CoreMarket,
    /// Every fill the manager reported to the strategies, in order.
    pub fills: Vec<kestrel::core::Fill>,
    /// The highest client order id the manager reported (the newest order).
    pub newest: ClientOrderId,
    /// The newest entry order the manager reported (brackets come after it).
    pub newest_entry: ClientOrderId,
    /// Every order update the manager reported, in order.
    pub updates: Vec<OrderUpdate>,
    seq: u64,
    _cert: tempfile::NamedTempFile,
}

impl Rig {
    pub fn new(handle: SimexHandle, market: Market) -> Self {
        Self::with_instrument(handle, market, |_| {})
    }

    /// A rig whose order side sees BTCUSDT as `adjust` leaves the bundled exchangeInfo's
    /// entry (the simulator keeps the real one).
    pub fn with_instrument(
        handle: SimexHandle,
        market: Market,
        adjust: impl FnOnce(&mut Instrument),
    ) -> Self {
        let core_market = match market {
            Market::Spot => CoreMarket::Spot,
            Market::UsdmFutures => CoreMarket::UsdmFutures,
        };
        Self::build(
            handle,
            core_market,
            adjust,
            |_| {},
            MarginParams::default(),
            &GatewayKeys::simex_test(),
        )
    }

    /// A spot rig whose gateway signs with `keys` instead of the simulator's test set.
    pub fn with_keys(handle: SimexHandle, keys: &GatewayKeys) -> Self {
        Self::build(
            handle,
            CoreMarket::Spot,
            |_| {},
            |_| {},
            MarginParams::default(),
            keys,
        )
    }

    /// A cross-margin rig on the simulator's spot listener: margin orders with `margin`'s
    /// side effect, the gateway as `gateway` leaves `GatewayConfig::for_host`'s.
    pub fn margin(
        handle: SimexHandle,
        margin: MarginParams,
        gateway: impl FnOnce(&mut GatewayConfig),
    ) -> Self {
        Self::build(
            handle,
            CoreMarket::Margin,
            |_| {},
            gateway,
            margin,
            &GatewayKeys::simex_test(),
        )
    }

    fn build(
        handle: SimexHandle,
        core_market: CoreMarket,
        adjust: impl FnOnce(&mut Instrument),
        adjust_gateway: impl FnOnce(&mut GatewayConfig),
        margin: MarginParams,
        keys: &GatewayKeys,
    ) -> Self {
        let (info_path, market, family) = match core_market {
            CoreMarket::Spot | CoreMarket::Margin => {
                (SPOT_INFO, Market::Spot, InstrumentFamily::Spot)
            }
            CoreMarket::UsdmFutures => (
                USDM_INFO,
                Market::UsdmFutures,
                InstrumentFamily::UsdmFutures,
            ),
        };
        let (info, mut instrument) = bundled_btcusdt(info_path, core_market);
        adjust(&mut instrument);
        let mut table = SymbolTable::new();
        let btc = table.intern("BTCUSDT").expect("name");
        let symbols =
            OrderSymbols::new(family, &table, std::slice::from_ref(&instrument)).expect("symbols");
        let cert = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(cert.path(), handle.cert_pem().expect("TLS on")).expect("write cert");
        let port = handle.addr(market).expect("market served").port();
        let mut gateway_config =
            GatewayConfig::for_host(core_market, &format!("localhost:{port}"), true);
        gateway_config.trusted_cert = Some(cert.path().to_owned());
        gateway_config.request_timeout_ms = 1_000;
        adjust_gateway(&mut gateway_config);
        let gateway =
            BinanceGateway::new(gateway_config, keys, symbols, &info.rate_limits).expect("gateway");
        let assets = PairAssets {
            base: AssetName::new("BTC").expect("asset"),
            quote: AssetName::new("USDT").expect("asset"),
        };
        let mut ledger = PortfolioLedger::new(core_market, assets.quote);
        ledger.add_instrument(btc, assets);
        ledger.fund(assets.quote, q("100000"));
        let oms = OmsConfig {
            market: core_market,
            ack_timeout_ns: 1_500_000_000,
            margin,
            ..OmsConfig::default()
        };
        let manager = OrderManager::new(oms, 1, vec![Some(instrument)], ledger).expect("manager");
        let mut rig = Self {
            handle,
            stage: OmsStage::new(manager, gateway, open_rails(table.len(), btc)),
            out: OrderOutputs::with_capacity(1024, 1024),
            btc,
            market,
            core_market,
            fills: Vec::new(),
            newest: ClientOrderId::default(),
            newest_entry: ClientOrderId::default(),
            updates: Vec::new(),
            seq: 0,
            _cert: cert,
        };
        rig.book();
        rig.run_until("link up and reconciled", |stage| {
            stage.venue().is_up() && stage.manager().is_reconciled()
        });
        rig
    }

    fn depth_path(&self) -> &'static str {
        match self.market {
            Market::Spot => "/api/v3/depth",
            Market::UsdmFutures => "/fapi/v1/depth",
        }
    }

    /// The simulator's current top of book as a market event (reference prices).
    pub fn book(&mut self) -> (Price, Price) {
        let (bid, ask) = top_of_book(&Rest::new(&self.handle, self.market), self.depth_path());
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
        self.drain();
        (bid, ask)
    }

    pub fn drain(&mut self) {
        for event in self.out.exec.drain() {
            match event {
                ExecEvent::Fill(fill) => self.fills.push(fill),
                ExecEvent::Update(update) => {
                    self.updates.push(update);
                    self.newest = self.newest.max(update.client_order_id);
                    if update.role == OrderRole::Entry {
                        self.newest_entry = self.newest_entry.max(update.client_order_id);
                    }
                }
                ExecEvent::Account { .. } => {}
            }
        }
        self.out.journal.drain().for_each(drop);
    }

    pub fn poll(&mut self) {
        self.stage.poll(mono_ns(), &mut self.out);
        self.drain();
    }

    pub fn run_until(&mut self, what: &str, mut done: impl FnMut(&Stage) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.poll();
            if done(&self.stage) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not reached; gateway {:?}, last error {:?}, open {:?}",
                self.stage.venue(),
                self.stage.venue().last_error(),
                self.stage.manager().open_orders().collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Polls until the manager agrees with the simulator (position and open orders).
    pub fn settle(&mut self, what: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.poll();
            let (held, open) = self.venue_state();
            if self.position() == held && self.order_ids() == open {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: manager {:?} {:?} vs venue {held:?} {open:?}",
                self.position(),
                self.stage.manager().open_orders().collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    pub fn intent(&mut self, intent: OrderIntent) {
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

    /// A limit sell of `qty` far above the market: acked (the manager then agrees with the
    /// venue), then cancelled. Returns its client id.
    pub fn rest_and_cancel_limit_sell(&mut self, qty: &str) -> ClientOrderId {
        let (_, ask) = self.book();
        self.intent(OrderIntent {
            side: Side::Sell,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            price: ask.saturating_add(Price::from_int(2_000)),
            qty: q(qty),
            ..OrderIntent::default()
        });
        let limit = self.last_submitted();
        self.run_until("limit acked", |s| {
            s.manager()
                .order(limit)
                .is_some_and(|o| o.status == OrderStatus::New)
        });
        self.assert_matches_venue();
        self.intent(OrderIntent {
            action: IntentAction::Cancel,
            target: limit,
            ..OrderIntent::default()
        });
        self.run_until("limit cancelled", |s| {
            s.manager()
                .order(limit)
                .is_some_and(|o| o.status == OrderStatus::Canceled)
        });
        limit
    }

    pub fn order_ids(&self) -> Vec<ClientOrderId> {
        let mut ids: Vec<_> = self
            .stage
            .manager()
            .open_orders()
            .map(|o| o.client_order_id)
            .collect();
        ids.sort();
        ids
    }

    pub fn status(&self, id: ClientOrderId) -> Option<OrderStatus> {
        self.stage.manager().order(id).map(|o| o.status)
    }

    pub fn manager_position(&self) -> Option<&kestrel::oms::portfolio::Position> {
        self.stage
            .manager()
            .ledger()
            .portfolio()
            .position(self.core_market, self.btc)
    }

    pub fn position(&self) -> Qty {
        self.manager_position().map_or(Qty::ZERO, |p| p.qty)
    }

    pub fn realized_pnl(&self) -> Notional {
        self.manager_position()
            .map_or(Notional::ZERO, |p| p.realized_pnl)
    }

    /// The simulator's balance of `asset` in the rig's account, net of any debt (margin:
    /// free + locked − borrowed; the simulator charges no interest).
    pub fn venue_balance(&self, asset: &str) -> Qty {
        let account = self.handle.account(self.market).expect("account");
        let balances = match self.core_market {
            CoreMarket::Margin => &account.margin_balances,
            _ => &account.spot_balances,
        };
        balances
            .iter()
            .find(|b| b.asset == asset)
            .map_or(Qty::ZERO, |b| {
                b.free.saturating_add(b.locked).saturating_sub(b.borrowed)
            })
    }

    /// The portfolio's balance of `asset` in the rig's wallet.
    pub fn balance(&self, asset: &str) -> Qty {
        self.stage
            .manager()
            .ledger()
            .portfolio()
            .balance(self.core_market, AssetName::new(asset).expect("asset"))
    }

    /// The simulator's position (spot and margin: BTC held, net of debt, beyond the 1 BTC
    /// it starts with; futures: the signed BTCUSDT position) and its open order ids (algo
    /// orders included), sorted with duplicates kept.
    pub fn venue_state(&self) -> (Qty, Vec<ClientOrderId>) {
        let account = self.handle.account(self.market).expect("account");
        let held = match self.market {
            Market::Spot => self.venue_balance("BTC").saturating_sub(Qty::from_int(1)),
            Market::UsdmFutures => account
                .positions
                .iter()
                .find(|p| p.symbol == "BTCUSDT")
                .map_or(Qty::ZERO, |p| p.qty),
        };
        let mut ids: Vec<_> = account
            .open_orders
            .iter()
            .map(|o| o.client_order_id.as_str())
            .chain(
                account
                    .open_algo_orders
                    .iter()
                    .map(|o| o.client_algo_id.as_str()),
            )
            .filter_map(ClientOrderId::parse)
            .collect();
        ids.sort();
        (held, ids)
    }

    /// Position and open orders equal the simulator's; no client order id is open twice at
    /// the venue; every venue trade was applied exactly once (none missed, none doubled).
    pub fn assert_matches_venue(&self) {
        let (held, open) = self.venue_state();
        assert_eq!(
            self.position(),
            held,
            "position equals the simulator's holding"
        );
        let mut unique = open.clone();
        unique.dedup();
        assert_eq!(unique, open, "no client order id open twice at the venue");
        assert_eq!(self.order_ids(), open, "open orders equal the simulator's");
        let trades = self.handle.account(self.market).expect("account").trades;
        let mut trade_ids: Vec<u64> = trades.iter().map(|t| t.trade_id).collect();
        trade_ids.sort_unstable();
        trade_ids.dedup();
        assert_eq!(trade_ids.len(), trades.len(), "no trade twice at the venue");
        assert_eq!(
            self.manager_position().map_or(0, |p| p.fill_count),
            trades.len() as u64,
            "each venue trade applied exactly once"
        );
        assert_eq!(self.fills.len(), trades.len(), "each fill reported once");
    }

    /// The order the latest intent created (open or not).
    pub fn last_submitted(&self) -> ClientOrderId {
        self.newest
    }
}

pub fn market_order(side: Side, qty: &str) -> OrderIntent {
    OrderIntent {
        side,
        order_type: OrderType::Market,
        qty: q(qty),
        ..OrderIntent::default()
    }
}

/// Rails that run on every intent and never bind: these tests exercise the gateway below them.
fn open_rails(symbols: usize, traded: kestrel::core::SymbolId) -> kestrel::risk::RiskRails {
    let mut rails =
        kestrel::risk::RiskRails::new(kestrel::risk::RiskLimits::non_binding(), symbols, 0);
    rails.add_traded_symbol(traded, 0);
    rails
}
