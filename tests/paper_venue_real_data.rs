//! Replays the bundled real Binance spot BTCUSDT capture (hftbacktest, 2024-08-08, 5.8 min)
//! through the live decoder and book sync into the paper venue, with a scripted set of orders
//! placed at moments chosen by book-update count and priced relative to the book then. Each
//! fill is checked against the market at that moment (a market order's fills are exactly the
//! visible levels it walked; a resting fill needs a crossing book or a trade through its
//! price; a stop fires only on a trade at or through its trigger), and afterwards the
//! engine-side portfolio built from the fill reports must match the venue's account, its
//! reconciliation answer and the portfolio invariants. The whole replay runs twice and must
//! produce identical reports.

use std::io::BufRead;
use std::path::Path;

use kestrel::book::{BookSync, SyncConfig, SyncRule, SyncStatus};
use kestrel::core::{
    AssetName, BookTicker, BookTop, ClientOrderId, Level, Market, MarketEvent, MarketEventKind,
    Notional, OrderType, Price, Qty, Side, SymbolId, SymbolTable, TimeInForce, TradePrint,
};
use kestrel::engine::stage::Outbox;
use kestrel::feed::binance::{BinanceDecoder, Decoded};
use kestrel::feed::replay::{open_capture, split_capture_line};
use kestrel::oms::binance::exchange_info::parse_exchange_info;
use kestrel::oms::paper::{PaperConfig, PaperVenue};
use kestrel::oms::portfolio::{PairAssets, Portfolio};
use kestrel::oms::venue::{OcoOrder, RejectKind, Venue, VenueCommand, VenueOrder, VenueReport};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
const BTC: SymbolId = SymbolId(0);

fn asset(code: &str) -> AssetName {
    AssetName::new(code).expect("test asset codes are short ASCII")
}

/// The capture as the engine's feed would publish it: book tops after each applied diff
/// (or resync), book tickers and trades, in file order, stamped with the recorded receive time.
fn market_events(path: &Path) -> Vec<MarketEvent> {
    let mut table = SymbolTable::new();
    let symbol = table.intern("BTCUSDT").expect("valid symbol");
    assert_eq!(symbol, BTC);
    let mut decoder = BinanceDecoder::new(&table);
    let mut sync = BookSync::new(SyncRule::BinanceSpot, SyncConfig::default());
    let mut top = BookTop::default();
    let mut events = Vec::new();
    let reader = open_capture(path).expect("the bundled capture opens");
    for line in reader.lines() {
        let line = line.expect("the capture decompresses to text lines");
        let (recv_ns, frame) = split_capture_line(&line).expect("`<recv_ns> <frame>` lines");
        let (status, exch_ts_ms) = if frame.starts_with("{\"lastUpdateId\"") {
            let snapshot = decoder
                .decode_snapshot(frame.as_bytes(), symbol)
                .expect("the recorded snapshot decodes");
            (sync.on_snapshot(&snapshot), 0)
        } else {
            match decoder
                .decode(frame.as_bytes(), recv_ns)
                .expect("real frames decode")
            {
                Decoded::BookTicker(event) | Decoded::Trade(event) => {
                    events.push(event);
                    continue;
                }
                Decoded::Depth(diff) => (sync.on_diff(&diff), diff.exch_ts_ms),
                _ => continue,
            }
        };
        let publish = matches!(
            status,
            SyncStatus::Applied
                | SyncStatus::Synced
                | SyncStatus::ResyncGap
                | SyncStatus::ResyncCrossed
                | SyncStatus::ResyncOverflow
        );
        if publish {
            sync.fill_top(&mut top);
            events.push(MarketEvent {
                symbol,
                recv_ns,
                exch_ts_ms,
                kind: MarketEventKind::Book(top),
            });
        }
    }
    events
}

/// The market as the test saw it last, to judge each fill independently of the venue.
#[derive(Default)]
struct Seen {
    top: Option<BookTop>,
    ticker: Option<BookTicker>,
    trade: Option<TradePrint>,
    /// The book top is the freshest view: no newer ticker arrived after it.
    book_is_fresh: bool,
    valid_books: usize,
}

