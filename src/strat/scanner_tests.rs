//! Unit tests of the symbol scanner on constructed bar series.

use super::*;
use crate::core::{Price, Qty};
use crate::ops::Registry;
use crate::strat::api::SymbolSelector;

const HOUR_MS: u64 = 60 * MINUTE_MS;
const A: SymbolId = SymbolId(0);
const B: SymbolId = SymbolId(1);
const C: SymbolId = SymbolId(2);

/// A 1h bar `hour` with the given close, a range of `spread` around it and `volume`.
fn bar(symbol: SymbolId, hour: u64, close: i64, spread: i64, volume: i64) -> Bar {
    Bar {
        symbol,
        timeframe_min: 60,
        open_time_ms: hour * HOUR_MS,
        close_time_ms: (hour + 1) * HOUR_MS,
        open: Price::from_int(close),
        high: Price::from_int(close + spread),
        low: Price::from_int(close - spread),
        close: Price::from_int(close),
        volume: Qty::from_int(volume),
        trade_count: 1,
        ..Bar::default()
    }
}

/// Feeds closes as consecutive hours from `first_hour`, ranges 0, `volume` each.
fn feed(
    scanner: &mut SymbolScanner,
    symbol: SymbolId,
    first_hour: u64,
    closes: &[i64],
    volume: i64,
) {
    for (i, &close) in closes.iter().enumerate() {
        scanner.on_bar(&bar(symbol, first_hour + i as u64, close, 0, volume));
    }
}

/// No filters, 6-bar window, top 2, no anti-churn.
fn config() -> ScannerConfig {
    ScannerConfig {
        enabled: true,
        universe: vec!["A".into(), "B".into(), "C".into()],
        lookback: 6,
        top_n: 2,
        min_volume_usd: Notional::ZERO,
        min_atr_pct: 0.0,
        min_minutes_between_reselect: 0,
        ..ScannerConfig::default()
    }
}

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{actual} is not {expected}"
    );
}

/// A: 100 ×5 then 110; B: 100 then 104 ×5; C: 100 down to 95. Volumes 10, 5, 10.
fn three_symbols(config: &ScannerConfig) -> SymbolScanner {
    let mut scanner = SymbolScanner::new(config, &[A, B, C]);
    feed(&mut scanner, A, 0, &[100, 100, 100, 100, 100, 110], 10);
    feed(&mut scanner, B, 0, &[100, 104, 104, 104, 104, 104], 5);
    feed(&mut scanner, C, 0, &[100, 99, 98, 97, 96, 95], 10);
    scanner
}

#[test]
fn scores_match_the_hand_computed_terms() {
    let scanner = three_symbols(&config());
    // A: ret 110/100 − 1; trend (510/5)/(610/6) − 1 = 612/610 − 1; the only true range is
    // the last bar's 10 over 5 ranges → ATR 2, 2/110 of the close; volume 10 × 110.
    let a = scanner.score(A).expect("A has 6 bars");
    close(a.ret, 0.1);
    close(a.trend, 2.0 / 610.0);
    close(a.atr_pct, 200.0 / 110.0);
    close(a.volume_usd, 1100.0);
    close(
        a.score,
        0.5 * 0.1 + 0.3 * (2.0 / 610.0) + 0.2 * (2.0 / 110.0),
    );
    // B: ret 0.04; trend 104/(620/6) − 1 = 4/620; ATR 4/5 = 0.8 → 0.8/104; volume 5 × 104.
    let b = scanner.score(B).expect("B has 6 bars");
    close(b.ret, 0.04);
    close(b.trend, 4.0 / 620.0);
    close(b.atr_pct, 80.0 / 104.0);
    close(b.volume_usd, 520.0);
    close(
        b.score,
        0.5 * 0.04 + 0.3 * (4.0 / 620.0) + 0.2 * (0.8 / 104.0),
    );
    // C: ret −0.05; trend 97/97.5 − 1; ATR 1 → 1/95; volume 950.
    let c = scanner.score(C).expect("C has 6 bars");
    close(c.ret, -0.05);
    close(c.trend, 97.0 / 97.5 - 1.0);
    close(c.atr_pct, 100.0 / 95.0);
    close(
        c.score,
        0.5 * -0.05 + 0.3 * (97.0 / 97.5 - 1.0) + 0.2 * (1.0 / 95.0),
    );
}

