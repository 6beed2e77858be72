//! Owns: checking an order against an instrument's exchange filters, and the reasons it fails.
//! Never: rounds an order for the caller or lets a disabled (zero) rule reject anything.

use std::fmt;

use super::{
    Instrument, InstrumentStatus, LotSizeFilter, NotionalFilter, PercentPriceFilter, PriceFilter,
};
use crate::core::decimal::{Notional, Price, Qty, Ratio};
use crate::core::event::Side;

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
    /// The symbol is not open for orders.
    #[error("Filter failure: STATUS (symbol is {status:?}, not trading)")]
    NotTrading { status: InstrumentStatus },
    /// A limit price of zero or below.
    #[error("Filter failure: PRICE_FILTER (price {price} is not positive)")]
    PriceNotPositive { price: Price },
    /// Price under `minPrice`.
    #[error("Filter failure: PRICE_FILTER (price {price} below minPrice {min_price})")]
    PriceBelowMin { price: Price, min_price: Price },
    /// Price over `maxPrice`.
    #[error("Filter failure: PRICE_FILTER (price {price} above maxPrice {max_price})")]
    PriceAboveMax { price: Price, max_price: Price },
    /// Price not on the `tickSize` grid counted from `minPrice`.
    #[error("Filter failure: PRICE_FILTER (price {price} off the tickSize {tick_size} grid)")]
    PriceOffTick { price: Price, tick_size: Price },
    /// Price outside the percent-price band around the reference price.
    #[error("Filter failure: {filter} (price {price} outside [{low}, {high}] around {reference})")]
    PriceOutsideBand {
        filter: ExchangeFilter,
        price: Price,
        low: Price,
        high: Price,
        reference: Price,
    },
    /// A quantity of zero or below.
    #[error("Filter failure: {filter} (quantity {qty} is not positive)")]
    QtyNotPositive { filter: ExchangeFilter, qty: Qty },
    /// Quantity under `minQty`.
    #[error("Filter failure: {filter} (quantity {qty} below minQty {min_qty})")]
    QtyBelowMin {
        filter: ExchangeFilter,
        qty: Qty,
        min_qty: Qty,
    },
    /// Quantity over `maxQty`.
    #[error("Filter failure: {filter} (quantity {qty} above maxQty {max_qty})")]
    QtyAboveMax {
        filter: ExchangeFilter,
        qty: Qty,
        max_qty: Qty,
    },
    /// Quantity not on the `stepSize` grid counted from `minQty`.
    #[error("Filter failure: {filter} (quantity {qty} off the stepSize {step_size} grid)")]
    QtyOffStep {
        filter: ExchangeFilter,
        qty: Qty,
        step_size: Qty,
    },
    /// Price × quantity under the minimum notional.
    #[error("Filter failure: {filter} (notional {notional} below {min_notional})")]
    NotionalBelowMin {
        filter: ExchangeFilter,
        notional: Notional,
        min_notional: Notional,
    },
    /// Price × quantity over the maximum notional.
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

impl Instrument {
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

