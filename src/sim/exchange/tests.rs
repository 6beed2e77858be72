//! The venue state machine against hand-made books, with the real BTCUSDT filters.

use std::collections::BTreeMap;

use super::*;
use crate::sim::matching::tests::{p, q, TestBook};
use crate::sim::orders::AlgoStatus;

struct OneBook<'a>(&'a TestBook);

impl BookSource for OneBook<'_> {
    fn book(&self, symbol: &str) -> Option<&dyn ReplayedBook> {
        (symbol == "BTCUSDT").then_some(self.0 as &dyn ReplayedBook)
    }
}

fn info(futures: bool) -> String {
    let file = if futures {
        "data/binance_usdm_exchange_info_btcusdt.json"
    } else {
        "data/binance_spot_exchange_info_btcusdt.json"
    };
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("bundled exchangeInfo")
}

fn balances(pairs: &[(&str, &str)]) -> BTreeMap<String, Qty> {
    pairs.iter().map(|(a, v)| (a.to_string(), q(v))).collect()
}

fn exchange(futures: bool) -> Exchange {
    let rate = |t: &str| Ratio::parse(t).expect("valid");
    Exchange::new(ExchangeSetup {
        futures,
        rules: symbol_rules(&info(futures), futures).expect("bundled exchangeInfo parses"),
        spot_balances: balances(&[("USDT", "100000"), ("BTC", "1"), ("BNB", "1")]),
        margin_balances: balances(&[("USDT", "1000")]),
        futures_balances: balances(&[("USDT", "10000")]),
        spot_fees: Fees {
            maker: rate("0.001"),
            taker: rate("0.001"),
        },
        futures_fees: Fees {
            maker: rate("0.0002"),
            taker: rate("0.0005"),
        },
        commission_asset: CommissionAsset::Quote,
        bnb_price: p("500"),
        leverage: 10,
        auto_borrow_repay: true,
        first_order_id: 100,
    })
}

fn book() -> TestBook {
    TestBook::new(
        &[("60000.00", "0.5"), ("59999.00", "1")],
        &[("60001.00", "0.1"), ("60002.00", "0.2"), ("60010.00", "5")],
    )
}

fn order(
    account: AccountKind,
    side: Side,
    order_type: OrderType,
    qty: &str,
    price: Option<&str>,
) -> NewOrder {
    NewOrder {
        account,
        symbol: "BTCUSDT".into(),
        side,
        order_type,
        time_in_force: order_type.has_limit_price().then_some(Tif::Gtc),
        qty: Some(q(qty)),
        quote_qty: None,
        price: price.map(p),
        stop_price: None,
        client_order_id: None,
        reduce_only: false,
        side_effect: SideEffectType::NoSideEffect,
        force_partial: false,
        algo_id: None,
    }
}

/// An OCO leg (a stop-limit works good-till-canceled).
fn leg(order_type: OrderType, price: Option<&str>, stop: Option<&str>) -> OcoLeg {
    OcoLeg {
        order_type,
        price: price.map(p),
        stop_price: stop.map(p),
        time_in_force: (order_type == OrderType::StopLossLimit).then_some(Tif::Gtc),
        client_order_id: None,
    }
}

fn kinds(events: &[UserEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            UserEvent::Order { exec, order, .. } => {
                format!("{}:{}", exec.as_str(), order.status.as_str())
            }
            UserEvent::List { list, .. } => format!(
                "list:{}",
                if list.done {
                    "ALL_DONE"
                } else {
                    "EXEC_STARTED"
                }
            ),
            UserEvent::Balances { .. } => "balances".into(),
            UserEvent::BalanceDelta { .. } => "delta".into(),
            UserEvent::FuturesAccount { .. } => "account".into(),
            UserEvent::Algo { algo, .. } => format!("algo:{}", algo.status.as_str()),
        })
        .collect()
}

