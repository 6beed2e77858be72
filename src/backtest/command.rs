//! Owns: `kestrel backtest` — one run (inputs → driver → report files and the terminal
//! table, with a progress line on long runs) or a `--sweep` of a parameter grid, one
//! single-threaded run per combination spread over the cores (rayon), with a results table.
//! Never: lets a run's output depend on the thread it ran on, the order runs finish in, or
//! the wall clock (progress goes to stderr only).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rayon::prelude::*;

use super::config::{read_table, BacktestConfig};
use super::driver::LoopCounts;
use super::input::spec::{open_inputs, InputOptions, InputSpec};
use super::input::MarketInput;
use super::recording::Recording;
use super::report::{write_reports, ReportSummary};
use super::setup::{build, load_instruments, resolve};
use super::sweep::{expand, plain, Combination};
use super::when::parse_utc_ns;

/// What `kestrel backtest` was asked.
#[derive(Debug, Clone)]
pub struct BacktestArgs {
    /// Settings file (None: `kestrel paper`'s defaults).
    pub config: Option<PathBuf>,
    /// Input specs (`[SYMBOL:][KIND[@QUALIFIER]:]PATH`); none: the bundled spot capture.
    pub data: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub out: PathBuf,
    /// Run the config's `[sweep]` grid.
    pub sweep: bool,
    /// Threads for a sweep (None: every core).
    pub threads: Option<usize>,
    /// No progress line and no table.
    pub quiet: bool,
}

/// The bundled capture a backtest replays when given no data.
pub const BUNDLED_CAPTURE: &str = "data/binance_spot_btcusdt_20240808.gz";

/// One finished run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub recording: Recording,
    pub counts: LoopCounts,
    pub summary: ReportSummary,
    pub wall: Duration,
}

/// Runs `kestrel backtest`.
pub fn run_command(args: &BacktestArgs) -> anyhow::Result<()> {
    let table = match &args.config {
        Some(path) => read_table(path)?,
        None => toml::Table::new(),
    };
    let specs = input_specs(&args.data)?;
    let options = InputOptions {
        market: None,
        from_ns: args
            .from
            .as_deref()
            .map(parse_utc_ns)
            .transpose()
            .context("--from")?
            .unwrap_or(0),
        to_ns: args
            .to
            .as_deref()
            .map(parse_utc_ns)
            .transpose()
            .context("--to")?
            .unwrap_or(u64::MAX),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    if args.sweep {
        return run_sweep(args, table, &specs, options);
    }
    let mut single = table;
    if single.remove("sweep").is_some() && !args.quiet {
        eprintln!("kestrel backtest: the config has a [sweep] grid; add --sweep to run it");
    }
    let config = BacktestConfig::from_table(single).context("backtest settings")?;
    let result = run_once(&config, &specs, options, &args.out, !args.quiet)?;
    if !args.quiet {
        print!("{}", super::report::summary_table(&result.summary));
        eprintln!(
            "kestrel backtest: {} events, {} orders, {} fills in {:.2} s ({:.0} events/s); reports in {}",
            result.counts.market_events + result.counts.bars,
            result.summary.total.activity.orders,
            result.summary.total.activity.fills,
            result.wall.as_secs_f64(),
            (result.counts.items as f64) / result.wall.as_secs_f64().max(1e-9),
            args.out.display()
        );
    }
    Ok(())
}

/// The specs of `data`, or the bundled capture.
pub fn input_specs(data: &[String]) -> anyhow::Result<Vec<InputSpec>> {
    if data.is_empty() {
        return Ok(vec![InputSpec::new(resolve(Path::new(BUNDLED_CAPTURE)))]);
    }
    data.iter()
        .map(|text| InputSpec::parse(text).with_context(|| format!("--data {text:?}")))
        .collect()
}

/// One backtest of `config` on `specs`, its reports written to `out`.
pub fn run_once(
    config: &BacktestConfig,
    specs: &[InputSpec],
    options: InputOptions,
    out: &Path,
    show_progress: bool,
) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let (recording, counts) = replay(config, specs, options, show_progress)?;
    let summary = write_reports(&recording, out)
        .with_context(|| format!("writing reports to {}", out.display()))?;
    Ok(RunResult {
        recording,
        counts,
        summary,
        wall: started.elapsed(),
    })
}

/// Replays `specs` through a backtest of `config`.
pub fn replay(
    config: &BacktestConfig,
    specs: &[InputSpec],
    options: InputOptions,
    show_progress: bool,
) -> anyhow::Result<(Recording, LoopCounts)> {
    let instruments = load_instruments(config)?;
    let options = InputOptions {
        market: options.market.or(Some(config.backtest.market)),
        ..options
    };
    let mut input = open_inputs(specs, &instruments.symbols, &options)?;
    let names: Vec<String> = specs.iter().map(|s| s.path.display().to_string()).collect();
    let bars_from_data = specs
        .iter()
        .any(|s| s.resolved_kind() == crate::backtest::input::spec::InputKind::Candles);
    let mut backtest = build(config, &instruments, &names, bars_from_data)?;
    let mut bar = ProgressLine::new(show_progress);
    backtest
        .run(&mut input, 4_096, &mut |progress| bar.show(progress))
        .context("replaying the inputs")?;
    bar.finish();
    Ok(backtest.finish(input.repairs()))
}

