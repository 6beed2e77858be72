//! Owns: the `kestrel ctl` client — its command line, the request each command makes to the
//! control API, and the call itself over ureq. Never: prints, logs or sends the token
//! anywhere but the `Authorization` header of a state change, and never goes through a proxy
//! or follows a redirect (either could carry the token elsewhere).

use std::net::SocketAddr;
use std::time::Duration;

use crate::risk::StrategyMode;

use super::control::DEFAULT_CONTROL_LISTEN;

/// Connect and send timeout of a call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Wait for the answer: longer than the server's wait for the order thread.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// `kestrel ctl` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct CtlArgs {
    /// Address of the engine's control API (`[control] listen`).
    #[arg(long, default_value_t = DEFAULT_CONTROL_LISTEN)]
    pub addr: SocketAddr,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// What `kestrel ctl` asks the engine.
#[derive(Clone, Debug, PartialEq, Eq, clap::Subcommand)]
pub enum CtlCommand {
    /// Trading mode, health, kill switch, equity, drawdowns, exposures, counts.
    Status,
    /// Health and every breaker (level, tripped, observed, limit).
    Health,
    /// Positions.
    Positions,
    /// Open orders.
    Orders,
    /// Recent fills, oldest first.
    Fills,
    /// Strategies: id, mode, exposure, budget.
    Strategies,
    /// Halt trading (persisted until `resume`); optionally cancel all and flatten.
    Kill {
        /// Also cancel every open order.
        #[arg(long)]
        cancel_all: bool,
        /// Also close every position at market.
        #[arg(long)]
        flatten: bool,
    },
    /// Clear the kill switch and any critical halt.
    Resume,
    /// Cancel every order and close every position at market.
    Flatten,
    /// Cancel every open order, protective stops included.
    CancelAll,
    /// Set one strategy's mode.
    Strategy {
        /// Strategy id (see `kestrel ctl strategies`).
        id: u16,
        /// enabled, disabled or dry_run.
        #[arg(value_parser = parse_mode)]
        mode: StrategyMode,
    },
    /// Re-read the `[risk]` limits from the engine's configuration file.
    Reload,
}

fn parse_mode(text: &str) -> Result<StrategyMode, String> {
    StrategyMode::parse(text)
        .ok_or_else(|| format!("{text:?}: expected enabled, disabled or dry_run"))
}

/// The HTTP request of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlRequest {
    /// True for the `POST`s that change state (they carry the token).
    pub changes_state: bool,
    pub path: &'static str,
    /// JSON body of a `POST` that has parameters.
    pub body: Option<String>,
}

impl CtlCommand {
    /// The request this command makes.
    pub fn request(&self) -> CtlRequest {
        let read = |path| CtlRequest {
            changes_state: false,
            path,
            body: None,
        };
        let change = |path, body| CtlRequest {
            changes_state: true,
            path,
            body,
        };
        match self {
            CtlCommand::Status => read("/status"),
            CtlCommand::Health => read("/health"),
            CtlCommand::Positions => read("/positions"),
            CtlCommand::Orders => read("/orders"),
            CtlCommand::Fills => read("/fills"),
            CtlCommand::Strategies => read("/strategies"),
            CtlCommand::Kill {
                cancel_all,
                flatten,
            } => change(
                "/kill",
                Some(
                    serde_json::json!({ "cancel_all": cancel_all, "flatten": flatten }).to_string(),
                ),
            ),
            CtlCommand::Resume => change("/resume", None),
            CtlCommand::Flatten => change("/flatten", None),
            CtlCommand::CancelAll => change("/cancel-all", None),
            CtlCommand::Strategy { id, mode } => change(
                "/strategies/mode",
                Some(serde_json::json!({ "strategy": id, "mode": mode.as_str() }).to_string()),
            ),
            CtlCommand::Reload => change("/reload", None),
        }
    }
}

/// The control API's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlReply {
    pub status: u16,
    /// The JSON body as received.
    pub body: String,
}

