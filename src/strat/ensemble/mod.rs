//! Owns: the MA + HMM ensemble strategy (seed-spec §2.1) — an MA cross on its symbols'
//! trades, an HMM vote from the filtered state probabilities of 1-minute bars, their
//! fusion, the source selection and the dynamic cooldown — as a position-aware state
//! machine that enters with an exchange-side bracket and exits on an opposite signal.
//! Never: reads the model or calibration files (the integrator delivers new versions),
//! reads a clock, allocates per event, or trades a symbol outside its list (D-15).
//!
//! **Per trade tick** of one of its symbols (the seed's "tick"):
//! 1. MA vote (§2.1.2): fast and slow SMAs of the last `fast` / `slow` trade prices; BUY
//!    when fast > slow, SELL when below, none when equal or not yet full. Confidence =
//!    min(1, gap_bps / `ma_conf_scale_bps`), gap_bps = |fast − slow| / slow × 1e4.
//! 2. HMM vote (§2.1.3): the last filtered probabilities (updated on each closed 1-minute
//!    bar, see below); none without a model, within `max(1 s, cooldown_sec ×
//!    cooldown_scale)` of the last order the HMM took part in, when the calibrated
//!    confidence max(p) × `confidence_gain` is below `hmm_min_conf`, or when the most
//!    probable state is not the strict maximum. Side from the state's learned label: bull
//!    → BUY, bear → SELL, chop → none (D-14: never from the state's index).
//! 3. Fusion (§2.1.5, when `ensemble_enabled`): components that disagree give nothing;
//!    otherwise conf = (w_ma·c_ma + w_hmm·c_hmm) / (w_ma + w_hmm) over the components that
//!    voted (a silent component adds 0), × `confidence_gain`, capped at 1, where c_hmm is
//!    the raw max probability. With the default 0.5 / 0.5 weights and 0.6 threshold both
//!    components must agree and be confident — reachable (two full votes give 1), unlike
//!    the seed's (D-13); `validate` refuses a threshold one component reaches alone.
//! 4. Selection (§2.1.6): the fused decision (`ensemble_v1`, quote `quote_usdt`); else,
//!    without fusion enabled, the MA vote (`ma_v1`, `quote_usdt`); else the HMM vote
//!    (`hmm_v1`, `quote_usdt × quote_multiplier`). With fusion enabled the HMM acts alone
//!    only while the MA has no vote: the seed fell back to the raw HMM decision even
//!    when the MA disagreed, so a disagreement still traded.
//! 5. Position (D-15): flat and idle → an entry (never a spot SELL: on spot a SELL only
//!    exits); holding → an opposite decision exits (`Signal::Exit`, sized by the dispatcher
//!    to what is held), a same-side one does nothing (no pyramiding); an entry or exit in
//!    flight, another strategy owning the symbol, or a symbol out of scope → nothing.
//! 6. Cooldown gate (§2.1.7) on the order about to be sent: window = max(1 s, base × conf_f ×
//!    px_f) with base = max(0.5 s, cooldown_sec × cooldown_scale), conf_f = max(0.35, 1 −
//!    min(conf, 0.99)), px_f = clamp(1 − min(move_bps, 50) / 100, 0.5, 2) from the price of
//!    the previous order. A blocked order is dropped; the end of the window is kept in venue
//!    ms and survives a restart (snapshot).
//!
//! **Brackets** (D-16): an entry carries a stop-loss `sl_bps` and a take-profit `tp_bps`
//! from the reference price (the touch on the entry's side, else the trade): below / above
//! for a long, above / below for a short. The order manager places them at the venue when
//! the entry fills, so nothing is armed for an entry that is rejected or never fills, and
//! exits are sized to the position, not the quote.
//!
//! **HMM rows**: closed 1-minute bars (`timeframes` = [1] when `hmm_enabled`), gap bars
//! included as zero-volume rows, warm-up bars too — the cadence `hmm-train` trains on.
//! A new model resets every filter (the old posteriors belong to other states).
//!
//! **Metrics** (§7): gauges `strategy_signal{symbol,venue}` (−1 / 0 / +1, the selected
//! decision each tick), `strategy_confidence{symbol,venue}` (its confidence, 0 without),
//! `strategy_cooldown_window_seconds{symbol,venue}` (the window just started, or the time
//! left while an order is blocked); counter `strategy_model_reloads_total{strategy,result}`
//! (`accepted` / `refused` models and calibrations handed to the strategy).

