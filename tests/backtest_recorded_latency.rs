//! Owns: the recorded-latency loader's test: a journal written with the persist writer, as
//! the order stage journals orders, gives one (entry, report) sample per answered order —
//! first PENDING_NEW to first venue answer, split in halves — in the orders' order; an
//! unreadable or empty journal is an error naming it. Never: touches a real journal.

use std::path::Path;

use kestrel::backtest::latency::recorded_round_trips;
use kestrel::core::{ClientOrderId, Fill, OrderStatus, OrderUpdate, Qty};
use kestrel::persist::{payload, FlushPolicy, JournalConfig, JournalWriter, RecordType};

fn config(dir: &Path) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 65_536,
        prefault_ahead_bytes: 4096,
        flush: FlushPolicy::default(),
    }
}

enum Record {
    Update(u64, OrderStatus),
    Fill(u64),
    Note,
}

fn write_journal(dir: &Path, records: &[(u64, Record)]) {
    let (mut writer, _) = JournalWriter::open(&config(dir)).expect("fresh journal");
    let mut buf = [0u8; 256];
    for (event_ns, record) in records {
        let (kind, len) = match record {
            Record::Update(id, status) => {
                let update = OrderUpdate {
                    client_order_id: ClientOrderId(*id),
                    status: *status,
                    qty: Qty::from_int(1),
                    ..OrderUpdate::default()
                };
                (
                    RecordType::OrderUpdate,
                    payload::encode_update(&update, "BTCUSDT", &mut buf),
                )
            }
            Record::Fill(id) => {
                let fill = Fill {
                    client_order_id: ClientOrderId(*id),
                    qty: Qty::from_int(1),
                    venue_trade_id: *id,
                    ..Fill::default()
                };
                (
                    RecordType::Fill,
                    payload::encode_fill(&fill, "BTCUSDT", &mut buf),
                )
            }
            Record::Note => (
                RecordType::OperatorNote,
                payload::encode_note("operator was here", &mut buf).expect("fits"),
            ),
        };
        writer.append(kind, *event_ns, &buf[..len]).expect("append");
    }
    writer.close().expect("close");
}

#[test]
fn each_answered_order_gives_its_round_trip_split_in_halves_in_order() {
    use OrderStatus::*;
    let tmp = tempfile::tempdir().expect("temp dir");
    write_journal(
        tmp.path(),
        &[
            (1_000, Record::Update(1, PendingNew)),
            (1_100, Record::Update(2, PendingNew)),
            (1_150, Record::Note),
            // Order 1: acknowledged 250 ns after it was sent → 125 + 125.
            (1_250, Record::Update(1, New)),
            // Order 2's first answer is a fill, 301 ns on → 150 + 151; its later ack is
            // not a second sample.
            (1_401, Record::Fill(2)),
            (1_450, Record::Update(2, PartiallyFilled)),
            (1_500, Record::Update(2, New)),
            // Order 1 again: a later PENDING_NEW of the same id does not restart it.
            (1_600, Record::Update(1, PendingNew)),
            (1_700, Record::Update(1, Filled)),
            // Order 3 is never answered; a local reject (id 0) never was an order.
            (2_000, Record::Update(3, PendingNew)),
            (2_050, Record::Update(0, Rejected)),
            // Order 4: canceled locally is not an answer; the venue's reject 90 ns on is.
            (3_000, Record::Update(4, PendingNew)),
            (3_010, Record::Update(4, PendingCancel)),
            (3_090, Record::Update(4, Rejected)),
            // Order 5 expires 1 ns after it was sent: 0 + 1.
            (4_000, Record::Update(5, PendingNew)),
            (4_001, Record::Update(5, Expired)),
        ],
    );
    let samples = recorded_round_trips(tmp.path()).expect("a readable journal");
    assert_eq!(samples, vec![(125, 125), (150, 151), (45, 45), (0, 1)]);
}

#[test]
fn an_unreadable_or_answerless_journal_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let missing = tmp.path().join("no-such-journal");
    let err = recorded_round_trips(&missing).expect_err("missing directory");
    let text = format!("{err:#}");
    assert!(
        text.contains("no-such-journal") && text.contains("does not exist"),
        "{text}"
    );

    let quiet = tmp.path().join("quiet");
    write_journal(
        &quiet,
        &[
            (1, Record::Note),
            (2, Record::Update(7, OrderStatus::PendingNew)),
        ],
    );
    let err = recorded_round_trips(&quiet).expect_err("no answered order");
    let text = format!("{err:#}");
    assert!(
        text.contains("no round trips in") && text.contains("quiet"),
        "{text}"
    );

    let garbage = tmp.path().join("garbage");
    std::fs::create_dir(&garbage).expect("dir");
    std::fs::write(
        garbage.join(kestrel::persist::format::segment_file_name(0)),
        vec![0xA5u8; 4096],
    )
    .expect("write");
    let err = recorded_round_trips(&garbage).expect_err("not a journal");
    let text = format!("{err:#}");
    assert!(
        text.contains("opening journal") && text.contains("garbage") && text.contains("magic"),
        "{text}"
    );
}
