//! `kestrel run` trading through the Binance gateway survives SIGKILL: the simulator runs as
//! its own process (spot, the bundled capture, no venue rate limits); the engine trades the
//! probe on one journal, is killed with SIGKILL at seeded pseudo-random points and restarted
//! 20 times, then a last run only reconciles and is stopped with SIGTERM. The account the
//! journal rebuilds (the engine's own recovery code) must equal the simulator's, read over its
//! signed REST API: every trade once (ids unique, none lost), position and realized PnL
//! (average cost, computed here independently from myTrades), balance changes, open orders
//! (client id, quantity, limit and stop trigger) and the coins they lock, all exact in fixed
//! point. Half the killed runs trade bracketed round trips (an OCO after each entry fill),
//! so kills land between a fill and its bracket and restarts recover open OCOs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;

use cli_support::{get_metrics, metric_value, verify, wait_exit, KESTREL};
use kestrel::core::{AssetName, Market, Notional, Price, Qty, Side, SymbolTable};
use kestrel::engine::trading::rebuild_order_side;
use kestrel::oms::binance::exchange_info::parse_exchange_info;
use kestrel::oms::binance::HmacSigner;
use kestrel::oms::manager::OmsConfig;
use kestrel::persist::payload::JournalEntry;
use kestrel::persist::JournalReader;

/// Engine starts killed with SIGKILL.
const KILLS: usize = 20;
/// Seed of the kill delays (printed with every failure).
const SEED: u64 = 0x6b39_5eed;
const SYMBOL: &str = "BTCUSDT";

/// Kills and reaps a child on drop (the test owns it; it may already have exited).
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

/// Delays (ms after spawn) at which each run is killed: a fixed LCG, so a failure replays.
fn kill_delays_ms() -> Vec<u64> {
    let mut state = SEED;
    (0..KILLS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // 150 ms (still opening the journal / reconciling) … 2 s (trading for a while).
            150 + (state >> 33) % 1_850
        })
        .collect()
}

