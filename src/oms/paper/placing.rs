//! Owns: what happens when an order or an OCO list arrives: the checks a venue makes
//! (filters, open-order limits, reduce-only, would-trigger, would-take, funds) and its
//! acknowledgement. Never: fills anything itself (that is `matching`) or reads the clock.
//!
//! A stop or take-profit with a positive `price` is the limit kind (`STOP_LOSS_LIMIT`,
//! `TAKE_PROFIT_LIMIT`): once triggered it works as a GTC limit at that price.

use crate::core::decimal::mul_raw;
use crate::core::{
    Instrument, Market, Notional, OrderType, Price, Qty, Side, SymbolId, TimeInForce,
};
use crate::oms::portfolio::PairAssets;
use crate::oms::venue::{OcoOrder, RejectKind, VenueOrder, VenueReport};

use super::depth::Walk;
use super::orders::{stop_triggers, Outcome, PaperOrder, Stage};
use super::queue::QueueSpot;
use super::{
    code, funds_tracked, BeyondVisibleDepth, PaperVenue, SymbolState, CODE_NO_MARKET_DATA,
    CODE_ORDER_TABLE_FULL,
};

/// A market execution worked out before it happens: the visible pieces and the rest.
#[derive(Clone, Copy, Debug)]
pub(super) struct MarketPlan {
    pub(super) walk: Walk,
    /// Quantity beyond the visible levels and the price it fills at (`None`: it expires).
    pub(super) rest: Qty,
    pub(super) rest_price: Option<Price>,
}

impl PaperVenue {
    /// Last trade price, else the book mid, else zero (unknown).
    pub(super) fn reference_price(&self, symbol: SymbolId) -> Price {
        self.state(symbol).map_or(Price::ZERO, |s| {
            s.last_trade
                .map(|t| t.price)
                .or_else(|| s.liquidity.mid())
                .unwrap_or(Price::ZERO)
        })
    }

    pub(super) fn fee(&self, notional: Notional, is_maker: bool) -> Qty {
        let rate = if is_maker {
            self.config.maker_fee_rate
        } else {
            self.config.taker_fee_rate
        };
        Qty::from_raw(mul_raw(notional.raw(), rate.raw()).unwrap_or(i128::MAX))
    }

    /// Quote a buy of `qty` at up to `price` must hold, fee included at the higher rate.
    pub(super) fn buy_hold(&self, price: Price, qty: Qty) -> Qty {
        let rate = self.config.maker_fee_rate.max(self.config.taker_fee_rate);
        let notional = price.notional(qty).map_or(i128::MAX, |n| n.raw());
        let fee = mul_raw(notional, rate.raw()).unwrap_or(i128::MAX);
        Qty::from_raw(notional.saturating_add(fee))
    }

    /// What a market order of `qty` on `side` would do now.
    pub(super) fn market_plan(&self, symbol: SymbolId, side: Side, qty: Qty) -> Option<MarketPlan> {
        let state = self.state(symbol)?;
        let walk = state.liquidity.walk(side, qty, None);
        let rest = qty.saturating_sub(walk.qty);
        let rest_price = match self.config.beyond_visible_depth {
            _ if rest.is_zero() => None,
            BeyondVisibleDepth::ExpireRemainder => None,
            BeyondVisibleDepth::FillWithSlippage { ticks } => {
                let last = walk
                    .last_price()
                    .or_else(|| {
                        state
                            .liquidity
                            .takeable(side)
                            .as_slice()
                            .last()
                            .map(|l| l.price)
                    })
                    .or(state.last_trade.map(|t| t.price))?;
                let tick = state.instrument.price_filter.tick_size.max(Price::ZERO);
                let slip = Price::from_raw(tick.raw().saturating_mul(i128::from(ticks)));
                Some(match side {
                    Side::Buy => last.saturating_add(slip),
                    Side::Sell => {
                        let lower = last.saturating_sub(slip);
                        if lower.is_positive() {
                            lower
                        } else {
                            last
                        }
                    }
                })
            }
        };
        if walk.qty.is_zero() && rest_price.is_none() {
            return None;
        }
        Some(MarketPlan {
            walk,
            rest,
            rest_price,
        })
    }