impl Seen {
    fn on(&mut self, event: &MarketEvent) {
        match event.kind {
            MarketEventKind::Book(top) => {
                self.top = Some(top);
                self.book_is_fresh = top.valid
                    && self
                        .ticker
                        .is_none_or(|t| t.update_id <= top.last_update_id);
                self.valid_books += usize::from(top.valid);
            }
            MarketEventKind::BookTicker(ticker) => {
                self.ticker = Some(ticker);
                let newer = self.top.is_none_or(|t| ticker.update_id > t.last_update_id);
                self.book_is_fresh &= !newer;
            }
            MarketEventKind::Trade(trade) => self.trade = Some(trade),
        }
    }

    fn top(&self) -> BookTop {
        self.top
            .expect("a book was published before the script starts")
    }

    fn levels(&self, side: Side) -> Vec<Level> {
        let top = self.top();
        match side {
            Side::Buy => top.asks[..usize::from(top.ask_count)].to_vec(),
            Side::Sell => top.bids[..usize::from(top.bid_count)].to_vec(),
        }
    }

    /// Prices a taker on `side` can see: a newer ticker's best level, then the book's worse ones.
    fn visible_prices(&self, side: Side) -> Vec<Price> {
        let book: Vec<Price> = self.levels(side).iter().map(|l| l.price).collect();
        let newer = self
            .ticker
            .filter(|t| t.update_id > self.top().last_update_id);
        let Some(ticker) = newer else {
            return book;
        };
        let best = match side {
            Side::Buy => ticker.ask_price,
            Side::Sell => ticker.bid_price,
        };
        let worse = book.into_iter().filter(|&p| match side {
            Side::Buy => p > best,
            Side::Sell => p < best,
        });
        std::iter::once(best).chain(worse).collect()
    }

    /// Best opposite prices a resting order could have met: the book's and the ticker's.
    fn crosses(&self, side: Side, limit: Price) -> bool {
        let through = |price: Price| match side {
            Side::Buy => price <= limit,
            Side::Sell => price >= limit,
        };
        let book = self.levels(side).first().is_some_and(|l| through(l.price));
        let ticker = self.ticker.is_some_and(|t| match side {
            Side::Buy => through(t.ask_price),
            Side::Sell => through(t.bid_price),
        });
        book || ticker
    }
}

/// The orders the script places, by client id.
mod ids {
    pub const MARKET_BUY: u64 = 1;
    pub const RESTING_BUY: u64 = 2;
    pub const STOP_SELL: u64 = 3;
    pub const OCO_STOPPED_TP: u64 = 4;
    pub const OCO_STOPPED_STOP: u64 = 5;
    pub const FAR_SELL: u64 = 6;
    pub const MARKET_SELL: u64 = 7;
    pub const OCO_TAKEN_TP: u64 = 8;
    pub const OCO_TAKEN_STOP: u64 = 9;
    pub const MAKER_THAT_TAKES: u64 = 10;
    pub const IOC_BUY: u64 = 11;
}

fn id(n: u64) -> ClientOrderId {
    ClientOrderId(n)
}

fn order(n: u64, side: Side, order_type: OrderType, price: Price, qty: Qty) -> VenueOrder {
    VenueOrder {
        client_order_id: id(n),
        symbol: BTC,
        market: Market::Spot,
        side,
        order_type,
        time_in_force: TimeInForce::Gtc,
        price,
        qty,
        ..VenueOrder::default()
    }
}

fn dollars(n: i64) -> Price {
    Price::from_int(n)
}

/// Quantity of the first two levels and half the third, on the 0.00001 step: a walk of three levels.
fn three_level_qty(levels: &[Level]) -> Qty {
    let half_third = Qty::from_raw(levels[2].qty.raw() / 2);
    let step = Qty::from_raw(10_000_000_000_000);
    levels[0]
        .qty
        .saturating_add(levels[1].qty)
        .saturating_add(half_third)
        .floor_to(step)
}

