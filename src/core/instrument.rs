//! Owns: venue-neutral instrument descriptions and the exchange filters an order must pass.
//! Never: parses a venue's wire format, reads the clock, or uses floats for prices or sizes.
//!
//! A zero bound, step or tick means "rule disabled", as on Binance: real spot data sends
//! `MARKET_LOT_SIZE` with `stepSize:"0.00000000"`, so no rule here divides by a step
//! without checking it first.

use std::fmt;

use super::decimal::{Notional, Price, Qty, Ratio};
use super::event::Side;

/// Which market an instrument trades on; it decides whose filter semantics apply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Market {
    /// Spot (cash) market.
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
}

/// The venue filter an order failed, named as Binance names it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ExchangeFilter {
    /// The instrument's trading status (not a Binance filter, checked first).
    Status,
    /// `PRICE_FILTER`.
    PriceFilter,
    /// `PERCENT_PRICE`.
    PercentPrice,
    /// `PERCENT_PRICE_BY_SIDE`.
    PercentPriceBySide,
    /// `LOT_SIZE`.
    LotSize,
    /// `MARKET_LOT_SIZE`.
    MarketLotSize,
    /// `MIN_NOTIONAL`.
    MinNotional,
    /// `NOTIONAL`.
    Notional,
}

impl ExchangeFilter {
    /// The venue's name for the filter.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExchangeFilter::Status => "STATUS",
            ExchangeFilter::PriceFilter => "PRICE_FILTER",
            ExchangeFilter::PercentPrice => "PERCENT_PRICE",
            ExchangeFilter::PercentPriceBySide => "PERCENT_PRICE_BY_SIDE",
            ExchangeFilter::LotSize => "LOT_SIZE",
            ExchangeFilter::MarketLotSize => "MARKET_LOT_SIZE",
            ExchangeFilter::MinNotional => "MIN_NOTIONAL",
            ExchangeFilter::Notional => "NOTIONAL",
        }
    }
}

impl fmt::Display for ExchangeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an order fails the instrument's filters; `Display` reads like Binance's -1013 message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum FilterReject {
    #[error("Filter failure: STATUS (symbol is {status:?}, not trading)")]
    NotTrading { status: InstrumentStatus },
    #[error("Filter failure: PRICE_FILTER (price {price} is not positive)")]
    PriceNotPositive { price: Price },
    #[error("Filter failure: PRICE_FILTER (price {price} below minPrice {min_price})")]
    PriceBelowMin { price: Price, min_price: Price },
    #[error("Filter failure: PRICE_FILTER (price {price} above maxPrice {max_price})")]
    PriceAboveMax { price: Price, max_price: Price },
    #[error("Filter failure: PRICE_FILTER (price {price} off the tickSize {tick_size} grid)")]
    PriceOffTick { price: Price, tick_size: Price },
    #[error("Filter failure: {filter} (price {price} outside [{low}, {high}] around {reference})")]
    PriceOutsideBand {
        filter: ExchangeFilter,
        price: Price,
        low: Price,
        high: Price,
        reference: Price,
    },
    #[error("Filter failure: {filter} (quantity {qty} is not positive)")]
    QtyNotPositive { filter: ExchangeFilter, qty: Qty },
    #[error("Filter failure: {filter} (quantity {qty} below minQty {min_qty})")]
    QtyBelowMin {
        filter: ExchangeFilter,
        qty: Qty,
        min_qty: Qty,
    },
    #[error("Filter failure: {filter} (quantity {qty} above maxQty {max_qty})")]
    QtyAboveMax {
        filter: ExchangeFilter,
        qty: Qty,
        max_qty: Qty,
    },
    #[error("Filter failure: {filter} (quantity {qty} off the stepSize {step_size} grid)")]
    QtyOffStep {
        filter: ExchangeFilter,
        qty: Qty,
        step_size: Qty,
    },
    #[error("Filter failure: {filter} (notional {notional} below {min_notional})")]
    NotionalBelowMin {
        filter: ExchangeFilter,
        notional: Notional,
        min_notional: Notional,
    },
    #[error("Filter failure: {filter} (notional {notional} above {max_notional})")]
    NotionalAboveMax {
        filter: ExchangeFilter,
        notional: Notional,
        max_notional: Notional,
    },
}

