//! Owns: venue-neutral instrument descriptions and the exchange filters an order must pass.
//! Never: parses a venue's wire format, reads the clock, or uses floats for prices or sizes.
//!
//! A zero bound, step or tick means "rule disabled", as on Binance: real spot data sends
//! `MARKET_LOT_SIZE` with `stepSize:"0.00000000"`, so no rule here divides by a step
//! without checking it first.

use super::decimal::{Notional, Price, Qty, Ratio};
use super::event::Side;

mod check;

pub use check::{ExchangeFilter, FilterReject};

/// Which market an instrument trades on; it decides whose filter semantics apply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Market {
    /// Spot (cash) market.
    #[default]
    Spot,
    /// Cross or isolated margin, trading the spot symbols under the spot filters.
    Margin,
    /// USDⓈ-margined futures (perpetual and delivery).
    UsdmFutures,
}

/// Whether the venue currently accepts orders for an instrument.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum InstrumentStatus {
    /// Open for orders.
    Trading,
    /// Listed but not open yet (pre-trading, pending).
    PreTrading,
    /// Temporarily stopped (break, halt, auction).
    Halted,
    /// Not tradable (closed, settling, delivered, delisted, or a status we do not know).
    Closed,
}

/// Price bounds and tick (`PRICE_FILTER`); each rule is disabled when its value is zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PriceFilter {
    /// Lowest accepted price.
    pub min_price: Price,
    /// Highest accepted price.
    pub max_price: Price,
    /// Price grid spacing, counted from `min_price`.
    pub tick_size: Price,
}

/// Quantity bounds and step (`LOT_SIZE`, `MARKET_LOT_SIZE`); each rule disabled at zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LotSizeFilter {
    /// Smallest accepted quantity.
    pub min_qty: Qty,
    /// Largest accepted quantity.
    pub max_qty: Qty,
    /// Quantity grid spacing, counted from `min_qty`.
    pub step_size: Qty,
}

/// Notional bounds (`MIN_NOTIONAL` or `NOTIONAL`); a zero bound is disabled.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NotionalFilter {
    /// Smallest accepted price × quantity.
    pub min_notional: Notional,
    /// Whether market orders are held to `min_notional` (at the reference price).
    pub apply_min_to_market: bool,
    /// Largest accepted price × quantity.
    pub max_notional: Notional,
    /// Whether market orders are held to `max_notional`.
    pub apply_max_to_market: bool,
    /// Minutes of the average price the venue uses as reference (0: last price).
    pub avg_price_mins: u32,
    /// True when the venue sent it as `NOTIONAL` rather than `MIN_NOTIONAL`.
    pub named_notional: bool,
}

/// Allowed price band around the reference price (the `PERCENT_PRICE` family).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PercentPriceFilter {
    /// No band.
    #[default]
    Disabled,
    /// Spot `PERCENT_PRICE`: every limit price within [ref × down, ref × up].
    Band {
        /// Upper multiplier.
        multiplier_up: Ratio,
        /// Lower multiplier.
        multiplier_down: Ratio,
        /// Minutes of the average price used as reference.
        avg_price_mins: u32,
    },
    /// Spot `PERCENT_PRICE_BY_SIDE`: one band for bids, one for asks.
    BySide {
        /// Upper multiplier for buys.
        bid_multiplier_up: Ratio,
        /// Lower multiplier for buys.
        bid_multiplier_down: Ratio,
        /// Upper multiplier for sells.
        ask_multiplier_up: Ratio,
        /// Lower multiplier for sells.
        ask_multiplier_down: Ratio,
        /// Minutes of the average price used as reference.
        avg_price_mins: u32,
    },
    /// USDⓈ-M `PERCENT_PRICE` around the mark price: buys ≤ mark × up, sells ≥ mark × down.
    MarkBand {
        /// Cap multiplier for buys.
        multiplier_up: Ratio,
        /// Floor multiplier for sells.
        multiplier_down: Ratio,
        /// Decimals the venue quotes the multipliers with.
        multiplier_decimals: u32,
    },
}

/// An order kind a venue may or may not accept on an instrument (Binance exchangeInfo
/// `orderTypes`; spot `STOP_LOSS` / futures `STOP_MARKET` are both `StopMarket`, and so on).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderKind {
    /// `LIMIT`.
    Limit = 0,
    /// Post-only limit (spot `LIMIT_MAKER`).
    LimitMaker = 1,
    /// `MARKET`.
    Market = 2,
    /// A stop that becomes a market order (spot `STOP_LOSS`, futures `STOP_MARKET`).
    StopMarket = 3,
    /// A stop that becomes a limit order (spot `STOP_LOSS_LIMIT`, futures `STOP`).
    StopLimit = 4,
    /// A take-profit that becomes a market order (spot `TAKE_PROFIT`, futures
    /// `TAKE_PROFIT_MARKET`).
    TakeProfitMarket = 5,
    /// A take-profit that becomes a limit order (spot `TAKE_PROFIT_LIMIT`, futures
    /// `TAKE_PROFIT`).
    TakeProfitLimit = 6,
}

