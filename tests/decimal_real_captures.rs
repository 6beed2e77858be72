//! Every filter decimal in the real Binance, Bybit and Kraken instrument lists parses exactly
//! and formats back to its normalised text, checked against a string-only reference.

mod common;

use kestrel::core::decimal::SCALE_DIGITS;
use kestrel::core::Price;
use serde_json::Value;

/// Independent reference: normalised text and raw 1e-18 value, by string edits and std's
/// integer parser only (no fixed-point code, no floats).
fn reference(text: &str) -> (String, i128) {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let frac_part = frac_part.trim_end_matches('0');
    assert!(
        frac_part.len() <= SCALE_DIGITS as usize,
        "{text:?} is finer than 1e-18"
    );
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    let mut normalised = int_part.to_string();
    if !frac_part.is_empty() {
        normalised = format!("{normalised}.{frac_part}");
    }
    let scaled = format!("{int_part}{frac_part:0<18}");
    let magnitude: i128 = scaled.parse().expect("reference digits fit in i128");
    if negative && normalised != "0" {
        (format!("-{normalised}"), -magnitude)
    } else {
        (normalised, magnitude)
    }
}

/// Parses `text` and checks value and round-trip text against the reference.
fn assert_exact(origin: &str, text: &str) {
    let (normalised, raw) = reference(text);
    let parsed = Price::parse(text).unwrap_or_else(|err| panic!("{origin}: {text:?}: {err}"));
    assert_eq!(parsed.raw(), raw, "{origin}: {text:?}");
    assert_eq!(parsed.to_string(), normalised, "{origin}: {text:?}");
}

/// Checks every non-empty string value of a JSON object; returns how many, per key seen.
fn walk_object(origin: &str, object: &Value, skip: &[&str], seen: &mut Vec<String>) -> usize {
    let Some(map) = object.as_object() else {
        return 0;
    };
    let mut count = 0;
    for (key, value) in map {
        let Some(text) = value.as_str() else { continue };
        if skip.contains(&key.as_str()) || text.is_empty() {
            continue;
        }
        assert_exact(&format!("{origin}.{key}"), text);
        if !seen.contains(key) {
            seen.push(key.clone());
        }
        count += 1;
    }
    count
}

fn require_keys(seen: &[String], keys: &[&str]) {
    for key in keys {
        assert!(
            seen.iter().any(|k| k == key),
            "no {key} value was checked: {seen:?}"
        );
    }
}

#[test]
fn every_binance_spot_and_futures_filter_decimal_is_exact() {
    let Some(dir) = common::real_data_dir("every_binance_spot_and_futures_filter_decimal_is_exact")
    else {
        return;
    };
    for capture in [
        "binance_spot_2021-10-12.jsonl.gz",
        "binance_usdm_2021-07-22_SUSHI_AKRO.jsonl.gz",
    ] {
        let bodies = common::http_bodies(&dir.join("cryptofeed").join(capture), "exchangeInfo");
        let info: Value = serde_json::from_str(&bodies[0]).expect("exchangeInfo is JSON");
        let symbols = info["symbols"].as_array().expect("symbols is a list");
        let (mut seen, mut count) = (Vec::new(), 0);
        for symbol in symbols {
            let name = symbol["symbol"].as_str().unwrap_or("?");
            for filter in symbol["filters"].as_array().expect("filters is a list") {
                count += walk_object(name, filter, &["filterType"], &mut seen);
            }
        }
        require_keys(
            &seen,
            &[
                "tickSize",
                "stepSize",
                "minPrice",
                "maxPrice",
                "minQty",
                "maxQty",
                "multiplierUp",
            ],
        );
        let notional_key = if capture.contains("spot") {
            "minNotional"
        } else {
            "notional"
        };
        require_keys(&seen, &[notional_key]);
        println!(
            "{capture}: {count} decimals exact over {} symbols",
            symbols.len()
        );
        assert!(
            count > symbols.len() * 10,
            "{capture}: only {count} decimals seen"
        );
    }
}

#[test]
fn every_bybit_spot_and_linear_instrument_decimal_is_exact() {
    let Some(dir) =
        common::real_data_dir("every_bybit_spot_and_linear_instrument_decimal_is_exact")
    else {
        return;
    };
    let capture = dir.join("cryptofeed/bybit_v5_2026-08-09.jsonl.gz");
    let bodies = common::http_bodies(&capture, "instruments-info");
    assert_eq!(bodies.len(), 2, "linear and spot instrument lists");
    let mut finest_tick = i128::MAX;
    for body in &bodies {
        let response: Value = serde_json::from_str(body).expect("instruments-info is JSON");
        let category = response["result"]["category"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let list = response["result"]["list"]
            .as_array()
            .expect("list is a list");
        let (mut seen, mut count) = (Vec::new(), 0);
        for item in list {
            let name = format!("{category}/{}", item["symbol"].as_str().unwrap_or("?"));
            count += walk_object(&name, &item["priceFilter"], &[], &mut seen);
            count += walk_object(&name, &item["lotSizeFilter"], &[], &mut seen);
            if let Some(tick) = item["priceFilter"]["tickSize"].as_str() {
                finest_tick = finest_tick.min(reference(tick).1);
            }
        }
        let keys: &[&str] = if category == "spot" {
            &[
                "tickSize",
                "basePrecision",
                "quotePrecision",
                "maxOrderQty",
                "minOrderQty",
            ]
        } else {
            &[
                "tickSize",
                "qtyStep",
                "maxOrderQty",
                "minOrderQty",
                "minPrice",
                "maxPrice",
            ]
        };
        require_keys(&seen, keys);
        println!(
            "bybit {category}: {count} decimals exact over {} instruments",
            list.len()
        );
    }
    assert_eq!(
        finest_tick, 100_000,
        "the finest Bybit tick is 1e-13, as decimal.rs documents"
    );
}

#[test]
fn every_kraken_pair_decimal_derived_step_is_exact() {
    let Some(dir) = common::real_data_dir("every_kraken_pair_decimal_derived_step_is_exact") else {
        return;
    };
    let capture = dir.join("cryptofeed/kraken_ws_v1_2021-04-17.jsonl.gz");
    let bodies = common::http_bodies(&capture, "AssetPairs");
    let response: Value = serde_json::from_str(&bodies[0]).expect("AssetPairs is JSON");
    let pairs = response["result"]
        .as_object()
        .expect("result maps pair names to pairs");
    let mut count = 0;
    for (name, pair) in pairs {
        for key in ["pair_decimals", "lot_decimals"] {
            let decimals = pair[key].as_u64().expect("decimals are small integers");
            // The step 10^-decimals as venue-style text, e.g. 5 → "0.00001".
            let text = match decimals {
                0 => "1".to_string(),
                d => format!("0.{}1", "0".repeat(d as usize - 1)),
            };
            assert_exact(&format!("{name}.{key}"), &text);
            let exponent = SCALE_DIGITS - decimals as u32;
            assert_eq!(
                Price::parse(&text).map(Price::raw),
                Ok(10i128.pow(exponent)),
                "{name}.{key}"
            );
            count += 1;
        }
        if let Some(order_min) = pair["ordermin"].as_str() {
            assert_exact(&format!("{name}.ordermin"), order_min);
            count += 1;
        }
    }
    println!("kraken: {count} decimals exact over {} pairs", pairs.len());
    assert!(count >= pairs.len() * 2);
}
