//! Owns: what the journal tools print: tail's type and symbol filters, JSON lines from dump, the
//! fill CSV export, and a quiet exit 0 when tail's reader goes away (SIGPIPE).
//! Never: depends on wall-clock values in the output.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use kestrel::core::{ClientOrderId, Fill, Notional, Price, Qty, Side, StrategyId};
use kestrel::persist::payload::{self, SessionStart};
use kestrel::persist::{JournalConfig, JournalWriter, RecordType};

const TAIL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-tail");
const JOURNAL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-journal");

fn fill(n: u64, side: Side) -> Fill {
    Fill {
        client_order_id: ClientOrderId((3 << 40) | n),
        strategy: StrategyId(2),
        side,
        price: Price::parse("2450.25").expect("literal"),
        qty: Qty::parse("0.5").expect("literal"),
        fee: Notional::parse("0.001").expect("literal"),
        venue_trade_id: 9000 + n,
        is_maker: n % 2 == 0,
        ..Fill::default()
    }
}

/// Session, then 6 fills alternating ETHUSDT/BTCUSDT, then `notes` notes.
fn build(dir: &Path, notes: u64) {
    let (mut w, _) = JournalWriter::open(&JournalConfig::new(dir)).expect("fresh journal");
    let mut buf = [0u8; payload::MAX_FIXED_PAYLOAD];
    let n = payload::encode_session(
        &SessionStart {
            session: 3,
            wall_ns: 1,
            pid: 1,
        },
        &mut buf,
    );
    w.append(RecordType::Session, 0, &buf[..n]).expect("append");
    for i in 1..=6u64 {
        let symbol = if i % 2 == 1 { "ETHUSDT" } else { "BTCUSDT" };
        let n = payload::encode_fill(&fill(i, Side::Sell), symbol, &mut buf);
        w.append(RecordType::Fill, 100 + i, &buf[..n])
            .expect("append");
    }
    let mut note = [0u8; 128];
    for i in 0..notes {
        let n = payload::encode_note(
            &format!("note number {i} with some padding text"),
            &mut note,
        )
        .expect("fits");
        w.append(RecordType::OperatorNote, 0, &note[..n])
            .expect("append");
    }
    w.close().expect("close");
}

#[test]
fn tail_filters_by_type_and_symbol_and_rejects_unknown_types() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build(tmp.path(), 5);
    let out = Command::new(TAIL_BIN)
        .arg(tmp.path())
        .args(["--type", "fill,session", "--symbol", "ETHUSDT", "--json"])
        .output()
        .expect("tail runs");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let seqs: Vec<u64> = lines
        .iter()
        .map(|v| v["seq"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, vec![2, 4, 6]);
    assert!(lines
        .iter()
        .all(|v| v["symbol"] == "ETHUSDT" && v["type"] == "fill"));
    assert_eq!(lines[0]["client_order_id"], "ks3-1");

    let text = Command::new(TAIL_BIN)
        .arg(tmp.path())
        .args(["--type", "note"])
        .output()
        .expect("tail runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.lines().count(), 5);
    assert!(text.lines().all(|l| l.contains(" note ")), "{text}");

    let bad = Command::new(TAIL_BIN)
        .arg(tmp.path())
        .args(["--type", "fills"])
        .output()
        .expect("tail runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("intent, order, fill"));
}

#[test]
fn export_writes_fill_csv_with_the_documented_header_and_dump_prints_json_lines() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("j");
    build(&dir, 2);
    let csv = tmp.path().join("fills.csv");
    let out = Command::new(JOURNAL_BIN)
        .arg("export")
        .arg(&dir)
        .arg("--csv")
        .arg(&csv)
        .args(["--type", "fill"])
        .output()
        .expect("export runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("csv written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("seq,write_ns,event_ns,symbol,side,price,qty,fee,client_order_id,venue_trade_id,is_maker,strategy")
    );
    let first: Vec<&str> = lines.next().expect("a fill row").split(',').collect();
    assert_eq!(first[0], "2");
    assert_eq!(first[2], "101");
    assert_eq!(
        &first[3..],
        ["ETHUSDT", "SELL", "2450.25", "0.5", "0.001", "ks3-1", "9001", "false", "2"]
    );
    assert_eq!(lines.count(), 5);

    let dump = Command::new(JOURNAL_BIN)
        .arg("dump")
        .arg(&dir)
        .output()
        .expect("dump runs");
    assert!(dump.status.success());
    let dumped = String::from_utf8_lossy(&dump.stdout);
    assert_eq!(dumped.lines().count(), 9);
    for line in dumped.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert!(v["seq"].is_u64() && v["write_ns"].is_u64() && v["type"].is_string());
    }
}

#[test]
fn tail_exits_zero_quietly_when_its_reader_closes_the_pipe() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build(tmp.path(), 40_000);
    let mut child = Command::new(TAIL_BIN)
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tail runs");
    let mut stdout = child.stdout.take().expect("stdout was piped");
    let mut first = [0u8; 64];
    stdout
        .read_exact(&mut first)
        .expect("tail printed something");
    drop(stdout); // like `| head -1`
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr was piped")
        .read_to_string(&mut stderr)
        .expect("stderr readable");
    let status = child.wait().expect("tail exits");
    assert!(status.success(), "exit {status}, stderr: {stderr}");
    assert!(stderr.is_empty(), "quiet on a closed pipe: {stderr}");
}