#[test]
fn the_selection_is_the_top_n_by_score_in_rank_order() {
    let mut config = config();
    config.top_n = 3;
    // Universe order C, B, A: the start-up selection is the first N, the scan reorders it.
    let mut scanner = SymbolScanner::new(&config, &[C, B, A]);
    feed(&mut scanner, A, 0, &[100, 100, 100, 100, 100, 110], 10);
    feed(&mut scanner, B, 0, &[100, 104, 104, 104, 104, 104], 5);
    feed(&mut scanner, C, 0, &[100, 99, 98, 97, 96, 95], 10);
    assert_eq!(scanner.selected(), &[C, B, A]);
    assert!(!scanner.rescan(HOUR_MS), "same set, only the order changes");
    assert_eq!(scanner.selected(), &[A, B, C]);

    let mut top2 = three_symbols(&ScannerConfig { top_n: 2, ..config });
    assert_eq!(
        top2.selected(),
        &[A, B],
        "start-up: first N of the universe"
    );
    assert!(!top2.rescan(HOUR_MS));
    assert_eq!(top2.selected(), &[A, B]);
    assert!(top2.is_selected(A) && top2.is_selected(B) && !top2.is_selected(C));
}

#[test]
fn equal_scores_rank_in_universe_order() {
    let mut config = config();
    config.top_n = 1;
    let mut scanner = SymbolScanner::new(&config, &[C, A, B]);
    for symbol in [A, B, C] {
        feed(&mut scanner, symbol, 0, &[100, 101, 102, 103, 104, 105], 1);
    }
    assert!(!scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[C]);
}

#[test]
fn the_volume_filter_drops_thin_symbols() {
    let mut config = config();
    // B trades 520 USD a bar on average, A 1100, C 950.
    config.min_volume_usd = Notional::from_int(900);
    let mut scanner = three_symbols(&config);
    assert!(scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[A, C]);
}

#[test]
fn the_atr_filter_drops_quiet_symbols() {
    let mut config = config();
    // ATR %: A 1.82, B 0.77, C 1.05.
    config.min_atr_pct = 1.0;
    let mut scanner = three_symbols(&config);
    assert!(scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[A, C]);
    config.min_atr_pct = 1.1;
    let mut scanner = three_symbols(&config);
    assert!(scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[A], "one ranks: fewer than N is fine");
}

#[test]
fn flat_prices_score_zero_and_fail_the_volatility_filter_so_the_selection_stays() {
    let mut config = config();
    config.min_atr_pct = 0.5;
    let mut scanner = SymbolScanner::new(&config, &[A, B, C]);
    for symbol in [A, B, C] {
        feed(&mut scanner, symbol, 0, &[100; 6], 0);
    }
    let flat = scanner.score(A).expect("scored");
    assert_eq!(
        (
            flat.ret,
            flat.trend,
            flat.atr_pct,
            flat.volume_usd,
            flat.score
        ),
        (0.0, 0.0, 0.0, 0.0, 0.0)
    );
    assert!(!scanner.rescan(HOUR_MS), "nothing ranks");
    assert_eq!(scanner.selected(), &[A, B], "previous selection kept");
    assert_eq!(scanner.last_scan_ms(), Some(HOUR_MS), "it was a scan");
}

#[test]
fn zero_volume_passes_a_zero_volume_filter_but_not_a_positive_one() {
    let mut config = config();
    config.top_n = 1;
    let mut scanner = SymbolScanner::new(&config, &[A, B]);
    feed(&mut scanner, A, 0, &[100, 100, 100, 100, 100, 101], 0);
    feed(&mut scanner, B, 0, &[100, 100, 100, 100, 100, 110], 0);
    assert!(scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[B]);
    config.min_volume_usd = Notional::from_int(1);
    let mut scanner = SymbolScanner::new(&config, &[A, B]);
    feed(&mut scanner, B, 0, &[100, 100, 100, 100, 100, 110], 0);
    assert!(!scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[A]);
}

