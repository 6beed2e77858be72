//! Owns: the rolling indicators the systematic strategies read — SMA, Cutler RSI and ATR
//! over the last n closed bars or prices (seed-spec §2.2.2), as fixed-size windows filled
//! one value at a time. Never: allocates after construction, reads a forming bar (callers
//! push closed ones), or returns NaN or infinity (an undefined value is `None`).
//!
//! Definitions:
//! - **SMA(n)** = mean of the last n closes; `None` with fewer than n.
//! - **RSI(n)** (Cutler's, simple averages) over the last n close-to-close changes:
//!   100 − 100 / (1 + avg_gain / avg_loss); 100 when there are gains and no losses; `None`
//!   with n or fewer closes. A window with neither gains nor losses (flat prices) gives 50:
//!   the seed's formula gives 100 there, which reads a flat market as overbought and would
//!   fire RSI exits on every quiet stretch.
//! - **ATR(n)** = mean of the last n true ranges, TR = max(high − low, |high − previous
//!   close|, |low − previous close|); the first bar has no previous close and gives no TR,
//!   so ATR needs n + 1 bars.

/// The last `capacity` values, oldest first when read.
#[derive(Debug, Clone)]
struct Window {
    values: Vec<f64>,
    capacity: usize,
    /// Index of the oldest value once full.
    start: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            values: Vec::with_capacity(capacity),
            capacity,
            start: 0,
        }
    }

    fn push(&mut self, value: f64) {
        if self.values.len() < self.capacity {
            self.values.push(value);
        } else {
            self.values[self.start] = value;
            self.start = (self.start + 1) % self.capacity;
        }
    }

    fn is_full(&self) -> bool {
        self.values.len() == self.capacity
    }

    fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.values.split_at(self.start);
        older.iter().chain(newer.iter()).copied()
    }

    fn clear(&mut self) {
        self.values.clear();
        self.start = 0;
    }
}

/// Simple moving average of the last `length` values.
#[derive(Debug, Clone)]
pub struct Sma {
    window: Window,
}

impl Sma {
    /// An SMA over `length` values (at least 1).
    pub fn new(length: usize) -> Self {
        Self {
            window: Window::new(length),
        }
    }

    /// Adds a closed value; non-finite values are ignored (they would poison the mean).
    pub fn push(&mut self, value: f64) {
        if value.is_finite() {
            self.window.push(value);
        }
    }

    /// The mean, once `length` values are in.
    pub fn value(&self) -> Option<f64> {
        if !self.window.is_full() {
            return None;
        }
        let sum: f64 = self.window.iter().sum();
        finite(sum / self.window.capacity as f64)
    }

    /// Forgets everything (a gap in the data the strategy will not bridge).
    pub fn reset(&mut self) {
        self.window.clear();
    }
}

/// Cutler's RSI over the last `length` close-to-close changes.
#[derive(Debug, Clone)]
pub struct Rsi {
    closes: Window,
}

impl Rsi {
    /// An RSI over `length` changes (at least 1), which needs `length + 1` closes.
    pub fn new(length: usize) -> Self {
        Self {
            closes: Window::new(length.max(1) + 1),
        }
    }

    /// Adds a closed value; non-finite values are ignored.
    pub fn push(&mut self, close: f64) {
        if close.is_finite() {
            self.closes.push(close);
        }
    }

    /// The RSI in [0, 100], once `length + 1` closes are in.
    pub fn value(&self) -> Option<f64> {
        if !self.closes.is_full() {
            return None;
        }
        let (mut gains, mut losses) = (0.0, 0.0);
        let mut previous: Option<f64> = None;
        for close in self.closes.iter() {
            if let Some(before) = previous {
                let change = close - before;
                if change > 0.0 {
                    gains += change;
                } else {
                    losses -= change;
                }
            }
            previous = Some(close);
        }
        match (gains > 0.0, losses > 0.0) {
            (false, false) => Some(50.0),
            (true, false) => Some(100.0),
            // The averages share the divisor: their ratio is the sums' ratio.
            _ => finite(100.0 - 100.0 / (1.0 + gains / losses)),
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.closes.clear();
    }
}

/// Average true range over the last `length` bars that have a previous close.
#[derive(Debug, Clone)]
pub struct Atr {
    ranges: Window,
    previous_close: Option<f64>,
}

impl Atr {
    /// An ATR over `length` true ranges (at least 1).
    pub fn new(length: usize) -> Self {
        Self {
            ranges: Window::new(length),
            previous_close: None,
        }
    }