/// A one-line progress display on stderr, for runs longer than a second.
struct ProgressLine {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
        }
    }

    fn show(&mut self, (done, total): (u64, u64)) {
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        let fraction = if total > 0 {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let width = 30;
        let filled = (fraction * width as f64) as usize;
        eprint!(
            "\r[{}{}] {:5.1} %  {:.1} s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            fraction * 100.0,
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            eprintln!();
        }
    }
}

/// One line of the sweep's results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SweepRow {
    pub run: usize,
    pub parameters: Vec<(String, String)>,
    pub out: String,
    pub total_return: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub sharpe: Option<f64>,
    pub trades: u64,
    pub win_rate: Option<f64>,
    pub fees_paid: String,
    pub pnl: String,
    pub error: Option<String>,
}

fn run_sweep(
    args: &BacktestArgs,
    table: toml::Table,
    specs: &[InputSpec],
    options: InputOptions,
) -> anyhow::Result<()> {
    let combinations = expand(table)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("kestrel-sweep-{i}"))
        .build()
        .context("starting the sweep's threads")?;
    if !args.quiet {
        eprintln!(
            "kestrel backtest --sweep: {} runs on {} threads",
            combinations.len(),
            threads.max(1)
        );
    }
    let started = Instant::now();
    let rows: Vec<SweepRow> = pool.install(|| {
        combinations
            .par_iter()
            .map(|combination| sweep_run(combination, specs, options, &args.out))
            .collect()
    });
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    std::fs::write(args.out.join("sweep.csv"), sweep_csv(&rows))
        .with_context(|| format!("writing {}/sweep.csv", args.out.display()))?;
    std::fs::write(
        args.out.join("sweep.json"),
        serde_json::to_string_pretty(&rows).context("sweep.json")? + "\n",
    )
    .with_context(|| format!("writing {}/sweep.json", args.out.display()))?;
    if !args.quiet {
        print!("{}", sweep_table(&rows));
        eprintln!(
            "kestrel backtest --sweep: {} runs ({} failed) in {:.2} s; results in {}/sweep.csv",
            rows.len(),
            failed,
            started.elapsed().as_secs_f64(),
            args.out.display()
        );
    }
    anyhow::ensure!(failed == 0, "{failed} of {} sweep runs failed", rows.len());
    Ok(())
}

fn sweep_run(
    combination: &Combination,
    specs: &[InputSpec],
    options: InputOptions,
    out: &Path,
) -> SweepRow {
    let dir_name = format!("run-{:04}", combination.index + 1);
    let dir = out.join(&dir_name);
    let parameters = combination
        .assignments
        .iter()
        .map(|(k, v)| (k.clone(), plain(v)))
        .collect();
    let mut row = SweepRow {
        run: combination.index + 1,
        parameters,
        out: dir_name,
        total_return: None,
        max_drawdown: None,
        sharpe: None,
        trades: 0,
        win_rate: None,
        fees_paid: String::new(),
        pnl: String::new(),
        error: None,
    };
    let result = std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating {}", dir.display()))
        .and_then(|()| run_once(&combination.config, specs, options, &dir, false));
    match result {
        Ok(result) => {
            let total = &result.summary.total;
            row.total_return = total.equity.total_return;
            row.max_drawdown = total.equity.max_drawdown;
            row.sharpe = total.equity.sharpe;
            row.trades = total.trades.closed_trades;
            row.win_rate = total.trades.win_rate;
            row.fees_paid = total.fees_paid.to_string();
            row.pnl = total.equity.pnl.to_string();
        }
        Err(e) => row.error = Some(format!("{e:#}")),
    }
    row
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.6}"))
}

/// The sweep results as CSV (one column per swept key).
pub fn sweep_csv(rows: &[SweepRow]) -> String {
    let keys: Vec<&str> = rows
        .first()
        .map(|r| r.parameters.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut out = String::from("run,");
    for key in &keys {
        out.push_str(key);
        out.push(',');
    }
    out.push_str("total_return,max_drawdown,sharpe,trades,win_rate,fees_paid,pnl,out,error\n");
    for row in rows {
        out.push_str(&format!("{},", row.run));
        for (_, value) in &row.parameters {
            out.push_str(&csv_field(value));
            out.push(',');
        }
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            number(row.total_return),
            number(row.max_drawdown),
            number(row.sharpe),
            row.trades,
            number(row.win_rate),
            row.fees_paid,
            row.pnl,
            row.out,
            csv_field(row.error.as_deref().unwrap_or(""))
        ));
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The sweep results as a terminal table, best total return first.
pub fn sweep_table(rows: &[SweepRow]) -> String {
    let mut sorted: Vec<&SweepRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        b.total_return
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.total_return.unwrap_or(f64::NEG_INFINITY))
            .then(a.run.cmp(&b.run))
    });
    let mut lines = vec![[
        "run".to_owned(),
        "parameters".to_owned(),
        "return %".to_owned(),
        "max DD %".to_owned(),
        "sharpe".to_owned(),
        "trades".to_owned(),
        "pnl".to_owned(),
    ]];
    for row in sorted {
        let pct =
            |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.4}", v * 100.0));
        lines.push([
            row.run.to_string(),
            row.parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            if row.error.is_some() {
                "failed".to_owned()
            } else {
                pct(row.total_return)
            },
            pct(row.max_drawdown),
            row.sharpe
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
            row.trades.to_string(),
            row.pnl.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, width))| {
                if i == 1 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
