//! Owns: the operator control API on the ops thread — HTTP routes that read the order
//! thread's last status snapshot and routes that send it commands (kill, resume, flatten,
//! cancel-all, strategy mode, reload of the risk limits) behind a bearer token — and the
//! `[control]` config section. Never: listens beyond loopback unless configured to, changes
//! state without the token, answers anything but JSON, or touches engine state itself (every
//! change is a [`ControlCommand`] the order thread applies and journals).
//!
//! Reads need no token; every `POST` needs `Authorization: Bearer <token>`, where the token
//! comes from the environment variable `token_env` names (no token configured: every change is
//! refused with 403). A change waits for the order thread's reply (at most two seconds, then
//! 504), so the ops loop is held that long at worst.
//!
//! Starting it from the ops thread's closure (the order thread gets the endpoint):
//!
//! ```no_run
//! use std::time::Duration;
//! use kestrel::engine::control::control_link;
//! use kestrel::ops::{ControlConfig, ControlServer};
//!
//! # fn main() -> Result<(), kestrel::ops::OpsError> {
//! let config = ControlConfig::default(); // `config.control` of the loaded file
//! let (client, _endpoint) = control_link(); // `_endpoint` → the order thread
//! let token = config.token_from_env();
//! let mut control = ControlServer::bind(
//!     &config,
//!     client,
//!     vec!["BTCUSDT".to_owned()], // names by SymbolId index
//!     Some("kestrel.toml".into()), // what `POST /reload` re-reads
//!     token,
//! )?;
//! loop {
//!     control.poll(Duration::from_millis(5)); // beside the metrics server's poll
//!     # break;
//! }
//! # Ok(())
//! # }
//! ```

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::control_views::{FillsView, HealthView, ListView, StatusView};
use super::http::{HttpLimits, Method, OpsServer, Request, Response};
use super::log::LogThrottle;
use super::metrics::{Counter, Registry};
use super::{Handler, OpsError};
use crate::config::{parse_toml, ConfigError};
use crate::core::clock::mono_ns;
use crate::core::StrategyId;
use crate::engine::control::{ControlClient, ControlCommand, ControlOutcome, STATUS_STRATEGIES};
use crate::risk::{HealthLevel, RiskLimits, StrategyMode, TradingMode};

/// Default control listen address: loopback, next to the metrics port.
pub const DEFAULT_CONTROL_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9465));
/// Environment variable the operator's token is read from by default.
pub const DEFAULT_TOKEN_ENV: &str = "KESTREL_CONTROL_TOKEN";

/// How long a change waits for the order thread's reply before answering 504.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Sleep between two looks for the reply (the order thread answers within its next loop).
const REPLY_POLL: Duration = Duration::from_micros(200);
/// One log line per this many ns about refused changes (a scanner must not flood the log).
const REFUSAL_LOG_INTERVAL_NS: u64 = 10_000_000_000;
const JSON: &str = "application/json";

/// `[control]` section of the configuration.
#[derive(Clone, PartialEq, Eq, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Address the control API listens on.
    pub listen: SocketAddr,
    /// Must be true to listen on anything but a loopback address.
    pub allow_non_loopback: bool,
    /// Environment variable holding the bearer token state changes need.
    pub token_env: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_CONTROL_LISTEN,
            allow_non_loopback: false,
            token_env: DEFAULT_TOKEN_ENV.to_owned(),
        }
    }
}

impl ControlConfig {
    /// The token from the environment variable `token_env` names; `None` when it is unset,
    /// empty or not Unicode (state changes are then refused).
    pub fn token_from_env(&self) -> Option<String> {
        std::env::var(&self.token_env)
            .ok()
            .filter(|token| !token.is_empty())
    }
}

/// The control API's HTTP server; polled by the ops loop.
pub struct ControlServer {
    http: OpsServer,
    /// Handlers of this server never read metrics; `OpsServer::poll` wants a registry.
    registry: Registry,
    /// Shared with the handlers; `poll` takes the order thread's snapshots off the ring
    /// every time, so it always has a spare to publish into and reads are never stale.
    state: Arc<Mutex<ControlState>>,
    /// Health, mode, kill switch and cause last seen, for the alert on a change.
    seen: Option<(HealthLevel, TradingMode, bool, u16)>,
    alerts: Option<Counter>,
}

