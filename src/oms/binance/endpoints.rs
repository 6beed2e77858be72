//! Owns: which Binance endpoint each request goes to (spot `/api/v3`, margin `/sapi/v1/margin`,
//! USDⓈ-M `/fapi`, and their WebSocket API methods) and the exact params it carries, after the
//! local filter check. Never: frames, signs or sends; never lets an order past a failed filter.
//!
//! Param sets follow protocols.md §1.3–1.5 and §2.4. Futures orders assume one-way position
//! mode, so `positionSide` is left at the venue default `BOTH`.

use super::management_endpoints::{account, order_ref, scoped, Action};
use super::params::{Param, ParamSet};
use super::request::{
    BuildError, CodecConfig, HttpMethod, ListenKeyAction, OrderRoute, Request, RequestCost,
    Transport, RECONCILE_PAGE,
};
use super::symbols::{InstrumentFamily, OrderSymbol, OrderSymbols};
use crate::core::{Market, OrderType, Price, Side, TimeInForce};
use crate::oms::venue::{MarginParams, MarginSideEffect, OcoOrder, VenueOrder};

/// How a request is authenticated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Signing {
    /// `timestamp` + HMAC-SHA256 `signature` (TRADE / USER_DATA).
    Hmac,
    /// `timestamp` + Ed25519 `signature` (`session.logon`).
    Ed25519,
    /// The `X-MBX-APIKEY` header only (USER_STREAM).
    ApiKeyOnly,
    /// Public.
    None,
}

/// Where a request goes and what it costs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Endpoint {
    /// Short name for errors.
    pub what: &'static str,
    pub market: Market,
    pub method: HttpMethod,
    /// REST path; `None` when only the WebSocket API has the request.
    pub rest_path: Option<&'static str>,
    /// WebSocket API method; `None` when only REST has the request.
    pub ws_method: Option<&'static str>,
    pub signing: Signing,
    pub cost: RequestCost,
}

pub(super) const fn endpoint(
    what: &'static str,
    market: Market,
    method: HttpMethod,
    rest_path: &'static str,
    ws_method: Option<&'static str>,
    weight: u32,
    orders: u32,
) -> Endpoint {
    Endpoint {
        what,
        market,
        method,
        rest_path: Some(rest_path),
        ws_method,
        signing: Signing::Hmac,
        cost: RequestCost { weight, orders },
    }
}

