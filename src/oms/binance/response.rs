//! Owns: reading Binance replies (REST bodies and WebSocket API `{"id","status","result" |
//! "error","rateLimits"}` frames) to the requests the codec built, into `VenueReport`s.
//! Never: does I/O, panics on input, or reports an order that is not ours as if it were.
//!
//! A reply is read against the request it answers ([`Pending`]), because Binance's shapes do
//! not say what they answer. Errors become `Rejected` / `CancelRejected`; 5xx and -1007 become
//! `StatusUnknown` (the order may have executed: protocols.md §1.7, §6.13); -1021 is handed
//! back for the resync-and-retry decision instead of being reported.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{
    asset, classify_error, parse_json, push, side, symbol, unknown, ApiError, ParseError,
    ReportSink, Verdict,
};
use super::rate_limit::{retry_after_epoch_ms, WsRateLimit};
use super::reconcile_reply as reconcile;
use super::request::OrderRoute;
use super::symbols::OrderSymbols;
use crate::core::{ClientOrderId, Market, Price, Qty, SymbolId};
use crate::oms::venue::{VenueFill, VenueReject, VenueReport};

/// What request a reply answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyKind {
    Place,
    PlaceOco,
    Cancel,
    CancelAll,
    QueryOrder,
    OpenOrders,
    Trades,
    AllOrders,
    Account,
    Positions,
    ServerTime,
    ListenKey,
    ListenToken,
    SubscribeUserData,
    Logon,
}

/// The request a reply answers, as the gateway remembered it when sending.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pending {
    pub kind: ReplyKind,
    pub market: Market,
    pub route: OrderRoute,
    pub symbol: SymbolId,
    /// The order placed, canceled or queried (the list id for an OCO); unused otherwise.
    pub client_order_id: ClientOrderId,
}

/// A futures listenKey, held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ListenKey {
    len: u8,
    bytes: [u8; 64],
}

impl ListenKey {
    /// The key text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for ListenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A listenKey grants read access to the account stream: show only its start.
        write!(
            f,
            "ListenKey({}…)",
            &self.as_str()[..self.as_str().len().min(6)]
        )
    }
}

/// Longest margin listenToken held (Binance's are about 70 base64 characters).
pub const LISTEN_TOKEN_MAX_LEN: usize = 192;

/// A margin user-data listenToken (`POST /sapi/v1/userListenToken`) and when it expires,
/// held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ListenToken {
    len: u8,
    bytes: [u8; LISTEN_TOKEN_MAX_LEN],
    /// Venue time (ms) at which the token, and a subscription made with it, ends.
    pub expiration_ms: u64,
}

impl ListenToken {
    /// The token text (base64).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for ListenToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A listenToken grants read access to the account stream: show only its start.
        write!(
            f,
            "ListenToken({}…, expires {})",
            &self.as_str()[..self.as_str().len().min(6)],
            self.expiration_ms
        )
    }
}

/// Reads a `userListenToken` answer: the token must be 1..=[`LISTEN_TOKEN_MAX_LEN`] base64
/// characters and `expirationTime` a number.
pub fn parse_listen_token(body: &[u8]) -> Result<ListenToken, ParseError> {
    const WHAT: &str = "userListenToken reply";
    let reply: ListenTokenReply<'_> = parse_json(body, WHAT)?;
    let bytes = reply.token.as_bytes();
    if bytes.is_empty() || bytes.len() > LISTEN_TOKEN_MAX_LEN {
        return Err(ParseError::Malformed {
            what: WHAT,
            path: "token".to_string(),
            detail: format!("{} bytes, expected 1..={LISTEN_TOKEN_MAX_LEN}", bytes.len()),
        });
    }
    if let Some(bad) = bytes.iter().find(|b| {
        !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'.'))
    }) {
        return Err(ParseError::Malformed {
            what: WHAT,
            path: "token".to_string(),
            detail: format!("byte {bad:#04x} is not base64"),
        });
    }
    let mut inline = [0u8; LISTEN_TOKEN_MAX_LEN];
    inline[..bytes.len()].copy_from_slice(bytes);
    Ok(ListenToken {
        len: bytes.len() as u8,
        bytes: inline,
        expiration_ms: reply.expiration_time,
    })
}

