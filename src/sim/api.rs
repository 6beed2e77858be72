//! Owns: the order-side operations REST and the WS API share: which path or method names
//! which operation, its request weight and security, reading its parameters the way
//! Binance validates them (mandatory, enums, precision), running it on the venue and
//! writing the venue's reply body. Never: reads sockets, checks signatures or applies
//! transport faults (`orders_http`, `ws_api` do).

use crate::core::decimal::{parse_raw, SCALE_DIGITS};
use crate::core::{Notional, Price, Qty, Side};

use super::auth::Params;
use super::config::Market;
use super::exchange::{AlgoRef, ListRef, NewAlgo, NewOco, NewOrder, OcoLeg, OrderRef};
use super::order_side::OrderSide;
use super::orders::{AccountKind, OrderType, Reject, SideEffectType, Tif, WorkingType};
use super::shapes_futures::{self, WalletFigures};
use super::shapes_spot::{self, RespType};
use super::user_stream::{futures_decimals, spot_decimals};

/// One order-side operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    NewOrder,
    CancelOrder,
    QueryOrder,
    OpenOrders,
    CancelOpenOrders,
    NewOco,
    CancelOrderList,
    Account,
    MyTrades,
    NewAlgo,
    CancelAlgo,
    QueryAlgo,
    OpenAlgos,
    CancelOpenAlgos,
    PositionRisk,
    ListenKeyStart,
    ListenKeyKeepAlive,
    ListenKeyClose,
}

/// An operation on one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub op: Op,
    pub account: AccountKind,
}

impl Endpoint {
    const fn of(op: Op, account: AccountKind) -> Option<Self> {
        Some(Self { op, account })
    }