#[test]
fn fewer_than_five_bars_or_a_single_bar_are_not_scored() {
    let mut scanner = SymbolScanner::new(&config(), &[A, B, C]);
    feed(&mut scanner, C, 0, &[100], 10);
    assert_eq!(scanner.score(C), None);
    feed(&mut scanner, C, 1, &[101, 102, 103], 10);
    assert_eq!(scanner.score(C), None, "4 bars");
    assert!(!scanner.rescan(HOUR_MS));
    assert_eq!(scanner.selected(), &[A, B]);
    feed(&mut scanner, C, 4, &[104], 10);
    assert!(scanner.score(C).is_some(), "5 bars");
    assert_eq!(scanner.score(SymbolId(9)), None, "not in the universe");
}

#[test]
fn the_window_keeps_the_last_lookback_bars_and_fills_gaps_flat() {
    let mut scanner = SymbolScanner::new(&config(), &[A]);
    // Hours 0..5 at 50, then a bar at hour 8 (hours 6 and 7 missing) at 60.
    feed(&mut scanner, A, 0, &[50, 50, 50, 50, 50, 50], 1);
    scanner.on_bar(&bar(A, 8, 60, 0, 1));
    // Window: 50, 50, 50, 50 (hour 6, flat), 50 (hour 7, flat), 60 → volumes 1,1,1,0,0,1.
    let score = scanner.score(A).expect("scored");
    close(score.ret, 0.2);
    close(score.volume_usd, 4.0 / 6.0 * 60.0);
}

#[test]
fn other_timeframes_and_symbols_are_ignored() {
    let mut scanner = SymbolScanner::new(&config(), &[A]);
    for hour in 0..6 {
        let mut minute_bar = bar(A, hour, 100, 1, 1);
        minute_bar.timeframe_min = 1;
        scanner.on_bar(&minute_bar);
        scanner.on_bar(&bar(B, hour, 100, 1, 1));
    }
    assert_eq!(scanner.score(A), None);
    assert_eq!(scanner.timeframe_min(), 60);
}

#[test]
fn scans_only_every_interval_of_venue_time() {
    let mut config = config();
    config.top_n = 1;
    let mut scanner = SymbolScanner::new(&config, &[A, B]);
    feed(&mut scanner, A, 0, &[100, 100, 100, 100, 100, 101], 1);
    feed(&mut scanner, B, 0, &[100, 100, 100, 100, 100, 100], 1);
    assert!(!scanner.rescan(0), "no venue time yet");
    assert_eq!(scanner.last_scan_ms(), None);
    let t0 = 1_700_000_000_000;
    assert!(!scanner.rescan(t0), "A stays on top");
    feed(&mut scanner, B, 6, &[120], 1);
    assert!(!scanner.rescan(t0 + 299_999), "interval not over: no scan");
    assert_eq!(scanner.selected(), &[A]);
    assert!(scanner.rescan(t0 + 300_000));
    assert_eq!(scanner.selected(), &[B]);
    assert_eq!(scanner.last_scan_ms(), Some(t0 + 300_000));
}

/// Scanner of A, B, C with top 1, 5-bar windows and the 30-minute anti-churn rule; C
/// rises first, then goes flat while B rises.
fn churn_setup() -> (SymbolScanner, u64) {
    churn_setup_with(30)
}

fn churn_setup_with(min_minutes_between_reselect: u64) -> (SymbolScanner, u64) {
    let config = ScannerConfig {
        lookback: 5,
        top_n: 1,
        min_minutes_between_reselect,
        ..config()
    };
    let mut scanner = SymbolScanner::new(&config, &[A, B, C]);
    feed(&mut scanner, A, 0, &[100; 5], 1);
    feed(&mut scanner, B, 0, &[100; 5], 1);
    feed(&mut scanner, C, 0, &[100, 101, 102, 103, 104], 1);
    let t0 = 1_700_000_000_000;
    assert!(scanner.rescan(t0));
    assert_eq!(scanner.selected(), &[C]);
    feed(&mut scanner, A, 5, &[100; 5], 1);
    feed(&mut scanner, B, 5, &[102, 104, 106, 108, 110], 1);
    feed(&mut scanner, C, 5, &[104; 5], 1);
    (scanner, t0)
}

