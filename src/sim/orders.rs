//! Owns: the simulated venue's order vocabulary: accounts, order types and states, orders,
//! order lists, algo (conditional) orders, trades and the user-data events the exchange
//! emits. Never: matches, books funds or formats wire JSON (`matching`, `account`, `shapes`).

use crate::core::{Notional, Price, Qty, Side};

/// Why the venue refused a request: Binance's error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: i32,
    pub msg: String,
}

impl Reject {
    /// Any code and message.
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// -2010 NEW_ORDER_REJECTED with the matching engine's reason.
    pub fn order_rejected(msg: &str) -> Self {
        Self::new(-2010, msg)
    }

    /// -2010 for want of funds.
    pub fn insufficient_balance() -> Self {
        Self::order_rejected("Account has insufficient balance for requested action.")
    }

    /// -2010 for a client order id already used by an open order.
    pub fn duplicate() -> Self {
        Self::order_rejected("Duplicate order sent.")
    }

    /// -2011 CANCEL_REJECTED for an order that is not open.
    pub fn unknown_order() -> Self {
        Self::new(-2011, "Unknown order sent.")
    }

    /// -2013 NO_SUCH_ORDER for a query.
    pub fn no_such_order() -> Self {
        Self::new(-2013, "Order does not exist.")
    }

    /// -1121 BAD_SYMBOL.
    pub fn bad_symbol() -> Self {
        Self::new(-1121, "Invalid symbol.")
    }

    /// -1013 for a breached exchange filter.
    pub fn filter(name: &str) -> Self {
        Self::new(-1013, format!("Filter failure: {name}"))
    }
}

/// Which account an order trades from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum AccountKind {
    /// Spot (`/api/v3`).
    Spot,
    /// Cross margin (`/sapi/v1/margin`), on the spot books.
    Margin,
    /// USDⓈ-M futures (`/fapi`).
    Futures,
}

/// An order type as Binance names it. Spot `TAKE_PROFIT` is a market order once
/// triggered, futures `TAKE_PROFIT` a limit order: they are distinct variants here.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderType {
    Market,
    Limit,
    /// Post-only limit (spot).
    LimitMaker,
    /// Spot stop, market once triggered.
    StopLoss,
    /// Spot stop, limit once triggered.
    StopLossLimit,
    /// Spot take-profit, market once triggered.
    TakeProfit,
    /// Spot take-profit, limit once triggered.
    TakeProfitLimit,
    /// Futures `STOP`: limit once triggered.
    FuturesStop,
    /// Futures `TAKE_PROFIT`: limit once triggered.
    FuturesTakeProfit,
    /// Futures `STOP_MARKET`.
    StopMarket,
    /// Futures `TAKE_PROFIT_MARKET`.
    TakeProfitMarket,
}

/// Which way a conditional order's trigger points.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TriggerKind {
    /// Stop: a buy triggers at or above the stop, a sell at or below.
    Stop,
    /// Take-profit: a buy triggers at or below the stop, a sell at or above.
    TakeProfit,
}

impl OrderType {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::LimitMaker => "LIMIT_MAKER",
            OrderType::StopLoss => "STOP_LOSS",
            OrderType::StopLossLimit => "STOP_LOSS_LIMIT",
            OrderType::TakeProfit | OrderType::FuturesTakeProfit => "TAKE_PROFIT",
            OrderType::TakeProfitLimit => "TAKE_PROFIT_LIMIT",
            OrderType::FuturesStop => "STOP",
            OrderType::StopMarket => "STOP_MARKET",
            OrderType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
        }
    }

    /// Reads Binance's name for spot/margin (`futures` false) or USDⓈ-M.
    pub fn parse(text: &str, futures: bool) -> Option<Self> {
        Some(match (text, futures) {
            ("MARKET", _) => OrderType::Market,
            ("LIMIT", _) => OrderType::Limit,
            ("LIMIT_MAKER", false) => OrderType::LimitMaker,
            ("STOP_LOSS", false) => OrderType::StopLoss,
            ("STOP_LOSS_LIMIT", false) => OrderType::StopLossLimit,
            ("TAKE_PROFIT", false) => OrderType::TakeProfit,
            ("TAKE_PROFIT_LIMIT", false) => OrderType::TakeProfitLimit,
            ("STOP", true) => OrderType::FuturesStop,
            ("TAKE_PROFIT", true) => OrderType::FuturesTakeProfit,
            ("STOP_MARKET", true) => OrderType::StopMarket,
            ("TAKE_PROFIT_MARKET", true) => OrderType::TakeProfitMarket,
            _ => return None,
        })
    }

    /// The trigger of a conditional type; `None` for orders that work at once.
    pub const fn trigger(self) -> Option<TriggerKind> {
        match self {
            OrderType::StopLoss
            | OrderType::StopLossLimit
            | OrderType::FuturesStop
            | OrderType::StopMarket => Some(TriggerKind::Stop),
            OrderType::TakeProfit
            | OrderType::TakeProfitLimit
            | OrderType::FuturesTakeProfit
            | OrderType::TakeProfitMarket => Some(TriggerKind::TakeProfit),
            OrderType::Market | OrderType::Limit | OrderType::LimitMaker => None,
        }
    }

    /// Whether the order has a limit price once working.
    pub const fn has_limit_price(self) -> bool {
        matches!(
            self,
            OrderType::Limit
                | OrderType::LimitMaker
                | OrderType::StopLossLimit
                | OrderType::TakeProfitLimit
                | OrderType::FuturesStop
                | OrderType::FuturesTakeProfit
        )
    }
}

