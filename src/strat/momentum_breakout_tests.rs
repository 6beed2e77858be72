//! Unit tests of the momentum breakout on constructed 1-minute bar series.

use super::*;
use crate::core::{Market, Qty, StrategyId};
use crate::ops::Registry;
use crate::strat::testkit::{Emitted, TestView};

const X: SymbolId = SymbolId(0);
const Y: SymbolId = SymbolId(1);
const Z: SymbolId = SymbolId(2);

fn price(text: &str) -> Price {
    Price::parse(text).expect("test price")
}

/// A 1-minute bar at `minute` (OHLC as text), base `volume` and quote volume 100 × it.
fn bar(symbol: SymbolId, minute: u64, high: &str, low: &str, close: &str, volume: i64) -> Bar {
    Bar {
        symbol,
        timeframe_min: 1,
        open_time_ms: minute * MINUTE_MS,
        close_time_ms: (minute + 1) * MINUTE_MS,
        open: price(close),
        high: price(high),
        low: price(low),
        close: price(close),
        volume: Qty::from_int(volume),
        quote_volume: Notional::from_int(100 * volume),
        trade_count: 1,
    }
}

/// L 3, R 2, V 1, B 2, A 2, move 2 %, volume ×2, quote ≥ 300, extension < 12 %, stop 1 ATR,
/// TP 4 %, 150 USD, 3 per minute, cooldown 120 s: 5 bars needed.
fn config() -> MomentumBreakoutConfig {
    MomentumBreakoutConfig {
        enabled: true,
        lookback_minutes: 3,
        prior_high_minutes: 2,
        move_threshold_pct: 2.0,
        volume_window: 1,
        volume_baseline_window: 2,
        volume_multiplier: 2.0,
        min_quote_vol_usd: Notional::from_int(300),
        max_extension_pct: 12.0,
        atr_period: 2,
        stop_atr_mult: 1.0,
        tp_pct: 4.0,
        cooldown_sec: 120,
        ..MomentumBreakoutConfig::default()
    }
}

/// Minutes 0–3 of the base series (the bars before the breakout).
fn base_history(symbol: SymbolId) -> [Bar; 4] {
    [
        bar(symbol, 0, "100", "100", "100", 1),
        bar(symbol, 1, "101", "99", "100", 1),
        bar(symbol, 2, "100.5", "99.5", "100", 1),
        bar(symbol, 3, "101.5", "100", "101", 1),
    ]
}

/// Minute 4: the breakout bar. Hand-computed against the history: move 104/100 − 1 = 4 %;
/// prior high max(101, 100) = 101; volume 4 / mean(1, 1) = 4; quote 400; window low
/// min(99.5, 100, 101) = 99.5, extension 4.52 %; ATR mean(3, 1.5) = 2.25 → stop
/// max(104 − 2.25, 99.5) = 101.75; take-profit 104 × 1.04 = 108.16.
fn breakout(symbol: SymbolId) -> Bar {
    bar(symbol, 4, "104", "101", "104", 4)
}

fn entry(symbol: SymbolId, stop_loss: &str, take_profit: &str) -> Signal {
    Signal::Enter(EntryPlan {
        symbol,
        side: Side::Buy,
        size: Size::Quote(Notional::from_int(150)),
        limit: Price::ZERO,
        stop_loss: price(stop_loss),
        take_profit: price(take_profit),
        tag: TAG,
    })
}

fn on_bar(strategy: &mut MomentumBreakoutStrategy, view: &TestView, bar: &Bar) -> Emitted {
    view.call(7, 0, None, |ctx| strategy.on_bar(bar, ctx))
}

/// Feeds the history live, then `last`; returns what `last` emitted.
fn run(
    config: &MomentumBreakoutConfig,
    view: &TestView,
    last: &Bar,
) -> (MomentumBreakoutStrategy, Emitted) {
    let mut strategy = MomentumBreakoutStrategy::new(config, &[X]);
    for bar in base_history(X) {
        let out = on_bar(&mut strategy, view, &bar);
        assert!(out.signals.is_empty(), "history bar {bar:?} signalled");
        assert_eq!(strategy.last_decision(X), Some(Decision::Warming));
    }
    let out = on_bar(&mut strategy, view, last);
    (strategy, out)
}