pub mod calibration;
pub mod config;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use calibration::{Calibration, CalibrationError, Profile};
pub use config::{EnsembleConfig, EnsembleWeights};

use crate::book::Bar;
use crate::core::decimal::{mul_div_raw, mul_raw};
use crate::core::{MarketEvent, MarketEventKind, Notional, Price, Ratio, Side, SymbolId};
use crate::ops::{Counter, Gauge, OpsError};
use crate::strat::api::ids;
use crate::strat::hmm::{FeatureWindow, Filter, HmmModel, StateLabel, StateProbs, MAX_STATES};
use crate::strat::indicators::Sma;
use crate::strat::{
    EntryPlan, MetricsScope, RestoreError, Signal, Size, Strategy, StrategyCtx, StrategyInfo,
};

/// Tag of an MA-cross order.
pub const TAG_MA: &str = "ma_v1";
/// Tag of an HMM-only order.
pub const TAG_HMM: &str = "hmm_v1";
/// Tag of a fused order.
pub const TAG_ENSEMBLE: &str = "ensemble_v1";
const TAGS: &[&str] = &[TAG_MA, TAG_HMM, TAG_ENSEMBLE];
const NAME: &str = "ensemble";
/// The HMM's bar timeframe, minutes.
const HMM_TIMEFRAME: [u32; 1] = [1];

/// One component's vote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vote {
    pub side: Side,
    /// In [0, 1].
    pub confidence: f64,
}

/// What the strategy decided on a tick, before position and cooldown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    pub side: Side,
    pub confidence: f64,
    pub tag: &'static str,
    /// The HMM's vote took part (its own cooldown restarts when an order is sent).
    pub hmm_used: bool,
}

/// Why a model was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefused {
    #[error("the model's features {0:?} are not this build's")]
    Features(Vec<String>),
    #[error("the model's window is {model} rows, the strategy's hmm_window {config}")]
    Window { model: usize, config: usize },
}

#[derive(Debug, Clone)]
struct SymbolSlot {
    symbol: SymbolId,
    fast: Sma,
    slow: Sma,
    features: FeatureWindow,
    filter: Filter,
    /// Last filtered probabilities (meaningful once `filter.is_started()`).
    probs: StateProbs,
    /// Venue ms before which no order is sent (§2.1.7).
    resume_at_ms: u64,
    /// Price of the last order sent (0: none).
    last_order_price: f64,
    /// Venue ms before which the HMM does not vote.
    hmm_resume_at_ms: u64,
    profile: Profile,
    /// `quote_usdt × quote_multiplier`.
    hmm_quote: Notional,
}

#[derive(Debug, Clone, Default)]
struct SlotMetrics {
    signal: Gauge,
    confidence: Gauge,
    cooldown_window: Gauge,
}

/// The MA + HMM ensemble strategy.
pub struct EnsembleStrategy {
    config: EnsembleConfig,
    symbols: Vec<SymbolId>,
    /// Slot of a symbol by `SymbolId::index` (`usize::MAX`: not ours).
    slot_of: Vec<usize>,
    slots: Vec<SymbolSlot>,
    /// Symbol names by slot (empty until known: calibration then uses `"*"`).
    names: Vec<String>,
    model: Option<Arc<HmmModel>>,
    calibration: Arc<Calibration>,
    metrics: Vec<SlotMetrics>,
    models_accepted: Counter,
    models_refused: Counter,
}

