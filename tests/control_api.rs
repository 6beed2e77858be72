//! The control API over real HTTP: the real `ControlServer` on an ephemeral loopback port,
//! polled by an "ops" thread, and a fake order thread holding the `ControlEndpoint` that
//! publishes snapshots (a position, open orders, fills, two strategies, breakers) and
//! records and answers every command. Also `kestrel ctl` (the built binary) against it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kestrel::core::clock::mono_ns;
use kestrel::core::{
    ClientOrderId, Fill, Notional, OrderRole, OrderStatus, OrderType, OrderUpdate, Side,
    StrategyId, SymbolId,
};
use kestrel::engine::control::{
    control_link, BreakerStatus, ControlCommand, ControlOutcome, EngineStatus, PositionRow,
    StrategyRow,
};
use kestrel::ops::{ControlConfig, ControlServer, OpsError};
use kestrel::risk::codes;
use kestrel::risk::{HealthLevel, RiskLimits, StrategyBudget, StrategyMode, TradingMode};
use serde_json::{json, Value};

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");
const TOKEN: &str = "test-token-5e2b9c";
/// Strategies the fake order thread runs.
const STRATEGIES: [u16; 2] = [1, 2];

fn dec<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().expect("test decimals are valid")
}

fn order_id(session: u64, counter: u64) -> ClientOrderId {
    ClientOrderId((session << 40) | counter)
}

/// The snapshot the fake order thread publishes.
fn fill_snapshot(s: &mut EngineStatus) {
    s.published_ns = mono_ns();
    s.health = HealthLevel::Soft;
    s.mode = TradingMode::ReduceOnly;
    s.kill_switch = false;
    s.mode_cause = codes::CAUSE_DRAWDOWN_DAILY;
    s.reconciled = true;
    s.equity = dec("10234.5");
    s.high_water_mark = dec("10500");
    s.drawdown_pct = 2.53;
    s.daily_drawdown_pct = 11.25;
    s.gross_exposure = dec("842.5503");
    s.venue_exposure = dec("842.5503");
    let causes = [
        codes::CAUSE_EQUITY_FLOOR,
        codes::CAUSE_DRAWDOWN_TOTAL,
        codes::CAUSE_DRAWDOWN_DAILY,
        codes::CAUSE_VENUE_ERROR_RATE,
        codes::CAUSE_CONSECUTIVE_FAILURES,
        codes::CAUSE_MARKET_DATA_STALE,
        codes::CAUSE_LATENCY,
    ];
    for (slot, cause) in s.breakers.iter_mut().zip(causes) {
        *slot = BreakerStatus {
            cause,
            level: if cause <= codes::CAUSE_DRAWDOWN_TOTAL {
                HealthLevel::Critical
            } else {
                HealthLevel::Soft
            },
            tripped: cause == codes::CAUSE_DRAWDOWN_DAILY,
            observed: if cause == codes::CAUSE_DRAWDOWN_DAILY {
                11.25
            } else {
                0.0
            },
            limit: 10.0,
        };
    }
    s.rejects_total = 7;
    s.positions[0] = PositionRow {
        symbol: SymbolId(0),
        qty: dec("0.015"),
        avg_entry_price: dec("56170.02"),
        mark: dec("56168.71"),
        unrealized_pnl: dec("-0.01965"),
        realized_pnl: dec("1.25"),
    };
    s.position_count = 1;
    s.open_orders[0] = OrderUpdate {
        client_order_id: order_id(7, 2),
        strategy: StrategyId(1),
        symbol: SymbolId(0),
        side: Side::Sell,
        status: OrderStatus::New,
        venue_order_id: 31_337,
        order_type: OrderType::StopMarket,
        role: OrderRole::StopLoss,
        reduce_only: true,
        trigger_price: dec("55890.00"),
        qty: dec("0.015"),
        parent: order_id(7, 1),
        ..OrderUpdate::default()
    };
    s.open_orders[1] = OrderUpdate {
        client_order_id: order_id(7, 3),
        strategy: StrategyId(2),
        symbol: SymbolId(1),
        side: Side::Buy,
        status: OrderStatus::PartiallyFilled,
        order_type: OrderType::Limit,
        price: dec("2600.50"),
        qty: dec("0.1"),
        filled_qty: dec("0.04"),
        ..OrderUpdate::default()
    };
    s.open_order_count = 2;
    s.fills[0] = Fill {
        client_order_id: order_id(7, 1),
        strategy: StrategyId(1),
        symbol: SymbolId(0),
        side: Side::Buy,
        price: dec("56170.02"),
        qty: dec("0.015"),
        fee: dec("0.8425503"),
        venue_trade_id: 3_714_425_001,
        is_maker: false,
    };
    s.fills[1] = Fill {
        client_order_id: order_id(7, 3),
        strategy: StrategyId(2),
        symbol: SymbolId(1),
        side: Side::Buy,
        price: dec("2600.50"),
        qty: dec("0.04"),
        fee: dec("0.104020"),
        venue_trade_id: 912_004,
        is_maker: true,
    };
    s.fill_count = 2;
    s.strategies[0] = StrategyRow {
        strategy: StrategyId(1),
        mode: StrategyMode::Enabled,
        exposure: dec("842.5503"),
        budget: dec("2000"),
    };
    s.strategies[1] = StrategyRow {
        strategy: StrategyId(2),
        mode: StrategyMode::DryRun,
        exposure: dec("0"),
        budget: dec("300"),
    };
    s.strategy_count = 2;
}

