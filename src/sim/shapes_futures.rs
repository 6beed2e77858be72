//! Owns: Binance USDⓈ-M JSON as the venue writes it: order and algo-order responses,
//! account v2, positionRisk, userTrades, and the user-data events (`ORDER_TRADE_UPDATE`,
//! `TRADE_LITE`, `ACCOUNT_UPDATE`, `ALGO_UPDATE`, `listenKeyExpired`), field for field as
//! the real payloads in `data/real/nautilus/binance/futures`. Never: decides values.

use crate::core::{Instrument, Notional, Price, Qty};

use super::json_out::{array, fixed, object, trimmed};
use super::orders::{AlgoOrder, ExecType, PositionView, SimOrder, SimTrade};

/// Decimals of wallet amounts and commissions.
const AMOUNT_DECIMALS: u32 = 8;
/// Decimals of `cumQuote` in order responses.
const QUOTE_DECIMALS: u32 = 5;
/// Most decimals a computed value (average price, PnL) prints with.
const MAX_DECIMALS: u32 = 8;

/// How many decimals a symbol's prices and quantities print with (`pricePrecision`,
/// `quantityPrecision`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FuturesDecimals {
    pub price: u32,
    pub qty: u32,
}

impl FuturesDecimals {
    pub fn of(inst: &Instrument) -> Self {
        Self {
            price: inst.price_decimals,
            qty: inst.qty_decimals,
        }
    }
}

/// Event text of a computed value: no trailing zeros.
fn short(raw: i128) -> String {
    trimmed(raw, 0, MAX_DECIMALS)
}

/// `POST/GET/DELETE /fapi/v1/order` response body (and each open order).
pub(crate) fn order(order: &SimOrder, d: FuturesDecimals) -> String {
    object(|o| {
        o.uint("orderId", order.order_id)
            .str("symbol", &order.symbol)
            .str("status", order.status.as_str())
            .str("clientOrderId", &order.client_order_id)
            .dec("price", order.price.raw(), d.price)
            .str(
                "avgPrice",
                &trimmed(order.avg_price().raw(), d.price, MAX_DECIMALS),
            )
            .dec("origQty", order.orig_qty.raw(), d.qty)
            .dec("executedQty", order.executed_qty.raw(), d.qty)
            .dec("cumQty", order.executed_qty.raw(), d.qty)
            .dec("cumQuote", order.cum_quote.raw(), QUOTE_DECIMALS)
            .str("timeInForce", order.time_in_force.as_str())
            .str("type", order.working_order_type().as_str())
            .bool("reduceOnly", order.reduce_only)
            .bool("closePosition", order.close_position)
            .str("side", order.side.as_str())
            .str("positionSide", "BOTH")
            .dec("stopPrice", order.stop_price.raw(), d.price)
            .str("workingType", order.working_type.as_str())
            .bool("priceProtect", order.price_protect)
            .str("origType", order.order_type.as_str())
            .str("priceMatch", "NONE")
            .str("selfTradePreventionMode", "NONE")
            .uint("goodTillDate", 0)
            .uint("time", order.time_ms)
            .uint("updateTime", order.update_ms);
    })
}

/// An array of orders.
pub(crate) fn orders(orders: &[SimOrder], d: &dyn Fn(&str) -> FuturesDecimals) -> String {
    array(|a| {
        for o in orders {
            a.raw(&order(o, d(&o.symbol)));
        }
    })
}

