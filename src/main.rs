//! The `kestrel` command: runs the engine and its operator subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use kestrel::config::{load_toml, Config, EXAMPLE};
use kestrel::engine::affinity::available_cores;
use kestrel::engine::stage::{CaptureOnly, OrderStage, StrategyStage};
use kestrel::engine::trading::{prepare_trading, TradingSide, TradingStage};
use kestrel::engine::{self, Components, Shutdown};
use kestrel::feed::binance::book_replay::replay_book;
use kestrel::feed::binance::BinanceMarket;
use kestrel::feed::ConfiguredSource;
use kestrel::ops::OpsServer;
use kestrel::ops::Registry;
use kestrel::ops::{ctl_send, ControlConfig, CtlArgs};
use kestrel::persist::JournalWriter;
use kestrel::sim::{
    run_simex, FaultPlan, Market, MarketReplay, OrderSideConfig, SimexConfig, Speed, StallPlan,
};

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
    /// Paper-trade: the simulator in-process replays the bundled real capture, the engine
    /// trades the probe strategy on the paper venue against its book, journals everything
    /// and prints a live status line and a summary. Run again on the same journal to continue.
    Paper(PaperCli),
    /// Backtest: replay recorded data (captures, journal captures, data.binance.vision CSVs,
    /// candle JSON) through the same strategy, risk and order code on the paper venue with
    /// latency and queue models; writes JSON, CSV and an HTML report to --out. Without
    /// --config it runs `kestrel paper`'s strategy; without --data, on the bundled capture.
    Backtest(BacktestCli),
    /// Train the ensemble strategy's HMM with Baum-Welch on recorded data (candles or
    /// trades, resampled to 1-minute rows) and write the model file; prints the
    /// convergence report of every restart.
    HmmTrain(HmmTrainCli),
    /// Benchmarks that need the whole engine.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the local exchange simulator: Binance spot and USDⓈ-M market data (WS streams
    /// and REST) replayed from recorded captures, a matching engine behind the REST order
    /// endpoints, WS API and user-data streams, with fault injection.
    Simex(Box<SimexArgs>),
    /// Rebuild one symbol's order book offline from capture files through the live decoders
    /// and book code, and print it as JSON.
    Replay {
        /// Capture file (`<recv_ns> <frame>` lines, plain or gzip) or journal directory;
        /// repeat to read several as one continuous stream, in the order given.
        #[arg(long, required = true)]
        capture: Vec<PathBuf>,
        /// Symbol, e.g. BTCUSDT.
        #[arg(long)]
        symbol: String,
        /// Market the capture was recorded on (its book-sync rule).
        #[arg(long, value_parser = ["spot", "usdm"])]
        market: String,
        /// Levels per side in the output.
        #[arg(long, default_value_t = 20)]
        depth: usize,
    },
    /// Operate a running engine over its control API: print its state as JSON, or kill,
    /// resume, flatten, cancel all, set a strategy's mode, reload the risk limits (these need
    /// the token in KESTREL_CONTROL_TOKEN). Exits 1 on any error answer.
    Ctl(CtlArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// End-to-end latency: the engine against the in-process simulator replaying the bundled
    /// capture, the probe strategy sending a market order every Nth book through the Binance
    /// gateway; prints tick-to-order, send, wire-to-wire and every stage, and the mode it ran in.
    E2e(E2eCli),
}

/// `kestrel bench e2e` flags.
#[derive(clap::Args)]
struct E2eCli {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Stop after this many orders.
    #[arg(long, default_value_t = 2000)]
    orders: u64,
    /// Replay pace, ×N of the recorded pace.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    /// One order every N ticks (valid book updates, or trades with `--on trade`).
    #[arg(long, default_value_t = 2)]
    every: u32,
    /// Which ticks trigger orders: `book` (a depth diff applied to the book) or `trade`.
    #[arg(long, value_parser = ["book", "trade"], default_value = "book")]
    on: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Engine settings (layout, wait, pinning) from this TOML.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Give the engine's hot loop a core of its own: layout fused, busy-spin, pinned to the
    /// last core, with the simulator and every other thread kept on the first (the exchange
    /// is another machine in production). Needs two cores; overrides the config's engine
    /// layout, wait and pinning.
    #[arg(long)]
    isolate: bool,
    /// Plain ws:// for market data and orders instead of TLS (Binance only speaks TLS; the
    /// default measures the decryption of the tick and the encryption of the order too).
    #[arg(long)]
    plain: bool,
}

