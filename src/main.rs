//! The `kestrel` command: runs the engine and its operator subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use kestrel::config::{Config, EXAMPLE};
use kestrel::core::clock::wall_ns;
use kestrel::core::SymbolTable;
use kestrel::engine::affinity::available_cores;
use kestrel::engine::stage::CaptureOnly;
use kestrel::engine::{self, Components, Shutdown};
use kestrel::feed::replay::CaptureReplay;
use kestrel::ops::OpsServer;
use kestrel::ops::Registry;
use kestrel::persist::{payload, JournalWriter, RecordType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kestrel",
    version,
    about = "Low-latency autonomous crypto trading engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine. Without --config it uses the embedded default: replay the bundled
    /// real Binance capture through the engine threads into the journal.
    Run {
        /// Configuration file (TOML); see `kestrel example-config`.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file and print the thread layout it resolves to here.
    CheckConfig {
        /// Configuration file (TOML).
        path: PathBuf,
    },
    /// Print the documented example configuration (also the embedded default).
    ExampleConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => run(config),
        Command::CheckConfig { path } => check_config(&path),
        Command::ExampleConfig => {
            print!("{EXAMPLE}");
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kestrel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::embedded_default()?,
    })
}

fn check_config(path: &PathBuf) -> anyhow::Result<ExitCode> {
    let config = load(Some(path))?;
    let cores = available_cores();
    let settings = config.engine.resolve(&cores)?;
    println!(
        "{}: ok; on this machine ({} usable cores): {settings}",
        path.display(),
        cores.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn run(config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // First, so a signal during start-up also means an orderly stop, not a kill.
    let shutdown = Shutdown::new();
    shutdown
        .install_signal_handlers()
        .context("installing signal handlers")?;
    let config = load(config_path.as_ref())?;
    // Read once, here on main, before any thread is pinned (see engine::affinity).
    let cores = available_cores();
    let settings = config.engine.resolve(&cores)?;
    eprintln!("kestrel: {} usable cores → {settings}", cores.len());

    let mut registry = Registry::new();
    let (metrics, latency) = engine::metrics::register(&mut registry)?;

    let (mut journal, recovery) = JournalWriter::open(&config.journal)
        .with_context(|| format!("opening journal {}", config.journal.dir.display()))?;
    let session = recovery.last_session.map_or(1, |s| s + 1);
    eprintln!(
        "kestrel: journal {}: {} records recovered, next sequence {}, session {}{}",
        config.journal.dir.display(),
        recovery.records,
        journal.next_seq(),
        session,
        match &recovery.torn_tail {
            Some(t) => format!(
                ", torn tail of {} bytes truncated at {}:{} ({})",
                t.bytes,
                t.file.display(),
                t.offset,
                t.reason
            ),
            None => String::new(),
        }
    );
    let mut buf = [0u8; payload::MAX_FIXED_PAYLOAD];
    let len = payload::encode_session(
        &payload::SessionStart {
            session,
            wall_ns: wall_ns(),
            pid: std::process::id(),
        },
        &mut buf,
    );
    journal.append(RecordType::Session, wall_ns(), &buf[..len])?;

    let source = CaptureReplay::open(&config.replay)?;
    let mut server = OpsServer::bind(config.metrics.listen)
        .with_context(|| format!("metrics endpoint {}", config.metrics.listen))?;
    let metrics_addr = server.local_addr().unwrap_or(config.metrics.listen);
    eprintln!("kestrel: metrics on http://{metrics_addr}/metrics");

    let registry = Arc::new(registry);
    let ops_registry = Arc::clone(&registry);
    let ops = move |shutdown: Arc<Shutdown>| {
        while !shutdown.is_joined() {
            server.poll(&ops_registry, Duration::from_millis(50));
        }
    };
    let components = Components {
        source,
        strategy: CaptureOnly,
        orders: CaptureOnly,
        journal,
        symbols: SymbolTable::new(),
        stream_names: vec![config.replay.stream.clone()],
    };
    let report = engine::run(
        &settings,
        components,
        metrics,
        latency,
        Arc::clone(&shutdown),
        ops,
    )?;
    eprintln!(
        "kestrel: done: {} market events, {} intents, {} journal records ({} frames captured); layout {}",
        report.market_events,
        report.intents,
        report.journal_records,
        report.frames,
        settings.layout.as_str()
    );
    if let Some(summary) = registry.latency_quantiles(engine::metrics::JOURNAL_LAG) {
        eprintln!("kestrel: frame receive → journal append: {summary}");
    }
    eprintln!(
        "kestrel: inspect with: kestrel-tail {} --type frame | head",
        config.journal.dir.display()
    );
    Ok(if report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