impl FilterReject {
    /// Stable numeric code for counters and the journal; never renumbered.
    pub const fn code(&self) -> u16 {
        match self {
            FilterReject::NotTrading { .. } => 1,
            FilterReject::PriceNotPositive { .. } => 10,
            FilterReject::PriceBelowMin { .. } => 11,
            FilterReject::PriceAboveMax { .. } => 12,
            FilterReject::PriceOffTick { .. } => 13,
            FilterReject::PriceOutsideBand { .. } => 20,
            FilterReject::QtyNotPositive { .. } => 30,
            FilterReject::QtyBelowMin { .. } => 31,
            FilterReject::QtyAboveMax { .. } => 32,
            FilterReject::QtyOffStep { .. } => 33,
            FilterReject::NotionalBelowMin { .. } => 40,
            FilterReject::NotionalAboveMax { .. } => 41,
        }
    }

    /// The filter that rejected the order.
    pub const fn filter(&self) -> ExchangeFilter {
        match self {
            FilterReject::NotTrading { .. } => ExchangeFilter::Status,
            FilterReject::PriceNotPositive { .. }
            | FilterReject::PriceBelowMin { .. }
            | FilterReject::PriceAboveMax { .. }
            | FilterReject::PriceOffTick { .. } => ExchangeFilter::PriceFilter,
            FilterReject::PriceOutsideBand { filter, .. }
            | FilterReject::QtyNotPositive { filter, .. }
            | FilterReject::QtyBelowMin { filter, .. }
            | FilterReject::QtyAboveMax { filter, .. }
            | FilterReject::QtyOffStep { filter, .. }
            | FilterReject::NotionalBelowMin { filter, .. }
            | FilterReject::NotionalAboveMax { filter, .. } => *filter,
        }
    }
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

    /// Checks an order against every filter, in the venue's order: status, quantity, price,
    /// percent price, notional. `reference_price` is the average price (spot) or mark price
    /// (futures) and also values market orders; zero means unknown, and the checks that
    /// need it are skipped (the venue still applies them).
    pub fn check_order(
        &self,
        order_type_is_market: bool,
        side: Side,
        price: Price,
        qty: Qty,
        reference_price: Price,
    ) -> Result<(), FilterReject> {
        if self.status != InstrumentStatus::Trading {
            return Err(FilterReject::NotTrading {
                status: self.status,
            });
        }
        check_lot(&self.lot_size, ExchangeFilter::LotSize, qty)?;
        if order_type_is_market {
            check_lot(&self.market_lot_size, ExchangeFilter::MarketLotSize, qty)?;
        } else {
            check_price(&self.price_filter, price)?;
            if reference_price.is_positive() {
                check_percent_price(&self.percent_price, side, price, reference_price)?;
            }
        }
        let valuation_price = if order_type_is_market {
            reference_price
        } else {
            price
        };
        if valuation_price.is_positive() {
            check_notional(&self.notional, order_type_is_market, valuation_price, qty)?;
        }
        Ok(())
    }
}

fn check_lot(lot: &LotSizeFilter, filter: ExchangeFilter, qty: Qty) -> Result<(), FilterReject> {
    if !qty.is_positive() {
        return Err(FilterReject::QtyNotPositive { filter, qty });
    }
    if lot.min_qty.is_positive() && qty < lot.min_qty {
        return Err(FilterReject::QtyBelowMin {
            filter,
            qty,
            min_qty: lot.min_qty,
        });
    }
    if lot.max_qty.is_positive() && qty > lot.max_qty {
        return Err(FilterReject::QtyAboveMax {
            filter,
            qty,
            max_qty: lot.max_qty,
        });
    }
    // Binance: (quantity − minQty) % stepSize == 0.
    if !qty
        .saturating_sub(lot.min_qty)
        .is_multiple_of(lot.step_size)
    {
        return Err(FilterReject::QtyOffStep {
            filter,
            qty,
            step_size: lot.step_size,
        });
    }
    Ok(())
}

fn check_price(filter: &PriceFilter, price: Price) -> Result<(), FilterReject> {
    if !price.is_positive() {
        return Err(FilterReject::PriceNotPositive { price });
    }
    if filter.min_price.is_positive() && price < filter.min_price {
        return Err(FilterReject::PriceBelowMin {
            price,
            min_price: filter.min_price,
        });
    }
    if filter.max_price.is_positive() && price > filter.max_price {
        return Err(FilterReject::PriceAboveMax {
            price,
            max_price: filter.max_price,
        });
    }
    // Binance: (price − minPrice) % tickSize == 0.
    if !price
        .saturating_sub(filter.min_price)
        .is_multiple_of(filter.tick_size)
    {
        return Err(FilterReject::PriceOffTick {
            price,
            tick_size: filter.tick_size,
        });
    }
    Ok(())
}

