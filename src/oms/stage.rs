//! Owns: the order thread's component — the risk rails in front of the order manager, the
//! manager joined to one venue, and the operator's control link: intents pass the rails and
//! then go through the manager to the venue, the venue's reports come back through the
//! rails' breakers and the manager, market events reach all three (marks, book validity,
//! the paper venue's book), breaches and operator commands become order actions, and every
//! transition is journaled. Never: blocks, reads the clock (the runner passes `now_ns`) or
//! lets a command bypass the rails and the manager.

use crate::core::{MarketEvent, OrderIntent};
use crate::engine::control::{
    BreakerStatus, ControlCommand, ControlEndpoint, ControlOutcome, EngineStatus, StrategyRow,
    STATUS_OPEN_ORDERS, STATUS_STRATEGIES,
};
use crate::engine::stage::{OrderOutputs, OrderStage, Outbox};
use crate::engine::JournalMsg;
use crate::persist::payload::{RiskEvent, TradingStateChange};
use crate::risk::breakers::EquityReading;
use crate::risk::metrics::RiskMetrics;
use crate::risk::{codes, HealthAction, RiskRails, RiskVerdict, Transition};

use super::manager::{Ledger, OrderManager};
use super::metrics::{OmsMetrics, OrderBookState, PUBLISH_EVERY_NS};
use super::venue::{Venue, VenueCommand, VenueReport};

/// Rounds of manager ⇄ venue exchange per input (a fill places a bracket, whose ack may be
/// immediate on the paper venue…); what is left waits for the next poll.
const ROUNDS: usize = 8;
/// Commands and reports one round can hold.
const BUFFER: usize = 256;
/// How often the manager's timers (retries, ack timeouts) run.
const TIMER_EVERY_NS: u64 = 10_000_000;
/// How often the breakers are evaluated (equity, windows, staleness).
const RISK_EVERY_NS: u64 = 100_000_000;
/// How often the operator's status snapshot is refreshed.
const STATUS_EVERY_NS: u64 = 250_000_000;

/// The risk rails, the order manager and its venue, as the engine's order stage.
pub struct OmsStage<V, L> {
    manager: OrderManager<L>,
    venue: V,
    rails: RiskRails,
    commands: Outbox<VenueCommand>,
    reports: Outbox<VenueReport>,
    next_timer_ns: u64,
    next_risk_ns: u64,
    next_status_ns: u64,
    started: bool,
    metrics: Option<OmsMetrics>,
    risk_metrics: Option<RiskMetrics>,
    next_publish_ns: u64,
    control: Option<ControlEndpoint>,
    transitions: u64,
    /// A halt restored from the journal, journaled again when the stage starts.
    restored: Option<Transition>,
    /// The equity last sent to the strategies.
    equity_sent: Option<crate::core::Notional>,
}

impl<V: Venue, L: Ledger + Send> OmsStage<V, L> {
    /// Puts `rails` in front of `manager` and joins it to `venue`; reconciliation starts on
    /// the first call from the runner.
    pub fn new(manager: OrderManager<L>, venue: V, rails: RiskRails) -> Self {
        Self {
            manager,
            venue,
            rails,
            commands: Outbox::with_capacity(BUFFER),
            reports: Outbox::with_capacity(BUFFER),
            next_timer_ns: 0,
            next_risk_ns: 0,
            next_status_ns: 0,
            started: false,
            metrics: None,
            risk_metrics: None,
            next_publish_ns: 0,
            control: None,
            transitions: 0,
            restored: None,
            equity_sent: None,
        }
    }

    /// Registers the order and risk series, kept current from `poll` once a second.
    pub fn attach_metrics(
        &mut self,
        registry: &mut crate::ops::Registry,
        venue: &str,
    ) -> Result<(), crate::ops::OpsError> {
        self.metrics = Some(OmsMetrics::register(registry, venue)?);
        self.risk_metrics = Some(RiskMetrics::register(registry, venue)?);
        Ok(())
    }

    /// Takes operator commands from, and publishes status to, the control API.
    pub fn attach_control(&mut self, control: ControlEndpoint) {
        self.control = Some(control);
    }

