//! Owns: one symbol's rolling window of trade ticks (engine time, price) with its running
//! high and low, kept by monotonic queues so a tick costs O(1) amortised. Never: allocates
//! after construction; a burst beyond the capacity drops the oldest ticks first.

/// A ring of sequence numbers used as a double-ended queue.
#[derive(Debug, Clone)]
struct SeqQueue {
    slots: Vec<u64>,
    /// Sequence numbers of the first and one past the last element.
    head: u64,
    tail: u64,
}

impl SeqQueue {
    fn new(capacity: usize) -> Self {
        Self {
            slots: vec![0; capacity],
            head: 0,
            tail: 0,
        }
    }

    fn slot(&self, position: u64) -> usize {
        (position % self.slots.len() as u64) as usize
    }

    fn front(&self) -> Option<u64> {
        (self.head < self.tail).then(|| self.slots[self.slot(self.head)])
    }

    fn back(&self) -> Option<u64> {
        (self.head < self.tail).then(|| self.slots[self.slot(self.tail - 1)])
    }

    fn pop_front(&mut self) {
        if self.head < self.tail {
            self.head += 1;
        }
    }

    fn pop_back(&mut self) {
        if self.head < self.tail {
            self.tail -= 1;
        }
    }

    /// Appends; the caller keeps at most `capacity` live elements.
    fn push_back(&mut self, value: u64) {
        let slot = self.slot(self.tail);
        self.slots[slot] = value;
        self.tail += 1;
    }
}

/// The ticks of the last `window_ns` of engine time, at most `capacity` of them.
#[derive(Debug, Clone)]
pub struct TickWindow {
    times_ns: Vec<u64>,
    prices: Vec<f64>,
    /// Sequence numbers of the oldest kept tick and of the next one.
    first: u64,
    next: u64,
    /// Decreasing prices (front = highest) and increasing prices (front = lowest).
    highs: SeqQueue,
    lows: SeqQueue,
}