#[test]
fn market_buy_walks_the_book_pays_quote_fees_and_reports_each_step() {
    let mut ex = exchange(false);
    let book = book();
    let placed = ex
        .place(
            order(
                AccountKind::Spot,
                Side::Buy,
                OrderType::Market,
                "0.25",
                None,
            ),
            &OneBook(&book),
            7,
        )
        .expect("accepted");
    assert_eq!(placed.order.status, OrderStatus::Filled);
    assert_eq!(placed.ack.status, OrderStatus::New);
    let fills: Vec<(Price, Qty)> = placed.fills.iter().map(|t| (t.price, t.qty)).collect();
    assert_eq!(fills, vec![(p("60001"), q("0.1")), (p("60002"), q("0.15"))]);
    assert_eq!(
        placed.order.cum_quote,
        Notional::parse("15000.4").expect("valid")
    );
    assert_eq!(placed.fills[0].commission, q("6.0001"));
    assert_eq!(placed.fills[1].trade_id, placed.fills[0].trade_id + 1);
    let usdt = ex
        .balances(AccountKind::Spot)
        .into_iter()
        .find(|b| b.asset == "USDT")
        .expect("USDT");
    assert_eq!((usdt.free, usdt.locked), (q("84984.5996"), Qty::ZERO));
    assert_eq!(
        kinds(&ex.take_events()),
        [
            "NEW:NEW",
            "TRADE:PARTIALLY_FILLED",
            "balances",
            "TRADE:FILLED",
            "balances"
        ]
    );
}

fn usdt(ex: &Exchange, account: AccountKind) -> BalanceView {
    ex.balances(account)
        .into_iter()
        .find(|b| b.asset == "USDT")
        .expect("USDT held")
}

#[test]
fn a_limit_order_locks_funds_rests_and_fills_as_maker_when_the_book_crosses_it() {
    let mut ex = exchange(false);
    let mut book = book();
    let placed = ex
        .place(
            order(
                AccountKind::Spot,
                Side::Buy,
                OrderType::Limit,
                "0.2",
                Some("60000.50"),
            ),
            &OneBook(&book),
            1,
        )
        .expect("accepted");
    assert_eq!(placed.order.status, OrderStatus::New);
    assert!(placed.fills.is_empty());
    // 0.2 × 60000.50 = 12000.10, plus the 0.1% fee reserve.
    assert_eq!(usdt(&ex, AccountKind::Spot).locked, q("12012.1001"));
    book.asks.insert(0, (p("60000.40"), q("0.05")));
    ex.on_depth("BTCUSDT", &OneBook(&book), 2);
    let after = ex
        .query(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Id(placed.order.order_id),
        )
        .expect("known");
    assert_eq!(
        (after.status, after.executed_qty),
        (OrderStatus::PartiallyFilled, q("0.05"))
    );
    let trades = ex.trades(AccountKind::Spot, "BTCUSDT", None, None, 500);
    assert_eq!((trades[0].price, trades[0].is_maker), (p("60000.50"), true));
    // The same unchanged level is not taken twice.
    ex.on_depth("BTCUSDT", &OneBook(&book), 3);
    assert_eq!(
        ex.trades(AccountKind::Spot, "BTCUSDT", None, None, 500)
            .len(),
        1
    );
    // A replayed trade through our price fills the rest.
    ex.on_trade("BTCUSDT", p("60000.10"), q("1"), &OneBook(&book), 4);
    let done = ex
        .query(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Id(placed.order.order_id),
        )
        .expect("known");
    assert_eq!(done.status, OrderStatus::Filled);
    let balance = usdt(&ex, AccountKind::Spot);
    // 12000.10 paid, 12.0001 fee, the lock's unused fee reserve back in free.
    assert_eq!((balance.free, balance.locked), (q("87987.8999"), Qty::ZERO));
}