/// `POST/GET /fapi/v1/algoOrder` response body (and each open algo order).
pub(crate) fn algo_order(algo: &AlgoOrder, d: FuturesDecimals) -> String {
    object(|o| {
        o.uint("algoId", algo.algo_id)
            .str("clientAlgoId", &algo.client_algo_id)
            .str("algoType", "CONDITIONAL")
            .str("orderType", algo.order_type.as_str())
            .str("symbol", &algo.symbol)
            .str("side", algo.side.as_str())
            .str("positionSide", "BOTH")
            .str("timeInForce", algo.time_in_force.as_str())
            .dec("quantity", algo.qty.raw(), d.qty)
            .str("algoStatus", algo.status.as_str())
            .str(
                "actualOrderId",
                &algo
                    .actual_order_id
                    .map_or_else(String::new, |id| id.to_string()),
            )
            .str("actualPrice", &fixed(0, d.price))
            .dec("triggerPrice", algo.trigger_price.raw(), d.price)
            .dec("price", algo.price.raw(), d.price)
            .null("icebergQuantity")
            .str("selfTradePreventionMode", "NONE")
            .str("workingType", algo.working_type.as_str())
            .str("priceMatch", "NONE")
            .bool("closePosition", algo.close_position)
            .bool("priceProtect", algo.price_protect)
            .bool("reduceOnly", algo.reduce_only)
            .str("activatePrice", "")
            .str("callbackRate", "")
            .uint("createTime", algo.create_ms)
            .uint("updateTime", algo.update_ms)
            .uint("triggerTime", algo.trigger_ms)
            .uint("goodTillDate", 0);
    })
}

/// An array of algo orders.
pub(crate) fn algo_orders(algos: &[AlgoOrder], d: &dyn Fn(&str) -> FuturesDecimals) -> String {
    array(|a| {
        for algo in algos {
            a.raw(&algo_order(algo, d(&algo.symbol)));
        }
    })
}

/// `DELETE /fapi/v1/algoOrder` response body.
pub(crate) fn algo_canceled(algo: &AlgoOrder) -> String {
    object(|o| {
        o.uint("algoId", algo.algo_id)
            .str("clientAlgoId", &algo.client_algo_id)
            .str("code", "200")
            .str("msg", "success");
    })
}

/// The wallet figures account v2 repeats per asset and in total.
pub(crate) struct WalletFigures {
    pub asset: String,
    pub wallet: Notional,
    pub unrealized: Notional,
    pub position_margin: Notional,
    pub order_margin: Notional,
    pub update_ms: u64,
}

impl WalletFigures {
    fn margin_balance(&self) -> Notional {
        self.wallet.saturating_add(self.unrealized)
    }
    fn available(&self) -> Notional {
        self.margin_balance()
            .saturating_sub(self.position_margin)
            .saturating_sub(self.order_margin)
    }
}

