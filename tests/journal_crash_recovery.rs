//! Owns: the kill -9 test: a writer process is SIGKILLed at random points again and again on
//! the same journal; the journal must stay contiguous, lose no acknowledged record, and each
//! restart must continue the sequence (and the session number) where the previous run stopped.
//! Never: fsyncs (the promise tested is the process-crash one).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kestrel::persist::payload::JournalEntry;
use kestrel::persist::JournalReader;

const JOURNAL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-journal");
const KILLS: usize = 24;

/// xorshift64*: enough randomness for kill timing without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// What one writer run printed before it died.
struct Run {
    opened_at: Option<u64>,
    /// The writer found (and zeroed) a torn tail left by the previous kill.
    repaired_torn_tail: bool,
    first_appended: Option<u64>,
    last_appended: Option<u64>,
}

fn parse_run(stdout: &str) -> Run {
    let mut run = Run {
        opened_at: None,
        repaired_torn_tail: false,
        first_appended: None,
        last_appended: None,
    };
    // The last line may be cut by the kill; only complete lines count.
    let complete = match stdout.rfind('\n') {
        Some(end) => &stdout[..end],
        None => "",
    };
    for line in complete.lines() {
        if let Some(rest) = line.strip_prefix("open next_seq=") {
            let seq = rest.split_whitespace().next().and_then(|s| s.parse().ok());
            run.opened_at = Some(seq.expect("open line carries next_seq"));
            run.repaired_torn_tail = rest.ends_with("torn=true");
        } else if let Some(seq) = line.rsplit_once("appended ").map(|(_, s)| s) {
            let seq: u64 = seq.parse().expect("appended line carries a sequence");
            run.first_appended.get_or_insert(seq);
            run.last_appended = Some(seq);
        }
    }
    run
}

/// Runs `selftest-write` with `args` (count, sizes, acknowledgement rate), SIGKILLing it
/// after `kill_after` when given.
fn run_writer(dir: &Path, args: &[String], kill_after: Option<Duration>) -> Run {
    let mut child = Command::new(JOURNAL_BIN)
        .arg("selftest-write")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kestrel-journal binary runs");
    if let Some(delay) = kill_after {
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the writer"); // Child::kill sends SIGKILL on Unix.
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout was piped")
        .read_to_string(&mut stdout)
        .expect("writer output is UTF-8");
    let status = child.wait().expect("writer is reaped");
    if kill_after.is_none() {
        assert!(
            status.success(),
            "writer run to completion failed: {status}"
        );
    }
    parse_run(&stdout)
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_record_and_restarts_continue_the_sequence() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("journal");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("kill timing seed {seed}");
    let mut rng = Rng(seed);
    let mut acked = 0u64;
    let mut runs_that_appended = 0;
    let mut torn_tails = 0;
    for round in 0..KILLS {
        let delay = Duration::from_millis(5 + rng.next() % 120);
        // Even rounds: small records in 64 KiB segments, every append acknowledged (the
        // tightest "nothing acknowledged is lost" check). Odd rounds: records up to ~38 KB in
        // 1 MiB segments, acknowledged rarely, so the writer is inside `append` most of the
        // time and kills tear records. Mixed segment sizes also exercise continuing in a
        // segment created with another size.
        let args: Vec<String> = if round % 2 == 0 {
            [
                "--count",
                "50000000",
                "--segment-bytes",
                "65536",
                "--ack-every",
                "1",
            ]
            .map(String::from)
            .to_vec()
        } else {
            let ack_every = (1 + rng.next() % 500).to_string();
            [
                "--count",
                "50000000",
                "--segment-bytes",
                "1048576",
                "--pad-step",
                "400",
            ]
            .map(String::from)
            .into_iter()
            .chain(["--ack-every".to_owned(), ack_every])
            .collect()
        };
        let run = run_writer(&dir, &args, Some(delay));
        torn_tails += usize::from(run.repaired_torn_tail);
        if let Some(opened) = run.opened_at {
            assert!(
                opened > acked,
                "round {round}: restart at {opened} would reuse acknowledged sequence {acked}"
            );
            if let Some(first) = run.first_appended {
                assert_eq!(
                    first, opened,
                    "round {round}: first append continues the log"
                );
            }
        }
        if let Some(last) = run.last_appended {
            assert!(last > acked);
            acked = last;
            runs_that_appended += 1;
        }
    }
    assert!(runs_that_appended >= KILLS / 2, "most runs got to append");
    eprintln!("{KILLS} kills, {acked} records acknowledged, {torn_tails} torn tails repaired");

    let verify = Command::new(JOURNAL_BIN)
        .arg("verify")
        .arg(&dir)
        .output()
        .expect("verify runs");
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "verify failed after kills:\n{report}"
    );
    let last: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("last sequence: "))
        .and_then(|s| s.parse().ok())
        .expect("verify prints the last sequence");
    assert!(
        last >= acked,
        "acknowledged {acked} but the journal ends at {last}"
    );

    // A clean run repairs any torn tail and continues right after the last record.
    let clean = run_writer(&dir, &["--count".to_owned(), "10".to_owned()], None);
    assert_eq!(clean.opened_at, Some(last + 1));
    torn_tails += usize::from(clean.repaired_torn_tail);
    eprintln!("{torn_tails} torn tails repaired in all");
    assert_eq!(clean.last_appended, Some(last + 11));

    let mut reader = JournalReader::open(&dir, 1).expect("journal readable");
    let mut expected = 1u64;
    let mut last_session = 0u32;
    while let Some(rec) = reader.next() {
        let rec = rec.expect("every kept record checks");
        assert_eq!(rec.seq, expected, "contiguous, no gap or duplicate");
        match rec.decode().expect("payload decodes") {
            JournalEntry::Note { text } => {
                let number = text.split_whitespace().nth(1).and_then(|s| s.parse().ok());
                assert_eq!(
                    number,
                    Some(rec.seq),
                    "record {} holds its own number",
                    rec.seq
                );
            }
            JournalEntry::Session(s) => {
                assert_eq!(
                    s.session,
                    last_session + 1,
                    "each start derives the next session"
                );
                last_session = s.session;
            }
            other => panic!("unexpected entry {other:?}"),
        }
        expected += 1;
    }
    assert_eq!(expected, last + 12, "reader saw every record");
    let verify = Command::new(JOURNAL_BIN)
        .arg("verify")
        .arg(&dir)
        .output()
        .expect("verify runs");
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{report}");
    assert!(
        !report.contains("torn tail"),
        "a clean close leaves no torn tail:\n{report}"
    );
}