impl std::fmt::Debug for EnsembleStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnsembleStrategy")
            .field("symbols", &self.symbols)
            .field("model", &self.model.is_some())
            .finish()
    }
}

impl EnsembleStrategy {
    /// The strategy for `config` on `symbols` (the integrator resolves the names).
    pub fn new(config: &EnsembleConfig, symbols: &[SymbolId]) -> Self {
        let max_index = symbols.iter().map(|s| s.index()).max().map_or(0, |m| m + 1);
        let mut slot_of = vec![usize::MAX; max_index];
        let mut unique = Vec::with_capacity(symbols.len());
        for &symbol in symbols {
            if slot_of[symbol.index()] == usize::MAX {
                slot_of[symbol.index()] = unique.len();
                unique.push(symbol);
            }
        }
        let slots = unique
            .iter()
            .map(|&symbol| SymbolSlot {
                symbol,
                fast: Sma::new(config.fast),
                slow: Sma::new(config.slow),
                features: FeatureWindow::new(config.hmm_window),
                filter: Filter::new(),
                probs: [0.0; MAX_STATES],
                resume_at_ms: 0,
                last_order_price: 0.0,
                hmm_resume_at_ms: 0,
                profile: Profile::default(),
                hmm_quote: config.quote_usdt,
            })
            .collect();
        Self {
            config: config.clone(),
            metrics: vec![SlotMetrics::default(); unique.len()],
            names: vec![String::new(); unique.len()],
            symbols: unique,
            slot_of,
            slots,
            model: None,
            calibration: Arc::new(Calibration::default()),
            models_accepted: Counter::new(),
            models_refused: Counter::new(),
        }
    }

    /// Hands the strategy a (new) model. Refused, counted and the current model kept when
    /// its features or window are not the strategy's.
    pub fn set_model(&mut self, model: Arc<HmmModel>) -> Result<(), ModelRefused> {
        let refused = if !model.has_current_features() {
            Some(ModelRefused::Features(model.feature_names().to_vec()))
        } else if model.window() != self.config.hmm_window {
            Some(ModelRefused::Window {
                model: model.window(),
                config: self.config.hmm_window,
            })
        } else {
            None
        };
        if let Some(reason) = refused {
            self.models_refused.inc();
            return Err(reason);
        }
        self.models_accepted.inc();
        for slot in &mut self.slots {
            slot.filter.reset();
            slot.probs = [0.0; MAX_STATES];
        }
        self.model = Some(model);
        Ok(())
    }

    /// The model in use.
    pub fn model(&self) -> Option<&Arc<HmmModel>> {
        self.model.as_ref()
    }

    /// Hands the strategy a (new) calibration profile.
    pub fn set_calibration(&mut self, calibration: Arc<Calibration>) {
        self.models_accepted.inc();
        self.calibration = calibration;
        self.resolve_profiles();
    }

    /// Names of the symbols by `SymbolId::index` (as `MetricsScope::symbol_names`), for
    /// the calibration lookup; `attach_metrics` sets them too.
    pub fn set_symbol_names(&mut self, names_by_index: &[String]) {
        for (slot, symbol) in self.symbols.iter().enumerate() {
            if let Some(name) = names_by_index.get(symbol.index()) {
                self.names[slot] = name.clone();
            }
        }
        self.resolve_profiles();
    }

    /// The factors in use for `symbol`.
    pub fn profile(&self, symbol: SymbolId) -> Option<Profile> {
        self.slot(symbol).map(|s| self.slots[s].profile)
    }

    /// Models and calibrations accepted / refused so far.
    pub fn reloads(&self) -> (u64, u64) {
        (self.models_accepted.get(), self.models_refused.get())
    }

    /// The last filtered state probabilities of `symbol` (none before the first bar with
    /// features under the current model).
    pub fn state_probabilities(&self, symbol: SymbolId) -> Option<&[f64]> {
        let model = self.model.as_ref()?;
        let slot = &self.slots[self.slot(symbol)?];
        slot.filter
            .is_started()
            .then(|| &slot.probs[..model.states()])
    }