fn decision_of(config: &MomentumBreakoutConfig, view: &TestView, last: &Bar) -> Decision {
    let (strategy, out) = run(config, view, last);
    let decision = strategy.last_decision(X).expect("evaluated");
    assert_eq!(out.signals.is_empty(), decision != Decision::Signal);
    decision
}

fn view() -> TestView {
    TestView::new(3, Market::Spot)
}

#[test]
fn a_breakout_buys_with_an_atr_stop_and_a_percent_target() {
    let (strategy, out) = run(&config(), &view(), &breakout(X));
    assert_eq!(out.signals, vec![entry(X, "101.75", "108.16")]);
    assert!(out.dirty, "the cooldown is persistent state");
    assert_eq!(strategy.last_decision(X), Some(Decision::Signal));
    assert_eq!(strategy.cooldown_until_ms(X), 5 * MINUTE_MS + 120_000);
}

#[test]
fn the_price_is_the_buy_reference_when_the_dispatcher_has_one() {
    let mut view = view();
    view.market_mut(X).ask = price("104.5");
    let (_, out) = run(&config(), &view, &breakout(X));
    // Stop 104.5 − 2.25; target 104.5 × 1.04.
    assert_eq!(out.signals, vec![entry(X, "102.25", "108.68")]);
}

#[test]
fn the_stop_is_floored_at_the_window_low() {
    let config = MomentumBreakoutConfig {
        stop_atr_mult: 3.0,
        ..config()
    };
    // 104 − 3 × 2.25 = 97.25 is below the window low 99.5.
    let (_, out) = run(&config, &view(), &breakout(X));
    assert_eq!(out.signals, vec![entry(X, "99.5", "108.16")]);
}

#[test]
fn a_zero_tp_pct_sends_no_target() {
    let config = MomentumBreakoutConfig {
        tp_pct: 0.0,
        ..config()
    };
    let (_, out) = run(&config, &view(), &breakout(X));
    let Some(Signal::Enter(plan)) = out.signals.first().copied() else {
        panic!("no entry: {:?}", out.signals);
    };
    assert_eq!(plan.take_profit, Price::ZERO);
    assert_eq!(plan.stop_loss, price("101.75"));
}

#[test]
fn each_rule_refuses_at_its_edge() {
    let view = view();
    let with = |change: fn(&mut MomentumBreakoutConfig)| {
        let mut config = config();
        change(&mut config);
        config
    };
    // Move exactly 4 %: passes at 4, fails above.
    let at_edge = with(|c| c.move_threshold_pct = 4.0);
    assert_eq!(decision_of(&at_edge, &view, &breakout(X)), Decision::Signal);
    let above = with(|c| c.move_threshold_pct = 4.01);
    assert_eq!(decision_of(&above, &view, &breakout(X)), Decision::NoMove);
    // Close 104 against a prior high of 104 (passes) and 104.01 (fails).
    let mut config_high = config();
    config_high.move_threshold_pct = 2.0;
    let mut strategy = MomentumBreakoutStrategy::new(&config_high, &[X]);
    let mut history = base_history(X);
    history[1] = bar(X, 1, "104.01", "99", "100", 1);
    for bar in history {
        on_bar(&mut strategy, &view, &bar);
    }
    assert!(on_bar(&mut strategy, &view, &breakout(X))
        .signals
        .is_empty());
    assert_eq!(strategy.last_decision(X), Some(Decision::NoBreakout));
    // Volume ratio exactly 4.
    let ratio_edge = with(|c| c.volume_multiplier = 4.0);
    assert_eq!(
        decision_of(&ratio_edge, &view, &breakout(X)),
        Decision::Signal
    );
    let ratio_above = with(|c| c.volume_multiplier = 4.5);
    assert_eq!(
        decision_of(&ratio_above, &view, &breakout(X)),
        Decision::NoVolume
    );
    // Quote volume exactly 400.
    let quote_edge = with(|c| c.min_quote_vol_usd = Notional::from_int(400));
    assert_eq!(
        decision_of(&quote_edge, &view, &breakout(X)),
        Decision::Signal
    );
    let quote_above = with(|c| c.min_quote_vol_usd = Notional::from_int(401));
    assert_eq!(
        decision_of(&quote_above, &view, &breakout(X)),
        Decision::LowLiquidity
    );
    // Extension 104 / 99.5 − 1 = 4.52 %.
    let stretched = with(|c| c.max_extension_pct = 4.5);
    assert_eq!(
        decision_of(&stretched, &view, &breakout(X)),
        Decision::Overextended
    );
    let room = with(|c| c.max_extension_pct = 4.6);
    assert_eq!(decision_of(&room, &view, &breakout(X)), Decision::Signal);
    // No ATR distance: the stop would sit at the price.
    let no_room = with(|c| c.stop_atr_mult = 0.0);
    assert_eq!(
        decision_of(&no_room, &view, &breakout(X)),
        Decision::NoStopRoom
    );
}

