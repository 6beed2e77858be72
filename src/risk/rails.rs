//! Owns: the risk checker — every intent from every strategy passes [`RiskRails::check`] in
//! the documented order (see the module doc of `risk`), and only an [`Approved`] intent can
//! reach the order manager — plus the market view it checks against, the breakers it feeds
//! and the health state it consults. Never: reads the clock, allocates per intent, or lets a
//! rejected intent through; a rejection names its code, the measured value and the limit.

use crate::core::{
    IntentAction, MarketEvent, MarketEventKind, Notional, OrderIntent, OrderType, Price, Qty, Side,
    StrategyId, SymbolId, WideNotional,
};
use crate::oms::venue::{LinkState, VenueReport};

use super::breakers::{Breakers, EquityReading};
use super::codes;
use super::config::RiskLimits;
use super::exposure::{ExposureBook, MAX_STRATEGIES};
use super::state::{HealthState, Transition};
use super::window::RateWindow;
use super::{StrategyMode, TradingMode};

/// An intent the rails approved; only this module can make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved<T>(T);

impl<T> Approved<T> {
    /// The approved value.
    #[inline]
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Marks `value` approved without checks: for the order manager's own unit tests.
    #[cfg(test)]
    pub(crate) fn unchecked(value: T) -> Self {
        Self(value)
    }
}

/// Why the rails refused an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskReject {
    /// `codes::*` (300–399).
    pub code: u16,
    /// The measured value and the limit it broke (notional, count, bps…; 0 when none).
    pub observed: Notional,
    pub limit: Notional,
}

/// The rails' decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskVerdict {
    Approved(Approved<OrderIntent>),
    Rejected(RiskReject),
}

/// What the rails know of one symbol's market.
#[derive(Debug, Clone, Copy, Default)]
struct SymbolMarket {
    bid: Price,
    ask: Price,
    last_trade: Price,
    /// False while the book resyncs.
    book_valid: bool,
    last_recv_ns: u64,
    traded: bool,
}

impl SymbolMarket {
    /// Book mid, else the last trade.
    #[inline]
    fn mark(&self) -> Price {
        if self.bid.is_positive() && self.ask.is_positive() {
            self.bid.midpoint(self.ask)
        } else {
            self.last_trade
        }
    }
}

/// The notional limits at 1e-36, computed once per set of limits (a check compares, it
/// never multiplies a limit).
#[derive(Debug, Clone, Copy)]
struct WideLimits {
    overflow: WideNotional,
    min_order: WideNotional,
    max_order: WideNotional,
    /// Symbol, venue, total gross caps (`None`: off).
    caps: [Option<WideNotional>; 3],
    /// Budget per strategy slot (`None`: off).
    budgets: [Option<WideNotional>; MAX_STRATEGIES],
}

impl WideLimits {
    fn of(limits: &RiskLimits) -> Self {
        let cap = |n: Notional| n.is_positive().then(|| WideNotional::of(n));
        let mut budgets = [None; MAX_STRATEGIES];
        for (slot, budget) in budgets.iter_mut().enumerate() {
            *budget = cap(limits.budget_of(StrategyId(slot as u16)));
        }
        Self {
            overflow: WideNotional::of(Notional::MAX),
            min_order: WideNotional::of(limits.min_order_notional),
            max_order: if limits.max_order_notional.is_positive() {
                WideNotional::of(limits.max_order_notional)
            } else {
                WideNotional::of(Notional::MAX)
            },
            caps: [
                cap(limits.max_symbol_exposure),
                cap(limits.max_venue_exposure),
                cap(limits.max_gross_exposure),
            ],
            budgets,
        }
    }
}

/// Recently approved orders, for duplicate suppression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fingerprint {
    strategy: StrategyId,
    intent_seq: u64,
    symbol: SymbolId,
    side: Side,
    order_type: OrderType,
    price: Price,
    qty: Qty,
    approved_ns: u64,
}

/// Approved orders remembered (one bit each in the scan's candidate mask).
const RECENT: usize = 32;

