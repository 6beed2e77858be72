//! Owns: reading Binance user-data events (spot and margin `executionReport`, `listStatus`,
//! `outboundAccountPosition`, `balanceUpdate`, `eventStreamTerminated`, bare or wrapped in the
//! WebSocket API `{"subscriptionId","event"}` envelope; USDⓈ-M `ORDER_TRADE_UPDATE`,
//! `ACCOUNT_UPDATE`, `ALGO_UPDATE`, `TRADE_LITE`, `listenKeyExpired`) into `VenueReport`s.
//! Never: panics on input, reports an order that is not ours, or drops an unknown event type
//! silently (it is a typed error the gateway counts).
//!
//! Margin (the listenToken subscription, same events as spot): `outboundAccountPosition` is
//! validated but not reported, because its free and locked amounts leave the debt out;
//! margin balances come from the fills and from reconciliation's `netAsset`.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{
    asset, one_way_position, parse_json, push, side, symbol, unknown, ParseError, ReportSink,
};
use super::response::algo_status_report;
use super::symbols::OrderSymbols;
use crate::core::{AssetName, ClientOrderId, Market, Price, Qty, SymbolId};
use crate::oms::venue::{LinkState, RejectKind, VenueFill, VenueReject, VenueReport};

/// The user-data event types this parser knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum UserDataEvent {
    ExecutionReport,
    ListStatus,
    OutboundAccountPosition,
    BalanceUpdate,
    EventStreamTerminated,
    ExternalLockUpdate,
    OrderTradeUpdate,
    AccountUpdate,
    AlgoUpdate,
    TradeLite,
    ListenKeyExpired,
    MarginCall,
    AccountConfigUpdate,
    ConditionalOrderTriggerReject,
}

impl UserDataEvent {
    fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "executionReport" => UserDataEvent::ExecutionReport,
            "listStatus" => UserDataEvent::ListStatus,
            "outboundAccountPosition" => UserDataEvent::OutboundAccountPosition,
            "balanceUpdate" => UserDataEvent::BalanceUpdate,
            "eventStreamTerminated" => UserDataEvent::EventStreamTerminated,
            "externalLockUpdate" => UserDataEvent::ExternalLockUpdate,
            "ORDER_TRADE_UPDATE" => UserDataEvent::OrderTradeUpdate,
            "ACCOUNT_UPDATE" => UserDataEvent::AccountUpdate,
            "ALGO_UPDATE" => UserDataEvent::AlgoUpdate,
            "TRADE_LITE" => UserDataEvent::TradeLite,
            "listenKeyExpired" => UserDataEvent::ListenKeyExpired,
            "MARGIN_CALL" => UserDataEvent::MarginCall,
            "ACCOUNT_CONFIG_UPDATE" => UserDataEvent::AccountConfigUpdate,
            "CONDITIONAL_ORDER_TRIGGER_REJECT" => UserDataEvent::ConditionalOrderTriggerReject,
            _ => return None,
        })
    }
}

/// Something the gateway should know beyond the reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UserDataNote {
    /// An order that is not kestrel's (an operator's manual order): nothing was reported.
    ForeignOrder { venue_order_id: u64 },
    /// A futures algo order triggered into the regular order `venue_order_id`, whose own
    /// updates carry the venue's id for it: map it to `client_order_id`.
    AlgoBecameOrder {
        client_order_id: ClientOrderId,
        venue_order_id: u64,
    },
    /// A deposit, withdrawal or transfer changed a balance by `delta`; the absolute balance
    /// follows in `outboundAccountPosition`.
    BalanceDelta {
        asset: AssetName,
        delta: Qty,
        venue_ts_ms: u64,
    },
    /// The stream ended (listenKey expired, subscription terminated): `Link(Down)` was
    /// reported; resubscribe and reconcile.
    StreamEnded,
}

