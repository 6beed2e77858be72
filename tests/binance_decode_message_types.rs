//! Each Binance message type the captures lack (or have only one shape of) decodes to the
//! right variant with the right values: partial depth by stream name, futures depth streams
//! (`@depth@500ms`, `depth5` carrying `depthUpdate`), bare spot bookTicker, miniTicker,
//! forceOrder, closed klines without trades, mark price without funding, subscribe acks,
//! and futures REST snapshots.

use kestrel::core::event::{MarketEventKind, Side};
use kestrel::core::{Price, Qty, SymbolId, SymbolTable};
use kestrel::feed::binance::{BinanceDecoder, Decoded, KlineInterval};

fn decoder() -> (BinanceDecoder, SymbolId) {
    let mut table = SymbolTable::new();
    table.intern("ETHUSDT").expect("valid symbol");
    let btc = table.intern("BTCUSDT").expect("valid symbol");
    (BinanceDecoder::new(&table), btc)
}

fn price(text: &str) -> Price {
    Price::parse(text).expect("test decimal")
}

fn qty(text: &str) -> Qty {
    Qty::parse(text).expect("test decimal")
}

#[test]
fn partial_depth_is_routed_by_stream_name_with_symbol_from_it() {
    let (mut d, btc) = decoder();
    let frame = br#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"],["0.0023","5"]],"asks":[["0.0026","100"]]}}"#;
    let Ok(Decoded::PartialDepth(book)) = d.decode(frame, 42) else {
        panic!("partial depth expected")
    };
    assert_eq!(
        (book.symbol, book.recv_ns, book.last_update_id),
        (btc, 42, 160)
    );
    assert_eq!(book.bids.len(), 2);
    assert_eq!(
        (book.bids[1].price, book.bids[1].qty),
        (price("0.0023"), qty("5"))
    );
    assert_eq!(
        (book.asks[0].price, book.asks[0].qty),
        (price("0.0026"), qty("100"))
    );
    let no_speed = br#"{"stream":"btcusdt@depth20","data":{"lastUpdateId":1,"bids":[],"asks":[]}}"#;
    assert!(matches!(
        d.decode(no_speed, 1),
        Ok(Decoded::PartialDepth(_))
    ));
}

#[test]
fn futures_depth_streams_decode_as_diffs_with_previous_id() {
    let (mut d, btc) = decoder();
    let slow = br#"{"stream":"btcusdt@depth@500ms","data":{"e":"depthUpdate","E":10,"T":9,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}}"#;
    let Ok(Decoded::Depth(diff)) = d.decode(slow, 7) else {
        panic!("diff expected")
    };
    assert_eq!(diff.symbol, btc);
    assert_eq!((diff.first_update_id, diff.last_update_id), (157, 160));
    assert_eq!((diff.prev_last_update_id, diff.exch_ts_ms), (Some(149), 10));
    let partial = br#"{"stream":"btcusdt@depth5@100ms","data":{"e":"depthUpdate","E":10,"T":9,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}"#;
    assert!(matches!(d.decode(partial, 7), Ok(Decoded::Depth(_))));
}

#[test]
fn bare_spot_book_ticker_and_trade_decode_without_envelope() {
    let (mut d, btc) = decoder();
    let ticker = br#"{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
    let Ok(Decoded::BookTicker(ev)) = d.decode(ticker, 3) else {
        panic!("book ticker expected")
    };
    let MarketEventKind::BookTicker(t) = ev.kind else {
        panic!("book ticker kind")
    };
    assert_eq!((ev.symbol, ev.recv_ns, ev.exch_ts_ms), (btc, 3, 0));
    assert_eq!(
        (t.update_id, t.bid_price, t.ask_qty),
        (400900217, price("25.3519"), qty("40.66"))
    );
    let trade = br#"{ "e" : "trade", "E" : 5, "s" : "BTCUSDT", "t" : 9, "p" : "1.5", "q" : "2", "T" : 4, "m" : true, "M" : true }"#;
    let Ok(Decoded::Trade(ev)) = d.decode(trade, 3) else {
        panic!("trade expected")
    };
    let MarketEventKind::Trade(t) = ev.kind else {
        panic!("trade kind")
    };
    assert_eq!(
        (t.trade_id, t.price, t.qty, t.aggressor),
        (9, price("1.5"), qty("2"), Side::Sell)
    );
}

