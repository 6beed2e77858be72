//! Unit tests of the real-time breakout on constructed trade series: each rule, each edge
//! (missing volume, warm-up, a single trade, flat prices) and the exact signals, and the
//! trailing stop.

use super::*;
use crate::core::{Market, Notional, Qty};
use crate::ops::Registry;
use crate::strat::api::Holding;
use crate::strat::testkit::TestView;

const SEC: u64 = NS_PER_SEC;
const XRP: SymbolId = SymbolId(0);
const VENUE_EPOCH_MS: u64 = 1_700_000_000_000;

fn p(text: &str) -> Price {
    Price::parse(text).expect("test price")
}

fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test qty")
}

/// Fast window 10 s, baseline 60 s, 1 % move, volume × 2, cooldown 15 s.
fn config() -> MomentumRtConfig {
    MomentumRtConfig {
        enabled: true,
        window_sec: 10,
        baseline_sec: 60,
        min_ticks: 3,
        move_threshold_pct: 1.0,
        volume_spike_ratio: 2.0,
        cooldown_sec: 15,
        ..MomentumRtConfig::default()
    }
}

struct Rig {
    strategy: MomentumRtStrategy,
    view: TestView,
}

impl Rig {
    fn new(config: &MomentumRtConfig, market: Market) -> Self {
        Self {
            strategy: MomentumRtStrategy::new(config, &[XRP]),
            view: TestView::new(1, market),
        }
    }

    /// A trade at `sec` (plus `sub_ns`); the signals it caused.
    fn trade_at(&mut self, at_ns: u64, price: &str, qty: &str) -> Vec<Signal> {
        let event = MarketEvent {
            symbol: XRP,
            recv_ns: at_ns,
            exch_ts_ms: 0,
            kind: MarketEventKind::Trade(TradePrint {
                trade_id: 1,
                price: p(price),
                qty: q(qty),
                aggressor: Side::Buy,
            }),
        };
        let strategy = &mut self.strategy;
        self.view
            .call(at_ns, VENUE_EPOCH_MS + at_ns / 1_000_000, None, |ctx| {
                strategy.on_market(&event, ctx)
            })
            .signals
    }

    fn trade(&mut self, sec: u64, price: &str, qty: &str) -> Vec<Signal> {
        self.trade_at(sec * SEC, price, qty)
    }

    /// One trade a second at `price` × `qty` over `secs`, asserting no signal.
    fn quiet(&mut self, secs: std::ops::Range<u64>, price: &str, qty: &str) {
        for sec in secs {
            assert!(self.trade(sec, price, qty).is_empty(), "quiet at {sec}");
        }
    }

    fn fill(&mut self, at_sec: u64) {
        let fill = Fill {
            symbol: XRP,
            strategy: ids::MOMENTUM_RT,
            ..Fill::default()
        };
        let strategy = &mut self.strategy;
        self.view
            .call(at_sec * SEC, 0, None, |ctx| strategy.on_fill(&fill, ctx));
    }
}

fn breakout_up(stop: &str, target: &str) -> Signal {
    Signal::Enter(EntryPlan {
        symbol: XRP,
        side: Side::Buy,
        size: Size::Quote(Notional::from_int(150)),
        limit: Price::ZERO,
        stop_loss: p(stop),
        take_profit: p(target),
        tag: TAG_BREAKOUT_UP,
    })
}

/// 50 s of one 1-qty trade a second at 100, then a climb on 10-qty trades.
fn climb(rig: &mut Rig, qty: &str) -> Vec<Vec<Signal>> {
    rig.quiet(0..51, "100", "1");
    [("100.2", 51), ("100.6", 52), ("101.2", 53)]
        .iter()
        .map(|&(price, sec)| rig.trade(sec, price, qty))
        .collect()
}

#[test]
fn a_jump_on_a_volume_spike_over_the_baseline_high_buys_with_stop_and_target() {
    let mut rig = Rig::new(&config(), Market::Spot);
    let signals = climb(&mut rig, "10");
    assert!(
        signals[0].is_empty() && signals[1].is_empty(),
        "0.2 %, 0.6 %"
    );
    // Fast window 44..=53 s: 7 × 1 + 3 × 10 = 37 in 10 s; baseline 0..=43 s: 44 in 44 s.
    assert_eq!(signals[2], vec![breakout_up("100.3904", "104.742")]);
    let metrics = &rig.strategy.metrics[0];
    assert!((metrics.volume_ratio.get() - 3.7).abs() < 1e-12);
    assert!((metrics.window_return_pct.get() - 1.2).abs() < 1e-9);
    assert_eq!(metrics.breakouts[0].get(), 1);
    assert_eq!(
        metrics.cooldown_epoch.get(),
        ((VENUE_EPOCH_MS + 53_000 + 15_000) / 1000) as f64
    );
}

