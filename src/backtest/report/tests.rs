//! Hand-calculated checks of the report: trade statistics, drawdown, Sharpe/Sortino, the
//! null cases, a whole recording through `analyze`, and the files' determinism.

use super::curves::{CurvePoint, Span};
use super::stats::{
    cagr, curve_stats, max_drawdown, resampled_returns, sharpe, sortino, trade_stats, ReturnPeriod,
};
use super::*;
use crate::backtest::recording::{
    EquitySample, FillRecord, MarkSample, OrderRecord, RiskRecord, RunMeta, StrategyMeta,
    SymbolMeta,
};
use crate::core::{Fill, OrderUpdate, Price, Qty, Side, SymbolId};

const MINUTE: u64 = 60_000_000_000;
const DAY: u64 = 86_400_000_000_000;
/// 2024-03-01T00:00:00Z.
const T0: u64 = 1_709_251_200_000_000_000;

fn n(text: &str) -> Notional {
    Notional::parse(text).expect("test notional")
}

fn curve(points: &[(u64, &str)]) -> Vec<CurvePoint> {
    points
        .iter()
        .map(|&(ts_ns, equity)| CurvePoint {
            ts_ns,
            equity: n(equity),
        })
        .collect()
}

fn closed_trade(net: &str) -> Trade {
    Trade {
        id: 1,
        strategy: StrategyId(1),
        symbol: SymbolId(0),
        direction: Side::Buy,
        open_ts_ns: 0,
        close_ts_ns: Some(1),
        entry_qty: Qty::ONE,
        entry_notional: Notional::ZERO,
        exit_qty: Qty::ONE,
        exit_notional: Notional::ZERO,
        fills: 2,
        gross_pnl: n(net),
        fees: Notional::ZERO,
    }
}

fn close_to(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|a| (a - expected).abs() <= 1e-9 * expected.abs().max(1.0))
}

#[test]
fn win_rate_profit_factor_and_averages_from_net_pnl() {
    let mut open = closed_trade("100");
    open.close_ts_ns = None;
    let trades = [
        closed_trade("30"),
        closed_trade("-10"),
        closed_trade("15"),
        closed_trade("0"),
        closed_trade("-5"),
        open,
    ];
    let stats = trade_stats(&trades);
    assert_eq!((stats.closed_trades, stats.open_trades), (5, 1));
    assert_eq!((stats.wins, stats.losses), (2, 2));
    assert_eq!(stats.win_rate, Some(0.4));
    assert_eq!(stats.gross_profit, n("45"));
    assert_eq!(stats.gross_loss, n("15"));
    assert_eq!(stats.profit_factor, Some(3.0));
    assert_eq!(stats.average_win, Some(n("22.5")));
    assert_eq!(stats.average_loss, Some(n("-7.5")));
    assert_eq!(stats.closed_trades_pnl, n("30"));
}

#[test]
fn no_trades_and_no_losses_give_nulls_not_nan() {
    let none = trade_stats(&[]);
    assert_eq!(
        (none.closed_trades, none.win_rate, none.profit_factor),
        (0, None, None)
    );
    assert_eq!((none.average_win, none.average_loss), (None, None));
    let winners = trade_stats(&[closed_trade("1"), closed_trade("2")]);
    assert_eq!(winners.win_rate, Some(1.0));
    assert_eq!(
        winners.profit_factor, None,
        "no loss: undefined, not infinite"
    );
    assert_eq!(winners.average_loss, None);
}

#[test]
fn max_drawdown_is_deepest_fall_and_duration_is_longest_time_under_a_peak() {
    let points = curve(&[
        (0, "100"),
        (10, "110"),
        (20, "99"),  // 10% under 110
        (30, "105"), // still under
        (40, "110"), // recovered after 30
        (50, "120"),
        (60, "90"), // 25% under 120, never recovered
        (70, "100"),
    ]);
    let drawdown = max_drawdown(&points, 100);
    assert_eq!(drawdown.fraction, Some(0.25));
    assert_eq!(drawdown.amount, n("30"));
    assert_eq!(
        drawdown.longest_ns, 50,
        "from the 120 peak at 50 to the span end at 100"
    );

    let recovered = curve(&[(0, "100"), (10, "80"), (45, "100"), (50, "90"), (60, "101")]);
    let drawdown = max_drawdown(&recovered, 100);
    assert_eq!(drawdown.fraction, Some(0.2));
    assert_eq!(drawdown.longest_ns, 45);
}