fn check_percent_price(
    band: &PercentPriceFilter,
    side: Side,
    price: Price,
    reference: Price,
) -> Result<(), FilterReject> {
    // A bound that overflows is no bound at all.
    let scaled = |ratio: Ratio| reference.scaled(ratio).unwrap_or(Price::MAX);
    let (filter, low, high) = match *band {
        PercentPriceFilter::Disabled => return Ok(()),
        PercentPriceFilter::Band {
            multiplier_up,
            multiplier_down,
            ..
        } => (
            ExchangeFilter::PercentPrice,
            scaled(multiplier_down),
            scaled(multiplier_up),
        ),
        PercentPriceFilter::BySide {
            bid_multiplier_up,
            bid_multiplier_down,
            ask_multiplier_up,
            ask_multiplier_down,
            ..
        } => match side {
            Side::Buy => (
                ExchangeFilter::PercentPriceBySide,
                scaled(bid_multiplier_down),
                scaled(bid_multiplier_up),
            ),
            Side::Sell => (
                ExchangeFilter::PercentPriceBySide,
                scaled(ask_multiplier_down),
                scaled(ask_multiplier_up),
            ),
        },
        PercentPriceFilter::MarkBand {
            multiplier_up,
            multiplier_down,
            ..
        } => match side {
            Side::Buy => (
                ExchangeFilter::PercentPrice,
                Price::ZERO,
                scaled(multiplier_up),
            ),
            Side::Sell => (
                ExchangeFilter::PercentPrice,
                scaled(multiplier_down),
                Price::MAX,
            ),
        },
    };
    if price < low || price > high {
        return Err(FilterReject::PriceOutsideBand {
            filter,
            price,
            low,
            high,
            reference,
        });
    }
    Ok(())
}