impl Fingerprint {
    /// A 64-bit digest of the order's terms: the scan compares these first (one contiguous
    /// array), the full fingerprint only on a match.
    #[inline]
    fn key(intent: &OrderIntent) -> u64 {
        let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        let qty = intent.qty.raw() as u128;
        let price = intent.price.raw() as u128;
        let mut h = mix(0, qty as u64);
        h = mix(h, (qty >> 64) as u64);
        h = mix(h, price as u64);
        h = mix(h, (price >> 64) as u64);
        mix(
            h,
            u64::from(intent.symbol.0)
                | u64::from(intent.strategy.0) << 32
                | (intent.side as u64) << 48
                | (intent.order_type as u64) << 56,
        )
    }
}

/// Reject counts by code, for the metrics.
pub type RejectCounts = [u64; codes::REJECT_CODES.len()];

/// The risk checker and the breaker / health state behind it.
#[derive(Debug, Clone)]
pub struct RiskRails {
    limits: RiskLimits,
    wide: WideLimits,
    markets: Vec<SymbolMarket>,
    /// Venue index of each symbol (exposure per venue).
    venue_of: Vec<u8>,
    modes: [StrategyMode; MAX_STRATEGIES],
    known: [bool; MAX_STRATEGIES],
    orders: RateWindow,
    cancels: RateWindow,
    recent: [Fingerprint; RECENT],
    /// `Fingerprint::key` of each entry of `recent`, and its intent sequence number.
    recent_keys: [u64; RECENT],
    recent_seqs: [u64; RECENT],
    recent_next: usize,
    breakers: Breakers,
    health: HealthState,
    /// Wall-clock ns minus monotonic ns (for the UTC day of the daily drawdown).
    wall_offset_ns: i128,
    started_ns: u64,
    rejects: RejectCounts,
    rejects_total: u64,
    /// The all-time high-water mark last journaled.
    journaled_high_water_mark: Notional,
}

impl RiskRails {
    /// Rails for `symbols` symbols (ids index them) with `limits`; `wall_offset_ns` is wall
    /// clock minus monotonic clock at start-up.
    pub fn new(limits: RiskLimits, symbols: usize, wall_offset_ns: i128) -> Self {
        Self {
            wide: WideLimits::of(&limits),
            limits,
            markets: vec![SymbolMarket::default(); symbols],
            venue_of: vec![0; symbols],
            modes: [StrategyMode::Enabled; MAX_STRATEGIES],
            known: [false; MAX_STRATEGIES],
            orders: RateWindow::default(),
            cancels: RateWindow::default(),
            recent: [Fingerprint::default(); RECENT],
            recent_keys: [0; RECENT],
            recent_seqs: [0; RECENT],
            recent_next: 0,
            breakers: Breakers::default(),
            health: HealthState::default(),
            wall_offset_ns,
            started_ns: 0,
            rejects: [0; codes::REJECT_CODES.len()],
            rejects_total: 0,
            journaled_high_water_mark: Notional::ZERO,
        }
    }

    /// Marks `symbol` traded (its staleness trips the breaker) on venue `venue`.
    pub fn add_traded_symbol(&mut self, symbol: SymbolId, venue: u8) {
        if let Some(m) = self.markets.get_mut(symbol.index()) {
            m.traded = true;
        }
        if let Some(v) = self.venue_of.get_mut(symbol.index()) {
            *v = venue;
        }
    }

    /// Registers a strategy the operator can enable, disable or dry-run.
    pub fn add_strategy(&mut self, strategy: StrategyId, mode: StrategyMode) {
        if let Some(slot) = self.known.get_mut(usize::from(strategy.0)) {
            *slot = true;
            self.modes[usize::from(strategy.0)] = mode;
        }
    }