#[test]
fn flat_equity_and_a_single_sample_have_no_sharpe_and_no_drawdown() {
    let span = Span {
        start_ns: T0,
        end_ns: T0 + 30 * MINUTE,
    };
    let flat = curve(&[
        (T0, "1000"),
        (T0 + 10 * MINUTE, "1000"),
        (T0 + 30 * MINUTE, "1000"),
    ]);
    let stats = curve_stats(&flat, span);
    assert_eq!(stats.total_return, Some(0.0));
    assert_eq!(stats.max_drawdown, Some(0.0));
    assert_eq!(stats.max_drawdown_duration_ns, 0);
    assert_eq!(
        (stats.sharpe, stats.sortino, stats.calmar),
        (None, None, None)
    );
    assert_eq!(stats.return_samples, 30);

    let single = curve(&[(T0, "1000")]);
    let stats = curve_stats(
        &single,
        Span {
            start_ns: T0,
            end_ns: T0,
        },
    );
    assert_eq!(
        (stats.sharpe, stats.sortino, stats.cagr),
        (None, None, None)
    );
    assert_eq!(stats.return_samples, 0);

    let empty = curve_stats(&[], Span::default());
    assert_eq!((empty.total_return, empty.max_drawdown), (None, None));
}

#[test]
fn sharpe_and_sortino_match_a_hand_computation_on_minute_returns() {
    // Returns +1%, −2%, +3%, 0 on the 1-minute grid (values between grid times are ignored:
    // the grid reads the last point at or before each minute).
    let points = curve(&[
        (T0, "1000"),
        (T0 + MINUTE, "1010"),
        (T0 + MINUTE + 1, "5000"),
        (T0 + 2 * MINUTE - 1, "989.8"),
        (T0 + 3 * MINUTE, "1019.494"),
    ]);
    let span = Span {
        start_ns: T0,
        end_ns: T0 + 4 * MINUTE,
    };
    let returns = resampled_returns(&points, span, ReturnPeriod::Minute).expect("positive equity");
    assert_eq!(returns.len(), 4);
    let expected = [0.01, -0.02, 0.03, 0.0];
    for (r, e) in returns.iter().zip(expected) {
        assert!((r - e).abs() < 1e-15, "{returns:?}");
    }
    // mean 0.005; sample variance (0.005² + 0.025² + 0.025² + 0.005²) / 3 = 0.0013 / 3;
    // downside deviation √(0.02² / 4) = 0.01; 525,600 minutes a year.
    let per_year = 525_600.0_f64;
    let hand_sharpe = 0.005 / (0.0013_f64 / 3.0).sqrt() * per_year.sqrt();
    let hand_sortino = 0.005 / 0.01 * per_year.sqrt();
    assert!(close_to(sharpe(&returns, per_year), hand_sharpe));
    assert!(close_to(sortino(&returns, per_year), hand_sortino));
    let stats = curve_stats(&points, span);
    assert!(close_to(stats.sharpe, hand_sharpe), "{:?}", stats.sharpe);
    assert!(close_to(stats.sortino, hand_sortino));
    assert!((hand_sharpe - 174.135).abs() < 0.01, "{hand_sharpe}");

    assert_eq!(
        sortino(&[0.01, 0.02, 0.0], 365.0),
        None,
        "no negative return"
    );
    assert_eq!(sharpe(&[0.01], 365.0), None, "one return");
    assert_eq!(sharpe(&[0.01, 0.01, 0.01], 365.0), None, "zero variance");
}

#[test]
fn cagr_and_calmar_only_for_spans_of_thirty_days_or_more() {
    let year = Span {
        start_ns: T0,
        end_ns: T0 + 365 * DAY,
    };
    assert!(close_to(cagr(n("1000"), n("1100"), year), 0.1));
    let short = Span {
        start_ns: T0,
        end_ns: T0 + 29 * DAY,
    };
    assert_eq!(cagr(n("1000"), n("1100"), short), None);
    assert_eq!(cagr(n("1000"), n("0"), year), None);

    let points = curve(&[
        (T0, "1000"),
        (T0 + 100 * DAY, "800"),
        (T0 + 365 * DAY, "1100"),
    ]);
    let stats = curve_stats(&points, year);
    assert_eq!(ReturnPeriod::for_span(year), ReturnPeriod::Day);
    assert_eq!(stats.return_samples, 365);
    assert_eq!(stats.max_drawdown, Some(0.2));
    assert!(close_to(stats.calmar, 0.1 / 0.2));
    let short_stats = curve_stats(&points[..2], short);
    assert_eq!((short_stats.cagr, short_stats.calmar), (None, None));
}

