//! `report.html` of a realistic backtest recording opens in a real headless browser (Debian
//! `chromium`) with no console error and every plot drawn: `--dump-dom` shows an empty
//! error box and a positive point count on each plot canvas, and `--screenshot` is a PNG of
//! many colours including the plots' line colour.
//!
//! Without `/usr/bin/chromium` the test prints SKIP and passes, unless
//! `KESTREL_REQUIRE_CHROMIUM=1` (set in CI) makes that a failure. Every chromium run is
//! killed after a generous deadline so a hang cannot block CI.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kestrel::backtest::recording::{
    EquitySample, FillRecord, MarkSample, OrderRecord, RiskRecord, RunMeta, StrategyMeta,
    SymbolMeta,
};
use kestrel::backtest::report::{summary_table, write_reports};
use kestrel::backtest::Recording;
use kestrel::core::{
    ClientOrderId, Fill, Notional, OrderStatus, OrderType, OrderUpdate, Price, Qty, Side,
    StrategyId, SymbolId, TimeInForce,
};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A safety net against a hung browser, not a timing assertion.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(180);
/// 2024-05-14T09:00:00Z.
const START_NS: u64 = 1_715_677_200_000_000_000;
const SECOND: u64 = 1_000_000_000;
/// The equity line's colour in page.js (`#1f5fbf`).
const EQUITY_LINE_RGB: [u8; 3] = [0x1f, 0x5f, 0xbf];

/// Deterministic pseudo-random numbers (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A BTCUSDT mid every second for an hour: a random walk from 67,250.10 with 0.01 ticks.
fn btc_prices() -> Vec<Price> {
    let mut rng = Lcg(20_240_514);
    let mut cents: i64 = 6_725_010;
    (0..=3_600)
        .map(|_| {
            cents += ((rng.next_unit() - 0.5) * 900.0) as i64;
            Price::from_raw(i128::from(cents) * 10_000_000_000_000_000)
        })
        .collect()
}

struct Book {
    recording: Recording,
    /// Per strategy: quote cash flow and signed quantity, for the equity samples.
    cash: Vec<Notional>,
    qty: Vec<Qty>,
    next_id: u64,
}

impl Book {
    fn fill(&mut self, second: usize, strategy: u16, side: Side, qty: &str, prices: &[Price]) {
        let price = prices[second];
        let qty = Qty::parse(qty).expect("test qty");
        let notional = price.notional(qty).expect("test notional fits");
        // 1 bp maker fee in USDT.
        let fee = Notional::from_raw(notional.raw() / 10_000);
        let ts_ns = START_NS + second as u64 * SECOND + 3_000_000;
        self.next_id += 1;
        let id = ClientOrderId((7 << 40) | self.next_id);
        let update = OrderUpdate {
            client_order_id: id,
            strategy: StrategyId(strategy),
            symbol: SymbolId(0),
            side,
            status: OrderStatus::New,
            venue_order_id: 900_000 + self.next_id,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Ioc,
            qty,
            ..OrderUpdate::default()
        };
        self.recording.orders.push(OrderRecord {
            ts_ns: ts_ns - 1_000_000,
            update,
        });
        self.recording.orders.push(OrderRecord {
            ts_ns,
            update: OrderUpdate {
                status: OrderStatus::Filled,
                filled_qty: qty,
                ..update
            },
        });
        self.recording.fills.push(FillRecord {
            ts_ns,
            fill: Fill {
                client_order_id: id,
                strategy: StrategyId(strategy),
                symbol: SymbolId(0),
                side,
                price,
                qty,
                fee,
                venue_trade_id: 3_400_000_000 + self.next_id,
                is_maker: false,
            },
        });
        let slot = usize::from(strategy - 1);
        let (cash, signed_qty) = match side {
            Side::Buy => (notional.neg(), qty),
            Side::Sell => (notional, qty.neg()),
        };
        self.cash[slot] = self.cash[slot].saturating_add(cash).saturating_sub(fee);
        self.qty[slot] = self.qty[slot].saturating_add(signed_qty);
    }
}