impl ControlServer {
    /// Listens on `config.listen` (refused beyond loopback unless `allow_non_loopback`).
    /// `symbol_names` are indexed by `SymbolId`; `config_path` is what `POST /reload`
    /// re-reads; `token` is the bearer token changes need (see
    /// [`ControlConfig::token_from_env`]); only its SHA-256 digest is kept.
    pub fn bind(
        config: &ControlConfig,
        client: ControlClient,
        symbol_names: Vec<String>,
        config_path: Option<PathBuf>,
        token: Option<String>,
    ) -> Result<ControlServer, OpsError> {
        if !config.listen.ip().is_loopback() && !config.allow_non_loopback {
            return Err(OpsError::NonLoopback {
                addr: config.listen,
            });
        }
        let limits = HttpLimits {
            max_body_bytes: 16 * 1024,
            // Longer than the reply wait, so a 504 still reaches the client.
            connection_timeout: REPLY_TIMEOUT * 2 + Duration::from_secs(1),
            max_connections: 8,
            ..HttpLimits::default()
        };
        let mut http = OpsServer::bind_without_routes(config.listen, limits)?;
        http.set_error_page(json_error);
        let state = Arc::new(Mutex::new(ControlState {
            client,
            symbol_names,
            config_path,
            token_digest: token.as_deref().map(|t| digest(t.as_bytes())),
            token_env: config.token_env.clone(),
            reply_timeout: REPLY_TIMEOUT,
            refusals: LogThrottle::new(REFUSAL_LOG_INTERVAL_NS),
        }));
        for (method, path, endpoint) in ENDPOINTS {
            http.route(
                method,
                path,
                EndpointHandler {
                    state: Arc::clone(&state),
                    endpoint,
                },
            );
        }
        Ok(Self {
            http,
            registry: Registry::new(),
            state,
            seen: None,
            alerts: None,
        })
    }

    /// Registers `alerts_total{kind="trading_state"}`, counted with each alert line.
    pub fn attach_alerts(&mut self, registry: &mut Registry) -> Result<(), OpsError> {
        self.alerts = Some(registry.counter(
            "alerts_total",
            "Operator alerts raised (each also logged on stderr)",
            &[("kind", "trading_state")],
        )?);
        Ok(())
    }

    /// The alert for a change of health, trading mode or kill switch (a halt found at
    /// start-up included): one line on stderr and the counter.
    fn alert_on_change(&mut self) {
        let now = {
            let mut state = lock(&self.state);
            state
                .client
                .status()
                .map(|s| (s.health, s.mode, s.kill_switch, s.mode_cause))
        };
        let Some(now) = now else {
            return;
        };
        let first_and_fine =
            self.seen.is_none() && now.1 == TradingMode::Active && now.0 == HealthLevel::Ok;
        if self.seen != Some(now) && !first_and_fine {
            let (health, mode, kill, cause) = now;
            eprintln!(
                "kestrel: ALERT: trading {} (health {}, kill switch {}, cause {})",
                mode.as_str(),
                health.as_str(),
                if kill { "on" } else { "off" },
                if cause == 0 {
                    "none"
                } else {
                    crate::risk::codes::name(cause)
                },
            );
            if let Some(alerts) = &self.alerts {
                alerts.inc();
            }
        }
        self.seen = Some(now);
    }

    /// Address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr()
    }

    /// Accepts and serves whatever is ready for at most about `budget` (longer while a change
    /// waits for its reply); returns the number of responses completed.
    pub fn poll(&mut self, budget: Duration) -> usize {
        self.alert_on_change();
        self.http.poll(&self.registry, budget)
    }
}

/// A read: no token, answered from the last snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Read {
    Status,
    Health,
    Positions,
    Orders,
    Fills,
    Strategies,
}

