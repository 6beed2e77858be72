//! Owns: the HMM's five observation features (seed-spec §2.1.3), computed from a rolling
//! window of closes and volumes held in fixed ring buffers. Never: allocates after
//! construction, or returns NaN or infinity (every division is guarded).
//!
//! One row per closed 1-minute bar, the same cadence in training (`hmm-train` resamples
//! trades and candles to 1-minute rows) and at run time (the strategy asks the dispatcher
//! for closed 1-minute bars): the seed trained on 1-minute rows and ran on ticks (D-14).
//!
//! With P the window's closes (oldest first, at most `window`), V its volumes and
//! r_i = (P_i − P_{i−1}) / P_{i−1} (r of the window's oldest close = 0):
//!
//! 1. `last_return`: r of the newest close;
//! 2. `return_std_20`: sample standard deviation (n − 1) of the last 20 r (0 with fewer than
//!    two), variance floored at 1e-12;
//! 3. `vwap_deviation`: (P_last − VWAP) / VWAP over the whole window; with no volume in the
//!    window (every bar a gap) VWAP is the plain mean of the closes;
//! 4. `price_zscore_30`: (P_last − mean) / std over the last 30 closes (sample std). The
//!    variance floor applies to the variance relative to the mean² (1e-12), not to the raw
//!    variance as in the seed: a raw floor of 1e-12 is a whole price tick on a coin priced
//!    at 1e-3 and would flatten its z-scores;
//! 5. `volume_spike_20`: V_last / mean of the last 20 V (V_last included, so at most 20);
//!    1.0 when those volumes are all zero. The seed divided by max(1, Σ/20) — a floor in
//!    base units, so the feature meant different things per coin — and by 20 even with
//!    fewer samples.
//!
//! A missing volume (a tick source without one) counts as 1.0; a negative or non-finite one
//! too. A non-finite or non-positive price is ignored. Features exist from the third close.

/// Features per observation.
pub const FEATURE_COUNT: usize = 5;
/// Their names, in order (stored in the model file; a model with other names is refused).
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "last_return",
    "return_std_20",
    "vwap_deviation",
    "price_zscore_30",
    "volume_spike_20",
];
/// Returns in the volatility feature.
pub const RETURN_STD_WINDOW: usize = 20;
/// Closes in the z-score feature.
pub const ZSCORE_WINDOW: usize = 30;
/// Volumes in the spike feature.
pub const VOLUME_WINDOW: usize = 20;
/// Variance floor (seed value).
pub const VARIANCE_FLOOR: f64 = 1e-12;
/// Closes needed before features exist.
pub const MIN_CLOSES: usize = 3;
/// Smallest window: the z-score's.
pub const MIN_WINDOW: usize = ZSCORE_WINDOW;
/// Largest window accepted.
pub const MAX_WINDOW: usize = 10_000;

/// One observation.
pub type Features = [f64; FEATURE_COUNT];

/// A fixed ring of f64, oldest first when indexed.
#[derive(Debug, Clone)]
struct Ring {
    values: Box<[f64]>,
    len: usize,
    /// Index of the oldest value.
    start: usize,
}

impl Ring {
    fn new(capacity: usize) -> Self {
        Self {
            values: vec![0.0; capacity.max(1)].into_boxed_slice(),
            len: 0,
            start: 0,
        }
    }

    fn push(&mut self, value: f64) {
        let capacity = self.values.len();
        if self.len < capacity {
            self.values[(self.start + self.len) % capacity] = value;
            self.len += 1;
        } else {
            self.values[self.start] = value;
            self.start = (self.start + 1) % capacity;
        }
    }

    /// The `index`-th oldest value (`index < len`).
    fn get(&self, index: usize) -> f64 {
        self.values[(self.start + index) % self.values.len()]
    }

    fn last(&self) -> f64 {
        self.get(self.len - 1)
    }

    fn clear(&mut self) {
        self.len = 0;
        self.start = 0;
    }
}

/// The rolling window the features are read from.
#[derive(Debug, Clone)]
pub struct FeatureWindow {
    closes: Ring,
    volumes: Ring,
}

impl FeatureWindow {
    /// A window of `window` rows, clamped to [`MIN_WINDOW`, `MAX_WINDOW`].
    pub fn new(window: usize) -> Self {
        let window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        Self {
            closes: Ring::new(window),
            volumes: Ring::new(window),
        }
    }

