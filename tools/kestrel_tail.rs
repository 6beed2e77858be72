//! Owns: `kestrel-tail`, printing journal records as lines or JSON, optionally following a
//! live writer in another process. Never: writes to the journal, or prints a record twice.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use kestrel::persist::{JournalReader, RecordType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Print kestrel journal records, like `tail` (-f follows a running engine).
#[derive(Parser, Debug)]
#[command(name = "kestrel-tail", version)]
struct Args {
    /// Journal directory (holds journal-<first_seq>.seg files).
    dir: PathBuf,
    /// Keep running and print new records as the writer appends them (across segment rollover).
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only these record types, comma-separated: intent, order (order updates), fill,
    /// risk, state (trading-state changes), snapshot, frame (raw market frames), note
    /// (operator notes), session (engine starts).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    /// Only records about this symbol (records without a symbol are skipped).
    #[arg(long)]
    symbol: Option<String>,
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Start at this sequence number.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Poll interval in follow mode, milliseconds.
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
}

fn parse_types(names: &[String]) -> Result<Option<HashSet<RecordType>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut set = HashSet::new();
    for name in names {
        let Some(kind) = RecordType::from_name(name.trim()) else {
            let valid: Vec<&str> = RecordType::ALL.iter().map(|t| t.name()).collect();
            bail!("unknown record type {name:?}; valid: {}", valid.join(", "));
        };
        set.insert(kind);
    }
    Ok(Some(set))
}

fn run(args: &Args) -> Result<()> {
    let types = parse_types(&args.types)?;
    if !args.follow && !args.dir.is_dir() {
        bail!("{} is not a directory", args.dir.display());
    }
    let mut reader = JournalReader::open(&args.dir, args.from)
        .with_context(|| format!("opening journal {}", args.dir.display()))?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    loop {
        while let Some(rec) = reader.next() {
            let rec = rec?;
            let kind = rec.kind()?;
            if types.as_ref().is_some_and(|t| !t.contains(&kind)) {
                continue;
            }
            let entry = rec.decode()?;
            if let Some(symbol) = &args.symbol {
                if entry.symbol() != Some(symbol.as_str()) {
                    continue;
                }
            }
            if args.json {
                serde_json::to_writer(&mut out, &rec.json_with(&entry))?;
                out.write_all(b"\n")?;
            } else {
                writeln!(out, "{}", rec.line_with(&entry))?;
            }
        }
        out.flush()?;
        if !args.follow {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(args.poll_ms.max(1)));
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`kestrel-tail -f … | head`): that is how tail ends.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kestrel-tail: {e:#}");
            ExitCode::FAILURE
        }
    }
}
