//! Owns: the JSON shapes of the control API's read endpoints, built from the order thread's
//! last [`EngineStatus`]: symbols by name, decimals as strings, enums by their snake_case
//! names, risk codes by `risk::codes::name`. Never: changes the snapshot or reads anything
//! but it and the symbol names (the snapshot's age is computed by the caller).

use std::borrow::Cow;

use serde::Serialize;

use crate::core::{Fill, Notional, OrderUpdate, Price, Qty, SymbolId};
use crate::engine::control::{
    BreakerStatus, EngineStatus, PositionRow, StrategyRow, STATUS_OPEN_ORDERS, STATUS_POSITIONS,
    STATUS_STRATEGIES,
};
use crate::risk::codes;

/// `GET /status`.
#[derive(Serialize)]
pub(super) struct StatusView {
    published_ns: u64,
    /// Time since the order thread published the snapshot (a stuck order thread shows here).
    snapshot_age_ms: u64,
    health: &'static str,
    mode: &'static str,
    kill_switch: bool,
    /// Why trading is halted or reduce-only (`null` while active).
    mode_cause: Option<&'static str>,
    reconciled: bool,
    equity: Notional,
    high_water_mark: Notional,
    drawdown_pct: f64,
    daily_drawdown_pct: f64,
    gross_exposure: Notional,
    venue_exposure: Notional,
    rejects_total: u64,
    breakers_tripped: usize,
    counts: Counts,
}

#[derive(Serialize)]
struct Counts {
    positions: usize,
    open_orders: usize,
    fills: usize,
    strategies: usize,
}

impl StatusView {
    pub(super) fn new(status: &EngineStatus, snapshot_age_ms: u64) -> Self {
        Self {
            published_ns: status.published_ns,
            snapshot_age_ms,
            health: status.health.as_str(),
            mode: status.mode.as_str(),
            kill_switch: status.kill_switch,
            mode_cause: (status.mode_cause != 0).then(|| codes::name(status.mode_cause)),
            reconciled: status.reconciled,
            equity: status.equity,
            high_water_mark: status.high_water_mark,
            drawdown_pct: status.drawdown_pct,
            daily_drawdown_pct: status.daily_drawdown_pct,
            gross_exposure: status.gross_exposure,
            venue_exposure: status.venue_exposure,
            rejects_total: status.rejects_total,
            breakers_tripped: status.breakers.iter().filter(|b| b.tripped).count(),
            counts: Counts {
                positions: status.position_count,
                open_orders: status.open_order_count,
                fills: status.fill_count,
                strategies: status.strategy_count,
            },
        }
    }
}

/// `GET /health`.
#[derive(Serialize)]
pub(super) struct HealthView {
    health: &'static str,
    mode: &'static str,
    kill_switch: bool,
    breakers: Vec<BreakerView>,
}

#[derive(Serialize)]
struct BreakerView {
    name: &'static str,
    /// The level the breaker raises when it trips.
    level: &'static str,
    tripped: bool,
    observed: f64,
    limit: f64,
}

impl HealthView {
    pub(super) fn new(status: &EngineStatus) -> Self {
        Self {
            health: status.health.as_str(),
            mode: status.mode.as_str(),
            kill_switch: status.kill_switch,
            breakers: status.breakers.iter().map(BreakerView::new).collect(),
        }
    }
}

impl BreakerView {
    fn new(breaker: &BreakerStatus) -> Self {
        Self {
            name: codes::name(breaker.cause),
            level: breaker.level.as_str(),
            tripped: breaker.tripped,
            observed: breaker.observed,
            limit: breaker.limit,
        }
    }
}

/// A list of rows, with the engine's total when the snapshot could not carry every row.
#[derive(Serialize)]
pub(super) struct ListView<T> {
    #[serde(flatten)]
    rows: Rows<T>,
    total: usize,
    truncated: bool,
}

/// The list under its own key (`positions`, `orders`, `strategies`).
#[derive(Serialize)]
enum Rows<T> {
    #[serde(rename = "positions")]
    Positions(Vec<T>),
    #[serde(rename = "orders")]
    Orders(Vec<T>),
    #[serde(rename = "strategies")]
    Strategies(Vec<T>),
}

