//! Unit tests of the control API's token check, body parsing, `[risk]` reload parsing and
//! the busy / timeout answers (the HTTP round trips are in `tests/control_api.rs`).

use super::*;
use crate::core::Notional;
use crate::engine::control::{control_link, ControlEndpoint};

fn state(token: Option<&str>) -> (ControlState, ControlEndpoint) {
    let (client, endpoint) = control_link();
    let state = ControlState {
        client,
        symbol_names: vec!["BTCUSDT".to_owned()],
        config_path: None,
        token_digest: token.map(|t| digest(t.as_bytes())),
        token_env: "KESTREL_CONTROL_TOKEN".to_owned(),
        reply_timeout: Duration::from_millis(10),
        refusals: LogThrottle::new(REFUSAL_LOG_INTERVAL_NS),
    };
    (state, endpoint)
}

fn body_json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("every answer is JSON")
}

fn assert_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{:?}", body_json(response));
    assert_eq!(response.content_type, "application/json");
    let json = body_json(response);
    assert_eq!(json["code"], code, "{json}");
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
}

#[test]
fn bearer_tokens_are_taken_from_the_authorization_value() {
    assert_eq!(bearer_token("Bearer s3cret"), Some("s3cret"));
    assert_eq!(bearer_token("bearer   s3cret  "), Some("s3cret"));
    assert_eq!(bearer_token("BEARER s3cret"), Some("s3cret"));
    assert_eq!(bearer_token("Basic czNjcmV0"), None);
    assert_eq!(bearer_token("Bearer"), None);
    assert_eq!(bearer_token("Bearer    "), None);
    assert_eq!(bearer_token("s3cret"), None);
}

#[test]
fn digests_are_equal_only_for_the_same_token() {
    let expected = digest(b"s3cret");
    assert!(digests_equal(&digest(b"s3cret"), &expected));
    assert!(!digests_equal(&digest(b"s3creT"), &expected));
    assert!(!digests_equal(&digest(b"s3cret "), &expected));
    assert!(!digests_equal(&digest(b""), &expected));
}

#[test]
fn changes_need_the_configured_token() {
    let (with_token, _endpoint) = state(Some("s3cret"));
    assert!(with_token.authorize(Some("Bearer s3cret")).is_ok());
    for (header, code) in [
        (None, "unauthorized"),
        (Some("Basic s3cret"), "unauthorized"),
        (Some("Bearer wrong"), "invalid_token"),
        (Some("Bearer s3cret2"), "invalid_token"),
    ] {
        let (_, response) = with_token
            .authorize(header)
            .expect_err("refused without the right token");
        assert_error(&response, 401, code);
        assert!(
            response
                .headers
                .contains(&("WWW-Authenticate", "Bearer".to_owned())),
            "{header:?}"
        );
    }
    let (without_token, _endpoint) = state(None);
    let (_, response) = without_token
        .authorize(Some("Bearer s3cret"))
        .expect_err("no token configured refuses every change");
    assert_error(&response, 403, "token_unset");
    assert!(body_json(&response)["error"]
        .as_str()
        .is_some_and(|e| e.contains("KESTREL_CONTROL_TOKEN")));
}