#[test]
fn volume_below_the_spike_ratio_does_not_confirm() {
    let mut rig = Rig::new(&config(), Market::Spot);
    // 3 × 5: fast 7 + 15 = 22 → 2.2 / s ≥ 2 passes; 3 × 4: 7 + 12 = 19 → 1.9 does not.
    assert_eq!(climb(&mut rig, "5")[2].len(), 1);
    let mut weak = Rig::new(&config(), Market::Spot);
    assert!(climb(&mut weak, "4").iter().all(Vec::is_empty));
    assert!((weak.strategy.metrics[0].volume_ratio.get() - 1.9).abs() < 1e-12);
}

#[test]
fn missing_volume_never_passes() {
    // Trades without quantity in the baseline: no baseline volume, no ratio.
    let mut empty_baseline = Rig::new(&config(), Market::Spot);
    empty_baseline.quiet(0..44, "100", "0");
    for (sec, price) in [(44, "100"), (51, "100.2"), (52, "100.6")] {
        assert!(empty_baseline.trade(sec, price, "10").is_empty());
    }
    assert!(empty_baseline.trade(53, "101.2", "10").is_empty());
    assert_eq!(empty_baseline.strategy.metrics[0].volume_ratio.get(), 0.0);
    // Neither side has any.
    let mut none = Rig::new(&config(), Market::Spot);
    none.quiet(0..51, "100", "0");
    for (sec, price) in [(51, "100.2"), (52, "100.6"), (53, "101.2")] {
        assert!(none.trade(sec, price, "0").is_empty());
    }
}

#[test]
fn the_baseline_must_cover_a_fast_window_first() {
    let mut rig = Rig::new(&config(), Market::Spot);
    rig.quiet(0..16, "100", "1");
    // At 19 s the baseline is 0..=9 s: 10 s, just enough; at 18 s it is 9 s.
    assert!(rig.trade(18, "101.5", "20").is_empty());
    let mut later = Rig::new(&config(), Market::Spot);
    later.quiet(0..16, "100", "1");
    assert_eq!(later.trade(19, "101.5", "20").len(), 1);
}

#[test]
fn the_price_must_clear_the_baseline_high_by_the_margin() {
    let mut rig = Rig::new(&config(), Market::Spot);
    rig.quiet(0..20, "100", "1");
    assert!(rig.trade(20, "101.2", "1").is_empty(), "no volume spike");
    rig.quiet(21..51, "100", "1");
    // The baseline (0..=43 s) now holds 101.2; 101.2 × 1.0005 = 101.2506.
    for (sec, price) in [(51, "100.2"), (52, "100.6"), (53, "101.2")] {
        assert!(rig.trade(sec, price, "10").is_empty(), "{price}");
    }
    assert!(
        rig.trade(53, "101.25", "10").is_empty(),
        "101.25 does not clear it"
    );
    assert_eq!(rig.trade(53, "101.26", "10").len(), 1, "101.26 does");
}

#[test]
fn a_single_trade_few_trades_and_flat_prices_never_signal() {
    let mut single = Rig::new(&config(), Market::Spot);
    assert!(single.trade(100, "100", "5").is_empty());
    let mut few = Rig::new(
        &MomentumRtConfig {
            min_ticks: 5,
            ..config()
        },
        Market::Spot,
    );
    few.quiet(0..40, "100", "1");
    // 49..=58 s holds three trades only.
    assert!(few.trade(50, "100", "1").is_empty());
    assert!(few.trade(55, "101", "10").is_empty());
    assert!(few.trade(58, "102", "30").is_empty());
    let mut flat = Rig::new(&config(), Market::Spot);
    flat.quiet(0..60, "100", "1");
    for sec in 60..70 {
        assert!(flat.trade(sec, "100", "50").is_empty());
    }
    assert_eq!(flat.strategy.metrics[0].window_return_pct.get(), 0.0);
}

