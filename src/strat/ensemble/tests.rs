//! Unit tests of the ensemble strategy: each rule on constructed series, exact signals.

use std::sync::Arc;

use super::*;
use crate::core::{Market, Qty, StrategyId, TradePrint};
use crate::strat::hmm::model::{ModelParts, Scaler, TrainedOn};
use crate::strat::hmm::FEATURE_NAMES;
use crate::strat::testkit::{Emitted, TestView};

const BTC: SymbolId = SymbolId(0);
const ETH: SymbolId = SymbolId(1);
const OTHER: SymbolId = SymbolId(2);

fn px(text: &str) -> Price {
    Price::parse(text).expect("price")
}

fn trade(symbol: SymbolId, price: f64, ms: u64) -> MarketEvent {
    MarketEvent {
        symbol,
        recv_ns: ms * 1_000_000,
        exch_ts_ms: ms,
        kind: MarketEventKind::Trade(TradePrint {
            trade_id: ms,
            price: Price::from_f64_lossy(price).expect("price"),
            qty: Qty::ONE,
            aggressor: Side::Buy,
        }),
    }
}

fn bar(symbol: SymbolId, close: f64, minute: u64) -> Bar {
    let close = Price::from_f64_lossy(close).expect("price");
    Bar {
        symbol,
        timeframe_min: 1,
        open_time_ms: minute * 60_000,
        close_time_ms: (minute + 1) * 60_000,
        open: close,
        high: close,
        low: close,
        close,
        volume: Qty::ONE,
        trade_count: 1,
        ..Bar::default()
    }
}

/// MA 2 / 4 so a cross takes five prices.
fn ma_config() -> EnsembleConfig {
    EnsembleConfig {
        fast: 2,
        slow: 4,
        ..EnsembleConfig::default()
    }
}

fn strategy(config: &EnsembleConfig) -> EnsembleStrategy {
    EnsembleStrategy::new(config, &[BTC, ETH])
}

/// Feeds one trade at `ms` and returns what the strategy emitted.
fn tick(
    s: &mut EnsembleStrategy,
    view: &TestView,
    symbol: SymbolId,
    price: f64,
    ms: u64,
) -> Emitted {
    view.call(ms * 1_000_000, ms, None, |ctx| {
        s.on_market(&trade(symbol, price, ms), ctx)
    })
}

fn feed(s: &mut EnsembleStrategy, view: &TestView, prices: &[f64], start_ms: u64) -> Vec<Emitted> {
    prices
        .iter()
        .enumerate()
        .map(|(i, &p)| tick(s, view, BTC, p, start_ms + i as u64))
        .collect()
}

fn entry(
    symbol: SymbolId,
    side: Side,
    quote: i64,
    sl: &str,
    tp: &str,
    tag: &'static str,
) -> Signal {
    Signal::Enter(EntryPlan {
        symbol,
        side,
        size: Size::Quote(Notional::from_int(quote)),
        limit: Price::ZERO,
        stop_loss: px(sl),
        take_profit: px(tp),
        tag,
    })
}

/// Two states told apart by the last return only: bull +1 %, bear −1 % per bar (identity
/// scaler, the other features with a variance so wide they do not matter).
fn model(window: usize) -> Arc<HmmModel> {
    Arc::new(
        HmmModel::from_parts(ModelParts {
            start: vec![0.5, 0.5],
            trans: vec![vec![0.9, 0.1], vec![0.1, 0.9]],
            means: vec![[-0.01, 0.0, 0.0, 0.0, 1.0], [0.01, 0.0, 0.0, 0.0, 1.0]],
            vars: vec![[1e-5, 1e6, 1e6, 1e6, 1e6], [1e-5, 1e6, 1e6, 1e6, 1e6]],
            labels: vec![StateLabel::Bear, StateLabel::Bull],
            scaler: Scaler {
                mean: [0.0; 5],
                std: [1.0; 5],
            },
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            window,
            log_likelihood: 0.0,
            trained_on: TrainedOn::default(),
        })
        .expect("valid model"),
    )
}

