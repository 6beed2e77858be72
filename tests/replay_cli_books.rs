//! `kestrel replay` rebuilds the final book of the bundled real captures (spot and
//! USDⓈ-M) through the live decoders and book sync; its top 20 levels equal an independent
//! reference rebuild written here (serde_json + BTreeMap, no kestrel code), and replaying
//! the engine's own journal capture of a run gives the same book as the file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Price text → (price text, qty text); keys are the price digits without the dot (every
/// price in one capture has the same number of decimals).
type Side = BTreeMap<u128, (String, String)>;

fn key(price: &str) -> u128 {
    price
        .replace('.', "")
        .parse()
        .expect("capture prices are plain decimals")
}

fn apply(side: &mut Side, levels: &Value) {
    for level in levels.as_array().expect("levels array") {
        let price = level[0].as_str().expect("price text").to_owned();
        let qty = level[1].as_str().expect("qty text").to_owned();
        let is_zero = qty.chars().all(|c| c == '0' || c == '.');
        if is_zero {
            side.remove(&key(&price));
        } else {
            side.insert(key(&price), (price, qty));
        }
    }
}

/// The reference: diffs recorded before the snapshot are buffered, then the snapshot is
/// loaded and every diff (buffered or later) not already covered by it is applied in order
/// (the captures are gap-free).
fn reference(
    path: &Path,
    futures: bool,
    depth: usize,
) -> (u64, Vec<[String; 2]>, Vec<[String; 2]>) {
    let file = std::fs::File::open(path).expect("open capture");
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let (mut bids, mut asks) = (Side::new(), Side::new());
    let mut last: Option<u64> = None;
    let mut buffered: Vec<Value> = Vec::new();
    let covered = |diff_last: u64, book_last: u64| {
        if futures {
            diff_last < book_last
        } else {
            diff_last <= book_last
        }
    };
    for line in reader.lines() {
        let line = line.expect("read capture line");
        let (_, frame) = line.split_once(' ').expect("<recv_ns> <frame>");
        let value: Value = serde_json::from_str(frame).expect("capture frames are JSON");
        if let Some(id) = value.get("lastUpdateId").and_then(Value::as_u64) {
            apply(&mut bids, &value["bids"]);
            apply(&mut asks, &value["asks"]);
            last = Some(id);
            for diff in buffered.drain(..) {
                let diff_last = diff["u"].as_u64().expect("u");
                if !covered(diff_last, id) {
                    apply(&mut bids, &diff["b"]);
                    apply(&mut asks, &diff["a"]);
                    last = Some(diff_last);
                }
            }
            continue;
        }
        let data = &value["data"];
        if data["e"] != "depthUpdate" {
            continue;
        }
        let diff_last = data["u"].as_u64().expect("u");
        match last {
            None => buffered.push(data.clone()),
            Some(prev) if covered(diff_last, prev) => {}
            Some(_) => {
                apply(&mut bids, &data["b"]);
                apply(&mut asks, &data["a"]);
                last = Some(diff_last);
            }
        }
    }
    let top = |side: &Side, best_first_rev: bool| -> Vec<[String; 2]> {
        let iter: Box<dyn Iterator<Item = &(String, String)>> = if best_first_rev {
            Box::new(side.values().rev())
        } else {
            Box::new(side.values())
        };
        iter.take(depth)
            .map(|(p, q)| [p.clone(), q.clone()])
            .collect()
    };
    (
        last.expect("capture has a snapshot"),
        top(&bids, true),
        top(&asks, false),
    )
}

fn replay(captures: &[PathBuf], market: &str) -> Value {
    let mut cmd = Command::new(KESTREL);
    cmd.arg("replay");
    for c in captures {
        cmd.arg("--capture").arg(c);
    }
    let out = cmd
        .args(["--symbol", "BTCUSDT", "--market", market, "--depth", "20"])
        .output()
        .expect("run kestrel replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn levels(v: &Value) -> Vec<[String; 2]> {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            [
                l[0].as_str().expect("price").to_owned(),
                l[1].as_str().expect("qty").to_owned(),
            ]
        })
        .collect()
}

fn check(file: &str, market: &str, futures: bool, counts: &[(&str, u64)]) {
    let path = data(file);
    let report = replay(std::slice::from_ref(&path), market);
    let (last_id, bids, asks) = reference(&path, futures, 20);
    assert_eq!(report["last_update_id"].as_u64(), Some(last_id));
    assert_eq!(levels(&report["bids"]), bids, "top 20 bids");
    assert_eq!(levels(&report["asks"]), asks, "top 20 asks");
    assert_eq!(report["gaps"], 0);
    assert_eq!(report["resyncs"], 0);
    for (kind, n) in counts {
        assert_eq!(report["messages"][kind].as_u64(), Some(*n), "{kind} count");
    }
}

#[test]
fn spot_capture_replays_to_the_reference_book() {
    check(
        "binance_spot_btcusdt_20240808.gz",
        "spot",
        false,
        &[
            ("depthUpdate", 3_451),
            ("bookTicker", 28_040),
            ("trade", 9_757),
            ("snapshot", 1),
        ],
    );
}

#[test]
fn usdm_capture_replays_to_the_reference_book() {
    check(
        "binance_usdm_btcusdt_20240808.gz",
        "usdm",
        true,
        &[
            ("depthUpdate", 6_551),
            ("bookTicker", 66_089),
            ("trade", 21_313),
            ("snapshot", 1),
        ],
    );
}

#[test]
fn journal_capture_of_a_run_replays_to_the_same_book_as_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("journal");
    let config = kestrel::config::EXAMPLE
        .replace("dir = \"out/journal\"", &format!("dir = {journal:?}"))
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "path = \"data/binance_spot_btcusdt_20240808.gz\"",
            &format!("path = {:?}", data("binance_spot_btcusdt_20240808.gz")),
        );
    let config_path = dir.path().join("kestrel.toml");
    std::fs::write(&config_path, config).expect("write config");
    let run = Command::new(KESTREL)
        .args(["run", "--config"])
        .arg(&config_path)
        .output()
        .expect("run kestrel");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let from_file = replay(&[data("binance_spot_btcusdt_20240808.gz")], "spot");
    let from_journal = replay(&[journal], "spot");
    assert_eq!(from_journal, from_file);
}

#[test]
fn two_captures_read_in_order_form_one_stream() {
    // The same file twice: the second copy's snapshot resets the book and its diffs are
    // re-applied, so the final book is the single-file book; every message counts twice.
    let path = data("binance_spot_btcusdt_20240808.gz");
    let once = replay(std::slice::from_ref(&path), "spot");
    let twice = replay(&[path.clone(), path], "spot");
    assert_eq!(twice["bids"], once["bids"]);
    assert_eq!(twice["asks"], once["asks"]);
    assert_eq!(twice["messages"]["depthUpdate"].as_u64(), Some(2 * 3_451));
}