    /// Rows the window holds at most.
    pub fn capacity(&self) -> usize {
        self.closes.values.len()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.closes.len
    }

    /// True before the first row.
    pub fn is_empty(&self) -> bool {
        self.closes.len == 0
    }

    /// Adds a row; see the module doc for bad prices and missing volumes. False when the
    /// row was ignored.
    pub fn push(&mut self, close: f64, volume: Option<f64>) -> bool {
        if !(close.is_finite() && close > 0.0) {
            return false;
        }
        let volume = match volume {
            Some(v) if v.is_finite() && v >= 0.0 => v,
            _ => 1.0,
        };
        self.closes.push(close);
        self.volumes.push(volume);
        true
    }

    /// Forgets every row.
    pub fn clear(&mut self) {
        self.closes.clear();
        self.volumes.clear();
    }

    /// The features of the newest row, from the third row on.
    pub fn features(&self) -> Option<Features> {
        let n = self.closes.len;
        if n < MIN_CLOSES {
            return None;
        }
        let last = self.closes.last();
        let values = [
            self.return_at(n - 1),
            self.return_std(),
            self.vwap_deviation(last),
            self.zscore(last),
            self.volume_spike(),
        ];
        values.iter().all(|v| v.is_finite()).then_some(values)
    }

    /// r of row `index` (0 for the oldest row).
    fn return_at(&self, index: usize) -> f64 {
        if index == 0 {
            return 0.0;
        }
        // Closes are positive and finite (push), so the division is defined.
        let before = self.closes.get(index - 1);
        (self.closes.get(index) - before) / before
    }

    fn return_std(&self) -> f64 {
        let n = self.closes.len;
        let count = n.min(RETURN_STD_WINDOW);
        if count < 2 {
            return 0.0;
        }
        let first = n - count;
        let mean = (first..n).map(|i| self.return_at(i)).sum::<f64>() / count as f64;
        let sum_sq: f64 = (first..n)
            .map(|i| {
                let d = self.return_at(i) - mean;
                d * d
            })
            .sum();
        (sum_sq / (count - 1) as f64).max(VARIANCE_FLOOR).sqrt()
    }