#[test]
fn breakdowns_sell_only_with_shorts_allowed_and_possible() {
    let shorts = MomentumRtConfig {
        allow_shorts: true,
        ..config()
    };
    let fall = |rig: &mut Rig| -> Vec<Signal> {
        rig.quiet(0..51, "100", "1");
        rig.trade(51, "99.8", "10");
        rig.trade(52, "99.4", "10");
        rig.trade(53, "98.8", "10")
    };
    let mut futures = Rig::new(&shorts, Market::UsdmFutures);
    assert_eq!(
        fall(&mut futures),
        vec![Signal::Enter(EntryPlan {
            symbol: XRP,
            side: Side::Sell,
            size: Size::Quote(Notional::from_int(150)),
            limit: Price::ZERO,
            stop_loss: p("99.5904"),
            take_profit: p("95.342"),
            tag: TAG_BREAKOUT_DOWN,
        })]
    );
    assert_eq!(futures.strategy.metrics[0].breakouts[1].get(), 1);
    assert!((futures.strategy.metrics[0].window_return_pct.get() + 1.2).abs() < 1e-9);
    let mut spot = Rig::new(&shorts, Market::Spot);
    assert!(fall(&mut spot).is_empty());
    let mut not_allowed = Rig::new(&config(), Market::UsdmFutures);
    assert!(fall(&mut not_allowed).is_empty());
}

#[test]
fn no_take_profit_when_tp_pct_is_zero() {
    let mut rig = Rig::new(
        &MomentumRtConfig {
            tp_pct: 0.0,
            ..config()
        },
        Market::Spot,
    );
    assert_eq!(climb(&mut rig, "10")[2], vec![breakout_up("100.3904", "0")]);
}

#[test]
fn cooldown_and_position_gates() {
    let mut rig = Rig::new(&config(), Market::Spot);
    assert_eq!(climb(&mut rig, "10")[2].len(), 1);
    // Still a breakout a few seconds later, but cooling down until 68 s.
    for (sec, price) in [(54, "101.5"), (60, "101"), (65, "101.5")] {
        assert!(rig.trade(sec, price, "10").is_empty(), "cooling at {sec}");
    }
    assert!(rig.trade_at(68 * SEC - 1, "102.5", "30").is_empty());
    assert_eq!(rig.trade(68, "102.6", "30").len(), 1);

    for block in 0..3 {
        let mut gated = Rig::new(&config(), Market::Spot);
        match block {
            0 => gated.view.holding_mut(XRP).entry_open = true,
            1 => gated.view.owners[0] = Some(ids::SCALPING),
            _ => gated.view.scope[0] = false,
        }
        assert!(climb(&mut gated, "10").iter().all(Vec::is_empty), "{block}");
    }
}

fn long_position(rig: &mut Rig, avg_entry: &str, stop: &str) {
    *rig.view.holding_mut(XRP) = Holding {
        qty: q("1"),
        avg_entry: p(avg_entry),
        open_orders: 2,
        stop_loss: p(stop),
        take_profit: p("103.5"),
        ..Holding::default()
    };
    rig.fill(1);
}

fn move_stop(stop: &str) -> Signal {
    Signal::MoveStop {
        symbol: XRP,
        stop_loss: p(stop),
        take_profit: Price::ZERO,
    }
}

#[test]
fn the_trailing_stop_only_ratchets_by_at_least_the_step() {
    let mut rig = Rig::new(&config(), Market::Spot);
    long_position(&mut rig, "100", "99.2");
    // Best 100.5 → 100.5 × 0.988 = 99.294 > 99.2 by 9.5 bps.
    assert_eq!(rig.trade(2, "100.5", "1"), vec![move_stop("99.294")]);
    assert!(
        rig.trade(3, "100.2", "1").is_empty(),
        "a lower price never loosens"
    );
    // 100.51 × 0.988 = 99.30388: 0.99 bps over 99.294, under the 1 bp step.
    assert!(rig.trade(4, "100.51", "1").is_empty());
    assert_eq!(rig.trade(5, "101", "1"), vec![move_stop("99.788")]);
    // The bracket caught up with the request: no duplicate.
    rig.view.holding_mut(XRP).stop_loss = p("99.788");
    assert!(rig.trade(6, "101", "1").is_empty());
    assert!(rig.trade(7, "99.9", "1").is_empty());
    // The move stop survives a restart with its best price.
    let mut body = Vec::new();
    rig.strategy.snapshot(&mut body);
    let mut restarted = MomentumRtStrategy::new(&config(), &[XRP]);
    restarted.restore(&body).expect("own snapshot");
    assert_eq!(restarted.slots[0].best_since_entry, p("101"));
    assert_eq!(restarted.slots[0].requested_stop, p("99.788"));
    // Flat: trail state cleared.
    *rig.view.holding_mut(XRP) = Holding::default();
    rig.fill(8);
    assert_eq!(rig.strategy.slots[0].best_since_entry, Price::ZERO);
    assert_eq!(rig.strategy.slots[0].requested_stop, Price::ZERO);
}