#[test]
fn the_prior_high_equal_to_the_close_is_a_breakout() {
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    let mut history = base_history(X);
    history[0] = bar(X, 0, "104", "100", "100", 1);
    for bar in history {
        on_bar(&mut strategy, &view, &bar);
    }
    let out = on_bar(&mut strategy, &view, &breakout(X));
    assert_eq!(out.signals, vec![entry(X, "101.75", "108.16")]);
}

#[test]
fn a_zero_volume_baseline_passes_only_with_recent_volume() {
    let view = view();
    let quiet = |volume_last: i64| {
        let mut strategy = MomentumBreakoutStrategy::new(
            &MomentumBreakoutConfig {
                min_quote_vol_usd: Notional::ZERO,
                ..config()
            },
            &[X],
        );
        let mut history = base_history(X);
        history[2].volume = Qty::ZERO;
        history[3].volume = Qty::ZERO;
        for bar in history {
            on_bar(&mut strategy, &view, &bar);
        }
        let mut last = breakout(X);
        last.volume = Qty::from_int(volume_last);
        let out = on_bar(&mut strategy, &view, &last);
        (strategy.last_decision(X), out.signals.len())
    };
    assert_eq!(
        quiet(4),
        (Some(Decision::Signal), 1),
        "volume out of nothing"
    );
    assert_eq!(quiet(0), (Some(Decision::NoVolume), 0), "0 / 0 is no boost");
}

#[test]
fn flat_prices_and_a_single_bar_never_signal() {
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    let out = on_bar(&mut strategy, &view, &bar(X, 0, "100", "100", "100", 0));
    assert!(out.signals.is_empty());
    assert_eq!(
        strategy.last_decision(X),
        Some(Decision::Warming),
        "single bar"
    );
    for minute in 1..10 {
        let out = on_bar(
            &mut strategy,
            &view,
            &bar(X, minute, "100", "100", "100", 0),
        );
        assert!(out.signals.is_empty());
    }
    assert_eq!(strategy.last_decision(X), Some(Decision::NoMove));
}

#[test]
fn a_zero_price_bar_is_refused_without_nan() {
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    let mut history = base_history(X);
    history[1] = bar(X, 1, "0", "0", "0", 1);
    for bar in history {
        on_bar(&mut strategy, &view, &bar);
    }
    assert!(on_bar(&mut strategy, &view, &breakout(X))
        .signals
        .is_empty());
    assert_eq!(
        strategy.last_decision(X),
        Some(Decision::NoMove),
        "reference close 0"
    );
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    let mut history = base_history(X);
    history[2] = bar(X, 2, "100.5", "0", "100", 1);
    for bar in history {
        on_bar(&mut strategy, &view, &bar);
    }
    assert!(on_bar(&mut strategy, &view, &breakout(X))
        .signals
        .is_empty());
    assert_eq!(
        strategy.last_decision(X),
        Some(Decision::Overextended),
        "window low 0"
    );
}

#[test]
fn missing_minutes_count_as_flat_bars() {
    // Minutes 4 and 5 missing: the window is 6, flat 5, flat 4 (at 101, no volume), 3, 2.
    // Move 104/101 − 1; prior high 101.5; zero baseline with volume now; window low 101;
    // ATR mean(3, 0) = 1.5 → stop 102.5 (counting bars, not minutes, would give 101.75).
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    for bar in base_history(X) {
        on_bar(&mut strategy, &view, &bar);
    }
    let out = on_bar(&mut strategy, &view, &bar(X, 6, "104", "101", "104", 4));
    assert_eq!(out.signals, vec![entry(X, "102.5", "108.16")]);
}