/// `GET /fapi/v2/account` response body.
pub(crate) fn account(
    wallets: &[WalletFigures],
    positions: &[PositionView],
    symbols: &[String],
    leverage: u32,
) -> String {
    let sum = |f: &dyn Fn(&WalletFigures) -> Notional| {
        wallets
            .iter()
            .fold(Notional::ZERO, |s, w| s.saturating_add(f(w)))
            .raw()
    };
    let amount = |raw: i128| fixed(raw, AMOUNT_DECIMALS);
    object(|o| {
        o.int("feeTier", 0)
            .bool("canTrade", true)
            .bool("canDeposit", true)
            .bool("canWithdraw", true)
            .uint("updateTime", 0)
            .bool("multiAssetsMargin", false)
            .int("tradeGroupId", -1)
            .str(
                "totalInitialMargin",
                &amount(sum(&|w| w.position_margin.saturating_add(w.order_margin))),
            )
            .str("totalMaintMargin", &amount(0))
            .str("totalWalletBalance", &amount(sum(&|w| w.wallet)))
            .str("totalUnrealizedProfit", &amount(sum(&|w| w.unrealized)))
            .str("totalMarginBalance", &amount(sum(&|w| w.margin_balance())))
            .str(
                "totalPositionInitialMargin",
                &amount(sum(&|w| w.position_margin)),
            )
            .str(
                "totalOpenOrderInitialMargin",
                &amount(sum(&|w| w.order_margin)),
            )
            .str("totalCrossWalletBalance", &amount(sum(&|w| w.wallet)))
            .str("totalCrossUnPnl", &amount(sum(&|w| w.unrealized)))
            .str("availableBalance", &amount(sum(&|w| w.available())))
            .str("maxWithdrawAmount", &amount(sum(&|w| w.available())))
            .arr("assets", |a| {
                for w in wallets {
                    a.obj(|e| {
                        e.str("asset", &w.asset)
                            .str("walletBalance", &amount(w.wallet.raw()))
                            .str("unrealizedProfit", &amount(w.unrealized.raw()))
                            .str("marginBalance", &amount(w.margin_balance().raw()))
                            .str("maintMargin", &amount(0))
                            .str(
                                "initialMargin",
                                &amount(w.position_margin.saturating_add(w.order_margin).raw()),
                            )
                            .str("positionInitialMargin", &amount(w.position_margin.raw()))
                            .str("openOrderInitialMargin", &amount(w.order_margin.raw()))
                            .str("crossWalletBalance", &amount(w.wallet.raw()))
                            .str("crossUnPnl", &amount(w.unrealized.raw()))
                            .str("availableBalance", &amount(w.available().raw()))
                            .str("maxWithdrawAmount", &amount(w.available().raw()))
                            .bool("marginAvailable", true)
                            .uint("updateTime", w.update_ms);
                    });
                }
            })
            .arr("positions", |a| {
                for symbol in symbols {
                    let p = positions.iter().find(|p| &p.symbol == symbol);
                    let qty = p.map_or(Qty::ZERO, |p| p.qty);
                    let notional = p.map_or(0, |p| {
                        p.mark_price.notional(p.qty.abs()).map_or(0, |n| n.raw())
                    });
                    let margin = notional / i128::from(leverage.max(1));
                    a.obj(|e| {
                        e.str("symbol", symbol)
                            .str("initialMargin", &short(margin))
                            .str("maintMargin", "0")
                            .str(
                                "unrealizedProfit",
                                &amount(p.map_or(0, |p| p.unrealized_pnl.raw())),
                            )
                            .str("positionInitialMargin", &short(margin))
                            .str("openOrderInitialMargin", "0")
                            .str("leverage", &leverage.to_string())
                            .bool("isolated", false)
                            .str(
                                "entryPrice",
                                &trimmed(p.map_or(0, |p| p.entry_price.raw()), 5, MAX_DECIMALS),
                            )
                            .str("maxNotional", "250000")
                            .str("bidNotional", "0")
                            .str("askNotional", "0")
                            .str("positionSide", "BOTH")
                            .str("positionAmt", &short(qty.raw()))
                            .uint("updateTime", p.map_or(0, |p| p.update_ms));
                    });
                }
            });
    })
}

/// `GET /fapi/v2/positionRisk` response body: one entry per symbol.
pub(crate) fn position_risk(
    positions: &[PositionView],
    symbols: &[String],
    leverage: u32,
    mark_of: &dyn Fn(&str) -> Price,
) -> String {
    array(|a| {
        for symbol in symbols {
            let p = positions.iter().find(|p| &p.symbol == symbol);
            let mark = p.map_or_else(|| mark_of(symbol), |p| p.mark_price);
            let qty = p.map_or(Qty::ZERO, |p| p.qty);
            let entry = p.map_or(Price::ZERO, |p| p.entry_price);
            let notional = mark.notional(qty.abs()).map_or(0, |n| n.raw());
            let signed_notional = if qty.raw() < 0 { -notional } else { notional };
            a.obj(|e| {
                e.str("symbol", symbol)
                    .str("positionAmt", &short(qty.raw()))
                    .str("entryPrice", &trimmed(entry.raw(), 1, MAX_DECIMALS))
                    .str("markPrice", &trimmed(mark.raw(), 1, MAX_DECIMALS))
                    .str(
                        "unRealizedProfit",
                        &fixed(p.map_or(0, |p| p.unrealized_pnl.raw()), AMOUNT_DECIMALS),
                    )
                    .str("liquidationPrice", "0")
                    .str("leverage", &leverage.to_string())
                    .str("maxNotionalValue", "250000")
                    .str("marginType", "cross")
                    .str("isolatedMargin", &fixed(0, AMOUNT_DECIMALS))
                    .str("isAutoAddMargin", "false")
                    .str("positionSide", "BOTH")
                    .str("notional", &trimmed(signed_notional, 1, MAX_DECIMALS))
                    .str("isolatedWallet", "0")
                    .uint("updateTime", p.map_or(0, |p| p.update_ms))
                    .str("breakEvenPrice", &trimmed(entry.raw(), 1, MAX_DECIMALS));
            });
        }
    })
}

