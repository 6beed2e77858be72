//! Owns: the order thread's component — the order manager joined to one venue: intents go
//! through the manager to the venue, the venue's reports come back through the manager, and
//! market events reach both (reference prices, marks, the paper venue's book). Never: blocks,
//! reads the clock (the runner passes `now_ns`) or lets a command bypass the manager.

use crate::core::{MarketEvent, OrderIntent};
use crate::engine::stage::{OrderOutputs, OrderStage, Outbox};

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

/// The order manager and its venue, as the engine's order stage.
pub struct OmsStage<V, L> {
    manager: OrderManager<L>,
    venue: V,
    commands: Outbox<VenueCommand>,
    reports: Outbox<VenueReport>,
    next_timer_ns: u64,
    started: bool,
    metrics: Option<OmsMetrics>,
    next_publish_ns: u64,
}

impl<V: Venue, L: Ledger + Send> OmsStage<V, L> {
    /// Joins `manager` to `venue`; reconciliation starts on the first call from the runner.
    pub fn new(manager: OrderManager<L>, venue: V) -> Self {
        Self {
            manager,
            venue,
            commands: Outbox::with_capacity(BUFFER),
            reports: Outbox::with_capacity(BUFFER),
            next_timer_ns: 0,
            started: false,
            metrics: None,
            next_publish_ns: 0,
        }
    }

    /// Registers the order side's series, kept current from `poll` once a second.
    pub fn attach_metrics(
        &mut self,
        registry: &mut crate::ops::Registry,
        venue: &str,
    ) -> Result<(), crate::ops::OpsError> {
        self.metrics = Some(OmsMetrics::register(registry, venue)?);
        Ok(())
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
    }

    /// The order manager (orders, counters, portfolio).
    pub fn manager(&self) -> &OrderManager<L> {
        &self.manager
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// The venue, mutably (start-up: restoring an in-process venue's orders).
    pub fn venue_mut(&mut self) -> &mut V {
        &mut self.venue
    }

    /// Sends waiting commands and feeds reports back until both are quiet (bounded).
    fn exchange(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool {
        if !self.started {
            self.started = true;
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
                self.manager
                    .on_report(&report, now_ns, &mut self.commands, out);
            }
        }
        worked
    }
}

impl<V: Venue, L: Ledger + Send> OrderStage for OmsStage<V, L> {
    fn on_market(&mut self, event: &MarketEvent, now_ns: u64, out: &mut OrderOutputs) {
        self.manager.on_market(event);
        // Only a venue that filled something on this event is polled now; sockets are
        // polled from `poll`, not on every market event.
        if self.venue.on_market(event) || !self.started {
            self.exchange(now_ns, out);
        }
    }

    fn on_intent(&mut self, intent: &OrderIntent, now_ns: u64, out: &mut OrderOutputs) {
        self.manager
            .on_intent(intent, now_ns, &mut self.commands, out);
        self.exchange(now_ns, out);
    }

    fn last_wire_ns(&self) -> Option<u64> {
        self.venue.last_wire_ns()
    }

    fn poll(&mut self, now_ns: u64, out: &mut OrderOutputs) -> bool {
        if now_ns >= self.next_publish_ns {
            self.next_publish_ns = now_ns.saturating_add(PUBLISH_EVERY_NS);
            self.publish_metrics();
        }
        if now_ns >= self.next_timer_ns {
            self.next_timer_ns = now_ns.saturating_add(TIMER_EVERY_NS);
            self.manager.on_timer(now_ns, &mut self.commands, out);
        }
        self.exchange(now_ns, out)
    }
}