#[test]
fn anti_churn_keeps_a_fresh_pick_until_its_minimum_time_is_over() {
    let (mut scanner, t0) = churn_setup();
    // B now ranks first; C (selected 10 minutes ago) is pinned. The seed instead excluded C
    // from ranking and dropped it (D-21).
    assert!(!scanner.rescan(t0 + 10 * MINUTE_MS));
    assert_eq!(scanner.selected(), &[C]);
    assert!(
        !scanner.rescan(t0 + 25 * MINUTE_MS),
        "25 minutes: still pinned"
    );
    assert_eq!(scanner.selected(), &[C]);
    assert!(
        scanner.rescan(t0 + 30 * MINUTE_MS),
        "30 minutes: free to go"
    );
    assert_eq!(scanner.selected(), &[B]);
}

#[test]
fn a_pinned_symbol_that_no_longer_ranks_is_listed_after_the_ranked_ones() {
    let config = ScannerConfig {
        lookback: 5,
        top_n: 2,
        min_atr_pct: 0.5,
        min_minutes_between_reselect: 30,
        ..config()
    };
    let mut scanner = SymbolScanner::new(&config, &[A, B, C]);
    // Flat windows fail the 0.5 % ATR filter.
    feed(&mut scanner, A, 0, &[100, 100, 100, 100, 104], 1);
    feed(&mut scanner, B, 0, &[100; 5], 1);
    feed(&mut scanner, C, 0, &[100, 101, 102, 103, 106], 1);
    let t0 = 1_700_000_000_000;
    assert!(scanner.rescan(t0), "B (start-up pick) leaves");
    assert_eq!(scanner.selected(), &[C, A]);
    feed(&mut scanner, A, 5, &[104, 104, 104, 104, 108], 1);
    feed(&mut scanner, B, 5, &[102, 104, 106, 108, 110], 1);
    feed(&mut scanner, C, 5, &[106; 5], 1);
    assert!(
        scanner.rescan(t0 + 35 * MINUTE_MS),
        "35 min: nothing pinned"
    );
    assert_eq!(scanner.selected(), &[B, A]);
    feed(&mut scanner, A, 10, &[108, 108, 108, 108, 112], 1);
    feed(&mut scanner, B, 10, &[110; 5], 1);
    feed(&mut scanner, C, 10, &[106, 107, 108, 109, 112], 1);
    // Ranked: C, A; B (selected 5 minutes ago) no longer ranks but is pinned, so the one
    // free place goes to C and A (selected 40 minutes ago) leaves.
    assert!(scanner.rescan(t0 + 40 * MINUTE_MS));
    assert_eq!(scanner.selected(), &[C, B]);
    assert!(
        scanner.rescan(t0 + 65 * MINUTE_MS),
        "B's 30 minutes are over"
    );
    assert_eq!(scanner.selected(), &[C, A]);
}

#[test]
fn zero_minutes_between_reselects_pins_nothing() {
    let (mut scanner, t0) = churn_setup_with(0);
    assert!(scanner.rescan(t0 + 5 * MINUTE_MS));
    assert_eq!(scanner.selected(), &[B]);
}

#[test]
fn snapshot_and_restore_keep_selection_entry_times_and_the_last_scan() {
    let (mut scanner, t0) = churn_setup();
    let mut body = Vec::new();
    scanner.snapshot(&mut body);
    let text = std::str::from_utf8(&body).expect("json is utf-8");
    assert_eq!(
        text,
        format!("{{\"selected\":[[2,{t0}]],\"last_scan_ms\":{t0}}}")
    );
    // A restarted scanner with the same data: C is still pinned, the next scan is due
    // 300 s after the restored one.
    let config = ScannerConfig {
        lookback: 5,
        top_n: 1,
        min_minutes_between_reselect: 30,
        ..config()
    };
    let mut restarted = SymbolScanner::new(&config, &[A, B, C]);
    assert_eq!(restarted.selected(), &[A]);
    restarted.restore(&body).expect("own snapshot");
    assert_eq!(restarted.selected(), &[C]);
    assert_eq!(restarted.last_scan_ms(), Some(t0));
    feed(&mut restarted, B, 0, &[102, 104, 106, 108, 110], 1);
    assert!(!restarted.rescan(t0 + 299_000), "not due");
    assert!(
        !restarted.rescan(t0 + 10 * MINUTE_MS),
        "C pinned after restart"
    );
    assert_eq!(restarted.selected(), &[C]);
    assert!(restarted.rescan(t0 + 30 * MINUTE_MS));
    assert_eq!(restarted.selected(), &[B]);
    // The same body restored again into the scanner that wrote it changes nothing.
    scanner.restore(&body).expect("own snapshot");
    assert_eq!(scanner.selected(), &[C]);
}