/// Fills `params` for `request` and says where it goes.
pub(crate) fn fill_params(
    params: &mut ParamSet,
    symbols: &OrderSymbols,
    config: &CodecConfig,
    request: &Request<'_>,
    transport: Transport,
) -> Result<Endpoint, BuildError> {
    let family_market = match symbols.family() {
        InstrumentFamily::Spot => Market::Spot,
        InstrumentFamily::UsdmFutures => Market::UsdmFutures,
    };
    match *request {
        Request::Place {
            order,
            reference_price,
        } => place(params, symbols, config, order, reference_price),
        Request::PlaceOco {
            oco,
            reference_price,
        } => place_oco(params, symbols, config, oco, reference_price),
        Request::Cancel {
            scope,
            client_order_id,
            route,
        } => {
            let endpoint = scoped(params, symbols, scope, route, Action::Cancel)?;
            order_ref(params, scope.market, route, client_order_id)?;
            Ok(endpoint)
        }
        Request::QueryOrder {
            scope,
            client_order_id,
            route,
        } => {
            let endpoint = scoped(params, symbols, scope, route, Action::Query)?;
            order_ref(params, scope.market, route, client_order_id)?;
            Ok(endpoint)
        }
        Request::CancelAll { scope, route } => {
            scoped(params, symbols, scope, route, Action::CancelAll)
        }
        Request::OpenOrders { scope, route } => {
            scoped(params, symbols, scope, route, Action::OpenOrders)
        }
        Request::Trades {
            scope,
            since_trade_id,
        } => {
            let endpoint = scoped(params, symbols, scope, OrderRoute::Book, Action::Trades)?;
            params.integer(Param::FromId, since_trade_id.saturating_add(1))?;
            params.integer(Param::Limit, RECONCILE_PAGE)?;
            Ok(endpoint)
        }
        Request::AllOrders {
            scope,
            from_order_id,
        } => {
            let endpoint = scoped(params, symbols, scope, OrderRoute::Book, Action::AllOrders)?;
            params.integer(Param::OrderId, from_order_id)?;
            params.integer(Param::Limit, RECONCILE_PAGE)?;
            Ok(endpoint)
        }
        Request::Account { scope } => account(params, symbols, scope),
        Request::Positions { symbol } => {
            if symbols.family() != InstrumentFamily::UsdmFutures {
                return Err(BuildError::Unsupported {
                    what: "positionRisk",
                    market: family_market,
                });
            }
            if let Some(id) = symbol {
                let entry = symbols.get(id).ok_or(BuildError::UnknownSymbol(id))?;
                params.trusted_text(Param::Symbol, entry.name.as_str())?;
            }
            Ok(endpoint(
                "positionRisk",
                Market::UsdmFutures,
                HttpMethod::Get,
                "/fapi/v2/positionRisk",
                None,
                5,
                0,
            ))
        }
        Request::ServerTime => {
            let path = match family_market {
                Market::UsdmFutures => "/fapi/v1/time",
                Market::Spot | Market::Margin => "/api/v3/time",
            };
            Ok(Endpoint {
                signing: Signing::None,
                ..endpoint(
                    "time",
                    family_market,
                    HttpMethod::Get,
                    path,
                    Some("time"),
                    1,
                    0,
                )
            })
        }
        Request::ListenKey(action) => {
            if family_market != Market::UsdmFutures {
                // Spot listenKeys were retired on 2026-02-20 (protocols.md §2.3).
                return Err(BuildError::Unsupported {
                    what: "listenKey",
                    market: family_market,
                });
            }
            let method = match action {
                ListenKeyAction::Open => HttpMethod::Post,
                ListenKeyAction::KeepAlive => HttpMethod::Put,
                ListenKeyAction::Close => HttpMethod::Delete,
            };
            Ok(Endpoint {
                signing: Signing::ApiKeyOnly,
                ..endpoint(
                    "listenKey",
                    Market::UsdmFutures,
                    method,
                    "/fapi/v1/listenKey",
                    None,
                    1,
                    0,
                )
            })
        }
        Request::SubscribeUserData { after_logon } => {
            // Logged-on sessions subscribe bare; otherwise the request carries a signature.
            let method = if after_logon {
                "userDataStream.subscribe"
            } else {
                "userDataStream.subscribe.signature"
            };
            if family_market != Market::Spot {
                return Err(BuildError::Unsupported {
                    what: method,
                    market: family_market,
                });
            }
            if transport != Transport::WsApi {
                return Err(BuildError::WsOnly(method));
            }
            Ok(Endpoint {
                rest_path: None,
                signing: if after_logon {
                    Signing::None
                } else {
                    Signing::Hmac
                },
                ..endpoint(
                    method,
                    Market::Spot,
                    HttpMethod::Get,
                    "",
                    Some(method),
                    2,
                    0,
                )
            })
        }
        Request::MarginListenToken {
            isolated_symbol,
            validity_ms,
        } => {
            if family_market != Market::Spot {
                return Err(BuildError::Unsupported {
                    what: "userListenToken",
                    market: family_market,
                });
            }
            // `isIsolated` is a BOOLEAN here (`true`), not the "TRUE" string of the margin
            // order endpoints; cross is the default and goes without it.
            if let Some(id) = isolated_symbol {
                let entry = symbols.get(id).ok_or(BuildError::UnknownSymbol(id))?;
                params.trusted_text(Param::IsIsolated, "true")?;
                params.trusted_text(Param::Symbol, entry.name.as_str())?;
            }
            if validity_ms > 0 {
                params.integer(Param::Validity, validity_ms)?;
            }
            Ok(endpoint(
                "userListenToken",
                Market::Margin,
                HttpMethod::Post,
                "/sapi/v1/userListenToken",
                None,
                1,
                0,
            ))
        }
        Request::SubscribeListenToken { listen_token } => {
            const METHOD: &str = "userDataStream.subscribe.listenToken";
            if family_market != Market::Spot {
                return Err(BuildError::Unsupported {
                    what: METHOD,
                    market: family_market,
                });
            }
            if transport != Transport::WsApi {
                return Err(BuildError::WsOnly(METHOD));
            }
            params.token(Param::ListenToken, listen_token)?;
            Ok(Endpoint {
                rest_path: None,
                signing: Signing::None,
                ..endpoint(
                    METHOD,
                    Market::Margin,
                    HttpMethod::Get,
                    "",
                    Some(METHOD),
                    2,
                    0,
                )
            })
        }
        Request::Logon => Ok(Endpoint {
            rest_path: None,
            signing: Signing::Ed25519,
            ..endpoint(
                "session.logon",
                family_market,
                HttpMethod::Get,
                "",
                Some("session.logon"),
                2,
                0,
            )
        }),
    }
}

