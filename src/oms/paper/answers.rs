//! Owns: the answers the venue gives about orders and the account it already holds: cancels,
//! order queries and reconciliation, all from its own state. Never: changes a fill or a balance.

use crate::core::{ClientOrderId, Market, Price, Qty, SymbolId};
use crate::oms::venue::{RejectKind, VenueOpenOrder, VenueReport};

use super::orders::Outcome;
use super::{code, reject_of, PaperVenue};

impl PaperVenue {
    pub(super) fn cancel(
        &mut self,
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        market: Market,
    ) {
        let index = self.open_index(client_order_id).filter(|&i| {
            let order = &self.orders[i].order;
            order.symbol == symbol && order.market == market
        });
        let Some(index) = index else {
            return self.report(VenueReport::CancelRejected {
                client_order_id,
                reject: reject_of(RejectKind::UnknownOrder, code::CANCEL_REJECTED),
            });
        };
        let sibling = self.orders[index].oco_sibling;
        self.finish(index, Outcome::Canceled);
        // Canceling one leg of an OCO cancels the list.
        if let Some(other) = sibling.and_then(|id| self.open_index(id)) {
            self.finish(other, Outcome::Canceled);
        }
    }

    pub(super) fn cancel_all(&mut self, symbol: SymbolId, market: Market) {
        for index in 0..self.orders.len() {
            let order = &self.orders[index].order;
            if order.symbol == symbol && order.market == market {
                self.finish(index, Outcome::Canceled);
            }
        }
    }

    /// Re-sends an order's fills still in the trade log.
    pub(super) fn report_fills_of(&mut self, client_order_id: ClientOrderId) {
        for index in 0..self.trades.len() {
            let fill = self.trades[index];
            if fill.client_order_id == client_order_id {
                self.report(VenueReport::Fill(fill));
            }
        }
    }

    pub(super) fn query(
        &mut self,
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        market: Market,
    ) {
        let accepted = |venue_order_id, venue: &Self| VenueReport::Accepted {
            client_order_id,
            venue_order_id,
            venue_ts_ms: venue.venue_ms,
        };
        let open = self.open_index(client_order_id).map(|i| self.orders[i]);
        if let Some(order) = open.filter(|o| o.order.symbol == symbol && o.order.market == market) {
            self.report(accepted(order.venue_order_id, self));
            return self.report_fills_of(client_order_id);
        }
        let closed = self
            .closed
            .iter()
            .rev()
            .find(|c| c.client_order_id == client_order_id)
            .copied();
        let Some(closed) = closed else {
            return self.report(VenueReport::Rejected {
                client_order_id,
                reject: reject_of(RejectKind::UnknownOrder, code::NO_SUCH_ORDER),
            });
        };
        if let Outcome::Rejected(reject) = closed.outcome {
            return self.report(VenueReport::Rejected {
                client_order_id,
                reject,
            });
        }
        self.report(accepted(closed.venue_order_id, self));
        self.report_fills_of(client_order_id);
        let venue_ts_ms = self.venue_ms;
        match closed.outcome {
            Outcome::Canceled => self.report(VenueReport::Canceled {
                client_order_id,
                venue_ts_ms,
            }),
            Outcome::Expired => self.report(VenueReport::Expired {
                client_order_id,
                venue_ts_ms,
            }),
            Outcome::Filled | Outcome::Rejected(_) => {}
        }
    }

    pub(super) fn reconcile(&mut self, symbol: SymbolId, market: Market, since_trade_id: u64) {
        let Some(assets) = self.traded_state(symbol, market).map(|s| s.assets) else {
            return self.report(VenueReport::ReconcileDone { symbol, ok: false });
        };
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.done || order.order.symbol != symbol || order.order.market != market {
                continue;
            }
            self.report(VenueReport::OpenOrder(VenueOpenOrder {
                client_order_id: Some(order.order.client_order_id),
                venue_order_id: order.venue_order_id,
                symbol,
                market,
                side: order.order.side,
                order_type: order.order.order_type,
                price: order.order.price,
                trigger_price: order.order.trigger_price,
                qty: order.order.qty,
                filled_qty: order.filled,
                reduce_only: order.order.reduce_only,
            }));
        }
        for index in 0..self.trades.len() {
            let fill = self.trades[index];
            if fill.symbol == symbol
                && fill.market == market
                && fill.venue_trade_id > since_trade_id
            {
                self.report(VenueReport::Fill(fill));
            }
        }
        // Futures report the settlement wallet; spot and margin both coins of the pair.
        let (balance_assets, count) = match market {
            Market::UsdmFutures => ([assets.quote, assets.quote], 1),
            Market::Spot | Market::Margin => ([assets.base, assets.quote], 2),
        };
        for &asset in &balance_assets[..count] {
            let locked = self.locked(market, asset);
            self.report(VenueReport::Balance {
                asset,
                free: self.account.balance(market, asset).saturating_sub(locked),
                locked,
            });
        }
        if market == Market::UsdmFutures {
            let (qty, entry_price) = self
                .account
                .position(market, symbol)
                .map_or((Qty::ZERO, Price::ZERO), |p| (p.qty, p.avg_entry_price));
            self.report(VenueReport::Position {
                symbol,
                qty,
                entry_price,
            });
        }
        // A trade newer than `since_trade_id` may have been evicted from the log.
        let ok = since_trade_id >= self.newest_evicted_trade_id;
        self.report(VenueReport::ReconcileDone { symbol, ok });
    }
}
