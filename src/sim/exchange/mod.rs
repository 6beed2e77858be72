//! Owns: the simulated venue as one deterministic state machine per listener: order entry
//! with Binance's checks (symbol, order type, filters, duplicates, post-only, triggers,
//! funds or margin), matching against the replayed market, fills with fees, balances and
//! positions, spot OCO lists and futures algo orders, and the user-data events each change
//! causes. Never: reads the clock (every call takes `now_ms`), touches a socket, or formats
//! wire JSON (`shapes` does).
//!
//! Layout: this file holds orders and fills; `funds` reserves money before an order works;
//! `oco` the spot order lists; `algo` the futures conditional orders.

mod algo;
mod funds;
mod oco;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::{Instrument, Notional, Price, Qty, Ratio, Side};

use super::account::{fee_of, FuturesLedger, SpotLedger};
use super::matching::{partial_cap, ReplayedBook, SymbolMatcher, TakeLimits};
use super::orders::{
    AccountKind, AlgoOrder, BalanceView, ExecType, OrderList, OrderStatus, OrderType, PositionView,
    Reject, SideEffectType, SimOrder, SimTrade, Tif, UserEvent, WorkingType,
};

pub(crate) use algo::{AlgoRef, NewAlgo};
pub(crate) use oco::{ListRef, NewOco, OcoLeg};

/// Decimals fees are rounded down to (Binance's commission precision).
const FEE_DECIMALS: u32 = 8;

/// What the venue enforces for one symbol beyond the filters.
#[derive(Clone, Debug)]
pub(crate) struct SymbolRules {
    pub instrument: Instrument,
    /// `orderTypes` from exchangeInfo.
    pub order_types: Vec<String>,
    pub oco_allowed: bool,
    pub quote_order_qty_market_allowed: bool,
}

impl SymbolRules {
    fn allows(&self, order_type: OrderType) -> bool {
        self.order_types.iter().any(|t| t == order_type.as_str())
    }
}

/// The extra symbol fields of an exchangeInfo body the filters do not carry.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSymbolFlags {
    symbol: String,
    #[serde(default)]
    order_types: Vec<String>,
    #[serde(default)]
    oco_allowed: bool,
    #[serde(default)]
    quote_order_qty_market_allowed: bool,
}

#[derive(serde::Deserialize)]
struct RawSymbols {
    symbols: Vec<RawSymbolFlags>,
}

/// Every symbol's rules from an exchangeInfo body (spot, or USDⓈ-M when `futures`).
pub(crate) fn symbol_rules(exchange_info: &str, futures: bool) -> Result<Vec<SymbolRules>, String> {
    use crate::core::instrument::Market;
    let market = if futures {
        Market::UsdmFutures
    } else {
        Market::Spot
    };
    let info =
        crate::oms::binance::exchange_info::parse_exchange_info(exchange_info.as_bytes(), market)
            .map_err(|e| e.to_string())?;
    let flags: RawSymbols = serde_json::from_str(exchange_info).map_err(|e| e.to_string())?;
    Ok(info
        .instruments
        .into_iter()
        .map(|instrument| {
            let flag = flags.symbols.iter().find(|f| f.symbol == instrument.symbol);
            SymbolRules {
                order_types: flag.map(|f| f.order_types.clone()).unwrap_or_default(),
                oco_allowed: flag.is_some_and(|f| f.oco_allowed),
                quote_order_qty_market_allowed: flag
                    .is_some_and(|f| f.quote_order_qty_market_allowed),
                instrument,
            }
        })
        .collect())
}

/// Maker and taker fee rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Fees {
    pub maker: Ratio,
    pub taker: Ratio,
}

/// Which asset spot fees are charged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CommissionAsset {
    /// The symbol's quote asset.
    Quote,
    /// BNB at a fixed price, falling back to the quote asset when BNB runs short.
    Bnb,
}

/// How a venue starts.
#[derive(Clone, Debug)]
pub(crate) struct ExchangeSetup {
    /// A USDⓈ-M venue (else spot with margin).
    pub futures: bool,
    pub rules: Vec<SymbolRules>,
    pub spot_balances: BTreeMap<String, Qty>,
    pub margin_balances: BTreeMap<String, Qty>,
    pub futures_balances: BTreeMap<String, Qty>,
    pub spot_fees: Fees,
    pub futures_fees: Fees,
    pub commission_asset: CommissionAsset,
    /// Quote units per BNB, to value BNB fees.
    pub bnb_price: Price,
    pub leverage: u32,
    /// Whether margin orders may use `AUTO_BORROW_REPAY` (see protocols.md §1.4).
    pub auto_borrow_repay: bool,
    /// First order id handed out.
    pub first_order_id: u64,
}

/// The replayed books the venue trades against, by symbol.
pub(crate) trait BookSource {
    fn book(&self, symbol: &str) -> Option<&dyn ReplayedBook>;
}

/// How a request names an existing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OrderRef {
    Id(u64),
    Client(String),
}

/// A validated new-order request.
#[derive(Clone, Debug)]
pub(crate) struct NewOrder {
    pub account: AccountKind,
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: Option<Tif>,
    /// Base quantity (absent for a spot `quoteOrderQty` market order).
    pub qty: Option<Qty>,
    pub quote_qty: Option<Notional>,
    pub price: Option<Price>,
    pub stop_price: Option<Price>,
    pub client_order_id: Option<String>,
    pub reduce_only: bool,
    pub side_effect: SideEffectType,
    /// Fill at most half of what is left per match (fault injection).
    pub force_partial: bool,
    /// The futures algo order placing it on its trigger.
    pub algo_id: Option<u64>,
}