#[test]
fn venue_rejects_carry_binance_codes_and_messages() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    let reject = |ex: &mut Exchange, req: NewOrder| ex.place(req, &books, 1).expect_err("refused");
    let maker = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::LimitMaker,
        "0.01",
        Some("60001.00"),
    );
    assert_eq!(
        reject(&mut ex, maker),
        Reject::order_rejected("Order would immediately match and take.")
    );
    let off_step = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.000015",
        Some("59000.00"),
    );
    assert_eq!(reject(&mut ex, off_step), Reject::filter("LOT_SIZE"));
    let off_tick = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.01",
        Some("59000.001"),
    );
    assert_eq!(reject(&mut ex, off_tick), Reject::filter("PRICE_FILTER"));
    let tiny = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.0001",
        Some("59000.00"),
    );
    assert_eq!(reject(&mut ex, tiny), Reject::filter("MIN_NOTIONAL"));
    let too_big = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "2",
        Some("59000.00"),
    );
    assert_eq!(reject(&mut ex, too_big), Reject::insufficient_balance());
    let stop = order(
        AccountKind::Spot,
        Side::Sell,
        OrderType::StopLoss,
        "0.01",
        None,
    );
    assert_eq!(
        reject(&mut ex, stop),
        Reject::order_rejected("Stop loss orders are not supported for this symbol.")
    );
    let mut first = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.01",
        Some("59000.00"),
    );
    first.client_order_id = Some("same".into());
    ex.place(first.clone(), &books, 1).expect("first accepted");
    assert_eq!(reject(&mut ex, first), Reject::duplicate());
    assert_eq!(
        ex.cancel(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Client("nope".into()),
            None,
            2
        ),
        Err(Reject::unknown_order())
    );
    assert_eq!(
        ex.query(AccountKind::Spot, "BTCUSDT", &OrderRef::Id(1)),
        Err(Reject::no_such_order())
    );
    let canceled = ex
        .cancel(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Client("same".into()),
            Some("undo".into()),
            3,
        )
        .expect("open order cancels");
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(usdt(&ex, AccountKind::Spot).locked, Qty::ZERO);
    let events = ex.take_events();
    let cancel_ids: Vec<Option<String>> = events
        .iter()
        .filter_map(|e| match e {
            UserEvent::Order {
                exec: ExecType::Canceled,
                cancel_client_id,
                ..
            } => Some(cancel_client_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(cancel_ids, vec![Some("undo".to_owned())]);
}

#[test]
fn fok_expires_whole_ioc_expires_the_rest_and_forced_partials_fill_half_at_a_time() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    let mut fok = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.4",
        Some("60002.00"),
    );
    fok.time_in_force = Some(Tif::Fok);
    let placed = ex.place(fok, &books, 1).expect("accepted");
    assert_eq!(
        (placed.order.status, placed.fills.len()),
        (OrderStatus::Expired, 0)
    );
    let mut ioc = order(
        AccountKind::Spot,
        Side::Buy,
        OrderType::Limit,
        "0.4",
        Some("60002.00"),
    );
    ioc.time_in_force = Some(Tif::Ioc);
    let placed = ex.place(ioc, &books, 2).expect("accepted");
    assert_eq!(
        (placed.order.status, placed.order.executed_qty),
        (OrderStatus::Expired, q("0.3"))
    );
    let mut partial = order(
        AccountKind::Spot,
        Side::Sell,
        OrderType::Limit,
        "0.4",
        Some("59999.00"),
    );
    partial.force_partial = true;
    let placed = ex.place(partial, &books, 3).expect("accepted");
    assert_eq!(
        (placed.order.status, placed.order.executed_qty),
        (OrderStatus::PartiallyFilled, q("0.2"))
    );
    let id = placed.order.order_id;
    ex.on_trade("BTCUSDT", p("60000.00"), q("5"), &books, 4);
    let after = ex
        .query(AccountKind::Spot, "BTCUSDT", &OrderRef::Id(id))
        .expect("known");
    assert_eq!(after.executed_qty, q("0.3"));
    let mut prints = 0;
    while ex
        .query(AccountKind::Spot, "BTCUSDT", &OrderRef::Id(id))
        .expect("known")
        .status
        .is_open()
    {
        prints += 1;
        assert!(
            prints < 30,
            "a forced partial order still fills completely, half at a time"
        );
        ex.on_trade("BTCUSDT", p("60000.00"), q("5"), &books, 4 + prints);
    }
    let fills = ex.trades(AccountKind::Spot, "BTCUSDT", Some(id), None, 500);
    let mut left = q("0.4");
    for fill in &fills {
        assert!(
            fill.qty.raw() <= (left.raw() / 2).max(q("0.00001").raw()),
            "never more than half of what was left"
        );
        left = left.saturating_sub(fill.qty);
    }
    assert!(left.is_zero());
}

