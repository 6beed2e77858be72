//! Owns: the strategy stage a trading run drives — the probes, or the dispatcher of the
//! `[strategies]` section — and resuming it from the journal: every fill booked to its
//! strategy, the orders still open, the latest state snapshot of each strategy. Never:
//! decides a trade or reads the journal itself (the order side's rebuild shows it the
//! records).

use std::collections::BTreeMap;

use crate::book::Bar;
use crate::core::{ExecEvent, MarketEvent, OrderIntent, StrategyId};
use crate::engine::stage::{Outbox, SnapshotSink, StrategyStage};
use crate::oms::recovery::Replayed;
use crate::risk::StrategyMode;
use crate::strat::Dispatcher;

use super::Probes;

/// The strategies of a run.
pub enum StrategySet {
    /// One probe per traded symbol (demos, benchmarks).
    Probes(Probes),
    /// The configured strategies behind the dispatcher.
    Dispatcher(Box<Dispatcher>),
}

impl StrategySet {
    /// Every strategy's id and risk-rail mode.
    pub fn modes(&self) -> Vec<(StrategyId, StrategyMode)> {
        match self {
            StrategySet::Probes(p) => p.modes(),
            StrategySet::Dispatcher(d) => d
                .strategies()
                .into_iter()
                .map(|(id, _, dry_run)| (id, mode_of(dry_run)))
                .collect(),
        }
    }

    /// Strategies run.
    pub fn len(&self) -> usize {
        match self {
            StrategySet::Probes(p) => p.len(),
            StrategySet::Dispatcher(d) => d.strategies().len(),
        }
    }

    /// True when nothing trades.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The risk-rail mode of a strategy that runs dry or not.
pub fn mode_of(dry_run: bool) -> StrategyMode {
    if dry_run {
        StrategyMode::DryRun
    } else {
        StrategyMode::Enabled
    }
}

/// Collects what the journal replay shows the strategies: fills are booked at once, the
/// latest snapshot of each component is kept for [`Resume::finish`].
#[derive(Default)]
pub struct Resume {
    snapshots: BTreeMap<String, Vec<u8>>,
}

/// What resuming restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeReport {
    /// Components whose snapshot was restored.
    pub restored: Vec<String>,
    /// Snapshots that could not be restored (component, error): the strategy starts fresh.
    pub failed: Vec<(String, String)>,
    /// Orders still open that were handed to their strategies.
    pub open_orders: usize,
}

impl Resume {
    /// The observer for `oms::recovery::rebuild_observed`.
    pub fn observe(&mut self, set: &mut StrategySet, record: Replayed<'_>) {
        let StrategySet::Dispatcher(d) = set else {
            return;
        };
        match record {
            Replayed::Fill(fill) => d.restore_fill(fill),
            Replayed::Snapshot { component, body } => {
                self.snapshots.insert(component.to_owned(), body.to_vec());
            }
        }
    }

    /// Restores the snapshots and hands the orders still open to their strategies.
    pub fn finish<'a>(
        self,
        set: &mut StrategySet,
        open_orders: impl Iterator<Item = &'a crate::core::OrderUpdate>,
    ) -> ResumeReport {
        let mut report = ResumeReport::default();
        let StrategySet::Dispatcher(d) = set else {
            return report;
        };
        for update in open_orders {
            d.restore_order(update);
            report.open_orders += 1;
        }
        for (component, body) in self.snapshots {
            match d.restore_snapshot(&component, &body) {
                Ok(true) => report.restored.push(component),
                Ok(false) => {}
                Err(e) => report.failed.push((component, e.to_string())),
            }
        }
        report
    }
}

impl StrategyStage for StrategySet {
    fn on_market(&mut self, event: &MarketEvent, intents: &mut Outbox<OrderIntent>) {
        match self {
            StrategySet::Probes(p) => p.on_market(event, intents),
            StrategySet::Dispatcher(d) => d.on_market(event, intents),
        }
    }

