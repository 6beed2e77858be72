use proptest::prelude::*;

use super::*;

fn asset(code: &str) -> AssetName {
    AssetName::new(code).expect("test asset codes are short ASCII")
}
fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}
fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}
fn n(text: &str) -> Notional {
    Notional::parse(text).expect("test literal is a valid decimal")
}

const BTCUSDT: SymbolId = SymbolId(0);
const BNBUSDT: SymbolId = SymbolId(1);

fn btc_usdt() -> PairAssets {
    PairAssets {
        base: asset("BTC"),
        quote: asset("USDT"),
    }
}

fn bnb_usdt() -> PairAssets {
    PairAssets {
        base: asset("BNB"),
        quote: asset("USDT"),
    }
}

fn portfolio() -> Portfolio {
    let mut book = Portfolio::new(asset("USDT"));
    for market in [Market::Spot, Market::UsdmFutures] {
        book.add_instrument(market, BTCUSDT, btc_usdt());
    }
    book.add_instrument(Market::Spot, BNBUSDT, bnb_usdt());
    book
}

fn fill(
    market: Market,
    side: Side,
    qty: Qty,
    price: Price,
    fee: Qty,
    fee_asset: &str,
) -> VenueFill {
    VenueFill {
        symbol: BTCUSDT,
        market,
        side,
        price,
        qty,
        fee,
        fee_asset: asset(fee_asset),
        ..VenueFill::default()
    }
}

fn apply(book: &mut Portfolio, fill: VenueFill) -> FillEffect {
    book.on_fill(&fill, btc_usdt())
        .expect("test fills are well formed and small")
}

#[test]
fn long_average_is_weighted_on_increase_and_kept_on_reduce() {
    let mut book = portfolio();
    let spot = Market::Spot;
    apply(
        &mut book,
        fill(spot, Side::Buy, q("1"), p("100"), Qty::ZERO, "USDT"),
    );
    let grown = apply(
        &mut book,
        fill(spot, Side::Buy, q("1"), p("110"), Qty::ZERO, "USDT"),
    );
    assert_eq!(
        (grown.change, grown.avg_entry_price),
        (PositionChange::Increased, p("105"))
    );
    let reduced = apply(
        &mut book,
        fill(spot, Side::Sell, q("0.5"), p("120"), Qty::ZERO, "USDT"),
    );
    assert_eq!(reduced.change, PositionChange::Reduced);
    assert_eq!(reduced.realized_pnl, n("7.5"));
    assert_eq!(reduced.avg_entry_price, p("105"));
    let position = book.position(spot, BTCUSDT).expect("registered");
    assert_eq!((position.qty, position.cost_basis), (q("1.5"), n("157.5")));
    assert_eq!(book.balance(spot, asset("BTC")), q("1.5"));
    assert_eq!(book.balance(spot, asset("USDT")), q("-150"));
}

#[test]
fn short_sale_opens_a_short_and_covering_realizes_against_its_entry() {
    // The seed booked the whole sale as profit against an average of zero (D-09).
    let mut book = portfolio();
    let futures = Market::UsdmFutures;
    let opened = apply(
        &mut book,
        fill(futures, Side::Sell, q("2"), p("100"), Qty::ZERO, "USDT"),
    );
    assert_eq!(opened.change, PositionChange::Opened);
    assert_eq!(
        (opened.realized_pnl, opened.avg_entry_price),
        (Notional::ZERO, p("100"))
    );
    let covered = apply(
        &mut book,
        fill(futures, Side::Buy, q("1"), p("90"), Qty::ZERO, "USDT"),
    );
    assert_eq!(
        (covered.change, covered.realized_pnl),
        (PositionChange::Reduced, n("10"))
    );
    let flipped = apply(
        &mut book,
        fill(futures, Side::Buy, q("2"), p("80"), Qty::ZERO, "USDT"),
    );
    assert_eq!(flipped.change, PositionChange::Flipped);
    assert_eq!(flipped.realized_pnl, n("20"));
    assert_eq!(
        (flipped.position_qty, flipped.avg_entry_price),
        (q("1"), p("80"))
    );
    let position = book.position(futures, BTCUSDT).expect("registered");
    assert_eq!(
        (position.realized_pnl, position.cost_basis),
        (n("30"), n("80"))
    );
    // Futures move no notional: the wallet holds exactly the realized PnL.
    assert_eq!(book.balance(futures, asset("USDT")), q("30"));
    let closed = apply(
        &mut book,
        fill(futures, Side::Sell, q("1"), p("85"), Qty::ZERO, "USDT"),
    );
    assert_eq!(
        (closed.change, closed.realized_pnl),
        (PositionChange::Closed, n("5"))
    );
    let position = book.position(futures, BTCUSDT).expect("registered");
    assert!(position.is_flat());
    assert_eq!(
        (position.cost_basis, position.avg_entry_price),
        (Notional::ZERO, Price::ZERO)
    );
}

