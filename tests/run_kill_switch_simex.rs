//! The kill switch end to end: `kestrel run` paper-trades the probe on the simulator's live
//! feed, the operator kills it through `kestrel ctl` (cancel all, flatten), the process is
//! then killed with SIGKILL, and the restarted engine — rebuilt from the journal — stays
//! halted (its probe's entries refused, nothing sent) until `kestrel ctl resume`.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

mod cli_support;
mod simex_support;

use cli_support::{
    get_metrics, metric_value, simex_run_config, start_with_env, stop_cleanly, KESTREL,
};
use kestrel::sim::Speed;

const TOKEN: &str = "test-operator-token";

/// Kills the engine if the test fails before it is stopped (a panicking test must not leave
/// a trading process behind).
struct Guard(Option<std::process::Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Guard {
    fn take(&mut self) -> std::process::Child {
        self.0.take().expect("the engine is still running")
    }
}

/// `kestrel ctl --addr <control> <args…>`; (exit success, stdout, stderr).
fn ctl(control: &str, args: &[&str], token: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(KESTREL);
    command.args(["ctl", "--addr", control]).args(args);
    command.env_remove("KESTREL_CONTROL_TOKEN");
    if let Some(token) = token {
        command.env("KESTREL_CONTROL_TOKEN", token);
    }
    let out = command.output().expect("run kestrel ctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn control_addr(preamble: &str) -> String {
    preamble
        .lines()
        .find_map(|l| l.strip_prefix("kestrel: control API on http://"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no control address announced: {preamble}"))
        .to_owned()
}

/// Polls `metric` until `done` holds (panics with the metrics after 60 s).
fn wait_for(addr: &str, metric: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = metric_value(&get_metrics(addr), metric).unwrap_or(0.0);
        if done(value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{metric} stuck at {value}:\n{}",
            get_metrics(addr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status(control: &str) -> serde_json::Value {
    let (ok, out, err) = ctl(control, &["status"], None);
    assert!(ok, "ctl status: {err}");
    serde_json::from_str(&out).expect("status is JSON")
}

#[test]
fn killed_engine_stays_halted_across_a_sigkill_restart_until_the_operator_resumes() {
    // ×5: the capture lasts minutes, so the restarted engine still has market data to trade on.
    let dir = tempfile::tempdir().expect("temp dir");
    let (handle, port, cert) = simex_support::start_spot_tls(Speed::Times(5.0), dir.path());
    let orders = "[orders]\nvenue = \"paper\"\npaper_balances = { USDT = \"10000\" }\n\
                  [orders.probe]\nqty = \"0.001\"\nbracket_bps = 10\ncooldown_events = 5\n";
    let config = simex_run_config(dir.path(), port, &cert, orders);
    let env = [("KESTREL_CONTROL_TOKEN", TOKEN)];
    let sent = "orders_submitted_total{venue=\"paper\"}";

    // First run: the probe trades; then the operator's kill, with cancel-all and flatten.
    let (first, metrics, _stderr, preamble) = start_with_env(&config, &env);
    let mut first = Guard(Some(first));
    let control = control_addr(&preamble);
    wait_for(&metrics, sent, |n| n >= 2.0);
    let (ok, _, err) = ctl(&control, &["kill", "--cancel-all", "--flatten"], None);
    assert!(!ok && err.contains("401"), "refused without a token: {err}");
    let (ok, out, err) = ctl(
        &control,
        &["kill", "--cancel-all", "--flatten"],
        Some(TOKEN),
    );
    assert!(ok, "kill: {out} {err}");
    wait_for(&metrics, "trading_mode", |m| m == 2.0);
    assert_eq!(status(&control)["mode"], "halted");
    assert_eq!(status(&control)["kill_switch"], true);
    // SIGKILL: no orderly shutdown; the journal is all that survives.
    let mut first = first.take();
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    // Second run on the same journal: halted from the start, the probe's entries refused.
    let (second, metrics, mut stderr, preamble) = start_with_env(&config, &env);
    let mut second = Guard(Some(second));
    let control = control_addr(&preamble);
    wait_for(&metrics, "risk_rejects_total{reason=\"halted\"}", |n| {
        n >= 2.0
    });
    assert_eq!(metric_value(&get_metrics(&metrics), sent), Some(0.0));
    let status_now = status(&control);
    assert_eq!(status_now["mode"], "halted", "{status_now}");
    assert_eq!(status_now["kill_switch"], true);
    assert_eq!(status_now["mode_cause"], "kill_switch");
    // The operator is told at start-up that the engine is halted.
    assert_eq!(
        metric_value(
            &get_metrics(&metrics),
            "alerts_total{kind=\"trading_state\"}"
        ),
        Some(1.0)
    );

    // Only the operator's resume lets orders out again.
    let (ok, out, err) = ctl(&control, &["resume"], Some(TOKEN));
    assert!(ok, "resume: {out} {err}");
    wait_for(&metrics, "trading_mode", |m| m == 0.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric_value(&get_metrics(&metrics), sent).unwrap_or(0.0) < 1.0 {
        if Instant::now() > deadline {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            panic!("no order after resume: {rest}\n{}", get_metrics(&metrics));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_cleanly(second.take(), stderr, dir.path());

    // The journal tells the story: the kill, the restored halt, the resume.
    let tail = Command::new(env!("CARGO_BIN_EXE_kestrel-tail"))
        .arg(dir.path().join("journal"))
        .args(["--type", "state"])
        .output()
        .expect("kestrel-tail");
    let text = String::from_utf8_lossy(&tail.stdout);
    let states: Vec<&str> = text.lines().collect();
    assert_eq!(states.len(), 3, "{text}");
    assert!(states[0].contains("active -> halted") && states[0].contains("kill_switch"));
    assert!(states[1].contains("active -> halted") && states[1].contains("kill_switch"));
    assert!(states[2].contains("halted -> active") && states[2].contains("operator_resume"));
    handle.stop().expect("simex stops cleanly");
}
