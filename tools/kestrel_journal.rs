//! Owns: `kestrel-journal`: verify a journal, dump it as JSON lines, export record types to
//! CSV, and (hidden, for the crash tests) write numbered records. Never: modifies a journal
//! except through `JournalWriter` in `selftest-write`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kestrel::core::clock::{mono_ns, wall_ns};
use kestrel::persist::payload::{self, JournalEntry, SessionStart};
use kestrel::persist::recovery::scan;
use kestrel::persist::{FlushPolicy, JournalConfig, JournalReader, JournalWriter, RecordType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Verify, dump and export kestrel journals.
#[derive(Parser, Debug)]
#[command(name = "kestrel-journal", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every record (CRC, sequence, payload). Exit 0 when the log is sound (a torn tail,
    /// what a crash leaves and the writer repairs, is reported but still exits 0); exit 1 on
    /// corruption in the middle of the log, a bad segment header or an undecodable payload.
    /// Every problem is reported with its segment file and byte offset.
    Verify { dir: PathBuf },
    /// Print every record as one JSON object per line.
    Dump {
        dir: PathBuf,
        /// Start at this sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
    },
    /// Write the records of one type to a CSV file with a header row.
    Export {
        dir: PathBuf,
        /// Output CSV file.
        #[arg(long)]
        csv: PathBuf,
        /// Record type to export: fill, order or intent.
        #[arg(long = "type")]
        kind: String,
    },
    /// Test aid (used by tests/journal_crash_recovery.rs): opens the journal, appends a
    /// Session record and then `count` numbered note records (`selftest <seq> <padding>`)
    /// with no fsync, printing `appended <seq>` after every `ack_every`-th append returns.
    #[command(hide = true)]
    SelftestWrite {
        dir: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 65536)]
        segment_bytes: u64,
        #[arg(long, default_value_t = 1)]
        ack_every: u64,
        /// Padding grows by this many bytes per record, cycling every 97 records.
        #[arg(long, default_value_t = 20)]
        pad_step: usize,
    },
}

fn verify(dir: &Path) -> Result<bool> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut undecodable = Vec::new();
    let found = scan(dir, |rec| {
        if let Err(e) = rec.decode() {
            undecodable.push(e.to_string());
        }
    })?;
    let r = &found.report;
    println!("segments: {}", r.segments);
    println!("records: {}", r.records);
    let show = |v: Option<u64>| v.map_or_else(|| "none".to_owned(), |s| s.to_string());
    println!("first sequence: {}", show(r.first_seq));
    println!("last sequence: {}", show(r.last_seq));
    if let Some(s) = r.last_session {
        println!("last session: {s}");
    }
    if let Some(t) = &r.torn_tail {
        println!(
            "torn tail: {} at byte {}: {} ({} bytes; zeroed by the next writer open)",
            t.file.display(),
            t.offset,
            t.reason,
            t.bytes
        );
    }
    let mut ok = true;
    if let Some(e) = &found.corruption {
        println!("CORRUPT: {e}");
        ok = false;
    }
    for e in &undecodable {
        println!("UNDECODABLE: {e}");
        ok = false;
    }
    println!("{}", if ok { "OK" } else { "FAILED" });
    Ok(ok)
}

