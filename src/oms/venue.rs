//! Owns: the language between the order manager and a venue (a real gateway, the paper venue
//! or the backtester's fill model): commands going out and reports coming back, all small
//! `Copy` values. Never: knows a venue's wire format, reads the clock or decides what to trade.
//!
//! Every order reaches a venue as a [`VenueCommand`] built by the order manager after the
//! risk rails passed it; everything a venue says (acks, rejects, fills, cancels, account state
//! during reconciliation, link health) comes back as a [`VenueReport`]. The rest of the engine
//! cannot tell a paper venue from a real one, because both speak only this.

use crate::core::{
    AssetName, ClientOrderId, Market, MarketEvent, OrderStatus, OrderType, Price, Qty, Side,
    SymbolId, TimeInForce,
};
use crate::engine::stage::Outbox;

/// Margin-only order parameters (ignored on spot and futures).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MarginParams {
    /// Isolated margin (`isIsolated=TRUE`) rather than cross.
    pub isolated: bool,
    /// What the venue does about borrowing for this order.
    pub side_effect: MarginSideEffect,
}

/// Binance's `sideEffectType` for margin orders.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum MarginSideEffect {
    /// Trade only with what the account holds.
    #[default]
    NoSideEffect,
    /// Borrow what a buy or sell needs.
    MarginBuy,
    /// Repay debt from the proceeds.
    AutoRepay,
    /// Borrow on open, repay on close (may be retired; the gateway falls back to the pair).
    AutoBorrowRepay,
}

/// One order as the venue must place it: sized, rounded and checked against the filters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VenueOrder {
    pub client_order_id: ClientOrderId,
    pub symbol: SymbolId,
    pub market: Market,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    /// Limit price; zero for market and stop-market orders.
    pub price: Price,
    /// Trigger price of stop and take-profit orders; zero otherwise.
    pub trigger_price: Price,
    pub qty: Qty,
    /// Only reduces an open position (futures `reduceOnly`; protective orders on spot).
    pub reduce_only: bool,
    pub margin: MarginParams,
}

/// A spot one-cancels-the-other exit: a take-profit limit on one side of the price and a
/// stop on the other, for the same quantity (Binance `orderList/oco`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct OcoOrder {
    /// Id of the list itself (`listClientOrderId`).
    pub list_id: ClientOrderId,
    pub symbol: SymbolId,
    pub market: Market,
    /// Side of both legs (the exit side: `Sell` protects a long).
    pub side: Side,
    pub qty: Qty,
    /// The take-profit leg's id and limit price.
    pub take_profit_id: ClientOrderId,
    pub take_profit_price: Price,
    /// The stop leg's id, trigger price and limit price (zero limit: stop-market).
    pub stop_id: ClientOrderId,
    pub stop_trigger: Price,
    pub stop_limit: Price,
    pub margin: MarginParams,
}

/// What the order manager asks a venue to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VenueCommand {
    /// Place one order (futures stops and take-profits go to the venue's algo endpoint).
    Place(VenueOrder),
    /// Place a spot OCO exit.
    PlaceOco(OcoOrder),
    /// Cancel one order by client id.
    Cancel {
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        market: Market,
    },
    /// Cancel every open order on a symbol.
    CancelAll { symbol: SymbolId, market: Market },
    /// Ask for an order's current state (after a timeout or a 5xx left it unknown); answered
    /// with the matching report (`Accepted`, `Fill`s, `Canceled`, … or `Rejected` when the
    /// venue never saw it).
    QueryOrder {
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        market: Market,
    },
    /// Report the account for reconciliation: every open order (`OpenOrder`), every trade
    /// after `since_trade_id` (`Fill`), balances and positions, then `ReconcileDone`.
    Reconcile {
        symbol: SymbolId,
        market: Market,
        since_trade_id: u64,
    },
}

/// Why a venue refused a request, in venue-neutral terms.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum RejectKind {
    /// An exchange filter failed (tick, step, notional, percent price, …).
    Filter,
    /// Not enough balance or margin.
    InsufficientFunds,
    /// A post-only order would have taken liquidity.
    WouldTake,
    /// A futures stop would trigger at once.
    WouldTrigger,
    /// A reduce-only order would not reduce.
    ReduceOnly,
    /// The client order id is already in use.
    Duplicate,
    /// Too many requests or orders; retry after `retry_after_ms`.
    RateLimited,
    /// The venue banned us until `retry_after_ms` has passed.
    Banned,
    /// Our timestamp was outside the venue's receive window (clock offset resynced).
    Timestamp,
    /// The venue does not know the order (cancel or query of an unknown id).
    UnknownOrder,
    /// The symbol is unknown or not trading.
    BadSymbol,
    /// Signature, key or permission problem.
    Auth,
    /// Rejected locally because the venue link is down or its queue is full.
    Unavailable,
    /// Anything else; the venue's code says more.
    #[default]
    Other,
}

/// A refusal with the venue's own code (`-2010`, `-1013`, HTTP 429 as `429`, …).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VenueReject {
    pub kind: RejectKind,
    /// The venue's numeric error code, kept for the journal and the operator.
    pub code: i32,
    /// For `RateLimited` and `Banned`: how long to wait, in ms (0 when not given).
    pub retry_after_ms: u64,
}