/// The server on its ops thread and the fake order thread.
struct Rig {
    addr: SocketAddr,
    publishing: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<ControlCommand>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Rig {
    fn start(token: Option<&str>, config_path: Option<PathBuf>, publishing: bool) -> Self {
        let (client, mut endpoint) = control_link();
        let config = ControlConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            ..ControlConfig::default()
        };
        let names = vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()];
        let mut server = ControlServer::bind(
            &config,
            client,
            names,
            config_path,
            token.map(str::to_owned),
        )
        .expect("bind an ephemeral loopback port");
        let addr = server.local_addr().expect("bound");
        let stop = Arc::new(AtomicBool::new(false));
        let publishing = Arc::new(AtomicBool::new(publishing));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ops = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    server.poll(Duration::from_millis(5));
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let order = {
            let (stop, publishing, seen) = (
                Arc::clone(&stop),
                Arc::clone(&publishing),
                Arc::clone(&seen),
            );
            thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    while let Some(request) = endpoint.next_request() {
                        let outcome = match &request.command {
                            ControlCommand::SetStrategyMode { strategy, .. }
                                if !STRATEGIES.contains(&strategy.0) =>
                            {
                                ControlOutcome::UnknownStrategy
                            }
                            _ => ControlOutcome::Done,
                        };
                        seen.lock().expect("recorder lock").push(request.command);
                        endpoint.reply(request.id, outcome);
                    }
                    if publishing.load(Ordering::Acquire) {
                        endpoint.publish(fill_snapshot);
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        Self {
            addr,
            publishing,
            seen,
            stop,
            threads: vec![ops, order],
        }
    }

    /// Commands the fake order thread received so far (and forgets them).
    fn take_seen(&self) -> Vec<ControlCommand> {
        std::mem::take(&mut *self.seen.lock().expect("recorder lock"))
    }

    /// Waits until the server serves the fake's snapshot.
    fn wait_for_snapshot(&self) {
        let started = Instant::now();
        while get(self.addr, "/status").status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no snapshot served"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.head, self.body))
    }

    /// Asserts a JSON error with this status and code.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            self.head
        );
        let json = self.json();
        assert_eq!(json["code"], code, "{json}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{json}"
        );
    }
}

fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the control api");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    stream.write_all(raw).expect("send request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read reply");
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {reply:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: k\r\n\r\n").as_bytes(),
    )
}

fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &str) -> Reply {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: k\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes())
}