    /// The operation a REST method and path name on `market`'s listener.
    pub fn rest(market: Market, method: &str, path: &str) -> Option<Self> {
        use AccountKind::{Futures, Margin, Spot};
        match (market, method, path) {
            (Market::Spot, "POST", "/api/v3/order") => Self::of(Op::NewOrder, Spot),
            (Market::Spot, "DELETE", "/api/v3/order") => Self::of(Op::CancelOrder, Spot),
            (Market::Spot, "GET", "/api/v3/order") => Self::of(Op::QueryOrder, Spot),
            (Market::Spot, "GET", "/api/v3/openOrders") => Self::of(Op::OpenOrders, Spot),
            (Market::Spot, "DELETE", "/api/v3/openOrders") => Self::of(Op::CancelOpenOrders, Spot),
            (Market::Spot, "POST", "/api/v3/orderList/oco") => Self::of(Op::NewOco, Spot),
            (Market::Spot, "DELETE", "/api/v3/orderList") => Self::of(Op::CancelOrderList, Spot),
            (Market::Spot, "GET", "/api/v3/account") => Self::of(Op::Account, Spot),
            (Market::Spot, "GET", "/api/v3/myTrades") => Self::of(Op::MyTrades, Spot),
            (Market::Spot, "POST", "/sapi/v1/margin/order") => Self::of(Op::NewOrder, Margin),
            (Market::Spot, "DELETE", "/sapi/v1/margin/order") => Self::of(Op::CancelOrder, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/order") => Self::of(Op::QueryOrder, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/openOrders") => Self::of(Op::OpenOrders, Margin),
            (Market::Spot, "DELETE", "/sapi/v1/margin/openOrders") => {
                Self::of(Op::CancelOpenOrders, Margin)
            }
            (Market::Spot, "GET", "/sapi/v1/margin/myTrades") => Self::of(Op::MyTrades, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/account") => Self::of(Op::Account, Margin),
            (Market::UsdmFutures, "POST", "/fapi/v1/order") => Self::of(Op::NewOrder, Futures),
            (Market::UsdmFutures, "DELETE", "/fapi/v1/order") => Self::of(Op::CancelOrder, Futures),
            (Market::UsdmFutures, "GET", "/fapi/v1/order") => Self::of(Op::QueryOrder, Futures),
            (Market::UsdmFutures, "GET", "/fapi/v1/openOrders") => {
                Self::of(Op::OpenOrders, Futures)
            }
            (Market::UsdmFutures, "DELETE", "/fapi/v1/allOpenOrders") => {
                Self::of(Op::CancelOpenOrders, Futures)
            }
            (Market::UsdmFutures, "GET", "/fapi/v1/userTrades") => Self::of(Op::MyTrades, Futures),
            (Market::UsdmFutures, "GET", "/fapi/v2/account" | "/fapi/v3/account") => {
                Self::of(Op::Account, Futures)
            }
            (Market::UsdmFutures, "GET", "/fapi/v2/positionRisk" | "/fapi/v3/positionRisk") => {
                Self::of(Op::PositionRisk, Futures)
            }
            (Market::UsdmFutures, "POST", "/fapi/v1/algoOrder") => Self::of(Op::NewAlgo, Futures),
            (Market::UsdmFutures, "DELETE", "/fapi/v1/algoOrder") => {
                Self::of(Op::CancelAlgo, Futures)
            }
            (Market::UsdmFutures, "GET", "/fapi/v1/algoOrder") => Self::of(Op::QueryAlgo, Futures),
            (Market::UsdmFutures, "GET", "/fapi/v1/openAlgoOrders") => {
                Self::of(Op::OpenAlgos, Futures)
            }
            (Market::UsdmFutures, "DELETE", "/fapi/v1/algoOpenOrders") => {
                Self::of(Op::CancelOpenAlgos, Futures)
            }
            (Market::UsdmFutures, "POST", "/fapi/v1/listenKey") => {
                Self::of(Op::ListenKeyStart, Futures)
            }
            (Market::UsdmFutures, "PUT", "/fapi/v1/listenKey") => {
                Self::of(Op::ListenKeyKeepAlive, Futures)
            }
            (Market::UsdmFutures, "DELETE", "/fapi/v1/listenKey") => {
                Self::of(Op::ListenKeyClose, Futures)
            }
            _ => None,
        }
    }

    /// Whether `path` is an order-side path on `market`'s listener (any method).
    pub fn serves_path(market: Market, path: &str) -> bool {
        ["GET", "POST", "PUT", "DELETE"]
            .iter()
            .any(|method| Self::rest(market, method, path).is_some())
    }

    /// The operation a WS API method names (any `vN/` prefix dropped).
    pub fn ws(market: Market, method: &str) -> Option<Self> {
        let account = match market {
            Market::Spot => AccountKind::Spot,
            Market::UsdmFutures => AccountKind::Futures,
        };
        let op = match (market, method) {
            (_, "order.place") => Op::NewOrder,
            (_, "order.cancel") => Op::CancelOrder,
            (_, "order.status") => Op::QueryOrder,
            (_, "openOrders.status") => Op::OpenOrders,
            (Market::Spot, "openOrders.cancelAll") => Op::CancelOpenOrders,
            (Market::Spot, "orderList.place.oco") => Op::NewOco,
            (Market::Spot, "orderList.cancel") => Op::CancelOrderList,
            (_, "account.status") => Op::Account,
            (Market::Spot, "myTrades") => Op::MyTrades,
            (Market::UsdmFutures, "account.position") => Op::PositionRisk,
            (Market::UsdmFutures, "algoOrder.place") => Op::NewAlgo,
            (Market::UsdmFutures, "algoOrder.cancel") => Op::CancelAlgo,
            (Market::UsdmFutures, "userDataStream.start") => Op::ListenKeyStart,
            (Market::UsdmFutures, "userDataStream.ping") => Op::ListenKeyKeepAlive,
            (Market::UsdmFutures, "userDataStream.stop") => Op::ListenKeyClose,
            _ => return None,
        };
        Some(Self { op, account })
    }

    /// Request weight, as Binance documents it for the endpoint.
    pub fn weight(&self, params: &Params) -> u32 {
        let futures = self.account == AccountKind::Futures;
        let has_symbol = params.get("symbol").is_some();
        match (self.op, futures) {
            (Op::NewOrder | Op::NewOco | Op::NewAlgo, false) => 1,
            (Op::NewOrder | Op::NewAlgo, true) => 0,
            (Op::QueryOrder, false) => 4,
            (Op::OpenOrders, false) if has_symbol => 6,
            (Op::OpenOrders, false) => 80,
            (Op::OpenOrders, true) if has_symbol => 1,
            (Op::OpenOrders, true) => 40,
            (Op::Account, false) => 20,
            (Op::Account | Op::PositionRisk | Op::MyTrades, true) => 5,
            (Op::MyTrades, false) if params.get("orderId").is_some() => 5,
            (Op::MyTrades, false) => 20,
            _ => 1,
        }
    }

    /// Whether the request needs a signature (else the API key alone: USER_STREAM).
    pub fn signed(&self) -> bool {
        !matches!(
            self.op,
            Op::ListenKeyStart | Op::ListenKeyKeepAlive | Op::ListenKeyClose
        )
    }

    /// Whether it places an order (order-count limits, ack faults, wire-to-wire).
    pub fn places_order(&self) -> bool {
        matches!(self.op, Op::NewOrder | Op::NewOco | Op::NewAlgo)
    }

    /// Whether it answers with an order acknowledgement (place or cancel): the replies
    /// the ack faults delay, lose or cut.
    pub fn acknowledges_order(&self) -> bool {
        self.places_order()
            || matches!(
                self.op,
                Op::CancelOrder | Op::CancelOpenOrders | Op::CancelOrderList | Op::CancelAlgo
            )
    }
}

fn illegal(name: &str, range: &str) -> Reject {
    Reject::new(
        -1100,
        format!("Illegal characters found in parameter '{name}'; legal range is '{range}'."),
    )
}

fn not_required(name: &str) -> Reject {
    Reject::new(-1106, format!("Parameter '{name}' sent when not required."))
}

/// A positive decimal parameter with at most `decimals` significant fraction digits.
fn decimal(params: &Params, name: &str, decimals: u32) -> Result<Option<i128>, Reject> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let raw = parse_raw(text.as_bytes())
        .ok()
        .filter(|raw| *raw >= 0)
        .ok_or_else(|| illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$"))?;
    let unit = 10i128.pow(SCALE_DIGITS.saturating_sub(decimals.min(SCALE_DIGITS)));
    if raw % unit != 0 {
        return Err(Reject::new(
            -1111,
            "Precision is over the maximum defined for this asset.",
        ));
    }
    Ok(Some(raw))
}

fn side(params: &Params) -> Result<Side, Reject> {
    match params.required("side")? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(Reject::new(-1117, "Invalid side.")),
    }
}

