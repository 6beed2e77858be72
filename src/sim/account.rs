//! Owns: the simulated accounts' money: spot and margin balances (free, locked, borrowed per
//! asset) and the USDⓈ-M wallet with its one-way positions (entry price, realized and
//! unrealized PnL). Never: decides whether an order trades or formats a reply.

use std::collections::BTreeMap;

use crate::core::decimal::{mul_raw, SCALE, SCALE_DIGITS};
use crate::core::{Notional, Price, Qty, Side};

use super::orders::{BalanceView, PositionView};

/// `num / den` for two raw 1e-18 values, as a raw 1e-18 value, truncated toward zero;
/// zero when `den` is zero.
pub(crate) fn div_raw(num: i128, den: i128) -> i128 {
    if den == 0 {
        return 0;
    }
    let negative = (num < 0) != (den < 0);
    let (n, d) = (num.unsigned_abs(), den.unsigned_abs());
    let mut remainder = n % d;
    let mut frac: u128 = 0;
    // One decimal digit at a time: remainder × 10 < d × 10 always fits.
    for _ in 0..SCALE_DIGITS {
        remainder *= 10;
        frac = frac * 10 + remainder / d;
        remainder %= d;
    }
    let whole = (n / d).saturating_mul(SCALE as u128);
    let value = i128::try_from(whole.saturating_add(frac)).unwrap_or(i128::MAX);
    if negative {
        -value
    } else {
        value
    }
}

/// `amount × rate`, truncated to `decimals` (how venues round fees).
pub(crate) fn fee_of(amount: i128, rate: i128, decimals: u32) -> i128 {
    let exact = mul_raw(amount, rate).unwrap_or(i128::MAX);
    let step = 10i128.pow(SCALE_DIGITS.saturating_sub(decimals));
    exact - exact.rem_euclid(step)
}

/// One asset in a spot or margin account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Holding {
    free: Qty,
    locked: Qty,
    borrowed: Qty,
}

/// Why the account could not do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insufficient;

/// Spot or cross-margin balances.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpotLedger {
    holdings: BTreeMap<String, Holding>,
}

impl SpotLedger {
    /// An account holding `balances` (asset → free amount).
    pub fn new(balances: &BTreeMap<String, Qty>) -> Self {
        let holdings = balances
            .iter()
            .map(|(asset, free)| {
                (
                    asset.clone(),
                    Holding {
                        free: *free,
                        ..Holding::default()
                    },
                )
            })
            .collect();
        Self { holdings }
    }

    fn holding(&mut self, asset: &str) -> &mut Holding {
        self.holdings.entry(asset.to_owned()).or_default()
    }

    /// Free amount of `asset`.
    pub fn free(&self, asset: &str) -> Qty {
        self.holdings.get(asset).map_or(Qty::ZERO, |h| h.free)
    }

    /// Debt in `asset`.
    #[cfg(test)]
    pub fn borrowed(&self, asset: &str) -> Qty {
        self.holdings.get(asset).map_or(Qty::ZERO, |h| h.borrowed)
    }

    /// Moves `amount` from free to locked.
    pub fn lock(&mut self, asset: &str, amount: Qty) -> Result<(), Insufficient> {
        let holding = self.holding(asset);
        if holding.free < amount {
            return Err(Insufficient);
        }
        holding.free = holding.free.saturating_sub(amount);
        holding.locked = holding.locked.saturating_add(amount);
        Ok(())
    }

    /// Moves `amount` from locked back to free.
    pub fn unlock(&mut self, asset: &str, amount: Qty) {
        let holding = self.holding(asset);
        let amount = amount.min(holding.locked);
        holding.locked = holding.locked.saturating_sub(amount);
        holding.free = holding.free.saturating_add(amount);
    }

    /// Pays `amount`: first `from_lock` out of locked, the rest out of free.
    pub fn pay(&mut self, asset: &str, amount: Qty, from_lock: Qty) {
        let holding = self.holding(asset);
        let locked_part = amount.min(from_lock).min(holding.locked);
        holding.locked = holding.locked.saturating_sub(locked_part);
        holding.free = holding
            .free
            .saturating_sub(amount.saturating_sub(locked_part));
    }

    /// Adds `amount` to free (negative amounts withdraw).
    pub fn credit(&mut self, asset: &str, amount: Qty) {
        let holding = self.holding(asset);
        holding.free = holding.free.saturating_add(amount);
    }

