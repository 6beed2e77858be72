//! Owns: the small `Copy` messages that cross thread rings (market events, order intents,
//! execution events). Never: carries heap data, so a ring slot is the whole message.

use super::decimal::{Notional, Price, Qty};
use super::ids::{ClientOrderId, StrategyId};
use super::symbol::SymbolId;

/// Order or aggressor side.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[repr(u8)]
pub enum Side {
    #[default]
    Buy = 0,
    Sell = 1,
}

impl Side {
    /// The opposite side.
    pub const fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// Wire-neutral upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Side::Buy),
            1 => Some(Side::Sell),
            _ => None,
        }
    }
}

/// Best bid and offer as published by the venue.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct BookTicker {
    pub update_id: u64,
    pub bid_price: Price,
    pub bid_qty: Qty,
    pub ask_price: Price,
    pub ask_qty: Qty,
}

/// One public trade.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TradePrint {
    pub trade_id: u64,
    pub price: Price,
    pub qty: Qty,
    /// Side of the taker (aggressor).
    pub aggressor: Side,
}

/// One price level: the absolute quantity resting at a price; zero deletes the level.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Level {
    pub price: Price,
    pub qty: Qty,
}

/// An order-book diff as a venue sent it, borrowing the decoder's reusable level buffers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DepthDiff<'a> {
    pub symbol: SymbolId,
    /// Monotonic ns when the frame was read.
    pub recv_ns: u64,
    /// Venue event time in ms (Binance `E`).
    pub exch_ts_ms: u64,
    /// First update id covered (Binance `U`).
    pub first_update_id: u64,
    /// Last update id covered (Binance `u`).
    pub last_update_id: u64,
    /// Last update id of the previous diff (Binance futures `pu`); `None` where the venue
    /// chains diffs by `U == previous u + 1` instead (Binance spot).
    pub prev_last_update_id: Option<u64>,
    pub bids: &'a [Level],
    pub asks: &'a [Level],
}

/// A full order-book snapshot (REST); owned, because it is fetched off the hot thread.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DepthSnapshot {
    pub symbol: SymbolId,
    /// The update id the snapshot is consistent with (Binance `lastUpdateId`).
    pub last_update_id: u64,
    /// Venue time in ms when it has one (futures `E`), else 0.
    pub exch_ts_ms: u64,
    /// Best first.
    pub bids: Vec<Level>,
    /// Best first.
    pub asks: Vec<Level>,
}

/// Levels per side carried in a [`BookTop`] event.
pub const BOOK_TOP_LEVELS: usize = 5;

/// The top of a synced L2 book, published after each applied diff.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct BookTop {
    pub last_update_id: u64,
    /// False while the book is resyncing: strategies must not trade on it.
    pub valid: bool,
    pub bid_count: u8,
    pub ask_count: u8,
    /// Best first; only the first `bid_count` entries are meaningful.
    pub bids: [Level; BOOK_TOP_LEVELS],
    /// Best first; only the first `ask_count` entries are meaningful.
    pub asks: [Level; BOOK_TOP_LEVELS],
}

/// What a market event says.
// A ring slot holds the largest variant anyway; boxing `BookTop` would put an allocation
// on the hot path to save ring memory that is preallocated once.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MarketEventKind {
    BookTicker(BookTicker),
    Trade(TradePrint),
    Book(BookTop),
}

/// A decoded market-data event with its receive stamp, so the order it causes carries it too.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarketEvent {
    pub symbol: SymbolId,
    /// Monotonic ns when the socket read that delivered the frame returned.
    pub recv_ns: u64,
    /// Venue event time in ms as given (0 when the message has none, e.g. bookTicker).
    pub exch_ts_ms: u64,
    pub kind: MarketEventKind,
}

/// Order type requested by a strategy.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum OrderType {
    #[default]
    Market = 0,
    Limit = 1,
    /// Post-only limit: rejected instead of taking liquidity.
    LimitMaker = 2,
    StopMarket = 3,
    TakeProfitMarket = 4,
}

impl OrderType {
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(OrderType::Market),
            1 => Some(OrderType::Limit),
            2 => Some(OrderType::LimitMaker),
            3 => Some(OrderType::StopMarket),
            4 => Some(OrderType::TakeProfitMarket),
            _ => None,
        }
    }
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::LimitMaker => "LIMIT_MAKER",
            OrderType::StopMarket => "STOP_MARKET",
            OrderType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
        }
    }
}

/// How long a limit order rests.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum TimeInForce {
    #[default]
    Gtc = 0,
    Ioc = 1,
    Fok = 2,
}

impl TimeInForce {
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(TimeInForce::Gtc),
            1 => Some(TimeInForce::Ioc),
            2 => Some(TimeInForce::Fok),
            _ => None,
        }
    }
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// What an intent asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum IntentAction {
    /// Place a new order (with its bracket, when `stop_loss` / `take_profit` are set).
    #[default]
    New = 0,
    /// Cancel the order `target` (and its bracket, if it is an entry).
    Cancel = 1,
    /// Cancel every open order of the strategy on `symbol`.
    CancelAll = 2,
    /// Replace the bracket of the filled entry `target` with `stop_loss` (tighter only) and
    /// `take_profit` (zero: keep the current one): a ratcheting or trailing stop.
    Rebracket = 3,
}