fn order_type(params: &Params, name: &str, futures: bool) -> Result<OrderType, Reject> {
    OrderType::parse(params.required(name)?, futures)
        .ok_or_else(|| Reject::new(-1116, "Invalid orderType."))
}

fn tif(params: &Params, name: &str, futures: bool) -> Result<Option<Tif>, Reject> {
    params
        .get(name)
        .map(|t| Tif::parse(t, futures).ok_or_else(|| Reject::new(-1115, "Invalid timeInForce.")))
        .transpose()
}

fn flag(params: &Params, name: &str) -> Result<bool, Reject> {
    match params.get(name) {
        None => Ok(false),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(illegal(name, "true, false")),
    }
}

fn id_param(params: &Params, name: &str) -> Result<Option<u64>, Reject> {
    params
        .get(name)
        .map(|t| t.parse::<u64>().map_err(|_| illegal(name, "^[0-9]{1,20}$")))
        .transpose()
}

fn order_ref(params: &Params, id_name: &str, client_name: &str) -> Result<OrderRef, Reject> {
    if let Some(id) = id_param(params, id_name)? {
        return Ok(OrderRef::Id(id));
    }
    match params.get(client_name) {
        Some(client) => Ok(OrderRef::Client(client.to_owned())),
        None => Err(Reject::new(
            -1102,
            format!("Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!"),
        )),
    }
}

