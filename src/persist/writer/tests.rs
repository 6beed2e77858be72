//! Owns: writer and reader behaviour in one process: round trips, rollover, reopen, torn
//! tails, flush policy. Never: leaves files behind (every test uses its own temp dir).

use super::*;
use crate::persist::format::{list_segments, segment_path};
use crate::persist::payload::{self, JournalEntry, SessionStart};
use crate::persist::JournalReader;

fn small_config(dir: &Path) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 8192,
        prefault_ahead_bytes: 4096,
        flush: FlushPolicy {
            every_records: 16,
            every_ms: 0,
        },
    }
}

fn note(text: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 5 + text.len()];
    let n = payload::encode_note(text, &mut buf).expect("buffer sized for the note");
    buf.truncate(n);
    buf
}

fn read_all(dir: &Path, from: u64) -> Vec<(u64, String)> {
    let mut reader = JournalReader::open(dir, from).expect("journal dir readable");
    let mut out = Vec::new();
    while let Some(rec) = reader.next() {
        let rec = rec.expect("every record written by the writer checks");
        match rec.decode().expect("payload written by the codec decodes") {
            JournalEntry::Note { text } => out.push((rec.seq, text)),
            other => panic!("unexpected entry {other:?}"),
        }
    }
    out
}

#[test]
fn appended_records_read_back_in_order_across_rollover() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (mut w, report) = JournalWriter::open(&small_config(tmp.path())).expect("fresh journal");
    assert_eq!(report.records, 0);
    assert_eq!(w.next_seq(), 1);
    for i in 0..500u64 {
        let seq = w
            .append(RecordType::OperatorNote, i, &note(&format!("n{i}")))
            .expect("append");
        assert_eq!(seq, i + 1);
        if i % 10 == 0 {
            w.maintain(i * 1_000_000).expect("maintain");
        }
    }
    w.close().expect("close");
    assert!(
        list_segments(tmp.path()).expect("list").len() >= 3,
        "rolled over"
    );
    assert!(
        !tmp.path().join(SPARE_NAME).exists(),
        "close removes the spare"
    );
    let got = read_all(tmp.path(), 0);
    assert_eq!(got.len(), 500);
    for (i, (seq, text)) in got.iter().enumerate() {
        assert_eq!(
            (*seq, text.as_str()),
            (i as u64 + 1, format!("n{i}").as_str())
        );
    }
    let from_middle = read_all(tmp.path(), 321);
    assert_eq!(from_middle.first().map(|r| r.0), Some(321));
    assert_eq!(from_middle.len(), 180);
}

#[test]
fn reopen_continues_the_sequence_and_reports_the_last_session() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cfg = small_config(tmp.path());
    let (mut w, _) = JournalWriter::open(&cfg).expect("fresh journal");
    let mut buf = [0u8; payload::MAX_FIXED_PAYLOAD];
    let n = payload::encode_session(
        &SessionStart {
            session: 41,
            wall_ns: 1,
            pid: 2,
        },
        &mut buf,
    );
    w.append(RecordType::Session, 0, &buf[..n]).expect("append");
    for i in 0..200 {
        w.append(RecordType::OperatorNote, 0, &note(&format!("x{i}")))
            .expect("append");
    }
    drop(w); // no close: like a crash, the data is in the page cache
    let (mut w, report) = JournalWriter::open(&cfg).expect("reopen");
    assert_eq!(report.records, 201);
    assert_eq!(report.last_seq, Some(201));
    assert_eq!(report.last_session, Some(41));
    assert_eq!(report.torn_tail, None);
    assert_eq!(
        w.append(RecordType::OperatorNote, 0, &note("after"))
            .expect("append"),
        202
    );
    w.close().expect("close");
    assert_eq!(read_all(tmp.path(), 202), vec![(202, "after".to_owned())]);
}

