//! Owns: the scalping strategy (seed-spec §2.4) — per trade tick, the range /
//! order-book-imbalance / momentum / short-RSI rules over a rolling window of engine time,
//! read against the symbol's real L2 top, with an edge check net of a deterministic
//! slippage estimate and fees, and entries that carry an exchange-side bracket (stop and
//! take-profit in bps) the order manager places when the entry fills. Never: enters on a
//! book that is resyncing or stale, while it holds or has orders on the symbol, on a symbol
//! another strategy owns, above its signal rate or inside its cooldown; never watches
//! prices to exit (the venue holds the bracket).
//!
//! **Decision, per trade of one of its symbols** (in this order; the first failing step
//! ends the tick without a signal):
//! 1. The tick joins the window of the last `window_sec`; at least `min_ticks` ticks;
//!    span = high − low > 0 (flat prices have no range); range = span / price × 1e4 ≥
//!    `min_range_bps`.
//! 2. The L2 book is valid, two-sided and at most `book_stale_sec` old; the best bid and
//!    ask (the newest of the L2 top and bookTicker, see [`book`]) are not crossed; the
//!    spread ≤ `max_spread_bps`; the first-level depth (bid qty × bid + ask qty × ask) ≥
//!    `min_depth_usd`.
//! 3. position = (price − low) / span; RSI over the last `rsi_length` tick changes (none
//!    with fewer ticks: no RSI reason); momentum = price − the price `momentum_ticks` ticks
//!    before (0 when the window is shorter).
//! 4. Gates: nothing held or open on the symbol (`Holding::can_enter`), no other owner, in
//!    scope, fewer than `max_signals_per_min` signals in the last 60 s, not cooling down.
//! 5. bullish flow = imbalance ≥ T or momentum > 0; bearish flow = −imbalance ≥ T or
//!    momentum < 0; oversold = RSI ≤ `rsi_buy`; overbought = RSI ≥ `rsi_sell`.
//!    BUY when position ≤ `lower_threshold` and (bullish flow or oversold): reason
//!    `range_support` with flow, else `rsi_rebound`. Else SELL when shorts are possible on
//!    the market and `allow_shorts`, position ≥ `upper_threshold`, (bearish flow or
//!    overbought) and not oversold: `range_resist` with flow, else `rsi_mean_revert`.
//! 6. Edge: net = `tp_bps` − slippage − `fee_bps` > 0, slippage from [`book`]'s estimate.
//! 7. Bracket from the mid: stop = mid × (1 ∓ `stop_bps`/1e4), take-profit = mid ×
//!    (1 ± `tp_bps`/1e4) (minus / plus for a buy, mirrored for a sell). The mid, not the
//!    trade price, because the edge's slippage is measured from the mid: reaching the
//!    target then gains `tp_bps` − slippage.
//! 8. Emit the entry (quote `quote_usd`, tag `scalp_<reason>`), record the signal time,
//!    start the cooldown (kept in engine time and in venue time, which survives a restart).
//!
//! **Exits.** The bracket closes the position at the venue; bracket legs that fill are
//! counted on `scalp_bracket_exits_total` (`sl` / `tp`). A time stop closes a position still
//! open `max_hold_sec` after its entry filled (`Signal::Exit`, tag `scalp_time_stop`, mode
//! `time`); the seed's watcher gave up at that horizon and left the position open. A
//! limit entry (`entry = "limit"`) still open `signal_ttl_sec` after the signal is
//! cancelled by an exit tagged `scalp_ttl_expired`, which also closes a partial fill: a
//! scalp that filled late is no longer the signal. With market entries the TTL has nothing
//! to cancel. Both are checked on the timer, so they fire without trades.
//!
//! **State follows fills**: the position clock starts on the fill that makes the holding
//! non-zero and stops when the holding is idle again; emitting an entry changes nothing but
//! the rate ring and the cooldown (a refused entry still counts against both, as in the
//! seed).

mod book;
mod config;
mod metrics;
mod window;

#[cfg(test)]
mod tests;

pub use book::{BookRead, BookRefusal};
pub use config::{ScalpConfig, ScalpEntry, MAX_SIGNALS_PER_MIN, MAX_WINDOW_TICKS};

use crate::core::{
    Fill, MarketEvent, MarketEventKind, OrderRole, OrderStatus, OrderUpdate, Price, Side, SymbolId,
};
use crate::ops::OpsError;
use crate::strat::api::{
    ids, EntryPlan, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx, StrategyInfo,
};

