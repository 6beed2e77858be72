//! Owns: the order-side operations REST and the WS API share: which path or method names
//! which operation, its request weight and security, running it on the venue (parameters
//! read by `requests`) and writing the venue's reply body. Never: reads sockets, checks
//! signatures or applies transport faults (`orders_http`, `ws_api` do).

use crate::core::{Notional, Qty};

use super::auth::Params;
use super::config::Market;
use super::exchange::{AlgoRef, ListRef};
use super::order_side::OrderSide;
use super::orders::{AccountKind, Reject};
use super::requests::{
    cross_margin, flag, id_param, illegal, order_ref, read_algo, read_margin_oco, read_new_order,
    read_oco,
};
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
    AllOrders,
    NewAlgo,
    CancelAlgo,
    QueryAlgo,
    OpenAlgos,
    CancelOpenAlgos,
    PositionRisk,
    ListenKeyStart,
    ListenKeyKeepAlive,
    ListenKeyClose,
    /// `POST /sapi/v1/userListenToken`: a margin account's user-data listenToken.
    ListenTokenCreate,
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
            (Market::Spot, "GET", "/api/v3/allOrders") => Self::of(Op::AllOrders, Spot),
            (Market::Spot, "POST", "/sapi/v1/margin/order") => Self::of(Op::NewOrder, Margin),
            (Market::Spot, "DELETE", "/sapi/v1/margin/order") => Self::of(Op::CancelOrder, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/order") => Self::of(Op::QueryOrder, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/openOrders") => Self::of(Op::OpenOrders, Margin),
            (Market::Spot, "DELETE", "/sapi/v1/margin/openOrders") => {
                Self::of(Op::CancelOpenOrders, Margin)
            }
            (Market::Spot, "GET", "/sapi/v1/margin/myTrades") => Self::of(Op::MyTrades, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/allOrders") => Self::of(Op::AllOrders, Margin),
            (Market::Spot, "GET", "/sapi/v1/margin/account") => Self::of(Op::Account, Margin),
            (Market::Spot, "POST", "/sapi/v1/margin/order/oco") => Self::of(Op::NewOco, Margin),
            (Market::Spot, "POST", "/sapi/v1/userListenToken") => {
                Self::of(Op::ListenTokenCreate, Margin)
            }
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
            (Market::UsdmFutures, "GET", "/fapi/v1/allOrders") => Self::of(Op::AllOrders, Futures),
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
            (Market::Spot, "allOrders") => Op::AllOrders,
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
            (Op::AllOrders, false) if self.account == AccountKind::Margin => 200,
            (Op::AllOrders, false) => 20,
            (Op::AllOrders, true) => 5,
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
            let request = if margin {
                read_margin_oco(venue, params, force_partial)?
            } else {
                read_oco(venue, params, force_partial)?
            };
            venue.with_exchange(|ex, books| {
                let symbol = request.symbol.clone();
                let (list, orders) = ex.place_oco(request, books, now)?;
                let d = spot_decimals(ex)(&symbol);
                Ok(if margin {
                    shapes_spot::margin_order_list(&list, &orders, d, now)
                } else {
                    shapes_spot::order_list(&list, &orders, d, now, None)
                })
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
                let (list, orders) =
                    ex.cancel_list(account, &symbol, &by, Some(cancel_id.clone()), now)?;
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
        Op::AllOrders => {
            let symbol = params.required("symbol")?.to_owned();
            let from_order_id = id_param(params, "orderId")?;
            let limit = id_param(params, "limit")?.unwrap_or(500).clamp(1, 1000) as usize;
            venue.with_exchange(|ex, _| {
                ex.rules(&symbol).ok_or_else(Reject::bad_symbol)?;
                let orders = ex.all_orders(account, &symbol, from_order_id, limit);
                Ok(if account == AccountKind::Futures {
                    shapes_futures::orders(&orders, &futures_decimals(ex))
                } else {
                    shapes_spot::order_queries(&orders, &spot_decimals(ex), margin)
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
        Op::ListenTokenCreate => {
            cross_margin(params)?;
            let validity = match id_param(params, "validity")? {
                None => MAX_LISTEN_TOKEN_VALIDITY_MS,
                Some(ms) if (1..=MAX_LISTEN_TOKEN_VALIDITY_MS).contains(&ms) => ms,
                Some(_) => {
                    return Err(Reject::new(
                        -1130,
                        "Data sent for parameter 'validity' is not valid.",
                    ))
                }
            };
            let (token, expiration_ms) = venue.users.create_listen_token(now, validity);
            Ok(super::json_out::object(|o| {
                o.str("token", &token).uint("expirationTime", expiration_ms);
            }))
        }
    }
}

/// A margin listenToken's default and longest validity: 24 h.
const MAX_LISTEN_TOKEN_VALIDITY_MS: u64 = 86_400_000;

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