#[test]
fn a_stop_limit_triggers_on_the_last_price_and_then_works_as_a_limit() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    let mut stop = order(
        AccountKind::Spot,
        Side::Sell,
        OrderType::StopLossLimit,
        "0.1",
        Some("59990.00"),
    );
    stop.stop_price = Some(p("59995.00"));
    let immediate = NewOrder {
        stop_price: Some(p("60005.00")),
        ..stop.clone()
    };
    assert_eq!(
        ex.place(immediate, &books, 1).expect_err("would trigger"),
        Reject::order_rejected("Order would trigger immediately.")
    );
    let placed = ex.place(stop, &books, 2).expect("accepted");
    assert!(placed.order.is_pending_trigger());
    assert_eq!(
        ex.balances(AccountKind::Spot)
            .iter()
            .find(|b| b.asset == "BTC")
            .map(|b| b.locked),
        Some(q("0.1"))
    );
    ex.on_trade("BTCUSDT", p("59996.00"), q("0.01"), &books, 3);
    assert!(ex
        .query(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Id(placed.order.order_id)
        )
        .expect("known")
        .is_pending_trigger());
    ex.take_events();
    ex.on_trade("BTCUSDT", p("59995.00"), q("0.01"), &books, 4);
    let after = ex
        .query(
            AccountKind::Spot,
            "BTCUSDT",
            &OrderRef::Id(placed.order.order_id),
        )
        .expect("known");
    assert!(after.triggered);
    // Triggered, it sells into the 60000 and 59999 bids above its 59990 limit.
    assert_eq!(after.status, OrderStatus::Filled);
    assert_eq!(
        kinds(&ex.take_events())[..2],
        ["NEW:NEW".to_owned(), "TRADE:FILLED".to_owned()]
    );
}

#[test]
fn an_oco_locks_once_and_its_triggered_stop_expires_the_limit_maker() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    let wrong = NewOco {
        account: AccountKind::Spot,
        side_effect: SideEffectType::NoSideEffect,
        symbol: "BTCUSDT".into(),
        side: Side::Sell,
        qty: q("0.5"),
        list_client_order_id: Some("list-1".into()),
        above: leg(OrderType::LimitMaker, Some("59000.00"), None),
        below: leg(OrderType::StopLossLimit, Some("58000.00"), Some("58100.00")),
        force_partial: false,
    };
    assert_eq!(
        ex.place_oco(wrong.clone(), &books, 2)
            .expect_err("bad prices"),
        Reject::order_rejected("The relationship of the prices for the orders is not correct.")
    );
    let good = NewOco {
        above: leg(OrderType::LimitMaker, Some("61000.00"), None),
        ..wrong
    };
    let (list, legs) = ex.place_oco(good, &books, 3).expect("accepted");
    assert_eq!((list.done, legs.len()), (false, 2));
    assert_eq!(legs[0].order_type, OrderType::StopLossLimit);
    let btc = ex
        .balances(AccountKind::Spot)
        .into_iter()
        .find(|b| b.asset == "BTC")
        .expect("BTC");
    assert_eq!(btc.locked, q("0.5"));
    assert_eq!(
        kinds(&ex.take_events()),
        ["NEW:NEW", "NEW:NEW", "list:EXEC_STARTED", "balances"]
    );
    ex.on_trade("BTCUSDT", p("58100.00"), q("0.01"), &books, 4);
    let (list, legs) = ex.list_with_orders(list.order_list_id).expect("known list");
    assert!(list.done);
    assert_eq!(legs[1].status, OrderStatus::Expired);
    assert_eq!(legs[0].status, OrderStatus::Filled);
    let events = kinds(&ex.take_events());
    assert_eq!(
        events[..3],
        [
            "NEW:NEW".to_owned(),
            "EXPIRED:EXPIRED".to_owned(),
            "list:ALL_DONE".to_owned()
        ]
    );
    assert_eq!(
        ex.balances(AccountKind::Spot)
            .into_iter()
            .find(|b| b.asset == "BTC")
            .map(|b| (b.free, b.locked)),
        Some((q("0.5"), Qty::ZERO))
    );
}