    fn resolve_profiles(&mut self) {
        for (slot, name) in self.slots.iter_mut().zip(&self.names) {
            slot.profile = self
                .calibration
                .lookup(if name.is_empty() { "*" } else { name });
            slot.hmm_quote = scale_quote(self.config.quote_usdt, slot.profile.quote_multiplier);
        }
    }

    fn slot(&self, symbol: SymbolId) -> Option<usize> {
        self.slot_of
            .get(symbol.index())
            .copied()
            .filter(|&s| s != usize::MAX)
    }

    /// The MA vote of a slot.
    fn ma_vote(&self, slot: &SymbolSlot) -> Option<Vote> {
        let (fast, slow) = (slot.fast.value()?, slot.slow.value()?);
        if slow <= 0.0 || fast == slow {
            return None;
        }
        let gap_bps = (fast - slow).abs() / slow * 10_000.0;
        let confidence = (gap_bps / self.config.ma_conf_scale_bps).min(1.0);
        Some(Vote {
            side: if fast > slow { Side::Buy } else { Side::Sell },
            confidence: if confidence.is_finite() {
                confidence
            } else {
                0.0
            },
        })
    }

    /// The HMM vote of a slot at `now_ms`: (side, raw max probability).
    fn hmm_vote(&self, slot: &SymbolSlot, now_ms: u64) -> Option<Vote> {
        if !self.config.hmm_enabled || now_ms < slot.hmm_resume_at_ms {
            return None;
        }
        let model = self.model.as_ref()?;
        if !slot.filter.is_started() {
            return None;
        }
        let probs = &slot.probs[..model.states()];
        let (best, &p_max) = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let strict = probs
            .iter()
            .enumerate()
            .all(|(j, &p)| j == best || p < p_max);
        if !strict || p_max * slot.profile.confidence_gain < self.config.hmm_min_conf {
            return None;
        }
        let side = match model.labels()[best] {
            StateLabel::Bull => Side::Buy,
            StateLabel::Bear => Side::Sell,
            StateLabel::Chop => return None,
        };
        Some(Vote {
            side,
            confidence: p_max,
        })
    }

    /// Fusion (§2.1.5 as fixed here; see the module doc).
    pub fn fuse(&self, ma: Option<Vote>, hmm: Option<Vote>, gain: f64) -> Option<Decision> {
        if !self.config.ensemble_enabled {
            return None;
        }
        let side = match (ma, hmm) {
            (Some(a), Some(b)) if a.side != b.side => return None,
            (Some(v), _) | (None, Some(v)) => v.side,
            (None, None) => return None,
        };
        let w = self.config.weights;
        let total = w.ma + w.hmm;
        if total <= 0.0 {
            return None;
        }
        let agreeing =
            w.ma * ma.map_or(0.0, |v| v.confidence) + w.hmm * hmm.map_or(0.0, |v| v.confidence);
        let confidence = (agreeing / total * gain).min(1.0);
        (confidence.is_finite() && confidence >= self.config.min_conf).then_some(Decision {
            side,
            confidence,
            tag: TAG_ENSEMBLE,
            hmm_used: hmm.is_some(),
        })
    }

    /// Source selection (§2.1.6).
    fn decide(&self, slot: &SymbolSlot, now_ms: u64) -> Option<Decision> {
        let ma = self.ma_vote(slot);
        let hmm = self.hmm_vote(slot, now_ms);
        if let Some(fused) = self.fuse(ma, hmm, slot.profile.confidence_gain) {
            return Some(fused);
        }
        match (ma, self.config.ensemble_enabled) {
            (Some(vote), false) => {
                return Some(Decision {
                    side: vote.side,
                    confidence: vote.confidence,
                    tag: TAG_MA,
                    hmm_used: false,
                })
            }
            // Fusion on: the HMM acts alone only while the MA has no vote, never against it.
            (Some(_), true) => return None,
            (None, _) => {}
        }
        hmm.map(|vote| Decision {
            side: vote.side,
            confidence: (vote.confidence * slot.profile.confidence_gain).min(1.0),
            tag: TAG_HMM,
            hmm_used: true,
        })
    }

