//! Owns: one symbol's indicators on one timeframe — fast and slow SMA and RSI of the closes,
//! and on the primary timeframe also the ATR and the swing low — fed closed bars in time
//! order. Never: takes a bar twice or out of order, reads a forming bar, or allocates after
//! construction.
//!
//! Gaps: a bar that opens after the previous one closed means the feed skipped periods.
//! Up to the longest window's worth of missing periods is bridged with flat bars at the last
//! close — the same rule the bar aggregator applies to a period without trades, so the
//! windows keep counting one bar per period. A longer hole resets the indicators (bridging
//! it would make the averages describe a price that was never traded for days).

use crate::book::Bar;

use super::super::indicators::{Atr, Rsi, Sma};

/// What happened to one bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarOutcome {
    /// Taken in after `bridged` flat bars filled a gap.
    Taken { bridged: u32 },
    /// Taken in after a hole too long to bridge reset the indicators.
    TakenAfterReset,
    /// Closes at or before the last bar taken (a warm-up overlap or a replay): ignored.
    Stale,
    /// Non-positive low, high below low, a close outside the range, or an empty interval.
    Invalid,
}

/// The lowest low of the last `capacity` bars.
#[derive(Debug, Clone)]
struct LowWindow {
    lows: Vec<f64>,
    capacity: usize,
    next: usize,
}

impl LowWindow {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            lows: Vec::with_capacity(capacity),
            capacity,
            next: 0,
        }
    }

    fn push(&mut self, low: f64) {
        if self.lows.len() < self.capacity {
            self.lows.push(low);
        } else {
            self.lows[self.next] = low;
            self.next = (self.next + 1) % self.capacity;
        }
    }

    fn min(&self) -> Option<f64> {
        if self.lows.len() < self.capacity {
            return None;
        }
        self.lows.iter().copied().reduce(f64::min)
    }

    fn clear(&mut self) {
        self.lows.clear();
        self.next = 0;
    }
}

/// Fast / slow SMA and RSI of one timeframe, once all three have a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendValues {
    pub fast: f64,
    pub slow: f64,
    pub rsi: f64,
}

/// Lengths of one timeframe's windows (bars).
#[derive(Clone, Copy, Debug)]
pub struct FrameLengths {
    pub minutes: u32,
    pub fast: u32,
    pub slow: u32,
    pub rsi: u32,
    /// ATR length and swing lookback (primary timeframe only; 0: not kept).
    pub atr: u32,
    pub swing: u32,
}

/// One timeframe's indicators.
#[derive(Debug, Clone)]
pub struct FrameIndicators {
    period_ms: u64,
    fast: Sma,
    slow: Sma,
    rsi: Rsi,
    atr: Option<Atr>,
    lows: Option<LowWindow>,
    /// Longest gap (periods) bridged with flat bars.
    max_bridge: u64,
    last_close_ms: u64,
    last_close: f64,
}

impl FrameIndicators {
    /// Windows for `lengths`.
    pub fn new(lengths: FrameLengths) -> Self {
        let longest = lengths
            .fast
            .max(lengths.slow)
            .max(lengths.rsi + 1)
            .max(lengths.atr + 1)
            .max(lengths.swing);
        Self {
            period_ms: u64::from(lengths.minutes.max(1)) * 60_000,
            fast: Sma::new(lengths.fast as usize),
            slow: Sma::new(lengths.slow as usize),
            rsi: Rsi::new(lengths.rsi as usize),
            atr: (lengths.atr > 0).then(|| Atr::new(lengths.atr as usize)),
            lows: (lengths.swing > 0).then(|| LowWindow::new(lengths.swing as usize)),
            max_bridge: u64::from(longest),
            last_close_ms: 0,
            last_close: 0.0,
        }
    }

    /// Bar length, ms.
    pub fn period_ms(&self) -> u64 {
        self.period_ms
    }

    /// Close time of the last bar taken (0: none yet).
    pub fn last_close_ms(&self) -> u64 {
        self.last_close_ms
    }

    /// Close of the last bar taken.
    pub fn last_close(&self) -> f64 {
        self.last_close
    }

    /// Takes a closed bar of this timeframe.
    pub fn push(&mut self, bar: &Bar) -> BarOutcome {
        let (high, low, close) = (bar.high.to_f64(), bar.low.to_f64(), bar.close.to_f64());
        let sane = low > 0.0
            && high >= low
            && (low..=high).contains(&close)
            && bar.close_time_ms > bar.open_time_ms;
        if !sane {
            return BarOutcome::Invalid;
        }
        if bar.close_time_ms <= self.last_close_ms {
            return BarOutcome::Stale;
        }
        let mut outcome = BarOutcome::Taken { bridged: 0 };
        if self.last_close_ms > 0 && bar.open_time_ms > self.last_close_ms {
            let missing = (bar.open_time_ms - self.last_close_ms) / self.period_ms;
            if missing <= self.max_bridge {
                let flat = self.last_close;
                for _ in 0..missing {
                    self.take(flat, flat, flat);
                }
                outcome = BarOutcome::Taken {
                    bridged: missing as u32,
                };
            } else {
                self.reset();
                outcome = BarOutcome::TakenAfterReset;
            }
        }
        self.take(high, low, close);
        self.last_close_ms = bar.close_time_ms;
        self.last_close = close;
        outcome
    }