impl CtlReply {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `<status>: <error message> (<code>)` from a JSON error body, else the raw body.
    pub fn error_summary(&self) -> String {
        let parsed: Option<serde_json::Value> = serde_json::from_str(&self.body).ok();
        let field = |name| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        match (field("error"), field("code")) {
            (Some(error), Some(code)) => format!("HTTP {}: {error} ({code})", self.status),
            _ => format!("HTTP {}: {}", self.status, self.body.trim_end()),
        }
    }
}

/// Why the control API could not be asked at all.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("control api at {addr} ({path}): {source}")]
    Http {
        addr: SocketAddr,
        path: &'static str,
        source: ureq::Error,
    },
}

/// Sends `command` to the control API at `addr`; a state change carries `token` (when
/// given). Any HTTP status is a reply; only transport failures are errors.
pub fn ctl_send(
    addr: SocketAddr,
    command: &CtlCommand,
    token: Option<&str>,
) -> Result<CtlReply, CtlError> {
    let request = command.request();
    let error = |source| CtlError::Http {
        addr,
        path: request.path,
        source,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        // Per-phase timeouts: a global one spawns a resolver thread per call.
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_send_request(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .timeout_recv_body(Some(RESPONSE_TIMEOUT))
        .build()
        .into();
    let url = format!("http://{addr}{}", request.path);
    let response = if request.changes_state {
        let mut post = agent.post(&url);
        if let Some(token) = token {
            post = post.header("Authorization", format!("Bearer {token}"));
        }
        match &request.body {
            Some(body) => post.content_type("application/json").send(body.as_str()),
            None => post.send_empty(),
        }
    } else {
        agent.get(&url).call()
    };
    let mut response = response.map_err(error)?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().map_err(error)?;
    Ok(CtlReply { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ctl: CtlArgs,
    }

    fn parse(args: &[&str]) -> Result<CtlArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("ctl").chain(args.iter().copied())).map(|c| c.ctl)
    }

    #[test]
    fn command_lines_map_to_their_requests() {
        let kill = parse(&["kill", "--cancel-all"]).expect("valid");
        assert_eq!(kill.addr, DEFAULT_CONTROL_LISTEN);
        let request = kill.command.request();
        assert!(request.changes_state);
        assert_eq!(request.path, "/kill");
        let body: serde_json::Value =
            serde_json::from_str(request.body.as_deref().expect("kill has a body")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"cancel_all": true, "flatten": false})
        );
        let strategy =
            parse(&["--addr", "127.0.0.1:7000", "strategy", "2", "dry_run"]).expect("valid");
        assert_eq!(strategy.addr.port(), 7000);
        assert_eq!(
            strategy.command,
            CtlCommand::Strategy {
                id: 2,
                mode: StrategyMode::DryRun
            }
        );
        let body: serde_json::Value = serde_json::from_str(
            strategy
                .command
                .request()
                .body
                .as_deref()
                .expect("strategy has a body"),
        )
        .expect("json");
        assert_eq!(body, serde_json::json!({"strategy": 2, "mode": "dry_run"}));
        let read = parse(&["fills"]).expect("valid").command.request();
        assert!(!read.changes_state);
        assert_eq!(read.path, "/fills");
        assert_eq!(
            parse(&["cancel-all"])
                .expect("valid")
                .command
                .request()
                .path,
            "/cancel-all"
        );
        assert!(parse(&["strategy", "2", "paused"]).is_err());
        assert!(parse(&["strategy", "-1", "enabled"]).is_err());
        assert!(parse(&["launch"]).is_err());
    }

    #[test]
    fn error_summary_reads_the_json_error_or_falls_back_to_the_body() {
        let reply = CtlReply {
            status: 401,
            body: "{\"error\":\"a bearer token is required\",\"code\":\"unauthorized\"}\n"
                .to_owned(),
        };
        assert!(!reply.is_success());
        assert_eq!(
            reply.error_summary(),
            "HTTP 401: a bearer token is required (unauthorized)"
        );
        let raw = CtlReply {
            status: 502,
            body: "bad gateway\n".to_owned(),
        };
        assert_eq!(raw.error_summary(), "HTTP 502: bad gateway");
        assert!(CtlReply {
            status: 200,
            body: String::new()
        }
        .is_success());
    }
}
