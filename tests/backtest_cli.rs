//! `kestrel backtest` end to end on the bundled capture: two runs with the same inputs and
//! settings write byte-identical files (also with latency and queue models on, and a sweep
//! run on another thread gives the files of the same settings run alone); the time window
//! cuts the run; bad data fails with the file and line; candle data runs through the same
//! loop; two symbols from two captures merge in time order and trade side by side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod cli_support;
use cli_support::KESTREL;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/binance_spot_btcusdt_20240808.gz"
);

const MODELS: &str = r#"
[backtest]
strategy = "probe"
feed_latency_us = 50
order_entry_latency_us = 800
order_report_latency_us = 300
queue_model = "probabilistic"
queue_power = 3
"#;

fn backtest(args: &[&str]) -> Output {
    Command::new(KESTREL)
        .arg("backtest")
        .args(args)
        .output()
        .expect("run kestrel backtest")
}

fn ok(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "kestrel backtest failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    format!("{}{stderr}", String::from_utf8_lossy(&out.stdout))
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json"))
        .expect("summary parses")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn two_runs_write_identical_files_with_and_without_models() {
    let dir = tempfile::tempdir().expect("temp dir");
    let models = write(dir.path(), "models.toml", MODELS);
    for (name, config) in [("plain", None), ("models", Some(&models))] {
        let mut outputs = Vec::new();
        for run in 0..2 {
            let out = dir.path().join(format!("{name}-{run}"));
            let mut args = vec!["--quiet", "--data", CAPTURE, "--out"];
            let out_text = out.to_string_lossy().into_owned();
            args.push(&out_text);
            let config_text;
            if let Some(config) = config {
                config_text = config.to_string_lossy().into_owned();
                args.extend(["--config", &config_text]);
            }
            ok(backtest(&args));
            outputs.push(files(&out));
        }
        let names: Vec<_> = outputs[0].keys().cloned().collect();
        for expected in kestrel::backtest::report::REPORT_FILES {
            assert!(
                names.iter().any(|n| n == expected),
                "{name}: {expected} written: {names:?}"
            );
        }
        for file in &names {
            assert!(
                outputs[0][file] == outputs[1][file],
                "{name}: {file} differs between two identical runs"
            );
        }
        let s = summary(&dir.path().join(format!("{name}-0")));
        assert!(
            s["total"]["fills"].as_u64().expect("fills") >= 4,
            "{name}: the probe traded: {}",
            s["total"]
        );
    }
    // The models change the result (a latency moves fills), so the comparison above is not
    // between two empty runs.
    assert_ne!(
        files(&dir.path().join("plain-0"))["fills.csv"],
        files(&dir.path().join("models-0"))["fills.csv"]
    );
    let settings = summary(&dir.path().join("models-0"))["settings"].to_string();
    assert!(settings.contains("probabilistic (power 3)"), "{settings}");
}

#[test]
fn a_sweep_runs_the_grid_and_each_run_equals_the_same_settings_run_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grid = format!(
        "{MODELS}\n[sweep]\n\"backtest.order_entry_latency_us\" = [0, 2000]\n\"probe.bracket_bps\" = [10, 20]\n"
    );
    let config = write(dir.path(), "sweep.toml", &grid);
    let out = dir.path().join("sweep");
    let text = ok(backtest(&[
        "--sweep",
        "--threads",
        "2",
        "--config",
        &config.to_string_lossy(),
        "--data",
        CAPTURE,
        "--out",
        &out.to_string_lossy(),
    ]));
    assert!(text.contains("4 runs"), "{text}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "header and 4 runs: {csv}");
    assert!(
        lines[0].starts_with("run,backtest.order_entry_latency_us,probe.bracket_bps,total_return"),
        "{csv}"
    );
    // Run 4 is latency 2000 µs, bracket 20 bps (the last key varies fastest).
    assert!(lines[4].starts_with("4,2000,20,"), "{csv}");
    // The same settings alone, on this thread.
    let alone = MODELS.replace(
        "order_entry_latency_us = 800",
        "order_entry_latency_us = 2000",
    ) + "\n[probe]\nqty = \"0.01\"\nbracket_bps = 20\n";
    let alone_config = write(dir.path(), "alone.toml", &alone);
    let alone_out = dir.path().join("alone");
    ok(backtest(&[
        "--quiet",
        "--config",
        &alone_config.to_string_lossy(),
        "--data",
        CAPTURE,
        "--out",
        &alone_out.to_string_lossy(),
    ]));
    let swept = files(&out.join("run-0004"));
    let single = files(&alone_out);
    assert_eq!(
        swept.keys().collect::<Vec<_>>(),
        single.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &single {
        assert!(
            swept[name] == *bytes,
            "{name} differs between the sweep and the run alone"
        );
    }
}

#[test]
fn the_time_window_cuts_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("window");
    ok(backtest(&[
        "--quiet",
        "--data",
        CAPTURE,
        "--from",
        "2024-08-08T23:56:00Z",
        "--to",
        "2024-08-08T23:58:00Z",
        "--out",
        &out.to_string_lossy(),
    ]));
    let meta = &summary(&out)["meta"];
    let start = meta["span_start_ns"].as_u64().expect("start");
    let end = meta["span_end_ns"].as_u64().expect("end");
    // 23:56:00 and 23:58:00 UTC on 2024-08-08.
    assert!(start >= 1_723_161_360_000_000_000, "{meta}");
    assert!(end < 1_723_161_480_000_000_000, "{meta}");
    assert!(meta["events"].as_u64().expect("events") > 10_000, "{meta}");
}

#[test]
fn bad_data_fails_with_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A gzip capture cut in the middle.
    let whole = std::fs::read(CAPTURE).expect("capture");
    let cut = dir.path().join("cut.gz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write");
    let out = backtest(&[
        "--quiet",
        "--data",
        &cut.to_string_lossy(),
        "--out",
        &dir.path().join("o").to_string_lossy(),
    ]);
    assert!(!out.status.success(), "a truncated file must fail the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.gz:"),
        "names the file and line: {stderr}"
    );
    // Rows going back in time.
    let back = write(
        dir.path(),
        "BTCUSDT-aggTrades-2023-11-17.csv",
        "1,36500.01,0.5,1,1,1700179200000,True,True\n2,36500.02,0.5,2,2,1700179100000,False,True\n",
    );
    let out = backtest(&[
        "--quiet",
        "--data",
        &back.to_string_lossy(),
        "--out",
        &dir.path().join("o2").to_string_lossy(),
    ]);
    assert!(!out.status.success(), "unsorted rows must fail the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BTCUSDT-aggTrades-2023-11-17.csv:2"),
        "names the file and line 2: {stderr}"
    );
}