    /// Adds a closed bar; a bar with a non-finite field or high below low is ignored.
    pub fn push(&mut self, high: f64, low: f64, close: f64) {
        if !(high.is_finite() && low.is_finite() && close.is_finite()) || high < low {
            return;
        }
        if let Some(before) = self.previous_close {
            let range = (high - low)
                .max((high - before).abs())
                .max((low - before).abs());
            self.ranges.push(range);
        }
        self.previous_close = Some(close);
    }

    /// The ATR, once `length` true ranges are in.
    pub fn value(&self) -> Option<f64> {
        if !self.ranges.is_full() {
            return None;
        }
        let sum: f64 = self.ranges.iter().sum();
        finite(sum / self.ranges.capacity as f64)
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.ranges.clear();
        self.previous_close = None;
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_to(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn sma_is_the_mean_of_the_last_n_and_none_before() {
        let mut sma = Sma::new(3);
        sma.push(1.0);
        sma.push(2.0);
        assert_eq!(sma.value(), None);
        sma.push(6.0);
        assert!(close_to(sma.value(), 3.0));
        // The window rolls: (2 + 6 + 10) / 3.
        sma.push(10.0);
        assert!(close_to(sma.value(), 6.0));
        sma.push(f64::NAN);
        assert!(close_to(sma.value(), 6.0), "a NaN is not taken in");
        sma.reset();
        assert_eq!(sma.value(), None);
    }

    #[test]
    fn rsi_matches_a_hand_computed_cutler_rsi() {
        // Closes 10, 11, 10.5, 12, 11: changes +1, -0.5, +1.5, -1 → gains 2.5, losses 1.5.
        // RSI(4) = 100 − 100 / (1 + 2.5/1.5) = 62.5.
        let mut rsi = Rsi::new(4);
        for close in [10.0, 11.0, 10.5, 12.0] {
            rsi.push(close);
            assert_eq!(rsi.value(), None, "needs 5 closes");
        }
        rsi.push(11.0);
        assert!(close_to(rsi.value(), 62.5), "{:?}", rsi.value());
        // Rolling: 11, 10.5, 12, 11, 13 → +(-0.5) +1.5 -1 +2: gains 3.5, losses 1.5 → 70.
        rsi.push(13.0);
        assert!(close_to(rsi.value(), 70.0), "{:?}", rsi.value());
    }

    #[test]
    fn rsi_edges_rising_falling_and_flat() {
        let mut rising = Rsi::new(2);
        for close in [1.0, 2.0, 3.0] {
            rising.push(close);
        }
        assert_eq!(rising.value(), Some(100.0));
        let mut falling = Rsi::new(2);
        for close in [3.0, 2.0, 1.0] {
            falling.push(close);
        }
        assert_eq!(falling.value(), Some(0.0));
        let mut flat = Rsi::new(2);
        for close in [5.0, 5.0, 5.0] {
            flat.push(close);
        }
        assert_eq!(
            flat.value(),
            Some(50.0),
            "flat prices are neutral, not overbought"
        );
    }

    #[test]
    fn atr_uses_the_previous_close_and_needs_n_plus_one_bars() {
        let mut atr = Atr::new(2);
        // First bar: no previous close, no true range.
        atr.push(11.0, 9.0, 10.0);
        // TR = max(12 − 10.5, |12 − 10|, |10.5 − 10|) = 2.
        atr.push(12.0, 10.5, 11.5);
        assert_eq!(atr.value(), None);
        // A gap down: TR = max(9 − 8, |9 − 11.5|, |8 − 11.5|) = 3.5.
        atr.push(9.0, 8.0, 8.5);
        assert!(close_to(atr.value(), 2.75), "{:?}", atr.value());
        // A bad bar (high below low) and a NaN are ignored.
        atr.push(7.0, 8.0, 7.5);
        atr.push(f64::NAN, 8.0, 8.0);
        assert!(close_to(atr.value(), 2.75));
        atr.reset();
        assert_eq!(atr.value(), None);
    }

    #[test]
    fn a_single_value_and_a_length_of_one() {
        let mut sma = Sma::new(1);
        sma.push(4.0);
        assert_eq!(sma.value(), Some(4.0));
        let mut rsi = Rsi::new(1);
        rsi.push(4.0);
        assert_eq!(rsi.value(), None, "one close has no change");
        rsi.push(3.0);
        assert_eq!(rsi.value(), Some(0.0));
        let mut zero = Sma::new(0);
        zero.push(2.0);
        assert_eq!(zero.value(), Some(2.0), "a zero length is read as 1");
    }
}