#[test]
fn a_margin_oco_locks_the_margin_account_and_its_filled_leg_auto_repays() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    // Short 0.01 BTC on borrowed coins, then protect it with a buy-side OCO.
    let short = NewOrder {
        side_effect: SideEffectType::MarginBuy,
        ..order(
            AccountKind::Margin,
            Side::Sell,
            OrderType::Market,
            "0.01",
            None,
        )
    };
    ex.place(short, &books, 2).expect("borrows and sells");
    let btc = |ex: &Exchange, account| {
        ex.balances(account)
            .into_iter()
            .find(|b| b.asset == "BTC")
            .expect("BTC held")
    };
    assert_eq!(btc(&ex, AccountKind::Margin).borrowed, q("0.01"));
    let spot_usdt = usdt(&ex, AccountKind::Spot);
    ex.take_events();
    let oco = NewOco {
        account: AccountKind::Margin,
        side_effect: SideEffectType::AutoRepay,
        symbol: "BTCUSDT".into(),
        side: Side::Buy,
        qty: q("0.01"),
        list_client_order_id: Some("margin-list".into()),
        above: leg(OrderType::StopLossLimit, Some("61100.00"), Some("61000.00")),
        below: leg(OrderType::LimitMaker, Some("59000.00"), None),
        force_partial: false,
    };
    let (list, legs) = ex.place_oco(oco, &books, 3).expect("accepted");
    assert_eq!(list.account, AccountKind::Margin);
    assert!(legs.iter().all(|l| l.account == AccountKind::Margin));
    assert!(usdt(&ex, AccountKind::Margin).locked.is_positive());
    assert_eq!(usdt(&ex, AccountKind::Spot), spot_usdt, "spot untouched");
    let events = ex.take_events();
    assert!(events.iter().all(|e| e.account() == AccountKind::Margin));
    // The market trades up through the stop: it buys back and repays the loan.
    ex.on_trade("BTCUSDT", p("61000.00"), q("0.01"), &books, 4);
    let (list, _) = ex.list_with_orders(list.order_list_id).expect("known");
    assert!(list.done);
    assert_eq!(btc(&ex, AccountKind::Margin).borrowed, Qty::ZERO);
    assert_eq!(
        ex.cancel_list(
            AccountKind::Spot,
            "BTCUSDT",
            &ListRef::Client("margin-list".into()),
            None,
            5
        )
        .expect_err("a margin list is not a spot one"),
        Reject::new(-2011, "Order list does not exist.")
    );
}

#[test]
fn margin_orders_borrow_what_they_lack_and_auto_repay_from_proceeds() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    let plain = order(
        AccountKind::Margin,
        Side::Buy,
        OrderType::Market,
        "0.02",
        None,
    );
    assert_eq!(
        ex.place(plain.clone(), &books, 1).expect_err("no funds"),
        Reject::insufficient_balance()
    );
    let borrow = NewOrder {
        side_effect: SideEffectType::MarginBuy,
        ..plain
    };
    let placed = ex.place(borrow, &books, 2).expect("borrows");
    let (amount, asset) = placed.order.borrowed.clone().expect("borrowed");
    assert_eq!(asset, "USDT");
    assert!(amount.is_positive());
    assert_eq!(usdt(&ex, AccountKind::Margin).borrowed, amount);
    let sell = NewOrder {
        side_effect: SideEffectType::AutoRepay,
        ..order(
            AccountKind::Margin,
            Side::Sell,
            OrderType::Market,
            "0.02",
            None,
        )
    };
    ex.place(sell, &books, 3).expect("sells back");
    assert_eq!(usdt(&ex, AccountKind::Margin).borrowed, Qty::ZERO);
}

