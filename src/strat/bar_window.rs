//! Owns: the last n closed bars of one symbol and timeframe as a fixed ring, with missing
//! periods filled in as flat bars, so "k bars ago" always means "k periods ago" (the
//! momentum breakout and the symbol scanner read their windows from it). Never: allocates
//! after construction, keeps a bar that is older than or equal to one it already holds.
//!
//! Gap rule (the bar aggregator's, `crate::book::bars`): a period with no bar is a flat
//! bar at the previous close with zero volume. Bars from the aggregator already follow it;
//! candle files with missing minutes do not, and a bar counted as the one "15 bars ago"
//! that is really 40 minutes old would stretch every window. At most `capacity` flat bars
//! are added for one gap: older ones would be pushed out again anyway.

use crate::book::Bar;
use crate::core::{Notional, Price, Qty};

/// The part of a bar the windows read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowBar {
    pub open_time_ms: u64,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Base-asset volume.
    pub volume: Qty,
    /// Quote-asset volume.
    pub quote_volume: Notional,
}

/// What [`BarWindow::push`] did with a bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Added, after `gap_bars` flat bars for the periods missing before it.
    Added { gap_bars: usize },
    /// Not after the newest bar held (a repeat or an out-of-order bar); ignored.
    Stale,
}

/// The last `capacity` bars, newest addressed as 0.
#[derive(Clone, Debug)]
pub struct BarWindow {
    bars: Vec<WindowBar>,
    capacity: usize,
    /// Index of the newest bar once any is held.
    newest: usize,
    len: usize,
    period_ms: u64,
}

impl BarWindow {
    /// A window of `capacity` (at least 1) bars of `period_ms` each.
    pub fn new(capacity: usize, period_ms: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            bars: vec![WindowBar::default(); capacity],
            capacity,
            newest: 0,
            len: 0,
            period_ms: period_ms.max(1),
        }
    }

    /// Bars held (at most the capacity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no bar is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bar `ago` periods before the newest (0: the newest), if held.
    pub fn ago(&self, ago: usize) -> Option<&WindowBar> {
        if ago >= self.len {
            return None;
        }
        let index = (self.newest + self.capacity - ago) % self.capacity;
        self.bars.get(index)
    }

    /// Bars `from` to `to` periods ago (inclusive, `from ≤ to`), newest first; empty when
    /// not all are held.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &WindowBar> + '_ {
        let whole = from <= to && to < self.len;
        let (from, to) = if whole { (from, to + 1) } else { (0, 0) };
        (from..to).filter_map(move |ago| self.ago(ago))
    }

    /// Adds a closed bar (see the module doc for gaps and stale bars).
    pub fn push(&mut self, bar: &Bar) -> Pushed {
        let incoming = WindowBar {
            open_time_ms: bar.open_time_ms,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
            quote_volume: bar.quote_volume,
        };
        let Some(&last) = self.ago(0) else {
            self.append(incoming);
            return Pushed::Added { gap_bars: 0 };
        };
        if incoming.open_time_ms <= last.open_time_ms {
            return Pushed::Stale;
        }
        let missing = (incoming.open_time_ms - last.open_time_ms) / self.period_ms - 1;
        let gap_bars = usize::try_from(missing)
            .unwrap_or(usize::MAX)
            .min(self.capacity);
        let first_flat_ms = incoming
            .open_time_ms
            .saturating_sub(gap_bars as u64 * self.period_ms);
        for k in 0..gap_bars as u64 {
            self.append(WindowBar {
                open_time_ms: first_flat_ms + k * self.period_ms,
                high: last.close,
                low: last.close,
                close: last.close,
                volume: Qty::ZERO,
                quote_volume: Notional::ZERO,
            });
        }
        self.append(incoming);
        Pushed::Added { gap_bars }
    }

    fn append(&mut self, bar: WindowBar) {
        if self.len > 0 {
            self.newest = (self.newest + 1) % self.capacity;
        }
        if let Some(slot) = self.bars.get_mut(self.newest) {
            *slot = bar;
        }
        self.len = (self.len + 1).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::MINUTE_MS;

    fn bar(minute: u64, close: i64) -> Bar {
        Bar {
            timeframe_min: 1,
            open_time_ms: minute * MINUTE_MS,
            close_time_ms: (minute + 1) * MINUTE_MS,
            open: Price::from_int(close),
            high: Price::from_int(close + 1),
            low: Price::from_int(close - 1),
            close: Price::from_int(close),
            volume: Qty::from_int(2),
            quote_volume: Notional::from_int(2 * close),
            trade_count: 1,
            ..Bar::default()
        }
    }

    fn closes(window: &BarWindow) -> Vec<i128> {
        window
            .range(0, window.len().saturating_sub(1))
            .map(|b| b.close.raw() / Price::ONE.raw())
            .collect()
    }

    #[test]
    fn keeps_the_last_n_newest_first_and_rolls() {
        let mut window = BarWindow::new(3, MINUTE_MS);
        assert!(window.is_empty());
        assert_eq!(window.ago(0), None);
        for (minute, close) in [(0, 10), (1, 11), (2, 12), (3, 13)] {
            assert_eq!(
                window.push(&bar(minute, close)),
                Pushed::Added { gap_bars: 0 }
            );
        }
        assert_eq!(window.len(), 3);
        assert_eq!(closes(&window), vec![13, 12, 11]);
        assert_eq!(window.range(1, 3).count(), 0, "3 bars ago is not held");
        assert_eq!(window.range(2, 1).count(), 0, "reversed range is empty");
    }

    #[test]
    fn a_gap_becomes_flat_bars_at_the_previous_close_with_no_volume() {
        let mut window = BarWindow::new(5, MINUTE_MS);
        window.push(&bar(0, 10));
        assert_eq!(window.push(&bar(3, 13)), Pushed::Added { gap_bars: 2 });
        assert_eq!(closes(&window), vec![13, 10, 10, 10]);
        let flat = window.ago(1).copied().expect("flat bar held");
        assert_eq!(flat.open_time_ms, 2 * MINUTE_MS);
        assert_eq!(
            (flat.high, flat.low),
            (Price::from_int(10), Price::from_int(10))
        );
        assert!(flat.volume.is_zero() && flat.quote_volume.is_zero());
    }

    #[test]
    fn a_gap_longer_than_the_window_fills_it_with_flat_bars_only() {
        let mut window = BarWindow::new(3, MINUTE_MS);
        window.push(&bar(0, 10));
        assert_eq!(window.push(&bar(1_000, 20)), Pushed::Added { gap_bars: 3 });
        assert_eq!(closes(&window), vec![20, 10, 10]);
        assert_eq!(window.ago(1).map(|b| b.open_time_ms), Some(999 * MINUTE_MS));
    }

    #[test]
    fn repeated_and_older_bars_are_ignored() {
        let mut window = BarWindow::new(3, MINUTE_MS);
        window.push(&bar(5, 10));
        assert_eq!(window.push(&bar(5, 99)), Pushed::Stale);
        assert_eq!(window.push(&bar(4, 99)), Pushed::Stale);
        assert_eq!(closes(&window), vec![10]);
    }
}