/// Two strategies trading BTCUSDT for an hour: `momentum` makes three long round trips,
/// `fade` shorts, flips long through zero, and closes in two parts.
fn realistic_recording() -> Recording {
    let prices = btc_prices();
    let starting_equity = Notional::from_int(25_000);
    let mut book = Book {
        recording: Recording {
            meta: RunMeta {
                inputs: vec!["data/btcusdt_20240514.hbt.npz".into()],
                first_event_ns: START_NS,
                last_event_ns: START_NS + 3_600 * SECOND,
                events: 412_377,
                data_repairs: vec![("duplicate_rows".into(), 3)],
                settings: vec![
                    ("feed_latency".into(), "constant 2ms".into()),
                    ("order_latency".into(), "lognormal p50 1.2ms".into()),
                    ("queue_model".into(), "prob_queue".into()),
                    ("maker_fee".into(), "0.0001".into()),
                ],
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
                    name: "momentum".into(),
                    mode: kestrel::risk::StrategyMode::Enabled,
                },
                StrategyMeta {
                    id: StrategyId(2),
                    name: "fade".into(),
                    mode: kestrel::risk::StrategyMode::Enabled,
                },
            ],
            account_asset: "USDT".into(),
            starting_equity,
            ..Recording::default()
        },
        cash: vec![Notional::ZERO; 2],
        qty: vec![Qty::ZERO; 2],
        next_id: 0,
    };
    // (second, strategy, side, qty), in time order.
    let plan: [(usize, u16, Side, &str); 13] = [
        (120, 1, Side::Buy, "0.05"),
        (300, 2, Side::Sell, "0.03"),
        (610, 1, Side::Sell, "0.05"),
        (900, 1, Side::Buy, "0.08"),
        (1_250, 2, Side::Buy, "0.07"), // flips the short into a 0.04 long
        (1_500, 1, Side::Sell, "0.08"),
        (1_800, 2, Side::Sell, "0.02"), // partial close
        (2_100, 1, Side::Buy, "0.04"),
        (2_400, 2, Side::Sell, "0.02"), // closes
        (2_700, 1, Side::Buy, "0.02"),
        (3_000, 1, Side::Sell, "0.06"),
        (3_200, 2, Side::Sell, "0.01"),
        (3_500, 2, Side::Buy, "0.01"),
    ];
    let mut planned = plan.iter().peekable();
    for (second, &price) in prices.iter().enumerate() {
        while let Some(&&(at, strategy, side, qty)) = planned.peek() {
            if at != second {
                break;
            }
            book.fill(second, strategy, side, qty, &prices);
            planned.next();
        }
        let ts_ns = START_NS + second as u64 * SECOND;
        book.recording.marks.push(MarkSample {
            ts_ns,
            symbol: SymbolId(0),
            price,
        });
        let mut equity = starting_equity;
        for slot in 0..2 {
            let held = price.notional(book.qty[slot]).expect("position value fits");
            equity = equity.saturating_add(book.cash[slot]).saturating_add(held);
        }
        book.recording.equity.push(EquitySample { ts_ns, equity });
    }
    for (second, code) in [(700, 312u16), (705, 312), (2_222, 314)] {
        book.recording.risk_rejects.push(RiskRecord {
            ts_ns: START_NS + second * SECOND,
            strategy: StrategyId(1),
            symbol: Some(SymbolId(0)),
            code,
        });
    }
    let mut rng = Lcg(7);
    book.recording.order_latency_ns = (0..26)
        .map(|_| 700_000 + (rng.next_unit() * rng.next_unit() * 4_000_000.0) as u64)
        .collect();
    book.recording
}

/// Kills the browser if the test leaves before it exits.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs chromium headless with `extra` arguments on `page`; returns (stdout, stderr).
fn run_chromium(profile: &Path, extra: &[String], page: &Path) -> (String, String) {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(format!("file://{}", page.display()));
    let mut child = KillOnDrop(
        Command::new(CHROMIUM)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts"),
    );
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    let mut stderr = child.0.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + CHROMIUM_DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("chromium status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "chromium did not finish within {CHROMIUM_DEADLINE:?}: {args:?}"
        );
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.contains(":CONSOLE") && !line.contains("Uncaught"),
            "the page wrote to the console: {line}\n--- stderr ---\n{stderr}"
        );
    }
    (stdout, stderr)
}