/// The decimals requests and replies use for `symbol`: (price, quantity).
fn request_decimals(venue: &OrderSide, symbol: &str) -> Result<(u32, u32), Reject> {
    venue.with_exchange(|ex, _| {
        ex.rules(symbol)
            .map(|r| (r.instrument.price_decimals, r.instrument.qty_decimals))
            .ok_or_else(Reject::bad_symbol)
    })
}

fn price_of(raw: Option<i128>) -> Option<Price> {
    raw.map(Price::from_raw)
}

fn qty_of(raw: Option<i128>) -> Option<Qty> {
    raw.map(Qty::from_raw)
}

/// Reads a spot, margin or futures new-order request.
fn read_new_order(
    venue: &OrderSide,
    account: AccountKind,
    params: &Params,
    force_partial: bool,
) -> Result<(NewOrder, RespType), Reject> {
    let futures = account == AccountKind::Futures;
    let symbol = params.required("symbol")?.to_owned();
    let (price_decimals, qty_decimals) = request_decimals(venue, &symbol)?;
    let order_side = side(params)?;
    let order_type = order_type(params, "type", futures)?;
    let time_in_force = tif(params, "timeInForce", futures)?;
    let qty = qty_of(decimal(params, "quantity", qty_decimals)?);
    let quote_qty = decimal(params, "quoteOrderQty", price_decimals)?.map(Notional::from_raw);
    let price = price_of(decimal(params, "price", price_decimals)?);
    let stop_price = price_of(decimal(params, "stopPrice", price_decimals)?);
    let limit = order_type.has_limit_price();
    match (limit, price) {
        (true, None) => {
            params.required("price")?;
        }
        (false, Some(_)) if order_type != OrderType::LimitMaker => {
            return Err(not_required("price"))
        }
        _ => {}
    }
    let needs_tif = limit && order_type != OrderType::LimitMaker;
    match (needs_tif, time_in_force) {
        (true, None) => {
            params.required("timeInForce")?;
        }
        (false, Some(_)) if order_type != OrderType::LimitMaker => {
            return Err(Reject::new(
                -1114,
                "TimeInForce parameter sent when not required.",
            ))
        }
        _ => {}
    }
    let conditional = order_type.trigger().is_some();
    match (conditional, stop_price) {
        (true, None) if params.get("trailingDelta").is_some() => {
            return Err(Reject::order_rejected(
                "Trailing stop orders are not supported for this symbol.",
            ))
        }
        (true, None) => {
            params.required("stopPrice")?;
        }
        (false, Some(_)) => return Err(not_required("stopPrice")),
        _ => {}
    }
    match (order_type, qty, quote_qty) {
        (OrderType::Market, None, None) if !futures => {
            return Err(Reject::new(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            ))
        }
        (OrderType::Market, Some(_), Some(_)) => return Err(not_required("quoteOrderQty")),
        (OrderType::Market, None, Some(_)) if !futures => {}
        (_, None, _) => {
            params.required("quantity")?;
        }
        (_, Some(_), Some(_)) => return Err(not_required("quoteOrderQty")),
        _ => {}
    }
    if decimal(params, "icebergQty", qty_decimals)?.is_some_and(|q| q > 0) {
        return Err(Reject::order_rejected(
            "Iceberg orders are not supported for this symbol.",
        ));
    }
    let side_effect = match (account, params.get("sideEffectType")) {
        (AccountKind::Margin, None | Some("NO_SIDE_EFFECT")) => SideEffectType::NoSideEffect,
        (AccountKind::Margin, Some("MARGIN_BUY")) => SideEffectType::MarginBuy,
        (AccountKind::Margin, Some("AUTO_REPAY")) => SideEffectType::AutoRepay,
        (AccountKind::Margin, Some("AUTO_BORROW_REPAY")) => SideEffectType::AutoBorrowRepay,
        (AccountKind::Margin, Some(_)) => {
            return Err(illegal(
                "sideEffectType",
                "NO_SIDE_EFFECT, MARGIN_BUY, AUTO_REPAY, AUTO_BORROW_REPAY",
            ))
        }
        _ => SideEffectType::NoSideEffect,
    };
    if account == AccountKind::Margin
        && params
            .get("isIsolated")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
    {
        return Err(Reject::new(
            -11001,
            "Isolated margin account does not exist.",
        ));
    }
    if futures && params.get("positionSide").is_some_and(|p| p != "BOTH") {
        return Err(Reject::new(
            -4061,
            "Order's position side does not match user's setting.",
        ));
    }
    let resp = match params.get("newOrderRespType") {
        None if futures => RespType::Ack,
        None if matches!(order_type, OrderType::Market | OrderType::Limit) => RespType::Full,
        None => RespType::Ack,
        Some("ACK") => RespType::Ack,
        Some("RESULT") => RespType::Result,
        Some("FULL") if !futures => RespType::Full,
        Some(_) => return Err(illegal("newOrderRespType", "ACK, RESULT, FULL")),
    };
    let request = NewOrder {
        account,
        symbol,
        side: order_side,
        order_type,
        time_in_force,
        qty,
        quote_qty,
        price,
        stop_price,
        client_order_id: params.get("newClientOrderId").map(str::to_owned),
        reduce_only: futures && flag(params, "reduceOnly")?,
        side_effect,
        force_partial,
        algo_id: None,
    };
    Ok((request, resp))
}