/// What one frame said, besides the reports it pushed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UserDataOutcome {
    pub event: UserDataEvent,
    /// Reports pushed.
    pub reports: usize,
    /// Entries left out: hedge-mode position sides, positions of symbols not traded.
    pub skipped: usize,
    pub note: Option<UserDataNote>,
}

/// What kind of frame arrived on a WebSocket API connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WsFrameKind {
    /// A reply to one of our requests (has `id`): see `response::ws_reply`.
    Reply,
    /// A user-data event (`{"subscriptionId","event"}` or a bare event with `e`).
    Event,
}

#[derive(Deserialize)]
struct Peek<'a> {
    id: Option<IgnoredAny>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    e: Option<Cow<'a, str>>,
}

/// Tells a WebSocket API reply from a user-data event.
pub fn ws_frame_kind(frame: &[u8]) -> Result<WsFrameKind, ParseError> {
    let peek: Peek<'_> = parse_json(frame, "WebSocket API frame")?;
    match (peek.id, peek.event, peek.e) {
        (_, Some(_), _) | (None, None, Some(_)) => Ok(WsFrameKind::Event),
        (Some(_), None, _) => Ok(WsFrameKind::Reply),
        (None, None, None) => Err(ParseError::Malformed {
            what: "WebSocket API frame",
            path: ".".to_string(),
            detail: "neither an id, an event nor an event type".to_string(),
        }),
    }
}

/// Reads one user-data frame from a stream of `market` (spot or margin on the spot stream,
/// USDⓈ-M on the listenKey stream) and pushes its reports.
pub fn parse_user_data(
    frame: &[u8],
    symbols: &OrderSymbols,
    market: Market,
    sink: &mut dyn ReportSink,
) -> Result<UserDataOutcome, ParseError> {
    parse_user_data_with(frame, symbols, market, &|_, _| None, sink)
}