fn fill_record(
    ts_ns: u64,
    strategy: u16,
    side: Side,
    qty: &str,
    price: &str,
    fee: &str,
) -> FillRecord {
    FillRecord {
        ts_ns,
        fill: Fill {
            client_order_id: crate::core::ClientOrderId(ts_ns / 1_000_000_000),
            strategy: StrategyId(strategy),
            symbol: SymbolId(0),
            side,
            price: Price::parse(price).expect("test price"),
            qty: Qty::parse(qty).expect("test qty"),
            fee: n(fee),
            venue_trade_id: ts_ns % 1_000,
            is_maker: false,
        },
    }
}

/// One hour: strategy 1 makes one long round trip (+4.794 after fees), strategy 2 opens a
/// short it still holds at the end.
fn hour_recording() -> Recording {
    let mut recording = Recording {
        meta: RunMeta {
            inputs: vec!["data/btcusdt.hbt.gz".into()],
            first_event_ns: T0,
            last_event_ns: T0 + 60 * MINUTE,
            events: 3_600,
            data_repairs: vec![("duplicate_rows".into(), 2)],
            settings: vec![("latency".into(), "constant 1ms".into())],
        },
        symbols: vec![SymbolMeta {
            id: SymbolId(0),
            name: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            market: "spot",
        }],
        strategies: vec![
            StrategyMeta {
                id: StrategyId(1),
                name: "probe".into(),
                mode: crate::risk::StrategyMode::Enabled,
            },
            StrategyMeta {
                id: StrategyId(2),
                name: "fade".into(),
                mode: crate::risk::StrategyMode::Enabled,
            },
        ],
        account_asset: "USDT".into(),
        starting_equity: n("10000"),
        ..Recording::default()
    };
    for minute in 0..=60u64 {
        let price = 60_000 + 10 * minute as i64;
        recording.marks.push(MarkSample {
            ts_ns: T0 + minute * MINUTE,
            symbol: SymbolId(0),
            price: Price::from_int(price),
        });
        recording.equity.push(EquitySample {
            ts_ns: T0 + minute * MINUTE,
            equity: n("10000").saturating_add(Notional::from_int(minute as i64 / 10)),
        });
    }
    recording.fills = vec![
        fill_record(T0 + 10 * MINUTE, 1, Side::Buy, "0.01", "60000", "0.6"),
        fill_record(T0 + 20 * MINUTE, 2, Side::Sell, "0.02", "60200", "1.204"),
        fill_record(T0 + 40 * MINUTE, 1, Side::Sell, "0.01", "60600", "0.606"),
    ];
    for record in &recording.fills {
        let update = OrderUpdate {
            client_order_id: record.fill.client_order_id,
            strategy: record.fill.strategy,
            symbol: record.fill.symbol,
            side: record.fill.side,
            qty: record.fill.qty,
            ..OrderUpdate::default()
        };
        recording.orders.push(OrderRecord {
            ts_ns: record.ts_ns - 1_000_000,
            update,
        });
        recording.orders.push(OrderRecord {
            ts_ns: record.ts_ns,
            update: OrderUpdate {
                status: crate::core::OrderStatus::Filled,
                filled_qty: record.fill.qty,
                ..update
            },
        });
    }
    recording.risk_rejects = vec![
        RiskRecord {
            ts_ns: T0 + 30 * MINUTE,
            strategy: StrategyId(2),
            symbol: Some(SymbolId(0)),
            code: crate::risk::codes::ORDER_RATE,
        },
        RiskRecord {
            ts_ns: T0 + 31 * MINUTE,
            strategy: StrategyId(2),
            symbol: Some(SymbolId(0)),
            code: crate::risk::codes::ORDER_RATE,
        },
    ];
    recording.order_latency_ns = vec![1_200_000, 1_000_000, 1_500_000];
    recording
}

