//! Owns: reading order-side request parameters the way Binance validates them: mandatory
//! parameters (-1102), enums (-1115/-1116/-1117), decimals and their precision (-1100,
//! -1111), parameters sent when not required (-1106), into the venue's new-order, OCO and
//! algo-order requests. Never: runs an operation or checks a signature.

use crate::core::decimal::{parse_raw, SCALE_DIGITS};
use crate::core::{Notional, Price, Qty, Side};

use super::auth::Params;
use super::exchange::{NewAlgo, NewOco, NewOrder, OcoLeg, OrderRef};
use super::order_side::OrderSide;
use super::orders::{AccountKind, OrderType, Reject, SideEffectType, Tif, WorkingType};
use super::shapes_spot::RespType;

pub(crate) fn illegal(name: &str, range: &str) -> Reject {
    Reject::new(
        -1100,
        format!("Illegal characters found in parameter '{name}'; legal range is '{range}'."),
    )
}

pub(crate) fn not_required(name: &str) -> Reject {
    Reject::new(-1106, format!("Parameter '{name}' sent when not required."))
}

/// A positive decimal parameter with at most `decimals` significant fraction digits.
pub(crate) fn decimal(params: &Params, name: &str, decimals: u32) -> Result<Option<i128>, Reject> {
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

pub(crate) fn side(params: &Params) -> Result<Side, Reject> {
    match params.required("side")? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(Reject::new(-1117, "Invalid side.")),
    }
}

pub(crate) fn order_type(params: &Params, name: &str, futures: bool) -> Result<OrderType, Reject> {
    OrderType::parse(params.required(name)?, futures)
        .ok_or_else(|| Reject::new(-1116, "Invalid orderType."))
}

pub(crate) fn tif(params: &Params, name: &str, futures: bool) -> Result<Option<Tif>, Reject> {
    params
        .get(name)
        .map(|t| Tif::parse(t, futures).ok_or_else(|| Reject::new(-1115, "Invalid timeInForce.")))
        .transpose()
}

pub(crate) fn flag(params: &Params, name: &str) -> Result<bool, Reject> {
    match params.get(name) {
        None => Ok(false),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(illegal(name, "true, false")),
    }
}

pub(crate) fn id_param(params: &Params, name: &str) -> Result<Option<u64>, Reject> {
    params
        .get(name)
        .map(|t| t.parse::<u64>().map_err(|_| illegal(name, "^[0-9]{1,20}$")))
        .transpose()
}