fn check_notional(
    bounds: &NotionalFilter,
    is_market: bool,
    price: Price,
    qty: Qty,
) -> Result<(), FilterReject> {
    let filter = if bounds.named_notional {
        ExchangeFilter::Notional
    } else {
        ExchangeFilter::MinNotional
    };
    // Past i128 the notional is above any bound a venue sends.
    let notional = price.notional(qty).unwrap_or(Notional::MAX);
    let min_applies = !is_market || bounds.apply_min_to_market;
    if min_applies && bounds.min_notional.is_positive() && notional < bounds.min_notional {
        let min_notional = bounds.min_notional;
        return Err(FilterReject::NotionalBelowMin {
            filter,
            notional,
            min_notional,
        });
    }
    let max_applies = !is_market || bounds.apply_max_to_market;
    if max_applies && bounds.max_notional.is_positive() && notional > bounds.max_notional {
        let max_notional = bounds.max_notional;
        return Err(FilterReject::NotionalAboveMax {
            filter,
            notional,
            max_notional,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Price {
        Price::parse(text).expect("test literal is a valid decimal")
    }
    fn q(text: &str) -> Qty {
        Qty::parse(text).expect("test literal is a valid decimal")
    }
    fn r(text: &str) -> Ratio {
        Ratio::parse(text).expect("test literal is a valid decimal")
    }

    fn spot_ethbtc() -> Instrument {
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
    fn disabled_zero_step_filters_never_divide_and_accept_any_grid() {
        let inst = spot_ethbtc();
        let odd = q("1.23456789");
        assert_eq!(
            inst.check_order(true, Side::Buy, Price::ZERO, q("1.2345"), p("0.07")),
            Ok(())
        );
        assert_eq!(
            inst.check_order(true, Side::Buy, Price::ZERO, odd, p("0.07"))
                .map_err(|e| e.filter()),
            Err(ExchangeFilter::LotSize)
        );
        let bare = Instrument::new("X", Market::Spot, "A", "B");
        assert_eq!(
            bare.check_order(false, Side::Sell, p("0.0000001"), odd, Price::ZERO),
            Ok(())
        );
        assert_eq!(bare.round_qty_down(odd), odd);
        assert_eq!(bare.round_price(p("1.5"), Side::Buy, true), p("1.5"));
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
    fn each_breach_names_its_filter_with_a_stable_code() {
        let inst = spot_ethbtc();
        let reference = p("0.07");
        let check = |market: bool, side, price: &str, qty: &str| {
            inst.check_order(market, side, p(price), q(qty), reference)
                .map_err(|e| (e.code(), e.filter()))
        };
        assert_eq!(check(false, Side::Buy, "0.07", "1"), Ok(()));
        assert_eq!(
            check(false, Side::Buy, "0.0700005", "1"),
            Err((13, ExchangeFilter::PriceFilter))
        );
        assert_eq!(
            check(false, Side::Buy, "0", "1"),
            Err((10, ExchangeFilter::PriceFilter))
        );
        assert_eq!(
            check(false, Side::Buy, "1000000", "1"),
            Err((12, ExchangeFilter::PriceFilter))
        );
        assert_eq!(
            check(false, Side::Buy, "0.07", "0.00005"),
            Err((31, ExchangeFilter::LotSize))
        );
        assert_eq!(
            check(false, Side::Buy, "0.07", "100001"),
            Err((32, ExchangeFilter::LotSize))
        );
        assert_eq!(
            check(false, Side::Buy, "0.07", "1.00005"),
            Err((33, ExchangeFilter::LotSize))
        );
        assert_eq!(
            check(false, Side::Buy, "0.07", "-1"),
            Err((30, ExchangeFilter::LotSize))
        );
        assert_eq!(
            check(true, Side::Buy, "0", "900"),
            Err((32, ExchangeFilter::MarketLotSize))
        );
        assert_eq!(
            check(false, Side::Sell, "0.36", "1"),
            Err((20, ExchangeFilter::PercentPrice))
        );
        assert_eq!(
            check(false, Side::Sell, "0.013", "1"),
            Err((20, ExchangeFilter::PercentPrice))
        );
        assert_eq!(
            check(false, Side::Buy, "0.014", "0.0071"),
            Err((40, ExchangeFilter::MinNotional))
        );
        assert_eq!(
            check(true, Side::Buy, "0", "0.0014"),
            Err((40, ExchangeFilter::MinNotional))
        );
        let mut halted = spot_ethbtc();
        halted.status = InstrumentStatus::Halted;
        let err = halted.check_order(false, Side::Buy, p("0.07"), q("1"), reference);
        assert_eq!(err.map_err(|e| e.code()), Err(1));
    }

    #[test]
    fn reject_text_reads_like_the_venue_message() {
        let inst = spot_ethbtc();
        let err = inst
            .check_order(false, Side::Buy, p("0.07"), q("1.00005"), p("0.07"))
            .expect_err("1.00005 is off the 0.0001 step");
        assert_eq!(
            err.to_string(),
            "Filter failure: LOT_SIZE (quantity 1.00005 off the stepSize 0.0001 grid)"
        );
    }

    #[test]
    fn mark_band_caps_buys_above_and_floors_sells_below() {
        let mut inst = Instrument::new("BTCUSDT", Market::UsdmFutures, "BTC", "USDT");
        inst.percent_price = PercentPriceFilter::MarkBand {
            multiplier_up: r("1.15"),
            multiplier_down: r("0.85"),
            multiplier_decimals: 4,
        };
        let mark = p("40000");
        let check = |side, price: &str| {
            inst.check_order(false, side, p(price), q("1"), mark)
                .map_err(|e| e.code())
        };
        assert_eq!(check(Side::Buy, "46000"), Ok(()));
        assert_eq!(check(Side::Buy, "46000.01"), Err(20));
        assert_eq!(check(Side::Buy, "1000"), Ok(()));
        assert_eq!(check(Side::Sell, "34000"), Ok(()));
        assert_eq!(check(Side::Sell, "33999.99"), Err(20));
        assert_eq!(check(Side::Sell, "90000"), Ok(()));
    }

    #[test]
    fn by_side_band_uses_the_side_multipliers_and_notional_max_applies() {
        let mut inst = Instrument::new("BNBUSDT", Market::Spot, "BNB", "USDT");
        inst.percent_price = PercentPriceFilter::BySide {
            bid_multiplier_up: r("1.2"),
            bid_multiplier_down: r("0.2"),
            ask_multiplier_up: r("5"),
            ask_multiplier_down: r("0.8"),
            avg_price_mins: 5,
        };
        inst.notional = NotionalFilter {
            max_notional: Notional::from_int(1000),
            named_notional: true,
            ..NotionalFilter::default()
        };
        let reference = p("100");
        let check = |market: bool, side, price: &str, qty: &str| {
            inst.check_order(market, side, p(price), q(qty), reference)
                .map_err(|e| (e.code(), e.filter()))
        };
        assert_eq!(
            check(false, Side::Buy, "121", "1"),
            Err((20, ExchangeFilter::PercentPriceBySide))
        );
        assert_eq!(check(false, Side::Sell, "121", "1"), Ok(()));
        assert_eq!(
            check(false, Side::Sell, "79", "1"),
            Err((20, ExchangeFilter::PercentPriceBySide))
        );
        assert_eq!(
            check(false, Side::Buy, "100", "10.01"),
            Err((41, ExchangeFilter::Notional))
        );
        assert_eq!(check(true, Side::Buy, "0", "10.01"), Ok(()));
    }
}