#[test]
fn fees_convert_at_the_fill_price_or_the_fee_asset_mark_and_never_vanish() {
    let mut book = portfolio();
    let spot = Market::Spot;
    book.set_balance(spot, asset("USDT"), q("100000"));
    book.set_balance(spot, asset("BNB"), q("1"));
    let in_quote = apply(
        &mut book,
        fill(spot, Side::Buy, q("1"), p("60000"), q("60"), "USDT"),
    );
    assert_eq!(in_quote.fee_in_quote, Some(n("60")));
    let in_base = apply(
        &mut book,
        fill(spot, Side::Buy, q("1"), p("60000"), q("0.001"), "BTC"),
    );
    assert_eq!(in_base.fee_in_quote, Some(n("60")));
    assert_eq!(book.balance(spot, asset("BTC")), q("1.999"));
    // BNB with no BNBUSDT mark yet: out of the BNB balance, counted, not zero.
    let unpriced = apply(
        &mut book,
        fill(spot, Side::Sell, q("1"), p("60000"), q("0.1"), "BNB"),
    );
    assert_eq!(unpriced.fee_in_quote, None);
    assert_eq!(book.balance(spot, asset("BNB")), q("0.9"));
    let position = book.position(spot, BTCUSDT).expect("registered");
    assert_eq!((position.fees, position.unconverted_fees), (n("120"), 1));
    let pending: Vec<_> = book.unconverted_fees().copied().collect();
    assert_eq!(
        pending,
        vec![UnconvertedFee {
            wallet: spot,
            asset: asset("BNB"),
            qty: q("0.1")
        }]
    );
    book.on_mark(BTCUSDT, p("60000"));
    let equity = book.equity();
    assert_eq!((equity.unpriced_assets, equity.is_complete()), (1, false));
    assert!(book.on_mark(BNBUSDT, p("500")));
    let priced = apply(
        &mut book,
        fill(spot, Side::Sell, q("0.5"), p("60000"), q("0.1"), "BNB"),
    );
    assert_eq!(priced.fee_in_quote, Some(n("50")));
    let position = book.position(spot, BTCUSDT).expect("registered");
    assert_eq!((position.fees, position.unconverted_fees), (n("170"), 1));
    let equity = book.equity();
    assert!(equity.is_complete());
    // 100000 − 60 − 60 (USDT and BTC fees) + 0.8 BNB × 500 = 100280.
    assert_eq!(equity.value, n("100280"));
}

#[test]
fn spot_coins_held_count_in_equity_so_a_buy_is_not_a_drawdown() {
    let mut book = portfolio();
    let spot = Market::Spot;
    book.set_balance(spot, asset("USDT"), q("1000"));
    book.on_mark(BTCUSDT, p("60000"));
    assert_eq!(book.equity().value, n("1000"));
    apply(
        &mut book,
        fill(spot, Side::Buy, q("0.01"), p("60000"), q("0.6"), "USDT"),
    );
    assert_eq!(book.equity().value, n("999.4"));
    book.on_mark(BTCUSDT, p("61000"));
    assert_eq!(book.equity().value, n("1009.4"));
    assert_eq!(book.unrealized_pnl(spot, BTCUSDT), Some(n("10")));
}

#[test]
fn futures_margin_balance_is_wallet_plus_marked_unrealized() {
    let mut book = portfolio();
    let futures = Market::UsdmFutures;
    book.set_balance(futures, asset("USDT"), q("1000"));
    apply(
        &mut book,
        fill(futures, Side::Buy, q("0.1"), p("60000"), q("2.4"), "USDT"),
    );
    let unmarked = book.futures_margin_balance(asset("USDT"));
    assert_eq!(
        (unmarked.wallet, unmarked.unmarked_positions),
        (n("997.6"), 1)
    );
    assert_eq!(book.equity().unmarked_positions, 1);
    book.on_mark(BTCUSDT, p("61000"));
    let margin = book.futures_margin_balance(asset("USDT"));
    assert_eq!(
        (margin.unrealized, margin.margin_balance),
        (n("100"), n("1097.6"))
    );
    assert_eq!(book.equity().value, n("1097.6"));
    apply(
        &mut book,
        fill(futures, Side::Sell, q("0.1"), p("62000"), q("2.48"), "USDT"),
    );
    assert_eq!(book.balance(futures, asset("USDT")), q("1195.12"));
    assert_eq!(book.equity().value, n("1195.12"));
}

