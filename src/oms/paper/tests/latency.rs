//! Latency: recorded (entry, report) samples used one per command in order and cycled,
//! commands and reports kept FIFO, and `next_wakeup_ns` naming the exact ready times.

use super::*;

fn at(h: &mut Harness, ns: u64, kind: MarketEventKind) -> Vec<VenueReport> {
    h.now_ns = ns;
    let event = MarketEvent {
        symbol: BTC,
        recv_ns: ns,
        exch_ts_ms: 1_723_161_255_000,
        kind,
    };
    h.venue.on_market(&event);
    h.collect()
}

fn poll_at(h: &mut Harness, ns: u64) -> Vec<VenueReport> {
    h.now_ns = ns;
    h.collect()
}

fn submit_at(h: &mut Harness, ns: u64, order: impl FnOnce(&Harness) -> VenueOrder) {
    let order = order(h);
    h.now_ns = ns;
    h.venue.submit(&VenueCommand::Place(order), ns);
}

fn accepted(reports: &[VenueReport]) -> Vec<ClientOrderId> {
    reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Accepted {
                client_order_id, ..
            } => Some(*client_order_id),
            _ => None,
        })
        .collect()
}

#[test]
fn recorded_samples_are_used_in_order_cycled_and_kept_fifo() {
    let mut h = Harness::spot();
    assert!(h.venue.set_recorded_latency(Vec::new()).is_err());
    h.venue
        .set_recorded_latency(vec![(100, 30), (40, 50), (70, 0)])
        .expect("samples");
    let t0 = h.now_ns + 1_000;
    assert_eq!(h.venue.next_wakeup_ns(), None);
    let resting = |n: u64, price: &'static str| {
        move |h: &Harness| h.order(n, Side::Buy, OrderType::Limit, price, "1")
    };
    submit_at(&mut h, t0, resting(1, "90"));
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 100));
    // Sample 2's entry (40) would land it before order 1: it waits behind it.
    submit_at(&mut h, t0 + 10, resting(2, "91"));
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 100));
    assert!(poll_at(&mut h, t0 + 99).is_empty());
    assert_eq!(h.venue.open_orders(), 0, "nothing at the venue before +100");
    assert!(poll_at(&mut h, t0 + 100).is_empty(), "acks travel back");
    assert_eq!(h.venue.open_orders(), 2);
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 130));
    assert!(poll_at(&mut h, t0 + 129).is_empty());
    assert_eq!(accepted(&poll_at(&mut h, t0 + 130)), vec![id(1)]);
    // Order 2's ack: executed at +100, report latency 50.
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 150));
    assert!(poll_at(&mut h, t0 + 149).is_empty());
    assert_eq!(accepted(&poll_at(&mut h, t0 + 150)), vec![id(2)]);
    assert_eq!(h.venue.next_wakeup_ns(), None);
    submit_at(&mut h, t0 + 200, resting(3, "92"));
    assert_eq!(
        h.venue.next_wakeup_ns(),
        Some(t0 + 270),
        "sample 3: entry 70"
    );
    assert_eq!(
        accepted(&poll_at(&mut h, t0 + 270)),
        vec![id(3)],
        "report 0"
    );
    submit_at(&mut h, t0 + 300, resting(4, "93"));
    assert_eq!(
        h.venue.next_wakeup_ns(),
        Some(t0 + 400),
        "the samples cycle: sample 1 again"
    );
    assert!(poll_at(&mut h, t0 + 429).is_empty());
    assert_eq!(accepted(&poll_at(&mut h, t0 + 430)), vec![id(4)]);
}