/// `kestrel backtest` flags.
#[derive(clap::Args)]
struct BacktestCli {
    /// Settings file (TOML: [backtest], [probe], [risk], [sweep]); see README.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Input, repeatable: `[SYMBOL:][KIND[@QUALIFIER]:]PATH` with KIND capture, journal,
    /// vision or candles (detected from the path when left out), e.g.
    /// `BTCUSDT:candles@1m:UNITTEST_BTC-1m.json` or `capture@usdm:day.gz`.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    data: Vec<String>,
    /// Start: `2024-08-08`, `2024-08-08T00:05:00Z` or epoch milliseconds (UTC).
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive), same forms.
    #[arg(long)]
    to: Option<String>,
    /// Directory for summary.json, the CSV files and report.html.
    #[arg(long, default_value = "out/backtest")]
    out: PathBuf,
    /// Run the config's [sweep] grid, one run per combination on all cores.
    #[arg(long, requires = "config")]
    sweep: bool,
    /// Threads for --sweep (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress line and no summary table.
    #[arg(long)]
    quiet: bool,
}

/// `kestrel hmm-train` flags.
#[derive(clap::Args)]
struct HmmTrainCli {
    /// Input, repeatable: `[SYMBOL:][KIND[@QUALIFIER]:]PATH` as for `kestrel backtest`
    /// (1-minute candle JSON, trade archives, captures, journals).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    data: Vec<String>,
    /// Symbol for inputs that name none (captures), repeatable.
    #[arg(long)]
    symbol: Vec<String>,
    /// Model file to write.
    #[arg(long, default_value = "model.json")]
    out: PathBuf,
    /// Hidden states.
    #[arg(long, default_value_t = 3)]
    states: usize,
    /// Random restarts; the best log-likelihood is kept.
    #[arg(long, default_value_t = 5)]
    restarts: u32,
    /// Seed of the restarts.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Most Baum-Welch iterations per restart.
    #[arg(long, default_value_t = 200)]
    iterations: u32,
    /// Log-likelihood gain under which a restart has converged.
    #[arg(long, default_value_t = 1e-2)]
    tolerance: f64,
    /// Rolling feature window in 1-minute rows (the strategy's `hmm_window`).
    #[arg(long, default_value_t = 120)]
    window: usize,
}

/// `kestrel paper` flags.
#[derive(clap::Args)]
struct PaperCli {
    /// Journal directory; a second run on it recovers and continues.
    #[arg(long, default_value = "out/paper")]
    journal: PathBuf,
    /// Replay pace, ×N of the recorded pace (e.g. `10` or `10x`).
    #[arg(long, default_value = "20")]
    speed: String,
    /// Stop after this many seconds (default: when the capture has been replayed).
    #[arg(long)]
    duration: Option<f64>,
    /// Engine and metrics settings (TOML; its market-data and journal sections are ignored).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Quote cash (USDT) the paper account starts with; keep it when continuing a journal.
    #[arg(long, default_value = "10000")]
    starting_quote: String,
    /// Trade the probe (a bracketed market entry, again and again) instead of the
    /// config's `[strategies]` (by default the MA + HMM ensemble and scalping).
    #[arg(long)]
    probe: bool,
    /// Quantity of each probe entry (with --probe).
    #[arg(long, default_value = "0.01")]
    qty: String,
    /// Probe bracket distance (stop-loss below, take-profit above the mid) in basis points.
    #[arg(long, default_value_t = 10)]
    bracket_bps: i64,
    /// Metrics endpoint (overrides the config's `metrics.listen`; port 0: any free port).
    #[arg(long)]
    metrics: Option<std::net::SocketAddr>,
    /// Control API address (overrides the config's `control.listen`; port 0: any free port).
    #[arg(long)]
    control: Option<std::net::SocketAddr>,
    /// Write the final metrics (Prometheus text, as /metrics serves them) to this file.
    #[arg(long)]
    metrics_out: Option<PathBuf>,
    /// No status line.
    #[arg(long)]
    quiet: bool,
}

