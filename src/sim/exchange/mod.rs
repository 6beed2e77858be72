//! Owns: the simulated venue as one deterministic state machine per listener: order entry
//! with Binance's checks (symbol, order type, filters, duplicates, post-only, triggers,
//! funds or margin), matching against the replayed market, fills with fees, balances and
//! positions, spot OCO lists and futures algo orders, and the user-data events each change
//! causes. Never: reads the clock (every call takes `now_ms`), touches a socket, or formats
//! wire JSON (`shapes` does).
//!
//! Futures accounts are one-way (`positionSide` BOTH) and cross, every symbol at one
//! leverage, with the replayed book's mid as the mark price; no funding or liquidation.
//! Margin is cross only, interest-free, and may borrow while total assets stay at least
//! 1.25 × liabilities.
//!
//! Layout: this file holds the venue's state, order entry, fills and closing; `checks`
//! validates requests; `funds` reserves money before an order works; `market` is what the
//! replayed market does to our orders; `settle` books fills into accounts; `queries` reads
//! the venue; `oco` the spot order lists; `algo` the futures conditional orders.

mod algo;
mod checks;
mod funds;
mod market;
mod oco;
mod queries;
mod settle;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::{Instrument, Notional, Price, Qty, Ratio, Side};

use super::account::{FuturesLedger, SpotLedger};
use super::matching::{ReplayedBook, SymbolMatcher};
use super::orders::{
    AccountKind, AlgoOrder, BalanceView, ExecType, OrderList, OrderStatus, OrderType, PositionView,
    Reject, SideEffectType, SimOrder, SimTrade, Tif, UserEvent, WorkingType,
};

pub(crate) use algo::{AlgoRef, NewAlgo};
pub(crate) use oco::{ListRef, NewOco, OcoLeg};

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

/// The refusal of `sideEffectType=AUTO_BORROW_REPAY` by a venue that retired it.
pub(crate) fn retired_auto_borrow_repay() -> Reject {
    Reject::new(
        -1100,
        "Illegal characters found in parameter 'sideEffectType'; legal range is 'NO_SIDE_EFFECT, MARGIN_BUY, AUTO_REPAY'.",
    )
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
}

#[cfg(test)]
mod tests;