fn read_oco(venue: &OrderSide, params: &Params, force_partial: bool) -> Result<NewOco, Reject> {
    let symbol = params.required("symbol")?.to_owned();
    let (price_decimals, qty_decimals) = request_decimals(venue, &symbol)?;
    let leg = |prefix: &str| -> Result<OcoLeg, Reject> {
        let name = |field: &str| format!("{prefix}{field}");
        let order_type = order_type(params, &name("Type"), false)?;
        let price = price_of(decimal(params, &name("Price"), price_decimals)?);
        let stop_price = price_of(decimal(params, &name("StopPrice"), price_decimals)?);
        if order_type.has_limit_price() && price.is_none() {
            params.required(&name("Price"))?;
        }
        if order_type.trigger().is_some() && stop_price.is_none() {
            params.required(&name("StopPrice"))?;
        }
        let time_in_force = tif(params, &name("TimeInForce"), false)?;
        let needs_tif = order_type.has_limit_price() && order_type != OrderType::LimitMaker;
        if needs_tif && time_in_force.is_none() {
            params.required(&name("TimeInForce"))?;
        }
        Ok(OcoLeg {
            order_type,
            price,
            stop_price,
            time_in_force,
            client_order_id: params.get(&name("ClientOrderId")).map(str::to_owned),
        })
    };
    let qty = qty_of(decimal(params, "quantity", qty_decimals)?).ok_or_else(|| {
        params
            .required("quantity")
            .err()
            .unwrap_or_else(Reject::bad_symbol)
    })?;
    Ok(NewOco {
        side: side(params)?,
        qty,
        list_client_order_id: params.get("listClientOrderId").map(str::to_owned),
        above: leg("above")?,
        below: leg("below")?,
        force_partial,
        symbol,
    })
}

