//! Owns: what the order manager does when a venue refuses a new order: send it again under
//! the same id, ask the venue about it, or end it — an OCO list as one request, so both of
//! its legs share one decision whether the refusal names the list or either leg.
//! Never: reads the clock, does I/O, or sends a leg of a list on its own.
//!
//! A refused bracket leaves its position unprotected: that is counted
//! (`unprotected_fills`, exported as `orders_unprotected_total`), journaled once per request,
//! and once no leg is left the entry's protected quantity drops to zero, so its next fill
//! brackets the whole position again. Each refused order counts once in `venue_rejects`
//! (`orders_rejected_total{origin="venue"}`): an OCO counts its two legs, as it sent two.

use crate::core::{ClientOrderId, OrderRole, OrderStatus, Qty};
use crate::engine::stage::{OrderOutputs, Outbox};
use crate::engine::JournalMsg;

use super::{reject, Ledger, OrderManager};
use crate::oms::venue::{RejectKind, VenueCommand, VenueReject};

/// What a refusal of a new order leads to.
#[derive(Clone, Copy)]
enum Next {
    /// Send the same request again at this time (ns).
    RetryAt(u64),
    /// Our earlier attempt reached the venue: ask what it holds instead of failing.
    Ask,
    /// The order ends refused with this reject code.
    Reject(u16),
}

impl<L: Ledger> OrderManager<L> {
    pub(super) fn on_rejected(
        &mut self,
        id: ClientOrderId,
        venue_reject: VenueReject,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        // The request the refusal answers: one order, or both legs of a list.
        let list = self.oco_request(id);
        let legs = list.map_or([id, ClientOrderId::default()], |(_, legs)| legs);
        let lead = match list {
            Some((list_id, legs)) if list_id == id => legs[0],
            _ => id,
        };
        let max_retries = self.config.max_retries;
        let backoff = self.config.retry_backoff_ns;
        let Some(order) = self.orders.get_mut(&lead) else {
            self.counters.stale_reports += 1;
            return;
        };
        // A cancel we sent before the venue acknowledged the order does not make the
        // order's own reject stale: the order never existed at the venue.
        let unacked_cancel =
            order.state.status == OrderStatus::PendingCancel && order.state.venue_order_id == 0;
        if order.state.status != OrderStatus::PendingNew && !unacked_cancel {
            if venue_reject.kind == RejectKind::UnknownOrder && order.is_open() {
                // Our query: the venue has no such order any more. It ended while we were
                // away without a fill we know of (fills arrive with reconciliation).
                order.state.status = OrderStatus::Expired;
                let update = order.state;
                self.emit(out, now_ns, update);
                self.finished.push_back(lead);
                return;
            }
            // A late reject of a retried request the venue had already taken (a duplicate).
            self.counters.stale_reports += 1;
            return;
        }
        if list.is_some() && order.retry_at_ns != 0 {
            // The other leg's answer to the same attempt: its retry is already due.
            return;
        }
        let retryable = matches!(
            venue_reject.kind,
            RejectKind::RateLimited | RejectKind::Timestamp | RejectKind::Unavailable
        );
        // A timestamp reject is retried once (after the gateway resynced its clock).
        let budget = if venue_reject.kind == RejectKind::Timestamp {
            1
        } else {
            max_retries
        };
        // The venue never received an order an earlier (killed) session sent: the decision
        // behind it is stale, seconds or hours old; it is rejected, not sent again.
        let lost_in_restart =
            venue_reject.kind == RejectKind::UnknownOrder && lead.session() != self.ids.session();
        let next = if lost_in_restart {
            Next::Reject(reject::NOT_AT_VENUE_AFTER_RESTART)
        } else if venue_reject.kind == RejectKind::UnknownOrder && order.retries < max_retries {
            // Our query of an unanswered order: the venue never received it. Send it again
            // under the same id (a copy that did arrive meanwhile is refused as a duplicate).
            Next::RetryAt(now_ns)
        } else if retryable && order.retries < budget {
            let wait = venue_reject
                .retry_after_ms
                .saturating_mul(1_000_000)
                .max(backoff);
            Next::RetryAt(now_ns.saturating_add(wait))
        } else if venue_reject.kind == RejectKind::Duplicate && order.retries > 0 {
            Next::Ask
        } else if retryable {
            Next::Reject(reject::RETRIES_EXHAUSTED)
        } else {
            Next::Reject(reject::venue_code(&venue_reject))
        };
        let Next::Reject(code) = next else {
            for leg in legs {
                let Some(order) = self.orders.get_mut(&leg) else {
                    continue;
                };
                match next {
                    Next::RetryAt(at) => {
                        order.retries += 1;
                        order.retry_at_ns = at;
                    }
                    // The ack timeout then asks at once.
                    _ => order.sent_ns = 0,
                }
            }
            self.next_order_scan_ns = 0;
            return;
        };
        let mut last = None;
        for leg in legs {
            let Some(order) = self.orders.get_mut(&leg) else {
                continue;
            };
            if !order.is_open() {
                continue;
            }
            order.state.status = OrderStatus::Rejected;
            order.state.reject_code = code;
            order.retry_at_ns = 0;
            let update = order.state;
            self.counters.venue_rejects += 1;
            self.emit(out, now_ns, update);
            self.finished.push_back(leg);
            last = Some(update);
        }
        let Some(update) = last else {
            return;
        };
        if update.role != OrderRole::Entry && !unacked_cancel {
            // A protective order the venue refused leaves the position unprotected.
            self.counters.unprotected_fills += 1;
            self.journal(
                out,
                JournalMsg::note(now_ns, "bracket order rejected: position unprotected"),
            );
            let bracket = self.orders.get(&update.parent).map(|entry| entry.bracket);
            let none_left = bracket.is_some_and(|bracket| {
                bracket
                    .iter()
                    .all(|leg| !self.orders.get(leg).is_some_and(|o| o.is_open()))
            });
            if let Some(entry) = self.orders.get_mut(&update.parent).filter(|_| none_left) {
                entry.protected_qty = Qty::ZERO;
                // A bracket a killed session sent that never reached the venue: its entry's
                // fill still needs one (unlike a bracket the venue refused, which would be
                // refused again).
                entry.rebracket |= code == reject::NOT_AT_VENUE_AFTER_RESTART
                    && entry.state.filled_qty.is_positive();
            }
        }
        self.after_leg_final(&update, now_ns, commands, out);
    }
}
