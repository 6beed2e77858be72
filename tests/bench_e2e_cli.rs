//! `kestrel bench e2e --json` end to end: the engine trades the probe strategy through the
//! Binance gateway against the in-process simulator, and the JSON report has the documented
//! shape, every order reached the wire (none refused by the local rate budget, whose 50
//! orders / 10 s would otherwise turn most of the run into timed refusals), and each order
//! left a tick-to-order, send and wire-to-wire sample. No timing is asserted.

use std::process::Command;

mod cli_support;
use cli_support::KESTREL;

const KEYS: [&str; 5] = ["p50", "p90", "p99", "p999", "max"];

fn quantiles_are_ordered(report: &serde_json::Value, what: &str) {
    let q = &report[what];
    let values: Vec<u64> = KEYS
        .iter()
        .map(|k| {
            q[k].as_u64()
                .unwrap_or_else(|| panic!("{what}.{k} missing: {report}"))
        })
        .collect();
    assert!(values[0] > 0, "{what} recorded something: {report}");
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "{what} quantiles ascend: {values:?}"
    );
}

#[test]
fn bench_e2e_json_reports_orders_that_reached_the_wire() {
    let out = Command::new(KESTREL)
        .args([
            "bench", "e2e", "--json", "--orders", "120", "--speed", "20", "--every", "1",
        ])
        .output()
        .expect("run kestrel bench e2e");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench e2e failed: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("one JSON object on stdout ({e}): {text}"));

    let mode = report["mode"].as_str().expect("mode is a string");
    assert!(mode.contains("layout ") && mode.contains("wait "), "{mode}");
    let orders = report["orders"].as_u64().expect("orders");
    assert!(orders >= 120, "ran to the requested orders: {report}");
    assert_eq!(report["refused"].as_u64(), Some(0), "{report}");
    let samples = report["samples"].as_u64().expect("samples");
    assert!(
        samples * 10 >= orders * 9,
        "nearly every order has a tick-to-order sample: {report}"
    );
    for what in ["tick_to_order_ns", "send_ns", "wire_to_wire_ns"] {
        quantiles_are_ordered(&report, what);
    }
    for stage in ["feed", "strategy", "order", "encode_sign"] {
        let q = &report["stages"][stage];
        assert!(
            KEYS.iter().all(|k| q[k].is_u64()),
            "stage {stage} has every quantile: {report}"
        );
    }
}
