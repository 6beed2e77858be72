//! Owns: a grid-trading strategy for the backtest benchmarks, the same logic as
//! hftbacktest's `examples/algo.rs` `gridtrading` — every `requote_every_ns` of simulated
//! time, `levels` post-only bids and asks on a grid around the mid, skewed by the position,
//! with orders off the new grid canceled and missing ones placed, no new bids at
//! `+max_position` and no new asks at `-max_position`. Never: trades outside the normal
//! funnel (its orders are `OrderIntent`s to the risk rails, order manager and paper venue)
//! or allocates after construction; it is a benchmark load, not a strategy with an edge.

// Shared by two bench binaries (backtest, hftbacktest_compare); each uses a part.
#![allow(dead_code)]

use kestrel::core::decimal::{mul_div_raw, mul_raw};
use kestrel::core::{
    ClientOrderId, ExecEvent, IntentAction, MarketEvent, MarketEventKind, OrderIntent, OrderStatus,
    OrderType, Price, Qty, Ratio, Side, StrategyId, SymbolId, TimeInForce,
};
use kestrel::engine::stage::{Outbox, StrategyStage};

/// Grid settings (the hftbacktest example's parameters, in fixed point).
#[derive(Debug, Clone, Copy)]
pub struct GridSettings {
    pub strategy: StrategyId,
    pub symbol: SymbolId,
    /// Smallest grid interval (the example's `min_grid_step`); a multiple of the tick.
    pub min_grid_step: Price,
    /// Quote distance from the mid, relative (`relative_half_spread`).
    pub half_spread: Ratio,
    /// Grid interval, relative to the mid (`relative_grid_interval`).
    pub grid_interval: Ratio,
    /// Orders per side (`grid_num`).
    pub levels: usize,
    /// Quantity of each order (`order_qty`).
    pub qty: Qty,
    /// Position at which a side stops quoting (`max_position`).
    pub max_position: Qty,
    /// Re-quote cadence in simulated time (the example elapses 100 ms).
    pub requote_every_ns: u64,
}

impl GridSettings {
    /// The example's `skew = relative_half_spread / grid_num`.
    fn skew(&self) -> Ratio {
        Ratio::from_raw(self.half_spread.raw() / self.levels.max(1) as i128)
    }
}

/// One order of ours the grid knows about; `id` is zero until the order manager names it.
#[derive(Debug, Clone, Copy)]
struct GridOrder {
    id: ClientOrderId,
    side: Side,
    price: Price,
    cancel_sent: bool,
}

/// Most orders the grid tracks at once (two sides of `levels` plus those being canceled).
const MAX_ORDERS: usize = 128;

/// The grid strategy.
#[derive(Debug)]
pub struct GridStrategy {
    settings: GridSettings,
    best_bid: Price,
    best_ask: Price,
    book_valid: bool,
    /// Signed position from our fills, raw 1e-18 base units.
    position: i128,
    orders: Vec<GridOrder>,
    next_requote_ns: u64,
    seq: u64,
    /// Re-quotes done.
    pub requotes: u64,
    /// Fills seen.
    pub fills: u64,
    /// Rejected orders seen.
    pub rejects: u64,
    /// Orders not placed because the tracking table was full.
    pub table_full: u64,
}

impl GridStrategy {
    /// A grid with `settings`.
    pub fn new(settings: GridSettings) -> Self {
        Self {
            settings,
            best_bid: Price::ZERO,
            best_ask: Price::ZERO,
            book_valid: false,
            position: 0,
            orders: Vec::with_capacity(MAX_ORDERS),
            next_requote_ns: 0,
            seq: 0,
            requotes: 0,
            fills: 0,
            rejects: 0,
            table_full: 0,
        }
    }

    /// Signed position from our fills.
    pub fn position(&self) -> Qty {
        Qty::from_raw(self.position)
    }

    fn intent(&mut self, now_ns: u64) -> OrderIntent {
        self.seq += 1;
        OrderIntent {
            strategy: self.settings.strategy,
            intent_seq: self.seq,
            symbol: self.settings.symbol,
            cause_recv_ns: now_ns,
            ..OrderIntent::default()
        }
    }

    /// The example's quote computation: the first bid and ask of the grid, and its interval.
    fn grid(&self) -> Option<(Price, Price, Price)> {
        let s = &self.settings;
        let mid = self.best_bid.midpoint(self.best_ask);
        let qty = s.qty.raw();
        let normalized_position = mul_div_raw(self.position, Ratio::ONE.raw(), qty)?;
        let skewed = mul_raw(s.skew().raw(), normalized_position)?;
        let bid_depth = Ratio::from_raw(s.half_spread.raw() + skewed);
        let ask_depth = Ratio::from_raw(s.half_spread.raw() - skewed);
        let bid = mid
            .scaled(Ratio::from_raw(Ratio::ONE.raw() - bid_depth.raw()))?
            .min(self.best_bid);
        let ask = mid
            .scaled(Ratio::from_raw(Ratio::ONE.raw() + ask_depth.raw()))?
            .max(self.best_ask);
        // round(mid × interval / step) × step, at least one step.
        let step = s.min_grid_step.raw();
        let raw_interval = mid.scaled(s.grid_interval)?.raw();
        let interval = Price::from_raw(((raw_interval + step / 2) / step * step).max(step));
        Some((bid.floor_to(interval), ask.ceil_to(interval), interval))
    }