/// `kestrel simex` flags; without --config it serves the bundled spot and futures captures.
#[derive(clap::Args)]
struct SimexArgs {
    /// TOML file with the whole simulator configuration (markets, speed, faults).
    #[arg(long, conflicts_with_all = ["listen", "tls", "speed"])]
    config: Option<PathBuf>,
    /// Address of the first market's listener; market i listens on port + i (0: any free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Serve TLS (wss/https) with a self-signed certificate for localhost.
    #[arg(long)]
    tls: bool,
    /// Where to write the certificate (PEM) clients should trust.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Replay pace: `real-time`, `<N>x` (e.g. `10x`) or `max`.
    #[arg(long)]
    speed: Option<String>,
    /// Leave out depth updates whose ids fall in A-B (a sequence gap); repeatable.
    #[arg(long, value_name = "A-B")]
    skip_update_ids: Vec<String>,
    /// Drop every client connection every N ms.
    #[arg(long, value_name = "MS")]
    drop_every_ms: Option<u64>,
    /// Stall the replay every N ms ...
    #[arg(long, value_name = "MS", requires = "stall_for_ms")]
    stall_every_ms: Option<u64>,
    /// ... for this long.
    #[arg(long, value_name = "MS", requires = "stall_every_ms")]
    stall_for_ms: Option<u64>,
    /// Send this many malformed frames.
    #[arg(long, value_name = "N", default_value_t = 0)]
    malformed: u64,
    /// Write the next N frames in two TCP writes each.
    #[arg(long, value_name = "N", default_value_t = 0)]
    split: u64,
    /// Refuse connections (for reconnect-backoff tests).
    #[arg(long)]
    refuse_connections: bool,
    /// Answer the next N REST / WS API requests with 429 (418 ban for a client that does
    /// not wait the Retry-After).
    #[arg(long, value_name = "N", default_value_t = 0)]
    rate_limit: u64,
    /// Retry-After of those 429s, in seconds.
    #[arg(long, value_name = "SECS")]
    retry_after_secs: Option<u64>,
    /// Length of a 418 ban, in seconds.
    #[arg(long, value_name = "SECS")]
    ban_secs: Option<u64>,
    /// Reject the next N signed requests with -1021.
    #[arg(long, value_name = "N", default_value_t = 0)]
    reject_timestamps: u64,
    /// Hold every order acknowledgement this long.
    #[arg(long, value_name = "MS")]
    ack_delay_ms: Option<u64>,
    /// Process the next N orders without answering them.
    #[arg(long, value_name = "N", default_value_t = 0)]
    lose_acks: u64,
    /// Fill the next N orders at most half of what is left per match.
    #[arg(long, value_name = "N", default_value_t = 0)]
    partial_fills: u64,
    /// Send the next N user-data events twice.
    #[arg(long, value_name = "N", default_value_t = 0)]
    duplicate_events: u64,
    /// Deliver each of the next N user-data events after the event that follows it.
    #[arg(long, value_name = "N", default_value_t = 0)]
    reorder_events: u64,
    /// Cut the connection right after each of the next N orders is processed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    drop_order_connections: u64,
    /// The simulator's clock minus the wall clock (server time, recvWindow checks).
    #[arg(long, value_name = "MS", allow_hyphen_values = true)]
    clock_skew_ms: Option<i64>,
    /// Count the exchangeInfo rate limits in the headers but never refuse (benchmarks).
    #[arg(long)]
    no_rate_limits: bool,
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
        Command::Simex(args) => simex(*args),
        Command::Paper(args) => paper(args),
        Command::Backtest(cli) => {
            kestrel::backtest::command::run_command(&kestrel::backtest::command::BacktestArgs {
                config: cli.config,
                data: cli.data,
                from: cli.from,
                to: cli.to,
                out: cli.out,
                sweep: cli.sweep,
                threads: cli.threads,
                quiet: cli.quiet,
            })
            .map(|()| ExitCode::SUCCESS)
        }
        Command::HmmTrain(cli) => {
            kestrel::strat::hmm::train_command(kestrel::strat::hmm::HmmTrainArgs {
                data: cli.data,
                symbols: cli.symbol,
                out: cli.out,
                states: cli.states,
                restarts: cli.restarts,
                seed: cli.seed,
                iterations: cli.iterations,
                tolerance: cli.tolerance,
                window: cli.window,
            })
            .map(|report| {
                print!("{}", report.render());
                ExitCode::SUCCESS
            })
        }
        Command::Bench(BenchCommand::E2e(args)) => bench_e2e(args),
        Command::Replay {
            capture,
            symbol,
            market,
            depth,
        } => replay(&capture, &symbol, &market, depth),
        Command::Ctl(args) => ctl(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kestrel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn ctl(args: &CtlArgs) -> anyhow::Result<ExitCode> {
    let token = ControlConfig::default().token_from_env();
    let reply = ctl_send(args.addr, &args.command, token.as_deref())?;
    if reply.is_success() {
        println!("{}", reply.body.trim_end());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("kestrel ctl: {}", reply.error_summary());
        Ok(ExitCode::FAILURE)
    }
}

fn paper(cli: PaperCli) -> anyhow::Result<ExitCode> {
    use kestrel::core::Qty;
    use kestrel::engine::paper::{bundled_data, run_paper, PaperArgs, PaperStrategy};

    let shutdown = Shutdown::new();
    shutdown
        .install_signal_handlers()
        .context("installing signal handlers")?;
    let config = load(cli.config.as_ref())?;
    let cores = available_cores();
    let settings = config.engine.resolve(&cores)?;
    let speed: f64 = cli
        .speed
        .trim_end_matches('x')
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .with_context(|| format!("--speed {:?}: expected a positive number", cli.speed))?;
    let (capture, exchange_info) = bundled_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    let args = PaperArgs {
        journal: cli.journal,
        speed,
        duration: cli.duration.map(Duration::from_secs_f64),
        capture,
        exchange_info,
        symbol: "BTCUSDT".to_owned(),
        starting_quote: Qty::parse(&cli.starting_quote)
            .map_err(|e| anyhow::anyhow!("--starting-quote: {e}"))?,
        strategy: if cli.probe {
            PaperStrategy::Probe {
                qty: Qty::parse(&cli.qty).map_err(|e| anyhow::anyhow!("--qty: {e}"))?,
                bracket_bps: cli.bracket_bps,
                cooldown_events: 20,
            }
        } else {
            // The shipped example's model paths are relative to the crate root; a given
            // config's to the working directory.
            let base_dir = if cli.config.is_some() {
                std::path::PathBuf::from(".")
            } else {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            };
            PaperStrategy::Configured {
                config: Box::new(config.strategies.clone()),
                base_dir,
            }
        },
        metrics_listen: cli.metrics.unwrap_or(config.metrics.listen),
        metrics_out: cli.metrics_out.clone(),
        status_line: !cli.quiet,
        risk: config.risk,
        control: kestrel::engine::control::ControlSetup {
            token: config.control.token_from_env(),
            config: kestrel::ops::ControlConfig {
                listen: cli.control.unwrap_or(config.control.listen),
                ..config.control.clone()
            },
            config_path: cli.config.clone(),
        },
    };
    eprintln!(
        "kestrel paper: {} usable cores → {settings}; replaying {} at ×{speed}",
        cores.len(),
        args.capture.display()
    );
    let summary = run_paper(&args, &settings, Arc::clone(&shutdown))?;
    eprintln!(
        "kestrel paper: done: session {}, {} market events, {} orders, {} fills, equity {:.4} USDT, realized PnL {:.4}, fees {:.4}, tick-to-order p50 {:.1} µs p99 {:.1} µs (layout {}, wait {})",
        summary.session,
        summary.report.market_events,
        summary.orders,
        summary.fills,
        summary.equity,
        summary.realized_pnl,
        summary.fees,
        summary.tick_to_order_p50_us,
        summary.tick_to_order_p99_us,
        settings.layout.as_str(),
        settings.wait.as_str(),
    );
    eprintln!(
        "kestrel paper: journal in {}; inspect with: kestrel-tail {} --type order,fill",
        args.journal.display(),
        args.journal.display()
    );
    Ok(if summary.report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn bench_e2e(cli: E2eCli) -> anyhow::Result<ExitCode> {
    use kestrel::engine::bench_e2e::{render_table, run_e2e, E2eArgs};
    use kestrel::engine::paper::bundled_data;

    let shutdown = Shutdown::new();
    shutdown
        .install_signal_handlers()
        .context("installing signal handlers")?;
    let config = load(cli.config.as_ref())?;
    let cores = available_cores();
    let mut settings = config.engine.resolve(&cores)?;
    let simulator_core = if cli.isolate {
        let (Some(&first), Some(&last)) = (cores.first(), cores.last()) else {
            anyhow::bail!("--isolate: no usable cores reported");
        };
        anyhow::ensure!(
            first != last,
            "--isolate needs two cores; this process may use only core {first}"
        );
        settings.layout = kestrel::engine::Layout::Fused;
        settings.wait = kestrel::engine::WaitStrategy::Spin;
        settings.cores = kestrel::engine::affinity::CorePlan::explicit(
            &[(kestrel::engine::affinity::HotThread::Fused, last)],
            &cores,
        )?;
        Some(first)
    } else {
        None
    };
    anyhow::ensure!(
        cli.speed.is_finite() && cli.speed > 0.0,
        "--speed must be positive"
    );
    let (capture, exchange_info) = bundled_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    let args = E2eArgs {
        capture,
        exchange_info,
        speed: cli.speed,
        orders: cli.orders,
        every_tick: cli.every,
        tick_on_trades: cli.on == "trade",
        qty: kestrel::core::Qty::parse("0.0002").map_err(|e| anyhow::anyhow!("{e}"))?,
        timeout: Duration::from_secs_f64(cli.timeout.max(1.0)),
        simulator_core,
        tls: !cli.plain,
    };
    let report = run_e2e(&args, &settings, Arc::clone(&shutdown))?;
    if cli.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render_table(&report));
    }
    Ok(ExitCode::SUCCESS)
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
    let next_seq = journal.next_seq();
    let session = journal.begin_session(&recovery)?;
    eprintln!(
        "kestrel: journal {}: {} records recovered, next sequence {}, session {}{}",
        config.journal.dir.display(),
        recovery.records,
        next_seq,
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

    let (mut source, symbols, stream_names) =
        ConfiguredSource::open(config.replay.as_ref(), config.binance.as_ref())?;
    source.attach_metrics(&mut registry)?;
    // The order side (with `[orders]`): rebuilt from the journal before the engine starts;
    // the order stage reconciles with the venue before it lets an order out.
    let mut trading = match (&config.orders, &config.binance) {
        (Some(orders), Some(feed)) => {
            let side = prepare_trading(
                orders,
                &config.strategies,
                config.risk,
                feed,
                &config.journal.dir,
                session,
                &symbols,
                &mut registry,
            )?;
            eprintln!(
                "kestrel: trading on {}: {} order updates and {} fills replayed from the journal, {} orders open until reconciled",
                side.venue_label, side.rebuilt.updates, side.rebuilt.fills, side.rebuilt.open_orders
            );
            Some(side)
        }
        _ => None,
    };
    // The control API talks to the order thread: only a trading run has one.
    let mut control = match &mut trading {
        Some(side) => {
            let (client, endpoint) = engine::control::control_link();
            side.stage.attach_control(endpoint);
            let setup = kestrel::engine::control::ControlSetup {
                config: config.control.clone(),
                token: config.control.token_from_env(),
                config_path: config_path.clone(),
            };
            let mut control = setup.bind(client, &symbols)?;
            control.attach_alerts(&mut registry)?;
            if let Some(addr) = control.local_addr() {
                eprintln!(
                    "kestrel: control API on http://{addr} (kestrel ctl --addr {addr} status){}",
                    if setup.token.is_none() {
                        format!("; read-only: {} is unset", config.control.token_env)
                    } else {
                        String::new()
                    }
                );
            }
            Some(control)
        }
        None => None,
    };

    let mut server = OpsServer::bind(config.metrics.listen)
        .with_context(|| format!("metrics endpoint {}", config.metrics.listen))?;
    let metrics_addr = server.local_addr().unwrap_or(config.metrics.listen);
    eprintln!("kestrel: metrics on http://{metrics_addr}/metrics");
    let registry = Arc::new(registry);
    let ops_registry = Arc::clone(&registry);
    let mut watcher = trading.as_mut().and_then(|side| side.watcher.take());
    let ops = move |shutdown: Arc<Shutdown>| {
        let mut next_watch = std::time::Instant::now();
        while !shutdown.is_joined() {
            let mut served = server.poll(&ops_registry, Duration::from_millis(50));
            if let Some(control) = &mut control {
                served += control.poll(Duration::from_millis(50));
            }
            if let Some(watcher) = &mut watcher {
                if std::time::Instant::now() >= next_watch {
                    next_watch = std::time::Instant::now() + Duration::from_secs(1);
                    served += watcher.poll();
                }
            }
            if served == 0 {
                std::thread::sleep(kestrel::ops::OPS_IDLE);
            }
        }
    };
    let parts = RunParts {
        settings: &settings,
        source,
        journal,
        symbols,
        stream_names,
        metrics,
        latency,
        shutdown: Arc::clone(&shutdown),
    };
    let report = match trading {
        None => drive(parts, CaptureOnly, CaptureOnly, ops)?,
        Some(TradingSide {
            strategy,
            stage: TradingStage::Binance(stage),
            ..
        }) => drive(parts, strategy, *stage, ops)?,
        Some(TradingSide {
            strategy,
            stage: TradingStage::Paper(stage),
            ..
        }) => drive(parts, strategy, *stage, ops)?,
    };
    if config.orders.is_some() {
        registry.collect();
        let get = |name| registry.sample(name).unwrap_or(0.0);
        eprintln!(
            "kestrel: orders: {} sent, {} fills, realized PnL {:.4}, fees {:.4}, equity {:.4}",
            get("orders_submitted_total"),
            get("orders_filled_total"),
            get("pnl_realized_usd"),
            get("fees_paid_usd"),
            get("equity_usd"),
        );
    }
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

/// What every `kestrel run` hands the runner besides its strategy and order stage.
struct RunParts<'a> {
    settings: &'a engine::TopologySettings,
    source: ConfiguredSource,
    journal: JournalWriter,
    symbols: kestrel::core::SymbolTable,
    stream_names: Vec<String>,
    metrics: engine::RunnerMetrics,
    latency: engine::RunnerLatency,
    shutdown: Arc<Shutdown>,
}

/// Runs the engine with `strategy` and `orders` until a signal or the source ends.
fn drive<G, O>(
    parts: RunParts<'_>,
    strategy: G,
    orders: O,
    ops: impl FnOnce(Arc<Shutdown>) + Send + 'static,
) -> anyhow::Result<engine::RunReport>
where
    G: StrategyStage + 'static,
    O: OrderStage + 'static,
{
    let components = Components {
        source: parts.source,
        strategy,
        orders,
        journal: parts.journal,
        symbols: parts.symbols,
        stream_names: parts.stream_names,
    };
    Ok(engine::run(
        parts.settings,
        components,
        parts.metrics,
        parts.latency,
        parts.shutdown,
        ops,
    )?)
}

/// Bundled data the simulator serves by default, relative to the crate root.
const SIMEX_DEFAULT_MARKETS: [(Market, &str, &str); 2] = [
    (
        Market::Spot,
        "data/binance_spot_btcusdt_20240808.gz",
        "data/binance_spot_exchange_info_btcusdt.json",
    ),
    (
        Market::UsdmFutures,
        "data/binance_usdm_btcusdt_20240808.gz",
        "data/binance_usdm_exchange_info_btcusdt.json",
    ),
];

fn parse_speed(text: &str) -> anyhow::Result<Speed> {
    Ok(match text {
        "real-time" => Speed::RealTime,
        "max" => Speed::AsFastAsPossible,
        other => {
            let factor: f64 = other
                .strip_suffix('x')
                .and_then(|n| n.parse().ok())
                .filter(|f: &f64| f.is_finite() && *f > 0.0)
                .with_context(|| format!("--speed {other:?}: expected real-time, max or <N>x"))?;
            Speed::Times(factor)
        }
    })
}

fn parse_id_range(text: &str) -> anyhow::Result<[u64; 2]> {
    let (a, b) = text
        .split_once('-')
        .with_context(|| format!("--skip-update-ids {text:?}: expected A-B"))?;
    let (a, b): (u64, u64) = (
        a.parse()
            .with_context(|| format!("--skip-update-ids {text:?}"))?,
        b.parse()
            .with_context(|| format!("--skip-update-ids {text:?}"))?,
    );
    anyhow::ensure!(a <= b, "--skip-update-ids {text:?}: start after end");
    Ok([a, b])
}

fn simex_config(args: &SimexArgs) -> anyhow::Result<SimexConfig> {
    let mut config = match &args.config {
        Some(path) => load_toml(path)?,
        None => SimexConfig {
            markets: SIMEX_DEFAULT_MARKETS
                .iter()
                .map(|&(market, capture, info)| MarketReplay {
                    market,
                    capture: vec![PathBuf::from(capture)],
                    exchange_info: PathBuf::from(info),
                })
                .collect(),
            listen: args.listen.unwrap_or(([127, 0, 0, 1], 9443).into()),
            tls: args.tls,
            speed: args
                .speed
                .as_deref()
                .map(parse_speed)
                .transpose()?
                .unwrap_or(Speed::RealTime),
            faults: FaultPlan::default(),
            ping_interval_ms: None,
            pong_timeout_ms: None,
            client_queue_frames: 4096,
            cert_out: None,
            orders: OrderSideConfig::default(),
        },
    };
    if args.cert_out.is_some() {
        config.cert_out.clone_from(&args.cert_out);
    }
    let faults = &mut config.faults;
    for range in &args.skip_update_ids {
        faults.skip_update_ids.push(parse_id_range(range)?);
    }
    faults.drop_every_ms = args.drop_every_ms.or(faults.drop_every_ms);
    if let (Some(every_ms), Some(for_ms)) = (args.stall_every_ms, args.stall_for_ms) {
        faults.stall = Some(StallPlan { every_ms, for_ms });
    }
    faults.malformed_frames += args.malformed;
    faults.split_frames += args.split;
    faults.refuse_connections |= args.refuse_connections;
    faults.rate_limit_requests += args.rate_limit;
    faults.retry_after_secs = args.retry_after_secs.unwrap_or(faults.retry_after_secs);
    faults.ban_secs = args.ban_secs.unwrap_or(faults.ban_secs);
    faults.timestamp_rejects += args.reject_timestamps;
    faults.ack_delay_ms = args.ack_delay_ms.unwrap_or(faults.ack_delay_ms);
    faults.lose_acks += args.lose_acks;
    faults.partial_fill_orders += args.partial_fills;
    faults.duplicate_events += args.duplicate_events;
    faults.reorder_events += args.reorder_events;
    faults.drop_order_connections += args.drop_order_connections;
    if let Some(skew) = args.clock_skew_ms {
        config.orders.clock_skew_ms = skew;
    }
    if args.no_rate_limits {
        config.orders.enforce_rate_limits = false;
    }
    Ok(config)
}

fn simex(args: SimexArgs) -> anyhow::Result<ExitCode> {
    let config = simex_config(&args)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    run_simex(config, &stop)?;
    Ok(ExitCode::SUCCESS)
}

fn replay(
    captures: &[PathBuf],
    symbol: &str,
    market: &str,
    depth: usize,
) -> anyhow::Result<ExitCode> {
    let market = match market {
        "usdm" => BinanceMarket::Usdm,
        _ => BinanceMarket::Spot,
    };
    let report = replay_book(captures, symbol, market, depth)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