    /// Borrows `amount` of `asset` into free.
    pub fn borrow(&mut self, asset: &str, amount: Qty) {
        let holding = self.holding(asset);
        holding.free = holding.free.saturating_add(amount);
        holding.borrowed = holding.borrowed.saturating_add(amount);
    }

    /// Repays as much debt in `asset` as the free balance allows; returns the amount.
    pub fn repay(&mut self, asset: &str) -> Qty {
        let holding = self.holding(asset);
        let amount = holding.free.min(holding.borrowed).max(Qty::ZERO);
        holding.free = holding.free.saturating_sub(amount);
        holding.borrowed = holding.borrowed.saturating_sub(amount);
        amount
    }

    /// One asset's balance.
    pub fn view(&self, asset: &str) -> BalanceView {
        let holding = self.holdings.get(asset).copied().unwrap_or_default();
        BalanceView {
            asset: asset.to_owned(),
            free: holding.free,
            locked: holding.locked,
            borrowed: holding.borrowed,
        }
    }

    /// Every asset the account has ever held, by name.
    pub fn views(&self) -> Vec<BalanceView> {
        self.holdings.keys().map(|asset| self.view(asset)).collect()
    }
}

/// One futures position in one-way mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Position {
    qty: Qty,
    entry: Price,
    realized: Notional,
    update_ms: u64,
}

/// A USDⓈ-M account: wallet balances per margin asset and one position per symbol.
#[derive(Clone, Debug)]
pub(crate) struct FuturesLedger {
    wallet: BTreeMap<String, Notional>,
    positions: BTreeMap<String, Position>,
    leverage: u32,
}

impl FuturesLedger {
    /// A wallet holding `balances` and no position, every symbol at `leverage`.
    pub fn new(balances: &BTreeMap<String, Qty>, leverage: u32) -> Self {
        Self {
            wallet: balances
                .iter()
                .map(|(asset, amount)| (asset.clone(), Notional::from_raw(amount.raw())))
                .collect(),
            positions: BTreeMap::new(),
            leverage: leverage.max(1),
        }
    }

    /// The leverage every position uses.
    pub fn leverage(&self) -> u32 {
        self.leverage
    }

    /// Wallet balance of `asset`.
    pub fn wallet(&self, asset: &str) -> Notional {
        self.wallet.get(asset).copied().unwrap_or(Notional::ZERO)
    }

    /// Every wallet asset and balance.
    pub fn wallets(&self) -> Vec<(String, Notional)> {
        self.wallet.iter().map(|(a, b)| (a.clone(), *b)).collect()
    }

    /// Adds `amount` (may be negative) to the wallet.
    pub fn credit(&mut self, asset: &str, amount: Notional) {
        let balance = self
            .wallet
            .entry(asset.to_owned())
            .or_insert(Notional::ZERO);
        *balance = balance.saturating_add(amount);
    }

    /// Signed position size of `symbol`.
    pub fn position_qty(&self, symbol: &str) -> Qty {
        self.positions.get(symbol).map_or(Qty::ZERO, |p| p.qty)
    }

    /// Books a fill of `qty` at `price` on `side`; returns the PnL it realized.
    pub fn apply_fill(
        &mut self,
        symbol: &str,
        side: Side,
        price: Price,
        qty: Qty,
        now_ms: u64,
    ) -> Notional {
        let position = self.positions.entry(symbol.to_owned()).or_default();
        let signed = match side {
            Side::Buy => qty,
            Side::Sell => qty.neg(),
        };
        let old = position.qty;
        let new = old.saturating_add(signed);
        let mut realized = Notional::ZERO;
        let same_direction = old.is_zero() || (old.raw() > 0) == (signed.raw() > 0);
        if same_direction {
            let old_value = position.entry.notional(old.abs()).unwrap_or(Notional::ZERO);
            let add_value = price.notional(qty).unwrap_or(Notional::ZERO);
            let total = old_value.saturating_add(add_value);
            position.entry = Price::from_raw(div_raw(total.raw(), new.abs().raw()));
        } else {
            let closing = qty.min(old.abs());
            let per_unit = if old.raw() > 0 {
                price.saturating_sub(position.entry)
            } else {
                position.entry.saturating_sub(price)
            };
            realized = per_unit.notional(closing).unwrap_or(Notional::ZERO);
            if new.is_zero() {
                position.entry = Price::ZERO;
            } else if (new.raw() > 0) != (old.raw() > 0) {
                position.entry = price;
            }
        }
        position.qty = new;
        position.realized = position.realized.saturating_add(realized);
        position.update_ms = now_ms;
        realized
    }