impl<'a> ListView<PositionView<'a>> {
    pub(super) fn positions(status: &'a EngineStatus, names: &'a [String]) -> Self {
        let rows = status
            .positions()
            .iter()
            .map(|p| PositionView::new(p, names))
            .collect();
        Self::new(
            Rows::Positions(rows),
            status.position_count,
            STATUS_POSITIONS,
        )
    }
}

impl<'a> ListView<OrderView<'a>> {
    pub(super) fn orders(status: &'a EngineStatus, names: &'a [String]) -> Self {
        let rows = status
            .open_orders()
            .iter()
            .map(|o| OrderView::new(o, names))
            .collect();
        Self::new(
            Rows::Orders(rows),
            status.open_order_count,
            STATUS_OPEN_ORDERS,
        )
    }
}

impl ListView<StrategyView> {
    pub(super) fn strategies(status: &EngineStatus) -> Self {
        let rows = status.strategies().iter().map(StrategyView::new).collect();
        Self::new(
            Rows::Strategies(rows),
            status.strategy_count,
            STATUS_STRATEGIES,
        )
    }
}

impl<T> ListView<T> {
    fn new(rows: Rows<T>, total: usize, capacity: usize) -> Self {
        Self {
            rows,
            total,
            truncated: total > capacity,
        }
    }
}

/// `GET /fills`: the recent fills, oldest first.
#[derive(Serialize)]
pub(super) struct FillsView<'a> {
    fills: Vec<FillView<'a>>,
}

impl<'a> FillsView<'a> {
    pub(super) fn new(status: &'a EngineStatus, names: &'a [String]) -> Self {
        Self {
            fills: status
                .fills()
                .iter()
                .map(|f| FillView::new(f, names))
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct PositionView<'a> {
    symbol: Cow<'a, str>,
    /// Signed base quantity (negative: short).
    qty: Qty,
    avg_entry_price: Price,
    mark: Price,
    unrealized_pnl: Notional,
    realized_pnl: Notional,
}

impl<'a> PositionView<'a> {
    fn new(row: &PositionRow, names: &'a [String]) -> Self {
        Self {
            symbol: symbol_name(names, row.symbol),
            qty: row.qty,
            avg_entry_price: row.avg_entry_price,
            mark: row.mark,
            unrealized_pnl: row.unrealized_pnl,
            realized_pnl: row.realized_pnl,
        }
    }
}

#[derive(Serialize)]
pub(super) struct OrderView<'a> {
    client_order_id: String,
    /// 0 until the venue acknowledged the order.
    venue_order_id: u64,
    strategy: u16,
    symbol: Cow<'a, str>,
    side: String,
    status: String,
    order_type: String,
    time_in_force: String,
    role: String,
    reduce_only: bool,
    price: Price,
    trigger_price: Price,
    qty: Qty,
    filled_qty: Qty,
    /// The entry a bracket order protects (`null` for entries).
    parent: Option<String>,
}

impl<'a> OrderView<'a> {
    fn new(order: &OrderUpdate, names: &'a [String]) -> Self {
        Self {
            client_order_id: order.client_order_id.to_string(),
            venue_order_id: order.venue_order_id,
            strategy: order.strategy.0,
            symbol: symbol_name(names, order.symbol),
            side: snake_case(order.side.as_str()),
            status: snake_case(order.status.as_str()),
            order_type: snake_case(order.order_type.as_str()),
            time_in_force: snake_case(order.time_in_force.as_str()),
            role: snake_case(order.role.as_str()),
            reduce_only: order.reduce_only,
            price: order.price,
            trigger_price: order.trigger_price,
            qty: order.qty,
            filled_qty: order.filled_qty,
            parent: (order.parent.0 != 0).then(|| order.parent.to_string()),
        }
    }
}

#[derive(Serialize)]
pub(super) struct FillView<'a> {
    client_order_id: String,
    strategy: u16,
    symbol: Cow<'a, str>,
    side: String,
    price: Price,
    qty: Qty,
    /// In the quote currency.
    fee: Notional,
    venue_trade_id: u64,
    is_maker: bool,
}

