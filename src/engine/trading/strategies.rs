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
                .map(|(id, _, dry_run)| {
                    let mode = if dry_run {
                        StrategyMode::DryRun
                    } else {
                        StrategyMode::Enabled
                    };
                    (id, mode)
                })
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

    /// The dispatcher, when the configured strategies run.
    pub fn dispatcher_mut(&mut self) -> Option<&mut Dispatcher> {
        match self {
            StrategySet::Dispatcher(d) => Some(d),
            StrategySet::Probes(_) => None,
        }
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
