//! Owns: damaged-journal tests: flipped bytes mid-file, truncated tail, garbage tail, bad magic.
//! `kestrel-journal verify` names file and byte offset and never panics; it exits 1 for
//! corruption in the middle of the log and 0 (with the torn tail reported) when only the tail
//! is damaged, which is what a crash leaves. `JournalWriter::open` repairs a torn tail and
//! continues; it refuses a log with valid records after a bad one.
//! Never: panics in the tools, whatever the damage (asserted).

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use kestrel::persist::payload;
use kestrel::persist::{
    FlushPolicy, JournalConfig, JournalError, JournalReader, JournalWriter, RecordType,
};

const JOURNAL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-journal");
const TAIL_BIN: &str = env!("CARGO_BIN_EXE_kestrel-tail");
const RECORDS: u64 = 400;

fn config(dir: &Path) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 8192,
        prefault_ahead_bytes: 4096,
        flush: FlushPolicy::default(),
    }
}

fn build_journal(dir: &Path) {
    let (mut w, _) = JournalWriter::open(&config(dir)).expect("fresh journal");
    let mut buf = [0u8; 128];
    for i in 0..RECORDS {
        let n = payload::encode_note(&format!("record {}", i + 1), &mut buf).expect("fits");
        w.append(RecordType::OperatorNote, i, &buf[..n])
            .expect("append");
    }
    w.close().expect("close");
}

/// File and byte offset of record `seq`.
fn locate(dir: &Path, seq: u64) -> (PathBuf, u64) {
    let mut reader = JournalReader::open(dir, seq).expect("readable");
    let rec = reader
        .next()
        .expect("record exists")
        .expect("record checks");
    (rec.file.to_path_buf(), rec.offset)
}

fn patch(file: &Path, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .open(file)
        .expect("segment opens for patching");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(bytes).expect("patch");
}

fn verify(dir: &Path) -> (i32, String) {
    let out = Command::new(JOURNAL_BIN)
        .arg("verify")
        .arg(dir)
        .output()
        .expect("verify runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "verify panicked:\n{text}");
    (out.status.code().expect("verify exits normally"), text)
}

#[test]
fn flipped_byte_mid_file_fails_verify_naming_file_and_offset_and_writer_refuses() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (file, offset) = locate(tmp.path(), 200);
    patch(&file, offset + 40, &[0xFF]); // inside the payload
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 1, "{text}");
    let expected = format!("{} at byte {offset}", file.display());
    assert!(text.contains(&expected) && text.contains("CRC"), "{text}");
    assert!(text.contains("last sequence: 199"), "{text}");

    match JournalWriter::open(&config(tmp.path())) {
        Err(JournalError::Corrupt {
            file: f, offset: o, ..
        }) => assert_eq!((f, o), (file, offset)),
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("writer must not append after mid-log corruption"),
    }
    let tail = Command::new(TAIL_BIN)
        .arg(tmp.path())
        .output()
        .expect("tail runs");
    assert_eq!(tail.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tail.stderr).contains(&expected));
    assert_eq!(String::from_utf8_lossy(&tail.stdout).lines().count(), 199);
}

#[test]
fn flipped_length_word_mid_file_fails_verify() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (file, offset) = locate(tmp.path(), 123);
    patch(&file, offset + 2, &[0x7F]); // length word now huge
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("{} at byte {offset}", file.display())),
        "{text}"
    );
}

#[test]
fn truncated_last_segment_is_a_torn_tail_verify_passes_and_writer_continues() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (file, offset) = locate(tmp.path(), RECORDS);
    let full_len = std::fs::metadata(&file).expect("segment").len();
    OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("segment")
        .set_len(offset + 20)
        .expect("truncate mid-record");
    let (code, text) = verify(tmp.path());
    assert_eq!(
        code, 0,
        "a truncated tail is a torn tail, not corruption:\n{text}"
    );
    assert!(
        text.contains(&format!("torn tail: {} at byte {offset}", file.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("last sequence: {}", RECORDS - 1)),
        "{text}"
    );

    let (mut w, report) = JournalWriter::open(&config(tmp.path())).expect("writer repairs");
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!((torn.file.as_path(), torn.offset), (file.as_path(), offset));
    assert_eq!(report.last_seq, Some(RECORDS - 1));
    let mut buf = [0u8; 64];
    let n = payload::encode_note("after repair", &mut buf).expect("fits");
    assert_eq!(
        w.append(RecordType::OperatorNote, 0, &buf[..n]).ok(),
        Some(RECORDS)
    );
    w.close().expect("close");
    assert_eq!(std::fs::metadata(&file).expect("segment").len(), full_len);
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("torn tail"), "{text}");
    assert!(
        text.contains(&format!("last sequence: {RECORDS}")),
        "{text}"
    );
}

#[test]
fn garbage_after_the_last_record_is_zeroed_by_the_writer_which_continues() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (file, offset) = locate(tmp.path(), RECORDS);
    // What kill -9 leaves: a record's body written, its length word never published.
    let stride = (32 + 5 + format!("record {RECORDS}").len() + 4).next_multiple_of(8);
    let next = offset + stride as u64;
    patch(&file, next + 4, &[0x5A; 30]);
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("torn tail: {} at byte {next}", file.display())),
        "{text}"
    );
    let (mut w, report) = JournalWriter::open(&config(tmp.path())).expect("writer repairs");
    assert_eq!(report.torn_tail.map(|t| t.offset), Some(next));
    assert_eq!(w.next_seq(), RECORDS + 1);
    let mut buf = [0u8; 64];
    let n = payload::encode_note("continued", &mut buf).expect("fits");
    w.append(RecordType::OperatorNote, 0, &buf[..n])
        .expect("append");
    w.close().expect("close");
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("torn tail"), "{text}");
    assert!(
        text.contains(&format!("last sequence: {}", RECORDS + 1)),
        "{text}"
    );
}

#[test]
fn wrong_magic_and_short_files_fail_verify_naming_the_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (first, _) = locate(tmp.path(), 1);
    patch(&first, 0, b"NOTAJRNL");
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("{} at byte 0", first.display())),
        "{text}"
    );
    assert!(text.contains("magic"), "{text}");
    assert!(matches!(
        JournalWriter::open(&config(tmp.path())),
        Err(JournalError::BadHeader { .. })
    ));

    let tmp = tempfile::tempdir().expect("temp dir");
    build_journal(tmp.path());
    let (last, _) = locate(tmp.path(), RECORDS);
    OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("segment")
        .set_len(10)
        .expect("truncate into the header");
    let (code, text) = verify(tmp.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("{} at byte 0", last.display())),
        "{text}"
    );
}