fn dump(dir: &Path, from: u64) -> Result<()> {
    let mut reader = JournalReader::open(dir, from)?;
    let mut out = BufWriter::new(io::stdout().lock());
    while let Some(rec) = reader.next() {
        let rec = rec?;
        let entry = rec.decode()?;
        serde_json::to_writer(&mut out, &rec.json_with(&entry))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_row(out: &mut impl Write, fields: &[String]) -> io::Result<()> {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

fn export(dir: &Path, csv: &Path, kind_name: &str) -> Result<u64> {
    let kind = match RecordType::from_name(kind_name) {
        Some(k @ (RecordType::Fill | RecordType::OrderUpdate | RecordType::OrderIntent)) => k,
        _ => bail!("export supports --type fill, order or intent, not {kind_name:?}"),
    };
    let header: &[&str] = match kind {
        RecordType::Fill => &[
            "seq",
            "write_ns",
            "event_ns",
            "symbol",
            "side",
            "price",
            "qty",
            "fee",
            "client_order_id",
            "venue_trade_id",
            "is_maker",
            "strategy",
        ],
        RecordType::OrderUpdate => &[
            "seq",
            "write_ns",
            "event_ns",
            "symbol",
            "client_order_id",
            "side",
            "status",
            "filled_qty",
            "venue_order_id",
            "reject_code",
            "strategy",
        ],
        _ => &[
            "seq",
            "write_ns",
            "event_ns",
            "symbol",
            "side",
            "order_type",
            "time_in_force",
            "reduce_only",
            "price",
            "qty",
            "strategy",
            "intent_seq",
            "cause_recv_ns",
        ],
    };
    let file = File::create(csv).with_context(|| format!("creating {}", csv.display()))?;
    let mut out = BufWriter::new(file);
    writeln!(out, "{}", header.join(","))?;
    let mut reader = JournalReader::open(dir, 1)?;
    let mut rows = 0;
    while let Some(rec) = reader.next() {
        let rec = rec?;
        if rec.type_code != kind as u16 {
            continue;
        }
        let mut row = vec![
            rec.seq.to_string(),
            rec.write_ns.to_string(),
            rec.event_ns.to_string(),
        ];
        match rec.decode()? {
            JournalEntry::Fill { symbol, fill: f } => row.extend([
                symbol,
                f.side.as_str().to_owned(),
                f.price.to_string(),
                f.qty.to_string(),
                f.fee.to_string(),
                f.client_order_id.to_string(),
                f.venue_trade_id.to_string(),
                f.is_maker.to_string(),
                f.strategy.0.to_string(),
            ]),
            JournalEntry::Update { symbol, update: u } => row.extend([
                symbol,
                u.client_order_id.to_string(),
                u.side.as_str().to_owned(),
                u.status.as_str().to_owned(),
                u.filled_qty.to_string(),
                u.venue_order_id.to_string(),
                u.reject_code.to_string(),
                u.strategy.0.to_string(),
            ]),
            JournalEntry::Intent { symbol, intent: i } => row.extend([
                symbol,
                i.side.as_str().to_owned(),
                i.order_type.as_str().to_owned(),
                i.time_in_force.as_str().to_owned(),
                i.reduce_only.to_string(),
                i.price.to_string(),
                i.qty.to_string(),
                i.strategy.0.to_string(),
                i.intent_seq.to_string(),
                i.cause_recv_ns.to_string(),
            ]),
            other => bail!("record {} decoded as {:?}", rec.seq, other.kind()),
        }
        csv_row(&mut out, &row)?;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

/// What `selftest-write` does.
#[derive(Clone, Copy)]
struct SelftestPlan {
    count: u64,
    segment_bytes: u64,
    ack_every: u64,
    pad_step: usize,
}

fn selftest_write(dir: &Path, plan: &SelftestPlan) -> Result<()> {
    let SelftestPlan {
        count,
        segment_bytes,
        ack_every,
        pad_step,
    } = *plan;
    let mut cfg = JournalConfig::new(dir);
    cfg.segment_bytes = segment_bytes;
    cfg.prefault_ahead_bytes = segment_bytes / 4;
    // No msync at all: a kill -9 must lose nothing the page cache already holds.
    cfg.flush = FlushPolicy {
        every_records: 0,
        every_ms: 0,
    };
    let (mut writer, report) = JournalWriter::open(&cfg)?;
    // stdout is line-buffered: each line reaches the pipe before the next append starts.
    println!(
        "open next_seq={} records={} torn={}",
        writer.next_seq(),
        report.records,
        report.torn_tail.is_some()
    );
    let session = report.last_session.map_or(1, |s| s + 1);
    let mut buf = [0u8; payload::MAX_FIXED_PAYLOAD];
    let start = SessionStart {
        session,
        wall_ns: wall_ns(),
        pid: std::process::id(),
    };
    let n = payload::encode_session(&start, &mut buf);
    let seq = writer.append(RecordType::Session, mono_ns(), &buf[..n])?;
    println!("session {session} appended {seq}");
    let mut note = vec![0u8; 64 + 96 * pad_step];
    for i in 0..count {
        // Varying lengths exercise alignment and make records straddle pages.
        let pad = (i % 97) as usize * pad_step;
        let text = format!("selftest {} {:pad$}", writer.next_seq(), "");
        let n = payload::encode_note(&text, &mut note)?;
        let seq = writer.append(RecordType::OperatorNote, mono_ns(), &note[..n])?;
        if (i + 1) % ack_every.max(1) == 0 || i + 1 == count {
            println!("appended {seq}");
        }
        if i % 32 == 0 {
            writer.maintain(mono_ns())?;
        }
    }
    writer.close()?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Command::Verify { dir } => verify(dir).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Dump { dir, from } => dump(dir, *from).map(|()| ExitCode::SUCCESS),
        Command::Export { dir, csv, kind } => export(dir, csv, kind).map(|rows| {
            eprintln!("exported {rows} rows to {}", csv.display());
            ExitCode::SUCCESS
        }),
        Command::SelftestWrite {
            dir,
            count,
            segment_bytes,
            ack_every,
            pad_step,
        } => {
            let plan = SelftestPlan {
                count: *count,
                segment_bytes: *segment_bytes,
                ack_every: *ack_every,
                pad_step: *pad_step,
            };
            selftest_write(dir, &plan).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("kestrel-journal: {e:#}");
            ExitCode::FAILURE
        }
    }
}
