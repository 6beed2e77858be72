//! The symbol scanner ranking real candles: freqtrade's `UNITTEST_BTC-1m.json` (an altcoin
//! in BTC, 10 days of 1-minute candles with gaps) as one symbol, and its mirror image
//! (every price p → 0.005 − p, so it falls when the original rises; same volumes) as a
//! second. The 1-minute candles are rolled up into hourly bars here, the scanner scans
//! every 20 minutes of venue time and picks one symbol, with a 90-minute anti-churn rule.
//! Checked at every scan: a pick leaves only after its 90 minutes, and a better-ranked
//! symbol is kept out only while the pick is that fresh (the seed did the opposite, D-21).

#[allow(dead_code)] // Only `real_data_dir` is used here.
mod common;

use kestrel::backtest::input::{open_inputs, InputEvent, InputOptions, InputSpec, MarketInput};
use kestrel::book::{Bar, MINUTE_MS};
use kestrel::core::{Notional, Price, SymbolId, SymbolTable};
use kestrel::strat::api::SymbolSelector;
use kestrel::strat::scanner::ScanScore;
use kestrel::strat::{ScannerConfig, SymbolScanner};

const ORIGINAL: SymbolId = SymbolId(0);
const MIRROR: SymbolId = SymbolId(1);
const HOUR_MS: u64 = 60 * MINUTE_MS;
const MIN_RESELECT_MIN: u64 = 90;

fn minute_bars(path: &std::path::Path) -> Vec<Bar> {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("symbol");
    let spec = InputSpec::parse(&format!("BTCUSDT:candles:{}", path.display())).expect("spec");
    let mut input = open_inputs(&[spec], &table, &InputOptions::default()).expect("opens");
    let mut bars = Vec::new();
    while let Some(item) = input.next_item().expect("reads") {
        if let InputEvent::Bar(bar) = item.event {
            bars.push(bar);
        }
    }
    bars
}

fn mirrored(bar: &Bar) -> Bar {
    let axis = Price::parse("0.005").expect("price");
    let flip = |p: Price| axis.checked_sub(p).expect("prices stay below 0.005");
    Bar {
        symbol: MIRROR,
        open: flip(bar.open),
        high: flip(bar.low),
        low: flip(bar.high),
        close: flip(bar.close),
        ..*bar
    }
}

/// Hourly bars of `minutes` (one symbol, time order): hours without a candle are skipped
/// (the scanner fills them flat).
fn hourly(minutes: &[Bar]) -> Vec<Bar> {
    let mut hours: Vec<Bar> = Vec::new();
    for bar in minutes {
        let start = bar.open_time_ms - bar.open_time_ms % HOUR_MS;
        match hours.last_mut() {
            Some(hour) if hour.open_time_ms == start => {
                hour.high = hour.high.max(bar.high);
                hour.low = hour.low.min(bar.low);
                hour.close = bar.close;
                hour.volume = hour.volume.saturating_add(bar.volume);
                hour.quote_volume = hour.quote_volume.saturating_add(bar.quote_volume);
                hour.trade_count += bar.trade_count;
            }
            _ => hours.push(Bar {
                timeframe_min: 60,
                open_time_ms: start,
                close_time_ms: start + HOUR_MS,
                ..*bar
            }),
        }
    }
    hours
}

fn passes(score: Option<ScanScore>, config: &ScannerConfig) -> Option<f64> {
    score
        .filter(|s| {
            s.volume_usd >= config.min_volume_usd.to_f64() && s.atr_pct >= config.min_atr_pct
        })
        .map(|s| s.score)
}