#[test]
fn warm_up_bars_fill_the_windows_and_never_signal() {
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    for bar in base_history(X) {
        strategy.on_warmup_bar(&bar);
    }
    strategy.on_warmup_bar(&breakout(X));
    assert_eq!(
        strategy.last_decision(X),
        None,
        "warm-up bars are not evaluated"
    );
    assert_eq!(strategy.cooldown_until_ms(X), 0);
    // The next live bar is evaluated on the warmed windows (no "warming").
    let out = on_bar(&mut strategy, &view, &bar(X, 5, "104", "104", "104", 0));
    assert!(out.signals.is_empty());
    assert_eq!(strategy.last_decision(X), Some(Decision::NoVolume));
    // With history warmed and the breakout live, it enters at once.
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    for bar in base_history(X) {
        strategy.on_warmup_bar(&bar);
    }
    let out = on_bar(&mut strategy, &view, &breakout(X));
    assert_eq!(out.signals, vec![entry(X, "101.75", "108.16")]);
}

/// A steady rise: closes 100 × 1.02^m (as 2-decimal text), highs at the close, lows at the
/// previous close, volumes doubling: every bar from minute 4 is a breakout.
fn rising(symbol: SymbolId, minute: u64) -> Bar {
    let close = |m: u64| 100.0 * 1.02f64.powi(m as i32);
    let text = |v: f64| format!("{v:.2}");
    let low = if minute == 0 {
        close(0)
    } else {
        close(minute - 1)
    };
    bar(
        symbol,
        minute,
        &text(close(minute)),
        &text(low),
        &text(close(minute)),
        1 << minute,
    )
}

#[test]
fn cooldown_blocks_re_entry_until_it_ends_in_venue_time() {
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    for minute in 0..4 {
        on_bar(&mut strategy, &view, &rising(X, minute));
    }
    assert_eq!(on_bar(&mut strategy, &view, &rising(X, 4)).signals.len(), 1);
    // Sent at the close of minute 4 (5 min): cooldown until 7 min.
    assert_eq!(strategy.cooldown_until_ms(X), 7 * MINUTE_MS);
    assert!(on_bar(&mut strategy, &view, &rising(X, 5))
        .signals
        .is_empty());
    assert_eq!(strategy.last_decision(X), Some(Decision::Cooldown));
    // A later venue time than the bar close counts.
    let out = view.call(7, 7 * MINUTE_MS + 1, None, |ctx| {
        strategy.on_bar(&rising(X, 6), ctx);
    });
    assert_eq!(
        out.signals.len(),
        1,
        "the entry was never filled: idle again"
    );
    assert_eq!(strategy.cooldown_until_ms(X), 9 * MINUTE_MS + 1);
}

#[test]
fn it_never_enters_what_it_holds_what_another_owns_or_what_is_out_of_scope() {
    let refused = |change: fn(&mut TestView)| {
        let mut view = view();
        change(&mut view);
        decision_of(&config(), &view, &breakout(X))
    };
    assert_eq!(
        refused(|v| v.holding_mut(X).qty = Qty::ONE),
        Decision::Holding
    );
    assert_eq!(
        refused(|v| v.holding_mut(X).entry_open = true),
        Decision::Holding
    );
    assert_eq!(
        refused(|v| v.holding_mut(X).exiting = true),
        Decision::Holding
    );
    assert_eq!(
        refused(|v| v.holding_mut(X).open_orders = 2),
        Decision::Holding
    );
    assert_eq!(refused(|v| v.scope[0] = false), Decision::OutOfScope);
    assert_eq!(
        refused(|v| v.owners[0] = Some(StrategyId(10))),
        Decision::Owned
    );
    assert_eq!(
        refused(|v| v.owners[0] = Some(ids::MOMENTUM_BREAKOUT)),
        Decision::Signal,
        "owning it itself with nothing held or open is not a conflict"
    );
}

