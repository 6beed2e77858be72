//! Owns: closing public trades into OHLCV bars for 1m and higher timeframes aligned to UTC epoch
//! boundaries. Never: emits a bar that can still change, reads a clock (time comes in as
//! `on_time`), allocates after construction.
//!
//! Gap rule: a bucket with no trades closes as a flat bar (open = high = low = close = the
//! previous close, zero volume, zero trades) and is counted. That is what Binance klines do, and
//! it is what the trend indicators need: SMA(n), RSI(n) and ATR(n) assume one bar per period, so
//! skipping empty periods would silently stretch a 50-bar 4h average over more than 200 hours.
//! No flat bars are made before the first trade (there is no close to carry).
//!
//! Late rule: a trade whose event time is earlier than the last accepted trade's, or earlier
//! than a bucket already closed by `on_time`, is counted and ignored, so closed bars never change.

use crate::core::{Notional, Price, Qty, SymbolId, TradePrint};

/// Milliseconds in one minute, the base bar period.
pub const MINUTE_MS: u64 = 60_000;
/// Minutes in one UTC day; every timeframe must divide it so buckets align to midnight UTC.
pub const DAY_MINUTES: u32 = 1440;
/// Most timeframes one aggregator keeps (1m included).
pub const MAX_TIMEFRAMES: usize = 8;

/// One closed OHLCV bar.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Bar {
    pub symbol: SymbolId,
    /// Bar length in minutes (1, 60, 240, 1440, …).
    pub timeframe_min: u32,
    /// Bucket start, ms since the UTC epoch (inclusive).
    pub open_time_ms: u64,
    /// Bucket end, ms since the UTC epoch (exclusive).
    pub close_time_ms: u64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Base-asset volume.
    pub volume: Qty,
    /// Quote-asset volume (sum of price × qty).
    pub quote_volume: Notional,
    /// Trades in the bar; zero marks a flat gap bar.
    pub trade_count: u32,
}

/// Why a timeframe list was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BarConfigError {
    #[error("timeframe of {0} minutes does not divide a UTC day")]
    NotDayAligned(u32),
    #[error("timeframe of {0} minutes listed twice")]
    Duplicate(u32),
    #[error("more than {MAX_TIMEFRAMES} timeframes")]
    TooMany,
}

/// What happened to one trade.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TradeOutcome {
    /// Added to the forming bars (closed bars, if any, were emitted first).
    Accepted,
    /// Older than the last accepted trade or a closed bucket; ignored.
    Late,
    /// Non-positive price or quantity; ignored.
    Invalid,
}

/// Counters for the ops thread; never reset.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct BarCounters {
    pub trades: u64,
    pub late_trades: u64,
    pub invalid_trades: u64,
    /// Flat bars emitted, all timeframes.
    pub flat_bars: u64,
    /// Flat 1m bars emitted: minutes with no trade.
    pub gap_minutes: u64,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    period_ms: u64,
    /// The forming bar; meaningful once `open`.
    bar: Bar,
    open: bool,
}

impl Frame {
    /// Closes buckets that end at or before `until_ms`, emitting each (flat ones included).
    fn roll_to(&mut self, until_ms: u64, counters: &mut BarCounters, emit: &mut impl FnMut(&Bar)) {
        while self.open && self.bar.close_time_ms <= until_ms {
            if self.bar.trade_count == 0 {
                counters.flat_bars += 1;
                if self.bar.timeframe_min == 1 {
                    counters.gap_minutes += 1;
                }
            }
            emit(&self.bar);
            let close = self.bar.close;
            let start = self.bar.close_time_ms;
            self.bar = Bar {
                open_time_ms: start,
                close_time_ms: start + self.period_ms,
                open: close,
                high: close,
                low: close,
                close,
                volume: Qty::ZERO,
                quote_volume: Notional::ZERO,
                trade_count: 0,
                ..self.bar
            };
        }
    }