    /// Unrealized PnL of `symbol` at `mark`.
    pub fn unrealized(&self, symbol: &str, mark: Price) -> Notional {
        let Some(position) = self.positions.get(symbol) else {
            return Notional::ZERO;
        };
        let per_unit = mark.saturating_sub(position.entry);
        let value = per_unit
            .notional(position.qty.abs())
            .unwrap_or(Notional::ZERO);
        if position.qty.raw() >= 0 {
            value
        } else {
            value.neg()
        }
    }

    /// Initial margin of `notional` at the account's leverage.
    pub fn initial_margin(&self, notional: Notional) -> Notional {
        Notional::from_raw(notional.raw() / i128::from(self.leverage))
    }

    /// Every symbol with a position record, valued with `mark_of`.
    pub fn views(&self, mark_of: &dyn Fn(&str) -> Price) -> Vec<PositionView> {
        self.positions
            .keys()
            .filter_map(|symbol| self.view(symbol, mark_of(symbol)))
            .collect()
    }

    /// One symbol's position valued at `mark`.
    pub fn view(&self, symbol: &str, mark: Price) -> Option<PositionView> {
        let position = self.positions.get(symbol)?;
        Some(PositionView {
            symbol: symbol.to_owned(),
            qty: position.qty,
            entry_price: position.entry,
            realized_pnl: position.realized,
            unrealized_pnl: self.unrealized(symbol, mark),
            mark_price: mark,
            leverage: self.leverage,
            update_ms: position.update_ms,
        })
    }

    /// PnL realized on every symbol so far.
    pub fn realized_total(&self) -> Notional {
        self.positions
            .values()
            .fold(Notional::ZERO, |sum, p| sum.saturating_add(p.realized))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(t: &str) -> Qty {
        Qty::parse(t).expect("test literal")
    }
    fn p(t: &str) -> Price {
        Price::parse(t).expect("test literal")
    }

    #[test]
    fn division_and_fees_are_exact_and_truncated() {
        assert_eq!(div_raw(q("1").raw(), q("3").raw()), 333_333_333_333_333_333);
        assert_eq!(div_raw(-SCALE, 4 * SCALE), -SCALE / 4);
        assert_eq!(div_raw(1, 0), 0);
        let fee = fee_of(q("123.456789").raw(), q("0.001").raw(), 8);
        assert_eq!(Qty::from_raw(fee), q("0.12345678"));
    }

    #[test]
    fn spot_funds_lock_pay_and_borrow() {
        let mut start = BTreeMap::new();
        start.insert("USDT".to_owned(), q("100"));
        let mut ledger = SpotLedger::new(&start);
        assert_eq!(ledger.lock("USDT", q("101")), Err(Insufficient));
        ledger.lock("USDT", q("60")).expect("enough");
        ledger.pay("USDT", q("70"), q("60"));
        assert_eq!(ledger.view("USDT").locked, Qty::ZERO);
        assert_eq!(ledger.free("USDT"), q("30"));
        ledger.borrow("BTC", q("2"));
        ledger.credit("BTC", q("-0.5"));
        assert_eq!(ledger.repay("BTC"), q("1.5"));
        assert_eq!(ledger.borrowed("BTC"), q("0.5"));
    }

    #[test]
    fn futures_positions_average_in_realize_on_reduce_and_flip() {
        let mut ledger = FuturesLedger::new(&BTreeMap::new(), 20);
        assert_eq!(
            ledger.apply_fill("X", Side::Buy, p("100"), q("1"), 1),
            Notional::ZERO
        );
        ledger.apply_fill("X", Side::Buy, p("110"), q("1"), 2);
        let view = ledger.view("X", p("120")).expect("position");
        assert_eq!((view.qty, view.entry_price), (q("2"), p("105")));
        assert_eq!(view.unrealized_pnl, Notional::from_int(30));
        let realized = ledger.apply_fill("X", Side::Sell, p("100"), q("3"), 3);
        assert_eq!(realized, Notional::from_int(-10));
        let view = ledger.view("X", p("90")).expect("position");
        assert_eq!((view.qty, view.entry_price), (q("-1"), p("100")));
        assert_eq!(view.unrealized_pnl, Notional::from_int(10));
        assert_eq!(ledger.realized_total(), Notional::from_int(-10));
    }
}
