//! Owns: booking one fill into an account: spot and margin (pay from the order's lock,
//! receive, fees in quote or BNB, auto-repay) and futures (position, realized PnL, fee
//! from the wallet, `ACCOUNT_UPDATE`). Never: decides what fills.

use crate::core::{Notional, Price, Qty, Ratio, Side};

use super::super::account::{div_raw, fee_of};
use super::super::orders::{AccountKind, SimOrder, UserEvent};
use super::{CommissionAsset, Exchange};

/// Decimals fees are rounded down to (Binance's commission precision).
pub(super) const FEE_DECIMALS: u32 = 8;

impl Exchange {
    /// Books a spot or margin fill; returns the commission and its asset.
    pub(super) fn settle_spot(
        &mut self,
        order: &SimOrder,
        qty: Qty,
        quote: Notional,
        rate: Ratio,
    ) -> (Qty, String) {
        let Some(rules) = self.rules.get(&order.symbol) else {
            return (Qty::ZERO, String::new());
        };
        let base = rules.instrument.base_asset.clone();
        let quote_asset = rules.instrument.quote_asset.clone();
        let fee_quote = Qty::from_raw(fee_of(quote.raw(), rate.raw(), FEE_DECIMALS));
        let account = order.account;
        let bnb_fee = match self.commission_asset {
            CommissionAsset::Bnb if self.bnb_price.is_positive() => {
                let raw = div_raw(fee_quote.raw(), self.bnb_price.raw());
                let step = 10i128.pow(crate::core::decimal::SCALE_DIGITS - FEE_DECIMALS);
                let fee = Qty::from_raw(raw - raw.rem_euclid(step));
                (self.ledger_ref(account).free("BNB") >= fee).then_some(fee)
            }
            _ => None,
        };
        let quote_amount = Qty::from_raw(quote.raw());
        let fee_in_quote = if bnb_fee.is_some() {
            Qty::ZERO
        } else {
            fee_quote
        };
        let (pay_asset, pay_amount, get_asset, get_amount) = match order.side {
            Side::Buy => (
                quote_asset.clone(),
                quote_amount.saturating_add(fee_in_quote),
                base.clone(),
                qty,
            ),
            Side::Sell => (
                base.clone(),
                qty,
                quote_asset.clone(),
                quote_amount.saturating_sub(fee_in_quote),
            ),
        };
        let from_lock = self.draw_lock(order.order_id, &pay_asset, pay_amount);
        let ledger = self.ledger(account);
        ledger.pay(&pay_asset, pay_amount, from_lock);
        ledger.credit(&get_asset, get_amount);
        if let Some(fee) = bnb_fee {
            ledger.pay("BNB", fee, Qty::ZERO);
        }
        if account == AccountKind::Margin && order.side_effect.repays() {
            ledger.repay(&get_asset);
        }
        self.touch(account, &pay_asset);
        self.touch(account, &get_asset);
        match bnb_fee {
            Some(fee) => {
                self.touch(account, "BNB");
                (fee, "BNB".to_owned())
            }
            None => (fee_quote, quote_asset),
        }
    }

    /// Books a futures fill; returns the commission, its asset and the realized PnL.
    pub(super) fn settle_futures(
        &mut self,
        order: &SimOrder,
        price: Price,
        qty: Qty,
        quote: Notional,
        rate: Ratio,
        now_ms: u64,
    ) -> (Qty, String, Notional) {
        let margin_asset = self
            .rules
            .get(&order.symbol)
            .map(|r| r.instrument.quote_asset.clone())
            .unwrap_or_default();
        let realized =
            self.futures_ledger
                .apply_fill(&order.symbol, order.side, price, qty, now_ms);
        let fee = Notional::from_raw(fee_of(quote.raw(), rate.raw(), FEE_DECIMALS));
        self.futures_ledger
            .credit(&margin_asset, realized.saturating_sub(fee));
        (Qty::from_raw(fee.raw()), margin_asset, realized)
    }

    pub(super) fn futures_account_event(
        &mut self,
        symbol: &str,
        reason: &'static str,
        change: Notional,
        now_ms: u64,
    ) {
        let Some(asset) = self
            .rules
            .get(symbol)
            .map(|r| r.instrument.quote_asset.clone())
        else {
            return;
        };
        let mark = self.mark_price(symbol);
        let positions = self.futures_ledger.view(symbol, mark).into_iter().collect();
        self.events.push(UserEvent::FuturesAccount {
            reason,
            balances: vec![(asset.clone(), self.futures_ledger.wallet(&asset), change)],
            positions,
            time_ms: now_ms,
        });
    }
}