/// One execution, as the venue reported it (fee in whatever asset the venue charged).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VenueFill {
    pub client_order_id: ClientOrderId,
    pub symbol: SymbolId,
    pub market: Market,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    /// Fee amount in `fee_asset` (the portfolio converts it at the current price).
    pub fee: Qty,
    pub fee_asset: AssetName,
    /// The venue's trade id: fills are de-duplicated on (symbol, trade id).
    pub venue_trade_id: u64,
    pub venue_order_id: u64,
    pub is_maker: bool,
    /// Venue transaction time, ms.
    pub venue_ts_ms: u64,
}

/// An open order as the venue holds it (reconciliation).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VenueOpenOrder {
    /// Our id when the order carries one of ours; `None` for an operator's manual order.
    pub client_order_id: Option<ClientOrderId>,
    pub venue_order_id: u64,
    pub symbol: SymbolId,
    pub market: Market,
    pub side: Side,
    pub order_type: OrderType,
    pub price: Price,
    pub trigger_price: Price,
    pub qty: Qty,
    pub filled_qty: Qty,
    pub reduce_only: bool,
}

impl VenueOpenOrder {
    /// The id the order is tracked by: ours, or for a manual order its venue id with the
    /// top bit set (ours carry that bit only from session 2^23 on).
    pub const fn tracked_id(&self) -> ClientOrderId {
        match self.client_order_id {
            Some(id) => id,
            None => ClientOrderId(self.venue_order_id | (1 << 63)),
        }
    }
}

/// State of the link to a venue, for the error-rate breakers and the health page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkState {
    /// Connected (and authenticated / subscribed where needed).
    Up,
    /// Lost; the gateway is reconnecting and will reconcile afterwards.
    Down,
    /// A request timed out without an answer.
    Timeout,
}

/// What a venue tells the order manager.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VenueReport {
    /// The venue accepted the order.
    Accepted {
        client_order_id: ClientOrderId,
        venue_order_id: u64,
        venue_ts_ms: u64,
    },
    /// The venue refused the order (or the gateway refused it locally: `Unavailable`).
    Rejected {
        client_order_id: ClientOrderId,
        reject: VenueReject,
    },
    /// A fill.
    Fill(VenueFill),
    /// The order was canceled (by us, by the venue, or as the other leg of an OCO).
    Canceled {
        client_order_id: ClientOrderId,
        venue_ts_ms: u64,
    },
    /// The order expired (IOC / FOK remainder, self-trade prevention, GTD).
    Expired {
        client_order_id: ClientOrderId,
        venue_ts_ms: u64,
    },
    /// A stop or take-profit triggered and is now working as a market order.
    Triggered {
        client_order_id: ClientOrderId,
        venue_ts_ms: u64,
    },
    /// A cancel was refused (the order may already be filled).
    CancelRejected {
        client_order_id: ClientOrderId,
        reject: VenueReject,
    },
    /// The request went out but its outcome is unknown (5xx, timeout, lost ack): the order
    /// manager must ask with `QueryOrder` before it trusts anything about it.
    StatusUnknown { client_order_id: ClientOrderId },
    /// Reconciliation: an order open at the venue.
    OpenOrder(VenueOpenOrder),
    /// Reconciliation: an order in any state that a trade named and nobody here knew by its
    /// venue id (a crash between sending and journaling, or an operator's manual order),
    /// reported after that order's fills. The venue's status and filled quantity win.
    ResolvedOrder {
        order: VenueOpenOrder,
        status: OrderStatus,
    },
    /// Reconciliation or account stream: an asset's balance. On margin `free` is net of
    /// what is owed (borrowed and interest), so it is negative while the asset is borrowed.
    Balance {
        asset: AssetName,
        free: Qty,
        locked: Qty,
    },
    /// Reconciliation or account stream: a futures position (signed: short is negative).
    Position {
        symbol: SymbolId,
        qty: Qty,
        entry_price: Price,
    },
    /// Reconciliation of `symbol` finished (`ok` false when the venue did not answer fully).
    ReconcileDone { symbol: SymbolId, ok: bool },
    /// The link changed state.
    Link(LinkState),
}

/// A venue: takes commands, reports back. Real gateways do their I/O inside `poll`; the paper
/// venue and backtest models are pure state machines driven by the time passed in.
pub trait Venue: Send {
    /// Hands over a command; never blocks. A command the venue cannot take now comes back
    /// as a `Rejected`/`CancelRejected` report with `RejectKind::Unavailable`.
    fn submit(&mut self, command: &VenueCommand, now_ns: u64);
    /// Market data the venue may need (the paper venue fills against it; gateways keep a
    /// reference price). True when the event produced reports (fills) for the next `poll`:
    /// a venue whose reports come from sockets answers false, so the order stage does not
    /// poll its sockets on every market event.
    fn on_market(&mut self, _event: &MarketEvent) -> bool {
        false
    }
    /// Moves ready reports into `reports` without blocking; true if it did anything.
    fn poll(&mut self, now_ns: u64, reports: &mut Outbox<VenueReport>) -> bool;
    /// Monotonic ns at which the last order frame was complete (encoded, signed, encrypted)
    /// just before its write (`Some(0)` before the first); None for venues without a wire
    /// (the paper venue). A venue whose orders only go over REST from a helper thread
    /// (Binance margin) stamps the hand-off of the signed request to that thread.
    fn last_wire_ns(&self) -> Option<u64> {
        None
    }
    /// The earliest time something queued inside the venue becomes due (a command waiting
    /// out its entry latency, a report waiting out its report latency); None when nothing
    /// is queued or the venue's work arrives from sockets. The backtester polls then.
    fn next_wakeup_ns(&self) -> Option<u64> {
        None
    }
}