fn futures_order(side: Side, order_type: OrderType, qty: &str, price: Option<&str>) -> NewOrder {
    order(AccountKind::Futures, side, order_type, qty, price)
}

#[test]
fn futures_fills_move_the_position_realize_pnl_and_pay_fees_from_the_wallet() {
    let mut ex = exchange(true);
    let mut book = book();
    let placed = ex
        .place(
            futures_order(Side::Buy, OrderType::Market, "0.1", None),
            &OneBook(&book),
            1,
        )
        .expect("accepted");
    assert_eq!(placed.order.status, OrderStatus::Filled);
    let position = &ex.positions()[0];
    assert_eq!((position.qty, position.entry_price), (q("0.1"), p("60001")));
    book.bids[0] = (p("60100.00"), q("1"));
    let placed = ex
        .place(
            futures_order(Side::Sell, OrderType::Market, "0.1", None),
            &OneBook(&book),
            2,
        )
        .expect("accepted");
    assert_eq!(
        placed.fills[0].realized_pnl,
        Notional::parse("9.9").expect("valid")
    );
    // 10000 + 9.9 realized − taker fees 3.00005 and 3.005.
    assert_eq!(
        ex.futures_wallets(),
        vec![(
            "USDT".to_owned(),
            Notional::parse("10003.89495").expect("valid")
        )]
    );
    assert_eq!(
        ex.snapshot().realized_pnl,
        Notional::parse("9.9").expect("valid")
    );
    let reduce = NewOrder {
        reduce_only: true,
        ..futures_order(Side::Sell, OrderType::Market, "0.1", None)
    };
    assert_eq!(
        ex.place(reduce, &OneBook(&book), 3).expect_err("flat"),
        Reject::new(-2022, "ReduceOnly Order is rejected.")
    );
    let huge = futures_order(Side::Buy, OrderType::Limit, "5", Some("59000.00"));
    assert_eq!(
        ex.place(huge, &OneBook(&book), 4).expect_err("margin"),
        Reject::new(-2019, "Margin is insufficient.")
    );
    let stop = futures_order(Side::Sell, OrderType::StopMarket, "0.1", None);
    assert_eq!(
        ex.place(stop, &OneBook(&book), 5)
            .expect_err("algo only")
            .code,
        -4120
    );
    let kinds = kinds(&ex.take_events());
    assert_eq!(
        kinds[..4],
        [
            "NEW:NEW".to_owned(),
            "TRADE:FILLED".to_owned(),
            "account".to_owned(),
            "NEW:NEW".to_owned()
        ]
    );
}

#[test]
fn a_close_position_stop_market_goes_new_triggering_triggered_finished() {
    let mut ex = exchange(true);
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    ex.place(
        futures_order(Side::Buy, OrderType::Market, "0.2", None),
        &books,
        2,
    )
    .expect("opens");
    let algo = NewAlgo {
        symbol: "BTCUSDT".into(),
        side: Side::Sell,
        order_type: OrderType::StopMarket,
        time_in_force: None,
        qty: None,
        price: None,
        trigger_price: p("59900.00"),
        working_type: WorkingType::ContractPrice,
        close_position: true,
        price_protect: false,
        reduce_only: false,
        client_algo_id: Some("guard".into()),
        force_partial: false,
    };
    let immediate = NewAlgo {
        trigger_price: p("60500.00"),
        ..algo.clone()
    };
    assert_eq!(
        ex.place_algo(immediate, &books, 3)
            .expect_err("would trigger")
            .code,
        -2021
    );
    let placed = ex.place_algo(algo, &books, 4).expect("accepted");
    assert_eq!(placed.status, AlgoStatus::New);
    assert_eq!(ex.open_algos(None).len(), 1);
    ex.take_events();
    ex.on_trade("BTCUSDT", p("59899.00"), q("0.01"), &books, 5);
    let algo = ex
        .query_algo(&AlgoRef::Client("guard".into()))
        .expect("known");
    assert_eq!(algo.status, AlgoStatus::Finished);
    assert!(ex.positions()[0].qty.is_zero());
    let seen = kinds(&ex.take_events());
    let algo_states: Vec<&String> = seen.iter().filter(|k| k.starts_with("algo:")).collect();
    assert_eq!(
        algo_states,
        ["algo:TRIGGERING", "algo:TRIGGERED", "algo:FINISHED"]
    );
    assert!(ex.cancel_algo(&AlgoRef::Client("guard".into()), 6).is_err());
}