    /// The signal a decision becomes given what the strategy holds, before the cooldown.
    fn order_for(
        &self,
        slot: &SymbolSlot,
        decision: &Decision,
        trade_price: Price,
        ctx: &StrategyCtx<'_>,
    ) -> Option<Signal> {
        let symbol = slot.symbol;
        let holding = ctx.holding(symbol);
        if holding.qty.is_positive() || holding.qty.raw() < 0 {
            let long = holding.qty.is_positive();
            let opposite = (decision.side == Side::Sell) == long;
            return (opposite && !holding.exiting).then_some(Signal::Exit {
                symbol,
                tag: decision.tag,
            });
        }
        if !holding.can_enter() || !ctx.in_scope(symbol) {
            return None;
        }
        if ctx
            .owner(symbol)
            .is_some_and(|owner| owner != ids::ENSEMBLE)
        {
            return None;
        }
        if decision.side == Side::Sell && !ctx.shorts_possible() {
            return None;
        }
        let reference = ctx
            .market(symbol)
            .reference(decision.side)
            .unwrap_or(trade_price);
        let (stop_loss, take_profit) = bracket(
            reference,
            decision.side,
            self.config.sl_bps,
            self.config.tp_bps,
        );
        let quote = if decision.tag == TAG_HMM {
            slot.hmm_quote
        } else {
            self.config.quote_usdt
        };
        Some(Signal::Enter(EntryPlan {
            symbol,
            side: decision.side,
            size: Size::Quote(quote),
            limit: Price::ZERO,
            stop_loss,
            take_profit,
            tag: decision.tag,
        }))
    }

    /// The cooldown window (§2.1.7) in ms for an order at `price` with `confidence`.
    fn cooldown_window_ms(&self, slot: &SymbolSlot, confidence: f64, price: f64) -> u64 {
        let base = (self.config.cooldown_sec * slot.profile.cooldown_scale).max(0.5);
        let confidence_factor = (1.0 - confidence.clamp(0.0, 0.99)).max(0.35);
        let price_factor = if slot.last_order_price > 0.0 {
            let move_bps = (price - slot.last_order_price).abs() / slot.last_order_price * 1e4;
            (1.0 - move_bps.min(50.0) / 100.0).clamp(0.5, 2.0)
        } else {
            1.0
        };
        let seconds = (base * confidence_factor * price_factor).max(1.0);
        if seconds.is_finite() {
            (seconds * 1000.0) as u64
        } else {
            1000
        }
    }

    fn on_trade(
        &mut self,
        slot_index: usize,
        price: Price,
        exch_ms: u64,
        ctx: &mut StrategyCtx<'_>,
    ) {
        let price_f = price.to_f64();
        if !(price_f.is_finite() && price_f > 0.0) {
            return;
        }
        let now_ms = if ctx.venue_ms > 0 {
            ctx.venue_ms
        } else {
            exch_ms
        };
        {
            let slot = &mut self.slots[slot_index];
            slot.fast.push(price_f);
            slot.slow.push(price_f);
        }
        let slot = &self.slots[slot_index];
        let decision = self.decide(slot, now_ms);
        let metrics = &self.metrics[slot_index];
        match decision {
            Some(d) => {
                metrics.signal.set(if d.side == Side::Buy { 1 } else { -1 });
                metrics.confidence.set_f64(d.confidence);
            }
            None => {
                metrics.signal.set(0);
                metrics.confidence.set(0);
            }
        }
        let Some(decision) = decision else {
            return;
        };
        let Some(signal) = self.order_for(slot, &decision, price, ctx) else {
            return;
        };
        if now_ms < slot.resume_at_ms {
            metrics
                .cooldown_window
                .set_f64((slot.resume_at_ms - now_ms) as f64 / 1000.0);
            return;
        }
        let window_ms = self.cooldown_window_ms(slot, decision.confidence, price_f);
        let hmm_cooldown_ms =
            ((self.config.cooldown_sec * slot.profile.cooldown_scale).max(1.0) * 1000.0) as u64;
        metrics.cooldown_window.set_f64(window_ms as f64 / 1000.0);
        let slot = &mut self.slots[slot_index];
        slot.resume_at_ms = now_ms.saturating_add(window_ms);
        slot.last_order_price = price_f;
        if decision.hmm_used {
            slot.hmm_resume_at_ms = now_ms.saturating_add(hmm_cooldown_ms);
        }
        ctx.emit(signal);
        ctx.mark_dirty();
    }