#[test]
fn at_most_max_signals_per_minute_across_symbols() {
    let config = MomentumBreakoutConfig {
        max_signals_per_cycle: 2,
        min_quote_vol_usd: Notional::ZERO,
        ..config()
    };
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config, &[X, Y, Z]);
    for minute in 0..4 {
        for symbol in [X, Y, Z] {
            on_bar(&mut strategy, &view, &rising(symbol, minute));
        }
    }
    let sent: Vec<usize> = [X, Y, Z]
        .iter()
        .map(|&s| on_bar(&mut strategy, &view, &rising(s, 4)).signals.len())
        .collect();
    assert_eq!(sent, vec![1, 1, 0]);
    assert_eq!(strategy.last_decision(Z), Some(Decision::CycleFull));
    assert_eq!(
        strategy.cooldown_until_ms(Z),
        0,
        "no cooldown without an entry"
    );
    // The next minute is a new cycle: X and Y cool down, Z goes.
    let sent: Vec<usize> = [X, Y, Z]
        .iter()
        .map(|&s| on_bar(&mut strategy, &view, &rising(s, 5)).signals.len())
        .collect();
    assert_eq!(sent, vec![0, 0, 1]);
}

#[test]
fn repeated_bars_other_timeframes_and_other_symbols_are_ignored() {
    let view = view();
    let (mut strategy, out) = run(&config(), &view, &breakout(X));
    assert_eq!(out.signals.len(), 1);
    strategy.cooldown_until_ms[0] = 0;
    assert!(
        on_bar(&mut strategy, &view, &breakout(X))
            .signals
            .is_empty(),
        "repeat"
    );
    let mut hourly = bar(X, 60, "200", "100", "200", 100);
    hourly.timeframe_min = 60;
    assert!(on_bar(&mut strategy, &view, &hourly).signals.is_empty());
    assert!(on_bar(&mut strategy, &view, &breakout(Y))
        .signals
        .is_empty());
    assert_eq!(strategy.last_decision(Y), None);
}

#[test]
fn the_cooldown_survives_a_restart_through_the_snapshot() {
    let view = view();
    let (strategy, _) = run(&config(), &view, &breakout(X));
    let mut body = Vec::new();
    strategy.snapshot(&mut body);
    assert_eq!(
        std::str::from_utf8(&body).expect("utf-8"),
        r#"{"cooldown_until_ms":[[0,420000]]}"#
    );
    let mut restarted = MomentumBreakoutStrategy::new(&config(), &[Y, X]);
    restarted.restore(&body).expect("own snapshot");
    assert_eq!(restarted.cooldown_until_ms(X), 420_000);
    for bar in base_history(X) {
        restarted.on_warmup_bar(&bar);
    }
    restarted.on_warmup_bar(&breakout(X));
    let out = on_bar(&mut restarted, &view, &rising(X, 5));
    assert!(out.signals.is_empty());
    assert_eq!(restarted.last_decision(X), Some(Decision::Cooldown));
    // Unknown symbols are dropped; garbage is an error naming the strategy.
    let mut other = MomentumBreakoutStrategy::new(&config(), &[Y]);
    other.restore(&body).expect("valid");
    assert_eq!(other.cooldown_until_ms(X), 0);
    let error = other.restore(b"[1,2").expect_err("not a snapshot");
    assert_eq!(error.strategy, NAME);
}

#[test]
fn metrics_count_decisions_orders_and_show_the_cooldown() {
    let mut registry = Registry::new();
    let names = vec!["XUSDT".to_owned()];
    let view = view();
    let mut strategy = MomentumBreakoutStrategy::new(&config(), &[X]);
    strategy
        .attach_metrics(&mut MetricsScope {
            registry: &mut registry,
            venue: "paper",
            symbol_names: &names,
        })
        .expect("registered");
    for bar in base_history(X) {
        on_bar(&mut strategy, &view, &bar);
    }
    on_bar(&mut strategy, &view, &breakout(X));
    let update = |role, status| OrderUpdate {
        strategy: ids::MOMENTUM_BREAKOUT,
        symbol: X,
        role,
        status,
        ..OrderUpdate::default()
    };
    let out = view.call(0, 0, None, |ctx| {
        strategy.on_order(&update(OrderRole::Entry, OrderStatus::New), ctx);
        strategy.on_order(&update(OrderRole::Entry, OrderStatus::Filled), ctx);
        strategy.on_order(&update(OrderRole::TakeProfit, OrderStatus::Filled), ctx);
        strategy.on_order(&update(OrderRole::StopLoss, OrderStatus::Canceled), ctx);
    });
    assert!(out.signals.is_empty(), "order updates send nothing");
    let text = registry.render();
    let line = |name: &str, labels: &str, value: &str| {
        let wanted = format!("{name}{{{labels}}} {value}\n");
        assert!(text.contains(&wanted), "{wanted:?} not in\n{text}");
    };
    let candidates = "momentum_breakout_candidates_total";
    line(
        candidates,
        r#"decision="warming",symbol="XUSDT",venue="paper""#,
        "4",
    );
    line(
        candidates,
        r#"decision="signal",symbol="XUSDT",venue="paper""#,
        "1",
    );
    line(
        candidates,
        r#"decision="no_move",symbol="XUSDT",venue="paper""#,
        "0",
    );
    let orders = "momentum_breakout_orders_total";
    line(
        orders,
        r#"status="submitted",symbol="XUSDT",venue="paper""#,
        "1",
    );
    line(
        orders,
        r#"status="filled",symbol="XUSDT",venue="paper""#,
        "1",
    );
    line(
        orders,
        r#"status="take_profit",symbol="XUSDT",venue="paper""#,
        "1",
    );
    line(
        orders,
        r#"status="stop_loss",symbol="XUSDT",venue="paper""#,
        "0",
    );
    line(
        "momentum_breakout_cooldown_epoch",
        r#"symbol="XUSDT""#,
        "420",
    );
}

