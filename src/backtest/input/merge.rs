//! Owns: merging several inputs into one time-ordered stream — k-way by `ts_ns`, ties
//! broken by input order (then each input's own file order), within a `[from, to)` window.
//! Never: reorders items of one input, or compares clocks: `Stamp::Received` and
//! `Stamp::Exchange` items merge on their `ts_ns` as given.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use anyhow::bail;

use super::{InputItem, MarketInput};

/// Inputs merged in time order.
pub struct MergedInput {
    inputs: Vec<Box<dyn MarketInput>>,
    /// A name per input for errors (its path or spec).
    names: Vec<String>,
    /// The next item of each input, taken out of it.
    heads: Vec<Option<InputItem>>,
    /// Last time read from each input (an input must not go back in time).
    last_ts: Vec<u64>,
    /// (head time, input index) of every input holding a head.
    queue: BinaryHeap<Reverse<(u64, usize)>>,
    from_ns: u64,
    to_ns: u64,
    started: bool,
    /// Items read before `from_ns` and left out.
    before_window: u64,
}

impl std::fmt::Debug for MergedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergedInput")
            .field("inputs", &self.names)
            .field("from_ns", &self.from_ns)
            .field("to_ns", &self.to_ns)
            .finish()
    }
}

impl MergedInput {
    /// Merges `inputs` (each with a name for errors), keeping items with
    /// `from_ns <= ts_ns < to_ns`. An input is not read past its first item at or after
    /// `to_ns`.
    pub fn new(inputs: Vec<(String, Box<dyn MarketInput>)>, from_ns: u64, to_ns: u64) -> Self {
        let count = inputs.len();
        let (names, inputs) = inputs.into_iter().unzip();
        Self {
            inputs,
            names,
            heads: vec![None; count],
            last_ts: vec![0; count],
            queue: BinaryHeap::with_capacity(count),
            from_ns,
            to_ns,
            started: false,
            before_window: 0,
        }
    }

    /// Items read before the window's start and left out.
    pub fn before_window(&self) -> u64 {
        self.before_window
    }

    /// Number of inputs.
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    /// Reads input `index`'s next item in the window into its head.
    fn fill(&mut self, index: usize) -> anyhow::Result<()> {
        while let Some(item) = self.inputs[index].next_item()? {
            if item.ts_ns < self.last_ts[index] {
                bail!(
                    "{}: time went back from {} to {} ns",
                    self.names[index],
                    self.last_ts[index],
                    item.ts_ns
                );
            }
            self.last_ts[index] = item.ts_ns;
            if item.ts_ns < self.from_ns {
                self.before_window += 1;
                continue;
            }
            if item.ts_ns >= self.to_ns {
                break;
            }
            self.heads[index] = Some(item);
            self.queue.push(Reverse((item.ts_ns, index)));
            break;
        }
        Ok(())
    }
}

impl MarketInput for MergedInput {
    fn next_item(&mut self) -> anyhow::Result<Option<InputItem>> {
        if !self.started {
            self.started = true;
            for index in 0..self.inputs.len() {
                self.fill(index)?;
            }
        }
        let Some(Reverse((_, index))) = self.queue.pop() else {
            return Ok(None);
        };
        let item = self.heads[index].take();
        self.fill(index)?;
        Ok(item)
    }

    fn repairs(&self) -> Vec<(String, u64)> {
        let mut sum: BTreeMap<String, u64> = BTreeMap::new();
        for input in &self.inputs {
            for (name, count) in input.repairs() {
                *sum.entry(name).or_default() += count;
            }
        }
        sum.into_iter().collect()
    }

    fn progress(&self) -> (u64, u64) {
        self.inputs.iter().fold((0, 0), |(done, total), input| {
            let (d, t) = input.progress();
            (done + d, total + t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{InputEvent, Stamp, VecInput};
    use super::*;
    use crate::book::Bar;
    use crate::core::SymbolId;

    fn bar_at(ts_ns: u64, symbol: u32) -> InputItem {
        InputItem {
            ts_ns,
            stamp: Stamp::Exchange,
            event: InputEvent::Bar(Bar {
                symbol: SymbolId(symbol),
                ..Bar::default()
            }),
        }
    }

    fn drain(mut input: MergedInput) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        while let Some(item) = input.next_item().expect("in-memory inputs do not fail") {
            let InputEvent::Bar(bar) = item.event else {
                panic!("only bars were given");
            };
            out.push((item.ts_ns, bar.symbol.0));
        }
        out
    }

    #[test]
    fn merges_by_time_then_input_order_within_the_window() {
        let a = VecInput::new(vec![bar_at(1, 0), bar_at(3, 0), bar_at(3, 0), bar_at(9, 0)]);
        let b = VecInput::new(vec![bar_at(0, 1), bar_at(3, 1), bar_at(4, 1)]);
        let inputs = |a: &VecInput, b: &VecInput| -> Vec<(String, Box<dyn MarketInput>)> {
            vec![
                ("a".to_owned(), Box::new(a.clone())),
                ("b".to_owned(), Box::new(b.clone())),
            ]
        };
        let all = drain(MergedInput::new(inputs(&a, &b), 0, u64::MAX));
        assert_eq!(
            all,
            vec![(0, 1), (1, 0), (3, 0), (3, 0), (3, 1), (4, 1), (9, 0)]
        );
        let window = drain(MergedInput::new(inputs(&a, &b), 1, 4));
        assert_eq!(window, vec![(1, 0), (3, 0), (3, 0), (3, 1)]);
    }

    #[test]
    fn an_input_going_back_in_time_is_an_error_naming_it() {
        let a = VecInput::new(vec![bar_at(5, 0), bar_at(4, 0)]);
        let mut merged = MergedInput::new(vec![("a.csv".to_owned(), Box::new(a))], 0, u64::MAX);
        let first = merged.next_item();
        let error = first.expect_err("the second item is read ahead and goes back");
        assert!(error.to_string().contains("a.csv"), "{error}");
    }
}