/// Closes moving `step` (relative) per bar, enough for the filter to be sure.
fn feed_bars(s: &mut EnsembleStrategy, view: &TestView, step: f64, bars: u64) {
    let mut close = 100.0;
    for minute in 0..bars {
        close *= 1.0 + step;
        let b = bar(BTC, close, minute);
        let out = view.call(0, 0, None, |ctx| s.on_bar(&b, ctx));
        assert!(out.signals.is_empty(), "bars never trade by themselves");
    }
}

fn hmm_config() -> EnsembleConfig {
    EnsembleConfig {
        hmm_enabled: true,
        ..ma_config()
    }
}

#[test]
fn ma_cross_enters_long_with_a_bracket_and_exits_on_the_opposite_cross() {
    let config = ma_config();
    let mut s = strategy(&config);
    let mut view = TestView::new(3, Market::Spot);
    let out = feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 1_000);
    assert!(
        out.iter().all(|e| e.signals.is_empty()),
        "equal MAs: no side"
    );
    // fast 100.5 > slow 100.25: BUY, stop 30 bps under, target 20 bps over the trade.
    let out = tick(&mut s, &view, BTC, 101.0, 2_000);
    assert_eq!(
        out.signals,
        vec![entry(BTC, Side::Buy, 10, "100.697", "101.202", TAG_MA)]
    );
    assert!(out.dirty, "the cooldown is persistent state");
    // The entry filled: a same-side signal does nothing (no pyramiding).
    view.holding_mut(BTC).qty = Qty::ONE;
    view.holding_mut(BTC).avg_entry = px("101");
    assert!(tick(&mut s, &view, BTC, 102.0, 60_000).signals.is_empty());
    // Prices fall: fast < slow → exit what is held, not a sell entry.
    tick(&mut s, &view, BTC, 99.0, 61_000);
    let out = tick(&mut s, &view, BTC, 98.0, 62_000);
    assert_eq!(
        out.signals,
        vec![Signal::Exit {
            symbol: BTC,
            tag: TAG_MA
        }]
    );
    // Exiting: nothing more until it is done.
    view.holding_mut(BTC).exiting = true;
    assert!(tick(&mut s, &view, BTC, 97.0, 200_000).signals.is_empty());
}

#[test]
fn the_reference_price_is_the_touch_when_there_is_one() {
    let config = ma_config();
    let mut s = strategy(&config);
    let mut view = TestView::new(3, Market::Spot);
    view.market_mut(BTC).bid = px("100.9");
    view.market_mut(BTC).ask = px("101.1");
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 0);
    let out = tick(&mut s, &view, BTC, 101.0, 10);
    assert_eq!(
        out.signals,
        vec![entry(BTC, Side::Buy, 10, "100.7967", "101.3022", TAG_MA)]
    );
}

#[test]
fn a_spot_sell_only_exits_and_a_futures_short_mirrors_its_bracket() {
    let config = ma_config();
    let mut s = strategy(&config);
    let view = TestView::new(3, Market::Spot);
    let falling = [100.0, 100.0, 100.0, 100.0, 99.0];
    let out = feed(&mut s, &view, &falling, 0);
    assert!(
        out.iter().all(|e| e.signals.is_empty()),
        "spot: a SELL never opens"
    );

    let mut s = strategy(&config);
    let view = TestView::new(3, Market::UsdmFutures);
    let out = feed(&mut s, &view, &falling, 0);
    // Short: stop 30 bps ABOVE, target 20 bps BELOW (the seed swapped them, D-16).
    assert_eq!(
        out[4].signals,
        vec![entry(BTC, Side::Sell, 10, "99.297", "98.802", TAG_MA)]
    );
    let mut view = view;
    view.holding_mut(BTC).qty = Qty::ONE.neg();
    let out = feed(&mut s, &view, &[100.0, 101.0], 60_000);
    assert!(out[0].signals.is_empty(), "still SELL: holding the short");
    assert_eq!(
        out[1].signals,
        vec![Signal::Exit {
            symbol: BTC,
            tag: TAG_MA
        }],
        "a BUY covers the short"
    );
}