    /// Registered strategies and their modes.
    pub fn strategies(&self) -> impl Iterator<Item = (StrategyId, StrategyMode)> + '_ {
        (0..MAX_STRATEGIES)
            .filter(|&i| self.known[i])
            .map(|i| (StrategyId(i as u16), self.modes[i]))
    }

    /// Sets a registered strategy's mode; false for an unknown strategy.
    pub fn set_strategy_mode(&mut self, strategy: StrategyId, mode: StrategyMode) -> bool {
        let index = usize::from(strategy.0);
        if !self.known.get(index).copied().unwrap_or(false) {
            return false;
        }
        self.modes[index] = mode;
        true
    }

    /// The limits in force.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Swaps in new limits (operator reload).
    pub fn set_limits(&mut self, limits: RiskLimits) {
        self.wide = WideLimits::of(&limits);
        self.limits = limits;
    }

    /// The breakers.
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// The health state.
    pub fn health(&self) -> &HealthState {
        &self.health
    }

    /// Rejects so far, by `codes::REJECT_CODES` index, and their total.
    pub fn rejects(&self) -> (&RejectCounts, u64) {
        (&self.rejects, self.rejects_total)
    }

    /// The mark (mid, else last trade) of `symbol`.
    pub fn mark(&self, symbol: SymbolId) -> Price {
        self.markets
            .get(symbol.index())
            .map_or(Price::ZERO, SymbolMarket::mark)
    }

    /// A market event: prices, book validity, freshness.
    #[inline]
    pub fn on_market(&mut self, event: &MarketEvent) {
        let Some(m) = self.markets.get_mut(event.symbol.index()) else {
            return;
        };
        m.last_recv_ns = m.last_recv_ns.max(event.recv_ns);
        match &event.kind {
            MarketEventKind::BookTicker(t) => {
                m.bid = t.bid_price;
                m.ask = t.ask_price;
                m.book_valid = true;
            }
            MarketEventKind::Book(top) => {
                m.book_valid = top.valid && top.bid_count > 0 && top.ask_count > 0;
                if m.book_valid {
                    m.bid = top.bids[0].price;
                    m.ask = top.asks[0].price;
                }
            }
            MarketEventKind::Trade(t) => {
                m.last_trade = t.price;
                if !m.bid.is_positive() {
                    // A trades-only feed has no book to be invalid.
                    m.book_valid = true;
                }
            }
        }
    }

    /// A venue report: the venue error-rate and consecutive-failure breakers' inputs.
    pub fn on_report(&mut self, report: &VenueReport, now_ns: u64) {
        match report {
            VenueReport::Accepted { .. } | VenueReport::Fill(_) => {
                self.breakers.on_venue_outcome(now_ns, false);
                self.breakers.on_order_result(false);
            }
            VenueReport::Rejected { .. } | VenueReport::StatusUnknown { .. } => {
                self.breakers.on_venue_outcome(now_ns, true);
                self.breakers.on_order_result(true);
            }
            VenueReport::Link(LinkState::Down | LinkState::Timeout) => {
                self.breakers.on_venue_outcome(now_ns, true);
            }
            _ => {}
        }
    }

    /// A tick-to-order sample.
    #[inline]
    pub fn on_tick_to_order(&mut self, latency_ns: u64) {
        self.breakers.on_latency(latency_ns);
    }

    /// Periodic evaluation: equity, windows, staleness; returns a health transition.
    pub fn on_timer(&mut self, now_ns: u64, equity: EquityReading) -> Option<Transition> {
        if self.started_ns == 0 {
            self.started_ns = now_ns.max(1);
        }
        let wall_ns = i128::from(now_ns) + self.wall_offset_ns;
        let day = u64::try_from(wall_ns.max(0) / 86_400_000_000_000).unwrap_or(0);
        self.breakers.on_equity(equity, day, &self.limits);
        let oldest = self
            .markets
            .iter()
            .filter(|m| m.traded)
            .map(|m| m.last_recv_ns.max(self.started_ns))
            .min()
            .unwrap_or(0);
        self.breakers.evaluate(now_ns, oldest, &self.limits);
        self.health
            .on_readings(now_ns, self.breakers.readings(), &self.limits)
    }

    /// The all-time high-water mark when it rose 0.1 % or more since last journaled (the
    /// caller journals it, so a restart keeps it).
    pub fn high_water_mark_to_journal(&mut self) -> Option<Notional> {
        let mark = self.breakers.high_water_mark();
        let last = self.journaled_high_water_mark;
        let risen = mark.raw().saturating_sub(last.raw()).saturating_mul(1_000) >= last.raw();
        (mark > last && risen).then(|| {
            self.journaled_high_water_mark = mark;
            mark
        })
    }

    /// Restores what an earlier run journaled: the all-time high-water mark and a halt.
    pub fn restore(
        &mut self,
        high_water_mark: Notional,
        halt_cause: Option<u16>,
    ) -> Option<Transition> {
        self.breakers.restore_high_water_mark(high_water_mark);
        self.journaled_high_water_mark = high_water_mark;
        halt_cause.and_then(|cause| self.health.restore_halt(cause))
    }

    /// The operator's kill switch.
    pub fn kill(&mut self) -> Option<Transition> {
        self.health.kill()
    }

    /// The operator's resume.
    pub fn resume(&mut self) -> Option<Transition> {
        self.health.resume()
    }

    /// Checks an intent at `now_ns` against the limits, `exposure` and the market.
    #[inline]
    pub fn check(
        &mut self,
        intent: &OrderIntent,
        exposure: &ExposureBook,
        now_ns: u64,
    ) -> RiskVerdict {
        let verdict = match intent.action {
            IntentAction::New => self.check_new(intent, exposure, now_ns),
            // A stop move cancels and re-places the legs, and only ever tightens (the order
            // manager refuses a looser one): it is limited like a cancel.
            IntentAction::Cancel | IntentAction::CancelAll | IntentAction::Rebracket => {
                self.check_cancel(now_ns)
            }
        };
        match verdict {
            Ok(()) => RiskVerdict::Approved(Approved(*intent)),
            Err(reject) => {
                if let Some(i) = codes::REJECT_CODES.iter().position(|&c| c == reject.code) {
                    self.rejects[i] += 1;
                }
                self.rejects_total += 1;
                RiskVerdict::Rejected(reject)
            }
        }
    }

    fn check_cancel(&mut self, now_ns: u64) -> Result<(), RiskReject> {
        let limit = self.limits.max_cancels_per_window;
        if limit > 0 {
            let window_ns = self.limits.cancel_rate_window_ms.saturating_mul(1_000_000);
            let count = self.cancels.count(now_ns, window_ns);
            if count >= limit as usize {
                return Err(reject(
                    codes::CANCEL_RATE,
                    Notional::from_int(count as i64),
                    Notional::from_int(i64::from(limit)),
                ));
            }
        }
        self.cancels.record(now_ns);
        Ok(())
    }

    fn check_new(
        &mut self,
        intent: &OrderIntent,
        exposure: &ExposureBook,
        now_ns: u64,
    ) -> Result<(), RiskReject> {
        let limits = &self.limits;
        let held = exposure.symbol(intent.symbol);
        // With what already rests on its side: two sells of the whole position take it
        // past flat together, however small each is alone.
        let shrinks = match intent.side {
            Side::Sell => {
                held.position.is_positive()
                    && held.open_sell.saturating_add(intent.qty) <= held.position
            }
            Side::Buy => {
                held.position.raw() < 0
                    && held.open_buy.saturating_add(intent.qty) <= held.position.abs()
            }
        };
        // 1. Trading mode.
        match self.health.mode() {
            TradingMode::Halted => return Err(code_only(codes::HALTED)),
            TradingMode::ReduceOnly if !shrinks => return Err(code_only(codes::REDUCE_ONLY)),
            _ => {}
        }
        // 2. The strategy's mode.
        let mode = self
            .modes
            .get(usize::from(intent.strategy.0))
            .copied()
            .unwrap_or(StrategyMode::Enabled);
        if mode == StrategyMode::Disabled {
            return Err(code_only(codes::STRATEGY_DISABLED));
        }
        // 3. Market data.
        let market = self
            .markets
            .get(intent.symbol.index())
            .copied()
            .unwrap_or_default();
        let age_ns = now_ns.saturating_sub(market.last_recv_ns);
        let max_age_ns = limits.max_market_data_age_ms.saturating_mul(1_000_000);
        if !market.book_valid || market.last_recv_ns == 0 || (max_age_ns > 0 && age_ns > max_age_ns)
        {
            return Err(reject(
                codes::STALE_MARKET_DATA,
                Notional::from_int((age_ns / 1_000_000) as i64),
                Notional::from_int(limits.max_market_data_age_ms as i64),
            ));
        }
        // 4. Duplicate: the cheapest, most telling fields first (most intents differ in
        // quantity or price from every recent one); a zero window switches the rail off.
        let window_ns = limits.duplicate_window_ms.saturating_mul(1_000_000);
        let seq = intent.intent_seq;
        let key = Fingerprint::key(intent);
        // Branch-free over the key arrays (vectorised), then the few candidates in full.
        let seq_probe = if seq == 0 { u64::MAX } else { seq };
        let mut candidates = 0u32;
        if window_ns > 0 {
            for i in 0..RECENT {
                let hit = (self.recent_keys[i] == key) | (self.recent_seqs[i] == seq_probe);
                candidates |= u32::from(hit) << i;
            }
        }
        let mut duplicate = false;
        while candidates != 0 && !duplicate {
            let r = &self.recent[candidates.trailing_zeros() as usize];
            candidates &= candidates - 1;
            let same_order = r.qty == intent.qty
                && r.price == intent.price
                && r.side == intent.side
                && r.symbol == intent.symbol
                && r.order_type == intent.order_type
                && now_ns.saturating_sub(r.approved_ns) < window_ns;
            duplicate = (same_order || (seq != 0 && r.intent_seq == seq))
                && r.strategy == intent.strategy
                && r.approved_ns != 0;
        }
        if duplicate {
            return Err(code_only(codes::DUPLICATE_INTENT));
        }
        // 5. A price.
        let mark = market.mark();
        if !mark.is_positive() {
            return Err(code_only(codes::NO_PRICE));
        }
        let order_price = if intent.price.is_positive() {
            intent.price
        } else {
            match intent.side {
                Side::Buy if market.ask.is_positive() => market.ask,
                Side::Sell if market.bid.is_positive() => market.bid,
                _ => mark,
            }
        };
        // 6. Order notional, compared exactly at 1e-36 (no division on the way to "yes").
        let notional = WideNotional::product(order_price, intent.qty);
        if notional >= self.wide.overflow {
            return Err(code_only(codes::NOTIONAL_OVERFLOW));
        }
        if !shrinks {
            if notional < self.wide.min_order {
                return Err(reject(
                    codes::NOTIONAL_TOO_SMALL,
                    notional.to_notional(),
                    limits.min_order_notional,
                ));
            }
            if notional > self.wide.max_order {
                return Err(reject(
                    codes::NOTIONAL_TOO_LARGE,
                    notional.to_notional(),
                    limits.max_order_notional,
                ));
            }
        }
        // 7. Price band around the mark.
        if limits.price_band_bps > 0 && intent.price.is_positive() {
            let distance = intent
                .price
                .raw()
                .saturating_sub(mark.raw())
                .saturating_abs();
            // distance / mark > bps / 10 000, without a 128-bit division.
            let band = mark.raw().saturating_mul(i128::from(limits.price_band_bps));
            if distance.saturating_mul(10_000) > band {
                let bps = distance.saturating_mul(10_000) / mark.raw().max(1);
                return Err(reject(
                    codes::PRICE_BAND,
                    Notional::from_int(bps.min(i128::from(i64::MAX)) as i64),
                    Notional::from_int(i64::from(limits.price_band_bps)),
                ));
            }
        }
        // 8. Open orders.
        if limits.max_open_orders > 0 && exposure.open_orders() >= limits.max_open_orders {
            return Err(reject(
                codes::MAX_OPEN_ORDERS,
                Notional::from_int(i64::from(exposure.open_orders())),
                Notional::from_int(i64::from(limits.max_open_orders)),
            ));
        }
        if limits.max_open_orders_per_symbol > 0
            && held.open_orders >= limits.max_open_orders_per_symbol
        {
            return Err(reject(
                codes::MAX_OPEN_ORDERS_SYMBOL,
                Notional::from_int(i64::from(held.open_orders)),
                Notional::from_int(i64::from(limits.max_open_orders_per_symbol)),
            ));
        }
        // 9. Order rate.
        let rate_limit = limits.max_orders_per_window;
        let rate_window_ns = limits.order_rate_window_ms.saturating_mul(1_000_000);
        if rate_limit > 0 {
            let count = self.orders.count(now_ns, rate_window_ns);
            if count >= rate_limit as usize {
                return Err(reject(
                    codes::ORDER_RATE,
                    Notional::from_int(count as i64),
                    Notional::from_int(i64::from(rate_limit)),
                ));
            }
        }
        if !shrinks {
            // 10. Exposure caps, with this order on its symbol.
            self.check_exposure(intent, exposure)?;
            // 11. The strategy's budget.
            self.check_budget(intent, exposure)?;
        }
        if mode == StrategyMode::DryRun {
            return Err(reject(
                codes::DRY_RUN,
                notional.to_notional(),
                Notional::ZERO,
            ));
        }
        self.orders.record(now_ns);
        self.recent[self.recent_next] = Fingerprint {
            strategy: intent.strategy,
            intent_seq: intent.intent_seq,
            symbol: intent.symbol,
            side: intent.side,
            order_type: intent.order_type,
            price: intent.price,
            qty: intent.qty,
            approved_ns: now_ns.max(1),
        };
        self.recent_keys[self.recent_next] = key;
        self.recent_seqs[self.recent_next] = seq;
        self.recent_next = (self.recent_next + 1) % RECENT;
        Ok(())
    }

    /// Gross exposure of one symbol's position and growing orders (plus `extra` on `side`).
    #[inline]
    fn gross(
        position: Qty,
        open_buy: Qty,
        open_sell: Qty,
        extra: Option<(Side, Qty)>,
        mark: Price,
    ) -> WideNotional {
        let (mut buy, mut sell) = (open_buy, open_sell);
        match extra {
            Some((Side::Buy, q)) => buy = buy.saturating_add(q),
            Some((Side::Sell, q)) => sell = sell.saturating_add(q),
            None => {}
        }
        let long = position.saturating_add(buy).abs();
        let short = position.saturating_sub(sell).abs();
        WideNotional::product(mark, long.max(short))
    }

    /// The mark of symbol `index` (zero when it has none yet).
    #[inline]
    fn mark_at(&self, index: usize) -> Price {
        self.markets
            .get(index)
            .map_or(Price::ZERO, SymbolMarket::mark)
    }

    /// Gross exposure of `with`'s symbol, of `venue` and of everything, counting the order
    /// `with` (symbol, side, quantity) on its symbol when given.
    fn gross_totals(
        &self,
        exposure: &ExposureBook,
        venue: Option<u8>,
        with: Option<(SymbolId, Side, Qty)>,
    ) -> (WideNotional, WideNotional, WideNotional) {
        let mut symbol_after = WideNotional::ZERO;
        let mut venue_after = WideNotional::ZERO;
        let mut total_after = WideNotional::ZERO;
        for (index, held) in exposure.symbols().iter().enumerate() {
            let extra = with
                .filter(|(symbol, _, _)| symbol.index() == index)
                .map(|(_, side, qty)| (side, qty));
            if extra.is_none()
                && held.position.is_zero()
                && held.open_buy.is_zero()
                && held.open_sell.is_zero()
            {
                continue;
            }
            let gross = Self::gross(
                held.position,
                held.open_buy,
                held.open_sell,
                extra,
                self.mark_at(index),
            );
            if extra.is_some() {
                symbol_after = gross;
            }
            if self.venue_of.get(index).copied() == venue {
                venue_after = venue_after.saturating_add(gross);
            }
            total_after = total_after.saturating_add(gross);
        }
        (symbol_after, venue_after, total_after)
    }

    /// Gross exposure of `strategy`'s own positions and orders, with `with` when given.
    fn strategy_gross(
        &self,
        strategy: StrategyId,
        exposure: &ExposureBook,
        with: Option<(SymbolId, Side, Qty)>,
    ) -> WideNotional {
        let mut used = WideNotional::ZERO;
        for index in 0..exposure.symbol_count() {
            let own = exposure.strategy(strategy, SymbolId(index as u32));
            let extra = with
                .filter(|(symbol, _, _)| symbol.index() == index)
                .map(|(_, side, qty)| (side, qty));
            if extra.is_none()
                && own.position.is_zero()
                && own.open_buy.is_zero()
                && own.open_sell.is_zero()
            {
                continue;
            }
            used = used.saturating_add(Self::gross(
                own.position,
                own.open_buy,
                own.open_sell,
                extra,
                self.mark_at(index),
            ));
        }
        used
    }

    fn check_exposure(
        &self,
        intent: &OrderIntent,
        exposure: &ExposureBook,
    ) -> Result<(), RiskReject> {
        let limits = &self.limits;
        let venue = self.venue_of.get(intent.symbol.index()).copied();
        let order = Some((intent.symbol, intent.side, intent.qty));
        let (symbol_after, venue_after, total_after) = self.gross_totals(exposure, venue, order);
        let checks = [
            (
                codes::EXPOSURE_SYMBOL_CAP,
                symbol_after,
                limits.max_symbol_exposure,
            ),
            (
                codes::EXPOSURE_VENUE_CAP,
                venue_after,
                limits.max_venue_exposure,
            ),
            (
                codes::EXPOSURE_TOTAL_CAP,
                total_after,
                limits.max_gross_exposure,
            ),
        ];
        for ((code, after, cap), wide_cap) in checks.into_iter().zip(self.wide.caps) {
            if wide_cap.is_some_and(|wide| after > wide) {
                return Err(reject(code, after.to_notional(), cap));
            }
        }
        Ok(())
    }

    fn check_budget(
        &self,
        intent: &OrderIntent,
        exposure: &ExposureBook,
    ) -> Result<(), RiskReject> {
        let id = usize::from(intent.strategy.0);
        let budget = match self.wide.budgets.get(id) {
            Some(budget) => *budget,
            None => {
                let limit = self.limits.budget_of(intent.strategy);
                limit.is_positive().then(|| WideNotional::of(limit))
            }
        };
        let Some(budget) = budget else {
            return Ok(());
        };
        let order = Some((intent.symbol, intent.side, intent.qty));
        let used = self.strategy_gross(intent.strategy, exposure, order);
        if used > budget {
            let limit = self.limits.budget_of(intent.strategy);
            return Err(reject(codes::STRATEGY_BUDGET, used.to_notional(), limit));
        }
        Ok(())
    }

    /// Gross exposure of venue 0 and of everything, for the gauges and the status.
    pub fn exposures(&self, exposure: &ExposureBook) -> (Notional, Notional) {
        let (_, venue, total) = self.gross_totals(exposure, Some(0), None);
        (venue.to_notional(), total.to_notional())
    }

    /// A strategy's gross exposure (its position and growing orders), for the status.
    pub fn strategy_exposure(&self, strategy: StrategyId, exposure: &ExposureBook) -> Notional {
        self.strategy_gross(strategy, exposure, None).to_notional()
    }
}

const fn code_only(code: u16) -> RiskReject {
    RiskReject {
        code,
        observed: Notional::ZERO,
        limit: Notional::ZERO,
    }
}

const fn reject(code: u16, observed: Notional, limit: Notional) -> RiskReject {
    RiskReject {
        code,
        observed,
        limit,
    }
}

#[cfg(test)]
#[path = "rails_tests.rs"]
mod tests;