    fn add(&mut self, symbol: SymbolId, trade: &TradePrint, event_ms: u64, notional: Notional) {
        if !self.open {
            let start = event_ms - event_ms % self.period_ms;
            self.bar = Bar {
                symbol,
                timeframe_min: (self.period_ms / MINUTE_MS) as u32,
                open_time_ms: start,
                close_time_ms: start + self.period_ms,
                ..Bar::default()
            };
            self.open = true;
        }
        let bar = &mut self.bar;
        if bar.trade_count == 0 {
            bar.open = trade.price;
            bar.high = trade.price;
            bar.low = trade.price;
        } else {
            bar.high = bar.high.max(trade.price);
            bar.low = bar.low.min(trade.price);
        }
        bar.close = trade.price;
        bar.volume = bar.volume.saturating_add(trade.qty);
        bar.quote_volume = bar.quote_volume.saturating_add(notional);
        bar.trade_count = bar.trade_count.saturating_add(1);
    }
}

/// Owns: one symbol's forming bars on every timeframe. Never: I/O, clock reads, allocation.
#[derive(Clone, Debug)]
pub struct BarAggregator {
    symbol: SymbolId,
    /// Ascending by period, 1m first.
    frames: [Frame; MAX_TIMEFRAMES],
    frame_count: usize,
    last_trade_ms: u64,
    /// Trades before this time belong to buckets already closed by `on_time`.
    closed_through_ms: u64,
    counters: BarCounters,
}

impl BarAggregator {
    /// Bars for 1m plus `higher_timeframes_min` (each must divide 1440; 1 may be listed).
    pub fn new(symbol: SymbolId, higher_timeframes_min: &[u32]) -> Result<Self, BarConfigError> {
        let mut minutes = [0u32; MAX_TIMEFRAMES];
        minutes[0] = 1;
        let mut count = 1;
        for &m in higher_timeframes_min {
            if m == 0 || DAY_MINUTES % m != 0 {
                return Err(BarConfigError::NotDayAligned(m));
            }
            if m == 1 {
                continue;
            }
            if minutes[..count].contains(&m) {
                return Err(BarConfigError::Duplicate(m));
            }
            if count == MAX_TIMEFRAMES {
                return Err(BarConfigError::TooMany);
            }
            minutes[count] = m;
            count += 1;
        }
        minutes[..count].sort_unstable();
        let empty = Frame {
            period_ms: MINUTE_MS,
            bar: Bar::default(),
            open: false,
        };
        let mut frames = [empty; MAX_TIMEFRAMES];
        for (frame, &m) in frames.iter_mut().zip(&minutes[..count]) {
            frame.period_ms = u64::from(m) * MINUTE_MS;
        }
        Ok(Self {
            symbol,
            frames,
            frame_count: count,
            last_trade_ms: 0,
            closed_through_ms: 0,
            counters: BarCounters::default(),
        })
    }