impl TickWindow {
    /// An empty window of at most `capacity` ticks (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            times_ns: vec![0; capacity],
            prices: vec![0.0; capacity],
            first: 0,
            next: 0,
            highs: SeqQueue::new(capacity),
            lows: SeqQueue::new(capacity),
        }
    }

    fn slot(&self, seq: u64) -> usize {
        (seq % self.prices.len() as u64) as usize
    }

    fn price_at(&self, seq: u64) -> f64 {
        self.prices[self.slot(seq)]
    }

    /// Adds a tick at `now_ns` and drops those at or before `now_ns − window_ns`.
    pub fn push(&mut self, now_ns: u64, price: f64, window_ns: u64) {
        if self.len() == self.prices.len() {
            self.drop_oldest();
        }
        let seq = self.next;
        let slot = self.slot(seq);
        self.times_ns[slot] = now_ns;
        self.prices[slot] = price;
        self.next += 1;
        while self.highs.back().is_some_and(|s| self.price_at(s) <= price) {
            self.highs.pop_back();
        }
        self.highs.push_back(seq);
        while self.lows.back().is_some_and(|s| self.price_at(s) >= price) {
            self.lows.pop_back();
        }
        self.lows.push_back(seq);
        let horizon = now_ns.saturating_sub(window_ns);
        while self.len() > 0 && self.times_ns[self.slot(self.first)] <= horizon {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        let seq = self.first;
        self.first += 1;
        if self.highs.front() == Some(seq) {
            self.highs.pop_front();
        }
        if self.lows.front() == Some(seq) {
            self.lows.pop_front();
        }
    }

    /// Ticks in the window.
    pub fn len(&self) -> usize {
        (self.next - self.first) as usize
    }

    /// Highest and lowest price in the window.
    pub fn high_low(&self) -> Option<(f64, f64)> {
        let high = self.highs.front()?;
        let low = self.lows.front()?;
        Some((self.price_at(high), self.price_at(low)))
    }

    /// The price `back` ticks before the newest (0: the newest), if still in the window.
    pub fn price_back(&self, back: usize) -> Option<f64> {
        (back < self.len()).then(|| self.price_at(self.next - 1 - back as u64))
    }

    /// Cutler RSI (simple averages) over the last `length` price changes; `None` with
    /// fewer than `length + 1` ticks; 50 when flat (see `strat::indicators`).
    pub fn rsi(&self, length: usize) -> Option<f64> {
        if length == 0 || self.len() <= length {
            return None;
        }
        let (mut gains, mut losses) = (0.0, 0.0);
        for back in 0..length {
            let (Some(newer), Some(older)) = (self.price_back(back), self.price_back(back + 1))
            else {
                return None;
            };
            let change = newer - older;
            if change > 0.0 {
                gains += change;
            } else {
                losses -= change;
            }
        }
        let rsi = match (gains > 0.0, losses > 0.0) {
            (false, false) => 50.0,
            (true, false) => 100.0,
            _ => 100.0 - 100.0 / (1.0 + gains / losses),
        };
        rsi.is_finite().then_some(rsi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn high_and_low_follow_the_time_window() {
        let mut window = TickWindow::new(16);
        for (t, price) in [(1, 100.0), (2, 105.0), (3, 99.0), (4, 101.0)] {
            window.push(t * SEC, price, 10 * SEC);
        }
        assert_eq!(window.high_low(), Some((105.0, 99.0)));
        // At t = 12.5 s the window is (2.5 s, 12.5 s]: 100 and 105 are gone.
        window.push(12 * SEC + SEC / 2, 100.0, 10 * SEC);
        assert_eq!(window.len(), 3);
        assert_eq!(window.high_low(), Some((101.0, 99.0)));
        assert_eq!(window.price_back(0), Some(100.0));
        assert_eq!(window.price_back(2), Some(99.0));
        assert_eq!(window.price_back(3), None);
        // At 14 s the window is (4 s, 14 s]: a tick exactly window_ns old is out.
        window.push(14 * SEC, 100.5, 10 * SEC);
        assert_eq!(window.len(), 2);
        assert_eq!(window.high_low(), Some((100.5, 100.0)));
    }

    #[test]
    fn a_burst_beyond_capacity_drops_the_oldest_ticks() {
        let mut window = TickWindow::new(3);
        for (i, price) in [110.0, 90.0, 100.0, 101.0, 102.0].into_iter().enumerate() {
            window.push(i as u64, price, 10 * SEC);
        }
        assert_eq!(window.len(), 3);
        assert_eq!(window.high_low(), Some((102.0, 100.0)));
    }

    #[test]
    fn matches_a_brute_force_scan_on_a_long_series() {
        let mut window = TickWindow::new(64);
        let mut kept: Vec<(u64, f64)> = Vec::new();
        let mut x: u64 = 12345;
        for i in 0..5000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let price = 100.0 + ((x >> 33) % 1000) as f64 / 100.0;
            let t = i * SEC / 7 + (x >> 60);
            window.push(t, price, 5 * SEC);
            kept.push((t, price));
            kept.retain(|&(at, _)| at > t.saturating_sub(5 * SEC));
            if kept.len() > 64 {
                kept.remove(0);
            }
            let high = kept.iter().map(|k| k.1).fold(f64::MIN, f64::max);
            let low = kept.iter().map(|k| k.1).fold(f64::MAX, f64::min);
            assert_eq!(window.len(), kept.len());
            assert_eq!(window.high_low(), Some((high, low)), "tick {i}");
        }
    }

    #[test]
    fn rsi_needs_length_plus_one_ticks_and_is_fifty_when_flat() {
        let mut window = TickWindow::new(8);
        window.push(1, 100.0, SEC);
        window.push(2, 100.0, SEC);
        assert_eq!(window.rsi(2), None);
        window.push(3, 100.0, SEC);
        assert_eq!(window.rsi(2), Some(50.0));
        window.push(4, 101.0, SEC);
        assert_eq!(window.rsi(2), Some(100.0));
        window.push(5, 100.5, SEC);
        // Changes +1, −0.5: 100 − 100 / (1 + 2) = 66.67.
        let rsi = window.rsi(2).expect("defined");
        assert!((rsi - 200.0 / 3.0).abs() < 1e-9);
        window.push(6, 99.0, SEC);
        window.push(7, 98.0, SEC);
        assert_eq!(window.rsi(2), Some(0.0));
    }
}
