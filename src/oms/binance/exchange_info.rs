//! Owns: turning Binance spot and USDⓈ-M `exchangeInfo` JSON into instruments and rate limits.
//! Never: fetches it, runs on a hot path, or substitutes a guess for a value that fails to parse.
//!
//! Spot and futures send the same filter types under different keys (`MIN_NOTIONAL`
//! `minNotional` vs `notional`, `MAX_NUM_ORDERS` `maxNumOrders` vs `limit`, futures
//! `PERCENT_PRICE` with `multiplierDecimal`); both spellings are read. Filter types the
//! engine does not model are counted in [`ExchangeInfo::ignored_filters`], not rejected.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::decimal::{DecimalError, SCALE_DIGITS};
use crate::core::instrument::{
    Instrument, InstrumentStatus, LotSizeFilter, Market, NotionalFilter, OrderKind, OrderKinds,
    PercentPriceFilter, PriceFilter,
};

/// Everything kept from one `exchangeInfo` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeInfo {
    /// One instrument per listed symbol, in the response's order.
    pub instruments: Vec<Instrument>,
    /// The request and order rate limits the venue announces.
    pub rate_limits: Vec<RateLimit>,
    /// How often each filter type the engine does not model appeared (symbol and exchange level).
    pub ignored_filters: BTreeMap<String, usize>,
}

/// What a rate limit counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateLimitKind {
    /// `REQUEST_WEIGHT`, per IP.
    RequestWeight,
    /// `ORDERS`, per account.
    Orders,
    /// `RAW_REQUESTS`, per IP.
    RawRequests,
    /// A type this code does not know yet, kept by name.
    Other(String),
}

/// The window unit of a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitInterval {
    /// `SECOND`.
    Second,
    /// `MINUTE`.
    Minute,
    /// `HOUR`.
    Hour,
    /// `DAY`.
    Day,
}

/// One announced limit: at most `limit` per `interval_num` × `interval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// What is counted.
    pub kind: RateLimitKind,
    /// Window unit.
    pub interval: RateLimitInterval,
    /// Window length in units.
    pub interval_num: u32,
    /// Most counted items per window.
    pub limit: u32,
}

impl RateLimit {
    /// Window length in milliseconds.
    pub fn window_ms(&self) -> u64 {
        let unit_ms: u64 = match self.interval {
            RateLimitInterval::Second => 1_000,
            RateLimitInterval::Minute => 60_000,
            RateLimitInterval::Hour => 3_600_000,
            RateLimitInterval::Day => 86_400_000,
        };
        unit_ms * u64::from(self.interval_num)
    }
}

/// Why an `exchangeInfo` body could not be turned into instruments.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeInfoError {
    /// The body is not JSON of the expected shape (path names where).
    #[error("exchangeInfo JSON does not fit at {path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    /// A filter value is missing or malformed.
    #[error("symbol {symbol}: filter {filter}: field {field}: {reason}")]
    Filter {
        symbol: String,
        filter: String,
        field: &'static str,
        reason: String,
    },
    /// A rate limit with an interval unit this code does not know.
    #[error("rate limit #{index}: unknown interval {interval:?}")]
    RateLimitInterval { index: usize, interval: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawExchangeInfo {
    #[serde(default)]
    rate_limits: Vec<RawRateLimit>,
    #[serde(default)]
    exchange_filters: Vec<Map<String, Value>>,
    symbols: Vec<RawSymbol>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRateLimit {
    rate_limit_type: String,
    interval: String,
    interval_num: u32,
    limit: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSymbol {
    symbol: String,
    status: String,
    base_asset: String,
    quote_asset: String,
    base_asset_precision: Option<u32>,
    quote_asset_precision: Option<u32>,
    quote_precision: Option<u32>,
    price_precision: Option<u32>,
    quantity_precision: Option<u32>,
    order_types: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<Map<String, Value>>,
}

/// Parses a spot (`/api/v3/exchangeInfo`, for `Market::Spot` or `Market::Margin`) or
/// USDⓈ-M (`/fapi/v1/exchangeInfo`, for `Market::UsdmFutures`) response body.
pub fn parse_exchange_info(body: &[u8], market: Market) -> Result<ExchangeInfo, ExchangeInfoError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let raw: RawExchangeInfo =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            ExchangeInfoError::Json {
                path: err.path().to_string(),
                source: err.into_inner(),
            }
        })?;
    deserializer
        .end()
        .map_err(|source| ExchangeInfoError::Json {
            path: "(after the document)".to_string(),
            source,
        })?;
    let mut ignored_filters = BTreeMap::new();
    for filter in &raw.exchange_filters {
        let name = filter
            .get("filterType")
            .and_then(Value::as_str)
            .unwrap_or("?");
        *ignored_filters.entry(name.to_string()).or_insert(0) += 1;
    }
    let rate_limits = raw
        .rate_limits
        .into_iter()
        .enumerate()
        .map(|(index, limit)| rate_limit(index, limit))
        .collect::<Result<Vec<_>, _>>()?;
    let mut instruments = Vec::with_capacity(raw.symbols.len());
    for symbol in raw.symbols {
        instruments.push(instrument(symbol, market, &mut ignored_filters)?);
    }
    Ok(ExchangeInfo {
        instruments,
        rate_limits,
        ignored_filters,
    })
}