    /// The lowest and highest limit price a `side` order may carry now: `PRICE_FILTER`'s
    /// bounds narrowed by the percent-price band around `reference_price` (no band when the
    /// reference is zero). A disabled bound is `Price::ZERO` / `Price::MAX`.
    pub fn limit_price_bounds(&self, side: Side, reference_price: Price) -> (Price, Price) {
        let filter = &self.price_filter;
        let mut low = filter.min_price.max(Price::ZERO);
        let mut high = if filter.max_price.is_positive() {
            filter.max_price
        } else {
            Price::MAX
        };
        if reference_price.is_positive() {
            if let Some((_, band_low, band_high)) =
                percent_band(&self.percent_price, side, reference_price)
            {
                low = low.max(band_low);
                high = high.min(band_high);
            }
        }
        (low, high)
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

/// The percent-price band for `side` around `reference`: (filter, low, high); `None` when
/// the instrument has no band.
fn percent_band(
    band: &PercentPriceFilter,
    side: Side,
    reference: Price,
) -> Option<(ExchangeFilter, Price, Price)> {
    // A bound that overflows is no bound at all.
    let scaled = |ratio: Ratio| reference.scaled(ratio).unwrap_or(Price::MAX);
    Some(match *band {
        PercentPriceFilter::Disabled => return None,
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
    })
}

fn check_percent_price(
    band: &PercentPriceFilter,
    side: Side,
    price: Price,
    reference: Price,
) -> Result<(), FilterReject> {
    let Some((filter, low, high)) = percent_band(band, side, reference) else {
        return Ok(());
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
    use crate::core::instrument::tests::{p, q, r, spot_ethbtc};
    use crate::core::instrument::Market;

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
    fn limit_bounds_narrow_the_price_filter_by_the_side_band_and_pass_its_own_check() {
        let mut inst = Instrument::new("BNBUSDT", Market::Spot, "BNB", "USDT");
        inst.price_filter = PriceFilter {
            min_price: p("10"),
            max_price: p("400"),
            tick_size: p("0.1"),
        };
        assert_eq!(
            inst.limit_price_bounds(Side::Sell, p("100")),
            (p("10"), p("400")),
            "no band: the price filter's bounds"
        );
        inst.percent_price = PercentPriceFilter::BySide {
            bid_multiplier_up: r("1.2"),
            bid_multiplier_down: r("0.2"),
            ask_multiplier_up: r("5"),
            ask_multiplier_down: r("0.8"),
            avg_price_mins: 5,
        };
        let reference = p("100");
        assert_eq!(
            inst.limit_price_bounds(Side::Sell, reference),
            (p("80"), p("400"))
        );
        assert_eq!(
            inst.limit_price_bounds(Side::Buy, reference),
            (p("20"), p("120"))
        );
        assert_eq!(
            inst.limit_price_bounds(Side::Buy, Price::ZERO),
            (p("10"), p("400")),
            "unknown reference: no band"
        );
        for side in [Side::Buy, Side::Sell] {
            let (low, high) = inst.limit_price_bounds(side, reference);
            for price in [low, high] {
                assert_eq!(
                    inst.check_order(false, side, price, q("1"), reference),
                    Ok(())
                );
            }
        }
        let bare = Instrument::new("X", Market::Spot, "A", "B");
        assert_eq!(
            bare.limit_price_bounds(Side::Buy, reference),
            (Price::ZERO, Price::MAX)
        );
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

    proptest::proptest! {
        #[test]
        fn check_order_never_panics_on_any_filter_values(
            raws in proptest::array::uniform12(proptest::num::i128::ANY),
            market_order: bool,
            sell: bool,
        ) {
            let mut inst = Instrument::new("ANY", Market::Spot, "A", "B");
            inst.price_filter = PriceFilter {
                min_price: Price::from_raw(raws[0]),
                max_price: Price::from_raw(raws[1]),
                tick_size: Price::from_raw(raws[2]),
            };
            inst.lot_size = LotSizeFilter {
                min_qty: Qty::from_raw(raws[3]),
                max_qty: Qty::from_raw(raws[4]),
                step_size: Qty::from_raw(raws[5]),
            };
            inst.notional.min_notional = Notional::from_raw(raws[6]);
            inst.notional.max_notional = Notional::from_raw(raws[7]);
            inst.percent_price = PercentPriceFilter::Band {
                multiplier_up: Ratio::from_raw(raws[8]),
                multiplier_down: Ratio::from_raw(raws[9]),
                avg_price_mins: 0,
            };
            let side = if sell { Side::Sell } else { Side::Buy };
            let (price, qty) = (Price::from_raw(raws[10]), Qty::from_raw(raws[11]));
            let reference = Price::from_raw(raws[0] ^ raws[11]);
            let _ = inst.check_order(market_order, side, price, qty, reference);
            let _ = inst.round_price(price, side, !market_order);
            let _ = inst.round_qty_down(qty);
        }
    }
}