fn read_algo(venue: &OrderSide, params: &Params, force_partial: bool) -> Result<NewAlgo, Reject> {
    match params.required("algoType")? {
        "CONDITIONAL" => {}
        _ => return Err(illegal("algoType", "CONDITIONAL")),
    }
    let symbol = params.required("symbol")?.to_owned();
    let (price_decimals, qty_decimals) = request_decimals(venue, &symbol)?;
    let order_type = order_type(params, "type", true)?;
    let close_position = flag(params, "closePosition")?;
    let qty = qty_of(decimal(params, "quantity", qty_decimals)?);
    match (close_position, qty) {
        (true, Some(_)) => return Err(not_required("quantity")),
        (false, None) => {
            params.required("quantity")?;
        }
        _ => {}
    }
    let price = price_of(decimal(params, "price", price_decimals)?);
    if order_type.has_limit_price() && price.is_none() {
        params.required("price")?;
    }
    let trigger_price =
        price_of(decimal(params, "triggerPrice", price_decimals)?).ok_or_else(|| {
            params
                .required("triggerPrice")
                .err()
                .unwrap_or_else(Reject::bad_symbol)
        })?;
    let working_type = match params.get("workingType") {
        None | Some("CONTRACT_PRICE") => WorkingType::ContractPrice,
        Some("MARK_PRICE") => WorkingType::MarkPrice,
        Some(_) => return Err(illegal("workingType", "MARK_PRICE, CONTRACT_PRICE")),
    };
    if params.get("positionSide").is_some_and(|p| p != "BOTH") {
        return Err(Reject::new(
            -4061,
            "Order's position side does not match user's setting.",
        ));
    }
    Ok(NewAlgo {
        side: side(params)?,
        order_type,
        time_in_force: tif(params, "timeInForce", true)?,
        qty,
        price,
        trigger_price,
        working_type,
        close_position,
        price_protect: flag(params, "priceProtect")?,
        reduce_only: flag(params, "reduceOnly")?,
        client_algo_id: params.get("clientAlgoId").map(str::to_owned),
        force_partial,
        symbol,
    })
}