#[test]
fn the_scanner_ranks_real_candles_and_keeps_a_fresh_pick() {
    let Some(dir) = common::real_data_dir("symbol scanner on freqtrade candles") else {
        return;
    };
    let path = dir.join("freqtrade/UNITTEST_BTC-1m.json");
    let original = hourly(&minute_bars(&path));
    let mirror: Vec<Bar> = original.iter().map(mirrored).collect();
    let config = ScannerConfig {
        enabled: true,
        universe: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        interval_sec: 20 * 60,
        top_n: 1,
        // The pair turns ~100 BTC an hour; the seed's 250 000 USD scaled down to a BTC quote.
        min_volume_usd: Notional::parse("1").expect("notional"),
        min_minutes_between_reselect: MIN_RESELECT_MIN,
        ..ScannerConfig::default()
    };
    config.validate().expect("valid");
    let mut scanner = SymbolScanner::new(&config, &[ORIGINAL, MIRROR]);
    assert_eq!(
        scanner.selected(),
        &[ORIGINAL],
        "start-up: first of the universe"
    );

    let mut picked_at_ms: Option<u64> = None;
    let (mut scans, mut flips, mut kept_by_anti_churn) = (0u32, 0u32, 0u32);
    let mut changes = Vec::new();
    for (hour, (a, b)) in original.iter().zip(&mirror).enumerate() {
        assert_eq!(a.open_time_ms, b.open_time_ms);
        scanner.on_bar(a);
        scanner.on_bar(b);
        for third in 0..3 {
            let now_ms = a.close_time_ms + third * 20 * MINUTE_MS;
            let before = scanner.selected()[0];
            let other = if before == ORIGINAL { MIRROR } else { ORIGINAL };
            let held = passes(scanner.score(before), &config);
            let rival = passes(scanner.score(other), &config);
            let rival_better = match (held, rival) {
                (Some(h), Some(r)) => r > h,
                (None, Some(_)) => true,
                _ => false,
            };
            let fresh = picked_at_ms.is_some_and(|t| now_ms - t < MIN_RESELECT_MIN * MINUTE_MS);
            let changed = scanner.rescan(now_ms);
            scans += 1;
            assert_eq!(scanner.selected().len(), 1);
            let after = scanner.selected()[0];
            assert_eq!(changed, after != before, "hour {hour}");
            if changed {
                assert!(!fresh, "hour {hour}: a pick left before its 90 minutes");
                assert!(rival_better, "hour {hour}: left for a worse symbol");
                flips += 1;
                picked_at_ms = Some(now_ms);
                changes.push((now_ms, after));
            } else if rival_better {
                assert!(fresh, "hour {hour}: a stale pick kept against a better one");
                kept_by_anti_churn += 1;
            }
            if picked_at_ms.is_none() && (held.is_some() || rival.is_some()) {
                // The first scan that ranks anything keeps or picks by rank: the clock starts.
                picked_at_ms = Some(now_ms);
            }
        }
    }

    // Hand check of the last window: ret = last close / close 59 hours before − 1.
    let last = original.len() - 1;
    let window_start = original[last].open_time_ms - 59 * HOUR_MS;
    let first_in_window = original
        .iter()
        .rev()
        .take_while(|b| b.open_time_ms >= window_start)
        .last()
        .expect("bars in the window");
    let ret_of = |first: &Bar, last: &Bar| last.close.to_f64() / first.close.to_f64() - 1.0;
    let score = scanner.score(ORIGINAL).expect("scored");
    let mirror_score = scanner.score(MIRROR).expect("scored");
    // An hour missing at the window's start would make the first close a flat bar's; the
    // data's last 60 hours have every hour.
    assert_eq!(first_in_window.open_time_ms, window_start);
    let mirror_first = mirrored(first_in_window);
    let expected = ret_of(first_in_window, &original[last]);
    assert!(
        (score.ret - expected).abs() < 1e-12,
        "{} vs {expected}",
        score.ret
    );
    let expected_mirror = ret_of(&mirror_first, &mirror[last]);
    assert!((mirror_score.ret - expected_mirror).abs() < 1e-12);
    assert!(
        score.ret > 0.0 && mirror_score.ret < 0.0,
        "the mirror falls as the coin rises"
    );

    eprintln!(
        "scanner on {} hourly bars ×2: {scans} scans, {flips} selection changes, \
         {kept_by_anti_churn} scans kept a fresh pick against a better-ranked symbol",
        original.len()
    );
    for (ms, symbol) in changes.iter().take(12) {
        eprintln!(
            "  {ms}: {}",
            if *symbol == ORIGINAL {
                "original"
            } else {
                "mirror"
            }
        );
    }
    eprintln!("last scores: original {score:?}\n             mirror   {mirror_score:?}");
    eprintln!("final selection {:?}", scanner.selected());
    assert!(flips >= 2, "the ranking turns on this data");
    assert!(
        kept_by_anti_churn >= 1,
        "the anti-churn rule acted at least once"
    );
    let expected_pick = match (
        passes(Some(score), &config),
        passes(Some(mirror_score), &config),
    ) {
        (Some(o), Some(m)) if m > o => MIRROR,
        (None, Some(_)) => MIRROR,
        _ => ORIGINAL,
    };
    let last_change_ms = changes.last().map_or(0, |c| c.0);
    let end_ms = original[last].close_time_ms + 40 * MINUTE_MS;
    if end_ms - last_change_ms >= MIN_RESELECT_MIN * MINUTE_MS {
        assert_eq!(scanner.selected(), &[expected_pick]);
    }
}