/// A state change: token, then a command to the order thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Change {
    Kill,
    Resume,
    Flatten,
    CancelAll,
    StrategyMode,
    Reload,
}

/// What a route does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Endpoint {
    Read(Read),
    Change(Change),
}

impl Change {
    fn path(self) -> &'static str {
        ENDPOINTS
            .iter()
            .find(|(_, _, endpoint)| *endpoint == Endpoint::Change(self))
            .map_or("?", |(_, path, _)| path)
    }
}

const ENDPOINTS: [(Method, &str, Endpoint); 12] = [
    (Method::Get, "/status", Endpoint::Read(Read::Status)),
    (Method::Get, "/health", Endpoint::Read(Read::Health)),
    (Method::Get, "/positions", Endpoint::Read(Read::Positions)),
    (Method::Get, "/orders", Endpoint::Read(Read::Orders)),
    (Method::Get, "/fills", Endpoint::Read(Read::Fills)),
    (Method::Get, "/strategies", Endpoint::Read(Read::Strategies)),
    (Method::Post, "/kill", Endpoint::Change(Change::Kill)),
    (Method::Post, "/resume", Endpoint::Change(Change::Resume)),
    (Method::Post, "/flatten", Endpoint::Change(Change::Flatten)),
    (
        Method::Post,
        "/cancel-all",
        Endpoint::Change(Change::CancelAll),
    ),
    (
        Method::Post,
        "/strategies/mode",
        Endpoint::Change(Change::StrategyMode),
    ),
    (Method::Post, "/reload", Endpoint::Change(Change::Reload)),
];

/// What every route shares; only the ops thread locks it, so the lock is never contended.
struct ControlState {
    client: ControlClient,
    symbol_names: Vec<String>,
    config_path: Option<PathBuf>,
    token_digest: Option<[u8; 32]>,
    token_env: String,
    reply_timeout: Duration,
    refusals: LogThrottle,
}

struct EndpointHandler {
    state: Arc<Mutex<ControlState>>,
    endpoint: Endpoint,
}

impl Handler for EndpointHandler {
    fn handle(&self, request: &Request<'_>, _: &Registry) -> Response {
        let mut state = lock(&self.state);
        match self.endpoint {
            Endpoint::Read(read) => state.read(read),
            Endpoint::Change(change) => {
                state.change(change, request.header("authorization"), request.body)
            }
        }
    }
}