fn rate_limit(index: usize, raw: RawRateLimit) -> Result<RateLimit, ExchangeInfoError> {
    let interval = match raw.interval.as_str() {
        "SECOND" => RateLimitInterval::Second,
        "MINUTE" => RateLimitInterval::Minute,
        "HOUR" => RateLimitInterval::Hour,
        "DAY" => RateLimitInterval::Day,
        _ => {
            return Err(ExchangeInfoError::RateLimitInterval {
                index,
                interval: raw.interval,
            })
        }
    };
    let kind = match raw.rate_limit_type.as_str() {
        "REQUEST_WEIGHT" => RateLimitKind::RequestWeight,
        "ORDERS" => RateLimitKind::Orders,
        "RAW_REQUESTS" => RateLimitKind::RawRequests,
        _ => RateLimitKind::Other(raw.rate_limit_type),
    };
    Ok(RateLimit {
        kind,
        interval,
        interval_num: raw.interval_num,
        limit: raw.limit,
    })
}

fn status(text: &str) -> InstrumentStatus {
    match text {
        "TRADING" => InstrumentStatus::Trading,
        "PRE_TRADING" | "PENDING_TRADING" => InstrumentStatus::PreTrading,
        "BREAK" | "HALT" | "AUCTION_MATCH" => InstrumentStatus::Halted,
        _ => InstrumentStatus::Closed,
    }
}

fn instrument(
    raw: RawSymbol,
    market: Market,
    ignored: &mut BTreeMap<String, usize>,
) -> Result<Instrument, ExchangeInfoError> {
    let mut inst = Instrument::new(&raw.symbol, market, &raw.base_asset, &raw.quote_asset);
    inst.status = status(&raw.status);
    inst.price_decimals = raw
        .price_precision
        .or(raw.quote_asset_precision)
        .or(raw.quote_precision)
        .unwrap_or(SCALE_DIGITS);
    inst.qty_decimals = raw
        .quantity_precision
        .or(raw.base_asset_precision)
        .unwrap_or(SCALE_DIGITS);
    if let Some(names) = &raw.order_types {
        inst.order_kinds = names
            .iter()
            .filter_map(|name| order_kind(name, market))
            .fold(OrderKinds::NONE, OrderKinds::with);
    }
    for map in &raw.filters {
        let fields = FilterFields {
            symbol: &raw.symbol,
            filter: map.get("filterType").and_then(Value::as_str).unwrap_or(""),
            map,
        };
        apply_filter(&mut inst, &fields, ignored)?;
    }
    Ok(inst)
}

/// The kind an `orderTypes` name stands for; the same name means a market take-profit on
/// spot and a limit one on futures. Kinds the engine never sends (trailing stops) are `None`.
fn order_kind(name: &str, market: Market) -> Option<OrderKind> {
    let futures = market == Market::UsdmFutures;
    Some(match name {
        "LIMIT" => OrderKind::Limit,
        "LIMIT_MAKER" => OrderKind::LimitMaker,
        "MARKET" => OrderKind::Market,
        "STOP_LOSS" | "STOP_MARKET" => OrderKind::StopMarket,
        "STOP_LOSS_LIMIT" | "STOP" => OrderKind::StopLimit,
        "TAKE_PROFIT" if futures => OrderKind::TakeProfitLimit,
        "TAKE_PROFIT" | "TAKE_PROFIT_MARKET" => OrderKind::TakeProfitMarket,
        "TAKE_PROFIT_LIMIT" => OrderKind::TakeProfitLimit,
        _ => return None,
    })
}