#[test]
fn brackets_are_exact_and_zero_distances_mean_none() {
    assert_eq!(
        bracket(px("60000"), Side::Buy, 30, 20),
        (px("59820"), px("60120"))
    );
    assert_eq!(
        bracket(px("60000"), Side::Sell, 30, 20),
        (px("60180"), px("59880"))
    );
    assert_eq!(
        bracket(px("60000"), Side::Sell, 0, 0),
        (Price::ZERO, Price::ZERO)
    );
}

#[test]
fn the_cooldown_window_follows_confidence_and_price_move_and_blocks_until_it_ends() {
    let config = EnsembleConfig {
        fast: 2,
        slow: 4,
        ..EnsembleConfig::default()
    };
    let mut s = strategy(&config);
    let view = TestView::new(3, Market::Spot);
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 0);
    // Full MA confidence: window = 30 s × max(0.35, 1 − 0.99) × 1 = 10.5 s.
    let out = tick(&mut s, &view, BTC, 101.0, 1_000);
    assert_eq!(out.signals.len(), 1);
    assert_eq!(s.metrics[0].cooldown_window.get(), 10.5);
    assert_eq!(s.metrics[0].signal.get(), 1.0);
    assert_eq!(s.metrics[0].confidence.get(), 1.0);
    // Still flat (the entry was refused, say): blocked until 11.5 s, the gauge shows
    // what is left.
    assert!(tick(&mut s, &view, BTC, 101.5, 6_000).signals.is_empty());
    assert_eq!(s.metrics[0].cooldown_window.get(), 5.5);
    assert!(tick(&mut s, &view, BTC, 102.0, 11_499).signals.is_empty());
    let out = tick(&mut s, &view, BTC, 102.5, 11_500);
    assert_eq!(out.signals.len(), 1, "the window is over");
    // 148 bps since the last order (capped at 50): px factor 0.5 → 5.25 s.
    assert_eq!(s.metrics[0].cooldown_window.get(), 5.25);
    // A 20 bps move since the last order: 10.5 × 0.8 = 8.4 s.
    let out = tick(&mut s, &view, BTC, 102.705, 16_750);
    assert_eq!(out.signals.len(), 1);
    assert!((s.metrics[0].cooldown_window.get() - 8.4).abs() < 1e-9);
}

#[test]
fn calibration_scales_the_cooldown_and_falls_back_to_star() {
    let config = ma_config();
    let mut s = strategy(&config);
    let names: Vec<String> = ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    s.set_symbol_names(&names);
    let calibration = Calibration::parse(
        br#"{"BTCUSDT": {"cooldown_scale": 2.0}, "*": {"cooldown_scale": 0.5, "quote_multiplier": 3}}"#,
    )
    .expect("valid");
    s.set_calibration(Arc::new(calibration));
    assert_eq!(s.profile(BTC).expect("ours").cooldown_scale, 2.0);
    assert_eq!(
        s.profile(BTC).expect("ours").quote_multiplier,
        3.0,
        "* fills the gap"
    );
    assert_eq!(s.profile(ETH).expect("ours").cooldown_scale, 0.5);
    assert_eq!(s.profile(OTHER), None);
    assert_eq!(s.slots[1].hmm_quote, Notional::from_int(30));
    let view = TestView::new(3, Market::Spot);
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 0);
    assert_eq!(tick(&mut s, &view, BTC, 101.0, 10).signals.len(), 1);
    // 60 s × 0.35
    assert_eq!(s.metrics[0].cooldown_window.get(), 21.0);
    for (i, p) in [100.0, 100.0, 100.0, 100.0].into_iter().enumerate() {
        tick(&mut s, &view, ETH, p, i as u64);
    }
    assert_eq!(tick(&mut s, &view, ETH, 101.0, 10).signals.len(), 1);
    // max(1, 15 s × 0.35 = 5.25)
    assert_eq!(s.metrics[1].cooldown_window.get(), 5.25);
}

