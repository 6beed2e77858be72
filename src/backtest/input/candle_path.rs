//! Owns: the deterministic price path a candle is replayed as — four synthetic trade prints
//! and the closed bar — so that venues and strategies see trades from candle data.
//! Never: reads anything, or invents candles for gaps.
//!
//! The model, for a candle `[open_time, close_time)` (ms) with open O, high H, low L,
//! close C and volume V:
//!
//! | print | time | price |
//! |---|---|---|
//! | 1 | `open_time` | O |
//! | 2 | `open_time + span/3` | L when C ≥ O, else H |
//! | 3 | `open_time + 2·span/3` | H when C ≥ O, else L |
//! | 4 | `close_time − 1 ms` | C |
//!
//! (`span = close_time − open_time`, integer ms.) Each print carries ⌊V/4⌋ at the 1e-18
//! scale; the close print carries the rest, so the four add up to V exactly. A print's
//! aggressor is the direction of its move from the previous print (up: buy, down: sell); the
//! open print and prints at an unchanged price take the candle's direction (C ≥ O: buy).
//! Trade ids are `open_time_ms · 4 + k` (k = 0…3): unique and increasing within a symbol.
//! The bar follows at `close_time`. All items carry `Stamp::Exchange`, `ts_ns` = the time in
//! ms × 1e6, `exch_ts_ms` = the time in ms and `recv_ns = ts_ns` (the driver adds the feed
//! latency).
//!
//! Limits: the true intra-candle order of the high and the low is unknown (the path above
//! is the common open-low-high-close / open-high-low-close assumption, so a stop and a
//! target inside one candle resolve by it); volume is spread evenly over the four prints, so
//! queue positions and fill sizes inside the candle are approximate; there is no spread and
//! no book (fills at prints only). A candle without volume yields its bar alone (no prints).

use crate::book::Bar;
use crate::core::{MarketEvent, MarketEventKind, Notional, Price, Qty, Side, TradePrint};

use super::{InputEvent, InputItem, Stamp};

/// Items one candle yields at most (four prints and the bar).
pub const ITEMS_PER_CANDLE: usize = 5;

/// The items of one candle, in time order.
#[derive(Clone, Copy, Debug, Default)]
pub struct CandleItems {
    items: [Option<InputItem>; ITEMS_PER_CANDLE],
    len: usize,
    next: usize,
}

impl CandleItems {
    /// Takes the next item.
    pub fn pop(&mut self) -> Option<InputItem> {
        if self.next >= self.len {
            return None;
        }
        let item = self.items[self.next];
        self.next += 1;
        item
    }

    /// Items not yet taken.
    pub fn remaining(&self) -> usize {
        self.len - self.next
    }

    fn push(&mut self, item: InputItem) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = Some(item);
            self.len += 1;
        }
    }
}

/// The four prices of the path, in order (see the module doc).
pub fn path_prices(bar: &Bar) -> [Price; 4] {
    if bar.close >= bar.open {
        [bar.open, bar.low, bar.high, bar.close]
    } else {
        [bar.open, bar.high, bar.low, bar.close]
    }
}

/// The quote volume of the path's prints (for candles that do not carry one).
pub fn path_quote_volume(bar: &Bar) -> Notional {
    let quarter = Qty::from_raw(bar.volume.raw() / 4);
    let last = Qty::from_raw(bar.volume.raw() - 3 * quarter.raw());
    path_prices(bar)
        .iter()
        .enumerate()
        .fold(Notional::ZERO, |sum, (k, price)| {
            let qty = if k == 3 { last } else { quarter };
            sum.saturating_add(price.notional(qty).unwrap_or(Notional::MAX))
        })
}

/// Why a candle cannot be replayed.
pub fn check_candle(bar: &Bar) -> Result<(), String> {
    let (top, bottom) = if bar.close >= bar.open {
        (bar.close, bar.open)
    } else {
        (bar.open, bar.close)
    };
    if bar.high < top || bar.low > bottom {
        return Err(format!(
            "candle high {} / low {} do not contain open {} and close {}",
            bar.high, bar.low, bar.open, bar.close
        ));
    }
    if bar.low.raw() <= 0 {
        return Err(format!("candle low {} is not a positive price", bar.low));
    }
    if bar.volume.raw() < 0 {
        return Err("candle volume is negative".to_owned());
    }
    if bar.close_time_ms <= bar.open_time_ms {
        return Err(format!(
            "candle closes at {} ms, not after its open at {} ms",
            bar.close_time_ms, bar.open_time_ms
        ));
    }
    Ok(())
}

/// The prints and the bar of `bar` (checked with [`check_candle`]).
pub fn candle_items(bar: &Bar) -> CandleItems {
    let mut out = CandleItems::default();
    if bar.volume.is_positive() {
        let span = bar.close_time_ms - bar.open_time_ms;
        let times = [
            bar.open_time_ms,
            bar.open_time_ms + span / 3,
            bar.open_time_ms + 2 * span / 3,
            bar.close_time_ms - 1,
        ];
        let quarter = bar.volume.raw() / 4;
        let candle_side = if bar.close >= bar.open {
            Side::Buy
        } else {
            Side::Sell
        };
        let prices = path_prices(bar);
        for (k, (&price, &time_ms)) in prices.iter().zip(&times).enumerate() {
            let aggressor = match k.checked_sub(1).map(|p| price.cmp(&prices[p])) {
                Some(std::cmp::Ordering::Greater) => Side::Buy,
                Some(std::cmp::Ordering::Less) => Side::Sell,
                _ => candle_side,
            };
            let qty = if k == 3 {
                bar.volume.raw() - 3 * quarter
            } else {
                quarter
            };
            out.push(item(
                time_ms,
                MarketEvent {
                    symbol: bar.symbol,
                    recv_ns: 0,
                    exch_ts_ms: time_ms,
                    kind: MarketEventKind::Trade(TradePrint {
                        trade_id: bar.open_time_ms * 4 + k as u64,
                        price,
                        qty: Qty::from_raw(qty),
                        aggressor,
                    }),
                },
            ));
        }
    }
    out.push(InputItem {
        ts_ns: bar.close_time_ms.saturating_mul(1_000_000),
        stamp: Stamp::Exchange,
        event: InputEvent::Bar(*bar),
    });
    out
}

fn item(time_ms: u64, mut event: MarketEvent) -> InputItem {
    let ts_ns = time_ms.saturating_mul(1_000_000);
    event.recv_ns = ts_ns;
    InputItem {
        ts_ns,
        stamp: Stamp::Exchange,
        event: InputEvent::Market(event),
    }
}