fn apply_filter(
    inst: &mut Instrument,
    fields: &FilterFields<'_>,
    ignored: &mut BTreeMap<String, usize>,
) -> Result<(), ExchangeInfoError> {
    match fields.filter {
        "" => return Err(fields.error("filterType", "missing or not a string".into())),
        "PRICE_FILTER" => {
            inst.price_filter = PriceFilter {
                min_price: fields.decimal("minPrice")?,
                max_price: fields.decimal("maxPrice")?,
                tick_size: fields.decimal("tickSize")?,
            }
        }
        "LOT_SIZE" => inst.lot_size = fields.lot_size()?,
        "MARKET_LOT_SIZE" => inst.market_lot_size = fields.lot_size()?,
        "MIN_NOTIONAL" => {
            let notional = &mut inst.notional;
            notional.named_notional = false;
            if fields.map.contains_key("minNotional") {
                notional.min_notional = fields.decimal("minNotional")?;
                notional.apply_min_to_market = fields.flag_or("applyToMarket", false)?;
                notional.avg_price_mins = fields.uint_or("avgPriceMins", 0)?;
            } else {
                // Futures spelling; it holds market orders too (valued at the mark price).
                notional.min_notional = fields.decimal("notional")?;
                notional.apply_min_to_market = true;
            }
        }
        "NOTIONAL" => {
            inst.notional = NotionalFilter {
                min_notional: fields.decimal("minNotional")?,
                apply_min_to_market: fields.flag_or("applyMinToMarket", false)?,
                max_notional: fields.decimal("maxNotional")?,
                apply_max_to_market: fields.flag_or("applyMaxToMarket", false)?,
                avg_price_mins: fields.uint_or("avgPriceMins", 0)?,
                named_notional: true,
            }
        }
        "PERCENT_PRICE" => {
            let multiplier_up = fields.decimal("multiplierUp")?;
            let multiplier_down = fields.decimal("multiplierDown")?;
            inst.percent_price = match inst.market {
                Market::UsdmFutures => PercentPriceFilter::MarkBand {
                    multiplier_up,
                    multiplier_down,
                    multiplier_decimals: fields.uint_or("multiplierDecimal", 0)?,
                },
                Market::Spot | Market::Margin => PercentPriceFilter::Band {
                    multiplier_up,
                    multiplier_down,
                    avg_price_mins: fields.uint_or("avgPriceMins", 0)?,
                },
            }
        }
        "PERCENT_PRICE_BY_SIDE" => {
            inst.percent_price = PercentPriceFilter::BySide {
                bid_multiplier_up: fields.decimal("bidMultiplierUp")?,
                bid_multiplier_down: fields.decimal("bidMultiplierDown")?,
                ask_multiplier_up: fields.decimal("askMultiplierUp")?,
                ask_multiplier_down: fields.decimal("askMultiplierDown")?,
                avg_price_mins: fields.uint_or("avgPriceMins", 0)?,
            }
        }
        "MAX_NUM_ORDERS" => inst.max_num_orders = fields.uint_either("maxNumOrders", "limit")?,
        "MAX_NUM_ALGO_ORDERS" => {
            inst.max_num_algo_orders = fields.uint_either("maxNumAlgoOrders", "limit")?
        }
        other => *ignored.entry(other.to_string()).or_insert(0) += 1,
    }
    Ok(())
}

/// One filter object with the context every error must name.
struct FilterFields<'a> {
    symbol: &'a str,
    filter: &'a str,
    map: &'a Map<String, Value>,
}