#[test]
fn malformed_bodies_are_refused_before_anything_is_sent() {
    let (mut state, mut endpoint) = state(Some("t"));
    let auth = Some("Bearer t");
    let cases: [(Change, &[u8], &str); 11] = [
        (Change::Kill, b"{", "malformed_json"),
        (Change::Kill, b"\xff\xfe", "malformed_json"),
        (Change::Kill, b"[true, false]", "invalid_body"),
        (Change::Kill, br#"{"cancel_all": "yes"}"#, "invalid_body"),
        (Change::Kill, br#"{"cancel_al": true}"#, "invalid_body"),
        (Change::Resume, br#"{"now": true}"#, "invalid_body"),
        (Change::StrategyMode, b"", "missing_body"),
        (
            Change::StrategyMode,
            br#"{"strategy": 1, "mode": "paused"}"#,
            "unknown_mode",
        ),
        (
            Change::StrategyMode,
            br#"{"strategy": -1, "mode": "enabled"}"#,
            "invalid_body",
        ),
        (
            Change::StrategyMode,
            br#"{"strategy": 70000, "mode": "enabled"}"#,
            "invalid_body",
        ),
        (
            Change::StrategyMode,
            br#"{"mode": "enabled"}"#,
            "invalid_body",
        ),
    ];
    for (change, body, code) in cases {
        let response = state.change(change, auth, body);
        assert_error(&response, 400, code);
    }
    assert!(
        endpoint.next_request().is_none(),
        "nothing reached the order thread"
    );
}

#[test]
fn kill_bodies_default_to_neither_cancel_nor_flatten() {
    let parsed = |body: &[u8]| {
        parse_body::<KillBody>(body)
            .map(Option::unwrap_or_default)
            .map(|k| (k.cancel_all, k.flatten))
            .map_err(|r| r.status)
    };
    assert_eq!(parsed(b""), Ok((false, false)));
    assert_eq!(parsed(b" \r\n"), Ok((false, false)));
    assert_eq!(parsed(b"{}"), Ok((false, false)));
    assert_eq!(parsed(br#"{"flatten": true}"#), Ok((false, true)));
    assert_eq!(
        parsed(br#"{"cancel_all": true, "flatten": false}"#),
        Ok((true, false))
    );
    assert_eq!(parsed(b"null"), Err(400));
}

#[test]
fn a_full_command_ring_answers_busy_and_a_silent_order_thread_504() {
    let (mut state, mut endpoint) = state(Some("t"));
    let response = state.change(Change::Flatten, Some("Bearer t"), b"");
    assert_error(&response, 504, "order_thread_timeout");
    assert_eq!(
        endpoint.next_request().map(|r| r.command),
        Some(ControlCommand::Flatten),
        "the command was delivered; only its reply is missing"
    );
    while state.client.send(ControlCommand::CancelAll).is_some() {}
    let response = state.change(Change::Resume, Some("Bearer t"), b"");
    assert_error(&response, 503, "busy");
}

#[test]
fn strategies_missing_from_a_complete_snapshot_are_unknown() {
    let (mut state, mut endpoint) = state(Some("t"));
    assert!(endpoint.publish(|s| {
        s.strategy_count = 1;
        s.strategies[0].strategy = StrategyId(1);
    }));
    let response = state.change(
        Change::StrategyMode,
        Some("Bearer t"),
        br#"{"strategy": 2, "mode": "disabled"}"#,
    );
    assert_error(&response, 404, "unknown_strategy");
    assert!(endpoint.next_request().is_none());
    let response = state.change(
        Change::StrategyMode,
        Some("Bearer t"),
        br#"{"strategy": 1, "mode": "disabled"}"#,
    );
    assert_error(&response, 504, "order_thread_timeout");
    assert_eq!(
        endpoint.next_request().map(|r| r.command),
        Some(ControlCommand::SetStrategyMode {
            strategy: StrategyId(1),
            mode: StrategyMode::Disabled
        })
    );
}

#[test]
fn reloaded_limits_come_from_the_risk_table_only() {
    let defaults = risk_limits_from_toml("[metrics]\nlisten = \"127.0.0.1:1\"\n", "t")
        .expect("no [risk] table: defaults");
    assert_eq!(defaults, RiskLimits::default());
    let set = risk_limits_from_toml(
        "[engine]\nlayout = \"fused\"\n[risk]\nmax_order_notional = \"1000\"\nmax_drawdown_pct = 20\n",
        "t",
    )
    .expect("valid");
    assert_eq!(set.max_order_notional, Notional::from_int(1_000));
    assert_eq!(set.max_drawdown_pct, 20);
    for (text, names) in [
        ("[risk]\nmax_drawdown_pct = 120\n", "risk.max_drawdown_pct"),
        (
            "[risk]\nmax_drawdown_pct = \"x\"\n",
            "risk.max_drawdown_pct",
        ),
        ("[risk]\nmax_drawdwn_pct = 20\n", "max_drawdwn_pct"),
        ("[risk\n", "(syntax)"),
    ] {
        let err = risk_limits_from_toml(text, "kestrel.toml")
            .expect_err("refused")
            .to_string();
        assert!(err.contains(names), "{err}");
        assert!(err.contains("kestrel.toml"), "{err}");
    }
}

#[test]
fn reload_without_a_config_file_is_a_conflict() {
    let (mut state, mut endpoint) = state(Some("t"));
    let response = state.change(Change::Reload, Some("Bearer t"), b"");
    assert_error(&response, 409, "no_config_file");
    state.config_path = Some(PathBuf::from("/nonexistent/kestrel.toml"));
    let response = state.change(Change::Reload, Some("Bearer t"), b"");
    assert_error(&response, 500, "config_unreadable");
    assert!(endpoint.next_request().is_none());
}

#[test]
fn control_config_defaults_to_loopback_9465_and_rejects_unknown_keys() {
    let default: ControlConfig = toml::from_str("").expect("empty section uses defaults");
    assert_eq!(default, ControlConfig::default());
    assert_eq!(default.listen.to_string(), "127.0.0.1:9465");
    assert!(!default.allow_non_loopback);
    assert_eq!(default.token_env, "KESTREL_CONTROL_TOKEN");
    let set: ControlConfig = toml::from_str(
        "listen = \"0.0.0.0:9000\"\nallow_non_loopback = true\ntoken_env = \"OPS_TOKEN\"",
    )
    .expect("valid");
    assert_eq!(set.listen.port(), 9000);
    assert_eq!(set.token_env, "OPS_TOKEN");
    assert!(toml::from_str::<ControlConfig>("token = \"s3cret\"").is_err());
}

#[test]
fn the_token_is_read_from_the_named_variable() {
    // Reads only: changing the environment races with other test threads.
    let unset = ControlConfig {
        token_env: "KESTREL_CONTROL_TOKEN_SURELY_UNSET_4F1A".to_owned(),
        ..ControlConfig::default()
    };
    assert_eq!(unset.token_from_env(), None);
    let path = ControlConfig {
        token_env: "PATH".to_owned(),
        ..ControlConfig::default()
    };
    assert_eq!(
        path.token_from_env(),
        std::env::var("PATH").ok().filter(|p| !p.is_empty())
    );
}