/// What a reply said, besides the reports it pushed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyOutcome {
    /// Reports pushed; `skipped` entries were not ours (manual orders, other symbols,
    /// hedge-mode position sides).
    Reported { reports: usize, skipped: usize },
    /// The venue refused; the matching reject report was pushed where one applies.
    Refused(VenueReject),
    /// -1021: nothing pushed; ask `ServerClock::on_timestamp_rejected` whether to retry.
    TimestampRejected(VenueReject),
    /// The outcome is unknown (5xx, -1007); `StatusUnknown` was pushed for an order request.
    Unknown,
    /// `/time`.
    ServerTime { server_time_ms: u64 },
    /// `listenKey` opened or extended.
    ListenKey(ListenKey),
    /// A margin `listenToken` issued.
    ListenToken(ListenToken),
    /// `userDataStream.subscribe*` succeeded.
    Subscribed { subscription_id: u64 },
    /// `session.logon` succeeded.
    LoggedOn,
}

/// The order-id map the trade parser needs: Binance trade lists name the venue order id,
/// not the client id.
pub trait OrderIds {
    /// Our client id of venue order `venue_order_id` on `symbol`, if it is ours.
    fn client_id(&self, symbol: SymbolId, venue_order_id: u64) -> Option<ClientOrderId>;
}

impl<F: Fn(SymbolId, u64) -> Option<ClientOrderId>> OrderIds for F {
    fn client_id(&self, symbol: SymbolId, venue_order_id: u64) -> Option<ClientOrderId> {
        self(symbol, venue_order_id)
    }
}

/// What the reply parser needs besides the bytes.
pub struct ReplyContext<'a> {
    pub symbols: &'a OrderSymbols,
    pub orders: &'a dyn OrderIds,
}

/// Reads a REST reply: `status` is the HTTP status, `retry_after_ms` the `Retry-After`
/// header converted to ms (see `rate_limit::retry_after_header_ms`).
pub fn parse_rest_reply(
    status: u16,
    retry_after_ms: Option<u64>,
    body: &[u8],
    pending: &Pending,
    context: &ReplyContext<'_>,
    sink: &mut dyn ReportSink,
) -> Result<ReplyOutcome, ParseError> {
    if (200..300).contains(&status) {
        return parse_result(body, pending, context, sink);
    }
    // Error bodies may be HTML from a proxy or empty; the status alone still decides.
    let (code, msg) = match parse_json::<ApiError<'_>>(body, "error body") {
        Ok(error) => (error.code, error.msg),
        Err(_) => (0, Cow::Borrowed("")),
    };
    refusal(status, code, &msg, retry_after_ms, pending, sink)
}

/// A WebSocket API reply frame, split into its parts.
#[derive(Debug)]
pub struct WsReply<'a> {
    /// The request id echoed back (`None` for `null`).
    pub id: Option<u64>,
    /// HTTP-like status.
    pub status: u16,
    result: Option<&'a RawValue>,
    error: Option<WsError<'a>>,
    /// Usage reported with the reply (empty when `returnRateLimits=false`).
    pub rate_limits: Vec<WsRateLimit>,
}

#[derive(Deserialize, Debug)]
struct WsError<'a> {
    code: i32,
    #[serde(borrow)]
    msg: Cow<'a, str>,
    #[serde(default)]
    data: Option<WsErrorData>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct WsErrorData {
    /// Epoch ms until which requests are refused (not a duration).
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWsReply<'a> {
    id: Option<u64>,
    status: u16,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<WsError<'a>>,
    #[serde(default)]
    rate_limits: Vec<WsRateLimit>,
}

/// Splits a WebSocket API reply; match `id` to the pending request, then [`parse_ws_reply`].
pub fn ws_reply(frame: &[u8]) -> Result<WsReply<'_>, ParseError> {
    let raw: RawWsReply<'_> = parse_json(frame, "WebSocket API reply")?;
    if raw.result.is_none() && raw.error.is_none() && raw.status == 200 {
        return Err(ParseError::Malformed {
            what: "WebSocket API reply",
            path: "result".to_string(),
            detail: "status 200 without a result".to_string(),
        });
    }
    Ok(WsReply {
        id: raw.id,
        status: raw.status,
        result: raw.result,
        error: raw.error,
        rate_limits: raw.rate_limits,
    })
}

