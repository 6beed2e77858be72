//! `kestrel run` trading cross margin (`[orders] account = "margin"`) against the simulator
//! over TLS: the probe's market orders go to `/sapi/v1/margin/order`, fill from the margin
//! listenToken stream, and land in the simulator's margin account, not the spot one.

use std::io::Read;
use std::time::{Duration, Instant};

mod cli_support;
mod simex_support;

use cli_support::{get_metrics, metric_value, simex_run_config, start, stop_cleanly};
use kestrel::sim::{Market, Speed};
use simex_support::orders::{params, Rest};

#[test]
fn run_with_a_margin_account_trades_on_the_simulators_margin_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (handle, port, cert) = simex_support::start_spot_tls(Speed::Times(20.0), dir.path());

    let orders = format!(
        "[orders]\nvenue = \"binance\"\naccount = \"margin\"\n\
         rest_base_url = \"https://localhost:{port}\"\n\
         ws_api_url = \"wss://localhost:{port}/ws-api/v3\"\n\
         trusted_cert = {cert:?}\nsimex_test_keys = true\n\
         [orders.probe]\nqty = \"0.001\"\nbracket_bps = 0\nevery_tick = 6\n"
    );
    let config = simex_run_config(dir.path(), port, &cert, &orders);

    let (mut child, addr, mut stderr, _) = start(&config);
    let filled = "orders_filled_total{venue=\"binance-margin\"}";
    // Generous: only there so a broken order path fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            panic!("no margin fills: {rest}\n{}", get_metrics(&addr));
        }
        std::thread::sleep(Duration::from_millis(200));
        if metric_value(&get_metrics(&addr), filled).unwrap_or(0.0) >= 4.0 {
            break;
        }
    }
    stop_cleanly(child, stderr, dir.path());

    let venue = Rest::new(&handle, Market::Spot);
    let symbol = params(&[("symbol", "BTCUSDT")]);
    let margin = venue.signed(&handle, "GET", "/sapi/v1/margin/myTrades", &symbol);
    let spot = venue.signed(&handle, "GET", "/api/v3/myTrades", &symbol);
    let count =
        |reply: &simex_support::orders::RestReply| reply.body.as_array().map_or(0, Vec::len);
    assert!(count(&margin) >= 4, "margin trades: {}", margin.body);
    assert_eq!(count(&spot), 0, "nothing traded on spot: {}", spot.body);
    handle.stop().expect("simex stops cleanly");
}