impl TriggerKind {
    /// Whether `reference` reaches `stop` for an order on `side`.
    pub fn reached(self, side: Side, reference: Price, stop: Price) -> bool {
        match (self, side) {
            (TriggerKind::Stop, Side::Buy) | (TriggerKind::TakeProfit, Side::Sell) => {
                reference >= stop
            }
            (TriggerKind::Stop, Side::Sell) | (TriggerKind::TakeProfit, Side::Buy) => {
                reference <= stop
            }
        }
    }
}

/// Time in force.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tif {
    Gtc,
    Ioc,
    Fok,
    /// Futures post-only ("good till crossing").
    Gtx,
}

impl Tif {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tif::Gtc => "GTC",
            Tif::Ioc => "IOC",
            Tif::Fok => "FOK",
            Tif::Gtx => "GTX",
        }
    }

    /// Reads Binance's name (`GTX` only for futures).
    pub fn parse(text: &str, futures: bool) -> Option<Self> {
        match (text, futures) {
            ("GTC", _) => Some(Tif::Gtc),
            ("IOC", _) => Some(Tif::Ioc),
            ("FOK", _) => Some(Tif::Fok),
            ("GTX", true) => Some(Tif::Gtx),
            _ => None,
        }
    }
}

/// An order's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OrderStatus {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::Expired => "EXPIRED",
        }
    }

    /// Whether the order can still trade.
    pub const fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// What happened to an order in one user-data event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecType {
    New,
    Trade,
    Canceled,
    Expired,
}

impl ExecType {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExecType::New => "NEW",
            ExecType::Trade => "TRADE",
            ExecType::Canceled => "CANCELED",
            ExecType::Expired => "EXPIRED",
        }
    }
}

/// Which price a futures conditional order watches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WorkingType {
    /// The last traded price.
    ContractPrice,
    /// The mark price (the simulator's mark is the replayed book's mid).
    MarkPrice,
}

impl WorkingType {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WorkingType::ContractPrice => "CONTRACT_PRICE",
            WorkingType::MarkPrice => "MARK_PRICE",
        }
    }
}

/// A margin order's borrowing behaviour (`sideEffectType`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SideEffectType {
    NoSideEffect,
    /// Borrow what the order needs beyond the free balance.
    MarginBuy,
    /// Repay debt of the received asset from the proceeds.
    AutoRepay,
    /// Both.
    AutoBorrowRepay,
}

impl SideEffectType {
    /// Whether the order may borrow.
    pub const fn borrows(self) -> bool {
        matches!(
            self,
            SideEffectType::MarginBuy | SideEffectType::AutoBorrowRepay
        )
    }

    /// Whether proceeds repay debt.
    pub const fn repays(self) -> bool {
        matches!(
            self,
            SideEffectType::AutoRepay | SideEffectType::AutoBorrowRepay
        )
    }
}