/// The visible-level pieces a taker of `qty` must get, best first.
fn expected_walk(levels: &[Level], qty: Qty) -> Vec<(Price, Qty)> {
    let mut left = qty;
    let mut pieces = Vec::new();
    for level in levels {
        if !left.is_positive() {
            break;
        }
        let take = left.min(level.qty);
        pieces.push((level.price, take));
        left = left.saturating_sub(take);
    }
    pieces
}

/// One scripted step: runs once, at the first fresh book on or after `at_book`.
struct Step {
    at_book: usize,
    done: bool,
    act: fn(&Seen) -> Vec<VenueCommand>,
}

fn script() -> Vec<Step> {
    let step = |at_book, act| Step {
        at_book,
        done: false,
        act,
    };
    vec![
        step(50, |seen| {
            let qty = three_level_qty(&seen.levels(Side::Buy));
            vec![VenueCommand::Place(order(
                ids::MARKET_BUY,
                Side::Buy,
                OrderType::Market,
                Price::ZERO,
                qty,
            ))]
        }),
        step(60, |seen| {
            let bid = seen.levels(Side::Sell)[0].price;
            let price = bid.saturating_sub(dollars(40));
            vec![VenueCommand::Place(order(
                ids::RESTING_BUY,
                Side::Buy,
                OrderType::Limit,
                price,
                Qty::parse("0.2").expect("valid"),
            ))]
        }),
        step(70, |seen| {
            let bid = seen.levels(Side::Sell)[0].price;
            let stop = VenueOrder {
                trigger_price: bid.saturating_sub(dollars(80)),
                ..order(
                    ids::STOP_SELL,
                    Side::Sell,
                    OrderType::StopMarket,
                    Price::ZERO,
                    Qty::parse("0.3").expect("valid"),
                )
            };
            vec![VenueCommand::Place(stop)]
        }),
        step(80, |seen| {
            let (bid, ask) = (
                seen.levels(Side::Sell)[0].price,
                seen.levels(Side::Buy)[0].price,
            );
            vec![VenueCommand::PlaceOco(OcoOrder {
                list_id: id(100),
                symbol: BTC,
                market: Market::Spot,
                side: Side::Sell,
                qty: Qty::parse("0.25").expect("valid"),
                take_profit_id: id(ids::OCO_STOPPED_TP),
                take_profit_price: ask.saturating_add(dollars(400)),
                stop_id: id(ids::OCO_STOPPED_STOP),
                stop_trigger: bid.saturating_sub(dollars(120)),
                ..OcoOrder::default()
            })]
        }),
        step(90, |seen| {
            let ask = seen.levels(Side::Buy)[0].price;
            let price = ask.saturating_add(dollars(2000));
            vec![VenueCommand::Place(order(
                ids::FAR_SELL,
                Side::Sell,
                OrderType::Limit,
                price,
                Qty::parse("0.1").expect("valid"),
            ))]
        }),
        step(1500, |seen| {
            let qty = three_level_qty(&seen.levels(Side::Sell));
            vec![VenueCommand::Place(order(
                ids::MARKET_SELL,
                Side::Sell,
                OrderType::Market,
                Price::ZERO,
                qty,
            ))]
        }),
        step(2200, |seen| {
            let asks = seen.levels(Side::Buy);
            let taking_maker = order(
                ids::MAKER_THAT_TAKES,
                Side::Buy,
                OrderType::LimitMaker,
                asks[0].price,
                Qty::parse("0.1").expect("valid"),
            );
            let ioc = VenueOrder {
                time_in_force: TimeInForce::Ioc,
                // Past the best level, and above the 10 USDT minimum notional.
                ..order(
                    ids::IOC_BUY,
                    Side::Buy,
                    OrderType::Limit,
                    asks[0].price,
                    asks[0]
                        .qty
                        .saturating_add(Qty::parse("0.001").expect("valid")),
                )
            };
            vec![VenueCommand::Place(taking_maker), VenueCommand::Place(ioc)]
        }),
        step(2500, |seen| {
            let (bid, ask) = (
                seen.levels(Side::Sell)[0].price,
                seen.levels(Side::Buy)[0].price,
            );
            vec![VenueCommand::PlaceOco(OcoOrder {
                list_id: id(101),
                symbol: BTC,
                market: Market::Spot,
                side: Side::Sell,
                qty: Qty::parse("0.2").expect("valid"),
                take_profit_id: id(ids::OCO_TAKEN_TP),
                take_profit_price: ask.saturating_add(dollars(30)),
                stop_id: id(ids::OCO_TAKEN_STOP),
                stop_trigger: bid.saturating_sub(dollars(300)),
                ..OcoOrder::default()
            })]
        }),
    ]
}