/// As [`parse_user_data`], with `known` naming kestrel's client id of a venue order whose
/// own updates carry a venue-made client id (a futures algo order's triggered order, after
/// its `ALGO_UPDATE` said which order it became).
pub fn parse_user_data_with(
    frame: &[u8],
    symbols: &OrderSymbols,
    market: Market,
    known: &dyn Fn(SymbolId, u64) -> Option<ClientOrderId>,
    sink: &mut dyn ReportSink,
) -> Result<UserDataOutcome, ParseError> {
    let peek: Peek<'_> = parse_json(frame, "user-data frame")?;
    if let Some(inner) = peek.event {
        return parse_user_data_with(inner.get().as_bytes(), symbols, market, known, sink);
    }
    let name = peek.e.ok_or_else(|| ParseError::Malformed {
        what: "user-data frame",
        path: "e".to_string(),
        detail: "missing event type".to_string(),
    })?;
    let event = UserDataEvent::from_wire(&name)
        .ok_or_else(|| ParseError::UnknownEvent(name.to_string()))?;
    let mut out = Out {
        sink,
        outcome: UserDataOutcome {
            event,
            reports: 0,
            skipped: 0,
            note: None,
        },
    };
    let what = "user-data event";
    match event {
        UserDataEvent::ExecutionReport => execution_report(
            &parse_json(frame, "executionReport")?,
            symbols,
            market,
            &mut out,
        )?,
        UserDataEvent::OrderTradeUpdate => {
            let update: OrderTradeUpdate<'_> = parse_json(frame, "ORDER_TRADE_UPDATE")?;
            futures_order(&update.order, symbols, known, &mut out)?;
        }
        UserDataEvent::AlgoUpdate => {
            let update: AlgoUpdate<'_> = parse_json(frame, "ALGO_UPDATE")?;
            algo_update(&update, &mut out)?;
        }
        UserDataEvent::ListStatus => {
            let status: ListStatus<'_> = parse_json(frame, "listStatus")?;
            list_status(&status, &mut out)?;
        }
        UserDataEvent::OutboundAccountPosition => {
            let position: AccountPosition<'_> = parse_json(frame, "outboundAccountPosition")?;
            if market == Market::Margin {
                // A margin account's free and locked leave out what is owed (the liability
                // comes on the listenKey risk stream, USER_LIABILITY_CHANGE): reported, they
                // would overwrite the net balance the fills and reconciliation keep (borrowed
                // 1 BTC sold: free 0, net -1) with a gross one. Validated and skipped.
                for balance in &position.balances {
                    asset(balance.asset, "outboundAccountPosition")?;
                }
                out.outcome.skipped += position.balances.len();
                return Ok(out.outcome);
            }
            for balance in &position.balances {
                out.push(VenueReport::Balance {
                    asset: asset(balance.asset, "outboundAccountPosition")?,
                    free: balance.free,
                    locked: balance.locked,
                })?;
            }
        }
        UserDataEvent::BalanceUpdate => {
            let update: BalanceUpdate<'_> = parse_json(frame, "balanceUpdate")?;
            out.outcome.note = Some(UserDataNote::BalanceDelta {
                asset: asset(update.asset, "balanceUpdate")?,
                delta: update.delta,
                venue_ts_ms: update.clear_time,
            });
        }
        UserDataEvent::AccountUpdate => {
            let update: AccountUpdate<'_> = parse_json(frame, "ACCOUNT_UPDATE")?;
            account_update(&update, symbols, &mut out)?;
        }
        UserDataEvent::TradeLite => {
            // The same fill arrives in ORDER_TRADE_UPDATE with its fee; reporting both would
            // book it twice (or once without its fee), so this one is only validated.
            let _: TradeLite<'_> = parse_json(frame, "TRADE_LITE")?;
        }
        UserDataEvent::EventStreamTerminated => {
            let _: StreamTerminated = parse_json(frame, "eventStreamTerminated")?;
            out.push(VenueReport::Link(LinkState::Down))?;
            out.outcome.note = Some(UserDataNote::StreamEnded);
        }
        UserDataEvent::ListenKeyExpired => {
            let _: IgnoredAny = parse_json(frame, what)?;
            out.push(VenueReport::Link(LinkState::Down))?;
            out.outcome.note = Some(UserDataNote::StreamEnded);
        }
        UserDataEvent::ExternalLockUpdate
        | UserDataEvent::MarginCall
        | UserDataEvent::AccountConfigUpdate
        | UserDataEvent::ConditionalOrderTriggerReject => {
            // Known, and nothing the order side tracks from them (balances and positions
            // follow in their own events).
        }
    }
    Ok(out.outcome)
}

struct Out<'s> {
    sink: &'s mut dyn ReportSink,
    outcome: UserDataOutcome,
}

impl Out<'_> {
    fn push(&mut self, report: VenueReport) -> Result<(), ParseError> {
        push(self.sink, report, "user-data event")?;
        self.outcome.reports += 1;
        Ok(())
    }
    fn foreign(&mut self, venue_order_id: u64) {
        self.outcome.note = Some(UserDataNote::ForeignOrder { venue_order_id });
    }
}

#[derive(Deserialize)]
struct ExecutionReport<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "c")]
    client_order_id: &'a str,
    #[serde(rename = "C", default)]
    original_client_order_id: Option<&'a str>,
    #[serde(rename = "S")]
    side: &'a str,
    #[serde(rename = "x")]
    execution_type: &'a str,
    #[serde(rename = "X")]
    status: &'a str,
    #[serde(rename = "r")]
    reject_reason: &'a str,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(rename = "l")]
    last_qty: Qty,
    #[serde(rename = "L")]
    last_price: Price,
    #[serde(rename = "n")]
    commission: Option<Qty>,
    #[serde(rename = "N")]
    commission_asset: Option<&'a str>,
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(rename = "t")]
    trade_id: i64,
    #[serde(rename = "m")]
    is_maker: bool,
}