/// The state even if a handler panicked while holding it (none does; a poisoned lock must
/// not take the control API down with it).
fn lock(state: &Mutex<ControlState>) -> MutexGuard<'_, ControlState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ControlState {
    fn read(&mut self, read: Read) -> Response {
        let Some(status) = self.client.status() else {
            return json_error(
                503,
                "no_snapshot",
                "the order thread has not published a status yet",
            );
        };
        let names = &self.symbol_names;
        match read {
            Read::Status => {
                let age_ms = mono_ns().saturating_sub(status.published_ns) / 1_000_000;
                json_ok(&StatusView::new(status, age_ms))
            }
            Read::Health => json_ok(&HealthView::new(status)),
            Read::Positions => json_ok(&ListView::positions(status, names)),
            Read::Orders => json_ok(&ListView::orders(status, names)),
            Read::Fills => json_ok(&FillsView::new(status, names)),
            Read::Strategies => json_ok(&ListView::strategies(status)),
        }
    }

    /// A state change: token, body, command, the order thread's reply.
    fn change(&mut self, change: Change, authorization: Option<&str>, body: &[u8]) -> Response {
        if let Err((reason, response)) = self.authorize(authorization) {
            if let Some(held_back) = self.refusals.allow(mono_ns()) {
                eprintln!(
                    "kestrel: control: refused POST {} ({reason}; {held_back} more held back)",
                    change.path()
                );
            }
            return response;
        }
        let parsed = match change {
            Change::Kill => parse_body::<KillBody>(body).map(|kill| {
                let kill = kill.unwrap_or_default();
                (
                    ControlCommand::Kill {
                        cancel_all: kill.cancel_all,
                        flatten: kill.flatten,
                    },
                    serde_json::json!({
                        "command": "kill",
                        "cancel_all": kill.cancel_all,
                        "flatten": kill.flatten,
                    }),
                )
            }),
            Change::Resume => no_fields(body, ControlCommand::Resume, "resume"),
            Change::Flatten => no_fields(body, ControlCommand::Flatten, "flatten"),
            Change::CancelAll => no_fields(body, ControlCommand::CancelAll, "cancel_all"),
            Change::StrategyMode => self.strategy_mode(body),
            Change::Reload => self.reload(body),
        };
        match parsed {
            Ok((command, summary)) => self.execute(command, summary),
            Err(response) => response,
        }
    }

    /// Ok, or why not (for the log) and the response.
    fn authorize(&self, authorization: Option<&str>) -> Result<(), (&'static str, Response)> {
        let Some(expected) = &self.token_digest else {
            let message = format!(
                "state changes are disabled: the token environment variable {} is unset or empty",
                self.token_env
            );
            return Err((
                "no token configured",
                json_error(403, "token_unset", &message),
            ));
        };
        let unauthorized = |code, message| {
            json_error(401, code, message).with_header("WWW-Authenticate", "Bearer")
        };
        let Some(presented) = authorization.and_then(bearer_token) else {
            return Err((
                "no bearer token",
                unauthorized("unauthorized", "a bearer token is required"),
            ));
        };
        if digests_equal(&digest(presented.as_bytes()), expected) {
            Ok(())
        } else {
            Err((
                "wrong token",
                unauthorized("invalid_token", "the bearer token is not valid"),
            ))
        }
    }

    fn strategy_mode(
        &mut self,
        body: &[u8],
    ) -> Result<(ControlCommand, serde_json::Value), Response> {
        let request = parse_body::<StrategyModeBody>(body)?.ok_or_else(|| {
            json_error(
                400,
                "missing_body",
                "expected {\"strategy\": <id>, \"mode\": \"enabled\"|\"disabled\"|\"dry_run\"}",
            )
        })?;
        let Some(mode) = StrategyMode::parse(&request.mode) else {
            let message = format!(
                "unknown mode {:?}: expected enabled, disabled or dry_run",
                request.mode
            );
            return Err(json_error(400, "unknown_mode", &message));
        };
        // The snapshot lists every strategy unless there are more than it carries.
        if let Some(status) = self.client.status() {
            let known = status
                .strategies()
                .iter()
                .any(|s| s.strategy.0 == request.strategy);
            if !known && status.strategy_count <= STATUS_STRATEGIES {
                return Err(unknown_strategy(request.strategy));
            }
        }
        Ok((
            ControlCommand::SetStrategyMode {
                strategy: StrategyId(request.strategy),
                mode,
            },
            serde_json::json!({
                "command": "strategy_mode",
                "strategy": request.strategy,
                "mode": mode.as_str(),
            }),
        ))
    }

    fn reload(&self, body: &[u8]) -> Result<(ControlCommand, serde_json::Value), Response> {
        parse_body::<NoFields>(body)?;
        let Some(path) = &self.config_path else {
            return Err(json_error(
                409,
                "no_config_file",
                "the engine runs on the embedded default configuration: nothing to reload",
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            let message = format!("cannot read config {}: {e}", path.display());
            json_error(500, "config_unreadable", &message)
        })?;
        let limits = risk_limits_from_toml(&text, &path.display().to_string())
            .map_err(|e| json_error(400, "invalid_config", &e.to_string()))?;
        Ok((
            ControlCommand::ReloadLimits(Box::new(limits)),
            serde_json::json!({ "command": "reload", "path": path.display().to_string() }),
        ))
    }

    /// Sends `command`, waits for the order thread's reply and answers with `summary`.
    fn execute(&mut self, command: ControlCommand, mut summary: serde_json::Value) -> Response {
        let name = summary["command"].as_str().unwrap_or("command").to_owned();
        let strategy = match &command {
            ControlCommand::SetStrategyMode { strategy, .. } => Some(strategy.0),
            _ => None,
        };
        let Some(id) = self.client.send(command) else {
            return json_error(
                503,
                "busy",
                "the order thread has not taken the previous commands yet; retry",
            );
        };
        let deadline = Instant::now() + self.reply_timeout;
        let outcome = loop {
            if let Some(outcome) = self.client.reply(id) {
                break outcome;
            }
            if Instant::now() >= deadline {
                eprintln!("kestrel: control: {name}: no reply from the order thread");
                let message = format!(
                    "the order thread did not answer within {} ms; the {name} may still be applied: check /status",
                    self.reply_timeout.as_millis()
                );
                return json_error(504, "order_thread_timeout", &message);
            }
            std::thread::sleep(REPLY_POLL);
        };
        match (outcome, strategy) {
            (ControlOutcome::Done, _) => {
                eprintln!("kestrel: control: {summary}: done");
                summary["ok"] = serde_json::Value::Bool(true);
                json_ok(&summary)
            }
            (ControlOutcome::UnknownStrategy, Some(strategy)) => unknown_strategy(strategy),
            (ControlOutcome::UnknownStrategy, None) => json_error(
                500,
                "unexpected_reply",
                "the order thread answered \"unknown strategy\" to a command without one",
            ),
        }
    }
}

