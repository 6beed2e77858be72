//! Owns: Binance spot and margin JSON as the venue writes it: order responses (ACK, RESULT,
//! FULL), order queries, cancels, OCO lists, account, trades, and the user-data events
//! (`executionReport`, `listStatus`, `outboundAccountPosition`, `balanceUpdate`), field for
//! field as the real payloads in `data/real/nautilus/binance/spot`. Never: decides values.

use crate::core::{Instrument, Qty, Ratio};

use super::json_out::{array, object, Obj};
use super::orders::{BalanceView, ExecType, OrderList, SimOrder, SimTrade};

/// Decimals Binance prints commissions and account amounts with.
const AMOUNT_DECIMALS: u32 = 8;
/// A spot account's `uid` (any stable number).
const UID: u64 = 354_937_868;

/// How many decimals a symbol's prices and quantities print with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpotDecimals {
    pub price: u32,
    pub qty: u32,
}

impl SpotDecimals {
    pub fn of(inst: &Instrument) -> Self {
        Self {
            price: inst.price_decimals,
            qty: inst.qty_decimals,
        }
    }
}

/// Which newOrderRespType a new order asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RespType {
    Ack,
    Result,
    Full,
}

fn working_time(order: &SimOrder) -> i64 {
    order.working_ms.map_or(-1, |ms| ms as i64)
}

fn conditional(order: &SimOrder) -> bool {
    order.order_type.trigger().is_some()
}

/// The order fields every spot shape prints in the same order: price through side.
fn core_fields(o: &mut Obj<'_>, order: &SimOrder, d: SpotDecimals, margin: bool) {
    o.dec("price", order.price.raw(), d.price)
        .dec("origQty", order.orig_qty.raw(), d.qty)
        .dec("executedQty", order.executed_qty.raw(), d.qty);
    if !margin {
        o.dec("origQuoteOrderQty", order.orig_quote_qty.raw(), d.price);
    }
    o.dec("cummulativeQuoteQty", order.cum_quote.raw(), d.price)
        .str("status", order.status.as_str())
        .str("timeInForce", order.time_in_force.as_str())
        .str("type", order.order_type.as_str())
        .str("side", order.side.as_str());
    if conditional(order) {
        o.dec("stopPrice", order.stop_price.raw(), d.price);
    }
}

/// The fields a RESULT response and an OCO order report share.
fn result_fields(
    o: &mut Obj<'_>,
    order: &SimOrder,
    d: SpotDecimals,
    transact_ms: u64,
    margin: bool,
) {
    o.str("symbol", &order.symbol)
        .uint("orderId", order.order_id);
    if !margin {
        o.int("orderListId", order.order_list_id);
    }
    o.str("clientOrderId", &order.client_order_id)
        .uint("transactTime", transact_ms);
    core_fields(o, order, d, margin);
    if margin {
        o.bool("isIsolated", false);
    } else {
        o.int("workingTime", working_time(order));
    }
    o.str("selfTradePreventionMode", "NONE");
}

fn fills(o: &mut Obj<'_>, trades: &[SimTrade], d: SpotDecimals) {
    o.arr("fills", |a| {
        for t in trades {
            a.obj(|f| {
                f.dec("price", t.price.raw(), d.price)
                    .dec("qty", t.qty.raw(), d.qty)
                    .dec("commission", t.commission.raw(), AMOUNT_DECIMALS)
                    .str("commissionAsset", &t.commission_asset)
                    .uint("tradeId", t.trade_id);
            });
        }
    });
}