#[test]
fn a_recording_reports_hand_calculated_fees_pnl_exposure_and_counts() {
    let report = analyze(&hour_recording()).expect("valid recording");
    let summary = &report.summary;
    assert_eq!(summary.strategies.len(), 2);

    let probe = &summary.strategies[0];
    assert_eq!(probe.name, "probe");
    assert_eq!(probe.fees_paid, n("1.206"));
    assert_eq!(probe.turnover, n("1206"));
    assert_eq!(probe.trades.closed_trades_pnl, n("4.794"));
    assert_eq!(
        probe.equity.pnl,
        n("4.794"),
        "flat at the end: equity moved by the trade alone"
    );
    assert_eq!(probe.equity.ending_equity, n("10004.794"));
    assert_eq!(
        (
            probe.trades.closed_trades,
            probe.trades.wins,
            probe.trades.losses
        ),
        (1, 1, 0)
    );
    assert_eq!(probe.exposure_ns, 30 * MINUTE);
    assert_eq!(probe.exposure_time, Some(0.5));
    assert_eq!(
        (
            probe.activity.orders,
            probe.activity.order_updates,
            probe.activity.fills
        ),
        (2, 4, 2)
    );

    // fade: short 0.02 at 60200, fee 1.204, marked at 60600 at the end:
    // unrealized 0.02 × (60200 − 60600) = −8, so pnl −9.204.
    let fade = &summary.strategies[1];
    assert_eq!(fade.equity.pnl, n("-9.204"));
    assert_eq!((fade.trades.closed_trades, fade.trades.open_trades), (0, 1));
    assert_eq!(fade.trades.win_rate, None);
    assert_eq!(fade.exposure_ns, 40 * MINUTE);
    assert_eq!(fade.activity.risk_rejects, 2);
    assert_eq!(
        fade.activity.risk_rejects_by_code.get("order_rate"),
        Some(&2)
    );

    let total = &summary.total;
    assert_eq!(total.fees_paid, n("2.41"));
    assert_eq!(total.turnover, n("2410"));
    assert_eq!(
        total.exposure_ns,
        50 * MINUTE,
        "any position from minute 10 to the end"
    );
    assert_eq!(
        total.equity.pnl,
        n("6"),
        "the recording's own equity samples"
    );
    assert_eq!(
        (
            total.trades.closed_trades,
            total.trades.open_trades,
            total.activity.fills
        ),
        (1, 1, 3)
    );
    assert_eq!(summary.meta.returns_period, ReturnPeriod::Minute);
    assert_eq!(summary.order_latency.p50_ns, Some(1_200_000));
}

fn write_to_dir(recording: &Recording) -> (tempfile::TempDir, ReportSummary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = write_reports(recording, dir.path()).expect("reports written");
    (dir, summary)
}

fn read(dir: &tempfile::TempDir, name: &str) -> Vec<u8> {
    std::fs::read(dir.path().join(name)).expect("report file exists")
}

#[test]
fn two_writes_of_one_recording_are_byte_identical_and_a_changed_fill_changes_them() {
    let recording = hour_recording();
    let (first, _) = write_to_dir(&recording);
    let (second, _) = write_to_dir(&recording);
    for name in REPORT_FILES {
        assert_eq!(
            read(&first, name),
            read(&second, name),
            "{name} differs between writes"
        );
    }
    let mut changed = recording.clone();
    changed.fills[2].fill.price = Price::from_int(60_601);
    let (third, _) = write_to_dir(&changed);
    for name in [
        "summary.json",
        "trades.csv",
        "fills.csv",
        "stats.csv",
        "equity.csv",
        "report.html",
    ] {
        assert_ne!(
            read(&first, name),
            read(&third, name),
            "{name} ignores the fill price"
        );
    }
    assert_eq!(read(&first, "orders.csv"), read(&third, "orders.csv"));
}