pub(super) fn symbol_for(
    symbols: &OrderSymbols,
    id: crate::core::SymbolId,
    market: Market,
) -> Result<&OrderSymbol, BuildError> {
    if !symbols.family().serves(market) {
        return Err(BuildError::WrongMarket {
            market,
            family: symbols.family(),
        });
    }
    symbols.get(id).ok_or(BuildError::UnknownSymbol(id))
}

pub(super) fn is_isolated_text(isolated: bool) -> &'static str {
    if isolated {
        "TRUE"
    } else {
        "FALSE"
    }
}

/// `sideEffectType`, with `AUTO_BORROW_REPAY` replaced by its pair where it is retired.
fn side_effect(margin: &MarginParams, reduce_only: bool, config: &CodecConfig) -> &'static str {
    match margin.side_effect {
        MarginSideEffect::NoSideEffect => "NO_SIDE_EFFECT",
        MarginSideEffect::MarginBuy => "MARGIN_BUY",
        MarginSideEffect::AutoRepay => "AUTO_REPAY",
        MarginSideEffect::AutoBorrowRepay if config.auto_borrow_repay => "AUTO_BORROW_REPAY",
        MarginSideEffect::AutoBorrowRepay if reduce_only => "AUTO_REPAY",
        MarginSideEffect::AutoBorrowRepay => "MARGIN_BUY",
    }
}

/// Runs the instrument's filters the way the venue will: limit orders at their price,
/// market orders at the reference price, and a stop's trigger on the tick grid.
fn check_filters(
    entry: &OrderSymbol,
    order: &VenueOrder,
    reference_price: Price,
) -> Result<(), BuildError> {
    let inst = &entry.instrument;
    let reject = |reject| BuildError::Filter {
        client_order_id: order.client_order_id,
        reject,
    };
    match order.order_type {
        OrderType::Limit | OrderType::LimitMaker => inst
            .check_order(false, order.side, order.price, order.qty, reference_price)
            .map_err(reject),
        OrderType::Market => inst
            .check_order(true, order.side, Price::ZERO, order.qty, reference_price)
            .map_err(reject),
        OrderType::StopMarket | OrderType::TakeProfitMarket => {
            if is_book_stop_limit(order) {
                // Once triggered it is a limit at its price: the band applies to that.
                inst.check_order(false, order.side, order.price, order.qty, reference_price)
                    .map_err(reject)?;
            } else {
                inst.check_order(true, order.side, Price::ZERO, order.qty, reference_price)
                    .map_err(reject)?;
            }
            // The trigger must sit on the tick grid; the band does not apply to it.
            inst.check_order(
                false,
                order.side,
                order.trigger_price,
                order.qty,
                Price::ZERO,
            )
            .map_err(reject)
        }
    }
}