/// Waits until `path` has a line starting with `prefix`; returns the rest of that line.
fn wait_for_line(path: &Path, prefix: &str, context: &str) -> String {
    // Generous: only there so a broken start fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix(prefix)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{context}: no line {prefix:?} in {}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The simulator's signed REST API, as a client other than the engine reads it.
struct VenueClient {
    base: String,
    signer: HmacSigner,
}

impl VenueClient {
    fn signed_get(&self, path: &str, query: &str) -> serde_json::Value {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis();
        let query = if query.is_empty() {
            format!("timestamp={timestamp}")
        } else {
            format!("{query}&timestamp={timestamp}")
        };
        let signature = self.signer.sign(query.as_bytes());
        let url = format!(
            "{}{path}?{query}&signature={}",
            self.base,
            signature.as_str()
        );
        let body = ureq::get(&url)
            .header("X-MBX-APIKEY", kestrel::sim::DOCS_API_KEY)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .body_mut()
            .read_to_string()
            .expect("read body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Every trade of ours on the symbol, in id order (paged by fromId).
    fn my_trades(&self) -> Vec<serde_json::Value> {
        let mut trades: Vec<serde_json::Value> = Vec::new();
        let mut from_id = 0u64;
        loop {
            let page = self.signed_get(
                "/api/v3/myTrades",
                &format!("symbol={SYMBOL}&fromId={from_id}&limit=1000"),
            );
            let page = page.as_array().cloned().expect("myTrades is an array");
            let Some(last) = page.last() else { break };
            from_id = last["id"].as_u64().expect("trade id") + 1;
            let full = page.len() == 1000;
            trades.extend(page);
            if !full {
                break;
            }
        }
        trades
    }
}

fn text<'a>(value: &'a serde_json::Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {value}"))
}

fn qty(value: &serde_json::Value, key: &str) -> Qty {
    Qty::parse(text(value, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn price(value: &serde_json::Value, key: &str) -> Price {
    Price::parse(text(value, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// Position and realized PnL by average cost, from the venue's trades alone: a position
/// keeps its signed cost; a reduction releases the cost share of what it closes (truncated
/// toward zero, as the fixed-point arithmetic does), a flip closes all and opens the rest at
/// the fill price. Realized PnL is before fees.
#[derive(Debug, Default, PartialEq, Eq)]
struct AverageCost {
    qty: i128,
    cost: i128,
    realized: i128,
}

impl AverageCost {
    fn apply(&mut self, side: Side, price: Price, qty: Qty) {
        const SCALE: i128 = 1_000_000_000_000_000_000;
        let notional = |q: i128| price.raw() * q / SCALE;
        let signed = if side == Side::Buy {
            qty.raw()
        } else {
            -qty.raw()
        };
        let signed_notional = if side == Side::Buy {
            notional(qty.raw())
        } else {
            -notional(qty.raw())
        };
        if self.qty == 0 || (self.qty > 0) == (signed > 0) {
            self.qty += signed;
            self.cost += signed_notional;
            return;
        }
        let open = self.qty.abs();
        let closing = qty.raw();
        if closing <= open {
            let released = if closing == open {
                self.cost
            } else {
                self.cost * closing / open
            };
            self.realized += -signed_notional - released;
            self.cost -= released;
            self.qty += signed;
            return;
        }
        let close_notional = if side == Side::Buy {
            notional(open)
        } else {
            -notional(open)
        };
        self.realized += -close_notional - self.cost;
        self.cost = signed_notional - close_notional;
        self.qty += signed;
    }
}

/// How a run's probe trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProbeMode {
    /// A market buy, then an OCO bracket (take-profit and stop-loss-limit this many bps
    /// away) over what it filled; the next entry once the bracket closed the position.
    Bracketed(u32),
    /// An unbracketed market order every few book events, alternating sides.
    EveryTick,
}

impl ProbeMode {
    /// The `[orders.probe]` lines of the mode.
    fn settings(self) -> String {
        match self {
            Self::Bracketed(bps) => format!("bracket_bps = {bps}\nevery_tick = 0\n"),
            Self::EveryTick => "bracket_bps = 0\nevery_tick = 6\n".to_owned(),
        }
    }

    fn name(self) -> String {
        match self {
            Self::Bracketed(bps) => format!("bracketed-{bps}"),
            Self::EveryTick => "every-tick".to_owned(),
        }
    }
}

fn engine_config(dir: &Path, port: u16, strategy: &str, mode: ProbeMode) -> PathBuf {
    let example = kestrel::config::EXAMPLE;
    let replay_start = example.find("[replay]").expect("example has [replay]");
    let text = format!(
        "{}\n[binance]\nmarket = \"spot\"\nsymbols = [\"{SYMBOL}\"]\n\
         ws_urls = [\"ws://127.0.0.1:{port}\"]\nrest_base_url = \"http://127.0.0.1:{port}\"\n\
         [binance.ws]\nbackoff_base_ms = 20\n\
         [orders]\nvenue = \"binance\"\nstrategy = \"{strategy}\"\n\
         rest_base_url = \"http://127.0.0.1:{port}\"\nws_api_url = \"ws://127.0.0.1:{port}/ws-api/v3\"\n\
         simex_test_keys = true\n\
         [orders.probe]\nqty = \"0.001\"\n{}",
        &example[..replay_start],
        mode.settings(),
    )
    .replace(
        "dir = \"out/journal\"",
        &format!("dir = {:?}", dir.join("journal")),
    )
    .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
    .replace("listen = \"127.0.0.1:9465\"", "listen = \"127.0.0.1:0\"")
    .replace("capture_frames = true", "capture_frames = false");
    let path = dir.join(format!("kestrel-{strategy}-{}.toml", mode.name()));
    std::fs::write(&path, text).expect("write config");
    path
}

fn spawn_engine(config: &Path, log: &Path) -> Owned {
    let stderr = std::fs::File::create(log).expect("create log");
    Owned(
        Command::new(KESTREL)
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn kestrel run"),
    )
}

#[test]
fn sigkilled_twenty_times_the_journal_rebuilds_exactly_the_venues_account() {
    let delays = kill_delays_ms();
    let context = format!("seed {SEED:#x}, kill delays (ms after spawn) {delays:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // The venue: its own process, spot only, replaying the bundled capture at ×5. Its
    // exchangeInfo announces 100× Binance's rate limits: 21 starts in half a minute (each
    // fetches exchangeInfo, a depth snapshot and reconciles) would use up the real 1200
    // weight per minute, which the gateway obeys from the venue's usage headers, and the
    // last run would have to wait for the window to roll over.
    let mut info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("data/binance_spot_exchange_info_btcusdt.json"))
            .expect("bundled exchangeInfo"),
    )
    .expect("exchangeInfo JSON");
    for limit in info["rateLimits"].as_array_mut().expect("rateLimits") {
        let raised = limit["limit"].as_u64().expect("limit") * 100;
        limit["limit"] = raised.into();
    }
    let info_path = dir.path().join("exchange_info.json");
    std::fs::write(&info_path, info.to_string()).expect("write exchangeInfo");
    let simex_config = dir.path().join("simex.toml");
    std::fs::write(
        &simex_config,
        format!(
            "listen = \"127.0.0.1:0\"\nspeed = {{ times = 5.0 }}\n[[markets]]\nmarket = \"spot\"\n\
             capture = [{:?}]\nexchange_info = {:?}\n",
            root.join("data/binance_spot_btcusdt_20240808.gz"),
            info_path,
        ),
    )
    .expect("write simex config");
    let simex_log = dir.path().join("simex.log");
    let _simex = Owned(
        Command::new(KESTREL)
            .args(["simex", "--no-rate-limits", "--config"])
            .arg(&simex_config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&simex_log).expect("simex log"))
            .spawn()
            .expect("spawn kestrel simex"),
    );
    let announced = wait_for_line(&simex_log, "simex: Spot at http://", &context);
    let addr = announced.split(' ').next().unwrap_or_default().to_owned();
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("simex address in {announced:?}"));

    // Runs alternate: bracketed round trips (a kill may land between an entry's fill and
    // its OCO, or leave the OCO open for the next run to recover) and every-tick orders.
    // 3 bps: the replayed market reaches one leg or the other within a second or two, so
    // the first half's bracketed runs place several OCOs (and kills land between fills and
    // OCOs). The second half's bracket 12 bps wide: such an OCO usually stays open to the
    // end (later bracketed runs resume its trip and wait), so the open orders compared are
    // not empty.
    let bracketed = engine_config(dir.path(), port, "probe", ProbeMode::Bracketed(3));
    let wide = engine_config(dir.path(), port, "probe", ProbeMode::Bracketed(12));
    let every_tick = engine_config(dir.path(), port, "probe", ProbeMode::EveryTick);
    for (run, &delay) in delays.iter().enumerate() {
        let log = dir.path().join(format!("run-{run}.log"));
        let config = if run % 2 == 0 {
            &every_tick
        } else if run >= KILLS / 2 {
            &wide
        } else {
            &bracketed
        };
        let engine = spawn_engine(config, &log);
        std::thread::sleep(Duration::from_millis(delay));
        signal(&engine.0, libc::SIGKILL);
        drop(engine); // reaps it
    }

    // The last run sends nothing of its own: it reconciles, settles what the killed runs
    // left open (asks the venue, re-sends what never arrived) and is stopped with SIGTERM.
    let settle = engine_config(dir.path(), port, "none", ProbeMode::EveryTick);
    let log = dir.path().join("final.log");
    let mut engine = spawn_engine(&settle, &log);
    let metrics_addr = wait_for_line(&log, "kestrel: metrics on http://", &context)
        .trim_end_matches("/metrics")
        .to_owned();
    let venue = VenueClient {
        base: format!("http://{addr}"),
        signer: HmacSigner::new(kestrel::sim::DOCS_API_SECRET.as_bytes()).expect("signer"),
    };
    let label = "{venue=\"binance-spot\"}";
    // Generous: only there so an engine that never settles fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let exposition = get_metrics(&metrics_addr);
        let reconciled = metric_value(&exposition, &format!("orders_reconciled{label}"));
        let open = metric_value(&exposition, &format!("orders_open{label}"));
        let venue_open = venue
            .signed_get("/api/v3/openOrders", &format!("symbol={SYMBOL}"))
            .as_array()
            .map_or(0, Vec::len);
        if reconciled == Some(1.0) && open == Some(venue_open as f64) {
            break;
        }
        if Instant::now() > deadline {
            let _ = engine.0.kill();
            panic!(
                "{context}: the last run never settled (reconciled {reconciled:?}, open {open:?}, venue open {venue_open}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(&engine.0, libc::SIGTERM);
    let status = wait_exit(&mut engine.0);
    let final_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "{context}: last run: {status}\n{final_log}"
    );

    // The venue's account, over its signed REST API.
    let account = venue.signed_get("/api/v3/account", "");
    let open_orders = venue.signed_get("/api/v3/openOrders", &format!("symbol={SYMBOL}"));
    let trades = venue.my_trades();

    // The engine's account: the journal, rebuilt by the engine's recovery code.
    let journal_dir = dir.path().join("journal");
    verify(&journal_dir);
    let info = parse_exchange_info(
        &std::fs::read(root.join("data/binance_spot_exchange_info_btcusdt.json"))
            .expect("exchangeInfo"),
        Market::Spot,
    )
    .expect("parse exchangeInfo");
    let instrument = info
        .instruments
        .into_iter()
        .find(|i| i.symbol == SYMBOL)
        .expect("BTCUSDT listed");
    let mut symbols = SymbolTable::new();
    let symbol = symbols.intern(SYMBOL).expect("intern");
    let (manager, rebuilt) = rebuild_order_side(
        &journal_dir,
        // A session after every journaled one (only names ids this reader never sends).
        (KILLS + 2) as u32,
        OmsConfig::default(),
        &symbols,
        &[(symbol, instrument)],
        &[],
    )
    .expect("rebuild from the journal");

    let mut journal_trades = Vec::new();
    // Each bracket leg's last journaled status.
    let mut bracket_legs = BTreeMap::new();
    let mut sessions = 0;
    let mut reader = JournalReader::open(&journal_dir, 0).expect("open journal");
    while let Some(record) = reader.next() {
        match record.expect("record").decode().expect("decode") {
            JournalEntry::Fill { fill, .. } => journal_trades.push(fill.venue_trade_id),
            JournalEntry::Session(_) => sessions += 1,
            JournalEntry::Update { update, .. } if update.parent.0 != 0 => {
                bracket_legs.insert(
                    update.client_order_id,
                    (update.status, update.reject_code, update.role),
                );
            }
            _ => {}
        }
    }
    // One session per start that got as far as opening the journal: a start killed before
    // that (a loaded machine can take longer than the shortest delay) leaves none. Every
    // start that said it began its session must have it; none may leave two.
    let started = (0..KILLS)
        .filter(|run| {
            std::fs::read_to_string(dir.path().join(format!("run-{run}.log")))
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("kestrel: journal ") && l.contains(", session "))
        })
        .count()
        + 1;
    assert!(
        (started..=KILLS + 1).contains(&sessions),
        "{context}: {sessions} sessions journaled, {started} starts logged theirs, {} starts",
        KILLS + 1
    );

    // Every trade exactly once: none counted twice, none lost.
    let unique: BTreeSet<u64> = journal_trades.iter().copied().collect();
    assert_eq!(
        unique.len(),
        journal_trades.len(),
        "{context}: a trade journaled twice: {journal_trades:?}"
    );
    let venue_ids: BTreeSet<u64> = trades
        .iter()
        .map(|t| t["id"].as_u64().expect("trade id"))
        .collect();
    assert!(!venue_ids.is_empty(), "{context}: the probe never traded");
    assert_eq!(unique, venue_ids, "{context}: journal and venue trade ids");
    assert_eq!(
        rebuilt.fills as usize,
        trades.len(),
        "{context}: fill count"
    );

    // Position and realized PnL: average cost over the venue's trades, computed here.
    let mut expected = AverageCost::default();
    let mut fees = BTreeMap::<String, i128>::new();
    let (mut base_delta, mut quote_delta) = (0i128, 0i128);
    for trade in &trades {
        let side = if trade["isBuyer"].as_bool().expect("isBuyer") {
            Side::Buy
        } else {
            Side::Sell
        };
        let (price, qty) = (price(trade, "price"), qty(trade, "qty"));
        expected.apply(side, price, qty);
        let notional = price.notional(qty).expect("notional").raw();
        let sign = if side == Side::Buy { 1 } else { -1 };
        base_delta += sign * qty.raw();
        quote_delta -= sign * notional;
        *fees
            .entry(text(trade, "commissionAsset").to_owned())
            .or_default() += qty_raw(trade, "commission");
    }
    let portfolio = manager.ledger().portfolio();
    let position = portfolio
        .position(Market::Spot, symbol)
        .expect("the rebuilt portfolio holds the traded symbol");
    assert_eq!(position.qty.raw(), expected.qty, "{context}: position");
    assert_eq!(position.cost_basis.raw(), expected.cost, "{context}: cost");
    assert_eq!(
        position.realized_pnl,
        Notional::from_raw(expected.realized),
        "{context}: realized PnL"
    );
    assert_eq!(position.fill_count as usize, trades.len());

    // Balances: what the venue's account moved by equals what the journal's fills moved.
    let start = kestrel::sim::OrderSideConfig::default().spot_balances;
    let quote_fees = fees.get("USDT").copied().unwrap_or(0);
    assert_eq!(
        fees.len(),
        usize::from(quote_fees != 0),
        "fees in USDT only"
    );
    for balance in account["balances"].as_array().expect("balances") {
        let asset = text(balance, "asset");
        let held = qty(balance, "free").raw() + qty(balance, "locked").raw();
        let moved = held - start.get(asset).map_or(0, |q| q.raw());
        let booked = portfolio
            .balance(Market::Spot, AssetName::new(asset).expect("asset name"))
            .raw();
        assert_eq!(moved, booked, "{context}: {asset} balance change");
        let from_trades = match asset {
            "BTC" => base_delta,
            "USDT" => quote_delta - quote_fees,
            _ => 0,
        };
        assert_eq!(moved, from_trades, "{context}: {asset} against myTrades");
    }

    // Open orders: the same client ids, quantities, limit prices and stop triggers (a
    // bracket's stop leg rests as STOP_LOSS_LIMIT: its price is the limit).
    let mut engine_open: Vec<(String, Qty, Price, Price)> = manager
        .open_orders()
        .map(|o| {
            (
                o.client_order_id.to_string(),
                o.qty,
                o.price,
                o.trigger_price,
            )
        })
        .collect();
    let mut venue_open: Vec<(String, Qty, Price, Price)> = open_orders
        .as_array()
        .expect("open orders")
        .iter()
        .map(|o| {
            (
                text(o, "clientOrderId").to_owned(),
                qty(o, "origQty"),
                price(o, "price"),
                price(o, "stopPrice"),
            )
        })
        .collect();
    engine_open.sort();
    venue_open.sort();
    assert_eq!(engine_open, venue_open, "{context}: open orders");

    // Coins the open orders lock: the venue's locked BTC is what the engine's open sells
    // still have to sell, an OCO's two legs counted once (they share the coins).
    let mut selling = BTreeMap::<u64, i128>::new();
    for order in manager.open_orders().filter(|o| o.side == Side::Sell) {
        let key = if order.parent.0 != 0 {
            order.parent.0
        } else {
            order.client_order_id.0
        };
        let left = order.qty.saturating_sub(order.filled_qty).raw();
        let slot = selling.entry(key).or_default();
        *slot = (*slot).max(left);
    }
    let venue_locked = account["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| text(b, "asset") == "BTC")
        .map_or(0, |b| qty(b, "locked").raw());
    assert_eq!(
        venue_locked,
        selling.values().sum::<i128>(),
        "{context}: BTC locked by open orders"
    );
    eprintln!(
        "kill9: {} starts killed, bracket legs {:?}, {} trades, position {}, realized PnL {}, {} open orders",
        KILLS,
        bracket_legs.values().collect::<Vec<_>>(),
        trades.len(),
        position.qty,
        position.realized_pnl,
        venue_open.len()
    );
}

fn qty_raw(value: &serde_json::Value, key: &str) -> i128 {
    qty(value, key).raw()
}
