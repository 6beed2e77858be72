//! After warm-up, decoding hot Binance messages (bookTicker, trade, aggTrade, depthUpdate)
//! and the simd-json messages (kline, mark price, partial depth) makes zero heap
//! allocations, counted by a per-thread counting global allocator.

mod alloc_support;

use alloc_support::{thread_allocs, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use kestrel::core::SymbolTable;
use kestrel::feed::binance::{BinanceDecoder, Decoded};

const HOT: &[&str] = &[
    r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#,
    r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"BTCUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}}"#,
    r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256352,"T":1723161256352,"s":"BTCUSDT","U":5123107837801,"u":5123107842679,"pu":5123107837557,"b":[["1000.00","606.675"],["5000.00","2.321"],["55600.20","0.011"]],"a":[["61800.30","1.5"]]}}"#,
];

const COLD: &[&str] = &[
    r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1626992742139,"s":"BTCUSDT","k":{"t":1626992700000,"T":1626992759999,"s":"BTCUSDT","i":"1m","f":27931328,"L":27931348,"o":"0.01731","c":"0.01731","h":"0.01733","l":"0.01731","v":"156058","n":21,"x":false,"q":"2702.20770","V":"68508","Q":"1186.7","B":"0"}}}"#,
    r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}"#,
    r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}"#,
];

fn allocations_while(frames: &[&str], rounds: usize, decoder: &mut BinanceDecoder) -> u64 {
    let before = thread_allocs();
    let mut decoded = 0usize;
    for _ in 0..rounds {
        for frame in frames {
            match decoder.decode(frame.as_bytes(), 1) {
                Ok(Decoded::Depth(diff)) => decoded += diff.bids.len(),
                Ok(_) => decoded += 1,
                Err(e) => panic!("sample decodes: {e}"),
            }
        }
    }
    assert!(decoded > 0);
    thread_allocs() - before
}

#[test]
fn hot_messages_allocate_nothing_after_warm_up() {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid symbol");
    let mut decoder = BinanceDecoder::new(&table);
    allocations_while(HOT, 10, &mut decoder);
    assert_eq!(allocations_while(HOT, 10_000, &mut decoder), 0);
}

#[test]
fn simd_json_messages_allocate_nothing_after_warm_up() {
    let mut table = SymbolTable::new();
    table.intern("BTCUSDT").expect("valid symbol");
    let mut decoder = BinanceDecoder::new(&table);
    allocations_while(COLD, 10, &mut decoder);
    assert_eq!(allocations_while(COLD, 2_000, &mut decoder), 0);
}