const CHANGES: [(&str, &str); 6] = [
    ("/kill", r#"{"cancel_all": true}"#),
    ("/resume", ""),
    ("/flatten", ""),
    ("/cancel-all", ""),
    ("/strategies/mode", r#"{"strategy": 1, "mode": "disabled"}"#),
    ("/reload", ""),
];

#[test]
fn reads_answer_503_until_the_first_snapshot_then_render_names_and_decimals() {
    let rig = Rig::start(None, None, false);
    for path in [
        "/status",
        "/health",
        "/positions",
        "/orders",
        "/fills",
        "/strategies",
    ] {
        get(rig.addr, path).assert_error(503, "no_snapshot");
    }
    rig.publishing.store(true, Ordering::Release);
    rig.wait_for_snapshot();

    let status = get(rig.addr, "/status").json();
    assert_eq!(status["health"], "soft");
    assert_eq!(status["mode"], "reduce_only");
    assert_eq!(status["kill_switch"], false);
    assert_eq!(status["mode_cause"], "drawdown_daily");
    assert_eq!(status["reconciled"], true);
    assert_eq!(status["equity"], "10234.5");
    assert_eq!(status["high_water_mark"], "10500");
    assert_eq!(status["drawdown_pct"], 2.53);
    assert_eq!(status["daily_drawdown_pct"], 11.25);
    assert_eq!(status["gross_exposure"], "842.5503");
    assert_eq!(status["venue_exposure"], "842.5503");
    assert_eq!(status["rejects_total"], 7);
    assert_eq!(status["breakers_tripped"], 1);
    assert_eq!(
        status["counts"],
        json!({"positions": 1, "open_orders": 2, "fills": 2, "strategies": 2})
    );
    assert!(status["snapshot_age_ms"].is_u64(), "{status}");

    let health = get(rig.addr, "/health").json();
    assert_eq!(health["health"], "soft");
    let breakers = health["breakers"].as_array().expect("breakers");
    let names: Vec<&str> = breakers.iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "equity_floor",
            "drawdown_total",
            "drawdown_daily",
            "venue_error_rate",
            "consecutive_failures",
            "market_data_stale",
            "latency"
        ]
    );
    assert_eq!(
        breakers[2],
        json!({"name": "drawdown_daily", "level": "soft", "tripped": true, "observed": 11.25, "limit": 10.0})
    );
    assert_eq!(breakers[0]["level"], "critical");
    assert_eq!(breakers[0]["tripped"], false);

    let positions = get(rig.addr, "/positions").json();
    assert_eq!(
        positions,
        json!({
            "positions": [{
                "symbol": "BTCUSDT", "qty": "0.015", "avg_entry_price": "56170.02",
                "mark": "56168.71", "unrealized_pnl": "-0.01965", "realized_pnl": "1.25"
            }],
            "total": 1,
            "truncated": false
        })
    );

    let orders = get(rig.addr, "/orders").json();
    assert_eq!(orders["total"], 2);
    assert_eq!(
        orders["orders"][0],
        json!({
            "client_order_id": "ks7-2", "venue_order_id": 31337, "strategy": 1,
            "symbol": "BTCUSDT", "side": "sell", "status": "new", "order_type": "stop_market",
            "time_in_force": "gtc", "role": "stop_loss", "reduce_only": true, "price": "0",
            "trigger_price": "55890", "qty": "0.015", "filled_qty": "0", "parent": "ks7-1"
        })
    );
    assert_eq!(orders["orders"][1]["symbol"], "ETHUSDT");
    assert_eq!(orders["orders"][1]["status"], "partially_filled");
    assert_eq!(orders["orders"][1]["price"], "2600.5");
    assert_eq!(orders["orders"][1]["filled_qty"], "0.04");
    assert_eq!(orders["orders"][1]["parent"], Value::Null);

    let fills = get(rig.addr, "/fills").json();
    let fills = fills["fills"].as_array().expect("fills");
    assert_eq!(fills.len(), 2);
    assert_eq!(
        fills[0],
        json!({
            "client_order_id": "ks7-1", "strategy": 1, "symbol": "BTCUSDT", "side": "buy",
            "price": "56170.02", "qty": "0.015", "fee": "0.8425503",
            "venue_trade_id": 3714425001u64, "is_maker": false
        })
    );
    assert_eq!(fills[1]["symbol"], "ETHUSDT");
    assert_eq!(fills[1]["fee"], "0.10402");

    let strategies = get(rig.addr, "/strategies").json();
    assert_eq!(
        strategies,
        json!({
            "strategies": [
                {"id": 1, "mode": "enabled", "exposure": "842.5503", "budget": "2000"},
                {"id": 2, "mode": "dry_run", "exposure": "0", "budget": "300"}
            ],
            "total": 2,
            "truncated": false
        })
    );
    assert!(rig.take_seen().is_empty(), "reads send no command");
}