/// The order kinds an instrument accepts; every kind unless the venue listed fewer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OrderKinds(u8);

impl OrderKinds {
    /// Every kind (the venue did not say, so nothing is refused locally).
    pub const ALL: Self = Self(0x7f);
    /// No kind (the start of a list read from the venue).
    pub const NONE: Self = Self(0);

    /// This set with `kind` added.
    pub const fn with(self, kind: OrderKind) -> Self {
        Self(self.0 | 1 << kind as u8)
    }

    /// True when the venue accepts `kind`.
    pub const fn allows(self, kind: OrderKind) -> bool {
        self.0 & 1 << kind as u8 != 0
    }
}

impl Default for OrderKinds {
    fn default() -> Self {
        Self::ALL
    }
}

/// One tradable instrument with the venue's filters, in venue-neutral terms.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Instrument {
    /// The venue's symbol name, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Market the filters belong to.
    pub market: Market,
    /// Asset bought or sold.
    pub base_asset: String,
    /// Asset prices and notionals are quoted in.
    pub quote_asset: String,
    /// Whether orders are accepted now.
    pub status: InstrumentStatus,
    /// `PRICE_FILTER`.
    pub price_filter: PriceFilter,
    /// `LOT_SIZE`, for every order.
    pub lot_size: LotSizeFilter,
    /// `MARKET_LOT_SIZE`, for market orders on top of `lot_size`.
    pub market_lot_size: LotSizeFilter,
    /// `MIN_NOTIONAL` / `NOTIONAL`.
    pub notional: NotionalFilter,
    /// `PERCENT_PRICE` / `PERCENT_PRICE_BY_SIDE`.
    pub percent_price: PercentPriceFilter,
    /// Most open orders allowed on the symbol (0: no limit sent).
    pub max_num_orders: u32,
    /// Most open algo (stop / take-profit) orders allowed (0: no limit sent).
    pub max_num_algo_orders: u32,
    /// Most price decimals the venue accepts in a request.
    pub price_decimals: u32,
    /// Most quantity decimals the venue accepts in a request.
    pub qty_decimals: u32,
    /// Order kinds the venue accepts (exchangeInfo `orderTypes`).
    pub order_kinds: OrderKinds,
}

/// Largest point of the grid `origin + k·step` that is ≤ `value` (unchanged for step ≤ 0).
fn floor_on_grid(value: i128, origin: i128, step: i128) -> i128 {
    if step <= 0 {
        return value;
    }
    value.saturating_sub(value.saturating_sub(origin).rem_euclid(step))
}

/// Smallest point of the grid `origin + k·step` that is ≥ `value` (unchanged for step ≤ 0).
fn ceil_on_grid(value: i128, origin: i128, step: i128) -> i128 {
    match value.saturating_sub(origin).rem_euclid(step.max(1)) {
        rest if step <= 0 || rest == 0 => value,
        rest => value.saturating_add(step - rest),
    }
}

impl Instrument {
    /// An instrument open for trading with every filter disabled and 18-decimal precision.
    pub fn new(symbol: &str, market: Market, base_asset: &str, quote_asset: &str) -> Self {
        Self {
            symbol: symbol.to_string(),
            market,
            base_asset: base_asset.to_string(),
            quote_asset: quote_asset.to_string(),
            status: InstrumentStatus::Trading,
            price_filter: PriceFilter::default(),
            lot_size: LotSizeFilter::default(),
            market_lot_size: LotSizeFilter::default(),
            notional: NotionalFilter::default(),
            percent_price: PercentPriceFilter::default(),
            max_num_orders: 0,
            max_num_algo_orders: 0,
            price_decimals: super::decimal::SCALE_DIGITS,
            qty_decimals: super::decimal::SCALE_DIGITS,
            order_kinds: OrderKinds::ALL,
        }
    }

    /// `qty` floored onto the `LOT_SIZE` grid, never below zero (unchanged when step is 0).
    pub fn round_qty_down(&self, qty: Qty) -> Qty {
        let lot = &self.lot_size;
        let floored = floor_on_grid(qty.raw(), lot.min_qty.raw(), lot.step_size.raw());
        Qty::from_raw(floored.max(0))
    }