/// `POST /api/v3/order` (or `/sapi/v1/margin/order`) response body.
pub(crate) fn new_order(
    order: &SimOrder,
    ack: &SimOrder,
    trades: &[SimTrade],
    resp: RespType,
    d: SpotDecimals,
    transact_ms: u64,
    margin: bool,
) -> String {
    object(|o| match resp {
        RespType::Ack => {
            o.str("symbol", &ack.symbol).uint("orderId", ack.order_id);
            if margin {
                o.str("clientOrderId", &ack.client_order_id)
                    .bool("isIsolated", false)
                    .uint("transactTime", transact_ms);
            } else {
                o.int("orderListId", ack.order_list_id)
                    .str("clientOrderId", &ack.client_order_id)
                    .uint("transactTime", transact_ms);
            }
        }
        RespType::Result | RespType::Full => {
            result_fields(o, order, d, transact_ms, margin);
            if resp == RespType::Full {
                if let (true, Some((amount, asset))) = (margin, &order.borrowed) {
                    o.dec("marginBuyBorrowAmount", amount.raw(), AMOUNT_DECIMALS)
                        .str("marginBuyBorrowAsset", asset);
                }
                fills(o, trades, d);
            }
        }
    })
}

/// `GET /api/v3/order` and each `GET /api/v3/openOrders` element.
pub(crate) fn order_query(order: &SimOrder, d: SpotDecimals, margin: bool) -> String {
    object(|o| {
        o.str("symbol", &order.symbol)
            .uint("orderId", order.order_id);
        if !margin {
            o.int("orderListId", order.order_list_id);
        }
        o.str("clientOrderId", &order.client_order_id)
            .dec("price", order.price.raw(), d.price)
            .dec("origQty", order.orig_qty.raw(), d.qty)
            .dec("executedQty", order.executed_qty.raw(), d.qty)
            .dec("cummulativeQuoteQty", order.cum_quote.raw(), d.price)
            .str("status", order.status.as_str())
            .str("timeInForce", order.time_in_force.as_str())
            .str("type", order.order_type.as_str())
            .str("side", order.side.as_str())
            .dec("stopPrice", order.stop_price.raw(), d.price)
            .dec("icebergQty", 0, d.qty)
            .uint("time", order.time_ms)
            .uint("updateTime", order.update_ms)
            .bool("isWorking", order.working_ms.is_some());
        if margin {
            o.bool("isIsolated", false);
        } else {
            o.int("workingTime", working_time(order)).dec(
                "origQuoteOrderQty",
                order.orig_quote_qty.raw(),
                d.price,
            );
        }
        o.str("selfTradePreventionMode", "NONE");
    })
}

/// An array of order queries.
pub(crate) fn order_queries(
    orders: &[SimOrder],
    d: &dyn Fn(&str) -> SpotDecimals,
    margin: bool,
) -> String {
    array(|a| {
        for order in orders {
            a.raw(&order_query(order, d(&order.symbol), margin));
        }
    })
}

fn cancel_fields(
    o: &mut Obj<'_>,
    order: &SimOrder,
    cancel_client_id: &str,
    d: SpotDecimals,
    transact_ms: u64,
    margin: bool,
) {
    o.str("symbol", &order.symbol)
        .str("origClientOrderId", &order.client_order_id)
        .uint("orderId", order.order_id);
    if !margin {
        o.int("orderListId", order.order_list_id);
    }
    o.str("clientOrderId", cancel_client_id);
    if !margin {
        o.uint("transactTime", transact_ms);
    }
    core_fields(o, order, d, margin);
    if margin {
        o.bool("isIsolated", false);
    }
    o.str("selfTradePreventionMode", "NONE");
}

/// `DELETE /api/v3/order` response body.
pub(crate) fn cancel(
    order: &SimOrder,
    cancel_client_id: &str,
    d: SpotDecimals,
    transact_ms: u64,
    margin: bool,
) -> String {
    object(|o| cancel_fields(o, order, cancel_client_id, d, transact_ms, margin))
}

/// The fields every order-list reply starts with, through `symbol`.
fn list_header<'o, 'a>(o: &'o mut Obj<'a>, list: &OrderList, transact_ms: u64) -> &'o mut Obj<'a> {
    o.int("orderListId", list.order_list_id)
        .str("contingencyType", "OCO")
        .str(
            "listStatusType",
            if list.done {
                "ALL_DONE"
            } else {
                "EXEC_STARTED"
            },
        )
        .str(
            "listOrderStatus",
            if list.done { "ALL_DONE" } else { "EXECUTING" },
        )
        .str("listClientOrderId", &list.list_client_order_id)
        .uint("transactionTime", transact_ms)
        .str("symbol", &list.symbol)
}