/// Reads a WebSocket API reply against its request; `now_ms` turns the venue's
/// `retryAfter` epoch time into a wait.
pub fn parse_ws_reply(
    reply: &WsReply<'_>,
    now_ms: u64,
    pending: &Pending,
    context: &ReplyContext<'_>,
    sink: &mut dyn ReportSink,
) -> Result<ReplyOutcome, ParseError> {
    match (&reply.error, reply.result) {
        (Some(error), _) => {
            let retry_after_ms = error
                .data
                .and_then(|data| data.retry_after)
                .map(|epoch_ms| retry_after_epoch_ms(epoch_ms, now_ms));
            refusal(
                reply.status,
                error.code,
                &error.msg,
                retry_after_ms,
                pending,
                sink,
            )
        }
        (None, Some(result)) => parse_result(result.get().as_bytes(), pending, context, sink),
        (None, None) => refusal(reply.status, 0, "", None, pending, sink),
    }
}

fn refusal(
    status: u16,
    code: i32,
    msg: &str,
    retry_after_ms: Option<u64>,
    pending: &Pending,
    sink: &mut dyn ReportSink,
) -> Result<ReplyOutcome, ParseError> {
    let id = pending.client_order_id;
    match classify_error(status, code, msg, pending.market, retry_after_ms) {
        Verdict::Timestamp(reject) => Ok(ReplyOutcome::TimestampRejected(reject)),
        Verdict::Unknown => {
            if matches!(
                pending.kind,
                ReplyKind::Place | ReplyKind::PlaceOco | ReplyKind::Cancel
            ) {
                let report = VenueReport::StatusUnknown {
                    client_order_id: id,
                };
                push(sink, report, "unknown outcome")?;
            }
            Ok(ReplyOutcome::Unknown)
        }
        Verdict::Reject(reject) => {
            let report = match pending.kind {
                ReplyKind::Place | ReplyKind::PlaceOco => Some(VenueReport::Rejected {
                    client_order_id: id,
                    reject,
                }),
                ReplyKind::Cancel => Some(VenueReport::CancelRejected {
                    client_order_id: id,
                    reject,
                }),
                // The venue never saw the order: that is the query's answer.
                ReplyKind::QueryOrder if reject.code == -2013 => Some(VenueReport::Rejected {
                    client_order_id: id,
                    reject,
                }),
                _ => None,
            };
            if let Some(report) = report {
                push(sink, report, "refusal")?;
            }
            Ok(ReplyOutcome::Refused(reject))
        }
    }
}

/// Counts reports and skipped entries while pushing.
pub(super) struct Tally<'s> {
    sink: &'s mut dyn ReportSink,
    reports: usize,
    pub(super) skipped: usize,
    what: &'static str,
}

impl Tally<'_> {
    pub(super) fn push(&mut self, report: VenueReport) -> Result<(), ParseError> {
        push(self.sink, report, self.what)?;
        self.reports += 1;
        Ok(())
    }
    fn outcome(&self) -> ReplyOutcome {
        ReplyOutcome::Reported {
            reports: self.reports,
            skipped: self.skipped,
        }
    }
}