    fn on_exec(&mut self, event: &ExecEvent, intents: &mut Outbox<OrderIntent>) {
        match self {
            StrategySet::Probes(p) => p.on_exec(event, intents),
            StrategySet::Dispatcher(d) => d.on_exec(event, intents),
        }
    }

    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<OrderIntent>) {
        match self {
            StrategySet::Probes(p) => p.on_timer(now_ns, intents),
            StrategySet::Dispatcher(d) => d.on_timer(now_ns, intents),
        }
    }

    fn on_bar(&mut self, bar: &Bar, intents: &mut Outbox<OrderIntent>) {
        match self {
            StrategySet::Probes(p) => p.on_bar(bar, intents),
            StrategySet::Dispatcher(d) => d.on_bar(bar, intents),
        }
    }

    fn snapshots(&mut self, now_ns: u64, sink: &mut dyn SnapshotSink) {
        if let StrategySet::Dispatcher(d) = self {
            d.snapshots(now_ns, sink);
        }
    }
}

/// Where a run's configured strategies come from and go.
pub struct StrategySetup<'a> {
    pub config: &'a crate::strat::StrategiesConfig,
    pub symbols: &'a crate::core::SymbolTable,
    pub traded: &'a [(crate::core::SymbolId, crate::core::Instrument)],
    pub market: crate::core::Market,
    /// Relative model and profile paths resolve here.
    pub base_dir: &'a std::path::Path,
    /// Metrics `venue` label.
    pub venue_label: &'a str,
    /// Market-data REST of the venue, for the start-up kline warm-up (None: no warm-up).
    pub klines_from: Option<(&'a str, Option<&'a std::path::Path>)>,
}

/// What the warm-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmUpReport {
    /// Closed bars handed to the strategies.
    pub bars: usize,
    /// (symbol, minutes, error) of fetches that failed: those indicators warm up live.
    pub failed: Vec<(String, u32, String)>,
}

/// The dispatcher of `[strategies]` for a trading run, with its metrics registered, lot
/// floors set and its indicators warmed up from the venue's closed klines; plus the file
/// watcher for its run-time reloads (None when nothing is watched).
pub fn configured_strategies(
    setup: &StrategySetup<'_>,
    registry: &mut crate::ops::Registry,
) -> anyhow::Result<(
    StrategySet,
    Option<crate::engine::reload::FileWatcher>,
    WarmUpReport,
)> {
    use crate::engine::reload::{FileWatcher, WatchedFile};
    use crate::strat::api::RELOAD_HMM_MODEL;
    let built = setup.config.build(
        setup.symbols,
        setup.traded,
        setup.market,
        false,
        setup.base_dir,
    )?;
    for (section, name) in &built.left_out {
        eprintln!("kestrel: strategies.{section}: {name} is not traded by this run, left out");
    }
    let mut dispatcher = built.dispatcher;
    let names = setup.symbols.names_by_index();
    dispatcher.attach_metrics(registry, setup.venue_label, &names)?;
    let mut report = WarmUpReport::default();
    if let Some((rest, cert)) = setup.klines_from {
        let mut bars = Vec::new();
        for (id, instrument) in setup.traded {
            for minutes in dispatcher.warm_up_timeframes(*id) {
                match crate::feed::binance::klines::fetch_closed_klines(
                    rest,
                    cert,
                    setup.market,
                    &instrument.symbol,
                    *id,
                    minutes,
                    1000,
                ) {
                    Ok(fetched) => bars.extend(fetched),
                    Err(e) => {
                        report
                            .failed
                            .push((instrument.symbol.clone(), minutes, format!("{e:#}")))
                    }
                }
            }
        }
        // In time order; at one close, shorter bars first (as live bars arrive).
        bars.sort_by_key(|b| (b.close_time_ms, b.timeframe_min, b.symbol.index()));
        for bar in &bars {
            dispatcher.warm_up(bar);
        }
        report.bars = bars.len();
    }
    let watcher = if built.watched.is_empty() {
        None
    } else {
        let files = built
            .watched
            .into_iter()
            .map(|(key, path)| WatchedFile {
                key,
                path,
                parse: if key == RELOAD_HMM_MODEL {
                    crate::strat::config::parse_model
                } else {
                    crate::strat::config::parse_calibration
                },
            })
            .collect();
        let (mut watcher, rx) = FileWatcher::new(files);
        // The start-up versions are in the strategies already; only newer ones are sent.
        watcher.load_all()?;
        dispatcher.attach_reloads(rx);
        Some(watcher)
    };
    Ok((
        StrategySet::Dispatcher(Box::new(dispatcher)),
        watcher,
        report,
    ))
}