fn place(
    params: &mut ParamSet,
    symbols: &OrderSymbols,
    config: &CodecConfig,
    order: &VenueOrder,
    reference_price: Price,
) -> Result<Endpoint, BuildError> {
    let entry = symbol_for(symbols, order.symbol, order.market)?;
    let bad = |reason| BuildError::BadOrder {
        client_order_id: order.client_order_id,
        reason,
    };
    match order.order_type {
        OrderType::Limit | OrderType::LimitMaker if !order.price.is_positive() => {
            return Err(bad("a limit order needs a positive price"))
        }
        OrderType::StopMarket | OrderType::TakeProfitMarket
            if !order.trigger_price.is_positive() =>
        {
            return Err(bad("a stop or take-profit needs a positive trigger price"))
        }
        _ => {}
    }
    check_filters(entry, order, reference_price)?;
    let inst = &entry.instrument;
    let (price_decimals, qty_decimals) = (inst.price_decimals, inst.qty_decimals);
    params.trusted_text(Param::Symbol, entry.name.as_str())?;
    params.trusted_text(Param::Side, order.side.as_str())?;
    params.decimal(Param::Quantity, order.qty.raw(), qty_decimals)?;
    let route = OrderRoute::of(order);
    if route == OrderRoute::Algo {
        params.trusted_text(Param::AlgoType, "CONDITIONAL")?;
        params.trusted_text(Param::Type, order.order_type.as_str())?;
        params.decimal(
            Param::TriggerPrice,
            order.trigger_price.raw(),
            price_decimals,
        )?;
        params.trusted_text(Param::WorkingType, config.trigger_price_source.as_str())?;
        params.client_id(Param::ClientAlgoId, order.client_order_id)?;
        if order.reduce_only {
            params.trusted_text(Param::ReduceOnly, "true")?;
        }
        return Ok(endpoint(
            "algoOrder",
            Market::UsdmFutures,
            HttpMethod::Post,
            "/fapi/v1/algoOrder",
            Some("algoOrder.place"),
            0,
            1,
        ));
    }
    params.client_id(Param::NewClientOrderId, order.client_order_id)?;
    params.trusted_text(
        Param::NewOrderRespType,
        config.response_type.as_str(order.market),
    )?;
    if is_book_stop_limit(order) {
        let kind = match order.order_type {
            OrderType::TakeProfitMarket => "TAKE_PROFIT_LIMIT",
            _ => "STOP_LOSS_LIMIT",
        };
        params.trusted_text(Param::Type, kind)?;
        params.trusted_text(Param::TimeInForce, order.time_in_force.as_str())?;
        params.decimal(Param::Price, order.price.raw(), price_decimals)?;
        params.decimal(Param::StopPrice, order.trigger_price.raw(), price_decimals)?;
        return book_endpoint(params, config, order);
    }
    params.trusted_text(Param::Type, book_order_type(order.market, order.order_type))?;
    match order.order_type {
        OrderType::Market => {}
        OrderType::Limit => {
            params.trusted_text(Param::TimeInForce, order.time_in_force.as_str())?;
            params.decimal(Param::Price, order.price.raw(), price_decimals)?;
        }
        OrderType::LimitMaker if order.market == Market::UsdmFutures => {
            params.trusted_text(Param::TimeInForce, "GTX")?;
            params.decimal(Param::Price, order.price.raw(), price_decimals)?;
        }
        OrderType::LimitMaker => {
            params.decimal(Param::Price, order.price.raw(), price_decimals)?;
        }
        OrderType::StopMarket | OrderType::TakeProfitMarket => {
            params.decimal(Param::StopPrice, order.trigger_price.raw(), price_decimals)?;
        }
    }
    book_endpoint(params, config, order)
}