    fn on_hmm_bar(&mut self, bar: &Bar) {
        if !self.config.hmm_enabled || bar.timeframe_min != HMM_TIMEFRAME[0] {
            return;
        }
        let Some(slot_index) = self.slot(bar.symbol) else {
            return;
        };
        let slot = &mut self.slots[slot_index];
        if !slot
            .features
            .push(bar.close.to_f64(), Some(bar.volume.to_f64()))
        {
            return;
        }
        if let (Some(model), Some(features)) = (self.model.as_ref(), slot.features.features()) {
            slot.probs = slot.filter.step(model, &features);
        }
    }
}

/// Stop-loss and take-profit `sl_bps` / `tp_bps` from `entry` on the protective side of
/// each (zero when the distance is zero).
pub fn bracket(entry: Price, side: Side, sl_bps: u32, tp_bps: u32) -> (Price, Price) {
    let at = |bps: u32, up: bool| -> Price {
        if bps == 0 {
            return Price::ZERO;
        }
        let factor = if up {
            10_000 + i128::from(bps)
        } else {
            10_000 - i128::from(bps)
        };
        mul_div_raw(entry.raw(), factor, 10_000).map_or(Price::ZERO, Price::from_raw)
    };
    match side {
        Side::Buy => (at(sl_bps, false), at(tp_bps, true)),
        Side::Sell => (at(sl_bps, true), at(tp_bps, false)),
    }
}

/// `quote × multiplier`, exact to the ratio's 1e-18 (the multiplier is a calibration
/// factor, not money).
fn scale_quote(quote: Notional, multiplier: f64) -> Notional {
    Ratio::from_f64_lossy(multiplier)
        .and_then(|ratio| mul_raw(quote.raw(), ratio.raw()))
        .map_or(quote, Notional::from_raw)
}

/// What a snapshot keeps per symbol.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSlot {
    /// `SymbolId` index.
    symbol: u32,
    resume_at_ms: u64,
    hmm_resume_at_ms: u64,
    last_order_price: f64,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    version: u32,
    cooldowns: Vec<SavedSlot>,
}

impl Strategy for EnsembleStrategy {
    fn info(&self) -> StrategyInfo {
        StrategyInfo {
            id: ids::ENSEMBLE,
            name: NAME,
        }
    }