/// `POST /api/v3/orderList/oco` (or, with `cancel_client_id`, `DELETE /api/v3/orderList`)
/// response body.
pub(crate) fn order_list(
    list: &OrderList,
    orders: &[SimOrder],
    d: SpotDecimals,
    transact_ms: u64,
    cancel_client_id: Option<&str>,
) -> String {
    object(|o| {
        list_header(o, list, transact_ms)
            .arr("orders", |a| {
                for order in orders {
                    a.obj(|e| {
                        e.str("symbol", &order.symbol)
                            .uint("orderId", order.order_id)
                            .str("clientOrderId", &order.client_order_id);
                    });
                }
            })
            .arr("orderReports", |a| {
                for order in orders {
                    a.obj(|e| match cancel_client_id {
                        Some(id) => cancel_fields(e, order, id, d, transact_ms, false),
                        None => result_fields(e, order, d, transact_ms, false),
                    });
                }
            });
    })
}

/// `POST /sapi/v1/margin/order/oco` response body (Binance's "Margin Account New OCO"
/// example): the spot list's fields, `isIsolated`, the legs, and each leg's report without
/// spot's `workingTime` and `origQuoteOrderQty`, the stop leg first. No
/// `marginBuyBorrowAmount`: Binance prints it only after a borrow, and a simulated OCO
/// never borrows.
pub(crate) fn margin_order_list(
    list: &OrderList,
    orders: &[SimOrder],
    d: SpotDecimals,
    transact_ms: u64,
) -> String {
    let mut legs: Vec<&SimOrder> = orders.iter().collect();
    legs.sort_by_key(|o| !conditional(o));
    object(|o| {
        list_header(o, list, transact_ms)
            .bool("isIsolated", false)
            .arr("orders", |a| {
                for order in &legs {
                    a.obj(|e| {
                        e.str("symbol", &order.symbol)
                            .uint("orderId", order.order_id)
                            .str("clientOrderId", &order.client_order_id);
                    });
                }
            })
            .arr("orderReports", |a| {
                for order in &legs {
                    a.obj(|e| {
                        e.str("symbol", &order.symbol)
                            .uint("orderId", order.order_id)
                            .int("orderListId", order.order_list_id)
                            .str("clientOrderId", &order.client_order_id)
                            .uint("transactTime", transact_ms);
                        core_fields(e, order, d, true);
                        e.str("selfTradePreventionMode", "NONE");
                    });
                }
            });
    })
}

/// Commission rates as `GET /api/v3/account` prints them.
fn basis_points(rate: Ratio) -> i64 {
    // 0.0015 → 15: rate × 10 000, exact for the rates Binance uses.
    (rate.raw() / (crate::core::decimal::SCALE / 10_000)) as i64
}

/// `GET /api/v3/account` response body.
pub(crate) fn account(
    balances: &[BalanceView],
    maker: Ratio,
    taker: Ratio,
    update_ms: u64,
    omit_zero: bool,
) -> String {
    object(|o| {
        o.int("makerCommission", basis_points(maker))
            .int("takerCommission", basis_points(taker))
            .int("buyerCommission", 0)
            .int("sellerCommission", 0)
            .obj("commissionRates", |c| {
                c.dec("maker", maker.raw(), AMOUNT_DECIMALS)
                    .dec("taker", taker.raw(), AMOUNT_DECIMALS)
                    .dec("buyer", 0, AMOUNT_DECIMALS)
                    .dec("seller", 0, AMOUNT_DECIMALS);
            })
            .bool("canTrade", true)
            .bool("canWithdraw", true)
            .bool("canDeposit", true)
            .bool("brokered", false)
            .bool("requireSelfTradePrevention", false)
            .bool("preventSor", false)
            .uint("updateTime", update_ms)
            .str("accountType", "SPOT")
            .arr("balances", |a| {
                for b in balances {
                    if omit_zero && b.free.is_zero() && b.locked.is_zero() {
                        continue;
                    }
                    a.obj(|e| {
                        e.str("asset", &b.asset)
                            .dec("free", b.free.raw(), AMOUNT_DECIMALS)
                            .dec("locked", b.locked.raw(), AMOUNT_DECIMALS);
                    });
                }
            })
            .arr("permissions", |a| {
                a.str("SPOT");
            })
            .uint("uid", UID);
    })
}