#[test]
fn only_its_own_symbols_and_never_over_another_order_or_owner() {
    let config = ma_config();
    let mut s = strategy(&config);
    let mut view = TestView::new(3, Market::Spot);
    // D-15: a symbol not in its list never trades, whatever ticks.
    for (i, p) in [100.0, 100.0, 100.0, 100.0, 101.0].into_iter().enumerate() {
        assert!(tick(&mut s, &view, OTHER, p, i as u64).signals.is_empty());
    }
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 0);
    view.holding_mut(BTC).entry_open = true;
    assert!(
        tick(&mut s, &view, BTC, 101.0, 10).signals.is_empty(),
        "entry in flight"
    );
    view.holding_mut(BTC).entry_open = false;
    view.holding_mut(BTC).open_orders = 1;
    assert!(
        tick(&mut s, &view, BTC, 102.0, 20).signals.is_empty(),
        "orders open"
    );
    view.holding_mut(BTC).open_orders = 0;
    view.owners[BTC.index()] = Some(StrategyId(10));
    assert!(
        tick(&mut s, &view, BTC, 103.0, 30).signals.is_empty(),
        "owned by trend"
    );
    view.owners[BTC.index()] = Some(ids::ENSEMBLE);
    view.scope[BTC.index()] = false;
    assert!(
        tick(&mut s, &view, BTC, 104.0, 40).signals.is_empty(),
        "out of scope"
    );
    view.scope[BTC.index()] = true;
    // None of those consumed the cooldown.
    assert_eq!(tick(&mut s, &view, BTC, 105.0, 50).signals.len(), 1);
}

#[test]
fn bad_prices_change_nothing_and_give_no_nan() {
    let config = ma_config();
    let mut s = strategy(&config);
    let view = TestView::new(3, Market::Spot);
    let zero = MarketEvent {
        kind: MarketEventKind::Trade(TradePrint::default()),
        ..trade(BTC, 1.0, 0)
    };
    for _ in 0..10 {
        let out = view.call(0, 0, None, |ctx| s.on_market(&zero, ctx));
        assert!(out.signals.is_empty());
    }
    assert_eq!(s.slots[0].slow.value(), None, "a zero price is not a tick");
    // A single tick, and flat ticks: no side, gauges at zero, not NaN.
    feed(&mut s, &view, &[100.0; 6], 0);
    assert_eq!(s.metrics[0].signal.get(), 0.0);
    assert_eq!(s.metrics[0].confidence.get(), 0.0);
}