fn parse_result(
    body: &[u8],
    pending: &Pending,
    context: &ReplyContext<'_>,
    sink: &mut dyn ReportSink,
) -> Result<ReplyOutcome, ParseError> {
    let mut tally = Tally {
        sink,
        reports: 0,
        skipped: 0,
        what: "reply",
    };
    let algo = pending.route == OrderRoute::Algo;
    match pending.kind {
        ReplyKind::Place if algo => {
            let ack: AlgoOrder<'_> = parse_json(body, "algo order reply")?;
            let id = ours_expected(ack.client_algo_id, pending, "algo order reply")?;
            tally.push(VenueReport::Accepted {
                client_order_id: id,
                venue_order_id: ack.algo_id,
                venue_ts_ms: ack.update_time.or(ack.create_time).unwrap_or(0),
            })?;
        }
        ReplyKind::Place => {
            let ack: OrderReply<'_> = parse_json(body, "order reply")?;
            place_ack(&ack, pending, context, &mut tally)?;
        }
        ReplyKind::PlaceOco => {
            let ack: OrderListReply<'_> = parse_json(body, "order list reply")?;
            ours_expected(ack.list_client_order_id, pending, "order list reply")?;
            for leg in &ack.orders {
                match ClientOrderId::parse(leg.client_order_id) {
                    Some(id) => tally.push(VenueReport::Accepted {
                        client_order_id: id,
                        venue_order_id: leg.order_id,
                        venue_ts_ms: ack.transaction_time,
                    })?,
                    None => tally.skipped += 1,
                }
            }
        }
        ReplyKind::Cancel if algo => {
            let reply: AlgoOrder<'_> = parse_json(body, "algo cancel reply")?;
            let id = ours_expected(reply.client_algo_id, pending, "algo cancel reply")?;
            tally.push(VenueReport::Canceled {
                client_order_id: id,
                venue_ts_ms: reply.update_time.unwrap_or(0),
            })?;
        }
        ReplyKind::Cancel => {
            let reply: OrderReply<'_> = parse_json(body, "cancel reply")?;
            let named = reply.orig_client_order_id.unwrap_or(reply.client_order_id);
            let id = ours_expected(named, pending, "cancel reply")?;
            tally.push(VenueReport::Canceled {
                client_order_id: id,
                venue_ts_ms: reply.time_ms(),
            })?;
        }
        ReplyKind::CancelAll => {
            // Spot answers with the canceled orders, futures with a {"code","msg"} notice
            // (the cancels then arrive on the user-data stream).
            if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                let entries: Vec<CanceledEntry<'_>> = parse_json(body, "cancel-all reply")?;
                let orders = entries.iter().flat_map(|entry| match entry {
                    CanceledEntry::List { order_reports } => order_reports.as_slice(),
                    CanceledEntry::Order(order) => std::slice::from_ref(order.as_ref()),
                });
                for reply in orders {
                    let named = reply.orig_client_order_id.unwrap_or(reply.client_order_id);
                    match ClientOrderId::parse(named) {
                        Some(id) => tally.push(VenueReport::Canceled {
                            client_order_id: id,
                            venue_ts_ms: reply.time_ms(),
                        })?,
                        None => tally.skipped += 1,
                    }
                }
            } else {
                let _: serde::de::IgnoredAny = parse_json(body, "cancel-all notice")?;
            }
        }
        ReplyKind::QueryOrder if algo => {
            let order: AlgoOrder<'_> = parse_json(body, "algo order query")?;
            let id = ours_expected(order.client_algo_id, pending, "algo order query")?;
            let ts = order.update_time.unwrap_or(0);
            if let Some(report) =
                algo_status_report(order.algo_status.unwrap_or("NEW"), id, order.algo_id, ts)?
            {
                tally.push(report)?;
            }
        }
        ReplyKind::QueryOrder => {
            let order: OrderReply<'_> = parse_json(body, "order query")?;
            let id = ours_expected(order.client_order_id, pending, "order query")?;
            let status = order
                .status
                .ok_or_else(|| missing("order query", "status"))?;
            tally.push(order_status_report(
                status,
                id,
                order.order_id,
                order.time_ms(),
            )?)?;
        }
        ReplyKind::OpenOrders if algo => reconcile::open_algo_orders(body, context, &mut tally)?,
        ReplyKind::OpenOrders => reconcile::open_orders(body, pending.market, context, &mut tally)?,
        ReplyKind::Trades => reconcile::trades(body, pending.market, context, &mut tally)?,
        ReplyKind::AllOrders => reconcile::all_orders(body, pending.market, context, &mut tally)?,
        ReplyKind::Account => reconcile::account(body, pending.market, context, &mut tally)?,
        ReplyKind::Positions => reconcile::positions(body, context, &mut tally)?,
        ReplyKind::ServerTime => {
            let time: ServerTimeReply = parse_json(body, "server time")?;
            return Ok(ReplyOutcome::ServerTime {
                server_time_ms: time.server_time,
            });
        }
        ReplyKind::ListenKey => {
            let reply: ListenKeyReply<'_> = parse_json(body, "listenKey reply")?;
            if let Some(key) = reply.listen_key {
                let bytes = key.as_bytes();
                if bytes.is_empty() || bytes.len() > 64 {
                    return Err(ParseError::Malformed {
                        what: "listenKey reply",
                        path: "listenKey".to_string(),
                        detail: format!("{} bytes, expected 1..=64", bytes.len()),
                    });
                }
                let mut inline = [0u8; 64];
                inline[..bytes.len()].copy_from_slice(bytes);
                return Ok(ReplyOutcome::ListenKey(ListenKey {
                    len: bytes.len() as u8,
                    bytes: inline,
                }));
            }
        }
        ReplyKind::ListenToken => {
            return Ok(ReplyOutcome::ListenToken(parse_listen_token(body)?));
        }
        ReplyKind::SubscribeUserData => {
            let reply: SubscribeReply = parse_json(body, "subscribe reply")?;
            return Ok(ReplyOutcome::Subscribed {
                subscription_id: reply.subscription_id,
            });
        }
        ReplyKind::Logon => {
            let _: serde::de::IgnoredAny = parse_json(body, "logon reply")?;
            return Ok(ReplyOutcome::LoggedOn);
        }
    }
    Ok(tally.outcome())
}