#[test]
fn the_same_inputs_give_the_same_events() {
    let run = || {
        let mut ex = exchange(false);
        let mut book = book();
        let mut resting = order(
            AccountKind::Spot,
            Side::Buy,
            OrderType::Limit,
            "0.3",
            Some("60000.00"),
        );
        resting.force_partial = true;
        ex.place(resting, &OneBook(&book), 1).expect("accepted");
        ex.place(
            order(
                AccountKind::Spot,
                Side::Buy,
                OrderType::Market,
                "0.15",
                None,
            ),
            &OneBook(&book),
            2,
        )
        .expect("accepted");
        for step in 0..5u64 {
            book.asks[0] = (p("59999.50"), q(&format!("0.0{}", step + 1)));
            ex.on_depth("BTCUSDT", &OneBook(&book), 3 + step);
            ex.on_trade(
                "BTCUSDT",
                p("59999.00"),
                q("0.05"),
                &OneBook(&book),
                10 + step,
            );
        }
        (ex.take_events(), ex.snapshot())
    };
    let (first_events, first_state) = run();
    let (second_events, second_state) = run();
    assert!(first_events.len() > 10);
    assert_eq!(first_events, second_events);
    assert_eq!(first_state, second_state);
}

#[test]
fn bnb_fees_are_charged_at_the_bnb_price_and_fall_back_to_quote_when_bnb_runs_out() {
    let mut ex = exchange(false);
    ex.commission_asset = CommissionAsset::Bnb;
    let book = book();
    let placed = ex
        .place(
            order(AccountKind::Spot, Side::Buy, OrderType::Market, "0.1", None),
            &OneBook(&book),
            1,
        )
        .expect("accepted");
    let fill = &placed.fills[0];
    // 6000.1 × 0.001 = 6.0001 USDT, at 500 USDT a BNB.
    assert_eq!(
        (fill.commission, fill.commission_asset.as_str()),
        (q("0.0120002"), "BNB")
    );
    let held = |ex: &Exchange, asset: &str| {
        ex.balances(AccountKind::Spot)
            .into_iter()
            .find(|b| b.asset == asset)
            .map(|b| b.free)
    };
    assert_eq!(held(&ex, "BNB"), Some(q("0.9879998")));
    assert_eq!(
        held(&ex, "USDT"),
        Some(q("93999.9")),
        "only the price was paid in USDT"
    );
    ex.spot.credit("BNB", q("-0.9879998"));
    let placed = ex
        .place(
            order(AccountKind::Spot, Side::Buy, OrderType::Market, "0.1", None),
            &OneBook(&book),
            2,
        )
        .expect("accepted");
    assert_eq!(placed.fills[0].commission_asset, "USDT");
}