#[test]
fn hmm_only_votes_from_the_learned_bull_label_with_the_calibrated_quote() {
    let config = hmm_config();
    let mut s = strategy(&config);
    s.set_symbol_names(&["BTCUSDT".to_string(), "ETHUSDT".to_string()]);
    s.set_calibration(Arc::new(
        Calibration::parse(br#"{"*": {"quote_multiplier": 2.5}}"#).expect("valid"),
    ));
    assert_eq!(s.timeframes(), &[1]);
    let view = TestView::new(3, Market::Spot);
    // No model yet: the HMM contributes nothing (and the MA window is not full).
    feed_bars(&mut s, &view, 0.01, 10);
    assert!(tick(&mut s, &view, BTC, 100.0, 1_000_000)
        .signals
        .is_empty());
    assert_eq!(s.state_probabilities(BTC), None);
    s.set_model(model(120)).expect("same features and window");
    feed_bars(&mut s, &view, 0.01, 10);
    let probs = s.state_probabilities(BTC).expect("filtered");
    assert!(probs[1] > 0.99, "bull (state 1 by its label): {probs:?}");
    let out = tick(&mut s, &view, BTC, 110.0, 2_000_000);
    // quote 10 × 2.5; bracket from the trade at 110.
    assert_eq!(
        out.signals,
        vec![Signal::Enter(EntryPlan {
            symbol: BTC,
            side: Side::Buy,
            size: Size::Quote(Notional::parse("25").expect("quote")),
            limit: Price::ZERO,
            stop_loss: px("109.67"),
            take_profit: px("110.22"),
            tag: TAG_HMM,
        })]
    );
    // The HMM's own cooldown (30 s) and the gate hold the next vote back.
    assert!(tick(&mut s, &view, BTC, 110.0, 2_005_000)
        .signals
        .is_empty());
}

#[test]
fn a_bear_filter_on_spot_does_not_short_but_exits_a_long() {
    let config = hmm_config();
    let mut s = strategy(&config);
    s.set_model(model(120)).expect("accepted");
    let mut view = TestView::new(3, Market::Spot);
    feed_bars(&mut s, &view, -0.01, 10);
    assert!(tick(&mut s, &view, BTC, 90.0, 1_000).signals.is_empty());
    view.holding_mut(BTC).qty = Qty::ONE;
    assert_eq!(
        tick(&mut s, &view, BTC, 90.0, 2_000).signals,
        vec![Signal::Exit {
            symbol: BTC,
            tag: TAG_HMM
        }]
    );
}

#[test]
fn fusion_fires_with_the_default_weights_and_threshold_and_never_on_disagreement() {
    let config = EnsembleConfig {
        ensemble_enabled: true,
        ..hmm_config()
    };
    assert_eq!(config.weights, EnsembleWeights { ma: 0.5, hmm: 0.5 });
    assert_eq!(config.min_conf, 0.6);
    config.validate().expect("defaults are valid");
    let s = strategy(&config);
    let vote = |side, confidence| Some(Vote { side, confidence });
    // Agreement: (0.5 × 1 + 0.5 × 0.7) / 1 = 0.85 ≥ 0.6.
    let fused = s
        .fuse(vote(Side::Buy, 1.0), vote(Side::Buy, 0.7), 1.0)
        .expect("fires");
    assert_eq!(fused.side, Side::Buy);
    assert!((fused.confidence - 0.85).abs() < 1e-12);
    assert_eq!(fused.tag, TAG_ENSEMBLE);
    // Exactly at the threshold.
    assert!(s
        .fuse(vote(Side::Sell, 0.6), vote(Side::Sell, 0.6), 1.0)
        .is_some());
    assert!(s
        .fuse(vote(Side::Sell, 0.6), vote(Side::Sell, 0.59), 1.0)
        .is_none());
    // One component alone tops out at its weight share, 0.5.
    assert!(s.fuse(vote(Side::Buy, 1.0), None, 1.0).is_none());
    assert!(s.fuse(None, vote(Side::Buy, 1.0), 1.0).is_none());
    // Disagreement never fires, however confident.
    for gain in [1.0, 10.0] {
        assert!(s
            .fuse(vote(Side::Buy, 1.0), vote(Side::Sell, 1.0), gain)
            .is_none());
    }
    // The calibration gain scales it (capped at 1).
    let gained = s
        .fuse(vote(Side::Buy, 0.5), vote(Side::Buy, 0.5), 1.5)
        .expect("0.75");
    assert!((gained.confidence - 0.75).abs() < 1e-12);
    assert_eq!(
        s.fuse(vote(Side::Buy, 1.0), vote(Side::Buy, 1.0), 3.0)
            .expect("fires")
            .confidence,
        1.0
    );
}

#[test]
fn fused_entries_end_to_end_and_a_disagreement_sends_nothing() {
    let config = EnsembleConfig {
        ensemble_enabled: true,
        ..hmm_config()
    };
    let mut s = strategy(&config);
    let view = TestView::new(3, Market::UsdmFutures);
    // Equal MAs and no model yet: nothing.
    let out = feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 1_000);
    assert!(out.iter().all(|e| e.signals.is_empty()));
    s.set_model(model(120)).expect("accepted");
    feed_bars(&mut s, &view, 0.01, 10);
    // HMM bull; MA rising: agree.
    let out = tick(&mut s, &view, BTC, 101.0, 1_010);
    assert_eq!(
        out.signals,
        vec![entry(
            BTC,
            Side::Buy,
            10,
            "100.697",
            "101.202",
            TAG_ENSEMBLE
        )]
    );
    assert!(s.metrics[0].confidence.get() > 0.99);

    // HMM bull; MA falling: they disagree, and even on futures nothing is sent (the
    // seed fell back to the raw HMM side here).
    let mut s = strategy(&config);
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 1_000);
    s.set_model(model(120)).expect("accepted");
    feed_bars(&mut s, &view, 0.01, 10);
    let out = feed(&mut s, &view, &[99.0, 98.0], 2_000);
    assert!(out.iter().all(|e| e.signals.is_empty()), "{out:?}");
    assert_eq!(s.metrics[0].signal.get(), 0.0);

    // MA silent (window filling): the HMM acts alone (hmm_v1).
    let mut s = strategy(&config);
    s.set_model(model(120)).expect("accepted");
    feed_bars(&mut s, &view, 0.01, 10);
    let out = tick(&mut s, &view, BTC, 100.0, 1_000);
    assert_eq!(out.signals.len(), 1);
    assert!(matches!(
        out.signals[0],
        Signal::Enter(EntryPlan { tag: TAG_HMM, .. })
    ));
}