pub(super) fn missing(what: &'static str, field: &'static str) -> ParseError {
    ParseError::Malformed {
        what,
        path: field.to_string(),
        detail: "missing".to_string(),
    }
}

/// The reply's client id, which must be the one the request was for.
fn ours_expected(
    named: &str,
    pending: &Pending,
    what: &'static str,
) -> Result<ClientOrderId, ParseError> {
    match ClientOrderId::parse(named) {
        Some(id) if id == pending.client_order_id => Ok(id),
        _ => Err(ParseError::Mismatch {
            what,
            expected: pending.client_order_id,
            got: named.to_string(),
        }),
    }
}

/// An order object (spot/margin ACK/RESULT/FULL reply, cancel reply, query, open order;
/// futures order reply): every field past the ids is optional because ACK omits them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderReply<'a> {
    pub(super) symbol: &'a str,
    pub(super) order_id: u64,
    pub(super) client_order_id: &'a str,
    pub(super) orig_client_order_id: Option<&'a str>,
    pub(super) transact_time: Option<u64>,
    pub(super) update_time: Option<u64>,
    pub(super) time: Option<u64>,
    pub(super) status: Option<&'a str>,
    pub(super) side: Option<&'a str>,
    #[serde(rename = "type")]
    pub(super) order_type: Option<&'a str>,
    pub(super) price: Option<Price>,
    pub(super) stop_price: Option<Price>,
    pub(super) orig_qty: Option<Qty>,
    pub(super) executed_qty: Option<Qty>,
    pub(super) reduce_only: Option<bool>,
    #[serde(default)]
    fills: Vec<AckFill<'a>>,
}

impl OrderReply<'_> {
    fn time_ms(&self) -> u64 {
        self.transact_time
            .or(self.update_time)
            .or(self.time)
            .unwrap_or(0)
    }
}

/// One entry of a spot cancel-all reply: a canceled order, or an order list (OCO) whose
/// canceled legs are in `orderReports`.
#[derive(Deserialize)]
#[serde(untagged)]
enum CanceledEntry<'a> {
    List {
        #[serde(rename = "orderReports", borrow)]
        order_reports: Vec<OrderReply<'a>>,
    },
    Order(#[serde(borrow)] Box<OrderReply<'a>>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckFill<'a> {
    price: Price,
    qty: Qty,
    commission: Qty,
    commission_asset: &'a str,
    trade_id: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderListReply<'a> {
    list_client_order_id: &'a str,
    transaction_time: u64,
    #[serde(borrow)]
    orders: Vec<OrderListLeg<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderListLeg<'a> {
    order_id: u64,
    client_order_id: &'a str,
}