#[test]
fn identity_and_wiring() {
    let strategy = MomentumBreakoutStrategy::new(
        &MomentumBreakoutConfig {
            use_scanner: true,
            ..config()
        },
        &[X, Y, X],
    );
    assert_eq!(
        strategy.info(),
        StrategyInfo {
            id: ids::MOMENTUM_BREAKOUT,
            name: "momentum_breakout"
        }
    );
    assert_eq!(strategy.symbols(), &[X, Y], "duplicates dropped");
    assert_eq!(strategy.timeframes(), &[1]);
    assert!(strategy.uses_scanner());
    assert_eq!(strategy.tags(), &["momentum_breakout"]);
    assert_eq!(config().bars_needed(), 5);
    assert_eq!(MomentumBreakoutConfig::default().bars_needed(), 60);
}

#[test]
fn validation_names_the_bad_key_and_toml_reads_the_section() {
    assert_eq!(MomentumBreakoutConfig::default().validate(), Ok(()));
    let key = |config: MomentumBreakoutConfig| config.validate().map_err(|(key, _)| key);
    let base = MomentumBreakoutConfig::default;
    let cases: Vec<(MomentumBreakoutConfig, &str)> = vec![
        (
            MomentumBreakoutConfig {
                lookback_minutes: 0,
                ..base()
            },
            "lookback_minutes",
        ),
        (
            MomentumBreakoutConfig {
                volume_window: 0,
                ..base()
            },
            "volume_window",
        ),
        (
            MomentumBreakoutConfig {
                atr_period: 20_000,
                ..base()
            },
            "atr_period",
        ),
        (
            MomentumBreakoutConfig {
                move_threshold_pct: f64::NAN,
                ..base()
            },
            "move_threshold_pct",
        ),
        (
            MomentumBreakoutConfig {
                tp_pct: -1.0,
                ..base()
            },
            "tp_pct",
        ),
        (
            MomentumBreakoutConfig {
                max_extension_pct: 0.0,
                ..base()
            },
            "max_extension_pct",
        ),
        (
            MomentumBreakoutConfig {
                notional_usd: Notional::ZERO,
                ..base()
            },
            "notional_usd",
        ),
        (
            MomentumBreakoutConfig {
                max_signals_per_cycle: 0,
                ..base()
            },
            "max_signals_per_cycle",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(key(config), Err(expected.to_owned()));
    }
    let parsed: MomentumBreakoutConfig = toml::from_str(
        "enabled = true\nsymbols = [\"SOLUSDT\"]\nnotional_usd = \"125\"\nlookback_minutes = 10\n",
    )
    .expect("valid toml");
    assert!(parsed.enabled && !parsed.dry_run);
    assert_eq!(parsed.symbols, vec!["SOLUSDT".to_owned()]);
    assert_eq!(parsed.notional_usd, Notional::from_int(125));
    assert_eq!(parsed.lookback_minutes, 10);
    assert_eq!(parsed.cooldown_sec, 600, "defaults fill the rest");
    assert!(toml::from_str::<MomentumBreakoutConfig>("interval_sec = 30").is_err());
}