#[test]
fn models_with_other_features_or_windows_are_refused_and_counted() {
    let config = hmm_config();
    let mut s = strategy(&config);
    assert_eq!(
        s.set_model(model(60)),
        Err(ModelRefused::Window {
            model: 60,
            config: 120
        })
    );
    let mut parts_model = (*model(120)).clone();
    parts_model.features[4] = "volume_24h".to_string();
    assert!(matches!(
        s.set_model(Arc::new(parts_model)),
        Err(ModelRefused::Features(_))
    ));
    assert!(s.model().is_none());
    assert_eq!(s.reloads(), (0, 2));
    s.set_model(model(120)).expect("accepted");
    assert_eq!(s.reloads(), (1, 2));
    // A refused model keeps the current one.
    let _ = s.set_model(model(60));
    assert_eq!(s.model().expect("kept").window(), 120);
}

#[test]
fn cooldowns_survive_a_restart_through_the_snapshot() {
    let config = ma_config();
    let mut s = strategy(&config);
    let view = TestView::new(3, Market::Spot);
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0], 0);
    assert_eq!(tick(&mut s, &view, BTC, 101.0, 10).signals.len(), 1);
    let mut body = Vec::new();
    s.snapshot(&mut body);

    let mut restarted = strategy(&config);
    restarted.restore(&body).expect("restores");
    feed(&mut restarted, &view, &[100.0, 100.0, 100.0, 100.0], 20);
    assert!(
        tick(&mut restarted, &view, BTC, 101.0, 5_000)
            .signals
            .is_empty(),
        "still cooling down after the restart"
    );
    assert_eq!(
        tick(&mut restarted, &view, BTC, 101.0, 10_510)
            .signals
            .len(),
        1
    );

    let error = restarted
        .restore(b"{\"version\":2,\"cooldowns\":[]}")
        .expect_err("v2");
    assert!(error.to_string().contains("version 2"));
    assert!(restarted.restore(b"garbage").is_err());
}

#[test]
fn metrics_are_registered_per_symbol_with_the_seed_names() {
    let config = ma_config();
    let mut s = strategy(&config);
    let mut registry = crate::ops::Registry::new();
    let names: Vec<String> = vec!["BTCUSDT".into(), "ETHUSDT".into()];
    let mut scope = MetricsScope {
        registry: &mut registry,
        venue: "paper",
        symbol_names: &names,
    };
    s.attach_metrics(&mut scope).expect("registers");
    let view = TestView::new(3, Market::Spot);
    feed(&mut s, &view, &[100.0, 100.0, 100.0, 100.0, 101.0], 0);
    let text = registry.render();
    assert!(
        text.contains("strategy_signal{symbol=\"BTCUSDT\",venue=\"paper\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("strategy_cooldown_window_seconds{symbol=\"BTCUSDT\",venue=\"paper\"} 10.5")
    );
    assert!(text.contains("strategy_confidence{symbol=\"ETHUSDT\",venue=\"paper\"} 0"));
    assert!(
        text.contains("strategy_model_reloads_total{result=\"refused\",strategy=\"ensemble\"} 0")
    );
}