impl IntentAction {
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(IntentAction::New),
            1 => Some(IntentAction::Cancel),
            2 => Some(IntentAction::CancelAll),
            3 => Some(IntentAction::Rebracket),
            _ => None,
        }
    }
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            IntentAction::New => "NEW",
            IntentAction::Cancel => "CANCEL",
            IntentAction::CancelAll => "CANCEL_ALL",
            IntentAction::Rebracket => "REBRACKET",
        }
    }
}

/// A strategy's request to trade; it reaches a venue only through risk and the order manager.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct OrderIntent {
    pub strategy: StrategyId,
    /// Per-strategy sequence number, for duplicate suppression and tracing.
    pub intent_seq: u64,
    pub symbol: SymbolId,
    pub action: IntentAction,
    /// The order a `Cancel` is for (unused otherwise).
    pub target: ClientOrderId,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub reduce_only: bool,
    /// Limit or trigger price; zero for market orders.
    pub price: Price,
    pub qty: Qty,
    /// Protective stop for the filled quantity, placed at the venue once the entry fills
    /// (zero: none).
    pub stop_loss: Price,
    /// Take-profit for the filled quantity (zero: none).
    pub take_profit: Price,
    /// `recv_ns` of the market event that caused this intent (0 when none did).
    pub cause_recv_ns: u64,
}

/// What an order is for, so the order manager can keep brackets in step with their entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum OrderRole {
    /// Opens or adds to a position (or any order a strategy sends directly).
    #[default]
    Entry = 0,
    /// The protective stop of an entry's bracket.
    StopLoss = 1,
    /// The take-profit of an entry's bracket.
    TakeProfit = 2,
    /// An order found at the venue that kestrel did not send (adopted at reconciliation).
    External = 3,
}

impl OrderRole {
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(OrderRole::Entry),
            1 => Some(OrderRole::StopLoss),
            2 => Some(OrderRole::TakeProfit),
            3 => Some(OrderRole::External),
            _ => None,
        }
    }
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderRole::Entry => "ENTRY",
            OrderRole::StopLoss => "STOP_LOSS",
            OrderRole::TakeProfit => "TAKE_PROFIT",
            OrderRole::External => "EXTERNAL",
        }
    }
}

/// Order life-cycle states, as the order manager tracks them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum OrderStatus {
    #[default]
    PendingNew = 0,
    New = 1,
    PartiallyFilled = 2,
    Filled = 3,
    PendingCancel = 4,
    Canceled = 5,
    Rejected = 6,
    Expired = 7,
}

impl OrderStatus {
    /// Decodes the journal's one-byte form.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => OrderStatus::PendingNew,
            1 => OrderStatus::New,
            2 => OrderStatus::PartiallyFilled,
            3 => OrderStatus::Filled,
            4 => OrderStatus::PendingCancel,
            5 => OrderStatus::Canceled,
            6 => OrderStatus::Rejected,
            7 => OrderStatus::Expired,
            _ => return None,
        })
    }
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingNew => "PENDING_NEW",
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::PendingCancel => "PENDING_CANCEL",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::Expired => "EXPIRED",
        }
    }
    /// True once the order can no longer change.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
}

/// A change of an order's state, with the order's terms so the journal alone can rebuild
/// every open order after a restart.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct OrderUpdate {
    pub client_order_id: ClientOrderId,
    pub strategy: StrategyId,
    pub symbol: SymbolId,
    pub side: Side,
    pub status: OrderStatus,
    pub filled_qty: Qty,
    /// Venue's order id (0 until acknowledged).
    pub venue_order_id: u64,
    /// Stable reject code (0 when not rejected); meanings live in the risk and oms modules.
    pub reject_code: u16,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub role: OrderRole,
    pub reduce_only: bool,
    /// Limit price (zero for market and stop-market orders).
    pub price: Price,
    /// Trigger price of stops and take-profits (zero otherwise).
    pub trigger_price: Price,
    /// Ordered quantity.
    pub qty: Qty,
    /// The entry a bracket order protects (zero for entries).
    pub parent: ClientOrderId,
}

/// One execution against one of our orders.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Fill {
    pub client_order_id: ClientOrderId,
    pub strategy: StrategyId,
    pub symbol: SymbolId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    /// Fee converted to quote currency.
    pub fee: Notional,
    pub venue_trade_id: u64,
    pub is_maker: bool,
}

/// What the order manager tells strategies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecEvent {
    Update(OrderUpdate),
    Fill(Fill),
    /// The account's equity in the valuation (quote) currency, sent when it changed and the
    /// order stage trusts it (reconciled, every position marked): strategies size from it.
    Account {
        equity: Notional,
    },
}
