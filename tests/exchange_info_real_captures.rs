//! The Binance exchangeInfo parser and the instrument filters against real venue captures.

mod common;

use kestrel::core::{
    ExchangeFilter, Instrument, InstrumentStatus, Market, Notional, PercentPriceFilter, Price, Qty,
    Ratio, Side,
};
use kestrel::oms::binance::exchange_info::{
    parse_exchange_info, ExchangeInfo, RateLimitInterval, RateLimitKind,
};

fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}

fn load(test: &str, capture: &str, market: Market) -> Option<ExchangeInfo> {
    let dir = common::real_data_dir(test)?;
    let bodies = common::http_bodies(&dir.join("cryptofeed").join(capture), "exchangeInfo");
    assert_eq!(bodies.len(), 1, "{capture} holds one exchangeInfo response");
    Some(parse_exchange_info(bodies[0].as_bytes(), market).expect("real capture parses"))
}

fn spot(test: &str) -> Option<ExchangeInfo> {
    load(test, "binance_spot_2021-10-12.jsonl.gz", Market::Spot)
}

fn futures(test: &str) -> Option<ExchangeInfo> {
    load(
        test,
        "binance_usdm_2021-07-22_SUSHI_AKRO.jsonl.gz",
        Market::UsdmFutures,
    )
}

fn find<'a>(info: &'a ExchangeInfo, symbol: &str) -> &'a Instrument {
    info.instruments
        .iter()
        .find(|inst| inst.symbol == symbol)
        .expect("the symbol is listed in the capture")
}

/// Runs `check_order` and keeps only the failing filter's name.
fn rejected_by(
    inst: &Instrument,
    market_order: bool,
    side: Side,
    price: &str,
    qty: &str,
    reference: &str,
) -> Result<(), &'static str> {
    inst.check_order(market_order, side, p(price), q(qty), p(reference))
        .map_err(|reject| reject.filter().as_str())
}

#[test]
fn full_spot_capture_parses_every_symbol_with_known_values() {
    let Some(info) = spot("full_spot_capture_parses_every_symbol_with_known_values") else {
        return;
    };
    assert_eq!(info.instruments.len(), 1695);
    let ethbtc = find(&info, "ETHBTC");
    assert_eq!(
        (ethbtc.base_asset.as_str(), ethbtc.quote_asset.as_str()),
        ("ETH", "BTC")
    );
    assert_eq!(ethbtc.status, InstrumentStatus::Trading);
    assert_eq!(ethbtc.price_filter.tick_size, p("0.000001"));
    assert_eq!(ethbtc.lot_size.step_size, q("0.0001"));
    assert_eq!(
        ethbtc.market_lot_size.step_size,
        Qty::ZERO,
        "MARKET_LOT_SIZE step disabled"
    );
    assert_eq!(ethbtc.market_lot_size.max_qty, q("873.90727776"));
    assert_eq!(
        ethbtc.notional.min_notional,
        Notional::parse("0.0001").expect("valid")
    );
    assert!(ethbtc.notional.apply_min_to_market);
    assert_eq!(
        (ethbtc.max_num_orders, ethbtc.max_num_algo_orders),
        (200, 5)
    );
    assert_eq!((ethbtc.price_decimals, ethbtc.qty_decimals), (8, 8));
    let five = Ratio::from_int(5);
    let fifth = Ratio::parse("0.2").expect("valid");
    assert_eq!(
        ethbtc.percent_price,
        PercentPriceFilter::Band {
            multiplier_up: five,
            multiplier_down: fifth,
            avg_price_mins: 5
        }
    );
    let halted = info
        .instruments
        .iter()
        .filter(|i| i.status == InstrumentStatus::Halted);
    assert_eq!(halted.count(), 433, "BREAK symbols map to Halted");
    assert_eq!(info.ignored_filters.get("ICEBERG_PARTS"), Some(&1695));
    assert_eq!(info.ignored_filters.get("MAX_POSITION"), Some(&40));
    assert_eq!(info.rate_limits.len(), 4);
    let weight = &info.rate_limits[0];
    assert_eq!(weight.kind, RateLimitKind::RequestWeight);
    assert_eq!(
        (weight.interval, weight.limit, weight.window_ms()),
        (RateLimitInterval::Minute, 1200, 60_000)
    );
}

