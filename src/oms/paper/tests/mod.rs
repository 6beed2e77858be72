use super::*;

mod account;
mod execution;
mod latency;
mod queue;
mod still_taking;

use crate::core::{
    BookTop, Level, LotSizeFilter, Notional, NotionalFilter, OrderType, PriceFilter, Side,
    TimeInForce, BOOK_TOP_LEVELS,
};
use crate::oms::venue::{OcoOrder, VenueOrder, VenueReject};

const BTC: SymbolId = SymbolId(0);

fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}
fn asset(code: &str) -> AssetName {
    AssetName::new(code).expect("test asset codes are short ASCII")
}
fn id(n: u64) -> ClientOrderId {
    ClientOrderId(n)
}

fn instrument(market: Market) -> Instrument {
    let mut inst = Instrument::new("BTCUSDT", market, "BTC", "USDT");
    inst.price_filter = PriceFilter {
        min_price: p("0.01"),
        max_price: p("1000000"),
        tick_size: p("0.01"),
    };
    inst.lot_size = LotSizeFilter {
        min_qty: q("0.001"),
        max_qty: q("9000"),
        step_size: q("0.001"),
    };
    inst.notional = NotionalFilter {
        min_notional: Notional::from_int(5),
        apply_min_to_market: true,
        ..NotionalFilter::default()
    };
    inst
}

fn config() -> PaperConfig {
    PaperConfig {
        maker_fee_rate: Ratio::parse("0.001").expect("valid"),
        taker_fee_rate: Ratio::parse("0.002").expect("valid"),
        ..PaperConfig::default()
    }
}

/// Drives one venue with an advancing clock and collects what `poll` hands out.
struct Harness {
    venue: PaperVenue,
    out: Outbox<VenueReport>,
    now_ns: u64,
    market: Market,
}

impl Harness {
    fn new(config: PaperConfig, market: Market) -> Self {
        let mut venue = PaperVenue::new(config, &[(BTC, instrument(market))])
            .expect("the test instrument is valid");
        venue.fund(market, asset("USDT"), q("100000"));
        venue.fund(market, asset("BTC"), q("10"));
        let mut harness = Self {
            venue,
            out: Outbox::with_capacity(1024),
            now_ns: 1_000,
            market,
        };
        harness.market_event(book(1, 100, 101));
        harness
    }

    fn spot() -> Self {
        Self::new(config(), Market::Spot)
    }

    fn collect(&mut self) -> Vec<VenueReport> {
        self.venue.poll(self.now_ns, &mut self.out);
        self.out.drain().collect()
    }

    fn send(&mut self, command: VenueCommand) -> Vec<VenueReport> {
        self.now_ns += 10;
        self.venue.submit(&command, self.now_ns);
        self.collect()
    }

    fn market_event(&mut self, kind: MarketEventKind) -> Vec<VenueReport> {
        self.now_ns += 10;
        let event = MarketEvent {
            symbol: BTC,
            recv_ns: self.now_ns,
            exch_ts_ms: 1_723_161_255_000 + self.now_ns / 1_000,
            kind,
        };
        self.venue.on_market(&event);
        self.collect()
    }

    fn order(
        &self,
        n: u64,
        side: Side,
        order_type: OrderType,
        price: &str,
        qty: &str,
    ) -> VenueOrder {
        VenueOrder {
            client_order_id: id(n),
            symbol: BTC,
            market: self.market,
            side,
            order_type,
            time_in_force: TimeInForce::Gtc,
            price: p(price),
            trigger_price: Price::ZERO,
            qty: q(qty),
            ..VenueOrder::default()
        }
    }

    fn place(&mut self, order: VenueOrder) -> Vec<VenueReport> {
        self.send(VenueCommand::Place(order))
    }
}

/// A valid book: bids `best_bid`, −1, … and asks `best_ask`, +1, …, quantities 1..5.
fn book(update_id: u64, best_bid: i64, best_ask: i64) -> MarketEventKind {
    let mut top = BookTop {
        last_update_id: update_id,
        valid: true,
        bid_count: BOOK_TOP_LEVELS as u8,
        ask_count: BOOK_TOP_LEVELS as u8,
        ..BookTop::default()
    };
    for i in 0..BOOK_TOP_LEVELS {
        let qty = Qty::from_int(i as i64 + 1);
        top.bids[i] = Level {
            price: Price::from_int(best_bid - i as i64),
            qty,
        };
        top.asks[i] = Level {
            price: Price::from_int(best_ask + i as i64),
            qty,
        };
    }
    MarketEventKind::Book(top)
}

fn trade(trade_id: u64, price: &str, qty: &str) -> MarketEventKind {
    MarketEventKind::Trade(TradePrint {
        trade_id,
        price: p(price),
        qty: q(qty),
        aggressor: Side::Sell,
    })
}

/// (price, qty, maker) of every fill among `reports`.
fn fills(reports: &[VenueReport]) -> Vec<(Price, Qty, bool)> {
    reports
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.price, f.qty, f.is_maker)),
            _ => None,
        })
        .collect()
}

fn rejected(reports: &[VenueReport]) -> Option<(RejectKind, i32)> {
    reports.iter().find_map(|r| match r {
        VenueReport::Rejected { reject, .. } => Some((reject.kind, reject.code)),
        _ => None,
    })
}

fn is_expired(report: &VenueReport, n: u64) -> bool {
    matches!(report, VenueReport::Expired { client_order_id, .. } if *client_order_id == id(n))
}

fn is_canceled(report: &VenueReport, n: u64) -> bool {
    matches!(report, VenueReport::Canceled { client_order_id, .. } if *client_order_id == id(n))
}

fn sell_oco(h: &Harness, stop_limit: &str) -> VenueCommand {
    VenueCommand::PlaceOco(OcoOrder {
        list_id: id(100),
        symbol: BTC,
        market: h.market,
        side: Side::Sell,
        qty: q("2"),
        take_profit_id: id(10),
        take_profit_price: p("110"),
        stop_id: id(11),
        stop_trigger: p("95"),
        stop_limit: p(stop_limit),
        ..OcoOrder::default()
    })
}