    fn take(&mut self, high: f64, low: f64, close: f64) {
        self.fast.push(close);
        self.slow.push(close);
        self.rsi.push(close);
        if let Some(atr) = &mut self.atr {
            atr.push(high, low, close);
        }
        if let Some(lows) = &mut self.lows {
            lows.push(low);
        }
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.rsi.reset();
        if let Some(atr) = &mut self.atr {
            atr.reset();
        }
        if let Some(lows) = &mut self.lows {
            lows.clear();
        }
    }

    /// SMAs and RSI, once every window is full.
    pub fn values(&self) -> Option<TrendValues> {
        Some(TrendValues {
            fast: self.fast.value()?,
            slow: self.slow.value()?,
            rsi: self.rsi.value()?,
        })
    }

    /// The ATR (primary timeframe), once its window is full.
    pub fn atr(&self) -> Option<f64> {
        self.atr.as_ref().and_then(Atr::value)
    }

    /// The lowest low of the swing lookback (primary timeframe), once it is full.
    pub fn swing_low(&self) -> Option<f64> {
        self.lows.as_ref().and_then(LowWindow::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Price;

    fn bar(close_ms: u64, high: f64, low: f64, close: f64) -> Bar {
        let price = |v: f64| Price::from_f64_lossy(v).expect("finite test price");
        Bar {
            timeframe_min: 1,
            open_time_ms: close_ms - 60_000,
            close_time_ms: close_ms,
            open: price(close),
            high: price(high),
            low: price(low),
            close: price(close),
            trade_count: 1,
            ..Bar::default()
        }
    }

    fn frame() -> FrameIndicators {
        FrameIndicators::new(FrameLengths {
            minutes: 1,
            fast: 2,
            slow: 3,
            rsi: 2,
            atr: 2,
            swing: 2,
        })
    }

    #[test]
    fn values_appear_once_every_window_is_full() {
        let mut f = frame();
        assert_eq!(
            f.push(&bar(60_000, 11.0, 9.0, 10.0)),
            BarOutcome::Taken { bridged: 0 }
        );
        f.push(&bar(120_000, 12.0, 10.0, 11.0));
        assert_eq!(f.values(), None, "slow SMA needs 3 closes");
        assert_eq!(f.swing_low(), Some(9.0));
        f.push(&bar(180_000, 13.0, 11.0, 12.0));
        let values = f.values().expect("full");
        assert_eq!((values.fast, values.slow, values.rsi), (11.5, 11.0, 100.0));
        assert_eq!(f.atr(), Some(2.0));
        assert_eq!(f.swing_low(), Some(10.0));
    }

    #[test]
    fn stale_and_invalid_bars_are_refused() {
        let mut f = frame();
        f.push(&bar(120_000, 11.0, 9.0, 10.0));
        assert_eq!(f.push(&bar(120_000, 11.0, 9.0, 10.0)), BarOutcome::Stale);
        assert_eq!(f.push(&bar(60_000, 11.0, 9.0, 10.0)), BarOutcome::Stale);
        assert_eq!(f.push(&bar(180_000, 9.0, 11.0, 10.0)), BarOutcome::Invalid);
        assert_eq!(f.push(&bar(180_000, 11.0, 9.0, 12.0)), BarOutcome::Invalid);
        assert_eq!(f.push(&bar(180_000, 1.0, 0.0, 0.0)), BarOutcome::Invalid);
        assert_eq!(f.last_close_ms(), 120_000);
    }

    #[test]
    fn a_short_gap_is_bridged_with_flat_bars_and_a_long_one_resets() {
        let mut f = frame();
        f.push(&bar(60_000, 11.0, 9.0, 10.0));
        f.push(&bar(120_000, 10.0, 10.0, 10.0));
        // Two periods missing (120k..240k), then a bar closing at 300k.
        assert_eq!(
            f.push(&bar(300_000, 13.0, 10.0, 13.0)),
            BarOutcome::Taken { bridged: 2 }
        );
        let values = f.values().expect("full after bridging");
        // Closes 10, 10, 10, 10, 13: fast (10 + 13) / 2, slow (10 + 10 + 13) / 3.
        assert_eq!(values.fast, 11.5);
        assert!((values.slow - 11.0).abs() < 1e-12);
        // More than the longest window (3) missing: start over.
        assert_eq!(
            f.push(&bar(600_000, 14.0, 12.0, 13.0)),
            BarOutcome::TakenAfterReset
        );
        assert_eq!(f.values(), None);
        assert_eq!(f.swing_low(), None);
    }
}