#[test]
fn torn_tail_is_zeroed_and_writing_continues_there() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cfg = small_config(tmp.path());
    let (mut w, _) = JournalWriter::open(&cfg).expect("fresh journal");
    for i in 0..5 {
        w.append(RecordType::OperatorNote, 0, &note(&format!("r{i}")))
            .expect("append");
    }
    let torn_at = w.cursor;
    let path = w.seg.path.clone();
    // A half-written record: body bytes present, length word never published.
    w.seg.map[torn_at + 4..torn_at + 30].fill(0xAB);
    drop(w);
    let (mut w, report) = JournalWriter::open(&cfg).expect("reopen repairs");
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(
        (torn.file.as_path(), torn.offset),
        (path.as_path(), torn_at as u64)
    );
    assert_eq!(torn.bytes, 30, "up to the last non-zero byte");
    assert_eq!(report.last_seq, Some(5));
    assert!(w.seg.map[torn_at..torn_at + 64].iter().all(|&b| b == 0));
    assert_eq!(
        w.append(RecordType::OperatorNote, 0, &note("r5"))
            .expect("append"),
        6
    );
    w.close().expect("close");
    let (_, report) = JournalWriter::open(&cfg).expect("clean reopen");
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.records, 6);
}

#[test]
fn reader_in_follow_mode_sees_records_and_new_segments_as_they_appear() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut reader = JournalReader::open(tmp.path(), 1).expect("reader of a missing dir");
    assert!(reader.next().is_none());
    let (mut w, _) = JournalWriter::open(&small_config(tmp.path())).expect("fresh journal");
    let mut seen = 0u64;
    for i in 0..400u64 {
        w.append(RecordType::OperatorNote, i, &note("follow me"))
            .expect("append");
        if i % 7 == 0 {
            w.maintain(0).expect("maintain");
            while let Some(rec) = reader.next() {
                let rec = rec.expect("live record checks");
                seen += 1;
                assert_eq!(rec.seq, seen);
            }
        }
    }
    while let Some(rec) = reader.next() {
        seen += 1;
        assert_eq!(rec.expect("live record checks").seq, seen);
    }
    assert_eq!(seen, 400);
    assert!(segment_path(tmp.path(), 1).exists());
}

#[test]
fn oversized_records_bad_config_and_a_second_writer_are_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cfg = small_config(tmp.path());
    let (mut w, _) = JournalWriter::open(&cfg).expect("fresh journal");
    let big = vec![1u8; 9000];
    assert!(matches!(
        w.append(RecordType::MarketFrame, 0, &big),
        Err(JournalError::RecordTooLarge { .. })
    ));
    let second = JournalWriter::open(&cfg);
    assert!(matches!(second, Err(JournalError::Io { .. })));
    let mut tiny = cfg.clone();
    tiny.segment_bytes = 100;
    drop(w);
    assert!(matches!(
        JournalWriter::open(&tiny),
        Err(JournalError::Config(_))
    ));
}

#[test]
fn flush_policy_msyncs_by_count_and_by_time() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut cfg = small_config(tmp.path());
    cfg.flush = FlushPolicy {
        every_records: 3,
        every_ms: 5,
    };
    let (mut w, _) = JournalWriter::open(&cfg).expect("fresh journal");
    w.append(RecordType::OperatorNote, 0, &note("a"))
        .expect("append");
    w.maintain(1_000_000).expect("maintain");
    assert_eq!(w.unflushed, 1, "neither 3 records nor 5 ms yet");
    w.maintain(6_000_000).expect("maintain");
    assert_eq!(w.unflushed, 0, "5 ms passed");
    w.append(RecordType::OperatorNote, 0, &note("b"))
        .expect("append");
    w.maintain(7_000_000).expect("maintain");
    assert_eq!(w.unflushed, 1, "the timer restarted at the last flush");
    for _ in 0..2 {
        w.append(RecordType::OperatorNote, 0, &note("c"))
            .expect("append");
    }
    w.maintain(7_000_001).expect("maintain");
    assert_eq!(w.unflushed, 0, "3 records reached");
    assert_eq!(w.seg.flushed_to, w.cursor);
}

#[test]
fn writer_and_reader_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<JournalWriter>();
    assert_send::<JournalReader>();
}
