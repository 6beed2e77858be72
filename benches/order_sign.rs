//! Binance order build + sign against DESIGN.md's ≤ 400 ns target: a spot LIMIT order from
//! `VenueOrder` to the signed REST body, and to the signed WebSocket API `order.place`
//! frame (which signs a separate sorted payload), and that frame on a logged-on WebSocket
//! API session (`session.logon`: no apiKey, no signature). Includes the local filter check.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kestrel::core::{
    ClientOrderId, Instrument, LotSizeFilter, Market, Notional, NotionalFilter, OrderType, Price,
    PriceFilter, Qty, Side, SymbolTable, TimeInForce,
};
use kestrel::oms::binance::{
    BinanceOrderCodec, CodecConfig, HmacSigner, InstrumentFamily, OrderSymbols, Request,
};
use kestrel::oms::venue::{MarginParams, VenueOrder};

fn codec() -> (BinanceOrderCodec, VenueOrder) {
    let mut table = SymbolTable::new();
    let btc = table.intern("BTCUSDT").expect("valid name");
    let mut inst = Instrument::new("BTCUSDT", Market::Spot, "BTC", "USDT");
    inst.price_filter = PriceFilter {
        min_price: Price::parse("0.01").expect("valid"),
        max_price: Price::from_int(1_000_000),
        tick_size: Price::parse("0.01").expect("valid"),
    };
    inst.lot_size = LotSizeFilter {
        min_qty: Qty::parse("0.00001").expect("valid"),
        max_qty: Qty::from_int(9_000),
        step_size: Qty::parse("0.00001").expect("valid"),
    };
    inst.notional = NotionalFilter {
        min_notional: Notional::from_int(5),
        apply_min_to_market: true,
        ..NotionalFilter::default()
    };
    (inst.price_decimals, inst.qty_decimals) = (8, 8);
    let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &[inst]).expect("spot");
    let codec = BinanceOrderCodec::new(
        symbols,
        "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        HmacSigner::new(b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
            .expect("non-empty secret"),
        CodecConfig::default(),
    )
    .expect("valid key");
    let order = VenueOrder {
        client_order_id: ClientOrderId(3 << 40 | 1_234),
        symbol: btc,
        market: Market::Spot,
        side: Side::Sell,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        price: Price::parse("23416.10").expect("valid"),
        trigger_price: Price::ZERO,
        qty: Qty::parse("0.00847").expect("valid"),
        reduce_only: false,
        margin: MarginParams::default(),
    };
    (codec, order)
}

fn order_build_sign(c: &mut Criterion) {
    let (mut codec, order) = codec();
    let reference_price = Price::parse("23400").expect("valid");
    let mut group = c.benchmark_group("binance_order_build_sign");
    let mut timestamp_ms = 1_660_801_715_431u64;
    group.bench_function("spot_limit_rest", |b| {
        b.iter(|| {
            timestamp_ms += 1;
            let request = Request::Place {
                order: black_box(&order),
                reference_price,
            };
            let built = codec.rest(&request, timestamp_ms).expect("valid order");
            black_box(built.body.len())
        })
    });
    let mut request_id = 0u64;
    // Signed, then on a logged-on session (no apiKey, no signature).
    for (name, logged_on) in [
        ("spot_limit_ws_api", false),
        ("spot_limit_ws_api_logged_on", true),
    ] {
        codec.set_session_authenticated(logged_on);
        group.bench_function(name, |b| {
            b.iter(|| {
                timestamp_ms += 1;
                request_id += 1;
                let request = Request::Place {
                    order: black_box(&order),
                    reference_price,
                };
                let built = codec
                    .ws(&request, timestamp_ms, request_id)
                    .expect("valid order");
                black_box(built.text.len())
            })
        });
    }
    codec.set_session_authenticated(false);
    let signer =
        HmacSigner::new(b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
            .expect("non-empty secret");
    let payload = codec
        .rest(
            &Request::Place {
                order: &order,
                reference_price,
            },
            timestamp_ms,
        )
        .expect("valid order")
        .body
        .to_vec();
    let signed_len = payload.len() - "&signature=".len() - 64;
    group.bench_function("hmac_sha256_hex_only", |b| {
        b.iter(|| black_box(signer.sign(black_box(&payload[..signed_len]))))
    });
    let instrument = &codec
        .symbols()
        .get(order.symbol)
        .expect("the bench symbol is in the table")
        .instrument;
    group.bench_function("filter_check_only", |b| {
        b.iter(|| {
            black_box(instrument.check_order(
                false,
                order.side,
                black_box(order.price),
                black_box(order.qty),
                reference_price,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, order_build_sign);
criterion_main!(benches);