/// A futures Algo Service order (place reply, query, open algo orders, cancel reply).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlgoOrder<'a> {
    pub(super) algo_id: u64,
    pub(super) client_algo_id: &'a str,
    pub(super) symbol: Option<&'a str>,
    pub(super) side: Option<&'a str>,
    #[serde(rename = "type")]
    pub(super) order_type: Option<&'a str>,
    pub(super) algo_status: Option<&'a str>,
    pub(super) quantity: Option<Qty>,
    pub(super) trigger_price: Option<Price>,
    pub(super) price: Option<Price>,
    pub(super) reduce_only: Option<bool>,
    pub(super) create_time: Option<u64>,
    pub(super) update_time: Option<u64>,
}

fn place_ack(
    ack: &OrderReply<'_>,
    pending: &Pending,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    let id = ours_expected(ack.client_order_id, pending, "order reply")?;
    let ts = ack.time_ms();
    tally.push(VenueReport::Accepted {
        client_order_id: id,
        venue_order_id: ack.order_id,
        venue_ts_ms: ts,
    })?;
    if !ack.fills.is_empty() {
        let symbol_id = symbol(context.symbols, ack.symbol, "order reply")?;
        let order_side = side(
            ack.side.ok_or_else(|| missing("order reply", "side"))?,
            "order reply",
        )?;
        for fill in &ack.fills {
            tally.push(VenueReport::Fill(VenueFill {
                client_order_id: id,
                symbol: symbol_id,
                market: pending.market,
                side: order_side,
                price: fill.price,
                qty: fill.qty,
                fee: fill.commission,
                fee_asset: asset(fill.commission_asset, "order reply fill")?,
                venue_trade_id: fill.trade_id,
                venue_order_id: ack.order_id,
                // Fills in the placement reply are the immediate match: the order took.
                is_maker: false,
                venue_ts_ms: ts,
            }))?;
        }
    }
    if matches!(ack.status, Some("EXPIRED" | "EXPIRED_IN_MATCH")) {
        tally.push(VenueReport::Expired {
            client_order_id: id,
            venue_ts_ms: ts,
        })?;
    }
    Ok(())
}

/// The report that states an order's current status (query answers). A partly or fully
/// filled order answers `Accepted`: its fills come from the trades query, which carries
/// the prices, quantities and fees the order object does not.
fn order_status_report(
    status: &str,
    id: ClientOrderId,
    venue_order_id: u64,
    ts: u64,
) -> Result<VenueReport, ParseError> {
    Ok(match status {
        "NEW" | "PENDING_NEW" | "PARTIALLY_FILLED" | "FILLED" => VenueReport::Accepted {
            client_order_id: id,
            venue_order_id,
            venue_ts_ms: ts,
        },
        "CANCELED" | "PENDING_CANCEL" => VenueReport::Canceled {
            client_order_id: id,
            venue_ts_ms: ts,
        },
        "EXPIRED" | "EXPIRED_IN_MATCH" => VenueReport::Expired {
            client_order_id: id,
            venue_ts_ms: ts,
        },
        "REJECTED" => VenueReport::Rejected {
            client_order_id: id,
            reject: VenueReject::default(),
        },
        other => return Err(unknown("order query", "status", other)),
    })
}

/// The report for an algo order's status (`None` for the in-between `TRIGGERING`,
/// and `FINISHED`, whose fills belong to the order it became).
pub(crate) fn algo_status_report(
    status: &str,
    id: ClientOrderId,
    algo_id: u64,
    ts: u64,
) -> Result<Option<VenueReport>, ParseError> {
    Ok(Some(match status {
        "NEW" => VenueReport::Accepted {
            client_order_id: id,
            venue_order_id: algo_id,
            venue_ts_ms: ts,
        },
        "CANCELED" => VenueReport::Canceled {
            client_order_id: id,
            venue_ts_ms: ts,
        },
        "TRIGGERED" => VenueReport::Triggered {
            client_order_id: id,
            venue_ts_ms: ts,
        },
        "EXPIRED" => VenueReport::Expired {
            client_order_id: id,
            venue_ts_ms: ts,
        },
        "REJECTED" => VenueReport::Rejected {
            client_order_id: id,
            reject: VenueReject::default(),
        },
        "TRIGGERING" | "FINISHED" => return Ok(None),
        other => return Err(unknown("algo order", "status", other)),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerTimeReply {
    server_time: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListenKeyReply<'a> {
    listen_key: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListenTokenReply<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    expiration_time: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeReply {
    subscription_id: u64,
}