    /// `price` moved onto the tick grid: passive orders floor buys and ceil sells (never
    /// cross further), aggressive ones do the opposite (never cross less).
    pub fn round_price(&self, price: Price, side: Side, passive: bool) -> Price {
        let filter = &self.price_filter;
        let (raw, origin, tick) = (price.raw(), filter.min_price.raw(), filter.tick_size.raw());
        let floor = (side == Side::Buy) == passive;
        Price::from_raw(if floor {
            floor_on_grid(raw, origin, tick)
        } else {
            ceil_on_grid(raw, origin, tick)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn p(text: &str) -> Price {
        Price::parse(text).expect("test literal is a valid decimal")
    }
    pub(super) fn q(text: &str) -> Qty {
        Qty::parse(text).expect("test literal is a valid decimal")
    }
    pub(super) fn r(text: &str) -> Ratio {
        Ratio::parse(text).expect("test literal is a valid decimal")
    }

    pub(super) fn spot_ethbtc() -> Instrument {
        let mut inst = Instrument::new("ETHBTC", Market::Spot, "ETH", "BTC");
        inst.price_filter = PriceFilter {
            min_price: p("0.000001"),
            max_price: p("922327"),
            tick_size: p("0.000001"),
        };
        inst.lot_size = LotSizeFilter {
            min_qty: q("0.0001"),
            max_qty: q("100000"),
            step_size: q("0.0001"),
        };
        inst.market_lot_size = LotSizeFilter {
            min_qty: Qty::ZERO,
            max_qty: q("873.90727776"),
            step_size: Qty::ZERO,
        };
        inst.notional = NotionalFilter {
            min_notional: Notional::parse("0.0001").expect("valid"),
            apply_min_to_market: true,
            avg_price_mins: 5,
            ..NotionalFilter::default()
        };
        inst.percent_price = PercentPriceFilter::Band {
            multiplier_up: r("5"),
            multiplier_down: r("0.2"),
            avg_price_mins: 5,
        };
        inst
    }

    #[test]
    fn rounding_floors_quantity_and_moves_price_away_from_crossing_when_passive() {
        let inst = spot_ethbtc();
        assert_eq!(inst.round_qty_down(q("1.23456789")), q("1.2345"));
        assert_eq!(inst.round_qty_down(q("0.00005")), Qty::ZERO);
        assert_eq!(
            inst.round_price(p("0.0712345"), Side::Buy, true),
            p("0.071234")
        );
        assert_eq!(
            inst.round_price(p("0.0712345"), Side::Sell, true),
            p("0.071235")
        );
        assert_eq!(
            inst.round_price(p("0.0712345"), Side::Buy, false),
            p("0.071235")
        );
        assert_eq!(
            inst.round_price(p("0.0712345"), Side::Sell, false),
            p("0.071234")
        );
        assert_eq!(
            inst.round_price(p("0.071234"), Side::Sell, true),
            p("0.071234")
        );
    }

    #[test]
    fn order_kinds_allow_only_what_was_added_and_default_to_everything() {
        let listed = OrderKinds::NONE
            .with(OrderKind::Limit)
            .with(OrderKind::StopLimit);
        assert!(listed.allows(OrderKind::Limit));
        assert!(listed.allows(OrderKind::StopLimit));
        assert!(!listed.allows(OrderKind::StopMarket));
        assert!(!listed.allows(OrderKind::Market));
        let bare = Instrument::new("X", Market::Spot, "A", "B");
        assert!(bare.order_kinds.allows(OrderKind::StopMarket));
        assert!(bare.order_kinds.allows(OrderKind::TakeProfitLimit));
        assert_eq!(OrderKinds::default(), OrderKinds::ALL);
    }

    proptest::proptest! {
        #[test]
        fn rounded_values_land_on_the_grid_on_the_promised_side(
            value in -1_000_000_000_000_000_000_000i128..1_000_000_000_000_000_000_000,
            origin in 0i128..1_000_000_000_000_000_000_000,
            step in 1i128..1_000_000_000_000_000_000_000,
            sell: bool,
            passive: bool,
        ) {
            let mut inst = Instrument::new("ANY", Market::Spot, "A", "B");
            inst.price_filter.min_price = Price::from_raw(origin);
            inst.price_filter.tick_size = Price::from_raw(step);
            inst.lot_size.min_qty = Qty::from_raw(origin);
            inst.lot_size.step_size = Qty::from_raw(step);
            let side = if sell { Side::Sell } else { Side::Buy };
            let rounded = inst.round_price(Price::from_raw(value), side, passive).raw();
            proptest::prop_assert_eq!((rounded - origin).rem_euclid(step), 0);
            proptest::prop_assert!((rounded - value).abs() < step);
            let floors = (side == Side::Buy) == passive;
            let on_promised_side = if floors { rounded <= value } else { rounded >= value };
            proptest::prop_assert!(on_promised_side);
            let qty = inst.round_qty_down(Qty::from_raw(value)).raw();
            proptest::prop_assert!(qty >= 0 && qty <= value.max(0));
            if qty > 0 {
                proptest::prop_assert_eq!((qty - origin).rem_euclid(step), 0);
            }
        }
    }
}