/// Everything one replay produced.
struct Run {
    reports: Vec<VenueReport>,
    venue: PaperVenue,
    engine: Portfolio,
    start_usdt: Qty,
    start_btc: Qty,
    last_trade: Price,
    fee_sum: Notional,
    signed_fill_sum: Qty,
}

fn replay(events: &[MarketEvent]) -> Run {
    let info = std::fs::read(Path::new(DATA).join("binance_spot_exchange_info_btcusdt.json"))
        .expect("the bundled exchangeInfo is readable");
    let instrument = parse_exchange_info(&info, Market::Spot)
        .expect("the bundled exchangeInfo parses")
        .instruments
        .remove(0);
    let assets = PairAssets {
        base: asset("BTC"),
        quote: asset("USDT"),
    };
    let mut venue = PaperVenue::new(PaperConfig::default(), &[(BTC, instrument)])
        .expect("the real instrument is valid");
    let (start_usdt, start_btc) = (Qty::from_int(1_000_000), Qty::from_int(10));
    venue.fund(Market::Spot, assets.quote, start_usdt);
    venue.fund(Market::Spot, assets.base, start_btc);
    let mut engine = Portfolio::new(assets.quote);
    engine.add_instrument(Market::Spot, BTC, assets);
    engine.set_balance(Market::Spot, assets.quote, start_usdt);
    engine.set_balance(Market::Spot, assets.base, start_btc);

    let mut run = Run {
        reports: Vec::new(),
        venue,
        engine,
        start_usdt,
        start_btc,
        last_trade: Price::ZERO,
        fee_sum: Notional::ZERO,
        signed_fill_sum: Qty::ZERO,
    };
    let mut outbox = Outbox::with_capacity(4096);
    let mut seen = Seen::default();
    let mut steps = script();
    let mut triggered_at: Vec<(ClientOrderId, Price)> = Vec::new();
    for event in events {
        run.venue.on_market(event);
        seen.on(event);
        run.venue.poll(event.recv_ns, &mut outbox);
        let caused: Vec<VenueReport> = outbox.drain().collect();
        check_market_fills(&caused, &seen, event, &mut triggered_at);
        run.absorb(&caused);
        if let MarketEventKind::Trade(trade) = event.kind {
            run.engine.on_mark(BTC, trade.price);
            run.last_trade = trade.price;
        }
        let Some(step) = steps
            .iter_mut()
            .find(|s| !s.done && seen.valid_books >= s.at_book)
        else {
            continue;
        };
        if !(seen.book_is_fresh && matches!(event.kind, MarketEventKind::Book(_))) {
            continue;
        }
        step.done = true;
        for command in (step.act)(&seen) {
            run.venue.submit(&command, event.recv_ns);
            run.venue.poll(event.recv_ns, &mut outbox);
            let answered: Vec<VenueReport> = outbox.drain().collect();
            check_taker_walk(&command, &answered, &seen);
            run.absorb(&answered);
        }
    }
    assert!(
        steps.iter().all(|s| s.done),
        "every scripted step found a fresh book"
    );
    run
}

