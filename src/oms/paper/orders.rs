//! Owns: one paper order's state and the rules that depend on it alone: what is left, when a
//! stop triggers, which funds it holds. Never: touches the book, the account or the reports.

use crate::core::{AssetName, ClientOrderId, OrderType, Price, Qty, Side};
use crate::oms::venue::VenueOrder;

use super::queue::QueueSpot;

/// Where an order is in its life at the paper venue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// Executing as a taker right now (a market order, a triggered stop-market).
    Taking,
    /// A limit resting on the book as a passive order, filled by crossing books and trades.
    Resting,
    /// A limit whose rest was still marketable when it started resting (the visible book
    /// crossed it and ran out inside its limit): it keeps taking, at the book's and the
    /// trades' prices, until an update shows the book no longer crosses it.
    StillTaking,
    /// A stop or take-profit waiting for its trigger.
    Armed,
}

/// Why an order left the table, kept to answer later queries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Filled,
    Canceled,
    Expired,
    Rejected(crate::oms::venue::VenueReject),
}

/// An order the paper venue holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PaperOrder {
    /// The order as placed; a triggered stop-limit leg becomes a `Limit` at its limit price.
    pub order: VenueOrder,
    pub venue_order_id: u64,
    pub filled: Qty,
    pub stage: Stage,
    /// Limit price a stop leg rests at once triggered; zero: it executes as a market order.
    pub stop_limit: Price,
    /// The other leg of an OCO, while both are open.
    pub oco_sibling: Option<ClientOrderId>,
    /// An OCO stop leg whose funds the take-profit leg holds for both.
    pub shares_sibling_lock: bool,
    /// Price a buy's locked quote is computed at (its limit, trigger, or an OCO's worst leg).
    pub lock_price: Price,
    /// Amount of `lock_asset` held for this order now.
    pub locked: Qty,
    /// Quote asset for buys, base asset for sells.
    pub lock_asset: AssetName,
    /// Left the table (filled, canceled, expired); removed at the end of the step.
    pub done: bool,
    /// Place in the queue at its price while resting (queue models only).
    pub queue: QueueSpot,
}

impl PaperOrder {
    /// Quantity not filled yet.
    pub fn remaining(&self) -> Qty {
        self.order.qty.saturating_sub(self.filled).max(Qty::ZERO)
    }

    /// True for the stop leg of an OCO and for stand-alone stops and take-profits.
    pub fn is_stop_leg(&self) -> bool {
        matches!(
            self.order.order_type,
            OrderType::StopMarket | OrderType::TakeProfitMarket
        ) || self.stop_limit.is_positive()
    }
}

/// Whether a stop of `order_type` on `side` with `trigger` fires at the traded `price`.
/// A stop buys on a rise and sells on a fall; a take-profit the other way round.
pub fn stop_triggers(order_type: OrderType, side: Side, trigger: Price, price: Price) -> bool {
    match (order_type, side) {
        (OrderType::StopMarket, Side::Buy) | (OrderType::TakeProfitMarket, Side::Sell) => {
            price >= trigger
        }
        (OrderType::StopMarket, Side::Sell) | (OrderType::TakeProfitMarket, Side::Buy) => {
            price <= trigger
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_fire_with_the_move_and_take_profits_against_it() {
        let (trigger, above, below) = (
            Price::from_int(100),
            Price::from_int(101),
            Price::from_int(99),
        );
        assert!(stop_triggers(
            OrderType::StopMarket,
            Side::Buy,
            trigger,
            above
        ));
        assert!(stop_triggers(
            OrderType::StopMarket,
            Side::Buy,
            trigger,
            trigger
        ));
        assert!(!stop_triggers(
            OrderType::StopMarket,
            Side::Buy,
            trigger,
            below
        ));
        assert!(stop_triggers(
            OrderType::StopMarket,
            Side::Sell,
            trigger,
            below
        ));
        assert!(!stop_triggers(
            OrderType::StopMarket,
            Side::Sell,
            trigger,
            above
        ));
        assert!(stop_triggers(
            OrderType::TakeProfitMarket,
            Side::Sell,
            trigger,
            above
        ));
        assert!(!stop_triggers(
            OrderType::TakeProfitMarket,
            Side::Sell,
            trigger,
            below
        ));
        assert!(stop_triggers(
            OrderType::TakeProfitMarket,
            Side::Buy,
            trigger,
            below
        ));
        assert!(!stop_triggers(OrderType::Limit, Side::Buy, trigger, above));
    }
}
