//! After warm-up, building and signing Binance orders (REST and WebSocket API) makes zero
//! heap allocations, counted by a per-thread counting global allocator.

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::core::{
    ClientOrderId, Instrument, Market, OrderType, Price, Qty, Side, SymbolTable, TimeInForce,
};
use kestrel::oms::binance::{
    BinanceOrderCodec, CodecConfig, HmacSigner, InstrumentFamily, OrderSymbols, Request,
};
use kestrel::oms::venue::{MarginParams, VenueOrder};

#[test]
fn building_and_signing_orders_does_not_allocate() {
    let mut table = SymbolTable::new();
    let btc = table.intern("BTCUSDT").expect("valid name");
    let mut inst = Instrument::new("BTCUSDT", Market::Spot, "BTC", "USDT");
    (inst.price_decimals, inst.qty_decimals) = (2, 8);
    let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &[inst]).expect("spot");
    let mut codec = BinanceOrderCodec::new(
        symbols,
        "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        HmacSigner::new(b"secret").expect("non-empty"),
        CodecConfig::default(),
    )
    .expect("valid key");
    let mut order = VenueOrder {
        client_order_id: ClientOrderId(1 << 40),
        symbol: btc,
        market: Market::Spot,
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        price: Price::parse("23416.10").expect("valid"),
        trigger_price: Price::ZERO,
        qty: Qty::parse("0.00847").expect("valid"),
        reduce_only: false,
        margin: MarginParams::default(),
    };
    let mut bytes = 0usize;
    let mut run = |codec: &mut BinanceOrderCodec, order: &mut VenueOrder, rounds: u64| {
        for n in 0..rounds {
            order.client_order_id = ClientOrderId((1 << 40) + n);
            let request = Request::Place {
                order,
                reference_price: Price::ZERO,
            };
            bytes += codec
                .rest(&request, 1_660_801_715_431 + n)
                .expect("valid")
                .body
                .len();
            bytes += codec
                .ws(&request, 1_660_801_715_431 + n, n)
                .expect("valid")
                .text
                .len();
        }
    };
    run(&mut codec, &mut order, 10);
    let before = thread_allocs();
    run(&mut codec, &mut order, 1_000);
    assert_eq!(thread_allocs() - before, 0, "order build + sign allocated");
    assert!(bytes > 0);
}