#[test]
fn mini_ticker_decodes() {
    let (mut d, btc) = decoder();
    let frame = br#"{"stream":"btcusdt@miniTicker","data":{"e":"24hrMiniTicker","E":123456789,"s":"BTCUSDT","c":"0.0025","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18"}}"#;
    let Ok(Decoded::MiniTicker(t)) = d.decode(frame, 1) else {
        panic!("mini ticker expected")
    };
    assert_eq!((t.symbol, t.exch_ts_ms), (btc, 123456789));
    assert_eq!(
        (t.window.open, t.window.high, t.window.low, t.window.close),
        (
            price("0.001"),
            price("0.0025"),
            price("0.001"),
            price("0.0025")
        )
    );
    assert_eq!(t.window.volume, qty("10000"));
    assert_eq!(t.window.volume_quote.to_string(), "18");
}

#[test]
fn force_order_decodes() {
    let (mut d, btc) = decoder();
    let frame = br#"{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}}"#;
    let Ok(Decoded::ForceOrder(o)) = d.decode(frame, 1) else {
        panic!("force order expected")
    };
    assert_eq!(
        (o.symbol, o.side, o.exch_ts_ms, o.trade_time_ms),
        (btc, Side::Sell, 1568014460893, 1568014460893)
    );
    assert_eq!((o.price, o.avg_price), (price("9910"), price("9910")));
    assert_eq!(
        (o.qty, o.last_filled_qty, o.filled_qty),
        (qty("0.014"), qty("0.014"), qty("0.014"))
    );
}

#[test]
fn closed_kline_without_trades_keeps_minus_one_ids() {
    let (mut d, btc) = decoder();
    let frame = br#"{"e":"kline","E":2,"s":"BTCUSDT","k":{"t":0,"T":3599999,"s":"BTCUSDT","i":"1h","f":-1,"L":-1,"o":"1","c":"1","h":"1","l":"1","v":"0","n":0,"x":true,"q":"0","V":"0","Q":"0","B":"0"}}"#;
    let Ok(Decoded::Kline(k)) = d.decode(frame, 1) else {
        panic!("kline expected")
    };
    assert_eq!(
        (k.symbol, k.interval, k.closed),
        (btc, KlineInterval::H1, true)
    );
    assert_eq!(
        (k.first_trade_id, k.last_trade_id, k.trade_count),
        (-1, -1, 0)
    );
}

#[test]
fn mark_price_without_funding_rate_has_none() {
    let (mut d, btc) = decoder();
    let frame = br#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"11794.15","i":"11784.6","P":"","r":"","T":0}"#;
    let Ok(Decoded::MarkPrice(m)) = d.decode(frame, 1) else {
        panic!("mark price expected")
    };
    assert_eq!(
        (m.symbol, m.funding_rate, m.estimated_settle_price),
        (btc, None, Price::ZERO)
    );
    let negative = br#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","i":"1","P":"1","r":"-0.0001","T":0}"#;
    let Ok(Decoded::MarkPrice(m)) = d.decode(negative, 1) else {
        panic!("mark price expected")
    };
    assert_eq!(
        m.funding_rate.map(|r| r.to_string()),
        Some("-0.0001".to_owned())
    );
}

#[test]
fn subscribe_ack_carries_the_request_id() {
    let (mut d, _) = decoder();
    assert!(matches!(
        d.decode(br#"{"result":null,"id":7}"#, 1),
        Ok(Decoded::SubscribeAck { id: 7 })
    ));
    assert!(matches!(
        d.decode(br#"{"id":8,"result":null}"#, 1),
        Ok(Decoded::SubscribeAck { id: 8 })
    ));
    assert!(d
        .decode(br#"{"result":["btcusdt@trade"],"id":9}"#, 1)
        .is_err());
}

#[test]
fn futures_rest_snapshot_keeps_event_time() {
    let (mut d, btc) = decoder();
    let body = br#"{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"],["4.1","1"]]}"#;
    let snap = d.decode_snapshot(body, btc).expect("snapshot decodes");
    assert_eq!(
        (snap.symbol, snap.last_update_id, snap.exch_ts_ms),
        (btc, 1027024, 1589436922972)
    );
    assert_eq!((snap.bids.len(), snap.asks.len()), (1, 2));
    assert_eq!(snap.asks[0].price, price("4.000002"));
}