/// Why the venue rejected an order, from `executionReport.r`.
fn reject_reason_kind(reason: &str) -> RejectKind {
    match reason {
        "INSUFFICIENT_BALANCE" | "INSUFFICIENT_BALANCES" => RejectKind::InsufficientFunds,
        "DUPLICATE_ORDER" => RejectKind::Duplicate,
        "UNKNOWN_INSTRUMENT" | "MARKET_CLOSED" => RejectKind::BadSymbol,
        "ORDER_WOULD_TRIGGER_IMMEDIATELY" => RejectKind::WouldTrigger,
        "ORDER_WOULD_MATCH_IMMEDIATELY" => RejectKind::WouldTake,
        "PRICE_QTY_EXCEED_HARD_LIMITS" => RejectKind::Filter,
        "UNKNOWN_ORDER" => RejectKind::UnknownOrder,
        _ => RejectKind::Other,
    }
}

/// A fill's fee: the asset must be named whenever the fee is not zero.
fn fee(
    commission: Option<Qty>,
    commission_asset: Option<&str>,
    what: &'static str,
) -> Result<(Qty, AssetName), ParseError> {
    let amount = commission.unwrap_or_default();
    match commission_asset {
        Some(code) => Ok((amount, asset(code, what)?)),
        None if amount.is_zero() => Ok((amount, AssetName::default())),
        None => Err(ParseError::Malformed {
            what,
            path: "N".to_string(),
            detail: "a non-zero commission without its asset".to_string(),
        }),
    }
}

fn execution_report(
    report: &ExecutionReport<'_>,
    symbols: &OrderSymbols,
    market: Market,
    out: &mut Out<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "executionReport";
    // On a cancel, `c` is the cancel request's own id and `C` the order's.
    let named = match report.original_client_order_id {
        Some(original) if !original.is_empty() && report.execution_type == "CANCELED" => original,
        _ => report.client_order_id,
    };
    let Some(id) = ClientOrderId::parse(named) else {
        out.foreign(report.order_id);
        return Ok(());
    };
    let ts = report.transaction_time;
    match report.execution_type {
        "NEW" => out.push(VenueReport::Accepted {
            client_order_id: id,
            venue_order_id: report.order_id,
            venue_ts_ms: ts,
        }),
        "TRADE" => {
            let (fee, fee_asset) = fee(report.commission, report.commission_asset, WHAT)?;
            let trade_id = u64::try_from(report.trade_id).map_err(|_| ParseError::Malformed {
                what: WHAT,
                path: "t".to_string(),
                detail: format!("trade id {} on a TRADE", report.trade_id),
            })?;
            out.push(VenueReport::Fill(VenueFill {
                client_order_id: id,
                symbol: symbol(symbols, report.symbol, WHAT)?,
                market,
                side: side(report.side, WHAT)?,
                price: report.last_price,
                qty: report.last_qty,
                fee,
                fee_asset,
                venue_trade_id: trade_id,
                venue_order_id: report.order_id,
                is_maker: report.is_maker,
                venue_ts_ms: ts,
            }))
        }
        "CANCELED" => out.push(VenueReport::Canceled {
            client_order_id: id,
            venue_ts_ms: ts,
        }),
        "EXPIRED" => out.push(VenueReport::Expired {
            client_order_id: id,
            venue_ts_ms: ts,
        }),
        // Self-trade prevention expired (part of) the order only if its status says so.
        "TRADE_PREVENTION" if matches!(report.status, "EXPIRED" | "EXPIRED_IN_MATCH") => {
            out.push(VenueReport::Expired {
                client_order_id: id,
                venue_ts_ms: ts,
            })
        }
        "REJECTED" => out.push(VenueReport::Rejected {
            client_order_id: id,
            reject: VenueReject {
                kind: reject_reason_kind(report.reject_reason),
                code: 0,
                retry_after_ms: 0,
            },
        }),
        "TRADE_PREVENTION" | "REPLACED" | "AMENDMENT" => Ok(()),
        other => Err(unknown(WHAT, "execution type", other)),
    }
}