    fn tags(&self) -> &'static [&'static str] {
        TAGS
    }

    fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    fn timeframes(&self) -> &[u32] {
        if self.config.hmm_enabled {
            &HMM_TIMEFRAME
        } else {
            &[]
        }
    }

    fn on_market(&mut self, event: &MarketEvent, ctx: &mut StrategyCtx<'_>) {
        let MarketEventKind::Trade(print) = &event.kind else {
            return;
        };
        // D-15: only its own symbols, whatever the dispatcher delivers.
        let Some(slot) = self.slot(event.symbol) else {
            return;
        };
        self.on_trade(slot, print.price, event.exch_ts_ms, ctx);
    }

    fn on_bar(&mut self, bar: &Bar, _ctx: &mut StrategyCtx<'_>) {
        self.on_hmm_bar(bar);
    }

    fn on_warmup_bar(&mut self, bar: &Bar) {
        self.on_hmm_bar(bar);
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let saved = Saved {
            version: 1,
            cooldowns: self
                .slots
                .iter()
                .map(|s| SavedSlot {
                    symbol: s.symbol.0,
                    resume_at_ms: s.resume_at_ms,
                    hmm_resume_at_ms: s.hmm_resume_at_ms,
                    last_order_price: s.last_order_price,
                })
                .collect(),
        };
        // Plain integers and finite floats: serialisation cannot fail.
        let _ = serde_json::to_writer(out, &saved);
    }

    fn restore(&mut self, body: &[u8]) -> Result<(), RestoreError> {
        let error = |message: String| RestoreError {
            strategy: NAME,
            message,
        };
        let saved: Saved = serde_json::from_slice(body).map_err(|e| error(e.to_string()))?;
        if saved.version != 1 {
            return Err(error(format!("version {} is not 1", saved.version)));
        }
        for entry in saved.cooldowns {
            // A symbol no longer traded is dropped.
            let Some(slot) = self.slot(SymbolId(entry.symbol)) else {
                continue;
            };
            if !(entry.last_order_price.is_finite() && entry.last_order_price >= 0.0) {
                return Err(error(format!(
                    "last_order_price {} of symbol {}",
                    entry.last_order_price, entry.symbol
                )));
            }
            let slot = &mut self.slots[slot];
            slot.resume_at_ms = entry.resume_at_ms;
            slot.hmm_resume_at_ms = entry.hmm_resume_at_ms;
            slot.last_order_price = entry.last_order_price;
        }
        Ok(())
    }

    /// A reloaded model or calibration profile (the engine's file watcher): a model this
    /// strategy cannot use is refused and counted, and the current one kept.
    fn on_reload(&mut self, reloaded: &crate::strat::api::Reloaded) {
        match reloaded.key {
            crate::strat::api::RELOAD_HMM_MODEL => {
                if let Ok(model) = Arc::clone(&reloaded.value).downcast::<HmmModel>() {
                    let _ = self.set_model(model);
                }
            }
            crate::strat::api::RELOAD_CALIBRATION => {
                if let Ok(profile) = Arc::clone(&reloaded.value).downcast::<Calibration>() {
                    self.set_calibration(profile);
                }
            }
            _ => {}
        }
    }

    fn attach_metrics(&mut self, scope: &mut MetricsScope<'_>) -> Result<(), OpsError> {
        self.set_symbol_names(scope.symbol_names);
        for (slot, symbol) in self.symbols.iter().enumerate() {
            let name = scope.symbol_name(*symbol).to_string();
            let labels = [("symbol", name.as_str()), ("venue", scope.venue)];
            let registry = &mut *scope.registry;
            self.metrics[slot] = SlotMetrics {
                signal: registry.gauge(
                    "strategy_signal",
                    "MA/HMM ensemble decision per tick: -1 sell, 0 none, +1 buy",
                    &labels,
                )?,
                confidence: registry.gauge(
                    "strategy_confidence",
                    "Confidence of the ensemble's decision (0 without one)",
                    &labels,
                )?,
                cooldown_window: registry.gauge(
                    "strategy_cooldown_window_seconds",
                    "Ensemble cooldown: the window just started, or the time left while blocked",
                    &labels,
                )?,
            };
        }
        let accepted = scope.registry.counter(
            "strategy_model_reloads_total",
            "Models and calibration profiles handed to a strategy, by result",
            &[("strategy", NAME), ("result", "accepted")],
        )?;
        let refused = scope.registry.counter(
            "strategy_model_reloads_total",
            "Models and calibration profiles handed to a strategy, by result",
            &[("strategy", NAME), ("result", "refused")],
        )?;
        accepted.add(self.models_accepted.get());
        refused.add(self.models_refused.get());
        self.models_accepted = accepted;
        self.models_refused = refused;
        Ok(())
    }
}