/// `GET /sapi/v1/margin/account` response body; `to_btc` values an amount of an asset.
pub(crate) fn margin_account(
    balances: &[BalanceView],
    to_btc: &dyn Fn(&str, Qty) -> Qty,
) -> String {
    let (mut assets, mut debts) = (Qty::ZERO, Qty::ZERO);
    for b in balances {
        assets = assets.saturating_add(to_btc(&b.asset, b.free.saturating_add(b.locked)));
        debts = debts.saturating_add(to_btc(&b.asset, b.borrowed));
    }
    let level = if debts.is_positive() {
        super::account::div_raw(assets.raw(), debts.raw())
    } else {
        999 * crate::core::decimal::SCALE
    };
    object(|o| {
        o.bool("borrowEnabled", true)
            .dec("marginLevel", level, AMOUNT_DECIMALS)
            .dec("totalAssetOfBtc", assets.raw(), AMOUNT_DECIMALS)
            .dec("totalLiabilityOfBtc", debts.raw(), AMOUNT_DECIMALS)
            .dec(
                "totalNetAssetOfBtc",
                assets.saturating_sub(debts).raw(),
                AMOUNT_DECIMALS,
            )
            .bool("tradeEnabled", true)
            .bool("transferEnabled", true)
            .arr("userAssets", |a| {
                for b in balances {
                    a.obj(|e| {
                        let held = b.free.saturating_add(b.locked);
                        e.str("asset", &b.asset)
                            .dec("borrowed", b.borrowed.raw(), AMOUNT_DECIMALS)
                            .dec("free", b.free.raw(), AMOUNT_DECIMALS)
                            .dec("interest", 0, AMOUNT_DECIMALS)
                            .dec("locked", b.locked.raw(), AMOUNT_DECIMALS)
                            .dec(
                                "netAsset",
                                held.saturating_sub(b.borrowed).raw(),
                                AMOUNT_DECIMALS,
                            );
                    });
                }
            });
    })
}

/// `GET /api/v3/myTrades` (or margin) response body.
pub(crate) fn my_trades(
    trades: &[SimTrade],
    d: &dyn Fn(&str) -> SpotDecimals,
    margin: bool,
) -> String {
    array(|a| {
        for t in trades {
            let d = d(&t.symbol);
            a.obj(|e| {
                e.str("symbol", &t.symbol)
                    .uint("id", t.trade_id)
                    .uint("orderId", t.order_id);
                if !margin {
                    e.int("orderListId", t.order_list_id);
                }
                e.dec("price", t.price.raw(), d.price)
                    .dec("qty", t.qty.raw(), d.qty)
                    .dec("quoteQty", t.quote_qty.raw(), d.price)
                    .dec("commission", t.commission.raw(), AMOUNT_DECIMALS)
                    .str("commissionAsset", &t.commission_asset)
                    .uint("time", t.time_ms)
                    .bool("isBuyer", t.side == crate::core::Side::Buy)
                    .bool("isMaker", t.is_maker)
                    .bool("isBestMatch", true);
                if margin {
                    e.bool("isIsolated", false);
                }
            });
        }
    })
}