#[test]
fn files_carry_exact_money_and_the_html_has_no_external_reference() {
    let (dir, summary) = write_to_dir(&hour_recording());
    let trades = String::from_utf8(read(&dir, "trades.csv")).expect("utf-8");
    let mut lines = trades.lines();
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("trade_id,strategy,symbol,direction")));
    assert_eq!(
        lines.next(),
        Some(
            "1,probe,BTCUSDT,LONG,closed,1709251800000000000,2024-03-01T00:10:00.000000000Z,\
             1709253600000000000,2024-03-01T00:40:00.000000000Z,1800,0.01,60000,0.01,60600,2,6,\
             1.206,4.794"
        )
    );
    let open = lines.next().expect("fade's open trade");
    assert!(open.starts_with("2,fade,BTCUSDT,SHORT,open,"), "{open}");
    assert_eq!(lines.next(), None);

    let json: serde_json::Value =
        serde_json::from_slice(&read(&dir, "summary.json")).expect("summary.json parses");
    assert_eq!(json["strategies"][0]["fees_paid"], "1.206");
    assert_eq!(json["strategies"][0]["closed_trades_pnl"], "4.794");
    assert_eq!(json["strategies"][1]["win_rate"], serde_json::Value::Null);
    assert_eq!(json["total"]["cagr"], serde_json::Value::Null);
    assert_eq!(json["meta"]["data_repairs"]["duplicate_rows"], 2);
    assert_eq!(json["settings"][0]["key"], "latency");

    let stats = String::from_utf8(read(&dir, "stats.csv")).expect("utf-8");
    assert_eq!(stats.lines().count(), 4, "header, two strategies, total");
    assert!(stats
        .lines()
        .nth(2)
        .is_some_and(|l| l.ends_with(",order_rate=2")));
    let equity = String::from_utf8(read(&dir, "equity.csv")).expect("utf-8");
    assert!(equity
        .lines()
        .any(|l| l.starts_with("probe,1709253600000000000,") && l.contains(",10004.794,")));

    let html = String::from_utf8(read(&dir, "report.html")).expect("utf-8");
    for forbidden in ["http://", "https://", "//cdn", "src=\"", "href=\""] {
        assert!(
            !html.contains(forbidden),
            "report.html references {forbidden}"
        );
    }
    for id in [
        "plot-equity",
        "plot-drawdown",
        "plot-price-0",
        "plot-latency",
        "report-errors",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }

    let table = summary_table(&summary);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows.len(),
        6,
        "header, rule, two strategies, rule, total:\n{table}"
    );
    assert!(
        rows[2].starts_with("probe") && rows[2].contains("4.79"),
        "{table}"
    );
    assert!(
        rows[3].starts_with("fade") && rows[3].contains("-9.20"),
        "{table}"
    );
    assert!(
        rows[5].starts_with("total") && rows[5].contains("2.41"),
        "{table}"
    );
}

#[test]
fn an_empty_recording_writes_every_file_with_nulls() {
    let (dir, summary) = write_to_dir(&Recording::default());
    for name in REPORT_FILES {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    let text = String::from_utf8(read(&dir, "summary.json")).expect("utf-8");
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    assert_eq!(summary.total.equity.sharpe, None);
    assert_eq!(summary.total.exposure_time, None);
    assert!(summary_table(&summary).contains("total"));
}

#[test]
fn a_zero_quantity_fill_is_an_error_naming_it() {
    let mut recording = hour_recording();
    recording.fills[1].fill.qty = Qty::ZERO;
    let error = analyze(&recording).expect_err("zero quantity");
    assert_eq!(
        error,
        ReportError::BadFill {
            fill: 1,
            ts_ns: T0 + 20 * MINUTE
        }
    );
}

#[test]
fn strategy_equity_values_open_positions_at_the_last_mark_or_fill_price() {
    let report = analyze(&hour_recording()).expect("valid recording");
    let probe = &report.replay.strategies[0];
    let at = |ts_ns: u64| {
        probe
            .curve
            .iter()
            .rev()
            .find(|p| p.ts_ns <= ts_ns)
            .map(|p| p.equity)
    };
    assert_eq!(at(T0), Some(n("10000")));
    // Bought 0.01 at 60000 (the mark at minute 10 is 60100; the fill price is later news).
    assert_eq!(at(T0 + 10 * MINUTE), Some(n("9999.4")));
    // Minute 11 marks 60110: 0.01 × 110 = 1.1 unrealized.
    assert_eq!(at(T0 + 11 * MINUTE), Some(n("10000.5")));
    assert!(
        probe
            .curve
            .windows(2)
            .all(|w| w[0] != w[1] && w[0].ts_ns <= w[1].ts_ns),
        "ascending, no repeated point"
    );
    assert_eq!(
        probe.curve.len(),
        61,
        "one point per minute, the start being minute 0"
    );
    assert_eq!(
        report.replay.total_curve.len(),
        61,
        "start point equals the first sample"
    );
}