    /// Quote (buy) or base (sell) a market plan spends, fee included for buys.
    pub(super) fn market_cost(&self, plan: &MarketPlan, side: Side, qty: Qty) -> Qty {
        match side {
            Side::Sell => qty,
            Side::Buy => {
                let mut notional = plan.walk.notional;
                if let Some(price) = plan.rest_price {
                    let rest = price.notional(plan.rest).unwrap_or(Notional::MAX);
                    notional = notional.saturating_add(rest);
                }
                Qty::from_raw(notional.raw()).saturating_add(self.fee(notional, false))
            }
        }
    }

    /// Checks a new order against the instrument, the account and the book.
    pub(super) fn validate(
        &self,
        order: &VenueOrder,
        state: &SymbolState,
    ) -> Result<(), (RejectKind, i32)> {
        let futures = order.market == Market::UsdmFutures;
        let reference = self.reference_price(order.symbol);
        let instrument = &state.instrument;
        let is_stop = matches!(
            order.order_type,
            OrderType::StopMarket | OrderType::TakeProfitMarket
        );
        let checked = match order.order_type {
            OrderType::Market => {
                instrument.check_order(true, order.side, Price::ZERO, order.qty, reference)
            }
            OrderType::Limit | OrderType::LimitMaker => {
                instrument.check_order(false, order.side, order.price, order.qty, reference)
            }
            OrderType::StopMarket | OrderType::TakeProfitMarket => instrument
                .check_order(false, order.side, order.trigger_price, order.qty, reference)
                .and_then(|()| {
                    // A stop-limit's limit is a limit price like any other.
                    if order.price.is_positive() {
                        instrument.check_order(false, order.side, order.price, order.qty, reference)
                    } else {
                        Ok(())
                    }
                }),
        };
        checked.map_err(|_| (RejectKind::Filter, code::FILTER))?;
        self.check_open_order_limits(order.symbol, 1, u32::from(is_stop), instrument)?;
        if futures && order.reduce_only {
            let position = self
                .account
                .position(Market::UsdmFutures, order.symbol)
                .map_or(Qty::ZERO, |p| p.qty);
            let reduces = match order.side {
                Side::Buy => position.raw() < 0,
                Side::Sell => position.is_positive(),
            };
            if !reduces {
                return Err((RejectKind::ReduceOnly, code::FUTURES_REDUCE_ONLY));
            }
        }
        let last_trade = state.last_trade.map(|t| t.price);
        if is_stop
            && last_trade.is_some_and(|last| {
                stop_triggers(order.order_type, order.side, order.trigger_price, last)
            })
        {
            let code = if futures {
                code::FUTURES_WOULD_TRIGGER
            } else {
                code::NEW_ORDER_REJECTED
            };
            return Err((RejectKind::WouldTrigger, code));
        }
        if order.order_type == OrderType::LimitMaker
            && state.liquidity.crosses(order.side, order.price)
        {
            let code = if futures {
                code::FUTURES_POST_ONLY
            } else {
                code::NEW_ORDER_REJECTED
            };
            return Err((RejectKind::WouldTake, code));
        }
        let plan = if order.order_type == OrderType::Market {
            Some(
                self.market_plan(order.symbol, order.side, order.qty)
                    .ok_or((RejectKind::Unavailable, CODE_NO_MARKET_DATA))?,
            )
        } else {
            None
        };
        if !funds_tracked(order) {
            return Ok(());
        }
        let (asset, needed) = match (order.side, plan) {
            (Side::Sell, _) => (state.assets.base, order.qty),
            (Side::Buy, Some(plan)) => (
                state.assets.quote,
                self.market_cost(&plan, Side::Buy, order.qty),
            ),
            (Side::Buy, None) => {
                let price = if is_stop {
                    order.trigger_price.max(order.price)
                } else {
                    order.price
                };
                (state.assets.quote, self.buy_hold(price, order.qty))
            }
        };
        if self.free(order.market, asset) < needed {
            return Err((RejectKind::InsufficientFunds, code::NEW_ORDER_REJECTED));
        }
        Ok(())
    }