/// `GET /fapi/v1/userTrades` response body.
pub(crate) fn user_trades(trades: &[SimTrade], d: &dyn Fn(&str) -> FuturesDecimals) -> String {
    array(|a| {
        for t in trades {
            let d = d(&t.symbol);
            a.obj(|e| {
                e.bool("buyer", t.side == crate::core::Side::Buy)
                    .str("commission", &short(t.commission.raw()))
                    .str("commissionAsset", &t.commission_asset)
                    .uint("id", t.trade_id)
                    .bool("maker", t.is_maker)
                    .uint("orderId", t.order_id)
                    .dec("price", t.price.raw(), d.price)
                    .dec("qty", t.qty.raw(), d.qty)
                    .str("quoteQty", &short(t.quote_qty.raw()))
                    .str("realizedPnl", &short(t.realized_pnl.raw()))
                    .str("side", t.side.as_str())
                    .str("positionSide", "BOTH")
                    .str("symbol", &t.symbol)
                    .uint("time", t.time_ms);
            });
        }
    })
}

/// The `ORDER_TRADE_UPDATE` event.
pub(crate) fn order_trade_update(
    order: &SimOrder,
    exec: ExecType,
    fill: Option<&SimTrade>,
    event_ms: u64,
) -> String {
    object(|o| {
        o.str("e", "ORDER_TRADE_UPDATE")
            .uint("T", event_ms)
            .uint("E", event_ms)
            .obj("o", |e| {
                e.str("s", &order.symbol)
                    .str("c", &order.client_order_id)
                    .str("S", order.side.as_str())
                    .str("o", order.working_order_type().as_str())
                    .str("f", order.time_in_force.as_str())
                    .str("q", &short(order.orig_qty.raw()))
                    .str("p", &short(order.price.raw()))
                    .str("ap", &short(order.avg_price().raw()))
                    .str("sp", &short(order.stop_price.raw()))
                    .str("x", exec.as_str())
                    .str("X", order.status.as_str())
                    .uint("i", order.order_id)
                    .str("l", &short(fill.map_or(0, |t| t.qty.raw())))
                    .str("z", &short(order.executed_qty.raw()))
                    .str("L", &short(fill.map_or(0, |t| t.price.raw())))
                    .str("N", fill.map_or("USDT", |t| t.commission_asset.as_str()))
                    .str("n", &short(fill.map_or(0, |t| t.commission.raw())))
                    .uint("T", fill.map_or(event_ms, |t| t.time_ms))
                    .uint("t", fill.map_or(0, |t| t.trade_id))
                    .str("b", "0")
                    .str("a", "0")
                    .bool("m", fill.is_some_and(|t| t.is_maker))
                    .bool("R", order.reduce_only)
                    .str("wt", order.working_type.as_str())
                    .str("ot", order.order_type.as_str())
                    .str("ps", "BOTH")
                    .bool("cp", order.close_position)
                    .str("AP", "0")
                    .str("cr", "0")
                    .bool("pP", order.price_protect)
                    .int("si", 0)
                    .int("ss", 0)
                    .str("rp", &short(fill.map_or(0, |t| t.realized_pnl.raw())))
                    .str("V", "NONE")
                    .str("pm", "NONE")
                    .uint("gtd", 0);
            });
    })
}