#[test]
fn candle_data_runs_through_the_same_loop() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Binance REST klines, one minute each, the third one missing (a gap).
    let mut rows = Vec::new();
    let t0: u64 = 1_723_075_200_000;
    for (i, (o, h, l, c)) in [
        ("60000", "60100", "59900", "60050"),
        ("60050", "60200", "60000", "60150"),
        ("60150", "60160", "59800", "59850"),
        ("59850", "59900", "59700", "59880"),
    ]
    .iter()
    .enumerate()
    {
        let minute = if i >= 2 { i as u64 + 1 } else { i as u64 };
        let open = t0 + minute * 60_000;
        rows.push(format!(
            "[{open},\"{o}\",\"{h}\",\"{l}\",\"{c}\",\"12.5\",{},\"750000\",100,\"6\",\"360000\",\"0\"]",
            open + 59_999
        ));
    }
    let klines = write(
        dir.path(),
        "BTCUSDT-1m-2024-08-08.json",
        &format!("[{}]", rows.join(",")),
    );
    let out = dir.path().join("candles");
    ok(backtest(&[
        "--quiet",
        "--data",
        &klines.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]));
    let meta = &summary(&out)["meta"];
    // Four prints and one bar per candle.
    assert_eq!(meta["events"].as_u64(), Some(20), "{meta}");
    assert_eq!(
        meta["data_repairs"]["kline_gaps"].as_u64(),
        Some(1),
        "{meta}"
    );
}

#[test]
fn two_symbols_from_two_captures_merge_and_trade_side_by_side() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A second market: the bundled capture with its symbol renamed (ETHUSDT, same prices and
    // filters) and every stamp 1 µs later, so the merge interleaves the two.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(CAPTURE).expect("capture")),
        &mut text,
    )
    .expect("gunzip");
    let mut renamed = String::with_capacity(text.len());
    for line in text.lines() {
        let (stamp, frame) = line.split_once(' ').expect("stamped line");
        let stamp: u64 = stamp.parse().expect("stamp");
        renamed.push_str(&format!(
            "{} {}\n",
            stamp + 1_000,
            frame
                .replace("BTCUSDT", "ETHUSDT")
                .replace("btcusdt", "ethusdt")
        ));
    }
    let eth = write(dir.path(), "ethusdt.txt", &renamed);
    let mut info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/binance_spot_exchange_info_btcusdt.json"
        ))
        .expect("exchangeInfo"),
    )
    .expect("json");
    let mut eth_entry = info["symbols"][0].clone();
    eth_entry["symbol"] = "ETHUSDT".into();
    eth_entry["baseAsset"] = "ETH".into();
    info["symbols"]
        .as_array_mut()
        .expect("symbols")
        .push(eth_entry);
    let info_path = write(dir.path(), "info.json", &info.to_string());
    let config = write(
        dir.path(),
        "two.toml",
        &format!(
            "[backtest]\nstrategy = \"probe\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nstarting_cash = \"20000\"\nexchange_info = {:?}\n",
            info_path.to_string_lossy()
        ),
    );
    let eth_spec = format!("ETHUSDT:capture@spot:{}", eth.to_string_lossy());
    let btc_spec = format!("BTCUSDT:capture@spot:{CAPTURE}");
    let mut outputs = Vec::new();
    for run in 0..2 {
        let out = dir.path().join(format!("two-{run}"));
        ok(backtest(&[
            "--quiet",
            "--config",
            &config.to_string_lossy(),
            "--data",
            &btc_spec,
            &eth_spec,
            "--out",
            &out.to_string_lossy(),
        ]));
        outputs.push(files(&out));
    }
    assert!(
        outputs[0] == outputs[1],
        "two runs of the merged inputs agree"
    );
    let s = summary(&dir.path().join("two-0"));
    let strategies = s["strategies"].as_array().expect("per strategy");
    assert_eq!(strategies.len(), 2, "{s}");
    // The same market under two names, the ETH items 1 µs later: each probe trades its own
    // symbol, the same round trips.
    let fills: Vec<u64> = strategies
        .iter()
        .map(|st| st["fills"].as_u64().expect("fills"))
        .collect();
    assert!(fills[0] >= 4 && fills[0] == fills[1], "{fills:?}");
    assert_eq!(
        s["total"]["fills"].as_u64(),
        Some(fills[0] + fills[1]),
        "{s}"
    );
    assert_eq!(
        s["meta"]["events"].as_u64(),
        Some(2 * 41_246),
        "{}",
        s["meta"]
    );
    let fills_csv = String::from_utf8(outputs[0]["fills.csv"].clone()).expect("utf8");
    assert!(fills_csv.contains(",ETHUSDT,") && fills_csv.contains(",BTCUSDT,"));
}