/// The opening tag of the element with `id` in `dom`.
fn tag_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let needle = format!("id=\"{id}\"");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("{id} not in the DOM"));
    let open = dom[..at].rfind('<').expect("tag start");
    let close = at + dom[at..].find('>').expect("tag end");
    &dom[open..=close]
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let from = tag.find(&needle)? + needle.len();
    let to = from + tag[from..].find('"')?;
    Some(tag[from..to].to_string())
}

fn chromium_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var("KESTREL_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "{CHROMIUM} not found but KESTREL_REQUIRE_CHROMIUM=1: apt-get install chromium"
    );
    eprintln!(
        "SKIP report.html browser check: {CHROMIUM} not found (apt-get install chromium); \
         set KESTREL_REQUIRE_CHROMIUM=1 to make this a failure"
    );
    false
}

#[test]
fn report_html_loads_in_headless_chromium_without_errors_and_draws_every_plot() {
    let recording = realistic_recording();
    let out = tempfile::tempdir().expect("report dir");
    let summary = write_reports(&recording, out.path()).expect("reports written");
    // The recording is what the test claims: both strategies traded, one flip, rejects.
    assert_eq!(summary.strategies.len(), 2);
    assert_eq!(
        summary.strategies[0].trades.closed_trades,
        3,
        "{}",
        summary_table(&summary)
    );
    assert_eq!(
        summary.strategies[1].trades.closed_trades,
        3,
        "{}",
        summary_table(&summary)
    );
    assert_eq!(summary.total.activity.risk_rejects, 3);
    let page: PathBuf = out
        .path()
        .join("report.html")
        .canonicalize()
        .expect("report.html exists");
    let html = std::fs::read_to_string(&page).expect("report.html reads");
    for forbidden in ["http://", "https://", "//cdn"] {
        assert!(
            !html.contains(forbidden),
            "report.html references {forbidden}"
        );
    }

    if !chromium_present() {
        return;
    }
    let profile = tempfile::tempdir().expect("chromium profile dir");
    let (dom, _) = run_chromium(profile.path(), &["--dump-dom".to_string()], &page);
    let errors = tag_of(&dom, "report-errors");
    let after = &dom[dom.find(errors).expect("tag in dom") + errors.len()..];
    assert!(
        after.starts_with("</div>"),
        "the page recorded errors: {}",
        &after[..after.len().min(2_000)]
    );
    assert_eq!(
        attribute(tag_of(&dom, "report-data"), "type").as_deref(),
        Some("application/json")
    );
    assert!(
        dom.contains("data-rendered=\"1\""),
        "the renderer did not finish"
    );
    for plot in [
        "plot-equity",
        "plot-drawdown",
        "plot-price-0",
        "plot-latency",
    ] {
        let points: u64 = attribute(tag_of(&dom, plot), "data-points")
            .unwrap_or_else(|| panic!("{plot} was not drawn"))
            .parse()
            .expect("data-points is a number");
        assert!(points > 0, "{plot} drew no point");
    }
    let equity_points: u64 = attribute(tag_of(&dom, "plot-equity"), "data-points")
        .and_then(|p| p.parse().ok())
        .expect("equity points");
    assert!(
        equity_points > 3 * 3_600,
        "total and both strategies, every second: {equity_points}"
    );

    let profile = tempfile::tempdir().expect("chromium profile dir");
    let shot = out.path().join("report.png");
    run_chromium(
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_string(),
        ],
        &page,
    );
    let bytes = std::fs::read(&shot).expect("screenshot written");
    assert!(!bytes.is_empty(), "empty screenshot");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("screenshot is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("frame size fits")];
    let info = reader.next_frame(&mut pixels).expect("screenshot decodes");
    assert_eq!((info.width, info.height), (1280, 2000));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "colour screenshot: {:?}", info.color_type);
    let mut colours: HashSet<[u8; 3]> = HashSet::new();
    let mut background = 0usize;
    for pixel in pixels[..info.buffer_size()].chunks_exact(channels) {
        let rgb = [pixel[0], pixel[1], pixel[2]];
        if rgb == [255, 255, 255] {
            background += 1;
        }
        colours.insert(rgb);
    }
    let total = (info.width * info.height) as usize;
    assert!(colours.len() >= 16, "only {} colours", colours.len());
    assert!(background < total, "a blank page");
    assert!(
        colours.contains(&EQUITY_LINE_RGB),
        "the equity line colour is not on screen"
    );
}