/// The `TRADE_LITE` event that precedes the full update of a fill.
pub(crate) fn trade_lite(order: &SimOrder, fill: &SimTrade, event_ms: u64) -> String {
    object(|o| {
        o.str("e", "TRADE_LITE")
            .uint("E", event_ms)
            .uint("T", fill.time_ms)
            .str("s", &order.symbol)
            .str("c", &order.client_order_id)
            .str("S", order.side.as_str())
            .str("q", &short(order.orig_qty.raw()))
            .str("p", &short(order.price.raw()))
            .uint("i", order.order_id)
            .str("l", &short(fill.qty.raw()))
            .str("L", &short(fill.price.raw()))
            .uint("t", fill.trade_id)
            .bool("m", fill.is_maker);
    })
}

/// The `ACCOUNT_UPDATE` event.
pub(crate) fn account_update(
    reason: &str,
    balances: &[(String, Notional, Notional)],
    positions: &[PositionView],
    event_ms: u64,
) -> String {
    object(|o| {
        o.str("e", "ACCOUNT_UPDATE")
            .uint("T", event_ms)
            .uint("E", event_ms)
            .obj("a", |a| {
                a.str("m", reason)
                    .arr("B", |arr| {
                        for (asset, wallet, change) in balances {
                            arr.obj(|b| {
                                b.str("a", asset)
                                    .dec("wb", wallet.raw(), AMOUNT_DECIMALS)
                                    .dec("cw", wallet.raw(), AMOUNT_DECIMALS)
                                    .dec("bc", change.raw(), AMOUNT_DECIMALS);
                            });
                        }
                    })
                    .arr("P", |arr| {
                        for p in positions {
                            arr.obj(|e| {
                                e.str("s", &p.symbol)
                                    .str("pa", &short(p.qty.raw()))
                                    .str("ep", &trimmed(p.entry_price.raw(), 5, MAX_DECIMALS))
                                    .str("bep", &short(p.entry_price.raw()))
                                    .str("cr", &short(p.realized_pnl.raw()))
                                    .str("up", &short(p.unrealized_pnl.raw()))
                                    .str("mt", "cross")
                                    .dec("iw", 0, AMOUNT_DECIMALS)
                                    .str("ps", "BOTH");
                            });
                        }
                    });
            });
    })
}

/// The `ALGO_UPDATE` event.
pub(crate) fn algo_update(algo: &AlgoOrder, actual: Option<&SimOrder>, event_ms: u64) -> String {
    object(|o| {
        o.str("e", "ALGO_UPDATE")
            .uint("T", event_ms)
            .uint("E", event_ms)
            .obj("o", |e| {
                e.str("caid", &algo.client_algo_id)
                    .uint("aid", algo.algo_id)
                    .str("at", "CONDITIONAL")
                    .str("o", algo.order_type.as_str())
                    .str("s", &algo.symbol)
                    .str("S", algo.side.as_str())
                    .str("ps", "BOTH")
                    .str("f", algo.time_in_force.as_str())
                    .str("q", &short(algo.qty.raw()))
                    .str("X", algo.status.as_str())
                    .str(
                        "ai",
                        &algo
                            .actual_order_id
                            .map_or_else(String::new, |id| id.to_string()),
                    )
                    .str(
                        "ap",
                        &trimmed(actual.map_or(0, |a| a.avg_price().raw()), 5, MAX_DECIMALS),
                    )
                    .str(
                        "aq",
                        &trimmed(actual.map_or(0, |a| a.executed_qty.raw()), 5, MAX_DECIMALS),
                    )
                    .str("act", "0")
                    .str("tp", &short(algo.trigger_price.raw()))
                    .str("p", &short(algo.price.raw()))
                    .str("V", "NONE")
                    .str("wt", algo.working_type.as_str())
                    .str("pm", "NONE")
                    .bool("cp", algo.close_position)
                    .bool("pP", algo.price_protect)
                    .bool("R", algo.reduce_only)
                    .uint("tt", algo.trigger_ms)
                    .uint("gtd", 0)
                    .str("rm", &algo.reject_reason);
            });
    })
}

/// The `listenKeyExpired` event.
pub(crate) fn listen_key_expired(listen_key: &str, event_ms: u64) -> String {
    object(|o| {
        o.str("e", "listenKeyExpired")
            .uint("E", event_ms)
            .str("listenKey", listen_key);
    })
}