    fn requote(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>) {
        let Some((first_bid, first_ask, interval)) = self.grid() else {
            return;
        };
        self.requotes += 1;
        let levels = self.settings.levels as i128;
        let max = self.settings.max_position.raw();
        let bids_on = self.position < max;
        let asks_on = self.position > -max;
        // A price is on the new grid when it is one of the `levels` steps from the first.
        let on_grid = |side: Side, price: Price| -> bool {
            let (on, distance) = match side {
                Side::Buy => (bids_on, first_bid.raw() - price.raw()),
                Side::Sell => (asks_on, price.raw() - first_ask.raw()),
            };
            on && distance >= 0
                && distance % interval.raw() == 0
                && distance / interval.raw() < levels
        };
        // Cancel what is off the grid.
        for index in 0..self.orders.len() {
            let order = self.orders[index];
            if order.cancel_sent || order.id.0 == 0 || on_grid(order.side, order.price) {
                continue;
            }
            let mut intent = self.intent(now_ns);
            intent.action = IntentAction::Cancel;
            intent.target = order.id;
            intent.side = order.side;
            if intents.push(intent).is_ok() {
                self.orders[index].cancel_sent = true;
            }
        }
        // Place what is missing.
        for (side, on, first) in [
            (Side::Buy, bids_on, first_bid),
            (Side::Sell, asks_on, first_ask),
        ] {
            if !on {
                continue;
            }
            for level in 0..levels {
                let offset = interval.raw() * level;
                let price = Price::from_raw(match side {
                    Side::Buy => first.raw() - offset,
                    Side::Sell => first.raw() + offset,
                });
                if !price.is_positive()
                    || self
                        .orders
                        .iter()
                        .any(|o| o.side == side && o.price == price)
                {
                    continue;
                }
                if self.orders.len() >= MAX_ORDERS {
                    self.table_full += 1;
                    continue;
                }
                let mut intent = self.intent(now_ns);
                intent.side = side;
                intent.order_type = OrderType::LimitMaker;
                intent.time_in_force = TimeInForce::Gtc;
                intent.price = price;
                intent.qty = self.settings.qty;
                if intents.push(intent).is_err() {
                    return;
                }
                self.orders.push(GridOrder {
                    id: ClientOrderId(0),
                    side,
                    price,
                    cancel_sent: false,
                });
            }
        }
    }
}

impl StrategyStage for GridStrategy {
    fn on_market(&mut self, event: &MarketEvent, _intents: &mut Outbox<OrderIntent>) {
        if event.symbol != self.settings.symbol {
            return;
        }
        // The example reads the depth book (hftbacktest's L2 backtest does not apply BBO
        // events), so the grid follows the synced book, not bookTicker.
        if let MarketEventKind::Book(top) = &event.kind {
            self.book_valid = top.valid && top.bid_count > 0 && top.ask_count > 0;
            if self.book_valid {
                self.best_bid = top.bids[0].price;
                self.best_ask = top.asks[0].price;
            }
        }
    }

    fn on_exec(&mut self, event: &ExecEvent, _intents: &mut Outbox<OrderIntent>) {
        match event {
            ExecEvent::Fill(fill) if fill.strategy == self.settings.strategy => {
                self.fills += 1;
                self.position += match fill.side {
                    Side::Buy => fill.qty.raw(),
                    Side::Sell => -fill.qty.raw(),
                };
            }
            ExecEvent::Update(update) if update.strategy == self.settings.strategy => {
                let id = update.client_order_id;
                let known = self.orders.iter().position(|o| o.id == id).or_else(|| {
                    self.orders.iter().position(|o| {
                        o.id.0 == 0 && o.side == update.side && o.price == update.price
                    })
                });
                let Some(index) = known else {
                    return;
                };
                if update.status == OrderStatus::Rejected {
                    self.rejects += 1;
                }
                if update.status.is_final() {
                    self.orders.swap_remove(index);
                } else {
                    self.orders[index].id = id;
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>) {
        if now_ns < self.next_requote_ns {
            return;
        }
        let every = self.settings.requote_every_ns.max(1);
        self.next_requote_ns = (now_ns / every + 1) * every;
        if self.book_valid {
            self.requote(now_ns, intents);
        }
    }
}