#[test]
fn full_futures_capture_parses_every_symbol_with_known_values() {
    let Some(info) = futures("full_futures_capture_parses_every_symbol_with_known_values") else {
        return;
    };
    assert_eq!(info.instruments.len(), 122);
    let btc = find(&info, "BTCUSDT");
    assert_eq!(btc.market, Market::UsdmFutures);
    assert_eq!(btc.price_filter.tick_size, p("0.01"));
    assert_eq!(btc.price_filter.min_price, p("556.72"));
    assert_eq!(btc.lot_size.step_size, q("0.001"));
    assert_eq!(btc.market_lot_size.step_size, q("0.001"));
    assert_eq!(btc.notional.min_notional, Notional::from_int(5));
    assert_eq!((btc.max_num_orders, btc.max_num_algo_orders), (200, 10));
    assert_eq!((btc.price_decimals, btc.qty_decimals), (2, 3));
    assert_eq!(
        btc.percent_price,
        PercentPriceFilter::MarkBand {
            multiplier_up: Ratio::parse("1.1500").expect("valid"),
            multiplier_down: Ratio::parse("0.8500").expect("valid"),
            multiplier_decimals: 4,
        }
    );
    let pending = info
        .instruments
        .iter()
        .filter(|i| i.status == InstrumentStatus::PreTrading);
    assert_eq!(pending.count(), 1, "one PENDING_TRADING symbol");
    assert!(
        info.ignored_filters.is_empty(),
        "{:?}",
        info.ignored_filters
    );
    let orders: Vec<_> = info
        .rate_limits
        .iter()
        .filter(|l| l.kind == RateLimitKind::Orders)
        .collect();
    assert_eq!(orders.len(), 2);
    assert_eq!((orders[1].limit, orders[1].window_ms()), (300, 10_000));
}

#[test]
fn nautilus_spot_fixture_with_empty_filters_parses_as_unfiltered() {
    let Some(dir) =
        common::real_data_dir("nautilus_spot_fixture_with_empty_filters_parses_as_unfiltered")
    else {
        return;
    };
    let path = dir.join("nautilus/binance/spot/http_json/exchange_info_response.json");
    let body = std::fs::read(&path).expect("the nautilus fixture is readable");
    let info = parse_exchange_info(&body, Market::Spot).expect("fixture parses");
    assert_eq!(info.instruments.len(), 1);
    let ethbtc = &info.instruments[0];
    assert_eq!(ethbtc.lot_size.step_size, Qty::ZERO);
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.0712345678", "1.23456789", "0"),
        Ok(())
    );
}

#[test]
fn spot_ethbtc_filters_accept_and_reject_with_the_right_reason() {
    let Some(info) = spot("spot_ethbtc_filters_accept_and_reject_with_the_right_reason") else {
        return;
    };
    let ethbtc = find(&info, "ETHBTC");
    let avg = "0.065";
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.065", "0.1", avg),
        Ok(())
    );
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.0650005", "0.1", avg),
        Err("PRICE_FILTER")
    );
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.065", "0.12345", avg),
        Err("LOT_SIZE")
    );
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.065", "0.0001", avg),
        Err("MIN_NOTIONAL")
    );
    assert_eq!(
        rejected_by(ethbtc, false, Side::Sell, "0.5", "0.1", avg),
        Err("PERCENT_PRICE")
    );
    assert_eq!(
        rejected_by(ethbtc, false, Side::Buy, "0.012", "0.1", avg),
        Err("PERCENT_PRICE")
    );
    // MARKET_LOT_SIZE: step 0 is disabled, maxQty is not.
    assert_eq!(
        rejected_by(ethbtc, true, Side::Sell, "0", "1.2345", avg),
        Ok(())
    );
    assert_eq!(
        rejected_by(ethbtc, true, Side::Sell, "0", "900", avg),
        Err("MARKET_LOT_SIZE")
    );
    assert_eq!(
        rejected_by(ethbtc, true, Side::Sell, "0", "0.0001", avg),
        Err("MIN_NOTIONAL")
    );
    let reject = ethbtc
        .check_order(false, Side::Buy, p("0.065"), q("0.12345"), p(avg))
        .expect_err("0.12345 is off the 0.0001 step");
    assert!(
        reject.to_string().starts_with("Filter failure: LOT_SIZE"),
        "{reject}"
    );
}

