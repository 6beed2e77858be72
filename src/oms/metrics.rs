//! Owns: the order side's Prometheus series (orders sent, rejected locally and by the venue,
//! fills, duplicates, cancels, retries, brackets, unprotected positions, account figures) and
//! copying the manager's counters into them. Never: runs per order; the stage publishes at
//! most once per [`PUBLISH_EVERY_NS`], adding deltas to atomics.

use crate::ops::{Counter, Gauge, OpsError, Registry};

use super::manager::OmsCounters;

/// How often the stage copies its counters into the series.
pub const PUBLISH_EVERY_NS: u64 = 1_000_000_000;

/// Account figures a ledger reports for the gauges, in the quote currency.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountFigures {
    pub equity: f64,
    pub realized_pnl: f64,
    pub unrealized_pnl: f64,
    pub fees: f64,
}

/// Where the manager's orders stand, for the gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderBookState {
    /// Every traded symbol reconciled with the venue.
    pub reconciled: bool,
    /// Orders held open.
    pub open_orders: usize,
}

/// The order side's series.
#[derive(Debug)]
pub struct OmsMetrics {
    submitted: Counter,
    rejected_local: Counter,
    rejected_venue: Counter,
    fills: Counter,
    duplicate_fills: Counter,
    unknown_fills: Counter,
    cancels: Counter,
    retries: Counter,
    queries: Counter,
    brackets: Counter,
    unprotected: Counter,
    adopted: Counter,
    outbox_full: Counter,
    unanswered: Counter,
    equity: Gauge,
    realized: Gauge,
    unrealized: Gauge,
    fees: Gauge,
    reconciled: Gauge,
    open_orders: Gauge,
    last: OmsCounters,
}

impl OmsMetrics {
    /// Registers the series for the venue named `venue` (e.g. `paper`, `binance-spot`).
    pub fn register(registry: &mut Registry, venue: &str) -> Result<Self, OpsError> {
        let labels = [("venue", venue)];
        let mut counter = |name: &str, help: &str| registry.counter(name, help, &labels);
        let submitted = counter("orders_submitted_total", "Orders sent to the venue")?;
        let fills = counter("orders_filled_total", "Fills applied to the portfolio")?;
        let duplicate_fills = counter(
            "venue_duplicate_fills_total",
            "Fills the venue reported more than once (ignored)",
        )?;
        let unknown_fills = counter(
            "venue_unknown_order_fills_total",
            "Fills of orders kestrel did not send (adopted and journaled)",
        )?;
        let cancels = counter("orders_cancel_requests_total", "Cancels sent to the venue")?;
        let retries = counter(
            "orders_retries_total",
            "New-order requests re-sent with the same client id (rate limit, -1021, unavailable)",
        )?;
        let queries = counter(
            "orders_status_queries_total",
            "Orders whose outcome was unknown and was asked of the venue",
        )?;
        let brackets = counter(
            "orders_brackets_placed_total",
            "Exchange-side stop-loss / take-profit brackets placed or replaced",
        )?;
        let unprotected = counter(
            "orders_unprotected_total",
            "Bracket orders the venue refused, leaving a position unprotected",
        )?;
        let adopted = counter(
            "orders_adopted_total",
            "Open orders found at the venue that kestrel did not know (adopted)",
        )?;
        let outbox_full = counter(
            "oms_outbox_full_total",
            "Order-stage outputs dropped because an outbox was full",
        )?;
        let unanswered = counter(
            "orders_unanswered_total",
            "Orders the venue never answered about, even after every status query",
        )?;
        let mut rejected = |origin: &str| {
            registry.counter(
                "orders_rejected_total",
                "Orders refused, by where (local checks or the venue)",
                &[("venue", venue), ("origin", origin)],
            )
        };
        let rejected_local = rejected("local")?;
        let rejected_venue = rejected("venue")?;
        let mut gauge = |name: &str, help: &str| registry.gauge(name, help, &labels);
        Ok(Self {
            submitted,
            rejected_local,
            rejected_venue,
            fills,
            duplicate_fills,
            unknown_fills,
            cancels,
            retries,
            queries,
            brackets,
            unprotected,
            adopted,
            outbox_full,
            unanswered,
            equity: gauge("equity_usd", "Account equity in the quote currency")?,
            realized: gauge("pnl_realized_usd", "Realized PnL in the quote currency")?,
            unrealized: gauge("pnl_unrealized_usd", "Unrealized PnL at the latest marks")?,
            fees: gauge(
                "fees_paid_usd",
                "Fees paid, converted to the quote currency",
            )?,
            reconciled: gauge(
                "orders_reconciled",
                "1 once every traded symbol is reconciled with the venue (orders may go out)",
            )?,
            open_orders: gauge(
                "orders_open",
                "Orders the manager holds open (working or awaiting the venue's answer)",
            )?,
            last: OmsCounters::default(),
        })
    }

    /// Adds what changed since the last call and sets the account and order gauges.
    pub fn publish(&mut self, now: &OmsCounters, account: AccountFigures, book: OrderBookState) {
        let last = &self.last;
        let pairs = [
            (&self.submitted, now.orders_sent, last.orders_sent),
            (&self.rejected_local, now.local_rejects, last.local_rejects),
            (&self.rejected_venue, now.venue_rejects, last.venue_rejects),
            (&self.fills, now.fills, last.fills),
            (
                &self.duplicate_fills,
                now.duplicate_fills,
                last.duplicate_fills,
            ),
            (
                &self.unknown_fills,
                now.fills_unknown_order,
                last.fills_unknown_order,
            ),
            (&self.cancels, now.cancels_sent, last.cancels_sent),
            (&self.retries, now.retries, last.retries),
            (&self.queries, now.queries, last.queries),
            (&self.brackets, now.brackets_placed, last.brackets_placed),
            (
                &self.unprotected,
                now.unprotected_fills,
                last.unprotected_fills,
            ),
            (&self.adopted, now.adopted_orders, last.adopted_orders),
            (&self.outbox_full, now.outbox_full, last.outbox_full),
            (&self.unanswered, now.unanswered, last.unanswered),
        ];
        for (counter, value, before) in pairs {
            counter.add(value.saturating_sub(before));
        }
        self.equity.set_f64(account.equity);
        self.realized.set_f64(account.realized_pnl);
        self.unrealized.set_f64(account.unrealized_pnl);
        self.fees.set_f64(account.fees);
        self.reconciled
            .set_f64(if book.reconciled { 1.0 } else { 0.0 });
        self.open_orders.set_f64(book.open_orders as f64);
        self.last = *now;
    }
}