/// An accepted order: as acknowledged, as it stands after its first matching, and the
/// fills it got on arrival.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub ack: SimOrder,
    pub order: SimOrder,
    pub fills: Vec<SimTrade>,
}

/// Who holds the funds an order locked: the order itself or its OCO list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LockKey {
    Order(u64),
    List(i64),
}

/// Funds locked for open orders and not yet spent.
#[derive(Clone, Debug)]
struct Lock {
    account: AccountKind,
    asset: String,
    remaining: Qty,
}

/// Everything the venue holds for the control handle and the account queries.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountSnapshot {
    pub spot_balances: Vec<BalanceView>,
    pub margin_balances: Vec<BalanceView>,
    /// USDⓈ-M wallet balance per margin asset.
    pub futures_wallet: Vec<(String, Notional)>,
    pub positions: Vec<PositionView>,
    pub open_orders: Vec<SimOrder>,
    pub open_algo_orders: Vec<AlgoOrder>,
    pub trades: Vec<SimTrade>,
    /// Futures PnL realized so far, over every symbol.
    pub realized_pnl: Notional,
}

/// One listener's simulated venue.
pub(crate) struct Exchange {
    futures: bool,
    rules: HashMap<String, SymbolRules>,
    matchers: HashMap<String, SymbolMatcher>,
    orders: BTreeMap<u64, SimOrder>,
    /// Conditional orders waiting for their trigger.
    pending: BTreeSet<u64>,
    locks: HashMap<LockKey, Lock>,
    order_locks: HashMap<u64, LockKey>,
    lists: BTreeMap<i64, OrderList>,
    algos: BTreeMap<u64, AlgoOrder>,
    /// Algo orders whose triggered order fills partially (fault injection).
    partial_algos: BTreeSet<u64>,
    spot: SpotLedger,
    margin: SpotLedger,
    futures_ledger: FuturesLedger,
    trades: Vec<SimTrade>,
    last_price: HashMap<String, Price>,
    marks: HashMap<String, Price>,
    spot_fees: Fees,
    futures_fees: Fees,
    commission_asset: CommissionAsset,
    bnb_price: Price,
    auto_borrow_repay: bool,
    next_order_id: u64,
    next_trade_id: u64,
    next_list_id: i64,
    next_algo_id: u64,
    /// Spot/margin assets whose balance changed since the last `Balances` event.
    touched: BTreeSet<(AccountKind, String)>,
    events: Vec<UserEvent>,
}