/// A spot or margin stop / take-profit with a limit price: `STOP_LOSS_LIMIT` /
/// `TAKE_PROFIT_LIMIT` (its REST prefix differs from the stop-market's).
pub(crate) fn is_book_stop_limit(order: &VenueOrder) -> bool {
    order.market != Market::UsdmFutures
        && matches!(
            order.order_type,
            OrderType::StopMarket | OrderType::TakeProfitMarket
        )
        && order.price.is_positive()
}

/// Where a book placement goes (margin adds its account params).
fn book_endpoint(
    params: &mut ParamSet,
    config: &CodecConfig,
    order: &VenueOrder,
) -> Result<Endpoint, BuildError> {
    Ok(match order.market {
        Market::Spot => endpoint(
            "order",
            Market::Spot,
            HttpMethod::Post,
            "/api/v3/order",
            Some("order.place"),
            1,
            1,
        ),
        Market::Margin => {
            params.trusted_text(Param::IsIsolated, is_isolated_text(order.margin.isolated))?;
            params.trusted_text(
                Param::SideEffectType,
                side_effect(&order.margin, order.reduce_only, config),
            )?;
            endpoint(
                "margin order",
                Market::Margin,
                HttpMethod::Post,
                "/sapi/v1/margin/order",
                None,
                6,
                1,
            )
        }
        Market::UsdmFutures => {
            if order.reduce_only {
                params.trusted_text(Param::ReduceOnly, "true")?;
            }
            endpoint(
                "order",
                Market::UsdmFutures,
                HttpMethod::Post,
                "/fapi/v1/order",
                Some("order.place"),
                1,
                1,
            )
        }
    })
}

/// The `type` of an order placed in the book (not the futures Algo Service).
pub(crate) const fn book_order_type(market: Market, order_type: OrderType) -> &'static str {
    match (market, order_type) {
        (_, OrderType::Market) => "MARKET",
        (_, OrderType::Limit) => "LIMIT",
        // Futures have no LIMIT_MAKER type: post-only is LIMIT with time-in-force GTX.
        (Market::UsdmFutures, OrderType::LimitMaker) => "LIMIT",
        (_, OrderType::LimitMaker) => "LIMIT_MAKER",
        // Spot and margin: STOP_LOSS / TAKE_PROFIT are market orders once triggered.
        (_, OrderType::StopMarket) => "STOP_LOSS",
        (_, OrderType::TakeProfitMarket) => "TAKE_PROFIT",
    }
}