fn unknown_strategy(strategy: u16) -> Response {
    json_error(
        404,
        "unknown_strategy",
        &format!("no strategy with id {strategy}"),
    )
}

/// `POST /kill` body; both flags default to false.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KillBody {
    cancel_all: bool,
    flatten: bool,
}

/// `POST /strategies/mode` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyModeBody {
    strategy: u16,
    mode: String,
}

/// The body of a command without parameters: empty or `{}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

fn no_fields(
    body: &[u8],
    command: ControlCommand,
    name: &str,
) -> Result<(ControlCommand, serde_json::Value), Response> {
    parse_body::<NoFields>(body)?;
    Ok((command, serde_json::json!({ "command": name })))
}

/// Parses a JSON object body; `None` for an empty (or blank) one.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| json_error(400, "malformed_json", &format!("request body: {e}")))?;
    // serde would also take a struct from an array; the API speaks objects only.
    if !value.is_object() {
        return Err(json_error(
            400,
            "invalid_body",
            "request body: expected a JSON object",
        ));
    }
    T::deserialize(value)
        .map(Some)
        .map_err(|e| json_error(400, "invalid_body", &format!("request body: {e}")))
}

/// The `[risk]` table of a whole configuration file (other sections are not looked at).
#[derive(serde::Deserialize)]
struct RiskSection {
    #[serde(default)]
    risk: RiskLimits,
}

/// The limits in the `[risk]` table of the configuration text (defaults when absent),
/// validated; errors name `origin` and the key.
pub fn risk_limits_from_toml(text: &str, origin: &str) -> Result<RiskLimits, ConfigError> {
    let section: RiskSection = parse_toml(text, origin)?;
    section
        .risk
        .validate()
        .map_err(|(key, message)| ConfigError::Invalid {
            origin: origin.to_owned(),
            key,
            message,
        })?;
    Ok(section.risk)
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

/// Compares two digests in time independent of where they differ; comparing digests rather
/// than tokens also hides the token's length.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

/// The control API's error shape: `{"error": "<message>", "code": "<snake_case>"}`; also
/// the server's own error page (404, 405, 400, 413, 431, 501).
pub fn json_error(status: u16, code: &'static str, message: &str) -> Response {
    json_response(
        status,
        &ErrorBody {
            error: message,
            code,
        },
    )
}

fn json_ok(value: &impl Serialize) -> Response {
    json_response(200, value)
}

fn json_response(status: u16, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            Response::new(status, JSON, body)
        }
        Err(_) => Response::new(
            500,
            JSON,
            &b"{\"error\":\"the response could not be encoded\",\"code\":\"internal\"}\n"[..],
        ),
    }
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