/// A deterministic 22-character id like the ones Binance generates (`6gCrw2kRUAF9CvJDGP16IP`).
pub(crate) fn generated_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..22)
        .map(|_| {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ALPHABET[(z % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

impl Exchange {
    /// A venue with the setup's symbols, balances and fees, and no order yet.
    pub fn new(setup: ExchangeSetup) -> Self {
        Self {
            futures: setup.futures,
            rules: setup
                .rules
                .into_iter()
                .map(|r| (r.instrument.symbol.clone(), r))
                .collect(),
            matchers: HashMap::new(),
            orders: BTreeMap::new(),
            pending: BTreeSet::new(),
            locks: HashMap::new(),
            order_locks: HashMap::new(),
            lists: BTreeMap::new(),
            algos: BTreeMap::new(),
            partial_algos: BTreeSet::new(),
            spot: SpotLedger::new(&setup.spot_balances),
            margin: SpotLedger::new(&setup.margin_balances),
            futures_ledger: FuturesLedger::new(&setup.futures_balances, setup.leverage),
            trades: Vec::new(),
            last_price: HashMap::new(),
            marks: HashMap::new(),
            spot_fees: setup.spot_fees,
            futures_fees: setup.futures_fees,
            commission_asset: setup.commission_asset,
            bnb_price: setup.bnb_price,
            auto_borrow_repay: setup.auto_borrow_repay,
            next_order_id: setup.first_order_id,
            next_trade_id: 1,
            next_list_id: 1,
            next_algo_id: 1_000_000_000_001,
            touched: BTreeSet::new(),
            events: Vec::new(),
        }
    }

    /// Every symbol the venue lists, by name.
    pub fn symbols(&self) -> Vec<String> {
        let mut symbols: Vec<String> = self.rules.keys().cloned().collect();
        symbols.sort();
        symbols
    }

    /// The rules of `symbol`.
    pub fn rules(&self, symbol: &str) -> Option<&SymbolRules> {
        self.rules.get(symbol)
    }

    /// The user-data events produced since the last call, in order.
    pub fn take_events(&mut self) -> Vec<UserEvent> {
        std::mem::take(&mut self.events)
    }

    fn fees(&self, account: AccountKind) -> Fees {
        match account {
            AccountKind::Futures => self.futures_fees,
            AccountKind::Spot | AccountKind::Margin => self.spot_fees,
        }
    }

    /// The maker and taker rates of `account`.
    pub fn fee_rates(&self, account: AccountKind) -> (Ratio, Ratio) {
        let fees = self.fees(account);
        (fees.maker, fees.taker)
    }

    fn ledger(&mut self, account: AccountKind) -> &mut SpotLedger {
        match account {
            AccountKind::Margin => &mut self.margin,
            AccountKind::Spot | AccountKind::Futures => &mut self.spot,
        }
    }

    fn ledger_ref(&self, account: AccountKind) -> &SpotLedger {
        match account {
            AccountKind::Margin => &self.margin,
            AccountKind::Spot | AccountKind::Futures => &self.spot,
        }
    }

    fn alloc_order_id(&mut self) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    /// Remembers the book's mid as the symbol's mark price.
    fn refresh_mark(&mut self, symbol: &str, book: Option<&dyn ReplayedBook>) {
        if let Some(mid) = book.and_then(SymbolMatcher::mid) {
            self.marks.insert(symbol.to_owned(), mid);
        }
    }

    /// The mark price (the replayed book's mid), else the last trade, else zero.
    pub fn mark_price(&self, symbol: &str) -> Price {
        self.marks
            .get(symbol)
            .or_else(|| self.last_price.get(symbol))
            .copied()
            .unwrap_or(Price::ZERO)
    }

    /// The last replayed trade price, else the mark.
    pub fn last_price(&self, symbol: &str) -> Price {
        self.last_price
            .get(symbol)
            .copied()
            .unwrap_or_else(|| self.mark_price(symbol))
    }

    /// The price filters are checked against: spot's last price, futures' mark.
    fn reference_price(&self, symbol: &str) -> Price {
        if self.futures {
            self.mark_price(symbol)
        } else {
            self.last_price(symbol)
        }
    }

    fn touch(&mut self, account: AccountKind, asset: &str) {
        if account != AccountKind::Futures {
            self.touched.insert((account, asset.to_owned()));
        }
    }

    /// Emits one `Balances` event per account whose assets changed.
    fn flush_balances(&mut self, now_ms: u64) {
        let touched = std::mem::take(&mut self.touched);
        for account in [AccountKind::Spot, AccountKind::Margin] {
            let balances: Vec<BalanceView> = touched
                .iter()
                .filter(|(a, _)| *a == account)
                .map(|(_, asset)| self.ledger_ref(account).view(asset))
                .collect();
            if !balances.is_empty() {
                self.events.push(UserEvent::Balances {
                    account,
                    balances,
                    time_ms: now_ms,
                });
            }
        }
    }

    fn order_event(
        &mut self,
        order_id: u64,
        exec: ExecType,
        fill: Option<SimTrade>,
        cancel_client_id: Option<String>,
        now_ms: u64,
    ) {
        if let Some(order) = self.orders.get(&order_id) {
            self.events.push(UserEvent::Order {
                order: Box::new(order.clone()),
                exec,
                fill,
                cancel_client_id,
                time_ms: now_ms,
            });
        }
    }

    fn open_order_count(&self, account: AccountKind, symbol: &str, conditional: bool) -> usize {
        self.orders
            .values()
            .filter(|o| {
                o.account == account
                    && o.symbol == symbol
                    && o.status.is_open()
                    && (o.order_type.trigger().is_some() && o.order_list_id < 0) == conditional
            })
            .count()
    }

    fn has_open_client_id(&self, account: AccountKind, client_order_id: &str) -> bool {
        self.orders.values().any(|o| {
            o.account == account && o.status.is_open() && o.client_order_id == client_order_id
        })
    }

    /// Checks an order against the symbol's filters; futures report min notional as -4164.
    fn check_filters(&self, rules: &SymbolRules, req: &NewOrder) -> Result<(), Reject> {
        let inst = &rules.instrument;
        let reference = self.reference_price(&req.symbol);
        let working = match req.order_type {
            OrderType::StopLoss | OrderType::TakeProfit => OrderType::Market,
            other => other,
        };
        let result = match (working, req.qty, req.quote_qty) {
            (OrderType::Market, None, Some(quote)) => {
                if inst.notional.min_notional.is_positive() && quote < inst.notional.min_notional {
                    let name = if inst.notional.named_notional {
                        "NOTIONAL"
                    } else {
                        "MIN_NOTIONAL"
                    };
                    return Err(Reject::filter(name));
                }
                Ok(())
            }
            (OrderType::Market, Some(qty), _) => {
                let reference = match req.stop_price {
                    Some(stop) if req.order_type != OrderType::Market => stop,
                    _ => reference,
                };
                inst.check_order(true, req.side, Price::ZERO, qty, reference)
            }
            (_, Some(qty), _) => {
                let price = req.price.unwrap_or(Price::ZERO);
                inst.check_order(false, req.side, price, qty, reference)
            }
            (_, None, _) => {
                return Err(Reject::new(
                    -1102,
                    "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
                ))
            }
        };
        let stop_check = match (req.stop_price, req.qty) {
            // The stop price sits on the same tick grid as a limit price.
            (Some(stop), Some(qty)) => inst.check_order(false, req.side, stop, qty, Price::ZERO),
            _ => Ok(()),
        };
        use crate::core::instrument::FilterReject;
        match result.and(stop_check) {
            Ok(()) => Ok(()),
            Err(FilterReject::NotTrading { .. }) => {
                Err(Reject::order_rejected("Market is closed."))
            }
            Err(FilterReject::NotionalBelowMin { min_notional, .. }) if self.futures => {
                if req.reduce_only {
                    Ok(())
                } else {
                    Err(Reject::new(
                        -4164,
                        format!("Order's notional must be no smaller than {min_notional} (unless you choose reduce only)."),
                    ))
                }
            }
            Err(other) => Err(Reject::filter(other.filter().as_str())),
        }
    }

    /// Every check a new order must pass before funds are looked at.
    fn validate(
        &self,
        req: &NewOrder,
        rules: &SymbolRules,
        book: Option<&dyn ReplayedBook>,
    ) -> Result<(), Reject> {
        let futures_account = req.account == AccountKind::Futures;
        if futures_account != self.futures {
            return Err(Reject::bad_symbol());
        }
        if self.futures {
            if req.order_type.trigger().is_some() {
                return Err(Reject::new(
                    -4120,
                    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
                ));
            }
        } else if !rules.allows(req.order_type) {
            let msg = match req.order_type {
                OrderType::Market => "Market orders are not supported for this symbol.",
                OrderType::StopLoss => "Stop loss orders are not supported for this symbol.",
                OrderType::StopLossLimit => {
                    "Stop loss limit orders are not supported for this symbol."
                }
                OrderType::TakeProfit => "Take profit orders are not supported for this symbol.",
                OrderType::TakeProfitLimit => {
                    "Take profit limit orders are not supported for this symbol."
                }
                _ => "Unsupported order combination",
            };
            return Err(Reject::order_rejected(msg));
        }
        if req.quote_qty.is_some() && !rules.quote_order_qty_market_allowed {
            return Err(Reject::order_rejected(
                "Quote order qty market orders are not support for this symbol.",
            ));
        }
        self.check_filters(rules, req)?;
        if let Some(id) = &req.client_order_id {
            if self.has_open_client_id(req.account, id) {
                return Err(Reject::duplicate());
            }
        }
        let inst = &rules.instrument;
        let conditional = req.order_type.trigger().is_some();
        let cap = if conditional {
            inst.max_num_algo_orders
        } else {
            inst.max_num_orders
        };
        if cap > 0 && self.open_order_count(req.account, &req.symbol, conditional) >= cap as usize {
            let name = if conditional {
                "MAX_NUM_ALGO_ORDERS"
            } else {
                "MAX_NUM_ORDERS"
            };
            return Err(Reject::filter(name));
        }
        let post_only =
            req.order_type == OrderType::LimitMaker || req.time_in_force == Some(Tif::Gtx);
        if post_only {
            let price = req.price.unwrap_or(Price::ZERO);
            let fresh = SymbolMatcher::default();
            let matcher = self.matchers.get(&req.symbol).unwrap_or(&fresh);
            let takes = book.is_some_and(|b| matcher.would_take(b, req.side, price));
            if takes {
                return Err(if self.futures {
                    Reject::new(-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
                } else {
                    Reject::order_rejected("Order would immediately match and take.")
                });
            }
        }
        if let (Some(trigger), Some(stop)) = (req.order_type.trigger(), req.stop_price) {
            let last = self.last_price(&req.symbol);
            if last.is_positive() && trigger.reached(req.side, last, stop) {
                return Err(Reject::order_rejected("Order would trigger immediately."));
            }
        }
        if self.futures && req.reduce_only {
            let position = self.futures_ledger.position_qty(&req.symbol);
            let reduces = match req.side {
                Side::Buy => position.raw() < 0,
                Side::Sell => position.raw() > 0,
            };
            if !reduces {
                return Err(Reject::new(-2022, "ReduceOnly Order is rejected."));
            }
        }
        Ok(())
    }

    /// Accepts, or refuses, a new order and matches what it can at once.
    pub fn place(
        &mut self,
        req: NewOrder,
        books: &dyn BookSource,
        now_ms: u64,
    ) -> Result<Placed, Reject> {
        self.place_in_list(req, None, books, now_ms)
    }

    /// Places an order; a leg of an OCO (`list`: its id and the list's shared lock) is only
    /// recorded: the list sends its events and starts its legs.
    fn place_in_list(
        &mut self,
        req: NewOrder,
        list: Option<(i64, LockKey)>,
        books: &dyn BookSource,
        now_ms: u64,
    ) -> Result<Placed, Reject> {
        let rules = self
            .rules
            .get(&req.symbol)
            .cloned()
            .ok_or_else(Reject::bad_symbol)?;
        let book = books.book(&req.symbol);
        self.refresh_mark(&req.symbol, book);
        self.validate(&req, &rules, book)?;
        let order_id = self.next_order_id;
        let (order_list_id, borrowed) = match list {
            Some((list_id, key)) => {
                self.order_locks.insert(order_id, key);
                (list_id, None)
            }
            None => (-1, self.reserve(&req, &rules, book, order_id)?),
        };
        self.alloc_order_id();
        let first_trade = self.trades.len();
        let order = SimOrder {
            account: req.account,
            symbol: req.symbol.clone(),
            order_id,
            client_order_id: req
                .client_order_id
                .clone()
                .unwrap_or_else(|| generated_id(order_id)),
            order_list_id,
            side: req.side,
            order_type: req.order_type,
            time_in_force: req.time_in_force.unwrap_or(Tif::Gtc),
            price: req.price.unwrap_or(Price::ZERO),
            stop_price: req.stop_price.unwrap_or(Price::ZERO),
            orig_qty: req.qty.unwrap_or(Qty::ZERO),
            orig_quote_qty: req.quote_qty.unwrap_or(Notional::ZERO),
            executed_qty: Qty::ZERO,
            cum_quote: Notional::ZERO,
            status: OrderStatus::New,
            triggered: false,
            reduce_only: req.reduce_only,
            close_position: false,
            working_type: WorkingType::ContractPrice,
            price_protect: false,
            side_effect: req.side_effect,
            borrowed,
            algo_id: req.algo_id,
            realized_pnl: Notional::ZERO,
            force_partial: req.force_partial,
            time_ms: now_ms,
            update_ms: now_ms,
            working_ms: None,
        };
        let pending = order.is_pending_trigger();
        if !pending {
            let mut order = order;
            order.working_ms = Some(now_ms);
            self.orders.insert(order_id, order);
        } else {
            self.orders.insert(order_id, order);
            self.pending.insert(order_id);
        }
        let ack = self.orders[&order_id].clone();
        if order_list_id < 0 {
            self.order_event(order_id, ExecType::New, None, None, now_ms);
            self.flush_balances(now_ms);
            if !pending {
                self.work(order_id, book, now_ms);
            }
        }
        let order = self.orders[&order_id].clone();
        let fills = self.trades[first_trade..]
            .iter()
            .filter(|t| t.order_id == order_id)
            .cloned()
            .collect();
        Ok(Placed { ack, order, fills })
    }

    /// Lot step for `order_type` on `symbol` (market orders use `MARKET_LOT_SIZE` when set).
    fn step(&self, symbol: &str, market: bool) -> Qty {
        let Some(rules) = self.rules.get(symbol) else {
            return Qty::ZERO;
        };
        let inst = &rules.instrument;
        if market && inst.market_lot_size.step_size.is_positive() {
            inst.market_lot_size.step_size
        } else {
            inst.lot_size.step_size
        }
    }

    /// Runs a working order as a taker against the book, then rests or expires the rest.
    fn work(&mut self, order_id: u64, book: Option<&dyn ReplayedBook>, now_ms: u64) {
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        let working = order.working_order_type();
        let market = working == OrderType::Market;
        let step = self.step(&order.symbol, market);
        let quote_order = order.orig_quote_qty.is_positive() && order.orig_qty.is_zero();
        let mut max_qty = if quote_order {
            Qty::MAX
        } else {
            order.remaining()
        };
        let mut max_quote = quote_order.then_some(order.orig_quote_qty);
        if order.account != AccountKind::Futures {
            let (budget_qty, budget_quote) = self.spot_budget(&order);
            max_qty = max_qty.min(budget_qty);
            max_quote = match (max_quote, budget_quote) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if self.futures && order.reduce_only {
            max_qty = max_qty.min(self.reducible(&order));
        }
        let full_limits = TakeLimits {
            limit: working.has_limit_price().then_some(order.price),
            max_qty,
            max_quote,
            step,
        };
        let matcher = self.matchers.entry(order.symbol.clone()).or_default();
        let mut plan = match book {
            Some(book) => matcher.plan(book, order.side, full_limits),
            None => Vec::new(),
        };
        let planned: Qty = plan
            .iter()
            .fold(Qty::ZERO, |sum, (_, q)| sum.saturating_add(*q));
        if order.time_in_force == Tif::Fok && !quote_order && planned < order.remaining() {
            plan.clear();
        }
        if order.force_partial && !quote_order {
            let cap = partial_cap(order.remaining(), step);
            plan = cap_plan(plan, cap);
        }
        if quote_order {
            if let Some(o) = self.orders.get_mut(&order_id) {
                o.orig_qty = planned;
            }
        }
        if let Some(book) = book {
            if let Some(matcher) = self.matchers.get_mut(&order.symbol) {
                matcher.commit(book, order.side, &plan);
            }
        }
        for (price, qty) in plan {
            self.fill(order_id, price, qty, false, now_ms);
        }
        let Some(order) = self.orders.get(&order_id) else {
            return;
        };
        if !order.status.is_open() {
            return;
        }
        let rests = !market && order.time_in_force != Tif::Ioc && order.time_in_force != Tif::Fok;
        if rests {
            let (side, price) = (order.side, order.price);
            self.matchers
                .entry(order.symbol.clone())
                .or_default()
                .rest(order_id, side, price);
        } else {
            self.finish(
                order_id,
                OrderStatus::Expired,
                ExecType::Expired,
                None,
                now_ms,
            );
        }
    }

    /// How much of a futures reduce-only order can still reduce the position.
    fn reducible(&self, order: &SimOrder) -> Qty {
        let position = self.futures_ledger.position_qty(&order.symbol);
        match order.side {
            Side::Buy if position.raw() < 0 => position.abs(),
            Side::Sell if position.raw() > 0 => position,
            _ => Qty::ZERO,
        }
    }

    /// Applies one fill of `qty` at `price` to an order and its account.
    fn fill(&mut self, order_id: u64, price: Price, qty: Qty, maker: bool, now_ms: u64) {
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        if !qty.is_positive() || !order.status.is_open() {
            return;
        }
        let quote = price.notional(qty).unwrap_or(Notional::MAX);
        let fees = self.fees(order.account);
        let rate = if maker { fees.maker } else { fees.taker };
        let (commission, commission_asset, realized) = match order.account {
            AccountKind::Futures => self.settle_futures(&order, price, qty, quote, rate, now_ms),
            AccountKind::Spot | AccountKind::Margin => {
                let (commission, asset) = self.settle_spot(&order, qty, quote, rate);
                (commission, asset, Notional::ZERO)
            }
        };
        let trade = SimTrade {
            account: order.account,
            symbol: order.symbol.clone(),
            trade_id: self.next_trade_id,
            order_id,
            order_list_id: order.order_list_id,
            side: order.side,
            price,
            qty,
            quote_qty: quote,
            commission,
            commission_asset,
            realized_pnl: realized,
            is_maker: maker,
            time_ms: now_ms,
        };
        self.next_trade_id += 1;
        let done = {
            let Some(o) = self.orders.get_mut(&order_id) else {
                return;
            };
            o.executed_qty = o.executed_qty.saturating_add(qty);
            o.cum_quote = o.cum_quote.saturating_add(quote);
            o.realized_pnl = o.realized_pnl.saturating_add(realized);
            o.update_ms = now_ms;
            o.status = if o.remaining().is_positive() {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::Filled
            };
            o.status == OrderStatus::Filled
        };
        self.trades.push(trade.clone());
        let first_fill = order.executed_qty.is_zero();
        self.order_event(order_id, ExecType::Trade, Some(trade), None, now_ms);
        if order.account == AccountKind::Futures {
            self.futures_account_event(
                &order.symbol,
                "ORDER",
                realized.saturating_sub(Notional::from_raw(commission.raw())),
                now_ms,
            );
        } else {
            self.flush_balances(now_ms);
        }
        if first_fill && order.order_list_id >= 0 {
            self.on_leg_activated(order_id, now_ms);
        }
        if done {
            self.closed(order_id, now_ms);
        }
    }

    /// Books a spot or margin fill; returns the commission and its asset.
    fn settle_spot(
        &mut self,
        order: &SimOrder,
        qty: Qty,
        quote: Notional,
        rate: Ratio,
    ) -> (Qty, String) {
        let Some(rules) = self.rules.get(&order.symbol) else {
            return (Qty::ZERO, String::new());
        };
        let base = rules.instrument.base_asset.clone();
        let quote_asset = rules.instrument.quote_asset.clone();
        let fee_quote = Qty::from_raw(fee_of(quote.raw(), rate.raw(), FEE_DECIMALS));
        let account = order.account;
        let bnb_fee = match self.commission_asset {
            CommissionAsset::Bnb if self.bnb_price.is_positive() => {
                let raw = super::account::div_raw(fee_quote.raw(), self.bnb_price.raw());
                let step = 10i128.pow(crate::core::decimal::SCALE_DIGITS - FEE_DECIMALS);
                let fee = Qty::from_raw(raw - raw.rem_euclid(step));
                (self.ledger_ref(account).free("BNB") >= fee).then_some(fee)
            }
            _ => None,
        };
        let quote_amount = Qty::from_raw(quote.raw());
        let fee_in_quote = if bnb_fee.is_some() {
            Qty::ZERO
        } else {
            fee_quote
        };
        let (pay_asset, pay_amount, get_asset, get_amount) = match order.side {
            Side::Buy => (
                quote_asset.clone(),
                quote_amount.saturating_add(fee_in_quote),
                base.clone(),
                qty,
            ),
            Side::Sell => (
                base.clone(),
                qty,
                quote_asset.clone(),
                quote_amount.saturating_sub(fee_in_quote),
            ),
        };
        let from_lock = self.draw_lock(order.order_id, &pay_asset, pay_amount);
        let ledger = self.ledger(account);
        ledger.pay(&pay_asset, pay_amount, from_lock);
        ledger.credit(&get_asset, get_amount);
        if let Some(fee) = bnb_fee {
            ledger.pay("BNB", fee, Qty::ZERO);
        }
        if account == AccountKind::Margin && order.side_effect.repays() {
            ledger.repay(&get_asset);
        }
        self.touch(account, &pay_asset);
        self.touch(account, &get_asset);
        match bnb_fee {
            Some(fee) => {
                self.touch(account, "BNB");
                (fee, "BNB".to_owned())
            }
            None => (fee_quote, quote_asset),
        }
    }

    /// Books a futures fill; returns the commission, its asset and the realized PnL.
    fn settle_futures(
        &mut self,
        order: &SimOrder,
        price: Price,
        qty: Qty,
        quote: Notional,
        rate: Ratio,
        now_ms: u64,
    ) -> (Qty, String, Notional) {
        let margin_asset = self
            .rules
            .get(&order.symbol)
            .map(|r| r.instrument.quote_asset.clone())
            .unwrap_or_default();
        let realized =
            self.futures_ledger
                .apply_fill(&order.symbol, order.side, price, qty, now_ms);
        let fee = Notional::from_raw(fee_of(quote.raw(), rate.raw(), FEE_DECIMALS));
        self.futures_ledger
            .credit(&margin_asset, realized.saturating_sub(fee));
        (Qty::from_raw(fee.raw()), margin_asset, realized)
    }

    fn futures_account_event(
        &mut self,
        symbol: &str,
        reason: &'static str,
        change: Notional,
        now_ms: u64,
    ) {
        let Some(asset) = self
            .rules
            .get(symbol)
            .map(|r| r.instrument.quote_asset.clone())
        else {
            return;
        };
        let mark = self.mark_price(symbol);
        let positions = self.futures_ledger.view(symbol, mark).into_iter().collect();
        self.events.push(UserEvent::FuturesAccount {
            reason,
            balances: vec![(asset.clone(), self.futures_ledger.wallet(&asset), change)],
            positions,
            time_ms: now_ms,
        });
    }

    /// Ends an open order (cancel or expiry): off the book, funds released, event sent.
    fn finish(
        &mut self,
        order_id: u64,
        status: OrderStatus,
        exec: ExecType,
        cancel_client_id: Option<String>,
        now_ms: u64,
    ) {
        let Some(order) = self.orders.get_mut(&order_id) else {
            return;
        };
        if !order.status.is_open() {
            return;
        }
        order.status = status;
        order.update_ms = now_ms;
        self.order_event(order_id, exec, None, cancel_client_id, now_ms);
        self.closed(order_id, now_ms);
        self.flush_balances(now_ms);
    }

    /// Bookkeeping once an order can no longer trade.
    fn closed(&mut self, order_id: u64, now_ms: u64) {
        self.pending.remove(&order_id);
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        if let Some(matcher) = self.matchers.get_mut(&order.symbol) {
            matcher.remove(order_id);
        }
        if let Some(key) = self.order_locks.get(&order_id).copied() {
            self.release_if_idle(key);
        }
        if let Some(algo_id) = order.algo_id {
            self.on_algo_order_closed(algo_id, now_ms);
        }
    }

    /// Cancels an open order; a leg of an OCO takes its whole list down with it.
    pub fn cancel(
        &mut self,
        account: AccountKind,
        symbol: &str,
        by: &OrderRef,
        cancel_client_id: Option<String>,
        now_ms: u64,
    ) -> Result<SimOrder, Reject> {
        let order_id = self
            .find(account, symbol, by)
            .filter(|id| self.orders.get(id).is_some_and(|o| o.status.is_open()))
            .ok_or_else(Reject::unknown_order)?;
        let cancel_client_id =
            Some(cancel_client_id.unwrap_or_else(|| generated_id(order_id ^ now_ms)));
        let list_id = self.orders[&order_id].order_list_id;
        if list_id >= 0 {
            self.cancel_list_orders(list_id, cancel_client_id, now_ms);
        } else {
            self.finish(
                order_id,
                OrderStatus::Canceled,
                ExecType::Canceled,
                cancel_client_id,
                now_ms,
            );
        }
        self.orders
            .get(&order_id)
            .cloned()
            .ok_or_else(Reject::unknown_order)
    }

    /// Cancels every open order of `account` on `symbol` (OCO lists as wholes).
    pub fn cancel_all(&mut self, account: AccountKind, symbol: &str, now_ms: u64) -> Vec<SimOrder> {
        let ids: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.account == account && o.symbol == symbol && o.status.is_open())
            .map(|o| o.order_id)
            .collect();
        let mut canceled = Vec::new();
        for id in ids {
            if self.orders.get(&id).is_some_and(|o| o.status.is_open()) {
                if let Ok(order) = self.cancel(account, symbol, &OrderRef::Id(id), None, now_ms) {
                    canceled.push(order);
                }
            }
        }
        canceled
    }

    fn find(&self, account: AccountKind, symbol: &str, by: &OrderRef) -> Option<u64> {
        match by {
            OrderRef::Id(id) => self
                .orders
                .get(id)
                .filter(|o| o.account == account && o.symbol == symbol)
                .map(|o| o.order_id),
            // The newest order with that client id (ids may be reused once closed).
            OrderRef::Client(client) => self
                .orders
                .values()
                .rev()
                .find(|o| {
                    o.account == account && o.symbol == symbol && &o.client_order_id == client
                })
                .map(|o| o.order_id),
        }
    }

    /// An order by id, in any state and account.
    pub fn order(&self, order_id: u64) -> Option<SimOrder> {
        self.orders.get(&order_id).cloned()
    }

    /// One order in any state.
    pub fn query(
        &self,
        account: AccountKind,
        symbol: &str,
        by: &OrderRef,
    ) -> Result<SimOrder, Reject> {
        self.find(account, symbol, by)
            .and_then(|id| self.orders.get(&id).cloned())
            .ok_or_else(Reject::no_such_order)
    }

    /// Open orders of `account`, on one symbol or all, oldest first.
    pub fn open_orders(&self, account: AccountKind, symbol: Option<&str>) -> Vec<SimOrder> {
        self.orders
            .values()
            .filter(|o| {
                o.account == account && o.status.is_open() && symbol.is_none_or(|s| s == o.symbol)
            })
            .cloned()
            .collect()
    }

    /// Fills of `account` on `symbol`: of one order, or from a trade id, at most `limit`
    /// (the newest `limit` when no start is given), oldest first.
    pub fn trades(
        &self,
        account: AccountKind,
        symbol: &str,
        order_id: Option<u64>,
        from_id: Option<u64>,
        limit: usize,
    ) -> Vec<SimTrade> {
        let matching: Vec<&SimTrade> = self
            .trades
            .iter()
            .filter(|t| {
                t.account == account
                    && t.symbol == symbol
                    && order_id.is_none_or(|id| t.order_id == id)
                    && from_id.is_none_or(|from| t.trade_id >= from)
            })
            .collect();
        let skip = if from_id.is_some() {
            0
        } else {
            matching.len().saturating_sub(limit)
        };
        matching
            .into_iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Balances of a spot or margin account.
    pub fn balances(&self, account: AccountKind) -> Vec<BalanceView> {
        self.ledger_ref(account).views()
    }

    /// The futures wallet per margin asset.
    pub fn futures_wallets(&self) -> Vec<(String, Notional)> {
        self.futures_ledger.wallets()
    }

    /// Futures positions valued at the current marks.
    pub fn positions(&self) -> Vec<PositionView> {
        self.futures_ledger.views(&|symbol| self.mark_price(symbol))
    }

    /// The leverage futures positions use.
    pub fn leverage(&self) -> u32 {
        self.futures_ledger.leverage()
    }

    /// Initial margin held by open futures orders that add exposure.
    pub fn open_order_margin(&self) -> Notional {
        let total = self
            .orders
            .values()
            .filter(|o| o.account == AccountKind::Futures && o.status.is_open() && !o.reduce_only)
            .fold(Notional::ZERO, |sum, o| {
                let price = if o.price.is_positive() {
                    o.price
                } else {
                    self.mark_price(&o.symbol)
                };
                sum.saturating_add(price.notional(o.remaining()).unwrap_or(Notional::ZERO))
            });
        self.futures_ledger.initial_margin(total)
    }

    /// Initial margin held by open positions at the marks.
    pub fn position_margin(&self) -> Notional {
        let total = self.positions().iter().fold(Notional::ZERO, |sum, p| {
            sum.saturating_add(p.mark_price.notional(p.qty.abs()).unwrap_or(Notional::ZERO))
        });
        self.futures_ledger.initial_margin(total)
    }

    /// Credits a spot deposit (a `balanceUpdate` on the stream).
    pub fn deposit(&mut self, asset: &str, amount: Qty, now_ms: u64) {
        self.spot.credit(asset, amount);
        self.events.push(UserEvent::BalanceDelta {
            asset: asset.to_owned(),
            delta: amount,
            time_ms: now_ms,
        });
        self.touch(AccountKind::Spot, asset);
        self.flush_balances(now_ms);
    }

    /// Everything the control handle shows.
    pub fn snapshot(&self) -> AccountSnapshot {
        AccountSnapshot {
            spot_balances: self.spot.views(),
            margin_balances: self.margin.views(),
            futures_wallet: self.futures_ledger.wallets(),
            positions: self.positions(),
            open_orders: self
                .orders
                .values()
                .filter(|o| o.status.is_open())
                .cloned()
                .collect(),
            open_algo_orders: self
                .algos
                .values()
                .filter(|a| a.status.is_open())
                .cloned()
                .collect(),
            trades: self.trades.clone(),
            realized_pnl: self.futures_ledger.realized_total(),
        }
    }

    /// The replay applied a depth diff to `symbol`'s book: our resting orders it now
    /// crosses fill at their price, and mark-price triggers are looked at.
    pub fn on_depth(&mut self, symbol: &str, books: &dyn BookSource, now_ms: u64) {
        let Some(book) = books.book(symbol) else {
            return;
        };
        self.refresh_mark(symbol, Some(book));
        let crossed = match self.matchers.get_mut(symbol) {
            Some(matcher) => {
                matcher.prune(book);
                matcher.crossed(book)
            }
            None => Vec::new(),
        };
        for (order_id, side, price) in crossed {
            self.fill_resting(order_id, side, price, book, now_ms);
        }
        self.check_triggers(symbol, books, now_ms);
    }

    /// Fills a resting order against the replayed levels that cross it, as maker.
    fn fill_resting(
        &mut self,
        order_id: u64,
        side: Side,
        price: Price,
        book: &dyn ReplayedBook,
        now_ms: u64,
    ) {
        let Some(order) = self.orders.get(&order_id).cloned() else {
            return;
        };
        if !order.status.is_open() {
            return;
        }
        let step = self.step(&order.symbol, false);
        let mut max_qty = order.remaining();
        if order.force_partial {
            max_qty = partial_cap(max_qty, step);
        }
        if self.futures && order.reduce_only {
            max_qty = max_qty.min(self.reducible(&order));
            if !max_qty.is_positive() {
                self.finish(
                    order_id,
                    OrderStatus::Expired,
                    ExecType::Expired,
                    None,
                    now_ms,
                );
                return;
            }
        }
        let limits = TakeLimits {
            limit: Some(price),
            max_qty,
            max_quote: None,
            step,
        };
        let Some(matcher) = self.matchers.get_mut(&order.symbol) else {
            return;
        };
        let plan = matcher.plan(book, side, limits);
        matcher.commit(book, side, &plan);
        let total = plan
            .iter()
            .fold(Qty::ZERO, |sum, (_, q)| sum.saturating_add(*q));
        self.fill(order_id, price, total, true, now_ms);
    }

    /// The replay printed a trade: resting orders it traded through fill at their price
    /// (sharing the printed quantity in priority order), then last-price triggers.
    pub fn on_trade(
        &mut self,
        symbol: &str,
        price: Price,
        qty: Qty,
        books: &dyn BookSource,
        now_ms: u64,
    ) {
        self.last_price.insert(symbol.to_owned(), price);
        let through = self
            .matchers
            .get(symbol)
            .filter(|m| m.has_resting())
            .map(|m| m.traded_through(price))
            .unwrap_or_default();
        let mut left = qty;
        for (order_id, _, limit) in through {
            if !left.is_positive() {
                break;
            }
            let Some(order) = self.orders.get(&order_id).cloned() else {
                continue;
            };
            let step = self.step(symbol, false);
            let mut take = order.remaining().min(left);
            if order.force_partial {
                take = take.min(partial_cap(order.remaining(), step));
            }
            if self.futures && order.reduce_only {
                take = take.min(self.reducible(&order));
            }
            let take = take.floor_to(step);
            if take.is_positive() {
                left = left.saturating_sub(take);
                self.fill(order_id, limit, take, true, now_ms);
            }
        }
        self.check_triggers(symbol, books, now_ms);
    }

    /// Triggers the conditional orders on `symbol` whose stop the market reached.
    fn check_triggers(&mut self, symbol: &str, books: &dyn BookSource, now_ms: u64) {
        let last = self.last_price.get(symbol).copied();
        let due: Vec<u64> = self
            .pending
            .iter()
            .copied()
            .filter(|id| {
                self.orders.get(id).is_some_and(|o| {
                    o.symbol == symbol
                        && o.status.is_open()
                        && last.is_some_and(|last| {
                            o.order_type
                                .trigger()
                                .is_some_and(|t| t.reached(o.side, last, o.stop_price))
                        })
                })
            })
            .collect();
        for order_id in due {
            self.trigger(order_id, books, now_ms);
        }
        self.check_algo_triggers(symbol, books, now_ms);
    }

    /// A spot conditional order's stop was reached: it starts working.
    fn trigger(&mut self, order_id: u64, books: &dyn BookSource, now_ms: u64) {
        if !self.pending.remove(&order_id) {
            return;
        }
        let Some(order) = self.orders.get_mut(&order_id) else {
            return;
        };
        order.triggered = true;
        order.working_ms = Some(now_ms);
        order.update_ms = now_ms;
        let (symbol, list_id) = (order.symbol.clone(), order.order_list_id);
        self.order_event(order_id, ExecType::New, None, None, now_ms);
        if list_id >= 0 {
            self.on_leg_activated(order_id, now_ms);
        }
        self.work(order_id, books.book(&symbol), now_ms);
    }
}

/// Trims a fill plan so its total stays within `cap`.
fn cap_plan(plan: Vec<(Price, Qty)>, cap: Qty) -> Vec<(Price, Qty)> {
    let mut left = cap;
    plan.into_iter()
        .filter_map(|(price, qty)| {
            let take = qty.min(left);
            left = left.saturating_sub(take);
            take.is_positive().then_some((price, take))
        })
        .collect()
}

#[cfg(test)]
mod tests;