#[test]
fn reconciliation_overwrites_and_reports_what_changed() {
    let mut book = portfolio();
    let set = book.set_balance(Market::Spot, asset("USDT"), q("250"));
    assert_eq!(
        (set.before, set.after, set.delta()),
        (Qty::ZERO, q("250"), q("250"))
    );
    let moved = book
        .set_position(
            Market::UsdmFutures,
            BTCUSDT,
            btc_usdt(),
            q("-0.5"),
            p("60000"),
        )
        .expect("small values fit");
    assert!(!moved.is_unchanged());
    assert_eq!(
        (moved.qty_before, moved.qty_after, moved.entry_after),
        (Qty::ZERO, q("-0.5"), p("60000"))
    );
    let again = book
        .set_position(
            Market::UsdmFutures,
            BTCUSDT,
            btc_usdt(),
            q("-0.5"),
            p("60000"),
        )
        .expect("small values fit");
    assert!(again.is_unchanged());
    assert!(!book.on_mark(SymbolId(42), p("1")), "never registered");
    assert!(!book.on_mark(BTCUSDT, Price::ZERO), "not a price");
    assert_eq!(
        book.unrealized_pnl(Market::UsdmFutures, BTCUSDT),
        None,
        "no mark yet"
    );
    assert!(book.on_mark(BTCUSDT, p("59000")));
    assert_eq!(
        book.unrealized_pnl(Market::UsdmFutures, BTCUSDT),
        Some(n("500"))
    );
}

#[test]
fn bad_or_overflowing_fills_are_refused_and_change_nothing() {
    let mut book = portfolio();
    let spot = Market::Spot;
    let before = book.clone();
    let cases = [
        fill(spot, Side::Buy, Qty::ZERO, p("1"), Qty::ZERO, "USDT"),
        fill(spot, Side::Buy, q("1"), p("-1"), Qty::ZERO, "USDT"),
        fill(spot, Side::Buy, q("1"), p("1"), q("-0.1"), "USDT"),
    ];
    for bad in cases {
        let err = book.on_fill(&bad, btc_usdt()).expect_err("refused");
        assert!(matches!(err, PortfolioError::BadFill { .. }), "{err}");
    }
    let huge = fill(
        spot,
        Side::Buy,
        q("100000000000000000000"),
        p("100000000000000000000"),
        Qty::ZERO,
        "USDT",
    );
    let err = book
        .on_fill(&huge, btc_usdt())
        .expect_err("overflow refused");
    assert!(matches!(err, PortfolioError::Overflow { .. }));
    assert!(err.to_string().contains("overflow"), "{err}");
    assert_eq!(
        format!("{:?}", book.positions),
        format!("{:?}", before.positions)
    );
    assert_eq!(
        format!("{:?}", book.balances),
        format!("{:?}", before.balances)
    );
}

/// One random fill: side, quantity in 0.001 steps, price in 0.01 ticks, fee in bps.
fn fills() -> impl Strategy<Value = Vec<(bool, i64, i64, i64)>> {
    prop::collection::vec(
        (any::<bool>(), 1i64..5_000, 1i64..10_000_000, 0i64..=10),
        1..60,
    )
}

fn to_fill(market: Market, (buy, steps, ticks, bps): (bool, i64, i64, i64), id: u64) -> VenueFill {
    let qty = Qty::from_raw(i128::from(steps) * 1_000_000_000_000_000);
    let price = Price::from_raw(i128::from(ticks) * 10_000_000_000_000_000);
    let notional = price.notional(qty).expect("small values fit");
    let fee = Qty::from_raw(notional.raw() * i128::from(bps) / 10_000);
    let side = if buy { Side::Buy } else { Side::Sell };
    VenueFill {
        venue_trade_id: id,
        ..fill(market, side, qty, price, fee, "USDT")
    }
}