#[test]
fn restore_drops_unknown_symbols_and_refuses_garbage() {
    let mut scanner = SymbolScanner::new(&config(), &[A, B, C]);
    scanner
        .restore(br#"{"selected":[[7,5],[2,null],[2,9],[1,8],[0,1]],"last_scan_ms":null}"#)
        .expect("valid");
    assert_eq!(
        scanner.selected(),
        &[C, B],
        "unknown 7 and the repeat dropped, top 2"
    );
    scanner
        .restore(br#"{"selected":[[7,5]],"last_scan_ms":3}"#)
        .expect("valid");
    assert_eq!(scanner.selected(), &[C, B], "nothing known: selection kept");
    assert_eq!(scanner.last_scan_ms(), Some(3));
    assert!(scanner.restore(b"{not json").is_err());
    assert_eq!(scanner.selected(), &[C, B]);
}

#[test]
fn metrics_count_entries_and_show_the_last_scores() {
    let mut registry = Registry::new();
    let names = vec!["AUSDT".to_owned(), "BUSDT".to_owned(), "CUSDT".to_owned()];
    let (mut scanner, t0) = churn_setup();
    {
        let mut scope = MetricsScope {
            registry: &mut registry,
            venue: "paper",
            symbol_names: &names,
        };
        scanner.attach_metrics(&mut scope).expect("registered");
    }
    assert!(scanner.rescan(t0 + 30 * MINUTE_MS));
    let text = registry.render();
    assert!(
        text.contains("symbol_scanner_selected_total{symbol=\"BUSDT\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("symbol_scanner_selected_total{symbol=\"CUSDT\"} 0"),
        "{text}"
    );
    let b = scanner.score(B).expect("scored").score;
    assert!(
        text.contains(&format!("symbol_scanner_score{{symbol=\"BUSDT\"}} {b}")),
        "{text}"
    );
    assert!(
        text.contains("symbol_scanner_score{symbol=\"AUSDT\"} 0"),
        "{text}"
    );
}

#[test]
fn validation_names_the_bad_key() {
    assert_eq!(ScannerConfig::default().validate(), Ok(()));
    let key = |config: ScannerConfig| config.validate().map_err(|(key, _)| key);
    let base = ScannerConfig::default;
    assert_eq!(
        key(ScannerConfig {
            interval_minutes: 7,
            ..base()
        }),
        Err("interval_minutes".into())
    );
    assert_eq!(
        key(ScannerConfig {
            lookback: 4,
            ..base()
        }),
        Err("lookback".into())
    );
    assert_eq!(
        key(ScannerConfig { top_n: 0, ..base() }),
        Err("top_n".into())
    );
    assert_eq!(
        key(ScannerConfig {
            interval_sec: 0,
            ..base()
        }),
        Err("interval_sec".into())
    );
    assert_eq!(
        key(ScannerConfig {
            weight_vol: f64::NAN,
            ..base()
        }),
        Err("weight_vol".into())
    );
    assert_eq!(
        key(ScannerConfig {
            min_atr_pct: -1.0,
            ..base()
        }),
        Err("min_atr_pct".into())
    );
    let empty = ScannerConfig {
        enabled: true,
        universe: vec![],
        ..base()
    };
    assert_eq!(key(empty), Err("universe".into()));
    let parsed: ScannerConfig =
        toml::from_str("top_n = 5\nmin_volume_usd = \"1000.5\"\n").expect("valid toml");
    assert_eq!(
        (parsed.top_n, parsed.min_volume_usd),
        (5, Notional::parse("1000.5").expect("decimal"))
    );
    assert!(
        toml::from_str::<ScannerConfig>("top_m = 5").is_err(),
        "unknown keys refused"
    );
}