#[test]
fn spot_stop_loss_and_take_profit_work_as_market_orders_once_triggered_where_allowed() {
    let mut setup_rules = symbol_rules(&info(false), false).expect("parses");
    setup_rules[0]
        .order_types
        .extend(["STOP_LOSS".to_owned(), "TAKE_PROFIT".to_owned()]);
    let mut ex = exchange(false);
    ex.rules = setup_rules
        .into_iter()
        .map(|r| (r.instrument.symbol.clone(), r))
        .collect();
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    let mut take_profit = order(
        AccountKind::Spot,
        Side::Sell,
        OrderType::TakeProfit,
        "0.1",
        None,
    );
    take_profit.stop_price = Some(p("60500.00"));
    let mut stop_loss = order(
        AccountKind::Spot,
        Side::Sell,
        OrderType::StopLoss,
        "0.1",
        None,
    );
    stop_loss.stop_price = Some(p("59500.00"));
    let tp = ex
        .place(take_profit, &books, 2)
        .expect("accepted")
        .order
        .order_id;
    let sl = ex
        .place(stop_loss, &books, 3)
        .expect("accepted")
        .order
        .order_id;
    ex.on_trade("BTCUSDT", p("60500.00"), q("0.01"), &books, 4);
    let status = |ex: &Exchange, id| ex.order(id).map(|o| o.status);
    assert_eq!(
        status(&ex, tp),
        Some(OrderStatus::Filled),
        "sold at market into the bids"
    );
    assert_eq!(status(&ex, sl), Some(OrderStatus::New));
    ex.on_trade("BTCUSDT", p("59499.00"), q("0.01"), &books, 5);
    assert_eq!(status(&ex, sl), Some(OrderStatus::Filled));
    assert_eq!(
        ex.trades(AccountKind::Spot, "BTCUSDT", Some(sl), None, 10)[0].price,
        p("60000.00")
    );
}

#[test]
fn a_futures_stop_algo_places_a_limit_order_at_its_price_when_triggered() {
    let mut ex = exchange(true);
    let book = book();
    let books = OneBook(&book);
    ex.on_trade("BTCUSDT", p("60000.00"), q("0.01"), &books, 1);
    let stop = NewAlgo {
        symbol: "BTCUSDT".into(),
        side: Side::Buy,
        order_type: OrderType::FuturesStop,
        time_in_force: Some(Tif::Gtc),
        qty: Some(q("0.2")),
        price: Some(p("60001.50")),
        trigger_price: p("60100.00"),
        working_type: WorkingType::ContractPrice,
        close_position: false,
        price_protect: false,
        reduce_only: false,
        client_algo_id: None,
        force_partial: false,
    };
    let algo = ex.place_algo(stop, &books, 2).expect("accepted");
    ex.on_trade("BTCUSDT", p("60100.00"), q("0.01"), &books, 3);
    let algo = ex.query_algo(&AlgoRef::Id(algo.algo_id)).expect("known");
    assert_eq!(
        algo.status,
        AlgoStatus::Triggered,
        "its limit order rests, partly filled"
    );
    let placed = ex
        .order(algo.actual_order_id.expect("placed"))
        .expect("known");
    assert_eq!(
        (placed.order_type, placed.price, placed.algo_id),
        (OrderType::Limit, p("60001.50"), Some(algo.algo_id))
    );
    assert_eq!(
        (placed.status, placed.executed_qty),
        (OrderStatus::PartiallyFilled, q("0.1"))
    );
    assert_eq!(ex.positions()[0].qty, q("0.1"));
}

#[test]
fn auto_borrow_repay_borrows_and_repays_when_the_venue_accepts_it() {
    let mut ex = exchange(false);
    let book = book();
    let books = OneBook(&book);
    let buy = NewOrder {
        side_effect: SideEffectType::AutoBorrowRepay,
        ..order(
            AccountKind::Margin,
            Side::Buy,
            OrderType::Market,
            "0.02",
            None,
        )
    };
    let placed = ex.place(buy, &books, 1).expect("borrows");
    assert!(placed.order.borrowed.is_some());
    ex.auto_borrow_repay = false;
    let again = NewOrder {
        side_effect: SideEffectType::AutoBorrowRepay,
        ..order(
            AccountKind::Margin,
            Side::Buy,
            OrderType::Market,
            "0.02",
            None,
        )
    };
    assert_eq!(ex.place(again, &books, 2).expect_err("retired").code, -1100);
}