impl FilterFields<'_> {
    fn error(&self, field: &'static str, reason: String) -> ExchangeInfoError {
        ExchangeInfoError::Filter {
            symbol: self.symbol.to_string(),
            filter: self.filter.to_string(),
            field,
            reason,
        }
    }

    /// A decimal sent as a JSON string (a JSON number would already have lost digits).
    fn decimal<T: FromStr<Err = DecimalError>>(
        &self,
        field: &'static str,
    ) -> Result<T, ExchangeInfoError> {
        match self.map.get(field) {
            Some(Value::String(text)) => text
                .parse()
                .map_err(|err| self.error(field, format!("{err}: {text:?}"))),
            Some(other) => {
                Err(self.error(field, format!("expected a decimal string, got {other}")))
            }
            None => Err(self.error(field, "missing".into())),
        }
    }

    fn lot_size(&self) -> Result<LotSizeFilter, ExchangeInfoError> {
        Ok(LotSizeFilter {
            min_qty: self.decimal("minQty")?,
            max_qty: self.decimal("maxQty")?,
            step_size: self.decimal("stepSize")?,
        })
    }

    /// A small unsigned integer sent as a JSON number or as digit text; `default` if absent.
    fn uint_or(&self, field: &'static str, default: u32) -> Result<u32, ExchangeInfoError> {
        let Some(value) = self.map.get(field) else {
            return Ok(default);
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
            Value::String(text) => text.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.error(field, format!("not a u32: {value}")))
    }

    /// A required unsigned integer under either the spot or the futures key.
    fn uint_either(
        &self,
        spot: &'static str,
        futures: &'static str,
    ) -> Result<u32, ExchangeInfoError> {
        let field = if self.map.contains_key(spot) {
            spot
        } else {
            futures
        };
        if !self.map.contains_key(field) {
            return Err(self.error(spot, format!("missing (nor {futures})")));
        }
        self.uint_or(field, 0)
    }

    fn flag_or(&self, field: &'static str, default: bool) -> Result<bool, ExchangeInfoError> {
        match self.map.get(field) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(self.error(field, format!("expected true or false, got {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Notional, Price, Qty, Ratio};

    fn parse(body: &str, market: Market) -> Result<ExchangeInfo, ExchangeInfoError> {
        parse_exchange_info(body.as_bytes(), market)
    }

    fn one_symbol(filters: &str, extra: &str) -> String {
        format!(
            r#"{{"rateLimits":[],"symbols":[{{"symbol":"ABCUSDT","status":"TRADING",
            "baseAsset":"ABC","quoteAsset":"USDT"{extra},"filters":[{filters}]}}]}}"#
        )
    }

    #[test]
    fn futures_key_spellings_fill_the_same_fields() {
        let body = one_symbol(
            r#"{"filterType":"MIN_NOTIONAL","notional":"5"},
               {"filterType":"MAX_NUM_ORDERS","limit":200},
               {"filterType":"MAX_NUM_ALGO_ORDERS","limit":10},
               {"filterType":"PERCENT_PRICE","multiplierUp":"1.1500","multiplierDown":"0.8500",
                "multiplierDecimal":"4"}"#,
            r#","pricePrecision":2,"quantityPrecision":3"#,
        );
        let info = parse(&body, Market::UsdmFutures).expect("futures shapes are valid");
        let inst = &info.instruments[0];
        assert_eq!(inst.notional.min_notional, Notional::from_int(5));
        assert!(inst.notional.apply_min_to_market);
        assert_eq!((inst.max_num_orders, inst.max_num_algo_orders), (200, 10));
        assert_eq!((inst.price_decimals, inst.qty_decimals), (2, 3));
        assert_eq!(
            inst.percent_price,
            PercentPriceFilter::MarkBand {
                multiplier_up: Ratio::parse("1.15").expect("valid"),
                multiplier_down: Ratio::parse("0.85").expect("valid"),
                multiplier_decimals: 4,
            }
        );
    }

    #[test]
    fn spot_notional_and_by_side_filters_are_read() {
        let body = one_symbol(
            r#"{"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,
                "maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5},
               {"filterType":"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"5","bidMultiplierDown":"0.2",
                "askMultiplierUp":"5","askMultiplierDown":"0.2","avgPriceMins":5},
               {"filterType":"MAX_NUM_ORDERS","maxNumOrders":200},
               {"filterType":"TRAILING_DELTA","minTrailingAboveDelta":10}"#,
            r#","baseAssetPrecision":8,"quoteAssetPrecision":6"#,
        );
        let info = parse(&body, Market::Spot).expect("spot shapes are valid");
        let inst = &info.instruments[0];
        assert!(inst.notional.named_notional && inst.notional.apply_min_to_market);
        assert_eq!(inst.notional.max_notional, Notional::from_int(9_000_000));
        assert!(matches!(
            inst.percent_price,
            PercentPriceFilter::BySide {
                avg_price_mins: 5,
                ..
            }
        ));
        assert_eq!((inst.price_decimals, inst.qty_decimals), (6, 8));
        assert_eq!(info.ignored_filters.get("TRAILING_DELTA"), Some(&1));
    }

    #[test]
    fn order_types_of_the_bundled_btcusdt_lists_leave_out_spot_stop_loss() {
        let read = |file: &str, market| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let body = std::fs::read(path).expect("bundled exchangeInfo");
            let info = parse_exchange_info(&body, market).expect("bundled data parses");
            info.instruments
                .into_iter()
                .find(|i| i.symbol == "BTCUSDT")
                .expect("BTCUSDT listed")
                .order_kinds
        };
        // Spot lists LIMIT, LIMIT_MAKER, MARKET, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT.
        let spot = read("data/binance_spot_exchange_info_btcusdt.json", Market::Spot);
        for kind in [
            OrderKind::Limit,
            OrderKind::LimitMaker,
            OrderKind::Market,
            OrderKind::StopLimit,
            OrderKind::TakeProfitLimit,
        ] {
            assert!(spot.allows(kind), "{kind:?}");
        }
        assert!(!spot.allows(OrderKind::StopMarket), "no STOP_LOSS");
        assert!(!spot.allows(OrderKind::TakeProfitMarket), "no TAKE_PROFIT");
        // Futures: STOP and TAKE_PROFIT are the limit kinds, *_MARKET the market ones.
        let futures = read(
            "data/binance_usdm_exchange_info_btcusdt.json",
            Market::UsdmFutures,
        );
        assert!(futures.allows(OrderKind::StopMarket) && futures.allows(OrderKind::StopLimit));
        assert!(futures.allows(OrderKind::TakeProfitMarket));
        assert!(
            !futures.allows(OrderKind::LimitMaker),
            "post-only is GTX there"
        );
    }

    #[test]
    fn missing_filters_leave_every_rule_disabled() {
        let info = parse(&one_symbol("", ""), Market::Margin).expect("no filters is valid");
        let inst = &info.instruments[0];
        assert_eq!(inst.price_filter.tick_size, Price::ZERO);
        assert_eq!(inst.lot_size.step_size, Qty::ZERO);
        assert_eq!(inst.percent_price, PercentPriceFilter::Disabled);
        assert_eq!(inst.market, Market::Margin);
        assert_eq!(
            inst.order_kinds,
            OrderKinds::ALL,
            "no orderTypes: nothing refused"
        );
    }

    #[test]
    fn malformed_value_error_names_symbol_filter_and_field() {
        let body = one_symbol(
            r#"{"filterType":"LOT_SIZE","minQty":"0.001","maxQty":"1e3","stepSize":"0.001"}"#,
            "",
        );
        let err = parse(&body, Market::Spot).expect_err("1e3 is not plain decimal text");
        assert_eq!(
            err.to_string(),
            "symbol ABCUSDT: filter LOT_SIZE: field maxQty: invalid character at byte 1: \"1e3\""
        );
        let body = one_symbol(r#"{"filterType":"PRICE_FILTER","minPrice":0.1}"#, "");
        let err = parse(&body, Market::Spot).expect_err("a JSON number is not exact");
        assert!(err
            .to_string()
            .starts_with("symbol ABCUSDT: filter PRICE_FILTER: field minPrice"));
        let err = parse(r#"{"symbols":[{"symbol":1}]}"#, Market::Spot).expect_err("bad shape");
        assert!(err.to_string().contains("symbols[0].symbol"), "{err}");
    }

    #[test]
    fn rate_limits_keep_kind_and_window() {
        let body = r#"{"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND",
            "intervalNum":10,"limit":50},{"rateLimitType":"CONNECTIONS","interval":"MINUTE",
            "intervalNum":5,"limit":300}],"symbols":[]}"#;
        let info = parse(body, Market::Spot).expect("valid rate limits");
        assert_eq!(info.rate_limits[0].kind, RateLimitKind::Orders);
        assert_eq!(info.rate_limits[0].window_ms(), 10_000);
        assert_eq!(
            info.rate_limits[1].kind,
            RateLimitKind::Other("CONNECTIONS".into())
        );
        let bad = body.replace("SECOND", "FORTNIGHT");
        assert!(matches!(
            parse(&bad, Market::Spot),
            Err(ExchangeInfoError::RateLimitInterval { index: 0, .. })
        ));
    }
}