proptest! {
    #[test]
    fn position_is_the_sum_of_fills_and_cash_reconciles_exactly(
        sequence in fills(),
        futures: bool,
        close_ticks in 1i64..10_000_000,
    ) {
        let market = if futures { Market::UsdmFutures } else { Market::Spot };
        let mut book = portfolio();
        let start = q("1000000");
        book.set_balance(market, asset("USDT"), start);
        let (mut signed_sum, mut fee_sum, mut notional_sum) = (Qty::ZERO, Notional::ZERO, Notional::ZERO);
        let mut check = |book: &mut Portfolio, fill: VenueFill| -> Result<(), TestCaseError> {
            let before = *book.position(market, BTCUSDT).expect("registered");
            let effect = book.on_fill(&fill, btc_usdt()).expect("small values fit");
            let signed = if fill.side == Side::Buy { fill.qty } else { fill.qty.neg() };
            let notional = fill.price.notional(fill.qty).expect("small values fit");
            signed_sum = signed_sum.saturating_add(signed);
            fee_sum = fee_sum.saturating_add(qty_as_notional(fill.fee));
            notional_sum = notional_sum.saturating_add(if fill.side == Side::Buy { notional } else { notional.neg() });
            let after = *book.position(market, BTCUSDT).expect("registered");
            prop_assert_eq!(after.qty, signed_sum);
            prop_assert_eq!(after.fees, fee_sum);
            match effect.change {
                PositionChange::Reduced => prop_assert_eq!(after.avg_entry_price, before.avg_entry_price),
                PositionChange::Opened | PositionChange::Flipped => prop_assert_eq!(after.avg_entry_price, fill.price),
                PositionChange::Closed => prop_assert_eq!((after.cost_basis, after.avg_entry_price), (Notional::ZERO, Price::ZERO)),
                PositionChange::Increased => {}
            }
            let cash_change = qty_as_notional(book.balance(market, asset("USDT")).saturating_sub(start));
            let expected = if futures {
                after.realized_pnl.saturating_sub(fee_sum)
            } else {
                after.realized_pnl.saturating_sub(after.cost_basis).saturating_sub(fee_sum)
            };
            prop_assert_eq!(cash_change, expected);
            if !futures {
                prop_assert_eq!(book.balance(market, asset("BTC")), after.qty);
            }
            Ok(())
        };
        for (id, &step) in sequence.iter().enumerate() {
            check(&mut book, to_fill(market, step, id as u64))?;
        }
        // Flatten: over a round trip the realized PnL is exactly what the trades earned.
        let open = book.position(market, BTCUSDT).expect("registered").qty;
        if !open.is_zero() {
            let closing = VenueFill {
                venue_trade_id: u64::MAX,
                ..fill(market, if open.is_positive() { Side::Sell } else { Side::Buy }, open.abs(),
                       Price::from_raw(i128::from(close_ticks) * 10_000_000_000_000_000), Qty::ZERO, "USDT")
            };
            check(&mut book, closing)?;
        }
        let position = *book.position(market, BTCUSDT).expect("registered");
        prop_assert_eq!(position.realized_pnl, notional_sum.neg());
        prop_assert_eq!(position.cost_basis, Notional::ZERO);
    }

    #[test]
    fn bnb_fees_come_out_of_bnb_and_convert_at_the_mark(
        sequence in fills(),
        bnb_cents in 1i64..100_000,
    ) {
        let mut book = portfolio();
        let bnb_price = Price::from_raw(i128::from(bnb_cents) * 10_000_000_000_000_000);
        book.on_mark(BNBUSDT, bnb_price);
        let start = q("1000");
        book.set_balance(Market::Spot, asset("BNB"), start);
        let (mut paid, mut converted) = (Qty::ZERO, Notional::ZERO);
        for (id, &step) in sequence.iter().enumerate() {
            let mut fill = to_fill(Market::Spot, step, id as u64);
            fill.fee = Qty::from_raw(fill.fee.raw() / 1_000);
            fill.fee_asset = asset("BNB");
            let effect = book.on_fill(&fill, btc_usdt()).expect("small values fit");
            let expected = bnb_price.notional(fill.fee).expect("small values fit");
            prop_assert_eq!(effect.fee_in_quote, Some(expected));
            paid = paid.saturating_add(fill.fee);
            converted = converted.saturating_add(expected);
        }
        prop_assert_eq!(book.balance(Market::Spot, asset("BNB")), start.saturating_sub(paid));
        let position = book.position(Market::Spot, BTCUSDT).expect("registered");
        prop_assert_eq!((position.fees, position.unconverted_fees), (converted, 0));
    }

    #[test]
    fn spot_buy_and_hold_loses_only_the_fee_and_the_price_move(
        cash_units in 1_000i64..10_000_000,
        steps in 1i64..100_000,
        ticks in 1i64..10_000_000,
        mark_ticks in 1i64..10_000_000,
        bps in 0i64..=10,
    ) {
        let mut book = portfolio();
        let start = Qty::from_int(cash_units);
        book.set_balance(Market::Spot, asset("USDT"), start);
        let buy = to_fill(Market::Spot, (true, steps, ticks, bps), 1);
        book.on_mark(BTCUSDT, buy.price);
        let before = book.equity().value;
        book.on_fill(&buy, btc_usdt()).expect("small values fit");
        let fee = qty_as_notional(buy.fee);
        prop_assert_eq!(book.equity().value, before.saturating_sub(fee));
        let mark = Price::from_raw(i128::from(mark_ticks) * 10_000_000_000_000_000);
        book.on_mark(BTCUSDT, mark);
        let move_value = mark.notional(buy.qty).expect("fits")
            .saturating_sub(buy.price.notional(buy.qty).expect("fits"));
        let drawdown = before.saturating_sub(book.equity().value);
        prop_assert_eq!(drawdown, fee.saturating_sub(move_value));
        prop_assert!(book.equity().is_complete());
    }
}