#[derive(Deserialize)]
struct OrderTradeUpdate<'a> {
    #[serde(rename = "o", borrow)]
    order: FuturesOrder<'a>,
}

#[derive(Deserialize)]
struct FuturesOrder<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "c")]
    client_order_id: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    #[serde(rename = "x")]
    execution_type: &'a str,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(rename = "l")]
    last_qty: Qty,
    #[serde(rename = "L")]
    last_price: Price,
    #[serde(rename = "n")]
    commission: Option<Qty>,
    #[serde(rename = "N")]
    commission_asset: Option<&'a str>,
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "m")]
    is_maker: bool,
}

fn futures_order(
    order: &FuturesOrder<'_>,
    symbols: &OrderSymbols,
    known: &dyn Fn(SymbolId, u64) -> Option<ClientOrderId>,
    out: &mut Out<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "ORDER_TRADE_UPDATE";
    let id = ClientOrderId::parse(order.client_order_id).or_else(|| {
        symbols
            .id_of(order.symbol)
            .and_then(|symbol| known(symbol, order.order_id))
    });
    let Some(id) = id else {
        out.foreign(order.order_id);
        return Ok(());
    };
    let ts = order.transaction_time;
    match order.execution_type {
        "NEW" => out.push(VenueReport::Accepted {
            client_order_id: id,
            venue_order_id: order.order_id,
            venue_ts_ms: ts,
        }),
        // CALCULATED is a liquidation fill: it changes the position like any trade.
        "TRADE" | "CALCULATED" => {
            let (fee, fee_asset) = fee(order.commission, order.commission_asset, WHAT)?;
            out.push(VenueReport::Fill(VenueFill {
                client_order_id: id,
                symbol: symbol(symbols, order.symbol, WHAT)?,
                market: Market::UsdmFutures,
                side: side(order.side, WHAT)?,
                price: order.last_price,
                qty: order.last_qty,
                fee,
                fee_asset,
                venue_trade_id: order.trade_id,
                venue_order_id: order.order_id,
                is_maker: order.is_maker,
                venue_ts_ms: ts,
            }))
        }
        "CANCELED" => out.push(VenueReport::Canceled {
            client_order_id: id,
            venue_ts_ms: ts,
        }),
        "EXPIRED" => out.push(VenueReport::Expired {
            client_order_id: id,
            venue_ts_ms: ts,
        }),
        "AMENDMENT" => Ok(()),
        other => Err(unknown(WHAT, "execution type", other)),
    }
}

#[derive(Deserialize)]
struct AlgoUpdate<'a> {
    #[serde(rename = "T")]
    transaction_time: u64,
    #[serde(rename = "o", borrow)]
    order: AlgoOrderEvent<'a>,
}

#[derive(Deserialize)]
struct AlgoOrderEvent<'a> {
    caid: &'a str,
    aid: u64,
    #[serde(rename = "X")]
    status: &'a str,
    /// The regular order the algo order became once triggered ("" before).
    #[serde(default)]
    ai: Option<Cow<'a, str>>,
}