#[test]
fn every_state_change_is_refused_without_the_right_token() {
    let rig = Rig::start(Some(TOKEN), None, true);
    rig.wait_for_snapshot();
    for (path, body) in CHANGES {
        let missing = post(rig.addr, path, None, body);
        missing.assert_error(401, "unauthorized");
        assert!(
            missing.head.contains("WWW-Authenticate: Bearer"),
            "{path}: {}",
            missing.head
        );
        let wrong = post(rig.addr, path, Some("test-token-5e2b9d"), body);
        wrong.assert_error(401, "invalid_token");
        assert!(wrong.head.contains("WWW-Authenticate: Bearer"), "{path}");
        let basic = exchange(
            rig.addr,
            format!(
                "POST {path} HTTP/1.1\r\nAuthorization: Basic {TOKEN}\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        );
        basic.assert_error(401, "unauthorized");
    }
    assert!(
        rig.take_seen().is_empty(),
        "nothing reached the order thread"
    );

    let unconfigured = Rig::start(None, None, true);
    unconfigured.wait_for_snapshot();
    for (path, body) in CHANGES {
        let refused = post(unconfigured.addr, path, Some(TOKEN), body);
        refused.assert_error(403, "token_unset");
        let message = refused.json()["error"].as_str().map(str::to_owned);
        assert!(
            message.is_some_and(|m| m.contains("KESTREL_CONTROL_TOKEN")),
            "{path}: {}",
            refused.body
        );
    }
    assert!(unconfigured.take_seen().is_empty());
}

#[test]
fn each_state_change_reaches_the_order_thread_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("kestrel.toml");
    std::fs::write(
        &config_path,
        "[journal]\ndir = \"out/journal\"\n\n[risk]\nmax_order_notional = \"1000\"\nmax_drawdown_pct = 20\nstrategy_budgets = [{ strategy = 2, max_notional = \"300\" }]\n",
    )
    .expect("write config");
    let rig = Rig::start(Some(TOKEN), Some(config_path.clone()), true);
    rig.wait_for_snapshot();

    let ok = |path: &str, body: &str| {
        let reply = post(rig.addr, path, Some(TOKEN), body);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["ok"], true, "{json}");
        json
    };
    let kill = ok("/kill", r#"{"cancel_all": true, "flatten": true}"#);
    assert_eq!(kill["command"], "kill");
    assert_eq!(kill["cancel_all"], true);
    assert_eq!(kill["flatten"], true);
    let bare_kill = ok("/kill", "");
    assert_eq!(bare_kill["cancel_all"], false);
    assert_eq!(ok("/kill", r#"{"flatten": true}"#)["flatten"], true);
    assert_eq!(ok("/resume", "")["command"], "resume");
    assert_eq!(ok("/flatten", "{}")["command"], "flatten");
    assert_eq!(ok("/cancel-all", "")["command"], "cancel_all");
    let mode = ok("/strategies/mode", r#"{"strategy": 2, "mode": "enabled"}"#);
    assert_eq!(mode["command"], "strategy_mode");
    assert_eq!(mode["strategy"], 2);
    assert_eq!(mode["mode"], "enabled");
    assert_eq!(
        ok("/strategies/mode", r#"{"strategy": 1, "mode": "dry_run"}"#)["mode"],
        "dry_run"
    );
    assert_eq!(ok("/reload", "")["command"], "reload");

    let mut budgets = [StrategyBudget::default(); 16];
    budgets[0] = StrategyBudget {
        strategy: 2,
        max_notional: Notional::from_int(300),
    };
    let reloaded = RiskLimits {
        max_order_notional: Notional::from_int(1_000),
        max_drawdown_pct: 20,
        strategy_budgets: budgets,
        ..RiskLimits::default()
    };
    assert_eq!(
        rig.take_seen(),
        vec![
            ControlCommand::Kill {
                cancel_all: true,
                flatten: true
            },
            ControlCommand::Kill {
                cancel_all: false,
                flatten: false
            },
            ControlCommand::Kill {
                cancel_all: false,
                flatten: true
            },
            ControlCommand::Resume,
            ControlCommand::Flatten,
            ControlCommand::CancelAll,
            ControlCommand::SetStrategyMode {
                strategy: StrategyId(2),
                mode: StrategyMode::Enabled
            },
            ControlCommand::SetStrategyMode {
                strategy: StrategyId(1),
                mode: StrategyMode::DryRun
            },
            ControlCommand::ReloadLimits(Box::new(reloaded)),
        ]
    );

    // A config the operator broke: refused with the key, the engine keeps its limits.
    std::fs::write(&config_path, "[risk]\nmax_drawdown_pct = 120\n").expect("write config");
    let refused = post(rig.addr, "/reload", Some(TOKEN), "");
    refused.assert_error(400, "invalid_config");
    assert!(
        refused.body.contains("risk.max_drawdown_pct"),
        "{}",
        refused.body
    );
    std::fs::write(&config_path, "[risk\nmax_drawdown_pct = 20\n").expect("write config");
    post(rig.addr, "/reload", Some(TOKEN), "").assert_error(400, "invalid_config");
    std::fs::write(&config_path, "[risk]\nmax_drawdown_pct = \"lots\"\n").expect("write config");
    post(rig.addr, "/reload", Some(TOKEN), "").assert_error(400, "invalid_config");
    assert!(rig.take_seen().is_empty(), "no reload with broken limits");
}

#[test]
fn malformed_requests_get_4xx_json_errors() {
    let rig = Rig::start(Some(TOKEN), None, true);
    rig.wait_for_snapshot();
    let auth = Some(TOKEN);
    post(rig.addr, "/kill", auth, "{\"cancel_all\": tru").assert_error(400, "malformed_json");
    post(rig.addr, "/kill", auth, "[true]").assert_error(400, "invalid_body");
    post(rig.addr, "/kill", auth, r#"{"cancel_all": 1}"#).assert_error(400, "invalid_body");
    post(
        rig.addr,
        "/kill",
        auth,
        r#"{"cancel_all": true, "now": true}"#,
    )
    .assert_error(400, "invalid_body");
    post(rig.addr, "/resume", auth, r#"{"force": true}"#).assert_error(400, "invalid_body");
    post(rig.addr, "/strategies/mode", auth, "").assert_error(400, "missing_body");
    post(
        rig.addr,
        "/strategies/mode",
        auth,
        r#"{"strategy": "1", "mode": "enabled"}"#,
    )
    .assert_error(400, "invalid_body");
    post(
        rig.addr,
        "/strategies/mode",
        auth,
        r#"{"strategy": 1, "mode": "paused"}"#,
    )
    .assert_error(400, "unknown_mode");
    post(
        rig.addr,
        "/strategies/mode",
        auth,
        r#"{"strategy": 9, "mode": "enabled"}"#,
    )
    .assert_error(404, "unknown_strategy");
    post(rig.addr, "/reload", auth, "").assert_error(409, "no_config_file");

    get(rig.addr, "/nope").assert_error(404, "not_found");
    post(rig.addr, "/metrics", auth, "").assert_error(404, "not_found");
    let wrong_method = get(rig.addr, "/kill");
    wrong_method.assert_error(405, "method_not_allowed");
    assert!(
        wrong_method.head.contains("Allow: POST"),
        "{}",
        wrong_method.head
    );
    let read_by_post = post(rig.addr, "/status", auth, "");
    read_by_post.assert_error(405, "method_not_allowed");
    assert!(read_by_post.head.contains("Allow: GET"));

    exchange(
        rig.addr,
        b"POST /kill HTTP/1.1\r\nContent-Length: 999999\r\n\r\n",
    )
    .assert_error(413, "body_too_large");
    exchange(
        rig.addr,
        b"POST /kill HTTP/1.1\r\nContent-Length: 20000\r\n\r\n",
    )
    .assert_error(413, "body_too_large");
    let mut huge = b"GET /status HTTP/1.1\r\nX-Pad: ".to_vec();
    huge.resize(9 * 1024, b'a');
    exchange(rig.addr, &huge).assert_error(431, "head_too_large");
    exchange(rig.addr, b"GARBAGE\r\n\r\n").assert_error(400, "malformed_request");
    exchange(
        rig.addr,
        b"GET /status HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    )
    .assert_error(400, "malformed_request");
    exchange(
        rig.addr,
        b"POST /kill HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .assert_error(501, "transfer_encoding_unsupported");
    assert!(
        rig.take_seen().is_empty(),
        "no malformed request reached the order thread"
    );
    // The server is still serving.
    assert_eq!(get(rig.addr, "/status").status, 200);
}

#[test]
fn a_strategy_the_order_thread_does_not_know_is_404() {
    // No snapshot yet: the ops side cannot check the id; the order thread answers.
    let rig = Rig::start(Some(TOKEN), None, false);
    post(
        rig.addr,
        "/strategies/mode",
        Some(TOKEN),
        r#"{"strategy": 9, "mode": "disabled"}"#,
    )
    .assert_error(404, "unknown_strategy");
    assert_eq!(
        rig.take_seen(),
        vec![ControlCommand::SetStrategyMode {
            strategy: StrategyId(9),
            mode: StrategyMode::Disabled
        }]
    );
    // Changes do not need a snapshot: a kill works before the order thread published one.
    assert_eq!(post(rig.addr, "/kill", Some(TOKEN), "").status, 200);
    assert_eq!(
        rig.take_seen(),
        vec![ControlCommand::Kill {
            cancel_all: false,
            flatten: false
        }]
    );
}

#[test]
fn binding_beyond_loopback_needs_allow_non_loopback() {
    let everywhere = ControlConfig {
        listen: "0.0.0.0:0".parse().expect("valid address"),
        ..ControlConfig::default()
    };
    let (client, _endpoint) = control_link();
    let refused = ControlServer::bind(&everywhere, client, Vec::new(), None, None);
    match refused {
        Err(OpsError::NonLoopback { addr }) => assert_eq!(addr, everywhere.listen),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("0.0.0.0 must be refused without allow_non_loopback"),
    }
    let allowed = ControlConfig {
        allow_non_loopback: true,
        ..everywhere
    };
    let (client, _endpoint) = control_link();
    let server = ControlServer::bind(&allowed, client, Vec::new(), None, None)
        .expect("0.0.0.0 with allow_non_loopback");
    assert!(server
        .local_addr()
        .is_some_and(|a| a.ip().is_unspecified() && a.port() != 0));
    let (client, _endpoint) = control_link();
    let ipv6_loopback = ControlConfig {
        listen: "[::1]:0".parse().expect("valid address"),
        ..ControlConfig::default()
    };
    match ControlServer::bind(&ipv6_loopback, client, Vec::new(), None, None) {
        // ::1 is loopback; a machine without IPv6 fails to bind, not the loopback check.
        Ok(_) | Err(OpsError::Bind { .. }) => {}
        Err(other) => panic!("::1 is loopback: {other}"),
    }
}

fn ctl(addr: SocketAddr, args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut command = Command::new(KESTREL);
    command
        .arg("ctl")
        .arg("--addr")
        .arg(addr.to_string())
        .args(args)
        .env_remove("KESTREL_CONTROL_TOKEN");
    if let Some(token) = token {
        command.env("KESTREL_CONTROL_TOKEN", token);
    }
    command.output().expect("run kestrel ctl")
}

#[test]
fn kestrel_ctl_prints_status_and_needs_the_token_to_kill() {
    let rig = Rig::start(Some(TOKEN), None, true);
    rig.wait_for_snapshot();

    let status = ctl(rig.addr, &["status"], None);
    assert!(status.status.success(), "{status:?}");
    let json: Value = serde_json::from_slice(&status.stdout).expect("status prints JSON");
    assert_eq!(json["mode"], "reduce_only");
    assert_eq!(json["equity"], "10234.5");

    let strategies = ctl(rig.addr, &["strategies"], None);
    assert!(strategies.status.success(), "{strategies:?}");
    let json: Value = serde_json::from_slice(&strategies.stdout).expect("JSON");
    assert_eq!(json["strategies"][1]["mode"], "dry_run");

    let refused = ctl(rig.addr, &["kill", "--cancel-all"], None);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401"), "{stderr}");
    assert!(stderr.contains("unauthorized"), "{stderr}");
    let wrong = ctl(rig.addr, &["kill"], Some("not-the-token"));
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert!(rig.take_seen().is_empty());

    let kill = ctl(rig.addr, &["kill", "--cancel-all"], Some(TOKEN));
    assert!(kill.status.success(), "{kill:?}");
    let json: Value = serde_json::from_slice(&kill.stdout).expect("kill prints JSON");
    assert_eq!(json["ok"], true);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&kill.stdout),
        String::from_utf8_lossy(&kill.stderr)
    );
    assert!(!printed.contains(TOKEN), "the token is never printed");
    let mode = ctl(rig.addr, &["strategy", "2", "disabled"], Some(TOKEN));
    assert!(mode.status.success(), "{mode:?}");
    let unknown = ctl(rig.addr, &["strategy", "5", "disabled"], Some(TOKEN));
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown_strategy"));
    assert_eq!(
        rig.take_seen(),
        vec![
            ControlCommand::Kill {
                cancel_all: true,
                flatten: false
            },
            ControlCommand::SetStrategyMode {
                strategy: StrategyId(2),
                mode: StrategyMode::Disabled
            },
        ]
    );

    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    let closed = nobody.local_addr().expect("bound");
    drop(nobody);
    let unreachable = ctl(closed, &["status"], None);
    assert_eq!(unreachable.status.code(), Some(1), "{unreachable:?}");
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains(&closed.to_string()));
}