    /// The instrument's `MAX_NUM_ORDERS` / `MAX_NUM_ALGO_ORDERS` for `adding` more orders of
    /// which `adding_stops` are stops.
    pub(super) fn check_open_order_limits(
        &self,
        symbol: SymbolId,
        adding: u32,
        adding_stops: u32,
        instrument: &Instrument,
    ) -> Result<(), (RejectKind, i32)> {
        let on_symbol = self
            .orders
            .iter()
            .filter(|o| !o.done && o.order.symbol == symbol);
        let (all, stops) = on_symbol.fold((0u32, 0u32), |(all, stops), o| {
            (all + 1, stops + u32::from(o.is_stop_leg()))
        });
        let over =
            |count: u32, adding: u32, max: u32| adding > 0 && max > 0 && count + adding > max;
        if over(all, adding, instrument.max_num_orders)
            || over(stops, adding_stops, instrument.max_num_algo_orders)
        {
            return Err((RejectKind::Filter, code::FILTER));
        }
        Ok(())
    }

    /// Places one order: validate, acknowledge, then execute or rest.
    pub(super) fn place(&mut self, order: VenueOrder) {
        let id = order.client_order_id;
        if self.open_index(id).is_some() {
            // Not remembered: the open order keeps answering queries for this id.
            return self.reject(id, RejectKind::Duplicate, code::NEW_ORDER_REJECTED, false);
        }
        if self.orders.len() >= self.config.max_open_orders {
            return self.reject(id, RejectKind::Unavailable, CODE_ORDER_TABLE_FULL, true);
        }
        let verdict = self
            .traded_state(order.symbol, order.market)
            .ok_or((RejectKind::BadSymbol, code::BAD_SYMBOL))
            .and_then(|state| self.validate(&order, state).map(|()| state.assets));
        let assets = match verdict {
            Ok(assets) => assets,
            Err((kind, code)) => return self.reject(id, kind, code, true),
        };
        let stage = match order.order_type {
            OrderType::Market => Stage::Taking,
            OrderType::Limit | OrderType::LimitMaker => Stage::Resting,
            OrderType::StopMarket | OrderType::TakeProfitMarket => Stage::Armed,
        };
        let is_stop = stage == Stage::Armed;
        let lock_price = if is_stop {
            order.trigger_price.max(order.price)
        } else {
            order.price
        };
        let index = self.accept(order, stage, lock_price, assets);
        if is_stop {
            self.orders[index].stop_limit = order.price.max(Price::ZERO);
        }
        match (order.order_type, order.time_in_force) {
            (OrderType::Market, _) => self.execute_market(index),
            (OrderType::Limit, TimeInForce::Fok) => {
                let covered = self.state(order.symbol).is_some_and(|s| {
                    s.liquidity
                        .walk(order.side, order.qty, Some(order.price))
                        .qty
                        == order.qty
                });
                if covered {
                    self.take_within_limit(index);
                } else {
                    self.finish(index, Outcome::Expired);
                }
            }
            (OrderType::Limit, TimeInForce::Ioc) => {
                self.take_within_limit(index);
                self.finish(index, Outcome::Expired);
            }
            (OrderType::Limit, TimeInForce::Gtc) => self.take_then_rest(index),
            _ => {}
        }
        self.start_queue(index);
    }

    /// Adds an accepted order to the table, acknowledges it and locks its funds.
    pub(super) fn accept(
        &mut self,
        order: VenueOrder,
        stage: Stage,
        lock_price: Price,
        assets: PairAssets,
    ) -> usize {
        let venue_order_id = self.next_venue_order_id;
        self.next_venue_order_id += 1;
        self.orders.push(PaperOrder {
            order,
            venue_order_id,
            filled: Qty::ZERO,
            stage,
            stop_limit: Price::ZERO,
            oco_sibling: None,
            shares_sibling_lock: false,
            lock_price,
            locked: Qty::ZERO,
            lock_asset: match order.side {
                Side::Buy => assets.quote,
                Side::Sell => assets.base,
            },
            done: false,
            queue: QueueSpot::default(),
        });
        self.stats.accepted += 1;
        self.report(VenueReport::Accepted {
            client_order_id: order.client_order_id,
            venue_order_id,
            venue_ts_ms: self.venue_ms,
        });
        let index = self.orders.len() - 1;
        self.relock(index);
        index
    }