    /// Copies the counters and account figures into the series (no-op without metrics).
    pub fn publish_metrics(&mut self) {
        if let Some(metrics) = &mut self.metrics {
            let book = OrderBookState {
                reconciled: self.manager.is_reconciled(),
                open_orders: self.manager.open_orders().count(),
            };
            metrics.publish(
                self.manager.counters(),
                self.manager.ledger().account(),
                book,
            );
        }
        if let Some(metrics) = &mut self.risk_metrics {
            let exposures = self.rails.exposures(self.manager.exposure());
            metrics.publish(&self.rails, exposures, self.transitions);
        }
    }

    /// The order manager (orders, counters, portfolio).
    pub fn manager(&self) -> &OrderManager<L> {
        &self.manager
    }

    /// The risk rails (limits, breakers, health).
    pub fn rails(&self) -> &RiskRails {
        &self.rails
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// The venue, mutably (start-up: restoring an in-process venue's orders).
    pub fn venue_mut(&mut self) -> &mut V {
        &mut self.venue
    }

    /// A halt the rails restored from the journal: journaled again when the stage starts,
    /// so this session's records say why it refuses entries.
    pub fn set_restored(&mut self, restored: Option<Transition>) {
        self.restored = restored;
    }

    /// Sends waiting commands and feeds reports back until both are quiet (bounded).
    fn exchange(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool {
        if !self.started {
            self.started = true;
            if let Some(transition) = self.restored.take() {
                self.apply(transition, now_ns, out);
            }
            // Strategies learn what survived a restart before anything new happens.
            for update in self.manager.open_orders() {
                if out
                    .exec
                    .push(crate::core::ExecEvent::Update(*update))
                    .is_err()
                {
                    break;
                }
            }
            self.manager.start_reconcile(&mut self.commands);
        }
        let mut worked = false;
        for _ in 0..ROUNDS {
            for command in self.commands.drain() {
                self.venue.submit(&command, now_ns);
                worked = true;
            }
            self.venue.poll(now_ns, &mut self.reports);
            if self.reports.is_empty() {
                break;
            }
            worked = true;
            for report in self.reports.drain() {
                self.rails.on_report(&report, now_ns);
                self.manager
                    .on_report(&report, now_ns, &mut self.commands, out);
            }
        }
        worked
    }

    /// Journals a transition and carries out what it asks of the order side.
    fn apply(&mut self, transition: Transition, now_ns: u64, out: &mut OrderOutputs) {
        self.transitions += 1;
        let change = TradingStateChange {
            from: transition.from_mode,
            to: transition.to_mode,
            cause_code: transition.cause,
        };
        self.manager.record(
            out,
            JournalMsg::State {
                event_ns: now_ns,
                change,
            },
        );
        match transition.action {
            HealthAction::None => {}
            HealthAction::EnterSoft => {
                self.manager.cancel_entries(now_ns, &mut self.commands, out);
                let pct = self.rails.limits().soft_stop_tighten_pct;
                self.manager
                    .tighten_stops(pct, now_ns, &mut self.commands, out);
            }
            HealthAction::EnterCritical { flatten } => {
                self.manager.cancel_entries(now_ns, &mut self.commands, out);
                if flatten {
                    self.manager.flatten(now_ns, &mut self.commands, out);
                }
            }
        }
    }

    fn risk_event(&mut self, out: &mut OrderOutputs, now_ns: u64, event: RiskEvent) {
        self.manager.record(
            out,
            JournalMsg::Risk {
                event_ns: now_ns,
                symbol: None,
                event,
            },
        );
    }

    /// Breakers: equity, windows, staleness; then the high-water mark for the journal.
    fn evaluate_risk(&mut self, now_ns: u64, out: &mut OrderOutputs) {
        let value = self.manager.ledger().equity_value();
        let equity = EquityReading {
            value: value.unwrap_or(crate::core::Notional::ZERO),
            trusted: value.is_some() && self.manager.is_reconciled(),
        };
        // Strategies size from the equity the rails trust, when it changed.
        if equity.trusted && self.equity_sent != Some(equity.value) {
            let event = crate::core::ExecEvent::Account {
                equity: equity.value,
            };
            if out.exec.push(event).is_ok() {
                self.equity_sent = Some(equity.value);
            }
        }
        if let Some(transition) = self.rails.on_timer(now_ns, equity) {
            self.apply(transition, now_ns, out);
        }
        if let Some(mark) = self.rails.high_water_mark_to_journal() {
            self.risk_event(
                out,
                now_ns,
                RiskEvent {
                    code: codes::EVENT_HIGH_WATER_MARK,
                    observed: mark,
                    ..RiskEvent::default()
                },
            );
        }
    }

    /// Carries out one operator command.
    fn on_control(
        &mut self,
        command: ControlCommand,
        now_ns: u64,
        out: &mut OrderOutputs,
    ) -> ControlOutcome {
        match command {
            ControlCommand::Kill {
                cancel_all,
                flatten,
            } => {
                if let Some(transition) = self.rails.kill() {
                    self.apply(transition, now_ns, out);
                }
                if cancel_all {
                    self.manager
                        .cancel_everything(now_ns, &mut self.commands, out);
                }
                if flatten {
                    self.manager.flatten(now_ns, &mut self.commands, out);
                }
            }
            ControlCommand::Resume => {
                if let Some(transition) = self.rails.resume() {
                    self.apply(transition, now_ns, out);
                }
            }
            ControlCommand::Flatten => {
                self.risk_event(
                    out,
                    now_ns,
                    RiskEvent {
                        code: codes::EVENT_FLATTEN,
                        ..RiskEvent::default()
                    },
                );
                self.manager.flatten(now_ns, &mut self.commands, out);
            }
            ControlCommand::CancelAll => {
                self.risk_event(
                    out,
                    now_ns,
                    RiskEvent {
                        code: codes::EVENT_CANCEL_ALL,
                        ..RiskEvent::default()
                    },
                );
                self.manager
                    .cancel_everything(now_ns, &mut self.commands, out);
            }
            ControlCommand::SetStrategyMode { strategy, mode } => {
                if !self.rails.set_strategy_mode(strategy, mode) {
                    return ControlOutcome::UnknownStrategy;
                }
                self.risk_event(
                    out,
                    now_ns,
                    RiskEvent {
                        code: codes::EVENT_STRATEGY_MODE,
                        strategy,
                        observed: crate::core::Notional::from_int(mode as i64),
                        ..RiskEvent::default()
                    },
                );
            }
            ControlCommand::ReloadLimits(limits) => {
                self.rails.set_limits(*limits);
                self.risk_event(
                    out,
                    now_ns,
                    RiskEvent {
                        code: codes::EVENT_LIMITS_RELOADED,
                        ..RiskEvent::default()
                    },
                );
            }
        }
        ControlOutcome::Done
    }

    /// Takes the operator's commands and refreshes the status it reads.
    fn serve_control(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool {
        let Some(mut control) = self.control.take() else {
            return false;
        };
        let mut worked = false;
        while let Some(request) = control.next_request() {
            let outcome = self.on_control(request.command, now_ns, out);
            control.reply(request.id, outcome);
            worked = true;
            self.next_status_ns = 0; // show the effect at once
        }
        if worked {
            self.exchange(now_ns, out);
        }
        // Without a spare snapshot (the ops side is behind) it tries again next poll.
        if now_ns >= self.next_status_ns
            && control.publish(|status| self.fill_status(status, now_ns))
        {
            self.next_status_ns = now_ns.saturating_add(STATUS_EVERY_NS);
        }
        self.control = Some(control);
        worked
    }

    fn fill_status(&self, status: &mut EngineStatus, now_ns: u64) {
        let health = self.rails.health();
        let breakers = self.rails.breakers();
        let exposure = self.manager.exposure();
        let (venue, gross) = self.rails.exposures(exposure);
        let (drawdown, daily) = breakers.drawdowns_pct();
        status.published_ns = now_ns;
        status.health = health.health();
        status.mode = health.mode();
        status.kill_switch = health.kill_switch();
        status.mode_cause = health.mode_cause();
        status.reconciled = self.manager.is_reconciled();
        status.equity = breakers.equity();
        status.high_water_mark = breakers.high_water_mark();
        status.drawdown_pct = drawdown;
        status.daily_drawdown_pct = daily;
        status.venue_exposure = venue;
        status.gross_exposure = gross;
        for (slot, (breaker, reading)) in status
            .breakers
            .iter_mut()
            .zip(crate::risk::Breaker::ALL.iter().zip(breakers.readings()))
        {
            *slot = BreakerStatus {
                cause: breaker.cause(),
                level: breaker.level(self.rails.limits()),
                tripped: reading.tripped,
                observed: reading.observed,
                limit: reading.limit,
            };
        }
        status.rejects_total = self.rails.rejects().1;
        status.position_count = self.manager.ledger().position_rows(&mut status.positions);
        status.open_order_count = 0;
        for (slot, update) in status
            .open_orders
            .iter_mut()
            .zip(self.manager.open_orders().take(STATUS_OPEN_ORDERS))
        {
            *slot = *update;
            status.open_order_count += 1;
        }
        status.fill_count = self.manager.recent_fills(&mut status.fills);
        status.strategy_count = 0;
        for (slot, (strategy, mode)) in status
            .strategies
            .iter_mut()
            .zip(self.rails.strategies().take(STATUS_STRATEGIES))
        {
            *slot = StrategyRow {
                strategy,
                mode,
                exposure: self.rails.strategy_exposure(strategy, exposure),
                budget: self.rails.limits().budget_of(strategy),
            };
            status.strategy_count += 1;
        }
    }
}

impl<V: Venue, L: Ledger + Send> OrderStage for OmsStage<V, L> {
    fn on_market(&mut self, event: &MarketEvent, now_ns: u64, out: &mut OrderOutputs) {
        self.rails.on_market(event);
        self.manager.on_market(event);
        // Only a venue that filled something on this event is polled now; sockets are
        // polled from `poll`, not on every market event.
        if self.venue.on_market(event) || !self.started {
            self.exchange(now_ns, out);
        }
    }

    fn on_intent(&mut self, intent: &OrderIntent, now_ns: u64, out: &mut OrderOutputs) {
        match self.rails.check(intent, self.manager.exposure(), now_ns) {
            RiskVerdict::Approved(approved) => {
                self.manager
                    .on_intent(&approved, now_ns, &mut self.commands, out);
            }
            RiskVerdict::Rejected(reject) => {
                self.manager.refuse(intent, reject.code, now_ns, out);
                self.manager.record(
                    out,
                    JournalMsg::Risk {
                        event_ns: now_ns,
                        symbol: Some(intent.symbol),
                        event: RiskEvent {
                            code: reject.code,
                            strategy: intent.strategy,
                            client_order_id: intent.target,
                            observed: reject.observed,
                            limit: reject.limit,
                        },
                    },
                );
            }
        }
        self.exchange(now_ns, out);
    }

    fn on_tick_to_order(&mut self, latency_ns: u64) {
        self.rails.on_tick_to_order(latency_ns);
    }

    fn last_wire_ns(&self) -> Option<u64> {
        self.venue.last_wire_ns()
    }

    fn next_wakeup_ns(&self) -> Option<u64> {
        self.venue.next_wakeup_ns()
    }

    fn poll(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool {
        if now_ns >= self.next_publish_ns {
            self.next_publish_ns = now_ns.saturating_add(PUBLISH_EVERY_NS);
            self.publish_metrics();
        }
        if now_ns >= self.next_risk_ns {
            self.next_risk_ns = now_ns.saturating_add(RISK_EVERY_NS);
            self.evaluate_risk(now_ns, out);
        }
        let commanded = self.serve_control(now_ns, out);
        if now_ns >= self.next_timer_ns {
            self.next_timer_ns = now_ns.saturating_add(TIMER_EVERY_NS);
            self.manager.on_timer(now_ns, &mut self.commands, out);
        }
        self.exchange(now_ns, out) || commanded
    }
}