fn algo_update(update: &AlgoUpdate<'_>, out: &mut Out<'_>) -> Result<(), ParseError> {
    let order = &update.order;
    let Some(id) = ClientOrderId::parse(order.caid) else {
        out.foreign(order.aid);
        return Ok(());
    };
    if let Some(report) = algo_status_report(order.status, id, order.aid, update.transaction_time)?
    {
        out.push(report)?;
    }
    let actual = order.ai.as_deref().unwrap_or("");
    if !actual.is_empty() {
        let venue_order_id = actual.parse().map_err(|_| ParseError::Malformed {
            what: "ALGO_UPDATE",
            path: "o.ai".to_string(),
            detail: format!("actual order id {actual:?} is not a number"),
        })?;
        out.outcome.note = Some(UserDataNote::AlgoBecameOrder {
            client_order_id: id,
            venue_order_id,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct ListStatus<'a> {
    #[serde(rename = "g")]
    list_id: u64,
    #[serde(rename = "L")]
    list_order_status: &'a str,
    #[serde(rename = "r")]
    reject_reason: &'a str,
    #[serde(rename = "C")]
    list_client_order_id: &'a str,
}

fn list_status(status: &ListStatus<'_>, out: &mut Out<'_>) -> Result<(), ParseError> {
    let Some(id) = ClientOrderId::parse(status.list_client_order_id) else {
        out.foreign(status.list_id);
        return Ok(());
    };
    match status.list_order_status {
        // The legs report their own progress in executionReports; only a refused list
        // has no leg to say so.
        "REJECT" => out.push(VenueReport::Rejected {
            client_order_id: id,
            reject: VenueReject {
                kind: reject_reason_kind(status.reject_reason),
                code: 0,
                retry_after_ms: 0,
            },
        }),
        "EXECUTING" | "ALL_DONE" => Ok(()),
        other => Err(unknown("listStatus", "listOrderStatus", other)),
    }
}

/// `{"e":"eventStreamTerminated","E":<ms>}`: a subscription ended (its listenToken expired,
/// or the session logged out).
#[derive(Deserialize)]
#[allow(dead_code)] // Read only to validate the event's shape.
struct StreamTerminated {
    #[serde(rename = "E")]
    event_time: u64,
}

#[derive(Deserialize)]
struct AccountPosition<'a> {
    #[serde(rename = "B", borrow)]
    balances: Vec<AccountPositionBalance<'a>>,
}

#[derive(Deserialize)]
struct AccountPositionBalance<'a> {
    #[serde(rename = "a")]
    asset: &'a str,
    #[serde(rename = "f")]
    free: Qty,
    #[serde(rename = "l")]
    locked: Qty,
}

#[derive(Deserialize)]
struct BalanceUpdate<'a> {
    #[serde(rename = "a")]
    asset: &'a str,
    #[serde(rename = "d")]
    delta: Qty,
    #[serde(rename = "T")]
    clear_time: u64,
}

#[derive(Deserialize)]
struct AccountUpdate<'a> {
    #[serde(rename = "a", borrow)]
    data: AccountUpdateData<'a>,
}

#[derive(Deserialize)]
struct AccountUpdateData<'a> {
    #[serde(rename = "B", borrow, default)]
    balances: Vec<FuturesBalance<'a>>,
    #[serde(rename = "P", borrow, default)]
    positions: Vec<FuturesPosition<'a>>,
}

#[derive(Deserialize)]
struct FuturesBalance<'a> {
    #[serde(rename = "a")]
    asset: &'a str,
    #[serde(rename = "wb")]
    wallet_balance: Qty,
}

#[derive(Deserialize)]
struct FuturesPosition<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "pa")]
    amount: Qty,
    #[serde(rename = "ep")]
    entry_price: Price,
    #[serde(rename = "ps")]
    position_side: &'a str,
}

fn account_update(
    update: &AccountUpdate<'_>,
    symbols: &OrderSymbols,
    out: &mut Out<'_>,
) -> Result<(), ParseError> {
    for balance in &update.data.balances {
        // Futures margin is not locked per order the way spot balances are.
        out.push(VenueReport::Balance {
            asset: asset(balance.asset, "ACCOUNT_UPDATE")?,
            free: balance.wallet_balance,
            locked: Qty::ZERO,
        })?;
    }
    for position in &update.data.positions {
        match one_way_position(
            symbols,
            position.symbol,
            position.position_side,
            position.amount,
            position.entry_price,
            "ACCOUNT_UPDATE",
        )? {
            Some(report) => out.push(report)?,
            None => out.outcome.skipped += 1,
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[allow(dead_code)] // Read only to validate the event's shape.
struct TradeLite<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "c")]
    client_order_id: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    #[serde(rename = "l")]
    last_qty: Qty,
    #[serde(rename = "L")]
    last_price: Price,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "i")]
    order_id: u64,
}