    pub(super) fn place_oco(&mut self, oco: OcoOrder) {
        let legs = [oco.take_profit_id, oco.stop_id];
        let reject_both = |venue: &mut Self, kind, code, remember| {
            for id in legs {
                venue.reject(id, kind, code, remember);
            }
        };
        if oco.take_profit_id == oco.stop_id || legs.iter().any(|&id| self.open_index(id).is_some())
        {
            return reject_both(self, RejectKind::Duplicate, code::NEW_ORDER_REJECTED, false);
        }
        if self.orders.len() + 2 > self.config.max_open_orders {
            return reject_both(self, RejectKind::Unavailable, CODE_ORDER_TABLE_FULL, true);
        }
        let take_profit = VenueOrder {
            client_order_id: oco.take_profit_id,
            symbol: oco.symbol,
            market: oco.market,
            side: oco.side,
            order_type: OrderType::LimitMaker,
            time_in_force: TimeInForce::Gtc,
            price: oco.take_profit_price,
            trigger_price: Price::ZERO,
            qty: oco.qty,
            reduce_only: false,
            margin: oco.margin,
        };
        let stop = VenueOrder {
            client_order_id: oco.stop_id,
            order_type: OrderType::StopMarket,
            price: oco.stop_limit.max(Price::ZERO),
            trigger_price: oco.stop_trigger,
            ..take_profit
        };
        let verdict = self
            .traded_state(oco.symbol, oco.market)
            .ok_or((RejectKind::BadSymbol, code::BAD_SYMBOL))
            .and_then(|state| {
                self.validate_oco(&oco, &take_profit, &stop, state)
                    .map(|()| state.assets)
            });
        let assets = match verdict {
            Ok(assets) => assets,
            Err((kind, code)) => return reject_both(self, kind, code, true),
        };
        let worst_buy_price = oco
            .take_profit_price
            .max(oco.stop_trigger)
            .max(oco.stop_limit);
        let tp_index = self.accept(take_profit, Stage::Resting, worst_buy_price, assets);
        let stop_index = self.accept(
            stop,
            Stage::Armed,
            oco.stop_limit.max(oco.stop_trigger),
            assets,
        );
        self.orders[tp_index].oco_sibling = Some(oco.stop_id);
        let stop_leg = &mut self.orders[stop_index];
        stop_leg.oco_sibling = Some(oco.take_profit_id);
        stop_leg.shares_sibling_lock = true;
        stop_leg.stop_limit = oco.stop_limit.max(Price::ZERO);
        self.relock(tp_index);
        self.relock(stop_index);
        self.start_queue(tp_index);
    }

    pub(super) fn validate_oco(
        &self,
        oco: &OcoOrder,
        take_profit: &VenueOrder,
        stop: &VenueOrder,
        state: &SymbolState,
    ) -> Result<(), (RejectKind, i32)> {
        let reference = self.reference_price(oco.symbol);
        let instrument = &state.instrument;
        let filter = |price: Price| {
            instrument
                .check_order(false, oco.side, price, oco.qty, reference)
                .map_err(|_| (RejectKind::Filter, code::FILTER))
        };
        filter(oco.take_profit_price)?;
        filter(oco.stop_trigger)?;
        if oco.stop_limit.is_positive() {
            filter(oco.stop_limit)?;
        }
        self.check_open_order_limits(oco.symbol, 2, 1, instrument)?;
        let last = state.last_trade.map(|t| t.price);
        // Binance: a sell OCO needs take-profit > last > stop; a buy OCO the mirror image.
        let take_profit_takes = state.liquidity.crosses(oco.side, oco.take_profit_price)
            || last.is_some_and(|last| match oco.side {
                Side::Sell => oco.take_profit_price <= last,
                Side::Buy => oco.take_profit_price >= last,
            });
        if take_profit_takes {
            return Err((RejectKind::WouldTake, code::NEW_ORDER_REJECTED));
        }
        if last
            .is_some_and(|last| stop_triggers(stop.order_type, stop.side, stop.trigger_price, last))
        {
            return Err((RejectKind::WouldTrigger, code::NEW_ORDER_REJECTED));
        }
        if !funds_tracked(take_profit) {
            return Ok(());
        }
        let (asset, needed) = match oco.side {
            Side::Sell => (state.assets.base, oco.qty),
            Side::Buy => {
                let worst = oco
                    .take_profit_price
                    .max(oco.stop_trigger)
                    .max(oco.stop_limit);
                (state.assets.quote, self.buy_hold(worst, oco.qty))
            }
        };
        if self.free(oco.market, asset) < needed {
            return Err((RejectKind::InsufficientFunds, code::NEW_ORDER_REJECTED));
        }
        Ok(())
    }
}