/// The `executionReport` event.
pub(crate) fn execution_report(
    order: &SimOrder,
    exec: ExecType,
    fill: Option<&SimTrade>,
    cancel_client_id: Option<&str>,
    d: SpotDecimals,
    event_ms: u64,
) -> String {
    let (client_id, orig_client_id) = match (exec, cancel_client_id) {
        (ExecType::Canceled, Some(cancel)) => (cancel, order.client_order_id.as_str()),
        _ => (order.client_order_id.as_str(), ""),
    };
    let zero_qty = || super::json_out::fixed(0, d.qty);
    object(|o| {
        o.str("e", "executionReport")
            .uint("E", event_ms)
            .str("s", &order.symbol)
            .str("c", client_id)
            .str("S", order.side.as_str())
            .str("o", order.order_type.as_str())
            .str("f", order.time_in_force.as_str())
            .dec("q", order.orig_qty.raw(), d.qty)
            .dec("p", order.price.raw(), d.price)
            .dec("P", order.stop_price.raw(), d.price)
            .dec("F", 0, d.qty)
            .int("g", order.order_list_id)
            .str("C", orig_client_id)
            .str("x", exec.as_str())
            .str("X", order.status.as_str())
            .str("r", "NONE")
            .uint("i", order.order_id);
        match fill {
            Some(t) => {
                o.dec("l", t.qty.raw(), d.qty)
                    .dec("z", order.executed_qty.raw(), d.qty)
                    .dec("L", t.price.raw(), d.price)
                    .dec("n", t.commission.raw(), AMOUNT_DECIMALS)
                    .str("N", &t.commission_asset)
                    .uint("T", t.time_ms)
                    .uint("t", t.trade_id);
            }
            None => {
                o.str("l", &zero_qty())
                    .dec("z", order.executed_qty.raw(), d.qty)
                    .dec("L", 0, d.price)
                    .str("n", "0")
                    .null("N")
                    .uint("T", event_ms)
                    .int("t", -1);
            }
        }
        o.uint("I", order.order_id * 2 + u64::from(fill.is_some()))
            .bool("w", order.status.is_open() && order.working_ms.is_some())
            .bool("m", fill.is_some_and(|t| t.is_maker))
            .bool("M", false)
            .uint("O", order.time_ms)
            .dec("Z", order.cum_quote.raw(), d.price)
            .dec("Y", fill.map_or(0, |t| t.quote_qty.raw()), d.price)
            .dec("Q", order.orig_quote_qty.raw(), d.price);
        if let Some(ms) = order.working_ms {
            o.uint("W", ms);
        }
        o.str("V", "NONE");
    })
}

/// The `listStatus` event.
pub(crate) fn list_status(list: &OrderList, legs: &[(u64, String)], event_ms: u64) -> String {
    object(|o| {
        o.str("e", "listStatus")
            .uint("E", event_ms)
            .str("s", &list.symbol)
            .int("g", list.order_list_id)
            .str("c", "OCO")
            .str(
                "l",
                if list.done {
                    "ALL_DONE"
                } else {
                    "EXEC_STARTED"
                },
            )
            .str("L", if list.done { "ALL_DONE" } else { "EXECUTING" })
            .str("r", "NONE")
            .str("C", &list.list_client_order_id)
            .uint("T", event_ms)
            .arr("O", |a| {
                for (id, client) in legs {
                    a.obj(|e| {
                        e.str("s", &list.symbol).uint("i", *id).str("c", client);
                    });
                }
            });
    })
}

/// The `outboundAccountPosition` event.
pub(crate) fn account_position(balances: &[BalanceView], event_ms: u64) -> String {
    object(|o| {
        o.str("e", "outboundAccountPosition")
            .uint("E", event_ms)
            .uint("u", event_ms)
            .arr("B", |a| {
                for b in balances {
                    a.obj(|e| {
                        e.str("a", &b.asset)
                            .dec("f", b.free.raw(), AMOUNT_DECIMALS)
                            .dec("l", b.locked.raw(), AMOUNT_DECIMALS);
                    });
                }
            });
    })
}

/// The `eventStreamTerminated` event (spot docs' example: `{"e":"eventStreamTerminated",
/// "E":1728973001334}`).
pub(crate) fn event_stream_terminated(event_ms: u64) -> String {
    object(|o| {
        o.str("e", "eventStreamTerminated").uint("E", event_ms);
    })
}

/// The `balanceUpdate` event.
pub(crate) fn balance_update(asset: &str, delta: Qty, event_ms: u64) -> String {
    object(|o| {
        o.str("e", "balanceUpdate")
            .uint("E", event_ms)
            .str("a", asset)
            .dec("d", delta.raw(), AMOUNT_DECIMALS)
            .uint("T", event_ms);
    })
}