#[test]
fn no_stop_move_through_the_book() {
    let mut rig = Rig::new(&config(), Market::Spot);
    long_position(&mut rig, "100", "99.2");
    // The trades ran ahead: best 101 asks for 99.788, but the book's bid is 99.75.
    rig.view.market_mut(XRP).bid = p("99.75");
    rig.view.market_mut(XRP).ask = p("99.76");
    assert!(rig.trade(2, "101", "1").is_empty());
    rig.view.market_mut(XRP).bid = p("100.9");
    assert_eq!(rig.trade(3, "100.9", "1"), vec![move_stop("99.788")]);
}

#[test]
fn a_short_trails_down_and_no_trailing_without_a_bracket_stop_or_while_exiting() {
    let mut rig = Rig::new(&config(), Market::UsdmFutures);
    *rig.view.holding_mut(XRP) = Holding {
        qty: q("-1"),
        avg_entry: p("100"),
        open_orders: 2,
        stop_loss: p("100.8"),
        ..Holding::default()
    };
    rig.fill(1);
    // Best 99 → 99 × 1.012 = 100.188.
    assert_eq!(rig.trade(2, "99", "1"), vec![move_stop("100.188")]);
    assert!(rig.trade(3, "99.5", "1").is_empty());

    let mut unprotected = Rig::new(&config(), Market::Spot);
    long_position(&mut unprotected, "100", "0");
    assert!(unprotected.trade(2, "105", "1").is_empty());
    let mut exiting = Rig::new(&config(), Market::Spot);
    long_position(&mut exiting, "100", "99.2");
    exiting.view.holding_mut(XRP).exiting = true;
    assert!(exiting.trade(2, "105", "1").is_empty());
}

#[test]
fn the_cooldown_survives_a_restart_in_venue_time() {
    let mut rig = Rig::new(&config(), Market::Spot);
    assert_eq!(climb(&mut rig, "10")[2].len(), 1);
    let mut body = Vec::new();
    rig.strategy.snapshot(&mut body);
    let mut restarted = MomentumRtStrategy::new(&config(), &[XRP]);
    restarted.restore(&body).expect("own snapshot");
    assert_eq!(
        restarted.slots[0].cooldown_until_venue_ms,
        VENUE_EPOCH_MS + 68_000
    );
    assert!(restarted.restore(b"[]").is_err());
}

#[test]
fn metrics_register_under_the_seed_names() {
    let mut registry = Registry::new();
    let mut strategy = MomentumRtStrategy::new(&config(), &[XRP]);
    let names = vec!["XRPETH".to_owned()];
    let mut scope = MetricsScope {
        registry: &mut registry,
        venue: "paper",
        symbol_names: &names,
    };
    strategy.attach_metrics(&mut scope).expect("fresh registry");
    let mut rig = Rig {
        strategy,
        view: TestView::new(1, Market::Spot),
    };
    assert_eq!(climb(&mut rig, "10")[2].len(), 1);
    let text = registry.render();
    for line in [
        "momentum_rt_breakouts_total{reason=\"breakout_up\",side=\"BUY\",symbol=\"XRPETH\",venue=\"paper\"} 1",
        "momentum_rt_breakouts_total{reason=\"breakout_down\",side=\"SELL\",symbol=\"XRPETH\",venue=\"paper\"} 0",
        "momentum_rt_volume_ratio{symbol=\"XRPETH\",venue=\"paper\"} 3.7",
        "momentum_rt_cooldown_epoch{symbol=\"XRPETH\",venue=\"paper\"} 1700000068",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}