/// One order as the simulated venue keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOrder {
    pub account: AccountKind,
    pub symbol: String,
    pub order_id: u64,
    pub client_order_id: String,
    /// The OCO it belongs to, or -1.
    pub order_list_id: i64,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: Tif,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Trigger price (zero when none).
    pub stop_price: Price,
    pub orig_qty: Qty,
    /// `quoteOrderQty` of a spot market order (zero when not used).
    pub orig_quote_qty: Notional,
    pub executed_qty: Qty,
    pub cum_quote: Notional,
    pub status: OrderStatus,
    /// A conditional order whose trigger was reached and that now works.
    pub triggered: bool,
    pub reduce_only: bool,
    pub close_position: bool,
    pub working_type: WorkingType,
    pub price_protect: bool,
    pub side_effect: SideEffectType,
    /// Borrowed for this margin order (`marginBuyBorrowAmount`) and in which asset.
    pub borrowed: Option<(Qty, String)>,
    /// The futures algo order that placed it.
    pub algo_id: Option<u64>,
    /// Realized PnL of its fills (futures).
    pub realized_pnl: Notional,
    /// Fills at most half the remaining quantity per match (fault injection).
    pub force_partial: bool,
    pub time_ms: u64,
    pub update_ms: u64,
    /// When it started working on the book (conditional orders: when triggered).
    pub working_ms: Option<u64>,
}

impl SimOrder {
    /// Quantity still to fill.
    pub fn remaining(&self) -> Qty {
        self.orig_qty.saturating_sub(self.executed_qty)
    }

    /// Whether it waits for its trigger.
    pub fn is_pending_trigger(&self) -> bool {
        self.order_type.trigger().is_some() && !self.triggered
    }

    /// The type it works as now: conditional types become market or limit once triggered.
    pub fn working_order_type(&self) -> OrderType {
        match (self.order_type, self.triggered) {
            (
                OrderType::StopLoss
                | OrderType::TakeProfit
                | OrderType::StopMarket
                | OrderType::TakeProfitMarket,
                true,
            ) => OrderType::Market,
            (
                OrderType::StopLossLimit
                | OrderType::TakeProfitLimit
                | OrderType::FuturesStop
                | OrderType::FuturesTakeProfit,
                true,
            ) => OrderType::Limit,
            (other, _) => other,
        }
    }

    /// Average fill price, zero before the first fill.
    pub fn avg_price(&self) -> Price {
        if !self.executed_qty.is_positive() {
            return Price::ZERO;
        }
        Price::from_raw(super::account::div_raw(
            self.cum_quote.raw(),
            self.executed_qty.raw(),
        ))
    }
}

/// A spot or margin one-cancels-the-other list.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderList {
    pub account: AccountKind,
    pub order_list_id: i64,
    pub symbol: String,
    pub list_client_order_id: String,
    /// `EXEC_STARTED` while working, `ALL_DONE` once over.
    pub done: bool,
    /// Its two legs in placement order: the below leg, then the above leg.
    pub order_ids: [u64; 2],
    pub time_ms: u64,
}

/// State of a futures conditional (algo service) order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AlgoStatus {
    New,
    Canceled,
    Triggering,
    Triggered,
    Finished,
    Rejected,
    Expired,
}

impl AlgoStatus {
    /// Binance's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlgoStatus::New => "NEW",
            AlgoStatus::Canceled => "CANCELED",
            AlgoStatus::Triggering => "TRIGGERING",
            AlgoStatus::Triggered => "TRIGGERED",
            AlgoStatus::Finished => "FINISHED",
            AlgoStatus::Rejected => "REJECTED",
            AlgoStatus::Expired => "EXPIRED",
        }
    }

    /// Whether it still waits for its trigger.
    pub const fn is_open(self) -> bool {
        matches!(self, AlgoStatus::New)
    }
}

/// A futures conditional order held by the algo service until its trigger.
#[derive(Clone, Debug, PartialEq)]
pub struct AlgoOrder {
    pub algo_id: u64,
    pub client_algo_id: String,
    pub symbol: String,
    pub side: Side,
    /// `FuturesStop`, `FuturesTakeProfit`, `StopMarket` or `TakeProfitMarket`.
    pub order_type: OrderType,
    pub time_in_force: Tif,
    pub qty: Qty,
    pub price: Price,
    pub trigger_price: Price,
    pub working_type: WorkingType,
    pub close_position: bool,
    pub price_protect: bool,
    pub reduce_only: bool,
    pub status: AlgoStatus,
    /// The order it placed once triggered.
    pub actual_order_id: Option<u64>,
    /// Why it was rejected at its trigger (empty otherwise).
    pub reject_reason: String,
    pub create_ms: u64,
    pub update_ms: u64,
    pub trigger_ms: u64,
}