fn place_oco(
    params: &mut ParamSet,
    symbols: &OrderSymbols,
    config: &CodecConfig,
    oco: &OcoOrder,
    reference_price: Price,
) -> Result<Endpoint, BuildError> {
    if oco.market == Market::UsdmFutures {
        return Err(BuildError::Unsupported {
            what: "OCO order list",
            market: oco.market,
        });
    }
    let entry = symbol_for(symbols, oco.symbol, oco.market)?;
    let bad = |reason| BuildError::BadOrder {
        client_order_id: oco.list_id,
        reason,
    };
    if !oco.take_profit_price.is_positive() || !oco.stop_trigger.is_positive() {
        return Err(bad("an OCO needs a take-profit price and a stop trigger"));
    }
    // A sell exit takes profit above the market and stops below it; a buy exit the reverse.
    let legs_in_order = match oco.side {
        Side::Sell => oco.take_profit_price > oco.stop_trigger,
        Side::Buy => oco.take_profit_price < oco.stop_trigger,
    };
    if !legs_in_order {
        return Err(bad(
            "the take-profit must be on the profit side of the stop trigger",
        ));
    }
    let inst = &entry.instrument;
    let reject = |reject| BuildError::Filter {
        client_order_id: oco.list_id,
        reject,
    };
    inst.check_order(
        false,
        oco.side,
        oco.take_profit_price,
        oco.qty,
        reference_price,
    )
    .map_err(reject)?;
    inst.check_order(false, oco.side, oco.stop_trigger, oco.qty, Price::ZERO)
        .map_err(reject)?;
    let stop_limit = oco.stop_limit.is_positive();
    if stop_limit {
        inst.check_order(false, oco.side, oco.stop_limit, oco.qty, Price::ZERO)
            .map_err(reject)?;
    }
    let (price_decimals, qty_decimals) = (inst.price_decimals, inst.qty_decimals);
    params.trusted_text(Param::Symbol, entry.name.as_str())?;
    params.trusted_text(Param::Side, oco.side.as_str())?;
    params.decimal(Param::Quantity, oco.qty.raw(), qty_decimals)?;
    params.client_id(Param::ListClientOrderId, oco.list_id)?;
    params.trusted_text(
        Param::NewOrderRespType,
        config.response_type.as_str(oco.market),
    )?;
    if oco.market == Market::Margin {
        // The margin OCO keeps the legacy limit/stop parameter names.
        params.trusted_text(Param::IsIsolated, is_isolated_text(oco.margin.isolated))?;
        params.trusted_text(
            Param::SideEffectType,
            side_effect(&oco.margin, true, config),
        )?;
        params.client_id(Param::LimitClientOrderId, oco.take_profit_id)?;
        params.decimal(Param::Price, oco.take_profit_price.raw(), price_decimals)?;
        params.client_id(Param::StopClientOrderId, oco.stop_id)?;
        params.decimal(Param::StopPrice, oco.stop_trigger.raw(), price_decimals)?;
        if stop_limit {
            params.decimal(Param::StopLimitPrice, oco.stop_limit.raw(), price_decimals)?;
            params.trusted_text(Param::StopLimitTimeInForce, TimeInForce::Gtc.as_str())?;
        }
        return Ok(endpoint(
            "margin OCO",
            Market::Margin,
            HttpMethod::Post,
            "/sapi/v1/margin/order/oco",
            None,
            6,
            2,
        ));
    }
    let (take_profit_leg, stop_leg) = match oco.side {
        Side::Sell => (OcoLeg::ABOVE, OcoLeg::BELOW),
        Side::Buy => (OcoLeg::BELOW, OcoLeg::ABOVE),
    };
    params.trusted_text(take_profit_leg.kind, "LIMIT_MAKER")?;
    params.decimal(
        take_profit_leg.price,
        oco.take_profit_price.raw(),
        price_decimals,
    )?;
    params.client_id(take_profit_leg.client_id, oco.take_profit_id)?;
    params.client_id(stop_leg.client_id, oco.stop_id)?;
    params.decimal(stop_leg.stop_price, oco.stop_trigger.raw(), price_decimals)?;
    if stop_limit {
        params.trusted_text(stop_leg.kind, "STOP_LOSS_LIMIT")?;
        params.decimal(stop_leg.price, oco.stop_limit.raw(), price_decimals)?;
        params.trusted_text(stop_leg.time_in_force, TimeInForce::Gtc.as_str())?;
    } else {
        params.trusted_text(stop_leg.kind, "STOP_LOSS")?;
    }
    Ok(endpoint(
        "OCO",
        Market::Spot,
        HttpMethod::Post,
        "/api/v3/orderList/oco",
        Some("orderList.place.oco"),
        1,
        2,
    ))
}

/// The param names of one side of a spot `orderList/oco`.
struct OcoLeg {
    kind: Param,
    price: Param,
    stop_price: Param,
    time_in_force: Param,
    client_id: Param,
}

impl OcoLeg {
    const ABOVE: OcoLeg = OcoLeg {
        kind: Param::AboveType,
        price: Param::AbovePrice,
        stop_price: Param::AboveStopPrice,
        time_in_force: Param::AboveTimeInForce,
        client_id: Param::AboveClientOrderId,
    };
    const BELOW: OcoLeg = OcoLeg {
        kind: Param::BelowType,
        price: Param::BelowPrice,
        stop_price: Param::BelowStopPrice,
        time_in_force: Param::BelowTimeInForce,
        client_id: Param::BelowClientOrderId,
    };
}