    fn vwap_deviation(&self, last: f64) -> f64 {
        let n = self.closes.len;
        let (mut weighted, mut volume, mut plain) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (p, v) = (self.closes.get(i), self.volumes.get(i));
            weighted += p * v;
            volume += v;
            plain += p;
        }
        let vwap = if volume > 0.0 && weighted > 0.0 {
            weighted / volume
        } else {
            plain / n as f64
        };
        (last - vwap) / vwap
    }

    fn zscore(&self, last: f64) -> f64 {
        let n = self.closes.len;
        let count = n.min(ZSCORE_WINDOW);
        if count < 2 {
            return 0.0;
        }
        let first = n - count;
        let mean = (first..n).map(|i| self.closes.get(i)).sum::<f64>() / count as f64;
        // Relative to the mean (positive: every close is), so the floor is scale-free.
        let sum_sq: f64 = (first..n)
            .map(|i| {
                let d = self.closes.get(i) / mean - 1.0;
                d * d
            })
            .sum();
        let relative_std = (sum_sq / (count - 1) as f64).max(VARIANCE_FLOOR).sqrt();
        (last / mean - 1.0) / relative_std
    }

    fn volume_spike(&self) -> f64 {
        let n = self.volumes.len;
        let count = n.min(VOLUME_WINDOW);
        let mean = (n - count..n).map(|i| self.volumes.get(i)).sum::<f64>() / count as f64;
        if mean > 0.0 {
            self.volumes.last() / mean
        } else {
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window_of(rows: &[(f64, Option<f64>)]) -> FeatureWindow {
        let mut window = FeatureWindow::new(120);
        for &(p, v) in rows {
            window.push(p, v);
        }
        window
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn a_single_row_or_two_give_no_features() {
        assert_eq!(window_of(&[]).features(), None);
        assert_eq!(window_of(&[(100.0, Some(1.0))]).features(), None);
        assert_eq!(window_of(&[(100.0, None), (101.0, None)]).features(), None);
    }

    #[test]
    fn three_rows_match_the_definitions_by_hand() {
        let f = window_of(&[(100.0, Some(1.0)), (110.0, Some(3.0)), (99.0, Some(2.0))])
            .features()
            .expect("three closes");
        // r = [0, 0.1, -0.1]
        assert!(close(f[0], -0.1));
        // mean 0, sample var = (0 + 0.01 + 0.01) / 2 = 0.01
        assert!(close(f[1], 0.1));
        // vwap = (100 + 330 + 198) / 6 = 104.666…
        let vwap = 628.0 / 6.0;
        assert!(close(f[2], (99.0 - vwap) / vwap));
        // mean 103, relative deviations (-3, 7, -4)/103
        let mean = 103.0;
        let var = ((3.0f64 / mean).powi(2) + (7.0 / mean).powi(2) + (4.0 / mean).powi(2)) / 2.0;
        assert!(close(f[3], (99.0 / mean - 1.0) / var.sqrt()));
        // mean volume 2, last 2
        assert!(close(f[4], 1.0));
    }

    #[test]
    fn flat_prices_give_zero_moves_and_floored_dispersion_without_nan() {
        let rows: Vec<(f64, Option<f64>)> = (0..150).map(|_| (50_000.0, Some(2.0))).collect();
        let f = window_of(&rows).features().expect("enough closes");
        assert_eq!(f[0], 0.0);
        assert!(close(f[1], VARIANCE_FLOOR.sqrt()), "floored std {}", f[1]);
        assert_eq!(f[2], 0.0);
        assert_eq!(f[3], 0.0);
        assert_eq!(f[4], 1.0);
    }

    #[test]
    fn zero_volume_everywhere_falls_back_to_the_plain_mean_and_no_spike() {
        let f = window_of(&[(100.0, Some(0.0)), (102.0, Some(0.0)), (104.0, Some(0.0))])
            .features()
            .expect("three closes");
        assert!(close(f[2], (104.0 - 102.0) / 102.0));
        assert_eq!(f[4], 1.0);
        // One volume after zeros: the spike is bounded by the sample count.
        let f = window_of(&[(100.0, Some(0.0)), (102.0, Some(0.0)), (104.0, Some(5.0))])
            .features()
            .expect("three closes");
        assert!(close(f[4], 3.0));
        assert!(close(f[2], 0.0), "all the volume is at the last close");
    }

    #[test]
    fn missing_and_bad_volumes_count_as_one_and_bad_prices_are_ignored() {
        let mut window = window_of(&[(100.0, None), (100.0, Some(f64::NAN)), (100.0, Some(-3.0))]);
        assert_eq!(window.features().expect("three closes")[4], 1.0);
        assert!(!window.push(f64::NAN, Some(1.0)));
        assert!(!window.push(0.0, Some(1.0)));
        assert!(!window.push(-5.0, Some(1.0)));
        assert!(!window.push(f64::INFINITY, Some(1.0)));
        assert_eq!(window.len(), 3);
    }

    #[test]
    fn the_window_rolls_and_only_the_last_rows_count() {
        let mut window = FeatureWindow::new(30);
        assert_eq!(window.capacity(), 30);
        // 40 rows: the first 10 (a huge volume) fall out of the VWAP.
        for i in 0..40 {
            let volume = if i < 10 { 1e9 } else { 1.0 };
            window.push(100.0 + i as f64, Some(volume));
        }
        assert_eq!(window.len(), 30);
        let f = window.features().expect("full window");
        // Closes 110..=139 with unit volumes: vwap 124.5.
        assert!(close(f[2], (139.0 - 124.5) / 124.5));
        assert!(close(f[0], 1.0 / 138.0));
        // The oldest row's return is 0 by definition, but it is outside the last 20.
        let mut expected = [0.0; 20];
        for (k, e) in expected.iter_mut().enumerate() {
            let p = 120.0 + k as f64;
            *e = 1.0 / (p - 1.0);
        }
        let mean = expected.iter().sum::<f64>() / 20.0;
        let var = expected.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 19.0;
        assert!(close(f[1], var.sqrt()));
        window.clear();
        assert!(window.is_empty());
        assert_eq!(window.features(), None);
    }

    #[test]
    fn tiny_prices_keep_their_zscore() {
        // A coin at 1e-3 with moves of one part in 1e4: the seed's raw floor would turn
        // this z-score into ~0.
        let rows: Vec<(f64, Option<f64>)> = (0..30)
            .map(|i| (0.001 * (1.0 + 1e-4 * f64::from(i % 3)), Some(1.0)))
            .collect();
        let f = window_of(&rows).features().expect("enough closes");
        assert!(f[3].abs() > 0.5, "z-score {}", f[3]);
    }
}