impl<'a> FillView<'a> {
    fn new(fill: &Fill, names: &'a [String]) -> Self {
        Self {
            client_order_id: fill.client_order_id.to_string(),
            strategy: fill.strategy.0,
            symbol: symbol_name(names, fill.symbol),
            side: snake_case(fill.side.as_str()),
            price: fill.price,
            qty: fill.qty,
            fee: fill.fee,
            venue_trade_id: fill.venue_trade_id,
            is_maker: fill.is_maker,
        }
    }
}

#[derive(Serialize)]
pub(super) struct StrategyView {
    id: u16,
    mode: &'static str,
    /// Gross notional of its position and open orders.
    exposure: Notional,
    budget: Notional,
}

impl StrategyView {
    fn new(row: &StrategyRow) -> Self {
        Self {
            id: row.strategy.0,
            mode: row.mode.as_str(),
            exposure: row.exposure,
            budget: row.budget,
        }
    }
}

/// The symbol's name, or `sym#<id>` for an id the names do not cover.
fn symbol_name(names: &[String], id: SymbolId) -> Cow<'_, str> {
    match names.get(id.index()) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(format!("sym#{}", id.0)),
    }
}

/// The core enums' upper-case wire-neutral names (`LIMIT_MAKER`) in snake_case.
fn snake_case(upper: &str) -> String {
    upper.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{ClientOrderId, OrderRole, OrderStatus, OrderType, Side, StrategyId};

    #[test]
    fn an_order_renders_names_decimals_and_snake_case_enums() {
        let names = vec!["BTCUSDT".to_owned()];
        let order = OrderUpdate {
            client_order_id: ClientOrderId((3 << 40) | 17),
            strategy: StrategyId(2),
            symbol: SymbolId(0),
            side: Side::Sell,
            status: OrderStatus::PartiallyFilled,
            order_type: OrderType::LimitMaker,
            role: OrderRole::StopLoss,
            price: Price::parse("56123.45").expect("valid"),
            qty: Qty::parse("0.0020").expect("valid"),
            parent: ClientOrderId((3 << 40) | 16),
            ..OrderUpdate::default()
        };
        let json = serde_json::to_value(OrderView::new(&order, &names)).expect("serializes");
        assert_eq!(json["client_order_id"], "ks3-17");
        assert_eq!(json["parent"], "ks3-16");
        assert_eq!(json["symbol"], "BTCUSDT");
        assert_eq!(json["side"], "sell");
        assert_eq!(json["status"], "partially_filled");
        assert_eq!(json["order_type"], "limit_maker");
        assert_eq!(json["time_in_force"], "gtc");
        assert_eq!(json["role"], "stop_loss");
        assert_eq!(json["price"], "56123.45");
        assert_eq!(json["qty"], "0.002");
        let unnamed = OrderUpdate {
            symbol: SymbolId(9),
            ..order
        };
        let json = serde_json::to_value(OrderView::new(&unnamed, &names)).expect("serializes");
        assert_eq!(json["symbol"], "sym#9");
    }

    #[test]
    fn lists_say_when_the_snapshot_could_not_carry_every_row() {
        let mut status = EngineStatus {
            open_order_count: STATUS_OPEN_ORDERS + 5,
            ..EngineStatus::default()
        };
        let json = serde_json::to_value(ListView::orders(&status, &[])).expect("serializes");
        assert_eq!(json["total"], STATUS_OPEN_ORDERS + 5);
        assert_eq!(json["truncated"], true);
        assert_eq!(
            json["orders"].as_array().map(Vec::len),
            Some(STATUS_OPEN_ORDERS)
        );
        status.open_order_count = 1;
        let json = serde_json::to_value(ListView::orders(&status, &[])).expect("serializes");
        assert_eq!(json["truncated"], false);
        assert_eq!(json["orders"].as_array().map(Vec::len), Some(1));
    }
}
