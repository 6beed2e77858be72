//! The `/metrics` exposition, fetched over TCP from a live `OpsServer`, passes the real
//! `promtool check metrics` with no lint problems, and its histograms are consistent.
//!
//! promtool comes from the Debian package `prometheus`. Without it the promtool step is
//! skipped with a message, unless `KESTREL_REQUIRE_PROMTOOL=1` (set in CI) makes it a failure.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use kestrel::engine::metrics::LATENCY_BUCKETS_US;
use kestrel::ops::{OpsServer, Registry};

const HISTOGRAM: &str = "test_stage_latency_seconds";

/// A registry with every kind of series, awkward label values and recorded latencies;
/// returns it with the number of values recorded per histogram series.
fn populated_registry() -> (Registry, Vec<(&'static str, u64)>) {
    let mut registry = Registry::new();
    let (engine, _latency) =
        kestrel::engine::metrics::register(&mut registry).expect("engine metrics register");
    engine.intents.add(12);
    engine.market_events.add(1_000);
    engine.market_ring.depth.set(17);
    // The live feed's series, for two markets (same names, other labels).
    for source in ["binance-spot", "binance-usdm"] {
        kestrel::feed::binance::feed_metrics::FeedMetrics::register(
            &mut registry,
            source,
            &["BTCUSDT".to_owned(), "ETHUSDT".to_owned()],
        )
        .expect("feed metrics register");
    }
    let awkward = registry
        .counter(
            "test_escaped_total",
            "Help with a backslash \\ and a\nnewline",
            &[
                ("path", "C:\\dir \"quoted\"\nnext line"),
                ("venue", "binance"),
            ],
        )
        .expect("escaping is the renderer's job, any value registers");
    awkward.add(3);
    let temperature = registry
        .gauge(
            "test_temperature_celsius",
            "A float gauge",
            &[("site", "a")],
        )
        .expect("valid gauge");
    temperature.set_f64(-12.75);
    let mut counts = Vec::new();
    for (stage, n) in [("decode", 5_000u64), ("risk", 333)] {
        let mut recorder = registry
            .latency_histogram(
                HISTOGRAM,
                "Stage latency",
                &[("stage", stage)],
                &LATENCY_BUCKETS_US,
            )
            .expect("valid histogram");
        for i in 0..n {
            // 100 ns .. ~200 ms, spread over every bucket and past the last bound.
            recorder.record_ns(100 + (i * i * 7_919) % 200_000_000);
            if i % 100 == 0 {
                recorder.publish();
                // What the ops loop does on every `OpsServer::poll`.
                registry.collect();
            }
        }
        recorder.publish();
        counts.push((stage, n));
    }
    (registry, counts)
}

/// GET `path` from the server while this thread drives its poll loop; returns (head, body).
fn fetch(server: &mut OpsServer, registry: &Registry, path: &str) -> (String, String) {
    let addr = server.local_addr().expect("bound listener has an address");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect to ops server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set read timeout");
        stream.write_all(request.as_bytes()).expect("send request");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read reply");
        reply
    });
    while !client.is_finished() {
        server.poll(registry, Duration::from_millis(5));
        thread::sleep(Duration::from_millis(1));
    }
    let reply = client.join().expect("client thread finished");
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .expect("reply has a head and a body");
    (head.to_owned(), body.to_owned())
}

/// Bucket counts of one histogram series in exposition order, with its `_count`.
fn series_buckets(body: &str, stage: &str) -> (Vec<(String, u64)>, u64) {
    let bucket_prefix = format!("{HISTOGRAM}_bucket{{stage=\"{stage}\",le=\"");
    let mut buckets = Vec::new();
    let mut count = None;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix(&bucket_prefix) {
            let (le, value) = rest.split_once("\"} ").expect("bucket line shape");
            buckets.push((le.to_owned(), value.parse().expect("integer bucket count")));
        } else if let Some(value) =
            line.strip_prefix(&format!("{HISTOGRAM}_count{{stage=\"{stage}\"}} "))
        {
            count = Some(value.parse().expect("integer count"));
        }
    }
    (buckets, count.expect("series has a _count line"))
}

#[test]
fn metrics_endpoint_passes_promtool_and_histograms_are_cumulative() {
    let (registry, counts) = populated_registry();
    let mut server = OpsServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind an ephemeral loopback port");
    let (head, body) = fetch(&mut server, &registry, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(
        body.contains(
            "test_escaped_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext line\",venue=\"binance\"} 3\n"
        ),
        "{body}"
    );
    assert!(body.contains("# HELP test_escaped_total Help with a backslash \\\\ and a\\nnewline\n"));
    assert_eq!(body.matches("# TYPE kestrel_ring_depth gauge").count(), 1);

    for (stage, recorded) in counts {
        let (buckets, count) = series_buckets(&body, stage);
        assert_eq!(
            buckets.len(),
            LATENCY_BUCKETS_US.len() + 1,
            "bounds plus +Inf"
        );
        assert_eq!(buckets.last().map(|(le, _)| le.as_str()), Some("+Inf"));
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "buckets must be cumulative: {buckets:?}"
        );
        assert_eq!(buckets.last().map(|b| b.1), Some(recorded), "+Inf bucket");
        assert_eq!(count, recorded, "_count equals values recorded");
        assert!(
            buckets[0].1 > 0 && buckets[buckets.len() - 2].1 < recorded,
            "{buckets:?}"
        );
    }

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match promtool {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if std::env::var("KESTREL_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
                panic!(
                    "promtool not found but KESTREL_REQUIRE_PROMTOOL=1: apt-get install prometheus"
                );
            }
            eprintln!(
                "SKIP promtool check: promtool not on PATH (apt-get install prometheus); \
                 set KESTREL_REQUIRE_PROMTOOL=1 to make this a failure"
            );
            return;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(body.as_bytes())
        .expect("feed exposition to promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool check metrics failed ({}):\n{report}\n--- exposition ---\n{body}",
        output.status
    );
}