impl Run {
    /// What the order manager would do with the reports: book fills into the portfolio.
    fn absorb(&mut self, reports: &[VenueReport]) {
        let assets = PairAssets {
            base: asset("BTC"),
            quote: asset("USDT"),
        };
        for report in reports {
            if let VenueReport::Fill(fill) = report {
                assert_eq!(fill.fee_asset, assets.quote);
                self.engine
                    .on_fill(fill, assets)
                    .expect("real fills book without overflow");
                self.fee_sum = self
                    .fee_sum
                    .saturating_add(Notional::from_raw(fill.fee.raw()));
                let signed = if fill.side == Side::Buy {
                    fill.qty
                } else {
                    fill.qty.neg()
                };
                self.signed_fill_sum = self.signed_fill_sum.saturating_add(signed);
            }
        }
        self.reports.extend_from_slice(reports);
    }
}

/// A taker order placed on a fresh book fills exactly the visible levels it walks.
fn check_taker_walk(command: &VenueCommand, answered: &[VenueReport], seen: &Seen) {
    let VenueCommand::Place(order) = command else {
        return;
    };
    let fills: Vec<(Price, Qty)> = answered
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => {
                assert!(!f.is_maker, "an arriving order takes");
                Some((f.price, f.qty))
            }
            _ => None,
        })
        .collect();
    let levels = seen.levels(order.side);
    match (order.order_type, order.time_in_force) {
        (OrderType::Market, _) => {
            let expected = expected_walk(&levels, order.qty);
            assert!(
                expected.len() == 3,
                "the script sizes market orders to walk three levels"
            );
            assert_eq!(
                fills, expected,
                "market {:?} walks the visible book",
                order.side
            );
            // Average price = VWAP of the levels walked, exactly.
            let paid: Notional = fills.iter().fold(Notional::ZERO, |sum, (p, q)| {
                sum.saturating_add(p.notional(*q).expect("fits"))
            });
            let vwap: Notional = expected.iter().fold(Notional::ZERO, |sum, (p, q)| {
                sum.saturating_add(p.notional(*q).expect("fits"))
            });
            assert_eq!(paid, vwap);
        }
        (OrderType::Limit, TimeInForce::Ioc) => {
            let within: Vec<Level> = levels
                .into_iter()
                .filter(|l| l.price <= order.price)
                .collect();
            assert_eq!(fills, expected_walk(&within, order.qty));
            let filled = fills
                .iter()
                .fold(Qty::ZERO, |sum, f| sum.saturating_add(f.1));
            if filled < order.qty {
                assert!(matches!(answered.last(), Some(VenueReport::Expired { .. })));
            }
        }
        (OrderType::LimitMaker, _) => {
            assert!(fills.is_empty());
            assert!(answered.iter().any(|r| matches!(r,
                VenueReport::Rejected { reject, .. } if reject.kind == RejectKind::WouldTake)));
        }
        _ => assert!(
            fills.is_empty(),
            "resting orders placed away from the book do not fill on arrival"
        ),
    }
}

/// Fills caused by market data are justified by the event that caused them.
fn check_market_fills(
    caused: &[VenueReport],
    seen: &Seen,
    event: &MarketEvent,
    triggered: &mut Vec<(ClientOrderId, Price)>,
) {
    let mut after_trigger = false;
    for report in caused {
        match report {
            VenueReport::Triggered {
                client_order_id, ..
            } => {
                let MarketEventKind::Trade(trade) = event.kind else {
                    panic!("a stop fired on a non-trade event: {event:?}");
                };
                triggered.push((*client_order_id, trade.price));
                after_trigger = true;
            }
            VenueReport::Fill(fill) if fill.is_maker => {
                let through_trade = matches!(event.kind, MarketEventKind::Trade(t)
                    if (fill.side == Side::Buy && t.price < fill.price)
                        || (fill.side == Side::Sell && t.price > fill.price));
                let crossing_book = !matches!(event.kind, MarketEventKind::Trade(_))
                    && seen.crosses(fill.side, fill.price);
                assert!(through_trade || crossing_book, "{fill:?} after {event:?}");
            }
            VenueReport::Fill(fill) => {
                assert!(
                    after_trigger,
                    "a taker fill on market data follows a trigger: {fill:?}"
                );
                // A triggered stop sells into the visible bids, the rest one tick past the last.
                let bids = seen.visible_prices(Side::Sell);
                let lowest = *bids.last().expect("a book");
                let known = bids.contains(&fill.price)
                    || fill.price == lowest.saturating_sub(Price::parse("0.01").expect("valid"));
                assert!(known, "stop fill {fill:?} is not a visible bid {bids:?}");
            }
            _ => {}
        }
    }
}