use metrics::{side_index, SymbolMetrics, EXIT_SL, EXIT_TIME, EXIT_TP};
use window::TickWindow;

const NS_PER_SEC: u64 = 1_000_000_000;
const RATE_WINDOW_NS: u64 = 60 * NS_PER_SEC;
const NO_SLOT: u32 = u32::MAX;

/// Why an entry was taken; the `reason` label and the tag's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalpReason {
    RangeSupport,
    RsiRebound,
    RangeResist,
    RsiMeanRevert,
}

impl ScalpReason {
    const ALL: [ScalpReason; 4] = [
        ScalpReason::RangeSupport,
        ScalpReason::RsiRebound,
        ScalpReason::RangeResist,
        ScalpReason::RsiMeanRevert,
    ];

    /// The `reason` label.
    pub const fn label(self) -> &'static str {
        match self {
            ScalpReason::RangeSupport => "range_support",
            ScalpReason::RsiRebound => "rsi_rebound",
            ScalpReason::RangeResist => "range_resist",
            ScalpReason::RsiMeanRevert => "rsi_mean_revert",
        }
    }

    /// The entry's tag (`source` of `strategy_orders_total`).
    pub const fn tag(self) -> &'static str {
        match self {
            ScalpReason::RangeSupport => TAG_RANGE_SUPPORT,
            ScalpReason::RsiRebound => TAG_RSI_REBOUND,
            ScalpReason::RangeResist => TAG_RANGE_RESIST,
            ScalpReason::RsiMeanRevert => TAG_RSI_MEAN_REVERT,
        }
    }

    /// The entry's side.
    pub const fn side(self) -> Side {
        match self {
            ScalpReason::RangeSupport | ScalpReason::RsiRebound => Side::Buy,
            ScalpReason::RangeResist | ScalpReason::RsiMeanRevert => Side::Sell,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

pub const TAG_RANGE_SUPPORT: &str = "scalp_range_support";
pub const TAG_RSI_REBOUND: &str = "scalp_rsi_rebound";
pub const TAG_RANGE_RESIST: &str = "scalp_range_resist";
pub const TAG_RSI_MEAN_REVERT: &str = "scalp_rsi_mean_revert";
/// Exit of a limit entry not filled within `signal_ttl_sec`.
pub const TAG_TTL_EXPIRED: &str = "scalp_ttl_expired";
/// Exit of a position held `max_hold_sec`.
pub const TAG_TIME_STOP: &str = "scalp_time_stop";

const TAGS: &[&str] = &[
    TAG_RANGE_SUPPORT,
    TAG_RSI_REBOUND,
    TAG_RANGE_RESIST,
    TAG_RSI_MEAN_REVERT,
    TAG_TTL_EXPIRED,
    TAG_TIME_STOP,
];

/// The last `capacity` signal times of one symbol.
#[derive(Debug, Clone)]
struct SignalTimes {
    times_ns: Vec<u64>,
    next: usize,
    filled: usize,
}

impl SignalTimes {
    fn new(capacity: usize) -> Self {
        Self {
            times_ns: vec![0; capacity.max(1)],
            next: 0,
            filled: 0,
        }
    }

    /// True when fewer than `capacity` signals fall in the 60 s before `now_ns`.
    fn allows(&self, now_ns: u64) -> bool {
        // When full, `next` is the oldest of the last `capacity`.
        self.filled < self.times_ns.len()
            || now_ns.saturating_sub(self.times_ns[self.next]) >= RATE_WINDOW_NS
    }

    fn record(&mut self, now_ns: u64) {
        self.times_ns[self.next] = now_ns;
        self.next = (self.next + 1) % self.times_ns.len();
        self.filled = (self.filled + 1).min(self.times_ns.len());
    }
}

/// One symbol's state.
#[derive(Debug, Clone)]
struct SymbolSlot {
    symbol: SymbolId,
    window: TickWindow,
    signals: SignalTimes,
    /// Cooldown end in engine time (this run) and in venue time (survives a restart; 0:
    /// none).
    cooldown_until_ns: u64,
    cooldown_until_venue_ms: u64,
    /// Engine time after which a limit entry still open is cancelled (0: none).
    entry_deadline_ns: u64,
    /// Engine time of the fill that opened the position (0: flat).
    entered_ns: u64,
    /// An exit was emitted and the holding is not idle yet.
    exit_sent: bool,
}

/// The persisted part: cooldown ends in venue time, by symbol id.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    cooldowns: Vec<(u32, u64)>,
}

/// The scalping strategy.
#[derive(Debug)]
pub struct ScalpStrategy {
    config: ScalpConfig,
    symbols: Vec<SymbolId>,
    /// Slot index by [`SymbolId::index`] (`NO_SLOT`: not ours).
    slot_of: Vec<u32>,
    slots: Vec<SymbolSlot>,
    metrics: Vec<SymbolMetrics>,
    window_ns: u64,
    stale_ns: u64,
    cooldown_ns: u64,
    ttl_ns: u64,
    max_hold_ns: u64,
    quote: f64,
}

/// Price × (1 + `bps` / 1e4), `bps` signed, truncated toward zero.
fn offset_bps(price: Price, bps: i64) -> Price {
    Price::from_raw(price.raw() + price.raw() / 10_000 * i128::from(bps))
}

impl ScalpStrategy {
    /// A scalper over `symbols` (resolved from `config.symbols`); `config` should have
    /// passed [`ScalpConfig::validate`] (out-of-range values are clamped to the seed's
    /// bounds here rather than trusted).
    pub fn new(config: &ScalpConfig, symbols: &[SymbolId]) -> Self {
        let capacity = config.max_window_ticks.clamp(3, MAX_WINDOW_TICKS) as usize;
        let rate = config.max_signals_per_min.clamp(1, MAX_SIGNALS_PER_MIN) as usize;
        let mut unique: Vec<SymbolId> = Vec::with_capacity(symbols.len());
        for &symbol in symbols {
            if !unique.contains(&symbol) {
                unique.push(symbol);
            }
        }
        let table_len = unique.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        let mut slot_of = vec![NO_SLOT; table_len];
        for (slot, symbol) in unique.iter().enumerate() {
            slot_of[symbol.index()] = slot as u32;
        }
        let slots = unique
            .iter()
            .map(|&symbol| SymbolSlot {
                symbol,
                window: TickWindow::new(capacity),
                signals: SignalTimes::new(rate),
                cooldown_until_ns: 0,
                cooldown_until_venue_ms: 0,
                entry_deadline_ns: 0,
                entered_ns: 0,
                exit_sent: false,
            })
            .collect();
        let secs = |s: u32| u64::from(s) * NS_PER_SEC;
        Self {
            metrics: vec![SymbolMetrics::default(); unique.len()],
            symbols: unique,
            slot_of,
            slots,
            window_ns: secs(config.window_sec.max(1)),
            stale_ns: secs(config.book_stale_sec.max(1)),
            cooldown_ns: secs(config.cooldown_sec),
            ttl_ns: secs(config.signal_ttl_sec.max(1)),
            max_hold_ns: secs(config.max_hold_sec),
            quote: config.quote_usd.to_f64(),
            config: config.clone(),
        }
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        match self.slot_of.get(symbol.index()) {
            Some(&slot) if slot != NO_SLOT => Some(slot as usize),
            _ => None,
        }
    }

    /// Book gauges from a book event.
    fn on_book(&mut self, slot: usize, ctx: &StrategyCtx<'_>) {
        let state = ctx.market(self.slots[slot].symbol);
        if let Ok(book) = BookRead::of(&state, ctx.now_ns, self.stale_ns) {
            let metrics = &self.metrics[slot];
            metrics.spread_bp.set_f64(book.spread_bps);
            metrics.imbalance.set_f64(book.imbalance);
        }
    }

    fn on_tick(&mut self, slot: usize, price: Price, ctx: &mut StrategyCtx<'_>) {
        let price = price.to_f64();
        if price.is_nan() || price <= 0.0 {
            return;
        }
        let now = ctx.now_ns;
        let config = &self.config;
        let state = &mut self.slots[slot];
        let metrics = &self.metrics[slot];
        state.window.push(now, price, self.window_ns);
        // 1. Range.
        if state.window.len() < config.min_ticks as usize {
            return;
        }
        let Some((high, low)) = state.window.high_low() else {
            return;
        };
        let span = high - low;
        if span.is_nan() || span <= 0.0 {
            metrics.range_width_bp.set(0);
            return;
        }
        let range_bps = span / price * 1e4;
        let position = ((price - low) / span).clamp(0.0, 1.0);
        metrics.range_width_bp.set_f64(range_bps);
        metrics.position.set_f64(position);
        if range_bps < config.min_range_bps {
            return;
        }
        // 2. Book.
        let symbol = state.symbol;
        let market = ctx.market(symbol);
        let Ok(book) = BookRead::of(&market, now, self.stale_ns) else {
            return;
        };
        metrics.spread_bp.set_f64(book.spread_bps);
        metrics.imbalance.set_f64(book.imbalance);
        if book.spread_bps > config.max_spread_bps
            || book.depth_quote < config.min_depth_usd.to_f64()
        {
            return;
        }
        // 3. Indicators.
        let rsi = state.window.rsi(config.rsi_length as usize);
        if let Some(rsi) = rsi {
            metrics.rsi.set_f64(rsi);
        }
        let momentum = state
            .window
            .price_back(config.momentum_ticks as usize)
            .map_or(0.0, |before| price - before);
        // 4. Gates.
        if !ctx.holding(symbol).can_enter()
            || ctx
                .owner(symbol)
                .is_some_and(|owner| owner != ids::SCALPING)
            || !ctx.in_scope(symbol)
            || !state.signals.allows(now)
            || now < state.cooldown_until_ns
            || (ctx.venue_ms != 0 && ctx.venue_ms < state.cooldown_until_venue_ms)
        {
            return;
        }
        // 5. Rules.
        let threshold = config.imbalance_threshold;
        let bullish_flow = book.imbalance >= threshold || momentum > 0.0;
        let bearish_flow = -book.imbalance >= threshold || momentum < 0.0;
        let oversold = rsi.is_some_and(|r| r <= config.rsi_buy);
        let overbought = rsi.is_some_and(|r| r >= config.rsi_sell);
        let shorts = config.allow_shorts && ctx.shorts_possible();
        let reason = if position <= config.lower_threshold && (bullish_flow || oversold) {
            if bullish_flow {
                ScalpReason::RangeSupport
            } else {
                ScalpReason::RsiRebound
            }
        } else if shorts
            && position >= config.upper_threshold
            && (bearish_flow || overbought)
            && !oversold
        {
            if bearish_flow {
                ScalpReason::RangeResist
            } else {
                ScalpReason::RsiMeanRevert
            }
        } else {
            return;
        };
        let side = reason.side();
        // 6. Edge.
        let slippage = match config.entry {
            ScalpEntry::Market => book.market_slippage_bps(side, self.quote),
            ScalpEntry::Limit => Some(book.touch_slippage_bps(side)),
        };
        let Some(slippage) = slippage else {
            return;
        };
        let edge = f64::from(config.tp_bps) - slippage - config.fee_bps;
        if edge.is_nan() || edge <= 0.0 {
            return;
        }
        // 7. Bracket from the mid (exact, from the fixed-point top).
        let mid = book.bid_price.midpoint(book.ask_price);
        let (stop_bps, tp_bps) = (i64::from(config.stop_bps), i64::from(config.tp_bps));
        let (stop_loss, take_profit, limit) = match side {
            Side::Buy => (
                offset_bps(mid, -stop_bps),
                offset_bps(mid, tp_bps),
                book.ask_price,
            ),
            Side::Sell => (
                offset_bps(mid, stop_bps),
                offset_bps(mid, -tp_bps),
                book.bid_price,
            ),
        };
        let limit = match config.entry {
            ScalpEntry::Market => Price::ZERO,
            ScalpEntry::Limit => limit,
        };
        // 8. Emit and arm.
        ctx.emit(Signal::Enter(EntryPlan {
            symbol,
            side,
            size: Size::Quote(config.quote_usd),
            limit,
            stop_loss,
            take_profit,
            tag: reason.tag(),
        }));
        state.signals.record(now);
        state.cooldown_until_ns = now.saturating_add(self.cooldown_ns);
        if ctx.venue_ms != 0 {
            state.cooldown_until_venue_ms = ctx.venue_ms + u64::from(config.cooldown_sec) * 1000;
            ctx.mark_dirty();
        }
        if config.entry == ScalpEntry::Limit {
            state.entry_deadline_ns = now.saturating_add(self.ttl_ns);
        }
        let s = side_index(side);
        metrics.signals[reason.index()].inc();
        metrics.edge_bp[s].set_f64(edge);
        metrics.slippage_bp[s].set_f64(slippage);
        metrics.ttl_sec[s].set(i64::from(config.signal_ttl_sec));
    }

    /// Position bookkeeping after a fill or an order update on `symbol`.
    fn follow_holding(&mut self, symbol: SymbolId, ctx: &StrategyCtx<'_>) {
        let Some(slot) = self.slot(symbol) else {
            return;
        };
        let holding = ctx.holding(symbol);
        let state = &mut self.slots[slot];
        if holding.is_idle() {
            state.entered_ns = 0;
            state.entry_deadline_ns = 0;
            state.exit_sent = false;
            return;
        }
        if !holding.qty.is_zero() && state.entered_ns == 0 {
            state.entered_ns = ctx.now_ns.max(1);
        }
        if !holding.entry_open {
            state.entry_deadline_ns = 0;
        }
    }
}

impl Strategy for ScalpStrategy {
    fn info(&self) -> StrategyInfo {
        StrategyInfo {
            id: ids::SCALPING,
            name: "scalping",
        }
    }

    fn tags(&self) -> &'static [&'static str] {
        TAGS
    }

    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        let Some(slot) = self.slot(event.symbol) else {
            return;
        };
        match &event.kind {
            MarketEventKind::Trade(trade) => self.on_tick(slot, trade.price, ctx),
            MarketEventKind::Book(_) => self.on_book(slot, ctx),
            MarketEventKind::BookTicker(_) => {}
        }
    }

    fn on_fill(&mut self, fill: &Fill, ctx: &mut StrategyCtx<'_>) {
        self.follow_holding(fill.symbol, ctx);
    }

    fn on_order(&mut self, update: &OrderUpdate, ctx: &mut StrategyCtx<'_>) {
        if update.status == OrderStatus::Filled {
            let mode = match update.role {
                OrderRole::StopLoss => Some(EXIT_SL),
                OrderRole::TakeProfit => Some(EXIT_TP),
                OrderRole::Entry | OrderRole::External => None,
            };
            if let (Some(mode), Some(slot)) = (mode, self.slot(update.symbol)) {
                self.metrics[slot].bracket_exits[mode].inc();
            }
        }
        self.follow_holding(update.symbol, ctx);
    }

    fn on_timer(&mut self, ctx: &mut StrategyCtx<'_>) {
        let now = ctx.now_ns;
        for slot in 0..self.slots.len() {
            let state = &self.slots[slot];
            if state.exit_sent {
                continue;
            }
            let ttl_due = state.entry_deadline_ns != 0 && now >= state.entry_deadline_ns;
            let hold_due = self.max_hold_ns != 0
                && state.entered_ns != 0
                && now >= state.entered_ns.saturating_add(self.max_hold_ns);
            if !ttl_due && !hold_due {
                continue;
            }
            let symbol = state.symbol;
            let holding = ctx.holding(symbol);
            let tag = if ttl_due && holding.entry_open {
                TAG_TTL_EXPIRED
            } else if hold_due && !holding.qty.is_zero() && !holding.exiting {
                self.metrics[slot].bracket_exits[EXIT_TIME].inc();
                TAG_TIME_STOP
            } else {
                // Nothing left to do for what fell due: the entry is no longer open, or
                // the position is already flat or being closed.
                let state = &mut self.slots[slot];
                if ttl_due {
                    state.entry_deadline_ns = 0;
                }
                if hold_due && holding.qty.is_zero() {
                    state.entered_ns = 0;
                }
                continue;
            };
            if ctx.emit(Signal::Exit { symbol, tag }) {
                let state = &mut self.slots[slot];
                state.exit_sent = true;
                state.entry_deadline_ns = 0;
            }
        }
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let cooldowns: Vec<(u32, u64)> = self
            .slots
            .iter()
            .filter(|s| s.cooldown_until_venue_ms != 0)
            .map(|s| (s.symbol.0, s.cooldown_until_venue_ms))
            .collect();
        if cooldowns.is_empty() {
            return;
        }
        // Serialising plain integers into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &Snapshot { cooldowns });
    }

    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let snapshot: Snapshot = serde_json::from_slice(body).map_err(|e| RestoreError {
            strategy: "scalping",
            message: e.to_string(),
        })?;
        for (symbol, until_ms) in snapshot.cooldowns {
            if let Some(slot) = self.slot(SymbolId(symbol)) {
                self.slots[slot].cooldown_until_venue_ms = until_ms;
            }
        }
        Ok(())
    }

    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        for (slot, &symbol) in self.symbols.iter().enumerate() {
            self.metrics[slot] = SymbolMetrics::register(scope, symbol)?;
        }
        Ok(())
    }
}
