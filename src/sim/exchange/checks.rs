//! Owns: the checks a new order passes before funds are looked at, in Binance's order:
//! account and order type, filters (with futures' own codes), duplicates, open-order
//! caps, post-only, immediate triggers, reduce-only. Never: changes the venue.
//!
//! Spot order types are those the symbol's exchangeInfo `orderTypes` lists: the bundled
//! 2021 BTCUSDT entry has no `STOP_LOSS` or `TAKE_PROFIT` (the `_LIMIT` kinds it has), so
//! those are refused as Binance refused them then. Futures filter breaches answer -1013
//! `Filter failure: X` like spot, except the minimum notional (-4164).

use crate::core::{Price, Side};

use super::super::matching::{ReplayedBook, SymbolMatcher};
use super::super::orders::{AccountKind, OrderType, Reject, Tif};
use super::{Exchange, NewOrder, SymbolRules};

impl Exchange {
    pub(super) fn open_order_count(
        &self,
        account: AccountKind,
        symbol: &str,
        conditional: bool,
    ) -> usize {
        self.orders
            .values()
            .filter(|o| {
                o.account == account
                    && o.symbol == symbol
                    && o.status.is_open()
                    && (o.order_type.trigger().is_some() && o.order_list_id < 0) == conditional
            })
            .count()
    }

    pub(super) fn has_open_client_id(&self, account: AccountKind, client_order_id: &str) -> bool {
        self.orders.values().any(|o| {
            o.account == account && o.status.is_open() && o.client_order_id == client_order_id
        })
    }

    /// Checks an order against the symbol's filters; futures report min notional as -4164.
    pub(super) fn check_filters(&self, rules: &SymbolRules, req: &NewOrder) -> Result<(), Reject> {
        let inst = &rules.instrument;
        let reference = self.reference_price(&req.symbol);
        let working = match req.order_type {
            OrderType::StopLoss | OrderType::TakeProfit => OrderType::Market,
            other => other,
        };
        let result = match (working, req.qty, req.quote_qty) {
            (OrderType::Market, None, Some(quote)) => {
                if inst.notional.min_notional.is_positive() && quote < inst.notional.min_notional {
                    let name = if inst.notional.named_notional {
                        "NOTIONAL"
                    } else {
                        "MIN_NOTIONAL"
                    };
                    return Err(Reject::filter(name));
                }
                Ok(())
            }
            (OrderType::Market, Some(qty), _) => {
                let reference = match req.stop_price {
                    Some(stop) if req.order_type != OrderType::Market => stop,
                    _ => reference,
                };
                inst.check_order(true, req.side, Price::ZERO, qty, reference)
            }
            (_, Some(qty), _) => {
                let price = req.price.unwrap_or(Price::ZERO);
                inst.check_order(false, req.side, price, qty, reference)
            }
            (_, None, _) => {
                return Err(Reject::new(
                    -1102,
                    "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
                ))
            }
        };
        let stop_check = match (req.stop_price, req.qty) {
            // The stop price sits on the same tick grid as a limit price.
            (Some(stop), Some(qty)) => inst.check_order(false, req.side, stop, qty, Price::ZERO),
            _ => Ok(()),
        };
        use crate::core::instrument::FilterReject;
        match result.and(stop_check) {
            Ok(()) => Ok(()),
            Err(FilterReject::NotTrading { .. }) => {
                Err(Reject::order_rejected("Market is closed."))
            }
            Err(FilterReject::NotionalBelowMin { min_notional, .. }) if self.futures => {
                if req.reduce_only {
                    Ok(())
                } else {
                    Err(Reject::new(
                        -4164,
                        format!("Order's notional must be no smaller than {min_notional} (unless you choose reduce only)."),
                    ))
                }
            }
            Err(other) => Err(Reject::filter(other.filter().as_str())),
        }
    }

    /// Every check a new order must pass before funds are looked at.
    pub(super) fn validate(
        &self,
        req: &NewOrder,
        rules: &SymbolRules,
        book: Option<&dyn ReplayedBook>,
    ) -> Result<(), Reject> {
        let futures_account = req.account == AccountKind::Futures;
        if futures_account != self.futures {
            return Err(Reject::bad_symbol());
        }
        if self.futures {
            if req.order_type.trigger().is_some() {
                return Err(Reject::new(
                    -4120,
                    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
                ));
            }
        } else if !rules.allows(req.order_type) {
            let msg = match req.order_type {
                OrderType::Market => "Market orders are not supported for this symbol.",
                OrderType::StopLoss => "Stop loss orders are not supported for this symbol.",
                OrderType::StopLossLimit => {
                    "Stop loss limit orders are not supported for this symbol."
                }
                OrderType::TakeProfit => "Take profit orders are not supported for this symbol.",
                OrderType::TakeProfitLimit => {
                    "Take profit limit orders are not supported for this symbol."
                }
                _ => "Unsupported order combination",
            };
            return Err(Reject::order_rejected(msg));
        }
        if req.quote_qty.is_some() && !rules.quote_order_qty_market_allowed {
            return Err(Reject::order_rejected(
                "Quote order qty market orders are not support for this symbol.",
            ));
        }
        self.check_filters(rules, req)?;
        if let Some(id) = &req.client_order_id {
            if self.has_open_client_id(req.account, id) {
                return Err(Reject::duplicate());
            }
        }
        let inst = &rules.instrument;
        let conditional = req.order_type.trigger().is_some();
        let cap = if conditional {
            inst.max_num_algo_orders
        } else {
            inst.max_num_orders
        };
        if cap > 0 && self.open_order_count(req.account, &req.symbol, conditional) >= cap as usize {
            let name = if conditional {
                "MAX_NUM_ALGO_ORDERS"
            } else {
                "MAX_NUM_ORDERS"
            };
            return Err(Reject::filter(name));
        }
        let post_only =
            req.order_type == OrderType::LimitMaker || req.time_in_force == Some(Tif::Gtx);
        if post_only {
            let price = req.price.unwrap_or(Price::ZERO);
            let fresh = SymbolMatcher::default();
            let matcher = self.matchers.get(&req.symbol).unwrap_or(&fresh);
            let takes = book.is_some_and(|b| matcher.would_take(b, req.side, price));
            if takes {
                return Err(if self.futures {
                    Reject::new(-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
                } else {
                    Reject::order_rejected("Order would immediately match and take.")
                });
            }
        }
        if let (Some(trigger), Some(stop)) = (req.order_type.trigger(), req.stop_price) {
            let last = self.last_price(&req.symbol);
            if last.is_positive() && trigger.reached(req.side, last, stop) {
                return Err(Reject::order_rejected("Order would trigger immediately."));
            }
        }
        if self.futures && req.reduce_only {
            let position = self.futures_ledger.position_qty(&req.symbol);
            let reduces = match req.side {
                Side::Buy => position.raw() < 0,
                Side::Sell => position.raw() > 0,
            };
            if !reduces {
                return Err(Reject::new(-2022, "ReduceOnly Order is rejected."));
            }
        }
        Ok(())
    }
}