fn count(reports: &[VenueReport], pick: impl Fn(&VenueReport) -> bool) -> usize {
    reports.iter().filter(|r| pick(r)).count()
}

fn fills_of(reports: &[VenueReport], n: u64) -> Qty {
    reports.iter().fold(Qty::ZERO, |sum, r| match r {
        VenueReport::Fill(f) if f.client_order_id == id(n) => sum.saturating_add(f.qty),
        _ => sum,
    })
}

fn has(reports: &[VenueReport], n: u64, kind: &str) -> bool {
    reports.iter().any(|r| match (r, kind) {
        (
            VenueReport::Canceled {
                client_order_id, ..
            },
            "canceled",
        )
        | (
            VenueReport::Triggered {
                client_order_id, ..
            },
            "triggered",
        )
        | (
            VenueReport::Expired {
                client_order_id, ..
            },
            "expired",
        ) => *client_order_id == id(n),
        _ => false,
    })
}

#[test]
fn real_capture_fills_match_the_book_and_the_portfolio_reconciles() {
    let capture = Path::new(DATA).join("binance_spot_btcusdt_20240808.gz");
    if !capture.exists() {
        println!("SKIP: bundled capture {} is absent", capture.display());
        return;
    }
    let events = market_events(&capture);
    let books = count_kind(
        &events,
        |k| matches!(k, MarketEventKind::Book(t) if t.valid),
    );
    let trades = count_kind(&events, |k| matches!(k, MarketEventKind::Trade(_)));
    assert_eq!(trades, 9_757, "every trade in the capture");
    assert!(
        books > 3_000,
        "the book syncs once and stays valid: {books} valid tops"
    );

    let mut run = replay(&events);
    let reports = &run.reports;
    // What the script was built to exercise actually happened on the real market.
    assert_eq!(
        fills_of(reports, ids::RESTING_BUY),
        Qty::parse("0.2").expect("valid")
    );
    assert!(has(reports, ids::STOP_SELL, "triggered"));
    assert_eq!(
        fills_of(reports, ids::STOP_SELL),
        Qty::parse("0.3").expect("valid")
    );
    assert!(
        has(reports, ids::OCO_STOPPED_STOP, "triggered")
            && has(reports, ids::OCO_STOPPED_TP, "canceled")
    );
    assert_eq!(
        fills_of(reports, ids::OCO_STOPPED_STOP),
        Qty::parse("0.25").expect("valid")
    );
    assert!(fills_of(reports, ids::OCO_TAKEN_TP).is_positive());
    assert!(
        has(reports, ids::OCO_TAKEN_STOP, "canceled")
            && !has(reports, ids::OCO_TAKEN_STOP, "triggered")
    );
    assert!(fills_of(reports, ids::IOC_BUY).is_positive());
    assert_eq!(fills_of(reports, ids::FAR_SELL), Qty::ZERO);

    // Reconciliation from the venue's own state, then cancel what is left.
    let now = events.last().expect("events").recv_ns;
    let mut outbox = Outbox::with_capacity(4096);
    run.venue.submit(
        &VenueCommand::Reconcile {
            symbol: BTC,
            market: Market::Spot,
            since_trade_id: 0,
        },
        now,
    );
    run.venue.poll(now, &mut outbox);
    let reconciled: Vec<VenueReport> = outbox.drain().collect();
    let open: Vec<ClientOrderId> = reconciled
        .iter()
        .filter_map(|r| match r {
            VenueReport::OpenOrder(o) => o.client_order_id,
            _ => None,
        })
        .collect();
    let mut expected_open = vec![id(ids::FAR_SELL)];
    if fills_of(reports, ids::OCO_TAKEN_TP) < Qty::parse("0.2").expect("valid") {
        expected_open.push(id(ids::OCO_TAKEN_TP));
    }
    expected_open.sort();
    let mut open_sorted = open.clone();
    open_sorted.sort();
    assert_eq!(open_sorted, expected_open);
    let fill_count = count(reports, |r| matches!(r, VenueReport::Fill(_)));
    assert_eq!(
        count(&reconciled, |r| matches!(r, VenueReport::Fill(_))),
        fill_count
    );
    assert_eq!(
        reconciled.last(),
        Some(&VenueReport::ReconcileDone {
            symbol: BTC,
            ok: true
        })
    );
    for report in &reconciled {
        if let VenueReport::Balance {
            asset,
            free,
            locked,
        } = report
        {
            assert_eq!(
                free.saturating_add(*locked),
                run.engine.balance(Market::Spot, *asset),
                "{asset}"
            );
        }
    }
    run.venue.submit(
        &VenueCommand::CancelAll {
            symbol: BTC,
            market: Market::Spot,
        },
        now,
    );
    run.venue.poll(now, &mut outbox);
    let canceled: Vec<VenueReport> = outbox.drain().collect();
    assert_eq!(canceled.len(), open.len());
    assert_eq!(run.venue.open_orders(), 0);
    assert_eq!(run.venue.locked(Market::Spot, asset("USDT")), Qty::ZERO);
    assert_eq!(run.venue.locked(Market::Spot, asset("BTC")), Qty::ZERO);

    // Portfolio invariants on the engine side, and agreement with the venue's account.
    let position = *run.engine.position(Market::Spot, BTC).expect("registered");
    assert_eq!(position.qty, run.signed_fill_sum, "position = sum of fills");
    assert_eq!(position.fees, run.fee_sum);
    let usdt = run.engine.balance(Market::Spot, asset("USDT"));
    let btc = run.engine.balance(Market::Spot, asset("BTC"));
    let cash_change = Notional::from_raw(usdt.saturating_sub(run.start_usdt).raw());
    assert_eq!(
        cash_change,
        position
            .realized_pnl
            .saturating_sub(position.cost_basis)
            .saturating_sub(run.fee_sum),
        "realized PnL, fees and cost basis reconcile with cash exactly"
    );
    assert_eq!(btc.saturating_sub(run.start_btc), position.qty);
    let venue_position = run
        .venue
        .account()
        .position(Market::Spot, BTC)
        .expect("registered");
    assert_eq!(*venue_position, position);
    assert_eq!(
        run.venue.account().balance(Market::Spot, asset("USDT")),
        usdt
    );
    let mark = run.last_trade;
    let equity = run.engine.equity();
    assert!(equity.is_complete());
    let held_at_mark = Notional::from_raw(run.start_usdt.raw())
        .saturating_add(mark.notional(run.start_btc).expect("fits"));
    let unrealized = position.unrealized_pnl(mark).expect("fits");
    assert_eq!(
        equity.value.saturating_sub(held_at_mark),
        position
            .realized_pnl
            .saturating_add(unrealized)
            .saturating_sub(run.fee_sum),
        "equity moved by exactly the trading PnL net of fees"
    );

    let makers = count(reports, |r| matches!(r, VenueReport::Fill(f) if f.is_maker));
    println!(
        "replayed {} events ({books} valid book tops, {trades} trades): {fill_count} fills \
         ({makers} maker), realized {} USDT, fees {} USDT, position {} BTC, equity {} USDT",
        events.len(),
        position.realized_pnl,
        run.fee_sum,
        position.qty,
        equity.value
    );

    // Deterministic: the same capture and script give byte-identical reports.
    let again = replay(&events);
    assert_eq!(again.reports, run.reports);
}

fn count_kind(events: &[MarketEvent], pick: impl Fn(&MarketEventKind) -> bool) -> usize {
    events.iter().filter(|e| pick(&e.kind)).count()
}