#[test]
fn an_order_meets_the_book_of_its_arrival_and_its_reports_wait_the_report_latency() {
    let mut h = Harness::spot();
    h.venue
        .set_recorded_latency(vec![(100, 30)])
        .expect("samples");
    let t0 = h.now_ns + 1_000;
    submit_at(&mut h, t0, |h: &Harness| {
        h.order(1, Side::Buy, OrderType::Market, "0", "1")
    });
    assert!(at(&mut h, t0 + 50, book(2, 110, 111)).is_empty());
    // The book of +100 arrives at the same ns the order does: the order is there first.
    assert!(at(&mut h, t0 + 100, book(3, 120, 121)).is_empty());
    assert!(poll_at(&mut h, t0 + 129).is_empty());
    let reports = poll_at(&mut h, t0 + 130);
    assert_eq!(accepted(&reports), vec![id(1)]);
    let fill = reports
        .iter()
        .find_map(|r| match r {
            VenueReport::Fill(f) => Some(*f),
            _ => None,
        })
        .expect("the market order filled");
    // Taker at 111: fee 0.2 % of 111.
    assert_eq!(
        (fill.price, fill.qty, fill.is_maker, fill.fee),
        (p("111"), q("1"), false, q("0.222"))
    );
    // A resting sell: its fill, made by a trade, waits the last command's report latency.
    submit_at(&mut h, t0 + 200, |h: &Harness| {
        h.order(2, Side::Sell, OrderType::Limit, "130", "1")
    });
    assert_eq!(accepted(&poll_at(&mut h, t0 + 330)), vec![id(2)]);
    assert!(at(&mut h, t0 + 500, trade(9, "131", "2")).is_empty());
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 530));
    assert!(poll_at(&mut h, t0 + 529).is_empty());
    let reports = poll_at(&mut h, t0 + 530);
    assert_eq!(fills(&reports), vec![(p("130"), q("1"), true)]);
}

#[test]
fn constant_latencies_report_their_ready_times_too() {
    let mut h = Harness::new(
        PaperConfig {
            entry_latency_ns: 100,
            report_latency_ns: 30,
            ..config()
        },
        Market::Spot,
    );
    let t0 = h.now_ns + 1_000;
    submit_at(&mut h, t0, |h: &Harness| {
        h.order(1, Side::Buy, OrderType::Limit, "90", "1")
    });
    submit_at(&mut h, t0 + 5, |h: &Harness| {
        h.order(2, Side::Buy, OrderType::Limit, "90", "1")
    });
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 100));
    assert!(poll_at(&mut h, t0 + 100).is_empty());
    assert_eq!(
        h.venue.next_wakeup_ns(),
        Some(t0 + 105),
        "order 2's arrival"
    );
    assert!(poll_at(&mut h, t0 + 105).is_empty());
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 130));
    assert_eq!(accepted(&poll_at(&mut h, t0 + 130)), vec![id(1)]);
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 135));
    assert_eq!(accepted(&poll_at(&mut h, t0 + 135)), vec![id(2)]);
    assert_eq!(h.venue.next_wakeup_ns(), None);
}

#[test]
fn a_report_with_a_shorter_latency_waits_behind_the_one_before_it() {
    let mut h = Harness::spot();
    h.venue
        .set_recorded_latency(vec![(100, 50), (10, 0)])
        .expect("samples");
    let t0 = h.now_ns + 1_000;
    submit_at(&mut h, t0, |h: &Harness| {
        h.order(1, Side::Buy, OrderType::Limit, "90", "1")
    });
    assert!(poll_at(&mut h, t0 + 100).is_empty());
    // Order 2 reaches the venue at +120 and is answered at once, but order 1's ack (+150)
    // is ahead of it on the connection.
    submit_at(&mut h, t0 + 110, |h: &Harness| {
        h.order(2, Side::Buy, OrderType::Limit, "91", "1")
    });
    assert!(poll_at(&mut h, t0 + 120).is_empty());
    assert_eq!(h.venue.open_orders(), 2);
    assert_eq!(h.venue.next_wakeup_ns(), Some(t0 + 150));
    assert_eq!(accepted(&poll_at(&mut h, t0 + 150)), vec![id(1), id(2)]);
}