#[test]
fn futures_filters_accept_and_reject_with_the_right_reason() {
    let Some(info) = futures("futures_filters_accept_and_reject_with_the_right_reason") else {
        return;
    };
    let btc = find(&info, "BTCUSDT");
    let mark = "32000";
    assert_eq!(
        rejected_by(btc, false, Side::Buy, "32000", "0.001", mark),
        Ok(())
    );
    assert_eq!(
        rejected_by(btc, false, Side::Buy, "31999.995", "0.001", mark),
        Err("PRICE_FILTER")
    );
    assert_eq!(
        rejected_by(btc, false, Side::Buy, "32000", "0.0015", mark),
        Err("LOT_SIZE")
    );
    assert_eq!(
        rejected_by(btc, false, Side::Buy, "4000", "0.001", mark),
        Err("MIN_NOTIONAL")
    );
    assert_eq!(
        rejected_by(btc, false, Side::Buy, "36800.01", "0.001", mark),
        Err("PERCENT_PRICE")
    );
    assert_eq!(
        rejected_by(btc, false, Side::Sell, "27199.99", "0.001", mark),
        Err("PERCENT_PRICE")
    );
    assert_eq!(
        rejected_by(btc, false, Side::Sell, "36800.01", "0.001", mark),
        Ok(())
    );
    assert_eq!(
        rejected_by(btc, true, Side::Buy, "0", "0.0001", mark),
        Err("LOT_SIZE")
    );
    assert_eq!(
        rejected_by(btc, true, Side::Buy, "0", "0.0001", mark).err(),
        Some(ExchangeFilter::LotSize.as_str())
    );
    let bnb = find(&info, "BNBUSDT");
    assert_eq!(
        rejected_by(bnb, false, Side::Buy, "300", "20001", "300"),
        Ok(())
    );
    assert_eq!(
        rejected_by(bnb, true, Side::Buy, "0", "20001", "300"),
        Err("MARKET_LOT_SIZE")
    );
}

#[test]
fn rounded_orders_sit_on_every_real_instrument_grid() {
    let test = "rounded_orders_sit_on_every_real_instrument_grid";
    let (Some(spot), Some(futures)) = (spot(test), futures(test)) else {
        return;
    };
    let mut checked = 0;
    for listed in spot.instruments.iter().chain(&futures.instruments) {
        // Status is checked first; open every symbol so the grid rules are what is tested.
        let inst = Instrument {
            status: InstrumentStatus::Trading,
            ..listed.clone()
        };
        let (filter, lot) = (&inst.price_filter, &inst.lot_size);
        // Seven and a third steps above the minimum: inside the bounds, off the grid.
        let price = Price::from_raw(filter.min_price.raw() + filter.tick_size.raw() * 22 / 3);
        let qty = Qty::from_raw(lot.min_qty.raw() + lot.step_size.raw() * 22 / 3);
        assert!(!price
            .saturating_sub(filter.min_price)
            .is_multiple_of(filter.tick_size));
        let qty = inst.round_qty_down(qty);
        assert!(qty
            .saturating_sub(inst.lot_size.min_qty)
            .is_multiple_of(inst.lot_size.step_size));
        for (side, passive) in [
            (Side::Buy, true),
            (Side::Sell, true),
            (Side::Buy, false),
            (Side::Sell, false),
        ] {
            let rounded = inst.round_price(price, side, passive);
            let result = inst.check_order(false, side, rounded, qty, Price::ZERO);
            if let Err(reject) = result {
                let filter = reject.filter();
                assert!(
                    filter != ExchangeFilter::PriceFilter && filter != ExchangeFilter::LotSize,
                    "{}: {reject}",
                    inst.symbol
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, (1695 + 122) * 4);
}