/// One of our fills, as `myTrades` / `userTrades` list it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTrade {
    pub account: AccountKind,
    pub symbol: String,
    pub trade_id: u64,
    pub order_id: u64,
    pub order_list_id: i64,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub quote_qty: Notional,
    /// Fee amount, in `commission_asset` units.
    pub commission: Qty,
    pub commission_asset: String,
    /// Futures: PnL this fill realized (zero on spot).
    pub realized_pnl: Notional,
    pub is_maker: bool,
    pub time_ms: u64,
}

/// One asset's spot or margin balance as an event or a snapshot shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceView {
    pub asset: String,
    pub free: Qty,
    pub locked: Qty,
    /// Margin debt (zero on spot).
    pub borrowed: Qty,
}

/// One futures position (one-way mode: `BOTH`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionView {
    pub symbol: String,
    /// Signed: long above zero.
    pub qty: Qty,
    pub entry_price: Price,
    /// Realized PnL accumulated on the symbol.
    pub realized_pnl: Notional,
    /// At the mark price the view was taken with.
    pub unrealized_pnl: Notional,
    pub mark_price: Price,
    pub leverage: u32,
    pub update_ms: u64,
}

/// Something the account's user-data stream reports.
#[derive(Clone, Debug, PartialEq)]
pub enum UserEvent {
    /// An order changed: spot `executionReport`, futures `ORDER_TRADE_UPDATE` (and
    /// `TRADE_LITE` for fills).
    Order {
        order: Box<SimOrder>,
        exec: ExecType,
        fill: Option<SimTrade>,
        /// The cancel request's own client id (spot `c` on cancels; `C` is the original).
        cancel_client_id: Option<String>,
        time_ms: u64,
    },
    /// A spot or margin OCO's state (`listStatus`).
    List {
        list: OrderList,
        /// (order id, client order id) of each leg.
        legs: Vec<(u64, String)>,
        time_ms: u64,
    },
    /// Spot balances that changed (`outboundAccountPosition`).
    Balances {
        account: AccountKind,
        balances: Vec<BalanceView>,
        time_ms: u64,
    },
    /// A deposit or withdrawal (`balanceUpdate`).
    BalanceDelta {
        asset: String,
        delta: Qty,
        time_ms: u64,
    },
    /// Futures wallet and position change (`ACCOUNT_UPDATE`).
    FuturesAccount {
        reason: &'static str,
        /// (asset, wallet balance, balance change).
        balances: Vec<(String, Notional, Notional)>,
        positions: Vec<PositionView>,
        time_ms: u64,
    },
    /// A futures conditional order changed (`ALGO_UPDATE`).
    Algo { algo: AlgoOrder, time_ms: u64 },
}

impl UserEvent {
    /// The account whose stream carries the event.
    pub fn account(&self) -> AccountKind {
        match self {
            UserEvent::Order { order, .. } => order.account,
            UserEvent::List { list, .. } => list.account,
            UserEvent::BalanceDelta { .. } => AccountKind::Spot,
            UserEvent::Balances { account, .. } => *account,
            UserEvent::FuturesAccount { .. } | UserEvent::Algo { .. } => AccountKind::Futures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_profit_means_market_on_spot_and_limit_on_futures() {
        let spot = OrderType::parse("TAKE_PROFIT", false).expect("spot type");
        let futures = OrderType::parse("TAKE_PROFIT", true).expect("futures type");
        assert_eq!(spot.as_str(), futures.as_str());
        assert!(!spot.has_limit_price() && futures.has_limit_price());
        assert_eq!(OrderType::parse("STOP_MARKET", false), None);
        assert_eq!(OrderType::parse("LIMIT_MAKER", true), None);
    }

    #[test]
    fn triggers_point_the_way_binance_documents() {
        let stop = TriggerKind::Stop;
        let tp = TriggerKind::TakeProfit;
        let p = |t: &str| Price::parse(t).expect("valid");
        assert!(stop.reached(Side::Sell, p("99"), p("100")));
        assert!(!stop.reached(Side::Sell, p("101"), p("100")));
        assert!(stop.reached(Side::Buy, p("100"), p("100")));
        assert!(tp.reached(Side::Sell, p("101"), p("100")));
        assert!(tp.reached(Side::Buy, p("99"), p("100")));
        assert!(!tp.reached(Side::Buy, p("101"), p("100")));
    }
}
