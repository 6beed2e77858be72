//! Owns: follow-mode tests: `kestrel-tail -f --json` in its own process follows a journal
//! while this test (or a writer process) appends to it across several segment rollovers,
//! printing every record exactly once and in order.
//! Never: shares a journal between tests (each uses its own temp dir).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kestrel::persist::payload;
use kestrel::persist::{FlushPolicy, JournalConfig, JournalWriter, RecordType};

const TAIL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-tail");
const RECORDS: u64 = 900;

/// `kestrel-tail DIR -f --json` in its own process, its stdout lines pumped into a channel.
struct FollowingTail {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    pump: std::thread::JoinHandle<()>,
}

impl FollowingTail {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new(TAIL_BIN)
            .arg(dir)
            .args(["-f", "--json", "--poll-ms", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kestrel-tail runs");
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, lines) = mpsc::channel::<String>();
        let pump = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, pump }
    }

    /// Stops the tail and its pump.
    fn stop(mut self) {
        self.child.kill().expect("stop tail");
        let _ = self.child.wait();
        let _ = self.pump.join();
    }
}

fn seq_of(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
    v["seq"].as_u64().expect("seq field")
}

#[test]
fn tail_follow_prints_each_record_exactly_once_in_order_across_rollover() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("journal");
    // Started before the journal exists: tail waits for the first segment.
    let tail = FollowingTail::start(&dir);
    let rx = &tail.lines;
    std::thread::sleep(Duration::from_millis(50));
    let cfg = JournalConfig {
        dir: dir.clone(),
        segment_bytes: 8192,
        prefault_ahead_bytes: 4096,
        flush: FlushPolicy {
            every_records: 0,
            every_ms: 0,
        },
    };
    let (mut writer, _) = JournalWriter::open(&cfg).expect("fresh journal");
    let mut buf = [0u8; 128];
    let mut lines = Vec::new();
    for i in 0..RECORDS {
        let text = format!("live {}", i + 1);
        let n = payload::encode_note(&text, &mut buf).expect("note fits");
        writer
            .append(RecordType::OperatorNote, i, &buf[..n])
            .expect("append");
        if i % 25 == 0 {
            writer.maintain(i).expect("maintain");
            // Let the tail catch up now and then, so it reads both live and in bursts.
            std::thread::sleep(Duration::from_millis(3));
            lines.extend(rx.try_iter());
        }
    }
    writer.close().expect("close");
    let deadline = Instant::now() + Duration::from_secs(30);
    while (lines.len() as u64) < RECORDS && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    // Anything printed twice would show up within a few more polls.
    std::thread::sleep(Duration::from_millis(200));
    lines.extend(rx.try_iter());
    tail.stop();

    let segments = std::fs::read_dir(&dir)
        .expect("journal dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert!(
        segments >= 5,
        "the run must cross several rollovers ({segments})"
    );
    assert_eq!(
        lines.len() as u64,
        RECORDS,
        "each record printed exactly once"
    );
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        let seq = i as u64 + 1;
        assert_eq!(v["seq"], seq, "in order: {line}");
        assert_eq!(v["type"], "note");
        assert_eq!(v["text"], format!("live {seq}"));
        assert_eq!(v["event_ns"], seq - 1);
    }
}

const JOURNAL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-journal");

/// Runs the journal's `selftest-write` test aid; returns its stdout once it exits.
fn selftest_write(dir: &std::path::Path, count: &str, kill_after: Option<Duration>) -> String {
    let mut child = Command::new(JOURNAL_BIN)
        .arg("selftest-write")
        .arg(dir)
        .args(["--count", count, "--segment-bytes", "65536"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kestrel-journal runs");
    if let Some(delay) = kill_after {
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the writer");
    }
    let out = child.wait_with_output().expect("writer reaped");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tail_follow_continues_across_a_killed_and_restarted_writer_process() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("journal");
    let tail = FollowingTail::start(&dir);
    let rx = &tail.lines;

    selftest_write(&dir, "50000000", Some(Duration::from_millis(150)));
    let finished = selftest_write(&dir, "300", None);
    let last: u64 = finished
        .lines()
        .filter_map(|l| l.rsplit_once("appended ").and_then(|(_, s)| s.parse().ok()))
        .next_back()
        .expect("the restarted writer appended");
    assert!(
        last > 301,
        "the killed run appended records before the kill too"
    );

    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seqs.last() != Some(&last) && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seqs.push(seq_of(&line));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    seqs.extend(rx.try_iter().map(|line| seq_of(&line)));
    tail.stop();
    let expected: Vec<u64> = (1..=last).collect();
    assert!(
        seqs == expected,
        "tail printed {} records, expected 1..={last}",
        seqs.len()
    );
}