/// Runs one signed (or key-only) operation and returns the reply body.
pub(crate) fn execute(
    venue: &OrderSide,
    endpoint: Endpoint,
    params: &Params,
    force_partial: bool,
) -> Result<String, Reject> {
    let now = venue.now_ms();
    let account = endpoint.account;
    let margin = account == AccountKind::Margin;
    match endpoint.op {
        Op::NewOrder => {
            let (request, resp) = read_new_order(venue, account, params, force_partial)?;
            venue.with_exchange(|ex, books| {
                let placed = ex.place(request, books, now)?;
                Ok(if account == AccountKind::Futures {
                    let d = futures_decimals(ex)(&placed.order.symbol);
                    let shown = if resp == RespType::Ack {
                        &placed.ack
                    } else {
                        &placed.order
                    };
                    shapes_futures::order(shown, d)
                } else {
                    let d = spot_decimals(ex)(&placed.order.symbol);
                    shapes_spot::new_order(
                        &placed.order,
                        &placed.ack,
                        &placed.fills,
                        resp,
                        d,
                        now,
                        margin,
                    )
                })
            })
        }
        Op::CancelOrder => {
            let symbol = params.required("symbol")?.to_owned();
            let by = order_ref(params, "orderId", "origClientOrderId")?;
            let cancel_id = params.get("newClientOrderId").map(str::to_owned);
            venue.with_exchange(|ex, _| {
                let order = ex.cancel(account, &symbol, &by, cancel_id.clone(), now)?;
                Ok(if account == AccountKind::Futures {
                    shapes_futures::order(&order, futures_decimals(ex)(&symbol))
                } else {
                    let cancel_id = cancel_id
                        .unwrap_or_else(|| super::exchange::generated_id(order.order_id ^ now));
                    shapes_spot::cancel(&order, &cancel_id, spot_decimals(ex)(&symbol), now, margin)
                })
            })
        }
        Op::QueryOrder => {
            let symbol = params.required("symbol")?.to_owned();
            let by = order_ref(params, "orderId", "origClientOrderId")?;
            venue.with_exchange(|ex, _| {
                let order = ex.query(account, &symbol, &by)?;
                Ok(if account == AccountKind::Futures {
                    shapes_futures::order(&order, futures_decimals(ex)(&symbol))
                } else {
                    shapes_spot::order_query(&order, spot_decimals(ex)(&symbol), margin)
                })
            })
        }
        Op::OpenOrders => {
            let symbol = params.get("symbol").map(str::to_owned);
            venue.with_exchange(|ex, _| {
                if let Some(s) = &symbol {
                    ex.rules(s).ok_or_else(Reject::bad_symbol)?;
                }
                let orders = ex.open_orders(account, symbol.as_deref());
                Ok(if account == AccountKind::Futures {
                    shapes_futures::orders(&orders, &futures_decimals(ex))
                } else {
                    shapes_spot::order_queries(&orders, &spot_decimals(ex), margin)
                })
            })
        }
        Op::CancelOpenOrders => {
            let symbol = params.required("symbol")?.to_owned();
            venue.with_exchange(|ex, _| {
                ex.rules(&symbol).ok_or_else(Reject::bad_symbol)?;
                let canceled = ex.cancel_all(account, &symbol, now);
                if account == AccountKind::Futures {
                    return Ok("{\"code\":200,\"msg\":\"The operation of cancel all open order is done.\"}".to_owned());
                }
                if canceled.is_empty() {
                    return Err(Reject::unknown_order());
                }
                let d = spot_decimals(ex)(&symbol);
                Ok(super::json_out::array(|a| {
                    for order in &canceled {
                        let cancel_id = super::exchange::generated_id(order.order_id ^ now);
                        a.raw(&shapes_spot::cancel(order, &cancel_id, d, now, margin));
                    }
                }))
            })
        }
        Op::NewOco => {
            let request = read_oco(venue, params, force_partial)?;
            venue.with_exchange(|ex, books| {
                let symbol = request.symbol.clone();
                let (list, orders) = ex.place_oco(request, books, now)?;
                Ok(shapes_spot::order_list(
                    &list,
                    &orders,
                    spot_decimals(ex)(&symbol),
                    now,
                    None,
                ))
            })
        }
        Op::CancelOrderList => {
            let symbol = params.required("symbol")?.to_owned();
            let by = match (params.get("orderListId"), params.get("listClientOrderId")) {
                (Some(id), _) => ListRef::Id(id.parse().map_err(|_| illegal("orderListId", "^[0-9]{1,20}$"))?),
                (None, Some(client)) => ListRef::Client(client.to_owned()),
                (None, None) => {
                    return Err(Reject::new(
                        -1102,
                        "Param 'listClientOrderId' or 'orderListId' must be sent, but both were empty/null!",
                    ))
                }
            };
            let cancel_id = params
                .get("newClientOrderId")
                .map_or_else(|| super::exchange::generated_id(now), str::to_owned);
            venue.with_exchange(|ex, _| {
                let (list, orders) = ex.cancel_list(&symbol, &by, Some(cancel_id.clone()), now)?;
                Ok(shapes_spot::order_list(
                    &list,
                    &orders,
                    spot_decimals(ex)(&symbol),
                    now,
                    Some(&cancel_id),
                ))
            })
        }
        Op::Account => venue.with_exchange(|ex, _| {
            Ok(match account {
                AccountKind::Spot => {
                    let (maker, taker) = ex.fee_rates(AccountKind::Spot);
                    let omit_zero = flag(params, "omitZeroBalances")?;
                    shapes_spot::account(
                        &ex.balances(AccountKind::Spot),
                        maker,
                        taker,
                        now,
                        omit_zero,
                    )
                }
                AccountKind::Margin => {
                    let to_btc = |asset: &str, amount: Qty| -> Qty {
                        if asset == "BTC" {
                            return amount;
                        }
                        let mark = ex.mark_price(&format!("BTC{asset}"));
                        if mark.is_positive() {
                            Qty::from_raw(super::account::div_raw(amount.raw(), mark.raw()))
                        } else {
                            Qty::ZERO
                        }
                    };
                    shapes_spot::margin_account(&ex.balances(AccountKind::Margin), &to_btc)
                }
                AccountKind::Futures => futures_account(ex, now),
            })
        }),
        Op::MyTrades => {
            let symbol = params.required("symbol")?.to_owned();
            let order_id = id_param(params, "orderId")?;
            let from_id = id_param(params, "fromId")?;
            let limit = id_param(params, "limit")?.unwrap_or(500).clamp(1, 1000) as usize;
            venue.with_exchange(|ex, _| {
                ex.rules(&symbol).ok_or_else(Reject::bad_symbol)?;
                let trades = ex.trades(account, &symbol, order_id, from_id, limit);
                Ok(if account == AccountKind::Futures {
                    shapes_futures::user_trades(&trades, &futures_decimals(ex))
                } else {
                    shapes_spot::my_trades(&trades, &spot_decimals(ex), margin)
                })
            })
        }
        Op::NewAlgo => {
            let request = read_algo(venue, params, force_partial)?;
            venue.with_exchange(|ex, books| {
                let algo = ex.place_algo(request, books, now)?;
                Ok(shapes_futures::algo_order(
                    &algo,
                    futures_decimals(ex)(&algo.symbol),
                ))
            })
        }
        Op::CancelAlgo | Op::QueryAlgo => {
            let by =
                match (id_param(params, "algoId")?, params.get("clientAlgoId")) {
                    (Some(id), _) => AlgoRef::Id(id),
                    (None, Some(client)) => AlgoRef::Client(client.to_owned()),
                    (None, None) => return Err(Reject::new(
                        -1102,
                        "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!",
                    )),
                };
            venue.with_exchange(|ex, _| {
                if endpoint.op == Op::CancelAlgo {
                    let algo = ex.cancel_algo(&by, now)?;
                    Ok(shapes_futures::algo_canceled(&algo))
                } else {
                    let algo = ex.query_algo(&by)?;
                    Ok(shapes_futures::algo_order(
                        &algo,
                        futures_decimals(ex)(&algo.symbol),
                    ))
                }
            })
        }
        Op::OpenAlgos => {
            let symbol = params.get("symbol").map(str::to_owned);
            venue.with_exchange(|ex, _| {
                Ok(shapes_futures::algo_orders(
                    &ex.open_algos(symbol.as_deref()),
                    &futures_decimals(ex),
                ))
            })
        }
        Op::CancelOpenAlgos => {
            let symbol = params.required("symbol")?.to_owned();
            venue.with_exchange(|ex, _| {
                ex.rules(&symbol).ok_or_else(Reject::bad_symbol)?;
                ex.cancel_all_algos(&symbol, now);
                Ok(
                    "{\"code\":200,\"msg\":\"The operation of cancel all open order is done.\"}"
                        .to_owned(),
                )
            })
        }
        Op::PositionRisk => {
            let symbol = params.get("symbol").map(str::to_owned);
            venue.with_exchange(|ex, _| {
                let symbols = match &symbol {
                    Some(s) => {
                        ex.rules(s).ok_or_else(Reject::bad_symbol)?;
                        vec![s.clone()]
                    }
                    None => ex.symbols(),
                };
                let mark = |s: &str| ex.mark_price(s);
                Ok(shapes_futures::position_risk(
                    &ex.positions(),
                    &symbols,
                    ex.leverage(),
                    &mark,
                ))
            })
        }
        Op::ListenKeyStart => Ok(listen_key_body(&venue.users.start_listen_key(now))),
        Op::ListenKeyKeepAlive => venue
            .users
            .keep_alive(now)
            .map(|key| listen_key_body(&key))
            .ok_or_else(|| Reject::new(-1125, "This listenKey does not exist.")),
        Op::ListenKeyClose => {
            venue.users.close_listen_key();
            Ok("{}".to_owned())
        }
    }
}

fn listen_key_body(key: &str) -> String {
    super::json_out::object(|o| {
        o.str("listenKey", key);
    })
}

fn futures_account(ex: &super::exchange::Exchange, now: u64) -> String {
    let positions = ex.positions();
    let unrealized = positions
        .iter()
        .fold(Notional::ZERO, |s, p| s.saturating_add(p.unrealized_pnl));
    let wallets: Vec<WalletFigures> = ex
        .futures_wallets()
        .into_iter()
        .map(|(asset, wallet)| WalletFigures {
            asset,
            wallet,
            unrealized,
            position_margin: ex.position_margin(),
            order_margin: ex.open_order_margin(),
            update_ms: now,
        })
        .collect();
    shapes_futures::account(&wallets, &positions, &ex.symbols(), ex.leverage())
}
