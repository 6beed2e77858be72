//! A margin order handed to the Binance gateway (build, filter check, HMAC, hand-off to the
//! REST thread) makes zero heap allocations on the order thread once warm, counted by a
//! per-thread counting global allocator; the orders still fill at simex.

mod alloc_support;
mod simex_support;

use std::time::{Duration, Instant};

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::core::clock::mono_ns;
use kestrel::core::{
    ClientOrderId, Market as CoreMarket, OrderType, Price, Qty, Side, SymbolTable, TimeInForce,
};
use kestrel::engine::stage::Outbox;
use kestrel::oms::binance::gateway::{BinanceGateway, GatewayConfig, GatewayKeys};
use kestrel::oms::binance::{InstrumentFamily, OrderSymbols};
use kestrel::oms::venue::{MarginParams, Venue, VenueCommand, VenueOrder, VenueReport};
use kestrel::sim::{Market, Speed};
use simex_support::{bundled_btcusdt, config, start, SPOT_INFO, TIMEOUT};

/// Polls `gateway` until `done` holds for the reports so far.
fn poll_until(
    gateway: &mut BinanceGateway,
    reports: &mut Outbox<VenueReport>,
    seen: &mut Vec<VenueReport>,
    what: &str,
    done: impl Fn(&BinanceGateway, &[VenueReport]) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        gateway.poll(mono_ns(), reports);
        seen.extend(reports.drain());
        if done(gateway, seen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not reached; {gateway:?}, last error {:?}",
            gateway.last_error()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn handing_a_margin_order_to_the_rest_thread_does_not_allocate() {
    // More orders than Binance's 50 per 10 s: the test needs more than the gateway's pool
    // of REST buffers (64, two per order) to show they come back.
    let mut simex = config(Market::Spot, Speed::AsFastAsPossible, false);
    simex.orders.enforce_rate_limits = false;
    let handle = start(simex);
    let (info, instrument) = bundled_btcusdt(SPOT_INFO, CoreMarket::Margin);
    let mut table = SymbolTable::new();
    let btc = table.intern("BTCUSDT").expect("name");
    let symbols =
        OrderSymbols::new(InstrumentFamily::Spot, &table, &[instrument]).expect("spot symbols");
    let port = handle.addr(Market::Spot).expect("served").port();
    let mut config =
        GatewayConfig::for_host(CoreMarket::Margin, &format!("127.0.0.1:{port}"), false);
    config.local_rate_limits = false;
    let mut gateway = BinanceGateway::new(
        config,
        &GatewayKeys::simex_test(),
        symbols,
        &info.rate_limits,
    )
    .expect("margin gateway");
    let mut reports = Outbox::with_capacity(1024);
    let mut seen = Vec::with_capacity(4096);
    poll_until(&mut gateway, &mut reports, &mut seen, "link up", |g, _| {
        g.is_up()
    });
    let order = |n: u64| VenueOrder {
        client_order_id: ClientOrderId((1 << 40) + n),
        symbol: btc,
        market: CoreMarket::Margin,
        side: if n % 2 == 0 { Side::Buy } else { Side::Sell },
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Gtc,
        price: Price::ZERO,
        trigger_price: Price::ZERO,
        qty: Qty::parse("0.001").expect("valid"),
        reduce_only: false,
        margin: MarginParams::default(),
    };
    let filled = |id: ClientOrderId| {
        move |_: &BinanceGateway, seen: &[VenueReport]| {
            seen.iter()
                .any(|r| matches!(r, VenueReport::Fill(f) if f.client_order_id == id))
        }
    };
    // Warm-up: the first orders size the buffers, maps and the HTTP connection.
    for n in 0..4 {
        gateway.submit(&VenueCommand::Place(order(n)), mono_ns());
        poll_until(
            &mut gateway,
            &mut reports,
            &mut seen,
            "warm-up fill",
            filled(order(n).client_order_id),
        );
    }
    let mut allocations = 0;
    for n in 4..48 {
        let command = VenueCommand::Place(order(n));
        let now = mono_ns();
        let before = thread_allocs();
        gateway.submit(&command, now);
        allocations += thread_allocs() - before;
        poll_until(
            &mut gateway,
            &mut reports,
            &mut seen,
            "measured order filled",
            filled(order(n).client_order_id),
        );
    }
    assert_eq!(allocations, 0, "margin order hand-off allocated");
    assert_eq!(gateway.counters().ws_requests, 0, "REST only");
    let trades = handle.account(Market::Spot).expect("served").trades;
    assert_eq!(trades.len(), 48, "every order filled once");
    handle.stop().expect("clean stop");
}