pub(crate) fn order_ref(
    params: &Params,
    id_name: &str,
    client_name: &str,
) -> Result<OrderRef, Reject> {
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
pub(crate) fn request_decimals(venue: &OrderSide, symbol: &str) -> Result<(u32, u32), Reject> {
    venue.with_exchange(|ex, _| {
        ex.rules(symbol)
            .map(|r| (r.instrument.price_decimals, r.instrument.qty_decimals))
            .ok_or_else(Reject::bad_symbol)
    })
}

pub(crate) fn price_of(raw: Option<i128>) -> Option<Price> {
    raw.map(Price::from_raw)
}

pub(crate) fn qty_of(raw: Option<i128>) -> Option<Qty> {
    raw.map(Qty::from_raw)
}

/// Reads a spot, margin or futures new-order request.
pub(crate) fn read_new_order(
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
    let side_effect = match account {
        AccountKind::Margin => {
            cross_margin(params)?;
            margin_side_effect(params)?
        }
        _ => SideEffectType::NoSideEffect,
    };
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

/// A margin order's `sideEffectType`.
fn margin_side_effect(params: &Params) -> Result<SideEffectType, Reject> {
    Ok(match params.get("sideEffectType") {
        None | Some("NO_SIDE_EFFECT") => SideEffectType::NoSideEffect,
        Some("MARGIN_BUY") => SideEffectType::MarginBuy,
        Some("AUTO_REPAY") => SideEffectType::AutoRepay,
        Some("AUTO_BORROW_REPAY") => SideEffectType::AutoBorrowRepay,
        Some(_) => {
            return Err(illegal(
                "sideEffectType",
                "NO_SIDE_EFFECT, MARGIN_BUY, AUTO_REPAY, AUTO_BORROW_REPAY",
            ))
        }
    })
}

/// Refuses a margin request for an isolated account: the simulator keeps only the cross
/// account. `isIsolated` is "TRUE"/"FALSE" on the order endpoints and a boolean on
/// `userListenToken`; either spelling is read.
pub(crate) fn cross_margin(params: &Params) -> Result<(), Reject> {
    if flag(params, "isIsolated")? {
        return Err(Reject::new(
            -11001,
            "Isolated margin account does not exist.",
        ));
    }
    Ok(())
}

/// Reads `POST /sapi/v1/margin/order/oco`, which keeps the legacy OCO parameters: a
/// `LIMIT_MAKER` at `price` (`limitClientOrderId`) and a stop at `stopPrice`
/// (`stopClientOrderId`; `STOP_LOSS_LIMIT` when `stopLimitPrice` is sent, which then needs
/// `stopLimitTimeInForce`), on the profit and loss sides of the market for `side`.
pub(crate) fn read_margin_oco(
    venue: &OrderSide,
    params: &Params,
    force_partial: bool,
) -> Result<NewOco, Reject> {
    cross_margin(params)?;
    let side_effect = margin_side_effect(params)?;
    let symbol = params.required("symbol")?.to_owned();
    let (price_decimals, qty_decimals) = request_decimals(venue, &symbol)?;
    let order_side = side(params)?;
    let qty = qty_of(decimal(params, "quantity", qty_decimals)?);
    let limit_price = price_of(decimal(params, "price", price_decimals)?);
    let stop_price = price_of(decimal(params, "stopPrice", price_decimals)?);
    let stop_limit = price_of(decimal(params, "stopLimitPrice", price_decimals)?);
    let stop_tif = tif(params, "stopLimitTimeInForce", false)?;
    let (Some(qty), Some(limit_price), Some(stop_price)) = (qty, limit_price, stop_price) else {
        for name in ["quantity", "price", "stopPrice"] {
            params.required(name)?;
        }
        return Err(Reject::bad_symbol());
    };
    match (stop_limit, stop_tif) {
        (Some(_), None) => {
            params.required("stopLimitTimeInForce")?;
        }
        (None, Some(_)) => return Err(not_required("stopLimitTimeInForce")),
        _ => {}
    }
    let limit_leg = OcoLeg {
        order_type: OrderType::LimitMaker,
        price: Some(limit_price),
        stop_price: None,
        time_in_force: None,
        client_order_id: params.get("limitClientOrderId").map(str::to_owned),
    };
    let stop_leg = OcoLeg {
        order_type: if stop_limit.is_some() {
            OrderType::StopLossLimit
        } else {
            OrderType::StopLoss
        },
        price: stop_limit,
        stop_price: Some(stop_price),
        time_in_force: stop_tif,
        client_order_id: params.get("stopClientOrderId").map(str::to_owned),
    };
    let (above, below) = match order_side {
        Side::Sell => (limit_leg, stop_leg),
        Side::Buy => (stop_leg, limit_leg),
    };
    Ok(NewOco {
        account: AccountKind::Margin,
        side_effect,
        side: order_side,
        qty,
        list_client_order_id: params.get("listClientOrderId").map(str::to_owned),
        above,
        below,
        force_partial,
        symbol,
    })
}

pub(crate) fn read_oco(
    venue: &OrderSide,
    params: &Params,
    force_partial: bool,
) -> Result<NewOco, Reject> {
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
        account: AccountKind::Spot,
        side_effect: SideEffectType::NoSideEffect,
        side: side(params)?,
        qty,
        list_client_order_id: params.get("listClientOrderId").map(str::to_owned),
        above: leg("above")?,
        below: leg("below")?,
        force_partial,
        symbol,
    })
}

pub(crate) fn read_algo(
    venue: &OrderSide,
    params: &Params,
    force_partial: bool,
) -> Result<NewAlgo, Reject> {
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