    /// Timeframes kept, in minutes, ascending.
    pub fn timeframes(&self) -> impl Iterator<Item = u32> + '_ {
        self.frames[..self.frame_count]
            .iter()
            .map(|f| (f.period_ms / MINUTE_MS) as u32)
    }

    /// Counters since construction.
    pub fn counters(&self) -> BarCounters {
        self.counters
    }

    /// Adds a trade at venue event time `event_ms`; bars it closes go to `emit` first
    /// (shortest timeframe first, oldest first).
    pub fn on_trade(
        &mut self,
        trade: &TradePrint,
        event_ms: u64,
        emit: &mut impl FnMut(&Bar),
    ) -> TradeOutcome {
        if !trade.price.is_positive() || !trade.qty.is_positive() {
            self.counters.invalid_trades += 1;
            return TradeOutcome::Invalid;
        }
        if event_ms < self.last_trade_ms || event_ms < self.closed_through_ms {
            self.counters.late_trades += 1;
            return TradeOutcome::Late;
        }
        self.last_trade_ms = event_ms;
        self.counters.trades += 1;
        let notional = trade.price.notional(trade.qty).unwrap_or(Notional::MAX);
        let counters = &mut self.counters;
        for frame in &mut self.frames[..self.frame_count] {
            let start = event_ms - event_ms % frame.period_ms;
            frame.roll_to(start, counters, emit);
            frame.add(self.symbol, trade, event_ms, notional);
        }
        TradeOutcome::Accepted
    }

    /// Closes every bucket that ended at or before `now_ms` (venue time), flat ones included.
    pub fn on_time(&mut self, now_ms: u64, emit: &mut impl FnMut(&Bar)) {
        let counters = &mut self.counters;
        for frame in &mut self.frames[..self.frame_count] {
            frame.roll_to(now_ms, counters, emit);
        }
        self.closed_through_ms = self.closed_through_ms.max(now_ms - now_ms % MINUTE_MS);
    }

    /// The forming (not yet closed) bar of a timeframe, if it has started.
    pub fn forming(&self, timeframe_min: u32) -> Option<&Bar> {
        self.frames[..self.frame_count]
            .iter()
            .find(|f| f.open && f.bar.timeframe_min == timeframe_min)
            .map(|f| &f.bar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Side;

    const HOUR_MS: u64 = 60 * MINUTE_MS;
    /// 2024-08-08 00:00:00 UTC.
    const DAY0: u64 = 1_723_075_200_000;

    fn trade(price: i64, qty: i64) -> TradePrint {
        TradePrint {
            trade_id: 0,
            price: Price::from_int(price),
            qty: Qty::from_int(qty),
            aggressor: Side::Buy,
        }
    }

    fn feed(agg: &mut BarAggregator, trades: &[(u64, i64, i64)]) -> Vec<Bar> {
        let mut out = Vec::new();
        for &(ms, price, qty) in trades {
            agg.on_trade(&trade(price, qty), ms, &mut |b: &Bar| out.push(*b));
        }
        out
    }

    #[test]
    fn bars_close_only_when_a_later_bucket_starts_and_align_to_utc() {
        let mut agg = BarAggregator::new(SymbolId(3), &[240, 60]).expect("valid timeframes");
        assert_eq!(agg.timeframes().collect::<Vec<_>>(), vec![1, 60, 240]);
        let t = DAY0 + 4 * HOUR_MS + 59 * MINUTE_MS; // 04:59
        let out = feed(
            &mut agg,
            &[(t, 10, 1), (t + 1_000, 12, 2), (t + 2_000, 9, 1)],
        );
        assert!(out.is_empty(), "nothing closes inside the minute");
        let out = feed(&mut agg, &[(t + MINUTE_MS, 11, 1)]); // 05:00 closes 1m and 1h
        assert_eq!(out.len(), 2);
        let m = out[0];
        assert_eq!(
            (m.timeframe_min, m.open_time_ms, m.close_time_ms),
            (1, t, t + MINUTE_MS)
        );
        assert_eq!(
            (m.open, m.high, m.low, m.close),
            (
                trade(10, 0).price,
                trade(12, 0).price,
                trade(9, 0).price,
                trade(9, 0).price
            )
        );
        assert_eq!((m.volume, m.trade_count), (Qty::from_int(4), 3));
        assert_eq!(m.quote_volume, Notional::from_int(10 + 24 + 9));
        assert_eq!(m.symbol, SymbolId(3));
        let h = out[1];
        assert_eq!((h.timeframe_min, h.open_time_ms), (60, DAY0 + 4 * HOUR_MS));
        let four = agg.forming(240).expect("4h bar started at 04:00");
        assert_eq!(
            (four.open_time_ms, four.trade_count),
            (DAY0 + 4 * HOUR_MS, 4)
        );
    }

    #[test]
    fn empty_minutes_become_flat_bars_at_the_previous_close() {
        let mut agg = BarAggregator::new(SymbolId(0), &[]).expect("1m only");
        let out = feed(
            &mut agg,
            &[
                (DAY0, 10, 1),
                (DAY0 + 1_000, 11, 1),
                (DAY0 + 3 * MINUTE_MS + 5, 20, 1),
            ],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].close, Price::from_int(11));
        for flat in &out[1..] {
            assert_eq!(flat.trade_count, 0);
            assert_eq!(flat.volume, Qty::ZERO);
            assert_eq!(
                (flat.open, flat.high, flat.low, flat.close),
                (flat.close, flat.close, flat.close, Price::from_int(11))
            );
        }
        assert_eq!(out[2].open_time_ms, DAY0 + 2 * MINUTE_MS);
        assert_eq!(agg.counters().gap_minutes, 2);
        assert_eq!(agg.counters().flat_bars, 2);
        let forming = agg.forming(1).expect("minute 3 is forming");
        assert_eq!(
            forming.open,
            Price::from_int(20),
            "a flat bucket that gets a trade opens at it"
        );
    }

    #[test]
    fn on_time_closes_bars_and_later_trades_for_them_are_late() {
        let mut agg = BarAggregator::new(SymbolId(0), &[60]).expect("valid");
        let mut out = Vec::new();
        agg.on_time(DAY0, &mut |b: &Bar| out.push(*b));
        assert!(out.is_empty(), "no bars before the first trade");
        feed(&mut agg, &[(DAY0 + 10, 10, 1)]);
        agg.on_time(DAY0 + MINUTE_MS - 1, &mut |b: &Bar| out.push(*b));
        assert!(out.is_empty());
        agg.on_time(DAY0 + HOUR_MS + 1, &mut |b: &Bar| out.push(*b));
        assert_eq!(out.len(), 61, "60 one-minute bars (59 flat) and the hour");
        assert_eq!(out.last().map(|b| b.timeframe_min), Some(60));
        assert_eq!(agg.counters().gap_minutes, 59);
        let outcome = agg.on_trade(&trade(10, 1), DAY0 + HOUR_MS - 5, &mut |_: &Bar| {});
        assert_eq!(outcome, TradeOutcome::Late);
        assert_eq!(agg.counters().late_trades, 1);
    }

    #[test]
    fn out_of_order_and_invalid_trades_are_counted_and_ignored() {
        let mut agg = BarAggregator::new(SymbolId(0), &[]).expect("valid");
        let sink = &mut |_: &Bar| {};
        assert_eq!(
            agg.on_trade(&trade(10, 1), DAY0 + 500, sink),
            TradeOutcome::Accepted
        );
        assert_eq!(
            agg.on_trade(&trade(99, 1), DAY0 + 499, sink),
            TradeOutcome::Late
        );
        assert_eq!(
            agg.on_trade(&trade(0, 1), DAY0 + 600, sink),
            TradeOutcome::Invalid
        );
        assert_eq!(
            agg.on_trade(&trade(10, 0), DAY0 + 600, sink),
            TradeOutcome::Invalid
        );
        let bar = agg.forming(1).expect("forming");
        assert_eq!((bar.high, bar.trade_count), (Price::from_int(10), 1));
        let c = agg.counters();
        assert_eq!((c.trades, c.late_trades, c.invalid_trades), (1, 1, 2));
    }

    #[test]
    fn timeframes_must_divide_a_day_and_be_distinct() {
        let sym = SymbolId(0);
        assert_eq!(
            BarAggregator::new(sym, &[7]).err(),
            Some(BarConfigError::NotDayAligned(7))
        );
        assert_eq!(
            BarAggregator::new(sym, &[0]).err(),
            Some(BarConfigError::NotDayAligned(0))
        );
        assert_eq!(
            BarAggregator::new(sym, &[60, 60]).err(),
            Some(BarConfigError::Duplicate(60))
        );
        let many = [2, 3, 4, 5, 6, 8, 9, 10];
        assert_eq!(
            BarAggregator::new(sym, &many).err(),
            Some(BarConfigError::TooMany)
        );
        let agg = BarAggregator::new(sym, &[1, 1440, 15]).expect("1 is implied and allowed");
        assert_eq!(agg.timeframes().collect::<Vec<_>>(), vec![1, 15, 1440]);
    }
}
